"""``kcapi sum``: ``sha256sum`` & co., hashed by the kernel crypto API.

Usage::

    kcapi sum [-a ALG] [--hmac KEYFILE] [-b|-t] [--tag] [-z] [FILE|-]...
    kcapi sum [-a ALG] [--hmac KEYFILE] -c [--ignore-missing] [--quiet|--status|-w]
              [--strict] [CHECKFILE|-]...

Standard output is byte for byte that of coreutils' ``md5sum``, ``sha1sum``,
``sha256sum``, ... for the same algorithm and options (``-a md5`` behaves as
``md5sum``); exit codes are theirs (0 all good, 1 anything failed or a usage
error).  Diagnostics on standard error have coreutils' text after the
program-name prefix, which is ``kcapi sum`` (``kcapi sum: dir: Is a
directory``), so that nobody mistakes which program spoke.

Additions: ``-a`` takes any ``kcapi_hashlib.new`` name (default ``sha256``;
``--tag`` names them as coreutils/b2sum do: ``SHA256``, ``BLAKE2b``,
``BLAKE2b-256``, else the name upper-cased: ``SHA3-256``); ``--hmac KEYFILE``
makes every digest an HMAC keyed with that file's bytes (tag ``HMAC-SHA256``);
``--backend`` sets the policy; ``--debug`` says on standard error which
implementation serves the algorithm (as ``cksum --debug`` does).

Files are hashed with ``kcapi_hashlib.file_digest``: a regular file is
spliced into the kernel.  A large file on a terminal gets a progress bar on
standard error (see :mod:`.progress`).
"""

from __future__ import annotations

import errno
import functools
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

import kcapi_hashlib
from _kcapi import policy
from _kcapi.errors import KernelUnavailableError
from kcapi_hashlib import hmac as kcapi_hmac

from . import progress
from .console import Console
from .formats import (FAILED, FAILED_OPEN, OK, LineParser, bsd_tag, format_line, format_result,
                      hex_matches, problematic)
from .options import PROG, Options, UsageError, parse_options, usage_conflict
from .quoting import quotef

__all__ = ["main", "run", "Summer", "FatalError", "describe_backend"]


class FatalError(Exception):
    """An error that ends the run at once (exit 1), such as a refused algorithm."""


def _strerror(exc: OSError) -> str:
    """The C library's text for an ``OSError`` (what coreutils prints after the name)."""
    return exc.strerror or os.strerror(exc.errno or errno.EIO)


@dataclass
class CheckTotals:
    """What one checksum file's verification found (coreutils' counters)."""

    misformatted: int = 0
    mismatched: int = 0
    unreadable: int = 0
    properly_formatted: bool = False
    matched: bool = False


def _plural(count: int, one: str, many: str) -> str:
    """coreutils' ngettext choice: ``one`` for 1, ``many`` otherwise, ``%d`` filled in."""
    return (one if count == 1 else many).replace("%d", str(count))


class Summer:
    """Hashes files and verifies checksum files, as coreutils' ``digest.c`` does.

    Args:
        opts: the parsed options (already checked by :func:`usage_conflict`).
        make: returns a fresh hash (or HMAC) object.
        tag: the BSD tag of the algorithm (``SHA256``, ``HMAC-SHA256``).
        digest_size: the digest size in bytes.
        console: where output and diagnostics go.
        stdin: the binary stream that ``-`` names (default ``sys.stdin.buffer`` at use).
    """

    def __init__(self, opts: Options, make: Callable[[], Any], tag: str, digest_size: int,
                 console: Console, stdin: BinaryIO | None = None):
        self.opts = opts
        self.make = make
        self.tag = tag
        self.console = console
        self._stdin = stdin
        self.parser = LineParser(tag, digest_size)

    @property
    def stdin(self) -> BinaryIO:
        """The binary standard input."""
        if self._stdin is not None:
            return self._stdin
        stream = sys.stdin
        if stream is None:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        return cast(BinaryIO, getattr(stream, "buffer", stream))

    # -- hashing -----------------------------------------------------------

    def digest_file(self, name: bytes, *, missing_ok: bool = False) -> bytes | None:
        """Hash the file ``name`` (``-``: standard input), reporting failure as coreutils does.

        Args:
            name: the file name.
            missing_ok: ``--ignore-missing`` in check mode: a file that does not exist
                returns ``b''`` without a diagnostic.

        Returns:
            The digest, ``b''`` for an ignored missing file, ``None`` after an error
            (already reported as ``<prog>: <name>: <reason>``).

        Raises:
            FatalError: the kernel refused the algorithm under the ``kernel`` policy.
        """
        try:
            if name == b"-":
                return self._digest_stream(self.stdin, name)
            with open(name, "rb") as f:
                return self._digest_stream(f, name)
        except KernelUnavailableError as exc:
            raise FatalError(str(exc)) from None
        except OSError as exc:
            if missing_ok and exc.errno == errno.ENOENT:
                return b""
            self.console.error(f"{quotef(name)}: {_strerror(exc)}")
            return None

    def _digest_stream(self, f: BinaryIO, name: bytes) -> bytes:
        size = progress.regular_size(f)
        if self.opts.verbosity != "status" and progress.wanted(self.console.stderr, size):
            assert size is not None
            label = os.fsdecode(name) if not problematic(name) else repr(os.fsdecode(name))
            with progress.bar(self.console.stderr, size, label) as advance:
                return bytes(kcapi_hashlib.file_digest(f, self.make, _progress=advance).digest())
        return bytes(kcapi_hashlib.file_digest(f, self.make).digest())

    def sum_files(self, names: Sequence[bytes]) -> bool:
        """Print a checksum line for each file; ``False`` if any could not be hashed."""
        ok = True
        tag = self.tag if self.opts.tag else None
        for name in names:
            digest = self.digest_file(name)
            if digest is None:
                ok = False
                continue
            self.console.out(format_line(name, digest.hex(), tag=tag,
                                         binary=bool(self.opts.binary), zero=self.opts.zero))
        return ok

    # -- checking ----------------------------------------------------------

    def check_files(self, names: Sequence[bytes]) -> bool:
        """Verify each checksum file; ``False`` if anything failed (coreutils' rules)."""
        ok = True
        for name in names:
            ok &= self.check_file(name)
        return ok

    def check_file(self, name: bytes) -> bool:
        """Verify the lines of one checksum file (``-``: standard input).

        Returns:
            ``True`` when at least one line was well formed, at least one file
            matched, none mismatched or failed to be read, and (with
            ``--strict``) no line was improperly formatted.
        """
        is_stdin = name == b"-"
        shown = quotef("standard input" if is_stdin else name)
        try:
            stream = self.stdin if is_stdin else open(name, "rb")
        except IsADirectoryError:
            # fopen() succeeds on a directory; coreutils then fails the read.
            self.console.error(f"{shown}: read error")
            return False
        except OSError as exc:
            self.console.error(f"{shown}: {_strerror(exc)}")
            return False
        totals = CheckTotals()
        try:
            read_ok = self._check_lines(stream, is_stdin, shown, totals)
        finally:
            if not is_stdin:
                stream.close()
        if not read_ok:
            self.console.error(f"{shown}: read error")
            return False
        self._summarize(shown, totals)
        return (totals.properly_formatted and totals.matched and totals.mismatched == 0
                and totals.unreadable == 0 and not (self.opts.strict and totals.misformatted))

    def _check_lines(self, stream: BinaryIO, is_stdin: bool, shown: str,
                     totals: CheckTotals) -> bool:
        """Check every line of ``stream``; ``False`` on a read error (lines so far count)."""
        status_only = self.opts.verbosity == "status"
        number = 0
        lines = iter(stream)
        while True:
            try:
                raw = next(lines)
            except StopIteration:
                return True
            except OSError:
                return False
            number += 1
            if raw.startswith(b"#"):
                continue
            line = raw[:-1] if raw.endswith(b"\n") else raw
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                continue
            parsed = self.parser.parse(line)
            if parsed is None or (is_stdin and parsed.name == b"-"):
                totals.misformatted += 1
                if self.opts.verbosity == "warn":
                    self.console.error(f"{shown}: {number}: improperly formatted "
                                       f"{self.tag} checksum line")
                continue
            totals.properly_formatted = True
            digest = self.digest_file(parsed.name, missing_ok=self.opts.ignore_missing)
            if digest is None:
                totals.unreadable += 1
                if not status_only:
                    self.console.out(format_result(parsed.name, FAILED_OPEN))
                continue
            if digest == b"":  # missing, and --ignore-missing
                continue
            match = hex_matches(parsed.hexdigest, digest)
            if match:
                totals.matched = True
            else:
                totals.mismatched += 1
            if not status_only and (not match or self.opts.verbosity != "quiet"):
                self.console.out(format_result(parsed.name, OK if match else FAILED))

    def _summarize(self, shown: str, totals: CheckTotals) -> None:
        """coreutils' closing warnings for one checksum file."""
        if not totals.properly_formatted:
            self.console.error(f"{shown}: no properly formatted checksum lines found")
            return
        if self.opts.verbosity == "status":
            return
        if totals.misformatted:
            self.console.error(_plural(totals.misformatted,
                                       "WARNING: %d line is improperly formatted",
                                       "WARNING: %d lines are improperly formatted"))
        if totals.unreadable:
            self.console.error(_plural(totals.unreadable,
                                       "WARNING: %d listed file could not be read",
                                       "WARNING: %d listed files could not be read"))
        if totals.mismatched:
            self.console.error(_plural(totals.mismatched,
                                       "WARNING: %d computed checksum did NOT match",
                                       "WARNING: %d computed checksums did NOT match"))
        if self.opts.ignore_missing and not totals.matched:
            self.console.error(f"{shown}: no file was verified")


def _read_key(path: str) -> bytes:
    """The bytes of the HMAC key file.

    Raises:
        FatalError: it cannot be read (the message names it as coreutils would).
    """
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise FatalError(f"{quotef(path)}: {_strerror(exc)}") from None


def _maker(opts: Options) -> Callable[[], Any]:
    """A factory of hash (or HMAC) objects for the chosen algorithm."""
    if opts.hmac_key_file is None:
        return functools.partial(kcapi_hashlib.new, opts.algorithm)
    key = _read_key(opts.hmac_key_file)
    return functools.partial(kcapi_hmac.new, key, digestmod=opts.algorithm)


def describe_backend(obj: Any) -> str:
    """One line on who serves ``obj`` (``--debug``).

    Args:
        obj: a hash or HMAC object from ``kcapi_hashlib``.

    Returns:
        ``"kernel 'sha256' driver sha256-generic (priority 100, generic)"`` or
        ``"software (_hashlib.HASH): <reason>"``.
    """
    info = kcapi_hashlib.backend_info(obj)
    if info.backend == "kernel":
        return (f"kernel '{info.algorithm}' driver {info.driver} "
                f"(priority {info.priority}, {info.implementation})")
    return f"software ({info.driver}): {info.reason}"


def run(opts: Options, console: Console, stdin: BinaryIO | None = None) -> int:
    """Run ``kcapi sum`` with parsed options.

    Args:
        opts: the options; :func:`usage_conflict` is applied here.
        console: output and diagnostics.
        stdin: the binary stream ``-`` names (default: ``sys.stdin``'s buffer).

    Returns:
        The exit status: 0 when everything succeeded, 1 otherwise.

    Raises:
        UsageError: the options conflict, or the algorithm is unknown or unusable.
        FatalError: the kernel refused the algorithm, or the key file cannot be read.
    """
    conflict = usage_conflict(opts)
    if conflict:
        raise UsageError(conflict)
    if opts.backend:
        policy.set_backend(opts.backend)
    make = _maker(opts)
    try:
        probe = make()
    except KernelUnavailableError as exc:
        raise FatalError(str(exc)) from None
    except (ValueError, TypeError) as exc:  # hashlib's 'unsupported hash type NAME'
        raise UsageError(str(exc)) from None
    if not probe.digest_size:
        raise UsageError(f"{opts.algorithm}: variable-length digests are not supported")
    if opts.debug:
        console.error(f"{opts.algorithm}: {describe_backend(probe)}")
    tag = bsd_tag(getattr(probe, "name", opts.algorithm).removeprefix("hmac-"),
                  keyed=opts.hmac_key_file is not None)
    summer = Summer(opts, make, tag, probe.digest_size, console, stdin)
    names = [os.fsencode(n) for n in (opts.files or ["-"])]
    ok = summer.check_files(names) if opts.check else summer.sum_files(names)
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """The ``kcapi sum`` command.

    Args:
        argv: the arguments after the command word (``kcapi sum`` passes
            those after ``sum``); default ``sys.argv[1:]``.
        prog: the program name for messages.

    Returns:
        The exit status (0 success, 1 failure or usage error, 130 when
        interrupted); a closed output pipe ends the run quietly with 1.
    """
    console = Console(prog)
    try:
        opts = parse_options(sys.argv[1:] if argv is None else argv, prog)
        return run(opts, console)
    except UsageError as exc:
        console.error(str(exc))
        console.stderr.write(f"Try '{prog} --help' for more information.\n")
        console.stderr.flush()
        return 1
    except FatalError as exc:
        console.error(str(exc))
        return 1
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`kcapi sum * | head -1`): stop without a traceback,
        # and keep the interpreter's final flush of stdout from failing again.
        _silence_stdout()
        return 1


def _silence_stdout() -> None:
    """Point the standard output descriptor at /dev/null (after EPIPE)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
