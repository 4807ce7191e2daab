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


def test_the_fallback_row_puts_ours_beside_hashlib():
    from bench.run import fallback_rows

    import kcapi_hashlib

    before = kcapi_hashlib.get_backend()
    rows = fallback_rows(repeats=3, number=20)
    assert kcapi_hashlib.get_backend() == before  # measured under 'software', then restored
    assert [(r.algorithm.split()[-1], r.implementation) for r in rows] == [
        (".digest()", "ours (software fallback)"), (".digest()", "hashlib"),
        (".hexdigest()", "ours (software fallback)"), (".hexdigest()", "hashlib")]
    assert all(r.size == 64 and r.ops_per_s > 0 for r in rows)
    assert "x hashlib" in rows[0].note and "x hashlib" in rows[2].note
