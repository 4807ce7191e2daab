"""One keyed algorithm on ``/dev/crypto``: its sessions (``CIOCGSESSION``), the crypto_tfm.

A session is cryptodev-linux's keyed transform, with one hash state of its own.

* **Cipher and AEAD** requests carry their IV and keep nothing between them, so
  one session serves every request of the transform, from any thread (the
  driver locks a session per ioctl): :attr:`Transform.sockets` hands it out.
* **Hashes**: each op handle is a session holding one hash state
  (:attr:`Transform.fds`, a pool of idle ones); ``CIOCCPHASH`` copies a state
  into another session (:meth:`Transform.clone_fd`).  A new session needs the
  key, so an HMAC transform keeps its key (a longer key than the driver takes
  is hashed first, as HMAC itself would); cipher keys are not kept.

Binding is the probe, as for AF_ALG: the first session, made at once (with a
probe key of a valid size for a cipher: the kernel's answer tells whether it has
the algorithm), and named by ``CIOCGSESSINFO`` for :meth:`Transform.info`.

After ``fork()`` both processes share the device's open file and its sessions:
the cipher session goes on serving both, so no process frees it any more
(:func:`before_fork`); the child forgets the pooled hash sessions (the parent's).
"""

from __future__ import annotations

import errno
import weakref
from .. import _libc, _syscalls, forksafe, procfs
from ..backend_info import BackendInfo
from ..errors import cryptodev_refusal, interface_lacks
from ..pool import OpKind, OpPool
from . import abi, device, hashing, requests

#: Every live transform (see :func:`before_fork`, :func:`after_fork_in_child`).
_live: weakref.WeakSet[Transform] = weakref.WeakSet()

INTERFACE = "cryptodev"


def offered() -> str:
    """What the driver offers, for errors."""
    return ", ".join(name for _, name in abi.kernel_names())


def _new_session(fd: int, ids: tuple[int, int], key: bytes | None, mackey: bytes | None) -> int:
    """``CIOCGSESSION``: a session of the cipher or mac ``ids`` with its key; its id."""
    ffi, _ = _libc.libc()
    sop = ffi.new("struct session_op *")
    sop.cipher, sop.mac = ids
    keep = []
    if key is not None:
        keep.append(ffi.new("uint8_t[]", key or b"\0"))
        sop.key, sop.keylen = keep[-1], len(key)
    if mackey is not None:
        keep.append(ffi.new("uint8_t[]", mackey or b"\0"))
        sop.mackey, sop.mackeylen = keep[-1], len(mackey)
    _syscalls.kernel.ioctl(fd, abi.ioctls()["CIOCGSESSION"], sop)
    return int(sop.ses)


class _SharedSession:
    """The pool of a cipher transform: its one session, handed to every request."""

    __slots__ = ("_tfm",)

    def __init__(self, tfm: Transform):
        self._tfm = tfm

    def take(self) -> int:
        return self._tfm.session

    def give(self, op: int) -> None:
        pass

    def discard(self, op: int) -> None:
        pass  # it holds nothing between requests

    def __len__(self) -> int:
        return 0

    def drain(self) -> int:
        return 0


class Transform:
    """One algorithm (and key) on ``/dev/crypto``: a session, and a pool of hash sessions.

    Attributes:
        kind: the type ('hash', 'skcipher', 'aead').
        name: the kernel algorithm name.
        session: the first session (a cipher's only one; a hash's first pooled one).
        sockets: op handles for cipher and AEAD requests (the one session).
        fds: idle hash sessions, each in its initial state.
        hashing, requests: this interface's request modules (see :mod:`_kcapi.interface`).
    """

    interface = INTERFACE
    hashing = hashing
    requests = requests

    __slots__ = ("kind", "name", "fd", "session", "sockets", "fds", "_ids", "_mackey",
                 "_shared", "_info", "_named", "__weakref__")

    def __init__(self, kind: str, name: str, key: bytes | None = None,
                 authsize: int | None = None):
        ids = abi.ALGORITHMS.get((kind, name))
        if ids is None:
            raise interface_lacks(kind, name, device.path(), offered())
        self.kind, self.name, self._ids = kind, name, ids
        self.fd = device.descriptor(kind, name)
        self._shared = False
        self._info: BackendInfo | None = None
        self._named: tuple[str, bool] | None | object = _UNASKED
        self._mackey: bytes | None = None
        cipher_key: bytes | None = None
        if kind == "hash":
            if name.startswith("hmac("):
                self._mackey = b"" if key is None else self._fit_mac_key(key)
        else:
            cipher_key = abi.probe_key(name) if key is None else key
        try:
            self.session = _new_session(self.fd, ids, cipher_key, self._mackey)
        except OSError as exc:
            if key is not None and exc.errno == errno.EINVAL:
                raise ValueError(f"the kernel rejected a {len(key)}-byte key for '{name}'") from None
            raise cryptodev_refusal(exc, "session", kind, name, device.path()) from None
        self.sockets = _SharedSession(self)
        self.fds: OpPool[int] = OpPool(self, _HASH_SESSIONS)
        if kind == "hash":
            self.fds.give(self.session)
        forksafe.install()
        _live.add(self)

    def _fit_mac_key(self, key: bytes) -> bytes:
        """An HMAC key the driver takes: one longer than it takes is hashed first (HMAC's
        own rule for keys longer than the block, and such keys are)."""
        if len(key) <= abi.CRYPTO_HMAC_MAX_KEY_LEN:
            return key
        inner = self.name[len("hmac("):-1]
        plain = abi.ALGORITHMS[("hash", inner)]
        ses = _new_session(self.fd, plain, None, None)
        try:
            return hashing.one_shot(self.fd, ses, key, _DIGEST_SIZES[inner])
        finally:
            hashing.close(ses)

    def new_session(self) -> int:
        """A new hash session in its initial state (the key again, for an HMAC)."""
        return _new_session(self.fd, self._ids, None, self._mackey)

    def clone_fd(self, op: int) -> int:
        """A session holding a copy of the hash state of session ``op`` (``CIOCCPHASH``)."""
        new = self.fds.take()
        try:
            hashing.copy_state(self.fd, new, op)
        except BaseException:
            self.fds.discard(new)
            raise
        return new

    def idle_count(self) -> int:
        """How many idle hash sessions the pool holds."""
        return len(self.fds)

    def drop_idle(self) -> int:
        """Sessions are no descriptors: nothing to free when descriptors run out."""
        return 0

    def forget_idle(self) -> None:
        """In a forked child: forget the pooled sessions (the parent's), freeing none."""
        self.fds.forget()

    def session_info(self) -> tuple[str, bool] | None:
        """``(driver name, driver only)`` as ``CIOCGSESSINFO`` gives them, asked once
        (see :func:`_ask_session_info`)."""
        if self._named is _UNASKED:
            self._named = _ask_session_info(self)
        return self._named  # type: ignore[return-value]

    def driver(self) -> procfs.Driver | None:
        """The ``/proc/crypto`` entry of the driver ``CIOCGSESSINFO`` names (``None`` if none)."""
        named = self.session_info()
        if named is None:
            return None
        return next((d for d in procfs.read() if d.driver == named[0]), None)

    def driver_only(self) -> bool:
        """Whether the driver is one only the kernel can use (SIOP_FLAG_KERNEL_DRIVER_ONLY)."""
        named = self.session_info()
        return named is not None and named[1]

    def info(self) -> BackendInfo:
        """The driver serving this transform, as ``CIOCGSESSINFO`` names it (cached)."""
        if self._info is None:
            self._info = _describe(self)
        return self._info

    def __del__(self) -> None:
        fds = getattr(self, "fds", None)
        if fds is not None:
            fds.drain()
        session = getattr(self, "session", None)
        if session is not None and self.kind != "hash" and not self._shared:
            try:
                hashing.close(session)
            except Exception:  # interpreter shutdown
                pass


_DIGEST_SIZES = {"md5": 16, "sha1": 20, "rmd160": 20, "sha224": 28, "sha256": 32,
                 "sha384": 48, "sha512": 64}


def _free_now(ses: int) -> None:
    """Free a session, never raising (finalizers)."""
    try:
        hashing.close(ses)
    except Exception:
        pass


_HASH_SESSIONS: OpKind[int] = OpKind(
    accept=lambda tfm: tfm.new_session(),
    close=hashing.close,
    close_now=_free_now)

#: :attr:`Transform._named` before ``CIOCGSESSINFO`` was asked.
_UNASKED = object()


def _ask_session_info(tfm: Transform) -> tuple[str, bool] | None:
    """``CIOCGSESSINFO`` on the transform's session: ``(driver name, driver only)``, the
    latter SIOP_FLAG_KERNEL_DRIVER_ONLY (an offload engine, not generic C or CPU
    instructions); ``None`` when the driver will not say."""
    ffi, _ = _libc.libc()
    siop = ffi.new("struct session_info_op *")
    siop.ses = tfm.session
    try:
        _syscalls.kernel.ioctl(tfm.fd, abi.ioctls()["CIOCGSESSINFO"], siop)
    except OSError:
        return None
    info = siop.hash_info if tfm.kind == "hash" else siop.cipher_info
    driver = ffi.string(info.cra_driver_name).decode(errors="replace")
    return driver, bool(siop.flags & abi.SIOP_FLAG_KERNEL_DRIVER_ONLY)


def _describe(tfm: Transform) -> BackendInfo:
    """The driver ``CIOCGSESSINFO`` names, with its priority from ``/proc/crypto``; a
    driver-only one is an offload engine whatever its name says."""
    named = tfm.session_info()
    if named is None:
        return BackendInfo("kernel", tfm.name, "unknown", 0, "unknown", interface=INTERFACE)
    driver, driver_only = named
    found = tfm.driver()
    priority = found.priority if found is not None else 0
    if driver_only:
        implementation = "offload"
    else:
        implementation = found.implementation if found is not None else "unknown"
    return BackendInfo("kernel", tfm.name, driver, priority, implementation, interface=INTERFACE)


def before_fork() -> None:
    """Before a fork: every cipher session will be used by both processes, so none of them
    is freed from now on (by either process)."""
    for tfm in list(_live):
        tfm._shared = True


def after_fork_in_child() -> None:
    """In a forked child: forget the pooled hash sessions (the parent's)."""
    for tfm in list(_live):
        tfm.forget_idle()


def live_transforms() -> list[Transform]:
    """Every live transform."""
    return list(_live)
