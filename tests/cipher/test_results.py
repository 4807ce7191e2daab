"""kcapi_cipher._results: results received into a kept per-thread buffer, copied out as bytes."""

from __future__ import annotations

import threading

import pytest

from kcapi_cipher import _results
from kcapi_cipher._results import SCRATCH_LIMIT, fill_bytes


@pytest.fixture(autouse=True)
def _fresh_thread_state():
    _results._local.__dict__.clear()  # as on a thread that made no result yet
    yield
    _results._local.__dict__.clear()


def _writer(pattern: bytes):
    def fill(view: memoryview) -> None:
        view[:] = (pattern * (view.nbytes // len(pattern) + 1))[:view.nbytes]
    return fill


def _kept():
    return getattr(_results._local, "buffer", None)


def test_results_are_bytes_of_what_was_written():
    for size in (1, 15, 4096, 65537, SCRATCH_LIMIT, SCRATCH_LIMIT + 1):
        got = fill_bytes(size, _writer(b"abc"))
        assert type(got) is bytes and got == (b"abc" * size)[:size]


def test_the_buffer_is_kept_grown_in_steps_and_bounded():
    fill_bytes(100, _writer(b"x"))
    first = _kept()
    assert first is not None and len(first) == 65536
    fill_bytes(65536, _writer(b"y"))
    assert _kept() is first  # big enough: the same memory again
    fill_bytes(65537, _writer(b"z"))
    assert len(_kept()) == 2 * 65536
    fill_bytes(SCRATCH_LIMIT + 1, _writer(b"w"))  # past the limit: a buffer of its own
    assert len(_kept()) == 2 * 65536


def test_a_nested_call_gets_a_buffer_of_its_own():
    inner = []

    def outer_fill(view: memoryview) -> None:
        view[:] = b"o" * view.nbytes
        inner.append(fill_bytes(50, _writer(b"i")))  # e.g. a signal handler encrypting
        assert bytes(view) == b"o" * view.nbytes  # the outer result is untouched

    assert fill_bytes(200, outer_fill) == b"o" * 200
    assert inner == [b"i" * 50]
    assert fill_bytes(10, _writer(b"k")) == b"k" * 10  # and the kept buffer is free again


def test_a_failure_releases_nothing_and_leaves_nothing_behind():
    def half_then_fail(view: memoryview) -> None:
        view[: view.nbytes // 2] = b"s" * (view.nbytes // 2)
        raise ValueError("MAC check failed")

    with pytest.raises(ValueError, match="MAC check failed"):
        fill_bytes(1000, half_then_fail)
    assert b"s" not in _kept()
    assert fill_bytes(10, _writer(b"n")) == b"n" * 10  # usable afterwards


def test_threads_have_buffers_of_their_own():
    errors = []
    barrier = threading.Barrier(4)

    def work(n: int) -> None:
        pattern = bytes([65 + n])

        def slow_fill(view: memoryview) -> None:
            view[:] = pattern * view.nbytes
            barrier.wait(timeout=10)  # every thread is inside a fill at once
            if bytes(view) != pattern * view.nbytes:
                errors.append(n)

        for _ in range(3):
            if fill_bytes(5000, slow_fill) != pattern * 5000:
                errors.append(n)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
