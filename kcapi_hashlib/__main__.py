"""``python -m kcapi_hashlib``: hash files through the kernel and say who served them.

Prints ``<hex digest>  <file>`` lines (as sha256sum does) on stdout and, on
stderr, which implementation served the algorithm: the kernel driver with its
priority, or the software fallback with the reason.
"""

from __future__ import annotations

import argparse
import sys

import kcapi_hashlib


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kcapi_hashlib", description=__doc__.splitlines()[0])
    parser.add_argument("-a", "--algorithm", default="sha256", help="hash name (default sha256)")
    parser.add_argument("--backend", choices=("auto", "kernel", "software"),
                        help="backend policy (default: $KCAPI_BACKEND or auto)")
    parser.add_argument("files", nargs="*", default=["-"], help="files to hash ('-' is stdin)")
    args = parser.parse_args(argv)
    if args.backend:
        kcapi_hashlib.set_backend(args.backend)
    status = 0
    served = None
    for name in args.files:
        try:
            if name == "-":
                h = kcapi_hashlib.file_digest(sys.stdin.buffer, args.algorithm)
            else:
                with open(name, "rb") as f:
                    h = kcapi_hashlib.file_digest(f, args.algorithm)
        except kcapi_hashlib.KernelUnavailableError as exc:
            print(f"python -m kcapi_hashlib: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"python -m kcapi_hashlib: {name}: {exc.strerror or exc}", file=sys.stderr)
            status = 1
            continue
        print(f"{h.hexdigest()}  {name}")
        served = kcapi_hashlib.backend_info(h)
    if served is not None:
        if served.backend == "kernel":
            print(f"# {args.algorithm}: kernel algorithm {served.algorithm}, driver "
                  f"{served.driver} (priority {served.priority}, {served.implementation})",
                  file=sys.stderr)
        else:
            print(f"# {args.algorithm}: software ({served.driver}); {served.reason}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
