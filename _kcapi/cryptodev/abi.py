"""The ``/dev/crypto`` ABI (``crypto/cryptodev.h`` of cryptodev-linux): ioctl numbers,
operation flags, algorithm ids, and which kernel algorithm each id stands for.

The structures themselves are declared (for cffi) in :mod:`_kcapi._libc`; the
ioctl numbers are computed from their sizes as ``<asm/ioctl.h>`` does.
"""

from __future__ import annotations

import platform
from functools import cache

from .. import _libc

#: Where the device is (``KCAPI_CRYPTODEV_DEVICE`` overrides it, see :mod:`.device`).
DEVICE = "/dev/crypto"

COP_ENCRYPT = 0
COP_DECRYPT = 1

COP_FLAG_UPDATE = 1 << 0
COP_FLAG_FINAL = 1 << 1
COP_FLAG_RESET = 1 << 6

#: CIOCGSESSINFO: the algorithm is served by a driver only the kernel can use (an
#: offload engine), not by generic C or CPU instructions.
SIOP_FLAG_KERNEL_DRIVER_ONLY = 1

#: cryptodev-linux refuses longer keys (EINVAL): HMAC keys are hashed first (as HMAC
#: does with a key longer than the block), cipher keys never reach this size.
CRYPTO_HMAC_MAX_KEY_LEN = 512
#: The most AAD one CIOCAUTHCRYPT takes (a page); a longer message is refused.
MAX_AUTH_LEN = 4096

#: ``(kind, kernel name) -> (cipher id, mac id)``: what the driver offers that this
#: library uses (``ioctl.c``'s ``crypto_create_session``).
ALGORITHMS: dict[tuple[str, str], tuple[int, int]] = {
    ("hash", "md5"): (0, 13),
    ("hash", "sha1"): (0, 14),
    ("hash", "rmd160"): (0, 102),
    ("hash", "sha224"): (0, 103),
    ("hash", "sha256"): (0, 104),
    ("hash", "sha384"): (0, 105),
    ("hash", "sha512"): (0, 106),
    ("hash", "hmac(md5)"): (0, 6),
    ("hash", "hmac(sha1)"): (0, 7),
    ("hash", "hmac(rmd160)"): (0, 8),
    ("hash", "hmac(sha224)"): (0, 107),
    ("hash", "hmac(sha256)"): (0, 18),
    ("hash", "hmac(sha384)"): (0, 19),
    ("hash", "hmac(sha512)"): (0, 20),
    ("skcipher", "cbc(des3_ede)"): (2, 0),
    ("skcipher", "cbc(aes)"): (11, 0),
    ("skcipher", "ctr(aes)"): (21, 0),
    ("skcipher", "xts(aes)"): (22, 0),
    ("skcipher", "ecb(aes)"): (23, 0),
    ("skcipher", "cfb(aes)"): (24, 0),
    ("skcipher", "ofb(aes)"): (25, 0),
    ("aead", "gcm(aes)"): (50, 0),
    ("aead", "ccm(aes)"): (51, 0),
}

#: A key of a size each cipher takes, for the probe (a session needs a key): the
#: kernel's answer to it tells whether the algorithm is there.  XTS's halves differ
#: and TDES's three keys do (FIPS kernels refuse them equal).
_PROBE_KEY_SIZES = {"des3_ede": 24, "aes": 16}


def probe_key(name: str) -> bytes:
    """A key ``name`` (``'xts(aes)'``, ``'cbc(des3_ede)'``) takes, distinct in every part."""
    cipher = name[name.rindex("(") + 1:name.index(")")]
    size = _PROBE_KEY_SIZES[cipher] * (2 if name.startswith("xts(") else 1)
    return bytes(range(1, size + 1))


def kernel_names() -> list[tuple[str, str]]:
    """Every ``(kind, name)`` the driver may serve, in table order."""
    return list(ALGORITHMS)


# -- ioctl numbers (<asm-generic/ioctl.h>; PowerPC, MIPS and SPARC lay them out otherwise)

_OTHER_LAYOUT = ("ppc", "powerpc", "mips", "sparc")


def _ioc(direction: str, nr: int, struct: str) -> int:
    ffi, _ = _libc.libc()
    size = ffi.sizeof(struct)
    if platform.machine().lower().startswith(_OTHER_LAYOUT):
        dirs = {"w": 4, "rw": 6}  # _IOC_WRITE 4, _IOC_READ 2; 13 size bits
        return dirs[direction] << 29 | size << 16 | ord("c") << 8 | nr
    dirs = {"w": 1, "rw": 3}  # _IOC_WRITE 1, _IOC_READ 2; 14 size bits
    return dirs[direction] << 30 | size << 16 | ord("c") << 8 | nr


@cache
def ioctls() -> dict[str, int]:
    """The request numbers, by name (computed once, from the structures' sizes)."""
    return {
        "CIOCGSESSION": _ioc("rw", 102, "struct session_op"),
        "CIOCFSESSION": _ioc("w", 103, "uint32_t"),
        "CIOCCRYPT": _ioc("rw", 104, "struct crypt_op"),
        "CIOCGSESSINFO": _ioc("rw", 107, "struct session_info_op"),
        "CIOCAUTHCRYPT": _ioc("rw", 109, "struct crypt_auth_op"),
        "CIOCCPHASH": _ioc("w", 112, "struct cphash_op"),
    }
