"""/dev/crypto (cryptodev-linux) serving hashlib, hmac and PyCryptodome objects, in a
kernel that has it (UML 7.3 with the driver built in: regimes e and f of scripts/test).

Every object is checked against hashlib / PyCryptodome on the same inputs, in the
call patterns the users' code makes (split updates, copy at any point, digest twice,
encrypt in many calls, partial blocks, in place), and against what strace sees: ioctls
on the device, never an AF_ALG socket.  The whole suite also runs with
``KCAPI_INTERFACE=cryptodev`` (regime e), so the differential tests, vectors and
fidelity checks hold for this interface as they do for AF_ALG.
"""

from __future__ import annotations

import hashlib
import hmac as std_hmac
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from Crypto.Cipher import AES as RefAES
from Crypto.Cipher import DES3 as RefDES3
from Crypto.Hash import RIPEMD160
from hypothesis import given, strategies as st

import kcapi_hashlib
from _kcapi import policy, transform
from _kcapi.cryptodev import abi, device
from _kcapi.errors import KernelUnavailableError
from kcapi_cipher import AES, DES3, backend_info as cipher_info
from kcapi_hashlib import hmac

pytestmark = pytest.mark.kernel

#: scripts/test sets it where the guest has the device (regimes e and f): there a
#: missing device fails the tests instead of skipping them.
REQUIRED = os.environ.get("KCAPI_CRYPTODEV_REQUIRED") == "1"


@pytest.fixture(autouse=True)
def on_cryptodev():
    """Each test: /dev/crypto only, the kernel policy; skipped where there is no device
    at all (a kernel without cryptodev-linux), failed instead where one is required."""
    if not os.path.exists(device.path()):
        if REQUIRED:
            pytest.fail(f"no {device.path()} here, and scripts/test says there is one")
        pytest.skip(f"this kernel has no {device.path()} (cryptodev-linux not loaded)")
    with policy.use_interface("cryptodev"), policy.use_backend("kernel"):
        yield


def served(kind: str, name: str) -> None:
    """Skip where this kernel lacks ``name`` outright (cfb/ofb are gone since 6.8)."""
    found = transform._lookup(kind, name)
    if isinstance(found, KernelUnavailableError):
        if found.reason != "missing":
            raise found.fresh()
        pytest.skip(f"this kernel lacks {name}: {found}")


def reference_hash(name: str, data: bytes = b""):
    if name == "ripemd160":
        return RIPEMD160.new(data)
    return hashlib.new(name, data)


HASHES = ["md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ripemd160"]
SIZES = [0, 1, 55, 64, 127, 16384, 16385, 100_000]


@pytest.mark.parametrize("name", HASHES)
def test_hashes_are_served_here_and_match(name):
    for size in SIZES:
        data = os.urandom(size)
        h = kcapi_hashlib.new(name, data)
        assert h.digest() == reference_hash(name, data).digest(), (name, size)
        assert h.digest() == h.digest()  # digest() never finalizes the object
    info = kcapi_hashlib.backend_info(h)
    assert info.backend == "kernel" and info.interface == "cryptodev", info
    assert info.driver not in ("", "unknown") and info.implementation in (
        "generic", "arch", "offload"), info


@pytest.mark.parametrize("name", ["sha256", "sha1", "ripemd160", "sha512"])
@given(pieces=st.lists(st.integers(0, 40_000), min_size=1, max_size=6),
       copy_at=st.integers(0, 6))
def test_split_updates_and_copies_at_any_point(name, pieces, copy_at):
    ours, ref = kcapi_hashlib.new(name), reference_hash(name)
    copies = []
    for i, size in enumerate(pieces):
        data = os.urandom(size)
        if i == copy_at:
            copies.append((ours.copy(), ref.copy()))
        ours.update(data)
        ref.update(data)
        assert ours.hexdigest() == ref.hexdigest()
    for mine, theirs in copies:
        mine.update(b"tail")
        theirs.update(b"tail")
        assert mine.digest() == theirs.digest()
    assert ours.digest() == ref.digest()


@pytest.mark.parametrize("digest", ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"])
@pytest.mark.parametrize("key_size", [0, 1, 64, 65, 128, 129, 512, 513, 2000])
def test_hmac_any_key(digest, key_size):
    key = os.urandom(key_size)
    msg = os.urandom(3000)
    ours = hmac.new(key, msg[:100], digest)
    theirs = std_hmac.new(key, msg[:100], digest)
    copy = ours.copy()
    ours.update(msg[100:])
    theirs.update(msg[100:])
    assert ours.digest() == theirs.digest()
    assert copy.digest() == std_hmac.new(key, msg[:100], digest).digest()
    assert hmac.digest(key, msg, digest) == std_hmac.digest(key, msg, digest)
    assert kcapi_hashlib.backend_info(ours).interface == "cryptodev"


def test_pbkdf2_is_one_ioctl_per_iteration_and_right():
    for name, iterations, dklen in [("sha256", 1, None), ("sha1", 1000, 20), ("sha512", 50, 200)]:
        assert kcapi_hashlib.pbkdf2_hmac(name, b"password", b"salt", iterations, dklen) == \
            hashlib.pbkdf2_hmac(name, b"password", b"salt", iterations, dklen)


CIPHER_MODES = [
    ("cbc(aes)", lambda key, iv: {"mode": RefAES.MODE_CBC, "iv": iv}, 16),
    ("ecb(aes)", lambda key, iv: {"mode": RefAES.MODE_ECB}, 16),
    ("ctr(aes)", lambda key, iv: {"mode": RefAES.MODE_CTR, "nonce": iv[:8]}, 1),
    ("cfb(aes)", lambda key, iv: {"mode": RefAES.MODE_CFB, "iv": iv, "segment_size": 128}, 1),
    ("ofb(aes)", lambda key, iv: {"mode": RefAES.MODE_OFB, "iv": iv}, 1),
]


@pytest.mark.parametrize("name, args, unit", CIPHER_MODES, ids=[m[0] for m in CIPHER_MODES])
@pytest.mark.parametrize("key_size", [16, 24, 32])
def test_aes_modes_in_many_calls(name, args, unit, key_size):
    served("skcipher", name)
    key, iv = os.urandom(key_size), os.urandom(16)
    kwargs = args(key, iv)
    mode = kwargs.pop("mode")
    ours, ref = AES.new(key, mode, **kwargs), RefAES.new(key, mode, **kwargs)
    back = AES.new(key, mode, **kwargs)
    for size in (16, 4096, 65536, 65536 + 48, 200_000 - 200_000 % 16, 5 * unit):
        size -= size % max(unit, 1) if unit > 1 else 0
        data = os.urandom(size)
        ct = ours.encrypt(data)
        assert ct == ref.encrypt(data), (name, size)
        assert back.decrypt(ct) == data
    buf = bytearray(os.urandom(4096))
    expected = ref.encrypt(bytes(buf))
    ours.encrypt(buf, output=buf)  # in place
    assert buf == expected
    assert cipher_info(ours).interface == "cryptodev" and cipher_info(ours).algorithm == name


@pytest.mark.parametrize("size", [16, 17, 31, 32, 33, 4095, 4096, 4097, 65536, 65536 + 1,
                                  3 * 65536 + 17])
@pytest.mark.parametrize("key_size", [32, 64])
def test_xts_units_with_ciphertext_stealing(size, key_size):
    """The driver takes whole blocks only: a unit of 16 m + r bytes is stolen from
    whole-block requests (cryptodev/requests.py), as IEEE 1619 defines."""
    key = os.urandom(key_size // 2) + os.urandom(key_size // 2)
    tweak, data = os.urandom(16), os.urandom(size)
    ct = AES.new(key, AES.MODE_XTS, tweak=tweak).encrypt(data)
    assert ct == RefAES.new(key, RefAES.MODE_XTS, tweak=tweak).encrypt(data)
    assert AES.new(key, AES.MODE_XTS, tweak=tweak).decrypt(ct) == data
    c = AES.new(key, AES.MODE_XTS, tweak=tweak)
    assert cipher_info(c).interface == "cryptodev"


def test_des3_cbc():
    key = RefDES3.adjust_key_parity(os.urandom(24))
    iv = os.urandom(8)
    data = os.urandom(8 * 1000)
    c = DES3.new(key, DES3.MODE_CBC, iv=iv)
    assert c.encrypt(data) == RefDES3.new(key, RefDES3.MODE_CBC, iv=iv).encrypt(data)
    assert cipher_info(c).interface == "cryptodev" and cipher_info(c).algorithm == "cbc(des3_ede)"


@pytest.mark.parametrize("mode, nonce_size", [(AES.MODE_GCM, 12), (AES.MODE_CCM, 11),
                                              (AES.MODE_CCM, 7), (AES.MODE_CCM, 13)])
@pytest.mark.parametrize("aad_size, size, tag", [(0, 0, 16), (13, 1, 16), (4096, 1000, 12),
                                                 (100, 50_000, 8)])
def test_aead_whole_messages(mode, nonce_size, aad_size, size, tag):
    key, nonce = os.urandom(16), os.urandom(nonce_size)
    aad, data = os.urandom(aad_size), os.urandom(size)
    if mode == AES.MODE_GCM and tag < 12:
        tag = 12
    ours = AES.new(key, mode, nonce=nonce, mac_len=tag)
    ref = RefAES.new(key, mode, nonce=nonce, mac_len=tag)
    ours.update(aad)
    ref.update(aad)
    ct, mac = ours.encrypt_and_digest(data)
    assert (ct, mac) == ref.encrypt_and_digest(data)
    assert cipher_info(ours).interface == "cryptodev", cipher_info(ours)
    opened = AES.new(key, mode, nonce=nonce, mac_len=tag)
    opened.update(aad)
    assert opened.decrypt_and_verify(ct, mac) == data
    bad = AES.new(key, mode, nonce=nonce, mac_len=tag)
    bad.update(aad)
    with pytest.raises(ValueError, match="MAC check failed"):
        bad.decrypt_and_verify(ct, bytes(a ^ 1 for a in mac))


def test_aead_aad_beyond_a_page_is_refused_clearly():
    """The driver takes at most a page of AAD per message; past it only the composed path
    could serve, and /dev/crypto has no ghash: a clear refusal under ``kernel``."""
    key, nonce = os.urandom(16), os.urandom(12)
    c = AES.new(key, AES.MODE_GCM, nonce=nonce)
    c.update(os.urandom(abi.MAX_AUTH_LEN + 1))
    with pytest.raises(KernelUnavailableError) as caught:
        c.encrypt_and_digest(b"data")
    assert caught.value.algorithm == "ghash", caught.value


def test_a_rejected_key_is_a_value_error():
    with pytest.raises(ValueError, match="rejected a 17-byte key for 'cbc\\(aes\\)'"):
        transform.get("skcipher", "cbc(aes)", bytes(17))


def test_backend_info_names_the_driver_of_the_session():
    """CIOCGSESSINFO's driver: a driver /proc/crypto lists for that algorithm."""
    from _kcapi import procfs

    drivers = procfs.read()
    for obj, name in [(kcapi_hashlib.sha256(), "sha256"),
                      (AES.new(bytes(16), AES.MODE_CBC, iv=bytes(16)), "cbc(aes)")]:
        info = kcapi_hashlib.backend_info(obj) if name == "sha256" else cipher_info(obj)
        assert info.interface == "cryptodev" and info.algorithm == name
        listed = [d for d in drivers if d.driver == info.driver]
        assert listed and listed[0].name == name, (info, listed)
        assert info.priority == listed[0].priority


def test_fork_with_streaming_state():
    h = kcapi_hashlib.sha256(os.urandom(50_000))  # state in a session
    before = h.copy()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            h.update(b"child")
            c = AES.new(bytes(16), AES.MODE_CBC, iv=bytes(16)).encrypt(bytes(32))
            ok = (c == RefAES.new(bytes(16), RefAES.MODE_CBC, iv=bytes(16)).encrypt(bytes(32)))
            os.write(write, h.digest() + bytes([ok]))
        finally:
            os._exit(0)
    os.close(write)
    got = os.read(read, 64)
    os.waitpid(pid, 0)
    os.close(read)
    child = before.copy()
    child.update(b"child")
    assert got[:32] == child.digest() and got[32] == 1
    h.update(b"parent")
    before.update(b"parent")
    assert h.digest() == before.digest()


def test_auto_prefers_the_device_and_falls_back_to_af_alg_for_the_rest():
    """Under ``auto`` /dev/crypto serves what it offers; what it lacks is AF_ALG's (or
    software's, where AF_ALG is refused: af_alg_restrict=2 in regime f)."""
    with policy.use_interface("auto"), policy.use_backend("auto"):
        for obj in (kcapi_hashlib.sha256(b"x"), hmac.new(b"k", b"x", "sha256")):
            assert kcapi_hashlib.backend_info(obj).interface == "cryptodev"
        c = AES.new(bytes(16), AES.MODE_CBC, iv=bytes(16))
        assert cipher_info(c).interface == "cryptodev"
        other = kcapi_hashlib.backend_info(kcapi_hashlib.sha3_256(b"x"))
        assert other.interface in ("af_alg", ""), other
        assert (other.backend == "kernel") == (other.interface == "af_alg"), other


STRACED = textwrap.dedent("""\
    import os
    from kcapi_hashlib import sha256, sha512, hmac, set_backend
    from kcapi_cipher import AES
    set_backend("kernel")
    sha256(b"x" * 100).digest()
    h = sha512(b"y" * 40000); h.copy().digest(); h.hexdigest()
    hmac.new(b"k", b"m", "sha1").digest()
    AES.new(bytes(16), AES.MODE_CBC, iv=bytes(16)).encrypt(bytes(64))
    AES.new(bytes(16), AES.MODE_GCM, nonce=bytes(12)).encrypt_and_digest(b"m")
    os.write(2, b"DONE")
    """)


def test_strace_sees_ioctls_on_the_device_and_no_af_alg_socket(tmp_path):
    strace = shutil.which("strace")
    if strace is None:
        pytest.fail("strace is needed (scripts/bootstrap installs it)")
    script = tmp_path / "traced.py"
    script.write_text(STRACED)
    log = tmp_path / "trace.log"
    env = {**os.environ, "KCAPI_INTERFACE": "cryptodev"}
    done = subprocess.run([strace, "-f", "-qq", "-o", str(log), sys.executable, str(script)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "DONE" in done.stderr, done.stderr[-2000:]
    trace = log.read_text()
    assert "AF_ALG" not in trace
    opens = [line for line in trace.splitlines() if device.path() in line and "open" in line]
    assert len(opens) == 1, opens  # one descriptor for the whole process
    assert trace.count("ioctl(") >= 8


def test_threads_share_the_cipher_session_and_the_hash_pool():
    """A cipher transform's one session serves every thread's requests (each carries its
    IV); hash sessions go from pool to object and back, never to two at once."""
    from ..support import run_threads

    key, iv = os.urandom(16), os.urandom(16)
    inputs = [os.urandom(4096 + 16 * n) for n in range(8)]

    def work(n: int) -> None:
        data = inputs[n]
        for turn in range(25):
            c = AES.new(key, AES.MODE_CBC, iv=iv)
            assert c.encrypt(data) == RefAES.new(key, RefAES.MODE_CBC, iv=iv).encrypt(data)
            h = kcapi_hashlib.sha256(data * 5)  # past the held limit: a session of its own
            copy = h.copy()
            h.update(bytes([turn]))
            assert h.digest() == hashlib.sha256(data * 5 + bytes([turn])).digest()
            assert copy.digest() == hashlib.sha256(data * 5).digest()
            g = AES.new(key, AES.MODE_GCM, nonce=iv[:12])
            r = RefAES.new(key, RefAES.MODE_GCM, nonce=iv[:12])
            assert g.encrypt_and_digest(data) == r.encrypt_and_digest(data)

    run_threads(8, work)
