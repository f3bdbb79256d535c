#!/bin/sh
# smimeca template list|show|check, and the stock templates against the
# RelaxNG schema with xmllint.
. "$(dirname "$0")/lib.sh"

stock="smime-encryption smime-signature smime-signature-device smime-dual
    device-auth kra"
tdir=$top_srcdir/etc/templates

run_ok smimeca -d lab init --key ec:p256 || bail_out "init failed"

# --- template list ---
run_ok smimeca -d lab template list
list=$out
for t in $stock; do
	like "$list" "(^|[^a-z0-9-])$t([^a-z0-9-]|\$)" "template list shows $t"
done
like "$(printf '%s\n' "$list" | grep -E '(^|[^a-z-])smime-encryption([^a-z-]|$)')" \
    'required' "smime-encryption: archival required"
like "$(printf '%s\n' "$list" | grep -E '(^|[^a-z-])smime-signature([^a-z-]|$)')" \
    'forbidden' "smime-signature: archival forbidden"
run_ok smimeca -d lab template list --json
printf '%s\n' "$out" >list.json
py_tap list.json <<'EOF'
data = json.load(open(sys.argv[1]))
names = sorted(o.get("name") for o in data)
check(names == sorted(["smime-encryption", "smime-signature",
                       "smime-signature-device", "smime-dual",
                       "device-auth", "kra"]),
      "template list --json names the six stock templates", names)
by = {o["name"]: o for o in data}
check(by.get("smime-encryption", {}).get("archival") == "required",
      "smime-encryption archival required (json)")
check(by.get("smime-signature", {}).get("archival") == "forbidden",
      "smime-signature archival forbidden (json)")
check(by.get("smime-encryption", {}).get("validity_days") == 365,
      "smime-encryption is valid for one year (json)")
EOF

# --- template show ---
run_ok smimeca -d lab template show smime-signature
printf '%s\n' "$out" >shown.xml
if command -v xmllint >/dev/null 2>&1; then
	check "template show prints XML that xmllint parses" \
	    xmllint --noout shown.xml
	run_ok -m "root element" xmllint --xpath 'name(/*)' shown.xml
	is "$out" template "the root element is <template>"
	run_ok -m "template name" xmllint --xpath 'string(/*/@name)' shown.xml
	is "$out" smime-signature "it is smime-signature"
else
	skip "template show prints XML that xmllint parses" "no xmllint"
fi
run_exit 1 -m "template show of an unknown name fails" \
    smimeca -d lab template show no-such-template
ilike "$err" 'no-such-template' "the message names the template"

# --- the stock files: template check and the schema ---
is "$(find "$tdir" -maxdepth 1 -name '*.xml' | wc -l | tr -d ' ')" 6 \
    "six stock template files"
for t in $stock; do
	run_exit 0 -m "template check $t.xml" \
	    smimeca -d lab template check "$tdir/$t.xml"
	like "$out" "$t.xml: ok" "it says $t.xml: ok"
	check "lab/templates/$t.xml is the stock file" \
	    cmp "lab/templates/$t.xml" "$tdir/$t.xml"
done
if command -v xmllint >/dev/null 2>&1; then
	check "etc/template.rng exists" test -f "$top_srcdir/etc/template.rng"
	for f in "$tdir"/*.xml; do
		run_ok -m "xmllint --relaxng template.rng $(basename "$f")" \
		    xmllint --noout --relaxng "$top_srcdir/etc/template.rng" "$f"
	done
else
	skip "xmllint --relaxng validates the stock templates" "no xmllint"
fi

run_exit 0 -m "template check needs no CA directory" \
    smimeca -d "$T/no-ca" template check "$tdir/kra.xml"

# --- broken templates ---
# An unknown element, on the line after <purpose>.
sed '/<purpose>/a\
  <frobnicate/>' "$tdir/smime-signature.xml" >bad.xml
line=$(grep -n '<frobnicate/>' bad.xml | cut -d: -f1)
like "$line" '^[0-9]+$' "bad.xml has <frobnicate/> on one line"
run_exit 1 -m "template check rejects an unknown element" \
    smimeca -d lab template check bad.xml
like "$out$err" 'bad\.xml:[0-9]+' "the message has file:line"
like "$out$err" "bad\\.xml:$line([^0-9]|\$)" "the line is $line"
ilike "$out$err" 'frobnicate' "the message names the element"
if command -v xmllint >/dev/null 2>&1; then
	run_fails -m "xmllint --relaxng also rejects bad.xml" \
	    xmllint --noout --relaxng "$top_srcdir/etc/template.rng" bad.xml
fi

# Not well-formed.
sed 's|</purpose>|</porpose>|' "$tdir/smime-signature.xml" >malformed.xml
run_exit 1 -m "template check rejects malformed XML" \
    smimeca -d lab template check malformed.xml
like "$out$err" 'malformed\.xml:[0-9]+' "the message has file:line"

# An unknown key usage name.
sed 's|<usage>digitalSignature</usage>|<usage>frobUsage</usage>|' \
    "$tdir/smime-signature.xml" >badusage.xml
check "badusage.xml differs from the stock file" \
    sh -c "! cmp -s badusage.xml '$tdir/smime-signature.xml'"
run_exit 1 -m "template check rejects an unknown key usage" \
    smimeca -d lab template check badusage.xml
ilike "$out$err" 'badusage\.xml' "the message names the file"

run_exit 1 -m "template check of a missing file fails" \
    smimeca -d lab template check no-such-file.xml
ilike "$err" 'no-such-file\.xml' "the message names the file"

done_testing
