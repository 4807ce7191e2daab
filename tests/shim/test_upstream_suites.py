"""Upstream test suites pass, unchanged, against kcapi installed by ``kcapi_shim``.

CPython's ``test_hashlib`` and ``test_hmac`` (from the running interpreter)
and PyCryptodome's SelfTest for the modules kcapi replaces run in a child
process under ``python -m kcapi_shim --backend B`` (:mod:`tests.upstream.driver`).
Any failure or error fails the test, and so does any skip or exclusion that
``tests/upstream/exclusions.toml`` does not list with its reason.  Host run:
``auto`` (the software fallback, through kcapi's routing); kernel run:
``kernel`` and ``auto``.  PyCryptodome's tests marked slow run only with
``KCAPI_UPSTREAM_SLOW=1`` (they take 15 minutes per policy in UML).  Each run
takes minutes: ``-m 'not upstream'`` leaves them out.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from ..support import REQUIRE_KERNEL, kernel_refusal, require_kernel_alg
from ..upstream import driver, vectors


# Algorithms the suites use beyond sha256, one per kind (a restricted process lacks each).
SUITE_NAMES = (("hash", "sha3-256"), ("hash", "blake2b-512"), ("skcipher", "chacha20"),
               ("aead", "gcm(aes)"))


@pytest.mark.upstream
@pytest.mark.parametrize("backend", [pytest.param("kernel", marks=pytest.mark.kernel), "auto"])
@pytest.mark.parametrize("suite", sorted(driver.SUITES))
def test_upstream_suite_passes_under_the_shim(suite: str, backend: str):
    if backend == "kernel":
        require_kernel_alg("hash", "sha256")  # no AF_ALG here: the kernel policy cannot run
        # The suites ask the kernel for every algorithm kcapi maps: where af_alg_restrict
        # keeps some from this process (the restricted regimes run `auto`), the `kernel`
        # policy refuses them by design; the kernel runs (restriction off) run it whole.
        # Likewise where the kernel interface in force has no such algorithm at all
        # (/dev/crypto: SHA-3, BLAKE2b, ChaCha20, CMAC...): the `auto` run covers the suite
        # there, /dev/crypto serving what it offers.
        for kind, name in SUITE_NAMES:
            refused = kernel_refusal(kind, name)
            if refused is None:
                continue
            if refused.reason == "interface-lacks" or (
                    refused.reason in ("restricted", "no-af-alg", "blocked") and not REQUIRE_KERNEL):
                pytest.skip(f"the kernel policy cannot serve the suite here: {refused}")
    report = driver.run_suite(suite, backend, slow=os.environ.get("KCAPI_UPSTREAM_SLOW") == "1")
    print(report.summary())
    assert not report.unexpected, f"{report.summary()}\n\n{report.details()[:30000]}"


def test_every_exclusion_entry_names_a_suite_and_a_reason():
    entries = driver.load_entries()
    assert all(e.reason.strip() and e.suite in driver.SUITES for e in entries)
    assert all(e.kind in ("skip", "exclude") for e in entries)


def _report(*outcomes: driver.Outcome) -> driver.Report:
    return driver.Report("cpython", "auto", "3.11.7", 0.0, list(outcomes))


def test_only_listed_skips_and_exclusions_are_accepted():
    skip = driver.Entry("skip", "cpython", ("t.A.test_*",), "why", message="*memory*")
    exclude = driver.Entry("exclude", "cpython", ("t.X", "t.B.test_x"), "why")
    report = _report(driver.Outcome("t.A.test_big", "skipped", "not enough memory"),
                     driver.Outcome("t.A.test_net", "skipped", "no network"),
                     driver.Outcome("t.B.test_x", "excluded"),
                     driver.Outcome("t.B.test_y", "excluded"),
                     driver.Outcome("t.A.test_x", "failed", "boom"),
                     driver.Outcome("t.A.test_ok", "passed"),
                     driver.Outcome("t.A.test_xf", "xfailed"))
    driver.judge(report, [skip, exclude])
    assert [o.id for o in report.unexpected] == ["t.A.test_net", "t.B.test_y", "t.A.test_x"]
    assert [(o.id, e) for o, e in report.accepted] == [("t.A.test_big", skip),
                                                        ("t.B.test_x", exclude)]


def test_a_listed_skip_never_excuses_a_failure():
    entry = driver.Entry("skip", "cpython", ("*",), "why")
    report = _report(driver.Outcome("t.A.test_ok", "passed"), driver.Outcome("t.A.x", "error"))
    driver.judge(report, [entry])
    assert [o.id for o in report.unexpected] == ["t.A.x"]


def test_a_run_in_which_nothing_passed_is_unexpected():
    report = _report(driver.Outcome("t.A.test_big", "excluded"))
    driver.judge(report, [driver.Entry("exclude", "cpython", ("*",), "why")])
    assert [o.id for o in report.unexpected] == ["<cpython>"]


@pytest.mark.parametrize("name", sorted(vectors.FILES))
def test_the_vector_files_hold_the_published_answers(tmp_path: Path, name: str):
    vectors.write_files(tmp_path)
    algorithm = name.removesuffix(".txt")
    lines = (tmp_path / name).read_text().splitlines()
    assert len(lines) >= 128
    for line in lines:
        fields = line.split(",")
        message, expected = bytes.fromhex(fields[0]), fields[-1]
        if algorithm.startswith("blake2"):
            made = hashlib.new(algorithm, message, key=bytes.fromhex(fields[1]))
        else:
            made = hashlib.new(algorithm, message)
        got = made.hexdigest(len(expected) // 2) if algorithm.startswith("shake") \
            else made.hexdigest()
        assert got == expected, line[:80]


def test_patterns_take_brackets_literally():
    from ..upstream.upstream_patterns import matches

    assert matches("m::test[AES-CFB8]", "m::test[AES-CFB8]")
    assert not matches("m::test[AES-CFB8]", "m::testA")
    assert matches("m::test_x[*", "m::test_x[AES-CTR-1]")
    assert matches("m::T::*-8]", "m::T::test[CFB8MCT.rsp-8]")
    assert not matches("m::T::*-8]", "m::T::test[CFB128MCT.rsp-128]")
    assert not matches("m::t?", "m::tab")
