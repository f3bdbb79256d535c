#!/bin/sh
# MDM export with the lab directory: `export intune --upn ATTR` takes the
# userPrincipalName from the user's entry in a real slapd (a bare attribute
# name, or text with {dir:ATTR} references), the JSON carries exactly that
# value, and an attribute the entry lacks fails naming it and the user,
# while the other users of --all are still exported.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/slapd.sh"
slapd_require

command -v smimeca-enroll >/dev/null 2>&1 ||
    bail_out "smimeca-enroll not found in $top_builddir/tools (build first)"

lab_init lab || bail_out "init --lab failed"
slapd_start lab || bail_out "the lab slapd did not start"
ok "lab CA and its slapd on port $LDAP_PORT"

awk '$1 == "officer1.p12" { print $2 }' officers/passwords.txt > o1.pass
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out import.key 2>/dev/null
openssl pkey -in import.key -pubout -out import.pub 2>/dev/null
run_ok -m "xchg show" smimeca -d lab xchg show --pem
printf '%s\n' "$out" > xchg.pem

for u in alice bob; do
	run_ok -m "enroll $u with key archival" smimeca-enroll \
	    --out-dir "$u" --email "$u@lab.example" --cn "$u" --archive \
	    --xchg xchg.pem
	run_ok -m "issue $u's encryption certificate" smimeca -d lab issue \
	    --template smime-encryption --archival-request "$u/request.cmc" \
	    --out "$u.crt"
done

# export_upn OUT UPN-SPEC [MAIL]: export intune with --upn.
export_upn()
{
	run_cmd smimeca -d lab export intune --email "${3:-bob@lab.example}" \
	    --import-key import.pub --key-name lab --upn "$2" \
	    --kra-key officers/officer1.p12 --kra-pass-file o1.pass --out "$1"
}

upn_of()
{
	"$PY" -c 'import json,sys
print(",".join(sorted({o["userPrincipalName"] for o in json.load(open(sys.argv[1]))})))' "$1"
}

uid=$(ldapsearch -x -H "$LDAP_URI" -b "$LDAP_PEOPLE" -LLL \
    '(mail=bob@lab.example)' uid | sed -n 's/^uid: //p')
isnt "$uid" "" "bob's entry has a uid ($uid)"

export_upn by-attr uid
is "$rc" 0 "--upn uid exits 0"
is "$(upn_of by-attr/bob@lab.example.json)" "$uid" \
    "a bare attribute name takes the UPN from the entry"

export_upn by-tmpl '{dir:uid}@corp.example'
is "$rc" 0 "--upn with a {dir:uid} template exits 0"
is "$(upn_of by-tmpl/bob@lab.example.json)" "$uid@corp.example" \
    "the template is expanded with the entry's attribute"

export_upn by-cn '{dir:cn}'
cn=$(ldapsearch -x -H "$LDAP_URI" -b "$LDAP_PEOPLE" -LLL \
    '(mail=bob@lab.example)' cn | sed -n 's/^cn: //p')
is "$(upn_of by-cn/bob@lab.example.json)" "$cn" "{dir:cn} is the entry's cn"

export_upn missing employeeType
is "$rc" 1 "an attribute the entry lacks fails"
like "$err" "employeeType" "the message names the attribute"
like "$err" "bob@lab.example" "the message names the user"
check "no file for a failed user" test ! -e missing/bob@lab.example.json

# --all goes on past the user whose entry lacks the attribute.
printf 'dn: uid=%s,%s\nchangetype: modify\nadd: employeeType\nemployeeType: staff\n' \
    "$(ldapsearch -x -H "$LDAP_URI" -b "$LDAP_PEOPLE" -LLL \
    '(mail=alice@lab.example)' uid | sed -n 's/^uid: //p')" "$LDAP_PEOPLE" |
    ldap_admin ldapmodify >/dev/null 2>&1
check "alice's entry has employeeType now" sh -c "ldapsearch -x -H \
    '$LDAP_URI' -b '$LDAP_PEOPLE' -LLL '(mail=alice@lab.example)' \
    employeeType | grep -q '^employeeType: staff'"
run_cmd smimeca -d lab export intune --all --import-key import.pub \
    --key-name lab --upn employeeType --kra-key officers/officer1.p12 \
    --kra-pass-file o1.pass --out all
is "$rc" 1 "--all with one user lacking the attribute exits 1"
all_out=$out
all_err=$err
is "$(upn_of all/alice@lab.example.json 2>/dev/null)" staff \
    "alice, who has it, is exported with it"
check "bob, who lacks it, has no file" test ! -e all/bob@lab.example.json
like "$all_out" "of 1 user to all; 1 user failed" "the summary counts both"
like "$all_err" "bob@lab.example: .*employeeType" \
    "the failure line names bob and the attribute"

done_testing
