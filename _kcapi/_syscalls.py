"""The one layer that talks to the kernel.

Every system call of the library goes through :data:`kernel`, an instance of
:class:`Kernel`.  Each method makes exactly one system call (``send_all`` makes
as few as the kernel allows), retries it when a signal interrupts it (EINTR)
and lets any other failure propagate as ``OSError`` with its errno.  Fault
injection tests replace :data:`kernel` with a subclass; callers must look it
up as ``_syscalls.kernel`` at call time, never import the name.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable, Sequence
from typing import TypeVar

from . import _libc
from ._constants import AF_ALG, SOL_ALG

_SOCK_CLOEXEC = getattr(socket, "SOCK_CLOEXEC", 0o2000000)


def _raise_unless_eintr(err: int) -> None:
    if err != errno.EINTR:
        raise OSError(err, os.strerror(err))

T = TypeVar("T")

Buffer = bytes | bytearray | memoryview


def _retry(call: Callable[[], T]) -> T:
    while True:
        try:
            return call()
        except InterruptedError:
            continue


class Kernel:
    """System calls on AF_ALG sockets, pipes and files."""

    def socket(self) -> socket.socket:
        """Create an AF_ALG socket (close-on-exec)."""
        return _retry(lambda: socket.socket(AF_ALG, socket.SOCK_SEQPACKET, 0))

    def bind(self, sock: socket.socket, kind: str, name: str) -> None:
        """Bind ``sock`` to algorithm ``name`` of type ``kind`` ('hash', 'skcipher', ...)."""
        _retry(lambda: sock.bind((kind, name)))

    def setsockopt(self, sock: socket.socket, option: int, value: bytes | None, length: int = 0) -> None:
        """``setsockopt(SOL_ALG, option, ...)``: a buffer, or ``None`` with a length."""
        if value is None:
            _retry(lambda: sock.setsockopt(SOL_ALG, option, None, length))
        else:
            _retry(lambda: sock.setsockopt(SOL_ALG, option, value))

    def accept(self, sock: socket.socket) -> socket.socket:
        """``accept()``: a new operation socket (a clone of the state for a hash op)."""
        return _retry(sock.accept)[0]

    def sendmsg(self, sock: socket.socket, buffers: Sequence[Buffer],
                ancdata: Sequence[tuple[int, int, bytes]] = (), flags: int = 0) -> int:
        """One ``sendmsg``; returns how many bytes the kernel took."""
        return _retry(lambda: sock.sendmsg(buffers, ancdata, flags))

    def send_all(self, sock: socket.socket, buffers: Sequence[Buffer], flags: int = 0) -> None:
        """Send every byte of ``buffers`` with ``flags``, resuming after a short send."""
        views = [memoryview(b).cast("B") for b in buffers if len(b)]
        while views:
            sent = self.sendmsg(sock, views, (), flags)
            while views and sent >= len(views[0]):
                sent -= len(views[0])
                views.pop(0)
            if views:
                views[0] = views[0][sent:]

    # -- op sockets as plain descriptors (no socket object, see _libc) ------

    def accept_fd(self, fd: int) -> int:
        """``accept4(fd, SOCK_CLOEXEC)``: a new op socket as a descriptor."""
        ffi, lib = _libc.libc()
        while True:
            new = lib.accept4(fd, ffi.NULL, ffi.NULL, _SOCK_CLOEXEC)
            if new >= 0:
                return int(new)
            _raise_unless_eintr(ffi.errno)

    def send_fd(self, fd: int, buffers: Sequence[Buffer], flags: int = 0) -> None:
        """Send every byte of ``buffers`` on descriptor ``fd`` in as few calls as the kernel allows."""
        ffi, lib = _libc.libc()
        views = [memoryview(b).cast("B") for b in buffers if len(b)]
        while views:
            if len(views) == 1:
                sent = lib.send(fd, ffi.from_buffer(views[0]), len(views[0]), flags)
            else:
                iov = ffi.new("struct iovec[]", len(views))
                keep = [ffi.from_buffer(v) for v in views]
                for i, (ptr, v) in enumerate(zip(keep, views)):
                    iov[i].iov_base = ptr
                    iov[i].iov_len = len(v)
                msg = ffi.new("struct msghdr *")
                msg.msg_iov = iov
                msg.msg_iovlen = len(views)
                sent = lib.sendmsg(fd, msg, flags)
            if sent < 0:
                _raise_unless_eintr(ffi.errno)
                continue
            while views and sent >= len(views[0]):
                sent -= len(views[0])
                views.pop(0)
            if views:
                views[0] = views[0][sent:]

    # -- the kernel keyring (add_key(2), keyctl(2)) -------------------------

    def _key_syscall(self, which: int, *args: object) -> int:
        import platform

        ffi, lib = _libc.libc()
        numbers = _libc.KEY_SYSCALLS.get(platform.machine())
        if numbers is None:
            raise OSError(errno.ENOSYS, f"keyring calls are not mapped for {platform.machine()}")
        while True:
            result = lib.syscall(ffi.cast("long", numbers[which]), *args)
            if result >= 0:
                return int(result)
            _raise_unless_eintr(ffi.errno)

    def add_key(self, key_type: str, description: str, payload: bytes, keyring: int) -> int:
        """``add_key(2)``: put ``payload`` in ``keyring``; returns the new key's serial."""
        ffi, _ = _libc.libc()
        data = ffi.from_buffer(payload) if len(payload) else ffi.NULL
        return self._key_syscall(0, ffi.new("char[]", key_type.encode()),
                                 ffi.new("char[]", description.encode()), data,
                                 ffi.cast("size_t", len(payload)), ffi.cast("long", keyring))

    def keyctl(self, operation: int, *args: int | str) -> int:
        """``keyctl(2)`` with integer or string arguments; returns its result."""
        ffi, _ = _libc.libc()
        converted = [ffi.new("char[]", a.encode()) if isinstance(a, str) else ffi.cast("long", a)
                     for a in args]
        return self._key_syscall(1, ffi.cast("long", operation), *converted)

    def read_fd(self, fd: int, size: int) -> bytes:
        """One ``read`` (a ``recv`` without flags) of at most ``size`` bytes."""
        return _retry(lambda: os.read(fd, size))

    def recv(self, sock: socket.socket, size: int) -> bytes:
        """One ``recv`` of at most ``size`` bytes."""
        return _retry(lambda: sock.recv(size))

    def recv_into(self, sock: socket.socket, buffer: memoryview, size: int = 0) -> int:
        """One ``recv`` into ``buffer``; returns the byte count."""
        return _retry(lambda: sock.recv_into(buffer, size))

    def recvmsg_into(self, sock: socket.socket, buffers: Sequence[memoryview]) -> int:
        """One ``recvmsg`` scattering into ``buffers``; returns the byte count."""
        return _retry(lambda: sock.recvmsg_into(buffers))[0]

    def getsockopt(self, sock: socket.socket, level: int, option: int) -> int:
        """``getsockopt(level, option)`` of an integer option (e.g. SO_SNDBUF)."""
        return _retry(lambda: sock.getsockopt(level, option))

    def urandom(self, size: int) -> bytes:
        """``getrandom(2)``: ``size`` bytes from the kernel's CSPRNG (``os.urandom``)."""
        return os.urandom(size)

    def close(self, sock: socket.socket) -> None:
        """Close ``sock`` (never retried: close must not be repeated)."""
        sock.close()

    def pipe(self) -> tuple[int, int]:
        """A close-on-exec pipe ``(read_fd, write_fd)``."""
        return os.pipe()

    def close_fd(self, fd: int) -> None:
        """Close a plain file descriptor (never retried)."""
        os.close(fd)

    def set_pipe_size(self, fd: int, size: int) -> int:
        """Grow a pipe's buffer (F_SETPIPE_SZ); returns the size granted."""
        import fcntl

        return _retry(lambda: fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), size))

    def splice(self, src: int, dst: int, count: int, offset: int | None = None, flags: int = 0) -> int:
        """``splice(2)`` from ``src`` (at ``offset`` if given) into ``dst``."""
        return _retry(lambda: os.splice(src, dst, count, offset_src=offset, flags=flags))


kernel = Kernel()
