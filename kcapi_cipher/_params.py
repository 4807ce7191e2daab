"""The arguments of ``new()`` that the kernel path takes, parsed as PyCryptodome parses them.

Every parser here either returns the parameters the kernel object needs, or
``None`` when the arguments are outside what the kernel path understands --
invalid ones included.  It never raises: for ``None`` the caller runs
PyCryptodome's own constructor on the same arguments (see :mod:`._routing`),
which raises PyCryptodome's exact error, or (for unusual but valid
arguments) serves the object in software.  So a parser only has to accept
a subset of what PyCryptodome accepts, and resolve it identically.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from _kcapi import rng
from _kcapi.errors import keyring_needs_kernel
from _kcapi.keyring import KeyringKey
from _kcapi.names import BLOCK_CIPHERS

from ._buffers import buffer_bytes, c_view, plain, tobytes
from ._modes import IV_MODES

#: Key sizes of the block ciphers, as PyCryptodome's ``key_size``.
AES_KEY_SIZES = (16, 24, 32)
DES3_KEY_SIZES = (16, 24)

#: The arguments of ``new()`` that carry bytes (besides the key and positional ones).
BUFFER_PARAMS = ("iv", "IV", "nonce", "initial_value")


def random_bytes(size: int) -> bytes:
    """``size`` random bytes for an IV, nonce or key PyCryptodome would draw itself.

    The one source of kcapi_cipher's random defaults: the kernel's CSPRNG
    (``getrandom``), which is ``os.urandom``, PyCryptodome's ``get_random_bytes``.
    """
    return rng.system_random(size)


def check_poly1305_key(key: Any, cipher: str) -> None:
    """The checks of ``Poly1305.new(key=..., cipher=...)`` before it derives ``(r, s)``.

    Raises:
        KernelUnavailableError: a keyring key: ``(r, s)`` would be computed in user
            space, where PyCryptodome's Poly1305 runs.
        ValueError: PyCryptodome's, for a key that is not 32 bytes.
    """
    if isinstance(key, KeyringKey):
        raise keyring_needs_kernel(key, f"Poly1305 with {cipher}", "Poly1305 runs in user space")
    if len(key) != 32:
        raise ValueError(f"Poly1305 with {cipher} requires a 32-byte key")


def _ordinary(value: Any) -> bool:
    return (value is None or isinstance(value, (int, str, dict, KeyringKey)) or plain(value))


def ordinary(key: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether every byte-carrying argument is of a kind the parsers here mirror exactly.

    Byte strings, text, integers, ``None``, counter dictionaries and keyring keys
    are; anything else (a memoryview cast to another format, an ``array``...) is
    first checked by PyCryptodome's own constructor, then normalized (:func:`normalize`).
    """
    return (_ordinary(key) and all(_ordinary(a) for a in args)
            and all(_ordinary(kwargs[n]) for n in BUFFER_PARAMS if n in kwargs))


def _c_bytes(value: Any) -> Any:
    """The bytes PyCryptodome's C code reads from a buffer (other values unchanged)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(c_view(value))
    return value


def normalize(algorithm: str, key: Any, args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
    """Arguments PyCryptodome accepted, as the bytes it used (for the parsers here).

    Only for arguments PyCryptodome's constructor accepted: each buffer becomes
    what its code took from it -- the memory its C code reads for keys and IVs,
    ``tobytes()`` of a TDES key, and for a CTR ``initial_value`` the bytes it
    appends to the nonce.
    """
    if algorithm == "des3" and isinstance(key, (bytearray, memoryview)):
        key = tobytes(key)
    else:
        key = _c_bytes(key)
    params = dict(kwargs)
    for name in ("iv", "IV"):
        if name in params:
            params[name] = _c_bytes(params[name])
    value = params.get("initial_value")
    if value is not None and not isinstance(value, int):
        params["initial_value"] = bytes(b"" + value)
    return key, tuple(_c_bytes(a) for a in args), params


def parity_byte(key_byte: int) -> int:
    """``key_byte`` with its lowest bit set for odd parity (DES keys)."""
    parity = 1
    for i in range(1, 8):
        parity ^= (key_byte >> i) & 1
    return (key_byte & 0xFE) | parity


def adjust_key_parity(key_in: Any) -> bytes:
    """Set the parity bits of a TDES key, as ``Crypto.Cipher.DES3.adjust_key_parity``.

    Args:
        key_in: the 16- or 24-byte TDES key.

    Returns:
        A copy of ``key_in`` with each byte's parity bit set (odd parity).

    Raises:
        ValueError: ``"Not a valid TDES key"`` for another length;
            ``"Triple DES key degenerates to single DES"`` when two adjacent
            DES keys are equal.
    """
    if len(key_in) not in DES3_KEY_SIZES:
        raise ValueError("Not a valid TDES key")
    key_out = bytes([parity_byte(x) for x in key_in])
    if key_out[:8] == key_out[8:16] or key_out[-16:-8] == key_out[-8:]:
        raise ValueError("Triple DES key degenerates to single DES")
    return key_out


def des3_parity(key: bytes) -> bytes | None:
    """:func:`adjust_key_parity` of a byte string, or ``None`` if it is not a valid TDES key."""
    try:
        return adjust_key_parity(key)
    except ValueError:
        return None


def cipher_key(algorithm: str, key: Any, params: dict[str, Any]) -> bytes | None:
    """The key of ``algorithm`` ('aes', 'des3') as PyCryptodome's base cipher takes it.

    Pops what ``_create_base_cipher`` pops (``use_aesni`` for AES) from ``params``.

    Returns:
        The key bytes for the kernel (a 2-key TDES key is returned as 16 bytes,
        parity adjusted), or ``None``.
    """
    if algorithm == "aes":
        params.pop("use_aesni", None)
        raw = buffer_bytes(key)
        return raw if raw is not None and len(raw) in AES_KEY_SIZES else None
    if algorithm == "des3":
        if isinstance(key, str):
            try:
                raw = key.encode("latin-1")
            except UnicodeEncodeError:
                return None
        else:
            raw = buffer_bytes(key)
        return None if raw is None else des3_parity(raw)
    return None


def block_size(algorithm: str) -> int:
    """The block size of ``algorithm`` in bytes."""
    return BLOCK_CIPHERS[algorithm].block_size


def with_positional(mode: int, args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """``kwargs`` with the positional arguments folded in as ``_create_cipher`` does."""
    params = dict(kwargs)
    if args:
        if mode in IV_MODES and len(args) == 1:
            params["IV"] = args[0]
        else:
            return None
    return params


def take_iv(params: dict[str, Any], size: int) -> tuple[bytes | None] | None:
    """Pop ``iv``/``IV`` from ``params``, as PyCryptodome's CBC, CFB and OFB do.

    Returns:
        ``(iv,)``, where ``iv`` is ``None`` when neither was given (the caller
        draws a random one), or ``None`` for anything PyCryptodome rejects.
    """
    first = params.pop("IV", None)
    second = params.pop("iv", None)
    if first is not None and second is not None:
        return None
    given = first if first is not None else second
    if given is None:
        return (None,)
    iv = buffer_bytes(given)
    if iv is None or len(iv) != size:
        return None
    return (iv,)


@dataclass
class IvModeArgs:
    """The arguments of an IV mode (CBC, CFB, OFB) the kernel path takes.

    Attributes:
        key: the key bytes (parity-adjusted TDES).
        iv: the IV, or ``None`` for a random one.
        rest: the keyword arguments left over (the caller pops its own, then
            hands anything left to PyCryptodome for its error).
    """

    key: bytes
    iv: bytes | None
    rest: dict[str, Any]


def iv_mode_args(algorithm: str, mode: int, key: Any, args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> IvModeArgs | None:
    """Parse ``new(key, mode, *args, **kwargs)`` of an IV mode (``None``: not for the kernel)."""
    params = with_positional(mode, args, kwargs)
    if params is None:
        return None
    raw = cipher_key(algorithm, key, params)
    if raw is None:
        return None
    found = take_iv(params, block_size(algorithm))
    if found is None:
        return None
    return IvModeArgs(raw, found[0], params)


def check_threads(threads: Any) -> None:
    """PyCryptodome's checks of ``threads=`` (the kernel path ignores its value).

    Raises:
        TypeError: not an integer (a bool is not one here).
        ValueError: a negative integer.
    """
    if not isinstance(threads, int) or isinstance(threads, bool):
        raise TypeError("'threads' must be an integer")
    if threads < 0:
        raise ValueError("'threads' must be a non-negative integer")


def threads_ok(value: Any) -> bool:
    """Whether :func:`check_threads` accepts ``value``."""
    try:
        check_threads(value)
    except (TypeError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class CounterLayout:
    """A CTR counter block: ``prefix || counter (counter_len bytes) || suffix``.

    Attributes:
        prefix: the fixed bytes before the counter (PyCryptodome's ``nonce``).
        suffix: the fixed bytes after it.
        counter_len: the counter's size in bytes.
        initial: the counter's first value.
        little_endian: the counter's byte order.
    """

    prefix: bytes
    suffix: bytes
    counter_len: int
    initial: int
    little_endian: bool


def ctr_layout(params: dict[str, Any], size: int) -> CounterLayout | None:
    """The counter of ``MODE_CTR`` from ``nonce``/``initial_value`` or ``counter=``.

    A missing nonce is ``size // 2`` random bytes, as PyCryptodome draws it
    (which refuses for blocks shorter than 16 bytes).
    """
    counter = params.pop("counter", None)
    nonce = params.pop("nonce", None)
    initial_value = params.pop("initial_value", None)
    if params:
        return None
    if counter is not None:
        if (nonce, initial_value) != (None, None):
            return None
        return _counter_dict(counter, size)
    if nonce is None:
        if size < 16:
            return None  # PyCryptodome makes no random nonce for 8-byte blocks
        nonce = random_bytes(size // 2)
    if not isinstance(nonce, (bytes, bytearray)) or len(nonce) >= size:
        return None
    counter_len = size - len(nonce)
    if initial_value is None:
        initial_value = 0
    if isinstance(initial_value, int):
        if initial_value < 0 or initial_value >= 1 << (8 * counter_len):
            return None
        initial = int(initial_value)
    else:
        raw = buffer_bytes(initial_value)
        if raw is None or len(raw) != counter_len:
            return None
        initial = int.from_bytes(raw, "big")
    return CounterLayout(bytes(nonce), b"", counter_len, initial, False)


def _counter_dict(counter: Any, size: int) -> CounterLayout | None:
    """The layout of a ``Crypto.Util.Counter.new()`` dictionary."""
    if not isinstance(counter, dict):
        return None
    try:
        counter_len = counter["counter_len"]
        prefix = counter["prefix"]
        suffix = counter["suffix"]
        initial = counter["initial_value"]
        little_endian = counter["little_endian"]
    except KeyError:
        return None
    if not (isinstance(prefix, (bytes, bytearray)) and isinstance(suffix, (bytes, bytearray))
            and type(counter_len) is int and isinstance(initial, int) and counter_len >= 0
            and 0 <= initial < 1 << (8 * counter_len)
            and len(prefix) + counter_len + len(suffix) == size):
        return None
    return CounterLayout(bytes(prefix), bytes(suffix), counter_len, int(initial),
                         bool(little_endian))


def kernel_key(algorithm: str, key: bytes) -> bytes:
    """The key as the kernel takes it: a 2-key TDES key K1||K2 becomes K1||K2||K1."""
    if algorithm == "des3" and len(key) == 16:
        return key + key[:8]
    return key


def tweak_mode_args(label: str, key: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                    tweak_size: int, check_key: Callable[[bytes], None],
                    extra: tuple[str, ...] = ()) -> tuple[bytes | KeyringKey, bytes, dict[str, Any]]:
    """Check ``new(key, mode, *args, **kwargs)`` of a wide-block mode (HCTR2, Adiantum).

    In this order: at most one positional argument (the tweak), one of
    ``tweak``, ``iv`` or ``IV`` (not two; ``None`` counts as not given), no
    unknown keyword, a buffer key (``check_key`` raises the mode's
    ``ValueError`` for its bytes; a :class:`~_kcapi.keyring.KeyringKey`'s size is
    the kernel's to check), then a tweak of ``tweak_size`` bytes.

    Returns:
        ``(key, tweak, the keyword arguments of ``extra`` given)``.
    """
    if len(args) > 1:
        raise TypeError("Too many arguments for this mode")
    params = dict(kwargs)
    if args:
        params["IV"] = args[0]
    given_as = [params.pop(name, None) for name in ("IV", "iv", "tweak")]
    spellings = [value for value in given_as if value is not None]
    if len(spellings) > 1:
        raise TypeError("You must use only one of 'tweak', 'iv' or 'IV'")
    given = spellings[0] if spellings else None
    options = {name: params.pop(name) for name in extra if name in params}
    if params:
        raise TypeError("Unknown parameters for %s: %s" % (label, str(params)))
    raw: bytes | KeyringKey | None = key if isinstance(key, KeyringKey) else buffer_bytes(key)
    if raw is None:
        raise TypeError("Object type %s cannot be passed to C code" % type(key))
    if isinstance(raw, bytes):
        check_key(raw)
    if given is None:
        raise TypeError(f"{label} mode needs the tweak of the first data unit "
                        f"(iv=, {tweak_size} bytes)")
    tweak = buffer_bytes(given)
    if tweak is None:
        raise TypeError("Object type %s cannot be passed to C code" % type(given))
    if len(tweak) != tweak_size:
        raise ValueError("Incorrect tweak length (it must be %d bytes long)" % tweak_size)
    return raw, tweak, options
