"""``hmac``, served by the kernel's ``hmac(<hash>)`` algorithms.

``from kcapi_hashlib import hmac`` replaces ``import hmac``.  The key is set on
a bound socket with ALG_SET_KEY; transforms are cached per key (by a keyed
digest of it), so a key used before costs no system call to set up.  Where the
kernel cannot serve (policy, missing algorithm, a digestmod it cannot name),
``new()`` returns the standard library's ``hmac.HMAC``.
"""

from __future__ import annotations

import hmac as _hmac
from hmac import compare_digest
from typing import Any

from _kcapi import _syscalls
from _kcapi import policy as _policy
from _kcapi import transform as _transform
from _kcapi.errors import keyring_needs_kernel, no_equivalent
from _kcapi.hash import KernelHash
from _kcapi.keyring import KeyringKey
from _kcapi.names import HashSpec, hash_spec, hmac_kernel_name

from . import CONSTRUCTOR_NAMES

__all__ = ["new", "HMAC", "digest", "compare_digest"]

trans_5C = _hmac.trans_5C
trans_36 = _hmac.trans_36
digest_size = None


def _resolve(digestmod: Any) -> HashSpec | None:
    """The hash a digestmod names, if the kernel could serve it (else ``None``)."""
    if digestmod is None or (isinstance(digestmod, str) and not digestmod):
        raise TypeError("Missing required parameter 'digestmod'.")
    if isinstance(digestmod, str):
        return hash_spec(digestmod)
    try:
        name = CONSTRUCTOR_NAMES.get(digestmod)
    except TypeError:  # unhashable digestmod
        return None
    # Other callables and PEP 247 modules may carry parameters the kernel
    # cannot see (a blake2b partial, say): the standard library serves them.
    return hash_spec(name) if name else None


def hmac_transform(spec: HashSpec, key: bytes) -> _transform.Transform | None:
    """The keyed ``hmac(<hash>)`` transform for ``key`` under the policy (``None``: software)."""
    name = hmac_kernel_name(spec)
    if not name:
        if _policy.get_backend() == _policy.KERNEL:
            raise no_equivalent(f"hmac-{spec.name}")
        return None
    if len(key) > spec.block_size:
        # RFC 2104: a key longer than a block is replaced by its hash.  Doing it
        # here keeps long keys out of setsockopt (bounded by optmem_max).
        hash_tfm = _transform.kernel_or_none("hash", spec.kernel)
        if hash_tfm is None:
            return None
        key = KernelHash(hash_tfm, spec.name, spec.digest_size, spec.block_size, key).digest()
    elif not key:
        key = bytes(spec.block_size)  # RFC 2104: the key is zero-padded to a block
    return _transform.kernel_or_none("hash", name, key)


class HMAC(KernelHash):
    """An HMAC object served by the kernel; ``HMAC(...)`` may return the stdlib's.

    Args:
        key: bytes or bytearray, or a :class:`~_kcapi.keyring.KeyringKey` (the key
            stays in the kernel; such an object is always kernel-served).
        msg: optional first message.
        digestmod: a hash name, a hashlib/kcapi_hashlib constructor, or a module.
    """

    __slots__ = ()
    blocksize = 64  # the standard library's legacy class attribute

    def __new__(cls, key: Any, msg: Any = None, digestmod: Any = "") -> Any:
        if isinstance(key, KeyringKey):
            spec = _resolve(digestmod)
            if spec is None or not spec.kernel:
                raise keyring_needs_kernel(key, f"hmac with digestmod {digestmod!r}",
                                           "the kernel has no such HMAC")
            # The kernel's hmac setkey hashes a long key itself; no fallback exists.
            tfm = _transform.kernel_or_none("hash", hmac_kernel_name(spec), key)
            assert tfm is not None
            return cls._made(tfm, spec, msg)
        if not isinstance(key, (bytes, bytearray)):
            raise TypeError(f"key: expected bytes or bytearray, but got {type(key).__name__!r}")
        spec = _resolve(digestmod)
        tfm = hmac_transform(spec, bytes(key)) if spec is not None else None
        if tfm is None:
            if spec is None and _policy.get_backend() == _policy.KERNEL:
                raise no_equivalent(f"hmac with digestmod {digestmod!r}")
            return _hmac.HMAC(key, msg, digestmod)
        return cls._made(tfm, spec, msg)

    @classmethod
    def _made(cls, tfm: _transform.Transform, spec: HashSpec, msg: Any) -> HMAC:
        self = object.__new__(cls)
        KernelHash.__init__(self, tfm, f"hmac-{spec.name}", spec.digest_size,
                            spec.block_size, msg)
        return self

    def __init__(self, key: Any, msg: Any = None, digestmod: Any = "") -> None:
        """Initialised by ``__new__``."""


def new(key: Any, msg: Any = None, digestmod: Any = "") -> Any:
    """Create a new HMAC object, as ``hmac.new``."""
    return HMAC(key, msg, digestmod)


def digest(key: Any, msg: Any, digest: Any) -> bytes:
    """``hmac.digest``: the HMAC of ``msg`` under ``key`` in one call."""
    made = HMAC(key, msg, digest)
    return made.digest()


def pbkdf2(tfm: _transform.Transform, size: int, salt: bytes, iterations: int,
           dklen: int) -> bytes:
    """PBKDF2 over a keyed ``hmac(<hash>)`` transform: two system calls per iteration."""
    kernel = _syscalls.kernel
    op = tfm.op_fd()
    out = bytearray()
    try:
        block = 1
        while len(out) < dklen:
            kernel.send_fd(op, [salt, block.to_bytes(4, "big")], 0)
            u = kernel.read_fd(op, size)
            acc = int.from_bytes(u, "big")
            for _ in range(iterations - 1):
                kernel.send_fd(op, [u], 0)
                u = kernel.read_fd(op, size)
                acc ^= int.from_bytes(u, "big")
            out += acc.to_bytes(size, "big")
            block += 1
    except BaseException:
        tfm.discard_fd(op)
        raise
    tfm.release_fd(op)
    return bytes(out[:dklen])
