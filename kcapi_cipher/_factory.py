"""``new(key, mode, *args, **kwargs)`` of the block ciphers (AES, TDES), from one table.

:data:`MODES` maps each mode number to how it is served:

* the block modes (ECB, CBC, CFB, OFB, CTR, XTS) have a parser (``parse`` in their
  module) run by :func:`new`'s one skeleton: separate a keyring key, build
  PyCryptodome's object only where it decides (its exact errors, or the
  software fallback), parse the arguments, then :func:`._routing.serve`;
* the modes with constructors of their own (GCM, CCM, HCTR2, Adiantum)
  have their module's ``create(algorithm, key, *args, **kwargs)``;
* the modes only PyCryptodome has are its objects, or a refusal under the
  ``kernel`` policy and for keyring keys.

A mode a cipher lacks, or no mode at all, gets PyCryptodome's own error
(``ValueError("Mode not supported")``), from PyCryptodome's ``new()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from _kcapi.errors import keyring_needs_kernel
from _kcapi.keyring import KeyringKey
from _kcapi.names import skcipher_name

from . import (_mode_adiantum, _mode_ccm, _mode_cfb, _mode_ctr, _mode_ecb, _mode_gcm, _mode_hctr2,
               _mode_xts, _params, _routing)
from ._kernel_mode import KernelCipher, iv_mode_object
from ._mode_cbc import CbcMode
from ._mode_ofb import OfbMode
from ._modes import (MODE_ADIANTUM, MODE_CBC, MODE_CCM, MODE_CFB, MODE_CTR, MODE_EAX, MODE_ECB,
                     MODE_GCM, MODE_GCM_SIV, MODE_HCTR2, MODE_KW, MODE_KWP, MODE_OCB, MODE_OFB,
                     MODE_OPENPGP, MODE_SIV, MODE_XTS)

#: A block mode's parser: ``(algorithm, mode, key, args, kwargs)`` -> what the kernel path takes.
Parser = Callable[[str, int, Any, tuple[Any, ...], dict[str, Any]],
                  "_routing.KernelPath | _routing.Outside"]
#: A mode's own constructor: ``(algorithm, key, *args, **kwargs)`` -> a cipher object.
Creator = Callable[..., Any]

#: Why the modes only PyCryptodome has are not the kernel's.
_NOT_IN_KERNEL = "a mode the kernel crypto API lacks"


def _iv_mode(template: str, mode_class: type[KernelCipher]) -> Parser:
    """The parser of an IV mode with no option of its own (CBC, OFB).

    It takes the IV (positional, ``iv`` or ``IV``; random when omitted) and,
    for AES, ``use_aesni`` (ignored).
    """
    def parse(algorithm: str, mode: int, key: Any, args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> _routing.KernelPath | _routing.Outside:
        parsed = _params.iv_mode_args(algorithm, mode, key, args, kwargs)
        if parsed is None or parsed.rest:
            return _routing.Outside()
        return _routing.KernelPath(parsed.key, skcipher_name(template, algorithm),
                                   lambda tfm, _key: iv_mode_object(mode_class, tfm, algorithm,
                                                              parsed.iv))
    return parse


@dataclass(frozen=True)
class Mode:
    """How one mode is served.

    Attributes:
        label: the mode's constant name (``'MODE_CBC'``), for errors and reasons.
        template: the kernel template serving it (``'cbc'``; '' for software-only modes).
        parse: a block mode's parser, run by :func:`new`'s skeleton.
        create: a mode's own constructor (when ``parse`` is ``None``).
        stand_in: the key kind whose stand-in replaces a keyring key while
            PyCryptodome checks the other arguments ('' for the cipher's own).
    """

    label: str
    template: str = ""
    parse: Parser | None = None
    create: Creator | None = None
    stand_in: str = ""


MODES: dict[int, Mode] = {
    MODE_ECB: Mode("MODE_ECB", "ecb", parse=_mode_ecb.parse),
    MODE_CBC: Mode("MODE_CBC", "cbc", parse=_iv_mode("cbc", CbcMode)),
    MODE_CFB: Mode("MODE_CFB", "cfb", parse=_mode_cfb.parse),
    MODE_OFB: Mode("MODE_OFB", "ofb", parse=_iv_mode("ofb", OfbMode)),
    MODE_CTR: Mode("MODE_CTR", "ctr", parse=_mode_ctr.parse),
    MODE_CCM: Mode("MODE_CCM", "ccm", create=_mode_ccm.create),
    MODE_GCM: Mode("MODE_GCM", "gcm", create=_mode_gcm.create),
    MODE_XTS: Mode("MODE_XTS", "xts", parse=_mode_xts.parse, stand_in="aes-xts"),
    MODE_HCTR2: Mode("MODE_HCTR2", "hctr2", create=_mode_hctr2.create),
    MODE_ADIANTUM: Mode("MODE_ADIANTUM", "adiantum", create=_mode_adiantum.create),
    MODE_OPENPGP: Mode("MODE_OPENPGP"),
    MODE_EAX: Mode("MODE_EAX"),
    MODE_SIV: Mode("MODE_SIV"),
    MODE_OCB: Mode("MODE_OCB"),
    MODE_KW: Mode("MODE_KW"),
    MODE_KWP: Mode("MODE_KWP"),
    MODE_GCM_SIV: Mode("MODE_GCM_SIV"),
}


def new(algorithm: str, modes: frozenset[int], key: Any, mode: Any, args: tuple[Any, ...],
        kwargs: dict[str, Any]) -> Any:
    """``<cipher>.new(key, mode, *args, **kwargs)`` for ``algorithm`` ('aes', 'des3').

    Args:
        algorithm: the block cipher.
        modes: the modes of :data:`MODES` the cipher has (PyCryptodome's error for others).
        key, mode, args, kwargs: the caller's arguments.

    Returns:
        A cipher object: kernel-served where the kernel and the policy allow,
        otherwise PyCryptodome's own.

    Raises:
        TypeError, ValueError: PyCryptodome's errors for bad arguments.
        KernelUnavailableError: under the ``kernel`` policy (or with a keyring
            key), when the kernel cannot serve.
    """
    try:
        spec = MODES.get(mode) if mode in modes else None
    except TypeError:  # an unhashable mode: PyCryptodome's error below
        spec = None
    if spec is not None and spec.create is not None:
        return spec.create(algorithm, key, *args, **kwargs)
    if spec is None or spec.parse is None:
        return _software_only(algorithm, spec, key, mode, args, kwargs)
    label = f"{algorithm.upper()} {spec.label}"
    key, keyring = _routing.keyring_split(key, spec.stand_in or algorithm)
    make = _reference_new(algorithm, key, mode, args, kwargs)
    # The arguments as the parser reads them (make() keeps the caller's own).
    used_key, used_args, used_kwargs = _routing.normalized(make, algorithm, key, args, kwargs)
    found = spec.parse(algorithm, mode, used_key, used_args, used_kwargs)
    if isinstance(found, _routing.KernelPath):  # the key as the kernel takes it
        found = replace(found, key=_params.kernel_key(algorithm, found.key))
    return _routing.serve(make, label, skcipher_name(spec.template, algorithm), keyring, found)


def _software_only(algorithm: str, spec: Mode | None, key: Any, mode: Any,
                   args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """PyCryptodome's object for a mode only it has; its error for a mode it lacks too."""
    make = _reference_new(algorithm, key, mode, args, kwargs)
    if spec is None:
        return make()  # raises PyCryptodome's ValueError("Mode not supported")
    label = f"{algorithm.upper()} {spec.label}"
    if isinstance(key, KeyringKey):
        raise keyring_needs_kernel(key, label, _NOT_IN_KERNEL)
    return _routing.outside(make, label, "", _NOT_IN_KERNEL)


def _reference_new(algorithm: str, key: Any, mode: Any, args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> Callable[[], Any]:
    """A function building PyCryptodome's object from these arguments."""
    return lambda: _routing.reference(algorithm).new(key, mode, *args, **kwargs)
