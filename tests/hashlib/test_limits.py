"""hashlib objects at the limits: a low descriptor limit, descriptors given back when the
process runs out, a message over 4 GiB.

The kernel-marked tests need AF_ALG (they skip on a host without it and must
pass in the kernel run; fixture ``kernel`` of tests/hashlib/conftest.py); the others run everywhere.
"""

from __future__ import annotations

import errno
import gc
import hashlib
import hmac as std_hmac
import os
import resource

import pytest

import kcapi_hashlib
from _kcapi import transform
from _kcapi.af_alg.tfm import live_transforms
from _kcapi.hash import HOLD_LIMIT
from kcapi_hashlib import hmac

from ..support import nofile_with_room

# AF_ALG's own mechanisms (see tests/conftest.py af_alg_only): AF_ALG whatever the interface.
pytestmark = pytest.mark.usefixtures("af_alg_only")

BIG = HOLD_LIMIT + 1
@pytest.mark.kernel
def test_low_descriptor_limit(kernel):
    transform.clear()  # from a clean start: no earlier test's cached descriptors
    gc.collect()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = nofile_with_room()
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        small = [kcapi_hashlib.sha256(b"%d" % i) for i in range(10_000)]  # no descriptor each
        assert small[1234].digest() == hashlib.sha256(b"1234").digest()
        big = []
        with pytest.raises(OSError) as caught:
            for i in range(200):
                h = kcapi_hashlib.sha256(b"%d" % i)
                h.update(b"z" * BIG)  # each of these needs a socket of its own
                big.append(h)
        assert caught.value.errno == errno.EMFILE
        assert f"RLIMIT_NOFILE={limit}" in str(caught.value) and "unchanged" in str(caught.value)
        raised_at = len(big)
        assert raised_at > 20  # nothing but the live objects held the descriptors
        # the object that raised is unchanged and usable once descriptors are free
        del big[:10]
        gc.collect()
        h.update(b"z" * BIG)
        assert h.digest() == hashlib.sha256(b"%d" % raised_at + b"z" * BIG).digest()
        for i, obj in enumerate(big):
            assert obj.digest() == hashlib.sha256(b"%d" % (i + 10) + b"z" * BIG).digest()
    finally:
        del small
        big = None
        gc.collect()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.kernel
def test_cached_descriptors_are_given_back_when_the_process_runs_out(kernel):
    """The caches (bound keyed sockets, idle op sockets) exist to save syscalls:
    when the process is out of descriptors they close theirs before anything fails."""
    transform.clear()
    gc.collect()
    limit = nofile_with_room()
    keys = [b"key %d" % n for n in range(20)]
    for key in keys:  # 20 cached keyed transforms, each with an idle op socket
        assert hmac.new(key, b"m", "sha256").digest() == std_hmac.new(key, b"m", "sha256").digest()
    assert sum(t.idle_count() for t in live_transforms()) >= 20
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    fillers = []
    try:
        while True:  # every descriptor left is taken: only the caches' can be had
            fillers.append(os.open(os.devnull, os.O_RDONLY))
    except OSError as exc:
        assert exc.errno == errno.EMFILE
    try:
        h = kcapi_hashlib.sha256(b"x" * BIG)  # needs a socket of its own
        held = hmac.new(keys[0], b"y" * BIG, "sha256")  # and a bound socket for a dropped key
        assert h.digest() == hashlib.sha256(b"x" * BIG).digest()
        assert held.digest() == std_hmac.new(keys[0], b"y" * BIG, "sha256").digest()
        assert kcapi_hashlib.backend_info(h).backend == "kernel"
        assert len(transform.keyed()) <= 2  # the unused keyed transforms were closed
    finally:
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    for key in keys:  # and are bound again on next use
        assert hmac.new(key, b"n", "sha256").digest() == std_hmac.new(key, b"n", "sha256").digest()




# -- sizes past 32 bits ----------------------------------------------------

def running_in_user_mode_linux() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return "User Mode Linux" in f.read()
    except OSError:
        return False


@pytest.mark.parametrize("path", ["current policy", "kernel logic, emulated"])
def test_a_message_over_4_gib(request, path):
    # A memoryview over an anonymous mapping: no 4 GiB of RAM is touched.
    import mmap

    if running_in_user_mode_linux():
        pytest.skip("User-Mode Linux maps each page of a guest buffer as a host mapping: "
                    "4 GiB exceed the host's vm.max_map_count (the emulated case covers it)")
    if path == "kernel logic, emulated":
        fake = request.getfixturevalue("emulated_kernel")
        kcapi_hashlib.set_backend("kernel")
    size = (4 << 30) + 3
    # MAP_NORESERVE (0x4000 on Linux; Python 3.11 does not name it): more than the RAM here.
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_NORESERVE", 0x4000)
    with mmap.mmap(-1, size, flags=flags) as area:
        area[-3:] = b"end"
        view = memoryview(area)
        try:
            ours = kcapi_hashlib.sha256(view)
            copy = ours.copy()
            ref = hashlib.sha256(view)
            ref_copy = ref.copy()
            assert ours.digest() == ref.digest()
            copy.update(b"!")
            ref_copy.update(b"!")
            assert copy.hexdigest() == ref_copy.hexdigest()
        finally:
            view.release()
    if path == "kernel logic, emulated":
        assert kcapi_hashlib.backend_info(ours).backend == "kernel"
        assert max(fake.sent_sizes) <= 1 << 20 and sum(fake.sent_sizes) >= size
