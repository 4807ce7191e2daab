"""``kcapi_shim``: unchanged imports get kcapi, and ``uninstall()`` puts everything back.

The in-process tests check the mechanics (``sys.modules`` entries, attributes
of the parent packages, ``Crypto.Random``'s functions, the state, the undo).
The differential test runs one unchanged program twice -- with plain Python
and under ``python -m kcapi_shim`` -- and requires the same output: results
and exception types and messages of hashlib, hmac and PyCryptodome calls.  In
the kernel run the shim's run is served by the kernel.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

import kcapi_cipher.AES
import kcapi_cipher.CMAC
import kcapi_cipher.Random
import kcapi_hashlib
import kcapi_hashlib.hmac
import kcapi_shim

from ..support import kernel_refusal


def _entries() -> dict[str, object]:
    """Everything the shim may replace, as it is now."""
    import Crypto.Cipher
    import Crypto.Hash
    import Crypto.Random

    found: dict[str, object] = {}
    for name in kcapi_shim.MODULES:
        found[f"sys.modules[{name}]"] = sys.modules.get(name)
        parent, _, child = name.rpartition(".")
        if parent:
            found[f"{parent}.{child}"] = getattr(sys.modules[parent], child, "<absent>")
    for name, attributes in kcapi_shim.ATTRIBUTES.items():
        for attribute in attributes:
            found[f"{name}.{attribute}"] = getattr(sys.modules[name], attribute, "<absent>")
    assert Crypto.Cipher and Crypto.Hash and Crypto.Random
    return found


@pytest.fixture(autouse=True)
def _never_leave_it_installed():
    yield
    kcapi_shim.uninstall()
    assert not kcapi_shim.installed()


def unchanged_code() -> dict[str, object]:
    """Run imports as a program would write them, in a fresh namespace."""
    namespace: dict[str, object] = {}
    exec(textwrap.dedent("""
        import hashlib, hmac
        import Crypto.Cipher.AES as AES_dotted
        from Crypto.Cipher import AES, DES3, ChaCha20, ChaCha20_Poly1305
        from Crypto.Hash import CMAC
        from Crypto.Random import get_random_bytes
        from Crypto import Random
    """), namespace)
    namespace["AES_by_name"] = importlib.import_module("Crypto.Cipher.AES")
    return namespace


def test_install_puts_kcapi_where_unchanged_imports_look():
    kcapi_shim.install()
    assert kcapi_shim.installed()
    got = unchanged_code()
    assert got["hashlib"] is kcapi_hashlib
    assert got["hmac"] is kcapi_hashlib.hmac
    assert got["AES"] is got["AES_dotted"] is got["AES_by_name"] is kcapi_cipher.AES
    for name in ("DES3", "ChaCha20", "ChaCha20_Poly1305"):
        assert got[name] is importlib.import_module(f"kcapi_cipher.{name}")
    assert got["CMAC"] is kcapi_cipher.CMAC
    assert got["get_random_bytes"] is kcapi_cipher.Random.get_random_bytes
    random_package = got["Random"]
    assert isinstance(random_package, types.ModuleType)
    assert random_package.__name__ == "Crypto.Random"  # the package stays (Crypto.Random.random)
    assert random_package.new is kcapi_cipher.Random.new


def test_uninstall_restores_every_entry_exactly():
    before = _entries()
    kcapi_shim.install()
    during = _entries()
    assert all(during[k] is not before[k] for k in before), "every entry is replaced"
    kcapi_shim.uninstall()
    assert not kcapi_shim.installed()
    after = _entries()
    assert all(after[k] is before[k] for k in before)
    import hashlib
    import hmac

    assert hashlib is not kcapi_hashlib and hmac is not kcapi_hashlib.hmac


def test_install_and_uninstall_are_idempotent():
    before = _entries()
    kcapi_shim.uninstall()  # not installed: nothing to do
    kcapi_shim.install()
    kcapi_shim.install()
    assert kcapi_shim.installed()
    kcapi_shim.uninstall()
    kcapi_shim.uninstall()
    assert not kcapi_shim.installed()
    assert all(_entries()[k] is before[k] for k in before)


def test_an_attribute_absent_before_is_absent_after(monkeypatch):
    import Crypto.Cipher

    monkeypatch.delattr(Crypto.Cipher, "ChaCha20")
    kcapi_shim.install()
    assert Crypto.Cipher.ChaCha20 is importlib.import_module("kcapi_cipher.ChaCha20")
    kcapi_shim.uninstall()
    assert not hasattr(Crypto.Cipher, "ChaCha20")


def test_uninstall_leaves_entries_someone_else_changed(monkeypatch):
    import hashlib as real_hashlib

    other = types.ModuleType("hashlib")
    kcapi_shim.install()
    monkeypatch.setitem(sys.modules, "hashlib", other)
    kcapi_shim.uninstall()
    assert sys.modules["hashlib"] is other
    monkeypatch.setitem(sys.modules, "hashlib", real_hashlib)


def test_active_installs_for_a_block_and_undoes_on_exceptions():
    before = _entries()
    with pytest.raises(KeyError):
        with kcapi_shim.active():
            assert kcapi_shim.installed()
            assert importlib.import_module("hashlib") is kcapi_hashlib
            raise KeyError("inside")
    assert not kcapi_shim.installed()
    assert all(_entries()[k] is before[k] for k in before)


def test_active_inside_an_installed_shim_leaves_it_installed():
    kcapi_shim.install()
    with kcapi_shim.active():
        assert kcapi_shim.installed()
    assert kcapi_shim.installed()


def test_names_bound_before_install_keep_the_old_objects():
    import hashlib as real_hashlib

    early: dict[str, object] = {}
    exec("from hashlib import sha256\nimport hashlib", early)
    kcapi_shim.install()
    late: dict[str, object] = {}
    exec("from hashlib import sha256\nimport hashlib", late)
    assert early["sha256"] is real_hashlib.sha256 and early["hashlib"] is real_hashlib
    assert late["hashlib"] is kcapi_hashlib
    assert late["sha256"] is kcapi_hashlib.sha256


def test_the_standard_library_imports_hashlib_lazily_and_gets_kcapi(monkeypatch):
    import uuid

    expected = uuid.uuid3(uuid.NAMESPACE_DNS, "kcapi.example")
    calls = []
    real_md5 = kcapi_hashlib.md5

    def recording_md5(*args, **kwargs):
        calls.append(args)
        return real_md5(*args, **kwargs)

    monkeypatch.setattr(kcapi_hashlib, "md5", recording_md5)
    with kcapi_shim.active():
        assert uuid.uuid3(uuid.NAMESPACE_DNS, "kcapi.example") == expected
    assert len(calls) == 1  # uuid3 did 'from hashlib import md5' while installed


PROGRAM = r'''
"""An unchanged program using hashlib, hmac and PyCryptodome; prints results and errors."""
import hashlib, hmac, io, tempfile
from Crypto.Cipher import AES, DES3, ChaCha20, ChaCha20_Poly1305
from Crypto.Hash import CMAC
from Crypto.Random import get_random_bytes

KEY, NONCE, DATA = bytes(range(32)), bytes(range(12)), bytes(range(256)) * 9

def show(label, call):
    try:
        result = call()
    except Exception as exc:
        result = f"{type(exc).__name__}: {exc}"
    print(label, result.hex() if isinstance(result, bytes) else result)

for name in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha3_256", "blake2b"):
    show(name, lambda: hashlib.new(name, DATA).digest())
    show(name + " ctor", lambda: getattr(hashlib, name)(DATA[:100]).hexdigest())
def copied(h):
    h.copy().update(b"x")
    return h.digest()
show("sha256 copy", lambda: copied(hashlib.sha256(DATA)))
show("new nope", lambda: hashlib.new("nope"))
show("sha256 str", lambda: hashlib.sha256("text"))
show("md5 not for security", lambda: hashlib.md5(DATA, usedforsecurity=False).digest())
show("pbkdf2", lambda: hashlib.pbkdf2_hmac("sha256", b"pw", b"salt", 50, 40))
with tempfile.TemporaryFile() as f:
    f.write(DATA * 40)
    f.seek(0)
    show("file_digest", lambda: hashlib.file_digest(f, "sha256").digest())
show("file_digest bytesio", lambda: hashlib.file_digest(io.BytesIO(DATA), "sha512").digest())
show("hmac", lambda: hmac.new(KEY, DATA, "sha256").digest())
show("hmac ctor", lambda: hmac.new(b"k" * 200, DATA, hashlib.sha512).hexdigest())
show("hmac.digest", lambda: hmac.digest(KEY, DATA, "sha1"))
show("hmac no digestmod", lambda: hmac.new(KEY, DATA))
show("compare_digest", lambda: hmac.compare_digest(b"ab", b"ab"))
show("cbc", lambda: AES.new(KEY, AES.MODE_CBC, iv=NONCE + bytes(4)).encrypt(DATA))
show("ctr", lambda: AES.new(KEY[:16], AES.MODE_CTR, nonce=NONCE[:8]).encrypt(DATA[:1000]))
show("ecb", lambda: AES.new(KEY[:24], AES.MODE_ECB).decrypt(DATA[:256]))
show("gcm", lambda: b"".join(AES.new(KEY, AES.MODE_GCM, nonce=NONCE).encrypt_and_digest(DATA)))
show("ccm", lambda: b"".join(AES.new(KEY, AES.MODE_CCM, nonce=NONCE[:11]).encrypt_and_digest(DATA)))
show("gcm bad tag",
     lambda: AES.new(KEY, AES.MODE_GCM, nonce=NONCE).decrypt_and_verify(DATA, bytes(16)))
show("aes short key", lambda: AES.new(b"short", AES.MODE_CBC))
show("cbc unaligned", lambda: AES.new(KEY, AES.MODE_CBC, iv=bytes(16)).encrypt(b"odd"))
show("des3", lambda: DES3.new(bytes(range(1, 25)), DES3.MODE_CBC, iv=bytes(8)).encrypt(DATA))
show("chacha20", lambda: ChaCha20.new(key=KEY, nonce=NONCE).encrypt(DATA))
show("chacha20-poly1305", lambda: b"".join(
    ChaCha20_Poly1305.new(key=KEY, nonce=NONCE).encrypt_and_digest(DATA)))
show("cmac", lambda: CMAC.new(KEY[:16], DATA, ciphermod=AES).digest())
show("cmac bad key", lambda: CMAC.new(b"x" * 5, DATA, ciphermod=AES))
show("random", lambda: len(get_random_bytes(40)))
show("random negative", lambda: get_random_bytes(-1))
'''


def test_an_unchanged_program_prints_the_same_under_the_shim(tmp_path: Path):
    program = tmp_path / "program.py"
    program.write_text(PROGRAM)

    env = dict(os.environ)
    lacking = [why for why in (kernel_refusal("hash", "sha3-256"),
                               kernel_refusal("skcipher", "chacha20"))
               if why is not None and why.reason == "interface-lacks"]
    if lacking:  # under `kernel`, what the interface in force lacks is refused by design
        env["KCAPI_BACKEND"] = "auto"

    def run(*prefix: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *prefix, str(program)], capture_output=True,
                              text=True, cwd=tmp_path, timeout=600, env=env)

    plain = run()
    shimmed = run("-m", "kcapi_shim")
    assert plain.returncode == 0, plain.stderr
    assert shimmed.returncode == 0, shimmed.stderr
    assert shimmed.stdout.splitlines() == plain.stdout.splitlines()
    assert len(plain.stdout.splitlines()) > 30
