"""Differential tests: kcapi_hashlib against hashlib on the same random programs.

A program is a random sequence of updates (bytes, bytearray, memoryview
slices; sizes around the user-space holding threshold and beyond), copies
and digests at random points.  Every live object is compared with its
hashlib twin after every step.  They run under the policy in force, so in
the kernel run every object is served by the kernel (checked).
"""

import hashlib
import os
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kcapi_hashlib
from _kcapi.hash import HOLD_LIMIT

from _kcapi.names import HASHES
from tests.support import KERNEL_GUARANTEED, REQUIRE_KERNEL, kernel_refusal

SIZES = st.one_of(st.integers(0, 64), st.integers(HOLD_LIMIT - 40, HOLD_LIMIT + 40),
                  st.integers(0, 3 * HOLD_LIMIT))
OPS = st.lists(st.one_of(
    st.tuples(st.just("update"), SIZES, st.sampled_from(["bytes", "bytearray", "view"])),
    st.tuples(st.just("copy"), st.integers(0, 10)),
    st.tuples(st.just("digest"), st.integers(0, 10)),
), max_size=12)


def wrap(data: bytes, kind: str):
    if kind == "bytearray":
        return bytearray(data)
    if kind == "view":
        return memoryview(b"<" + data + b">")[1:-1]
    return data


def check_served(obj):
    if REQUIRE_KERNEL:
        assert kcapi_hashlib.backend_info(obj).backend == "kernel"


def run_program(make_ours, make_ref, ops, seed):
    rng = random.Random(seed)
    pairs = [(make_ours(), make_ref())]
    check_served(pairs[0][0])
    for op in ops:
        if op[0] == "update":
            data = rng.randbytes(op[1])
            for ours, ref in pairs:
                ours.update(wrap(data, op[2]))
                ref.update(data)
        elif op[0] == "copy":
            ours, ref = pairs[op[1] % len(pairs)]
            pairs.append((ours.copy(), ref.copy()))
        else:
            ours, ref = pairs[op[1] % len(pairs)]
            assert ours.digest() == ref.digest()
    for ours, ref in pairs:
        assert ours.hexdigest() == ref.hexdigest()
        assert ours.digest() == ref.digest()  # twice: digest() does not finalize


@pytest.mark.parametrize("name", KERNEL_GUARANTEED)
@given(ops=OPS, seed=st.integers(0, 2**32))
def test_random_programs_match_hashlib(name, ops, seed):
    run_program(lambda: kcapi_hashlib.new(name), lambda: hashlib.new(name), ops, seed)


@pytest.mark.parametrize("name", KERNEL_GUARANTEED)
def test_empty_message(name):
    assert kcapi_hashlib.new(name).digest() == hashlib.new(name).digest()
    assert getattr(kcapi_hashlib, name)(b"").hexdigest() == hashlib.new(name, b"").hexdigest()


@pytest.mark.parametrize("name", ["sha1", "sha256", "sha512", "sha3_256", "md5"])
def test_several_mebibytes_in_random_pieces(name):
    data = os.urandom(5 * 1024 * 1024 + 3)
    rng = random.Random(name)
    ours, ref = kcapi_hashlib.new(name), hashlib.new(name)
    pos = 0
    while pos < len(data):
        step = rng.choice([1, 63, 4096, HOLD_LIMIT + 1, 300_000, 2 * 1024 * 1024])
        ours.update(memoryview(data)[pos:pos + step])
        ref.update(data[pos:pos + step])
        pos += step
        if rng.random() < 0.2:
            assert ours.copy().digest() == ref.digest()
    assert ours.digest() == ref.digest()
    assert kcapi_hashlib.new(name, data).digest() == hashlib.new(name, data).digest()


@given(digest_size=st.sampled_from([20, 32, 48, 64]), key=st.binary(max_size=64),
       ops=OPS, seed=st.integers(0, 2**32))
def test_blake2b_with_kernel_sizes_and_keys(digest_size, key, ops, seed):
    run_program(lambda: kcapi_hashlib.blake2b(digest_size=digest_size, key=key),
                lambda: hashlib.blake2b(digest_size=digest_size, key=key), ops, seed)


@given(data=st.binary(max_size=300), length=st.integers(0, 200),
       name=st.sampled_from(["shake_128", "shake_256", "blake2s"]))
def test_software_only_algorithms_under_auto(data, length, name):
    with kcapi_hashlib.use_backend("auto"):
        ours = kcapi_hashlib.new(name, data)
    ref = hashlib.new(name, data)
    if name.startswith("shake"):
        assert ours.digest(length) == ref.digest(length)
    else:
        assert ours.digest() == ref.digest()


@given(password=st.binary(max_size=200), salt=st.binary(max_size=40),
       iterations=st.integers(1, 30), dklen=st.one_of(st.none(), st.integers(1, 130)),
       name=st.sampled_from(["sha1", "sha256", "sha512", "sha3_256"]))
def test_pbkdf2_matches(password, salt, iterations, dklen, name):
    assert kcapi_hashlib.pbkdf2_hmac(name, password, salt, iterations, dklen) == \
        hashlib.pbkdf2_hmac(name, password, salt, iterations, dklen)


def test_algorithms_guaranteed_is_hashlibs():
    assert kcapi_hashlib.algorithms_guaranteed == hashlib.algorithms_guaranteed
    assert set(kcapi_hashlib.__all__) >= set(hashlib.__all__)
    available = kcapi_hashlib.algorithms_available
    # Under `kernel`, what the chosen kernel interface has no such algorithm for is not
    # available (/dev/crypto: SHA-3, BLAKE2b); everything else every kernel has.
    lacking = {name for name in KERNEL_GUARANTEED
               if getattr(kernel_refusal("hash", HASHES[name].kernel), "reason", "")
               == "interface-lacks" and kcapi_hashlib.get_backend() == "kernel"}
    assert set(KERNEL_GUARANTEED) - lacking <= available
