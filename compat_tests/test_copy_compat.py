"""``copy.copy``, ``copy.deepcopy`` and ``pickle`` of every object kind, against PyCryptodome.

PyCryptodome's objects copy by default object copying (``copy.copy`` works)
and refuse ``copy.deepcopy`` and ``pickle`` with a ``TypeError``.  Ours: the
same answer to each, with the same message; and a ``copy.copy`` is an
independent object in the same state -- both it and the original continue
exactly as two PyCryptodome objects that received the same calls would, and
neither disturbs the other.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import pytest

import kcapi_cipher
from _kcapi import policy
from kcapi_cipher import AES, CMAC, DES3, ChaCha20, ChaCha20_Poly1305

from compat_tests.grid import IV8, IV16, K16, K32, TDES, outcome
from tests.support import REQUIRE_KERNEL, optional_kernel_alg

import Crypto.Cipher.AES as RefAES
import Crypto.Cipher.ChaCha20 as RefChaCha20
import Crypto.Cipher.ChaCha20_Poly1305 as RefChaChaPoly
import Crypto.Cipher.DES3 as RefDES3
import Crypto.Hash.CMAC as RefCMAC

DATA = bytes(range(40, 140))


def _pair(mod: Any, ref: Any, key: bytes, mode: int, **kw: Any) -> tuple[Callable, Callable]:
    return (lambda: mod.new(key, mode, **kw)), (lambda: ref.new(key, mode, **kw))


#: name -> (ours, PyCryptodome's, API: 'cipher', 'aead' or 'mac', kernel algorithm needed or '')
KINDS: dict[str, tuple[Callable[[], Any], Callable[[], Any], str, str]] = {
    "aes-ecb": (*_pair(AES, RefAES, K16, 1), "cipher", ""),
    "aes-cbc": (*_pair(AES, RefAES, K16, 2, iv=IV16), "cipher", ""),
    "aes-cfb": (*_pair(AES, RefAES, K16, 3, iv=IV16, segment_size=128), "cipher", "cfb(aes)"),
    "aes-ofb": (*_pair(AES, RefAES, K16, 5, iv=IV16), "cipher", "ofb(aes)"),
    "aes-ctr": (*_pair(AES, RefAES, K16, 6, nonce=IV16[:8]), "cipher", ""),
    "aes-xts": (*_pair(AES, RefAES, K32, 16, tweak=IV16), "cipher", "xts(aes)"),
    "aes-gcm": (*_pair(AES, RefAES, K16, 11, nonce=IV16[:12]), "aead", ""),
    "aes-ccm": (*_pair(AES, RefAES, K16, 8, nonce=IV16[:11], msg_len=40, assoc_len=7), "aead", ""),
    "des3-cbc": (*_pair(DES3, RefDES3, TDES, 2, iv=IV8), "cipher", ""),
    "des3-ctr": (*_pair(DES3, RefDES3, TDES, 6, nonce=IV8[:4]), "cipher", ""),
    "chacha20": ((lambda: ChaCha20.new(key=K32, nonce=IV16[:12])),
                 (lambda: RefChaCha20.new(key=K32, nonce=IV16[:12])), "cipher", ""),
    "xchacha20": ((lambda: ChaCha20.new(key=K32, nonce=IV16 + IV8)),
                  (lambda: RefChaCha20.new(key=K32, nonce=IV16 + IV8)), "cipher", ""),
    "chacha20-poly1305": ((lambda: ChaCha20_Poly1305.new(key=K32, nonce=IV16[:12])),
                          (lambda: RefChaChaPoly.new(key=K32, nonce=IV16[:12])), "aead", ""),
    "cmac-aes": ((lambda: CMAC.new(K16, ciphermod=AES)),
                 (lambda: RefCMAC.new(K16, ciphermod=RefAES)), "mac", ""),
    "cmac-des3": ((lambda: CMAC.new(TDES, ciphermod=DES3)),
                  (lambda: RefCMAC.new(TDES, ciphermod=RefDES3)), "mac", ""),
}


def _need(name: str) -> None:
    needed = KINDS[name][3]
    if needed and policy.get_backend() == policy.KERNEL:
        optional_kernel_alg("skcipher", needed)


def _start(obj: Any, api: str) -> None:
    """Put an object in the middle of a message (a partial block where there is one)."""
    if api == "cipher":
        obj.encrypt(DATA[:16 if obj.block_size > 1 else 21])
    elif api == "aead":
        obj.update(DATA[:7])
        obj.encrypt(DATA[7:20])
    else:
        obj.update(DATA[:21])


def _continue(obj: Any, api: str, which: int) -> list[Any]:
    """Different calls for the original (0) and the copy (1): each must be independent."""
    data = DATA[20 + 8 * which:20 + 8 * which + 16]
    if api == "cipher":
        return [outcome(lambda: obj.encrypt(data)), outcome(lambda: obj.encrypt(data))]
    if api == "aead":
        return [outcome(lambda: obj.encrypt(data[:20])), outcome(obj.digest)]
    return [outcome(lambda: obj.update(data) and None), outcome(obj.digest),
            outcome(obj.hexdigest)]


def _kernel_served(obj: Any) -> bool:
    return kcapi_cipher.backend_info(obj).backend == "kernel"


@pytest.mark.parametrize("name", sorted(KINDS))
def test_copy_is_an_independent_object_in_the_same_state(name):
    _need(name)
    ours_new, ref_new, api, _ = KINDS[name]
    ours = ours_new()
    if REQUIRE_KERNEL:
        assert _kernel_served(ours)
    _start(ours, api)
    twin = copy.copy(ours)
    assert type(twin) is type(ours)
    got = [_continue(twin, api, 1), _continue(ours, api, 0)]
    if _kernel_served(ours):
        # Two PyCryptodome objects that received the same calls: what each of ours must do.
        first, second = ref_new(), ref_new()
        _start(first, api)
        _start(second, api)
    else:  # PyCryptodome's own object: its own shallow copy
        first = ref_new()
        _start(first, api)
        second = copy.copy(first)
    assert got == [_continue(second, api, 1), _continue(first, api, 0)]


@pytest.mark.parametrize("name", sorted(KINDS))
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_deepcopy_and_pickle_fail_as_pycryptodome_fails(name, how):
    _need(name)
    ours_new, ref_new, api, _ = KINDS[name]
    act = copy.deepcopy if how == "deepcopy" else pickle.dumps
    ours, ref = ours_new(), ref_new()
    _start(ours, api)
    _start(ref, api)
    got, want = outcome(lambda: act(ours)), outcome(lambda: act(ref))
    assert want[0] == "raised"
    assert got == want
    # The failed attempt left the object as it was.
    assert _continue(ours, api, 0) == _continue(ref, api, 0)


@pytest.mark.parametrize("name", ["aes-gcm", "aes-ccm", "chacha20-poly1305"])
def test_copy_of_an_aead_after_a_failed_call(name):
    _need(name)
    ours_new, ref_new, _, _ = KINDS[name]
    ours, ref = ours_new(), ref_new()
    for obj in (ours, ref):
        obj.update(DATA[:7])
    assert outcome(lambda: ours.encrypt(DATA[:8], output=bytearray(3))) == \
        outcome(lambda: ref.encrypt(DATA[:8], output=bytearray(3)))
    twin = copy.copy(ours)
    if _kernel_served(ours):
        other = ref_new()
        other.update(DATA[:7])
        outcome(lambda: other.encrypt(DATA[:8], output=bytearray(3)))
    else:
        other = copy.copy(ref)
    assert [outcome(lambda: twin.encrypt(DATA[:32])), outcome(twin.digest)] == \
        [outcome(lambda: other.encrypt(DATA[:32])), outcome(other.digest)]
    assert [outcome(lambda: ours.encrypt(DATA[:24])), outcome(ours.digest)] == \
        [outcome(lambda: ref.encrypt(DATA[:24])), outcome(ref.digest)]
