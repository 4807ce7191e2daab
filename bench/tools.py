"""libkcapi's command-line tools (kcapi-dgst, kcapi-enc) as benchmark rows.

A tool hashes or encrypts one input per process, so its time for a message
includes the process start-up, which in User-Mode Linux alone is tens of
milliseconds and noisy.  The figure reported is the tool's marginal rate:
``(t(17 MiB) - t(1 MiB)) / 16 MiB``, each time the best of several runs -- the
speed of libkcapi's own C loop over the data, with no start-up in it.  The
tool's output for the 1 MiB input is checked against the Python reference
first: a tool that does something else gets no figure.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

SMALL = 1 << 20
BIG = SMALL + (16 << 20)
NOTE = "C loop: (t(17 MiB) - t(1 MiB)) / 16 MiB, no process start-up"


def marginal_rate(work: Path, stem: str, run: Callable[[Path], bytes],
                  check: Callable[[bytes, bytes], bool], runs: int = 5) -> tuple[float, str]:
    """MB/s of ``run(input_path) -> output`` per extra byte, and a note.

    Args:
        work: a scratch directory.
        stem: a file name prefix for the inputs.
        run: runs the tool on a file, returns what it wrote.
        check: ``check(input, output)``: whether the tool computed the right thing.
        runs: runs per size (the best counts).

    Returns:
        ``(mb_per_s, note)``; ``mb_per_s`` is 0 when the check failed or timing was noise.
    """
    small, big = work / f"{stem}-small", work / f"{stem}-big"
    data = os.urandom(BIG)
    small.write_bytes(data[:SMALL])
    big.write_bytes(data)
    try:
        if not check(data[:SMALL], run(small)):
            return 0.0, "WRONG OUTPUT: no figure"

        def best(path: Path) -> float:
            fastest = float("inf")
            for _ in range(runs):
                start = time.perf_counter()
                run(path)
                fastest = min(fastest, time.perf_counter() - start)
            return fastest

        extra = best(big) - best(small)
        if extra <= 0:
            return 0.0, "timing noise exceeded the work: no figure"
        return (BIG - SMALL) / extra / 1e6, NOTE
    finally:
        small.unlink()
        big.unlink()
