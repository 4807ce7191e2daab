"""What the kernel-served AEAD modes (GCM, CCM, ChaCha20-Poly1305) share.

Two layers, kept apart:

* **bookkeeping** -- each mode (``_mode_gcm``, ``_mode_ccm``, ``ChaCha20_Poly1305``)
  keeps PyCryptodome's counters, caches and state machine, and runs its steps
  in its order on the caller's objects: what each call accepts, which bytes
  enter the MAC, what it raises and what state an exception leaves behind
  are PyCryptodome's.  Its MAC input goes to :meth:`KernelAead._feed`, its
  keystream comes from :meth:`KernelAead._keystream`, its tag from
  :meth:`KernelAead._finish`: nothing else touches the kernel;
* **the kernel** -- an :class:`Engine` composed of a keystream skcipher and a
  keyed hash (see :mod:`_kcapi.aead`), started when the message needs it; until
  then the MAC input is buffered in :attr:`KernelAead._pending`.  When a call
  hands over a whole ordinary message (``encrypt_and_digest``,
  ``decrypt_and_verify``, a tag over AAD alone, CCM's whole-message
  ``encrypt``), the kernel's one-shot AEAD serves it instead, in one request.

Only ordinary input takes the one-shot path: byte strings whose ``len()`` is
their size, so that the AAD and message lengths PyCryptodome encodes are the
byte counts the kernel encodes.  Anything else is composed, where the
bookkeeping decides every byte and length.  Input is checked before any kernel
call, so a bad argument never costs the object its kernel state; a kernel
failure after data was sent does (the object then refuses every call).

``decrypt_and_verify`` never releases plaintext for a wrong tag: the one-shot
kernel AEAD fails with EBADMSG before anything is returned, and the composed
path decrypts into a private buffer, which is wiped on failure (an ``output=``
buffer is zeroed).  After a failed one-shot the ciphertext is kept, and a
later ``verify()`` asks the kernel again with the new tag.

Every public call is atomic under signals (see :mod:`_kcapi.atomic`), as
PyCryptodome's C calls are: within a call the engine changes nothing in the
kernel -- its MAC input is kept aside in a journal, its keystream position is
the call's own, a tag is computed from the MAC's state and the journal without
changing either -- while the bookkeeping changes the object's attributes.  At
the end of the call one store commits it (the journal and the new position,
run into the engine by :func:`_kcapi.atomic.finish` through interrupts).  A
signal handler's exception before that store puts the attributes back as they
were at the start of the call (and an in-place input the keystream overwrote),
so the object is in its state before or after the call, never between.  An
ordinary exception commits what the call did, since PyCryptodome's state after
an exception is part of what the bookkeeping mirrors.
"""

from __future__ import annotations

import errno
import functools
import threading
from collections.abc import Callable
from binascii import unhexlify
from hmac import compare_digest
from typing import Any, TypeVar

from _kcapi import aead, forksafe, routing
from _kcapi.aead import CounterStream
from _kcapi.atomic import finish, is_interrupt
from _kcapi.errors import KernelUnavailableError
from _kcapi.hash import KernelHash
from _kcapi.keyring import KeyringKey
from _kcapi.skcipher import overlap
from _kcapi.transform import Transform
from _kcapi.backend_info import BackendInfo

from ._buffers import c_view, crypt_views, plain
from ._copying import Uncopyable
from ._results import fill_bytes

# The methods of PyCryptodome's AEAD state machine (``Crypto.Cipher._state_machine``).
UPDATE, ENCRYPT, DECRYPT, DIGEST, VERIFY = "update", "encrypt", "decrypt", "digest", "verify"
ALL = (UPDATE, ENCRYPT, DECRYPT, DIGEST, VERIFY)

MAC_CHECK_FAILED = "MAC check failed"


def is_buffer(x: Any) -> bool:
    """PyCryptodome's test for a byte buffer."""
    return isinstance(x, (bytes, bytearray, memoryview))


def check_aes_key(key: Any, params: dict[str, Any], mode_label: str) -> bytes | KeyringKey:
    """Check an AES key and leftover parameters as PyCryptodome's AES does.

    Args:
        key: the key the caller passed; a :class:`~_kcapi.keyring.KeyringKey`
            is returned as it is (the kernel checks its size: it is never read).
        params: parameters left after the mode took its own; ``use_aesni`` is
            accepted and ignored (it picks a software implementation).
        mode_label: the inner mode PyCryptodome builds ('ECB' for GCM, 'CBC' for CCM),
            which names the mode in its "Unknown parameters" error.

    Returns:
        The key as ``bytes``, or the keyring key.

    Raises:
        ValueError: a key length other than 16, 24 or 32 bytes.
        TypeError: a key that is not a byte buffer, or unknown parameters.
    """
    params.pop("use_aesni", None)
    if isinstance(key, KeyringKey):
        if params:
            raise TypeError("Unknown parameters for %s: %s" % (mode_label, str(params)))
        return key
    if len(key) not in (16, 24, 32):
        raise ValueError("Incorrect AES key length (%d bytes)" % len(key))
    if not is_buffer(key):
        raise TypeError("Object type %s cannot be passed to C code" % type(key))
    if params:
        raise TypeError("Unknown parameters for %s: %s" % (mode_label, str(params)))
    return bytes(key)


def fallback(make: Any, kernel_name: str, needs: list[tuple[str, str]]) -> Any:
    """PyCryptodome's object from ``make()``, remembered as software-served (and why).

    Args:
        make: builds the object from the caller's original arguments.
        kernel_name: the kernel algorithm that would have served it.
        needs: the kernel algorithms the kernel path needs (for the reason).
    """
    from . import _routing

    return _routing.software_object(make, kernel_name, routing.needs_reason(needs))


F = TypeVar("F", bound=Callable[..., Any])


def locked(method: F) -> F:
    """Run an AEAD object's public method under the object's lock, as one atomic call.

    Concurrent calls on one object are serialised, as for hashlib objects: each
    piece of a message is encrypted and authenticated whole, in one order.  The
    call is committed at its end, or undone by a signal handler's exception
    (see the module's documentation) or a refusal (:class:`KernelUnavailableError`); a
    call made from inside another (``encrypt_and_digest`` calling ``digest``) is part of it.
    """
    @functools.wraps(method)
    def run(self: KernelAead, *args: Any, **kwargs: Any) -> Any:
        if self._lock._is_owned():  # inside another call on this object, in this thread
            return method(self, *args, **kwargs)
        with self._lock:
            self._settle()  # what interrupts left to commit or undo (normally nothing)
            self._txn = (_UNDO, self._state(), [])
            try:
                result = method(self, *args, **kwargs)
            except BaseException as exc:
                if is_interrupt(exc) or isinstance(exc, KernelUnavailableError):
                    self._settle()  # undo: an interrupt, or a refusal (raised before any
                else:               # kernel work: a whole message still works after it)
                    self._commit()
                raise
            self._commit()
            return result
    return run  # type: ignore[return-value]


#: The kinds of :attr:`KernelAead._txn`: a call under way (undone by an interrupt), or
#: a call done whose journal and position are on their way into the engine.
_UNDO, _COMMIT = "undo", "commit"
#: What undoing a call never puts back: the lock (replaced in a forked child), a
#: refusal (a kernel failure, a fork that caught a call half done), the call's record.
_NOT_UNDONE = frozenset({"_lock", "_failed", "_txn"})


def min_bytes(value: int) -> int:
    """How many bytes ``Crypto.Util.number.long_to_bytes(value)`` has (at least 1)."""
    return max(1, (value.bit_length() + 7) // 8)


def tag_bytes(received: Any, size: int) -> bytes:
    """The bytes of a received tag, with ``compare_digest``'s errors for what it cannot compare.

    Raises:
        TypeError, BufferError: what ``hmac.compare_digest(<bytes>, received)`` raises.
    """
    compare_digest(bytes(size), received)  # its type errors, whatever the tag
    return memoryview(received).tobytes()


def zero(output: Any) -> None:
    """Overwrite a checked ``output=`` buffer with zeros (no plaintext may remain in it)."""
    view = c_view(output)
    view[:] = bytes(view.nbytes)


class Engine:
    """A composed AEAD in the kernel: a keystream and a MAC over what the bookkeeping feeds.

    The kernel state changes only by :meth:`apply`, between calls: within a
    call the MAC input is copied into :attr:`_journal` and the keystream runs
    from the call's own position :attr:`_call_pos`, so that an interrupted call
    is undone by :meth:`discard`.  Subclasses set :attr:`_mac` and
    :attr:`_stream` (by :meth:`_init_engine`) and implement :meth:`finish`
    (from :meth:`_mac_digest`) and :meth:`info`.
    """

    _mac: KernelHash
    _stream: CounterStream
    _pos: tuple[int, bytes]  # the keystream's position, as committed
    _call_pos: tuple[int, bytes]  # the position within the call under way
    _journal: bytearray  # the MAC input of the call under way

    def _init_engine(self, mac: KernelHash, stream: CounterStream) -> None:
        self._mac = mac
        self._stream = stream
        self._pos = self._call_pos = CounterStream.START
        self._journal = bytearray()

    def mac(self, view: bytes | memoryview) -> None:
        """Feed the MAC (a private copy: the caller's buffer may change before the commit)."""
        self._journal += view

    def crypt(self, view: memoryview, out: memoryview) -> None:
        """XOR the next keystream bytes into ``view``, writing ``out``."""
        self._call_pos = self._stream.crypt(self._call_pos, view, out)

    def _mac_digest(self) -> bytes:
        """The MAC of everything fed, this call's journal included (nothing is committed)."""
        with memoryview(self._journal) as journal:
            return self._mac.digest_with(journal)

    def finish(self) -> bytes:
        """The whole tag (before truncation) of everything fed so far."""
        raise NotImplementedError

    def info(self) -> BackendInfo:
        """The kernel algorithms serving it."""
        raise NotImplementedError

    def copy(self) -> Engine:
        """An independent engine in the same (committed) state: the MAC's state cloned."""
        other = object.__new__(type(self))
        other.__dict__.update(self.__dict__)
        other._mac = self._mac.copy()
        other._call_pos = self._pos
        other._journal = bytearray()
        return other

    def staged(self) -> tuple[int, bytearray, tuple[int, bytes]] | None:
        """What the call under way changed (``None``: nothing), for :meth:`apply`:
        the MAC's byte count before it, the journal, the position after it."""
        if not self._journal and self._call_pos == self._pos:
            return None
        return self._mac.fed, self._journal, self._call_pos

    def apply(self, staged: tuple[int, bytearray, tuple[int, bytes]]) -> None:
        """Run what :meth:`staged` returned into the kernel state; repeatable at any point.

        Whether the MAC took the journal is told by its byte count (an update
        happens whole or not at all), so nothing is fed twice.
        """
        fed, journal, pos = staged
        now = self._mac.fed
        if now == fed:
            self._mac.update(journal)
        elif now != fed + len(journal):
            raise OSError(errno.EIO, "the MAC of a composed AEAD lost count of its input")
        self._pos, self._call_pos, self._journal = pos, pos, bytearray()

    def discard(self) -> None:
        """Forget what the call under way did (nothing of it reached the kernel state)."""
        self._call_pos, self._journal = self._pos, bytearray()


class KernelAead(Uncopyable):
    """The kernel side shared by kernel-served AEAD objects (see the module's documentation).

    Subclasses hold PyCryptodome's bookkeeping and implement :meth:`_make_engine`,
    :meth:`_find_one_shot`, :meth:`_stream_names`, and optionally
    :meth:`_compose_refusal`.  Their public methods run under the object's
    re-entrant lock (:func:`locked`), so one object used from several threads
    serialises, as a hashlib object does.
    """

    _key: bytes | KeyringKey
    _lock: threading.RLock
    _mac_len: Any
    _next: tuple[str, ...]
    _pending: bytearray
    _aad_start: int
    _engine: Engine | None
    _one: tuple[Transform, bytes] | None | bool
    _held: bytes | None
    _failed: bool
    #: The call under way: (_UNDO, the attributes at its start, in-place inputs
    #: overwritten as (view, bytes)), or a call done: (_COMMIT, engine, staged).
    _txn: tuple[str, Any, Any] | None

    def _init_aead(self, key: bytes | KeyringKey, mac_len: Any) -> None:
        self._key = key
        self._lock = threading.RLock()
        self._mac_len = mac_len
        self._next = ALL
        self._pending = bytearray()  # the MAC's input while no engine runs
        self._aad_start = 0  # where the AAD starts in it (CCM: after B_0 and the AAD length)
        self._engine = None
        self._one = False  # not looked up yet
        self._held = None
        self._failed = False
        self._txn = None
        forksafe.watch_lock(self)

    # -- PyCryptodome's tag API, the same in every mode -------------------------------

    #: PyCryptodome's error for digest() while decrypting.
    _DIGEST_REFUSED = "digest() cannot be called when decrypting or validating a message"
    #: The attribute that keeps the tag once computed or verified (the mode's name for it).
    _TAG_ATTRIBUTE = "_mac_tag"

    def _compute_mac(self) -> bytes:
        """The tag of the message so far (kept in :attr:`_TAG_ATTRIBUTE`)."""
        raise NotImplementedError

    @locked
    def digest(self) -> bytes:
        """The tag of the message (the last call when encrypting)."""
        if DIGEST not in self._next:
            raise TypeError(self._DIGEST_REFUSED)
        self._next = (DIGEST,)
        return self._compute_mac()

    def hexdigest(self) -> str:
        """:meth:`digest` as hexadecimal digits."""
        return self.digest().hex()

    @locked
    def verify(self, received_mac_tag: Any) -> None:
        """Check the received tag.

        Raises:
            ValueError: ``"MAC check failed"``.
        """
        if VERIFY not in self._next:
            raise TypeError("verify() cannot be called when encrypting a message")
        self._next = (VERIFY,)
        if self._held is not None:
            setattr(self, self._TAG_ATTRIBUTE, self._verify_held(received_mac_tag))
            self._held = None
            return
        if not compare_digest(self._compute_mac(), received_mac_tag):
            raise ValueError(MAC_CHECK_FAILED)

    def hexverify(self, hex_mac_tag: Any) -> None:
        """:meth:`verify` of a tag written in hexadecimal."""
        self.verify(unhexlify(hex_mac_tag))

    # -- the kernel's side -------------------------------------------------------------

    def _lost_in_fork(self) -> None:
        """A fork caught another thread inside a call: this copy's state is half-done."""
        self._failed = True

    # -- hooks ----------------------------------------------------------------------

    def _make_engine(self) -> Engine:
        """A new composed engine for this message (nothing fed yet)."""
        raise NotImplementedError

    def _find_one_shot(self) -> tuple[Transform, bytes] | None:
        """``(keyed aead transform, IV)`` if the kernel AEAD serves these parameters."""
        raise NotImplementedError

    def _stream_names(self) -> tuple[str, str]:
        """The composed path's kernel algorithms ``(keystream, mac)``, for backend_info."""
        raise NotImplementedError

    def _compose_refusal(self) -> KernelUnavailableError | None:
        """Why the composed path may not serve this object (``None``: it may).

        GCM and ChaCha20-Poly1305 derive an authentication key from the cipher key
        in user space, which a keyring key must never allow.
        """
        return None

    # -- kcapi extras -------------------------------------------------------------------

    @property
    def backend_info(self) -> BackendInfo:
        """The kernel algorithms serving this object: the one-shot AEAD if the kernel has it."""
        one = self._one_shot()
        if one is not None:
            return one[0].info()
        if self._engine is not None:
            return self._engine.info()
        return composed_info(*self._stream_names())

    def __copy__(self) -> Any:
        """An independent object in the same state (the kernel state cloned)."""
        with self._lock:
            self._settle()
            self._check_usable()
            other = object.__new__(type(self))
            other.__dict__.update(self._state())
            other._failed = False
            other._txn = None
            other._lock = threading.RLock()
            if self._engine is not None:
                other._engine = self._guarded(self._engine.copy)
            forksafe.watch_lock(other)
            return other

    # -- atomic calls (see the module's documentation) ----------------------------------

    def _state(self) -> dict[str, Any]:
        """The attributes a call may change, its mutable ones copied (CCM's AAD list, the
        buffered MAC input)."""
        return {name: type(value)(value) if isinstance(value, (list, bytearray)) else value
                for name, value in self.__dict__.items() if name not in _NOT_UNDONE}

    def _commit(self) -> None:
        """Commit the call under way: from the store of :attr:`_txn` on, it happened."""
        engine = self._engine
        staged = engine.staged() if engine is not None else None
        self._txn = None if staged is None else (_COMMIT, engine, staged)
        self._settle()

    def _settle(self) -> None:
        """Finish what :attr:`_txn` records: undo a call, or run a committed one into its
        engine through interrupts (re-raising the first, see :func:`_kcapi.atomic.finish`)."""
        txn = self._txn
        if txn is None:
            return
        if txn[0] == _COMMIT:
            finish(self._apply)
            return
        _, state, overwritten = txn
        self.__dict__.update(state)
        for name in [name for name in self.__dict__ if name not in state
                     and name not in _NOT_UNDONE]:
            del self.__dict__[name]  # set by the call for the first time
        if self._engine is not None:
            self._engine.discard()
        for view, saved in overwritten:
            view[:] = saved
        self._txn = None

    def _apply(self) -> bool:
        """A step of :func:`_kcapi.atomic.finish`: run the committed call into its engine."""
        txn = self._txn
        if txn is not None:
            _, engine, staged = txn
            if not self._failed:
                self._guarded(engine.apply, staged)
            self._txn = None
        return True

    # -- the kernel side ----------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._failed:
            raise OSError(errno.EIO, f"this {type(self).__name__} object lost its kernel state "
                          "in an earlier error and cannot be used")

    def _one_shot(self) -> tuple[Transform, bytes] | None:
        if self._one is False:
            self._one = self._find_one_shot()
        return self._one  # type: ignore[return-value]

    def _feed(self, data: bytes | memoryview) -> None:
        """Give the MAC its next input (buffered until an engine runs)."""
        self._check_usable()
        if self._engine is not None:
            self._guarded(self._engine.mac, data)
            return
        self._pending += data
        if len(self._pending) > aead.MAX_ONE_SHOT and self._compose_refusal() is None:
            self._engine_now()  # past any one-shot: not buffered without bound

    def _engine_now(self) -> Engine:
        """The composed engine, started (and fed the buffered MAC input) on first use.

        Raises:
            KernelUnavailableError: the composed path is refused (before any kernel call).
        """
        self._check_usable()
        engine = self._engine
        if engine is None:
            refusal = self._compose_refusal()
            if refusal is not None:
                raise refusal
            try:
                engine = self._make_engine()
                if self._pending:
                    with memoryview(self._pending) as pending:  # released whatever happens
                        engine.mac(pending)
            except BaseException as exc:
                if not is_interrupt(exc):  # an interrupt: the call is undone
                    self._failed = True
                raise
            self._pending = bytearray()
            self._engine = engine
        return engine

    def _guarded(self, call: Any, *args: Any) -> Any:
        """Run a kernel operation; after a kernel failure the object's state is unknown.
        (A signal handler's exception changes nothing here: the call is undone.)"""
        try:
            return call(*args)
        except BaseException as exc:
            if not is_interrupt(exc):
                self._failed = True
                self._engine = None  # never used again: its op sockets close now, not at del
            raise

    def _keystream(self, src: memoryview, dst: memoryview | None) -> bytes | None:
        """The next ``src.nbytes`` keystream bytes XORed into ``src``: into ``dst``, or returned."""
        if not src.nbytes:
            return None if dst is not None else b""
        engine = self._engine_now()
        if dst is not None:
            txn = self._txn
            if txn is not None and txn[0] == _UNDO and overlap(src, dst):
                txn[2].append((dst, src.tobytes()))  # an undone call puts the input back
            self._guarded(engine.crypt, src, dst)
            return None
        return fill_bytes(src.nbytes, lambda out: self._guarded(engine.crypt, src, out))

    def _finish(self) -> bytes:
        """The engine's tag of everything fed (the bookkeeping fed the padding and lengths).

        The message is then over: the engine is dropped, so its op sockets close now.
        """
        engine = self._engine_now()
        tag = self._guarded(engine.finish)
        self._engine = None
        return tag

    # -- the kernel's one-shot AEAD -------------------------------------------------------

    @staticmethod
    def _counted_in_bytes(data: Any, output: Any = None) -> bool:
        """Whether PyCryptodome's ``len()`` of the message (and of ``output``) is its size.

        The one-shot AEAD authenticates byte counts; PyCryptodome counts items
        (``len()`` of a memoryview cast to 'H' is half its bytes) and slices
        them.  Only plain byte strings may take the one-shot path; the rest are
        composed, step by step as PyCryptodome runs them.
        """
        return plain(data) and (output is None or plain(output))

    def _whole_views(self, data: Any, output: Any = None) -> tuple[memoryview, memoryview | None] | None:
        """The byte views of a whole message for the one-shot AEAD (``None``: compose it).

        ``None`` for what :meth:`_counted_in_bytes` refuses, and for arguments
        PyCryptodome's checks refuse: the composed steps raise its error where it does.
        """
        if not self._counted_in_bytes(data, output):
            return None
        try:
            return crypt_views(data, output)
        except Exception:
            return None

    def _whole(self, size: int) -> tuple[Transform, bytes] | None:
        """The one-shot transform and IV, if no engine runs and ``size`` more bytes fit."""
        self._check_usable()
        if self._engine is not None or self._held is not None:
            return None
        one = self._one_shot()
        aad = len(self._pending) - self._aad_start
        if one is None or aad + size + self._mac_len > aead.one_shot_limit(one[0]):
            return None
        return one

    def _seal(self, data: memoryview) -> tuple[bytes, bytes] | None:
        """Encrypt the buffered AAD and ``data`` as one message: ``(ciphertext, tag)``, or
        ``None`` when the one-shot path cannot take it (the caller composes)."""
        one = self._whole(data.nbytes)
        if one is None:
            return None
        tfm, iv = one
        with memoryview(self._pending)[self._aad_start:] as aad:
            return aead.seal(tfm, iv, aad, data, self._mac_len)

    def _open(self, data: memoryview, tag: bytes) -> bytearray | None:
        """Decrypt and verify the buffered AAD and ``data`` as one message.

        Returns:
            The plaintext in a private buffer, or ``None`` when the one-shot path
            cannot take it.

        Raises:
            _kcapi.aead.TagMismatch: the tag is wrong (nothing was released).
        """
        one = self._whole(data.nbytes)
        if one is None:
            return None
        tfm, iv = one
        with memoryview(self._pending)[self._aad_start:] as aad:
            return aead.open_message(tfm, iv, aad, data, memoryview(tag))

    def _verify_held(self, received: Any) -> bytes:
        """Verify a tag for the ciphertext a failed one-shot kept; returns the tag if right.

        Raises:
            ValueError: ``"MAC check failed"``; TypeError: what ``compare_digest`` raises.
        """
        assert self._held is not None
        tag = tag_bytes(received, self._mac_len)
        if len(tag) == self._mac_len:
            one = self._one_shot()
            assert one is not None
            try:
                with memoryview(self._pending)[self._aad_start:] as aad:
                    plain = aead.open_message(one[0], one[1], aad, memoryview(self._held),
                                              memoryview(tag))
            except aead.TagMismatch:
                pass
            else:
                if plain is not None:
                    plain[:] = bytes(len(plain))
                    return tag
        raise ValueError(MAC_CHECK_FAILED)

    def _open_whole(self, src: memoryview, received: Any, output: Any,
                    hold: Callable[[], None], done: Callable[[bytes], None]) -> Any:
        """``decrypt_and_verify`` of a whole ordinary message by the one-shot AEAD.

        ``hold()`` applies what the decryption did to the bookkeeping when the tag
        is wrong (the ciphertext is then kept for a later ``verify()``), ``done(tag)``
        when it is right.

        Returns:
            The plaintext (or ``None`` with ``output``), or :data:`NotImplemented`
            when the one-shot path cannot take the message (the caller composes).

        Raises:
            ValueError: ``"MAC check failed"``; TypeError: a tag ``compare_digest`` refuses.
        """
        if self._whole(src.nbytes) is None:
            return NotImplemented
        try:
            tag = tag_bytes(received, self._mac_len)
        except Exception:
            self._keep(src, hold, output)
            raise
        if len(tag) != self._mac_len:
            self._keep(src, hold, output)
            raise ValueError(MAC_CHECK_FAILED)
        try:
            plain = self._open(src, tag)
        except aead.TagMismatch:
            self._keep(src, hold, output)
            raise ValueError(MAC_CHECK_FAILED) from None
        if plain is None:
            return NotImplemented
        done(tag)
        return release(plain, None if output is None else c_view(output))

    def _keep(self, src: memoryview, hold: Callable[[], None], output: Any) -> None:
        """A whole message failed its tag before any plaintext: keep the ciphertext."""
        hold()
        self._held = src.tobytes()
        if output is not None:
            zero(output)

    def _open_composed(self, src: memoryview, dst: memoryview | None,
                       verify: Callable[[memoryview], None]) -> Any:
        """Decrypt through the engine into a private buffer, ``verify(it)``, then release it.

        On any failure the private buffer is wiped and ``dst`` zeroed.
        """
        private = bytearray(src.nbytes)
        try:
            view = memoryview(private)
            self._keystream(src, view)
            verify(view)
        except BaseException:
            private[:] = bytes(len(private))
            if dst is not None:
                dst[:] = bytes(dst.nbytes)
            raise
        return release(private, dst)


def release(plain: bytearray, dst: memoryview | None) -> bytes | None:
    """Verified plaintext from a private buffer, as ``bytes`` or copied into ``dst``; then wiped."""
    try:
        if dst is None:
            return bytes(plain)
        dst[:] = plain
        return None
    finally:
        plain[:] = bytes(len(plain))


def prepare_one_shot(obj: KernelAead) -> tuple[Transform, bytes] | None:
    """Look up (and key) ``obj``'s one-shot kernel AEAD now, so that the key's errors
    surface when the object is made: ``(keyed aead transform, IV)``, or ``None``
    when the kernel's one-shot AEAD does not serve these parameters."""
    return obj._one_shot()


def composed_info(stream_name: str, mac_name: str) -> BackendInfo:
    """The :class:`BackendInfo` of a composed AEAD: both algorithms and drivers."""
    infos = []
    for kind, name in (("skcipher", stream_name), ("hash", mac_name)):
        found = routing.probe(kind, name)
        if isinstance(found, KernelUnavailableError):
            infos.append(BackendInfo("kernel", name, "unknown", 0, "unknown"))
        else:
            infos.append(found.info())
    kinds = {i.implementation for i in infos}
    kind = kinds.pop() if len(kinds) == 1 else "+".join(i.implementation for i in infos)
    return BackendInfo("kernel", "+".join(i.algorithm for i in infos),
                       "+".join(i.driver for i in infos), min(i.priority for i in infos), kind)
