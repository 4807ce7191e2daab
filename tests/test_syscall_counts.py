"""System calls per operation, counted by strace in a kernel with AF_ALG.

One traced child process runs every pattern N times between marker writes;
the syscalls between two markers, divided by N, are the cost per operation.
``clock_gettime`` is left out: on real kernels it is served by the vDSO
without entering the kernel (User-Mode Linux has no vDSO, so strace sees it
there; CPython 3.11 reads the clock on every lock acquire).
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

from .support import REQUIRE_KERNEL, require_kernel_alg

pytestmark = pytest.mark.kernel

N = 20
MARK = "@@kcapi-mark "
NOT_COUNTED = {"clock_gettime", "clock_gettime64", "gettimeofday"}

# pattern name -> (setup code, code repeated N times, target syscalls per op)
PATTERNS = {
    "one-shot sha256 of 64 B": ("data = b'x' * 64", "sha256(data).digest()", 2),
    "one-shot sha256 of 16 KiB": ("data = b'x' * 16384", "sha256(data).digest()", 2),
    "one-shot hexdigest of 1 KiB": ("data = b'x' * 1024", "sha256(data).hexdigest()", 2),
    "new object, no digest": ("", "sha256(b'abc')", 0),
    "copy of held data": ("h = sha256(b'abc')", "h.copy()", 0),
    "streaming update of 64 KiB": ("h = sha256(b'y' * 20000); chunk = b'z' * 65536",
                                   "h.update(chunk)", 1),
    "streaming digest": ("h = sha256(b'y' * 20000)", "h.update(b'u' * 20000); h.digest()", 1 + 3),
    "copy and drop of a streaming object": ("h = sha256(b'y' * 20000)", "h.copy()", 2),
    "hmac one-shot, key used before": ("hmac.new(b'k' * 32, b'w', 'sha256').digest()",
                                       "hmac.new(b'k' * 32, b'msg', 'sha256').digest()", 2),
    "hmac.digest one-shot, key used before": ("hmac.digest(b'k' * 32, b'w', 'sha256')",
                                              "hmac.digest(b'k' * 32, b'msg', 'sha256')", 2),
    "sha512 one-shot of 4 KiB": ("data = b'x' * 4096", "sha512(data).digest()", 2),
}


def child_script() -> str:
    lines = [
        "import os",
        "from kcapi_hashlib import sha256, sha512, set_backend",
        "from kcapi_hashlib import hmac",
        "set_backend('kernel')",
        "sha256(b'warm').digest(); sha512(b'warm').digest()",
        "for _ in range(8): sha256(b'w' * 20000).copy().digest()",  # fill the pools
    ]
    for name, (setup, body, _target) in PATTERNS.items():
        lines += [setup, f"os.write(2, {(MARK + 'start ' + name + chr(10)).encode()!r})",
                  f"for _ in range({N}):", f"    {body}",
                  f"os.write(2, {(MARK + 'end ' + name + chr(10)).encode()!r})"]
    return "\n".join(lines) + "\n"


def count_between_marks(trace: str) -> dict[str, collections.Counter]:
    counts: dict[str, collections.Counter] = {}
    current = None
    for line in trace.splitlines():
        match = re.match(r"^(?:\[pid\s+\d+\]\s+|\d+\s+)?(\w+)\(", line)
        if not match:
            continue
        call = match.group(1)
        if MARK in line:
            label = line.split(MARK, 1)[1].split("\\n", 1)[0]
            kind, _, name = label.partition(" ")
            current = name if kind == "start" else None
            if kind == "start":
                counts[name] = collections.Counter()
            continue
        if current is not None and call not in NOT_COUNTED:
            counts[current][call] += 1
    return counts


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    require_kernel_alg("hash", "sha256")
    strace = shutil.which("strace")
    if strace is None:
        if REQUIRE_KERNEL:
            pytest.fail("strace is needed to count syscalls (scripts/bootstrap installs it)")
        pytest.skip("strace is not installed")
    work = tmp_path_factory.mktemp("strace")
    script = work / "patterns.py"
    script.write_text(child_script())
    out = work / "trace"
    done = subprocess.run([strace, "-f", "-qq", "-s", "64", "-o", str(out), sys.executable, str(script)],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "KCAPI_BACKEND": "kernel"})
    assert done.returncode == 0, done.stderr[-2000:]
    return count_between_marks(out.read_text())


@pytest.mark.parametrize("name", list(PATTERNS))
def test_syscalls_per_operation(measured, name):
    target = PATTERNS[name][2]
    counter = measured[name]
    per_op = sum(counter.values()) / N
    print(f"{name}: {per_op:.2f} syscalls/op {dict(counter)}")
    assert per_op <= target, f"{name}: {per_op:.2f} syscalls per op > {target}: {dict(counter)}"


def test_the_parser_counts_only_between_marks():
    trace = textwrap.dedent(f"""\
        100 sendmsg(3, ...) = 1
        100 write(2, "{MARK}start p\\n", 20) = 20
        100 sendmsg(3, ...) = 1
        100 clock_gettime(CLOCK_MONOTONIC, ...) = 0
        [pid   101] recvfrom(3, ...) = 32
        100 write(2, "{MARK}end p\\n", 18) = 18
        100 close(3) = 0
        """)
    assert count_between_marks(trace) == {"p": collections.Counter(sendmsg=1, recvfrom=1)}
