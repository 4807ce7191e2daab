"""Output Feedback (OFB) mode, served by the kernel's ``ofb(<cipher>)`` (removed in Linux 6.8)."""

from __future__ import annotations

import os
from typing import Any

from _kcapi.names import skcipher_name
from _kcapi.skcipher import Advance, KernelSkcipher

from . import _params, _routing
from ._kernel_mode import StreamMode, xor

__all__ = ["OfbMode", "create"]

MODE = 5


def _after(iv: bytes, last_in: bytes, last_out: bytes, nbytes: int) -> bytes:
    return xor(last_in, last_out)  # the last keystream block feeds back


class OfbMode(StreamMode):
    """*Output FeedBack (OFB)*, as ``Crypto.Cipher._mode_ofb.OfbMode``.

    Attributes:
        iv: the IV the object was created with (also ``IV``); it does not change.
        block_size: the cipher's block size.
    """

    __slots__ = ("iv", "IV")

    _KIND = "ofb"

    def __init__(self, engine: KernelSkcipher, block_size: int, iv: bytes):
        self._init_stream(engine, block_size, iv, block_size)
        self.iv = iv
        self.IV = iv

    def _advance(self, encrypt: bool) -> Advance:
        return _after


def create(algorithm: str, key: Any, *args: Any, **kwargs: Any) -> Any:
    """Create an OFB cipher object, as ``<cipher>.new(key, MODE_OFB, *args, **kwargs)``.

    Args:
        algorithm: ``'aes'`` or ``'des3'``.
        key: the cipher key, or a :class:`~_kcapi.keyring.KeyringKey` (kernel only).
        *args: at most one, the IV.
        **kwargs: ``iv`` or ``IV`` (random when omitted), ``use_aesni`` (AES).

    Returns:
        An :class:`OfbMode` served by the kernel, or PyCryptodome's object where
        the backend policy lets software serve (a kernel without ``ofb``).

    Raises:
        TypeError, ValueError: PyCryptodome's errors for bad arguments.
        KernelUnavailableError: under the ``kernel`` policy, when the kernel cannot serve.
    """
    name = skcipher_name("ofb", algorithm)
    key, keyring = _routing.keyring_split(key, algorithm)

    def make() -> Any:
        return _routing.reference(algorithm).new(key, MODE, *args, **kwargs)

    # The arguments as the kernel path reads them (make() keeps the caller's own).
    used_key, used_args, used_kwargs = _routing.normalized(make, algorithm, key, args, kwargs)

    size = _params.block_size(algorithm)
    parsed = _params.iv_mode_args(algorithm, MODE, used_key, used_args, used_kwargs)
    if parsed is None or parsed.rest:
        return _routing.outside(make, f"{algorithm.upper()} MODE_OFB", name,
                                "arguments outside what the kernel path takes", keyring)
    tfm = _routing.kernel_transform(name, keyring or _params.kernel_key(algorithm, parsed.key))
    if tfm is None:
        return _routing.software(make, name)
    iv = parsed.iv if parsed.iv is not None else os.urandom(size)
    return OfbMode(KernelSkcipher(tfm, size, size), size, iv)
