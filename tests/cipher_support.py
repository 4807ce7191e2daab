"""Helpers of the skcipher tests: who must serve an object, error comparison, a reference XTS."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
from Crypto.Cipher import AES as RefAES

import kcapi_cipher
from _kcapi import policy

from .support import REQUIRE_KERNEL, optional_kernel_alg, skip_if_refusal_expected

#: Keys, IV and nonce of the modules of cipher objects under threads, fork, faults and limits.
KEY = bytes(range(16))
KEY32 = bytes(range(32))
IV = bytes(range(16, 32))
N12 = bytes(range(12))

TDES = bytes.fromhex("0123456789abcdef23456789abcdef01456789abcdef0123")

#: An object of every kernel-capable block cipher mode: kernel algorithm -> a maker over a
#: factory module (``kcapi_cipher.AES`` or PyCryptodome's, DES3 likewise).
MODE_MAKERS: dict[str, Callable[[Any], Any]] = {
    "ecb(aes)": lambda lib: lib.new(KEY, lib.MODE_ECB),
    "cbc(aes)": lambda lib: lib.new(KEY, lib.MODE_CBC, IV),
    "cfb(aes)": lambda lib: lib.new(KEY, lib.MODE_CFB, IV, segment_size=128),
    "ofb(aes)": lambda lib: lib.new(KEY, lib.MODE_OFB, iv=IV),
    "ctr(aes)": lambda lib: lib.new(KEY, lib.MODE_CTR, nonce=IV[:8]),
    "cbc(des3_ede)": lambda lib: lib.new(TDES, lib.MODE_CBC, IV[:8]),
    "ctr(des3_ede)": lambda lib: lib.new(TDES, lib.MODE_CTR, nonce=IV[:4]),
}

MODE_NAMES = {1: "ecb", 2: "cbc", 3: "cfb", 5: "ofb", 6: "ctr"}
KERNEL_CIPHER = {"aes": "aes", "des3": "des3_ede"}


def kernel_name(algorithm: str, mode: int) -> str:
    """The kernel skcipher serving ``mode`` of ``algorithm`` ('aes', 'des3')."""
    return f"{MODE_NAMES[mode]}({KERNEL_CIPHER[algorithm]})"


def need(name: str) -> None:
    """Under the ``kernel`` policy, skip where this kernel lacks ``name`` (cfb/ofb since 6.8).

    Any other refusal fails the kernel run (see ``optional_kernel_alg``).
    Under ``auto`` and ``software`` nothing is needed: software serves.
    """
    if policy.get_backend() == policy.KERNEL:
        optional_kernel_alg("skcipher", name)


def check_served(obj: Any, name: str) -> None:
    """In the kernel run, ``obj`` must be served by the kernel's ``name``."""
    info = kcapi_cipher.backend_info(obj)
    if REQUIRE_KERNEL:
        assert info.backend == "kernel", info
        assert info.algorithm == name, info
    else:
        assert info.backend in ("kernel", "software")


def outcome(call: Callable[[], Any]) -> Any:
    """What ``call()`` did: its result, or ``(exception type, message)``."""
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - the type and text are what we compare
        skip_if_refusal_expected(exc)
        return type(exc), str(exc)


def same_error(ours: Callable[[], Any], reference: Callable[[], Any]) -> tuple[type, str]:
    """Both calls raise, with the same exception type and message; returns it."""
    got, expected = outcome(ours), outcome(reference)
    assert isinstance(expected, tuple) and isinstance(expected[0], type), \
        f"the reference accepted this: {expected!r}"
    assert isinstance(got, tuple) and isinstance(got[0], type), \
        f"accepted; PyCryptodome raises {expected}"
    assert issubclass(got[0], expected[0]), (got, expected)
    assert got[1] == expected[1], (got, expected)
    return got


# -- XTS (IEEE 1619) from the standard's definition, on AES-ECB: checks both xts(aes) and PyCryptodome ----


def times_alpha(t: bytes) -> bytes:
    """An XTS tweak value times alpha (the next block's), as IEEE 1619 defines it."""
    v = int.from_bytes(t, "little") << 1
    if v >> 128:
        v = (v & ((1 << 128) - 1)) ^ 0x87
    return v.to_bytes(16, "little")


def reference_xts(key: bytes, tweak: bytes, data: bytes, encrypt: bool = True) -> bytes:
    """XTS-AES of one data unit (with ciphertext stealing), from the standard's definition."""
    half = len(key) // 2
    cipher = RefAES.new(key[:half], RefAES.MODE_ECB)
    block = cipher.encrypt if encrypt else cipher.decrypt
    t = RefAES.new(key[half:], RefAES.MODE_ECB).encrypt(tweak)

    def xex(b: bytes, tw: bytes) -> bytes:
        x = bytes(p ^ q for p, q in zip(b, tw))
        return bytes(p ^ q for p, q in zip(block(x), tw))

    m, r = divmod(len(data), 16)
    tweaks = []
    for _ in range(m + 1):
        tweaks.append(t)
        t = times_alpha(t)
    blocks = [data[i * 16:(i + 1) * 16] for i in range(m)]
    if r == 0:
        return b"".join(xex(b, tweaks[i]) for i, b in enumerate(blocks))
    out = b"".join(xex(blocks[i], tweaks[i]) for i in range(m - 1))
    tail = data[m * 16:]
    first, second = (tweaks[m - 1], tweaks[m]) if encrypt else (tweaks[m], tweaks[m - 1])
    stolen = xex(blocks[m - 1], first)
    return out + xex(tail + stolen[r:], second) + stolen[:r]


# -- keys in the kernel keyring ----------------------------------------------------------


@functools.cache
def keyring_ciphers() -> bool:
    """Probe (once): does this kernel key a ``cbc(aes)`` transform from a keyring serial?

    Skips without AF_ALG (fails in the kernel run); ``False`` before Linux 6.2.
    """
    from .support import keyring_keys_work

    return keyring_keys_work("skcipher", "cbc(aes)", bytes(16))
