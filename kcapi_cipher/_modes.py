"""The mode numbers of ``new(key, mode, ...)``, PyCryptodome's and kcapi's.

PyCryptodome numbers its modes 1..16 (``Crypto.Cipher.AES.MODE_*``, 4.5); the
kcapi extensions that only the kernel (or kcapi's own software) serves take
numbers from 101 up, so they never collide with PyCryptodome's.  The
algorithm modules re-export these names; every other module names a mode
by its constant.
"""

from __future__ import annotations

MODE_ECB = 1  #: Electronic Code Book
MODE_CBC = 2  #: Cipher-Block Chaining
MODE_CFB = 3  #: Cipher Feedback
MODE_OFB = 5  #: Output Feedback
MODE_CTR = 6  #: Counter mode
MODE_OPENPGP = 7  #: OpenPGP mode (software only)
MODE_CCM = 8  #: Counter with CBC-MAC
MODE_EAX = 9  #: EAX (software only)
MODE_SIV = 10  #: Synthetic IV (software only)
MODE_GCM = 11  #: Galois/Counter Mode
MODE_OCB = 12  #: Offset Code Book (software only)
MODE_KW = 13  #: Key Wrap (software only)
MODE_KWP = 14  #: Key Wrap with Padding (software only)
MODE_GCM_SIV = 15  #: AES-GCM-SIV, RFC 8452 (software only: the kernel has no gcm-siv)
#: XEX-based tweaked codebook with ciphertext stealing (IEEE 1619): ``tweak=``, one data unit
#: per object, as PyCryptodome's.
MODE_XTS = 16
#: HCTR2 (a tweakable wide-block cipher over AES, 32-byte tweak): the kernel's
#: ``hctr2(aes)`` or the same construction in software.
MODE_HCTR2 = 102
#: Adiantum (XChaCha12 or, with ``rounds=20``, XChaCha20 + AES-256 + NH/Poly1305;
#: 32-byte key and tweak): served only by the kernel.
MODE_ADIANTUM = 103

#: The modes whose single positional argument is the IV, in PyCryptodome's
#: ``_create_cipher``; ECB and CTR take none.
IV_MODES = (MODE_CBC, MODE_CFB, MODE_OFB, MODE_OPENPGP)
