"""AEAD, CMAC and RNG behaviour only a kernel with AF_ALG shows.

Marked ``kernel``: they skip on a host without AF_ALG and must pass (never
skip) in the kernel run.  Covered: who serves each object and through which
path (the kernel AEAD one-shot or the composed keystream + hash), tampering,
a 64 MiB message, EBADMSG, the DRBG's seeding and 128-byte reads, threads,
descriptors, injected kernel faults, and routing when the kernel lacks an
algorithm.
"""

from __future__ import annotations

import errno
import gc
import os
import socket
import threading
from typing import Any

import pytest
from Crypto.Cipher import AES as RefAES
from Crypto.Cipher import ChaCha20_Poly1305 as RefChaCha
from Crypto.Hash import CMAC as RefCMAC

import kcapi_cipher
from _kcapi import _syscalls, aead, policy, rng, routing, transform
from _kcapi.pool import POOL_SIZE
from _kcapi._constants import ALG_SET_KEY, SOL_ALG
from _kcapi.aead import CounterStream
from _kcapi.errors import KernelUnavailableError
from _kcapi.hash import HOLD_LIMIT
from kcapi_cipher import AES, CMAC, ChaCha20_Poly1305, Random
from kcapi_cipher import _results
from kcapi_cipher._aead import KernelAead
from kcapi_cipher._mode_gcm import gctr_stream

from ..aead_support import MODE_CCM, MODE_GCM, aes_new
from ..support import (copy_with_one_descriptor, fds_in_use, needs_composed_part, open_fds,
                       require_kernel_alg)
from ..fakes import FailingSend, Recording, RefusingBinds, ShortAeadRecv, ShortAeadSend

pytestmark = pytest.mark.kernel


KEY = bytes(range(16))
KEY32 = bytes(range(32))
N12 = b"\x5a" * 12


@pytest.fixture(autouse=True)
def kernel_only():
    for kind, name in (("aead", "gcm(aes)"), ("aead", "ccm(aes)"),
                       ("aead", "rfc7539(chacha20,poly1305)"), ("skcipher", "ctr(aes)"),
                       ("skcipher", "chacha20"), ("skcipher", "xchacha20"),
                       ("hash", "cbcmac(aes)"), ("hash", "cmac(aes)"), ("rng", "stdrng")):
        require_kernel_alg(kind, name)
    # ghash and poly1305 (gone in Linux 7.2): what needs them skips (see conftest.py).
    policy.set_backend("kernel")


@pytest.fixture
def recording(monkeypatch):
    fake = Recording()
    monkeypatch.setattr(_syscalls, "kernel", fake)
    return fake


def gcm_ref(key, nonce, aad, pt, mac_len=16):
    ref = RefAES.new(key, RefAES.MODE_GCM, nonce=nonce, mac_len=mac_len)
    ref.update(aad)
    return ref.encrypt_and_digest(pt)


# -- who serves, and through which path ---------------------------------------------


@pytest.mark.parametrize("make,algorithm", [
    (lambda: aes_new(KEY, MODE_GCM, nonce=N12), "gcm(aes)"),
    (lambda: aes_new(KEY, MODE_GCM, nonce=N12, mac_len=7), "ctr(aes)+ghash"),
    (lambda: aes_new(KEY, MODE_GCM, nonce=b"n" * 16), "ctr(aes)+ghash"),
    (lambda: aes_new(KEY, MODE_CCM, nonce=N12[:11]), "ccm(aes)"),
    (lambda: ChaCha20_Poly1305.new(key=KEY32, nonce=N12), "rfc7539(chacha20,poly1305)"),
    (lambda: ChaCha20_Poly1305.new(key=KEY32, nonce=N12[:8]), "rfc7539(chacha20,poly1305)"),
    (lambda: ChaCha20_Poly1305.new(key=KEY32, nonce=b"x" * 24), "xchacha20+poly1305"),
    (lambda: CMAC.new(KEY, b"m", AES), "cmac(aes)"),
    (lambda: Random.new(), "stdrng"),
], ids=["gcm", "gcm-tag7", "gcm-nonce16", "ccm", "chacha12", "chacha8", "xchacha", "cmac", "rng"])
def test_objects_are_served_by_the_kernel(make, algorithm):
    obj = make()
    info = kcapi_cipher.backend_info(obj)
    assert info.backend == "kernel" and info.algorithm == algorithm, info
    assert info.driver not in ("", "unknown") and "unknown" not in info.driver, info
    assert info.implementation in ("generic", "arch", "offload"), info
    if algorithm == "stdrng":
        assert info.driver.startswith(("drbg_", "jitterentropy")), info


def test_one_shot_messages_use_the_kernel_aead(recording):
    aad, pt = b"header", os.urandom(1000)
    enc = aes_new(KEY, MODE_GCM, nonce=N12)
    enc.update(aad)
    assert enc.encrypt_and_digest(pt) == gcm_ref(KEY, N12, aad, pt)
    assert (recording.aead_sends, recording.other_sends) == (1, 0)
    ct, tag = gcm_ref(KEY, N12, aad, pt)
    dec = aes_new(KEY, MODE_GCM, nonce=N12)
    dec.update(aad)
    assert dec.decrypt_and_verify(ct, tag) == pt
    assert (recording.aead_sends, recording.other_sends) == (2, 0)


def test_piecewise_and_large_messages_are_composed(recording):
    aad, pt = b"header", os.urandom(3000)
    enc = aes_new(KEY, MODE_GCM, nonce=N12)
    enc.update(aad)
    ct = enc.encrypt(pt[:1000]) + enc.encrypt(pt[1000:])
    assert (ct, enc.digest()) == gcm_ref(KEY, N12, aad, pt)
    assert recording.aead_sends == 0 and recording.other_sends >= 2
    big = os.urandom(aead.MAX_ONE_SHOT)  # with the tag, past the one-shot limit
    enc = aes_new(KEY, MODE_GCM, nonce=N12)
    assert enc.encrypt_and_digest(big) == gcm_ref(KEY, N12, b"", big)
    assert recording.aead_sends == 0


def test_ccm_one_shot_with_the_long_aad_length_encoding(recording):
    aad = os.urandom(2**16 - 2**8 + 10)  # encoded as 0xfffe || 4 bytes (SP 800-38C A.2.2)
    enc = aes_new(KEY, MODE_CCM, nonce=N12[:11], mac_len=8)
    enc.update(aad)
    ref = RefAES.new(KEY, RefAES.MODE_CCM, nonce=N12[:11], mac_len=8)
    ref.update(aad)
    assert enc.encrypt_and_digest(b"payload") == ref.encrypt_and_digest(b"payload")
    assert (recording.aead_sends, recording.other_sends) == (1, 0)


def test_large_aad_starts_the_stream_early():
    needs_composed_part("ghash")
    aad = os.urandom(aead.MAX_ONE_SHOT * 3 + 5)
    enc = aes_new(KEY, MODE_GCM, nonce=N12)
    for start in range(0, len(aad), 10_000):
        enc.update(aad[start:start + 10_000])
    assert enc._engine is not None and len(enc._pending) == 0  # not buffered without bound
    assert enc.encrypt_and_digest(b"pt") == gcm_ref(KEY, N12, aad, b"pt")


# -- tampering ----------------------------------------------------------------------


def _flip(data: bytes, i: int) -> bytes:
    return data[:i] + bytes([data[i] ^ 0x80]) + data[i + 1:]


def _tamper_cases(aad, ct, tag):
    cases = {"tag": (aad, ct, _flip(tag, 3)), "aad": (_flip(aad, 0), ct, tag),
             "short tag": (aad, ct, tag[:-1])}
    if ct:
        cases["ciphertext"] = (aad, _flip(ct, len(ct) // 2), tag)
        cases["truncated ciphertext"] = (aad, ct[:-1], tag)
    return cases


@pytest.mark.parametrize("size", [0, 100, aead.MAX_ONE_SHOT + 100], ids=["empty", "one-shot", "composed"])
@pytest.mark.parametrize("mode", [MODE_GCM, MODE_CCM])
def test_tampered_messages_fail_and_release_nothing(mode, size):
    if mode == MODE_GCM and size > aead.MAX_ONE_SHOT:
        needs_composed_part("ghash")
    nonce = N12 if mode == MODE_GCM else N12[:11]
    aad, pt = b"associated data", os.urandom(size)
    ref = RefAES.new(KEY, mode, nonce=nonce)
    ref.update(aad)
    ct, tag = ref.encrypt_and_digest(pt)
    for case, (t_aad, t_ct, t_tag) in _tamper_cases(aad, ct, tag).items():
        cipher = aes_new(KEY, mode, nonce=nonce)
        assert isinstance(cipher, KernelAead)
        cipher.update(t_aad)
        out = bytearray(len(t_ct))
        with pytest.raises(ValueError) as caught:
            cipher.decrypt_and_verify(t_ct, t_tag, output=out)
        assert str(caught.value) == "MAC check failed", case
        assert out == bytes(len(out)), f"plaintext released ({case})"
        cipher = aes_new(KEY, mode, nonce=nonce)
        cipher.update(t_aad)
        with pytest.raises(ValueError, match="^MAC check failed$"):
            cipher.decrypt_and_verify(t_ct, t_tag)
        kept = getattr(_results._local, "buffer", None)  # where results are received
        assert not pt or kept is None or pt[:64] not in kept, f"plaintext left behind ({case})"


@pytest.mark.parametrize("nonce_size", [8, 12, 24])
def test_tampered_chacha20_poly1305_fails(nonce_size):
    nonce = os.urandom(nonce_size)
    ref = RefChaCha.new(key=KEY32, nonce=nonce)
    ref.update(b"aad")
    ct, tag = ref.encrypt_and_digest(b"secret message")
    for case, (t_aad, t_ct, t_tag) in _tamper_cases(b"aad", ct, tag).items():
        cipher = ChaCha20_Poly1305.new(key=KEY32, nonce=nonce)
        cipher.update(t_aad)
        with pytest.raises(ValueError, match="^MAC check failed$"):
            cipher.decrypt_and_verify(t_ct, t_tag)


def test_empty_message_without_aad_still_checks_the_tag():
    _, tag = gcm_ref(KEY, N12, b"", b"")
    assert aes_new(KEY, MODE_GCM, nonce=N12).decrypt_and_verify(b"", tag) == b""
    with pytest.raises(ValueError, match="^MAC check failed$"):
        aes_new(KEY, MODE_GCM, nonce=N12).decrypt_and_verify(b"", bytes(16))
    # the op socket that failed was not pooled: the next message works
    assert aes_new(KEY, MODE_GCM, nonce=N12).decrypt_and_verify(b"", tag) == b""


def test_ebadmsg_becomes_mac_check_failed(recording):
    ct, tag = gcm_ref(KEY, N12, b"aad", b"data")
    tfm = transform.get("aead", "gcm(aes)", KEY, 16)
    idle = tfm.idle_count()
    with pytest.raises(aead.TagMismatch):
        aead.open_message(tfm, N12, memoryview(b"aad"), memoryview(ct), memoryview(bytes(16)))
    assert recording.errors == [errno.EBADMSG]
    assert tfm.idle_count() <= idle  # the failed op socket was closed, not pooled
    cipher = aes_new(KEY, MODE_GCM, nonce=N12)
    cipher.update(b"aad")
    with pytest.raises(ValueError, match="^MAC check failed$"):
        cipher.decrypt_and_verify(ct, bytes(16))
    assert recording.errors == [errno.EBADMSG] * 2
    cipher.verify(tag)  # PyCryptodome's rule: verify() may be called again


# -- large messages -----------------------------------------------------------------


def test_64_mib_gcm_in_one_call():
    data = os.urandom(64 << 20)
    nonce = os.urandom(12)
    enc = aes_new(KEY, MODE_GCM, nonce=nonce)
    enc.update(b"aad")
    ct = enc.encrypt(data)
    tag = enc.digest()
    assert (ct, tag) == gcm_ref(KEY, nonce, b"aad", data)
    dec = aes_new(KEY, MODE_GCM, nonce=nonce)
    dec.update(b"aad")
    assert dec.decrypt_and_verify(ct, tag) == data


@pytest.mark.parametrize("low", [0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFF0])
@pytest.mark.parametrize("split", [1, 17, 40])
def test_gctr_keeps_the_upper_96_bits_when_the_counter_wraps(low, split):
    j0 = os.urandom(12) + low.to_bytes(4, "big")
    ctr = transform.get("skcipher", "ctr(aes)", KEY)
    stream = gctr_stream(ctr, j0)
    data = os.urandom(16 * 40 + 5)
    out = bytearray(len(data))
    view = memoryview(out)
    position = CounterStream.START
    for start in range(0, len(data), split):
        piece = memoryview(data)[start:start + split]
        position = stream.crypt(position, piece, view[start:start + split])
    # PyCryptodome's GCM counts the same way: a 4-byte counter after the 12 bytes of J0.
    ref = RefAES.new(KEY, RefAES.MODE_CTR, nonce=j0[:12], initial_value=(low + 1) & 0xFFFFFFFF)
    assert bytes(out) == ref.encrypt(data)


# -- RNG ----------------------------------------------------------------------------


def test_an_unseeded_drbg_refuses_and_ours_is_seeded():
    raw = socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET, 0)
    try:
        raw.bind(("rng", "stdrng"))
        op, _ = raw.accept()
        with op:
            with pytest.raises(OSError) as caught:
                op.recv(16)
            assert caught.value.errno == errno.EINVAL
            with pytest.raises(OSError) as caught:  # a key after accept(): too late
                raw.setsockopt(SOL_ALG, ALG_SET_KEY, b"seed")
            assert caught.value.errno == errno.EBUSY
    finally:
        raw.close()
    assert len(Random.get_random_bytes(64)) == 64
    assert rng.rng_transform() is rng.rng_transform()  # seeded once


def test_reads_are_at_most_128_bytes(recording):
    Random.get_random_bytes(1)
    recording.recvs.clear()
    data = Random.get_random_bytes(1000)
    assert len(data) == 1000
    assert recording.recvs == [128] * 7 + [104]
    assert len(set(data[i:i + 16] for i in range(0, 1000, 16))) == 63


def test_threads_get_distinct_bytes():
    results: list[bytes] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(50):
                results.append(Random.get_random_bytes(48))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 400 and len(set(results)) == 400
    assert rng.rng_transform().idle_count() <= POOL_SIZE


# -- descriptors and pools ------------------------------------------------------------


def test_many_objects_leave_no_descriptor_behind():
    def cycle(i: int) -> None:
        pt = b"%d" % i * 50
        enc = aes_new(KEY, MODE_GCM, nonce=N12)
        ct, tag = enc.encrypt_and_digest(pt)
        piece = aes_new(KEY, MODE_GCM, nonce=N12)
        assert piece.encrypt(pt[:7]) + piece.encrypt(pt[7:]) == ct
        bad = aes_new(KEY, MODE_GCM, nonce=N12)
        with pytest.raises(ValueError):
            bad.decrypt_and_verify(ct, bytes(16))
        ccm = aes_new(KEY, MODE_CCM, nonce=N12[:11])
        ccm.encrypt_and_digest(pt)
        cp = ChaCha20_Poly1305.new(key=KEY32, nonce=N12)
        cp.encrypt(pt)
        cp.digest()
        mac = CMAC.new(KEY, pt * 400, AES)
        mac.copy().digest()
        Random.get_random_bytes(200)

    transform.clear()  # a cache holding only this test's transforms: none is evicted below
    gc.collect()
    cycle(0)
    gc.collect()
    before = open_fds()
    in_use = fds_in_use()
    for i in range(300):
        cycle(i)
    gc.collect()
    assert fds_in_use() == in_use
    assert open_fds() <= before + 16 * POOL_SIZE


def test_a_stream_holds_one_descriptor_until_its_tag():
    def stream() -> Any:
        enc = aes_new(KEY, MODE_GCM, nonce=N12)
        enc.encrypt(os.urandom(HOLD_LIMIT * 2))
        return enc

    stream().digest()  # binds and keys the transforms
    gc.collect()  # earlier tests' garbage must not close descriptors mid-measurement
    before = fds_in_use()
    enc = stream()
    assert fds_in_use() == before + 1  # the ghash state, pending in the kernel
    enc.digest()
    assert fds_in_use() == before


def test_cmac_copy_clones_the_kernel_state():
    data = os.urandom(HOLD_LIMIT * 2)
    mac = CMAC.new(KEY, data, AES)
    twin, before = copy_with_one_descriptor(mac)
    mac.update(b"left")
    twin.update(b"right")
    assert mac.digest() == RefCMAC.new(KEY, data + b"left", RefAES).digest()
    assert twin.digest() == RefCMAC.new(KEY, data + b"right", RefAES).digest()
    del twin
    gc.collect()
    assert fds_in_use() == before


# -- injected faults ----------------------------------------------------------------


def test_a_failed_kernel_call_makes_the_object_unusable(monkeypatch):
    enc = aes_new(KEY, MODE_GCM, nonce=N12)
    enc.encrypt(b"first piece")
    gc.collect()  # earlier tests' garbage must not close descriptors mid-measurement
    before = fds_in_use()
    monkeypatch.setattr(_syscalls, "kernel", FailingSend(errno.ENOMEM))
    with pytest.raises(OSError) as caught:
        enc.encrypt(b"x" * 100)
    assert caught.value.errno == errno.ENOMEM
    monkeypatch.undo()
    policy.set_backend("kernel")
    with pytest.raises(OSError, match="lost its kernel state"):
        enc.encrypt(b"more")
    with pytest.raises(OSError, match="lost its kernel state"):
        enc.digest()
    assert fds_in_use() <= before


def test_a_failed_one_shot_raises_the_kernels_errno(monkeypatch):
    monkeypatch.setattr(_syscalls, "kernel", FailingSend(errno.EPERM))
    cipher = aes_new(KEY, MODE_GCM, nonce=N12)
    with pytest.raises(OSError) as caught:
        cipher.encrypt_and_digest(b"data")
    assert caught.value.errno == errno.EPERM


@pytest.mark.parametrize("blocking", [True, False], ids=["eagain", "short"])
def test_a_message_the_socket_buffer_cannot_take_is_composed(monkeypatch, blocking):
    fake = ShortAeadSend(blocking)
    monkeypatch.setattr(_syscalls, "kernel", fake)
    gc.collect()  # earlier tests' garbage must not close descriptors mid-measurement
    before = fds_in_use()
    enc = aes_new(KEY, MODE_GCM, nonce=N12)
    enc.update(b"aad")
    assert enc.encrypt_and_digest(b"payload") == gcm_ref(KEY, N12, b"aad", b"payload")
    ct, tag = gcm_ref(KEY, N12, b"aad", b"payload")
    dec = aes_new(KEY, MODE_GCM, nonce=N12)
    dec.update(b"aad")
    assert dec.decrypt_and_verify(ct, tag) == b"payload"
    assert fake.refused == 2
    assert fds_in_use() <= before  # the half-fed op sockets were closed


def test_a_short_aead_result_is_an_error_not_a_wrong_answer(monkeypatch):
    monkeypatch.setattr(_syscalls, "kernel", ShortAeadRecv())
    with pytest.raises(OSError) as caught:
        aes_new(KEY, MODE_GCM, nonce=N12).encrypt_and_digest(b"x" * 40)
    assert caught.value.errno == errno.EIO


# -- routing when the kernel lacks something ------------------------------------------


@pytest.fixture
def refuse(monkeypatch):
    def install(*refused: tuple[str, str]) -> None:
        transform.clear()
        monkeypatch.setattr(_syscalls, "kernel", RefusingBinds(set(refused)))

    yield install
    monkeypatch.undo()
    transform.clear()


def test_without_algif_aead_everything_is_composed_in_the_kernel(refuse):
    refuse(("aead", "*"))
    aad, pt = b"aad", os.urandom(500)
    enc = aes_new(KEY, MODE_GCM, nonce=N12)
    assert kcapi_cipher.backend_info(enc).algorithm == "ctr(aes)+ghash"
    enc.update(aad)
    assert enc.encrypt_and_digest(pt) == gcm_ref(KEY, N12, aad, pt)
    ccm = aes_new(KEY, MODE_CCM, nonce=N12[:11])
    ref = RefAES.new(KEY, RefAES.MODE_CCM, nonce=N12[:11])
    assert ccm.encrypt_and_digest(pt) == ref.encrypt_and_digest(pt)
    assert kcapi_cipher.backend_info(ccm).algorithm == "ctr(aes)+cbcmac(aes)"
    cp = ChaCha20_Poly1305.new(key=KEY32, nonce=N12)
    assert cp.encrypt_and_digest(pt) == RefChaCha.new(key=KEY32, nonce=N12).encrypt_and_digest(pt)
    assert kcapi_cipher.backend_info(cp).algorithm == "chacha20+poly1305"


@pytest.mark.parametrize("refused,make,ref_type", [
    # Nonces the one-shot AEAD cannot take (12-byte ones: test_whole_messages.py).
    (("hash", "ghash"), lambda: aes_new(KEY, MODE_GCM, nonce=N12 + b"1234"), "GcmMode"),
    (("skcipher", "ctr(aes)"), lambda: aes_new(KEY, MODE_CCM, nonce=N12[:11]), "CcmMode"),
    (("hash", "cbcmac(aes)"), lambda: aes_new(KEY, MODE_CCM, nonce=N12[:11]), "CcmMode"),
    (("hash", "poly1305"), lambda: ChaCha20_Poly1305.new(key=KEY32, nonce=b"x" * 24),
     "ChaCha20Poly1305Cipher"),
    (("skcipher", "xchacha20"), lambda: ChaCha20_Poly1305.new(key=KEY32, nonce=b"x" * 24),
     "ChaCha20Poly1305Cipher"),
    (("hash", "cmac(aes)"), lambda: CMAC.new(KEY, b"m", AES), "CMAC"),
    (("rng", "stdrng"), lambda: Random.new(), "_UrandomRNG"),
], ids=["gcm-ghash", "ccm-ctr", "ccm-cbcmac", "chacha-poly1305", "xchacha", "cmac", "rng"])
def test_a_missing_algorithm_is_refused_or_served_by_software(refuse, refused, make, ref_type):
    refuse(refused)
    if ref_type == "CcmMode" and routing.binds("aead", "ccm(aes)"):
        # CCM's one-shot ccm(aes) takes every nonce and tag size: under `kernel` the object
        # serves whole messages, and a call only the composed path serves names the part
        # (as GCM's does where ghash is missing: test_whole_messages.py).
        obj = make()
        ref = RefAES.new(KEY, RefAES.MODE_CCM, nonce=N12[:11])
        assert obj.encrypt_and_digest(b"whole") == ref.encrypt_and_digest(b"whole")
        with pytest.raises(KernelUnavailableError) as caught:
            make().encrypt(b"x" * (aead.MAX_ONE_SHOT + 1))  # past one request
    else:
        with pytest.raises(KernelUnavailableError) as caught:
            make()
    assert caught.value.reason == "missing" and caught.value.algorithm == refused[1]
    assert refused[1] in str(caught.value)
    policy.set_backend("auto")
    obj = make()
    assert type(obj).__name__ == ref_type and type(obj).__module__.startswith("Crypto.")
    info = kcapi_cipher.backend_info(obj)
    assert info.backend == "software" and refused[1] in info.reason, info
    if ref_type == "_UrandomRNG":
        assert len(Random.get_random_bytes(10)) == 10
        assert Random.backend_info().backend == "software"


def test_tag_sizes_the_kernel_aead_lacks_are_composed(recording):
    for mac_len in (5, 6, 7, 9, 10, 11):  # gcm() takes 4, 8 and 12..16 only
        enc = aes_new(KEY, MODE_GCM, nonce=N12, mac_len=mac_len)
        assert enc.encrypt_and_digest(b"abc") == gcm_ref(KEY, N12, b"", b"abc", mac_len)
    assert recording.aead_sends == 0


# -- fork ---------------------------------------------------------------------------


def test_a_child_process_continues_a_stream_on_its_own_sockets():
    enc = aes_new(KEY, MODE_GCM, nonce=N12)
    enc.update(b"aad")
    first = enc.encrypt(os.urandom(HOLD_LIMIT + 7))
    pid = os.fork()
    if pid == 0:
        ok = False
        try:
            rest = enc.encrypt(b"child")
            ok = len(rest) == 5 and len(enc.digest()) == 16
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    rest = enc.encrypt(b"parent")
    tag = enc.digest()
    dec = aes_new(KEY, MODE_GCM, nonce=N12)
    dec.update(b"aad")
    dec.decrypt(first + rest)
    dec.verify(tag)
