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

from _kcapi import aead, routing, transform
from _kcapi.aead import CounterStream, keystream
from _kcapi.errors import KernelUnavailableError, keyring_needs_kernel
from _kcapi.hash import KernelHash
from _kcapi.keyring import KeyringKey
from _kcapi.names import CHACHA20_POLY1305, XCHACHA20_POLY1305, AeadNames
from _kcapi.transform import Transform
from _kcapi.backend_info import BackendInfo

from . import _params
from . import _reference as ref
from ._aead import prepare_one_shot
from ._aead import (DECRYPT, DIGEST, ENCRYPT, UPDATE, VERIFY, Engine, KernelAead, composed_info,
                    fallback, is_buffer, locked)
from ._buffers import c_view, crypt_views, long_bytes, plain

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


# PyCryptodome's states.
_AAD, _MESSAGE, _DONE = 1, 2, 3


class _ChaChaEngine(Engine):
    """ChaCha20-Poly1305 composed in the kernel: ``chacha20``/``xchacha20`` + ``poly1305``."""

    def __init__(self, cipher: Transform, poly: Transform, iv_at: Callable[[int], bytes]):
        self._cipher_tfm = cipher
        self._poly_tfm = poly
        one_time_key = keystream(cipher, iv_at(0), 64)[:32]  # block 0 keys Poly1305
        mac = KernelHash(poly, "poly1305", 16, 16)
        mac.update(one_time_key)  # the kernel's poly1305 reads its key from the data
        self._init_engine(mac, CounterStream(cipher, 64, lambda i: iv_at(i + 1)))

    def finish(self) -> bytes:
        return self._mac_digest()

    def info(self) -> BackendInfo:
        return composed_info(self._cipher_tfm.name, self._poly_tfm.name)


class ChaCha20Poly1305Cipher(KernelAead):
    """A ChaCha20-Poly1305 / XChaCha20-Poly1305 object served by the kernel.

    The bookkeeping is PyCryptodome's (see :mod:`._aead`): the AAD and
    ciphertext lengths are ``len()`` sums, Poly1305 takes every byte of what it
    is given, and the padding after the AAD and the ciphertext follows the
    lengths -- so a chunk whose ``len()`` is not its size is authenticated as
    PyCryptodome authenticates it, and ``decrypt()`` authenticates before it
    checks ``output=``.

    Attributes:
        nonce: the nonce the object was created with (8, 12 or 24 bytes).
    """

    _KIND = "chacha20_poly1305"
    _DIGEST_REFUSED = "digest() method cannot be called"
    #: Under the ``kernel`` policy where the one-shot AEAD binds but the composed
    #: path's ``poly1305`` does not (Linux 7.2+): its refusal; whole messages only.
    _part_refused: KernelUnavailableError | None = None

    nonce: bytes

    def __init__(self, key: bytes | KeyringKey, nonce: bytes):
        self.nonce = nonce
        self._names: AeadNames = XCHACHA20_POLY1305 if len(nonce) == 24 else CHACHA20_POLY1305
        self._len_aad = 0
        self._len_ct = 0
        self._status = _AAD
        self._mac_tag: bytes | None = None
        self._init_aead(key, 16)

    # -- hooks ------------------------------------------------------------------------

    def _iv_at(self) -> Callable[[int], bytes]:
        """A function giving the kernel skcipher's IV of keystream block ``i``."""
        nonce = self.nonce
        if len(nonce) == 24:  # xchacha20: nonce || le64 block counter
            return lambda i: nonce + struct.pack("<Q", i)
        nonce12 = nonce if len(nonce) == 12 else bytes(4) + nonce
        return lambda i: struct.pack("<I", i) + nonce12  # chacha20: le32 counter || nonce

    def _make_engine(self) -> _ChaChaEngine:
        cipher = transform.get("skcipher", self._names.stream, self._key)
        poly = transform.get("hash", self._names.mac)
        return _ChaChaEngine(cipher, poly, self._iv_at())

    def _find_one_shot(self) -> tuple[Transform, bytes] | None:
        tfm = aead.optional_aead(self._names.aead, self._key, 16)
        if tfm is None:
            return None
        return tfm, self.nonce if len(self.nonce) == 12 else bytes(4) + self.nonce

    def _stream_names(self) -> tuple[str, str]:
        return self._names.stream, self._names.mac

    def _compose_refusal(self) -> KernelUnavailableError | None:
        return routing.composed_refusal("ChaCha20-Poly1305", self._key, self._part_refused,
                                        self._names.aead, _KEYRING_ONE_SHOT)

    # -- PyCryptodome's bookkeeping ------------------------------------------------------------

    def _pad_aad(self) -> None:
        if self._status != _AAD:
            raise AssertionError()
        if self._len_aad & 0x0F:
            self._feed(bytes(16 - (self._len_aad & 0x0F)))
        self._status = _MESSAGE

    def _regular(self) -> bool:
        """Whether the AAD so far is exactly the bytes its length counts (one-shot material)."""
        return (self._status == _AAD and self._mac_tag is None
                and len(self._pending) == self._len_aad)

    def _verify_held(self, received: Any) -> bytes:
        tag = super()._verify_held(received)
        self._status = _DONE
        return tag

    def _compute_mac(self) -> bytes:
        if self._mac_tag:
            if self._status != _DONE:
                raise AssertionError()
            return self._mac_tag
        if self._status == _DONE:
            raise AssertionError()
        if self._regular():
            sealed = self._seal(memoryview(b""))
            if sealed is not None:
                self._status = _DONE
                self._mac_tag = sealed[1]
                return self._mac_tag
        if self._status == _AAD:
            self._pad_aad()
        if self._len_ct & 0x0F:
            self._feed(bytes(16 - (self._len_ct & 0x0F)))
        self._status = _DONE
        self._feed(long_bytes(self._len_aad, 8)[::-1])
        self._feed(long_bytes(self._len_ct, 8)[::-1])
        self._mac_tag = self._finish()
        return self._mac_tag

    # -- PyCryptodome's API -----------------------------------------------------------

    @locked
    def update(self, data: Any) -> None:
        """Authenticate associated data (before encrypt/decrypt).

        Raises:
            TypeError: after encrypt(), decrypt(), digest() or verify().
        """
        if UPDATE not in self._next:
            raise TypeError("update() method cannot be called")
        self._len_aad += len(data)
        self._feed(c_view(data))

    def _start(self, method: str, piecewise: bool) -> None:
        if method not in self._next:
            raise TypeError(f"{method}() method cannot be called")
        if piecewise:
            refusal = self._compose_refusal()
            if refusal is not None:
                raise refusal  # before anything changed: a whole message still works
        if self._status == _AAD:
            self._pad_aad()
        self._next = (ENCRYPT, DIGEST) if method == ENCRYPT else (DECRYPT, VERIFY)

    def _encrypt(self, plaintext: Any, output: Any, src: memoryview,
                 dst: memoryview | None) -> bytes | None:
        result = self._keystream(src, dst)
        self._feed(c_view(result if output is None else output))
        self._len_ct += len(plaintext)
        return result

    @locked
    def encrypt(self, plaintext: Any, output: Any = None) -> bytes | None:
        """Encrypt the next piece of the message.

        Returns:
            The ciphertext, or ``None`` when ``output`` was given.
        """
        self._start(ENCRYPT, True)
        src, dst = crypt_views(plaintext, output)
        return self._encrypt(plaintext, output, src, dst)

    @locked
    def decrypt(self, ciphertext: Any, output: Any = None) -> bytes | None:
        """Decrypt the next piece of the message; call verify() at the end.

        Returns:
            The plaintext, or ``None`` when ``output`` was given.
        """
        self._start(DECRYPT, True)
        self._len_ct += len(ciphertext)
        self._feed(c_view(ciphertext))
        src, dst = crypt_views(ciphertext, output)
        return self._keystream(src, dst)

    def _whole_start(self, method: str) -> bool:
        """The checks opening a one-step call; whether the one-shot AEAD may take it.

        Nothing changes here: the one-shot path must see the AAD unpadded.
        """
        if method not in self._next:
            raise TypeError(f"{method}() method cannot be called")
        return self._regular()

    @locked
    def encrypt_and_digest(self, plaintext: Any) -> tuple[bytes, bytes]:
        """encrypt() and digest() in one step (the kernel's AEAD when it serves them).

        Returns:
            ``(ciphertext, tag)``.
        """
        views = self._whole_views(plaintext) if self._whole_start(ENCRYPT) else None
        sealed = None if views is None else self._seal(views[0])
        if sealed is None:
            refusal = self._compose_refusal()
            if refusal is not None:
                raise refusal
            self._start(ENCRYPT, False)
            src, dst = crypt_views(plaintext, None)
            result = self._encrypt(plaintext, None, src, dst)
        else:
            result = sealed[0]
            self._next = (ENCRYPT, DIGEST)
            self._len_ct += len(plaintext)
            self._status = _DONE
            self._mac_tag = sealed[1]
        assert result is not None
        return result, self.digest()

    @locked
    def decrypt_and_verify(self, ciphertext: Any, received_mac_tag: Any) -> bytes:
        """decrypt() and verify() in one step; no plaintext is released for a wrong tag.

        Raises:
            ValueError: ``"MAC check failed"``.
        """
        views = self._whole_views(ciphertext) if self._whole_start(DECRYPT) else None
        if views is not None:
            def hold() -> None:
                self._status = _MESSAGE
                self._len_ct += len(ciphertext)
                self._next = (VERIFY,)

            def done(tag: bytes) -> None:
                hold()
                self._status = _DONE
                self._mac_tag = tag

            result = self._open_whole(views[0], received_mac_tag, None, hold, done)
            if result is not NotImplemented:
                return result
        refusal = self._compose_refusal()
        if refusal is not None:
            raise refusal
        self._start(DECRYPT, False)
        self._len_ct += len(ciphertext)
        self._feed(c_view(ciphertext))
        src, dst = crypt_views(ciphertext, None)
        plain_text = self._open_composed(src, dst, lambda _: self.verify(received_mac_tag))
        assert plain_text is not None
        return plain_text

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
    if nonce is None:
        nonce = _params.random_bytes(12)
    if not ((in_keyring or plain(key)) and plain(nonce)):
        from ._routing import keyring_split

        checked, _ = keyring_split(key, "chacha20")
        ref.ChaCha20_Poly1305.new(key=checked, nonce=nonce)  # PyCryptodome's error, if any
        if not in_keyring:
            key = bytes(c_view(key))
    if not in_keyring and len(key) != 32:
        raise ValueError("Key must be 32 bytes long")
    if len(nonce) not in (8, 12, 24):
        raise ValueError("Nonce must be 8, 12 or 24 bytes long")
    if not is_buffer(nonce):
        raise TypeError("nonce must be bytes, bytearray or memoryview")
    names = XCHACHA20_POLY1305 if len(nonce) == 24 else CHACHA20_POLY1305
    if isinstance(key, KeyringKey):
        if not names.aead:
            raise keyring_needs_kernel(key, "XChaCha20-Poly1305 (a 24-byte nonce)",
                                       _KEYRING_ONE_SHOT)
        routing.needs_kernel(key, "ChaCha20-Poly1305", [("aead", names.aead)])
        made = ChaCha20Poly1305Cipher(key, bytes(nonce))
        prepare_one_shot(made)  # keys the transform now: the key's errors surface here
        return made
    needs = [("skcipher", names.stream), ("hash", names.mac)]
    route = routing.aead_route(needs, names.aead)
    if not route.kernel:
        return fallback(lambda: ref.ChaCha20_Poly1305.new(key=key, nonce=nonce),
                        names.aead or f"{names.stream}+{names.mac}", needs)
    made = ChaCha20Poly1305Cipher(bytes(key), bytes(nonce))
    if route.part_refused is not None:  # whole messages only (the one-shot AEAD)
        made._part_refused = route.part_refused
    return made


def __getattr__(name: str) -> Any:
    # Attributes PyCryptodome's module has beyond the public API (code and its
    # tests reach them): PyCryptodome's own.
    from . import _reference

    return _reference.module_attribute(_reference.ChaCha20_Poly1305, __name__, name)
