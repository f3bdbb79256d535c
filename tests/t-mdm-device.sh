#!/bin/sh
# Which device may receive a user's keys: a device certificate enrolled
# over EST (curl) by an account goes only with that account's keys;
# `export mobileconfig --encrypt-to` puts the payloads in a CMS envelope
# (EncryptedPayloadContent) that openssl opens with that device's key and
# plistlib reads; a revoked device certificate, one of another user and one
# of a foreign CA are refused, by the profile export and by the connector.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/keys.sh"
. "$top_srcdir/tests/smimecad.sh"

command -v smimeca-enroll >/dev/null 2>&1 ||
    bail_out "smimeca-enroll not found in $top_builddir/tools (build first)"
command -v curl >/dev/null 2>&1 || skip_all "curl is not installed"

run_ok smimeca -d "$T/lab" init --lab --no-ldap ||
    bail_out "smimeca init --lab failed"
officer_pw 1 >kp1
for u in alice bob; do
	printf '%s-Pw-1\n' "$u" >"$u.pw"
	run_ok -m "user add $u" smimeca -d lab user add "$u@lab.example" \
	    --password-file "$u.pw"
done
smimecad_start "$T/lab" || bail_out "smimecad did not start"

# est_device NAME USER: a device-auth certificate NAME.crt for NAME.key,
# enrolled over EST simpleenroll by USER.
est_device()
{
	openssl req -new -newkey rsa:2048 -nodes -keyout "$1.key" \
	    -subj "/CN=$1" -outform DER -out "$1.der" 2>/dev/null
	chmod 600 "$1.key"
	est_curl -u "$2@lab.example:$(cat "$2.pw")" \
	    -H 'Content-Type: application/pkcs10' \
	    --data-binary "$(base64 -w0 "$1.der")" -o "$1.b64" \
	    "$HTTPS_URL/.well-known/est/device-auth/simpleenroll" &&
	    base64 -d "$1.b64" | openssl pkcs7 -inform DER -print_certs |
	    openssl x509 -out "$1.crt"
}
check "alice enrolls a device certificate over EST" est_device alicephone alice
check "bob enrolls a device certificate over EST" est_device bobphone bob
check "bob enrolls a second one" est_device bobtablet bob

run_ok -m "xchg show" smimeca -d lab xchg show --pem
printf '%s\n' "$out" >xchg.pem
enroll bob bob@lab.example Bob || bail_out "bob's encryption certificate"

mc()
{
	run_cmd smimeca -d lab export mobileconfig --email bob@lab.example \
	    --kra-key officers/officer1.p12 --kra-pass-file kp1 "$@"
}

# --- bob's own device ---
mc --encrypt-to bobphone.crt --out bob.mobileconfig
is "$rc" 0 "--encrypt-to bob's own device certificate: exit 0"
like "$out" "encrypted to the device" "it says so"
py_tap <<'PY'
import plistlib
d = plistlib.load(open("bob.mobileconfig", "rb"))
check("PayloadContent" not in d, "no plain PayloadContent")
enc = d.get("EncryptedPayloadContent")
check(isinstance(enc, bytes) and len(enc) > 100,
    "EncryptedPayloadContent is data")
open("enc.der", "wb").write(enc or b"")
PY
check "openssl cms -decrypt opens it with the device key" \
    openssl cms -decrypt -inform DER -in enc.der -inkey bobphone.key \
    -recip bobphone.crt -out inner.plist
py_tap <<'PY'
import plistlib
a = plistlib.load(open("inner.plist", "rb"))
types = [p.get("PayloadType") for p in a] if isinstance(a, list) else []
check(types == ["com.apple.security.pkcs12", "com.apple.mail.managed"],
    "the envelope holds the payload array: %s" % types)
PY
run_fails -m "another device's key does not open it" \
    openssl cms -decrypt -inform DER -in enc.der -inkey bobtablet.key \
    -recip bobtablet.crt -out /dev/null

# --- refusals ---
mc --encrypt-to alicephone.crt --out x1.mobileconfig
is "$rc" 1 "a device certificate alice enrolled: refused for bob's keys"
like "$err" "enrolled by alice@lab\\.example" "the message names who enrolled it"
check "nothing written" test ! -e x1.mobileconfig

# --- a renewal stays the device of the account that enrolled it ---
# est_renew OLD NEW: simplereenroll of NEW.key's CSR, OLD as the TLS client
# certificate.
est_renew()
{
	openssl req -new -newkey rsa:2048 -nodes -keyout "$2.key" \
	    -subj "/CN=alicephone" -outform DER -out "$2.der" 2>/dev/null
	chmod 600 "$2.key"
	est_curl --cert "$1.crt" --key "$1.key" \
	    -H 'Content-Type: application/pkcs10' \
	    --data-binary "$(base64 -w0 "$2.der")" -o "$2.b64" \
	    "$HTTPS_URL/.well-known/est/device-auth/simplereenroll" &&
	    base64 -d "$2.b64" | openssl pkcs7 -inform DER -print_certs |
	    openssl x509 -out "$2.crt"
}
check "alice renews her device certificate (simplereenroll)" \
    est_renew alicephone alicephone2
check "and renews the renewed one" est_renew alicephone2 alicephone3
# A disabled account renews nothing, whoever holds the old key.
run_ok -m "user disable alice" smimeca -d lab user disable alice@lab.example
code=$(openssl req -new -newkey rsa:2048 -nodes -keyout x.key \
    -subj /CN=x -outform DER 2>/dev/null | base64 -w0 |
    est_curl --cert alicephone3.crt --key alicephone3.key -o x.body \
    -w '%{http_code}' -H 'Content-Type: application/pkcs10' \
    --data-binary @- "$HTTPS_URL/.well-known/est/device-auth/simplereenroll")
is "$code" 403 "alice disabled: her device certificate does not renew"
like "$(cat x.body)" "belongs to alice@lab\\.example, whose account is \
disabled" "the answer says why"
run_ok -m "user enable alice" smimeca -d lab user enable alice@lab.example
run_ok -m "cert list --json" smimeca -d lab cert list --json
printf '%s\n' "$out" >list.json
for f in alicephone alicephone2 alicephone3 bobphone; do
	cert_serial "$f.crt" >"$f.serial"
done
py_tap <<'PY'
import json
rows = {o["serial"].lstrip("0"): o for o in json.load(open("list.json"))}
def owner(name):
    row = rows.get(open(name + ".serial").read().strip(), {})
    return row.get("owner", "absent")
for name in ("alicephone", "alicephone2", "alicephone3"):
    check(owner(name) == "alice@lab.example",
          "%s: owner is alice@lab.example" % name, owner(name))
check(owner("bobphone") == "bob@lab.example", "bobphone: owner is bob",
      owner("bobphone"))
PY
for f in alicephone2 alicephone3; do
	mc --encrypt-to "$f.crt" --out "x$f.mobileconfig"
	is "$rc" 1 "$f, renewed from alice's device: refused for bob's keys"
	like "$err" "enrolled by alice@lab\\.example, not by bob@lab\\.example" \
	    "the message names alice"
	check "nothing written" test ! -e "x$f.mobileconfig"
done
enroll alice alice@lab.example Alice || bail_out "alice's encryption certificate"
run_ok -m "alice's renewed device takes alice's keys" \
    smimeca -d lab export mobileconfig --email alice@lab.example \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 \
    --encrypt-to alicephone3.crt --out alice.mobileconfig
py_tap <<'PY'
import plistlib
d = plistlib.load(open("alice.mobileconfig", "rb"))
open("alice-enc.der", "wb").write(d.get("EncryptedPayloadContent") or b"")
check(len(open("alice-enc.der", "rb").read()) > 100, "it is encrypted")
PY
check "alicephone3's key opens it" \
    openssl cms -decrypt -inform DER -in alice-enc.der \
    -inkey alicephone3.key -recip alicephone3.crt -out alice-inner.plist

openssl req -x509 -newkey rsa:2048 -nodes -keyout foreign.key \
    -subj /CN=Foreign -addext extendedKeyUsage=clientAuth -days 2 \
    -out foreign.crt 2>/dev/null
mc --encrypt-to foreign.crt --out x2.mobileconfig
is "$rc" 1 "a foreign CA's device certificate: refused"
like "$err" "not issued by the device CA" "the message says why"

run_ok -m "revoke bob's tablet" smimeca -d lab revoke \
    "$(openssl x509 -in bobtablet.crt -noout -serial | sed 's/.*=//')" \
    --reason cessationOfOperation
mc --encrypt-to bobtablet.crt --out x3.mobileconfig
is "$rc" 1 "a revoked device certificate: refused"
like "$err" "revoked" "the message says it is revoked"
check "nothing written" test ! -e x3.mobileconfig

# The connector, with this CA as the device CA, refuses it as well.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out import.key 2>/dev/null
openssl pkey -in import.key -pubout -out import.pub
run_ok -m "export intune for bob" smimeca -d lab export intune \
    --email bob@lab.example --import-key import.pub --key-name K \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 --out intune
run_exit 1 -m "the connector refuses the revoked tablet" \
    smimeca -d lab mdm connector --import-key import.key \
    --device-cert bobtablet.crt --in intune/bob@lab.example.json \
    --out t.json
like "$err" "revoked" "the connector says it is revoked"
run_ok -m "the connector takes bob's phone" \
    smimeca -d lab mdm connector --import-key import.key \
    --device-cert bobphone.crt --in intune/bob@lab.example.json \
    --out p.json
run_ok -m "the phone opens it" smimeca mdm device --device-key bobphone.key \
    --in p.json --out phone
run_exit 1 -m "the tablet's key does not open the phone's passwords" \
    smimeca mdm device --device-key bobtablet.key --in p.json --out tablet
like "$err" "another device" "the device step says why"

# The connector hands a user's PFX only to a device that user enrolled.
run_exit 1 -m "the connector refuses bob's keys for alice's renewed phone" \
    smimeca -d lab mdm connector --import-key import.key \
    --device-cert alicephone3.crt --in intune/bob@lab.example.json \
    --out a.json
like "$err" "is bob@lab\\.example's, and the device was enrolled by \
alice@lab\\.example" "the message names both users"
check "nothing written" test ! -e a.json
run_ok -m "export intune for alice" smimeca -d lab export intune \
    --email alice@lab.example --import-key import.pub --key-name K \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 --out intune
run_ok -m "the connector takes alice's keys for alice's renewed phone" \
    smimeca -d lab mdm connector --import-key import.key \
    --device-cert alicephone3.crt --in intune/alice@lab.example.json \
    --out a.json
run_ok -m "alice's phone opens them" smimeca mdm device \
    --device-key alicephone3.key --in a.json --out aphone

done_testing
