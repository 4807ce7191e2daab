"""PyCryptodome's own modules, held from the moment ``kcapi_cipher`` is imported.

The software fallback of every ``kcapi_cipher`` module *is* PyCryptodome.
Code that wants unchanged programs to use kcapi puts kcapi's modules in their
place (``sys.modules['Crypto.Cipher.AES'] = kcapi_cipher.AES``, and the
package attribute ``Crypto.Cipher.AES``).  After that, ``from Crypto.Cipher
import AES`` names kcapi's module, so a fallback that imported PyCryptodome
lazily would call itself forever.  This module therefore imports the real
modules once, when ``kcapi_cipher`` is first imported -- with them the mode
modules PyCryptodome itself imports lazily (EAX, SIV, OCB, ...), so that those
bind PyCryptodome's CMAC and Random, not stand-ins -- and every fallback uses
these references, never an import by name.

If kcapi's modules already stand in PyCryptodome's place when this module is
first imported, they are set aside while the real modules are imported, and
put back afterwards (:func:`_set_aside`): the references are PyCryptodome's
whatever the order, and the caller's mapping is left as it was.

Invariant: every module held here belongs to the ``Crypto`` package, never to
``kcapi_cipher``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from Crypto.Cipher import _create_cipher

#: Modules a drop-in may replace (those ``kcapi_cipher`` has), each held below.
REPLACEABLE = ("Crypto.Cipher.AES", "Crypto.Cipher.DES3", "Crypto.Cipher.ChaCha20",
               "Crypto.Cipher.ChaCha20_Poly1305", "Crypto.Hash.CMAC", "Crypto.Random")
#: PyCryptodome's modules that import a replaceable one when they are first used.
_DEPENDENTS = ("Crypto.Cipher._mode_ecb", "Crypto.Cipher._mode_cbc", "Crypto.Cipher._mode_cfb",
               "Crypto.Cipher._mode_ofb", "Crypto.Cipher._mode_ctr", "Crypto.Cipher._mode_gcm",
               "Crypto.Cipher._mode_ccm", "Crypto.Cipher._mode_eax", "Crypto.Cipher._mode_siv",
               "Crypto.Cipher._mode_ocb", "Crypto.Cipher._mode_openpgp",
               "Crypto.Cipher._mode_kw", "Crypto.Cipher._mode_kwp", "Crypto.Hash.Poly1305",
               "Crypto.Protocol.KDF")


def _is_ours(module: object) -> bool:
    return getattr(module, "__name__", "").startswith("kcapi_cipher")


@contextmanager
def _set_aside() -> Iterator[None]:
    """Remove kcapi's stand-ins (``sys.modules`` entries and package attributes) meanwhile."""
    removed: list[tuple[str, ModuleType | None, ModuleType | None]] = []
    for name in REPLACEABLE:
        package_name, _, attr = name.rpartition(".")
        package = sys.modules.get(package_name)
        entry = sys.modules.get(name)
        attribute = getattr(package, attr, None) if package is not None else None
        entry_ours, attribute_ours = _is_ours(entry), _is_ours(attribute)
        if entry_ours:
            del sys.modules[name]
        if attribute_ours:
            delattr(package, attr)
        if entry_ours or attribute_ours:
            removed.append((name, entry if entry_ours else None,
                            attribute if attribute_ours else None))
    try:
        yield
    finally:
        for name, entry, attribute in removed:
            package_name, _, attr = name.rpartition(".")
            if entry is not None:
                sys.modules[name] = entry
            if attribute is not None:
                setattr(sys.modules[package_name], attr, attribute)


def _load() -> dict[str, ModuleType]:
    with _set_aside():
        found = {name: importlib.import_module(name) for name in REPLACEABLE}
        for name in _DEPENDENTS:
            importlib.import_module(name)
    return found


_MODULES = _load()

AES: ModuleType = _MODULES["Crypto.Cipher.AES"]
DES3: ModuleType = _MODULES["Crypto.Cipher.DES3"]
ChaCha20: ModuleType = _MODULES["Crypto.Cipher.ChaCha20"]
ChaCha20_Poly1305: ModuleType = _MODULES["Crypto.Cipher.ChaCha20_Poly1305"]
CMAC: ModuleType = _MODULES["Crypto.Hash.CMAC"]
Random: ModuleType = _MODULES["Crypto.Random"]
#: ``Crypto.Random.new`` as PyCryptodome defines it (a shim may replace the package's attribute).
random_new: Any = Random.new


def module_attribute(reference: ModuleType, ours: str, name: str) -> Any:
    """An attribute PyCryptodome's module has and ours does not (``AES._raw_aes_hw``, say).

    Raises:
        AttributeError: PyCryptodome's module lacks it too (named as our module).
    """
    try:
        return getattr(reference, name)
    except AttributeError:
        raise AttributeError(f"module {ours!r} has no attribute {name!r}") from None


class _Factory:
    """PyCryptodome's factory module for one block cipher, whatever ``sys.modules`` says.

    ``Crypto.Cipher.AES.new`` (and ``DES3.new``) hand ``sys.modules[__name__]``
    to the mode constructors as the factory, and several modes (OpenPGP, EAX,
    GCM, CCM, SIV, CMAC) build their inner ciphers with ``factory.new``: with
    kcapi's module standing in that place, PyCryptodome would build on kcapi's
    module.  While PyCryptodome's module is in its place, ``new`` is its own
    function; otherwise the mode constructor gets this object as the factory
    (its attributes are the module's, its ``new`` this one), with the one keyword
    ``AES.new`` adds (``add_aes_modes``, which enables the modes only AES has).
    """

    def __init__(self, module: ModuleType, aes: bool):
        self.module = module
        self._aes = aes

    def __getattr__(self, name: str) -> Any:
        return getattr(self.module, name)

    def new(self, key: Any, mode: Any, *args: Any, **kwargs: Any) -> Any:
        if sys.modules.get(self.module.__name__) is self.module:
            return self.module.new(key, mode, *args, **kwargs)
        if self._aes:
            kwargs["add_aes_modes"] = True
        return _create_cipher(self, key, mode, *args, **kwargs)


_FACTORIES = {"aes": _Factory(AES, True), "des3": _Factory(DES3, False)}


def block_cipher(algorithm: str) -> Any:
    """PyCryptodome's factory for ``algorithm`` ('aes', 'des3'): ``new()`` and its constants."""
    return _FACTORIES[algorithm]
