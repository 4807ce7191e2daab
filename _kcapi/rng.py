"""The kernel's random number generator (``stdrng``, a NIST SP 800-90A DRBG) over algif_rng.

A DRBG socket must be seeded with ALG_SET_KEY on the bound socket *before*
any ``accept()`` (an unseeded DRBG fails ``recv`` with EINVAL; a key set after
``accept()`` fails with EBUSY).  For ``stdrng`` the kernel instantiates the
DRBG from its own entropy sources and uses the bytes given here as the
personalization string: this process's bytes from ``getrandom(2)``, the key
of the core's cached transform, which is therefore seeded once and shared.
algif_rng returns at most
:data:`MAX_READ` bytes per ``recv``.  Each read takes an op socket from the
transform's pool, so threads never share one.
"""

from __future__ import annotations

import threading

from . import _syscalls, forksafe, routing, transform
from .errors import KernelUnavailableError
from .names import RNG_NAME
from .af_alg.tfm import Transform
from .backend_info import BackendInfo

#: Largest ``recv`` algif_rng serves (MAXSIZE in crypto/algif_rng.c).
MAX_READ = 128
#: Bytes of personalization given with the seed.
SEED_SIZE = 32
#: The SP 800-90A HMAC_DRBGs without prediction resistance that :func:`known_answer_name`
#: chooses from, in order: SHA-256 (the kernel's ``stdrng`` before Linux 7.2, and the
#: default of :func:`kcapi_cipher.Random.known_answer_drbg` there), then SHA-512 (the
#: only DRBG Linux 7.2 and later have).
KNOWN_ANSWER_DRBGS = ("drbg_nopr_hmac_sha256", "drbg_nopr_hmac_sha512")

_lock = threading.Lock()
_seed = b""


def system_random(size: int) -> bytes:
    """``size`` bytes from the kernel's CSPRNG (``getrandom``, what ``os.urandom`` reads):
    the random IVs, nonces and keys a caller would otherwise draw with ``os.urandom``."""
    return _syscalls.kernel.urandom(size)


def after_fork_in_child() -> None:
    """In a forked child (:mod:`.forksafe`, step 4): a fresh lock (a thread that held
    this one does not exist there)."""
    global _lock
    _lock = threading.Lock()


def _personalization() -> bytes:
    """This process's seed bytes (drawn on first use, never at import)."""
    global _seed
    if not _seed:
        forksafe.install()  # before the lock is first taken
        with _lock:
            if not _seed:
                _seed = system_random(SEED_SIZE)
    return _seed


def rng_transform() -> Transform | None:
    """The seeded ``stdrng`` transform under the policy, or ``None`` when software must serve.

    The transform is the core's cached keyed transform for this process's seed,
    so it is seeded once and shared; no reference is kept here (if the cache
    drops it, the next call instantiates a DRBG again, from fresh kernel entropy).

    Raises:
        KernelUnavailableError: under the ``kernel`` policy, when the kernel refuses.
    """
    # A seed the DRBG refuses (EINVAL) is a refusal like any other.
    return routing.keyed_or_none("rng", RNG_NAME, _personalization(), "seeding the DRBG")


class KernelRng:
    """Random bytes from a seeded kernel DRBG transform; safe to share between threads."""

    __slots__ = ("_tfm",)

    def __init__(self, tfm: Transform):
        self._tfm = tfm

    def generate(self, size: int) -> bytes:
        """One DRBG generate call (one ``recv``) of ``size`` <= :data:`MAX_READ` bytes.

        Raises:
            ValueError: ``size`` is over :data:`MAX_READ` (it would take several calls).
        """
        if not 0 <= size <= MAX_READ:
            raise ValueError(f"one generate call gives 0 to {MAX_READ} bytes, not {size}")
        return self.read(size)

    def read(self, size: int) -> bytes:
        """``size`` random bytes, in ``recv`` calls of at most :data:`MAX_READ` bytes.

        Raises:
            OSError: the kernel failed (the op socket is discarded).
        """
        out = bytearray(size)
        view = memoryview(out)
        if size == 0:
            return b""
        tfm = self._tfm
        op = tfm.sockets.take()
        try:
            tfm.requests.random(op, tfm.name, view, MAX_READ)
        except BaseException:
            tfm.sockets.discard(op)
            raise
        tfm.sockets.give(op)
        return bytes(out)

    @property
    def name(self) -> str:
        """The kernel DRBG's name (``'stdrng'``, ``'drbg_nopr_hmac_sha512'``, ...)."""
        return self._tfm.name

    @property
    def backend_info(self) -> BackendInfo:
        """The kernel DRBG driver serving the reads."""
        return self._tfm.info()


def known_answer_name() -> str:
    """The first DRBG of :data:`KNOWN_ANSWER_DRBGS` this kernel binds (the probe is cached).

    Chosen by binding, never by kernel version: Linux 7.2 removed every DRBG but
    ``drbg_nopr_hmac_sha512``.

    Raises:
        KernelUnavailableError: none binds; the refusal of the last one (for a
            kernel without AF_ALG, or with none of them, its reason says which).
    """
    refused: KernelUnavailableError | None = None
    for name in KNOWN_ANSWER_DRBGS:
        try:
            transform.get("rng", name)
        except KernelUnavailableError as exc:
            refused = exc
            continue
        return name
    assert refused is not None
    raise refused


def known_answer_drbg(name: str, entropy: bytes, personalization: bytes = b"") -> KernelRng:
    """A kernel DRBG instantiated from caller-chosen entropy: deterministic, for known-answer tests.

    The kernel takes ``entropy`` (for NIST CAVP vectors: EntropyInput || Nonce)
    with ALG_SET_DRBG_ENTROPY and ``personalization`` as the seed, and its
    every ``recv`` is one SP 800-90A generate call.  Never cached, never a
    fallback: it exists to check the kernel's DRBG.

    Args:
        name: a DRBG driver without prediction resistance, e.g. ``'drbg_nopr_hmac_sha512'``
            (see :func:`known_answer_name`).
        entropy: at most 128 bytes.
        personalization: the personalization string (may be empty).

    Raises:
        KernelUnavailableError: AF_ALG or the DRBG is missing, or the kernel lacks
            ALG_SET_DRBG_ENTROPY (``reason='needs-newer-kernel'``).
        PermissionError: the process lacks CAP_SYS_ADMIN, which the kernel requires.
    """
    return KernelRng(Transform("rng", name, bytes(personalization), entropy=bytes(entropy)))
