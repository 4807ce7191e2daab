"""Constants of the AF_ALG interface (``linux/if_alg.h``), defined where Python lacks them."""

import socket

AF_ALG: int = getattr(socket, "AF_ALG", 38)
SOL_ALG: int = getattr(socket, "SOL_ALG", 279)

ALG_SET_KEY = 1
ALG_SET_IV = 2
ALG_SET_OP = 3
ALG_SET_AEAD_ASSOCLEN = 4
ALG_SET_AEAD_AUTHSIZE = 5
ALG_SET_DRBG_ENTROPY = 6  # Linux 5.13+, CONFIG_CRYPTO_USER_API_RNG_CAVP
ALG_SET_KEY_BY_KEY_SERIAL = 7  # Linux 6.2+

ALG_OP_DECRYPT = 0
ALG_OP_ENCRYPT = 1

MSG_MORE: int = getattr(socket, "MSG_MORE", 0x8000)

SPLICE_F_MOVE = 1
SPLICE_F_MORE = 4
F_SETPIPE_SZ = 1031

# Socket types of ``bind((type, name))``.
HASH = "hash"
SKCIPHER = "skcipher"
AEAD = "aead"
RNG = "rng"
