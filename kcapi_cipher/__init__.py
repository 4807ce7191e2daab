"""PyCryptodome-style ciphers served by the Linux kernel crypto API (AF_ALG or /dev/crypto).

``from kcapi_cipher import AES`` replaces ``from Crypto.Cipher import AES``
(likewise ``DES3``, ``ChaCha20``, ``ChaCha20_Poly1305``, ``CMAC``, ``Random``).
Each object is served by the kernel when the backend policy and the kernel
allow it, and otherwise *is* PyCryptodome's object (the software fallback);
:func:`backend_info` tells, for any cipher object, which served it and why.

Keys may live in the kernel keyring: a :class:`KeyringKey` is accepted wherever
a key is, and such an object is always kernel-served (no software can use a
key this process never reads; see :mod:`_kcapi.keyring`).

Policy: ``KCAPI_BACKEND=auto|kernel|software`` in the environment, or
:func:`set_backend` / :func:`use_backend`.  The kernel interface (AF_ALG sockets or
``/dev/crypto``): ``KCAPI_INTERFACE=auto|af_alg|cryptodev``, or :func:`set_interface` /
:func:`use_interface`.  Nothing here opens a socket at
import time: algorithms are probed when an object first needs them.
"""

from _kcapi.errors import KernelUnavailableError
from _kcapi.keyring import KeyringKey
from _kcapi.policy import (get_backend, get_interface, set_backend, set_interface,
                           use_backend, use_interface)
from _kcapi.backend_info import BackendInfo

from ._routing import backend_info

__all__ = ["backend_info", "get_backend", "set_backend", "use_backend",
           "get_interface", "set_interface", "use_interface",
           "KernelUnavailableError", "BackendInfo", "KeyringKey"]
