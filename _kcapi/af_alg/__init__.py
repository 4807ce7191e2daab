"""The AF_ALG interface to the kernel crypto API (``algif_hash``, ``algif_skcipher``,
``algif_aead``, ``algif_rng``).

* :mod:`.pool` -- bounded pools of idle operation sockets, one mechanism for
  socket objects and for plain descriptors;
* :mod:`.tfm` -- :class:`~.tfm.Transform`: one bound (and keyed) AF_ALG socket,
  the kernel's ``crypto_tfm``, with its pools.

Every system call goes through :data:`_kcapi._syscalls.kernel`.  Nothing here
runs at import time.
"""
