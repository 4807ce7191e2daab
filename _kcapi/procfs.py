"""Parsing ``/proc/crypto``: which driver serves an algorithm name.

The parser is a pure function of the file's text, so it is tested without a kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

PROC_CRYPTO = "/proc/crypto"

# /proc/crypto "type" values that serve each AF_ALG socket type.
_TYPES = {
    "hash": {"shash", "ahash"},
    "skcipher": {"skcipher", "lskcipher", "ablkcipher", "blkcipher", "givcipher"},
    "aead": {"aead", "nivaead"},
    "rng": {"rng"},
}


@dataclass(frozen=True)
class Driver:
    """One ``/proc/crypto`` entry: an implementation of an algorithm."""

    name: str
    driver: str
    module: str
    priority: int
    type: str
    selftest: str = "passed"
    internal: bool = False
    is_async: bool = False

    @property
    def implementation(self) -> str:
        """``'generic'`` (portable C), ``'arch'`` (CPU-optimised) or ``'offload'`` (async engine)."""
        if self.is_async:
            return "offload"
        if self.driver.endswith("-generic") or self.driver.startswith(("drbg_", "jitterentropy")):
            return "generic"
        # Templates name their inner driver: hmac(sha256-generic).
        inner = self.driver.rpartition("(")[2].rstrip(")")
        if inner != self.driver and inner.endswith("-generic"):
            return "generic"
        return "arch"


def parse(text: str) -> list[Driver]:
    """Parse the text of ``/proc/crypto`` into :class:`Driver` entries.

    Args:
        text: the file's contents (blank-line separated ``key : value`` blocks).

    Returns:
        One :class:`Driver` per block that names a driver; unknown keys are ignored.
    """
    drivers = []
    for block in text.split("\n\n"):
        fields = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip()] = value.strip()
        if "name" not in fields or "driver" not in fields:
            continue
        try:
            priority = int(fields.get("priority", "0"))
        except ValueError:
            priority = 0
        drivers.append(Driver(
            name=fields["name"], driver=fields["driver"], module=fields.get("module", ""),
            priority=priority, type=fields.get("type", ""),
            selftest=fields.get("selftest", "passed"),
            internal=fields.get("internal", "no") == "yes",
            is_async=fields.get("async", "no") == "yes",
        ))
    return drivers


def best_driver(drivers: list[Driver], kind: str, name: str) -> Driver | None:
    """The driver the kernel picks for ``name``: highest priority, tested, not internal.

    ``name`` may be an algorithm name (``sha256``) or a driver name (``sha256-generic``).
    """
    types = _TYPES.get(kind, set())
    candidates = [d for d in drivers
                  if (d.name == name or d.driver == name) and not d.internal
                  and d.selftest == "passed" and (not types or d.type in types)]
    return max(candidates, key=lambda d: d.priority, default=None)


def read() -> list[Driver]:
    """Read and parse ``/proc/crypto`` (an empty list where it cannot be read)."""
    try:
        with open(PROC_CRYPTO, encoding="ascii", errors="replace") as f:
            return parse(f.read())
    except OSError:
        return []
