"""Running out of descriptors (EMFILE/ENFILE): give the caches' back, try once more, explain.

The caches hold descriptors only to save system calls (idle pooled op sockets,
keyed transforms no object uses): :func:`new_descriptor` asks them back
(:func:`_kcapi.transform.reclaim_descriptors`) when a call creating a descriptor
fails for want of one.  Running out is never a refusal of the algorithm: it is
never cached, and the error says which objects hold descriptors.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE)


def new_descriptor(call: Callable[..., T], *args: object) -> T:
    """``call(*args)``, a syscall returning a new descriptor; out of descriptors,
    the caches give theirs back and it is tried once more.

    Raises:
        OSError: still EMFILE/ENFILE (explained: :func:`out_of_descriptors`),
            or any other error of ``call``.
    """
    from . import transform  # the caches, which create descriptors through here

    attempts = 2  # the second only if the caches gave descriptors back
    while True:
        try:
            return call(*args)
        except OSError as exc:
            attempts -= 1
            if exc.errno not in OUT_OF_DESCRIPTORS:
                raise
            if not attempts or not transform.reclaim_descriptors():
                raise out_of_descriptors(exc) from None


def out_of_descriptors(exc: OSError) -> OSError:
    """EMFILE/ENFILE, explained: which objects hold descriptors and what to do."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return OSError(exc.errno, f"{os.strerror(exc.errno or 0)}: every hash object holding more than "
                   "16 KiB of unfinished input keeps a kernel socket open, and so does every "
                   "distinct key in use (HMAC, cipher and CMAC objects share one bound socket "
                   "per key; objects keyed from the keyring have one each); the limit here is "
                   f"RLIMIT_NOFILE={soft}. Finish (digest) or drop "
                   "objects, or raise the limit. The object that raised is unchanged.")
