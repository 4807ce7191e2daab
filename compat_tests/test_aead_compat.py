"""Differential tests: GCM, CCM, ChaCha20-Poly1305 and CMAC against PyCryptodome.

Random keys, nonces, tag lengths, AAD and data, split at random points into
calls, sometimes through ``output=``, sometimes larger than a one-shot kernel
message; every result must equal PyCryptodome's, and a tampered tag,
ciphertext or AAD must fail with ``ValueError("MAC check failed")`` -- from a
kernel-served object without releasing any plaintext.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from Crypto.Cipher import AES as RefAES
from Crypto.Cipher import ChaCha20_Poly1305 as RefChaCha
from Crypto.Hash import CMAC as RefCMAC
from hypothesis import given
from hypothesis import strategies as st

from kcapi_cipher import CMAC, ChaCha20_Poly1305
from kcapi_cipher._aead import KernelAead
from _kcapi.errors import KernelUnavailableError
from tests.aead_support import MODE_CCM, MODE_GCM, aes_new, assert_served
from tests.support import skip_if_refusal_expected

#: Sizes of messages: mostly small, sometimes past the kernel's one-shot limit (64 KiB).
SIZES = st.one_of(st.integers(0, 300), st.integers(0, 3000), st.sampled_from([65_520, 70_001, 200_000]))
TAMPER = st.sampled_from(["none", "tag", "ciphertext", "aad"])


def _bytes(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:])]


def _encrypt(cipher: Any, pt: bytes, cuts: list[int], use_output: bool) -> tuple[bytes, bytes]:
    """Encrypt ``pt`` in the pieces ``cuts`` gives, or one-shot when there are none."""
    if not cuts:
        if use_output:
            out = bytearray(len(pt))
            assert cipher.encrypt_and_digest(pt, output=out)[0] is None
            return bytes(out), cipher.digest()
        return cipher.encrypt_and_digest(pt)
    pieces = []
    for piece in _split(pt, cuts):
        if use_output:
            out = bytearray(len(piece))
            assert cipher.encrypt(piece, output=memoryview(out)) is None
            pieces.append(bytes(out))
        else:
            pieces.append(cipher.encrypt(piece))
    return b"".join(pieces), cipher.digest()


def _tampered(what: str, aad: bytes, ct: bytes, tag: bytes, where: int) -> tuple[bytes, bytes, bytes]:
    def flip(data: bytes) -> bytes:
        if not data:
            return data
        i = where % len(data)
        return data[:i] + bytes([data[i] ^ (1 << (where % 8))]) + data[i + 1:]

    if what == "tag":
        return aad, ct, flip(tag)
    if what == "ciphertext" and ct:
        return aad, flip(ct), tag
    if what == "aad" and aad:
        return flip(aad), ct, tag
    return aad, ct, tag


def refused_as_is(call: Any, *args: Any, **kwargs: Any) -> Any:
    """``call(*args, **kwargs)`` inside a ``pytest.raises(ValueError)``: a kernel refusal
    this run expects (it is a ValueError too) skips the test, naming it, instead of being
    taken for the error awaited; any other refusal fails it."""
    try:
        return call(*args, **kwargs)
    except KernelUnavailableError as exc:
        skip_if_refusal_expected(exc)
        raise AssertionError(f"refused instead of {call.__name__}'s own error: {exc}") from exc


def _check_decrypt(make: Any, aad: bytes, aad_cuts: list[int], ct: bytes, tag: bytes,
                   pt: bytes, cuts: list[int], construction: str) -> None:
    """Decrypt piecewise + verify, and decrypt_and_verify; a bad tag releases nothing."""
    good = pt is not None
    dec = make()
    assert_served(dec, construction)
    for piece in _split(aad, aad_cuts):
        dec.update(piece)
    if cuts:
        got = b"".join(dec.decrypt(p) for p in _split(ct, cuts))
        if good:
            assert got == pt
            dec.verify(tag)
        else:
            with pytest.raises(ValueError, match="^MAC check failed$"):
                refused_as_is(dec.verify, tag)
    one = make()
    for piece in _split(aad, aad_cuts):
        one.update(piece)
    if good:
        assert one.decrypt_and_verify(ct, tag) == pt
        return
    kwargs = {} if construction.endswith("chacha") else {"output": bytearray(len(ct))}
    with pytest.raises(ValueError, match="^MAC check failed$"):
        refused_as_is(one.decrypt_and_verify, ct, tag, **kwargs)
    if isinstance(one, KernelAead) and kwargs:
        assert kwargs["output"] == bytes(len(ct)), "plaintext released for a wrong tag"


@given(key_size=st.sampled_from([16, 24, 32]), nonce=st.one_of(st.binary(min_size=12, max_size=12),
                                                                st.binary(min_size=1, max_size=70)),
       mac_len=st.integers(4, 16), aad_size=st.integers(0, 200), size=SIZES,
       seed=st.integers(0, 2**32), cuts=st.lists(st.integers(0, 2**20), max_size=5),
       aad_cuts=st.lists(st.integers(0, 300), max_size=4), use_output=st.booleans(),
       tamper=TAMPER, where=st.integers(0, 2**16))
def test_gcm_matches_pycryptodome(key_size, nonce, mac_len, aad_size, size, seed, cuts, aad_cuts,
                                  use_output, tamper, where):
    key, aad, pt = _bytes(seed, key_size), _bytes(seed + 1, aad_size), _bytes(seed + 2, size)
    ref = RefAES.new(key, RefAES.MODE_GCM, nonce=nonce, mac_len=mac_len)
    ref.update(aad)
    want = ref.encrypt_and_digest(pt)
    enc = aes_new(key, MODE_GCM, nonce=nonce, mac_len=mac_len)
    assert_served(enc, "gcm")
    for piece in _split(aad, aad_cuts):
        enc.update(piece)
    assert _encrypt(enc, pt, cuts, use_output) == want

    def make() -> Any:
        return aes_new(key, MODE_GCM, nonce=nonce, mac_len=mac_len)

    t_aad, t_ct, t_tag = _tampered(tamper, aad, *want, where)
    good = (t_aad, t_ct, t_tag) == (aad, *want)
    _check_decrypt(make, t_aad, aad_cuts, t_ct, t_tag, pt if good else None, cuts, "gcm")


@given(key_size=st.sampled_from([16, 24, 32]), nonce_size=st.integers(7, 13),
       mac_len=st.sampled_from([4, 6, 8, 10, 12, 14, 16]), aad_size=st.integers(0, 300),
       size=st.one_of(st.integers(0, 3000), st.sampled_from([65_530, 70_001])),
       seed=st.integers(0, 2**32), cuts=st.lists(st.integers(0, 2**20), max_size=5),
       aad_cuts=st.lists(st.integers(0, 300), max_size=4), declare=st.sampled_from(
           ["none", "msg_len", "both"]), use_output=st.booleans(), tamper=TAMPER,
       where=st.integers(0, 2**16))
def test_ccm_matches_pycryptodome(key_size, nonce_size, mac_len, aad_size, size, seed, cuts,
                                  aad_cuts, declare, use_output, tamper, where):
    if nonce_size == 13 and size >= 2**16:
        size = 2**16 - 1  # a 13-byte nonce leaves 2 bytes for the message length
    key, nonce = _bytes(seed, key_size), _bytes(seed + 3, nonce_size)
    aad, pt = _bytes(seed + 1, aad_size), _bytes(seed + 2, size)
    lengths: dict[str, int] = {}
    if declare != "none":
        lengths["msg_len"] = size
    if declare == "both":
        lengths["assoc_len"] = aad_size
    if declare == "none":
        cuts = []  # without msg_len, CCM takes the message in one call
    ref = RefAES.new(key, RefAES.MODE_CCM, nonce=nonce, mac_len=mac_len)
    ref.update(aad)
    want = ref.encrypt_and_digest(pt)
    enc = aes_new(key, MODE_CCM, nonce=nonce, mac_len=mac_len, **lengths)
    assert_served(enc, "ccm")
    for piece in _split(aad, aad_cuts):
        enc.update(piece)
    assert _encrypt(enc, pt, cuts, use_output) == want

    def make() -> Any:
        return aes_new(key, MODE_CCM, nonce=nonce, mac_len=mac_len, **lengths)

    t_aad, t_ct, t_tag = _tampered(tamper, aad, *want, where)
    good = (t_aad, t_ct, t_tag) == (aad, *want)
    _check_decrypt(make, t_aad, aad_cuts, t_ct, t_tag, pt if good else None, cuts, "ccm")


@given(nonce_size=st.sampled_from([8, 12, 24]), aad_size=st.integers(0, 300), size=SIZES,
       seed=st.integers(0, 2**32), cuts=st.lists(st.integers(0, 2**20), max_size=5),
       aad_cuts=st.lists(st.integers(0, 300), max_size=4), use_output=st.booleans(),
       tamper=TAMPER, where=st.integers(0, 2**16))
def test_chacha20_poly1305_matches_pycryptodome(nonce_size, aad_size, size, seed, cuts, aad_cuts,
                                                use_output, tamper, where):
    key, nonce = _bytes(seed, 32), _bytes(seed + 3, nonce_size)
    aad, pt = _bytes(seed + 1, aad_size), _bytes(seed + 2, size)
    ref = RefChaCha.new(key=key, nonce=nonce)
    ref.update(aad)
    want = ref.encrypt_and_digest(pt)
    construction = "xchacha" if nonce_size == 24 else "chacha"
    enc = ChaCha20_Poly1305.new(key=key, nonce=nonce)
    assert_served(enc, construction)
    for piece in _split(aad, aad_cuts):
        enc.update(piece)
    if not cuts:
        got = enc.encrypt_and_digest(pt)
    else:
        got = _encrypt(enc, pt, cuts, use_output)
    assert got == want

    def make() -> Any:
        return ChaCha20_Poly1305.new(key=key, nonce=nonce)

    t_aad, t_ct, t_tag = _tampered(tamper, aad, *want, where)
    good = (t_aad, t_ct, t_tag) == (aad, *want)
    _check_decrypt(make, t_aad, aad_cuts, t_ct, t_tag, pt if good else None, cuts, construction)


@given(key_size=st.sampled_from([16, 24, 32]), size=st.one_of(st.integers(0, 200),
                                                                st.integers(0, 40_000)),
       seed=st.integers(0, 2**32), cuts=st.lists(st.integers(0, 2**16), max_size=5),
       mac_len=st.integers(4, 16), copy_at=st.integers(0, 5), after_digest=st.booleans())
def test_cmac_matches_pycryptodome(key_size, size, seed, cuts, mac_len, copy_at, after_digest):
    key, msg = _bytes(seed, key_size), _bytes(seed + 1, size)
    ours = CMAC.new(key, ciphermod=RefAES, mac_len=mac_len, update_after_digest=after_digest)
    ref = RefCMAC.new(key, ciphermod=RefAES, mac_len=mac_len, update_after_digest=after_digest)
    assert_served(ours, "cmac")
    pieces = _split(msg, cuts)
    copies = []
    for i, piece in enumerate(pieces):
        if i == copy_at:
            copies.append((ours.copy(), ref.copy(), msg[len(b"".join(pieces[:i])):]))
        ours.update(piece)
        ref.update(piece)
        if after_digest:
            assert ours.digest() == ref.digest()
    assert ours.digest() == ref.digest() and ours.hexdigest() == ref.hexdigest()
    ours.verify(ref.digest())
    for twin, ref_twin, rest in copies:
        twin.update(rest)
        ref_twin.update(rest)
        assert twin.digest() == ref_twin.digest()


@pytest.mark.parametrize("kwargs", [{}, {"msg": b"m"}, {"mac_len": 8}, {"cipher_params": {}}])
def test_cmac_without_a_cipher_module_is_pycryptodomes_type_error(kwargs):
    """PyCryptodome has no default cipher for CMAC: neither has kcapi, under any policy."""
    def outcome(new):
        try:
            new(b"k" * 16, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the type and text are compared
            return type(exc), str(exc)
        return None

    ours = outcome(CMAC.new)
    assert ours is not None and ours == outcome(RefCMAC.new)
