#!/usr/bin/env python3
"""Exit 0 when this kernel serves AF_ALG hashes (binds sha256), 1 otherwise."""

import socket
import sys

try:
    with socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET, 0) as s:
        s.bind(("hash", "sha256"))
except OSError:
    sys.exit(1)
