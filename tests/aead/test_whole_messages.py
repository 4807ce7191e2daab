"""GCM and ChaCha20-Poly1305 where the kernel has the one-shot AEAD but not ``ghash``/``poly1305``.

Linux 7.2 made ``ghash`` and ``poly1305`` library code: ``gcm(aes)`` and
``rfc7539(chacha20,poly1305)`` remain, for whole messages.  Under the ``kernel``
policy such objects are made and serve whole messages; a call only the composed
path could serve raises a ``KernelUnavailableError`` naming the missing part, and
leaves the object as it was.  Under ``auto`` the fallback serves the object.

On a kernel that still has the parts (6.x), their absence is planted in the
core's probe cache, the AEAD itself staying the real kernel's: both kinds of
kernel run the same checks.
"""

from __future__ import annotations

import errno
import os

import pytest
from Crypto.Cipher import AES as RefAES
from Crypto.Cipher import ChaCha20_Poly1305 as RefChaChaPoly

import kcapi_cipher
from _kcapi import routing, transform
from _kcapi.errors import KernelUnavailableError
from kcapi_cipher import AES, ChaCha20_Poly1305

from ..support import require_kernel_alg

pytestmark = pytest.mark.kernel

CASES = {
    "gcm": ("gcm(aes)", "ghash",
            lambda key, nonce: AES.new(key, AES.MODE_GCM, nonce=nonce),
            lambda key, nonce: RefAES.new(key, AES.MODE_GCM, nonce=nonce), 16),
    "chacha20-poly1305": ("rfc7539(chacha20,poly1305)", "poly1305",
                          lambda key, nonce: ChaCha20_Poly1305.new(key=key, nonce=nonce),
                          lambda key, nonce: RefChaChaPoly.new(key=key, nonce=nonce), 32),
}


@pytest.fixture(params=list(CASES))
def case(request):
    """(ours, ref, one-shot name, missing part) with the part refused as on Linux 7.2+."""
    one_shot, part, ours, ref, key_size = CASES[request.param]
    require_kernel_alg("aead", one_shot)
    transform.clear()
    planted = routing.probe("hash", part)
    if not isinstance(planted, KernelUnavailableError):  # 6.x: plant 7.2's answer
        planted = KernelUnavailableError(errno.ENOENT, f"the kernel has no hash algorithm "
                                         f"'{part}' (planted by the test)", reason="missing",
                                         algorithm=part, step="bind")
        transform.plant_refusal("hash", part, planted)
    kcapi_cipher.set_backend("kernel")
    yield ours, ref, one_shot, part, os.urandom(key_size)
    transform.clear()


def test_whole_messages_are_the_kernels(case):
    ours, ref, one_shot, _part, key = case
    nonce, aad, data = os.urandom(12), os.urandom(40), os.urandom(5000)
    sealer = ours(key, nonce)
    assert kcapi_cipher.backend_info(sealer).algorithm == one_shot
    sealer.update(aad)
    ct, tag = sealer.encrypt_and_digest(data)
    expected = ref(key, nonce)
    expected.update(aad)  # ChaCha20-Poly1305's update() returns None, GCM's the object
    assert (ct, tag) == expected.encrypt_and_digest(data)
    opener = ours(key, nonce)
    opener.update(aad)
    assert opener.decrypt_and_verify(ct, tag) == data
    forged = ours(key, nonce)
    forged.update(aad)
    with pytest.raises(ValueError, match="MAC check failed"):
        forged.decrypt_and_verify(ct, bytes([tag[0] ^ 1]) + tag[1:])


def test_a_piecewise_call_says_what_is_missing_and_changes_nothing(case):
    ours, ref, one_shot, part, key = case
    nonce, data = os.urandom(12), os.urandom(100)
    obj = ours(key, nonce)
    obj.update(b"header")
    for call in (lambda: obj.encrypt(data), lambda: obj.decrypt(data)):
        with pytest.raises(KernelUnavailableError) as caught:
            call()
        exc = caught.value
        refused = routing.probe("hash", part)  # 7.2+ (or planted): ENOENT; /dev/crypto: lacks it
        assert exc.algorithm == part and exc.reason == refused.reason and exc.errno == refused.errno
        assert "whole messages" in str(exc) and one_shot in str(exc)
    # The refused calls changed nothing: the whole message still works, and is right.
    expected = ref(key, nonce)
    expected.update(b"header")
    assert obj.encrypt_and_digest(data) == expected.encrypt_and_digest(data)


def test_nonces_only_the_composed_path_takes_are_refused_at_new(case):
    ours, _ref, _one_shot, part, key = case
    with pytest.raises(KernelUnavailableError) as caught:
        ours(key, os.urandom(24 if part == "poly1305" else 16))
    assert caught.value.algorithm in (part, "xchacha20")


def test_auto_falls_back_for_the_whole_object(case):
    ours, ref, _one_shot, _part, key = case
    kcapi_cipher.set_backend("auto")
    nonce, data = os.urandom(12), os.urandom(300)
    obj = ours(key, nonce)
    assert kcapi_cipher.backend_info(obj).backend == "software"
    reference = ref(key, nonce)
    assert obj.encrypt(data[:7]) + obj.encrypt(data[7:]) == reference.encrypt(data)
    assert obj.digest() == reference.digest()
