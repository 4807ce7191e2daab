"""skcipher behaviour only a kernel with AF_ALG shows: served-by, bounded requests,
syscalls per call, descriptors, injected faults, fork, threads, XTS.

Marked ``kernel``: they skip on a host without AF_ALG and must pass (never
skip, except for templates the running kernel lacks) in the kernel run.
"""

import errno
import gc
import os
import threading

import pytest
from Crypto.Cipher import AES as RefAES
from hypothesis import given, settings
from hypothesis import strategies as st
from Crypto.Cipher import ChaCha20 as RefChaCha20
from Crypto.Cipher import DES3 as RefDES3
from Crypto.Util import Counter

import kcapi_cipher
from _kcapi import _syscalls, transform
from _kcapi.pool import POOL_SIZE
from _kcapi.skcipher import MAX_REQUEST, request_limit
from kcapi_cipher import AES, DES3, ChaCha20

from ..cipher_support import check_served, kernel_name, need, reference_xts
from ..support import REQUIRE_KERNEL, fds_in_use, optional_kernel_alg, require_kernel_alg
from ..fakes import CountingKernel, InterruptedReceives

pytestmark = pytest.mark.kernel

KEY = bytes(range(16))
IV = bytes(range(16, 32))


@pytest.fixture(autouse=True)
def kernel_only():
    require_kernel_alg("skcipher", "cbc(aes)")
    kcapi_cipher.set_backend("kernel")


@pytest.fixture
def counting(monkeypatch):
    def install(**kwargs) -> CountingKernel:
        fake = CountingKernel(**kwargs)
        monkeypatch.setattr(_syscalls, "kernel", fake)
        return fake
    return install


# -- who serves ------------------------------------------------------------------


@pytest.mark.parametrize("mode", [1, 2, 3, 5, 6])
@pytest.mark.parametrize("key_size", [16, 24, 32])
def test_aes_modes_are_served_by_the_kernel(mode, key_size):
    name = kernel_name("aes", mode)
    optional_kernel_alg("skcipher", name)  # cfb and ofb were removed in Linux 6.8
    kwargs = {"segment_size": 128} if mode == 3 else {}
    cipher = AES.new(os.urandom(key_size), mode, **kwargs)
    info = kcapi_cipher.backend_info(cipher)
    assert info.backend == "kernel" and info.algorithm == name, info
    assert info.driver not in ("", "unknown") and info.priority > 0, info
    assert info.implementation in ("generic", "arch", "offload")
    assert info.driver in repr(cipher) or name in repr(cipher)
    assert type(cipher).__name__ == type(RefAES.new(KEY, mode, **kwargs)).__name__


@pytest.mark.parametrize("mode", [1, 2, 3, 5, 6])
@pytest.mark.parametrize("key_size", [16, 24])
def test_des3_modes_are_served_by_the_kernel(mode, key_size):
    name = kernel_name("des3", mode)
    optional_kernel_alg("skcipher", name)
    key = RefDES3.adjust_key_parity(os.urandom(key_size))
    kwargs = {3: {"segment_size": 64}, 6: {"nonce": b"1234"}}.get(mode, {})
    cipher = DES3.new(key, mode, **kwargs)
    assert kcapi_cipher.backend_info(cipher).algorithm == name
    data = os.urandom(24)
    assert cipher.encrypt(data) == RefDES3.new(key, mode, *(() if mode in (1, 6) else (
        cipher.iv,)), **kwargs).encrypt(data)


@pytest.mark.parametrize("nonce_size,name", [(8, "chacha20"), (12, "chacha20"), (24, "xchacha20")])
def test_chacha20_is_served_by_the_kernel(nonce_size, name):
    require_kernel_alg("skcipher", name)
    cipher = ChaCha20.new(key=os.urandom(32), nonce=os.urandom(nonce_size))
    assert kcapi_cipher.backend_info(cipher).algorithm == name
    assert cipher.block_size == 1 and len(cipher.nonce) == nonce_size


@pytest.mark.parametrize("layout,name,size", [
    ({"nonce": b"12345678"}, "ctr(aes)", 100_003),
    ({"counter": Counter.new(128)}, "ctr(aes)", 100_003),
    ({"counter": Counter.new(8, prefix=b"p" * 15, little_endian=True)}, "ctr(aes)", 4096),
    ({"counter": Counter.new(32, prefix=b"p" * 12, little_endian=True)}, "ecb(aes)", 100_003),
    ({"counter": Counter.new(32, prefix=b"p" * 4, suffix=b"s" * 8)}, "ecb(aes)", 100_003),
])
def test_ctr_layouts_the_kernel_ctr_cannot_count_run_on_ecb(layout, name, size):
    cipher = AES.new(KEY, AES.MODE_CTR, **layout)
    assert kcapi_cipher.backend_info(cipher).algorithm == name
    data = os.urandom(size)
    assert cipher.encrypt(data) == RefAES.new(KEY, AES.MODE_CTR, **layout).encrypt(data)


# -- large inputs: bounded requests, one call --------------------------------------


@pytest.mark.parametrize("mode,extra", [(AES.MODE_CTR, 5), (AES.MODE_CBC, 0)])
def test_64_mib_in_one_call(mode, extra):
    data = os.urandom(64 * 1024 * 1024 + extra)
    kwargs = {"nonce": IV[:8]} if mode == AES.MODE_CTR else {"iv": IV}
    cipher = AES.new(KEY, mode, **kwargs)
    check_served(cipher, kernel_name("aes", mode))
    assert cipher.encrypt(data) == RefAES.new(KEY, mode, **kwargs).encrypt(data)


@pytest.mark.usefixtures("af_alg_only")  # AF_ALG's own mechanism
def test_requests_are_bounded_and_read_before_the_next(counting):
    cipher = AES.new(KEY, AES.MODE_CTR, nonce=IV[:8])
    cipher.encrypt(b"warm")  # an op socket in the pool
    fake = counting()
    data = os.urandom(1024 * 1024 + 7)
    assert cipher.encrypt(data) == RefAES.new(KEY, AES.MODE_CTR, nonce=IV[:8]).encrypt(
        b"warm" + data)[4:]
    limit = request_limit(transform.get("skcipher", "ctr(aes)"))
    assert limit <= MAX_REQUEST
    sends = [size for name, size in fake.calls if name == "sendmsg"]
    assert max(sends) <= limit and len(sends) >= len(data) // limit
    names = fake.names()
    assert names == ["sendmsg", "recv"] * len(sends)  # strictly alternating: never blocks


@pytest.mark.parametrize("name,make", [
    ("cbc(aes)", lambda: AES.new(KEY, AES.MODE_CBC, IV)),
    ("ctr(aes)", lambda: AES.new(KEY, AES.MODE_CTR, nonce=IV[:8])),
    ("ecb(aes)", lambda: AES.new(KEY, AES.MODE_ECB)),
    ("chacha20", lambda: ChaCha20.new(key=KEY * 2, nonce=IV[:12])),
], ids=["cbc", "ctr", "ecb", "chacha20"])
@pytest.mark.usefixtures("af_alg_only")  # AF_ALG's own mechanism
def test_two_syscalls_per_call(counting, name, make):
    require_kernel_alg("skcipher", name)
    cipher = make()
    cipher.encrypt(b"x" * 64)  # warm: a pooled op socket, a probed transform
    fake = counting()
    for _ in range(10):
        cipher.encrypt(b"y" * 64)
    assert fake.names() == ["sendmsg", "recv"] * 10
    fake.calls.clear()
    make()  # a new object on a cached transform: no syscall until it works
    assert fake.calls == []


@pytest.mark.usefixtures("af_alg_only")  # AF_ALG's own mechanism
def test_a_partial_block_is_padded_into_the_same_request(counting):
    cipher = AES.new(KEY, AES.MODE_CTR, nonce=IV[:8])
    ref = RefAES.new(KEY, AES.MODE_CTR, nonce=IV[:8])
    cipher.encrypt(b"warm")
    ref.encrypt(b"warm")
    fake = counting()
    data = os.urandom(100)
    assert cipher.encrypt(data) == ref.encrypt(data)  # 12 kept + 80 + 8 padded to 16
    assert fake.calls == [("sendmsg", 96), ("recv", 96)]
    fake.calls.clear()
    assert cipher.encrypt(data[:8]) == ref.encrypt(data[:8])  # served by the kept keystream
    assert fake.calls == []


def test_in_place_over_many_requests():
    data = os.urandom(300_000 - 300_000 % 16)
    ct = RefAES.new(KEY, AES.MODE_CBC, IV).encrypt(data)
    buf = bytearray(ct)
    AES.new(KEY, AES.MODE_CBC, IV).decrypt(buf, output=buf)
    assert buf == data
    stream = bytearray(data[:299_999])
    AES.new(KEY, AES.MODE_CTR, nonce=IV[:8]).encrypt(stream, output=stream)
    assert stream == RefAES.new(KEY, AES.MODE_CTR, nonce=IV[:8]).encrypt(data[:299_999])


def test_des3_over_many_requests():
    key = RefDES3.adjust_key_parity(os.urandom(16))
    data = os.urandom(200_000)
    cipher = DES3.new(key, DES3.MODE_CBC, IV[:8])
    assert kcapi_cipher.backend_info(cipher).algorithm == "cbc(des3_ede)"
    assert cipher.encrypt(data) == RefDES3.new(key, DES3.MODE_CBC, IV[:8]).encrypt(data)


# -- counters the kernel does not count like PyCryptodome --------------------------


def test_ctr_counter_field_wraps_without_carrying_into_the_nonce():
    nonce = b"\xff" * 14
    cipher = AES.new(KEY, AES.MODE_CTR, nonce=nonce, initial_value=65_530)
    assert kcapi_cipher.backend_info(cipher).algorithm == "ctr(aes)"
    data = os.urandom(16 * 20 + 3)
    assert cipher.encrypt(data) == RefAES.new(KEY, AES.MODE_CTR, nonce=nonce,
                                              initial_value=65_530).encrypt(data)


def test_chacha20_64_bit_counter_crosses_the_32_bit_word(counting):
    require_kernel_alg("skcipher", "chacha20")
    key, nonce = os.urandom(32), os.urandom(8)
    cipher, ref = ChaCha20.new(key=key, nonce=nonce), RefChaCha20.new(key=key, nonce=nonce)
    start = (1 << 32) * 64 - 150
    cipher.seek(start)
    ref.seek(start)
    fake = counting()
    data = os.urandom(1000)
    assert cipher.encrypt(data) == ref.encrypt(data)
    # the block seek() landed in, the blocks up to 2**32, then a new IV from 2**32
    assert [n for n in fake.names() if n != "accept"] == ["sendmsg", "recv"] * 3


def test_chacha20_restarts_each_request_at_its_own_iv():
    """The kernel does not carry ChaCha20's counter: every request carries it."""
    require_kernel_alg("skcipher", "chacha20")
    key, nonce = os.urandom(32), os.urandom(12)
    data = os.urandom(3 * MAX_REQUEST + 100)
    assert ChaCha20.new(key=key, nonce=nonce).encrypt(data) == \
        RefChaCha20.new(key=key, nonce=nonce).encrypt(data)


# -- descriptors and pools ---------------------------------------------------------------


def test_objects_hold_no_descriptor_and_leave_none_behind():
    AES.new(KEY, AES.MODE_CBC, IV).encrypt(b"w" * 16)
    AES.new(KEY, AES.MODE_CTR, nonce=IV[:8]).encrypt(b"w")
    gc.collect()  # earlier tests' garbage must not close descriptors mid-measurement
    before = fds_in_use()
    kept = [AES.new(KEY, AES.MODE_CBC, IV) for _ in range(2000)]
    for cipher in kept[:50]:
        cipher.encrypt(b"z" * 16)
    assert fds_in_use() == before  # between calls an object holds no op socket
    for i in range(3000):
        AES.new(KEY, AES.MODE_CTR, nonce=IV[:8]).encrypt(b"%d" % i)
        AES.new(os.urandom(16), AES.MODE_ECB).encrypt(b"k" * 16)  # new keys: new transforms
    del kept
    gc.collect()
    # Only the bounded cache of keyed transforms (one bound socket each) remains.
    assert fds_in_use() <= before + transform.KEYED_CACHE_SIZE


@pytest.mark.usefixtures("af_alg_only")  # AF_ALG's own mechanism
def test_the_pool_is_reused():
    tfm = transform.get("skcipher", "cbc(aes)", KEY)
    AES.new(KEY, AES.MODE_CBC, IV).encrypt(b"x" * 16)
    idle = tfm.idle_count()
    assert 1 <= idle <= POOL_SIZE
    for _ in range(50):
        AES.new(KEY, AES.MODE_CBC, IV).encrypt(b"y" * 32)
    assert tfm.idle_count() == idle


# -- injected faults ---------------------------------------------------------------------


@pytest.mark.usefixtures("af_alg_only")  # AF_ALG's own mechanism
@pytest.mark.parametrize("where", [{"recv": 3}, {"sendmsg": 2}, {"recv": 1}])
@pytest.mark.parametrize("err", [errno.ENOMEM, errno.EINVAL, errno.EIO])
def test_a_kernel_failure_mid_stream(counting, where, err):
    cipher = AES.new(KEY, AES.MODE_CBC, IV)
    cipher.encrypt(b"w" * 16)
    tfm = transform.get("skcipher", "cbc(aes)", KEY)
    before, idle = fds_in_use(), tfm.idle_count()
    counting(fail_at=where, err=err)
    with pytest.raises(OSError) as caught:
        cipher.encrypt(os.urandom(5 * MAX_REQUEST))
    assert caught.value.errno == err
    assert tfm.idle_count() == idle - 1  # the op socket was closed, not pooled
    assert fds_in_use() == before
    for call in (lambda: cipher.encrypt(b"x" * 16), lambda: cipher.encrypt(b"")):
        with pytest.raises(OSError, match="lost its kernel state") as lost:
            call()
        assert lost.value.errno == errno.EIO
    # other objects on the same transform are unaffected
    fresh = AES.new(KEY, AES.MODE_CBC, IV)
    assert fresh.encrypt(b"q" * 48) == RefAES.new(KEY, AES.MODE_CBC, IV).encrypt(b"q" * 48)


def _seeked(module, key, nonce):
    cipher = module.new(key=key, nonce=nonce)
    cipher.seek(1000)
    return cipher


@pytest.mark.parametrize("name,make", [
    ("ctr(aes)", lambda lib: lib.new(KEY, 6, nonce=IV[:8])),
    ("cfb(aes)", lambda lib: lib.new(KEY, 3, iv=IV, segment_size=128)),
    ("ofb(aes)", lambda lib: lib.new(KEY, 5, iv=IV)),
    ("cbc(aes)", lambda lib: lib.new(KEY, 2, iv=IV)),
    ("chacha20", lambda lib: _seeked(lib, KEY * 2, IV[:12])),
])
@pytest.mark.usefixtures("af_alg_only")  # AF_ALG's own mechanism
def test_a_failure_before_any_data_leaves_the_object_usable(counting, monkeypatch, name, make):
    """No descriptor for an op socket (EMFILE): the call changed nothing, the object works on."""
    need(name)
    is_chacha = name == "chacha20"
    cipher = make(ChaCha20 if is_chacha else AES)
    ref = make(RefChaCha20 if is_chacha else RefAES)
    first = b"first..." * 2 + (b"" if name == "cbc(aes)" else b"odd")  # a partial block kept
    assert cipher.encrypt(first) == ref.encrypt(first)
    cipher._engine.tfm.drop_idle()  # the next call must accept() a new op socket
    # (the accept retried after the caches gave their descriptors back fails too)
    counting(fail_at={"accept": range(1, 3)}, err=errno.EMFILE)
    second = b"second.." * 10
    with pytest.raises(OSError) as caught:
        cipher.encrypt(second)
    assert caught.value.errno == errno.EMFILE
    monkeypatch.undo()
    assert cipher.encrypt(second) == ref.encrypt(second)


def test_eintr_is_retried(monkeypatch):
    monkeypatch.setattr(_syscalls, "kernel", InterruptedReceives(left=2))
    data = os.urandom(64)
    assert AES.new(KEY, AES.MODE_CBC, IV).encrypt(data) == \
        RefAES.new(KEY, AES.MODE_CBC, IV).encrypt(data)


# -- fork and threads -----------------------------------------------------------------------


def test_fork_parent_and_child_continue_the_same_stream():
    cipher = AES.new(KEY, AES.MODE_CTR, nonce=IV[:8])
    ref_data = os.urandom(70_000)
    cipher.encrypt(ref_data[:1001])  # a partial block: keystream kept in user space
    expected = RefAES.new(KEY, AES.MODE_CTR, nonce=IV[:8]).encrypt(ref_data)
    pid = os.fork()
    if pid == 0:
        ok = False
        try:
            ok = cipher.encrypt(ref_data[1001:]) == expected[1001:]
        finally:
            os._exit(0 if ok else 1)
    assert cipher.encrypt(ref_data[1001:]) == expected[1001:]
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_threads_with_their_own_objects_on_one_transform():
    data = os.urandom(200_000)
    expected = RefAES.new(KEY, AES.MODE_CBC, IV).encrypt(data)
    errors = []

    def work():
        try:
            for _ in range(5):
                if AES.new(KEY, AES.MODE_CBC, IV).encrypt(data) != expected:
                    errors.append("mismatch")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_one_object_shared_by_threads_stays_a_single_stream():
    cipher = AES.new(KEY, AES.MODE_CTR, nonce=IV[:8])
    pieces: list[bytes] = []
    lock = threading.Lock()

    def work():
        for _ in range(50):
            with lock:  # order the pieces; the object's own lock keeps each call whole
                pieces.append(cipher.encrypt(b"\x00" * 37))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert b"".join(pieces) == RefAES.new(KEY, AES.MODE_CTR, nonce=IV[:8]).encrypt(
        b"\x00" * 37 * 200)


# -- XTS: one data unit per object, in pieces, on the kernel's xts(aes) ---------------------


@pytest.fixture
def xts():
    require_kernel_alg("skcipher", "xts(aes)")


@pytest.mark.parametrize("key_size", [32, 64])
@pytest.mark.parametrize("size", [16, 17, 31, 32, 100, 512, 4096, 4096 + 15, 65536, 3 * 65536 + 17])
def test_xts_matches_the_standard(xts, key_size, size):
    """A unit in one call (several kernel requests past the request limit) equals the
    standard's definition and PyCryptodome's."""
    key, tweak = os.urandom(key_size), os.urandom(16)
    data = os.urandom(size)
    cipher = AES.new(key, AES.MODE_XTS, tweak=tweak)
    check_served(cipher, "xts(aes)")
    ct = cipher.encrypt(data)
    assert ct == reference_xts(key, tweak, data) == \
        RefAES.new(key, RefAES.MODE_XTS, tweak=tweak).encrypt(data)
    assert AES.new(key, AES.MODE_XTS, tweak=tweak).decrypt(ct) == data
    assert cipher.tweak == tweak and not hasattr(cipher, "iv")


@given(key_size=st.sampled_from([32, 64]), blocks=st.lists(st.integers(1, 300), max_size=6),
       tail=st.integers(16, 47), encrypt=st.booleans(), seed=st.binary(min_size=16, max_size=16))
@settings(max_examples=60, deadline=None)
def test_xts_unit_in_pieces(key_size, blocks, tail, encrypt, seed):
    """Pieces of whole blocks then a last one of any length: each piece's output is
    PyCryptodome's, whatever block of the unit it starts at."""
    require_kernel_alg("skcipher", "xts(aes)")
    half = (seed * 2)[:key_size // 2]
    key = half + bytes(b ^ 0xA5 for b in half)  # two different AES keys
    pieces = [bytes([n % 251]) * (16 * n) for n in blocks] + [bytes(range(tail))]
    ours = AES.new(key, AES.MODE_XTS, tweak=seed)
    ref = RefAES.new(key, RefAES.MODE_XTS, tweak=seed)
    method = "encrypt" if encrypt else "decrypt"
    assert [getattr(ours, method)(p) for p in pieces] == [getattr(ref, method)(p) for p in pieces]


def test_xts_one_piece_needs_no_tweak_position(xts):
    """A unit in one call of at most one request is one xts(aes) request: no ecb(aes) is
    keyed with Key2 until a piece starts inside the unit."""
    key = os.urandom(32)
    transform.clear()
    cipher = AES.new(key, AES.MODE_XTS, tweak=bytes(16))
    cipher.encrypt(bytes(4096))
    assert [t.name for t in transform.keyed()] == ["xts(aes)"]
    cipher.encrypt(bytes(16))  # a later piece starts at block 256
    names = [t.name for t in transform.keyed()]
    assert "xts(aes)" in names and (not REQUIRE_KERNEL or "ecb(aes)" in names), names
    transform.clear()
