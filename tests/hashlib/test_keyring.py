"""Keys held by the kernel keyring (ALG_SET_KEY_BY_KEY_SERIAL, Linux 6.2+).

Gated on a probe of the feature, never on a version string: where the running
kernel keys a transform from a keyring serial, the keyring tests run; where it
does not know the option, the clear "needs Linux 6.2 or newer" error is tested.
"""

import errno
import hashlib
import hmac as std_hmac
import os

import pytest

import kcapi_hashlib
from _kcapi import transform
from _kcapi.errors import KernelUnavailableError
from _kcapi.hash import kernel_hash_of
from kcapi_hashlib import KeyringKey, hmac

from ..support import REQUIRE_KERNEL, keyring_gates, keyring_keys_work, require_kernel_alg

# AF_ALG's own mechanisms (see tests/conftest.py af_alg_only): AF_ALG whatever the interface.
pytestmark = pytest.mark.usefixtures("af_alg_only")

KEY = bytes(range(32))


@pytest.fixture
def user_key():
    key = KeyringKey.add(KEY, f"kcapi-test-{os.getpid()}-{os.urandom(4).hex()}")
    yield key
    try:
        key.revoke()
    except OSError:
        pass


def keyring_support():
    """Probe: does this kernel key an hmac(sha256) transform from a keyring serial?"""
    return keyring_keys_work("hash", "hmac(sha256)", b"probe")


with_keyring, without_keyring = keyring_gates(keyring_support)


@pytest.mark.kernel
def test_hmac_from_a_user_key(with_keyring, user_key):
    for name in ("sha256", "sha512", "sha1"):
        mac = hmac.new(user_key, b"message", name)
        assert kcapi_hashlib.backend_info(mac).backend == "kernel"
        assert mac.digest() == std_hmac.digest(KEY, b"message", name)
        twin = mac.copy()
        twin.update(b"+")
        assert twin.digest() == std_hmac.digest(KEY, b"message+", name)


def outcome(call):
    try:
        return "ok", call()
    except Exception as exc:  # noqa: BLE001 - the type and text are what is compared
        return type(exc), str(exc)


@pytest.mark.kernel
@pytest.mark.parametrize("policy", ["auto", "kernel"])
def test_hmac_keyring_arguments_get_the_standard_librarys_errors(with_keyring, user_key, policy):
    # The reference is the standard library with the key's bytes.
    kcapi_hashlib.set_backend(policy)
    strided = memoryview(bytes(8))[::2]
    for msg, digestmod in [("text", "sha256"), (5, "sha256"), (strided, "sha256"), (b"m", None),
                           (b"m", ""), (b"m", 0), (b"m", b"sha256"), (b"m", "nope"),
                           ("text", "blake2s"), (b"m", hashlib.sha256), (None, "SHA256")]:
        ours = outcome(lambda: hmac.new(user_key, msg, digestmod).digest())
        assert ours == outcome(lambda: std_hmac.new(KEY, msg, digestmod).digest())
    for msg in (None, "text", 5, strided, memoryview(b"msg"), bytearray(b"msg")):
        ours = outcome(lambda: hmac.digest(user_key, msg, "sha256"))
        assert ours == outcome(lambda: std_hmac.digest(KEY, msg, "sha256"))
    # What the standard library accepts and the kernel lacks: no software can read the key.
    for digestmod in ("blake2s", "sha512_256", hashlib.blake2s):
        with pytest.raises(KernelUnavailableError) as caught:
            hmac.new(user_key, b"m", digestmod)
        assert caught.value.reason == "keyring-needs-kernel"


@pytest.mark.kernel
def test_hmac_from_a_logon_key(with_keyring):
    key = KeyringKey.add(KEY, f"kcapi:logon-{os.getpid()}", key_type="logon")
    try:
        assert hmac.new(key, b"m", "sha256").digest() == std_hmac.digest(KEY, b"m", "sha256")
    finally:
        key.revoke()


@pytest.mark.kernel
def test_keyed_blake2b_from_the_keyring(with_keyring, user_key):
    require_kernel_alg("hash", "blake2b-256")
    h = kcapi_hashlib.blake2b(b"data", key=user_key, digest_size=32)
    assert h.digest() == hashlib.blake2b(b"data", key=KEY, digest_size=32).digest()


@pytest.mark.kernel
def test_key_found_by_search(with_keyring, user_key):
    found = KeyringKey.search(user_key.description)
    assert found == user_key
    with pytest.raises(KeyError):
        KeyringKey.search("kcapi-no-such-key-" + os.urandom(4).hex())


@pytest.mark.kernel
def test_key_without_search_permission(with_keyring, user_key):
    # possessor and user: view, read, write, setattr; no search
    user_key.set_permissions(0x27000000 | 0x00270000)
    with pytest.raises(PermissionError) as caught:
        hmac.new(user_key, b"m", "sha256")
    assert caught.value.errno == errno.EACCES and "search permission" in str(caught.value)


@pytest.mark.kernel
def test_revoked_key(with_keyring, user_key):
    user_key.revoke()
    with pytest.raises(OSError) as caught:
        hmac.new(user_key, b"m", "sha256")
    assert caught.value.errno == errno.EKEYREVOKED and str(user_key.serial) in str(caught.value)


@pytest.mark.kernel
def test_keyring_keys_are_read_per_object(with_keyring, user_key):
    first = hmac.new(user_key, b"m", "sha256")
    second = hmac.new(user_key, b"m", "sha256")
    # Never cached: a revoked key stops new objects.
    assert kernel_hash_of(first)._tfm is not kernel_hash_of(second)._tfm


@pytest.mark.kernel
def test_older_kernels_say_what_they_need(without_keyring, user_key):
    with pytest.raises(KernelUnavailableError) as caught:
        hmac.new(user_key, b"m", "sha256")
    assert caught.value.reason == "needs-newer-kernel"
    assert "Linux 6.2 or newer" in str(caught.value)
    assert caught.value.errno == errno.ENOPROTOOPT


def test_no_software_fallback_for_keyring_keys():
    # No syscall is needed to know this: a key the process cannot read cannot be used in software.
    key = KeyringKey(123456, "never-added")
    kcapi_hashlib.set_backend("software")
    with pytest.raises(KernelUnavailableError) as caught:
        hmac.new(key, b"m", "sha256")
    assert caught.value.reason == "keyring-needs-kernel"
    assert "can only be used by the kernel" in str(caught.value)
    with pytest.raises(KernelUnavailableError):
        kcapi_hashlib.blake2b(b"m", key=key)


def test_keyring_key_without_af_alg_explains(monkeypatch):
    from ..fakes import RefusingKernel
    from _kcapi import _syscalls

    transform.clear()
    monkeypatch.setattr(_syscalls, "kernel", RefusingKernel("socket", errno.EAFNOSUPPORT))
    try:
        kcapi_hashlib.set_backend("auto")
        with pytest.raises(KernelUnavailableError) as caught:
            hmac.new(KeyringKey(42), b"m", "sha256")
        assert caught.value.reason == "keyring-needs-kernel" and caught.value.errno == errno.EAFNOSUPPORT
    finally:
        transform.clear()


def test_keyring_key_validation():
    with pytest.raises(TypeError):
        KeyringKey("42")
    assert repr(KeyringKey(7, "label")) == "<KeyringKey 7 'label'>"
    assert KeyringKey(7) == KeyringKey(7, "other") and len({KeyringKey(7), KeyringKey(7)}) == 1


