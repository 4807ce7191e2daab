"""Error types, and the translation of kernel refusals into them."""

from __future__ import annotations

import errno as _errno
import os

from . import restriction

__all__ = ["KernelUnavailableError", "refusal"]

#: Reason codes carried by :class:`KernelUnavailableError`.
NO_AF_ALG = "no-af-alg"
BLOCKED = "blocked"
MISSING = "missing"
RESTRICTED = "restricted"
REFUSED = "refused"
NO_EQUIVALENT = "no-kernel-equivalent"
NEEDS_NEWER_KERNEL = "needs-newer-kernel"
KEYRING_NEEDS_KERNEL = "keyring-needs-kernel"
SOFTWARE_POLICY = "software-policy"
NO_CRYPTODEV = "no-cryptodev"
INTERFACE_LACKS = "interface-lacks"


class KernelUnavailableError(OSError, ValueError):
    """The kernel cannot serve an algorithm, and the policy forbids the fallback.

    It is an ``OSError`` (``errno`` is the kernel's answer, or ``None`` when no
    system call was made) and a ``ValueError``, which is what ``hashlib`` and
    PyCryptodome raise for an algorithm they do not have.

    Attributes:
        reason: a short code -- ``'no-af-alg'`` (no socket family: not built,
            ``af_alg_restrict=2``, systemd RestrictAddressFamilies), ``'blocked'``
            (seccomp: EPERM, a security module: EACCES), ``'restricted'`` (off
            ``af_alg_restrict``'s allow-list for this process), ``'missing'``,
            ``'refused'``, ``'no-kernel-equivalent'``, ``'needs-newer-kernel'``,
            ``'keyring-needs-kernel'``, ``'software-policy'``, ``'no-cryptodev'``
            (no ``/dev/crypto``: cryptodev-linux is not loaded) or
            ``'interface-lacks'`` (the chosen kernel interface has no such algorithm:
            ``/dev/crypto`` offers a fixed list).
        algorithm: the kernel algorithm name, or the Python name when the
            kernel has no equivalent.
        step: the system call that was refused: ``'socket'``, ``'bind'``,
            ``'setkey'``, ... (``''`` when none was made).
    """

    def __init__(self, err: int | None, message: str, *, reason: str, algorithm: str,
                 step: str = ""):
        if err is None:
            super().__init__(message)
        else:
            super().__init__(err, message)
        self.reason = reason
        self.algorithm = algorithm
        self.step = step

    def fresh(self) -> KernelUnavailableError:
        """A new, never-raised copy: raise this instead of a cached refusal.

        Raising an exception attaches the raiser's frames to it; a cached one
        raised again and again would keep every caller's variables (keys, data)
        alive until interpreter shutdown.
        """
        text = self.strerror if self.errno is not None else (self.args[0] if self.args else "")
        return KernelUnavailableError(self.errno, str(text), reason=self.reason,
                                      algorithm=self.algorithm, step=self.step)

    def __str__(self) -> str:
        text = self.strerror or (self.args[0] if self.args else "")
        if self.errno is None:
            return text
        return f"{text} [errno {self.errno}: {_errno.errorcode.get(self.errno, '?')}]"


def refusal(exc: OSError, step: str, kind: str, name: str) -> KernelUnavailableError:
    """Explain why the kernel refused ``step`` ('socket', 'bind', 'setkey') for an algorithm.

    Args:
        exc: the ``OSError`` the system call raised.
        step: which call failed.
        kind: the AF_ALG type ('hash', 'skcipher', 'aead', 'rng').
        name: the kernel algorithm name.

    Returns:
        A :class:`KernelUnavailableError` naming the reason and keeping the errno.
    """
    err = exc.errno
    what = f"{kind} algorithm '{name}'"
    if step == "socket":
        if err == _errno.EAFNOSUPPORT:
            reason, text = NO_AF_ALG, restriction.explain_socket() or (
                "this kernel has no AF_ALG sockets (CONFIG_CRYPTO_USER_API is not built, "
                "the af_alg module cannot be loaded, or a systemd "
                "RestrictAddressFamilies= setting removes the family)")
        elif err in (_errno.EPERM, _errno.ENOSYS):
            reason, text = BLOCKED, (
                "a seccomp filter refuses socket(AF_ALG) in this process (container "
                "runtimes' default profiles do)")
        elif err == _errno.EACCES:
            reason, text = BLOCKED, (
                "a security module (AppArmor, SELinux) forbids socket(AF_ALG) to this process")
        else:
            reason, text = REFUSED, f"socket(AF_ALG) failed: {os.strerror(err or 0)}"
        text = f"the kernel cannot serve {what}: {text}"
    elif err == _errno.ENOENT:
        restricted = restriction.explain_bind(kind, name) if step == "bind" else None
        if restricted:
            reason, text = RESTRICTED, f"the kernel will not serve {what} here: {restricted}"
        else:
            reason, text = MISSING, (
                f"the kernel has no {what} (not built, or its module is missing or "
                "blacklisted)")
    elif err == _errno.EPERM:
        reason, text = BLOCKED, f"a seccomp filter refuses {step} of {what}"
    elif err == _errno.EACCES:
        reason, text = BLOCKED, f"a security module forbids {step} of {what}"
    else:
        reason, text = REFUSED, f"the kernel refused {step} of {what}: {os.strerror(err or 0)}"
    return KernelUnavailableError(err, text, reason=reason, algorithm=name, step=step)


def cryptodev_refusal(exc: OSError, step: str, kind: str, name: str,
                      device: str) -> KernelUnavailableError:
    """Explain why ``/dev/crypto`` refused ``step`` ('open', 'session') for an algorithm.

    Args:
        exc: the ``OSError`` the system call raised.
        step: ``'open'`` (the device) or ``'session'`` (CIOCGSESSION without a key
            of the caller's: the probe).
        kind: the type ('hash', 'skcipher', 'aead').
        name: the kernel algorithm name.
        device: the device's path.
    """
    err = exc.errno
    what = f"{kind} algorithm '{name}' through {device}"
    if step == "open":
        if err in (_errno.ENOENT, _errno.ENODEV, _errno.ENXIO):
            reason, text = NO_CRYPTODEV, (
                f"there is no {device} (the cryptodev-linux driver is not loaded: "
                "modprobe cryptodev, or a kernel with it built in)")
        elif err in (_errno.EACCES, _errno.EPERM):
            reason, text = BLOCKED, (
                f"this process may not open {device} (its permissions, a security module "
                "or a device cgroup forbid it)")
        else:
            reason, text = REFUSED, f"opening {device} failed: {os.strerror(err or 0)}"
        text = f"the kernel cannot serve {what}: {text}"
    elif err in (_errno.EINVAL, _errno.ENOENT, getattr(_errno, "ENOTSUP", 95), 524):
        # cryptodev-linux answers EINVAL when crypto_alloc_*() fails (524: ENOTSUPP).
        reason, text = MISSING, (
            f"the kernel has no {what} (the driver could not allocate it: not built, "
            "or its module is missing)")
    else:
        reason, text = REFUSED, f"the kernel refused a session for {what}: {os.strerror(err or 0)}"
    return KernelUnavailableError(err, text, reason=reason, algorithm=name, step=step)


def interface_lacks(kind: str, name: str, interface: str, offered: str) -> KernelUnavailableError:
    """The error for an algorithm the chosen kernel interface does not offer at all."""
    return KernelUnavailableError(
        None, f"the kernel interface {interface} has no {kind} algorithm '{name}' "
        f"(it offers {offered})", reason=INTERFACE_LACKS, algorithm=name)


def no_equivalent(python_name: str, detail: str = "") -> KernelUnavailableError:
    """The error for an algorithm or parameter set the kernel crypto API does not offer."""
    text = f"the kernel crypto API has no equivalent of '{python_name}'"
    if detail:
        text += f" ({detail})"
    return KernelUnavailableError(None, text, reason=NO_EQUIVALENT, algorithm=python_name)


def whole_messages_only(label: str, part: KernelUnavailableError,
                        one_shot: str) -> KernelUnavailableError:
    """The error for an AEAD call only the composed path serves, where a part of it is refused.

    Linux 7.2 made ``ghash`` and ``poly1305`` library code: the kernel still has
    ``gcm(aes)`` and ``rfc7539(chacha20,poly1305)``, which take whole messages only.
    The reason and errno are those of the refused part.
    """
    text = part.strerror if part.errno is not None else str(part)
    return KernelUnavailableError(
        part.errno, f"{label} in pieces, or past one kernel request, needs {part.algorithm!r}, "
        f"which the kernel cannot serve here ({text}); whole messages in one call "
        f"(encrypt_and_digest(), decrypt_and_verify()) are served by its {one_shot!r}",
        reason=part.reason, algorithm=part.algorithm, step=part.step)


def keyring_refusal(exc: OSError, key: object, name: str) -> OSError:
    """Explain why keying ``name`` from a keyring key failed (ALG_SET_KEY_BY_KEY_SERIAL).

    Returns:
        :class:`KernelUnavailableError` (``needs-newer-kernel``) when the kernel
        does not know the option; ``PermissionError`` without search permission;
        ``ValueError`` for a key type or size the algorithm cannot take; else an
        ``OSError`` with the errno and the key named.
    """
    err = exc.errno or 0
    what = f"{key!r} for '{name}'"
    if err in (_errno.ENOPROTOOPT, _errno.ENOSYS):
        return KernelUnavailableError(
            err, f"keying {what} needs Linux 6.2 or newer (ALG_SET_KEY_BY_KEY_SERIAL); "
            "this kernel does not know that option", reason=NEEDS_NEWER_KERNEL, algorithm=name)
    if err == _errno.EACCES:
        return PermissionError(err, f"this process may not search {what} in the keyring "
                               "(the key lacks search permission for it)")
    if err in (_errno.EPROTO, _errno.EINVAL):
        return ValueError(f"the kernel cannot key '{name}' from {key!r}: only 'user' and "
                          "'logon' keys of a size the algorithm takes can be used "
                          f"({os.strerror(err)})")
    return OSError(err, f"cannot key {what}: {os.strerror(err)}")


def keyring_needs_kernel(key: object, name: str, why: str,
                         err: int | None = None) -> KernelUnavailableError:
    """The error for a keyring key where the kernel cannot serve: no fallback can read it."""
    return KernelUnavailableError(
        err, f"{key!r} can only be used by the kernel, which cannot serve '{name}' here: {why}",
        reason=KEYRING_NEEDS_KERNEL, algorithm=name)


def drbg_entropy_refusal(exc: OSError, name: str) -> OSError:
    """Explain why setting a DRBG's test entropy (ALG_SET_DRBG_ENTROPY) failed."""
    err = exc.errno or 0
    if err in (_errno.ENOPROTOOPT, _errno.ENOSYS):
        return KernelUnavailableError(
            err, f"test entropy for '{name}' needs a kernel built with "
            "CONFIG_CRYPTO_USER_API_RNG_CAVP (ALG_SET_DRBG_ENTROPY, Linux 5.13 or newer); "
            "this kernel does not know that option", reason=NEEDS_NEWER_KERNEL,
            algorithm=name, step="setentropy")
    if err == _errno.EACCES:
        return PermissionError(err, f"setting test entropy for '{name}' needs CAP_SYS_ADMIN")
    if err == _errno.EMSGSIZE:
        return ValueError(f"test entropy for '{name}' is too long for the kernel (at most 128 bytes)")
    return OSError(err, f"cannot set test entropy for '{name}': {os.strerror(err)}")
