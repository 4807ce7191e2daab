"""Differential tests: kcapi_cipher against PyCryptodome on the same random programs.

For every mode and key size: a random key, IV or nonce (or counter layout),
random data cut into random pieces, each piece as bytes, bytearray or a
memoryview slice, sometimes into an ``output=`` buffer.  Both objects must
produce the same bytes, and decrypting must give the data back.  The tests
run under the policy in force: in the kernel run every object is the
kernel's (checked), on a host without AF_ALG the fallback's.
"""

import random

import pytest
from Crypto.Cipher import AES as RefAES
from Crypto.Cipher import ChaCha20 as RefChaCha20
from Crypto.Cipher import DES3 as RefDES3
from Crypto.Util import Counter
from hypothesis import given
from hypothesis import strategies as st

import kcapi_cipher
from kcapi_cipher import AES, DES3, ChaCha20, use_backend

from tests.cipher_support import check_served, need

# Sizes around the block sizes, the 64-byte ChaCha block, and the 64 KiB kernel request.
SIZES = st.one_of(st.integers(0, 70), st.integers(65536 - 40, 65536 + 40), st.integers(0, 200_000))
PIECES = st.lists(SIZES, max_size=6)
SEEDS = st.integers(0, 2**32)


def wrap(data: bytes, rng: random.Random):
    kind = rng.choice(["bytes", "bytearray", "view"])
    if kind == "bytearray":
        return bytearray(data)
    if kind == "view":
        return memoryview(b"<" + data + b">")[1:-1]
    return data


def run(ours, ref, method: str, pieces: list[int], block: int,
        rng: random.Random) -> tuple[bytes, bytes]:
    """Feed random pieces to both objects, comparing every result; returns (all input, all output)."""
    into, out = bytearray(), bytearray()
    for size in pieces:
        size -= size % block
        data = rng.randbytes(size)
        expected = getattr(ref, method)(data)
        if rng.random() < 0.3:
            target = bytearray(size + 8)
            view = memoryview(target)[4:4 + size]
            assert getattr(ours, method)(wrap(data, rng), output=view) is None
            got = bytes(view)
            assert target[:4] == target[4 + size:] == bytes(4)  # nothing written outside
        else:
            got = getattr(ours, method)(wrap(data, rng))
            assert type(got) is bytes
        assert got == expected
        into += data
        out += got
    return bytes(into), bytes(out)


def roundtrip(make_ours, make_ref, pieces, block, seed, name):
    """Encrypt and decrypt random pieces against the reference; decrypt(encrypt(x)) == x."""
    rng = random.Random(seed)
    ours, ref = make_ours(), make_ref()
    check_served(ours, name)
    plain, cipher = run(ours, ref, "encrypt", pieces, block, rng)
    assert make_ours().decrypt(cipher) == plain
    run(make_ours(), make_ref(), "decrypt", pieces, block, rng)


KEY_SIZES = [16, 24, 32]


@pytest.mark.parametrize("key_size", KEY_SIZES)
@pytest.mark.parametrize("mode", [AES.MODE_ECB, AES.MODE_CBC])
@given(pieces=PIECES, seed=SEEDS)
def test_aes_block_modes(mode, key_size, pieces, seed):
    rng = random.Random(seed)
    key, iv = rng.randbytes(key_size), rng.randbytes(16)
    args = () if mode == AES.MODE_ECB else (iv,)
    name = {AES.MODE_ECB: "ecb(aes)", AES.MODE_CBC: "cbc(aes)"}[mode]
    roundtrip(lambda: AES.new(key, mode, *args), lambda: RefAES.new(key, mode, *args),
              pieces, 16, seed, name)


@pytest.mark.parametrize("key_size", KEY_SIZES)
@pytest.mark.parametrize("mode", ["cfb128", "ofb"])
@given(pieces=PIECES, seed=SEEDS)
def test_aes_feedback_modes(mode, key_size, pieces, seed):
    name = {"cfb128": "cfb(aes)", "ofb": "ofb(aes)"}[mode]
    need(name)
    rng = random.Random(seed)
    key, iv = rng.randbytes(key_size), rng.randbytes(16)
    if mode == "cfb128":
        kwargs = {"iv": iv, "segment_size": 128}
        number = AES.MODE_CFB
    else:
        kwargs = {"IV": iv}
        number = AES.MODE_OFB
    roundtrip(lambda: AES.new(key, number, **kwargs), lambda: RefAES.new(key, number, **kwargs),
              pieces, 1, seed, name)


@pytest.mark.parametrize("key_size", KEY_SIZES)
@given(pieces=PIECES, seed=SEEDS, nonce_size=st.integers(0, 15), data=st.data())
def test_aes_ctr_nonce_and_initial_value(key_size, pieces, seed, nonce_size, data):
    rng = random.Random(seed)
    key, nonce = rng.randbytes(key_size), rng.randbytes(nonce_size)
    bits = 8 * (16 - nonce_size)
    # Near the top of the counter field too, so that the field wraps inside a call.
    initial = data.draw(st.one_of(st.integers(0, 2**bits - 1),
                                  st.integers(max(0, 2**bits - 5000), 2**bits - 1)))
    as_bytes = data.draw(st.booleans())
    value = initial.to_bytes(16 - nonce_size, "big") if as_bytes else initial
    kwargs = {"nonce": nonce, "initial_value": value}
    # Stay inside the keystream of small counters (its end is tested in tests/cipher/test_errors.py).
    room = (2**bits - initial) * 16 if bits < 64 else 1 << 60
    pieces = clip(pieces, room)
    roundtrip(lambda: AES.new(key, AES.MODE_CTR, **kwargs),
              lambda: RefAES.new(key, AES.MODE_CTR, **kwargs), pieces, 1, seed, "ctr(aes)")


def clip(pieces: list[int], room: int) -> list[int]:
    """The pieces that fit in ``room`` bytes of keystream."""
    kept, used = [], 0
    for size in pieces:
        if used + size <= room:
            kept.append(size)
            used += size
    return kept


@given(pieces=PIECES, seed=SEEDS, data=st.data())
def test_aes_ctr_counter_objects(pieces, seed, data):
    """``Crypto.Util.Counter`` layouts: prefix, suffix, byte order, initial value."""
    rng = random.Random(seed)
    counter_bytes = data.draw(st.integers(1, 16))
    prefix_len = data.draw(st.integers(0, 16 - counter_bytes))
    prefix, suffix = rng.randbytes(prefix_len), rng.randbytes(16 - counter_bytes - prefix_len)
    initial = data.draw(st.integers(0, 2 ** (8 * counter_bytes) - 1))
    little = data.draw(st.booleans())
    counter = Counter.new(8 * counter_bytes, prefix=prefix, suffix=suffix,
                          initial_value=initial, little_endian=little)
    key = rng.randbytes(data.draw(st.sampled_from(KEY_SIZES)))
    pieces = clip(pieces, 2 ** (8 * counter_bytes) * 16)
    by_ecb = bool(suffix) or (little and counter_bytes > 1)
    roundtrip(lambda: AES.new(key, AES.MODE_CTR, counter=counter),
              lambda: RefAES.new(key, AES.MODE_CTR, counter=counter), pieces, 1, seed,
              "ecb(aes)" if by_ecb else "ctr(aes)")


@pytest.mark.parametrize("key_size", [16, 24])
@pytest.mark.parametrize("mode", [1, 2, 3, 5, 6])
@given(pieces=PIECES, seed=SEEDS)
def test_des3_modes(mode, key_size, pieces, seed):
    from tests.cipher_support import kernel_name

    name = kernel_name("des3", mode)
    need(name)
    rng = random.Random(seed)
    key = RefDES3.adjust_key_parity(rng.randbytes(key_size))
    kwargs = {1: {}, 2: {"iv": rng.randbytes(8)}, 3: {"iv": rng.randbytes(8), "segment_size": 64},
              5: {"iv": rng.randbytes(8)}, 6: {"nonce": rng.randbytes(rng.randrange(8))}}[mode]
    if mode == 6:
        pieces = clip(pieces, 2 ** (8 * (8 - len(kwargs["nonce"]))) * 8)
    block = 8 if mode in (1, 2) else 1
    roundtrip(lambda: DES3.new(key, mode, **kwargs), lambda: RefDES3.new(key, mode, **kwargs),
              [min(p, 3000) for p in pieces], block, seed, name)


@pytest.mark.parametrize("nonce_size", [8, 12, 24])
@given(pieces=PIECES, seed=SEEDS, data=st.data())
def test_chacha20(nonce_size, pieces, seed, data):
    rng = random.Random(seed)
    key, nonce = rng.randbytes(32), rng.randbytes(nonce_size)
    name = "xchacha20" if nonce_size == 24 else "chacha20"
    position = data.draw(st.one_of(st.none(), st.integers(0, 5000),
                                   st.integers(2**38 - 10_000, 2**38 - 1)))
    if position is not None and nonce_size != 8:
        pieces = clip(pieces, 2**38 - position)

    def make(module):
        def made():
            cipher = module.new(key=key, nonce=nonce)
            if position is not None:
                cipher.seek(position)
            return cipher
        return made

    roundtrip(make(ChaCha20), make(RefChaCha20), pieces, 1, seed, name)


@given(seed=SEEDS, seeks=st.lists(st.tuples(st.integers(0, 1 << 33), st.integers(0, 200)),
                                  max_size=6))
def test_chacha20_random_seeks(seed, seeks):
    """Seeks anywhere, including across 2**32 blocks with an 8-byte nonce (a 64-bit counter)."""
    rng = random.Random(seed)
    key, nonce = rng.randbytes(32), rng.randbytes(8)
    ours, ref = ChaCha20.new(key=key, nonce=nonce), RefChaCha20.new(key=key, nonce=nonce)
    check_served(ours, "chacha20")
    for position, size in seeks:
        position = position * 64 + rng.randrange(64) if rng.random() < 0.5 else position
        ours.seek(position)
        ref.seek(position)
        data = rng.randbytes(size)
        assert ours.encrypt(data) == ref.encrypt(data)


@pytest.mark.parametrize("segment_bits", [8, 16, 64, 120])
@given(pieces=PIECES, seed=SEEDS)
def test_cfb_other_segment_sizes_fall_back(segment_bits, pieces, seed):
    """CFB-8 .. CFB-120: the kernel's cfb is CFB-128 only; ``auto`` serves them in software."""
    rng = random.Random(seed)
    key, iv = rng.randbytes(16), rng.randbytes(16)
    with use_backend("auto"):
        ours = AES.new(key, AES.MODE_CFB, iv=iv, segment_size=segment_bits)
    assert kcapi_cipher.backend_info(ours).backend == "software"
    ref = RefAES.new(key, AES.MODE_CFB, iv=iv, segment_size=segment_bits)
    run(ours, ref, "encrypt", [min(p, 5000) for p in pieces], segment_bits // 8, rng)
