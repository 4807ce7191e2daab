"""Keys held by the kernel keyring, usable wherever a key is accepted.

A :class:`KeyringKey` names a ``user`` or ``logon`` key by its serial.  The
library hands the serial to the kernel (``ALG_SET_KEY_BY_KEY_SERIAL``, Linux
6.2+), which copies the key from the keyring into the transform: the key bytes
never enter this process.  Consequently no software fallback can use such a
key, and an object keyed by one is always served by the kernel or not at all.
"""

from __future__ import annotations

import errno

from . import _syscalls

__all__ = ["KeyringKey", "KEY_SPEC_PROCESS_KEYRING", "KEY_SPEC_SESSION_KEYRING",
           "KEY_SPEC_USER_KEYRING", "KEY_SPEC_THREAD_KEYRING"]

KEY_SPEC_THREAD_KEYRING = -1
KEY_SPEC_PROCESS_KEYRING = -2
KEY_SPEC_SESSION_KEYRING = -3
KEY_SPEC_USER_KEYRING = -4

KEYCTL_REVOKE = 3
KEYCTL_SETPERM = 5
KEYCTL_DESCRIBE = 6
KEYCTL_SEARCH = 10
KEYCTL_INVALIDATE = 21


class KeyringKey:
    """A key in the kernel keyring, named by its serial number.

    Args:
        serial: the key's serial (as ``keyctl show`` or ``add_key`` report it).
        description: a label for messages (optional; never the key itself).
    """

    __slots__ = ("serial", "description")

    def __init__(self, serial: int, description: str = ""):
        if not isinstance(serial, int) or isinstance(serial, bool):
            raise TypeError(f"serial must be an int, not {type(serial).__name__}")
        self.serial = serial
        self.description = description

    @classmethod
    def add(cls, payload: bytes, description: str, key_type: str = "user",
            keyring: int = KEY_SPEC_PROCESS_KEYRING) -> KeyringKey:
        """Add a key to a keyring (``add_key(2)``) and name it.

        Args:
            payload: the key bytes (they pass through this process once, here).
            description: the key's description; a ``logon`` key needs a
                ``prefix:`` form, e.g. ``"kcapi:mykey"``.
            key_type: ``'user'`` (readable back by its owner) or ``'logon'`` (never).
            keyring: where to link it (default: this process's keyring).

        Raises:
            OSError: the kernel refused (errno kept), e.g. EINVAL for a bad description.
        """
        serial = _syscalls.kernel.add_key(key_type, description, bytes(payload), keyring)
        return cls(serial, description)

    @classmethod
    def search(cls, description: str, key_type: str = "user",
               keyring: int = KEY_SPEC_PROCESS_KEYRING) -> KeyringKey:
        """Find a key by type and description in ``keyring`` and the keyrings it links.

        Raises:
            KeyError: no such key can be found (or searched) from here.
        """
        try:
            serial = _syscalls.kernel.keyctl(KEYCTL_SEARCH, keyring, key_type, description, 0)
        except OSError as exc:
            if exc.errno in (errno.ENOKEY, errno.EACCES, errno.EKEYREVOKED, errno.EKEYEXPIRED):
                raise KeyError(f"no {key_type} key {description!r} found: {exc.strerror}") from None
            raise
        return cls(serial, description)

    def revoke(self) -> None:
        """Revoke the key (``KEYCTL_REVOKE``): no transform can be keyed from it any more."""
        _syscalls.kernel.keyctl(KEYCTL_REVOKE, self.serial)

    def set_permissions(self, perm: int) -> None:
        """Set the key's permission mask (``KEYCTL_SETPERM``)."""
        _syscalls.kernel.keyctl(KEYCTL_SETPERM, self.serial, perm)

    def __repr__(self) -> str:
        label = f" {self.description!r}" if self.description else ""
        return f"<KeyringKey {self.serial}{label}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeyringKey) and other.serial == self.serial

    def __hash__(self) -> int:
        return hash(("KeyringKey", self.serial))
