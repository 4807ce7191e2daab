"""Published test vectors: FIPS 180-4 / FIPS 202 examples, RFC 1321, RFC 7693,
RFC 4231 (HMAC-SHA-2), RFC 2202 (HMAC-SHA-1/MD5), RFC 6070 (PBKDF2-HMAC-SHA1),
plus the reference values of the kernel-only hashes.

They run under whatever policy is in force: on a host without AF_ALG through
the software fallback, in the kernel run with every object served by the kernel.
"""

import pytest

import kcapi_hashlib
from kcapi_hashlib import hmac

from ..support import optional_kernel_alg

ABC = b"abc"
MSG448 = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
MSG896 = (b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
          b"ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu")
MILLION_A = b"a" * 1_000_000

HASH_VECTORS = [
    ("sha1", ABC, "a9993e364706816aba3e25717850c26c9cd0d89d"),
    ("sha1", MSG448, "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
    ("sha1", MILLION_A, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"),
    ("sha224", ABC, "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"),
    ("sha256", b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ("sha256", ABC, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ("sha256", MSG448, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ("sha256", MILLION_A, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
    ("sha384", ABC, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
                    "8086072ba1e7cc2358baeca134c825a7"),
    ("sha384", MSG896, "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712"
                       "fcc7c71a557e2db966c3e9fa91746039"),
    ("sha512", ABC, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
    ("sha512", MSG896, "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
                       "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909"),
    ("sha3_224", ABC, "e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf"),
    ("sha3_256", ABC, "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"),
    ("sha3_384", ABC, "ec01498288516fc926459f58e2c6ad8df9b473cb0fc08c2596da7cf0e49be4b2"
                      "98d88cea927ac7f539f1edf228376d25"),
    ("sha3_512", ABC, "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e"
                      "10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0"),
    ("md5", b"", "d41d8cd98f00b204e9800998ecf8427e"),
    ("md5", ABC, "900150983cd24fb0d6963f7d28e17f72"),
    ("md5", b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
    ("blake2b", ABC, "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
                     "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"),
]


@pytest.mark.parametrize("name,message,expected", HASH_VECTORS,
                         ids=[f"{n}-{len(m)}" for n, m, _ in HASH_VECTORS])
def test_published_hash_vectors(name, message, expected):
    assert kcapi_hashlib.new(name, message).hexdigest() == expected
    assert getattr(kcapi_hashlib, name)(message).hexdigest() == expected


# Kernel-only hashes: (name, kernel name, message, expected digest).
KERNEL_ONLY_VECTORS = [
    ("ripemd160", "rmd160", b"", "9c1185a5c5e9fc54612808977ee8f548b2258d31"),
    ("ripemd160", "rmd160", ABC, "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"),
    ("whirlpool", "wp512", b"", "19fa61d75522a4669b44e39c1d2e1726c530232130d407f89afee0964997f7a7"
                               "3e83be698b288febcf88e3e03c4f0757ea8964e59b63d93708b138cc42a66eb3"),
    ("whirlpool", "wp512", ABC, "4e2448a4c6f486bb16b6562c73b4020bf3043e3a731bce721ae1b303d97e6d4c"
                                "7181eebdb6c57e277d0e34957114cbd6c797fc9d95d8b582d225292076d4eef5"),
    ("sm3", "sm3", ABC, "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    # RFC 6986 (GOST R 34.11-2012) example M1, as the kernel's testmgr checks it.
    ("streebog512", "streebog512",
     b"012345678901234567890123456789012345678901234567890123456789012",
     "1b54d01a4af5b9d5cc3d86d68d285462b19abc2475222f35c085122be4ba1ffa"
     "00ad30f8767b3a82384c6574f024c311e2a481332b08ef7f41797891c1646f48"),
    ("streebog256", "streebog256",
     b"012345678901234567890123456789012345678901234567890123456789012",
     "9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500"),
    # CRC-32C check value of "123456789" is 0xe3069283; the kernel emits it little-endian.
    ("crc32c", "crc32c", b"123456789", "839206e3"),
    # XXH64 of the empty input with seed 0 is 0xef46db3751d8e999, little-endian.
    ("xxhash64", "xxhash64", b"", "99e9d85137db46ef"),
]


@pytest.mark.kernel
@pytest.mark.parametrize("name,kernel_name,message,expected", KERNEL_ONLY_VECTORS,
                         ids=[f"{n}-{len(m)}" for n, _, m, _ in KERNEL_ONLY_VECTORS])
def test_kernel_only_hash_vectors(name, kernel_name, message, expected):
    optional_kernel_alg("hash", kernel_name)
    with kcapi_hashlib.use_backend("kernel"):
        h = kcapi_hashlib.new(name, message)
        assert kcapi_hashlib.backend_info(h).backend == "kernel"
        assert h.hexdigest() == expected
        # The kernel's own spelling reaches the same algorithm.
        assert kcapi_hashlib.new(kernel_name, message).hexdigest() == expected


# RFC 4231 (HMAC-SHA-224/256/384/512) and RFC 2202 (HMAC-SHA-1, HMAC-MD5).
_LONG_KEY = b"\xaa" * 131
HMAC_VECTORS = [
    ("sha224", b"\x0b" * 20, b"Hi There", "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22"),
    ("sha256", b"\x0b" * 20, b"Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    ("sha384", b"\x0b" * 20, b"Hi There",
     "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
     "faea9ea9076ede7f4af152e8b2fa9cb6"),
    ("sha512", b"\x0b" * 20, b"Hi There",
     "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
     "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"),
    ("sha224", b"Jefe", b"what do ya want for nothing?",
     "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44"),
    ("sha256", b"Jefe", b"what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    ("sha384", b"Jefe", b"what do ya want for nothing?",
     "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
     "8e2240ca5e69e2c78b3239ecfab21649"),
    ("sha512", b"Jefe", b"what do ya want for nothing?",
     "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
     "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"),
    ("sha256", b"\xaa" * 20, b"\xdd" * 50,
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    ("sha256", bytes(range(1, 26)), b"\xcd" * 50,
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    ("sha256", _LONG_KEY, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    ("sha512", _LONG_KEY, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
     "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"),
    ("sha256", _LONG_KEY,
     b"This is a test using a larger than block-size key and a larger than block-size data. "
     b"The key needs to be hashed before being used by the HMAC algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ("sha1", b"\x0b" * 20, b"Hi There", "b617318655057264e28bc0b6fb378c8ef146be00"),
    ("sha1", b"Jefe", b"what do ya want for nothing?", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
    ("md5", b"Jefe", b"what do ya want for nothing?", "750c783e6ab0b503eaa86e310a5db738"),
]


@pytest.mark.parametrize("digestmod,key,msg,expected", HMAC_VECTORS,
                         ids=[f"{d}-{len(k)}-{len(m)}" for d, k, m, _ in HMAC_VECTORS])
def test_published_hmac_vectors(digestmod, key, msg, expected):
    assert hmac.new(key, msg, digestmod).hexdigest() == expected
    assert hmac.digest(key, msg, digestmod).hex() == expected
    split = hmac.new(key, digestmod=digestmod)
    split.update(msg[:7])
    split.update(msg[7:])
    assert split.hexdigest() == expected


def test_rfc4231_truncated_output():
    # Test case 5: the output truncated to 128 bits.
    mac = hmac.new(b"\x0c" * 20, b"Test With Truncation", "sha256").digest()
    assert mac[:16].hex() == "a3b6167473100ee06e0c796c2955552b"


PBKDF2_VECTORS = [  # RFC 6070
    (b"password", b"salt", 1, 20, "0c60c80f961f0e71f3a9b524af6012062fe037a6"),
    (b"password", b"salt", 2, 20, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"),
    (b"password", b"salt", 4096, 20, "4b007901b765489abead49d926f721d065a429c1"),
    (b"passwordPASSWORDpassword", b"saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096, 25,
     "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038"),
    (b"pass\0word", b"sa\0lt", 4096, 16, "56fa6aa75548099dcc37d7f03425e0c3"),
]


@pytest.mark.parametrize("password,salt,iterations,dklen,expected", PBKDF2_VECTORS)
def test_rfc6070_pbkdf2_hmac_sha1(password, salt, iterations, dklen, expected):
    assert kcapi_hashlib.pbkdf2_hmac("sha1", password, salt, iterations, dklen).hex() == expected
