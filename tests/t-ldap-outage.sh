#!/bin/sh
# An LDAP outage delays publishing and loses nothing: slapd is killed
# during a burst of 50 issuances and restarted afterwards, while a
# publisher runs alongside as smimecad's worker does; in the end every
# certificate is in its user's entry exactly once.
#
# How one certificate is requested is the function named by $ENROLL
# (enroll_cli here): an HTTP variant defines enroll_http N (certificate
# for userN@lab.example into userN.crt, exit 0 on success) and sets
# ENROLL=enroll_http before the burst.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/slapd.sh"
slapd_require

N=50
CRASH_AT=15		# slapd dies before this issuance
RESTART_AFTER=40	# and comes back after this one

lab_init lab --key ec:p256 || bail_out "init --lab failed"
# Short retry delays, so that backing off ends within the test.
sed 's|<retry initial-seconds="[0-9]*" max-seconds="[0-9]*"/>|<retry initial-seconds="1" max-seconds="2"/>|' \
    lab/smimeca.conf >conf.new && cat conf.new >lab/smimeca.conf
like "$(cat lab/smimeca.conf)" 'initial-seconds="1"' "retry delays shortened"
slapd_start lab || bail_out "the lab slapd did not start"

# user1 .. user50 in the directory.
: >users.ldif
i=1
while [ $i -le $N ]; do
	printf 'dn: uid=user%d,%s\nobjectClass: inetOrgPerson\nuid: user%d\ncn: User %d\nsn: Burst\nmail: user%d@lab.example\n\n' \
	    $i "$LDAP_PEOPLE" $i $i $i >>users.ldif
	i=$((i + 1))
done
run_ok -m "$N users added to the directory" ldap_admin ldapadd -f users.ldif

mkcsr burst ""
enroll_cli()
{
	smimeca -d lab issue --template smime-signature --csr burst.csr \
	    --email "user$1@lab.example" --out "user$1.crt" </dev/null \
	    >/dev/null 2>>enroll.err
}
ENROLL=${ENROLL:-enroll_cli}

# The publisher: what smimecad's worker thread does, in a loop.
(
	while [ ! -f "$T/stop-publisher" ]; do
		smimeca -d lab publish run </dev/null >>publisher.out 2>&1
		sleep 0.2
	done
) &
pub_pid=$!
at_exit "touch '$T/stop-publisher'; kill $pub_pid 2>/dev/null; wait $pub_pid 2>/dev/null"

fails=0
i=1
while [ $i -le $N ]; do
	if [ $i -eq $CRASH_AT ]; then
		slapd_crash lab
		if slapd_pid lab; then
			not_ok "slapd killed before issuance $i"
		else
			ok "slapd killed (SIGKILL) before issuance $i"
		fi
	fi
	$ENROLL $i || fails=$((fails + 1))
	if [ $i -eq $RESTART_AFTER ]; then
		if slapd_start lab; then
			ok "slapd restarted after issuance $i"
		else
			not_ok "slapd restarted after issuance $i"
		fi
	fi
	i=$((i + 1))
done
is "$fails" 0 "all $N issuances succeeded, the directory down or not"
[ -s enroll.err ] && diag "$(sort enroll.err | uniq -c | head -n 5)"
touch stop-publisher
wait $pub_pid
like "$(cat publisher.out)" "Can't contact LDAP server" \
    "the publisher met the outage (and kept the jobs)"

run_ok -m "publish run --wait until the outbox is empty" \
    smimeca -d lab publish run --wait 90
run_ok smimeca -d lab publish status --json
is "$(printf '%s' "$out" | $PY -c 'import json,sys; d=json.load(sys.stdin)
print(d["due"], d["waiting"], d["failed"])')" "0 0 0" \
    "nothing pending or failed"
is "$(sqlite3 lab/smimeca.db "SELECT count(*) FROM pub_jobs
    WHERE kind = 'add' AND state = 'done'")" $N "$N add jobs done"
retried=$(sqlite3 lab/smimeca.db "SELECT count(*) FROM pub_jobs
    WHERE attempts > 1")
if [ "$retried" -gt 0 ]; then
	ok "$retried jobs needed more than one attempt"
else
	not_ok "some jobs needed more than one attempt"
fi

# Every certificate exactly once, byte for byte.
missing= twice= differ=
i=1
while [ $i -le $N ]; do
	n=$(ldap_values lab "user$i@lab.example" 'userCertificate;binary' v)
	openssl x509 -in "user$i.crt" -outform DER -out "user$i.der" \
	    2>/dev/null
	case $n in
	0) missing="$missing $i" ;;
	1) cmp -s v.1 "user$i.der" || differ="$differ $i" ;;
	*) twice="$twice $i" ;;
	esac
	i=$((i + 1))
done
is "$missing" "" "no certificate is missing from the directory"
is "$twice" "" "no entry holds more than one value"
is "$differ" "" "every value is exactly its certificate's DER"

done_testing
