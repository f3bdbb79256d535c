#!/bin/sh
# smimeca revoke and crl: checked with openssl crl -verify, openssl verify
# -crl_check and python cryptography.
. "$(dirname "$0")/lib.sh"

run_ok smimeca -d lab init --name "Lab Issuing CA" || bail_out "init failed"
mkcsr alice alice@lab.example
mkcsr bob bob@lab.example
run_ok smimeca -d lab issue --template smime-signature --csr alice.csr \
    --out alice.crt
sa=$out
run_ok smimeca -d lab issue --template smime-signature --csr bob.csr \
    --out bob.crt
sb=$out
like "$sa$sb" '^[0-9a-f]{64}$' "two serials printed"

# A CRL number from openssl crl -crlnumber ("crlNumber=01" or "0x01").
hexnum()
{
	printf '%d' "0x$1" 2>/dev/null || printf 'not a number: %s' "$1"
}

# --- revoke ---
run_ok smimeca -d lab revoke "$sa" --reason keyCompromise
counts=$(db_counts lab)
run_exit 1 -m "revoking again fails" \
    smimeca -d lab revoke "$sa" --reason keyCompromise
ilike "$err" 'already revoked|revoked already' \
    "the message says already revoked"
run_exit 1 -m "revoking an unknown serial fails" \
    smimeca -d lab revoke 0123456789abcdef0123456789abcdef \
    --reason keyCompromise
run_fails -m "revoking with an unknown reason fails" \
    smimeca -d lab revoke "$sb" --reason becauseISaidSo
ilike "$err" 'becauseISaidSo|reason' "the message names the reason"
is "$(db_counts lab)" "$counts" "failed revocations wrote nothing"
is "$(sqlite3 lab/smimeca.db "SELECT revoked FROM certs WHERE \
    serial = '$sb'")" 0 "bob's certificate is still valid"

# --- the first CRL ---
run_ok smimeca -d lab crl --out lab.crl
check "lab.crl is PEM" grep -q -- '-----BEGIN X509 CRL-----' lab.crl
crl_verifies "openssl crl -verify says verify OK" lab.crl lab/ca.crt
run_ok -m "openssl crl -crlnumber" openssl crl -in lab.crl -noout -crlnumber
n1=$(printf '%s\n' "$out" | sed 's/^crlNumber=//; s/^0x//')
is "$(hexnum "$n1")" 1 "the first CRL has number 1"
run_ok -m "openssl crl -text" openssl crl -in lab.crl -noout -text
crltext=$out
sa_up=$(printf '%s' "$sa" | tr 'a-f' 'A-F' | sed 's/^\(00\)*//')
sb_up=$(printf '%s' "$sb" | tr 'a-f' 'A-F' | sed 's/^\(00\)*//')
like "$crltext" "Serial Number: 0*$sa_up" "the revoked serial is listed"
unlike "$crltext" "Serial Number: 0*$sb_up" "the other serial is not"
like "$crltext" 'Key Compromise' "the reason is Key Compromise"

py_tap lab.crl lab/ca.crt "$sa" "$sb" <<'EOF'
crl, ca = load_crl(sys.argv[1]), load_cert(sys.argv[2])
sa, sb = int(sys.argv[3], 16), int(sys.argv[4], 16)
check(crl.is_signature_valid(ca.public_key()), "the CRL signature verifies")
check(crl.issuer == ca.subject, "the CRL issuer is the CA")
r = crl.get_revoked_certificate_by_serial_number(sa)
check(r is not None, "alice's serial is on the CRL")
if r is not None:
    try:
        reason = r.extensions.get_extension_for_class(x509.CRLReason)
        check(reason.value.reason == x509.ReasonFlags.key_compromise,
              "reason keyCompromise", reason.value.reason)
    except x509.ExtensionNotFound:
        check(False, "reason keyCompromise", "no reasonCode")
    now = datetime.datetime.utcnow()
    check(abs((r.revocation_date - now).total_seconds()) < 3600,
          "the revocation date is now", r.revocation_date)
check(crl.get_revoked_certificate_by_serial_number(sb) is None,
      "bob's serial is not on the CRL")
check(len(list(crl)) == 1, "one entry", len(list(crl)))
delta = crl.next_update - crl.last_update
check(delta == datetime.timedelta(days=7),
      "nextUpdate - lastUpdate is 7 days", delta)
check(abs((crl.last_update - datetime.datetime.utcnow()).total_seconds())
      < 3600, "lastUpdate is now", crl.last_update)
aki = crl.extensions.get_extension_for_oid(
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER) if any(
    e.oid == ExtensionOID.AUTHORITY_KEY_IDENTIFIER
    for e in crl.extensions) else None
ski = ext(ca, ExtensionOID.SUBJECT_KEY_IDENTIFIER)
check(aki is not None and ski is not None and
      aki.value.key_identifier == ski.value.digest,
      "the CRL carries the CA's authorityKeyIdentifier")
check(any(e.oid == ExtensionOID.CRL_NUMBER for e in crl.extensions),
      "the CRL carries a CRL number")
EOF

# --- openssl verify -crl_check ---
verify_revoked "openssl verify -crl_check: alice's certificate revoked" \
    alice.crt lab/ca.crt lab.crl
run_ok -m "openssl verify -crl_check accepts the other certificate" \
    openssl verify -crl_check -CRLfile lab.crl -CAfile lab/ca.crt bob.crt

# --- the second CRL: the number increments ---
run_ok smimeca -d lab revoke "$sb" --reason superseded
run_ok smimeca -d lab crl --out lab2.crl
run_ok -m "openssl crl -crlnumber (second CRL)" \
    openssl crl -in lab2.crl -noout -crlnumber
n2=$(printf '%s\n' "$out" | sed 's/^crlNumber=//; s/^0x//')
is "$(hexnum "$n2")" 2 "the second CRL has number 2"
crl_verifies "the second CRL verifies (openssl crl -verify)" lab2.crl \
    lab/ca.crt
run_ok -m "openssl crl -text (second CRL)" \
    openssl crl -in lab2.crl -noout -text
like "$out" 'Superseded' "the second CRL lists bob as Superseded"
verify_revoked "bob is now revoked for openssl verify -crl_check" \
    bob.crt lab/ca.crt lab2.crl
verify_revoked "alice is still revoked on the second CRL" \
    alice.crt lab/ca.crt lab2.crl

# --- DER, and stdout ---
run_ok smimeca -d lab crl --der --out lab3.der
run_ok -m "the --der CRL parses with -inform DER" \
    openssl crl -inform DER -in lab3.der -noout -crlnumber
n3=$(printf '%s\n' "$out" | sed 's/^crlNumber=//; s/^0x//')
is "$(hexnum "$n3")" 3 "the DER CRL has number 3"
crl_verifies "the DER CRL verifies" lab3.der lab/ca.crt -inform DER
run_ok -m "crl without --out writes PEM to stdout" smimeca -d lab crl
printf '%s\n' "$out" >stdout.crl
crl_verifies "the stdout CRL verifies" stdout.crl lab/ca.crt
is "$(sqlite3 lab/smimeca.db 'SELECT count(*) FROM crls')" 4 \
    "four CRLs recorded"

# Every CRL, not only the first, is signed by the CA key.
py_tap lab/ca.crt lab.crl lab2.crl lab3.der stdout.crl <<'EOF'
ca = load_cert(sys.argv[1])
for p in sys.argv[2:]:
    check(load_crl(p).is_signature_valid(ca.public_key()),
          "%s: the signature verifies with the CA key (cryptography)" % p)
EOF

# --- a two-tier CA signs its CRL with the issuing CA ---
run_ok smimeca -d two init --two-tier --key ec:p256
run_ok smimeca -d two issue --template smime-signature --csr alice.csr \
    --out two-alice.crt
run_ok smimeca -d two revoke "$out" --reason affiliationChanged
run_ok smimeca -d two crl --out two.crl
crl_verifies "the two-tier CRL verifies with ca.crt" two.crl two/ca.crt
py_tap two/ca.crt two.crl <<'EOF'
check(load_crl(sys.argv[2]).is_signature_valid(load_cert(sys.argv[1])
      .public_key()), "the two-tier CRL verifies with ca.crt (cryptography)")
EOF
verify_revoked "openssl verify -crl_check (two tiers): certificate revoked" \
    two-alice.crt two/root.crt two.crl -untrusted two/ca.crt

done_testing
