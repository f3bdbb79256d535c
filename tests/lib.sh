# tests/lib.sh: sourced by every shell integration test (POSIX sh: make check
# runs the tests with $(SHELL), which is dash on Debian).
#
# TAP without a plan up front; done_testing prints "1..N" at the end, and a
# test that dies before it is an ERROR for automake's TAP driver.
#
#   ok DESC                   a passing result
#   not_ok DESC [DIAG...]     a failing result, with diagnostic lines
#   check DESC CMD...         ok if CMD exits 0 (output kept in $out/$err)
#   is GOT WANT DESC          string equality
#   isnt GOT UNWANTED DESC
#   like GOT ERE DESC         GOT matches the extended regex (grep -E)
#   ilike GOT ERE DESC        the same, ignoring case
#   unlike GOT ERE DESC       GOT does not match (grep -Ei)
#   run_ok [-m DESC] CMD...   runs CMD: ok if it exits 0
#   run_fails [-m DESC] CMD...   ok if it exits non-zero
#   run_exit N [-m DESC] CMD...  ok if it exits with N
#       the run_* helpers leave $out (stdout), $err (stderr) and $rc
#   skip DESC REASON          a skipped result
#   skip_all REASON           the whole test is skipped (exit 0)
#   bail_out REASON           stop the test (an ERROR)
#   diag TEXT                 a TAP comment
#   done_testing              the plan, at the end
#   py_tap [ARGS...] <<'EOF'  a Python check (with cryptography) that prints
#                             "ok DESC" / "not ok DESC" lines: see PY_PRELUDE;
#                             without cryptography, one skip per check() call
#   crl_verifies DESC CRL CAFILE [ARGS]  openssl crl -verify says
#                             "verify OK" (ARGS: -inform DER ...)
#   verify_revoked DESC CERT CAFILE CRL [ARGS]  openssl verify -crl_check
#                             fails with "certificate revoked" (and no CRL
#                             signature or issuer error)
#   mkcsr NAME EMAIL [KEYSPEC]  NAME.key + NAME.csr (PEM) for
#                             /CN=NAME/emailAddress=EMAIL (no mail if EMAIL
#                             is ""); KEYSPEC rsa:BITS (default rsa:2048),
#                             ec:p256, ec:p384
#   db_counts DIR             counts of certs, audit and requests rows
#   cert_fps PEM              SHA-256 fingerprints of its certificates,
#                             sorted (PEM "-" is stdin)
#   at_exit CMD               run CMD (a string) when the test ends
#   free_port                 a TCP port on 127.0.0.1 nobody listens on
#
# Each test runs in a fresh temporary directory ($T, the working directory),
# removed at exit unless KEEP_TMP=1.

# --- where things are ---------------------------------------------------
if [ -z "${top_srcdir:-}" ]; then
	top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
fi
if [ -z "${top_builddir:-}" ]; then
	if [ -x "$top_srcdir/build/tools/smimeca" ]; then
		top_builddir=$top_srcdir/build
	else
		top_builddir=$top_srcdir
	fi
fi
case $top_srcdir in /*) ;; *) top_srcdir=$(cd "$top_srcdir" && pwd) ;; esac
case $top_builddir in
/*) ;;
*) top_builddir=$(cd "$top_builddir" && pwd) ;;
esac
export top_srcdir top_builddir
PATH=$top_builddir/tools:$top_builddir/enroll:$PATH
export PATH
: "${SMIMECA_DATADIR:=$top_srcdir/etc}"
export SMIMECA_DATADIR
# Nothing from the caller's environment may change what a command does.
unset SMIMECA_DIR SMIMECA_PASSPHRASE SMIMECA_KRA_PASSPHRASE

# The Debian python, which has python3-cryptography (a pyenv one may not).
PY=/usr/bin/python3

# --- TAP ----------------------------------------------------------------
tap_n=0
tap_failed=0

diag()
{
	printf '%s\n' "$*" | sed 's/^/# /'
}

ok()
{
	tap_n=$((tap_n + 1))
	printf 'ok %d - %s\n' "$tap_n" "$(tap_desc "$1")"
}

not_ok()
{
	local _tap_line

	tap_n=$((tap_n + 1))
	tap_failed=$((tap_failed + 1))
	printf 'not ok %d - %s\n' "$tap_n" "$(tap_desc "$1")"
	shift
	for _tap_line in "$@"; do
		[ -n "$_tap_line" ] && diag "$_tap_line"
	done
	return 0
}

# The first lines of a long value, for a diagnostic.
tap_head()
{
	if [ "$(printf '%s\n' "$1" | wc -l)" -gt 15 ]; then
		printf '%s\n' "$1" | head -n 15
		printf '[... %d more lines]' \
		    "$(($(printf '%s\n' "$1" | wc -l) - 15))"
	else
		printf '%s' "$1"
	fi
}

# A description must not carry a directive ('#') or span lines.
tap_desc()
{
	printf '%s' "$1" | tr '\n#' ' _'
}

skip()
{
	tap_n=$((tap_n + 1))
	printf 'ok %d - %s # SKIP %s\n' "$tap_n" "$(tap_desc "$1")" \
	    "$(tap_desc "$2")"
}

skip_all()
{
	printf '1..0 # SKIP %s\n' "$*"
	exit 0
}

bail_out()
{
	printf 'Bail out! %s\n' "$*"
	exit 1
}

done_testing()
{
	printf '1..%d\n' "$tap_n"
	exit 0
}

is()
{
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		not_ok "$3" "got:      '$1'" "expected: '$2'"
	fi
}

isnt()
{
	if [ "$1" != "$2" ]; then
		ok "$3"
	else
		not_ok "$3" "got '$1', which it must not be"
	fi
}

like()
{
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		ok "$3"
	else
		not_ok "$3" "got:       '$(tap_head "$1")'" "no match:  /$2/"
	fi
}

ilike()
{
	if printf '%s\n' "$1" | grep -Eiq -- "$2"; then
		ok "$3"
	else
		not_ok "$3" "got:       '$(tap_head "$1")'" "no match:  /$2/i"
	fi
}

unlike()
{
	if printf '%s\n' "$1" | grep -Eiq -- "$2"; then
		not_ok "$3" "got:       '$(tap_head "$1")'" "matches:   /$2/i"
	else
		ok "$3"
	fi
}

# Runs CMD with stdin from /dev/null; sets out, err, rc.
run_cmd()
{
	"$@" </dev/null >"$T/.out" 2>"$T/.err"
	rc=$?
	out=$(cat "$T/.out")
	err=$(cat "$T/.err")
}

# The command line as a description, shortened.
cmd_desc()
{
	local _tap_s

	_tap_s=$*
	_tap_s=$(printf '%s' "$_tap_s" | sed "s|$T/||g")
	if [ ${#_tap_s} -gt 110 ]; then
		_tap_s=$(printf '%s' "$_tap_s" | cut -c1-107)...
	fi
	printf '%s' "$_tap_s"
}

run_ok()
{
	local _tap_m

	_tap_m=
	if [ "$1" = -m ]; then _tap_m=$2; shift 2; fi
	[ -n "$_tap_m" ] || _tap_m=$(cmd_desc "$@")
	run_cmd "$@"
	if [ "$rc" -eq 0 ]; then
		ok "$_tap_m"
	else
		not_ok "$_tap_m" "exit $rc" \
		    "$(printf '%s\n' "$err" | head -n 20)"
	fi
	[ "$rc" -eq 0 ]
}

run_fails()
{
	local _tap_m

	_tap_m=
	if [ "$1" = -m ]; then _tap_m=$2; shift 2; fi
	[ -n "$_tap_m" ] || _tap_m="fails: $(cmd_desc "$@")"
	run_cmd "$@"
	if [ "$rc" -ne 0 ] && [ "$rc" -lt 126 ]; then
		ok "$_tap_m"
	else
		not_ok "$_tap_m" "exit $rc" \
		    "$(printf '%s\n' "$err" | head -n 20)"
	fi
}

run_exit()
{
	local _tap_want _tap_m

	_tap_want=$1
	shift
	_tap_m=
	if [ "$1" = -m ]; then _tap_m=$2; shift 2; fi
	[ -n "$_tap_m" ] || _tap_m="exit $_tap_want: $(cmd_desc "$@")"
	run_cmd "$@"
	if [ "$rc" -eq "$_tap_want" ]; then
		ok "$_tap_m"
	else
		not_ok "$_tap_m" "exit $rc, expected $_tap_want" \
		    "$(printf '%s\n' "$err" | head -n 20)"
	fi
	[ "$rc" -eq "$_tap_want" ]
}

check()
{
	local _tap_m

	_tap_m=$1
	shift
	run_cmd "$@"
	if [ "$rc" -eq 0 ]; then
		ok "$_tap_m"
	else
		not_ok "$_tap_m" "$(cmd_desc "$@"): exit $rc" \
		    "$(printf '%s\n%s\n' "$out" "$err" | head -n 20)"
	fi
	[ "$rc" -eq 0 ]
}

# --- Python checks ------------------------------------------------------
# sqlite3 waits for a lock instead of failing at once: smimecad's own
# threads (the OCSP refresher signing responses after a start) write to
# the store while tests read and change it.
sqlite3()
{
	command sqlite3 -cmd '.timeout 10000' "$@"
}

have_pycrypto()
{
	[ -x "$PY" ] && "$PY" -c 'import cryptography' >/dev/null 2>&1
}

PY_PRELUDE='
import sys, os, json, datetime, hashlib
from cryptography import x509
from cryptography.x509.oid import ExtensionOID, ExtendedKeyUsageOID, NameOID
from cryptography.x509.oid import AuthorityInformationAccessOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa, ec

def check(cond, desc, why=""):
    desc = " ".join(str(desc).replace("#", "_").split())
    print(("ok " if cond else "not ok ") + desc)
    if not cond and why != "":
        for l in str(why).splitlines():
            print("# " + l)
    sys.stdout.flush()
    return cond

def load_cert(path):
    data = open(path, "rb").read()
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)

def load_certs(path):
    data = open(path, "rb").read()
    out, marker = [], b"-----BEGIN CERTIFICATE-----"
    for part in data.split(marker)[1:]:
        out.append(x509.load_pem_x509_certificate(marker + part))
    return out

def load_crl(path):
    data = open(path, "rb").read()
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)

def ext(cert, oid):
    try:
        return cert.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None
'

# The check() calls of a Python script, one line each: the description
# (the first string literal after a comma) or "python check N". A call in
# a loop counts once.
py_checks()
{
	awk '{ src = src " " $0 }
	END {
		n = 0
		while (match(src, /(^|[^A-Za-z0-9_.])check\(/)) {
			src = substr(src, RSTART + RLENGTH)
			n++
			rest = src
			if (match(rest, /(^|[^A-Za-z0-9_.])check\(/))
				rest = substr(rest, 1, RSTART)
			if (match(rest, /, *"[^"]*"/)) {
				d = substr(rest, RSTART, RLENGTH)
				sub(/^, *"/, "", d)
				sub(/"$/, "", d)
			} else
				d = "python check " n
			print d
		}
	}' "$1"
}

# Runs the Python script on stdin (after PY_PRELUDE) with ARGS and turns
# its "ok ..." / "not ok ..." lines into TAP results.
py_tap()
{
	local _tap_prc _tap_pyn _tap_l

	if ! have_pycrypto; then
		cat >"$T/.py"
		py_checks "$T/.py" >"$T/.pyskip"
		while IFS= read -r _tap_l; do
			skip "$_tap_l" \
			    "$PY with the cryptography module not found"
		done <"$T/.pyskip"
		return 0
	fi
	{ printf '%s\n' "$PY_PRELUDE"; cat; } >"$T/.py"
	"$PY" "$T/.py" "$@" >"$T/.pyout" 2>&1
	_tap_prc=$?
	_tap_pyn=0
	while IFS= read -r _tap_l; do
		case $_tap_l in
		"ok "*) ok "${_tap_l#ok }"; _tap_pyn=$((_tap_pyn + 1)) ;;
		"not ok "*)
			not_ok "${_tap_l#not ok }"
			_tap_pyn=$((_tap_pyn + 1))
			;;
		"# "*) printf '%s\n' "$_tap_l" ;;
		*) diag "$_tap_l" ;;
		esac
	done <"$T/.pyout"
	if [ "$_tap_prc" -ne 0 ]; then
		not_ok "python checks ran to the end (exit $_tap_prc)"
	elif [ "$_tap_pyn" -eq 0 ]; then
		not_ok "python checks reported something"
	fi
}

# --- checks with peer tools ---------------------------------------------
# OpenSSL 3.0's `openssl crl -verify` prints "verify failure" and still
# exits 0: only its "verify OK" line says the signature holds.
crl_verifies()
{
	local _tap_m _tap_crl _tap_ca

	_tap_m=$1
	_tap_crl=$2
	_tap_ca=$3
	shift 3
	run_cmd openssl crl -in "$_tap_crl" -CAfile "$_tap_ca" -noout -verify \
	    "$@"
	if [ "$rc" -eq 0 ] && printf '%s\n' "$out" "$err" |
	    grep -qx 'verify OK'; then
		ok "$_tap_m"
	else
		not_ok "$_tap_m" "openssl crl -verify of $_tap_crl: exit $rc" \
		    "$(printf '%s\n%s\n' "$out" "$err" | head -n 10)"
	fi
}

# `openssl verify -crl_check` fails for a bad CRL signature or an unknown
# issuer too: the certificate is revoked only if it says so.
verify_revoked()
{
	local _tap_m _tap_cert _tap_ca _tap_crl

	_tap_m=$1
	_tap_cert=$2
	_tap_ca=$3
	_tap_crl=$4
	shift 4
	run_cmd openssl verify -crl_check -CRLfile "$_tap_crl" \
	    -CAfile "$_tap_ca" "$@" "$_tap_cert"
	if [ "$rc" -ne 0 ] && [ "$rc" -lt 126 ] &&
	    printf '%s\n' "$out" "$err" | grep -q 'certificate revoked' &&
	    ! printf '%s\n' "$out" "$err" |
	    grep -Eq 'CRL signature failure|unable to get'; then
		ok "$_tap_m"
	else
		not_ok "$_tap_m" \
		    "openssl verify -crl_check $_tap_cert: exit $rc" \
		    "$(printf '%s\n%s\n' "$out" "$err" | head -n 10)"
	fi
}

# --- fixtures -----------------------------------------------------------
mkcsr()
{
	local _tap_name _tap_mail _tap_spec _tap_subj

	_tap_name=$1
	_tap_mail=$2
	_tap_spec=${3:-rsa:2048}
	_tap_subj="/CN=$_tap_name"
	[ -n "$_tap_mail" ] && _tap_subj="$_tap_subj/emailAddress=$_tap_mail"
	case $_tap_spec in
	rsa:*) set -- -newkey "$_tap_spec" ;;
	ec:p256) set -- -newkey ec -pkeyopt ec_paramgen_curve:P-256 ;;
	ec:p384) set -- -newkey ec -pkeyopt ec_paramgen_curve:P-384 ;;
	*) bail_out "mkcsr: unknown key spec $_tap_spec" ;;
	esac
	if ! openssl req -new "$@" -nodes -keyout "$_tap_name.key" \
	    -subj "$_tap_subj" -out "$_tap_name.csr" >/dev/null \
	    2>"$T/.mkcsr.err"; then
		cat "$T/.mkcsr.err" >&2
		bail_out "mkcsr $_tap_name: openssl req failed"
	fi
}

db_counts()
{
	sqlite3 "$1/smimeca.db" 'SELECT count(*) FROM certs;
	    SELECT count(*) FROM audit; SELECT count(*) FROM requests;' |
	    tr '\n' ' '
}

# The SHA-256 fingerprints of every certificate in a PEM file (stdin with
# "-"), lower-case hex, sorted, one a line.
cert_fps()
{
	local _tap_f

	rm -f "$T"/.fps.*
	cat -- "$1" | awk -v d="$T/.fps." '
	    /-----BEGIN CERTIFICATE-----/ { n++; p = 1 }
	    p { print > (d n) }
	    /-----END CERTIFICATE-----/ { p = 0; close(d n) }'
	for _tap_f in "$T"/.fps.*; do
		[ -f "$_tap_f" ] || continue
		openssl x509 -in "$_tap_f" -noout -fingerprint -sha256 |
		    sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'
	done | sort
	rm -f "$T"/.fps.*
}

# The serial of a certificate file as a lower-case hex integer without
# leading zeros (so that 00ab.. from one tool equals ab.. from another).
cert_serial()
{
	openssl x509 -in "$1" -noout -serial | sed 's/^serial=//' |
	    tr 'A-F' 'a-f' | sed 's/^0*//'
}

# Normalizes a hex serial like cert_serial does.
norm_serial()
{
	printf '%s\n' "$1" | tr 'A-F' 'a-f' | sed 's/^0*//'
}

tap_exit_hooks=
# A TCP port on 127.0.0.1 that nobody listens on (for private servers).
free_port()
{
	$PY - <<'PYEOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PYEOF
}

at_exit()
{
	tap_exit_hooks="$1
$tap_exit_hooks"
}

tap_cleanup()
{
	# $? is expanded before local runs: the status the test exits with.
	local _tap_rc=$?

	trap - EXIT
	if [ -n "$tap_exit_hooks" ]; then
		eval "$tap_exit_hooks"
	fi
	cd /
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "# kept $T" >&2
	elif [ -n "${T:-}" ]; then
		rm -rf "$T"
	fi
	exit $_tap_rc
}

# --- setup --------------------------------------------------------------
T=$(mktemp -d "${TMPDIR:-/tmp}/smimeca-test.XXXXXX") ||
    bail_out "mktemp -d failed"
trap tap_cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
cd "$T" || bail_out "cd $T"

command -v smimeca >/dev/null 2>&1 ||
    bail_out "smimeca not found in $top_builddir/tools (build first)"
command -v openssl >/dev/null 2>&1 || skip_all "openssl not installed"
command -v sqlite3 >/dev/null 2>&1 || skip_all "sqlite3 not installed"
