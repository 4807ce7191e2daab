"""Test-wide settings: hypothesis profiles, the kernel run's no-skip rule, gc after each module.

``KCAPI_REQUIRE_KERNEL=1`` (set by ``scripts/test`` for the run inside a kernel
with AF_ALG) turns every probe-gated skip of a test marked ``kernel`` into a
failure, unless the probe found an algorithm the running kernel does not have
at all (``tests.support.optional_kernel_alg``).
"""

import gc
import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("host", max_examples=60, deadline=None)
# Every syscall costs ~60 us inside User-Mode Linux: fewer, still random, examples.
settings.register_profile("uml", max_examples=20, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "host"))


def pytest_report_header(config):
    from _kcapi import policy

    return [f"kcapi backend policy: {policy.get_backend()}; "
            f"KCAPI_REQUIRE_KERNEL={os.environ.get('KCAPI_REQUIRE_KERNEL', '0')}; "
            f"kernel: {os.uname().release}"]


@pytest.fixture(autouse=True)
def _restore_policy():
    """Tests may change the process-wide policy; put it back afterwards."""
    from _kcapi import policy

    before = policy.get_backend()
    yield
    policy.set_backend(before)


@pytest.fixture(autouse=True, scope="module")
def _collect_garbage_afterwards():
    """Collect each module's cyclic garbage before the next module counts descriptors.

    Exception frames kept by ``pytest.raises`` hold cipher objects, and a
    streaming object holds an op socket: collected at a random later time,
    they would change another module's descriptor counts.
    """
    yield
    gc.collect()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A test stopped by a refusal this run expects skips, naming it
    (``tests.support.skip_if_refusal_expected``: ghash/poly1305 gone on Linux 7.2+
    under the ``kernel`` policy; af_alg_restrict's allow-list outside the kernel runs)."""
    from tests.support import skip_if_refusal_expected

    try:
        return (yield)
    except Exception as exc:
        skip_if_refusal_expected(exc)
        raise
