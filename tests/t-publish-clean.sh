#!/bin/sh
# publish clean and the Active Directory checks, against the lab slapd:
# values of other issuers (a certificate made with openssl, as Outlook
# would publish one) stay through publish run and resync and go only with
# publish clean, which --dry-run leaves alone and which audits each
# removal; our values stay byte for byte (ldapsearch reads them). With
# certificate="userCertificate" publish status and dir check name the
# entries without mailNickname, and only those. Values no certificate
# decodes from are named and kept, never taken for foreign ones. The
# mailNickname check pages its search (RFC 2696): under a slapd size limit
# of 5 it still names all 12 entries, in pages of 500 and of 4.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/slapd.sh"
slapd_require

lab_init lab --key ec:p256 || bail_out "init --lab failed"
sed -i 's|<attributes certificate="userCertificate;binary"/>|<attributes certificate="userCertificate;binary" smime="userSMIMECertificate"/>|' \
    lab/smimeca.conf
like "$(cat lab/smimeca.conf)" 'smime="userSMIMECertificate"' \
    "smimeca.conf keeps userSMIMECertificate too"
slapd_start lab || bail_out "the lab slapd did not start"
ALICE_DN=uid=alice,$LDAP_PEOPLE
BOB_DN=uid=bob,$LDAP_PEOPLE

# --- ours and a foreign value, side by side ---
mkcsr alice alice@lab.example
run_ok smimeca -d lab issue --template smime-signature --csr alice.csr \
    --out alice.crt
openssl x509 -in alice.crt -outform DER -out alice.der
run_ok smimeca -d lab publish run
is "$(ldap_values lab alice@lab.example 'userCertificate;binary' ours)" 1 \
    "alice's entry holds our certificate"
check "it is ours, byte for byte" cmp -s ours.1 alice.der
is "$(ldap_values lab alice@lab.example userSMIMECertificate ourp7)" 1 \
    "alice's entry holds our userSMIMECertificate value"

mk_foreign()
{
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" \
	    -subj "/O=Outlook Self-Signed/CN=$2" -days 30 -out "$1.pem" \
	    2>/dev/null &&
	openssl x509 -in "$1.pem" -outform DER -out "$1.der" &&
	openssl crl2pkcs7 -nocrl -certfile "$1.pem" -outform DER \
	    -out "$1.p7" 2>/dev/null
}
mk_foreign foreign alice@lab.example || bail_out "openssl made no foreign cert"
mk_foreign foreign2 bob@lab.example || bail_out "openssl made no foreign cert"
foreign_sha1=$(openssl x509 -in foreign.pem -noout -fingerprint -sha1 |
    sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')
foreign_serial=$(cert_serial foreign.pem)
# userSMIMECertificate has no equality rule: values are only replaced.
printf 'dn: %s\nchangetype: modify\nadd: userCertificate;binary\nuserCertificate;binary:< file://%s/foreign.der\n-\nreplace: userSMIMECertificate\nuserSMIMECertificate:< file://%s/ourp7.1\nuserSMIMECertificate:< file://%s/foreign.p7\n\ndn: %s\nchangetype: modify\nadd: userCertificate;binary\nuserCertificate;binary:< file://%s/foreign2.der\n' \
    "$ALICE_DN" "$T" "$T" "$T" "$BOB_DN" "$T" >foreign.ldif
run_ok -m "ldapmodify puts foreign values next to ours" \
    ldap_admin ldapmodify -f foreign.ldif

# --- publishing never removes them ---
sqlite3 lab/smimeca.db "UPDATE pub_jobs SET state = 'pending',
    next_attempt = 0"
run_ok -m "publish run with the foreign values there" \
    smimeca -d lab publish run
run_ok -m "publish resync with the foreign values there" \
    smimeca -d lab publish resync
is "$(ldap_values lab alice@lab.example 'userCertificate;binary' v)" 2 \
    "publish run and resync leave the foreign userCertificate"
check "... which is still the foreign one" sh -c \
    'cmp -s v.1 foreign.der || cmp -s v.2 foreign.der'
is "$(ldap_values lab alice@lab.example userSMIMECertificate p)" 2 \
    "publish run and resync leave the foreign userSMIMECertificate"
is "$(ldap_values lab bob@lab.example 'userCertificate;binary' b)" 1 \
    "bob keeps his foreign value too"

# --- usage ---
run_exit 2 -m "clean needs --email or --all" \
    smimeca -d lab publish clean --attribute userCertificate
run_exit 2 -m "clean takes --email or --all, not both" \
    smimeca -d lab publish clean --attribute userCertificate --all \
    --email alice@lab.example
run_exit 2 -m "clean needs --attribute" \
    smimeca -d lab publish clean --email alice@lab.example
run_exit 2 -m "clean refuses other attributes" \
    smimeca -d lab publish clean --attribute mail --email alice@lab.example
like "$err" 'userCertificate or userSMIMECertificate' \
    "... and names the two it takes"

# --- dry run: listed, not removed ---
audit_before=$(sqlite3 lab/smimeca.db 'SELECT count(*) FROM audit')
run_ok smimeca -d lab publish clean --attribute userCertificate \
    --email alice@lab.example --dry-run
like "$out" "would remove $ALICE_DN" "--dry-run names the entry"
ilike "$out" "sha1 $foreign_sha1" "--dry-run names the foreign SHA-1"
like "$out" "Outlook Self-Signed" "--dry-run names the foreign issuer"
unlike "$out" "$(cert_serial alice.crt)" "--dry-run does not list ours"
is "$(ldap_values lab alice@lab.example 'userCertificate;binary' v)" 2 \
    "ldapsearch: --dry-run removed nothing"
is "$(sqlite3 lab/smimeca.db 'SELECT count(*) FROM audit')" \
    "$audit_before" "--dry-run writes no audit row"

# --- clean --email: only the foreign value goes ---
run_ok smimeca -d lab publish clean --attribute userCertificate \
    --email alice@lab.example
like "$out" "^removed $ALICE_DN" "clean says what it removed"
is "$(ldap_values lab alice@lab.example 'userCertificate;binary' v)" 1 \
    "ldapsearch: one userCertificate value left"
check "the one left is ours, byte for byte" cmp -s v.1 alice.der
is "$(ldap_values lab alice@lab.example userSMIMECertificate p)" 2 \
    "cleaning userCertificate leaves userSMIMECertificate alone"
is "$(ldap_values lab bob@lab.example 'userCertificate;binary' b)" 1 \
    "cleaning alice's entry leaves bob's alone"
run_ok smimeca -d lab audit list --json
py_tap "$out" "$ALICE_DN" "$foreign_sha1" "$foreign_serial" <<'EOF'
import json, sys
rows = [r for r in json.loads(sys.argv[1])
        if r.get("action") == "publish-clean"]
check(len(rows) == 1, "audit list: one publish-clean row", rows)
r = rows[0] if rows else {}
check(r.get("object") == sys.argv[2], "the row names the DN", r)
d = r.get("detail", "").lower()
check("sha1=" + sys.argv[3] in d, "the row has the SHA-1", d)
check(("serial=" + sys.argv[4]) in d.replace("serial=0", "serial="),
      "the row has the serial", d)
check("outlook self-signed" in d, "the row has the issuer", d)
check("attribute=usercertificate;binary" in d, "the row has the attribute", d)
EOF
run_ok -m "the audit chain still verifies" smimeca -d lab audit verify
run_ok -m "clean again: nothing left to remove" \
    smimeca -d lab publish clean --attribute userCertificate \
    --email alice@lab.example
like "$out" 'no values of other issuers' "a second clean finds nothing"

# --- userSMIMECertificate: rewritten whole, ours kept byte for byte ---
run_ok smimeca -d lab publish clean --attribute userSMIMECertificate \
    --email alice@lab.example --dry-run
like "$out" "would remove $ALICE_DN: userSMIMECertificate" \
    "--dry-run lists the foreign PKCS#7 value"
is "$(ldap_values lab alice@lab.example userSMIMECertificate p)" 2 \
    "ldapsearch: --dry-run kept both PKCS#7 values"
run_ok smimeca -d lab publish clean --attribute userSMIMECertificate \
    --email alice@lab.example
is "$(ldap_values lab alice@lab.example userSMIMECertificate p)" 1 \
    "ldapsearch: one userSMIMECertificate value left"
check "the one left is ours, byte for byte" cmp -s p.1 ourp7.1
is "$(sqlite3 lab/smimeca.db "SELECT count(*) FROM audit
    WHERE action = 'publish-clean'")" 2 "the S/MIME removal is audited"

# --- --all ---
run_ok smimeca -d lab publish clean --attribute userCertificate --all \
    --json
py_tap "$out" "$BOB_DN" <<'EOF'
import json, sys
items = json.loads(sys.argv[1])
check(len(items) == 1, "--all --json: one value removed", items)
check(items and items[0]["dn"] == sys.argv[2] and items[0]["removed"],
      "... bob's", items)
EOF
is "$(ldap_values lab bob@lab.example 'userCertificate;binary' b)" 0 \
    "ldapsearch: bob's foreign value is gone"
is "$(ldap_values lab alice@lab.example 'userCertificate;binary' v)" 1 \
    "ldapsearch: alice keeps ours"

# --- undecodable values: named and kept, never taken for foreign ones ---
# OpenLDAP checks the outline of a userCertificate value, not what is in
# it: a certificate's shape with nothing inside gets in (AD checks none).
printf '\060\024\060\015\002\001\000\060\000\060\000\060\000\060\000\060\000\060\000\003\001\000' \
    >shape.der
head -c 301 /dev/urandom >junk.bin
shape_sha1=$(openssl dgst -sha1 -r shape.der | cut -c1-40)
junk_sha1=$(openssl dgst -sha1 -r junk.bin | cut -c1-40)
run_fails -m "openssl x509 cannot read the shape as a certificate" \
    openssl x509 -inform DER -in shape.der -noout
run_fails -m "openssl pkcs7 cannot read the random bytes" \
    openssl pkcs7 -inform DER -in junk.bin -noout
printf 'dn: %s\nchangetype: modify\nadd: userCertificate;binary\nuserCertificate;binary:< file://%s/shape.der\nuserCertificate;binary:< file://%s/foreign.der\n-\nreplace: userSMIMECertificate\nuserSMIMECertificate:< file://%s/ourp7.1\nuserSMIMECertificate:< file://%s/junk.bin\nuserSMIMECertificate:< file://%s/foreign.p7\n' \
    "$ALICE_DN" "$T" "$T" "$T" "$T" "$T" >junk.ldif
run_ok -m "ldapmodify puts undecodable values next to ours and a foreign one" \
    ldap_admin ldapmodify -f junk.ldif
is "$(ldap_values lab alice@lab.example 'userCertificate;binary' j)" 3 \
    "ldapsearch: alice has ours, the shape and a foreign userCertificate"
audit_before=$(sqlite3 lab/smimeca.db "SELECT count(*) FROM audit
    WHERE action = 'publish-clean'")
run_ok smimeca -d lab publish clean --attribute userCertificate \
    --email alice@lab.example --dry-run
like "$out" "^kept $ALICE_DN: userCertificate;binary value sha1 $shape_sha1 \(22 bytes\)" \
    "--dry-run names the undecodable value and keeps it"
like "$out" "^would remove $ALICE_DN" "... and lists the foreign one"
run_ok smimeca -d lab publish clean --attribute userCertificate \
    --email alice@lab.example
like "$out" "^kept $ALICE_DN: userCertificate;binary value sha1 $shape_sha1" \
    "clean names the undecodable value it keeps"
like "$out" 'no certificate decodes from it' "... and says why"
like "$out" "^removed $ALICE_DN" "clean removes the foreign value"
is "$(ldap_values lab alice@lab.example 'userCertificate;binary' j)" 2 \
    "ldapsearch: two userCertificate values left"
check "the undecodable value is left, byte for byte" sh -c \
    'cmp -s j.1 shape.der || cmp -s j.2 shape.der'
check "ours is left, byte for byte" sh -c \
    'cmp -s j.1 alice.der || cmp -s j.2 alice.der'
run_ok -m "clean --all with the undecodable value there" \
    smimeca -d lab publish clean --attribute userCertificate --all
like "$out" "^kept $ALICE_DN: userCertificate;binary value sha1 $shape_sha1" \
    "clean --all names it too"
like "$out" 'no values of other issuers' "... and has nothing to remove"
is "$(ldap_values lab alice@lab.example 'userCertificate;binary' j)" 2 \
    "ldapsearch: clean --all left both values"
# userSMIMECertificate is written back whole: the undecodable value too.
run_ok smimeca -d lab publish clean --attribute userSMIMECertificate \
    --email alice@lab.example --json
py_tap "$out" "$ALICE_DN" "$junk_sha1" <<'EOF'
import json, sys
items = json.loads(sys.argv[1])
u = [i for i in items if i.get("undecodable")]
f = [i for i in items if not i.get("undecodable")]
check(len(u) == 1 and u[0]["dn"] == sys.argv[2] and
      u[0]["sha1"] == sys.argv[3] and u[0]["length"] == 301 and
      not u[0]["removed"], "--json names the undecodable PKCS#7 value, "
      "not removed", items)
check(len(f) == 1 and f[0]["removed"] and
      "Outlook Self-Signed" in f[0]["issuer"],
      "--json: the foreign PKCS#7 value is removed", items)
EOF
is "$(ldap_values lab alice@lab.example userSMIMECertificate p)" 2 \
    "ldapsearch: two userSMIMECertificate values left"
check "the undecodable PKCS#7 value is left, byte for byte" sh -c \
    'cmp -s p.1 junk.bin || cmp -s p.2 junk.bin'
check "our PKCS#7 value is left, byte for byte" sh -c \
    'cmp -s p.1 ourp7.1 || cmp -s p.2 ourp7.1'
is "$(sqlite3 lab/smimeca.db "SELECT count(*) FROM audit
    WHERE action = 'publish-clean'")" "$((audit_before + 2))" \
    "only the two foreign removals are audited"

# --- AD layout: mailNickname ---
run_ok ldapsearch -x -H "$LDAP_URI" -b "$ALICE_DN" -s base -LLL mailNickname
like "$out" 'mailNickname: alice' "the lab users carry mailNickname"
ldap_add_user lab dave || bail_out "ldapadd dave failed"
DAVE_DN=uid=dave,$LDAP_PEOPLE
printf 'dn: %s\nchangetype: modify\nreplace: userPassword\nuserPassword: dave-secret-1\n' \
    "$DAVE_DN" >davepw.ldif
run_ok -m "dave gets a password" ldap_admin ldapmodify -f davepw.ldif
printf 'dave-secret-1\n' >dave.pass
lab_password lab alice >alice.pass

run_ok -m "publish status, OpenLDAP layout" smimeca -d lab publish status
unlike "$err" 'mailNickname' "no mailNickname warning without the AD layout"
run_ok smimeca -d lab dir check dave --password-file dave.pass
unlike "$err" 'mailNickname' "dir check: no warning without the AD layout"

sed -i 's|certificate="userCertificate;binary"|certificate="userCertificate"|' \
    lab/smimeca.conf
run_ok -m "publish status, AD layout" smimeca -d lab publish status
like "$err" "warning: $DAVE_DN: no mailNickname" \
    "publish status warns about dave's entry"
like "$err" 'ADSync does not copy userCertificate to Exchange Online' \
    "... and says why"
unlike "$err" "uid=(alice|bob|carol)," \
    "publish status does not warn about entries with mailNickname"
like "$out" 'due:' "publish status still prints the status"
run_ok smimeca -d lab publish status --json
py_tap "$out" "$DAVE_DN" <<'EOF'
import json, sys
st = json.loads(sys.argv[1])
w = st.get("warnings", [])
check([x["dn"] for x in w] == [sys.argv[2]], "--json: warnings name dave", w)
check(w and "ADSync" in w[0]["warning"], "--json: the warning says why", w)
EOF
run_ok -m "dir check dave, AD layout" \
    smimeca -d lab dir check dave --password-file dave.pass
like "$err" "warning: $DAVE_DN: no mailNickname" "dir check warns about dave"
run_ok -m "dir check alice, AD layout" \
    smimeca -d lab dir check alice --password-file alice.pass
unlike "$err" 'mailNickname' "dir check does not warn about alice"

printf 'dn: %s\nchangetype: modify\nadd: objectClass\nobjectClass: mailRecipient\n-\nadd: mailNickname\nmailNickname: dave\n' \
    "$DAVE_DN" >davenick.ldif
run_ok -m "dave gets a mailNickname" ldap_admin ldapmodify -f davenick.ldif
run_ok smimeca -d lab publish status
unlike "$err" 'mailNickname' "with mailNickname set, publish status is quiet"
run_ok smimeca -d lab dir check dave --password-file dave.pass
unlike "$err" 'mailNickname' "with mailNickname set, dir check is quiet"

# --- paged search: slapd's size limit does not cut the check short ---
for i in 01 02 03 04 05 06 07 08 09 10 11 12; do
	ldap_add_user lab "nn$i" || bail_out "ldapadd nn$i failed"
done
slapd_stop lab
# The rootdn has no limits: search anonymously, as a service account.
printf 'sizelimit size.soft=5 size.hard=5 size.prtotal=unlimited\n' \
    >>lab/ldap/slapd.conf
slapd_start lab || bail_out "the lab slapd did not start with a size limit"
sed -i '/<bind /d' lab/smimeca.conf
unlike "$(cat lab/smimeca.conf)" '<bind ' "smimeca.conf binds anonymously"
run_fails -m "ldapsearch, unpaged" ldapsearch -x -H "$LDAP_URI" \
    -b "$LDAP_PEOPLE" -LLL '(mail=*)' dn
like "$err" 'Size limit exceeded' \
    "an unpaged search stops at slapd's size limit of 5"
run_ok -m "ldapsearch, paged" ldapsearch -x -H "$LDAP_URI" \
    -b "$LDAP_PEOPLE" -LLL -E pr=4/noprompt '(mail=*)' dn
is "$(printf '%s\n' "$out" | grep -c '^dn: ')" 16 \
    "a paged ldapsearch sees all 16 people"
check_all()
{
	run_ok -m "publish status, $1" smimeca -d lab publish status --json
	py_tap "$out" "$1" "$LDAP_PEOPLE" <<'EOF'
import json, sys
st = json.loads(sys.argv[1])
dns = sorted(w["dn"] for w in st.get("warnings", []))
want = ["uid=nn%02d,%s" % (i, sys.argv[3]) for i in range(1, 13)]
check(st.get("check_error") is None,
      "%s: the check is complete" % sys.argv[2], st.get("check_error"))
check(dns == want, "%s: the check names all 12 entries without "
      "mailNickname" % sys.argv[2], dns)
EOF
}
check_all "pages of 500"
sed -i 's|<users |<users page-size="4" |' lab/smimeca.conf
check_all "pages of 4"
sed -i 's|page-size="4"|page-size="0"|' lab/smimeca.conf
run_fails -m "page-size=0 is refused" smimeca -d lab publish status
like "$err" 'attribute page-size' "... naming page-size"
sed -i 's|page-size="0"|page-size="4"|' lab/smimeca.conf

slapd_stop lab
run_ok -m "publish status with the directory down" \
    smimeca -d lab publish status
like "$err" 'could not be checked' "... says the check could not be made"

done_testing
