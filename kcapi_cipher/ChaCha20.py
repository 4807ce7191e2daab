"""ChaCha20 and XChaCha20, as ``Crypto.Cipher.ChaCha20``, served by the kernel.

``from kcapi_cipher import ChaCha20`` replaces ``from Crypto.Cipher import ChaCha20``.

The kernel's ``chacha20`` takes a 16-byte IV, ChaCha's state words 12-15: a
little-endian 32-bit block counter and the 96-bit nonce.  It serves

* 12-byte nonces (RFC 8439): IV = counter (4 bytes LE) || nonce; the
  keystream ends after 2**32 blocks, as in PyCryptodome;
* 8-byte nonces (the original ChaCha20, a 64-bit counter): IV = counter
  (8 bytes LE) || nonce.  The kernel increments only the low 32-bit word,
  so a request never crosses a multiple of 2**32 blocks: a new request
  starts there with the carried counter;
* 24-byte nonces (XChaCha20) on ``xchacha20``: IV = nonce || counter (8 bytes LE).

The kernel restarts every request at the IV it is given (it does not carry
the counter), so each request carries its own; a call ending inside a
64-byte block keeps the rest of that block's keystream for the next call.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from _kcapi.names import CHACHA20, XCHACHA20
from _kcapi.skcipher import KernelSkcipher, Pair

from . import _params, _routing
from . import _reference as ref
from ._buffers import MessageTooLongError, buffer_bytes, c_view, plain
from ._kernel_mode import StreamMode
from ._mode_ctr import split
from ._routing import KernelPath, Outside

__all__ = ["new", "ChaCha20Cipher", "block_size", "key_size"]

#: Size of a data block (in bytes): ChaCha20 is a stream cipher.
block_size: int = 1
#: The valid size of a key (in bytes).
key_size: int = 32

_BLOCK = 64
_WORD = 1 << 32


def _advance_counter(iv: bytes, last_in: bytes, last_out: bytes, nbytes: int) -> bytes:
    """chacha20's IV after a request: the 32-bit LE counter word moves on."""
    counter = int.from_bytes(iv[:4], "little") + nbytes // _BLOCK
    return (counter % _WORD).to_bytes(4, "little") + iv[4:]


def _advance_xcounter(iv: bytes, last_in: bytes, last_out: bytes, nbytes: int) -> bytes:
    """xchacha20's IV after a request: the 64-bit LE counter at its end moves on."""
    counter = int.from_bytes(iv[24:], "little") + nbytes // _BLOCK
    return iv[:24] + counter.to_bytes(8, "little")


class ChaCha20Cipher(StreamMode):
    """ChaCha20 (or XChaCha20) cipher object, as ``Crypto.Cipher.ChaCha20.ChaCha20Cipher``.

    Attributes:
        nonce: the nonce (8, 12 or 24 bytes).
        block_size: 1 (a stream cipher).
    """

    __slots__ = ("nonce", "_name", "_block_no", "_position", "_end", "_skip")

    _KIND = "chacha20"

    _CANNOT_ENCRYPT = "Cipher object can only be used for decryption"
    _CANNOT_DECRYPT = "Cipher object can only be used for encryption"
    _DECRYPT_REPORTS_OUTPUT = False
    _STATE = StreamMode._STATE + ("_block_no", "_position", "_skip")

    def __init__(self, engine: KernelSkcipher, nonce: bytes):
        self._init_stream(engine, 1, b"", _BLOCK)
        self.nonce = nonce
        self._name = "XChaCha20" if len(nonce) == 24 else "ChaCha20"
        self._block_no = 0  # the block the kernel computes next
        self._position = 0  # bytes of keystream used
        self._end = _BLOCK << (64 if len(nonce) == 8 else 32)
        self._skip = 0  # after seek(): bytes of block _block_no already used

    def seek(self, position: int) -> None:
        """Seek to a position in the key stream (``seek(block_number * 64)`` for a block).

        Args:
            position: the absolute position in the key stream, in bytes.

        Raises:
            ValueError: a position past the key stream's end (PyCryptodome's message).
            OverflowError: a negative position.
        """
        block_number, offset = divmod(position, _BLOCK)
        block_low = block_number & 0xFFFFFFFF
        block_high = block_number >> 32
        if block_high < 0:
            raise OverflowError("can't convert negative number to unsigned")
        if block_high >= 1 << 64:
            raise OverflowError("int too big to convert")
        if operator.index(position) >= self._end:
            raise ValueError("Error 11 while seeking with %s" % self._name)
        with self._lock:
            self._block_no = block_high << 32 | block_low
            self._position = operator.index(position)
            self._skip = offset
            self._ks = b""

    def _check_length(self, size: int) -> None:
        if self._position + size > self._end:
            raise MessageTooLongError("The key stream of %s is exhausted for this nonce"
                                      % self._name)

    def _process(self, src: memoryview, dst: memoryview, encrypt: bool) -> None:
        if self._skip:
            # The rest of the block seek() landed in, as kept keystream.
            block = bytearray(_BLOCK)
            view = memoryview(block)
            self._kernel(encrypt, [(view, view)])
            self._ks = bytes(block[self._skip:])
            self._skip = 0
        super()._process(src, dst, encrypt)
        self._position += src.nbytes

    def _iv_at(self, block_no: int) -> bytes:
        """The kernel IV that starts the keystream at block ``block_no``."""
        if len(self.nonce) == 24:
            return self.nonce + block_no.to_bytes(8, "little")
        return block_no.to_bytes(16 - len(self.nonce), "little") + self.nonce

    def _kernel(self, encrypt: bool, pairs: list[Pair]) -> None:
        while pairs:
            if len(self.nonce) == 8:
                # The kernel carries nothing out of the low 32-bit counter word.
                head, pairs = split(pairs, (_WORD - self._block_no % _WORD) * _BLOCK)
            else:
                head, pairs = pairs, []
            advance = _advance_xcounter if len(self.nonce) == 24 else _advance_counter
            self._engine.crypt(encrypt, self._iv_at(self._block_no), head, advance)
            self._block_no += sum(src.nbytes for src, _ in head) // _BLOCK


def new(*, key: Any, nonce: Any = None, threads: int = 1) -> Any:
    """Create a new ChaCha20 or XChaCha20 cipher, as ``Crypto.Cipher.ChaCha20.new``.

    Args:
        key: the 32-byte secret key, or a :class:`~_kcapi.keyring.KeyringKey`
            holding it (kernel only: its size is checked by the kernel).
        nonce: 8 or 12 bytes (ChaCha20) or 24 bytes (XChaCha20); 8 random bytes
            when omitted (read them back from ``nonce``).
        threads: accepted for compatibility (the kernel does the work).

    Returns:
        A :class:`ChaCha20Cipher` served by the kernel, or PyCryptodome's object
        where the backend policy lets software serve.

    Raises:
        TypeError, ValueError: PyCryptodome's errors for bad arguments.
        KernelUnavailableError: under the ``kernel`` policy, when the kernel cannot serve.
    """
    key, keyring = _routing.keyring_split(key, "chacha20")
    if nonce is None:
        nonce = _params.random_bytes(8)

    def make() -> Any:
        return ref.ChaCha20.new(key=key, nonce=nonce, threads=threads)

    return _routing.serve(make, "ChaCha20", CHACHA20, keyring, _parse(key, nonce, threads, make))


def _parse(key: Any, nonce: Any, threads: Any, make: Callable[[], Any]) -> KernelPath | Outside:
    """What the kernel path takes of ``new(key=key, nonce=nonce, threads=threads)``.

    Ordinary byte strings are read here; other buffers are first given to
    PyCryptodome (``make()``), whose error they get, then read as it read them.
    """
    if plain(key) and plain(nonce):
        raw_key = buffer_bytes(key)
        raw_nonce = buffer_bytes(nonce)
    else:
        make()  # PyCryptodome's error for what it refuses
        raw_key, raw_nonce = bytes(c_view(key)), bytes(nonce)  # what it used
    if (raw_key is None or len(raw_key) != 32 or raw_nonce is None
            or len(raw_nonce) not in (8, 12, 24) or not _params.threads_ok(threads)):
        return Outside()
    name = XCHACHA20 if len(raw_nonce) == 24 else CHACHA20
    return KernelPath(raw_key, name, lambda tfm, _key: ChaCha20Cipher(
        KernelSkcipher(tfm, _BLOCK, 32 if name == XCHACHA20 else 16, chains=False), raw_nonce))


def _derive_Poly1305_key_pair(key: Any, nonce: Any) -> tuple[bytes, bytes, bytes]:
    """Derive ``(r, s, nonce)`` for ``Crypto.Hash.Poly1305`` with ``cipher=ChaCha20``.

    As PyCryptodome's: a new 12-byte nonce when ``nonce`` is ``None``; an
    8-byte nonce is padded with four zero bytes (RFC 8439, 2.6).

    Raises:
        KernelUnavailableError: for a keyring key: ``(r, s)`` would be computed in
            user space, where PyCryptodome's Poly1305 runs.
    """
    _params.check_poly1305_key(key, "ChaCha20")
    if nonce is None:
        padded_nonce = nonce = _params.random_bytes(12)
    elif len(nonce) == 8:
        padded_nonce = b"\x00\x00\x00\x00" + bytes(nonce)
    elif len(nonce) == 12:
        padded_nonce = nonce
    else:
        raise ValueError("Poly1305 with ChaCha20 requires an 8- or 12-byte nonce")
    rs = new(key=key, nonce=padded_nonce).encrypt(b"\x00" * 32)
    return rs[:16], rs[16:], nonce


def __getattr__(name: str) -> Any:
    # Attributes PyCryptodome's module has beyond the public API (code and its
    # tests reach them): PyCryptodome's own.
    from . import _reference

    return _reference.module_attribute(_reference.ChaCha20, __name__, name)
