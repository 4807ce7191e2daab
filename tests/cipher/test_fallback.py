"""What software serves for the skcipher modes, and how it says so (every kernel, and none).

The software fallback is PyCryptodome itself: under ``auto`` (when the kernel
refuses) and ``software`` the objects are PyCryptodome's; under ``kernel``
whatever the kernel cannot serve raises KernelUnavailableError.  Refusals are
provoked with the fake syscall layer, so these run on any machine.
"""

import errno
import os
import subprocess
import sys
import textwrap

import pytest
from Crypto.Cipher import AES as RefAES
from Crypto.Cipher import ChaCha20 as RefChaCha20
from Crypto.Cipher import DES3 as RefDES3

import kcapi_cipher
from kcapi_cipher import AES, DES3, ChaCha20, KernelUnavailableError, backend_info

from ..cipher_support import IV, KEY, TDES, MODE_MAKERS as MAKERS
from ..support import ALG_MISSING, BIND_BLOCKED_EACCES, BIND_BLOCKED_EPERM, NO_AF_ALG, SOCKET_BLOCKED

REFERENCE = {"aes": RefAES, "des3_ede": RefDES3}
OURS = {"aes": AES, "des3_ede": DES3}

# Modes only PyCryptodome has: (factory, mode, arguments).
SOFTWARE_ONLY = [
    (AES, AES.MODE_OPENPGP, (IV,), {}),
    (AES, AES.MODE_EAX, (), {"nonce": IV}),
    (AES, AES.MODE_SIV, (), {"nonce": IV}),
    (AES, AES.MODE_OCB, (), {"nonce": IV[:15]}),
    (AES, AES.MODE_KW, (), {}),
    (AES, AES.MODE_KWP, (), {}),
    (AES, AES.MODE_CFB, (IV,), {}),  # segment_size 8, PyCryptodome's default
    (AES, AES.MODE_CFB, (IV,), {"segment_size": 64}),
    (DES3, DES3.MODE_EAX, (), {"nonce": IV}),
    (DES3, DES3.MODE_OPENPGP, (IV[:8],), {}),
    (DES3, DES3.MODE_CFB, (IV[:8],), {}),
]


def key_for(factory, mode):
    if factory is DES3:
        return TDES
    return KEY * 2 if mode in (AES.MODE_SIV,) else KEY


def both(name):
    cipher = name[name.index("(") + 1:-1]
    return MAKERS[name](OURS[cipher]), MAKERS[name](REFERENCE[cipher])


@pytest.mark.parametrize("name", list(MAKERS))
def test_software_policy_returns_pycryptodome_objects(name):
    kcapi_cipher.set_backend("software")
    ours, ref = both(name)
    assert type(ours) is type(ref)
    info = backend_info(ours)
    assert info.backend == "software" and "policy is 'software'" in info.reason
    assert info.algorithm == name and info.driver.startswith("Crypto.Cipher.")
    assert ours.encrypt(b"s" * 32) == ref.encrypt(b"s" * 32)


def test_software_policy_for_chacha20():
    kcapi_cipher.set_backend("software")
    for nonce, name in ((IV[:8], "chacha20"), (IV[:12], "chacha20"), (IV + IV[:8], "xchacha20")):
        ours = ChaCha20.new(key=KEY * 2, nonce=nonce)
        assert isinstance(ours, RefChaCha20.ChaCha20Cipher)
        assert backend_info(ours).algorithm == name
        assert ours.encrypt(b"c" * 70) == RefChaCha20.new(key=KEY * 2, nonce=nonce).encrypt(b"c" * 70)


@pytest.mark.parametrize("step,err,reason",
                         [NO_AF_ALG, SOCKET_BLOCKED, ALG_MISSING, BIND_BLOCKED_EACCES])
@pytest.mark.parametrize("name", list(MAKERS))
def test_auto_falls_back_where_the_kernel_refuses(fake_kernel, step, err, reason, name):
    fake_kernel(step, err)
    kcapi_cipher.set_backend("auto")
    ours, ref = both(name)
    assert type(ours) is type(ref)
    info = backend_info(ours)
    assert info.backend == "software" and info.algorithm == name
    assert info.reason.startswith(reason + ":") and name in info.reason
    assert ours.encrypt(b"a" * 32) == ref.encrypt(b"a" * 32)


@pytest.mark.parametrize("step,err,reason", [NO_AF_ALG, ALG_MISSING, BIND_BLOCKED_EPERM])
@pytest.mark.parametrize("name", list(MAKERS))
def test_kernel_policy_names_the_refusal(fake_kernel, step, err, reason, name):
    fake_kernel(step, err)
    kcapi_cipher.set_backend("kernel")
    with pytest.raises(KernelUnavailableError) as caught:
        both(name)
    assert caught.value.errno == err and caught.value.reason == reason
    assert caught.value.algorithm == name and name in str(caught.value)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, OSError)


def test_kernel_policy_refusal_for_chacha20(fake_kernel):
    fake_kernel("bind", errno.ENOENT)
    kcapi_cipher.set_backend("kernel")
    with pytest.raises(KernelUnavailableError, match="xchacha20"):
        ChaCha20.new(key=KEY * 2, nonce=IV + IV[:8])


@pytest.mark.parametrize("factory,mode,args,kwargs", SOFTWARE_ONLY)
def test_auto_serves_modes_the_kernel_lacks_from_pycryptodome(factory, mode, args, kwargs):
    kcapi_cipher.set_backend("auto")
    ref_factory = RefAES if factory is AES else RefDES3
    key = key_for(factory, mode)
    ours = factory.new(key, mode, *args, **kwargs)
    assert type(ours) is type(ref_factory.new(key, mode, *args, **kwargs))
    info = backend_info(ours)
    assert info.backend == "software" and "no equivalent" in info.reason


@pytest.mark.parametrize("factory,mode,args,kwargs", SOFTWARE_ONLY)
def test_kernel_policy_refuses_modes_the_kernel_lacks(factory, mode, args, kwargs):
    kcapi_cipher.set_backend("kernel")
    with pytest.raises(KernelUnavailableError) as caught:
        factory.new(key_for(factory, mode), mode, *args, **kwargs)
    assert caught.value.reason == "no-kernel-equivalent" and caught.value.errno is None
    assert "MODE_" in str(caught.value)


@pytest.mark.parametrize("policy", ["kernel", "auto", "software"])
def test_invalid_arguments_get_pycryptodome_errors_under_every_policy(policy):
    kcapi_cipher.set_backend(policy)
    with pytest.raises(ValueError, match=r"Incorrect AES key length \(5 bytes\)"):
        AES.new(b"short", AES.MODE_EAX)
    with pytest.raises(ValueError, match=r"Incorrect AES key length \(5 bytes\)"):
        AES.new(b"short", AES.MODE_CFB, segment_size=8)
    with pytest.raises(TypeError, match="Unknown parameters for CBC"):
        AES.new(KEY, AES.MODE_CBC, IV, bogus=1)


def test_a_key_the_kernel_refuses(fake_kernel):
    """A TDES key the kernel rejects (FIPS mode refuses K1 == K3): software, or a clear error."""
    fake_kernel("setsockopt", errno.EINVAL)
    kcapi_cipher.set_backend("auto")
    ours = DES3.new(TDES[:16], DES3.MODE_CBC, IV[:8])
    assert isinstance(ours, type(RefDES3.new(TDES[:16], DES3.MODE_CBC, IV[:8])))
    assert "refuses this key" in backend_info(ours).reason
    kcapi_cipher.set_backend("kernel")
    with pytest.raises(KernelUnavailableError) as caught:
        DES3.new(TDES[:16], DES3.MODE_CBC, IV[:8])
    assert caught.value.errno == errno.EINVAL and caught.value.reason == "refused"


def test_xts_falls_back_to_pycryptodome(fake_kernel):
    """Where the kernel lacks xts(aes), ``auto`` serves PyCryptodome's XtsMode, saying why."""
    def ref():
        return RefAES.new(KEY + IV, RefAES.MODE_XTS, tweak=IV)

    kcapi_cipher.set_backend("software")
    ours = AES.new(KEY + IV, AES.MODE_XTS, tweak=IV)
    assert type(ours) is type(ref()) and ours.encrypt(KEY * 2) == ref().encrypt(KEY * 2)
    fake_kernel("bind", errno.ENOENT)
    kcapi_cipher.set_backend("auto")
    ours = AES.new(KEY + IV, AES.MODE_XTS, tweak=IV)
    info = backend_info(ours)
    assert type(ours) is type(ref()) and info.backend == "software"
    assert info.algorithm == "xts(aes)" and "missing" in info.reason, info
    kcapi_cipher.set_backend("kernel")
    with pytest.raises(KernelUnavailableError) as caught:
        AES.new(KEY + IV, AES.MODE_XTS, tweak=IV)
    assert caught.value.reason == "missing" and "xts(aes)" in str(caught.value)


def test_backend_info_of_objects_made_elsewhere():
    ref = RefAES.new(KEY, RefAES.MODE_CBC, IV)
    info = backend_info(ref)
    assert info.backend == "software" and info.algorithm == "cbc(aes)"
    assert info.driver == "Crypto.Cipher._mode_cbc.CbcMode" and info.reason
    des = backend_info(RefDES3.new(TDES, RefDES3.MODE_ECB))
    assert des.algorithm == "ecb(des3_ede)"
    chacha = backend_info(RefChaCha20.new(key=KEY * 2, nonce=IV + IV[:8]))
    assert chacha.algorithm == "xchacha20"


def test_mode_constants_match_pycryptodome():
    for name in dir(RefAES):
        if name.startswith("MODE_"):
            assert getattr(AES, name) == getattr(RefAES, name), name
    for name in dir(RefDES3):
        if name.startswith("MODE_"):
            assert getattr(DES3, name) == getattr(RefDES3, name), name
    ours = {getattr(AES, n) for n in dir(AES) if n.startswith("MODE_")}
    assert ours - {getattr(RefAES, n) for n in dir(RefAES) if n.startswith("MODE_")} == \
        {AES.MODE_HCTR2, AES.MODE_ADIANTUM}
    assert (AES.block_size, AES.key_size) == (RefAES.block_size, RefAES.key_size)
    assert (DES3.block_size, DES3.key_size) == (RefDES3.block_size, RefDES3.key_size)
    assert (ChaCha20.block_size, ChaCha20.key_size) == (RefChaCha20.block_size, RefChaCha20.key_size)


def test_pycryptodome_helpers_accept_our_factory():
    """PyCryptodome's CMAC and Poly1305 take a cipher module: ours works in their place."""
    from Crypto.Hash import CMAC, Poly1305

    ours = CMAC.new(KEY, b"message", ciphermod=AES).hexdigest()
    assert ours == CMAC.new(KEY, b"message", ciphermod=RefAES).hexdigest()
    mac = Poly1305.new(key=KEY * 2, cipher=AES, nonce=IV, data=b"message")
    assert mac.hexdigest() == Poly1305.new(key=KEY * 2, cipher=RefAES, nonce=IV,
                                           data=b"message").hexdigest()
    mac = Poly1305.new(key=KEY * 2, cipher=ChaCha20, nonce=IV[:12], data=b"m")
    assert mac.hexdigest() == Poly1305.new(key=KEY * 2, cipher=RefChaCha20, nonce=IV[:12],
                                           data=b"m").hexdigest()


def _run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **env})


def test_importing_opens_no_socket():
    result = _run_python("""
        import os
        before = sorted(os.listdir('/proc/self/fd'))
        import kcapi_cipher, kcapi_cipher.AES, kcapi_cipher.DES3, kcapi_cipher.ChaCha20
        from kcapi_cipher import _mode_ecb, _mode_cbc, _mode_cfb, _mode_ofb, _mode_ctr, _mode_xts
        from _kcapi import transform
        assert transform.cached_probes() == {} and transform.keyed() == [], transform.cached_probes()
        assert sorted(os.listdir('/proc/self/fd')) == before
        print('clean')
    """)
    assert result.returncode == 0 and "clean" in result.stdout, result.stderr


@pytest.mark.parametrize("policy", ["auto", "software"])
def test_software_objects_alive_at_exit_do_not_crash_the_interpreter(policy):
    """PyCryptodome objects must be freed before its C libraries at interpreter exit.

    A cached kernel refusal raised with a traceback kept the callers' frames
    (``__main__``'s globals among them) alive until the end, past the point
    where PyCryptodome's libraries are unloaded: the process died of SIGSEGV.
    """
    result = _run_python("""
        import os
        from kcapi_cipher import AES, DES3, ChaCha20
        kept = [AES.new(os.urandom(16), mode) for mode in (1, 2, 5, 6)]
        cfb8 = AES.new(os.urandom(16), AES.MODE_CFB)  # always software
        des = DES3.new(DES3.adjust_key_parity(os.urandom(24)), DES3.MODE_CBC)
        chacha = ChaCha20.new(key=os.urandom(32))
        eax = AES.new(os.urandom(16), AES.MODE_EAX)
        print('done')
    """, KCAPI_BACKEND=policy)
    assert result.returncode == 0, (result.returncode, result.stderr)
    assert result.stdout.strip() == "done"
