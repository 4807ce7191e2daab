"""``kcapi``: the command-line tools, ``kcapi doctor``, ``kcapi sum`` and ``kcapi run``.

``kcapi doctor [--json]`` says what this kernel's crypto API gives this
process; ``kcapi sum`` is ``sha256sum`` & co. served by the kernel
(:mod:`kcapi_hashlib.checksum`, the library's own command); ``kcapi
run`` runs an unchanged Python program with kcapi serving its hashlib, hmac
and PyCryptodome imports (:mod:`kcapi_shim`).  Each
subcommand parses its own arguments (``kcapi sum --help``); the installed
``kcapi`` script and ``python -m kcapi_cli`` both land in :func:`main`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

__all__ = ["main"]


def _doctor(args: list[str]) -> int:
    from . import doctor

    return doctor.main(args)


def _sum(args: list[str]) -> int:
    from kcapi_hashlib import checksum

    return checksum.main(args)


def _run(args: list[str]) -> int:
    from kcapi_shim import run

    return run.main(args)


#: Subcommand -> (one-line help, entry point taking the remaining arguments).
COMMANDS: dict[str, tuple[str, Callable[[list[str]], int]]] = {
    "doctor": ("report whether AF_ALG works here and who serves each algorithm", _doctor),
    "sum": ("print or check checksums, as sha256sum & co. (-a ALG)", _sum),
    "run": ("run a Python program unchanged, its hashlib, hmac and PyCryptodome "
            "served by kcapi", _run),
}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser: a subcommand, and everything after it passed on untouched.

    Returns:
        A parser producing ``command`` and ``args``.
    """
    parser = argparse.ArgumentParser(
        prog="kcapi", description="hashlib and ciphers served by the Linux kernel crypto API "
        "(AF_ALG): diagnostics, checksums, and running programs on it.",
        epilog="Run 'kcapi COMMAND --help' for a command's options.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (summary, _) in COMMANDS.items():
        # Every argument after the command word is the command's own: no prefix
        # characters here, so options such as '-a' reach it unparsed.
        sub = commands.add_parser(name, help=summary, add_help=False, prefix_chars="\0")
        sub.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``kcapi COMMAND [ARGS...]``.

    Args:
        argv: the arguments after the program name (default ``sys.argv[1:]``).

    Returns:
        The command's exit status (2 for a missing or unknown command).
    """
    try:
        ns = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    except SystemExit as exc:  # --help, or a bad command word
        return exc.code if isinstance(exc.code, int) else 2
    return COMMANDS[ns.command][1](list(ns.args))


if __name__ == "__main__":
    sys.exit(main())
