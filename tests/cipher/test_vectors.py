"""Published test vectors: NIST SP 800-38A (AES ECB/CBC/CFB/OFB/CTR), IEEE 1619 (XTS),
RFC 8439 (ChaCha20), NIST SP 800-67 (TDES).

They run under the policy in force: on a host without AF_ALG the software
fallback serves them; in the kernel run every object must be the kernel's.
"""

from binascii import unhexlify

import pytest

from kcapi_cipher import AES, DES3, ChaCha20, backend_info, use_backend

from ..cipher_support import check_served, kernel_name, need
from ..support import REQUIRE_KERNEL

# NIST SP 800-38A, Appendix F: one plaintext, three keys, one IV, one counter block.
PT = unhexlify("6bc1bee22e409f96e93d7e117393172a" "ae2d8a571e03ac9c9eb76fac45af8e51"
               "30c81c46a35ce411e5fbc1191a0a52ef" "f69f2445df4f9b17ad2b417be66c3710")
KEYS = {
    128: unhexlify("2b7e151628aed2a6abf7158809cf4f3c"),
    192: unhexlify("8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b"),
    256: unhexlify("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"),
}
IV = unhexlify("000102030405060708090a0b0c0d0e0f")
COUNTER = unhexlify("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")

SP800_38A = {
    # F.1.1, F.1.3, F.1.5
    ("ECB", 128): "3ad77bb40d7a3660a89ecaf32466ef97f5d3d58503b9699de785895a96fdbaaf"
                  "43b1cd7f598ece23881b00e3ed0306887b0c785e27e8ad3f8223207104725dd4",
    ("ECB", 192): "bd334f1d6e45f25ff712a214571fa5cc974104846d0ad3ad7734ecb3ecee4eef"
                  "ef7afd2270e2e60adce0ba2face6444e9a4b41ba738d6c72fb16691603c18e0e",
    ("ECB", 256): "f3eed1bdb5d2a03c064b5a7e3db181f8591ccb10d410ed26dc5ba74a31362870"
                  "b6ed21b99ca6f4f9f153e7b1beafed1d23304b7a39f9f3ff067d8d8f9e24ecc7",
    # F.2.1, F.2.3, F.2.5
    ("CBC", 128): "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
                  "73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7",
    ("CBC", 192): "4f021db243bc633d7178183a9fa071e8b4d9ada9ad7dedf4e5e738763f69145a"
                  "571b242012fb7ae07fa9baac3df102e008b0e27988598881d920a9e64f5615cd",
    ("CBC", 256): "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
                  "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b",
    # F.3.13, F.3.15, F.3.17 (CFB128)
    ("CFB", 128): "3b3fd92eb72dad20333449f8e83cfb4ac8a64537a0b3a93fcde3cdad9f1ce58b"
                  "26751f67a3cbb140b1808cf187a4f4dfc04b05357c5d1c0eeac4c66f9ff7f2e6",
    ("CFB", 192): "cdc80d6fddf18cab34c25909c99a417467ce7f7f81173621961a2b70171d3d7a"
                  "2e1e8a1dd59b88b1c8e60fed1efac4c9c05f9f9ca9834fa042ae8fba584b09ff",
    ("CFB", 256): "dc7e84bfda79164b7ecd8486985d386039ffed143b28b1c832113c6331e5407b"
                  "df10132415e54b92a13ed0a8267ae2f975a385741ab9cef82031623d55b1e471",
    # F.4.1, F.4.3, F.4.5
    ("OFB", 128): "3b3fd92eb72dad20333449f8e83cfb4a7789508d16918f03f53c52dac54ed825"
                  "9740051e9c5fecf64344f7a82260edcc304c6528f659c77866a510d9c1d6ae5e",
    ("OFB", 192): "cdc80d6fddf18cab34c25909c99a4174fcc28b8d4c63837c09e81700c1100401"
                  "8d9a9aeac0f6596f559c6d4daf59a5f26d9f200857ca6c3e9cac524bd9acc92a",
    ("OFB", 256): "dc7e84bfda79164b7ecd8486985d38604febdc6740d20b3ac88f6ad82a4fb08d"
                  "71ab47a086e86eedf39d1c5bba97c4080126141d67f37be8538f5a8be740e484",
    # F.5.1, F.5.3, F.5.5
    ("CTR", 128): "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
                  "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee",
    ("CTR", 192): "1abc932417521ca24f2b0459fe7e6e0b090339ec0aa6faefd5ccc2c6f4ce8e94"
                  "1e36b26bd1ebc670d1bd1d665620abf74f78a7f6d29809585a97daec58c6b050",
    ("CTR", 256): "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
                  "2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6",
}

MODES = {"ECB": AES.MODE_ECB, "CBC": AES.MODE_CBC, "CFB": AES.MODE_CFB,
         "OFB": AES.MODE_OFB, "CTR": AES.MODE_CTR}


def make(mode: str, bits: int):
    key = KEYS[bits]
    if mode == "ECB":
        return AES.new(key, AES.MODE_ECB)
    if mode == "CFB":
        return AES.new(key, AES.MODE_CFB, IV, segment_size=128)
    if mode == "CTR":
        return AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=COUNTER)
    return AES.new(key, MODES[mode], iv=IV)


@pytest.mark.parametrize("mode,bits", list(SP800_38A))
def test_sp800_38a_encrypt(mode, bits):
    need(kernel_name("aes", MODES[mode]))
    cipher = make(mode, bits)
    check_served(cipher, kernel_name("aes", MODES[mode]))
    assert cipher.encrypt(PT).hex() == SP800_38A[(mode, bits)]


@pytest.mark.parametrize("mode,bits", list(SP800_38A))
def test_sp800_38a_decrypt(mode, bits):
    need(kernel_name("aes", MODES[mode]))
    cipher = make(mode, bits)
    check_served(cipher, kernel_name("aes", MODES[mode]))
    assert cipher.decrypt(unhexlify(SP800_38A[(mode, bits)])) == PT


@pytest.mark.parametrize("mode,bits", list(SP800_38A))
def test_sp800_38a_block_by_block(mode, bits):
    """The vector's blocks one call each; the stream modes also in 7-byte pieces."""
    need(kernel_name("aes", MODES[mode]))
    cipher = make(mode, bits)
    pieces = [cipher.encrypt(PT[i:i + 16]) for i in range(0, 64, 16)]
    assert b"".join(pieces).hex() == SP800_38A[(mode, bits)]
    if mode in ("CFB", "OFB", "CTR"):
        cipher = make(mode, bits)
        pieces = [cipher.encrypt(PT[i:i + 7]) for i in range(0, 64, 7)]
        assert b"".join(pieces).hex() == SP800_38A[(mode, bits)]


def test_ctr_vector_with_a_counter_object():
    from Crypto.Util import Counter

    need("ctr(aes)")
    counter = Counter.new(128, initial_value=int.from_bytes(COUNTER, "big"))
    cipher = AES.new(KEYS[128], AES.MODE_CTR, counter=counter)
    check_served(cipher, "ctr(aes)")
    assert cipher.encrypt(PT).hex() == SP800_38A[("CTR", 128)]


def test_cfb8_vector_is_served_by_software():
    """F.3.7 CFB8-AES128: the kernel's cfb is CFB-128 only, so software serves CFB-8."""
    with use_backend("auto"):
        cipher = AES.new(KEYS[128], AES.MODE_CFB, iv=IV, segment_size=8)
    info = backend_info(cipher)
    assert info.backend == "software" and "128-bit segments only" in info.reason
    assert cipher.encrypt(PT[:18]).hex() == "3b79424c9c0dd436bace9e0ed4586a4f32b9"


# RFC 8439, 2.3.2 (the block function) and 2.4.2 (encryption), both from block counter 1.
RFC8439_KEY = bytes(range(32))
RFC8439_BLOCK = ("10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
                 "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e")
SUNSCREEN = (b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip "
             b"for the future, sunscreen would be it.")
SUNSCREEN_CT = ("6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b"
                "f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8"
                "07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736"
                "5af90bbf74a35be6b40b8eedf2785e42874d")


def test_rfc8439_block_function():
    cipher = ChaCha20.new(key=RFC8439_KEY, nonce=unhexlify("000000090000004a00000000"))
    check_served(cipher, "chacha20")
    cipher.seek(64)  # block counter 1
    assert cipher.encrypt(bytes(64)).hex() == RFC8439_BLOCK


@pytest.mark.parametrize("pieces", [1, 3, 17])
def test_rfc8439_encryption(pieces):
    nonce = unhexlify("000000000000004a00000000")
    cipher = ChaCha20.new(key=RFC8439_KEY, nonce=nonce)
    check_served(cipher, "chacha20")
    cipher.seek(64)
    step = -(-len(SUNSCREEN) // pieces)
    out = b"".join(cipher.encrypt(SUNSCREEN[i:i + step]) for i in range(0, len(SUNSCREEN), step))
    assert out.hex() == SUNSCREEN_CT
    decipher = ChaCha20.new(key=RFC8439_KEY, nonce=nonce)
    decipher.seek(64)
    assert decipher.decrypt(unhexlify(SUNSCREEN_CT)) == SUNSCREEN


def test_tdes_sp800_67_example():
    """NIST SP 800-67 Rev. 1, Appendix B: three-key TDES (ECB) of "The qufck brown fox jump"."""
    key = unhexlify("0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123")
    cipher = DES3.new(key, DES3.MODE_ECB)
    check_served(cipher, "ecb(des3_ede)")
    ct = cipher.encrypt(b"The qufck brown fox jump")
    assert ct.hex() == "a826fd8ce53b855fcce21c8112256fe668d5c05dd9b6b900"
    assert DES3.new(key, DES3.MODE_ECB).decrypt(ct) == b"The qufck brown fox jump"


# IEEE 1619-2007 XTS-AES-128: vectors 2 and 3 (32 bytes), 15 and 16 (ciphertext stealing).
XTS_VECTORS = [
    ("11" * 16 + "22" * 16, (0x3333333333).to_bytes(16, "little"), "44" * 32,
     "c454185e6a16936e39334038acef838bfb186fff7480adc4289382ecd6d394f0"),
    ("fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0" + "22" * 16, (0x3333333333).to_bytes(16, "little"),
     "44" * 32, "af85336b597afc1a900b2eb21ec949d292df4c047e0b21532186a5971a227a89"),
    ("fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0bfbebdbcbbbab9b8b7b6b5b4b3b2b1b0",
     (0x123456789A).to_bytes(16, "little"), "000102030405060708090a0b0c0d0e0f10",
     "6c1625db4671522d3d7599601de7ca09ed"),
    ("fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0bfbebdbcbbbab9b8b7b6b5b4b3b2b1b0",
     (0x123456789A).to_bytes(16, "little"), "000102030405060708090a0b0c0d0e0f1011",
     "d069444b7a7e0cab09e24447d24deb1fedbf"),
]


@pytest.mark.parametrize("key,tweak,pt,ct", XTS_VECTORS)
def test_ieee1619_xts(key, tweak, pt, ct):
    cipher = AES.new(unhexlify(key), AES.MODE_XTS, tweak=tweak)
    check_served(cipher, "xts(aes)")
    assert cipher.encrypt(unhexlify(pt)).hex() == ct
    assert AES.new(unhexlify(key), AES.MODE_XTS, tweak=tweak).decrypt(unhexlify(ct)).hex() == pt
    if len(pt) >= 64:  # the unit in two pieces of at least a block: the second starts at block 1
        second = AES.new(unhexlify(key), AES.MODE_XTS, tweak=tweak)
        assert (second.encrypt(unhexlify(pt)[:16]) + second.encrypt(unhexlify(pt)[16:])).hex() == ct


def test_vectors_run_on_the_kernel_in_the_kernel_run():
    """The kernel run's policy is ``kernel``: a software object cannot slip through."""
    cipher = AES.new(KEYS[128], AES.MODE_ECB)
    info = backend_info(cipher)
    if REQUIRE_KERNEL:
        assert info.backend == "kernel" and info.driver not in ("", "unknown")
    else:
        assert info.backend in ("kernel", "software") and (info.backend == "kernel") == (
            type(cipher).__module__.startswith("kcapi_cipher"))
