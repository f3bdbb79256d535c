#!/bin/sh
# A client's bad key over fullcmc (curl): a request whose public key cannot
# be decoded gets 400 naming the public key, not 500, and the log says
# nothing of memory; an archival request with an RSA-8192 key against a
# template that allows 2048-3072 bits gets 403 naming both, before any
# private-key work (smimecad_key_pair_checks_total does not move, while a
# good request moves it by one).
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/smimecad.sh"

command -v smimeca-enroll >/dev/null 2>&1 ||
    bail_out "smimeca-enroll not found in $top_builddir/tools (build first)"
command -v curl >/dev/null 2>&1 || skip_all "curl is not installed"

EST=/.well-known/est
CMCREQ='Content-Type: application/pkcs7-mime; smime-type=CMC-request'
ALICE="alice@lab.example:alice-secret-1"

ncerts()
{
	sqlite3 "$T/lab/smimeca.db" 'SELECT count(*) FROM certs;'
}

# post TEMPLATE FILE: fullcmc; sets code and body.
post()
{
	code=$(est_curl -o "$T/body" -w '%{http_code}' -u "$ALICE" \
	    -H "$CMCREQ" --data-binary @"$2" "$HTTPS_URL$EST/$1/fullcmc")
	body=$(cat "$T/body")
}

pair_checks()
{
	curl -fsS "$HTTP_URL/metrics" |
	    awk '$1 == "smimecad_key_pair_checks_total" { print $2 }'
}

run_ok smimeca -d "$T/lab" init --lab --no-ldap --key rsa:2048 ||
    bail_out "smimeca init --lab failed"
printf 'alice-secret-1\n' >alice.pw
run_ok smimeca -d lab user add alice@lab.example --password-file alice.pw
sed -e 's/name="smime-encryption"/name="smime-enc-3072"/' \
    -e 's/max-bits="[0-9]*"/max-bits="3072"/' \
    lab/templates/smime-encryption.xml >lab/templates/smime-enc-3072.xml
like "$(grep '<rsa ' lab/templates/smime-enc-3072.xml)" \
    'min-bits="2048" max-bits="3072"' "smime-enc-3072 allows RSA 2048-3072"
smimecad_start "$T/lab" || bail_out "smimecad did not start"
curl -fsS -o xchg.pem "$HTTP_URL/ca/exchange?format=pem" ||
    bail_out "GET /ca/exchange"
is "$(pair_checks)" 0 "no pairwise check has run yet"

# --- a public key that cannot be decoded ------------------------------------
run_ok -m "smimeca-enroll makes a Windows-layout archival request" \
    smimeca-enroll --out-dir good --email alice@lab.example --cn Alice \
    --archive --xchg xchg.pem --format cmc
# The RSAPublicKey inside the request's BIT STRING becomes a SET: the DER
# around it stays well-formed, the key does not decode.
py_tap <<'PY'
import base64, re
raw = open("good/request.cmc", "rb").read()
if raw[:1] != b"\x30":
    raw = base64.b64decode(re.sub(rb"-----[^-]+-----", b"", raw))
spki = b"\x03\x82\x01\x0f\x00\x30\x82\x01\x0a\x02\x82\x01\x01"
check(raw.count(spki) == 1, "one RSA-2048 SubjectPublicKeyInfo in the request",
      raw.count(spki))
i = raw.find(spki) + 5
bad = raw[:i] + b"\x31" + raw[i + 1:]
open("badkey.b64", "wb").write(base64.b64encode(bad))
PY
before=$(ncerts)
post smime-encryption badkey.b64
is "$code" 400 "a malformed public key: 400, not 500"
ilike "$body" "public key" "the reason names the public key: $body"
unlike "$body" "internal error" "it is not called an internal error"
is "$(ncerts)" "$before" "no certificate added"
unlike "$(cat "$SMIMECAD_LOG")" "out of memory" \
    "the log does not say out of memory"

# --- a key far outside the template's policy --------------------------------
cp "$top_srcdir/tests/data/rsa8192.key" big.key
chmod 600 big.key
run_ok -m "an archival request for an RSA-8192 key (smimeca-enroll --key)" \
    smimeca-enroll --out-dir big --email alice@lab.example --cn Alice \
    --archive --xchg xchg.pem --format cmc --key big.key
like "$(openssl req -in big/request.csr -noout -text)" \
    "Public-Key: \\(8192 bit\\)" "the request's key is RSA-8192 (openssl req)"
before=$(ncerts)
post smime-enc-3072 big/request.cmc
is "$code" 403 "RSA-8192 against RSA 2048-3072: 403"
like "$body" "rsa:8192" "the reason names the key size: $body"
like "$body" "2048-3072" "and the sizes allowed"
is "$(ncerts)" "$before" "no certificate added"
is "$(pair_checks)" 0 "no private-key check ran (metrics)"

# The counter counts: a good request runs exactly one pairwise check.
post smime-enc-3072 good/request.cmc
is "$code" 200 "the good request is issued under smime-enc-3072"
is "$(pair_checks)" 1 "its key was checked once (metrics)"

done_testing
