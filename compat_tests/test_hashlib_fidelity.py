"""Differential tests: kcapi_hashlib's module surface against hashlib, live, on this interpreter.

Every check makes the same call to both -- the named constructors and ``new()``
with a grid of argument forms, every spelling OpenSSL gives ``hashlib.new``,
the objects' methods and attributes used wrongly, the blake2 classes,
``pbkdf2_hmac`` with bad arguments, the module's attributes -- and compares the
outcome (:func:`compat_tests.outcomes.assert_same`: the same exception type
and message, or equal results), under each backend policy.  Run by the host
(``auto`` means software there) and by the kernel run, where the kernel serves
whatever it can (checked).
"""

import array
import copy
import hashlib
import hmac as std_hmac
import pickle

import pytest

import kcapi_hashlib
from kcapi_hashlib import hmac

from .outcomes import (POLICIES, Raised, Returned, assert_same, describe, kernel_for,
                       kernel_serves, outcome)

DATA = b"The quick brown fox jumps over the lazy dog"
NAMED = sorted(hashlib.algorithms_guaranteed)


# -- constructors ----------------------------------------------------------------

CALLS = {
    "no arguments": ((), {}),
    "data": ((DATA,), {}),
    "None": ((None,), {}),
    "data=": ((), {"data": DATA}),
    "string=": ((), {"string": DATA}),
    "data=None": ((), {"data": None}),
    "string=None": ((), {"string": None}),
    "data and data=": ((DATA,), {"data": DATA}),
    "data and string=": ((DATA,), {"string": DATA}),
    "data= and string=": ((), {"data": DATA, "string": DATA}),
    "two positional": ((DATA, DATA), {}),
    "usedforsecurity=False": ((DATA,), {"usedforsecurity": False}),
    "only usedforsecurity": ((), {"usedforsecurity": False}),
    "usedforsecurity=0": ((DATA,), {"usedforsecurity": 0}),
    "usedforsecurity positional": ((DATA, False), {}),
    "unknown keyword": ((DATA,), {"nope": 1}),
    "str": (("text",), {}),
    "int": ((1,), {}),
    "bytearray": ((bytearray(DATA),), {}),
    "memoryview slice": ((memoryview(DATA)[2:9],), {}),
    "strided memoryview": ((memoryview(DATA)[::2],), {}),
    "2-D memoryview": ((memoryview(bytes(24)).cast("B", (4, 6)),), {}),
    "array of ints": ((array.array("I", [1, 2, 3]),), {}),
    "past the held-data limit": ((DATA * 1000,), {}),
    "digest_size=": ((), {"digest_size": 32}),
    "key=": ((DATA,), {"key": b"k"}),
    "string= and usedforsecurity": ((), {"string": DATA, "usedforsecurity": False}),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
@pytest.mark.parametrize("name", NAMED)
def test_named_constructors_take_what_hashlib_takes(policy, name, call):
    args, kwargs = call
    assert_same(lambda: getattr(kcapi_hashlib, name)(*args, **kwargs),
                lambda: getattr(hashlib, name)(*args, **kwargs),
                kernel=kernel_for(name, kwargs))


NEW_CALLS = {
    "name": (("sha256",), {}),
    "name and None": (("sha256", None), {}),
    "data=": (("sha256",), {"data": DATA}),
    "string=": (("sha256",), {"string": DATA}),
    "data= and string=": (("sha256",), {"data": DATA, "string": DATA}),
    "blake2b512 digest_size=": (("blake2b512",), {"digest_size": 32}),
    "blake2b digest_size=": (("blake2b",), {"digest_size": 32}),
    "blake2b salt=": (("blake2b", DATA), {"salt": b"salt"}),
    "sha256 digest_size=": (("sha256",), {"digest_size": 32}),
    "name=": ((), {"name": "sha256"}),
    "name= data=": ((), {"name": "sha3_256", "data": DATA}),
    "name twice": (("sha256",), {"name": "md5"}),
    "three positional": (("sha256", DATA, DATA), {}),
    "no arguments": ((), {}),
    "usedforsecurity=False": (("sha256",), {"usedforsecurity": False}),
    "bytes name": ((b"sha256",), {}),
    "None name": ((None,), {}),
    "unhashable name": (([],), {}),
    "unknown name": (("nope",), {}),
    "blake2s string=": (("blake2s",), {"string": DATA}),
    "blake2s data=": (("blake2s",), {"data": DATA}),
    "blake2s digest_size=": (("blake2s", DATA), {"digest_size": 16}),
    "shake str": (("shake_128", "text"), {}),
    "str data": (("sha256", "text"), {}),
    "strided data": (("sha256", memoryview(DATA)[::2]), {}),
    "upper-case": (("SHA256", DATA), {}),
    "OpenSSL name, usedforsecurity": (("sha-256", DATA), {"usedforsecurity": False}),
    "OpenSSL name, string=": (("SHA2-256",), {"string": DATA}),
    "OpenSSL name, unknown keyword": (("ssl3-md5",), {"nope": 1}),
    "sha512_256 data": (("sha512_256", DATA), {}),
    "sha512_256 bad keyword": (("sha512_256",), {"nope": 1}),
}


@pytest.mark.parametrize("call", NEW_CALLS.values(), ids=NEW_CALLS.keys())
def test_new_takes_what_hashlib_new_takes(policy, call):
    args, kwargs = call
    name = args[0] if args else kwargs.get("name")
    ref = outcome(lambda: hashlib.new(*args, **kwargs))
    served_name = ref.value.name if isinstance(ref, Returned) else name
    assert_same(lambda: kcapi_hashlib.new(*args, **kwargs), lambda: hashlib.new(*args, **kwargs),
                kernel=kernel_for(served_name, kwargs))


# -- spellings -------------------------------------------------------------------

#: Every digest name OpenSSL 3.0 lists (``openssl list -digest-algorithms``), legacy
#: aliases and OIDs included; below, each in several cases and with '_' for '-'.
OPENSSL_NAMES = [
    "1.2.156.10197.1.401", "1.2.840.113549.2.5", "1.3.14.3.2.26", "1.3.36.3.2.1",
    "1.3.6.1.4.1.1722.12.2.1.16", "1.3.6.1.4.1.1722.12.2.2.8", "2.16.840.1.101.3.4.2.1",
    "2.16.840.1.101.3.4.2.2", "2.16.840.1.101.3.4.2.3", "2.16.840.1.101.3.4.2.4",
    "2.16.840.1.101.3.4.2.5", "2.16.840.1.101.3.4.2.6", "2.16.840.1.101.3.4.2.7",
    "2.16.840.1.101.3.4.2.8", "2.16.840.1.101.3.4.2.9", "2.16.840.1.101.3.4.2.10",
    "2.16.840.1.101.3.4.2.11", "2.16.840.1.101.3.4.2.12",
    "BLAKE2B-512", "BLAKE2S-256", "BLAKE2b512", "BLAKE2s256", "KECCAK-KMAC-128", "KECCAK-KMAC256",
    "MD4", "MD5", "MD5-SHA1", "NULL", "RIPEMD", "RIPEMD-160", "RIPEMD160", "RMD160", "RSA-MD5",
    "RSA-SHA1", "RSA-SHA256", "RSA-SHA3-256", "RSA-SHA512/256", "SHA-1", "SHA-224", "SHA-256",
    "SHA-384", "SHA-512", "SHA-512/224", "SHA-512/256", "SHA1", "SHA2-224", "SHA2-256",
    "SHA2-384", "SHA2-512", "SHA2-512/224", "SHA2-512/256", "SHA224", "SHA256", "SHA3-224",
    "SHA3-256", "SHA3-384", "SHA3-512", "SHA384", "SHA512", "SHA512-224", "SHA512-256",
    "SHAKE-128", "SHAKE-256", "SHAKE128", "SHAKE256", "SM3", "SSL3-MD5", "SSL3-SHA1",
    "id-rsassa-pkcs1-v1_5-with-sha3-256", "md5WithRSAEncryption", "ripemd", "ripemd160WithRSA",
    "sha256WithRSAEncryption", "sha512-256WithRSAEncryption", "whirlpool",
]
#: hashlib's own names and our kernel names, in the same variations.
OTHER_NAMES = [
    *sorted(hashlib.algorithms_available), "sha512_224", "sha512_256", "md5-sha1", "ripemd160",
    "sm3", "md4", "blake2b-512", "blake2b-256", "blake2b_256", "sha3-256", "rmd160", "wp512",
    "streebog256", "xxhash64", "crc32c", "sha-256", "sha512/256", "Blake2b", "sHa256",
]


def _spellings():
    found = set()
    for name in OPENSSL_NAMES + OTHER_NAMES:
        found |= {name, name.lower(), name.upper(), name.replace("-", "_"), name.title()}
    return sorted(found)


SPELLINGS = _spellings()


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_means_what_it_means_to_hashlib(policy, spelling):
    """Spellings hashlib accepts: its object's name; the kernel serves what it has
    (``sha-256``, ``SHA2-256``, OIDs ...) and refuses the rest under ``kernel``."""
    ref = outcome(lambda: hashlib.new(spelling, DATA))
    if isinstance(ref, Raised):
        # Names only the kernel has are ours to add (documented); all others are refused.
        got = outcome(lambda: kcapi_hashlib.new(spelling, DATA))
        if isinstance(got, Returned) or got.kind is kcapi_hashlib.KernelUnavailableError:
            assert spelling in KERNEL_ONLY_NAMES, got
        else:
            assert got == ref
        return
    assert_same(lambda: kcapi_hashlib.new(spelling, DATA), lambda: hashlib.new(spelling, DATA),
                kernel=kernel_for(ref.value.name))


#: Names hashlib refuses that kcapi_hashlib.new serves from the kernel (see its docstring).
KERNEL_ONLY_NAMES = {"md4", "whirlpool", "wp512", "wp256", "wp384", "streebog256", "streebog512",
                     "xxhash64", "crc32c", "blake2b-160", "blake2b-256", "blake2b-384",
                     "blake2b_160", "blake2b_256", "blake2b_384", "blake2b-512", "sm3", "rmd160",
                     "ripemd160"}


@pytest.mark.parametrize("spelling", ["sha-256", "SHA2-256", "SHA256", "sha512-256", "ssl3-md5",
                                      "ssl3-sha1", "RIPEMD160", "sha3-256", "SHAKE128",
                                      "2.16.840.1.101.3.4.2.8", "BLAKE2b512"])
def test_file_digest_takes_every_spelling(policy, spelling, tmp_path):
    path = tmp_path / "f"
    path.write_bytes(DATA * 500)

    def digest(module):
        with open(path, "rb") as f:
            return module.file_digest(f, spelling)

    ref = hashlib.new(spelling)
    assert_same(lambda: digest(kcapi_hashlib), lambda: digest(hashlib), kernel=kernel_for(ref.name))


# -- objects -----------------------------------------------------------------------

MISUSES = {
    "update()": lambda h: h.update(),
    "update(data=)": lambda h: h.update(data=DATA),
    "update(string=)": lambda h: h.update(string=DATA),
    "update(a, b)": lambda h: h.update(DATA, DATA),
    "update(None)": lambda h: h.update(None),
    "update(str)": lambda h: h.update("text"),
    "update(strided)": lambda h: h.update(memoryview(DATA)[::3]),
    "update(2-D)": lambda h: h.update(memoryview(bytes(12)).cast("B", (3, 4))),
    "update(array)": lambda h: h.update(array.array("H", [7, 8])),
    "digest(1)": lambda h: h.digest(1),
    "digest(length=)": lambda h: h.digest(length=3),
    "hexdigest(1)": lambda h: h.hexdigest(1),
    "copy(1)": lambda h: h.copy(1),
    "copy(x=)": lambda h: h.copy(x=1),
    "set name": lambda h: setattr(h, "name", "x"),
    "delete name": lambda h: delattr(h, "name"),
    "set digest_size": lambda h: setattr(h, "digest_size", 1),
    "delete digest_size": lambda h: delattr(h, "digest_size"),
    "set block_size": lambda h: setattr(h, "block_size", 1),
    "delete block_size": lambda h: delattr(h, "block_size"),
    "pickle": lambda h: pickle.dumps(h),
    "copy.copy": lambda h: copy.copy(h),
    "copy.deepcopy": lambda h: copy.deepcopy(h),
}


def _result(value):
    return describe(value) if hasattr(value, "hexdigest") else value


@pytest.mark.parametrize("misuse", MISUSES.values(), ids=MISUSES.keys())
@pytest.mark.parametrize("name", [*NAMED, "SHA256", "blake2b512"])
def test_objects_refuse_misuse_as_hashlib_does(policy, name, misuse):
    made = outcome(lambda: kcapi_hashlib.new(name, DATA))
    ref = hashlib.new(name, DATA)
    if kcapi_hashlib.get_backend() == "kernel" and not kernel_for(ref.name):
        assert isinstance(made, Raised) and made.kind is kcapi_hashlib.KernelUnavailableError
        return
    ours = made.value
    assert_same(lambda: misuse(ours), lambda: misuse(ref), kernel=True, show=_result)
    assert describe(ours) == describe(ref)  # a refused call changed nothing


@pytest.mark.parametrize("name", [n for n in NAMED if not n.startswith("shake")])
def test_read_only_attributes_keep_their_values(policy, name):
    try:
        ours = kcapi_hashlib.new(name, DATA)
    except kcapi_hashlib.KernelUnavailableError:
        assert policy == "kernel" and not kernel_for(name)
        return
    for attr in ("name", "digest_size", "block_size"):
        with pytest.raises(AttributeError):
            setattr(ours, attr, 3)
        assert getattr(ours, attr) == getattr(hashlib.new(name), attr)


# -- blake2 classes ------------------------------------------------------------------

BLAKE2_PARAMS = {
    "defaults": {},
    "digest_size=32": {"digest_size": 32},
    "digest_size=20 key": {"digest_size": 20, "key": b"k"},
    "longest key": {"key": b"k" * 32},
    "digest_size=48 key=64": {"digest_size": 48, "key": b"k" * 64},
    "bytearray key": {"key": bytearray(b"secret")},
    "salt": {"salt": b"salt"},
    "person": {"person": b"me"},
    "digest_size=17": {"digest_size": 17},
    "tree": {"fanout": 2, "depth": 3, "leaf_size": 5, "node_offset": 1, "node_depth": 1,
             "inner_size": 7, "last_node": True},
    "defaults spelled out": {"fanout": 1, "depth": 1, "leaf_size": 0, "last_node": False,
                             "salt": b"", "person": b""},
    "usedforsecurity": {"usedforsecurity": False},
    "digest_size=0": {"digest_size": 0},
    "digest_size=65": {"digest_size": 65},
    "key too long": {"key": b"k" * 65},
    "salt too long": {"salt": b"s" * 17},
    "str key": {"key": "k"},
    "digest_size float": {"digest_size": 32.0},
    "data=": {"data": DATA},
    "string=": {"string": DATA},
}


@pytest.mark.parametrize("params", BLAKE2_PARAMS.values(), ids=BLAKE2_PARAMS.keys())
@pytest.mark.parametrize("name", ["blake2b", "blake2s"])
def test_blake2_takes_its_parameters_and_is_a_type(policy, name, params):
    ours_cls, ref_cls = getattr(kcapi_hashlib, name), getattr(hashlib, name)
    got = assert_same(lambda: ours_cls(DATA, **params), lambda: ref_cls(DATA, **params),
                      kernel=kernel_for(name, params))
    assert_same(lambda: kcapi_hashlib.new(name, DATA, **params),
                lambda: hashlib.new(name, DATA, **params), kernel=kernel_for(name, params))
    if isinstance(got, Returned):
        h, ref = got.value, ref_cls(DATA, **params)
        for ours_type, ref_type in ((kcapi_hashlib.blake2b, hashlib.blake2b),
                                    (kcapi_hashlib.blake2s, hashlib.blake2s)):
            assert isinstance(h, ours_type) == isinstance(ref, ref_type)
            assert (type(h) is ours_type) == (type(ref) is ref_type)
        twin = h.copy()
        assert type(twin) is ours_cls and describe(twin) == describe(ref.copy())
        h.update(b"more")
        ref.update(b"more")
        assert describe(h) == describe(ref) and describe(twin) != describe(h)
        assert type(kcapi_hashlib.new(name, **params)) is ours_cls


@pytest.mark.parametrize("name", ["blake2b", "blake2s"])
def test_blake2_classes_look_like_hashlibs(name):
    kcapi_hashlib.set_backend("auto")
    ours_cls, ref_cls = getattr(kcapi_hashlib, name), getattr(hashlib, name)
    for attr in ("SALT_SIZE", "PERSON_SIZE", "MAX_KEY_SIZE", "MAX_DIGEST_SIZE"):
        assert getattr(ours_cls, attr) == getattr(ref_cls, attr)
        assert getattr(ours_cls(), attr) == getattr(ref_cls(), attr)
    assert isinstance(ours_cls, type) and ours_cls.__name__ == ref_cls.__name__
    assert issubclass(ours_cls, ours_cls)
    assert issubclass(kcapi_hashlib.blake2s, kcapi_hashlib.blake2b) == \
        issubclass(hashlib.blake2s, hashlib.blake2b)

    for cls in (ours_cls, ref_cls):  # neither can be subclassed
        with pytest.raises(TypeError, match="is not an acceptable base type"):
            type("Mine", (cls,), {})


# -- pbkdf2_hmac -----------------------------------------------------------------------

PBKDF2_CALLS = {
    "valid": (("sha256", b"p", b"s", 1), {}),
    "dklen": (("sha1", b"p", b"s", 3, 50), {}),
    "bytes name": ((b"sha256", b"p", b"s", 1), {}),
    "None name": ((None, b"p", b"s", 1), {}),
    "unknown name": (("nope", b"p", b"s", 1), {}),
    "unknown name, str password, 0 iterations": (("nope", "p", b"s", 0), {}),
    "unknown name, 0 iterations": (("nope", b"p", b"s", 0), {}),
    "unknown name, huge iterations": (("nope", b"p", b"s", 2**31, 0), {}),
    "str password": (("sha256", "p", b"s", 1), {}),
    "str salt": (("sha256", b"p", "s", 1), {}),
    "None password": (("sha256", None, b"s", 1), {}),
    "strided password": (("sha256", memoryview(b"password")[::2], b"s", 1), {}),
    "bytearray and memoryview": (("sha256", bytearray(b"p"), memoryview(b"salt"), 2), {}),
    "0 iterations": (("sha256", b"p", b"s", 0), {}),
    "negative iterations": (("sha256", b"p", b"s", -1), {}),
    "2**31 iterations": (("sha256", b"p", b"s", 2**31), {}),
    "2**31 iterations, dklen 2**31": (("sha256", b"p", b"s", 2**31, 2**31), {}),
    "2**31 iterations, dklen 0": (("sha256", b"p", b"s", 2**31, 0), {}),
    "2**31-1 iterations, dklen 0": (("sha256", b"p", b"s", 2**31 - 1, 0), {}),
    "2**63 iterations": (("sha256", b"p", b"s", 2**63), {}),
    "2**64 iterations": (("sha256", b"p", b"s", 2**64), {}),
    "-2**63-1 iterations": (("sha256", b"p", b"s", -2**63 - 1), {}),
    "float iterations": (("sha256", b"p", b"s", 1.0), {}),
    "str iterations": (("sha256", b"p", b"s", "1"), {}),
    "bool iterations": (("sha256", b"p", b"s", True), {}),
    "0 dklen": (("sha256", b"p", b"s", 1, 0), {}),
    "negative dklen": (("sha256", b"p", b"s", 1, -1), {}),
    "2**31 dklen": (("sha256", b"p", b"s", 1, 2**31), {}),
    "2**63 dklen": (("sha256", b"p", b"s", 1, 2**63), {}),
    "2**64 dklen": (("sha256", b"p", b"s", 1, 2**64), {}),
    "float dklen": (("sha256", b"p", b"s", 1, 1.0), {}),
    "str dklen": (("sha256", b"p", b"s", 1, "3"), {}),
    "bool dklen": (("sha256", b"p", b"s", 1, True), {}),
    "None dklen": (("sha256", b"p", b"s", 1, None), {}),
    "0 iterations, 0 dklen": (("sha256", b"p", b"s", 0, 0), {}),
    "sha512_256": (("sha512_256", b"p", b"s", 2), {}),
    "OpenSSL spelling": (("SHA-256", b"p", b"s", 2), {}),
    "OpenSSL spelling, 0 iterations": (("SHA2-512", b"p", b"s", 0), {}),
    "blake2b": (("blake2b", b"p", b"s", 1), {}),
    "shake_128": (("shake_128", b"p", b"s", 1), {}),
    "kernel-only name, 0 iterations": (("streebog256", b"p", b"s", 0), {}),
    "missing iterations": (("sha256", b"p", b"s"), {}),
    "six arguments": (("sha256", b"p", b"s", 1, None, 3), {}),
    "iterations=": (("sha256", b"p", b"s"), {"iterations": 2}),
    "every keyword": ((), {"hash_name": "sha256", "password": b"p", "salt": b"s",
                          "iterations": 1, "dklen": 3}),
    "unknown keyword": (("sha256", b"p", b"s", 1), {"nope": 1}),
    "name twice": (("sha256", b"p", b"s", 1), {"hash_name": "md5"}),
    "no arguments": ((), {}),
}


@pytest.mark.parametrize("call", PBKDF2_CALLS.values(), ids=PBKDF2_CALLS.keys())
def test_pbkdf2_hmac_checks_arguments_as_hashlib_does(policy, call):
    args, kwargs = call
    name = args[0] if args else kwargs.get("hash_name")
    ref = outcome(lambda: hashlib.new(name)) if isinstance(name, str) else None
    kernel = isinstance(ref, Returned) and kernel_serves(ref.value.name, hmac=True)
    if name == "streebog256":
        return _kernel_only_pbkdf2(args, kwargs)
    assert_same(lambda: kcapi_hashlib.pbkdf2_hmac(*args, **kwargs),
                lambda: hashlib.pbkdf2_hmac(*args, **kwargs), kernel=kernel, show=bytes)


def _kernel_only_pbkdf2(args, kwargs):
    """A name only the kernel has, with bad arguments: hashlib's error for those arguments."""
    got = outcome(lambda: kcapi_hashlib.pbkdf2_hmac(*args, **kwargs))
    assert got == outcome(lambda: hashlib.pbkdf2_hmac("sha256", *args[1:], **kwargs))


# -- module attributes -------------------------------------------------------------------

def _public(module):
    return [n for n in dir(module) if not n.startswith("_")]


def test_public_attributes_are_one_object_for_the_life_of_the_process():
    names = sorted(set(_public(hashlib)) | set(kcapi_hashlib.__all__))
    before = {n: getattr(kcapi_hashlib, n) for n in names}
    for chosen in POLICIES:
        kcapi_hashlib.set_backend(chosen)
        for name in NAMED:
            for call in (lambda: getattr(kcapi_hashlib, name)(DATA),
                         lambda: kcapi_hashlib.new(name, DATA)):
                outcome(call)
        outcome(lambda: kcapi_hashlib.pbkdf2_hmac("sha256", b"p", b"s", 1))
        assert all(getattr(kcapi_hashlib, n) is before[n] for n in names)
    for name in NAMED:
        assert getattr(kcapi_hashlib, name) is not getattr(hashlib, name)
        assert {getattr(kcapi_hashlib, name): name}[getattr(kcapi_hashlib, name)] == name


def test_constructors_pickle_by_name():
    for name in NAMED:
        ours = getattr(kcapi_hashlib, name)
        assert pickle.loads(pickle.dumps(ours)) is ours
        assert copy.deepcopy(ours) is ours and ours.__name__ == name


@pytest.mark.parametrize("name", ["sha256", "sha512", "md5", "sha3_256", "blake2b"])
def test_hmac_recognises_every_constructor(policy, name):
    for digestmod in (getattr(kcapi_hashlib, name), getattr(hashlib, name)):
        assert_same(lambda: hmac.new(b"key", DATA, digestmod),
                    lambda: std_hmac.new(b"key", DATA, getattr(hashlib, name)),
                    kernel=kernel_serves(name, hmac=True),
                    show=lambda mac: (mac.name, mac.digest_size, mac.hexdigest()))


def test_every_hashlib_attribute_is_reachable():
    for name in dir(hashlib):
        assert hasattr(kcapi_hashlib, name), name
    assert set(kcapi_hashlib.__all__) >= set(hashlib.__all__)
    assert kcapi_hashlib.algorithms_guaranteed == hashlib.algorithms_guaranteed
    builtin = getattr(kcapi_hashlib, "__get_builtin_constructor")
    assert builtin is getattr(hashlib, "__get_builtin_constructor")
    with pytest.raises(AttributeError, match="kcapi_hashlib"):
        kcapi_hashlib.no_such_attribute  # noqa: B018


def test_algorithms_available_is_one_set(policy):
    first = kcapi_hashlib.algorithms_available
    kcapi_hashlib.set_backend("software")
    assert kcapi_hashlib.algorithms_available is first
    assert first == hashlib.algorithms_available
    kcapi_hashlib.set_backend(policy)
    assert kcapi_hashlib.algorithms_available is first


@pytest.mark.parametrize("name", NAMED)
def test_object_types_are_instantiable_as_hashlibs_are(policy, name):
    """hashlib's HASH types cannot be instantiated, its blake2 and SHA-3 types can."""
    try:
        ours = kcapi_hashlib.new(name)
    except kcapi_hashlib.KernelUnavailableError:
        assert policy == "kernel" and not kernel_for(name)
        return
    ref = outcome(lambda: type(hashlib.new(name))())
    got = outcome(lambda: type(ours)())
    if isinstance(ref, Raised):
        assert isinstance(got, Raised) and got.kind is ref.kind and "cannot create" in got.message
    else:
        assert isinstance(got, Returned)
    with pytest.raises(TypeError, match="immutable type"):
        type(ours).value = False


@pytest.mark.parametrize("name", ["sha3_224", "sha3_256", "sha3_384", "sha3_512"])
def test_kernel_sha3_objects_show_the_sponge_parameters(policy, name):
    _sha3 = pytest.importorskip("_sha3")
    try:
        ours = kcapi_hashlib.new(name)
    except kcapi_hashlib.KernelUnavailableError:
        assert policy == "kernel" and not kernel_for(name)
        return
    if kcapi_hashlib.backend_info(ours).backend == "software":
        assert type(ours) is type(hashlib.new(name))  # hashlib's own object, as it is
        return
    ref = getattr(_sha3, name)()  # a kernel object is no OpenSSL HASH: it shows them
    for attr in ("_capacity_bits", "_rate_bits", "_suffix"):
        assert getattr(ours, attr) == getattr(ref, attr)
