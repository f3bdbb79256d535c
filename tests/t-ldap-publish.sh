#!/bin/sh
# Publishing to a real slapd (the lab directory of init --lab): after an
# issuance ldapsearch returns exactly the certificate's DER; revoking
# removes only that value; superseded and expired values are pruned;
# other issuers' values stay; {dir:ATTR} values reach the subject; the CA
# entry gets the CA certificate and the CRL; resync repairs the entry.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/slapd.sh"
slapd_require

lab_init lab --key ec:p256 || bail_out "init --lab failed"

# --- what init --lab wrote ---
for f in slapd.conf base.ldif admin.pass users.txt; do
	check "lab/ldap/$f exists" test -s "lab/ldap/$f"
	is "$(stat -c %a "lab/ldap/$f")" 600 "lab/ldap/$f has mode 0600"
done
is "$(stat -c %a lab/ldap/data)" 700 "lab/ldap/data has mode 0700"
like "$(cat lab/smimeca.conf)" "<server uri=\"ldap://127.0.0.1:$LDAP_PORT/\"" \
    "smimeca.conf points <ldap> at the lab slapd"
unlike "$(cat lab/ldap/slapd.conf lab/ldap/base.ldif)" "$LDAP_ADMIN_PW" \
    "the rootdn password is only hashed in slapd.conf and base.ldif"
like "$(cat lab/ldap/slapd.conf)" '^rootpw \{SSHA\}' "rootpw is {SSHA}"
is "$(grep -c '@lab.example ' lab/ldap/users.txt)" 3 \
    "users.txt lists alice, bob and carol"
like "$(cat "$T/lab_init.out")" 'users.txt' "init names users.txt"
run_ok -m "publish status without jobs" smimeca -d lab publish status
like "$out" 'due: +0' "nothing due yet"

slapd_start lab || bail_out "the lab slapd did not start"
run_ok smimeca -d lab lab slapd status
like "$out" "runs \\(PID [0-9]+\\)" "lab slapd status names the PID"
run_ok -m "ldapsearch finds the three lab users" \
    ldapsearch -x -H "$LDAP_URI" -b "$LDAP_PEOPLE" -LLL '(mail=*)' mail
is "$(printf '%s\n' "$out" | grep -c '^mail: ')" 3 "three entries with mail"
run_ok -m "the CA entry holds the CA certificate from the start" \
    ldapsearch -x -H "$LDAP_URI" -b "$LDAP_SUFFIX" -LLL -tt -T "$T" \
    '(objectClass=pkiCA)' 'cACertificate;binary'

# --- issuance: exactly the DER ---
mkcsr alice alice@lab.example
run_ok smimeca -d lab issue --template smime-signature --csr alice.csr \
    --out alice1.crt
s_alice1=$out
openssl x509 -in alice1.crt -outform DER -out alice1.der
is "$(sqlite3 lab/smimeca.db "SELECT kind || ' ' || state FROM pub_jobs")" \
    "add pending" "issuing wrote one pending add job"
is "$(ldap_values lab alice@lab.example 'userCertificate;binary' v)" 0 \
    "nothing is in the directory before the job runs"
run_ok smimeca -d lab publish run
like "$out" 'published 1 job' "publish run applied one job"
is "$(ldap_values lab alice@lab.example 'userCertificate;binary' v)" 1 \
    "alice's entry has one userCertificate value"
check "the value is exactly the certificate's DER" cmp -s v.1 alice1.der
is "$(sqlite3 lab/smimeca.db "SELECT state FROM pub_jobs")" done \
    "the job is done"
like "$(openssl x509 -in alice1.crt -noout -subject -nameopt RFC2253)" \
    'CN=Alice Example' "the CN comes from the directory entry"

# A retried job publishes once: make it pending again and run it.
sqlite3 lab/smimeca.db "UPDATE pub_jobs SET state = 'pending',
    next_attempt = 0"
run_ok -m "a job run twice" smimeca -d lab publish run
is "$(ldap_values lab alice@lab.example 'userCertificate;binary' v)" 1 \
    "still one value after the job ran again"

# --- other issuers' values stay ---
openssl req -x509 -newkey rsa:2048 -nodes -keyout foreign.key \
    -subj "/CN=Foreign CA user/emailAddress=alice@lab.example" -days 30 \
    -outform DER -out foreign.der 2>/dev/null
printf 'dn: uid=alice,%s\nchangetype: modify\nadd: userCertificate;binary\nuserCertificate;binary:< file://%s/foreign.der\n' \
    "$LDAP_PEOPLE" "$T" >foreign.ldif
run_ok -m "a foreign certificate added to alice's entry by hand" \
    ldap_admin ldapmodify -f foreign.ldif

# --- supersede: the attribute does not grow past the template's limit ---
run_ok smimeca -d lab issue --template smime-signature --csr alice.csr \
    --out alice2.crt
s_alice2=$out
openssl x509 -in alice2.crt -outform DER -out alice2.der
run_ok smimeca -d lab publish run
is "$(sqlite3 lab/smimeca.db "SELECT count(*) FROM pub_jobs WHERE
    state = 'done'")" 3 "the supersede wrote a delete and an add job"
n=$(ldap_values lab alice@lab.example 'userCertificate;binary' v)
is "$n" 2 "two values: the new certificate and the foreign one"
found_new=0 found_old=0 found_foreign=0
i=1
while [ "$i" -le "$n" ]; do
	cmp -s "v.$i" alice2.der && found_new=$((found_new + 1))
	cmp -s "v.$i" alice1.der && found_old=$((found_old + 1))
	cmp -s "v.$i" foreign.der && found_foreign=$((found_foreign + 1))
	i=$((i + 1))
done
is "$found_new" 1 "the new certificate is there once"
is "$found_old" 0 "the superseded one is gone"
is "$found_foreign" 1 "the foreign certificate stays"

# --- a second template: values add up, revoking removes only its own ---
mkcsr alicedual alice@lab.example
run_ok smimeca -d lab issue --template smime-dual --csr alicedual.csr \
    --out alicedual.crt
s_dual=$out
openssl x509 -in alicedual.crt -outform DER -out alicedual.der
run_ok smimeca -d lab publish run
is "$(ldap_values lab alice@lab.example 'userCertificate;binary' v)" 3 \
    "issuing adds a value, never replaces the others"
run_ok smimeca -d lab revoke "$s_dual" --reason keyCompromise
run_ok smimeca -d lab publish run
n=$(ldap_values lab alice@lab.example 'userCertificate;binary' v)
is "$n" 2 "revoking removed one value"
found_dual=0 found_new=0 found_foreign=0
i=1
while [ "$i" -le "$n" ]; do
	cmp -s "v.$i" alicedual.der && found_dual=1
	cmp -s "v.$i" alice2.der && found_new=1
	cmp -s "v.$i" foreign.der && found_foreign=1
	i=$((i + 1))
done
is "$found_dual$found_new$found_foreign" 011 \
    "the revoked value is gone; the other two stay"

# --- expired values are pruned ---
sqlite3 lab/smimeca.db "UPDATE certs SET not_after = strftime('%s','now') - 60
    WHERE serial = '$s_alice2'"
run_ok -m "publish run after a certificate expired" smimeca -d lab publish run
is "$(sqlite3 lab/smimeca.db "SELECT count(*) FROM pub_jobs c JOIN certs x
    ON x.id = c.cert_id WHERE c.kind = 'expire' AND x.serial = '$s_alice2'")" \
    1 "an expire job was written for it"
n=$(ldap_values lab alice@lab.example 'userCertificate;binary' v)
is "$n" 1 "the expired value is gone"
check "what is left is the foreign certificate" cmp -s v.1 foreign.der
run_ok -m "publish run again" smimeca -d lab publish run
is "$(sqlite3 lab/smimeca.db "SELECT count(*) FROM pub_jobs
    WHERE kind = 'expire'")" 1 "the expiry is queued once"

# --- mail addresses compared lower-case ---
mkcsr carol ""
run_ok smimeca -d lab issue --template smime-signature --csr carol.csr \
    --email Carol@LAB.Example --out carol.crt
openssl x509 -in carol.crt -outform DER -out carol.der
run_ok smimeca -d lab publish run
is "$(ldap_values lab carol@lab.example 'userCertificate;binary' v)" 1 \
    "Carol@LAB.Example is published to carol@lab.example"
check "carol's value is her certificate" cmp -s v.1 carol.der

# --- {dir:ATTR} from the directory in the subject ---
sed -e 's/name="smime-signature"/name="smime-dir"/' \
    -e 's|<rdn type="CN" value="{dir:cn}" required="true"/>|<rdn type="CN" value="{dir:cn}" required="true"/>\
    <rdn type="OU" value="{dir:ou}" required="true"/>\
    <rdn type="serialNumber" value="{dir:employeeNumber}" required="true"/>\
    <rdn type="UID" value="{dir:uid}" required="true"/>|' \
    lab/templates/smime-signature.xml >lab/templates/smime-dir.xml
run_ok smimeca -d lab template check lab/templates/smime-dir.xml
mkcsr bob bob@lab.example
run_ok smimeca -d lab issue --template smime-dir --csr bob.csr \
    --out bobdir.crt
subj=$(openssl x509 -in bobdir.crt -noout -subject -nameopt RFC2253)
like "$subj" 'OU=Sales' "{dir:ou} is bob's ou from the directory"
like "$subj" 'serialNumber=1002' "{dir:employeeNumber} is bob's"
like "$subj" 'UID=bob' "{dir:uid} is bob's uid"
like "$subj" 'CN=Bob Example' "{dir:cn} is bob's cn"
mkcsr zed zed@lab.example
run_exit 1 -m "smime-dir refuses an address without a directory entry" \
    smimeca -d lab issue --template smime-dir --csr zed.csr --out zed.crt
like "$err" 'zed@lab.example has no directory entry' \
    "the CLI says the address is not in the directory"
like "$err" '\{dir:ou\}' "the refusal names the missing {dir:ou}"

# --- a user without an entry: failed, then retried once it exists ---
run_ok smimeca -d lab issue --template smime-signature --csr zed.csr \
    --out zed.crt
openssl x509 -in zed.crt -outform DER -out zed.der
run_exit 1 -m "publish run fails for an address without an entry" \
    smimeca -d lab publish run
like "$err" 'no entry under' "the error says there is no entry"
run_ok smimeca -d lab publish status --json
is "$(printf '%s' "$out" | $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["failed"], d["oldest"]["object"], d["oldest"]["state"])')" \
    "1 zed@lab.example failed" "status --json: one failed job, zed's"
run_ok -m "publish run leaves a failed job alone" smimeca -d lab publish run
run_ok -m "zed is added to the directory" ldap_add_user lab zed
run_ok smimeca -d lab publish retry --email zed@lab.example
like "$out" '^1 job' "retry makes zed's job due"
run_ok smimeca -d lab publish run
is "$(ldap_values lab zed@lab.example 'userCertificate;binary' v)" 1 \
    "zed's certificate is published after the retry"
check "zed's value is his certificate" cmp -s v.1 zed.der

# --- the CA entry: CA certificate and CRL ---
run_ok smimeca -d lab crl --der --out ca.crl
run_ok smimeca -d lab publish run
cadn="cn=smimeca Lab CA,$LDAP_SUFFIX"
mkdir ca_vals
run_ok -m "ldapsearch the CA entry" ldapsearch -x -H "$LDAP_URI" -b "$cadn" \
    -s base -LLL -o ldif-wrap=no -tt -T "$T/ca_vals" '(objectClass=*)' \
    'cACertificate;binary' 'certificateRevocationList;binary'
crlf=$(printf '%s\n' "$out" | sed -n 's|^certificateRevocationList;binary:< file://||p')
caf=$(printf '%s\n' "$out" | sed -n 's|^cACertificate;binary:< file://||p')
openssl x509 -in lab/ca.crt -outform DER -out ca.der
check "certificateRevocationList;binary is the CRL" cmp -s "$crlf" ca.crl
crl_verifies "the published CRL verifies with the CA (openssl crl)" \
    ca.crl lab/ca.crt -inform DER
check "cACertificate;binary is the CA certificate" cmp -s "$caf" ca.der
is "$(printf '%s\n' "$caf" | grep -c .)" 1 "one CA certificate value"

# --- resync: the directory repaired from the database ---
printf 'dn: uid=carol,%s\nchangetype: modify\ndelete: userCertificate;binary\n\n' \
    "$LDAP_PEOPLE" >wipe.ldif
run_ok -m "carol's certificates removed by hand" \
    ldap_admin ldapmodify -f wipe.ldif
printf 'dn: uid=bob,%s\nchangetype: modify\nadd: userCertificate;binary\nuserCertificate;binary:< file://%s/alice1.der\n' \
    "$LDAP_PEOPLE" "$T" >stray.ldif
run_ok -m "alice's old certificate put into bob's entry by hand" \
    ldap_admin ldapmodify -f stray.ldif
run_ok smimeca -d lab publish resync --dry-run --json
is "$(printf '%s' "$out" | $PY -c 'import json,sys
d = {e["who"]: (e["added"], e["deleted"]) for e in json.load(sys.stdin)}
print(d.get("carol@lab.example"), d.get("bob@lab.example"))')" \
    "(1, 0) (0, 1)" "resync --dry-run: carol +1, bob -1"
is "$(ldap_values lab carol@lab.example 'userCertificate;binary' v)" 0 \
    "--dry-run changed nothing"
run_ok smimeca -d lab publish resync --email carol@lab.example
like "$out" 'carol@lab.example uid=carol.*1 added, 0 removed' \
    "resync --email carol adds her certificate back"
is "$(ldap_values lab carol@lab.example 'userCertificate;binary' v)" 1 \
    "carol has one value again"
check "carol's value is her certificate" cmp -s v.1 carol.der
run_ok smimeca -d lab publish resync
like "$out" 'bob@lab.example uid=bob.*0 added, 1 removed' \
    "resync takes alice's stray certificate out of bob's entry"
openssl x509 -in bobdir.crt -outform DER -out bobdir.der
is "$(ldap_values lab bob@lab.example 'userCertificate;binary' v)" 1 \
    "bob has one value"
check "bob's value is his own certificate" cmp -s v.1 bobdir.der
run_ok smimeca -d lab publish resync --dry-run --json
is "$(printf '%s' "$out" | $PY -c 'import json,sys
print(sum(e["added"] + e["deleted"] for e in json.load(sys.stdin)
    if e["who"] != "CA entry"))')" 0 "a second resync has nothing to do"
is "$(ldap_values lab alice@lab.example 'userCertificate;binary' v)" 1 \
    "resync left alice's foreign certificate alone"
check "alice's remaining value is the foreign one" cmp -s v.1 foreign.der

run_ok smimeca -d lab publish status
like "$out" 'due: +0' "status: nothing due"
like "$out" 'failed: +0' "status: nothing failed"

# --- userSMIMECertificate as well ---
sed 's|<attributes certificate="userCertificate;binary"/>|<attributes certificate="userCertificate;binary" smime="userSMIMECertificate"/>|' \
    lab/smimeca.conf >conf.new && cat conf.new >lab/smimeca.conf
like "$(cat lab/smimeca.conf)" 'smime="userSMIMECertificate"' \
    "userSMIMECertificate turned on"
openssl x509 -inform DER -in foreign.der -out foreign.pem
openssl crl2pkcs7 -nocrl -certfile foreign.pem -outform DER \
    -out foreign.p7 2>/dev/null
printf 'dn: uid=carol,%s\nchangetype: modify\nadd: userSMIMECertificate\nuserSMIMECertificate:< file://%s/foreign.p7\n' \
    "$LDAP_PEOPLE" "$T" >fsmime.ldif
run_ok -m "a foreign userSMIMECertificate for carol, by hand" \
    ldap_admin ldapmodify -f fsmime.ldif
run_ok smimeca -d lab publish resync --email carol@lab.example
like "$out" '1 added, 0 removed' "resync adds carol's userSMIMECertificate"
n=$(ldap_values lab carol@lab.example userSMIMECertificate s)
is "$n" 2 "carol has two userSMIMECertificate values"
mine=0 foreign=0
i=1
while [ "$i" -le "$n" ]; do
	if cmp -s "s.$i" foreign.p7; then
		foreign=1
	elif openssl pkcs7 -inform DER -in "s.$i" -print_certs 2>/dev/null |
	    openssl x509 -outform DER -out "s.$i.der" 2>/dev/null &&
	    cmp -s "s.$i.der" carol.der; then
		mine=1
	fi
	i=$((i + 1))
done
is "$foreign$mine" 11 \
    "the foreign PKCS#7 stays; ours is a PKCS#7 with carol's certificate"
run_ok smimeca -d lab publish resync --email carol@lab.example --json
is "$(printf '%s' "$out" | $PY -c 'import json,sys
print(sum(e["added"] + e["deleted"] for e in json.load(sys.stdin)))')" 0 \
    "a second resync of carol changes nothing"
s_carol=$(cert_serial carol.crt)
run_ok smimeca -d lab revoke "$s_carol" --reason affiliationChanged
run_ok smimeca -d lab publish run
is "$(ldap_values lab carol@lab.example userSMIMECertificate s)" 1 \
    "revoking leaves one userSMIMECertificate value"
check "the one left is the foreign one" cmp -s s.1 foreign.p7
is "$(ldap_values lab carol@lab.example 'userCertificate;binary' v)" 0 \
    "and carol's userCertificate is empty"

# --- the audit log is intact through all of this ---
run_ok smimeca -d lab audit verify

run_ok smimeca -d lab lab slapd stop
run_exit 1 -m "lab slapd status after stop" smimeca -d lab lab slapd status

done_testing
