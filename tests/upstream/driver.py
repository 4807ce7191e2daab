"""Run upstream test suites under ``python -m kcapi_shim`` and judge every outcome.

Usage::

    python -m tests.upstream.driver [--suite cpython|pycryptodome]... [--backend B]...
                                    [--slow] [--python PY] [--timeout S] [--details]

Each (suite, backend) runs in a child process, ``PY -m kcapi_shim --backend B
...``: CPython's ``test_hashlib`` and ``test_hmac`` with unittest
(``cpython_runner.py``), PyCryptodome's SelfTest modules for what kcapi
replaces with pytest (``upstream_outcomes.py``; one child per SelfTest
package, so that no child outgrows a 2 GiB guest).  PyCryptodome's tests
marked slow (NIST GCM vectors, Monte Carlo tests, the large KDF vectors) run
with ``--slow`` only, as with its own ``--skip-slow-tests``.  Every test must pass,
except those ``exclusions.toml`` lists: a listed *skip* may skip itself, a
listed *exclusion* is not run.  Any failure or error, an unlisted skip, a
child that crashes or times out, or a run in which no test passed, is
*unexpected*; the exit status is 1 if anything was.

Defaults: both suites, the backend policy in force (``KCAPI_BACKEND``, else
``auto``), this interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..support import kernel_refusal
from . import vectors
from .upstream_patterns import matches

__all__ = ["SUITES", "Entry", "Outcome", "Report", "load_entries", "run_suite", "judge", "main"]

HERE = Path(__file__).resolve().parent
EXCLUSIONS = HERE / "exclusions.toml"

_SELFTEST = "Crypto.SelfTest."

#: Suite -> the test modules it runs.  PyCryptodome's: every SelfTest module
#: that imports a module the shim replaces (Crypto.Cipher.AES, DES3, ChaCha20,
#: ChaCha20_Poly1305, Crypto.Hash.CMAC, Crypto.Random).
SUITES: dict[str, tuple[str, ...]] = {
    "cpython": ("test.test_hashlib", "test.test_hmac"),
    "pycryptodome": tuple(_SELFTEST + name for name in (
        "Cipher.test_AES", "Cipher.test_DES3", "Cipher.test_ChaCha20",
        "Cipher.test_ChaCha20_Poly1305", "Cipher.test_CBC", "Cipher.test_CTR",
        "Cipher.test_GCM", "Cipher.test_CCM", "Cipher.test_CFB", "Cipher.test_OFB",
        "Cipher.test_EAX", "Cipher.test_SIV", "Cipher.test_OCB", "Cipher.test_OpenPGP",
        "Cipher.test_KW", "Cipher.test_XTS", "Cipher.test_GCM_SIV", "Cipher.test_message_too_long", "Cipher.test_shared_objects",
        "Hash.test_CMAC", "Hash.test_Poly1305", "Hash.test_shared_objects",
        "Protocol.test_KDF", "Random.test_random")),
}

#: Outcomes that need no entry.
_FINE = {"passed", "xfailed"}


@dataclass(frozen=True)
class Entry:
    """One entry of ``exclusions.toml``.

    Attributes:
        kind: ``'skip'`` (the test may skip itself) or ``'exclude'`` (not run).
        suite: ``'cpython'`` or ``'pycryptodome'``.
        tests: patterns of test ids (``*`` and ``?`` are the wildcards) (``test = "..."`` or ``tests = [...]``).
        reason: why this is not a behaviour difference of kcapi.
        backends: the policies it applies under (empty: all).
        python: the ``major.minor`` versions it applies to (empty: all).
        af_alg: ``True``: only where AF_ALG works here (kcapi's kernel objects
            serve); ``False``: only where it does not; ``None``: everywhere.
        kernel_lacks: ``"kind:name"`` kernel algorithms: only where AF_ALG works
            and the kernel refuses one of them (a probe, never a version).
        message: for a skip, a pattern of the skip message.
    """

    kind: str
    suite: str
    tests: tuple[str, ...]
    reason: str
    backends: tuple[str, ...] = ()
    python: tuple[str, ...] = ()
    af_alg: bool | None = None
    kernel_lacks: tuple[str, ...] = ()
    message: str = "*"

    def applies(self, suite: str, backend: str, python: str, af_alg: bool) -> bool:
        """Whether the entry is in force for this suite, policy, ``major.minor`` and kernel."""
        return (self.suite == suite and (not self.backends or backend in self.backends)
                and (not self.python or python in self.python)
                and self.af_alg in (None, af_alg)
                and (not self.kernel_lacks or af_alg and any(
                    kernel_refusal(*need.split(":", 1)) is not None
                    for need in self.kernel_lacks)))

    def covers(self, outcome: Outcome) -> bool:
        """Whether this entry accounts for ``outcome``."""
        if not any(matches(p, outcome.id) for p in self.tests):
            return False
        if self.kind == "exclude":
            return outcome.outcome == "excluded"
        return outcome.outcome == "skipped" and matches(self.message, outcome.message)


def load_entries(path: Path = EXCLUSIONS) -> list[Entry]:
    """The entries of ``exclusions.toml`` (``[[skip]]`` and ``[[exclude]]`` tables).

    Raises:
        ValueError: an entry without a reason, or with an unknown suite or field.
    """
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    entries = []
    for kind in ("skip", "exclude"):
        for table in data.get(kind, []):
            table = dict(table)
            if not str(table.get("reason", "")).strip():
                raise ValueError(f"{path}: an entry without a reason: {table}")
            if table.get("suite") not in SUITES:
                raise ValueError(f"{path}: unknown suite in {table}")
            for key in ("backends", "python", "kernel_lacks"):
                table[key] = tuple(table.get(key, ()))
            single = table.pop("test", None)
            table["tests"] = tuple(table.get("tests", ())) + ((single,) if single else ())
            if not table["tests"]:
                raise ValueError(f"{path}: an entry without test patterns: {table}")
            entries.append(Entry(kind=kind, **table))
    return entries


@dataclass(frozen=True)
class Outcome:
    """One upstream test's outcome: ``passed``, ``failed``, ``error``, ``skipped``,
    ``xfailed`` (an expected failure, as upstream marked it) or ``excluded``."""

    id: str
    outcome: str
    message: str = ""


@dataclass
class Report:
    """The judged outcomes of one (suite, backend) run."""

    suite: str
    backend: str
    python: str
    seconds: float
    outcomes: list[Outcome] = field(default_factory=list)
    unexpected: list[Outcome] = field(default_factory=list)
    accepted: list[tuple[Outcome, Entry]] = field(default_factory=list)
    unused: list[Entry] = field(default_factory=list)

    def summary(self) -> str:
        """One line of counts, then one line per unexpected or accepted outcome."""
        counts = Counter(o.outcome for o in self.outcomes)
        head = (f"{self.suite} (Python {self.python}, backend {self.backend}): "
                + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
                + f"; {len(self.unexpected)} unexpected [{self.seconds:.1f} s]")
        lines = [head]
        for outcome in self.unexpected:
            first = outcome.message.strip().splitlines()[-1:] or [""]
            lines.append(f"  UNEXPECTED {outcome.outcome}: {outcome.id}: {first[0][:300]}")
        per_entry: dict[int, tuple[Entry, Counter[str]]] = {}
        for outcome, entry in self.accepted:
            per_entry.setdefault(id(entry), (entry, Counter()))[1][outcome.outcome] += 1
        for entry, counts in per_entry.values():
            what = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
            reason = " ".join(entry.reason.split())
            more = " ..." if len(entry.tests) > 1 else ""
            lines.append(f"  listed ({what}): {entry.tests[0]}{more} -- {reason[:160]}"
                         f"{'...' if len(reason) > 160 else ''}")
        return "\n".join(lines)

    def details(self) -> str:
        """The full message of every unexpected outcome."""
        return "\n\n".join(f"=== {o.outcome}: {o.id}\n{o.message}" for o in self.unexpected)


def python_version(python: str) -> str:
    """``major.minor.micro`` of the interpreter ``python``."""
    return subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"],
                          check=True, capture_output=True, text=True).stdout.strip()


def _batches(suite: str, modules: Sequence[str]) -> list[list[str]]:
    """The modules each child runs: one child for CPython, one per SelfTest package."""
    if suite == "cpython":
        return [list(modules)]
    groups: dict[str, list[str]] = {}
    for module in modules:
        groups.setdefault(module.removeprefix(_SELFTEST).partition(".")[0], []).append(module)
    return list(groups.values())


def _command(suite: str, backend: str, python: str, work: Path, out: Path,
             excluded: list[str], modules: Sequence[str], slow: bool) -> list[str]:
    shim = [python, "-m", "kcapi_shim", "--backend", backend]
    if suite == "cpython":
        data = work / "data"
        data.mkdir(exist_ok=True)
        vectors.write_files(data)
        return [*shim, str(HERE / "cpython_runner.py"), "--json", str(out), "--data-dir",
                str(data), *(f"--exclude={p}" for p in excluded), *modules]
    return [*shim, "-m", "pytest", "-p", "upstream_outcomes", "-p", "Crypto.SelfTest.plugin",
            "-p", "no:cacheprovider", "-q", *([] if slow else ["--skip-slow-tests"]),
            "--upstream-json", str(out), *(f"--upstream-exclude={p}" for p in excluded),
            "--pyargs", *modules]


def af_alg_works() -> bool:
    """Whether this process can bind a kernel hash (kcapi's kernel objects can serve here)."""
    return kernel_refusal("hash", "sha256") is None


def run_suite(suite: str, backend: str, python: str = sys.executable, timeout: float = 3600,
              entries: list[Entry] | None = None, modules: Sequence[str] | None = None,
              slow: bool = False) -> Report:
    """Run one suite under one policy in child processes and judge its outcomes.

    Args:
        suite: a key of :data:`SUITES`.
        backend: the policy the children set (``kcapi_shim --backend``).
        python: the interpreter (its own ``test`` package is CPython's suite).
        timeout: seconds before a child is killed (an unexpected outcome).
        entries: the exclusion entries (default: ``exclusions.toml``).
        modules: the test modules (default: the suite's).
        slow: also run the tests PyCryptodome marks slow.
    """
    version = python_version(python)
    major_minor = ".".join(version.split(".")[:2])
    af_alg = af_alg_works()
    entries = [e for e in (load_entries() if entries is None else entries)
               if e.applies(suite, backend, major_minor, af_alg)]
    excluded = [p for e in entries if e.kind == "exclude" for p in e.tests]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    start = time.monotonic()
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix=f"kcapi-upstream-{suite}-") as tmp:
        work = Path(tmp)
        for number, batch in enumerate(_batches(suite, modules or SUITES[suite])):
            out = work / f"outcomes-{number}.json"
            command = _command(suite, backend, python, work, out, excluded, batch, slow)
            child_log = work / f"child-{number}.log"
            with open(child_log, "wb") as sink:
                try:
                    status: int | str = subprocess.run(
                        command, cwd=work, env=env, stdout=sink, stderr=subprocess.STDOUT,
                        timeout=timeout).returncode
                except subprocess.TimeoutExpired:
                    status = f"timed out after {timeout} s"
            if out.exists():
                data = json.loads(out.read_text(encoding="utf-8"))
                outcomes += [Outcome(**o) for o in data["outcomes"]]
            if isinstance(status, str) or not out.exists() or status not in (0, 1):
                tail = child_log.read_bytes()[-6000:].decode("utf-8", "replace")
                outcomes.append(Outcome(f"<child process for {' '.join(batch)}>", "error",
                                        f"exit status {status}; output ends:\n{tail}"))
    report = Report(suite, backend, version, time.monotonic() - start, outcomes)
    judge(report, entries)
    return report


def judge(report: Report, entries: list[Entry]) -> None:
    """Sort the outcomes of ``report`` into accepted (an entry covers them) and unexpected."""
    used: set[int] = set()
    for outcome in report.outcomes:
        if outcome.outcome in _FINE:
            continue
        entry = next((e for e in entries if e.covers(outcome)), None)
        if entry is None:
            report.unexpected.append(outcome)
        else:
            used.add(id(entry))
            report.accepted.append((outcome, entry))
    if not any(o.outcome == "passed" for o in report.outcomes):
        report.unexpected.append(Outcome(f"<{report.suite}>", "error", "no test passed"))
    report.unused = [e for e in entries if id(e) not in used]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suites; print a summary per run; 1 if anything was unexpected."""
    parser = argparse.ArgumentParser(prog="python -m tests.upstream.driver",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", action="append", choices=sorted(SUITES))
    parser.add_argument("--backend", action="append", choices=["auto", "kernel", "software"])
    parser.add_argument("--slow", action="store_true",
                        help="also run the tests PyCryptodome marks slow")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--details", action="store_true",
                        help="print the full message of every unexpected outcome")
    args = parser.parse_args(argv)
    backends = args.backend or [os.environ.get("KCAPI_BACKEND", "").strip().lower() or "auto"]
    status = 0
    for suite in args.suite or list(SUITES):
        for backend in backends:
            report = run_suite(suite, backend, args.python, args.timeout, slow=args.slow)
            print(report.summary(), flush=True)
            if report.unexpected:
                status = 1
                if args.details:
                    print(report.details(), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
