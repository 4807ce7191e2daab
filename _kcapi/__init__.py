"""Private core shared by ``kcapi_hashlib`` and ``kcapi_cipher``.

Layers, bottom up:

* :mod:`._syscalls` -- the only module that makes system calls (AF_ALG
  sockets, ``/dev/crypto`` ioctls, splice, pipes), each retried on EINTR; tests
  swap it for a fake.
* :mod:`.errors`, :mod:`.policy`, :mod:`.procfs`, :mod:`.names` -- plain data
  and pure functions: error types, the backend policy, ``/proc/crypto``
  parsing, the table of kernel algorithm names.
* :mod:`.backend_info` -- who served an object; :mod:`.keytag` -- cache keys for
  secret keys; :mod:`.descriptors` -- running out of descriptors, recovered.
* :mod:`.interface` -- the kernel interface the object layer uses (bind an
  algorithm with its key, run a request, clone a hash state, describe the
  driver), written down as protocols.
* :mod:`.af_alg` -- its AF_ALG implementation: bound algorithm sockets
  (:class:`~.af_alg.tfm.Transform`) with bounded pools (:mod:`.pool`) of idle
  operation sockets, and the requests of each algorithm type on them.
* :mod:`.cryptodev` -- its ``/dev/crypto`` implementation (cryptodev-linux's
  ioctls): sessions, hash and cipher requests, AEAD messages.
* :mod:`.transform` -- the transform cache: one bound transform (or the kernel's
  refusal) per interface and algorithm, an LRU of keyed ones; probed lazily; the
  interface chosen per algorithm (``KCAPI_INTERFACE``).
* :mod:`.forksafe` -- the one module that registers fork hooks (once, on first
  use, in the order its docstring states).
* :mod:`.routing` -- who serves a new object, the kernel or software, and why:
  the only reader of the policy and of the probes, for every object kind.
* :mod:`.hash` -- the kernel-backed hash object used for hashes, HMAC and CMAC.
* :mod:`.skcipher` -- the kernel skcipher object: bounded (operation, IV, data)
  requests on pooled op sockets, for kcapi_cipher's block and stream modes.
* :mod:`.aead` -- one-shot kernel AEAD messages, and the counter-mode keystreams
  that GCM, CCM and ChaCha20-Poly1305 are composed from; :mod:`.rng` -- the
  seeded kernel DRBG.

Nothing here runs at import time.
"""
