"""Cipher objects across fork: objects made before it, requests in flight, receives in flight,
multiprocessing workers.

Checked against PyCryptodome, in the kernel run (``kernel_cbc_and_gcm``: tests/cipher/conftest.py).
"""

from __future__ import annotations

import errno
import os
import resource
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from Crypto.Cipher import AES as RefAES
from Crypto.Cipher import ChaCha20 as RefChaCha20
from Crypto.Cipher import ChaCha20_Poly1305 as RefChaChaPoly
from Crypto.Hash import CMAC as RefCMAC

from _kcapi import _syscalls, transform
from _kcapi.af_alg.tfm import Transform
from _kcapi.hash import HOLD_LIMIT
from kcapi_cipher import AES, CMAC, ChaCha20, ChaCha20_Poly1305, KeyringKey, Random

from ..cipher_support import IV, KEY, KEY32, N12, keyring_ciphers
from ..fakes import PausingAfterSend, SlowReceive
from ..support import composed_part_missing

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("kernel_cbc_and_gcm")]


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


@pytest.mark.usefixtures("af_alg_only")  # AF_ALG's own mechanism
def test_a_child_never_takes_the_op_socket_of_an_evicted_transform():
    cipher = AES.new(KEY, AES.MODE_ECB)
    cipher.encrypt(bytes(16))  # an op socket is now idle in the transform's pool
    tfm = cipher._engine.tfm
    for _ in range(transform.KEYED_CACHE_SIZE + 8):  # evicted, but the object keeps it
        AES.new(os.urandom(16), AES.MODE_ECB).encrypt(bytes(16))
    assert all(t is not tfm for t in transform.keyed()) and tfm.idle_count() >= 1
    _child_mid_request(cipher, lambda: RefAES.new(KEY, AES.MODE_ECB))


@pytest.mark.usefixtures("af_alg_only")  # AF_ALG's own mechanism
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
    tfm = Transform("skcipher", "ecb(aes)", KEY)
    pooled = [os.open(os.devnull, os.O_RDONLY) for _ in range(2)]  # stand-ins for op sockets
    list(map(tfm.fds.give, pooled))
    tfm.__del__()  # what CPython runs first when the last reference goes
    assert len(tfm.fds) == 0 and not any(_is_open(fd) for fd in pooled)
    stale = resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 1  # a number nothing holds
    assert not _is_open(stale)
    good = os.open(os.devnull, os.O_RDONLY)
    list(map(tfm.fds.give, [stale, good]))
    tfm.drop_idle()  # must not raise, and must close the rest
    assert tfm.idle_count() == 0 and not _is_open(good)


@pytest.mark.usefixtures("af_alg_only")  # AF_ALG's own mechanism
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
