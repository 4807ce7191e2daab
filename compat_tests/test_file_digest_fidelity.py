"""Differential tests: kcapi_hashlib.file_digest against hashlib.file_digest, live.

Each case builds the same file object twice (decompressing readers whose
``fileno()`` is the compressed file, archive members, buffered readers after a
partial read or a ``peek``, subclasses of the file classes, sockets, pipes,
``BytesIO``, objects hashlib refuses ...) and hands one to each
implementation: the digests (or the exceptions) and where the object is left
must be the same, under each policy.  Only objects that read exactly their
descriptor's bytes may be spliced; any other shortcut gives a different digest.
"""

import bz2
import gzip
import hashlib
import io
import lzma
import os
import socket
import tarfile
import threading
import zipfile

import pytest

import kcapi_hashlib

from .outcomes import Returned, assert_same, kernel_for

CONTENT = bytes(range(256)) * 1200 + b"tail"  # 300 KiB: more than one hashlib read


class XorFileIO(io.FileIO):
    """A FileIO subclass whose reads are not its descriptor's bytes."""

    def readinto(self, buffer):
        size = super().readinto(buffer)
        if size:
            view = memoryview(buffer)[:size]
            view[:] = bytes(b ^ 0x5A for b in view)
        return size


class CountingReader(io.BufferedReader):
    """A BufferedReader subclass (it may do anything on a read)."""

    def readinto(self, buffer):
        size = super().readinto(buffer)
        return size if size < 7 else size - 3  # drops bytes: not the descriptor's content


class TrickleRaw(io.RawIOBase):
    """A raw reader returning at most 1000 bytes per read."""

    def __init__(self, data):
        self._data = memoryview(data)

    def readable(self):
        return True

    def readinto(self, buffer):
        size = min(len(buffer), 1000, len(self._data))
        buffer[:size] = self._data[:size]
        self._data = self._data[size:]
        return size


class NoReadinto:
    def __repr__(self):
        return "<NoReadinto>"

    def read(self, size=-1):
        return b""

    def readable(self):
        return True


def _socket_reader(data):
    ours, theirs = socket.socketpair()
    threading.Thread(target=_send_and_close, args=(theirs, data), daemon=True).start()
    with ours:  # the file object keeps the descriptor until it is closed
        return ours.makefile("rb")


def _send_and_close(sock, data):
    with sock:
        try:
            sock.sendall(data)
        except OSError:  # the reader was closed unread (a refused digest)
            pass


def _pipe_reader(data):
    read_end, write_end = os.pipe()
    threading.Thread(target=_write_and_close, args=(write_end, data), daemon=True).start()
    return open(read_end, "rb")


def _write_and_close(fd, data):
    try:
        with open(fd, "wb") as f:
            f.write(data)
    except OSError:  # the reader was closed unread (a refused digest)
        pass


def _after(make, *steps):
    def opened(path):
        f = make(path)
        for step in steps:
            step(f)
        return f
    return opened


def _buffered_random_with_pending_write(path):
    f = open(path, "r+b")
    f.seek(1000)
    f.write(b"written, still in the buffer")
    return f


def _tar_member(path):
    tar = tarfile.open(path.with_suffix(".tar"))
    return tar.extractfile("member")


def _zip_member(path):
    return zipfile.ZipFile(path.with_suffix(".zip")).open("member")


def _closed(path):
    f = open(path, "rb")
    f.close()
    return f


OBJECTS = {
    "open rb": lambda p: open(p, "rb"),
    "open rb after read(3)": _after(lambda p: open(p, "rb"), lambda f: f.read(3)),
    "open rb after peek": _after(lambda p: open(p, "rb"), lambda f: f.peek(10)),
    "open rb after read(1) and peek": _after(lambda p: open(p, "rb"), lambda f: f.read(1),
                                             lambda f: f.peek(1)),
    "open rb at 5000": _after(lambda p: open(p, "rb"), lambda f: f.seek(5000)),
    "open rb at the end": _after(lambda p: open(p, "rb"), lambda f: f.seek(0, 2)),
    "open rb past the end": _after(lambda p: open(p, "rb"), lambda f: f.seek(10**6)),
    "FileIO": lambda p: open(p, "rb", buffering=0),
    "FileIO at 77": _after(lambda p: open(p, "rb", buffering=0), lambda f: f.seek(77)),
    "FileIO subclass": lambda p: XorFileIO(p, "rb"),
    "BufferedReader over a FileIO subclass": lambda p: io.BufferedReader(XorFileIO(p, "rb")),
    "BufferedReader subclass": lambda p: CountingReader(io.FileIO(p, "rb")),
    "BufferedRandom": lambda p: open(p, "r+b"),
    "BufferedRandom with a pending write": _buffered_random_with_pending_write,
    "append mode at 0": _after(lambda p: open(p, "a+b"), lambda f: f.seek(0)),
    "gzip.open": lambda p: gzip.open(p.with_suffix(".gz"), "rb"),
    "gzip.open after read": _after(lambda p: gzip.open(p.with_suffix(".gz"), "rb"),
                                   lambda f: f.read(100)),
    "GzipFile over a file object": lambda p: gzip.GzipFile(fileobj=open(p.with_suffix(".gz"),
                                                                         "rb")),
    "bz2.open": lambda p: bz2.open(p.with_suffix(".bz2"), "rb"),
    "lzma.open": lambda p: lzma.open(p.with_suffix(".xz"), "rb"),
    "zipfile member": _zip_member,
    "tarfile member": _tar_member,
    "BytesIO": lambda p: io.BytesIO(CONTENT),
    "BytesIO at 100": _after(lambda p: io.BytesIO(CONTENT), lambda f: f.seek(100)),
    "BufferedReader over a raw reader": lambda p: io.BufferedReader(TrickleRaw(CONTENT)),
    "raw reader": lambda p: TrickleRaw(CONTENT),
    "socket file": lambda p: _socket_reader(CONTENT),
    "pipe": lambda p: _pipe_reader(CONTENT),
    "write-only file": lambda p: open(p.with_suffix(".out"), "wb"),
    "text file": lambda p: open(p, "r", encoding="latin-1"),
    "closed file": _closed,
    "no readinto": lambda p: NoReadinto(),
    "not a file": lambda p: b"bytes",
    "empty file": lambda p: open(p.with_suffix(".empty"), "rb"),
}


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    """The content compressed and archived (made once: lzma is slow)."""
    where = tmp_path_factory.mktemp("archives")
    source = where / "data"
    source.write_bytes(CONTENT)
    for suffix, opener in ((".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open)):
        with opener(source.with_suffix(suffix), "wb") as f:
            f.write(CONTENT)
    with zipfile.ZipFile(source.with_suffix(".zip"), "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("member", CONTENT)
    with tarfile.open(source.with_suffix(".tar"), "w") as tar:
        tar.add(source, "member")
    return where


@pytest.fixture
def path(tmp_path, archives):
    """A fresh file with the content (some cases write to it), beside the archives."""
    path = tmp_path / "data"
    path.write_bytes(CONTENT)
    path.with_suffix(".empty").write_bytes(b"")
    for suffix in (".gz", ".bz2", ".xz", ".zip", ".tar"):
        path.with_suffix(suffix).symlink_to(archives / f"data{suffix}")
    return path


def _where(f):
    """Where a file object was left: its position and what is left to read."""
    try:
        return f.tell(), f.read()
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation) as exc:
        return type(exc)


@pytest.mark.parametrize("algorithm", ["sha256", "sha-256", "blake2b"])
@pytest.mark.parametrize("make", OBJECTS.values(), ids=OBJECTS.keys())
def test_file_digest_hashes_what_the_object_reads(policy, path, make, algorithm):
    ours_file, ref_file = make(path), make(path)
    got = assert_same(lambda: kcapi_hashlib.file_digest(ours_file, algorithm),
                      lambda: kcapi_hashlib_reference(ref_file, algorithm),
                      kernel=kernel_for("sha256" if algorithm == "sha-256" else algorithm),
                      hash_made_first=True)
    if isinstance(got, Returned):
        assert _where(ours_file) == _where(ref_file)
    for f in (ours_file, ref_file):
        if hasattr(f, "close"):
            f.close()


def kcapi_hashlib_reference(fileobj, algorithm):
    return hashlib.file_digest(fileobj, algorithm)


@pytest.mark.parametrize("target", ["file", "bytes"])
@pytest.mark.parametrize("digest", ["sha256", "nope", 0, None, b"sha256", "BLAKE2b512"])
def test_file_digest_checks_the_digest_first(policy, path, digest, target):
    """An unusable digest argument is reported before the file object is looked at."""

    def run(module):
        fileobj = open(path, "rb") if target == "file" else b"not a file"
        try:
            return module.file_digest(fileobj, digest)
        finally:
            if target == "file":
                fileobj.close()

    hashlib_name = {"BLAKE2b512": "blake2b"}.get(digest, digest)  # OpenSSL's spelling
    assert_same(lambda: run(kcapi_hashlib), lambda: run(hashlib), kernel=kernel_for(hashlib_name),
                hash_made_first=True)


@pytest.mark.parametrize("constructor", ["sha256", "blake2b", "sha3_256", "md5"])
def test_file_digest_with_a_constructor(policy, path, constructor):
    def digest(module):
        with open(path, "rb") as f:
            f.read(11)
            return module.file_digest(f, getattr(module, constructor))

    assert_same(lambda: digest(kcapi_hashlib), lambda: digest(hashlib),
                kernel=kernel_for(constructor))
