"""Routing constructors: one object per name, whose calls follow the backend policy.

A :class:`Router` is what ``kcapi_hashlib.sha256`` is: one callable object
for the life of the process.  It is a ``functools.partial`` of the routing
decision in force, so that a call costs one C-level dispatch (vectorcall from
Python 3.12) plus the decision itself:

* software serves: hashlib's own constructor (its arguments, errors and cost);
* the kernel serves: a maker of :class:`~_kcapi.hash.KernelHash` objects;
* the ``kernel`` policy and a kernel that cannot serve: a refusal.

Invariant: a router's ``func`` was decided under the current policy
generation, or is its decider, which decides on the next call
(:func:`_forget_decisions` runs after every :func:`_kcapi.policy.invalidate`).

Arguments are checked by hashlib itself: a kernel-served call whose arguments
are not a plain ``(data)`` is first made to hashlib's constructor with the data
replaced by ``b""`` (:func:`checked_data`), which raises hashlib's own error
for anything it refuses, in its order, on the running interpreter.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable
from typing import Any

from _kcapi import policy as _policy
from _kcapi import routing as _routing
from _kcapi.transform import Transform
from _kcapi.errors import KernelUnavailableError
from _kcapi.hash import KernelHash
from _kcapi.keyring import KeyringKey
from _kcapi.names import HashSpec

HASH = "hash"
#: The keywords hashlib constructors may take the data as (by interpreter version).
DATA_KEYWORDS = ("data", "string")
#: Marks an argument that was not given.
MISSING: Any = object()


class Router(functools.partial):  # type: ignore[type-arg]
    """A hashlib constructor (``sha256``) that follows the backend policy (see :func:`router`).

    Its ``func`` is the decision in force, replaced in place (``__setstate__``,
    the one way to change a partial) so that the object itself never changes.
    """

    __slots__ = ()

    def __get__(self, obj: Any, owner: Any = None) -> Router:
        return self  # a class attribute stays unbound, as hashlib's builtin constructors do

    def __reduce__(self) -> str:  # type: ignore[override]
        return str(self.__qualname__)  # pickled by name, as functions are

    def __repr__(self) -> str:
        return f"<kcapi_hashlib constructor {self.__name__}>"

    def _route_to(self, route: Callable[..., Any]) -> None:
        """Make ``route`` the decision (the caller holds the install lock)."""
        previous = self.func  # released only after the swap: no code runs in between
        self.__setstate__((route, (), None, self.__dict__))
        del previous


_install_lock = threading.Lock()
_routers: weakref.WeakSet[Router] = weakref.WeakSet()


def router(name: str, decide: Callable[[], Callable[..., Any]], doc: str,
           module: str = "kcapi_hashlib") -> Router:
    """One callable whose calls go to ``decide()``'s answer under the policy in force.

    Args:
        name: the public name (``'sha256'``).
        decide: computes the route under the current policy; may raise (an
            ``OSError`` such as EMFILE), and then nothing is remembered.
        doc: the docstring.
        module: the module the router is found in by name (for pickle).
    """

    def decide_and_call(*args: Any, **kwargs: Any) -> Any:
        generation = _policy.generation
        route = decide()
        with _install_lock:
            if _policy.generation == generation:
                made._route_to(route)
        return route(*args, **kwargs)

    made = Router(decide_and_call)
    made.__name__ = made.__qualname__ = name
    made.__module__ = module
    made.__doc__ = doc
    made._decider = decide_and_call
    _routers.add(made)
    return made


def _forget_decisions() -> None:
    with _install_lock:
        for made in list(_routers):
            made._route_to(made._decider)


_policy.on_invalidate(_forget_decisions)


# -- argument checks ----------------------------------------------------------

def plain_buffer(value: Any) -> bool:
    """Whether hashlib takes ``value`` as data: a C-contiguous buffer, not a ``str``."""
    if isinstance(value, str):
        return False
    try:
        return memoryview(value).c_contiguous
    except Exception:  # no buffer, a released view, an exporter's own error
        return False


def _blank(value: Any) -> Any:
    """A stand-in hashlib checks as it would check ``value``, holding no secret."""
    if isinstance(value, KeyringKey):
        return b""
    return bytes(memoryview(value).nbytes) if plain_buffer(value) else value


def checked_data(check: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                 blank: tuple[str, ...] = ()) -> Any:
    """Have hashlib check a constructor call; return its data (``None`` if none).

    ``check(*args, **kwargs)`` is called with data hashlib would take replaced by
    ``b""`` (nothing is hashed in software) and the keyword arguments named in
    ``blank`` (keys) replaced by zero bytes of the same length: every error is
    hashlib's own, raised in hashlib's order.

    Returns:
        The data argument, or ``None`` when the call gave none.
    """
    data = MISSING
    if args:
        data = args[0]
        if plain_buffer(data):
            args = (b"", *args[1:])
    shown = kwargs
    for key in DATA_KEYWORDS:
        if key in kwargs:
            data = kwargs[key]
            if plain_buffer(data):
                shown = {**shown, key: b""}
    for key in blank:
        if key in kwargs:
            shown = {**shown, key: _blank(kwargs[key])}
    check(*args, **shown)
    return None if data is MISSING else data


# -- routes ------------------------------------------------------------------

def kernel_maker(tfm: Transform, spec: HashSpec, name: str,
                 check: Callable[..., Any]) -> Callable[..., KernelHash]:
    """Make kernel objects of ``spec`` named ``name``; ``check`` is hashlib's constructor."""
    digest_size, block_size = spec.digest_size, spec.block_size

    def make(*args: Any, **kwargs: Any) -> KernelHash:
        if not kwargs:
            if not args:
                return KernelHash(tfm, name, digest_size, block_size)
            if len(args) == 1 and args[0] is not None:
                # KernelHash refuses bad data with hashlib's errors.
                return KernelHash(tfm, name, digest_size, block_size, args[0])
        return KernelHash(tfm, name, digest_size, block_size, checked_data(check, args, kwargs))

    return make


def refusal(check: Callable[..., Any], refused: KernelUnavailableError) -> Callable[..., Any]:
    """Refuse under the ``kernel`` policy, after hashlib's own argument errors."""
    refused = refused.fresh()  # kept without the frames it was raised in

    def refuse(*args: Any, **kwargs: Any) -> Any:
        checked_data(check, args, kwargs)
        raise refused.fresh()

    return refuse


def kernel_route(spec: HashSpec, name: str, check: Callable[..., Any],
                 software: Callable[..., Any], refused: KernelUnavailableError) -> Callable[..., Any]:
    """The route for a hash the kernel may serve, under the policy in force.

    Args:
        spec: the hash (``spec.kernel`` may be ``''``: then only software can serve).
        name: the ``name`` its objects carry (hashlib's for this spelling).
        check: hashlib's constructor, to check arguments.
        software: what serves when the kernel does not.
        refused: the refusal when the kernel has no equivalent (``kernel`` policy).
    """
    if not spec.kernel:
        return refusal(check, refused) if _routing.kernel_required() else software
    try:
        tfm = _routing.kernel_or_none(HASH, spec.kernel)
    except KernelUnavailableError as exc:
        return refusal(check, exc)
    return software if tfm is None else kernel_maker(tfm, spec, name, check)
