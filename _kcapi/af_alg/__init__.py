"""The AF_ALG interface to the kernel crypto API (``algif_hash``, ``algif_skcipher``,
``algif_aead``, ``algif_rng``).

* :mod:`.pool` -- bounded pools of idle operation sockets, one mechanism for
  socket objects and for plain descriptors;
* :mod:`.tfm` -- :class:`~.tfm.Transform`: one bound (and keyed) AF_ALG socket,
  the kernel's ``crypto_tfm``, with its pools;
* :mod:`.hashing` -- hash requests on op descriptors (``MSG_MORE`` sends,
  finalizing reads, files spliced through a pipe, PBKDF2);
* :mod:`.requests` -- skcipher and AEAD requests (control messages, bounded by
  the socket buffers) and DRBG reads on op sockets.

This package implements the interface of :mod:`_kcapi.interface`; the object
layer (:mod:`_kcapi.hash`, :mod:`_kcapi.skcipher`, :mod:`_kcapi.aead`,
:mod:`_kcapi.rng`) reaches the kernel through it only.

Every system call goes through :data:`_kcapi._syscalls.kernel`.  Nothing here
runs at import time.
"""
