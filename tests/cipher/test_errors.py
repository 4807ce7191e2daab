"""Every misuse rule of the skcipher API raises what PyCryptodome raises, with the same text.

Differential: each case runs against kcapi_cipher and PyCryptodome and
compares the exception type and message.  Under the ``kernel`` policy (the
kernel run) the objects are the kernel's, so its path is checked too; modes
the running kernel lacks (cfb/ofb since Linux 6.8) skip there.
"""

import os

import pytest
from Crypto.Cipher import AES as RefAES
from Crypto.Cipher import ChaCha20 as RefChaCha20
from Crypto.Cipher import DES3 as RefDES3
from Crypto.Util import Counter

from _kcapi import policy
from _kcapi.errors import KernelUnavailableError
from kcapi_cipher import AES, DES3, ChaCha20

from ..cipher_support import MODE_MAKERS, kernel_name, need, outcome, same_error

KEY16 = bytes(range(16))
KEY24 = bytes(range(24))
IV16 = bytes(range(100, 116))
TDES = bytes.fromhex("0123456789abcdef23456789abcdef01456789abcdef0123")
LIBS = {"aes": (AES, RefAES), "des3": (DES3, RefDES3)}


def new_both(algorithm, *args, **kwargs):
    """Two callables making the same object with kcapi_cipher and with PyCryptodome."""
    ours, ref = LIBS[algorithm]
    return (lambda: ours.new(*args, **kwargs)), (lambda: ref.new(*args, **kwargs))


# -- new(): keys, modes, positional arguments ------------------------------------


@pytest.mark.parametrize("algorithm", ["aes", "des3"])
def test_mode_constants_are_pycryptodome_numbers(algorithm):
    """Each ``MODE_*`` of PyCryptodome's module has its number in ours."""
    ours, ref = LIBS[algorithm]
    names = [name for name in dir(ref) if name.startswith("MODE_")]
    assert names
    for name in names:
        assert getattr(ours, name) == getattr(ref, name), name


AES_ONLY = sorted({getattr(AES, n) for n in dir(AES) if n.startswith("MODE_")}
                  - {getattr(RefDES3, n) for n in dir(RefDES3) if n.startswith("MODE_")})


@pytest.mark.parametrize("mode", [0, 4, 17, 100, 104, -1, 2.5, "1", (1,), [1], None, *AES_ONLY])
def test_modes_a_cipher_lacks(mode):
    """A mode the cipher lacks (TDES with an AES-only mode, or no mode at all) gets
    PyCryptodome's error, from the table-driven factory as from PyCryptodome's."""
    same_error(*new_both("des3", TDES, mode))
    if mode not in AES_ONLY:
        same_error(*new_both("aes", KEY16, mode))


@pytest.mark.parametrize("size", [0, 1, 15, 17, 23, 25, 31, 33, 64])
@pytest.mark.parametrize("mode", [1, 2, 3, 5, 6])
def test_aes_key_length(mode, size):
    got = same_error(*new_both("aes", os.urandom(size), mode))
    assert got == (ValueError, "Incorrect AES key length (%d bytes)" % size)


@pytest.mark.parametrize("key", ["k" * 16, 16, None, [0] * 16, 1.5])
@pytest.mark.parametrize("mode", [1, 2, 6])
def test_aes_key_type(mode, key):
    same_error(*new_both("aes", key, mode))


@pytest.mark.parametrize("mode", [0, 4, 17, 99, -1, "1", None, [1], 2.5])
def test_unknown_mode(mode):
    assert same_error(*new_both("aes", KEY16, mode)) == (ValueError, "Mode not supported")


@pytest.mark.parametrize("mode", [8, 10, 11, 12, 13, 14])
def test_des3_lacks_the_aes_only_modes(mode):
    assert same_error(*new_both("des3", TDES, mode)) == (ValueError, "Mode not supported")


@pytest.mark.parametrize("args,kwargs", [
    ((IV16,), {}),  # IV is not meaningful for the ECB mode
    ((), {"iv": IV16}),
    ((), {"nonce": b"x"}),
    ((), {"use_aesni": False, "bogus": 1}),
])
def test_ecb_arguments(args, kwargs):
    same_error(*new_both("aes", KEY16, AES.MODE_ECB, *args, **kwargs))


@pytest.mark.parametrize("mode", [2, 3, 5])
@pytest.mark.parametrize("args,kwargs", [
    ((IV16, IV16), {}),  # Too many arguments for this mode
    ((IV16[:15],), {}),
    ((), {"iv": IV16 + b"x"}),
    ((), {"IV": b""}),
    ((), {"iv": IV16, "IV": IV16}),
    ((IV16,), {"iv": IV16}),
    ((), {"iv": "x" * 16}),
    ((), {"iv": 12345}),
    ((), {"nonce": IV16}),
    ((), {"iv": IV16, "mac_len": 16}),
])
def test_iv_mode_arguments(mode, args, kwargs):
    same_error(*new_both("aes", KEY16, mode, *args, **kwargs))


@pytest.mark.parametrize("segment_size", [0, 4, 12, 136, 256, -8, 8.0, "8", None])
def test_cfb_segment_size(segment_size):
    same_error(*new_both("aes", KEY16, AES.MODE_CFB, IV16, segment_size=segment_size))


@pytest.mark.parametrize("kwargs", [
    {"nonce": b"x" * 16},
    {"nonce": b"x" * 20},
    {"nonce": memoryview(b"12345678")},  # PyCryptodome cannot concatenate a memoryview nonce
    {"nonce": "12345678"},
    {"nonce": b"1234", "initial_value": 1 << 96},
    {"nonce": b"1234", "initial_value": -1},
    {"nonce": b"1234", "initial_value": b"\x00" * 11},
    {"nonce": b"1234", "initial_value": 1.0},
    {"counter": Counter.new(64), "nonce": b"x"},
    {"counter": Counter.new(64), "initial_value": 3},
    {"counter": Counter.new(64)},  # a 64-bit counter alone is half a block
    {"counter": Counter.new(64, prefix=b"p" * 8, suffix=b"s")},
    {"counter": {"counter_len": 8}},
    {"counter": Counter.new(128), "threads": 1, "bogus": True},
    {"threads": -1},
    {"threads": 1.5},
    {"threads": True},
    {"iv": IV16},
])
def test_ctr_arguments(kwargs):
    same_error(*new_both("aes", KEY16, AES.MODE_CTR, **kwargs))


def test_ctr_positional_argument():
    got = same_error(*new_both("aes", KEY16, AES.MODE_CTR, b"nonce"))
    assert got == (TypeError, "Too many arguments for this mode")


def test_des3_ctr_needs_a_nonce():
    got = same_error(*new_both("des3", TDES, DES3.MODE_CTR))
    assert got == (TypeError, "Impossible to create a safe nonce for short block sizes")


# -- DES3 keys ------------------------------------------------------------------------


K1, K2, K3 = bytes(range(8)), bytes(range(8, 16)), bytes(range(16, 24))


@pytest.mark.parametrize("key", [K1, K1 * 4, K1 + K2 + K3 + K1, K1 + K1 + K3, K1 + K2 + K2,
                                 K1 + K1, b"", "text", 7, None,
                                 bytes([0x01] * 8 + [0x00] * 8)])  # degenerate after parity
@pytest.mark.parametrize("mode", [1, 2, 6])
def test_des3_bad_keys(mode, key):
    kwargs = {"nonce": b"1234"} if mode == 6 else {}
    same_error(*new_both("des3", key, mode, **kwargs))


@pytest.mark.parametrize("key", [K1 + K2 + K3, K1 + K2, os.urandom(24), os.urandom(16),
                                 K1, K1 + K1 + K3, K1 + K2 + K2, b"x" * 32, "str-key-16-bytes"])
def test_adjust_key_parity(key):
    ours, ref = outcome(lambda: DES3.adjust_key_parity(key)), \
        outcome(lambda: RefDES3.adjust_key_parity(key))
    assert ours == ref


def test_des3_2key_and_3key_and_parity_bits_are_ignored():
    for key in (K1 + K2 + K3, K1 + K2, bytes(b ^ 1 for b in K1 + K2 + K3)):
        ours = DES3.new(key, DES3.MODE_CBC, iv=IV16[:8])
        ref = RefDES3.new(key, DES3.MODE_CBC, iv=IV16[:8])
        assert ours.encrypt(b"8 bytes!" * 5) == ref.encrypt(b"8 bytes!" * 5)


# -- encrypt()/decrypt(): call order, lengths, buffers ---------------------------------

OBJECTS = {"ecb": MODE_MAKERS["ecb(aes)"], "cbc": MODE_MAKERS["cbc(aes)"],
           "cfb": MODE_MAKERS["cfb(aes)"], "ofb": MODE_MAKERS["ofb(aes)"],
           "ctr": MODE_MAKERS["ctr(aes)"], "des3-cbc": MODE_MAKERS["cbc(des3_ede)"]}
REFS = {"des3-cbc": RefDES3}
OURS = {"des3-cbc": DES3}
KERNEL_NAMES = {"ecb": "ecb(aes)", "cbc": "cbc(aes)", "cfb": "cfb(aes)", "ofb": "ofb(aes)",
                "ctr": "ctr(aes)", "des3-cbc": "cbc(des3_ede)"}


def pair(kind):
    need(KERNEL_NAMES[kind])
    return OBJECTS[kind](OURS.get(kind, AES)), OBJECTS[kind](REFS.get(kind, RefAES))


def run_both(kind, steps):
    """Apply the same calls to both objects; every result or error must be the same."""
    ours, ref = pair(kind)
    for method, args, kwargs in steps:
        got = outcome(lambda: getattr(ours, method)(*args, **kwargs))
        expected = outcome(lambda: getattr(ref, method)(*args, **kwargs))
        assert got == expected, (method, args, got, expected)


@pytest.mark.parametrize("kind", ["cbc", "cfb", "ofb", "ctr", "des3-cbc"])
def test_encrypt_after_decrypt_and_back(kind):
    block = b"b" * 16
    run_both(kind, [("decrypt", (block,), {}), ("encrypt", (block,), {}),
                    ("decrypt", (block,), {})])
    run_both(kind, [("encrypt", (block,), {}), ("decrypt", (block,), {}),
                    ("encrypt", (block,), {})])


def test_ecb_mixes_encrypt_and_decrypt():
    block = b"b" * 16
    run_both("ecb", [("encrypt", (block,), {}), ("decrypt", (block,), {}),
                     ("encrypt", (block,), {})])


@pytest.mark.parametrize("kind", ["ecb", "cbc", "des3-cbc"])
@pytest.mark.parametrize("size", [1, 8, 15, 17, 33])
def test_block_modes_need_whole_blocks(kind, size):
    data = b"d" * size
    run_both(kind, [("encrypt", (data,), {}), ("encrypt", (b"e" * 16,), {})])
    run_both(kind, [("decrypt", (data,), {}), ("decrypt", (b"e" * 16,), {})])


@pytest.mark.parametrize("kind", list(OBJECTS))
@pytest.mark.parametrize("method", ["encrypt", "decrypt"])
@pytest.mark.parametrize("data", ["text" * 4, 16, None, [1] * 16, b"x" * 16,
                                  memoryview(bytearray(32))[::2]])
@pytest.mark.parametrize("output", ["none", "bytes", "readonly", "short", "long", "strided", "str"])
def test_buffers(kind, method, data, output):
    made = {"none": None, "bytes": b"o" * 16, "readonly": memoryview(b"o" * 16),
            "short": bytearray(15), "long": bytearray(17),
            "strided": memoryview(bytearray(32))[::2], "str": "o" * 16}[output]
    kwargs = {} if made is None else {"output": made}
    run_both(kind, [(method, (data,), kwargs), (method, (b"y" * 16,), {})])


@pytest.mark.parametrize("kind", list(OBJECTS))
def test_output_buffer_is_filled_and_none_returned(kind):
    ours, ref = pair(kind)
    out = bytearray(32)
    view = memoryview(bytearray(40))[4:36]
    assert ours.encrypt(b"p" * 32, output=out) is None
    assert ours.encrypt(b"q" * 32, output=view) is None
    assert bytes(out) + bytes(view) == ref.encrypt(b"p" * 32) + ref.encrypt(b"q" * 32)


def test_results_are_bytes():
    for kind in OBJECTS:
        ours, _ = pair(kind)
        assert type(ours.encrypt(bytearray(16))) is bytes
        assert ours.encrypt(b"") == b""


# -- CTR and ChaCha20 keystream ends --------------------------------------------------


@pytest.mark.parametrize("sizes", [[4096, 1], [4093, 4], [4097, 16, 4096, 1], [100, 3996, 0, 1]])
def test_ctr_counter_wraps_around(sizes):
    """A 1-byte counter from 0: 256 blocks, then MessageTooLongError (nothing is consumed)."""
    need("ctr(aes)")
    ours = AES.new(KEY16, AES.MODE_CTR, nonce=IV16[:15])
    ref = RefAES.new(KEY16, AES.MODE_CTR, nonce=IV16[:15])
    for size in sizes:
        data = os.urandom(size)
        assert outcome(lambda: ours.encrypt(data)) == outcome(lambda: ref.encrypt(data))


@pytest.mark.parametrize("nonce_size", [8, 12, 24])
@pytest.mark.parametrize("position", [0, 63, 64, (1 << 38) - 64, (1 << 38) - 1, 1 << 38,
                                      (1 << 70) - 1, 1 << 70, 1 << 102, -1, -64])
def test_chacha20_seek(nonce_size, position):
    key, nonce = os.urandom(32), os.urandom(nonce_size)
    ours, ref = ChaCha20.new(key=key, nonce=nonce), RefChaCha20.new(key=key, nonce=nonce)
    assert outcome(lambda: ours.seek(position)) == outcome(lambda: ref.seek(position))
    for size in (0, 1, 63, 2):
        assert outcome(lambda: ours.encrypt(b"z" * size)) == outcome(lambda: ref.encrypt(b"z" * size))


@pytest.mark.parametrize("position", [1.5, "0", None])
def test_chacha20_seek_types(position):
    key = os.urandom(32)
    same_error(lambda: ChaCha20.new(key=key).seek(position),
               lambda: RefChaCha20.new(key=key).seek(position))


@pytest.mark.parametrize("kwargs", [
    {"key": b"k" * 31}, {"key": b"k" * 32, "nonce": b"n" * 7},
    {"key": b"k" * 32, "nonce": b"n" * 16}, {"key": "k" * 32, "nonce": b"n" * 12},
    {"key": b"k" * 32, "nonce": "n" * 12}, {"key": b"k" * 32, "threads": -2},
    {"key": b"k" * 32, "nonce": b"n" * 8, "counter": 1},
])
def test_chacha20_arguments(kwargs):
    same_error(lambda: ChaCha20.new(**kwargs), lambda: RefChaCha20.new(**kwargs))


def test_chacha20_is_keyword_only():
    same_error(lambda: ChaCha20.new(b"k" * 32), lambda: RefChaCha20.new(b"k" * 32))


def test_chacha20_call_order_and_buffers():
    key, nonce = os.urandom(32), os.urandom(12)
    ours, ref = ChaCha20.new(key=key, nonce=nonce), RefChaCha20.new(key=key, nonce=nonce)
    steps = [("decrypt", (b"a" * 5,), {}), ("encrypt", (b"a",), {}),
             ("decrypt", (b"a" * 3,), {"output": bytearray(4)}),
             ("decrypt", ("str",), {}), ("decrypt", (b"abc",), {"output": b"xyz"}),
             ("decrypt", (b"a" * 70,), {})]
    for method, args, kwargs in steps:
        assert outcome(lambda: getattr(ours, method)(*args, **kwargs)) == \
            outcome(lambda: getattr(ref, method)(*args, **kwargs))


# -- XTS (PyCryptodome's MODE_XTS): arguments and lengths, against PyCryptodome -------------

XTS_KEY = bytes(range(32))


@pytest.mark.parametrize("key,args,kwargs", [
    (XTS_KEY[:16], (), {"tweak": IV16}), (XTS_KEY + b"x", (), {"tweak": IV16}),
    (bytes(range(48)), (), {"tweak": IV16}), (bytes(32), (), {"tweak": IV16}),
    (bytes(64), (), {"tweak": IV16}), ("k" * 32, (), {"tweak": IV16}),
    ("kx" * 16, (), {"tweak": IV16}), (None, (), {"tweak": IV16}), (32, (), {"tweak": IV16}),
    (XTS_KEY, (), {}), (XTS_KEY, (IV16,), {}), (XTS_KEY, (IV16,), {"tweak": IV16}),
    (XTS_KEY, (), {"iv": IV16}), (XTS_KEY, (), {"IV": IV16}),
    (XTS_KEY, (), {"tweak": IV16, "iv": IV16}), (XTS_KEY, (), {"tweak": IV16, "nonce": b"n"}),
    (XTS_KEY, (), {"tweak": IV16[:8]}), (XTS_KEY, (), {"tweak": IV16 + b"x"}),
    (XTS_KEY, (), {"tweak": "t" * 16}), (XTS_KEY, (), {"tweak": None}),
    (XTS_KEY, (), {"tweak": 16}), (XTS_KEY, (), {"tweak": [0] * 16}),
    (XTS_KEY, (), {"tweak": memoryview(IV16).cast("I")}),
])
def test_xts_argument_errors(key, args, kwargs):
    """Every refused ``AES.new(key, MODE_XTS, ...)`` gets PyCryptodome's error, text and all."""
    same_error(*new_both("aes", key, AES.MODE_XTS, *args, **kwargs))


@pytest.mark.parametrize("key", [XTS_KEY, bytes(range(64)), bytearray(XTS_KEY), memoryview(XTS_KEY)])
@pytest.mark.parametrize("tweak", [IV16, bytearray(IV16), memoryview(IV16)])
def test_xts_accepted_arguments(key, tweak):
    """What PyCryptodome accepts, ours accepts, with the same tweak and ciphertext."""
    ours = AES.new(key, AES.MODE_XTS, tweak=tweak, use_aesni=False)
    ref = RefAES.new(key, RefAES.MODE_XTS, tweak=tweak, use_aesni=False)
    assert ours.tweak == ref.tweak and type(ours.tweak) is bytes and ours.block_size == 16
    data = bytes(range(40))
    assert ours.encrypt(data) == ref.encrypt(data)


#: Steps of one XTS object: (method, length of the piece), each checked against PyCryptodome.
XTS_SEQUENCES = [
    [("encrypt", 0), ("encrypt", 16)], [("encrypt", 1)], [("encrypt", 15), ("encrypt", 16)],
    [("encrypt", 17), ("encrypt", 16)], [("encrypt", 17), ("encrypt", 0)],
    [("encrypt", 20), ("encrypt", 5)], [("encrypt", 16), ("encrypt", 5), ("encrypt", 17)],
    [("encrypt", 32), ("decrypt", 16)], [("decrypt", 31), ("encrypt", 16)],
    [("decrypt", 48), ("decrypt", 33), ("decrypt", 16)],
    [("encrypt", 1 << 24), ("encrypt", 16)], [("encrypt", (1 << 24) + 16)],
    [("encrypt", (1 << 24) - 16), ("encrypt", 20)], [("encrypt", (1 << 24) - 16), ("encrypt", 5)],
    [("encrypt", (1 << 24) - 32), ("encrypt", 17), ("encrypt", 16)],
]


@pytest.mark.parametrize("steps", XTS_SEQUENCES, ids=lambda s: "-".join(f"{m[0]}{n}" for m, n in s))
def test_xts_piece_rules(steps):
    """Pieces of a data unit (short, after a partial one, past 16 MiB, the other direction):
    each call's result or error equals PyCryptodome's, and a refused call changes nothing."""
    ours = AES.new(XTS_KEY, AES.MODE_XTS, tweak=IV16)
    ref = RefAES.new(XTS_KEY, RefAES.MODE_XTS, tweak=IV16)
    for method, size in steps:
        data = bytes(size)
        assert outcome(lambda: getattr(ours, method)(data)) == \
            outcome(lambda: getattr(ref, method)(data)), (method, size)


@pytest.mark.parametrize("data,output", [
    ("x" * 16, None), (None, None), (b"x" * 16, b"y" * 16), (b"x" * 16, bytearray(15)),
    (b"x" * 5, bytearray(6)), (memoryview(bytearray(32)).cast("I"), None),
    (b"x" * 32, memoryview(bytearray(32)).cast("I")), (b"x" * 16, "y" * 16),
])
def test_xts_buffer_errors(data, output):
    """Bad input and output buffers: PyCryptodome's errors, and the object still works alike."""
    ours = AES.new(XTS_KEY, AES.MODE_XTS, tweak=IV16)
    ref = RefAES.new(XTS_KEY, RefAES.MODE_XTS, tweak=IV16)
    kwargs = {} if output is None else {"output": output}
    assert outcome(lambda: ours.encrypt(data, **kwargs)) == outcome(lambda: ref.encrypt(data, **kwargs))
    assert ours.encrypt(b"z" * 32) == ref.encrypt(b"z" * 32)


def test_des3_has_no_xts():
    assert not hasattr(DES3, "MODE_XTS")
    same_error(*new_both("des3", TDES, AES.MODE_XTS))


def test_gcm_siv_is_pycryptodomes():
    """GCM-SIV (no kernel template): PyCryptodome's object and errors (a refusal under `kernel`)."""
    same_error(*new_both("aes", KEY24, AES.MODE_GCM_SIV))
    same_error(*new_both("aes", KEY16, AES.MODE_GCM_SIV, nonce=b"n" * 11))
    same_error(*new_both("des3", TDES, AES.MODE_GCM_SIV))
    if policy.get_backend() == policy.KERNEL:
        with pytest.raises(KernelUnavailableError, match="MODE_GCM_SIV"):
            AES.new(KEY16, AES.MODE_GCM_SIV, nonce=IV16[:12])
        return
    ours = AES.new(KEY16, AES.MODE_GCM_SIV, nonce=IV16[:12])
    assert type(ours) is type(RefAES.new(KEY16, RefAES.MODE_GCM_SIV, nonce=IV16[:12]))
    assert ours.encrypt_and_digest(b"data") == \
        RefAES.new(KEY16, RefAES.MODE_GCM_SIV, nonce=IV16[:12]).encrypt_and_digest(b"data")


@pytest.mark.parametrize("mode", [1, 2, 3, 5, 6])
def test_mode_objects_cannot_be_pickled(mode):
    import pickle

    need(kernel_name("aes", mode) if mode != 3 else "cfb(aes)")
    kwargs = {"segment_size": 128} if mode == 3 else {}
    got = outcome(lambda: pickle.dumps(AES.new(KEY16, mode, **kwargs)))
    expected = outcome(lambda: pickle.dumps(RefAES.new(KEY16, mode, **kwargs)))
    assert got[0] is expected[0] is TypeError and "pickle" in got[1]  # the texts name C types


@pytest.mark.parametrize("kind", ["ecb", "cbc", "des3-cbc"])
@pytest.mark.parametrize("method", ["encrypt", "decrypt"])
def test_unaligned_input_still_processes_the_whole_blocks(kind, method):
    """PyCryptodome writes the whole blocks to ``output`` and moves the chain before raising."""
    ours, ref = pair(kind)
    out_ours, out_ref = bytearray(b"\xaa" * 21), bytearray(b"\xaa" * 21)
    assert outcome(lambda: getattr(ours, method)(b"d" * 21, output=out_ours)) == \
        outcome(lambda: getattr(ref, method)(b"d" * 21, output=out_ref))
    assert out_ours == out_ref
    assert getattr(ours, method)(b"e" * 16) == getattr(ref, method)(b"e" * 16)


@pytest.mark.parametrize("counter", [None, "suffix", "prefix"])
def test_ctr_nonce_attribute(counter):
    """CTR's ``nonce`` (PyCryptodome 4.5): the counter block's prefix, read-only, and an
    ``AttributeError`` with PyCryptodome's text when the block has a suffix."""
    def make(lib):
        if counter is None:
            return lib.new(KEY16, lib.MODE_CTR, nonce=IV16[:8])
        layout = {"prefix": IV16[:8]}
        if counter == "suffix":
            layout = {"prefix": IV16[:4], "suffix": IV16[4:8]}
        return lib.new(KEY16, lib.MODE_CTR, counter=Counter.new(64, **layout))
    ours, ref = make(AES), make(RefAES)
    assert outcome(lambda: ours.nonce) == outcome(lambda: ref.nonce)
    assert hasattr(ours, "nonce") == hasattr(ref, "nonce")
    assert outcome(lambda: ours.iv) == outcome(lambda: ref.iv)
    assert outcome(lambda: setattr(ours, "nonce", b"")) == outcome(lambda: setattr(ref, "nonce", b""))
