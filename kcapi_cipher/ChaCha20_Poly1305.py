"""ChaCha20-Poly1305 (RFC 8439) and XChaCha20-Poly1305, served by the kernel.

``from kcapi_cipher import ChaCha20_Poly1305`` replaces
``from Crypto.Cipher import ChaCha20_Poly1305``.  A whole message handed over
at once goes to the kernel's ``rfc7539(chacha20,poly1305)`` (8- and 12-byte
nonces); piecewise use, and 24-byte (XChaCha20) nonces, are composed in the
kernel from ``chacha20``/``xchacha20`` and the ``poly1305`` hash, whose
one-time key (the first 32 bytes of keystream block 0) is the first 32 bytes
of the hashed data.

A :class:`~_kcapi.keyring.KeyringKey` is served by the kernel's
``rfc7539(chacha20,poly1305)`` only -- an 8- or 12-byte nonce, one whole
message per object (``encrypt_and_digest``/``decrypt_and_verify``, at most
64 KiB with the AAD) -- because the composed path computes the Poly1305
one-time key in user space, and whoever holds it can forge tags for that nonce.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from _kcapi import aead, transform
from _kcapi.aead import CounterStream, keystream
from _kcapi.errors import KernelUnavailableError, keyring_needs_kernel
from _kcapi.hash import KernelHash
from _kcapi.keyring import KeyringKey
from _kcapi.names import CHACHA20_POLY1305, XCHACHA20_POLY1305, AeadNames
from _kcapi.transform import BackendInfo, Transform

from ._aead import (DECRYPT, DIGEST, ENCRYPT, UPDATE, VERIFY, PaddedMacStream, KernelAead, as_input,
                    composed_info, fallback, is_buffer, keyring_kernel, locked, random_nonce)

__all__ = ["ChaCha20Poly1305Cipher", "new", "key_size"]

#: Size of a key (in bytes).
key_size = 32

#: Why a keyring key is served by the kernel's one-shot AEAD only.
_KEYRING_ONE_SHOT = ("with a keyring key only the kernel's rfc7539(chacha20,poly1305) serves "
                     "it: an 8- or 12-byte nonce and one whole message per object "
                     "(encrypt_and_digest() or decrypt_and_verify(), AAD by update(); at most "
                     "64 KiB in all). Anything else is composed from chacha20 and poly1305, "
                     "with the Poly1305 one-time key computed in user space: a secret derived "
                     "from the key that lets its holder forge tags for that nonce")


class _ChaChaStream(PaddedMacStream):
    """ChaCha20-Poly1305 composed in the kernel: ``chacha20`` keystream + ``poly1305``."""

    def __init__(self, cipher: Transform, poly: Transform, iv_at: Callable[[int], bytes]):
        self._cipher_tfm = cipher
        self._poly_tfm = poly
        one_time_key = keystream(cipher, iv_at(0), 64)[:32]  # block 0 keys Poly1305
        mac = KernelHash(poly, "poly1305", 16, 16)
        mac.update(one_time_key)  # the kernel's poly1305 reads its key from the data
        self._start(CounterStream(cipher, 64, lambda i: iv_at(i + 1)), mac)

    def tag(self) -> bytes:
        """Poly1305 over ``AAD || pad16 || CT || pad16 || le64(len(AAD)) || le64(len(CT))``."""
        return self._final_mac(struct.pack("<QQ", self._aad_len, self._msg_len))

    def info(self) -> BackendInfo:
        """The kernel algorithms serving the stream."""
        return composed_info(self._cipher_tfm.name, self._poly_tfm.name)


class ChaCha20Poly1305Cipher(KernelAead):
    """A ChaCha20-Poly1305 / XChaCha20-Poly1305 object served by the kernel.

    Attributes:
        nonce: the nonce the object was created with (8, 12 or 24 bytes).
    """

    _DIGEST_REFUSED = "digest() method cannot be called"

    nonce: bytes

    def __init__(self, key: bytes | KeyringKey, nonce: bytes):
        self.nonce = nonce
        self._names: AeadNames = XCHACHA20_POLY1305 if len(nonce) == 24 else CHACHA20_POLY1305
        self._init_aead(key, 16)

    # -- hooks ------------------------------------------------------------------------

    def _iv_at(self) -> Callable[[int], bytes]:
        """A function giving the kernel skcipher's IV of keystream block ``i``."""
        nonce = self.nonce
        if len(nonce) == 24:  # xchacha20: nonce || le64 block counter
            return lambda i: nonce + struct.pack("<Q", i)
        nonce12 = nonce if len(nonce) == 12 else bytes(4) + nonce
        return lambda i: struct.pack("<I", i) + nonce12  # chacha20: le32 counter || nonce

    def _make_stream(self) -> _ChaChaStream:
        cipher = transform.get("skcipher", self._names.stream, self._key)
        poly = transform.get("hash", self._names.mac)
        return _ChaChaStream(cipher, poly, self._iv_at())

    def _find_one_shot(self) -> tuple[Transform, bytes] | None:
        tfm = aead.optional_aead(self._names.aead, self._key, 16)
        if tfm is None:
            return None
        return tfm, self.nonce if len(self.nonce) == 12 else bytes(4) + self.nonce

    def _stream_names(self) -> tuple[str, str]:
        return self._names.stream, self._names.mac

    def _compose_refusal(self) -> KernelUnavailableError | None:
        if isinstance(self._key, KeyringKey):
            return keyring_needs_kernel(self._key, "ChaCha20-Poly1305 beyond one whole message",
                                        _KEYRING_ONE_SHOT)
        return None

    # -- PyCryptodome's API -----------------------------------------------------------

    @locked
    def update(self, data: Any) -> None:
        """Authenticate associated data (before encrypt/decrypt).

        Raises:
            TypeError: after encrypt(), decrypt(), digest() or verify().
        """
        if UPDATE not in self._next:
            raise TypeError("update() method cannot be called")
        self._add_aad(as_input(data))

    @locked
    def encrypt(self, plaintext: Any, output: Any = None) -> bytes | None:
        """Encrypt the next piece of the message.

        Returns:
            The ciphertext, or ``None`` when ``output`` was given.
        """
        if ENCRYPT not in self._next:
            raise TypeError("encrypt() method cannot be called")
        self._next = (ENCRYPT, DIGEST)
        return self._run(as_input(plaintext), output, encrypt=True)

    @locked
    def decrypt(self, ciphertext: Any, output: Any = None) -> bytes | None:
        """Decrypt the next piece of the message; call verify() at the end.

        Returns:
            The plaintext, or ``None`` when ``output`` was given.
        """
        if DECRYPT not in self._next:
            raise TypeError("decrypt() method cannot be called")
        self._next = (DECRYPT, VERIFY)
        return self._run(as_input(ciphertext), output, encrypt=False)

    @locked
    def encrypt_and_digest(self, plaintext: Any) -> tuple[bytes, bytes]:
        """encrypt() and digest() in one step (the kernel's AEAD when it serves them).

        Returns:
            ``(ciphertext, tag)``.
        """
        if ENCRYPT not in self._next:
            raise TypeError("encrypt() method cannot be called")
        self._next = (ENCRYPT, DIGEST)
        view = as_input(plaintext)
        sealed = self._seal_whole(view)
        if sealed is None:
            sealed = self._run(view, None, encrypt=True)
        assert sealed is not None
        return sealed, self.digest()

    @locked
    def decrypt_and_verify(self, ciphertext: Any, received_mac_tag: Any) -> bytes:
        """decrypt() and verify() in one step; no plaintext is released for a wrong tag.

        Raises:
            ValueError: ``"MAC check failed"``.
        """
        if DECRYPT not in self._next:
            raise TypeError("decrypt() method cannot be called")
        self._next = (DECRYPT, VERIFY)
        plain = self._open_verified(as_input(ciphertext), received_mac_tag, None, True, self.verify)
        assert plain is not None
        return plain

    def __repr__(self) -> str:
        name = self._names.aead or f"{self._names.stream}+{self._names.mac}"
        return f"<kcapi_cipher ChaCha20Poly1305Cipher ({name}) @ {hex(id(self))}>"


def new(*, key: Any, nonce: Any = None) -> Any:
    """Create a ChaCha20-Poly1305 (8- or 12-byte nonce) or XChaCha20-Poly1305 (24) cipher.

    Args:
        key: 32 bytes, or a :class:`~_kcapi.keyring.KeyringKey` holding them
            (kernel one-shot only: see the module's documentation).
        nonce: 8, 12 or 24 bytes; 12 random bytes when omitted.

    Returns:
        A :class:`ChaCha20Poly1305Cipher` served by the kernel, or PyCryptodome's
        object where the backend policy lets software serve what the kernel lacks.

    Raises:
        ValueError, TypeError: PyCryptodome's errors for bad arguments.
        KernelUnavailableError: under the ``kernel`` policy, when the kernel lacks
            ``chacha20``/``xchacha20`` or ``poly1305``; for a keyring key, whenever the
            kernel's one-shot AEAD cannot serve it (``reason='keyring-needs-kernel'``).
        ValueError: the kernel refused a keyring key (its type or size).
    """
    in_keyring = isinstance(key, KeyringKey)
    if not in_keyring and len(key) != 32:
        raise ValueError("Key must be 32 bytes long")
    if nonce is None:
        nonce = random_nonce(12)
    if len(nonce) not in (8, 12, 24):
        raise ValueError("Nonce must be 8, 12 or 24 bytes long")
    if not is_buffer(nonce):
        raise TypeError("nonce must be bytes, bytearray or memoryview")
    if not in_keyring and not is_buffer(key):
        raise TypeError("Object type %s cannot be passed to C code" % type(key))
    names = XCHACHA20_POLY1305 if len(nonce) == 24 else CHACHA20_POLY1305
    if isinstance(key, KeyringKey):
        if not names.aead:
            raise keyring_needs_kernel(key, "XChaCha20-Poly1305 (a 24-byte nonce)",
                                       _KEYRING_ONE_SHOT)
        keyring_kernel(key, "ChaCha20-Poly1305", [("aead", names.aead)])
        made = ChaCha20Poly1305Cipher(key, bytes(nonce))
        made._one_shot()  # keys the transform now: the key's errors surface here
        return made
    needs = [("skcipher", names.stream), ("hash", names.mac)]
    if not aead.compose_available(needs):
        from Crypto.Cipher import ChaCha20_Poly1305

        return fallback(lambda: ChaCha20_Poly1305.new(key=key, nonce=nonce),
                        names.aead or f"{names.stream}+{names.mac}", needs)
    return ChaCha20Poly1305Cipher(bytes(key), bytes(nonce))
