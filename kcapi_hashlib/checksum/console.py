"""Where ``kcapi sum`` writes: output as bytes, diagnostics with the program name.

coreutils line-buffers standard output, so its lines and its diagnostics
interleave in order on a shared terminal or pipe; :class:`Console` flushes
each write for the same effect.
"""

from __future__ import annotations

import sys
from typing import TextIO

__all__ = ["Console"]


class Console:
    """Standard output (bytes, written line by line) and diagnostics with the program name.

    coreutils line-buffers standard output, so its lines and its diagnostics
    interleave in order on a shared terminal or pipe; so do these.

    Args:
        prog: the diagnostic prefix (``kcapi sum``).
        stdout: the text stream whose ``buffer`` receives the output (default ``sys.stdout``).
        stderr: the stream for diagnostics and progress bars (default ``sys.stderr``).
    """

    def __init__(self, prog: str, stdout: TextIO | None = None, stderr: TextIO | None = None):
        self.prog = prog
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr

    def out(self, data: bytes) -> None:
        """Write one or more complete lines to standard output and flush them."""
        buffer = getattr(self.stdout, "buffer", None)
        if buffer is not None:
            self.stdout.flush()
            buffer.write(data)
            buffer.flush()
        else:
            self.stdout.write(data.decode("utf-8", "surrogateescape"))
            self.stdout.flush()

    def error(self, message: str) -> None:
        """Print ``<prog>: <message>`` on standard error."""
        self.stdout.flush()
        line = f"{self.prog}: {message}\n"
        buffer = getattr(self.stderr, "buffer", None)
        if buffer is not None:
            self.stderr.flush()
            buffer.write(line.encode("utf-8", "surrogateescape"))
            buffer.flush()
        else:
            self.stderr.write(line)
            self.stderr.flush()
