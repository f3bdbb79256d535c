#!/bin/sh
# smimeca tls issue (smimeca(8), README): a new TLS key and certificate for
# the daemon replace the old ones, for the names and addresses given, else
# for the configured ones; serverAuth, 397 days or until the CA ends, a new
# key, audited. A restarted smimecad serves it (curl and openssl s_client).

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/keys.sh"
. "$top_srcdir/tests/smimecad.sh"

# tls_names CERT: its subjectAltName entries, sorted, one line.
tls_names()
{
	openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null |
	    sed 1d | tr ',' '\n' | sed 's/^ *//; s/Address//; s/ //g' |
	    grep . | sort | tr '\n' ' '
}

run_ok smimeca -d lab init --key ec:p256 --name "TLS CA" ||
    bail_out "init failed"
is "$(tls_names lab/tls.crt)" "DNS:localhost IP:127.0.0.1 " \
    "init: the TLS certificate names localhost and 127.0.0.1"
old_fp=$(fp lab/tls.crt sha256)
old_key=$(keyhex lab/private/tls.key)

# --- names given ------------------------------------------------------------
t0=$(date +%s)
run_ok -m "tls issue --name est.lab.example, ca.lab.example --address 127.0.0.2" \
    smimeca -d lab tls issue --name est.lab.example --name ca.lab.example \
    --address 127.0.0.2
is "$(tls_names lab/tls.crt)" \
    "DNS:ca.lab.example DNS:est.lab.example IP:127.0.0.2 " \
    "tls.crt names exactly the names and address given"
isnt "$(fp lab/tls.crt sha256)" "$old_fp" "tls.crt is a new certificate"
isnt "$(keyhex lab/private/tls.key)" "$old_key" "private/tls.key is a new key"
is "$(fmode lab/private/tls.key)" "-rw-------" "private/tls.key is mode 0600"
check "no private/tls.key.new is left behind" test ! -e lab/private/tls.key.new
run_ok -m "openssl verify -purpose sslserver against chain.pem" \
    openssl verify -purpose sslserver -CAfile lab/chain.pem lab/tls.crt
is "$(openssl x509 -in lab/tls.crt -noout -pubkey)" \
    "$(openssl pkey -in lab/private/tls.key -pubout)" \
    "the key and the certificate pair up"
py_tap lab/tls.crt lab/ca.crt "$t0" <<'EOF'
def ts(d):
    return int(d.replace(tzinfo=datetime.timezone.utc).timestamp())
c, ca = load_cert(sys.argv[1]), load_cert(sys.argv[2])
t0 = int(sys.argv[3])
eku = ext(c, ExtensionOID.EXTENDED_KEY_USAGE)
check(eku is not None and list(eku.value) == [ExtendedKeyUsageOID.SERVER_AUTH],
      "extendedKeyUsage is serverAuth alone", eku)
ku = ext(c, ExtensionOID.KEY_USAGE)
check(ku is not None and ku.value.digital_signature and
      ku.value.key_encipherment and not ku.value.key_cert_sign,
      "keyUsage digitalSignature, keyEncipherment", ku)
bc = ext(c, ExtensionOID.BASIC_CONSTRAINTS)
check(bc is None or not bc.value.ca, "not a CA certificate", bc)
check(c.issuer == ca.subject, "issued by the CA")
want = min(ts(c.not_valid_before) + 397 * 86400 + 300, ts(ca.not_valid_after))
check(abs(ts(c.not_valid_after) - want) <= 300 + 60,
      "valid for 397 days (or until the CA ends)",
      "%s .. %s" % (c.not_valid_before, c.not_valid_after))
check(ts(c.not_valid_before) <= t0 + 60, "valid from now",
      c.not_valid_before)
EOF
run_ok smimeca -d lab audit list --json
printf '%s\n' "$out" >audit.json
serial=$(cert_serial lab/tls.crt)
py_tap audit.json "$serial" <<'EOF'
rows = [r for r in json.load(open(sys.argv[1])) if r["action"] == "tls-issue"]
check(len(rows) == 2, "two tls-issue rows (init, tls issue)", rows)
check(len(rows) == 2 and
      rows[-1]["object"].lower().lstrip("0") == sys.argv[2],
      "the last one names the new certificate's serial", rows)
check(len(rows) == 2 and "est.lab.example" in rows[-1]["detail"],
      "it lists the names", rows)
EOF
run_ok -m "audit verify" smimeca -d lab audit verify

# --- a restarted smimecad serves it -------------------------------------------
smimecad_start "$T/lab" || bail_out "smimecad did not start"
code=$(curl -sS -o body -w '%{http_code}' --cacert lab/chain.pem \
    --resolve "est.lab.example:$HTTPS_PORT:127.0.0.1" \
    "https://est.lab.example:$HTTPS_PORT/healthz")
is "$code:$(cat body)" "200:ok" \
    "curl to https://est.lab.example (a name given) verifies and answers"
run_cmd curl -sS -o /dev/null --cacert lab/chain.pem \
    "https://localhost:$HTTPS_PORT/healthz"
isnt "$rc" 0 "curl to https://localhost fails: no longer a name of it"
like "$err" 'localhost|certificate|SSL' "curl says why"
echo | openssl s_client -connect "127.0.0.1:$HTTPS_PORT" \
    -servername est.lab.example -CAfile lab/chain.pem >sclient.out 2>&1
openssl x509 -in sclient.out -outform PEM -out served.crt 2>/dev/null
like "$(fp served.crt sha256)" '^[0-9a-f]{64}$' \
    "openssl s_client: the server presents a certificate"
is "$(fp served.crt sha256)" "$(fp lab/tls.crt sha256)" \
    "openssl s_client: it is the new certificate"
smimecad_stop

# --- no names: the configured ones --------------------------------------------
run_ok -m "tls issue without names" smimeca -d lab tls issue
is "$(tls_names lab/tls.crt)" "DNS:localhost IP:127.0.0.1 " \
    "without names: the configured localhost and 127.0.0.1"
run_ok -m "openssl verify of the second new certificate" \
    openssl verify -purpose sslserver -CAfile lab/chain.pem lab/tls.crt

# --- refusals -------------------------------------------------------------------
counts=$(db_counts lab)
cp lab/tls.crt before.crt
run_fails -m "tls issue --address not-an-ip fails" \
    smimeca -d lab tls issue --address not-an-ip
ilike "$err" 'not-an-ip' "the message names the bad address"
is "$(db_counts lab)" "$counts" "the refusal wrote nothing"
check "tls.crt is unchanged" cmp -s before.crt lab/tls.crt

done_testing
