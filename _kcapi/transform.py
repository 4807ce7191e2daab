"""The transform cache: one bound transform (or the kernel's refusal) per algorithm and key,
on the kernel interface the policy chooses.

Binding is the probe: an algorithm is available exactly when binding it works,
and the answer -- a transform, or the reason for failure -- is cached per
process (:data:`_unkeyed`, by ``(interface, kind, name)``).  The interface
(:func:`_kcapi.policy.get_interface`) picks the door: ``af_alg``
(:class:`_kcapi.af_alg.tfm.Transform`), ``cryptodev``
(:class:`_kcapi.cryptodev.tfm.Transform`) or ``auto``: ``/dev/crypto`` where it
serves the algorithm, else AF_ALG (:func:`_bind_auto`).  A keyed transform is
bound on the door of its algorithm's probe; keyring keys only on AF_ALG.  Keyed transforms are cached
by a keyed digest of the key (:mod:`.keytag`), never the key, in an LRU of
:data:`KEYED_CACHE_SIZE` (:data:`_keyed`).  Keyring-keyed transforms are never
cached.  Whether the kernel or software serves an object, and why, is decided
by :mod:`.routing`, which alone reads the probes (:func:`_lookup`).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

from . import forksafe, policy
from .af_alg import tfm as af_alg_tfm
from .af_alg.tfm import drop_all_idle
from .cryptodev import tfm as cryptodev_tfm
from .errors import MISSING, NO_CRYPTODEV, KernelUnavailableError, keyring_needs_kernel
from .keyring import KeyringKey
from .keytag import key_tag

#: A transform of either interface (see :mod:`.interface`).
Transform = af_alg_tfm.Transform | cryptodev_tfm.Transform
KERNEL_TRANSFORMS = (af_alg_tfm.Transform, cryptodev_tfm.Transform)

#: Keyed transforms kept (least recently used ones are dropped first).
KEYED_CACHE_SIZE = 32

_lock = threading.RLock()  # re-entered when a bind runs out of descriptors
_unkeyed: dict[tuple[str, str, str], Transform | KernelUnavailableError] = {}
_keyed: OrderedDict[tuple[str, str, str, bytes, int | None], Transform] = OrderedDict()


def after_fork_in_child() -> None:
    """In a forked child (:mod:`.forksafe`, step 4): a fresh lock (a thread that held
    this one does not exist there)."""
    global _lock
    _lock = threading.RLock()


def _bind(interface: str, kind: str, name: str) -> Transform:
    """An unkeyed transform of ``(kind, name)`` on ``interface`` (``auto``: :func:`_bind_auto`).

    Raises:
        KernelUnavailableError: the interface refused.
    """
    if interface == policy.CRYPTODEV_INTERFACE:
        return cryptodev_tfm.Transform(kind, name)
    if interface == policy.AF_ALG_INTERFACE:
        return af_alg_tfm.Transform(kind, name)
    return _bind_auto(kind, name)


def _bind_auto(kind: str, name: str) -> Transform:
    """``/dev/crypto`` where it serves ``(kind, name)``, else AF_ALG.

    ``/dev/crypto`` first: where the device is, someone loaded cryptodev-linux on
    purpose (an out-of-tree driver), typically to reach a crypto engine that AF_ALG
    masks out since Linux 7.2, and it is not held to ``af_alg_restrict``'s
    allow-list; it also costs one ioctl per one-shot operation.  AF_ALG serves
    what it lacks (SHA-3, BLAKE2b, CMAC, ChaCha20, the DRBG, keyring keys).

    Raises:
        KernelUnavailableError: AF_ALG's refusal, with ``/dev/crypto``'s appended where the
            device is there and refused too; ``/dev/crypto``'s first where it found the
            kernel lacks the algorithm and AF_ALG only said it is closed (its socket
            family refused, its allow-list): that says more.
    """
    other: KernelUnavailableError | None = None
    if (kind, name) in cryptodev_tfm.abi.ALGORITHMS:
        try:
            return cryptodev_tfm.Transform(kind, name)
        except KernelUnavailableError as exc:
            other = exc
    try:
        return af_alg_tfm.Transform(kind, name)
    except KernelUnavailableError as exc:
        if other is None or other.reason == NO_CRYPTODEV:
            raise
        first, then = (other, exc) if other.reason == MISSING != exc.reason else (exc, other)
        raise KernelUnavailableError(
            first.errno, f"{first.strerror or first}; {then.strerror or then}",
            reason=first.reason, algorithm=name, step=first.step) from None


def _lookup(kind: str, name: str) -> Transform | KernelUnavailableError:
    """The cached unkeyed transform or refusal for ``(kind, name)`` on the interface in
    force, binding on first use."""
    return _probed((policy.get_interface(), kind, name))


def _probed(slot: tuple[str, str, str]) -> Transform | KernelUnavailableError:
    """The cached unkeyed transform or refusal of ``(interface, kind, name)``, binding on
    first use."""
    found = _unkeyed.get(slot)
    if found is None:
        forksafe.install()  # before the lock is first taken
        with _lock:
            found = _unkeyed.get(slot)
            if found is None:
                try:
                    found = _bind(*slot)
                except KernelUnavailableError as exc:
                    # Cached without the frames it was raised in (see fresh()).
                    found = exc.fresh()
                _unkeyed[slot] = found
    return found


def _keyring_transform(kind: str, name: str, key: KeyringKey,
                       authsize: int | None) -> Transform:
    """A transform keyed from the keyring: AF_ALG's only (``/dev/crypto`` takes no key
    serials), under ``auto`` too.  Not cached."""
    if policy.get_interface() == policy.CRYPTODEV_INTERFACE:
        raise keyring_needs_kernel(key, name, "/dev/crypto takes no keys from the keyring "
                                   f"(the kernel interface is '{policy.CRYPTODEV_INTERFACE}')")
    found = _probed((policy.AF_ALG_INTERFACE, kind, name))
    if isinstance(found, KernelUnavailableError):
        raise keyring_needs_kernel(key, name, found.strerror or str(found), found.errno)
    return af_alg_tfm.Transform(kind, name, key, authsize)


def reclaim_descriptors() -> int:
    """Close what the caches hold only to save syscalls: every idle pooled op
    socket, and the cached keyed transforms no object uses.  Returns how many
    descriptors that freed.  The next uses pay an ``accept()`` (or a bind) again.
    """
    freed = drop_all_idle()
    with _lock:
        evicted = [weakref.ref(entry) for entry in _keyed.values()]
        _keyed.clear()
    # An evicted transform that nothing else holds is gone now (its socket closed).
    return freed + sum(ref() is None for ref in evicted)


def get(kind: str, name: str, key: bytes | KeyringKey | None = None,
        authsize: int | None = None) -> Transform:
    """The cached transform for ``(kind, name[, key[, authsize]])``, binding it on first use.

    Args:
        kind: AF_ALG type ('hash', 'skcipher', 'aead', 'rng').
        name: kernel algorithm name, e.g. ``'hmac(sha256)'``.
        key: the key to set with ALG_SET_KEY (keyed transforms are cached by a
            keyed digest of the key, never by the key itself).
        authsize: an AEAD's tag size (ALG_SET_AEAD_AUTHSIZE), only with a key.

    Raises:
        KernelUnavailableError: the kernel refused; the refusal is cached too.
        ValueError: the kernel rejected the key or the tag size.
    """
    # The unkeyed bind is the probe, for keyed algorithms too: it fails with
    # the reason (ENOENT, EAFNOSUPPORT, ...) before any key is involved.
    found = _lookup(kind, name)
    if isinstance(found, KernelUnavailableError):
        raise found.fresh()
    if key is None:
        return found
    if isinstance(key, KeyringKey):
        # Not cached: the key is read from the keyring when the object is made,
        # so an updated or revoked key takes effect for every new object.
        return _keyring_transform(kind, name, key, authsize)
    door = type(found)
    tag = (found.interface, kind, name, key_tag(key), authsize)
    # A hit takes no lock (CPython 3.11 reads the clock on every acquire, a system
    # call where there is no vDSO): get() and move_to_end() are each atomic under
    # the GIL, and an eviction in between only leaves the entry uncached.
    found = _keyed.get(tag)
    if found is not None:
        try:
            _keyed.move_to_end(tag)
        except KeyError:
            pass
        return found
    made = door(kind, name, key, authsize)
    with _lock:
        _keyed[tag] = made
        while len(_keyed) > KEYED_CACHE_SIZE:
            _keyed.popitem(last=False)
    return made


# -- what the caches hold (for tests and diagnostics) ----------------------------------

def cached_probes() -> dict[tuple[str, str], Transform | KernelUnavailableError]:
    """A copy of the cached probes on the interface in force: each ``(kind, name)`` probed
    so far, with its unkeyed transform or the kernel's refusal (never raised: see ``fresh()``)."""
    interface = policy.get_interface()
    return {(kind, name): found for (door, kind, name), found in list(_unkeyed.items())
            if door == interface}


def keyed() -> list[Transform]:
    """The cached keyed transforms, least recently used first."""
    return list(_keyed.values())


def cached() -> list[Transform]:
    """Every cached transform: the probes that bound, then the keyed ones."""
    return [t for t in list(_unkeyed.values()) if isinstance(t, KERNEL_TRANSFORMS)] + keyed()


def plant_refusal(kind: str, name: str, refused: KernelUnavailableError) -> None:
    """Cache ``refused`` as the probe's answer for ``(kind, name)``, as if binding had
    failed so: a test stands in for a kernel that lacks an algorithm this one has."""
    with _lock:
        _unkeyed[(policy.get_interface(), kind, name)] = refused.fresh()


def clear() -> None:
    """Forget every cached transform and refusal (their sockets close when unused)."""
    forksafe.install()
    with _lock:
        _unkeyed.clear()
        _keyed.clear()
    policy.invalidate()
