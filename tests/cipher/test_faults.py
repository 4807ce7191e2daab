"""Cipher objects under injected kernel faults: EINTR, errors, short sends and receives, EMFILE.

Faults are injected with a subclass of the core's syscall layer that wraps the socket
(``tests.fakes.FaultyKernel``), so the real system calls and the layer's own EINTR retry
both run.  Checked against PyCryptodome, in the kernel run (``kernel_cbc_and_gcm``:
tests/cipher/conftest.py).
"""

from __future__ import annotations

import errno
import gc
import os
from typing import Any

import pytest
from Crypto.Cipher import AES as RefAES
from Crypto.Cipher import DES3 as RefDES3
from Crypto.Cipher import ChaCha20 as RefChaCha20

from _kcapi import _syscalls, transform
from _kcapi.skcipher import MAX_REQUEST
from kcapi_cipher import AES, DES3, ChaCha20, Random

from ..cipher_support import IV, KEY, KEY32, N12
from ..fakes import FaultyKernel
from ..support import fds_in_use, needs_composed_part

# AF_ALG's own mechanisms (see tests/conftest.py af_alg_only): AF_ALG whatever the interface.
pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("af_alg_only", "kernel_cbc_and_gcm")]



@pytest.fixture
def faults(monkeypatch):
    def install(**plan: dict[int, tuple]) -> FaultyKernel:
        fake = FaultyKernel(**plan)
        monkeypatch.setattr(_syscalls, "kernel", fake)
        return fake
    return install


EVERY_KIND = {
    "cbc": (lambda: AES.new(KEY, AES.MODE_CBC, IV), lambda: RefAES.new(KEY, AES.MODE_CBC, IV)),
    "ctr": (lambda: AES.new(KEY, AES.MODE_CTR, nonce=IV[:8]),
            lambda: RefAES.new(KEY, AES.MODE_CTR, nonce=IV[:8])),
    "chacha20": (lambda: ChaCha20.new(key=KEY32, nonce=N12),
                 lambda: RefChaCha20.new(key=KEY32, nonce=N12)),
    "des3": (lambda: DES3.new(KEY32[:24], DES3.MODE_CBC, IV[:8]),
             lambda: RefDES3.new(DES3.adjust_key_parity(KEY32[:24]), DES3.MODE_CBC, IV[:8])),
}


@pytest.mark.parametrize("kind", list(EVERY_KIND))
@pytest.mark.parametrize("where", ["sendmsg", "recv", "accept"])
def test_eintr_is_retried(faults, kind, where):
    make, ref = EVERY_KIND[kind]
    ours = make()
    ours._engine.tfm.drop_idle()  # so that the call accepts a new op socket
    fake = faults(**{where: {1: ("eintr", 3)}})
    data = os.urandom(3 * MAX_REQUEST + 16)
    assert ours.encrypt(data) == ref().encrypt(data)
    assert fake.counts[where] >= 1


def test_eintr_in_the_aead_one_shot_and_the_drbg(faults):
    faults(sendmsg={1: ("eintr", 2)}, recv={1: ("eintr", 2), 2: ("eintr", 1)})
    ct, tag = AES.new(KEY, AES.MODE_GCM, nonce=N12).encrypt_and_digest(b"m" * 1000)
    assert (ct, tag) == RefAES.new(KEY, AES.MODE_GCM, nonce=N12).encrypt_and_digest(b"m" * 1000)
    assert len(Random.get_random_bytes(200)) == 200


@pytest.mark.parametrize("kind", list(EVERY_KIND))
@pytest.mark.parametrize("fault", [
    {"sendmsg": {2: ("errno", errno.ENOMEM)}}, {"sendmsg": {3: ("errno", errno.EPIPE)}},
    {"sendmsg": {2: ("errno", errno.EAGAIN)}}, {"recv": {2: ("errno", errno.ENOMEM)}},
    {"recv": {3: ("errno", errno.ECONNRESET)}}, {"sendmsg": {2: ("short", 100)}},
    {"sendmsg": {2: ("errno", errno.EBUSY)}}, {"recv": {2: ("errno", errno.ENOKEY)}},
], ids=["send-ENOMEM", "send-EPIPE", "send-EAGAIN", "recv-ENOMEM", "recv-ECONNRESET", "short-send",
        "send-EBUSY", "recv-ENOKEY"])
def test_a_fault_mid_request_releases_nothing_and_leaks_nothing(faults, kind, fault):
    make, ref = EVERY_KIND[kind]
    ours = make()
    secret = os.urandom(5 * MAX_REQUEST)  # five requests: the fault hits after the first
    ciphertext = ref().encrypt(secret)
    ours.decrypt(b"")  # decrypting from now on (nothing sent yet)
    gc.collect()
    before = fds_in_use()
    faults(**fault)
    output = bytearray(len(ciphertext))
    with pytest.raises(OSError) as caught:
        ours.decrypt(ciphertext, output=output)
    expected_errno = next(iter(next(iter(fault.values())).values()))
    assert caught.value.errno == (errno.EIO if expected_errno[0] == "short" else expected_errno[1])
    assert output == bytes(len(output))  # the plaintext of the first requests was wiped
    assert fds_in_use() == before  # the op socket was closed, not pooled, not leaked
    for call in (lambda: ours.decrypt(ciphertext[:16]), lambda: ours.decrypt(b"")):
        with pytest.raises(OSError, match="lost its kernel state") as refused:
            call()
        assert refused.value.errno == errno.EIO
    fresh = make()  # the transform and its other objects are unaffected
    assert fresh.decrypt(ciphertext[:4096]) == secret[:4096]


def test_short_receives_resume_where_the_iv_chains_and_fail_where_it_does_not(faults):
    data = os.urandom(3 * MAX_REQUEST)
    faults(recv={1: ("short", 1000), 2: ("short", 16)})
    assert AES.new(KEY, AES.MODE_CBC, IV).encrypt(data) == \
        RefAES.new(KEY, AES.MODE_CBC, IV).encrypt(data)
    faults(recv={1: ("short", 1000)})
    chacha = ChaCha20.new(key=KEY32, nonce=N12)
    with pytest.raises(OSError, match="does not chain") as caught:
        chacha.encrypt(data)
    assert caught.value.errno == errno.EIO
    with pytest.raises(OSError, match="lost its kernel state"):
        chacha.encrypt(b"more")


def _decrypt_under_fault(faults, fault: dict, opener: Any, ct: bytes, tag: bytes) -> int:
    """decrypt_and_verify() with ``fault`` injected: it raises OSError and ``output`` stays
    zeros (no plaintext released); returns the descriptors in use before the call."""
    gc.collect()
    before = fds_in_use()
    faults(**fault)
    output = bytearray(len(ct))
    with pytest.raises(OSError):
        opener.decrypt_and_verify(ct, tag, output=output)
    assert output == bytes(len(ct))  # decrypted into a private buffer, wiped
    return before


@pytest.mark.parametrize("fault", [{"recv": {1: ("errno", errno.ENOMEM)}},
                                   {"sendmsg": {1: ("errno", errno.EPIPE)}},
                                   {"recv": {1: ("truncate", 10)}}],
                         ids=["recv-ENOMEM", "send-EPIPE", "short-result"])
def test_a_fault_in_the_one_shot_aead_releases_no_plaintext(faults, fault):
    ref = RefAES.new(KEY, AES.MODE_GCM, nonce=N12).update(b"h")
    ct, tag = ref.encrypt_and_digest(b"secret" * 100)
    opener = AES.new(KEY, AES.MODE_GCM, nonce=N12).update(b"h")
    before = _decrypt_under_fault(faults, fault, opener, ct, tag)
    assert fds_in_use() == before


@pytest.mark.parametrize("fault", [{"recv": {2: ("errno", errno.ENOMEM)}},
                                   {"sendmsg": {2: ("errno", errno.EPIPE)}}],
                         ids=["recv-ENOMEM", "send-EPIPE"])
def test_a_fault_in_a_composed_aead_stream(faults, fault):
    needs_composed_part("ghash")
    big = os.urandom(3 * MAX_REQUEST)  # past the one-shot limit: composed (ctr(aes) + ghash)
    ct, tag = RefAES.new(KEY, AES.MODE_GCM, nonce=N12).encrypt_and_digest(big)
    opener = AES.new(KEY, AES.MODE_GCM, nonce=N12)
    before = _decrypt_under_fault(faults, fault, opener, ct, tag)
    with pytest.raises(OSError, match="lost its kernel state"):
        opener.verify(tag)
    gc.collect()
    assert fds_in_use() == before


def test_no_descriptor_for_an_op_socket_changes_nothing(faults):
    """EMFILE at accept(): explained, and the object (cipher or AEAD) is unchanged."""
    ctr, ref = AES.new(KEY, AES.MODE_CTR, nonce=IV[:8]), RefAES.new(KEY, AES.MODE_CTR, nonce=IV[:8])
    assert ctr.encrypt(b"abc") == ref.encrypt(b"abc")
    gcm = AES.new(KEY, AES.MODE_GCM, nonce=N12)
    for tfm in (ctr._engine.tfm, transform.get("aead", "gcm(aes)", KEY, 16)):
        tfm.drop_idle()
    # every accept() fails, the one retried after the caches gave their descriptors back too
    faults(accept={n: ("errno", errno.EMFILE) for n in range(1, 20)})
    with pytest.raises(OSError) as caught:
        ctr.encrypt(b"x" * 100)
    assert caught.value.errno == errno.EMFILE and "RLIMIT_NOFILE" in str(caught.value)
    with pytest.raises(OSError) as caught:
        gcm.encrypt_and_digest(b"m" * 100)
    assert caught.value.errno == errno.EMFILE
    faults()  # descriptors again
    assert ctr.encrypt(b"x" * 100) == ref.encrypt(b"x" * 100)
    assert gcm.encrypt_and_digest(b"m" * 100) == \
        RefAES.new(KEY, AES.MODE_GCM, nonce=N12).encrypt_and_digest(b"m" * 100)
