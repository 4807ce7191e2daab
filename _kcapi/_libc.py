"""C library entry points the ``socket`` module lacks a cheap form of (cffi, ABI mode),
and the structures of the ``/dev/crypto`` ioctls (``crypto/cryptodev.h``).

Used only by :mod:`._syscalls` (and, for the structures' layout, :mod:`.cryptodev.abi`).  The keyring calls (``add_key``, ``keyctl``)
have no glibc wrapper and go through ``syscall()``.  ``socket.socket.accept()`` calls
``getsockname()`` on every new socket to check it, and a ``socket`` object
cannot be built around a descriptor without that extra system call; op
sockets of hashes are therefore plain descriptors, driven through
``accept4``/``send``/``sendmsg`` here and ``os.read``/``os.close``.
The library is opened on first use, never at import.
"""

from __future__ import annotations

from typing import Any

_CDEF = """
struct iovec { void *iov_base; size_t iov_len; };
struct msghdr {
    void *msg_name; unsigned int msg_namelen;
    struct iovec *msg_iov; size_t msg_iovlen;
    void *msg_control; size_t msg_controllen;
    int msg_flags;
};
int accept4(int sockfd, void *addr, void *addrlen, int flags);
long send(int sockfd, const void *buf, size_t len, int flags);
long sendmsg(int sockfd, const struct msghdr *msg, int flags);
long syscall(long number, ...);
int ioctl(int fd, unsigned long request, ...);

/* crypto/cryptodev.h (cryptodev-linux; the OpenBSD API): the layout the ioctls take. */
struct session_op {
    uint32_t cipher; uint32_t mac;
    uint32_t keylen; uint8_t *key;
    uint32_t mackeylen; uint8_t *mackey;
    uint32_t ses;
};
struct alg_info { char cra_name[64]; char cra_driver_name[64]; };
struct session_info_op {
    uint32_t ses;
    struct alg_info cipher_info, hash_info;
    uint16_t alignmask; uint32_t flags;
};
struct crypt_op {
    uint32_t ses; uint16_t op; uint16_t flags; uint32_t len;
    uint8_t *src; uint8_t *dst; uint8_t *mac; uint8_t *iv;
};
struct crypt_auth_op {
    uint32_t ses; uint16_t op; uint16_t flags; uint32_t len; uint32_t auth_len;
    uint8_t *auth_src; uint8_t *src; uint8_t *dst; uint8_t *tag; uint32_t tag_len;
    uint8_t *iv; uint32_t iv_len;
};
struct cphash_op { uint32_t dst_ses; uint32_t src_ses; };
"""

_loaded: tuple[Any, Any] | None = None


def libc() -> tuple[Any, Any]:
    """``(ffi, lib)`` for the C library, loaded once."""
    global _loaded
    if _loaded is None:
        from cffi import FFI

        ffi = FFI()
        ffi.cdef(_CDEF)
        _loaded = (ffi, ffi.dlopen(None))
    return _loaded


# add_key and keyctl system call numbers, by ``platform.machine()``.
KEY_SYSCALLS = {
    "x86_64": (248, 250), "amd64": (248, 250),
    "aarch64": (217, 219), "arm64": (217, 219), "riscv64": (217, 219), "loongarch64": (217, 219),
    "i386": (286, 288), "i686": (286, 288),
    "armv7l": (309, 311), "armv6l": (309, 311),
    "ppc64le": (269, 271), "ppc64": (269, 271),
    "s390x": (278, 280),
}
