#!/bin/sh
# Protocol cases as data (the way curl keeps its tests/data): every file in
# tests/proto/ is one request and what must come back, sent over HTTP with
# curl or through the offline door (smimeca issue). One lab and one smimecad
# serve them all, in the sorted order of the file names; tests/proto/README
# describes the format. PROTO_CASES="id id..." runs only those cases.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/smimecad.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not installed"
command -v smimeca-enroll >/dev/null 2>&1 ||
    bail_out "smimeca-enroll not found in $top_builddir/tools (build first)"

PROTO=$top_srcdir/tests/proto
LAB=$T/lab

# --- the lab every case runs against --------------------------------------
run_ok smimeca -d "$LAB" init --lab --no-ldap --key rsa:2048 ||
    bail_out "smimeca init --lab failed"
printf 'alice-secret-1\n' >alice.pw
printf 'bob-secret-22\n' >bob.pw
run_ok smimeca -d lab user add Alice@Lab.Example --cn "Alice Example" \
    --password-file alice.pw || bail_out "user add alice failed"
run_ok smimeca -d lab user add bob@lab.example --password-file bob.pw ||
    bail_out "user add bob failed"
run_ok smimeca -d lab xchg show --pem || bail_out "no exchange certificate"
printf '%s\n' "$out" >"$T/xchg.pem"
smimecad_start "$LAB" || bail_out "smimecad did not start"

# auth: NAME of a lab account, for its password.
proto_account()
{
	case $1 in
	alice) printf 'alice@lab.example:alice-secret-1' ;;
	bob) printf 'bob@lab.example:bob-secret-22' ;;
	*) return 1 ;;
	esac
}

# --- generators: the first stage makes bytes, the next ones transform them --
gen_n=0

gen_empty()
{
	:
}

gen_text()
{
	printf '%b' "$*"
}

gen_random()
{
	head -c "$1" /dev/urandom
}

gen_cat()
{
	cat "$1"
}

gen_key()
{
	case $1 in
	rsa:*)
		openssl genpkey -algorithm RSA \
		    -pkeyopt "rsa_keygen_bits:${1#rsa:}" 2>/dev/null
		;;
	ec:p256)
		openssl genpkey -algorithm EC \
		    -pkeyopt ec_paramgen_curve:P-256 2>/dev/null
		;;
	*)
		return 1
		;;
	esac
}

# csr SUBJECT [key=FILE] [san=VALUE]: a DER PKCS#10 (a new RSA key if no
# key= is given).
gen_csr()
{
	_subj=$1
	shift
	_key=
	_san=
	for _a in "$@"; do
		case $_a in
		key=*) _key=${_a#key=} ;;
		san=*) _san=${_a#san=} ;;
		*) return 1 ;;
		esac
	done
	if [ -z "$_key" ]; then
		gen_n=$((gen_n + 1))
		_key=.csr-key.$gen_n
		gen_key rsa:2048 >"$_key" || return 1
	fi
	if [ -n "$_san" ]; then
		openssl req -new -key "$_key" -subj "$_subj" \
		    -addext "subjectAltName=$_san" -outform DER 2>/dev/null
	else
		openssl req -new -key "$_key" -subj "$_subj" -outform DER \
		    2>/dev/null
	fi
}

gen_selfcert()
{
	gen_n=$((gen_n + 1))
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ".self-key.$gen_n" \
	    -subj "$1" -days 1 -outform DER 2>/dev/null
}

# envelope KEYFILE RECIPIENT: KEYFILE's PKCS#8 DER in a CMS EnvelopedData.
gen_envelope()
{
	gen_n=$((gen_n + 1))
	openssl pkcs8 -topk8 -nocrypt -outform DER -in "$1" \
	    -out ".p8.$gen_n" 2>/dev/null &&
	    openssl cms -encrypt -recip "$2" -binary -aes256 -outform DER \
	    -in ".p8.$gen_n" 2>/dev/null
}

gen_xchg()
{
	cat "$T/xchg.pem"
}

# An exchange-like certificate the CA never made (PEM).
gen_fake_xchg()
{
	gen_n=$((gen_n + 1))
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ".fake-key.$gen_n" \
	    -out /dev/stdout -days 7 -subj "/CN=smimeca Lab CA-Xchg" \
	    -addext keyUsage=critical,keyEncipherment \
	    -addext extendedKeyUsage=1.3.6.1.4.1.311.21.5 2>/dev/null
}

gen_base64()
{
	base64 -w0
}

gen_head()
{
	head -c "$1"
}

# flip N: byte N (from the end if negative) xor 0x55.
gen_flip()
{
	"$PY" -c '
import sys
b = bytearray(sys.stdin.buffer.read())
b[int(sys.argv[1])] ^= 0x55
sys.stdout.buffer.write(bytes(b))' "$1"
}

gen_pem()
{
	printf '%s\n' "-----BEGIN $*-----"
	base64 -w64
	printf '%s\n' "-----END $*-----"
}

# proto_gen SPEC FILE: runs the stages of SPEC ("source | filter | ...")
# and appends the result to FILE.
proto_gen()
{
	_spec=$1
	_gout=$2
	_first=1
	[ -n "$_spec" ] || return 1
	: >.stage
	while [ -n "$_spec" ]; do
		_stage=${_spec%%|*}
		case $_spec in
		*'|'*) _spec=${_spec#*|} ;;
		*) _spec= ;;
		esac
		set -f
		# shellcheck disable=SC2086
		set -- $_stage
		set +f
		[ $# -gt 0 ] || return 1
		_verb=$1
		shift
		case $_first:$_verb in
		1:empty | 1:text | 1:random | 1:cat | 1:key | 1:csr | \
		    1:selfcert | 1:envelope | 1:xchg | 1:fake-xchg) ;;
		0:base64 | 0:head | 0:flip | 0:pem) ;;
		*) return 1 ;;
		esac
		"gen_$(printf '%s' "$_verb" | tr - _)" "$@" <.stage \
		    >.stage.new || return 1
		mv .stage.new .stage
		_first=0
	done
	cat .stage >>"$_gout"
	rm -f .stage
}

# proto_file "NAME SPEC": one file: line. "NAME enroll ARGS" runs
# smimeca-enroll --out-dir NAME ARGS instead.
proto_file()
{
	_fname=${1%% *}
	_fspec=${1#"$_fname"}
	case $_fspec in
	' enroll '*)
		set -f
		# shellcheck disable=SC2086
		set -- ${_fspec# enroll }
		set +f
		smimeca-enroll --out-dir "$_fname" "$@" >.enroll.out 2>&1
		;;
	*)
		proto_gen "$_fspec" "$_fname"
		;;
	esac
}

# --- reading a case --------------------------------------------------------
# Keys that may repeat gather in lists of one value a line.
nl='
'

# proto_read FILE: sets the c_* variables; if FILE is not a case, says why
# in c_bad and returns 1.
proto_read()
{
	c_name='' c_method=GET c_path='' c_scheme=https c_auth=none
	c_body='' c_status='' c_command='' c_headers='' c_bmatch=''
	c_hmatch='' c_smatch='' c_files='' c_checks='' c_nofiles='' c_bad=''
	while IFS= read -r _l || [ -n "$_l" ]; do
		case $_l in
		'' | '#'*) continue ;;
		*:*) ;;
		*) c_bad="a line without a key: $_l"; break ;;
		esac
		_k=${_l%%:*}
		_v=${_l#*:}
		while :; do
			case $_v in
			' '* | '	'*) _v=${_v#?} ;;
			*) break ;;
			esac
		done
		case $_k in
		name) c_name=$_v ;;
		method) c_method=$_v ;;
		path) c_path=$_v ;;
		scheme) c_scheme=$_v ;;
		auth) c_auth=$_v ;;
		body) c_body=$_v ;;
		status) c_status=$_v ;;
		command) c_command=$_v ;;
		header) c_headers=$c_headers$_v$nl ;;
		body-match) c_bmatch=$c_bmatch$_v$nl ;;
		header-match) c_hmatch=$c_hmatch$_v$nl ;;
		stderr-match) c_smatch=$c_smatch$_v$nl ;;
		file) c_files=$c_files$_v$nl ;;
		check) c_checks=$c_checks$_v$nl ;;
		no-file) c_nofiles=$c_nofiles$_v$nl ;;
		*) c_bad="unknown key $_k"; break ;;
		esac
	done <"$1"
	if [ -z "$c_bad" ]; then
		case $c_status in
		'' | *[!0-9]*) c_bad="status: is not a number: '$c_status'" ;;
		esac
	fi
	if [ -z "$c_bad" ]; then
		if [ -z "$c_name" ]; then
			c_bad="no name:"
		elif [ -n "$c_path" ] && [ -n "$c_command" ]; then
			c_bad="both path: and command:"
		elif [ -z "$c_path" ] && [ -z "$c_command" ]; then
			c_bad="neither path: nor command:"
		elif [ -n "$c_command" ] &&
		    [ -n "$c_body$c_headers$c_bmatch$c_hmatch" ]; then
			c_bad="a command: case has HTTP keys"
		elif [ -n "$c_path" ] && [ -n "$c_smatch" ]; then
			c_bad="stderr-match: in an HTTP case"
		elif [ "$c_scheme" != https ] && [ "$c_scheme" != http ]; then
			c_bad="scheme: is neither http nor https"
		elif [ "$c_auth" != none ] && ! proto_account "$c_auth" \
		    >/dev/null && [ "${c_auth#*:}" = "$c_auth" ]; then
			c_bad="auth: is none, an account or USER:PASSWORD"
		fi
	fi
	[ -z "$c_bad" ]
}

# --- running a case --------------------------------------------------------
proto_http()
{
	set -- -g -m 60 -o .answer -D .headers -w '%{http_code}' \
	    -X "$c_method"
	if [ "$c_auth" != none ]; then
		_cred=$(proto_account "$c_auth") || _cred=$c_auth
		set -- "$@" -u "$_cred"
	fi
	while IFS= read -r _h; do
		[ -n "$_h" ] && set -- "$@" -H "$_h"
	done <<EOF
$c_headers
EOF
	[ -n "$c_body" ] && set -- "$@" --data-binary @.body
	if [ "$c_scheme" = http ]; then
		set -- "$@" "$HTTP_URL$c_path"
	else
		set -- "$@" "$HTTPS_URL$c_path"
	fi
	: >.answer
	: >.headers
	code=$(est_curl "$@" 2>.curl.err)
	is "$code" "$c_status" "$c_name: HTTP $c_status"
	[ -s .curl.err ] && diag "curl: $(cat .curl.err)"
	while IFS= read -r _m; do
		[ -n "$_m" ] && like "$(cat .answer)" "$_m" \
		    "$c_name: the answer says /$_m/"
	done <<EOF
$c_bmatch
EOF
	while IFS= read -r _m; do
		[ -n "$_m" ] && ilike "$(cat .headers)" "$_m" \
		    "$c_name: a header matches /$_m/"
	done <<EOF
$c_hmatch
EOF
	# A refusal is one line of text naming the problem.
	if [ "$c_status" -ge 400 ]; then
		is "$(wc -l <.answer | tr -d ' ')" 1 \
		    "$c_name: the reason is one line"
		ilike "$(cat .headers)" '^content-type: text/plain' \
		    "$c_name: the reason is text/plain"
	fi
}

proto_command()
{
	set -f
	# shellcheck disable=SC2086
	run_cmd smimeca -d "$LAB" $c_command
	set +f
	is "$rc" "$c_status" "$c_name: exit $c_status"
	while IFS= read -r _m; do
		[ -n "$_m" ] && like "$err" "$_m" "$c_name: stderr says /$_m/"
	done <<EOF
$c_smatch
EOF
	# A refusal is a short message on stderr.
	if [ "$c_status" -ne 0 ]; then
		_lines=$(printf '%s\n' "$err" | grep -c .)
		if [ "$_lines" -ge 1 ] && [ "$_lines" -le 3 ]; then
			ok "$c_name: one short message ($_lines lines)"
		else
			not_ok "$c_name: one short message" "$_lines lines:" \
			    "$err"
		fi
	fi
}

proto_case()
{
	_id=$1
	diag "tests/proto/$_id"
	if ! proto_read "$PROTO/$_id"; then
		not_ok "tests/proto/$_id is a case" "$c_bad"
		return 0
	fi
	mkdir "$T/cases/$_id" || bail_out "mkdir $T/cases/$_id"
	cd "$T/cases/$_id" || bail_out "cd $T/cases/$_id"
	while IFS= read -r _f; do
		[ -n "$_f" ] || continue
		if ! proto_file "$_f"; then
			not_ok "$c_name: file: $_f" \
			    "$(cat .enroll.out 2>/dev/null)"
			cd "$T" && return 0
		fi
	done <<EOF
$c_files
EOF
	if [ -n "$c_body" ] && ! proto_gen "$c_body" .body; then
		not_ok "$c_name: body: $c_body"
		cd "$T" && return 0
	fi
	while IFS= read -r _c; do
		[ -n "$_c" ] && check "$c_name: $_c" sh -c "$_c"
	done <<EOF
$c_checks
EOF
	_before=$(db_counts "$LAB")
	_refused=0
	if [ -n "$c_command" ]; then
		proto_command
		[ "$c_status" -ne 0 ] && _refused=1
	else
		proto_http
		[ "$c_status" -ge 400 ] && _refused=1
	fi
	if [ "$_refused" = 1 ]; then
		is "$(db_counts "$LAB")" "$_before" \
		    "$c_name: no certificate, audit row or request was added"
	fi
	while IFS= read -r _f; do
		[ -n "$_f" ] || continue
		if [ -e "$_f" ]; then
			not_ok "$c_name: no $_f written" "$(ls -l "$_f")"
		else
			ok "$c_name: no $_f written"
		fi
	done <<EOF
$c_nofiles
EOF
	cd "$T" || bail_out "cd $T"
}

mkdir "$T/cases" || bail_out "mkdir $T/cases"
ncases=0
for f in "$PROTO"/*; do
	id=${f##*/}
	case $id in
	*[!a-z0-9-]*) continue ;;	# README and editor files
	esac
	if [ -n "${PROTO_CASES:-}" ]; then
		case " $PROTO_CASES " in
		*" $id "*) ;;
		*) continue ;;
		esac
	fi
	proto_case "$id"
	ncases=$((ncases + 1))
done
if [ "$ncases" -gt 0 ]; then
	ok "$ncases cases in tests/proto"
else
	not_ok "cases in tests/proto" "none found in $PROTO"
fi

# --- after every case --------------------------------------------------------
openssl req -new -newkey rsa:2048 -nodes -keyout good.key \
    -subj "/CN=Alice/emailAddress=alice@lab.example" -outform DER \
    -out good.der 2>/dev/null
base64 -w0 good.der >good.b64
before=$(sqlite3 "$LAB/smimeca.db" 'SELECT count(*) FROM certs;')
code=$(est_curl -o answer -w '%{http_code}' -u "$(proto_account alice)" \
    -H 'Content-Type: application/pkcs10' --data-binary @good.b64 \
    "$HTTPS_URL/.well-known/est/simpleenroll")
is "$code" 200 "after every case, a good request is still served"
is "$(sqlite3 "$LAB/smimeca.db" 'SELECT count(*) FROM certs;')" \
    "$((before + 1))" "and issued exactly one certificate"
check "the audit chain verifies after the cases" smimeca -d "$LAB" audit verify
smimecad_stop
is "$smimecad_rc" 0 "SIGTERM: smimecad exits 0"
unlike "$(cat "$SMIMECAD_LOG")" "AddressSanitizer|runtime error" \
    "no sanitizer report in the server log"

done_testing
