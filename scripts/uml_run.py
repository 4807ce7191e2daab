#!/usr/bin/env python3
"""Run one command inside a User-Mode Linux kernel that has AF_ALG.

The host kernel of the development and CI machines is built without AF_ALG,
so the kernel tests need a kernel of their own: User-Mode Linux runs a real
Linux kernel as an ordinary process, with the host's ``/`` as its root file
system (hostfs), so the checkout, Python and the virtual environment are all
there at the same paths.

Usage::

    scripts/uml_run.py [--kernel PATH] [--timeout S] [--env K=V ...]
                       [--af-alg-restrict {0,1,2}] [--drop-caps] [--cryptodev] -- CMD ARG...

The command's output streams to this process's stdout; the exit status of
the command becomes this script's exit status (linux.uml's own says nothing,
so the guest writes the status to a file on the host tree).  Exit 124 means
the timeout was hit, 125 that the guest never reported a status, 123 that the
guest cannot provide the requested regime (below); the command did not run.

Regimes (Linux 7.3's ``/proc/sys/crypto/af_alg_restrict``): ``--af-alg-restrict
N`` writes N there before the command and checks it was taken (0: no
restriction; 1, the default: bind() only names on an allow-list, most of them
for privileged processes only; 2: no AF_ALG sockets).  A kernel without that
file cannot provide any of them: exit 123.  ``--drop-caps`` runs the command
through ``capsh --drop=cap_net_admin,cap_sys_admin`` (uid 0 is kept, so an
interpreter under /root still runs): the capabilities 7.3's allow-list
checks, so the command is an unprivileged process for AF_ALG; the init checks
that neither is left in the command's effective or bounding set.

``/dev/crypto``: the 7.3 kernel built here has cryptodev-linux built in
(scripts/build-uml-kernel), so its devtmpfs has the node.  It is there for the
command only with ``--cryptodev`` (a kernel without the driver: exit 123);
otherwise the init removes it, and the guest is a machine without the module
loaded (``open`` gives ENOENT), as most machines are.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_KERNEL = "/usr/bin/linux.uml"
SHIM_SOURCE = Path(__file__).with_name("uml") / "xstate_shim.c"
CACHE = Path(os.environ.get("KCAPI_UML_CACHE")
             or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kcapi-uml")
UML_MODULE_ROOT = Path("/usr/lib/uml/modules")

# Loaded explicitly where the kernel has loadable modules (Debian's package);
# a self-built kernel has them built in and modprobe is skipped.
CRYPTO_MODULES = (
    "af_alg algif_hash algif_skcipher algif_aead algif_rng "
    "md4 md5 sha1_generic sha256_generic sha512_generic sha3_generic "
    "blake2b_generic rmd160 streebog_generic wp512 sm3_generic xxhash_generic "
    "crc32_generic crc32c_generic hmac cmac xcbc aes_generic des_generic "
    "ecb cbc ctr cfb ofb xts cts lrw gcm ccm ghash-generic chacha_generic "
    "poly1305_generic chacha20poly1305 drbg jitterentropy_rng seqiv echainiv authenc "
    "nhpoly1305 adiantum"
).split()

INIT_TEMPLATE = r"""#!/bin/bash
# PID 1 inside the UML guest: written by scripts/uml_run.py.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /run
# The guest's own device nodes (the host's /dev may lack shm, which POSIX
# semaphores -- multiprocessing -- need).
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/shm /dev/pts
mount -t tmpfs tmpfs /dev/shm
WORK={work}
MODDIR={moddir}
if [ -n "$MODDIR" ]; then
    mkdir -p "$WORK/modroot"
    ln -sfn "$MODDIR" "$WORK/modroot/$(uname -r)"
    mount --bind "$WORK/modroot" /lib/modules
    for m in {modules}; do
        modprobe -q "$m" 2>/dev/null || echo "uml_run: module $m not loaded" >&2
    done
fi
halt() {{
    sync
    echo o > /proc/sysrq-trigger 2>/dev/null
    /sbin/poweroff -f -f 2>/dev/null
    python3 -c 'import ctypes; ctypes.CDLL(None).reboot(0x4321fedc)'
}}
refuse() {{  # the guest cannot provide the requested regime: say why, do not run
    echo "uml_run: REGIME UNAVAILABLE: $*" >&2
    echo {unavailable} > "$WORK/status"
    halt
    exit 1
}}
RESTRICT={restrict}
SYSCTL=/proc/sys/crypto/af_alg_restrict
if [ -n "$RESTRICT" ]; then
    [ -e "$SYSCTL" ] || refuse "this kernel ($(uname -r)) has no $SYSCTL: cannot set af_alg_restrict=$RESTRICT"
    echo "$RESTRICT" > "$SYSCTL" || refuse "writing $RESTRICT to $SYSCTL failed"
    [ "$(cat "$SYSCTL")" = "$RESTRICT" ] || refuse "$SYSCTL reads $(cat "$SYSCTL") after writing $RESTRICT"
fi
DROP_CAPS={drop_caps}
if [ "$DROP_CAPS" = 1 ]; then
    command -v capsh >/dev/null || refuse "--drop-caps needs capsh (package libcap2-bin)"
    # CAP_NET_ADMIN is bit 12, CAP_SYS_ADMIN bit 21 of the capability masks.
    masks=$(capsh --drop=cap_net_admin,cap_sys_admin -- -c 'grep -E "^Cap(Eff|Bnd):" /proc/self/status')
    [ -n "$masks" ] || refuse "capsh --drop=cap_net_admin,cap_sys_admin did not run"
    held=""
    while read -r mask value; do
        (( 0x$value & 0x201000 )) && held="$held $mask"
    done <<< "$masks"
    [ -z "$held" ] || refuse "capsh --drop left CAP_NET_ADMIN/CAP_SYS_ADMIN in:$held"
fi
CRYPTODEV={cryptodev}
if [ "$CRYPTODEV" = 1 ]; then
    [ -c /dev/crypto ] || refuse "this kernel ($(uname -r)) has no /dev/crypto (cryptodev-linux is not built in)"
    # The driver logs every failed tag check (pr_err): keep those off the console, which
    # is the command's output (dmesg still has them).
    echo 3 > /proc/sys/kernel/printk
else
    rm -f /dev/crypto
fi
cd {cwd}
{exports}
echo "uml_run: kernel $(uname -r) ready;" \
    "af_alg_restrict=$(cat "$SYSCTL" 2>/dev/null || echo none);" \
    "caps $([ "$DROP_CAPS" = 1 ] && echo 'without cap_net_admin,cap_sys_admin' || echo 'of root');" \
    "/dev/crypto $([ -c /dev/crypto ] && echo present || echo absent)" >&2
{command}
echo $? > "$WORK/status"
halt
"""

# Exit status when the guest cannot provide the requested regime.
REGIME_UNAVAILABLE = 123
DROPPED_CAPS = "cap_net_admin,cap_sys_admin"


def module_dir(release: str) -> str:
    """Return the modules directory of a packaged kernel ('' if it has none)."""
    candidate = UML_MODULE_ROOT / release
    return str(candidate) if release and candidate.is_dir() else ""


def kernel_release(kernel: str) -> str:
    """Return the release string ``kernel --version`` prints ('' if none)."""
    try:
        return subprocess.run([kernel, "--version"], capture_output=True, text=True,
                              timeout=30, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def xstate_shim(release: str) -> str:
    """Build (once) the ptrace shim that UML kernels before 6.13 need on AMX hosts.

    Returns the path of the shared object, or '' for kernels that size their
    FPU buffers from the host (see scripts/uml/xstate_shim.c).
    """
    try:
        major, minor = (int(x) for x in release.split(".")[:2])
    except ValueError:
        return ""
    if (major, minor) >= (6, 13):
        return ""
    digest = hashlib.sha256(SHIM_SOURCE.read_bytes()).hexdigest()[:12]
    target = CACHE / f"xstate_shim-{digest}.so"
    if not target.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(tmp), str(SHIM_SOURCE), "-ldl"],
                       check=True)
        tmp.replace(target)
    return str(target)


def guest_command(command: list[str], drop_caps: bool) -> str:
    """The shell line that runs ``command`` in the guest (without the two capabilities)."""
    line = shlex.join(command)
    if not drop_caps:
        return line
    return shlex.join(["capsh", f"--drop={DROPPED_CAPS}", "--", "-c", f"exec {line}"])


#: Host mappings UML may hold: every guest page a guest process touches is one host
#: mapping, so the default 65530 stops a guest process at ~256 MiB ("UML ran out of
#: memory on the host side"), which the whole suite in one pytest process passes.
MAX_MAP_COUNT = 1 << 20


def raise_map_count(path: Path = Path("/proc/sys/vm/max_map_count")) -> None:
    """Let UML map enough pages for the whole suite (needs root; else say why it may fail)."""
    try:
        if int(path.read_text()) >= MAX_MAP_COUNT:
            return
        path.write_text(f"{MAX_MAP_COUNT}\n")
    except OSError as exc:
        print(f"uml_run: cannot raise vm.max_map_count to {MAX_MAP_COUNT} ({exc}); a guest "
              "process past ~256 MiB will be killed", file=sys.stderr)


def run(kernel: str, command: list[str], env: dict[str, str], timeout: float, mem: str,
        restrict: int | None = None, drop_caps: bool = False, cryptodev: bool = False) -> int:
    """Boot ``kernel``, run ``command`` inside with ``env``, return its status.

    ``restrict`` (0, 1, 2) is written to ``/proc/sys/crypto/af_alg_restrict``
    first; ``drop_caps`` runs the command without CAP_NET_ADMIN/CAP_SYS_ADMIN;
    ``cryptodev`` keeps ``/dev/crypto`` (removed otherwise).
    Returns REGIME_UNAVAILABLE without running it where the guest cannot do that.
    """
    raise_map_count()
    release = kernel_release(kernel)
    moddir = module_dir(release)
    host_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": os.environ.get("HOME", "/root")}
    shim = xstate_shim(release)
    if shim:
        host_env["LD_PRELOAD"] = shim
    if moddir:
        Path("/lib/modules").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="uml-run-") as work:
        init = Path(work, "init.sh")
        exports = "\n".join(f"export {k}={shlex.quote(v)}" for k, v in env.items())
        init.write_text(
            INIT_TEMPLATE.format(
                work=shlex.quote(work),
                moddir=shlex.quote(moddir),
                modules=" ".join(CRYPTO_MODULES),
                cwd=shlex.quote(os.getcwd()),
                exports=exports,
                command=guest_command(command, drop_caps),
                restrict="" if restrict is None else str(restrict),
                drop_caps=int(drop_caps),
                cryptodev=int(cryptodev),
                unavailable=REGIME_UNAVAILABLE,
            )
        )
        init.chmod(0o755)
        argv = [
            kernel, f"mem={mem}", "root=/dev/root", "rootfstype=hostfs", "rootflags=/",
            "rw", "quiet", "con=null", "con0=fd:0,fd:1", f"init={init}",
        ]
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True,
                                env={**host_env, "TMPDIR": work})
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            print(f"uml_run: timed out after {timeout:.0f} s; guest killed", file=sys.stderr)
            return 124
        finally:
            try:  # UML leaves helper processes in its group on some exits
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        status = Path(work, "status")
        elapsed = time.monotonic() - started
        if not status.exists():
            print(f"uml_run: guest stopped after {elapsed:.0f} s without a status", file=sys.stderr)
            return 125
        code = int(status.read_text().strip() or 125)
        if code == REGIME_UNAVAILABLE:
            print(f"uml_run: the guest cannot provide the requested regime (see above); "
                  f"command not run (exit {code})", file=sys.stderr)
            return code
        print(f"uml_run: guest command exited {code} after {elapsed:.0f} s", file=sys.stderr)
        return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernel", default=os.environ.get("KCAPI_UML_KERNEL", DEFAULT_KERNEL),
                        help="UML kernel binary (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds (default 1800)")
    parser.add_argument("--mem", default="2G", help="guest memory (default 2G)")
    parser.add_argument("--env", action="append", default=[], metavar="K=V",
                        help="environment variable for the command (repeatable)")
    parser.add_argument("--af-alg-restrict", type=int, choices=(0, 1, 2), default=None,
                        metavar="N", help="write N (0, 1, 2) to /proc/sys/crypto/af_alg_restrict "
                                          "before the command (Linux 7.3+; else exit 123)")
    parser.add_argument("--drop-caps", action="store_true",
                        help=f"run the command without {DROPPED_CAPS} (capsh --drop)")
    parser.add_argument("--cryptodev", action="store_true",
                        help="keep /dev/crypto (cryptodev-linux) for the command (else it is "
                             "removed; a kernel without it: exit 123)")
    parser.add_argument("command", nargs="+", help="command to run inside the guest")
    args = parser.parse_args(argv)
    if not os.access(args.kernel, os.X_OK):
        parser.error(f"no executable UML kernel at {args.kernel}")
    env = {"HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8",
           "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--env needs K=V, got {item!r}")
        env[key] = value
    return run(args.kernel, args.command, env, args.timeout, args.mem,
               restrict=args.af_alg_restrict, drop_caps=args.drop_caps, cryptodev=args.cryptodev)


if __name__ == "__main__":
    sys.exit(main())
