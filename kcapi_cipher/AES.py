"""AES, as ``Crypto.Cipher.AES``, served by the Linux kernel crypto API.

``from kcapi_cipher import AES`` replaces ``from Crypto.Cipher import AES``:
``AES.new(key, mode, *args, **kwargs)`` takes PyCryptodome's arguments and
returns an object with PyCryptodome's API.

Kernel-served modes (each where the kernel has its template and the policy allows):
ECB, CBC, CTR, CFB (128-bit segments), OFB, GCM, CCM, and the kcapi
extensions :data:`MODE_XTS` (kernel only, see :mod:`kcapi_cipher._mode_xts`),
:data:`MODE_HCTR2` (kernel, or HCTR2 on PyCryptodome's AES where software may
serve: :mod:`kcapi_cipher._mode_hctr2`) and :data:`MODE_ADIANTUM` (kernel only:
:mod:`kcapi_cipher._mode_adiantum`); the last two are the wide-block modes of
:mod:`kcapi_cipher._wide_block`.
Modes the kernel lacks -- OpenPGP, EAX, SIV, OCB, KW, KWP, CFB with other
segment sizes -- are PyCryptodome's objects under the ``auto`` and
``software`` policies, and a :class:`~_kcapi.errors.KernelUnavailableError`
under ``kernel``.  ``kcapi_cipher.backend_info(obj)`` tells who serves an object.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from _kcapi.errors import keyring_needs_kernel
from _kcapi.keyring import KeyringKey

from . import _routing

__all__ = ["new", "block_size", "key_size", "MODE_ECB", "MODE_CBC", "MODE_CFB", "MODE_OFB",
           "MODE_CTR", "MODE_OPENPGP", "MODE_CCM", "MODE_EAX", "MODE_SIV", "MODE_GCM",
           "MODE_OCB", "MODE_KW", "MODE_KWP", "MODE_XTS", "MODE_HCTR2", "MODE_ADIANTUM"]

MODE_ECB = 1  #: Electronic Code Book
MODE_CBC = 2  #: Cipher-Block Chaining
MODE_CFB = 3  #: Cipher Feedback
MODE_OFB = 5  #: Output Feedback
MODE_CTR = 6  #: Counter mode
MODE_OPENPGP = 7  #: OpenPGP mode (software only)
MODE_CCM = 8  #: Counter with CBC-MAC
MODE_EAX = 9  #: EAX (software only)
MODE_SIV = 10  #: Synthetic IV (software only)
MODE_GCM = 11  #: Galois/Counter Mode
MODE_OCB = 12  #: Offset Code Book (software only)
MODE_KW = 13  #: Key Wrap (software only)
MODE_KWP = 14  #: Key Wrap with Padding (software only)
#: XEX-based tweaked codebook with ciphertext stealing (IEEE 1619): a kcapi
#: extension served only by the kernel.  PyCryptodome numbers its modes 1..14;
#: kernel-only modes take numbers from 101 up, so they never collide with its.
MODE_XTS = 101
#: HCTR2 (a tweakable wide-block cipher over AES, 32-byte tweak): a kcapi extension,
#: the kernel's ``hctr2(aes)`` or the same construction in software.
MODE_HCTR2 = 102
#: Adiantum (XChaCha12 or, with ``rounds=20``, XChaCha20 + AES-256 + NH/Poly1305;
#: 32-byte key and tweak): a kcapi extension served only by the kernel.
MODE_ADIANTUM = 103

#: Size of a data block (in bytes).
block_size: int = 16
#: The valid sizes of a key (in bytes).
key_size: tuple[int, int, int] = (16, 24, 32)

#: Mode -> the kcapi_cipher module whose ``create("aes", key, *args, **kwargs)`` serves it.
_MODULES = {
    MODE_ECB: "_mode_ecb", MODE_CBC: "_mode_cbc", MODE_CFB: "_mode_cfb",
    MODE_OFB: "_mode_ofb", MODE_CTR: "_mode_ctr", MODE_CCM: "_mode_ccm",
    MODE_GCM: "_mode_gcm", MODE_XTS: "_mode_xts", MODE_HCTR2: "_mode_hctr2",
    MODE_ADIANTUM: "_mode_adiantum",
}

#: Modes only PyCryptodome has.
_SOFTWARE_ONLY = {
    MODE_OPENPGP: "MODE_OPENPGP", MODE_EAX: "MODE_EAX", MODE_SIV: "MODE_SIV",
    MODE_OCB: "MODE_OCB", MODE_KW: "MODE_KW", MODE_KWP: "MODE_KWP",
}


def new(key: Any, mode: int, *args: Any, **kwargs: Any) -> Any:
    """Create a new AES cipher object, as ``Crypto.Cipher.AES.new``.

    Args:
        key: 16, 24 or 32 bytes (``MODE_SIV``: 32, 48 or 64; ``MODE_XTS``: two
            AES keys, 32, 48 or 64 bytes; ``MODE_ADIANTUM``: 32 bytes); or a
            :class:`~_kcapi.keyring.KeyringKey` holding them, for the kernel-served modes (the kernel checks its size;
            GCM then takes whole messages only, see :mod:`._mode_gcm`).
        mode: a ``MODE_*`` constant.
        *args: the IV or nonce, positionally, where PyCryptodome takes it.
        **kwargs: the mode's parameters, as PyCryptodome names them (``iv``,
            ``IV``, ``nonce``, ``segment_size``, ``mac_len``, ``msg_len``,
            ``assoc_len``, ``initial_value``, ``counter``, ``use_aesni``, ``threads``;
            ``rounds`` for ``MODE_ADIANTUM``).

    Returns:
        A cipher object: kernel-served where the kernel and the policy allow,
        otherwise PyCryptodome's own.

    Raises:
        TypeError, ValueError: PyCryptodome's errors for bad arguments
            (``ValueError("Mode not supported")`` for an unknown mode).
        KernelUnavailableError: under the ``kernel`` policy, when the kernel cannot
            serve the mode; for ``MODE_XTS``, ``MODE_ADIANTUM`` and keyring keys
            whenever it cannot (``reason='keyring-needs-kernel'``: no software can
            use a keyring key).
    """
    try:
        module = _MODULES.get(mode)
        label = _SOFTWARE_ONLY.get(mode)
    except TypeError:  # an unhashable mode: PyCryptodome's error below
        module = label = None
    if module is not None:
        serving = importlib.import_module(f"{__package__}.{module}")
        return serving.create("aes", key, *args, **kwargs)

    def make() -> Any:
        return _routing.reference("aes").new(key, mode, *args, **kwargs)

    if label is not None:
        if isinstance(key, KeyringKey):
            raise keyring_needs_kernel(key, f"AES {label}", "a mode the kernel crypto API lacks")
        return _routing.outside(make, f"AES {label}", "", "a mode the kernel crypto API lacks")
    return make()  # raises PyCryptodome's ValueError("Mode not supported")


def _derive_Poly1305_key_pair(key: Any, nonce: Any) -> tuple[Any, bytes, Any]:
    """Derive ``(r, s, nonce)`` for ``Crypto.Hash.Poly1305`` with ``cipher=AES``.

    As PyCryptodome's: ``s`` is the nonce encrypted (ECB) under the key's first
    half; a new 16-byte nonce when ``nonce`` is ``None``.

    Raises:
        KernelUnavailableError: for a keyring key: ``(r, s)`` would be computed in
            user space, where PyCryptodome's Poly1305 runs.
    """
    if isinstance(key, KeyringKey):
        raise keyring_needs_kernel(key, "Poly1305 with AES", "Poly1305 runs in user space")
    if len(key) != 32:
        raise ValueError("Poly1305 with AES requires a 32-byte key")
    if nonce is None:
        nonce = os.urandom(16)
    elif len(nonce) != 16:
        raise ValueError("Poly1305 with AES requires a 16-byte nonce")
    s = new(key[:16], MODE_ECB).encrypt(nonce)
    return key[16:], s, nonce


def __getattr__(name: str) -> Any:
    # Attributes PyCryptodome's module has beyond the public API (code and its
    # tests reach them): PyCryptodome's own.
    from . import _reference

    return _reference.module_attribute(_reference.AES, __name__, name)
