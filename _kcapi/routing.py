"""Who serves a new object -- a kernel transform or software -- and why not the kernel.

This module owns that decision for every kind of object: hashes, HMAC, blake2b
(keyed or parameterised), skciphers (and the keys the kernel refuses), AEADs
(one-shot and composed: GCM's and ChaCha20-Poly1305's ``ghash``/``poly1305``
parts), CMAC, the DRBG, and keyring keys.  It reads the backend policy
(:mod:`.policy`) and the kernel's probes (one ``bind`` per ``(kind, name)``,
cached by :mod:`.transform`), and answers with a transform, ``None`` (software
serves), or the refusal to raise; and, for software, the reason.

Invariants:

* No other module reads the policy to choose between kernel and software, and
  no other module probes (``transform._lookup``): they ask here.
* A probe binds at most once per ``(kind, name)`` per process (until
  :func:`_kcapi.transform.clear`); asking here again costs no system call.
* Under ``software`` nothing here opens an AF_ALG socket, except for a
  :class:`~_kcapi.keyring.KeyringKey`, which no software can use: it is
  refused without a probe.
* A reason is ``'<code>: <what happened>'`` (the codes of :mod:`.errors`):
  the policy, the kernel's cached refusal (its errno explained: no AF_ALG,
  seccomp, an LSM, ``af_alg_restrict``, a missing algorithm), a refused key,
  or no kernel equivalent.  It is computed from what happened, never guessed.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from . import policy, transform
from .errors import (REFUSED, SOFTWARE_POLICY, KernelUnavailableError, keyring_needs_kernel,
                     no_equivalent, whole_messages_only)
from .keyring import KeyringKey
from .transform import Transform

__all__ = ["probe", "binds", "software_only", "kernel_required", "software_refusal",
           "kernel_or_none", "keyed_or_none", "kernel_only", "check_available",
           "needs_kernel", "composed", "aead_route", "AeadRoute", "composed_refusal",
           "available", "why_not", "software_reason", "needs_reason", "no_kernel_reason"]

#: Why software served, for keys the kernel refused under ``auto``: (kind, name) -> reason.
_key_refusals: dict[tuple[str, str], str] = {}

_POLICY_REASON = (f"{SOFTWARE_POLICY}: the backend policy is 'software' "
                  f"({policy.ENV_VAR} or set_backend)")


# -- probes --------------------------------------------------------------------------

def probe(kind: str, name: str) -> Transform | KernelUnavailableError:
    """The cached probe of ``(kind, name)``, whatever the policy: its unkeyed transform, or
    the kernel's refusal (binding on first use).

    The refusal was never raised (it keeps no frames alive); raise its
    :meth:`~_kcapi.errors.KernelUnavailableError.fresh` copy.
    """
    return transform._lookup(kind, name)


def binds(kind: str, name: str) -> bool:
    """Whether the kernel binds ``(kind, name)`` here (the cached probe), whatever the policy."""
    return not isinstance(transform._lookup(kind, name), KernelUnavailableError)


# -- the policy, as decisions ---------------------------------------------------------

def software_only() -> bool:
    """Whether software serves everything now (policy ``software``; keyring keys excepted)."""
    return policy.get_backend() == policy.SOFTWARE


def kernel_required() -> bool:
    """Whether what the kernel cannot serve must raise now (policy ``kernel``)."""
    return policy.get_backend() == policy.KERNEL


def software_refusal(python_name: str, detail: str = "") -> KernelUnavailableError | None:
    """For something only software serves (no kernel equivalent): ``None`` when software may
    serve it now, else (policy ``kernel``) the error to raise, naming ``python_name``."""
    if policy.get_backend() == policy.KERNEL:
        return no_equivalent(python_name, detail)
    return None


def _kernel_or_none(chosen: str, kind: str, name: str, key: bytes | KeyringKey | None,
                    authsize: int | None) -> Transform | None:
    if isinstance(key, KeyringKey):  # no software can use it: the kernel, or why not
        needs_kernel(key, name, [(kind, name)])
        return transform.get(kind, name, key, authsize)
    if chosen == policy.SOFTWARE:
        return None
    try:
        found = transform._lookup(kind, name)
        if isinstance(found, KernelUnavailableError):
            raise found.fresh()
        return found if key is None else transform.get(kind, name, key, authsize)
    except KernelUnavailableError:
        if chosen == policy.KERNEL:
            raise
        return None


def kernel_or_none(kind: str, name: str, key: bytes | KeyringKey | None = None,
                   authsize: int | None = None) -> Transform | None:
    """The (keyed) transform under the policy, or ``None`` when software must serve.

    A :class:`~_kcapi.keyring.KeyringKey` is never ``None``: no software can use
    a key it cannot read, so the kernel serves it or the error says why not.

    Raises:
        KernelUnavailableError: under the ``kernel`` policy (or for a keyring key),
            when the kernel refuses.
        ValueError: the kernel rejected the key or the tag size.
    """
    return _kernel_or_none(policy.get_backend(), kind, name, key, authsize)


def keyed_or_none(kind: str, name: str, key: bytes, refusing: str) -> Transform | None:
    """As :func:`kernel_or_none` for a key in memory, where a key the kernel rejects is a
    refusal like any other: raised under ``kernel``, else software serves and
    :func:`software_reason` says so.

    Args:
        refusing: what the rejection means, appended to the kernel's message
            (``'the kernel refuses this key'``, ``'seeding the DRBG'``).

    Raises:
        KernelUnavailableError: under the ``kernel`` policy, when the kernel refuses
            the algorithm or the key (``reason='refused'``, EINVAL).
    """
    chosen = policy.get_backend()
    try:
        return _kernel_or_none(chosen, kind, name, key, None)
    except KernelUnavailableError:
        raise
    except ValueError as exc:
        refused = KernelUnavailableError(errno.EINVAL, f"{exc} ({refusing})",
                                         reason=REFUSED, algorithm=name)
        if chosen == policy.KERNEL:
            raise refused from None
        _key_refusals[(kind, name)] = f"{REFUSED}: {refused}"
        return None


def kernel_only(python_name: str, kind: str, name: str) -> KernelUnavailableError:
    """The error for a mode only the kernel serves (XTS) when the kernel does not serve it now."""
    if policy.get_backend() == policy.SOFTWARE:
        return no_equivalent(python_name, f"only the kernel serves it ('{name}') and "
                             "the backend policy is 'software'")
    found = transform._lookup(kind, name)
    if isinstance(found, KernelUnavailableError):
        return found.fresh()
    return no_equivalent(python_name, f"only the kernel serves it ('{name}')")


def check_available(kind: str, name: str) -> None:
    """Raise the kernel's refusal of ``(kind, name)``, unless the policy is ``software``
    (nothing probed then) or the kernel binds it."""
    if policy.get_backend() != policy.SOFTWARE:
        found = transform._lookup(kind, name)
        if isinstance(found, KernelUnavailableError):
            raise found.fresh()


def needs_kernel(key: KeyringKey, label: str, needs: list[tuple[str, str]]) -> None:
    """Check that the kernel can serve an object keyed from the keyring: no software can.

    Args:
        key: the keyring key.
        label: the construction, for the error (``'AES MODE_GCM'``).
        needs: the ``(kind, name)`` algorithms the keyring-keyed object needs.

    Raises:
        KernelUnavailableError: ``reason='keyring-needs-kernel'``: the ``software``
            policy, or the kernel lacks one of ``needs`` (its errno kept).
    """
    if policy.get_backend() == policy.SOFTWARE:
        raise keyring_needs_kernel(key, label, "the backend policy is 'software'")
    for kind, name in needs:
        found = transform._lookup(kind, name)
        if isinstance(found, KernelUnavailableError):
            # strerror: the text without the "[errno ...]" that str() appends again.
            raise keyring_needs_kernel(key, label, found.strerror or str(found), found.errno)


# -- AEAD: one-shot and composed ------------------------------------------------------

def composed(needs: list[tuple[str, str]]) -> bool:
    """Whether the kernel serves every ``(kind, name)`` in ``needs`` under the policy.

    Returns:
        ``True`` when the kernel must serve, ``False`` when software must.

    Raises:
        KernelUnavailableError: under the ``kernel`` policy, the cached refusal of
            the first algorithm the kernel lacks.
    """
    chosen = policy.get_backend()
    if chosen == policy.SOFTWARE:
        return False
    for kind, name in needs:
        found = transform._lookup(kind, name)
        if isinstance(found, KernelUnavailableError):
            if chosen == policy.KERNEL:
                raise found.fresh()
            return False
    return True


@dataclass(frozen=True)
class AeadRoute:
    """Who serves a new AEAD object (see :func:`aead_route`).

    Attributes:
        kernel: kernel objects (``False``: software serves, for :attr:`reason`).
        part_refused: under ``kernel``, the composed path's refused part, where
            the one-shot AEAD serves whole messages only; ``None`` otherwise.
        reason: why software serves ('' for the kernel).
    """

    kernel: bool
    part_refused: KernelUnavailableError | None = None
    reason: str = ""


def aead_route(needs: list[tuple[str, str]], one_shot: str = "",
               one_shot_takes: Callable[[], bool] | None = None) -> AeadRoute:
    """Who serves a new AEAD object whose composed path needs ``needs``.

    Args:
        needs: the composed path's ``(kind, name)`` parts (keystream, MAC).
        one_shot: the kernel's one-shot AEAD ('' if none).
        one_shot_takes: whether that one-shot takes these parameters (nonce, tag
            size); asked only where the composed path is refused.  ``None``: it does.

    Raises:
        KernelUnavailableError: under the ``kernel`` policy, a part's refusal where
            the one-shot AEAD cannot serve either.
    """
    try:
        if composed(needs):
            return AeadRoute(True)
    except KernelUnavailableError as refused:  # the kernel policy
        if not (one_shot and (one_shot_takes is None or one_shot_takes())
                and binds("aead", one_shot)):
            raise
        return AeadRoute(True, refused)
    return AeadRoute(False, None, needs_reason(needs))


def composed_refusal(label: str, key: bytes | KeyringKey, part_refused: KernelUnavailableError
                     | None, one_shot: str, keyring_why: str) -> KernelUnavailableError | None:
    """Why the composed path may not serve an AEAD object now (``None``: it may).

    A keyring key never may (GCM and ChaCha20-Poly1305 derive the MAC key from
    the cipher key in user space); nor may an object whose composed part the
    kernel refused (:attr:`AeadRoute.part_refused`).
    """
    if isinstance(key, KeyringKey):
        return keyring_needs_kernel(key, f"{label} beyond one whole message", keyring_why)
    if part_refused is not None:
        return whole_messages_only(label, part_refused, one_shot)
    return None


# -- what the kernel serves ----------------------------------------------------------

def available(kind: str, software: Iterable[str], kernel: Iterable[tuple[str, str]]) -> set[str]:
    """The names served under the policy: ``software``'s, the kernel's that bind, or both.

    Args:
        kind: the AF_ALG type of the kernel names.
        software: the names software serves.
        kernel: ``(python name, kernel name)`` pairs, probed only where the policy looks.
    """
    chosen = policy.get_backend()
    if chosen == policy.SOFTWARE:
        return set(software)
    served = {python for python, name in kernel if name and binds(kind, name)}
    return served if chosen == policy.KERNEL else set(software) | served


# -- reasons ---------------------------------------------------------------------------

def why_not(kind: str, name: str) -> str:
    """Why software serves ``name`` now: the policy, or the kernel's cached refusal ('' if none)."""
    if policy.get_backend() == policy.SOFTWARE:
        return _POLICY_REASON
    found = transform._unkeyed.get((policy.get_interface(), kind, name))
    if isinstance(found, KernelUnavailableError):
        return f"{found.reason}: {found}"
    return ""


def software_reason(kind: str, name: str) -> str:
    """:func:`why_not`, else the key the kernel refused for ``name`` ('' if neither)."""
    return why_not(kind, name) or _key_refusals.get((kind, name), "")


def needs_reason(needs: list[tuple[str, str]]) -> str:
    """Why software serves an object needing every ``(kind, name)`` of ``needs`` ('' if none)."""
    for kind, name in needs:
        why = why_not(kind, name)
        if why:
            return why
    return ""


def no_kernel_reason(python_name: str, detail: str = "") -> str:
    """Why software serves what the kernel has no equivalent of: the policy, or that."""
    if policy.get_backend() == policy.SOFTWARE:
        return _POLICY_REASON
    refusal = no_equivalent(python_name, detail)
    return f"{refusal.reason}: {refusal}"
