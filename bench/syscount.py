"""Count system calls per operation with strace, between marker writes.

A child script writes ``@@kcapi-mark start NAME`` / ``end NAME`` to stderr
around N repetitions of an operation; :func:`count_between_marks` turns the
strace log into a Counter of system calls per NAME.  ``clock_gettime`` is left
out: real kernels serve it from the vDSO (User-Mode Linux has none, so strace
sees it there, and CPython 3.11 reads the clock on every lock acquire).
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

MARK = "@@kcapi-mark "
NOT_COUNTED = frozenset({"clock_gettime", "clock_gettime64", "gettimeofday"})
_CALL = re.compile(r"^(?:\[pid\s+\d+\]\s+|\d+\s+)?(\w+)\(")


def mark_line(kind: str, name: str) -> str:
    """The Python statement a child runs to write a marker."""
    return f"os.write(2, {(MARK + kind + ' ' + name + chr(10)).encode()!r})"


def count_between_marks(trace: str) -> dict[str, collections.Counter[str]]:
    """System calls seen between each pair of start/end markers of an strace log."""
    counts: dict[str, collections.Counter[str]] = {}
    current = None
    for line in trace.splitlines():
        match = _CALL.match(line)
        if not match:
            continue
        call = match.group(1)
        if call == "write" and MARK in line:  # (not Python reading the script's source)
            label = line.split(MARK, 1)[1].split("\\n", 1)[0]
            kind, _, name = label.partition(" ")
            current = name if kind == "start" else None
            if kind == "start":
                counts[name] = collections.Counter()
            continue
        if current is not None and call not in NOT_COUNTED:
            counts[current][call] += 1
    return counts


def calls_per_op(setup: list[str], cases: dict[str, str], n: int,
                 workdir: Path) -> dict[str, dict[str, float]]:
    """System calls per run of each case's statement, traced in one child script.

    Args:
        setup: statements the child runs first (imports, warm-up calls).
        cases: name -> a statement, run ``n`` times between the name's markers.
        n: repetitions of each statement.
        workdir: where the script and the strace log are written.

    Returns:
        name -> ``{"per_op": calls per run, <system call>: calls of it per run, ...}``.
        The child imports ``bench`` and the packages from this checkout.
    """
    lines = list(setup)
    for name, stmt in cases.items():
        lines += [mark_line("start", name), f"for _ in range({n}):", f"    {stmt}",
                  mark_line("end", name)]
    counted = trace_script("\n".join(lines) + "\n", workdir,
                           {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    return {name: {"per_op": sum(c.values()) / n, **{k: v / n for k, v in c.items()}}
            for name, c in counted.items()}


def trace_script(script: str, workdir: Path, env: dict[str, str] | None = None,
                 timeout: float = 600) -> dict[str, collections.Counter[str]]:
    """Run ``script`` under ``strace -f`` and count the calls between its markers.

    Raises:
        FileNotFoundError: strace is not installed.
        RuntimeError: the script failed.
    """
    strace = shutil.which("strace")
    if strace is None:
        raise FileNotFoundError("strace")
    path = workdir / "traced.py"
    path.write_text(script)
    log = workdir / "trace.log"
    done = subprocess.run([strace, "-f", "-qq", "-s", "64", "-o", str(log), sys.executable, str(path)],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise RuntimeError(f"traced script failed: {done.stderr[-2000:]}")
    return count_between_marks(log.read_text())
