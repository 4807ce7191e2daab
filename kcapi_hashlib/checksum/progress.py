"""A progress bar on standard error while a large file is hashed (tqdm).

Shown only when standard error is a terminal and the file is a regular file
larger than :data:`THRESHOLD`; never when standard error is piped or
redirected, so output captured by scripts is unchanged.

``kcapi_hashlib.file_digest`` reports each spliced (or read) chunk through
its private ``_progress`` hook, so a file with a bar is still spliced.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, TextIO

__all__ = ["THRESHOLD", "wanted", "bar"]

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
