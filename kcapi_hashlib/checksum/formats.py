"""The text formats of coreutils' ``sha256sum`` & co, as pure functions.

Everything here is a function of bytes, so it is tested without a kernel
and without files:

* output lines: ``<hex>  <name>`` (text mode), ``<hex> *<name>`` (binary
  mode), ``--tag``'s BSD form ``SHA256 (<name>) = <hex>``; a name holding
  ``\\``, newline or carriage return is escaped (``\\\\``, ``\\n``, ``\\r``) and
  the whole line then starts with a backslash, unless ``-z`` ends lines
  with NUL (names are then written raw);
* ``--check`` input lines, parsed as coreutils 9 parses them (``split_3``
  and ``bsd_split_3`` in ``src/digest.c``), including its state: once a
  checksum file has used the "BSD reversed" form (``<hex> <name>``, one
  space), the standard form is refused, and the other way round;
* the ``name: OK`` / ``name: FAILED`` / ``name: FAILED open or read`` lines.

The reference is coreutils 9.1 (Debian 12's), the one the tests run.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["bsd_tag", "problematic", "escape_name", "unescape_name", "format_line",
           "format_result", "hex_matches", "CheckLine", "LineParser"]

#: coreutils' tags (``--tag``, ``cksum -a``) and b2sum's ``BLAKE2b-<bits>``.
_TAGS = {
    "blake2b": "BLAKE2b",
    "blake2b_160": "BLAKE2b-160",
    "blake2b_256": "BLAKE2b-256",
    "blake2b_384": "BLAKE2b-384",
    "blake2s": "BLAKE2s",
}

_WHITE = b" \t"
_HEX = frozenset(b"0123456789abcdefABCDEF")

OK = "OK"
FAILED = "FAILED"
FAILED_OPEN = "FAILED open or read"


def bsd_tag(name: str, keyed: bool = False) -> str:
    """The algorithm's tag in ``--tag`` lines: coreutils' spelling where it has one.

    Args:
        name: the hashlib name (``'sha256'``, ``'sha3_256'``, ``'blake2b_256'``).
        keyed: an HMAC (``--hmac``): the tag becomes ``HMAC-<tag>``.

    Returns:
        ``'SHA256'``, ``'MD5'``, ``'BLAKE2b'``, ``'BLAKE2b-256'``; other names are
        upper-cased with ``_`` as ``-`` (``'SHA3-256'``, ``'RIPEMD160'``).
    """
    tag = _TAGS.get(name) or name.upper().replace("_", "-")
    return f"HMAC-{tag}" if keyed else tag


def problematic(name: bytes) -> bool:
    """Whether a name must be escaped in an output line (it holds ``\\``, LF or CR)."""
    return b"\\" in name or b"\n" in name or b"\r" in name


def escape_name(name: bytes) -> bytes:
    """Escape ``\\`` as ``\\\\``, newline as ``\\n`` and carriage return as ``\\r``."""
    return name.replace(b"\\", b"\\\\").replace(b"\n", b"\\n").replace(b"\r", b"\\r")


def unescape_name(text: bytes) -> bytes | None:
    """Undo :func:`escape_name`; ``None`` for an invalid escape (coreutils' rule).

    Args:
        text: an escaped name, as read from a checksum line.

    Returns:
        The name, or ``None`` when a backslash ends the text or is followed by
        anything but ``n``, ``r`` or ``\\``, or the text holds a NUL byte.
    """
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == 0:
            return None
        if c == 0x5C:
            i += 1
            if i == len(text):
                return None
            nxt = text[i]
            if nxt == ord("n"):
                out += b"\n"
            elif nxt == ord("r"):
                out += b"\r"
            elif nxt == 0x5C:
                out += b"\\"
            else:
                return None
        else:
            out.append(c)
        i += 1
    return bytes(out)


def format_line(name: bytes, hexdigest: str, *, tag: str | None = None,
                binary: bool = False, zero: bool = False) -> bytes:
    """One output line of ``sha256sum`` & co, with its terminator.

    Args:
        name: the file name as given (``b'-'`` for standard input).
        hexdigest: the digest in lower-case hexadecimal.
        tag: the BSD tag for ``--tag`` lines (``'SHA256'``), ``None`` for the default form.
        binary: binary mode (``-b``): ``*`` before the name instead of a space.
        zero: ``-z``: end with NUL instead of newline, and never escape the name.

    Returns:
        The line's bytes.
    """
    escape = not zero and problematic(name)
    shown = escape_name(name) if escape else name
    digest = hexdigest.encode("ascii")
    if tag is not None:
        line = tag.encode("ascii") + b" (" + shown + b") = " + digest
    else:
        line = digest + (b" *" if binary else b"  ") + shown
    return (b"\\" if escape else b"") + line + (b"\0" if zero else b"\n")


def format_result(name: bytes, result: str) -> bytes:
    """A ``--check`` result line: ``name: OK``, ``name: FAILED``, ``name: FAILED open or read``.

    As in coreutils 9.1 (Debian 12), only a name holding a newline is escaped
    here (then with every escape of :func:`escape_name`); later coreutils also
    escape names holding ``\\`` or a carriage return in these lines.
    """
    if b"\n" in name:
        return b"\\" + escape_name(name) + b": " + result.encode("ascii") + b"\n"
    return name + b": " + result.encode("ascii") + b"\n"


def hex_matches(expected: bytes, digest: bytes) -> bool:
    """Whether checksum-file hex digits (either case) spell ``digest``."""
    return len(expected) == 2 * len(digest) and expected.lower() == digest.hex().encode("ascii")


@dataclass(frozen=True)
class CheckLine:
    """A well-formed checksum line.

    Attributes:
        hexdigest: the expected digest's hex digits, as written (either case).
        name: the file name, unescaped.
        binary: whether the line marked the file as read in binary mode (``*``).
    """

    hexdigest: bytes
    name: bytes
    binary: bool


class LineParser:
    """Parses ``--check`` lines as coreutils 9 does, for one algorithm.

    One parser serves every checksum file of a run: like coreutils, it
    remembers whether the "BSD reversed" form (``<hex> <name>``) was seen.

    Args:
        tag: the BSD tag accepted in ``TAG (name) = hex`` lines (``'SHA256'``).
        digest_size: the digest's size in bytes (the hex part has twice as many digits).
    """

    def __init__(self, tag: str, digest_size: int):
        self.tag = tag.encode("ascii")
        self.hex_len = 2 * digest_size
        self.min_line = self.hex_len + 2  # hex, one blank, a one-character name
        self.bsd_reversed: bool | None = None

    def parse(self, line: bytes) -> CheckLine | None:
        """Split one line (without its newline) into digest, mode and name.

        Args:
            line: a line of a checksum file, its ``\\n`` and a trailing ``\\r`` removed.

        Returns:
            The parsed line, or ``None`` when it is improperly formatted.
        """
        s = line
        n = len(s)

        def at(i: int) -> int:
            return s[i] if i < n else 0

        i = 0
        while at(i) in _WHITE and at(i):
            i += 1
        escaped = at(i) == 0x5C
        if escaped:
            i += 1
        if s[i:i + len(self.tag)] == self.tag:
            i += len(self.tag)
            if at(i) == 0x20:
                i += 1
            if at(i) == 0x28:  # '('
                return self._bsd(s[i + 1:], escaped)
            return None
        if n - i < self.min_line + (at(i) == 0x5C):
            return None
        start = i
        while at(i) and at(i) not in _WHITE:
            i += 1
        if i == n:
            return None
        digest = s[start:i]
        i += 1
        if not self._valid_digits(digest):
            return None
        binary = False
        if n - i == 1 or at(i) not in b" *" or not at(i):
            # "BSD reversed": '<hex> <name>'; never mixed with the standard form.
            if self.bsd_reversed is False:
                return None
            self.bsd_reversed = True
        elif self.bsd_reversed is not True:
            self.bsd_reversed = False
            binary = at(i) == 0x2A
            i += 1
        rest = s[i:]
        if escaped:
            name = unescape_name(rest)
            if name is None:
                return None
        else:
            name = rest.split(b"\0", 1)[0]
        return CheckLine(digest, name, binary)

    def _bsd(self, s: bytes, escaped: bool) -> CheckLine | None:
        """The part of ``TAG (name) = hex`` after the opening parenthesis."""
        n = len(s)
        if n == 0:
            return None
        i = n - 1
        while i and s[i] != 0x29:  # ')'
            i -= 1
        if s[i] != 0x29:
            return None
        if escaped:
            name = unescape_name(s[:i])
            if name is None:
                return None
        else:
            name = s[:i].split(b"\0", 1)[0]
        i += 1
        while i < n and s[i] in _WHITE:
            i += 1
        if i >= n or s[i] != 0x3D:  # '='
            return None
        i += 1
        while i < n and s[i] in _WHITE:
            i += 1
        digest = s[i:]
        if not self._valid_digits(digest):
            return None
        return CheckLine(digest, name, False)

    def _valid_digits(self, digest: bytes) -> bool:
        return len(digest) == self.hex_len and all(c in _HEX for c in digest)
