#!/bin/sh
# Key recovery (issue 3), any one of n KRAs: the recovery blob verifies with
# stock openssl, the escrowed envelope opens with stock openssl and an
# officer's key, `recover open` works without a CA directory, and the
# recovered PKCS#12 decrypts mail in openssl, NSS cmsutil and gpgsm.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/keys.sh"

command -v smimeca-enroll >/dev/null 2>&1 ||
    bail_out "smimeca-enroll not found in $top_builddir/tools (build first)"

# --- helpers of this test -----------------------------------------------
# derkeyhex DER: keyhex (keys.sh) for a DER PKCS#8 file.
derkeyhex()
{
	openssl pkey -inform DER -in "$1" -outform DER 2>/dev/null |
	    keydigest "$1"
}

# --- a lab CA and alice's escrowed key ------------------------------------
run_ok smimeca -d "$T/lab" init --lab --key rsa:2048 ||
    bail_out "smimeca init --lab failed"
[ -f officers/passwords.txt ] || bail_out "init --lab wrote no officers/passwords.txt"
is "$(fmode officers/passwords.txt)" "-rw-------" "passwords.txt is mode 0600"
for i in 1 2 3; do
	is "$(fmode officers/officer$i.p12)" "-rw-------" \
	    "officer$i.p12 is mode 0600"
	officer_pw $i >kp$i
	[ -s kp$i ] || bail_out "no password for officer$i.p12 in passwords.txt"
done
check "officer1.p12 opens with its password (openssl pkcs12)" \
    openssl pkcs12 -in officers/officer1.p12 -passin file:kp1 -nokeys \
    -clcerts
run_ok smimeca -d lab kra list --json
printf '%s\n' "$out" >kras.json
py_tap kras.json officers/officer1.crt officers/officer2.crt \
    officers/officer3.crt <<'EOF'
kras = json.load(open(sys.argv[1]))
shas = set(k.get("sha256", "").lower().replace(":", "") for k in kras)
for p in sys.argv[2:]:
    c = load_cert(p)
    fp = c.fingerprint(hashes.SHA256()).hex()
    check(fp in shas, "kra list holds %s" % p)
    eku = ext(c, ExtensionOID.EXTENDED_KEY_USAGE)
    check(eku is not None and x509.ObjectIdentifier("1.3.6.1.4.1.311.21.6")
          in list(eku.value), "%s has EKU 1.3.6.1.4.1.311.21.6" % p)
EOF

run_ok smimeca -d lab xchg show --pem || bail_out "no exchange certificate"
printf '%s\n' "$out" >xchg.pem
run_ok smimeca-enroll --out-dir u1 --email alice@lab.example --cn Alice \
    --archive --xchg xchg.pem || bail_out "smimeca-enroll failed"
run_ok smimeca -d lab issue --template smime-encryption \
    --archival-request u1/request.cmc --out alice.crt ||
    bail_out "alice's certificate was not issued"
s1=$out
orig=$(keyhex u1/key.pem)
printf 'Recovery-Pw-1\n' >pw

# --- the recovery blob (CA administrator) ----------------------------------
run_ok smimeca -d lab recover blob --serial "$s1" --out alice.blob
check "openssl cms -verify -CAfile lab/ca.crt verifies the blob" \
    openssl cms -verify -inform DER -in alice.blob -CAfile lab/ca.crt \
    -binary -out /dev/null
check "the blob is a CMS SignedData" \
    openssl cms -cmsout -print -inform DER -in alice.blob
like "$out" 'pkcs7-signedData' "the blob's content type is signedData"
run_ok smimeca -d lab recover blob --serial "$(printf '%s' "$s1" |
    tr 'a-f' 'A-F')" --out alice-upper.blob
run_exit 1 -m "recover blob of an unknown serial: exit 1" \
    smimeca -d lab recover blob --serial 0123456789abcdef0123456789abcdef \
    --out none.blob

# --- the escrow envelope opens with stock openssl and any officer key -----
sqlite3 lab/smimeca.db "SELECT hex(e.envelope) FROM escrow e JOIN certs c
    ON c.id = e.cert_id WHERE c.serial = '$s1';" | xxd -r -p >env.der
if [ -s env.der ]; then
	ok "alice's escrow envelope read with sqlite3"
else
	not_ok "alice's escrow envelope read with sqlite3"
fi
check "openssl cms -cmsout -print of the escrow envelope" \
    openssl cms -cmsout -print -inform DER -in env.der
envprint=$out
like "$envprint" 'pkcs7-envelopedData' "the envelope is a CMS EnvelopedData"
is "$(printf '%s\n' "$envprint" | grep -c 'd\.ktri:')" 3 \
    "one KeyTransRecipientInfo per KRA (3)"
is "$(printf '%s\n' "$envprint" | grep -c 'rsaesOaep')" 3 \
    "every key transport is RSA-OAEP"
like "$envprint" 'aes-256' "the content is encrypted with AES-256"
check "openssl pkcs8 -topk8 -nocrypt -outform DER of u1/key.pem" \
    openssl pkcs8 -topk8 -nocrypt -outform DER -in u1/key.pem -out alice.p8.der
for i in 1 2 3; do
	check "openssl pkcs12: officer$i's key" \
	    openssl pkcs12 -in officers/officer$i.p12 -nodes -passin "pass:$(cat kp$i)" \
	    -nocerts -out off$i.key
	check "openssl pkcs12: officer$i's certificate" \
	    openssl pkcs12 -in officers/officer$i.p12 -nodes -passin "pass:$(cat kp$i)" \
	    -nokeys -clcerts -out off$i.crt
	check "openssl cms -decrypt of the escrow envelope with officer$i's key" \
	    openssl cms -decrypt -inform DER -in env.der -recip off$i.crt \
	    -inkey off$i.key -binary -out rec$i.p8.der
	is "$(derkeyhex rec$i.p8.der)" "$orig" \
	    "officer$i: the escrowed key is alice's key"
done
# Both are OpenSSL 3's DER encoding of the same key: byte for byte equal.
check "the escrowed bytes are the PKCS#8 DER openssl makes" \
    cmp rec1.p8.der alice.p8.der

# --- recover open: an officer on another machine, no CA directory ---------
mkdir elsewhere
cd elsewhere || bail_out "cd elsewhere"
run_ok -m "recover open --out without -d (SMIMECA_DIR pointing nowhere)" \
    env SMIMECA_DIR="$T/no-such-ca" smimeca recover open \
    --blob ../alice.blob --ca-cert ../lab/ca.crt --kra-key ../officers/officer1.p12 \
    --kra-pass-file ../kp1 --out alice.p12 --password-file ../pw
unlike "$out" 'PKCS#12 password' "with --password-file no password is printed"
cd "$T" || bail_out "cd $T"
[ -d no-such-ca ] && not_ok "recover open created no CA directory" ||
    ok "recover open created no CA directory"
[ -s elsewhere/alice.p12 ] && ok "alice.p12 written in the working directory" ||
    not_ok "alice.p12 written in the working directory"
is "$(fmode elsewhere/alice.p12)" "-rw-------" "alice.p12 is mode 0600"
cp elsewhere/alice.p12 alice.p12
check "openssl pkcs12 -passin file:pw opens alice.p12" \
    openssl pkcs12 -in alice.p12 -passin file:pw -nodes -out alice.pem
is "$(p12key alice.p12 file:pw)" "$orig" "alice.p12 holds the original key"
is "$(p12cert alice.p12 file:pw sha256)" "$(fp alice.crt sha256)" \
    "alice.p12 holds alice's certificate"
openssl pkcs12 -in alice.p12 -passin file:pw -nokeys -cacerts \
    -out alice-chain.pem 2>/dev/null
py_tap alice-chain.pem lab/ca.crt <<'EOF'
chain = [c.fingerprint(hashes.SHA256()) for c in load_certs(sys.argv[1])]
check(load_cert(sys.argv[2]).fingerprint(hashes.SHA256()) in chain,
      "alice.p12 holds the CA certificate", "%d CA certificate(s) in it" % len(chain))
EOF
run_fails -m "alice.p12 does not open with a wrong password" \
    openssl pkcs12 -in alice.p12 -passin pass:wrong -nodes -noout

# Officer 2, the CA certificate as trust anchor, KRA password from the
# environment, generated PKCS#12 password.
run_ok -m "recover open (officer2, \$SMIMECA_KRA_PASSPHRASE, --ca-cert, generated password)" \
    env SMIMECA_KRA_PASSPHRASE="$(cat kp2)" smimeca recover open \
    --blob alice.blob --kra-key officers/officer2.p12 --ca-cert lab/ca.crt \
    --out gen.p12
like "$out" 'PKCS#12 password: ' "the generated password is printed"
genpw=$(printf '%s\n' "$out" | sed -n 's/.*PKCS#12 password: *//p' |
    head -n 1)
isnt "$genpw" "" "a non-empty generated password"
is "$(p12key gen.p12 "pass:$genpw")" "$orig" \
    "gen.p12 opens with the printed password and holds the original key"
run_ok -m "officer3 recovers too" \
    smimeca recover open --blob alice.blob --ca-cert lab/ca.crt --kra-key officers/officer3.p12 \
    --kra-pass-file kp3 --out alice3.p12 --password-file pw
is "$(p12key alice3.p12 file:pw)" "$orig" "officer3: the original key"

# --- failures of recover open ---------------------------------------------
check "openssl: a KRA-like certificate that is not registered" \
    openssl req -x509 -newkey rsa:2048 -nodes -keyout fake-kra.key \
    -out fake-kra.crt -days 30 -subj "/CN=Fake Recovery Officer" \
    -addext keyUsage=critical,keyEncipherment \
    -addext extendedKeyUsage=1.3.6.1.4.1.311.21.6
check "openssl pkcs12 -export of the fake officer" \
    openssl pkcs12 -export -inkey fake-kra.key -in fake-kra.crt \
    -passout pass:fakepw -out fake-kra.p12
printf 'fakepw\n' >fakepw
run_exit 1 -m "recover open with an unregistered KRA key: exit 1" \
    smimeca recover open --blob alice.blob --ca-cert lab/ca.crt --kra-key fake-kra.p12 \
    --kra-pass-file fakepw --out fake.p12 --password-file pw
[ -e fake.p12 ] && not_ok "no PKCS#12 written for the wrong officer" ||
    ok "no PKCS#12 written for the wrong officer"
printf 'not-the-password\n' >badpw
run_exit 1 -m "recover open with a wrong KRA password: exit 1" \
    smimeca recover open --blob alice.blob --ca-cert lab/ca.crt --kra-key officers/officer1.p12 \
    --kra-pass-file badpw --out bad.p12 --password-file pw
run_exit 1 -m "recover open with --ca-cert of another CA: exit 1" \
    smimeca recover open --blob alice.blob --kra-key officers/officer1.p12 \
    --kra-pass-file kp1 --ca-cert fake-kra.crt --out bad2.p12 \
    --password-file pw
"$PY" -c '
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[len(b) // 2] ^= 0x01
open(sys.argv[2], "wb").write(bytes(b))' alice.blob tampered.blob
run_exit 1 -m "recover open of a tampered blob: exit 1" \
    smimeca recover open --blob tampered.blob --ca-cert lab/ca.crt --kra-key officers/officer1.p12 \
    --kra-pass-file kp1 --out bad3.p12 --password-file pw
run_fails -m "openssl cms -verify rejects the tampered blob too" \
    openssl cms -verify -inform DER -in tampered.blob -CAfile lab/ca.crt \
    -binary -out /dev/null

# --- mail encrypted to alice opens with the recovered key -----------------
printf 'Subject: secret\r\n\r\nthe launch code is 1234\r\n' >msg.txt
check "openssl cms -encrypt -aes256 to alice.crt" \
    openssl cms -encrypt -aes256 -binary -in msg.txt -outform DER \
    -out msg.cms alice.crt
check "openssl smime -encrypt -aes256 to alice.crt" \
    openssl smime -encrypt -aes256 -binary -in msg.txt -out msg.smime \
    alice.crt
openssl pkcs12 -in alice.p12 -passin file:pw -nodes -nocerts \
    -out alice-rec.key 2>/dev/null
check "openssl cms -decrypt with the recovered key" \
    openssl cms -decrypt -inform DER -in msg.cms -recip alice.crt \
    -inkey alice-rec.key -binary -out dec-cms.txt
cmp -s dec-cms.txt msg.txt && ok "openssl cms: the plaintext is back" ||
    not_ok "openssl cms: the plaintext is back"
check "openssl smime -decrypt with the recovered key" \
    openssl smime -decrypt -in msg.smime -recip alice.crt \
    -inkey alice-rec.key -binary -out dec-smime.txt
cmp -s dec-smime.txt msg.txt && ok "openssl smime: the plaintext is back" ||
    not_ok "openssl smime: the plaintext is back"
openssl cms -cmsout -in msg.smime -inform SMIME -outform DER \
    -out msg-smime.der 2>/dev/null

# NSS: import alice.p12 as it is, decrypt with cmsutil.
if command -v certutil >/dev/null 2>&1 && command -v pk12util >/dev/null 2>&1 &&
    command -v cmsutil >/dev/null 2>&1; then
	mkdir nss
	check "NSS certutil -N (empty password)" \
	    certutil -N -d sql:"$T/nss" --empty-password
	check "NSS pk12util -i alice.p12" \
	    pk12util -i alice.p12 -d sql:"$T/nss" -W "$(cat pw)" -K ""
	check "NSS cmsutil -D of the openssl cms message" \
	    cmsutil -D -d sql:"$T/nss" -p "" -i msg.cms -o dec-nss.txt
	cmp -s dec-nss.txt msg.txt && ok "NSS: the plaintext is back" ||
	    not_ok "NSS: the plaintext is back"
	check "NSS cmsutil -D of the openssl smime message" \
	    cmsutil -D -d sql:"$T/nss" -p "" -i msg-smime.der -o dec-nss2.txt
	cmp -s dec-nss2.txt msg.txt && ok "NSS: the smime plaintext is back" ||
	    not_ok "NSS: the smime plaintext is back"
else
	skip "NSS cmsutil decrypts with the recovered key" \
	    "NSS tools (libnss3-tools) are not installed"
fi

# gpgsm: needs gpg-agent, which gets a private home and loopback pinentry.
if command -v gpgsm >/dev/null 2>&1 && command -v gpg-agent >/dev/null 2>&1; then
	gpgsm_home
	# gpgsm 2.2 cannot read PBES2 with an HMAC-SHA256 PRF (OpenSSL 3's
	# default); --legacy writes PBE-SHA1-3DES with a SHA-1 MAC for it.
	legacy_p12()
	{
		smimeca recover open --blob alice.blob --ca-cert lab/ca.crt \
		    --kra-key officers/officer1.p12 --kra-pass-file kp1 \
		    --out alice-legacy.p12 --password-file pw --legacy
	}
	run_ok -m "recover open --legacy" legacy_p12
	like "$(openssl pkcs12 -in alice-legacy.p12 -passin file:pw -info \
	    -noout 2>&1)" 'pbeWithSHA1And3-KeyTripleDES-CBC' \
	    "the --legacy PKCS#12 uses PBE-SHA1-3DES"
	is "$(p12key alice-legacy.p12 file:pw)" "$orig" \
	    "the --legacy PKCS#12 holds the original key"
	gpgsm_import "gpgsm imports the --legacy PKCS#12" alice-legacy.p12 \
	    pw legacy_p12
	check "gpgsm --decrypt of the openssl cms message" \
	    sh -c 'gpgsm --batch --pinentry-mode loopback --passphrase-fd 3 \
	    --decrypt msg.cms 3<pw >dec-gpgsm.txt'
	cmp -s dec-gpgsm.txt msg.txt && ok "gpgsm: the plaintext is back" ||
	    not_ok "gpgsm: the plaintext is back"
	check "gpgsm --decrypt of the openssl smime message" \
	    sh -c 'gpgsm --batch --pinentry-mode loopback --passphrase-fd 3 \
	    --decrypt msg-smime.der 3<pw >dec-gpgsm2.txt'
	cmp -s dec-gpgsm2.txt msg.txt && ok "gpgsm: the smime plaintext is back" ||
	    not_ok "gpgsm: the smime plaintext is back"
else
	skip "gpgsm decrypts with the recovered key" "gpgsm is not installed"
fi

# --- several records: alice enrolls again ---------------------------------
# This time with the simple form.
run_ok smimeca-enroll --out-dir u1b --email alice@lab.example --cn Alice \
    --archive --xchg xchg.pem --format simple
run_ok -m "alice's second encryption certificate" \
    smimeca -d lab issue --template smime-encryption --csr u1b/request.csr \
    --encrypted-key u1b/key.cms --out alice2.crt
s2=$out
isnt "$s2" "$s1" "a new serial"
run_ok smimeca -d lab cert list --json
printf '%s\n' "$out" >certs.json
py_tap certs.json "$s1" "$s2" <<'EOF'
certs = {c["serial"].lower(): c for c in json.load(open(sys.argv[1]))}
a, b = certs.get(sys.argv[2].lower()), certs.get(sys.argv[3].lower())
check(a is not None and a["status"] == "revoked" and a.get("reason") == "superseded",
      "the first certificate is revoked as superseded", a)
check(b is not None and b["status"] == "valid", "the second certificate is valid", b)
EOF
run_ok -m "recover blob --email alice@lab.example" \
    smimeca -d lab recover blob --email alice@lab.example --out alice-all.blob
check "openssl cms -verify of the two-record blob" \
    openssl cms -verify -inform DER -in alice-all.blob -CAfile lab/ca.crt \
    -binary -out /dev/null
run_ok -m "recover blob --email in mixed case" \
    smimeca -d lab recover blob --email Alice@Lab.Example --out alice-all2.blob
run_exit 1 -m "recover open --out of a two-record blob: exit 1" \
    smimeca recover open --blob alice-all.blob --ca-cert lab/ca.crt --kra-key officers/officer1.p12 \
    --kra-pass-file kp1 --out one.p12 --password-file pw
mkdir D
run_ok -m "recover open --out-dir D writes one PKCS#12 per record" \
    smimeca recover open --blob alice-all.blob --ca-cert lab/ca.crt \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 --out-dir D \
    --password-file pw
is "$(ls D/*.p12 2>/dev/null | wc -l | tr -d ' ')" 2 "D holds two .p12 files"
is "$(p12key "D/$s1.p12" file:pw)" "$orig" "D/$s1.p12 holds the first key"
is "$(p12cert "D/$s1.p12" file:pw sha256)" "$(fp alice.crt sha256)" \
    "D/$s1.p12 holds the first certificate"
is "$(p12key "D/$s2.p12" file:pw)" "$(keyhex u1b/key.pem)" \
    "D/$s2.p12 holds the second key"
is "$(p12cert "D/$s2.p12" file:pw sha256)" "$(fp alice2.crt sha256)" \
    "D/$s2.p12 holds the second certificate"
# Like smimeca-enroll --out-dir, --out-dir makes a directory not there yet.
run_ok -m "recover open --out-dir D2 (not there yet) of the mixed-case blob" \
    smimeca recover open --blob alice-all2.blob --ca-cert lab/ca.crt \
    --kra-key officers/officer2.p12 --kra-pass-file kp2 --out-dir D2 \
    --password-file pw
is "$(ls D2/*.p12 2>/dev/null | wc -l | tr -d ' ')" 2 "D2 holds two .p12 files"

# --- the audit log ---------------------------------------------------------
run_ok smimeca -d lab audit list --json
printf '%s\n' "$out" >audit.json
py_tap audit.json <<'EOF'
rows = json.load(open(sys.argv[1]))
acts = [r.get("action") for r in rows]
check(acts.count("recover-blob") == 4,
      "audit: a recover-blob row for each blob made (4)", acts)
# After init --lab (the officers' certificates and kra-add rows): alice's
# two archivals, four blobs (the failed one makes none) and a supersede.
i = len(acts) - acts[::-1].index("kra-add") if "kra-add" in acts else 0
check(acts[i:] == ["escrow", "issue", "recover-blob", "recover-blob",
                   "revoke", "escrow", "issue", "recover-blob",
                   "recover-blob"],
      "audit: after init, exactly escrow, issue, 2 blobs, revoke, escrow, "
      "issue, 2 blobs", acts[i:])
EOF
run_ok -m "audit verify" smimeca -d lab audit verify

done_testing
