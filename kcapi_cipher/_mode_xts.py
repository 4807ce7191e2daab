"""XTS mode (IEEE 1619, NIST SP 800-38E), as PyCryptodome's, on the kernel's ``xts(aes)``.

``AES.new(key, AES.MODE_XTS, tweak=t)`` is one data unit (a disk sector):
``key`` is two different AES keys ``Key1 || Key2`` (32 or 64 bytes), ``tweak``
the unit's 16-byte tweak (keyword only).  The unit may be encrypted in several
calls: every piece but the last a multiple of 16 bytes, each at least 16
bytes, the whole unit at most 16 MiB; a piece of another length (ciphertext
stealing) ends the unit.  Arguments, results and errors are PyCryptodome's
(``Crypto.Cipher._mode_xts``, PyCryptodome 4.5), which also serves the object
where the kernel does not.

The kernel's ``xts(aes)`` takes the unit's tweak as its IV and encrypts it
with ``Key2`` itself.  A piece that starts inside the unit, or a unit longer
than one kernel request, is sent as a request whose IV puts the kernel at the
right block: ``Key2``-decryption of ``E_Key2(tweak) * alpha**j`` (the j-th
block's tweak value), computed with kcapi's own ``AES.new(Key2, AES.MODE_ECB)``
(the kernel's ``ecb(aes)`` where it may serve) and a GF(2**128)
multiplication in Python.  A unit encrypted in one call of up to one request
(64 KiB with default socket buffers) is one ``xts(aes)`` request and needs
none of this.  With a keyring key ``Key2`` is never read here, so such a unit
must be one call of at most one request.
"""

from __future__ import annotations

from typing import Any

from _kcapi.names import skcipher_name
from _kcapi.skcipher import KernelSkcipher, request_limit

from . import _params
from ._buffers import MessageTooLongError
from ._kernel_mode import KernelCipher
from ._routing import KernelPath, Outside

__all__ = ["XtsMode", "parse", "KEY_SIZES", "MAX_UNIT"]

#: XTS keys: two AES-128 or two AES-256 keys (PyCryptodome's sizes).
KEY_SIZES = (32, 64)
#: The longest data unit PyCryptodome's XTS takes (2**20 blocks).
MAX_UNIT = 1 << 24
_BLOCK = 16
#: x**128 + x**7 + x**2 + x + 1, XTS's field polynomial (bit i: the coefficient of x**i).
_POLY = (1 << 128) | 0x87


def _gf_mul(a: int, b: int) -> int:
    """``a * b`` in XTS's GF(2**128), elements as little-endian 128-bit integers."""
    product = 0
    while b:
        if b & 1:
            product ^= a
        b >>= 1
        a <<= 1
        if a >> 128:
            a ^= _POLY
    return product


def _alpha_power(j: int) -> int:
    """``alpha**j`` (alpha = x) in XTS's GF(2**128)."""
    result, base = 1, 2
    while j:
        if j & 1:
            result = _gf_mul(result, base)
        base = _gf_mul(base, base)
        j >>= 1
    return result


class _TweakPositions:
    """The kernel IV that starts ``xts(aes)`` at block ``j`` of a unit (see the module doc)."""

    __slots__ = ("_ecb", "_first")

    def __init__(self, key2: bytes, tweak: bytes):
        from . import AES  # the public factory: the kernel's ecb(aes) where the policy allows
        self._ecb = AES.new(key2, AES.MODE_ECB)
        self._first = int.from_bytes(self._ecb.encrypt(tweak), "little")

    def iv_at(self, j: int) -> bytes:
        value = _gf_mul(self._first, _alpha_power(j))
        return self._ecb.decrypt(value.to_bytes(_BLOCK, "little"))


def pieces(size: int, limit: int) -> list[tuple[int, int]]:
    """``[start, end)`` ranges of at most ``limit`` bytes (a multiple of 16) covering ``size``.

    Every range but the last is a multiple of 16 bytes, and the last is at
    least 16 bytes long: ciphertext stealing needs the last full block with
    the partial one.
    """
    ranges = []
    start = 0
    while size - start > limit:
        step = limit if size - start - limit >= _BLOCK else limit - _BLOCK
        ranges.append((start, start + step))
        start += step
    ranges.append((start, size))
    return ranges


class XtsMode(KernelCipher):
    """*XEX-based Tweaked-codebook mode with ciphertext Stealing (XTS)*, as PyCryptodome's.

    An object encrypts or decrypts one data unit, in one or more calls.

    Attributes:
        tweak: the data unit's tweak (16 bytes).
        block_size: 16.
    """

    __slots__ = ("tweak", "_key2", "_blocks", "_ended", "_positions")

    _KIND = "xts"
    _STATE = ("_blocks", "_ended", "_positions")
    _DECRYPT_REPORTS_OUTPUT = False
    _OUTPUT_LENGTH = "output must have the same length as the input (%d bytes)"

    def __init__(self, engine: KernelSkcipher, tweak: bytes, key2: bytes | None):
        self._init_base(engine, _BLOCK)
        self.tweak = tweak
        self._key2 = key2
        self._blocks = 0  # whole blocks of the unit done
        self._ended = False  # a piece that is not whole blocks ended the unit
        self._positions: _TweakPositions | None = None

    def _check_length(self, size: int) -> None:
        # PyCryptodome's order: a call after the last piece, a short piece, then the unit's size.
        if not size:
            return
        if self._ended:
            raise TypeError("No more data after a piece whose length is not a multiple of 16 bytes")
        if size < _BLOCK:
            raise ValueError("Each piece of data in XTS mode must be at least 16 bytes long")
        if self._blocks * _BLOCK + size > MAX_UNIT:
            raise MessageTooLongError("A data unit in XTS mode cannot be longer than 16 MiB")
        limit = self._request_bytes()
        if self._key2 is None and (self._blocks or size > limit):
            raise ValueError("With a keyring key, an XTS data unit is encrypted in one call of "
                             "at most %d bytes (one kernel request): the tweak of a later "
                             "block needs Key2, which this process never reads" % limit)

    def _request_bytes(self) -> int:
        """The most bytes one request carries: the request limit, in whole blocks."""
        return request_limit(self._engine.tfm) // _BLOCK * _BLOCK

    def _process(self, src: memoryview, dst: memoryview, encrypt: bool) -> None:
        for start, end in pieces(src.nbytes, self._request_bytes()):
            iv = self._iv_at(self._blocks + start // _BLOCK)
            self._engine.crypt_unit(encrypt, iv, src[start:end], dst[start:end])
        self._blocks += src.nbytes // _BLOCK
        self._ended = src.nbytes % _BLOCK != 0

    def _iv_at(self, j: int) -> bytes:
        """The IV of a kernel request that starts at block ``j`` of the unit."""
        if not j:
            return self.tweak
        assert self._key2 is not None  # refused by _check_length
        if self._positions is None:
            self._positions = _TweakPositions(self._key2, self.tweak)
        return self._positions.iv_at(j)


def parse(algorithm: str, mode: int, key: Any, args: tuple[Any, ...],
          kwargs: dict[str, Any]) -> KernelPath | Outside:
    """What the kernel path takes of ``AES.new(key, MODE_XTS, tweak=..., use_aesni=...)``.

    The key: 32 or 64 bytes with different halves; the tweak: 16 bytes, by
    keyword.  Anything else is PyCryptodome's to refuse.
    """
    params = dict(kwargs)
    params.pop("use_aesni", None)
    raw = _params.buffer_bytes(key)
    tweak = _params.buffer_bytes(params.pop("tweak", None))
    if (args or params or raw is None or len(raw) not in KEY_SIZES or tweak is None
            or len(tweak) != _BLOCK or raw[:len(raw) // 2] == raw[len(raw) // 2:]):
        return Outside()

    def build(tfm: Any, used: bytes | None) -> XtsMode:
        engine = KernelSkcipher(tfm, _BLOCK, _BLOCK, chains=False)
        return XtsMode(engine, tweak, None if used is None else used[len(used) // 2:])

    return KernelPath(raw, skcipher_name("xts", algorithm), build)
