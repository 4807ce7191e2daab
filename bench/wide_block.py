"""Speed of the wide-block modes: 4 KiB data units (a sector each) per second, by who serves.

``python -m bench.wide_block`` (inside a kernel with AF_ALG, e.g. through
``scripts/uml_run.py``): HCTR2 served by the kernel's ``hctr2(aes)`` and by the
software fallback (:class:`kcapi_cipher._hctr2.Hctr2`), with AES-XTS (the
kernel's ``xts(aes)`` and PyCryptodome's) and Adiantum from the kernel for
comparison.  Each unit is a new object (``AES.new(key, mode, tweak=...)``), as
PyCryptodome's XTS takes one data unit per object.  Rows the kernel cannot serve
here are printed with the reason.  Wall-clock figures on a shared machine:
compare rows of one run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from _kcapi.errors import KernelUnavailableError
from kcapi_cipher import AES, backend_info, set_backend

UNIT = 4096
MIN_TIME = 1.0


def rate(encrypt: Callable[[bytes], bytes]) -> float:
    """MB/s of ``encrypt`` on 4 KiB units, over at least :data:`MIN_TIME` seconds."""
    data = os.urandom(UNIT)
    encrypt(data)
    count, start = 0, time.perf_counter()
    while True:
        for _ in range(16):
            encrypt(data)
        count += 16
        elapsed = time.perf_counter() - start
        if elapsed >= MIN_TIME:
            return count * UNIT / elapsed / 1e6


def main() -> None:
    rows = [("AES-128-HCTR2", "kernel", AES.MODE_HCTR2, bytes(16), {}),
            ("AES-128-HCTR2", "software", AES.MODE_HCTR2, bytes(16), {}),
            ("AES-256-HCTR2", "software", AES.MODE_HCTR2, bytes(32), {}),
            ("AES-128-XTS", "kernel", AES.MODE_XTS, bytes(range(32)), {}),
            ("AES-128-XTS", "software", AES.MODE_XTS, bytes(range(32)), {}),
            ("Adiantum-XChaCha12", "kernel", AES.MODE_ADIANTUM, bytes(32), {}),
            ("Adiantum-XChaCha20", "kernel", AES.MODE_ADIANTUM, bytes(32), {"rounds": 20})]
    print(f"{'mode':20} {'served by':40} {'MB/s':>8}  (4 KiB units, {os.uname().release})")
    for label, who, mode, key, extra in rows:
        set_backend(who)
        tweak = bytes(16 if mode == AES.MODE_XTS else 32)
        try:
            cipher = AES.new(key, mode, tweak=tweak, **extra)
        except KernelUnavailableError as exc:
            print(f"{label:20} {who:40} {'-':>8}  ({exc.reason})")
            continue
        info = backend_info(cipher)
        speed = rate(lambda data: AES.new(key, mode, tweak=tweak, **extra).encrypt(data))
        print(f"{label:20} {info.backend + ': ' + info.driver:40} {speed:8.1f}")


if __name__ == "__main__":
    main()
