"""``hashlib``, served by the Linux kernel crypto API (AF_ALG).

``import kcapi_hashlib as hashlib`` runs code written for ``hashlib``
unchanged.  Each object is served by the kernel when the backend policy and
the kernel allow it, and otherwise *is* a ``hashlib`` object (the software
fallback).  :func:`backend_info` tells, for any object, which served it and why.

Policy: ``KCAPI_BACKEND=auto|kernel|software`` in the environment, or
:func:`set_backend` / :func:`use_backend`.  Under ``kernel``, whatever the
kernel cannot serve raises :class:`KernelUnavailableError` naming the reason.
"""

from __future__ import annotations

import functools
import hashlib as _hashlib
import io
import operator
import os
import stat
import threading
from collections.abc import Callable
from typing import Any

from _kcapi import policy as _policy
from _kcapi import transform as _transform
from _kcapi.errors import KernelUnavailableError, keyring_needs_kernel, no_equivalent
from _kcapi.hash import KernelHash, as_view, kernel_hash_of
from _kcapi.keyring import KeyringKey
from _kcapi.names import BLAKE2B_KERNEL, HASHES, HashSpec, hash_spec, hmac_kernel_name
from _kcapi.policy import get_backend, set_backend, use_backend
from _kcapi.transform import BackendInfo

__all__ = (
    "md5", "sha1", "sha224", "sha256", "sha384", "sha512",
    "blake2b", "blake2s",
    "sha3_224", "sha3_256", "sha3_384", "sha3_512",
    "shake_128", "shake_256",
    "new", "algorithms_guaranteed", "algorithms_available", "pbkdf2_hmac", "file_digest",
    "backend_info", "get_backend", "set_backend", "use_backend",
    "KernelUnavailableError", "BackendInfo", "KeyringKey",
) + (("scrypt",) if hasattr(_hashlib, "scrypt") else ())

algorithms_guaranteed: frozenset[str] = _hashlib.algorithms_guaranteed

_HASH = "hash"
_UNSUPPORTED_DIGESTMOD: type[ValueError] = getattr(
    __import__("_hashlib"), "UnsupportedDigestmodError", ValueError)

# Every constructor (ours and hashlib's) -> the hashlib name it makes; hmac uses this.
CONSTRUCTOR_NAMES: dict[Callable[..., Any], str] = {}


def _software_maker(spec: HashSpec) -> Callable[..., Any]:
    """hashlib's constructor for ``spec``; for a name hashlib lacks, one that explains why."""
    if spec.name in _hashlib.algorithms_guaranteed:
        return getattr(_hashlib, spec.name)  # type: ignore[no-any-return]
    if spec.kernel in BLAKE2B_KERNEL.values():  # blake2b_256 & co: blake2b with that size
        return functools.partial(_hashlib.blake2b, digest_size=spec.digest_size)
    if spec.name in _lower_available():
        return functools.partial(_hashlib.new, spec.name)

    def unavailable(data: Any = _NO_DATA, **kwargs: Any) -> Any:
        found = (_transform._lookup(_HASH, spec.kernel)
                 if spec.kernel and get_backend() != _policy.SOFTWARE else None)
        if isinstance(found, KernelUnavailableError):
            raise found.fresh()
        return _hashlib.new(spec.name, data, **kwargs)  # hashlib's own ValueError

    return unavailable


def _route(spec: HashSpec) -> Any:
    """The current routing decision for ``spec``: a Transform, or a software constructor.

    Raises:
        KernelUnavailableError: under the ``kernel`` policy, when the kernel cannot serve.
    """
    if not spec.kernel:
        if get_backend() == _policy.KERNEL:
            raise no_equivalent(spec.name)
        return _software_maker(spec)
    tfm = _transform.kernel_or_none(_HASH, spec.kernel)
    return _software_maker(spec) if tfm is None else tfm


def _string_alias(data: Any, string: Any) -> Any:
    if string is None:
        return data
    if data is not _NO_DATA:
        raise TypeError("'data' and 'string' are mutually exclusive and support for "
                        "'string' keyword parameter is slated for removal in a future version.")
    return string


_NO_DATA: Any = b""


def _make(spec: HashSpec) -> Callable[..., Any]:
    # The routing decision is cached under the policy generation, so that the
    # software fallback costs one comparison more than calling hashlib itself.
    cached: list[Any] = [-1, None]

    def constructor(data: Any = _NO_DATA, *, usedforsecurity: bool = True, string: Any = None) -> Any:
        if string is not None:
            data = _string_alias(data, string)
        if cached[0] != _policy.generation:
            generation = _policy.generation
            try:
                route = _route(spec)
            except KernelUnavailableError:
                if data is not _NO_DATA:
                    as_view(data)  # a str or non-buffer gets hashlib's TypeError first
                raise
            cached[:] = [generation, route]
            if route is getattr(_hashlib, spec.name, None):
                _step_aside(spec.name, constructor, route, generation)
        route = cached[1]
        if route.__class__ is _transform.Transform:
            return KernelHash(route, spec.name, spec.digest_size, spec.block_size,
                              None if data is _NO_DATA else data)
        if usedforsecurity:
            return route(data)
        return route(data, usedforsecurity=False)

    constructor.__name__ = constructor.__qualname__ = spec.name
    constructor.__doc__ = (f"Return a new {spec.name} hash object, served by the kernel's "
                           f"'{spec.kernel or 'software'}' where the policy allows.")
    CONSTRUCTOR_NAMES[constructor] = spec.name
    if hasattr(_hashlib, spec.name):
        CONSTRUCTOR_NAMES[getattr(_hashlib, spec.name)] = spec.name
    return constructor


# Software serving a name means hashlib's own constructor does: the module's
# attribute then *is* it (so ``kcapi_hashlib.sha256(data)`` costs what
# ``hashlib.sha256(data)`` does), until the policy or a probe changes.
_OURS: dict[str, Callable[..., Any]] = {}
_aside_lock = threading.Lock()


def _step_aside(name: str, ours: Callable[..., Any], theirs: Callable[..., Any],
                generation: int) -> None:
    """Bind the module attribute ``name`` to hashlib's constructor (decided under ``generation``)."""
    with _aside_lock:
        if _policy.generation == generation and globals().get(name) is ours:
            _OURS[name] = ours
            globals()[name] = theirs


def _step_back() -> None:
    """Put our routing constructors back (the decision may differ now)."""
    with _aside_lock:
        for name, ours in _OURS.items():
            globals()[name] = ours
        _OURS.clear()


_policy.on_invalidate(_step_back)

md5 = _make(HASHES["md5"])
sha1 = _make(HASHES["sha1"])
sha224 = _make(HASHES["sha224"])
sha256 = _make(HASHES["sha256"])
sha384 = _make(HASHES["sha384"])
sha512 = _make(HASHES["sha512"])
sha3_224 = _make(HASHES["sha3_224"])
sha3_256 = _make(HASHES["sha3_256"])
sha3_384 = _make(HASHES["sha3_384"])
sha3_512 = _make(HASHES["sha3_512"])
shake_128 = _make(HASHES["shake_128"])
shake_256 = _make(HASHES["shake_256"])
blake2s = _make(HASHES["blake2s"])

_BLAKE2B_SPEC = HASHES["blake2b"]


def blake2b(data: Any = _NO_DATA, *, digest_size: int = 64, key: Any = b"", salt: Any = b"",
            person: Any = b"", fanout: int = 1, depth: int = 1, leaf_size: int = 0,
            node_offset: int = 0, node_depth: int = 0, inner_size: int = 0,
            last_node: bool = False, usedforsecurity: bool = True, string: Any = None) -> Any:
    """Return a new BLAKE2b hash object (``hashlib.blake2b``'s parameters).

    The kernel serves digest sizes 20, 32, 48 and 64 with an optional key;
    salt, person and tree parameters are software only.
    """
    data = _string_alias(data, string)
    kernel_name = None
    in_keyring = isinstance(key, KeyringKey)
    if (type(digest_size) is int
            and (in_keyring or isinstance(key, (bytes, bytearray, memoryview)) and len(key) <= 64)
            and not salt and not person and fanout == 1 and depth == 1
            and leaf_size == 0 and node_offset == 0 and node_depth == 0 and inner_size == 0
            and not last_node):
        kernel_name = BLAKE2B_KERNEL.get(digest_size)
    if kernel_name is None and in_keyring:
        raise keyring_needs_kernel(key, "blake2b", "the kernel's blake2b takes no salt, person "
                                   "or tree parameters, and digest_size 20, 32, 48 or 64 only")
    if kernel_name is None:
        if get_backend() == _policy.KERNEL:
            # Invalid parameters get hashlib's own error first.
            _hashlib.blake2b(digest_size=digest_size, key=key, salt=salt, person=person,
                             fanout=fanout, depth=depth, leaf_size=leaf_size,
                             node_offset=node_offset, node_depth=node_depth,
                             inner_size=inner_size, last_node=last_node)
            if data is not _NO_DATA:
                as_view(data)
            raise no_equivalent("blake2b", "the kernel's blake2b takes no salt, person or "
                                "tree parameters, and digest_size 20, 32, 48 or 64 only")
        tfm = None
    else:
        tfm = _transform.kernel_or_none(
            _HASH, kernel_name, key if in_keyring else (bytes(key) if len(key) else None))
    if tfm is None:
        return _hashlib.blake2b(data, digest_size=digest_size, key=key, salt=salt,
                                person=person, fanout=fanout, depth=depth,
                                leaf_size=leaf_size, node_offset=node_offset,
                                node_depth=node_depth, inner_size=inner_size,
                                last_node=last_node, usedforsecurity=usedforsecurity)
    return KernelHash(tfm, "blake2b", digest_size, _BLAKE2B_SPEC.block_size,
                      None if data is _NO_DATA else data)


for _attr in ("SALT_SIZE", "PERSON_SIZE", "MAX_KEY_SIZE", "MAX_DIGEST_SIZE"):
    setattr(blake2b, _attr, getattr(_hashlib.blake2b, _attr))
    setattr(blake2s, _attr, getattr(_hashlib.blake2s, _attr))
CONSTRUCTOR_NAMES[blake2b] = CONSTRUCTOR_NAMES[_hashlib.blake2b] = "blake2b"

_NAMED: dict[str, Callable[..., Any]] = {
    c.__name__: c for c in (md5, sha1, sha224, sha256, sha384, sha512, sha3_224, sha3_256,
                            sha3_384, sha3_512, shake_128, shake_256, blake2s, blake2b)}


def new(name: str, data: Any = _NO_DATA, **kwargs: Any) -> Any:
    """Return a new hash object for the algorithm ``name``, as ``hashlib.new`` does.

    Besides hashlib's names, it accepts the kernel's names and the hashes only the
    kernel has (``ripemd160``/``rmd160``, ``whirlpool``/``wp512``, ``wp256``,
    ``wp384``, ``streebog256``, ``streebog512``, ``sm3``, ``md4``, ``blake2b_160``
    ... ``blake2b_384``, ``xxhash64``, ``crc32c``).

    Raises:
        ValueError: ``'unsupported hash type NAME'`` for an unknown name.
        KernelUnavailableError: under the ``kernel`` policy, when the kernel cannot serve it.
    """
    if not isinstance(name, str):
        raise TypeError(f"new() argument 'name' must be str, not {type(name).__name__}")
    maker = _NEW_ROUTES.get(name)
    if maker is None:
        spec = hash_spec(name)
        if spec is None:
            if get_backend() == _policy.KERNEL and name.lower() in _lower_available():
                raise no_equivalent(name)
            return _hashlib.new(name, data, **kwargs)
        maker = _NAMED.get(spec.name) or _make_extra(spec)
        _NEW_ROUTES[name] = maker
    return maker(data, **kwargs)


_NEW_ROUTES: dict[str, Callable[..., Any]] = {}
_EXTRA: dict[str, Callable[..., Any]] = {}


def _make_extra(spec: HashSpec) -> Callable[..., Any]:
    maker = _EXTRA.get(spec.name)
    if maker is None:
        maker = _EXTRA[spec.name] = _make(spec)
    return maker


def _lower_available() -> set[str]:
    return {n.lower() for n in _hashlib.algorithms_available}


def _kernel_names() -> set[str]:
    return {spec.name for spec in HASHES.values()
            if spec.kernel and isinstance(_transform._lookup(_HASH, spec.kernel),
                                          _transform.Transform)}


def __getattr__(attr: str) -> Any:
    # algorithms_available depends on the policy and on what the kernel binds,
    # so it is computed when asked for, not at import time.
    if attr == "algorithms_available":
        chosen = get_backend()
        if chosen == _policy.SOFTWARE:
            return set(_hashlib.algorithms_available)
        kernel = _kernel_names()
        if chosen == _policy.KERNEL:
            return kernel
        return set(_hashlib.algorithms_available) | kernel
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


def backend_info(obj: Any) -> BackendInfo:
    """Which implementation serves ``obj`` (any hash or HMAC object) and why.

    Returns:
        A :class:`BackendInfo`: ``backend`` is ``'kernel'`` (with the kernel
        algorithm, driver, priority and implementation kind) or ``'software'``
        (with the Python type that serves it and the reason the kernel did not).
    """
    served = kernel_hash_of(obj)
    if served is not None:
        return served.backend_info
    name = str(getattr(obj, "name", ""))
    is_hmac = name.startswith("hmac-")
    spec = hash_spec(name[5:] if is_hmac else name)
    kernel_name = (hmac_kernel_name(spec) if is_hmac else spec.kernel) if spec else ""
    driver = f"{type(obj).__module__}.{type(obj).__qualname__}"
    if get_backend() == _policy.SOFTWARE:
        reason = _transform.why_not(_HASH, kernel_name)
    elif not kernel_name:
        reason = f"{no_equivalent(name or type(obj).__name__)}"
    else:
        reason = _transform.why_not(_HASH, kernel_name)
        if not reason and spec is not None and spec.name == "blake2b":
            reason = ("the kernel's blake2b takes no salt, person or tree parameters, "
                      "and digest_size 20, 32, 48 or 64 only")
        elif not reason:
            reason = "created as a software object (not through kcapi_hashlib)"
    return BackendInfo("software", kernel_name, driver, 0, "software", reason)


def pbkdf2_hmac(hash_name: str, password: Any, salt: Any, iterations: int,
                dklen: int | None = None) -> bytes:
    """PBKDF2 (RFC 8018) with HMAC over ``hash_name``, as ``hashlib.pbkdf2_hmac``.

    In the kernel every iteration is one HMAC on a reused op socket (two
    system calls), so it is slower than OpenSSL for large iteration counts.
    """
    from . import hmac as _hmac_module

    password_view = _bytes_like(password)
    salt_view = _bytes_like(salt)
    iterations = operator.index(iterations)
    if iterations < 1:
        raise ValueError("iteration value must be greater than 0.")
    spec = hash_spec(hash_name) if isinstance(hash_name, str) else None
    if dklen is not None:
        dklen = operator.index(dklen)
        if dklen < 1:
            raise ValueError("key length must be greater than 0.")
    tfm = None
    if spec is not None and spec.kernel:
        tfm = _hmac_module.hmac_transform(spec, bytes(password_view))
    elif get_backend() == _policy.KERNEL:
        if spec is None and str(hash_name).lower() not in _lower_available():
            raise _UNSUPPORTED_DIGESTMOD(f"unsupported hash type {hash_name}")
        raise no_equivalent(f"pbkdf2_hmac({hash_name})")
    if tfm is None:
        return _hashlib.pbkdf2_hmac(hash_name, password, salt, iterations, dklen)
    assert spec is not None
    return _hmac_module.pbkdf2(tfm, spec.digest_size, bytes(salt_view), iterations,
                               dklen or spec.digest_size)


def _bytes_like(value: Any) -> memoryview:
    try:
        return memoryview(value)
    except TypeError:
        raise TypeError(f"a bytes-like object is required, not '{type(value).__name__}'") from None


if hasattr(_hashlib, "scrypt"):
    def scrypt(password: Any, *, salt: Any, n: int, r: int, p: int, maxmem: int = 0,
               dklen: int = 64) -> bytes:
        """``hashlib.scrypt``: software only (the kernel has no scrypt)."""
        if get_backend() == _policy.KERNEL:
            raise no_equivalent("scrypt")
        return _hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=dklen)


def file_digest(fileobj: Any, digest: str | Callable[[], Any], /, *,
                _bufsize: int = 2**18, _progress: Callable[[int], object] | None = None) -> Any:
    """Hash the contents of a binary file object, as ``hashlib.file_digest``.

    A regular file is moved file -> pipe -> kernel with ``splice(2)``, without
    passing through user space; other file objects are read in chunks.  The
    file is read from its current position to its end and left there.
    ``_progress`` (private, like ``_bufsize``) is called with each chunk's size.
    """
    digestobj = new(digest) if isinstance(digest, str) else digest()
    if hasattr(fileobj, "getbuffer"):
        digestobj.update(fileobj.getbuffer())
        return digestobj
    if not (hasattr(fileobj, "readinto") and hasattr(fileobj, "readable")
            and fileobj.readable()):
        raise ValueError(f"'{fileobj!r}' is not a file-like object in binary reading mode.")
    served = kernel_hash_of(digestobj)
    if served is not None and _splice_whole_file(fileobj, served, _progress):
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


def _splice_whole_file(fileobj: Any, digestobj: KernelHash,
                       progress: Callable[[int], object] | None) -> bool:
    """Splice a regular file into ``digestobj``; False if it is not one or cannot be spliced."""
    try:
        fd = fileobj.fileno()
        if not stat.S_ISREG(os.fstat(fd).st_mode) or not fileobj.seekable():
            return False
        start = fileobj.tell()
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        return False
    try:
        end, complete = digestobj._splice_file(fd, start, progress)
    except OSError:
        if digestobj._failed:
            raise
        return False  # nothing moved (e.g. a file system without splice): read it instead
    fileobj.seek(end)
    return complete


# Keep the name visible to type checkers and to ``from kcapi_hashlib import *``.
algorithms_available: set[str]
del _attr
