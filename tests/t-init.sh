#!/bin/sh
# smimeca init: the CA directory, its files and modes, key types, two tiers,
# passphrase-encrypted keys, refusing to run twice; checked with openssl,
# python cryptography, xmllint and sqlite3.
. "$(dirname "$0")/lib.sh"

# --- a default CA ---
run_ok smimeca -d lab init --name "Lab Issuing CA"
for f in smimeca.conf smimeca.db private/ca.key ca.crt chain.pem; do
	check "init created $f" test -s "lab/$f"
done
for t in smime-encryption smime-signature smime-signature-device smime-dual \
    device-auth kra; do
	check "init copied template $t" test -s "lab/templates/$t.xml"
done
check "no root.crt without --two-tier" test ! -e lab/root.crt
is "$(stat -c %a lab)" 700 "CA directory is mode 0700"
is "$(stat -c %a lab/private/ca.key)" 600 "private/ca.key is mode 0600"
is "$(stat -c %a lab/smimeca.db)" 600 "smimeca.db is mode 0600"
like "$(stat -c %a lab/private)" '^[0-7]00$' \
    "private/ has no group or other access"
head -n 1 lab/private/ca.key >ca.key.head
is "$(cat ca.key.head)" "-----BEGIN PRIVATE KEY-----" \
    "ca.key is unencrypted PKCS#8 PEM without a passphrase"

run_ok -m "openssl verifies ca.crt as self-signed" \
    openssl verify -CAfile lab/ca.crt lab/ca.crt
like "$out" 'ca.crt: OK' "openssl verify says OK"
run_ok -m "openssl verifies chain.pem (one tier)" \
    openssl verify -CAfile lab/chain.pem lab/ca.crt
check "private/ca.key matches ca.crt" sh -c \
    'test "$(openssl pkey -in lab/private/ca.key -pubout)" = \
        "$(openssl x509 -in lab/ca.crt -noout -pubkey)"'

py_tap lab/ca.crt lab/chain.pem <<'EOF'
ca = load_cert(sys.argv[1])
cn = ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
check(len(cn) == 1 and cn[0].value == "Lab Issuing CA",
      "ca.crt subject CN is Lab Issuing CA", ca.subject.rfc4514_string())
check(ca.subject == ca.issuer, "ca.crt is self-issued")
bc = ext(ca, ExtensionOID.BASIC_CONSTRAINTS)
check(bc is not None and bc.value.ca, "basicConstraints CA:TRUE")
check(bc is not None and bc.critical, "basicConstraints is critical")
ku = ext(ca, ExtensionOID.KEY_USAGE)
check(ku is not None and ku.value.key_cert_sign and ku.value.crl_sign,
      "keyUsage has keyCertSign and cRLSign", ku)
check(ku is not None and ku.critical, "keyUsage is critical")
check(ext(ca, ExtensionOID.SUBJECT_KEY_IDENTIFIER) is not None,
      "subjectKeyIdentifier present")
pub = ca.public_key()
check(isinstance(pub, rsa.RSAPublicKey) and pub.key_size == 3072,
      "default CA key is RSA 3072", type(pub).__name__)
days = (ca.not_valid_after - ca.not_valid_before).days
check(3649 <= days <= 3651, "default validity is 3650 days", days)
check(isinstance(ca.signature_hash_algorithm, hashes.SHA256),
      "signed with SHA-256", ca.signature_hash_algorithm)
check(ca.version == x509.Version.v3, "X.509 v3")
chain = load_certs(sys.argv[2])
check(len(chain) == 1 and chain[0] == ca, "chain.pem holds ca.crt alone",
      len(chain))
EOF

# --- configuration and database ---
if command -v xmllint >/dev/null 2>&1; then
	check "config.rng exists" test -f "$top_srcdir/etc/config.rng"
	run_ok -m "smimeca.conf validates against etc/config.rng" \
	    xmllint --noout --relaxng "$top_srcdir/etc/config.rng" \
	    lab/smimeca.conf
	check "smimeca.conf is commented" grep -q '<!--' lab/smimeca.conf
	check "smimeca.conf names the CA" grep -q 'Lab Issuing CA' \
	    lab/smimeca.conf
else
	skip "smimeca.conf validates against etc/config.rng" \
	    "xmllint not installed"
fi
is "$(sqlite3 lab/smimeca.db 'PRAGMA journal_mode')" wal \
    "database is in WAL mode"
schema=$(sed -n 's/^#define[ 	]*DB_SCHEMA_VERSION[ 	]*\([0-9]*\).*/\1/p' \
    "$top_srcdir/ca/db.h" 2>/dev/null)
uv=$(sqlite3 lab/smimeca.db 'PRAGMA user_version')
if [ -n "$schema" ]; then
	is "$uv" "$schema" "PRAGMA user_version is the schema version ($schema)"
else
	like "$uv" '^[1-9][0-9]*$' "PRAGMA user_version is set"
fi
for tbl in ca_certs certs requests templates audit; do
	is "$(sqlite3 lab/smimeca.db \
	    "SELECT count(*) FROM sqlite_master WHERE type='table' AND \
	    name='$tbl'")" 1 "database has table $tbl"
done
is "$(sqlite3 lab/smimeca.db \
    "SELECT count(*) FROM ca_certs WHERE role = 'issuing'")" 1 \
    "one issuing CA certificate recorded"
is "$(sqlite3 lab/smimeca.db \
    "SELECT count(*) FROM ca_certs WHERE role = 'xchg'")" 1 \
    "init made the first exchange certificate"
xchg_key=$(sqlite3 lab/smimeca.db \
    "SELECT key_file FROM ca_certs WHERE role = 'xchg'")
is "$(stat -c %a "lab/$xchg_key")" 600 "the exchange key is mode 0600"
run_ok -m "audit log of a new CA is intact" smimeca -d lab audit verify

# --- refusing to run twice ---
sums()
{
	find "$1" -type f ! -name '*-wal' ! -name '*-shm' | LC_ALL=C sort |
	    xargs sha256sum
}
sums lab >before.sum
run_exit 1 -m "init refuses a directory with a CA" \
    smimeca -d lab init --name "Other CA"
ilike "$err" 'exist|already|holds|refus' "the refusal says why"
sums lab >after.sum
check "the CA files are unchanged after the refused init" \
    cmp before.sum after.sum
mkdir -m 700 dbonly
cp lab/smimeca.db dbonly/
run_exit 1 -m "init refuses a directory that holds only smimeca.db" \
    smimeca -d dbonly init
check "nothing was added to it" test ! -e dbonly/ca.crt

# --- ec:p384 ---
run_ok smimeca -d ec init --key ec:p384 --name "EC CA"
run_ok -m "openssl reads the P-384 key" \
    openssl pkey -in ec/private/ca.key -noout -text
ilike "$out" 'P-384|secp384r1' "ec:p384 gives a P-384 key"
check "openssl verifies the EC ca.crt" \
    openssl verify -CAfile ec/ca.crt ec/ca.crt
py_tap ec/ca.crt <<'EOF'
pub = load_cert(sys.argv[1]).public_key()
check(isinstance(pub, ec.EllipticCurvePublicKey) and
      pub.curve.name == "secp384r1", "ec:p384 CA certificate key is P-384",
      getattr(getattr(pub, "curve", None), "name", type(pub).__name__))
EOF
run_fails -m "init refuses --key rsa:1024" \
    smimeca -d weak init --key rsa:1024
check "and creates nothing" test ! -e weak/smimeca.conf

# --- two tiers ---
run_ok smimeca -d two init --two-tier --name "Two Issuing CA"
for f in root.crt private/root.key ca.crt private/ca.key chain.pem; do
	check "two-tier init created $f" test -s "two/$f"
done
is "$(stat -c %a two/private/root.key)" 600 "private/root.key is mode 0600"
run_ok -m "openssl verify -CAfile root.crt ca.crt" \
    openssl verify -CAfile two/root.crt two/ca.crt
run_ok -m "openssl verifies root.crt as self-signed" \
    openssl verify -CAfile two/root.crt two/root.crt
run_fails -m "ca.crt is not self-signed" \
    openssl verify -CAfile two/ca.crt two/ca.crt
py_tap two/root.crt two/ca.crt two/chain.pem <<'EOF'
root, ca = load_cert(sys.argv[1]), load_cert(sys.argv[2])
check(root.subject != ca.subject, "root and issuing CA subjects differ",
      root.subject.rfc4514_string())
check(ca.issuer == root.subject, "ca.crt is issued by root.crt")
check(root.subject == root.issuer, "root.crt is self-issued")
for name, c in (("root.crt", root), ("ca.crt", ca)):
    bc = ext(c, ExtensionOID.BASIC_CONSTRAINTS)
    check(bc is not None and bc.value.ca, name + " basicConstraints CA:TRUE")
    ku = ext(c, ExtensionOID.KEY_USAGE)
    check(ku is not None and ku.value.key_cert_sign and ku.value.crl_sign,
          name + " keyUsage keyCertSign + cRLSign")
aki = ext(ca, ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
ski = ext(root, ExtensionOID.SUBJECT_KEY_IDENTIFIER)
check(aki is not None and ski is not None and
      aki.value.key_identifier == ski.value.digest,
      "ca.crt authorityKeyIdentifier is the root's key id")
d_ca = (ca.not_valid_after - ca.not_valid_before).days
d_root = (root.not_valid_after - root.not_valid_before).days
check(d_root >= 2 * d_ca - 2, "the root lives twice as long",
      "%d vs %d days" % (d_root, d_ca))
chain = load_certs(sys.argv[3])
check(len(chain) == 2 and chain[0] == ca and chain[1] == root,
      "chain.pem is ca.crt then root.crt", len(chain))
EOF

# --- passphrase ---
printf 'correct horse battery\n' >pass
printf 'wrong\n' >wrongpass
run_ok smimeca -d enc init --passphrase-file pass --key ec:p256
is "$(head -n 1 enc/private/ca.key)" "-----BEGIN ENCRYPTED PRIVATE KEY-----" \
    "--passphrase-file gives an encrypted PKCS#8 key"
is "$(stat -c %a enc/private/ca.key)" 600 "the encrypted key is mode 0600"
run_fails -m "openssl pkey with a wrong passphrase fails" \
    openssl pkey -in enc/private/ca.key -passin pass:wrong -noout
run_ok -m "openssl pkey -passin file:pass opens the key" \
    openssl pkey -in enc/private/ca.key -passin file:pass -noout
run_ok -m "asn1parse the encrypted key" \
    openssl asn1parse -in enc/private/ca.key
ilike "$out" 'PBKDF2|scrypt' "key encryption uses PBKDF2 or scrypt"
ilike "$out" 'aes-256' "key encryption uses AES-256"
check "the passphrase is not in smimeca.conf" \
    sh -c '! grep -q "correct horse" enc/smimeca.conf'

mkcsr bob bob@lab.example
db0=$(db_counts enc)
run_exit 1 -m "issue without the passphrase fails" \
    smimeca -d enc issue --template smime-signature --csr bob.csr \
    --out nopass.crt
ilike "$err" 'pass' "the message mentions the passphrase"
run_exit 1 -m "issue with a wrong passphrase fails" \
    smimeca -d enc --passphrase-file wrongpass issue \
    --template smime-signature --csr bob.csr --out wrong.crt
is "$(db_counts enc)" "$db0" "failed issues wrote nothing to the database"
check "no certificate written without the passphrase" test ! -s nopass.crt
run_ok smimeca -d enc --passphrase-file pass issue \
    --template smime-signature --csr bob.csr --out bob1.crt
check "the certificate verifies against the encrypted CA" \
    openssl verify -purpose smimesign -CAfile enc/chain.pem bob1.crt
run_ok -m "issue with SMIMECA_PASSPHRASE" \
    env SMIMECA_PASSPHRASE='correct horse battery' smimeca -d enc issue \
    --template smime-signature --csr bob.csr --email bob2@lab.example \
    --out bob2.crt
check "that certificate verifies too" \
    openssl verify -purpose smimesign -CAfile enc/chain.pem bob2.crt
is "$(sqlite3 enc/smimeca.db 'SELECT count(*) FROM certs')" 2 \
    "two certificates in the database"

# SMIMECA_PASSPHRASE also encrypts at init (smimeca(8)).
run_ok -m "init with SMIMECA_PASSPHRASE" \
    env SMIMECA_PASSPHRASE=envsecret smimeca -d envenc init --key ec:p256
is "$(head -n 1 envenc/private/ca.key)" \
    "-----BEGIN ENCRYPTED PRIVATE KEY-----" \
    "SMIMECA_PASSPHRASE encrypts the key at init"
check "the key opens with that passphrase" \
    openssl pkey -in envenc/private/ca.key -passin pass:envsecret -noout

done_testing
