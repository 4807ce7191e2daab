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
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Protocol


class ForkAware(Protocol):
    """What a registered object provides (each call made with no other lock held)."""

    def _fork_prepare(self) -> None: ...

    def _fork_parent(self) -> None: ...

    def _fork_child(self) -> None: ...


_live: weakref.WeakSet[ForkAware] = weakref.WeakSet()
_prepared: list[ForkAware] = []
_hooked = False
_hook_lock = threading.Lock()


def track(obj: ForkAware) -> None:
    """Register ``obj`` (it now holds kernel state); cheap to call again."""
    global _hooked
    if not _hooked:
        with _hook_lock:
            if not _hooked:
                os.register_at_fork(before=_before, after_in_parent=_after_in_parent,
                                    after_in_child=_after_in_child)
                _hooked = True
    _live.add(obj)


def untrack(obj: ForkAware) -> None:
    """Forget ``obj`` (its kernel state is gone)."""
    _live.discard(obj)


def _before() -> None:
    # Must not raise: an exception here is lost and the fork goes ahead anyway.
    _prepared.clear()
    for obj in list(_live):
        obj._fork_prepare()
        _prepared.append(obj)


def _after_in_parent() -> None:
    prepared = _prepared[:]
    _prepared.clear()
    for obj in prepared:
        obj._fork_parent()


def _after_in_child() -> None:
    prepared = _prepared[:]
    _prepared.clear()
    for obj in prepared:
        obj._fork_child()
