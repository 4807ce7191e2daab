"""CMAC (NIST SP 800-38B, RFC 4493) served by the kernel's ``cmac(aes)``.

``from kcapi_cipher import CMAC`` replaces ``from Crypto.Hash import CMAC``.
The key is set on the transform (ALG_SET_KEY); the MAC state lives in the
kernel (:class:`_kcapi.hash.KernelHash`), ``copy()`` clones it with ``accept()``
and ``digest()`` leaves the object usable.  Unlike PyCryptodome, ``ciphermod``
may be omitted: it defaults to AES.  Cipher modules other than AES are served
by PyCryptodome's CMAC over that module.  The key may be a
:class:`~_kcapi.keyring.KeyringKey`: ``cmac(aes)`` is then keyed from the
kernel keyring, and no software fallback exists.
"""

from __future__ import annotations

from binascii import unhexlify
from hmac import compare_digest
from types import ModuleType
from typing import Any

from _kcapi import policy, transform
from _kcapi.errors import keyring_needs_kernel, no_equivalent
from _kcapi.hash import KernelHash
from _kcapi.keyring import KeyringKey
from _kcapi.names import CMAC_TEMPLATE
from _kcapi.transform import BackendInfo

from ._aead import check_aes_key, fallback, is_buffer

__all__ = ["CMAC", "new"]

_BLOCK_SIZE = 16
_KERNEL_NAME = CMAC_TEMPLATE.format(cipher="aes")


class CMAC:
    """A CMAC object whose state lives in the kernel; ``Crypto.Hash.CMAC.CMAC``'s API.

    Attributes:
        digest_size: the tag length in bytes (``mac_len``).
    """

    __slots__ = ("_hash", "_mac_tag", "_update_after_digest", "digest_size")

    def __init__(self, state: KernelHash, mac_len: int, update_after_digest: bool):
        self._hash = state
        self._mac_tag: bytes | None = None
        self._update_after_digest = update_after_digest
        self.digest_size = mac_len

    def update(self, msg: Any) -> CMAC:
        """Authenticate the next chunk of the message.

        Raises:
            TypeError: after digest() or verify(), unless ``update_after_digest``.
        """
        if self._mac_tag is not None and not self._update_after_digest:
            raise TypeError("update() cannot be called after digest() or verify()")
        if not is_buffer(msg):
            raise TypeError("Object type %s cannot be passed to C code" % type(msg))
        self._hash.update(msg)
        return self

    def copy(self) -> CMAC:
        """An independent copy: ``accept()`` clones the kernel state."""
        other = CMAC(self._hash.copy(), self.digest_size, self._update_after_digest)
        other._mac_tag = self._mac_tag
        return other

    def digest(self) -> bytes:
        """The tag of the message so far (the object stays usable)."""
        if self._mac_tag is not None and not self._update_after_digest:
            return self._mac_tag
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

    def hexverify(self, hex_mac_tag: str | bytes) -> None:
        """:meth:`verify` of a tag written in hexadecimal."""
        if isinstance(hex_mac_tag, str):
            hex_mac_tag = hex_mac_tag.encode("latin-1")
        self.verify(unhexlify(hex_mac_tag))

    @property
    def backend_info(self) -> BackendInfo:
        """The kernel algorithm and driver serving this object."""
        return self._hash.backend_info

    def __repr__(self) -> str:
        return f"<kcapi_cipher CMAC ({_KERNEL_NAME}) @ {hex(id(self))}>"

    def __reduce__(self) -> Any:
        raise TypeError(f"cannot pickle {type(self).__name__!r} object")


def _is_aes(ciphermod: Any) -> bool:
    """Whether ``ciphermod`` is an AES module (PyCryptodome's or kcapi_cipher's)."""
    return getattr(ciphermod, "__name__", "").rpartition(".")[2] == "AES"


def new(key: Any, msg: Any = None, ciphermod: ModuleType | None = None,
        cipher_params: dict[str, Any] | None = None, mac_len: int | None = None,
        update_after_digest: bool = False) -> Any:
    """Create a new CMAC object, as ``Crypto.Hash.CMAC.new``.

    Args:
        key: the cipher key (16, 24 or 32 bytes for AES), or a
            :class:`~_kcapi.keyring.KeyringKey` holding an AES key (kernel only).
        msg: the first chunk of the message (optional).
        ciphermod: the block cipher module; AES when omitted.
        cipher_params: parameters for the cipher (only ``use_aesni`` for AES).
        mac_len: the tag length, 4..16 (default 16).
        update_after_digest: allow update() after digest().

    Returns:
        A :class:`CMAC` served by the kernel, or PyCryptodome's CMAC object where
        the policy lets software serve (or the cipher is not AES).

    Raises:
        ValueError, TypeError: PyCryptodome's errors for bad arguments.
        KernelUnavailableError: under the ``kernel`` policy, when the kernel lacks ``cmac(aes)``;
            for a keyring key whenever the kernel cannot serve (``keyring-needs-kernel``).
        ValueError: the kernel refused a keyring key (its type or size).
    """
    block_size = _BLOCK_SIZE if ciphermod is None else ciphermod.block_size
    params = {} if cipher_params is None else dict(cipher_params)
    if mac_len is None:
        mac_len = block_size
    if mac_len < 4:
        raise ValueError("MAC tag length must be at least 4 bytes long")
    if mac_len > block_size:
        raise ValueError("MAC tag length cannot be larger than a cipher block (%d) bytes"
                         % block_size)
    in_keyring = isinstance(key, KeyringKey)
    if ciphermod is not None and not _is_aes(ciphermod):
        if in_keyring:
            label = f"CMAC over {getattr(ciphermod, '__name__', ciphermod)}"
            raise keyring_needs_kernel(key, label, f"the kernel serves {_KERNEL_NAME} only")
        return _software_cmac(key, msg, ciphermod, cipher_params, mac_len, update_after_digest)
    if not in_keyring:
        bytes(key)  # PyCryptodome copies the key first, with bytes()'s errors
    key_bytes = check_aes_key(key, params, "ECB")
    # Never None for a keyring key: the kernel serves it or the error says why not.
    tfm = transform.kernel_or_none("hash", _KERNEL_NAME, key_bytes)
    if tfm is None:
        from Crypto.Cipher import AES
        from Crypto.Hash import CMAC as _CMAC

        def make() -> Any:
            return _CMAC.new(key, msg, AES, cipher_params, mac_len, update_after_digest)

        return fallback(make, _KERNEL_NAME, [("hash", _KERNEL_NAME)])
    mac = CMAC(KernelHash(tfm, _KERNEL_NAME, _BLOCK_SIZE, _BLOCK_SIZE), mac_len,
               update_after_digest)
    if msg:
        mac.update(msg)
    return mac


def _software_cmac(key: Any, msg: Any, ciphermod: ModuleType, cipher_params: Any,
                   mac_len: int, update_after_digest: bool) -> Any:
    """PyCryptodome's CMAC over a cipher module other than AES."""
    from Crypto.Hash import CMAC as _CMAC

    if (policy.get_backend() == policy.KERNEL
            and not getattr(ciphermod, "__name__", "").startswith("kcapi_cipher.")):
        raise no_equivalent(f"CMAC over {getattr(ciphermod, '__name__', ciphermod)}",
                            "the kernel serves cmac(aes); other cipher modules are software")
    return _CMAC.new(key, msg, ciphermod, cipher_params, mac_len, update_after_digest)
