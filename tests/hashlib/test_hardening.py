"""Threads, fork, descriptor limits, injected kernel faults and a real seccomp filter.

The kernel-marked tests need AF_ALG (they skip on a host without it and must
pass in the kernel run); the seccomp and policy ones run everywhere.
"""

from __future__ import annotations

import errno
import gc
import hashlib
import hmac as std_hmac
import os
import random
import resource
import subprocess
import sys
import textwrap
import threading

import pytest

import kcapi_hashlib
from _kcapi import _libc, _syscalls, transform
from _kcapi.hash import HOLD_LIMIT
from kcapi_hashlib import hmac

from ..support import fds_in_use, require_kernel_alg

BIG = HOLD_LIMIT + 1


@pytest.fixture
def kernel():
    require_kernel_alg("hash", "sha256")
    kcapi_hashlib.set_backend("kernel")


# -- threads -----------------------------------------------------------------

@pytest.mark.kernel
def test_threads_share_and_own_objects(kernel):
    threads, per_thread = 8, 10_000
    shared = kcapi_hashlib.sha256()
    shared_log: list[bytes] = []
    log_lock = threading.Lock()
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        rng = random.Random(seed)
        mine, ref = kcapi_hashlib.sha512(), hashlib.sha512()
        mac, mac_ref = hmac.new(b"k%d" % seed, digestmod="sha256"), std_hmac.new(b"k%d" % seed, digestmod="sha256")
        try:
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
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors, errors[0]
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


# -- fork --------------------------------------------------------------------

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


# -- descriptor limits -----------------------------------------------------

@pytest.mark.kernel
def test_low_descriptor_limit(kernel):
    transform.clear()  # from a clean start: no earlier test's cached descriptors
    gc.collect()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    try:
        small = [kcapi_hashlib.sha256(b"%d" % i) for i in range(10_000)]  # no descriptor each
        assert small[1234].digest() == hashlib.sha256(b"1234").digest()
        big = []
        with pytest.raises(OSError) as caught:
            for i in range(200):
                h = kcapi_hashlib.sha256(b"%d" % i)
                h.update(b"z" * BIG)  # each of these needs a socket of its own
                big.append(h)
        assert caught.value.errno == errno.EMFILE
        assert "RLIMIT_NOFILE=64" in str(caught.value) and "unchanged" in str(caught.value)
        raised_at = len(big)
        assert raised_at > 20  # nothing but the live objects held the descriptors
        # the object that raised is unchanged and usable once descriptors are free
        del big[:10]
        gc.collect()
        h.update(b"z" * BIG)
        assert h.digest() == hashlib.sha256(b"%d" % raised_at + b"z" * BIG).digest()
        for i, obj in enumerate(big):
            assert obj.digest() == hashlib.sha256(b"%d" % (i + 10) + b"z" * BIG).digest()
    finally:
        del small
        big = None
        gc.collect()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.kernel
def test_cached_descriptors_are_given_back_when_the_process_runs_out(kernel):
    """The caches (bound keyed sockets, idle op sockets) exist to save syscalls:
    when the process is out of descriptors they close theirs before anything fails."""
    transform.clear()
    gc.collect()
    keys = [b"key %d" % n for n in range(20)]
    for key in keys:  # 20 cached keyed transforms, each with an idle op socket
        assert hmac.new(key, b"m", "sha256").digest() == std_hmac.new(key, b"m", "sha256").digest()
    assert sum(t.idle_count() for t in list(transform._live)) >= 20
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    fillers = []
    try:
        while True:  # every descriptor left is taken: only the caches' can be had
            fillers.append(os.open(os.devnull, os.O_RDONLY))
    except OSError as exc:
        assert exc.errno == errno.EMFILE
    try:
        h = kcapi_hashlib.sha256(b"x" * BIG)  # needs a socket of its own
        held = hmac.new(keys[0], b"y" * BIG, "sha256")  # and a bound socket for a dropped key
        assert h.digest() == hashlib.sha256(b"x" * BIG).digest()
        assert held.digest() == std_hmac.new(keys[0], b"y" * BIG, "sha256").digest()
        assert kcapi_hashlib.backend_info(h).backend == "kernel"
        assert len(transform._keyed) <= 2  # the unused keyed transforms were closed
    finally:
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    for key in keys:  # and are bound again on next use
        assert hmac.new(key, b"n", "sha256").digest() == std_hmac.new(key, b"n", "sha256").digest()


# -- injected faults -------------------------------------------------------

class FlakyLib:
    """Stands in for the cffi C library: fails or shortens the next calls of one function."""

    def __init__(self, ffi, lib, name: str, plan: list):
        self._ffi, self._lib, self._name, self._plan = ffi, lib, name, plan

    def __getattr__(self, attr):
        real = getattr(self._lib, attr)
        if attr != self._name:
            return real

        def call(*args):
            if self._plan:
                step = self._plan.pop(0)
                if step[0] == "errno":
                    self._ffi.errno = step[1]
                    return -1
                if step[0] == "short":  # send only the first step[1] bytes
                    args = list(args)
                    args[2] = min(args[2], step[1])
                    return real(*args)
            return real(*args)
        return call


@pytest.fixture
def flaky(monkeypatch):
    def install(name: str, plan: list) -> None:
        ffi, lib = _libc.libc()
        fake = FlakyLib(ffi, lib, name, list(plan))  # one plan, consumed across calls
        monkeypatch.setattr(_libc, "libc", lambda: (ffi, fake))
    return install


@pytest.mark.kernel
def test_eintr_is_retried(kernel, flaky, monkeypatch):
    flaky("send", [("errno", errno.EINTR), ("errno", errno.EINTR)])
    real_read = os.read
    interrupted = []

    def read_once_interrupted(fd, n):
        if not interrupted:
            interrupted.append(fd)
            raise InterruptedError(errno.EINTR, "Interrupted system call")
        return real_read(fd, n)

    monkeypatch.setattr(_syscalls.os, "read", read_once_interrupted)
    h = kcapi_hashlib.sha256(b"a" * BIG)
    assert h.digest() == hashlib.sha256(b"a" * BIG).digest() and interrupted


@pytest.mark.kernel
def test_short_sends_are_resumed(kernel, flaky):
    flaky("send", [("short", 1), ("short", 7), ("short", 4096)])
    data = os.urandom(3 * BIG)
    h = kcapi_hashlib.sha512()
    h.update(data)
    h.update(b"tail" * 5000)
    assert h.digest() == hashlib.sha512(data + b"tail" * 5000).digest()


@pytest.mark.kernel
@pytest.mark.parametrize("err", [errno.EAGAIN, errno.ENOMEM, errno.EPIPE, errno.ECONNRESET])
def test_a_send_failing_mid_stream(kernel, flaky, err):
    h = kcapi_hashlib.sha256(b"a" * BIG)  # holds kernel state
    twin = h.copy()
    gc.collect()  # earlier tests' garbage must not close descriptors mid-measurement
    before = fds_in_use()
    flaky("send", [("errno", err)])
    with pytest.raises(OSError) as caught:
        h.update(b"b" * BIG)
    assert caught.value.errno == err
    # no half-finished state is reused: the object refuses, its socket is closed
    for call in (h.digest, h.copy, lambda: h.update(b"c")):
        with pytest.raises(OSError, match="lost its kernel state"):
            call()
    assert fds_in_use() == before - 1
    twin.update(b"b")  # the copy made before the fault is intact
    assert twin.digest() == hashlib.sha256(b"a" * BIG + b"b").digest()


@pytest.mark.kernel
@pytest.mark.parametrize("err", [errno.ENOKEY, errno.ENOMEM, errno.EBADMSG])
def test_a_failing_digest_read(kernel, monkeypatch, err):
    h = kcapi_hashlib.sha256(b"short")
    gc.collect()  # earlier tests' garbage must not close descriptors mid-measurement
    before = fds_in_use()

    def failing_read(fd, n):
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(_syscalls.os, "read", failing_read)
    with pytest.raises(OSError) as caught:
        h.digest()
    assert caught.value.errno == err
    monkeypatch.undo()
    assert fds_in_use() <= before  # the op socket was discarded, not pooled
    assert h.digest() == hashlib.sha256(b"short").digest()  # held data: the object still works


@pytest.mark.kernel
def test_a_short_digest_read(kernel, monkeypatch):
    real_read = os.read
    monkeypatch.setattr(_syscalls.os, "read", lambda fd, n: real_read(fd, n)[:5])
    with pytest.raises(OSError, match="returned 5 of 32 digest bytes"):
        kcapi_hashlib.sha256(b"x").digest()


def test_ebusy_on_setkey(monkeypatch):
    # socket() and bind() succeed (a placeholder socket), setsockopt(ALG_SET_KEY) fails.
    from ..fakes import RefusingKernel

    transform.clear()
    monkeypatch.setattr(_syscalls, "kernel", RefusingKernel("setsockopt", errno.EBUSY))
    try:
        kcapi_hashlib.set_backend("auto")
        mac = hmac.new(b"key", b"m", "sha256")
        assert mac.digest() == std_hmac.digest(b"key", b"m", "sha256")
        info = kcapi_hashlib.backend_info(mac)
        assert info.backend == "software"
        kcapi_hashlib.set_backend("kernel")
        with pytest.raises(kcapi_hashlib.KernelUnavailableError) as caught:
            hmac.new(b"other key", b"m", "sha256")
        assert caught.value.errno == errno.EBUSY and "setkey" in str(caught.value)
    finally:
        transform.clear()


# -- a real seccomp filter ---------------------------------------------------

SECCOMP_CHILD = textwrap.dedent('''
    import errno, platform, sys
    from cffi import FFI
    ffi = FFI()
    ffi.cdef("""
        struct sock_filter { unsigned short code; unsigned char jt; unsigned char jf; unsigned int k; };
        struct sock_fprog { unsigned short len; struct sock_filter *filter; };
        int prctl(int option, ...);
    """)
    libc = ffi.dlopen(None)
    arch = {"x86_64": (0xC000003E, 41), "aarch64": (0xC00000B7, 198)}.get(platform.machine())
    if arch is None:
        sys.exit(77)
    audit_arch, nr_socket = arch
    LD, JEQ, RET = 0x20, 0x15, 0x06
    ALLOW, EPERM = 0x7FFF0000, 0x00050000 | errno.EPERM
    prog = [(LD, 0, 0, 4), (JEQ, 0, 5, audit_arch), (LD, 0, 0, 0), (JEQ, 0, 3, nr_socket),
            (LD, 0, 0, 16), (JEQ, 0, 1, 38), (RET, 0, 0, EPERM), (RET, 0, 0, ALLOW)]
    filt = ffi.new("struct sock_filter[]", prog)
    fprog = ffi.new("struct sock_fprog *", {"len": len(prog), "filter": filt})
    if libc.prctl(38, ffi.cast("long", 1), ffi.cast("long", 0), ffi.cast("long", 0), ffi.cast("long", 0)):
        sys.exit(77)
    if libc.prctl(22, ffi.cast("long", 2), fprog, ffi.cast("long", 0), ffi.cast("long", 0)):
        sys.exit(77)
    import hashlib, kcapi_hashlib
    h = kcapi_hashlib.sha256(b"abc")           # auto: falls back
    assert h.digest() == hashlib.sha256(b"abc").digest()
    info = kcapi_hashlib.backend_info(h)
    assert info.backend == "software" and info.reason.startswith("blocked"), info
    kcapi_hashlib.set_backend("kernel")
    try:
        kcapi_hashlib.sha256(b"abc")
    except kcapi_hashlib.KernelUnavailableError as exc:
        assert exc.reason == "blocked" and exc.errno == errno.EPERM, exc
        print("refused:", exc)
        sys.exit(0)
    sys.exit(1)
''')


def test_a_seccomp_filter_that_forbids_af_alg():
    done = subprocess.run([sys.executable, "-c", SECCOMP_CHILD], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "KCAPI_BACKEND": "auto"})
    if done.returncode == 77:
        pytest.skip("seccomp filters cannot be installed here")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "seccomp" in done.stdout and "EPERM" in done.stdout


# -- sizes past 32 bits ----------------------------------------------------

def running_in_user_mode_linux() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return "User Mode Linux" in f.read()
    except OSError:
        return False


@pytest.mark.parametrize("path", ["current policy", "kernel logic, emulated"])
def test_a_message_over_4_gib(request, path):
    # A memoryview over an anonymous mapping: no 4 GiB of RAM is touched.
    import mmap

    if running_in_user_mode_linux():
        pytest.skip("User-Mode Linux maps each page of a guest buffer as a host mapping: "
                    "4 GiB exceed the host's vm.max_map_count (the emulated case covers it)")
    if path == "kernel logic, emulated":
        fake = request.getfixturevalue("emulated_kernel")
        kcapi_hashlib.set_backend("kernel")
    size = (4 << 30) + 3
    # MAP_NORESERVE (0x4000 on Linux; Python 3.11 does not name it): more than the RAM here.
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_NORESERVE", 0x4000)
    with mmap.mmap(-1, size, flags=flags) as area:
        area[-3:] = b"end"
        view = memoryview(area)
        try:
            ours = kcapi_hashlib.sha256(view)
            copy = ours.copy()
            ref = hashlib.sha256(view)
            ref_copy = ref.copy()
            assert ours.digest() == ref.digest()
            copy.update(b"!")
            ref_copy.update(b"!")
            assert copy.hexdigest() == ref_copy.hexdigest()
        finally:
            view.release()
    if path == "kernel logic, emulated":
        assert kcapi_hashlib.backend_info(ours).backend == "kernel"
        assert max(fake.sent_sizes) <= 1 << 20 and sum(fake.sent_sizes) >= size
