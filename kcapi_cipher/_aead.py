"""What the kernel-served AEAD modes (GCM, CCM, ChaCha20-Poly1305) share.

Each object routes every message one of two ways (see :mod:`_kcapi.aead`):

* the kernel's one-shot AEAD, when the API hands over a whole message at once
  (``encrypt_and_digest``, ``decrypt_and_verify``, a tag over AAD alone, CCM's
  single ``encrypt`` without ``msg_len``) and it fits the socket buffer;
* otherwise a composed stream (keystream skcipher + keyed hash), started at the
  first piecewise ``encrypt``/``decrypt`` or when the AAD outgrows a one-shot.

Until one of those happens the AAD is only buffered, so nothing is decided
early.  ``decrypt_and_verify`` never releases plaintext for a wrong tag: the
one-shot kernel AEAD fails with EBADMSG before anything is returned, and the
composed path decrypts into a private buffer, which is wiped on failure.
"""

from __future__ import annotations

import errno
import functools
from binascii import unhexlify
import threading
from collections.abc import Callable
from hmac import compare_digest
from typing import Any, Protocol, TypeVar

import Crypto

from _kcapi import _syscalls, aead, forksafe, policy, transform
from _kcapi.aead import CounterStream
from _kcapi.errors import KernelUnavailableError, keyring_needs_kernel
from _kcapi.hash import KernelHash
from _kcapi.keyring import KeyringKey
from _kcapi.transform import BackendInfo, Transform

from ._results import fill_bytes

#: PyCryptodome's error for data past a mode's limit (a ValueError in every version).
MessageTooLongError: type[ValueError] = getattr(Crypto, "MessageTooLongError", ValueError)

# The methods of PyCryptodome's AEAD state machine (``Crypto.Cipher._state_machine``).
UPDATE, ENCRYPT, DECRYPT, DIGEST, VERIFY = "update", "encrypt", "decrypt", "digest", "verify"
ALL = (UPDATE, ENCRYPT, DECRYPT, DIGEST, VERIFY)

MAC_CHECK_FAILED = "MAC check failed"

Buffer = bytes | bytearray | memoryview


def is_buffer(x: Any) -> bool:
    """PyCryptodome's test for a byte buffer."""
    return isinstance(x, (bytes, bytearray, memoryview))


def as_input(data: Any) -> memoryview:
    """A flat byte view of ``data``, with PyCryptodome's error for other types."""
    if not is_buffer(data):
        raise TypeError("Object type %s cannot be passed to C code" % type(data))
    view = memoryview(data)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def output_view(output: Any, size: int) -> memoryview:
    """The writable view of ``output=``, checked as PyCryptodome checks it."""
    writable = isinstance(output, bytearray) or (isinstance(output, memoryview)
                                                 and not output.readonly)
    if not writable:
        raise TypeError("output must be a bytearray or a writeable memoryview")
    if len(output) != size:
        raise ValueError("output must have the same length as the input  (%d bytes)" % size)
    view = memoryview(output)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def random_nonce(size: int) -> bytes:
    """A random nonce from the kernel's CSPRNG (what PyCryptodome uses too)."""
    return _syscalls.kernel.urandom(size)


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

    return _routing.software(make, kernel_name, aead.software_reason(needs))


def keyring_kernel(key: KeyringKey, label: str, needs: list[tuple[str, str]]) -> None:
    """Check that the kernel can serve an object keyed from the keyring: no software can.

    Args:
        key: the keyring key.
        label: the construction, for the error (``'AES MODE_GCM'``).
        needs: the ``(kind, name)`` algorithms the keyring-keyed object needs.

    Raises:
        KernelUnavailableError: ``reason='keyring-needs-kernel'``: the ``software``
            policy, or the kernel lacks one of ``needs`` (its errno kept).
    """
    if policy.get_backend() == policy.SOFTWARE:
        raise keyring_needs_kernel(key, label, "the backend policy is 'software'")
    for kind, name in needs:
        found = transform._lookup(kind, name)
        if isinstance(found, KernelUnavailableError):
            raise keyring_needs_kernel(key, label, found.strerror or str(found), found.errno)


F = TypeVar("F", bound=Callable[..., Any])


def locked(method: F) -> F:
    """Run an AEAD object's public method under the object's lock (re-entrant).

    Concurrent calls on one object are serialised, as for hashlib objects: each
    piece of a message is encrypted and authenticated whole, in one order.
    """
    @functools.wraps(method)
    def run(self: KernelAead, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)
    return run  # type: ignore[return-value]


def min_bytes(value: int) -> int:
    """How many bytes ``Crypto.Util.number.long_to_bytes(value)`` has (at least 1)."""
    return max(1, (value.bit_length() + 7) // 8)


class Stream(Protocol):
    """A composed AEAD engine: keystream skcipher + keyed hash, in the kernel."""

    def aad(self, view: memoryview) -> None:
        """Authenticate more associated data."""

    def encrypt(self, view: memoryview, out: memoryview) -> None:
        """Encrypt the next piece of the message into ``out``."""

    def decrypt(self, view: memoryview, out: memoryview) -> None:
        """Decrypt the next piece of the message into ``out``."""

    def tag(self) -> bytes:
        """The tag of everything so far (the stream ends)."""

    def info(self) -> BackendInfo:
        """The kernel algorithms serving it."""


class PaddedMacStream:
    """The composed engine of GCM, ChaCha20-Poly1305 and CCM (a :class:`Stream`): a
    kernel keystream encrypts, a kernel MAC (``ghash``, ``poly1305``, ``cbcmac``)
    authenticates ``[head] || AAD || pad16 || message || pad16 || lengths``.

    The MAC covers the ciphertext (encrypt-then-MAC), or the plaintext when
    :attr:`_MAC_PLAINTEXT` is set (CCM).  Subclasses call :meth:`_start` and close
    the MAC in ``tag()`` with :meth:`_final_mac`.
    """

    #: Whether the MAC covers the plaintext (CCM) rather than the ciphertext.
    _MAC_PLAINTEXT = False

    _ctr: CounterStream
    _mac: KernelHash
    _head: int
    _aad_len: int
    _msg_len: int
    _in_message: bool

    def _start(self, ctr: CounterStream, mac: KernelHash, head: int = 0) -> None:
        """Begin; ``head`` bytes the MAC was fed before the AAD count in its padding."""
        self._ctr = ctr
        self._mac = mac
        self._head = head
        self._aad_len = 0
        self._msg_len = 0
        self._in_message = False

    def _to_message(self) -> None:
        if not self._in_message:
            self._mac.update(bytes(-(self._head + self._aad_len) % 16))
            self._in_message = True

    def aad(self, view: memoryview) -> None:
        """Authenticate more associated data."""
        self._mac.update(view)
        self._aad_len += view.nbytes

    def encrypt(self, view: memoryview, out: memoryview) -> None:
        """Encrypt the next piece into ``out``, authenticating it."""
        self._to_message()
        if self._MAC_PLAINTEXT:
            self._mac.update(view)  # before an in-place encryption overwrites it
        self._ctr.crypt(view, out)
        if not self._MAC_PLAINTEXT:
            self._mac.update(out)
        self._msg_len += view.nbytes

    def decrypt(self, view: memoryview, out: memoryview) -> None:
        """Decrypt the next piece into ``out``, authenticating it."""
        self._to_message()
        if not self._MAC_PLAINTEXT:
            self._mac.update(view)  # before an in-place decryption overwrites it
        self._ctr.crypt(view, out)
        if self._MAC_PLAINTEXT:
            self._mac.update(out)
        self._msg_len += view.nbytes

    def _final_mac(self, lengths: bytes) -> bytes:
        """The MAC of everything, closed by the ciphertext's padding and ``lengths``."""
        self._to_message()
        self._mac.update(bytes(-self._msg_len % 16) + lengths)
        return self._mac.digest()


class KernelAead:
    """The routing and buffering shared by kernel-served AEAD objects.

    Subclasses hold PyCryptodome's state machine and implement
    :meth:`_make_stream`, :meth:`_find_one_shot`, and optionally
    :meth:`_streamable`, :meth:`_stream_names` and :meth:`_compose_refusal`.
    Their public methods run under the object's re-entrant lock (:func:`locked`),
    so one object used from several threads serialises, as a hashlib object does.
    """

    _key: bytes | KeyringKey
    _lock: threading.RLock
    _mac_len: int
    _next: tuple[str, ...]
    _pending: bytearray
    _stream: Stream | None
    _tag: bytes | None
    _held_ct: bytes | None
    _one: tuple[Transform, bytes] | None | bool
    _failed: bool

    def _init_aead(self, key: bytes | KeyringKey, mac_len: int) -> None:
        self._key = key
        self._lock = threading.RLock()
        self._mac_len = mac_len
        self._next = ALL
        self._pending = bytearray()
        self._stream = None
        self._tag = None
        self._held_ct = None
        self._one = False  # not looked up yet
        self._failed = False
        forksafe.watch_lock(self)

    def _lost_in_fork(self) -> None:
        """A fork caught another thread inside a call: this copy's state is half-done."""
        self._failed = True

    # -- hooks ----------------------------------------------------------------------

    def _make_stream(self) -> Stream:
        """A new composed engine for this message (AAD not yet fed)."""
        raise NotImplementedError

    def _find_one_shot(self) -> tuple[Transform, bytes] | None:
        """``(keyed aead transform, IV)`` if the kernel AEAD serves these parameters."""
        raise NotImplementedError

    def _streamable(self) -> bool:
        """Whether the composed stream can start now (CCM: once both lengths are known)."""
        return True

    def _stream_names(self) -> tuple[str, str]:
        """The composed path's kernel algorithms ``(keystream, mac)``, for backend_info."""
        raise NotImplementedError

    def _compose_refusal(self) -> KernelUnavailableError | None:
        """Why the composed path may not serve this object (``None``: it may).

        GCM and ChaCha20-Poly1305 derive an authentication key from the cipher key
        in user space, which a keyring key must never allow.
        """
        return None

    # -- PyCryptodome's tag methods (the same in every AEAD mode) ---------------------------

    #: digest()'s TypeError while decrypting (PyCryptodome's wording differs per mode).
    _DIGEST_REFUSED = "digest() cannot be called when decrypting or validating a message"

    def _final_tag(self) -> bytes:
        """The tag at the end of the message (CCM checks the message length first)."""
        return self._compute_tag()

    @locked
    def digest(self) -> bytes:
        """The tag of the message (the last call when encrypting)."""
        if DIGEST not in self._next:
            raise TypeError(self._DIGEST_REFUSED)
        self._next = (DIGEST,)
        return self._final_tag()

    def hexdigest(self) -> str:
        """:meth:`digest` as hexadecimal digits."""
        return self.digest().hex()

    @locked
    def verify(self, received_mac_tag: Any) -> None:
        """Check the received tag.

        Raises:
            ValueError: ``"MAC check failed"`` (CCM: or ``"Message is too short"``).
        """
        if VERIFY not in self._next:
            raise TypeError("verify() cannot be called when encrypting a message")
        self._next = (VERIFY,)
        self._final_tag()
        self._check_tag(received_mac_tag)

    def hexverify(self, hex_mac_tag: str) -> None:
        """:meth:`verify` of a tag written in hexadecimal."""
        self.verify(unhexlify(hex_mac_tag))

    # -- kcapi extras -------------------------------------------------------------------

    @property
    def backend_info(self) -> BackendInfo:
        """The kernel algorithms serving this object: the one-shot AEAD if the kernel has it."""
        one = self._one_shot()
        if one is not None:
            return one[0].info()
        if self._stream is not None:
            return self._stream.info()
        return composed_info(*self._stream_names())

    def __reduce__(self) -> Any:
        raise TypeError(f"cannot pickle {type(self).__name__!r} object")

    # -- routing ---------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._failed:
            raise OSError(errno.EIO, f"this {type(self).__name__} object lost its kernel state "
                          "in an earlier error and cannot be used")

    def _one_shot(self) -> tuple[Transform, bytes] | None:
        if self._one is False:
            self._one = self._find_one_shot()
        return self._one  # type: ignore[return-value]

    def _add_aad(self, view: memoryview) -> None:
        """Authenticate AAD: buffered while a one-shot is possible, else streamed."""
        self._check_usable()
        if self._stream is not None:
            self._guarded(self._stream.aad, view)
            return
        self._pending += view
        if len(self._pending) > aead.MAX_ONE_SHOT and self._streamable():
            self._ensure_stream()

    def _ensure_stream(self) -> Stream:
        """The composed stream, started (and fed the buffered AAD) on first use."""
        self._check_usable()
        stream = self._stream
        if stream is None:
            refusal = self._compose_refusal()
            if refusal is not None:
                raise refusal  # before any kernel call: the object is unchanged
            try:
                stream = self._make_stream()
                if self._pending:
                    stream.aad(memoryview(self._pending))
            except BaseException:
                self._failed = True
                raise
            self._pending = bytearray()
            self._stream = stream
        return stream

    def _guarded(self, call: Any, *args: Any) -> Any:
        """Run a kernel operation; after a failure the object's state is unknown."""
        try:
            return call(*args)
        except BaseException:
            self._failed = True
            self._stream = None  # never used again: its op socket closes now, not at del
            raise

    def _crypt(self, view: memoryview, out: memoryview, encrypt: bool) -> None:
        """Encrypt or decrypt the next piece through the composed stream into ``out``."""
        stream = self._ensure_stream()
        self._guarded(stream.encrypt if encrypt else stream.decrypt, view, out)

    def _run(self, view: memoryview, output: Any, encrypt: bool) -> bytes | None:
        """:meth:`_crypt` with PyCryptodome's ``output=`` contract."""
        if output is not None:
            self._crypt(view, output_view(output, view.nbytes), encrypt)
            return None
        return fill_bytes(view.nbytes, lambda out: self._crypt(view, out, encrypt))

    def _fits(self, tfm: Transform, size: int) -> bool:
        return len(self._pending) + size + self._mac_len <= aead.one_shot_limit(tfm)

    def _seal_whole(self, view: memoryview) -> bytes | None:
        """Encrypt the whole message (buffered AAD + ``view``) with the kernel AEAD.

        Returns:
            The ciphertext (the tag is cached), or ``None`` when the one-shot
            path cannot take it (the caller composes).
        """
        self._check_usable()
        if self._stream is not None or self._held_ct is not None or self._tag is not None:
            return None
        one = self._one_shot()
        if one is None or not self._fits(one[0], view.nbytes):
            return None
        tfm, iv = one
        with memoryview(self._pending) as aad:
            sealed = aead.seal(tfm, iv, aad, view, self._mac_len)
        if sealed is None:
            return None
        self._tag = sealed[1]
        return sealed[0]

    def _compute_tag(self) -> bytes:
        """The tag of the message so far (cached): one-shot for AAD alone, else the stream."""
        if self._tag is not None:
            return self._tag
        if self._stream is None and self._held_ct is None:
            if self._seal_whole(memoryview(b"")) is not None:
                assert self._tag is not None
                return self._tag
        stream = self._ensure_stream()
        held, self._held_ct = self._held_ct, None
        if held is not None:  # a ciphertext a failed one-shot did not authenticate
            scratch = bytearray(len(held))
            self._guarded(stream.decrypt, memoryview(held), memoryview(scratch))
            scratch[:] = bytes(len(scratch))
        self._tag = self._guarded(stream.tag)
        self._stream = None  # the message is over: its hash's op socket closes now
        return self._tag

    def _check_tag(self, received: Any) -> None:
        """Compare the tag with ``received`` in constant time (PyCryptodome's errors)."""
        if not compare_digest(self._compute_tag(), received):
            raise ValueError(MAC_CHECK_FAILED)

    def _open_verified(self, view: memoryview, received: Any, output: Any,
                       whole: bool, verify: Any) -> bytes | None:
        """``decrypt()`` then ``verify()``, releasing plaintext only for a right tag.

        Args:
            view: the ciphertext (the caller ran decrypt()'s state checks).
            received: the received tag.
            output: ``output=`` (already checked by the caller) or ``None``.
            whole: whether ``view`` completes the message (the one-shot may serve it).
            verify: the object's own ``verify`` (state checks and comparison).

        Raises:
            ValueError: ``"MAC check failed"``.
        """
        out = None if output is None else output_view(output, view.nbytes)
        plain: bytearray | None = None
        if whole and is_buffer(received) and len(received) == self._mac_len:
            plain = self._open_whole(view, as_input(received))
        elif whole and is_buffer(received) and self._compose_refusal() is not None:
            # A tag of the wrong size cannot match: no need to compose (which may be refused).
            self._next = (VERIFY,)
            raise ValueError(MAC_CHECK_FAILED)
        if plain is None:
            def decrypt_and_verify(into: memoryview) -> None:
                self._crypt(view, into, encrypt=False)
                verify(received)

            if out is None:  # (a kernel fault or a wrong tag: fill_bytes releases nothing)
                return fill_bytes(view.nbytes, decrypt_and_verify)
            plain = bytearray(view.nbytes)
            try:
                decrypt_and_verify(memoryview(plain))
            except BaseException:
                plain[:] = bytes(len(plain))  # a kernel fault or a wrong tag: release nothing
                raise
        if out is None:
            return bytes(plain)
        out[:] = plain
        return None

    def _open_whole(self, view: memoryview, tag: memoryview) -> bytearray | None:
        """Decrypt and verify the whole message with the kernel AEAD (``None``: compose)."""
        self._check_usable()
        if self._stream is not None or self._held_ct is not None or self._tag is not None:
            return None
        one = self._one_shot()
        if one is None or not self._fits(one[0], view.nbytes):
            return None
        tfm, iv = one
        try:
            with memoryview(self._pending) as aad:
                plain = aead.open_message(tfm, iv, aad, view, tag)
        except aead.TagMismatch:
            self._next = (VERIFY,)
            self._held_ct = bytes(view)  # for a later verify() with another tag
            raise ValueError(MAC_CHECK_FAILED) from None
        if plain is not None:
            self._next = (VERIFY,)
            self._tag = bytes(tag)
        return plain


def composed_info(stream_name: str, mac_name: str) -> BackendInfo:
    """The :class:`BackendInfo` of a composed AEAD: both algorithms and drivers."""
    from _kcapi import transform

    infos = []
    for kind, name in (("skcipher", stream_name), ("hash", mac_name)):
        found = transform._lookup(kind, name)
        if isinstance(found, KernelUnavailableError):
            infos.append(BackendInfo("kernel", name, "unknown", 0, "unknown"))
        else:
            infos.append(found.info())
    kinds = {i.implementation for i in infos}
    kind = kinds.pop() if len(kinds) == 1 else "+".join(i.implementation for i in infos)
    return BackendInfo("kernel", "+".join(i.algorithm for i in infos),
                       "+".join(i.driver for i in infos), min(i.priority for i in infos), kind)

