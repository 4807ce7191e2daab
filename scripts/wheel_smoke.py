"""Smoke test of the installed wheel, run from outside the checkout.

``scripts/test`` installs the wheel it built into a fresh virtual environment,
copies this file into an empty directory and runs it there with that
environment's interpreter, so the checkout is not importable: everything
exercised here comes from the installed distribution.  It checks that

- every module of the four import packages imports, from the environment's
  site-packages, never from the checkout, and each package ships ``py.typed``;
- the installed distribution's metadata names this project, its version and
  the ``kcapi`` console script, and lists no test files;
- ``kcapi doctor --json`` prints JSON of its schema reporting the policy in force;
- ``kcapi sum`` and ``python -m kcapi_hashlib`` print what coreutils' ``*sum``
  tools print for the same file, and ``kcapi sum -c`` accepts their output;
- hashes, HMAC and PBKDF2 equal ``hashlib``/``hmac``'s, AES (CBC, CTR, GCM)
  and ChaCha20-Poly1305 equal PyCryptodome's, on the same inputs.

Under ``KCAPI_BACKEND=kernel`` (the run inside User-Mode Linux) every object
must say it is kernel-served.  Exit status 0 only if every check passed.

Usage: python wheel_smoke.py --dist NAME --version VERSION --checkout PATH
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import importlib
import importlib.metadata
import importlib.resources
import json
import os
import pkgutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

PACKAGES = ("_kcapi", "kcapi_hashlib", "kcapi_cipher", "kcapi_cli")
ENTRY_POINT = ("kcapi", "kcapi_cli.__main__:main")
SUM_TOOLS = {"md5": "md5sum", "sha1": "sha1sum", "sha256": "sha256sum", "sha512": "sha512sum"}
HASHES = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha3_256", "sha3_512")


class Smoke:
    """Runs named checks, prints one line each, and remembers the failures."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def check(self, name: str, func: Callable[[], str | None]) -> None:
        """Run ``func``; an exception (an assert) is a failure, its return a detail."""
        try:
            detail = func()
        except Exception as exc:  # every failure is reported, the run goes on
            self.failed.append(name)
            print(f"smoke: FAIL {name}: {type(exc).__name__}: {exc}", flush=True)
            return
        self.passed += 1
        print(f"smoke: ok   {name}{': ' + detail if detail else ''}", flush=True)


def run(*argv: str) -> subprocess.CompletedProcess[bytes]:
    """Run a command of the environment (or coreutils) in the current directory."""
    return subprocess.run(argv, capture_output=True, timeout=300, check=False)


def installed_modules() -> list[str]:
    """Every module of the import packages (``__main__`` modules are run, not imported)."""
    names = []
    for package in PACKAGES:
        module = importlib.import_module(package)
        names.append(package)
        names += [info.name for info in pkgutil.walk_packages(module.__path__, f"{package}.")
                  if not info.name.endswith(".__main__")]
    return names


def check_imports(checkout: Path) -> str:
    purelib = Path(sysconfig.get_paths()["purelib"]).resolve()
    assert not any(Path(p or ".").resolve() == checkout for p in sys.path), \
        f"the checkout {checkout} is on sys.path"
    names = installed_modules()
    for name in names:
        path = Path(importlib.import_module(name).__file__ or "").resolve()
        assert path.is_relative_to(purelib), f"{name} imported from {path}, not {purelib}"
        assert not path.is_relative_to(checkout), f"{name} imported from the checkout: {path}"
    return f"{len(names)} modules from {purelib}"


def check_typed() -> str:
    for package in PACKAGES:
        assert importlib.resources.files(package).joinpath("py.typed").is_file(), \
            f"{package} has no py.typed"
    return ", ".join(PACKAGES)


def check_metadata(dist_name: str, version: str) -> str:
    dist = importlib.metadata.distribution(dist_name)
    assert dist.metadata["Name"] == dist_name, dist.metadata["Name"]
    assert dist.version == version, f"version {dist.version}, expected {version}"
    scripts = {ep.name: ep.value for ep in dist.entry_points if ep.group == "console_scripts"}
    assert scripts == dict([ENTRY_POINT]), f"console scripts {scripts}"
    files = [str(f) for f in dist.files or ()]
    tests = [f for f in files if f.split("/")[0] in ("tests", "compat_tests", "conftest.py")]
    assert not tests, f"test files installed: {tests[:5]}"
    return f"{dist_name} {dist.version}, {len(files)} files, console script kcapi"


def check_doctor(policy: str) -> str:
    bindir = Path(sysconfig.get_paths()["scripts"])
    out = run(str(bindir / "kcapi"), "doctor", "--json")
    assert out.returncode == 0, f"exit {out.returncode}: {out.stderr.decode()[-500:]}"
    report = json.loads(out.stdout)
    assert report["schema"] == "kcapi-doctor/5", report.get("schema")
    assert report["policy"]["backend"] == policy, report["policy"]
    if policy == "kernel":
        assert report["af_alg"]["usable"] is True, report["af_alg"]
    return f"schema {report['schema']}, policy {policy}, AF_ALG usable: {report['af_alg']['usable']}"


def check_sum(path: Path) -> str:
    bindir = Path(sysconfig.get_paths()["scripts"])
    for alg, tool in SUM_TOOLS.items():
        want = run(tool, path.name)
        assert want.returncode == 0, f"{tool} failed: {want.stderr!r}"
        for argv in ((str(bindir / "kcapi"), "sum", "-a", alg, path.name),
                     (sys.executable, "-m", "kcapi_hashlib", "-a", alg, path.name)):
            got = run(*argv)
            assert got.returncode == 0, f"{argv} exit {got.returncode}: {got.stderr!r}"
            assert got.stdout == want.stdout, f"{argv}: {got.stdout!r} != {tool}: {want.stdout!r}"
        sums = path.with_name(f"{path.name}.{tool}")
        sums.write_bytes(want.stdout)
        checked = run(str(bindir / "kcapi"), "sum", "-a", alg, "-c", sums.name)
        assert checked.returncode == 0, f"kcapi sum -c {sums.name}: {checked.stdout!r}"
    return f"{', '.join(SUM_TOOLS.values())} byte-identical, -c accepts them"


def check_hashes(policy: str) -> str:
    import kcapi_hashlib
    from kcapi_hashlib import hmac as khmac

    data = os.urandom(70_001)
    for name in HASHES:
        ours = kcapi_hashlib.new(name, data)
        assert ours.hexdigest() == hashlib.new(name, data).hexdigest(), name
        if policy == "kernel":
            assert kcapi_hashlib.backend_info(ours).backend == "kernel", \
                kcapi_hashlib.backend_info(ours)
    key = os.urandom(100)
    mac = khmac.new(key, data, "sha256")
    assert mac.digest() == hmac.new(key, data, "sha256").digest(), "hmac-sha256"
    derived = kcapi_hashlib.pbkdf2_hmac("sha256", b"password", b"salt", 50, 40)
    assert derived == hashlib.pbkdf2_hmac("sha256", b"password", b"salt", 50, 40), "pbkdf2"
    if policy == "kernel":
        assert kcapi_hashlib.backend_info(mac).backend == "kernel", kcapi_hashlib.backend_info(mac)
    return f"{', '.join(HASHES)}, hmac-sha256, pbkdf2_hmac equal hashlib's"


def check_ciphers(policy: str) -> str:
    from Crypto.Cipher import AES as RefAES
    from Crypto.Cipher import ChaCha20_Poly1305 as RefChaCha

    import kcapi_cipher
    from kcapi_cipher import AES, ChaCha20_Poly1305

    key, data, aad = os.urandom(32), os.urandom(100_000), os.urandom(20)
    iv, nonce = os.urandom(16), os.urandom(12)
    pairs = [
        (AES.new(key, AES.MODE_CBC, iv=iv), RefAES.new(key, RefAES.MODE_CBC, iv=iv), "cbc"),
        (AES.new(key, AES.MODE_CTR, nonce=nonce[:8]), RefAES.new(key, RefAES.MODE_CTR, nonce=nonce[:8]),
         "ctr"),
    ]
    for ours, ref, mode in pairs:
        assert ours.encrypt(data) == ref.encrypt(data), mode
        if policy == "kernel":
            assert kcapi_cipher.backend_info(ours).backend == "kernel", kcapi_cipher.backend_info(ours)
    aeads = [
        (lambda: AES.new(key, AES.MODE_GCM, nonce=nonce),
         lambda: RefAES.new(key, RefAES.MODE_GCM, nonce=nonce), "gcm"),
        (lambda: ChaCha20_Poly1305.new(key=key, nonce=nonce),
         lambda: RefChaCha.new(key=key, nonce=nonce), "chacha20-poly1305"),
    ]
    for make_ours, make_ref, mode in aeads:
        ours, ref = make_ours(), make_ref()
        ours.update(aad)
        ref.update(aad)
        sealed = ours.encrypt_and_digest(data[:4096])
        assert sealed == ref.encrypt_and_digest(data[:4096]), mode
        if policy == "kernel":
            assert kcapi_cipher.backend_info(ours).backend == "kernel", kcapi_cipher.backend_info(ours)
        opener = make_ours()
        opener.update(aad)
        assert opener.decrypt_and_verify(*sealed) == data[:4096], mode
    return "AES-256 CBC, CTR, GCM and ChaCha20-Poly1305 equal PyCryptodome's"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", required=True, help="distribution name")
    parser.add_argument("--version", required=True, help="expected version")
    parser.add_argument("--checkout", required=True, type=Path, help="the source checkout")
    args = parser.parse_args(argv)
    policy = os.environ.get("KCAPI_BACKEND", "auto")
    print(f"smoke: Python {sys.version.split()[0]} ({sys.executable}), policy {policy}, "
          f"kernel {os.uname().release}, cwd {os.getcwd()}", flush=True)
    sample = Path("smoke-sample.bin")
    sample.write_bytes(os.urandom(1 << 20) + b"tail")
    smoke = Smoke()
    smoke.check("imports", lambda: check_imports(args.checkout.resolve()))
    smoke.check("py.typed", check_typed)
    smoke.check("metadata", lambda: check_metadata(args.dist, args.version))
    smoke.check("kcapi doctor --json", lambda: check_doctor(policy))
    smoke.check("kcapi sum / python -m kcapi_hashlib", lambda: check_sum(sample))
    smoke.check("hashlib/hmac differential", lambda: check_hashes(policy))
    smoke.check("AES/ChaCha20-Poly1305 differential", lambda: check_ciphers(policy))
    print(f"smoke: {smoke.passed} passed, {len(smoke.failed)} failed", flush=True)
    return 1 if smoke.failed else 0


if __name__ == "__main__":
    sys.exit(main())
