#!/bin/sh
# smimeca cert list and cert show: filters, JSON checked against openssl,
# and an expired certificate made with faketime.
. "$(dirname "$0")/lib.sh"

# faketime preloads libfaketime; under AddressSanitizer the preload comes
# before the ASan runtime, which ASan refuses unless told not to check.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
export ASAN_OPTIONS
past=
why_no_past="faketime is not installed"
if command -v faketime >/dev/null 2>&1; then
	y=$(date -u +%Y)
	if [ "$(faketime '2 years ago' date -u +%Y 2>/dev/null)" != \
	    "$((y - 2))" ]; then
		why_no_past="faketime does not work here"
	elif ! faketime '2 years ago' smimeca --version >/dev/null 2>&1; then
		why_no_past="faketime cannot run smimeca (sanitizer build?)"
	else
		past=yes
	fi
fi

mkcsr alice alice@lab.example
mkcsr bob bob@lab.example
mkcsr carol carol@lab.example
mkcsr old old@lab.example

if [ -n "$past" ]; then
	# The CA and one certificate from two years ago: it has expired.
	run_ok -m "init two years ago (faketime)" \
	    faketime '2 years ago' smimeca -d lab init --name "Lab Issuing CA"
	run_ok -m "issue two years ago (faketime)" \
	    faketime '2 years ago' smimeca -d lab issue \
	    --template smime-signature --csr old.csr --out old.crt
	so=$out
	check "the old certificate has expired" \
	    sh -c '! openssl x509 -in old.crt -noout -checkend 0 >/dev/null'
else
	run_ok smimeca -d lab init --name "Lab Issuing CA"
fi
run_ok smimeca -d lab issue --template smime-signature --csr alice.csr \
    --out alice.crt
sa=$out
run_ok smimeca -d lab issue --template smime-signature --csr bob.csr \
    --out bob.crt
sb=$out
run_ok smimeca -d lab issue --template smime-dual --csr carol.csr \
    --out carol.crt
sc=$out
run_ok smimeca -d lab revoke "$sb" --reason keyCompromise
n=3
[ -n "$past" ] && n=4

# Serials of the data lines of a text listing (the header names no serial).
serials()
{
	printf '%s\n' "$1" | grep -Eo '^[0-9a-f]{32}' | LC_ALL=C sort |
	    tr '\n' ' '
}
sorted()
{
	for s in "$@"; do echo "$s"; done | LC_ALL=C sort | tr '\n' ' '
}

# --- text ---
run_ok smimeca -d lab cert list
list=$out
like "$(printf '%s\n' "$list" | head -n 1)" 'SERIAL' "a header line"
is "$(printf '%s\n' "$list" | sed 1d | grep -c .)" "$n" \
    "one line per certificate"
if [ -n "$past" ]; then
	is "$(serials "$list")" "$(sorted "$sa" "$sb" "$sc" "$so")" \
	    "all serials listed"
else
	is "$(serials "$list")" "$(sorted "$sa" "$sb" "$sc")" \
	    "all serials listed"
fi
line_a=$(printf '%s\n' "$list" | grep "^$sa")
like "$line_a" "^$sa +valid +[0-9]{4}-[0-9]{2}-[0-9]{2} +smime-signature +alice@lab.example +" \
    "alice's line: SERIAL valid NOT-AFTER TEMPLATE EMAIL SUBJECT"
like "$line_a" 'CN ?= ?alice' "alice's line shows the subject"
na=$(openssl x509 -in alice.crt -noout -enddate | sed 's/^notAfter=//')
is "$(printf '%s\n' "$line_a" | awk '{ print $3 }')" \
    "$(date -u -d "$na" +%Y-%m-%d)" "NOT-AFTER is the certificate's"
like "$(printf '%s\n' "$list" | grep "^$sb")" "^$sb +revoked " \
    "bob's line says revoked"
like "$(printf '%s\n' "$list" | grep "^$sc")" "^$sc +valid .*smime-dual" \
    "carol's line says smime-dual"

# --- filters ---
run_ok smimeca -d lab cert list --email alice@lab.example
is "$(serials "$out")" "$(sorted "$sa")" "--email selects alice only"
run_ok smimeca -d lab cert list --email nobody@lab.example
is "$(serials "$out")" "" "--email of nobody lists nothing"
run_ok smimeca -d lab cert list --template smime-dual
is "$(serials "$out")" "$(sorted "$sc")" "--template smime-dual"
run_ok smimeca -d lab cert list --status valid
is "$(serials "$out")" "$(sorted "$sa" "$sc")" "--status valid"
run_ok smimeca -d lab cert list --status revoked
is "$(serials "$out")" "$(sorted "$sb")" "--status revoked"
run_ok smimeca -d lab cert list --status expired
if [ -n "$past" ]; then
	is "$(serials "$out")" "$(sorted "$so")" "--status expired"
	like "$(printf '%s\n' "$list" | grep "^$so")" "^$so +expired " \
	    "the old certificate's line says expired"
else
	skip "--status expired lists the expired certificate" "$why_no_past"
fi
run_exit 2 -m "--status bogus is a usage error" \
    smimeca -d lab cert list --status bogus
run_ok smimeca -d lab cert list --email alice@lab.example --status revoked
is "$(serials "$out")" "" "filters combine"

# --- JSON ---
run_ok smimeca -d lab cert list --json
printf '%s\n' "$out" >list.json
for f in alice bob carol; do
	openssl x509 -in "$f.crt" -noout -serial >"$f.serial"
	openssl x509 -in "$f.crt" -noout -fingerprint -sha256 >"$f.sha256"
	openssl x509 -in "$f.crt" -noout -fingerprint -sha1 >"$f.sha1"
	openssl x509 -in "$f.crt" -noout -enddate >"$f.end"
done
py_tap list.json "$n" <<'EOF'
import subprocess
raw = open(sys.argv[1]).read()
try:
    data = json.loads(raw)
except ValueError as e:
    check(False, "cert list --json parses", e)
    sys.exit(0)
check(isinstance(data, list), "--json gives an array")
check(len(data) == int(sys.argv[2]), "one object per certificate", len(data))
def hexof(path):
    v = open(path).read().strip().split("=", 1)[1]
    return v.replace(":", "").lower()
by = {}
for o in data:
    by[int(o.get("serial", "0"), 16)] = o
want = {"alice": ("valid", "smime-signature", "alice@lab.example"),
        "bob": ("revoked", "smime-signature", "bob@lab.example"),
        "carol": ("valid", "smime-dual", "carol@lab.example")}
iso = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"
import re
for name, (status, tpl, mail) in want.items():
    ser = hexof(name + ".serial")
    o = by.get(int(ser, 16))
    if not check(o is not None, name + ": listed in JSON"):
        continue
    check(re.match(r"^[0-9a-f]{32}$", o["serial"]) is not None and
          int(o["serial"], 16) == int(ser, 16),
          name + ": serial is openssl's, lower-case", o["serial"])
    check(o.get("sha256", "").replace(":", "").lower() ==
          hexof(name + ".sha256"), name + ": sha256 is openssl's fingerprint",
          o.get("sha256"))
    check(o.get("sha1", "").replace(":", "").lower() ==
          hexof(name + ".sha1"), name + ": sha1 is openssl's fingerprint",
          o.get("sha1"))
    check(o.get("status") == status, name + ": status " + status,
          o.get("status"))
    check(o.get("template") == tpl, name + ": template " + tpl)
    check(o.get("email") == mail, name + ": email " + mail)
    check("CN=" in o.get("subject", "") or "CN =" in o.get("subject", ""),
          name + ": subject", o.get("subject"))
    for k in ("not_before", "not_after"):
        check(re.match(iso, o.get(k, "")) is not None,
              name + ": " + k + " is ISO 8601 UTC", o.get(k))
    end = open(name + ".end").read().strip().split("=", 1)[1]
    na = datetime.datetime.strptime(end, "%b %d %H:%M:%S %Y GMT")
    check(o.get("not_after") == na.strftime("%Y-%m-%dT%H:%M:%SZ"),
          name + ": not_after is the certificate's", o.get("not_after"))
    if status == "revoked":
        check(o.get("reason") == "keyCompromise",
              name + ": reason keyCompromise", o.get("reason"))
        check(re.match(iso, str(o.get("revoked_at", ""))) is not None,
              name + ": revoked_at is ISO 8601 UTC", o.get("revoked_at"))
    else:
        check(o.get("reason") is None, name + ": no reason")
EOF
run_ok smimeca -d lab cert list --json --status revoked
printf '%s\n' "$out" >revoked.json
py_tap revoked.json "$sb" <<'EOF'
data = json.load(open(sys.argv[1]))
check([o["serial"] for o in data] == [sys.argv[2]],
      "--json --status revoked gives bob only")
EOF
run_ok smimeca -d lab cert list --json --email nobody@lab.example
is "$(printf '%s' "$out" | tr -d ' \n')" "[]" \
    "--json with no match is an empty array"

# --- cert show ---
run_ok smimeca -d lab cert show "$sa" --pem
printf '%s\n' "$out" >shown.pem
check "cert show --pem equals the issued certificate" cmp shown.pem alice.crt
run_ok -m "cert show takes an upper-case serial" smimeca -d lab cert show \
    "$(printf '%s' "$sa" | tr 'a-f' 'A-F')" --pem
printf '%s\n' "$out" >shown2.pem
check "the same certificate" cmp shown2.pem alice.crt
run_ok smimeca -d lab cert show "$sb"
like "$out" "$sb" "cert show names the serial"
ilike "$out" 'revoked' "cert show says revoked"
ilike "$out" 'bob@lab.example' "cert show shows the email"
run_ok smimeca -d lab cert show "$sb" --json
printf '%s\n' "$out" >show.json
py_tap show.json "$sb" <<'EOF'
o = json.load(open(sys.argv[1]))
check(isinstance(o, dict) and o.get("serial") == sys.argv[2] and
      o.get("status") == "revoked" and o.get("reason") == "keyCompromise",
      "cert show --json is the certificate's object", o)
EOF
run_exit 1 -m "cert show of an unknown serial fails" \
    smimeca -d lab cert show 0123456789abcdef0123456789abcdef

done_testing
