"""File names in diagnostics, quoted as GNU coreutils quotes them (``quotef``).

coreutils names a file in an error message through gnulib's ``quotef``: the
``shell-escape`` quoting style with ``:`` also quoted.  A name that a shell
would read back unchanged is printed as is; any other is put in single
quotes, with control and undecodable bytes written as ``$'\\ooo'`` pieces,
except that a name whose only problem is an apostrophe goes in double
quotes.  Examples (from ``sha256sum``): ``a b`` -> ``'a b'``, ``it's`` ->
``"it's"``, ``a\\nb`` -> ``'a'$'\\n''b'``, ``\\xff`` -> ``''$'\\377'``.

This is a pure function of the name and the locale's character set, so it
is tested against the real ``sha256sum`` without a kernel.
"""

from __future__ import annotations

import locale
import os
import unicodedata
from collections.abc import Callable

__all__ = ["quotef", "locale_is_utf8"]

# Characters that never need quoting (gnulib's explicit list).
_SAFE = frozenset(b"%+,-./0123456789:ABCDEFGHIJKLMNOPQRSTUVWXYZ]_abcdefghijklmnopqrstuvwxyz")
# Shell specials: quoting is needed wherever they are.
_SPECIAL = frozenset(b" !\"$&()*;<=>[^`|")
# C escapes of control characters.
_C_ESCAPES = {0x07: "a", 0x08: "b", 0x0C: "f", 0x0A: "n", 0x0D: "r", 0x09: "t", 0x0B: "v"}


def locale_is_utf8() -> bool:
    """Whether the current LC_CTYPE is UTF-8 (multibyte names are then printable).

    Returns:
        ``True`` for a UTF-8 locale (``C.UTF-8``, ``en_US.UTF-8``), ``False``
        for a single-byte one such as ``C``/``POSIX``.
    """
    try:
        codeset = locale.nl_langinfo(locale.CODESET)
    except (AttributeError, ValueError):  # pragma: no cover - not on Linux
        codeset = "UTF-8"
    return codeset.replace("-", "").upper() == "UTF8"


def _chunks(name: bytes, utf8: bool) -> list[tuple[bytes, bool]]:
    """Split ``name`` into characters: ``(bytes, printable)`` pairs."""
    out: list[tuple[bytes, bool]] = []
    i = 0
    while i < len(name):
        c = name[i]
        if c < 0x80 or not utf8:
            out.append((name[i:i + 1], 0x20 <= c < 0x7F))
            i += 1
            continue
        width = 2 if c >> 5 == 0b110 else 3 if c >> 4 == 0b1110 else 4 if c >> 3 == 0b11110 else 0
        piece = name[i:i + width] if width else b""
        try:
            ch = piece.decode("utf-8") if width else ""
        except UnicodeDecodeError:
            ch = ""
        if len(ch) != 1:
            out.append((name[i:i + 1], False))  # an invalid byte: escaped alone
            i += 1
            continue
        # glibc's iswprint: all but controls, surrogates, unassigned, line/paragraph separators.
        printable = unicodedata.category(ch) not in ("Cc", "Cs", "Cn", "Zl", "Zp")
        out.append((piece, printable))
        i += width
    return out


def _every_char(chars: list[tuple[bytes, bool]], allowed: Callable[[int, int, bool], bool]
                ) -> bool:
    """Whether each character passes: a multibyte one when printable, a byte when
    ``allowed(byte, index, printable)`` says so."""
    for index, (piece, printable) in enumerate(chars):
        if len(piece) > 1:
            if not printable:
                return False
        elif not allowed(piece[0], index, printable):
            return False
    return True


def _special_at(c: int, index: int, name: bytes) -> bool:
    """Whether ``{``, ``}``, ``#`` or ``~`` is special where it stands (gnulib's rule):
    a brace when it is the whole name, ``#`` or ``~`` when it comes first."""
    return len(name) == 1 if c in b"{}" else index == 0


def _needs_quotes(name: bytes, chars: list[tuple[bytes, bool]]) -> bool:
    """Whether the shell-escape style must add outer quotes (gnulib's elision test)."""

    def plain(c: int, index: int, printable: bool) -> bool:
        # Shell specials, quotes, '?', '\\', ':' and unprintable bytes are not plain.
        if c in b"{}#~":
            return not _special_at(c, index, name)
        return (c in _SAFE and c != ord(":")) or c == ord("@")

    return not name or not _every_char(chars, plain)


def quotef(name: str | bytes, utf8: bool | None = None) -> str:
    """Quote a file name as coreutils' diagnostics do (gnulib ``quotef``).

    Args:
        name: the file name, as given on the command line (``str``, decoded
            with the file system encoding's ``surrogateescape``) or as bytes.
        utf8: whether multibyte characters are printable (default: the
            locale's LC_CTYPE is UTF-8).

    Returns:
        The quoted name, ready to print after ``"<program>: "``.
    """
    raw = os.fsencode(name) if isinstance(name, str) else bytes(name)
    if utf8 is None:
        utf8 = locale_is_utf8()
    chars = _chunks(raw, utf8)
    if not _needs_quotes(raw, chars):
        return raw.decode("utf-8", "surrogateescape")
    if b"'" not in raw:
        return _shell_escape_always(chars, False)
    if _quote_compatible(raw, chars):
        return '"' + raw.decode("utf-8", "surrogateescape") + '"'
    # gnulib scans a name with an apostrophe once, then writes it in a second
    # pass; the gnulib of coreutils 9.1 carries the "inside $'...'" state of the
    # scan's end into that pass (a leading '' when the name ends with an escape).
    return _shell_escape_always(chars, _is_escaped(chars[-1]))


def _quote_compatible(name: bytes, chars: list[tuple[bytes, bool]]) -> bool:
    """Whether every character is fine inside C double quotes and a shell (gnulib's test)."""

    def compatible(c: int, index: int, printable: bool) -> bool:
        if c in _SAFE or c in b" '":
            return True
        if c in b"{}#~":
            return _special_at(c, index, name)
        # Other printable ASCII (for example '@') counts as compatible.
        return printable and c not in _SPECIAL and c not in b"?\\"

    return _every_char(chars, compatible)


def _is_escaped(char: tuple[bytes, bool]) -> bool:
    """Whether a character is written as a backslash escape inside $'...'."""
    piece, printable = char
    return (len(piece) == 1 and piece[0] in _C_ESCAPES) or not printable


def _shell_escape_always(chars: list[tuple[bytes, bool]], pending_end: bool) -> str:
    """gnulib's ``shell_escape_always`` style: '...' with $'\\ooo' pieces for the unprintable.

    Args:
        chars: the name's characters, from :func:`_chunks`.
        pending_end: whether the writer starts inside a $'...' piece (see :func:`quotef`).
    """
    out = ["'"]
    for piece, printable in chars:
        if len(piece) == 1 and piece[0] in _C_ESCAPES:
            escapes = ["\\" + _C_ESCAPES[piece[0]]]
        elif not printable:
            escapes = [f"\\{b:03o}" for b in piece]
        else:
            escapes = []
        if escapes:
            if not pending_end:
                out.append("'$'")
                pending_end = True
            out.extend(escapes)
            continue
        if piece == b"'":
            out.append("'\\''")  # also ends a pending $'...' piece
        else:
            if pending_end:
                out.append("''")
            out.append(piece.decode("utf-8", "surrogateescape"))
        pending_end = False
    out.append("'")
    return "".join(out)
