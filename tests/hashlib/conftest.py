"""Fixtures shared by the hashlib modules."""

import pytest

import kcapi_hashlib

from ..support import require_kernel_alg


@pytest.fixture
def kernel():
    """The ``kernel`` policy, where the kernel has sha256 (else: skip, or fail in the kernel run)."""
    require_kernel_alg("hash", "sha256")
    kcapi_hashlib.set_backend("kernel")
