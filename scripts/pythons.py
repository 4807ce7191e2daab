#!/usr/bin/env python3
"""Find the CPython interpreters of the tested versions that this machine has.

The suite is tested on every CPython of ``TESTED`` that is present (the same
list as the ``Programming Language :: Python :: 3.x`` classifiers of
``pyproject.toml``; ``scripts/package_check.py`` holds the two together).
Nothing is hard-coded about where they live: for each version the candidates
are, in order,

- the default interpreter (``$PYTHON``, else ``python3``), when it is that version;
- ``python3.Y`` on ``PATH``, unless it is a pyenv shim (shims of versions
  pyenv has not selected exit with "command not found"; the others run an
  interpreter of the next item);
- ``$PYENV_ROOT/versions/3.Y.*/bin/python3.Y`` (``PYENV_ROOT`` defaults to
  ``~/.pyenv``), newest patch release first;
- ``/usr/local/bin/python3.Y`` and ``/usr/bin/python3.Y``.

A candidate is taken only if it runs, is CPython of exactly that version and
can make virtual environments (``venv`` and ``ensurepip`` import: Debian's
``python3.Y`` lacks ``ensurepip`` without ``python3.Y-venv``).  The path
printed is the interpreter's own ``sys.executable``, never a shim, so a
virtual environment made from it, and the User-Mode Linux guest (which sees
the host's ``/``), run it directly.

Output, one line per version present, oldest first::

    VERSION VENV EXECUTABLE FULL_VERSION

``VENV`` is ``.venv`` for the default interpreter's version (the default is
``$PYTHON``/``python3`` when it is a tested version, else the newest tested
version present) and ``.venv-VERSION`` for the others.  ``--python VERSION``
(repeatable) keeps only those versions and fails if one is absent;
``--default`` keeps the default's only.  Exit 1 if no tested version is
present at all.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys

TESTED = ("3.11", "3.12", "3.13")

PROBE = ("import sys, venv, ensurepip; "
         "print(sys.implementation.name, '%d.%d' % sys.version_info[:2], "
         "'%d.%d.%d' % sys.version_info[:3], sys.executable)")


def probe(candidate: str) -> tuple[str, str, str] | None:
    """Return (version, full version, executable) of a working CPython, or None."""
    try:
        out = subprocess.run([candidate, "-c", PROBE], capture_output=True, text=True,
                             timeout=60, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    fields = out.stdout.split()
    if out.returncode != 0 or len(fields) != 4 or fields[0] != "cpython":
        return None
    return fields[1], fields[2], fields[3]


def patch_key(path: str) -> tuple[int, ...]:
    """Sort key of a pyenv version directory: its numeric release, pre-releases last."""
    name = os.path.basename(os.path.dirname(os.path.dirname(path)))
    if not re.fullmatch(r"\d+\.\d+\.\d+", name):
        return (-1,)
    return tuple(int(part) for part in name.split("."))


def candidates(version: str) -> list[str]:
    """Every place an interpreter of ``version`` may be, most preferred first."""
    found = []
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    on_path = shutil.which(f"python{version}")
    # A pyenv shim runs one of the interpreters under versions/ (looked at
    # next) or fails: skipping it saves starting pyenv for nothing.
    if on_path and os.path.dirname(on_path) != os.path.join(pyenv_root, "shims"):
        found.append(on_path)
    pattern = os.path.join(pyenv_root, "versions", f"{version}.*", "bin", f"python{version}")
    found += sorted(glob.glob(pattern), key=patch_key, reverse=True)
    found += [f"/usr/local/bin/python{version}", f"/usr/bin/python{version}"]
    return found


def discover() -> tuple[dict[str, tuple[str, str]], str | None]:
    """Map each present tested version to (executable, full version); name the default."""
    present: dict[str, tuple[str, str]] = {}
    default = os.environ.get("PYTHON") or "python3"
    default_probe = probe(default)
    if default_probe and default_probe[0] in TESTED:
        present[default_probe[0]] = (default_probe[2], default_probe[1])
    for version in TESTED:
        if version in present:
            continue
        for candidate in candidates(version):
            result = probe(candidate)
            if result and result[0] == version:
                present[version] = (result[2], result[1])
                break
    if default_probe and default_probe[0] in present:
        return present, default_probe[0]
    return present, max(present, key=lambda v: tuple(map(int, v.split(".")))) if present else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", action="append", default=[], metavar="VERSION",
                        help=f"keep only this version (repeatable; one of {', '.join(TESTED)})")
    parser.add_argument("--default", action="store_true",
                        help="keep only the default interpreter's version (the one of .venv)")
    args = parser.parse_args(argv)
    for version in args.python:
        if version not in TESTED:
            parser.error(f"--python {version}: the tested versions are {', '.join(TESTED)}")
    present, default = discover()
    if not present:
        print(f"scripts/pythons.py: no CPython {', '.join(TESTED)} found on this machine",
              file=sys.stderr)
        return 1
    wanted = args.python or ([default] if args.default and default else list(present))
    missing = [v for v in wanted if v not in present]
    if missing:
        print(f"scripts/pythons.py: CPython {', '.join(missing)} not found "
              f"(present: {', '.join(present)})", file=sys.stderr)
        return 1
    for version in sorted(set(wanted), key=lambda v: tuple(map(int, v.split(".")))):
        executable, full = present[version]
        venv = ".venv" if version == default else f".venv-{version}"
        print(version, venv, executable, full)
    return 0


if __name__ == "__main__":
    sys.exit(main())
