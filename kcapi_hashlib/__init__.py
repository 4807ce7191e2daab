"""``hashlib``, served by the Linux kernel crypto API (AF_ALG or /dev/crypto).

``import kcapi_hashlib as hashlib`` runs code written for ``hashlib``
unchanged.  Each object is served by the kernel when the backend policy and
the kernel allow it, and otherwise *is* a ``hashlib`` object (the software
fallback; ``blake2b``/``blake2s`` objects are our classes' holding hashlib's,
see :mod:`._blake2`).  :func:`backend_info` tells, for any object, which
served it and why.

Policy: ``KCAPI_BACKEND=auto|kernel|software`` in the environment, or
:func:`set_backend` / :func:`use_backend`.  The kernel interface (AF_ALG sockets or
``/dev/crypto``): ``KCAPI_INTERFACE=auto|af_alg|cryptodev``, or :func:`set_interface` /
:func:`use_interface`.  Under ``kernel``, whatever the
kernel cannot serve raises :class:`KernelUnavailableError` naming the reason.

Invariants: every public attribute is one object for the life of the process
(the constructors are :class:`._routes.Router` objects that follow the
policy); every call takes what the running interpreter's ``hashlib`` takes,
and a call hashlib refuses gets hashlib's own error (hashlib raises it); any
other attribute of ``hashlib`` is hashlib's (module ``__getattr__``).
"""

from __future__ import annotations

import functools
import hashlib as _hashlib
import operator
import sys
import types
from collections.abc import Callable
from typing import Any

from _kcapi import routing as _routing
from _kcapi.errors import KernelUnavailableError, no_equivalent
from _kcapi.hash import kernel_hash_of, pbkdf2 as _kernel_pbkdf2
from _kcapi.keyring import KeyringKey
from _kcapi.names import (BLAKE2B_KERNEL, HASHES, HashSpec, hash_spec, hashlib_name,
                          hmac_kernel_name)
from _kcapi.policy import (get_backend, get_interface, set_backend, set_interface,
                           use_backend, use_interface)
from _kcapi.backend_info import BackendInfo

from . import _files, _routes
from ._blake2 import _KERNEL_LIMITS, _Blake2, blake2b, blake2s

try:
    import _hashlib as _openssl  # what hashlib.new calls for OpenSSL's names
except ImportError:  # a Python built without OpenSSL
    _openssl = None

__all__ = (
    "md5", "sha1", "sha224", "sha256", "sha384", "sha512",
    "blake2b", "blake2s",
    "sha3_224", "sha3_256", "sha3_384", "sha3_512",
    "shake_128", "shake_256",
    "new", "algorithms_guaranteed", "algorithms_available", "pbkdf2_hmac", "file_digest",
    "backend_info", "get_backend", "set_backend", "use_backend",
    "get_interface", "set_interface", "use_interface",
    "KernelUnavailableError", "BackendInfo", "KeyringKey",
) + (("scrypt",) if hasattr(_hashlib, "scrypt") else ())

algorithms_guaranteed: frozenset[str] = _hashlib.algorithms_guaranteed

#: Every constructor (ours and hashlib's) -> the hashlib name it makes; hmac uses this.
CONSTRUCTOR_NAMES: dict[Callable[..., Any], str] = {}


# -- the named constructors ----------------------------------------------------

def _named(name: str) -> Any:
    """The router ``kcapi_hashlib.<name>``: hashlib's ``<name>``, served by the kernel."""
    spec = HASHES[name]
    theirs = getattr(_hashlib, name)

    def decide() -> Callable[..., Any]:
        return _routes.kernel_route(spec, name, theirs, theirs, no_equivalent(name))

    made = _routes.router(name, decide, f"Return a new {name} hash object, as hashlib.{name}, "
                          f"served by the kernel's '{spec.kernel or 'software'}' where the "
                          "policy allows.")
    CONSTRUCTOR_NAMES[made] = CONSTRUCTOR_NAMES[theirs] = name
    return made


md5 = _named("md5")
sha1 = _named("sha1")
sha224 = _named("sha224")
sha256 = _named("sha256")
sha384 = _named("sha384")
sha512 = _named("sha512")
sha3_224 = _named("sha3_224")
sha3_256 = _named("sha3_256")
sha3_384 = _named("sha3_384")
sha3_512 = _named("sha3_512")
shake_128 = _named("shake_128")
shake_256 = _named("shake_256")
for _cls in (blake2b, blake2s):
    CONSTRUCTOR_NAMES[_cls] = CONSTRUCTOR_NAMES[getattr(_hashlib, _cls.__name__)] = _cls.__name__


# -- new() -----------------------------------------------------------------------

#: Spellings new() has routes for (bounded: spellings are user input).
_new_routes: dict[str, Callable[..., Any]] = {}
_NEW_ROUTES_KEPT = 512


def _signature_of_new(name: Any, data: Any = _routes.MISSING, **kwargs: Any) -> Any:
    return name, data, kwargs


def new(*args: Any, **kwargs: Any) -> Any:
    """Return a new hash object for the algorithm ``name``, as ``hashlib.new(name, data=b'', **kwargs)``.

    Every spelling hashlib accepts means what it means to hashlib (``'SHA256'``,
    ``'sha-256'``, ``'SHA2-256'``, ``'ssl3-md5'``, OIDs ...): the kernel serves
    it where it has that hash, and the object's ``name`` is hashlib's.  Also
    accepted: the kernel's names and the hashes only the kernel has
    (``ripemd160``/``rmd160``, ``whirlpool``/``wp512``, ``wp256``, ``wp384``,
    ``streebog256``, ``streebog512``, ``sm3``, ``md4``, ``blake2b_160`` ...
    ``blake2b_384``, ``xxhash64``, ``crc32c``).

    Raises:
        ValueError: hashlib's error for a name neither hashlib nor the kernel knows.
        KernelUnavailableError: under the ``kernel`` policy, when the kernel cannot serve it.
    """
    if not kwargs and 0 < len(args) < 3:
        try:
            route = _new_routes.get(args[0])
        except TypeError:  # an unhashable name
            route = None
        if route is not None:
            return route(args[1]) if len(args) == 2 else route()
    return _new(args, kwargs)


def _new(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """new() beyond its fast path: the first use of a spelling, keywords, odd calls."""
    try:
        name, data, options = _signature_of_new(*args, **kwargs)
    except TypeError:
        return _hashlib.new(*args, **kwargs)  # hashlib's error for a call it refuses
    if not isinstance(name, str):
        return _hashlib.new(*args, **kwargs)  # hashlib's TypeError
    route = _new_routes.get(name)
    if route is None:
        route = _new_route(name)
        if route is None:
            return _hashlib.new(*args, **kwargs)  # hashlib's ValueError: nobody knows it
        if len(_new_routes) >= _NEW_ROUTES_KEPT:
            _new_routes.clear()
        _new_routes[name] = route
    # hashlib.new passes the data on by position: b"" when none was given.
    return route(b"" if data is _routes.MISSING else data, **options)


def _new_route(name: str) -> Callable[..., Any] | None:
    """What ``new(name, ...)`` calls; ``None`` for a name neither hashlib nor the kernel knows."""
    if name in ("blake2b", "blake2s"):  # hashlib.new gives its blake2 types these exactly
        return blake2b if name == "blake2b" else blake2s
    spec = hash_spec(name)
    theirs = hashlib_name(name)
    if spec is None and theirs is None:
        return None
    software: Callable[..., Any]
    if theirs is not None:
        software = check = functools.partial(_hashlib.new, name)
        if _openssl is not None and _openssl_takes(name):
            software = functools.partial(_openssl.new, name)  # what hashlib.new calls
    else:
        assert spec is not None
        check = functools.partial(_hashlib.new, "sha256")  # same arguments as any other name
        software = _software_only_kernel_name(name, spec, check)
    served = spec if spec is not None else HashSpec(theirs or name, "", 0, 0)

    def decide() -> Callable[..., Any]:
        return _routes.kernel_route(served, theirs or served.name, check, software,
                                    no_equivalent(name))

    return _routes.router(name, decide, f"new({name!r}, ...)")


def _openssl_takes(name: str) -> bool:
    """Whether ``hashlib.new(name, ...)`` is OpenSSL's ``new(name, ...)`` (no fallback of its own)."""
    try:
        _openssl.new(name)
    except (ValueError, TypeError):
        return False
    return True


def _software_only_kernel_name(name: str, spec: HashSpec,
                               check: Callable[..., Any]) -> Callable[..., Any]:
    """What serves ``name``, which only the kernel knows, when the kernel does not."""
    if spec.kernel in BLAKE2B_KERNEL.values():  # blake2b_256 & co: blake2b with that size
        return functools.partial(blake2b, digest_size=spec.digest_size)

    def unavailable(*args: Any, **kwargs: Any) -> Any:
        _routes.checked_data(check, args, kwargs)
        if spec.kernel:
            _routing.check_available(_routes.HASH, spec.kernel)
        return _hashlib.new(name)  # hashlib's own ValueError

    return unavailable


# -- module attributes -----------------------------------------------------------

_available: set[str] = set()


class _Module(types.ModuleType):
    """This module's type: ``algorithms_available`` is one set, kept up to date on access."""

    @property
    def algorithms_available(self) -> set[str]:
        """What ``new()`` serves under the policy in force (one set object, updated in place)."""
        now = _routing.available(_routes.HASH, _hashlib.algorithms_available,
                                 ((spec.name, spec.kernel) for spec in HASHES.values()))
        if now != _available:
            _available.intersection_update(now)
            _available.update(now)
        return _available


def __getattr__(attr: str) -> Any:
    # Anything else hashlib has (private names test suites reach, such as
    # __get_builtin_constructor) is hashlib's.
    try:
        return getattr(_hashlib, attr)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {attr!r}") from None


def backend_info(obj: Any) -> BackendInfo:
    """Which implementation serves ``obj`` (any hash or HMAC object) and why.

    Returns:
        A :class:`BackendInfo`: ``backend`` is ``'kernel'`` (with the kernel
        algorithm, driver, priority and implementation kind) or ``'software'``
        (with the Python type that serves it and the reason the kernel did not).
    """
    if isinstance(obj, _Blake2):
        obj = obj._h
    served = kernel_hash_of(obj)
    if served is not None:
        return served.backend_info
    name = str(getattr(obj, "name", ""))
    is_hmac = name.startswith("hmac-")
    spec = hash_spec(name[5:] if is_hmac else name)
    blake2b_sized = spec is not None and spec.name == "blake2b" and not is_hmac
    if blake2b_sized:  # hashlib names every size "blake2b": the kernel has one name per size
        kernel_name = BLAKE2B_KERNEL.get(getattr(obj, "digest_size", 0), "")
    else:
        kernel_name = (hmac_kernel_name(spec) if is_hmac else spec.kernel) if spec else ""
    driver = f"{type(obj).__module__}.{type(obj).__qualname__}"
    reason = _routing.why_not(_routes.HASH, kernel_name) if kernel_name else ""
    if reason:
        pass
    elif blake2b_sized:
        reason = _routing.no_kernel_reason("blake2b", _KERNEL_LIMITS)
    elif not kernel_name:
        reason = _routing.no_kernel_reason(name or type(obj).__name__)
    else:
        reason = "created as a software object (not through kcapi_hashlib)"
    return BackendInfo("software", kernel_name, driver, 0, "software", reason)


# -- key derivation --------------------------------------------------------------

_INT_MAX = 2**31 - 1


def _signature_of_pbkdf2_hmac(hash_name: Any, password: Any, salt: Any, iterations: Any,
                              dklen: Any = None) -> tuple[Any, Any, Any, Any, Any]:
    return hash_name, password, salt, iterations, dklen


def pbkdf2_hmac(*args: Any, **kwargs: Any) -> bytes:
    """``hashlib.pbkdf2_hmac(hash_name, password, salt, iterations, dklen=None)`` (RFC 8018).

    In the kernel every iteration is one HMAC on a reused op socket (two
    system calls), so it is slower than OpenSSL for large iteration counts.
    Arguments hashlib refuses are handed to hashlib, which raises its own
    error (type, message and order of the checks are hashlib's).
    """
    from . import hmac as _hmac_module

    if kwargs or len(args) not in (4, 5):
        try:
            hash_name, password, salt, iterations, dklen = _signature_of_pbkdf2_hmac(
                *args, **kwargs)
        except TypeError:
            return _hashlib.pbkdf2_hmac(*args, **kwargs)  # type: ignore[no-any-return]
    else:
        hash_name, password, salt, iterations, dklen = (*args, None)[:5]
    spec = hash_spec(hash_name) if isinstance(hash_name, str) else None
    counts = _pbkdf2_counts(hash_name, password, salt, iterations, dklen)
    if counts is None:
        # hashlib refuses these arguments and says why; for a name only the
        # kernel has, hashlib is asked with one it has, so that the error is
        # about the arguments.
        if spec is not None and hashlib_name(hash_name) is None:
            _hashlib.pbkdf2_hmac("sha256", password, salt, iterations, dklen)
            raise TypeError(f"pbkdf2_hmac(): arguments the kernel cannot take for {hash_name}")
        return _hashlib.pbkdf2_hmac(hash_name, password, salt, iterations, dklen)
    rounds, size = counts
    if spec is None or not spec.kernel:
        refused = _routing.software_refusal(f"pbkdf2_hmac({hash_name})")
        if refused is not None and hashlib_name(hash_name) is not None:
            # hashlib's error where it cannot either (an XOF has no HMAC), else ours.
            _hashlib.pbkdf2_hmac(hash_name, b"", b"", 1, 1)
            raise refused
        return _hashlib.pbkdf2_hmac(*args, **kwargs)  # type: ignore[no-any-return]
    tfm = _hmac_module.hmac_transform(spec, bytes(memoryview(password)))
    if tfm is None:
        return _hashlib.pbkdf2_hmac(*args, **kwargs)  # type: ignore[no-any-return]
    return _kernel_pbkdf2(tfm, spec.digest_size, bytes(memoryview(salt)), rounds,
                          size or spec.digest_size)


def _pbkdf2_counts(hash_name: Any, password: Any, salt: Any, iterations: Any,
                   dklen: Any) -> tuple[int, int | None] | None:
    """``(iterations, dklen)`` as ints when hashlib takes these arguments, else ``None``."""
    if not (isinstance(hash_name, str) and _routes.plain_buffer(password)
            and _routes.plain_buffer(salt)):
        return None
    try:
        rounds = operator.index(iterations)
        size = None if dklen is None else operator.index(dklen)
    except TypeError:
        return None
    if not 1 <= rounds <= _INT_MAX or size is not None and not 1 <= size <= _INT_MAX:
        return None
    return rounds, size


if hasattr(_hashlib, "scrypt"):
    def scrypt(*args: Any, **kwargs: Any) -> bytes:
        """``hashlib.scrypt(password, *, salt, n, r, p, maxmem=0, dklen=64)``: software only
        (the kernel has no scrypt)."""
        refused = _routing.software_refusal("scrypt")
        if refused is not None:
            raise refused
        return _hashlib.scrypt(*args, **kwargs)  # type: ignore[no-any-return]


# -- files -------------------------------------------------------------------------

def file_digest(fileobj: Any, digest: str | Callable[[], Any], /, *,
                _bufsize: int = 2**18, _progress: Callable[[int], object] | None = None) -> Any:
    """Hash the contents of a binary file object, as ``hashlib.file_digest``.

    A file object that reads exactly its descriptor's bytes (``io.FileIO``, or
    ``io.BufferedReader``/``BufferedRandom`` over one) of a regular file is
    moved file -> pipe -> kernel with ``splice(2)``, without passing through
    user space, from its position to its end (and left there); every other
    object is read with ``readinto`` exactly as hashlib reads it.
    ``_progress`` (private, like ``_bufsize``) is called with each chunk's size.
    """
    digestobj = new(digest) if isinstance(digest, str) else digest()
    if hasattr(fileobj, "getbuffer"):
        digestobj.update(fileobj.getbuffer())
        return digestobj
    if not (hasattr(fileobj, "readinto") and hasattr(fileobj, "readable")
            and fileobj.readable()):
        raise ValueError(f"'{fileobj!r}' is not a file-like object in binary reading mode.")
    served = kernel_hash_of(digestobj._h if isinstance(digestobj, _Blake2) else digestobj)
    if served is not None and _files.splice_file(fileobj, served, _progress):
        return digestobj
    buf = bytearray(_bufsize)
    view = memoryview(buf)
    while True:
        size = fileobj.readinto(buf)
        if size == 0:
            break
        digestobj.update(view[:size])
        if _progress is not None:
            _progress(size)
    return digestobj


sys.modules[__name__].__class__ = _Module
# Keep the name visible to type checkers and to ``from kcapi_hashlib import *``.
algorithms_available: set[str]
