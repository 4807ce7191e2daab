"""The process's one descriptor of ``/dev/crypto``, opened on first use.

Sessions belong to the open file: every transform of the process makes its
sessions on this one descriptor.  A refusal to open it (no device, no
permission) is explained once (:func:`_kcapi.errors.cryptodev_refusal`) and
cached until :func:`forget`.  ``KCAPI_CRYPTODEV_DEVICE`` names another path
(read when the device is first opened).

After ``fork()`` parent and child share the open file, hence its sessions: see
:mod:`.tfm` for who may free which.
"""

from __future__ import annotations

import os
import threading

from .. import _syscalls
from ..descriptors import OUT_OF_DESCRIPTORS, new_descriptor
from ..errors import cryptodev_refusal
from .abi import DEVICE

PATH_ENV_VAR = "KCAPI_CRYPTODEV_DEVICE"

_lock = threading.Lock()
_fd: int | None = None
_refused: tuple[int, str] | None = None  # (errno, path) of the failed open


def path() -> str:
    """The device's path."""
    return os.environ.get(PATH_ENV_VAR, "").strip() or DEVICE


def descriptor(kind: str, name: str) -> int:
    """The device's descriptor (opened on first use).

    Raises:
        KernelUnavailableError: the device cannot be opened (``no-cryptodev``,
            ``blocked``, ``refused``); cached, so later calls make no system call.
        OSError: out of descriptors (not cached).
    """
    global _fd, _refused
    fd = _fd
    if fd is not None:
        return fd
    with _lock:
        if _fd is None:
            if _refused is not None:
                err, where = _refused
                raise cryptodev_refusal(OSError(err, os.strerror(err)), "open", kind, name, where)
            where = path()
            try:
                _fd = new_descriptor(_syscalls.kernel.open_device, where)
            except OSError as exc:
                if exc.errno in OUT_OF_DESCRIPTORS:
                    raise
                _refused = (exc.errno or 0, where)
                raise cryptodev_refusal(exc, "open", kind, name, where) from None
        return _fd


def current() -> int:
    """The open descriptor (a session exists, so the device is open)."""
    fd = _fd
    if fd is None:
        raise OSError(9, "/dev/crypto is not open in this process")
    return fd


def is_open() -> bool:
    """Whether the device is open in this process."""
    return _fd is not None


def forget() -> None:
    """Forget a cached refusal (a test, or a driver loaded since); an open descriptor stays."""
    global _refused
    with _lock:
        _refused = None


def after_fork_in_child() -> None:
    """In a forked child: a fresh lock (the descriptor is shared with the parent, and kept)."""
    global _lock
    _lock = threading.Lock()
