#!/bin/sh
# smimecad with a real slapd: directory accounts over HTTP Basic (a simple
# bind as the user's entry), subjects from the entry, publishing by the
# daemon's own publisher thread, and a burst of 50 EST enrollments with
# slapd killed in the middle and restarted: every certificate ends up in
# its user's entry exactly once.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/slapd.sh"
. "$top_srcdir/tests/smimecad.sh"
slapd_require

N=50
CRASH_AT=15
RESTART_AFTER=40
EST=/.well-known/est
PKCS10='Content-Type: application/pkcs10'

lab_init lab --key ec:p256 || bail_out "init --lab failed"
sed 's|<retry initial-seconds="[0-9]*" max-seconds="[0-9]*"/>|<retry initial-seconds="1" max-seconds="2"/>|' \
    lab/smimeca.conf >conf.new && cat conf.new >lab/smimeca.conf
slapd_start lab || bail_out "the lab slapd did not start"
smimecad_start "$T/lab" || bail_out "smimecad did not start"

# enroll USER PASS OUT [TEMPLATE]: EST simpleenroll; sets code.
enroll()
{
	# Encryption needs RSA (key transport); signing is quicker with EC.
	case ${4:-} in
	smime-dual) _kt="-newkey rsa:2048" ;;
	*) _kt="-newkey ec -pkeyopt ec_paramgen_curve:P-256" ;;
	esac
	# shellcheck disable=SC2086
	openssl req -new $_kt -nodes -keyout "$3.key" -subj "/CN=ignored" \
	    -outform DER -out "$3.der" 2>/dev/null
	code=$(est_curl -o "$3.b64" -w '%{http_code}' -u "$1:$2" -H "$PKCS10" \
	    --data-binary "$(base64 -w0 "$3.der")" \
	    "$HTTPS_URL$EST/${4:-smime-signature}/simpleenroll")
	if [ "$code" = 200 ]; then
		base64 -d "$3.b64" | openssl pkcs7 -inform DER -print_certs |
		    openssl x509 -out "$3.crt" 2>/dev/null
		openssl x509 -in "$3.crt" -outform DER -out "$3.crt.der" \
		    2>/dev/null
	fi
}

# wait_values MAIL COUNT: until the entry holds COUNT certificates (20 s).
wait_values()
{
	_w=0
	while [ $_w -lt 100 ]; do
		[ "$(ldap_values lab "$1" 'userCertificate;binary' v)" = "$2" ] &&
		    return 0
		sleep 0.2
		_w=$((_w + 1))
	done
	return 1
}

# --- directory accounts -------------------------------------------------------
alice_pw=$(lab_password lab alice)
[ -n "$alice_pw" ] || bail_out "no lab password for alice"
enroll alice@lab.example "$alice_pw" alice
is "$code" 200 "alice logs in with her directory password (LDAP bind)"
dir_cn=$(ldapsearch -x -H "$LDAP_URI" -b "$LDAP_PEOPLE" -LLL \
    '(mail=alice@lab.example)' cn | sed -n 's/^cn: //p' | head -n 1)
like "$(openssl x509 -in alice.crt -noout -subject)" "CN = $dir_cn" \
    "the CN comes from her directory entry ($dir_cn)"
like "$(openssl x509 -in alice.crt -noout -ext subjectAltName)" \
    "email:alice@lab.example" "the mail from her entry"
if wait_values alice@lab.example 1; then
	ok "smimecad's publisher put the certificate into alice's entry"
else
	not_ok "smimecad's publisher put the certificate into alice's entry"
fi
check "ldapsearch returns exactly the certificate's DER" cmp -s v.1 alice.crt.der
like "$(cat "$SMIMECAD_LOG")" "user=alice@lab.example" \
    "the access log names the directory user"

code=$(est_curl -o body -w '%{http_code}' -u "alice@lab.example:wrong-pass" \
    -H "$PKCS10" --data-binary "$(base64 -w0 alice.der)" \
    "$HTTPS_URL$EST/smime-signature/simpleenroll")
is "$code" 401 "a wrong directory password gets 401"
is "$(cat body)" "wrong account or password" "with a plain reason"
code=$(est_curl -o body -w '%{http_code}' -u "dave@lab.example:some-pass" \
    -H "$PKCS10" --data-binary "$(base64 -w0 alice.der)" \
    "$HTTPS_URL$EST/smime-signature/simpleenroll")
is "$code" 401 "a user missing from the directory is refused"
is "$(cat body)" "wrong account or password" \
    "with the same reason (no account shows by the answer)"

# --- revocation: the publisher removes that one value ------------------------
enroll alice@lab.example "$alice_pw" alice-dual smime-dual
is "$code" 200 "alice enrolls a second certificate (smime-dual)"
if wait_values alice@lab.example 2; then
	ok "her entry holds both certificates"
else
	not_ok "her entry holds both certificates"
fi
serial=$(openssl x509 -in alice.crt -noout -serial | cut -d= -f2)
run_ok smimeca -d lab revoke "$serial" --reason keyCompromise
if wait_values alice@lab.example 1; then
	ok "after the revocation her entry holds one certificate"
else
	not_ok "after the revocation her entry holds one certificate"
fi
check "the one left is the certificate that was not revoked" \
    cmp -s v.1 alice-dual.crt.der

# --- a burst of EST enrollments through an outage -------------------------------
# Local accounts (smimecad checks them first), entries in the directory
# for publishing.
: >users.ldif
i=1
while [ $i -le $N ]; do
	printf 'dn: uid=user%d,%s\nobjectClass: inetOrgPerson\nuid: user%d\ncn: User %d\nsn: Burst\nmail: user%d@lab.example\n\n' \
	    $i "$LDAP_PEOPLE" $i $i $i >>users.ldif
	printf 'burst-pass-%d\n' $i >pw$i
	smimeca -d lab user add "user$i@lab.example" --password-file pw$i \
	    >/dev/null 2>>useradd.err
	i=$((i + 1))
done
run_ok -m "$N users added to the directory" ldap_admin ldapadd -f users.ldif
is "$(smimeca -d lab user list | grep -c '^user')" $N "$N local accounts"

fails=0 outage503=
i=1
while [ $i -le $N ]; do
	if [ $i -eq $CRASH_AT ]; then
		slapd_crash lab
		if slapd_pid lab; then
			not_ok "slapd killed before enrollment $i"
		else
			ok "slapd killed (SIGKILL) before enrollment $i"
		fi
		code=$(est_curl -o body -w '%{http_code}' \
		    -u "bob@lab.example:$(lab_password lab bob)" -H "$PKCS10" \
		    --data-binary "$(base64 -w0 alice.der)" \
		    "$HTTPS_URL$EST/smime-signature/simpleenroll")
		outage503="$code $(cat body)"
	fi
	enroll "user$i@lab.example" "burst-pass-$i" "user$i"
	[ "$code" = 200 ] || fails=$((fails + 1))
	if [ $i -eq $RESTART_AFTER ]; then
		if slapd_start lab; then
			ok "slapd restarted after enrollment $i"
		else
			not_ok "slapd restarted after enrollment $i"
		fi
	fi
	i=$((i + 1))
done
is "$fails" 0 "all $N EST enrollments succeeded, the directory down or not"
like "$outage503" "^503 .*directory cannot be reached" \
    "during the outage a directory login gets 503, not 401"
like "$(cat "$SMIMECAD_LOG")" "publishing to the directory: .*jobs stay queued" \
    "smimecad logged the outage and kept the jobs"

# The publisher retries by itself; wait for the outbox to empty (60 s).
w=0
while [ $w -lt 300 ]; do
	st=$(smimeca -d lab publish status --json 2>/dev/null |
	    $PY -c 'import json,sys; d=json.load(sys.stdin)
print(d["due"] + d["waiting"] + d["failed"])' 2>/dev/null)
	[ "$st" = 0 ] && break
	sleep 0.2
	w=$((w + 1))
done
is "$st" 0 "smimecad's publisher emptied the outbox after the restart"

missing= twice= differ=
i=1
while [ $i -le $N ]; do
	n=$(ldap_values lab "user$i@lab.example" 'userCertificate;binary' v)
	case $n in
	0) missing="$missing $i" ;;
	1) cmp -s v.1 "user$i.crt.der" || differ="$differ $i" ;;
	*) twice="$twice $i" ;;
	esac
	i=$((i + 1))
done
is "$missing" "" "no certificate is missing from the directory"
is "$twice" "" "no entry holds more than one value"
is "$differ" "" "every value is exactly its certificate's DER"

smimecad_stop
is "$smimecad_rc" 0 "smimecad stops cleanly (publisher thread joined)"
unlike "$(cat "$SMIMECAD_LOG")" "AddressSanitizer|runtime error" \
    "no sanitizer report in the server log"
done_testing
