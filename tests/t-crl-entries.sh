#!/bin/sh
# The CRL as rev_crl_generate_der builds it since the CRL scale work
# (bench/README.md, "CRL scale"): entries read from an index in serial
# order, dates written by hand, the tbs encoded once and signed with
# EVP_DigestSign. Checked with Python cryptography (signature, entries,
# dates, reasons, order as integers), openssl crl -verify and asn1parse
# (UTCTime through 2049, GeneralizedTime after), with 2,000 more revoked
# rows written into the store with sqlite3; --der and PEM carry the same
# CRL, the one stored; smimecad serves the stored one while it is current.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/smimecad.sh"

run_ok smimeca -d lab init --name "Lab Issuing CA" || bail_out "init failed"
for u in a b c d; do
	mkcsr $u $u@lab.example
	run_ok -m "issue for $u" smimeca -d lab issue --template \
	    smime-signature --csr $u.csr --out $u.crt || bail_out "issue $u"
	eval "s_$u=\$out"
done
run_ok smimeca -d lab revoke "$s_a" --reason keyCompromise
run_ok smimeca -d lab revoke "$s_b" --reason unspecified
run_ok smimeca -d lab revoke "$s_c" --reason cessationOfOperation
# Revocation dates the boundaries of RFC 5280 4.1.2.5 decide.
sqlite3 lab/smimeca.db "UPDATE certs SET revoked_at = 2524607999
    WHERE serial = '$s_b'; UPDATE certs SET revoked_at = 2524608000
    WHERE serial = '$s_c'" || bail_out "sqlite3 update"
# 2,000 more revoked rows shaped like d's (serials of 4 to 17 bytes,
# so that text order and integer order differ), reasons 0 to 5 in turn.
sqlite3 lab/smimeca.db "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL
    SELECT i + 1 FROM n WHERE i < 2000)
    INSERT INTO certs(serial, issuer_id, request_id, template, subject,
    email, not_before, not_after, revoked, revoked_at, reason, sha1, sha256,
    der) SELECT lower('4' || hex(randomblob(i % 14 + 3)) || '1'),
    issuer_id, NULL, template, subject, 'bulk' || i || '@lab.example',
    not_before, not_after, 1, 1700000000 + i * 3600, i % 6, sha1, sha256,
    der FROM certs, n WHERE serial = '$s_d'" || bail_out "sqlite3 insert"
is "$(sqlite3 lab/smimeca.db 'SELECT COUNT(*) FROM certs WHERE revoked')" \
    2003 "2,003 revoked rows"

run_ok smimeca -d lab crl --der --out lab.der
run_ok smimeca -d lab crl --out lab.pem
crl_verifies "openssl crl -verify: verify OK" lab.pem lab/ca.crt
check "PEM and DER carry the same kind of CRL" sh -c \
    'openssl crl -in lab.pem -outform DER >pem.der'
sqlite3 lab/smimeca.db "SELECT writefile('stored.der', der) FROM crls
    ORDER BY number DESC LIMIT 1" >/dev/null
check "the PEM one is the CRL stored last, byte for byte" \
    cmp pem.der stored.der
py_tap lab.der lab/ca.crt lab/smimeca.db "$s_a" "$s_b" "$s_c" <<'EOF'
import sqlite3
crl, ca = load_crl(sys.argv[1]), load_cert(sys.argv[2])
sa, sb, sc = sys.argv[4:7]
check(crl.is_signature_valid(ca.public_key()), "the CRL signature verifies")
db = sqlite3.connect(sys.argv[3])
rows = db.execute("SELECT serial, revoked_at, reason FROM certs "
                  "WHERE revoked").fetchall()
want = sorted((int(s, 16), t, r) for s, t, r in rows)
NAMES = {1: "key_compromise", 4: "superseded", 5: "cessation_of_operation",
         2: "ca_compromise", 3: "affiliation_changed"}
def reason(e):
    try:
        return e.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
    except x509.ExtensionNotFound:
        return None
got = [(e.serial_number, int(e.revocation_date.replace(
        tzinfo=datetime.timezone.utc).timestamp()), reason(e)) for e in crl]
check(len(got) == 2003, "2,003 entries", len(got))
check([g[0] for g in got] == [w[0] for w in want],
      "entries in ascending serial order, as integers")
check([(g[1]) for g in got] == [w[1] for w in want],
      "each revocation date is the stored one, to the second")
check([g[2] for g in got] == [NAMES.get(w[2]) for w in want],
      "each reason is the stored one (none for unspecified)")
by = {g[0]: g for g in got}
check(by[int(sb, 16)][1] == 2524607999 and by[int(sc, 16)][1] == 2524608000,
      "2049-12-31T23:59:59Z and 2050-01-01T00:00:00Z come back")
EOF
run_ok -m "openssl asn1parse of the CRL" openssl asn1parse -inform DER \
    -in lab.der
like "$out" 'UTCTIME +:491231235959Z' \
    "2049-12-31 23:59:59 is a UTCTime (RFC 5280 4.1.2.5)"
like "$out" 'GENERALIZEDTIME +:20500101000000Z' \
    "2050-01-01 is a GeneralizedTime"
run_ok -m "openssl crl -text" openssl crl -inform DER -in lab.der -noout \
    -text
is "$(printf '%s\n' "$out" | grep -c 'Serial Number:')" 2003 \
    "openssl crl -text lists 2,003 serials"

# smimecad serves the stored CRL while its nextUpdate is ahead.
smimecad_start lab || bail_out "smimecad did not start"
run_ok -m "GET /crl/ca.crl" curl -fsS -o served.der "$HTTP_URL/crl/ca.crl"
check "smimecad serves the stored CRL" cmp served.der stored.der
n1=$(sqlite3 lab/smimeca.db 'SELECT COUNT(*) FROM crls')
sqlite3 lab/smimeca.db 'UPDATE crls SET next_update = 1' ||
    bail_out "sqlite3 update crls"
run_ok -m "GET /crl/ca.crl after nextUpdate" curl -fsS -o fresh.der \
    "$HTTP_URL/crl/ca.crl"
is "$(sqlite3 lab/smimeca.db 'SELECT COUNT(*) FROM crls')" $((n1 + 1)) \
    "a stale CRL makes smimecad sign a new one"
crl_verifies "the new one verifies" fresh.der lab/ca.crt -inform DER
sqlite3 lab/smimeca.db "SELECT writefile('stored2.der', der) FROM crls
    ORDER BY number DESC LIMIT 1" >/dev/null
check "and it is the one served" cmp fresh.der stored2.der
smimecad_stop

done_testing
