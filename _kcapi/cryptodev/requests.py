"""Cipher requests (``CIOCCRYPT``) and AEAD messages (``CIOCAUTHCRYPT``) on ``/dev/crypto``.

One ioctl per request: the data, the IV and the operation in, the output written
straight into the caller's pages (zero-copy: no ``fork()`` meanwhile, see
:func:`_kcapi.forksafe.zero_copy_receive`).  Each request carries its IV, so the
session keeps nothing between requests.

The driver's own limits, met here:

* it takes whole blocks only (``len % blocksize``): XTS's ciphertext stealing is
  therefore done from whole-block requests (:func:`_xts_stealing`);
* one source and one destination buffer: several views are joined first;
* an AEAD's AAD is at most a page (:data:`.abi.MAX_AUTH_LEN`): a message with
  more is declined (``False``), as one the socket buffer could not take.
"""

from __future__ import annotations

import errno
from typing import Any

from .. import _libc, _syscalls
from ..forksafe import zero_copy_receive
from . import abi, device

_BLOCK = 16


def socket_limit(tfm: Any, fallback: int) -> int:
    """No socket buffers bound a request here: ``fallback``."""
    return fallback


def _joined(views: list[memoryview]) -> memoryview:
    views = [v for v in views if v.nbytes]
    if len(views) == 1:
        return views[0]
    return memoryview(b"".join(views))


def _crypt(ses: int, encrypt: bool, iv: bytes | None, src: memoryview, dst: memoryview) -> None:
    """One ``CIOCCRYPT`` from ``src`` into ``dst`` (equal lengths; may be the same memory)."""
    ffi, _ = _libc.libc()
    cop = ffi.new("struct crypt_op *")
    cop.ses, cop.op, cop.len = ses, abi.COP_ENCRYPT if encrypt else abi.COP_DECRYPT, src.nbytes
    ivbuf = ffi.new("uint8_t[]", iv) if iv else ffi.NULL
    cop.iv = ivbuf
    with ffi.from_buffer(src) as s, ffi.from_buffer(dst, require_writable=True) as d:
        cop.src, cop.dst = s, d
        with zero_copy_receive():  # the kernel writes into our pages
            _syscalls.kernel.ioctl(device.current(), abi.ioctls()["CIOCCRYPT"], cop)


def cipher(op: int, name: str, encrypt: bool, iv: bytes | None,
           sources: list[memoryview], outputs: list[memoryview], chains: bool) -> int:
    """One skcipher request from ``sources`` into ``outputs``: one ioctl (two or three for
    an XTS unit that is not a whole number of blocks); returns the bytes sent.

    Raises:
        OSError: the kernel failed.
    """
    src = _joined(sources)
    total = src.nbytes
    outs = [v for v in outputs if v.nbytes]
    dst = outs[0] if len(outs) == 1 else memoryview(bytearray(total))
    if name.startswith("xts(") and total % _BLOCK:
        _xts_stealing(op, encrypt, iv or b"", src, dst)
    else:
        _crypt(op, encrypt, iv, src, dst)
    if len(outs) > 1:
        pos = 0
        for out in outs:
            out[:] = dst[pos:pos + out.nbytes]
            pos += out.nbytes
    return total


def _xts_stealing(op: int, encrypt: bool, iv: bytes, src: memoryview, dst: memoryview) -> None:
    """An XTS data unit of ``16 m + r`` bytes (``m >= 1``, ``0 < r < 16``; IEEE 1619
    ciphertext stealing) from requests of whole blocks, as the driver takes only those.

    A request of ``n`` blocks at the unit's IV treats its block ``j`` with the
    tweak of block ``j``: a block that needs the tweak of block ``m`` (one past the
    last whole one) is sent as block ``m`` of an ``m + 1``-block request whose
    other blocks are don't-cares.  Encryption: ``CC`` = block ``m-1`` under tweak
    ``m-1``; the last (short) output is ``CC[:r]``; ``P_m || CC[r:]`` under tweak ``m``
    is output block ``m-1``.  Decryption swaps the tweaks of those two steps.
    """
    r = src.nbytes % _BLOCK
    m = src.nbytes // _BLOCK
    head = (m - 1) * _BLOCK
    last_full = bytes(src[head:head + _BLOCK])
    tail = bytes(src[m * _BLOCK:])
    work = bytearray((m + 1) * _BLOCK)
    work[:head] = src[:head]
    if encrypt:
        work[head:head + _BLOCK] = last_full  # tweak m-1: blocks 0..m-1 in one request
        view = memoryview(work)[:m * _BLOCK]
        _crypt(op, True, iv, view, view)
        cc = bytes(work[head:head + _BLOCK])
        dst[:head] = work[:head]
        work[m * _BLOCK:] = tail + cc[r:]  # tweak m
        whole = memoryview(work)
        _crypt(op, True, iv, whole, whole)
        dst[head:head + _BLOCK] = work[m * _BLOCK:]
        dst[m * _BLOCK:] = cc[:r]
    else:
        work[m * _BLOCK:] = last_full  # tweak m: the last whole ciphertext block
        whole = memoryview(work)
        _crypt(op, False, iv, whole, whole)
        pp = bytes(work[m * _BLOCK:])
        dst[:head] = work[:head]
        again = bytearray(m * _BLOCK)
        again[head:] = tail + pp[r:]  # tweak m-1
        view = memoryview(again)
        _crypt(op, False, iv, view, view)
        dst[head:head + _BLOCK] = again[head:]
        dst[m * _BLOCK:] = pp[:r]


def aead(op: int, encrypt: bool, iv: bytes, assoclen: int,
         buffers: list[memoryview], out: memoryview) -> bool:
    """One whole AEAD message in one ``CIOCAUTHCRYPT``, the result into ``out`` laid out
    as AF_ALG's (``AAD || CT || TAG``, or ``AAD || PT`` when decrypting).

    Returns:
        ``False`` when the AAD is longer than the driver takes in one message.

    Raises:
        OSError: the kernel failed (EBADMSG: a wrong tag).
    """
    if assoclen > abi.MAX_AUTH_LEN:
        return False
    ffi, _ = _libc.libc()
    aad = buffers[0]
    body = _joined(list(buffers[1:]))  # ciphertext || tag when decrypting
    size = out.nbytes - assoclen
    taglen = size - body.nbytes if encrypt else body.nbytes - size
    work = bytearray(max(body.nbytes, size))  # in place: CT || TAG, or CT || TAG -> PT
    work[:body.nbytes] = body
    caop = ffi.new("struct crypt_auth_op *")
    caop.ses, caop.op = op, abi.COP_ENCRYPT if encrypt else abi.COP_DECRYPT
    caop.len, caop.auth_len, caop.tag_len = body.nbytes, assoclen, taglen
    ivbuf = ffi.new("uint8_t[]", iv)
    caop.iv, caop.iv_len = ivbuf, len(iv)
    with ffi.from_buffer(aad) as a, ffi.from_buffer(work, require_writable=True) as w:
        caop.auth_src = a if assoclen else ffi.NULL
        caop.src = caop.dst = w
        try:
            with zero_copy_receive():
                _syscalls.kernel.ioctl(device.current(), abi.ioctls()["CIOCAUTHCRYPT"], caop)
        except OSError:
            work[:] = bytes(len(work))  # decrypted before the tag was checked
            raise
    out[:assoclen] = aad
    out[assoclen:] = memoryview(work)[:size]
    work[:] = bytes(len(work))
    return True


def random(op: Any, name: str, out: memoryview, chunk: int) -> None:
    """``/dev/crypto`` has no DRBG (never reached: no rng transform is made here)."""
    raise OSError(errno.EOPNOTSUPP, f"/dev/crypto has no {name}")
