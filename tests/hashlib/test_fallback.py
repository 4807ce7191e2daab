"""What software serves, and how it says so (every kernel, and none)."""

import errno
import hashlib
import hmac as std_hmac

import pytest

import kcapi_hashlib
from kcapi_hashlib import KernelUnavailableError, hmac

from _kcapi.hash import KernelHash

from ..support import kernel_refusal, software_engine

SOFTWARE_ONLY = [("shake_128", {}), ("shake_256", {}), ("blake2s", {}),
                 ("blake2b", {"salt": b"salt"}), ("blake2b", {"person": b"me"}),
                 ("blake2b", {"digest_size": 17}), ("blake2b", {"fanout": 2, "depth": 3})]


@pytest.mark.parametrize("name,kwargs", SOFTWARE_ONLY)
def test_auto_serves_what_the_kernel_lacks_from_hashlib(name, kwargs):
    kcapi_hashlib.set_backend("auto")
    ours = kcapi_hashlib.new(name, b"data", **kwargs)
    ref = hashlib.new(name, b"data", **kwargs)
    assert type(software_engine(ours)) is type(ref)
    if name.startswith("shake"):
        assert ours.hexdigest(40) == ref.hexdigest(40)
    else:
        assert ours.digest() == ref.digest()
    info = kcapi_hashlib.backend_info(ours)
    assert info.backend == "software" and info.reason


@pytest.mark.parametrize("name,kwargs", SOFTWARE_ONLY)
def test_kernel_policy_refuses_what_the_kernel_lacks(name, kwargs):
    kcapi_hashlib.set_backend("kernel")
    with pytest.raises(KernelUnavailableError) as caught:
        kcapi_hashlib.new(name, b"data", **kwargs)
    assert caught.value.reason in ("no-kernel-equivalent", "no-af-alg")


def test_kernel_policy_refuses_scrypt_and_foreign_digestmods():
    kcapi_hashlib.set_backend("kernel")
    with pytest.raises(KernelUnavailableError):
        kcapi_hashlib.scrypt(b"pw", salt=b"s", n=2, r=1, p=1)
    from Crypto.Hash import SHA256

    with pytest.raises(KernelUnavailableError):
        hmac.new(b"k", b"m", SHA256)
    with pytest.raises(KernelUnavailableError):
        kcapi_hashlib.new("sha512_256")  # hashlib has it; the kernel crypto API does not


def test_auto_passes_names_only_hashlib_knows():
    kcapi_hashlib.set_backend("auto")
    assert kcapi_hashlib.new("sha512_256", b"x").digest() == hashlib.new("sha512_256", b"x").digest()
    assert kcapi_hashlib.scrypt(b"pw", salt=b"s", n=2, r=1, p=1) == hashlib.scrypt(
        b"pw", salt=b"s", n=2, r=1, p=1)


def test_hmac_with_a_module_digestmod_uses_the_standard_library():
    from Crypto.Hash import SHA256

    kcapi_hashlib.set_backend("auto")
    mac = hmac.new(b"k", b"m", SHA256)
    assert isinstance(mac, std_hmac.HMAC)
    assert mac.digest() == std_hmac.new(b"k", b"m", "sha256").digest()


def test_software_policy_everywhere():
    kcapi_hashlib.set_backend("software")
    for name in sorted(hashlib.algorithms_guaranteed):
        h = kcapi_hashlib.new(name, b"abc")
        assert type(software_engine(h)) is type(hashlib.new(name))
        info = kcapi_hashlib.backend_info(h)
        assert info.backend == "software" and "policy is 'software'" in info.reason
    mac = hmac.new(b"k", b"m", "sha256")
    assert isinstance(mac, std_hmac.HMAC)


@pytest.mark.parametrize("step,err", [("socket", errno.EAFNOSUPPORT), ("bind", errno.ENOENT)])
def test_kernel_only_name_without_kernel_or_hashlib_is_a_clear_error(fake_kernel, step, err):
    fake_kernel(step, err)
    kcapi_hashlib.set_backend("auto")
    with pytest.raises(KernelUnavailableError) as caught:
        kcapi_hashlib.new("streebog256")  # hashlib has no streebog: nothing can serve it
    assert isinstance(caught.value, ValueError) and caught.value.errno == err
    assert "streebog256" in str(caught.value)


def test_this_host_without_af_alg_explains_itself():
    why = kernel_refusal("hash", "sha256")
    if why is None:
        pytest.skip("this kernel has AF_ALG (the kernel run covers the served path)")
    kcapi_hashlib.set_backend("kernel")
    with pytest.raises(KernelUnavailableError) as caught:
        kcapi_hashlib.sha256()
    assert caught.value.reason == why.reason and caught.value.errno == why.errno


@pytest.mark.parametrize("size", [20, 32, 48])
def test_truncated_blake2b_names_fall_back_to_blake2b_of_that_size(fake_kernel, size):
    fake_kernel("socket")
    kcapi_hashlib.set_backend("auto")
    h = kcapi_hashlib.new(f"blake2b_{size * 8}", b"data")
    assert h.digest() == hashlib.blake2b(b"data", digest_size=size).digest()
    assert kcapi_hashlib.backend_info(h).backend == "software"


def test_file_digest_reports_progress_when_reading(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100_000)
    seen: list[int] = []
    with open(path, "rb") as f:
        got = kcapi_hashlib.file_digest(f, "sha1", _bufsize=4096, _progress=seen.append)
    assert got.digest() == hashlib.sha1(b"x" * 100_000).digest() and sum(seen) == 100_000


def test_constructors_keep_their_identity_whoever_serves(fake_kernel):
    """``kcapi_hashlib.sha256`` is one object for the life of the process (dict keys,
    ``digestmod is`` tests), and its first call takes what later calls take."""
    early = kcapi_hashlib.sha256
    fake_kernel("bind")
    kcapi_hashlib.set_backend("auto")
    with pytest.raises(TypeError):
        kcapi_hashlib.sha256(data=b"abc")  # the first call (deciding) checks like hashlib
    first = kcapi_hashlib.sha256(b"abc")  # the kernel refuses, software serves
    assert kcapi_hashlib.sha256 is early and kcapi_hashlib.sha256 is not hashlib.sha256
    with pytest.raises(TypeError):
        kcapi_hashlib.sha256(data=b"abc")  # and so do later calls
    assert type(first) is type(hashlib.sha256())
    assert first.digest() == kcapi_hashlib.sha256(b"abc").digest() == hashlib.sha256(b"abc").digest()
    info = kcapi_hashlib.backend_info(first)
    assert info.backend == "software" and "bind" in info.reason  # and it says why
    kcapi_hashlib.set_backend("kernel")
    with pytest.raises(KernelUnavailableError):
        kcapi_hashlib.sha256(b"abc")
    assert kcapi_hashlib.sha256 is early
    kcapi_hashlib.set_backend("software")
    assert type(kcapi_hashlib.sha512()) is type(hashlib.sha512())
    assert hmac.new(b"k", b"m", kcapi_hashlib.sha512).digest() == \
        std_hmac.new(b"k", b"m", hashlib.sha512).digest()
    assert kcapi_hashlib.sha256 is early and {early: 1}[kcapi_hashlib.sha256] == 1


def test_a_name_the_kernel_serves_keeps_our_constructor(emulated_kernel):
    kcapi_hashlib.set_backend("auto")
    h = kcapi_hashlib.sha256(b"abc")
    assert isinstance(h, KernelHash) and kcapi_hashlib.sha256 is not hashlib.sha256
    assert kcapi_hashlib.sha256(b"abc").digest() == hashlib.sha256(b"abc").digest()


def test_policy_changes_while_other_threads_construct(fake_kernel):
    """A constructor in use by other threads while the policy changes keeps giving
    correct objects (or the kernel policy's refusal), and stays the same object."""
    import threading

    fake_kernel("bind")
    ours, errors, stop = kcapi_hashlib.sha256, [], threading.Event()
    want = hashlib.sha256(b"abc").digest()

    def construct():
        while not stop.is_set():
            try:
                if ours(b"abc").digest() != want:
                    errors.append("wrong digest")
            except KernelUnavailableError:
                pass
            except Exception as exc:  # noqa: BLE001 - any other outcome is the failure
                errors.append(repr(exc))

    workers = [threading.Thread(target=construct) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        for i in range(300):
            kcapi_hashlib.set_backend(("auto", "kernel", "software")[i % 3])
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert errors == [] and kcapi_hashlib.sha256 is ours
    kcapi_hashlib.set_backend("software")
    assert type(ours(b"abc")) is type(hashlib.sha256()) and ours(b"abc").digest() == want
