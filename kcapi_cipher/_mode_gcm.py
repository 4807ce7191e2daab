"""Galois/Counter Mode (GCM, NIST SP 800-38D) served by the kernel.

``AES.new(key, AES.MODE_GCM, ...)`` lands in :func:`create`.  A whole message
handed over at once goes to the kernel's ``gcm(aes)`` (12-byte nonces, tags of
4, 8 or 12..16 bytes); everything else is composed in the kernel from
``ctr(aes)`` (the GCTR keystream, from ``inc32(J0)``) and the keyed ``ghash``
hash (H = E_K(0^128)); the tag is ``E_K(J0) XOR S``.  Other nonce lengths get
``J0 = GHASH_H(nonce || 0-pad || [len(nonce)]_64)`` from the same ``ghash``.

The bookkeeping is PyCryptodome's (see :mod:`._aead`): the AAD and the
ciphertext enter GHASH through a cache of less than a block, filled by
slicing the caller's objects and counted with ``len()``; the lengths block
holds those counts.  So a chunk whose ``len()`` is not its size (a
memoryview cast to ``'H'``) is authenticated as PyCryptodome authenticates it,
one that leaves the cache a block or longer breaks the object exactly as it
breaks PyCryptodome's (every later call raises ``AssertionError``), and
``decrypt()`` authenticates its ciphertext before checking ``output=``.

A :class:`~_kcapi.keyring.KeyringKey` is served by the kernel's ``gcm(aes)``
only -- a 12-byte nonce, a tag of 4, 8 or 12..16 bytes, one whole message per
object (``encrypt_and_digest``/``decrypt_and_verify``, AAD by ``update``, at
most 64 KiB in all) -- because the composed path computes the hash key
``H = E_K(0^128)`` in user space, and whoever holds H can forge tags.
"""

from __future__ import annotations

from typing import Any

from _kcapi import aead, routing, transform
from _kcapi.aead import CounterStream, keystream, xor_bytes
from _kcapi.errors import KernelUnavailableError, keyring_needs_kernel
from _kcapi.hash import KernelHash
from _kcapi.keyring import KeyringKey
from _kcapi.names import AEAD_CIPHERS, gcm_names
from _kcapi.transform import Transform
from _kcapi.backend_info import BackendInfo

from . import _params, _routing
from ._aead import prepare_one_shot
from ._aead import (ALL, DECRYPT, DIGEST, ENCRYPT, UPDATE, VERIFY, Engine, KernelAead,
                    check_aes_key, composed_info, fallback, is_buffer, locked)
from ._buffers import MessageTooLongError, c_view, crypt_views, long_bytes, plain
from ._modes import MODE_GCM

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


class _GcmEngine(Engine):
    """GCM composed in the kernel: the GCTR keystream on ``ctr(aes)`` and a keyed ``ghash``."""

    def __init__(self, ctr: Transform, ghash_name: str, nonce: bytes):
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
        self._init_engine(KernelHash(ghash_tfm, "ghash", 16, 16), gctr_stream(ctr, j0))

    def finish(self) -> bytes:
        """``E_K(J0) XOR GHASH(everything fed)``."""
        return xor_bytes(self._mac_digest(), keystream(self._ctr_tfm, self._j0, 16))

    def info(self) -> BackendInfo:
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

    _KIND = "gcm"
    #: Under the ``kernel`` policy where ``gcm(aes)`` binds but the composed path's
    #: ``ghash`` does not (Linux 7.2+): its refusal; whole messages only, then.
    _part_refused: KernelUnavailableError | None = None

    def __init__(self, cipher: str, key: bytes | KeyringKey, nonce: bytes, mac_len: Any):
        self.block_size = 16
        self.nonce = nonce
        self._names = gcm_names(cipher)
        self._auth_len = 0  # the sum of len() of the AAD chunks
        self._msg_len = 0  # the sum of len() of the message chunks
        self._cache_len = 0  # bytes GHASH has not taken yet (a block or more: broken)
        self._in_message = False
        self._tag: bytes | None = None
        self._init_aead(key, mac_len)

    # -- hooks ------------------------------------------------------------------------

    def _make_engine(self) -> _GcmEngine:
        ctr = transform.get("skcipher", self._names.stream, self._key)
        return _GcmEngine(ctr, self._names.mac, self.nonce)

    def _find_one_shot(self) -> tuple[Transform, bytes] | None:
        if (len(self.nonce) != 12 or type(self._mac_len) is not int
                or self._mac_len not in _KERNEL_TAG_SIZES):
            return None
        tfm = aead.optional_aead(self._names.aead, self._key, self._mac_len)
        return None if tfm is None else (tfm, self.nonce)

    def _stream_names(self) -> tuple[str, str]:
        return self._names.stream, self._names.mac

    def _compose_refusal(self) -> KernelUnavailableError | None:
        return routing.composed_refusal("AES MODE_GCM", self._key, self._part_refused,
                                        self._names.aead, _KEYRING_ONE_SHOT)

    # -- PyCryptodome's GHASH bookkeeping ------------------------------------------------------

    def _absorb(self, data: Any) -> None:
        """Authenticate ``data`` as PyCryptodome's GCM does: slicing it, counting its items."""
        if self._cache_len >= 16:
            raise AssertionError()
        if self._cache_len:
            take = min(16 - self._cache_len, len(data))
            piece = bytes(data[:take])
            self._feed(piece)
            self._cache_len += len(piece)
            data = data[take:]
            if self._cache_len < 16:
                return
            if self._cache_len % 16:
                raise AssertionError()
            self._cache_len = 0
        whole = len(data) // 16 * 16
        tail = bytes(data[whole:])
        self._cache_len = len(tail)
        if whole:
            try:
                head = c_view(data if whole == len(data) else memoryview(data)[:whole])
            except BaseException:
                self._feed(tail)  # PyCryptodome kept the tail before the head failed
                raise
            self._feed(head)
        self._feed(tail)

    def _pad(self) -> None:
        if self._cache_len >= 16:
            raise AssertionError()
        if self._cache_len:
            self._absorb(bytes(16 - self._cache_len))

    def _regular(self) -> bool:
        """Whether the AAD so far is exactly the bytes its length counts (one-shot material)."""
        return not self._in_message and self._tag is None and len(self._pending) == self._auth_len

    _TAG_ATTRIBUTE = "_tag"

    def _compute_mac(self) -> bytes:
        if self._tag:
            return self._tag
        if self._regular():
            sealed = self._seal(memoryview(b""))
            if sealed is not None:
                self._tag = sealed[1]
                return self._tag
        self._pad()
        self._absorb(long_bytes(8 * self._auth_len, 8))
        self._absorb(long_bytes(8 * self._msg_len, 8))
        self._tag = self._finish()[:self._mac_len]
        return self._tag

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
        self._absorb(assoc_data)
        self._auth_len += len(assoc_data)
        return self

    def _start(self, method: str, data: Any, piecewise: bool) -> None:
        """The checks opening encrypt() and decrypt(); ``piecewise`` calls need the engine."""
        if method not in self._next:
            raise TypeError(f"{method}() can only be called after initialization or an update()")
        if self._msg_len + len(data) > _MAX_MSG_LEN:
            what = "Plaintext" if method == ENCRYPT else "Ciphertext"
            raise MessageTooLongError(f"{what} exceeds maximum length")
        if piecewise:
            refusal = self._compose_refusal()
            if refusal is not None:
                raise refusal  # before anything changed: a whole message still works
        self._next = (ENCRYPT, DIGEST) if method == ENCRYPT else (DECRYPT, VERIFY)

    def _encrypted(self, written: Any, plaintext: Any) -> None:
        """Authenticate the ciphertext just written (PyCryptodome's order: after encrypting)."""
        if not self._in_message:
            self._pad()
            self._in_message = True
        self._absorb(written)
        self._msg_len += len(plaintext)

    @locked
    def encrypt(self, plaintext: Any, output: Any = None) -> bytes | None:
        """Encrypt the next piece: ``c.encrypt(a) + c.encrypt(b) == c.encrypt(a + b)``.

        Args:
            plaintext: bytes, bytearray or memoryview.
            output: a bytearray or writable memoryview of the same length, or ``None``.

        Returns:
            The ciphertext, or ``None`` when ``output`` was given.
        """
        self._start(ENCRYPT, plaintext, True)
        src, dst = crypt_views(plaintext, output)
        result = self._keystream(src, dst)
        self._encrypted(result if output is None else output, plaintext)
        return result

    def _decrypting(self, ciphertext: Any) -> None:
        """What decrypt() does before its keystream: authenticate the ciphertext first."""
        if not self._in_message:
            self._pad()
            self._in_message = True
        self._absorb(ciphertext)
        self._msg_len += len(ciphertext)

    @locked
    def decrypt(self, ciphertext: Any, output: Any = None) -> bytes | None:
        """Decrypt the next piece of the message; call verify() at the end.

        Returns:
            The plaintext, or ``None`` when ``output`` was given.
        """
        self._start(DECRYPT, ciphertext, True)
        self._decrypting(ciphertext)
        src, dst = crypt_views(ciphertext, output)
        return self._keystream(src, dst)

    @locked
    def encrypt_and_digest(self, plaintext: Any, output: Any = None) -> tuple[bytes | None, bytes]:
        """encrypt() and digest() in one step (the kernel's gcm(aes) when it serves them).

        Returns:
            ``(ciphertext or None, tag)``.
        """
        self._start(ENCRYPT, plaintext, False)
        src, dst = crypt_views(plaintext, output)
        whole = self._regular() and self._counted_in_bytes(plaintext, output)
        sealed = self._seal(src) if whole else None
        if sealed is None:
            refusal = self._compose_refusal()
            if refusal is not None:
                raise refusal
            result = self._keystream(src, dst)
            self._encrypted(result if output is None else output, plaintext)
        else:
            result = sealed[0] if dst is None else None
            if dst is not None:
                dst[:] = sealed[0]
            self._in_message = True
            self._msg_len += len(plaintext)
            self._tag = sealed[1]
        return result, self.digest()

    @locked
    def decrypt_and_verify(self, ciphertext: Any, received_mac_tag: Any,
                           output: Any = None) -> bytes | None:
        """decrypt() and verify() in one step; no plaintext is released for a wrong tag.

        Raises:
            ValueError: ``"MAC check failed"``.
        """
        self._start(DECRYPT, ciphertext, False)
        views = self._whole_views(ciphertext, output) if self._regular() else None
        if views is not None:
            def hold() -> None:
                self._in_message = True
                self._msg_len += len(ciphertext)
                self._next = (VERIFY,)

            def done(tag: bytes) -> None:
                hold()
                self._tag = tag

            result = self._open_whole(views[0], received_mac_tag, output, hold, done)
            if result is not NotImplemented:
                return result
        refusal = self._compose_refusal()
        if refusal is not None:
            raise refusal
        self._decrypting(ciphertext)
        src, dst = crypt_views(ciphertext, output)
        return self._open_composed(src, dst, lambda _: self.verify(received_mac_tag))

    def __repr__(self) -> str:
        return f"<kcapi_cipher GcmMode ({self._names.aead}) @ {hex(id(self))}>"


def _ordinary(key: Any, nonce: Any, mac_len: Any, threads: Any, params: dict[str, Any]) -> bool:
    """Whether the arguments are the ordinary kinds the checks below mirror exactly."""
    return ((isinstance(key, KeyringKey) or plain(key)) and plain(nonce)
            and type(mac_len) is int and type(threads) is int and set(params) <= {"use_aesni"})


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
        nonce = _params.random_bytes(16)
        kwargs = {**kwargs, "nonce": nonce}
    mac_len = params.pop("mac_len", 16)
    threads = params.pop("threads", 1)
    params.pop("use_clmul", None)
    if not _ordinary(key, nonce, mac_len, threads, params):
        checked, _ = _routing.keyring_split(key, "aes")
        # PyCryptodome's error, if any:
        _routing.reference(algorithm.lower()).new(checked, MODE_GCM, **kwargs)
        key_bytes: bytes | KeyringKey = key if isinstance(key, KeyringKey) else \
            bytes(c_view(key))
    else:
        if len(nonce) == 0:
            raise ValueError("Nonce cannot be empty")
        if not is_buffer(nonce):
            raise TypeError("Nonce must be bytes, bytearray or memoryview")
        if not isinstance(key, KeyringKey):
            bytes(key)  # PyCryptodome copies the key here, with bytes()'s errors
        if not (4 <= mac_len <= 16):
            raise ValueError("Parameter 'mac_len' must be in the range 4..16")
        key_bytes = check_aes_key(key, params, "ECB")
        _params.check_threads(threads)
    cipher = cipher_name(algorithm)
    names = gcm_names(cipher)
    if isinstance(key_bytes, KeyringKey):
        return _keyring_gcm(cipher, key_bytes, bytes(nonce), mac_len)
    needs = [("skcipher", names.stream), ("hash", names.mac)]
    route = routing.aead_route(needs, names.aead, lambda: len(nonce) == 12 and (
        type(mac_len) is int and mac_len in _KERNEL_TAG_SIZES))
    if not route.kernel:
        return fallback(lambda: _routing.reference(algorithm.lower()).new(key, MODE_GCM, **kwargs),
                        names.aead, needs)
    made = GcmMode(cipher, key_bytes, bytes(nonce), mac_len)
    if route.part_refused is not None:  # whole messages only (the one-shot AEAD)
        made._part_refused = route.part_refused
    return made


def _keyring_gcm(cipher: str, key: KeyringKey, nonce: bytes, mac_len: Any) -> GcmMode:
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
    if type(mac_len) is not int or mac_len not in _KERNEL_TAG_SIZES:
        raise keyring_needs_kernel(key, f"{label} with mac_len={mac_len}", _KEYRING_ONE_SHOT)
    routing.needs_kernel(key, label, [("aead", gcm_names(cipher).aead)])
    made = GcmMode(cipher, key, nonce, mac_len)
    prepare_one_shot(made)  # keys the transform now: the key's errors surface here
    return made


def cipher_name(algorithm: str) -> str:
    """The kernel's name of the block cipher the factory names ``algorithm``.

    Raises:
        ValueError: a cipher without 128-bit blocks (only AES has GCM and CCM).
    """
    try:
        return AEAD_CIPHERS[algorithm.lower()]
    except KeyError:
        raise ValueError(f"no GCM or CCM for cipher {algorithm!r} (AES only)") from None

