"""Electronic Code Book (ECB) mode, served by the kernel's ``ecb(<cipher>)``."""

from __future__ import annotations

from typing import Any

from _kcapi.names import skcipher_name
from _kcapi.skcipher import KernelSkcipher, no_iv

from . import _params
from ._kernel_mode import KernelCipher
from ._routing import KernelPath, Outside

__all__ = ["EcbMode", "parse"]


class EcbMode(KernelCipher):
    """*Electronic Code Book (ECB)*, as ``Crypto.Cipher._mode_ecb.EcbMode``.

    Each block is encrypted on its own (NIST SP 800-38A, 6.1); ``encrypt`` and
    ``decrypt`` may be mixed, and data must be a whole number of blocks (as
    in PyCryptodome, the whole blocks of a longer input are still processed,
    and written to ``output``, before the ValueError).
    """

    __slots__ = ()

    _KIND = "ecb"

    _ORDERED = False

    def __init__(self, engine: KernelSkcipher, block_size: int):
        self._init_base(engine, block_size)

    def _process(self, src: memoryview, dst: memoryview, encrypt: bool) -> None:
        # As PyCryptodome: the whole blocks are processed (and written) before the error.
        full = src.nbytes - src.nbytes % self.block_size
        if full:
            self._engine.crypt(encrypt, b"", [(src[:full], dst[:full])], no_iv)
        if full != src.nbytes:
            raise ValueError("Data must be aligned to block boundary in ECB mode")


def parse(algorithm: str, mode: int, key: Any, args: tuple[Any, ...],
          kwargs: dict[str, Any]) -> KernelPath | Outside:
    """What the kernel path takes of ``<cipher>.new(key, MODE_ECB, *args, **kwargs)``.

    Takes no positional argument and, for AES, ``use_aesni`` (ignored).
    """
    params = _params.with_positional(mode, args, kwargs)
    raw = _params.cipher_key(algorithm, key, params) if params is not None else None
    if raw is None or params:
        return Outside()
    size = _params.block_size(algorithm)
    return KernelPath(raw, skcipher_name("ecb", algorithm),
                      lambda tfm, _key: EcbMode(KernelSkcipher(tfm, size, 0), size))
