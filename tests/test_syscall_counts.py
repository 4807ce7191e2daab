"""System calls per operation, counted by strace in a kernel with AF_ALG.

One traced child process runs every pattern N times between marker writes;
the syscalls between two markers, divided by N, are the cost per operation
(see bench/syscount.py, which the benchmark shares).
"""

from __future__ import annotations

import collections
import textwrap

import pytest

from bench.syscount import MARK, count_between_marks, mark_line, trace_script

from .support import REQUIRE_KERNEL, require_kernel_alg

pytestmark = pytest.mark.kernel

N = 20

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
        lines += [setup, mark_line("start", name), f"for _ in range({N}):", f"    {body}",
                  mark_line("end", name)]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    require_kernel_alg("hash", "sha256")
    try:
        return trace_script(child_script(), tmp_path_factory.mktemp("strace"),
                            {"KCAPI_BACKEND": "kernel"})
    except FileNotFoundError:
        if REQUIRE_KERNEL:
            pytest.fail("strace is needed to count syscalls (scripts/bootstrap installs it)")
        pytest.skip("strace is not installed")


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
