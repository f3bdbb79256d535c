#!/bin/sh
# MDM export for Intune (PROTOCOLS.md section 4): `smimeca export intune`
# writes Graph userPFXCertificate objects whose encryptedPfxPassword an
# independent RSA-OAEP decryption (Python cryptography and openssl pkeyutl:
# SHA-512 for hash and MGF1, empty label) turns into the password that opens
# encryptedPfxBlob, and the PKCS#12 holds the key smimeca-enroll made, the
# certificate whose SHA-1 is the thumbprint and the CA chain. Every escrowed
# certificate of the address is exported, oldest first (superseded and
# revoked ones too, signing certificates not); field names and enum values
# are exact; --padding oaepSha256/oaepSha384 use that hash and pkcs1 or
# oaepSha1 are usage errors; --upn, --provider, --ndjson; unknown addresses
# and wrong officer passwords fail; an m-of-n record needs m officer keys,
# each --kra-pass-file going with the --kra-key before it.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/keys.sh"

command -v smimeca-enroll >/dev/null 2>&1 ||
    bail_out "smimeca-enroll not found in $top_builddir/tools (build first)"

# --- helpers of this test -----------------------------------------------

# The checks of one exported file, run by py_tap:
#   FILE IMPORT-KEY PADDING UPN PROVIDER KEYNAME CA-CERT [CERT KEY]...
# where the CERT KEY pairs are the expected certificates, oldest first, and
# the keys smimeca-enroll wrote for them. With FILE ending in .ndjson the
# objects are its lines. The passwords go to FILE.pw1, FILE.pw2, ... and
# the PKCS#12 files to FILE.1.p12, ... for the openssl checks.
INTUNE_CHECK='
import base64, re
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import pkcs12

path, impkey, pad, upn, provider, keyname, cacert = sys.argv[1:8]
pairs = sys.argv[8:]
want = [(load_cert(pairs[i]), pairs[i + 1]) for i in range(0, len(pairs), 2)]
tag = os.path.basename(path)
HASH = {"oaepSha256": hashes.SHA256, "oaepSha384": hashes.SHA384,
        "oaepSha512": hashes.SHA512}[pad]
OTHER = hashes.SHA256 if pad != "oaepSha256" else hashes.SHA512
FIELDS = {"@odata.type", "userPrincipalName", "thumbprint",
          "intendedPurpose", "startDateTime", "expirationDateTime",
          "providerName", "keyName", "paddingScheme", "encryptedPfxBlob",
          "encryptedPfxPassword", "createdDateTime", "lastModifiedDateTime"}
ISO = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$")

def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")

def b64(s):
    return base64.b64decode(s, validate=True)

try:
    raw = open(path).read()
    if path.endswith(".ndjson"):
        lines = [l for l in raw.split("\n") if l != ""]
        objs = [json.loads(l) for l in lines]
        check(raw.endswith("\n"), "%s: every line ends with a newline" % tag)
    else:
        objs = json.loads(raw)
except Exception as e:
    check(False, "%s parses as JSON" % tag, e)
    sys.exit(0)
check(isinstance(objs, list), "%s: a JSON array (or one object a line)" % tag)
if not check(len(objs) == len(want),
             "%s: %d objects, one per escrowed certificate" % (tag, len(want)),
             "%d objects" % len(objs)):
    sys.exit(0)

imp = serialization.load_pem_private_key(open(impkey, "rb").read(), None)
ca = load_cert(cacert)
pws = []
# Each object is checked against the certificate its thumbprint names; the
# order is checked once, here.
bytp = {c.fingerprint(hashes.SHA1()).hex(): (j, c, k) for j, (c, k) in enumerate(want)}
got = [o.get("thumbprint") if isinstance(o, dict) else None for o in objs]
check(sorted(map(str, got)) == sorted(bytp),
      "%s: one object for each of %s" % (tag, " ".join(pairs[0::2])),
      "got %s\nwant %s" % (got, list(bytp)))
check(got == [c.fingerprint(hashes.SHA1()).hex() for c, k in want],
      "%s: ordered oldest certificate first (%s)" % (tag, " ".join(pairs[0::2])),
      "got %s\nwant %s" % (got, [c.fingerprint(hashes.SHA1()).hex() for c, k in want]))
for i, o in enumerate(objs):
    n = "%s[%d]" % (tag, i)
    j, cert, keyfile = bytp.get(o.get("thumbprint"), (i,) + want[i])
    check(isinstance(o, dict) and set(o.keys()) == FIELDS,
          "%s: exactly the userPFXCertificate fields" % n,
          "extra: %s\nmissing: %s" % (sorted(set(o) - FIELDS), sorted(FIELDS - set(o))))
    g = lambda k: o.get(k)
    check(g("@odata.type") == "#microsoft.graph.userPFXCertificate",
          "%s: @odata.type is microsoft.graph.userPFXCertificate" % n, g("@odata.type"))
    check(g("intendedPurpose") == "smimeEncryption",
          "%s: intendedPurpose smimeEncryption" % n, g("intendedPurpose"))
    check(g("paddingScheme") == pad, "%s: paddingScheme %s" % (n, pad), g("paddingScheme"))
    check(g("userPrincipalName") == upn, "%s: userPrincipalName %s" % (n, upn),
          g("userPrincipalName"))
    check(g("providerName") == provider, "%s: providerName %s" % (n, provider),
          g("providerName"))
    check(g("keyName") == keyname, "%s: keyName %s" % (n, keyname), g("keyName"))
    tp = cert.fingerprint(hashes.SHA1()).hex()
    check(g("thumbprint") == tp,
          "%s: thumbprint is the lower-case SHA-1 of %s" % (n, pairs[2 * j]),
          "got %s, want %s" % (g("thumbprint"), tp))
    check(g("startDateTime") == iso(cert.not_valid_before),
          "%s: startDateTime is notBefore (YYYY-MM-DDTHH:MM:SSZ)" % n,
          "got %s, want %s" % (g("startDateTime"), iso(cert.not_valid_before)))
    check(g("expirationDateTime") == iso(cert.not_valid_after),
          "%s: expirationDateTime is notAfter" % n,
          "got %s, want %s" % (g("expirationDateTime"), iso(cert.not_valid_after)))
    for k in ("createdDateTime", "lastModifiedDateTime"):
        v = g(k)
        check(isinstance(v, str) and ISO.match(v) is not None,
              "%s: %s is ISO 8601 UTC" % (n, k), v)
    try:
        ct = b64(g("encryptedPfxPassword"))
        blob = b64(g("encryptedPfxBlob"))
    except Exception as e:
        check(False, "%s: the blob and password are base64" % n, e)
        continue
    check(len(ct) == imp.key_size // 8,
          "%s: encryptedPfxPassword is one RSA block of the import key" % n, len(ct))
    try:
        pw = imp.decrypt(ct, padding.OAEP(mgf=padding.MGF1(algorithm=HASH()),
                                          algorithm=HASH(), label=None))
        check(True, "%s: RSA-OAEP (%s, MGF1 same hash, empty label) decrypts the password" % (n, pad))
    except Exception as e:
        check(False, "%s: RSA-OAEP (%s, MGF1 same hash, empty label) decrypts the password" % (n, pad), e)
        continue
    try:
        imp.decrypt(ct, padding.OAEP(mgf=padding.MGF1(algorithm=OTHER()),
                                     algorithm=OTHER(), label=None))
        check(False, "%s: OAEP with %s does not decrypt it (the padding hash is used)" % (n, OTHER.name))
    except Exception:
        check(True, "%s: OAEP with %s does not decrypt it (the padding hash is used)" % (n, OTHER.name))
    check(re.match(rb"^[A-Za-z0-9]{32}$", pw) is not None,
          "%s: the password is 32 characters A-Za-z0-9" % n, pw)
    pws.append(pw)
    open("%s.pw%d" % (path, i + 1), "wb").write(pw)
    open("%s.%d.p12" % (path, i + 1), "wb").write(blob)
    try:
        p = pkcs12.load_pkcs12(blob, pw)
        check(True, "%s: the password opens encryptedPfxBlob (a plain PKCS12)" % n)
    except Exception as e:
        check(False, "%s: the password opens encryptedPfxBlob (a plain PKCS12)" % n, e)
        continue
    check(p.cert is not None and p.cert.certificate == cert,
          "%s: the PKCS12 holds %s" % (n, pairs[2 * j]))
    wk = serialization.load_pem_private_key(open(keyfile, "rb").read(), None)
    check(p.key is not None and p.key.private_numbers() == wk.private_numbers(),
          "%s: the PKCS12 key is the escrowed key (%s)" % (n, keyfile))
    check(p.key is not None and p.cert is not None and
          p.key.public_key().public_numbers() ==
          p.cert.certificate.public_key().public_numbers(),
          "%s: the key matches the certificate" % n)
    check(ca in [c.certificate for c in p.additional_certs],
          "%s: the PKCS12 holds the CA certificate" % n,
          "%d other certificates" % len(p.additional_certs))
check(len(set(pws)) == len(pws), "%s: every PKCS12 has its own password" % tag)
'

# (py_tap must not run in a pipeline: the TAP counter lives in this shell.)
printf '%s\n' "$INTUNE_CHECK" >"$T/intune-check.py"
intune_check()
{
	py_tap "$@" <"$T/intune-check.py"
}

# --- a lab CA; bob with an old and a current certificate ------------------
run_ok smimeca -d "$T/lab" init --lab --key rsa:2048 --no-ldap ||
    bail_out "smimeca init --lab failed"
for i in 1 2 3; do
	officer_pw $i >kp$i
	[ -s kp$i ] || bail_out "no password for officer$i.p12 in passwords.txt"
done
run_ok smimeca -d lab xchg show --pem || bail_out "no exchange certificate"
printf '%s\n' "$out" >xchg.pem

enroll bob1 bob@lab.example Bob || bail_out "bob's first certificate"
s_old=$serial
enroll bob2 bob@lab.example Bob || bail_out "bob's second certificate"
s_new=$serial
run_ok smimeca -d lab cert list --json
printf '%s\n' "$out" >certs.json
py_tap certs.json "$s_old" "$s_new" <<'EOF'
certs = {c["serial"].lower(): c for c in json.load(open(sys.argv[1]))}
a, b = certs.get(sys.argv[2].lower()), certs.get(sys.argv[3].lower())
check(a is not None and a["status"] == "revoked", "bob's first certificate is superseded", a)
check(b is not None and b["status"] == "valid", "bob's second certificate is valid", b)
EOF
# A signing certificate of bob: no escrowed key, so not exported.
mkcsr bobsig bob@lab.example
run_ok -m "bob's signing certificate" \
    smimeca -d lab issue --template smime-signature --csr bobsig.csr \
    --out bobsig.crt
# carol: one certificate, revoked for key compromise, still escrowed.
enroll carol carol@lab.example Carol || bail_out "carol's certificate"
run_ok -m "revoke carol's certificate (keyCompromise)" \
    smimeca -d lab revoke "$serial" --reason keyCompromise

# The customer's import key (Intune: the connector host's key pair).
check "openssl genpkey: the import key (RSA 2048)" \
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out import.key
check "openssl pkey -pubout: the import public key" \
    openssl pkey -in import.key -pubout -out import.pub

KSP="Microsoft Software Key Storage Provider"

# --- bob, defaults ---------------------------------------------------------
mkdir out
run_ok -m "export intune --email bob@lab.example (defaults)" \
    smimeca -d lab export intune --email bob@lab.example \
    --import-key import.pub --key-name SmimecaImportKey \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 --out out
like "$out" '^wrote (.*/)?out/bob@lab\.example\.json \(2 certificates\)$' \
    "stdout: wrote out/bob@lab.example.json (2 certificates)"
[ -s out/bob@lab.example.json ] && ok "out/bob@lab.example.json written" ||
    not_ok "out/bob@lab.example.json written"
intune_check out/bob@lab.example.json import.key oaepSha512 bob@lab.example \
    "$KSP" SmimecaImportKey lab/ca.crt bob1.crt bob1/key.pem \
    bob2.crt bob2/key.pem
unlike "$(cat out/bob@lab.example.json 2>/dev/null)" "$(fp bobsig.crt sha1)" \
    "bob's signing certificate (no escrow) is not exported"

# The same with openssl alone: pkeyutl decrypts, pkcs12 opens.
for i in 1 2; do
	f=out/bob@lab.example.json
	tp=$("$PY" -c '
import sys, json, base64
o = json.load(open(sys.argv[1]))[int(sys.argv[2]) - 1]
open(sys.argv[3], "wb").write(base64.b64decode(o["encryptedPfxPassword"]))
print(o["thumbprint"])
' "$f" $i pw$i.enc 2>/dev/null)
	k=0
	[ "$tp" = "$(fp bob1.crt sha1)" ] && k=1
	[ "$tp" = "$(fp bob2.crt sha1)" ] && k=2
	check "openssl pkeyutl -decrypt (OAEP, SHA-512, MGF1-SHA-512) of password $i" \
	    openssl pkeyutl -decrypt -inkey import.key -in pw$i.enc \
	    -out pw$i.txt -pkeyopt rsa_padding_mode:oaep \
	    -pkeyopt rsa_oaep_md:sha512 -pkeyopt rsa_mgf1_md:sha512
	if cmp -s pw$i.txt "$f.pw$i"; then
		ok "openssl and Python decrypt the same password $i"
	else
		not_ok "openssl and Python decrypt the same password $i"
	fi
	is "$(p12key "$f.$i.p12" file:pw$i.txt)" "$(keyhex bob$k/key.pem)" \
	    "openssl pkcs12 opens PKCS12 $i with it: the key of its thumbprint"
done
run_fails -m "the first password does not open the second PKCS12" \
    openssl pkcs12 -in out/bob@lab.example.json.2.p12 -passin file:pw1.txt \
    -nodes -noout

# --- carol: a revoked certificate is exported too ---------------------------
run_ok -m "export intune --email carol@lab.example (revoked certificate)" \
    smimeca -d lab export intune --email carol@lab.example \
    --import-key import.pub --key-name SmimecaImportKey \
    --kra-key officers/officer2.p12 --kra-pass-file kp2 --out out
like "$out" 'carol@lab\.example\.json \(1 certificates?\)' \
    "stdout: wrote out/carol@lab.example.json (1 certificate)"
intune_check out/carol@lab.example.json import.key oaepSha512 \
    carol@lab.example "$KSP" SmimecaImportKey lab/ca.crt carol.crt \
    carol/key.pem

# --- options ---------------------------------------------------------------
mkdir out256 out384
run_ok -m "export intune --padding oaepSha256 --upn {dir:mail} --provider, officer3 from \$SMIMECA_KRA_PASSPHRASE, mixed-case address" \
    env SMIMECA_KRA_PASSPHRASE="$(cat kp3)" smimeca -d lab export intune \
    --email Bob@Lab.Example --import-key import.pub --key-name Other-Key \
    --provider "Microsoft Platform Crypto Provider" --padding oaepSha256 \
    --upn '{dir:mail}' --kra-key officers/officer3.p12 --out out256
[ -s out256/bob@lab.example.json ] &&
    ok "the mixed-case address writes out256/bob@lab.example.json" ||
    not_ok "the mixed-case address writes out256/bob@lab.example.json" \
    "$(ls out256)"
intune_check out256/bob@lab.example.json import.key oaepSha256 \
    bob@lab.example "Microsoft Platform Crypto Provider" Other-Key \
    lab/ca.crt bob1.crt bob1/key.pem bob2.crt bob2/key.pem
run_ok -m "export intune --padding oaepSha384" \
    smimeca -d lab export intune --email bob@lab.example \
    --import-key import.pub --key-name SmimecaImportKey --padding oaepSha384 \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 --out out384
intune_check out384/bob@lab.example.json import.key oaepSha384 \
    bob@lab.example "$KSP" SmimecaImportKey lab/ca.crt bob1.crt bob1/key.pem \
    bob2.crt bob2/key.pem

mkdir outnd
run_ok -m "export intune --ndjson" \
    smimeca -d lab export intune --email bob@lab.example --ndjson \
    --import-key import.pub --key-name SmimecaImportKey \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 --out outnd
[ -e outnd/bob@lab.example.json ] &&
    not_ok "--ndjson writes no bob@lab.example.json" ||
    ok "--ndjson writes no bob@lab.example.json"
intune_check outnd/userPFXCertificates.ndjson import.key oaepSha512 \
    bob@lab.example "$KSP" SmimecaImportKey lab/ca.crt bob1.crt bob1/key.pem \
    bob2.crt bob2/key.pem

# --- refusals ----------------------------------------------------------------
mkdir outbad
for pad in pkcs1 oaepSha1; do
	run_exit 2 -m "--padding $pad is a usage error (exit 2)" \
	    smimeca -d lab export intune --email bob@lab.example \
	    --import-key import.pub --key-name K --padding $pad \
	    --kra-key officers/officer1.p12 --kra-pass-file kp1 --out outbad
	like "$err" 'oaepSha512' "the $pad message names oaepSha512"
	like "$err" 'oaepSha384' "the $pad message names oaepSha384"
	like "$err" 'oaepSha256' "the $pad message names oaepSha256"
done
run_exit 1 -m "export of an unknown address: exit 1" \
    smimeca -d lab export intune --email nobody@lab.example \
    --import-key import.pub --key-name K \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 --out outbad
like "$err" 'nobody@lab\.example' "the message names the address"
printf 'not-the-password\n' >badpw
run_exit 1 -m "export with a wrong officer password: exit 1" \
    smimeca -d lab export intune --email bob@lab.example \
    --import-key import.pub --key-name K \
    --kra-key officers/officer1.p12 --kra-pass-file badpw --out outbad
is "$(ls outbad | wc -l | tr -d ' ')" 0 "the refused exports wrote nothing"

# --- m of n ------------------------------------------------------------------
conf=lab/smimeca.conf
sed 's/\(<escrow[^>]*quorum="\)[0-9]*"/\12"/' $conf >$conf.new &&
    cat $conf.new >$conf && rm -f $conf.new
like "$(grep '<escrow' $conf)" 'quorum="2"' "smimeca.conf now says quorum 2"
enroll dora dora@lab.example Dora || bail_out "dora's certificate"
is "$(sqlite3 lab/smimeca.db "SELECT e.quorum FROM escrow e JOIN certs c
    ON c.id = e.cert_id WHERE c.serial = '$serial';")" 2 \
    "dora's key is escrowed 2 of 3"
mkdir outq1 outq2
run_exit 1 -m "export of a 2-of-3 record with one officer key: exit 1" \
    smimeca -d lab export intune --email dora@lab.example \
    --import-key import.pub --key-name K \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 --out outq1
like "$err" '(^|[^0-9])2([^0-9]|$)' "the message says 2 are needed"
ilike "$err" 'officer|kra|quorum|share' "the message is about officers"
[ -e outq1/dora@lab.example.json ] &&
    not_ok "no file from one officer" || ok "no file from one officer"
# Officers 1 and 3 have different passwords: each file goes with its key.
run_ok -m "export of the 2-of-3 record with officers 1 and 3" \
    smimeca -d lab export intune --email dora@lab.example \
    --import-key import.pub --key-name K \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 \
    --kra-key officers/officer3.p12 --kra-pass-file kp3 --out outq2
intune_check outq2/dora@lab.example.json import.key oaepSha512 \
    dora@lab.example "$KSP" K lab/ca.crt dora.crt dora/key.pem
run_exit 1 -m "the pass files swapped: exit 1" \
    smimeca -d lab export intune --email dora@lab.example \
    --import-key import.pub --key-name K \
    --kra-key officers/officer1.p12 --kra-pass-file kp3 \
    --kra-key officers/officer3.p12 --kra-pass-file kp1 --out outq1
# bob's records were escrowed 1 of 3 and still need one officer only.
mkdir outq3
run_ok -m "bob's older 1-of-3 records still export with one officer" \
    smimeca -d lab export intune --email bob@lab.example \
    --import-key import.pub --key-name K \
    --kra-key officers/officer2.p12 --kra-pass-file kp2 --out outq3
intune_check outq3/bob@lab.example.json import.key oaepSha512 \
    bob@lab.example "$KSP" K lab/ca.crt bob1.crt bob1/key.pem \
    bob2.crt bob2/key.pem

# --all: a progress bar on stderr when it is a terminal, none otherwise.
nblob=$(sqlite3 lab/smimeca.db \
    "SELECT count(*) FROM audit WHERE action = 'recover-blob';")
run_ok -m "export --all with two officers (no terminal)" \
    smimeca -d lab export intune --all --import-key import.pub --key-name K \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 \
    --kra-key officers/officer3.p12 --kra-pass-file kp3 --out outall
unlike "$err" '\[#+' "no progress bar when stderr is not a terminal"
like "$out" 'exported [0-9]+ certificates of [0-9]+ users to outall; 0 users' \
    "--all ends with the summary line"
nusers=$(printf '%s\n' "$out" | sed -n 's/.* of \([0-9]*\) users to outall.*/\1/p')
is "$(ls outall | wc -l | tr -d ' ')" "$nusers" "--all: one file a user"
is "$(sqlite3 lab/smimeca.db \
    "SELECT count(*) - $nblob FROM audit WHERE action = 'recover-blob';")" \
    "$nusers" "--all: one recover-blob audit row a user (batched commits)"
check "--all: the audit chain holds" smimeca -d lab audit verify
if command -v script >/dev/null 2>&1; then
	# script(1) runs the command on a pseudo-terminal and copies it out.
	run_cmd script -qec "smimeca -d lab export intune --all \
	    --import-key import.pub --key-name K \
	    --kra-key officers/officer1.p12 --kra-pass-file kp1 \
	    --kra-key officers/officer3.p12 --kra-pass-file kp3 \
	    --out outtty" /dev/null
	is "$rc" 0 "export --all on a terminal exits 0"
	like "$out" '\[#{40}\] [0-9]+/[0-9]+ users, 0 failed' \
	    "on a terminal it draws a progress bar to the end"
else
	skip "progress bar on a terminal" "script(1) is not installed"
fi

run_ok -m "audit verify" smimeca -d lab audit verify

done_testing
