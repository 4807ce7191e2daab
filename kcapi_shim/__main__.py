"""``python -m kcapi_shim``: the runner behind ``kcapi run`` (see :mod:`kcapi_shim.run`).

``python -m kcapi_shim [--backend B] SCRIPT [ARG...]`` or ``python -m
kcapi_shim [--backend B] -m MODULE [ARG...]`` runs an unchanged program with
kcapi serving its ``hashlib``, ``hmac`` and PyCryptodome imports; messages
name this command.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from . import run as _run

PROG = "python -m kcapi_shim"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``kcapi run`` under this module's name.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).

    Returns:
        The program's exit status (2 for a bad command line).
    """
    return _run.main(sys.argv[1:] if argv is None else argv, prog=PROG)


if __name__ == "__main__":
    sys.exit(main())
