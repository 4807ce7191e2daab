"""Electronic Code Book (ECB) mode, served by the kernel's ``ecb(<cipher>)``."""

from __future__ import annotations

from typing import Any

from _kcapi.names import skcipher_name
from _kcapi.skcipher import KernelSkcipher, no_iv

from . import _params, _routing
from ._kernel_mode import KernelCipher

__all__ = ["EcbMode", "create"]

MODE = 1


class EcbMode(KernelCipher):
    """*Electronic Code Book (ECB)*, as ``Crypto.Cipher._mode_ecb.EcbMode``.

    Each block is encrypted on its own (NIST SP 800-38A, 6.1); ``encrypt`` and
    ``decrypt`` may be mixed, and data must be a whole number of blocks (as
    in PyCryptodome, the whole blocks of a longer input are still processed,
    and written to ``output``, before the ValueError).
    """

    __slots__ = ()

    _KIND = "ecb"

    _ORDERED = False

    def __init__(self, engine: KernelSkcipher, block_size: int):
        self._init_base(engine, block_size)

    def _process(self, src: memoryview, dst: memoryview, encrypt: bool) -> None:
        # As PyCryptodome: the whole blocks are processed (and written) before the error.
        full = src.nbytes - src.nbytes % self.block_size
        if full:
            self._engine.crypt(encrypt, b"", [(src[:full], dst[:full])], no_iv)
        if full != src.nbytes:
            raise ValueError("Data must be aligned to block boundary in ECB mode")


def create(algorithm: str, key: Any, *args: Any, **kwargs: Any) -> Any:
    """Create an ECB cipher object, as ``<cipher>.new(key, MODE_ECB, *args, **kwargs)``.

    Args:
        algorithm: ``'aes'`` or ``'des3'``.
        key: the cipher key, or a :class:`~_kcapi.keyring.KeyringKey` (kernel only).
        *args: none (PyCryptodome's TypeError otherwise).
        **kwargs: ``use_aesni`` (AES, ignored).

    Returns:
        An :class:`EcbMode` served by the kernel, or PyCryptodome's object where
        the backend policy lets software serve.

    Raises:
        TypeError, ValueError: PyCryptodome's errors for bad arguments.
        KernelUnavailableError: under the ``kernel`` policy, when the kernel cannot serve.
    """
    name = skcipher_name("ecb", algorithm)
    key, keyring = _routing.keyring_split(key, algorithm)

    def make() -> Any:
        return _routing.reference(algorithm).new(key, MODE, *args, **kwargs)

    # The arguments as the kernel path reads them (make() keeps the caller's own).
    used_key, used_args, used_kwargs = _routing.normalized(make, algorithm, key, args, kwargs)

    params = _params.with_positional(MODE, used_args, used_kwargs)
    raw = _params.cipher_key(algorithm, used_key, params) if params is not None else None
    if raw is None or params:
        return _routing.outside(make, f"{algorithm.upper()} MODE_ECB", name,
                                "arguments outside what the kernel path takes", keyring)
    tfm = _routing.kernel_transform(name, keyring or _params.kernel_key(algorithm, raw))
    if tfm is None:
        return _routing.software(make, name)
    size = _params.block_size(algorithm)
    return EcbMode(KernelSkcipher(tfm, size, 0), size)
