"""AEAD in the kernel: one-shot ``aead`` sockets, and counter-mode keystreams to compose with.

Two ways to run an AEAD mode in the kernel, both used by ``kcapi_cipher``:

* **one-shot**: the kernel's own AEAD (``gcm(aes)``, ``ccm(aes)``,
  ``rfc7539(chacha20,poly1305)``).  algif_aead is one-shot per message:
  ``AAD || PT`` in, ``AAD || CT || TAG`` out (decryption: ``AAD || CT || TAG``
  in, ``AAD || PT`` out, or EBADMSG for a wrong tag), and the whole message
  must sit in the socket buffer before the ``recv``.  :func:`seal` and
  :func:`open_message` therefore take messages up to :func:`one_shot_limit`
  and send them with ``MSG_DONTWAIT``: a message the kernel cannot take
  whole is refused (``None``), never left blocking.
* **composed**: a :class:`CounterStream` (``ctr(aes)``, ``chacha20``,
  ``xchacha20``) for the keystream, plus a keyed hash for the authenticator
  (``ghash``, ``cbcmac(aes)``, ``poly1305``, driven through
  :class:`~_kcapi.hash.KernelHash`).  It serves piecewise ``encrypt()`` /
  ``decrypt()`` calls of any size, in bounded requests.

The keystream requests go through :class:`~_kcapi.skcipher.KernelSkcipher`
with an explicit IV each (the counter block computed here), so no kernel IV
chaining is relied on.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from . import routing, transform
from .errors import KernelUnavailableError
from .keyring import KeyringKey
from .skcipher import KernelSkcipher, request_limit
from .transform import Transform

#: Largest one-shot message (AAD + data + tag); lowered to half the socket
#: buffers when those are smaller (:func:`_kcapi.skcipher.request_limit`).
MAX_ONE_SHOT = 64 * 1024


class TagMismatch(Exception):
    """The kernel rejected the tag (EBADMSG); no plaintext was released."""


def one_shot_limit(tfm: Transform) -> int:
    """The largest AAD + data + tag :func:`seal` and :func:`open_message` accept."""
    return min(MAX_ONE_SHOT, request_limit(tfm))


# -- probes and transforms -------------------------------------------------------


def optional_aead(name: str, key: bytes | KeyringKey, authsize: int) -> Transform | None:
    """The keyed one-shot AEAD transform, or ``None`` when the kernel lacks it.

    The one-shot path only speeds things up (the composed path serves the same
    objects), so a refusal here is not an error under any policy.  A keyring
    key is the exception: the kernel's answer to it (a key of the wrong size,
    no search permission, a revoked key) is the caller's error.

    Raises:
        ValueError, OSError: for a :class:`~_kcapi.keyring.KeyringKey` only, as
            :func:`_kcapi.errors.keyring_refusal` explains them.
    """
    if not name or not routing.binds("aead", name):
        return None
    try:
        return transform.get("aead", name, key, authsize)
    except (KernelUnavailableError, ValueError):
        if isinstance(key, KeyringKey):
            raise
        return None


# -- one-shot AEAD ----------------------------------------------------------------


def seal(tfm: Transform, iv: bytes, aad: memoryview, data: memoryview,
         taglen: int) -> tuple[bytes, bytes] | None:
    """Encrypt one whole message with the kernel AEAD.

    Args:
        tfm: the keyed ``aead`` transform (its authsize is ``taglen``).
        iv: the IV in the algorithm's format.
        aad: the associated data.
        data: the plaintext.
        taglen: the tag size.

    Returns:
        ``(ciphertext, tag)``, or ``None`` when the socket buffer could not take
        the message in one send (the caller composes instead).

    Raises:
        OSError: the kernel failed the operation.
    """
    op = tfm.sockets.take()
    out = bytearray(aad.nbytes + data.nbytes + taglen)
    view = memoryview(out)
    try:
        if not tfm.requests.aead(op, True, iv, aad.nbytes, [aad, data], view):
            tfm.sockets.discard(op)
            return None
    except BaseException:
        tfm.sockets.discard(op)
        raise
    tfm.sockets.give(op)
    body = aad.nbytes + data.nbytes
    return bytes(view[aad.nbytes:body]), bytes(view[body:])


def open_message(tfm: Transform, iv: bytes, aad: memoryview, data: memoryview,
                 tag: memoryview) -> bytearray | None:
    """Decrypt and verify one whole message with the kernel AEAD.

    Args:
        tfm: the keyed ``aead`` transform (its authsize is ``len(tag)``).
        iv: the IV in the algorithm's format.
        aad: the associated data.
        data: the ciphertext.
        tag: the received tag.

    Returns:
        The plaintext in a private buffer, or ``None`` when the socket buffer
        could not take the message in one send.

    Raises:
        TagMismatch: the tag is wrong (EBADMSG); the private buffer is wiped.
        OSError: the kernel failed otherwise.
    """
    op = tfm.sockets.take()
    out = bytearray(aad.nbytes + data.nbytes)
    try:
        if not tfm.requests.aead(op, False, iv, aad.nbytes, [aad, data, tag], memoryview(out)):
            tfm.sockets.discard(op)
            return None
    except OSError as exc:
        tfm.sockets.discard(op)
        out[:] = bytes(len(out))  # the kernel decrypts before it checks the tag
        if exc.errno == errno.EBADMSG:
            raise TagMismatch() from None
        raise
    except BaseException:
        tfm.sockets.discard(op)
        raise
    tfm.sockets.give(op)
    del out[:aad.nbytes]
    return out


# -- counter-mode keystreams -------------------------------------------------------


def keystream(tfm: Transform, iv: bytes, block: int) -> bytes:
    """One block of keystream at counter block ``iv``: ``E_K(iv)`` for ``ctr(aes)``.

    Raises:
        OSError: the kernel failed.
    """
    out = bytearray(block)
    pair = (memoryview(bytes(block)), memoryview(out))
    KernelSkcipher(tfm, block, len(iv)).crypt(True, iv, [pair], lambda *_: iv)
    return bytes(out)


def xor_bytes(a: bytes | memoryview, b: bytes | memoryview) -> bytes:
    """``a XOR b`` over ``len(a)`` bytes (``b`` may be longer)."""
    n = len(a)
    return (int.from_bytes(a, "big") ^ int.from_bytes(bytes(b[:n]), "big")).to_bytes(n, "big")


class CounterStream:
    """A counter-mode keystream XORed into data split into calls of any size.

    The kernel keeps no partial block between requests, so a call's last
    partial block is sent padded with zeros and the unused keystream it gives
    is kept for the next call.  Every request carries the IV of its first
    block, computed by ``iv_at(index)``; ``run_at(index)`` bounds how many
    blocks the kernel may count from there before the IV must be recomputed
    (GCM increments only the low 32 bits; the kernel's ``ctr`` all 128).

    The position in the stream -- ``(index of the next block, unused keystream
    of the last one)`` -- is a value the caller keeps (:data:`START` at first):
    :meth:`crypt` takes one and returns the next, so that a caller can compute
    a call privately and publish the new position with the rest of its state.

    Args:
        tfm: the keyed skcipher transform (``ctr(aes)``, ``chacha20``, ...).
        block: the keystream block size (16 for AES, 64 for ChaCha20).
        iv_at: the IV of block ``index`` (counted from 0 at the stream's start).
        run_at: blocks from ``index`` before the kernel's counter diverges
            (``None``: never).
    """

    __slots__ = ("_engine", "_block", "_iv_at", "_run_at")

    #: The position at the start of the stream.
    START: tuple[int, bytes] = (0, b"")

    def __init__(self, tfm: Transform, block: int, iv_at: Callable[[int], bytes],
                 run_at: Callable[[int], int] | None = None):
        self._engine = KernelSkcipher(tfm, block, len(iv_at(0)), chains=block == 16)
        self._block = block
        self._iv_at = iv_at
        self._run_at = run_at

    def crypt(self, position: tuple[int, bytes], data: memoryview,
              out: memoryview) -> tuple[int, bytes]:
        """XOR the keystream from ``position`` into ``data``, writing ``out``.

        ``out`` may be ``data`` itself (in place).

        Returns:
            The position after ``data``.

        Raises:
            OSError: the kernel failed.
        """
        index, left = position
        n = data.nbytes
        pos = 0
        if left:
            pos = min(len(left), n)
            out[:pos] = xor_bytes(data[:pos], left)
            left = left[pos:]
        while pos < n:
            run = n - pos
            if self._run_at is not None:
                run = min(run, self._run_at(index) * self._block)
            index, left = self._crypt_run(index, data[pos:pos + run], out[pos:pos + run])
            pos += run
        return index, left

    def _crypt_run(self, index: int, data: memoryview, out: memoryview) -> tuple[int, bytes]:
        """Whole blocks from block ``index``, then a zero-padded tail block; the position after."""
        block = self._block
        whole = data.nbytes - data.nbytes % block
        tail = data.nbytes - whole
        pairs = [(data[:whole], out[:whole])] if whole else []
        spare = bytearray(block)
        if tail:
            padded = bytearray(block)
            padded[:tail] = data[whole:]
            pairs.append((memoryview(padded), memoryview(spare)))
        at = index

        def advance(iv: bytes, last_in: bytes, last_out: bytes, nbytes: int) -> bytes:
            nonlocal at
            at += nbytes // block
            return self._iv_at(at)

        self._engine.crypt(True, self._iv_at(index), pairs, advance)
        if tail:
            # (data tail || zeros) XOR keystream: the zeros give the unused keystream.
            out[whole:] = spare[:tail]
            return index + whole // block + 1, bytes(spare[tail:])
        return index + whole // block, b""
