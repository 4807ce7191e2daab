"""Every kind of argument at every entry point of every mode, differential against PyCryptodome.

The grid (see :mod:`compat_tests.grid`): bytes, bytearray, memoryviews of
every shape (cast to 'b', 'H' and 'I', two-dimensional, strided, read-only),
arrays, an object with ``__buffer__``, ``str``, ``list``, ``None`` and ``int``,
passed as the data of ``encrypt``/``decrypt``/``update``, as ``output=``, as the
tag of ``verify``/``decrypt_and_verify``, as CMAC's first message, and as
keys, IVs and nonces of ``new()``.  Each scenario continues after the call
under test, so the state an exception leaves behind is compared too.

Accepted (PyCryptodome returns): ours returns the same; refused: ours raises
the same exception type with the same message.  The one deliberate
difference: when ``decrypt_and_verify(..., output=buf)`` fails the tag check,
PyCryptodome has already written the plaintext into ``buf`` and a
kernel-served object has not (it zeroes ``buf``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import kcapi_cipher
from _kcapi import policy
from kcapi_cipher import AES, CMAC, DES3, ChaCha20, ChaCha20_Poly1305

from compat_tests import grid
from compat_tests.grid import (K16, K32, KINDS, OUTPUT_KINDS, TDES, Construction, arg,
                               outcome, reference_tag, run_steps)
from tests.support import REQUIRE_KERNEL, optional_kernel_alg

import Crypto.Cipher.AES as RefAES
import Crypto.Cipher.ChaCha20 as RefChaCha20
import Crypto.Cipher.ChaCha20_Poly1305 as RefChaChaPoly
import Crypto.Cipher.DES3 as RefDES3
import Crypto.Hash.CMAC as RefCMAC

CONSTRUCTIONS = grid.constructions()
#: Constructions only PyCryptodome serves (run under ``auto``, to check the routing).
SOFTWARE_ONLY = {"aes-cfb8", "des3-cfb8"}
#: Kernel algorithms a construction needs that some kernels lack (cfb and ofb: gone in 6.8).
OPTIONAL = {"aes-cfb": "cfb(aes)", "aes-ofb": "ofb(aes)", "aes-xts": "xts(aes)", "des3-cfb": "cfb(des3_ede)",
            "des3-ofb": "ofb(des3_ede)"}

Step = tuple[str, Callable[[Any, dict[str, Any]], Any]]


def _policy_for(name: str) -> str:
    if name in SOFTWARE_ONLY and policy.get_backend() == policy.KERNEL:
        return policy.AUTO
    return policy.get_backend()


def _served(name: str, obj: Any) -> None:
    """In the kernel run, every construction the kernel has must be the kernel's."""
    if REQUIRE_KERNEL and name not in SOFTWARE_ONLY:
        info = kcapi_cipher.backend_info(obj)
        assert info.backend == "kernel", (name, info)


def _prepare(name: str) -> None:
    if policy.get_backend() == policy.KERNEL and name in OPTIONAL:
        optional_kernel_alg("skcipher", OPTIONAL[name])


def _scenario(c: Construction, steps: list[Step], verify_reference: bool,
              allow_zeroed_output: bool = False) -> list[str]:
    """Run ``steps`` on both objects; returns the differences found (empty: none)."""
    with kcapi_cipher.use_backend(_policy_for(c.name)):
        sides = {}
        objs = {}
        for side, factory in (("ref", c.ref), ("ours", c.ours)):
            made = outcome(factory)
            if made[0] == "raised":
                sides[side] = [("new", made, [])]
                continue
            obj = factory()
            if side == "ours":
                _served(c.name, obj)
            objs[side] = obj
            sides[side] = run_steps(obj, steps, {})
        if verify_reference and "ref" in objs and "ours" in objs:
            tag = reference_tag(objs["ref"])
            if tag is not None:
                for side in ("ref", "ours"):
                    sides[side].append(("verify(reference tag)",
                                        outcome(lambda o=objs[side]: o.verify(tag)), []))
    diffs = []
    ref, ours = sides["ref"], sides["ours"]
    if len(ref) != len(ours):
        return [f"different step counts: ref {ref} ours {ours}"]
    for (label, want, want_args), (_, got, got_args) in zip(ref, ours):
        if want != got:
            diffs.append(f"{label}: PyCryptodome {want!r}, ours {got!r}")
        elif want_args != got_args:
            # An argument that differs may only be an output= buffer ours zeroed.
            zeroed = len(want_args) == len(got_args) and all(
                w == g or (isinstance(g, bytes) and not any(g))
                for w, g in zip(want_args, got_args))
            if not (allow_zeroed_output and want[0] == "raised" and zeroed):
                diffs.append(f"{label}: arguments hold {want_args!r} (PyCryptodome), "
                             f"{got_args!r} (ours)")
    return diffs


def _check(c: Construction, cases: list[tuple[str, list[Step], bool]], **kw: Any) -> None:
    _prepare(c.name)
    report = []
    for label, steps, verify_reference in cases:
        for diff in _scenario(c, steps, verify_reference, **kw):
            report.append(f"[{c.name}] {label}: {diff}")
    assert not report, f"{len(report)} differences:\n" + "\n".join(report[:60])


# -- data-carrying calls ------------------------------------------------------------------


def _sizes(c: Construction) -> list[int]:
    if c.api == "block":
        return [c.block, 2 * c.block, c.block + 4]
    return [4, 16, 20, 32, 36]


def _possible(kinds: list[str], sizes: list[int]) -> Iterator[tuple[int, bytes, str]]:
    """``(size, data, kind)`` for each size and each kind that can hold that many bytes."""
    for size in sizes:
        data = _payload(size)
        for kind in kinds:
            if grid.possible(kind, data):
                yield size, data, kind


def _call(method: str, kind: str, data: bytes) -> Step:
    return (f"{method}({kind}[{len(data)}])",
            lambda o, s: getattr(o, method)(arg(s, kind, data)))


def _into(method: str, kind: str, data: bytes, extra: tuple = ()) -> Step:
    return (f"{method}(bytes[{len(data)}], output={kind})",
            lambda o, s: getattr(o, method)(data, *extra, output=arg(s, kind, bytes(len(data)))))


def _plain(method: str, data: bytes, *extra: Any) -> Step:
    return (f"{method}(bytes[{len(data)}])", lambda o, s: getattr(o, method)(data, *extra))


def _verify_with(method: str, kind: str, tag: bytes) -> Step:
    return (f"{method}({kind} tag)", lambda o, s: getattr(o, method)(arg(s, kind, tag)))


DATA = bytes(range(7, 255))


def _payload(size: int) -> bytes:
    return DATA[:size]


def _skcipher_cases(c: Construction, method: str) -> list[tuple[str, list[Step], bool]]:
    other = "decrypt" if method == "encrypt" else "encrypt"
    cases = []
    for prefix in ([], [_plain(method, _payload(5))] if c.api == "stream" else []):
        for size in _sizes(c):
            data = _payload(size)
            after = [_plain(method, _payload(2 * c.block)), _plain(method, _payload(c.block + 3)
                                                                  if c.api == "stream" else
                                                                  _payload(c.block)),
                     _plain(other, _payload(c.block))]
            for kind in KINDS:
                if grid.possible(kind, data):
                    cases.append((f"{kind}/{size}", prefix + [_call(method, kind, data)] + after,
                                  False))
            for kind in OUTPUT_KINDS:
                if grid.possible(kind, data):
                    cases.append((f"output {kind}/{size}",
                                  prefix + [_into(method, kind, data)] + after, False))
    return cases


SKCIPHERS = [n for n, c in CONSTRUCTIONS.items() if c.api in ("block", "stream")]


@pytest.mark.parametrize("method", ["encrypt", "decrypt"])
@pytest.mark.parametrize("name", SKCIPHERS)
def test_skcipher_data(name, method):
    c = CONSTRUCTIONS[name]
    _check(c, _skcipher_cases(c, method))


AEADS = [n for n, c in CONSTRUCTIONS.items() if c.api == "aead"]
WRONG_TAG = bytes(16)


def _aead_tail(direction: str) -> list[Step]:
    if direction == "encrypt":
        return [_plain("encrypt", _payload(7)), _plain("encrypt", _payload(30)),
                ("digest()", lambda o, s: o.digest())]
    return [_plain("decrypt", _payload(7)), _plain("decrypt", _payload(30)),
            ("verify(wrong)", lambda o, s: o.verify(WRONG_TAG))]


def _aead_cases(c: Construction, entry: str) -> list[tuple[str, list[Step], bool]]:
    cases = []
    prefixes = {"none": [], "aad5": [_plain("update", _payload(5))]}
    for pname, prefix in prefixes.items():
        for size in _sizes(c):
            data = _payload(size)
            for kind in KINDS:
                if not grid.possible(kind, data):
                    continue
                label = f"{pname}/{kind}/{size}"
                if entry == "update":
                    cases.append((label + "/then encrypt", prefix + [_call("update", kind, data),
                                  _plain("update", _payload(3))] + _aead_tail("encrypt"), False))
                    cases.append((label + "/then decrypt", prefix + [_call("update", kind, data)]
                                  + _aead_tail("decrypt"), True))
                elif entry in ("encrypt", "decrypt"):
                    cases.append((label, prefix + [_call(entry, kind, data)]
                                  + _aead_tail(entry), entry == "decrypt"))
                elif entry == "encrypt_and_digest":
                    cases.append((label, prefix + [_call(entry, kind, data),
                                                   ("digest()", lambda o, s: o.digest())], False))
                elif entry == "decrypt_and_verify":
                    cases.append((label, prefix + [(f"decrypt_and_verify({kind}, tag)",
                                  lambda o, s, k=kind, d=data: o.decrypt_and_verify(
                                      arg(s, k, d), WRONG_TAG))], True))
                    if len(data) <= 16:
                        cases.append((label + "/tag", prefix + [
                            (f"decrypt_and_verify(ct, {kind} tag)",
                             lambda o, s, k=kind, d=data: o.decrypt_and_verify(
                                 _payload(9), arg(s, k, d)))], True))
                elif entry in ("verify", "hexverify") and len(data) <= 16:
                    tag = data if entry == "verify" else data.hex().encode()
                    cases.append((label, prefix + [_plain("decrypt", _payload(9)),
                                                   _verify_with(entry, kind, tag)], True))
                    if kind in ("str", "bytes"):
                        cases.append((label + "/encrypting", prefix + [
                            _plain("encrypt", _payload(9)), _verify_with(entry, kind, tag),
                            ("digest()", lambda o, s: o.digest())], False))
            for kind in OUTPUT_KINDS:
                if not grid.possible(kind, data):
                    continue
                label = f"{pname}/output {kind}/{size}"
                if entry in ("encrypt", "decrypt"):
                    cases.append((label, prefix + [_into(entry, kind, data)] + _aead_tail(entry),
                                  entry == "decrypt"))
                elif entry == "encrypt_and_digest":
                    cases.append((label, prefix + [_into(entry, kind, data)], False))
                elif entry == "decrypt_and_verify":
                    cases.append((label, prefix + [_into(entry, kind, data, (WRONG_TAG,))], True))
    return cases


AEAD_ENTRIES = ["update", "encrypt", "decrypt", "encrypt_and_digest", "decrypt_and_verify",
                "verify", "hexverify"]


@pytest.mark.parametrize("entry", AEAD_ENTRIES)
@pytest.mark.parametrize("name", AEADS)
def test_aead_data(name, entry):
    c = CONSTRUCTIONS[name]
    _check(c, _aead_cases(c, entry), allow_zeroed_output=entry == "decrypt_and_verify")


# -- odd input and odd output= together ----------------------------------------------------

#: The input kinds that are buffers (the others are refused before ``output=`` is looked at).
BUFFER_KINDS = [k for k in KINDS if k not in ("bytes", "str", "list", "None", "int")]
#: What each construction's data-carrying calls are, and the steps after them.
_PAIR_ENTRIES = {"block": ["encrypt", "decrypt"], "stream": ["encrypt", "decrypt"],
                 "aead": ["encrypt", "decrypt", "encrypt_and_digest", "decrypt_and_verify"]}


def _both(method: str, kind: str, out_kind: str, data: bytes, extra: tuple = ()) -> Step:
    def call(o: Any, s: dict[str, Any]) -> Any:
        return getattr(o, method)(arg(s, kind, data), *extra,
                                  output=arg(s, out_kind, bytes(len(data))))
    return f"{method}({kind}[{len(data)}], output={out_kind})", call


def _pair_cases(c: Construction, method: str) -> list[tuple[str, list[Step], bool]]:
    """``method(odd input, output=odd buffer)`` for every pair, then calls showing the state.

    Where PyCryptodome counts with ``len()`` (items, not bytes) a kernel-served object must
    count the same way: the lengths it authenticates, the bytes it writes, what it raises.
    """
    decrypting = method.startswith("decrypt")
    if c.api == "aead":
        extra = (WRONG_TAG,) if method == "decrypt_and_verify" else ()
        tail = ([] if method.endswith(("digest", "verify"))
                else _aead_tail("decrypt" if decrypting else "encrypt"))
        if method == "encrypt_and_digest":
            tail = [("digest()", lambda o, s: o.digest())]
    else:
        extra, tail = (), [_plain(method, _payload(c.block))]
    cases = []
    for size in (4, 2 * c.block):
        data = _payload(size)
        for kind in BUFFER_KINDS:
            for out_kind in OUTPUT_KINDS:
                if grid.possible(kind, data) and grid.possible(out_kind, data):
                    cases.append((f"{kind} into {out_kind}/{size}",
                                  [_both(method, kind, out_kind, data, extra)] + tail,
                                  decrypting and c.api == "aead"))
    return cases


@pytest.mark.parametrize("name, method", [(n, m) for n, c in CONSTRUCTIONS.items()
                                          for m in _PAIR_ENTRIES.get(c.api, ())])
def test_input_and_output_kinds_together(name, method):
    c = CONSTRUCTIONS[name]
    _check(c, _pair_cases(c, method), allow_zeroed_output=method == "decrypt_and_verify")


CMACS = [n for n, c in CONSTRUCTIONS.items() if c.api == "cmac"]


def _cmac_tail() -> list[Step]:
    return [_plain("update", _payload(21)), ("digest()", lambda o, s: o.digest()),
            _plain("update", _payload(16)), ("hexdigest()", lambda o, s: o.hexdigest())]


@pytest.mark.parametrize("entry", ["update", "verify", "hexverify"])
@pytest.mark.parametrize("name", CMACS)
def test_cmac_data(name, entry):
    c = CONSTRUCTIONS[name]
    cases = []
    for prefix in ([], [_plain("update", _payload(5))], [_plain("update", _payload(c.block))]):
        for size, data, kind in _possible(KINDS, [4, 8, 12, 16, 20, 32, 36, 48]):
            label = f"{len(prefix)}/{kind}/{size}"
            if entry == "update":
                steps = prefix + [_call("update", kind, data)] + _cmac_tail()
                cases.append((label, steps, False))
                cases.append((label + "/twice", prefix + [_call("update", kind, data),
                              _call("update", kind, data)] + _cmac_tail(), False))
            elif size <= 16:
                tag = data if entry == "verify" else data.hex().encode()
                cases.append((label, prefix + [_verify_with(entry, kind, tag)]
                              + _cmac_tail(), False))
    _check(c, cases)


CMAC_FIRST = {
    "cmac-aes": (lambda m: CMAC.new(K16, m, ciphermod=AES),
                 lambda m: RefCMAC.new(K16, m, ciphermod=RefAES), 16),
    "cmac-des3": (lambda m: CMAC.new(TDES, m, ciphermod=DES3),
                  lambda m: RefCMAC.new(TDES, m, ciphermod=RefDES3), 8),
}


@pytest.mark.parametrize("name", sorted(CMAC_FIRST))
def test_cmac_first_message(name):
    ours, ref, block = CMAC_FIRST[name]
    report = []
    for size, data, kind in _possible(KINDS, [0, 4, 8, 12, 16, 20, 32, 36]):
        c = Construction(name, lambda k=kind: ours(grid.make(k, data)),
                         lambda k=kind: ref(grid.make(k, data)), "cmac", block)
        for diff in _scenario(c, _cmac_tail(), False):
            report.append(f"[{name}] msg={kind}/{size}: {diff}")
    assert not report, "\n".join(report[:60])


# -- arguments of new() ----------------------------------------------------------------------


def _new_cases() -> dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any], list[int]]]:
    """Argument under test -> (ours(x), PyCryptodome's(x), sizes to try)."""
    cases: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any], list[int]]] = {}
    for mode, label, extra in ((1, "ecb", {}), (2, "cbc", {"iv": grid.IV16}),
                               (6, "ctr", {"nonce": grid.IV16[:8]}),
                               (11, "gcm", {"nonce": grid.IV16[:12]}),
                               (8, "ccm", {"nonce": grid.IV16[:11]}),
                               (3, "cfb", {"iv": grid.IV16, "segment_size": 128}),
                               (5, "ofb", {"iv": grid.IV16})):
        cases[f"aes-{label} key"] = (lambda x, m=mode, e=extra: AES.new(x, m, **e),
                                     lambda x, m=mode, e=extra: RefAES.new(x, m, **e),
                                     [16, 24, 32, 48, 64])
    for mode, label in ((2, "cbc"), (3, "cfb"), (5, "ofb")):
        seg = {"segment_size": 128} if mode == 3 else {}
        cases[f"aes-{label} iv="] = (lambda x, m=mode, s=seg: AES.new(K16, m, iv=x, **s),
                                     lambda x, m=mode, s=seg: RefAES.new(K16, m, iv=x, **s),
                                     [8, 16, 32, 64])
        cases[f"aes-{label} IV positional"] = (
            lambda x, m=mode, s=seg: AES.new(K16, m, x, **s),
            lambda x, m=mode, s=seg: RefAES.new(K16, m, x, **s), [16, 32])
    cases["aes-ctr nonce="] = (lambda x: AES.new(K16, 6, nonce=x),
                               lambda x: RefAES.new(K16, 6, nonce=x), [0, 4, 8, 12, 16])
    cases["aes-ctr initial_value="] = (
        lambda x: AES.new(K16, 6, nonce=grid.IV16[:8], initial_value=x),
        lambda x: RefAES.new(K16, 6, nonce=grid.IV16[:8], initial_value=x), [4, 8, 16, 32])
    cases["aes-gcm nonce="] = (lambda x: AES.new(K16, 11, nonce=x),
                               lambda x: RefAES.new(K16, 11, nonce=x), [4, 8, 12, 16, 20, 48])
    cases["aes-gcm nonce positional"] = (lambda x: AES.new(K16, 11, x),
                                         lambda x: RefAES.new(K16, 11, x), [12, 16])
    cases["aes-ccm nonce="] = (lambda x: AES.new(K16, 8, nonce=x),
                               lambda x: RefAES.new(K16, 8, nonce=x), [4, 8, 12, 16, 24, 48])
    cases["aes-ccm nonce positional"] = (lambda x: AES.new(K16, 8, x),
                                         lambda x: RefAES.new(K16, 8, x), [8, 12])
    for mode, label, extra in ((1, "ecb", {}), (2, "cbc", {"iv": grid.IV8}),
                               (6, "ctr", {"nonce": grid.IV8[:4]}),
                               (3, "cfb", {"iv": grid.IV8, "segment_size": 64})):
        cases[f"des3-{label} key"] = (lambda x, m=mode, e=extra: DES3.new(x, m, **e),
                                      lambda x, m=mode, e=extra: RefDES3.new(x, m, **e),
                                      [16, 24, 32, 48])
    cases["des3-cbc iv="] = (lambda x: DES3.new(TDES, 2, iv=x),
                             lambda x: RefDES3.new(TDES, 2, iv=x), [4, 8, 16, 32])
    cases["chacha20 key="] = (lambda x: ChaCha20.new(key=x, nonce=bytes(12)),
                              lambda x: RefChaCha20.new(key=x, nonce=bytes(12)), [16, 32, 64, 128])
    cases["chacha20 nonce="] = (lambda x: ChaCha20.new(key=K32, nonce=x),
                                lambda x: RefChaCha20.new(key=K32, nonce=x), [8, 12, 24, 32, 48, 96])
    cases["chachapoly key="] = (lambda x: ChaCha20_Poly1305.new(key=x, nonce=bytes(12)),
                                lambda x: RefChaChaPoly.new(key=x, nonce=bytes(12)),
                                [16, 32, 64, 128])
    cases["chachapoly nonce="] = (lambda x: ChaCha20_Poly1305.new(key=K32, nonce=x),
                                  lambda x: RefChaChaPoly.new(key=K32, nonce=x),
                                  [8, 12, 24, 32, 48, 96])
    cases["cmac-aes key"] = (lambda x: CMAC.new(x, ciphermod=AES),
                             lambda x: RefCMAC.new(x, ciphermod=RefAES), [16, 24, 32, 48, 64])
    cases["cmac-des3 key"] = (lambda x: CMAC.new(x, ciphermod=DES3),
                              lambda x: RefCMAC.new(x, ciphermod=RefDES3), [16, 24, 32, 48])
    return cases


NEW_CASES = _new_cases()


def _use(obj: Any) -> list[Any]:
    """What an object does with a few calls, and its public attributes."""
    seen = []
    for attr in ("iv", "IV", "nonce", "block_size", "digest_size"):
        seen.append((attr, outcome(lambda: getattr(obj, attr))))
    data = _payload(32)
    if hasattr(obj, "encrypt"):
        seen.append(("encrypt", outcome(lambda: obj.encrypt(data))))
        seen.append(("encrypt", outcome(lambda: obj.encrypt(data[:16]))))
        if hasattr(obj, "digest"):
            seen.append(("digest", outcome(obj.digest)))
    else:
        seen.append(("update", outcome(lambda: obj.update(data) and None)))
        seen.append(("digest", outcome(obj.digest)))
    return seen


def _random_default(case: str) -> bool:
    """Whether ``None`` for this argument means a random value (not comparable)."""
    return any(word in case for word in ("iv", "IV", "nonce"))


@pytest.mark.parametrize("case", sorted(NEW_CASES))
def test_new_arguments(case):
    ours, ref, sizes = NEW_CASES[case]
    report = []
    name = case.split()[0]
    if policy.get_backend() == policy.KERNEL and name in ("aes-cfb", "aes-ofb", "des3-cfb"):
        optional_kernel_alg("skcipher", OPTIONAL[name])
    for size in sizes:
        data = bytes(range(1, 1 + size))
        for kind in KINDS:
            if not grid.possible(kind, data) or (kind == "None" and _random_default(case)):
                continue
            results = {}
            for side, factory in (("ref", ref), ("ours", ours)):
                made = outcome(lambda f=factory: f(grid.make(kind, data)))
                if made[0] == "raised":
                    results[side] = made
                    continue
                obj = factory(grid.make(kind, data))
                if side == "ours" and REQUIRE_KERNEL:
                    info = kcapi_cipher.backend_info(obj)
                    assert info.backend == "kernel", (case, kind, size, info)
                results[side] = _use(obj)
            if results["ref"] != results["ours"]:
                report.append(f"{case} {kind}/{size}: PyCryptodome {results['ref']!r}, "
                              f"ours {results['ours']!r}")
    assert not report, f"{len(report)} differences:\n" + "\n".join(report[:40])
