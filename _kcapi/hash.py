"""The kernel-backed hash object, shared by hashlib hashes, HMAC and CMAC.

The kernel is driven through its transform's hash requests (``tfm.hashing``:
:mod:`.af_alg.hashing` or :mod:`.cryptodev.hashing`; see :mod:`.interface`).  The
cost model below is AF_ALG's; on ``/dev/crypto`` a send or a read is one ioctl,
a one-shot digest one ioctl in all, and files are read, not spliced.

Cost model (system calls), the reason for the design:

* data is held in user space until it exceeds :data:`HOLD_LIMIT`; a one-shot
  ``sha256(data).digest()`` is then ``send`` + ``recv`` on a pooled op socket;
* past the limit, data goes to the object's own op socket with ``MSG_MORE``
  (one ``sendmsg`` per :data:`SEND_CHUNK`);
* ``digest()`` of such an object clones the kernel state with ``accept()``,
  finalizes the clone (``recv`` finalizes pending state) and pools the clone,
  so the object stays usable, as ``hashlib`` requires;
* ``copy()`` is ``accept()`` on the op socket, or no syscall at all while the
  data is still held in user space.

Invariant: ``_op`` is not ``None`` exactly when the kernel holds pending
(``MSG_MORE``) state for this object; such a socket is never pooled.

Misuse is refused exactly as by ``hashlib``'s objects (``_hashlib.HASH``): a
wrong call (``update(data=...)``, ``digest(1)``), a buffer hashlib refuses and
setting ``name``/``digest_size``/``block_size`` are handed to a hashlib object
of the same algorithm (:meth:`KernelHash._reference`), which raises its own
error; nothing of this object changes.

Interrupts (see :mod:`.atomic`): the data is the held bytes ``_buf``, then the
kernel's pending state, then ``_job``: an update on its way into the kernel,
whose every send is recorded with its outcome, so that what the kernel has is
known at every bytecode boundary.  An update that goes to the kernel is
recorded as a job in one store and rolled forward from there, through the
exceptions of signal handlers, before the first of them is re-raised: an
interrupted ``update()`` has happened whole or not at all.  A job left pending
(interrupts between two attempts) is finished by the next call; a send the
kernel refused leaves the object refusing every call.
"""

from __future__ import annotations

import errno
import hashlib as _hashlib  # at import time: the standard library's, whatever replaces it later
import hmac as _std_hmac
import os
import threading
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from . import forksafe
from .atomic import finish, is_interrupt
from .backend_info import BackendInfo
from .interface import FilePipe
from .transform import KERNEL_TRANSFORMS, Transform

try:
    import _hashlib as _openssl  # OpenSSL's objects, as hashlib.new gives them
except ImportError:  # a Python built without OpenSSL
    _openssl = None

#: Bytes held in user space before the object takes an op socket of its own.
HOLD_LIMIT = 16 * 1024
#: Largest single send (algif_hash hashes as it receives, so this bounds latency, not memory).
SEND_CHUNK = 1 << 20
#: Bytes moved per splice() when hashing a file.
SPLICE_CHUNK = 1 << 20
#: Marks a fork whose state clone failed (no descriptor was left).
_NO_TWIN = -1


def as_view(data: Any) -> memoryview:
    """A flat byte view of ``data``, refusing what ``hashlib`` refuses with its errors."""
    if isinstance(data, str):
        raise TypeError("Strings must be encoded before hashing")
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError("object supporting the buffer API required") from None
    if not view.c_contiguous:
        # hashlib asks for a simple buffer: the exporter's own error says why not.
        reference_hash("sha256").update(data)
        return memoryview(view.tobytes())  # (an exporter that does give one)
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


_references: dict[str, Any] = {}


def reference_hash(name: str) -> Any:
    """An empty hashlib object like the one ``hashlib.new(name)`` gives (OpenSSL's
    ``HASH`` where OpenSSL has it), kept only to raise hashlib's own errors."""
    found = _references.get(name)
    if found is None:
        try:
            if _openssl is None:
                raise ValueError(name)
            found = _openssl.new(name, usedforsecurity=False)
        except (ValueError, TypeError):
            try:
                found = _hashlib.new(name, usedforsecurity=False)
            except (ValueError, TypeError):
                found = reference_hash("sha256")  # an algorithm hashlib lacks: its kind of object
        _references[name] = found
    return found


def read_only(attr: str, source: str) -> property:
    """The attribute ``attr``, read from ``source`` (a dotted attribute path), read-only:
    setting or deleting it is refused by the object's ``_reference()``, as hashlib refuses it."""

    def refuse_set(self: Any, value: Any) -> None:
        setattr(self._reference(), attr, value)
        raise AttributeError(f"attribute '{attr}' is not writable")

    def refuse_delete(self: Any) -> None:
        delattr(self._reference(), attr)
        raise AttributeError(f"attribute '{attr}' is not writable")

    return property(attrgetter(source), refuse_set, refuse_delete)


_MISSING: Any = object()
#: SHA-3's capacity in bits (twice the digest size), by hashlib name.
_SHA3_CAPACITY = {"sha3_224": 448, "sha3_256": 512, "sha3_384": 768, "sha3_512": 1024}
_SHA3_ATTRIBUTES = ("_capacity_bits", "_rate_bits", "_suffix")


def kernel_hash_of(obj: Any) -> KernelHash | None:
    """The :class:`KernelHash` serving ``obj``, or ``None`` when software serves it.

    ``obj`` is one itself, or a ``kcapi_hashlib.hmac.HMAC`` (a subclass of the
    standard library's ``hmac.HMAC``), which delegates to one held in its ``_hmac`` slot.
    """
    if isinstance(obj, KernelHash):
        return obj
    inner = getattr(obj, "_hmac", None) if isinstance(obj, _std_hmac.HMAC) else None
    return inner if isinstance(inner, KernelHash) else None


def splice_file(obj: KernelHash, fd: int, offset: int,
                progress: Callable[[int], object] | None = None) -> tuple[int, bool] | None:
    """Hash the file ``fd`` from ``offset`` into ``obj`` by splice, as ``update()`` calls would.

    Returns:
        ``(offset reached, whether that is the end of the file)`` (the caller
        reads the rest when splicing stopped early), or ``None`` when the file
        cannot be spliced: nothing moved and ``obj`` is unchanged (read it instead).

    Raises:
        OSError: the kernel failed mid-way (``obj`` is then unusable, as after a
            failed ``update()``), or ``obj`` was unusable already.
        BaseException: whatever a signal handler raised (see :mod:`.atomic`).
    """
    try:
        return obj._splice_file(fd, offset, progress)
    except OSError as exc:
        if obj._failed or is_interrupt(exc):
            raise
        return None

class _Job:
    """Bytes on their way into a hash's kernel state, with the outcome of every send.

    ``record`` holds two ints per send (result, errno), appended by
    :meth:`~._syscalls.Kernel.send_recorded` together with the system call:
    the bytes the kernel took are exactly the sum of the positive results.
    """

    __slots__ = ("data", "total", "record", "_read")

    def __init__(self, held: bytearray, view: memoryview):
        self.data = [memoryview(held), view] if held else [view]
        self.total = len(held) + view.nbytes
        self.record: list[int] = []
        self._read = (0, 0, 0)  # entries of record read, bytes they sent, an errno they refused

    def progress(self) -> tuple[int, int]:
        """``(bytes the kernel took, errno of a send it refused or 0)``."""
        seen, sent, refused = self._read
        record = self.record
        end = len(record)
        for i in range(seen, end, 2):
            n = record[i]
            if n > 0:
                sent += n
            elif n < 0 and record[i + 1] != errno.EINTR and not refused:
                refused = record[i + 1]
        self._read = (end, sent, refused)
        return sent, refused

    def rest(self, skip: int, limit: int) -> list[memoryview]:
        """At most ``limit`` bytes after the first ``skip``, as views."""
        out: list[memoryview] = []
        for piece in self.data:
            if skip >= piece.nbytes:
                skip -= piece.nbytes
                continue
            take = piece[skip:skip + limit]
            skip = 0
            out.append(take)
            limit -= take.nbytes
            if not limit:
                break
        return out


class ImmutableType(type):
    """The type of classes that refuse attribute changes, as hashlib's C types do."""

    def __setattr__(cls, name: str, value: Any) -> None:
        raise TypeError(f"cannot set {name!r} attribute of immutable type "
                        f"'{cls.__module__}.{cls.__qualname__}'")

    def __delattr__(cls, name: str) -> None:
        raise TypeError(f"cannot set {name!r} attribute of immutable type "
                        f"'{cls.__module__}.{cls.__qualname__}'")


class KernelHash(metaclass=ImmutableType):
    """A hash whose state lives in the kernel; the API of a ``hashlib`` object."""

    __slots__ = ("_tfm", "_op", "_buf", "_lock", "_digest", "_twin", "_failed", "_job", "_fed",
                 "_spliced",
                 "__weakref__", "_name", "_digest_size", "_block_size")

    #: Read-only, as on hashlib's objects.
    name = read_only("name", "_name")
    digest_size = read_only("digest_size", "_digest_size")
    block_size = read_only("block_size", "_block_size")

    def __new__(cls, *args: Any, **kwargs: Any) -> KernelHash:
        tfm = args[0] if args else kwargs.get("tfm")
        if cls is KernelHash and not isinstance(tfm, KERNEL_TRANSFORMS):
            # Made by this library only (hashlib's HASH cannot be instantiated either).
            raise TypeError(f"cannot create '{cls.__module__}.{cls.__qualname__}' instances")
        return object.__new__(cls)

    def __init__(self, tfm: Transform, name: str, digest_size: int, block_size: int,
                 data: Any = None):
        self._tfm = tfm
        self._op: int | None = None  # op socket descriptor holding pending state
        self._buf = bytearray()
        self._lock = threading.Lock()
        self._digest: bytes | None = None
        self._twin: int | None = None  # the state's clone while a fork is under way
        self._failed = False
        self._job: _Job | None = None  # an update on its way into the kernel
        self._fed = 0  # bytes in the kernel's state from update() (jobs done)
        self._spliced = False  # a file may have been spliced into the kernel's state
        self._name = name
        self._digest_size = digest_size
        self._block_size = block_size
        if data is not None:
            # No other thread can see the object yet: no lock (CPython 3.11 reads
            # the clock on every lock acquire, a syscall where there is no vDSO).
            view = as_view(data)
            if view.nbytes <= HOLD_LIMIT:
                self._buf += view
            else:
                self._send(view)

    # -- hashlib API -------------------------------------------------------

    def update(self, data: Any = _MISSING, /, *args: Any, **kwargs: Any) -> None:
        """Hash the bytes of ``data`` (any C-contiguous buffer)."""
        if args or kwargs or data is _MISSING:
            self._reference().update(*(() if data is _MISSING else (data,)), *args, **kwargs)
        view = as_view(data)
        with self._lock:
            self._ready()
            self._digest = None
            if self._op is None and len(self._buf) + view.nbytes <= HOLD_LIMIT:
                self._buf += view
            else:
                self._send(view)

    def digest(self, *args: Any, **kwargs: Any) -> bytes:
        """The digest of the data so far; the object stays usable."""
        if args or kwargs:
            self._reference().digest(*args, **kwargs)
        with self._lock:
            self._ready()
            if self._digest is None:
                self._digest = self._final()
            return self._digest

    def hexdigest(self, *args: Any, **kwargs: Any) -> str:
        """:meth:`digest` as a string of hexadecimal digits."""
        if args or kwargs:
            self._reference().hexdigest(*args, **kwargs)
        return self.digest().hex()

    def copy(self, *args: Any, **kwargs: Any) -> KernelHash:
        """An independent copy: ``accept()`` clones the kernel state."""
        if args or kwargs:
            self._reference().copy(*args, **kwargs)
        with self._lock:
            self._ready()
            other = object.__new__(type(self))
            other._tfm = self._tfm
            other._op = None
            if self._op is not None and not self._state_empty():
                other._op = self._tfm.clone_fd(self._op)
                forksafe.track(other)
            other._buf = bytearray(self._buf)
            other._lock = threading.Lock()
            other._digest = self._digest
            other._twin = None
            other._failed = False
            other._job = None
            other._fed = self._fed
            other._spliced = self._spliced
            other._name = self._name
            other._digest_size = self._digest_size
            other._block_size = self._block_size
            return other

    # -- kcapi extras ------------------------------------------------------

    @property
    def backend_info(self) -> BackendInfo:
        """Which kernel algorithm and driver serve this object."""
        return self._tfm.info()

    def digest_with(self, extra: memoryview) -> bytes:
        """The digest of the data so far followed by ``extra``; the object is unchanged.

        ``extra`` goes only to the clone that is finalized (or to a pooled op
        socket with the held bytes), at the cost of :meth:`digest`: a composed
        AEAD computes its tag this way while the MAC input of the call under way
        is not the MAC's yet.
        """
        if not extra.nbytes:
            return self.digest()
        with self._lock:
            self._ready()
            return self._final(extra)

    @property
    def fed(self) -> int:
        """How many bytes ``update()`` has taken (spliced files not counted).

        Exact at every bytecode boundary: an update counts from the moment it
        is recorded (held, or a job) -- the composed AEAD streams use this to
        tell whether an interrupted update of their MAC happened.
        """
        job = self._job
        return self._fed + len(self._buf) + (job.total if job is not None else 0)

    def __repr__(self) -> str:
        return f"<{self._name} kernel HASH object ({self._tfm.name}) @ {hex(id(self))}>"

    def __reduce_ex__(self, protocol: Any) -> Any:
        return self._reference().__reduce_ex__(protocol)  # raises: hash objects do not pickle

    def _reference(self) -> Any:
        """A hashlib object of this kind (see :func:`reference_hash`), for its errors."""
        return reference_hash(self._name)

    def __getattr__(self, attr: str) -> Any:
        # Called only for attributes not found: SHA-3's sponge parameters, which
        # the software SHA-3 objects show (capacity, rate in bits; domain suffix).
        if attr in _SHA3_ATTRIBUTES and self._name in _SHA3_CAPACITY:
            capacity = _SHA3_CAPACITY[self._name]
            return {"_capacity_bits": capacity, "_rate_bits": 1600 - capacity,
                    "_suffix": b"\x06"}[attr]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}",
                             name=attr, obj=self)

    def __del__(self) -> None:
        op = getattr(self, "_op", None)
        if op is not None:
            self._op = None
            try:
                self._tfm.hashing.retire(self._tfm, op)
            except Exception:  # interpreter shutdown
                pass

    # -- internals (caller holds the lock) ---------------------------------

    # -- fork safety (see forksafe): parent and child get a socket each ------

    def _fork_prepare(self) -> None:
        self._lock.acquire()
        if self._op is not None:
            try:
                self._twin = self._tfm.clone_fd(self._op)
            except OSError:
                self._twin = _NO_TWIN  # the child cannot have a socket of its own


    def _fork_parent(self) -> None:
        twin, self._twin = self._twin, None
        if twin is not None and twin != _NO_TWIN:
            self._tfm.hashing.drop_other(twin)
        self._lock.release()

    def _fork_child(self) -> None:
        twin, self._twin = self._twin, None
        if twin == _NO_TWIN:
            # Sharing the parent's socket would mix both processes' data: refuse instead.
            op, self._op = self._op, None
            if op is not None:
                self._tfm.hashing.drop_other(op)
            self._failed = True
        elif twin is not None:
            op, self._op = self._op, twin
            if op is not None:
                self._tfm.hashing.drop_other(op)  # the child's copy of the parent's socket
        self._lock.release()

    def _ready(self) -> None:
        """Refuse a failed object; finish an update that interrupts left pending."""
        self._check()
        if self._job is not None:
            finish(self._drain)

    def _send(self, view: memoryview) -> None:
        """Move held bytes and ``view`` into the kernel state (``MSG_MORE``).

        From the store of the job on, the update happens: :func:`.atomic.finish`
        rolls it forward through interrupts (re-raising the first once done).
        """
        if self._op is None:
            forksafe.track(self)  # first: a fork must never share a socket with pending state
            self._op = self._tfm.fds.take()  # out of descriptors: the object is unchanged
        self._job, self._buf = _Job(self._buf, view), bytearray()
        finish(self._drain)

    def _drain(self) -> bool:
        """Send what the pending job has left, one recorded send at a time; True when done.

        Raises:
            OSError: the kernel refused a send (the object is then unusable).
        """
        job = self._job
        if job is None:
            return True
        while True:
            sent, refused = job.progress()
            if refused:
                self._poison()
                raise OSError(refused, os.strerror(refused))
            rest = job.rest(sent, SEND_CHUNK)
            if not rest:
                break
            assert self._op is not None
            try:
                # fresh: the op's state has none of our data yet (a pooled
                # /dev/crypto session is reset by this first request).
                self._tfm.hashing.feed(self._op, rest, job.record, self._state_empty(sent))
            except OSError:
                if job.progress()[1]:
                    self._poison()
                raise
        self._job, self._fed = None, self._fed + job.total
        return True

    def _final(self, extra: memoryview = memoryview(b"")) -> bytes:
        """Finalize a clone of the state (or a pooled op for held data only), fed
        the held bytes and ``extra`` last."""
        tfm = self._tfm
        fresh = self._op is None or self._state_empty()
        op = tfm.fds.take() if fresh else tfm.clone_fd(self._op)
        try:
            out = tfm.hashing.final(op, self._buf, extra, self._digest_size, fresh)
        except BaseException:
            tfm.fds.discard(op)
            raise
        tfm.fds.give(op)
        return out

    def _state_empty(self, sent: int = 0) -> bool:
        """Whether the kernel state of ``_op`` holds none of this object's data: no update
        done, ``sent`` bytes of the one under way, nothing spliced.  Such a state may be
        a pooled handle's leftover (a /dev/crypto session's spent state, taken from the
        pool by an update an interrupt then cut short): it is reset or passed over, never
        hashed on from."""
        return self._fed == 0 and sent == 0 and not self._spliced

    def _poison(self) -> None:
        """After a failed send the kernel state is unknown: no later call may use it."""
        self._failed = True  # first: from here on every call refuses
        self._job = None
        op, self._op = self._op, None
        if op is not None:
            self._tfm.fds.discard(op)
            forksafe.untrack(self)
        self._buf = bytearray()

    def _check(self) -> None:
        if self._failed:
            raise OSError(errno.EIO, f"this {self._name} object lost its kernel state "
                          "in an earlier error and cannot be used")

    def _splice_file(self, fd: int, offset: int,
                     progress: Callable[[int], object] | None = None) -> tuple[int, bool]:
        """Hash a file from ``offset`` by splice (file -> pipe -> op socket).

        Returns the offset reached and whether that is the end of the file
        (``False`` when splicing stopped early: the caller reads the rest).

        Each chunk is atomic, as each ``update()`` of ``hashlib.file_digest``'s
        loop is: an interrupt before its bytes leave the pipe drops them (the
        object has hashed the chunks before), one after that is rolled forward
        (the pipe is drained into the kernel first; what is left in it is asked
        of the pipe when a splice's result was lost).

        Raises:
            OSError: the file could not be spliced before any byte moved (the
                object is unchanged), or the kernel failed mid-way (the object
                is then unusable, see :meth:`_poison`).
            BaseException: whatever a signal handler raised (see :mod:`.atomic`).
        """
        start = offset
        pipe = self._tfm.hashing.FilePipe(SPLICE_CHUNK)
        try:
            while True:
                try:
                    moved = pipe.fill(fd, offset, SPLICE_CHUNK)
                except OSError as exc:
                    if offset == start or is_interrupt(exc):
                        raise
                    return offset, False
                if moved == 0:
                    return offset, True
                with self._lock:
                    self._ready()
                    self._digest = None
                    if self._op is None:
                        forksafe.track(self)
                        self._op = self._tfm.fds.take()
                    self._spliced = True  # before any byte may move: never taken for empty
                    if self._buf:
                        self._send(memoryview(b""))  # the held bytes go first
                    left: list[int | None] = [moved]  # in the pipe; None: ask the pipe
                    finish(lambda: self._splice_pipe(pipe, left))
                offset += moved
                if progress is not None:
                    progress(moved)
        finally:
            pipe.close()

    def _splice_pipe(self, pipe: FilePipe, left: list[int | None]) -> bool:
        """Splice the pipe's bytes into the kernel state (a step of :func:`.atomic.finish`).

        ``left[0]`` is the count still in the pipe; ``None`` while a splice is in
        flight, so that after an interruption the pipe itself is asked.
        """
        self._check()
        if left[0] is None:
            left[0] = pipe.pending()
        while left[0]:
            count, left[0] = left[0], None
            assert self._op is not None
            try:
                left[0] = count - pipe.drain_into(self._op, count)
            except BaseException as exc:
                if not is_interrupt(exc):
                    self._poison()  # the kernel's state is unknown now
                raise
        return True


def pbkdf2(tfm: Transform, digest_size: int, salt: bytes, iterations: int, dklen: int) -> bytes:
    """PBKDF2 (RFC 8018) over a keyed ``hmac(<hash>)`` transform of ``digest_size`` bytes.

    Raises:
        OSError: the kernel failed.
    """
    return tfm.hashing.pbkdf2(tfm, digest_size, salt, iterations, dklen)
