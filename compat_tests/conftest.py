"""Fixtures shared by the modules of compat_tests/."""

import pytest

import kcapi_hashlib

from .outcomes import POLICIES


@pytest.fixture(params=POLICIES)
def policy(request):
    """Each test once per backend policy, the policy set for it."""
    kcapi_hashlib.set_backend(request.param)
    return request.param
