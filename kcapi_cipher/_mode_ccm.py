"""Counter with CBC-MAC (CCM, NIST SP 800-38C / RFC 3610) served by the kernel.

``AES.new(key, AES.MODE_CCM, ...)`` lands in :func:`create`.  A whole message
handed over at once goes to the kernel's ``ccm(aes)``; piecewise use is composed
in the kernel from ``ctr(aes)`` (counter blocks ``A_i``) and the keyed
``cbcmac(aes)`` hash (the CBC-MAC over ``B_0 || encoded a || A || 0-pad || P ||
0-pad``); the tag is ``MSB_Tlen(T XOR S_0)``.  As in PyCryptodome, CCM needs
both lengths before it can start: without ``assoc_len`` the AAD is buffered
until the first encrypt/decrypt, and without ``msg_len`` only one
encrypt/decrypt call is allowed (it is the whole message).

A :class:`~_kcapi.keyring.KeyringKey` is served both ways: ``ccm(aes)``,
``ctr(aes)`` and ``cbcmac(aes)`` are all keyed from the keyring (the values
computed here -- counter blocks, ``S_0``, the kept keystream -- are per-message
keystream, nothing that would let anyone forge or decrypt other messages).
"""

from __future__ import annotations

from typing import Any

from _kcapi import aead, transform
from _kcapi.aead import CounterStream, keystream, xor_bytes
from _kcapi.hash import KernelHash
from _kcapi.keyring import KeyringKey
from _kcapi.names import ccm_names
from _kcapi.transform import BackendInfo, Transform

from ._aead import (ALL, DECRYPT, DIGEST, ENCRYPT, UPDATE, VERIFY, PaddedMacStream, KernelAead,
                    MessageTooLongError, as_input, check_aes_key, composed_info, fallback,
                    is_buffer, keyring_kernel, locked, min_bytes, output_view, random_nonce)
from ._mode_gcm import cipher_name, software

__all__ = ["CcmMode", "create"]


def _encode_assoc_len(size: int) -> bytes:
    """SP 800-38C A.2.2: the encoding of the AAD length ``a`` (empty when ``a`` is 0)."""
    if size == 0:
        return b""
    if size < 2**16 - 2**8:
        return size.to_bytes(2, "big")
    if size < 2**32:
        return b"\xff\xfe" + size.to_bytes(4, "big")
    return b"\xff\xff" + size.to_bytes(8, "big")


class _CcmStream(PaddedMacStream):
    """CCM composed in the kernel: ``ctr(aes)`` keystream + keyed ``cbcmac(aes)`` over
    ``B_0 || encoded AAD length || AAD || pad16 || plaintext || pad16``."""

    _MAC_PLAINTEXT = True

    def __init__(self, ctr: Transform, mac: Transform, nonce: bytes, mac_len: int,
                 msg_len: int, assoc_len: int):
        q = 15 - len(nonce)
        prefix = bytes([q - 1]) + nonce
        self._ctr_tfm = ctr
        self._mac_tfm = mac
        self._s0 = keystream(ctr, prefix + bytes(q), 16)
        mac_hash = KernelHash(mac, "cbcmac", 16, 16)
        flags = (assoc_len > 0) << 6 | ((mac_len - 2) // 2) << 3 | (q - 1)
        encoded = _encode_assoc_len(assoc_len)
        mac_hash.update(bytes([flags]) + nonce + msg_len.to_bytes(q, "big") + encoded)
        self._mac_len = mac_len
        self._start(CounterStream(ctr, 16, lambda i: prefix + (i + 1).to_bytes(q, "big")),
                    mac_hash, head=len(encoded))

    def tag(self) -> bytes:
        """``MSB_Tlen(CBC-MAC XOR S_0)``."""
        return xor_bytes(self._final_mac(b""), self._s0)[:self._mac_len]

    def info(self) -> BackendInfo:
        """The kernel algorithms serving the stream."""
        return composed_info(self._ctr_tfm.name, self._mac_tfm.name)


class CcmMode(KernelAead):
    """A CCM cipher object served by the kernel; PyCryptodome's ``CcmMode`` API.

    Attributes:
        block_size: 16.
        nonce: the nonce the object was created with.
    """

    def __init__(self, cipher: str, key: bytes | KeyringKey, nonce: bytes, mac_len: int,
                 msg_len: int | None, assoc_len: int | None):
        self.block_size = 16
        self.nonce = nonce
        self._names = ccm_names(cipher)
        self._msg_len = msg_len
        self._assoc_len = assoc_len
        self._cumul_assoc_len = 0
        self._cumul_msg_len = 0
        self._init_aead(key, mac_len)

    # -- hooks ------------------------------------------------------------------------

    def _streamable(self) -> bool:
        return self._assoc_len is not None and self._msg_len is not None

    def _make_stream(self) -> _CcmStream:
        assert self._msg_len is not None and self._assoc_len is not None
        ctr = transform.get("skcipher", self._names.stream, self._key)
        mac = transform.get("hash", self._names.mac, self._key)
        return _CcmStream(ctr, mac, self.nonce, self._mac_len, self._msg_len, self._assoc_len)

    def _find_one_shot(self) -> tuple[Transform, bytes] | None:
        tfm = aead.optional_aead(self._names.aead, self._key, self._mac_len)
        if tfm is None:
            return None
        q = 15 - len(self.nonce)
        return tfm, bytes([q - 1]) + self.nonce + bytes(q)

    def _stream_names(self) -> tuple[str, str]:
        return self._names.stream, self._names.mac

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
        self._add_aad(as_input(assoc_data))
        return self

    def _close_assoc(self) -> None:
        """No more AAD: its length is now known (or must match the declared one)."""
        if self._assoc_len is None:
            self._assoc_len = len(self._pending)
        elif self._cumul_assoc_len < self._assoc_len:
            raise ValueError("Associated data is too short")

    def _begin(self, method: str, data: Any) -> bool:
        """decrypt()/encrypt()'s checks; returns whether ``data`` completes the message."""
        if method not in self._next:
            raise TypeError(f"{method}() can only be called after initialization or an update()")
        self._next = (ENCRYPT, DIGEST) if method == ENCRYPT else (DECRYPT, VERIFY)
        self._close_assoc()
        if self._msg_len is None:
            if min_bytes(len(data)) > 15 - len(self.nonce):
                raise MessageTooLongError("Message too long for a %u-byte nonce" % len(self.nonce))
            self._msg_len = len(data)
            self._next = (DIGEST,) if method == ENCRYPT else (VERIFY,)
        self._cumul_msg_len += len(data)
        if self._cumul_msg_len > self._msg_len:
            raise MessageTooLongError("Message longer than declared for (%u bytes vs %u bytes"
                                      % (self._cumul_msg_len, self._msg_len))
        return self._stream is None and self._cumul_msg_len == self._msg_len

    @locked
    def encrypt(self, plaintext: Any, output: Any = None) -> bytes | None:
        """Encrypt the next piece (one call only unless ``msg_len`` was given).

        Returns:
            The ciphertext, or ``None`` when ``output`` was given.
        """
        whole = self._begin(ENCRYPT, plaintext)
        if not is_buffer(plaintext):
            bytes(plaintext)  # PyCryptodome's first use of it, with bytes()'s errors
        return self._encrypt(as_input(plaintext), output, whole)

    def _encrypt(self, view: memoryview, output: Any, whole: bool) -> bytes | None:
        out = None if output is None else output_view(output, view.nbytes)
        sealed = self._seal_whole(view) if whole else None
        if sealed is None:
            return self._run(view, output, encrypt=True)
        if out is None:
            return sealed
        out[:] = sealed
        return None

    @locked
    def decrypt(self, ciphertext: Any, output: Any = None) -> bytes | None:
        """Decrypt the next piece (one call only unless ``msg_len`` was given).

        Returns:
            The plaintext, or ``None`` when ``output`` was given.
        """
        self._begin(DECRYPT, ciphertext)
        return self._run(as_input(ciphertext), output, encrypt=False)

    def _final_tag(self) -> bytes:
        if self._tag:
            return self._tag
        self._close_assoc()
        if self._msg_len is None:
            self._msg_len = 0
        if self._cumul_msg_len != self._msg_len:
            raise ValueError("Message is too short")
        return self._compute_tag()

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
        whole = self._begin(DECRYPT, ciphertext)
        view = as_input(ciphertext)
        if output is not None:
            output_view(output, view.nbytes)
        return self._open_verified(view, received_mac_tag, output, whole, self.verify)

    def __repr__(self) -> str:
        return f"<kcapi_cipher CcmMode ({self._names.aead}) @ {hex(id(self))}>"


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
        nonce = random_nonce(11)
        kwargs = {**kwargs, "nonce": nonce}
    mac_len = params.pop("mac_len", 16)
    msg_len = params.pop("msg_len", None)
    assoc_len = params.pop("assoc_len", None)
    nonce_bytes = bytes(nonce)
    if not isinstance(key, KeyringKey):
        bytes(key)  # PyCryptodome copies the key here, with bytes()'s errors
    if mac_len not in (4, 6, 8, 10, 12, 14, 16):
        raise ValueError("Parameter 'mac_len' must be even and in the range 4..16 (not %d)"
                         % mac_len)
    if not (7 <= len(nonce) <= 13):
        raise ValueError("Length of parameter 'nonce' must be in the range 7..13 bytes")
    if msg_len and min_bytes(msg_len) > 15 - len(nonce):
        raise MessageTooLongError("Message too long for a %u-byte nonce" % len(nonce))
    key_bytes = check_aes_key(key, params, "CBC")
    cipher = cipher_name(algorithm)
    names = ccm_names(cipher)
    needs = [("skcipher", names.stream), ("hash", names.mac)]
    if isinstance(key_bytes, KeyringKey):
        keyring_kernel(key_bytes, "AES MODE_CCM", needs)
        made = CcmMode(cipher, key_bytes, nonce_bytes, mac_len, msg_len, assoc_len)
        # Key a transform now, so that the key's errors surface here: the one-shot
        # ccm() where the kernel has it (kept), else the composed path's ctr().
        if made._one_shot() is None:
            transform.get("skcipher", names.stream, key_bytes)
        return made
    if not aead.compose_available(needs):
        return fallback(lambda: software(algorithm).new(key, 8, **kwargs), names.aead, needs)
    return CcmMode(cipher, key_bytes, nonce_bytes, mac_len, msg_len, assoc_len)
