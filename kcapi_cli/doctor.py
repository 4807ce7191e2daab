"""``kcapi doctor``: what the kernel crypto API gives this process, and why not.

It binds every algorithm the library knows (the core's probe, cached per
process: ``_kcapi.routing.probe``), whatever the backend policy says --
a diagnosis must look -- and reads ``/proc/crypto``, ``/proc/sys/crypto``,
``/proc/self/status``, ``/proc/modules`` and ``modprobe.d``.  It exits 0
whenever it ran, whatever it found.

Both kernel interfaces are reported side by side: AF_ALG and ``/dev/crypto``
(cryptodev-linux); each algorithm row says which one serves it under the
interface in force (``KCAPI_INTERFACE``) and what each would give.

``kcapi doctor --json`` prints one JSON object.  Schema ``kcapi-doctor/5``
(within a schema name, fields are only ever added; a removed field or a
change of meaning gets a new name: /5 adds the kernel interfaces (``interface``,
``cryptodev``, each row's ``interface`` and ``doors``) and the reasons
``no-cryptodev`` and ``interface-lacks``; /4 adds ``"backend": "none"`` (an
algorithm no software serves, such as Adiantum, was "fallback" in /3), /3 has
no ``cipher_table``, /2 has no ``restrictions``)::

    {
      "schema": "kcapi-doctor/5",
      "kernel": {"release": str, "machine": str},
      "policy": {"backend": "auto"|"kernel"|"software"|null,   # null: invalid
                 "source": "KCAPI_BACKEND"|"default"|"--backend", "error": str|null},
      "interface": {"chosen": "auto"|"af_alg"|"cryptodev"|null,  # null: invalid (rows: auto)
                    "source": "KCAPI_INTERFACE"|"default"|"--interface", "error": str|null},
      "cryptodev": {                       # /dev/crypto: probe hash 'sha256', else 'sha1'
        "device": str, "present": bool,    # the path, and whether it exists
        "usable": bool, "probe": str,
        "reason": null|"no-cryptodev"|"blocked"|"missing"|"refused",
        "errno": int|null, "errno_name": str|null, "message": str|null
      },
      "af_alg": {                          # probe: bind hash 'sha256', else 'sha1' (AF_ALG only)
        "usable": bool,                    # a probe bound
        "probe": str,                      # the algorithm that bound, or the first refused
        "sockets": bool,                   # socket(AF_ALG) itself works
        "reason": null|"no-af-alg"|"blocked"|"restricted"|"missing"|"refused",
        "errno": int|null, "errno_name": str|null,   # e.g. 97, "EAFNOSUPPORT"
        "message": str|null                # the core's explanation
      },
      "fips": {"path": str, "present": bool, "enabled": bool|null, "value": str|null},
      "af_alg_restrict": {                 # Linux 7.3+: /proc/sys/crypto/af_alg_restrict
        "path": str, "present": bool,
        "value": int|null,                 # 0 off, 1 allow-list, 2 no AF_ALG sockets
        "privileged": bool                 # CAP_NET_ADMIN (initial user ns) or CAP_SYS_ADMIN:
      },                                   # the longer allow-list applies to this process
      "deprecated_af_alg": {               # Linux 7.2+ traits, probed, not read off a version
        "detected": bool,                  # hardware engines are masked out of AF_ALG
        "evidence": str|null
      },
      "seccomp": {"mode": int|null, "filters": int|null},   # mode 2 = filter
      "modules": {
        "loaded": [str],                   # AF_ALG modules in /proc/modules
        "blocked": [{"module": str, "rule": "blacklist"|"install", "file": str,
                     "line": str}]         # modprobe.d rules against them
      },
      "proc_crypto": {"readable": bool, "entries": int},
      "algorithms": [
        {
          "name": str,                     # hashlib / kcapi_cipher name: "sha256",
                                           # "hmac-sha256", "AES.MODE_CBC", ...
          "group": "hash"|"hmac"|"mac"|"cipher"|"aead"|"rng",
          "kind": "hash"|"skcipher"|"aead"|"rng",   # AF_ALG socket type
          "kernel_name": str|null,         # null: no kernel equivalent
          "backend": "kernel"|"fallback"|"none",  # who serves it under the auto policy
                                           # (none: no software can, e.g. Adiantum)
          "served_by": "kernel"|"software"|"refused",  # under the policy in force
          "interface": "af_alg"|"cryptodev"|null,  # the door serving it (null: none)
          "driver": null | {"name": str, "driver": str, "module": str,
                            "priority": int, "type": str, "async": bool,
                            "implementation": "generic"|"arch"|"offload"|"unknown"},
          "reason": null|"no-af-alg"|"blocked"|"restricted"|"missing"|"refused"
                    |"no-kernel-equivalent"|"no-cryptodev"|"interface-lacks",
          "errno": int|null, "errno_name": str|null, "message": str|null,
          "doors": {                       # each interface on its own, side by side
            "af_alg"|"cryptodev": {"available": bool, "driver": str|null,
                                   "implementation": str|null,
                                   "hardware": bool|null,   # an offload engine (cryptodev:
                                   "reason": str|null}      #   SIOP_FLAG_KERNEL_DRIVER_ONLY)
          }
        }, ...
      ]
    }

The algorithms are the typed tables of ``_kcapi.names`` (``names.ALGORITHMS``:
one per group, every algorithm and mode the library serves), in their order.
An AEAD construction is reported with its parts (``AES.MODE_GCM/stream``,
``AES.MODE_GCM/mac``), which serve it where the one-shot AEAD is missing; a
construction with no one-shot kernel AEAD (XChaCha20-Poly1305) has its parts
only.
"""

from __future__ import annotations

import argparse
import errno as errno_module
import glob
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from _kcapi import names, policy, procfs, restriction, routing
from _kcapi.cryptodev import device as cryptodev_device
from _kcapi.transform import Transform
from _kcapi.errors import NO_EQUIVALENT, KernelUnavailableError

__all__ = ["main", "collect", "render_json", "render_table", "SCHEMA", "Probe", "probes",
           "parse_modprobe", "parse_proc_modules"]

SCHEMA = "kcapi-doctor/5"
PROG = "kcapi doctor"

FIPS_PATH = "/proc/sys/crypto/fips_enabled"
AF_ALG_MODULES = ("af_alg", "algif_hash", "algif_skcipher", "algif_aead", "algif_rng")
MODPROBE_DIRS = ("/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d",
                 "/lib/modprobe.d", "/usr/lib/modprobe.d")
#: AF_ALG works here when one of these binds: sha256, else sha1 (the one hash on
#: af_alg_restrict's allow-list for every process).
PROBES = (("hash", "sha256"), ("hash", "sha1"))


@dataclass(frozen=True)
class Probe:
    """One algorithm to ask the kernel about.

    Attributes:
        name: the Python-side name (``'sha256'``, ``'hmac-sha256'``, ``'AES.MODE_CBC'``).
        group: ``'hash'``, ``'hmac'``, ``'mac'``, ``'cipher'``, ``'aead'`` or ``'rng'``.
        kind: the AF_ALG socket type.
        kernel: the kernel algorithm name ('' when the kernel has no equivalent).
        software: whether software serves it where the kernel does not.
    """

    name: str
    group: str
    kind: str
    kernel: str
    software: bool = True


#: The group of an AEAD's part, by its AF_ALG kind: a keystream is a cipher, an authenticator a MAC.
_GROUP_OF_PART = {"skcipher": "cipher", "hash": "mac"}


# -- what to probe --------------------------------------------------------

def probes(tables: dict[str, tuple[names.Algorithm, ...]] = names.ALGORITHMS) -> list[Probe]:
    """One probe per algorithm of the name tables, then one per part of each AEAD.

    Args:
        tables: group -> its algorithms (``_kcapi.names.ALGORITHMS``).

    Returns:
        The probes, in table order; an AEAD without a one-shot kernel AEAD
        contributes its parts only.
    """
    found = []
    for group, algorithms in tables.items():
        for alg in algorithms:
            if alg.kernel or alg.kind != "aead":
                found.append(Probe(alg.name, group, alg.kind, alg.kernel, alg.software))
            found += [Probe(part.name, _GROUP_OF_PART[part.kind], part.kind, part.kernel)
                      for part in alg.parts]
    return found


# -- system facts (pure parsers first) --------------------------------------

def parse_modprobe(text: str, source: str, modules: Sequence[str] = AF_ALG_MODULES
                   ) -> list[dict[str, str]]:
    """Rules in a modprobe.d file that keep an AF_ALG module from loading.

    Args:
        text: the file's contents.
        source: its path (reported with each rule).
        modules: the module names to look for (``-`` and ``_`` are the same).

    Returns:
        ``{"module", "rule", "file", "line"}`` for each ``blacklist MOD`` line and
        each ``install MOD CMD`` whose command does not run modprobe.
    """
    wanted = {m.replace("-", "_") for m in modules}
    found = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        words = line.split()
        if len(words) < 2 or words[1].replace("-", "_") not in wanted:
            continue
        if words[0] == "blacklist" or (words[0] == "install" and "modprobe" not in line):
            found.append({"module": words[1].replace("-", "_"), "rule": words[0],
                          "file": source, "line": line})
    return found


def parse_proc_modules(text: str, modules: Sequence[str] = AF_ALG_MODULES) -> list[str]:
    """The AF_ALG modules listed in ``/proc/modules`` text, in ``modules`` order."""
    loaded = {line.split()[0] for line in text.splitlines() if line.strip()}
    return [m for m in modules if m in loaded]


def _read(path: str) -> str | None:
    """A text file's contents, ``None`` when it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def fips_status(path: str = FIPS_PATH) -> dict[str, Any]:
    """FIPS mode from ``/proc/sys/crypto/fips_enabled`` (absent on kernels without FIPS)."""
    text = _read(path)
    if text is None:
        return {"path": path, "present": False, "enabled": None, "value": None}
    value = text.strip()
    return {"path": path, "present": True, "enabled": value not in ("", "0"), "value": value}


def af_alg_restrict_status() -> dict[str, Any]:
    """``/proc/sys/crypto/af_alg_restrict`` (Linux 7.3+) and whether this process is privileged."""
    value = restriction.setting()
    return {"path": str(restriction.SYSCTL), "present": value is not None, "value": value,
            "privileged": restriction.privileged()}


def deprecated_af_alg_status(restrict: dict[str, Any]) -> dict[str, Any]:
    """Whether this kernel has Linux 7.2's AF_ALG (hardware engines masked out), by its traits.

    The traits: the ``af_alg_restrict`` setting (7.3), or ``ghash`` and
    ``poly1305`` missing as hashes while ``gcm(aes)`` binds as an AEAD (7.2:
    they became library code; before, ``gcm(aes)`` was built on ``ghash``).
    """
    if restrict["present"]:
        return {"detected": True, "evidence": f"{restrict['path']} exists"}
    lacks = [name for name in ("ghash", "poly1305")
             if getattr(routing.probe("hash", name), "reason", None) == "missing"]
    if len(lacks) == 2 and routing.binds("aead", "gcm(aes)"):
        return {"detected": True,
                "evidence": "hash 'ghash' and 'poly1305' are missing while aead 'gcm(aes)' binds"}
    return {"detected": False, "evidence": None}


def seccomp_status(status_text: str | None = None) -> dict[str, int | None]:
    """The ``Seccomp`` and ``Seccomp_filters`` fields of ``/proc/self/status``."""
    text = _read("/proc/self/status") if status_text is None else status_text
    fields: dict[str, int | None] = {"mode": None, "filters": None}
    for line in (text or "").splitlines():
        key, _, value = line.partition(":")
        target = {"Seccomp": "mode", "Seccomp_filters": "filters"}.get(key.strip())
        if target:
            try:
                fields[target] = int(value.strip())
            except ValueError:
                pass
    return fields


def module_status() -> dict[str, Any]:
    """AF_ALG modules loaded, and modprobe.d rules that block them."""
    blocked: list[dict[str, str]] = []
    for directory in MODPROBE_DIRS:
        for path in sorted(glob.glob(os.path.join(directory, "*.conf"))):
            text = _read(path)
            if text:
                blocked.extend(parse_modprobe(text, path))
    return {"loaded": parse_proc_modules(_read("/proc/modules") or ""), "blocked": blocked}


# -- probing -----------------------------------------------------------------

def _errno_name(err: int | None) -> str | None:
    """The symbolic name of an errno (``EAFNOSUPPORT``), ``None`` for none."""
    return None if err is None else errno_module.errorcode.get(err, str(err))


def _refusal_fields(exc: KernelUnavailableError) -> dict[str, Any]:
    """The reason, errno and message fields of a row for a kernel refusal."""
    return {"reason": exc.reason, "errno": exc.errno, "errno_name": _errno_name(exc.errno),
            "message": str(exc)}


def _served_by(available: bool, backend: str | None, software: bool = True) -> str:
    """Who serves a new object under ``backend``: kernel, software, or refused (raises).

    ``software`` is whether software can serve it at all (not Adiantum)."""
    if backend == policy.SOFTWARE:
        return "software" if software else "refused"
    if available:
        return "kernel"
    return "refused" if backend == policy.KERNEL or not software else "software"


#: The kernel interfaces, in the order the table shows them.
DOORS = (policy.AF_ALG_INTERFACE, policy.CRYPTODEV_INTERFACE)


def door_cell(probe: Probe, door: str) -> dict[str, Any]:
    """What ``door`` alone gives for ``probe``: its driver, or why not."""
    if not probe.kernel:
        return {"available": False, "driver": None, "implementation": None, "hardware": None,
                "reason": NO_EQUIVALENT}
    with policy.use_interface(door):
        found = routing.probe(probe.kind, probe.kernel)
    if isinstance(found, KernelUnavailableError):
        return {"available": False, "driver": None, "implementation": None, "hardware": None,
                "reason": found.reason}
    d = found.driver()
    implementation = d.implementation if d is not None else "unknown"
    driver_only = getattr(found, "driver_only", None)
    hardware = driver_only() if driver_only is not None else implementation == "offload"
    return {"available": True, "driver": d.driver if d is not None else "unknown",
            "implementation": "offload" if hardware else implementation,
            "hardware": hardware, "reason": None}


def _driver_fields(tfm: Transform) -> dict[str, Any]:
    """The ``driver`` object of a row, from the transform's ``/proc/crypto`` entry."""
    d = tfm.driver()
    if d is None:
        return {"name": tfm.name, "driver": "unknown", "module": "", "priority": 0,
                "type": "", "async": False, "implementation": "unknown"}
    return {"name": d.name, "driver": d.driver, "module": d.module, "priority": d.priority,
            "type": d.type, "async": d.is_async, "implementation": d.implementation}


def probe_row(probe: Probe, backend: str | None) -> dict[str, Any]:
    """Bind one algorithm (cached by the core) and describe the answer.

    Args:
        probe: the algorithm.
        backend: the policy in force (``None`` if invalid), for ``served_by``.

    Returns:
        One element of the report's ``algorithms`` list.
    """
    row: dict[str, Any] = {"name": probe.name, "group": probe.group, "kind": probe.kind,
                           "kernel_name": probe.kernel or None}
    if not probe.kernel:
        row.update(backend="fallback", served_by=_served_by(False, backend), interface=None,
                   driver=None, reason=NO_EQUIVALENT, errno=None, errno_name=None,
                   message=f"the kernel crypto API has no equivalent of '{probe.name}'")
    else:
        found = routing.probe(probe.kind, probe.kernel)
        if isinstance(found, KernelUnavailableError):
            row.update(backend="fallback" if probe.software else "none",
                       served_by=_served_by(False, backend, probe.software), interface=None,
                       driver=None, **_refusal_fields(found))
        else:
            row.update(backend="kernel", served_by=_served_by(True, backend, probe.software),
                       interface=found.interface, driver=_driver_fields(found), reason=None,
                       errno=None, errno_name=None, message=None)
    row["doors"] = {door: door_cell(probe, door) for door in DOORS}
    return row


def af_alg_status() -> dict[str, Any]:
    """Whether AF_ALG works here: the core's probes (:data:`PROBES`) on AF_ALG alone, and the
    first refusal."""
    with policy.use_interface(policy.AF_ALG_INTERFACE):
        return _door_status()


def cryptodev_status() -> dict[str, Any]:
    """Whether ``/dev/crypto`` works here: the same probes on it alone."""
    path = cryptodev_device.path()
    with policy.use_interface(policy.CRYPTODEV_INTERFACE):
        found = _door_status()
    del found["sockets"]
    return {"device": path, "present": os.path.exists(path), **found}


def interface_status() -> dict[str, Any]:
    """The kernel interface in force, where it came from, or why it is invalid."""
    source = (policy.INTERFACE_ENV_VAR if os.environ.get(policy.INTERFACE_ENV_VAR)
              else "default")
    try:
        return {"chosen": policy.get_interface(), "source": source, "error": None}
    except ValueError as exc:
        return {"chosen": None, "source": source, "error": str(exc)}


def _door_status() -> dict[str, Any]:
    """The probes (:data:`PROBES`) on the interface in force."""
    first = None
    for kind, name in PROBES:
        found = routing.probe(kind, name)
        if not isinstance(found, KernelUnavailableError):
            return {"usable": True, "probe": f"{kind} '{name}'", "sockets": True, "reason": None,
                    "errno": None, "errno_name": None, "message": None}
        first = first or (kind, name, found)
    kind, name, found = first
    # The refusal names the step that failed: past socket(), AF_ALG sockets open.
    return {"usable": False, "probe": f"{kind} '{name}'",
            "sockets": found.step not in ("socket", ""), **_refusal_fields(found)}


def policy_status(override: str | None = None) -> dict[str, Any]:
    """The backend policy in force, where it came from, or why it is invalid."""
    source = "--backend" if override else (
        policy.ENV_VAR if os.environ.get(policy.ENV_VAR) else "default")
    try:
        if override:
            policy.set_backend(override)
        return {"backend": policy.get_backend(), "source": source, "error": None}
    except ValueError as exc:
        return {"backend": None, "source": source, "error": str(exc)}


def collect(backend_override: str | None = None) -> dict[str, Any]:
    """Probe the kernel and read the system's settings into a ``kcapi-doctor/5`` report.

    Args:
        backend_override: ``--backend``, applied before anything is probed.

    Returns:
        The report (see the module docstring for its schema).
    """
    uname = os.uname()
    pol = policy_status(backend_override)
    chosen = interface_status()
    restrict = af_alg_restrict_status()
    drivers = procfs.read()
    af_alg = af_alg_status()
    cryptodev = cryptodev_status()
    with policy.use_interface(chosen["chosen"] or policy.AUTO_INTERFACE):
        rows = [probe_row(p, pol["backend"]) for p in probes()]
    with policy.use_interface(policy.AF_ALG_INTERFACE):
        deprecated = deprecated_af_alg_status(restrict)
    return {
        "schema": SCHEMA,
        "kernel": {"release": uname.release, "machine": uname.machine},
        "policy": pol,
        "interface": chosen,
        "cryptodev": cryptodev,
        "af_alg": af_alg,
        "fips": fips_status(),
        "af_alg_restrict": restrict,
        "deprecated_af_alg": deprecated,
        "seccomp": seccomp_status(),
        "modules": module_status(),
        "proc_crypto": {"readable": os.access(procfs.PROC_CRYPTO, os.R_OK),
                        "entries": len(drivers)},
        "algorithms": rows,
    }


# -- rendering (pure) --------------------------------------------------------

def render_json(report: dict[str, Any]) -> str:
    """The report as indented JSON, with a final newline."""
    return json.dumps(report, indent=2) + "\n"


def _errno_text(errno_value: int | None, errno_name: str | None) -> str:
    """`` [errno 97 EAFNOSUPPORT]``, or '' without an errno."""
    return "" if errno_value is None else f" [errno {errno_value} {errno_name}]"


def _af_alg_lines(af: dict[str, Any]) -> list[str]:
    """The AF_ALG lines of the table: usable, or the reason and the explanation."""
    if af["usable"]:
        return [f"usable ({af['probe']} binds)"]
    head = f"NOT usable: {af['reason']}{_errno_text(af['errno'], af['errno_name'])}"
    if af["sockets"]:
        head += " (AF_ALG sockets open; the probe algorithm does not bind)"
    return [head, af["message"] or ""]


def _cryptodev_lines(cd: dict[str, Any]) -> list[str]:
    """The /dev/crypto lines of the table: usable, or the reason and the explanation."""
    if cd["usable"]:
        return [f"usable ({cd['device']}; {cd['probe']} has a session)"]
    head = f"NOT usable: {cd['reason']}{_errno_text(cd['errno'], cd['errno_name'])}"
    return [head, cd["message"] or ""]


def _door_text(cell: dict[str, Any]) -> str:
    """One door's cell of the table: its driver (``*``: an offload engine), or why not."""
    if cell["available"]:
        return cell["driver"] + ("*" if cell["hardware"] else "")
    return f"({cell['reason']})"


def _setting_lines(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) lines for everything in the report but the algorithms."""
    pol = report["policy"]
    fips = report["fips"]
    seccomp = report["seccomp"]
    modules = report["modules"]
    lines = [("AF_ALG", line) for line in _af_alg_lines(report["af_alg"])]
    lines += [("/dev/crypto", line) for line in _cryptodev_lines(report["cryptodev"])]
    chosen = report["interface"]
    lines.append(("interface", f"{chosen['chosen']} (from {chosen['source']})"
                  + ("; auto: /dev/crypto where it serves an algorithm, else AF_ALG"
                     if chosen["chosen"] == policy.AUTO_INTERFACE else "")
                  if chosen["chosen"] else f"invalid: {chosen['error']} (rows: auto)"))
    lines.append(("kernel", f"{report['kernel']['release']} ({report['kernel']['machine']})"))
    lines.append(("policy", f"{pol['backend']} (from {pol['source']})" if pol["backend"]
                  else f"invalid: {pol['error']}"))
    lines.append(("FIPS mode", ("enabled" if fips["enabled"] else "disabled")
                  + f" ({fips['path']} = {fips['value']})" if fips["present"]
                  else f"absent ({fips['path']})"))
    restrict = report["af_alg_restrict"]
    if restrict["present"]:
        meaning = {0: "no restriction", 1: "bind() only names on an allow-list",
                   2: "no AF_ALG sockets"}.get(restrict["value"], "unknown value")
        who = ("privileged: CAP_NET_ADMIN or CAP_SYS_ADMIN" if restrict["privileged"]
               else "unprivileged: the short allow-list applies")
        lines.append(("af_alg_restrict", f"{restrict['value']}: {meaning} ({restrict['path']}; "
                      f"this process is {who})"))
    else:
        lines.append(("af_alg_restrict", f"absent ({restrict['path']}: before Linux 7.3)"))
    deprecated = report["deprecated_af_alg"]
    if deprecated["detected"]:
        lines.append(("hardware", "crypto engines (off-CPU drivers) are not reachable through "
                      f"AF_ALG on this kernel (Linux 7.2+: {deprecated['evidence']})"))
    mode = seccomp["mode"]
    lines.append(("seccomp", {None: "unknown", 0: "off (mode 0)", 1: "strict (mode 1)",
                              2: f"filter (mode 2, {seccomp['filters']} filters)"}.get(
                                  mode, f"mode {mode}")))
    lines.append(("modules loaded", " ".join(modules["loaded"]) or
                  "none listed (built in, or not loaded yet)"))
    if modules["blocked"]:
        for rule in modules["blocked"]:
            lines.append(("modprobe block", f"{rule['line']}  ({rule['file']})"))
    else:
        lines.append(("modprobe block", "none"))
    crypto = report["proc_crypto"]
    lines.append(("/proc/crypto", f"{crypto['entries']} entries" if crypto["readable"]
                  else "not readable"))
    return lines


def _row_cells(row: dict[str, Any]) -> list[str]:
    """The table cells of one algorithm row."""
    d = row["driver"]
    note = ""
    if row["reason"]:
        note = row["reason"] + _errno_text(row["errno"], row["errno_name"])
    if row["served_by"] == "refused":
        # a fallback exists only the kernel policy refuses; otherwise no software can serve
        why = ("refused under the kernel policy" if row["backend"] == "fallback"
               else "no software implementation")
        note = (note + "; " if note else "") + why
    return [row["name"], row["kind"], row["kernel_name"] or "-", row["backend"],
            row["interface"] or "-", d["driver"] if d else "-", str(d["priority"]) if d else "-",
            d["implementation"] if d else "-", (d["module"] or "-") if d else "-",
            _door_text(row["doors"][policy.CRYPTODEV_INTERFACE]), note]


def render_table(report: dict[str, Any]) -> str:
    """The report as text for people: the settings, then one line per algorithm."""
    out = ["kcapi doctor: the Linux kernel crypto API (AF_ALG, /dev/crypto) as this process "
           "sees it", ""]
    settings = _setting_lines(report)
    width = max(len(k) for k, _ in settings)
    previous = None
    for key, value in settings:
        label = key if key != previous else ""
        out.append(f"{label:<{width}}  {value}".rstrip())
        previous = key
    header = ["ALGORITHM", "KIND", "KERNEL NAME", "BACKEND", "DOOR", "DRIVER", "PRIO", "IMPL",
              "MODULE", "/DEV/CRYPTO", "NOTE"]
    rows = [_row_cells(r) for r in report["algorithms"]]
    widths = [max(len(c[i]) for c in [header] + rows) for i in range(len(header) - 1)]
    out.append("")
    for cells in [header] + rows:
        text = "  ".join(f"{c:<{w}}" for c, w in zip(cells, widths)) + "  " + cells[-1]
        out.append(text.rstrip())
    kernel = sum(1 for r in report["algorithms"] if r["backend"] == "kernel")
    out.append("")
    out.append(f"{kernel} of {len(report['algorithms'])} algorithms served by the kernel; "
               "the others fall back to software (hashlib, PyCryptodome) under the auto policy.")
    out.append("DOOR: the kernel interface serving it; /DEV/CRYPTO: what /dev/crypto alone "
               "gives (a driver, * an offload engine; or why not).")
    return "\n".join(out) + "\n"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``kcapi doctor``."""
    parser = argparse.ArgumentParser(prog=PROG, description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", action="store_true",
                        help=f"print one JSON object (schema {SCHEMA}) instead of a table")
    parser.add_argument("--backend", choices=policy.BACKENDS,
                        help="policy to report 'served_by' for (default: $KCAPI_BACKEND, else auto)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The ``kcapi doctor`` command.

    Args:
        argv: the arguments after ``doctor`` (default ``sys.argv[1:]``).

    Returns:
        0 whenever the report was printed (whatever it says); 2 for a bad command line.
    """
    try:
        args = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    report = collect(args.backend)
    sys.stdout.write(render_json(report) if args.json else render_table(report))
    sys.stdout.flush()
    return 0
