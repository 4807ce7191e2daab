"""AES.MODE_HCTR2 and AES.MODE_ADIANTUM: the kernel's hctr2(aes) / adiantum(...), and HCTR2 in software.

Published vectors: the kernel's own (``crypto/testmgr.h`` of Linux 7.3, kept in
``tests/data/testmgr_7_3_wide_block.json``; HCTR2's and XCTR's generated with
github.com/google/hctr2, Adiantum's from github.com/google/adiantum).  The
software HCTR2 is checked against them on every machine; the kernel's
instances where a probe finds them (a kernel test skips only when the
algorithm is missing outright, naming it), and kernel HCTR2 against the
software one on random inputs.  PyCryptodome has neither mode, so its
behaviour is the reference only where it has one: the key-length error.
"""

from __future__ import annotations

import copy
import errno
import json
import os
import random
from pathlib import Path

import pytest
from Crypto.Cipher import AES as RefAES

import kcapi_cipher
from _kcapi import policy, transform
from _kcapi.skcipher import MAX_REQUEST, request_limit
from kcapi_cipher import AES, KernelUnavailableError, KeyringKey, backend_info
from kcapi_cipher._hctr2 import Hctr2, xctr

from ..cipher_support import keyring_ciphers, same_error
from ..support import optional_kernel_alg

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "testmgr_7_3_wide_block.json").read_text())
ADIANTUM = {12: "adiantum(xchacha12,aes)", 20: "adiantum(xchacha20,aes)"}
KEY16, KEY32 = bytes(range(16)), bytes(range(32))
TWEAK = bytes(range(100, 132))


def unhex(vector, *fields):
    return [bytes.fromhex(vector[f]) for f in fields]


def ids(name):
    return [f"{name}-k{v['klen']}-{v['len']}" for v in VECTORS[name]]


def make(mode, key, tweak, **kwargs):
    return AES.new(key, mode, tweak, **kwargs)


# -- the software HCTR2, on every machine ------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS["xctr(aes)"], ids=ids("xctr(aes)"))
def test_xctr_part_meets_the_kernels_vectors(vector):
    key, iv, pt, ct = unhex(vector, "key", "iv", "ptext", "ctext")
    assert xctr(RefAES.new(key, RefAES.MODE_ECB), iv, pt) == ct


@pytest.mark.parametrize("vector", VECTORS["hctr2(aes)"], ids=ids("hctr2(aes)"))
def test_software_hctr2_meets_the_kernels_vectors(vector):
    key, iv, pt, ct = unhex(vector, "key", "iv", "ptext", "ctext")
    kcapi_cipher.set_backend("software")
    cipher = AES.new(key, AES.MODE_HCTR2, iv)
    info = backend_info(cipher)
    assert (info.backend, info.algorithm, info.driver) == \
        ("software", "hctr2(aes)", "kcapi_cipher._hctr2.Hctr2"), info
    assert "policy is 'software'" in info.reason
    assert cipher.encrypt(pt) == ct
    assert AES.new(key, AES.MODE_HCTR2, iv=iv).decrypt(ct) == pt
    assert Hctr2(key).decrypt(iv, ct) == pt


def test_auto_without_the_kernel_serves_hctr2_in_software(fake_kernel):
    fake_kernel("bind", errno.ENOENT)
    kcapi_cipher.set_backend("auto")
    cipher = AES.new(KEY16, AES.MODE_HCTR2, TWEAK)
    info = backend_info(cipher)
    assert info.backend == "software" and info.reason.startswith("missing:"), info
    assert "hctr2(aes)" in info.reason
    assert cipher.encrypt(b"m" * 40) == Hctr2(KEY16).encrypt(TWEAK, b"m" * 40)
    kcapi_cipher.set_backend("kernel")
    with pytest.raises(KernelUnavailableError) as caught:
        AES.new(KEY16, AES.MODE_HCTR2, TWEAK)
    assert caught.value.reason == "missing" and caught.value.errno == errno.ENOENT


@pytest.mark.parametrize("rounds", [12, 20])
def test_adiantum_has_no_software_fallback(fake_kernel, rounds):
    kcapi_cipher.set_backend("software")
    with pytest.raises(KernelUnavailableError) as caught:
        AES.new(KEY32, AES.MODE_ADIANTUM, TWEAK, rounds=rounds)
    text = str(caught.value)
    assert "policy is 'software'" in text and "no software Adiantum" in text
    assert ADIANTUM[rounds] in text and caught.value.reason == "no-kernel-equivalent"
    fake_kernel("bind", errno.ENOENT)
    kcapi_cipher.set_backend("auto")
    with pytest.raises(KernelUnavailableError) as caught:
        AES.new(KEY32, AES.MODE_ADIANTUM, TWEAK, rounds=rounds)
    assert caught.value.reason == "missing" and caught.value.errno == errno.ENOENT
    assert caught.value.algorithm == ADIANTUM[rounds]
    assert "XChaCha12 nor NH" in str(caught.value)


# -- arguments and call rules (every policy; the kernel run uses the kernel) -------------------

MODES = {"hctr2": (AES.MODE_HCTR2, KEY16), "adiantum": (AES.MODE_ADIANTUM, KEY32)}


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("key,args,kwargs,error,text", [
    (None, (), {}, TypeError, "mode needs the tweak of the first data unit"),
    (None, (TWEAK[:16],), {}, ValueError, "Incorrect tweak length (it must be 32 bytes long)"),
    (None, (TWEAK, TWEAK), {}, TypeError, "Too many arguments for this mode"),
    (None, (), {"iv": TWEAK, "IV": TWEAK}, TypeError, "You must use only one of 'tweak', 'iv' or 'IV'"),
    (None, (), {"tweak": TWEAK, "iv": TWEAK}, TypeError, "only one of 'tweak', 'iv' or 'IV'"),
    (None, (TWEAK,), {"tweak": TWEAK}, TypeError, "only one of 'tweak', 'iv' or 'IV'"),
    (None, (), {"tweak": TWEAK[:16]}, ValueError, "Incorrect tweak length"),
    # a spelling given as None is not given (as before `tweak=` was taken)
    (None, (), {"iv": None}, TypeError, "mode needs the tweak of the first data unit"),
    (None, (None,), {"tweak": None}, TypeError, "mode needs the tweak of the first data unit"),
    (None, (), {"IV": None, "iv": TWEAK[:16]}, ValueError, "Incorrect tweak length"),
    (None, (), {"iv": TWEAK, "nonce": b"n"}, TypeError, "Unknown parameters for"),
    ("k" * 32, (TWEAK,), {}, TypeError, "cannot be passed to C code"),
    (None, ("t" * 32,), {}, TypeError, "cannot be passed to C code"),
])
def test_argument_errors(mode, key, args, kwargs, error, text):
    number, good = MODES[mode]
    with pytest.raises(error) as caught:
        AES.new(good if key is None else key, number, *args, **kwargs)
    assert text in str(caught.value)


@pytest.mark.parametrize("size", [0, 15, 17, 33, 64])
def test_hctr2_key_length_error_is_pycryptodomes(size):
    same_error(lambda: AES.new(bytes(size), AES.MODE_HCTR2, TWEAK),
               lambda: RefAES.new(bytes(size), RefAES.MODE_ECB))


@pytest.mark.parametrize("size", [16, 24, 31, 33])
def test_adiantum_takes_one_32_byte_key(size):
    with pytest.raises(ValueError, match=rf"Incorrect Adiantum key length \({size} bytes\)"):
        AES.new(bytes(size), AES.MODE_ADIANTUM, TWEAK)


@pytest.mark.parametrize("rounds,error", [(8, ValueError), (21, ValueError), ("12", TypeError),
                                          (True, TypeError), ([12], TypeError)])
def test_adiantum_rounds(rounds, error):
    with pytest.raises(error, match="Adiantum rounds"):
        AES.new(KEY32, AES.MODE_ADIANTUM, TWEAK, rounds=rounds)


def test_mode_numbers_are_kcapis_own():
    theirs = {getattr(RefAES, n) for n in dir(RefAES) if n.startswith("MODE_")}
    ours = {AES.MODE_HCTR2, AES.MODE_ADIANTUM}
    assert (AES.MODE_HCTR2, AES.MODE_ADIANTUM) == (102, 103)
    assert not ours & theirs and len(ours) == 2
    assert {"MODE_HCTR2", "MODE_ADIANTUM"} <= set(AES.__all__)
    assert not hasattr(RefAES, "MODE_HCTR2") and not hasattr(RefAES, "MODE_ADIANTUM")


def wide_or_skip(mode: str, rounds: int = 12) -> None:
    """Where no one can serve ``mode`` now (Adiantum without a kernel), skip (fail in the kernel run)."""
    name = "hctr2(aes)" if mode == "hctr2" else ADIANTUM[rounds]
    if policy.get_backend() == policy.KERNEL or mode == "adiantum":
        optional_kernel_alg("skcipher", name)
    if mode == "adiantum" and policy.get_backend() == policy.SOFTWARE:
        pytest.skip("Adiantum is kernel only and the policy is 'software'")


@pytest.mark.kernel
@pytest.mark.parametrize("mode", list(MODES))
def test_call_rules(mode):
    wide_or_skip(mode)
    number, key = MODES[mode]
    cipher = make(number, key, TWEAK)
    for size in (0, 1, 15):
        with pytest.raises(ValueError, match="at least 16 bytes"):
            cipher.encrypt(b"x" * size)
    limit = MAX_REQUEST
    if backend_info(cipher).backend == "kernel":
        limit = request_limit(transform.get("skcipher", backend_info(cipher).algorithm))
    with pytest.raises(ValueError, match="at most"):
        cipher.encrypt(bytes(limit + 1))
    data = os.urandom(100)
    first = cipher.encrypt(data)  # the rejected calls above did not move the tweak
    assert first == make(number, key, TWEAK).encrypt(data) and len(first) == 100
    with pytest.raises(TypeError, match=r"decrypt\(\) cannot be called after encrypt\(\)"):
        cipher.decrypt(first)
    assert len(make(number, key, TWEAK).encrypt(bytes(limit))) == limit


@pytest.mark.kernel
@pytest.mark.parametrize("mode", list(MODES))
def test_consecutive_calls_are_consecutive_tweaks(mode):
    wide_or_skip(mode)
    number, key = MODES[mode]
    start = (2**256 - 2).to_bytes(32, "little")  # wraps to 0 after two calls
    units = [os.urandom(n) for n in (16, 4096, 31, 512)]
    cipher = make(number, key, start)
    got = [cipher.encrypt(u) for u in units]
    tweaks = [(2**256 - 2 + i) % 2**256 for i in range(len(units))]
    assert got == [make(number, key, t.to_bytes(32, "little")).encrypt(u)
                   for t, u in zip(tweaks, units)]
    assert cipher.iv == cipher.IV == start
    back = make(number, key, start)
    assert [back.decrypt(c) for c in got] == units
    for spelling in ("tweak", "iv", "IV"):  # PyCryptodome's XTS name for it, or the IV's
        assert AES.new(key, number, **{spelling: start}).encrypt(units[0]) == got[0]


@pytest.mark.kernel
@pytest.mark.parametrize("mode", list(MODES))
def test_buffers_output_and_copies(mode):
    wide_or_skip(mode)
    number, key = MODES[mode]
    data = os.urandom(300)
    expected = make(number, key, TWEAK).encrypt(data)
    for form in (bytes, bytearray, memoryview):
        assert make(number, key, bytearray(TWEAK)).encrypt(form(data)) == expected
    out = bytearray(300)
    assert make(number, key, memoryview(TWEAK)).encrypt(data, output=out) is None
    assert bytes(out) == expected
    in_place = bytearray(expected)
    make(number, key, TWEAK).decrypt(in_place, output=in_place)
    assert in_place == data
    with pytest.raises(ValueError, match="output must have the same length"):
        make(number, key, TWEAK).encrypt(data, output=bytearray(299))
    with pytest.raises(TypeError, match="output must be a bytearray"):
        make(number, key, TWEAK).encrypt(data, output=bytes(300))
    cipher = make(number, key, TWEAK)
    cipher.encrypt(data)
    twin = copy.copy(cipher)
    assert twin.encrypt(data) == cipher.encrypt(data) != expected
    assert backend_info(twin) == backend_info(cipher)


# -- the kernel's instances ------------------------------------------------------------------


@pytest.fixture
def kernel_policy():
    policy.set_backend("kernel")


@pytest.mark.kernel
@pytest.mark.parametrize("vector", VECTORS["hctr2(aes)"], ids=ids("hctr2(aes)"))
def test_kernel_hctr2_meets_its_vectors(kernel_policy, vector):
    optional_kernel_alg("skcipher", "hctr2(aes)")
    key, iv, pt, ct = unhex(vector, "key", "iv", "ptext", "ctext")
    cipher = AES.new(key, AES.MODE_HCTR2, iv)
    info = backend_info(cipher)
    assert info.backend == "kernel" and info.algorithm == "hctr2(aes)", info
    assert info.driver not in ("", "unknown"), info
    assert cipher.encrypt(pt) == ct
    assert AES.new(key, AES.MODE_HCTR2, iv).decrypt(ct) == pt


@pytest.mark.kernel
@pytest.mark.parametrize("rounds", [12, 20])
def test_kernel_adiantum_meets_its_vectors(kernel_policy, rounds):
    name = ADIANTUM[rounds]
    optional_kernel_alg("skcipher", name)
    for vector in VECTORS[name]:
        key, iv, pt, ct = unhex(vector, "key", "iv", "ptext", "ctext")
        cipher = AES.new(key, AES.MODE_ADIANTUM, iv, rounds=rounds)
        info = backend_info(cipher)
        assert info.backend == "kernel" and info.algorithm == name, info
        assert cipher.encrypt(pt) == ct, vector["len"]
        assert AES.new(key, AES.MODE_ADIANTUM, iv=iv, rounds=rounds).decrypt(ct) == pt
    if rounds == 12:  # the default
        assert backend_info(AES.new(KEY32, AES.MODE_ADIANTUM, TWEAK)).algorithm == name


@pytest.mark.kernel
def test_kernel_hctr2_equals_the_software_one_on_random_inputs(kernel_policy):
    optional_kernel_alg("skcipher", "hctr2(aes)")
    rand = random.Random(os.urandom(8))
    limit = request_limit(transform.get("skcipher", "hctr2(aes)"))
    sizes = [16, 17, 31, 32, 33, 47, 48, 4096, 4097, limit] + \
        [rand.randrange(16, 5000) for _ in range(20)]
    for size in sizes:
        key = os.urandom(rand.choice((16, 24, 32)))
        tweak = os.urandom(32)
        data = os.urandom(size)
        kernel = AES.new(key, AES.MODE_HCTR2, tweak)
        assert backend_info(kernel).backend == "kernel"
        software = Hctr2(key)
        ct = kernel.encrypt(data)
        assert ct == software.encrypt(tweak, data), (len(key), size)
        assert AES.new(key, AES.MODE_HCTR2, tweak).decrypt(ct) == data
        assert software.decrypt(tweak, ct) == data


@pytest.mark.kernel
@pytest.mark.parametrize("mode", list(MODES))
def test_keys_in_the_kernel_keyring(mode):
    """A keyring key is used by the kernel only: same results as its bytes, never software."""
    number, key = MODES[mode]
    optional_kernel_alg("skcipher", "hctr2(aes)" if mode == "hctr2" else ADIANTUM[12])
    if not keyring_ciphers():
        pytest.skip("this kernel lacks ALG_SET_KEY_BY_KEY_SERIAL (tested in tests/cipher/test_keyring.py)")
    raw = os.urandom(len(key))
    held = KeyringKey.add(raw, f"kcapi-wide-{os.getpid()}-{os.urandom(4).hex()}")
    try:
        data = [os.urandom(n) for n in (16, 700, 4096)]
        policy.set_backend("kernel")
        ours = AES.new(held, number, TWEAK)
        assert backend_info(ours).backend == "kernel"
        by_bytes = AES.new(raw, number, TWEAK)
        assert [ours.encrypt(d) for d in data] == [by_bytes.encrypt(d) for d in data]
        policy.set_backend("software")
        with pytest.raises(KernelUnavailableError) as caught:
            AES.new(held, number, TWEAK)
        assert caught.value.reason == "keyring-needs-kernel", caught.value
    finally:
        held.revoke()
