"""Cipher Feedback (CFB) mode, served by the kernel's ``cfb(<cipher>)`` (full-block segments).

The kernel's ``cfb`` template is CFB with segments of a whole block (CFB-128
for AES, CFB-64 for TDES); PyCryptodome's default ``segment_size`` is 8 bits
(CFB-8), which software serves.  Linux 6.8 removed the template altogether.
"""

from __future__ import annotations

from typing import Any

from _kcapi.names import skcipher_name
from _kcapi.skcipher import Advance, KernelSkcipher

from . import _params
from ._kernel_mode import StreamMode, iv_mode_object
from ._routing import KernelPath, Outside

__all__ = ["CfbMode", "parse"]


def _after_encrypt(iv: bytes, last_in: bytes, last_out: bytes, nbytes: int) -> bytes:
    return last_out  # the last ciphertext block feeds back


def _after_decrypt(iv: bytes, last_in: bytes, last_out: bytes, nbytes: int) -> bytes:
    return last_in


class CfbMode(StreamMode):
    """*Cipher FeedBack (CFB)* with full-block segments, as ``Crypto.Cipher._mode_cfb.CfbMode``.

    A call may end inside a block: the rest of that block's keystream is kept,
    and the block's ciphertext is collected until it is whole, since it is the
    feedback (the IV) for the next block.

    Attributes:
        iv: the IV the object was created with (also ``IV``); it does not change.
        block_size: the cipher's block size.
    """

    __slots__ = ("iv", "IV", "_segment")

    _KIND = "cfb"

    _STATE = StreamMode._STATE + ("_segment",)

    def __init__(self, engine: KernelSkcipher, block_size: int, iv: bytes):
        self._init_stream(engine, block_size, iv, block_size)
        self.iv = iv
        self.IV = iv
        self._segment = b""

    def _advance(self, encrypt: bool) -> Advance:
        return _after_encrypt if encrypt else _after_decrypt

    def _consumed(self, data_in: bytes, data_out: bytes, encrypt: bool) -> None:
        self._segment += data_out if encrypt else data_in
        if len(self._segment) == self.block_size:
            self._iv = self._segment
            self._segment = b""

    def _partial(self, data_in: bytes, data_out: bytes, encrypt: bool) -> None:
        self._segment = data_out if encrypt else data_in


def parse(algorithm: str, mode: int, key: Any, args: tuple[Any, ...],
          kwargs: dict[str, Any]) -> KernelPath | Outside:
    """What the kernel path takes of ``<cipher>.new(key, MODE_CFB, *args, **kwargs)``.

    Takes the IV (positional, ``iv`` or ``IV``; random when omitted), a
    ``segment_size`` of a whole block (128 bits for AES, 64 for TDES; the
    default, 8, is software's) and, for AES, ``use_aesni`` (ignored).
    """
    name = skcipher_name("cfb", algorithm)
    size = _params.block_size(algorithm)
    parsed = _params.iv_mode_args(algorithm, mode, key, args, kwargs)
    segment = parsed.rest.pop("segment_size", 8) if parsed is not None else None
    if parsed is None or parsed.rest or type(segment) is not int:
        return Outside()
    if segment != size * 8:
        return Outside(f"the kernel's {name} has {size * 8}-bit segments only",
                       f" with segment_size={segment}")
    return KernelPath(parsed.key, name,
                      lambda tfm, _key: iv_mode_object(CfbMode, tfm, algorithm, parsed.iv))
