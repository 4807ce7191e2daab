"""Fixtures shared by the modules of tests/: the fake syscall layers of :mod:`tests.fakes`.

``fake_kernel`` (a layer that refuses one step), ``restriction_files`` (the
``af_alg_restrict`` files of the test's own) and ``emulated_kernel`` (algif_hash
emulated with hashlib) are defined there, beside the fakes they install.
"""

from .fakes import emulated_kernel, fake_kernel, restriction_files  # noqa: F401 - fixtures
