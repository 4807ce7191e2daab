"""Fork safety for objects that hold kernel state in an op socket.

After ``fork()`` parent and child share every descriptor, so an op socket
holding a hash's pending state would be fed by both processes.  Objects with
such state register here; around every ``os.fork()`` (and multiprocessing's
fork start method) the hooks below, run by CPython:

* before the fork, in the parent: take each object's lock and clone its state
  into a twin socket (``accept()``);
* in the parent afterwards: close the twins, release the locks;
* in the child afterwards: swap each object onto its twin (closing its copy of
  the parent's socket), release the locks.

So parent and child continue from the same state with sockets of their own,
whatever either does next.  ``subprocess`` does not run these hooks (it execs).

Zero-copy receives (:data:`zero_copy_receive`): before Linux 6.5, algif_skcipher
and algif_aead write a request's output straight into the caller's pages, taken
with ``get_user_pages`` but not pinned.  A ``fork()`` while such a ``recv`` is in
flight makes those pages copy-on-write; if the parent writes to one of them
before the kernel does (another thread, another object on the same page), the
parent gets a fresh copy and the output lands in the child's page: the parent
reads a wrong result (seen on 6.1).  So the before-fork hook waits until no
such receive is in flight, and holds new ones back until the fork is done.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any, Protocol


class ForkAware(Protocol):
    """What a registered object provides (each call made with no other lock held)."""

    def _fork_prepare(self) -> None: ...

    def _fork_parent(self) -> None: ...

    def _fork_child(self) -> None: ...


_live: weakref.WeakSet[ForkAware] = weakref.WeakSet()
_prepared: list[ForkAware] = []
_hooked = False
_hook_lock = threading.Lock()

#: The threads (by ident) with a zero-copy receive in flight, one entry per receive.
#: list.append/remove are atomic under the GIL, so the fast path takes no lock.
_io_inflight: list[int] = []
#: Forks under way: they hold new receives back (changed under _io_lock only).
_io_forking = 0
_io_lock = threading.Lock()
_io = threading.Condition(_io_lock)


def _install() -> None:
    """Register the fork hooks (once)."""
    global _hooked
    if not _hooked:
        with _hook_lock:
            if not _hooked:
                os.register_at_fork(before=_before, after_in_parent=_after_in_parent,
                                    after_in_child=_after_in_child)
                _hooked = True


def track(obj: ForkAware) -> None:
    """Register ``obj`` (it now holds kernel state); cheap to call again."""
    _install()
    _live.add(obj)


class _ZeroCopyReceive:
    """``with zero_copy_receive:`` around a request whose output the kernel writes
    into user pages (an skcipher or AEAD ``recv``): no ``fork()`` happens meanwhile.

    The receive registers first, then looks for a fork under way; the fork
    announces itself first, then looks for receives in flight (under the GIL one
    of the two always sees the other).  Never used while holding a hash object's
    lock (the before-fork hook takes those after waiting here).
    """

    __slots__ = ()

    def __enter__(self) -> None:
        if not _hooked:
            _install()
        me = threading.get_ident()
        _io_inflight.append(me)
        if _io_forking:  # step back and wait for the fork to be done
            with _io_lock:
                _io_inflight.remove(me)
                _io.notify_all()
                while _io_forking:
                    _io.wait()
                _io_inflight.append(me)

    def __exit__(self, *exc: object) -> None:
        _io_inflight.remove(threading.get_ident())
        if _io_forking:  # a fork is waiting for the receives in flight
            with _io_lock:
                _io.notify_all()


zero_copy_receive = _ZeroCopyReceive()


class LockHolder(Protocol):
    """An object whose calls run under ``_lock`` and hold no kernel state between calls."""

    _lock: Any

    def _lost_in_fork(self) -> None: ...


_RLOCK = type(threading.RLock())

#: Objects whose lock another thread may hold when this process forks.
_lock_holders: weakref.WeakSet[LockHolder] = weakref.WeakSet()


def watch_lock(obj: LockHolder) -> None:
    """Register ``obj``: a fork that catches another thread inside one of its calls
    leaves the child's copy with a lock nobody will release and a half-done state.
    In the child such an object gets a fresh lock and ``_lost_in_fork()`` is called
    (it then refuses every call, with an error, rather than hang)."""
    _install()
    _lock_holders.add(obj)


def untrack(obj: ForkAware) -> None:
    """Forget ``obj`` (its kernel state is gone)."""
    _live.discard(obj)


def _before() -> None:
    # Must not raise: an exception here is lost and the fork goes ahead anyway.
    global _io_forking
    me = threading.get_ident()  # a fork from a signal handler: not waiting for its own
    with _io_lock:
        _io_forking += 1
        while any(ident != me for ident in _io_inflight):
            _io.wait()
    _prepared.clear()
    for obj in list(_live):
        obj._fork_prepare()
        _prepared.append(obj)


def _after_in_parent() -> None:
    global _io_forking
    prepared = _prepared[:]
    _prepared.clear()
    for obj in prepared:
        obj._fork_parent()
    with _io_lock:
        _io_forking -= 1
        _io.notify_all()


def _after_in_child() -> None:
    global _io_lock, _io, _io_forking
    # The other threads are gone: none is receiving, none may hold the condition's lock.
    me = threading.get_ident()
    _io_inflight[:] = [ident for ident in _io_inflight if ident == me]
    _io_lock = threading.Lock()
    _io, _io_forking = threading.Condition(_io_lock), 0
    prepared = _prepared[:]
    _prepared.clear()
    for obj in prepared:
        obj._fork_child()
    for holder in list(_lock_holders):
        lock = holder._lock
        if lock.acquire(False):  # free (or the forking thread's own: re-entrant)
            lock.release()
            continue
        try:  # held by a thread that does not exist here
            holder._lock = threading.RLock() if isinstance(lock, _RLOCK) else threading.Lock()
            holder._lost_in_fork()
        except Exception:  # must not raise: the child would go on with it anyway
            pass
