#!/bin/sh
# Seeds for fuzz_dirvalue in DIR: directory values as publish clean finds
# them, each framed as the harness reads it (a flags byte, bit 0 for
# userSMIMECertificate; the issuing CA's DER with a two-byte length; the
# value): a certificate of the CA, a foreign self-signed one (as Outlook
# makes), the PKCS#7 certs-only bundles Outlook writes to
# userSMIMECertificate (with the chain, and of the foreign certificate),
# a value shaped like a certificate with nothing inside (which OpenLDAP's
# syntax check lets into userCertificate) and random bytes.
#
#   tests/fuzz/dirvalue-seeds.sh DIR
set -eu
dir=$1
py=${PY:-python3}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
cd "$w"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout ca.key -subj "/O=Fuzz/CN=Fuzz Issuing CA" -days 3650 \
    -addext basicConstraints=critical,CA:true -out ca.pem 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout ee.key -subj "/CN=alice@lab.example" -out ee.csr 2>/dev/null
printf 'basicConstraints=CA:false\nkeyUsage=digitalSignature\nsubjectAltName=email:alice@lab.example\n' >ee.ext
openssl x509 -req -in ee.csr -CA ca.pem -CAkey ca.key -set_serial 4097 \
    -days 365 -extfile ee.ext -out ee.pem 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout out.key \
    -subj "/O=Outlook Self-Signed/CN=alice@lab.example" -days 30 \
    -out out.pem 2>/dev/null
for c in ca ee out; do
	openssl x509 -in $c.pem -outform DER -out $c.der
done
cat ee.pem ca.pem >chain.pem
openssl crl2pkcs7 -nocrl -certfile chain.pem -outform DER -out ee.p7 \
    2>/dev/null
openssl crl2pkcs7 -nocrl -certfile out.pem -outform DER -out out.p7 \
    2>/dev/null
openssl crl2pkcs7 -nocrl -outform DER -out empty.p7 2>/dev/null
"$py" - "$dir" <<'PYEOF'
import os, random, struct, sys
dst = sys.argv[1]
ca = open("ca.der", "rb").read()
def put(name, smime, value, issuer=ca):
    open(os.path.join(dst, name), "wb").write(
        bytes([smime]) + struct.pack(">H", len(issuer)) + issuer + value)
def tlv(tag, body):
    n = len(body)
    if n < 128:
        return bytes([tag, n]) + body
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + body
seq = lambda *x: tlv(0x30, b"".join(x))
shape = seq(seq(tlv(0x02, b"\0"), seq(), seq(), seq(), seq(), seq()), seq(),
            tlv(0x03, b"\0"))
rnd = random.Random(2696)
ee, out = open("ee.der", "rb").read(), open("out.der", "rb").read()
put("ours.crt", 0, ee)
put("ours-other-ca.crt", 0, ee, issuer=out)
put("foreign.crt", 0, out)
put("ours-trailing.crt", 0, ee + b"\0")
put("shape.crt", 0, shape)
put("garbage.crt", 0, bytes(rnd.randrange(256) for _ in range(300)))
put("ours.p7", 1, open("ee.p7", "rb").read())
put("foreign.p7", 1, open("out.p7", "rb").read())
put("empty.p7", 1, open("empty.p7", "rb").read())
put("cert-as.p7", 1, ee)
put("garbage.p7", 1, bytes(rnd.randrange(256) for _ in range(300)))
PYEOF
