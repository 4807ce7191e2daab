"""Splicing a file object into a kernel hash: only where that reads exactly its bytes.

``file_digest`` may bypass Python's I/O only for an object whose reads return
exactly the bytes of its descriptor from its position on: an ``io.FileIO``, or
an ``io.BufferedReader``/``io.BufferedRandom`` over one (its position accounts
for bytes it has buffered), of a regular file.  Subclasses (which may override
``read``), decompressing readers (``gzip``, ``bz2``, ``lzma``: their
``fileno()`` is the compressed file's), archive members, sockets and pipes are
read like any other object.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable
from typing import Any

from _kcapi.atomic import is_interrupt
from _kcapi.hash import KernelHash, splice_file as kernel_splice_file

_BUFFERED = (io.BufferedReader, io.BufferedRandom)


def _descriptor(fileobj: Any) -> int | None:
    """The descriptor whose bytes ``fileobj`` reads unchanged, or ``None``."""
    kind = type(fileobj)
    if kind is io.FileIO:
        raw = fileobj
    elif kind in _BUFFERED:
        raw = fileobj.raw
        if type(raw) is not io.FileIO:
            return None
    else:
        return None
    fd = raw.fileno()
    if not stat.S_ISREG(os.fstat(fd).st_mode) or not fileobj.seekable():
        return None
    return fd  # type: ignore[no-any-return]


def splice_file(fileobj: Any, digestobj: KernelHash,
                progress: Callable[[int], object] | None) -> bool:
    """Splice ``fileobj`` from its position into ``digestobj`` and leave it at its end.

    Returns:
        ``True`` when the whole rest of the file was hashed; ``False`` when the
        object is not one to splice, or splicing stopped early (the caller reads
        the rest from the position reached).
    """
    try:
        fd = _descriptor(fileobj)
        if fd is None:
            return False
        if type(fileobj) is io.BufferedRandom:
            fileobj.flush()  # written bytes still buffered: reading would write them first
        start = fileobj.tell()
    except (OSError, AttributeError, ValueError) as exc:
        if is_interrupt(exc):  # a signal handler's TimeoutError, say: not an answer
            raise
        return False
    spliced = kernel_splice_file(digestobj, fd, start, progress)
    if spliced is None:
        return False  # nothing moved (e.g. a file system without splice): read it instead
    end, complete = spliced
    fileobj.seek(end)
    return complete
