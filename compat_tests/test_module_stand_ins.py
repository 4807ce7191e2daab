"""kcapi's modules standing in PyCryptodome's place, as a drop-in puts them.

A program made to use kcapi without changing its code gets
``sys.modules['Crypto.Cipher.AES'] = kcapi_cipher.AES`` (and the package
attribute ``Crypto.Cipher.AES``), likewise for DES3, ChaCha20,
ChaCha20_Poly1305, ``Crypto.Hash.CMAC`` and ``Crypto.Random``.  Then every
path that ends in PyCryptodome -- the ``software`` policy, modes only
PyCryptodome has (EAX, SIV, OCB, KW, OpenPGP, CFB-8), CMAC over other ciphers
-- must still reach PyCryptodome's own code, never kcapi's stand-in (which
would call itself forever).

Each test runs in a fresh interpreter: the script computes every result with
PyCryptodome first, installs the stand-ins, runs the same code through the
``Crypto`` names, and prints what differed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

_SCRIPT = textwrap.dedent('''
    import importlib, json, sys

    def scenarios(AES, DES3, ChaCha20, ChaCha20_Poly1305, CMAC, Random, DES):
        k16, k32, tdes = bytes(range(1, 17)), bytes(range(1, 33)), bytes(range(1, 49, 2))
        iv, data = bytes(range(100, 116)), bytes(range(64))
        out = {}
        for mode, kw in (("ECB", {}), ("CBC", {"iv": iv}), ("CFB", {"iv": iv}),
                         ("CFB", {"iv": iv, "segment_size": 128}), ("OFB", {"iv": iv}),
                         ("CTR", {"nonce": iv[:8]}), ("OPENPGP", {"iv": iv})):
            c = AES.new(k16, getattr(AES, "MODE_" + mode), **kw)
            out[f"aes-{mode}-{kw.get('segment_size', '')}"] = c.encrypt(data).hex()
        for mode, kw in (("EAX", {"nonce": iv}), ("GCM", {"nonce": iv[:12]}),
                         ("CCM", {"nonce": iv[:11]}), ("OCB", {"nonce": iv[:15]})):
            c = AES.new(k16, getattr(AES, "MODE_" + mode), **kw)
            c.update(b"aad")
            ct, tag = c.encrypt_and_digest(data)
            out[f"aes-{mode}"] = [ct.hex(), tag.hex()]
        siv = AES.new(k32, AES.MODE_SIV, nonce=iv)
        siv.update(b"aad")
        out["aes-SIV"] = [x.hex() for x in siv.encrypt_and_digest(data)]
        out["aes-KW"] = AES.new(k16, AES.MODE_KW).seal(data[:32]).hex()
        out["aes-KWP"] = AES.new(k16, AES.MODE_KWP).seal(data[:20]).hex()
        for mode, kw in (("CBC", {"iv": iv[:8]}), ("CFB", {"iv": iv[:8]}),
                         ("EAX", {"nonce": iv}), ("OPENPGP", {"iv": iv[:8]})):
            c = DES3.new(tdes, getattr(DES3, "MODE_" + mode), **kw)
            out[f"des3-{mode}"] = c.encrypt(data).hex()
        for size in (8, 12, 24):
            out[f"chacha20-{size}"] = ChaCha20.new(key=k32, nonce=iv[:size] if size <= 16
                                                   else iv + iv[:8]).encrypt(data).hex()
            c = ChaCha20_Poly1305.new(key=k32, nonce=iv[:size] if size <= 16 else iv + iv[:8])
            c.update(b"aad")
            out[f"chachapoly-{size}"] = [x.hex() for x in c.encrypt_and_digest(data)]
        out["cmac-aes"] = CMAC.new(k16, data, ciphermod=AES).hexdigest()
        out["cmac-des3"] = CMAC.new(tdes, data, ciphermod=DES3).hexdigest()
        out["cmac-des"] = CMAC.new(k16[:8], data, ciphermod=DES).hexdigest()
        mac = CMAC.new(k16, ciphermod=AES)
        mac.update(data[:5])
        out["cmac-copy"] = mac.copy().update(data).hexdigest()
        out["random"] = [len(Random.get_random_bytes(40)), len(Random.new().read(17))]
        return out

    import Crypto.Cipher.AES, Crypto.Cipher.DES3, Crypto.Cipher.ChaCha20
    import Crypto.Cipher.ChaCha20_Poly1305, Crypto.Hash.CMAC, Crypto.Random, Crypto.Cipher.DES
    reference = scenarios(Crypto.Cipher.AES, Crypto.Cipher.DES3, Crypto.Cipher.ChaCha20,
                          Crypto.Cipher.ChaCha20_Poly1305, Crypto.Hash.CMAC, Crypto.Random,
                          Crypto.Cipher.DES)

    if sys.argv[1] == "set-aside":
        # kcapi's modules stand in place before kcapi_cipher holds PyCryptodome's:
        # it must set them aside to import the real ones.
        import kcapi_cipher
        del sys.modules["kcapi_cipher._reference"]
    stand_ins = {"Crypto.Cipher.AES": "kcapi_cipher.AES", "Crypto.Cipher.DES3": "kcapi_cipher.DES3",
                 "Crypto.Cipher.ChaCha20": "kcapi_cipher.ChaCha20",
                 "Crypto.Cipher.ChaCha20_Poly1305": "kcapi_cipher.ChaCha20_Poly1305",
                 "Crypto.Hash.CMAC": "kcapi_cipher.CMAC", "Crypto.Random": "kcapi_cipher.Random"}
    for name, ours in stand_ins.items():
        module = importlib.import_module(ours)
        sys.modules[name] = module
        package, _, attr = name.rpartition(".")
        setattr(sys.modules[package], attr, module)
    if sys.argv[1] == "set-aside":
        importlib.import_module("kcapi_cipher._reference")
        import kcapi_cipher._reference as held
        assert all(not m.__name__.startswith("kcapi") for m in
                   (held.AES, held.DES3, held.ChaCha20, held.ChaCha20_Poly1305, held.CMAC,
                    held.Random))
        assert sys.modules["Crypto.Cipher.AES"].__name__ == "kcapi_cipher.AES"

    import kcapi_cipher
    kcapi_cipher.set_backend(sys.argv[2])
    from Crypto.Cipher import AES, DES3, ChaCha20, ChaCha20_Poly1305, DES
    from Crypto.Hash import CMAC
    from Crypto import Random
    assert AES.__name__ == "kcapi_cipher.AES" and CMAC.__name__ == "kcapi_cipher.CMAC"
    got = scenarios(AES, DES3, ChaCha20, ChaCha20_Poly1305, CMAC, Random, DES)
    print(json.dumps({k: [reference[k], got.get(k)] for k in reference
                      if reference[k] != got.get(k)}))
''')


@pytest.mark.parametrize("order", ["held", "set-aside"])
@pytest.mark.parametrize("chosen", ["software", "auto"])
def test_fallbacks_reach_pycryptodome_through_stand_ins(order, chosen):
    env = dict(os.environ)
    env.pop("KCAPI_BACKEND", None)
    done = subprocess.run([sys.executable, "-c", _SCRIPT, order, chosen], capture_output=True,
                          text=True, timeout=600, env=env,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert done.returncode == 0, done.stderr[-3000:]
    differences = json.loads(done.stdout.strip().splitlines()[-1])
    assert differences == {}
