"""One bound (and keyed) AF_ALG socket: the kernel's ``crypto_tfm``, with pools of op sockets.

Binding is the probe: an algorithm is available exactly when binding it works.
A :class:`Transform` is configured once, before its first ``accept()`` (the
kernel refuses keys and tag sizes after that): bind, then the DRBG's test
entropy, the key (bytes or a keyring serial), an AEAD's tag size.  Each step
that fails closes the socket and raises its own error (:func:`_configure`).

Op sockets come from two pools of one mechanism (:mod:`.pool`): socket objects
for skcipher, AEAD and RNG requests, plain descriptors for hash ops.  Every
live transform is listed (:data:`_live`, weakly): after ``fork()`` and when
the process runs out of descriptors, all their idle op sockets are closed
(:mod:`_kcapi.forksafe` calls :func:`after_fork_in_child`).
"""

from __future__ import annotations

import errno
import socket
import struct
import weakref
from collections.abc import Callable

from .. import _syscalls, forksafe, procfs
from .._constants import (ALG_SET_AEAD_AUTHSIZE, ALG_SET_DRBG_ENTROPY, ALG_SET_KEY,
                          ALG_SET_KEY_BY_KEY_SERIAL)
from ..backend_info import BackendInfo
from ..descriptors import OUT_OF_DESCRIPTORS, new_descriptor
from ..errors import drbg_entropy_refusal, keyring_refusal, refusal
from ..keyring import KeyringKey
from ..pool import DESCRIPTORS, SOCKETS, OpPool
from . import hashing, requests

#: Every live transform, cached or not (keyring-keyed ones are never cached, and
#: objects keep evicted ones alive): each must drop its idle op sockets in a forked child.
_live: weakref.WeakSet[Transform] = weakref.WeakSet()


def _configure(sock: socket.socket, step: Callable[[], None],
               refused: Callable[[OSError], Exception]) -> None:
    """Run one configuration ``step`` of a new bound socket; if it fails, close the
    socket and raise ``refused(the error)``."""
    try:
        step()
    except OSError as exc:
        _syscalls.kernel.close(sock)
        raise refused(exc) from None


def _rejected(what: str, kind: str, name: str, stage: str) -> Callable[[OSError], Exception]:
    """A key or tag size the kernel rejects (EINVAL) is a ValueError; any other errno a refusal."""

    def explain(exc: OSError) -> Exception:
        if exc.errno == errno.EINVAL:
            return ValueError(f"the kernel rejected a {what} for '{name}'")
        return refusal(exc, stage, kind, name)

    return explain


class Transform:
    """One bound (and possibly keyed) AF_ALG socket with pools of idle op sockets.

    Attributes:
        kind: the AF_ALG type ('hash', 'skcipher', 'aead', 'rng').
        name: the kernel algorithm name.
        sock: the bound socket.
        sockets: idle op sockets as socket objects (skcipher, AEAD, RNG requests).
        fds: idle op sockets as plain descriptors (hash ops).
        hashing, requests: this interface's request modules (see :mod:`_kcapi.interface`).
    """

    interface = "af_alg"
    hashing = hashing
    requests = requests

    __slots__ = ("kind", "name", "sock", "sockets", "fds", "_driver", "__weakref__")

    def __init__(self, kind: str, name: str, key: bytes | KeyringKey | None = None,
                 authsize: int | None = None, entropy: bytes | None = None):
        kernel = _syscalls.kernel
        try:
            # Out of descriptors is not a refusal (which would be cached).
            sock = new_descriptor(kernel.socket)
        except OSError as exc:
            if exc.errno in OUT_OF_DESCRIPTORS:
                raise
            raise refusal(exc, "socket", kind, name) from None
        _configure(sock, lambda: kernel.bind(sock, kind, name),
                   lambda exc: refusal(exc, "bind", kind, name))
        if entropy is not None:  # a DRBG's test entropy, set before the seed (key)
            _configure(sock, lambda: kernel.setsockopt(sock, ALG_SET_DRBG_ENTROPY, entropy),
                       lambda exc: drbg_entropy_refusal(exc, name))
        if isinstance(key, KeyringKey):
            serial = struct.pack("=i", key.serial)
            _configure(sock, lambda: kernel.setsockopt(sock, ALG_SET_KEY_BY_KEY_SERIAL, serial),
                       lambda exc: keyring_refusal(exc, key, name))
        elif key is not None:
            _configure(sock, lambda: kernel.setsockopt(sock, ALG_SET_KEY, key),
                       _rejected(f"{len(key)}-byte key", kind, name, "setkey"))
        if authsize is not None:  # an AEAD's tag size, also fixed before accept()
            _configure(sock, lambda: kernel.setsockopt(sock, ALG_SET_AEAD_AUTHSIZE, None, authsize),
                       _rejected(f"{authsize}-byte tag", kind, name, "setauthsize"))
        self.kind = kind
        self.name = name
        self.sock = sock
        self.sockets: OpPool[socket.socket] = OpPool(sock, SOCKETS)
        self.fds: OpPool[int] = OpPool(sock, DESCRIPTORS)
        self._driver: procfs.Driver | None = None
        forksafe.install()  # before the first transform lives
        _live.add(self)

    def clone_fd(self, fd: int) -> int:
        """``accept4()`` on ``fd``: a fresh op socket from the bound socket, a copy of the
        hash state from an op socket."""
        return new_descriptor(_syscalls.kernel.accept_fd, fd)

    def idle_count(self) -> int:
        """How many idle op sockets the pools hold."""
        return len(self.sockets) + len(self.fds)

    def drop_idle(self) -> int:
        """Close the idle op sockets; returns how many were closed.  Never raises.

        Used after fork (the parent owns their twins) and to free descriptors
        when the process runs out (:func:`_kcapi.descriptors.new_descriptor`).
        """
        return self.fds.drain() + self.sockets.drain()

    def __del__(self) -> None:
        # Pooled descriptors are plain ints: nothing else would ever close them
        # when a transform is dropped (an evicted keyed transform, say); socket
        # objects left to close themselves would warn (ResourceWarning, -X dev).
        for pool in (getattr(self, "fds", None), getattr(self, "sockets", None)):
            if pool is not None:
                pool.drain()
        sock = getattr(self, "sock", None)
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def driver(self) -> procfs.Driver | None:
        """The ``/proc/crypto`` entry of the driver serving this transform (cached)."""
        if self._driver is None:
            self._driver = procfs.best_driver(procfs.read(), self.kind, self.name)
        return self._driver

    def info(self) -> BackendInfo:
        """A :class:`BackendInfo` for objects this transform serves."""
        d = self.driver()
        if d is None:
            return BackendInfo("kernel", self.name, "unknown", 0, "unknown", interface="af_alg")
        return BackendInfo("kernel", self.name, d.driver, d.priority, d.implementation,
                           interface="af_alg")


def drop_all_idle() -> int:
    """Close the idle op sockets of every live transform; returns how many.  Never raises."""
    return sum(entry.drop_idle() for entry in list(_live))


def after_fork_in_child() -> None:
    """In a forked child (:mod:`_kcapi.forksafe`, step 4): close the idle op sockets, which
    the parent may take (they are shared)."""
    drop_all_idle()


def live_transforms() -> list[Transform]:
    """Every live transform, cached or not."""
    return list(_live)
