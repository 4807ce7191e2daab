"""A bounded pool of idle op handles: AF_ALG op sockets (socket objects and plain
descriptors alike) and ``/dev/crypto`` hash sessions.

An op socket the kernel has reset (a hash op after its final ``recv``, an
skcipher or AEAD op whose output was all read) is clean: the next request may
use it as a fresh ``accept()``.  A pool keeps up to :data:`POOL_SIZE` of them
so that a new object costs no syscall.  Invariant: the pool only ever holds
clean op sockets, and one taken out is its taker's alone until given back.

Three kinds of op handle share this one mechanism (:class:`OpKind`): socket
objects (skcipher, AEAD and RNG requests, which need ``sendmsg`` with control
messages and ``recv_into``), plain descriptors (hash ops, driven through
cffi: see :mod:`_kcapi._libc`), and ``/dev/crypto`` sessions
(:mod:`_kcapi.cryptodev.tfm`), made from their transform rather than a socket.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from . import _syscalls
from .descriptors import new_descriptor

#: Idle operation sockets kept per pool.
POOL_SIZE = 4

Op = TypeVar("Op")


@dataclass(frozen=True)
class OpKind(Generic[Op]):
    """How to make and close op sockets of one kind.

    Attributes:
        accept: a new op socket from the bound socket (through ``_syscalls.kernel``).
        close: close one (through ``_syscalls.kernel``).
        close_now: close one without the syscall layer, never raising: used
            after fork and by finalizers, where a fake layer must not intervene.
    """

    accept: Callable[[Any], Op]
    close: Callable[[Op], None]
    close_now: Callable[[Op], None]


def _close_socket_now(op: socket.socket) -> None:
    try:
        op.close()
    except OSError:
        pass


def _close_fd_now(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


SOCKETS: OpKind[socket.socket] = OpKind(
    accept=lambda bound: _syscalls.kernel.accept(bound),
    close=lambda op: _syscalls.kernel.close(op),
    close_now=_close_socket_now)

DESCRIPTORS: OpKind[int] = OpKind(
    accept=lambda bound: _syscalls.kernel.accept_fd(bound.fileno()),
    close=lambda fd: _syscalls.kernel.close_fd(fd),
    close_now=_close_fd_now)


class OpPool(Generic[Op]):
    """Idle op handles of one kind, made from one bound socket (or transform)."""

    __slots__ = ("_bound", "_kind", "_idle")

    def __init__(self, bound: Any, kind: OpKind[Op]):
        self._bound = bound
        self._kind = kind
        self._idle: list[Op] = []

    def take(self) -> Op:
        """An op socket in its initial state: an idle one, else ``accept()``.

        Raises:
            OSError: ``accept()`` failed; EMFILE/ENFILE explained
                (:func:`_kcapi.descriptors.out_of_descriptors`).
        """
        try:
            return self._idle.pop()
        except IndexError:
            pass
        return new_descriptor(self._kind.accept, self._bound)

    def give(self, op: Op) -> None:
        """Return an op socket the kernel has reset; it is closed if the pool is full."""
        if len(self._idle) < POOL_SIZE:
            self._idle.append(op)
        else:
            self._kind.close(op)

    def discard(self, op: Op) -> None:
        """Close an op socket whose kernel state is unknown or unwanted."""
        self._kind.close(op)

    def __len__(self) -> int:
        return len(self._idle)

    def forget(self) -> None:
        """Drop every idle op handle without closing it (a forked child's copies of
        ``/dev/crypto`` sessions, which belong to the parent)."""
        self._idle.clear()

    def drain(self) -> int:
        """Close every idle op socket; returns how many were closed.  Never raises.

        Each is taken off the pool before it is closed, so one taken by another
        thread meanwhile is that thread's alone, and a fork in another thread
        never finds a closed (perhaps reused) number in the pool.
        """
        closed = 0
        idle, close_now = self._idle, self._kind.close_now
        while idle:
            try:
                op: Any = idle.pop()
            except IndexError:  # another thread took the last one
                break
            close_now(op)
            closed += 1
        return closed
