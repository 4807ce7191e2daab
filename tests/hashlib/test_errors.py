"""Bad input raises what hashlib / hmac raise, with the same message."""

import hashlib
import hmac as std_hmac

import pytest

import kcapi_hashlib
from kcapi_hashlib import hmac


def outcome(call):
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - the type and text are what we compare
        return type(exc), str(exc)
    return None


def same_error(ours, reference):
    got, expected = outcome(ours), outcome(reference)
    assert expected is not None, "the reference accepted this input"
    assert got is not None, f"accepted; hashlib raises {expected}"
    assert issubclass(got[0], expected[0]), (got, expected)
    return got


@pytest.mark.parametrize("bad", ["text", 1, 2.5, None, [1, 2], object()])
@pytest.mark.parametrize("name", ["sha256", "md5", "sha3_256", "blake2b"])
def test_update_with_a_non_buffer(name, bad):
    obj = kcapi_hashlib.new(name)  # a refusal here is this run's to explain (conftest.py)
    got = same_error(lambda: obj.update(bad), lambda: hashlib.new(name).update(bad))
    ref = outcome(lambda: hashlib.new(name).update(bad))
    assert got[1] == ref[1]


@pytest.mark.parametrize("bad", ["text", 1, [1]])
def test_constructor_with_a_non_buffer(bad):
    assert outcome(lambda: kcapi_hashlib.sha256(bad)) == outcome(lambda: hashlib.sha256(bad))


@pytest.mark.parametrize("name", ["nope", "sha257", ""])
def test_unknown_algorithm_name(name):
    got = same_error(lambda: kcapi_hashlib.new(name), lambda: hashlib.new(name))
    assert got == (ValueError, f"unsupported hash type {name}")


def test_name_must_be_a_string():
    with pytest.raises(TypeError):
        kcapi_hashlib.new(b"sha256")


def test_data_and_string_are_exclusive():
    same_error(lambda: kcapi_hashlib.sha256(b"a", string=b"b"),
               lambda: hashlib.sha256(b"a", string=b"b"))
    assert kcapi_hashlib.sha256(string=b"abc").digest() == hashlib.sha256(b"abc").digest()


@pytest.mark.parametrize("kwargs", [
    {"digest_size": 0}, {"digest_size": 65}, {"digest_size": 32.0},
    {"key": b"k" * 65}, {"salt": b"s" * 17}, {"person": b"p" * 17}, {"key": "text"},
])
def test_blake2b_parameter_errors(kwargs):
    got = same_error(lambda: kcapi_hashlib.blake2b(b"x", **kwargs),
                     lambda: hashlib.blake2b(b"x", **kwargs))
    assert got[1] == outcome(lambda: hashlib.blake2b(b"x", **kwargs))[1]


def test_unexpected_keyword():
    with pytest.raises(TypeError):
        kcapi_hashlib.sha256(b"", nonsense=1)


@pytest.mark.parametrize("args", [
    ("sha256", "pw", b"salt", 1),
    ("sha256", b"pw", "salt", 1),
    ("sha256", b"pw", b"salt", 0),
    ("sha256", b"pw", b"salt", -5),
    ("sha256", b"pw", b"salt", 1, 0),
    ("sha256", b"pw", b"salt", 1.0),
    ("sha256", b"pw", b"salt", 1, 1.5),
    ("no-such-hash", b"pw", b"salt", 1),
])
def test_pbkdf2_errors(args):
    got = same_error(lambda: kcapi_hashlib.pbkdf2_hmac(*args), lambda: hashlib.pbkdf2_hmac(*args))
    if not (issubclass(got[0], ValueError) and "unsupported" in got[1]):
        assert got[1] == outcome(lambda: hashlib.pbkdf2_hmac(*args))[1]


@pytest.mark.parametrize("key", ["text", 1, None, memoryview(b"k")])
def test_hmac_key_types(key):
    got = same_error(lambda: hmac.new(key, b"m", "sha256"), lambda: std_hmac.new(key, b"m", "sha256"))
    assert got[1] == outcome(lambda: std_hmac.new(key, b"m", "sha256"))[1]


@pytest.mark.parametrize("digestmod", [None, ""])
def test_hmac_needs_a_digestmod(digestmod):
    got = same_error(lambda: hmac.new(b"k", b"m", digestmod),
                     lambda: std_hmac.new(b"k", b"m", digestmod))
    # 3.11/3.12 say "parameter", 3.13 "argument": the running interpreter's words.
    assert got == outcome(lambda: std_hmac.new(b"k", b"m", digestmod))


def test_hmac_unknown_digest_name():
    same_error(lambda: hmac.new(b"k", b"m", "nope"), lambda: std_hmac.new(b"k", b"m", "nope"))


@pytest.mark.parametrize("bad", ["text", 3])
def test_hmac_update_with_a_non_buffer(bad):
    same_error(lambda: hmac.new(b"k", bad, "sha256"), lambda: std_hmac.new(b"k", bad, "sha256"))


def test_file_digest_rejects_text_files(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("x")
    with open(path) as text_file:
        got = outcome(lambda: kcapi_hashlib.file_digest(text_file, "sha256"))
    with open(path) as text_file:
        assert got == outcome(lambda: hashlib.file_digest(text_file, "sha256"))


def test_objects_cannot_be_pickled():
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(kcapi_hashlib.sha256(b"x"))
