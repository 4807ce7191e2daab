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

Zero-copy receives (:func:`zero_copy_receive`): before Linux 6.5, algif_skcipher
and algif_aead write a request's output straight into the caller's pages, taken
with ``get_user_pages`` but not pinned.  A ``fork()`` while such a ``recv`` is in
flight makes those pages copy-on-write; if the parent writes to one of them
before the kernel does (another thread, another object on the same page), the
parent gets a fresh copy and the output lands in the child's page: the parent
reads a wrong result (seen on 6.1).  So each thread holds a lock of its own
around such a receive, and the before-fork hook takes every other thread's
lock: it waits for the receives in flight and holds new ones back until the
fork is done.  These are C-level re-entrant locks used as context managers, so
an exception a signal handler raises anywhere cannot leave one held, nor a
receive registered that is not in flight.
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

#: Each thread's receive lock, by thread ident.  A thread's ``_receive_local``
#: holds the only strong reference: the entry goes when the thread does.
_receive_locks: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
_receive_local = threading.local()
#: The other threads' receive locks taken by the fork under way.
_held_for_fork: list[Any] = []


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


def zero_copy_receive() -> Any:
    """The calling thread's receive lock: ``with zero_copy_receive():`` around a request
    whose output the kernel writes into user pages (an skcipher or AEAD ``recv``), so
    that no ``fork()`` happens meanwhile.

    Re-entrant: a signal handler that encrypts in the middle of a receive takes it
    again.  A fork from that handler does not wait for its own thread.  Never
    taken while holding a hash object's lock (the before-fork hook takes those
    after these).
    """
    lock = getattr(_receive_local, "lock", None)
    if lock is None:
        _install()
        lock = _receive_local.lock = threading.RLock()
        _receive_locks[threading.get_ident()] = lock
    return lock


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
    me = threading.get_ident()  # a fork from a signal handler: not waiting for its own
    _held_for_fork.clear()
    for ident, lock in list(_receive_locks.items()):
        if ident != me:
            _held_for_fork.append(lock)  # listed first: released after, even if never taken
            _take(lock)
    _prepared.clear()
    for obj in list(_live):
        obj._fork_prepare()
        _prepared.append(obj)


def _take(lock: Any) -> None:
    """Acquire another thread's receive lock, waiting for its receive in flight.

    A signal handler's exception cannot be raised from a fork hook: it is
    dropped, and the wait goes on (the fork must not happen mid-receive).
    """
    while not lock._is_owned():
        try:
            lock.acquire()
        except BaseException:
            pass


def _after_in_parent() -> None:
    prepared = _prepared[:]
    _prepared.clear()
    for obj in prepared:
        obj._fork_parent()
    while _held_for_fork:
        lock = _held_for_fork.pop()
        if lock._is_owned():
            lock.release()


def _after_in_child() -> None:
    # The other threads are gone: their receive locks (taken by this thread) with them.
    me = threading.get_ident()
    _held_for_fork.clear()
    for ident in [ident for ident in _receive_locks.keys() if ident != me]:
        _receive_locks.pop(ident, None)
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
