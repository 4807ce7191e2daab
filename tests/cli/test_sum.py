"""``kcapi sum`` against the real coreutils, byte for byte (host and kernel runs).

Each case runs coreutils' ``sha256sum`` & co. in a subprocess and ``kcapi sum``
in process (``main(argv)``; Python starts slowly inside User-Mode Linux), on
the same files, and compares standard output and exit status byte for byte,
and standard error after the program-name prefix.  In the kernel run
(``KCAPI_BACKEND=kernel``) every digest is the kernel's, so the same
comparisons check the kernel path; tests marked ``kernel`` check it directly.
"""

from __future__ import annotations

import hashlib
import hmac as std_hmac
import io
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import kcapi_hashlib
from _kcapi import _syscalls
from kcapi_cli import __main__ as cli
from kcapi_hashlib.checksum import progress
from kcapi_hashlib.checksum.quoting import quotef
from kcapi_hashlib.checksum.formats import (LineParser, bsd_tag, escape_name, format_line,
                                            unescape_name)

from ..support import kernel_refusal, require_kernel_alg
from ..fakes import CountingKernel

TOOLS = {"md5": "md5sum", "sha1": "sha1sum", "sha256": "sha256sum", "sha512": "sha512sum"}
ENV = {**os.environ, "LC_ALL": "C.UTF-8"}
PROG = "kcapi sum"

pytestmark = pytest.mark.skipif(shutil.which("sha256sum") is None,
                                reason="coreutils' sha256sum is not installed")

# File name -> contents.  Names with spaces, newlines, CR, backslashes, tabs,
# a quote, a colon, a leading dash and a byte that is not UTF-8.
FILES: dict[bytes, bytes] = {
    b"plain": b"hello\n",
    b"a b": b"with a space\n",
    b"nl\nname": b"newline in the name",
    b"back\\slash": b"backslash",
    b"cr\rname": b"carriage return",
    b"tab\tname": b"tab",
    b"empty": b"",
    b"it's": b"apostrophe",
    b"x:y": b"colon",
    b"-dash": b"leading dash",
    b"latin\xe9": b"not utf-8",
    b"big": bytes(range(256)) * 6000,  # 1.5 MB: past the splice chunk and the hold limit
}


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with :data:`FILES`, a subdirectory ``dir``, and it as the cwd."""
    for name, data in FILES.items():
        with open(os.path.join(os.fsencode(tmp_path), name), "wb") as f:
            f.write(data)
    (tmp_path / "dir").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def coreutils(tool: str, args: list[bytes], cwd: Path, stdin: bytes | Path | None = None
              ) -> tuple[int, bytes, list[bytes]]:
    """Run a coreutils tool: (status, stdout, stderr lines with the program name replaced)."""
    if isinstance(stdin, Path):
        with open(stdin, "rb") as f:
            proc = subprocess.run([tool.encode(), *args], cwd=cwd, env=ENV, stdin=f,
                                  capture_output=True, check=False)
    else:
        proc = subprocess.run([tool.encode(), *args], cwd=cwd, env=ENV, input=stdin or b"",
                              capture_output=True, check=False)
    return proc.returncode, proc.stdout, normalize(proc.stderr, tool)


def normalize(stderr: bytes, prog: str) -> list[bytes]:
    """Diagnostics with the program name (prefix and "Try 'PROG --help'") made neutral."""
    name = re.escape(prog.encode())
    text = re.sub(rb"(?m)^" + name + rb": ", b"PROG: ", stderr)
    text = text.replace(b"Try '" + prog.encode() + b" --help'", b"Try 'PROG --help'")
    return text.splitlines()


def ours(capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch,
         args: list[bytes], stdin: bytes | Path | None = None) -> tuple[int, bytes, list[bytes]]:
    """Run ``kcapi sum ARGS`` in this process: (status, stdout, normalized stderr lines)."""
    capsysbinary.readouterr()
    writer = None
    if isinstance(stdin, Path):
        stream = io.TextIOWrapper(open(stdin, "rb"))
    else:  # a real pipe, as a shell gives it (not a BytesIO, which file_digest reads whole)
        read_end, write_end = os.pipe()
        writer = threading.Thread(target=_feed, args=(write_end, stdin or b""))
        writer.start()
        stream = io.TextIOWrapper(open(read_end, "rb"))
    monkeypatch.setattr(sys, "stdin", stream)
    try:
        status = cli.main(["sum", *(os.fsdecode(a) for a in args)])
    finally:
        stream.close()  # a writer blocked on a full pipe then fails with EPIPE and ends
        if writer is not None:
            writer.join()
    out, err = capsysbinary.readouterr()
    return status, out, normalize(err, PROG)


def _feed(fd: int, data: bytes) -> None:
    """Write ``data`` to a pipe and close it (stops quietly when the reader has gone)."""
    try:
        with open(fd, "wb") as f:
            f.write(data)
    except BrokenPipeError:
        pass


def same(capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch,
         algorithm: str, args: list[bytes], cwd: Path, stdin: bytes | Path | None = None
         ) -> tuple[int, bytes, list[bytes]]:
    """Assert that ``kcapi sum -a ALG ARGS`` and coreutils agree; return coreutils' result."""
    expected = coreutils(TOOLS[algorithm], args, cwd, stdin)
    got = ours(capsysbinary, monkeypatch, [b"-a", algorithm.encode(), *args], stdin)
    assert got[1] == expected[1], "standard output differs"
    assert got[2] == expected[2], "diagnostics differ"
    assert got[0] == expected[0], "exit status differs"
    return expected


def hexof(algorithm: str, data: bytes) -> str:
    return hashlib.new(algorithm, data).hexdigest()


# -- computing checksums ------------------------------------------------------

ALL_NAMES = [b"--", *FILES, b"dir", b"missing"]


@pytest.mark.parametrize("algorithm", TOOLS)
def test_sums_match_coreutils(algorithm, tree, capsysbinary, monkeypatch):
    status, out, err = same(capsysbinary, monkeypatch, algorithm, ALL_NAMES, tree)
    assert status == 1 and out.count(b"\n") == len(FILES)  # escaped names stay on one line
    assert b"PROG: dir: Is a directory" in err


@pytest.mark.parametrize("algorithm", TOOLS)
def test_tag_matches_coreutils(algorithm, tree, capsysbinary, monkeypatch):
    same(capsysbinary, monkeypatch, algorithm, [b"--tag", *ALL_NAMES], tree)


@pytest.mark.parametrize("flags", [[b"-b"], [b"-t"], [b"-b", b"-t"], [b"-t", b"--tag"],
                                   [b"--tag", b"-b"], [b"-z"], [b"-z", b"--tag"],
                                   [b"--binary", b"--zero"]])
def test_modes_match_coreutils(flags, tree, capsysbinary, monkeypatch):
    same(capsysbinary, monkeypatch, "sha256", [*flags, b"plain", b"nl\nname", b"back\\slash"],
         tree)


@pytest.mark.parametrize("how", ["pipe", "file"])
def test_stdin_matches_coreutils(how, tree, capsysbinary, monkeypatch):
    stdin: bytes | Path = FILES[b"big"] if how == "pipe" else tree / "big"
    same(capsysbinary, monkeypatch, "sha256", [], tree, stdin)
    same(capsysbinary, monkeypatch, "sha1", [b"-", b"plain", b"-"], tree, stdin)


def test_empty_input_matches_coreutils(tree, capsysbinary, monkeypatch):
    _, out, _ = same(capsysbinary, monkeypatch, "md5", [b"empty", b"-"], tree, b"")
    assert out.startswith(b"d41d8cd98f00b204e9800998ecf8427e  empty\n")


# -- checking -----------------------------------------------------------------

def mixed_check_file(algorithm: str) -> bytes:
    """Good, bad, missing, unreadable, escaped, BSD, CRLF, comment and malformed lines."""
    h = {name: hexof(algorithm, data) for name, data in FILES.items()}
    tag = bsd_tag(algorithm).encode()
    lines = [
        h[b"plain"].encode() + b"  plain",
        h[b"a b"].encode() + b" *a b",
        b"\\" + h[b"nl\nname"].encode() + b"  nl\\nname",
        b"\\" + h[b"back\\slash"].encode() + b"  back\\\\slash",
        b"\\" + tag + b" (cr\\rname) = " + h[b"cr\rname"].encode(),
        tag + b" (tab\tname) = " + h[b"tab\tname"].encode(),
        hexof(algorithm, b"other").encode() + b"  empty",  # FAILED
        h[b"plain"].encode() + b"  missing",  # FAILED open or read (missing)
        h[b"plain"].encode() + b"  dir",  # FAILED open or read (a directory)
        b"not a checksum line",
        b"# a comment",
        b"",
        h[b"plain"].upper().encode() + b"  plain\r",  # CRLF and upper-case hex
        h[b"plain"].encode() + b"\tplain",  # 'BSD reversed' after standard lines: refused
        b"\\" + h[b"plain"].encode() + b"  bad\\qescape",
        h[b"plain"][:-2].encode() + b"  plain",  # too short
        tag + b" (plain) = " + h[b"plain"].encode() + b"00",
        h[b"latin\xe9"].encode() + b"  latin\xe9",
        h[b"big"].encode() + b"  big",
    ]
    return b"\n".join(lines) + b"\n"


@pytest.mark.parametrize("algorithm", TOOLS)
def test_check_matches_coreutils(algorithm, tree, capsysbinary, monkeypatch):
    (tree / "sums").write_bytes(mixed_check_file(algorithm))
    status, out, err = same(capsysbinary, monkeypatch, algorithm, [b"-c", b"sums"], tree)
    assert status == 1
    assert b"plain: OK\n" in out and b"empty: FAILED\n" in out
    assert b"missing: FAILED open or read\n" in out and b"dir: FAILED open or read\n" in out
    assert b"PROG: WARNING: 1 computed checksum did NOT match" in err
    assert b"PROG: WARNING: 2 listed files could not be read" in err
    assert b"PROG: WARNING: 5 lines are improperly formatted" in err


@pytest.mark.parametrize("flags", [[b"--quiet"], [b"--status"], [b"-w"], [b"--strict"],
                                   [b"--ignore-missing"], [b"--strict", b"--warn"],
                                   [b"--warn", b"--status"], [b"--status", b"--quiet"],
                                   [b"--quiet", b"--ignore-missing", b"--strict"]])
def test_check_options_match_coreutils(flags, tree, capsysbinary, monkeypatch):
    (tree / "sums").write_bytes(mixed_check_file("sha256"))
    same(capsysbinary, monkeypatch, "sha256", [*flags, b"-c", b"sums"], tree)


def test_check_all_good_and_strict_exit_codes(tree, capsysbinary, monkeypatch):
    good = "".join(f"{hexof('sha512', d)}  {n.decode()}\n" for n, d in FILES.items()
                   if n in (b"plain", b"a b", b"empty"))
    (tree / "good").write_text(good)
    status, out, err = same(capsysbinary, monkeypatch, "sha512", [b"-c", b"good"], tree)
    assert (status, err) == (0, [])
    (tree / "good+junk").write_text(good + "junk\n")
    assert same(capsysbinary, monkeypatch, "sha512", [b"-c", b"good+junk"], tree)[0] == 0
    assert same(capsysbinary, monkeypatch, "sha512",
                [b"--strict", b"-c", b"good+junk"], tree)[0] == 1
    assert same(capsysbinary, monkeypatch, "sha512",
                [b"--status", b"-c", b"good", b"good+junk"], tree)[1] == b""


def test_check_ignore_missing_matches_coreutils(tree, capsysbinary, monkeypatch):
    (tree / "only-missing").write_text(f"{hexof('sha1', b'')}  missing\n")
    _, _, err = same(capsysbinary, monkeypatch, "sha1",
                     [b"--ignore-missing", b"-c", b"only-missing"], tree)
    assert err == [b"PROG: only-missing: no file was verified"]


def test_check_bsd_reversed_state_matches_coreutils(tree, capsysbinary, monkeypatch):
    h = hexof("sha256", FILES[b"plain"]).encode()
    (tree / "reversed").write_bytes(h + b" plain\n" + h + b"  plain\n")
    (tree / "standard").write_bytes(h + b"  plain\n")
    # The reversed form, once seen, holds for the rest of the run (every checksum file).
    same(capsysbinary, monkeypatch, "sha256", [b"-c", b"reversed", b"standard"], tree)
    same(capsysbinary, monkeypatch, "sha256", [b"-c", b"standard", b"reversed"], tree)


def test_check_from_stdin_matches_coreutils(tree, capsysbinary, monkeypatch):
    sums = mixed_check_file("md5") + hexof("md5", b"").encode() + b"  -\n"
    same(capsysbinary, monkeypatch, "md5", [b"-c"], tree, sums)
    same(capsysbinary, monkeypatch, "md5", [b"--warn", b"-c", b"-"], tree, sums)
    same(capsysbinary, monkeypatch, "md5", [b"-c"], tree, b"junk\n")


def test_check_line_naming_stdin_reads_it(tree, capsysbinary, monkeypatch):
    (tree / "sums").write_text(f"{hexof('sha256', b'piped')}  -\n")
    _, out, _ = same(capsysbinary, monkeypatch, "sha256", [b"-c", b"sums"], tree, b"piped")
    assert out == b"-: OK\n"


def test_check_file_errors_match_coreutils(tree, capsysbinary, monkeypatch):
    (tree / "empty-sums").write_bytes(b"")
    (tree / "comments").write_bytes(b"# nothing\n\n")
    status, out, err = same(capsysbinary, monkeypatch, "sha256",
                            [b"-c", b"no such file", b"dir", b"empty-sums", b"comments"], tree)
    assert status == 1 and out == b""
    assert err == [b"PROG: 'no such file': No such file or directory", b"PROG: dir: read error",
                   b"PROG: empty-sums: no properly formatted checksum lines found",
                   b"PROG: comments: no properly formatted checksum lines found"]


def test_round_trip_with_coreutils(tree, capsysbinary, monkeypatch):
    names = [n for n in FILES if n != b"-dash"]
    status, ours_out, _ = ours(capsysbinary, monkeypatch, [b"-a", b"sha1", b"--tag", *names])
    assert status == 0
    (tree / "ours").write_bytes(ours_out)
    assert coreutils("sha1sum", [b"--quiet", b"-c", b"ours"], tree)[:2] == (0, b"")
    (tree / "theirs").write_bytes(coreutils("sha1sum", [b"-b", *names], tree)[1])
    assert ours(capsysbinary, monkeypatch, [b"-a", b"sha1", b"--quiet", b"-c", b"theirs"]
                )[:2] == (0, b"")


# -- command line --------------------------------------------------------------

@pytest.mark.parametrize("args", [[b"--tag", b"-t"], [b"--status"], [b"--quiet"], [b"-w"],
                                  [b"--strict"], [b"--ignore-missing"], [b"-c", b"--tag"],
                                  [b"-c", b"-b"], [b"-c", b"-t"], [b"-c", b"-z"],
                                  [b"--bogus"], [b"--tag", b"-c", b"-t"]])
def test_usage_errors_match_coreutils(args, tree, capsysbinary, monkeypatch):
    status, out, err = same(capsysbinary, monkeypatch, "sha256", [*args, b"plain"], tree)
    assert (status, out) == (1, b"") and err[-1] == b"Try 'PROG --help' for more information."


def test_error_names_are_quoted_as_coreutils_quotes_them(tree, capsysbinary, monkeypatch):
    names = [b"a=b", b"#x", b"x#", b"~x", b"it's", b"it's $x", b"a\\b", b'a"b', b"!x",
             b"a{b", b"{", b"a:b", b"a@b", b"\x01x", b"\xff", b"\xc3\xa9", b"a?b", b"a\x7fb",
             b"a b", b"n\nx", b"'\n", b"\n'\n", b"tab\tx", b"\xe2\x80\xa8", b"a\rb"]
    missing = [b"no/" + n for n in names]
    _, _, err = same(capsysbinary, monkeypatch, "sha256", missing, tree)
    assert len(err) == len(names)


def test_quotef_in_a_single_byte_locale():
    assert quotef(b"\xc3\xa9", utf8=False) == "''$'\\303\\251'"
    assert quotef(b"\xc3\xa9", utf8=True) == "\xe9"
    assert quotef("plain") == "plain"
    assert quotef("") == "''"


def test_unknown_and_variable_length_algorithms(tree, capsysbinary, monkeypatch):
    status, out, err = ours(capsysbinary, monkeypatch, [b"-a", b"nosuchhash", b"plain"])
    assert (status, out) == (1, b"") and b"nosuchhash" in err[0]
    status, out, err = ours(capsysbinary, monkeypatch, [b"-a", b"shake_128", b"plain"])
    # hashlib's shake has no fixed size; the kernel run refuses it (no kernel equivalent).
    assert (status, out) == (1, b"") and (b"variable-length" in err[0] or b"no equivalent" in err[0])


def test_hmac_matches_the_hmac_module(tree, capsysbinary, monkeypatch):
    key = b"k" * 100  # longer than a block: hashed first (RFC 2104)
    (tree / "key").write_bytes(key)
    expected = {n: std_hmac.new(key, FILES[n], "sha256").hexdigest() for n in (b"plain", b"big")}
    status, out, _ = ours(capsysbinary, monkeypatch, [b"--hmac", b"key", b"plain", b"big"])
    assert status == 0
    assert out == b"".join(f"{expected[n]}  {n.decode()}\n".encode() for n in (b"plain", b"big"))
    _, tagged, _ = ours(capsysbinary, monkeypatch, [b"--hmac", b"key", b"--tag", b"plain"])
    assert tagged == f"HMAC-SHA256 (plain) = {expected[b'plain']}\n".encode()
    (tree / "macs").write_bytes(out + tagged)
    status, checked, _ = ours(capsysbinary, monkeypatch, [b"--hmac", b"key", b"-c", b"macs"])
    assert (status, checked) == (0, b"plain: OK\nbig: OK\nplain: OK\n")
    status, _, err = ours(capsysbinary, monkeypatch, [b"--hmac", b"nokey", b"plain"])
    assert status == 1 and err == [b"PROG: nokey: No such file or directory"]


def test_algorithms_beyond_coreutils(tree, capsysbinary, monkeypatch):
    why = kernel_refusal("hash", "sha3-256")
    if why is not None and why.reason == "interface-lacks" and kcapi_hashlib.get_backend() == "kernel":
        pytest.skip(f"the kernel interface in force has no SHA-3: {why}")
    status, out, _ = ours(capsysbinary, monkeypatch, [b"-a", b"sha3_256", b"--tag", b"plain"])
    assert status == 0
    assert out == f"SHA3-256 (plain) = {hexof('sha3_256', FILES[b'plain'])}\n".encode()
    (tree / "s").write_bytes(out)
    assert ours(capsysbinary, monkeypatch, [b"-a", b"sha3_256", b"-c", b"s"])[:2] == (
        0, b"plain: OK\n")


def test_debug_names_the_implementation(tree, capsysbinary, monkeypatch):
    status, _, err = ours(capsysbinary, monkeypatch, [b"--debug", b"plain"])
    assert status == 0 and err[0].startswith(b"PROG: sha256: ")
    assert b"kernel 'sha256' driver" in err[0] or b"software (" in err[0]


# -- progress bar ---------------------------------------------------------------

class FakeTerminal(io.StringIO):
    """A standard error that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


def test_no_progress_bar_when_stderr_is_not_a_terminal(tree, capsysbinary, monkeypatch):
    monkeypatch.setattr(progress, "THRESHOLD", 0)
    monkeypatch.setattr(progress, "bar", None)  # any attempt to draw one would fail
    status, out, err = ours(capsysbinary, monkeypatch, [b"big"])
    assert status == 0 and err == [] and out.startswith(hexof("sha256", FILES[b"big"]).encode())


def test_progress_bar_on_a_terminal_for_large_files_only(tree, monkeypatch):
    terminal = FakeTerminal()
    stdout = io.TextIOWrapper(io.BytesIO())
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(progress, "THRESHOLD", 1 << 20)
    assert cli.main(["sum", "plain", "big"]) == 0
    stdout.flush()
    assert stdout.buffer.getvalue() == (
        f"{hexof('sha256', FILES[b'plain'])}  plain\n{hexof('sha256', FILES[b'big'])}  big\n"
    ).encode()
    drawn = terminal.getvalue()
    assert "big" in drawn and "plain" not in drawn  # only the file over the threshold
    assert progress.wanted(terminal, 10, threshold=5) and not progress.wanted(terminal, 5, 5)
    assert not progress.wanted(io.StringIO(), 10, threshold=5)
    assert not progress.wanted(terminal, None, threshold=5)


# -- pure formatting --------------------------------------------------------------

def test_formatting_and_escaping():
    assert escape_name(b"a\\b\nc\rd") == b"a\\\\b\\nc\\rd"
    assert unescape_name(b"a\\\\b\\nc\\rd") == b"a\\b\nc\rd"
    for bad in (b"a\\", b"a\\x", b"a\0b"):
        assert unescape_name(bad) is None
    assert format_line(b"a\nb", "00", tag=None) == b"\\00  a\\nb\n"
    assert format_line(b"a\nb", "00", tag="MD5", binary=True) == b"\\MD5 (a\\nb) = 00\n"
    assert format_line(b"a\nb", "00", binary=True, zero=True) == b"00 *a\nb\0"
    assert [bsd_tag(n) for n in ("md5", "sha1", "sha256", "blake2b", "blake2b_256", "sha3_512")
            ] == ["MD5", "SHA1", "SHA256", "BLAKE2b", "BLAKE2b-256", "SHA3-512"]
    assert bsd_tag("sha256", keyed=True) == "HMAC-SHA256"


def test_line_parser():
    parser = LineParser("SHA1", 20)
    h = b"a" * 40
    assert parser.parse(h + b"  name").name == b"name"
    assert parser.parse(h + b" *name").binary
    assert parser.parse(b"SHA1 (x) y) = " + h).name == b"x) y"
    assert parser.parse(b"\\SHA1 (a\\nb) = " + h).name == b"a\nb"
    assert parser.parse(b"SHA1(x)=" + h).name == b"x"
    assert parser.parse(b"SHA256 (x) = " + h) is None
    assert parser.parse(h[:-1] + b"  name") is None
    assert parser.parse(h + b" name") is None  # the reversed form after the standard one
    reversed_parser = LineParser("SHA1", 20)
    assert reversed_parser.parse(h + b" name").name == b"name"
    assert reversed_parser.parse(h + b"  name").name == b" name"


# -- the kernel path ----------------------------------------------------------------

@pytest.mark.usefixtures("af_alg_only")  # AF_ALG's own mechanism: splice
@pytest.mark.kernel
def test_kernel_serves_and_files_are_spliced(tree, capsysbinary, monkeypatch):
    require_kernel_alg("hash", "sha256")
    counter = CountingKernel()
    monkeypatch.setattr(_syscalls, "kernel", counter)
    status, out, err = ours(capsysbinary, monkeypatch,
                            [b"--backend", b"kernel", b"--debug", b"big"])
    assert status == 0 and out == f"{hexof('sha256', FILES[b'big'])}  big\n".encode()
    assert b"kernel 'sha256' driver" in err[0]
    assert counter.splices > 0


@pytest.mark.kernel
@pytest.mark.parametrize("algorithm", TOOLS)
def test_kernel_policy_hashes_every_tool_algorithm(algorithm, tree, capsysbinary, monkeypatch):
    require_kernel_alg("hash", algorithm)
    status, _, err = ours(capsysbinary, monkeypatch,
                          [b"--backend", b"kernel", b"--debug", b"-a", algorithm.encode(), b"plain"])
    assert status == 0 and f"kernel '{algorithm}'".encode() in err[0]


# -- entry points (few subprocesses: Python starts slowly inside UML) ----------------

def test_python_dash_m_and_alias(tree):
    expected = coreutils("sha256sum", [b"plain", b"-"], tree, b"piped")
    for module in ("kcapi_cli", "kcapi_hashlib"):
        args = ["sum", "plain", "-"] if module == "kcapi_cli" else ["plain", "-"]
        proc = subprocess.run([sys.executable, "-m", module, *args], cwd=tree, input=b"piped",
                              capture_output=True, check=False,
                              env={**ENV, "PYTHONPATH": str(Path(__file__).parents[2])})
        assert (proc.returncode, proc.stdout) == expected[:2], proc.stderr
