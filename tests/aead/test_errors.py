"""Every misuse rule of the AEAD modes, CMAC and Random, differential against PyCryptodome.

Each scenario runs the same calls on our object and on PyCryptodome's and
compares every outcome: the returned value, or the exception's type and
message.  A call that raises does not stop the scenario: the calls after it
show that the state machine moved (or did not) exactly as PyCryptodome's.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from typing import Any

import pytest
from Crypto.Cipher import AES as RefAES
from Crypto.Cipher import ChaCha20_Poly1305 as RefChaCha
from Crypto.Hash import CMAC as RefCMAC

from kcapi_cipher import AES, CMAC, ChaCha20_Poly1305, Random

from ..aead_support import MODE_CCM, MODE_GCM, aes_new, assert_served
from ..support import skip_if_refusal_expected


KEY = bytes(range(16))
KEY32 = bytes(range(32))
N12 = b"\x11" * 12
N11 = b"\x22" * 11
TAG = bytes(16)
Op = Callable[[Any], Any]


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        result = call()
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome compared
        skip_if_refusal_expected(exc)
        return ("raised", type(exc), str(exc))
    if result is None or isinstance(result, (bytes, str, int, tuple)):
        return ("returned", result)
    return ("returned", "an object")


def _run(make: Callable[[], Any], ops: list[Op], construction: str) -> list[Any]:
    try:
        obj = make()
    except Exception as exc:  # noqa: BLE001
        skip_if_refusal_expected(exc)
        return [("raised", type(exc), str(exc))]
    if construction:
        assert_served(obj, construction)
    return [_outcome(lambda op=op: op(obj)) for op in ops]


def _same(ours: Callable[[], Any], ref: Callable[[], Any], ops: list[Op],
          construction: str = "") -> None:
    got = _run(ours, ops, construction)
    want = _run(ref, ops, "")
    assert got == want


def upd(data: Any) -> Op:
    return lambda c: c.update(data) is c


def enc(data: Any, **kw: Any) -> Op:
    return lambda c: c.encrypt(data, **kw)


def dec(data: Any, **kw: Any) -> Op:
    return lambda c: c.decrypt(data, **kw)


def digest(c: Any) -> Any:
    return c.digest()


def hexdigest(c: Any) -> Any:
    return c.hexdigest()


def verify(tag: Any) -> Op:
    return lambda c: c.verify(tag)


def hexverify(tag: Any) -> Op:
    return lambda c: c.hexverify(tag)


def ead(data: Any, **kw: Any) -> Op:
    return lambda c: c.encrypt_and_digest(data, **kw)


def dav(data: Any, tag: Any, **kw: Any) -> Op:
    return lambda c: c.decrypt_and_verify(data, tag, **kw)


def into(method: str, data: bytes, output: Any) -> Op:
    """A call with ``output=``: compares the return value and what the buffer holds."""

    def op(c: Any) -> Any:
        buf = output() if callable(output) else output
        result = getattr(c, method)(data, output=buf)
        return result, bytes(buf)

    return op


def gcm_tag(aad: bytes, pt: bytes, **kw: Any) -> bytes:
    ref = RefAES.new(KEY, RefAES.MODE_GCM, nonce=N12, **kw)
    ref.update(aad)
    return ref.encrypt_and_digest(pt)[1]


def gcm_ct(aad: bytes, pt: bytes) -> tuple[bytes, bytes]:
    ref = RefAES.new(KEY, RefAES.MODE_GCM, nonce=N12)
    ref.update(aad)
    return ref.encrypt_and_digest(pt)


# -- GCM ------------------------------------------------------------------------------

_CT, _TAG = gcm_ct(b"aad", b"plaintext")

GCM_SCENARIOS: dict[str, list[Op]] = {
    "update after encrypt": [upd(b"a"), enc(b"x"), upd(b"b"), digest],
    "update after decrypt": [dec(b"x"), upd(b"b"), verify(TAG)],
    "update after digest": [digest, upd(b"b")],
    "update after verify": [verify(TAG), upd(b"b"), verify(TAG)],
    "encrypt after decrypt": [dec(b"xx"), enc(b"y"), dec(b"z")],
    "decrypt after encrypt": [enc(b"xx"), dec(b"y"), enc(b"z"), digest],
    "encrypt after digest": [enc(b"x"), digest, enc(b"y"), digest],
    "digest when decrypting": [dec(b"x"), digest, hexdigest],
    "verify when encrypting": [enc(b"x"), verify(TAG), hexverify("00" * 16)],
    "digest is repeatable": [upd(b"a"), digest, hexdigest, digest, enc(b"x")],
    "digest of AAD alone": [upd(b"header"), upd(b""), digest],
    "digest of nothing": [digest],
    "verify right tag": [upd(b"aad"), dec(_CT), verify(_TAG), verify(_TAG), digest],
    "verify wrong tag, then right": [upd(b"aad"), dec(_CT), verify(TAG), verify(_TAG)],
    "hexverify": [upd(b"aad"), dec(_CT), hexverify(_TAG.hex()), hexverify("zz"), hexverify("0")],
    "verify a str tag": [upd(b"aad"), dec(_CT), verify("not bytes")],
    "verify a short tag": [upd(b"aad"), dec(_CT), verify(_TAG[:8])],
    "encrypt_and_digest twice": [ead(b"x"), ead(b"y"), digest],
    "decrypt_and_verify after encrypt": [enc(b"x"), dav(b"y", TAG)],
    "decrypt_and_verify right": [upd(b"aad"), dav(_CT, _TAG), verify(_TAG), dec(b"")],
    "decrypt_and_verify wrong tag then verify": [upd(b"aad"), dav(_CT, TAG), verify(_TAG),
                                                 verify(TAG), digest],
    "decrypt_and_verify short tag": [upd(b"aad"), dav(_CT, _TAG[:4])],
    "decrypt_and_verify str tag": [upd(b"aad"), dav(_CT, "a string")],
    "decrypt_and_verify tampered": [upd(b"aad"), dav(bytes([_CT[0] ^ 1]) + _CT[1:], _TAG)],
    "decrypt_and_verify wrong aad": [upd(b"aae"), dav(_CT, _TAG)],
    "decrypt after failed decrypt_and_verify": [dav(b"abc", TAG), dec(b"x"), upd(b"y")],
    "encrypt a str": [enc("text"), enc(b"x")],
    "encrypt an int": [enc(5)],
    "update with a str": [upd("text")],
    "output readonly": [enc(b"abc", output=b"123")],
    "output wrong length": [into("encrypt", b"abc", bytearray(4)), enc(b"x")],
    "output bytearray": [into("encrypt", b"abcdefghijklmnopq", bytearray(17)), digest],
    "output memoryview": [into("decrypt", b"abcdefghijklmnopq", memoryview(bytearray(17))), verify(TAG)],
    "encrypt_and_digest output": [upd(b"h"), into("encrypt_and_digest", b"abc", bytearray(3))],
    "encrypt_and_digest output wrong length": [ead(b"abc", output=bytearray(2)), digest],
    "decrypt_and_verify output wrong length": [dav(b"abc", TAG, output=bytearray(2)), verify(TAG)],
    "bytearray and memoryview inputs": [upd(bytearray(b"aa")), upd(memoryview(b"bb")),
                                        enc(bytearray(b"x" * 20)), enc(memoryview(b"y" * 3)), digest],
    "empty pieces": [upd(b""), enc(b""), enc(b"abc"), enc(b""), digest],
    "attributes": [lambda c: (c.nonce, c.block_size)],
}


@pytest.mark.parametrize("name", list(GCM_SCENARIOS))
def test_gcm_state_machine(name):
    _same(lambda: aes_new(KEY, MODE_GCM, nonce=N12),
          lambda: RefAES.new(KEY, RefAES.MODE_GCM, nonce=N12), GCM_SCENARIOS[name], "gcm")


GCM_CREATE = {
    "positional nonce": ((N12,), {}),
    "two positional arguments": ((N12, 16), {}),
    "empty nonce": ((), {"nonce": b""}),
    "str nonce": ((), {"nonce": "abcdefghijkl"}),
    "int nonce": ((), {"nonce": 12}),
    "bytearray nonce": ((), {"nonce": bytearray(N12)}),
    "memoryview nonce": ((), {"nonce": memoryview(b"n" * 7)}),
    "mac_len 3": ((), {"nonce": N12, "mac_len": 3}),
    "mac_len 17": ((), {"nonce": N12, "mac_len": 17}),
    "mac_len 4": ((), {"nonce": N12, "mac_len": 4}),
    "unknown parameter": ((), {"nonce": N12, "foo": 1}),
    "use_aesni": ((), {"nonce": N12, "use_aesni": False}),
    "threads str": ((), {"nonce": N12, "threads": "2"}),
    "threads negative": ((), {"nonce": N12, "threads": -1}),
    "threads bool": ((), {"nonce": N12, "threads": True}),
    "threads 0": ((), {"nonce": N12, "threads": 0}),
    "nonce and bad mac_len": ((), {"nonce": b"", "mac_len": 40}),
}


@pytest.mark.parametrize("name", list(GCM_CREATE))
def test_gcm_creation(name):
    args, kwargs = GCM_CREATE[name]
    ops = [upd(b"aad"), enc(b"data"), digest, lambda c: c.nonce]
    _same(lambda: aes_new(KEY, MODE_GCM, *args, **kwargs),
          lambda: RefAES.new(KEY, RefAES.MODE_GCM, *args, **kwargs), ops, "gcm")


@pytest.mark.parametrize("key", [b"k" * 15, b"k" * 17, b"", b"k" * 33, "k" * 16],
                         ids=["15", "17", "0", "33", "str"])
@pytest.mark.parametrize("mode", [MODE_GCM, MODE_CCM])
def test_key_errors(key, mode):
    _same(lambda: aes_new(key, mode, nonce=N11), lambda: RefAES.new(key, mode, nonce=N11), [])


def test_random_nonce_is_kept():
    for mode, size in ((MODE_GCM, 16), (MODE_CCM, 11)):
        a, b = aes_new(KEY, mode), aes_new(KEY, mode)
        assert_served(a, "gcm" if mode == MODE_GCM else "ccm")
        assert len(a.nonce) == size and a.nonce != b.nonce
        ref = RefAES.new(KEY, mode, nonce=a.nonce)
        assert a.encrypt_and_digest(b"data") == ref.encrypt_and_digest(b"data")


# -- CCM ------------------------------------------------------------------------------

_CCM_REF = RefAES.new(KEY, RefAES.MODE_CCM, nonce=N11)
_CCM_REF.update(b"aad")
_CCM_CT, _CCM_TAG = _CCM_REF.encrypt_and_digest(b"payload")

CCM_SCENARIOS: dict[str, tuple[dict[str, Any], list[Op]]] = {
    "single encrypt without msg_len": ({}, [upd(b"a"), enc(b"x"), enc(b"y"), digest]),
    "single decrypt without msg_len": ({}, [dec(b"x"), dec(b"y"), verify(TAG)]),
    "update after encrypt": ({}, [enc(b"x"), upd(b"a")]),
    "digest when decrypting": ({}, [dec(b"x"), digest]),
    "verify when encrypting": ({}, [enc(b"x"), verify(TAG)]),
    "digest of nothing": ({}, [digest, digest]),
    "digest of AAD alone": ({}, [upd(b"aad"), upd(b"more"), digest]),
    "pieces with msg_len": ({"msg_len": 10}, [enc(b"abc"), enc(b"defg"), enc(b"hij"), digest]),
    "more than msg_len": ({"msg_len": 5}, [enc(b"abc"), enc(b"def"), digest]),
    "less than msg_len": ({"msg_len": 5}, [enc(b"abc"), digest, digest]),
    "less than msg_len decrypting": ({"msg_len": 5}, [dec(b"abc"), verify(TAG)]),
    "msg_len 0": ({"msg_len": 0}, [enc(b""), digest]),
    "more AAD than assoc_len": ({"assoc_len": 3}, [upd(b"ab"), upd(b"cd"), enc(b"x")]),
    "less AAD than assoc_len": ({"assoc_len": 3}, [upd(b"ab"), enc(b"x"), digest]),
    "less AAD than assoc_len, digest": ({"assoc_len": 3}, [upd(b"ab"), digest]),
    "both lengths declared": ({"assoc_len": 5, "msg_len": 7},
                              [upd(b"ab"), upd(b"cde"), enc(b"1234"), enc(b"567"), digest]),
    "both lengths, short message": ({"assoc_len": 2, "msg_len": 7}, [upd(b"ab"), ead(b"1234")]),
    "verify right": ({}, [upd(b"aad"), dec(_CCM_CT), verify(_CCM_TAG), verify(_CCM_TAG)]),
    "verify wrong then right": ({}, [upd(b"aad"), dec(_CCM_CT), verify(TAG), verify(_CCM_TAG)]),
    "hexverify": ({}, [upd(b"aad"), dec(_CCM_CT), hexverify(_CCM_TAG.hex()), hexverify("x")]),
    "decrypt_and_verify": ({}, [upd(b"aad"), dav(_CCM_CT, _CCM_TAG), verify(_CCM_TAG)]),
    "decrypt_and_verify wrong tag": ({}, [upd(b"aad"), dav(_CCM_CT, TAG), verify(_CCM_TAG)]),
    "decrypt_and_verify with msg_len": ({"msg_len": 7}, [upd(b"aad"), dav(_CCM_CT, _CCM_TAG)]),
    "decrypt_and_verify short of msg_len": ({"msg_len": 9}, [upd(b"aad"), dav(_CCM_CT, _CCM_TAG)]),
    "encrypt_and_digest output": ({}, [into("encrypt_and_digest", b"abc", bytearray(3))]),
    "output wrong length": ({}, [enc(b"abc", output=bytearray(2))]),
    "output readonly": ({"msg_len": 3}, [dec(b"abc", output=b"xyz")]),
    "encrypt a str": ({}, [enc("str")]),
    "mac_len 5": ({"mac_len": 5}, []),
    "mac_len 18": ({"mac_len": 18}, []),
    "mac_len 4": ({"mac_len": 4}, [ead(b"abc")]),
    "nonce 6 bytes": ({"nonce": b"n" * 6}, []),
    "nonce 14 bytes": ({"nonce": b"n" * 14}, []),
    "nonce 7 bytes": ({"nonce": b"n" * 7}, [ead(b"abc")]),
    "nonce 13, msg_len too long": ({"nonce": b"n" * 13, "msg_len": 2**16}, []),
    "nonce 13, msg_len fits": ({"nonce": b"n" * 13, "msg_len": 2**16 - 1}, []),
    "nonce 13, message too long": ({"nonce": b"n" * 13}, [enc(bytes(2**16))]),
    "str nonce": ({"nonce": "n" * 11}, []),
    "unknown parameter": ({"foo": 1}, []),
    "use_aesni": ({"use_aesni": False}, [ead(b"abc")]),
    "attributes": ({}, [lambda c: (c.nonce, c.block_size)]),
}


@pytest.mark.parametrize("name", list(CCM_SCENARIOS))
def test_ccm_state_machine(name):
    kwargs, ops = CCM_SCENARIOS[name]
    kwargs = {"nonce": N11, **kwargs}
    _same(lambda: aes_new(KEY, MODE_CCM, **kwargs),
          lambda: RefAES.new(KEY, RefAES.MODE_CCM, **kwargs), ops, "ccm")


def test_ccm_positional_nonce_and_too_many_arguments():
    _same(lambda: aes_new(KEY, MODE_CCM, N11), lambda: RefAES.new(KEY, RefAES.MODE_CCM, N11),
          [ead(b"abc")], "ccm")
    _same(lambda: aes_new(KEY, MODE_CCM, N11, 8), lambda: RefAES.new(KEY, RefAES.MODE_CCM, N11, 8),
          [])


# -- ChaCha20-Poly1305 ----------------------------------------------------------------

_CP_REF = RefChaCha.new(key=KEY32, nonce=N12)
_CP_REF.update(b"aad")
_CP_CT, _CP_TAG = _CP_REF.encrypt_and_digest(b"payload")

CHACHA_SCENARIOS: dict[str, list[Op]] = {
    "update returns None": [lambda c: c.update(b"a"), lambda c: c.update(b"b"), digest],
    "update after encrypt": [enc(b"x"), lambda c: c.update(b"a")],
    "encrypt after decrypt": [dec(b"x"), enc(b"y")],
    "decrypt after encrypt": [enc(b"x"), dec(b"y"), enc(b"z")],
    "digest when decrypting": [dec(b"x"), digest],
    "verify when encrypting": [enc(b"x"), verify(TAG)],
    "encrypt after digest": [digest, enc(b"x"), digest],
    "verify right": [lambda c: c.update(b"aad"), dec(_CP_CT), verify(_CP_TAG), hexverify(_CP_TAG.hex())],
    "verify wrong then right": [lambda c: c.update(b"aad"), dec(_CP_CT), verify(TAG), verify(_CP_TAG)],
    "decrypt_and_verify": [lambda c: c.update(b"aad"), dav(_CP_CT, _CP_TAG)],
    "decrypt_and_verify wrong": [lambda c: c.update(b"aad"), dav(_CP_CT, TAG), verify(_CP_TAG)],
    "encrypt_and_digest": [lambda c: c.update(b"aad"), ead(b"payload"), digest],
    "output": [into("encrypt", b"abc", bytearray(3)), into("encrypt", b"de", memoryview(bytearray(2)))],
    "output wrong length": [enc(b"abc", output=bytearray(4))],
    "output readonly": [dec(b"abc", output=b"xyz")],
    "encrypt a str": [enc("str")],
    "attributes": [lambda c: c.nonce],
}


@pytest.mark.parametrize("nonce", [b"\x08" * 8, N12, b"\x18" * 24], ids=["8", "12", "24"])
@pytest.mark.parametrize("name", list(CHACHA_SCENARIOS))
def test_chacha20_poly1305_state_machine(name, nonce):
    _same(lambda: ChaCha20_Poly1305.new(key=KEY32, nonce=nonce),
          lambda: RefChaCha.new(key=KEY32, nonce=nonce), CHACHA_SCENARIOS[name],
          "xchacha" if len(nonce) == 24 else "chacha")


@pytest.mark.parametrize("kwargs", [
    {"key": KEY32[:31], "nonce": N12}, {"key": KEY32, "nonce": b"n" * 10},
    {"key": KEY32, "nonce": "n" * 12}, {"key": KEY32, "nonce": b""},
    {"key": "k" * 32, "nonce": N12}, {"key": bytearray(KEY32), "nonce": memoryview(N12)},
], ids=["key31", "nonce10", "str-nonce", "empty-nonce", "str-key", "buffers"])
def test_chacha20_poly1305_creation(kwargs):
    _same(lambda: ChaCha20_Poly1305.new(**kwargs), lambda: RefChaCha.new(**kwargs),
          [ead(b"abc")])


def test_chacha20_poly1305_is_keyword_only():
    _same(lambda: ChaCha20_Poly1305.new(KEY32, N12), lambda: RefChaCha.new(KEY32, N12), [])
    auto = ChaCha20_Poly1305.new(key=KEY32)
    assert_served(auto, "chacha")
    assert len(auto.nonce) == 12
    assert ChaCha20_Poly1305.key_size == 32


# -- CMAC -----------------------------------------------------------------------------

CMAC_SCENARIOS: dict[str, tuple[dict[str, Any], list[Op]]] = {
    "update after digest": ({}, [upd(b"a"), digest, upd(b"b"), digest]),
    "update after verify": ({}, [verify(TAG), upd(b"b")]),
    "update_after_digest": ({"update_after_digest": True},
                            [upd(b"a"), digest, upd(b"b"), digest, hexdigest]),
    "verify wrong": ({}, [upd(b"msg"), verify(TAG), hexverify("00" * 16)]),
    "verify right": ({"msg": b"msg"},
                     [lambda c: c.verify(RefCMAC.new(KEY, b"msg", RefAES).digest())]),
    "hexverify bad hex": ({}, [hexverify("xyz")]),
    "mac_len 3": ({"mac_len": 3}, []),
    "mac_len 17": ({"mac_len": 17}, []),
    "mac_len 4": ({"mac_len": 4, "msg": b"m"}, [digest, lambda c: c.digest_size]),
    "unknown cipher_params": ({"cipher_params": {"foo": 1}}, []),
    "use_aesni": ({"cipher_params": {"use_aesni": False}, "msg": b"x"}, [digest]),
    "update returns self": ({}, [upd(b"a"), upd(bytearray(b"b")), upd(memoryview(b"c")), digest]),
    "copy after digest": ({"msg": b"a"}, [digest, lambda c: c.copy().digest(),
                                          lambda c: c.copy().update(b"x")]),
    "empty msg": ({"msg": b""}, [digest]),
    "update with a str": ({}, [upd("sixteen chars!!!")]),
}


@pytest.mark.parametrize("name", list(CMAC_SCENARIOS))
def test_cmac_rules(name):
    kwargs, ops = CMAC_SCENARIOS[name]
    _same(lambda: CMAC.new(KEY, ciphermod=RefAES, **kwargs),
          lambda: RefCMAC.new(KEY, ciphermod=RefAES, **kwargs), ops, "cmac")


@pytest.mark.parametrize("key", [b"k" * 15, b"", "k" * 16], ids=["15", "0", "str"])
def test_cmac_key_errors(key):
    _same(lambda: CMAC.new(key, ciphermod=RefAES), lambda: RefCMAC.new(key, ciphermod=RefAES), [])


def test_cmac_ciphermod_defaults_to_aes():
    mac = CMAC.new(KEY, b"msg", AES)
    assert_served(mac, "cmac")
    assert mac.digest() == RefCMAC.new(KEY, b"msg", RefAES).digest()


# -- Random ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [-1, "8", 2.0, None])
def test_get_random_bytes_argument_errors(n):
    import os

    got = _outcome(lambda: Random.get_random_bytes(n))
    want = _outcome(lambda: os.urandom(n))
    assert got[:2] == want[:2] and got[0] == "raised"


def test_get_random_bytes_sizes():
    for n in (0, 1, 127, 128, 129, 1000):
        assert len(Random.get_random_bytes(n)) == n
    assert isinstance(Random.get_random_bytes(3), bytes)
    src = Random.new()
    assert_served(src, "rng")
    assert len(src.read(300)) == 300
    src.flush()
    src.reinit()
    src.close()


def test_hexverify_of_bad_hex_raises_binascii_error():
    c = aes_new(KEY, MODE_GCM, nonce=N12)
    c.decrypt(b"x")
    with pytest.raises(binascii.Error):
        c.hexverify("abc")
