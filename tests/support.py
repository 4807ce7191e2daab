"""Helpers shared by tests/ and compat_tests/."""

from __future__ import annotations

import errno
import gc
import os
import threading
from collections.abc import Callable
from typing import Any

import pytest

from _kcapi import routing, transform
from _kcapi.af_alg.tfm import Transform
from _kcapi.errors import KernelUnavailableError

REQUIRE_KERNEL = os.environ.get("KCAPI_REQUIRE_KERNEL") == "1"

#: hashlib names every kernel we support serves (the others are software only).
KERNEL_GUARANTEED = ["md5", "sha1", "sha224", "sha256", "sha384", "sha512",
                     "sha3_224", "sha3_256", "sha3_384", "sha3_512", "blake2b"]


#: Refusals a fake kernel provokes (``fake_kernel(step, err)``) and the reason each is
#: reported as: ``(step, errno, reason)``.
NO_AF_ALG = ("socket", errno.EAFNOSUPPORT, "no-af-alg")
SOCKET_BLOCKED = ("socket", errno.EPERM, "blocked")
ALG_MISSING = ("bind", errno.ENOENT, "missing")
BIND_BLOCKED_EACCES = ("bind", errno.EACCES, "blocked")
BIND_BLOCKED_EPERM = ("bind", errno.EPERM, "blocked")


def software_engine(obj: object) -> object:
    """The hashlib object serving ``obj``: ``obj`` itself, or the one inside a blake2b/blake2s.

    ``kcapi_hashlib.blake2b``/``blake2s`` are classes of their own (hashlib's cannot
    be subclassed); whoever serves, their objects hold the serving object in ``_h``.
    """
    import kcapi_hashlib

    if isinstance(obj, (kcapi_hashlib.blake2b, kcapi_hashlib.blake2s)):
        return obj._h  # type: ignore[attr-defined]
    return obj


def keyring_keys_work(kind: str, name: str, key: bytes) -> bool:
    """Probe: does this kernel key a ``kind``/``name`` transform from a keyring serial?

    Skips without AF_ALG (fails in the kernel run); ``False`` before Linux 6.2
    (any other refusal fails the probe).
    """
    from _kcapi.keyring import KeyringKey

    require_kernel_alg(kind, name)
    probe = KeyringKey.add(key, f"kcapi-probe-{os.getpid()}-{os.urandom(4).hex()}")
    try:
        Transform(kind, name, probe)
        return True
    except KernelUnavailableError as exc:
        assert exc.reason == "needs-newer-kernel", exc
        return False
    finally:
        probe.revoke()


def kernel_refusal(kind: str, name: str) -> KernelUnavailableError | None:
    """The cached probe: ``None`` when the kernel binds ``name``, else why not."""
    found = routing.probe(kind, name)
    return found if isinstance(found, KernelUnavailableError) else None


#: Refusals that mean this kernel interface lacks an algorithm outright: the kernel
#: lacks it (ENOENT, EINVAL from /dev/crypto), or the chosen interface has no such
#: algorithm at all (/dev/crypto's fixed list, KCAPI_INTERFACE=cryptodev).
ABSENT = ("missing", "interface-lacks")


def require_kernel_alg(kind: str, name: str) -> None:
    """Skip without AF_ALG here; in the kernel run (REQUIRE_KERNEL) fail instead, unless
    the kernel interface in use has no such algorithm at all (``interface-lacks``)."""
    why = kernel_refusal(kind, name)
    if why is None:
        return
    if why.reason == "interface-lacks":
        pytest.skip(f"this kernel interface lacks {kind} '{name}': {why}")
    if REQUIRE_KERNEL:
        pytest.fail(f"the kernel run cannot serve {kind} '{name}': {why}")
    pytest.skip(f"no kernel {kind} '{name}' here: {why}")


def optional_kernel_alg(kind: str, name: str) -> None:
    """Skip when this kernel lacks an algorithm some kernels have (e.g. sm3 in 6.1).

    Even in the kernel run this skips when the algorithm is *missing* (ENOENT),
    but fails for any other refusal (no AF_ALG at all, blocked).
    """
    why = kernel_refusal(kind, name)
    if why is None:
        return
    if REQUIRE_KERNEL and why.reason not in ABSENT:
        pytest.fail(f"the kernel run cannot serve {kind} '{name}': {why}")
    pytest.skip(f"this kernel lacks {kind} '{name}': {why}")


#: Parts of composed AEAD paths that Linux 7.2 removed as algorithms (library code since).
PARTS_SOME_KERNELS_LACK = ("ghash", "poly1305")


def skip_if_refusal_expected(exc: BaseException) -> None:
    """Skip the test, naming why, when ``exc`` is a refusal this kernel run expects.

    Three kinds, each found by the library's own probe: under the ``kernel`` policy on
    Linux 7.2+, ``ghash``/``poly1305`` missing outright (GCM and ChaCha20-Poly1305
    serve whole messages only, through the one-shot AEAD); what the chosen kernel
    interface has no such algorithm for (``interface-lacks``); and, outside the kernel
    runs (``KCAPI_REQUIRE_KERNEL``), AF_ALG refused by this machine's settings
    (``af_alg_restrict``, a seccomp filter), where ``/dev/crypto`` passed the test's gate.  Test helpers that record exceptions as outcomes call this;
    conftest.py does for the rest.
    """
    from _kcapi import policy

    def leaves(error: BaseException) -> list[BaseException]:
        # hypothesis reports several distinct failures as one exception group
        if isinstance(error, BaseExceptionGroup):
            return [leaf for inner in error.exceptions for leaf in leaves(inner)]
        return [error]

    def expected(leaf: BaseException) -> bool:
        if not isinstance(leaf, KernelUnavailableError):
            return False
        if leaf.reason in ("restricted", "no-af-alg", "blocked"):
            # This machine's settings refuse AF_ALG (af_alg_restrict, a seccomp filter):
            # expected outside the kernel runs, where /dev/crypto may pass a test's gate.
            return not REQUIRE_KERNEL
        if leaf.reason == "interface-lacks":
            return True
        return (leaf.reason == "missing" and leaf.algorithm in PARTS_SOME_KERNELS_LACK
                and policy.get_backend() == policy.KERNEL)

    found = leaves(exc)
    if all(expected(leaf) for leaf in found):
        names = sorted({leaf.algorithm for leaf in found})  # type: ignore[attr-defined]
        pytest.skip(f"this kernel run cannot serve {', '.join(names)}: {found[0]}")


def composed_part_missing(part: str) -> KernelUnavailableError | None:
    """Under the ``kernel`` policy, why the kernel lacks ``part`` (``ghash``, ``poly1305``) of
    the composed AEAD path outright (Linux 7.2+); ``None`` where it has it, or software serves."""
    from _kcapi import policy

    why = kernel_refusal("hash", part)
    if why is not None and why.reason in ABSENT and policy.get_backend() == policy.KERNEL:
        return why
    return None


def needs_composed_part(part: str) -> None:
    """For a test of the composed AEAD path (pieces, messages past one request): skip,
    naming it, where :func:`composed_part_missing` says the kernel lacks ``part``."""
    why = composed_part_missing(part)
    if why is not None:
        pytest.skip(f"this kernel lacks hash '{part}' (composed AEAD path): {why}")


class FdCount(int):
    """A descriptor count that shows what each descriptor is when an assertion fails."""

    targets: dict[str, str]

    def __repr__(self) -> str:
        return f"{int(self)} {self.targets}"


def open_fds() -> FdCount:
    """How many file descriptors this process has open (with their targets)."""
    targets = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            targets[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the descriptor listdir itself used
            pass
    count = FdCount(len(targets))
    count.targets = targets
    return count


def pooled_sockets() -> int:
    """Idle op sockets held by the transform pools (bounded by POOL_SIZE each); the idle
    /dev/crypto sessions are no descriptors."""
    from _kcapi import transform

    return sum(t.idle_count() for t in transform.cached() if t.interface == "af_alg")


def cached_transforms() -> int:
    """Descriptors the transform caches hold: a bound socket per AF_ALG transform (one per
    algorithm, a bounded LRU of keys), and the /dev/crypto device (one for all its
    transforms, once opened)."""
    from _kcapi import transform
    from _kcapi.cryptodev import device

    return (sum(1 for t in transform.cached() if t.interface == "af_alg")
            + int(device.is_open()))


def fds_in_use() -> int:
    """Open descriptors minus those the caches and pools hold: what live objects hold."""
    return open_fds() - pooled_sockets() - cached_transforms()


def run_threads(count: int, work: Callable[[int], None]) -> None:
    """Run ``work(n)`` in ``count`` threads started together; re-raise the first error."""
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def run(n: int) -> None:
        try:
            start.wait()
            work(n)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def keyring_gates(supported: Callable[[], bool]) -> tuple[Any, Any]:
    """The fixtures ``with_keyring`` and ``without_keyring`` over the probe ``supported()``:
    each skips where the other runs (keyring keys need ALG_SET_KEY_BY_KEY_SERIAL)."""

    @pytest.fixture
    def with_keyring() -> None:
        if not supported():
            pytest.skip("this kernel lacks ALG_SET_KEY_BY_KEY_SERIAL "
                        "(its 'needs 6.2' error is tested)")

    @pytest.fixture
    def without_keyring() -> None:
        if supported():
            pytest.skip("this kernel has ALG_SET_KEY_BY_KEY_SERIAL (the keyring tests run instead)")

    return with_keyring, without_keyring


def copy_with_one_descriptor(obj: Any) -> tuple[Any, int]:
    """``obj.copy()``, checked to take exactly one more descriptor (accept() on the op socket);
    returns the copy and the descriptors in use before it."""
    gc.collect()  # earlier tests' garbage must not close descriptors mid-measurement
    before = fds_in_use()
    twin = obj.copy()
    assert fds_in_use() == before + 1  # accept() on the op socket
    return twin, before


def nofile_with_room(room: int = 64) -> int:
    """An RLIMIT_NOFILE leaving ``room`` descriptor numbers above every one open now.

    The limit bounds descriptor numbers, not their count, so a test lowering it
    sets it relative to what the process (the whole test run) already holds.
    """
    return max(int(fd) for fd in os.listdir("/proc/self/fd")) + 1 + room
