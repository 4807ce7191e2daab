"""A progress bar on standard error while a large file is hashed (tqdm).

Shown only when standard error is a terminal and the file is a regular file
larger than :data:`THRESHOLD`; never when standard error is piped or
redirected, so output captured by scripts is unchanged.

``kcapi_hashlib.file_digest`` splices a regular file into the kernel without
passing it through user space, which leaves nothing to count.  A file that
gets a bar is therefore read in chunks through :class:`CountingReader` (the
kernel still hashes it; only the copy through user space is extra).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, Protocol, TextIO

__all__ = ["THRESHOLD", "wanted", "CountingReader", "bar"]

#: Files up to this size (bytes) never get a bar.
THRESHOLD = 64 * 1024 * 1024


def regular_size(f: BinaryIO) -> int | None:
    """The size of ``f`` if it is a regular file, else ``None``.

    Args:
        f: an open binary file (one without a descriptor counts as not regular).

    Returns:
        The file's size in bytes from ``fstat``, or ``None``.
    """
    try:
        st = os.fstat(f.fileno())
    except (OSError, AttributeError, ValueError):
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def wanted(stream: TextIO | None, size: int | None, threshold: int | None = None) -> bool:
    """Whether a bar should be drawn for a file of ``size`` bytes on ``stream``.

    Args:
        stream: where the bar would go (standard error).
        size: the file's size, ``None`` when it is not a regular file.
        threshold: the size a file must exceed (default :data:`THRESHOLD`).

    Returns:
        ``True`` only for a large regular file and a terminal ``stream``.
    """
    limit = THRESHOLD if threshold is None else threshold
    if size is None or size <= limit or stream is None:
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class _Readable(Protocol):
    def readinto(self, buffer: Any, /) -> int | None: ...


class CountingReader:
    """A binary reader that reports every chunk it reads to a callback.

    It has ``readinto`` and ``readable`` but no ``fileno``, so
    ``file_digest`` reads it in chunks instead of splicing it.

    Args:
        raw: the underlying binary file.
        advance: called with the byte count of each chunk read.
    """

    def __init__(self, raw: _Readable, advance: Any):
        self._raw = raw
        self._advance = advance

    def readable(self) -> bool:
        """Always ``True``: this object exists to be read."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Read into ``buffer``, report the count, and return it (0 at end of file)."""
        size = self._raw.readinto(buffer) or 0
        if size:
            self._advance(size)
        return size


@contextmanager
def bar(stream: TextIO, size: int, label: str) -> Iterator[Any]:
    """A tqdm bar for ``size`` bytes on ``stream``, removed when the block ends.

    Args:
        stream: the terminal to draw on.
        size: the total byte count.
        label: the file's name, shown before the bar.

    Yields:
        The bar's ``update`` method.
    """
    from tqdm import tqdm  # imported only when a bar is drawn

    with tqdm(total=size, desc=label, unit="B", unit_scale=True, unit_divisor=1024,
              leave=False, file=stream, dynamic_ncols=True) as progress:
        yield progress.update
