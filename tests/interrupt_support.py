"""Interrupts at every point where CPython could run a signal handler, and a kernel to run them on.

:class:`Injector` traces a call (``sys.settrace`` + ``sys.setprofile``) and
counts the events of our packages' code where CPython checks for pending
signals and may run a Python signal handler -- a function starting (RESUME), a
function or C call returning (the check after CALL), a jump back to a loop's
head (JUMP_BACKWARD) -- and raises an interrupt at the chosen ones (several per call if wanted: the
tracer and the profiler re-arm each other, since CPython drops a trace
function that raises).  The events of the stand-in kernel's system calls count
too: their start (a signal arriving at EINTR: nothing done) and their return
(the call done, its result lost).

:class:`EmulatedKernel` is that stand-in: AF_ALG emulated with hashlib and
PyCryptodome, at the level of the system calls (hash op sockets are real
descriptors of /dev/null driven through a stand-in for cffi's C library, so
``Kernel.send_recorded`` and the other cffi paths run their real code).
"""

from __future__ import annotations

import errno
import hashlib
import hmac as std_hmac
import inspect
import os
import struct
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from Crypto.Cipher import AES, DES3, ChaCha20, ChaCha20_Poly1305
from Crypto.Cipher._mode_gcm import _GHASH, _ghash_portable
from Crypto.Hash import CMAC
from Crypto.Hash.Poly1305 import Poly1305_MAC

import _kcapi
import kcapi_cipher
import kcapi_hashlib
from _kcapi import _libc, _syscalls
from _kcapi._constants import (ALG_OP_ENCRYPT, ALG_SET_AEAD_ASSOCLEN, ALG_SET_AEAD_AUTHSIZE,
                               ALG_SET_IV, ALG_SET_KEY, ALG_SET_OP, MSG_MORE, SOL_ALG)

_OURS = tuple(os.path.dirname(m.__file__) + os.sep for m in (_kcapi, kcapi_cipher, kcapi_hashlib))
#: Functions CPython calls without a CALL instruction: no signal check at their return.
_NOT_CALLED = frozenset({"__enter__", "__exit__"})


class Interrupt(Exception):
    """What the signal handler of these tests raises (not a KeyboardInterrupt: any type works)."""


class Injector:
    """Raise an interrupt at chosen events of the code run inside ``with``.

    Args:
        at: the indexes of the events to raise at (0-based, in order).
        make: builds the exception; the default is ``KeyboardInterrupt``.
        fake: an object whose methods are stand-in system calls (their start
            and return count as events).
    """

    def __init__(self, at: Iterable[int] = (), make: Callable[[], BaseException] = KeyboardInterrupt,
                 fake: Any = None):
        self.at = set(at)
        self.make = make
        self.count = 0
        self.active = False
        self.log: list[tuple[str, str, int]] | None = None
        self._lasti: dict[int, int] = {}
        self._finalizing = 0
        self.fired: list[tuple[int, str, str, int]] = []
        self._fake_codes = set()
        if fake is not None:
            for name in dir(type(fake)):
                func = getattr(type(fake), name, None)
                if name in _SYSCALLS and callable(func) and hasattr(func, "__code__"):
                    self._fake_codes.add(func.__code__)

    def _counts(self, frame: Any, event: str) -> bool:
        """Whether CPython could run a signal handler at this event: a function starting
        (RESUME), a call returning (the check after a call), a loop's back edge."""
        code = frame.f_code
        if code.co_name == "__del__":  # finalizers run at random points: not counted, nor
            self._finalizing += {"call": 1, "return": -1}.get(event, 0)  # what they call
            return False
        if self._finalizing:
            return False
        if code.co_filename.startswith(_OURS):
            if event == "return" and code.co_name in _NOT_CALLED:
                return False
            if code.co_flags & inspect.CO_GENERATOR:
                # Pure computation; and an interrupt in one closed by the garbage collector
                # is only printed ("Exception ignored"), which says nothing about the object.
                return False
            if event == "line":
                last = self._lasti.get(id(frame), -1)
                self._lasti[id(frame)] = frame.f_lasti
                return frame.f_lasti < last  # jumped back: JUMP_BACKWARD checks for signals
            if event == "call":
                self._lasti[id(frame)] = -1
            return True
        if code in self._fake_codes and event in ("call", "return"):
            caller = frame.f_back
            return caller is not None and caller.f_code.co_name != "__del__"
        return False

    def _tick(self, frame: Any, event: str) -> None:
        n = self.count
        self.count += 1
        if self.log is not None:
            self.log.append((event, frame.f_code.co_name, frame.f_lineno))
        if n in self.at:
            self.fired.append((n, event, frame.f_code.co_name, frame.f_lineno))
            raise self.make()

    def _tracer(self, frame: Any, event: str, arg: Any) -> Any:
        if not self.active:
            return None
        if sys.getprofile() is None:
            sys.setprofile(self._profiler)  # the profiler raised last: re-arm it
        if event in ("call", "line", "return") and self._counts(frame, event):
            self._tick(frame, event)
        elif event not in ("call", "line", "return") and frame.f_code.co_filename.startswith(_OURS):
            self._lasti[id(frame)] = frame.f_lasti
        return self._tracer

    def _profiler(self, frame: Any, event: str, arg: Any) -> None:
        if not self.active:
            return
        if sys.gettrace() is None:
            sys.settrace(self._tracer)  # the tracer raised last: re-arm it
        if event == "c_return" and self._counts(frame, event):
            self._lasti[id(frame)] = frame.f_lasti
            self._tick(frame, event)

    def __enter__(self) -> Injector:
        self.active = True
        sys.setprofile(self._profiler)
        sys.settrace(self._tracer)
        return self

    def __exit__(self, *exc: object) -> None:
        self.active = False
        sys.settrace(None)
        sys.setprofile(None)


def count_events(run: Callable[[], object], fake: Any = None) -> int:
    """How many events ``run()`` passes through (no interrupt raised)."""
    with Injector(fake=fake) as counter:
        run()
    return counter.count


def handler_raising(exc_type: type[BaseException] = Interrupt) -> Callable[..., None]:
    """A signal handler that raises ``exc_type``."""
    def handler(signum: int, frame: Any) -> None:
        raise exc_type(f"signal {signum}")
    return handler


# -- the emulated kernel ----------------------------------------------------------------------

#: The stand-in system calls (Kernel's methods that the emulation overrides).
_SYSCALLS = frozenset({"socket", "bind", "setsockopt", "accept", "sendmsg", "recv_into",
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
_SKCIPHERS = {"cbc(aes)", "ecb(aes)", "ctr(aes)", "cfb(aes)", "ofb(aes)", "cbc(des3_ede)",
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

    def __init__(self, kernel: EmulatedKernel, ffi: Any):
        self.k = kernel
        self.ffi = ffi

    def accept4(self, fd: int, addr: Any, addrlen: Any, flags: int) -> int:
        return self.k._accept_fd(fd)

    def send(self, fd: int, ptr: Any, length: int, flags: int) -> int:
        return self.k._hash_send(fd, [bytes(self.ffi.buffer(ptr, length))], flags)

    def sendmsg(self, fd: int, msg: Any, flags: int) -> int:
        pieces = [bytes(self.ffi.buffer(msg.msg_iov[i].iov_base, msg.msg_iov[i].iov_len))
                  for i in range(msg.msg_iovlen)]
        return self.k._hash_send(fd, pieces, flags)

    def __getattr__(self, name: str) -> Any:
        return getattr(_libc.libc()[1], name)


class EmulatedKernel(_syscalls.Kernel):
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
        return ffi, _FakeLib(self, ffi)

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
