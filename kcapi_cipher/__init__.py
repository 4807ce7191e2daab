"""PyCryptodome-style ciphers served by the Linux kernel crypto API (AF_ALG).

``from kcapi_cipher import AES`` replaces ``from Crypto.Cipher import AES``.
"""
