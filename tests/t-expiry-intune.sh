#!/bin/sh
# `smimeca export intune --expiring DAYS` (issue 14, lifecycle): certificates
# imported through Intune do not renew themselves, so the administrator
# exports the users whose encryption certificate expires within DAYS and
# who already have a newer one (renewal supersedes the older, which Intune
# still holds), and gets the others listed: on stderr and in
# OUT/not-renewed.txt. Checked with Python's json and the thumbprints
# openssl computes of the issued certificates.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/keys.sh"

command -v smimeca-enroll >/dev/null 2>&1 ||
    bail_out "smimeca-enroll not found in $top_builddir/tools (build first)"

run_ok smimeca -d "$T/lab" init --lab --key rsa:2048 --no-ldap ||
    bail_out "smimeca init --lab failed"
officer_pw 1 >kp1
[ -s kp1 ] || bail_out "no password for officer1.p12 in passwords.txt"
run_ok smimeca -d lab xchg show --pem || bail_out "no exchange certificate"
printf '%s\n' "$out" >xchg.pem

# enc-short: smime-encryption living 10 days (then 100, for renewals); its
# <active-limit on-limit="supersede"/> stays.
sed -e 's/name="smime-encryption"/name="enc-short"/' \
    -e 's|<validity days="365"/>|<validity days="10"/>|' \
    lab/templates/smime-encryption.xml >lab/templates/enc-short.xml
grep -q 'supersede' lab/templates/enc-short.xml ||
    bail_out "enc-short.xml: smime-encryption has no supersede any more"

# enroll_short DIR MAIL CN: an archival enrollment with enc-short.
enroll_short()
{
	run_ok -m "smimeca-enroll --archive for $2 ($1)" \
	    smimeca-enroll --out-dir "$1" --email "$2" --cn "$3" --archive \
	    --xchg xchg.pem || bail_out "smimeca-enroll for $2"
	run_ok -m "issue enc-short for $2 ($1)" \
	    smimeca -d lab issue --template enc-short \
	    --archival-request "$1/request.cmc" --out "$1.crt" ||
	    bail_out "issue for $2"
	serial=$out
}

enroll_short alice1 alice@lab.example Alice; s_a1=$serial
enroll_short bob1 bob@lab.example Bob; s_b1=$serial
sed -i 's|<validity days="10"/>|<validity days="100"/>|' \
    lab/templates/enc-short.xml
enroll_short alice2 alice@lab.example Alice; s_a2=$serial
enroll_short carol1 carol@lab.example Carol; s_c1=$serial
# A signing certificate of bob's that expires is none of Intune's business.
mkcsr bobsig bob@lab.example
run_ok -m "bob's signing certificate" smimeca -d lab issue \
    --template smime-signature --csr bobsig.csr --out bobsig.crt

run_ok smimeca -d lab cert list --json
printf '%s\n' "$out" >certs.json
is "$(python3 -c 'import json,sys; c={x["serial"]: x["status"] for x in
json.load(open(sys.argv[1]))}; print(c[sys.argv[2]], c[sys.argv[3]])' \
    certs.json "$s_a1" "$s_a2")" "revoked valid" \
    "alice's renewal superseded her first certificate"

check "openssl genpkey: the import key" openssl genpkey -algorithm RSA \
    -pkeyopt rsa_keygen_bits:2048 -out import.key
check "openssl pkey -pubout" openssl pkey -in import.key -pubout \
    -out import.pub

run_ok -m "export intune --expiring 30" smimeca -d lab export intune \
    --expiring 30 --import-key import.pub --key-name SmimecaImportKey \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 --out out
like "$out" '^exported 2 certificates of 1 user to out; 0 users failed$' \
    "stdout: two certificates of one user"
like "$out" '^1 user not renewed \(see out/not-renewed\.txt\)$' \
    "stdout: one user not renewed"
like "$err" "export: bob@lab\\.example: not renewed: encryption \
certificate $s_b1 expires [0-9-]{10} and there is no newer one" \
    "stderr names bob, his certificate and what to do"
unlike "$err" 'alice|carol' "and nobody else"
is "$(cat out/not-renewed.txt)" "bob@lab.example" \
    "out/not-renewed.txt lists bob, one address a line"
is "$(ls out | sort | tr '\n' ' ')" "alice@lab.example.json not-renewed.txt " \
    "only alice is exported (not bob, not carol)"
a1=$(openssl x509 -in alice1.crt -noout -fingerprint -sha1 | sed 's/.*=//;
    s/://g' | tr 'A-F' 'a-f')
a2=$(openssl x509 -in alice2.crt -noout -fingerprint -sha1 | sed 's/.*=//;
    s/://g' | tr 'A-F' 'a-f')
py_tap out/alice@lab.example.json "$a1" "$a2" <<'EOF'
objs = json.load(open(sys.argv[1]))
got = [o.get("thumbprint") for o in objs]
check(got == sys.argv[2:4], "alice's file holds her old and her new "
      "certificate, oldest first (thumbprints by openssl)", got)
check(all(o.get("@odata.type") == "#microsoft.graph.userPFXCertificate"
          for o in objs), "as userPFXCertificate objects")
EOF

# The list feeds --from once bob has renewed.
enroll_short bob2 bob@lab.example Bob; s_b2=$serial
rm -rf out2
run_ok -m "export intune --expiring 30 after bob renewed" \
    smimeca -d lab export intune --expiring 30 --import-key import.pub \
    --key-name SmimecaImportKey --kra-key officers/officer1.p12 \
    --kra-pass-file kp1 --out out2
like "$out" '^exported 4 certificates of 2 users to out2; 0 users failed$' \
    "now alice and bob, two certificates each"
like "$out" '^0 users not renewed' "nobody left to renew"
is "$(cat out2/not-renewed.txt)" "" "out2/not-renewed.txt is empty"

# Nothing to export: a window before anything expires.
rm -rf out3
run_ok -m "export intune --expiring 5: nothing expires" \
    smimeca -d lab export intune --expiring 5 --import-key import.pub \
    --key-name SmimecaImportKey --kra-key officers/officer1.p12 \
    --kra-pass-file kp1 --out out3
like "$out" 'nothing to export; 0 not renewed' "it says so"
run_exit 2 -m "--expiring with --all is a usage error" \
    smimeca -d lab export intune --expiring 30 --all --import-key import.pub \
    --key-name K --kra-key officers/officer1.p12 --kra-pass-file kp1 \
    --out out4
run_exit 2 -m "--expiring x is a usage error" \
    smimeca -d lab export intune --expiring x --import-key import.pub \
    --key-name K --kra-key officers/officer1.p12 --kra-pass-file kp1 \
    --out out4
like "$err" '--expiring x' "the message names the option"

done_testing
