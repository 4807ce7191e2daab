"""Random bytes from the kernel's DRBG (``stdrng``), as ``Crypto.Random``.

``from kcapi_cipher.Random import get_random_bytes`` replaces
``from Crypto.Random import get_random_bytes``.  The kernel DRBG is seeded
once per process (see :mod:`_kcapi.rng`) and read 128 bytes per ``recv``;
reads are thread-safe.  Where the policy lets software serve and the kernel
has no ``stdrng``, the bytes come from ``os.urandom`` (what PyCryptodome uses).
"""

from __future__ import annotations

import operator
from typing import Any

from _kcapi import rng as _rng
from _kcapi import routing as _routing
from _kcapi.names import RNG_NAME
from _kcapi.backend_info import BackendInfo

from . import _params

__all__ = ["new", "get_random_bytes", "atfork", "backend_info"]


def _size(n: Any) -> int:
    """``n`` checked as ``os.urandom`` checks it."""
    size = operator.index(n)
    if size < 0:
        raise ValueError("negative argument not allowed")
    return size


def get_random_bytes(n: int) -> bytes:
    """Return ``n`` random bytes from the kernel DRBG (or ``os.urandom`` as the fallback).

    Raises:
        TypeError: ``n`` is not an integer.
        ValueError: ``n`` is negative.
        KernelUnavailableError: under the ``kernel`` policy, when the kernel has no ``stdrng``.
    """
    size = _size(n)
    tfm = _rng.rng_transform()
    if tfm is None:
        return _params.random_bytes(size)  # os.urandom, PyCryptodome's source
    return _rng.KernelRng(tfm).read(size)


class _KernelRandom:
    """A file-like source of random bytes, as ``Crypto.Random.new()`` returns."""

    __slots__ = ("_rng",)

    def __init__(self, source: _rng.KernelRng):
        self._rng = source

    def read(self, n: int) -> bytes:
        """Return ``n`` random bytes."""
        return self._rng.read(_size(n))

    def flush(self) -> None:
        """Kept for compatibility (PyCryptodome's does nothing either)."""

    def reinit(self) -> None:
        """Kept for compatibility (the kernel reseeds its DRBG itself)."""

    def close(self) -> None:
        """Kept for compatibility."""

    @property
    def backend_info(self) -> BackendInfo:
        """The kernel DRBG driver serving the reads."""
        return self._rng.backend_info


def new(*args: Any, **kwargs: Any) -> Any:
    """Return a file-like object whose ``read(n)`` gives random bytes.

    Raises:
        KernelUnavailableError: under the ``kernel`` policy, when the kernel has no ``stdrng``.
    """
    tfm = _rng.rng_transform()
    if tfm is None:
        from . import _reference
        from ._aead import fallback

        return fallback(_reference.random_new, RNG_NAME, [("rng", RNG_NAME)])
    return _KernelRandom(_rng.KernelRng(tfm))


def known_answer_drbg(entropy: bytes, personalization: bytes = b"",
                      name: str | None = None) -> _rng.KernelRng:
    """A kernel DRBG seeded from ``entropy`` you choose, to check it against known answers.

    Deterministic by design (never use it for keys): ``generate(n)`` is one
    SP 800-90A generate call of up to 128 bytes.  Needs CAP_SYS_ADMIN and a
    kernel with ALG_SET_DRBG_ENTROPY (CONFIG_CRYPTO_USER_API_RNG_CAVP); there is
    no software fallback.

    Args:
        entropy: EntropyInput || Nonce of a CAVP vector (at most 128 bytes).
        personalization: the PersonalizationString.
        name: the kernel DRBG, e.g. ``'drbg_nopr_hmac_sha512'``, ``'drbg_nopr_sha256'``;
            by default the first of ``drbg_nopr_hmac_sha256`` (kernels before 7.2)
            and ``drbg_nopr_hmac_sha512`` (the only DRBG of 7.2 and later) that
            this kernel binds: the result's ``name`` says which (an HMAC_DRBG over
            SHA-256 or SHA-512).

    Raises:
        KernelUnavailableError: ``reason='needs-newer-kernel'`` without the option;
            the kernel's refusal when it has none of those DRBGs (or no AF_ALG).
    """
    if name is None:
        name = _rng.known_answer_name()
    return _rng.known_answer_drbg(name, entropy, personalization)


def atfork() -> None:
    """Kept for compatibility: nothing to do after ``fork()`` (the kernel DRBG is shared safely)."""


def backend_info() -> BackendInfo:
    """Which source :func:`get_random_bytes` uses now, and why."""
    tfm = _rng.rng_transform()
    if tfm is not None:
        return tfm.info()
    return BackendInfo("software", RNG_NAME, "os.urandom", 0, "software",
                       _routing.why_not("rng", RNG_NAME))
