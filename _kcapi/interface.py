"""The kernel interface the object layer needs, written down once.

The object layer (:mod:`.hash`, :mod:`.skcipher`, :mod:`.aead`, :mod:`.rng`)
drives the kernel through this interface only; two sub-packages implement it,
every system call through :data:`._syscalls.kernel`: :mod:`.af_alg` over AF_ALG
sockets and :mod:`.cryptodev` over ``/dev/crypto`` ioctls.  A transform carries
its interface's request modules (``tfm.hashing``, ``tfm.requests``), so the
object layer never names an interface.  What it offers:

* **bind an algorithm, set a key**: a :class:`Transform` made for ``(kind,
  name, key, tag size)`` (:class:`_kcapi.af_alg.tfm.Transform`,
  :class:`_kcapi.cryptodev.tfm.Transform`; cached by :mod:`.transform`, which
  chooses the interface and which the policy module :mod:`.routing` alone probes);
* **run a request**: on an op handle taken from the transform's pools
  (:class:`OpPool`), with :class:`HashRequests` or :class:`CipherRequests`;
* **clone a hash state**: :meth:`Transform.clone_fd`;
* **describe the driver**: :meth:`Transform.info`.

An op handle is opaque to the object layer: it takes one from a pool, runs
requests on it, and gives it back clean or discards it (after any failure).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from .backend_info import BackendInfo

Op = TypeVar("Op")


class OpPool(Protocol[Op]):
    """Idle op handles of one transform, each in its initial state."""

    def take(self) -> Op:
        """An op handle in its initial state (pooled, else a new one).

        Raises:
            OSError: no handle could be made (out of descriptors: explained).
        """

    def give(self, op: Op) -> None:
        """Return a handle the kernel has reset (all output read)."""

    def discard(self, op: Op) -> None:
        """Close a handle whose kernel state is unknown or unwanted."""

    def __len__(self) -> int:
        """How many idle handles the pool holds."""


class Transform(Protocol):
    """A bound (and keyed) algorithm: the kernel's ``crypto_tfm``."""

    kind: str
    name: str
    interface: str  # 'af_alg' or 'cryptodev'
    hashing: HashRequests
    requests: CipherRequests

    @property
    def sockets(self) -> OpPool[Any]:
        """Op handles for :class:`CipherRequests` (skcipher, AEAD and DRBG requests)."""

    @property
    def fds(self) -> OpPool[int]:
        """Op handles for :class:`HashRequests` (a hash state each)."""

    def clone_fd(self, fd: int) -> int:
        """A new op handle holding a copy of the hash state of ``fd``."""

    def idle_count(self) -> int:
        """How many idle op handles the pools hold."""

    def drop_idle(self) -> int:
        """Close the idle op handles (after fork; out of descriptors); never raises."""

    def info(self) -> BackendInfo:
        """The kernel algorithm and driver serving this transform."""


class FilePipe(Protocol):
    """A file's way into hash states without a copy through user space."""

    def fill(self, fd: int, offset: int, count: int) -> int:
        """Take up to ``count`` bytes of file ``fd`` from ``offset``; 0 at its end."""

    def pending(self) -> int:
        """How many bytes are taken and not yet hashed."""

    def drain_into(self, op: int, count: int) -> int:
        """Hash up to ``count`` of the taken bytes into the state of ``op``."""

    def close(self) -> None:
        """Release the pipe."""


class HashRequests(Protocol):
    """Hash requests (the module :mod:`_kcapi.af_alg.hashing`)."""

    def feed(self, op: int, views: Sequence[memoryview], record: list[int],
             fresh: bool = False) -> None:
        """One recorded transfer of ``views`` into the pending state of ``op``
        (outcome appended to ``record``: result, errno); ``fresh``: that state holds
        none of the caller's data yet (a pooled handle may then be reset first)."""

    def final(self, op: int, held: bytearray, extra: memoryview, size: int,
              fresh: bool = False) -> bytes:
        """Feed ``held`` and ``extra`` last and return the ``size``-byte digest; ``fresh``:
        ``op`` was taken from the pool (no state of the caller's), else it is a clone."""

    def close(self, op: int) -> None:
        """Close an op handle (and the state it holds)."""

    def retire(self, tfm: Transform, op: int) -> None:
        """Let go of an op handle no object needs any more, its state unwanted (closed,
        or pooled where the interface resets a pooled handle's state on its next use)."""

    def drop_other(self, op: int) -> None:
        """After a fork: let go of an op handle the other process owns (close this
        process's descriptor of it; nothing for a session of a shared open file)."""

    def pbkdf2(self, tfm: Transform, digest_size: int, salt: bytes, iterations: int,
               dklen: int) -> bytes:
        """PBKDF2 over a keyed HMAC transform."""

    FilePipe: Callable[[int], FilePipe]


class CipherRequests(Protocol):
    """skcipher, AEAD and DRBG requests (the module :mod:`_kcapi.af_alg.requests`)."""

    def socket_limit(self, tfm: Transform, fallback: int) -> int:
        """The bytes one request may hold before its output must be read (x2)."""

    def cipher(self, op: Any, name: str, encrypt: bool, iv: bytes | None,
               sources: list[memoryview], outputs: list[memoryview], chains: bool) -> int:
        """One skcipher request from ``sources`` into ``outputs``; returns the bytes sent."""

    def aead(self, op: Any, encrypt: bool, iv: bytes, assoclen: int,
             buffers: list[memoryview], out: memoryview) -> bool:
        """One whole AEAD message; ``False`` when it could not be taken whole."""

    def random(self, op: Any, name: str, out: memoryview, chunk: int) -> None:
        """Fill ``out`` from a seeded DRBG, ``chunk`` bytes at most per read."""
