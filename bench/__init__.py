"""Benchmarks: kcapi against raw AF_ALG socket code, hashlib/PyCryptodome and libkcapi."""
