"""/proc/crypto parsing as a pure function (no kernel needed)."""

from _kcapi import procfs

SAMPLE = """\
name         : sha256
driver       : sha256-generic
module       : kernel
priority     : 100
refcnt       : 1
selftest     : passed
internal     : no
type         : shash
blocksize    : 64
digestsize   : 32

name         : sha256
driver       : sha256-avx2
module       : sha256_ssse3
priority     : 170
refcnt       : 1
selftest     : passed
internal     : no
type         : shash
blocksize    : 64
digestsize   : 32

name         : sha256
driver       : sha256-broken
module       : broken
priority     : 900
selftest     : unknown
internal     : no
type         : shash

name         : __sha256
driver       : __sha256-internal
module       : kernel
priority     : 999
selftest     : passed
internal     : yes
type         : shash

name         : hmac(sha256)
driver       : hmac(sha256-generic)
module       : hmac
priority     : 100
selftest     : passed
internal     : no
type         : shash

name         : cbc(aes)
driver       : cbc-aes-caam
module       : caamalg
priority     : 3000
selftest     : passed
internal     : no
async        : yes
type         : skcipher

name         : cbc(aes)
driver       : cbc(aes-generic)
module       : kernel
priority     : 100
selftest     : passed
internal     : no
type         : skcipher
"""


def test_parse_reads_every_block():
    drivers = procfs.parse(SAMPLE)
    assert [d.driver for d in drivers] == [
        "sha256-generic", "sha256-avx2", "sha256-broken", "__sha256-internal",
        "hmac(sha256-generic)", "cbc-aes-caam", "cbc(aes-generic)"]
    assert drivers[0].priority == 100 and drivers[0].module == "kernel"
    assert drivers[5].is_async and not drivers[0].is_async
    assert drivers[3].internal


def test_best_driver_is_the_highest_tested_public_one():
    drivers = procfs.parse(SAMPLE)
    best = procfs.best_driver(drivers, "hash", "sha256")
    assert best is not None and best.driver == "sha256-avx2"
    assert procfs.best_driver(drivers, "skcipher", "cbc(aes)").driver == "cbc-aes-caam"
    assert procfs.best_driver(drivers, "hash", "cbc(aes)") is None  # wrong type
    assert procfs.best_driver(drivers, "hash", "md5") is None


def test_implementation_kinds():
    by_driver = {d.driver: d for d in procfs.parse(SAMPLE)}
    assert by_driver["sha256-generic"].implementation == "generic"
    assert by_driver["hmac(sha256-generic)"].implementation == "generic"
    assert by_driver["cbc(aes-generic)"].implementation == "generic"
    assert by_driver["sha256-avx2"].implementation == "arch"
    assert by_driver["cbc-aes-caam"].implementation == "offload"


def test_parse_tolerates_junk():
    assert procfs.parse("") == []
    assert procfs.parse("garbage\n\nname : x\n") == []  # no driver line
    odd = procfs.parse("name : x\ndriver : y\npriority : high\n")
    assert odd[0].priority == 0
