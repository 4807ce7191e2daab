"""``hmac``, served by the kernel's ``hmac(<hash>)`` algorithms.

``from kcapi_hashlib import hmac`` replaces ``import hmac``.  The key is set on
a bound socket with ALG_SET_KEY; transforms are cached per key (by a keyed
digest of it), so a key used before costs no system call to set up.

Every object :func:`new` and :class:`HMAC` return is an instance of
:class:`HMAC`, a subclass of the standard library's ``hmac.HMAC``.  The standard
class delegates ``update``, ``digest``, ``hexdigest``, ``copy`` and ``name`` to
an object that computes the whole HMAC, held in its ``_hmac`` slot (CPython
puts OpenSSL's HMAC there).  A kernel-served object holds a
:class:`~_kcapi.hash.KernelHash` over the keyed ``hmac(<hash>)`` transform in
that slot; a software-served one is initialised by the standard library's own
``__init__``, so its methods, results, errors and costs are the standard
library's.

Invariants:

* Arguments the standard library refuses get its own error (type and message,
  raised by its own code), under every policy and before any refusal of ours.
* Under the ``kernel`` policy, arguments it accepts but the kernel cannot serve
  raise :class:`~_kcapi.errors.KernelUnavailableError`; no software object is
  returned.
* A ``kcapi_hashlib`` constructor given as ``digestmod`` stands for ``hashlib``'s
  constructor of the same name: where software serves, the standard library gets
  ``hashlib``'s, so results and errors are those of code that used ``hashlib``.
* Routing decisions are cached per ``digestmod`` (bounded) and dropped whenever
  the policy or a kernel probe changes (:func:`_kcapi.policy.invalidate`).
"""

from __future__ import annotations

import hashlib as _hashlib
import hmac as _hmac
import threading
import types
from hmac import compare_digest
from typing import Any

from _kcapi import policy as _policy
from _kcapi import routing as _routing
from _kcapi.transform import Transform
from _kcapi.errors import keyring_needs_kernel, no_equivalent
from _kcapi.hash import KernelHash, as_view
from _kcapi.keyring import KeyringKey
from _kcapi.names import HashSpec, hash_spec, hmac_kernel_name

from . import CONSTRUCTOR_NAMES

try:
    import _hashlib as _openssl
except ImportError:  # a CPython built without OpenSSL
    _openssl = None

__all__ = ["new", "HMAC", "digest", "compare_digest", "trans_5C", "trans_36", "digest_size"]

trans_5C = _hmac.trans_5C
trans_36 = _hmac.trans_36
digest_size = None

_HASH = "hash"
_StdHMAC = _hmac.HMAC
_std_digest = _hmac.digest
_UNKNOWN: Any = object()
#: CPython's own hash modules: their constructors make the hash their name says, with
#: no parameter that changes it (functions; ``_sha3``'s are types).
_BUILTIN_HASH_MODULES = frozenset({"_md5", "_sha1", "_sha256", "_sha512", "_sha2", "_sha3",
                                   "_hashlib"})
#: At most this many digestmods are remembered (callers may invent names without end).
_CACHE_LIMIT = 256

#: digestmod -> the hash it names, ``None`` if none the kernel table knows (policy-independent).
_specs: dict[Any, HashSpec | None] = {}
#: digestmod -> what the standard library gets (never ``None``), for names and
#: constructors software serves under the current policy (never filled under ``kernel``).
_software: dict[Any, Any] = {}
_software_lock = threading.Lock()


def _forget_routes() -> None:
    with _software_lock:
        _software.clear()


_policy.on_invalidate(_forget_routes)


def _canonical_name(name: str) -> str | None:
    """hashlib's own name for an alias it accepts (``'SHA2-256'`` -> ``'sha256'``), else ``None``."""
    try:
        made = _hashlib.new(name)
    except Exception:  # not a name hashlib has (or one it refuses here)
        return None
    return str(made.name)


def _spec_of(digestmod: Any) -> HashSpec | None:
    """The hash a (truthy) digestmod names, if the kernel's table has it (else ``None``)."""
    try:
        found = _specs.get(digestmod, _UNKNOWN)
    except Exception:  # unhashable: not a name, not a constructor
        return None
    if found is not _UNKNOWN:
        return found  # type: ignore[no-any-return]
    if isinstance(digestmod, str):
        found = hash_spec(digestmod)
        if found is None:
            canonical = _canonical_name(digestmod)
            found = hash_spec(canonical) if canonical else None
    else:
        name = CONSTRUCTOR_NAMES.get(digestmod) or _builtin_constructor_name(digestmod)
        if name is None:
            # Other callables and PEP 247 modules may carry parameters the kernel
            # cannot see (a blake2b partial, say): the standard library serves them.
            return None
        found = hash_spec(name)
    if len(_specs) < _CACHE_LIMIT:
        _specs[digestmod] = found
    return found


def _builtin_constructor_name(digestmod: Any) -> str | None:
    """The hash a constructor of CPython's own hash modules makes (``_sha2.sha256``), else ``None``."""
    module = getattr(digestmod, "__module__", None)
    if module not in _BUILTIN_HASH_MODULES:
        return None
    if isinstance(digestmod, types.BuiltinFunctionType) or (
            module == "_sha3" and isinstance(digestmod, type)):
        return str(digestmod.__name__).removeprefix("openssl_")
    return None  # such as _sha2.SHA256Type, which cannot be instantiated


def _std_digestmod(digestmod: Any) -> Any:
    """What the standard library gets for ``digestmod``: hashlib's constructor for one of ours."""
    if isinstance(digestmod, str):
        return digestmod
    try:
        name = CONSTRUCTOR_NAMES.get(digestmod)
    except Exception:
        return digestmod
    return getattr(_hashlib, name, digestmod) if name else digestmod


def _route(digestmod: Any) -> HashSpec | None:
    """The hash the kernel may serve for ``digestmod``; ``None``: software (or, under ``kernel``, a refusal).

    Under ``kernel`` no probe is made here: the refusal comes after the arguments are checked.
    """
    generation = _policy.generation
    spec = _spec_of(digestmod)
    required = _routing.kernel_required()
    if spec is not None and spec.kernel:
        if required:
            return spec
        # Whether hmac(<hash>) binds at all does not depend on the key.
        if _routing.kernel_or_none(_HASH, hmac_kernel_name(spec)) is not None:
            return spec
    if not required and _cacheable(digestmod):
        with _software_lock:
            # Decided under a policy that is still in force (invalidate bumps the
            # generation before it clears the cache under this lock).
            if _policy.generation == generation and len(_software) < _CACHE_LIMIT:
                _software[digestmod] = _std_digestmod(digestmod)
    return None


def _cacheable(digestmod: Any) -> bool:
    """Names and known constructors only: other objects (closures) are not kept alive."""
    if isinstance(digestmod, str):
        return True
    try:
        return digestmod in CONSTRUCTOR_NAMES or _builtin_constructor_name(digestmod) is not None
    except Exception:
        return False


def _refusal(digestmod: Any) -> Exception | None:
    """For a digestmod the kernel cannot serve: ``None`` when software may serve it, else
    (the ``kernel`` policy) the error."""
    if not _routing.kernel_required():
        return None  # the label below is not made: repr(digestmod) may be anything
    spec = _spec_of(digestmod)
    return no_equivalent(f"hmac-{spec.name}" if spec is not None
                         else f"hmac with digestmod {digestmod!r}")


def _key_bytes(key: Any) -> bytes:
    """A key buffer as exactly ``bytes`` (its buffer, whatever its class does)."""
    return key if type(key) is bytes else bytes(memoryview(key))


def hmac_transform(spec: HashSpec, key: bytes) -> Transform | None:
    """The keyed ``hmac(<hash>)`` transform for ``key`` under the policy (``None``: software)."""
    name = hmac_kernel_name(spec)
    if not name:
        refused = _routing.software_refusal(f"hmac-{spec.name}")
        if refused is not None:
            raise refused
        return None
    if len(key) > spec.block_size:
        # RFC 2104: a key longer than a block is replaced by its hash.  Doing it
        # here keeps long keys out of setsockopt (bounded by optmem_max).
        hash_tfm = _routing.kernel_or_none(_HASH, spec.kernel)
        if hash_tfm is None:
            return None
        key = KernelHash(hash_tfm, spec.name, spec.digest_size, spec.block_size, key).digest()
    elif not key:
        key = bytes(spec.block_size)  # RFC 2104: the key is zero-padded to a block
    return _routing.kernel_or_none(_HASH, name, key)


def _keyring_state(key: KeyringKey, msg: Any, digestmod: Any) -> KernelHash:
    """The kernel HMAC keyed from the keyring (no software can read such a key)."""
    spec = _spec_of(digestmod) if digestmod else None
    if spec is None or not spec.kernel:
        # Arguments the standard library refuses get its error (with a stand-in key).
        _StdHMAC(b"", msg, _std_digestmod(digestmod))
        raise keyring_needs_kernel(key, f"hmac with digestmod {digestmod!r}",
                                   "the kernel has no such HMAC")
    view = _message_view(msg, b"", digestmod)
    # The kernel's hmac setkey hashes a long key itself; no fallback exists.
    tfm = _routing.kernel_or_none(_HASH, hmac_kernel_name(spec), key)
    assert tfm is not None
    return KernelHash(tfm, f"hmac-{spec.name}", spec.digest_size, spec.block_size, view)


def _message_view(msg: Any, key: Any, digestmod: Any) -> memoryview | None:
    """``msg`` as bytes for the kernel; for one the standard library refuses, its error."""
    if msg is None:
        return None
    try:
        return as_view(msg)
    except (TypeError, BufferError):
        pass
    # Outside the handler, so that the standard library's error is raised without ours attached.
    _StdHMAC(key, msg, _std_digestmod(digestmod))
    return as_view(msg)  # had it accepted msg after all: our own error


def _kernel_state(key: Any, msg: Any, digestmod: Any) -> KernelHash | None:
    """The kernel's HMAC state for these arguments; ``None`` when software serves.

    Raises:
        KernelUnavailableError: under the ``kernel`` policy, for arguments the
            standard library accepts and the kernel cannot serve.
    """
    if isinstance(key, KeyringKey):
        return _keyring_state(key, msg, digestmod)
    if not isinstance(key, (bytes, bytearray)) or not digestmod:
        return None  # the standard library raises its TypeError
    spec = _route(digestmod)
    if spec is None:
        refused = _refusal(digestmod)
        if refused is not None:
            _StdHMAC(key, msg, _std_digestmod(digestmod))  # its own error comes first
            raise refused
        return None
    view = _message_view(msg, key, digestmod)
    tfm = hmac_transform(spec, _key_bytes(key))
    if tfm is None:
        return None
    return KernelHash(tfm, f"hmac-{spec.name}", spec.digest_size, spec.block_size, view)


class HMAC(_StdHMAC):
    """RFC 2104 HMAC, as the standard library's ``hmac.HMAC``, served by the kernel where it can.

    Args:
        key: bytes or bytearray, or a :class:`~_kcapi.keyring.KeyringKey` (the key
            stays in the kernel; such an object is always kernel-served).
        msg: optional first message.
        digestmod: a hash name, a hashlib/kcapi_hashlib constructor, or a PEP 247 module.
    """

    __slots__ = ()

    def __init__(self, key: Any, msg: Any = None, digestmod: Any = "") -> None:
        try:
            std = _software.get(digestmod)
        except Exception:  # unhashable: the slow path decides
            std = None
        if std is not None:
            try:
                _StdHMAC.__init__(self, key, msg, std)  # software serves: the standard library's own
                return
            except TypeError:
                if not isinstance(key, KeyringKey):  # the kernel's key type is the one exception
                    raise
        _init(self, key, msg, digestmod)


def _init(self: HMAC, key: Any, msg: Any, digestmod: Any) -> None:
    """``HMAC.__init__`` where no cached decision says software serves."""
    state = _kernel_state(key, msg, digestmod)
    if state is None:
        _StdHMAC.__init__(self, key, msg, _std_digestmod(digestmod))
        return
    # The standard library's methods delegate to the object in _hmac.
    self._hmac = state
    self.digest_size = state.digest_size
    self.block_size = state.block_size


def new(key: Any, msg: Any = None, digestmod: Any = "") -> HMAC:
    """Create a new HMAC object, as ``hmac.new``."""
    return HMAC(key, msg, digestmod)


def _buffer_ok(value: Any) -> bool:
    """Whether ``value`` is a C-contiguous buffer (what the C one-shot accepts)."""
    try:
        return memoryview(value).c_contiguous
    except Exception:
        return False


def _digest_args_ok(key: Any, msg: Any, std: Any) -> bool:
    """Whether the standard library's ``hmac.digest`` takes these arguments as they are.

    With a name or an OpenSSL constructor it runs C code that takes any
    C-contiguous buffer; otherwise (or for a name OpenSSL lacks, which it then
    refuses anyway) Python code that pads the key with ``+``.
    """
    c_path = _openssl is not None and (isinstance(std, str) or (
        isinstance(std, types.BuiltinFunctionType) and std.__module__ == "_hashlib"))
    key_ok = _buffer_ok(key) if c_path else isinstance(key, (bytes, bytearray))
    return key_ok and not isinstance(msg, str) and _buffer_ok(msg)


def digest(key: Any, msg: Any, digest: Any) -> bytes:
    """``hmac.digest``: the HMAC of ``msg`` under ``key`` in one call."""
    try:
        std = _software.get(digest)
    except Exception:
        std = None
    if std is not None:
        try:
            return _std_digest(key, msg, std)
        except TypeError:
            if not isinstance(key, KeyringKey):
                raise
    return _digest_routed(key, msg, digest)


def _digest_routed(key: Any, msg: Any, digestmod: Any) -> bytes:
    std = _std_digestmod(digestmod)
    if isinstance(key, KeyringKey):
        if not _buffer_ok(msg):
            _std_digest(b"", msg, std)  # raises the standard library's error
        return _keyring_state(key, msg, digestmod).digest()
    spec = _route(digestmod)
    if spec is None:
        refused = _refusal(digestmod)
        if refused is not None:
            _std_digest(key, msg, std)  # its own error comes first
            raise refused
        return _std_digest(key, msg, std)
    if not _digest_args_ok(key, msg, std):
        # The standard library raises for most such arguments; for the rest
        # (a long memoryview key on its Python path, say) it computes the same HMAC.
        _std_digest(key, msg, std)
    tfm = hmac_transform(spec, _key_bytes(key))
    if tfm is None:
        return _std_digest(key, msg, std)
    state = KernelHash(tfm, f"hmac-{spec.name}", spec.digest_size, spec.block_size, msg)
    return state.digest()
