"""Who serves a new cipher object -- a kernel transform or PyCryptodome -- and why.

The decision and its reason are :mod:`_kcapi.routing`'s; this module applies
them to PyCryptodome's objects.  The software fallback *is* PyCryptodome:
where the routing sends an object to software, the caller gets PyCryptodome's
own object, built from the user's original arguments.  Why it was not the
kernel is remembered per object (weakly), for :func:`backend_info`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from _kcapi import routing
from _kcapi.errors import KernelUnavailableError, keyring_needs_kernel
from _kcapi.keyring import KeyringKey
from _kcapi.transform import Transform
from _kcapi.backend_info import BackendInfo

from . import _params, _reference

SKCIPHER = "skcipher"

_software_info: weakref.WeakKeyDictionary[Any, BackendInfo] = weakref.WeakKeyDictionary()

#: PyCryptodome mode classes -> kernel template, to describe objects made elsewhere.
_TEMPLATES = {
    "EcbMode": "ecb({})", "CbcMode": "cbc({})", "CfbMode": "cfb({})", "OfbMode": "ofb({})",
    "CtrMode": "ctr({})", "GcmMode": "gcm({})", "CcmMode": "ccm({})", "XtsMode": "xts({})",
}


#: Keys that stand in for a keyring key while PyCryptodome checks the other
#: arguments of ``new()`` (for its exact errors).  Never used to encrypt: an
#: object built from one is discarded (see :func:`outside`).  The TDES one is a
#: valid AES-192 key too.
_STAND_INS = {"aes": bytes(range(1, 48, 2)), "des3": bytes(range(1, 48, 2)),
              "chacha20": bytes(range(1, 64, 2)), "aes-xts": bytes(range(1, 64, 2))}


def keyring_split(key: Any, algorithm: str) -> tuple[Any, KeyringKey | None]:
    """Separate a keyring key from the arguments PyCryptodome checks.

    Args:
        key: the ``key`` argument of ``new()``.
        algorithm: ``'aes'``, ``'des3'`` or ``'chacha20'``; ``'aes-xts'`` for XTS
            (whose key is two AES keys).

    Returns:
        ``(key, None)`` for any other key; for a :class:`~_kcapi.keyring.KeyringKey`,
        ``(a stand-in key for the argument checks, the keyring key)``: the
        caller keys the kernel with the keyring key, never with the stand-in.
    """
    if isinstance(key, KeyringKey):
        return _STAND_INS[algorithm], key
    return key, None


def keyring_transform(kernel_name: str, key: KeyringKey) -> Transform:
    """The skcipher transform keyed from the kernel keyring: never a software fallback.

    The key's size is checked by the kernel only (the key is never read here).

    Raises:
        KernelUnavailableError: ``reason='keyring-needs-kernel'`` where the kernel
            cannot serve (no AF_ALG, missing template, the ``software`` policy), or
            ``'needs-newer-kernel'`` before Linux 6.2.
        ValueError: the kernel refused the key (wrong type or size).
        PermissionError: the key lacks search permission.
        OSError: another keyring error (e.g. EKEYREVOKED).
    """
    try:
        tfm = routing.kernel_or_none(SKCIPHER, kernel_name, key)
    except KernelUnavailableError:
        raise
    except ValueError as exc:
        if "des3_ede" not in kernel_name:
            raise
        raise ValueError(f"{exc}. A TDES keyring key must be 24 bytes (K1 || K2 || K3): a "
                         "2-key key K1 || K2 is expanded to K1 || K2 || K1 in user space, "
                         "which cannot be done with a key this process never reads; store "
                         "K1 || K2 || K1 in the keyring instead") from None
    assert tfm is not None  # kernel_or_none never answers None for a keyring key
    return tfm


def kernel_transform(kernel_name: str, key: bytes | KeyringKey) -> Transform | None:
    """The keyed transform under the policy, or ``None`` when software must serve.

    A keyring key is never ``None`` (see :func:`keyring_transform`).

    Raises:
        KernelUnavailableError: under the ``kernel`` policy, when the kernel refuses,
            including a key the kernel rejects (e.g. a 2-key TDES key in FIPS mode).
    """
    if isinstance(key, KeyringKey):
        return keyring_transform(kernel_name, key)
    return routing.keyed_or_none(SKCIPHER, kernel_name, key, "the kernel refuses this key")


def software_object(make: Callable[[], Any], kernel_name: str, reason: str = "") -> Any:
    """PyCryptodome's object from ``make()``, remembered as served by software.

    Args:
        make: builds the object from the user's original arguments.
        kernel_name: the kernel algorithm that would have served it ('' if none).
        reason: why not the kernel ('' to use the policy's or the probe's reason).
    """
    obj = make()
    if not reason:
        reason = software_reason(kernel_name)
    _remember(obj, kernel_name, reason)
    return obj


@dataclass(frozen=True)
class KernelPath:
    """Arguments a parser found the kernel path takes.

    Attributes:
        key: the key bytes as the kernel takes them (unused with a keyring key).
        kernel_name: the skcipher that serves the object.
        build: makes the object from the keyed transform and the key bytes
            (``None`` for a keyring key: this process never reads it).
    """

    key: bytes
    kernel_name: str
    build: Callable[[Transform, bytes | None], Any]


@dataclass(frozen=True)
class Outside:
    """Arguments a parser found outside the kernel path (invalid ones included).

    Attributes:
        detail: why the kernel path does not take them (see :func:`outside`).
        qualifier: what to add to the mode's name in a refusal (e.g. ``" with segment_size=8"``).
    """

    detail: str = "arguments outside what the kernel path takes"
    qualifier: str = ""


def serve(make: Callable[[], Any], python_name: str, kernel_name: str,
          keyring: KeyringKey | None, found: KernelPath | Outside) -> Any:
    """The object for parsed arguments: the kernel's, PyCryptodome's, or a refusal.

    Args:
        make: builds PyCryptodome's object from the caller's arguments.
        python_name: the mode as the caller named it (e.g. ``'AES MODE_CBC'``).
        kernel_name: the skcipher that would serve it, for :func:`outside`.
        keyring: the caller's keyring key, if any (it then keys the kernel).
        found: what the mode's parser answered.

    Raises:
        TypeError, ValueError: PyCryptodome's errors for bad arguments.
        KernelUnavailableError: under the ``kernel`` policy (or with a keyring
            key), when the kernel cannot serve.
    """
    if isinstance(found, Outside):
        return outside(make, python_name + found.qualifier, kernel_name, found.detail, keyring)
    tfm = kernel_transform(found.kernel_name, keyring or found.key)
    if tfm is None:
        return software_object(make, found.kernel_name)
    return found.build(tfm, None if keyring is not None else found.key)


def outside(make: Callable[[], Any], python_name: str, kernel_name: str, detail: str,
            keyring: KeyringKey | None = None) -> Any:
    """Serve arguments the kernel path does not take: PyCryptodome's error, object, or a refusal.

    PyCryptodome runs first, so invalid arguments raise its exact error under
    every policy.  Valid arguments the kernel cannot serve get PyCryptodome's
    object (policies ``auto`` and ``software``) or, under ``kernel``,
    :class:`KernelUnavailableError` naming ``python_name`` and ``detail``.

    Args:
        make: builds PyCryptodome's object from the caller's arguments (with a
            keyring key, from a stand-in key: see :func:`keyring_split`).
        python_name: the mode as the caller named it, for the error.
        kernel_name: the kernel algorithm that would serve it ('' if none).
        detail: why the kernel path does not take the arguments.
        keyring: the caller's keyring key, if any: valid arguments then raise
            (no software can use that key), and ``make``'s object is discarded.

    Raises:
        KernelUnavailableError: under ``kernel``, or with a keyring key
            (``reason='keyring-needs-kernel'``), for valid arguments.
    """
    obj = make()
    if keyring is not None:
        del obj  # built from the stand-in key, only to check the other arguments
        raise keyring_needs_kernel(keyring, python_name, f"the kernel path does not take these "
                                   f"arguments ({detail})")
    refused = routing.software_refusal(python_name, detail)
    if refused is not None:
        raise refused
    _remember(obj, kernel_name, routing.no_kernel_reason(python_name, detail))
    return obj


def kernel_only(python_name: str, kernel_name: str) -> KernelUnavailableError:
    """The error for a kernel-only mode (Adiantum) that software cannot serve now."""
    return routing.kernel_only(python_name, SKCIPHER, kernel_name)


def software_reason(kernel_name: str) -> str:
    """Why software serves a new object instead of the skcipher ``kernel_name`` (never '')."""
    return routing.software_reason(SKCIPHER, kernel_name) or "the kernel did not serve it"


def _remember(obj: Any, kernel_name: str, reason: str) -> None:
    """Note, weakly, that software serves ``obj`` instead of ``kernel_name``, and why."""
    driver = f"{type(obj).__module__}.{type(obj).__qualname__}"
    info = BackendInfo("software", kernel_name, driver, 0, "software", reason)
    try:
        _software_info[obj] = info
    except TypeError:  # an object without weak references: nothing to remember
        pass


def reference(algorithm: str) -> Any:
    """PyCryptodome's factory module for ``algorithm`` ('aes', 'des3'): the software fallback."""
    return _reference.block_cipher(algorithm)


def normalized(make: Callable[[], Any], algorithm: str, key: Any, args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
    """The arguments of ``new()`` as the kernel path's parsers take them.

    Ordinary arguments are returned as they are.  Others (a memoryview of
    another format or shape, an ``array``...) are first given to PyCryptodome's
    constructor, ``make()``, which raises its exact error for what it refuses;
    what it accepts is returned as the bytes it used (see
    :func:`._params.normalize`), so that the kernel serves it alike.
    """
    if _params.ordinary(key, args, kwargs):
        return key, args, kwargs
    make()
    return _params.normalize(algorithm, key, args, kwargs)


def backend_info(obj: Any) -> BackendInfo:
    """Which implementation serves a cipher object of ``kcapi_cipher`` (or PyCryptodome) and why.

    Returns:
        Kernel objects: the kernel algorithm, driver, priority and implementation
        kind.  PyCryptodome objects: ``backend='software'``, the class serving
        it, and the reason the kernel did not.
    """
    info = getattr(obj, "backend_info", None)
    if isinstance(info, BackendInfo):
        return info
    try:
        found = _software_info.get(obj)
    except TypeError:
        found = None
    if found is not None:
        return found
    kind = type(obj).__name__
    template = _TEMPLATES.get(kind)
    block = getattr(obj, "block_size", 0)
    if template is not None and block in (8, 16):
        kernel_name = template.format("aes" if block == 16 else "des3_ede")
    elif kind == "ChaCha20Cipher":
        kernel_name = "xchacha20" if len(getattr(obj, "nonce", b"")) == 24 else "chacha20"
    else:
        kernel_name = ""
    driver = f"{type(obj).__module__}.{type(obj).__qualname__}"
    reason = routing.why_not(SKCIPHER, kernel_name) if kernel_name else ""
    if not reason:
        reason = "created as a software object (not through kcapi_cipher)"
    return BackendInfo("software", kernel_name, driver, 0, "software", reason)
