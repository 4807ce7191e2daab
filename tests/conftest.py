"""Fixtures shared by the modules of tests/: the fake syscall layers of :mod:`tests.fakes`.

``fake_kernel`` (a layer that refuses one step), ``restriction_files`` (the
``af_alg_restrict`` files of the test's own) and ``emulated_kernel`` (algif_hash
emulated with hashlib) are defined there, beside the fakes they install.
"""

from .fakes import emulated_kernel, fake_kernel, restriction_files  # noqa: F401 - fixtures

import pytest

from _kcapi import _syscalls, policy


@pytest.fixture(autouse=True)
def _fakes_stand_in_for_af_alg(monkeypatch):
    """The fake syscall layers of :mod:`tests.fakes` stand in for AF_ALG: while one is
    installed as ``_syscalls.kernel``, the kernel interface in force is ``af_alg``, whatever
    was chosen (the /dev/crypto run, scripts/test regime e, included), unless the fake
    says it emulates ``/dev/crypto`` (``emulates = "cryptodev"``)."""
    chosen = policy.get_interface

    def interface() -> str:
        kernel = _syscalls.kernel
        if type(kernel) is _syscalls.Kernel or getattr(kernel, "emulates", "") == "cryptodev":
            return chosen()
        return policy.AF_ALG_INTERFACE

    monkeypatch.setattr(policy, "get_interface", interface)


@pytest.fixture
def af_alg_only():
    """For a test of AF_ALG's own mechanisms (op sockets and their descriptors, splice,
    keyring keys, faults injected at its system calls): AF_ALG is the kernel interface
    for the test, whatever was chosen.  The /dev/crypto run (scripts/test regime e) thus
    runs them on AF_ALG, which it leaves unrestricted (af_alg_restrict=0)."""
    with policy.use_interface(policy.AF_ALG_INTERFACE):
        yield
