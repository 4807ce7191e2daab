"""Side-by-side benchmark: kcapi (kernel) vs raw AF_ALG socket code, hashlib/PyCryptodome,
libkcapi's kcapi-dgst / kcapi-enc and the kernel's own speed (tcrypt); where ``/dev/crypto``
is there, kcapi through it and raw ioctl code too (:mod:`bench.cryptodev`).

Run it inside a kernel with AF_ALG (``scripts/bench`` boots User-Mode Linux 7.3 with
cryptodev-linux built in where the host has no AF_ALG).  The "ours (kernel)" rows are
AF_ALG's (``KCAPI_INTERFACE=af_alg`` for them).  It prints one table per algorithm, the system calls per
operation (strace), and writes ``bench-results/bench.json`` and ``bench.png``.

Figures are wall-clock on a shared machine: compare columns of one run, not runs.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac as std_hmac
import json
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import kcapi_hashlib
from kcapi_hashlib import hmac as k_hmac

from . import ciphers, cryptodev, tools

from .syscount import calls_per_op

SIZES = [64, 1024, 16 * 1024, 1024 * 1024]
HMAC_KEY = b"k" * 32
KCAPI_NAMES = {"sha1": "sha1", "sha256": "sha256", "sha512": "sha512", "hmac-sha256": "hmac(sha256)"}


@dataclass
class Row:
    """One measurement."""

    algorithm: str
    size: int
    implementation: str
    ops_per_s: float
    mb_per_s: float
    note: str = ""


def measure(ops: dict[str, Callable[[], object]], size: int, min_time: float,
            rounds: int = 5) -> dict[str, tuple[float, float]]:
    """Each of ``ops`` for ``min_time`` seconds in all: ``{name: (ops/s, MB/s)}``.

    The implementations take turns, ``rounds`` slices each, and each keeps its
    best slice: a machine that is busy for a moment (User-Mode Linux's clock
    and scheduling are noisy) slows every implementation's worst slice, not
    one implementation's whole figure.
    """
    best = dict.fromkeys(ops, 0.0)
    for op in ops.values():
        op()  # warm: first-use binds and allocations are not measured
    for _ in range(rounds):
        for name, op in ops.items():
            count, start = 0, time.perf_counter()
            while True:
                op()
                count += 1
                elapsed = time.perf_counter() - start
                if elapsed >= min_time / rounds:
                    break
            best[name] = max(best[name], count / elapsed)
    return {name: (rate, rate * size / 1e6) for name, rate in best.items()}


# -- implementations -------------------------------------------------------

def ours(alg: str, data: bytes) -> Callable[[], object]:
    if alg == "hmac-sha256":
        return lambda: k_hmac.new(HMAC_KEY, data, "sha256").digest()
    return lambda: kcapi_hashlib.new(alg, data).digest()


def software(alg: str, data: bytes) -> Callable[[], object]:
    if alg == "hmac-sha256":
        return lambda: std_hmac.digest(HMAC_KEY, data, "sha256")
    return lambda: hashlib.new(alg, data).digest()


def _bound(alg: str) -> socket.socket:
    s = socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET, 0)
    s.bind(("hash", KCAPI_NAMES[alg]))
    if alg.startswith("hmac"):
        s.setsockopt(socket.SOL_ALG, socket.ALG_SET_KEY, HMAC_KEY)
    return s


def raw_naive(alg: str, data: bytes) -> Callable[[], object]:
    """What straightforward socket code (and libkcapi's one-shot call) does per message."""
    size = hashlib.new(alg[5:] if alg.startswith("hmac") else alg).digest_size

    def op() -> bytes:
        with _bound(alg) as s:
            conn, _ = s.accept()
            with conn:
                conn.sendall(data)
                return conn.recv(size)
    return op


def raw_reused(alg: str, data: bytes) -> Callable[[], object]:
    """The floor for Python socket code: one bound and one op socket kept forever."""
    size = hashlib.new(alg[5:] if alg.startswith("hmac") else alg).digest_size
    parent = _bound(alg)
    conn, _ = parent.accept()
    raw_reused.keep.append((parent, conn))  # type: ignore[attr-defined]

    def op() -> bytes:
        conn.sendall(data)
        return conn.recv(size)
    return op


raw_reused.keep = []  # type: ignore[attr-defined]


def kcapi_dgst_rows(alg: str, work: Path) -> list[Row]:
    """libkcapi's kcapi-dgst: its marginal rate (see :mod:`bench.tools`), as a 1 MiB row."""
    tool = shutil.which("kcapi-dgst")
    if tool is None or alg not in KCAPI_NAMES:
        return []
    hmac_alg = alg.startswith("hmac")
    keyfile = work / "key"
    keyfile.write_bytes(HMAC_KEY)

    def run(path: Path) -> bytes:
        cmd = [tool, "-c", KCAPI_NAMES[alg], "--hex", "-q", "-i", str(path)]
        extra: dict = {}
        key_fd = None
        if hmac_alg:
            key_fd = os.open(keyfile, os.O_RDONLY)
            cmd += ["--keyfd", str(key_fd)]
            extra = {"pass_fds": (key_fd,)}
        try:
            return subprocess.run(cmd, capture_output=True, check=True, **extra).stdout
        finally:
            if key_fd is not None:
                os.close(key_fd)

    def check(data: bytes, out: bytes) -> bool:
        want = (std_hmac.new(HMAC_KEY, data, alg[5:]) if hmac_alg else hashlib.new(alg, data))
        return out.split()[0].decode() == want.hexdigest() if out.split() else False

    mbs, note = tools.marginal_rate(work, f"dgst-{alg}", run, check)
    return [Row(alg, tools.SMALL, "kcapi-dgst", mbs * 1e6 / tools.SMALL, mbs, note)]


# The result of a one-update test is a printk continuation: dmesg may show it on its own line.
TCRYPT_LINE = re.compile(r"\(\s*(\d+) byte blocks,\s*(\d+) bytes per update,\s*(\d+) updates\):"
                         r"\s*(?:\n\[[^\]]*\]\s*)?(\d+) opers/sec,\s*(\d+) bytes/sec")


def tcrypt_rows(alg: str) -> list[Row]:
    """The kernel's own hash speed (tcrypt module, 1 s per size) where it can be loaded."""
    if alg not in KCAPI_NAMES or alg.startswith("hmac") or shutil.which("modprobe") is None \
            or os.geteuid() != 0:
        return []  # tcrypt's hash speed test sets no key: no hmac figures
    name = KCAPI_NAMES[alg]
    subprocess.run(["dmesg", "-n", "1"], capture_output=True)  # results to the log, not the console
    marker = f"kcapi-bench tcrypt {name} {time.monotonic_ns()}"
    try:
        with open("/dev/kmsg", "w") as kmsg:
            kmsg.write(marker + "\n")
    except OSError:
        return []  # cannot tell this run's lines from earlier ones
    subprocess.run(["modprobe", "tcrypt", "mode=300", f"alg={name}", "sec=1"], capture_output=True)
    log = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
    if marker not in log:
        return []
    log = log.rsplit(marker, 1)[1]  # this algorithm's lines only
    rows = []
    for block, per_update, _updates, ops, bps in TCRYPT_LINE.findall(log):
        if block == per_update and int(block) in (64, 1024, 8192):
            rows.append(Row(alg, int(block), "kernel tcrypt", float(ops), int(bps) / 1e6,
                            "in-kernel loop, no syscalls"))
    return rows


def syscalls_per_op(work: Path) -> dict[str, dict[str, float]]:
    """strace counts of ours and raw socket code (sha256, hmac-sha256)."""
    n = 20
    lines = ["import os, socket", "import kcapi_hashlib", "from kcapi_hashlib import hmac",
             "kcapi_hashlib.set_backend('kernel'); kcapi_hashlib.set_interface('af_alg')",
             "from bench.run import raw_naive, raw_reused, HMAC_KEY"]
    cases = {}
    for size in (64, 16384, 1024 * 1024):
        for impl, stmt in (("ours", f"kcapi_hashlib.sha256(d{size}).digest()"),
                           ("raw naive", f"naive{size}()"), ("raw reused", f"reused{size}()")):
            cases[f"sha256 {size} B {impl}"] = stmt
        lines += [f"d{size} = b'x' * {size}", f"naive{size} = raw_naive('sha256', d{size})",
                  f"reused{size} = raw_reused('sha256', d{size})",
                  f"kcapi_hashlib.sha256(d{size}).digest(); naive{size}(); reused{size}()"]
    cases["hmac-sha256 64 B ours"] = "hmac.new(HMAC_KEY, d64, 'sha256').digest()"
    cases["hmac-sha256 64 B raw naive"] = "hnaive()"
    cases["hmac-sha256 64 B raw reused"] = "hreused()"
    lines += ["hmac.new(HMAC_KEY, d64, 'sha256').digest()",
              "hnaive = raw_naive('hmac-sha256', d64); hnaive()",
              "hreused = raw_reused('hmac-sha256', d64); hreused()"]
    return calls_per_op(lines, cases, n, work)


def file_digest_rows(work: Path, size: int, rounds: int = 5) -> list[Row]:
    """file_digest of a large file vs kcapi-dgst on it (taking turns, best of ``rounds``),
    with our RSS growth (max RSS after the first of our runs, minus before it)."""
    path = work / "big"
    with open(path, "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(size >> 20):
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())  # no write-back of it while the readers are timed
    tool = shutil.which("kcapi-dgst")

    def ours() -> str:
        with open(path, "rb") as f:
            return kcapi_hashlib.file_digest(f, "sha256").hexdigest()

    def theirs() -> str:
        out = subprocess.run([tool, "-c", "sha256", "-i", str(path), "--hex", "-q"],
                             capture_output=True, check=True, text=True).stdout
        return out.split()[0] if out.split() else ""

    def stdlib() -> str:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()

    want = stdlib()  # (and the file is in the page cache for every reader)
    impls = {"ours file_digest": ours, "hashlib file_digest": stdlib}
    if tool:
        impls["kcapi-dgst -i"] = theirs
    best = dict.fromkeys(impls, float("inf"))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    growth = None
    for _ in range(rounds):
        for name, run in impls.items():
            start = time.perf_counter()
            got = run()
            best[name] = min(best[name], time.perf_counter() - start)
            if growth is None:
                growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
            if got != want:
                raise RuntimeError(f"{name} computed a wrong digest of {path}")
    path.unlink()
    notes = {"ours file_digest": f"max RSS growth {(growth or 0) / 1024:.1f} MiB"}
    return [Row("file sha256", size, name, 1 / t, size / t / 1e6, notes.get(name, ""))
            for name, t in best.items()]


def _fine_cpu_clock() -> bool:
    """Whether this thread's CPU clock ticks finely enough to time 1000 calls (under
    User-Mode Linux it advances in scheduler ticks of milliseconds).

    The clock's step is observed, not taken from clock_getres (which reports 1 ns
    where the clock really moves by ticks): the largest of a few steps must be
    under 50 microseconds, and the clock must move at all within 50 ms.
    """
    steps = []
    deadline = time.perf_counter() + 0.05
    last = time.thread_time()
    while len(steps) < 5 and time.perf_counter() < deadline:
        now = time.thread_time()
        if now != last:
            steps.append(now - last)
            last = now
    return len(steps) == 5 and max(steps) < 50e-6


def fallback_rows(repeats: int = 101, number: int = 1000) -> list[Row]:
    """What the software fallback costs: ``kcapi_hashlib.sha256(64 B).digest()`` (and
    ``.hexdigest()``) under the ``software`` policy against ``hashlib.sha256``.

    No system call is involved, so each figure is the median of ``repeats``
    timeit runs of ``number`` calls, ours and hashlib's taking turns, timed in
    the thread's CPU time where that clock is fine-grained (a busy machine
    delays both, but is not counted), else in wall-clock time; the note gives
    the median of the per-turn ratios.
    """
    clock, clock_name = ((time.thread_time, "CPU") if _fine_cpu_clock() else
                         (time.perf_counter, "wall-clock"))
    data = os.urandom(64)
    impls = {"ours (software fallback)": kcapi_hashlib.sha256, "hashlib": hashlib.sha256}
    rows = []
    with kcapi_hashlib.use_backend("software"):
        for method in ("digest", "hexdigest"):
            timers = {impl: timeit.Timer(f"f(d).{method}()", timer=clock,
                                         globals={"f": f, "d": data})
                      for impl, f in impls.items()}
            for timer in timers.values():
                timer.timeit(number)  # warm: the first call decides the route
            times: dict[str, list[float]] = {impl: [] for impl in impls}
            for _ in range(repeats):
                for impl, timer in timers.items():
                    times[impl].append(timer.timeit(number) / number)
            ours_impl, ref_impl = impls
            ratio = statistics.median(a / b for a, b in zip(times[ours_impl], times[ref_impl]))
            for impl, samples in times.items():
                per_op = statistics.median(samples)
                note = f"{per_op * 1e9:.0f} ns/op {clock_name}, median of {repeats}"
                if impl == ours_impl:
                    note += f"; {ratio:.2f}x hashlib (median of paired ratios)"
                rows.append(Row(f"sha256 software fallback, one-shot .{method}()", len(data),
                                impl, 1 / per_op, len(data) / per_op / 1e6, note))
    return rows


def print_table(rows: list[Row]) -> None:
    by_alg: dict[str, list[Row]] = {}
    for row in rows:
        by_alg.setdefault(row.algorithm, []).append(row)
    for alg, group in by_alg.items():
        print(f"\n## {alg}")
        print(f"{'implementation':<28}{'size':>10}{'ops/s':>12}{'MB/s':>10}{'x ours':>9}  note")
        ours_by_size = {r.size: r.mb_per_s for r in group if r.implementation.startswith("ours")}
        for r in sorted(group, key=lambda r: (r.size, r.implementation)):
            ref = ours_by_size.get(r.size)
            ratio = f"{r.mb_per_s / ref:.2f}" if ref else "-"
            print(f"{r.implementation:<28}{r.size:>10}{r.ops_per_s:>12.0f}{r.mb_per_s:>10.1f}"
                  f"{ratio:>9}  {r.note}")


def plot(rows: list[Row], path: Path) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    algs = [a for a in dict.fromkeys(r.algorithm for r in rows)
            if not a.startswith("file") and "fallback" not in a]
    if not algs:
        return False
    fig, axes = plt.subplots(1, len(algs), figsize=(5 * len(algs), 4), squeeze=False)
    for ax, alg in zip(axes[0], algs):
        impls = dict.fromkeys(r.implementation for r in rows if r.algorithm == alg)
        for impl in impls:
            pts = sorted((r.size, r.mb_per_s) for r in rows
                         if r.algorithm == alg and r.implementation == impl)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=impl)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(alg)
        ax.set_xlabel("message size (bytes)")
        ax.set_ylabel("MB/s")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"kcapi vs alternatives, Linux {platform.release()}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-time", type=float, default=1.0,
                        help="seconds per implementation and size")
    parser.add_argument("--out", default="bench-results", help="output directory")
    parser.add_argument("--algorithms", default="sha1,sha256,sha512,hmac-sha256")
    parser.add_argument("--ciphers", default=",".join(ciphers.CIPHERS),
                        help="cipher rows (empty for none)")
    parser.add_argument("--file-size", type=int, default=256, help="MiB for the file_digest run")
    parser.add_argument("--no-tcrypt", action="store_true")
    args = parser.parse_args(argv)
    kcapi_hashlib.set_backend("kernel")
    kcapi_hashlib.set_interface("af_alg")  # "ours (kernel)": AF_ALG; /dev/crypto has rows of its own
    doors = cryptodev.available()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for alg in filter(None, args.algorithms.split(",")):
            for size in SIZES:
                data = os.urandom(size)
                makers = {"ours (kernel)": ours, "raw socket naive": raw_naive,
                          "raw socket reused": raw_reused, "hashlib/hmac (user space)": software}
                got = measure({impl: make(alg, data) for impl, make in makers.items()},
                              size, args.min_time)
                rows += [Row(alg, size, impl, ops, mbs) for impl, (ops, mbs) in got.items()]
            if doors:
                rows += cryptodev.hash_rows(alg, SIZES, args.min_time, measure, Row)
            rows += kcapi_dgst_rows(alg, work)
            if not args.no_tcrypt:
                rows += tcrypt_rows(alg)
            print(f"measured {alg}", file=sys.stderr)
        for name in filter(None, args.ciphers.split(",")):
            rows += ciphers.rows(name, SIZES, args.min_time, measure, Row, work)
            if doors:
                rows += cryptodev.cipher_rows(name, SIZES, args.min_time, measure, Row)
            print(f"measured {name}", file=sys.stderr)
        if args.file_size:
            rows += file_digest_rows(work, args.file_size << 20)
        rows += fallback_rows()
        syscalls = syscalls_per_op(work)
        syscalls.update(ciphers.syscalls_per_op(work))
        if doors:
            syscalls.update(cryptodev.syscalls_per_op(work))
    print(f"# kcapi benchmark, Linux {platform.release()} ({platform.machine()}), "
          f"Python {platform.python_version()}")
    print_table(rows)
    print("\n## system calls per operation (strace, clock_gettime excluded)")
    for name, counts in syscalls.items():
        detail = ", ".join(f"{k} {v:g}" for k, v in counts.items() if k != "per_op")
        print(f"{name:<34}{counts['per_op']:>6.2f}  ({detail})")
    result = {"kernel": platform.release(), "machine": platform.machine(),
              "python": platform.python_version(), "rows": [asdict(r) for r in rows],
              "syscalls_per_op": syscalls}
    (out / "bench.json").write_text(json.dumps(result, indent=1))
    drawn = plot(rows, out / "bench.png")
    print(f"\nwrote {out / 'bench.json'}" + (f" and {out / 'bench.png'}" if drawn else
                                              " (no matplotlib: no plot)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
