#!/bin/sh
# Directory accounts (dir_authenticate through `smimeca dir check`): a
# bind as the user's entry, found by mail or uid; a wrong password and a
# user missing from the directory are refused, each with its own reason;
# an empty password never counts; filter metacharacters stay literal.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/slapd.sh"
slapd_require

lab_init lab --key ec:p256 || bail_out "init --lab failed"
slapd_start lab || bail_out "the lab slapd did not start"

lab_password lab alice >alice.pw
lab_password lab bob >bob.pw
check "users.txt has alice's password" test -s alice.pw
echo "not-the-password" >wrong.pw
: >empty.pw
printf '\n' >newline.pw

run_ok -m "alice by uid with her password" \
    smimeca -d lab dir check alice --password-file alice.pw
like "$out" '^ok: uid=alice,ou=people,dc=lab,dc=example' \
    "the entry's DN is reported"
like "$out" 'mail alice@lab.example, cn Alice Example' \
    "with its mail and cn"
run_ok -m "alice by mail" \
    smimeca -d lab dir check alice@lab.example --password-file alice.pw
run_ok -m "alice by mail in other case" \
    smimeca -d lab dir check Alice@LAB.example --password-file alice.pw
like "$out" 'mail alice@lab.example' "the mail is reported lower-case"

run_exit 1 -m "alice with a wrong password" \
    smimeca -d lab dir check alice --password-file wrong.pw
like "$err" 'wrong password' "the reason is a wrong password"
unlike "$err" 'no such user' "not a missing user"
unlike "$err" 'not-the-password' "the password is not in the message"
run_exit 1 -m "alice with bob's password" \
    smimeca -d lab dir check alice@lab.example --password-file bob.pw
like "$err" 'wrong password' "bob's password is wrong for alice"
run_exit 1 -m "an empty password file" \
    smimeca -d lab dir check alice --password-file empty.pw
like "$err" 'empty password is refused' \
    "an empty password is refused (no unauthenticated bind)"
run_exit 1 -m "a password file with an empty line" \
    smimeca -d lab dir check alice --password-file newline.pw
like "$err" 'empty password is refused' "an empty line is refused too"

run_exit 1 -m "a user not in the directory" \
    smimeca -d lab dir check dave@lab.example --password-file alice.pw
like "$err" 'no such user in the directory' "the reason is a missing user"
unlike "$err" 'wrong password' "not a wrong password"
run_exit 1 -m "a wildcard matches nobody" \
    smimeca -d lab dir check 'al*' --password-file alice.pw
like "$err" 'no such user' "'al*' is no user"
like "$err" 'al\\2[aA]' "the * is escaped in the filter (RFC 4515)"
run_exit 1 -m "a filter injection matches nobody" \
    smimeca -d lab dir check 'alice)(uid=*' --password-file alice.pw
like "$err" 'no such user' "'alice)(uid=*' is no user"

run_ok -m "dir show alice --json" smimeca -d lab dir show alice --json
is "$(printf '%s' "$out" | $PY -c 'import json,sys; d=json.load(sys.stdin)
a = d["attributes"]
print(d["dn"], a["ou"][0], "userPassword" in a)')" \
    "uid=alice,ou=people,dc=lab,dc=example Research False" \
    "dir show: DN, ou, and no userPassword"
run_ok -m "dir show bob (text)" smimeca -d lab dir show bob@lab.example
like "$out" '^title: Account Manager' "dir show prints the attributes"

# --- TLS: StartTLS and ldaps://, the server certificate verified ---
cat >tls.ext <<'EOF'
basicConstraints = CA:FALSE
subjectAltName = IP:127.0.0.1
extendedKeyUsage = serverAuth
EOF
openssl req -x509 -newkey rsa:2048 -nodes -keyout tlsca.key -days 2 \
    -subj "/CN=Test LDAP CA" -out tlsca.pem 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -days 2 \
    -subj "/CN=Other CA" -out other.pem 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -keyout server.key \
    -subj "/CN=127.0.0.1" -out server.csr 2>/dev/null
run_ok -m "a TLS certificate for slapd" openssl x509 -req -in server.csr \
    -CA tlsca.pem -CAkey tlsca.key -CAcreateserial -days 2 \
    -extfile tls.ext -out server.pem
slapd_stop lab
# Global TLS settings go before the database section.
awk -v t="$T" '/^database mdb/ {
	print "TLSCACertificateFile " t "/tlsca.pem"
	print "TLSCertificateFile " t "/server.pem"
	print "TLSCertificateKeyFile " t "/server.key"
} { print }' lab/ldap/slapd.conf >slapd.conf.new &&
    cat slapd.conf.new >lab/ldap/slapd.conf
like "$(cat lab/ldap/slapd.conf)" '^TLSCertificateFile' "slapd.conf has TLS"
cp lab/smimeca.conf plain.conf
sed "s|<server uri=\"[^\"]*\" starttls=\"no\"|<server uri=\"$LDAP_URI/\" starttls=\"yes\" tls-ca-file=\"$T/tlsca.pem\"|" \
    plain.conf >lab/smimeca.conf
like "$(cat lab/smimeca.conf)" 'starttls="yes"' "smimeca.conf asks for StartTLS"
slapd_start lab || bail_out "slapd with TLS did not start"
run_ok -m "dir check over StartTLS" \
    smimeca -d lab dir check alice --password-file alice.pw
run_exit 1 -m "StartTLS and a wrong password" \
    smimeca -d lab dir check alice --password-file wrong.pw
like "$err" 'wrong password' "the reason is still the password"
sed "s|tls-ca-file=\"$T/tlsca.pem\"|tls-ca-file=\"$T/other.pem\"|" \
    lab/smimeca.conf >conf.new && cat conf.new >lab/smimeca.conf
run_exit 1 -m "StartTLS with a server certificate of an unknown CA" \
    smimeca -d lab dir check alice --password-file alice.pw
like "$err" 'StartTLS' "the failure is StartTLS's"
slapd_stop lab
LDAPS_PORT=$(free_port)
sed "s|<server uri=\"[^\"]*\" starttls=\"no\"|<server uri=\"ldaps://127.0.0.1:$LDAPS_PORT/\" tls-ca-file=\"$T/tlsca.pem\"|" \
    plain.conf >lab/smimeca.conf
# ldapsearch in slapd_start trusts the test CA through the environment.
LDAP_URI_PLAIN=$LDAP_URI
LDAP_URI=ldaps://127.0.0.1:$LDAPS_PORT
LDAPTLS_CACERT=$T/tlsca.pem
export LDAPTLS_CACERT
slapd_start lab || bail_out "slapd on ldaps:// did not start"
unset LDAPTLS_CACERT
run_ok -m "dir check over ldaps://" \
    smimeca -d lab dir check bob@lab.example --password-file bob.pw
like "$out" 'uid=bob' "bob over ldaps://"
mkcsr tlsalice alice@lab.example
run_ok smimeca -d lab issue --template smime-signature --csr tlsalice.csr \
    --out tlsalice.crt
run_ok -m "publish run over ldaps://" smimeca -d lab publish run
like "$out" 'published 1 job' "the job went out over TLS"
LDAP_URI=$LDAP_URI_PLAIN

# The directory down: an error, neither success nor a wrong password.
slapd_stop lab
run_exit 1 -m "dir check with the directory down" \
    smimeca -d lab dir check alice --password-file alice.pw
like "$err" "Can't contact LDAP server" "the reason is the directory"
unlike "$err" 'wrong password|no such user' "not blamed on the user"

# Without <ldap>: a clear message.
run_ok smimeca -d plain init --key ec:p256
run_exit 1 -m "dir check without a directory" \
    smimeca -d plain dir check alice --password-file alice.pw
like "$err" 'no directory is configured' "says no directory is configured"
run_exit 1 -m "publish run without a directory" \
    smimeca -d plain publish run
like "$err" 'no directory is configured|no <ldap>' \
    "publish run says so too"
run_ok -m "init --lab --no-ldap" smimeca -d nolab init --lab --no-ldap \
    --key ec:p256 --officers nolab-officers
check "--no-ldap: no lab directory" test ! -e nolab/ldap
run_ok smimeca -d nolab publish status --json
is "$(printf '%s' "$out" | $PY -c 'import json,sys
print(json.load(sys.stdin)["configured"])')" False \
    "--no-ldap: no directory configured"
mkcsr x x@lab.example
run_ok -m "issuing without a directory writes no job" \
    smimeca -d plain issue --template smime-signature --csr x.csr \
    --out x.crt
is "$(sqlite3 plain/smimeca.db 'SELECT count(*) FROM pub_jobs')" 0 \
    "no publish job without <ldap>"

done_testing
