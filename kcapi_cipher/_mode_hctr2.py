"""HCTR2 mode: the kernel's ``hctr2(aes)``, or the same construction in user space.

``AES.new(key, AES.MODE_HCTR2, tweak)`` is a kcapi extension (PyCryptodome has
no HCTR2): an AES key of 16, 24 or 32 bytes (or a
:class:`~_kcapi.keyring.KeyringKey` holding one), a 32-byte tweak, one data
unit of 16 bytes or more per call, the tweak advancing by one per call (see
:mod:`._wide_block` for the shared rules).  Linux 7.3 lets every process bind
``hctr2(aes)`` under its default ``af_alg_restrict``.

Where the kernel cannot serve and the policy lets software serve (``auto``
without ``hctr2(aes)``, or ``software``), the object runs
:class:`._hctr2.Hctr2` -- HCTR2 built on PyCryptodome's AES with POLYVAL in
Python -- with the same results, checked against the kernel's test vectors;
it is far slower than the kernel (POLYVAL runs in Python).  Under ``kernel`` a kernel
that cannot serve raises :class:`~_kcapi.errors.KernelUnavailableError`, and
so does a keyring key wherever the kernel cannot use it.
"""

from __future__ import annotations

from typing import Any

from _kcapi.names import skcipher_name
from _kcapi.skcipher import KernelSkcipher
from _kcapi.backend_info import BackendInfo

from . import _routing
from ._hctr2 import Hctr2
from ._wide_block import TWEAK_SIZE, SoftwareEngine, WideBlockMode, parse

__all__ = ["create", "KEY_SIZES"]

#: AES-128, AES-192 and AES-256 keys.
KEY_SIZES = (16, 24, 32)
_LABEL = "HCTR2"


def create(algorithm: str, key: Any, *args: Any, **kwargs: Any) -> WideBlockMode:
    """Create an AES-HCTR2 object, as ``AES.new(key, AES.MODE_HCTR2, tweak)``.

    Args:
        algorithm: ``'aes'`` (HCTR2 is defined over AES).
        key: 16, 24 or 32 bytes, or a :class:`~_kcapi.keyring.KeyringKey` holding them.
        *args: at most one, the tweak.
        **kwargs: ``iv`` or ``IV``, the tweak (32 bytes), if not positional.

    Returns:
        A :class:`._wide_block.WideBlockMode` served by the kernel's ``hctr2(aes)``,
        or by :class:`._hctr2.Hctr2` where the policy lets software serve.

    Raises:
        TypeError: a missing tweak, unknown or too many arguments.
        ValueError: a bad key or tweak length.
        KernelUnavailableError: under ``kernel`` (or for a keyring key), when the
            kernel cannot serve it.
    """
    if algorithm != "aes":
        raise ValueError("HCTR2 mode is defined over AES")
    raw, tweak, _ = parse(_LABEL, key, args, kwargs, KEY_SIZES,
                          "Incorrect AES key length (%d bytes)")
    name = skcipher_name("hctr2", algorithm)
    tfm = _routing.kernel_transform(name, raw)
    if tfm is not None:
        return WideBlockMode(KernelSkcipher(tfm, 16, TWEAK_SIZE, chains=False), tweak, _LABEL, name)
    assert isinstance(raw, bytes)  # a keyring key gets a transform or an error
    info = BackendInfo("software", name, f"{Hctr2.__module__}.{Hctr2.__qualname__}", 0,
                       "software", _routing.software_reason(name))
    return WideBlockMode(SoftwareEngine(Hctr2(raw), info), tweak, _LABEL, name)
