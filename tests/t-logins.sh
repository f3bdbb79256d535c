#!/bin/sh
# Logins over HTTP Basic, seen from outside with curl and /metrics:
# - every refused login gets the same 401 text and costs exactly two
#   scrypts (smimecad_scrypt_total), whatever the reason: unknown account,
#   wrong password, disabled account, a code, an empty password, and with
#   <ldap accounts="yes"> a directory user or a local account alike;
# - a burst of wrong passwords fills the queue for the one scrypt slot:
#   beyond 4 waiting, 503 with Retry-After, counted in /metrics, and a good
#   login is served afterwards;
# - a remembered password counts for nothing once the account is disabled
#   or its password changed, without SIGHUP; SIGHUP forgets every one.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/smimecad.sh"

EST=/.well-known/est
PKCS10='Content-Type: application/pkcs10'
REFUSED='wrong account or password'
BURST=24

# metric NAME: its value in smimecad's /metrics.
metric()
{
	curl -sS "$HTTP_URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}

# login USER PASS: simpleenroll with HTTP Basic and a body that is no CSR,
# so that a login that passes gets 400 and one refused gets 401; sets code
# and cost (the scrypts it took), the answer in body and hdrs.
login()
{
	_s=$(metric smimecad_scrypt_total)
	code=$(est_curl -o body -D hdrs -w '%{http_code}' -u "$1:$2" \
	    -H "$PKCS10" --data-binary 'AAAA' "$HTTPS_URL$EST/simpleenroll")
	cost=$(($(metric smimecad_scrypt_total) - _s))
}

# refused DESC USER PASS: a 401 with the one text, two scrypts.
refused()
{
	login "$2" "$3"
	is "$code" 401 "$1: 401"
	is "$(cat body)" "$REFUSED" "$1: the same text as every refusal"
	ilike "$(cat hdrs)" '^www-authenticate: basic' "$1: a challenge"
	is "$cost" 2 "$1: exactly two scrypts"
}

# passes DESC USER PASS COST: logged in (400 for the body), COST scrypts.
passes()
{
	login "$2" "$3"
	is "$code" 400 "$1: logged in (400 for the body that is no CSR)"
	is "$cost" "$4" "$1: $4 scrypt(s)"
}

# reloads: SIGHUP, and wait until smimecad logged the reload (10 s).
reloads()
{
	_n=$(grep -c 'reloaded the configuration' "$SMIMECAD_LOG")
	kill -HUP "$SMIMECAD_PID"
	_w=0
	while [ $_w -lt 100 ] && [ "$(grep -c 'reloaded the configuration' \
	    "$SMIMECAD_LOG")" = "$_n" ]; do
		sleep 0.1
		_w=$((_w + 1))
	done
	isnt "$(grep -c 'reloaded the configuration' "$SMIMECAD_LOG")" "$_n" \
	    "smimecad reloaded on SIGHUP"
}

run_ok smimeca -d "$T/lab" init --lab --no-ldap --key ec:p256 ||
    bail_out "smimeca init --lab failed"
for u in alice bob carol dave erin; do
	printf '%s-secret-1\n' "$u" >"$u.pw"
	smimeca -d lab user add "$u@lab.example" --password-file "$u.pw" \
	    >/dev/null || bail_out "user add $u failed"
done
smimecad_start "$T/lab" --threads 16 || bail_out "smimecad did not start"

# --- every refusal alike, local accounts only -----------------------------
passes "alice with her password" alice@lab.example alice-secret-1 1
passes "alice again: her password is remembered" alice@lab.example \
    alice-secret-1 0
refused "an unknown account" nobody@lab.example alice-secret-1
refused "a known account, a wrong password" bob@lab.example wrong-secret-1
refused "the same, in other case" BOB@Lab.Example wrong-secret-1
run_ok smimeca -d lab user disable carol@lab.example
refused "a disabled account with its password" carol@lab.example \
    carol-secret-1
refused "a disabled account, a wrong password" carol@lab.example \
    wrong-secret-1
run_ok -m "a code for dave" smimeca -d lab user code dave@lab.example
dcode=$out
refused "an account with a live code, a wrong password" dave@lab.example \
    wrong-secret-1
passes "dave with his code (password and code checked)" dave@lab.example \
    "$dcode" 2
refused "the code a second time" dave@lab.example "$dcode"
refused "an empty password" bob@lab.example ''
refused "an empty account name" '' bob-secret-1
refused "a password of 1100 bytes" bob@lab.example \
    "$(head -c 1100 /dev/zero | tr '\0' 'x')"
unlike "$(cat body)" 'bob|lab\.example' "no refusal names the account"
like "$(cat "$SMIMECAD_LOG")" 'authentication failed for nobody@lab\.example' \
    "the server log keeps the name"

# --- a flood of wrong passwords: bounded queue, 503 beyond ----------------
s0=$(metric smimecad_scrypt_total)
w0=$(metric smimecad_login_waits_total)
b0=$(metric smimecad_login_busy_total)
pids=
n=0
while [ $n -lt $BURST ]; do
	est_curl --max-time 60 -o "burst.$n.body" -D "burst.$n.hdrs" \
	    -w '%{http_code}' -u "erin@lab.example:wrong-$n" -H "$PKCS10" \
	    --data-binary 'AAAA' "$HTTPS_URL$EST/simpleenroll" \
	    >"burst.$n.code" 2>/dev/null &
	pids="$pids $!"
	n=$((n + 1))
done
# The gauge while the burst lasts (its curls end within 60 s).
qmax=0
while :; do
	alive=0
	for p in $pids; do
		kill -0 "$p" 2>/dev/null && alive=1
	done
	[ $alive = 1 ] || break
	q=$(metric smimecad_login_queue)
	[ -n "$q" ] && [ "$q" -gt "$qmax" ] && qmax=$q
done
for p in $pids; do
	wait "$p"
done
n401=0 n503=0 other= noretry= notext=
n=0
while [ $n -lt $BURST ]; do
	c=$(cat "burst.$n.code")
	case $c in
	401) n401=$((n401 + 1)) ;;
	503)
		n503=$((n503 + 1))
		grep -qi '^retry-after: 1' "burst.$n.hdrs" ||
		    noretry="$noretry $n"
		grep -qi '^content-type: text/plain' "burst.$n.hdrs" &&
		    grep -q 'try again' "burst.$n.body" || notext="$notext $n"
		;;
	*) other="$other $n:$c" ;;
	esac
	n=$((n + 1))
done
diag "burst of $BURST: $n401 x 401, $n503 x 503, queue up to $qmax"
is "$other" "" "every request of the burst got 401 or 503"
ok_503=0
[ "$n503" -gt 0 ] && ok_503=1
is "$ok_503" 1 "some of the burst got 503 (more than 4 waiting)"
is "$noretry" "" "every 503 carries Retry-After: 1"
is "$notext" "" "every 503 says in text to try again"
is "$(($(metric smimecad_login_busy_total) - b0))" "$n503" \
    "smimecad_login_busy_total counted each 503"
w=$(($(metric smimecad_login_waits_total) - w0))
ok_w=0
[ "$w" -ge 1 ] && [ "$w" -le "$n401" ] && ok_w=1
is "$ok_w" 1 "smimecad_login_waits_total counted the waits ($w)"
is "$(($(metric smimecad_scrypt_total) - s0))" "$((2 * n401))" \
    "two scrypts for each 401, none for a 503"
ok_q=0
[ "$qmax" -ge 1 ] && [ "$qmax" -le 4 ] && ok_q=1
is "$ok_q" 1 "smimecad_login_queue showed 1 to 4 waiting ($qmax)"
is "$(metric smimecad_login_queue)" 0 "nobody waits after the burst"
like "$(cat "$SMIMECAD_LOG")" \
    'login of erin@lab\.example not checked: 4 logins wait' \
    "the log says why a login was not checked"
passes "after the burst, a good login is served" erin@lab.example \
    erin-secret-1 1

# --- disable and new passwords count at once -----------------------------
passes "alice is remembered" alice@lab.example alice-secret-1 0
run_ok -m "user disable alice" smimeca -d lab user disable alice@lab.example
refused "alice disabled, no SIGHUP" alice@lab.example alice-secret-1
run_ok -m "user enable alice" smimeca -d lab user enable alice@lab.example
passes "alice enabled again" alice@lab.example alice-secret-1 1
passes "and remembered again" alice@lab.example alice-secret-1 0
printf 'alice-secret-2\n' >alice2.pw
run_ok -m "user password alice --password-file" \
    smimeca -d lab user password alice@lab.example --password-file alice2.pw
like "$out" '^Changed the password of alice@lab\.example$' \
    "user password says so"
refused "alice's old password, no SIGHUP" alice@lab.example alice-secret-1
passes "alice's new password" alice@lab.example alice-secret-2 1
passes "the new one remembered" alice@lab.example alice-secret-2 0
run_ok -m "user password bob (a random one)" \
    smimeca -d lab user password bob@lab.example
bobpw=$(printf '%s\n' "$out" | sed -n 's/.*(shown once): //p')
like "$bobpw" '^.{20}$' "a random password of 20 characters is shown"
refused "bob's old password" bob@lab.example bob-secret-1
passes "bob's random password" bob@lab.example "$bobpw" 1
printf 'short\n' >short.pw
run_exit 1 -m "a password shorter than 8 characters" \
    smimeca -d lab user password bob@lab.example --password-file short.pw
like "$err" 'shorter than 8' "is refused, saying why"
run_exit 1 -m "user password for an unknown account" \
    smimeca -d lab user password nobody@lab.example --password-file alice2.pw
like "$err" 'no account nobody@lab\.example' "names the account"
run_exit 2 -m "user password without an address" smimeca -d lab user password
run_ok -m "the audit log has the change" smimeca -d lab audit list --json
like "$out" 'user-password' "an audit row user-password"
check "the audit chain verifies" smimeca -d lab audit verify

# SIGHUP forgets remembered passwords: the next login costs its scrypt.
passes "bob is remembered" bob@lab.example "$bobpw" 0
reloads
passes "after SIGHUP bob's password is checked again" bob@lab.example \
    "$bobpw" 1
# And a disabled account with a remembered password is refused after it.
passes "alice logs in after SIGHUP" alice@lab.example alice-secret-2 1
passes "alice is remembered" alice@lab.example alice-secret-2 0
run_ok smimeca -d lab user disable alice@lab.example
reloads
refused "alice disabled, then SIGHUP" alice@lab.example alice-secret-2
smimecad_stop
is "$smimecad_rc" 0 "smimecad stops cleanly"
unlike "$(cat "$SMIMECAD_LOG")" "AddressSanitizer|runtime error" \
    "no sanitizer report in the server log"

# --- with <ldap accounts="yes">: directory users and local accounts alike -
. "$top_srcdir/tests/slapd.sh"
# As slapd_require, but the checks above stand without a directory.
for p in /usr/sbin/slapd /usr/sbin/slapadd ldapsearch ldapmodify ldapadd; do
	if ! [ -x "$p" ] && ! command -v "${p##*/}" >/dev/null 2>&1; then
		skip "directory logins" "${p##*/} not installed (apt-get install \
slapd ldap-utils)"
		done_testing
		exit 0
	fi
done
lab_init dlab --key ec:p256 --officers dlab-officers ||
    bail_out "init --lab with a directory failed"
like "$(cat dlab/smimeca.conf)" 'accounts="yes"' "the lab has accounts=\"yes\""
slapd_start dlab || bail_out "the lab slapd did not start"
printf 'local-secret-1\n' >local.pw
run_ok smimeca -d dlab user add local@lab.example --password-file local.pw
run_ok smimeca -d dlab user add gone@lab.example --password-file local.pw
run_ok smimeca -d dlab user disable gone@lab.example
smimecad_start "$T/dlab" || bail_out "smimecad did not start"
alice_pw=$(lab_password dlab alice)
[ -n "$alice_pw" ] || bail_out "no lab password for alice"

login alice@lab.example "$alice_pw"
is "$code" 400 "alice logs in with her directory password"
passes "a local account logs in" local@lab.example local-secret-1 1
refused "directory: a name nobody has" nobody@lab.example some-secret-1
refused "directory: a user, a wrong password" alice@lab.example \
    wrong-secret-1
refused "directory: a user by uid, a wrong password" alice wrong-secret-1
refused "directory: a local account, a wrong password" local@lab.example \
    wrong-secret-1
refused "directory: a disabled local account" gone@lab.example \
    local-secret-1
refused "directory: an empty password" alice@lab.example ''
smimecad_stop
is "$smimecad_rc" 0 "smimecad stops cleanly"
unlike "$(cat "$SMIMECAD_LOG")" "AddressSanitizer|runtime error" \
    "no sanitizer report in the server log"

done_testing
