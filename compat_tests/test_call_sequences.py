"""Random sequences of calls, good and bad, on ours and on PyCryptodome's objects side by side.

Each example draws a list of calls -- ``update``/``encrypt``/``decrypt`` with
any kind of argument (see :mod:`compat_tests.grid`), ``output=`` buffers of
the right or a wrong size, tags of every kind, ``digest``/``verify`` at any
moment, AAD past a declared ``assoc_len``, messages past ``msg_len`` -- and
runs it on both objects.  Every outcome must be the same: the value returned
or the exception's type and message, and what each argument holds afterwards.
At the end the object must accept the tag PyCryptodome's computed: whatever
failed on the way, both tags cover the same bytes.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from compat_tests.grid import KINDS, OUTPUT_KINDS, arg
from compat_tests.test_buffer_grid import (AEADS, CMACS, CONSTRUCTIONS, SKCIPHERS, _prepare,
                                           _scenario)

# Sizes around the block sizes and the 64 KiB one-shot limit of the kernel.
SIZES = st.one_of(st.integers(0, 40), st.sampled_from([64, 65_536, 70_000]))
KIND = st.sampled_from(sorted(KINDS))
OUT = st.one_of(st.none(), st.tuples(st.sampled_from(OUTPUT_KINDS), st.integers(-2, 2)))

_AEAD_METHODS = ["update", "encrypt", "decrypt", "digest", "verify", "hexverify",
                 "encrypt_and_digest", "decrypt_and_verify"]
_STEP = st.tuples(st.sampled_from(_AEAD_METHODS), KIND, SIZES, OUT, st.booleans())


def _data(size: int, kind: str) -> bytes:
    """Bytes of ``size`` (rounded for the kinds that need whole items)."""
    size -= size % 4 if kind in ("cast-I", "cast-I-readonly", "array-I") else 0
    size -= size % 2 if kind in ("cast-H", "2d-rows", "2d-wide") else 0
    return bytes((7 * i + 3) % 256 for i in range(size))


def _step(method: str, kind: str, size: int, out: Any, plain_data: bool) -> tuple[str, Any]:
    """One call: ``plain_data`` puts the odd kind in ``output=`` (or the tag) instead."""
    data = _data(size, kind)
    label = f"{method}({kind}[{len(data)}], out={out}, plain={plain_data})"

    def call(obj: Any, side: dict[str, Any]) -> Any:
        fn = getattr(obj, method)
        if method in ("digest",):
            return fn()
        if method in ("verify", "hexverify"):
            tag = data[:16] if method == "verify" else data[:16].hex().encode()
            return fn(arg(side, kind, tag) if not plain_data else tag)
        given = data if plain_data else arg(side, kind, data)
        kwargs = {}
        if out is not None and method in ("encrypt", "decrypt", "encrypt_and_digest",
                                          "decrypt_and_verify"):
            out_kind, delta = out
            kwargs["output"] = arg(side, out_kind, bytes(max(0, len(data) + delta)))
        if method == "decrypt_and_verify":
            return fn(given, bytes(16), **kwargs)
        return fn(given, **kwargs)

    return label, call


def _check_sequence(name: str, steps: list[tuple[str, Any]]) -> None:
    c = CONSTRUCTIONS[name]
    _prepare(c.name)
    diffs = _scenario(c, steps, True, allow_zeroed_output=True)
    assert not diffs, "\n".join(diffs)


@pytest.mark.parametrize("name", AEADS)
@given(calls=st.lists(_STEP, min_size=1, max_size=8))
# A whole message counted in items (two bytes per 'H'), written into a buffer of that format.
@example(calls=[("encrypt_and_digest", "cast-H", 2, ("cast-H", 0), False)])
@example(calls=[("decrypt_and_verify", "cast-I", 32, ("cast-I", 0), False)])
def test_aead_call_sequences(name, calls):
    _check_sequence(name, [_step(*call) for call in calls])


_SK_STEP = st.tuples(st.sampled_from(["encrypt", "decrypt"]), KIND, SIZES, OUT, st.booleans())


@pytest.mark.parametrize("name", SKCIPHERS)
@given(calls=st.lists(_SK_STEP, min_size=1, max_size=6))
def test_skcipher_call_sequences(name, calls):
    _check_sequence(name, [_step(*call) for call in calls])


_MAC_STEP = st.tuples(st.sampled_from(["update", "update", "digest", "verify", "hexverify"]),
                      KIND, SIZES, st.none(), st.booleans())


@pytest.mark.parametrize("name", CMACS)
@given(calls=st.lists(_MAC_STEP, min_size=1, max_size=8))
def test_cmac_call_sequences(name, calls):
    steps = [_step(*call) for call in calls]
    steps.append(("hexdigest()", lambda o, s: o.hexdigest()))
    _check_sequence(name, steps)
