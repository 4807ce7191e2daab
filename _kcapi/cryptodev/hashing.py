"""Hash requests on ``/dev/crypto`` sessions (``CIOCCRYPT``, ``CIOCCPHASH``).

cryptodev-linux's rules for a session's hash state (``crypto_run``):

* flags 0: reset, hash the data, finalize: a one-shot digest in ONE ioctl;
* ``COP_FLAG_UPDATE`` with data: add it to the state (``COP_FLAG_RESET`` resets
  first); with NO data it finalizes, so an empty update is never sent;
* ``COP_FLAG_FINAL``: add the data, if any, and finalize; the state is spent (a
  session given back to the pool holds it: its next use resets it or replaces it);
* ``CIOCCPHASH``: export one session's state into another (a clone).

An op handle is a session id.  The object layer passes ``fresh`` (the op's state
holds none of its data yet): a session taken from the pool may hold a spent state,
which the first request then resets (RESET with the first update, flags 0 for
a final), harmlessly for a new session.  Files are not spliced: there is no
descriptor to splice into (:class:`FilePipe` refuses, and the caller reads).
"""

from __future__ import annotations

import errno
from collections.abc import Sequence

from .. import _libc, _syscalls
from . import abi, device

_MAX_DIGEST = 64


def _crypt(fd: int, ses: int, flags: int, data: memoryview | bytes, size: int) -> bytes:
    """One ``CIOCCRYPT`` of ``data`` with ``flags``; the ``size``-byte digest it wrote
    (``b''`` when ``size`` is 0: no final)."""
    ffi, _ = _libc.libc()
    cop = ffi.new("struct crypt_op *")
    cop.ses, cop.op, cop.flags, cop.len = ses, abi.COP_ENCRYPT, flags, len(data)
    mac = ffi.new("uint8_t[]", _MAX_DIGEST)
    cop.mac = mac
    if len(data):
        with ffi.from_buffer(data) as src:
            cop.src = src
            _syscalls.kernel.ioctl(fd, abi.ioctls()["CIOCCRYPT"], cop)
    else:
        _syscalls.kernel.ioctl(fd, abi.ioctls()["CIOCCRYPT"], cop)
    return bytes(ffi.buffer(mac, size)) if size else b""


def one_shot(fd: int, ses: int, data: bytes | memoryview, size: int) -> bytes:
    """The digest of ``data`` alone, in one ioctl (flags 0: reset, hash, finalize)."""
    return _crypt(fd, ses, 0, data, size)


def copy_state(fd: int, dst: int, src: int) -> None:
    """``CIOCCPHASH``: session ``dst`` gets a copy of the hash state of ``src``."""
    ffi, _ = _libc.libc()
    op = ffi.new("struct cphash_op *")
    op.dst_ses, op.src_ses = dst, src
    _syscalls.kernel.ioctl(fd, abi.ioctls()["CIOCCPHASH"], op)


def feed(op: int, views: Sequence[memoryview], record: list[int], fresh: bool = False) -> None:
    """Add ``views`` to the state of session ``op``, one recorded ioctl per view (see
    :meth:`_kcapi._syscalls.Kernel.ioctl_recorded`); the first resets the state when
    ``fresh`` (it holds none of the caller's data yet)."""
    ffi, _ = _libc.libc()
    fd = device.current()
    request = abi.ioctls()["CIOCCRYPT"]
    cop = ffi.new("struct crypt_op *")
    cop.ses, cop.op = op, abi.COP_ENCRYPT
    flags = abi.COP_FLAG_UPDATE | (abi.COP_FLAG_RESET if fresh else 0)
    for view in views:
        if not view.nbytes:
            continue  # an empty update would finalize
        with ffi.from_buffer(view) as src:
            cop.src, cop.len, cop.flags = src, view.nbytes, flags
            _syscalls.kernel.ioctl_recorded(fd, request, cop, view.nbytes, record)
        flags = abi.COP_FLAG_UPDATE


def final(op: int, held: bytearray, extra: memoryview, size: int, fresh: bool = False) -> bytes:
    """Feed ``held`` then ``extra`` last and return the ``size``-byte digest, in one ioctl
    (flags 0 on a ``fresh`` session: reset, hash, finalize; else ``COP_FLAG_FINAL``).

    Raises:
        OSError: the kernel failed.
    """
    if held and extra.nbytes:
        data: bytes | bytearray | memoryview = bytes(held) + extra
    else:
        data = held if held else extra
    return _crypt(device.current(), op, 0 if fresh else abi.COP_FLAG_FINAL, data, size)


def close(op: int) -> None:
    """Free a session (state and all): ``CIOCFSESSION``."""
    ffi, _ = _libc.libc()
    _syscalls.kernel.ioctl(device.current(), abi.ioctls()["CIOCFSESSION"],
                           ffi.new("uint32_t *", op))


def retire(tfm: object, op: int) -> None:
    """A session no object needs any more: pooled, whatever state it holds (its next use
    resets or replaces that state, see above), so the next object costs no CIOCGSESSION."""
    tfm.fds.give(op)  # type: ignore[attr-defined]


def drop_other(op: int) -> None:
    """Let go of a session the other process of a fork owns: nothing to do (the open
    file, and so the session, is shared: freeing it would take it from its owner)."""


def pbkdf2(tfm: object, digest_size: int, salt: bytes, iterations: int, dklen: int) -> bytes:
    """PBKDF2 (RFC 8018) over a keyed HMAC transform: one ioctl per iteration (flags 0).

    Raises:
        OSError: the kernel failed (the session is freed, not pooled).
    """
    ffi, _ = _libc.libc()
    fds = tfm.fds  # type: ignore[attr-defined]
    fd = device.current()
    request = abi.ioctls()["CIOCCRYPT"]
    ioctl = _syscalls.kernel.ioctl
    op = fds.take()
    out = bytearray()
    try:
        cop = ffi.new("struct crypt_op *")
        mac = ffi.new("uint8_t[]", _MAX_DIGEST)
        first = ffi.new("uint8_t[]", len(salt) + 4)
        cop.ses, cop.op, cop.flags, cop.mac = op, abi.COP_ENCRYPT, 0, mac
        block = 1
        while len(out) < dklen:
            ffi.memmove(first, salt + block.to_bytes(4, "big"), len(salt) + 4)
            cop.src, cop.len = first, len(salt) + 4
            ioctl(fd, request, cop)
            # Each next input is the last output, in place: src is the digest buffer.
            u = bytes(ffi.buffer(mac, digest_size))
            acc = int.from_bytes(u, "big")
            cop.src, cop.len = mac, digest_size
            for _ in range(iterations - 1):
                ioctl(fd, request, cop)
                acc ^= int.from_bytes(ffi.buffer(mac, digest_size), "big")
            out += acc.to_bytes(digest_size, "big")
            block += 1
    except BaseException:
        fds.discard(op)
        raise
    fds.give(op)
    return bytes(out[:dklen])


class FilePipe:
    """Files cannot be spliced into a session: making one refuses, and the caller reads."""

    def __init__(self, size: int) -> None:
        raise OSError(errno.EOPNOTSUPP, "a /dev/crypto session takes no spliced data")
