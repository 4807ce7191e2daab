"""``copy.copy``, ``copy.deepcopy`` and ``pickle`` of kernel-served objects, as PyCryptodome answers.

PyCryptodome's cipher and MAC objects have no copy or pickle support of their
own: ``copy.copy`` makes a second Python object by default object copying,
while ``copy.deepcopy`` and ``pickle`` fail with a ``TypeError`` naming the
first attribute that cannot be pickled (a cffi pointer, or a module).  A
kernel-served object answers the same way:

* ``copy.copy(obj)`` gives an independent object in the same state (its
  kernel state cloned): unlike PyCryptodome's shallow copy, the two never
  share a stream, so neither can corrupt the other;
* ``copy.deepcopy(obj)`` and ``pickle.dumps(obj)`` raise PyCryptodome's
  ``TypeError`` for that kind of object, with its message -- found by asking
  PyCryptodome once per kind, so it is the message of the installed version.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

from . import _reference as ref

_KEY = bytes(range(1, 33))
_IV = bytes(16)

#: A PyCryptodome object of each kind kcapi serves, for its refusal message.
_MAKERS: dict[str, Callable[[], Any]] = {
    "ecb": lambda: ref.block_cipher("aes").new(_KEY[:16], ref.AES.MODE_ECB),
    "cbc": lambda: ref.block_cipher("aes").new(_KEY[:16], ref.AES.MODE_CBC, iv=_IV),
    "cfb": lambda: ref.block_cipher("aes").new(_KEY[:16], ref.AES.MODE_CFB, iv=_IV, segment_size=128),
    "ofb": lambda: ref.block_cipher("aes").new(_KEY[:16], ref.AES.MODE_OFB, iv=_IV),
    "ctr": lambda: ref.block_cipher("aes").new(_KEY[:16], ref.AES.MODE_CTR, nonce=_IV[:8]),
    "gcm": lambda: ref.block_cipher("aes").new(_KEY[:16], ref.AES.MODE_GCM, nonce=_IV[:12]),
    "ccm": lambda: ref.block_cipher("aes").new(_KEY[:16], ref.AES.MODE_CCM, nonce=_IV[:11]),
    "xts": lambda: ref.block_cipher("aes").new(_KEY, ref.AES.MODE_XTS, tweak=_IV),
    "chacha20": lambda: ref.ChaCha20.new(key=_KEY, nonce=_IV[:12]),
    "chacha20_poly1305": lambda: ref.ChaCha20_Poly1305.new(key=_KEY, nonce=_IV[:12]),
    "cmac": lambda: ref.CMAC.new(_KEY[:16], ciphermod=ref.block_cipher("aes")),
}

_messages: dict[tuple[str, str], str] = {}


def _message(kind: str, how: str, obj: Any) -> str:
    """PyCryptodome's message when ``how`` ('deepcopy', 'pickle') meets an object of ``kind``.

    A kind PyCryptodome does not have (HCTR2, Adiantum) gets the message Python
    gives an object that cannot be pickled.
    """
    if kind not in _MAKERS:
        return f"cannot pickle {type(obj).__name__!r} object"
    found = _messages.get((kind, how))
    if found is None:
        obj = _MAKERS[kind]()
        try:
            if how == "deepcopy":
                copy.deepcopy(obj)
            else:
                pickle.dumps(obj)
        except TypeError as exc:
            found = str(exc)
        else:  # a PyCryptodome that can: a kernel object still cannot carry its state
            found = f"cannot {how} a kernel-served {kind} object"
        _messages[(kind, how)] = found
    return found


def deepcopy_refusal(kind: str, obj: Any) -> TypeError:
    """The ``TypeError`` of ``copy.deepcopy`` for ``obj``, an object of ``kind``."""
    return TypeError(_message(kind, "deepcopy", obj))


def pickle_refusal(kind: str, obj: Any) -> TypeError:
    """The ``TypeError`` of ``pickle.dumps`` for ``obj``, an object of ``kind``."""
    return TypeError(_message(kind, "pickle", obj))


class Uncopyable:
    """Mixin: deepcopy and pickle refused as PyCryptodome refuses them (``_KIND`` names the kind).

    The class defines ``__copy__`` itself (an independent clone).
    """

    __slots__ = ()
    _KIND = ""

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        raise deepcopy_refusal(self._KIND, self)

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise pickle_refusal(self._KIND, self)

    def __reduce__(self) -> Any:
        raise pickle_refusal(self._KIND, self)
