"""Galois/Counter Mode (GCM, NIST SP 800-38D) served by the kernel.

``AES.new(key, AES.MODE_GCM, ...)`` lands in :func:`create`.  A whole message
handed over at once goes to the kernel's ``gcm(aes)`` (12-byte nonces, tags of
4, 8 or 12..16 bytes); everything else is composed in the kernel from
``ctr(aes)`` (the GCTR keystream, from ``inc32(J0)``) and the keyed ``ghash``
hash (H = E_K(0^128)); the tag is ``E_K(J0) XOR S``.  Other nonce lengths get
``J0 = GHASH_H(nonce || 0-pad || [len(nonce)]_64)`` from the same ``ghash``.

A :class:`~_kcapi.keyring.KeyringKey` is served by the kernel's ``gcm(aes)``
only -- a 12-byte nonce, a tag of 4, 8 or 12..16 bytes, one whole message per
object (``encrypt_and_digest``/``decrypt_and_verify``, AAD by ``update``, at
most 64 KiB in all) -- because the composed path computes the hash key
``H = E_K(0^128)`` in user space, and whoever holds H can forge tags.
"""

from __future__ import annotations

from typing import Any

from _kcapi import aead, transform
from _kcapi.aead import CounterStream, keystream, xor_bytes
from _kcapi.errors import KernelUnavailableError, keyring_needs_kernel
from _kcapi.hash import KernelHash
from _kcapi.keyring import KeyringKey
from _kcapi.names import AEAD_CIPHERS, gcm_names
from _kcapi.transform import BackendInfo, Transform

from ._aead import (ALL, DECRYPT, DIGEST, ENCRYPT, UPDATE, VERIFY, PaddedMacStream, KernelAead,
                    MessageTooLongError, as_input, check_aes_key, composed_info, fallback,
                    is_buffer, keyring_kernel, locked, output_view, random_nonce)

__all__ = ["GcmMode", "create"]

# NIST SP 800-38D, 5.2.1.1 (the limits PyCryptodome enforces).
_MAX_MSG_LEN = 2**36 - 32
_MAX_AAD_LEN = 2**61 - 1
#: Tag sizes the kernel's gcm() accepts (crypto_gcm_check_authsize).
_KERNEL_TAG_SIZES = frozenset({4, 8, 12, 13, 14, 15, 16})
_M32 = 0xFFFFFFFF
#: Why a keyring key is served by the kernel's one-shot gcm() only.
_KEYRING_ONE_SHOT = ("with a keyring key only the kernel's gcm(aes) serves GCM: a 12-byte "
                     "nonce, a tag of 4, 8 or 12..16 bytes, and one whole message per object "
                     "(encrypt_and_digest() or decrypt_and_verify(), AAD by update(); at most "
                     "64 KiB in all). Anything else is composed from ctr(aes) and ghash keyed "
                     "with H = E_K(0^128), computed in user space: a secret derived from the "
                     "key that lets its holder forge tags")


class _GcmStream(PaddedMacStream):
    """GCM composed in the kernel: ``ctr(aes)`` keystream + keyed ``ghash``."""

    def __init__(self, ctr: Transform, ghash_name: str, nonce: bytes, mac_len: int):
        h = keystream(ctr, bytes(16), 16)  # H = E_K(0^128)
        ghash_tfm = transform.get("hash", ghash_name, h)
        if len(nonce) == 12:
            j0 = nonce + b"\x00\x00\x00\x01"
        else:
            g = KernelHash(ghash_tfm, "ghash", 16, 16)
            fill = (16 - len(nonce) % 16) % 16 + 8
            g.update(nonce + bytes(fill) + (8 * len(nonce)).to_bytes(8, "big"))
            j0 = g.digest()
        self._ctr_tfm = ctr
        self._j0 = j0
        self._mac_len = mac_len
        self._start(gctr_stream(ctr, j0), KernelHash(ghash_tfm, "ghash", 16, 16))

    def tag(self) -> bytes:
        """``MSB_t(E_K(J0) XOR GHASH(A || 0 || C || 0 || [len(A)]_64 || [len(C)]_64))``."""
        s = self._final_mac((8 * self._aad_len).to_bytes(8, "big")
                            + (8 * self._msg_len).to_bytes(8, "big"))
        return xor_bytes(s, keystream(self._ctr_tfm, self._j0, 16))[:self._mac_len]

    def info(self) -> BackendInfo:
        """The kernel algorithms serving the stream."""
        return composed_info(self._ctr_tfm.name, "ghash")


def gctr_stream(ctr: Transform, j0: bytes) -> CounterStream:
    """The GCTR keystream from ``inc32(J0)`` on the kernel's ``ctr`` transform.

    GCM increments only the low 32 bits of the counter block; the kernel's
    ``ctr`` increments all 128.  They agree until the low word wraps, so a run
    never crosses a wrap: the next run restarts with the upper 96 bits kept.
    """
    upper = j0[:12]
    first = (int.from_bytes(j0[12:], "big") + 1) & _M32
    return CounterStream(ctr, 16,
                         lambda i: upper + ((first + i) & _M32).to_bytes(4, "big"),
                         lambda i: (1 << 32) - ((first + i) & _M32))


class GcmMode(KernelAead):
    """A GCM cipher object served by the kernel; PyCryptodome's ``GcmMode`` API.

    Attributes:
        block_size: 16.
        nonce: the nonce the object was created with.
    """

    def __init__(self, cipher: str, key: bytes | KeyringKey, nonce: bytes, mac_len: int):
        self.block_size = 16
        self.nonce = nonce
        self._names = gcm_names(cipher)
        self._auth_len = 0
        self._msg_len = 0
        self._init_aead(key, mac_len)

    # -- hooks ------------------------------------------------------------------------

    def _make_stream(self) -> _GcmStream:
        ctr = transform.get("skcipher", self._names.stream, self._key)
        return _GcmStream(ctr, self._names.mac, self.nonce, self._mac_len)

    def _find_one_shot(self) -> tuple[Transform, bytes] | None:
        if len(self.nonce) != 12 or self._mac_len not in _KERNEL_TAG_SIZES:
            return None
        tfm = aead.optional_aead(self._names.aead, self._key, self._mac_len)
        return None if tfm is None else (tfm, self.nonce)

    def _stream_names(self) -> tuple[str, str]:
        return self._names.stream, self._names.mac

    def _compose_refusal(self) -> KernelUnavailableError | None:
        if isinstance(self._key, KeyringKey):
            return keyring_needs_kernel(self._key, "AES MODE_GCM beyond one whole message",
                                        _KEYRING_ONE_SHOT)
        return None

    # -- PyCryptodome's API -----------------------------------------------------------

    @locked
    def update(self, assoc_data: Any) -> GcmMode:
        """Authenticate associated data (any number of calls, before encrypt/decrypt).

        Raises:
            TypeError: after encrypt(), decrypt(), digest() or verify().
        """
        if UPDATE not in self._next:
            raise TypeError("update() can only be called immediately after initialization")
        if self._auth_len + len(assoc_data) > _MAX_AAD_LEN:
            raise MessageTooLongError("Additional Authenticated Data exceeds maximum length")
        self._next = ALL
        if not is_buffer(assoc_data):
            bytes(assoc_data)  # PyCryptodome's first use of it, with bytes()'s errors
        view = as_input(assoc_data)
        self._add_aad(view)
        self._auth_len += view.nbytes
        return self

    def _begin(self, method: str, data: Any, what: str) -> memoryview:
        if method not in self._next:
            raise TypeError(f"{method}() can only be called after initialization or an update()")
        if self._msg_len + len(data) > _MAX_MSG_LEN:
            raise MessageTooLongError(f"{what} exceeds maximum length")
        self._next = (ENCRYPT, DIGEST) if method == ENCRYPT else (DECRYPT, VERIFY)
        return as_input(data)

    @locked
    def encrypt(self, plaintext: Any, output: Any = None) -> bytes | None:
        """Encrypt the next piece: ``c.encrypt(a) + c.encrypt(b) == c.encrypt(a + b)``.

        Args:
            plaintext: bytes, bytearray or memoryview.
            output: a bytearray or writable memoryview of the same length, or ``None``.

        Returns:
            The ciphertext, or ``None`` when ``output`` was given.
        """
        view = self._begin(ENCRYPT, plaintext, "Plaintext")
        result = self._run(view, output, encrypt=True)
        self._msg_len += view.nbytes
        return result

    @locked
    def decrypt(self, ciphertext: Any, output: Any = None) -> bytes | None:
        """Decrypt the next piece of the message; call verify() at the end.

        Returns:
            The plaintext, or ``None`` when ``output`` was given.
        """
        view = self._begin(DECRYPT, ciphertext, "Ciphertext")
        result = self._run(view, output, encrypt=False)
        self._msg_len += view.nbytes
        return result

    @locked
    def encrypt_and_digest(self, plaintext: Any, output: Any = None) -> tuple[bytes | None, bytes]:
        """encrypt() and digest() in one step (the kernel's gcm(aes) when it serves them).

        Returns:
            ``(ciphertext or None, tag)``.
        """
        view = self._begin(ENCRYPT, plaintext, "Plaintext")
        out = None if output is None else output_view(output, view.nbytes)
        sealed = self._seal_whole(view)
        if sealed is None:
            result = self._run(view, output, encrypt=True)
        elif out is None:
            result = sealed
        else:
            out[:] = sealed
            result = None
        self._msg_len += view.nbytes
        return result, self.digest()

    @locked
    def decrypt_and_verify(self, ciphertext: Any, received_mac_tag: Any,
                           output: Any = None) -> bytes | None:
        """decrypt() and verify() in one step; no plaintext is released for a wrong tag.

        Raises:
            ValueError: ``"MAC check failed"``.
        """
        view = self._begin(DECRYPT, ciphertext, "Ciphertext")
        if output is not None:
            output_view(output, view.nbytes)
        result = self._open_verified(view, received_mac_tag, output, True, self.verify)
        self._msg_len += view.nbytes
        return result

    def __repr__(self) -> str:
        return f"<kcapi_cipher GcmMode ({self._names.aead}) @ {hex(id(self))}>"


def create(algorithm: str, key: Any, *args: Any, **kwargs: Any) -> Any:
    """Create a GCM cipher object, as ``AES.new(key, AES.MODE_GCM, *args, **kwargs)``.

    Args:
        algorithm: the block cipher as the factory names it (``'aes'``).
        key: the cipher key, or a :class:`~_kcapi.keyring.KeyringKey` (kernel
            ``gcm(aes)`` only: see the module's documentation).
        *args: at most one positional argument, the nonce.
        **kwargs: ``nonce`` (default: 16 random bytes), ``mac_len`` (4..16,
            default 16), ``threads`` and ``use_aesni`` (checked, without effect
            on the kernel).

    Returns:
        A :class:`GcmMode` served by the kernel, or PyCryptodome's GCM object
        where the backend policy lets software serve what the kernel lacks.

    Raises:
        TypeError, ValueError: PyCryptodome's errors for bad arguments.
        KernelUnavailableError: under the ``kernel`` policy, when the kernel lacks
            ``ctr(aes)`` or ``ghash``; for a keyring key, whenever the kernel's
            ``gcm(aes)`` cannot serve it (``reason='keyring-needs-kernel'``).
        ValueError: the kernel refused a keyring key (its type or size).
    """
    if args:
        if len(args) > 1:
            raise TypeError("Too many arguments for this mode")
        kwargs = {**kwargs, "nonce": args[0]}
    params = dict(kwargs)
    nonce = params.pop("nonce", None)
    if nonce is None:
        nonce = random_nonce(16)
        kwargs = {**kwargs, "nonce": nonce}
    mac_len = params.pop("mac_len", 16)
    threads = params.pop("threads", 1)
    params.pop("use_clmul", None)
    if len(nonce) == 0:
        raise ValueError("Nonce cannot be empty")
    if not is_buffer(nonce):
        raise TypeError("Nonce must be bytes, bytearray or memoryview")
    if len(nonce) > 2**64 - 1:
        raise ValueError("Nonce exceeds maximum length")
    if not isinstance(key, KeyringKey):
        bytes(key)  # PyCryptodome copies the key here, with bytes()'s errors
    if not (4 <= mac_len <= 16):
        raise ValueError("Parameter 'mac_len' must be in the range 4..16")
    key_bytes = check_aes_key(key, params, "ECB")
    check_threads(threads)
    cipher = cipher_name(algorithm)
    names = gcm_names(cipher)
    if isinstance(key_bytes, KeyringKey):
        return _keyring_gcm(cipher, key_bytes, bytes(nonce), mac_len)
    needs = [("skcipher", names.stream), ("hash", names.mac)]
    if not aead.compose_available(needs):
        return fallback(lambda: software(algorithm).new(key, 11, **kwargs), names.aead, needs)
    return GcmMode(cipher, key_bytes, bytes(nonce), mac_len)


def _keyring_gcm(cipher: str, key: KeyringKey, nonce: bytes, mac_len: int) -> GcmMode:
    """A GCM object keyed from the keyring: the kernel's one-shot ``gcm()``, keyed now.

    Raises:
        KernelUnavailableError: parameters only the composed path takes, the
            ``software`` policy, or a kernel without ``gcm()`` (``keyring-needs-kernel``);
            a kernel before 6.2 (``needs-newer-kernel``).
        ValueError, OSError: the kernel refused the key (see ``keyring_refusal``).
    """
    label = "AES MODE_GCM"
    if len(nonce) != 12:
        raise keyring_needs_kernel(key, f"{label} with a {len(nonce)}-byte nonce",
                                   _KEYRING_ONE_SHOT)
    if mac_len not in _KERNEL_TAG_SIZES:
        raise keyring_needs_kernel(key, f"{label} with mac_len={mac_len}", _KEYRING_ONE_SHOT)
    keyring_kernel(key, label, [("aead", gcm_names(cipher).aead)])
    made = GcmMode(cipher, key, nonce, mac_len)
    made._one_shot()  # keys the transform now: the key's errors surface here
    return made


def check_threads(threads: Any) -> None:
    """PyCryptodome's checks of ``threads=`` (the kernel path ignores its value)."""
    if not isinstance(threads, int) or isinstance(threads, bool):
        raise TypeError("'threads' must be an integer")
    if threads < 0:
        raise ValueError("'threads' must be a non-negative integer")


def cipher_name(algorithm: str) -> str:
    """The kernel's name of the block cipher the factory names ``algorithm``.

    Raises:
        ValueError: a cipher without 128-bit blocks (only AES has GCM and CCM).
    """
    try:
        return AEAD_CIPHERS[algorithm.lower()]
    except KeyError:
        raise ValueError(f"no GCM or CCM for cipher {algorithm!r} (AES only)") from None


def software(algorithm: str) -> Any:
    """PyCryptodome's module for ``algorithm``: the software fallback's factory."""
    from Crypto.Cipher import AES

    return {"aes": AES}[algorithm.lower()]
