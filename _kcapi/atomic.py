"""Calls that an exception raised by a signal handler cannot cut in half.

CPython runs Python signal handlers in the main thread between bytecodes --
when a call returns, at a loop's back edge, when a function starts -- and
inside the system call wrappers that see EINTR (PEP 475); whatever a handler
raises (``KeyboardInterrupt`` for Ctrl-C) comes out of the code running there.
A ``hashlib`` or PyCryptodome call is one C call, so its object is always in
the state before or after a call.  Ours are loops of system calls with Python
in between, so every object keeps its state whole at every bytecode boundary,
in one of two ways:

* **roll back**, where the kernel keeps nothing between requests (skcipher
  requests, one-shot AEAD messages): the new state is computed on a private
  copy and published in one step with no check point for signals inside it;
  an interrupt before that step leaves the object as it was.  A composed
  AEAD's call keeps its MAC input aside until its end, and an interrupt puts
  the object's attributes back as they were at its start.
* **roll forward**, where the kernel accumulates state (a hash's ``MSG_MORE``
  data, the MAC input of a composed AEAD's call once it ended): the work is
  first recorded on the object in one store (a *pending* job that knows
  exactly what the kernel already has), and :func:`finish` runs it to its
  end through interrupts, then re-raises the first.  Should interrupts land in the few instructions between
  two attempts, the job stays pending and the object's next call finishes it
  before anything else.

Only interrupts (:func:`is_interrupt`) are rolled back or forward.  Any other
exception met in the middle of kernel work -- the kernel failing -- still
leaves the object refusing every later call, since its kernel state is unknown.
"""

from __future__ import annotations

import _signal
import functools
import signal
import traceback
from collections.abc import Callable
from types import CodeType
from typing import Any


def is_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` was raised by a signal handler rather than by the code it interrupted.

    That is ``KeyboardInterrupt`` (raised by the default SIGINT handler, in C),
    or an exception whose traceback passes through a Python function installed
    as a signal handler (``signal.signal``), whatever its type: a handler may
    raise ``TimeoutError``, an ``OSError`` like the kernel's own errors.
    """
    if isinstance(exc, KeyboardInterrupt):
        return True
    tb = exc.__traceback__
    if tb is None:
        return False
    handlers = _handler_codes()
    while tb is not None:
        if tb.tb_frame.f_code in handlers:
            return True
        tb = tb.tb_next
    return False


@functools.cache
def _signals() -> tuple[int, ...]:
    """The signal numbers (``signal.valid_signals()`` costs about 0.1 ms a call)."""
    return tuple(sorted(signal.valid_signals()))


def _handler_codes() -> set[CodeType]:
    """The code objects of the Python functions installed as signal handlers now."""
    codes = set()
    for signum in _signals():
        try:
            # The C function: signal.getsignal() wraps it to turn ints into enums, slowly.
            handler: Any = _signal.getsignal(signum)
        except (OSError, ValueError) as exc:
            tb = exc.__traceback__
            if tb is not None and tb.tb_next is not None:
                # A signal handler's exception (its frame follows this one: a TimeoutError,
                # say, raised as getsignal returned): not getsignal's answer, and not ours
                # to swallow.
                raise
            continue
        if handler is None or isinstance(handler, int):  # SIG_DFL, SIG_IGN
            continue
        while isinstance(handler, functools.partial):
            handler = handler.func
        handler = getattr(handler, "__func__", handler)  # a bound method
        code = getattr(handler, "__code__", None)
        if code is None:  # an object with a __call__ method written in Python
            code = getattr(getattr(type(handler), "__call__", None), "__code__", None)
        if isinstance(code, CodeType):
            codes.add(code)
    return codes


def finish(step: Callable[[], bool]) -> None:
    """Call ``step()`` until it returns true, through interrupts; then re-raise the first.

    ``step`` advances a pending job and returns whether the job is done.  It is
    called again after any interruption, so it must resume from what the kernel
    demonstrably has (never redo what is done), and return true at once when
    nothing is pending.  An exception that is not an interrupt ends the loop and
    propagates (unless an interrupt came first: that one is raised).  Nothing
    here waits: the handlers run between attempts, so the loop ends once signals
    stop arriving.

    The loops are nested because CPython may raise a pending handler's exception
    at the back edge of a loop, outside the ``try`` its body is in: an exception
    escaping the inner loop that way is caught by the outer one.  The ``except``
    blocks only store (no call, no check point for signals); the exceptions are
    classified at the top of the next attempt, inside the ``try``, where the
    finished frames of their tracebacks are also cleared (they hold views of
    the caller's buffers).
    """
    first: BaseException | None = None
    last: BaseException | None = None
    done = failed = False
    try:
        while not (done or failed):
            try:
                while not (done or failed):
                    try:
                        if last is not None:
                            traceback.clear_frames(last.__traceback__)  # the views they hold
                            failed = not is_interrupt(last)
                            last = None
                        if not failed:
                            done = step()
                    except BaseException as exc:
                        last = exc
                        if first is None:
                            first = exc
            except BaseException as exc:
                last = exc
                if first is None:
                    first = exc
        if first is not None:
            raise first
    finally:
        first = last = None  # no reference cycle through this frame's traceback
