#!/bin/sh
# The stock smime-signature-device template: one signing certificate per
# device, up to 5 active per user (refused past that, never superseded).
# Five CSRs made by openssl for carol are issued and all stay valid
# (smimeca cert list --json, openssl verify); the sixth is refused with a
# message naming the limit and how to revoke, and nothing is stored; after
# one is revoked a sixth is issued. Another user has a limit of his own.
# smime-encryption still supersedes: carol's second encryption certificate
# revokes the first (reason superseded) and leaves the signing ones alone.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/keys.sh"

command -v smimeca-enroll >/dev/null 2>&1 ||
    bail_out "smimeca-enroll not found in $top_builddir/tools (build first)"

TPL=smime-signature-device
MAIL=carol@lab.example

run_ok smimeca -d "$T/lab" init --lab --key rsa:2048 --no-ldap ||
    bail_out "smimeca init --lab failed"

# --- the template as installed ----------------------------------------------
run_ok smimeca -d lab template show $TPL
printf '%s\n' "$out" >tpl.xml
py_tap tpl.xml <<'EOF'
import xml.etree.ElementTree as ET
t = ET.parse(sys.argv[1]).getroot()
lim = t.find("active-limit")
check(lim is not None and lim.get("max") == "5",
      "smime-signature-device: active-limit max 5", None if lim is None
      else lim.attrib)
check(lim is not None and lim.get("on-limit") == "refuse",
      "smime-signature-device: on-limit refuse (not supersede)",
      None if lim is None else lim.attrib)
check(t.findtext("archival") == "forbidden",
      "smime-signature-device: archival forbidden", t.findtext("archival"))
check(t.findtext("purpose") == "smime-signature",
      "smime-signature-device: purpose smime-signature", t.findtext("purpose"))
EOF

# The listing of one user's certificates, for py_tap.
list_json()
{
	smimeca -d lab cert list --email "$1" --json >"$2" ||
	    not_ok "smimeca cert list --email $1 --json"
}

# Checks of a listing: JSON TEMPLATE WANT-VALID WANT-REVOKED [REASON]
# (serials separated by commas; REASON of the revoked ones).
LIST_CHECK='
path, tpl, valid, revoked = sys.argv[1:5]
reason = sys.argv[5] if len(sys.argv) > 5 else None
tag = "%s (%s)" % (os.path.basename(path), tpl)
norm = lambda s: s.lower().lstrip("0")
valid = set(norm(s) for s in valid.split(",") if s)
revoked = set(norm(s) for s in revoked.split(",") if s)
rows = [r for r in json.load(open(path)) if r.get("template") == tpl]
by = dict((norm(r["serial"]), r) for r in rows)
got_valid = set(s for s, r in by.items() if r.get("status") == "valid")
got_rev = set(s for s, r in by.items() if r.get("status") == "revoked")
check(got_valid == valid,
      "%s: %d valid, the expected ones" % (tag, len(valid)),
      "got %s want %s" % (sorted(got_valid), sorted(valid)))
check(got_rev == revoked,
      "%s: %d revoked, the expected ones" % (tag, len(revoked)),
      "got %s want %s" % (sorted(got_rev), sorted(revoked)))
check(len(rows) == len(valid) + len(revoked),
      "%s: %d certificates in all" % (tag, len(valid) + len(revoked)),
      len(rows))
if reason is not None and revoked:
    rs = [by[s].get("reason") for s in revoked if s in by]
    check(rs and all(x == reason for x in rs),
          "%s: revoked with reason %s" % (tag, reason), rs)
'
printf '%s\n' "$LIST_CHECK" >"$T/list-check.py"
list_check()
{
	py_tap "$@" <"$T/list-check.py"
}

# --- five devices of carol: five valid certificates -------------------------
serials=
for i in 1 2 3 4 5; do
	mkcsr dev$i $MAIL
	run_ok -m "issue $TPL for carol's device $i" \
	    smimeca -d lab issue --template $TPL --csr dev$i.csr \
	    --out dev$i.crt || continue
	eval "serial$i=\$out"
	serials="$serials${serials:+,}$out"
	check "openssl verify -purpose smimesign dev$i.crt" \
	    openssl verify -purpose smimesign -CAfile lab/chain.pem dev$i.crt
	like "$out" 'dev[0-9]\.crt: OK' "openssl says dev$i.crt: OK"
done
list_json $MAIL five.json
list_check five.json $TPL "$serials" ""

# --- the sixth is refused --------------------------------------------------
mkcsr dev6 $MAIL
run_exit 1 -m "a sixth $TPL certificate for carol is refused (exit 1)" \
    smimeca -d lab issue --template $TPL --csr dev6.csr --out dev6.crt
like "$err" "template $TPL allows 5 active" "the message names the limit (5)"
like "$err" "$MAIL holds 5" "the message names the user and her count"
like "$err" "smimeca revoke $serial1 " \
    "the message says how to revoke, naming the oldest serial"
like "$err" "smimeca cert list --email $MAIL --template $TPL" \
    "the message says how to list them"
check "no dev6.crt written" test ! -e dev6.crt
list_json $MAIL refused.json
list_check refused.json $TPL "$serials" ""

# Another user is not counted with carol.
mkcsr dave dave@lab.example
run_ok -m "dave's first $TPL certificate is issued" \
    smimeca -d lab issue --template $TPL --csr dave.csr --out dave.crt

# --- a retired device makes room ------------------------------------------
run_ok -m "revoke carol's device 3 (cessationOfOperation)" \
    smimeca -d lab revoke "$serial3" --reason cessationOfOperation
run_ok -m "after the revocation, the sixth is issued" \
    smimeca -d lab issue --template $TPL --csr dev6.csr --out dev6.crt
serial6=$out
check "openssl verify -purpose smimesign dev6.crt" \
    openssl verify -purpose smimesign -CAfile lab/chain.pem dev6.crt
list_json $MAIL after.json
list_check after.json $TPL "$serial1,$serial2,$serial4,$serial5,$serial6" \
    "$serial3" cessationOfOperation
mkcsr dev7 $MAIL
run_exit 1 -m "full again: a seventh is refused" \
    smimeca -d lab issue --template $TPL --csr dev7.csr --out dev7.crt
like "$err" "allows 5 active" "the message names the limit again"

# --- encryption still supersedes, per user --------------------------------
run_ok smimeca -d lab xchg show --pem || bail_out "no exchange certificate"
printf '%s\n' "$out" >xchg.pem
enroll enc1 $MAIL Carol || bail_out "carol's first encryption certificate"
enc1=$serial
enroll enc2 $MAIL Carol || bail_out "carol's second encryption certificate"
enc2=$serial
list_json $MAIL enc.json
list_check enc.json smime-encryption "$enc2" "$enc1" superseded
list_check enc.json $TPL "$serial1,$serial2,$serial4,$serial5,$serial6" \
    "$serial3" cessationOfOperation

done_testing
