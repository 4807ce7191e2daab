"""The one table of kernel algorithm names, keyed by the Python names users write."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HashSpec:
    """A hash as ``hashlib`` names it and as the kernel crypto API names it.

    Attributes:
        name: the ``hashlib`` name (``'sha3_256'``), also the objects' ``.name``.
        kernel: the kernel's name (``'sha3-256'``), or ``''`` when it has none.
        digest_size: bytes of output.
        block_size: the hash's internal block size in bytes.
    """

    name: str
    kernel: str
    digest_size: int
    block_size: int


def _spec(name: str, kernel: str, digest_size: int, block_size: int) -> HashSpec:
    return HashSpec(name, kernel, digest_size, block_size)


_TABLE = [
    # hashlib's guaranteed algorithms.
    _spec("md5", "md5", 16, 64),
    _spec("sha1", "sha1", 20, 64),
    _spec("sha224", "sha224", 28, 64),
    _spec("sha256", "sha256", 32, 64),
    _spec("sha384", "sha384", 48, 128),
    _spec("sha512", "sha512", 64, 128),
    _spec("sha3_224", "sha3-224", 28, 144),
    _spec("sha3_256", "sha3-256", 32, 136),
    _spec("sha3_384", "sha3-384", 48, 104),
    _spec("sha3_512", "sha3-512", 64, 72),
    _spec("blake2b", "blake2b-512", 64, 128),
    _spec("blake2s", "", 32, 64),
    _spec("shake_128", "", 0, 168),
    _spec("shake_256", "", 0, 136),
    # Names OpenSSL gives hashlib on some systems, which the kernel also has.
    _spec("md4", "md4", 16, 64),
    _spec("ripemd160", "rmd160", 20, 64),
    _spec("whirlpool", "wp512", 64, 64),
    _spec("sm3", "sm3", 32, 64),
    # Kernel-only hashes, reachable through new().
    _spec("blake2b_160", "blake2b-160", 20, 128),
    _spec("blake2b_256", "blake2b-256", 32, 128),
    _spec("blake2b_384", "blake2b-384", 48, 128),
    _spec("wp256", "wp256", 32, 64),
    _spec("wp384", "wp384", 48, 64),
    _spec("streebog256", "streebog256", 32, 64),
    _spec("streebog512", "streebog512", 64, 64),
    _spec("xxhash64", "xxhash64", 8, 32),
    _spec("crc32c", "crc32c", 4, 1),
]

HASHES: dict[str, HashSpec] = {s.name: s for s in _TABLE}

#: Other spellings accepted by ``new()``: the kernel's own names and OpenSSL-style ones.
HASH_ALIASES: dict[str, str] = {
    **{s.kernel: s.name for s in _TABLE if s.kernel and s.kernel != s.name},
    "sha3-224": "sha3_224", "sha3-256": "sha3_256", "sha3-384": "sha3_384",
    "sha3-512": "sha3_512", "rmd160": "ripemd160", "wp512": "whirlpool",
    "blake2b512": "blake2b", "blake2s256": "blake2s",
}

#: blake2b digest sizes the kernel has, and the kernel name of each.
BLAKE2B_KERNEL = {20: "blake2b-160", 32: "blake2b-256", 48: "blake2b-384", 64: "blake2b-512"}


def hash_spec(name: str) -> HashSpec | None:
    """Look up a hash by any accepted spelling (case-insensitive); ``None`` if unknown."""
    key = name.lower()
    return HASHES.get(key) or HASHES.get(HASH_ALIASES.get(key, ""))


def hmac_kernel_name(spec: HashSpec) -> str:
    """The kernel name of HMAC over ``spec`` ('' if the kernel has no such hash)."""
    return f"hmac({spec.kernel})" if spec.kernel else ""
