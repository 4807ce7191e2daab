"""The kernel skcipher object: requests of (operation, IV, data) on pooled op sockets.

Protocol (``algif_skcipher``), as measured on Linux 6.1:

* the first ``sendmsg`` of a request carries two control messages,
  ALG_SET_OP (encrypt or decrypt) and ALG_SET_IV, then the data; a ``recv``
  returns the same number of bytes, transformed;
* data the kernel cannot take while nobody reads blocks the sender forever,
  so every request is bounded (:func:`request_limit`) and its output is read
  before the next one is sent;
* the kernel chains the IV from one request to the next for ``cbc``/``ctr``,
  but not for ``chacha20`` (each request restarts at the IV it was given),
  and a partial block ends a CTR keystream block for good.

Hence each request here carries its own IV, computed in user space by the
caller's ``advance`` function: no kernel IV chaining is relied on, and an op
socket holds no state between requests.  A request is sent whole, without
MSG_MORE, so the kernel processes all of it whatever the driver's chunk size.

An op socket is taken from the transform's pool for one call and returned
clean (all output read) at its end; after any exception it is closed instead.
The kernel failing marks the object :attr:`KernelSkcipher.failed`; an
exception raised by a signal handler (:func:`.atomic.is_interrupt`) does not:
the kernel keeps nothing between requests, so the caller, which publishes the
new IV only once a call is complete, stays in its state before the call.
Nothing is held across calls, so a child process after ``fork()`` simply takes
op sockets of its own from its pool, and an object costs no descriptor while
idle.  The kernel writes the output straight into our pages, so no ``fork()``
may happen while a request is in flight (:func:`_kcapi.forksafe.zero_copy_receive`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from . import _libc
from .transform import Transform
from .atomic import is_interrupt
from .backend_info import BackendInfo

#: Largest request (bytes sent before their output is read), unless the socket
#: buffers are small: then half of the smaller one.
MAX_REQUEST = 64 * 1024

#: ``advance(iv, last_input_block, last_output_block, nbytes) -> next IV``: the IV
#: for the data after a request of ``nbytes`` that started at ``iv``.
Advance = Callable[[bytes, bytes, bytes, int], bytes]

#: (input view, output view) of equal lengths.
Pair = tuple[memoryview, memoryview]

def request_limit(tfm: Transform) -> int:
    """Bytes per request: :data:`MAX_REQUEST`, or half the smaller socket buffer.

    The buffer sizes are read once per process (:func:`.af_alg.requests.socket_limit`).
    """
    return max(4096, min(MAX_REQUEST, tfm.requests.socket_limit(tfm, 2 * MAX_REQUEST) // 2))


def no_iv(iv: bytes, last_in: bytes, last_out: bytes, nbytes: int) -> bytes:
    """The :data:`Advance` of a mode without an IV (ECB)."""
    return iv


#: Exporters whose memory is their own (no two such objects share any).
_PRIVATE = (bytes, bytearray)


def overlap(a: memoryview, b: memoryview) -> bool:
    """Whether two (C-contiguous) views share memory."""
    if not a.nbytes or not b.nbytes:
        return False
    if a.obj is not b.obj and type(a.obj) in _PRIVATE and type(b.obj) in _PRIVATE:
        return False  # two distinct bytes/bytearray objects: the common case, decided at once
    start_a, start_b = _address(a), _address(b)
    return start_a < start_b + b.nbytes and start_b < start_a + a.nbytes


def _address(view: memoryview) -> int:
    """Where ``view``'s bytes are (the cffi pointer is released at once, see _syscalls)."""
    ffi, _ = _libc.libc()
    with ffi.from_buffer(view) as pointer:
        return int(ffi.cast("uintptr_t", pointer))


def _requests(pairs: Sequence[Pair], limit: int) -> Iterator[list[Pair]]:
    """Cut ``pairs`` into lists of pieces holding at most ``limit`` bytes each."""
    request: list[Pair] = []
    room = limit
    for src, dst in pairs:
        start = 0
        size = src.nbytes
        while start < size:
            take = min(room, size - start)
            request.append((src[start:start + take], dst[start:start + take]))
            start += take
            room -= take
            if room == 0:
                yield request
                request, room = [], limit
    if request:
        yield request


class KernelSkcipher:
    """One keyed kernel skcipher transform, driven request by request for one cipher object.

    Attributes:
        tfm: the keyed transform (``cbc(aes)``, ``chacha20``, ...).
        block: the block the IV counts in: requests are cut at multiples of it,
            so that each next IV can be computed (16 for AES modes, 8 for TDES,
            64 for ChaCha20).
        ivsize: the IV length the algorithm takes (0 for ECB).
        chains: whether the kernel itself would carry the IV from one request
            to the next (a short read is then resumable; see :meth:`crypt`).
        failed: set when a kernel call failed (not when a signal handler's
            exception interrupted it): the object must not be used any more.
    """

    __slots__ = ("tfm", "block", "ivsize", "chains", "failed")

    def __init__(self, tfm: Transform, block: int, ivsize: int, chains: bool = True):
        self.tfm = tfm
        self.block = block
        self.ivsize = ivsize
        self.chains = chains
        self.failed = False

    @property
    def backend_info(self) -> BackendInfo:
        """Which kernel algorithm and driver serve this transform."""
        return self.tfm.info()

    def crypt(self, encrypt: bool, iv: bytes, pairs: Sequence[Pair], advance: Advance) -> bytes:
        """Encrypt or decrypt every input view of ``pairs`` into its output view.

        Args:
            encrypt: the operation.
            iv: the IV of the first byte (``b''`` without one).
            pairs: ``(input, output)`` views of equal lengths, each a whole number
                of :attr:`block` bytes; an output may be its input (in place).
            advance: computes each next request's IV (see :data:`Advance`).

        Returns:
            The IV for the data after ``pairs``.

        Raises:
            OSError: the kernel failed; if that happened after data was sent,
                :attr:`failed` is set and the op socket is closed, not pooled.
            BaseException: what a signal handler raised; the op socket is
                closed, and the outputs hold part of the result.
        """
        if not any(src.nbytes for src, _ in pairs):
            return iv
        limit = max(self.block, request_limit(self.tfm) // self.block * self.block)
        op = self.tfm.sockets.take()  # a failure here leaves everything as it was
        try:
            for request in _requests(pairs, limit):
                last_src = request[-1][0]
                last_in = bytes(last_src[last_src.nbytes - self.block:])  # before an in-place recv
                total = self._one(op, encrypt, iv, request)
                last_dst = request[-1][1]
                iv = advance(iv, last_in, bytes(last_dst[last_dst.nbytes - self.block:]), total)
        except BaseException as exc:
            self._fail(op, exc)
            raise
        self.tfm.sockets.give(op)
        return iv

    def _fail(self, op: Any, exc: BaseException) -> None:
        """After ``exc`` in a call: close its op socket (a request may be half done), and
        mark the object failed unless ``exc`` came from a signal handler.  (Were this
        interrupted in turn, the socket would close when it is garbage.)"""
        if not is_interrupt(exc):
            self.failed = True
        self.tfm.sockets.discard(op)

    def crypt_unit(self, encrypt: bool, iv: bytes, src: memoryview, dst: memoryview) -> None:
        """Transform ``src`` into ``dst`` as ONE kernel request (an XTS data unit).

        ``src`` may have any length the algorithm takes (XTS: 16 bytes or more,
        with ciphertext stealing), up to :func:`request_limit`.

        Raises:
            ValueError: ``src`` is longer than one request may be.
            OSError: the kernel failed (:attr:`failed` is then set).
        """
        if src.nbytes > request_limit(self.tfm):
            raise ValueError(f"{src.nbytes} bytes do not fit one kernel request "
                             f"(at most {request_limit(self.tfm)})")
        op = self.tfm.sockets.take()
        try:
            self._one(op, encrypt, iv, [(src, dst)])
        except BaseException as exc:
            self._fail(op, exc)
            raise
        self.tfm.sockets.give(op)

    def _one(self, op: Any, encrypt: bool, iv: bytes, request: list[Pair]) -> int:
        """Send one request (control messages + data, one ``sendmsg``) and read all its output.

        The request is sent complete (no MSG_MORE), so the kernel processes all
        of it whatever its chunk size.  It fits the socket buffer
        (:func:`request_limit`), so the kernel takes it whole; were a signal to
        cut the copy short, the rest could not follow (the kernel refuses more
        data for a complete request), so that is an error.
        """
        return self.tfm.requests.cipher(op, self.tfm.name, encrypt, iv if self.ivsize else None,
                               [src for src, _ in request], [dst for _, dst in request],
                               self.chains)
