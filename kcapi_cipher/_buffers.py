"""PyCryptodome's rules for the buffers it hands to C code, as pure functions.

PyCryptodome counts a buffer with ``len()`` (elements) but its C code reads
the buffer's memory (bytes): a ``memoryview`` cast to ``'I'`` or a
two-dimensional one therefore passes some checks and fails others, and what
a C function receives is every byte of the buffer.  The objects of
``kcapi_cipher`` must accept, compute and refuse exactly as PyCryptodome
does, so they apply the same rules, written once here:

* :func:`c_view` -- what C code reads from an argument, or the error
  PyCryptodome's ``c_uint8_ptr`` raises for it;
* :func:`crypt_views` -- the checks of a stream or block cipher call
  (``encrypt(data, output=...)``) in PyCryptodome's order, with its messages;
* :func:`plain` -- whether an argument is an ordinary byte string, for which
  every one of those rules gives the same answer as for its ``bytes``
  (:func:`buffer_bytes`: that ``bytes``);
* :func:`xor` -- the XOR of two byte strings, and :data:`MessageTooLongError`,
  PyCryptodome's error for data past a mode's limit.

Nothing here changes state: the callers run these checks before touching
their own.
"""

from __future__ import annotations

from typing import Any

import Crypto
from Crypto.Util.number import long_to_bytes

from _kcapi.aead import xor_bytes as xor

#: PyCryptodome's error for data past a mode's limit (a ValueError in every version).
MessageTooLongError: type[ValueError] = getattr(Crypto, "MessageTooLongError", ValueError)

OUTPUT_LENGTH = "output must have the same length as the input  (%d bytes)"
OUTPUT_TYPE = "output must be a bytearray or a writeable memoryview"
NOT_CONTIGUOUS = "memoryview: underlying buffer is not C-contiguous"


def c_view(x: Any) -> memoryview:
    """The bytes C code reads from ``x``, as PyCryptodome's ``c_uint8_ptr`` passes them.

    Raises:
        TypeError: ``x`` is not ``bytes``, ``bytearray`` or ``memoryview``.
        BufferError: a memoryview that is not C-contiguous.
    """
    if isinstance(x, (bytearray, memoryview)):
        view = memoryview(x)
        if not view.c_contiguous:
            raise BufferError(NOT_CONTIGUOUS)
        return view if view.ndim == 1 and view.format == "B" else view.cast("B")
    if isinstance(x, bytes):
        return memoryview(x)
    raise TypeError("Object type %s cannot be passed to C code" % type(x))


def writable(x: Any) -> bool:
    """PyCryptodome's ``is_writeable_buffer``."""
    return isinstance(x, bytearray) or (isinstance(x, memoryview) and not x.readonly)


def plain(x: Any) -> bool:
    """Whether ``x`` is a byte string every rule treats as its ``bytes``.

    ``bytes``, ``bytearray``, and C-contiguous one-dimensional memoryviews of
    one-byte items: their ``len()`` is their size and C code reads exactly them.
    """
    if isinstance(x, (bytes, bytearray)):
        return True
    return (isinstance(x, memoryview) and x.ndim == 1 and x.itemsize == 1
            and x.c_contiguous)


def crypt_views(data: Any, output: Any,
                report_output: bool = False) -> tuple[memoryview, memoryview | None]:
    """The checks of ``encrypt(data, output=output)`` in a PyCryptodome cipher, in its order.

    Args:
        data: the input.
        output: ``None`` or the buffer to write into.
        report_output: whether a length mismatch reports the output's length
            (``decrypt`` of ECB, CBC, CFB and OFB) rather than the input's.

    Returns:
        ``(input bytes, output bytes or None)``, of equal sizes.

    Raises:
        TypeError, ValueError, BufferError: PyCryptodome's errors, with its messages.
    """
    if output is None:
        size = len(data)
    else:
        if not writable(output):
            raise TypeError(OUTPUT_TYPE)
        size = len(output)
        if len(data) != size:
            raise ValueError(OUTPUT_LENGTH % (size if report_output else len(data)))
    dst = None if output is None else c_view(output)
    src = c_view(data)
    if (size if dst is None else dst.nbytes) != src.nbytes:
        raise ValueError(OUTPUT_LENGTH % src.nbytes)
    return src, dst


def buffer_bytes(x: Any) -> bytes | None:
    """``bytes(x)`` for a :func:`plain` byte string (the bytes C code reads), else ``None``."""
    return bytes(c_view(x)) if plain(x) else None


def tobytes(x: Any) -> bytes:
    """PyCryptodome's ``tobytes``: a byte string from bytes, text (Latin-1) or a buffer.

    Raises:
        TypeError: any other type.
    """
    if isinstance(x, bytes):
        return x
    if isinstance(x, str):
        return x.encode("latin-1")
    if isinstance(x, (bytearray, memoryview)):
        return bytes(x)
    raise TypeError("Expected a string or a bytes-like object, not %s" % type(x).__name__)


#: PyCryptodome's integer encoding (big-endian, minimal or padded to a multiple of a
#: block size), with its errors for negative and non-integer values.
long_bytes = long_to_bytes
