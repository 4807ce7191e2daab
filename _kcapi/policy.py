"""The backend policy: who serves a new object -- the kernel, software, or either.

* ``auto`` (default): the kernel when the algorithm binds, else software.
* ``kernel``: the kernel or a :class:`~_kcapi.errors.KernelUnavailableError`.
* ``software``: never touch AF_ALG.

Chosen by the environment variable ``KCAPI_BACKEND`` (read at first use) and
by :func:`set_backend`; :func:`use_backend` sets it for a ``with`` block.
The policy is process-wide and read when an object is created: an existing
object keeps the backend that created it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

AUTO = "auto"
KERNEL = "kernel"
SOFTWARE = "software"
BACKENDS = (AUTO, KERNEL, SOFTWARE)
ENV_VAR = "KCAPI_BACKEND"

_current: str | None = None

#: Bumped whenever the policy or the kernel probes may have changed: objects'
#: constructors cache their routing decision under this number.
generation = 0

#: Called after each :func:`invalidate` (see :func:`on_invalidate`).
_listeners: list[Callable[[], None]] = []


def invalidate() -> None:
    """Make every cached routing decision stale (the policy or a probe changed)."""
    global generation
    generation += 1
    for listener in _listeners:
        listener()


def on_invalidate(listener: Callable[[], None]) -> None:
    """Have ``listener()`` called after every :func:`invalidate` (it must not raise)."""
    _listeners.append(listener)


def _check(name: str, source: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"{source} must be one of {', '.join(BACKENDS)}, not {name!r}")
    return name


def get_backend() -> str:
    """Return the policy in force: ``'auto'``, ``'kernel'`` or ``'software'``."""
    global _current
    if _current is None:
        _current = _check(os.environ.get(ENV_VAR, AUTO).strip().lower() or AUTO, ENV_VAR)
    return _current


def set_backend(name: str) -> str:
    """Set the policy for objects created from now on.

    Args:
        name: ``'auto'``, ``'kernel'`` or ``'software'``.

    Returns:
        The policy that was in force before.

    Raises:
        ValueError: for any other name.
    """
    global _current
    previous = get_backend()
    _current = _check(name, "backend")
    invalidate()
    return previous


@contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Set the policy for the duration of a ``with`` block (process-wide)."""
    previous = set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)
