"""What one call does -- its result or its exception -- compared between kcapi_hashlib and hashlib.

Under the ``kernel`` policy a call hashlib accepts for an algorithm this kernel
cannot serve must raise ``KernelUnavailableError``; every other outcome must be
hashlib's: the same exception type and message, or an equal result.  In the
kernel run (``KCAPI_REQUIRE_KERNEL=1``) results of the ``kernel`` policy must
also come from the kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kcapi_hashlib
from _kcapi.names import hash_spec, hmac_kernel_name

from tests.support import REQUIRE_KERNEL, kernel_refusal

POLICIES = ["auto", "kernel", "software"]


@dataclass(frozen=True)
class Raised:
    """A call that raised."""

    kind: type
    message: str


@dataclass(frozen=True)
class Returned:
    """A call that returned ``value``."""

    value: Any


def outcome(call: Callable[[], Any]) -> Raised | Returned:
    """Run ``call``; its exception (type and text) or its result."""
    try:
        return Returned(call())
    except Exception as exc:  # noqa: BLE001 - every exception is an outcome to compare
        return Raised(type(exc), str(exc))


def describe(obj: Any) -> tuple[Any, ...]:
    """What a hash object shows: name, sizes, digest (64 bytes of a XOF)."""
    try:
        digest = obj.hexdigest()
    except TypeError:  # a XOF: the length is required
        digest = obj.hexdigest(64)
    return (obj.name, obj.digest_size, obj.block_size, digest)


def kernel_serves(name: str, hmac: bool = False) -> bool:
    """Whether this kernel serves the hash hashlib calls ``name``, or its HMAC (probe, cached).

    The two differ under ``af_alg_restrict=1``: an unprivileged process may bind
    ``sha1`` but not ``hmac(sha1)``.
    """
    spec = hash_spec(name)
    if not (spec and spec.kernel):
        return False
    return kernel_refusal("hash", hmac_kernel_name(spec) if hmac else spec.kernel) is None


def kernel_for(name: Any, kwargs: dict[str, Any] | None = None) -> bool:
    """Whether the kernel serves hashlib's ``name`` with these keyword arguments here."""
    if name == "blake2b":
        tree = {"salt": b"", "person": b"", "fanout": 1, "depth": 1, "leaf_size": 0,
                "node_offset": 0, "node_depth": 0, "inner_size": 0, "last_node": False}
        kwargs = kwargs or {}
        return (all(kwargs.get(k, v) == v for k, v in tree.items())
                and kwargs.get("digest_size", 64) in (20, 32, 48, 64)
                and kernel_serves("blake2b"))
    return isinstance(name, str) and kernel_serves(name)


def assert_same(ours: Callable[[], Any], ref: Callable[[], Any], *, kernel: bool,
                show: Callable[[Any], Any] = describe,
                hash_made_first: bool = False) -> Raised | Returned:
    """``ours()`` does what ``ref()`` does, under the policy in force.

    Args:
        kernel: whether the kernel can serve this call's algorithm here.
        show: what of a result must be equal.
        hash_made_first: the call makes its hash object before anything else
            can fail (``file_digest``): under the ``kernel`` policy, when the
            kernel cannot serve, that refusal comes first.

    Returns:
        ``ours()``'s outcome.
    """
    expected = outcome(ref)
    got = outcome(ours)
    policy = kcapi_hashlib.get_backend()
    refused = policy == "kernel" and not kernel
    if refused and hash_made_first and isinstance(got, Raised) and \
            got.kind is kcapi_hashlib.KernelUnavailableError:
        return got
    if isinstance(expected, Raised):
        assert got == expected, f"hashlib raised {expected}, kcapi_hashlib: {got}"
    elif refused:
        assert isinstance(got, Raised) and got.kind is kcapi_hashlib.KernelUnavailableError, got
    else:
        assert isinstance(got, Returned), f"hashlib returned, kcapi_hashlib raised {got}"
        assert show(got.value) == show(expected.value)
        served = _served_by(got.value)
        if policy == "software":
            assert served in ("software", None)
        elif policy == "kernel" and REQUIRE_KERNEL:
            assert served in ("kernel", None)
    return got


def _served_by(value: Any) -> str | None:
    if not hasattr(value, "digest"):
        return None
    return kcapi_hashlib.backend_info(value).backend
