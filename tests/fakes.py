"""A stand-in for the core's syscall layer, to provoke kernel answers anywhere."""

from __future__ import annotations

import errno
import os
import socket

import pytest

from _kcapi import _syscalls, transform
from _kcapi._constants import MSG_MORE


class RefusingKernel(_syscalls.Kernel):
    """Fails ``step`` ('socket', 'bind', 'setsockopt', 'accept', 'any') with ``err``.

    The steps before it succeed without a kernel: ``socket()`` hands out an
    AF_UNIX placeholder, so a refusal at ``bind`` can be provoked on a host
    without AF_ALG too.
    """

    def __init__(self, step: str, err: int):
        self.step = step
        self.err = err
        self.calls: list[str] = []

    def _maybe_fail(self, step: str) -> None:
        self.calls.append(step)
        if self.step in (step, "any"):
            raise OSError(self.err, os.strerror(self.err))

    def socket(self):
        self._maybe_fail("socket")
        return socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)

    def bind(self, sock, kind, name):
        self._maybe_fail("bind")

    def setsockopt(self, sock, option, value, length=0):
        self._maybe_fail("setsockopt")
        return super().setsockopt(sock, option, value, length)

    def accept(self, sock):
        self._maybe_fail("accept")
        return super().accept(sock)


@pytest.fixture
def fake_kernel(monkeypatch):
    """Install a refusing syscall layer; returns a function (step, errno) -> fake.

    The process looks like one on a kernel without ``af_alg_restrict`` (whatever
    this kernel has) unless the test sets ``restriction_files`` itself.
    """

    from _kcapi import restriction

    monkeypatch.setattr(restriction, "SYSCTL", restriction.SYSCTL.with_name("absent"))

    def install(step: str, err: int = errno.EAFNOSUPPORT) -> RefusingKernel:
        fake = RefusingKernel(step, err)
        transform.clear()
        monkeypatch.setattr(_syscalls, "kernel", fake)
        return fake

    yield install
    transform.clear()  # forget the refusals the fake caused


@pytest.fixture
def restriction_files(tmp_path, monkeypatch):
    """Point ``_kcapi.restriction`` at files of the test's own; returns a setter.

    ``set_files(setting, caps=0, uid_map="0 0 4294967295")``: ``setting`` None
    means a kernel without ``af_alg_restrict``; ``caps`` is the CapEff mask.
    Until called, the process looks like one on a kernel without the setting.
    """
    from _kcapi import restriction

    def set_files(setting: int | None, caps: int = 0, uid_map: str = "0 0 4294967295") -> None:
        sysctl = tmp_path / "af_alg_restrict"
        if setting is None:
            sysctl.unlink(missing_ok=True)
        else:
            sysctl.write_text(f"{setting}\n")
        (tmp_path / "status").write_text(f"Name:\tpython\nCapEff:\t{caps:016x}\n")
        (tmp_path / "uid_map").write_text(f"{uid_map}\n")
        monkeypatch.setattr(restriction, "SYSCTL", sysctl)
        monkeypatch.setattr(restriction, "STATUS", tmp_path / "status")
        monkeypatch.setattr(restriction, "UID_MAP", tmp_path / "uid_map")

    set_files(None)
    return set_files


class EmulatedKernel(_syscalls.Kernel):
    """algif_hash emulated with hashlib, for the kernel path's logic where no kernel can run it.

    Op sockets are real descriptors (of /dev/null) so that closing them is real;
    their hash state lives here: ``accept`` on the bound socket gives a fresh
    state, on an op socket a copy; a send without MSG_MORE or a read finalizes.
    """

    def __init__(self):
        self.names: dict[int, str] = {}
        self.state: dict[int, object] = {}
        self.result: dict[int, bytes] = {}
        self.parent: dict[int, int] = {}
        self.sent_sizes: list[int] = []

    def socket(self):
        return socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)

    def bind(self, sock, kind, name):
        self.names[sock.fileno()] = name

    def setsockopt(self, sock, option, value, length=0):
        raise OSError(errno.ENOPROTOOPT, "emulated hashes take no keys")

    def accept_fd(self, fd):
        new = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        if fd in self.names:  # the bound socket: a fresh op socket
            self.parent[new] = fd
        else:
            self.parent[new] = self.parent[fd]
            if self.state.get(fd) is not None:
                self.state[new] = self.state[fd].copy()
        return new

    def send_fd(self, fd, buffers, flags=0):
        import hashlib

        name = self.names[self.parent[fd]].replace("-", "_")
        state = self.state.get(fd) or hashlib.new(name)
        for b in buffers:
            self.sent_sizes.append(len(b))
            state.update(b)
        if flags & MSG_MORE:
            self.state[fd] = state
        else:
            self.state[fd] = None
            self.result[fd] = state.digest()

    def send_recorded(self, fd, buffers, flags, record):
        self.send_fd(fd, buffers, flags)
        record.extend((sum(len(b) for b in buffers), 0))

    def read_fd(self, fd, size):
        import hashlib

        if fd in self.result:
            return self.result.pop(fd)[:size]
        state = self.state.pop(fd, None)
        if state is None:
            state = hashlib.new(self.names[self.parent[fd]].replace("-", "_"))
        return state.digest()[:size]

    def close_fd(self, fd):
        self.state.pop(fd, None)
        self.result.pop(fd, None)
        self.parent.pop(fd, None)
        os.close(fd)


@pytest.fixture
def emulated_kernel(monkeypatch):
    """Install :class:`EmulatedKernel` as the syscall layer (hashes only)."""
    fake = EmulatedKernel()
    transform.clear()
    monkeypatch.setattr(_syscalls, "kernel", fake)
    yield fake
    transform.clear()
