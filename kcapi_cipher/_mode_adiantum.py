"""Adiantum mode: the kernel's ``adiantum(xchacha12,aes)`` / ``adiantum(xchacha20,aes)`` only.

``AES.new(key, AES.MODE_ADIANTUM, tweak, rounds=12)`` is a kcapi extension
(PyCryptodome has no Adiantum): Adiantum (Crowley, Biggers, 2018) encrypts one
message of 16 bytes or more with XChaCha (12 rounds, as the paper defines it,
or 20 with ``rounds=20``), AES-256 on one block and an NH + Poly1305 hash, all
keyed from one 32-byte key.  The tweak is 32 bytes and advances by one per
call (see :mod:`._wide_block` for the shared rules).  Linux 7.3 lets every
process bind both instances under its default ``af_alg_restrict``.

There is no software fallback: PyCryptodome has no XChaCha12 and no NH, and
neither could be written here faithfully at a usable speed.  A kernel that
cannot serve it, or the ``software`` policy, raises
:class:`~_kcapi.errors.KernelUnavailableError` under every policy, saying why.
"""

from __future__ import annotations

from typing import Any

from _kcapi.errors import KernelUnavailableError
from _kcapi.names import ADIANTUM
from _kcapi.skcipher import KernelSkcipher

from . import _routing
from ._wide_block import TWEAK_SIZE, WideBlockMode, parse

__all__ = ["create", "KEY_SIZE", "ROUNDS"]

#: Adiantum's one key (the XChaCha key, from which the AES and hash keys are derived).
KEY_SIZE = 32
#: The XChaCha rounds the kernel has an instance for.
ROUNDS = tuple(ADIANTUM)
_LABEL = "Adiantum"
_NO_SOFTWARE = ("there is no software Adiantum to fall back on (PyCryptodome has neither "
                "XChaCha12 nor NH)")


def create(algorithm: str, key: Any, *args: Any, **kwargs: Any) -> WideBlockMode:
    """Create an Adiantum object, as ``AES.new(key, AES.MODE_ADIANTUM, tweak, rounds=12)``.

    Args:
        algorithm: ``'aes'`` (Adiantum's block cipher is AES-256).
        key: 32 bytes, or a :class:`~_kcapi.keyring.KeyringKey` holding them.
        *args: at most one, the tweak.
        **kwargs: ``iv`` or ``IV``, the tweak (32 bytes), if not positional;
            ``rounds``: 12 (default) or 20, XChaCha's rounds.

    Returns:
        A :class:`._wide_block.WideBlockMode` served by the kernel's ``adiantum(...)``.

    Raises:
        TypeError: a missing tweak, unknown or too many arguments.
        TypeError: rounds not an integer.
        ValueError: a bad key or tweak length, or rounds other than 12 and 20.
        KernelUnavailableError: the kernel cannot serve it (there is no fallback).
    """
    if algorithm != "aes":
        raise ValueError("Adiantum mode is defined over AES")
    raw, tweak, options = parse(_LABEL, key, args, kwargs, (KEY_SIZE,),
                                "Incorrect Adiantum key length (%d bytes): it is 32 bytes",
                                extra=("rounds",))
    rounds = options.get("rounds", 12)
    if isinstance(rounds, bool) or not isinstance(rounds, int):
        raise TypeError(f"Adiantum rounds must be an integer (12 or 20), not {type(rounds)}")
    if rounds not in ADIANTUM:
        raise ValueError(f"Adiantum rounds must be 12 or 20, not {rounds!r}")
    name = ADIANTUM[rounds]
    tfm = _routing.kernel_transform(name, raw)
    if tfm is None:
        raise _without_software(_routing.kernel_only(f"AES MODE_ADIANTUM ({name})", name))
    return WideBlockMode(KernelSkcipher(tfm, 16, TWEAK_SIZE, chains=False), tweak, _LABEL, name)


def _without_software(exc: KernelUnavailableError) -> KernelUnavailableError:
    """``exc`` (why the kernel does not serve) with why software cannot either."""
    text = exc.strerror if exc.errno is not None else (exc.args[0] if exc.args else "")
    return KernelUnavailableError(exc.errno, f"{text}; {_NO_SOFTWARE}", reason=exc.reason,
                                  algorithm=exc.algorithm, step=exc.step)
