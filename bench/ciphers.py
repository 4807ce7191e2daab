"""Cipher rows of the benchmark: kcapi_cipher vs raw AF_ALG socket code, PyCryptodome, kcapi-enc."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from Crypto.Cipher import AES as RefAES
from Crypto.Cipher import ChaCha20_Poly1305 as RefChaChaPoly

from _kcapi.errors import KernelUnavailableError
from kcapi_cipher import AES, ChaCha20_Poly1305

from . import tools
from .syscount import calls_per_op

KEY16, KEY32 = bytes(range(16)), bytes(range(32))
IV, NONCE8, NONCE12 = bytes(16), bytes(8), bytes(12)
CHUNK = 64 * 1024  # raw code bounds each request too: a large unread send blocks forever

# name -> (ours, PyCryptodome, kernel skcipher name for raw code and kcapi-enc, or '')
CIPHERS: dict[str, tuple[Callable[[bytes], Any], Callable[[bytes], Any], str]] = {
    "aes-128-cbc": (lambda d: AES.new(KEY16, AES.MODE_CBC, IV).encrypt(d),
                    lambda d: RefAES.new(KEY16, RefAES.MODE_CBC, IV).encrypt(d), "cbc(aes)"),
    "aes-128-ctr": (lambda d: AES.new(KEY16, AES.MODE_CTR, nonce=NONCE8).encrypt(d),
                    lambda d: RefAES.new(KEY16, RefAES.MODE_CTR, nonce=NONCE8).encrypt(d), "ctr(aes)"),
    "aes-128-gcm": (lambda d: AES.new(KEY16, AES.MODE_GCM, nonce=NONCE12).encrypt_and_digest(d),
                    lambda d: RefAES.new(KEY16, RefAES.MODE_GCM, nonce=NONCE12).encrypt_and_digest(d),
                    ""),
    "chacha20-poly1305": (
        lambda d: ChaCha20_Poly1305.new(key=KEY32, nonce=NONCE12).encrypt_and_digest(d),
        lambda d: RefChaChaPoly.new(key=KEY32, nonce=NONCE12).encrypt_and_digest(d), ""),
}


# name -> (kernel AEAD for raw socket code, key): one request per message, so raw code
# serves messages up to RAW_AEAD_LIMIT only (a request must fit the socket buffer).
AEADS = {"aes-128-gcm": ("gcm(aes)", KEY16),
         "chacha20-poly1305": ("rfc7539(chacha20,poly1305)", KEY32)}
RAW_AEAD_LIMIT = 64 * 1024
TAG = 16


def raw_aead(kernel_name: str, key: bytes) -> Callable[[bytes], bytes]:
    """Straightforward AEAD socket code, op socket kept: one sendmsg + one recv per message."""
    parent = socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET, 0)
    parent.bind(("aead", kernel_name))
    parent.setsockopt(socket.SOL_ALG, socket.ALG_SET_KEY, key)
    parent.setsockopt(socket.SOL_ALG, socket.ALG_SET_AEAD_AUTHSIZE, None, TAG)
    conn, _ = parent.accept()
    raw_reused.keep.append((parent, conn))  # type: ignore[attr-defined]

    def op(data: bytes) -> bytes:
        conn.sendmsg_afalg([data], op=socket.ALG_OP_ENCRYPT, iv=NONCE12, assoclen=0)
        return conn.recv(len(data) + TAG)  # ciphertext || tag
    return op


def raw_reused(kernel_name: str) -> Callable[[bytes], bytes]:
    """Straightforward socket code with one bound and one op socket kept: op and IV each request."""
    parent = socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET, 0)
    parent.bind(("skcipher", kernel_name))
    parent.setsockopt(socket.SOL_ALG, socket.ALG_SET_KEY, KEY16)
    conn, _ = parent.accept()
    raw_reused.keep.append((parent, conn))  # type: ignore[attr-defined]

    def op(data: bytes) -> bytes:
        out = bytearray()
        first = True
        for start in range(0, len(data), CHUNK):
            piece = data[start:start + CHUNK]
            if first:  # later chunks continue the kernel's IV chain
                conn.sendmsg_afalg([piece], op=socket.ALG_OP_ENCRYPT, iv=IV)
                first = False
            else:
                conn.sendall(piece)
            out += conn.recv(len(piece))
        return bytes(out)
    return op


raw_reused.keep = []  # type: ignore[attr-defined]


def kcapi_enc_rows(name: str, kernel_name: str, work: Path, row: Any) -> list[Any]:
    """libkcapi's kcapi-enc: its marginal rate (see :mod:`bench.tools`), as a 1 MiB row."""
    tool = shutil.which("kcapi-enc")
    if tool is None or not kernel_name:
        return []
    iv = IV if kernel_name.startswith("cbc") else NONCE8 + bytes(8)
    out_path = work / "enc-out"

    def run(path: Path) -> bytes:
        r, w = os.pipe()
        os.write(w, KEY16)
        os.close(w)
        try:
            subprocess.run([tool, "-e", "-c", kernel_name, "--iv", iv.hex(), "--keyfd", str(r),
                            "-i", str(path), "-o", str(out_path), "--nounpad", "-q"],
                           pass_fds=(r,), check=True, stdout=subprocess.DEVNULL)
        finally:
            os.close(r)
        return out_path.read_bytes()

    def check(data: bytes, out: bytes) -> bool:
        return out == CIPHERS[name][1](data)  # PyCryptodome's ciphertext

    mbs, note = tools.marginal_rate(work, f"enc-{name}", run, check)
    return [row(name, tools.SMALL, "kcapi-enc", mbs * 1e6 / tools.SMALL, mbs, note)]


def raw_into(kernel_name: str, size: int) -> Callable[[bytes], memoryview]:
    """Raw socket code receiving into one preallocated buffer: the kernel path's floor from Python."""
    parent = socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET, 0)
    parent.bind(("skcipher", kernel_name))
    parent.setsockopt(socket.SOL_ALG, socket.ALG_SET_KEY, KEY16)
    conn, _ = parent.accept()
    raw_reused.keep.append((parent, conn))  # type: ignore[attr-defined]
    out = memoryview(bytearray(size))

    def op(data: bytes) -> memoryview:
        src = memoryview(data)
        for start in range(0, len(data), CHUNK):
            piece = src[start:start + CHUNK]
            if start == 0:
                conn.sendmsg_afalg([piece], op=socket.ALG_OP_ENCRYPT, iv=IV)
            else:
                conn.sendall(piece)
            conn.recv_into(out[start:start + piece.nbytes])
        return out
    return op


def measured(name: str, size: int, impls: dict[str, Callable[[], object]], min_time: float,
             measure: Any, row: Any) -> list[Any]:
    """Rows of ``impls`` at ``size``; an implementation the kernel refuses at this size (GCM
    past one request where the kernel lacks ``ghash``: Linux 7.2+, /dev/crypto) is a row of
    its own with the refusal as its note, not a figure."""
    out = []
    for impl, op in list(impls.items()):
        try:
            op()
        except KernelUnavailableError as exc:
            del impls[impl]
            out.append(row(name, size, impl, 0.0, 0.0, f"refused: {exc.reason} ({exc.algorithm})"))
    got = measure(impls, size, min_time)
    return out + [row(name, size, impl, ops, mbs) for impl, (ops, mbs) in got.items()]


def rows(name: str, sizes: list[int], min_time: float, measure: Any, row: Any,
         work: Path) -> list[Any]:
    """Every implementation of cipher ``name`` at every size."""
    ours, ref, kernel_name = CIPHERS[name]
    out = []
    for size in sizes:
        data = os.urandom(size)
        impls = [("ours (kernel)", ours), ("PyCryptodome (user space)", ref)]
        if kernel_name:
            impls.append(("raw socket reused", raw_reused(kernel_name)))
            impls.append(("raw socket into one buffer", raw_into(kernel_name, size)))
        if name in AEADS and size <= RAW_AEAD_LIMIT:
            impls.append(("raw socket reused", raw_aead(*AEADS[name])))
        out += measured(name, size, {impl: (lambda fn=fn: fn(data)) for impl, fn in impls},
                        min_time, measure, row)
    return out + kcapi_enc_rows(name, kernel_name, work, row)


def syscalls_per_op(work: Path) -> dict[str, dict[str, float]]:
    """strace counts for one-shot cipher calls (objects created per message)."""
    n = 20
    lines = ["import os", "import kcapi_hashlib",
             "kcapi_hashlib.set_backend('kernel'); kcapi_hashlib.set_interface('af_alg')",
             "from bench.ciphers import AEADS, CIPHERS, raw_aead, raw_reused"]
    cases = {}
    for name, (_ours, _ref, kernel_name) in CIPHERS.items():
        lines += [f"d = b'x' * 1024", f"CIPHERS[{name!r}][0](d)"]
        cases[f"{name} 1 KiB ours"] = f"CIPHERS[{name!r}][0](d)"
        var = name.replace("-", "_")
        if kernel_name:
            lines += [f"raw_{var} = raw_reused({kernel_name!r})", f"raw_{var}(d)"]
            cases[f"{name} 1 KiB raw reused"] = f"raw_{var}(d)"
        elif name in AEADS:
            lines += [f"raw_{var} = raw_aead(*AEADS[{name!r}])", f"raw_{var}(d)"]
            cases[f"{name} 1 KiB raw reused"] = f"raw_{var}(d)"
    return calls_per_op(lines, cases, n, work)
