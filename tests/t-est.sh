#!/bin/sh
# smimecad's EST (RFC 7030) routes with curl and openssl: each operation,
# each class of bad input, key archival over fullcmc (recovered with an
# officer key), a plain CMC request over fullcmc, server-side key
# generation, renewal with a TLS client certificate, distribution routes,
# metrics, reload and shutdown.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/smimecad.sh"

EST=/.well-known/est
PKCS10='Content-Type: application/pkcs10'
CMCREQ='Content-Type: application/pkcs7-mime; smime-type=CMC-request'

ncerts()
{
	sqlite3 "$T/lab/smimeca.db" 'SELECT count(*) FROM certs;'
}

# req URL [curl args]: sets code, body (file $T/body) and hdrs ($T/hdrs).
req()
{
	_u=$1
	shift
	code=$(est_curl -o "$T/body" -D "$T/hdrs" -w '%{http_code}' "$@" \
	    "$_u")
	body=$(cat "$T/body")
}

# refused DESC STATUS PATTERN URL [curl args]: a 4xx with a one-line reason,
# and no certificate added.
refused()
{
	_d=$1
	_s=$2
	_p=$3
	shift 3
	_before=$(ncerts)
	req "$@"
	is "$code" "$_s" "$_d: HTTP $_s"
	ilike "$body" "$_p" "$_d: the reason says /$_p/"
	is "$(wc -l <"$T/body" | tr -d ' ')" 1 "$_d: the reason is one line"
	ilike "$(cat "$T/hdrs")" 'content-type: text/plain' \
	    "$_d: the reason is text/plain"
	is "$(ncerts)" "$_before" "$_d: no certificate was added"
}

# officer_pw N: officer N's PKCS#12 password.
officer_pw()
{
	awk -v f="officer$1.p12" '$1 == f { sub(/^[^ ]+ /, ""); print; exit }' \
	    "$T/officers/passwords.txt"
}

modulus()
{
	openssl rsa -in "$1" -noout -modulus 2>/dev/null
}

cert_modulus()
{
	openssl x509 -in "$1" -noout -modulus 2>/dev/null
}

# --- a lab CA, accounts, the daemon ----------------------------------------
run_ok smimeca -d "$T/lab" init --lab --no-ldap --key rsa:2048 ||
    bail_out "smimeca init --lab failed"
printf 'alice-secret-1\n' >alice.pw
printf 'bob-secret-22\n' >bob.pw
run_ok smimeca -d lab user add Alice@Lab.Example --cn "Alice Example" \
    --password-file alice.pw
run_ok smimeca -d lab user add bob@lab.example --password-file bob.pw
check "init issued the TLS certificate for 127.0.0.1" \
    sh -c "openssl x509 -in lab/tls.crt -noout -ext subjectAltName |
    grep -q 'IP Address:127.0.0.1'"
check "the TLS certificate chains to the CA" \
    openssl verify -CAfile lab/chain.pem lab/tls.crt
smimecad_start "$T/lab" || bail_out "smimecad did not start"
ALICE="alice@lab.example:alice-secret-1"

# --- health, distribution ---------------------------------------------------
req "$HTTPS_URL/healthz"
is "$code:$body" "200:ok" "GET /healthz over HTTPS"
code=$(curl -s -o /dev/null -w '%{http_code}' "$HTTP_URL/healthz")
is "$code" 200 "GET /healthz over plain HTTP"

req "$HTTP_URL/ca/ca.crt"
is "$code" 200 "GET /ca/ca.crt"
check "/ca/ca.crt is the CA certificate (DER)" \
    sh -c "openssl x509 -inform DER -in '$T/body' -outform PEM |
    cmp -s - '$T/lab/ca.crt'"
req "$HTTP_URL/ca/chain.p7c"
is "$code" 200 "GET /ca/chain.p7c"
chain_fps=$(cert_fps lab/chain.pem)
like "$chain_fps" '^[0-9a-f]{64}$' "lab/chain.pem holds the CA certificate"
is "$(openssl pkcs7 -inform DER -in body -print_certs 2>/dev/null |
    cert_fps -)" "$chain_fps" \
    "/ca/chain.p7c holds exactly the certificates of chain.pem (SHA-256)"
req "$HTTP_URL/ca/exchange?format=pem"
is "$code" 200 "GET /ca/exchange?format=pem"
cp body xchg.pem
check "the exchange certificate carries EKU 1.3.6.1.4.1.311.21.5" \
    sh -c "openssl x509 -in xchg.pem -noout -ext extendedKeyUsage |
    grep -q 1.3.6.1.4.1.311.21.5"
req "$HTTP_URL/ca/exchange"
check "GET /ca/exchange is DER" openssl x509 -inform DER -in body -noout
req "$HTTP_URL/crl/ca.crl"
is "$code" 200 "GET /crl/ca.crl"
crl_verifies "the CRL verifies with the CA (openssl crl)" body \
    lab/chain.pem -inform DER
cp body served.crl
py_tap lab/ca.crt served.crl <<'EOF'
check(load_crl(sys.argv[2]).is_signature_valid(load_cert(sys.argv[1])
      .public_key()), "/crl/ca.crl: the signature verifies (cryptography)")
EOF

# --- cacerts, csrattrs ------------------------------------------------------
req "$HTTPS_URL$EST/cacerts"
is "$code" 200 "EST cacerts"
ilike "$(cat hdrs)" 'content-type: application/pkcs7-mime' \
    "cacerts is application/pkcs7-mime"
ilike "$(cat hdrs)" 'content-length: [0-9]' "cacerts has a Content-Length"
ilike "$(cat hdrs)" 'content-transfer-encoding: base64' \
    "cacerts says Content-Transfer-Encoding: base64"
is "$(tr -d '\n' <body | wc -c)" "$(wc -c <body)" \
    "cacerts: base64 on one line, no line breaks"
is "$(base64 -d body | openssl pkcs7 -inform DER -print_certs 2>/dev/null |
    cert_fps -)" "$chain_fps" \
    "cacerts decodes to exactly the CA chain (openssl pkcs7, SHA-256)"

req "$HTTPS_URL$EST/csrattrs"
is "$code" 200 "EST csrattrs (default template)"
base64 -d body >csrattrs.der 2>/dev/null
run_ok -m "csrattrs is DER (openssl asn1parse)" \
    openssl asn1parse -inform DER -in csrattrs.der
like "$out" "sha256WithRSAEncryption" "csrattrs asks for sha256WithRSAEncryption"
like "$out" "rsaEncryption" "csrattrs names the RSA key"
req "$HTTPS_URL$EST/smime-encryption/csrattrs"
is "$code" 200 "csrattrs of a template named in the URL"

# --- simpleenroll -----------------------------------------------------------
openssl req -new -newkey rsa:2048 -nodes -keyout alice.key \
    -subj "/CN=Alice/emailAddress=alice@lab.example" -outform DER \
    -out alice.der 2>/dev/null
base64 -w0 alice.der >alice.b64
before=$(ncerts)
req "$HTTPS_URL$EST/simpleenroll" -u "$ALICE" -H "$PKCS10" \
    --data-binary @alice.b64
is "$code" 200 "simpleenroll (default template smime-signature)"
ilike "$(cat hdrs)" 'smime-type=certs-only' "the answer is certs-only"
is "$(tr -d '\n' <body | wc -c)" "$(wc -c <body)" \
    "simpleenroll: base64 without line breaks"
base64 -d body | openssl pkcs7 -inform DER -print_certs >alice.crt 2>/dev/null
check "the certificate verifies against the chain (openssl verify)" \
    openssl verify -CAfile lab/chain.pem -purpose smimesign alice.crt
run_ok openssl x509 -in alice.crt -noout -subject -ext subjectAltName
like "$out" "emailAddress = alice@lab.example" \
    "the subject mail comes from the account, lower-cased"
like "$out" "email:alice@lab.example" "rfc822Name is the account's"
like "$out" "CN = Alice Example" "CN comes from the account"
is "$(cert_modulus alice.crt)" "$(modulus alice.key)" \
    "the certificate carries the request's key"
is "$(ncerts)" "$((before + 1))" "one certificate in the database"

req "$HTTPS_URL$EST/smime-signature/simpleenroll" -u "$ALICE" \
    -H "$PKCS10" --data-binary "@alice.der"
is "$code" 200 "simpleenroll with a template label and a DER body"
req "$HTTPS_URL/smime-signature$EST/simpleenroll" -u "$ALICE" \
    -H "$PKCS10" --data-binary @alice.b64
is "$code" 200 "simpleenroll at /TEMPLATE/.well-known/est/ (base-URL clients)"

# --- refusals -----------------------------------------------------------------
head -c 400000 /dev/zero | tr '\0' 'A' >big.b64
refused "body over the limit (Content-Length)" 413 "too large" \
    "$HTTPS_URL$EST/simpleenroll" -u "$ALICE" -H "$PKCS10" \
    --data-binary @big.b64
refused "body over the limit (chunked)" 413 "too large" \
    "$HTTPS_URL$EST/simpleenroll" -u "$ALICE" -H "$PKCS10" \
    -H 'Transfer-Encoding: chunked' --data-binary @big.b64

# A closed connection in the middle of a body.
$PY - "$HTTPS_PORT" "$T/lab/chain.pem" <<'EOF' >/dev/null 2>&1
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))),
                    server_hostname="127.0.0.1")
s.sendall(b"POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\n"
          b"Content-Type: application/pkcs10\r\nContent-Length: 5000\r\n\r\n"
          b"MIIB")
s.close()
EOF
before=$(ncerts)
req "$HTTPS_URL$EST/simpleenroll" -u "$ALICE" -H "$PKCS10" \
    --data-binary @alice.b64
is "$code" 200 "after all of that, a good request is still served"
is "$(ncerts)" "$((before + 1))" "and issued exactly one certificate"
is "$(sqlite3 lab/smimeca.db 'SELECT count(*) FROM certs c LEFT JOIN
    requests r ON r.id = c.request_id WHERE c.request_id IS NOT NULL AND
    r.id IS NULL;')" 0 "no certificate row without its request"
check "the audit chain verifies after the refusals" \
    smimeca -d lab audit verify

# --- a failure inside the issuance transaction ---------------------------------
# The audit row is written in the transaction that inserts the certificate:
# a trigger that refuses it must leave no request, certificate or job behind.
npub()
{
	sqlite3 "$T/lab/smimeca.db" 'SELECT count(*) FROM pub_jobs;'
}
counts_before="$(db_counts lab) $(npub)"
run_ok -m "a trigger that makes every audit insert fail" \
    sqlite3 -cmd '.timeout 5000' lab/smimeca.db "CREATE TRIGGER f BEFORE
    INSERT ON audit BEGIN SELECT RAISE(ABORT, 'x'); END;"
req "$HTTPS_URL$EST/simpleenroll" -u "$ALICE" -H "$PKCS10" \
    --data-binary @alice.b64
is "$code" 500 "the audit insert fails: HTTP 500"
is "$(wc -l <"$T/body" | tr -d ' ')" 1 "the 500 has a one-line reason"
ilike "$(cat "$T/hdrs")" 'content-type: text/plain' \
    "the 500 reason is text/plain"
like "$(cat "$SMIMECAD_LOG")" "audit log: appending a row: x" \
    "the log names the refused audit insert"
is "$(db_counts lab) $(npub)" "$counts_before" \
    "no certificate, audit row, request or publish job is left behind"
run_ok -m "drop the trigger" \
    sqlite3 -cmd '.timeout 5000' lab/smimeca.db "DROP TRIGGER f;"
req "$HTTPS_URL$EST/simpleenroll" -u "$ALICE" -H "$PKCS10" \
    --data-binary @alice.b64
is "$code" 200 "without the trigger the next request is served"

# --- enrollment codes, disabled accounts --------------------------------------
run_ok -m "smimeca user code" smimeca -d lab user code bob@lab.example --ttl 1h
code1=$out
openssl req -new -newkey rsa:2048 -nodes -keyout bob.key -subj "/CN=Bob" \
    -outform DER -out bob.der 2>/dev/null
req "$HTTPS_URL$EST/simpleenroll" -u "bob@lab.example:$code1" \
    -H "$PKCS10" --data-binary "$(base64 -w0 bob.der)"
is "$code" 200 "an enrollment code authenticates once"
refused "the same code a second time" 401 "wrong account or password" \
    "$HTTPS_URL$EST/simpleenroll" -u "bob@lab.example:$code1" \
    -H "$PKCS10" --data-binary "$(base64 -w0 bob.der)"
# One live code an account: a new code retires the unused older one.
run_ok -m "a first unused code" smimeca -d lab user code bob@lab.example
code2=$out
run_ok -m "a second code for the same account" \
    smimeca -d lab user code bob@lab.example
code3=$out
refused "the code the second one replaced" 401 "wrong account or password" \
    "$HTTPS_URL$EST/simpleenroll" -u "bob@lab.example:$code2" \
    -H "$PKCS10" --data-binary "$(base64 -w0 bob.der)"
req "$HTTPS_URL$EST/simpleenroll" -u "bob@lab.example:$code3" \
    -H "$PKCS10" --data-binary "$(base64 -w0 bob.der)"
is "$code" 200 "the newest code authenticates"
printf 'carol-secret-3\n' >carol.pw
run_ok smimeca -d lab user add carol@lab.example --password-file carol.pw
run_ok smimeca -d lab user disable carol@lab.example
refused "a disabled account" 401 "wrong account or password" \
    "$HTTPS_URL$EST/simpleenroll" -u "carol@lab.example:carol-secret-3" \
    -H "$PKCS10" --data-binary "$(base64 -w0 bob.der)"
run_ok -m "user list --json" smimeca -d lab user list --json
like "$out" '"disabled": true' "user list shows carol disabled"
unlike "$out" 'secret' "user list shows no secrets"

# --- simplereenroll with the TLS client certificate -------------------------------
openssl req -new -newkey rsa:2048 -nodes -keyout dev.key -subj "/CN=dev-1" \
    -outform DER -out dev.der 2>/dev/null
req "$HTTPS_URL$EST/device-auth/simpleenroll" -u "$ALICE" -H "$PKCS10" \
    --data-binary "$(base64 -w0 dev.der)"
is "$code" 200 "simpleenroll a signing certificate to renew later"
base64 -d body | openssl pkcs7 -inform DER -print_certs >dev.crt 2>/dev/null
openssl req -new -key dev.key -subj "/CN=dev-1" -outform DER \
    -out dev2.der 2>/dev/null
req "$HTTPS_URL$EST/simplereenroll" --cert dev.crt --key dev.key \
    -H "$PKCS10" --data-binary "$(base64 -w0 dev2.der)"
is "$code" 200 "simplereenroll with the certificate as TLS client cert"
base64 -d body | openssl pkcs7 -inform DER -print_certs >dev-new.crt \
    2>/dev/null
check "the renewed certificate verifies" \
    openssl verify -CAfile lab/chain.pem dev-new.crt
isnt "$(openssl x509 -in dev-new.crt -noout -serial)" \
    "$(openssl x509 -in dev.crt -noout -serial)" "with a new serial"
is "$(openssl x509 -in dev-new.crt -noout -subject)" \
    "$(openssl x509 -in dev.crt -noout -subject)" "for the same subject"
run_ok smimeca -d lab revoke "$(openssl x509 -in dev.crt -noout -serial |
    cut -d= -f2)" --reason superseded
refused "simplereenroll with a revoked certificate" 403 "revoked" \
    "$HTTPS_URL$EST/simplereenroll" --cert dev.crt --key dev.key \
    -H "$PKCS10" --data-binary "$(base64 -w0 dev2.der)"

# --- serverkeygen: the CA makes the key and escrows it ----------------------------
req "$HTTPS_URL$EST/smime-encryption/serverkeygen" -u "$ALICE" \
    -H "$PKCS10" --data-binary @alice.b64
is "$code" 200 "serverkeygen under smime-encryption"
ilike "$(cat hdrs)" 'content-type: multipart/mixed; boundary=' \
    "the answer is multipart/mixed"
$PY - "$T/hdrs" "$T/body" <<'EOF' >skg.out 2>&1
import base64, email, sys
hdrs = open(sys.argv[1]).read()
ct = [l.split(":", 1)[1].strip() for l in hdrs.splitlines()
      if l.lower().startswith("content-type:")][-1]
msg = email.message_from_bytes(b"Content-Type: " + ct.encode() + b"\r\n\r\n" +
                               open(sys.argv[2], "rb").read())
parts = msg.get_payload()
assert len(parts) == 2, len(parts)
assert parts[0].get_content_type() == "application/pkcs8"
assert parts[1].get_content_type() == "application/pkcs7-mime"
open("skg.p8", "wb").write(base64.b64decode(parts[0].get_payload()))
open("skg.p7", "wb").write(base64.b64decode(parts[1].get_payload()))
print("parts ok")
EOF
like "$(cat skg.out)" "parts ok" "two parts: application/pkcs8, then pkcs7-mime"
openssl pkcs8 -nocrypt -inform DER -in skg.p8 -out skg.key 2>/dev/null
openssl pkcs7 -inform DER -in skg.p7 -print_certs -out skg.crt 2>/dev/null
check "the generated key is PKCS#8 (openssl pkcs8)" test -s skg.key
is "$(cert_modulus skg.crt)" "$(modulus skg.key)" \
    "the generated key and the certificate pair up"
skg_serial=$(openssl x509 -in skg.crt -noout -serial | cut -d= -f2 |
    tr 'A-F' 'a-f')
officer_pw 1 >kp1
printf 'export-pass-1\n' >p12pw
run_ok -m "recover blob for the server-generated key" \
    smimeca -d lab recover blob --serial "$skg_serial" --out skg.blob
run_ok -m "an officer opens it" smimeca recover open --blob skg.blob --ca-cert lab/ca.crt \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 --out skg.p12 \
    --password-file p12pw
openssl pkcs12 -in skg.p12 -passin pass:export-pass-1 -nocerts -nodes \
    -out skg-rec.key 2>/dev/null
is "$(modulus skg-rec.key)" "$(modulus skg.key)" \
    "the escrowed key is the one serverkeygen returned"

# --- fullcmc: the Windows archival layout --------------------------------------
run_ok -m "smimeca-enroll makes a Windows-layout archival request" \
    smimeca-enroll --out-dir win --email alice@lab.example --cn Alice \
    --archive --xchg xchg.pem --format cmc
before=$(ncerts)
req "$HTTPS_URL$EST/smime-encryption/fullcmc" -u "$ALICE" -H "$CMCREQ" \
    --data-binary @win/request.cmc
is "$code" 200 "fullcmc with an archived key"
ilike "$(cat hdrs)" 'smime-type=CMC-response' "the answer is a CMC response"
is "$(ncerts)" "$((before + 1))" "one certificate issued"
base64 -d body >cmc.der
run_ok -m "the PKIResponse is signed by the CA (openssl cms -verify)" \
    openssl cms -verify -inform DER -in cmc.der -CAfile lab/chain.pem \
    -purpose any -binary -out pkiresp.der
openssl cms -cmsout -inform DER -in cmc.der -print 2>/dev/null |
    grep -q 'id-cct-PKIResponse' && ok "eContentType is id-cct-PKIResponse" ||
    not_ok "eContentType is id-cct-PKIResponse"
openssl pkcs7 -inform DER -in cmc.der -print_certs 2>/dev/null |
    awk '/BEGIN CERT/{n++} n==1' | sed -n '/BEGIN/,/END/p' >win.crt
$PY - cmc.der pkiresp.der win/request.cmc <<'EOF' >cmc.out 2>&1
import hashlib, sys
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7, Encoding
certs = pkcs7.load_der_pkcs7_certificates(open(sys.argv[1], "rb").read())
resp = open(sys.argv[2], "rb").read()
# the issued certificate is the one whose SHA-1 the response carries
hashes = [hashlib.sha1(c.public_bytes(Encoding.DER)).digest() for c in certs]
found = [h for h in hashes if h in resp]
assert len(found) == 1, "issued-cert hash not in the response"
assert bytes.fromhex("06092b0601040182371511") in resp, "no 1.3.6.1.4.1.311.21.17"
assert bytes.fromhex("06092b0601040182371515") in resp, "no 1.3.6.1.4.1.311.21.21"
assert bytes.fromhex("06082b06010505070701") in resp, "no id-cmc-statusInfo"
print("response ok")
EOF
like "$(cat cmc.out)" "response ok" \
    "python: status info, issued-cert hash and encrypted-key hash"
win_serial=$(sqlite3 lab/smimeca.db "SELECT serial FROM certs WHERE
    template = 'smime-encryption' AND revoked_at IS NULL ORDER BY id DESC
    LIMIT 1;" 2>/dev/null)
[ -n "$win_serial" ] || win_serial=$(smimeca -d lab cert list --json |
    $PY -c 'import json,sys; print([c["serial"] for c in json.load(sys.stdin)
    if c["template"] == "smime-encryption" and c["status"] == "valid"][-1])')
run_ok -m "recover blob for the fullcmc-archived key" \
    smimeca -d lab recover blob --serial "$win_serial" --out win.blob
run_ok -m "an officer recovers it" smimeca recover open --blob win.blob --ca-cert lab/ca.crt \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 --out win.p12 \
    --password-file p12pw
openssl pkcs12 -in win.p12 -passin pass:export-pass-1 -nocerts -nodes \
    -out win-rec.key 2>/dev/null
is "$(modulus win-rec.key)" "$(modulus win/key.pem)" \
    "the recovered key is the one the client archived"

# --- fullcmc: a plain CMC request (PKIData with a PKCS#10, no archived key) ---
run_ok -m "smimeca-enroll --format cmc without --archive" \
    smimeca-enroll --out-dir plain --email alice@lab.example --cn Alice \
    --format cmc
like "$out" 'wrote plain/request\.cmc' "--format cmc: says it wrote request.cmc"
openssl cms -cmsout -inform DER -in plain/request.cmc -print >plain.txt 2>&1
like "$(cat plain.txt)" 'eContentType: id-cct-PKIData' \
    "the plain request is a SignedData of id-cct-PKIData (openssl cms)"
like "$(cat plain.txt)" 'd\.subjectKeyIdentifier' \
    "its signer is named by key identifier"
like "$(cat plain.txt)" 'unsignedAttrs: *$' "it has an unsignedAttrs line"
unlike "$(sed -n '/unsignedAttrs/,/^ *$/p' plain.txt)" 'object' \
    "and no unsigned attribute (no archived key)"
# The signer is the request's key: a self-signed certificate of key.pem
# (openssl's SKI is the same SHA-1 of the key) verifies the signature.
openssl req -x509 -key plain/key.pem -subj /CN=plain -days 1 \
    -out plain-self.crt 2>/dev/null
run_ok -m "the request's signature verifies with its own key (openssl cms)" \
    openssl cms -verify -inform DER -in plain/request.cmc -binary \
    -certfile plain-self.crt -noverify -out plain-pkidata.der
run_ok openssl asn1parse -inform DER -in plain-pkidata.der
unlike "$out" '1\.3\.6\.1\.4\.1\.311\.(21\.21|10\.10\.1)' \
    "the PKIData has no encrypted-key-hash control"
like "$out" '^ *4:d=1 +hl=2 l= *0 cons: SEQUENCE' \
    "the PKIData's controlSequence is empty"
like "$out" 'cont \[ 0 \]' "its request is a tcr [0]"
base64 -w0 plain/request.cmc >plain.b64
before=$(ncerts)
req "$HTTPS_URL$EST/smime-signature/fullcmc" -u "$ALICE" -H "$CMCREQ" \
    --data-binary @plain.b64
is "$code" 200 "fullcmc with a plain CMC request (smime-signature)"
ilike "$(cat hdrs)" 'smime-type=CMC-response' \
    "plain CMC: the answer is a CMC response"
is "$(ncerts)" "$((before + 1))" "plain CMC: one certificate issued"
base64 -d body >plain-resp.der
run_ok -m "plain CMC: the PKIResponse verifies with the CA (openssl cms)" \
    openssl cms -verify -inform DER -in plain-resp.der -CAfile lab/chain.pem \
    -purpose any -binary -out plain-pkiresp.der
run_ok openssl asn1parse -inform DER -in plain-pkiresp.der
# TaggedAttribute { bodyPartID, id-cmc-statusInfo, SET { CMCStatusInfo {
# cMCStatus, bodyList ... } } }: the first INTEGER after the OID.
status=$(printf '%s\n' "$out" | awk '
	/OBJECT +:(id-cmc-statusInfo|1\.3\.6\.1\.5\.5\.7\.7\.1)$/ {
		f = 1
		next
	}
	f && /prim: INTEGER/ { sub(/.*:/, ""); print; exit }')
is "$status" "00" "plain CMC: cMCStatusInfo (1.3.6.1.5.5.7.7.1) says success"
unlike "$out" '1\.3\.6\.1\.4\.1\.311\.21\.21' \
    "plain CMC: the response carries no encrypted-key hash"
openssl pkcs7 -inform DER -in plain-resp.der -print_certs 2>/dev/null |
    awk '/BEGIN CERT/ { n++; p = 1 } p { print > ("plain-cert" n ".pem") }
	/END CERT/ { p = 0 }'
want=$(openssl pkey -in plain/key.pem -pubout 2>/dev/null)
plain_crt=
for f in plain-cert*.pem; do
	[ -f "$f" ] || continue
	[ "$(openssl x509 -in "$f" -noout -pubkey 2>/dev/null)" = "$want" ] &&
	    plain_crt=$f
done
desc="plain CMC: the response carries a certificate of the request's key"
if [ -n "$plain_crt" ]; then
	ok "$desc"
	run_ok -m "plain CMC: it verifies as an S/MIME signing certificate" \
	    openssl verify -CAfile lab/chain.pem -purpose smimesign \
	    "$plain_crt"
	run_ok openssl x509 -in "$plain_crt" -noout -ext subjectAltName
	like "$out" "email:alice@lab.example" \
	    "plain CMC: the certificate names alice's mail"
else
	not_ok "$desc" "no certificate in plain-resp.der has the key of" \
	    "plain/key.pem"
fi

# --- metrics ------------------------------------------------------------------
req "$HTTP_URL/metrics"
is "$code" 200 "GET /metrics"
like "$body" 'smimecad_issued_total\{via="est"\} [1-9]' "metrics: issued via EST"
like "$body" 'smimecad_issued_total\{via="cmc"\} 2' \
    "metrics: issued via CMC (archival and plain)"
like "$body" 'smimecad_rejected_total\{reason="auth"\} [1-9]' \
    "metrics: refused for authentication"
like "$body" 'smimecad_rejected_total\{reason="too_large"\} 2' \
    "metrics: refused as too large"
like "$body" 'smimecad_request_duration_seconds_bucket\{le="\+Inf"\} [1-9]' \
    "metrics: latency histogram"
like "$body" 'smimecad_db_commits_total [1-9]' \
    "metrics: transactions of the group commit"
like "$body" 'smimecad_db_commit_members_total [1-9]' \
    "metrics: issuances they carried"
like "$body" 'smimecad_requests_total\{route="est_simpleenroll",code="2xx"\}' \
    "metrics: requests by route"

# --- a request in flight across a SIGHUP --------------------------------------
# Half the body, then the reload, then the rest: the request is served.
openssl req -new -newkey rsa:2048 -nodes -keyout slow.key \
    -subj "/CN=Slow" -outform DER -out slow.der 2>/dev/null
$PY - "$HTTPS_PORT" "$T/lab/chain.pem" "$(base64 -w0 slow.der)" \
    "alice@lab.example:alice-secret-1" >slow.out 2>&1 <<'PYEOF' &
import base64, os, socket, ssl, sys, time
port, ca, body, cred = sys.argv[1], sys.argv[2], sys.argv[3].encode(), sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))),
                    server_hostname="127.0.0.1")
auth = base64.b64encode(cred.encode()).decode()
s.sendall(("POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\n"
           "Authorization: Basic %s\r\nContent-Type: application/pkcs10\r\n"
           "Content-Length: %d\r\n\r\n" % (auth, len(body))).encode())
s.sendall(body[:100])
open("slow.half", "w").close()
time.sleep(2)
s.sendall(body[100:])
print(s.recv(65536).split(b"\r\n")[0].decode())
PYEOF
slow_pid=$!
w=0
while [ ! -f slow.half ] && [ $w -lt 100 ]; do sleep 0.1; w=$((w + 1)); done
kill -HUP "$SMIMECAD_PID"
wait $slow_pid
like "$(cat slow.out)" "^HTTP/1.1 200" \
    "a request in flight while SIGHUP reloads is served (200)"

# --- SIGHUP reloads templates; SIGTERM stops cleanly -------------------------
sed 's/name="device-auth"/name="device-lab"/' lab/templates/device-auth.xml \
    >lab/templates/device-lab.xml
refused "a template added but not yet loaded" 404 "no template named" \
    "$HTTPS_URL$EST/device-lab/csrattrs"
kill -HUP "$SMIMECAD_PID"
sleep 1
req "$HTTPS_URL$EST/device-lab/csrattrs"
is "$code" 200 "after SIGHUP the new template is served"
like "$(cat "$SMIMECAD_LOG")" "reloaded" "the log says it reloaded"

# <daemon> settings are read per request from the reloaded configuration.
head -c 200000 /dev/zero | tr '\0' 'A' >mid.b64
req "$HTTPS_URL$EST/simpleenroll" -u "$ALICE" -H "$PKCS10" \
    --data-binary @mid.b64
is "$code" 400 "before the reload, 200000 bytes are under body-bytes"
sed -i -e 's|</smimeca-config>|  <daemon est-template="device-lab" \
      est-over-http="yes">\
    <limits body-bytes="100000"/>\
  </daemon>\
</smimeca-config>|' -e 's|<publication>|<publication>\
    <crl-url>http://crl.lab.example/crl/lab-2.crl</crl-url>|' \
    lab/smimeca.conf
nreload=$(grep -c 'reloaded' "$SMIMECAD_LOG")
kill -HUP "$SMIMECAD_PID"
w=0
while [ "$(grep -c 'reloaded' "$SMIMECAD_LOG")" -le "$nreload" ] &&
    [ $w -lt 100 ]; do
	sleep 0.1
	w=$((w + 1))
done
req "$HTTPS_URL$EST/simpleenroll" -u "$ALICE" -H "$PKCS10" \
    --data-binary "$(base64 -w0 dev.der)"
is "$code" 200 "after SIGHUP, simpleenroll without a template label"
is "$(sqlite3 lab/smimeca.db 'SELECT template FROM certs ORDER BY id DESC
    LIMIT 1;')" device-lab "issues under the reloaded est-template"
req "$HTTP_URL$EST/csrattrs"
is "$code" 200 "after SIGHUP, est-over-http=yes serves EST on plain HTTP"
refused "after SIGHUP, the reloaded body-bytes" 413 "limit is 100000" \
    "$HTTPS_URL$EST/simpleenroll" -u "$ALICE" -H "$PKCS10" \
    --data-binary @mid.b64
req "$HTTP_URL/crl/lab-2.crl"
is "$code" 200 "the path of an added <crl-url> serves the CRL"
crl_verifies "the CRL at the added path verifies with the CA" body \
    lab/chain.pem -inform DER
printf '<template' >lab/templates/broken.xml
kill -HUP "$SMIMECAD_PID"
sleep 1
like "$(cat "$SMIMECAD_LOG")" "reload refused" \
    "a broken template: the reload is refused"
req "$HTTPS_URL/healthz"
is "$code" 200 "and the server keeps serving"
rm -f lab/templates/broken.xml
smimecad_stop
is "$smimecad_rc" 0 "SIGTERM: smimecad exits 0"
unlike "$(cat "$SMIMECAD_LOG")" "AddressSanitizer|runtime error" \
    "no sanitizer report in the server log"

done_testing
