"""Cipher objects under a low descriptor limit (64 numbers above those open at the start).

Checked against PyCryptodome, in the kernel run (``kernel_cbc_and_gcm``: tests/cipher/conftest.py).
"""

from __future__ import annotations

import errno
import gc
import os
import resource
from typing import Any

import pytest
from Crypto.Cipher import AES as RefAES
from Crypto.Cipher import ChaCha20 as RefChaCha20

import kcapi_cipher
from _kcapi import transform
from kcapi_cipher import AES, ChaCha20

from ..cipher_support import IV, KEY, KEY32, N12
from ..support import fds_in_use, nofile_with_room

# AF_ALG's own mechanisms (see tests/conftest.py af_alg_only): AF_ALG whatever the interface.
pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("af_alg_only", "kernel_cbc_and_gcm")]



@pytest.fixture
def nofile_64():
    """RLIMIT_NOFILE lowered to 64 numbers above those open, from a clean start (the
    earlier tests' cached transforms and pooled op sockets closed); yields the limit."""
    transform.clear()
    gc.collect()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = nofile_with_room(64)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    yield limit
    gc.collect()
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_many_live_cipher_objects_under_64_descriptors(nofile_64):
    before = fds_in_use()
    # One key: every object shares one bound socket and holds no descriptor of its own.
    kept = [AES.new(KEY, AES.MODE_CBC, IV) for _ in range(10_000)]
    kept += [AES.new(KEY, AES.MODE_CTR, nonce=IV[:8]) for _ in range(2_000)]
    kept += [AES.new(KEY, AES.MODE_GCM, nonce=N12) for _ in range(2_000)]
    kept += [ChaCha20.new(key=KEY32, nonce=N12) for _ in range(2_000)]
    for n in (0, 4321, 9999):
        block = b"%016d" % n
        assert kept[n].encrypt(block) == RefAES.new(KEY, AES.MODE_CBC, IV).encrypt(block)
    assert kept[11_000].encrypt(b"ctr") == \
        RefAES.new(KEY, AES.MODE_CTR, nonce=IV[:8]).encrypt(b"ctr")
    assert kept[13_000].encrypt_and_digest(b"g") == \
        RefAES.new(KEY, AES.MODE_GCM, nonce=N12).encrypt_and_digest(b"g")
    assert kept[15_000].encrypt(b"c") == RefChaCha20.new(key=KEY32, nonce=N12).encrypt(b"c")
    # Distinct keys: one bound socket per key, kept alive by its objects, until EMFILE.
    keyed: list[tuple[bytes, Any]] = []
    with pytest.raises(OSError) as caught:
        for _ in range(200):
            key = os.urandom(16)
            keyed.append((key, AES.new(key, AES.MODE_CBC, IV)))
    assert type(caught.value) is OSError and caught.value.errno == errno.EMFILE
    assert f"RLIMIT_NOFILE={nofile_64}" in str(caught.value) and "distinct key" in str(caught.value)
    # An existing object needs an op socket for a call: none left, and it is unchanged.
    last_key, last = keyed[-1]
    with pytest.raises(OSError) as caught:
        last.encrypt(IV)
    assert caught.value.errno == errno.EMFILE and "unchanged" in str(caught.value)
    # Free descriptors (drop objects and the cache): the refusal was not remembered.
    del keyed[:-3]
    transform.clear()
    gc.collect()
    assert last.encrypt(IV) == RefAES.new(last_key, AES.MODE_CBC, IV).encrypt(IV)
    for key, cipher in keyed[:-1]:
        assert cipher.encrypt(IV) == RefAES.new(key, AES.MODE_CBC, IV).encrypt(IV)
    key = os.urandom(16)
    more = AES.new(key, AES.MODE_CBC, IV)
    assert kcapi_cipher.backend_info(more).backend == "kernel"
    assert more.encrypt(IV) == RefAES.new(key, AES.MODE_CBC, IV).encrypt(IV)
    del kept, keyed, more, last, cipher, caught  # (a traceback holds its frames' objects)
    transform.clear()
    gc.collect()
    assert fds_in_use() <= before  # released on drop: nothing but the caches remain


@pytest.mark.parametrize("policy", ["kernel", "auto"])
def test_running_out_of_descriptors_at_a_first_probe_is_not_a_refusal(nofile_64, policy):
    """EMFILE says nothing about the algorithm: it is raised, never cached as 'refused'."""
    kcapi_cipher.set_backend(policy)
    transform.clear()
    gc.collect()
    fillers = []
    try:
        while True:
            fillers.append(os.open(os.devnull, os.O_RDONLY))
    except OSError as exc:
        assert exc.errno == errno.EMFILE
    try:
        with pytest.raises(OSError) as caught:
            AES.new(KEY, AES.MODE_CBC, IV)
        assert type(caught.value) is OSError and caught.value.errno == errno.EMFILE
    finally:
        for fd in fillers:
            os.close(fd)
    cipher = AES.new(KEY, AES.MODE_CBC, IV)
    assert kcapi_cipher.backend_info(cipher).backend == "kernel"
    assert cipher.encrypt(IV) == RefAES.new(KEY, AES.MODE_CBC, IV).encrypt(IV)
