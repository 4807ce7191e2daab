#!/usr/bin/env python3
"""Bind every kernel algorithm name the project uses and print the outcome.

One line per name: ``TYPE NAME OK`` or ``TYPE NAME ERRNAME`` (the errno of the
failed ``socket()`` or ``bind()``).  The names are those of ``_kcapi/names.py``
(hashes and their HMACs, the AEAD constructions and their parts, CMAC, the
skcipher modes, ChaCha20, the RNG) plus the DRBG variants and the
length-preserving modes Linux 7.3 allows every process (hctr2, adiantum, xts
over the other ciphers).  Only raw sockets are used: no key, no data, nothing of
the library's routing, so the answer is the kernel's own (for example under
``/proc/sys/crypto/af_alg_restrict``).

Usage: scripts/af_alg_bindings.py [--json]
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _kcapi import names  # noqa: E402  (the checkout's own table)

SYSCTL = Path("/proc/sys/crypto/af_alg_restrict")

#: DRBG names (the rng type binds drivers by name too): 7.2+ keeps only the first.
DRBGS = ["drbg_nopr_hmac_sha512", "drbg_nopr_hmac_sha256", "drbg_pr_hmac_sha256",
         "drbg_nopr_sha256", "drbg_nopr_ctr_aes256", "jitterentropy_rng"]
#: Length-preserving modes on 7.3's allow-list for every process.
EXTRA_SKCIPHERS = ["hctr2(aes)", "adiantum(xchacha12,aes)", "adiantum(xchacha20,aes)",
                   "xts(camellia)", "xts(serpent)", "xts(twofish)", "cbc(des)", "ecb(des)"]


def candidates() -> list[tuple[str, str]]:
    """(type, name) for every name to try, in a stable order without repeats."""
    found: list[tuple[str, str]] = []
    for spec in names.HASHES.values():
        if spec.kernel:
            found.append(("hash", spec.kernel))
    found += [("hash", k) for k in names.BLAKE2B_KERNEL.values()]
    for spec in names.HASHES.values():
        if spec.kernel:
            found.append(("hash", names.hmac_kernel_name(spec)))
    for cipher in sorted(set(names.AEAD_CIPHERS.values())):
        for aead in (names.gcm_names(cipher), names.ccm_names(cipher)):
            found += [("aead", aead.aead), ("skcipher", aead.stream), ("hash", aead.mac)]
    for aead in (names.CHACHA20_POLY1305, names.XCHACHA20_POLY1305):
        if aead.aead:
            found.append(("aead", aead.aead))
        found += [("skcipher", aead.stream), ("hash", aead.mac)]
    for spec in names.BLOCK_CIPHERS.values():
        found.append(("hash", names.CMAC_TEMPLATE.format(cipher=spec.kernel)))
        for mode in names.SKCIPHER_MODES:
            found.append(("skcipher", names.skcipher_name(mode, spec.name)))
    found += [("skcipher", names.CHACHA20), ("skcipher", names.XCHACHA20)]
    found += [("skcipher", n) for n in EXTRA_SKCIPHERS]
    found.append(("rng", names.RNG_NAME))
    found += [("rng", n) for n in DRBGS]
    unique: dict[tuple[str, str], None] = {}
    for item in found:
        unique.setdefault(item, None)
    return list(unique)


def try_bind(kind: str, name: str) -> str:
    """'OK', or the errno name of the failed socket() or bind()."""
    try:
        with socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET, 0) as sock:
            sock.bind((kind, name))
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return "OK"


def main() -> int:
    restrict = SYSCTL.read_text().strip() if SYSCTL.exists() else "none"
    results = [(kind, name, try_bind(kind, name)) for kind, name in candidates()]
    if "--json" in sys.argv[1:]:
        json.dump({"kernel": os.uname().release, "af_alg_restrict": restrict,
                   "results": [list(r) for r in results]}, sys.stdout)
        print()
        return 0
    print(f"# kernel {os.uname().release}; af_alg_restrict={restrict}; uid {os.getuid()}")
    for kind, name, outcome in results:
        print(f"{kind:9} {name:28} {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
