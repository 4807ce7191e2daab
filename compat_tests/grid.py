"""The buffer grid: every kind of argument against every entry point, ours beside PyCryptodome's.

A *scenario* builds one object with ``kcapi_cipher`` and one with PyCryptodome
from the same arguments, runs the same calls on both, and records every
outcome: the value returned, or the exception's type and message, and what
each ``output=`` buffer holds afterwards.  A call that raises does not end the
scenario: the calls after it show whether the object is in the state
PyCryptodome's is in (PyCryptodome sometimes changes its state before it
raises).  Decrypting scenarios end with ``verify()`` of the tag PyCryptodome's
object computed, read from its private attribute: the tag must cover exactly
what PyCryptodome's covers.

Under the ``kernel`` policy the ``kcapi_cipher`` objects are the kernel's; on a
host without AF_ALG they are PyCryptodome's own, and the grid still checks the
routing (arguments, fallbacks, errors).
"""

from __future__ import annotations

import array
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import Crypto.Cipher.AES as RefAES
import Crypto.Cipher.ChaCha20 as RefChaCha20
import Crypto.Cipher.ChaCha20_Poly1305 as RefChaChaPoly
import Crypto.Cipher.DES3 as RefDES3
import Crypto.Hash.CMAC as RefCMAC

from kcapi_cipher import AES, CMAC, DES3, ChaCha20, ChaCha20_Poly1305
from tests.support import skip_if_refusal_expected


class BufferObject:
    """A class with the buffer protocol of Python 3.12+ (``__buffer__``) and nothing else."""

    def __init__(self, data: bytes):
        self._data = bytearray(data)

    def __buffer__(self, flags: int) -> memoryview:
        return memoryview(self._data)

    def __repr__(self) -> str:
        return "BufferObject()"


def _strided(data: bytes) -> memoryview:
    """A writable, non-contiguous memoryview holding ``data`` (every other byte)."""
    spread = bytearray(2 * len(data))
    spread[::2] = data
    return memoryview(spread)[::2]


def _cast(data: bytes, fmt: str) -> memoryview | None:
    size = array.array(fmt).itemsize
    if len(data) % size:
        return None
    return memoryview(bytearray(data)).cast(fmt)


def _shape(data: bytes, rows: int) -> memoryview | None:
    if not data or len(data) % rows:
        return None
    return memoryview(bytearray(data)).cast("B", (rows, len(data) // rows))


def _array(data: bytes, fmt: str) -> array.array | None:
    made = array.array(fmt)
    if len(data) % made.itemsize:
        return None
    made.frombytes(data)
    return made


#: Every kind of argument: name -> a function making one holding ``data`` (``None``: not
#: possible for that length).  Each call makes a new object, so ours and PyCryptodome's
#: never share an argument.
KINDS: dict[str, Callable[[bytes], Any]] = {
    "bytes": bytes,
    "bytearray": bytearray,
    "memoryview": lambda d: memoryview(bytearray(d)),
    "memoryview-readonly": lambda d: memoryview(bytes(d)),
    "memoryview-slice": lambda d: memoryview(b"<" + d + b">")[1:-1],
    "cast-b": lambda d: _cast(d, "b"),
    "cast-H": lambda d: _cast(d, "H"),
    "cast-I": lambda d: _cast(d, "I"),
    "cast-I-readonly": lambda d: memoryview(bytes(d)).cast("I") if len(d) % 4 == 0 else None,
    "2d-rows": lambda d: _shape(d, 2),
    "2d-column": lambda d: _shape(d, len(d)),
    "2d-wide": lambda d: _shape(d, len(d) // 2) if len(d) % 2 == 0 and d else None,
    "strided": _strided,
    "array-B": lambda d: _array(d, "B"),
    "array-I": lambda d: _array(d, "I"),
    "buffer-object": BufferObject,
    "str": lambda d: d.decode("latin-1"),
    "list": list,
    "None": lambda d: None,
    "int": lambda d: len(d),
}

#: The kinds an ``output=`` buffer is tried as (they hold zeros of the right length).
OUTPUT_KINDS = ["bytearray", "memoryview", "memoryview-readonly", "cast-b", "cast-H", "cast-I",
                "2d-rows", "2d-column", "strided", "array-B", "bytes", "list", "int"]


def make(kind: str, data: bytes) -> Any:
    """A new argument of ``kind`` holding ``data`` (``None`` for an impossible pairing)."""
    return KINDS[kind](data)


def possible(kind: str, data: bytes) -> bool:
    return kind in ("None",) or make(kind, data) is not None


def contents(x: Any) -> Any:
    """What a (possibly odd) buffer holds now, for comparison."""
    if isinstance(x, memoryview):
        return x.tobytes()
    if isinstance(x, (bytes, bytearray)):
        return bytes(x)
    if isinstance(x, array.array):
        return x.tobytes()
    if isinstance(x, BufferObject):
        return bytes(x._data)
    if isinstance(x, list):
        return list(x)
    return repr(x)


def outcome(call: Callable[[], Any]) -> Any:
    """The result of ``call()`` in a comparable form, or its exception's type and text."""
    try:
        result = call()
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome compared
        skip_if_refusal_expected(exc)
        return ("raised", type(exc), str(exc))
    return ("returned", _plain(result))


def _plain(result: Any) -> Any:
    if result is None or isinstance(result, (bytes, str, int, bool)):
        return result
    if isinstance(result, tuple):
        return tuple(_plain(r) for r in result)
    return "an object"


@dataclass
class Trace:
    """What one side of a scenario did: one entry per call, and the arguments' contents."""

    steps: list[Any] = field(default_factory=list)


#: A step of a scenario: ``(label, function(obj, side) -> outcome-producing callable)``.
#: ``side`` is 'ours' or 'ref': a step builds its own arguments per side.
Step = Callable[[Any, dict[str, Any]], Any]


def run_steps(obj: Any, steps: list[tuple[str, Step]], side: dict[str, Any]) -> list[Any]:
    """Run ``steps`` on ``obj``; each records its outcome and the contents of its arguments."""
    seen = []
    for label, step in steps:
        made: list[Any] = []
        side["made"] = made
        result = outcome(lambda: step(obj, side))
        seen.append((label, result, [contents(x) for x in made]))
    return seen


def arg(side: dict[str, Any], kind: str, data: bytes) -> Any:
    """An argument of ``kind`` for this side, remembered so its contents are compared."""
    x = make(kind, data)
    side["made"].append(x)
    return x


# -- the reference's tag, read after its verify() -----------------------------------------


def reference_tag(ref: Any) -> bytes | None:
    """The tag PyCryptodome's AEAD object computed (``None`` if it computed none)."""
    for name in ("_tag", "_mac_tag"):
        tag = getattr(ref, name, None)
        if isinstance(tag, bytes):
            return tag
    return None


# -- factories of both sides -----------------------------------------------------------------


@dataclass(frozen=True)
class Construction:
    """One kind of object: how to make ours and PyCryptodome's, and its kind of API."""

    name: str
    ours: Callable[..., Any]
    ref: Callable[..., Any]
    api: str  # 'block' (a block mode), 'stream', 'aead', 'cmac'
    block: int = 16  # data sizes used are multiples of it where the mode needs that


K16 = bytes(range(1, 17))
K24 = bytes(range(1, 25))
K32 = bytes(range(1, 33))
TDES = bytes(range(1, 49, 2))
IV16 = bytes(range(100, 116))
IV8 = bytes(range(100, 108))


def _block(mod: Any, key: bytes, mode: int, **kw: Any) -> Callable[[], Any]:
    return lambda: mod.new(key, mode, **kw)


def constructions() -> dict[str, Construction]:
    """Every object kind of the grid, by name."""
    made: dict[str, Construction] = {}

    def add(name: str, ours: Callable[[], Any], ref: Callable[[], Any], api: str,
            block: int = 16) -> None:
        made[name] = Construction(name, ours, ref, api, block)

    for label, mod, ref_mod, key, iv, block in (("aes", AES, RefAES, K16, IV16, 16),
                                                 ("des3", DES3, RefDES3, TDES, IV8, 8)):
        add(f"{label}-ecb", _block(mod, key, 1), _block(ref_mod, key, 1), "block", block)
        add(f"{label}-cbc", _block(mod, key, 2, iv=iv), _block(ref_mod, key, 2, iv=iv), "block",
            block)
        add(f"{label}-cfb8", _block(mod, key, 3, iv=iv), _block(ref_mod, key, 3, iv=iv), "stream")
        add(f"{label}-cfb", _block(mod, key, 3, iv=iv, segment_size=8 * block),
            _block(ref_mod, key, 3, iv=iv, segment_size=8 * block), "stream")
        add(f"{label}-ofb", _block(mod, key, 5, iv=iv), _block(ref_mod, key, 5, iv=iv), "stream")
        add(f"{label}-ctr", _block(mod, key, 6, nonce=iv[:block // 2]),
            _block(ref_mod, key, 6, nonce=iv[:block // 2]), "stream")
    # one data unit per object, pieces of whole blocks (PyCryptodome 4.5's MODE_XTS)
    add("aes-xts", _block(AES, K32, 16, tweak=IV16), _block(RefAES, K32, 16, tweak=IV16), "block")
    for size in (8, 12, 24):
        nonce = bytes(range(size))
        add(f"chacha20-{size}", lambda n=nonce: ChaCha20.new(key=K32, nonce=n),
            lambda n=nonce: RefChaCha20.new(key=K32, nonce=n), "stream")
    add("gcm", lambda: AES.new(K16, AES.MODE_GCM, nonce=IV16[:12]),
        lambda: RefAES.new(K16, RefAES.MODE_GCM, nonce=IV16[:12]), "aead")
    add("gcm-nonce16", lambda: AES.new(K16, AES.MODE_GCM, nonce=IV16, mac_len=12),
        lambda: RefAES.new(K16, RefAES.MODE_GCM, nonce=IV16, mac_len=12), "aead")
    for label, kw in (("", {}), ("-assoc", {"assoc_len": 21}), ("-msg", {"msg_len": 37}),
                      ("-both", {"assoc_len": 21, "msg_len": 37})):
        add(f"ccm{label}", lambda kw=kw: AES.new(K16, AES.MODE_CCM, nonce=IV16[:11], **kw),
            lambda kw=kw: RefAES.new(K16, RefAES.MODE_CCM, nonce=IV16[:11], **kw), "aead")
    for size in (12, 8, 24):
        nonce = bytes(range(size))
        add(f"chachapoly-{size}", lambda n=nonce: ChaCha20_Poly1305.new(key=K32, nonce=n),
            lambda n=nonce: RefChaChaPoly.new(key=K32, nonce=n), "aead")
    add("cmac-aes", lambda: CMAC.new(K16, ciphermod=AES),
        lambda: RefCMAC.new(K16, ciphermod=RefAES), "cmac")
    add("cmac-aes-after", lambda: CMAC.new(K16, ciphermod=AES, update_after_digest=True),
        lambda: RefCMAC.new(K16, ciphermod=RefAES, update_after_digest=True), "cmac")
    add("cmac-des3", lambda: CMAC.new(TDES, ciphermod=DES3),
        lambda: RefCMAC.new(TDES, ciphermod=RefDES3), "cmac", 8)
    return made


def python_has_buffer_dunder() -> bool:
    """Whether this interpreter honours ``__buffer__`` (Python 3.12+)."""
    return sys.version_info >= (3, 12)
