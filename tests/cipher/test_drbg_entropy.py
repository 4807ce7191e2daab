"""The kernel DRBG seeded from chosen entropy (ALG_SET_DRBG_ENTROPY), against SP 800-90A.

Gated on probes, never on a version.  The DRBGs checked are the HMAC_DRBGs
``drbg_nopr_hmac_sha256`` (kernels before 7.2) and ``drbg_nopr_hmac_sha512``
(the only DRBG of 7.2 and later), each where this kernel binds it; a kernel
test skips a DRBG only when the probe finds it missing, naming it.  Where the
kernel has the entropy option (our 6.12 and 7.3 builds:
CONFIG_CRYPTO_USER_API_RNG_CAVP), the DRBG's outputs are checked against an
independent HMAC_DRBG written here from SP 800-90A 10.1.2 -- itself checked
against the NIST ACVP vector Linux 7.3's testmgr uses
(``tests/data/testmgr_7_3_drbg.json``); where it does not (Debian's 6.1), the
"needs a newer kernel" error is checked.
"""

from __future__ import annotations

import errno
import hashlib
import hmac as std_hmac
import json
import os
from pathlib import Path

import pytest

from _kcapi import rng
from _kcapi.errors import KernelUnavailableError
from kcapi_cipher import Random

from ..support import kernel_refusal, optional_kernel_alg, require_kernel_alg

#: The HMAC_DRBGs checked, and the hash of each.
DRBGS = {"drbg_nopr_hmac_sha256": hashlib.sha256, "drbg_nopr_hmac_sha512": hashlib.sha512}
ACVP = json.loads((Path(__file__).parents[1] / "data" / "testmgr_7_3_drbg.json").read_text())


class HmacDrbg:
    """SP 800-90A HMAC_DRBG (10.1.2) over ``digest``, without prediction resistance."""

    def __init__(self, digest, seed_material: bytes):
        self.digest = digest
        size = digest().digest_size
        self.key = bytes(size)
        self.v = b"\x01" * size
        self._update(seed_material)  # entropy || nonce || personalization

    def _mac(self, data: bytes) -> bytes:
        return std_hmac.new(self.key, data, self.digest).digest()

    def _update(self, provided: bytes) -> None:
        self.key = self._mac(self.v + b"\x00" + provided)
        self.v = self._mac(self.v)
        if provided:
            self.key = self._mac(self.v + b"\x01" + provided)
            self.v = self._mac(self.v)

    def reseed(self, entropy: bytes, additional: bytes = b"") -> None:
        self._update(entropy + additional)

    def generate(self, size: int, additional: bytes = b"") -> bytes:
        if additional:
            self._update(additional)
        out = b""
        while len(out) < size:
            self.v = self._mac(self.v)
            out += self.v
        self._update(additional)
        return out[:size]


@pytest.mark.parametrize("vector", ACVP, ids=lambda v: f"acvp-{v['expectedlen']}")
def test_the_reference_drbg_meets_the_acvp_vector(vector):
    """The reference here, on NIST's ACVP HMAC_DRBG SHA-512 vector (reseed, additional input)."""
    get = bytes.fromhex
    drbg = HmacDrbg(hashlib.sha512, get(vector["entropy"]) + get(vector["pers"]))
    drbg.reseed(get(vector["ent_reseed"]), get(vector["addtl_reseed"]))
    drbg.generate(vector["expectedlen"], get(vector["addtla"]))
    assert drbg.generate(vector["expectedlen"], get(vector["addtlb"])).hex() == vector["expected"]


def default_drbg() -> str:
    """The DRBG ``known_answer_drbg`` chooses, found here by probing each name in turn."""
    for name in rng.KNOWN_ANSWER_DRBGS:
        if kernel_refusal("rng", name) is None:
            return name
    require_kernel_alg("rng", rng.KNOWN_ANSWER_DRBGS[-1])  # skips, or fails the kernel run
    raise AssertionError("unreachable")


def entropy_option_works(name: str) -> bool:
    try:
        Random.known_answer_drbg(b"\x00" * 48, name=name)
    except KernelUnavailableError as exc:
        assert exc.reason == "needs-newer-kernel", exc
        return False
    return True


def need_entropy_option(name: str) -> None:
    if not entropy_option_works(name):
        pytest.skip("this kernel lacks ALG_SET_DRBG_ENTROPY (its error is tested instead)")


@pytest.mark.kernel
@pytest.mark.parametrize("personalization", [b"", b"kcapi test"], ids=["no-pers", "pers"])
@pytest.mark.parametrize("name", list(DRBGS))
def test_known_answers_match_sp800_90a(name, personalization):
    optional_kernel_alg("rng", name)  # 7.2+ has only the SHA-512 one
    need_entropy_option(name)
    entropy = os.urandom(48)  # EntropyInput (32) || Nonce (16)
    drbg = Random.known_answer_drbg(entropy, personalization, name)
    assert drbg.name == name
    reference = HmacDrbg(DRBGS[name], entropy + personalization)
    for size in (16, 32, 128, 1, 100, 64, 65):
        assert drbg.generate(size) == reference.generate(size)
    with pytest.raises(ValueError):
        drbg.generate(129)


@pytest.mark.kernel
def test_the_default_drbg_is_the_first_that_binds():
    name = default_drbg()
    need_entropy_option(name)
    assert rng.known_answer_name() == name
    entropy = os.urandom(48)
    drbg = Random.known_answer_drbg(entropy)
    assert drbg.name == name and drbg.backend_info.algorithm == name
    assert drbg.generate(128) == HmacDrbg(DRBGS[name], entropy).generate(128)


@pytest.mark.kernel
def test_same_entropy_same_output():
    need_entropy_option(default_drbg())
    a = Random.known_answer_drbg(b"e" * 48, b"p")
    b = Random.known_answer_drbg(b"e" * 48, b"p")
    assert a.generate(64) == b.generate(64)
    assert Random.known_answer_drbg(b"f" * 48, b"p").generate(64) != a.generate(64)


@pytest.mark.kernel
def test_older_kernels_say_what_they_need():
    if entropy_option_works(default_drbg()):
        pytest.skip("this kernel has ALG_SET_DRBG_ENTROPY (the known-answer tests run instead)")
    with pytest.raises(KernelUnavailableError) as caught:
        Random.known_answer_drbg(b"\x00" * 48)
    assert caught.value.reason == "needs-newer-kernel" and caught.value.errno == errno.ENOPROTOOPT
    assert "CONFIG_CRYPTO_USER_API_RNG_CAVP" in str(caught.value)


@pytest.mark.kernel
def test_get_random_bytes_reads_the_kernel_drbg():
    """``stdrng`` is whichever DRBG the kernel has (drbg_nopr_hmac_sha512 alone on 7.2+)."""
    require_kernel_alg("rng", "stdrng")
    first, second = Random.get_random_bytes(200), Random.get_random_bytes(200)
    assert len(first) == len(second) == 200 and first != second
    info = Random.backend_info()
    assert info.backend == "kernel" and info.algorithm == "stdrng", info
    assert info.driver.startswith(("drbg_", "jitterentropy")), info
    assert len(Random.new().read(300)) == 300


def test_no_drbg_at_all_is_the_kernels_refusal(fake_kernel):
    fake_kernel("bind", errno.ENOENT)
    with pytest.raises(KernelUnavailableError) as caught:
        Random.known_answer_drbg(b"\x00" * 48)
    assert caught.value.reason == "missing" and caught.value.algorithm == rng.KNOWN_ANSWER_DRBGS[-1]
    assert "drbg_nopr_hmac_sha512" in str(caught.value)
