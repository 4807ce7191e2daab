"""Published test vectors: GCM, CCM, ChaCha20-Poly1305, XChaCha20-Poly1305, CMAC (AES, TDEA).

Each vector runs one-shot (``encrypt_and_digest`` / ``decrypt_and_verify``,
the kernel AEAD where it serves them) and piecewise (the composed path), on
whatever serves the objects here: the kernel in the kernel run, the
software fallback on a host without AF_ALG.
"""

from __future__ import annotations

from binascii import unhexlify

import pytest

import kcapi_cipher
from kcapi_cipher import CMAC, ChaCha20_Poly1305

from ..aead_support import MODE_CCM, MODE_GCM, aes_new, assert_served


def _h(text: str) -> bytes:
    return unhexlify(text.replace(" ", "").replace(":", "").replace("\n", ""))


_PT60 = ("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
         "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39")
_PT64 = _PT60 + "1aafd255"
_AAD20 = "feedfacedeadbeeffeedfacedeadbeefabaddad2"
_IV8 = "cafebabefacedbad"
_IV60 = ("9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728"
         "c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b")
_K128 = "feffe9928665731c6d6a8f9467308308"
_K192 = _K128 + "feffe9928665731c"
_K256 = _K128 * 2
_Z12 = "00" * 12

# McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", revised spec,
# test cases 1-18 (AES-128/192/256; 12-, 8- and 60-byte IVs):
# (key, iv, aad, plaintext, ciphertext, tag)
GCM_VECTORS = [
    ("00" * 16, _Z12, "", "", "", "58e2fccefa7e3061367f1d57a4e7455a"),
    ("00" * 16, _Z12, "", "00" * 16, "0388dace60b6a392f328c2b971b2fe78",
     "ab6e47d42cec13bdf53a67b21257bddf"),
    (_K128, "cafebabefacedbaddecaf888", "", _PT64,
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
     "4d5c2af327cd64a62cf35abd2ba6fab4"),
    (_K128, "cafebabefacedbaddecaf888", _AAD20, _PT60,
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
     "5bc94fbc3221a5db94fae95ae7121a47"),
    (_K128, _IV8, _AAD20, _PT60,
     "61353b4c2806934a777ff51fa22a4755699b2a714fcdc6f83766e5f97b6c7423"
     "73806900e49f24b22b097544d4896b424989b5e1ebac0f07c23f4598",
     "3612d2e79e3b0785561be14aaca2fccb"),
    (_K128, _IV60, _AAD20, _PT60,
     "8ce24998625615b603a033aca13fb894be9112a5c3a211a8ba262a3cca7e2ca7"
     "01e4a9a4fba43c90ccdcb281d48c7c6fd62875d2aca417034c34aee5",
     "619cc5aefffe0bfa462af43c1699d050"),
    ("00" * 24, _Z12, "", "", "", "cd33b28ac773f74ba00ed1f312572435"),
    ("00" * 24, _Z12, "", "00" * 16, "98e7247c07f0fe411c267e4384b0f600",
     "2ff58d80033927ab8ef4d4587514f0fb"),
    (_K192, "cafebabefacedbaddecaf888", "", _PT64,
     "3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c"
     "7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710acade256",
     "9924a7c8587336bfb118024db8674a14"),
    (_K192, "cafebabefacedbaddecaf888", _AAD20, _PT60,
     "3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c"
     "7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710",
     "2519498e80f1478f37ba55bd6d27618c"),
    (_K192, _IV8, _AAD20, _PT60,
     "0f10f599ae14a154ed24b36e25324db8c566632ef2bbb34f8347280fc4507057"
     "fddc29df9a471f75c66541d4d4dad1c9e93a19a58e8b473fa0f062f7",
     "65dcc57fcf623a24094fcca40d3533f8"),
    (_K192, _IV60, _AAD20, _PT60,
     "d27e88681ce3243c4830165a8fdcf9ff1de9a1d8e6b447ef6ef7b79828666e45"
     "81e79012af34ddd9e2f037589b292db3e67c036745fa22e7e9b7373b",
     "dcf566ff291c25bbb8568fc3d376a6d9"),
    ("00" * 32, _Z12, "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"),
    ("00" * 32, _Z12, "", "00" * 16, "cea7403d4d606b6e074ec5d3baf39d18",
     "d0d1c8a799996bf0265b98b5d48ab919"),
    (_K256, "cafebabefacedbaddecaf888", "", _PT64,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"),
    (_K256, "cafebabefacedbaddecaf888", _AAD20, _PT60,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"),
    (_K256, _IV8, _AAD20, _PT60,
     "c3762df1ca787d32ae47c13bf19844cbaf1ae14d0b976afac52ff7d79bba9de0"
     "feb582d33934a4f0954cc2363bc73f7862ac430e64abe499f47c9b1f",
     "3a337dbf46a792c45e454913fe2ea8f2"),
    (_K256, _IV60, _AAD20, _PT60,
     "5a8def2f0c9e53f1f75d7853659e2a20eeb2b22aafde6419a058ab4f6f746bf4"
     "0fc0c3b780f244452da3ebf1c5d82cdea2418997200ef82e44ae7e3f",
     "a44a8266ee1c8eb0c8b5d4cf5ae9f19a"),
]

_RFC3610_KEY = "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
_RFC3610_KEY2 = "d7828d13b2b0bdc325a76236df93cc6b"

# NIST SP 800-38C Appendix C (C.1-C.4; C.4 has 65536 bytes of AAD) and
# RFC 3610 section 8, packet vectors #1-#24: (key, nonce, aad, plaintext, ciphertext, tag)
CCM_VECTORS = [
    ("404142434445464748494a4b4c4d4e4f", "10111213141516", "0001020304050607", "20212223",
     "7162015b", "4dac255d"),
    ("404142434445464748494a4b4c4d4e4f", "1011121314151617", "000102030405060708090a0b0c0d0e0f",
     "202122232425262728292a2b2c2d2e2f", "d2a1f0e051ea5f62081a7792073d593d", "1fc64fbfaccd"),
    ("404142434445464748494a4b4c4d4e4f", "101112131415161718191a1b",
     "000102030405060708090a0b0c0d0e0f10111213",
     "202122232425262728292a2b2c2d2e2f3031323334353637",
     "e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5", "484392fbc1b09951"),
    ("404142434445464748494a4b4c4d4e4f", "101112131415161718191a1b1c", bytes(range(256)).hex() * 256,
     "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
     "69915dad1e84c6376a68c2967e4dab615ae0fd1faec44cc484828529463ccf72",
     "b4ac6bec93e8598e7f0dadbcea5b"),
    (_RFC3610_KEY, "00000003020100a0a1a2a3a4a5", "0001020304050607",
     "08090a0b0c0d0e0f101112131415161718191a1b1c1d1e",
     "588c979a61c663d2f066d0c2c0f989806d5f6b61dac384", "17e8d12cfdf926e0"),
    (_RFC3610_KEY, "00000004030201a0a1a2a3a4a5", "0001020304050607",
     "08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     "72c91a36e135f8cf291ca894085c87e3cc15c439c9e43a3b", "a091d56e10400916"),
    (_RFC3610_KEY, "00000005040302a0a1a2a3a4a5", "0001020304050607",
     "08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
     "51b1e5f44a197d1da46b0f8e2d282ae871e838bb64da859657", "4adaa76fbd9fb0c5"),
    (_RFC3610_KEY, "00000006050403a0a1a2a3a4a5", "000102030405060708090a0b",
     "0c0d0e0f101112131415161718191a1b1c1d1e", "a28c6865939a9a79faaa5c4c2a9d4a91cdac8c",
     "96c861b9c9e61ef1"),
    (_RFC3610_KEY, "00000007060504a0a1a2a3a4a5", "000102030405060708090a0b",
     "0c0d0e0f101112131415161718191a1b1c1d1e1f", "dcf1fb7b5d9e23fb9d4e131253658ad86ebdca3e",
     "51e83f077d9c2d93"),
    (_RFC3610_KEY, "00000008070605a0a1a2a3a4a5", "000102030405060708090a0b",
     "0c0d0e0f101112131415161718191a1b1c1d1e1f20", "6fc1b011f006568b5171a42d953d469b2570a4bd87",
     "405a0443ac91cb94"),
    (_RFC3610_KEY, "00000009080706a0a1a2a3a4a5", "0001020304050607",
     "08090a0b0c0d0e0f101112131415161718191a1b1c1d1e",
     "0135d1b2c95f41d5d1d4fec185d166b8094e999dfed96c", "048c56602c97acbb7490"),
    (_RFC3610_KEY, "0000000a090807a0a1a2a3a4a5", "0001020304050607",
     "08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     "7b75399ac0831dd2f0bbd75879a2fd8f6cae6b6cd9b7db24", "c17b4433f434963f34b4"),
    (_RFC3610_KEY, "0000000b0a0908a0a1a2a3a4a5", "0001020304050607",
     "08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
     "82531a60cc24945a4b8279181ab5c84df21ce7f9b73f42e197", "ea9c07e56b5eb17e5f4e"),
    (_RFC3610_KEY, "0000000c0b0a09a0a1a2a3a4a5", "000102030405060708090a0b",
     "0c0d0e0f101112131415161718191a1b1c1d1e", "07342594157785152b074098330abb141b947b",
     "566aa9406b4d999988dd"),
    (_RFC3610_KEY, "0000000d0c0b0aa0a1a2a3a4a5", "000102030405060708090a0b",
     "0c0d0e0f101112131415161718191a1b1c1d1e1f", "676bb20380b0e301e8ab79590a396da78b834934",
     "f53aa2e9107a8b6c022c"),
    (_RFC3610_KEY, "0000000e0d0c0ba0a1a2a3a4a5", "000102030405060708090a0b",
     "0c0d0e0f101112131415161718191a1b1c1d1e1f20", "c0ffa0d6f05bdb67f24d43a4338d2aa4bed7b20e43",
     "cd1aa31662e7ad65d6db"),
    (_RFC3610_KEY2, "00412b4ea9cdbe3c9696766cfa", "0be1a88bace018b1",
     "08e8cf97d820ea258460e96ad9cf5289054d895ceac47c",
     "4cb97f86a2a4689a877947ab8091ef5386a6ffbdd080f8", "e78cf7cb0cddd7b3"),
    (_RFC3610_KEY2, "0033568ef7b2633c9696766cfa", "63018f76dc8a1bcb",
     "9020ea6f91bdd85afa0039ba4baff9bfb79c7028949cd0ec",
     "4ccb1e7ca981befaa0726c55d378061298c85c92814abc33", "c52ee81d7d77c08a"),
    (_RFC3610_KEY2, "00103fe41336713c9696766cfa", "aa6cfa36cae86b40",
     "b916e0eacc1c00d7dcec68ec0b3bbb1a02de8a2d1aa346132e",
     "b1d23a2220ddc0ac900d9aa03c61fcf4a559a4417767089708", "a776796edb723506"),
    (_RFC3610_KEY2, "00764c63b8058e3c9696766cfa", "d0d0735c531e1becf049c244",
     "12daac5630efa5396f770ce1a66b21f7b2101c", "14d253c3967b70609b7cbb7c49916028324526",
     "9a6f49975bcadeaf"),
    (_RFC3610_KEY2, "00f8b678094e3b3c9696766cfa", "77b60f011c03e1525899bcae",
     "e88b6a46c78d63e52eb8c546efb5de6f75e9cc0d", "5545ff1a085ee2efbf52b2e04bee1e2336c73e3f",
     "762c0c7744fe7e3c"),
    (_RFC3610_KEY2, "00d560912d3f703c9696766cfa", "cd9044d2b71fdb8120ea60c0",
     "6435acbafb11a82e2f071d7ca4a5ebd93a803ba87f", "009769ecabdf48625594c59251e6035722675e04c8",
     "47099e5ae0704551"),
    (_RFC3610_KEY2, "0042fff8f1951c3c9696766cfa", "d85bc7e69f944fb8",
     "8a19b950bcf71a018e5e6701c91787659809d67dbedd18",
     "bc218daa947427b6db386a99ac1aef23ade0b52939cb6a", "637cf9bec2408897c6ba"),
    (_RFC3610_KEY2, "00920f40e56cdc3c9696766cfa", "74a0ebc9069f5b37",
     "1761433c37c5a35fc1f39f406302eb907c6163be38c98437",
     "5810e6fd25874022e80361a478e3e9cf484ab04f447efff6", "f0a477cc2fc9bf548944"),
    (_RFC3610_KEY2, "0027ca0c7120bc3c9696766cfa", "44a3aa3aae6475ca",
     "a434a8e58500c6e41530538862d686ea9e81301b5ae4226bfa",
     "f2beed7bc5098e83feb5b31608f8e29c38819a89c8e776f154", "4d4151a4ed3a8b87b9ce"),
    (_RFC3610_KEY2, "005b8ccbcd9af83c9696766cfa", "ec46bb63b02520c33c49fd70",
     "b96b49e21d621741632875db7f6c9243d2d7c2", "31d750a09da3ed7fddd49a2032aabf17ec8ebf",
     "7d22c8088c666be5c197"),
    (_RFC3610_KEY2, "003ebe94044b9a3c9696766cfa", "47a65ac78b3d594227e85e71",
     "e2fcfbb880442c731bf95167c8ffd7895e337076", "e882f1dbd38ce3eda7c23f04dd65071eb41342ac",
     "df7e00dccec7ae52987d"),
    (_RFC3610_KEY2, "008d493b30ae8b3c9696766cfa", "6e37a6ef546d955d34ab6059",
     "abf21c0b02feb88f856df4a37381bce3cc128517d4", "f32905b88a641b04b9c9ffb58cc390900f3da12ab1",
     "6dce9e82efa16da62059"),
]

_LADIES = ("4c616469657320616e642047656e746c656d656e206f662074686520636c6173"
           "73206f66202739393a204966204920636f756c64206f6666657220796f75206f"
           "6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73"
           "637265656e20776f756c642062652069742e")
_RFC8439_KEY = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"

# RFC 8439 2.8.2 and A.5, and draft-irtf-cfrg-xchacha-03 A.3.1 (24-byte nonce):
# (key, nonce, aad, plaintext, ciphertext, tag)
CHACHA_VECTORS = [
    (_RFC8439_KEY, "070000004041424344454647", "50515253c0c1c2c3c4c5c6c7", _LADIES,
     "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
     "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
     "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
     "3ff4def08e4b7a9de576d26586cec64b6116",
     "1ae10b594f09e26a7e902ecbd0600691"),
    ("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0",
     "000000000102030405060708", "f33388860000000000004e91",
     "496e7465726e65742d4472616674732061726520647261667420646f63756d65"
     "6e74732076616c696420666f722061206d6178696d756d206f6620736978206d"
     "6f6e74687320616e64206d617920626520757064617465642c207265706c6163"
     "65642c206f72206f62736f6c65746564206279206f7468657220646f63756d65"
     "6e747320617420616e792074696d652e20497420697320696e617070726f7072"
     "6961746520746f2075736520496e7465726e65742d4472616674732061732072"
     "65666572656e6365206d6174657269616c206f7220746f206369746520746865"
     "6d206f74686572207468616e206173202fe2809c776f726b20696e2070726f67"
     "726573732e2fe2809d",
     "64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2"
     "4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf"
     "332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855"
     "9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4"
     "b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e"
     "af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a"
     "0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10"
     "49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29"
     "a6ad5cb4022b02709b",
     "eead9d67890cbb22392336fea1851f38"),
    (_RFC8439_KEY, "404142434445464748494a4b4c4d4e4f5051525354555657",
     "50515253c0c1c2c3c4c5c6c7", _LADIES,
     "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
     "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
     "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
     "21f9664c97637da9768812f615c68b13b52e",
     "c0875924c1c7987947deafd8780acf49"),
]

_CMAC_MSG = ("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
             "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")

# RFC 4493 section 4 (AES-128), and NIST SP 800-38B D.2/D.3 (updated examples,
# AES-192/256): (key, message, tag)
CMAC_VECTORS = [
    ("2b7e151628aed2a6abf7158809cf4f3c", "", "bb1d6929e95937287fa37d129b756746"),
    ("2b7e151628aed2a6abf7158809cf4f3c", _CMAC_MSG[:32], "070a16b46b4d4144f79bdd9dd04a287c"),
    ("2b7e151628aed2a6abf7158809cf4f3c", _CMAC_MSG[:80], "dfa66747de9ae63030ca32611497c827"),
    ("2b7e151628aed2a6abf7158809cf4f3c", _CMAC_MSG, "51f0bebf7e3b9d92fc49741779363cfe"),
    ("8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b", "", "d17ddf46adaacde531cac483de7a9367"),
    ("8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b", _CMAC_MSG[:80],
     "8a1de5be2eb31aad089a82e6ee908b0e"),
    ("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4", _CMAC_MSG[:32],
     "28a7023f452e8f82bd4bf28d8c37c35c"),
    ("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4", _CMAC_MSG,
     "e1992190549f6ed5696a2c056c315410"),
]


def _pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]


@pytest.mark.parametrize("key,iv,aad,pt,ct,tag", GCM_VECTORS, ids=[f"tc{i + 1}" for i in range(18)])
def test_gcm_one_shot(key, iv, aad, pt, ct, tag):
    key, iv, aad, pt, ct, tag = map(_h, (key, iv, aad, pt, ct, tag))
    enc = aes_new(key, MODE_GCM, iv)  # the nonce may be positional
    assert_served(enc, "gcm")
    enc.update(aad)
    assert enc.encrypt_and_digest(pt) == (ct, tag)
    dec = aes_new(key, MODE_GCM, nonce=iv)
    dec.update(aad)
    assert dec.decrypt_and_verify(ct, tag) == pt


@pytest.mark.parametrize("key,iv,aad,pt,ct,tag", GCM_VECTORS, ids=[f"tc{i + 1}" for i in range(18)])
@pytest.mark.parametrize("piece", [1, 7, 16, 33])
def test_gcm_piecewise(key, iv, aad, pt, ct, tag, piece):
    key, iv, aad, pt, ct, tag = map(_h, (key, iv, aad, pt, ct, tag))
    enc = aes_new(key, MODE_GCM, nonce=iv, mac_len=len(tag))
    assert_served(enc, "gcm")
    for chunk in _pieces(aad, piece):
        enc.update(chunk)
    assert b"".join(enc.encrypt(c) for c in _pieces(pt, piece)) == ct
    assert enc.hexdigest() == tag.hex()
    dec = aes_new(key, MODE_GCM, nonce=iv)
    dec.update(aad)
    out = bytearray(len(ct))
    view = memoryview(out)
    for start in range(0, len(ct), piece):
        dec.decrypt(ct[start:start + piece], output=view[start:start + piece])
    assert bytes(out) == pt
    dec.hexverify(tag.hex())


@pytest.mark.parametrize("mac_len", [4, 8, 12, 13, 15])
def test_gcm_truncated_tags_are_prefixes(mac_len):
    key, iv, aad, pt, ct, tag = map(_h, GCM_VECTORS[3])
    enc = aes_new(key, MODE_GCM, nonce=iv, mac_len=mac_len)
    enc.update(aad)
    assert enc.encrypt_and_digest(pt) == (ct, tag[:mac_len])
    dec = aes_new(key, MODE_GCM, nonce=iv, mac_len=mac_len)
    dec.update(aad)
    assert dec.decrypt_and_verify(ct, tag[:mac_len]) == pt


@pytest.mark.parametrize("key,nonce,aad,pt,ct,tag", CCM_VECTORS,
                         ids=[f"sp800-38c-c{i + 1}" for i in range(4)]
                         + [f"rfc3610-{i + 1}" for i in range(24)])
def test_ccm_one_shot(key, nonce, aad, pt, ct, tag):
    key, nonce, aad, pt, ct, tag = map(_h, (key, nonce, aad, pt, ct, tag))
    enc = aes_new(key, MODE_CCM, nonce, mac_len=len(tag))
    assert_served(enc, "ccm")
    enc.update(aad)
    assert enc.encrypt_and_digest(pt) == (ct, tag)
    dec = aes_new(key, MODE_CCM, nonce=nonce, mac_len=len(tag))
    dec.update(aad)
    assert dec.decrypt_and_verify(ct, tag) == pt


@pytest.mark.parametrize("key,nonce,aad,pt,ct,tag", CCM_VECTORS,
                         ids=[f"sp800-38c-c{i + 1}" for i in range(4)]
                         + [f"rfc3610-{i + 1}" for i in range(24)])
@pytest.mark.parametrize("piece", [1, 5, 16])
def test_ccm_piecewise_with_declared_lengths(key, nonce, aad, pt, ct, tag, piece):
    key, nonce, aad, pt, ct, tag = map(_h, (key, nonce, aad, pt, ct, tag))
    if len(aad) > 1000 and piece == 1:
        piece = 4099  # C.4's 64 KiB of AAD, in fewer calls
    enc = aes_new(key, MODE_CCM, nonce=nonce, mac_len=len(tag), msg_len=len(pt),
                  assoc_len=len(aad))
    assert_served(enc, "ccm")
    for chunk in _pieces(aad, piece):
        enc.update(chunk)
    assert b"".join(enc.encrypt(c) for c in _pieces(pt, piece)) == ct
    assert enc.digest() == tag
    dec = aes_new(key, MODE_CCM, nonce=nonce, mac_len=len(tag), msg_len=len(ct))
    for chunk in _pieces(aad, piece):
        dec.update(chunk)
    assert b"".join(dec.decrypt(c) for c in _pieces(ct, piece)) == pt
    dec.verify(tag)


@pytest.mark.parametrize("key,nonce,aad,pt,ct,tag", CHACHA_VECTORS,
                         ids=["rfc8439-2.8.2", "rfc8439-a.5", "xchacha-a.3.1"])
def test_chacha20_poly1305_one_shot(key, nonce, aad, pt, ct, tag):
    key, nonce, aad, pt, ct, tag = map(_h, (key, nonce, aad, pt, ct, tag))
    enc = ChaCha20_Poly1305.new(key=key, nonce=nonce)
    assert_served(enc, "xchacha" if len(nonce) == 24 else "chacha")
    enc.update(aad)
    assert enc.encrypt_and_digest(pt) == (ct, tag)
    dec = ChaCha20_Poly1305.new(key=key, nonce=nonce)
    dec.update(aad)
    assert dec.decrypt_and_verify(ct, tag) == pt
    assert dec.nonce == nonce


@pytest.mark.parametrize("key,nonce,aad,pt,ct,tag", CHACHA_VECTORS,
                         ids=["rfc8439-2.8.2", "rfc8439-a.5", "xchacha-a.3.1"])
@pytest.mark.parametrize("piece", [1, 63, 64, 100])
def test_chacha20_poly1305_piecewise(key, nonce, aad, pt, ct, tag, piece):
    key, nonce, aad, pt, ct, tag = map(_h, (key, nonce, aad, pt, ct, tag))
    enc = ChaCha20_Poly1305.new(key=key, nonce=nonce)
    for chunk in _pieces(aad, piece):
        enc.update(chunk)
    assert b"".join(enc.encrypt(c) for c in _pieces(pt, piece)) == ct
    assert enc.digest() == tag
    dec = ChaCha20_Poly1305.new(key=key, nonce=nonce)
    dec.update(aad)
    assert b"".join(dec.decrypt(c) for c in _pieces(ct, piece)) == pt
    dec.verify(tag)


@pytest.mark.parametrize("key,msg,tag", CMAC_VECTORS, ids=[f"v{i + 1}" for i in range(8)])
def test_cmac(key, msg, tag):
    from Crypto.Cipher import AES

    key, msg, tag = map(_h, (key, msg, tag))
    mac = CMAC.new(key, msg, ciphermod=AES)
    assert_served(mac, "cmac")
    assert mac.digest() == tag
    mac.verify(tag)
    piecewise = CMAC.new(key, ciphermod=AES)
    for chunk in _pieces(msg, 7):
        piecewise.update(chunk)
    assert piecewise.hexdigest() == tag.hex()
    short = CMAC.new(key, msg, AES, mac_len=8)
    assert short.digest() == tag[:8] and short.digest_size == 8


#: NIST SP 800-38B, Appendix D.4 (three-key TDEA) and D.5 (two-key TDEA, K3 = K1): examples 13-20.
_TDEA3 = "8aa83bf8cbda10620bc1bf19fbb6cd58bc313d4a371ca8b5"
_TDEA2 = "4cf15134a2850dd58a3d10ba80570d384cf15134a2850dd5"
CMAC_TDEA_VECTORS = [
    (_TDEA3, "", "b7a688e122ffaf95"),
    (_TDEA3, _CMAC_MSG[:16], "8e8f293136283797"),
    (_TDEA3, _CMAC_MSG[:40], "743ddbe0ce2dc2ed"),
    (_TDEA3, _CMAC_MSG[:64], "33e6b1092400eae5"),
    (_TDEA2, "", "bd2ebf9a3ba00361"),
    (_TDEA2, _CMAC_MSG[:16], "4ff2ab813c53ce83"),
    (_TDEA2, _CMAC_MSG[:40], "62dd1b471902bd4e"),
    (_TDEA2, _CMAC_MSG[:64], "31b1e431dabc4eb8"),
]


#: Each vector with its key as given, and the two-key ones also as K1 || K2 (16 bytes).
_TDEA_CASES = [(k, m, t, False) for k, m, t in CMAC_TDEA_VECTORS] + \
    [(k, m, t, True) for k, m, t in CMAC_TDEA_VECTORS if k == _TDEA2]


@pytest.mark.parametrize("key,msg,tag,short_key", _TDEA_CASES,
                         ids=[f"example-{i % 8 + 13}{'-16-byte-key' if c[3] else ''}"
                              for i, c in enumerate(_TDEA_CASES)])
def test_cmac_tdea(key, msg, tag, short_key):
    from Crypto.Cipher import DES3 as RefDES3
    from Crypto.Hash import CMAC as RefCMAC

    from kcapi_cipher import DES3

    key, msg, tag = map(_h, (key, msg, tag))
    if short_key:
        key = key[:16]  # K1 || K2: the kernel gets K1 || K2 || K1
    mac = CMAC.new(key, msg, ciphermod=DES3)
    assert_served(mac, "cmac-des3")
    if kcapi_cipher.backend_info(mac).backend == "kernel":
        assert kcapi_cipher.backend_info(mac).algorithm == "cmac(des3_ede)"
    assert mac.digest() == tag == RefCMAC.new(key, msg, ciphermod=RefDES3).digest()
    mac.verify(tag)
    piecewise = CMAC.new(key, ciphermod=DES3)
    for chunk in _pieces(msg, 3):
        piecewise.update(chunk)
    assert piecewise.hexdigest() == tag.hex()
    short = CMAC.new(key, msg, DES3, mac_len=4)
    assert short.digest() == tag[:4] and short.digest_size == 4
