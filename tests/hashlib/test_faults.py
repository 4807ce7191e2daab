"""hashlib objects under injected kernel faults (EINTR, short sends, failing sends and
reads, EBUSY on setkey) and under a real seccomp filter that forbids AF_ALG.

Faults are injected through a stand-in for the cffi C library (``tests.fakes.FlakyLib``).

The kernel-marked tests need AF_ALG (they skip on a host without it and must
pass in the kernel run; fixture ``kernel`` of tests/hashlib/conftest.py); the others run everywhere.
"""

from __future__ import annotations

import errno
import gc
import hashlib
import hmac as std_hmac
import os
import subprocess
import sys
import textwrap

import pytest

import kcapi_hashlib
from _kcapi import _libc, _syscalls, transform
from _kcapi.hash import HOLD_LIMIT
from kcapi_hashlib import hmac

from ..fakes import FlakyLib
from ..support import fds_in_use

# AF_ALG's own mechanisms (see tests/conftest.py af_alg_only): AF_ALG whatever the interface.
pytestmark = pytest.mark.usefixtures("af_alg_only")

BIG = HOLD_LIMIT + 1


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
                          timeout=120, env={**os.environ, "KCAPI_BACKEND": "auto",
                                            "KCAPI_INTERFACE": "af_alg"})
    if done.returncode == 77:
        pytest.skip("seccomp filters cannot be installed here")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "seccomp" in done.stdout and "EPERM" in done.stdout
