#!/bin/sh
# Apple configuration profiles (PROTOCOLS.md section 5): `smimeca export
# mobileconfig` writes an XML plist that python3 plistlib parses: a
# Configuration profile with one com.apple.security.pkcs12 payload per
# escrowed certificate of bob (old and current), each PKCS#12 opening with
# its Password, PBE-SHA1-3DES (for iOS), holding the escrowed key and its
# certificate, and one com.apple.mail.managed payload whose
# SMIMEEncryptionCertificateUUID names the payload of the CURRENT
# certificate. Mail to the old and current certificates decrypts with the
# profile's keys. With --sign the profile is DER CMS SignedData that
# `openssl smime -verify -CAfile lab/chain.pem` verifies, signed by a
# CA-issued certificate (not the CA itself), chain included, content the
# plist; a changed profile or a foreign trust anchor fails. With
# --with-root each certificate of lab/chain.pem (the lab is two-tier:
# issuing CA and root) is a com.apple.security.root payload whose
# PayloadContent is that certificate's DER (as openssl x509 -outform DER
# gives it), signed or not; without it there is none. With --account eas
# the account is one com.apple.eas.account payload (no mail.managed) with
# Host, UserName, EmailAddress and SSL, only keys of Apple's schema, whose
# SMIMEEncryptionCertificateUUID (and, for a dual-use smime-dual
# certificate, SMIMESigningCertificateUUID) is the PayloadUUID of the
# PKCS#12 payload of the current certificate; signed, openssl smime
# -verify checks it. --account eas without --eas-host, an unknown
# --account and mixed IMAP/EAS options are usage errors (exit 2).

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/keys.sh"

command -v smimeca-enroll >/dev/null 2>&1 ||
    bail_out "smimeca-enroll not found in $top_builddir/tools (build first)"

# --- helpers of this test -----------------------------------------------

# The checks of one profile (XML), run by py_tap:
#   PROFILE MAIL IMAP SMTP CA-CERT CURRENT-CERT [CERT KEY]...
# The PKCS#12 payloads go to PROFILE.<sha1 of the certificate>.p12 with the
# password in ... .pw, for the openssl checks.
PROFILE_CHECK='
import plistlib, re, uuid
from cryptography.hazmat.primitives.serialization import pkcs12
path, mail, imap, smtp, cacert, current = sys.argv[1:7]
pairs = sys.argv[7:]
tag = os.path.basename(path)
want = {}
for i in range(0, len(pairs), 2):
    c = load_cert(pairs[i])
    want[c.fingerprint(hashes.SHA1()).hex()] = (c, pairs[i], pairs[i + 1])
cur = load_cert(current).fingerprint(hashes.SHA1()).hex()
ca = load_cert(cacert)
data = open(path, "rb").read()
check(data.lstrip().startswith(b"<?xml") and b"<plist" in data,
      "%s is an XML plist (not binary)" % tag, data[:80])
try:
    top = plistlib.loads(data, fmt=plistlib.FMT_XML)
    check(True, "plistlib parses %s" % tag)
except Exception as e:
    check(False, "plistlib parses %s" % tag, e)
    sys.exit(0)
check(isinstance(top, dict) and top.get("PayloadType") == "Configuration",
      "%s: PayloadType Configuration" % tag, top.get("PayloadType"))
check(top.get("PayloadVersion") == 1 and type(top.get("PayloadVersion")) is int,
      "%s: PayloadVersion 1 (integer)" % tag, top.get("PayloadVersion"))
for k in ("PayloadUUID", "PayloadIdentifier"):
    check(isinstance(top.get(k), str) and top.get(k) != "",
          "%s: the profile has a %s" % (tag, k), top.get(k))
pc = top.get("PayloadContent")
if not check(isinstance(pc, list), "%s: PayloadContent is an array" % tag, type(pc)):
    sys.exit(0)
p12s = [p for p in pc if isinstance(p, dict) and p.get("PayloadType") == "com.apple.security.pkcs12"]
mails = [p for p in pc if isinstance(p, dict) and p.get("PayloadType") == "com.apple.mail.managed"]
check(len(p12s) == len(want),
      "%s: %d pkcs12 payloads, one per escrowed certificate" % (tag, len(want)), len(p12s))
check(len(mails) == 1, "%s: one com.apple.mail.managed payload" % tag, len(mails))
uuids = [p.get("PayloadUUID") for p in pc if isinstance(p, dict)] + [top.get("PayloadUUID")]
ids = [p.get("PayloadIdentifier") for p in pc if isinstance(p, dict)] + [top.get("PayloadIdentifier")]
check(len(set(uuids)) == len(uuids), "%s: every PayloadUUID differs" % tag, uuids)
check(len(set(ids)) == len(ids), "%s: every PayloadIdentifier differs" % tag, ids)
def is_uuid(s):
    try:
        uuid.UUID(s)
        return True
    except Exception:
        return False
seen, uuid_of = set(), {}
for i, p in enumerate(p12s):
    n = "%s pkcs12[%d]" % (tag, i)
    for k, t in (("PayloadContent", bytes), ("Password", str),
                 ("PayloadCertificateFileName", str), ("PayloadUUID", str),
                 ("PayloadIdentifier", str), ("PayloadDisplayName", str)):
        check(isinstance(p.get(k), t), "%s: %s is %s" % (n, k,
              "data" if t is bytes else "a string"), type(p.get(k)))
    check(p.get("PayloadVersion") == 1 and type(p.get("PayloadVersion")) is int,
          "%s: PayloadVersion 1" % n, p.get("PayloadVersion"))
    check(is_uuid(p.get("PayloadUUID", "")), "%s: PayloadUUID is a UUID" % n,
          p.get("PayloadUUID"))
    try:
        pw = p["Password"].encode()
        x = pkcs12.load_pkcs12(p["PayloadContent"], pw)
        check(True, "%s: the Password opens the PKCS12" % n)
    except Exception as e:
        check(False, "%s: the Password opens the PKCS12" % n, e)
        continue
    tp = x.cert.certificate.fingerprint(hashes.SHA1()).hex() if x.cert else None
    if not check(tp in want, "%s: the PKCS12 holds one of %s" % (n, " ".join(pairs[0::2])), tp):
        continue
    seen.add(tp)
    uuid_of[tp] = p.get("PayloadUUID")
    c, cname, kname = want[tp]
    k = serialization.load_pem_private_key(open(kname, "rb").read(), None)
    check(x.key is not None and x.key.private_numbers() == k.private_numbers(),
          "%s: the key is the escrowed key of %s (%s)" % (n, cname, kname))
    check(ca in [a.certificate for a in x.additional_certs],
          "%s: the PKCS12 holds the CA certificate" % n)
    open("%s.%s.p12" % (path, tp), "wb").write(p["PayloadContent"])
    open("%s.%s.pw" % (path, tp), "wb").write(pw)
check(seen == set(want), "%s: every escrowed certificate has its payload" % tag,
      "missing %s" % sorted(set(want) - seen))
if mails:
    m = mails[0]
    n = "%s mail" % tag
    check(m.get("EmailAddress") == mail, "%s: EmailAddress %s" % (n, mail),
          m.get("EmailAddress"))
    check(cur in uuid_of and m.get("SMIMEEncryptionCertificateUUID") == uuid_of[cur],
          "%s: SMIMEEncryptionCertificateUUID names the CURRENT certificate payload" % n,
          "got %s, current %s, others %s" % (m.get("SMIMEEncryptionCertificateUUID"),
          uuid_of.get(cur), uuid_of))
    for k in ("SMIMEEncryptByDefault", "SMIMEEnableEncryptionPerMessageSwitch"):
        check(type(m.get(k)) is bool, "%s: %s is a boolean" % (n, k), m.get(k))
    vals = [v for v in m.values() if isinstance(v, str)]
    if imap != "":
        check(imap in vals, "%s: the IMAP host %s is in the payload" % (n, imap), m)
    if smtp != "":
        check(smtp in vals, "%s: the SMTP host %s is in the payload" % (n, smtp), m)
    check(isinstance(m.get("PayloadUUID"), str) and type(m.get("PayloadVersion")) is int,
          "%s: PayloadUUID and PayloadVersion present" % n)
'
printf '%s\n' "$PROFILE_CHECK" >"$T/profile-check.py"
profile_check()
{
	py_tap "$@" <"$T/profile-check.py"
}

# --- a lab CA; bob with an old and a current certificate ------------------
run_ok smimeca -d "$T/lab" init --lab --two-tier --key rsa:2048 --no-ldap ||
    bail_out "smimeca init --lab failed"
officer_pw 1 >kp1
officer_pw 2 >kp2
[ -s kp1 ] || bail_out "no password for officer1.p12 in passwords.txt"
run_ok smimeca -d lab xchg show --pem || bail_out "no exchange certificate"
printf '%s\n' "$out" >xchg.pem
enroll bob1 bob@lab.example Bob || bail_out "bob's first certificate"
enroll bob2 bob@lab.example Bob || bail_out "bob's second certificate"
tp_old=$(fp bob1.crt sha1)
tp_new=$(fp bob2.crt sha1)

# --- the unsigned profile ----------------------------------------------------
run_ok -m "export mobileconfig --email bob@lab.example --imap-host --smtp-host" \
    smimeca -d lab export mobileconfig --email bob@lab.example \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 \
    --imap-host imap.lab.example --smtp-host smtp.lab.example \
    --out bob.mobileconfig
profile_check bob.mobileconfig bob@lab.example imap.lab.example \
    smtp.lab.example lab/ca.crt bob2.crt bob1.crt bob1/key.pem \
    bob2.crt bob2/key.pem
for tp in $tp_old $tp_new; do
	check "openssl pkcs12 -info of the payload of $tp" \
	    openssl pkcs12 -info -noout -in bob.mobileconfig.$tp.p12 \
	    -passin file:bob.mobileconfig.$tp.pw
	like "$out$err" 'pbeWithSHA1And3-KeyTripleDES-CBC' \
	    "the payload of $tp uses PBE-SHA1-3DES (iOS)"
done

# Mail to the old and the current certificate, read with the profile's keys.
printf 'Subject: old\r\n\r\nto the old key\r\n' >old.txt
printf 'Subject: new\r\n\r\nto the current key\r\n' >new.txt
check "openssl smime -encrypt -aes256 to the old certificate" \
    openssl smime -encrypt -aes256 -binary -in old.txt -out old.smime bob1.crt
check "openssl cms -encrypt -aes256 to the current certificate" \
    openssl cms -encrypt -aes256 -binary -in new.txt -outform DER \
    -out new.cms bob2.crt
openssl pkcs12 -in bob.mobileconfig.$tp_old.p12 -nodes -nocerts \
    -passin file:bob.mobileconfig.$tp_old.pw -out old.key 2>/dev/null
openssl pkcs12 -in bob.mobileconfig.$tp_new.p12 -nodes -nocerts \
    -passin file:bob.mobileconfig.$tp_new.pw -out new.key 2>/dev/null
check "openssl smime -decrypt of the old message with the profile's old key" \
    openssl smime -decrypt -in old.smime -recip bob1.crt -inkey old.key \
    -binary -out old.dec
cmp -s old.dec old.txt && ok "the old message is back" ||
    not_ok "the old message is back"
check "openssl cms -decrypt of the current message with the profile's key" \
    openssl cms -decrypt -inform DER -in new.cms -recip bob2.crt \
    -inkey new.key -binary -out new.dec
cmp -s new.dec new.txt && ok "the current message is back" ||
    not_ok "the current message is back"

# Without the host options (another officer): the same structure.
run_ok -m "export mobileconfig without hosts (officer2)" \
    smimeca -d lab export mobileconfig --email bob@lab.example \
    --kra-key officers/officer2.p12 --kra-pass-file kp2 --out bob2.mobileconfig
profile_check bob2.mobileconfig bob@lab.example "" "" lab/ca.crt bob2.crt \
    bob1.crt bob1/key.pem bob2.crt bob2/key.pem

# --aes: PBES2 (PBKDF2, AES-256-CBC) instead of PBE-SHA1-3DES.
run_ok -m "export mobileconfig --aes" \
    smimeca -d lab export mobileconfig --email bob@lab.example \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 --aes \
    --out bob-aes.mobileconfig
profile_check bob-aes.mobileconfig bob@lab.example "" "" lab/ca.crt \
    bob2.crt bob1.crt bob1/key.pem bob2.crt bob2/key.pem
for tp in $tp_old $tp_new; do
	check "--aes: openssl pkcs12 -info of the payload of $tp" \
	    openssl pkcs12 -info -noout -in bob-aes.mobileconfig.$tp.p12 \
	    -passin file:bob-aes.mobileconfig.$tp.pw
	like "$out$err" 'Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC' \
	    "--aes: the key of $tp is under PBES2 with AES-256-CBC"
	unlike "$out$err" '3DES|TripleDES|RC2|RC4' \
	    "--aes: no 3DES, RC2 or RC4 in the payload of $tp"
	like "$out$err" 'MAC: sha256' "--aes: the MAC of $tp is HMAC-SHA256"
	if command -v pk12util >/dev/null 2>&1; then
		check "--aes: NSS pk12util lists the payload of $tp" \
		    pk12util -l bob-aes.mobileconfig.$tp.p12 \
		    -w bob-aes.mobileconfig.$tp.pw
	else
		skip "--aes: NSS pk12util lists the payload of $tp" \
		    "NSS tools (libnss3-tools) are not installed"
	fi
done

run_exit 1 -m "export mobileconfig of an unknown address: exit 1" \
    smimeca -d lab export mobileconfig --email nobody@lab.example \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 --out nobody.mobileconfig
like "$err" 'nobody@lab\.example' "the message names the address"
[ -e nobody.mobileconfig ] && not_ok "no profile written for nobody" ||
    ok "no profile written for nobody"

# --- the signed profile --------------------------------------------------------
run_ok -m "export mobileconfig --sign" \
    smimeca -d lab export mobileconfig --email bob@lab.example --sign \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 \
    --imap-host imap.lab.example --out signed.mobileconfig
check "openssl cms -cmsout -print -inform DER of the signed profile" \
    openssl cms -cmsout -print -inform DER -in signed.mobileconfig
like "$out" 'pkcs7-signedData' "the signed profile is a CMS SignedData"
check "openssl smime -verify -inform DER -CAfile lab/chain.pem" \
    openssl smime -verify -inform DER -in signed.mobileconfig \
    -CAfile lab/chain.pem -out plist.xml
profile_check plist.xml bob@lab.example imap.lab.example "" lab/ca.crt \
    bob2.crt bob1.crt bob1/key.pem bob2.crt bob2/key.pem
check "openssl cms -verify -signer: the signing certificate" \
    openssl cms -verify -inform DER -in signed.mobileconfig \
    -CAfile lab/chain.pem -signer signer.pem -out /dev/null
check "openssl pkcs7 -print_certs: the certificates in the profile" \
    openssl pkcs7 -inform DER -in signed.mobileconfig -print_certs \
    -out included.pem
py_tap signer.pem lab/ca.crt included.pem <<'EOF'
s, ca = load_cert(sys.argv[1]), load_cert(sys.argv[2])
inc = load_certs(sys.argv[3])
check(s != ca, "the profile is signed by a certificate other than the CA's")
check(s.issuer == ca.subject, "the signing certificate is issued by the CA",
      s.issuer.rfc4514_string())
bc = ext(s, ExtensionOID.BASIC_CONSTRAINTS)
check(bc is None or not bc.value.ca, "the signing certificate is not a CA")
check(ca in inc, "the CA certificate is included (chain)", len(inc))
check(s in inc, "the signing certificate is included", len(inc))
EOF
check "openssl verify -CAfile lab/chain.pem signer.pem" \
    openssl verify -CAfile lab/chain.pem signer.pem

check "openssl req -x509: a foreign CA" \
    openssl req -x509 -newkey rsa:2048 -nodes -keyout foreign.key \
    -out foreign.crt -days 30 -subj "/CN=Foreign CA"
run_fails -m "openssl smime -verify with a foreign CA as trust anchor fails" \
    openssl smime -verify -inform DER -in signed.mobileconfig \
    -CAfile foreign.crt -out /dev/null
"$PY" -c '
import sys
d = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(d.replace(b"bob@lab.example", b"eve@lab.example", 1))
print(int(d != d.replace(b"bob@lab.example", b"eve@lab.example", 1)))
' signed.mobileconfig changed.mobileconfig >changed.n
is "$(cat changed.n)" 1 "the signed profile carries the address in clear (changed to eve)"
run_fails -m "openssl smime -verify of the changed profile fails" \
    openssl smime -verify -inform DER -in changed.mobileconfig \
    -CAfile lab/chain.pem -out /dev/null

# --- --with-root: the CA chain for the device to trust ----------------------
# The checks of the root payloads: PROFILE CHAIN-CERT.der ...
ROOT_CHECK='
import plistlib, uuid
path = sys.argv[1]
want = [open(p, "rb").read() for p in sys.argv[2:]]
tag = os.path.basename(path)
top = plistlib.loads(open(path, "rb").read(), fmt=plistlib.FMT_XML)
pc = top.get("PayloadContent")
pc = pc if isinstance(pc, list) else []
roots = [p for p in pc if isinstance(p, dict) and
         p.get("PayloadType") == "com.apple.security.root"]
check(len(roots) == len(want),
      "%s: %d com.apple.security.root payloads, one per CA certificate" %
      (tag, len(want)), len(roots))
got = [p.get("PayloadContent") for p in roots]
check(all(type(g) is bytes for g in got),
      "%s: each root PayloadContent is data" % tag, [type(g) for g in got])
check(sorted(g for g in got if type(g) is bytes) == sorted(want),
      "%s: the root PayloadContents are the chain certificates, DER byte "
      "for byte" % tag,
      [hashlib.sha256(g).hexdigest()[:16] for g in got if type(g) is bytes])
for i, p in enumerate(roots):
    n = "%s root[%d]" % (tag, i)
    check(p.get("PayloadVersion") == 1 and type(p.get("PayloadVersion")) is int,
          "%s: PayloadVersion 1" % n, p.get("PayloadVersion"))
    try:
        uuid.UUID(p.get("PayloadUUID", ""))
        isuuid = True
    except Exception:
        isuuid = False
    check(isuuid, "%s: PayloadUUID is a UUID" % n, p.get("PayloadUUID"))
    for k in ("PayloadIdentifier", "PayloadDisplayName",
              "PayloadCertificateFileName"):
        check(isinstance(p.get(k), str) and p.get(k) != "",
              "%s: %s is a string" % (n, k), p.get(k))
    try:
        c = x509.load_der_x509_certificate(p.get("PayloadContent"))
        bc = ext(c, ExtensionOID.BASIC_CONSTRAINTS)
        isca = bc is not None and bc.value.ca
    except Exception as e:
        isca = e
    check(isca is True, "%s: the certificate is a CA certificate" % n, isca)
'
printf '%s\n' "$ROOT_CHECK" >"$T/root-check.py"
awk '/-----BEGIN CERTIFICATE-----/ { n++; f = "chain-" n ".pem" }
    f != "" { print > f }
    /-----END CERTIFICATE-----/ { close(f); f = "" }' lab/chain.pem
chain_der=
for c in chain-*.pem; do
	openssl x509 -in "$c" -outform DER -out "${c%.pem}.der" ||
	    bail_out "openssl x509 -outform DER of $c"
	chain_der="$chain_der ${c%.pem}.der"
done
is "$(echo $chain_der | wc -w)" 2 \
    "lab/chain.pem holds the issuing CA and the root"

run_ok -m "export mobileconfig --with-root" \
    smimeca -d lab export mobileconfig --email bob@lab.example --with-root \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 --out root.mobileconfig
like "$out" 'the CA chain to trust' "it says the chain is in the profile"
profile_check root.mobileconfig bob@lab.example "" "" lab/ca.crt bob2.crt \
    bob1.crt bob1/key.pem bob2.crt bob2/key.pem
py_tap root.mobileconfig $chain_der <"$T/root-check.py"
py_tap bob.mobileconfig <"$T/root-check.py"

run_ok -m "export mobileconfig --with-root --sign" \
    smimeca -d lab export mobileconfig --email bob@lab.example --with-root \
    --sign --kra-key officers/officer1.p12 --kra-pass-file kp1 \
    --out root-signed.mobileconfig
check "openssl smime -verify -CAfile lab/chain.pem of the --with-root profile" \
    openssl smime -verify -inform DER -in root-signed.mobileconfig \
    -CAfile lab/chain.pem -out root-plist.xml
like "$err" 'Verification successful' "openssl says the signature verifies"
py_tap root-plist.xml $chain_der <"$T/root-check.py"
run_fails -m "the --with-root profile does not verify under a foreign CA" \
    openssl smime -verify -inform DER -in root-signed.mobileconfig \
    -CAfile foreign.crt -out /dev/null

# --- --account eas: an Exchange ActiveSync account ------------------------
# The checks of an EAS profile (XML): PROFILE MAIL HOST USER SIGN CUR-CERT
# (SIGN 1: the current certificate signs too, its payload is the signing
# identity; 0: no signing identity, the user picks the device's own). Every
# key of the account must be one of Apple's com.apple.eas.account schema
# (apple/device-management mdm/profiles/com.apple.eas.account.yaml).
EAS_CHECK='
import plistlib
from cryptography.hazmat.primitives.serialization import pkcs12
path, mail, host, user, sign, current = sys.argv[1:7]
sign = sign == "1"
tag = os.path.basename(path)
cur = load_cert(current).fingerprint(hashes.SHA1()).hex()
top = plistlib.loads(open(path, "rb").read(), fmt=plistlib.FMT_XML)
pc = top.get("PayloadContent")
pc = pc if isinstance(pc, list) else []
eas = [p for p in pc if isinstance(p, dict) and
       p.get("PayloadType") == "com.apple.eas.account"]
mails = [p for p in pc if isinstance(p, dict) and
         p.get("PayloadType") == "com.apple.mail.managed"]
p12s = [p for p in pc if isinstance(p, dict) and
        p.get("PayloadType") == "com.apple.security.pkcs12"]
check(len(eas) == 1, "%s: one com.apple.eas.account payload" % tag, len(eas))
check(len(mails) == 0, "%s: no com.apple.mail.managed payload" % tag,
      len(mails))
if not eas:
    sys.exit(0)
a = eas[0]
n = "%s eas" % tag
# Apple: the keys of the payload, and those every payload has.
apple = set("""EmailAddress Host SSL OAuth UserName Password Certificate
CertificateName CertificatePassword PreventMove PreventAppSheet
PayloadCertificateUUID SMIMEEnabled SMIMESigningEnabled
SMIMESigningCertificateUUID SMIMEEncryptionEnabled
SMIMEEncryptionCertificateUUID SMIMEEnablePerMessageSwitch
disableMailRecentsSyncing MailNumberOfPastDaysToSync HeaderMagic
CommunicationServiceRules allowMailDrop SMIMESigningUserOverrideable
SMIMESigningCertificateUUIDUserOverrideable SMIMEEncryptByDefault
SMIMEEncryptByDefaultUserOverrideable
SMIMEEncryptionCertificateUUIDUserOverrideable
SMIMEEnableEncryptionPerMessageSwitch EnableMail EnableContacts
EnableCalendars EnableReminders EnableNotes EnableMailUserOverridable
EnableContactsUserOverridable EnableCalendarsUserOverridable
EnableRemindersUserOverridable EnableNotesUserOverridable OAuthSignInURL
OAuthTokenRequestURL OverridePreviousPassword VPNUUID PayloadType
PayloadVersion PayloadIdentifier PayloadUUID PayloadDisplayName
PayloadDescription PayloadOrganization""".split())
check(set(a) <= apple, "%s: every key is in the Apple schema" % n,
      sorted(set(a) - apple))
check(a.get("Host") == host, "%s: Host %s" % (n, host), a.get("Host"))
check(a.get("UserName") == user, "%s: UserName %s" % (n, user),
      a.get("UserName"))
check(a.get("EmailAddress") == mail, "%s: EmailAddress %s" % (n, mail),
      a.get("EmailAddress"))
check(a.get("SSL") is True, "%s: SSL true" % n, a.get("SSL"))
check("Password" not in a, "%s: no Password (the device asks)" % n)
for k in ("SMIMEEnabled", "SMIMEEncryptionEnabled", "SMIMEEncryptByDefault",
          "SMIMEEnableEncryptionPerMessageSwitch", "SMIMESigningEnabled"):
    check(type(a.get(k)) is bool, "%s: %s is a boolean" % (n, k), a.get(k))
uuid_of = {}
for p in p12s:
    try:
        x = pkcs12.load_pkcs12(p["PayloadContent"], p["Password"].encode())
        uuid_of[x.cert.certificate.fingerprint(hashes.SHA1()).hex()] = \
            p.get("PayloadUUID")
    except Exception as e:
        check(False, "%s: a pkcs12 payload opens" % tag, e)
p12uuids = set(uuid_of.values())
check(cur in uuid_of, "%s: a pkcs12 payload holds the current certificate"
      % tag, sorted(uuid_of))
check(a.get("SMIMEEncryptionCertificateUUID") == uuid_of.get(cur),
      "%s: SMIMEEncryptionCertificateUUID is the PayloadUUID of the "
      "pkcs12 payload of the current certificate" % n,
      "got %s want %s" % (a.get("SMIMEEncryptionCertificateUUID"),
      uuid_of.get(cur)))
for k in [k for k in a if k.endswith("CertificateUUID")]:
    check(a[k] in p12uuids, "%s: %s names a pkcs12 payload" % (n, k), a[k])
if sign:
    check(a.get("SMIMESigningEnabled") is True,
          "%s: SMIMESigningEnabled true (dual-use)" % n)
    check(a.get("SMIMESigningCertificateUUID") == uuid_of.get(cur),
          "%s: SMIMESigningCertificateUUID is the PayloadUUID of the "
          "pkcs12 payload of the current certificate" % n,
          a.get("SMIMESigningCertificateUUID"))
else:
    check(a.get("SMIMESigningEnabled") is False,
          "%s: SMIMESigningEnabled false (encryption-only)" % n,
          a.get("SMIMESigningEnabled"))
    check("SMIMESigningCertificateUUID" not in a,
          "%s: no SMIMESigningCertificateUUID (encryption-only)" % n)
    check(a.get("SMIMESigningCertificateUUIDUserOverrideable") is True,
          "%s: the user may pick the signing identity of the device" % n)
'
printf '%s\n' "$EAS_CHECK" >"$T/eas-check.py"
eas_check()
{
	py_tap "$@" <"$T/eas-check.py"
}

run_ok -m "export mobileconfig --account eas --eas-host --eas-user" \
    smimeca -d lab export mobileconfig --email bob@lab.example \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 --account eas \
    --eas-host eas.lab.example --eas-user 'LAB\bob' --out eas.mobileconfig
like "$out" 'Exchange ActiveSync account' "it says the account is EAS"
eas_check eas.mobileconfig bob@lab.example eas.lab.example 'LAB\bob' 0 \
    bob2.crt
py_tap bob.mobileconfig <<'EOF'
import plistlib
top = plistlib.loads(open(sys.argv[1], "rb").read(), fmt=plistlib.FMT_XML)
t = [p.get("PayloadType") for p in top.get("PayloadContent", [])]
check("com.apple.eas.account" not in t and "com.apple.mail.managed" in t,
      "without --account the account is IMAP (com.apple.mail.managed)", t)
EOF

run_ok -m "export mobileconfig --account eas --sign (no --eas-user)" \
    smimeca -d lab export mobileconfig --email bob@lab.example --sign \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 --account eas \
    --eas-host outlook.office365.com --out eas-signed.mobileconfig
check "openssl smime -verify -CAfile lab/chain.pem of the EAS profile" \
    openssl smime -verify -inform DER -in eas-signed.mobileconfig \
    -CAfile lab/chain.pem -out eas-plist.xml
like "$err" 'Verification successful' "openssl says the EAS profile verifies"
eas_check eas-plist.xml bob@lab.example outlook.office365.com \
    bob@lab.example 0 bob2.crt
run_fails -m "the EAS profile does not verify under a foreign CA" \
    openssl smime -verify -inform DER -in eas-signed.mobileconfig \
    -CAfile foreign.crt -out /dev/null

# A dual-use (smime-dual, escrowed) certificate signs too.
run_ok -m "smimeca-enroll --archive for dana (smime-dual)" \
    smimeca-enroll --out-dir dana --email dana@lab.example --cn Dana \
    --archive --xchg xchg.pem
run_ok -m "issue smime-dual with archival for dana" \
    smimeca -d lab issue --template smime-dual \
    --archival-request dana/request.cmc --out dana.crt
run_ok -m "export mobileconfig --account eas of a dual-use certificate" \
    smimeca -d lab export mobileconfig --email dana@lab.example --sign \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 --account eas \
    --eas-host eas.lab.example --out dana.mobileconfig
check "openssl smime -verify -CAfile lab/chain.pem of the EAS profile of dana" \
    openssl smime -verify -inform DER -in dana.mobileconfig \
    -CAfile lab/chain.pem -out dana-plist.xml
eas_check dana-plist.xml dana@lab.example eas.lab.example \
    dana@lab.example 1 dana.crt

# Refusals: usage errors (exit 2) that name the problem; nothing written.
run_exit 2 -m "--account eas without --eas-host: usage error" \
    smimeca -d lab export mobileconfig --email bob@lab.example \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 --account eas \
    --out noh.mobileconfig
like "$err" '--eas-host' "the message names --eas-host"
like "$err" 'usage:' "the usage line follows"
run_exit 2 -m "--account pop: usage error" \
    smimeca -d lab export mobileconfig --email bob@lab.example \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 --account pop \
    --out pop.mobileconfig
like "$err" '--account pop: unknown' "the message names the unknown value"
run_exit 2 -m "--eas-host without --account eas: usage error" \
    smimeca -d lab export mobileconfig --email bob@lab.example \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 \
    --eas-host eas.lab.example --out mix.mobileconfig
like "$err" 'need --account eas' "the message says --account eas"
run_exit 2 -m "--account eas with --imap-host: usage error" \
    smimeca -d lab export mobileconfig --email bob@lab.example \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 --account eas \
    --eas-host eas.lab.example --imap-host imap.lab.example \
    --out mix2.mobileconfig
like "$err" '--imap-host' "the message names --imap-host"
for f in noh pop mix mix2; do
	check "no $f.mobileconfig written" test ! -e $f.mobileconfig
done

done_testing
