#!/bin/sh
# The test harness itself (tests/lib.sh): a failing result is reported as
# failing, the helpers leave the caller's variables alone, Python checks
# without the cryptography module count as one skip each, the CRL helpers
# see through openssl's exit status, and the exit status survives cleanup.
# Results of the helpers under test are taken in subshells, so that their
# "not ok" lines are read here, not counted.

. "$(dirname "$0")/lib.sh"

# tap CMDS: the TAP lines a piece of harness code prints (a subshell with its
# own counter).
tap()
{
	(tap_n=0; tap_failed=0; eval "$1") 2>&1
}

# --- results ----------------------------------------------------------------
is "$(tap 'ok "a b"')" "ok 1 - a b" "ok prints ok N - DESC"
like "$(tap 'not_ok "bad" "why 1" "why 2"')" \
    '^not ok 1 - bad$' "not_ok prints not ok N - DESC"
like "$(tap 'not_ok "bad" "why 1" "why 2"')" '# why 2' \
    "not_ok prints its diagnostics"
is "$(tap 'ok "x # y"')" "ok 1 - x _ y" "a '#' in a description is no directive"
is "$(tap 'is a b "d"' | head -n 1)" "not ok 1 - d" "is: unequal is not ok"
is "$(tap 'is a a "d"')" "ok 1 - d" "is: equal is ok"
is "$(tap 'like abc "^b" "d"' | head -n 1)" "not ok 1 - d" \
    "like: no match is not ok"
is "$(tap 'unlike abc "B" "d"' | head -n 1)" "not ok 1 - d" \
    "unlike: a match (any case) is not ok"
is "$(tap 'run_ok -m d false' | head -n 1)" "not ok 1 - d" \
    "run_ok: a failing command is not ok"
is "$(tap 'run_fails -m d true' | head -n 1)" "not ok 1 - d" \
    "run_fails: a command that succeeds is not ok"
is "$(tap 'run_fails -m d no-such-command-here' | head -n 1)" \
    "not ok 1 - d" "run_fails: a command not found (127) is not ok"
is "$(tap 'run_exit 2 -m d sh -c "exit 3"' | head -n 1)" "not ok 1 - d" \
    "run_exit: another status is not ok"
is "$(tap 'check d sh -c "exit 1"' | head -n 1)" "not ok 1 - d" \
    "check: a failing command is not ok"
is "$(tap 'skip d why')" "ok 1 - d # SKIP why" "skip is a TAP skip"
is "$(tap 'ok a; not_ok b; done_testing' | tail -n 1)" "1..2" \
    "done_testing prints the plan"

# --- the caller's variables -------------------------------------------------
# t-est.sh's refused() keeps its description in _d; a not_ok inside is()
# once overwrote it, and every later result carried the wrong words.
names='_d _s _m _l _p _rc _want _prc _pyn _name _mail _spec _subj _dir _i
_kd'
mine()
{
	for v in $names; do
		eval "$v=mine-$v"
	done
	is x y "inner" >/dev/null
	not_ok "inner" "diag" >/dev/null
	like x y "inner" >/dev/null
	unlike x x "inner" >/dev/null
	run_ok -m inner false >/dev/null
	run_fails true >/dev/null
	run_exit 3 false >/dev/null
	check inner false >/dev/null
	mkcsr harness "" >/dev/null
	printf 'x' | keydigest k >/dev/null
	py_tap >/dev/null <<'EOF'
check(True, "inner")
EOF
	for v in $names; do
		eval "printf '%s=%s\n' $v \"\$$v\""
	done
}
. "$top_srcdir/tests/keys.sh"
got=$( (tap_n=0; mine) )
want=$(for v in $names; do printf '%s=mine-%s\n' "$v" "$v"; done)
is "$got" "$want" "the helpers leave the caller's _d, _s, _m ... alone"
refusedish()
{
	_d=$1
	is 1 2 "$_d: first" >/dev/null
	printf '%s\n' "$_d"
}
is "$( (refusedish "my words") )" "my words" \
    "a function's _d survives a failing is()"

# --- Python checks without the cryptography module --------------------------
cat >checks.py <<'EOF'
check(a == 1, "first check")
for p in sys.argv[1:]:
    check(p in x, "per file %s" % p)
check(f("x", 2),
      "third, on a new line", why)
check(True, desc)
EOF
is "$(py_checks checks.py | tr '\n' '|')" \
    "first check|per file %s|third, on a new line|python check 4|" \
    "py_checks lists each check() call with its description"
nopy=$( (tap_n=0; PY=/bin/false; py_tap a b <checks.py) )
is "$(printf '%s\n' "$nopy" | grep -c '# SKIP')" 4 \
    "without cryptography, py_tap counts four skips for four checks"
unlike "$nopy" '^not ok' "and no failure"
if have_pycrypto; then
	got=$( (tap_n=0; py_tap <<'EOF'
check(False, "a failing python check")
EOF
) )
	like "$got" '^not ok 1 - a failing python check' \
	    "py_tap turns not ok lines into failures"
	got=$( (tap_n=0; py_tap <<'EOF'
raise SystemExit(3)
EOF
) )
	like "$got" 'not ok .*ran to the end' \
	    "py_tap: a script that dies is a failure"
else
	skip "py_tap turns not ok lines into failures" "no cryptography"
	skip "py_tap: a script that dies is a failure" "no cryptography"
fi

# --- CRL helpers: a bad signature and another reason to fail ----------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt \
    -days 10 -subj /CN=Harness-CA -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign >/dev/null 2>&1
openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt \
    -days 10 -subj /CN=Harness-CA -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign >/dev/null 2>&1
mkcsr leaf leaf@lab.example
openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -set_serial 7 \
    -days 5 -out leaf.crt >/dev/null 2>&1
mkdir db
: >db/index.txt
cat >ca.cnf <<'EOF'
[ca]
default_ca = c
[c]
database = db/index.txt
crlnumber = db/crlnumber
default_md = sha256
default_crl_days = 1
EOF
echo 01 >db/crlnumber
check "openssl ca -revoke of the leaf" openssl ca -config ca.cnf \
    -cert ca.crt -keyfile ca.key -revoke leaf.crt
check "openssl ca -gencrl (good)" openssl ca -config ca.cnf -cert ca.crt \
    -keyfile ca.key -gencrl -out good.crl
check "openssl ca -gencrl by another key with the same name" openssl ca \
    -config ca.cnf -cert other.crt -keyfile other.key -gencrl -out bad.crl
run_cmd openssl crl -in bad.crl -CAfile ca.crt -noout -verify
diag "openssl crl -verify of a badly signed CRL: exit $rc, $err"
crl_verifies "crl_verifies: the good CRL" good.crl ca.crt
is "$(tap 'crl_verifies d bad.crl ca.crt' | head -n 1)" "not ok 1 - d" \
    "crl_verifies: a CRL signed by another key is not ok"
verify_revoked "verify_revoked: the leaf on the good CRL" leaf.crt ca.crt \
    good.crl
is "$(tap 'verify_revoked d leaf.crt ca.crt bad.crl' | head -n 1)" \
    "not ok 1 - d" "verify_revoked: a badly signed CRL is not ok"
is "$(tap 'verify_revoked d leaf.crt other.crt good.crl' | head -n 1)" \
    "not ok 1 - d" "verify_revoked: another CA is not ok"

# --- the exit status --------------------------------------------------------
sh -c '. "$top_srcdir/tests/lib.sh"; exit 3' >/dev/null 2>&1
is "$?" 3 "the EXIT trap keeps the test's exit status"
sh -c '. "$top_srcdir/tests/lib.sh"; echo "$T" >"$1/tdir"' x "$T" \
    >/dev/null 2>&1
check "the temporary directory is gone at exit" \
    sh -c '[ -s tdir ] && [ ! -e "$(cat tdir)" ]'

done_testing
