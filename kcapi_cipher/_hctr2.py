"""HCTR2 in user space, on PyCryptodome's AES: the software fallback of ``AES.MODE_HCTR2``.

HCTR2 (Crowley, Huckleberry, Biggers, "Length-preserving encryption with
HCTR2", 2021) is a tweakable wide-block cipher: one call encrypts a whole
message of 16 bytes or more, and every output bit depends on every input bit
and on the tweak.  With ``E`` AES under the key, ``le(i)`` the 16-byte
little-endian encoding of ``i``, ``T`` the tweak and ``P = M || N`` (``M`` the
first 16 bytes)::

    h = E(le(0))                  # POLYVAL key
    L = E(le(1))
    H(X) = POLYVAL(h, le(16*|T| + 2 + r) || pad(T) || (X if r == 0 else pad(X || 0x01)))
                                  # |T| in bytes; r = 1 when |X| is not a multiple of 16
    MM = M ^ H(N);  UU = E(MM);  S = MM ^ UU ^ L
    V = N ^ XCTR(S);  U = UU ^ H(V)          # ciphertext U || V
    XCTR(S) = E(S ^ le(1)) || E(S ^ le(2)) || ...   (truncated to |N|)

Decryption runs the same steps backwards with ``D`` = AES decryption.

POLYVAL (RFC 8452) works in GF(2^128) modulo ``x^128 + x^127 + x^126 + x^121 + 1``
with little-endian bit order, so a 16-byte block read as a little-endian
integer *is* the field element; ``POLYVAL(h, X1..Xn)`` is ``S_n`` with
``S_0 = 0`` and ``S_i = (S_{i-1} ^ X_i) * h * x^-128``.  :class:`Polyval`
multiplies by the constant ``h * x^-128`` with sixteen 256-entry tables (one
per input byte), built once per key: 16 lookups per block.

Invariant: only PyCryptodome's AES (held by :mod:`._reference`) touches the
key; this module keeps the AES object, POLYVAL's tables and ``L``, never the
key bytes.
"""

from __future__ import annotations

from . import _reference
from ._buffers import xor
from ._modes import MODE_ECB

__all__ = ["Hctr2", "Polyval", "xctr"]

BLOCK = 16
#: POLYVAL's field polynomial, x^128 + x^127 + x^126 + x^121 + 1.
_POLY = (1 << 128) | (1 << 127) | (1 << 126) | (1 << 121) | 1


def _times_x(a: int) -> int:
    """``a * x`` in POLYVAL's field."""
    a <<= 1
    return a ^ _POLY if a >> 128 else a


def _over_x(a: int) -> int:
    """``a * x^-1`` in POLYVAL's field (add the polynomial when ``a`` is odd, then halve)."""
    return (a ^ _POLY) >> 1 if a & 1 else a >> 1


class Polyval:
    """POLYVAL (RFC 8452) under one key ``h``: blocks in, the 16-byte accumulator out."""

    __slots__ = ("_tables",)

    def __init__(self, h: bytes):
        k = int.from_bytes(h, "little")
        for _ in range(128):  # each step multiplies the accumulator by h * x^-128
            k = _over_x(k)
        powers = []  # k * x^i for i = 0..127: the products of the single bits
        for _ in range(128):
            powers.append(k)
            k = _times_x(k)
        tables = []
        for j in range(BLOCK):
            table = [0] * 256
            for byte in range(1, 256):
                low = byte & -byte  # the lowest set bit; the rest is an earlier entry
                table[byte] = table[byte ^ low] ^ powers[8 * j + low.bit_length() - 1]
            tables.append(table)
        self._tables = tables

    def update(self, state: int, data: bytes) -> int:
        """The accumulator after the blocks of ``data`` (a multiple of 16 bytes) from ``state``."""
        tables = self._tables
        view = memoryview(data)
        for pos in range(0, len(data), BLOCK):
            x = (state ^ int.from_bytes(view[pos:pos + BLOCK], "little")).to_bytes(BLOCK, "little")
            state = 0
            for table, byte in zip(tables, x):
                state ^= table[byte]
        return state

    def digest(self, data: bytes) -> bytes:
        """``POLYVAL(h, data)`` for ``data`` a multiple of 16 bytes."""
        return self.update(0, data).to_bytes(BLOCK, "little")


def xctr(ecb: object, start: bytes, data: bytes) -> bytes:
    """``data`` XOR the XCTR keystream from ``start``: block i (from 1) is ``E(start ^ le(i))``.

    Args:
        ecb: PyCryptodome's AES object in ECB mode (its ``encrypt``).
        start: the 16-byte starting value.
        data: any length.
    """
    if not data:
        return b""
    s = int.from_bytes(start, "little")
    blocks = -(-len(data) // BLOCK)
    counters = b"".join((s ^ i).to_bytes(BLOCK, "little") for i in range(1, blocks + 1))
    stream = ecb.encrypt(counters)  # type: ignore[attr-defined]
    return xor(data, stream[:len(data)])


class Hctr2:
    """HCTR2 under one AES key (16, 24 or 32 bytes); immutable after construction."""

    __slots__ = ("_ecb", "_polyval", "_l")

    def __init__(self, key: bytes):
        ecb = _reference.block_cipher("aes").new(key, MODE_ECB)  # ValueError for a bad size
        self._ecb = ecb
        self._polyval = Polyval(ecb.encrypt(bytes(BLOCK)))
        self._l = ecb.encrypt((1).to_bytes(BLOCK, "little"))

    def _hash(self, tweak: bytes, data: bytes) -> bytes:
        """``H(data)`` of the module docstring, under ``tweak``."""
        partial = len(data) % BLOCK
        lengths = (16 * len(tweak) + 2 + (1 if partial else 0)).to_bytes(BLOCK, "little")
        padded_tweak = tweak + bytes(-len(tweak) % BLOCK)
        if partial:
            data = data + b"\x01" + bytes(BLOCK - 1 - partial)
        return self._polyval.digest(lengths + padded_tweak + data)

    def encrypt(self, tweak: bytes, plaintext: bytes) -> bytes:
        """HCTR2 encryption of one message (at least 16 bytes) under ``tweak``."""
        m, n = plaintext[:BLOCK], plaintext[BLOCK:]
        mm = xor(m, self._hash(tweak, n))
        uu = self._ecb.encrypt(mm)
        s = xor(xor(mm, uu), self._l)
        v = xctr(self._ecb, s, n)
        return xor(uu, self._hash(tweak, v)) + v

    def decrypt(self, tweak: bytes, ciphertext: bytes) -> bytes:
        """HCTR2 decryption of one message (at least 16 bytes) under ``tweak``."""
        u, v = ciphertext[:BLOCK], ciphertext[BLOCK:]
        uu = xor(u, self._hash(tweak, v))
        mm = self._ecb.decrypt(uu)
        s = xor(xor(mm, uu), self._l)
        n = xctr(self._ecb, s, v)
        return xor(mm, self._hash(tweak, n)) + n
