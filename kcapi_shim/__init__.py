"""Make unchanged code's ``hashlib``, ``hmac`` and PyCryptodome imports get kcapi.

``kcapi_shim.install()`` puts kcapi's drop-ins where unchanged code imports
``hashlib``, ``hmac`` and PyCryptodome's cipher modules from; ``uninstall()``
puts back exactly what was there; ``installed()`` says which state is in
force; ``with kcapi_shim.active():`` installs for a block.  ``kcapi run``
(also ``python -m kcapi_shim``) runs a whole program that way.

What it replaces (:data:`MODULES`, :data:`ATTRIBUTES`):

* the ``sys.modules`` entries ``hashlib``, ``hmac``, ``Crypto.Cipher.AES``,
  ``Crypto.Cipher.DES3``, ``Crypto.Cipher.ChaCha20``,
  ``Crypto.Cipher.ChaCha20_Poly1305`` and ``Crypto.Hash.CMAC``, and the
  attributes of the same names on the packages ``Crypto.Cipher`` and
  ``Crypto.Hash``: every later ``import hashlib``, ``from Crypto.Cipher import
  AES``, ``import Crypto.Cipher.AES as AES``, ``importlib.import_module(...)``
  gets the kcapi module;
* the functions ``get_random_bytes`` and ``new`` of the package
  ``Crypto.Random`` (the package itself stays: ``Crypto.Random.random`` is its
  submodule): ``from Crypto.Random import get_random_bytes`` then reads the
  kernel's DRBG (``kcapi_cipher.Random``).

What it cannot reach: names bound before ``install()`` (``from hashlib import
sha256`` done earlier keeps hashlib's constructor, a module holding
``hashlib`` as a global keeps the module), and code that does not import
these modules (C extensions calling OpenSSL, such as ``ssl``; ``random``
seeds from the C module ``_sha512``/``_sha2``).  Names bound while installed
keep kcapi's objects after ``uninstall()``.

Invariants: the kcapi packages and the modules they stand in for are
imported before any entry changes, so the kcapi packages (and the standard
library's ``hmac``, which they use) hold the real modules; :data:`_saved`
is non-empty exactly when installed, and holds what each replaced entry held
before (``_MISSING`` for an absent attribute).
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["install", "uninstall", "installed", "active", "MODULES", "ATTRIBUTES"]

#: Module name unchanged code imports -> the kcapi module put in its place.
MODULES: dict[str, str] = {
    "hashlib": "kcapi_hashlib",
    "hmac": "kcapi_hashlib.hmac",
    "Crypto.Cipher.AES": "kcapi_cipher.AES",
    "Crypto.Cipher.DES3": "kcapi_cipher.DES3",
    "Crypto.Cipher.ChaCha20": "kcapi_cipher.ChaCha20",
    "Crypto.Cipher.ChaCha20_Poly1305": "kcapi_cipher.ChaCha20_Poly1305",
    "Crypto.Hash.CMAC": "kcapi_cipher.CMAC",
}

#: Module -> {attribute -> kcapi module whose same-named attribute replaces it}.
ATTRIBUTES: dict[str, dict[str, str]] = {
    "Crypto.Random": {"get_random_bytes": "kcapi_cipher.Random", "new": "kcapi_cipher.Random"},
}

_MISSING: Any = object()

#: (holder, key, value before, kcapi's value), in install order; a holder is
#: ``sys.modules`` (key: a module name) or a module (key: an attribute name).
_saved: list[tuple[Any, str, Any, Any]] = []
_lock = threading.Lock()


def installed() -> bool:
    """Whether :func:`install` is in force (and :func:`uninstall` not yet called)."""
    return bool(_saved)


def install() -> None:
    """Make later imports of ``hashlib``, ``hmac`` and the PyCryptodome modules get kcapi.

    Does nothing when already installed.  Imports ``kcapi_hashlib``,
    ``kcapi_cipher`` and the modules they replace first, so that both are
    complete before any entry changes.

    Raises:
        ImportError: a kcapi or PyCryptodome module cannot be imported
            (nothing is changed then).
    """
    with _lock:
        if _saved:
            return
        plan: list[tuple[Any, str, Any]] = []
        for name, ours in MODULES.items():
            replacement = importlib.import_module(ours)
            importlib.import_module(name)
            plan.append((sys.modules, name, replacement))
            parent, _, child = name.rpartition(".")
            if parent:
                plan.append((sys.modules[parent], child, replacement))
        for name, attributes in ATTRIBUTES.items():
            target = importlib.import_module(name)
            for attribute, ours in attributes.items():
                plan.append((target, attribute,
                             getattr(importlib.import_module(ours), attribute)))
        for holder, key, replacement in plan:
            _saved.append((holder, key, _get(holder, key), replacement))
            _set(holder, key, replacement)


def uninstall() -> None:
    """Put back every entry :func:`install` replaced, as it was before.

    Does nothing when not installed.  An entry that someone else changed
    after :func:`install` is left as they set it.  Modules imported while
    installed keep the kcapi objects they bound.
    """
    with _lock:
        while _saved:
            holder, key, old, replacement = _saved.pop()
            if _get(holder, key) is replacement:
                _set(holder, key, old)


@contextmanager
def active() -> Iterator[None]:
    """:func:`install` for the duration of a ``with`` block.

    Already installed on entry: the block changes nothing, and the shim stays
    installed after it.
    """
    if installed():
        yield
        return
    install()
    try:
        yield
    finally:
        uninstall()


def _get(holder: Any, key: str) -> Any:
    if isinstance(holder, dict):
        return holder.get(key, _MISSING)
    return getattr(holder, key, _MISSING)


def _set(holder: Any, key: str, value: Any) -> None:
    if isinstance(holder, dict):
        if value is _MISSING:
            holder.pop(key, None)
        else:
            holder[key] = value
    elif value is _MISSING:
        delattr(holder, key)
    else:
        setattr(holder, key, value)
