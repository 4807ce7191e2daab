"""A stand-in for the core's syscall layer, to provoke kernel answers anywhere."""

from __future__ import annotations

import errno
import os
import socket

import pytest

from _kcapi import _syscalls, transform


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
    """Install a refusing syscall layer; returns a function (step, errno) -> fake."""

    def install(step: str, err: int = errno.EAFNOSUPPORT) -> RefusingKernel:
        fake = RefusingKernel(step, err)
        transform.clear()
        monkeypatch.setattr(_syscalls, "kernel", fake)
        return fake

    yield install
    transform.clear()  # forget the refusals the fake caused
