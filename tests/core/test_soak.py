"""A bounded soak test: every object type, threads and forks, checked against the references.

Runs for KCAPI_SOAK_SECONDS (default 60) where the kernel serves the objects;
counts descriptors and memory before and after.  Hashes and HMAC are checked
against hashlib/hmac, cipher objects (AES CBC/CTR, ChaCha20, GCM, CCM,
ChaCha20-Poly1305, CMAC, Random) against PyCryptodome.
"""

from __future__ import annotations

import gc
import hashlib
import hmac as std_hmac
import os
import random
import resource
import threading
import time

import pytest
from Crypto.Cipher import AES as RefAES
from Crypto.Cipher import ChaCha20 as RefChaCha20
from Crypto.Cipher import ChaCha20_Poly1305 as RefChaChaPoly
from Crypto.Hash import CMAC as RefCMAC

import kcapi_hashlib
from kcapi_cipher import AES, CMAC, ChaCha20, ChaCha20_Poly1305, Random
from kcapi_hashlib import hmac

from _kcapi.names import RNG_NAME, hash_spec, hmac_kernel_name

from ..support import ABSENT, REQUIRE_KERNEL, fds_in_use, kernel_refusal, require_kernel_alg

pytestmark = pytest.mark.kernel

SECONDS = float(os.environ.get("KCAPI_SOAK_SECONDS", "60"))
NAMES = ["md5", "sha1", "sha256", "sha512", "sha3_256", "blake2b"]
#: A few keys, so that transforms are mostly reused; now and then a fresh one (evictions).
KEYS = [bytes([n]) * 32 for n in range(4)]


def one_round(rng: random.Random) -> int:
    """A random mix of hash and HMAC work, every output checked; returns operations done."""
    name = rng.choice(NAMES)
    data = rng.randbytes(rng.choice((0, 1, 100, 5000, 20000, 70000)))
    ops = 0
    h, ref = kcapi_hashlib.new(name), hashlib.new(name)
    for piece in (data[:17], data[17:], data):
        h.update(piece)
        ref.update(piece)
        ops += 1
        if rng.random() < 0.3:
            assert h.copy().digest() == ref.digest()
            ops += 1
    assert h.hexdigest() == ref.hexdigest()
    key = rng.randbytes(rng.choice((0, 16, 64, 200)))
    digestmod = rng.choice(["sha1", "sha256", "sha512"])
    assert hmac.digest(key, data, digestmod) == std_hmac.digest(key, data, digestmod)
    return ops + 2 + cipher_round(rng, data)


def _split(rng: random.Random, data: bytes) -> tuple[bytes, bytes]:
    cut = rng.randrange(len(data) + 1)
    return data[:cut], data[cut:]


def in_pieces_served(part: str) -> bool:
    """Whether an AEAD in pieces is served: not under ``kernel`` where the kernel lacks the
    composed path's ``part`` (Linux 7.2+: whole messages only, through the one-shot AEAD)."""
    return kcapi_hashlib.get_backend() != "kernel" or kernel_refusal("hash", part) is None


def cipher_round(rng: random.Random, data: bytes) -> int:
    """A random mix of cipher work on ``data``, every output checked; returns calls made."""
    key = rng.choice(KEYS) if rng.random() < 0.9 else rng.randbytes(32)
    k16, iv, n12 = key[:16], rng.randbytes(16), rng.randbytes(12)
    head, tail = _split(rng, data)
    pick = rng.randrange(8)
    if pick == 0:  # CBC, in two calls of whole blocks
        head, tail = head[:len(head) // 16 * 16], tail[:len(tail) // 16 * 16]
        ours = AES.new(k16, AES.MODE_CBC, iv)
        assert ours.encrypt(head) + ours.encrypt(tail) == \
            RefAES.new(k16, AES.MODE_CBC, iv).encrypt(head + tail)
        assert AES.new(k16, AES.MODE_CBC, iv).decrypt(
            RefAES.new(k16, AES.MODE_CBC, iv).encrypt(head)) == head
    elif pick == 1:  # CTR split anywhere (kept keystream between the calls)
        ours = AES.new(k16, AES.MODE_CTR, nonce=iv[:8])
        assert ours.encrypt(head) + ours.encrypt(tail) == \
            RefAES.new(k16, AES.MODE_CTR, nonce=iv[:8]).encrypt(data)
    elif pick == 2:
        ours = ChaCha20.new(key=key, nonce=n12)
        assert ours.encrypt(head) + ours.encrypt(tail) == \
            RefChaCha20.new(key=key, nonce=n12).encrypt(data)
    elif pick == 3:  # GCM: one-shot (whole, up to 64 KiB) or composed (piecewise)
        ct, tag = RefAES.new(k16, AES.MODE_GCM, nonce=n12).update(iv).encrypt_and_digest(data)
        ours = AES.new(k16, AES.MODE_GCM, nonce=n12).update(iv)
        if rng.random() < 0.5 or not in_pieces_served("ghash"):
            assert ours.encrypt_and_digest(data) == (ct, tag)
        else:
            assert ours.encrypt(head) + ours.encrypt(tail) == ct and ours.digest() == tag
        opened = AES.new(k16, AES.MODE_GCM, nonce=n12).update(iv)
        assert opened.decrypt_and_verify(ct, tag) == data
        with pytest.raises(ValueError, match="MAC check failed"):
            AES.new(k16, AES.MODE_GCM, nonce=n12).update(iv).decrypt_and_verify(
                ct, bytes(16))
    elif pick == 4:  # CCM: one-shot, or piecewise with declared lengths
        ct, tag = RefAES.new(k16, AES.MODE_CCM, nonce=n12[:11]).update(iv).encrypt_and_digest(data)
        if rng.random() < 0.5:
            ours = AES.new(k16, AES.MODE_CCM, nonce=n12[:11]).update(iv)
            assert ours.encrypt_and_digest(data) == (ct, tag)
        else:
            ours = AES.new(k16, AES.MODE_CCM, nonce=n12[:11], msg_len=len(data), assoc_len=16)
            ours.update(iv)
            assert ours.encrypt(head) + ours.encrypt(tail) == ct and ours.digest() == tag
        opened = AES.new(k16, AES.MODE_CCM, nonce=n12[:11]).update(iv)
        assert opened.decrypt_and_verify(ct, tag) == data
    elif pick == 5:
        ref = RefChaChaPoly.new(key=key, nonce=n12)
        ref.update(iv)
        ct, tag = ref.encrypt_and_digest(data)
        ours = ChaCha20_Poly1305.new(key=key, nonce=n12)
        ours.update(iv)
        if rng.random() < 0.5 or not in_pieces_served("poly1305"):
            assert ours.encrypt_and_digest(data) == (ct, tag)
        else:
            assert ours.encrypt(head) + ours.encrypt(tail) == ct and ours.digest() == tag
        opened = ChaCha20_Poly1305.new(key=key, nonce=n12)
        opened.update(iv)
        assert opened.decrypt_and_verify(ct, tag) == data
    elif pick == 6:  # CMAC, streaming, with a copy
        ours, ref = CMAC.new(k16, head, AES), RefCMAC.new(k16, head, ciphermod=RefAES)
        assert ours.copy().digest() == ref.copy().digest()
        ours.update(tail)
        ref.update(tail)
        assert ours.hexdigest() == ref.hexdigest()
    else:
        size = len(data) % 1000
        got = Random.get_random_bytes(size)
        assert len(got) == size and (size < 16 or got != Random.get_random_bytes(size))
    return 3


def soak_policy() -> str:
    """``kernel`` where every algorithm the soak uses binds here; else (af_alg_restrict's
    allow-list, or one this kernel lacks) ``auto``: the refused ones are software-served,
    and still compared."""
    uses = [("hash", hash_spec(name).kernel) for name in NAMES]
    uses += [("hash", hmac_kernel_name(hash_spec(name))) for name in NAMES]
    uses += [("skcipher", "cbc(aes)"), ("skcipher", "ctr(aes)"), ("skcipher", "chacha20"),
             ("aead", "gcm(aes)"), ("aead", "ccm(aes)"), ("aead", "rfc7539(chacha20,poly1305)"),
             ("hash", "cmac(aes)"), ("rng", RNG_NAME)]
    refused = {name: kernel_refusal(kind, name) for kind, name in uses}
    refused = {name: why for name, why in refused.items() if why is not None}
    # The kernel run fails for any refusal but an algorithm this kernel (or the chosen
    # interface: /dev/crypto's fixed list) lacks outright (Linux 7.x: hmac(blake2b-*)),
    # which the fallback then serves.
    unexpected = [name for name, why in refused.items() if why.reason not in ABSENT]
    if unexpected and REQUIRE_KERNEL:
        pytest.fail(f"the kernel run cannot serve {', '.join(unexpected)}")
    return "auto" if refused else "kernel"


def test_soak():
    require_kernel_alg("hash", "sha1")  # AF_ALG here at all (sha1 is on every allow-list)
    kcapi_hashlib.set_backend(soak_policy())
    rng = random.Random(0)
    for _ in range(30):  # warm the caches and pools before counting
        one_round(rng)
    gc.collect()
    fds_before = fds_in_use()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    deadline = time.monotonic() + SECONDS
    counts: list[int] = []
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        local = random.Random(seed)
        done = 0
        try:
            while time.monotonic() < deadline:
                done += one_round(local)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        counts.append(done)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    forks, fork_time = 0, 0.0
    while time.monotonic() < deadline and not errors:
        time.sleep(SECONDS / 8)
        started = time.monotonic()
        pid = os.fork()  # while the threads run: children check their own work
        if pid == 0:
            try:
                child_rng = random.Random(os.getpid())
                for _ in range(20):
                    one_round(child_rng)
                os._exit(0)
            except BaseException:  # noqa: BLE001
                import traceback

                traceback.print_exc()  # the parent can only see the exit status
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "a forked child saw a wrong digest"
        forks += 1
        fork_time += time.monotonic() - started
    for t in threads:
        t.join()
    assert not errors, errors[0]
    gc.collect()
    assert fds_in_use() == fds_before
    growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    print(f"soak: {sum(counts)} operations in {SECONDS:.0f} s, {forks} forks "
          f"({fork_time:.1f} s in children), max RSS growth {growth_kib} KiB")
    assert sum(counts) > 0 and forks > 0
    assert growth_kib < 64 * 1024
