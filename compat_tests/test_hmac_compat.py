"""Differential tests: kcapi_hashlib.hmac against the standard library's hmac."""

import hashlib
import hmac as std_hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kcapi_hashlib
from kcapi_hashlib import hmac

from .test_hash_compat import OPS, run_program

NAMES = ["md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha3_256", "sha3_512"]


@pytest.mark.parametrize("name", NAMES)
@given(key=st.binary(max_size=200), ops=OPS, seed=st.integers(0, 2**32))
def test_random_programs_match_hmac(name, key, ops, seed):
    run_program(lambda: hmac.new(key, digestmod=name),
                lambda: std_hmac.new(key, digestmod=name), ops, seed)


@given(key=st.binary(max_size=200), msg=st.binary(max_size=500),
       name=st.sampled_from(NAMES))
def test_one_shot_and_attributes(key, msg, name):
    ours = hmac.new(key, msg, name)
    ref = std_hmac.new(key, msg, name)
    assert ours.digest() == ref.digest() == hmac.digest(key, msg, name)
    assert (ours.name, ours.digest_size, ours.block_size) == (ref.name, ref.digest_size, ref.block_size)
    assert hmac.compare_digest(ours.digest(), ref.digest())


@pytest.mark.parametrize("digestmod", [hashlib.sha256, kcapi_hashlib.sha256, "SHA256", "sha256"])
def test_digestmod_spellings(digestmod):
    assert hmac.new(b"k", b"m", digestmod).digest() == std_hmac.new(b"k", b"m", hashlib.sha256).digest()


def test_hmac_class_constructor_and_bytearray_key():
    mac = hmac.HMAC(bytearray(b"key"), b"m", digestmod="sha1")
    assert mac.hexdigest() == std_hmac.HMAC(b"key", b"m", digestmod="sha1").hexdigest()
