"""Stand-ins for the core's syscall layer, to provoke kernel answers anywhere: every fake is here.

Every fake kernel of the tests is defined here, each a :class:`_kcapi._syscalls.Kernel`
subclass installed as ``_syscalls.kernel``:

- :class:`RefusingKernel` (fixture ``fake_kernel``) refuses one step on any kernel, even
  none; ``restriction_files`` points ``_kcapi.restriction`` at the test's own files.
- :class:`EmulatedHashes` (fixture ``emulated_kernel``): algif_hash emulated with hashlib,
  at the level of the layer's methods.
- The real layer with its calls recorded (:class:`CountingKernel`, :class:`Recording`),
  failed (:class:`FailingSend`, :class:`FailingHashSend`, :class:`FaultyKernel`,
  :class:`RefusingBinds`), interrupted (:class:`InterruptedReceives`), slowed
  (:class:`PausingAfterSend`, :class:`SlowReceive`) or cut short (:class:`ShortAeadSend`,
  :class:`ShortAeadRecv`); :class:`AcceptingKernel` binds and keys anything.
- :class:`DeviceKernel`: ``/dev/crypto`` refusing its open or its sessions (the
  tests of tests/cryptodev/test_errors.py).
- :class:`EmulatedAfAlg`: AF_ALG emulated with hashlib and PyCryptodome at the level of
  the system calls (hash op sockets are real descriptors of /dev/null driven through a
  stand-in for cffi's C library, so ``Kernel.send_recorded`` and the other cffi paths run
  their real code); the interrupt tests run on it.
"""

from __future__ import annotations

import collections
import errno
import hashlib
import hmac as std_hmac
import os
import socket
import struct
import threading
import time
from typing import Any

import pytest
from Crypto.Cipher import AES, DES3, ChaCha20, ChaCha20_Poly1305
from Crypto.Cipher._mode_gcm import _GHASH, _ghash_portable
from Crypto.Hash import CMAC
from Crypto.Hash.Poly1305 import Poly1305_MAC

from _kcapi import _libc, _syscalls, transform
from _kcapi.cryptodev import abi
from _kcapi._constants import (ALG_OP_ENCRYPT, ALG_SET_AEAD_ASSOCLEN, ALG_SET_AEAD_AUTHSIZE,
                               ALG_SET_IV, ALG_SET_KEY, ALG_SET_KEY_BY_KEY_SERIAL, ALG_SET_OP,
                               MSG_MORE, SOL_ALG)


class RefusingKernel(_syscalls.Kernel):
    """Fails ``step`` ('socket', 'bind', 'setsockopt', 'accept', 'any') with ``err``.

    The steps before it succeed without a kernel: ``socket()`` hands out an
    AF_UNIX placeholder, so a refusal at ``bind`` can be provoked on a host
    without AF_ALG too.
    """

    def __init__(self, step: str, err: int):
        self.step = step
        self.err = err
        self.calls: list[str] = []

    def _maybe_fail(self, step: str) -> None:
        self.calls.append(step)
        if self.step in (step, "any"):
            raise OSError(self.err, os.strerror(self.err))

    def socket(self):
        self._maybe_fail("socket")
        return socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)

    def bind(self, sock, kind, name):
        self._maybe_fail("bind")

    def setsockopt(self, sock, option, value, length=0):
        self._maybe_fail("setsockopt")
        return super().setsockopt(sock, option, value, length)

    def accept(self, sock):
        self._maybe_fail("accept")
        return super().accept(sock)


@pytest.fixture
def fake_kernel(monkeypatch):
    """Install a refusing syscall layer; returns a function (step, errno) -> fake.

    The process looks like one on a kernel without ``af_alg_restrict`` (whatever
    this kernel has) unless the test sets ``restriction_files`` itself.
    """

    from _kcapi import restriction

    monkeypatch.setattr(restriction, "SYSCTL", restriction.SYSCTL.with_name("absent"))

    def install(step: str, err: int = errno.EAFNOSUPPORT) -> RefusingKernel:
        fake = RefusingKernel(step, err)
        transform.clear()
        monkeypatch.setattr(_syscalls, "kernel", fake)
        return fake

    yield install
    transform.clear()  # forget the refusals the fake caused


@pytest.fixture
def restriction_files(tmp_path, monkeypatch):
    """Point ``_kcapi.restriction`` at files of the test's own; returns a setter.

    ``set_files(setting, caps=0, uid_map="0 0 4294967295")``: ``setting`` None
    means a kernel without ``af_alg_restrict``; ``caps`` is the CapEff mask.
    Until called, the process looks like one on a kernel without the setting.
    """
    from _kcapi import restriction

    def set_files(setting: int | None, caps: int = 0, uid_map: str = "0 0 4294967295") -> None:
        sysctl = tmp_path / "af_alg_restrict"
        if setting is None:
            sysctl.unlink(missing_ok=True)
        else:
            sysctl.write_text(f"{setting}\n")
        (tmp_path / "status").write_text(f"Name:\tpython\nCapEff:\t{caps:016x}\n")
        (tmp_path / "uid_map").write_text(f"{uid_map}\n")
        monkeypatch.setattr(restriction, "SYSCTL", sysctl)
        monkeypatch.setattr(restriction, "STATUS", tmp_path / "status")
        monkeypatch.setattr(restriction, "UID_MAP", tmp_path / "uid_map")

    set_files(None)
    return set_files


class EmulatedHashes(_syscalls.Kernel):
    """algif_hash emulated with hashlib, for the kernel path's logic where no kernel can run it.

    Op sockets are real descriptors (of /dev/null) so that closing them is real;
    their hash state lives here: ``accept`` on the bound socket gives a fresh
    state, on an op socket a copy; a send without MSG_MORE or a read finalizes.
    """

    def __init__(self):
        self.names: dict[int, str] = {}
        self.state: dict[int, object] = {}
        self.result: dict[int, bytes] = {}
        self.parent: dict[int, int] = {}
        self.sent_sizes: list[int] = []

    def socket(self):
        return socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)

    def bind(self, sock, kind, name):
        self.names[sock.fileno()] = name

    def setsockopt(self, sock, option, value, length=0):
        raise OSError(errno.ENOPROTOOPT, "emulated hashes take no keys")

    def accept_fd(self, fd):
        new = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        if fd in self.names:  # the bound socket: a fresh op socket
            self.parent[new] = fd
        else:
            self.parent[new] = self.parent[fd]
            if self.state.get(fd) is not None:
                self.state[new] = self.state[fd].copy()
        return new

    def send_fd(self, fd, buffers, flags=0):
        import hashlib

        name = self.names[self.parent[fd]].replace("-", "_")
        state = self.state.get(fd) or hashlib.new(name)
        for b in buffers:
            self.sent_sizes.append(len(b))
            state.update(b)
        if flags & MSG_MORE:
            self.state[fd] = state
        else:
            self.state[fd] = None
            self.result[fd] = state.digest()

    def send_recorded(self, fd, buffers, flags, record):
        self.send_fd(fd, buffers, flags)
        record.extend((sum(len(b) for b in buffers), 0))

    def read_fd(self, fd, size):
        import hashlib

        if fd in self.result:
            return self.result.pop(fd)[:size]
        state = self.state.pop(fd, None)
        if state is None:
            state = hashlib.new(self.names[self.parent[fd]].replace("-", "_"))
        return state.digest()[:size]

    def close_fd(self, fd):
        self.state.pop(fd, None)
        self.result.pop(fd, None)
        self.parent.pop(fd, None)
        os.close(fd)


@pytest.fixture
def emulated_kernel(monkeypatch):
    """Install :class:`EmulatedHashes` as the syscall layer (hashes only)."""
    fake = EmulatedHashes()
    transform.clear()
    monkeypatch.setattr(_syscalls, "kernel", fake)
    yield fake
    transform.clear()


# -- the real layer, with calls recorded, failed, slowed or cut short ----------------


class Recording(_syscalls.Kernel):
    """Counts the calls that matter here: AEAD sends, skcipher sends, receives."""

    def __init__(self) -> None:
        self.aead_sends = 0
        self.other_sends = 0
        self.recvs: list[int] = []
        self.errors: list[int] = []

    def sendmsg(self, sock, buffers, ancdata=(), flags=0):
        if any(kind == ALG_SET_AEAD_ASSOCLEN for _, kind, _ in ancdata):
            self.aead_sends += 1
        else:
            self.other_sends += 1
        return super().sendmsg(sock, buffers, ancdata, flags)

    def recv_into(self, sock, buffer, size=0):
        try:
            got = super().recv_into(sock, buffer, size)
        except OSError as exc:
            self.errors.append(exc.errno)
            raise
        self.recvs.append(got)
        return got


class FailingSend(_syscalls.Kernel):
    def __init__(self, err: int, after: int = 0) -> None:
        self.err = err
        self.after = after

    def sendmsg(self, sock, buffers, ancdata=(), flags=0):
        if self.after <= 0:
            raise OSError(self.err, os.strerror(self.err))
        self.after -= 1
        return super().sendmsg(sock, buffers, ancdata, flags)


class ShortAeadSend(_syscalls.Kernel):
    """The socket buffer takes only part of a one-shot message (MSG_DONTWAIT)."""

    def __init__(self, blocking: bool) -> None:
        self.blocking = blocking
        self.refused = 0

    def sendmsg(self, sock, buffers, ancdata=(), flags=0):
        if any(kind == ALG_SET_AEAD_ASSOCLEN for _, kind, _ in ancdata):
            assert flags & socket.MSG_DONTWAIT
            self.refused += 1
            if self.blocking:
                raise BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN))
            return super().sendmsg(sock, [memoryview(buffers[0])[:1]], ancdata, flags)
        return super().sendmsg(sock, buffers, ancdata, flags)


class ShortAeadRecv(_syscalls.Kernel):
    def recv_into(self, sock, buffer, size=0):
        got = super().recv_into(sock, buffer, size)
        return got - 1 if got > 16 else got


class RefusingBinds(_syscalls.Kernel):
    """Binds fail with ENOENT for the listed (kind, name), or every name of a kind."""

    def __init__(self, refused: set[tuple[str, str]]) -> None:
        self.refused = refused

    def bind(self, sock, kind, name):
        if (kind, name) in self.refused or (kind, "*") in self.refused:
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT))
        return super().bind(sock, kind, name)


class PausingAfterSend(_syscalls.Kernel):
    """After each request is sent, let the other process run, then read the result."""

    def __init__(self, sent: int, resume: int):
        self.sent, self.resume = sent, resume

    def sendmsg(self, sock, buffers, ancdata=(), flags=0):
        taken = super().sendmsg(sock, buffers, ancdata, flags)
        os.write(self.sent, b"s")
        os.read(self.resume, 1)
        return taken


class SlowReceive(_syscalls.Kernel):
    """Receives that take their time, logging when they start and end."""

    def __init__(self, log: list[str], started: threading.Event):
        self.log, self.started = log, started

    def recv_into(self, sock, buffer, size=0):
        self.log.append("receive starts")
        self.started.set()
        time.sleep(0.3)
        got = super().recv_into(sock, buffer, size)
        self.log.append("receive ends")
        return got


class FaultySocket:
    """A socket whose next call of one kind misbehaves once (or ``count`` times for EINTR)."""

    def __init__(self, sock: Any, fault: tuple | None):
        self._sock = sock
        self._fault = fault
        self._left = fault[1] if fault and fault[0] == "eintr" else 1

    def _misbehave(self) -> tuple | None:
        fault = self._fault
        if fault is None or self._left == 0:
            return None
        self._left -= 1
        if fault[0] == "eintr":
            raise InterruptedError(errno.EINTR, "Interrupted system call")
        if fault[0] == "errno":
            raise OSError(fault[1], os.strerror(fault[1]))
        return fault

    def sendmsg(self, buffers, ancdata=(), flags=0):
        fault = self._misbehave()
        if fault is not None and fault[0] == "short":  # the kernel takes only the first bytes
            return self._sock.sendmsg([memoryview(b"".join(bytes(b) for b in buffers))[:fault[1]]],
                                      ancdata, flags)
        return self._sock.sendmsg(buffers, ancdata, flags)

    def recv_into(self, buffer, size=0):
        fault = self._misbehave()
        if fault is not None and fault[0] == "short":
            return self._sock.recv_into(buffer, fault[1])
        got = self._sock.recv_into(buffer, size)
        if fault is not None and fault[0] == "truncate":  # all processed, less reported
            return min(got, fault[1])
        return got

    def recvmsg_into(self, buffers):
        fault = self._misbehave()
        if fault is not None and fault[0] == "short":
            return self._sock.recvmsg_into([memoryview(buffers[0])[:fault[1]]])
        return self._sock.recvmsg_into(buffers)

    def accept(self):
        self._misbehave()
        return self._sock.accept()


class FaultyKernel(_syscalls.Kernel):
    """The real syscall layer, with faults planned per call: ``{'recv': {2: ('errno', ENOMEM)}}``.

    Faults: ``('eintr', n)`` -- interrupted n times (the layer must retry);
    ``('errno', e)`` -- fails with ``e``; ``('short', n)`` -- moves only n bytes;
    ``('truncate', n)`` -- a receive that reports at most n of the bytes it got.
    Kinds: ``sendmsg``, ``recv`` (recv_into and recvmsg_into), ``accept``.
    """

    def __init__(self, **plan: dict[int, tuple]):
        self.plan = plan
        self.counts: collections.Counter[str] = collections.Counter()

    def _wrap(self, kind: str, sock: Any) -> FaultySocket:
        self.counts[kind] += 1
        return FaultySocket(sock, self.plan.get(kind, {}).get(self.counts[kind]))

    def sendmsg(self, sock, buffers, ancdata=(), flags=0):
        return super().sendmsg(self._wrap("sendmsg", sock), buffers, ancdata, flags)

    def recv_into(self, sock, buffer, size=0):
        return super().recv_into(self._wrap("recv", sock), buffer, size)

    def recvmsg_into(self, sock, buffers):
        return super().recvmsg_into(self._wrap("recv", sock), buffers)

    def accept(self, sock):
        return super().accept(self._wrap("accept", sock))


class AcceptingKernel(_syscalls.Kernel):
    """Binds and keys anything (AF_UNIX placeholders), recording every setsockopt."""

    def __init__(self, refuse_serial: int | None = None):
        self.options: list[tuple[int, bytes | None, int]] = []
        self.refuse_serial = refuse_serial

    def socket(self):
        return socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)

    def bind(self, sock, kind, name):
        pass

    def setsockopt(self, sock, option, value, length=0):
        self.options.append((option, value, length))
        if option == ALG_SET_KEY_BY_KEY_SERIAL and self.refuse_serial is not None:
            raise OSError(self.refuse_serial, os.strerror(self.refuse_serial))


class CountingKernel(_syscalls.Kernel):
    """The real syscall layer, recording its calls: ``(name, bytes)`` in order.

    Recorded: sendmsg, recv (recv_into and recvmsg_into), accept, close, splice.
    ``fail_at={name: n or range}`` makes the n-th call of that name fail with ``err``.
    """

    def __init__(self, fail_at: dict[str, int | range] | None = None, err: int = errno.ENOMEM):
        self.calls: list[tuple[str, int]] = []
        self.fail_at = fail_at or {}
        self.err = err

    def _note(self, name: str, size: int) -> None:
        self.calls.append((name, size))
        count = sum(1 for n, _ in self.calls if n == name)
        at = self.fail_at.get(name)
        if at == count or (isinstance(at, range) and count in at):
            raise OSError(self.err, os.strerror(self.err))

    def sendmsg(self, sock, buffers, ancdata=(), flags=0):
        self._note("sendmsg", sum(memoryview(b).nbytes for b in buffers))
        return super().sendmsg(sock, buffers, ancdata, flags)

    def recv_into(self, sock, buffer, size=0):
        self._note("recv", memoryview(buffer).nbytes)
        return super().recv_into(sock, buffer, size)

    def recvmsg_into(self, sock, buffers):
        self._note("recv", sum(memoryview(b).nbytes for b in buffers))
        return super().recvmsg_into(sock, buffers)

    def accept(self, sock):
        self._note("accept", 0)
        return super().accept(sock)

    def close(self, sock):
        self.calls.append(("close", 0))
        return super().close(sock)

    def splice(self, *args, **kwargs):
        self.calls.append(("splice", 0))
        return super().splice(*args, **kwargs)

    @property
    def splices(self) -> int:
        return sum(1 for n, _ in self.calls if n == "splice")

    def names(self) -> list[str]:
        return [n for n, _ in self.calls]


class InterruptedReceives(_syscalls.Kernel):
    """The real syscall layer whose first ``left`` receives fail with EINTR (to be retried)."""

    def __init__(self, left: int = 2):
        self.left = left

    def recv_into(self, sock, buffer, size=0):
        def first():
            if self.left:
                self.left -= 1
                raise InterruptedError(errno.EINTR, "Interrupted system call")
            return sock.recv_into(buffer, size)
        return _syscalls._retry(first)


class FailingHashSend(_syscalls.Kernel):
    """Every hash send fails with ENOMEM (after recording the outcome, as the real one does)."""

    def send_fd(self, *args, **kwargs):
        raise OSError(errno.ENOMEM, "no memory")

    def send_recorded(self, fd, buffers, flags, record):
        record.extend((-1, errno.ENOMEM))  # as the real one does: the outcome first
        raise OSError(errno.ENOMEM, "no memory")


class FlakyLib:
    """Stands in for the cffi C library: fails or shortens the next calls of one function."""

    def __init__(self, ffi, lib, name: str, plan: list):
        self._ffi, self._lib, self._name, self._plan = ffi, lib, name, plan

    def __getattr__(self, attr):
        real = getattr(self._lib, attr)
        if attr != self._name:
            return real

        def call(*args):
            if self._plan:
                step = self._plan.pop(0)
                if step[0] == "errno":
                    self._ffi.errno = step[1]
                    return -1
                if step[0] == "short":  # send only the first step[1] bytes
                    args = list(args)
                    args[2] = min(args[2], step[1])
                    return real(*args)
            return real(*args)
        return call



# -- the emulated kernel ----------------------------------------------------------------------

#: The stand-in system calls (Kernel's methods that the emulation overrides).
EMULATED_SYSCALLS = frozenset({"socket", "bind", "setsockopt", "accept", "sendmsg", "recv_into",
                       "recvmsg_into", "getsockopt", "close", "read_fd", "close_fd", "splice"})


class _Bound:
    """A bound AF_ALG socket of the emulation (its descriptor is /dev/null's)."""

    def __init__(self) -> None:
        self.fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        self.kind = self.name = ""
        self.key: bytes | None = None
        self.authsize = 0

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _hash_digest(bound: _Bound, data: bytes) -> bytes:
    """The kernel's digest of ``data`` for the bound hash."""
    name, key = bound.name, bound.key
    if name.startswith("hmac("):
        return std_hmac.new(key or b"", data, name[5:-1].replace("-", "_")).digest()
    if name == "cmac(aes)":
        return CMAC.new(key, data, AES).digest()
    if name == "ghash":
        padded = data + bytes(-len(data) % 16)
        return _GHASH(key, _ghash_portable).update(padded).digest() if padded else bytes(16)
    if name == "cbcmac(aes)":
        if not data:
            return bytes(16)
        padded = data + bytes(-len(data) % 16)
        return AES.new(key, AES.MODE_CBC, bytes(16)).encrypt(padded)[-16:]
    if name == "poly1305":
        return Poly1305_MAC(data[:16], data[16:32], data[32:]).digest()
    return hashlib.new(name.replace("-", "_"), data).digest()


def _skcipher(bound: _Bound, encrypt: bool, iv: bytes, data: bytes) -> bytes:
    key, name = bound.key, bound.name
    if name == "chacha20":  # IV: le32 counter || 12-byte nonce
        c = ChaCha20.new(key=key, nonce=iv[4:])
        c.seek(int.from_bytes(iv[:4], "little") * 64)
    elif name == "xchacha20":  # IV: 24-byte nonce || le64 counter
        c = ChaCha20.new(key=key, nonce=iv[:24])
        c.seek(int.from_bytes(iv[24:], "little") * 64)
    else:
        mode, cipher = name[:-1].split("(")
        module = {"aes": AES, "des3_ede": DES3}[cipher]
        if mode == "ecb":
            c = module.new(key, module.MODE_ECB)
        elif mode == "xts":  # IV: the data unit's tweak; one request is one unit
            c = module.new(key, module.MODE_XTS, tweak=iv)
        elif mode == "ctr":
            c = module.new(key, module.MODE_CTR, nonce=b"", initial_value=iv)
        elif mode == "cfb":
            c = module.new(key, module.MODE_CFB, iv, segment_size=8 * module.block_size)
        else:
            c = module.new(key, {"cbc": module.MODE_CBC, "ofb": module.MODE_OFB}[mode], iv)
    return c.encrypt(data) if encrypt else c.decrypt(data)


def _aead(bound: _Bound, encrypt: bool, iv: bytes, assoclen: int, data: bytes) -> bytes | None:
    """algif_aead: AAD || PT -> AAD || CT || TAG, AAD || CT || TAG -> AAD || PT (None: EBADMSG)."""
    key, tag_len = bound.key, bound.authsize
    aad, body = data[:assoclen], data[assoclen:]
    if not encrypt:
        body, tag = body[:len(body) - tag_len], body[len(body) - tag_len:]
    if bound.name == "gcm(aes)":
        c = AES.new(key, AES.MODE_GCM, nonce=iv, mac_len=tag_len)
    elif bound.name == "ccm(aes)":
        q = iv[0] + 1
        c = AES.new(key, AES.MODE_CCM, nonce=iv[1:16 - q], mac_len=tag_len, msg_len=len(body),
                    assoc_len=len(aad))
    else:
        c = ChaCha20_Poly1305.new(key=key, nonce=iv)
    c.update(aad)
    if encrypt:
        ct, tag = c.encrypt_and_digest(body)
        return aad + ct + tag
    try:
        return aad + c.decrypt_and_verify(body, tag)
    except ValueError:
        return None


_HASHES = {"sha1", "sha256", "sha512", "md5", "cmac(aes)", "ghash", "cbcmac(aes)", "poly1305"}
_SKCIPHERS = {"cbc(aes)", "ecb(aes)", "ctr(aes)", "cfb(aes)", "ofb(aes)", "xts(aes)", "cbc(des3_ede)",
              "ecb(des3_ede)", "ctr(des3_ede)", "chacha20", "xchacha20"}
_AEADS = {"gcm(aes)", "ccm(aes)", "rfc7539(chacha20,poly1305)"}


class _Op:
    """An skcipher or AEAD op socket of the emulation."""

    def __init__(self, bound: _Bound):
        self.bound = bound
        self.out = bytearray()
        self.bad = False  # a wrong tag: the next receive fails with EBADMSG
        self.closed = False

    def close(self) -> None:
        self.closed = True


class _FakeLib:
    """The C library functions hash op sockets use, emulating algif_hash on /dev/null descriptors."""

    def __init__(self, kernel: EmulatedAfAlg, ffi: Any, real: Any):
        self.k = kernel
        self.ffi = ffi
        self.real = real

    def accept4(self, fd: int, addr: Any, addrlen: Any, flags: int) -> int:
        return self.k._accept_fd(fd)

    def send(self, fd: int, ptr: Any, length: int, flags: int) -> int:
        return self.k._hash_send(fd, [bytes(self.ffi.buffer(ptr, length))], flags)

    def sendmsg(self, fd: int, msg: Any, flags: int) -> int:
        pieces = [bytes(self.ffi.buffer(msg.msg_iov[i].iov_base, msg.msg_iov[i].iov_len))
                  for i in range(msg.msg_iovlen)]
        return self.k._hash_send(fd, pieces, flags)

    def __getattr__(self, name: str) -> Any:
        # The real library's (ioctl for a /dev/crypto session finalized meanwhile, ...):
        # not _libc.libc()'s, which is this emulation while it is installed.
        return getattr(self.real, name)


class EmulatedAfAlg(_syscalls.Kernel):
    """AF_ALG emulated at the system call level (hashes, skciphers, AEADs).

    ``calls`` counts the stand-in system calls; the hash sends whose numbers are
    in ``eintr_at`` fail with EINTR (``eintrs`` counts those), which the real
    layer must retry.
    """

    def __init__(self) -> None:
        self.calls = 0
        self.eintr_at: set[int] = set()
        self.eintrs = 0
        self._bound: dict[int, _Bound] = {}
        self._hash_parent: dict[int, _Bound] = {}
        self._hash_data: dict[int, bytearray | None] = {}
        self._hash_result: dict[int, bytes] = {}
        self.lock = threading.Lock()

    # -- bookkeeping --

    def _syscall(self) -> None:
        self.calls += 1

    def lib(self, real: tuple[Any, Any]) -> tuple[Any, Any]:
        """``(ffi, lib)`` with this emulation's C functions."""
        ffi = real[0]
        return ffi, _FakeLib(self, ffi, real[1])

    # -- bound sockets --

    def socket(self) -> Any:
        self._syscall()
        bound = _Bound()
        self._bound[bound.fd] = bound
        return bound

    def bind(self, sock: Any, kind: str, name: str) -> None:
        self._syscall()
        known = {"hash": _HASHES, "skcipher": _SKCIPHERS, "aead": _AEADS}.get(kind, set())
        if name not in known and not (kind == "hash" and name.startswith("hmac(")):
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT))
        sock.kind, sock.name = kind, name

    def setsockopt(self, sock: Any, option: int, value: bytes | None, length: int = 0) -> None:
        self._syscall()
        if option == ALG_SET_KEY:
            sock.key = bytes(value or b"")
        elif option == ALG_SET_AEAD_AUTHSIZE:
            sock.authsize = length
        else:
            raise OSError(errno.ENOPROTOOPT, os.strerror(errno.ENOPROTOOPT))

    def getsockopt(self, sock: Any, level: int, option: int) -> int:
        self._syscall()
        return 212992

    def close(self, sock: Any) -> None:
        self._syscall()
        if isinstance(sock, _Bound):
            self._bound.pop(sock.fd, None)
        sock.close()

    # -- skcipher and aead op sockets --

    def accept(self, sock: Any) -> Any:
        self._syscall()
        return _Op(sock)

    def sendmsg(self, sock: Any, buffers: Any, ancdata: Any = (), flags: int = 0) -> int:
        self._syscall()
        data = b"".join(bytes(b) for b in buffers)
        encrypt, iv, assoclen = True, b"", 0
        for level, kind, value in ancdata:
            assert level == SOL_ALG
            if kind == ALG_SET_OP:
                encrypt = struct.unpack("I", value)[0] == ALG_OP_ENCRYPT
            elif kind == ALG_SET_IV:
                iv = bytes(value[4:4 + struct.unpack("I", value[:4])[0]])
            elif kind == ALG_SET_AEAD_ASSOCLEN:
                assoclen = struct.unpack("I", value)[0]
        bound = sock.bound
        if bound.kind == "aead":
            result = _aead(bound, encrypt, iv, assoclen, data)
            sock.bad = result is None
            sock.out += b"" if result is None else result
        else:
            sock.out += _skcipher(bound, encrypt, iv, data)
        return len(data)

    def recv_into(self, sock: Any, buffer: Any, size: int = 0) -> int:
        return self.recvmsg_into(sock, [memoryview(buffer)[:size or len(buffer)]])

    def recvmsg_into(self, sock: Any, buffers: Any) -> int:
        self._syscall()
        if sock.bad:
            sock.bad = False
            raise OSError(errno.EBADMSG, os.strerror(errno.EBADMSG))
        got = 0
        for buf in buffers:
            view = memoryview(buf).cast("B")
            n = min(view.nbytes, len(sock.out))
            view[:n] = sock.out[:n]
            del sock.out[:n]
            got += n
        return got

    # -- hash op sockets (descriptors) --

    def _accept_fd(self, fd: int) -> int:
        self._syscall()
        new = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        if fd in self._bound:
            self._hash_parent[new] = self._bound[fd]
            self._hash_data[new] = None
        else:
            self._hash_parent[new] = self._hash_parent[fd]
            data = self._hash_data[fd]
            self._hash_data[new] = None if data is None else bytearray(data)
        return new

    def _hash_send(self, fd: int, pieces: list[bytes], flags: int) -> int:
        self._syscall()
        if self.calls in self.eintr_at:
            self.eintrs += 1
            _libc.libc()[0].errno = errno.EINTR
            return -1
        data = self._hash_data.get(fd)
        if data is None:
            data = bytearray()
        for piece in pieces:
            data += piece
        if flags & MSG_MORE:
            self._hash_data[fd] = data
        else:
            self._hash_data[fd] = None
            self._hash_result[fd] = _hash_digest(self._hash_parent[fd], bytes(data))
        return sum(len(p) for p in pieces)

    def read_fd(self, fd: int, size: int) -> bytes:
        self._syscall()
        if fd in self._hash_result:
            return self._hash_result.pop(fd)[:size]
        data = self._hash_data.get(fd)
        self._hash_data[fd] = None
        return _hash_digest(self._hash_parent[fd], bytes(data or b""))[:size]

    def close_fd(self, fd: int) -> None:
        self._syscall()
        self._hash_parent.pop(fd, None)
        self._hash_data.pop(fd, None)
        self._hash_result.pop(fd, None)
        os.close(fd)

    def splice(self, src: int, dst: int, count: int, offset: int | None = None,
               flags: int = 0) -> int:
        if dst not in self._hash_parent:
            return super().splice(src, dst, count, offset, flags)
        self._syscall()
        piece = os.read(src, count)
        data = self._hash_data.get(dst)
        if data is None:
            data = bytearray()
        data += piece
        self._hash_data[dst] = data
        return len(piece)


class DeviceKernel(_syscalls.Kernel):
    """``/dev/crypto`` refusing: opens ``/dev/null`` as the device (or refuses with
    ``open_errno``); every CIOCGSESSION fails with ``session_errno``."""

    emulates = "cryptodev"  # (tests/conftest.py: not an AF_ALG stand-in)

    def __init__(self, open_errno: int = 0, session_errno: int = errno.EINVAL):
        self.open_errno = open_errno
        self.session_errno = session_errno
        self.opened: list[int] = []

    def open_device(self, path):
        if self.open_errno:
            raise OSError(self.open_errno, os.strerror(self.open_errno), path)
        fd = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        self.opened.append(fd)
        return fd

    def ioctl(self, fd, request, arg):
        if request == abi.ioctls()["CIOCGSESSION"]:
            raise OSError(self.session_errno, os.strerror(self.session_errno))
        raise AssertionError(f"unexpected ioctl {request:#x}")
