"""The ``/dev/crypto`` interface to the kernel crypto API (cryptodev-linux; the OpenBSD API).

The second door into the same kernel algorithms, beside :mod:`_kcapi.af_alg`:
an out-of-tree driver (cryptodev-linux) whose ioctls call the crypto API
directly, so neither ``af_alg_restrict`` (Linux 7.3) nor the 7.2 mask on
off-CPU drivers applies to it.  FreeBSD and NetBSD ship the same ABI family
(opencrypto(9)); only Linux's cryptodev-linux is tested here.

* :mod:`.abi` -- the ioctl numbers, algorithm ids and flags of ``crypto/cryptodev.h``,
  and the kernel names each id stands for;
* :mod:`.device` -- the process's one descriptor of the device (opened on first use;
  a refusal explained and cached);
* :mod:`.tfm` -- :class:`~.tfm.Transform`: a keyed algorithm, as sessions
  (``CIOCGSESSION``): one shared by every cipher request, a pool of hash sessions;
* :mod:`.hashing` -- hash requests (``CIOCCRYPT`` with ``COP_FLAG_UPDATE`` /
  ``COP_FLAG_FINAL``; ``CIOCCPHASH`` clones a state);
* :mod:`.requests` -- skcipher requests (``CIOCCRYPT`` with an IV) and AEAD
  messages (``CIOCAUTHCRYPT``).

This package implements the interface of :mod:`_kcapi.interface`.  Every system
call goes through :data:`_kcapi._syscalls.kernel`.  Nothing here runs at import time.
"""
