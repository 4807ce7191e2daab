"""How a kernel-served XTS unit is cut into requests, and the IV that starts a request
inside the unit (kcapi_cipher._mode_xts), checked without a kernel: against
PyCryptodome's XTS and against block-by-block doubling of the tweak."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from Crypto.Cipher import AES as RefAES

from kcapi_cipher._mode_xts import _TweakPositions, _alpha_power, _gf_mul, pieces

from ..cipher_support import reference_xts, times_alpha


@given(size=st.integers(16, 1 << 20), limit_blocks=st.integers(2, 4096))
@settings(max_examples=300, deadline=None)
def test_pieces_cover_the_unit_in_requests_the_kernel_takes(size, limit_blocks):
    limit = 16 * limit_blocks
    ranges = pieces(size, limit)
    assert ranges[0][0] == 0 and ranges[-1][1] == size
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    assert all(0 < end - start <= limit for start, end in ranges)
    assert all((end - start) % 16 == 0 for start, end in ranges[:-1])
    assert ranges[-1][1] - ranges[-1][0] >= 16  # the last full block travels with a partial one


def test_alpha_powers_are_repeated_doubling():
    t = (1).to_bytes(16, "little")
    for j in range(600):
        assert _alpha_power(j).to_bytes(16, "little") == t, j
        t = times_alpha(t)
    for a, b in ((1 << 20, 12345), (1 << 19, (1 << 20) - 1), (77, 1 << 18)):
        assert _alpha_power(a + b) == _gf_mul(_alpha_power(a), _alpha_power(b))


@given(key=st.binary(min_size=16, max_size=16), tweak=st.binary(min_size=16, max_size=16),
       j=st.integers(1, (1 << 20) - 1), wide=st.booleans())
@settings(max_examples=40, deadline=None)
def test_the_iv_at_block_j_starts_xts_at_block_j(key, tweak, j, wide):
    """XTS started with ``iv_at(j)`` encrypts a block as block ``j`` of the unit."""
    key1 = bytes(b ^ 0x5C for b in key) * (2 if wide else 1)
    key2 = key * (2 if wide else 1)
    iv = _TweakPositions(key2, tweak).iv_at(j)
    block = bytes(range(16))
    # block j of the unit: T_j = E_K2(tweak) * alpha**j, C = E_K1(P ^ T_j) ^ T_j
    t = _gf_mul(int.from_bytes(RefAES.new(key2, RefAES.MODE_ECB).encrypt(tweak), "little"),
                _alpha_power(j)).to_bytes(16, "little")
    inner = RefAES.new(key1, RefAES.MODE_ECB).encrypt(bytes(x ^ y for x, y in zip(block, t)))
    expected = bytes(x ^ y for x, y in zip(inner, t))
    assert RefAES.new(key1 + key2, RefAES.MODE_XTS, tweak=iv).encrypt(block) == expected
    assert reference_xts(key1 + key2, iv, block) == expected


def test_positions_equal_pycryptodomes_unit_in_pieces():
    """Block 1..n of one unit, each started with its own IV, equal the unit in one call."""
    key = bytes(range(32))
    tweak = bytes(range(100, 116))
    unit = bytes(range(256)) * 3
    whole = RefAES.new(key, RefAES.MODE_XTS, tweak=tweak).encrypt(unit)
    positions = _TweakPositions(key[16:], tweak)
    for j in (1, 5, 47):
        piece = unit[16 * j:16 * j + 16]
        got = RefAES.new(key, RefAES.MODE_XTS, tweak=positions.iv_at(j)).encrypt(piece)
        assert got == whole[16 * j:16 * j + 16]
