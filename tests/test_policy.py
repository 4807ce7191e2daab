"""The backend policy and the reasons the kernel refuses, with a fake syscall layer."""

import errno
import hashlib
import subprocess
import sys

import pytest

import kcapi_hashlib
from _kcapi import policy
from kcapi_hashlib import KernelUnavailableError, hmac

from .fakes import fake_kernel  # noqa: F401 - fixture
from .support import software_engine

REFUSALS = [
    ("socket", errno.EAFNOSUPPORT, "no-af-alg", "no AF_ALG"),
    ("socket", errno.EPERM, "blocked", "seccomp"),
    ("socket", errno.EACCES, "blocked", "blocked"),
    ("bind", errno.ENOENT, "missing", "has no hash algorithm 'sha256'"),
    ("bind", errno.EPERM, "blocked", "forbids bind"),
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


def test_bad_environment_value_is_a_clear_error():
    done = run_python("import kcapi_hashlib as h; h.sha256()", KCAPI_BACKEND="turbo")
    assert done.returncode != 0
    assert "KCAPI_BACKEND must be one of auto, kernel, software, not 'turbo'" in done.stderr


def test_import_has_no_side_effects():
    # Importing must not open AF_ALG sockets: count fds before and after in a fresh process.
    code = ("import os; n = len(os.listdir('/proc/self/fd')); import kcapi_hashlib, "
            "kcapi_hashlib.hmac; print(len(os.listdir('/proc/self/fd')) - n)")
    done = run_python(code)
    assert done.returncode == 0 and done.stdout.strip() == "0"


def test_policy_values():
    assert policy.BACKENDS == ("auto", "kernel", "software")
