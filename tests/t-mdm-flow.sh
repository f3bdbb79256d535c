#!/bin/sh
# The Intune imported-PKCS path end to end (PROTOCOLS.md section 4): the CA
# exports bob's old and current escrowed keys (`export intune`), the PFX
# connector (`mdm connector`, no CA directory) re-encrypts each password to
# a CA-issued device certificate as CMS EnvelopedData, which stock openssl
# opens with the device key, and the device (`mdm device`) writes one
# PKCS#12 per certificate. Mail encrypted with openssl to the OLD and to the
# CURRENT certificate decrypts with those keys in openssl, NSS (pk12util
# import, certutil -K, cmsutil) and gpgsm (--legacy). The connector refuses
# device certificates of a foreign CA (also one with the lab CA's name) and
# without clientAuth; the device step refuses another device's key and a
# PFX whose key is not its certificate's.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/keys.sh"

command -v smimeca-enroll >/dev/null 2>&1 ||
    bail_out "smimeca-enroll not found in $top_builddir/tools (build first)"

# --- helpers of this test -----------------------------------------------
nofile()
{
	if [ -e "$1" ]; then not_ok "$2"; else ok "$2"; fi
}

# --- the CA: bob's old and current certificates, exported -------------------
run_ok smimeca -d "$T/lab" init --lab --key rsa:2048 --no-ldap ||
    bail_out "smimeca init --lab failed"
officer_pw 1 >kp1
[ -s kp1 ] || bail_out "no password for officer1.p12 in passwords.txt"
run_ok smimeca -d lab xchg show --pem || bail_out "no exchange certificate"
printf '%s\n' "$out" >xchg.pem
enroll bob1 bob@lab.example Bob || bail_out "bob's first certificate"
s_old=$serial
enroll bob2 bob@lab.example Bob || bail_out "bob's second certificate"
s_new=$serial
tp_old=$(fp bob1.crt sha1)
tp_new=$(fp bob2.crt sha1)

check "openssl genpkey: the import key" \
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out import.key
openssl pkey -in import.key -pubout -out import.pub 2>/dev/null
mkdir out
run_ok -m "export intune --email bob@lab.example" \
    smimeca -d lab export intune --email bob@lab.example \
    --import-key import.pub --key-name SmimecaImportKey \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 --out out ||
    bail_out "export intune failed: nothing for the connector"
user=out/bob@lab.example.json

# --- device certificates ------------------------------------------------------
for n in 1 2; do
	check "openssl req: device-$n's key and request" \
	    openssl req -new -newkey rsa:2048 -nodes -keyout dev$n.key \
	    -subj /CN=device-$n -out dev$n.csr
	run_ok -m "issue device-auth for device-$n" \
	    smimeca -d lab issue --template device-auth --csr dev$n.csr \
	    --out dev$n.crt || bail_out "no device certificate"
done
check "openssl verify -purpose sslclient dev1.crt" \
    openssl verify -CAfile lab/chain.pem -purpose sslclient dev1.crt

# A foreign CA, and one that has the lab CA's name but another key.
ca_subj=$(openssl x509 -in lab/ca.crt -noout -subject -nameopt compat |
    sed 's/^subject=//')
printf 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' >devext
for f in foreign samename; do
	case $f in
	foreign) subj="/CN=Foreign Device CA" ;;
	samename) subj=$ca_subj ;;
	esac
	check "openssl req -x509: the $f CA ($subj)" \
	    openssl req -x509 -newkey rsa:2048 -nodes -keyout $f-ca.key \
	    -out $f-ca.crt -days 30 -subj "$subj" \
	    -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign,cRLSign
	check "openssl x509 -req: a clientAuth device certificate of the $f CA" \
	    openssl x509 -req -in dev1.csr -CA $f-ca.crt -CAkey $f-ca.key \
	    -set_serial 4242 -days 30 -extfile devext -out $f-dev.crt
	run_fails -m "openssl verify refuses the $f device certificate" \
	    openssl verify -CAfile lab/chain.pem $f-dev.crt
done
# CA-issued, but an S/MIME signing certificate: no clientAuth.
mkcsr bobsig bob@lab.example
run_ok -m "bob's signing certificate (emailProtection, no clientAuth)" \
    smimeca -d lab issue --template smime-signature --csr bobsig.csr \
    --out bobsig.crt

# --- the connector: another machine, no CA directory --------------------------
mkdir conn
cp import.key "$user" dev1.crt dev2.crt lab/chain.pem conn/
cd conn || bail_out "cd conn"
run_ok -m "mdm connector --device-ca (no CA directory, SMIMECA_DIR pointing nowhere)" \
    env SMIMECA_DIR="$T/no-such-ca" smimeca mdm connector \
    --import-key import.key --device-cert dev1.crt --device-ca chain.pem \
    --in bob@lab.example.json --out for-dev1.json
cd "$T" || bail_out "cd $T"
nofile no-such-ca "the connector created no CA directory"
run_ok -m "mdm connector -d lab (device CA = lab/chain.pem) for device-2" \
    smimeca -d lab mdm connector --import-key import.key \
    --device-cert dev2.crt --in "$user" --out for-dev2.json

for f in foreign samename; do
	run_exit 1 -m "the connector refuses the $f CA's device certificate" \
	    smimeca mdm connector --import-key import.key \
	    --device-cert $f-dev.crt --device-ca lab/chain.pem --in "$user" \
	    --out for-$f.json
	ilike "$err" 'not issued by' \
	    "the message says it was not issued by the device CA ($f)"
	nofile for-$f.json "nothing written for the $f device certificate"
done
run_exit 1 -m "the connector refuses a certificate without clientAuth" \
    smimeca mdm connector --import-key import.key --device-cert bobsig.crt \
    --device-ca lab/chain.pem --in "$user" --out for-sig.json
isnt "$err" "" "the refusal says why"
nofile for-sig.json "nothing written for the certificate without clientAuth"

# What the connector wrote: the password, to the device only.
mkdir env
py_tap conn/for-dev1.json "$user" import.key dev1.crt env <<'EOF'
import base64
from cryptography.hazmat.primitives.asymmetric import padding
dev, src, impk, devcrt, envdir = sys.argv[1:6]
try:
    d = json.load(open(dev))
    s = json.load(open(src))
except Exception as e:
    check(False, "the connector output and the export parse as JSON", e)
    sys.exit(0)
check(isinstance(d, list) and len(d) == len(s) == 2,
      "the connector output is an array of 2 objects", d if not isinstance(d, list) else len(d))
imp = serialization.load_pem_private_key(open(impk, "rb").read(), None)
dtp = load_cert(devcrt).fingerprint(hashes.SHA1()).hex()
raw = open(dev).read()
for i, (o, u) in enumerate(zip(d, s)):
    n = "for-dev1.json[%d]" % i
    for k in ("thumbprint", "userPrincipalName", "intendedPurpose",
              "encryptedPfxBlob"):
        check(o.get(k) == u.get(k), "%s: %s as in the export" % (n, k),
              "got %r" % (o.get(k),)[:200])
    check(o.get("deviceCertificateThumbprint") == dtp,
          "%s: deviceCertificateThumbprint is the SHA-1 of dev1.crt" % n,
          "got %s, want %s" % (o.get("deviceCertificateThumbprint"), dtp))
    pw = imp.decrypt(base64.b64decode(u["encryptedPfxPassword"]),
                     padding.OAEP(mgf=padding.MGF1(hashes.SHA512()),
                                  algorithm=hashes.SHA512(), label=None))
    open(os.path.join(envdir, "%d.pw" % i), "wb").write(pw)
    check(pw.decode() not in raw, "%s: the plain password is not in the output" % n)
    try:
        env = base64.b64decode(o.get("devicePfxPassword"), validate=True)
        open(os.path.join(envdir, "%d.der" % i), "wb").write(env)
        check(len(env) > 0 and env[0] == 0x30,
              "%s: devicePfxPassword is base64 of DER" % n)
    except Exception as e:
        check(False, "%s: devicePfxPassword is base64 of DER" % n, e)
EOF
for i in 0 1; do
	check "openssl cms -cmsout -print of devicePfxPassword $i" \
	    openssl cms -cmsout -print -inform DER -in env/$i.der
	like "$out" 'pkcs7-envelopedData' \
	    "devicePfxPassword $i is a CMS EnvelopedData"
	check "openssl cms -decrypt of devicePfxPassword $i with device-1's key" \
	    openssl cms -decrypt -inform DER -in env/$i.der -recip dev1.crt \
	    -inkey dev1.key -binary -out env/$i.opened
	if cmp -s env/$i.opened env/$i.pw; then
		ok "it is the password OAEP-encrypted in the export ($i)"
	else
		not_ok "it is the password OAEP-encrypted in the export ($i)"
	fi
	# -debug_decrypt: no random-key countermeasure, whose garbage
	# "opens" one envelope in 256.
	run_fails -m "device-2's key does not open devicePfxPassword $i" \
	    openssl cms -decrypt -debug_decrypt -inform DER -in env/$i.der \
	    -inkey dev2.key -binary -out /dev/null
done

# --- the device ----------------------------------------------------------------
printf 'Device-Pw-1\n' >pw
run_ok -m "mdm device --password-file" \
    smimeca mdm device --device-key dev1.key --in conn/for-dev1.json \
    --out devout --password-file pw
like "$out" "devout/$tp_old\.p12 \(certificate $s_old\)" \
    "stdout: wrote devout/<old thumbprint>.p12 (certificate <old serial>)"
like "$out" "devout/$tp_new\.p12 \(certificate $s_new\)" \
    "stdout: wrote devout/<current thumbprint>.p12 (certificate <serial>)"
unlike "$out" 'PKCS#12 password' "with --password-file no password is printed"
is "$(ls devout | wc -l | tr -d ' ')" 2 "devout holds two files"
is "$(p12key devout/$tp_old.p12 file:pw)" "$(keyhex bob1/key.pem)" \
    "the old PKCS#12 holds bob's old escrowed key"
is "$(p12cert devout/$tp_old.p12 file:pw sha1)" "$tp_old" \
    "the old PKCS#12 holds bob's old certificate"
is "$(p12key devout/$tp_new.p12 file:pw)" "$(keyhex bob2/key.pem)" \
    "the current PKCS#12 holds bob's current escrowed key"
is "$(p12cert devout/$tp_new.p12 file:pw sha1)" "$tp_new" \
    "the current PKCS#12 holds bob's current certificate"

run_ok -m "mdm device with a generated password (device-2)" \
    smimeca mdm device --device-key dev2.key --in for-dev2.json --out devgen
for tp in $tp_old $tp_new; do
	gpw=$(printf '%s\n' "$out" | grep "$tp\.p12" |
	    sed -n 's/.*PKCS#12 password: *//p' | head -n 1)
	isnt "$gpw" "" "a generated password printed for $tp.p12"
	printf '%s\n' "$gpw" >gpw
	is "$(p12cert devgen/$tp.p12 file:gpw sha1)" "$tp" \
	    "devgen/$tp.p12 opens with it and holds its certificate"
done

run_fails -m "mdm device refuses another device's key" \
    smimeca mdm device --device-key dev2.key --in conn/for-dev1.json \
    --out devwrong --password-file pw
is "$(ls devwrong 2>/dev/null | wc -l | tr -d ' ')" 0 \
    "no PKCS#12 written with the wrong device key"

# A PFX (under the right password) whose key is not its certificate's: the
# old key with the current certificate.
py_tap conn/for-dev1.json env/0.opened bob1/key.pem bob2.crt mism.json <<'EOF'
import base64
from cryptography.hazmat.primitives.serialization import pkcs12
d = json.load(open(sys.argv[1]))
pw = open(sys.argv[2], "rb").read()
k = serialization.load_pem_private_key(open(sys.argv[3], "rb").read(), None)
c = load_cert(sys.argv[4])
blob = pkcs12.serialize_key_and_certificates(
    b"bob", k, None, [c], serialization.BestAvailableEncryption(pw))
d = d[:1]
d[0]["encryptedPfxBlob"] = base64.b64encode(blob).decode()
json.dump(d, open(sys.argv[5], "w"))
p = pkcs12.load_pkcs12(blob, pw)
check(p.key is not None and len(p.additional_certs) == 1,
      "a PFX with bob's old key and his current certificate")
EOF
run_fails -m "mdm device refuses a PFX whose key is not its certificate's" \
    smimeca mdm device --device-key dev1.key --in mism.json --out devmism \
    --password-file pw
is "$(ls devmism 2>/dev/null | wc -l | tr -d ' ')" 0 \
    "no PKCS#12 written for the mismatched PFX"

# --- mail to the old and to the current certificate -----------------------------
printf 'Subject: old\r\n\r\nwritten to the old key\r\n' >old.txt
printf 'Subject: new\r\n\r\nwritten to the current key\r\n' >new.txt
check "openssl smime -encrypt -aes256 to the OLD certificate" \
    openssl smime -encrypt -aes256 -binary -in old.txt -out old.smime bob1.crt
check "openssl cms -encrypt -aes256 to the CURRENT certificate" \
    openssl cms -encrypt -aes256 -binary -in new.txt -outform DER \
    -out new.cms bob2.crt
openssl cms -cmsout -in old.smime -inform SMIME -outform DER \
    -out old.cms 2>/dev/null
openssl pkcs12 -in devout/$tp_old.p12 -passin file:pw -nodes -nocerts \
    -out old.key 2>/dev/null
openssl pkcs12 -in devout/$tp_new.p12 -passin file:pw -nodes -nocerts \
    -out new.key 2>/dev/null
check "openssl smime -decrypt of the old message with the device's old key" \
    openssl smime -decrypt -in old.smime -recip bob1.crt -inkey old.key \
    -binary -out old.dec
cmp -s old.dec old.txt && ok "openssl: the old message is back" ||
    not_ok "openssl: the old message is back"
check "openssl cms -decrypt of the current message with the device's key" \
    openssl cms -decrypt -inform DER -in new.cms -recip bob2.crt \
    -inkey new.key -binary -out new.dec
cmp -s new.dec new.txt && ok "openssl: the current message is back" ||
    not_ok "openssl: the current message is back"
run_fails -m "the current key does not open the old message" \
    openssl cms -decrypt -debug_decrypt -in old.smime -inkey new.key \
    -binary -out /dev/null

# NSS: import both as they are, list the keys, decrypt.
if command -v certutil >/dev/null 2>&1 && command -v pk12util >/dev/null 2>&1 &&
    command -v cmsutil >/dev/null 2>&1; then
	mkdir nss
	check "NSS certutil -N --empty-password" \
	    certutil -N -d sql:"$T/nss" --empty-password
	for tp in $tp_old $tp_new; do
		check "NSS pk12util -i devout/$tp.p12" \
		    pk12util -i devout/$tp.p12 -d sql:"$T/nss" -W "$(cat pw)" -K ""
	done
	check "NSS certutil -K" certutil -K -d sql:"$T/nss"
	is "$(printf '%s\n' "$out" | grep -Ec '^< *[0-9]+> +rsa')" 2 \
	    "certutil -K lists two RSA keys"
	check "NSS cmsutil -D of the old message" \
	    cmsutil -D -d sql:"$T/nss" -p "" -i old.cms -o old.nss
	cmp -s old.nss old.txt && ok "NSS: the old message is back" ||
	    not_ok "NSS: the old message is back"
	check "NSS cmsutil -D of the current message" \
	    cmsutil -D -d sql:"$T/nss" -p "" -i new.cms -o new.nss
	cmp -s new.nss new.txt && ok "NSS: the current message is back" ||
	    not_ok "NSS: the current message is back"
else
	skip "NSS imports the device's PKCS#12 files" \
	    "NSS tools (libnss3-tools) are not installed"
fi

# gpgsm 2.2 needs --legacy (PBE-SHA1-3DES).
if command -v gpgsm >/dev/null 2>&1 && command -v gpg-agent >/dev/null 2>&1; then
	gpgsm_home
	run_ok -m "mdm device --legacy" \
	    smimeca mdm device --device-key dev1.key --in conn/for-dev1.json \
	    --out devleg --password-file pw --legacy
	like "$(openssl pkcs12 -in devleg/$tp_old.p12 -passin file:pw -info \
	    -noout 2>&1)" 'pbeWithSHA1And3-KeyTripleDES-CBC' \
	    "the --legacy PKCS#12 uses PBE-SHA1-3DES"
	# A fresh device step for a retry of gpgsm (keys.sh gpgsm_import).
	remake_devleg()
	{
		rm -rf devleg &&
		    smimeca mdm device --device-key dev1.key \
		    --in conn/for-dev1.json --out devleg \
		    --password-file pw --legacy
	}
	for tp in $tp_old $tp_new; do
		gpgsm_import "gpgsm imports devleg/$tp.p12" devleg/$tp.p12 pw \
		    remake_devleg
	done
	check "gpgsm --decrypt of the old message" \
	    sh -c 'gpgsm --batch --pinentry-mode loopback --passphrase-fd 3 \
	    --decrypt old.cms 3<pw >old.gpgsm'
	cmp -s old.gpgsm old.txt && ok "gpgsm: the old message is back" ||
	    not_ok "gpgsm: the old message is back"
	check "gpgsm --decrypt of the current message" \
	    sh -c 'gpgsm --batch --pinentry-mode loopback --passphrase-fd 3 \
	    --decrypt new.cms 3<pw >new.gpgsm'
	cmp -s new.gpgsm new.txt && ok "gpgsm: the current message is back" ||
	    not_ok "gpgsm: the current message is back"
else
	skip "gpgsm imports the --legacy PKCS#12 files" "gpgsm is not installed"
fi

done_testing
