"""The software fallback of GCM, CCM, ChaCha20-Poly1305, CMAC and Random, on every kernel.

A fake syscall layer (``tests.fakes``) makes the kernel refuse at a chosen
step, so these run the same with and without AF_ALG: under ``auto`` the
objects are PyCryptodome's own (identical results), under ``kernel`` the
refusal is a :class:`KernelUnavailableError` naming the reason, and invalid
arguments get PyCryptodome's errors before any routing.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from Crypto.Cipher import AES as RefAES
from Crypto.Cipher import ChaCha20_Poly1305 as RefChaCha
from Crypto.Hash import CMAC as RefCMAC

import kcapi_cipher
from _kcapi import policy
from kcapi_cipher import AES, CMAC, ChaCha20_Poly1305, KernelUnavailableError, Random
from kcapi_cipher._aead import KernelAead

from ..aead_support import MODE_CCM, MODE_GCM, aes_new
from ..support import ALG_MISSING, NO_AF_ALG, SOCKET_BLOCKED


KEY = bytes(range(16))
KEY32 = bytes(range(32))

MAKERS = {
    "gcm": (lambda: aes_new(KEY, MODE_GCM, nonce=b"n" * 12),
            lambda: RefAES.new(KEY, RefAES.MODE_GCM, nonce=b"n" * 12), "gcm(aes)"),
    "gcm-nonce20": (lambda: aes_new(KEY, MODE_GCM, b"n" * 20, mac_len=10),
                    lambda: RefAES.new(KEY, RefAES.MODE_GCM, b"n" * 20, mac_len=10), "gcm(aes)"),
    "ccm": (lambda: aes_new(KEY, MODE_CCM, nonce=b"n" * 11, mac_len=8),
            lambda: RefAES.new(KEY, RefAES.MODE_CCM, nonce=b"n" * 11, mac_len=8), "ccm(aes)"),
    "chacha": (lambda: ChaCha20_Poly1305.new(key=KEY32, nonce=b"n" * 12),
               lambda: RefChaCha.new(key=KEY32, nonce=b"n" * 12), "rfc7539(chacha20,poly1305)"),
    "xchacha": (lambda: ChaCha20_Poly1305.new(key=KEY32, nonce=b"n" * 24),
                lambda: RefChaCha.new(key=KEY32, nonce=b"n" * 24), "xchacha20+poly1305"),
}


def _same_results(ours, ref):
    ours.update(b"header")
    ref.update(b"header")
    assert ours.encrypt_and_digest(b"payload" * 9) == ref.encrypt_and_digest(b"payload" * 9)


@pytest.mark.parametrize("step,err,reason", [NO_AF_ALG, SOCKET_BLOCKED, ALG_MISSING])
@pytest.mark.parametrize("name", list(MAKERS))
def test_auto_serves_pycryptodome_objects(fake_kernel, name, step, err, reason):
    fake_kernel(step, err)
    policy.set_backend("auto")
    make, make_ref, kernel_name = MAKERS[name]
    ours = make()
    assert type(ours) is type(make_ref()) and not isinstance(ours, KernelAead)
    info = kcapi_cipher.backend_info(ours)
    assert info.backend == "software" and info.reason.startswith(reason), info
    assert info.algorithm == kernel_name
    _same_results(ours, make_ref())


@pytest.mark.parametrize("step,err,reason", [NO_AF_ALG, ALG_MISSING])
@pytest.mark.parametrize("name", list(MAKERS))
def test_kernel_policy_refuses(fake_kernel, name, step, err, reason):
    fake_kernel(step, err)
    policy.set_backend("kernel")
    with pytest.raises(KernelUnavailableError) as caught:
        MAKERS[name][0]()
    assert caught.value.reason == reason and caught.value.errno == err


@pytest.mark.parametrize("make", [
    lambda: aes_new(b"k" * 15, MODE_GCM),
    lambda: aes_new(KEY, MODE_GCM, nonce=b""),
    lambda: aes_new(KEY, MODE_CCM, nonce=b"n" * 6),
    lambda: aes_new(KEY, MODE_CCM, mac_len=5),
    lambda: ChaCha20_Poly1305.new(key=KEY, nonce=b"n" * 12),
    lambda: CMAC.new(KEY, ciphermod=AES, mac_len=2),
], ids=["gcm-key", "gcm-nonce", "ccm-nonce", "ccm-mac_len", "chacha-key", "cmac-mac_len"])
def test_bad_arguments_get_pycryptodome_errors_before_routing(fake_kernel, make):
    fake_kernel("socket")
    policy.set_backend("kernel")
    with pytest.raises(ValueError) as caught:
        make()
    assert not isinstance(caught.value, KernelUnavailableError)


def test_software_policy_never_touches_af_alg(fake_kernel):
    fake = fake_kernel("any")
    policy.set_backend("software")
    for name, (make, make_ref, _) in MAKERS.items():
        ours = make()
        assert type(ours) is type(make_ref())
        assert "policy is 'software'" in kcapi_cipher.backend_info(ours).reason, name
    mac = CMAC.new(KEY, b"msg", RefAES)
    assert type(mac) is RefCMAC.CMAC and mac.digest() == RefCMAC.new(KEY, b"msg", RefAES).digest()
    assert len(Random.get_random_bytes(40)) == 40
    assert Random.backend_info().backend == "software"
    assert fake.calls == []


def test_cmac_falls_back_and_refuses(fake_kernel):
    fake_kernel("socket")
    policy.set_backend("auto")
    mac = CMAC.new(KEY, b"msg", RefAES, mac_len=12)
    assert type(mac) is RefCMAC.CMAC
    assert mac.digest() == RefCMAC.new(KEY, b"msg", RefAES, mac_len=12).digest()
    assert kcapi_cipher.backend_info(mac).reason.startswith("no-af-alg")
    policy.set_backend("kernel")
    with pytest.raises(KernelUnavailableError):
        CMAC.new(KEY, b"msg", RefAES)


def test_cmac_over_other_ciphers_is_pycryptodomes():
    from Crypto.Cipher import DES

    key, msg = bytes.fromhex("8aa83bf8cbda1062"), bytes.fromhex("6bc1bee22e409f96")
    policy.set_backend("auto")
    mac = CMAC.new(key, msg, DES)  # single DES: the kernel has no cmac(des) kcapi serves
    assert type(mac) is RefCMAC.CMAC
    assert mac.hexdigest() == RefCMAC.new(key, msg, DES).hexdigest()
    policy.set_backend("kernel")
    with pytest.raises(KernelUnavailableError) as caught:
        CMAC.new(key, msg, DES)
    assert caught.value.reason == "no-kernel-equivalent"


def test_random_falls_back_to_urandom_and_refuses(fake_kernel):
    fake_kernel("socket")
    policy.set_backend("auto")
    assert len(Random.get_random_bytes(300)) == 300
    assert Random.get_random_bytes(16) != Random.get_random_bytes(16)
    source = Random.new()
    assert type(source).__module__ == "Crypto.Random" and len(source.read(5)) == 5
    info = Random.backend_info()
    assert info.backend == "software" and info.driver == "os.urandom"
    assert info.reason.startswith("no-af-alg")
    policy.set_backend("kernel")
    with pytest.raises(KernelUnavailableError):
        Random.get_random_bytes(1)
    with pytest.raises(KernelUnavailableError):
        Random.new()


def test_fallback_objects_keep_the_generated_nonce(fake_kernel):
    fake_kernel("socket")
    policy.set_backend("auto")
    for mode, size in ((MODE_GCM, 16), (MODE_CCM, 11)):
        a = aes_new(KEY, mode)
        assert len(a.nonce) == size
        b = RefAES.new(KEY, mode, nonce=a.nonce)
        assert a.encrypt_and_digest(b"x") == b.encrypt_and_digest(b"x")
    c = ChaCha20_Poly1305.new(key=KEY32)
    assert len(c.nonce) == 12 and c.nonce != ChaCha20_Poly1305.new(key=KEY32).nonce


def test_no_socket_at_import_time():
    code = (
        "import socket\n"
        "class NoSocket(socket.socket):\n"
        "    def __init__(self, *args, **kwargs):\n"
        "        raise AssertionError('a socket was opened at import time')\n"
        "socket.socket = NoSocket\n"
        "import kcapi_cipher, kcapi_cipher.CMAC, kcapi_cipher.Random, kcapi_cipher.ChaCha20_Poly1305\n"
        "import kcapi_cipher._mode_gcm, kcapi_cipher._mode_ccm, _kcapi.aead, _kcapi.rng\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
