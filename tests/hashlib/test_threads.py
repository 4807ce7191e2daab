"""hashlib and hmac objects under threads: objects shared and owned, concurrent updates of one object.

The kernel-marked tests need AF_ALG (they skip on a host without it and must
pass in the kernel run; fixture ``kernel`` of tests/hashlib/conftest.py); the others run everywhere.
"""

from __future__ import annotations

import hashlib
import hmac as std_hmac
import random
import threading

import pytest

import kcapi_hashlib
from _kcapi.hash import HOLD_LIMIT
from kcapi_hashlib import hmac

from ..support import run_threads

BIG = HOLD_LIMIT + 1


@pytest.mark.kernel
def test_threads_share_and_own_objects(kernel):
    threads, per_thread = 8, 10_000
    shared = kcapi_hashlib.sha256()
    shared_log: list[bytes] = []
    log_lock = threading.Lock()

    def work(seed: int) -> None:
        rng = random.Random(seed)
        mine, ref = kcapi_hashlib.sha512(), hashlib.sha512()
        mac, mac_ref = hmac.new(b"k%d" % seed, digestmod="sha256"), std_hmac.new(b"k%d" % seed, digestmod="sha256")
        for i in range(per_thread):
            roll = rng.random()
            data = rng.randbytes(rng.choice((1, 50, 700)) if roll < 0.97 else BIG)
            if roll < 0.45:
                mine.update(data)
                ref.update(data)
            elif roll < 0.75:
                mac.update(data)
                mac_ref.update(data)
            elif roll < 0.9:
                # the shared object: updates are serialised; the log records the order
                with log_lock:
                    shared.update(data)
                    shared_log.append(data)
            elif roll < 0.97:
                assert kcapi_hashlib.sha1(data).digest() == hashlib.sha1(data).digest()
            else:
                assert mine.copy().digest() == ref.digest()
                assert mac.digest() == mac_ref.digest()
        assert mine.digest() == ref.digest() and mac.digest() == mac_ref.digest()

    run_threads(threads, work)
    assert shared.digest() == hashlib.sha256(b"".join(shared_log)).digest()


@pytest.mark.kernel
def test_concurrent_updates_of_one_object_are_atomic(kernel):
    # No caller-side lock: the object's own lock must make each update whole, so the
    # digest is that of the pieces in *some* order -- one of the 4! permutations.
    import itertools

    pieces = [bytes([65 + n]) * (BIG + 1000 * n) for n in range(4)]
    allowed = {hashlib.sha256(b"".join(order)).digest() for order in itertools.permutations(pieces)}
    for _ in range(25):
        h = kcapi_hashlib.sha256()
        start = threading.Barrier(len(pieces))

        def feed(piece: bytes) -> None:
            start.wait()
            h.update(piece)

        workers = [threading.Thread(target=feed, args=(p,)) for p in pieces]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert h.digest() in allowed
