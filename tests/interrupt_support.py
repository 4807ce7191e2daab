"""Interrupts at every point where CPython could run a signal handler, and a kernel to run them on.

:class:`Injector` traces a call (``sys.settrace`` + ``sys.setprofile``) and
counts the events of our packages' code where CPython checks for pending
signals and may run a Python signal handler -- a function starting (RESUME), a
function or C call returning (the check after CALL), a jump back to a loop's
head (JUMP_BACKWARD) -- and raises an interrupt at the chosen ones (several per call if wanted: the
tracer and the profiler re-arm each other, since CPython drops a trace
function that raises).  The events of the stand-in kernel's system calls count
too: their start (a signal arriving at EINTR: nothing done) and their return
(the call done, its result lost).

:class:`tests.fakes.EmulatedAfAlg` is that stand-in: AF_ALG emulated at the level of
the system calls.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

import _kcapi
import kcapi_cipher
import kcapi_hashlib

from .fakes import EMULATED_SYSCALLS

_OURS = tuple(os.path.dirname(m.__file__) + os.sep for m in (_kcapi, kcapi_cipher, kcapi_hashlib))
#: Functions CPython calls without a CALL instruction: no signal check at their return.
_NOT_CALLED = frozenset({"__enter__", "__exit__"})


class Interrupt(Exception):
    """What the signal handler of these tests raises (not a KeyboardInterrupt: any type works)."""


class Injector:
    """Raise an interrupt at chosen events of the code run inside ``with``.

    Args:
        at: the indexes of the events to raise at (0-based, in order).
        make: builds the exception; the default is ``KeyboardInterrupt``.
        fake: an object whose methods are stand-in system calls (their start
            and return count as events).
    """

    def __init__(self, at: Iterable[int] = (), make: Callable[[], BaseException] = KeyboardInterrupt,
                 fake: Any = None):
        self.at = set(at)
        self.make = make
        self.count = 0
        self.active = False
        self.log: list[tuple[str, str, int]] | None = None
        self._lasti: dict[int, int] = {}
        self._finalizing = 0
        self.fired: list[tuple[int, str, str, int]] = []
        self._fake_codes = set()
        if fake is not None:
            for name in dir(type(fake)):
                func = getattr(type(fake), name, None)
                if name in EMULATED_SYSCALLS and callable(func) and hasattr(func, "__code__"):
                    self._fake_codes.add(func.__code__)

    def _counts(self, frame: Any, event: str) -> bool:
        """Whether CPython could run a signal handler at this event: a function starting
        (RESUME), a call returning (the check after a call), a loop's back edge."""
        code = frame.f_code
        if code.co_name == "__del__":  # finalizers run at random points: not counted, nor
            self._finalizing += {"call": 1, "return": -1}.get(event, 0)  # what they call
            return False
        if self._finalizing:
            return False
        if code.co_filename.startswith(_OURS):
            if event == "return" and code.co_name in _NOT_CALLED:
                return False
            if code.co_flags & inspect.CO_GENERATOR:
                # Pure computation; and an interrupt in one closed by the garbage collector
                # is only printed ("Exception ignored"), which says nothing about the object.
                return False
            if event == "line":
                last = self._lasti.get(id(frame), -1)
                self._lasti[id(frame)] = frame.f_lasti
                return frame.f_lasti < last  # jumped back: JUMP_BACKWARD checks for signals
            if event == "call":
                self._lasti[id(frame)] = -1
            return True
        if code in self._fake_codes and event in ("call", "return"):
            caller = frame.f_back
            return caller is not None and caller.f_code.co_name != "__del__"
        return False

    def _tick(self, frame: Any, event: str) -> None:
        n = self.count
        self.count += 1
        if self.log is not None:
            self.log.append((event, frame.f_code.co_name, frame.f_lineno))
        if n in self.at:
            self.fired.append((n, event, frame.f_code.co_name, frame.f_lineno))
            raise self.make()

    def _tracer(self, frame: Any, event: str, arg: Any) -> Any:
        if not self.active:
            return None
        if sys.getprofile() is None:
            sys.setprofile(self._profiler)  # the profiler raised last: re-arm it
        if event in ("call", "line", "return") and self._counts(frame, event):
            self._tick(frame, event)
        elif event not in ("call", "line", "return") and frame.f_code.co_filename.startswith(_OURS):
            self._lasti[id(frame)] = frame.f_lasti
        return self._tracer

    def _profiler(self, frame: Any, event: str, arg: Any) -> None:
        if not self.active:
            return
        if sys.gettrace() is None:
            sys.settrace(self._tracer)  # the tracer raised last: re-arm it
        if event == "c_return" and self._counts(frame, event):
            self._lasti[id(frame)] = frame.f_lasti
            self._tick(frame, event)

    def __enter__(self) -> Injector:
        self.active = True
        sys.setprofile(self._profiler)
        sys.settrace(self._tracer)
        return self

    def __exit__(self, *exc: object) -> None:
        self.active = False
        sys.settrace(None)
        sys.setprofile(None)


def count_events(run: Callable[[], object], fake: Any = None) -> int:
    """How many events ``run()`` passes through (no interrupt raised)."""
    with Injector(fake=fake) as counter:
        run()
    return counter.count


def handler_raising(exc_type: type[BaseException] = Interrupt) -> Callable[..., None]:
    """A signal handler that raises ``exc_type``."""
    def handler(signum: int, frame: Any) -> None:
        raise exc_type(f"signal {signum}")
    return handler
