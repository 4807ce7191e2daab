"""Cipher keys held by the kernel keyring (ALG_SET_KEY_BY_KEY_SERIAL, Linux 6.2+).

Gated on a probe of the feature, never on a version string: where the running
kernel keys a ``cbc(aes)`` transform from a keyring serial, every kcapi_cipher
factory is checked against PyCryptodome with the same key bytes; where it does
not know the option, the "needs Linux 6.2 or newer" error is tested.  The
no-fallback errors and the argument checks run everywhere (a fake serial,
fake syscall layers).
"""

from __future__ import annotations

import errno
import os
import struct
from types import SimpleNamespace
from typing import Any

import pytest
from Crypto.Cipher import AES as RefAES
from Crypto.Cipher import DES as RefDES
from Crypto.Cipher import DES3 as RefDES3
from Crypto.Cipher import ChaCha20 as RefChaCha20
from Crypto.Cipher import ChaCha20_Poly1305 as RefChaChaPoly
from Crypto.Hash import CMAC as RefCMAC
from Crypto.Hash import Poly1305
from Crypto.Util import Counter

import kcapi_cipher
from _kcapi import _syscalls, transform
from _kcapi._constants import ALG_SET_AEAD_AUTHSIZE, ALG_SET_KEY, ALG_SET_KEY_BY_KEY_SERIAL
from _kcapi.errors import KernelUnavailableError
from _kcapi.skcipher import MAX_REQUEST
from kcapi_cipher import AES, CMAC, DES3, ChaCha20, ChaCha20_Poly1305, KeyringKey

from ..cipher_support import keyring_ciphers, outcome, reference_xts
from ..fakes import AcceptingKernel, RefusingKernel
from ..support import kernel_refusal, keyring_gates, require_kernel_alg

# AF_ALG's own mechanisms (see tests/conftest.py af_alg_only): AF_ALG whatever the interface.
pytestmark = pytest.mark.usefixtures("af_alg_only")

FAKE = KeyringKey(123456, "never-added")
IV = bytes(range(16, 32))
N12 = bytes(range(12))
DATA = bytes(range(256)) * 40 + b"tail"  # 10244 bytes: several blocks and a partial one


# -- probes and keys ------------------------------------------------------------------------


with_keyring, without_keyring = keyring_gates(keyring_ciphers)


@pytest.fixture
def in_keyring():
    """``add(payload, key_type='user') -> KeyringKey``; every key is revoked afterwards."""
    added: list[KeyringKey] = []

    def add(payload: bytes, key_type: str = "user") -> KeyringKey:
        prefix = "kcapi:" if key_type == "logon" else "kcapi-"
        key = KeyringKey.add(payload, f"{prefix}cipher-{os.getpid()}-{os.urandom(4).hex()}",
                             key_type=key_type)
        added.append(key)
        return key

    yield add
    for key in added:
        try:
            key.revoke()
        except OSError:
            pass


CCM_PARTS = (("aead", "ccm(aes)"), ("skcipher", "ctr(aes)"), ("hash", "cbcmac(aes)"))


def needs(*algorithms: tuple[str, str]) -> None:
    """Keyring keys are kernel-only: skip (naming it) where one of these cannot be bound here
    (af_alg_restrict's allow-list); the kernel runs fail instead."""
    for kind, name in algorithms:
        require_kernel_alg(kind, name)


def in_pieces(method, data: bytes, sizes=(1, 15, 16, 17, 1000, 4096)) -> bytes:
    """``method`` applied to ``data`` cut into pieces of the given sizes (then the rest)."""
    out, pos = [], 0
    for size in sizes:
        out.append(method(data[pos:pos + size]))
        pos += size
    out.append(method(data[pos:]))
    return b"".join(out)


# -- 6.2+: the same results as PyCryptodome with the same key bytes --------------------------


@pytest.mark.kernel
@pytest.mark.parametrize("key_size", [16, 24, 32])
@pytest.mark.parametrize("mode,args,kwargs", [
    (AES.MODE_ECB, (), {}),
    (AES.MODE_CBC, (IV,), {}),
    (AES.MODE_CTR, (), {"nonce": IV[:8]}),
    (AES.MODE_CTR, (), {"nonce": IV[:4], "initial_value": 2**96 - 2}),  # the field wraps
    (AES.MODE_CTR, (), {"counter": Counter.new(32, prefix=IV[:8], suffix=IV[:4])}),  # ecb path
], ids=["ecb", "cbc", "ctr", "ctr-wraps", "ctr-suffix"])
def test_aes_modes_match_pycryptodome(with_keyring, in_keyring, key_size, mode, args, kwargs):
    raw = os.urandom(key_size)
    key = in_keyring(raw)
    data = DATA[:len(DATA) // 16 * 16] if mode in (AES.MODE_ECB, AES.MODE_CBC) else DATA
    ours, ref = AES.new(key, mode, *args, **kwargs), RefAES.new(raw, mode, *args, **kwargs)
    info = kcapi_cipher.backend_info(ours)
    assert info.backend == "kernel", info
    sizes = (16, 32, 4096) if mode in (AES.MODE_ECB, AES.MODE_CBC) else (1, 15, 16, 17, 1000)
    assert in_pieces(ours.encrypt, data, sizes) == ref.encrypt(data)
    ours, ref = AES.new(key, mode, *args, **kwargs), RefAES.new(raw, mode, *args, **kwargs)
    secret = RefAES.new(raw, mode, *args, **kwargs).encrypt(data)
    assert ours.decrypt(secret) == data == ref.decrypt(secret)


@pytest.mark.kernel
@pytest.mark.parametrize("mode,kwargs", [(AES.MODE_CFB, {"segment_size": 128}),
                                         (AES.MODE_OFB, {})], ids=["cfb", "ofb"])
def test_cfb_and_ofb_where_the_kernel_has_them(with_keyring, in_keyring, mode, kwargs):
    raw = os.urandom(16)
    key = in_keyring(raw)
    name = {AES.MODE_CFB: "cfb(aes)", AES.MODE_OFB: "ofb(aes)"}[mode]
    why = kernel_refusal("skcipher", name)
    if why is None:
        ours = AES.new(key, mode, IV, **kwargs)
        assert in_pieces(ours.encrypt, DATA) == RefAES.new(raw, mode, IV, **kwargs).encrypt(DATA)
        return
    # 6.8 removed the templates: software would serve a byte key, nothing can serve this one.
    with pytest.raises(KernelUnavailableError) as caught:
        AES.new(key, mode, IV, **kwargs)
    assert caught.value.reason == "keyring-needs-kernel" and caught.value.errno == errno.ENOENT
    assert name in str(caught.value) and "can only be used by the kernel" in str(caught.value)


@pytest.mark.kernel
@pytest.mark.parametrize("key_size", [32, 64])
def test_xts_matches_the_standard(with_keyring, in_keyring, key_size):
    """A keyring-keyed unit is one call of at most one request (Key2 is never read here,
    so no later tweak position can be computed): that refused before any kernel call."""
    raw = os.urandom(key_size)
    key = in_keyring(raw)
    for size in (16, 100, 4096):  # 100: ciphertext stealing
        sector = os.urandom(size)
        ours = AES.new(key, AES.MODE_XTS, tweak=IV)
        assert ours.encrypt(sector) == reference_xts(raw, IV, sector)
        if size % 16:  # PyCryptodome's rule first: the unit has ended
            with pytest.raises(TypeError, match="No more data after a piece"):
                ours.encrypt(sector)
        else:
            with pytest.raises(ValueError, match="keyring key, an XTS data unit is encrypted in"):
                ours.encrypt(sector)
        back = AES.new(key, AES.MODE_XTS, tweak=IV)
        assert back.decrypt(reference_xts(raw, IV, sector)) == sector
    too_long = AES.new(key, AES.MODE_XTS, tweak=IV)
    with pytest.raises(ValueError, match="keyring key"):
        too_long.encrypt(bytes(MAX_REQUEST + 16))
    assert too_long.encrypt(DATA[:32]) == reference_xts(raw, IV, DATA[:32])  # nothing was done


@pytest.mark.kernel
@pytest.mark.parametrize("mode,args,kwargs", [
    (DES3.MODE_ECB, (), {}), (DES3.MODE_CBC, (IV[:8],), {}),
    (DES3.MODE_CTR, (), {"nonce": IV[:4]}),
], ids=["ecb", "cbc", "ctr"])
def test_des3_matches_pycryptodome(with_keyring, in_keyring, mode, args, kwargs):
    needs(("skcipher", {DES3.MODE_ECB: "ecb", DES3.MODE_CBC: "cbc", DES3.MODE_CTR: "ctr"}[mode]
           + "(des3_ede)"))
    raw = DES3.adjust_key_parity(os.urandom(24))
    key = in_keyring(raw)
    data = DATA[:len(DATA) // 8 * 8]
    ours = DES3.new(key, mode, *args, **kwargs)
    assert in_pieces(ours.encrypt, data, (8, 16, 1024)) == \
        RefDES3.new(raw, mode, *args, **kwargs).encrypt(data)


@pytest.mark.kernel
def test_des3_two_key_keys_must_be_stored_expanded(with_keyring, in_keyring):
    two = DES3.adjust_key_parity(os.urandom(16))
    with pytest.raises(ValueError) as caught:
        DES3.new(in_keyring(two), DES3.MODE_CBC, IV[:8])
    assert not isinstance(caught.value, KernelUnavailableError)
    assert "K1 || K2 || K1" in str(caught.value) and "24 bytes" in str(caught.value)
    # Stored as K1 || K2 || K1 it is PyCryptodome's 2-key TDES.
    expanded = DES3.new(in_keyring(two + two[:8]), DES3.MODE_CBC, IV[:8])
    assert expanded.encrypt(DATA[:4096]) == \
        RefDES3.new(two, DES3.MODE_CBC, IV[:8]).encrypt(DATA[:4096])


@pytest.mark.kernel
@pytest.mark.parametrize("nonce_size", [8, 12, 24])
def test_chacha20_matches_pycryptodome(with_keyring, in_keyring, nonce_size):
    needs(("skcipher", "xchacha20" if nonce_size == 24 else "chacha20"))
    raw, nonce = os.urandom(32), os.urandom(nonce_size)
    key = in_keyring(raw)
    ours = ChaCha20.new(key=key, nonce=nonce)
    assert kcapi_cipher.backend_info(ours).backend == "kernel"
    assert in_pieces(ours.encrypt, DATA) == RefChaCha20.new(key=raw, nonce=nonce).encrypt(DATA)
    seeking, ref = ChaCha20.new(key=key, nonce=nonce), RefChaCha20.new(key=raw, nonce=nonce)
    seeking.seek(1000)
    ref.seek(1000)
    assert seeking.decrypt(DATA[:333]) == ref.decrypt(DATA[:333])


@pytest.mark.kernel
def test_a_logon_key_which_user_space_can_never_read(with_keyring, in_keyring):
    needs(("skcipher", "cbc(aes)"), ("skcipher", "chacha20"))
    raw = os.urandom(32)
    key = in_keyring(raw, key_type="logon")
    assert AES.new(key, AES.MODE_CBC, IV).encrypt(DATA[:4096]) == \
        RefAES.new(raw, AES.MODE_CBC, IV).encrypt(DATA[:4096])
    assert ChaCha20.new(key=key, nonce=N12).encrypt(DATA) == \
        RefChaCha20.new(key=raw, nonce=N12).encrypt(DATA)


@pytest.mark.kernel
@pytest.mark.parametrize("algorithms,make", [
    ((("skcipher", "cbc(aes)"),), lambda key: AES.new(key, AES.MODE_CBC, IV)),
    ((("skcipher", "xts(aes)"),), lambda key: AES.new(key, AES.MODE_XTS, tweak=IV)),
    ((("skcipher", "chacha20"),), lambda key: ChaCha20.new(key=key, nonce=N12)),
    ((("aead", "gcm(aes)"),), lambda key: AES.new(key, AES.MODE_GCM, nonce=N12)),
    (CCM_PARTS, lambda key: AES.new(key, AES.MODE_CCM, nonce=N12[:11])),
    ((("aead", "rfc7539(chacha20,poly1305)"),),
     lambda key: ChaCha20_Poly1305.new(key=key, nonce=N12)),
    ((("hash", "cmac(aes)"),), lambda key: CMAC.new(key, ciphermod=AES)),
], ids=["cbc", "xts", "chacha20", "gcm", "ccm", "chacha20-poly1305", "cmac"])
def test_a_key_of_the_wrong_size_is_the_kernels_value_error(with_keyring, in_keyring,
                                                            algorithms, make):
    needs(*algorithms)
    # The key is never read here: its size is the kernel's to check, at new().
    with pytest.raises(ValueError) as caught:
        make(in_keyring(os.urandom(20)))
    assert not isinstance(caught.value, KernelUnavailableError)
    assert "of a size the algorithm takes" in str(caught.value)


@pytest.mark.kernel
@pytest.mark.parametrize("algorithm,make", [
    (("skcipher", "ctr(aes)"), lambda key: AES.new(key, AES.MODE_CTR, nonce=IV[:8])),
    (("aead", "gcm(aes)"), lambda key: AES.new(key, AES.MODE_GCM, nonce=N12)),
    (("hash", "cmac(aes)"), lambda key: CMAC.new(key, ciphermod=AES)),
], ids=["ctr", "gcm", "cmac"])
def test_a_key_without_search_permission_or_revoked(with_keyring, in_keyring, algorithm, make):
    needs(algorithm)
    hidden = in_keyring(os.urandom(16))
    hidden.set_permissions(0x27000000 | 0x00270000)  # view, read, write, setattr: no search
    with pytest.raises(PermissionError) as caught:
        make(hidden)
    assert caught.value.errno == errno.EACCES and "search permission" in str(caught.value)
    gone = in_keyring(os.urandom(16))
    gone.revoke()
    with pytest.raises(OSError) as caught:
        make(gone)
    assert caught.value.errno == errno.EKEYREVOKED and str(gone.serial) in str(caught.value)


@pytest.mark.kernel
def test_keyring_transforms_are_never_cached(with_keyring, in_keyring):
    key = in_keyring(os.urandom(16))
    first, second = AES.new(key, AES.MODE_CBC, IV), AES.new(key, AES.MODE_CBC, IV)
    assert first._engine.tfm is not second._engine.tfm
    assert all(t is not first._engine.tfm for t in transform.keyed())


# -- AEAD and CMAC --------------------------------------------------------------------------


@pytest.mark.kernel
@pytest.mark.parametrize("mac_len", [16, 12, 8])
def test_gcm_one_whole_message(with_keyring, in_keyring, mac_len):
    needs(("aead", "gcm(aes)"))
    raw = os.urandom(32)
    key = in_keyring(raw)
    aad, data = b"header" * 10, DATA

    def ref():
        return RefAES.new(raw, AES.MODE_GCM, nonce=N12, mac_len=mac_len).update(aad)

    sealed = AES.new(key, AES.MODE_GCM, nonce=N12, mac_len=mac_len).update(aad)
    ct, tag = sealed.encrypt_and_digest(data)
    assert (ct, tag) == ref().encrypt_and_digest(data)
    assert kcapi_cipher.backend_info(sealed).algorithm == "gcm(aes)"
    opened = AES.new(key, AES.MODE_GCM, nonce=N12, mac_len=mac_len).update(aad)
    assert opened.decrypt_and_verify(ct, tag) == data
    for bad_tag in (bytes(mac_len), tag[:-1]):  # a wrong tag, and one of the wrong size
        wrong = AES.new(key, AES.MODE_GCM, nonce=N12, mac_len=mac_len).update(aad)
        with pytest.raises(ValueError, match="MAC check failed") as caught:
            wrong.decrypt_and_verify(ct, bad_tag)
        assert not isinstance(caught.value, KernelUnavailableError)
    only_aad = AES.new(key, AES.MODE_GCM, nonce=N12, mac_len=mac_len).update(aad)
    assert only_aad.digest() == ref().digest()


@pytest.mark.kernel
def test_gcm_refuses_what_would_put_h_in_user_space(with_keyring, in_keyring):
    needs(("aead", "gcm(aes)"))
    raw = os.urandom(16)
    key = in_keyring(raw)
    for kwargs in ({"nonce": os.urandom(16)}, {"nonce": N12, "mac_len": 10}):
        with pytest.raises(KernelUnavailableError) as caught:
            AES.new(key, AES.MODE_GCM, **kwargs)
        assert caught.value.reason == "keyring-needs-kernel"
        assert "H = E_K(0^128)" in str(caught.value)
    piecewise = AES.new(key, AES.MODE_GCM, nonce=N12)
    with pytest.raises(KernelUnavailableError, match="beyond one whole message") as caught:
        piecewise.encrypt(b"piece")
    assert "encrypt_and_digest" in str(caught.value)
    # The refusal came before any kernel call: the object still takes a whole message.
    ct, tag = piecewise.encrypt_and_digest(b"whole")
    assert (ct, tag) == RefAES.new(raw, AES.MODE_GCM, nonce=N12).encrypt_and_digest(b"whole")
    too_big = AES.new(key, AES.MODE_GCM, nonce=N12)
    with pytest.raises(KernelUnavailableError, match="at most 64 KiB"):
        too_big.encrypt_and_digest(bytes(70_000))


@pytest.mark.kernel
def test_ccm_whole_and_piecewise(with_keyring, in_keyring):
    needs(*CCM_PARTS)
    raw, nonce, aad = os.urandom(16), os.urandom(11), b"assoc" * 7
    key = in_keyring(raw)
    ct, tag = AES.new(key, AES.MODE_CCM, nonce=nonce).update(aad).encrypt_and_digest(DATA)
    ref = RefAES.new(raw, AES.MODE_CCM, nonce=nonce).update(aad)
    assert (ct, tag) == ref.encrypt_and_digest(DATA)
    # Piecewise: composed from ctr(aes) and cbcmac(aes), both keyed from the keyring.
    pieces = AES.new(key, AES.MODE_CCM, nonce=nonce, msg_len=len(DATA), assoc_len=len(aad))
    pieces.update(aad[:5])
    pieces.update(aad[5:])
    assert in_pieces(pieces.encrypt, DATA) == ct
    assert pieces.digest() == tag
    opened = AES.new(key, AES.MODE_CCM, nonce=nonce, msg_len=len(DATA), assoc_len=len(aad))
    opened.update(aad)
    assert in_pieces(opened.decrypt, ct) == DATA
    opened.verify(tag)
    with pytest.raises(ValueError, match="MAC check failed"):
        AES.new(key, AES.MODE_CCM, nonce=nonce).update(aad).decrypt_and_verify(ct, bytes(16))


@pytest.mark.kernel
@pytest.mark.parametrize("nonce_size", [8, 12])
def test_chacha20_poly1305_one_whole_message(with_keyring, in_keyring, nonce_size):
    needs(("aead", "rfc7539(chacha20,poly1305)"))
    raw, nonce, aad = os.urandom(32), os.urandom(nonce_size), b"aad" * 5
    key = in_keyring(raw)
    sealed = ChaCha20_Poly1305.new(key=key, nonce=nonce)
    sealed.update(aad)
    ct, tag = sealed.encrypt_and_digest(DATA)
    ref = RefChaChaPoly.new(key=raw, nonce=nonce)
    ref.update(aad)
    assert (ct, tag) == ref.encrypt_and_digest(DATA)
    opened = ChaCha20_Poly1305.new(key=key, nonce=nonce)
    opened.update(aad)
    assert opened.decrypt_and_verify(ct, tag) == DATA
    piecewise = ChaCha20_Poly1305.new(key=key, nonce=nonce)
    with pytest.raises(KernelUnavailableError, match="Poly1305 one-time key"):
        piecewise.encrypt(b"piece")
    with pytest.raises(KernelUnavailableError, match="XChaCha20-Poly1305") as caught:
        ChaCha20_Poly1305.new(key=key, nonce=os.urandom(24))
    assert caught.value.reason == "keyring-needs-kernel"


def _same_mac_stream(ours: Any, ref: Any) -> None:
    """Updates past the 16 KiB held in user space: each copy's digest is the reference's."""
    for piece in (b"a", DATA, bytes(20_000)):
        ours.update(piece)
        ref.update(piece)
        assert ours.copy().digest() == ref.copy().digest()


@pytest.mark.kernel
@pytest.mark.parametrize("key_size", [16, 32])
def test_cmac_matches_pycryptodome(with_keyring, in_keyring, key_size):
    needs(("hash", "cmac(aes)"))
    raw = os.urandom(key_size)
    key = in_keyring(raw)
    ours, ref = CMAC.new(key, ciphermod=AES), RefCMAC.new(raw, ciphermod=RefAES)
    assert kcapi_cipher.backend_info(ours).backend == "kernel"
    _same_mac_stream(ours, ref)
    assert CMAC.new(key, b"m", AES, mac_len=8).digest() == \
        RefCMAC.new(raw, b"m", ciphermod=RefAES, mac_len=8).digest()


@pytest.mark.kernel
def test_cmac_over_tdes_matches_pycryptodome(with_keyring, in_keyring):
    needs(("hash", "cmac(des3_ede)"))
    raw = RefDES3.adjust_key_parity(os.urandom(24))
    key = in_keyring(raw)
    ours, ref = CMAC.new(key, ciphermod=DES3), RefCMAC.new(raw, ciphermod=RefDES3)
    assert kcapi_cipher.backend_info(ours).algorithm == "cmac(des3_ede)"
    _same_mac_stream(ours, ref)
    assert CMAC.new(key, b"m", ciphermod=DES3, mac_len=4).digest() == \
        RefCMAC.new(raw, b"m", ciphermod=RefDES3, mac_len=4).digest()


# -- before 6.2: the error says what is needed ---------------------------------------------


NEEDS_NEWER = {
    "aes-cbc": lambda key: AES.new(key, AES.MODE_CBC, IV),
    "aes-ctr": lambda key: AES.new(key, AES.MODE_CTR, nonce=IV[:8]),
    "aes-xts": lambda key: AES.new(key, AES.MODE_XTS, tweak=IV),
    "des3": lambda key: DES3.new(key, DES3.MODE_CBC, IV[:8]),
    "chacha20": lambda key: ChaCha20.new(key=key, nonce=N12),
    "gcm": lambda key: AES.new(key, AES.MODE_GCM, nonce=N12),
    "ccm": lambda key: AES.new(key, AES.MODE_CCM, nonce=N12[:11]),
    "chacha20-poly1305": lambda key: ChaCha20_Poly1305.new(key=key, nonce=N12),
    "cmac": lambda key: CMAC.new(key, ciphermod=AES),
    "cmac-des3": lambda key: CMAC.new(key, ciphermod=DES3),
}


@pytest.mark.kernel
@pytest.mark.parametrize("name", list(NEEDS_NEWER))
def test_older_kernels_say_what_they_need(without_keyring, in_keyring, name):
    key = in_keyring(os.urandom(24 if name in ("des3", "cmac-des3") else 32))
    with pytest.raises(KernelUnavailableError) as caught:
        NEEDS_NEWER[name](key)
    assert caught.value.reason == "needs-newer-kernel"
    assert "Linux 6.2 or newer" in str(caught.value)
    assert caught.value.errno == errno.ENOPROTOOPT


# -- everywhere: no software fallback, and PyCryptodome's errors for the other arguments -----


EVERY_FACTORY = {**NEEDS_NEWER,
                 "aes-ecb": lambda key: AES.new(key, AES.MODE_ECB),
                 "aes-ctr-suffix": lambda key: AES.new(key, AES.MODE_CTR, counter=Counter.new(
                     32, prefix=IV[:8], suffix=IV[:4])),
                 "aes-cfb": lambda key: AES.new(key, AES.MODE_CFB, IV, segment_size=128),
                 "aes-ofb": lambda key: AES.new(key, AES.MODE_OFB, IV),
                 "des3-ecb": lambda key: DES3.new(key, DES3.MODE_ECB),
                 "xchacha20": lambda key: ChaCha20.new(key=key, nonce=os.urandom(24))}


@pytest.fixture
def fake_kernel_never_called(monkeypatch):
    """A syscall layer that fails every call: the test must make none."""
    fake = RefusingKernel("any", errno.EPERM)
    transform.clear()
    monkeypatch.setattr(_syscalls, "kernel", fake)
    yield fake
    assert fake.calls == []
    transform.clear()


@pytest.mark.parametrize("name", list(EVERY_FACTORY))
def test_the_software_policy_cannot_use_a_keyring_key(fake_kernel_never_called, name):
    kcapi_cipher.set_backend("software")
    with pytest.raises(KernelUnavailableError) as caught:
        EVERY_FACTORY[name](FAKE)
    assert caught.value.reason == "keyring-needs-kernel"
    assert "can only be used by the kernel" in str(caught.value)
    assert "'software'" in str(caught.value)


@pytest.mark.parametrize("name", list(EVERY_FACTORY))
def test_without_af_alg_the_error_keeps_the_errno(fake_kernel, name):
    fake_kernel("socket", errno.EAFNOSUPPORT)
    for policy in ("auto", "kernel"):
        kcapi_cipher.set_backend(policy)
        with pytest.raises(KernelUnavailableError) as caught:
            EVERY_FACTORY[name](FAKE)
        assert caught.value.reason == "keyring-needs-kernel"
        assert caught.value.errno == errno.EAFNOSUPPORT
        assert str(caught.value).count("[errno") == 1, str(caught.value)


@pytest.mark.parametrize("make,label", [
    (lambda key: AES.new(key, AES.MODE_EAX), "AES MODE_EAX"),
    (lambda key: AES.new(key, AES.MODE_SIV), "AES MODE_SIV"),
    (lambda key: DES3.new(key, DES3.MODE_OPENPGP, IV[:8]), "DES3 MODE_OPENPGP"),
    (lambda key: AES.new(key, AES.MODE_CFB, IV), "segment_size=8"),
    (lambda key: CMAC.new(key, ciphermod=RefDES), "CMAC over"),
    (lambda key: Poly1305.new(key=key, cipher=AES, nonce=IV), "Poly1305 with AES"),
    (lambda key: Poly1305.new(key=key, cipher=ChaCha20, nonce=N12), "Poly1305 with ChaCha20"),
])
def test_modes_only_software_has_are_refused(make, label):
    for policy in ("auto", "kernel", "software"):
        kcapi_cipher.set_backend(policy)
        with pytest.raises(KernelUnavailableError) as caught:
            make(FAKE)
        assert caught.value.reason == "keyring-needs-kernel" and label in str(caught.value)


OURS = SimpleNamespace(AES=AES, DES3=DES3, ChaCha20=ChaCha20, ChaCha20_Poly1305=ChaCha20_Poly1305,
                       CMAC=CMAC)
REFERENCE = SimpleNamespace(AES=RefAES, DES3=RefDES3, ChaCha20=RefChaCha20,
                            ChaCha20_Poly1305=RefChaChaPoly, CMAC=RefCMAC)
AES16, DES24, CHACHA32 = bytes(16), bytes(range(24)), bytes(32)

#: name -> (call with a library and a key, the key the reference gets)
ARGUMENT_ERRORS = {
    "iv-length": (lambda lib, key: lib.AES.new(key, AES.MODE_CBC, IV[:15]), AES16),
    "unknown-parameter": (lambda lib, key: lib.AES.new(key, AES.MODE_CBC, IV, bogus=1), AES16),
    "ecb-iv": (lambda lib, key: lib.AES.new(key, AES.MODE_ECB, IV), AES16),
    "ctr-nonce": (lambda lib, key: lib.AES.new(key, AES.MODE_CTR, nonce=IV), AES16),
    "cfb-segment": (lambda lib, key: lib.AES.new(key, AES.MODE_CFB, IV, segment_size=7), AES16),
    "mode": (lambda lib, key: lib.AES.new(key, 99), AES16),
    "des3-iv": (lambda lib, key: lib.DES3.new(key, DES3.MODE_CBC, IV), DES24),
    "chacha20-nonce": (lambda lib, key: lib.ChaCha20.new(key=key, nonce=IV[:13]), CHACHA32),
    "gcm-empty-nonce": (lambda lib, key: lib.AES.new(key, AES.MODE_GCM, nonce=b""), AES16),
    "gcm-mac-len": (lambda lib, key: lib.AES.new(key, AES.MODE_GCM, nonce=N12, mac_len=3), AES16),
    "ccm-nonce": (lambda lib, key: lib.AES.new(key, AES.MODE_CCM, nonce=IV), AES16),
    "ccm-mac-len": (lambda lib, key: lib.AES.new(key, AES.MODE_CCM, nonce=N12, mac_len=5), AES16),
    "chacha20-poly1305-nonce": (lambda lib, key: lib.ChaCha20_Poly1305.new(key=key, nonce=IV),
                                CHACHA32),
    "cmac-mac-len": (lambda lib, key: lib.CMAC.new(key, ciphermod=lib.AES, mac_len=20), AES16),
}


@pytest.mark.parametrize("name", list(ARGUMENT_ERRORS))
def test_other_arguments_get_pycryptodomes_errors(name):
    # Checked before any kernel call, under every policy: the keyring key plays no part.
    call, reference_key = ARGUMENT_ERRORS[name]
    for policy in ("auto", "kernel", "software"):
        kcapi_cipher.set_backend(policy)
        got = outcome(lambda: call(OURS, FAKE))
        expected = outcome(lambda: call(REFERENCE, reference_key))
        assert isinstance(expected, tuple) and got == expected, (got, expected)


@pytest.mark.parametrize("args,kwargs", [((), {}), ((IV,), {}), ((), {"tweak": IV[:8]}),
                                         ((), {"iv": IV}), ((), {"tweak": IV, "bogus": 1})])
def test_xts_argument_errors_with_a_keyring_key(args, kwargs):
    """PyCryptodome's errors, under every policy, before any kernel call."""
    for policy in ("auto", "kernel", "software"):
        kcapi_cipher.set_backend(policy)
        got = outcome(lambda: AES.new(FAKE, AES.MODE_XTS, *args, **kwargs))
        expected = outcome(lambda: RefAES.new(bytes(range(32)), RefAES.MODE_XTS, *args, **kwargs))
        assert isinstance(expected, tuple) and got == expected, (got, expected)


@pytest.fixture
def accepting(monkeypatch):
    def install(**kwargs) -> AcceptingKernel:
        fake = AcceptingKernel(**kwargs)
        transform.clear()
        monkeypatch.setattr(_syscalls, "kernel", fake)
        return fake
    yield install
    transform.clear()


@pytest.mark.parametrize("name", list(EVERY_FACTORY))
def test_only_the_serial_reaches_the_kernel(accepting, name):
    """No key bytes -- least of all the stand-in used to check arguments -- are ever set."""
    fake = accepting()
    kcapi_cipher.set_backend("kernel")
    made = EVERY_FACTORY[name](FAKE)
    assert type(made).__module__.startswith("kcapi_cipher."), made
    keys = [(option, value) for option, value, _ in fake.options if option != ALG_SET_AEAD_AUTHSIZE]
    assert keys and all(option == ALG_SET_KEY_BY_KEY_SERIAL for option, _ in keys), keys
    assert all(value == struct.pack("=i", FAKE.serial) for _, value in keys)
    assert ALG_SET_KEY not in [option for option, _ in keys]


def test_a_two_key_tdes_keyring_key_is_explained(accepting):
    accepting(refuse_serial=errno.EINVAL)
    kcapi_cipher.set_backend("kernel")
    with pytest.raises(ValueError, match=r"K1 \|\| K2 \|\| K1") as caught:
        DES3.new(FAKE, DES3.MODE_CBC, IV[:8])
    assert not isinstance(caught.value, KernelUnavailableError)
    with pytest.raises(ValueError, match="of a size the algorithm takes") as caught:
        AES.new(FAKE, AES.MODE_CBC, IV)
    assert "K1" not in str(caught.value)
