"""Differential tests: kcapi_hashlib.hmac against the running interpreter's hmac, at the edges.

Every call is made twice on the same inputs, once through kcapi_hashlib.hmac and
once through the standard library, under each policy; results, exception types,
messages and warnings must agree.  A kcapi_hashlib constructor given as digestmod is
compared with hashlib's constructor of the same name (what the user's code meant
before it swapped ``import hashlib``).  Under the ``kernel`` policy the one allowed
difference is a KernelUnavailableError for arguments the standard library accepts;
``test_kernel_serves_what_it_has`` checks the kernel does serve what it binds.
"""

from __future__ import annotations

import array
import copy
import functools
import hashlib
import importlib
import hmac as std_hmac
import pickle
import types
import warnings
from typing import Any

import pytest

import kcapi_hashlib
from kcapi_hashlib import KernelUnavailableError, hmac
from tests.support import optional_kernel_alg, require_kernel_alg

POLICIES = ["auto", "kernel", "software"]


class SmallBlock:
    """A hash object whose block_size the standard library finds too small (it warns)."""

    def __init__(self, data=b""):
        self._h = hashlib.sha256(data)
        self.digest_size = 32
        self.block_size = 8
        self.name = "smallblock"

    def update(self, data):
        self._h.update(data)

    def copy(self):
        other = SmallBlock()
        other._h = self._h.copy()
        return other

    def digest(self):
        return self._h.digest()

    def hexdigest(self):
        return self._h.hexdigest()


def _pep247(name, maker=None):
    module = types.ModuleType(name)
    if maker is not None:
        module.new = maker
    return module


def _digestmods():
    """(id, ours, the standard library's) for every digestmod form, good and bad."""
    rows = [
        ("0", 0, 0), ("None", None, None), ("empty-str", "", ""), ("empty-bytes", b"", b""),
        ("empty-list", [], []), ("bytes-name", b"sha256", b"sha256"), ("nope", "nope", "nope"),
        ("int", 5, 5), ("float", 2.5, 2.5), ("object", object(), None), ("list", [1], [1]),
        ("module-without-new", _pep247("m"), None),
        ("returns-int", lambda d=b"": 42, None), ("returns-none", lambda d=b"": None, None),
        ("takes-no-args", lambda: hashlib.sha256(), None),
        ("hashlib-module", hashlib, hashlib),
        ("small-block", SmallBlock, SmallBlock),
        ("pep247", _pep247("sha", hashlib.sha256), None),
        ("blake2b-partial", functools.partial(hashlib.blake2b, digest_size=32), None),
        ("shake_128", "shake_128", "shake_128"), ("sha512_256", "sha512_256", "sha512_256"),
        ("md5-sha1", "md5-sha1", "md5-sha1"),
    ]
    for name in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha3_224",
                 "sha3_256", "sha3_384", "sha3_512", "blake2b", "blake2s"):
        rows.append((name, name, name))
        rows.append((f"hashlib.{name}", getattr(hashlib, name), getattr(hashlib, name)))
        rows.append((f"kcapi_hashlib.{name}", getattr(kcapi_hashlib, name), getattr(hashlib, name)))
    for spelling in ("SHA256", "sha-256", "SHA2-256", "ssl3-md5", "blake2b512", "SHA3-256",
                     "Sha1"):
        rows.append((spelling, spelling, spelling))
    for module, attr in BUILTIN_CONSTRUCTORS:
        rows.append((f"{module}.{attr}", getattr(importlib.import_module(module), attr), None))
    # Same object on both sides where it is not one of ours.
    return [(i, o, o if r is None and o is not None else r) for i, o, r in rows]


def _builtin_constructors():
    """CPython's own hash modules' constructors present on this interpreter."""
    found = []
    for module, attrs in [("_md5", ["md5", "MD5Type"]), ("_sha1", ["sha1"]),
                          ("_sha256", ["sha256", "sha224", "SHA256Type"]), ("_sha512", ["sha512"]),
                          ("_sha2", ["sha256", "sha384", "SHA256Type"]),
                          ("_sha3", ["sha3_256", "shake_128"]), ("_blake2", ["blake2b", "blake2s"]),
                          ("_hashlib", ["openssl_sha256", "openssl_sha512_256", "openssl_md5"])]:
        try:
            imported = importlib.import_module(module)
        except ImportError:
            continue
        found += [(module, attr) for attr in attrs if hasattr(imported, attr)]
    return found


BUILTIN_CONSTRUCTORS = _builtin_constructors()
DIGESTMODS = _digestmods()
DIGESTMOD_IDS = [row[0] for row in DIGESTMODS]

KEYS = {
    "bytes": b"key", "bytearray": bytearray(b"key"), "empty": b"", "long": b"k" * 300,
    "memoryview": memoryview(b"key"), "long-memoryview": memoryview(b"k" * 300),
    "array-B": array.array("B", b"key"), "array-I": array.array("I", [1, 2]),
    "str": "key", "None": None, "int": 3, "bytes-subclass": type("B", (bytes,), {})(b"key"),
}

MSGS = {
    "bytes": b"message", "None": None, "empty": b"", "bytearray": bytearray(b"msg"),
    "memoryview": memoryview(b"message"), "2d": memoryview(bytes(8)).cast("B", (2, 4)),
    "strided": memoryview(bytes(8))[::2], "array-I": array.array("I", [1, 2]),
    "big": b"m" * 40000, "str": "message", "int": 5, "list": [1],
}


def outcome(call):
    """('ok', value, warnings) or (exception type, message, warnings) of ``call()``."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            value = call()
        except Exception as exc:  # noqa: BLE001 - the type is what is compared
            result = (type(exc), str(exc))
        else:
            result = ("ok", value)
    return (*result, [(w.category, str(w.message)) for w in seen])


def state(mac):
    """What an HMAC object shows: results, attributes, a copy and a continued update."""
    twin = mac.copy()
    twin.update(b"+more")
    return (mac.digest(), mac.hexdigest(), mac.name, mac.digest_size, mac.block_size,
            twin.digest(), type(twin).__name__)


def assert_same(ours, ref, policy, ref_made=None):
    """Ours agrees with the reference; under ``kernel`` it may refuse what the reference accepts.

    ``ref_made``: the outcome of the reference's constructor alone, when ``ref`` also
    covers using the object (a refusal is right where the constructor succeeded).
    """
    accepted = (ref_made or ref)[0] == "ok"
    if policy == "kernel" and accepted and ours[0] is KernelUnavailableError:
        assert ours[2] == (ref_made or ref)[2]
    else:
        assert ours == ref


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("ours_dm,ref_dm", [r[1:] for r in DIGESTMODS], ids=DIGESTMOD_IDS)
def test_new_digestmod_forms(policy, ours_dm, ref_dm):
    kcapi_hashlib.set_backend(policy)
    for make in (hmac.new, hmac.HMAC):
        assert_same(outcome(lambda: state(make(b"key", b"msg", ours_dm))),
                    outcome(lambda: state(std_hmac.new(b"key", b"msg", ref_dm))), policy,
                    outcome(lambda: std_hmac.new(b"key", b"msg", ref_dm)))
        assert_same(outcome(lambda: state(make(b"k" * 300, digestmod=ours_dm))),
                    outcome(lambda: state(std_hmac.new(b"k" * 300, None, digestmod=ref_dm))),
                    policy, outcome(lambda: std_hmac.new(b"k" * 300, None, digestmod=ref_dm)))


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("ours_dm,ref_dm", [r[1:] for r in DIGESTMODS], ids=DIGESTMOD_IDS)
def test_digest_digestmod_forms(policy, ours_dm, ref_dm):
    kcapi_hashlib.set_backend(policy)
    for key in (b"key", memoryview(b"key"), b"k" * 300):
        assert_same(outcome(lambda: hmac.digest(key, b"msg", ours_dm)),
                    outcome(lambda: std_hmac.digest(key, b"msg", ref_dm)), policy)


DIGEST_NAMES = ["sha256", "sha3_256", "blake2b", "blake2s"]
CONSTRUCTORS = [(getattr(kcapi_hashlib, n), getattr(hashlib, n)) for n in ("sha256", "blake2b")]


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("key", KEYS.values(), ids=KEYS.keys())
@pytest.mark.parametrize("msg", MSGS.values(), ids=MSGS.keys())
def test_argument_types(policy, key, msg):
    kcapi_hashlib.set_backend(policy)
    for ours_dm, ref_dm in [(n, n) for n in DIGEST_NAMES] + CONSTRUCTORS:
        assert_same(outcome(lambda: state(hmac.new(key, msg, ours_dm))),
                    outcome(lambda: state(std_hmac.new(key, msg, ref_dm))), policy)
        assert_same(outcome(lambda: hmac.digest(key, msg, ours_dm)),
                    outcome(lambda: std_hmac.digest(key, msg, ref_dm)), policy)


def _ours_and_reference(policy: str, name: str) -> tuple[Any, Any] | None:
    """``hmac.new(b"key", b"m", name)`` of ours under ``policy`` and of the standard hmac;
    None where the kernel cannot serve ``name`` (only allowed under the ``kernel`` policy)."""
    kcapi_hashlib.set_backend(policy)
    try:
        mac = hmac.new(b"key", b"m", name)
    except KernelUnavailableError:
        assert policy == "kernel"
        return None
    return mac, std_hmac.new(b"key", b"m", name)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", DIGEST_NAMES + ["sha1", "md5"])
def test_update_argument_checks(policy, name):
    pair = _ours_and_reference(policy, name)
    if pair is None:
        return
    mac, ref = pair
    for msg in MSGS.values():
        assert outcome(lambda: mac.update(msg)) == outcome(lambda: ref.update(msg))
        assert mac.digest() == ref.digest()
    for args, kwargs in [((), {}), ((b"a", b"b"), {}), ((), {"msg": b"a"}), ((), {"data": b"a"})]:
        assert outcome(lambda: mac.update(*args, **kwargs))[:2] == \
            outcome(lambda: ref.update(*args, **kwargs))[:2]
    assert mac.digest() == ref.digest()


@pytest.mark.parametrize("policy", POLICIES)
def test_keyword_names_and_arity(policy):
    kcapi_hashlib.set_backend(policy)
    calls = [
        lambda m: m.digest(key=b"k", msg=b"m", digest="sha256"),
        lambda m: m.digest(b"k", msg=b"m", digest="sha256"),
        lambda m: m.digest(key=b"k", msg=b"m", digestmod="sha256"),
        lambda m: m.digest(b"k", b"m"),
        lambda m: m.digest(b"k", b"m", "sha256", None),
        lambda m: m.new(key=b"k", msg=b"m", digestmod="sha256").digest(),
        lambda m: m.new(b"k", digestmod="sha256").digest(),
        lambda m: m.new(b"k", b"m", digest="sha256"),
        lambda m: m.new(b"k", b"m", "sha256", 1),
        lambda m: m.new(),
        lambda m: m.new(b"k"),
        lambda m: m.HMAC(b"k", msg=b"m", digestmod="sha1").digest(),
        lambda m: m.HMAC(),
        lambda m: m.HMAC(b"k", b"m", "sha1", 1),
        lambda m: m.HMAC(key=b"k", digest="sha1"),
        lambda m: m.compare_digest(b"a", b"a"),
        lambda m: m.compare_digest("a", b"a"),
        lambda m: m.compare_digest("\u00e9", "\u00e9"),
    ]
    for call in calls:
        assert_same(outcome(lambda: call(hmac)), outcome(lambda: call(std_hmac)), policy)


def every_object_is_an_instance_of_our_class(policy):
    kcapi_hashlib.set_backend(policy)
    made = []
    for ours_dm, _ in [r[1:] for r in DIGESTMODS]:
        for make in (lambda: hmac.new(b"k", b"m", ours_dm), lambda: hmac.HMAC(b"k", None, ours_dm)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    made.append(make())
                except Exception:  # noqa: BLE001 - refusals are checked elsewhere
                    pass
    assert made
    for mac in made + [m.copy() for m in made]:
        assert type(mac) is hmac.HMAC
        assert isinstance(mac, hmac.HMAC) and isinstance(mac, std_hmac.HMAC)
        if policy == "kernel":  # never a software object
            assert kcapi_hashlib.backend_info(mac).backend == "kernel"


@pytest.mark.parametrize("policy", ["auto", "software"])
def test_every_object_is_an_instance_of_our_class(policy):
    every_object_is_an_instance_of_our_class(policy)


@pytest.mark.kernel
def test_every_kernel_object_is_an_instance_of_our_class():
    require_kernel_alg("hash", "hmac(sha256)")
    every_object_is_an_instance_of_our_class("kernel")


@pytest.mark.parametrize("policy", POLICIES)
def test_subclassing_as_with_the_standard_class(policy):
    kcapi_hashlib.set_backend(policy)

    def define(base):
        class Sha256Mac(base):
            __slots__ = ("seen",)

            def __init__(self, key, msg=None):
                self.seen = 0
                base.__init__(self, key, msg, digestmod="sha256")

            def update(self, msg):
                self.seen += 1
                super().update(msg)

        return Sha256Mac

    try:
        ours = define(hmac.HMAC)(b"key", b"first")
    except KernelUnavailableError:
        assert policy == "kernel"
        return
    ref = define(std_hmac.HMAC)(b"key", b"first")
    for mac in (ours, ref):
        mac.update(b"second")
    assert (ours.seen, ours.digest(), ours.name) == (ref.seen, ref.digest(), ref.name)
    twin = ours.copy()
    assert type(twin) is type(ours) and twin.digest() == ours.digest()
    # The stdlib's copy() skips __init__ and does not copy block_size: neither does ours.
    assert outcome(lambda: twin.block_size)[0] is outcome(lambda: ref.copy().block_size)[0]
    # Re-initialising an object (HMAC.__init__ semantics) starts it again.
    hmac.HMAC.__init__(ours, b"other", b"x", "sha1")
    std_hmac.HMAC.__init__(ref, b"other", b"x", "sha1")
    assert (ours.digest(), ours.name, ours.digest_size) == (ref.digest(), ref.name, ref.digest_size)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", ["sha256", "blake2s"])
def test_object_attributes_behave_as_the_standard_ones(policy, name):
    pair = _ours_and_reference(policy, name)
    if pair is None:
        return
    mac, ref = pair
    probes = [
        lambda h: h.blocksize,
        lambda h: (h.digest_size, h.block_size, h.name),
        lambda h: h.copy().name,
        lambda h: h.copy().digest_size,
        lambda h: h.copy().block_size,
        lambda h: setattr(h, "name", "x"),
        lambda h: setattr(h, "extra", 1),
        lambda h: type(h._inner).__name__,
        lambda h: h._outer is None,
        lambda h: copy.copy(h).digest(),
        lambda h: copy.deepcopy(h).digest(),
        lambda h: pickle.dumps(h),
    ]
    for probe in probes:
        got, expected = outcome(lambda: probe(mac)), outcome(lambda: probe(ref))
        assert got[0] == expected[0] and (got[0] == "ok") == (expected[0] == "ok"), (got, expected)
        if got[0] == "ok":
            assert got == expected
        elif got[0] is AttributeError:
            # Python 3.13 names the class with its module: ours is kcapi_hashlib.hmac.HMAC.
            assert got[1].replace("kcapi_hashlib.hmac.HMAC", "hmac.HMAC") == expected[1]
    mac.digest_size = ref.digest_size = 7  # plain writable slots in the standard class
    assert mac.digest_size == ref.digest_size == 7


def test_module_attributes_are_the_standard_librarys():
    assert hmac.trans_5C is std_hmac.trans_5C and hmac.trans_36 is std_hmac.trans_36
    assert hmac.digest_size is std_hmac.digest_size is None
    assert hmac.compare_digest is std_hmac.compare_digest
    assert hmac.HMAC.blocksize == std_hmac.HMAC.blocksize
    assert issubclass(hmac.HMAC, std_hmac.HMAC) and hmac.HMAC.__name__ == "HMAC"
    stdlib_public = {n for n in vars(std_hmac) if not n.startswith("_")} - {"warnings"}
    ours_star, ref_star = {}, {}
    exec("from kcapi_hashlib.hmac import *", ours_star)
    exec("from hmac import *", ref_star)
    assert set(ours_star) - {"__builtins__"} == set(ref_star) - {"__builtins__"} == stdlib_public


def test_the_standard_class_delegates_to_its_hmac_slot():
    """The protocol kernel-served objects rely on, checked on the running interpreter."""
    calls = []

    class Recorder:
        name, digest_size, block_size = "hmac-rec", 3, 5

        def update(self, msg):
            calls.append(("update", msg))

        def digest(self):
            return b"abc"

        def hexdigest(self):
            return "616263"

        def copy(self):
            calls.append(("copy",))
            return Recorder()

    mac = std_hmac.HMAC.__new__(std_hmac.HMAC)
    mac._hmac = Recorder()
    mac.digest_size = 3
    mac.update(b"x")
    assert (mac.name, mac.digest(), mac.hexdigest()) == ("hmac-rec", b"abc", "616263")
    twin = mac.copy()
    assert isinstance(twin._hmac, Recorder) and calls == [("update", b"x"), ("copy",)]


@pytest.mark.parametrize("policy", ["auto", "software"])
def test_software_objects_are_the_standard_librarys_own(policy):
    """Where software serves, the object's state is what the standard class made."""
    kcapi_hashlib.set_backend(policy)
    for ours_dm, ref_dm in [(hashlib.blake2b, hashlib.blake2b), (kcapi_hashlib.sha256, "sha256"),
                            (functools.partial(hashlib.blake2b, digest_size=20), None)]:
        mac = hmac.new(b"k", b"m", ours_dm)
        if kcapi_hashlib.backend_info(mac).backend == "kernel":
            continue
        ref = std_hmac.new(b"k", b"m", ref_dm or ours_dm)
        assert type(mac._hmac) is type(ref._hmac)
        assert type(getattr(mac, "_inner", None)) is type(getattr(ref, "_inner", None))


@pytest.mark.kernel
@pytest.mark.parametrize("name", ["md5", "sha1", "sha256", "sha512", "sha3_256", "blake2b"])
@pytest.mark.parametrize("policy", ["auto", "kernel"])
def test_kernel_serves_what_it_has(name, policy):
    from _kcapi.names import HASHES, hmac_kernel_name

    optional_kernel_alg("hash", hmac_kernel_name(HASHES[name]))  # Linux 7.x: no hmac(blake2b-*)
    kcapi_hashlib.set_backend(policy)
    spellings = [(name, name), (name.upper(), name.upper()),
                 (getattr(kcapi_hashlib, name), getattr(hashlib, name)),
                 (getattr(hashlib, name), getattr(hashlib, name))]
    spellings += [(getattr(importlib.import_module(module), attr),) * 2
                  for module, attr in BUILTIN_CONSTRUCTORS if attr in (name, f"openssl_{name}")]
    for ours_dm, ref_dm in spellings:
        refused = outcome(lambda: std_hmac.new(b"key", b"", ref_dm))
        if refused[0] != "ok":
            # A spelling this interpreter's hmac refuses ('SHA3_256' is no OpenSSL
            # name): refused the same way, never served.
            assert outcome(lambda: hmac.new(b"key", b"", ours_dm))[:2] == refused[:2]
            continue
        for key in (b"key", bytearray(b"k" * 300), b""):
            mac = hmac.new(key, b"m" * 20000, ours_dm)
            assert kcapi_hashlib.backend_info(mac).backend == "kernel"
            assert type(mac) is hmac.HMAC
            assert state(mac) == state(std_hmac.new(key, b"m" * 20000, ref_dm))
        # Where the standard library takes a key buffer of any type (C code) or only
        # bytes (its Python code, for constructors OpenSSL does not provide): the same.
        for key in (b"key", memoryview(b"key"), array.array("B", b"k" * 300)):
            assert outcome(lambda: hmac.digest(key, b"msg", ours_dm)) == \
                outcome(lambda: std_hmac.digest(key, b"msg", ref_dm))


@pytest.mark.kernel
def test_openssl_spellings_reach_the_kernel():
    require_kernel_alg("hash", "hmac(sha256)")
    kcapi_hashlib.set_backend("kernel")
    for spelling in ("sha-256", "SHA2-256"):
        mac = hmac.new(b"k", b"m", spelling)
        assert kcapi_hashlib.backend_info(mac).algorithm == "hmac(sha256)"
        assert state(mac) == state(std_hmac.new(b"k", b"m", spelling))


def test_kernel_policy_refuses_with_a_reason():
    kcapi_hashlib.set_backend("kernel")
    for digestmod in ("blake2s", hashlib.blake2s, functools.partial(hashlib.blake2b, digest_size=20),
                      "sha512_256"):
        with pytest.raises(KernelUnavailableError) as caught:
            hmac.new(b"k", b"m", digestmod)
        assert caught.value.reason == "no-kernel-equivalent"
        with pytest.raises(KernelUnavailableError):
            hmac.digest(b"k", b"m", digestmod)
