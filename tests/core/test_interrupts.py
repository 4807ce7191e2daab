"""Interrupted calls are atomic: the object is in its state before or after the call, never half.

hashlib's and PyCryptodome's calls are single C calls.  Ours are loops of
system calls with Python in between, where CPython may run a signal handler
that raises (Ctrl-C).  Each test here interrupts one call at every event
where that can happen (see ``interrupt_support.Injector``), also twice in a
row, then continues the object and compares everything it does next with the
reference library continued from the state before the call and from the state
after it: ours must match one of the two exactly.

The same sweeps run on the emulated kernel (everywhere) and on the real one
(the kernel run); a last test interrupts 8 MiB calls with a real timer signal.
"""

from __future__ import annotations

import errno
import hashlib
import hmac as std_hmac
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from typing import Any

import pytest
from Crypto.Cipher import AES as RefAES
from Crypto.Cipher import DES3 as RefDES3
from Crypto.Cipher import ChaCha20 as RefChaCha20
from Crypto.Cipher import ChaCha20_Poly1305 as RefChaChaPoly
from Crypto.Hash import CMAC as RefCMAC
from Crypto.Util import Counter

import kcapi_hashlib
from _kcapi import _libc, _syscalls, atomic, hash as khash, skcipher, transform
from _kcapi.errors import KernelUnavailableError
from kcapi_cipher import AES, CMAC, DES3, ChaCha20, ChaCha20_Poly1305
from kcapi_hashlib import hmac

from ..fakes import EmulatedAfAlg
from ..interrupt_support import Injector, Interrupt, count_events, handler_raising
from ..support import kernel_refusal, require_kernel_alg


KEY = bytes(range(16))
KEY32 = bytes(range(32))
DES_KEY = RefDES3.adjust_key_parity(bytes(range(40, 64)))
IV = bytes(range(100, 116))
N12 = bytes(range(12))
#: Bytes per request and per hash send in these tests: several requests from little data.
UNIT = 4096
#: Bytes a hash object holds in user space in these tests.
HOLD = 2 * UNIT


def data(size: int, seed: int = 0) -> bytes:
    return bytes((i * 131 + seed * 17 + (i >> 8)) & 0xFF for i in range(size))


# -- where the calls run ------------------------------------------------------------------------


def small_units(monkeypatch: pytest.MonkeyPatch, emulate: bool) -> EmulatedAfAlg | None:
    """Small requests and sends (several from little data); the emulated kernel if asked."""
    monkeypatch.setattr(skcipher, "MAX_REQUEST", UNIT)
    monkeypatch.setattr(khash, "SEND_CHUNK", UNIT)
    monkeypatch.setattr(khash, "SPLICE_CHUNK", UNIT)
    monkeypatch.setattr(khash, "HOLD_LIMIT", HOLD)
    transform.clear()
    fake = None
    if emulate:
        fake = EmulatedAfAlg()
        real = _libc.libc()
        monkeypatch.setattr(_syscalls, "kernel", fake)
        monkeypatch.setattr(_libc, "libc", lambda: fake.lib(real))
    else:
        require_kernel_alg("hash", "sha256")
    kcapi_hashlib.set_backend("kernel")
    return fake


@pytest.fixture(params=["emulated", pytest.param("kernel", marks=pytest.mark.kernel)])
def backend(request, monkeypatch):
    """The emulated kernel, or the real one (``None``: the kernel run)."""
    yield small_units(monkeypatch, request.param == "emulated")
    transform.clear()


@pytest.fixture
def emulated(monkeypatch):
    """The emulated kernel only (for the faults it can inject)."""
    yield small_units(monkeypatch, True)
    transform.clear()


@pytest.fixture
def real_kernel(monkeypatch):
    """The real kernel only (skips without AF_ALG; the kernel run must have it)."""
    yield small_units(monkeypatch, False)
    transform.clear()


# -- the differential check ------------------------------------------------------------------------

Op = tuple  # (method name, *args): a call on the object


def outcome(obj: Any, op: Op) -> Any:
    """What ``obj.<op>`` returns, or the type and message of what it raises."""
    name, *args = op
    try:
        result = getattr(obj, name)(*args)
    except Exception as exc:  # noqa: BLE001 - the comparison is the point
        return ("raises", type(exc).__name__, str(exc))
    return result if isinstance(result, (bytes, str, type(None), tuple)) else type(result).__name__


def replay(make: Callable[[], Any], ops: list[Op]) -> list[Any]:
    obj = make()
    return [outcome(obj, op) for op in ops]


def assert_unlocked(obj: Any) -> None:
    """The object's lock is free (an interrupt never leaves it held)."""
    served = khash.kernel_hash_of(obj) or obj  # an HMAC's KernelHash, say
    lock = getattr(served, "_lock", None) or getattr(served, "_hash")._lock
    assert lock.acquire(blocking=False), "the object's lock stayed held"
    lock.release()


def made_by_the_kernel(backend: Any, make: Callable[[], Any]) -> None:
    """The object is kernel-served; in the kernel run, skip what this kernel lacks
    (cfb/ofb since Linux 6.7, say) and fail for anything else."""
    try:
        obj = make()
    except KernelUnavailableError as exc:
        if backend is None and exc.reason == "missing":
            pytest.skip(f"this kernel lacks it: {exc}")
        raise
    served = khash.kernel_hash_of(obj) or obj
    info = getattr(served, "backend_info", None)  # software-served objects have none
    assert info is not None and info.backend == "kernel", info


class Sweep:
    """Interrupt ``call`` on objects prepared by ``history`` at every event, then check.

    Args:
        ours, ref: make a fresh object of ours / of the reference library.
        history: ops applied to both first (not interrupted).
        call: the op interrupted.
        then: ops applied afterwards, compared with the reference continued
            from before and from after the call.
    """

    def __init__(self, ours: Callable[[], Any], ref: Callable[[], Any], history: list[Op],
                 call: Op, then: list[Op]):
        self.ours, self.ref, self.history, self.call, self.then = ours, ref, history, call, then
        self.before = replay(ref, history + then)[len(history):]
        self.after = replay(ref, history + [call] + then)[len(history) + 1:]
        # (ECB has no state: the two are the same; the object must still work.)
        self.seen: set[str] = set() if self.before != self.after else {"before"}

    def prepared(self) -> Any:
        obj = self.ours()
        for op in self.history:
            getattr(obj, op[0])(*op[1:])
        return obj

    def run(self, fake: Any, at: set[int], make: Callable[[], BaseException] = KeyboardInterrupt,
            call: Op | None = None) -> Any:
        obj = self.prepared()
        name, *args = call or self.call
        with Injector(at, make, fake) as injector:
            try:
                getattr(obj, name)(*args)
            except (KeyboardInterrupt, Interrupt):
                pass
        assert_unlocked(obj)
        got = [outcome(obj, op) for op in self.then]
        if got == self.after:
            self.seen.add("after")
        elif got == self.before:
            self.seen.add("before")
        else:
            raise AssertionError(f"interrupted at {injector.fired}: {got!r} is neither the state "
                                 f"before ({self.before!r}) nor after ({self.after!r})")
        return obj

    def sweep(self, fake: Any, stride: int = 1, seconds: tuple[int, ...] = (1, 3)) -> int:
        """Every event (``stride`` apart; every one of the last few, where the call
        completes), then pairs of events ``seconds`` apart (from every third one)."""
        obj = self.prepared()
        name, *args = self.call
        events = count_events(lambda: getattr(obj, name)(*args), fake)
        last = set(range(max(0, events - 12), events))
        for k in sorted(set(range(0, events, stride)) | last):
            self.run(fake, {k})
        for k in sorted(set(range(0, events, 3 * stride)) | last):
            for d in seconds:
                self.run(fake, {k, k + d})
        assert self.seen == {"before", "after"}, self.seen
        return events


# -- hashes: hashlib, hmac, CMAC objects ------------------------------------------------------------

HASHES = {
    "sha256": (lambda: kcapi_hashlib.sha256(), lambda: hashlib.sha256()),
    "hmac-sha1": (lambda: hmac.new(KEY, digestmod="sha1"),
                  lambda: std_hmac.new(KEY, digestmod="sha1")),
    "cmac": (lambda: CMAC.new(KEY, ciphermod=AES), lambda: RefCMAC.new(KEY, ciphermod=RefAES)),
}


@pytest.mark.parametrize("name", list(HASHES))
@pytest.mark.parametrize("held", [100, HOLD + 9], ids=["held", "streaming"])
def test_an_interrupted_update_is_whole_or_not_at_all(backend, name, held):
    ours, ref = HASHES[name]
    made_by_the_kernel(backend, ours)
    sweep = Sweep(ours, ref, [("update", data(held))], ("update", data(3 * UNIT + 7, 1)),
                  [("update", b"tail"), ("hexdigest",)])
    sweep.sweep(backend)


@pytest.mark.parametrize("size", [10, HOLD], ids=["small", "to-the-limit"])
def test_an_interrupted_update_that_stays_in_user_space(backend, size):
    ours, ref = HASHES["sha256"]
    sweep = Sweep(ours, ref, [("update", b"x")], ("update", data(size - 1)),
                  [("update", b"tail"), ("hexdigest",)])
    sweep.sweep(backend)


@pytest.mark.parametrize("held", [100, HOLD + 9], ids=["held", "streaming"])
@pytest.mark.parametrize("method", ["digest", "copy"])
def test_an_interrupted_digest_or_copy_changes_nothing(backend, held, method):
    ours, ref = HASHES["sha256"]
    for k in range(count_events(lambda: getattr(ours_obj(ours, held), method)(), backend)):
        h = ours_obj(ours, held)
        with Injector({k}, fake=backend):
            try:
                getattr(h, method)()
            except KeyboardInterrupt:
                pass
        h.update(b"tail")
        assert h.hexdigest() == hashlib.sha256(data(held) + b"tail").hexdigest()


def ours_obj(make: Callable[[], Any], held: int) -> Any:
    h = make()
    h.update(data(held))
    return h


def test_a_pending_update_is_finished_by_the_next_call(backend):
    """An interrupt as the roll-forward starts (at ``finish``'s entry) leaves the update
    recorded on the object: its next call finishes it first."""
    view = memoryview(data(5 * UNIT, 2))
    h = kcapi_hashlib.sha256(data(HOLD + 9))
    probe = Injector(fake=backend)
    probe.log = []
    with probe:
        h.update(view)
    entry = probe.log.index(("call", "finish", atomic.finish.__code__.co_firstlineno))
    h = kcapi_hashlib.sha256(data(HOLD + 9))
    with Injector({entry}, fake=backend) as injector:
        with pytest.raises(KeyboardInterrupt):
            h.update(view)
    assert injector.fired and h._job is not None and h.fed == HOLD + 9 + view.nbytes
    h.update(b"tail")
    assert h._job is None
    assert h.hexdigest() == hashlib.sha256(data(HOLD + 9) + view + b"tail").hexdigest()


def test_the_timeout_error_of_a_signal_handler_is_an_interrupt(backend):
    """A handler's exception of any type (here an OSError, as the kernel's are) is rolled
    forward, not taken for the kernel failing (which would make the object refuse)."""
    previous = signal.signal(signal.SIGUSR1, handler_raising(TimeoutError))
    try:
        chunk = data(3 * UNIT, 3)
        fresh = kcapi_hashlib.sha256(data(HOLD + 9))
        events = count_events(lambda: fresh.update(chunk), backend)
        outcomes = set()
        for k in range(0, events, 7):
            h = kcapi_hashlib.sha256(data(HOLD + 9))
            with Injector({k}, lambda: signal.raise_signal(signal.SIGUSR1) or Interrupt(),
                          backend):
                try:
                    h.update(chunk)
                except TimeoutError:
                    pass
            h.update(b"t")
            digest = h.hexdigest()
            before = hashlib.sha256(data(HOLD + 9) + b"t").hexdigest()
            after = hashlib.sha256(data(HOLD + 9) + chunk + b"t").hexdigest()
            assert digest in (before, after)
            outcomes.add(digest == after)
        assert outcomes == {False, True}
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_eintr_on_a_hash_send_is_retried(emulated):
    h = kcapi_hashlib.sha256(data(HOLD + 9))
    emulated.eintr_at = {emulated.calls + 1, emulated.calls + 2}
    h.update(data(3 * UNIT, 4))
    assert emulated.eintrs == 2
    assert h.hexdigest() == hashlib.sha256(data(HOLD + 9) + data(3 * UNIT, 4)).hexdigest()


def temporary_file(payload: bytes) -> Any:
    """An unnamed file holding ``payload`` (a context manager)."""
    f = tempfile.TemporaryFile()
    f.write(payload)
    f.flush()
    return f


def digest_file(f: Any, h: Any) -> None:
    """``file_digest`` of the whole of ``f`` into the hash object ``h``."""
    f.seek(0)
    kcapi_hashlib.file_digest(f, lambda: h)


def test_an_interrupted_file_digest_hashed_whole_chunks(backend):
    """Each splice chunk is atomic: the object holds the prefix and whole chunks of the file."""
    payload = data(5 * UNIT + 123, 5)
    with temporary_file(payload) as f:
        events = count_events(lambda: digest_file(f, kcapi_hashlib.sha256(b"prefix")), backend)
        seen = set()
        for k in range(events):
            h = kcapi_hashlib.sha256(b"prefix")
            with Injector({k}, fake=backend):
                try:
                    digest_file(f, h)
                except KeyboardInterrupt:
                    pass
            h.update(b"!")
            got = h.hexdigest()
            cuts = [n for n in list(range(0, len(payload), UNIT)) + [len(payload)]
                    if hashlib.sha256(b"prefix" + payload[:n] + b"!").hexdigest() == got]
            assert cuts, f"interrupted at event {k}: not the prefix and whole chunks"
            seen.add(cuts[0])
        assert 0 in seen and len(payload) in seen


def test_a_signal_handlers_oserror_is_not_taken_for_a_file_that_cannot_be_spliced(backend):
    """file_digest reads a file it cannot splice; a TimeoutError raised by a signal handler
    while splicing must propagate instead (and the object keep whole chunks)."""
    payload = data(5 * UNIT + 123, 6)
    previous = signal.signal(signal.SIGUSR1, handler_raising(TimeoutError))
    try:
        with temporary_file(payload) as f:
            events = count_events(lambda: digest_file(f, kcapi_hashlib.sha256()), backend)
            for k in range(0, events, 3):
                h = kcapi_hashlib.sha256()
                with Injector({k}, lambda: signal.raise_signal(signal.SIGUSR1) or Interrupt(),
                              backend) as injector:
                    try:
                        digest_file(f, h)
                    except TimeoutError:
                        pass
                    else:
                        assert not injector.fired, f"the interrupt at event {k} was swallowed"
                got = h.hexdigest()
                assert any(hashlib.sha256(payload[:n]).hexdigest() == got
                           for n in list(range(0, len(payload), UNIT)) + [len(payload)])
    finally:
        signal.signal(signal.SIGUSR1, previous)


# -- skcipher modes ----------------------------------------------------------------------------------

CIPHERS = {
    "cbc": (lambda: AES.new(KEY, AES.MODE_CBC, IV), lambda: RefAES.new(KEY, RefAES.MODE_CBC, IV), 16),
    "ecb": (lambda: AES.new(KEY, AES.MODE_ECB), lambda: RefAES.new(KEY, RefAES.MODE_ECB), 16),
    "ctr": (lambda: AES.new(KEY, AES.MODE_CTR, nonce=N12[:8]),
            lambda: RefAES.new(KEY, RefAES.MODE_CTR, nonce=N12[:8]), 1),
    "ctr-by-ecb": (lambda: AES.new(KEY, AES.MODE_CTR, counter=little_endian_counter()),
                   lambda: RefAES.new(KEY, RefAES.MODE_CTR, counter=little_endian_counter()), 1),
    "cfb": (lambda: AES.new(KEY, AES.MODE_CFB, IV, segment_size=128),
            lambda: RefAES.new(KEY, RefAES.MODE_CFB, IV, segment_size=128), 1),
    "ofb": (lambda: AES.new(KEY, AES.MODE_OFB, IV), lambda: RefAES.new(KEY, RefAES.MODE_OFB, IV), 1),
    "chacha20": (lambda: ChaCha20.new(key=KEY32, nonce=N12),
                 lambda: RefChaCha20.new(key=KEY32, nonce=N12), 1),
    "chacha20-8": (lambda: ChaCha20.new(key=KEY32, nonce=N12[:8]),
                   lambda: RefChaCha20.new(key=KEY32, nonce=N12[:8]), 1),
    "xchacha20": (lambda: ChaCha20.new(key=KEY32, nonce=bytes(24)),
                  lambda: RefChaCha20.new(key=KEY32, nonce=bytes(24)), 1),
    "des3-cbc": (lambda: DES3.new(DES_KEY, DES3.MODE_CBC, IV[:8]),
                 lambda: RefDES3.new(DES_KEY, RefDES3.MODE_CBC, IV[:8]), 8),
    # several requests per call, each after the first at a tweak position set through ecb(aes)
    "xts": (lambda: AES.new(KEY + KEY[::-1], AES.MODE_XTS, tweak=IV),
            lambda: RefAES.new(KEY + KEY[::-1], RefAES.MODE_XTS, tweak=IV), 16),
}


def little_endian_counter() -> Any:
    """A counter layout the kernel's ctr cannot count (served through ecb(aes))."""
    return Counter.new(64, prefix=N12[:8], little_endian=True, initial_value=3)


@pytest.mark.parametrize("name", list(CIPHERS))
@pytest.mark.parametrize("direction", ["encrypt", "decrypt"])
def test_an_interrupted_cipher_call_is_whole_or_not_at_all(backend, name, direction):
    ours, ref, unit = CIPHERS[name]
    made_by_the_kernel(backend, ours)
    head = 16 * 3 + (5 if unit == 1 else 0)  # stream modes: the call starts inside a block
    size = 3 * UNIT + (24 if unit == 1 else 32)
    sweep = Sweep(ours, ref, [(direction, data(head))], (direction, data(size, 1)),
                  [(direction, data(unit * 48, 2))])
    every = (name, direction) in (("cbc", "encrypt"), ("ctr", "decrypt"))
    sweep.sweep(backend, stride=1 if every else 29 if name == "ctr-by-ecb" else 7)


@pytest.mark.parametrize("name", ["cbc", "ctr", "chacha20"])
@pytest.mark.parametrize("where", ["in-place", "output"])
def test_an_interrupted_call_with_output_leaves_input_or_whole_output(backend, name, where):
    ours, ref, unit = CIPHERS[name]
    made_by_the_kernel(backend, ours)
    head = data(16 * 3 + (5 if unit == 1 else 0))
    message = data(3 * UNIT + (24 if unit == 1 else 32), 1)
    expected = ref()
    expected.encrypt(head)
    ciphertext = expected.encrypt(message)
    sweep = Sweep(ours, ref, [("encrypt", head)], ("encrypt", message),
                  [("encrypt", data(unit * 48, 2))])
    events = count_events(lambda: sweep.prepared().encrypt(message, output=bytearray(message)),
                          backend)
    for k in range(0, events, 3):
        buf = bytearray(message)
        out = buf if where == "in-place" else bytearray(len(message))
        obj = sweep.run(backend, {k}, call=("encrypt", buf, out))
        if where == "in-place":
            assert bytes(buf) in (message, ciphertext), f"interrupted at event {k}: half written"
        else:
            assert buf == message
    assert sweep.seen == {"before", "after"}


def test_a_kernel_failure_still_makes_a_cipher_object_refuse(emulated):
    c = AES.new(KEY, AES.MODE_CBC, IV)

    def failing(sock: Any, buffers: Any, ancdata: Any = (), flags: int = 0) -> int:
        raise OSError(errno.ENOMEM, os.strerror(errno.ENOMEM))

    emulated.sendmsg = failing
    with pytest.raises(OSError) as caught:
        c.encrypt(data(3 * UNIT))
    assert caught.value.errno == errno.ENOMEM
    del emulated.sendmsg
    with pytest.raises(OSError, match="lost its kernel state"):
        c.encrypt(data(16))


# -- AEAD -----------------------------------------------------------------------------------------

AAD = b"associated data"


def gcm(nonce: bytes) -> tuple[Callable[[], Any], Callable[[], Any]]:
    return (lambda: AES.new(KEY, AES.MODE_GCM, nonce=nonce),
            lambda: RefAES.new(KEY, RefAES.MODE_GCM, nonce=nonce))


def ccm(**kw: Any) -> tuple[Callable[[], Any], Callable[[], Any]]:
    return (lambda: AES.new(KEY, AES.MODE_CCM, nonce=N12[:11], **kw),
            lambda: RefAES.new(KEY, RefAES.MODE_CCM, nonce=N12[:11], **kw))


def chacha(nonce: bytes) -> tuple[Callable[[], Any], Callable[[], Any]]:
    return (lambda: ChaCha20_Poly1305.new(key=KEY32, nonce=nonce),
            lambda: RefChaChaPoly.new(key=KEY32, nonce=nonce))


P1, P2, P3 = data(100, 1), data(3 * UNIT + 9, 2), data(77, 3)

AEAD_PIECEWISE = {
    "gcm-composed": gcm(bytes(16)),
    "gcm": gcm(N12),
    "ccm": ccm(msg_len=len(P1) + len(P2) + len(P3), assoc_len=len(AAD)),
    "chacha20-poly1305": chacha(N12),
    "xchacha20-poly1305": chacha(bytes(24)),
}


@pytest.mark.parametrize("name", list(AEAD_PIECEWISE))
@pytest.mark.parametrize("direction", ["encrypt", "decrypt"])
def test_an_interrupted_aead_piece_is_whole_or_not_at_all(backend, name, direction):
    ours, ref = AEAD_PIECEWISE[name]
    made_by_the_kernel(backend, ours)
    end = ("digest",) if direction == "encrypt" else ("hexverify", "00" * 16)
    sweep = Sweep(ours, ref, [("update", AAD), (direction, P1)], (direction, P2),
                  [(direction, P3), end])
    sweep.sweep(backend, stride=1 if (name, direction) == ("gcm-composed", "encrypt") else 11)


@pytest.mark.parametrize("name", ["gcm-composed", "ccm", "chacha20-poly1305"])
@pytest.mark.parametrize("direction", ["encrypt", "decrypt"])
def test_an_interrupted_in_place_aead_piece_leaves_input_or_whole_output(backend, name,
                                                                         direction):
    """An undone call puts back the input its keystream overwrote."""
    ours, ref = AEAD_PIECEWISE[name]
    made_by_the_kernel(backend, ours)
    expected = ref()
    expected.update(AAD)
    getattr(expected, direction)(P1)
    transformed = getattr(expected, direction)(P2)
    end = ("digest",) if direction == "encrypt" else ("hexverify", "00" * 16)
    sweep = Sweep(ours, ref, [("update", AAD), (direction, P1)], (direction, P2),
                  [(direction, P3), end])
    events = count_events(lambda: getattr(sweep.prepared(), direction)(P2, bytearray(P2)),
                          backend)
    for k in range(0, events, 5):
        buf = bytearray(P2)
        sweep.run(backend, {k}, call=(direction, buf, buf))
        assert bytes(buf) in (P2, transformed), f"interrupted at event {k}: half written"
    assert sweep.seen == {"before", "after"}


AEAD_ONE_SHOT = {"gcm": gcm(N12), "ccm": ccm(), "chacha20-poly1305": chacha(N12)}


@pytest.mark.parametrize("name", list(AEAD_ONE_SHOT))
def test_an_interrupted_one_shot_seal(backend, name):
    ours, ref = AEAD_ONE_SHOT[name]
    made_by_the_kernel(backend, ours)
    message = data(1000, 4)
    sweep = Sweep(ours, ref, [("update", AAD)], ("encrypt_and_digest", message), [("digest",)])
    sweep.sweep(backend)


@pytest.mark.parametrize("name", list(AEAD_ONE_SHOT))
def test_an_interrupted_one_shot_open(backend, name):
    ours, ref = AEAD_ONE_SHOT[name]
    made_by_the_kernel(backend, ours)
    message = data(1000, 4)
    sealer = ref()
    sealer.update(AAD)
    ct, tag = sealer.encrypt_and_digest(message)
    sweep = Sweep(ours, ref, [("update", AAD)], ("decrypt_and_verify", ct, tag),
                  [("verify", tag)])
    sweep.sweep(backend)


def test_an_interrupted_tag(backend):
    """digest() of a composed stream: the lengths go into the MAC once, however interrupted."""
    ours, ref = gcm(bytes(16))
    sweep = Sweep(ours, ref, [("update", AAD), ("encrypt", P2)], ("digest",), [("digest",)])
    events = count_events(lambda: sweep.prepared().digest(), backend)
    for k in range(events):
        obj = sweep.prepared()
        with Injector({k}, fake=backend):
            try:
                obj.digest()
            except KeyboardInterrupt:
                pass
        assert obj.digest() == sweep.after[0]


FORK_AFTER_INTERRUPTS = """
import os, sys, threading
from _kcapi import _libc, _syscalls, hash as khash, skcipher, transform
import kcapi_hashlib
from kcapi_cipher import AES
from tests.fakes import EmulatedAfAlg
from tests.interrupt_support import Injector, count_events

if sys.argv[1] == "emulated":  # a process of its own: fork hooks reach every live object
    fake = EmulatedAfAlg()
    real = _libc.libc()
    _syscalls.kernel = fake
    _libc.libc = lambda: fake.lib(real)
else:
    fake = None
skcipher.MAX_REQUEST = 4096
kcapi_hashlib.set_backend("kernel")
c = AES.new(bytes(16), AES.MODE_CBC, bytes(16))
h = kcapi_hashlib.sha256(bytes(40000))  # an object with kernel state: the hooks clone it
message = bytes(3 * 4096)
events = count_events(lambda: c.encrypt(message), fake)
for k in range(0, events, max(1, events // 12)):
    with Injector({k}, fake=fake):
        try:
            c.encrypt(message)
        except KeyboardInterrupt:
            pass

    def fork():
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)

    forker = threading.Thread(target=fork, daemon=True)
    forker.start()
    forker.join(60)
    if forker.is_alive():
        print(f"a fork after an interrupt at event {k} waits forever")
        os._exit(1)
h.update(b"x")
assert h.digest() == __import__("hashlib").sha256(bytes(40000) + b"x").digest()
print("ok")
"""


def test_an_interrupted_receive_never_holds_back_a_fork(backend):
    """A fork waits for the zero-copy receives in flight; an interrupt anywhere in a call
    must not leave one registered (a fork from another thread would then wait forever)."""
    done = subprocess.run([sys.executable, "-W", "ignore::DeprecationWarning", "-c",
                           FORK_AFTER_INTERRUPTS, "emulated" if backend else "kernel"],
                          capture_output=True, text=True, timeout=600,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), \
        done.stdout + done.stderr


def test_state_names_every_attribute_a_mode_changes(backend):
    """A call publishes the _STATE attributes of its private copy: a mode changing any
    other attribute would lose that change."""
    for name, (ours, _, unit) in CIPHERS.items():
        made_by_the_kernel(backend, ours)
        for direction in ("encrypt", "decrypt"):
            obj = ours()
            getattr(obj, direction)(data(16 * 3 + (5 if unit == 1 else 0)))
            shadow = obj._shadow()
            before = {n: getattr(shadow, n, None) for n in _slots(type(obj))}
            src = memoryview(data(2 * UNIT + 16 * 2 + (7 if unit == 1 else 0)))
            shadow._process(src, memoryview(bytearray(src.nbytes)), direction == "encrypt")
            changed = {n for n in before if getattr(shadow, n, None) is not before[n]}
            assert changed <= set(type(obj)._STATE), (name, changed)


def _slots(cls: type) -> set[str]:
    return {n for klass in cls.__mro__ for n in getattr(klass, "__slots__", ())} - {"__weakref__"}


def test_an_interrupt_kept_in_a_reference_cycle_does_not_crash_the_collector():
    """A cffi pointer into a memoryview, kept by a traceback's frame in a reference cycle,
    once made the garbage collector clear the exported memoryview: CPython crashed."""
    script = textwrap.dedent("""
        import gc, socket
        from _kcapi import _libc, _syscalls

        ffi, lib = _libc.libc()

        class Lib:
            def __getattr__(self, name):
                return getattr(lib, name)

            def sendmsg(self, fd, msg, flags):
                raise KeyboardInterrupt  # as a handler would, with the pointers alive

        _libc.libc = lambda: (ffi, Lib())
        a, b = socket.socketpair()

        def interrupted():
            data = bytearray(1000)
            view = memoryview(data)
            try:
                _syscalls.kernel.send_recorded(a.fileno(), [view[:10], view[10:]], 0, [])
            except KeyboardInterrupt as exc:
                kept = exc  # a cycle: this frame -> the exception -> its traceback -> frame

        for _ in range(3):
            interrupted()
            gc.collect()
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


# -- the mechanism itself ---------------------------------------------------------------------------


def test_is_interrupt_tells_handlers_from_the_kernel():
    assert atomic.is_interrupt(KeyboardInterrupt())
    try:
        raise OSError(errno.EIO, "from the kernel layer")
    except OSError as exc:
        assert not atomic.is_interrupt(exc)
    previous = signal.signal(signal.SIGUSR1, handler_raising(TimeoutError))
    try:
        try:
            signal.raise_signal(signal.SIGUSR1)
        except TimeoutError as exc:
            assert atomic.is_interrupt(exc)
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_finish_rolls_forward_through_interrupts_and_raises_the_first():
    left = [5]
    raised = []

    def step() -> bool:
        left[0] -= 1
        if left[0] % 2:
            exc = KeyboardInterrupt(left[0])
            raised.append(exc)
            raise exc
        return left[0] <= 0

    with pytest.raises(KeyboardInterrupt) as caught:
        atomic.finish(step)
    assert left[0] <= 0 and caught.value is raised[0]


def test_finish_stops_at_a_failure():
    calls = []

    def step() -> bool:
        calls.append(1)
        raise OSError(errno.ENOMEM, "kernel")

    with pytest.raises(OSError):
        atomic.finish(step)
    assert len(calls) == 1


def test_finish_survives_interrupts_at_every_event_of_its_own():
    for k in range(200):
        left = [3]

        def step() -> bool:
            left[0] -= 1
            return left[0] <= 0

        with Injector({k, k + 1, k + 3}):
            try:
                atomic.finish(step)
            except KeyboardInterrupt:
                pass
        if left[0] > 0:  # interrupted before or between attempts: finishing later works
            atomic.finish(step)
        assert left[0] <= 0


# -- a real timer signal, 8 MiB calls ---------------------------------------------------------------

BIG = 8 << 20


@pytest.mark.kernel
def test_a_timer_interrupting_8_mib_calls_in_a_loop():
    """A real SIGALRM handler raising during 8 MiB calls (default request and send sizes):
    every interrupted call happened whole or not at all, and the object goes on."""
    require_kernel_alg("hash", "sha256")
    require_kernel_alg("skcipher", "cbc(aes)")
    kcapi_hashlib.set_backend("kernel")
    previous = signal.signal(signal.SIGALRM, handler_raising(Interrupt))
    chunk = memoryview(os.urandom(BIG))
    rounds = 12
    try:
        # A hash: each update happens whole or not at all.
        h, ref = kcapi_hashlib.sha256(), hashlib.sha256()
        delays = spread(lambda: kcapi_hashlib.sha256().update(chunk), rounds)
        interrupted = 0
        for delay in delays:
            before = ref.copy()
            completed, _ = alarm_during(lambda: h.update(chunk), delay)
            ref.update(chunk)
            got = h.copy().digest()
            if completed:
                assert got == ref.digest()
            else:
                interrupted += 1
                assert got in (before.digest(), ref.digest())
                if got == before.digest():
                    ref = before
        assert interrupted, "the timer never interrupted an update"
        assert h.digest() == ref.digest()

        # CBC: the chain moves by a whole call or not at all.
        c = AES.new(KEY, AES.MODE_CBC, IV)
        chain = IV
        delays = spread(lambda: AES.new(KEY, AES.MODE_CBC, IV).encrypt(chunk), rounds)
        interrupted = 0
        for delay in delays:
            completed, out = alarm_during(lambda: c.encrypt(chunk), delay)
            after = RefAES.new(KEY, RefAES.MODE_CBC, chain).encrypt(chunk)
            if completed:
                assert out == after
                chain = after[-16:]
                continue
            interrupted += 1
            probe = c.encrypt(b"p" * 16)
            if probe != RefAES.new(KEY, RefAES.MODE_CBC, after[-16:]).encrypt(b"p" * 16):
                assert probe == RefAES.new(KEY, RefAES.MODE_CBC, chain).encrypt(b"p" * 16)
            chain = probe
        assert interrupted, "the timer never interrupted an encryption"

        # GCM composed (a 16-byte nonce): each piece is in the stream whole or not at all.
        if kernel_refusal("hash", "ghash") is not None:  # gone from Linux 7.2 (library code)
            return
        nonce = bytes(16)
        g = AES.new(KEY, AES.MODE_GCM, nonce=nonce)
        pieces: list[memoryview] = []
        probe = b"q" * 100

        def reference(fed: list[memoryview]) -> Any:
            ref = RefAES.new(KEY, RefAES.MODE_GCM, nonce=nonce)
            for piece in fed:
                ref.encrypt(piece)
            return ref

        delays = spread(lambda: AES.new(KEY, AES.MODE_GCM, nonce=nonce).encrypt(chunk), rounds // 2)
        interrupted = 0
        for delay in delays:
            completed, out = alarm_during(lambda: g.encrypt(chunk), delay)
            if completed:
                assert out == reference(pieces).encrypt(chunk)
                pieces.append(chunk)
                continue
            interrupted += 1
            got = g.encrypt(probe)
            if got == reference(pieces + [chunk]).encrypt(probe):
                pieces.append(chunk)
            else:
                assert got == reference(pieces).encrypt(probe)
            pieces.append(memoryview(probe))
        assert interrupted, "the timer never interrupted a GCM piece"
        assert g.digest() == reference(pieces).digest()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def spread(call: Callable[[], object], rounds: int) -> list[float]:
    """Delays spread over the time ``call()`` takes here (this kernel's speed)."""
    start = time.perf_counter()
    call()
    took = time.perf_counter() - start
    return [took * (i + 0.5) / rounds for i in range(rounds)]


def alarm_during(call: Callable[[], Any], delay: float) -> tuple[bool, Any]:
    """``call()`` with SIGALRM after ``delay`` s: (whether it returned, its result).

    The timer fires once, so at most one Interrupt comes, wherever it lands: a
    call that returned just before it still counts as interrupted (its result lost).
    """
    completed, result = False, None
    try:
        signal.setitimer(signal.ITIMER_REAL, delay)
        result = call()
        completed = True
        signal.setitimer(signal.ITIMER_REAL, 0)
    except Interrupt:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return completed, result
