"""Behaviour only a kernel with AF_ALG shows: served-by, clone via accept, fds, splice.

Marked ``kernel``: they skip on a host without AF_ALG and must pass (never
skip) in the kernel run.
"""

import errno
import gc
import gzip
import hashlib
import hmac as std_hmac
import io
import os

import pytest

import kcapi_hashlib
from _kcapi import _syscalls, transform
from _kcapi.pool import POOL_SIZE
from _kcapi.hash import HOLD_LIMIT, kernel_hash_of
from _kcapi.names import HASHES
from kcapi_hashlib import hmac

from ..support import (KERNEL_GUARANTEED, copy_with_one_descriptor, fds_in_use, open_fds,
                       require_kernel_alg)
from ..fakes import CountingKernel, FailingHashSend

pytestmark = pytest.mark.kernel


@pytest.fixture(autouse=True)
def kernel_only():
    require_kernel_alg("hash", "sha256")
    kcapi_hashlib.set_backend("kernel")


@pytest.mark.parametrize("name", KERNEL_GUARANTEED)
def test_guaranteed_algorithms_are_served_by_the_kernel(name):
    require_kernel_alg("hash", HASHES[name].kernel)
    h = kcapi_hashlib.new(name, b"abc")
    info = kcapi_hashlib.backend_info(h)
    assert info.backend == "kernel" and info.algorithm == HASHES[name].kernel
    assert info.driver not in ("", "unknown") and info.priority >= 0
    assert info.implementation in ("generic", "arch", "offload")
    assert h.digest() == hashlib.new(name, b"abc").digest()
    assert (h.name, h.digest_size, h.block_size) == (
        hashlib.new(name).name, hashlib.new(name).digest_size, hashlib.new(name).block_size)
    assert info.driver in repr(h) or HASHES[name].kernel in repr(h)


def test_hmac_is_served_by_the_kernel():
    mac = hmac.new(b"key", b"msg", "sha256")
    info = kcapi_hashlib.backend_info(mac)
    assert info.backend == "kernel" and info.algorithm == "hmac(sha256)"
    assert (mac.name, mac.digest_size, mac.block_size) == ("hmac-sha256", 32, 64)
    assert isinstance(mac, hmac.HMAC)


@pytest.mark.parametrize("size", [10, HOLD_LIMIT + 1, 3 * 1024 * 1024])
def test_digest_does_not_finalize(size):
    data = os.urandom(size)
    h, ref = kcapi_hashlib.sha256(data), hashlib.sha256(data)
    assert h.digest() == ref.digest()
    h.update(b"more")
    ref.update(b"more")
    assert h.digest() == ref.digest() and h.hexdigest() == ref.hexdigest()


@pytest.mark.usefixtures("af_alg_only")  # AF_ALG's own mechanism
def test_copy_clones_the_kernel_state_with_one_descriptor():
    data = os.urandom(HOLD_LIMIT * 2)
    h = kcapi_hashlib.sha512(data)
    twin, before = copy_with_one_descriptor(h)
    h.update(b"left")
    twin.update(b"right")
    assert h.digest() == hashlib.sha512(data + b"left").digest()
    assert twin.digest() == hashlib.sha512(data + b"right").digest()
    del twin
    gc.collect()
    assert fds_in_use() == before


def test_copy_of_held_data_needs_no_descriptor():
    h = kcapi_hashlib.sha256(b"small")
    gc.collect()  # earlier tests' garbage must not close descriptors mid-measurement
    before = fds_in_use()
    twin = h.copy()
    assert fds_in_use() == before
    assert twin.digest() == hashlib.sha256(b"small").digest()


@pytest.mark.usefixtures("af_alg_only")  # AF_ALG's own mechanism
def test_hundred_thousand_objects_leave_no_descriptor_behind():
    kcapi_hashlib.sha256(b"warm").digest()
    hmac.new(b"k", b"warm", "sha256").digest()
    gc.collect()
    before = open_fds()
    in_use_at_start = fds_in_use()
    big = b"x" * (HOLD_LIMIT + 1)
    for i in range(100_000):
        h = kcapi_hashlib.sha256(b"%d" % i)
        if i % 10 == 0:
            h.digest()
        if i % 1000 == 0:
            h.update(big)  # gives the object an op socket of its own
            h.copy().digest()
            hmac.new(b"k", b"%d" % i, "sha256").digest()
    del h
    gc.collect()
    assert fds_in_use() == in_use_at_start
    # The pools of sha256 and the keyed hmac(sha256) are bounded.
    assert open_fds() <= before + 2 * POOL_SIZE


def test_streaming_and_one_shot_reuse_pooled_sockets():
    tfm = transform.get("hash", "sha256")
    kcapi_hashlib.sha256(b"x").digest()
    idle = tfm.idle_count()
    assert 1 <= idle <= POOL_SIZE
    for _ in range(50):
        kcapi_hashlib.sha256(b"y" * 100).digest()
    assert tfm.idle_count() == idle


def test_keyed_transforms_are_cached_per_key():
    a = hmac.new(b"key-a", b"m", "sha256")
    again = hmac.new(b"key-a", b"n", "sha256")
    b = hmac.new(b"key-b", b"m", "sha256")
    tfm = [kernel_hash_of(mac)._tfm for mac in (a, again, b)]  # the kernel state an HMAC holds
    assert tfm[0] is tfm[1] and tfm[0] is not tfm[2]
    assert a.digest() == std_hmac.digest(b"key-a", b"m", "sha256")
    assert b.digest() == std_hmac.digest(b"key-b", b"m", "sha256")


@pytest.mark.parametrize("key_size", [0, 1, 63, 64, 65, 128, 129, 4096, 100_000])
def test_hmac_key_sizes(key_size):
    key = os.urandom(key_size)
    for name in ("sha256", "sha512"):
        assert hmac.new(key, b"msg", name).digest() == std_hmac.new(key, b"msg", name).digest()


@pytest.mark.parametrize("digest_size", [20, 32, 48, 64])
@pytest.mark.parametrize("key_size", [0, 1, 32, 64])
def test_keyed_blake2b_in_the_kernel(digest_size, key_size):
    require_kernel_alg("hash", f"blake2b-{digest_size * 8}")
    key = os.urandom(key_size)
    h = kcapi_hashlib.blake2b(b"message", digest_size=digest_size, key=key)
    assert kcapi_hashlib.backend_info(h).backend == "kernel"
    assert h.digest() == hashlib.blake2b(b"message", digest_size=digest_size, key=key).digest()
    assert h.digest_size == digest_size and h.name == "blake2b"


def test_pbkdf2_runs_in_the_kernel_and_matches():
    for name in ("sha1", "sha256", "sha512"):
        for dklen in (None, 1, 33, 100):
            assert kcapi_hashlib.pbkdf2_hmac(name, b"pw", b"salt", 50, dklen) == \
                hashlib.pbkdf2_hmac(name, b"pw", b"salt", 50, dklen)


@pytest.mark.usefixtures("af_alg_only")  # AF_ALG's own mechanism: splice
@pytest.mark.parametrize("size", [0, 1, 4097, 3 * 1024 * 1024 + 7])
def test_file_digest_splices_a_regular_file(tmp_path, monkeypatch, size):
    path = tmp_path / "data"
    path.write_bytes(os.urandom(size))
    counting = CountingKernel()
    monkeypatch.setattr(_syscalls, "kernel", counting)
    reported: list[int] = []
    with open(path, "rb") as f:
        f.read(min(size, 3))  # a buffered read first: hashing starts at the logical position
        ours = kcapi_hashlib.file_digest(f, "sha256", _progress=reported.append)
        assert f.tell() == size and f.read() == b""
    assert sum(reported) == size - min(size, 3)
    with open(path, "rb") as f:
        f.read(min(size, 3))
        ref = hashlib.file_digest(f, "sha256")
    assert ours.digest() == ref.digest()
    assert kcapi_hashlib.backend_info(ours).backend == "kernel"
    assert counting.splices >= 1


class XorFileIO(io.FileIO):
    """Reads that are not the descriptor's bytes."""

    def readinto(self, buffer):
        size = super().readinto(buffer)
        view = memoryview(buffer)[:size or 0]
        view[:] = bytes(b ^ 1 for b in view)
        return size


def _buffered_random(path):
    f = open(path, "r+b")
    f.seek(10)
    f.write(b"pending")  # still in the buffer: flushed before the splice
    return f


SPLICED = {
    "open rb": (lambda p: open(p, "rb"), True),
    "open rb after peek": (lambda p: _peeked(open(p, "rb")), True),
    "FileIO": (lambda p: open(p, "rb", buffering=0), True),
    "BufferedRandom with a pending write": (_buffered_random, True),
    "gzip.open": (lambda p: gzip.open(p.with_suffix(".gz"), "rb"), False),
    "FileIO subclass": (lambda p: XorFileIO(p, "rb"), False),
    "BufferedReader over a FileIO subclass": (lambda p: io.BufferedReader(XorFileIO(p, "rb")),
                                              False),
}


def _peeked(f):
    f.read(5)
    f.peek(1)
    return f


@pytest.mark.usefixtures("af_alg_only")  # AF_ALG's own mechanism: splice
@pytest.mark.parametrize("opener,spliced", SPLICED.values(), ids=SPLICED.keys())
def test_file_digest_splices_only_what_reads_its_descriptor(tmp_path, monkeypatch, opener,
                                                            spliced):
    path = tmp_path / "data"
    data = os.urandom(200_000)
    path.write_bytes(data)
    with gzip.open(path.with_suffix(".gz"), "wb") as f:
        f.write(data)
    counting = CountingKernel()
    monkeypatch.setattr(_syscalls, "kernel", counting)
    with opener(path) as ours:
        got = kcapi_hashlib.file_digest(ours, "sha256")
        left = ours.tell(), ours.read()
    path.write_bytes(data)
    with opener(path) as ref:
        want = hashlib.file_digest(ref, "sha256")
        assert left == (ref.tell(), ref.read())
    assert got.digest() == want.digest() and kcapi_hashlib.backend_info(got).backend == "kernel"
    assert (counting.splices > 0) == spliced


@pytest.mark.parametrize("name", ["/proc/version", "/proc/self/cmdline"])
def test_file_digest_of_files_whose_size_says_nothing(name):
    """procfs files report size 0: splice or read, the digest is of what a read returns."""
    with open(name, "rb") as f:
        got = kcapi_hashlib.file_digest(f, "sha256")
    with open(name, "rb") as f:
        assert got.digest() == hashlib.file_digest(f, "sha256").digest()


def test_file_digest_reads_what_it_cannot_splice():
    read_end, write_end = os.pipe()
    payload = os.urandom(100_000)
    os.write(write_end, payload[:60_000])
    os.close(write_end)
    with open(read_end, "rb") as f:
        ours = kcapi_hashlib.file_digest(f, kcapi_hashlib.sha256)
    assert ours.digest() == hashlib.sha256(payload[:60_000]).digest()
    buffer = io.BytesIO(payload)
    assert kcapi_hashlib.file_digest(buffer, "sha1").digest() == hashlib.sha1(payload).digest()


@pytest.mark.usefixtures("af_alg_only")  # AF_ALG's own mechanism
def test_a_failed_send_makes_the_object_unusable(monkeypatch):
    h = kcapi_hashlib.sha256(b"start")

    gc.collect()  # earlier tests' garbage must not close descriptors mid-measurement
    before = fds_in_use()
    monkeypatch.setattr(_syscalls, "kernel", FailingHashSend())
    with pytest.raises(OSError) as caught:
        h.update(b"z" * (HOLD_LIMIT + 1))
    assert caught.value.errno == errno.ENOMEM
    monkeypatch.undo()
    with pytest.raises(OSError, match="lost its kernel state"):
        h.digest()
    with pytest.raises(OSError, match="lost its kernel state"):
        h.update(b"more")
    assert fds_in_use() <= before


def test_child_process_gets_its_own_state():
    h = kcapi_hashlib.sha256(b"p" * (HOLD_LIMIT + 1))
    pid = os.fork()
    if pid == 0:  # child: continue the inherited object; must not disturb the parent
        try:
            h.update(b"child")
            ok = h.digest() == hashlib.sha256(b"p" * (HOLD_LIMIT + 1) + b"child").digest()
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    h.update(b"parent")
    assert h.digest() == hashlib.sha256(b"p" * (HOLD_LIMIT + 1) + b"parent").digest()
