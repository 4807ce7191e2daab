"""Cache keys for secret keys: a per-process keyed digest, so no cache holds key bytes."""

from __future__ import annotations

import hashlib
import os

_secret = b""  # drawn on first use, not at import


def key_tag(key: bytes) -> bytes:
    """A keyed digest of ``key`` under a secret of this process (BLAKE2b, 64 bytes)."""
    global _secret
    if not _secret:
        _secret = os.urandom(32)
    return hashlib.blake2b(key, key=_secret).digest()
