"""hashlib objects across fork: parent and child each with their own state; multiprocessing workers.

The kernel-marked tests need AF_ALG (they skip on a host without it and must
pass in the kernel run; fixture ``kernel`` of tests/hashlib/conftest.py); the others run everywhere.
"""

from __future__ import annotations

import hashlib
import hmac as std_hmac
import os

import pytest

import kcapi_hashlib
from _kcapi.hash import HOLD_LIMIT
from kcapi_hashlib import hmac

BIG = HOLD_LIMIT + 1


@pytest.mark.kernel
def test_fork_gives_parent_and_child_their_own_state(kernel):
    prefix = b"p" * BIG
    h = kcapi_hashlib.sha256(prefix)
    mac = hmac.new(b"key", prefix, "sha256")
    kcapi_hashlib.sha256(b"fill the pool").digest()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        ok = False
        try:
            os.close(write_end)
            os.read(read_end, 1)  # wait until the parent has changed its own state
            h.update(b"child")
            mac.update(b"child")
            ok = (h.digest() == hashlib.sha256(prefix + b"child").digest()
                  and mac.digest() == std_hmac.digest(b"key", prefix + b"child", "sha256")
                  and kcapi_hashlib.sha256(b"c").digest() == hashlib.sha256(b"c").digest())
        finally:
            os._exit(0 if ok else 1)
    os.close(read_end)
    # The parent moves first: the child must not see this.
    h.update(b"parent" * 5000)
    mac.update(b"parent")
    os.write(write_end, b"go")
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert h.digest() == hashlib.sha256(prefix + b"parent" * 5000).digest()
    assert mac.digest() == std_hmac.digest(b"key", prefix + b"parent", "sha256")


@pytest.mark.kernel
def test_multiprocessing_fork_workers(kernel):
    import multiprocessing

    global _INHERITED
    # Hash objects cannot be pickled (as hashlib's): workers inherit this one by fork.
    _INHERITED = h = kcapi_hashlib.sha1(b"q" * BIG)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(3) as pool:
        results = pool.map(_extend_and_digest, [b"%d" % n for n in range(6)])
    assert results == [hashlib.sha1(b"q" * BIG + b"%d" % n).digest() for n in range(6)]
    assert h.digest() == hashlib.sha1(b"q" * BIG).digest()


_INHERITED = None


def _extend_and_digest(extra):
    mine = _INHERITED.copy()
    mine.update(extra)
    return mine.digest()
