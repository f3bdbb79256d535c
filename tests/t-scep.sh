#!/bin/sh
# SCEP (RFC 8894) in smimecad with strongSwan's pki --scep (5.9.8) and with
# pkiMessages built by tests/scep-msg.py (Python cryptography + openssl
# cms, not the server's code): GetCACaps, GetCACert (RA + CA), enrollment
# with a static and a one-time challenge, the same transactionID answered
# from the store, renewal, refusals (wrong, used and expired challenges,
# tampered signature, renewal signed by a foreign or revoked certificate,
# an escrow template, legacy algorithms by default), manual approval with
# polling, malformed HTTP input, /metrics.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/smimecad.sh"

command -v pki >/dev/null 2>&1 ||
    skip_all "strongSwan pki not installed (Debian: strongswan-pki)"
have_pycrypto || skip_all "$PY with the cryptography module not found"

MSG="$PY $top_srcdir/tests/scep-msg.py"
STATIC=lab-static-challenge-1

pki_scep()
{
	timeout 60 pki --scep --url "$HTTP_URL/scep" --cacert-enc ra.pem \
	    --cacert-sig lab/ca.crt --outform pem "$@"
}

log_has()
{
	like "$(cat "$SMIMECAD_LOG")" "$2" "$1"
}

ncerts()
{
	sqlite3 lab/smimeca.db 'SELECT count(*) FROM certs;'
}

# post NAME TEMPLATE: POSTs NAME.der, the answer in NAME.rep
post()
{
	curl -sS -o "$1.rep" -w '%{http_code}' --data-binary "@$1.der" \
	    -H 'Content-Type: application/x-pki-message' \
	    "$HTTP_URL/scep${2:+/$2}?operation=PKIOperation"
}

# enroll_py NAME CN CHALLENGE TYPE TID [TEMPLATE] [ARGS]: key, CSR, self-
# signed signer, pkiMessage NAME.der, answer NAME.rep read into $out
enroll_py()
{
	_n=$1 _cn=$2 _ch=$3 _ty=$4 _tid=$5 _tp=${6:-}
	shift 5
	[ $# -gt 0 ] && shift
	[ -f "$_n.key" ] || openssl genrsa -out "$_n.key" 2048 2>/dev/null
	$MSG csr "$_n.key" "$_cn" "$_ch" "$_n.csr" &&
	    $MSG selfsigned "$_n.key" "$_cn" "$_n.crt" &&
	    $MSG build "$_ty" "$_n.key" "$_n.crt" ra.pem "$_n.csr" "$_tid" \
	    "$_n.der" "$@" || return 1
	code=$(post "$_n" "$_tp")
	out=$($MSG read "$_n.rep" "$_n.key" "$_n.crt" "$_n.der.nonce" \
	    "$_n.pem" 2>&1)
}

# --- a CA with a static challenge on device-auth, and smimecad ----------
run_ok smimeca -d "$T/lab" init --name "Lab CA" --key rsa:2048 ||
    bail_out "smimeca init failed"
sed -i "s|</template>|  <scep-challenge>$STATIC</scep-challenge>\n</template>|" \
    lab/templates/device-auth.xml
sed -e 's/name="device-auth"/name="device-approve"/' \
    -e 's|<scep-challenge>|<approval>manual</approval>\n  <scep-challenge>|' \
    lab/templates/device-auth.xml >lab/templates/device-approve.xml
smimecad_start "$T/lab" || bail_out "smimecad did not start"

# --- GetCACaps, GetCACert ------------------------------------------------
check "GetCACaps answers" curl -fsS "$HTTP_URL/scep?operation=GetCACaps"
caps=$out
for c in POSTPKIOperation SHA-256 SHA-512 AES Renewal SCEPStandard; do
	like "$caps" "^$c\$" "GetCACaps lists $c"
done
# strongSwan 5.9.8 tests its flag bits by the wrong numbers: SHA-384
# stands for SCEPStandard there (smimecad(8), "strongSwan").
like "$caps" '^SHA-384$' "GetCACaps lists SHA-384 (what pki 5.9.8 needs)"
unlike "$caps" '^(DES3|DES|SHA-1)$' \
    "GetCACaps lists no DES3, DES or SHA-1 without <scep legacy=\"yes\">"
unlike "$(printf '%s' "$caps" | od -c)" '\\r' "GetCACaps: LF only"
check "GetCACert answers" curl -fsS -o cacert.der -D hdr \
    "$HTTP_URL/scep?operation=GetCACert"
ilike "$(cat hdr)" 'content-type: application/x-x509-ca-ra-cert' \
    "GetCACert: application/x-x509-ca-ra-cert"
check "GetCACert is a PKCS#7 of certificates" \
    openssl pkcs7 -inform DER -in cacert.der -print_certs -out ca-ra.pem
awk '/BEGIN/{n++} n==1' ca-ra.pem >ra.pem
check "the RA certificate" openssl x509 -in ra.pem -noout -subject -issuer \
    -ext keyUsage,extendedKeyUsage,basicConstraints
like "$out" 'subject=CN = Lab CA-SCEP-RA' "RA: CN=<CA>-SCEP-RA"
like "$out" 'issuer=CN = Lab CA' "RA: issued by the CA"
like "$out" 'Digital Signature, Key Encipherment' \
    "RA: digitalSignature (certmonger) and keyEncipherment"
like "$out" 'CA:FALSE' "RA: not a CA"
check "RA chains to the CA" openssl verify -CAfile lab/ca.crt ra.pem
like "$out" 'ra.pem: OK' "openssl verify: RA OK"
like "$(cat ca-ra.pem)" 'subject=CN = Lab CA$' "GetCACert carries the CA too"
check "ca_certs role ra" sqlite3 lab/smimeca.db \
    "SELECT count(*) FROM ca_certs WHERE role = 'ra';"
is "$out" "1" "one RA certificate in ca_certs"
check "smimeca scep ra show --pem" smimeca -d lab scep ra show --pem
is "$(printf '%s\n' "$out" | openssl x509 -noout -fingerprint -sha256)" \
    "$(openssl x509 -in ra.pem -noout -fingerprint -sha256)" \
    "smimeca scep ra show is the certificate GetCACert serves"
check "the NDES path serves GetCACaps" \
    curl -fsS "$HTTP_URL/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACaps"
like "$out" '^AES$' "/certsrv/mscep/mscep.dll/pkiclient.exe: caps"
check "the cgi-bin path serves GetCACaps" \
    curl -fsS "$HTTP_URL/cgi-bin/pkiclient.exe?operation=GetCACaps"
like "$out" '^AES$' "/cgi-bin/pkiclient.exe: caps"
check "HTTPS serves it too" est_curl -fsS "$HTTPS_URL/scep?operation=GetCACaps"
like "$out" '^AES$' "GetCACaps over HTTPS"

# --- pki --scep: enroll with the static challenge -------------------------
pki --gen --type rsa --size 2048 --outform pem >d1.key
run_ok -m "pki --scep enrolls dev1 with the static challenge" \
    pki_scep --in d1.key --dn "CN=dev1" --password "$STATIC" \
    --cipher aes --digest sha256
printf '%s\n' "$out" >d1.pem
check "dev1's certificate" openssl x509 -in d1.pem -noout -subject -issuer
like "$out" 'subject=CN = dev1' "pki: subject CN=dev1"
check "dev1 chains to the CA" openssl verify -CAfile lab/ca.crt d1.pem
like "$out" 'd1.pem: OK' "openssl verify: dev1 OK"
log_has "smimecad logs the PKCSReq" 'scep PKCSReq tid=[0-9A-F]+ template=device-auth: SUCCESS serial='
n1=$(ncerts)
run_ok -m "pki --scep again with the same key (same transactionID)" \
    pki_scep --in d1.key --dn "CN=dev1" --password "$STATIC"
is "$(printf '%s\n' "$out" | openssl x509 -noout -serial)" \
    "$(openssl x509 -in d1.pem -noout -serial)" \
    "the same transactionID gets the same certificate"
is "$(ncerts)" "$n1" "and no second certificate is issued"
log_has "the replay is answered from the store" 'SUCCESS serial=[0-9a-f]+ \(stored answer\)'

# --- renewal (RenewalReq signed by dev1's certificate) --------------------
pki --gen --type rsa --size 2048 --outform pem >d1b.key
run_ok -m "pki --scep renews dev1 (RenewalReq, new key)" \
    pki_scep --in d1b.key --dn "CN=dev1" --cert d1.pem --key d1.key
printf '%s\n' "$out" >d1b.pem
check "the renewed certificate" openssl x509 -in d1b.pem -noout -subject -serial
like "$out" 'subject=CN = dev1' "renewal: CN=dev1"
isnt "$(openssl x509 -in d1b.pem -noout -serial)" \
    "$(openssl x509 -in d1.pem -noout -serial)" "renewal: a new serial"
log_has "smimecad logs the RenewalReq" 'scep RenewalReq tid=[0-9A-F]+ template=device-auth: SUCCESS'
check "the renewal's requester" sqlite3 lab/smimeca.db \
    "SELECT r.requester FROM certs c JOIN requests r ON r.id = c.request_id WHERE c.serial = lower('$(openssl x509 -in d1b.pem -noout -serial | cut -d= -f2)');"
like "$out" '^scep:renew:' "the renewal is recorded as scep:renew:SERIAL"
pki --gen --type rsa --size 2048 --outform pem >d1c.key
run_fails -m "a renewal asking for another CN is refused" \
    pki_scep --in d1c.key --dn "CN=other" --cert d1b.pem --key d1b.key
log_has "the log says why" 'RenewalReq asks for CN=other, but certificate [0-9a-f]+ is for CN=dev1'
pki --gen --type rsa --size 2048 --outform pem >d1d.key
run_fails -m "a renewal under another template is refused" \
    timeout 60 pki --scep --url "$HTTP_URL/scep/device-approve" \
    --cacert-enc ra.pem --cacert-sig lab/ca.crt --outform pem \
    --in d1d.key --dn "CN=dev1" --cert d1b.pem --key d1b.key
log_has "another template: logged" 'certificate [0-9a-f]+ was issued under template device-auth; renew it under the same one, not device-approve'
run_ok -m "revoke dev1's first certificate" smimeca -d lab revoke \
    "$(openssl x509 -in d1.pem -noout -serial | cut -d= -f2)" \
    --reason keyCompromise
run_fails -m "a renewal signed by a revoked certificate is refused" \
    pki_scep --in d1d.key --dn "CN=dev1" --cert d1.pem --key d1.key
log_has "revoked signer: FAILURE badRequest" 'RenewalReq tid=[0-9A-F]+ template=device-auth: FAILURE failInfo=2: the RenewalReq is signed by certificate [0-9a-f]+, which is revoked'
# A certificate of another CA with the same name.
run_ok smimeca -d "$T/other" init --name "Lab CA" --key rsa:2048
openssl req -new -key d1d.key -subj /CN=dev1 -out foreign.csr 2>/dev/null
run_ok -m "a certificate from another CA named like ours" smimeca -d other \
    issue --template device-auth --csr foreign.csr --out foreign.pem
run_fails -m "a renewal signed by a foreign certificate is refused" \
    pki_scep --in d1c.key --dn "CN=dev1" --cert foreign.pem --key d1d.key
log_has "foreign signer: FAILURE badCertId" 'FAILURE failInfo=4: the RenewalReq is signed by certificate [0-9a-f]+, which this CA did not issue'

# --- challenges: wrong, one-time, used, expired ---------------------------
pki --gen --type rsa --size 2048 --outform pem >d2.key
n1=$(ncerts)
run_fails -m "pki --scep with a wrong challenge is refused" \
    pki_scep --in d2.key --dn "CN=dev2" --password wrong-challenge
log_has "wrong challenge: FAILURE badRequest, reason logged" 'FAILURE failInfo=2: wrong challenge: not the static challenge of template device-auth'
is "$(ncerts)" "$n1" "wrong challenge: nothing issued"
check "no transaction stored for it" sqlite3 lab/smimeca.db \
    "SELECT count(*) FROM scep_tx WHERE subject = 'CN=dev2';"
is "$out" "0" "wrong challenge: nothing stored"
check "smimeca scep challenge" smimeca -d lab scep challenge \
    --template device-auth --ttl 10m
otc=$out
like "$otc" '^otp1\.[0-9]+\.[0-9a-f]{32}$' "a one-time challenge: otp1.ID.SECRET"
like "$err" 'shown only now' "the CLI says it is shown once"
check "stored hashed" sqlite3 lab/smimeca.db \
    "SELECT hash FROM scep_challenges ORDER BY id DESC LIMIT 1;"
like "$out" '^pbkdf2-sha256\$' "the challenge is stored as a PBKDF2 hash"
unlike "$out" "${otc##*.}" "and not in the clear"
check "audited" smimeca -d lab audit list
like "$out" 'scep-challenge - id=[0-9]+ template=device-auth' \
    "smimeca audit list shows the challenge's creation"
run_ok -m "pki --scep enrolls dev2 with the one-time challenge" \
    pki_scep --in d2.key --dn "CN=dev2" --password "$otc"
log_has "requester scep:otc" 'scep PKCSReq tid=[0-9A-F]+ template=device-auth: SUCCESS'
pki --gen --type rsa --size 2048 --outform pem >d3.key
run_fails -m "the used one-time challenge is refused for another key" \
    pki_scep --in d3.key --dn "CN=dev3" --password "$otc"
log_has "used challenge: logged" 'FAILURE failInfo=2: used challenge: one-time challenge [0-9]+ was used already'
check "another one-time challenge" smimeca -d lab scep challenge
bad=$(printf '%s\n' "$out" | sed 's/\.[0-9a-f]*$/.00000000000000000000000000000000/')
run_fails -m "its id with a wrong secret is refused" \
    pki_scep --in d3.key --dn "CN=dev3" --password "$bad"
log_has "wrong secret: logged" 'wrong challenge: the secret of one-time challenge [0-9]+ does not match'
check "smimeca scep challenge --ttl 1" smimeca -d lab scep challenge --ttl 1
exp=$out
sleep 2
run_fails -m "an expired one-time challenge is refused" \
    pki_scep --in d3.key --dn "CN=dev3" --password "$exp"
log_has "expired challenge: logged" 'FAILURE failInfo=2: expired challenge: one-time challenge [0-9]+ expired'
check "a challenge for another template" smimeca -d lab scep challenge \
    --template device-approve
run_fails -m "a challenge of another template is refused" \
    pki_scep --in d3.key --dn "CN=dev3" --password "$out"
log_has "template-bound challenge: logged" 'wrong challenge: one-time challenge [0-9]+ is for template device-approve, not device-auth'
run_fails -m "smimeca scep challenge refuses an escrow template" \
    smimeca -d lab scep challenge --template smime-encryption
like "$err" 'requires key archival' "it says SCEP cannot carry the key"

# A challenge bound to an address: the certificate is for it, and a
# request naming another address is refused.
check "a challenge for bob" smimeca -d lab scep challenge \
    --template smime-signature --email Bob@Lab.Example
pki --gen --type rsa --size 2048 --outform pem >b1.key
run_ok -m "pki --scep enrolls Bob under smime-signature" \
    timeout 60 pki --scep --url "$HTTP_URL/scep/smime-signature" \
    --cacert-enc ra.pem --cacert-sig lab/ca.crt --outform pem \
    --in b1.key --dn "CN=Bob" --password "$out"
printf '%s\n' "$out" >b1.pem
check "Bob's certificate" openssl x509 -in b1.pem -noout -subject \
    -ext subjectAltName
like "$out" 'emailAddress = bob@lab\.example' \
    "the subject's mail is the challenge's, lower case"
like "$out" 'email:bob@lab\.example' "and so is the SAN"
check "another challenge for bob" smimeca -d lab scep challenge \
    --template smime-signature --email bob@lab.example
pki --gen --type rsa --size 2048 --outform pem >b2.key
run_fails -m "a request naming eve with bob's challenge is refused" \
    timeout 60 pki --scep --url "$HTTP_URL/scep/smime-signature" \
    --cacert-enc ra.pem --cacert-sig lab/ca.crt --outform pem \
    --in b2.key --dn "CN=Eve, E=eve@lab.example" --password "$out"
log_has "the log says whose it is" 'the request names eve@lab\.example, but the certificate can only be for bob@lab\.example'

# --- Intune-style bound challenges (smimeca mdm scep-challenge) -----------
# The challenge names template, subject and rfc822Name; smimecad issues
# exactly that, once, and refuses any other name or template.
pki_bound()
{
	_k=$1 _t=$2
	shift 2
	timeout 60 pki --scep --url "$HTTP_URL/scep/$_t" \
	    --cacert-enc ra.pem --cacert-sig lab/ca.crt --outform pem \
	    --in "$_k.key" --password "$BOUND" "$@"
}
check "mdm scep-challenge for carol" smimeca -d lab mdm scep-challenge \
    --template smime-signature --email carol@lab.example
BOUND=$out
like "$BOUND" '^mdm1\.' "a bound challenge starts with mdm1."
for k in c1 c2 c3 c4 c5; do
	pki --gen --type rsa --size 2048 --outform pem >$k.key
done
run_fails -m "carol's challenge asking for dave is refused" \
    pki_bound c1 smime-signature --dn "CN=dave@lab.example" \
    --san dave@lab.example
log_has "the log names the bound subject" 'is bound to subject /?CN ?= ?carol@lab\.example; the request asks for /?CN ?= ?dave@lab\.example'
run_fails -m "carol's challenge with an extra rfc822Name is refused" \
    pki_bound c2 smime-signature --dn "CN=carol@lab.example" \
    --san carol@lab.example --san eve@lab.example
log_has "the log names the extra address" 'rfc822Name eve@lab\.example; the challenge authorizes only carol@lab\.example|asks for 2 rfc822Names; the challenge authorizes exactly one, carol@lab\.example'
run_fails -m "carol's challenge on another template is refused" \
    pki_bound c3 device-auth --dn "CN=carol@lab.example" \
    --san carol@lab.example
log_has "the log says the template differs" 'bound SCEP challenge [0-9]+ is bound to template smime-signature, not device-auth'
n0=$(ncerts)
run_ok -m "pki --scep enrolls carol with her bound challenge" \
    pki_bound c4 smime-signature --dn "CN=carol@lab.example" \
    --san carol@lab.example
printf '%s\n' "$out" >c4.pem
is "$(ncerts)" "$((n0 + 1))" "one certificate more"
check "carol's certificate" openssl x509 -in c4.pem -noout -subject \
    -ext subjectAltName
like "$out" 'CN ?= ?carol@lab\.example' "the subject is the bound one"
like "$out" 'email:carol@lab\.example' "the SAN is the bound address"
run_fails -m "the bound challenge a second time (new key) is refused" \
    pki_bound c5 smime-signature --dn "CN=carol@lab.example" \
    --san carol@lab.example
log_has "the log says it was used" 'used bound SCEP challenge: id [0-9]+ for carol@lab\.example was used at'
is "$(ncerts)" "$((n0 + 1))" "no certificate for the second use"
is "$(sqlite3 lab/smimeca.db "SELECT count(*) FROM mdm_challenges WHERE used IS NOT NULL")" 1 \
    "the challenge is marked used once"

# --- messages built by scep-msg.py ---------------------------------------
enroll_py p1 pdev1 "$STATIC" 19 tid-p1
is "$code" 200 "POST PKIOperation: 200"
like "$out" 'status=0 .*tid=tid-p1 nonce=ok sig=ok' \
    "CertRep: SUCCESS, transactionID and recipientNonce echoed, RA signature verifies"
like "$out" 'signeralg=1\.2\.840\.113549\.1\.1\.1$' \
    "CertRep signer algorithm rsaEncryption (strongSwan needs it)"
check "the enveloped certificate" openssl x509 -in p1.pem -noout -subject
like "$out" 'CN = pdev1' "the certificate in the envelope is pdev1's"
# The same message by GET (base64 in message=).
b64=$(base64 -w0 p1.der | sed 's/+/%2B/g; s|/|%2F|g; s/=/%3D/g')
check "PKIOperation by GET" curl -fsS -o p1g.rep \
    "$HTTP_URL/scep?operation=PKIOperation&message=$b64"
out=$($MSG read p1g.rep p1.key p1.crt p1.der.nonce p1g.pem)
like "$out" 'status=0 .*sig=ok' "GET: SUCCESS"
is "$(openssl x509 -in p1g.pem -noout -serial)" \
    "$(openssl x509 -in p1.pem -noout -serial)" "GET replay: the same certificate"
enroll_py p2 pdev2 "$STATIC" 19 tid-p2 "" --tamper
like "$out" 'status=2 failInfo=1 tid=tid-p2 nonce=ok sig=ok' \
    "tampered signature: FAILURE badMessageCheck (signed, nonce echoed)"
log_has "tampered: logged" "tid=tid-p2 .*FAILURE failInfo=1: the pkiMessage's signature does not verify"
enroll_py p3 pdev3 "$STATIC" 19 tid-p3 "" --digest sha1
like "$out" 'status=2 failInfo=0 ' "SHA-1 without legacy: FAILURE badAlg"
enroll_py p4 pdev4 "$STATIC" 19 tid-p4 "" --cipher des-cbc
like "$out" 'status=2 failInfo=0 ' "DES without legacy: FAILURE badAlg"
check "no RSA work for badAlg" curl -fsS "$HTTP_URL/metrics"
like "$out" 'smimecad_scep_decryptions_total [0-9]+' "decryptions are counted"
# A PKCSReq signed by a key other than the request's.
openssl genrsa -out p5.key 2048 2>/dev/null
openssl genrsa -out p5o.key 2048 2>/dev/null
$MSG csr p5o.key pdev5 "$STATIC" p5.csr
$MSG selfsigned p5.key pdev5 p5.crt
$MSG build 19 p5.key p5.crt ra.pem p5.csr tid-p5 p5.der
code=$(post p5)
out=$($MSG read p5.rep p5.key p5.crt p5.der.nonce)
like "$out" 'status=2 failInfo=2 ' "PKCSReq signed by another key: FAILURE badRequest"
log_has "its reason" 'tid=tid-p5 .*the PKCSReq is not signed by the key it asks a certificate for'
# The same transactionID from another key.
openssl genrsa -out p6.key 2048 2>/dev/null
$MSG csr p6.key pdev6 "$STATIC" p6.csr
$MSG selfsigned p6.key pdev6 p6.crt
$MSG build 19 p6.key p6.crt ra.pem p6.csr tid-p1 p6.der
code=$(post p6)
out=$($MSG read p6.rep p6.key p6.crt p6.der.nonce)
like "$out" 'status=2 failInfo=2 ' "another key's transactionID: FAILURE badRequest"
# CertPoll of an unknown transaction.
$MSG build 20 p6.key p6.crt ra.pem p6.csr tid-none p7.der
code=$(post p7)
out=$($MSG read p7.rep p6.key p6.crt p7.der.nonce)
like "$out" 'status=2 failInfo=4 ' "CertPoll of an unknown transaction: FAILURE badCertId"
# An escrow template refuses SCEP.
enroll_py p8 pdev8 "$STATIC" 19 tid-p8 smime-encryption
like "$out" 'status=2 failInfo=2 ' "smime-encryption (archival required): FAILURE badRequest"
log_has "the log says SCEP cannot carry the key" 'template smime-encryption requires key archival, and SCEP cannot carry the private key to escrow'

# --- manual approval: PENDING, approve, poll; deny -----------------------
enroll_py a1 adev1 "$STATIC" 19 tid-a1 device-approve
like "$out" 'status=3 failInfo=- tid=tid-a1 nonce=ok sig=ok' \
    "an approval template answers PENDING"
check "smimeca request list" smimeca -d lab request list
like "$out" 'pending +device-approve .*CN=adev1' "request list shows it pending"
aid=$(printf '%s\n' "$out" | awk '/CN=adev1/ {print $1}')
$MSG build 20 a1.key a1.crt ra.pem a1.csr tid-a1 a1p.der
code=$(post a1p device-approve)
out=$($MSG read a1p.rep a1.key a1.crt a1p.der.nonce)
like "$out" 'status=3 ' "a poll before the decision: PENDING"
run_ok -m "smimeca request approve" smimeca -d lab request approve "$aid"
like "$out" '^[0-9a-f]{32}$' "approve prints the serial"
aserial=$out
code=$(post a1p device-approve)
out=$($MSG read a1p.rep a1.key a1.crt a1p.der.nonce a1.pem)
like "$out" 'status=0 ' "the poll after approval: SUCCESS"
is "$(openssl x509 -in a1.pem -noout -serial | cut -d= -f2 | tr A-F a-f)" \
    "$aserial" "the poll gets the approved certificate"
run_fails -m "approving twice is refused" smimeca -d lab request approve "$aid"
like "$err" 'was issued already' "it says so"
enroll_py a2 adev2 "$STATIC" 19 tid-a2 device-approve
aid=$(smimeca -d lab request list | awk '/CN=adev2/ {print $1}')
run_ok -m "smimeca request deny" smimeca -d lab request deny "$aid"
$MSG build 20 a2.key a2.crt ra.pem a2.csr tid-a2 a2p.der
code=$(post a2p device-approve)
out=$($MSG read a2p.rep a2.key a2.crt a2p.der.nonce)
like "$out" 'status=2 failInfo=2 ' "the poll after deny: FAILURE badRequest"
check "audit of the decisions" smimeca -d lab audit list
like "$out" 'scep-approve' "approve is audited"
like "$out" 'scep-deny' "deny is audited"

# EST cannot wait for an approval: 403 with the reason.
printf '%s\n' alice-pass-8x >alice.pw
run_ok smimeca -d lab user add alice@lab.example --cn Alice \
    --password-file alice.pw
openssl req -new -newkey rsa:2048 -nodes -keyout e.key -subj /CN=edev1 \
    -outform DER -out e.der 2>/dev/null
check "EST simpleenroll on an approval template" est_curl -sS -o body \
    -w '%{http_code}' -u alice@lab.example:alice-pass-8x \
    -H 'Content-Type: application/pkcs10' --data-binary \
    "$(base64 -w0 e.der)" \
    "$HTTPS_URL/.well-known/est/device-approve/simpleenroll"
is "$out" 403 "EST on an approval template: 403"
like "$(cat body)" "requires the administrator's approval of each request, which est cannot wait for" \
    "the 403 names why"

# --- malformed HTTP input: 4xx text, never 5xx ---------------------------
for q in "operation=Foo" "" "operation=PKIOperation" \
    "operation=PKIOperation&message=!!!" \
    "operation=PKIOperation&message=aGVsbG8="; do
	check "GET /scep?$q" curl -sS -o body -w '%{http_code}' \
	    "$HTTP_URL/scep?$q"
	like "$out" '^4[0-9][0-9]$' "GET /scep?$q: 4xx"
	like "$(cat body)" '[a-z]' "GET /scep?$q: a text reason"
done
check "POST garbage" curl -sS -o body -w '%{http_code}' --data-binary \
    'not a pkiMessage' "$HTTP_URL/scep?operation=PKIOperation"
is "$out" 400 "POST garbage: 400"
printf '\060\003\002\001\001' >tiny.der
check "POST a DER that is no PKCS#7" curl -sS -o body -w '%{http_code}' \
    --data-binary @tiny.der "$HTTP_URL/scep?operation=PKIOperation"
is "$out" 400 "POST bad DER: 400"
like "$(cat body)" 'not a SCEP pkiMessage' "it names the problem"
check "unknown template" curl -sS -o body -w '%{http_code}' \
    "$HTTP_URL/scep/nosuch?operation=GetCACaps"
is "$out" 404 "/scep/nosuch: 404"
check "daemon still up" curl -fsS "$HTTP_URL/healthz"

# --- metrics ------------------------------------------------------------
check "/metrics" curl -fsS "$HTTP_URL/metrics"
like "$out" 'smimecad_scep_messages_total\{type="PKCSReq",status="SUCCESS"\} [1-9]' \
    "metrics: PKCSReq SUCCESS counted"
like "$out" 'smimecad_scep_messages_total\{type="PKCSReq",status="FAILURE"\} [1-9]' \
    "metrics: PKCSReq FAILURE counted"
like "$out" 'smimecad_scep_messages_total\{type="CertPoll",status="PENDING"\} [1-9]' \
    "metrics: CertPoll PENDING counted"
like "$out" 'smimecad_scep_messages_total\{type="other",status="invalid"\} [1-9]' \
    "metrics: non-pkiMessages counted"
like "$out" 'smimecad_issued_total\{via="scep"\} [1-9]' "metrics: issued via scep"
like "$out" 'smimecad_scep_decryptions_total [1-9]' "metrics: decryptions"

# --- what templates advertise is served ----------------------------------
check "smimeca template list" smimeca -d lab template list
like "$out" 'device-auth .*scep' "device-auth lists scep, which is served now"
unlike "$(printf '%s\n' "$out" | grep smime-encryption)" 'scep' \
    "smime-encryption (archival required) does not list scep"
sed 's|<protocol>cli</protocol>|<protocol>cli</protocol><protocol>scep</protocol>|' \
    lab/templates/smime-encryption.xml >enc-scep.xml
run_fails -m "a template that requires archival cannot list scep" \
    smimeca -d lab template check enc-scep.xml
like "$out$err" 'SCEP cannot carry the private key to escrow' \
    "template check says why"

smimecad_stop
is "$smimecad_rc" 0 "smimecad exits 0"
unlike "$(cat "$SMIMECAD_LOG")" 'AddressSanitizer|runtime error' \
    "no sanitizer report"
done_testing
