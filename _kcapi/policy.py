"""The backend policy: who serves a new object -- the kernel, software, or either.

* ``auto`` (default): the kernel when the algorithm binds, else software.
* ``kernel``: the kernel or a :class:`~_kcapi.errors.KernelUnavailableError`.
* ``software``: never touch AF_ALG.

Chosen by :func:`set_backend` (and :func:`use_backend`, for a ``with`` block)
or, until one of them is called, by the environment variable ``KCAPI_BACKEND``.
The policy is process-wide and read when an object is created: an existing
object keeps the backend that created it.

Invariants:

* Nothing happens at import time: the environment is read at the first policy
  read (the first object created), never at import.
* ``KCAPI_BACKEND`` is read with surrounding whitespace ignored and letters in
  any case (``' Kernel '`` is ``kernel``); unset or blank means ``auto``.  Any
  other value makes every policy read raise one ``ValueError`` naming the
  variable, until :func:`set_backend` chooses a policy.  A bad value is never
  replaced by a guess.
* Once :func:`set_backend` has chosen a policy, the environment is not read
  again (except after ``set_backend(None)``, which hands the choice back to it).
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


class _Setting:
    """A process-wide choice among ``choices``: made by :meth:`set` or, until then (and
    after ``set(None)``), by the environment variable ``env_var``, read at the first
    :meth:`get` (whitespace around it ignored, any case; unset or blank: ``default``)."""

    def __init__(self, label: str, env_var: str, choices: tuple[str, ...], default: str,
                 choose: str):
        self.label = label  # "backend": the word of set()'s error
        self.env_var = env_var
        self.choices = choices
        self.default = default
        self.choose = choose  # how the environment's error says to choose instead
        self.current: str | None = None

    def from_environment(self) -> str | ValueError:
        """The choice ``env_var`` names, or the error that explains why it names none."""
        raw = os.environ.get(self.env_var, "")
        name = raw.strip().lower() or self.default
        if name in self.choices:
            return name
        return ValueError(f"{self.env_var}={raw!r} is not one of {', '.join(self.choices)} "
                          f"(case and surrounding blanks are ignored; unset means "
                          f"{self.default}); fix or unset it, or {self.choose}")

    def get(self) -> str:
        if self.current is None:
            found = self.from_environment()
            if isinstance(found, ValueError):
                raise found
            self.current = found
        return self.current

    def set(self, name: str | None) -> str | None:
        if name is not None and name not in self.choices:
            raise ValueError(f"{self.label} must be one of {', '.join(self.choices)}, "
                             f"not {name!r}")
        previous = self.current
        if previous is None:
            found = self.from_environment()
            previous = None if isinstance(found, ValueError) else found
        self.current = name
        invalidate()
        return previous


_backend = _Setting("backend", ENV_VAR, BACKENDS, AUTO, "choose a policy with set_backend()")


def get_backend() -> str:
    """Return the policy in force: ``'auto'``, ``'kernel'`` or ``'software'``.

    Raises:
        ValueError: no policy was set and ``KCAPI_BACKEND`` holds none of the three
            names (raised again on every call until :func:`set_backend` is called).
    """
    return _backend.get()


def set_backend(name: str | None) -> str | None:
    """Set the policy for objects created from now on.

    Works whatever ``KCAPI_BACKEND`` holds: the environment is not consulted
    for the new policy, and a bad value there is not raised here.

    Args:
        name: ``'auto'``, ``'kernel'`` or ``'software'`` (exactly; no case folding).
            ``None`` hands the choice back to ``KCAPI_BACKEND``, read at the next use.

    Returns:
        The policy that was in force before, or ``None`` if none was (``KCAPI_BACKEND``
        holds an invalid value and no policy had been set); passing the returned
        value back restores that state.

    Raises:
        ValueError: for any other name.
    """
    return _backend.set(name)


@contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Set the policy for the duration of a ``with`` block (process-wide).

    On exit the policy in force before is restored, whether the block raised or not
    (if ``KCAPI_BACKEND`` was invalid and nothing had been set, calls raise again).
    """
    previous = set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


# -- the kernel interface: which door into the crypto API serves ----------------------

AUTO_INTERFACE = "auto"
AF_ALG_INTERFACE = "af_alg"
CRYPTODEV_INTERFACE = "cryptodev"
INTERFACES = (AUTO_INTERFACE, AF_ALG_INTERFACE, CRYPTODEV_INTERFACE)
INTERFACE_ENV_VAR = "KCAPI_INTERFACE"

_interface = _Setting("interface", INTERFACE_ENV_VAR, INTERFACES, AUTO_INTERFACE,
                      "choose one with set_interface()")


def get_interface() -> str:
    """Return the kernel interface in force: ``'auto'``, ``'af_alg'`` or ``'cryptodev'``.

    * ``auto`` (default): per algorithm, ``/dev/crypto`` where the device is there and
      serves it, else AF_ALG (see the README for why in this order);
    * ``af_alg``: AF_ALG sockets only;
    * ``cryptodev``: ``/dev/crypto`` only (what it lacks is refused, or software
      serves, as the backend policy says).

    Chosen by :func:`set_interface` or, until it is called, ``KCAPI_INTERFACE``
    (read as ``KCAPI_BACKEND`` is).

    Raises:
        ValueError: ``KCAPI_INTERFACE`` names none of the three (on every call, until
            :func:`set_interface` is called).
    """
    return _interface.get()


def set_interface(name: str | None) -> str | None:
    """Choose the kernel interface for objects created from now on.

    Args:
        name: ``'auto'``, ``'af_alg'`` or ``'cryptodev'``; ``None`` hands the choice
            back to ``KCAPI_INTERFACE``.

    Returns:
        The interface in force before (``None`` if none was: the variable is invalid).

    Raises:
        ValueError: for any other name.
    """
    return _interface.set(name)


@contextmanager
def use_interface(name: str) -> Iterator[None]:
    """Set the kernel interface for the duration of a ``with`` block (process-wide)."""
    previous = set_interface(name)
    try:
        yield
    finally:
        set_interface(previous)
