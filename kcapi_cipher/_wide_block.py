"""What the wide-block modes (HCTR2, Adiantum) share: one message per call, a 32-byte tweak.

``AES.new(key, AES.MODE_HCTR2, tweak)`` and ``AES.new(key, AES.MODE_ADIANTUM,
tweak)`` are kcapi extensions (PyCryptodome has neither): tweakable
length-preserving ciphers, as Linux's dm-crypt and fscrypt use them for disk
sectors and file names:

* the tweak (``tweak=``, as PyCryptodome's ``MODE_XTS`` names it, or
  ``iv``/``IV`` or positional; 32 bytes, required: the kernel's IV size for
  both) is the first data unit's tweak, e.g. a sector number as 32
  little-endian bytes (dm-crypt's ``plain64`` zero-extended to 32 bytes);
* each ``encrypt()``/``decrypt()`` call is ONE data unit (one message) of 16
  bytes or more, of any length: the output has the input's length, with no
  padding and no ciphertext stealing, and each output byte depends on every
  input byte and on the tweak;
* after each call the tweak moves on by one, as a 256-bit little-endian number
  (modulo 2**256), so consecutive calls encrypt consecutive sectors; to encrypt
  several messages under one tweak, make one object per message;
* a data unit is one kernel request, at most :func:`_kcapi.skcipher.request_limit`
  bytes (64 KiB with default socket buffers); a software-served object takes
  the same default bound, :data:`_kcapi.skcipher.MAX_REQUEST`, so that code
  that runs on one runs on the other;
* ``encrypt()`` after ``decrypt()`` (and the reverse) raises ``TypeError``, as
  PyCryptodome's mode objects do.

The object is a :class:`._kernel_mode.KernelCipher` whose engine is either the
kernel's (:class:`~_kcapi.skcipher.KernelSkcipher`) or a :class:`SoftwareEngine`
around a user-space construction with the same results (HCTR2 only: see
:mod:`._mode_hctr2`).  The tweak is the object's only state.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from _kcapi import forksafe
from _kcapi.keyring import KeyringKey
from _kcapi.skcipher import MAX_REQUEST, KernelSkcipher, request_limit
from _kcapi.backend_info import BackendInfo

from . import _params
from ._kernel_mode import KernelCipher

__all__ = ["WideBlockMode", "SoftwareEngine", "parse", "TWEAK_SIZE", "MIN_UNIT"]

#: The tweak size the kernel's hctr2() and adiantum() take (their IV).
TWEAK_SIZE = 32
#: The shortest data unit (one AES block).
MIN_UNIT = 16
_TWEAK_MODULUS = 1 << (8 * TWEAK_SIZE)


class Construction(Protocol):
    """A user-space wide-block cipher under one key (e.g. :class:`._hctr2.Hctr2`)."""

    def encrypt(self, tweak: bytes, plaintext: bytes) -> bytes: ...

    def decrypt(self, tweak: bytes, ciphertext: bytes) -> bytes: ...


class SoftwareEngine:
    """The engine of a software-served object: ``crypt_unit`` as the kernel's, in user space.

    Attributes:
        construction: the keyed construction; immutable, so copies share it.
        backend_info: who serves (software) and why not the kernel.
        failed: set when a fork caught a call half-done (as the kernel engine's).
    """

    __slots__ = ("construction", "backend_info", "failed")

    def __init__(self, construction: Construction, info: BackendInfo):
        self.construction = construction
        self.backend_info = info
        self.failed = False

    def crypt_unit(self, encrypt: bool, iv: bytes, src: memoryview, dst: memoryview) -> None:
        """Transform ``src`` into ``dst`` as one message; ``dst`` is written once, at the end."""
        data = bytes(src)
        run = self.construction.encrypt if encrypt else self.construction.decrypt
        dst[:] = run(iv, data)

    def copy(self) -> SoftwareEngine:
        """An engine for a copied object: the same construction, its own ``failed``."""
        other = SoftwareEngine(self.construction, self.backend_info)
        other.failed = self.failed
        return other


class WideBlockMode(KernelCipher):
    """A wide-block mode object: one data unit per call, consecutive tweaks for consecutive calls.

    Attributes:
        iv: the first data unit's tweak (also ``IV``); it does not change.
        block_size: 16.
    """

    __slots__ = ("iv", "IV", "_tweak", "_label", "_name")
    _STATE = ("_tweak",)  # published when a call is done (see KernelCipher._transform)

    def __init__(self, engine: KernelSkcipher | SoftwareEngine, tweak: bytes, label: str,
                 name: str):
        self._init_base(engine, MIN_UNIT)  # type: ignore[arg-type]
        self.iv = tweak
        self.IV = tweak
        self._tweak = int.from_bytes(tweak, "little")
        self._label = label
        self._name = name

    def _limit(self) -> int:
        engine = self._engine
        return request_limit(engine.tfm) if isinstance(engine, KernelSkcipher) else MAX_REQUEST

    def _check_length(self, size: int) -> None:
        if size < MIN_UNIT:
            raise ValueError(f"Data must be at least {MIN_UNIT} bytes long in {self._label} mode")
        limit = self._limit()
        if size > limit:
            raise ValueError(f"A data unit in {self._label} mode is at most {limit} bytes "
                             f"(one kernel request), not {size}")

    def _process(self, src: memoryview, dst: memoryview, encrypt: bool) -> None:
        tweak = self._tweak.to_bytes(TWEAK_SIZE, "little")
        self._engine.crypt_unit(encrypt, tweak, src, dst)
        self._tweak = (self._tweak + 1) % _TWEAK_MODULUS

    def __repr__(self) -> str:
        return f"<kcapi_cipher {type(self).__name__} ({self._name}) @ {hex(id(self))}>"

    def __copy__(self) -> WideBlockMode:
        """An independent object at the same tweak (``copy.copy``)."""
        if isinstance(self._engine, KernelSkcipher):
            return super().__copy__()  # type: ignore[return-value]
        with self._lock:
            other = object.__new__(type(self))
            for cls in type(self).__mro__:
                for name in getattr(cls, "__slots__", ()):
                    if name not in ("__weakref__", "_lock", "_engine") and hasattr(self, name):
                        setattr(other, name, getattr(self, name))
            engine = self._engine
            assert isinstance(engine, SoftwareEngine)
            other._engine = engine.copy()  # type: ignore[assignment]
            other._lock = threading.Lock()
            forksafe.watch_lock(other)
            return other


def parse(label: str, key: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
          key_sizes: tuple[int, ...], key_error: str,
          extra: tuple[str, ...] = ()) -> tuple[bytes | KeyringKey, bytes, dict[str, Any]]:
    """Check ``new(key, mode, *args, **kwargs)`` of a wide-block mode.

    Args:
        label: the mode's name in messages (``'HCTR2'``).
        key: the key argument (bytes-like or a :class:`~_kcapi.keyring.KeyringKey`,
            whose size only the kernel checks).
        args: at most one, the tweak.
        kwargs: ``iv`` or ``IV`` (the tweak) and the names in ``extra``.
        key_sizes: the key lengths the mode takes.
        key_error: the ``ValueError`` text for another length (``%d``: the length).
        extra: other keyword arguments the mode takes.

    Returns:
        ``(key, tweak, the extra keyword arguments given)``.

    Raises:
        TypeError: a missing tweak, unknown or too many arguments, a non-buffer.
        ValueError: a key or tweak of the wrong length.
    """
    def check_key(raw: bytes) -> None:
        if len(raw) not in key_sizes:
            raise ValueError(key_error % len(raw))

    return _params.tweak_mode_args(label, key, args, kwargs, TWEAK_SIZE, check_key, extra)
