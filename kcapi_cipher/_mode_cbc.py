"""Cipher-Block Chaining (CBC) mode, served by the kernel's ``cbc(<cipher>)``."""

from __future__ import annotations

import os
from typing import Any

from _kcapi.names import skcipher_name
from _kcapi.skcipher import Advance, KernelSkcipher

from . import _params, _routing
from ._kernel_mode import KernelCipher

__all__ = ["CbcMode", "create"]

MODE = 2


def _after_encrypt(iv: bytes, last_in: bytes, last_out: bytes, nbytes: int) -> bytes:
    return last_out  # the last ciphertext block


def _after_decrypt(iv: bytes, last_in: bytes, last_out: bytes, nbytes: int) -> bytes:
    return last_in  # the last ciphertext block


class CbcMode(KernelCipher):
    """*Cipher-Block Chaining (CBC)*, as ``Crypto.Cipher._mode_cbc.CbcMode``.

    Attributes:
        iv: the IV the object was created with (also ``IV``); it does not change.
        block_size: the cipher's block size.
    """

    __slots__ = ("iv", "IV", "_chain")

    _KIND = "cbc"
    _STATE = ("_chain",)

    def __init__(self, engine: KernelSkcipher, block_size: int, iv: bytes):
        self._init_base(engine, block_size)
        self.iv = iv
        self.IV = iv
        self._chain = iv

    def _process(self, src: memoryview, dst: memoryview, encrypt: bool) -> None:
        # As PyCryptodome: the whole blocks are processed (the chain moves on) before the error.
        full = src.nbytes - src.nbytes % self.block_size
        if full:
            advance: Advance = _after_encrypt if encrypt else _after_decrypt
            self._chain = self._engine.crypt(encrypt, self._chain, [(src[:full], dst[:full])],
                                             advance)
        if full != src.nbytes:
            raise ValueError("Data must be padded to %d byte boundary in CBC mode"
                             % self.block_size)


def create(algorithm: str, key: Any, *args: Any, **kwargs: Any) -> Any:
    """Create a CBC cipher object, as ``<cipher>.new(key, MODE_CBC, *args, **kwargs)``.

    Args:
        algorithm: ``'aes'`` or ``'des3'``.
        key: the cipher key, or a :class:`~_kcapi.keyring.KeyringKey` (kernel only).
        *args: at most one, the IV.
        **kwargs: ``iv`` or ``IV`` (a block; random when omitted), ``use_aesni`` (AES).

    Returns:
        A :class:`CbcMode` served by the kernel, or PyCryptodome's object where
        the backend policy lets software serve.

    Raises:
        TypeError, ValueError: PyCryptodome's errors for bad arguments.
        KernelUnavailableError: under the ``kernel`` policy, when the kernel cannot serve.
    """
    name = skcipher_name("cbc", algorithm)
    key, keyring = _routing.keyring_split(key, algorithm)

    def make() -> Any:
        return _routing.reference(algorithm).new(key, MODE, *args, **kwargs)

    # The arguments as the kernel path reads them (make() keeps the caller's own).
    used_key, used_args, used_kwargs = _routing.normalized(make, algorithm, key, args, kwargs)

    size = _params.block_size(algorithm)
    parsed = _params.iv_mode_args(algorithm, MODE, used_key, used_args, used_kwargs)
    if parsed is None or parsed.rest:
        return _routing.outside(make, f"{algorithm.upper()} MODE_CBC", name,
                                "arguments outside what the kernel path takes", keyring)
    tfm = _routing.kernel_transform(name, keyring or _params.kernel_key(algorithm, parsed.key))
    if tfm is None:
        return _routing.software(make, name)
    iv = parsed.iv if parsed.iv is not None else os.urandom(size)
    return CbcMode(KernelSkcipher(tfm, size, size), size, iv)
