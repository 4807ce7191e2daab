"""Cipher-Block Chaining (CBC) mode, served by the kernel's ``cbc(<cipher>)``."""

from __future__ import annotations

from _kcapi.skcipher import Advance, KernelSkcipher

from ._kernel_mode import KernelCipher

__all__ = ["CbcMode"]


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
