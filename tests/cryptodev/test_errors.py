"""/dev/crypto refusals, explained as AF_ALG's are: no device, no permission, an algorithm
the driver cannot allocate, a rejected key; clear errors under ``kernel``, the faithful
fallback (with the reason) under ``auto``.  Driven through a stand-in for the syscall
layer (``tests.fakes.DeviceKernel``), so these run on every machine.
"""

from __future__ import annotations

import errno
import hashlib
import os

import pytest
from Crypto.Cipher import AES as RefAES

import kcapi_hashlib
from _kcapi import _syscalls, policy, transform
from _kcapi.cryptodev import abi, device
from _kcapi.errors import KernelUnavailableError
from kcapi_cipher import AES, backend_info as cipher_info

from ..fakes import DeviceKernel


@pytest.fixture
def fake_device(monkeypatch):
    """Install a :class:`DeviceKernel` with the device not open yet and the interface
    ``cryptodev``; everything is put back (and the caches cleared) afterwards."""
    monkeypatch.setattr(device, "_fd", None)
    monkeypatch.setattr(device, "_refused", None)
    previous = policy.set_interface("cryptodev")
    transform.clear()

    def install(**kwargs) -> DeviceKernel:
        fake = DeviceKernel(**kwargs)
        monkeypatch.setattr(_syscalls, "kernel", fake)
        return fake

    yield install
    for fd in getattr(_syscalls.kernel, "opened", []):
        os.close(fd)
    monkeypatch.undo()
    policy.set_interface(previous)
    transform.clear()


@pytest.mark.parametrize("err, reason, words", [
    (errno.ENOENT, "no-cryptodev", "there is no /dev/crypto"),
    (errno.ENODEV, "no-cryptodev", "cryptodev-linux driver is not loaded"),
    (errno.EACCES, "blocked", "may not open /dev/crypto"),
    (errno.EPERM, "blocked", "may not open /dev/crypto"),
    (errno.EIO, "refused", "opening /dev/crypto failed"),
])
def test_the_device_refused_is_explained(fake_device, err, reason, words):
    fake_device(open_errno=err)
    with policy.use_backend("kernel"), pytest.raises(KernelUnavailableError) as caught:
        kcapi_hashlib.sha256(b"abc")
    assert caught.value.errno == err and caught.value.reason == reason, caught.value
    assert words in str(caught.value) and caught.value.step == "open"
    assert isinstance(caught.value, ValueError)  # what hashlib raises for what it lacks
    # auto: hashlib's object and digest, with the same reason on record
    with policy.use_backend("auto"):
        h = kcapi_hashlib.sha256(b"abc")
    assert h.digest() == hashlib.sha256(b"abc").digest()
    info = kcapi_hashlib.backend_info(h)
    assert info.backend == "software" and info.reason.startswith(reason + ":"), info


def test_a_refused_open_is_tried_once(fake_device):
    fake = fake_device(open_errno=errno.ENOENT)
    calls = []
    original = fake.open_device
    fake.open_device = lambda path: calls.append(path) or original(path)
    with policy.use_backend("auto"):
        kcapi_hashlib.sha256(b"a")
        kcapi_hashlib.sha512(b"a")
        AES.new(bytes(16), AES.MODE_CBC, iv=bytes(16))
    assert calls == [device.path()]


def test_an_algorithm_the_driver_cannot_allocate_is_missing(fake_device):
    fake_device(session_errno=errno.EINVAL)
    with policy.use_backend("kernel"), pytest.raises(KernelUnavailableError) as caught:
        AES.new(bytes(16), AES.MODE_CBC, iv=bytes(16))
    assert caught.value.reason == "missing" and caught.value.algorithm == "cbc(aes)"
    assert caught.value.errno == errno.EINVAL and caught.value.step == "session"
    with policy.use_backend("auto"):
        c = AES.new(bytes(16), AES.MODE_CBC, iv=bytes(16))
    assert c.encrypt(bytes(32)) == RefAES.new(bytes(16), RefAES.MODE_CBC, iv=bytes(16)).encrypt(bytes(32))
    assert cipher_info(c).reason.startswith("missing:"), cipher_info(c)


@pytest.mark.parametrize("name", ["sha3_256", "blake2b", "sha512_256"])
def test_what_the_interface_lacks_is_named_not_probed(fake_device, name):
    fake = fake_device()
    with policy.use_backend("kernel"), pytest.raises(KernelUnavailableError) as caught:
        kcapi_hashlib.new(name, b"x")
    assert caught.value.reason in ("interface-lacks", "no-kernel-equivalent"), caught.value
    assert fake.opened == []  # nothing to ask the device


def test_the_interface_is_chosen_by_the_environment(monkeypatch):
    previous = policy.set_interface(None)
    try:
        monkeypatch.setenv("KCAPI_INTERFACE", "  CryptoDev ")
        assert policy.get_interface() == "cryptodev"
        policy.set_interface(None)
        monkeypatch.setenv("KCAPI_INTERFACE", "sockets")
        with pytest.raises(ValueError, match="KCAPI_INTERFACE='sockets' is not one of"):
            policy.get_interface()
        assert policy.set_interface("af_alg") is None
        assert policy.get_interface() == "af_alg"
        with pytest.raises(ValueError, match="interface must be one of"):
            policy.set_interface("AF_ALG")
    finally:
        policy.set_interface(previous)


def test_the_ioctl_numbers_follow_the_structures():
    from _kcapi import _libc

    ffi, _ = _libc.libc()
    numbers = abi.ioctls()
    for name, nr, struct in [("CIOCGSESSION", 102, "struct session_op"),
                             ("CIOCCRYPT", 104, "struct crypt_op"),
                             ("CIOCGSESSINFO", 107, "struct session_info_op"),
                             ("CIOCAUTHCRYPT", 109, "struct crypt_auth_op"),
                             ("CIOCCPHASH", 112, "struct cphash_op")]:
        number = numbers[name]
        assert number & 0xFF == nr and (number >> 8) & 0xFF == ord("c"), name
        assert (number >> 16) & 0x1FFF == ffi.sizeof(struct), name
