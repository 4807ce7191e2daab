"""The one table of kernel algorithm names, keyed by the Python names users write.

Sections: hashes (:class:`HashSpec`, looked up by any hashlib spelling); AEAD
constructions, CMAC and the RNG; block and stream ciphers for skcipher sockets;
then :data:`ALGORITHMS`, every algorithm the library serves as a typed
:class:`Algorithm` (Python name, kernel name, AF_ALG kind), one table per
kind, built from the sections above so that no name is written twice.
Nothing here touches the kernel.
"""

from __future__ import annotations

import functools
import hashlib as _hashlib  # at import time: the standard library's, whatever replaces it later
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

#: Our own spellings beyond hashlib's (exact, case-sensitive): the kernel's names.
HASH_ALIASES: dict[str, str] = {
    **{s.kernel: s.name for s in _TABLE if s.kernel and s.kernel != s.name},
    "blake2b512": "blake2b", "blake2s256": "blake2s",
}

#: blake2b digest sizes the kernel has, and the kernel name of each.
BLAKE2B_KERNEL = {20: "blake2b-160", 32: "blake2b-256", 48: "blake2b-384", 64: "blake2b-512"}

#: How many spellings hashlib has been asked about are remembered.
_SPELLINGS_KEPT = 256


def hash_spec(name: str) -> HashSpec | None:
    """Look up a hash by any spelling ``hashlib.new`` or the kernel accepts; ``None`` if unknown.

    Python names and the kernel's names match exactly.  Any other spelling
    (``'SHA256'``, ``'sha-256'``, ``'SHA2-256'``, ``'ssl3-md5'``, an OID ...) means
    what it means to this interpreter's ``hashlib``: the hash whose objects
    ``hashlib.new(name)`` names, so a spelling hashlib refuses is unknown here too.
    """
    spec = HASHES.get(name)
    if spec is None:
        spec = HASHES.get(HASH_ALIASES.get(name, "")) or HASHES.get(hashlib_name(name) or "")
    return spec


@functools.lru_cache(maxsize=_SPELLINGS_KEPT)
def hashlib_name(spelling: str) -> str | None:
    """The ``name`` of ``hashlib.new(spelling)``'s objects, or ``None`` if hashlib refuses it.

    hashlib (OpenSSL's EVP names: case-insensitive, with aliases and OIDs) is
    the authority on its own spellings; an empty object is made to ask it.
    """
    try:
        return str(_hashlib.new(spelling, usedforsecurity=False).name)
    except (ValueError, TypeError):
        return None


def hmac_kernel_name(spec: HashSpec) -> str:
    """The kernel name of HMAC over ``spec`` ('' if the kernel has no such hash)."""
    return f"hmac({spec.kernel})" if spec.kernel else ""


# ---------------------------------------------------------------------------
# AEAD, MAC and RNG: kcapi_cipher's GCM, CCM, ChaCha20-Poly1305, CMAC and Random.


@dataclass(frozen=True)
class AeadNames:
    """The kernel algorithms behind one AEAD construction.

    Attributes:
        aead: the kernel's one-shot AEAD (``'gcm(aes)'``), or ``''`` when it has none.
        stream: the skcipher giving the keystream (``'ctr(aes)'``).
        mac: the hash giving the authenticator (``'ghash'``, ``'cbcmac(aes)'``).
    """

    aead: str
    stream: str
    mac: str


#: PyCryptodome's block cipher names (as the AES factory passes them) -> kernel cipher names.
AEAD_CIPHERS = {"aes": "aes"}


def gcm_names(cipher: str) -> AeadNames:
    """GCM over ``cipher`` (a kernel cipher name): gcm(), or ctr() + the keyed ``ghash``."""
    return AeadNames(f"gcm({cipher})", f"ctr({cipher})", "ghash")


def ccm_names(cipher: str) -> AeadNames:
    """CCM over ``cipher``: ccm(), or ctr() + the keyed CBC-MAC hash ``cbcmac()``."""
    return AeadNames(f"ccm({cipher})", f"ctr({cipher})", f"cbcmac({cipher})")


#: RFC 8439 ChaCha20-Poly1305 (the kernel's ``poly1305`` hash takes its key as the
#: first 32 bytes of the message); XChaCha20-Poly1305 has no one-shot kernel AEAD.
CHACHA20_POLY1305 = AeadNames("rfc7539(chacha20,poly1305)", "chacha20", "poly1305")
XCHACHA20_POLY1305 = AeadNames("", "xchacha20", "poly1305")

#: CMAC (RFC 4493) over a kernel cipher name.
CMAC_TEMPLATE = "cmac({cipher})"

#: The kernel's default deterministic random bit generator (a DRBG).
RNG_NAME = "stdrng"


# ---------------------------------------------------------------------------
# Symmetric ciphers (skcipher): kcapi_cipher's AES, DES3 and ChaCha20 modes.


@dataclass(frozen=True)
class BlockCipherSpec:
    """A block cipher as kcapi_cipher's factories name it and as the kernel names it.

    Attributes:
        name: the factory's name, passed to the mode modules (``'aes'``, ``'des3'``).
        kernel: the kernel's cipher name (``'aes'``, ``'des3_ede'``).
        block_size: bytes per block.
        modes: the :data:`SKCIPHER_MODES` the factory sends to the kernel over this cipher.
    """

    name: str
    kernel: str
    block_size: int
    modes: tuple[str, ...]


BLOCK_CIPHERS: dict[str, BlockCipherSpec] = {
    "aes": BlockCipherSpec("aes", "aes", 16, ("ecb", "cbc", "ctr", "cfb", "ofb", "xts", "hctr2")),
    "des3": BlockCipherSpec("des3", "des3_ede", 8, ("ecb", "cbc", "ctr", "cfb", "ofb")),
}

#: Kernel templates of the block cipher modes kcapi_cipher sends to skcipher sockets.
#: cfb() and ofb() were removed in Linux 6.8; cfb() is CFB with full-block segments only.
SKCIPHER_MODES: dict[str, str] = {
    "ecb": "ecb({})", "cbc": "cbc({})", "ctr": "ctr({})",
    "cfb": "cfb({})", "ofb": "ofb({})", "xts": "xts({})", "hctr2": "hctr2({})",
}

#: Adiantum over AES-256, by the rounds of its XChaCha stream cipher (12: Adiantum as
#: its paper defines it; 20: the kernel's other instance).  Length-preserving, like hctr2().
ADIANTUM: dict[int, str] = {12: "adiantum(xchacha12,aes)", 20: "adiantum(xchacha20,aes)"}


def skcipher_name(mode: str, cipher: str) -> str:
    """The kernel name of ``mode`` (``'cbc'``) over ``cipher`` (``'aes'``): ``'cbc(aes)'``."""
    return SKCIPHER_MODES[mode].format(BLOCK_CIPHERS[cipher].kernel)


#: ChaCha20: a 16-byte IV, ChaCha's state words 12-15 -- RFC 8439's little-endian
#: 32-bit block counter and 96-bit nonce, or the original 64-bit counter and nonce.
CHACHA20 = "chacha20"
#: XChaCha20: a 32-byte IV, the 192-bit nonce followed by a little-endian 64-bit block counter.
XCHACHA20 = "xchacha20"


# ---------------------------------------------------------------------------
# Every algorithm the library serves, one typed table per kind, built from the
# names above (``kcapi doctor`` lists them, in this order).


@dataclass(frozen=True)
class Algorithm:
    """One algorithm as Python code names it and as the kernel crypto API names it.

    Attributes:
        name: the Python-side name: hashlib's (``'sha256'``), ``'hmac-sha256'``, or
            kcapi_cipher's (``'AES.MODE_CBC'``, ``'ChaCha20'``, ``'CMAC(AES)'``).
        kernel: the kernel's algorithm name, ``''`` when the kernel has no equivalent.
        kind: the AF_ALG socket type serving it: ``'hash'``, ``'skcipher'``, ``'aead'``
            or ``'rng'``.
        parts: for an AEAD, the algorithms serving it where ``kernel`` does not bind:
            its keystream (``'<name>/stream'``) and its authenticator (``'<name>/mac'``).
        software: whether software serves it where the kernel does not (not Adiantum:
            PyCryptodome has neither XChaCha12 nor NH).
    """

    name: str
    kernel: str
    kind: str
    parts: tuple[Algorithm, ...] = ()
    software: bool = True


#: The hashes HMAC rows are listed over: MD5, SHA-1, SHA-2 and SHA-3 (``hmac.new``'s usual
#: digestmods); HMAC over any other hash with a kernel name is served the same way.
HMAC_LISTED = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512",
               "sha3_224", "sha3_256", "sha3_384", "sha3_512")


def _aead(name: str, construction: AeadNames) -> Algorithm:
    """The table entry of one AEAD construction: its one-shot AEAD and its two parts."""
    parts = tuple(Algorithm(f"{name}/{role}", kernel, kind)
                  for role, kernel, kind in (("stream", construction.stream, "skcipher"),
                                             ("mac", construction.mac, "hash")) if kernel)
    return Algorithm(name, construction.aead, "aead", parts)


HASH_ALGORITHMS: tuple[Algorithm, ...] = tuple(Algorithm(s.name, s.kernel, "hash") for s in _TABLE)

HMAC_ALGORITHMS: tuple[Algorithm, ...] = tuple(
    Algorithm(f"hmac-{name}", hmac_kernel_name(HASHES[name]), "hash") for name in HMAC_LISTED)

SKCIPHER_ALGORITHMS: tuple[Algorithm, ...] = (
    *(Algorithm(f"{spec.name.upper()}.MODE_{mode.upper()}", skcipher_name(mode, spec.name),
                "skcipher") for spec in BLOCK_CIPHERS.values() for mode in spec.modes),
    *(Algorithm(f"AES.MODE_ADIANTUM(rounds={rounds})", kernel, "skcipher", software=False)
      for rounds, kernel in ADIANTUM.items()),
    Algorithm("ChaCha20", CHACHA20, "skcipher"),
    Algorithm("XChaCha20", XCHACHA20, "skcipher"),
)

AEAD_ALGORITHMS: tuple[Algorithm, ...] = (
    *(_aead(f"{name.upper()}.MODE_{mode}", names_of(kernel))
      for name, kernel in AEAD_CIPHERS.items()
      for mode, names_of in (("GCM", gcm_names), ("CCM", ccm_names))),
    _aead("ChaCha20_Poly1305", CHACHA20_POLY1305),
    _aead("XChaCha20_Poly1305", XCHACHA20_POLY1305),
)

MAC_ALGORITHMS: tuple[Algorithm, ...] = tuple(
    Algorithm(f"CMAC({spec.name.upper()})", CMAC_TEMPLATE.format(cipher=spec.kernel), "hash")
    for spec in BLOCK_CIPHERS.values())

RNG_ALGORITHMS: tuple[Algorithm, ...] = (Algorithm(f"Random({RNG_NAME})", RNG_NAME, "rng"),)

#: Each table under its group name (``kcapi doctor``'s ``group`` field), in listing order.
ALGORITHMS: dict[str, tuple[Algorithm, ...]] = {
    "hash": HASH_ALGORITHMS, "hmac": HMAC_ALGORITHMS, "cipher": SKCIPHER_ALGORITHMS,
    "aead": AEAD_ALGORITHMS, "mac": MAC_ALGORITHMS, "rng": RNG_ALGORITHMS,
}
