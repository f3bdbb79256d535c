#!/bin/sh
# Expiring certificates (issue 14, lifecycle): `smimeca cert expiring` lists
# the unrevoked certificates of the issuing CA that expire within DAYS, each
# with its successor (a newer valid certificate of the same address and
# template), checked against openssl's notAfter; `smimeca expiry run` hands
# exactly that JSON to the configured hook (a test hook copies its stdin;
# python parses it), fails naming a failing hook; the example hook logs or
# mails (logger and sendmail stand-ins); the systemd units verify; `cert
# show --der -o` writes the certificate openssl reads, with the SHA-1
# thumbprint Exchange shows; smimecad's smimecad_certs_expiring gauges count
# the same certificates.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/smimecad.sh"

run_ok smimeca -d lab init --name "Lab Issuing CA" || bail_out "init failed"

# short-sig: a signature template that lives 10 days (then 100) and has no
# <active-limit>, so a renewal leaves the older certificate valid.
sed -e 's/name="smime-signature"/name="short-sig"/' \
    -e 's|<validity days="365"/>|<validity days="10"/>|' \
    -e '/active-limit/d' lab/templates/smime-signature.xml \
    >lab/templates/short-sig.xml
grep -q '<validity days="10"/>' lab/templates/short-sig.xml ||
    bail_out "short-sig.xml: no validity to shorten"

for u in alice bob carol dave; do
	mkcsr $u $u@lab.example
done
issue() # TEMPLATE USER OUT
{
	run_ok -m "issue $1 for $2" smimeca -d lab issue --template "$1" \
	    --csr "$2.csr" --out "$3" || bail_out "issue $1 for $2 failed"
	serial=$out
}
issue short-sig alice a1.crt; s_a1=$serial
issue short-sig bob b1.crt; s_b1=$serial
issue short-sig carol c1.crt; s_c1=$serial
# A 365-day certificate of another template: no successor of bob's.
issue smime-signature bob b2.crt; s_b2=$serial
sed -i 's|<validity days="10"/>|<validity days="100"/>|' \
    lab/templates/short-sig.xml
issue short-sig alice a2.crt; s_a2=$serial
issue short-sig dave d1.crt; s_d1=$serial
run_ok -m "revoke carol's certificate" smimeca -d lab revoke "$s_c1" \
    --reason keyCompromise

# --- cert expiring --------------------------------------------------------
run_ok smimeca -d lab cert expiring --within 30 --json
printf '%s\n' "$out" >exp30.json
run_ok smimeca -d lab cert expiring --within 30
table=$out
py_tap exp30.json "$s_a1" "$s_a2" "$s_b1" a1.crt a2.crt b1.crt <<'EOF'
d = json.load(open(sys.argv[1]))
sa1, sa2, sb1 = sys.argv[2:5]
ca1, ca2, cb1 = (load_cert(p) for p in sys.argv[5:8])
certs = d.get("certificates", [])
got = sorted(c["serial"] for c in certs)
check(got == sorted([sa1, sb1]), "within 30 days: alice's and bob's first "
      "(not carol's revoked one, not the 100- and 365-day ones)", got)
check(d.get("count") == 2 and d.get("renewed") == 1 and
      d.get("not_renewed") == 1 and d.get("within_days") == 30,
      "count 2, renewed 1, not_renewed 1, within_days 30", d)
by = {c["serial"]: c for c in certs}
a, b = by.get(sa1, {}), by.get(sb1, {})
check(a.get("renewed") is True and a.get("newer_serial") == sa2,
      "alice's successor is her 100-day certificate", a)
na = ca2.not_valid_after.strftime("%Y-%m-%dT%H:%M:%SZ")
check(a.get("newer_not_after") == na, "its notAfter is openssl's", (a, na))
check(b.get("renewed") is False and b.get("newer_serial") is None,
      "bob has no successor of template short-sig", b)
for c, x in ((a, ca1), (b, cb1)):
    na = x.not_valid_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    check(c.get("not_after") == na and
          c.get("sha1") == x.fingerprint(hashes.SHA1()).hex() and
          c.get("days_left") in (9, 10) and
          c.get("template") == "short-sig",
          "%s: notAfter, thumbprint, days left, template" % c.get("email"),
          c)
EOF
like "$table" "^$s_a1 .* alice@lab\.example +$s_a2\$" \
    "the table names alice's successor"
like "$table" "^$s_b1 .* bob@lab\.example +none \(renew\)\$" \
    "the table says bob must renew"
run_ok smimeca -d lab cert expiring --within 9 --json
is "$(printf '%s\n' "$out" | python3 -c 'import json,sys;
print(json.load(sys.stdin)["count"])')" 0 "none within 9 days"
run_ok smimeca -d lab cert expiring --within 11 --template smime-signature \
    --json
is "$(printf '%s\n' "$out" | python3 -c 'import json,sys;
print(json.load(sys.stdin)["count"])')" 0 "--template smime-signature: none"
run_ok smimeca -d lab cert expiring --within 101 --template short-sig --json
is "$(printf '%s\n' "$out" | python3 -c 'import json,sys;
print(" ".join(sorted(c["serial"] for c in json.load(sys.stdin)
["certificates"])))')" "$(printf '%s\n' "$s_a1" "$s_b1" "$s_a2" "$s_d1" |
    sort | tr '\n' ' ' | sed 's/ $//')" \
    "--within 101 --template short-sig: the four of short-sig"
run_exit 2 -m "--within 0 is a usage error" \
    smimeca -d lab cert expiring --within 0
like "$err" '--within 0' "the message names --within 0"
run_exit 2 -m "--within is required" smimeca -d lab cert expiring

# --- cert show --der ------------------------------------------------------
run_ok smimeca -d lab cert show --der "$s_a1" -o a1.cer
want=$(openssl x509 -in a1.crt -noout -fingerprint -sha1 | sed 's/.*=//' |
    tr -d ':')
like "$out" "^wrote a1\.cer \(certificate $s_a1, thumbprint $want\)\$" \
    "it prints the thumbprint as Exchange shows it"
run_ok -m "openssl x509 -inform DER reads a1.cer" \
    openssl x509 -inform DER -in a1.cer -noout -fingerprint -sha1
is "$(printf '%s' "$out" | sed 's/.*=//' | tr -d ':')" "$want" \
    "a1.cer has the SHA-1 thumbprint of the issued certificate"
check "a1.cer is the issued certificate, byte for byte" sh -c \
    'openssl x509 -in a1.crt -outform DER | cmp -s - a1.cer'
run_ok -m "cert show --der --out" \
    smimeca -d lab cert show "$s_b1" --der --out b1.cer
check "--out b1.cer is bob's" sh -c \
    'openssl x509 -in b1.crt -outform DER | cmp -s - b1.cer'
run_exit 2 -m "--pem with --der is a usage error" \
    smimeca -d lab cert show "$s_a1" --pem --der -o x.cer
run_exit 1 -m "an unknown serial fails" \
    smimeca -d lab cert show 0123456789abcdef --der -o x.cer
like "$err" 'no certificate with serial 0123456789abcdef' \
    "the message names the serial"
check "nothing written for it" test ! -e x.cer

# --- expiry run and its hook ----------------------------------------------
cat >hook.sh <<'EOF'
#!/bin/sh
cat >"$HOOK_OUT"
env | grep '^SMIMECA_' | sort >"$HOOK_OUT.env"
exit "${HOOK_RC:-0}"
EOF
chmod +x hook.sh
run_exit 1 -m "expiry run without a hook fails" smimeca -d lab expiry run
like "$err" 'no expiry hook.*<expiry hook=' "the message says how to set one"
cp lab/smimeca.conf conf.orig
sed -i "s|</smimeca-config>|  <expiry hook=\"$T/hook.sh\" within-days=\"30\"/>\\
</smimeca-config>|" lab/smimeca.conf
grep -q '<expiry hook=' lab/smimeca.conf || bail_out "no <expiry> written"
run_ok -m "expiry run with <expiry hook within-days=30>" \
    env HOOK_OUT="$T/got.json" smimeca -d lab expiry run
like "$out" "^expiry: 2 certificates expire within 30 days \(1 renewed\); \
hook $T/hook.sh ran\$" "it reports what it handed over"
py_tap got.json exp30.json <<'EOF'
raw = open(sys.argv[1]).read()
try:
    got = json.loads(raw)
except ValueError as e:
    got = None
check(got is not None, "the hook's stdin is one JSON document", raw[:200])
want = json.load(open(sys.argv[2]))
if got is not None:
    got.pop("generated", None); want.pop("generated", None)
    # days_left is whole days from the second each was made: 9 or 10.
    for d in (got, want):
        for c in d.get("certificates", []):
            if c.get("days_left") in (9, 10):
                c.pop("days_left")
    check(got == want, "it is what cert expiring --within 30 --json prints",
          (got, want))
EOF
is "$(cat got.json.env)" "$(printf '%s\n' SMIMECA_DATADIR="$SMIMECA_DATADIR" \
    SMIMECA_DIR="$T/lab" SMIMECA_EXPIRY_COUNT=2 SMIMECA_EXPIRY_DAYS=30 \
    SMIMECA_EXPIRY_NOT_RENEWED=1)" "the hook's environment has the figures"
sed -i 's/within-days="30"/within-days="101"/' lab/smimeca.conf
run_ok -m "within-days=101" env HOOK_OUT="$T/got101.json" \
    smimeca -d lab expiry run
is "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]));
print(d["within_days"], d["count"])' got101.json)" "101 4" \
    "the hook got the 101-day window: four certificates"
run_exit 1 -m "a failing hook fails the run" \
    env HOOK_OUT="$T/x.json" HOOK_RC=3 smimeca -d lab expiry run
like "$err" "expiry hook $T/hook\.sh failed: exit status 3" \
    "the message names the hook and its status"
run_exit 1 -m "a missing hook fails the run" \
    smimeca -d lab expiry run --hook "$T/nohook.sh"
like "$err" "expiry hook $T/nohook\.sh: cannot run it: No such file" \
    "the message names the missing hook"
chmod -x hook.sh
run_exit 1 -m "a hook that is not executable fails the run" \
    env HOOK_OUT="$T/x.json" smimeca -d lab expiry run
like "$err" "expiry hook $T/hook\.sh: cannot run it: Permission denied" \
    "the message names it"
chmod +x hook.sh
# A hook that reads nothing and exits 0 is fine.
printf '#!/bin/sh\nexit 0\n' >quiet.sh
chmod +x quiet.sh
run_ok -m "a hook that does not read its input" \
    smimeca -d lab expiry run --hook "$T/quiet.sh"
# The schema: within-days must be a number of days.
sed -i 's/within-days="101"/within-days="soon"/' lab/smimeca.conf
run_fails -m "within-days=\"soon\" is refused" \
    smimeca -d lab expiry run
like "$err" 'smimeca\.conf.*(within-days|expiry)' \
    "the message names the file and the attribute"
cp conf.orig lab/smimeca.conf

# --- the example hook: logger, or sendmail with MAILTO --------------------
mkdir bin
printf '#!/bin/sh\n{ printf "ARGS %%s\\n" "$*"; cat; } >>"%s/logger.out"\n' \
    "$T" >bin/logger
printf '#!/bin/sh\n{ printf "ARGS %%s\\n" "$*"; cat; } >>"%s/mail.out"\n' \
    "$T" >bin/sendmail
chmod +x bin/logger bin/sendmail
run_ok -m "etc/smimeca-expiry-hook logs without MAILTO" \
    env PATH="$T/bin:$PATH" smimeca -d lab expiry run --within 30 \
    --hook "$top_srcdir/etc/smimeca-expiry-hook"
log=$(cat logger.out 2>/dev/null)
like "$log" '^ARGS -t smimeca-expiry -- 2 certificate\(s\) expire within 30 days, 1 not renewed$' \
    "logger gets the summary"
like "$log" "$s_b1 short-sig bob@lab\\.example: NOT RENEWED" \
    "and bob's line"
like "$log" "$s_a1 short-sig alice@lab\\.example: renewed as $s_a2" \
    "and alice's"
run_ok -m "etc/smimeca-expiry-hook mails with MAILTO" \
    env PATH="$T/bin:$PATH" MAILTO=pki@lab.example smimeca -d lab \
    expiry run --within 30 --hook "$top_srcdir/etc/smimeca-expiry-hook"
mail=$(cat mail.out 2>/dev/null)
like "$mail" '^ARGS -t$' "sendmail -t"
like "$mail" '^To: pki@lab\.example$' "To: MAILTO"
like "$mail" '^Subject: smimeca: 2 certificate\(s\) expire within 30 days' \
    "the subject"
like "$mail" "$s_b1 short-sig bob@lab\\.example: NOT RENEWED" \
    "bob's line in the mail"
rm -f logger.out
run_ok -m "the example hook is quiet when nothing expires" \
    env PATH="$T/bin:$PATH" smimeca -d lab expiry run --within 5 \
    --hook "$top_srcdir/etc/smimeca-expiry-hook"
check "nothing logged" test ! -e logger.out

# --- the systemd units ----------------------------------------------------
like "$(cat "$top_srcdir/etc/smimeca-expiry.service")" \
    '^ExecStart=.*/smimeca -d \$\{SMIMECA_DIR\} expiry run$' \
    "the service runs smimeca expiry run"
like "$(cat "$top_srcdir/etc/smimeca-expiry.timer")" '^OnCalendar=daily$' \
    "the timer is daily"
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir units
	sed -e "s|/usr/local/sbin/smimeca|$(command -v smimeca)|" \
	    -e '/^Documentation=/d' \
	    "$top_srcdir/etc/smimeca-expiry.service" \
	    >units/smimeca-expiry.service
	sed -e '/^Documentation=/d' "$top_srcdir/etc/smimeca-expiry.timer" \
	    >units/smimeca-expiry.timer
	run_cmd systemd-analyze verify units/smimeca-expiry.service \
	    units/smimeca-expiry.timer
	# Users and groups of the unit need not exist on this machine.
	rest=$(printf '%s\n%s\n' "$out" "$err" | grep -v '^$' |
	    grep -Eiv 'user|group' || true)
	is "$rest" "" "systemd-analyze verify: the units are sound"
else
	skip "systemd-analyze verify" "systemd-analyze not installed"
fi

# --- smimecad_certs_expiring ----------------------------------------------
smimecad_start lab || bail_out "smimecad did not start"
run_ok -m "GET /metrics" curl -fsS "$HTTP_URL/metrics"
like "$out" '^smimecad_certs_expiring\{within="30d"\} 2$' \
    "smimecad_certs_expiring{within=\"30d\"} 2 (alice's and bob's first)"
like "$out" '^smimecad_certs_expiring\{within="7d"\} 0$' \
    "smimecad_certs_expiring{within=\"7d\"} 0"
like "$out" '^# TYPE smimecad_certs_expiring gauge$' "a gauge"
smimecad_stop
# Revoked ones leave the count (a fresh daemon counts anew).
run_ok smimeca -d lab revoke "$s_b1" --reason superseded
smimecad_start_on lab || bail_out "smimecad did not restart"
run_ok -m "GET /metrics again" curl -fsS "$HTTP_URL/metrics"
like "$out" '^smimecad_certs_expiring\{within="30d"\} 1$' \
    "after revoking bob's: 1 within 30 days"
smimecad_stop

done_testing
