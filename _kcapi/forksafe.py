"""Fork safety: the one module that registers fork hooks, each once, in a stated order.

After ``fork()`` parent and child share every descriptor and every lock's
state, so four things need a hand around every ``os.fork()`` (and
multiprocessing's fork start method; ``subprocess`` execs and runs no hooks):

1. **Zero-copy receives** (:func:`zero_copy_receive`): before Linux 6.5,
   algif_skcipher and algif_aead write a request's output straight into the
   caller's pages, taken with ``get_user_pages`` but not pinned.  A ``fork()``
   while such a ``recv`` is in flight makes those pages copy-on-write; if the
   parent writes to one of them before the kernel does, the output lands in
   the child's page: the parent reads a wrong result (seen on 6.1).  So each
   thread holds a lock of its own around such a receive, and the fork takes
   every other thread's lock: it waits for the receives in flight and holds
   new ones back until it is done.  These are C-level re-entrant locks used as
   context managers, so an exception a signal handler raises anywhere cannot
   leave one held, nor a receive registered that is not in flight.
2. **Kernel state** (:func:`track`): an op socket holding a hash's pending
   state would be fed by both processes.  The fork takes each such object's
   lock and clones its state into a twin socket (``accept()``); the parent
   closes the twins, the child swaps each object onto its twin.
3. **Object locks** (:func:`watch_lock`): a fork that catches another thread
   inside an object's call leaves the child's copy with a lock nobody will
   release and a half-done state: the child gives it a fresh lock and tells it
   (``_lost_in_fork()``: it then refuses every call rather than hang).
4. **Pools and module locks**: idle pooled op sockets are clean but shared
   with the parent, so the child closes its copies (bound sockets carry no
   per-operation state and stay shared); ``/dev/crypto`` sessions belong to the
   open file both processes share, so the child forgets the pooled ones and,
   from the fork on, no process frees a cipher session (both use it); the transform cache's lock and the
   DRBG seed's lock are renewed.  These belong to the modules of
   :data:`_CHILD_RESETS`, each resetting itself in ``after_fork_in_child()``;
   a module not imported yet has nothing to reset.

The hooks are registered by :func:`install`, which every mechanism above calls
on first use (nothing is registered at import time), and run in this order:

* before the fork, in the parent: (1) take the other threads' receive locks,
  then (2) each tracked object's lock, cloning its state;
* after it, in the parent: (2) close the twins and release the objects' locks,
  then (1) release the receive locks;
* after it, in the child: (1) forget the other threads' receive locks,
  (2) swap each tracked object onto its twin and release its lock, (3) renew
  the locks of watched objects caught mid-call, (4) close the pools' idle op
  sockets, renew the module locks.

No hook raises: an exception there is lost and the fork goes ahead anyway.
"""

from __future__ import annotations

import os
import sys
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


#: Modules resetting their state in a forked child (step 4), in this order: the AF_ALG
#: transforms' idle op sockets, the transform cache's lock, the DRBG seed's lock.
_CHILD_RESETS = ("_kcapi.af_alg.tfm", "_kcapi.cryptodev.tfm", "_kcapi.cryptodev.device",
                 "_kcapi.transform", "_kcapi.rng")
#: Modules told of a fork before it happens (``before_fork()``), in the parent: the
#: ``/dev/crypto`` transforms, whose cipher sessions both processes will share.
_BEFORE_FORK = ("_kcapi.cryptodev.tfm",)


def install() -> None:
    """Register the fork hooks of every mechanism, once per process."""
    global _hooked
    if not _hooked:
        with _hook_lock:
            if not _hooked:
                os.register_at_fork(before=_before, after_in_parent=_after_in_parent,
                                    after_in_child=_after_in_child)
                _hooked = True


def track(obj: ForkAware) -> None:
    """Register ``obj`` (it now holds kernel state); cheap to call again."""
    install()
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
        install()
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
    install()
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
    for name in _BEFORE_FORK:
        module = sys.modules.get(name)
        if module is not None:
            module.before_fork()


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
    for name in _CHILD_RESETS:
        module = sys.modules.get(name)
        if module is not None:
            module.after_fork_in_child()
