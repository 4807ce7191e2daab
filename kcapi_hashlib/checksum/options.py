"""The command line of ``kcapi sum``: coreutils' options, conflicts and messages.

Options and operands may be mixed as with getopt; a bad command line is
reported in coreutils' words and exits 1 (``Try 'kcapi sum --help' for more
information.``), not argparse's 2.  Option conflicts are checked in the
order coreutils checks them, so the same first complaint is printed.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

__all__ = ["PROG", "DEFAULT_ALGORITHM", "UsageError", "Options", "build_parser",
           "parse_options", "usage_conflict", "getopt_message", "split_operands"]

PROG = "kcapi sum"
DEFAULT_ALGORITHM = "sha256"


class UsageError(Exception):
    """A command-line error: coreutils prints it, then a "Try ... --help" line, and exits 1."""


class _Parser(argparse.ArgumentParser):
    """argparse with coreutils' reaction to a bad command line (exit 1, not 2)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(getopt_message(message))


def getopt_message(message: str) -> str:
    """Reword argparse's complaint about an unknown option as getopt (coreutils) words it.

    Args:
        message: argparse's error message.

    Returns:
        ``unrecognized option '--bogus'`` or ``invalid option -- 'x'`` for an
        unknown option; any other message unchanged.
    """
    prefix = "unrecognized arguments: "
    if message.startswith(prefix):
        first = message[len(prefix):].split(" ")[0]
        if first.startswith("--"):
            return f"unrecognized option '{first.split('=')[0]}'"
        if first.startswith("-") and len(first) > 1:
            return f"invalid option -- '{first[1]}'"
    return message


class _TagAction(argparse.Action):
    """``--tag``: BSD lines, and (as in coreutils) binary mode unless ``-t`` follows."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        namespace.tag = True
        namespace.binary = True


@dataclass
class Options:
    """The parsed command line.

    Attributes:
        algorithm: the hash name for ``kcapi_hashlib.new``.
        hmac_key_file: a file whose bytes key an HMAC, or ``None``.
        files: the operands (names as given; ``-`` is standard input).
        check: ``-c``: the operands are checksum files to verify.
        binary: ``True`` for ``-b`` (or ``--tag``), ``False`` for ``-t``, ``None`` if neither.
        tag: ``--tag``: BSD-style lines.
        zero: ``-z``: NUL-terminated lines, names unescaped.
        verbosity: ``None``, ``'quiet'``, ``'status'`` or ``'warn'`` (the last one given wins).
        strict: ``--strict``: improperly formatted lines make the exit status 1.
        ignore_missing: ``--ignore-missing``: no report for listed files that do not exist.
        debug: ``--debug``: say which implementation serves the algorithm.
        backend: ``--backend`` policy, or ``None`` to keep the environment's.
    """

    algorithm: str = DEFAULT_ALGORITHM
    hmac_key_file: str | None = None
    files: Sequence[str] = ()
    check: bool = False
    binary: bool | None = None
    tag: bool = False
    zero: bool = False
    verbosity: str | None = None
    strict: bool = False
    ignore_missing: bool = False
    debug: bool = False
    backend: str | None = None


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The argument parser of ``kcapi sum`` (coreutils' options plus ours).

    Args:
        prog: the program name shown in usage and messages.

    Returns:
        A parser whose ``error`` raises :class:`UsageError`.
    """
    parser = _Parser(prog=prog, description="Print or check checksums computed by the Linux "
                     "kernel crypto API; output as coreutils' sha256sum & co.",
                     epilog="With no FILE, or when FILE is -, read standard input.")
    parser.add_argument("-a", "--algorithm", default=DEFAULT_ALGORITHM, metavar="ALG",
                        help="hash name, as kcapi_hashlib.new takes it (default sha256)")
    parser.add_argument("--hmac", dest="hmac_key_file", metavar="KEYFILE",
                        help="HMAC keyed with the bytes of KEYFILE instead of a plain hash")
    parser.add_argument("-b", "--binary", dest="binary", action="store_const", const=True,
                        help="read in binary mode (marks lines with '*')")
    parser.add_argument("-c", "--check", action="store_true",
                        help="read checksums from the FILEs and check them")
    parser.add_argument("--tag", action=_TagAction, nargs=0, help="create a BSD-style checksum")
    parser.add_argument("-t", "--text", dest="binary", action="store_const", const=False,
                        help="read in text mode (default)")
    parser.add_argument("-z", "--zero", action="store_true",
                        help="end each output line with NUL, not newline, "
                             "and disable file name escaping")
    group = parser.add_argument_group("when verifying checksums")
    group.add_argument("--ignore-missing", action="store_true",
                       help="don't fail or report status for missing files")
    group.add_argument("--quiet", dest="verbosity", action="store_const", const="quiet",
                       help="don't print OK for each successfully verified file")
    group.add_argument("--status", dest="verbosity", action="store_const", const="status",
                       help="don't output anything, status code shows success")
    group.add_argument("--strict", action="store_true",
                       help="exit non-zero for improperly formatted checksum lines")
    group.add_argument("-w", "--warn", dest="verbosity", action="store_const", const="warn",
                       help="warn about improperly formatted checksum lines")
    extra = parser.add_argument_group("kcapi")
    extra.add_argument("--backend", choices=("auto", "kernel", "software"),
                       help="backend policy (default: $KCAPI_BACKEND, else auto)")
    extra.add_argument("--debug", action="store_true",
                       help="say on standard error which implementation serves the algorithm")
    parser.add_argument("files", nargs="*", metavar="FILE")
    parser.set_defaults(tag=False, binary=None, verbosity=None)
    return parser


def parse_options(argv: Sequence[str], prog: str = PROG) -> Options:
    """Parse ``argv`` (options and operands may be mixed, as with getopt).

    Raises:
        UsageError: an unknown option, a missing argument, a bad choice.
        SystemExit: ``--help`` was given (status 0, after printing the help).
    """
    parser = build_parser(prog)
    before, after = split_operands(parser, list(argv))
    ns = parser.parse_intermixed_args(before)
    ns.files = list(ns.files) + after
    return Options(algorithm=ns.algorithm, hmac_key_file=ns.hmac_key_file, files=ns.files,
                   check=ns.check, binary=ns.binary, tag=ns.tag, zero=ns.zero,
                   verbosity=ns.verbosity, strict=ns.strict, ignore_missing=ns.ignore_missing,
                   debug=ns.debug, backend=ns.backend)


def _takes_value(parser: argparse.ArgumentParser, token: str) -> tuple[bool, bool]:
    """Whether option ``token`` takes a value, and whether the value is in the token itself."""
    if token.startswith("--"):
        name, eq, _ = token.partition("=")
        strings = [s for s in parser._option_string_actions if s.startswith(name)]
        exact = parser._option_string_actions.get(name)
        action = exact or (parser._option_string_actions[strings[0]] if len(strings) == 1 else None)
        return (action is not None and action.nargs is None, bool(eq))
    for index, char in enumerate(token[1:], start=1):
        action = parser._option_string_actions.get("-" + char)
        if action is None or action.nargs is None:
            return action is not None, index + 1 < len(token)
    return False, False


def split_operands(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[list[str], list[str]]:
    """Split ``argv`` at the ``--`` that ends the options (not one that is an option's value).

    argparse's intermixed parsing does not stop at ``--``; getopt does, and
    everything after it is an operand (``kcapi sum -- -file``).

    Returns:
        The arguments before that ``--``, and the operands after it.
    """
    index = 0
    while index < len(argv):
        token = argv[index]
        if token == "--":
            return argv[:index], argv[index + 1:]
        if token.startswith("-") and len(token) > 1:
            takes, inline = _takes_value(parser, token)
            if takes and not inline:
                index += 1  # the next argument is this option's value
        index += 1
    return argv, []


def usage_conflict(opts: Options) -> str | None:
    """The first option conflict coreutils reports, in coreutils' order and words.

    Returns:
        The message, or ``None`` when the options go together.
    """
    if opts.tag and not opts.binary:
        return "--tag does not support --text mode"
    if opts.zero and opts.check:
        return "the --zero option is not supported when verifying checksums"
    if opts.tag and opts.check:
        return "the --tag option is meaningless when verifying checksums"
    if opts.binary is not None and opts.check:
        return "the --binary and --text options are meaningless when verifying checksums"
    if not opts.check:
        for flag, given in (("--ignore-missing", opts.ignore_missing),
                            ("--status", opts.verbosity == "status"),
                            ("--warn", opts.verbosity == "warn"),
                            ("--quiet", opts.verbosity == "quiet"),
                            ("--strict", opts.strict)):
            if given:
                return f"the {flag} option is meaningful only when verifying checksums"
    return None
