"""Cipher Feedback (CFB) mode, served by the kernel's ``cfb(<cipher>)`` (full-block segments).

The kernel's ``cfb`` template is CFB with segments of a whole block (CFB-128
for AES, CFB-64 for TDES); PyCryptodome's default ``segment_size`` is 8 bits
(CFB-8), which software serves.  Linux 6.8 removed the template altogether.
"""

from __future__ import annotations

import os
from typing import Any

from _kcapi.names import skcipher_name
from _kcapi.skcipher import Advance, KernelSkcipher

from . import _params, _routing
from ._kernel_mode import StreamMode

__all__ = ["CfbMode", "create"]

MODE = 3


def _after_encrypt(iv: bytes, last_in: bytes, last_out: bytes, nbytes: int) -> bytes:
    return last_out  # the last ciphertext block feeds back


def _after_decrypt(iv: bytes, last_in: bytes, last_out: bytes, nbytes: int) -> bytes:
    return last_in


class CfbMode(StreamMode):
    """*Cipher FeedBack (CFB)* with full-block segments, as ``Crypto.Cipher._mode_cfb.CfbMode``.

    A call may end inside a block: the rest of that block's keystream is kept,
    and the block's ciphertext is collected until it is whole, since it is the
    feedback (the IV) for the next block.

    Attributes:
        iv: the IV the object was created with (also ``IV``); it does not change.
        block_size: the cipher's block size.
    """

    __slots__ = ("iv", "IV", "_segment")

    _KIND = "cfb"

    _STATE = StreamMode._STATE + ("_segment",)

    def __init__(self, engine: KernelSkcipher, block_size: int, iv: bytes):
        self._init_stream(engine, block_size, iv, block_size)
        self.iv = iv
        self.IV = iv
        self._segment = b""

    def _advance(self, encrypt: bool) -> Advance:
        return _after_encrypt if encrypt else _after_decrypt

    def _consumed(self, data_in: bytes, data_out: bytes, encrypt: bool) -> None:
        self._segment += data_out if encrypt else data_in
        if len(self._segment) == self.block_size:
            self._iv = self._segment
            self._segment = b""

    def _partial(self, data_in: bytes, data_out: bytes, encrypt: bool) -> None:
        self._segment = data_out if encrypt else data_in


def create(algorithm: str, key: Any, *args: Any, **kwargs: Any) -> Any:
    """Create a CFB cipher object, as ``<cipher>.new(key, MODE_CFB, *args, **kwargs)``.

    Args:
        algorithm: ``'aes'`` or ``'des3'``.
        key: the cipher key, or a :class:`~_kcapi.keyring.KeyringKey` (kernel only).
        *args: at most one, the IV.
        **kwargs: ``iv`` or ``IV`` (random when omitted), ``segment_size`` in bits
            (default 8; the kernel serves only a whole block: 128 for AES, 64 for
            TDES), ``use_aesni`` (AES).

    Returns:
        A :class:`CfbMode` served by the kernel, or PyCryptodome's object where
        the backend policy lets software serve (other segment sizes, a kernel
        without ``cfb``).

    Raises:
        TypeError, ValueError: PyCryptodome's errors for bad arguments.
        KernelUnavailableError: under the ``kernel`` policy, when the kernel cannot serve.
    """
    name = skcipher_name("cfb", algorithm)
    label = f"{algorithm.upper()} MODE_CFB"
    key, keyring = _routing.keyring_split(key, algorithm)

    def make() -> Any:
        return _routing.reference(algorithm).new(key, MODE, *args, **kwargs)

    # The arguments as the kernel path reads them (make() keeps the caller's own).
    used_key, used_args, used_kwargs = _routing.normalized(make, algorithm, key, args, kwargs)

    size = _params.block_size(algorithm)
    parsed = _params.iv_mode_args(algorithm, MODE, used_key, used_args, used_kwargs)
    segment = parsed.rest.pop("segment_size", 8) if parsed is not None else None
    if parsed is None or parsed.rest or type(segment) is not int:
        return _routing.outside(make, label, name, "arguments outside what the kernel path takes",
                                keyring)
    if segment != size * 8:
        return _routing.outside(make, f"{label} with segment_size={segment}", name,
                                f"the kernel's {name} has {size * 8}-bit segments only", keyring)
    tfm = _routing.kernel_transform(name, keyring or _params.kernel_key(algorithm, parsed.key))
    if tfm is None:
        return _routing.software(make, name)
    iv = parsed.iv if parsed.iv is not None else os.urandom(size)
    return CfbMode(KernelSkcipher(tfm, size, size), size, iv)
