#!/bin/sh
# Intune-style bound SCEP challenges and the iOS SCEP payload, from the
# CLI (the SCEP server that checks them is tested with its own clients).
#
# `smimeca mdm scep-challenge` prints one line, "mdm1." base64 "." base64,
# that Python checks on its own reading of ca/mdmchal.h: the tag is the
# first 16 bytes of HMAC-SHA256 under lab/private/mdm-challenge.key (mode
# 0600) over "smimeca mdm1\0" || payload, and the payload names the id,
# the expiry (now + --ttl), the template, the lower-cased address, the
# subject (empty: /CN=ADDRESS) and the device; at most 200 PrintableString
# characters. The row is in mdm_challenges, unused; the audit log names
# the challenge's id and names but the challenge itself is stored nowhere
# in the database. Templates SCEP cannot serve, unknown templates, bad
# options and oversized names are refused.
#
# `export mobileconfig --scep-url --scep-challenge` adds one
# com.apple.security.scep payload, read back with plistlib: keys of Apple's
# schema only (apple/device-management com.apple.security.scep.yaml), the
# URL and challenge, Keysize 2048 (or --scep-keysize 4096), Key Type RSA,
# Key Usage 1, the bound subject as Apple's array of [type, value] pairs
# (emailAddress as its OID), SubjectAltName {rfc822Name: the address},
# CAFingerprint = SHA-1 of the root's DER (the top of the chain GetCACert
# serves, which Apple's client hashes); the IMAP or EAS account signs with
# that payload (SMIMESigningCertificateUUID) and still encrypts with the
# escrowed key's PKCS#12 payload. A challenge bound to another address,
# tampered, expired or used is refused before anything is written; a
# static one is passed through with the default subject.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/keys.sh"

command -v smimeca-enroll >/dev/null 2>&1 ||
    bail_out "smimeca-enroll not found in $top_builddir/tools (build first)"

run_ok smimeca -d "$T/lab" init --lab --two-tier --key rsa:2048 --no-ldap ||
    bail_out "smimeca init --lab failed"
officer_pw 1 >kp1
[ -s kp1 ] || bail_out "no password for officer1.p12 in passwords.txt"

# --- mdm scep-challenge -----------------------------------------------------
before=$(date +%s)
run_ok -m "mdm scep-challenge for Alice@Lab.Example with a device" \
    smimeca -d lab mdm scep-challenge --template smime-signature-device \
    --email Alice@Lab.Example --device "Alice's iPhone" --ttl 90m
chal=$out
like "$chal" '^mdm1\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+$' \
    "one line: mdm1. base64 . base64"
like "$err" 'single use until .*rfc822Name alice@lab\.example, device Alice' \
    "stderr says what it binds and until when"
is "$(stat -c %a lab/private/mdm-challenge.key)" 600 \
    "the challenge key lab/private/mdm-challenge.key is mode 0600"
printf '%s\n' "$chal" >alice.chal
py_tap alice.chal lab/private/mdm-challenge.key "$before" <<'EOF'
import base64, hmac
chal = open(sys.argv[1]).read().strip()
key = bytes.fromhex(open(sys.argv[2]).read().strip())
before = int(sys.argv[3])
check(len(key) == 32, "the key file holds 32 bytes in hex", len(key))
check(len(chal) <= 200, "the challenge is at most 200 characters", len(chal))
printable = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                "0123456789 '()+,-./:=?")
check(set(chal) <= printable, "every character is a PrintableString one",
      set(chal) - printable)
pre, p64, t64 = chal.split(".")
payload, tag = base64.b64decode(p64), base64.b64decode(t64)
want = hmac.new(key, b"smimeca mdm1\0" + payload, "sha256").digest()[:16]
check(hmac.compare_digest(tag, want),
      "the tag is HMAC-SHA256 over the context and payload, 16 bytes",
      (tag.hex(), want.hex()))
f = payload.decode().split("\n")
check(len(f) == 6, "six payload fields", f)
check(f[0] == "1", "the id is 1", f[0])
check(before + 5400 <= int(f[1]) <= before + 5400 + 60,
      "it expires 90 minutes after it was made", int(f[1]) - before)
check(f[2:] == ["smime-signature-device", "alice@lab.example", "",
                "Alice's iPhone"],
      "template, lower-cased address, default subject, device", f[2:])
EOF

run_ok -m "mdm scep-challenge --json, a subject of its own" \
    smimeca -d lab mdm scep-challenge --template smime-signature \
    --email bob@lab.example --subject "/CN=Bob Example/O=Lab" --json
printf '%s\n' "$out" >bob.json
py_tap bob.json <<'EOF'
j = json.load(open(sys.argv[1]))
check(j.get("id") == 2 and j.get("template") == "smime-signature",
      "--json: id 2, the template", j)
check(j.get("email") == "bob@lab.example" and
      j.get("subject") == "/CN=Bob Example/O=Lab",
      "--json: the address and the subject", j)
check(j.get("device") is None and j.get("challenge", "").startswith("mdm1."),
      "--json: no device, the challenge", j)
check(len(j.get("expires", "")) == 20, "--json: the expiry in ISO 8601", j)
EOF
py_tap lab/smimeca.db alice.chal <<'EOF'
import sqlite3
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT id, template, email, subject, device, used FROM "
                  "mdm_challenges ORDER BY id").fetchall()
check(rows == [(1, "smime-signature-device", "alice@lab.example",
                "/CN=alice@lab.example", "Alice's iPhone", None),
               (2, "smime-signature", "bob@lab.example",
                "/CN=Bob Example/O=Lab", None, None)],
      "mdm_challenges holds both, unused", rows)
chal = open(sys.argv[2]).read().strip().encode()
blob = open(sys.argv[1], "rb").read()
for w in ("lab/smimeca.db-wal",):
    if os.path.exists(w):
        blob += open(w, "rb").read()
check(chal not in blob and chal.split(b".")[2] not in blob,
      "the challenge itself is stored nowhere in the database")
EOF
run_ok smimeca -d lab audit list
like "$out" 'mdm-scep-challenge alice@lab\.example id=1 template=smime-signature-device subject=/CN=alice@lab\.example device=Alice.s iPhone expires=' \
    "audit list names the challenge's id and names"
unlike "$out" "$(printf '%s' "$chal" | cut -d. -f3 | sed 's/[+/=]/./g')" \
    "the audit log does not hold the challenge's tag"
run_ok -m "audit verify after the challenges" smimeca -d lab audit verify

run_exit 1 -m "no challenge for smime-encryption (SCEP cannot carry escrow)" \
    smimeca -d lab mdm scep-challenge --template smime-encryption \
    --email alice@lab.example
like "$err" 'smime-encryption does not list the scep protocol' \
    "the message says why"
run_exit 1 -m "no challenge for an unknown template" \
    smimeca -d lab mdm scep-challenge --template nosuch --email a@lab.example
like "$err" 'nosuch' "the message names it"
run_exit 1 -m "no challenge for a malformed address" \
    smimeca -d lab mdm scep-challenge --template smime-signature \
    --email "alice at lab"
run_exit 1 -m "no challenge with a subject not of the /CN= form" \
    smimeca -d lab mdm scep-challenge --template smime-signature \
    --email alice@lab.example --subject "CN=Alice"
like "$err" 'not a name of the form /CN=' "the message shows the form"
run_exit 1 -m "no challenge longer than 200 characters" \
    smimeca -d lab mdm scep-challenge --template smime-signature \
    --email alice@lab.example --device "Alice's iPhone 15 Pro Max" \
    --subject "/CN=Alice Example With A Long Name/O=A Long Organisation/OU=Unit"
like "$err" 'more than the 200' "the message gives the limit"
run_exit 2 -m "--ttl 5x is a usage error" \
    smimeca -d lab mdm scep-challenge --template smime-signature \
    --email alice@lab.example --ttl 5x
run_exit 2 -m "no --email is a usage error" \
    smimeca -d lab mdm scep-challenge --template smime-signature
chmod 644 lab/private/mdm-challenge.key
run_exit 1 -m "a challenge key others can read is refused" \
    smimeca -d lab mdm scep-challenge --template smime-signature \
    --email alice@lab.example
like "$err" 'permissions 0644 are too open' "the message says why"
chmod 600 lab/private/mdm-challenge.key

# --- export mobileconfig with a SCEP payload --------------------------------
run_ok smimeca -d lab xchg show --pem || bail_out "no exchange certificate"
printf '%s\n' "$out" >xchg.pem
enroll bob1 bob@lab.example Bob || bail_out "bob's certificate"
run_ok -m "a challenge for bob with emailAddress in the subject" \
    smimeca -d lab mdm scep-challenge --template smime-signature-device \
    --email bob@lab.example --subject "/CN=Bob/emailAddress=bob@lab.example"
bobchal=$out
URL=http://127.0.0.1:8080/scep/smime-signature-device
awk '/-----BEGIN CERTIFICATE-----/ { n++; f = "chain-" n ".pem" }
    f != "" { print > f }
    /-----END CERTIFICATE-----/ { close(f); f = "" }' lab/chain.pem

# The checks of a profile's SCEP payload: PROFILE URL CHALLENGE KEYSIZE
# SUBJECT-JSON ACCOUNT(mail|eas) CURRENT-CERT ISSUING.pem ROOT.pem
SCEP_CHECK='
import plistlib
from cryptography.hazmat.primitives.serialization import pkcs12
path, url, chal, keysize, subj, acct, current, issuing, root = sys.argv[1:10]
tag = os.path.basename(path)
top = plistlib.loads(open(path, "rb").read(), fmt=plistlib.FMT_XML)
pc = top.get("PayloadContent")
pc = pc if isinstance(pc, list) else []
sceps = [p for p in pc if isinstance(p, dict) and
         p.get("PayloadType") == "com.apple.security.scep"]
p12s = [p for p in pc if isinstance(p, dict) and
        p.get("PayloadType") == "com.apple.security.pkcs12"]
atype = "com.apple.eas.account" if acct == "eas" else "com.apple.mail.managed"
accts = [p for p in pc if isinstance(p, dict) and p.get("PayloadType") == atype]
if not check(len(sceps) == 1, "%s: one com.apple.security.scep payload" % tag,
             len(sceps)):
    sys.exit(0)
s = sceps[0]
check(s.get("PayloadVersion") == 1 and isinstance(s.get("PayloadUUID"), str)
      and isinstance(s.get("PayloadIdentifier"), str),
      "%s: the SCEP payload has PayloadVersion 1, a UUID, an identifier" % tag)
c = s.get("PayloadContent")
if not check(isinstance(c, dict), "%s: its PayloadContent is a dictionary" % tag,
             type(c)):
    sys.exit(0)
apple = {"URL", "Name", "Subject", "Challenge", "Keysize", "Key Type",
         "Key Usage", "CAFingerprint", "Retries", "RetryDelay",
         "SubjectAltName", "KeyIsExtractable", "AllowAllAppsAccess"}
check(set(c) <= apple, "%s: only keys of Apple schema" % tag, set(c) - apple)
check({"URL", "Name", "Subject", "Challenge", "Keysize", "Key Type",
       "Key Usage", "SubjectAltName", "CAFingerprint"} <= set(c),
      "%s: URL Name Subject Challenge Keysize Key Type Key Usage "
      "SubjectAltName CAFingerprint are there" % tag, sorted(c))
check(c.get("URL") == url, "%s: URL" % tag, c.get("URL"))
check(c.get("Challenge") == chal, "%s: Challenge" % tag, c.get("Challenge"))
check(c.get("Keysize") == int(keysize) and type(c.get("Keysize")) is int,
      "%s: Keysize %s (integer)" % (tag, keysize), c.get("Keysize"))
check(c.get("Key Type") == "RSA", "%s: Key Type RSA" % tag, c.get("Key Type"))
check(c.get("Key Usage") == 1 and type(c.get("Key Usage")) is int,
      "%s: Key Usage 1, signing" % tag, c.get("Key Usage"))
check(c.get("Subject") == json.loads(subj), "%s: Subject" % tag,
      c.get("Subject"))
check(c.get("SubjectAltName") == {"rfc822Name": "bob@lab.example"},
      "%s: SubjectAltName rfc822Name only" % tag, c.get("SubjectAltName"))
rootc, issc = load_cert(root), load_cert(issuing)
check(rootc.issuer == rootc.subject and issc.issuer == rootc.subject,
      "%s: the chain file is issuing CA then root" % tag)
check(c.get("CAFingerprint") == rootc.fingerprint(hashes.SHA1()),
      "%s: CAFingerprint is SHA-1 of the root DER" % tag,
      (c.get("CAFingerprint") or b"").hex())
check(c.get("CAFingerprint") != issc.fingerprint(hashes.SHA1()),
      "%s: not the issuing CA fingerprint" % tag)
check(len(p12s) == 1, "%s: the escrowed key is still a pkcs12 payload" % tag,
      len(p12s))
cur = load_cert(current)
p12uuid = None
for p in p12s:
    x = pkcs12.load_pkcs12(p["PayloadContent"], p["Password"].encode())
    if x.cert and x.cert.certificate == cur:
        p12uuid = p.get("PayloadUUID")
if check(len(accts) == 1, "%s: one %s payload" % (tag, atype), len(accts)):
    a = accts[0]
    check(a.get("SMIMESigningEnabled") is True,
          "%s: the account signs" % tag, a.get("SMIMESigningEnabled"))
    check(a.get("SMIMESigningCertificateUUID") == s.get("PayloadUUID"),
          "%s: SMIMESigningCertificateUUID is the SCEP payload UUID" % tag,
          (a.get("SMIMESigningCertificateUUID"), s.get("PayloadUUID")))
    check(p12uuid is not None and
          a.get("SMIMEEncryptionCertificateUUID") == p12uuid,
          "%s: SMIMEEncryptionCertificateUUID is the escrowed key payload" % tag,
          (a.get("SMIMEEncryptionCertificateUUID"), p12uuid))
    if acct == "eas":
        check(a.get("SMIMESigningUserOverrideable") is False,
              "%s: the user cannot swap the signing identity" % tag,
              a.get("SMIMESigningUserOverrideable"))
uuids = [p.get("PayloadUUID") for p in pc if isinstance(p, dict)]
check(len(set(uuids)) == len(uuids), "%s: every PayloadUUID differs" % tag)
'
printf '%s\n' "$SCEP_CHECK" >"$T/scep-check.py"
BOBSUBJ='[[["CN", "Bob"]], [["1.2.840.113549.1.9.1", "bob@lab.example"]]]'

run_ok -m "export mobileconfig --scep-url --scep-challenge (IMAP)" \
    smimeca -d lab export mobileconfig --email bob@lab.example \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 \
    --scep-url "$URL" --scep-challenge "$bobchal" --out bob.mobileconfig
like "$out" "a SCEP payload for the device's own signing key" \
    "it says the profile enrolls a signing key"
unlike "$err" 'warning' "no warning: the URL names the challenge's template"
run_ok -m "export mobileconfig with a URL for another template" \
    smimeca -d lab export mobileconfig --email bob@lab.example \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 \
    --scep-url "${URL%-device}" --scep-challenge "$bobchal" \
    --out other-url.mobileconfig
like "$err" 'warning: --scep-url does not name the challenge.s template \(/scep/smime-signature-device\)' \
    "it warns that the URL names another template"
py_tap bob.mobileconfig "$URL" "$bobchal" 2048 "$BOBSUBJ" mail bob1.crt \
    chain-1.pem chain-2.pem <"$T/scep-check.py"

run_ok -m "export mobileconfig --account eas --scep-keysize 4096 --sign" \
    smimeca -d lab export mobileconfig --email bob@lab.example \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 --account eas \
    --eas-host eas.lab.example --scep-url "$URL" --scep-challenge "$bobchal" \
    --scep-keysize 4096 --sign --out bob-eas.mobileconfig
check "openssl smime -verify of the signed EAS profile" \
    openssl smime -verify -inform DER -in bob-eas.mobileconfig \
    -CAfile lab/chain.pem -out bob-eas.xml
py_tap bob-eas.xml "$URL" "$bobchal" 4096 "$BOBSUBJ" eas bob1.crt \
    chain-1.pem chain-2.pem <"$T/scep-check.py"

# A static (not bound) challenge goes through with the default subject.
run_ok -m "export mobileconfig with a static challenge" \
    smimeca -d lab export mobileconfig --email bob@lab.example \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 \
    --scep-url "$URL" --scep-challenge lab-static-secret \
    --out static.mobileconfig
py_tap static.mobileconfig "$URL" lab-static-secret 2048 \
    '[[["CN", "bob@lab.example"]]]' mail bob1.crt chain-1.pem chain-2.pem \
    <"$T/scep-check.py"

# --- refusals ---------------------------------------------------------------
refused()
{
	local _desc=$1 _re=$2
	shift 2
	run_exit 1 -m "$_desc" smimeca -d lab export mobileconfig \
	    --email bob@lab.example --kra-key officers/officer1.p12 \
	    --kra-pass-file kp1 --scep-url "$URL" --out refused.mobileconfig \
	    "$@"
	like "$err" "$_re" "the message: $_re"
	[ -e refused.mobileconfig ] && not_ok "nothing written ($_desc)" ||
	    ok "nothing written ($_desc)"
	rm -f refused.mobileconfig
}
refused "alice's challenge in bob's profile" \
    'bound to alice@lab\.example, not to bob@lab\.example' \
    --scep-challenge "$chal"
bad=$("$PY" -c 'import sys
s = sys.argv[1]
i = s.rindex(".") + 3
print(s[:i] + ("B" if s[i] == "A" else "A") + s[i + 1:])' "$bobchal")
isnt "$bad" "$bobchal" "a tampered copy of bob's challenge"
refused "a tampered challenge" 'MAC does not verify' --scep-challenge "$bad"
run_ok -m "a challenge for bob that lives a second" \
    smimeca -d lab mdm scep-challenge --template smime-signature-device \
    --email bob@lab.example --ttl 1
short=$out
sleep 2
refused "an expired challenge" 'expired bound SCEP challenge' \
    --scep-challenge "$short"
"$PY" -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE mdm_challenges SET used = 1 WHERE email = ?", ("bob@lab.example",))
db.commit()' lab/smimeca.db
refused "a used challenge" 'used bound SCEP challenge' \
    --scep-challenge "$bobchal"
run_exit 2 -m "--scep-url without --scep-challenge is a usage error" \
    smimeca -d lab export mobileconfig --email bob@lab.example \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 --scep-url "$URL" \
    --out x.mobileconfig
like "$err" 'go together' "the message says they go together"
run_exit 2 -m "--scep-url ftp://... is a usage error" \
    smimeca -d lab export mobileconfig --email bob@lab.example \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 \
    --scep-url ftp://x/scep --scep-challenge x --out x.mobileconfig
run_exit 2 -m "--scep-keysize 1024 is a usage error" \
    smimeca -d lab export mobileconfig --email bob@lab.example \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 \
    --scep-url "$URL" --scep-challenge x --scep-keysize 1024 \
    --out x.mobileconfig
done_testing
