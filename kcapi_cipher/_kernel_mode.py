"""What the kernel-served cipher objects share: PyCryptodome's call rules and buffers.

:class:`KernelCipher` holds the API of PyCryptodome's mode objects --
``encrypt``/``decrypt`` with ``output=``, the call-order state machine, the
input and output checks with PyCryptodome's messages -- and leaves the
transformation to subclasses.  :class:`StreamMode` adds what the stream
modes (CTR, CFB, OFB, ChaCha20) need on top of a kernel that only works in
whole blocks: a partial block at the end of a call is sent padded with
zeros, and the keystream bytes that padding produced are kept in user space
for the next call, so that ``c.encrypt(a) + c.encrypt(b) == c.encrypt(a + b)``
for every split.

A call is atomic, as PyCryptodome's are, even when a signal handler raises in
the middle of it (Ctrl-C): :meth:`KernelCipher._transform` runs the mode on a
private copy of the object and publishes the copy's stream position in one
step at the end (see :mod:`_kcapi.atomic`).  The kernel keeps nothing between
requests, so an interrupted call leaves the object in its state before the
call; output that shares memory with the input is computed aside and copied
after that step, so that an interrupted in-place call leaves the input intact.
"""

from __future__ import annotations

import errno
import threading
from functools import cache
from itertools import repeat
from typing import Any, TypeVar

from _kcapi import forksafe
from _kcapi.atomic import is_interrupt
from _kcapi.skcipher import Advance, KernelSkcipher, Pair, overlap
from _kcapi.transform import Transform
from _kcapi.backend_info import BackendInfo

from ._buffers import OUTPUT_LENGTH, OUTPUT_TYPE, c_view, writable, xor
from ._copying import Uncopyable
from ._params import block_size, random_bytes
from ._results import fill_bytes

K = TypeVar("K", bound="KernelCipher")

ENCRYPT = "encrypt"
DECRYPT = "decrypt"
_BOTH = (ENCRYPT, DECRYPT)


def iv_mode_object(mode_class: type[K], tfm: Transform, algorithm: str, iv: bytes | None) -> K:
    """A CBC, CFB or OFB object of ``mode_class`` on ``tfm``, from ``iv`` (random if ``None``)."""
    size = block_size(algorithm)
    if iv is None:
        iv = random_bytes(size)
    return mode_class(KernelSkcipher(tfm, size, size), size, iv)  # type: ignore[call-arg]


class KernelCipher(Uncopyable):
    """Base of the kernel-served cipher objects (the API of PyCryptodome's mode objects).

    Subclasses set :attr:`_engine` and ``block_size`` and implement
    :meth:`_process`; they may override :meth:`_check_length`.  Every other
    attribute they hold is immutable, so :meth:`__copy__` can share it.
    """

    __slots__ = ("_engine", "_lock", "_next", "block_size", "__weakref__")

    #: Whether encrypt() and decrypt() exclude each other (not for ECB).
    _ORDERED = True
    _CANNOT_ENCRYPT = "encrypt() cannot be called after decrypt()"
    _CANNOT_DECRYPT = "decrypt() cannot be called after encrypt()"
    #: Whether a wrong ``output=`` length is reported with the output's length on
    #: decrypt(), as PyCryptodome's ECB, CBC, CFB and OFB objects do.
    _DECRYPT_REPORTS_OUTPUT = True
    #: The ``ValueError`` text for an output of another length (PyCryptodome's modes
    #: have two spaces before the parenthesis; its XTS mode has one).
    _OUTPUT_LENGTH = OUTPUT_LENGTH
    #: Every attribute :meth:`_process` changes (the stream position), with
    #: immutable values: a call works on a private copy of the object and
    #: publishes these at its end, in one step (:meth:`_transform`).
    _STATE: tuple[str, ...] = ()

    _engine: KernelSkcipher
    _next: tuple[str, ...]
    block_size: int

    def _init_base(self, engine: KernelSkcipher, block_size: int) -> None:
        """Set the state every kernel cipher object has (both methods allowed)."""
        self._engine = engine
        self._lock = threading.Lock()
        self._next = _BOTH
        self.block_size = block_size
        forksafe.watch_lock(self)

    def _lost_in_fork(self) -> None:
        """A fork caught another thread inside a call: this copy's state is half-done."""
        self._engine.failed = True

    # -- PyCryptodome's API ------------------------------------------------------

    def encrypt(self, plaintext: Any, output: Any = None) -> bytes | None:
        """Encrypt ``plaintext`` (bytes, bytearray or memoryview).

        Args:
            plaintext: the data; calls may split a message anywhere the mode allows.
            output: a bytearray or writable memoryview of the same length to
                write the ciphertext into (then ``None`` is returned).

        Returns:
            The ciphertext as ``bytes``, or ``None`` with ``output``.

        Raises:
            TypeError: after decrypt(), or for a bad input or output type.
            ValueError: lengths the mode does not allow.
            OSError: the kernel failed after data was sent (the object is then
                unusable, and ``output`` is zeroed: no partial result is released);
                failing before that (e.g. EMFILE), the call changed nothing.
            BaseException: what a signal handler raised: the call changed
                nothing (``output`` as above, an in-place input intact).
        """
        if ENCRYPT not in self._next:
            raise TypeError(self._CANNOT_ENCRYPT)
        if self._ORDERED:
            self._next = (ENCRYPT,)
        return self._run(plaintext, output, True)

    def decrypt(self, ciphertext: Any, output: Any = None) -> bytes | None:
        """Decrypt ``ciphertext``: :meth:`encrypt`'s arguments, result and errors, with
        the plaintext written or returned (a TypeError after encrypt())."""
        if DECRYPT not in self._next:
            raise TypeError(self._CANNOT_DECRYPT)
        if self._ORDERED:
            self._next = (DECRYPT,)
        return self._run(ciphertext, output, False)

    # -- kcapi extras --------------------------------------------------------------

    @property
    def backend_info(self) -> BackendInfo:
        """Which kernel algorithm and driver serve this object."""
        return self._engine.backend_info

    def __repr__(self) -> str:
        return f"<kcapi_cipher {type(self).__name__} ({self._engine.tfm.name}) @ {hex(id(self))}>"

    def __copy__(self) -> KernelCipher:
        """An independent object in the same state (``copy.copy``).

        The kernel keeps nothing between requests (each carries its IV), so the
        state is this object's attributes; the copy gets its own lock and engine.
        """
        with self._lock:
            other = object.__new__(type(self))
            for name in _slot_names(type(self)):
                if name not in ("_lock", "_engine") and hasattr(self, name):
                    setattr(other, name, getattr(self, name))
            engine = self._engine
            other._engine = KernelSkcipher(engine.tfm, engine.block, engine.ivsize, engine.chains)
            other._engine.failed = engine.failed
            other._lock = threading.Lock()
            forksafe.watch_lock(other)
            return other

    # -- internals -------------------------------------------------------------------

    def _run(self, data: Any, output: Any, encrypt: bool) -> bytes | None:
        """Check the buffers as PyCryptodome does, then transform under the lock."""
        if output is None:
            size = len(data)
            src = c_view(data)
            if src.nbytes != size:
                raise ValueError(self._OUTPUT_LENGTH % src.nbytes)
            with self._lock:
                self._check_usable(src.nbytes)
                if not src.nbytes:
                    return b""
                return fill_bytes(src.nbytes, lambda dst: self._transform(src, dst, encrypt))
        if not writable(output):
            raise TypeError(OUTPUT_TYPE)
        size = len(data)
        if size != len(output):
            reported = len(output) if (self._DECRYPT_REPORTS_OUTPUT and not encrypt) else size
            raise ValueError(self._OUTPUT_LENGTH % reported)
        dst = c_view(output)  # PyCryptodome takes the output's memory first
        src = c_view(data)
        if dst.nbytes != src.nbytes:
            raise ValueError(self._OUTPUT_LENGTH % src.nbytes)
        with self._lock:
            self._check_usable(src.nbytes)
            if src.nbytes:
                self._transform(src, dst, encrypt)
        return None

    def _check_usable(self, size: int) -> None:
        """The length check, then refuse an object whose kernel state was lost (under the lock)."""
        self._check_length(size)
        if self._engine.failed:
            raise OSError(errno.EIO, f"this {type(self).__name__} object lost its kernel "
                          "state in an earlier error and cannot be used")

    def _transform(self, src: memoryview, dst: memoryview, encrypt: bool) -> None:
        """:meth:`_process` (under the lock) on a private copy of the object, whose
        :attr:`_STATE` is published when it is done: an interrupt or a kernel
        failure before that leaves the object as it was, and ``dst`` zeroed (no
        partial result is released).  The mode's own errors after whole blocks
        (CBC, ECB) keep what was done, as PyCryptodome does.  An output sharing
        memory with the input is computed aside and copied after publishing: an
        interrupted in-place call leaves the input intact."""
        shadow = self._shadow()
        out = dst
        if overlap(src, dst):
            out = memoryview(bytearray(dst))  # what an error leaves unwritten keeps its value
        try:
            shadow._process(src, out, encrypt)
        except BaseException as exc:
            if isinstance(exc, ValueError) and not (self._engine.failed or is_interrupt(exc)):
                _publish(self, self._STATE, shadow)
                if out is not dst:
                    dst[:] = out
            elif out is dst:
                dst[:] = bytes(dst.nbytes)
            raise
        _publish(self, self._STATE, shadow)
        if out is not dst:
            dst[:] = out

    def _shadow(self) -> KernelCipher:
        """A private copy of this object for one call: the same engine, lock and settings."""
        shadow = object.__new__(type(self))
        names = _slot_names(type(self))
        any(map(setattr, repeat(shadow), names, map(getattr, repeat(self), names, repeat(None))))
        return shadow

    def _check_length(self, size: int) -> None:
        """Raise PyCryptodome's error for a length the mode refuses (default: none)."""

    def _process(self, src: memoryview, dst: memoryview, encrypt: bool) -> None:
        """Transform ``src`` into ``dst`` (same length, maybe the same memory)."""
        raise NotImplementedError


@cache
def _slot_names(cls: type) -> tuple[str, ...]:
    """Every slot of ``cls`` and its bases (``__weakref__`` aside)."""
    names: list[str] = []
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name not in ("__weakref__", "__dict__") and name not in names:
                names.append(name)
    return tuple(names)


def _publish(target: Any, names: tuple[str, ...], source: Any) -> None:
    """Copy attributes ``names`` from ``source`` to ``target`` in one C-level loop.

    ``map`` and ``any`` call ``getattr``/``setattr`` with no bytecode in between,
    so a signal handler can run only before the first store or after the last:
    the object moves from one state to the other in one step.
    """
    any(map(setattr, repeat(target), names, map(getattr, repeat(source), names)))


class StreamMode(KernelCipher):
    """A mode whose output is the input XOR a keystream (CTR, OFB, CFB, ChaCha20).

    The kernel computes whole keystream blocks; a partial block at the end of
    a call is sent padded with zeros, and the rest of that block's keystream,
    which the padding brought back, is kept for the next call (:attr:`_ks`).
    """

    __slots__ = ("_iv", "_ks", "_unit")

    _STATE = ("_iv", "_ks")

    _iv: bytes
    _ks: bytes
    _unit: int

    def _init_stream(self, engine: KernelSkcipher, block_size: int, iv: bytes, unit: int) -> None:
        """Set the base state, the first request's IV and the keystream block size."""
        self._init_base(engine, block_size)
        self._iv = iv
        self._ks = b""
        self._unit = unit

    def _process(self, src: memoryview, dst: memoryview, encrypt: bool) -> None:
        n = src.nbytes
        pos = 0
        if self._ks:
            pos = min(len(self._ks), n)
            head = bytes(src[:pos])
            out = xor(head, self._ks[:pos])
            dst[:pos] = out
            self._ks = self._ks[pos:]
            self._consumed(head, out, encrypt)
        rest = n - pos
        if not rest:
            return
        unit = self._unit
        tail = rest % unit
        full = rest - tail
        pairs: list[Pair] = []
        if full:
            pairs.append((src[pos:pos + full], dst[pos:pos + full]))
        if tail:
            pad_in = bytearray(unit)
            pad_in[:tail] = src[pos + full:]
            pad_out = bytearray(unit)
            pairs.append((memoryview(pad_in), memoryview(pad_out)))
        self._kernel(encrypt, pairs)
        if tail:
            dst[pos + full:] = pad_out[:tail]
            self._ks = bytes(pad_out[tail:])
            self._partial(bytes(pad_in[:tail]), bytes(pad_out[:tail]), encrypt)

    def _kernel(self, encrypt: bool, pairs: list[Pair]) -> None:
        """Run whole blocks through the kernel from :attr:`_iv`, advancing it."""
        self._iv = self._engine.crypt(encrypt, self._iv, pairs, self._advance(encrypt))

    def _advance(self, encrypt: bool) -> Advance:
        """The IV after a request (see :data:`_kcapi.skcipher.Advance`)."""
        raise NotImplementedError

    def _consumed(self, data_in: bytes, data_out: bytes, encrypt: bool) -> None:
        """Called after kept keystream served ``data_in`` -> ``data_out`` (CFB's hook)."""

    def _partial(self, data_in: bytes, data_out: bytes, encrypt: bool) -> None:
        """Called after a call ended inside a block with ``data_in`` -> ``data_out``."""
