#!/usr/bin/env python3
"""Check the built sdist and wheel against ``pyproject.toml`` and the source tree.

``scripts/test`` builds both with ``python -m build`` (the wheel from the
sdist, so the sdist is known to build) and runs this before installing the
wheel anywhere.  Checked:

- file names: ``{name}-{version}.tar.gz`` and ``{name}-{version}-py3-none-any.whl``
  (``name`` normalised as the packaging specifications require);
- the wheel's ``METADATA``: ``Name``, ``Version``, ``Requires-Python``,
  ``Requires-Dist`` (dependencies and extras), ``Classifier``, ``License-Expression``
  and ``License-File`` equal what ``pyproject.toml`` declares; the classifiers
  name exactly the tested versions (``scripts/pythons.py``'s ``TESTED``) and
  CPython; the sdist's ``PKG-INFO`` carries the same name and version;
- the wheel's ``entry_points.txt``: the ``kcapi`` console script;
- the wheel holds the five import packages (every source file of each and of
  their sub-packages, with ``py.typed``), the licence, the ``.dist-info`` and
  nothing else: no tests;
- the sdist is the source tree: every file of it (tracked by git, or new and
  not ignored) except CI's own (``.ci/``, ``.gitignore``), and nothing else
  besides what the build writes (``PKG-INFO``, ``setup.cfg``, ``*.egg-info/``).  Without git (a
  tree unpacked from an sdist) the essentials are checked instead.

Usage: scripts/package_check.py --sdist PATH --wheel PATH
Prints one line per check; exit status 1 if any failed.
"""

from __future__ import annotations

import argparse
import configparser
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from pythons import TESTED  # noqa: E402  (the tested versions: one list)

NOT_IN_SDIST = (".ci/", ".gitignore")
BUILD_WRITTEN = re.compile(r"(PKG-INFO|setup\.cfg|[^/]+\.egg-info/.*)")
ESSENTIAL = ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "conftest.py")
ESSENTIAL_DIRS = ("tests/", "compat_tests/", "scripts/", "bench/")


def normalise(name: str) -> str:
    """The distribution name as file names spell it (PEP 503, then ``-`` to ``_``)."""
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def requirement(spec: str) -> str:
    """A requirement without spaces, for comparing what pyproject and METADATA say."""
    return spec.replace(" ", "").replace("'", '"')


class Checks:
    """One line per check; failures are collected, not raised."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def expect(self, name: str, ok: bool, detail: str) -> None:
        print(f"package: {'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)
        if not ok:
            self.failed.append(name)


def source_files() -> list[str] | None:
    """The source tree's files: tracked by git or new and not ignored, present on disk.

    None without git or outside a work tree.
    """
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], capture_output=True, check=True, timeout=60)
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return None
    return sorted({f for f in out.stdout.decode().split("\0") if f and (ROOT / f).is_file()})


def check_wheel(checks: Checks, wheel: Path, project: dict, packages: list[str]) -> None:
    name, version = project["name"], project["version"]
    stem = f"{normalise(name)}-{version}"
    checks.expect("wheel file name", wheel.name == f"{stem}-py3-none-any.whl", wheel.name)
    with zipfile.ZipFile(wheel) as archive:
        entries = archive.namelist()
        dist_info = f"{stem}.dist-info"
        meta = Parser().parsestr(archive.read(f"{dist_info}/METADATA").decode())
        entry_points = configparser.ConfigParser()
        entry_points.read_string(archive.read(f"{dist_info}/entry_points.txt").decode())

    checks.expect("Name", meta["Name"] == name, f"{meta['Name']!r}")
    checks.expect("Version", meta["Version"] == version, f"{meta['Version']!r}")
    checks.expect("Requires-Python", meta["Requires-Python"] == project["requires-python"],
                  f"{meta['Requires-Python']!r}")
    want = {requirement(d) for d in project["dependencies"]}
    for extra, deps in project.get("optional-dependencies", {}).items():
        want |= {requirement(f'{d}; extra == "{extra}"') for d in deps}
    got = {requirement(d) for d in meta.get_all("Requires-Dist") or ()}
    checks.expect("Requires-Dist", got == want, ", ".join(sorted(got)))
    classifiers = meta.get_all("Classifier") or []
    checks.expect("Classifier", classifiers == project["classifiers"],
                  f"{len(classifiers)} classifiers as in pyproject.toml")
    versions = sorted(c.rsplit(" ", 1)[1] for c in classifiers
                      if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c))
    checks.expect("tested versions", versions == sorted(TESTED)
                  and "Programming Language :: Python :: Implementation :: CPython" in classifiers,
                  f"Python {', '.join(versions)} (scripts/pythons.py tests {', '.join(TESTED)}), CPython")
    checks.expect("License-Expression", meta["License-Expression"] == project["license"]
                  and meta.get_all("License-File") == project["license-files"],
                  f"{meta['License-Expression']!r}, files {meta.get_all('License-File')}")
    scripts = dict(entry_points["console_scripts"]) if "console_scripts" in entry_points else {}
    checks.expect("entry point", scripts == project["scripts"], f"{scripts}")

    tops = {e.split("/")[0] for e in entries}
    checks.expect("wheel top level", tops == {*packages, dist_info}, ", ".join(sorted(tops)))
    sources = {str(p.relative_to(ROOT)) for pkg in packages for p in (ROOT / pkg).rglob("*")
               if p.is_file() and p.suffix in (".py", ".typed")}
    missing = sorted(sources - set(entries))
    checks.expect("wheel holds the packages", not missing,
                  f"missing {missing}" if missing else f"all {len(sources)} source files")
    untyped = [pkg for pkg in packages if f"{pkg}/py.typed" not in entries]
    checks.expect("wheel py.typed", not untyped,
                  f"missing in {untyped}" if untyped else f"in all of {', '.join(packages)}")
    licences = [e for e in entries if e.startswith(f"{dist_info}/licenses/")]
    checks.expect("wheel licence", licences == [f"{dist_info}/licenses/{f}"
                                                for f in project["license-files"]], f"{licences}")
    tests = [e for e in entries if e.split("/")[0] in ("tests", "compat_tests", "conftest.py")
             or "/tests/" in e or e.split("/")[-1].startswith("test_")]
    checks.expect("wheel has no tests", not tests, f"{tests[:5]}" if tests else "none")


def check_sdist(checks: Checks, sdist: Path, project: dict) -> None:
    stem = f"{normalise(project['name'])}-{project['version']}"
    checks.expect("sdist file name", sdist.name == f"{stem}.tar.gz", sdist.name)
    with tarfile.open(sdist) as archive:
        members = [m.name for m in archive.getmembers() if m.isfile()]
        pkg_info = archive.extractfile(f"{stem}/PKG-INFO")
        meta = Parser().parsestr(pkg_info.read().decode()) if pkg_info else {}
    checks.expect("sdist PKG-INFO", meta.get("Name") == project["name"]
                  and meta.get("Version") == project["version"],
                  f"{meta.get('Name')!r} {meta.get('Version')!r}")
    outside = [m for m in members if not m.startswith(f"{stem}/")]
    checks.expect("sdist layout", not outside, f"one directory {stem}/" if not outside else
                  f"outside {stem}/: {outside[:5]}")
    files = {m[len(stem) + 1:] for m in members if m.startswith(f"{stem}/")}
    tracked = source_files()
    if tracked is None:
        lacking = [f for f in ESSENTIAL if f not in files]
        lacking += [d for d in ESSENTIAL_DIRS if not any(f.startswith(d) for f in files)]
        checks.expect("sdist contents (no git: essentials only)", not lacking,
                      f"lacks {lacking}" if lacking else ", ".join(ESSENTIAL + ESSENTIAL_DIRS))
        return
    want = {f for f in tracked if not f.startswith(NOT_IN_SDIST)}
    lacking = sorted(want - files)
    extra = sorted(f for f in files - want if not BUILD_WRITTEN.fullmatch(f))
    checks.expect("sdist is the source tree", not lacking and not extra,
                  (f"lacks {lacking[:10]} (add them to MANIFEST.in) " if lacking else "")
                  + (f"has files outside the tree {extra[:10]}" if extra else "")
                  or f"all {len(want)} files of the tree but {', '.join(NOT_IN_SDIST)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist", required=True, type=Path)
    parser.add_argument("--wheel", required=True, type=Path)
    args = parser.parse_args(argv)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    # The top-level import packages; rglob below also covers their sub-packages,
    # so a sub-package missing from pyproject's list is reported as missing files.
    packages = sorted({name.split(".")[0] for name in pyproject["tool"]["setuptools"]["packages"]})
    checks = Checks()
    check_wheel(checks, args.wheel, project, packages)
    check_sdist(checks, args.sdist, project)
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
