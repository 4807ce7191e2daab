"""Fixtures shared by the cipher modules."""

import pytest

import kcapi_cipher

from ..support import require_kernel_alg


@pytest.fixture
def kernel_cbc_and_gcm():
    """The ``kernel`` policy, where the kernel has cbc(aes) and gcm(aes) (else: skip, or fail
    in the kernel run); for the modules of cipher objects under threads, fork, faults, limits."""
    require_kernel_alg("skcipher", "cbc(aes)")
    require_kernel_alg("aead", "gcm(aes)")
    kcapi_cipher.set_backend("kernel")
