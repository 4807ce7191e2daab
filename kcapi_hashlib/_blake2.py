"""``blake2b`` and ``blake2s``: classes, as in hashlib, served by the kernel or by hashlib.

hashlib's ``blake2b``/``blake2s`` are types (``isinstance(h, hashlib.blake2b)``,
``SALT_SIZE`` & co. as class attributes) that cannot be subclassed.  Ours are
classes of their own, and every object of them, whoever serves it, holds its
engine in ``_h``: a :class:`~_kcapi.hash.KernelHash` when the kernel serves,
hashlib's own object otherwise.  ``update``/``digest``/``hexdigest``/``copy``,
``name``, ``digest_size`` and ``block_size`` are the engine's; misuse (a wrong
call, setting an attribute, pickling) is handed to a fresh hashlib object of
the same type, which raises hashlib's own error.

The kernel's blake2b serves digest sizes 20, 32, 48 and 64, keyed (bytes or a
:class:`~_kcapi.keyring.KeyringKey`) or not; salt, person and tree parameters
are served by hashlib (``auto``) or refused (``kernel``).  The kernel has no blake2s.
"""

from __future__ import annotations

import hashlib as _hashlib
import operator
import threading
from collections.abc import Callable
from typing import Any

from _kcapi import policy as _policy
from _kcapi import routing as _routing
from _kcapi.errors import keyring_needs_kernel, no_equivalent
from _kcapi.hash import ImmutableType, KernelHash, read_only
from _kcapi.keyring import KeyringKey
from _kcapi.names import BLAKE2B_KERNEL, HASHES

from ._routes import HASH, MISSING, checked_data

_KERNEL_LIMITS = ("the kernel's blake2b takes no salt, person or tree parameters, "
                  "and digest_size 20, 32, 48 or 64 only")
#: Keywords of a call the kernel serves without asking hashlib to check it first.
_PLAIN_KEYWORDS = frozenset({"digest_size", "key"})
#: Parameters the kernel's blake2b has only at their default values.
_TREE_DEFAULTS = {"fanout": 1, "depth": 1, "leaf_size": 0, "node_offset": 0,
                  "node_depth": 0, "inner_size": 0}
_BLOCK_SIZE = HASHES["blake2b"].block_size


def _sizes(theirs: Any) -> tuple[int, int, int, int]:
    """The size constants of hashlib's class: salt, person, maximum key, maximum digest."""
    return theirs.SALT_SIZE, theirs.PERSON_SIZE, theirs.MAX_KEY_SIZE, theirs.MAX_DIGEST_SIZE


class _Blake2(metaclass=ImmutableType):
    """What blake2b and blake2s objects share: the engine in ``_h``."""

    __slots__ = ("_h",)
    _theirs: Callable[..., Any]  # hashlib's type

    def __init_subclass__(cls, **kwargs: Any) -> None:
        base = cls.__bases__[0]
        if base is not _Blake2:  # hashlib's types cannot be subclassed either
            raise TypeError(f"type '{base.__module__}.{base.__qualname__}' "
                            "is not an acceptable base type")
        super().__init_subclass__(**kwargs)

    name = read_only("name", "_h.name")
    digest_size = read_only("digest_size", "_h.digest_size")
    block_size = read_only("block_size", "_h.block_size")

    def _reference(self) -> Any:
        """A fresh hashlib object of this type, for its errors."""
        return self._theirs()

    def update(self, data: Any = MISSING, /, *args: Any, **kwargs: Any) -> None:
        """Hash the bytes of ``data``."""
        if args or kwargs or data is MISSING:
            self._reference().update(*(() if data is MISSING else (data,)), *args, **kwargs)
        self._h.update(data)

    def digest(self, *args: Any, **kwargs: Any) -> bytes:
        """The digest of the data so far."""
        if args or kwargs:
            self._reference().digest(*args, **kwargs)
        return self._h.digest()  # type: ignore[no-any-return]

    def hexdigest(self, *args: Any, **kwargs: Any) -> str:
        """:meth:`digest` as hexadecimal digits."""
        if args or kwargs:
            self._reference().hexdigest(*args, **kwargs)
        return self._h.hexdigest()  # type: ignore[no-any-return]

    def copy(self, *args: Any, **kwargs: Any) -> Any:
        """An independent copy, of the same class."""
        if args or kwargs:
            self._reference().copy(*args, **kwargs)
        other = object.__new__(type(self))
        other._h = self._h.copy()
        return other

    def __reduce_ex__(self, protocol: Any) -> Any:
        return self._reference().__reduce_ex__(protocol)  # raises: hash objects do not pickle

    def __repr__(self) -> str:
        kind = type(self)
        served = f" kernel object ({self._h._tfm.name})" if isinstance(self._h, KernelHash) else \
            " object"
        return f"<{kind.__module__}.{kind.__qualname__}{served} at {hex(id(self))}>"


#: Whether the policy in force is ``software`` (``None``: not known since it last changed).
_software_policy: bool | None = None
_policy_lock = threading.Lock()


def _policy_is_software() -> bool:
    global _software_policy
    generation = _policy.generation
    software = _routing.software_only()
    with _policy_lock:
        if _policy.generation == generation:
            _software_policy = software
    return software


def _forget_policy() -> None:
    global _software_policy
    with _policy_lock:
        _software_policy = None


_policy.on_invalidate(_forget_policy)


def _kernel_parameters(kwargs: dict[str, Any]) -> int | None:
    """The digest size when the kernel's blake2b can take these (checked) keywords, else None."""
    for key, value in kwargs.items():
        if key in ("salt", "person"):
            if memoryview(value).nbytes:
                return None
        elif key in _TREE_DEFAULTS:
            if operator.index(value) != _TREE_DEFAULTS[key]:
                return None
        elif key == "last_node":
            if value:
                return None
        elif key not in ("digest_size", "key", "usedforsecurity", "data", "string"):
            return None  # a parameter this code does not know: hashlib serves it
    digest_size = operator.index(kwargs.get("digest_size", 64))
    return digest_size if digest_size in BLAKE2B_KERNEL else None


def _serve_blake2b(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The engine of a blake2b object under the ``auto`` or ``kernel`` policy."""
    key = kwargs.get("key", b"")
    data = args[0] if args else None
    digest_size = kwargs.get("digest_size", 64)
    plain = (len(args) <= 1 and kwargs.keys() <= _PLAIN_KEYWORDS
             and (data is None and not args or data.__class__ is bytes)
             and digest_size.__class__ is int and digest_size in BLAKE2B_KERNEL
             and (key.__class__ is bytes and len(key) <= 64 or isinstance(key, KeyringKey)))
    if not plain:
        data = checked_data(_hashlib.blake2b, args, kwargs, blank=("key",))  # hashlib's errors
        size = _kernel_parameters(kwargs)
        if size is None:
            if isinstance(key, KeyringKey):
                raise keyring_needs_kernel(key, "blake2b", _KERNEL_LIMITS)
            refused = _routing.software_refusal("blake2b", _KERNEL_LIMITS)
            if refused is not None:
                raise refused
            return _hashlib.blake2b(*args, **kwargs)
        digest_size = size
    if isinstance(key, KeyringKey):
        tfm_key: Any = key
    else:
        tfm_key = bytes(memoryview(key)) or None
    tfm = _routing.kernel_or_none(HASH, BLAKE2B_KERNEL[digest_size], tfm_key)
    if tfm is None:
        return _hashlib.blake2b(*args, **kwargs)
    return KernelHash(tfm, "blake2b", digest_size, _BLOCK_SIZE, data)


class blake2b(_Blake2):  # noqa: N801 - hashlib's name
    """BLAKE2b, as ``hashlib.blake2b`` (same parameters, errors and class attributes).

    The kernel serves digest sizes 20, 32, 48 and 64 with or without a key;
    salt, person and tree parameters are software only.
    """

    __slots__ = ()
    __module__ = "kcapi_hashlib"
    _theirs = _hashlib.blake2b
    SALT_SIZE, PERSON_SIZE, MAX_KEY_SIZE, MAX_DIGEST_SIZE = _sizes(_hashlib.blake2b)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        software = _software_policy
        if software is None:
            software = _policy_is_software()
        if software and (not kwargs or not isinstance(kwargs.get("key"), KeyringKey)):
            self._h = _hashlib.blake2b(*args, **kwargs)
        else:
            self._h = _serve_blake2b(args, kwargs)


class blake2s(_Blake2):  # noqa: N801 - hashlib's name
    """BLAKE2s, as ``hashlib.blake2s``: always software (the kernel has no blake2s)."""

    __slots__ = ()
    __module__ = "kcapi_hashlib"
    _theirs = _hashlib.blake2s
    SALT_SIZE, PERSON_SIZE, MAX_KEY_SIZE, MAX_DIGEST_SIZE = _sizes(_hashlib.blake2s)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if _software_policy is not True and _routing.kernel_required():
            key = kwargs.get("key")
            if isinstance(key, KeyringKey):
                raise keyring_needs_kernel(key, "blake2s", "the kernel has no blake2s")
            checked_data(_hashlib.blake2s, args, kwargs)  # hashlib's errors first
            raise no_equivalent("blake2s")
        self._h = _hashlib.blake2s(*args, **kwargs)

