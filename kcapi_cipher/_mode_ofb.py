"""Output Feedback (OFB) mode, served by the kernel's ``ofb(<cipher>)`` (removed in Linux 6.8)."""

from __future__ import annotations

from _kcapi.skcipher import Advance, KernelSkcipher

from ._buffers import xor
from ._kernel_mode import StreamMode

__all__ = ["OfbMode"]


def _after(iv: bytes, last_in: bytes, last_out: bytes, nbytes: int) -> bytes:
    return xor(last_in, last_out)  # the last keystream block feeds back


class OfbMode(StreamMode):
    """*Output FeedBack (OFB)*, as ``Crypto.Cipher._mode_ofb.OfbMode``.

    Attributes:
        iv: the IV the object was created with (also ``IV``); it does not change.
        block_size: the cipher's block size.
    """

    __slots__ = ("iv", "IV")

    _KIND = "ofb"

    def __init__(self, engine: KernelSkcipher, block_size: int, iv: bytes):
        self._init_stream(engine, block_size, iv, block_size)
        self.iv = iv
        self.IV = iv

    def _advance(self, encrypt: bool) -> Advance:
        return _after
