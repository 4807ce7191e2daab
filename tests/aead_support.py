"""Helpers of the AEAD, CMAC and RNG tests: GCM/CCM objects, and who must serve an object."""

from __future__ import annotations

from typing import Any

from _kcapi import policy, routing
from _kcapi.errors import KernelUnavailableError
from _kcapi.names import CHACHA20_POLY1305, XCHACHA20_POLY1305, ccm_names, gcm_names
from kcapi_cipher import AES
from kcapi_cipher._aead import KernelAead

from .support import REQUIRE_KERNEL

MODE_CCM = AES.MODE_CCM
MODE_GCM = AES.MODE_GCM

#: What the composed (always kernel-served) path of each construction needs.
NEEDS = {
    "gcm": [("skcipher", gcm_names("aes").stream), ("hash", gcm_names("aes").mac)],
    "ccm": [("skcipher", ccm_names("aes").stream), ("hash", ccm_names("aes").mac)],
    "chacha": [("skcipher", CHACHA20_POLY1305.stream), ("hash", CHACHA20_POLY1305.mac)],
    "xchacha": [("skcipher", XCHACHA20_POLY1305.stream), ("hash", XCHACHA20_POLY1305.mac)],
    "cmac": [("hash", "cmac(aes)")],
    "cmac-des3": [("hash", "cmac(des3_ede)")],
    "rng": [("rng", "stdrng")],
}


def aes_new(key: Any, mode: int, *args: Any, **kwargs: Any) -> Any:
    """``kcapi_cipher.AES.new(key, mode, ...)`` (the GCM/CCM objects under test)."""
    return AES.new(key, mode, *args, **kwargs)


def kernel_expected(construction: str, obj: Any = None) -> bool:
    """Whether the policy and the probes say the kernel serves ``construction`` here.

    ``obj``: an object already made; under the ``kernel`` policy a kernel object
    whose composed path lacks a part serves whole messages through the one-shot AEAD.
    """
    chosen = policy.get_backend()
    if chosen == policy.SOFTWARE:
        return False
    if isinstance(obj, KernelAead) and chosen == policy.KERNEL:
        return True
    return not any(isinstance(routing.probe(kind, name), KernelUnavailableError)
                   for kind, name in NEEDS[construction])


def assert_served(obj: Any, construction: str) -> None:
    """The object is kernel-served exactly when it must be (always in the kernel run)."""
    kernel = kernel_expected(construction, obj)
    if REQUIRE_KERNEL:
        assert kernel, f"the kernel run cannot serve {construction}"
    info = getattr(obj, "backend_info", None)
    if kernel:
        assert info is not None and not callable(info), f"{obj!r} is not a kernel object"
        assert info.backend == "kernel" and info.driver not in ("", "unknown"), info
    else:
        assert not isinstance(obj, KernelAead) and type(obj).__module__.startswith("Crypto."), obj
