"""Cipher objects under threads, fork, injected kernel faults and a low descriptor limit.

Every result is checked against PyCryptodome.  Marked ``kernel``: they skip on a
host without AF_ALG and must pass in the kernel run.  Faults are injected with
a subclass of the core's syscall layer that wraps the socket, so the real
system calls and the layer's own EINTR retry both run.
"""

from __future__ import annotations

import collections
import errno
import gc
import os
import random
import resource
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from Crypto.Cipher import AES as RefAES
from Crypto.Cipher import DES3 as RefDES3
from Crypto.Cipher import ChaCha20 as RefChaCha20
from Crypto.Cipher import ChaCha20_Poly1305 as RefChaChaPoly
from Crypto.Hash import CMAC as RefCMAC

import kcapi_cipher
from _kcapi import _syscalls, transform
from _kcapi.hash import HOLD_LIMIT
from _kcapi.skcipher import MAX_REQUEST
from kcapi_cipher import AES, CMAC, DES3, ChaCha20, ChaCha20_Poly1305, KeyringKey, Random
from kcapi_cipher._mode_cbc import CbcMode

from ..cipher_support import keyring_ciphers
from ..support import composed_part_missing, fds_in_use, needs_composed_part, require_kernel_alg
from ..fakes import FaultyKernel, PausingAfterSend, SlowReceive

pytestmark = pytest.mark.kernel

OURS = SimpleNamespace(AES=AES, ChaCha20_Poly1305=ChaCha20_Poly1305)
REFERENCE = SimpleNamespace(AES=RefAES, ChaCha20_Poly1305=RefChaChaPoly)

KEY = bytes(range(16))
KEY32 = bytes(range(32))
IV = bytes(range(16, 32))
N12 = bytes(range(12))


@pytest.fixture(autouse=True)
def kernel_only():
    require_kernel_alg("skcipher", "cbc(aes)")
    require_kernel_alg("aead", "gcm(aes)")
    kcapi_cipher.set_backend("kernel")


def run_threads(count: int, work: Callable[[int], None]) -> None:
    """Run ``work(n)`` in ``count`` threads started together; re-raise the first error."""
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def run(n: int) -> None:
        try:
            start.wait()
            work(n)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def tiles(pieces: list[bytes], stream: bytes, probe: int = 8) -> bool:
    """Whether ``pieces`` (in unknown order) cut ``stream`` into consecutive pieces, each used once.

    Each piece is found by its first ``probe`` bytes (keystream: unique with
    overwhelming probability), so the order need not be known.
    """
    by_start: dict[bytes, list[bytes]] = collections.defaultdict(list)
    for piece in pieces:
        by_start[piece[:probe]].append(piece)
    pos = 0
    while pos < len(stream):
        found = by_start.get(stream[pos:pos + probe])
        if not found:
            return False
        piece = found.pop()
        if stream[pos:pos + len(piece)] != piece:
            return False
        pos += len(piece)
    return not any(by_start.values())


# -- threads: one object shared, no caller-side lock -----------------------------------------


@pytest.mark.parametrize("make,ref,unit", [
    (lambda: AES.new(KEY, AES.MODE_CTR, nonce=IV[:8]),
     lambda: RefAES.new(KEY, AES.MODE_CTR, nonce=IV[:8]), 16),
    (lambda: ChaCha20.new(key=KEY32, nonce=N12), lambda: RefChaCha20.new(key=KEY32, nonce=N12), 1),
    (lambda: ChaCha20.new(key=KEY32, nonce=N12[:8]),
     lambda: RefChaCha20.new(key=KEY32, nonce=N12[:8]), 1),
], ids=["aes-ctr", "chacha20", "chacha20-8-byte-nonce"])
def test_a_shared_keystream_object_hands_each_call_a_whole_slice(make, ref, unit):
    """Concurrent encrypt() calls of zeros return keystream slices that tile the keystream.

    Whatever order the object's lock grants them, the outputs must be the
    single-threaded keystream cut at the calls' boundaries: no overlap, no gap,
    no piece of one call inside another (ChaCha20 with partial blocks too).
    """
    shared = make()
    outputs: list[bytes] = []  # list.append is atomic

    def work(n: int) -> None:
        rng = random.Random(n)
        for _ in range(60):
            if unit > 1:
                size = unit * rng.choice((1, 3, 16, 64, 257))
            else:
                size = rng.choice((8, 63, 64, 65, 1000, 4099))
            outputs.append(shared.encrypt(bytes(size)))

    run_threads(8, work)
    total = sum(len(o) for o in outputs)
    assert tiles(outputs, ref().encrypt(bytes(total)))


def test_a_shared_cbc_object_chains_in_the_order_its_lock_grants(monkeypatch):
    """Recorded inside the lock: the ciphertexts, in that order, are one CBC stream."""
    order: list[tuple[bytes, bytes]] = []
    real = CbcMode._process

    def recording(self, src, dst, encrypt):
        real(self, src, dst, encrypt)
        order.append((bytes(src), bytes(dst)))  # still under the object's lock

    monkeypatch.setattr(CbcMode, "_process", recording)
    shared = AES.new(KEY, AES.MODE_CBC, IV)
    returned: list[bytes] = []

    def work(n: int) -> None:
        rng = random.Random(n)
        for _ in range(40):
            data = rng.randbytes(16 * rng.choice((1, 2, 7, 100)))
            returned.append(shared.encrypt(data))

    run_threads(8, work)
    assert sorted(returned) == sorted(out for _, out in order)
    plain = b"".join(src for src, _ in order)
    assert b"".join(out for _, out in order) == RefAES.new(KEY, AES.MODE_CBC, IV).encrypt(plain)


@pytest.mark.parametrize("construction", ["gcm", "ccm", "chacha20-poly1305", "xchacha20-poly1305"])
def test_a_shared_aead_object_keeps_keystream_and_tag_in_step(construction):
    """Concurrent piecewise encrypt() calls of zeros: the pieces tile the reference
    ciphertext and the tag is the reference tag, so each piece was encrypted and
    authenticated whole, in one order."""
    if construction != "ccm":
        needs_composed_part("ghash" if construction == "gcm" else "poly1305")
    rngs = [random.Random(n) for n in range(8)]
    sizes = {n: [rngs[n].choice((8, 16, 100, 5000)) for _ in range(30)] for n in range(8)}
    total = sum(sum(s) for s in sizes.values())
    nonce = {"gcm": N12, "ccm": N12[:11], "chacha20-poly1305": N12,
             "xchacha20-poly1305": bytes(24)}[construction]

    def new(lib: Any) -> Any:
        if construction == "gcm":
            return lib.AES.new(KEY, AES.MODE_GCM, nonce=nonce)
        if construction == "ccm":
            return lib.AES.new(KEY, AES.MODE_CCM, nonce=nonce, msg_len=total, assoc_len=0)
        return lib.ChaCha20_Poly1305.new(key=KEY32, nonce=nonce)

    ours = new(OURS)
    pieces: list[bytes] = []
    run_threads(8, lambda n: [pieces.append(ours.encrypt(bytes(s))) for s in sizes[n]])
    ct, tag = new(REFERENCE).encrypt_and_digest(bytes(total))
    assert tiles(pieces, ct)
    assert ours.digest() == tag


# -- threads: private objects, mixed work -------------------------------------------------

#: Operations per thread (8 threads): each is one or two encrypt/decrypt/digest calls.
MIXED_OPERATIONS = int(os.environ.get("KCAPI_HARDENING_OPS", "2500"))


class _Kept:
    """A thread's long-lived objects, each beside its PyCryptodome twin."""

    def __init__(self, key16: bytes, key32: bytes):
        self.ctr = AES.new(key16, AES.MODE_CTR, nonce=IV[:8])
        self.ref_ctr = RefAES.new(key16, AES.MODE_CTR, nonce=IV[:8])
        self.chacha = ChaCha20.new(key=key32, nonce=N12[:8])
        self.ref_chacha = RefChaCha20.new(key=key32, nonce=N12[:8])
        self.mac = CMAC.new(key16, ciphermod=AES, update_after_digest=True)
        self.ref_mac = RefCMAC.new(key16, ciphermod=RefAES, update_after_digest=True)


def _mixed_round(rng: random.Random, key16: bytes, key32: bytes, kept: _Kept) -> int:
    """One random operation on a fresh or kept private object, checked; returns calls made."""
    data = rng.randbytes(rng.choice((0, 1, 16, 100, 1024, 20_000)))
    pick = rng.randrange(13)
    if pick == 10:  # the kept streams move on by a random amount (partial blocks kept)
        assert kept.ctr.encrypt(data) == kept.ref_ctr.encrypt(data)
        assert kept.chacha.decrypt(data) == kept.ref_chacha.decrypt(data)
    elif pick == 11:  # the kept CMAC: updates, and now and then a digest and a copy
        kept.mac.update(data)
        kept.ref_mac.update(data)
        if rng.random() < 0.2:
            assert kept.mac.copy().digest() == kept.ref_mac.copy().digest()
    elif pick == 12:
        assert kept.mac.digest() == kept.ref_mac.digest()
    elif pick == 0:
        padded = data[:len(data) // 16 * 16]
        assert AES.new(key16, AES.MODE_CBC, IV).encrypt(padded) == \
            RefAES.new(key16, AES.MODE_CBC, IV).encrypt(padded)
    elif pick == 1:
        padded = data[:len(data) // 16 * 16]
        ct = RefAES.new(key32, AES.MODE_ECB).encrypt(padded)
        assert AES.new(key32, AES.MODE_ECB).decrypt(ct) == padded
    elif pick == 2:
        assert AES.new(key16, AES.MODE_CTR, nonce=IV[:8]).encrypt(data) == \
            RefAES.new(key16, AES.MODE_CTR, nonce=IV[:8]).encrypt(data)
    elif pick == 3:
        assert ChaCha20.new(key=key32, nonce=N12).encrypt(data) == \
            RefChaCha20.new(key=key32, nonce=N12).encrypt(data)
    elif pick == 4:
        key24 = DES3.adjust_key_parity(key32[:24])
        padded = data[:len(data) // 8 * 8]
        assert DES3.new(key24, DES3.MODE_CBC, IV[:8]).encrypt(padded) == \
            RefDES3.new(key24, DES3.MODE_CBC, IV[:8]).encrypt(padded)
    elif pick == 5:
        assert AES.new(key16, AES.MODE_GCM, nonce=N12).update(b"a").encrypt_and_digest(data) == \
            RefAES.new(key16, AES.MODE_GCM, nonce=N12).update(b"a").encrypt_and_digest(data)
    elif pick == 6:
        ct, tag = RefAES.new(key16, AES.MODE_CCM, nonce=N12[:11]).encrypt_and_digest(data)
        assert AES.new(key16, AES.MODE_CCM, nonce=N12[:11]).decrypt_and_verify(ct, tag) == data
    elif pick == 7:
        ours = ChaCha20_Poly1305.new(key=key32, nonce=N12)
        ref = RefChaChaPoly.new(key=key32, nonce=N12)
        if composed_part_missing("poly1305"):  # Linux 7.2+: whole messages only
            assert ours.encrypt_and_digest(data) == ref.encrypt_and_digest(data)
        else:
            half = len(data) // 2  # piecewise: the composed path
            assert ours.encrypt(data[:half]) + ours.encrypt(data[half:]) == ref.encrypt(data)
            assert ours.digest() == ref.digest()
    elif pick == 8:
        assert CMAC.new(key16, data, AES).digest() == \
            RefCMAC.new(key16, data, ciphermod=RefAES).digest()
    else:
        got = Random.get_random_bytes(len(data) % 300)
        assert len(got) == len(data) % 300
    return 1


def test_eight_threads_of_mixed_work_on_private_objects():
    keys = [(os.urandom(16), os.urandom(32)) for _ in range(3)]  # shared transforms, cached

    def work(n: int) -> None:
        rng = random.Random(1000 + n)
        kept = _Kept(*keys[n % len(keys)])
        done = 0
        while done < MIXED_OPERATIONS:
            key16, key32 = keys[rng.randrange(len(keys))]
            done += _mixed_round(rng, key16, key32, kept)
        assert kept.mac.digest() == kept.ref_mac.digest()

    run_threads(8, work)


# -- fork -----------------------------------------------------------------------------------


def _fork_and_check(continue_in: Callable[[str], bool]) -> None:
    """Fork; the parent runs ``continue_in('parent')`` first, then the child its own; both pass."""
    to_child = os.pipe()
    pid = os.fork()
    if pid == 0:
        ok = False
        try:
            os.close(to_child[1])
            os.read(to_child[0], 1)  # the parent has moved its state on by now
            ok = continue_in("child")
        finally:
            os._exit(0 if ok else 1)
    os.close(to_child[0])
    try:
        assert continue_in("parent")
    finally:
        os.write(to_child[1], b"go")
        os.close(to_child[1])
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child saw a wrong result"


def test_objects_made_before_fork_work_in_parent_and_child():
    head = os.urandom(HOLD_LIMIT + 5000)  # past the hold limit: the MACs hold kernel state
    tails = {"parent": os.urandom(70_001), "child": os.urandom(70_001)}
    cbc = AES.new(KEY, AES.MODE_CBC, IV)
    ctr = AES.new(KEY, AES.MODE_CTR, nonce=IV[:8])
    chacha = ChaCha20.new(key=KEY32, nonce=N12)
    gcm = AES.new(KEY, AES.MODE_GCM, nonce=N12).update(b"aad")
    ccm = AES.new(KEY, AES.MODE_CCM, nonce=N12[:11], msg_len=len(head) + 70_001, assoc_len=0)
    poly = ChaCha20_Poly1305.new(key=KEY32, nonce=N12)
    cmac = CMAC.new(KEY, head, AES)
    for obj in (cbc, ctr, chacha, gcm, ccm, poly):  # mid-stream: chained IV, kept keystream
        obj.encrypt(head[:len(head) // 16 * 16] if obj is cbc else head)

    def continue_in(who: str) -> bool:
        tail = tails[who]
        whole = head + tail
        aligned = head[:len(head) // 16 * 16]
        cbc_tail = tail[:len(tail) // 16 * 16]
        checks = [
            cbc.encrypt(cbc_tail) ==
            RefAES.new(KEY, AES.MODE_CBC, IV).encrypt(aligned + cbc_tail)[len(aligned):],
            ctr.encrypt(tail) ==
            RefAES.new(KEY, AES.MODE_CTR, nonce=IV[:8]).encrypt(whole)[len(head):],
            chacha.encrypt(tail) ==
            RefChaCha20.new(key=KEY32, nonce=N12).encrypt(whole)[len(head):],
        ]
        ref = RefAES.new(KEY, AES.MODE_GCM, nonce=N12).update(b"aad").encrypt_and_digest(whole)
        checks.append((gcm.encrypt(tail), gcm.digest()) == (ref[0][len(head):], ref[1]))
        ref = RefAES.new(KEY, AES.MODE_CCM, nonce=N12[:11]).encrypt_and_digest(whole)
        checks.append((ccm.encrypt(tail), ccm.digest()) == (ref[0][len(head):], ref[1]))
        ref = RefChaChaPoly.new(key=KEY32, nonce=N12).encrypt_and_digest(whole)
        checks.append((poly.encrypt(tail), poly.digest()) == (ref[0][len(head):], ref[1]))
        checks.append(cmac.update(tail).digest() ==
                      RefCMAC.new(KEY, whole, ciphermod=RefAES).digest())
        # and new objects, on the transforms and pools inherited
        checks.append(AES.new(KEY, AES.MODE_CBC, IV).encrypt(cbc_tail) ==
                      RefAES.new(KEY, AES.MODE_CBC, IV).encrypt(cbc_tail))
        checks.append(len(Random.get_random_bytes(32)) == 32)
        return all(checks)

    _fork_and_check(continue_in)


def _child_mid_request(cipher: Any, reference: Callable[[], Any]) -> None:
    """The child stops between its request's send and recv while the parent uses ``cipher``.

    Had the child kept the parent's pooled op socket, the parent's request would
    queue behind the child's (EINVAL, or the child's output read as its own).
    """
    sent, resume = os.pipe(), os.pipe()
    pid = os.fork()
    if pid == 0:
        ok = False
        try:
            _syscalls.kernel = PausingAfterSend(sent[1], resume[0])
            data = b"child..." * 8
            ok = cipher.encrypt(data) == reference().encrypt(data)
        finally:
            os._exit(0 if ok else 1)
    try:
        assert os.read(sent[0], 1) == b"s"  # the child's request waits in its op socket
        data = b"parent.." * 8
        assert cipher.encrypt(data) == reference().encrypt(data)
    finally:
        os.write(resume[1], b"r")
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_child_never_takes_the_op_socket_of_an_evicted_transform():
    cipher = AES.new(KEY, AES.MODE_ECB)
    cipher.encrypt(bytes(16))  # an op socket is now idle in the transform's pool
    tfm = cipher._engine.tfm
    for _ in range(transform.KEYED_CACHE_SIZE + 8):  # evicted, but the object keeps it
        AES.new(os.urandom(16), AES.MODE_ECB).encrypt(bytes(16))
    assert all(t is not tfm for t in transform._keyed.values()) and tfm.idle_count() >= 1
    _child_mid_request(cipher, lambda: RefAES.new(KEY, AES.MODE_ECB))


def test_a_child_never_takes_the_op_socket_of_a_keyring_transform():
    if not keyring_ciphers():
        pytest.skip("this kernel lacks ALG_SET_KEY_BY_KEY_SERIAL")
    key = KeyringKey.add(KEY, f"kcapi-fork-{os.getpid()}-{os.urandom(4).hex()}")
    try:
        cipher = AES.new(key, AES.MODE_ECB)  # keyring transforms are never cached
        cipher.encrypt(bytes(16))
        assert cipher._engine.tfm.idle_count() >= 1
        _child_mid_request(cipher, lambda: RefAES.new(KEY, AES.MODE_ECB))
    finally:
        key.revoke()


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def test_the_fork_hook_survives_a_transform_being_deallocated():
    """A dying transform stays in the fork hook's weak set until its ``__del__`` has run.

    A fork in that window (another thread forking while ``__del__`` closes the
    pool) must find no closed -- perhaps reused -- numbers in its pool, and
    dropping the pools must go on past any it finds: a child left with the
    parent's pooled op sockets reads the parent's results (seen in the soak).
    """
    tfm = transform.Transform("skcipher", "ecb(aes)", KEY)
    pooled = [os.open(os.devnull, os.O_RDONLY) for _ in range(2)]  # stand-ins for op sockets
    tfm._idle_fds.extend(pooled)
    tfm.__del__()  # what CPython runs first when the last reference goes
    assert tfm._idle_fds == [] and not any(_is_open(fd) for fd in pooled)
    stale = resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 1  # a number nothing holds
    assert not _is_open(stale)
    good = os.open(os.devnull, os.O_RDONLY)
    tfm._idle_fds.extend([stale, good])
    tfm.drop_idle()  # must not raise, and must close the rest
    assert tfm.idle_count() == 0 and not _is_open(good)


def test_a_fork_waits_for_the_receives_in_flight(monkeypatch):
    """Before Linux 6.5 the kernel writes a receive's output into pages it does not
    pin: a fork meanwhile would make them copy-on-write and the output could land
    in the child's copy.  So os.fork() waits until no receive is in flight."""
    log: list[str] = []
    started = threading.Event()
    monkeypatch.setattr(_syscalls, "kernel", SlowReceive(log, started))
    results: list[bool] = []

    def encrypt() -> None:
        data = b"d" * 4096
        results.append(AES.new(KEY, AES.MODE_CTR, nonce=IV[:8]).encrypt(data) ==
                       RefAES.new(KEY, AES.MODE_CTR, nonce=IV[:8]).encrypt(data))

    worker = threading.Thread(target=encrypt)
    worker.start()
    assert started.wait(10)
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    log.append("forked")
    worker.join()
    os.waitpid(pid, 0)
    assert log == ["receive starts", "receive ends", "forked"] and results == [True]


def test_a_fork_inside_another_threads_call_leaves_no_hanging_object():
    """A fork that catches another thread inside a call on an object: in the child that
    object's lock would never be released and its state is half-done.  It refuses every
    call there with an error (no hang); the parent's object and the child's others work."""
    busy = {"cbc": AES.new(KEY, AES.MODE_CBC, IV), "ctr": AES.new(KEY, AES.MODE_CTR, nonce=IV[:8])}
    # GCM and ChaCha20-Poly1305 in pieces, where the kernel has their composed path's parts.
    if not composed_part_missing("ghash"):
        busy["gcm"] = AES.new(KEY, AES.MODE_GCM, nonce=N12)
    if not composed_part_missing("poly1305"):
        busy["poly"] = ChaCha20_Poly1305.new(key=KEY32, nonce=N12)
    idle = AES.new(KEY, AES.MODE_CBC, IV)
    inside, leave = threading.Event(), threading.Event()

    def hold_locks() -> None:  # as a thread does for the length of a call
        for obj in busy.values():
            obj._lock.acquire()
        inside.set()
        leave.wait(30)
        for obj in busy.values():
            obj._lock.release()

    holder = threading.Thread(target=hold_locks)
    holder.start()
    assert inside.wait(10)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            refused = 0
            for obj in busy.values():
                try:
                    obj.encrypt(b"x" * 16)  # would block forever on the inherited lock
                except OSError as exc:
                    refused += exc.errno == errno.EIO and "cannot be used" in str(exc)
            ok = idle.encrypt(b"y" * 16) == RefAES.new(KEY, AES.MODE_CBC, IV).encrypt(b"y" * 16)
            code = 0 if (refused == len(busy) and ok) else 2
        finally:
            os._exit(code)
    signal_alarm = threading.Timer(20, lambda: os.kill(pid, 9))  # a hang fails, not stalls
    signal_alarm.start()
    try:
        _, status = os.waitpid(pid, 0)
    finally:
        signal_alarm.cancel()
        leave.set()
        holder.join()
    assert os.waitstatus_to_exitcode(status) == 0
    data = b"z" * 32  # in the parent the objects were only busy, and work on
    assert busy["cbc"].encrypt(data) == RefAES.new(KEY, AES.MODE_CBC, IV).encrypt(data)
    if "gcm" in busy:
        assert busy["gcm"].encrypt_and_digest(data) == \
            RefAES.new(KEY, AES.MODE_GCM, nonce=N12).encrypt_and_digest(data)


def test_forks_never_take_the_output_of_a_receive(monkeypatch):
    """Receives into a buffer whose page another thread keeps writing, while the
    main thread forks: every output arrives in this process (on 6.1 without the
    fork gate, a few in a thousand landed in the child's copy of the page)."""
    arena = bytearray(16384 + 8192)  # the output, and a neighbour on its last page
    out = memoryview(arena)[:16384]
    plain = os.urandom(16384)
    expected = RefAES.new(KEY, AES.MODE_CTR, nonce=IV[:8]).encrypt(plain)
    deadline = time.monotonic() + 4
    wrong: list[int] = []

    def crypt() -> None:
        n = 0
        while time.monotonic() < deadline:
            AES.new(KEY, AES.MODE_CTR, nonce=IV[:8]).encrypt(plain, output=out)
            if out != expected:
                wrong.append(n)
            out[:] = bytes(len(out))
            n += 1

    def scribble() -> None:
        i = 0
        while time.monotonic() < deadline:
            arena[16384 + i % 8192] = i & 0xFF
            i += 1

    threads = [threading.Thread(target=crypt), threading.Thread(target=scribble)]
    for t in threads:
        t.start()
    forks = 0
    while time.monotonic() < deadline:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        forks += 1
    for t in threads:
        t.join()
    assert forks and not wrong, f"{len(wrong)} outputs lost to a child ({forks} forks)"


def test_multiprocessing_fork_workers_continue_an_inherited_stream():
    import multiprocessing

    global _INHERITED
    _INHERITED = AES.new(KEY, AES.MODE_CTR, nonce=IV[:8])
    _INHERITED.encrypt(b"x" * 21)  # kept keystream
    # One task per worker: each worker is forked from this process, its stream where ours is.
    with multiprocessing.get_context("fork").Pool(3, maxtasksperchild=1) as pool:
        results = pool.map(_continue_inherited, range(6))
    expected = RefAES.new(KEY, AES.MODE_CTR, nonce=IV[:8]).encrypt(bytes(21 + 100))[21:]
    assert all(r == expected for r in results)
    assert _INHERITED.encrypt(bytes(100)) == expected  # the parent's stream did not move


_INHERITED: Any = None


def _continue_inherited(_: int) -> bytes:
    # Each worker process continues its own copy of the stream (the object is not shared).
    return _INHERITED.encrypt(bytes(100))


# -- injected faults ------------------------------------------------------------------------


@pytest.fixture
def faults(monkeypatch):
    def install(**plan: dict[int, tuple]) -> FaultyKernel:
        fake = FaultyKernel(**plan)
        monkeypatch.setattr(_syscalls, "kernel", fake)
        return fake
    return install


EVERY_KIND = {
    "cbc": (lambda: AES.new(KEY, AES.MODE_CBC, IV), lambda: RefAES.new(KEY, AES.MODE_CBC, IV)),
    "ctr": (lambda: AES.new(KEY, AES.MODE_CTR, nonce=IV[:8]),
            lambda: RefAES.new(KEY, AES.MODE_CTR, nonce=IV[:8])),
    "chacha20": (lambda: ChaCha20.new(key=KEY32, nonce=N12),
                 lambda: RefChaCha20.new(key=KEY32, nonce=N12)),
    "des3": (lambda: DES3.new(KEY32[:24], DES3.MODE_CBC, IV[:8]),
             lambda: RefDES3.new(DES3.adjust_key_parity(KEY32[:24]), DES3.MODE_CBC, IV[:8])),
}


@pytest.mark.parametrize("kind", list(EVERY_KIND))
@pytest.mark.parametrize("where", ["sendmsg", "recv", "accept"])
def test_eintr_is_retried(faults, kind, where):
    make, ref = EVERY_KIND[kind]
    ours = make()
    ours._engine.tfm.drop_idle()  # so that the call accepts a new op socket
    fake = faults(**{where: {1: ("eintr", 3)}})
    data = os.urandom(3 * MAX_REQUEST + 16)
    assert ours.encrypt(data) == ref().encrypt(data)
    assert fake.counts[where] >= 1


def test_eintr_in_the_aead_one_shot_and_the_drbg(faults):
    faults(sendmsg={1: ("eintr", 2)}, recv={1: ("eintr", 2), 2: ("eintr", 1)})
    ct, tag = AES.new(KEY, AES.MODE_GCM, nonce=N12).encrypt_and_digest(b"m" * 1000)
    assert (ct, tag) == RefAES.new(KEY, AES.MODE_GCM, nonce=N12).encrypt_and_digest(b"m" * 1000)
    assert len(Random.get_random_bytes(200)) == 200


@pytest.mark.parametrize("kind", list(EVERY_KIND))
@pytest.mark.parametrize("fault", [
    {"sendmsg": {2: ("errno", errno.ENOMEM)}}, {"sendmsg": {3: ("errno", errno.EPIPE)}},
    {"sendmsg": {2: ("errno", errno.EAGAIN)}}, {"recv": {2: ("errno", errno.ENOMEM)}},
    {"recv": {3: ("errno", errno.ECONNRESET)}}, {"sendmsg": {2: ("short", 100)}},
    {"sendmsg": {2: ("errno", errno.EBUSY)}}, {"recv": {2: ("errno", errno.ENOKEY)}},
], ids=["send-ENOMEM", "send-EPIPE", "send-EAGAIN", "recv-ENOMEM", "recv-ECONNRESET", "short-send",
        "send-EBUSY", "recv-ENOKEY"])
def test_a_fault_mid_request_releases_nothing_and_leaks_nothing(faults, kind, fault):
    make, ref = EVERY_KIND[kind]
    ours = make()
    secret = os.urandom(5 * MAX_REQUEST)  # five requests: the fault hits after the first
    ciphertext = ref().encrypt(secret)
    ours.decrypt(b"")  # decrypting from now on (nothing sent yet)
    gc.collect()
    before = fds_in_use()
    faults(**fault)
    output = bytearray(len(ciphertext))
    with pytest.raises(OSError) as caught:
        ours.decrypt(ciphertext, output=output)
    expected_errno = next(iter(next(iter(fault.values())).values()))
    assert caught.value.errno == (errno.EIO if expected_errno[0] == "short" else expected_errno[1])
    assert output == bytes(len(output))  # the plaintext of the first requests was wiped
    assert fds_in_use() == before  # the op socket was closed, not pooled, not leaked
    for call in (lambda: ours.decrypt(ciphertext[:16]), lambda: ours.decrypt(b"")):
        with pytest.raises(OSError, match="lost its kernel state") as refused:
            call()
        assert refused.value.errno == errno.EIO
    fresh = make()  # the transform and its other objects are unaffected
    assert fresh.decrypt(ciphertext[:4096]) == secret[:4096]


def test_short_receives_resume_where_the_iv_chains_and_fail_where_it_does_not(faults):
    data = os.urandom(3 * MAX_REQUEST)
    faults(recv={1: ("short", 1000), 2: ("short", 16)})
    assert AES.new(KEY, AES.MODE_CBC, IV).encrypt(data) == \
        RefAES.new(KEY, AES.MODE_CBC, IV).encrypt(data)
    faults(recv={1: ("short", 1000)})
    chacha = ChaCha20.new(key=KEY32, nonce=N12)
    with pytest.raises(OSError, match="does not chain") as caught:
        chacha.encrypt(data)
    assert caught.value.errno == errno.EIO
    with pytest.raises(OSError, match="lost its kernel state"):
        chacha.encrypt(b"more")


@pytest.mark.parametrize("fault", [{"recv": {1: ("errno", errno.ENOMEM)}},
                                   {"sendmsg": {1: ("errno", errno.EPIPE)}},
                                   {"recv": {1: ("truncate", 10)}}],
                         ids=["recv-ENOMEM", "send-EPIPE", "short-result"])
def test_a_fault_in_the_one_shot_aead_releases_no_plaintext(faults, fault):
    ref = RefAES.new(KEY, AES.MODE_GCM, nonce=N12).update(b"h")
    ct, tag = ref.encrypt_and_digest(b"secret" * 100)
    opener = AES.new(KEY, AES.MODE_GCM, nonce=N12).update(b"h")
    gc.collect()
    before = fds_in_use()
    faults(**fault)
    output = bytearray(len(ct))
    with pytest.raises(OSError):
        opener.decrypt_and_verify(ct, tag, output=output)
    assert output == bytes(len(ct)) and fds_in_use() == before


@pytest.mark.parametrize("fault", [{"recv": {2: ("errno", errno.ENOMEM)}},
                                   {"sendmsg": {2: ("errno", errno.EPIPE)}}],
                         ids=["recv-ENOMEM", "send-EPIPE"])
def test_a_fault_in_a_composed_aead_stream(faults, fault):
    needs_composed_part("ghash")
    big = os.urandom(3 * MAX_REQUEST)  # past the one-shot limit: composed (ctr(aes) + ghash)
    ct, tag = RefAES.new(KEY, AES.MODE_GCM, nonce=N12).encrypt_and_digest(big)
    opener = AES.new(KEY, AES.MODE_GCM, nonce=N12)
    gc.collect()
    before = fds_in_use()
    faults(**fault)
    output = bytearray(len(ct))
    with pytest.raises(OSError):
        opener.decrypt_and_verify(ct, tag, output=output)
    assert output == bytes(len(ct))  # decrypted into a private buffer, wiped
    with pytest.raises(OSError, match="lost its kernel state"):
        opener.verify(tag)
    gc.collect()
    assert fds_in_use() == before


def test_no_descriptor_for_an_op_socket_changes_nothing(faults):
    """EMFILE at accept(): explained, and the object (cipher or AEAD) is unchanged."""
    ctr, ref = AES.new(KEY, AES.MODE_CTR, nonce=IV[:8]), RefAES.new(KEY, AES.MODE_CTR, nonce=IV[:8])
    assert ctr.encrypt(b"abc") == ref.encrypt(b"abc")
    gcm = AES.new(KEY, AES.MODE_GCM, nonce=N12)
    for tfm in (ctr._engine.tfm, transform.get("aead", "gcm(aes)", KEY, 16)):
        tfm.drop_idle()
    # every accept() fails, the one retried after the caches gave their descriptors back too
    faults(accept={n: ("errno", errno.EMFILE) for n in range(1, 20)})
    with pytest.raises(OSError) as caught:
        ctr.encrypt(b"x" * 100)
    assert caught.value.errno == errno.EMFILE and "RLIMIT_NOFILE" in str(caught.value)
    with pytest.raises(OSError) as caught:
        gcm.encrypt_and_digest(b"m" * 100)
    assert caught.value.errno == errno.EMFILE
    faults()  # descriptors again
    assert ctr.encrypt(b"x" * 100) == ref.encrypt(b"x" * 100)
    assert gcm.encrypt_and_digest(b"m" * 100) == \
        RefAES.new(KEY, AES.MODE_GCM, nonce=N12).encrypt_and_digest(b"m" * 100)


# -- RLIMIT_NOFILE = 64 ---------------------------------------------------------------------


@pytest.fixture
def nofile_64():
    """RLIMIT_NOFILE lowered to 64, from a clean start (the earlier tests' cached
    transforms and pooled op sockets closed)."""
    transform.clear()
    gc.collect()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    yield
    gc.collect()
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_many_live_cipher_objects_under_64_descriptors(nofile_64):
    before = fds_in_use()
    # One key: every object shares one bound socket and holds no descriptor of its own.
    kept = [AES.new(KEY, AES.MODE_CBC, IV) for _ in range(10_000)]
    kept += [AES.new(KEY, AES.MODE_CTR, nonce=IV[:8]) for _ in range(2_000)]
    kept += [AES.new(KEY, AES.MODE_GCM, nonce=N12) for _ in range(2_000)]
    kept += [ChaCha20.new(key=KEY32, nonce=N12) for _ in range(2_000)]
    for n in (0, 4321, 9999):
        block = b"%016d" % n
        assert kept[n].encrypt(block) == RefAES.new(KEY, AES.MODE_CBC, IV).encrypt(block)
    assert kept[11_000].encrypt(b"ctr") == \
        RefAES.new(KEY, AES.MODE_CTR, nonce=IV[:8]).encrypt(b"ctr")
    assert kept[13_000].encrypt_and_digest(b"g") == \
        RefAES.new(KEY, AES.MODE_GCM, nonce=N12).encrypt_and_digest(b"g")
    assert kept[15_000].encrypt(b"c") == RefChaCha20.new(key=KEY32, nonce=N12).encrypt(b"c")
    # Distinct keys: one bound socket per key, kept alive by its objects, until EMFILE.
    keyed: list[tuple[bytes, Any]] = []
    with pytest.raises(OSError) as caught:
        for _ in range(200):
            key = os.urandom(16)
            keyed.append((key, AES.new(key, AES.MODE_CBC, IV)))
    assert type(caught.value) is OSError and caught.value.errno == errno.EMFILE
    assert "RLIMIT_NOFILE=64" in str(caught.value) and "distinct key" in str(caught.value)
    # An existing object needs an op socket for a call: none left, and it is unchanged.
    last_key, last = keyed[-1]
    with pytest.raises(OSError) as caught:
        last.encrypt(IV)
    assert caught.value.errno == errno.EMFILE and "unchanged" in str(caught.value)
    # Free descriptors (drop objects and the cache): the refusal was not remembered.
    del keyed[:-3]
    transform.clear()
    gc.collect()
    assert last.encrypt(IV) == RefAES.new(last_key, AES.MODE_CBC, IV).encrypt(IV)
    for key, cipher in keyed[:-1]:
        assert cipher.encrypt(IV) == RefAES.new(key, AES.MODE_CBC, IV).encrypt(IV)
    key = os.urandom(16)
    more = AES.new(key, AES.MODE_CBC, IV)
    assert kcapi_cipher.backend_info(more).backend == "kernel"
    assert more.encrypt(IV) == RefAES.new(key, AES.MODE_CBC, IV).encrypt(IV)
    del kept, keyed, more, last, cipher, caught  # (a traceback holds its frames' objects)
    transform.clear()
    gc.collect()
    assert fds_in_use() <= before  # released on drop: nothing but the caches remain


@pytest.mark.parametrize("policy", ["kernel", "auto"])
def test_running_out_of_descriptors_at_a_first_probe_is_not_a_refusal(nofile_64, policy):
    """EMFILE says nothing about the algorithm: it is raised, never cached as 'refused'."""
    kcapi_cipher.set_backend(policy)
    transform.clear()
    gc.collect()
    fillers = []
    try:
        while True:
            fillers.append(os.open(os.devnull, os.O_RDONLY))
    except OSError as exc:
        assert exc.errno == errno.EMFILE
    try:
        with pytest.raises(OSError) as caught:
            AES.new(KEY, AES.MODE_CBC, IV)
        assert type(caught.value) is OSError and caught.value.errno == errno.EMFILE
    finally:
        for fd in fillers:
            os.close(fd)
    cipher = AES.new(KEY, AES.MODE_CBC, IV)
    assert kcapi_cipher.backend_info(cipher).backend == "kernel"
    assert cipher.encrypt(IV) == RefAES.new(KEY, AES.MODE_CBC, IV).encrypt(IV)
