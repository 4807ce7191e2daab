"""Who served an object: the answer of every ``backend_info``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BackendInfo:
    """Who served an object, and why.

    Attributes:
        backend: ``'kernel'`` or ``'software'``.
        algorithm: the kernel algorithm name (``'hmac(sha256)'``), if any.
        driver: the kernel driver (``'sha256-generic'``) or the software library.
        priority: the kernel driver's priority (0 for software).
        implementation: ``'generic'``, ``'arch'``, ``'offload'`` or ``'software'``.
        reason: why software served it ('' for the kernel).
        interface: the door into the kernel: ``'af_alg'`` (sockets) or ``'cryptodev'``
            (``/dev/crypto``); ``''`` for software.
    """

    backend: str
    algorithm: str
    driver: str
    priority: int = 0
    implementation: str = "software"
    reason: str = ""
    interface: str = ""
