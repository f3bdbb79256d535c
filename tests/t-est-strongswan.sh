#!/bin/sh
# EST interop with strongSwan's pki tool (5.9.8, Debian 12): pki --estca
# fetches the CA certificate, pki --est enrolls alice against the default
# EST template (smime-signature) with HTTP Basic credentials and renews with
# her certificate (simplereenroll, TLS client authentication); a wrong
# password, no credentials and a template that requires key archival are
# refused, with the server's reason in smimecad's log.
#
# pki --est sends URLPATH/.well-known/est/OP, so it names a template with
# --url https://HOST:PORT/TEMPLATE (smimecad accepts /TEMPLATE/.well-known/
# est/OP); without one, <daemon est-template="..."> decides. It prints
# only the status of a refusal ("EST request failed: HTTP 403"), never the
# body, so the reason is looked up in the server log.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/smimecad.sh"

command -v pki >/dev/null 2>&1 ||
    skip_all "strongSwan pki not installed (Debian: strongswan-pki)"
command -v smimecad >/dev/null 2>&1 ||
    bail_out "smimecad not found in $top_builddir/enroll (build first)"

PASS=alice-pass-8x
# pki never waits for an answer for long, but a hung TLS handshake must not
# hang make check.
PKI_TIMEOUT=60

# pki ARGS...: strongSwan's pki, bounded in time.
pki_run()
{
	timeout "$PKI_TIMEOUT" pki "$@"
}

# pki_to FILE ARGS...: pki with its standard output in FILE.
pki_to()
{
	_pf=$1
	shift
	pki_run "$@" >"$_pf"
}

ncerts()
{
	sqlite3 "$T/lab/smimeca.db" 'SELECT count(*) FROM certs;'
}

# log_has DESC ERE: a line of smimecad's log matches ERE.
log_has()
{
	like "$(cat "$SMIMECAD_LOG")" "$2" "$1"
}

# --- a CA, an account, smimecad -----------------------------------------
run_ok smimeca -d "$T/lab" init --name "Lab CA" --key rsa:2048 ||
    bail_out "smimeca init failed"
printf '%s\n' "$PASS" >pass
run_ok smimeca -d "$T/lab" user add alice@lab.example --cn "Alice" \
    --password-file pass || bail_out "smimeca user add failed"
# pki checks the server's certificate against the address it connects to.
check "the daemon's TLS certificate (openssl x509 -ext subjectAltName)" \
    openssl x509 -in lab/tls.crt -noout -ext subjectAltName
like "$out" 'IP Address:127\.0\.0\.1' \
    "the TLS certificate names IP 127.0.0.1 (pki matches it to the URL)"

smimecad_start "$T/lab" || bail_out "smimecad did not start"

# --- pki --estca: the CA certificate ------------------------------------
run_ok -m "pki --estca fetches the CA certificates" \
    pki_run --estca --url "$HTTPS_URL" --cacert lab/ca.crt \
    --caout estca.pem --outform pem
if [ -f estca.pem ]; then
	is "$(openssl x509 -in estca.pem -noout -fingerprint -sha256)" \
	    "$(openssl x509 -in lab/ca.crt -noout -fingerprint -sha256)" \
	    "pki --estca: the certificate is the CA's (SHA-256 fingerprint)"
else
	not_ok "pki --estca wrote estca.pem" "$(printf '%s\n' "$err" |
	    tail -n 5)"
fi

# --- pki --est: simpleenroll under smime-signature ----------------------
mkcsr alice alice@lab.example
before=$(ncerts)
run_ok -m "pki --est enrolls alice (simpleenroll, Basic credentials)" \
    pki_to alice.crt --est --url "$HTTPS_URL" --in alice.csr \
    --cacert lab/chain.pem --userpass "alice@lab.example:$PASS" \
    --outform pem
like "$err" 'Issued certificate "CN=Alice' \
    "pki: Issued certificate \"CN=Alice, ...\""
check "the certificate verifies against the chain (openssl verify)" \
    openssl verify -CAfile lab/chain.pem -purpose smimesign alice.crt
check "openssl x509 -ext of alice's certificate" \
    openssl x509 -in alice.crt -noout -subject -ext \
    subjectAltName,extendedKeyUsage,keyUsage
like "$out" 'email:alice@lab\.example' \
    "subjectAltName carries alice's mail (email:alice@lab.example)"
like "$out" 'emailAddress *= *alice@lab\.example' \
    "the subject carries alice's mail (emailAddress)"
like "$out" 'E-mail Protection' "extendedKeyUsage emailProtection"
like "$out" 'Non Repudiation' "keyUsage of smime-signature (nonRepudiation)"
is "$(openssl x509 -in alice.crt -noout -pubkey 2>/dev/null)" \
    "$(openssl pkey -in alice.key -pubout 2>/dev/null)" \
    "the certificate holds the public key of alice.csr"
is "$(ncerts)" "$((before + 1))" "one certificate more in the database"
serial=$(cert_serial alice.crt)
is "$(sqlite3 lab/smimeca.db "SELECT template || ' ' || email FROM certs
    WHERE ltrim(lower(serial), '0') = '$serial';")" \
    "smime-signature alice@lab.example" \
    "the database has it under smime-signature for alice@lab.example"
log_has "smimecad logged the enrollment (200 user=alice@lab.example)" \
    'POST /\.well-known/est/simpleenroll 200 .*user=alice@lab\.example'

# DER, pki's default output form.
run_ok -m "pki --est with the default output form (DER)" \
    pki_to alice-der.crt --est --url "$HTTPS_URL" --in alice.csr \
    --cacert lab/ca.crt --userpass "alice@lab.example:$PASS"
check "the DER output is a certificate (openssl x509 -inform DER)" \
    openssl x509 -inform DER -in alice-der.crt -noout -subject
openssl x509 -inform DER -in alice-der.crt -out alice3.crt 2>/dev/null
# smime-signature keeps one active certificate: the older is superseded.
is "$(sqlite3 lab/smimeca.db "SELECT revoked || ' ' || reason FROM certs
    WHERE ltrim(lower(serial), '0') = '$serial';")" "1 4" \
    "the second enrollment revoked the first as superseded (reason 4)"

# --- refusals ------------------------------------------------------------
before=$(ncerts)
run_fails -m "pki --est with a wrong password fails" \
    pki_run --est --url "$HTTPS_URL" --in alice.csr --cacert lab/ca.crt \
    --userpass "alice@lab.example:not-the-password" --outform pem
like "$err" 'HTTP 401' "pki reports HTTP 401"
is "$out" "" "no certificate on stdout"
log_has "smimecad logged the failed authentication" \
    'authentication failed for alice@lab\.example'
log_has "and the 401 with its reason" \
    'simpleenroll 401 .*wrong account or password'

run_fails -m "pki --est without credentials fails" \
    pki_run --est --url "$HTTPS_URL" --in alice.csr --cacert lab/ca.crt \
    --outform pem
like "$err" 'HTTP 401' "pki reports HTTP 401"
log_has "smimecad logged the missing credentials" \
    'simpleenroll 401 .*needs HTTP Basic credentials'
is "$(ncerts)" "$before" "no certificate issued by the refused requests"

# A server that pki cannot authenticate: trusted CA that did not issue it.
openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -subj \
    "/CN=Other CA" -days 2 -out other.crt >/dev/null 2>&1
run_fails -m "pki --est refuses a server its --cacert did not issue" \
    pki_run --est --url "$HTTPS_URL" --in alice.csr --cacert other.crt \
    --userpass "alice@lab.example:$PASS" --outform pem
is "$(ncerts)" "$before" "no certificate issued without a trusted server"

# --- pki --est --cert --key: simplereenroll ------------------------------
old_serial=$(cert_serial alice3.crt)
mkcsr alice2 alice@lab.example
run_ok -m "pki --est --cert --key renews (simplereenroll, TLS client cert)" \
    pki_to alice2.crt --est --url "$HTTPS_URL" --in alice2.csr \
    --cacert lab/chain.pem --cert alice3.crt --key alice.key --outform pem
check "the renewed certificate verifies against the chain" \
    openssl verify -CAfile lab/chain.pem alice2.crt
is "$(openssl x509 -in alice2.crt -noout -pubkey 2>/dev/null)" \
    "$(openssl pkey -in alice2.key -pubout 2>/dev/null)" \
    "the renewed certificate holds the new key"
log_has "smimecad logged the renewal (simplereenroll 200)" \
    'POST /\.well-known/est/simplereenroll 200 .*user=alice@lab\.example'
is "$(sqlite3 lab/smimeca.db "SELECT revoked || ' ' || reason FROM certs
    WHERE ltrim(lower(serial), '0') = '$old_serial';")" "1 4" \
    "the renewed certificate is revoked as superseded (reason 4)"

# --- a template named by the URL's path -----------------------------------
# pki appends /.well-known/est/OP to the URL: /TEMPLATE/.well-known/est/OP.
run_ok -m "pki --est --url .../device-auth names the template" \
    pki_to dev.crt --est --url "$HTTPS_URL/device-auth" --in alice.csr \
    --cacert lab/ca.crt --userpass "alice@lab.example:$PASS" --outform pem
check "the certificate is a device certificate (clientAuth)" \
    sh -c "openssl x509 -in dev.crt -noout -ext extendedKeyUsage |
    grep -q 'TLS Web Client Authentication'"
log_has "smimecad served /device-auth/.well-known/est/simpleenroll" \
    'POST /device-auth/\.well-known/est/simpleenroll 200'
before=$(ncerts)
run_fails -m "pki --est --url .../smime-encryption (archival required)" \
    pki_run --est --url "$HTTPS_URL/smime-encryption" --in alice.csr \
    --cacert lab/ca.crt --userpass "alice@lab.example:$PASS" --outform pem
like "$err" 'HTTP 403' "pki reports HTTP 403"
is "$(ncerts)" "$before" "no certificate issued"

# --- the default template: <daemon est-template> ---------------------------
smimecad_stop
sed 's|</smimeca-config>|  <daemon est-template="smime-encryption"/>\
</smimeca-config>|' lab/smimeca.conf >smimeca.conf.new &&
    cat smimeca.conf.new >lab/smimeca.conf
smimecad_start "$T/lab" || bail_out "smimecad did not restart"
before=$(ncerts)
run_fails -m "pki --est against smime-encryption (archival required) fails" \
    pki_run --est --url "$HTTPS_URL" --in alice.csr --cacert lab/ca.crt \
    --userpass "alice@lab.example:$PASS" --outform pem
like "$err" 'HTTP 403' "pki reports HTTP 403"
is "$out" "" "no certificate on stdout"
log_has "smimecad's log gives the reason (archival is required)" \
    'simpleenroll 403 .*template smime-encryption: key archival is required'
is "$(ncerts)" "$before" "no certificate issued under smime-encryption"

smimecad_stop
is "$smimecad_rc" 0 "smimecad exits 0 on SIGTERM"

done_testing
