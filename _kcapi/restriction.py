"""What ``/proc/sys/crypto/af_alg_restrict`` (Linux 7.3+) lets this process bind.

With the setting at 1 (the default where it exists), ``bind()`` of a name off
its AF_ALG type's allow-list fails with ENOENT, exactly as for an algorithm the
kernel lacks; at 2, ``socket(AF_ALG)`` fails with EAFNOSUPPORT, exactly as on a
kernel without AF_ALG.  The errno alone cannot tell these apart: the setting,
the allow-lists below (``crypto/algif_*.c``) and this process's capabilities
can.  Nothing here makes a system call of the AF_ALG kind; it reads two files
of ``/proc``, at the moment a refusal needs explaining.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SYSCTL", "setting", "privileged", "allowed", "explain_bind", "explain_socket"]

SYSCTL = Path("/proc/sys/crypto/af_alg_restrict")
STATUS = Path("/proc/self/status")
UID_MAP = Path("/proc/self/uid_map")

#: Names any process may bind under ``af_alg_restrict=1``.
ANYONE: dict[str, frozenset[str]] = {
    "hash": frozenset({"sha1"}),
    "skcipher": frozenset({"xts(aes)", "xts(camellia)", "xts(serpent)", "xts(twofish)",
                          "hctr2(aes)", "adiantum(xchacha12,aes)", "adiantum(xchacha20,aes)"}),
}

#: Names a privileged process (CAP_NET_ADMIN in the initial user namespace, or
#: CAP_SYS_ADMIN) may bind as well under ``af_alg_restrict=1``.
PRIVILEGED: dict[str, frozenset[str]] = {
    "hash": frozenset({"md4", "md5", "sha224", "sha256", "sha384", "sha512", "cmac(aes)",
                      "hmac(md5)", "hmac(sha1)", "hmac(sha224)", "hmac(sha256)",
                      "hmac(sha384)", "hmac(sha512)"}),
    "skcipher": frozenset({"ecb(aes)", "cbc(aes)", "ctr(aes)", "cbc(paes)", "ecb(des)",
                          "cbc(des)", "cbc(des3_ede)"}),
    "aead": frozenset({"ccm(aes)"}),
}

CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21
_CAPABILITIES = "CAP_NET_ADMIN or CAP_SYS_ADMIN"


def setting() -> int | None:
    """The value of ``af_alg_restrict``, or ``None`` where the kernel has no such setting."""
    try:
        return int(SYSCTL.read_text().strip())
    except (OSError, ValueError):
        return None


def _effective_capabilities() -> int:
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _in_initial_user_namespace() -> bool:
    try:
        return UID_MAP.read_text().split() == ["0", "0", "4294967295"]
    except OSError:
        return True


def privileged() -> bool:
    """Whether this process counts as privileged for the allow-lists."""
    caps = _effective_capabilities()
    if caps >> CAP_SYS_ADMIN & 1:
        return True
    return bool(caps >> CAP_NET_ADMIN & 1) and _in_initial_user_namespace()


def allowed(kind: str, name: str, is_privileged: bool) -> bool:
    """Whether ``af_alg_restrict=1`` lets a process bind ``name`` of AF_ALG type ``kind``."""
    if name in ANYONE.get(kind, ()):
        return True
    return is_privileged and name in PRIVILEGED.get(kind, ())


def explain_bind(kind: str, name: str) -> str | None:
    """Why bind() of ``name`` failed with ENOENT, when the restriction explains it.

    Returns ``None`` where it does not (no setting, setting 0, or a name this
    process may bind: then the kernel lacks the algorithm).
    """
    value = setting()
    if not value:
        return None
    is_privileged = privileged()
    if allowed(kind, name, is_privileged):
        return None
    where = f"{SYSCTL}={value}"
    if name in PRIVILEGED.get(kind, ()):
        return (f"AF_ALG is restricted to an allow-list ({where}): '{name}' may be bound only "
                f"by a process with {_CAPABILITIES}, which this one lacks")
    return (f"AF_ALG is restricted to an allow-list ({where}) that does not have {kind} "
            f"'{name}'; only {SYSCTL}=0 would allow it")


def explain_socket() -> str | None:
    """Why socket(AF_ALG) failed with EAFNOSUPPORT, when the setting explains it."""
    value = setting()
    if value is not None and value >= 2:
        return f"AF_ALG sockets are switched off ({SYSCTL}={value})"
    return None
