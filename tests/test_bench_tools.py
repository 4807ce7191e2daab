"""bench.tools: an external tool's figure is only reported when its output is right."""

from __future__ import annotations

import hashlib

from bench import tools


def test_a_tool_with_wrong_output_gets_no_figure(tmp_path):
    seen = []

    def run(path):
        seen.append(path.stat().st_size)
        return b"not the digest"

    mbs, note = tools.marginal_rate(tmp_path, "t", run,
                                    lambda data, out: out == hashlib.sha256(data).digest())
    assert mbs == 0.0 and "WRONG OUTPUT" in note
    assert seen == [tools.SMALL]  # not timed at all
    assert list(tmp_path.iterdir()) == []  # inputs removed


def test_a_right_tool_is_timed_on_both_sizes(tmp_path):
    seen = []

    def run(path):
        data = path.read_bytes()
        seen.append(len(data))
        return hashlib.sha256(data).digest()

    mbs, note = tools.marginal_rate(tmp_path, "t", run,
                                    lambda data, out: out == hashlib.sha256(data).digest(), runs=2)
    assert seen == [tools.SMALL] + [tools.BIG] * 2 + [tools.SMALL] * 2
    assert (mbs > 0 and note == tools.NOTE) or (mbs == 0 and "noise" in note)
    assert list(tmp_path.iterdir()) == []
