"""CMAC (NIST SP 800-38B, RFC 4493), served by the kernel's ``cmac(aes)`` and ``cmac(des3_ede)``.

``from kcapi_cipher import CMAC`` replaces ``from Crypto.Hash import CMAC``.
The key is set on the transform (ALG_SET_KEY); the MAC state lives in the
kernel (:class:`_kcapi.hash.KernelHash`), ``copy()`` clones it with ``accept()``
and ``digest()`` leaves the object usable.  Unlike PyCryptodome, ``ciphermod``
may be omitted: it defaults to AES.  AES and TDES (PyCryptodome's modules or
kcapi's) are served by the kernel; other cipher modules by PyCryptodome's CMAC
over that module.  The key may be a :class:`~_kcapi.keyring.KeyringKey`: the
transform is then keyed from the kernel keyring, and no software fallback
exists (a TDES keyring key holds the 24 bytes K1 || K2 || K3).

Bookkeeping.  PyCryptodome counts each message chunk with ``len()`` and
keeps the last partial block in a cache it fills by slice assignment, so a
chunk whose items are not bytes (a memoryview cast to ``'I'``, an ``array``)
is measured in items but copied in bytes, and can leave that cache longer
than a block.  :class:`CMAC` keeps the same cache and counters and runs the
same steps on the caller's objects, so it accepts, computes and fails as
PyCryptodome does, including the state a failed call leaves.  The kernel is
given, in order, every whole block PyCryptodome would encrypt and the cached
bytes as they arrive (``_sent`` of them so far): at ``digest()`` it holds the
message PyCryptodome's tag covers, and its own K1/K2 choice is PyCryptodome's.
"""

from __future__ import annotations

from binascii import unhexlify
from hmac import compare_digest
from types import ModuleType
from typing import Any

from _kcapi import routing
from _kcapi.errors import keyring_needs_kernel
from _kcapi.hash import KernelHash
from _kcapi.keyring import KeyringKey
from _kcapi.names import CMAC_TEMPLATE
from _kcapi.backend_info import BackendInfo

from . import _params
from . import _reference as ref
from ._aead import check_aes_key, fallback
from ._buffers import c_view, crypt_views, plain, tobytes
from ._copying import Uncopyable

__all__ = ["CMAC", "new"]

#: As ``Crypto.Hash.CMAC.digest_size``: the module has none (each object has its own).
digest_size: int | None = None

#: Block size -> (kernel cipher, PyCryptodome's module, largest message PyCryptodome MACs).
_CIPHERS = {16: ("aes", ref.block_cipher("aes"), 16 * 2**48),
            8: ("des3_ede", ref.block_cipher("des3"), 8 * 2**21)}


class CMAC(Uncopyable):
    """A CMAC object whose state lives in the kernel; ``Crypto.Hash.CMAC.CMAC``'s API.

    Attributes:
        digest_size: the tag length in bytes (``mac_len``).
    """

    __slots__ = ("_hash", "_block", "_max_size", "_cache", "_cache_n", "_sent", "_data_size",
                 "_processed", "_mac_tag", "_update_after_digest", "digest_size", "__weakref__")

    _KIND = "cmac"

    def __init__(self, state: KernelHash, block: int, mac_len: int, update_after_digest: bool):
        self._hash = state
        self._block = block
        self._max_size = _CIPHERS[block][2]
        self._cache = bytearray(block)  # PyCryptodome's partial block (longer only after odd input)
        self._cache_n = 0  # bytes of the cache in use
        self._sent = 0  # bytes of the cache the kernel has
        self._data_size = 0  # the sum of len() of every chunk
        self._processed = False  # whether a whole block went through the cipher
        self._mac_tag: bytes | None = None
        self._update_after_digest = update_after_digest
        self.digest_size = mac_len

    def update(self, msg: Any) -> CMAC:
        """Authenticate the next chunk of the message.

        Raises:
            TypeError: after digest() or verify(), unless ``update_after_digest``;
                PyCryptodome's errors for what it cannot take.
        """
        if self._mac_tag is not None and not self._update_after_digest:
            raise TypeError("update() cannot be called after digest() or verify()")
        if plain(msg) and len(self._cache) == self._block:
            self._update_plain(msg)
        else:
            self._update_any(msg)
        return self

    def _update_plain(self, msg: Any) -> None:
        """:meth:`update` of a byte string: one kernel update, the cache kept arithmetically."""
        size = len(msg)
        self._data_size += size
        if not size:
            return
        self._hash.update(msg)
        filled = self._cache_n + size
        if filled < self._block:
            self._cache[self._cache_n:filled] = msg
        else:
            self._processed = True
            rest = filled % self._block
            if rest:
                self._cache[:rest] = msg[size - rest:]
        self._cache_n = self._sent = filled if filled < self._block else filled % self._block

    def _update_any(self, msg: Any) -> None:
        """:meth:`update` step by step, on any object (PyCryptodome's slicing and counting)."""
        block = self._block
        self._data_size += len(msg)
        if self._cache_n > 0:
            take = min(block - self._cache_n, len(msg))
            self._cache[self._cache_n:self._cache_n + take] = msg[:take]
            self._cache_n += take
            self._send_cache()
            if self._cache_n < block:
                return
            msg = memoryview(msg)[take:]
            self._blocks(self._cache, self._sent)
            self._cache_n = self._sent = 0
        remain = len(msg) % block
        if remain > 0:
            self._blocks(msg[:-remain])
            self._cache[:remain] = msg[-remain:]
        else:
            self._blocks(msg)
        self._cache_n = remain
        self._send_cache()

    def _blocks(self, data: Any, already: int = 0) -> None:
        """Whole blocks PyCryptodome encrypts with CBC (its checks); ``already`` bytes were sent."""
        if len(data) % self._block:
            raise AssertionError()
        if len(data) == 0:
            return
        view, _ = crypt_views(data, None)
        self._hash.update(view[already:])
        self._processed = True

    def _send_cache(self) -> None:
        """Give the kernel the cached bytes it does not have yet."""
        if self._cache_n > self._sent:
            self._hash.update(memoryview(self._cache)[self._sent:self._cache_n])
            self._sent = self._cache_n

    def copy(self) -> CMAC:
        """An independent copy: ``accept()`` clones the kernel state."""
        other = CMAC(self._hash.copy(), self._block, self.digest_size, self._update_after_digest)
        other._cache = bytearray(self._cache)
        other._cache_n = self._cache_n
        other._sent = self._sent
        other._data_size = self._data_size
        other._processed = self._processed
        other._mac_tag = self._mac_tag
        return other

    __copy__ = copy

    def digest(self) -> bytes:
        """The tag of the message so far (the object stays usable).

        Raises:
            ValueError: more data than CMAC may authenticate with this cipher.
        """
        if self._mac_tag is not None and not self._update_after_digest:
            return self._mac_tag
        if self._data_size > self._max_size:
            raise ValueError("MAC is unsafe for this message")
        if self._cache_n == 0 and self._data_size > 0:
            if not self._processed:
                raise AssertionError()
        else:
            last = self._cache[:]
            last[self._cache_n:] = b"\x80" + b"\x00" * (self._block - self._cache_n - 1)
            if len(last) != self._block:
                raise ValueError("Only byte strings of equal length can be xored")
        self._mac_tag = self._hash.digest()[:self.digest_size]
        return self._mac_tag

    def hexdigest(self) -> str:
        """:meth:`digest` as hexadecimal digits."""
        return self.digest().hex()

    def verify(self, mac_tag: Any) -> None:
        """Check a received tag in constant time.

        Raises:
            ValueError: ``"MAC check failed"``.
        """
        if not compare_digest(mac_tag, self.digest()):
            raise ValueError("MAC check failed")

    def hexverify(self, hex_mac_tag: Any) -> None:
        """:meth:`verify` of a tag written in hexadecimal."""
        self.verify(unhexlify(tobytes(hex_mac_tag)))

    @property
    def backend_info(self) -> BackendInfo:
        """The kernel algorithm and driver serving this object."""
        return self._hash.backend_info

    def __repr__(self) -> str:
        return f"<kcapi_cipher CMAC ({self._hash.name}) @ {hex(id(self))}>"


def _block_of(ciphermod: Any) -> int | None:
    """16 for an AES module, 8 for a TDES one (PyCryptodome's or kcapi's), else ``None``."""
    name = getattr(ciphermod, "__name__", "").rpartition(".")[2]
    return {"AES": 16, "DES3": 8}.get(name)


def new(key: Any, msg: Any = None, ciphermod: ModuleType | None = None,
        cipher_params: dict[str, Any] | None = None, mac_len: int | None = None,
        update_after_digest: bool = False) -> Any:
    """Create a new CMAC object, as ``Crypto.Hash.CMAC.new``.

    Args:
        key: the cipher key (16, 24 or 32 bytes for AES; 16 or 24 for TDES), or
            a :class:`~_kcapi.keyring.KeyringKey` holding it (kernel only).
        msg: the first chunk of the message (optional).
        ciphermod: the block cipher module (required, as in PyCryptodome).
        cipher_params: parameters for the cipher (PyCryptodome's).
        mac_len: the tag length, 4 up to the block size (default: the block size).
        update_after_digest: allow update() after digest().

    Returns:
        A :class:`CMAC` served by the kernel, or PyCryptodome's CMAC object where
        the policy lets software serve (or the cipher is neither AES nor TDES).

    Raises:
        ValueError, TypeError: PyCryptodome's errors for bad arguments.
        KernelUnavailableError: under the ``kernel`` policy, when the kernel lacks the
            ``cmac()`` the cipher needs; for a keyring key whenever the kernel cannot
            serve (``keyring-needs-kernel``).
        ValueError: the kernel refused a keyring key (its type or size).
    """
    if ciphermod is None:
        # PyCryptodome's own TypeError ("ciphermod must be specified (try AES)").
        return ref.CMAC.new(key, msg, None, cipher_params, mac_len, update_after_digest)
    params = {} if cipher_params is None else dict(cipher_params)
    if mac_len is None:
        mac_len = ciphermod.block_size
    if mac_len < 4:
        raise ValueError("MAC tag length must be at least 4 bytes long")
    if mac_len > ciphermod.block_size:
        raise ValueError("MAC tag length cannot be larger than a cipher block (%d) bytes"
                         % ciphermod.block_size)
    block = _block_of(ciphermod)
    if block is None:
        return _software_cmac(key, msg, ciphermod, cipher_params, mac_len, update_after_digest)
    cipher, module, _ = _CIPHERS[block]
    name = CMAC_TEMPLATE.format(cipher=cipher)
    kernel_key = _kernel_key(block, key, params, msg, module, mac_len, update_after_digest)
    # Never None for a keyring key: the kernel serves it or the error says why not.
    tfm = routing.kernel_or_none("hash", name, kernel_key)
    if tfm is None:
        return fallback(lambda: ref.CMAC.new(key, msg, module, cipher_params, mac_len,
                                             update_after_digest), name, [("hash", name)])
    mac = CMAC(KernelHash(tfm, name, block, block), block, mac_len, update_after_digest)
    if msg:
        mac.update(msg)
    return mac


def _kernel_key(block: int, key: Any, params: dict[str, Any], msg: Any, module: Any,
                mac_len: int, update_after_digest: bool) -> bytes | KeyringKey:
    """The key the kernel's ``cmac()`` takes, after PyCryptodome's checks of the arguments.

    Ordinary arguments are checked here; anything else is checked by building
    PyCryptodome's own CMAC object first (its exact error), then read as its C
    code reads it.
    """
    if isinstance(key, KeyringKey):
        if block == 16:
            return check_aes_key(key, params, "ECB")
        if params:
            raise TypeError("Unknown parameters for ECB: %s" % str(params))
        return key
    if block == 16:
        if plain(key) and set(params) <= {"use_aesni"}:
            return check_aes_key(key, params, "ECB")
        ref.CMAC.new(key, None, module, params, mac_len, update_after_digest)
        return bytes(c_view(key))
    if not (plain(key) and not params):
        ref.CMAC.new(key, None, module, params, mac_len, update_after_digest)
    adjusted = _params.des3_parity(tobytes(key))
    if adjusted is None:
        ref.CMAC.new(key, None, module, params, mac_len, update_after_digest)  # its ValueError
        raise AssertionError("PyCryptodome accepted a TDES key kcapi refuses")
    return _params.kernel_key("des3", adjusted)


def _software_cmac(key: Any, msg: Any, ciphermod: ModuleType, cipher_params: Any,
                   mac_len: int, update_after_digest: bool) -> Any:
    """PyCryptodome's CMAC over a cipher module other than AES and TDES."""
    label = f"CMAC over {getattr(ciphermod, '__name__', ciphermod)}"
    if isinstance(key, KeyringKey):
        raise keyring_needs_kernel(key, label, "the kernel serves cmac(aes) and cmac(des3_ede) "
                                   "only")
    refused = routing.software_refusal(label, "the kernel serves cmac(aes) and cmac(des3_ede); "
                                       "other cipher modules are software")
    if refused is not None and not getattr(ciphermod, "__name__", "").startswith("kcapi_cipher."):
        raise refused
    return ref.CMAC.new(key, msg, ciphermod, cipher_params, mac_len, update_after_digest)


def __getattr__(name: str) -> Any:
    # Attributes PyCryptodome's module has beyond the public API (code and its
    # tests reach them): PyCryptodome's own.
    from . import _reference

    return _reference.module_attribute(_reference.CMAC, __name__, name)
