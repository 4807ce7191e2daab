"""``python -m kcapi_hashlib``: an alias of ``kcapi sum`` (see :mod:`kcapi_cli.sum`).

``python -m kcapi_hashlib [-a ALG] [--backend B] [--debug] [FILE|-]...`` prints
the lines ``sha256sum`` & co. print, hashed by the kernel where the policy
allows; every ``kcapi sum`` option works, and messages name this command.
``--debug`` says on standard error which kernel driver (or which software
fallback, and why) served the algorithm.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from kcapi_cli import sum as _sum

PROG = "python -m kcapi_hashlib"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``kcapi sum`` under this module's name.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).

    Returns:
        The exit status of ``kcapi sum``.
    """
    return _sum.main(sys.argv[1:] if argv is None else argv, prog=PROG)


if __name__ == "__main__":
    sys.exit(main())
