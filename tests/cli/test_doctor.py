"""``kcapi doctor``: its JSON schema, its explanations, its table (host and kernel runs).

On a host without AF_ALG the report must say so and why; in the kernel run
(``KCAPI_REQUIRE_KERNEL=1``) it must show the kernel serving, with drivers.
The fake syscall layer (``tests.fakes``) provokes the other refusals anywhere.
"""

from __future__ import annotations

import errno
import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from _kcapi import names, policy, restriction, transform
from kcapi_cli import __main__ as cli
from kcapi_cli import doctor

from ..support import KERNEL_GUARANTEED, REQUIRE_KERNEL, kernel_refusal, require_kernel_alg

REASONS = (None, "no-af-alg", "blocked", "restricted", "missing", "refused",
           "no-kernel-equivalent", "no-cryptodev", "interface-lacks")
OPT_INT = (int, type(None))
OPT_STR = (str, type(None))
OPT_BOOL = (bool, type(None))


@pytest.fixture(autouse=True)
def _forget_probes():
    """The report binds every algorithm; drop those sockets so later tests start clean."""
    yield
    transform.clear()


def check_schema(report: dict[str, Any]) -> None:
    """Assert that ``report`` has the documented ``kcapi-doctor/5`` shape."""
    assert report["schema"] == "kcapi-doctor/5"
    assert set(report) == {"schema", "kernel", "policy", "interface", "cryptodev", "af_alg",
                           "fips", "af_alg_restrict", "deprecated_af_alg", "seccomp",
                           "modules", "proc_crypto", "algorithms"}
    chosen = report["interface"]
    assert set(chosen) == {"chosen", "source", "error"}
    assert chosen["chosen"] in ("auto", "af_alg", "cryptodev", None)
    assert chosen["source"] in ("KCAPI_INTERFACE", "default")
    assert (chosen["chosen"] is None) == isinstance(chosen["error"], str)
    cd = report["cryptodev"]
    assert set(cd) == {"device", "present", "usable", "probe", "reason", "errno",
                       "errno_name", "message"}
    assert isinstance(cd["device"], str) and isinstance(cd["present"], bool)
    assert cd["usable"] == (cd["reason"] is None) and cd["reason"] in REASONS
    assert not cd["usable"] or cd["present"]
    assert isinstance(report["kernel"]["release"], str) and report["kernel"]["release"]
    assert isinstance(report["kernel"]["machine"], str)
    pol = report["policy"]
    assert pol["backend"] in ("auto", "kernel", "software", None)
    assert pol["source"] in ("KCAPI_BACKEND", "default", "--backend")
    assert isinstance(pol["error"], OPT_STR)
    af = report["af_alg"]
    assert set(af) == {"usable", "probe", "sockets", "reason", "errno", "errno_name", "message"}
    assert af["probe"] in ("hash 'sha256'", "hash 'sha1'")
    assert isinstance(af["usable"], bool) and isinstance(af["sockets"], bool)
    assert af["reason"] in REASONS and isinstance(af["errno"], OPT_INT)
    assert isinstance(af["errno_name"], OPT_STR) and isinstance(af["message"], OPT_STR)
    assert af["usable"] == (af["reason"] is None)
    fips = report["fips"]
    assert isinstance(fips["present"], bool) and isinstance(fips["enabled"], OPT_BOOL)
    assert isinstance(fips["path"], str) and isinstance(fips["value"], OPT_STR)
    restrict = report["af_alg_restrict"]
    assert set(restrict) == {"path", "present", "value", "privileged"}
    assert restrict["path"] == str(restriction.SYSCTL)  # a test's own file under fake_kernel
    assert restrict["present"] == (restrict["value"] is not None)
    assert isinstance(restrict["value"], OPT_INT) and isinstance(restrict["privileged"], bool)
    deprecated = report["deprecated_af_alg"]
    assert set(deprecated) == {"detected", "evidence"}
    assert deprecated["detected"] == (deprecated["evidence"] is not None)
    assert all(isinstance(v, OPT_INT) for v in report["seccomp"].values())
    assert set(report["seccomp"]) == {"mode", "filters"}
    assert all(isinstance(m, str) for m in report["modules"]["loaded"])
    for rule in report["modules"]["blocked"]:
        assert set(rule) == {"module", "rule", "file", "line"}
    assert isinstance(report["proc_crypto"]["readable"], bool)
    assert isinstance(report["proc_crypto"]["entries"], int)
    rows = report["algorithms"]
    assert rows
    for row in rows:
        assert set(row) == {"name", "group", "kind", "kernel_name", "backend", "served_by",
                            "interface", "driver", "reason", "errno", "errno_name", "message",
                            "doors"}
        assert set(row["doors"]) == {"af_alg", "cryptodev"}
        for door, cell in row["doors"].items():
            assert set(cell) == {"available", "driver", "implementation", "hardware", "reason"}
            assert cell["available"] == (cell["reason"] is None) and cell["reason"] in REASONS
            assert cell["available"] == isinstance(cell["hardware"], bool)
        # the door serving it gave the same driver on its own
        if row["interface"] is not None:
            assert row["doors"][row["interface"]]["available"], row
            assert row["doors"][row["interface"]]["driver"] == row["driver"]["driver"], row
        assert (row["interface"] is None) == (row["backend"] != "kernel")
        assert row["group"] in ("hash", "hmac", "mac", "cipher", "aead", "rng")
        assert row["kind"] in ("hash", "skcipher", "aead", "rng")
        assert row["backend"] in ("kernel", "fallback", "none")
        assert row["served_by"] in ("kernel", "software", "refused")
        assert row["reason"] in REASONS
        if row["backend"] == "kernel":
            d = row["driver"]
            assert set(d) == {"name", "driver", "module", "priority", "type", "async",
                              "implementation"}
            assert isinstance(d["priority"], int) and isinstance(d["async"], bool)
            assert d["implementation"] in ("generic", "arch", "offload", "unknown")
            assert row["reason"] is None and row["message"] is None
        else:
            assert row["driver"] is None and row["reason"] and row["message"]
    hashes = {r["name"] for r in rows if r["group"] == "hash"}
    assert hashes == set(names.HASHES)
    assert {"hmac-sha256", "hmac-sha512"} <= {r["name"] for r in rows}
    assert {"cipher", "aead", "mac", "rng"} <= {r["group"] for r in rows}


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert cli.main(["doctor", "--json", *args]) == 0
    out = capsys.readouterr().out
    report = json.loads(out)
    check_schema(report)
    return report


def row(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in report["algorithms"] if r["name"] == name)


def test_json_schema_and_the_real_probe(capsys):
    report = run_json(capsys)
    # Each door's entry is what the core's probes on that door alone say (sha256, else sha1).
    for door in ("af_alg", "cryptodev"):
        entry = report[door]
        with policy.use_interface(door):
            refusals = [kernel_refusal(*probe) for probe in doctor.PROBES]
        if None in refusals:
            bound = doctor.PROBES[refusals.index(None)]
            assert entry["usable"] and entry["probe"] == f"{bound[0]} '{bound[1]}'", entry
        else:  # the door is closed: the report says why, from the first probe
            why = refusals[0]
            assert not entry["usable"] and entry["reason"] == why.reason, entry
            assert entry["errno"] == why.errno and entry["message"] == str(why), entry
    # Every row is what the core's own probe of its algorithm says, nothing assumed
    # from sha256 (under af_alg_restrict=1 an unprivileged process has sha1, not sha256).
    for r in report["algorithms"]:
        if r["kernel_name"] is None:
            continue
        refused = kernel_refusal(r["kind"], r["kernel_name"])
        assert (r["backend"] == "kernel") == (refused is None), r
        if refused is not None:
            assert (r["reason"], r["errno"]) == (refused.reason, refused.errno), r
    for name in ("blake2s", "shake_128", "shake_256"):
        assert row(report, name)["reason"] == "no-kernel-equivalent"
        assert row(report, name)["kernel_name"] is None


def test_no_af_alg_is_explained(capsys, fake_kernel):  # noqa: F811 - fixture
    fake_kernel("socket", errno.EAFNOSUPPORT)
    report = run_json(capsys, "--backend", "auto")
    af = report["af_alg"]
    assert (af["usable"], af["sockets"], af["reason"], af["errno"], af["errno_name"]) == (
        False, False, "no-af-alg", errno.EAFNOSUPPORT, "EAFNOSUPPORT")
    assert "no AF_ALG" in af["message"]
    sha = row(report, "sha256")
    assert (sha["backend"], sha["served_by"], sha["reason"]) == ("fallback", "software",
                                                                 "no-af-alg")


@pytest.mark.parametrize("step,err,reason,sockets", [
    ("socket", errno.EPERM, "blocked", False),
    ("bind", errno.ENOENT, "missing", True),
    ("bind", errno.EPERM, "blocked", True),
    ("bind", errno.EINVAL, "refused", True),
])
def test_refusals_are_explained(step, err, reason, sockets, capsys, fake_kernel):  # noqa: F811
    fake_kernel(step, err)
    report = run_json(capsys, "--backend", "kernel")
    af = report["af_alg"]
    assert (af["usable"], af["sockets"], af["reason"], af["errno"]) == (False, sockets, reason,
                                                                        err)
    sha = row(report, "sha256")
    assert (sha["served_by"], sha["reason"], sha["errno"]) == ("refused", reason, err)
    table = doctor.render_table(report)
    assert f"NOT usable: {reason} [errno {err} {errno.errorcode[err]}]" in table
    assert "refused under the kernel policy" in table


def test_software_policy_is_reported(capsys):
    report = run_json(capsys, "--backend", "software")
    assert report["policy"] == {"backend": "software", "source": "--backend", "error": None}
    served = {r["name"]: r["served_by"] for r in report["algorithms"]}
    # Adiantum has no software implementation: the software policy refuses it.
    assert {n for n, s in served.items() if s != "software"} == \
        {"AES.MODE_ADIANTUM(rounds=12)", "AES.MODE_ADIANTUM(rounds=20)"}
    assert {served[n] for n in served if n.startswith("AES.MODE_ADIANTUM")} == {"refused"}
    # The table says why: not "the kernel policy", whatever the kernel offers here.
    for r in report["algorithms"]:
        if r["name"].startswith("AES.MODE_ADIANTUM"):
            note = _table_line(report, r["name"])
            assert note.endswith("no software implementation") and "kernel policy" not in note, r


def _table_line(report: dict[str, Any], name: str) -> str:
    """The table's line of the algorithm ``name``."""
    lines = [line.rstrip() for line in doctor.render_table(report).splitlines()
             if line.startswith(name + " ")]
    assert len(lines) == 1, (name, lines)
    return lines[0]


@pytest.mark.parametrize("backend,adiantum,cbc", [
    ("kernel", "no software implementation", "refused under the kernel policy"),
    ("auto", "no software implementation", None)])
def test_refusals_name_their_cause(capsys, backend, adiantum, cbc):
    """Where the kernel cannot serve: Adiantum has no software; others are refused only
    by the kernel policy."""
    report = run_json(capsys, "--backend", backend)
    for r in report["algorithms"]:
        if r["backend"] == "kernel":
            continue
        note = _table_line(report, r["name"])
        if r["name"].startswith("AES.MODE_ADIANTUM"):
            assert r["backend"] == "none" and note.endswith(adiantum), r
        elif r["name"] == "AES.MODE_CBC":
            assert r["backend"] == "fallback"
            assert note.endswith(cbc) if cbc else "refused" not in note, r


def test_table_renders(capsys):
    assert cli.main(["doctor"]) == 0
    text = capsys.readouterr().out
    for label in ("AF_ALG", "kernel", "policy", "FIPS mode", "af_alg_restrict", "seccomp",
                  "ALGORITHM", "DRIVER", "PRIO", "IMPL"):
        assert label in text
    for name in [*names.HASHES, "hmac-sha256"]:
        assert f"\n{name} " in text
    assert "algorithms served by the kernel" in text


def test_table_renders_every_setting():
    report = json.loads(json.dumps(doctor.collect()))
    report["fips"] = {"path": "/proc/sys/crypto/fips_enabled", "present": True,
                      "enabled": True, "value": "1"}
    report["af_alg_restrict"] = {"path": "/proc/sys/crypto/af_alg_restrict", "present": True,
                                 "value": 1, "privileged": False}
    report["deprecated_af_alg"] = {"detected": True,
                                   "evidence": "/proc/sys/crypto/af_alg_restrict exists"}
    report["seccomp"] = {"mode": 2, "filters": 3}
    report["modules"] = {"loaded": ["af_alg"], "blocked": [
        {"module": "algif_aead", "rule": "blacklist", "file": "/etc/modprobe.d/x.conf",
         "line": "blacklist algif_aead"}]}
    text = doctor.render_table(report)
    assert "enabled (/proc/sys/crypto/fips_enabled = 1)" in text
    assert ("1: bind() only names on an allow-list (/proc/sys/crypto/af_alg_restrict; this "
            "process is unprivileged: the short allow-list applies)") in text
    assert "not reachable through AF_ALG on this kernel" in text
    assert "filter (mode 2, 3 filters)" in text
    assert "blacklist algif_aead  (/etc/modprobe.d/x.conf)" in text


def test_pure_parsers(tmp_path):
    conf = ("# comment\nblacklist algif_aead\ninstall algif-hash /bin/false\n"
            "install af_alg /sbin/modprobe --ignore-install af_alg\nblacklist pcspkr\n")
    assert doctor.parse_modprobe(conf, "x.conf") == [
        {"module": "algif_aead", "rule": "blacklist", "file": "x.conf",
         "line": "blacklist algif_aead"},
        {"module": "algif_hash", "rule": "install", "file": "x.conf",
         "line": "install algif-hash /bin/false"}]
    modules = "algif_hash 16384 0 - Live 0x0\naf_alg 32768 1 algif_hash, Live 0x0\nfoo 1 0\n"
    assert doctor.parse_proc_modules(modules) == ["af_alg", "algif_hash"]
    assert doctor.seccomp_status("Name:\tx\nSeccomp:\t2\nSeccomp_filters:\t1\n") == {
        "mode": 2, "filters": 1}
    assert doctor.seccomp_status("") == {"mode": None, "filters": None}
    fips = tmp_path / "fips"
    fips.write_text("1\n")
    assert doctor.fips_status(str(fips)) == {"path": str(fips), "present": True,
                                              "enabled": True, "value": "1"}
    assert doctor.fips_status(str(tmp_path / "absent"))["present"] is False


def test_rows_are_the_name_tables(capsys):
    report = run_json(capsys)
    listed = {(r["name"], r["group"], r["kind"], r["kernel_name"] or "")
              for r in report["algorithms"]}
    for group, algorithms in names.ALGORITHMS.items():
        for alg in algorithms:
            own = (alg.name, group, alg.kind, alg.kernel)
            assert (own in listed) == bool(alg.kernel or alg.kind != "aead"), own
            for part in alg.parts:
                assert part.name.startswith(alg.name + "/") and part.kind in ("skcipher", "hash")
                assert (part.name, {"skcipher": "cipher", "hash": "mac"}[part.kind], part.kind,
                        part.kernel) in listed
    assert len(listed) == len(report["algorithms"])  # no row twice


@pytest.mark.parametrize("factory", ["AES", "DES3"])
def test_every_kernel_mode_of_each_factory_is_listed(factory, capsys):
    """Each factory's modes served through a kernel skcipher: a row each, none unknown."""
    module = importlib.import_module(f"kcapi_cipher.{factory}")
    spec = names.BLOCK_CIPHERS[factory.lower()]
    rows = {r["name"]: r for r in run_json(capsys)["algorithms"]}
    for mode in spec.modes:
        r = rows[f"{factory}.MODE_{mode.upper()}"]
        assert hasattr(module, f"MODE_{mode.upper()}")
        assert (r["group"], r["kind"], r["kernel_name"]) == (
            "cipher", "skcipher", f"{mode}({spec.kernel})")
    listed = {name.split(".", 1)[1].split("(")[0].split("/")[0] for name in rows
              if name.startswith(factory + ".")}
    assert listed <= {m for m in dir(module) if m.startswith("MODE_")}
    if factory == "DES3":  # served in CTR, CFB and OFB as well as ECB and CBC
        assert listed == {"MODE_ECB", "MODE_CBC", "MODE_CTR", "MODE_CFB", "MODE_OFB"}
    assert rows[f"CMAC({factory})"]["kernel_name"] == f"cmac({spec.kernel})"


def test_exit_status_is_zero_whatever_it_finds(capsys, fake_kernel):  # noqa: F811
    fake_kernel("any", errno.EPERM)
    assert cli.main(["doctor"]) == 0
    assert cli.main(["doctor", "--json"]) == 0
    capsys.readouterr()
    assert cli.main(["doctor", "--bogus"]) == 2


@pytest.mark.kernel
def test_kernel_run_reports_the_kernel_with_drivers(capsys):
    require_kernel_alg("hash", "sha256")
    report = run_json(capsys)
    door = row(report, "sha256")["interface"]  # "af_alg" or "cryptodev": its own status entry
    assert report[door]["usable"] and report["proc_crypto"]["entries"] > 0
    assert door != "af_alg" or report["af_alg"]["sockets"]
    for name in KERNEL_GUARANTEED + ["hmac-sha256"]:
        r = row(report, name)
        refused = kernel_refusal(r["kind"], r["kernel_name"])
        if refused is not None:
            # This run's settings refuse it: af_alg_restrict (outside the kernel runs), or
            # the chosen interface has no such algorithm (any run).
            assert refused.reason == "interface-lacks" or not REQUIRE_KERNEL, r
            assert r["backend"] == "fallback" and r["reason"] == refused.reason, r
            continue
        assert r["backend"] == "kernel", r
        assert r["served_by"] == ("software" if report["policy"]["backend"] == "software"
                                  else "kernel")
        d = r["driver"]
        assert d["driver"] not in ("", "unknown") and d["priority"] >= 0
        assert d["implementation"] in ("generic", "arch", "offload")
        assert d["driver"] == transform.get("hash", r["kernel_name"]).driver().driver
    sha = row(report, "sha256")["driver"]
    assert sha["name"] == "sha256" and sha["type"] in ("shash", "ahash")
    table = doctor.render_table(report)
    assert sha["driver"] in table
    if door == "af_alg":
        assert f"usable ({report['af_alg']['probe']} binds)" in table


@pytest.mark.kernel
def test_kernel_run_reports_cipher_drivers(capsys):
    require_kernel_alg("skcipher", "cbc(aes)")
    report = run_json(capsys)
    for r in report["algorithms"]:
        if r["kernel_name"] in ("cbc(aes)", "ctr(aes)", "gcm(aes)", "cmac(aes)", "stdrng"):
            refused = kernel_refusal(r["kind"], r["kernel_name"])
            if refused is not None:  # af_alg_restrict, or what the chosen interface lacks
                assert refused.reason == "interface-lacks" or not REQUIRE_KERNEL, r
                assert r["backend"] == "fallback" and r["reason"] == refused.reason, r
                continue
            assert r["backend"] == "kernel" and r["driver"]["priority"] >= 0, r


def test_python_dash_m_kcapi_cli_doctor_json(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "kcapi_cli", "doctor", "--json"],
                          capture_output=True, check=False, cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin",
                               "PYTHONPATH": str(Path(__file__).parents[2])})
    assert proc.returncode == 0, proc.stderr
    check_schema(json.loads(proc.stdout))
