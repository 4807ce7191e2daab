"""Cipher objects under threads: one object shared without a caller-side lock, and private
objects of mixed work.

Checked against PyCryptodome, in the kernel run (``kernel_cbc_and_gcm``: tests/cipher/conftest.py).
"""

from __future__ import annotations

import collections
import os
import random
from types import SimpleNamespace
from typing import Any

import pytest
from Crypto.Cipher import AES as RefAES
from Crypto.Cipher import DES3 as RefDES3
from Crypto.Cipher import ChaCha20 as RefChaCha20
from Crypto.Cipher import ChaCha20_Poly1305 as RefChaChaPoly
from Crypto.Hash import CMAC as RefCMAC

from kcapi_cipher import AES, CMAC, DES3, ChaCha20, ChaCha20_Poly1305, Random
from kcapi_cipher._mode_cbc import CbcMode

from ..cipher_support import IV, KEY, KEY32, N12
from ..support import composed_part_missing, needs_composed_part, run_threads

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("kernel_cbc_and_gcm")]

OURS = SimpleNamespace(AES=AES, ChaCha20_Poly1305=ChaCha20_Poly1305)
REFERENCE = SimpleNamespace(AES=RefAES, ChaCha20_Poly1305=RefChaChaPoly)


def tiles(pieces: list[bytes], stream: bytes, probe: int = 8) -> bool:
    """Whether ``pieces`` (in unknown order) cut ``stream`` into consecutive pieces, each used once.

    Each piece is found by its first ``probe`` bytes (keystream: unique with
    overwhelming probability), so the order need not be known.
    """
    by_start: dict[bytes, list[bytes]] = collections.defaultdict(list)
    for piece in pieces:
        by_start[piece[:probe]].append(piece)
    pos = 0
    while pos < len(stream):
        found = by_start.get(stream[pos:pos + probe])
        if not found:
            return False
        piece = found.pop()
        if stream[pos:pos + len(piece)] != piece:
            return False
        pos += len(piece)
    return not any(by_start.values())


# -- threads: one object shared, no caller-side lock -----------------------------------------


@pytest.mark.parametrize("make,ref,unit", [
    (lambda: AES.new(KEY, AES.MODE_CTR, nonce=IV[:8]),
     lambda: RefAES.new(KEY, AES.MODE_CTR, nonce=IV[:8]), 16),
    (lambda: ChaCha20.new(key=KEY32, nonce=N12), lambda: RefChaCha20.new(key=KEY32, nonce=N12), 1),
    (lambda: ChaCha20.new(key=KEY32, nonce=N12[:8]),
     lambda: RefChaCha20.new(key=KEY32, nonce=N12[:8]), 1),
], ids=["aes-ctr", "chacha20", "chacha20-8-byte-nonce"])
def test_a_shared_keystream_object_hands_each_call_a_whole_slice(make, ref, unit):
    """Concurrent encrypt() calls of zeros return keystream slices that tile the keystream.

    Whatever order the object's lock grants them, the outputs must be the
    single-threaded keystream cut at the calls' boundaries: no overlap, no gap,
    no piece of one call inside another (ChaCha20 with partial blocks too).
    """
    shared = make()
    outputs: list[bytes] = []  # list.append is atomic

    def work(n: int) -> None:
        rng = random.Random(n)
        for _ in range(60):
            if unit > 1:
                size = unit * rng.choice((1, 3, 16, 64, 257))
            else:
                size = rng.choice((8, 63, 64, 65, 1000, 4099))
            outputs.append(shared.encrypt(bytes(size)))

    run_threads(8, work)
    total = sum(len(o) for o in outputs)
    assert tiles(outputs, ref().encrypt(bytes(total)))


def test_a_shared_cbc_object_chains_in_the_order_its_lock_grants(monkeypatch):
    """Recorded inside the lock: the ciphertexts, in that order, are one CBC stream."""
    order: list[tuple[bytes, bytes]] = []
    real = CbcMode._process

    def recording(self, src, dst, encrypt):
        real(self, src, dst, encrypt)
        order.append((bytes(src), bytes(dst)))  # still under the object's lock

    monkeypatch.setattr(CbcMode, "_process", recording)
    shared = AES.new(KEY, AES.MODE_CBC, IV)
    returned: list[bytes] = []

    def work(n: int) -> None:
        rng = random.Random(n)
        for _ in range(40):
            data = rng.randbytes(16 * rng.choice((1, 2, 7, 100)))
            returned.append(shared.encrypt(data))

    run_threads(8, work)
    assert sorted(returned) == sorted(out for _, out in order)
    plain = b"".join(src for src, _ in order)
    assert b"".join(out for _, out in order) == RefAES.new(KEY, AES.MODE_CBC, IV).encrypt(plain)


@pytest.mark.usefixtures("af_alg_only")  # AF_ALG's own mechanism
@pytest.mark.parametrize("construction", ["gcm", "ccm", "chacha20-poly1305", "xchacha20-poly1305"])
def test_a_shared_aead_object_keeps_keystream_and_tag_in_step(construction):
    """Concurrent piecewise encrypt() calls of zeros: the pieces tile the reference
    ciphertext and the tag is the reference tag, so each piece was encrypted and
    authenticated whole, in one order."""
    if construction != "ccm":
        needs_composed_part("ghash" if construction == "gcm" else "poly1305")
    rngs = [random.Random(n) for n in range(8)]
    sizes = {n: [rngs[n].choice((8, 16, 100, 5000)) for _ in range(30)] for n in range(8)}
    total = sum(sum(s) for s in sizes.values())
    nonce = {"gcm": N12, "ccm": N12[:11], "chacha20-poly1305": N12,
             "xchacha20-poly1305": bytes(24)}[construction]

    def new(lib: Any) -> Any:
        if construction == "gcm":
            return lib.AES.new(KEY, AES.MODE_GCM, nonce=nonce)
        if construction == "ccm":
            return lib.AES.new(KEY, AES.MODE_CCM, nonce=nonce, msg_len=total, assoc_len=0)
        return lib.ChaCha20_Poly1305.new(key=KEY32, nonce=nonce)

    ours = new(OURS)
    pieces: list[bytes] = []
    run_threads(8, lambda n: [pieces.append(ours.encrypt(bytes(s))) for s in sizes[n]])
    ct, tag = new(REFERENCE).encrypt_and_digest(bytes(total))
    assert tiles(pieces, ct)
    assert ours.digest() == tag


# -- threads: private objects, mixed work -------------------------------------------------

#: Operations per thread (8 threads): each is one or two encrypt/decrypt/digest calls.
MIXED_OPERATIONS = int(os.environ.get("KCAPI_HARDENING_OPS", "2500"))


class _Kept:
    """A thread's long-lived objects, each beside its PyCryptodome twin."""

    def __init__(self, key16: bytes, key32: bytes):
        self.ctr = AES.new(key16, AES.MODE_CTR, nonce=IV[:8])
        self.ref_ctr = RefAES.new(key16, AES.MODE_CTR, nonce=IV[:8])
        self.chacha = ChaCha20.new(key=key32, nonce=N12[:8])
        self.ref_chacha = RefChaCha20.new(key=key32, nonce=N12[:8])
        self.mac = CMAC.new(key16, ciphermod=AES, update_after_digest=True)
        self.ref_mac = RefCMAC.new(key16, ciphermod=RefAES, update_after_digest=True)


def _mixed_round(rng: random.Random, key16: bytes, key32: bytes, kept: _Kept) -> int:
    """One random operation on a fresh or kept private object, checked; returns calls made."""
    data = rng.randbytes(rng.choice((0, 1, 16, 100, 1024, 20_000)))
    pick = rng.randrange(13)
    if pick == 10:  # the kept streams move on by a random amount (partial blocks kept)
        assert kept.ctr.encrypt(data) == kept.ref_ctr.encrypt(data)
        assert kept.chacha.decrypt(data) == kept.ref_chacha.decrypt(data)
    elif pick == 11:  # the kept CMAC: updates, and now and then a digest and a copy
        kept.mac.update(data)
        kept.ref_mac.update(data)
        if rng.random() < 0.2:
            assert kept.mac.copy().digest() == kept.ref_mac.copy().digest()
    elif pick == 12:
        assert kept.mac.digest() == kept.ref_mac.digest()
    elif pick == 0:
        padded = data[:len(data) // 16 * 16]
        assert AES.new(key16, AES.MODE_CBC, IV).encrypt(padded) == \
            RefAES.new(key16, AES.MODE_CBC, IV).encrypt(padded)
    elif pick == 1:
        padded = data[:len(data) // 16 * 16]
        ct = RefAES.new(key32, AES.MODE_ECB).encrypt(padded)
        assert AES.new(key32, AES.MODE_ECB).decrypt(ct) == padded
    elif pick == 2:
        assert AES.new(key16, AES.MODE_CTR, nonce=IV[:8]).encrypt(data) == \
            RefAES.new(key16, AES.MODE_CTR, nonce=IV[:8]).encrypt(data)
    elif pick == 3:
        assert ChaCha20.new(key=key32, nonce=N12).encrypt(data) == \
            RefChaCha20.new(key=key32, nonce=N12).encrypt(data)
    elif pick == 4:
        key24 = DES3.adjust_key_parity(key32[:24])
        padded = data[:len(data) // 8 * 8]
        assert DES3.new(key24, DES3.MODE_CBC, IV[:8]).encrypt(padded) == \
            RefDES3.new(key24, DES3.MODE_CBC, IV[:8]).encrypt(padded)
    elif pick == 5:
        assert AES.new(key16, AES.MODE_GCM, nonce=N12).update(b"a").encrypt_and_digest(data) == \
            RefAES.new(key16, AES.MODE_GCM, nonce=N12).update(b"a").encrypt_and_digest(data)
    elif pick == 6:
        ct, tag = RefAES.new(key16, AES.MODE_CCM, nonce=N12[:11]).encrypt_and_digest(data)
        assert AES.new(key16, AES.MODE_CCM, nonce=N12[:11]).decrypt_and_verify(ct, tag) == data
    elif pick == 7:
        ours = ChaCha20_Poly1305.new(key=key32, nonce=N12)
        ref = RefChaChaPoly.new(key=key32, nonce=N12)
        if composed_part_missing("poly1305"):  # Linux 7.2+: whole messages only
            assert ours.encrypt_and_digest(data) == ref.encrypt_and_digest(data)
        else:
            half = len(data) // 2  # piecewise: the composed path
            assert ours.encrypt(data[:half]) + ours.encrypt(data[half:]) == ref.encrypt(data)
            assert ours.digest() == ref.digest()
    elif pick == 8:
        assert CMAC.new(key16, data, AES).digest() == \
            RefCMAC.new(key16, data, ciphermod=RefAES).digest()
    else:
        got = Random.get_random_bytes(len(data) % 300)
        assert len(got) == len(data) % 300
    return 1


@pytest.mark.usefixtures("af_alg_only")  # AF_ALG's own mechanism
def test_eight_threads_of_mixed_work_on_private_objects():
    keys = [(os.urandom(16), os.urandom(32)) for _ in range(3)]  # shared transforms, cached

    def work(n: int) -> None:
        rng = random.Random(1000 + n)
        kept = _Kept(*keys[n % len(keys)])
        done = 0
        while done < MIXED_OPERATIONS:
            key16, key32 = keys[rng.randrange(len(keys))]
            done += _mixed_round(rng, key16, key32, kept)
        assert kept.mac.digest() == kept.ref_mac.digest()

    run_threads(8, work)
