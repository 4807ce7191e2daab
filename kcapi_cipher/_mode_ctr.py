"""Counter (CTR) mode, served by the kernel's ``ctr(<cipher>)`` or ``ecb(<cipher>)``.

PyCryptodome's counter block is ``prefix || counter || suffix`` with a
``counter_len``-byte counter that wraps around inside its field, and the
keystream ends after ``2**(8*counter_len)`` blocks (MessageTooLongError).
The kernel's ``ctr`` increments the whole block as one big-endian number, so:

* a big-endian counter at the end of the block (no suffix: every
  ``nonce``/``initial_value`` form) runs on ``ctr(<cipher>)``, with a new
  request (and IV) where the counter field wraps;
* other layouts (a suffix, a little-endian counter) encrypt the counter
  blocks, built in user space, with ``ecb(<cipher>)`` and XOR them in.
"""

from __future__ import annotations

from typing import Any

from _kcapi.names import skcipher_name
from _kcapi.skcipher import KernelSkcipher, Pair, no_iv

from . import _params
from ._buffers import MessageTooLongError, xor
from ._kernel_mode import StreamMode
from ._params import CounterLayout
from ._routing import KernelPath, Outside

__all__ = ["CtrMode", "parse"]

#: Keystream blocks computed per ``ecb`` request on the user-space counter path.
_ECB_BLOCKS = 4096


def _ctr_advance(iv: bytes, last_in: bytes, last_out: bytes, nbytes: int) -> bytes:
    """The kernel ctr's next counter block: the whole block plus the blocks done."""
    size = len(iv)
    value = (int.from_bytes(iv, "big") + nbytes // size) % (1 << (8 * size))
    return value.to_bytes(size, "big")


def split(pairs: list[Pair], nbytes: int) -> tuple[list[Pair], list[Pair]]:
    """``pairs`` cut after ``nbytes`` bytes: (the first ``nbytes``, the rest)."""
    head: list[Pair] = []
    rest = list(pairs)
    while rest and nbytes:
        src, dst = rest[0]
        if src.nbytes <= nbytes:
            head.append(rest.pop(0))
            nbytes -= src.nbytes
        else:
            head.append((src[:nbytes], dst[:nbytes]))
            rest[0] = (src[nbytes:], dst[nbytes:])
            nbytes = 0
    return head, rest


class CtrMode(StreamMode):
    """*CounTeR (CTR)* mode, as ``Crypto.Cipher._mode_ctr.CtrMode``.

    Attributes:
        nonce: the counter block's fixed prefix (read-only); an
            ``AttributeError`` when the counter block has a suffix (as in PyCryptodome).
        block_size: the cipher's block size.
    """

    __slots__ = ("_nonce", "_layout", "_counter", "_used", "_limit", "_by_ecb")

    _KIND = "ctr"

    _DECRYPT_REPORTS_OUTPUT = False
    _STATE = StreamMode._STATE + ("_counter", "_used")

    def __init__(self, engine: KernelSkcipher, block_size: int, layout: CounterLayout,
                 by_ecb: bool):
        self._init_stream(engine, block_size, b"", block_size)
        self._nonce = None if layout.suffix else layout.prefix
        self._layout = layout
        self._counter = layout.initial
        self._used = 0
        self._limit = block_size << (8 * layout.counter_len)
        self._by_ecb = by_ecb

    @property
    def nonce(self) -> bytes:
        """The fixed start of the counter block (PyCryptodome's error when there is none)."""
        if self._nonce is None:
            raise AttributeError(
                "This CTR cipher has no 'nonce' attribute, because its counter has a suffix: use"
                " the prefix, the suffix and the initial value that you passed to Counter.new()")
        return self._nonce

    def _check_length(self, size: int) -> None:
        if self._used + size > self._limit:
            raise MessageTooLongError("The counter has wrapped around in CTR mode")

    def _process(self, src: memoryview, dst: memoryview, encrypt: bool) -> None:
        super()._process(src, dst, encrypt)
        self._used += src.nbytes

    def _block(self, value: int) -> bytes:
        """The counter block holding counter ``value``."""
        layout = self._layout
        order = "little" if layout.little_endian else "big"
        return layout.prefix + value.to_bytes(layout.counter_len, order) + layout.suffix

    def _kernel(self, encrypt: bool, pairs: list[Pair]) -> None:
        modulus = 1 << (8 * self._layout.counter_len)
        size = self.block_size
        while pairs:
            if self._by_ecb:
                done = self._ecb_keystream(pairs[0])
                pairs = pairs[1:]
            else:
                # Up to where the counter field wraps: past it the kernel would carry
                # into the prefix, while PyCryptodome's counter starts again at zero.
                head, pairs = split(pairs, (modulus - self._counter) * size)
                self._engine.crypt(True, self._block(self._counter), head, _ctr_advance)
                done = sum(src.nbytes for src, _ in head)
            self._counter = (self._counter + done // size) % modulus

    def _ecb_keystream(self, pair: Pair) -> int:
        """XOR ``pair`` with ECB-encrypted counter blocks built here; returns its length."""
        src, dst = pair
        size = self.block_size
        modulus = 1 << (8 * self._layout.counter_len)
        counter = self._counter
        step = _ECB_BLOCKS * size
        for start in range(0, src.nbytes, step):
            piece = src[start:start + step]
            count = piece.nbytes // size
            blocks = b"".join(self._block((counter + i) % modulus) for i in range(count))
            stream = bytearray(len(blocks))
            self._engine.crypt(True, b"", [(memoryview(blocks), memoryview(stream))], no_iv)
            dst[start:start + piece.nbytes] = xor(piece, stream)
            counter = (counter + count) % modulus
        return src.nbytes


def parse(algorithm: str, mode: int, key: Any, args: tuple[Any, ...],
          kwargs: dict[str, Any]) -> KernelPath | Outside:
    """What the kernel path takes of ``<cipher>.new(key, MODE_CTR, *args, **kwargs)``.

    Takes ``nonce`` (shorter than a block; half a block of random bytes when
    omitted, AES only), ``initial_value`` (an int or bytes, default 0), or
    ``counter`` (a ``Crypto.Util.Counter.new()`` object) instead of both;
    ``threads`` (checked, the kernel does the work); ``use_aesni`` (AES).
    The counter layouts the kernel's ``ctr`` cannot run use ``ecb``.
    """
    size = _params.block_size(algorithm)
    params = _params.with_positional(mode, args, kwargs)
    threads = params.pop("threads", 1) if params is not None else None
    raw = _params.cipher_key(algorithm, key, params) if params is not None else None
    layout = _params.ctr_layout(params, size) if raw is not None and params is not None else None
    if layout is None or raw is None or not _params.threads_ok(threads):
        return Outside()
    by_ecb = bool(layout.suffix) or (layout.little_endian and layout.counter_len > 1)
    return KernelPath(raw, skcipher_name("ecb" if by_ecb else "ctr", algorithm),
                      lambda tfm, _key: CtrMode(KernelSkcipher(tfm, size, 0 if by_ecb else size),
                                                size, layout, by_ecb))
