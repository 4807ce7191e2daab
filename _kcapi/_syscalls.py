"""The one layer that talks to the kernel.

Every system call of the library goes through :data:`kernel`, an instance of
:class:`Kernel`.  Each method makes exactly one system call (``send_all`` makes
as few as the kernel allows), retries it when a signal interrupts it (EINTR)
and lets any other failure propagate as ``OSError`` with its errno.  Fault
injection tests replace :data:`kernel` with a subclass; callers must look it
up as ``_syscalls.kernel`` at call time, never import the name.

EINTR follows PEP 475: the Python signal handlers run, and if one raises, its
exception propagates with nothing transferred; otherwise the call is retried.
A handler may also run (and raise) just after a call returned, when its result
is lost: :meth:`Kernel.send_recorded` is for callers that must know exactly
what the kernel took whatever happens (see :mod:`.atomic`).
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from collections.abc import Callable, Sequence
from itertools import chain, starmap
from operator import or_
from typing import Any, TypeVar

from . import _libc
from ._constants import AF_ALG, SOL_ALG

_SOCK_CLOEXEC = getattr(socket, "SOCK_CLOEXEC", 0o2000000)


def _get_errno(ffi: Any) -> Callable[[], int]:
    """cffi's saved ``errno`` as a C function (``ffi.errno`` is a Python property)."""
    return ffi._backend.get_errno  # type: ignore[no-any-return]


def _with_pointers(ffi: Any, views: Sequence[memoryview], use: Callable[[tuple[Any, ...]], T],
                   pointers: tuple[Any, ...] = ()) -> T:
    """``use(pointers)``, a cffi pointer into each view, each held by a ``with`` block.

    The block releases the pointer in C code, whatever happens (a signal
    handler's exception too): a pointer into a memoryview kept alive by the
    frame of a traceback in a reference cycle would make the garbage collector
    clear an exported memoryview, which crashes CPython.
    """
    if len(pointers) == len(views):
        return use(pointers)
    with ffi.from_buffer(views[len(pointers)]) as ptr:
        return _with_pointers(ffi, views, use, pointers + (ptr,))


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
    """System calls on AF_ALG sockets, the ``/dev/crypto`` device, pipes and files."""

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
        views = [memoryview(b).cast("B") for b in buffers if len(b)]
        record: list[int] = []
        while views:
            self.send_recorded(fd, views, flags, record)
            sent = record[-2]
            if sent < 0:
                continue  # EINTR, and no handler raised
            while views and sent >= len(views[0]):
                sent -= len(views[0])
                views.pop(0)
            if views:
                views[0] = views[0][sent:]

    def send_recorded(self, fd: int, buffers: Sequence[memoryview], flags: int,
                      record: list[int]) -> None:
        """One ``send`` (or ``sendmsg``) of ``buffers`` on descriptor ``fd``, its outcome
        appended to ``record`` as two ints: the result, then ``errno``.

        The system call and the appending run in one C-level loop, with no
        bytecode in between, so no signal handler can run (and raise) between the
        kernel taking bytes and their count being recorded: whatever this
        raises, ``record`` tells exactly what the kernel took.  A result of -1
        is a failure; with errno EINTR nothing was sent and the call may be
        repeated (the handlers run as this returns, PEP 475).

        Raises:
            OSError: the kernel refused the data (recorded first); never for EINTR.
        """
        ffi, lib = _libc.libc()
        views = [v for v in buffers if v.nbytes]

        def send(pointers: tuple[Any, ...]) -> None:
            if len(views) == 1:
                call = lib.send
                args: tuple[Any, ...] = (fd, pointers[0], views[0].nbytes, flags)
            else:
                iov = ffi.new("struct iovec[]", len(views))
                for i, (ptr, v) in enumerate(zip(pointers, views)):
                    iov[i].iov_base = ptr
                    iov[i].iov_len = v.nbytes
                msg = ffi.new("struct msghdr *")
                msg.msg_iov = iov
                msg.msg_iovlen = len(views)
                call, args = lib.sendmsg, (fd, msg, flags)
            record.extend(chain(starmap(call, (args,)), starmap(_get_errno(ffi), ((),))))

        _with_pointers(ffi, views, send)
        if record[-2] < 0 and record[-1] != errno.EINTR:
            raise OSError(record[-1], os.strerror(record[-1]))

    # -- /dev/crypto (cryptodev-linux): open(2) and ioctl(2) ----------------

    def open_device(self, path: str) -> int:
        """``open(path, O_RDWR | O_CLOEXEC)``: the crypto device's descriptor."""
        return _retry(lambda: os.open(path, os.O_RDWR | os.O_CLOEXEC))

    def ioctl(self, fd: int, request: int, arg: Any) -> int:
        """One ``ioctl(fd, request, arg)`` (``arg`` a cffi pointer to the request's
        structure, which the kernel may update); returns its result."""
        ffi, lib = _libc.libc()
        while True:
            result = lib.ioctl(fd, ffi.cast("unsigned long", request), arg)
            if result >= 0:
                return int(result)
            _raise_unless_eintr(ffi.errno)

    def ioctl_recorded(self, fd: int, request: int, arg: Any, count: int,
                       record: list[int]) -> None:
        """One ``ioctl`` that takes ``count`` bytes into a hash state, its outcome appended
        to ``record`` as :meth:`send_recorded` does: ``count`` (0 from the ioctl, or-ed
        with ``count``) or -1, then ``errno``.

        The call and the appending run in one C-level loop (``list.extend`` over
        ``map``/``starmap`` of C functions), so no signal handler runs between the
        kernel taking the bytes and the record saying so.

        Raises:
            OSError: the kernel refused (recorded first); never for EINTR.
        """
        ffi, lib = _libc.libc()
        args = (fd, ffi.cast("unsigned long", request), arg)
        record.extend(chain(map(or_, starmap(lib.ioctl, (args,)), (count,)),
                            starmap(_get_errno(ffi), ((),))))
        if record[-2] < 0 and record[-1] != errno.EINTR:
            raise OSError(record[-1], os.strerror(record[-1]))

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

    def pipe_pending(self, fd: int) -> int:
        """How many bytes the pipe ``fd`` holds (``ioctl(FIONREAD)``)."""
        import fcntl
        import termios

        got = _retry(lambda: fcntl.ioctl(fd, termios.FIONREAD, bytes(4)))
        return int.from_bytes(got, sys.byteorder)

    def set_pipe_size(self, fd: int, size: int) -> int:
        """Grow a pipe's buffer (F_SETPIPE_SZ); returns the size granted."""
        import fcntl

        return _retry(lambda: fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), size))

    def splice(self, src: int, dst: int, count: int, offset: int | None = None, flags: int = 0) -> int:
        """``splice(2)`` from ``src`` (at ``offset`` if given) into ``dst``."""
        return _retry(lambda: os.splice(src, dst, count, offset_src=offset, flags=flags))


kernel = Kernel()
