"""AES, as ``Crypto.Cipher.AES``, served by the Linux kernel crypto API.

``from kcapi_cipher import AES`` replaces ``from Crypto.Cipher import AES``:
``AES.new(key, mode, *args, **kwargs)`` takes PyCryptodome's arguments and
returns an object with PyCryptodome's API.

Kernel-served modes (each where the kernel has its template and the policy allows):
ECB, CBC, CTR, CFB (128-bit segments), OFB, GCM, CCM, XTS (PyCryptodome's
``MODE_XTS``, see :mod:`kcapi_cipher._mode_xts`), and the kcapi extensions
:data:`MODE_HCTR2` (kernel, or HCTR2 on PyCryptodome's AES where software may
serve: :mod:`kcapi_cipher._mode_hctr2`) and :data:`MODE_ADIANTUM` (kernel only:
:mod:`kcapi_cipher._mode_adiantum`); the last two are the wide-block modes of
:mod:`kcapi_cipher._wide_block`.
Modes the kernel lacks -- OpenPGP, EAX, SIV, OCB, KW, KWP, GCM-SIV, CFB with
other segment sizes -- are PyCryptodome's objects under the ``auto`` and
``software`` policies, and a :class:`~_kcapi.errors.KernelUnavailableError`
under ``kernel``.  ``kcapi_cipher.backend_info(obj)`` tells who serves an object.
"""

from __future__ import annotations

from typing import Any

from . import _factory
from ._params import check_poly1305_key, random_bytes
from ._modes import (MODE_ADIANTUM, MODE_CBC, MODE_CCM, MODE_CFB, MODE_CTR, MODE_EAX, MODE_ECB,
                     MODE_GCM, MODE_GCM_SIV, MODE_HCTR2, MODE_KW, MODE_KWP, MODE_OCB, MODE_OFB,
                     MODE_OPENPGP, MODE_SIV, MODE_XTS)

__all__ = ["new", "block_size", "key_size", "MODE_ECB", "MODE_CBC", "MODE_CFB", "MODE_OFB",
           "MODE_CTR", "MODE_OPENPGP", "MODE_CCM", "MODE_EAX", "MODE_SIV", "MODE_GCM",
           "MODE_OCB", "MODE_KW", "MODE_KWP", "MODE_GCM_SIV", "MODE_XTS", "MODE_HCTR2",
           "MODE_ADIANTUM"]

#: Size of a data block (in bytes).
block_size: int = 16
#: The valid sizes of a key (in bytes).
key_size: tuple[int, int, int] = (16, 24, 32)

#: The modes of :data:`._factory.MODES` AES has (all of them).
_MODES = frozenset(_factory.MODES)


def new(key: Any, mode: int, *args: Any, **kwargs: Any) -> Any:
    """Create a new AES cipher object, as ``Crypto.Cipher.AES.new``.

    Args:
        key: 16, 24 or 32 bytes (``MODE_SIV``: 32, 48 or 64; ``MODE_XTS``: two
            different AES keys, 32 or 64 bytes; ``MODE_GCM_SIV``: 16 or 32;
            ``MODE_ADIANTUM``: 32 bytes); or a
            :class:`~_kcapi.keyring.KeyringKey` holding them, for the kernel-served modes (the kernel checks its size;
            GCM then takes whole messages only, see :mod:`._mode_gcm`).
        mode: a ``MODE_*`` constant.
        *args: the IV or nonce, positionally, where PyCryptodome takes it.
        **kwargs: the mode's parameters, as PyCryptodome names them (``iv``,
            ``IV``, ``nonce``, ``segment_size``, ``mac_len``, ``msg_len``,
            ``assoc_len``, ``initial_value``, ``counter``, ``use_aesni``, ``threads``,
            ``tweak`` (``MODE_XTS``, keyword only); ``rounds`` for ``MODE_ADIANTUM``).

    Returns:
        A cipher object: kernel-served where the kernel and the policy allow,
        otherwise PyCryptodome's own.

    Raises:
        TypeError, ValueError: PyCryptodome's errors for bad arguments
            (``ValueError("Mode not supported")`` for an unknown mode).
        KernelUnavailableError: under the ``kernel`` policy, when the kernel cannot
            serve the mode; for ``MODE_ADIANTUM`` and keyring keys
            whenever it cannot (``reason='keyring-needs-kernel'``: no software can
            use a keyring key).
    """
    return _factory.new("aes", _MODES, key, mode, args, kwargs)


def _derive_Poly1305_key_pair(key: Any, nonce: Any) -> tuple[Any, bytes, Any]:
    """Derive ``(r, s, nonce)`` for ``Crypto.Hash.Poly1305`` with ``cipher=AES``.

    As PyCryptodome's: ``s`` is the nonce encrypted (ECB) under the key's first
    half; a new 16-byte nonce when ``nonce`` is ``None``.

    Raises:
        KernelUnavailableError: for a keyring key: ``(r, s)`` would be computed in
            user space, where PyCryptodome's Poly1305 runs.
    """
    check_poly1305_key(key, "AES")
    if nonce is None:
        nonce = random_bytes(16)
    elif len(nonce) != 16:
        raise ValueError("Poly1305 with AES requires a 16-byte nonce")
    s = new(key[:16], MODE_ECB).encrypt(nonce)
    return key[16:], s, nonce


def __getattr__(name: str) -> Any:
    # Attributes PyCryptodome's module has beyond the public API (code and its
    # tests reach them): PyCryptodome's own.
    from . import _reference

    return _reference.module_attribute(_reference.AES, __name__, name)
