#!/bin/sh
# ./quickstart as a newcomer meets it, in scratch directories under $T with
# the tree's build: with 3389 and 8443 held by another program it comes up
# on free ports and says which; two at the same time both come up and
# issue through the enrollment its next steps print (curl, openssl); the
# certificates' CRL and CA-issuer URLs are the HTTP listener it started; a
# second run keeps the lab's ports; every failure ends with one line of
# reason and a non-zero status, and leaves no daemon behind.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not installed"
command -v timeout >/dev/null 2>&1 || skip_all "timeout not installed"
[ -x "$top_builddir/enroll/smimecad" ] || skip_all "smimecad not built"
unset QUICKSTART_LDAP_PORT QUICKSTART_HTTPS_PORT QUICKSTART_HTTP_PORT
have_slapd=1
for p in /usr/sbin/slapd /usr/sbin/slapadd; do
	[ -x "$p" ] || have_slapd=0
done
command -v ldapsearch >/dev/null 2>&1 || have_slapd=0

# quickstart DIR ARGS: no package installs, the tree's build as it is.
qs()
{
	_qdir=$1
	shift
	timeout 120 "$top_srcdir/quickstart" --no-install --no-build \
	    --builddir "$top_builddir" --dir "$_qdir" "$@" </dev/null
}

# Stops the daemons a quickstart in DIR started: the PIDs in its pidfiles,
# only if that process is the program named.
qs_stop()
{
	for _pf in "$1/lab/smimecad.pid:smimecad" "$1/lab/ldap/slapd.pid:slapd"
	do
		_f=${_pf%:*}
		[ -f "$_f" ] || continue
		_pid=$(cat "$_f")
		case $_pid in '' | *[!0-9]*) continue ;; esac
		grep -q "${_pf#*:}" "/proc/$_pid/comm" 2>/dev/null || continue
		kill -TERM "$_pid" 2>/dev/null
		_i=0
		while [ $_i -lt 100 ] && kill -0 "$_pid" 2>/dev/null &&
		    ! grep -Eq '^[^)]*\) [ZX]' "/proc/$_pid/stat" 2>/dev/null
		do
			sleep 0.1
			_i=$((_i + 1))
		done
	done
}

# hold FILE PORT...: another program listens on each PORT it can bind
# (0: a free one); FILE gets the ports it holds. HOLD_PID stops it.
hold()
{
	_hf=$1
	shift
	$PY - "$_hf" "$@" <<'EOF' &
import os, socket, sys, time
held, socks = [], []
for p in sys.argv[2:]:
    s = socket.socket()
    # Past a TIME_WAIT of earlier connections; never beside a listener.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", int(p)))
        s.listen()
    except OSError:
        continue
    socks.append(s)
    held.append(str(s.getsockname()[1]))
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(" ".join(held) + "\n")
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(300)
EOF
	HOLD_PID=$!
	at_exit "kill $HOLD_PID 2>/dev/null"
	_i=0
	while [ ! -f "$_hf" ] && [ $_i -lt 100 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	[ -f "$_hf" ]
}

# The value quickstart printed for LABEL in its summary.
printed()
{
	sed -n "s/^  $2 *\\([^ ].*\\)\$/\\1/p" "$1" | head -n 1
}

# Nobody listens on 127.0.0.1:PORT.
port_closed()
{
	$PY -c 'import socket, sys
s = socket.socket()
s.settimeout(2)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) else 1)' "$1"
}

# --- two at once, with 3389 and 8443 taken ---
hold held 3389 8443 0 || bail_out "the Python listener did not start"
busy=$(awk '{ print $NF }' held)
diag "the Python listener holds $(cat held)"

at_exit "qs_stop '$T/a'"
at_exit "qs_stop '$T/b'"
qs "$T/a" >a.out 2>a.err &
pa=$!
qs "$T/b" >b.out 2>b.err &
pb=$!
wait $pa
ra=$?
wait $pb
rb=$?

for x in a b; do
	eval "r=\$r$x"
	is "$r" 0 "quickstart $x exits 0" || true
	[ "$r" = 0 ] || sed "s/^/# $x: /" $x.err
	like "$(tail -n 1 $x.out)" '^Or put the programs on your PATH' \
	    "quickstart $x ends with the next steps"
	https=$(printed $x.out 'HTTPS (EST, CMC)')
	http=$(printed $x.out 'HTTP (CA, CRL)' | cut -d' ' -f1)
	like "$https" '^https://127\.0\.0\.1:[0-9]+$' "$x prints its HTTPS URL"
	like "$http" '^http://127\.0\.0\.1:[0-9]+$' "$x prints its HTTP URL"
	isnt "${https##*:}" 8443 "$x does not take the held 8443"
	isnt "${https##*:}" "$busy" "$x does not take the held $busy"
	pid=$(printed $x.out smimecad | sed -n 's/^PID \([0-9]*\) .*/\1/p')
	is "$pid" "$(cat $x/lab/smimecad.pid 2>/dev/null)" \
	    "$x prints smimecad's PID, as in lab/smimecad.pid"
	like "$(cat "/proc/$pid/comm" 2>/dev/null)" smimecad \
	    "$x: that PID is smimecad"
	eval "https_$x=\$https http_$x=\$http"
	if [ $have_slapd = 1 ]; then
		ldap=$(printed $x.out 'lab directory')
		like "$ldap" '^ldap://127\.0\.0\.1:[0-9]+/, slapd PID [0-9]+ ' \
		    "$x prints the lab directory's URI and slapd's PID"
		lport=$(echo "$ldap" | sed 's|^ldap://127.0.0.1:\([0-9]*\)/.*|\1|')
		isnt "$lport" 3389 "$x's directory does not take the held 3389"
		like "$(cat "$x.out")" "127\\.0\\.0\\.1:3389 is taken" \
		    "$x says that 3389 is taken"
		is "$(echo "$ldap" | sed 's/.*slapd PID \([0-9]*\) .*/\1/')" \
		    "$(cat $x/lab/ldap/slapd.pid 2>/dev/null)" \
		    "$x: slapd's printed PID is lab/ldap/slapd.pid's"
		run_ok -m "$x: ldapsearch reaches the printed directory" \
		    ldapsearch -x -H "ldap://127.0.0.1:$lport" \
		    -b dc=lab,dc=example -s base -LLL dn
		eval "ldap_$x=\$lport"
	else
		skip "$x's lab directory" "slapd or ldap-utils not installed"
	fi

	# The CA certificates from the printed HTTPS URL, read by openssl.
	run_ok -m "$x: curl GETs $https/.well-known/est/cacerts" \
	    curl -fsS --max-time 10 --cacert $x/lab/chain.pem \
	    -o $x.cacerts "$https/.well-known/est/cacerts"
	is "$(base64 -d $x.cacerts | openssl pkcs7 -inform DER -print_certs |
	    cert_fps -)" "$(cert_fps $x/lab/chain.pem)" \
	    "$x: cacerts is the lab's chain (openssl pkcs7)"

	# The enrollment of the printed next steps, run as printed.
	sed -n '/^Enrolling over HTTPS/,/^  kill/p' $x.out | sed -n 's/^  //p' |
	    grep -v -e '^kill' -e '/metrics' >$x.enroll.sh
	like "$(cat $x.enroll.sh)" "$https/\\.well-known/est/" \
	    "$x's next steps enroll at its HTTPS URL"
	(cd $x && timeout 60 sh ../$x.enroll.sh >../$x.crt 2>../$x.enroll.err)
	is $? 0 "$x: the printed curl enrollment runs" ||
	    sed "s/^/# /" $x.enroll.err
	run_ok -m "$x: openssl verifies the issued certificate" \
	    openssl verify -CAfile $x/lab/chain.pem -purpose smimesign $x.crt
	like "$(openssl x509 -in $x.crt -noout -email 2>/dev/null)" \
	    '^alice@lab\.example$' "$x: issued to the printed account"

	# Its CRL and CA-issuer URLs are the listener quickstart started.
	crl=$(openssl x509 -in $x.crt -noout -ext crlDistributionPoints |
	    sed -n 's/^ *URI://p')
	aia=$(openssl x509 -in $x.crt -noout -ext authorityInfoAccess |
	    sed -n 's/^ *CA Issuers - URI://p')
	is "${crl%/crl/*}" "$http" "$x: the CRL URL is on the printed listener"
	is "${aia%/ca/*}" "$http" \
	    "$x: the CA-issuer URL is on the printed listener"
	run_ok -m "$x: curl GETs the certificate's CRL URL" \
	    curl -fsS --max-time 10 -o $x.crl "$crl"
	run_cmd openssl crl -inform DER -in $x.crl -CAfile $x/lab/chain.pem \
	    -noout
	like "$err$out" 'verify OK' "$x: openssl verifies the CRL from there"
	run_ok -m "$x: curl GETs the certificate's CA-issuer URL" \
	    curl -fsS --max-time 10 -o $x.issuer "$aia"
	is "$(openssl x509 -inform DER -in $x.issuer -outform PEM |
	    cert_fps -)" "$(cert_fps $x/lab/ca.crt)" \
	    "$x: the CA-issuer URL serves the issuing CA"
done
isnt "$https_a" "$https_b" "the two labs have different HTTPS ports"
isnt "$http_a" "$http_b" "the two labs have different HTTP ports"
if [ $have_slapd = 1 ]; then
	isnt "$ldap_a" "$ldap_b" "the two labs have different LDAP ports"
fi

# --- a second run keeps what runs ---
run_ok -m "quickstart a, once more" qs "$T/a"
like "$out" 'smimecad runs already' "it says smimecad runs already"
is "$(printed .out 'HTTPS (EST, CMC)')" "$https_a" \
    "it prints the same HTTPS URL"
run_fails -m "quickstart a --http with another port" \
    qs "$T/a" --http "$busy"
like "$(tail -n 1 .err)" "^quickstart: --http $busy: the lab in .* uses" \
    "it names the port the lab's certificates use"

# --- the lab's directory port taken while it was stopped ---
if [ $have_slapd = 1 ]; then
	qs_stop "$T/a"
	ok_stopped=1
	port_closed "${https_a##*:}" || ok_stopped=0
	port_closed "$ldap_a" || ok_stopped=0
	is $ok_stopped 1 "a's daemons stopped by their PIDs"
	hold held2 "$ldap_a" || bail_out "the second listener did not start"
	h2=$HOLD_PID
	is "$(cat held2)" "$ldap_a" "the listener holds a's directory port"
	run_fails -m "quickstart a with its directory port taken" qs "$T/a"
	is "$(wc -l <.err | tr -d ' ')" 1 "one line on standard error"
	like "$(tail -n 1 .err)" "^quickstart: 127\\.0\\.0\\.1:$ldap_a, where the lab's directory listens .* is in use" \
	    "it says that the directory's port is in use"
	check "no smimecad left from that run" port_closed "${https_a##*:}"
	kill "$h2"
	wait "$h2" 2>/dev/null
	run_ok -m "quickstart a comes up again once the port is free" \
	    qs "$T/a"
	is "$(printed .out 'HTTP (CA, CRL)' | cut -d' ' -f1)" "$http_a" \
	    "on the HTTP listener its certificates name"
fi

# --- failures: one line of reason, non-zero status ---
one_reason()
{
	_desc=$1
	_re=$2
	shift 2
	run_fails -m "$_desc: non-zero status" qs "$@"
	like "$(tail -n 1 .err)" "^quickstart: $_re" "$_desc: the reason"
	unlike "$(tail -n 1 .err)" 'stopped at line' \
	    "$_desc: a reason, not just the line"
	unlike "$out" 'Your lab CA|the lab is up' "$_desc: no next steps"
}
one_reason "--https nope" "--https 'nope': give a TCP port" "$T/c" \
    --https nope
check "--https nope: exit status 2" test "$rc" = 2
check "--https nope: no lab" test ! -e "$T/c/lab"
one_reason "--https 99999" "--https '99999': give a TCP port" "$T/c" \
    --https 99999
one_reason "--https on a held port" "--https $busy: 127\\.0\\.0\\.1:$busy is in use" \
    "$T/c" --https "$busy"
check "--https on a held port: no lab" test ! -e "$T/c/lab"
QUICKSTART_HTTP_PORT=$busy
export QUICKSTART_HTTP_PORT
one_reason "QUICKSTART_HTTP_PORT on a held port" \
    "QUICKSTART_HTTP_PORT $busy: 127\\.0\\.0\\.1:$busy is in use" "$T/c"
unset QUICKSTART_HTTP_PORT
: >afile
run_fails -m "--dir on a file" qs "$T/afile"
like "$(tail -n 1 .err)" "^quickstart: cannot create $T/afile" \
    "--dir on a file: the reason"
mkdir -p fakebuild/tools fakebuild/enroll
printf '#!/bin/sh\necho "smimeca: broken on purpose" >&2\nexit 3\n' \
    >fakebuild/tools/smimeca
cp fakebuild/tools/smimeca fakebuild/enroll/smimecad
chmod 755 fakebuild/tools/smimeca fakebuild/enroll/smimecad
run_fails -m "a failing smimeca init" timeout 60 "$top_srcdir/quickstart" \
    --no-install --no-build --builddir "$T/fakebuild" --dir "$T/d"
like "$(tail -n 1 .err)" '^quickstart: smimeca init failed' \
    "a failing init: the reason"
like "$err" 'broken on purpose' "a failing init: its message is shown"

# A step without its own check fails (init "succeeds" but makes no lab/):
# the ERR trap names the command.
printf '#!/bin/sh\nexit 0\n' >fakebuild/tools/smimeca
run_fails -m "an unforeseen failure" timeout 60 "$top_srcdir/quickstart" \
    --no-install --no-build --builddir "$T/fakebuild" --dir "$T/e"
like "$(tail -n 1 .err)" '^quickstart: stopped at line [0-9]+: .* exited 1$' \
    "an unforeseen failure: the line and the command"

done_testing
