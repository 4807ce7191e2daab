"""The kernel DRBG seeded from chosen entropy (ALG_SET_DRBG_ENTROPY), against SP 800-90A.

Gated on a probe of the option, never on a version: where the kernel has it
(our 6.12 build: CONFIG_CRYPTO_USER_API_RNG_CAVP), the DRBG's outputs are
checked against an independent HMAC_DRBG written here from SP 800-90A 10.1.2;
where it does not (Debian's 6.1), the "needs a newer kernel" error is checked.
"""

from __future__ import annotations

import errno
import hashlib
import hmac as std_hmac
import os

import pytest

from _kcapi.errors import KernelUnavailableError
from kcapi_cipher import Random

from .support import require_kernel_alg

pytestmark = pytest.mark.kernel

DRBG = "drbg_nopr_hmac_sha256"


class HmacDrbg:
    """SP 800-90A HMAC_DRBG (SHA-256), no prediction resistance, no additional input."""

    def __init__(self, seed_material: bytes):
        self.key = bytes(32)
        self.v = b"\x01" * 32
        self._update(seed_material)

    def _mac(self, data: bytes) -> bytes:
        return std_hmac.new(self.key, data, hashlib.sha256).digest()

    def _update(self, provided: bytes) -> None:
        self.key = self._mac(self.v + b"\x00" + provided)
        self.v = self._mac(self.v)
        if provided:
            self.key = self._mac(self.v + b"\x01" + provided)
            self.v = self._mac(self.v)

    def generate(self, size: int) -> bytes:
        out = b""
        while len(out) < size:
            self.v = self._mac(self.v)
            out += self.v
        self._update(b"")
        return out[:size]


def entropy_option_works() -> bool:
    require_kernel_alg("rng", DRBG)
    try:
        Random.known_answer_drbg(b"\x00" * 48)
    except KernelUnavailableError as exc:
        assert exc.reason == "needs-newer-kernel", exc
        return False
    return True


@pytest.mark.parametrize("personalization", [b"", b"kcapi test"])
def test_known_answers_match_sp800_90a(personalization):
    if not entropy_option_works():
        pytest.skip("this kernel lacks ALG_SET_DRBG_ENTROPY (its error is tested instead)")
    entropy = os.urandom(48)  # EntropyInput (32) || Nonce (16)
    drbg = Random.known_answer_drbg(entropy, personalization, DRBG)
    reference = HmacDrbg(entropy + personalization)
    for size in (16, 32, 128, 1, 100):
        assert drbg.generate(size) == reference.generate(size)
    with pytest.raises(ValueError):
        drbg.generate(129)


def test_same_entropy_same_output():
    if not entropy_option_works():
        pytest.skip("this kernel lacks ALG_SET_DRBG_ENTROPY (its error is tested instead)")
    a = Random.known_answer_drbg(b"e" * 48, b"p")
    b = Random.known_answer_drbg(b"e" * 48, b"p")
    assert a.generate(64) == b.generate(64)
    assert Random.known_answer_drbg(b"f" * 48, b"p").generate(64) != a.generate(64)


def test_older_kernels_say_what_they_need():
    if entropy_option_works():
        pytest.skip("this kernel has ALG_SET_DRBG_ENTROPY (the known-answer tests run instead)")
    with pytest.raises(KernelUnavailableError) as caught:
        Random.known_answer_drbg(b"\x00" * 48)
    assert caught.value.reason == "needs-newer-kernel" and caught.value.errno == errno.ENOPROTOOPT
    assert "CONFIG_CRYPTO_USER_API_RNG_CAVP" in str(caught.value)
