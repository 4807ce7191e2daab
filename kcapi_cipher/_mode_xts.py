"""XTS mode (IEEE 1619, NIST SP 800-38E): kernel only, on ``xts(aes)``.

PyCryptodome has no XTS; ``AES.new(key, AES.MODE_XTS, tweak)`` is a kcapi
extension for disk-sector style encryption:

* ``key`` is two AES keys of the same size, ``Key1 || Key2`` (32, 48 or 64
  bytes); equal halves are refused (as FIPS kernels refuse them).  It may be
  a :class:`~_kcapi.keyring.KeyringKey`: its size is then checked by the
  kernel, and its halves only by a FIPS kernel (the key is never read here);
* the tweak (``iv``/``IV`` or positional, 16 bytes, required) is the first
  data unit's tweak, e.g. a sector number as 16 little-endian bytes;
* each ``encrypt()``/``decrypt()`` call is ONE data unit (a sector) of 16 bytes
  or more -- a length that is not a multiple of 16 uses ciphertext stealing --
  and the tweak then moves on by one, as a 128-bit little-endian number
  (dm-crypt's ``plain64``), so consecutive calls encrypt consecutive sectors;
* a data unit is one kernel request, at most :func:`_kcapi.skcipher.request_limit`
  bytes (64 KiB with default socket buffers).

There is no software fallback: a kernel without ``xts(aes)``, or the
``software`` policy, raises :class:`~_kcapi.errors.KernelUnavailableError`.
"""

from __future__ import annotations

from typing import Any

from _kcapi.names import skcipher_name
from _kcapi.skcipher import KernelSkcipher, request_limit

from . import _params, _routing
from ._kernel_mode import KernelCipher

__all__ = ["XtsMode", "create", "KEY_SIZES"]

#: XTS keys: two AES-128, AES-192 or AES-256 keys.
KEY_SIZES = (32, 48, 64)
_TWEAK = 16


class XtsMode(KernelCipher):
    """AES-XTS: one data unit per call, consecutive tweaks for consecutive calls.

    Attributes:
        iv: the first data unit's tweak (also ``IV``); it does not change.
        block_size: 16.
    """

    __slots__ = ("iv", "IV", "_tweak")

    _KIND = "xts"
    _STATE = ("_tweak",)

    def __init__(self, engine: KernelSkcipher, tweak: bytes):
        self._init_base(engine, 16)
        self.iv = tweak
        self.IV = tweak
        self._tweak = int.from_bytes(tweak, "little")

    def _check_length(self, size: int) -> None:
        if size < 16:
            raise ValueError("Data must be at least 16 bytes long in XTS mode")
        limit = request_limit(self._engine.tfm)
        if size > limit:
            raise ValueError(f"A data unit in XTS mode is at most {limit} bytes "
                             f"(one kernel request), not {size}")

    def _process(self, src: memoryview, dst: memoryview, encrypt: bool) -> None:
        tweak = self._tweak.to_bytes(_TWEAK, "little")
        self._engine.crypt_unit(encrypt, tweak, src, dst)
        self._tweak = (self._tweak + 1) % (1 << 128)


def _check_key(raw: bytes) -> None:
    """PyCryptodome-style errors for an AES-XTS key's bytes (two different AES keys)."""
    if len(raw) not in KEY_SIZES:
        raise ValueError("Incorrect AES-XTS key length (%d bytes): it is two AES keys, "
                         "32, 48 or 64 bytes" % len(raw))
    if raw[:len(raw) // 2] == raw[len(raw) // 2:]:
        raise ValueError("The two halves of an AES-XTS key must differ")


def create(algorithm: str, key: Any, *args: Any, **kwargs: Any) -> XtsMode:
    """Create an AES-XTS object, as ``AES.new(key, AES.MODE_XTS, tweak)``.

    Args:
        algorithm: ``'aes'`` (XTS needs a 128-bit block).
        key: ``Key1 || Key2``, 32, 48 or 64 bytes, with different halves; or a
            :class:`~_kcapi.keyring.KeyringKey` holding it.
        *args: at most one, the tweak.
        **kwargs: ``iv`` or ``IV``, the tweak (16 bytes), if not positional.

    Returns:
        An :class:`XtsMode` served by the kernel's ``xts(aes)``.

    Raises:
        TypeError: a missing tweak, unknown or too many arguments.
        ValueError: a bad key or tweak.
        KernelUnavailableError: the kernel cannot serve it (there is no fallback).
    """
    if algorithm != "aes":
        raise ValueError("XTS mode needs a 128-bit block cipher (AES)")
    raw, tweak, _ = _params.tweak_mode_args("XTS", key, args, kwargs, _TWEAK, _check_key)
    name = skcipher_name("xts", algorithm)
    tfm = _routing.kernel_transform(name, raw)
    if tfm is None:
        raise _routing.kernel_only("AES MODE_XTS", name)
    return XtsMode(KernelSkcipher(tfm, 16, _TWEAK, chains=False), tweak)
