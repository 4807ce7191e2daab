"""The backend policy and the reasons the kernel refuses, with a fake syscall layer."""

import errno
import hashlib
import subprocess
import sys

import pytest

import kcapi_hashlib
from _kcapi import policy
from kcapi_hashlib import KernelUnavailableError, hmac

from ..support import software_engine

REFUSALS = [
    ("socket", errno.EAFNOSUPPORT, "no-af-alg", "no AF_ALG"),
    ("socket", errno.EPERM, "blocked", "seccomp"),
    ("socket", errno.EACCES, "blocked", "security module"),
    ("bind", errno.ENOENT, "missing", "has no hash algorithm 'sha256'"),
    ("bind", errno.EPERM, "blocked", "seccomp filter refuses bind"),
    ("bind", errno.EACCES, "blocked", "security module forbids bind"),
    ("bind", errno.EINVAL, "refused", "refused bind"),
]


@pytest.mark.parametrize("step,err,reason,words", REFUSALS)
def test_kernel_policy_names_the_reason(fake_kernel, step, err, reason, words):
    fake_kernel(step, err)
    kcapi_hashlib.set_backend("kernel")
    with pytest.raises(KernelUnavailableError) as caught:
        kcapi_hashlib.sha256(b"abc")
    exc = caught.value
    assert exc.errno == err and exc.reason == reason and exc.algorithm == "sha256"
    assert words in str(exc) and errno.errorcode[err] in str(exc)
    # hashlib's callers catch ValueError for "unsupported"; OSError keeps the errno.
    assert isinstance(exc, ValueError) and isinstance(exc, OSError)
    with pytest.raises(KernelUnavailableError):
        hmac.new(b"key", b"msg", "sha256")


@pytest.mark.parametrize("step,err,reason,words", REFUSALS)
def test_auto_policy_falls_back_and_says_why(fake_kernel, step, err, reason, words):
    fake_kernel(step, err)
    kcapi_hashlib.set_backend("auto")
    h = kcapi_hashlib.sha256(b"abc")
    assert h.digest() == hashlib.sha256(b"abc").digest()
    info = kcapi_hashlib.backend_info(h)
    assert info.backend == "software" and info.reason.startswith(reason)
    mac = hmac.new(b"key", b"msg", "sha256")
    assert mac.digest() == __import__("hmac").new(b"key", b"msg", "sha256").digest()
    assert kcapi_hashlib.backend_info(mac).backend == "software"


def test_hmac_routing_follows_every_policy_change(fake_kernel):
    # Software decisions are cached per digestmod; a policy change must drop them.
    fake_kernel("socket", errno.EAFNOSUPPORT)
    std = __import__("hmac")
    for _ in range(2):
        for chosen in ("auto", "software", "kernel"):
            kcapi_hashlib.set_backend(chosen)
            for digestmod in ("sha256", "SHA-256", hashlib.sha256, kcapi_hashlib.sha256, "blake2s"):
                for _ in range(2):
                    if chosen == "kernel":
                        with pytest.raises(KernelUnavailableError):
                            hmac.new(b"k", b"m", digestmod)
                        with pytest.raises(KernelUnavailableError):
                            hmac.digest(b"k", b"m", digestmod)
                        continue
                    mac = hmac.new(b"k", b"m", digestmod)
                    assert kcapi_hashlib.backend_info(mac).backend == "software"
                    ref = std.new(b"k", b"m", hashlib.sha256 if digestmod is kcapi_hashlib.sha256
                                  else digestmod)
                    assert mac.digest() == ref.digest() == hmac.digest(b"k", b"m", digestmod)


def test_refusal_is_probed_once(fake_kernel):
    fake = fake_kernel("socket", errno.EAFNOSUPPORT)
    kcapi_hashlib.set_backend("auto")
    for _ in range(5):
        kcapi_hashlib.sha256(b"x").digest()
    assert fake.calls == ["socket"]


def test_software_policy_makes_no_system_call(fake_kernel):
    fake = fake_kernel("any", errno.EIO)
    kcapi_hashlib.set_backend("software")
    for name in ("md5", "sha256", "sha3_512", "blake2b", "shake_128"):
        h = kcapi_hashlib.new(name, b"data")
        assert type(software_engine(h)) is type(hashlib.new(name))
    assert hmac.new(b"k", b"m", "sha256").digest() == __import__("hmac").digest(b"k", b"m", "sha256")
    assert kcapi_hashlib.pbkdf2_hmac("sha256", b"p", b"s", 3) == hashlib.pbkdf2_hmac("sha256", b"p", b"s", 3)
    assert fake.calls == []
    info = kcapi_hashlib.backend_info(kcapi_hashlib.sha256())
    assert info.backend == "software" and "policy is 'software'" in info.reason
    assert kcapi_hashlib.algorithms_available == hashlib.algorithms_available


def test_kernel_policy_without_kernel_has_no_algorithms(fake_kernel):
    fake_kernel("socket", errno.EAFNOSUPPORT)
    kcapi_hashlib.set_backend("kernel")
    assert kcapi_hashlib.algorithms_available == set()
    kcapi_hashlib.set_backend("auto")
    assert kcapi_hashlib.algorithms_available == hashlib.algorithms_available


def test_set_backend_returns_the_previous_one_and_checks_names():
    first = kcapi_hashlib.set_backend("software")
    assert kcapi_hashlib.set_backend(first) == "software"
    with pytest.raises(ValueError, match="auto, kernel, software"):
        kcapi_hashlib.set_backend("fast")
    assert kcapi_hashlib.get_backend() == first


def test_use_backend_restores_after_an_error():
    before = kcapi_hashlib.get_backend()
    with pytest.raises(RuntimeError), kcapi_hashlib.use_backend("software"):
        assert kcapi_hashlib.get_backend() == "software"
        raise RuntimeError
    assert kcapi_hashlib.get_backend() == before


def run_python(code, **env):
    import os

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


def test_environment_variable_sets_the_policy():
    done = run_python("import kcapi_hashlib as h; print(h.get_backend())", KCAPI_BACKEND="Software")
    assert done.returncode == 0 and done.stdout.strip() == "software"


BAD_VALUES = ["turbo", "garbage", " fast ", "KERNELL", "auto,kernel", "0", "soft"]


def bad_value_message(raw):
    return (f"KCAPI_BACKEND={raw!r} is not one of auto, kernel, software (case and "
            "surrounding blanks are ignored; unset means auto); fix or unset it, or choose "
            "a policy with set_backend()")


@pytest.mark.parametrize("raw", BAD_VALUES)
def test_bad_environment_value_is_one_clear_error_and_set_backend_recovers(raw):
    # A fresh interpreter: importing does nothing; the first object raises the error,
    # every later one too, until set_backend() chooses a policy.
    code = """if True:
        import os
        import kcapi_hashlib, kcapi_hashlib.hmac, kcapi_cipher
        from kcapi_cipher import AES
        attempts = [lambda: kcapi_hashlib.sha256(b"x"), lambda: kcapi_hashlib.new("md5"),
                    lambda: kcapi_hashlib.hmac.new(b"k", b"m", "sha256"),
                    lambda: kcapi_hashlib.hmac.digest(b"k", b"m", "sha256"),
                    lambda: AES.new(bytes(16), AES.MODE_ECB), kcapi_hashlib.get_backend]
        for attempt in attempts * 2:
            try:
                attempt()
            except ValueError as exc:
                assert type(exc) is ValueError, type(exc)
                print("raised:", exc)
            else:
                raise SystemExit("accepted under a bad KCAPI_BACKEND")
        assert kcapi_hashlib.set_backend("auto") is None  # no policy was in force
        assert kcapi_hashlib.sha256(b"x").hexdigest() == __import__("hashlib").sha256(b"x").hexdigest()
        assert kcapi_hashlib.hmac.new(b"k", b"m", "sha256").digest()
        os.environ["KCAPI_BACKEND"] = "software"  # set_backend's choice holds: never read again
        assert kcapi_hashlib.get_backend() == "auto"
        print("recovered")
    """
    done = run_python(code, KCAPI_BACKEND=raw)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines == [f"raised: {bad_value_message(raw)}"] * 12 + ["recovered"]


def test_doctor_reports_a_bad_value():
    import json

    done = subprocess.run([sys.executable, "-m", "kcapi_cli", "doctor", "--json"],
                          capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "KCAPI_BACKEND": "turbo"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["policy"] == {
        "backend": None, "source": "KCAPI_BACKEND", "error": bad_value_message("turbo")}


def test_use_backend_under_a_bad_value_restores_the_error():
    code = """if True:
        import kcapi_hashlib
        with kcapi_hashlib.use_backend("software"):
            assert kcapi_hashlib.get_backend() == "software"
            with kcapi_hashlib.use_backend("auto"):
                assert kcapi_hashlib.get_backend() == "auto"
            assert kcapi_hashlib.get_backend() == "software"
            kcapi_hashlib.sha256(b"x")
        try:
            kcapi_hashlib.sha256(b"x")
        except ValueError as exc:
            print(exc)
        kcapi_hashlib.set_backend("kernel")
        with kcapi_hashlib.use_backend("software"):
            pass
        print(kcapi_hashlib.get_backend())
    """
    done = run_python(code, KCAPI_BACKEND="bogus")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [bad_value_message("bogus"), "kernel"]


@pytest.mark.parametrize("raw,expected", [
    ("Kernel", "kernel"), (" software ", "software"), ("AUTO\n", "auto"), ("\tkernel", "kernel"),
    ("", "auto"), ("   ", "auto"), (None, "auto"),
])
def test_accepted_spellings(raw, expected):
    import os

    env = {**os.environ}
    env.pop("KCAPI_BACKEND", None)
    if raw is not None:
        env["KCAPI_BACKEND"] = raw
    done = subprocess.run([sys.executable, "-c", "import kcapi_hashlib as h; print(h.get_backend())"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == expected, done.stderr


def test_set_backend_ignores_the_environment(monkeypatch):
    # As in a fresh process whose KCAPI_BACKEND is bad.
    monkeypatch.setattr(policy._backend, "current", None)
    monkeypatch.setenv("KCAPI_BACKEND", "garbage")
    with pytest.raises(ValueError, match="KCAPI_BACKEND='garbage'"):
        policy.get_backend()
    with pytest.raises(ValueError, match="KCAPI_BACKEND='garbage'"):
        kcapi_hashlib.sha256(b"x")
    assert policy.set_backend("software") is None
    assert policy.get_backend() == "software"
    monkeypatch.setenv("KCAPI_BACKEND", "kernel")
    assert policy.get_backend() == "software"
    assert policy.set_backend("auto") == "software"
    # None hands the choice back to the environment (this is how use_backend restores "none").
    assert policy.set_backend(None) == "auto"
    assert policy.get_backend() == "kernel"


def test_set_backend_returns_the_environments_policy_without_caching_a_bad_one(monkeypatch):
    monkeypatch.setattr(policy._backend, "current", None)
    monkeypatch.setenv("KCAPI_BACKEND", " Software ")
    assert policy.set_backend("kernel") == "software"
    assert policy.get_backend() == "kernel"
    for bad in ("Kernel", " auto", "", 1):
        with pytest.raises(ValueError, match="auto, kernel, software"):
            policy.set_backend(bad)
        assert policy.get_backend() == "kernel"


def test_use_backend_restores_nested_and_after_errors():
    kcapi_hashlib.set_backend("auto")
    with kcapi_hashlib.use_backend("software"):
        with pytest.raises(KeyError), kcapi_hashlib.use_backend("kernel"):
            assert kcapi_hashlib.get_backend() == "kernel"
            raise KeyError
        assert kcapi_hashlib.get_backend() == "software"
    assert kcapi_hashlib.get_backend() == "auto"
    with pytest.raises(ValueError), kcapi_hashlib.use_backend("nonsense"):
        pass
    assert kcapi_hashlib.get_backend() == "auto"


def test_import_has_no_side_effects():
    # Importing must not open AF_ALG sockets: count fds before and after in a fresh process.
    code = ("import os; n = len(os.listdir('/proc/self/fd')); import kcapi_hashlib, "
            "kcapi_hashlib.hmac; print(len(os.listdir('/proc/self/fd')) - n)")
    done = run_python(code)
    assert done.returncode == 0 and done.stdout.strip() == "0"


def test_policy_values():
    assert policy.BACKENDS == ("auto", "kernel", "software")
