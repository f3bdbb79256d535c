#!/bin/sh
# A CA made without --lab has no officers: key archival refuses until a KRA
# certificate is registered with `smimeca kra add`. An officer makes her key
# and certificate with stock openssl on her own machine (the key never
# reaches the CA directory); after kra add, an archival enrollment escrows
# to her certificate, the escrow envelope opens with openssl and her key,
# and `smimeca recover open` with her PKCS#12 gives back the enrolled key.
# kra add refuses certificates that are not KRA certificates, each with its
# reason. A second officer's certificate comes from the CA's kra template.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/keys.sh"

command -v smimeca-enroll >/dev/null 2>&1 ||
    bail_out "smimeca-enroll not found in $top_builddir/tools (build first)"

KRA_EKU=1.3.6.1.4.1.311.21.6

ncerts()
{
	sqlite3 "$T/ca/smimeca.db" 'SELECT count(*) FROM certs;'
}

# --- a CA without --lab -----------------------------------------------------
run_ok -m "init without --lab" smimeca -d ca init --key rsa:2048 \
    --name "Plain CA" || bail_out "init failed"
check "init made no officers directory" test ! -e officers
like "$(grep '<escrow' ca/smimeca.conf)" 'kra-count="1"' \
    "the configuration escrows to one KRA"
run_ok smimeca -d ca kra list --json
is "$(printf '%s' "$out" | tr -d ' \n')" "[]" "no KRA is registered"
run_ok smimeca -d ca xchg show --pem || bail_out "no exchange certificate"
printf '%s\n' "$out" >xchg.pem

run_ok -m "alice makes an archival request (smimeca-enroll --archive)" \
    smimeca-enroll --out-dir ua --email alice@lab.example --cn Alice \
    --archive --xchg xchg.pem --format simple
before=$(ncerts)
run_exit 1 -m "archival without a registered KRA: exit 1" \
    smimeca -d ca issue --template smime-encryption --csr ua/request.csr \
    --encrypted-key ua/key.cms --out alice.crt
like "$err" 'needs 1 usable KRA certificate.*kra add' \
    "the message asks for a KRA (smimeca kra add)"
is "$(ncerts)" "$before" "no certificate in the database"

# --- the officer's own key and certificate (openssl, elsewhere) ---------------
mkdir officer
check "openssl req -x509: the officer's KRA certificate" \
    openssl req -x509 -newkey rsa:3072 -nodes -keyout officer/kra.key \
    -out officer/kra.crt -days 365 -subj "/CN=Olga Officer" \
    -addext keyUsage=critical,keyEncipherment \
    -addext "extendedKeyUsage=$KRA_EKU"
printf 'Officer-Pw-1\n' >officer/pass
check "openssl pkcs12 -export: the officer's PKCS#12" \
    openssl pkcs12 -export -inkey officer/kra.key -in officer/kra.crt \
    -passout file:officer/pass -out officer/kra.p12

# --- what kra add refuses ----------------------------------------------------
check "openssl: a certificate without the KRA extended key usage" \
    openssl req -x509 -newkey rsa:2048 -nodes -keyout noeku.key \
    -out noeku.crt -days 30 -subj "/CN=No EKU" \
    -addext keyUsage=critical,keyEncipherment
run_exit 1 -m "kra add of a certificate without EKU $KRA_EKU: exit 1" \
    smimeca -d ca kra add noeku.crt
like "$err" "$(printf '%s' "$KRA_EKU" | sed 's/\./\\./g')" \
    "the message names the KRA extended key usage"
check "openssl: an EC certificate with the KRA usage" \
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout eckra.key -out eckra.crt -days 30 -subj "/CN=EC KRA" \
    -addext keyUsage=critical,keyEncipherment \
    -addext "extendedKeyUsage=$KRA_EKU"
run_exit 1 -m "kra add of an EC certificate: exit 1" \
    smimeca -d ca kra add eckra.crt
ilike "$err" 'RSA' "the message says a KRA key must be RSA"
run_ok smimeca -d ca kra list --json
is "$(printf '%s' "$out" | tr -d ' \n')" "[]" \
    "the refused certificates were not registered"

# --- kra add, then archival and recovery ---------------------------------------
run_ok -m "kra add officer/kra.crt" smimeca -d ca kra add officer/kra.crt
run_ok smimeca -d ca kra list --json
printf '%s\n' "$out" >kras.json
py_tap kras.json officer/kra.crt <<'EOF'
kras = json.load(open(sys.argv[1]))
c = load_cert(sys.argv[2])
fp = c.fingerprint(hashes.SHA256()).hex()
check(len(kras) == 1, "kra list: one KRA", kras)
check(len(kras) == 1 and kras[0]["sha256"].lower().replace(":", "") == fp,
      "kra list: it is the officer's certificate (SHA-256)", kras)
check(len(kras) == 1 and kras[0]["status"] == "active", "kra list: active",
      kras)
EOF
check "the officer's private key is nowhere in the CA directory" \
    sh -c "! grep -rqF \"\$(sed -n 2p officer/kra.key)\" ca"

run_ok -m "archival under the registered KRA" \
    smimeca -d ca issue --template smime-encryption --csr ua/request.csr \
    --encrypted-key ua/key.cms --out alice.crt
serial=$out
orig=$(keyhex ua/key.pem)
is "$(openssl x509 -in alice.crt -noout -pubkey | openssl pkey -pubin \
    -outform DER 2>/dev/null | keydigest pub)" \
    "$(openssl pkey -in ua/key.pem -pubout -outform DER 2>/dev/null |
    keydigest pub)" "alice's certificate holds her request's key"

sqlite3 ca/smimeca.db "SELECT hex(e.envelope) FROM escrow e JOIN certs c
    ON c.id = e.cert_id WHERE c.serial = '$serial';" | xxd -r -p >env.der
check "openssl cms -cmsout -print of the escrow envelope" \
    openssl cms -cmsout -print -inform DER -in env.der
is "$(printf '%s\n' "$out" | grep -c 'd\.ktri:')" 1 \
    "one KeyTransRecipientInfo: the one KRA"
check "openssl cms -decrypt of the escrow envelope with the officer's key" \
    openssl cms -decrypt -inform DER -in env.der -recip officer/kra.crt \
    -inkey officer/kra.key -binary -out env.p8
is "$(openssl pkey -inform DER -in env.p8 -outform DER 2>/dev/null |
    keydigest env.p8)" "$orig" "the envelope holds alice's key"

run_ok -m "recover blob" smimeca -d ca recover blob --serial "$serial" \
    --out alice.blob
printf 'Export-Pw-1\n' >pw
mkdir elsewhere
run_ok -m "recover open with the officer's PKCS#12 (no CA directory)" \
    sh -c "cd elsewhere && smimeca recover open --blob ../alice.blob \
    --ca-cert ../ca/ca.crt --kra-key ../officer/kra.p12 \
    --kra-pass-file ../officer/pass --out alice.p12 --password-file ../pw"
is "$(p12key elsewhere/alice.p12 file:pw)" "$orig" \
    "the recovered PKCS#12 holds alice's key"
is "$(p12cert elsewhere/alice.p12 file:pw sha256)" "$(fp alice.crt sha256)" \
    "and alice's certificate"

# --- a second officer's certificate from the CA's kra template ------------------
mkcsr olaf olaf@lab.example rsa:2048
run_ok -m "issue --template kra for the second officer" \
    smimeca -d ca issue --template kra --csr olaf.csr --out olaf.crt
run_ok openssl x509 -in olaf.crt -noout -ext extendedKeyUsage,keyUsage
like "$out" "$(printf '%s' "$KRA_EKU" | sed 's/\./\\./g')|Key Recovery" \
    "the kra template gives EKU $KRA_EKU"
run_ok -m "kra add of the CA-issued officer certificate" \
    smimeca -d ca kra add olaf.crt
run_ok smimeca -d ca kra list --json
is "$(printf '%s\n' "$out" | grep -c '"active"')" 2 "two active KRAs"
sed 's/kra-count="1"/kra-count="2"/' ca/smimeca.conf >ca/smimeca.conf.new &&
    cat ca/smimeca.conf.new >ca/smimeca.conf && rm -f ca/smimeca.conf.new
run_ok smimeca-enroll --out-dir ub --email bob@lab.example --cn Bob \
    --archive --xchg xchg.pem
run_ok -m "archival to both officers (kra-count 2)" \
    smimeca -d ca issue --template smime-encryption \
    --archival-request ub/request.cmc --out bob.crt
bserial=$out
run_ok smimeca -d ca recover blob --serial "$bserial" --out bob.blob
openssl pkcs12 -export -inkey olaf.key -in olaf.crt -passout file:pw \
    -out olaf.p12 2>/dev/null
run_ok -m "the second officer recovers bob's key" \
    smimeca recover open --blob bob.blob --ca-cert ca/ca.crt \
    --kra-key olaf.p12 --kra-pass-file pw --out bob.p12 --password-file pw
is "$(p12key bob.p12 file:pw)" "$(keyhex ub/key.pem)" \
    "olaf: bob's key"
run_ok -m "the first officer recovers bob's key too" \
    smimeca recover open --blob bob.blob --ca-cert ca/ca.crt \
    --kra-key officer/kra.p12 --kra-pass-file officer/pass \
    --out bob-o.p12 --password-file pw
is "$(p12key bob-o.p12 file:pw)" "$(keyhex ub/key.pem)" "olga: bob's key"

run_ok -m "audit verify" smimeca -d ca audit verify
run_ok smimeca -d ca audit list --json
is "$(printf '%s\n' "$out" | grep -c '"kra-add"')" 2 \
    "two kra-add rows in the audit log"

done_testing
