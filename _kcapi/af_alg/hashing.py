"""Hash requests on AF_ALG op descriptors (``algif_hash``).

* ``send`` with ``MSG_MORE`` adds to the op socket's pending state
  (:func:`feed`); a ``read`` (``recv``) finalizes it and resets the socket,
  which may then be pooled (:func:`final`);
* ``accept()`` on an op socket clones its state (:meth:`.tfm.Transform.clone_fd`);
* a file is hashed without copying it through user space: file -> pipe
  (``splice``) -> op socket (``splice`` with ``SPLICE_F_MORE``).

Op sockets are plain descriptors here (see :mod:`_kcapi._libc`): a send's
outcome is recorded by the same C loop that makes it (:func:`feed`).
"""

from __future__ import annotations

import errno
from collections.abc import Sequence

from typing import Any

from .. import _syscalls
from .._constants import MSG_MORE, SPLICE_F_MORE
from ..atomic import is_interrupt


def feed(op: int, views: Sequence[memoryview], record: list[int], fresh: bool = False) -> None:
    """One ``send`` of ``views`` into the pending state of ``op``, its outcome appended
    to ``record`` (see :meth:`_kcapi._syscalls.Kernel.send_recorded`).  ``fresh`` is
    moot: a pooled op socket is reset by the read that finalized it."""
    _syscalls.kernel.send_recorded(op, views, MSG_MORE, record)


def final(op: int, held: bytearray, extra: memoryview, size: int, fresh: bool = False) -> bytes:
    """Feed ``held`` then ``extra`` last (the message then ends) and read the ``size``-byte
    digest; ``op`` is reset.

    Raises:
        OSError: the kernel failed, or returned fewer bytes.
    """
    kernel = _syscalls.kernel
    if held or extra.nbytes:
        kernel.send_fd(op, [held, extra], 0)
    # A read finalizes pending state (an empty message on a fresh socket).
    out = kernel.read_fd(op, size)
    if len(out) != size:
        raise OSError(errno.EIO, f"the kernel returned {len(out)} of {size} digest bytes")
    return out


def close(op: int) -> None:
    """Close an op descriptor (state and all)."""
    _syscalls.kernel.close_fd(op)


def retire(tfm: Any, op: int) -> None:
    """An op socket no object needs any more (its pending state unwanted): closed."""
    _syscalls.kernel.close_fd(op)


def drop_other(op: int) -> None:
    """Close this process's descriptor of an op socket the other process of a fork owns."""
    _syscalls.kernel.close_fd(op)


def pbkdf2(tfm: Any, digest_size: int, salt: bytes, iterations: int, dklen: int) -> bytes:
    """PBKDF2 (RFC 8018) over a keyed ``hmac(<hash>)`` transform of ``digest_size`` bytes.

    Each iteration is one HMAC on one reused op socket: a ``send`` (without
    ``MSG_MORE``: the message is complete) and a ``read`` that finalizes it and
    leaves the socket ready for the next.

    Raises:
        OSError: the kernel failed (the op socket is closed, not pooled).
    """
    kernel = _syscalls.kernel
    op = tfm.fds.take()
    out = bytearray()
    try:
        block = 1
        while len(out) < dklen:
            kernel.send_fd(op, [salt, block.to_bytes(4, "big")], 0)
            u = kernel.read_fd(op, digest_size)
            acc = int.from_bytes(u, "big")
            for _ in range(iterations - 1):
                kernel.send_fd(op, [u], 0)
                u = kernel.read_fd(op, digest_size)
                acc ^= int.from_bytes(u, "big")
            out += acc.to_bytes(digest_size, "big")
            block += 1
    except BaseException:
        tfm.fds.discard(op)
        raise
    tfm.fds.give(op)
    return bytes(out[:dklen])


class FilePipe:
    """The pipe a file is spliced through into op sockets; closed by :meth:`close`."""

    __slots__ = ("read_end", "write_end")

    def __init__(self, size: int) -> None:
        """A pipe grown to ``size`` bytes where the system allows it.

        Raises:
            OSError: no pipe (growing one may fail: it then stays smaller).
        """
        kernel = _syscalls.kernel
        self.read_end, self.write_end = kernel.pipe()
        try:
            kernel.set_pipe_size(self.write_end, size)
        except OSError as exc:
            if is_interrupt(exc):
                self.close()
                raise

    def fill(self, fd: int, offset: int, count: int) -> int:
        """Splice up to ``count`` bytes of file ``fd`` from ``offset``; 0 at its end."""
        return _syscalls.kernel.splice(fd, self.write_end, count, offset)

    def pending(self) -> int:
        """How many bytes the pipe holds."""
        return _syscalls.kernel.pipe_pending(self.read_end)

    def drain_into(self, op: int, count: int) -> int:
        """One splice of up to ``count`` bytes from the pipe into the state of ``op``."""
        return _syscalls.kernel.splice(self.read_end, op, count, None, SPLICE_F_MORE)

    def close(self) -> None:
        kernel = _syscalls.kernel
        try:
            kernel.close_fd(self.read_end)
        finally:
            kernel.close_fd(self.write_end)
