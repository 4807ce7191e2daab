"""Triple DES (TDES, EDE), as ``Crypto.Cipher.DES3``, served by the kernel's ``des3_ede``.

``from kcapi_cipher import DES3`` replaces ``from Crypto.Cipher import DES3``.
Keys are checked as PyCryptodome checks them (16 or 24 bytes, parity bits
ignored, no key that degenerates to single DES); a 2-key key ``K1 || K2`` is
given to the kernel as ``K1 || K2 || K1``.  Kernel-served modes: ECB, CBC,
CTR, CFB (64-bit segments) and OFB; OpenPGP and EAX (and CFB with other
segment sizes) are PyCryptodome's, or an error under the ``kernel`` policy.

A keyring key (:class:`~_kcapi.keyring.KeyringKey`) is never read here: it
must hold the 24 bytes the kernel takes (a 2-key key stored as K1 || K2 || K1),
and only a FIPS kernel refuses one that degenerates to single DES.
"""

from __future__ import annotations

from typing import Any

from . import _factory
from ._params import adjust_key_parity
from ._modes import MODE_CBC, MODE_CFB, MODE_CTR, MODE_EAX, MODE_ECB, MODE_OFB, MODE_OPENPGP

__all__ = ["new", "adjust_key_parity", "block_size", "key_size", "MODE_ECB", "MODE_CBC",
           "MODE_CFB", "MODE_OFB", "MODE_CTR", "MODE_OPENPGP", "MODE_EAX"]

#: Size of a data block (in bytes).
block_size: int = 8
#: The valid sizes of a key (in bytes).
key_size: tuple[int, int] = (16, 24)

#: The modes of :data:`._factory.MODES` TDES has.
_MODES = frozenset((MODE_ECB, MODE_CBC, MODE_CFB, MODE_OFB, MODE_CTR, MODE_OPENPGP, MODE_EAX))


def new(key: Any, mode: int, *args: Any, **kwargs: Any) -> Any:
    """Create a new Triple DES cipher object, as ``Crypto.Cipher.DES3.new``.

    Args:
        key: 16 or 24 bytes (parity bits are ignored); or a
            :class:`~_kcapi.keyring.KeyringKey` of 24 bytes, K1 || K2 || K3 (the
            kernel checks its size; a 2-key key must be stored as K1 || K2 || K1).
        mode: a ``MODE_*`` constant.
        *args: the IV, positionally, where PyCryptodome takes it.
        **kwargs: the mode's parameters, as PyCryptodome names them (``iv``, ``IV``,
            ``nonce``, ``segment_size``, ``initial_value``, ``counter``, ...).

    Returns:
        A cipher object: kernel-served where the kernel and the policy allow,
        otherwise PyCryptodome's own.

    Raises:
        TypeError, ValueError: PyCryptodome's errors for bad arguments.
        KernelUnavailableError: under the ``kernel`` policy, when the kernel cannot serve;
            with a keyring key whenever it cannot (``reason='keyring-needs-kernel'``).
    """
    return _factory.new("des3", _MODES, key, mode, args, kwargs)


def __getattr__(name: str) -> Any:
    # Attributes PyCryptodome's module has beyond the public API (code and its
    # tests reach them): PyCryptodome's own.
    from . import _reference

    return _reference.module_attribute(_reference.DES3, __name__, name)
