"""Bound algorithm sockets ("transforms"), cached, with pools of operation sockets.

A :class:`Transform` is one AF_ALG socket bound to an algorithm (and keyed, for
keyed algorithms): the kernel's ``crypto_tfm``.  Binding is the probe: an
algorithm is available exactly when binding it works, and the answer --
success or the reason for failure -- is cached per process.  Each transform
keeps a bounded pool of idle operation sockets, which the kernel has reset
(a hash op after its final ``recv``), so that a new object costs no syscall.
Whether the kernel or software serves an object, and why, is decided by
:mod:`.routing`, which alone reads these probes (:func:`_lookup`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import socket
import struct
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass

from . import _syscalls, policy, procfs
from ._constants import (ALG_SET_AEAD_AUTHSIZE, ALG_SET_DRBG_ENTROPY, ALG_SET_KEY,
                         ALG_SET_KEY_BY_KEY_SERIAL)
from .errors import KernelUnavailableError, drbg_entropy_refusal, keyring_refusal, refusal
from .keyring import KeyringKey

#: Idle operation sockets kept per transform.
POOL_SIZE = 4
#: Keyed transforms kept (least recently used ones are dropped first).
KEYED_CACHE_SIZE = 32


@dataclass(frozen=True)
class BackendInfo:
    """Who served an object, and why.

    Attributes:
        backend: ``'kernel'`` or ``'software'``.
        algorithm: the kernel algorithm name (``'hmac(sha256)'``), if any.
        driver: the kernel driver (``'sha256-generic'``) or the software library.
        priority: the kernel driver's priority (0 for software).
        implementation: ``'generic'``, ``'arch'``, ``'offload'`` or ``'software'``.
        reason: why software served it ('' for the kernel).
    """

    backend: str
    algorithm: str
    driver: str
    priority: int = 0
    implementation: str = "software"
    reason: str = ""


class Transform:
    """One bound (and possibly keyed) AF_ALG socket with a pool of idle op sockets."""

    __slots__ = ("kind", "name", "sock", "_idle", "_idle_fds", "_driver", "__weakref__")

    def __init__(self, kind: str, name: str, key: bytes | KeyringKey | None = None,
                 authsize: int | None = None, entropy: bytes | None = None):
        kernel = _syscalls.kernel
        try:
            # Out of descriptors is not a refusal (which would be cached).
            sock = _new_descriptor(kernel.socket)
        except OSError as exc:
            if exc.errno in _OUT_OF_DESCRIPTORS:
                raise
            raise refusal(exc, "socket", kind, name) from None
        try:
            kernel.bind(sock, kind, name)
        except OSError as exc:
            kernel.close(sock)
            raise refusal(exc, "bind", kind, name) from None
        if entropy is not None:  # a DRBG's test entropy, set before the seed (key)
            try:
                kernel.setsockopt(sock, ALG_SET_DRBG_ENTROPY, entropy)
            except OSError as exc:
                kernel.close(sock)
                raise drbg_entropy_refusal(exc, name) from None
        if isinstance(key, KeyringKey):
            try:
                kernel.setsockopt(sock, ALG_SET_KEY_BY_KEY_SERIAL, struct.pack("=i", key.serial))
            except OSError as exc:
                kernel.close(sock)
                raise keyring_refusal(exc, key, name) from None
        elif key is not None:
            try:
                kernel.setsockopt(sock, ALG_SET_KEY, key)
            except OSError as exc:
                kernel.close(sock)
                if exc.errno == errno.EINVAL:
                    raise ValueError(f"the kernel rejected a {len(key)}-byte key "
                                     f"for '{name}'") from None
                raise refusal(exc, "setkey", kind, name) from None
        if authsize is not None:  # an AEAD's tag size, also fixed before accept()
            try:
                kernel.setsockopt(sock, ALG_SET_AEAD_AUTHSIZE, None, authsize)
            except OSError as exc:
                kernel.close(sock)
                if exc.errno == errno.EINVAL:
                    raise ValueError(f"the kernel rejected a {authsize}-byte tag "
                                     f"for '{name}'") from None
                raise refusal(exc, "setauthsize", kind, name) from None
        self.kind = kind
        self.name = name
        self.sock = sock
        self._idle: list[socket.socket] = []
        self._idle_fds: list[int] = []
        self._driver: procfs.Driver | None = None
        # Every transform, cached or not (keyring-keyed, evicted from the LRU but
        # still held by objects), must drop its idle op sockets in a forked child.
        _install_fork_hook()
        _live.add(self)

    def op(self) -> socket.socket:
        """An operation socket in its initial state: pooled if one is idle, else ``accept()``.

        Raises:
            OSError: ``accept()`` failed; EMFILE/ENFILE explained (:func:`out_of_descriptors`).
        """
        try:
            return self._idle.pop()
        except IndexError:
            pass
        return _new_descriptor(_syscalls.kernel.accept, self.sock)

    def release(self, op: socket.socket) -> None:
        """Return an op socket the kernel has reset; it is closed if the pool is full."""
        if len(self._idle) < POOL_SIZE:
            self._idle.append(op)
        else:
            _syscalls.kernel.close(op)

    def discard(self, op: socket.socket) -> None:
        """Close an op socket whose kernel state is unknown or unwanted."""
        _syscalls.kernel.close(op)

    # The same, for op sockets kept as plain descriptors (hashes: see _libc).

    def op_fd(self) -> int:
        """An op socket descriptor in its initial state: pooled, else ``accept4()``."""
        try:
            return self._idle_fds.pop()
        except IndexError:
            return self.clone_fd(self.sock.fileno())

    def clone_fd(self, fd: int) -> int:
        """``accept4()`` on ``fd``: a fresh op socket from the bound socket, a copy of the
        hash state from an op socket."""
        return _new_descriptor(_syscalls.kernel.accept_fd, fd)

    def release_fd(self, fd: int) -> None:
        """Return a descriptor the kernel has reset; closed if the pool is full."""
        if len(self._idle_fds) < POOL_SIZE:
            self._idle_fds.append(fd)
        else:
            _syscalls.kernel.close_fd(fd)

    def discard_fd(self, fd: int) -> None:
        """Close a descriptor whose kernel state is unknown or unwanted."""
        _syscalls.kernel.close_fd(fd)

    def idle_count(self) -> int:
        """How many idle op sockets the pools hold."""
        return len(self._idle) + len(self._idle_fds)

    def __del__(self) -> None:
        # Pooled descriptors are plain ints: nothing else would ever close them
        # when a transform is dropped (an evicted keyed transform, say).  Each is
        # taken off the list before it is closed: until the weak references are
        # cleared (after this method), a fork in another thread still sees this
        # transform in _live, and must not find numbers closed (perhaps reused).
        fds = getattr(self, "_idle_fds", None)
        while fds:
            try:
                os.close(fds.pop())
            except OSError:
                pass
        # Socket objects left to close themselves would warn (ResourceWarning,
        # shown under -X dev): nothing uses them any more, so close them here.
        idle = getattr(self, "_idle", None)
        while idle:
            try:
                idle.pop().close()
            except OSError:
                pass
        sock = getattr(self, "sock", None)
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def drop_idle(self) -> int:
        """Close the idle op sockets; returns how many were closed.

        Used after fork (the parent owns their twins) and to free descriptors
        when the process runs out (:func:`_new_descriptor`).  Each is taken off
        its pool before it is closed, so one taken by another thread meanwhile
        is that thread's alone.  Never raises: in a forked child, a pool left
        undropped would be shared with the parent.
        """
        closed = 0
        idle, fds = self._idle, self._idle_fds
        while idle:
            try:
                op = idle.pop()
            except IndexError:  # another thread took the last one
                break
            try:
                op.close()
            except OSError:
                pass
            closed += 1
        while fds:
            try:
                fd = fds.pop()
            except IndexError:
                break
            try:
                os.close(fd)
            except OSError:
                pass
            closed += 1
        return closed

    def driver(self) -> procfs.Driver | None:
        """The ``/proc/crypto`` entry of the driver serving this transform (cached)."""
        if self._driver is None:
            self._driver = procfs.best_driver(procfs.read(), self.kind, self.name)
        return self._driver

    def info(self) -> BackendInfo:
        """A :class:`BackendInfo` for objects this transform serves."""
        d = self.driver()
        if d is None:
            return BackendInfo("kernel", self.name, "unknown", 0, "unknown")
        return BackendInfo("kernel", self.name, d.driver, d.priority, d.implementation)


_lock = threading.RLock()  # re-entered when a bind runs out of descriptors
_unkeyed: dict[tuple[str, str], Transform | KernelUnavailableError] = {}
_keyed: OrderedDict[tuple[str, str, bytes, int | None], Transform] = OrderedDict()
#: Every live transform, cached or not: the fork hook must reach them all.
_live: weakref.WeakSet[Transform] = weakref.WeakSet()
_key_tag_secret = b""  # drawn on first keyed use, not at import
_fork_hook_installed = False

def _after_fork_in_child() -> None:
    # Idle pooled op sockets are clean but shared with the parent: the child
    # must not take the ones the parent will take.  Bound sockets carry no
    # per-operation state and stay shared.  Not only the cached transforms:
    # keyring-keyed ones are never cached, and objects keep evicted ones alive.
    global _lock
    _lock = threading.RLock()
    for entry in list(_live):
        entry.drop_idle()


def _install_fork_hook() -> None:
    global _fork_hook_installed
    if not _fork_hook_installed:
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _fork_hook_installed = True


def _lookup(kind: str, name: str) -> Transform | KernelUnavailableError:
    """The cached unkeyed transform or refusal for ``(kind, name)``, binding on first use."""
    found = _unkeyed.get((kind, name))
    if found is None:
        with _lock:
            _install_fork_hook()
            found = _unkeyed.get((kind, name))
            if found is None:
                try:
                    found = Transform(kind, name)
                except KernelUnavailableError as exc:
                    # Cached without the frames it was raised in (see fresh()).
                    found = exc.fresh()
                _unkeyed[(kind, name)] = found
    return found


_OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE)


def _new_descriptor(call, *args):  # type: ignore[no-untyped-def]
    """``call(*args)``, a syscall returning a new descriptor; out of descriptors,
    the caches give theirs back (:func:`reclaim_descriptors`) and it is tried once more.

    Raises:
        OSError: still EMFILE/ENFILE (explained: :func:`out_of_descriptors`),
            or any other error of ``call``.
    """
    attempts = 2  # the second only if the caches gave descriptors back
    while True:
        try:
            return call(*args)
        except OSError as exc:
            attempts -= 1
            if exc.errno not in _OUT_OF_DESCRIPTORS:
                raise
            if not attempts or not reclaim_descriptors():
                raise out_of_descriptors(exc) from None


def reclaim_descriptors() -> int:
    """Close what the caches hold only to save syscalls: every idle pooled op
    socket, and the cached keyed transforms no object uses.  Returns how many
    descriptors that freed.  The next uses pay an ``accept()`` (or a bind) again.
    """
    freed = sum(entry.drop_idle() for entry in list(_live))
    with _lock:
        evicted = [weakref.ref(entry) for entry in _keyed.values()]
        _keyed.clear()
    # An evicted transform that nothing else holds is gone now (its socket closed).
    return freed + sum(ref() is None for ref in evicted)


def out_of_descriptors(exc: OSError) -> OSError:
    """EMFILE/ENFILE, explained: which objects hold descriptors and what to do."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return OSError(exc.errno, f"{os.strerror(exc.errno or 0)}: every hash object holding more than "
                   "16 KiB of unfinished input keeps a kernel socket open, and so does every "
                   "distinct key in use (HMAC, cipher and CMAC objects share one bound socket "
                   "per key; objects keyed from the keyring have one each); the limit here is "
                   f"RLIMIT_NOFILE={soft}. Finish (digest) or drop "
                   "objects, or raise the limit. The object that raised is unchanged.")


def _key_tag(key: bytes) -> bytes:
    """A per-process keyed digest of ``key``: the cache never holds key bytes."""
    global _key_tag_secret
    if not _key_tag_secret:
        _key_tag_secret = os.urandom(32)
    return hashlib.blake2b(key, key=_key_tag_secret).digest()


def get(kind: str, name: str, key: bytes | KeyringKey | None = None,
        authsize: int | None = None) -> Transform:
    """The cached transform for ``(kind, name[, key[, authsize]])``, binding it on first use.

    Args:
        kind: AF_ALG type ('hash', 'skcipher', 'aead', 'rng').
        name: kernel algorithm name, e.g. ``'hmac(sha256)'``.
        key: the key to set with ALG_SET_KEY (keyed transforms are cached by a
            keyed digest of the key, never by the key itself).
        authsize: an AEAD's tag size (ALG_SET_AEAD_AUTHSIZE), only with a key.

    Raises:
        KernelUnavailableError: the kernel refused; the refusal is cached too.
        ValueError: the kernel rejected the key or the tag size.
    """
    # The unkeyed bind is the probe, for keyed algorithms too: it fails with
    # the reason (ENOENT, EAFNOSUPPORT, ...) before any key is involved.
    found = _lookup(kind, name)
    if isinstance(found, KernelUnavailableError):
        raise found.fresh()
    if key is None:
        return found
    if isinstance(key, KeyringKey):
        # Not cached: the key is read from the keyring when the object is made,
        # so an updated or revoked key takes effect for every new object.
        return Transform(kind, name, key, authsize)
    tag = (kind, name, _key_tag(key), authsize)
    # A hit takes no lock (CPython 3.11 reads the clock on every acquire, a system
    # call where there is no vDSO): get() and move_to_end() are each atomic under
    # the GIL, and an eviction in between only leaves the entry uncached.
    found = _keyed.get(tag)
    if found is not None:
        try:
            _keyed.move_to_end(tag)
        except KeyError:
            pass
        return found
    made = Transform(kind, name, key, authsize)
    with _lock:
        _keyed[tag] = made
        while len(_keyed) > KEYED_CACHE_SIZE:
            _keyed.popitem(last=False)
    return made


def clear() -> None:
    """Forget every cached transform and refusal (their sockets close when unused)."""
    with _lock:
        _unkeyed.clear()
        _keyed.clear()
    policy.invalidate()
