"""Who serves a new cipher object -- a kernel transform or PyCryptodome -- and why.

The software fallback *is* PyCryptodome: where the policy and the kernel send
an object to software, the caller gets PyCryptodome's own object, built from
the user's original arguments.  Why it was not the kernel is remembered per
object (weakly), for :func:`backend_info`.
"""

from __future__ import annotations

import errno
import weakref
from collections.abc import Callable
from typing import Any

from _kcapi import policy, transform
from _kcapi.errors import REFUSED, KernelUnavailableError, no_equivalent
from _kcapi.transform import BackendInfo, Transform

SKCIPHER = "skcipher"

_software_info: weakref.WeakKeyDictionary[Any, BackendInfo] = weakref.WeakKeyDictionary()
#: Kernel algorithms whose key setting failed under ``auto`` (why software served).
_key_refusals: dict[str, str] = {}

#: PyCryptodome mode classes -> kernel template, to describe objects made elsewhere.
_TEMPLATES = {
    "EcbMode": "ecb({})", "CbcMode": "cbc({})", "CfbMode": "cfb({})", "OfbMode": "ofb({})",
    "CtrMode": "ctr({})", "GcmMode": "gcm({})", "CcmMode": "ccm({})",
}


def kernel_transform(kernel_name: str, key: bytes) -> Transform | None:
    """The keyed transform under the policy, or ``None`` when software must serve.

    Raises:
        KernelUnavailableError: under the ``kernel`` policy, when the kernel refuses,
            including a key the kernel rejects (e.g. a 2-key TDES key in FIPS mode).
    """
    chosen = policy.get_backend()
    if chosen == policy.SOFTWARE:
        return None
    found = probe(kernel_name)
    if isinstance(found, KernelUnavailableError):
        if chosen == policy.KERNEL:
            raise found.fresh()
        return None
    try:
        return transform.get(SKCIPHER, kernel_name, key)
    except KernelUnavailableError:
        if chosen == policy.KERNEL:
            raise
        return None
    except ValueError as exc:
        refused = KernelUnavailableError(errno.EINVAL, f"{exc} (the kernel refuses this key)",
                                         reason=REFUSED, algorithm=kernel_name)
        if chosen == policy.KERNEL:
            raise refused from None
        _key_refusals[kernel_name] = f"{REFUSED}: {refused}"
        return None


def probe(kernel_name: str) -> Transform | KernelUnavailableError:
    """The cached probe of ``kernel_name``: its unkeyed transform, or the kernel's refusal.

    The cached refusal was never raised (it keeps no frames alive); raise its
    :meth:`~_kcapi.errors.KernelUnavailableError.fresh` copy.
    """
    return transform._lookup(SKCIPHER, kernel_name)


def software(make: Callable[[], Any], kernel_name: str, reason: str = "") -> Any:
    """PyCryptodome's object from ``make()``, remembered as served by software.

    Args:
        make: builds the object from the user's original arguments.
        kernel_name: the kernel algorithm that would have served it ('' if none).
        reason: why not the kernel ('' to use the policy's or the probe's reason).
    """
    obj = make()
    if not reason:
        reason = (transform.why_not(SKCIPHER, kernel_name) or _key_refusals.get(kernel_name, "")
                  or "the kernel did not serve it")
    _remember(obj, kernel_name, reason)
    return obj


def outside(make: Callable[[], Any], python_name: str, kernel_name: str, detail: str) -> Any:
    """Serve arguments the kernel path does not take: PyCryptodome's error, object, or a refusal.

    PyCryptodome runs first, so invalid arguments raise its exact error under
    every policy.  Valid arguments the kernel cannot serve get PyCryptodome's
    object (policies ``auto`` and ``software``) or, under ``kernel``,
    :class:`KernelUnavailableError` naming ``python_name`` and ``detail``.
    """
    obj = make()
    chosen = policy.get_backend()
    if chosen == policy.KERNEL:
        raise no_equivalent(python_name, detail)
    if chosen == policy.SOFTWARE:
        reason = transform.why_not(SKCIPHER, kernel_name)
    else:
        reason = str(no_equivalent(python_name, detail))
    _remember(obj, kernel_name, reason)
    return obj


def kernel_only(python_name: str, kernel_name: str) -> KernelUnavailableError:
    """The error for a kernel-only mode (XTS) that software cannot serve now."""
    chosen = policy.get_backend()
    if chosen == policy.SOFTWARE:
        return no_equivalent(python_name, f"only the kernel serves it ('{kernel_name}') and "
                             "the backend policy is 'software'")
    found = probe(kernel_name)
    if isinstance(found, KernelUnavailableError):
        return found.fresh()
    return no_equivalent(python_name, f"only the kernel serves it ('{kernel_name}')")


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
    if algorithm == "des3":
        from Crypto.Cipher import DES3

        return DES3
    from Crypto.Cipher import AES

    return AES


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
    reason = transform.why_not(SKCIPHER, kernel_name) if kernel_name else ""
    if not reason:
        reason = "created as a software object (not through kcapi_cipher)"
    return BackendInfo("software", kernel_name, driver, 0, "software", reason)
