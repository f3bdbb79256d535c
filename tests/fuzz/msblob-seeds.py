# Writes Microsoft private key BLOBs ([MS-WCCE] 2.2.2.9.1, 2.2.2.9.3) to
# the folder given, written from the specification with Python
# cryptography's keys: seeds for fuzz_msblob.
import os
import struct
import sys

from cryptography.hazmat.primitives.asymmetric import ec, rsa


def le(n, size):
    return n.to_bytes(size, "little")


def rsa_blob(bits, alg=0xA400):
    k = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    p = k.private_numbers()
    h = bits // 16
    return (struct.pack("<BBHI", 7, 2, 0, alg) + b"RSA2" +
            struct.pack("<II", bits, p.public_numbers.e) +
            le(p.public_numbers.n, bits // 8) + le(p.p, h) + le(p.q, h) +
            le(p.dmp1, h) + le(p.dmq1, h) + le(p.iqmp, h) +
            le(p.d, bits // 8))


def ec_blob(curve, magic, size):
    k = ec.generate_private_key(curve)
    n = k.private_numbers()
    return (magic + struct.pack("<I", size) +
            n.public_numbers.x.to_bytes(size, "big") +
            n.public_numbers.y.to_bytes(size, "big") +
            n.private_value.to_bytes(size, "big"))


out = sys.argv[1]
os.makedirs(out, exist_ok=True)
seeds = {
    "rsa1024": rsa_blob(1024),
    "rsa2048": rsa_blob(2048),
    "rsa1024-sign": rsa_blob(1024, 0x2400),
    "eck2": ec_blob(ec.SECP256R1(), b"ECK2", 32),
    "ecs4": ec_blob(ec.SECP384R1(), b"ECS4", 48),
}
for name, b in seeds.items():
    open(os.path.join(out, name), "wb").write(b)
print(len(seeds))
