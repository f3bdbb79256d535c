#!/bin/sh
# Key archival (issue 3): the CA exchange certificate, archival requests in
# the Windows CMC layout and the simple form (one of them built with stock
# openssl only), the rejections, and no private key bytes in the database.
# Checked with openssl, Python's cryptography and sqlite3.

. "$(dirname "$0")/lib.sh"

command -v smimeca-enroll >/dev/null 2>&1 ||
    bail_out "smimeca-enroll not found in $top_builddir/tools (build first)"

# --- helpers of this test -----------------------------------------------
ncerts()
{
	sqlite3 "$T/lab/smimeca.db" 'SELECT count(*) FROM certs;'
}

# refused DESC ERE CMD...: CMD exits 1, a line of stderr matches ERE
# (case-insensitive) and the certs table has not changed.
refused()
{
	_rdesc=$1
	_rpat=$2
	shift 2
	_rbefore=$(ncerts)
	run_exit 1 -m "$_rdesc: exit 1" "$@"
	ilike "$err" "$_rpat" "$_rdesc: the message says /$_rpat/"
	is "$(ncerts)" "$_rbefore" "$_rdesc: no certificate in the database"
}

# The public key of a certificate and of a private key, as PEM.
cert_pub()
{
	openssl x509 -in "$1" -noout -pubkey 2>/dev/null
}

key_pub()
{
	openssl pkey -in "$1" -pubout 2>/dev/null
}

same_pub()
{
	_cp=$(cert_pub "$1")
	_kp=$(key_pub "$2")
	if [ -n "$_cp" ] && [ "$_cp" = "$_kp" ]; then
		ok "$3"
	else
		not_ok "$3" "certificate $1 and key $2 differ (or one is unreadable)"
	fi
}

# The mode of a file, as ls shows it (-rw-------).
fmode()
{
	ls -ld "$1" | cut -c1-10
}

# --- a lab CA -----------------------------------------------------------
run_ok smimeca -d "$T/lab" init --lab --key rsa:2048 ||
    bail_out "smimeca init --lab failed"
for i in 1 2 3; do
	[ -f "$T/officers/officer$i.p12" ] ||
	    bail_out "init --lab made no $T/officers/officer$i.p12"
done

# --- the CA exchange certificate ----------------------------------------
run_ok smimeca -d lab xchg show
like "$out" '-Xchg' "xchg show names the exchange certificate"
run_ok smimeca -d lab xchg show --pem || bail_out "no exchange certificate"
printf '%s\n' "$out" >xchg.pem
check "xchg show --pem is a PEM certificate (openssl x509)" \
    openssl x509 -in xchg.pem -noout -subject
like "$out" '-Xchg' "openssl: the exchange certificate's subject ends in -Xchg"
check "openssl x509 -ext of the exchange certificate" \
    openssl x509 -in xchg.pem -noout -ext keyUsage,extendedKeyUsage
like "$out" 'Key Encipherment' "openssl: keyUsage keyEncipherment"
like "$out" '1\.3\.6\.1\.4\.1\.311\.21\.5' \
    "openssl: EKU 1.3.6.1.4.1.311.21.5 (szOID_KP_CA_EXCHANGE)"
check "the exchange certificate chains to the CA (openssl verify)" \
    openssl verify -CAfile lab/chain.pem xchg.pem

py_tap xchg.pem lab/ca.crt <<'EOF'
xc, ca = load_cert(sys.argv[1]), load_cert(sys.argv[2])
cn = xc.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
cacn = ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
check(len(cn) == 1 and len(cacn) == 1 and cn[0].value == cacn[0].value + "-Xchg",
      "python: exchange CN is the CA CN + -Xchg",
      "got %r, CA %r" % ([a.value for a in cn], [a.value for a in cacn]))
check(xc.issuer == ca.subject, "python: the exchange certificate is issued by the CA")
ku = ext(xc, ExtensionOID.KEY_USAGE)
check(ku is not None and ku.value.key_encipherment,
      "python: keyUsage has keyEncipherment")
eku = ext(xc, ExtensionOID.EXTENDED_KEY_USAGE)
check(eku is not None and
      x509.ObjectIdentifier("1.3.6.1.4.1.311.21.5") in list(eku.value),
      "python: EKU has 1.3.6.1.4.1.311.21.5")
life = (xc.not_valid_after - xc.not_valid_before).total_seconds()
check(abs(life - 7 * 86400) <= 3600, "python: valid for 7 days",
      "validity %s .. %s" % (xc.not_valid_before, xc.not_valid_after))
now = datetime.datetime.utcnow()
check(xc.not_valid_before <= now + datetime.timedelta(minutes=5) and
      now < xc.not_valid_after, "python: the exchange certificate is valid now")
check(isinstance(xc.public_key(), rsa.RSAPublicKey),
      "python: the exchange key is RSA (key transport)")
check(ext(xc, ExtensionOID.SUBJECT_KEY_IDENTIFIER) is not None and
      ext(xc, ExtensionOID.AUTHORITY_KEY_IDENTIFIER) is not None,
      "python: SKI and AKI present")
EOF

# CA-held exchange keys are files of mode 0600.
xkeys=$(ls lab/private/xchg-*.key 2>/dev/null)
if [ -n "$xkeys" ]; then
	ok "exchange key file(s) in lab/private/"
else
	not_ok "exchange key file(s) in lab/private/" "$(ls -l lab/private)"
fi
for f in $xkeys; do
	is "$(fmode "$f")" "-rw-------" "$f is mode 0600"
done

# --- Windows layout (CMC) ------------------------------------------------
run_ok smimeca-enroll --out-dir u1 --email alice@lab.example --cn Alice \
    --archive --xchg xchg.pem || bail_out "smimeca-enroll --archive failed"
for f in u1/key.pem u1/request.cmc; do
	[ -s "$f" ] && ok "smimeca-enroll wrote $f" || not_ok "smimeca-enroll wrote $f"
done
is "$(fmode u1/key.pem)" "-rw-------" "u1/key.pem is mode 0600"
check "openssl parses u1/request.cmc as CMS (cms -cmsout -print -inform DER)" \
    openssl cms -cmsout -print -inform DER -in u1/request.cmc
cmsprint=$out
like "$cmsprint" 'pkcs7-signedData|1\.2\.840\.113549\.1\.7\.2' \
    "request.cmc is a CMS SignedData"
like "$cmsprint" 'id-cct-PKIData|1\.3\.6\.1\.5\.5\.7\.12\.2' \
    "request.cmc encapsulates id-cct-PKIData (1.3.6.1.5.5.7.12.2)"
like "$cmsprint" '1\.3\.6\.1\.4\.1\.311\.21\.13' \
    "request.cmc has the archived-key attribute 1.3.6.1.4.1.311.21.13"
check "openssl asn1parse of request.cmc" \
    openssl asn1parse -inform DER -in u1/request.cmc

# The structure, down to the bytes (the PKIData is inside an OCTET STRING,
# where openssl cms -print shows only hex).
cat >der.py <<'EOF'
import sys

def oid_der(s):
    a = [int(x) for x in s.split(".")]
    body = bytes([40 * a[0] + a[1]])
    for v in a[2:]:
        enc = [v & 0x7F]
        v >>= 7
        while v:
            enc.append(0x80 | (v & 0x7F))
            v >>= 7
        body += bytes(reversed(enc))
    return bytes([6, len(body)]) + body

def hdr(b, i):
    tag, l = b[i], b[i + 1]
    i += 2
    if l & 0x80:
        n = l & 0x7F
        if n == 0:
            raise ValueError("indefinite length at %d" % i)
        l = int.from_bytes(b[i:i + n], "big")
        i += n
    return tag, i, l

def kids(b, c, l):
    out, i = [], c
    while i < c + l:
        t, cc, ll = hdr(b, i)
        out.append((t, i, cc, ll))
        i = cc + ll
    return out

# The encryptedContent of the EnvelopedData in the archived-key attribute:
# (offset, length) of the ciphertext bytes.
def archived_ciphertext(data):
    oid = oid_der("1.3.6.1.4.1.311.21.13")
    pos = data.find(oid)
    if pos < 0 or data.find(oid, pos + 1) >= 0:
        raise ValueError("not exactly one archived-key attribute")
    t, c, l = hdr(data, pos + len(oid))
    if t != 0x31:
        raise ValueError("archived-key value is not a SET")
    t, c, l = hdr(data, c)
    if t != 0x30:
        raise ValueError("archived-key value is not a ContentInfo")
    ci = kids(data, c, l)
    if ci[0][0] != 6 or ci[1][0] != 0xA0:
        raise ValueError("bad ContentInfo")
    t, c, l = hdr(data, ci[1][2])
    eci = [k for k in kids(data, c, l) if k[0] == 0x30]
    if len(eci) != 1:
        raise ValueError("no EncryptedContentInfo")
    ec = kids(data, eci[0][2], eci[0][3])
    if len(ec) < 3:
        raise ValueError("EncryptedContentInfo has no encryptedContent")
    t, _, c, l = ec[2]
    if t == 0xA0:
        t, _, c, l = kids(data, c, l)[0]
    if t not in (0x80, 0x04):
        raise ValueError("unexpected encryptedContent tag %#x" % t)
    return c, l

if __name__ == "__main__":
    data = bytearray(open(sys.argv[1], "rb").read())
    c, l = archived_ciphertext(data)
    data[c + l // 2] ^= 0x5A
    open(sys.argv[2], "wb").write(bytes(data))
    print("flipped byte %d of %d ciphertext bytes at offset %d" %
          (l // 2, l, c + l // 2))
EOF

py_tap u1/request.cmc <<'EOF'
sys.path.insert(0, ".")
from der import oid_der, archived_ciphertext
data = open(sys.argv[1], "rb").read()
for oid, what in (("1.3.6.1.5.5.7.12.2", "id-cct-PKIData"),
                  ("1.3.6.1.4.1.311.21.13", "szOID_ARCHIVED_KEY_ATTR"),
                  ("1.3.6.1.4.1.311.21.21", "szOID_ENCRYPTED_KEY_HASH"),
                  ("1.3.6.1.4.1.311.10.10.1", "szOID_CMC_ADD_ATTRIBUTES"),
                  ("1.2.840.113549.1.7.3", "id-envelopedData")):
    check(oid_der(oid) in data, "request.cmc contains %s (%s)" % (oid, what))
try:
    c, l = archived_ciphertext(data)
    # An RSA 2048 key BLOB is 1172 bytes: about as much ciphertext.
    check(l >= 1000 and l % 16 == 0,
          "the archived key is a block-cipher ciphertext of a key BLOB (%d bytes)" % l)
except Exception as e:
    check(False, "the archived-key attribute holds an EnvelopedData", e)
EOF

run_ok -m "issue --template smime-encryption --archival-request u1/request.cmc" \
    smimeca -d lab issue --template smime-encryption \
    --archival-request u1/request.cmc --out alice.crt
s_alice=$out
like "$s_alice" '^[0-9a-f]{32}$' "issue --out prints the serial"
same_pub alice.crt u1/key.pem "the certificate's public key is u1/key.pem's"
check "openssl verify -purpose smimeencrypt alice.crt" \
    openssl verify -purpose smimeencrypt -CAfile lab/ca.crt alice.crt
check "openssl x509 -ext subjectAltName,keyUsage alice.crt" \
    openssl x509 -in alice.crt -noout -ext subjectAltName,keyUsage
like "$out" 'email:alice@lab\.example' "alice.crt names alice@lab.example"
like "$out" 'Key Encipherment' "alice.crt has keyEncipherment"
is "$(sqlite3 lab/smimeca.db "SELECT count(*) FROM escrow e JOIN certs c
    ON c.id = e.cert_id WHERE c.serial = '$s_alice';")" 1 \
    "an escrow row for alice's certificate"
# The archived-key attribute is stripped before the request is stored.
reqhex=$(sqlite3 lab/smimeca.db 'SELECT hex(csr) FROM requests;')
unlike "$reqhex" '2B060104018237150D' \
    "the stored requests carry no archived-key attribute"

# The same request again: PEM/base64 armour accepted (another user).
run_ok smimeca-enroll --out-dir u5 --email erin@lab.example --cn Erin \
    --archive --xchg xchg.pem
openssl base64 -in u5/request.cmc -out u5/request.b64
run_ok -m "issue --archival-request in base64" \
    smimeca -d lab issue --template smime-encryption \
    --archival-request u5/request.b64 --out erin.crt
same_pub erin.crt u5/key.pem "erin's certificate holds u5/key.pem's public key"

# --- simple form: CSR + CMS EnvelopedData of the PKCS#8 key --------------
run_ok smimeca-enroll --out-dir u2 --email bob@lab.example --cn Bob \
    --archive --xchg xchg.pem --format simple
for f in u2/key.pem u2/request.csr u2/key.cms; do
	[ -s "$f" ] && ok "smimeca-enroll --format simple wrote $f" ||
	    not_ok "smimeca-enroll --format simple wrote $f"
done
check "openssl parses u2/key.cms" \
    openssl cms -cmsout -print -inform DER -in u2/key.cms
like "$out" 'pkcs7-envelopedData|1\.2\.840\.113549\.1\.7\.3' \
    "u2/key.cms is a CMS EnvelopedData"
run_ok -m "issue --csr u2/request.csr --encrypted-key u2/key.cms" \
    smimeca -d lab issue --template smime-encryption --csr u2/request.csr \
    --encrypted-key u2/key.cms --out bob.crt
same_pub bob.crt u2/key.pem "bob's certificate holds u2/key.pem's public key"
check "openssl verify -purpose smimeencrypt bob.crt" \
    openssl verify -purpose smimeencrypt -CAfile lab/ca.crt bob.crt

# The simple form made with stock openssl only.
mkdir u3
check "openssl genpkey rsa 2048" \
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out u3/key.pem
check "openssl req -new" \
    openssl req -new -key u3/key.pem \
    -subj "/CN=Carol/emailAddress=carol@lab.example" -out u3/request.csr
check "openssl pkcs8 -topk8 -nocrypt -outform DER" \
    openssl pkcs8 -topk8 -nocrypt -outform DER -in u3/key.pem \
    -out u3/key.p8.der
check "openssl cms -encrypt -recip xchg.pem -binary -aes256 -outform DER" \
    openssl cms -encrypt -recip xchg.pem -binary -aes256 -outform DER \
    -in u3/key.p8.der -out u3/key.cms
run_ok -m "issue from the openssl-made simple form" \
    smimeca -d lab issue --template smime-encryption --csr u3/request.csr \
    --encrypted-key u3/key.cms --out carol.crt
same_pub carol.crt u3/key.pem "carol's certificate holds the openssl key"
check "openssl verify -purpose smimeencrypt carol.crt" \
    openssl verify -purpose smimeencrypt -CAfile lab/ca.crt carol.crt

# The same with a PEM PKCS#8 key inside the envelope and a DER CSR.
mkdir u4
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out u4/key.pem 2>/dev/null
openssl req -new -key u4/key.pem -outform DER \
    -subj "/CN=Dave/emailAddress=dave@lab.example" -out u4/request.der
openssl cms -encrypt -recip xchg.pem -binary -aes256 -outform DER \
    -in u4/key.pem -out u4/key.cms
run_ok -m "issue from a DER CSR and an envelope of a PEM PKCS#8 key" \
    smimeca -d lab issue --template smime-encryption --csr u4/request.der \
    --encrypted-key u4/key.cms --out dave.crt
same_pub dave.crt u4/key.pem "dave's certificate holds u4/key.pem's public key"

# --- EC keys --------------------------------------------------------------
run_ok -m "smimeca-enroll --key-type ec:p256 --archive" \
    smimeca-enroll --out-dir uec --key-type ec:p256 --email ec@lab.example \
    --cn "Eve Curve" --archive --xchg xchg.pem
check "openssl reads uec/key.pem as a P-256 key" \
    openssl pkey -in uec/key.pem -noout -text
like "$out" 'prime256v1|P-256' "uec/key.pem is P-256"

# A copy of the template that allows P-256 too.
sed -e 's/name="smime-encryption"/name="smime-encryption-ec"/' \
    -e '/<rsa /a\
    <ec curve="P-256"/>' \
    lab/templates/smime-encryption.xml >lab/templates/smime-encryption-ec.xml
check "template check smime-encryption-ec.xml (RSA + EC P-256)" \
    smimeca -d lab template check lab/templates/smime-encryption-ec.xml
run_ok -m "smime-encryption-ec issues from an EC (ECDH key BLOB) request" \
    smimeca -d lab issue --template smime-encryption-ec \
    --archival-request uec/request.cmc --out ec.crt
same_pub ec.crt uec/key.pem "the EC certificate holds uec/key.pem's public key"
is "$(sqlite3 lab/smimeca.db "SELECT count(*) FROM escrow e JOIN certs c
    ON c.id = e.cert_id WHERE c.serial = '$out';")" 1 \
    "an escrow row for the EC certificate"
# The simple form with an EC key, made with openssl.
mkdir uec2
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out uec2/key.pem 2>/dev/null
openssl req -new -key uec2/key.pem \
    -subj "/CN=Ed Curve/emailAddress=ed@lab.example" -out uec2/request.csr
openssl pkcs8 -topk8 -nocrypt -outform DER -in uec2/key.pem \
    -out uec2/key.p8.der
openssl cms -encrypt -recip xchg.pem -binary -aes256 -outform DER \
    -in uec2/key.p8.der -out uec2/key.cms
run_ok -m "smime-encryption-ec issues from an openssl-made EC simple form" \
    smimeca -d lab issue --template smime-encryption-ec \
    --csr uec2/request.csr --encrypted-key uec2/key.cms --out ec2.crt
same_pub ec2.crt uec2/key.pem "the certificate holds uec2/key.pem's public key"

# --- rejections -----------------------------------------------------------
# (a) the key in the envelope is not the CSR's.
mkdir ua
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out ua/csr-key.pem 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out ua/other-key.pem 2>/dev/null
openssl req -new -key ua/csr-key.pem \
    -subj "/CN=Mallory/emailAddress=mallory@lab.example" -out ua/request.csr
openssl pkcs8 -topk8 -nocrypt -outform DER -in ua/other-key.pem \
    -out ua/other.p8.der
openssl cms -encrypt -recip xchg.pem -binary -aes256 -outform DER \
    -in ua/other.p8.der -out ua/key.cms
# Refused when the request is opened (archive/areq.c), by its own message:
# escrow.c refuses the same key later, in other words, after signing.
nescrow()
{
	sqlite3 "$T/lab/smimeca.db" 'SELECT count(*) FROM escrow;'
}
counts_a="$(db_counts lab) $(nescrow)"
mismatch="the archived private key does not belong to the request's public key"
refused "(a) key does not match the CSR" "^smimeca: .*$mismatch\$" \
    smimeca -d lab issue --template smime-encryption --csr ua/request.csr \
    --encrypted-key ua/key.cms --out mallory.crt
unlike "$err" 'certificate [0-9a-f]' \
    "(a) the message names no certificate (nothing was signed)"
is "$(db_counts lab) $(nescrow)" "$counts_a" \
    "(a) no certificate, audit row, request or escrow row"
[ -e mallory.crt ] && not_ok "(a) no certificate file written" ||
    ok "(a) no certificate file written"

# (b) one byte of the archived EnvelopedData changed: the outer signature
# does not cover unsigned attributes; the encrypted-key hash must.
run_ok smimeca-enroll --out-dir ub --email tina@lab.example --cn Tina \
    --archive --xchg xchg.pem
check "flip one ciphertext byte of the archived EnvelopedData" \
    "$PY" der.py ub/request.cmc ub/tampered.cmc
diag "$out"
if cmp -s ub/request.cmc ub/tampered.cmc; then
	not_ok "the tampered request differs from the original"
else
	ok "the tampered request differs from the original"
fi
check "openssl still parses the tampered request" \
    openssl cms -cmsout -print -inform DER -in ub/tampered.cmc
refused "(b) tampered archived key" 'hash' \
    smimeca -d lab issue --template smime-encryption \
    --archival-request ub/tampered.cmc --out tina-bad.crt
run_ok -m "(b) the untampered request issues" \
    smimeca -d lab issue --template smime-encryption \
    --archival-request ub/request.cmc --out tina.crt
same_pub tina.crt ub/key.pem "(b) tina's certificate holds ub/key.pem's key"

# (f) archival forbidden, key given.
run_ok smimeca-enroll --out-dir uf2 --email gina@lab.example --cn Gina \
    --archive --xchg xchg.pem --format simple
run_ok -m "(f) smime-signature issues from the plain CSR" \
    smimeca -d lab issue --template smime-signature --csr uf2/request.csr \
    --out gina-sign.crt
is "$(sqlite3 lab/smimeca.db "SELECT count(*) FROM escrow e JOIN certs c
    ON c.id = e.cert_id WHERE c.serial = '$out';")" 0 \
    "(f) no escrow row for the signing certificate"

# --- exchange rollover ------------------------------------------------------
run_ok smimeca-enroll --out-dir u7 --email jo@lab.example --cn Jo \
    --archive --xchg xchg.pem
run_ok smimeca -d lab xchg roll
run_ok smimeca -d lab xchg show --pem
printf '%s\n' "$out" >xchg2.pem
if cmp -s xchg.pem xchg2.pem; then
	not_ok "after xchg roll, xchg show gives the new certificate"
else
	ok "after xchg roll, xchg show gives the new certificate"
fi
nx=$(ls lab/private/xchg-*.key 2>/dev/null | wc -l)
[ "$nx" -ge 2 ] && ok "a second exchange key file after the roll" ||
    not_ok "a second exchange key file after the roll" "$(ls -l lab/private)"
for f in lab/private/xchg-*.key; do
	is "$(fmode "$f")" "-rw-------" "$f is mode 0600"
done
run_ok -m "a request to the previous exchange certificate still issues" \
    smimeca -d lab issue --template smime-encryption \
    --archival-request u7/request.cmc --out jo.crt
same_pub jo.crt u7/key.pem "jo's certificate holds u7/key.pem's public key"
run_ok smimeca-enroll --out-dir u6 --email hal@lab.example --cn Hal \
    --archive --xchg xchg2.pem
run_ok -m "a request to the new exchange certificate issues" \
    smimeca -d lab issue --template smime-encryption \
    --archival-request u6/request.cmc --out hal.crt
same_pub hal.crt u6/key.pem "hal's certificate holds u6/key.pem's public key"

# --- no private key bytes in the CA's files --------------------------------
py_tap u1/key.pem u2/key.pem u3/key.pem u4/key.pem u5/key.pem u6/key.pem \
    u7/key.pem ub/key.pem uec/key.pem uec2/key.pem <<'EOF'
Enc, PF = serialization.Encoding, serialization.PrivateFormat
NoEnc = serialization.NoEncryption()

def be(n):
    return n.to_bytes((n.bit_length() + 7) // 8, "big")

def needles(path):
    key = serialization.load_pem_private_key(open(path, "rb").read(), None)
    out = {"PKCS#8 DER": key.private_bytes(Enc.DER, PF.PKCS8, NoEnc),
           "traditional DER": key.private_bytes(Enc.DER, PF.TraditionalOpenSSL, NoEnc)}
    if isinstance(key, rsa.RSAPrivateKey):
        pn = key.private_numbers()
        for name, v in (("p", pn.p), ("q", pn.q), ("d", pn.d)):
            out[name + " big-endian"] = be(v)
            out[name + " little-endian"] = be(v)[::-1]
    else:
        v = key.private_numbers().private_value.to_bytes(
            (key.curve.key_size + 7) // 8, "big")
        out["private value big-endian"] = v
        out["private value little-endian"] = v[::-1]
    return out

dbfiles = [f for f in ("lab/smimeca.db", "lab/smimeca.db-wal",
                       "lab/smimeca.db-journal") if os.path.exists(f)]
check("lab/smimeca.db" in dbfiles, "the database file exists")
alltree = []
for root, dirs, files in os.walk("lab"):
    for f in files:
        alltree.append(os.path.join(root, f))
contents = {f: open(f, "rb").read() for f in set(dbfiles + alltree)}
for path in sys.argv[1:]:
    ns = needles(path)
    for f in dbfiles:
        hits = [n for n, b in ns.items() if b in contents[f]]
        check(not hits, "%s holds no bytes of %s" % (f, path),
              "found: " + ", ".join(hits))
    hits = ["%s in %s" % (n, f) for f in alltree for n, b in ns.items()
            if b in contents[f]]
    check(not hits, "no file under lab/ holds bytes of %s" % path,
          "found: " + ", ".join(hits))
EOF

run_ok -m "audit verify after the archival" smimeca -d lab audit verify

# --- (d) an exchange certificate that has expired: faketime ---------------
# Last, as it may leave a new exchange certificate dated 8 days ahead.
# expired DESC CERTFILE CMD...: CMD (a smimeca issue writing CERTFILE) run
# 8 days ahead must be refused for the exchange certificate.
expired()
{
	_edesc=$1
	_ecrt=$2
	shift 2
	_ebefore=$(ncerts)
	# An ASan build must be told that libfaketime comes first.
	run_cmd env ASAN_OPTIONS="verify_asan_link_order=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
	    faketime '+8 days' "$@"
	if [ "$rc" -ge 126 ] || printf '%s\n' "$err" |
	    grep -Eq 'Sanitizer|ASan|libfaketime'; then
		skip "$_edesc" "smimeca does not run under faketime (exit $rc: $(printf '%s' "$err" | head -n 1))"
	elif [ "$rc" -eq 0 ]; then
		_enb=$(openssl x509 -in "$_ecrt" -noout -startdate |
		    sed 's/^notBefore=//')
		if "$PY" -c '
import sys, datetime
nb = datetime.datetime.strptime(sys.argv[1].replace(" GMT", ""), "%b %d %H:%M:%S %Y")
sys.exit(0 if nb > datetime.datetime.utcnow() + datetime.timedelta(days=7) else 1)
' "$_enb"; then
			not_ok "$_edesc: refused" \
			    "issued under faketime +8 days (notBefore $_enb)"
		else
			skip "$_edesc" "smimeca ignores faketime (notBefore $_enb is today)"
		fi
	else
		is "$rc" 1 "$_edesc: exit 1"
		ilike "$err" 'exchange' "$_edesc: the message says /exchange/"
		is "$(ncerts)" "$_ebefore" "$_edesc: no certificate in the database"
	fi
}

run_ok smimeca-enroll --out-dir ud --email ida@lab.example --cn Ida \
    --archive --xchg xchg2.pem
run_ok smimeca-enroll --out-dir ud2 --email ivo@lab.example --cn Ivo \
    --archive --xchg xchg2.pem --format simple
if ! command -v faketime >/dev/null 2>&1; then
	skip "(d) expired exchange certificate" "faketime is not installed"
elif [ "$(faketime '+8 days' date -u +%Y%m%d 2>/dev/null)" = "$(date -u +%Y%m%d)" ]; then
	skip "(d) expired exchange certificate" "faketime does not work here"
else
	expired "(d) CMC request to an expired exchange certificate" ida.crt \
	    smimeca -d lab issue --template smime-encryption \
	    --archival-request ud/request.cmc --out ida.crt
	expired "(d) simple form to an expired exchange certificate" ivo.crt \
	    smimeca -d lab issue --template smime-encryption \
	    --csr ud2/request.csr --encrypted-key ud2/key.cms --out ivo.crt
fi

done_testing
