"""One owner for "kernel or software, and why": :mod:`_kcapi.routing`.

Two halves:

* the rule, over the package sources: outside ``_kcapi/policy.py`` and
  ``_kcapi/routing.py`` no module calls ``get_backend()`` or names the policy's
  ``KERNEL``/``SOFTWARE``/``AUTO`` to choose a backend, and outside the
  transform cache and the routing module no module touches the probe
  (``transform._lookup``) or the cached refusals (``transform._unkeyed``);
* each errno a refusal can come with (fake syscalls, fake ``/proc`` files), for
  each object kind, under ``kernel`` (the error) and ``auto`` (the reason in
  ``backend_info``, which is the routing module's and says exactly what happened,
  and the reference library's result).  The real kernels cover restricted and
  missing algorithms (tests/cipher/test_kernel_matrix.py, the UML 7.3 regimes).
"""

import ast
import errno
import hashlib
import hmac as std_hmac
import os
from pathlib import Path

import pytest
from Crypto.Cipher import AES as RefAES
from Crypto.Cipher import ChaCha20_Poly1305 as RefChaChaPoly
from Crypto.Hash import CMAC as RefCMAC

import kcapi_cipher
import kcapi_hashlib
from _kcapi import restriction, routing, transform
from _kcapi.keyring import KeyringKey
from kcapi_cipher import AES, CMAC, ChaCha20_Poly1305, Random
from kcapi_hashlib import KernelUnavailableError, hmac


ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("_kcapi", "kcapi_hashlib", "kcapi_cipher", "kcapi_cli", "kcapi_shim")
OWNERS = {"_kcapi/policy.py", "_kcapi/routing.py"}
#: Reads of the policy that report it and decide nothing: (module, function).
REPORTS = {("kcapi_cli/doctor.py", "policy_status"), ("kcapi_cli/doctor.py", "_served_by")}
#: The probe and its cache: private to the transform cache and the routing module.
PROBE_NAMES = {"_lookup", "_unkeyed", "cached_probes", "plant_refusal"}
PROBE_OWNERS = {"_kcapi/transform.py", "_kcapi/routing.py"}


def _sources():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(), str(path))


def _policy_aliases(tree: ast.AST) -> set[str]:
    """The names this module binds to ``_kcapi.policy`` (``policy``, ``_policy``)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "_kcapi":
            found |= {a.asname or a.name for a in node.names if a.name == "policy"}
        elif isinstance(node, ast.ImportFrom) and node.module == "policy" and node.level == 1:
            pass  # `from .policy import X`: the names are checked as calls below
        elif isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is None:
            found |= {a.asname or a.name for a in node.names if a.name == "policy"}
    return found


def _offences(module: str, tree: ast.AST) -> list[str]:
    """Where ``module`` reads the policy to choose a backend, or touches the probe."""
    aliases = _policy_aliases(tree)
    found = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function = node.name
        where = f"{module}:{getattr(node, 'lineno', '?')} ({function or 'module'})"
        reporting = (module, function) in REPORTS
        if module not in OWNERS and not reporting:
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called == "get_backend":
                    found.append(f"{where}: calls get_backend()")
            if (isinstance(node, ast.Attribute) and node.attr in ("KERNEL", "SOFTWARE", "AUTO")
                    and isinstance(node.value, ast.Name) and node.value.id in aliases):
                found.append(f"{where}: compares with policy.{node.attr}")
        if module not in PROBE_OWNERS:
            named = (node.attr if isinstance(node, ast.Attribute)
                     else node.id if isinstance(node, ast.Name) else None)
            if named in PROBE_NAMES:
                found.append(f"{where}: touches transform.{named}")
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, "")
    return found


def test_one_module_owns_the_routing_decision():
    offences = [line for module, tree in _sources() for line in _offences(module, tree)]
    assert offences == [], "\n".join(offences)


def test_the_rule_catches_what_it_forbids():
    """The checker itself: each forbidden form is found, the owners are exempt."""
    source = ast.parse(
        "from _kcapi import policy as _p, transform\n"
        "def f():\n"
        "    if _p.get_backend() == _p.KERNEL:\n"
        "        return transform._lookup('hash', 'sha1')\n"
        "    return transform._unkeyed\n")
    found = _offences("kcapi_cipher/x.py", source)
    assert len(found) == 4 and all("(f)" in line for line in found)
    assert _offences("_kcapi/routing.py", source) == []
    assert len(_offences("_kcapi/transform.py", source)) == 2  # the probe is its own


#: The library packages: the command line (kcapi_cli) imports them, never the reverse.
LIBRARIES = ("_kcapi", "kcapi_hashlib", "kcapi_cipher", "kcapi_shim")


def _absolute_imports(tree: ast.AST) -> set[str]:
    """The modules a module imports by absolute name (relative imports stay in its package)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_the_libraries_never_import_the_command_line():
    offences = [f"{module}: {name}" for module, tree in _sources()
                if module.split("/")[0] in LIBRARIES
                for name in _absolute_imports(tree) if name.split(".")[0] == "kcapi_cli"]
    assert offences == [], "\n".join(offences)
    checker = ast.parse("from kcapi_cli import sum\nimport kcapi_cli.doctor as d\n"
                        "from . import cli\ndef f():\n    from kcapi_cli.run import main\n")
    assert _absolute_imports(checker) == {"kcapi_cli", "kcapi_cli.doctor", "kcapi_cli.run"}


# -- each errno, each object kind -------------------------------------------------------

K16, K32, IV, N12, N11, DATA = b"k" * 16, b"K" * 32, b"i" * 16, b"n" * 12, b"n" * 11, b"x" * 48


def _gcm(aes):
    return aes.new(K16, aes.MODE_GCM, nonce=N12).encrypt_and_digest(DATA)


def _ccm(aes):
    return aes.new(K16, aes.MODE_CCM, nonce=N11).encrypt_and_digest(DATA)


#: label: (make ours, the reference's result from ours, backend_info, the (kind, name)
#: routing probes first and whose refusal is the reason)
KINDS = {
    "hash": (lambda: kcapi_hashlib.sha256(DATA),
             lambda obj: obj.digest() == hashlib.sha256(DATA).digest(),
             kcapi_hashlib.backend_info, ("hash", "sha256")),
    "hmac": (lambda: hmac.new(K16, DATA, "sha256"),
             lambda obj: obj.digest() == std_hmac.new(K16, DATA, "sha256").digest(),
             kcapi_hashlib.backend_info, ("hash", "hmac(sha256)")),
    "blake2b keyed": (lambda: kcapi_hashlib.blake2b(DATA, key=K16),
                      lambda obj: obj.digest() == hashlib.blake2b(DATA, key=K16).digest(),
                      kcapi_hashlib.backend_info, ("hash", "blake2b-512")),
    "skcipher": (lambda: AES.new(K16, AES.MODE_CBC, iv=IV),
                 lambda obj: obj.encrypt(DATA) == RefAES.new(K16, RefAES.MODE_CBC,
                                                             iv=IV).encrypt(DATA),
                 kcapi_cipher.backend_info, ("skcipher", "cbc(aes)")),
    "aead gcm": (lambda: AES.new(K16, AES.MODE_GCM, nonce=N12),
                 lambda obj: obj.encrypt_and_digest(DATA) == _gcm(RefAES),
                 kcapi_cipher.backend_info, ("skcipher", "ctr(aes)")),
    "aead ccm": (lambda: AES.new(K16, AES.MODE_CCM, nonce=N11),
                 lambda obj: obj.encrypt_and_digest(DATA) == _ccm(RefAES),
                 kcapi_cipher.backend_info, ("skcipher", "ctr(aes)")),
    "chacha20-poly1305": (lambda: ChaCha20_Poly1305.new(key=K32, nonce=N12),
                          lambda obj: obj.encrypt_and_digest(DATA) == RefChaChaPoly.new(
                              key=K32, nonce=N12).encrypt_and_digest(DATA),
                          kcapi_cipher.backend_info, ("skcipher", "chacha20")),
    "cmac": (lambda: CMAC.new(K16, DATA, ciphermod=AES),
             lambda obj: obj.digest() == RefCMAC.new(K16, DATA, ciphermod=RefAES).digest(),
             kcapi_cipher.backend_info, ("hash", "cmac(aes)")),
    "rng": (lambda: Random.new(),
            lambda obj: len(obj.read(32)) == 32 and len(Random.get_random_bytes(7)) == 7,
            kcapi_cipher.backend_info, ("rng", "stdrng")),
}

#: step, errno, af_alg_restrict (None: absent), reason code, words the message must have
ERRNOS = [
    ("socket", errno.EAFNOSUPPORT, None, "no-af-alg", "RestrictAddressFamilies"),
    ("socket", errno.EAFNOSUPPORT, 2, "no-af-alg", "af_alg_restrict=2"),
    ("socket", errno.EPERM, None, "blocked", "seccomp filter refuses socket(AF_ALG)"),
    ("socket", errno.ENOSYS, None, "blocked", "seccomp filter refuses socket(AF_ALG)"),
    ("socket", errno.EACCES, None, "blocked", "security module (AppArmor, SELinux)"),
    ("bind", errno.ENOENT, None, "missing", "not built, or its module is missing"),
    ("bind", errno.ENOENT, 0, "missing", "not built, or its module is missing"),
    ("bind", errno.ENOENT, 1, "restricted", "af_alg_restrict=1"),
    ("bind", errno.EPERM, None, "blocked", "a seccomp filter refuses bind"),
    ("bind", errno.EACCES, None, "blocked", "a security module forbids bind"),
    ("bind", errno.EINVAL, None, "refused", os.strerror(errno.EINVAL)),
]
ERRNO_IDS = [f"{step}-{errno.errorcode[err]}-restrict{setting}"
             for step, err, setting, _, _ in ERRNOS]


def each_kind_and_refusal(test):
    """Run ``test`` for every object kind (``label``) and every refusal of :data:`ERRNOS`."""
    test = pytest.mark.parametrize("step,err,setting,code,words", ERRNOS, ids=ERRNO_IDS)(test)
    return pytest.mark.parametrize("label", list(KINDS))(test)


def _refuse(fake_kernel, restriction_files, step, err, setting, backend):
    """The kernel refuses ``step`` with ``err`` (``af_alg_restrict=setting``); policy ``backend``."""
    restriction_files(setting)  # caps 0: an unprivileged process
    fake = fake_kernel(step, err)
    kcapi_hashlib.set_backend(backend)
    return fake


@each_kind_and_refusal
def test_kernel_policy_raises_what_happened(fake_kernel, restriction_files, label, step, err,
                                            setting, code, words):
    make, _, _, (kind, name) = KINDS[label]
    _refuse(fake_kernel, restriction_files, step, err, setting, "kernel")
    with pytest.raises(KernelUnavailableError) as caught:
        make()
    refused = caught.value
    assert (refused.reason, refused.errno, refused.algorithm, refused.step) == (code, err, name, step)
    assert words in str(refused)
    if code == "restricted":  # which capability, or only the setting, would allow it
        privileged = name in restriction.PRIVILEGED.get(kind, ())
        assert ("by a process with CAP_NET_ADMIN or CAP_SYS_ADMIN, which this one lacks"
                in str(refused)) == privileged
        assert ("af_alg_restrict=0 would allow it" in str(refused)) == (not privileged)
    assert refused.__traceback__ is not None and routing.probe(kind, name).__traceback__ is None


@each_kind_and_refusal
def test_auto_serves_software_and_says_why(fake_kernel, restriction_files, label, step, err,
                                           setting, code, words):
    make, same_as_reference, backend_info, (kind, name) = KINDS[label]
    _refuse(fake_kernel, restriction_files, step, err, setting, "auto")
    obj = make()
    info = backend_info(obj)
    assert info.backend == "software"
    assert info.reason == routing.why_not(kind, name)  # the routing module's reason, verbatim
    assert info.reason.startswith(f"{code}: ") and words in info.reason
    assert same_as_reference(obj)


@pytest.mark.parametrize("label", list(KINDS))
def test_software_policy_probes_nothing(fake_kernel, label):
    make, same_as_reference, backend_info, (kind, name) = KINDS[label]
    fake = fake_kernel("any", errno.EPERM)
    kcapi_hashlib.set_backend("software")
    obj = make()
    assert backend_info(obj).reason.startswith("software-policy: ")
    assert backend_info(obj).reason == routing.why_not(kind, name)
    assert same_as_reference(obj)
    assert fake.calls == []  # not even socket()


@pytest.mark.parametrize("policy", ["auto", "kernel"])
def test_a_refused_key_is_a_refusal(fake_kernel, policy):
    """EINVAL from setkey (a key the kernel rejects, e.g. 2-key TDES in FIPS mode)."""
    fake_kernel("setsockopt", errno.EINVAL)
    kcapi_hashlib.set_backend(policy)
    make, same_as_reference, _, (kind, name) = KINDS["skcipher"]
    if policy == "kernel":
        with pytest.raises(KernelUnavailableError) as caught:
            make()
        assert (caught.value.reason, caught.value.errno) == ("refused", errno.EINVAL)
        assert "the kernel refuses this key" in str(caught.value)
        return
    obj = make()
    reason = kcapi_cipher.backend_info(obj).reason
    assert reason.startswith("refused: ") and "the kernel refuses this key" in reason
    assert reason == routing.software_reason(kind, name) and routing.why_not(kind, name) == ""
    assert same_as_reference(obj)


@pytest.mark.parametrize("policy", ["auto", "kernel"])
def test_a_refused_drbg_seed_is_a_refusal(fake_kernel, policy):
    fake_kernel("setsockopt", errno.EINVAL)
    kcapi_hashlib.set_backend(policy)
    if policy == "kernel":
        with pytest.raises(KernelUnavailableError) as caught:
            Random.get_random_bytes(8)
        assert (caught.value.reason, caught.value.errno) == ("refused", errno.EINVAL)
        assert "seeding the DRBG" in str(caught.value)
    else:
        assert len(Random.get_random_bytes(8)) == 8
        assert Random.backend_info().driver == "os.urandom"


NO_EQUIVALENT = {
    "shake_128": (lambda: kcapi_hashlib.shake_128(DATA), kcapi_hashlib.backend_info,
                  lambda obj: obj.digest(16) == hashlib.shake_128(DATA).digest(16)),
    "blake2b salted": (lambda: kcapi_hashlib.blake2b(DATA, salt=b"s"), None,
                       lambda obj: obj.digest() == hashlib.blake2b(DATA, salt=b"s").digest()),
    "AES MODE_OPENPGP": (lambda: AES.new(K16, AES.MODE_OPENPGP, iv=IV),
                         kcapi_cipher.backend_info,
                         lambda obj: obj.encrypt(DATA) == RefAES.new(
                             K16, RefAES.MODE_OPENPGP, iv=IV).encrypt(DATA)),
}


@pytest.mark.parametrize("label", list(NO_EQUIVALENT))
@pytest.mark.parametrize("policy", ["auto", "kernel"])
def test_no_kernel_equivalent(fake_kernel, label, policy):
    make, backend_info, same_as_reference = NO_EQUIVALENT[label]
    fake_kernel("any", errno.EPERM)
    kcapi_hashlib.set_backend(policy)
    if policy == "kernel":
        with pytest.raises(KernelUnavailableError) as caught:
            make()
        assert caught.value.reason == "no-kernel-equivalent" and caught.value.errno is None
        return
    obj = make()
    if backend_info is not None:
        reason = backend_info(obj).reason
        assert reason.startswith("no-kernel-equivalent: the kernel crypto API has no equivalent of")
    assert same_as_reference(obj)
    kcapi_hashlib.set_backend("software")
    obj = make()
    if backend_info is not None:
        assert backend_info(obj).reason.startswith("software-policy: ")
    assert same_as_reference(obj)


#: label: (make with a keyring key, the (kind, name) routing probes)
KEYRING = {
    "hmac": (lambda key: hmac.new(key, DATA, "sha256"), ("hash", "hmac(sha256)")),
    "blake2b": (lambda key: kcapi_hashlib.blake2b(DATA, key=key), ("hash", "blake2b-512")),
    "skcipher": (lambda key: AES.new(key, AES.MODE_CBC, iv=IV), ("skcipher", "cbc(aes)")),
    "aead gcm": (lambda key: AES.new(key, AES.MODE_GCM, nonce=N12), ("aead", "gcm(aes)")),
    "aead ccm": (lambda key: AES.new(key, AES.MODE_CCM, nonce=N11), ("skcipher", "ctr(aes)")),
    "chacha20-poly1305": (lambda key: ChaCha20_Poly1305.new(key=key, nonce=N12),
                          ("aead", "rfc7539(chacha20,poly1305)")),
    "cmac": (lambda key: CMAC.new(key, ciphermod=AES), ("hash", "cmac(aes)")),
}


@pytest.mark.parametrize("label", list(KEYRING))
@pytest.mark.parametrize("step,err,setting,code,words", ERRNOS, ids=ERRNO_IDS)
def test_keyring_keys_say_why_the_kernel_cannot_serve(fake_kernel, restriction_files, label,
                                                      step, err, setting, code, words):
    """No software can use a key it cannot read: under ``auto`` too, the kernel's refusal."""
    make, (kind, name) = KEYRING[label]
    _refuse(fake_kernel, restriction_files, step, err, setting, "auto")
    with pytest.raises(KernelUnavailableError) as caught:
        make(KeyringKey(4242, "routing-test"))
    assert caught.value.reason == "keyring-needs-kernel" and caught.value.errno == err
    assert words in str(caught.value)
    refused = routing.probe(kind, name)
    assert isinstance(refused, KernelUnavailableError) and refused.reason == code


@pytest.mark.parametrize("label", list(KEYRING))
def test_keyring_keys_under_the_software_policy(fake_kernel, label):
    make, _ = KEYRING[label]
    fake = fake_kernel("any", errno.EPERM)
    kcapi_hashlib.set_backend("software")
    with pytest.raises(KernelUnavailableError) as caught:
        make(KeyringKey(4242))
    assert caught.value.reason == "keyring-needs-kernel"
    assert "the backend policy is 'software'" in str(caught.value)
    assert fake.calls == []


def test_probe_is_cached_and_shared(fake_kernel):
    """One bind per (kind, name): routing, the objects and doctor share the answer."""
    fake = fake_kernel("bind", errno.ENOENT)
    kcapi_hashlib.set_backend("auto")
    first = routing.probe("hash", "sha256")
    kcapi_hashlib.sha256(DATA)
    assert routing.probe("hash", "sha256") is first and not routing.binds("hash", "sha256")
    assert fake.calls == ["socket", "bind"]
    transform.clear()
    assert routing.probe("hash", "sha256") is not first


@pytest.mark.parametrize("digest_size", [20, 32, 48, 64])
def test_a_sized_blake2b_names_the_kernel_name_that_refused_it(fake_kernel, restriction_files,
                                                               digest_size):
    # hashlib calls every size "blake2b"; the kernel refused "blake2b-<bits>", and says so.
    refused = f"blake2b-{8 * digest_size}"
    _refuse(fake_kernel, restriction_files, "bind", errno.ENOENT, 1, "auto")
    obj = kcapi_hashlib.blake2b(DATA, digest_size=digest_size)
    info = kcapi_hashlib.backend_info(obj)
    assert (info.backend, info.algorithm) == ("software", refused)
    assert info.reason.startswith("restricted: ") and refused in info.reason
    assert obj.digest() == hashlib.blake2b(DATA, digest_size=digest_size).digest()


def _calls_named(tree: ast.AST, name: str) -> list[int]:
    """The lines where ``tree`` calls a function or method called ``name``."""
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
            and (node.func.attr if isinstance(node.func, ast.Attribute)
                 else getattr(node.func, "id", "")) == name]


def test_one_module_registers_fork_hooks():
    """``os.register_at_fork`` runs in ``_kcapi/forksafe.py`` only, so the hooks' order is
    the one its docstring states, not the order modules happen to be imported in."""
    found = {module: lines for module, tree in _sources()
             if (lines := _calls_named(tree, "register_at_fork"))}
    assert list(found) == ["_kcapi/forksafe.py"], found


def _private_core_uses(tree: ast.AST) -> list[str]:
    """Where a module outside the core imports a private core module or reads a private
    name of one (``_kcapi._syscalls``, ``transform._lookup``)."""
    found, core = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] != "_kcapi":
                continue
            if any(p.startswith("_") for p in parts[1:]):
                found.append(f"{node.lineno}: from {node.module}")
            for alias in node.names:
                if alias.name.startswith("_"):
                    found.append(f"{node.lineno}: {node.module}.{alias.name}")
                elif node.module == "_kcapi":
                    core.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in core and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            found.append(f"{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_the_packages_use_the_cores_public_names_only():
    offences = [f"{module}:{line}" for module, tree in _sources()
                if not module.startswith("_kcapi/") for line in _private_core_uses(tree)]
    assert offences == [], "\n".join(offences)


def test_the_private_name_rule_finds_what_it_should():
    tree = ast.parse("from _kcapi import _syscalls, transform\nfrom _kcapi._libc import x\n"
                     "from _kcapi import routing as r\ntransform._lookup\nr.binds\n")
    assert [line.split(": ")[1] for line in _private_core_uses(tree)] == [
        "_kcapi._syscalls", "from _kcapi._libc", "transform._lookup"]
