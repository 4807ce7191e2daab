"""Private core shared by ``kcapi_hashlib`` and ``kcapi_cipher``.

Layers, bottom up:

* :mod:`._syscalls` -- the only module that makes system calls (AF_ALG
  sockets, splice, pipes), each retried on EINTR; tests swap it for a fake.
* :mod:`.errors`, :mod:`.policy`, :mod:`.procfs`, :mod:`.names` -- plain data
  and pure functions: error types, the backend policy, ``/proc/crypto``
  parsing, the table of kernel algorithm names.
* :mod:`.transform` -- bound algorithm sockets (one per algorithm and key),
  cached and probed lazily, each with a bounded pool of idle operation sockets.
* :mod:`.hash` -- the kernel-backed hash object used for hashes, HMAC and CMAC.

Nothing here runs at import time.
"""
