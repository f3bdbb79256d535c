#!/usr/bin/env python3
"""SCEP pkiMessages for the tests, built and read without the server's code.

  scep-msg.py csr KEY.pem CN CHALLENGE OUT.der
      a PKCS#10 request (cryptography) with a challengePassword ("" none)
  scep-msg.py selfsigned KEY.pem CN OUT.pem
      the self-signed signer certificate a PKCSReq carries
  scep-msg.py build TYPE KEY.pem SIGNER.pem RA.pem CONTENT.der TID OUT.der
      [--digest sha256|sha1] [--cipher aes-128-cbc|des-cbc] [--tamper]
      a pkiMessage: the content enveloped to RA (openssl cms), signed by
      KEY with SIGNER's certificate; --tamper flips a bit of the signature
  scep-msg.py read REPLY.der KEY.pem SIGNER.pem NONCE_FROM.der [CERT_OUT.pem]
      checks the CertRep's signature (its RA certificate), the echoed
      transactionID and recipientNonce, and prints
      "status=S failInfo=F tid=T nonce=ok|bad sig=ok|bad signeralg=OID";
      on SUCCESS it opens the envelope and writes the certificate

The DER here is the test's own: a pkiMessage has no builder in the
cryptography module, and the server's parser must not check itself.
"""
import hashlib
import os
import subprocess
import sys
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509.oid import AttributeOID, NameOID
import datetime

OID_SIGNED = "1.2.840.113549.1.7.2"
OID_DATA = "1.2.840.113549.1.7.1"
OID_CT = "1.2.840.113549.1.9.3"
OID_MD = "1.2.840.113549.1.9.4"
OID_RSA = "1.2.840.113549.1.1.1"
SCEP = "2.16.840.1.113733.1.9."
OID_MSGTYPE, OID_STATUS, OID_FAIL = SCEP + "2", SCEP + "3", SCEP + "4"
OID_SNONCE, OID_RNONCE, OID_TID = SCEP + "5", SCEP + "6", SCEP + "7"
DIGESTS = {"sha256": ("2.16.840.1.101.3.4.2.1", hashes.SHA256, "sha256"),
           "sha1": ("1.3.14.3.2.26", hashes.SHA1, "sha1")}


def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        ln = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        ln = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + ln + body


def oid(s):
    p = [int(x) for x in s.split(".")]
    out = bytes([40 * p[0] + p[1]])
    for v in p[2:]:
        enc = [v & 0x7F]
        v >>= 7
        while v:
            enc.insert(0, 0x80 | (v & 0x7F))
            v >>= 7
        out += bytes(enc)
    return tlv(0x06, out)


def integer(v):
    b = v.to_bytes((v.bit_length() + 8) // 8, "big")
    return tlv(0x02, b)


def seq(*xs):
    return tlv(0x30, b"".join(xs))


def setof(*xs):
    return tlv(0x31, b"".join(sorted(xs)))


def attr(o, value):
    return seq(oid(o), setof(value))


def parse(b, i=0):
    """One TLV at i: (tag, body start, end)."""
    tag = b[i]
    n = b[i + 1]
    j = i + 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(b[j:j + k], "big")
        j += k
    return tag, j, j + n


def children(b, start, end):
    """The TLVs in b[start:end]: (tag, body start, end, TLV start)."""
    out = []
    while start < end:
        t, s, e = parse(b, start)
        out.append((t, s, e, start))
        start = e
    return out


def oid_str(body):
    first = body[0]
    p = [first // 40, first % 40]
    v = 0
    for c in body[1:]:
        v = (v << 7) | (c & 0x7F)
        if not c & 0x80:
            p.append(v)
            v = 0
    return ".".join(map(str, p))


def load_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


def load_cert(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def cmd_csr(keyf, cn, chal, out):
    key = load_key(keyf)
    b = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
    if chal:
        b = b.add_attribute(AttributeOID.CHALLENGE_PASSWORD, chal.encode())
    csr = b.sign(key, hashes.SHA256())
    with open(out, "wb") as f:
        f.write(csr.public_bytes(serialization.Encoding.DER))


def cmd_selfsigned(keyf, cn, out):
    key = load_key(keyf)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    with open(out, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def envelope(content, ra, cipher):
    with tempfile.TemporaryDirectory() as d:
        inp = os.path.join(d, "in")
        with open(inp, "wb") as f:
            f.write(content)
        args = ["openssl", "cms", "-encrypt", "-binary", "-outform", "DER",
                "-in", inp, "-" + cipher, ra]
        if cipher == "des-cbc":
            args[2:2] = ["-provider", "legacy", "-provider", "default"]
        return subprocess.run(args, check=True, capture_output=True).stdout


def cmd_build(mtype, keyf, signerf, ra, contentf, tid, out, opts):
    key = load_key(keyf)
    cert = load_cert(signerf)
    with open(contentf, "rb") as f:
        content = f.read()
    digest = opts.get("--digest", "sha256")
    doid, dhash, hname = DIGESTS[digest]
    env = envelope(content, ra, opts.get("--cipher", "aes-128-cbc"))
    nonce = os.urandom(16)
    attrs = [
        attr(OID_CT, oid(OID_DATA)),
        attr(OID_MD, tlv(0x04, hashlib.new(hname, env).digest())),
        attr(OID_MSGTYPE, tlv(0x13, str(mtype).encode())),
        attr(OID_TID, tlv(0x13, tid.encode())),
        attr(OID_SNONCE, tlv(0x04, nonce)),
    ]
    signed = setof(*attrs)
    sig = bytearray(key.sign(signed, padding.PKCS1v15(), dhash()))
    if "--tamper" in opts:
        sig[len(sig) // 2] ^= 0x01
    algid = seq(oid(doid), b"\x05\x00")
    certder = cert.public_bytes(serialization.Encoding.DER)
    si = seq(integer(1),
             seq(cert.issuer.public_bytes(), integer(cert.serial_number)),
             algid, b"\xa0" + signed[1:], seq(oid(OID_RSA), b"\x05\x00"),
             tlv(0x04, bytes(sig)))
    sd = seq(integer(1), setof(algid),
             seq(oid(OID_DATA), tlv(0xA0, tlv(0x04, env))),
             tlv(0xA0, certder), setof(si))
    with open(out, "wb") as f:
        f.write(seq(oid(OID_SIGNED), tlv(0xA0, sd)))
    with open(out + ".nonce", "wb") as f:
        f.write(nonce)


def cmd_read(replyf, keyf, signerf, noncef, certout):
    with open(replyf, "rb") as f:
        b = f.read()
    with open(noncef, "rb") as f:
        nonce = f.read()
    _, s, e = parse(b)
    ci = children(b, s, e)
    _, s, e = parse(b, ci[1][1])          # [0] EXPLICIT -> SignedData
    sd = children(b, s, e)
    encap = children(b, sd[2][1], sd[2][2])
    content = None
    if len(encap) > 1:
        _, os_s, os_e = parse(b, encap[1][1])
        content = b[os_s:os_e]
    certs = []
    if sd[3][0] == 0xA0:
        for t, s2, e2, h in children(b, sd[3][1], sd[3][2]):
            certs.append(x509.load_der_x509_certificate(b[h:e2]))
    sis = children(b, sd[-1][1], sd[-1][2])
    si = children(b, sis[0][1], sis[0][2])
    alg = children(b, si[2][1], si[2][2])
    dalg = oid_str(b[alg[0][1]:alg[0][2]])
    aset = si[3]
    signed = b"\x31" + b[aset[3] + 1:aset[2]]
    alg = children(b, si[4][1], si[4][2])
    salg = oid_str(b[alg[0][1]:alg[0][2]])
    sig = b[si[5][1]:si[5][2]]
    vals = {}
    for t, s2, e2, h in children(b, aset[1], aset[2]):
        a = children(b, s2, e2)
        o = oid_str(b[a[0][1]:a[0][2]])
        v = children(b, a[1][1], a[1][2])[0]
        vals[o] = b[v[1]:v[2]]
    hname = {v[0]: v[2] for v in DIGESTS.values()}.get(dalg, "sha256")
    hcls = {v[0]: v[1] for v in DIGESTS.values()}.get(dalg, hashes.SHA256)
    ok = "bad"
    for c in certs:
        try:
            c.public_key().verify(sig, signed, padding.PKCS1v15(), hcls())
            ok = "ok"
        except Exception:
            pass
    if vals.get(OID_MD) != hashlib.new(hname, content or b"").digest():
        ok = "bad"
    status = vals.get(OID_STATUS, b"?").decode()
    print("status=%s failInfo=%s tid=%s nonce=%s sig=%s signeralg=%s" % (
        status, vals.get(OID_FAIL, b"-").decode(),
        vals.get(OID_TID, b"").decode(),
        "ok" if vals.get(OID_RNONCE) == nonce else "bad", ok, salg))
    if status == "0" and certout:
        with tempfile.TemporaryDirectory() as d:
            envf = os.path.join(d, "env")
            with open(envf, "wb") as f:
                f.write(content)
            p7 = subprocess.run(
                ["openssl", "cms", "-decrypt", "-binary", "-inform", "DER",
                 "-in", envf, "-inkey", keyf, "-recip", signerf,
                 "-provider", "legacy", "-provider", "default"],
                check=True, capture_output=True).stdout
            pem = subprocess.run(
                ["openssl", "pkcs7", "-inform", "DER", "-print_certs"],
                input=p7, check=True, capture_output=True).stdout
        with open(certout, "wb") as f:
            f.write(pem)


def main(a):
    opts = {}
    pos = []
    i = 0
    while i < len(a):
        if a[i] in ("--digest", "--cipher"):
            opts[a[i]] = a[i + 1]
            i += 2
        elif a[i].startswith("--"):
            opts[a[i]] = True
            i += 1
        else:
            pos.append(a[i])
            i += 1
    if pos[0] == "csr":
        cmd_csr(*pos[1:5])
    elif pos[0] == "selfsigned":
        cmd_selfsigned(*pos[1:4])
    elif pos[0] == "build":
        cmd_build(int(pos[1]), *pos[2:8], opts)
    elif pos[0] == "read":
        cmd_read(pos[1], pos[2], pos[3], pos[4],
                 pos[5] if len(pos) > 5 else None)
    else:
        sys.exit("unknown command " + pos[0])


if __name__ == "__main__":
    main(sys.argv[1:])
