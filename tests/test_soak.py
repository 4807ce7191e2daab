"""A bounded soak test: every object type, threads and forks, checked against the references.

Runs for KCAPI_SOAK_SECONDS (default 60) where the kernel serves the objects;
counts descriptors and memory before and after.
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

import kcapi_hashlib
from kcapi_hashlib import hmac

from .support import fds_in_use, require_kernel_alg

pytestmark = pytest.mark.kernel

SECONDS = float(os.environ.get("KCAPI_SOAK_SECONDS", "60"))
NAMES = ["md5", "sha1", "sha256", "sha512", "sha3_256", "blake2b"]


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
    return ops + 2


def test_soak():
    require_kernel_alg("hash", "sha256")
    kcapi_hashlib.set_backend("kernel")
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
