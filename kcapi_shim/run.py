"""``kcapi run``: run an unchanged Python program with kcapi in place of hashlib & co.

Usage::

    kcapi run [--backend auto|kernel|software] [--] SCRIPT [ARG...]
    kcapi run [--backend auto|kernel|software] -m MODULE [ARG...]

It installs :mod:`kcapi_shim` (so the program's ``import hashlib``, ``import
hmac``, ``from Crypto.Cipher import AES`` ... get kcapi), sets the backend
policy if asked, and runs the program as ``python SCRIPT ARG...`` or
``python -m MODULE ARG...`` would, in this process: the same ``sys.argv``,
``sys.path[0]``, ``__main__`` module, exit status and traceback on standard
error.  Everything after the script or module name belongs to the program.

Differences from ``python``, all outside the program's own code: a script
that is a directory, a zip file or a ``.pyc`` runs through
``runpy.run_path``, and a module through ``runpy.run_module``, whose
``__main__`` module is a temporary one for the duration of the run (as for
``runpy`` itself); a ``KeyboardInterrupt`` traceback shows this command's
frames too.  Processes the program starts (``subprocess``, ``multiprocessing``
with the ``spawn``/``forkserver`` methods) run plain Python: the shim lives in
this process only (``fork`` children inherit it).
"""

from __future__ import annotations

import builtins
import importlib.machinery
import io
import os
import pkgutil
import runpy
import sys
import types
from collections.abc import Sequence
from dataclasses import dataclass

import kcapi_shim
from _kcapi import policy

__all__ = ["PROG", "main", "Target", "UsageError", "parse"]

PROG = "kcapi run"

_USAGE = ("usage: {prog} [--backend auto|kernel|software] [--] SCRIPT [ARG...]\n"
          "       {prog} [--backend auto|kernel|software] -m MODULE [ARG...]\n")

_HELP = """
Run a Python program unchanged, with kcapi serving its hashlib, hmac and
PyCryptodome imports (hashlib, hmac, Crypto.Cipher.AES/DES3/ChaCha20/
ChaCha20_Poly1305, Crypto.Hash.CMAC, Crypto.Random.get_random_bytes).
Arguments after SCRIPT or -m MODULE are the program's own.

options:
  -h, --help            show this help message and exit
  --backend POLICY      auto (default: KCAPI_BACKEND, else auto), kernel or software
  -m MODULE             run library module MODULE as a script, as python -m does
"""


class UsageError(Exception):
    """A bad command line: printed after the usage lines, exit status 2."""


@dataclass(frozen=True)
class Target:
    """What to run: a script path or a module name, its arguments, and the policy.

    Attributes:
        script: the script's path as given (``None`` for a module).
        module: the module name (``None`` for a script).
        args: the program's arguments (``sys.argv[1:]``).
        backend: the policy to set, or ``None`` to keep the one in force.
    """

    script: str | None
    module: str | None
    args: tuple[str, ...]
    backend: str | None


def _value(argv: Sequence[str], i: int, option: str) -> str:
    if i + 1 >= len(argv):
        raise UsageError(f"argument {option}: expected one argument")
    return argv[i + 1]


def parse(argv: Sequence[str]) -> Target | None:
    """Split ``kcapi run``'s arguments into its options and the program's command line.

    Options end at the first argument that is not one of ours (the script),
    after ``-m MODULE``, or after ``--``.

    Returns:
        The target, or ``None`` for ``--help``.

    Raises:
        UsageError: an unknown option, a missing value or a missing program.
    """
    backend: str | None = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            return None
        if arg == "--backend" or arg.startswith("--backend="):
            if arg == "--backend":
                value = _value(argv, i, arg)
                i += 1
            else:
                value = arg.partition("=")[2]
            if value not in policy.BACKENDS:
                raise UsageError(f"argument --backend: invalid choice: {value!r} "
                                 f"(choose from {', '.join(policy.BACKENDS)})")
            backend = value
        elif arg == "-m" or (arg.startswith("-m") and not arg.startswith("--")):
            module = arg[2:] or _value(argv, i, "-m")
            rest = argv[i + (1 if arg[2:] else 2):]
            return Target(None, module, tuple(rest), backend)
        elif arg == "--":
            if i + 1 >= len(argv):
                break
            return Target(argv[i + 1], None, tuple(argv[i + 2:]), backend)
        elif arg.startswith("-"):
            raise UsageError(f"unrecognized option {arg!r}")
        else:
            return Target(arg, None, tuple(argv[i + 1:]), backend)
        i += 1
    raise UsageError("a SCRIPT or -m MODULE is required")


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run ``kcapi run ...``: the program's exit status, or 2 for a bad command line.

    A ``SystemExit`` raised by the program propagates (the interpreter turns it
    into the exit status, as for ``python``); any other exception is printed
    through ``sys.excepthook`` without this command's frames and gives 1.
    """
    try:
        target = parse(sys.argv[1:] if argv is None else list(argv))
    except UsageError as exc:
        sys.stderr.write(_USAGE.format(prog=prog) + f"{prog}: error: {exc}\n")
        return 2
    if target is None:
        sys.stdout.write(_USAGE.format(prog=prog) + _HELP)
        return 0
    if target.backend is not None:
        policy.set_backend(target.backend)
    kcapi_shim.install()
    try:
        if target.module is not None:
            _run_module(target.module, target.args)
        else:
            assert target.script is not None
            _run_script(target.script, target.args)
    except _CannotStart as exc:
        sys.stderr.write(f"{prog}: {exc.message}\n")
        return exc.status
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:  # noqa: B036 -- printed as the interpreter prints it
        # The default hook prints the exception's own __traceback__: trim that.
        trimmed = _program_frames(exc.__traceback__)
        sys.excepthook(type(exc), exc.with_traceback(trimmed), trimmed)
        return 1
    return 0


class _CannotStart(Exception):
    """The program could not be started (python's own message and status)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message = message
        self.status = status


def _set_path0(entry: str | None) -> None:
    """Make ``sys.path[0]`` what python would put there (``None``: nothing)."""
    if sys.flags.safe_path:
        return  # python -P and PYTHONSAFEPATH add no entry, and neither did this process
    if entry is None:
        del sys.path[0]
    else:
        sys.path[0] = entry


def _run_script(script: str, args: tuple[str, ...]) -> None:
    """Run ``script`` as ``python script args`` does."""
    sys.argv = [script, *args]
    if pkgutil.get_importer(script) is not None or script.endswith(".pyc"):
        # A directory or zip file with __main__.py, or compiled code: runpy
        # puts the path on sys.path itself.
        _set_path0(None)
        runpy.run_path(script, run_name="__main__")
        return
    filename = os.path.join(os.getcwd(), script)
    try:
        with io.open_code(script) as source_file:
            source = source_file.read()
    except OSError as exc:
        raise _CannotStart(f"can't open file {filename!r}: [Errno {exc.errno}] {exc.strerror}",
                           2) from None
    _set_path0(os.path.dirname(os.path.realpath(script)))
    code = compile(source, filename, "exec", dont_inherit=True)
    module = types.ModuleType("__main__")
    module.__file__ = filename
    module.__cached__ = None  # type: ignore[attr-defined]
    module.__loader__ = importlib.machinery.SourceFileLoader("__main__", filename)
    module.__builtins__ = builtins  # type: ignore[attr-defined]
    sys.modules["__main__"] = module
    exec(code, module.__dict__)


def _run_module(name: str, args: tuple[str, ...]) -> None:
    """Run module ``name`` as ``python -m name args`` does."""
    sys.argv = ["-m", *args]  # runpy replaces '-m' by the module's file while it runs
    _set_path0(os.getcwd())
    try:
        runpy.run_module(name, run_name="__main__", alter_sys=True)
    except ImportError as exc:
        if not _raised_by_runpy(exc):
            raise  # raised by the program's own imports
        raise _CannotStart(str(exc), 1) from None


def _raised_by_runpy(exc: BaseException) -> bool:
    """Whether ``exc`` comes from runpy's lookup of the module, not from running it."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_globals.get("__name__") == "runpy"


def _program_frames(tb: types.TracebackType | None) -> types.TracebackType | None:
    """``tb`` without its leading frames of this module and of runpy."""
    while tb is not None and tb.tb_frame.f_globals.get("__name__") in (__name__, "runpy"):
        tb = tb.tb_next
    return tb
