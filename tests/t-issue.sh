#!/bin/sh
# smimeca issue: the README walk-through, the extensions of each stock
# template (checked with openssl and python cryptography), serials, two
# tiers, key policy and an S/MIME round trip with openssl smime.
. "$(dirname "$0")/lib.sh"

run_ok smimeca -d lab init --name "Lab Issuing CA" || bail_out "init failed"

# --- smime-signature: the walk-through ---
run_ok -m "openssl req makes Alice's key and CSR" \
    openssl req -new -newkey rsa:2048 -nodes -keyout alice.key \
    -subj "/CN=Alice/emailAddress=Alice@Lab.Example" -out alice.csr
run_ok smimeca -d lab issue --template smime-signature --csr alice.csr \
    --out alice.crt
serial=$out
like "$serial" '^[0-9a-f]{32}$' "issue --out prints the serial (32 hex)"
is "$(norm_serial "$serial")" "$(cert_serial alice.crt)" \
    "the printed serial is the certificate's"
run_ok -m "openssl verify -purpose smimesign against chain.pem" \
    openssl verify -purpose smimesign -CAfile lab/chain.pem alice.crt
like "$out" 'alice.crt: OK' "alice.crt: OK"
run_ok -m "openssl verify -purpose smimesign against ca.crt" \
    openssl verify -purpose smimesign -CAfile lab/ca.crt alice.crt
run_ok -m "openssl x509 -text parses the certificate" \
    openssl x509 -in alice.crt -noout -text
like "$out" 'Digital Signature, Non Repudiation' \
    "openssl shows keyUsage Digital Signature, Non Repudiation"
like "$out" 'E-mail Protection' "openssl shows EKU E-mail Protection"
like "$out" 'email:alice@lab.example' "openssl shows the SAN email"

py_tap alice.crt lab/ca.crt <<'EOF'
c, ca = load_cert(sys.argv[1]), load_cert(sys.argv[2])
want = {ExtensionOID.KEY_USAGE, ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME, ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.CRL_DISTRIBUTION_POINTS,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS}
got = [e.oid for e in c.extensions]
check(set(got) == want and len(got) == len(want),
      "exactly KU, EKU, SAN, BC, SKI, AKI, CDP, AIA",
      "extra: %s\nmissing: %s" % (
          [o._name for o in set(got) - want],
          [o._name for o in want - set(got)]))
ku = ext(c, ExtensionOID.KEY_USAGE)
if check(ku is not None, "keyUsage present"):
    k = ku.value
    check(ku.critical, "keyUsage is critical")
    check(k.digital_signature and k.content_commitment,
          "keyUsage digitalSignature + nonRepudiation", k)
    check(not (k.key_encipherment or k.data_encipherment or k.key_agreement
               or k.key_cert_sign or k.crl_sign),
          "keyUsage has nothing else", k)
eku = ext(c, ExtensionOID.EXTENDED_KEY_USAGE)
check(eku is not None and list(eku.value) ==
      [ExtendedKeyUsageOID.EMAIL_PROTECTION], "EKU is [emailProtection]",
      eku)
san = ext(c, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
check(san is not None and list(san.value) ==
      [x509.RFC822Name("alice@lab.example")],
      "SAN is rfc822Name alice@lab.example (lower-cased)", san)
bc = ext(c, ExtensionOID.BASIC_CONSTRAINTS)
check(bc is not None and bc.value.ca is False, "basicConstraints CA:FALSE")
ski = ext(c, ExtensionOID.SUBJECT_KEY_IDENTIFIER)
check(ski is not None and len(ski.value.digest) > 0, "SKI present")
aki = ext(c, ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
caski = ext(ca, ExtensionOID.SUBJECT_KEY_IDENTIFIER)
check(aki is not None and caski is not None and
      aki.value.key_identifier == caski.value.digest,
      "AKI is the CA's key identifier")
cdp = ext(c, ExtensionOID.CRL_DISTRIBUTION_POINTS)
urls = [n.value for dp in (cdp.value if cdp else []) for n in
        (dp.full_name or []) if isinstance(n, x509.UniformResourceIdentifier)]
check(any(u.startswith("http") for u in urls), "CRL distribution point URL",
      urls)
aia = ext(c, ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
ai = [d for d in (aia.value if aia else [])
      if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS]
check(len(ai) >= 1 and ai[0].access_location.value.startswith("http"),
      "AIA caIssuers URL", aia)
s = c.serial_number
check(0 < s < 2**128 and len("%x" % s) <= 32,
      "serial is positive and at most 16 bytes", "%x" % s)
check(c.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)[0].value ==
      "alice@lab.example", "subject emailAddress is lower-case",
      c.subject.rfc4514_string())
check(c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value ==
      "Alice", "subject CN is Alice")
check(c.issuer == ca.subject, "issuer is the CA")
check(c.version == x509.Version.v3, "X.509 v3")
check(c.not_valid_after <= ca.not_valid_after,
      "does not outlive the CA certificate")
now = datetime.datetime.utcnow()
check(c.not_valid_before <= now < c.not_valid_after, "valid now")
EOF

# --- CSR forms and overrides ---
run_ok -m "issue without --out writes PEM to stdout" \
    smimeca -d lab issue --template smime-signature --csr alice.csr \
    --email alice.stdout@lab.example
printf '%s\n' "$out" >stdout.crt
check "the stdout certificate parses" \
    openssl x509 -in stdout.crt -noout
openssl req -in alice.csr -outform DER -out alice.der 2>/dev/null
run_ok -m "issue accepts a DER CSR" \
    smimeca -d lab issue --template smime-signature --csr alice.der \
    --email alice.der@lab.example --out der.crt
check "the certificate from a DER CSR verifies" \
    openssl verify -purpose smimesign -CAfile lab/chain.pem der.crt
run_ok -m "issue --email --cn: the administrator vouches for the account" \
    smimeca -d lab issue --template smime-signature --csr alice.csr \
    --email Carol@Lab.Example --cn Carol --out carol.crt
openssl x509 -in carol.crt -noout -subject -nameopt RFC2253 >carol.subj
like "$(cat carol.subj)" 'emailAddress=carol@lab.example' \
    "--email is lower-cased into the subject"
like "$(cat carol.subj)" 'CN=Carol' "--cn becomes the CN"

# A CSR asking for CA:TRUE gets the template's extensions, not its own.
run_ok -m "a CSR that asks for CA:TRUE and other extensions" \
    openssl req -new -newkey rsa:2048 -nodes -keyout greedy.key \
    -subj "/CN=Greedy/emailAddress=greedy@lab.example" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -addext "subjectAltName=email:bob@lab.example,DNS:evil.example" \
    -out greedy.csr
run_ok smimeca -d lab issue --template smime-signature --csr greedy.csr \
    --out greedy.crt
py_tap greedy.crt <<'EOF'
c = load_cert(sys.argv[1])
check(ext(c, ExtensionOID.BASIC_CONSTRAINTS).value.ca is False,
      "requested CA:TRUE is ignored")
check(not ext(c, ExtensionOID.KEY_USAGE).value.key_cert_sign,
      "requested keyCertSign is ignored")
check(list(ext(c, ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value) ==
      [x509.RFC822Name("greedy@lab.example")],
      "the SAN comes from the account, not the request")
EOF

# --- smime-dual ---
mkcsr dual dual@lab.example
run_ok smimeca -d lab issue --template smime-dual --csr dual.csr \
    --out dual.crt
run_ok -m "smime-dual: openssl verify -purpose smimeencrypt" \
    openssl verify -purpose smimeencrypt -CAfile lab/chain.pem dual.crt
run_ok -m "smime-dual: openssl verify -purpose smimesign" \
    openssl verify -purpose smimesign -CAfile lab/chain.pem dual.crt
py_tap dual.crt <<'EOF'
c = load_cert(sys.argv[1])
k = ext(c, ExtensionOID.KEY_USAGE).value
check(k.key_encipherment, "smime-dual keyUsage has keyEncipherment", k)
check(k.digital_signature, "smime-dual keyUsage has digitalSignature", k)
eku = ext(c, ExtensionOID.EXTENDED_KEY_USAGE).value
check(ExtendedKeyUsageOID.EMAIL_PROTECTION in list(eku),
      "smime-dual EKU has emailProtection")
EOF

# --- device-auth ---
mkcsr laptop-01 ""
run_ok smimeca -d lab issue --template device-auth --csr laptop-01.csr \
    --out laptop.crt
run_ok -m "device-auth: openssl verify -purpose sslclient" \
    openssl verify -purpose sslclient -CAfile lab/chain.pem laptop.crt
py_tap laptop.crt <<'EOF'
c = load_cert(sys.argv[1])
eku = ext(c, ExtensionOID.EXTENDED_KEY_USAGE)
check(eku is not None and ExtendedKeyUsageOID.CLIENT_AUTH in list(eku.value),
      "device-auth EKU has clientAuth", eku)
check(c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value ==
      "laptop-01", "device-auth CN is laptop-01")
check(ext(c, ExtensionOID.BASIC_CONSTRAINTS).value.ca is False,
      "device-auth CA:FALSE")
EOF

# --- S/MIME round trips with openssl smime ---
printf 'Subject: test\n\nhello from the lab\n' >msg.txt
run_ok -m "openssl smime -sign with Alice's certificate and key" \
    openssl smime -sign -in msg.txt -signer alice.crt -inkey alice.key \
    -certfile lab/chain.pem -out msg.signed
run_ok -m "openssl smime -verify against the chain" \
    openssl smime -verify -in msg.signed -CAfile lab/chain.pem \
    -out msg.verified
ilike "$err" 'Verification successful' "Verification successful"
check "the verified content is the message" \
    sh -c 'tr -d "\r" <msg.verified | cmp -s - msg.txt'
run_ok -m "openssl smime -encrypt to the smime-dual certificate" \
    openssl smime -encrypt -aes256 -in msg.txt -out msg.enc dual.crt
run_ok -m "openssl smime -decrypt with the dual key" \
    openssl smime -decrypt -in msg.enc -recip dual.crt -inkey dual.key \
    -out msg.dec
check "the decrypted content is the message" \
    sh -c 'tr -d "\r" <msg.dec | cmp -s - msg.txt'

# --- key policy ---
mkcsr eve eve@lab.example ec:p256
run_ok -m "smime-signature accepts an EC P-256 CSR" \
    smimeca -d lab issue --template smime-signature --csr eve.csr \
    --out eve.crt
check "the EC certificate verifies" \
    openssl verify -purpose smimesign -CAfile lab/chain.pem eve.crt
counts=$(db_counts lab)
run_exit 1 -m "smime-dual refuses an EC CSR (RSA only)" \
    smimeca -d lab issue --template smime-dual --csr eve.csr --out eve2.crt
ilike "$err" '(^|[^a-z])ec([^a-z]|$)|ecdsa|elliptic|p-?256|prime256v1' \
    "the refusal names the key algorithm"
check "no certificate written" test ! -s eve2.crt
is "$(db_counts lab)" "$counts" "the refusal wrote nothing to the database"

run_ok -m "openssl req makes an RSA-1024 CSR" \
    openssl req -new -newkey rsa:1024 -nodes -keyout weak.key \
    -subj "/CN=Weak/emailAddress=weak@lab.example" -out weak.csr
run_exit 1 -m "smime-signature refuses RSA-1024" \
    smimeca -d lab issue --template smime-signature --csr weak.csr \
    --out weak.crt
like "$err" '1024' "the refusal names the key size"
is "$(db_counts lab)" "$counts" "nothing written for RSA-1024"

mkcsr enc enc@lab.example
run_exit 1 -m "smime-encryption via plain issue is refused" \
    smimeca -d lab issue --template smime-encryption --csr enc.csr \
    --out enc.crt
ilike "$err" 'archival' "the refusal mentions archival"
is "$(db_counts lab)" "$counts" "nothing written for smime-encryption"

# --- serials ---
run_ok smimeca -d many init --key ec:p256 --name "Many CA"
: >serials
i=1
while [ $i -le 20 ]; do
	smimeca -d many issue --template smime-signature --csr alice.csr \
	    --email "user$i@lab.example" --out "many$i.crt" \
	    </dev/null >>serials 2>>many.err || echo "FAILED $i" >>serials
	i=$((i + 1))
done
is "$(grep -c FAILED serials)" 0 "20 issues succeeded"
is "$(grep -Ec '^[0-9a-f]{32}$' serials)" 20 "20 serials of 32 hex digits"
is "$(sort -u serials | wc -l | tr -d ' ')" 20 "20 distinct serials"
is "$(sqlite3 many/smimeca.db 'SELECT count(*) FROM certs')" 20 \
    "the database has 20 certificates"
is "$(sqlite3 many/smimeca.db 'SELECT count(DISTINCT serial) FROM certs')" \
    20 "with 20 distinct serials"
is "$(for f in many*.crt; do cert_serial "$f"; done | sort -u | wc -l |
    tr -d ' ')" 20 "the certificates carry 20 distinct serials"
[ -s many.err ] && diag "$(head -n 5 many.err)"

# --- the validity window ---
# notBefore is backdated 300 s for slow client clocks; notAfter is the
# template's days later, but never past the CA's own notAfter.
run_ok -m "init --days 30: a CA that ends before a 365-day template" \
    smimeca -d short init --days 30 --key ec:p256 --name "Short CA"
t0=$(date +%s)
run_ok -m "issue smime-signature (365 days) under the 30-day CA" \
    smimeca -d short issue --template smime-signature --csr alice.csr \
    --out short.crt
t1=$(date +%s)
run_ok -m "issue smime-signature (365 days) under the 10-year CA" \
    smimeca -d lab issue --template smime-signature --csr alice.csr \
    --out long.crt
t2=$(date +%s)
py_tap short.crt short/ca.crt "$t0" "$t1" long.crt lab/ca.crt "$t2" <<'EOF'
def ts(d):
    return int(d.replace(tzinfo=datetime.timezone.utc).timestamp())
c, ca = load_cert(sys.argv[1]), load_cert(sys.argv[2])
t0, t1 = int(sys.argv[3]), int(sys.argv[4])
nb, na, ca_na = ts(c.not_valid_before), ts(c.not_valid_after), \
    ts(ca.not_valid_after)
check(ca_na - ts(ca.not_valid_before) <= 31 * 86400,
      "the CA certificate is valid for about 30 days",
      ca.not_valid_after)
check(na == ca_na, "notAfter is the CA's notAfter (clamped)",
      "%s, CA %s" % (c.not_valid_after, ca.not_valid_after))
check(t0 - 300 - 60 <= nb <= t1 - 300 + 60,
      "notBefore is now - 300 s (60 s either way)",
      "notBefore %d, now %d..%d" % (nb, t0, t1))
l, lca = load_cert(sys.argv[5]), load_cert(sys.argv[6])
t2 = int(sys.argv[7])
lnb, lna = ts(l.not_valid_before), ts(l.not_valid_after)
check(t1 - 300 - 60 <= lnb <= t2 - 300 + 60,
      "10-year CA: notBefore is now - 300 s (60 s either way)",
      "notBefore %d, now %d..%d" % (lnb, t1, t2))
check(lna - lnb == 365 * 86400 + 300,
      "10-year CA: notAfter is notBefore + 300 s + 365 days",
      l.not_valid_after - l.not_valid_before)
check(lna < ts(lca.not_valid_after), "10-year CA: not clamped")
EOF
run_ok -m "openssl verify of the clamped certificate" \
    openssl verify -purpose smimesign -CAfile short/ca.crt short.crt
is "$(openssl x509 -in short.crt -noout -enddate)" \
    "$(openssl x509 -in short/ca.crt -noout -enddate)" \
    "openssl: the certificate ends when the CA does"

# --- two tiers ---
run_ok smimeca -d two init --two-tier --key ec:p256 --name "Two Issuing CA"
run_ok smimeca -d two issue --template smime-signature --csr alice.csr \
    --out alice2.crt
run_ok -m "two-tier: verifies against root.crt with -untrusted ca.crt" \
    openssl verify -purpose smimesign -CAfile two/root.crt \
    -untrusted two/ca.crt alice2.crt
run_ok -m "two-tier: verifies against chain.pem" \
    openssl verify -purpose smimesign -CAfile two/chain.pem alice2.crt
run_fails -m "two-tier: does not verify against root.crt alone" \
    openssl verify -purpose smimesign -CAfile two/root.crt alice2.crt
run_ok -m "two-tier: openssl smime -sign" \
    openssl smime -sign -in msg.txt -signer alice2.crt -inkey alice.key \
    -certfile two/ca.crt -out msg2.signed
run_ok -m "two-tier: openssl smime -verify against root.crt" \
    openssl smime -verify -in msg2.signed -CAfile two/root.crt \
    -out /dev/null

done_testing
