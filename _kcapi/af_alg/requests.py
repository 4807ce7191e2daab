"""Requests on AF_ALG op sockets: skcipher and AEAD messages, DRBG reads.

Protocol (``algif_skcipher``, ``algif_aead``, ``algif_rng``; see KERNEL_NOTES.md):

* the first ``sendmsg`` of a request carries its control messages
  (ALG_SET_OP, ALG_SET_IV, and for an AEAD ALG_SET_AEAD_ASSOCLEN), then the
  data, sent whole without MSG_MORE so that the kernel processes all of it;
* data the kernel cannot take while nobody reads blocks the sender forever,
  so a request fits the socket buffers (:func:`socket_limit`);
* the output is read before the next request: skcipher output may come in
  several reads, an AEAD result comes in one ``recv`` of exactly its size;
* the kernel writes the output straight into the caller's pages, so no
  ``fork()`` may happen while a request is in flight
  (:func:`_kcapi.forksafe.zero_copy_receive` around the send and receive).
"""

from __future__ import annotations

import errno
import socket
import struct
from typing import Any

from .. import _syscalls
from .._constants import (ALG_OP_DECRYPT, ALG_OP_ENCRYPT, ALG_SET_AEAD_ASSOCLEN, ALG_SET_IV,
                          ALG_SET_OP, SOL_ALG)
from ..forksafe import zero_copy_receive

Control = list[tuple[int, int, bytes]]

_OP_ENCRYPT = struct.pack("I", ALG_OP_ENCRYPT)
_OP_DECRYPT = struct.pack("I", ALG_OP_DECRYPT)

_socket_buffer: int | None = None


def socket_limit(tfm: Any, fallback: int) -> int:
    """The smaller of the socket buffers (``SO_SNDBUF``/``SO_RCVBUF`` of the bound socket;
    op sockets get the same defaults), read once per process; ``fallback`` if unreadable."""
    global _socket_buffer
    if _socket_buffer is None:
        kernel = _syscalls.kernel
        try:
            _socket_buffer = min(kernel.getsockopt(tfm.sock, socket.SOL_SOCKET, socket.SO_SNDBUF),
                                 kernel.getsockopt(tfm.sock, socket.SOL_SOCKET, socket.SO_RCVBUF))
        except OSError:
            _socket_buffer = fallback
    return _socket_buffer


def control(encrypt: bool, iv: bytes | None, assoclen: int | None = None) -> Control:
    """The control messages of a request's first ``sendmsg``: operation, IV (none for
    ``None``), AAD length (an AEAD's)."""
    msgs = [(SOL_ALG, ALG_SET_OP, _OP_ENCRYPT if encrypt else _OP_DECRYPT)]
    if iv is not None:
        msgs.append((SOL_ALG, ALG_SET_IV, struct.pack("I", len(iv)) + iv))
    if assoclen is not None:
        msgs.append((SOL_ALG, ALG_SET_AEAD_ASSOCLEN, struct.pack("I", assoclen)))
    return msgs


def cipher(op: socket.socket, name: str, encrypt: bool, iv: bytes | None,
           sources: list[memoryview], outputs: list[memoryview], chains: bool) -> int:
    """One skcipher request: ``sources`` in (one ``sendmsg``), ``outputs`` filled.

    A short read resumes only if the algorithm chains its IV (``chains``).

    Returns:
        The bytes sent.

    Raises:
        OSError: the kernel took less than the whole request, returned nothing, or
            returned part of a request whose IV does not chain.
    """
    kernel = _syscalls.kernel
    total = sum(src.nbytes for src in sources)
    with zero_copy_receive():  # no fork() while the kernel writes into our pages
        sent = kernel.sendmsg(op, sources, control(encrypt, iv), 0)
        if sent != total:
            raise OSError(errno.EIO, f"the kernel took {sent} of the {total} bytes of a "
                          f"request to '{name}'")
        views = [v for v in outputs if v.nbytes]
        first = True
        while views:
            if not first and not chains:
                raise OSError(errno.EIO, f"the kernel returned part of a request to "
                              f"'{name}', whose IV does not chain")
            got = kernel.recvmsg_into(op, views) if len(views) > 1 else \
                kernel.recv_into(op, views[0])
            if got <= 0:
                raise OSError(errno.EIO, f"the kernel returned no data for '{name}'")
            first = False
            while views and got >= views[0].nbytes:
                got -= views[0].nbytes
                views.pop(0)
            if views:
                views[0] = views[0][got:]
    return total


def aead(op: socket.socket, encrypt: bool, iv: bytes, assoclen: int,
         buffers: list[memoryview], out: memoryview) -> bool:
    """One whole AEAD message: ``buffers`` in without blocking, the result into ``out``.

    algif_aead processes the whole message in one ``recv``; a buffer larger
    than the result would make it wait for a next message, and a ``recv`` of
    0 bytes returns without processing anything.  An empty result (decrypting
    an empty message without AAD, which still verifies the tag) is therefore
    received into a 1-byte buffer, for which the kernel reports 0 bytes.

    Returns:
        ``False`` when the kernel took less than the whole message (nothing received).

    Raises:
        OSError: the kernel failed (EBADMSG: a wrong tag).
    """
    kernel = _syscalls.kernel
    total = sum(b.nbytes for b in buffers)
    try:
        sent = kernel.sendmsg(op, buffers, control(encrypt, iv, assoclen), socket.MSG_DONTWAIT)
    except BlockingIOError:
        sent = 0
    if sent != total:
        return False
    with zero_copy_receive():
        if out.nbytes:
            got = kernel.recv_into(op, out)
        else:
            got = kernel.recv_into(op, memoryview(bytearray(1)))
    if got != out.nbytes:
        raise OSError(errno.EIO, f"the kernel returned {got} of {out.nbytes} bytes "
                      "of an AEAD operation")
    return True


def random(op: socket.socket, name: str, out: memoryview, chunk: int) -> None:
    """Fill ``out`` from a seeded DRBG's op socket, ``recv`` by ``recv`` of at most ``chunk``.

    Raises:
        OSError: the kernel failed or returned no bytes.
    """
    kernel = _syscalls.kernel
    size = out.nbytes
    pos = 0
    while pos < size:
        got = kernel.recv_into(op, out[pos:pos + chunk], min(chunk, size - pos))
        if got <= 0:
            raise OSError(errno.EIO, f"the kernel's {name} returned no bytes")
        pos += got
