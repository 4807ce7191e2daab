#!/usr/bin/env python3
"""Extract test vectors from a Linux source tree's ``crypto/testmgr.h`` into the JSON files of tests/data.

Usage: ``scripts/testmgr_vectors.py LINUX_SOURCE_DIR`` (e.g. the unpacked
``linux-source-7.3``).  Writes ``tests/data/testmgr_7_3_wide_block.json``
(``cipher_testvec`` templates of hctr2(aes), xctr(aes) and both adiantums:
key, iv, ptext, ctext in hex, klen, len) and ``tests/data/testmgr_7_3_drbg.json``
(the ``drbg_testvec`` template of drbg_nopr_hmac_sha512, NIST's ACVP vector).
The vectors are the kernel's data; only their C string syntax is parsed here.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
CIPHERS = {"hctr2(aes)": "aes_hctr2_tv_template", "xctr(aes)": "aes_xctr_tv_template",
           "adiantum(xchacha12,aes)": "adiantum_xchacha12_aes_tv_template",
           "adiantum(xchacha20,aes)": "adiantum_xchacha20_aes_tv_template"}
DRBG = "drbg_nopr_hmac_sha512_tv_template"

_FIELD = re.compile(r"\.(\w+)\s*=\s*((?:\"(?:[^\"\\]|\\.)*\"\s*)+|\d+)")
_STRING = re.compile(r"\"((?:[^\"\\]|\\.)*)\"")


def _c_bytes(literals: str) -> bytes:
    """Adjacent C string literals (with ``\\x`` escapes) as bytes."""
    return b"".join(part.encode("latin-1").decode("unicode_escape").encode("latin-1")
                    for part in _STRING.findall(literals))


def template(source: str, kind: str, name: str) -> list[dict[str, object]]:
    """The entries of ``static const struct <kind> <name>[]``: byte fields in hex, numbers as ints."""
    start = source.index(f"static const struct {kind} {name}[] = {{")
    body = re.sub(r"/\*.*?\*/", "", source[start:source.index("\n};", start)], flags=re.S)
    entries = []
    for text in re.split(r"\n\t\},?\s*\{", body.split("{", 2)[2]):
        entries.append({field: (_c_bytes(value).hex() if value[0] == '"' else int(value))
                        for field, value in _FIELD.findall(text)})
    return entries


def main() -> None:
    source = (Path(sys.argv[1]) / "crypto" / "testmgr.h").read_text(encoding="latin-1")
    ciphers = {}
    for alg, name in CIPHERS.items():
        vectors = template(source, "cipher_testvec", name)
        for v in vectors:
            assert len(v["key"]) // 2 == v["klen"] and len(v["ptext"]) // 2 == v["len"], v
        ciphers[alg] = vectors
        print(f"{alg}: {len(vectors)} vectors")
    (DATA / "testmgr_7_3_wide_block.json").write_text(json.dumps(ciphers, indent=0) + "\n")
    drbg = template(source, "drbg_testvec", DRBG)
    print(f"{DRBG}: {len(drbg)} vectors")
    (DATA / "testmgr_7_3_drbg.json").write_text(json.dumps(drbg, indent=0) + "\n")


if __name__ == "__main__":
    main()
