"""/dev/crypto rows of the benchmark: kcapi through /dev/crypto, and raw ioctl code (one session
kept, one ``CIOCCRYPT`` per message: the floor for Python code on this door), beside the
AF_ALG rows of the same run.  Present only where the device is (scripts/bench boots UML 7.3
with cryptodev-linux built in)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kcapi_hashlib
from _kcapi import _libc, policy
from _kcapi.cryptodev import abi, device
from kcapi_hashlib import hmac as k_hmac

from . import ciphers
from .syscount import calls_per_op

#: Implementation names in the tables.
OURS = "kcapi via /dev/crypto"
RAW = "raw ioctl reused"
HMAC_KEY = b"k" * 32
_KERNEL_HASH = {"sha1": "sha1", "sha256": "sha256", "sha512": "sha512",
                "hmac-sha256": "hmac(sha256)"}
_DIGEST = {"sha1": 20, "sha256": 32, "sha512": 64, "hmac-sha256": 32}
_RAW_CIPHERS = {"aes-128-cbc": "cbc(aes)", "aes-128-ctr": "ctr(aes)"}

_kept: list[Any] = []  # the raw code's sessions' buffers, alive for the run


def available() -> bool:
    """Whether ``/dev/crypto`` opens here."""
    try:
        os.close(os.open(device.path(), os.O_RDWR))
    except OSError:
        return False
    return True


def _session(fd: int, kind: str, name: str, key: bytes | None) -> int:
    ffi, lib = _libc.libc()
    cipher, mac = abi.ALGORITHMS[(kind, name)]
    sop = ffi.new("struct session_op *")
    sop.cipher, sop.mac = cipher, mac
    if key is not None:
        buf = ffi.new("uint8_t[]", key)
        _kept.append(buf)
        if cipher:
            sop.key, sop.keylen = buf, len(key)
        else:
            sop.mackey, sop.mackeylen = buf, len(key)
    if lib.ioctl(fd, ffi.cast("unsigned long", abi.ioctls()["CIOCGSESSION"]), sop) < 0:
        raise OSError(ffi.errno, os.strerror(ffi.errno))
    return int(sop.ses)


def raw_hash(alg: str, data: bytes) -> Callable[[], bytes]:
    """Raw ioctl code: one kept session, one CIOCCRYPT (flags 0: reset, hash, finalize)."""
    ffi, lib = _libc.libc()
    fd = os.open(device.path(), os.O_RDWR)
    ses = _session(fd, "hash", _KERNEL_HASH[alg], HMAC_KEY if alg.startswith("hmac") else None)
    cop = ffi.new("struct crypt_op *")
    src, mac = ffi.from_buffer(data), ffi.new("uint8_t[]", 64)
    _kept.append((src, mac, cop))
    cop.ses, cop.len, cop.src, cop.mac = ses, len(data), src, mac
    request = ffi.cast("unsigned long", abi.ioctls()["CIOCCRYPT"])
    size = _DIGEST[alg]

    def op() -> bytes:
        lib.ioctl(fd, request, cop)
        return ffi.buffer(mac, size)[:]
    return op


def raw_cipher(name: str, size: int) -> Callable[[bytes], memoryview]:
    """Raw ioctl code: one kept session, one CIOCCRYPT per message into one buffer."""
    ffi, lib = _libc.libc()
    fd = os.open(device.path(), os.O_RDWR)
    ses = _session(fd, "skcipher", _RAW_CIPHERS[name], ciphers.KEY16)
    out = bytearray(size)
    cop = ffi.new("struct crypt_op *")
    iv, dst = ffi.new("uint8_t[]", ciphers.IV), ffi.from_buffer(out)
    _kept.append((iv, dst, cop, out))
    cop.ses, cop.op, cop.len, cop.iv, cop.dst = ses, abi.COP_ENCRYPT, size, iv, dst
    request = ffi.cast("unsigned long", abi.ioctls()["CIOCCRYPT"])

    def op(data: bytes) -> memoryview:
        with ffi.from_buffer(data) as src:
            cop.src = src
            lib.ioctl(fd, request, cop)
        return memoryview(out)
    return op


def _ours_hash(alg: str, data: bytes) -> Callable[[], object]:
    if alg == "hmac-sha256":
        return lambda: k_hmac.new(HMAC_KEY, data, "sha256").digest()
    return lambda: kcapi_hashlib.new(alg, data).digest()


def hash_rows(alg: str, sizes: list[int], min_time: float, measure: Any, row: Any) -> list[Any]:
    """kcapi through /dev/crypto and raw ioctl code, for hash ``alg`` at every size."""
    out = []
    with policy.use_interface(policy.CRYPTODEV_INTERFACE):
        for size in sizes:
            data = os.urandom(size)
            got = measure({OURS: _ours_hash(alg, data), RAW: raw_hash(alg, data)}, size, min_time)
            out += [row(alg, size, impl, ops, mbs) for impl, (ops, mbs) in got.items()]
    return out


def cipher_rows(name: str, sizes: list[int], min_time: float, measure: Any,
                row: Any) -> list[Any]:
    """kcapi through /dev/crypto (and raw ioctl code for CBC and CTR) for cipher ``name``."""
    ours = ciphers.CIPHERS[name][0]
    if name not in _RAW_CIPHERS and name != "aes-128-gcm":
        return []  # ChaCha20-Poly1305: not on /dev/crypto
    out = []
    with policy.use_interface(policy.CRYPTODEV_INTERFACE):
        for size in sizes:
            data = os.urandom(size)
            impls: dict[str, Callable[[], object]] = {OURS: lambda: ours(data)}
            if name in _RAW_CIPHERS and size <= 64 * 1024:  # one request per message
                raw = raw_cipher(name, size)
                impls[RAW] = lambda: raw(data)
            out += ciphers.measured(name, size, impls, min_time, measure, row)
    return out


def syscalls_per_op(work: Path) -> dict[str, dict[str, float]]:
    """strace counts through /dev/crypto: kcapi and raw ioctl code, one-shot calls."""
    lines = ["import os", "import kcapi_hashlib, kcapi_cipher",
             "kcapi_hashlib.set_backend('kernel'); kcapi_hashlib.set_interface('cryptodev')",
             "from bench.cryptodev import raw_hash, raw_cipher",
             "from bench.ciphers import CIPHERS",
             "d64, d1k = b'x' * 64, b'x' * 1024",
             "kcapi_hashlib.sha256(d64).digest(); CIPHERS['aes-128-cbc'][0](d1k)",
             "rh = raw_hash('sha256', d64); rh(); rc = raw_cipher('aes-128-cbc', 1024); rc(d1k)"]
    cases = {"sha256 64 B via /dev/crypto": "kcapi_hashlib.sha256(d64).digest()",
             "sha256 64 B raw ioctl": "rh()",
             "aes-128-cbc 1 KiB via /dev/crypto": "CIPHERS['aes-128-cbc'][0](d1k)",
             "aes-128-cbc 1 KiB raw ioctl": "rc(d1k)"}
    return calls_per_op(lines, cases, 20, work)
