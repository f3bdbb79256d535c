#!/bin/sh
# Forged recovery blobs (issue 11, point 1): only the CA signs a blob an
# officer opens, every record's certificate is the CA's, and a record's
# escrow (envelope or share) cannot be moved to another record. The forged
# blobs are built here with openssl and Python cryptography, not with
# smimeca: a blob signed by an enrollee's certificate, one naming a
# certificate the CA never issued, and a genuine 2-of-3 record whose
# certificate was swapped for a decoy (re-signed by the enrollee, and by
# whoever holds the CA key). Each is refused with a message, and nothing
# is written.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/keys.sh"

command -v smimeca-enroll >/dev/null 2>&1 ||
    bail_out "smimeca-enroll not found in $top_builddir/tools (build first)"
have_pycrypto ||
    skip_all "$PY with the cryptography module is needed to build the forged blobs"

# --- helpers of this test -----------------------------------------------
# blobtool CMD ARGS: the DER surgery on a SmimecaRecoveryBlob content,
# written from the ASN.1 in archive/blob.c (not with its code).
cat >blobtool.py <<'EOF'
import sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        l = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        l = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + l + body

def items(buf):
    """The TLVs of a constructed value's contents, as raw bytes."""
    out, i = [], 0
    while i < len(buf):
        n = buf[i + 1]
        if n < 0x80:
            h, ln = 2, n
        else:
            k = n & 0x7f
            h, ln = 2 + k, int.from_bytes(buf[i + 2:i + 2 + k], "big")
        out.append(buf[i:i + h + ln])
        i += h + ln
    return out

def body(t):
    n = t[1]
    return t[2:] if n < 0x80 else t[2 + (n & 0x7f):]

def der(path):
    data = open(path, "rb").read()
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificate(data).public_bytes(
            serialization.Encoding.DER)
    return data

cmd = sys.argv[1]
if cmd == "make":
    # make OUT CERT ENVELOPE: one any-one-of-n record (quorum 1, no shares)
    rec = tlv(0x30, der(sys.argv[3]) + tlv(0x02, b"\x01") +
              open(sys.argv[4], "rb").read() + tlv(0x30, b""))
    out = tlv(0x30, tlv(0x02, b"\x01") + tlv(0x30, rec))
    open(sys.argv[2], "wb").write(out)
elif cmd == "swap":
    # swap IN OUT CERT: the first record's certificate replaced
    top = items(body(open(sys.argv[2], "rb").read()))
    recs = items(body(top[1]))
    fields = items(body(recs[0]))
    fields[0] = der(sys.argv[4])
    recs[0] = tlv(0x30, b"".join(fields))
    top[1] = tlv(0x30, b"".join(recs))
    open(sys.argv[3], "wb").write(tlv(0x30, b"".join(top)))
elif cmd == "move-envelope":
    # move-envelope IN OUT: record 1 gets record 2's key envelope
    top = items(body(open(sys.argv[2], "rb").read()))
    recs = items(body(top[1]))
    f1, f2 = items(body(recs[0])), items(body(recs[1]))
    f1[2] = f2[2]
    recs = [tlv(0x30, b"".join(f1))]
    top[1] = tlv(0x30, b"".join(recs))
    open(sys.argv[3], "wb").write(tlv(0x30, b"".join(top)))
elif cmd == "records":
    top = items(body(open(sys.argv[2], "rb").read()))
    print(len(items(body(top[1]))))
EOF

# sign IN OUT CERT KEY: a CMS SignedData (DER, content attached) by CERT,
# with the CA chain as the CA's own blobs carry it.
sign()
{
	if [ "$3" = lab/ca.crt ]; then
		set -- "$@"
	else
		set -- "$@" -certfile lab/chain.pem
	fi
	_in=$1 _out=$2 _crt=$3 _key=$4
	shift 4
	openssl cms -sign -binary -nodetach -nosmimecap -outform DER \
	    -in "$_in" -out "$_out" -signer "$_crt" -inkey "$_key" "$@"
}

# The content of a genuine blob (its signature is checked by openssl).
content()
{
	openssl cms -verify -binary -inform DER -in "$1" -CAfile lab/chain.pem \
	    -purpose any -out "$2" 2>"$T/.vrf"
	grep -q 'Verification successful' "$T/.vrf"
}

# --- a lab CA; mallory holds an ordinary signing certificate ---------------
run_ok smimeca -d "$T/lab" init --lab --key rsa:2048 ||
    bail_out "smimeca init --lab failed"
for i in 1 2 3; do
	officer_pw $i >kp$i
	[ -s kp$i ] || bail_out "no password for officer$i.p12 in passwords.txt"
done
mkcsr mallory mallory@lab.example
run_ok -m "mallory gets an smime-signature certificate" \
    smimeca -d lab issue --template smime-signature --csr mallory.csr \
    --out mallory.crt || bail_out "no certificate for mallory"
mserial=$out
run_ok smimeca -d lab xchg show --pem || bail_out "no exchange certificate"
printf '%s\n' "$out" >xchg.pem
printf 'Forged-Pw-1\n' >pw

# bob and alice escrow any one of three; their genuine blobs open.
enroll ub bob@lab.example Bob || bail_out "bob's enrollment failed"
sbob=$serial
enroll ua alice@lab.example Alice || bail_out "alice's enrollment failed"
salice=$serial
run_ok smimeca -d lab recover blob --serial "$sbob" --out bob.blob
run_ok -m "a genuine blob opens with --ca-cert" \
    smimeca recover open --blob bob.blob --kra-key officers/officer1.p12 \
    --kra-pass-file kp1 --ca-cert lab/ca.crt --out bob-genuine.p12 \
    --password-file pw
like "$out" "record 1: serial $sbob, subject [^,]*CN=Bob" \
    "before decrypting, the officer reads the record's serial and subject"
like "$out" "record 1: .*mail bob@lab\.example, issued 20[0-9][0-9]-" \
    "... its mail address and issue date"
is "$(p12key bob-genuine.p12 file:pw)" "$(keyhex ub/key.pem)" \
    "the genuine blob gives bob's own key"
is "$(printf '%s\n' "$out" | grep -n 'record 1:' | cut -d: -f1)" 2 \
    "the records are listed before anything is written"

run_exit 2 -m "recover open without --ca-cert is a usage error" \
    smimeca recover open --blob bob.blob --kra-key officers/officer1.p12 \
    --kra-pass-file kp1 --out nocacert.p12
[ ! -e nocacert.p12 ] && ok "... and writes nothing" ||
    not_ok "... and writes nothing"
run_exit 2 -m "recover combine without --ca-cert is a usage error" \
    smimeca recover combine --blob bob.blob --out nocacert.p12 share.json
run_ok -m "recover show lists a blob's records without a KRA key" \
    smimeca recover show --blob bob.blob --ca-cert lab/ca.crt
like "$out" "signed by the CA .*CN=" "recover show names the CA that signed"
like "$out" "record 1: serial $sbob, .*any one of 3 KRAs" \
    "recover show: serial and escrow of the record"

# --- attack (a): mallory's blob, her key under bob's name ----------------
py_tap <<'EOF'
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ca = load_cert("lab/ca.crt")
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bob"),
    x509.NameAttribute(NameOID.EMAIL_ADDRESS, "bob@lab.example")])
now = datetime.datetime.now(datetime.timezone.utc)
# Self-made, with the CA's name as issuer, as a forger would.
cert = (x509.CertificateBuilder().subject_name(name)
    .issuer_name(ca.subject).public_key(key.public_key())
    .serial_number(x509.random_serial_number())
    .not_valid_before(now - datetime.timedelta(days=1))
    .not_valid_after(now + datetime.timedelta(days=365))
    .add_extension(x509.SubjectAlternativeName(
        [x509.RFC822Name("bob@lab.example")]), critical=False)
    .sign(key, hashes.SHA256()))
open("fake-bob.crt", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
open("fake-bob.p8", "wb").write(key.private_bytes(serialization.Encoding.DER,
    serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
check(cert.issuer == ca.subject, "a certificate naming bob, made by mallory")
EOF
check "the chosen key enveloped to officer 1 (openssl cms -encrypt)" \
    openssl cms -encrypt -binary -aes256 -outform DER -in fake-bob.p8 \
    -out fake-env.der officers/officer1.crt
check "the forged blob content" "$PY" blobtool.py make forged.der \
    fake-bob.crt fake-env.der
check "mallory signs it (openssl cms -sign)" \
    sign forged.der forged.blob mallory.crt mallory.key
run_fails -m "attack (a): officer 1 refuses mallory's blob" \
    smimeca recover open --blob forged.blob --kra-key officers/officer1.p12 \
    --kra-pass-file kp1 --ca-cert lab/ca.crt --out bob.p12 --password-file pw
like "$err" "signed by .*CN=mallory.*not by the CA" \
    "the refusal names mallory as the signer"
[ ! -e bob.p12 ] && ok "attack (a): no bob.p12 was written" ||
    not_ok "attack (a): no bob.p12 was written"
unlike "$out" "^wrote" "attack (a): nothing reported written"
run_fails -m "attack (a): recover show refuses it too" \
    smimeca recover show --blob forged.blob --ca-cert lab/ca.crt

# The same content signed with the CA key: the certificate is not the CA's.
check "the forged content signed with the CA key (openssl cms -sign)" \
    sign forged.der forged-ca.blob lab/ca.crt lab/private/ca.key
run_fails -m "a CA-signed blob naming a certificate the CA never issued" \
    smimeca recover open --blob forged-ca.blob \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 \
    --ca-cert lab/ca.crt --out bob.p12 --password-file pw
like "$err" "record 1: certificate .*CN=Bob.* was not issued by the CA" \
    "the refusal names the record and its certificate"
[ ! -e bob.p12 ] && ok "no bob.p12 was written" ||
    not_ok "no bob.p12 was written"

# A CA-signed blob whose record carries another record's envelope: the key
# inside is not the private half of the record's certificate.
run_ok -m "a genuine blob of alice and bob" \
    smimeca -d lab recover blob --email bob@lab.example --out b1.blob
run_ok smimeca -d lab recover blob --serial "$salice" --out a1.blob
if content a1.blob a1.der && content b1.blob b1.der; then
	ok "openssl verifies the genuine blobs and gives their content"
else
	not_ok "openssl verifies the genuine blobs and gives their content" \
	    "$(cat "$T/.vrf")"
fi
# Two records: alice's certificate first, then bob's record.
"$PY" - <<'EOF'
exec(open("blobtool.py").read().split("cmd = sys.argv[1]")[0])
a = items(body(open("a1.der", "rb").read()))
b = items(body(open("b1.der", "rb").read()))
recs = items(body(a[1])) + items(body(b[1]))
open("ab.der", "wb").write(tlv(0x30, a[0] + tlv(0x30, b"".join(recs))))
EOF
check "alice's record with bob's envelope (Python)" \
    "$PY" blobtool.py move-envelope ab.der moved.der
check "signed with the CA key" \
    sign moved.der moved.blob lab/ca.crt lab/private/ca.key
run_fails -m "an envelope moved to another record does not open" \
    smimeca recover open --blob moved.blob --kra-key officers/officer1.p12 \
    --kra-pass-file kp1 --ca-cert lab/ca.crt --out alice.p12 \
    --password-file pw
like "$err" "does not match certificate $salice" \
    "the refusal: the key does not match alice's certificate"
[ ! -e alice.p12 ] && ok "no alice.p12 was written" ||
    not_ok "no alice.p12 was written"

# --- attack (b): a quorum bypass with carol's genuine 2-of-3 record ---------
conf=lab/smimeca.conf
sed 's/\(<escrow[^>]*quorum="\)[0-9]*"/\12"/' $conf >$conf.new &&
    cat $conf.new >$conf && rm -f $conf.new
like "$(grep '<escrow' $conf)" 'quorum="2"' "the CA escrows 2 of 3 now"
enroll uc carol@lab.example Carol || bail_out "carol's enrollment failed"
scarol=$serial
run_ok smimeca -d lab recover blob --serial "$scarol" --out carol.blob
if content carol.blob carol.der; then
	ok "openssl gives the content of carol's genuine blob"
else
	not_ok "openssl gives the content of carol's genuine blob" \
	    "$(cat "$T/.vrf")"
fi
# The decoy: mallory's own certificate, which the CA did issue.
check "carol's record with mallory's certificate instead (Python)" \
    "$PY" blobtool.py swap carol.der decoy.der mallory.crt
check "mallory re-signs it" sign decoy.der decoy.blob mallory.crt mallory.key
for i in 1 3; do
	run_fails -m "attack (b): officer $i refuses to open a share" \
	    smimeca recover open --blob decoy.blob \
	    --kra-key officers/officer$i.p12 --kra-pass-file kp$i \
	    --ca-cert lab/ca.crt --share-out share$i.json
	like "$err" "signed by .*CN=mallory.*not by the CA" \
	    "attack (b): officer $i is told mallory signed it"
	[ ! -e share$i.json ] && ok "attack (b): officer $i wrote no share" ||
	    not_ok "attack (b): officer $i wrote no share"
done

# Whoever holds the CA key re-signs the decoy: the CA alone still cannot
# get the officers' shares of carol's key, which name carol's certificate.
check "the decoy re-signed with the CA key" \
    sign decoy.der decoy-ca.blob lab/ca.crt lab/private/ca.key
for i in 1 3; do
	run_fails -m "the CA-signed decoy: officer $i refuses to open a share" \
	    smimeca recover open --blob decoy-ca.blob \
	    --kra-key officers/officer$i.p12 --kra-pass-file kp$i \
	    --ca-cert lab/ca.crt --share-out share$i.json
	like "$out" "record 1: serial $mserial, subject [^,]*CN=mallory" \
	    "officer $i read the record as mallory's before decrypting"
	like "$err" "share was sealed for another certificate" \
	    "officer $i: the share belongs to another certificate"
	[ ! -e share$i.json ] && ok "officer $i wrote no share" ||
	    not_ok "officer $i wrote no share"
done

# Carol's genuine blob still opens 2 of 3.
for i in 1 3; do
	run_ok -m "carol's genuine blob: officer $i opens a share" \
	    smimeca recover open --blob carol.blob \
	    --kra-key officers/officer$i.p12 --kra-pass-file kp$i \
	    --ca-cert lab/ca.crt --share-out share$i.json
done
run_ok -m "two shares rebuild carol's key" \
    smimeca recover combine --blob carol.blob --ca-cert lab/ca.crt \
    --out carol.p12 --password-file pw share1.json share3.json
like "$out" "record 1: serial $scarol, .*2 of 3 officers" \
    "combine lists the record before it writes"
is "$(p12key carol.p12 file:pw)" "$(keyhex uc/key.pem)" \
    "the rebuilt key is carol's"
run_fails -m "combine refuses the decoy blob with carol's shares" \
    smimeca recover combine --blob decoy.blob --ca-cert lab/ca.crt \
    --out decoy.p12 --password-file pw share1.json share3.json
[ ! -e decoy.p12 ] && ok "no decoy.p12 was written" ||
    not_ok "no decoy.p12 was written"

done_testing
