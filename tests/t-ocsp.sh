#!/bin/sh
# The OCSP responder of smimecad (/ocsp) with real clients: openssl ocsp
# (POST with and without nonce, -CAfile and -VAfile, several CertIDs,
# unknown and foreign serials), GET through curl with openssl ocsp -respin
# reading the answer, Python cryptography's ocsp module (signature,
# responder certificate, nonce, times), NSS vfychain fetching the AIA URL,
# and smimeca ocsp status. A revocation at the CLI is seen by each at once.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/smimecad.sh"

# The AIA URL must reach this daemon (NSS fetches it): ports first.
HTTPS_PORT=$(free_port)
HTTP_PORT=$(free_port)
while [ "$HTTP_PORT" = "$HTTPS_PORT" ]; do
	HTTP_PORT=$(free_port)
done
run_ok smimeca -d lab init --name "Lab Issuing CA" \
    --base-url "http://127.0.0.1:$HTTP_PORT" || bail_out "init failed"
like "$(cat lab/smimeca.conf)" \
    "<ocsp-url>http://127.0.0.1:$HTTP_PORT/ocsp</ocsp-url>" \
    "init writes ocsp-url into smimeca.conf"
for u in alice bob carol; do
	mkcsr $u $u@lab.example
	run_ok smimeca -d lab issue --template smime-signature --csr $u.csr \
	    --out $u.crt
	eval "s_$u=\$out"
done
run_ok -m "openssl x509 -ocsp_uri" openssl x509 -in alice.crt -noout \
    -ocsp_uri
is "$out" "http://127.0.0.1:$HTTP_PORT/ocsp" \
    "the AIA of an issued certificate carries the OCSP URL"

smimecad_start_on lab || bail_out "smimecad did not start"
URL=$HTTP_URL/ocsp
is "$(sqlite3 lab/smimeca.db "SELECT count(*) FROM ca_certs WHERE \
    role = 'ocsp'")" 1 "smimecad made one OCSP responder certificate"
sqlite3 lab/smimeca.db "SELECT hex(der) FROM ca_certs WHERE role = 'ocsp'" |
    $PY -c 'import sys, binascii
sys.stdout.buffer.write(binascii.unhexlify(sys.stdin.read().strip()))' \
    >responder.der
openssl x509 -inform DER -in responder.der -out responder.pem 2>/dev/null
run_ok -m "openssl x509 -text of the responder certificate" openssl x509 \
    -in responder.pem -noout -text
like "$out" "OCSP Signing" "the responder certificate has EKU OCSPSigning"
like "$out" "OCSP No Check" "the responder certificate has ocsp-nocheck"
run_ok -m "openssl verify -purpose ocsphelper" openssl verify \
    -CAfile lab/chain.pem -purpose ocsphelper responder.pem
like "$out" "responder.pem: OK" "the responder certificate chains to the CA"

# ocsp ARGS: openssl ocsp against the responder; its output in $out.
ocsp()
{
	run_cmd openssl ocsp -issuer lab/ca.crt -url "$URL" "$@"
	out="$out
$err"
}

# --- POST, as openssl ocsp sends it -----------------------------------------
ocsp -cert alice.crt -CAfile lab/chain.pem -resp_text
like "$out" "Response verify OK" "POST with nonce: Response verify OK"
like "$out" "alice.crt: good" "POST with nonce: alice is good"
like "$out" "OCSP Nonce" "the response carries a nonce"
unlike "$out" "Nonce Verify error|no nonce in response" \
    "openssl finds its own nonce echoed"
like "$out" "Next Update:" "the response has a nextUpdate"
rkid=$(openssl x509 -in responder.pem -noout -ext subjectKeyIdentifier |
    tail -n 1 | tr -d ' :')
like "$out" "Responder Id: $rkid" \
    "the ResponderID is byKey, the responder certificate's key hash"
ocsp -cert alice.crt -CAfile lab/chain.pem -no_nonce -resp_text
like "$out" "Response verify OK" "POST without nonce: Response verify OK"
like "$out" "alice.crt: good" "POST without nonce: alice is good"
unlike "$out" "OCSP Nonce" "no nonce asked, none given"
ocsp -cert alice.crt -VAfile responder.pem
like "$out" "Response verify OK" "-VAfile responder.pem: Response verify OK"
like "$out" "alice.crt: good" "-VAfile: alice is good"
ocsp -cert bob.crt -cert carol.crt -CAfile lab/chain.pem
like "$out" "Response verify OK" "two CertIDs: Response verify OK"
like "$out" "bob.crt: good" "two CertIDs: bob is good"
like "$out" "carol.crt: good" "two CertIDs: carol is good"
ocsp -sha256 -cert alice.crt -CAfile lab/chain.pem
like "$out" "alice.crt: good" "a SHA-256 CertID: alice is good"
ocsp -serial 0x0123456789abcdef -CAfile lab/chain.pem
like "$out" "Response verify OK" "unknown serial: Response verify OK"
like "$out" "0x0123456789abcdef: unknown" \
    "a serial this CA never issued is unknown"
# A CertID of another issuer: not this responder's to answer.
run_cmd openssl ocsp -issuer alice.crt -serial 0x01 -url "$URL"
like "$out$err" "Responder Error: unauthorized" \
    "a foreign issuer's CertID is answered unauthorized"

# --- GET (RFC 5019): curl fetches, openssl reads --------------------------
# get NAME DIGEST CERT: GET of a request without nonce into NAME.der.
get()
{
	openssl ocsp -"$2" -issuer lab/ca.crt -cert "$3" -no_nonce \
	    -reqout "$1.req" >/dev/null 2>&1
	b64=$($PY -c 'import base64, sys, urllib.parse
print(urllib.parse.quote(base64.b64encode(open(sys.argv[1], "rb").read()),
    safe=""))' "$1.req")
	curl -sS -D "$1.hdr" -o "$1.der" "$URL/$b64"
}
get g1 sha1 alice.crt
run_cmd openssl ocsp -respin g1.der -issuer lab/ca.crt -cert alice.crt \
    -CAfile lab/chain.pem -no_nonce
like "$out$err" "Response verify OK" "GET SHA-1: Response verify OK"
like "$out" "alice.crt: good" "GET SHA-1: alice is good"
hdr=$(tr -d '\r' <g1.hdr)
like "$hdr" "Content-Type: application/ocsp-response" \
    "GET answers application/ocsp-response"
like "$hdr" "Cache-Control: max-age=[0-9]+, public, no-transform, \
must-revalidate" "GET without nonce: Cache-Control max-age"
like "$hdr" 'ETag: "[0-9a-f]{40}"' "GET without nonce: an ETag"
etag=$(printf '%s\n' "$hdr" | sed -n 's/^ETag: //p')
code=$(curl -s -o g1b.der -w '%{http_code}' -H "If-None-Match: $etag" \
    "$URL/$b64")
is "$code" 304 "GET with If-None-Match of the ETag: 304 Not Modified"
check "... with no body" test ! -s g1b.der
pre0=$(curl -s "$HTTP_URL/metrics" | sed -n \
    's/^smimecad_ocsp_preproduced_total //p')
get g2 sha1 alice.crt
check "a second GET gets the same pre-produced bytes" cmp g1.der g2.der
pre1=$(curl -s "$HTTP_URL/metrics" | sed -n \
    's/^smimecad_ocsp_preproduced_total //p')
is "$pre1" "$((pre0 + 1))" "the GET was served from the pre-produced row"
get g3 sha256 alice.crt
run_cmd openssl ocsp -respin g3.der -sha256 -issuer lab/ca.crt \
    -cert alice.crt -CAfile lab/chain.pem -no_nonce
like "$out$err" "Response verify OK" "GET SHA-256: Response verify OK"
like "$out" "alice.crt: good" "GET SHA-256: alice is good"
is "$(sqlite3 lab/smimeca.db "SELECT group_concat(hash) FROM (SELECT hash \
    FROM ocsp_responses o JOIN certs c ON c.id = o.cert_id WHERE \
    c.serial = '$s_alice' ORDER BY hash)")" "sha1,sha256" \
    "alice has a pre-produced response per CertID hash"

# A client that leaves '/' and '+' of the base64 unencoded in the path.
for c in alice bob carol; do
	for h in sha1 sha256; do
		openssl ocsp -$h -issuer lab/ca.crt -cert $c.crt -no_nonce \
		    -reqout raw-$c-$h.req >/dev/null 2>&1
	done
done
raw=$(for f in raw-*.req; do printf '%s %s\n' "$f" "$(base64 -w0 "$f")"; done |
    grep -m 1 ' .*[/+]' || true)
if [ -n "$raw" ]; then
	rf=${raw%% *}
	rc_=$(printf '%s' "$rf" | sed 's/^raw-\([a-z]*\)-.*/\1/')
	rh=$(printf '%s' "$rf" | sed 's/^raw-[a-z]*-\(.*\)\.req/\1/')
	curl -sS -o raw.der "$URL/${raw#* }"
	run_cmd openssl ocsp -respin raw.der -$rh -issuer lab/ca.crt \
	    -cert $rc_.crt -CAfile lab/chain.pem -no_nonce
	like "$out" "$rc_.crt: good" \
	    "a GET with '/' and '+' left unencoded is answered"
else
	skip "a GET with '/' and '+' left unencoded is answered" \
	    "no request's base64 holds '/' or '+'"
fi

# --- malformed requests: malformedRequest in HTTP 200, bounded sizes --------
code=$(curl -s -o bad.der -w '%{http_code}' -H \
    'Content-Type: application/ocsp-request' --data-binary 'not DER' "$URL")
is "$code" 200 "a malformed POST is answered with HTTP 200"
run_cmd openssl ocsp -respin bad.der -resp_text
like "$out$err" "malformedrequest" "... and malformedRequest"
code=$(curl -s -o bad2.der -w '%{http_code}' "$URL/bm90IERFUg==")
run_cmd openssl ocsp -respin bad2.der -resp_text
like "$code $out$err" "^200 .*malformedrequest" \
    "a GET of base64 that is no request: malformedRequest"
code=$(curl -s -o bad3.der -w '%{http_code}' "$URL/%%%")
run_cmd openssl ocsp -respin bad3.der -resp_text
like "$code $out$err" "^200 .*malformedrequest" \
    "a GET of no base64 at all: malformedRequest"
head -c 5000 /dev/zero >big.bin
code=$(curl -s -o bad4.der -w '%{http_code}' -H \
    'Content-Type: application/ocsp-request' --data-binary @big.bin "$URL")
run_cmd openssl ocsp -respin bad4.der -resp_text
like "$code $out$err" "^200 .*malformedrequest" \
    "a request over 4096 bytes: malformedRequest"
head -c 300000 /dev/zero >huge.bin
code=$(curl -s -o /dev/null -w '%{http_code}' -H \
    'Content-Type: application/ocsp-request' --data-binary @huge.bin "$URL")
is "$code" 413 "a body over <limits body-bytes>: 413"
long=$($PY -c 'print("A" * 600)')
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/$long")
is "$code" 414 "a GET path over 512 bytes: 414"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: text/plain' \
    --data-binary 'x' "$URL")
is "$code" 415 "a POST of another media type: 415"

# --- Python cryptography: the answer, its signer, the nonce -----------------
py_tap alice.crt lab/ca.crt "$URL" <<'EOF'
import urllib.request
from cryptography.x509 import ocsp
from cryptography.x509.oid import OCSPExtensionOID
from cryptography.hazmat.primitives.asymmetric import padding
leaf, ca = load_cert(sys.argv[1]), load_cert(sys.argv[2])
url = sys.argv[3]

def ask(nonce=None, algo=hashes.SHA1()):
    b = ocsp.OCSPRequestBuilder().add_certificate(leaf, ca, algo)
    if nonce is not None:
        b = b.add_extension(x509.OCSPNonce(nonce), critical=False)
    req = b.build().public_bytes(serialization.Encoding.DER)
    r = urllib.request.Request(url, data=req, headers={
        "Content-Type": "application/ocsp-request"})
    with urllib.request.urlopen(r) as f:
        return ocsp.load_der_ocsp_response(f.read())

nonce = os.urandom(32)
resp = ask(nonce)
check(resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL,
      "cryptography: the answer is successful")
check(resp.certificate_status == ocsp.OCSPCertStatus.GOOD,
      "cryptography: alice is good")
check(resp.serial_number == leaf.serial_number,
      "cryptography: the answer is about alice's serial")
certs = resp.certificates
check(len(certs) == 1, "cryptography: the answer carries the responder "
      "certificate")
rc = certs[0]
check(resp.responder_key_hash == x509.SubjectKeyIdentifier.from_public_key(
      rc.public_key()).digest, "cryptography: ResponderID byKey names it")
try:
    rc.public_key().verify(resp.signature, resp.tbs_response_bytes,
                           padding.PKCS1v15(), resp.signature_hash_algorithm)
    sig = True
except Exception as e:
    sig = False
check(sig, "cryptography: the signature verifies with the responder key")
try:
    ca.public_key().verify(rc.signature, rc.tbs_certificate_bytes,
                           padding.PKCS1v15(), rc.signature_hash_algorithm)
    iss = rc.issuer == ca.subject
except Exception as e:
    iss = False
check(iss, "cryptography: the responder certificate is issued by the CA")
eku = ext(rc, ExtensionOID.EXTENDED_KEY_USAGE)
check(eku is not None and ExtendedKeyUsageOID.OCSP_SIGNING in eku.value,
      "cryptography: the responder certificate has EKU OCSPSigning")
check(ext(rc, ExtensionOID.OCSP_NO_CHECK) is not None,
      "cryptography: the responder certificate has ocsp-nocheck")
life = rc.not_valid_after - rc.not_valid_before
check(life <= datetime.timedelta(days=8),
      "cryptography: the responder certificate is short-lived", str(life))
n = [e for e in resp.extensions if e.oid == OCSPExtensionOID.NONCE]
check(len(n) == 1 and n[0].value.nonce == nonce,
      "cryptography: a 32-octet nonce is echoed")
check(resp.next_update is not None and resp.this_update < resp.next_update,
      "cryptography: thisUpdate before nextUpdate")
r1 = ask(b"\x01")
n = [e for e in r1.extensions if e.oid == OCSPExtensionOID.NONCE]
check(len(n) == 1 and n[0].value.nonce == b"\x01",
      "cryptography: a 1-octet nonce is echoed")
r33 = ask(os.urandom(33))
check(r33.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
      "cryptography: a 33-octet nonce is malformedRequest (RFC 8954)")
r256 = ask(None, hashes.SHA256())
check(r256.certificate_status == ocsp.OCSPCertStatus.GOOD and
      r256.hash_algorithm.name == "sha256",
      "cryptography: a SHA-256 CertID is answered with it")
EOF

# --- NSS: vfychain fetches the AIA URL and asks -----------------------------
nss_ok=0
if command -v vfychain >/dev/null && command -v certutil >/dev/null; then
	mkdir nssdb
	certutil -N -d sql:nssdb --empty-password >/dev/null 2>&1 &&
	    certutil -A -d sql:nssdb -n ca -t "CT,C,C" -i lab/ca.crt \
	    >/dev/null 2>&1 && nss_ok=1
fi
openssl x509 -in alice.crt -outform DER -out alice.der
vfy()
{
	run_cmd vfychain -d sql:nssdb -pp -u 4 -g leaf -h requireFreshInfo \
	    -m ocsp -s failIfNoInfo alice.der
	out="$out
$err"
}
if [ "$nss_ok" = 1 ]; then
	vfy
	like "$out" "Chain is good" "NSS vfychain with OCSP: alice is good"
else
	skip "NSS vfychain with OCSP: alice is good" "NSS tools not found"
fi

# --- revoked at the CLI: seen at once by every client -----------------------
run_ok smimeca -d lab revoke "$s_alice" --reason keyCompromise
is "$(sqlite3 lab/smimeca.db "SELECT count(*) FROM ocsp_responses o JOIN \
    certs c ON c.id = o.cert_id WHERE c.serial = '$s_alice'")" 0 \
    "revoke dropped alice's pre-produced responses in its transaction"
ocsp -cert alice.crt -CAfile lab/chain.pem
like "$out" "alice.crt: revoked" "openssl POST: alice is revoked at once"
like "$out" "Reason: keyCompromise" "openssl POST: reason keyCompromise"
like "$out" "Revocation Time:" "openssl POST: the revocation time"
get g4 sha1 alice.crt
run_cmd openssl ocsp -respin g4.der -issuer lab/ca.crt -cert alice.crt \
    -CAfile lab/chain.pem -no_nonce
like "$out$err" "Response verify OK" "GET after revoke: Response verify OK"
like "$out" "alice.crt: revoked" "GET after revoke: revoked at once"
get g5 sha256 alice.crt
run_cmd openssl ocsp -respin g5.der -sha256 -issuer lab/ca.crt \
    -cert alice.crt -CAfile lab/chain.pem -no_nonce
like "$out" "alice.crt: revoked" "GET SHA-256 after revoke: revoked"
run_ok smimeca -d lab ocsp status --cert alice.crt --url "$URL"
like "$out" "status: +revoked" "smimeca ocsp status: revoked"
like "$out" "reason: +keyCompromise" "smimeca ocsp status: keyCompromise"
like "$out" "signer: +CN=Lab Issuing CA OCSP Responder \(delegated" \
    "smimeca ocsp status: names the delegated signer"
like "$out" "verified: +yes" "smimeca ocsp status: verified"
run_ok smimeca -d lab ocsp status "$s_bob" --get --sha256 --no-nonce
like "$out" "status: +good" "smimeca ocsp status --get (AIA-less: \
ocsp-url of the configuration): bob is good"
if [ "$nss_ok" = 1 ]; then
	vfy
	like "$out" "revoked" "NSS vfychain: alice is revoked at once"
else
	skip "NSS vfychain: alice is revoked at once" "NSS tools not found"
fi
py_tap alice.crt lab/ca.crt "$URL" <<'EOF'
import urllib.request
from cryptography.x509 import ocsp
from cryptography.x509.oid import OCSPExtensionOID
leaf, ca = load_cert(sys.argv[1]), load_cert(sys.argv[2])
req = ocsp.OCSPRequestBuilder().add_certificate(leaf, ca, hashes.SHA1()) \
    .build().public_bytes(serialization.Encoding.DER)
r = urllib.request.Request(sys.argv[3], data=req, headers={
    "Content-Type": "application/ocsp-request"})
resp = ocsp.load_der_ocsp_response(urllib.request.urlopen(r).read())
check(resp.certificate_status == ocsp.OCSPCertStatus.REVOKED,
      "cryptography: alice is revoked at once")
check(resp.revocation_reason == x509.ReasonFlags.key_compromise,
      "cryptography: the reason is keyCompromise")
check(resp.revocation_time is not None and
      resp.revocation_time <= resp.this_update,
      "cryptography: a revocation time")
EOF

run_cmd curl -s "$HTTP_URL/metrics"
like "$out" 'smimecad_ocsp_requests_total\{result="good"\} [1-9]' \
    "/metrics counts good answers"
like "$out" 'smimecad_ocsp_requests_total\{result="revoked"\} [1-9]' \
    "/metrics counts revoked answers"
like "$out" 'smimecad_ocsp_requests_total\{result="malformed"\} [1-9]' \
    "/metrics counts malformed requests"
like "$out" 'smimecad_ocsp_requests_total\{result="unauthorized"\} [1-9]' \
    "/metrics counts unauthorized requests"

# --- SIGHUP and restart keep answering from the stored responses ------------
kill -HUP "$SMIMECAD_PID"
sleep 0.5
get g6 sha1 alice.crt
run_cmd openssl ocsp -respin g6.der -issuer lab/ca.crt -cert alice.crt \
    -CAfile lab/chain.pem -no_nonce
like "$out" "alice.crt: revoked" "after SIGHUP: still revoked"
smimecad_stop
smimecad_start_on lab || bail_out "smimecad did not restart"
get g7 sha1 alice.crt
check "after a restart the GET gets the same stored response" cmp g6.der g7.der
like "$(curl -s "$HTTP_URL/metrics")" \
    'smimecad_ocsp_preproduced_total [1-9]' \
    "after a restart it is served from the pre-produced rows"
is "$(sqlite3 lab/smimeca.db "SELECT count(*) FROM ca_certs WHERE \
    role = 'ocsp'")" 1 "the restart kept the responder certificate"

# --- a stored response is bound to its serial -------------------------------
# Bob's row holding carol's response: never served for bob.
sqlite3 lab/smimeca.db "UPDATE ocsp_responses SET der = (SELECT o.der FROM \
    ocsp_responses o JOIN certs c ON c.id = o.cert_id WHERE c.serial = \
    '$s_carol' AND o.hash = 'sha1') WHERE hash = 'sha1' AND cert_id = \
    (SELECT id FROM certs WHERE serial = '$s_bob')"
get g8 sha1 bob.crt
run_cmd openssl ocsp -respin g8.der -issuer lab/ca.crt -cert bob.crt \
    -CAfile lab/chain.pem -no_nonce
like "$out$err" "Response verify OK" "a swapped row: the answer verifies"
like "$out" "bob.crt: good" "a swapped row: the answer is about bob"

# A revocation written by another hand than `smimeca revoke` (which drops
# the stored rows): the state the row carries is compared with the cert's.
get g10 sha1 carol.crt
run_cmd openssl ocsp -respin g10.der -issuer lab/ca.crt -cert carol.crt \
    -CAfile lab/chain.pem -no_nonce
like "$out" "carol.crt: good" "carol is good (and her response stored)"
sqlite3 lab/smimeca.db "UPDATE certs SET revoked = 1, revoked_at = \
    strftime('%s', 'now'), reason = 4 WHERE serial = '$s_carol'"
get g11 sha1 carol.crt
run_cmd openssl ocsp -respin g11.der -issuer lab/ca.crt -cert carol.crt \
    -CAfile lab/chain.pem -no_nonce
like "$out" "carol.crt: revoked" "a stored good row of a revoked cert is \
not served"
like "$out" "Reason: superseded" "... the new answer says superseded"

# --- signer="ca": the CA key signs ------------------------------------------
# Bob's SHA-256 row, signed by the delegated responder, made to claim the
# CA as its signer: the ResponderID in the DER says otherwise.
get g12 sha256 bob.crt
sqlite3 lab/smimeca.db "UPDATE ocsp_responses SET signer_id = (SELECT id \
    FROM ca_certs WHERE role = 'issuing') WHERE hash = 'sha256' AND \
    cert_id = (SELECT id FROM certs WHERE serial = '$s_bob')"
sed -i 's|</smimeca-config>|  <ocsp signer="ca"/>\n</smimeca-config>|' \
    lab/smimeca.conf
kill -HUP "$SMIMECAD_PID"
sleep 0.5
ocsp -cert bob.crt -CAfile lab/chain.pem -resp_text
like "$out" "Response verify OK" "signer=ca: Response verify OK"
like "$out" "bob.crt: good" "signer=ca: bob is good"
unlike "$out" "OCSP Responder" "signer=ca: no responder certificate in it"
get g9 sha1 alice.crt
get g13 sha256 bob.crt
py_tap g9.der lab/ca.crt g13.der <<'EOF'
from cryptography.x509 import ocsp
from cryptography.x509.oid import OCSPExtensionOID
resp = ocsp.load_der_ocsp_response(open(sys.argv[1], "rb").read())
ca = load_cert(sys.argv[2])
check(resp.responder_key_hash ==
      x509.SubjectKeyIdentifier.from_public_key(ca.public_key()).digest,
      "signer=ca: the stored GET answer was signed anew by the CA")
check(resp.certificate_status == ocsp.OCSPCertStatus.REVOKED,
      "signer=ca: alice is still revoked")
r13 = ocsp.load_der_ocsp_response(open(sys.argv[3], "rb").read())
check(r13.responder_key_hash ==
      x509.SubjectKeyIdentifier.from_public_key(ca.public_key()).digest,
      "signer=ca: a row whose signer column lies is signed anew by the CA")
EOF

# --- the responder certificate rolls by itself --------------------------
# Back to the delegated signer, whose certificate the database now says
# is near its end: the next answer is signed by a new one.
sed -i '/<ocsp signer="ca"\/>/d' lab/smimeca.conf
sqlite3 lab/smimeca.db "UPDATE ca_certs SET not_after = \
    strftime('%s', 'now') + 600 WHERE role = 'ocsp'"
kill -HUP "$SMIMECAD_PID"
sleep 0.5
ocsp -cert bob.crt -CAfile lab/chain.pem -resp_text
like "$out" "Response verify OK" "after the roll: Response verify OK"
like "$out" "bob.crt: good" "after the roll: bob is good"
like "$out" "Responder Id: [0-9A-F]{40}" "after the roll: a byKey ResponderID"
unlike "$out" "Responder Id: $rkid" \
    "after the roll: the old responder certificate signs no more"
is "$(sqlite3 lab/smimeca.db "SELECT count(*) FROM ca_certs WHERE \
    role = 'ocsp'")" 2 "a second responder certificate was made"
run_ok smimeca -d lab audit verify
like "$(sqlite3 lab/smimeca.db "SELECT group_concat(action) FROM audit \
    WHERE action = 'ocsp-roll'")" "^ocsp-roll,ocsp-roll$" \
    "each responder certificate has its audit row (ocsp-roll)"
get g14 sha1 bob.crt
run_cmd openssl ocsp -respin g14.der -issuer lab/ca.crt -cert bob.crt \
    -CAfile lab/chain.pem -no_nonce
like "$out$err" "Response verify OK" "after the roll: a GET verifies"
like "$out" "bob.crt: good" "after the roll: a GET says good"

# --- our own fault: internalError with HTTP 500, never for the client's --
mkdir keys.bak
cp lab/private/ocsp-*.key keys.bak/
for k in lab/private/ocsp-*.key; do
	printf 'not a key\n' >"$k"
done
kill -HUP "$SMIMECAD_PID"
sleep 0.5
openssl ocsp -issuer lab/ca.crt -cert bob.crt -reqout ie.req >/dev/null 2>&1
code=$(curl -s -o ie.der -w '%{http_code}' -H \
    'Content-Type: application/ocsp-request' --data-binary @ie.req "$URL")
run_cmd openssl ocsp -respin ie.der -resp_text
like "$code $out$err" "^500 .*internalerror" \
    "a responder key it cannot read: internalError with HTTP 500"
like "$(cat "$SMIMECAD_LOG")" "OCSP POST /ocsp: .*ocsp-" \
    "... and the log names the key file"
cp keys.bak/* lab/private/
kill -HUP "$SMIMECAD_PID"
sleep 0.5
ocsp -cert bob.crt -CAfile lab/chain.pem
like "$out" "bob.crt: good" "with the key back, answers again"

smimecad_stop
is "$smimecad_rc" 0 "smimecad stopped cleanly (no sanitizer report)"
unlike "$(cat "$SMIMECAD_LOG")" "ERROR: AddressSanitizer|runtime error" \
    "no sanitizer report in the log"
done_testing
