"""Counter with CBC-MAC (CCM, NIST SP 800-38C / RFC 3610) served by the kernel.

``AES.new(key, AES.MODE_CCM, ...)`` lands in :func:`create`.  A whole message
handed over at once goes to the kernel's ``ccm(aes)``; piecewise use is composed
in the kernel from ``ctr(aes)`` (counter blocks ``A_i``) and the keyed
``cbcmac(aes)`` hash (the CBC-MAC over ``B_0 || encoded a || A || 0-pad || P ||
0-pad``); the tag is ``MSB_Tlen(T XOR S_0)``.  As in PyCryptodome, CCM needs
both lengths before it can start: without ``assoc_len`` the AAD is kept until
the first encrypt/decrypt, and without ``msg_len`` only one encrypt/decrypt
call is allowed (it is the whole message).

The bookkeeping is PyCryptodome's (see :mod:`._aead`): before the lengths are
known the AAD chunks are kept as PyCryptodome keeps them (a copy of a
writable buffer, else the object itself) and their ``len()`` sum becomes
``assoc_len``; afterwards the MAC input goes through a cache of less than a
block, filled by slicing and counted with ``len()``.  ``encrypt()``
authenticates the plaintext before it checks ``output=``, and every counter
moves before the check that raises -- so after any exception the object is
where PyCryptodome's is, and a later tag covers the same bytes.

A :class:`~_kcapi.keyring.KeyringKey` is served both ways: ``ccm(aes)``,
``ctr(aes)`` and ``cbcmac(aes)`` are all keyed from the keyring (the values
computed here -- counter blocks, ``S_0``, the kept keystream -- are per-message
keystream, nothing that would let anyone forge or decrypt other messages).
"""

from __future__ import annotations

import struct
from typing import Any

from _kcapi import aead, routing, transform
from _kcapi.aead import CounterStream, keystream, xor_bytes
from _kcapi.hash import KernelHash
from _kcapi.keyring import KeyringKey
from _kcapi.names import ccm_names
from _kcapi.transform import Transform
from _kcapi.backend_info import BackendInfo
from _kcapi.errors import KernelUnavailableError, whole_messages_only

from . import _params, _routing
from ._aead import prepare_one_shot
from ._aead import (ALL, DECRYPT, DIGEST, ENCRYPT, UPDATE, VERIFY, Engine, KernelAead,
                    check_aes_key, composed_info, fallback, locked)
from ._buffers import MessageTooLongError, c_view, crypt_views, long_bytes, plain, writable
from ._modes import MODE_CCM
from ._mode_gcm import cipher_name

__all__ = ["CcmMode", "create"]

# PyCryptodome's MAC states.
_NOT_STARTED, _AAD, _MESSAGE = 0, 1, 2


class _CcmEngine(Engine):
    """CCM composed in the kernel: ``ctr(aes)`` keystream + keyed ``cbcmac(aes)``."""

    def __init__(self, ctr: Transform, mac: Transform, nonce: bytes):
        q = 15 - len(nonce)
        prefix = bytes([q - 1]) + nonce
        self._ctr_tfm = ctr
        self._mac_tfm = mac
        self._s0 = keystream(ctr, prefix + bytes(q), 16)
        self._init_engine(KernelHash(mac, "cbcmac", 16, 16),
                          CounterStream(ctr, 16, lambda i: prefix + (i + 1).to_bytes(q, "big")))

    def finish(self) -> bytes:
        """``T XOR S_0``, T the CBC-MAC of everything fed (whole blocks)."""
        return xor_bytes(self._mac_digest(), self._s0)

    def info(self) -> BackendInfo:
        return composed_info(self._ctr_tfm.name, self._mac_tfm.name)


class CcmMode(KernelAead):
    """A CCM cipher object served by the kernel; PyCryptodome's ``CcmMode`` API.

    Attributes:
        block_size: 16.
        nonce: the nonce the object was created with.
    """

    _KIND = "ccm"
    #: Under the ``kernel`` policy where ``ccm(aes)`` binds but a part of the composed
    #: path does not (``/dev/crypto`` has no ``cbcmac(aes)``): its refusal; whole
    #: messages only, then.
    _part_refused: KernelUnavailableError | None = None

    def __init__(self, cipher: str, key: bytes | KeyringKey, nonce: bytes, mac_len: Any,
                 msg_len: Any, assoc_len: Any):
        self.block_size = 16
        self.nonce = nonce
        self._names = ccm_names(cipher)
        self._msg_len = msg_len
        self._assoc_len = assoc_len
        self._cumul_assoc_len = 0
        self._cumul_msg_len = 0
        self._status = _NOT_STARTED
        self._items: list[Any] | None = []  # the AAD chunks before the MAC starts
        self._cache_len = 0  # bytes the CBC-MAC has not taken yet (a block or more: broken)
        self._mac_tag: bytes | None = None
        self._sealed: bytes | None = None  # the tag the one-shot AEAD gave
        self._init_aead(key, mac_len)
        if None not in (assoc_len, msg_len):
            self._start_mac()

    # -- hooks ------------------------------------------------------------------------

    def _make_engine(self) -> _CcmEngine:
        ctr = transform.get("skcipher", self._names.stream, self._key)
        mac = transform.get("hash", self._names.mac, self._key)
        return _CcmEngine(ctr, mac, self.nonce)

    def _find_one_shot(self) -> tuple[Transform, bytes] | None:
        if type(self._mac_len) is not int:
            return None
        tfm = aead.optional_aead(self._names.aead, self._key, self._mac_len)
        if tfm is None:
            return None
        q = 15 - len(self.nonce)
        return tfm, bytes([q - 1]) + self.nonce + bytes(q)

    def _stream_names(self) -> tuple[str, str]:
        return self._names.stream, self._names.mac

    def _compose_refusal(self) -> KernelUnavailableError | None:
        # A keyring key composes too (ctr() and cbcmac() are keyed from the keyring).
        if self._part_refused is None:
            return None
        return whole_messages_only("AES MODE_CCM", self._part_refused, self._names.aead)

    # -- PyCryptodome's CBC-MAC bookkeeping ----------------------------------------------------

    def _start_mac(self) -> None:
        """B_0 and the encoded AAD length, then the AAD kept so far, into the MAC."""
        if self._status != _NOT_STARTED or None in (self._assoc_len, self._msg_len):
            raise AssertionError()
        if not isinstance(self._items, list):
            raise AssertionError()
        q = 15 - len(self.nonce)
        flags = (self._assoc_len > 0) << 6
        flags |= ((self._mac_len - 2) // 2) << 3
        flags |= q - 1
        b_0 = struct.pack("B", flags) + self.nonce + long_bytes(self._msg_len, q)
        encoded = b""
        if self._assoc_len > 0:
            if self._assoc_len < 2**16 - 2**8:
                size = 2
            elif self._assoc_len < 2**32:
                encoded, size = b"\xff\xfe", 4
            else:
                encoded, size = b"\xff\xff", 8
            encoded += long_bytes(self._assoc_len, size)
        self._items.insert(0, b_0)
        self._items.insert(1, encoded)
        first = b"".join(self._items)
        self._items = None
        self._cache_len = 0
        self._status = _AAD
        self._aad_start = len(b_0) + len(encoded)
        self._absorb(first)

    def _absorb(self, data: Any) -> None:
        """Authenticate ``data`` as PyCryptodome's CCM does (kept, or through its cache)."""
        if self._status == _NOT_STARTED:
            assert self._items is not None
            self._items.append(bytes(data) if writable(data) else data)
            return
        if self._cache_len >= 16:
            raise AssertionError()
        if self._cache_len:
            take = min(16 - self._cache_len, len(data))
            piece = bytes(data[:take])
            self._feed(piece)
            self._cache_len += len(piece)
            data = bytes(data[take:])
            if self._cache_len < 16:
                return
            if self._cache_len % 16:
                raise ValueError("Data must be padded to 16 byte boundary in CBC mode")
            self._cache_len = 0
        whole = len(data) // 16 * 16
        tail = bytes(data[whole:])
        self._cache_len = len(tail)
        if whole:
            try:
                head = crypt_views(data[:whole], None)[0]  # CBC's checks
            except BaseException:
                self._feed(tail)  # PyCryptodome kept the tail before the head failed
                raise
            self._feed(head)
        self._feed(tail)

    def _pad(self) -> None:
        if self._status == _NOT_STARTED or self._cache_len >= 16:
            raise AssertionError()
        if self._cache_len:
            self._absorb(bytes(16 - self._cache_len))

    def _resolve_assoc(self) -> None:
        """The AAD is over: its length is now known (or must match the declared one)."""
        if self._assoc_len is None:
            if not isinstance(self._items, list):
                raise AssertionError()
            self._assoc_len = sum([len(x) for x in self._items])
            if self._msg_len is not None:
                self._start_mac()
        elif self._cumul_assoc_len < self._assoc_len:
            raise ValueError("Associated data is too short")

    def _begin(self, method: str, data: Any) -> None:
        """What encrypt() and decrypt() check and count first, in PyCryptodome's order."""
        if method not in self._next:
            raise TypeError(f"{method}() can only be called after initialization or an update()")
        self._next = (ENCRYPT, DIGEST) if method == ENCRYPT else (DECRYPT, VERIFY)
        self._resolve_assoc()
        if self._msg_len is None:
            q = 15 - len(self.nonce)
            if len(long_bytes(len(data))) > q:
                raise MessageTooLongError("Message too long for a %u-byte nonce" % len(self.nonce))
            self._msg_len = len(data)
            self._start_mac()
            self._next = (DIGEST,) if method == ENCRYPT else (VERIFY,)
        self._cumul_msg_len += len(data)
        if self._cumul_msg_len > self._msg_len:
            raise MessageTooLongError("Message longer than declared for (%u bytes vs %u bytes"
                                      % (self._cumul_msg_len, self._msg_len))

    def _whole_message(self, data: Any) -> bool:
        """Whether ``data`` is the whole message, after ordinary AAD (one-shot material)."""
        return (self._status == _AAD and self._sealed is None and self._mac_tag is None
                and self._cumul_msg_len == self._msg_len == len(data)
                and len(self._pending) - self._aad_start == self._assoc_len)

    def _to_message(self) -> None:
        if self._status == _AAD:
            self._pad()
            self._status = _MESSAGE

    def _compute_mac(self) -> bytes:
        if self._mac_tag:
            return self._mac_tag
        self._resolve_assoc()
        if self._msg_len is None:
            self._msg_len = 0
            self._start_mac()
        if self._cumul_msg_len != self._msg_len:
            raise ValueError("Message is too short")
        if self._sealed is not None:
            self._mac_tag = self._sealed
            return self._mac_tag
        if self._whole_message(b""):
            sealed = self._seal(memoryview(b""))
            if sealed is not None:
                self._mac_tag = sealed[1]
                return self._mac_tag
        self._pad()
        self._mac_tag = self._finish()[:self._mac_len]
        return self._mac_tag

    # -- PyCryptodome's API -----------------------------------------------------------

    @locked
    def update(self, assoc_data: Any) -> CcmMode:
        """Authenticate associated data (before encrypt/decrypt).

        Raises:
            TypeError: after encrypt(), decrypt(), digest() or verify().
            ValueError: more AAD than ``assoc_len`` declared.
        """
        if UPDATE not in self._next:
            raise TypeError("update() can only be called immediately after initialization")
        self._next = ALL
        self._cumul_assoc_len += len(assoc_data)
        if self._assoc_len is not None and self._cumul_assoc_len > self._assoc_len:
            raise MessageTooLongError("Associated data longer than declared")
        self._absorb(assoc_data)
        return self

    @locked
    def encrypt(self, plaintext: Any, output: Any = None) -> bytes | None:
        """Encrypt the next piece (one call only unless ``msg_len`` was given).

        Returns:
            The ciphertext, or ``None`` when ``output`` was given.
        """
        self._begin(ENCRYPT, plaintext)
        views = self._whole_views(plaintext, output) if self._whole_message(plaintext) else None
        if views is not None:
            src, dst = views
            sealed = self._seal(src)
            if sealed is not None:
                self._status = _MESSAGE
                self._sealed = sealed[1]
                if dst is None:
                    return sealed[0]
                dst[:] = sealed[0]
                return None
        refusal = self._compose_refusal()
        if refusal is not None:
            raise refusal  # whole messages only: the call is undone (see _aead.locked)
        self._to_message()
        self._absorb(plaintext)  # the MAC covers the plaintext, before output= is checked
        src, dst = crypt_views(plaintext, output)
        return self._keystream(src, dst)

    def _decrypting(self, ciphertext: Any, output: Any) -> tuple[memoryview, memoryview | None]:
        """decrypt()'s steps before its keystream."""
        self._to_message()
        return crypt_views(ciphertext, output)

    @locked
    def decrypt(self, ciphertext: Any, output: Any = None) -> bytes | None:
        """Decrypt the next piece (one call only unless ``msg_len`` was given).

        Returns:
            The plaintext, or ``None`` when ``output`` was given.
        """
        self._begin(DECRYPT, ciphertext)
        refusal = self._compose_refusal()
        if refusal is not None:
            raise refusal  # whole messages only: the call is undone (see _aead.locked)
        src, dst = self._decrypting(ciphertext, output)
        result = self._keystream(src, dst)
        self._absorb(result if output is None else output)
        return result

    @locked
    def encrypt_and_digest(self, plaintext: Any, output: Any = None) -> tuple[bytes | None, bytes]:
        """encrypt() and digest() in one step (the kernel's ccm(aes) when it serves them).

        Returns:
            ``(ciphertext or None, tag)``.
        """
        return self.encrypt(plaintext, output=output), self.digest()

    @locked
    def decrypt_and_verify(self, ciphertext: Any, received_mac_tag: Any,
                           output: Any = None) -> bytes | None:
        """decrypt() and verify() in one step; no plaintext is released for a wrong tag.

        Raises:
            ValueError: ``"MAC check failed"``.
        """
        self._begin(DECRYPT, ciphertext)
        views = self._whole_views(ciphertext, output) if self._whole_message(ciphertext) else None
        if views is not None:
            def hold() -> None:
                self._status = _MESSAGE
                self._next = (VERIFY,)

            def done(tag: bytes) -> None:
                hold()
                self._mac_tag = tag

            result = self._open_whole(views[0], received_mac_tag, output, hold, done)
            if result is not NotImplemented:
                return result
        refusal = self._compose_refusal()
        if refusal is not None:
            raise refusal  # whole messages only: the call is undone (see _aead.locked)
        src, dst = self._decrypting(ciphertext, output)
        return self._open_verified(src, dst, output, received_mac_tag)

    def _open_verified(self, src: memoryview, dst: memoryview | None, output: Any,
                       received: Any) -> bytes | None:
        """Decrypt into a private buffer, authenticate the plaintext, verify, then release it.

        PyCryptodome authenticates what it wrote (``output``, or the returned
        bytes); the private buffer is authenticated through a view of the same
        format and shape, so the same slicing rules apply.  An ``output`` whose
        format no view can take gets the plaintext directly (zeroed on failure).
        """
        shaped = None if output is None else _shaped_like(output)
        if output is not None and shaped is None:
            try:
                self._keystream(src, dst)
                self._absorb(output)
                self.verify(received)
            except BaseException:
                assert dst is not None
                dst[:] = bytes(dst.nbytes)
                raise
            return None

        def verify(view: memoryview) -> None:
            self._absorb(view if shaped is None else shaped(view))
            self.verify(received)

        return self._open_composed(src, dst, verify)

    def __repr__(self) -> str:
        return f"<kcapi_cipher CcmMode ({self._names.aead}) @ {hex(id(self))}>"


def _shaped_like(output: Any) -> Any:
    """A function giving a byte view the format and shape of ``output`` (``None``: none can)."""
    if not isinstance(output, memoryview) or (output.ndim == 1 and output.format == "B"):
        return lambda view: view
    try:
        memoryview(bytearray(output.nbytes)).cast(output.format, output.shape)
    except (TypeError, ValueError):
        return None
    return lambda view: view.cast(output.format, output.shape)


def _ordinary(key: Any, nonce: Any, mac_len: Any, msg_len: Any, assoc_len: Any,
              params: dict[str, Any]) -> bool:
    """Whether the arguments are the ordinary kinds the checks below mirror exactly."""
    return ((isinstance(key, KeyringKey) or plain(key)) and plain(nonce)
            and type(mac_len) is int and all(v is None or type(v) is int and v >= 0
                                             for v in (msg_len, assoc_len))
            and set(params) <= {"use_aesni"})


def create(algorithm: str, key: Any, *args: Any, **kwargs: Any) -> Any:
    """Create a CCM cipher object, as ``AES.new(key, AES.MODE_CCM, *args, **kwargs)``.

    Args:
        algorithm: the block cipher as the factory names it (``'aes'``).
        key: the cipher key, or a :class:`~_kcapi.keyring.KeyringKey` (kernel only).
        *args: at most one positional argument, the nonce.
        **kwargs: ``nonce`` (7..13 bytes, default 11 random bytes), ``mac_len``
            (4, 6, ..., 16; default 16), ``msg_len``, ``assoc_len``, ``use_aesni``.

    Returns:
        A :class:`CcmMode` served by the kernel, or PyCryptodome's CCM object
        where the backend policy lets software serve what the kernel lacks.

    Raises:
        TypeError, ValueError: PyCryptodome's errors for bad arguments.
        KernelUnavailableError: under the ``kernel`` policy, when the kernel lacks
            ``ctr(aes)`` or ``cbcmac(aes)``; for a keyring key whenever it does
            (``reason='keyring-needs-kernel'``).
        ValueError: the kernel refused a keyring key (its type or size).
    """
    if args:
        if len(args) > 1:
            raise TypeError("Too many arguments for this mode")
        kwargs = {**kwargs, "nonce": args[0]}
    params = dict(kwargs)
    nonce = params.pop("nonce", None)
    if nonce is None:
        nonce = _params.random_bytes(11)
        kwargs = {**kwargs, "nonce": nonce}
    mac_len = params.pop("mac_len", 16)
    msg_len = params.pop("msg_len", None)
    assoc_len = params.pop("assoc_len", None)
    if not _ordinary(key, nonce, mac_len, msg_len, assoc_len, params):
        checked, _ = _routing.keyring_split(key, "aes")
        # PyCryptodome's error, if any:
        _routing.reference(algorithm.lower()).new(checked, MODE_CCM, **kwargs)
        key_bytes: bytes | KeyringKey = key if isinstance(key, KeyringKey) else \
            bytes(c_view(key))
        nonce_bytes = bytes(nonce)
    else:
        nonce_bytes = bytes(nonce)
        if not isinstance(key, KeyringKey):
            bytes(key)  # PyCryptodome copies the key here, with bytes()'s errors
        if mac_len not in (4, 6, 8, 10, 12, 14, 16):
            raise ValueError("Parameter 'mac_len' must be even and in the range 4..16 (not %d)"
                             % mac_len)
        if not (7 <= len(nonce) <= 13):
            raise ValueError("Length of parameter 'nonce' must be in the range 7..13 bytes")
        if msg_len and len(long_bytes(msg_len)) > 15 - len(nonce):
            raise MessageTooLongError("Message too long for a %u-byte nonce" % len(nonce))
        key_bytes = check_aes_key(key, params, "CBC")
    cipher = cipher_name(algorithm)
    names = ccm_names(cipher)
    needs = [("skcipher", names.stream), ("hash", names.mac)]
    if isinstance(key_bytes, KeyringKey):
        routing.needs_kernel(key_bytes, "AES MODE_CCM", needs)
        made = CcmMode(cipher, key_bytes, nonce_bytes, mac_len, msg_len, assoc_len)
        # Key a transform now, so that the key's errors surface here: the one-shot
        # ccm() where the kernel has it (kept), else the composed path's ctr().
        if prepare_one_shot(made) is None:
            transform.get("skcipher", names.stream, key_bytes)
        return made
    route = routing.aead_route(needs, names.aead, lambda: type(mac_len) is int)
    if not route.kernel:
        return fallback(lambda: _routing.reference(algorithm.lower()).new(key, MODE_CCM, **kwargs),
                        names.aead, needs)
    made = CcmMode(cipher, key_bytes, nonce_bytes, mac_len, msg_len, assoc_len)
    if route.part_refused is not None:  # whole messages only (the one-shot AEAD)
        made._part_refused = route.part_refused
    return made
