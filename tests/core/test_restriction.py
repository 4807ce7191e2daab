"""Refusals explained under Linux 7.3's ``af_alg_restrict``, with fake /proc files and syscalls.

ENOENT from bind() means "missing" or "restricted" and EAFNOSUPPORT from socket()
means "no AF_ALG" or ``af_alg_restrict=2``: the reason must say which, from the
setting, the allow-lists and this process's capabilities.  The real kernel
(UML 7.3 regimes b, c and d) covers the same in tests/cipher/test_kernel_matrix.py.
"""

import errno
import hashlib

import pytest

import kcapi_cipher
import kcapi_hashlib
from _kcapi import restriction, transform
from _kcapi.errors import refusal
from kcapi_cipher import AES
from kcapi_hashlib import KernelUnavailableError, hmac


NET_ADMIN = 1 << restriction.CAP_NET_ADMIN
SYS_ADMIN = 1 << restriction.CAP_SYS_ADMIN
CHILD_NAMESPACE = "0 100000 65536"

# setting, CapEff, uid_map, (kind, name), reason, words in the message
BIND_ENOENT = [
    (None, 0, None, ("hash", "sha256"), "missing", "has no hash algorithm 'sha256'"),
    (0, 0, None, ("hash", "sha256"), "missing", "has no hash algorithm 'sha256'"),
    (1, 0, None, ("hash", "sha1"), "missing", "has no hash algorithm 'sha1'"),
    (1, 0, None, ("skcipher", "hctr2(aes)"), "missing", "has no skcipher algorithm 'hctr2(aes)'"),
    (1, 0, None, ("hash", "sha256"), "restricted", "CAP_NET_ADMIN or CAP_SYS_ADMIN"),
    (1, NET_ADMIN, None, ("hash", "sha256"), "missing", "has no hash algorithm"),
    (1, NET_ADMIN, CHILD_NAMESPACE, ("hash", "sha256"), "restricted", "CAP_NET_ADMIN"),
    (1, SYS_ADMIN, CHILD_NAMESPACE, ("aead", "ccm(aes)"), "missing", "has no aead"),
    (1, 0, None, ("aead", "ccm(aes)"), "restricted", "'ccm(aes)' may be bound only"),
    (1, SYS_ADMIN, None, ("hash", "sha3-256"), "restricted", "af_alg_restrict=0 would allow"),
    (1, SYS_ADMIN, None, ("aead", "gcm(aes)"), "restricted", "does not have aead 'gcm(aes)'"),
    (1, SYS_ADMIN, None, ("rng", "stdrng"), "restricted", "does not have rng 'stdrng'"),
]


@pytest.mark.parametrize("setting,caps,uid_map,alg,reason,words", BIND_ENOENT)
def test_enoent_from_bind_is_missing_or_restricted(restriction_files, setting, caps, uid_map,
                                                    alg, reason, words):
    restriction_files(setting, caps, uid_map or "0 0 4294967295")
    found = refusal(OSError(errno.ENOENT, "No such file or directory"), "bind", *alg)
    assert isinstance(found, KernelUnavailableError)
    assert found.reason == reason and found.errno == errno.ENOENT and found.algorithm == alg[1]
    assert words in str(found)
    if reason == "restricted":
        assert f"af_alg_restrict={setting}" in str(found)


def test_setting_2_is_named_where_socket_fails(fake_kernel, restriction_files):
    fake_kernel("socket", errno.EAFNOSUPPORT)
    restriction_files(2)
    kcapi_hashlib.set_backend("kernel")
    with pytest.raises(KernelUnavailableError) as caught:
        kcapi_hashlib.sha1(b"abc")
    assert caught.value.reason == "no-af-alg" and "af_alg_restrict=2" in str(caught.value)
    restriction_files(None)
    transform.clear()  # the refusal above is cached until then
    with pytest.raises(KernelUnavailableError) as caught:
        kcapi_hashlib.sha1(b"abc")
    assert caught.value.reason == "no-af-alg" and "af_alg_restrict" not in str(caught.value)
    assert "RestrictAddressFamilies" in str(caught.value)


@pytest.mark.parametrize("policy", ["auto", "kernel"])
def test_a_restricted_name_reads_restricted_everywhere(fake_kernel, restriction_files, policy):
    """Hash, HMAC and cipher objects: the error under ``kernel``, the reason under ``auto``."""
    fake_kernel("bind", errno.ENOENT)
    restriction_files(1)  # an unprivileged process
    kcapi_hashlib.set_backend(policy)
    makers = {
        "sha256": (lambda: kcapi_hashlib.sha256(b"abc"), kcapi_hashlib.backend_info),
        "hmac(sha256)": (lambda: hmac.new(b"k", b"abc", "sha256"),
                         kcapi_hashlib.backend_info),
        "cbc(aes)": (lambda: AES.new(b"k" * 16, AES.MODE_CBC, iv=b"i" * 16),
                     kcapi_cipher.backend_info),
        # CCM in pieces is composed of ctr(aes) and cbcmac(aes): the first one refused.
        ("ccm(aes)", "ctr(aes)"): (lambda: AES.new(b"k" * 16, AES.MODE_CCM, nonce=b"n" * 11),
                                   kcapi_cipher.backend_info),
    }
    for name, (make, backend_info) in makers.items():
        if policy == "kernel":
            with pytest.raises(KernelUnavailableError) as caught:
                make()
            names = name if isinstance(name, tuple) else (name,)
            assert caught.value.reason == "restricted" and caught.value.algorithm in names
            assert "af_alg_restrict=1" in str(caught.value)
        else:
            info = backend_info(make())
            assert info.backend == "software"
            assert info.reason.startswith("restricted") and "af_alg_restrict=1" in info.reason
    if policy == "auto":
        assert kcapi_hashlib.sha256(b"abc").digest() == hashlib.sha256(b"abc").digest()


def test_allow_lists_follow_the_kernel_source():
    """Spot checks of crypto/algif_*.c's lists (Linux 7.3), both ways."""
    assert restriction.allowed("hash", "sha1", False)
    assert not restriction.allowed("hash", "sha256", False)
    assert restriction.allowed("hash", "sha256", True)
    assert restriction.allowed("skcipher", "adiantum(xchacha20,aes)", False)
    assert not restriction.allowed("skcipher", "ctr(aes)", False)
    assert not restriction.allowed("aead", "gcm(aes)", True)
    assert not restriction.allowed("rng", "stdrng", True)
