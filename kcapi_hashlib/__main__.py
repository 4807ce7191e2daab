"""``python -m kcapi_hashlib``: the checksum command (:mod:`kcapi_hashlib.checksum`).

``python -m kcapi_hashlib [-a ALG] [--backend B] [--debug] [FILE|-]...`` prints
the lines ``sha256sum`` & co. print, hashed by the kernel where the policy
allows; it takes every option ``kcapi sum`` takes (the same command), and its
messages name this command.  ``--debug`` says on standard error which kernel
driver (or which software fallback, and why) served the algorithm.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .checksum import main as _checksum_main

PROG = "python -m kcapi_hashlib"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the checksum command under this module's name.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).

    Returns:
        The command's exit status.
    """
    return _checksum_main(sys.argv[1:] if argv is None else argv, prog=PROG)


if __name__ == "__main__":
    sys.exit(main())
