"""Behaviour that differs between kernels, checked on whichever kernel runs the tests.

Linux 6.8 removed the cfb and ofb templates: where the running kernel has
them, AES-CFB/OFB objects are kernel-served; where it lacks them, ``auto``
serves them from PyCryptodome and says why; either way the results are
PyCryptodome's.  The gate is a probe of the template, never a version.
"""

from __future__ import annotations

import os

import pytest
from Crypto.Cipher import AES as RefAES

import kcapi_cipher
from _kcapi import policy, restriction
from kcapi_cipher import AES

from ..support import kernel_refusal, require_kernel_alg

pytestmark = pytest.mark.kernel

CASES = [
    ("cfb(aes)", AES.MODE_CFB, {"segment_size": 128}),
    ("ofb(aes)", AES.MODE_OFB, {}),
]


@pytest.mark.parametrize("kernel_name,mode,kwargs", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("key_size", [16, 24, 32])
def test_cfb_ofb_served_by_the_kernel_or_the_fallback_alike(kernel_name, mode, kwargs, key_size):
    require_kernel_alg("skcipher", "cbc(aes)")  # AF_ALG works here
    kcapi_cipher.set_backend("auto")
    key, iv = os.urandom(key_size), os.urandom(16)
    data = os.urandom(1000)
    ours = AES.new(key, mode, iv=iv, **kwargs)
    info = kcapi_cipher.backend_info(ours)
    refused = kernel_refusal("skcipher", kernel_name)
    if refused is None:
        assert info.backend == "kernel" and info.algorithm == kernel_name
    else:
        assert refused.reason == expected_reason(kernel_name)
        assert info.backend == "software" and info.reason.startswith(refused.reason), info
    ref = RefAES.new(key, mode, iv=iv, **kwargs)
    pieces = [data[:1], data[1:17], data[17:500], data[500:]]
    assert b"".join(ours.encrypt(p) for p in pieces) == b"".join(ref.encrypt(p) for p in pieces)
    back = AES.new(key, mode, iv=iv, **kwargs)
    assert back.decrypt(RefAES.new(key, mode, iv=iv, **kwargs).encrypt(data)) == data


def expected_reason(kernel_name: str) -> str:
    """'missing', or 'restricted' where af_alg_restrict keeps this process from binding it
    (checked before the kernel looks the name up: a missing name off the list reads so too).
    Where /dev/crypto may serve (interface auto or cryptodev) and is there, its answer comes
    first: it says whether the kernel has the algorithm at all."""
    if policy.get_interface() != policy.AF_ALG_INTERFACE:
        with policy.use_interface(policy.CRYPTODEV_INTERFACE):
            door = kernel_refusal("skcipher", kernel_name)
        if door is not None and door.reason == "missing":
            return "missing"
    return "restricted" if restriction.explain_bind("skcipher", kernel_name) else "missing"


@pytest.mark.parametrize("kernel_name,mode,kwargs", CASES, ids=[c[0] for c in CASES])
def test_kernel_policy_names_the_missing_template(kernel_name, mode, kwargs):
    require_kernel_alg("skcipher", "cbc(aes)")
    kcapi_cipher.set_backend("kernel")
    refused = kernel_refusal("skcipher", kernel_name)
    if refused is None:
        obj = AES.new(os.urandom(16), mode, iv=os.urandom(16), **kwargs)
        assert kcapi_cipher.backend_info(obj).backend == "kernel"
    else:
        with pytest.raises(kcapi_cipher.KernelUnavailableError) as caught:
            AES.new(os.urandom(16), mode, iv=os.urandom(16), **kwargs)
        assert caught.value.reason == expected_reason(kernel_name)
        assert kernel_name in str(caught.value)
