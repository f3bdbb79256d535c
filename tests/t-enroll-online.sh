#!/bin/sh
# Online enrollment (issue 4, point 5): smimeca-enroll --url against a
# private smimecad. simpleenroll, fullcmc with key archival (the escrowed
# key recovered by an officer is the client's key), serverkeygen (escrowed
# too), simplereenroll with a TLS client certificate, fullcmc with a plain
# CMC request (--format cmc, nothing archived), and what the user
# sees when the password, the CA file, the host name or the template is
# wrong. Checked with openssl and smimeca.

. "$(dirname "$0")/lib.sh"
# lib.sh has moved to $T: the helper by its absolute path.
. "$top_srcdir/tests/smimecad.sh"

for p in smimeca-enroll smimecad; do
	command -v $p >/dev/null 2>&1 ||
	    bail_out "$p not found in $top_builddir (build first)"
done
command -v curl >/dev/null 2>&1 || skip_all "curl not installed (smimecad.sh)"

# --- helpers of this test -----------------------------------------------
cert_pub()
{
	openssl x509 -in "$1" -noout -pubkey 2>/dev/null
}

key_pub()
{
	openssl pkey -in "$1" -pubout 2>/dev/null
}

# same_pub CERT KEY DESC: the key is the certificate's.
same_pub()
{
	_cp=$(cert_pub "$1")
	_kp=$(key_pub "$2")
	if [ -n "$_cp" ] && [ "$_cp" = "$_kp" ]; then
		ok "$3"
	else
		not_ok "$3" "certificate $1 and key $2 differ" \
		    "(or one is unreadable)"
	fi
}

fmode()
{
	ls -ld "$1" | cut -c1-10
}

# The RSA modulus of a PEM key, or "unreadable:FILE".
modulus()
{
	_m=$(openssl rsa -in "$1" -noout -modulus 2>/dev/null)
	printf '%s\n' "${_m:-unreadable:$1}"
}

officer_pw()
{
	awk -v f="officer$1.p12" '$1 == f { sub(/^[^ ]+ /, ""); print; exit }' \
	    "$T/officers/passwords.txt"
}

# The serial smimeca-enroll printed ("issued SERIAL to SUBJECT").
issued_serial()
{
	printf '%s\n' "$1" | sed -n 's/^issued \([0-9a-f]*\) to .*/\1/p'
}

# recovered NAME SERIAL KEY: officer 1 recovers the escrowed key of SERIAL
# with smimeca recover blob + recover open; it must be KEY.
recovered()
{
	run_ok -m "$1: smimeca recover blob --serial $2" \
	    smimeca -d lab recover blob --serial "$2" --out "$1.blob" ||
	    return 0
	run_ok -m "$1: smimeca recover open with officer1's key" \
	    smimeca recover open --blob "$1.blob" --ca-cert lab/ca.crt \
	    --kra-key officers/officer1.p12 --kra-pass-file kp1 \
	    --out "$1.p12" --password-file p12pw || return 0
	openssl pkcs12 -in "$1.p12" -passin file:p12pw -nodes -nocerts \
	    -out "$1.rec.pem" 2>/dev/null
	is "$(modulus "$1.rec.pem")" "$(modulus "$3")" \
	    "$1: the recovered key is $3 (same modulus)"
}

# A mail address of the certificate's subject and SAN lines.
cert_mails()
{
	openssl x509 -in "$1" -noout -email 2>/dev/null | sort -u | tr '\n' ' '
}

# --- a lab CA, alice, smimecad ---------------------------------------------
# --no-ldap: accounts are local, a wrong password is a 401 (not a 503
# from a lab directory nobody started).
run_ok smimeca -d "$T/lab" init --lab --no-ldap --key rsa:2048 ||
    bail_out "smimeca init --lab failed"
printf 'Alice-Pw-1\n' >alice.pw
printf 'wrong-password\n' >wrong.pw
printf 'Recovery-Pw-1\n' >p12pw
officer_pw 1 >kp1
[ -s kp1 ] || bail_out "no password for officer1.p12 in passwords.txt"
run_ok smimeca -d lab user add alice@lab.example --cn "Alice Example" \
    --password-file alice.pw || bail_out "cannot add alice"
smimecad_start "$T/lab" || bail_out "smimecad did not start"

enroll()
{
	smimeca-enroll --url "$HTTPS_URL" --cacert lab/chain.pem "$@"
}

ALICE="--user alice@lab.example --password-file alice.pw"

# --- simpleenroll ------------------------------------------------------------
# shellcheck disable=SC2086
run_ok -m "simpleenroll: smime-signature" enroll $ALICE \
    --template smime-signature --out-dir sig
like "$out" 'wrote .*sig/key\.pem' "simpleenroll: says where the key went"
like "$out" 'wrote .*sig/cert\.pem' \
    "simpleenroll: says where the certificate went"
sig_serial=$(issued_serial "$out")
check "simpleenroll: openssl verify -CAfile lab/chain.pem sig/cert.pem" \
    openssl verify -CAfile lab/chain.pem sig/cert.pem
is "$(cert_mails sig/cert.pem)" "alice@lab.example " \
    "simpleenroll: the certificate names alice's mail"
check "simpleenroll: openssl x509 -subject" \
    openssl x509 -in sig/cert.pem -noout -subject -nameopt RFC2253
like "$out" 'emailAddress=alice@lab\.example' \
    "simpleenroll: the subject has alice's emailAddress"
same_pub sig/cert.pem sig/key.pem \
    "simpleenroll: key.pem is the certificate's key"
is "$(fmode sig/key.pem)" "-rw-------" "simpleenroll: key.pem is mode 0600"
is "$(norm_serial "$sig_serial")" "$(cert_serial sig/cert.pem)" \
    "simpleenroll: the printed serial is the certificate's"
run_ok smimeca -d lab cert list
like "$out" "$sig_serial +valid .*smime-signature +alice@lab\.example" \
    "simpleenroll: smimeca cert list shows the certificate"

# A DNS name the server's certificate carries (SNI and host name check).
run_ok -m "simpleenroll over https://localhost:PORT" \
    smimeca-enroll --url "https://localhost:$HTTPS_PORT" \
    --cacert lab/chain.pem $ALICE --template smime-signature \
    --key-type ec:p256 --out-dir sig-ec
same_pub sig-ec/cert.pem sig-ec/key.pem \
    "ec:p256: key.pem is the certificate's key"

# The previous signing certificate was superseded; renew the newest one.
cp sig-ec/cert.pem sig.crt
cp sig-ec/key.pem sig.key

# --- fullcmc with key archival -------------------------------------------
run_ok -m "--archive: smime-encryption over fullcmc" enroll $ALICE \
    --template smime-encryption --archive --out-dir enc
enc_serial=$(issued_serial "$out")
check "--archive: openssl verify -CAfile lab/chain.pem enc/cert.pem" \
    openssl verify -CAfile lab/chain.pem enc/cert.pem
same_pub enc/cert.pem enc/key.pem "--archive: key.pem is the certificate's key"
is "$(fmode enc/key.pem)" "-rw-------" "--archive: key.pem is mode 0600"
is "$(cert_mails enc/cert.pem)" "alice@lab.example " \
    "--archive: the certificate names alice's mail"
run_ok smimeca -d lab cert list
like "$out" "$enc_serial +[a-z]+ .*smime-encryption +alice@lab\.example" \
    "--archive: smimeca cert list shows the certificate"
recovered enc "$enc_serial" enc/key.pem

# --- serverkeygen ---------------------------------------------------------
run_ok -m "--serverkeygen: smime-encryption" enroll $ALICE \
    --template smime-encryption --serverkeygen --out-dir skg
skg_serial=$(issued_serial "$out")
check "--serverkeygen: openssl verify -CAfile lab/chain.pem skg/cert.pem" \
    openssl verify -CAfile lab/chain.pem skg/cert.pem
same_pub skg/cert.pem skg/key.pem \
    "--serverkeygen: key.pem is the certificate's key"
is "$(fmode skg/key.pem)" "-rw-------" "--serverkeygen: key.pem is mode 0600"
recovered skg "$skg_serial" skg/key.pem
run_exit 1 -m "--serverkeygen, smime-signature (escrow forbidden): exit 1" \
    enroll $ALICE --template smime-signature --serverkeygen --out-dir skg-sig
like "$err" 'server said 403: template smime-signature forbids key escrow' \
    "--serverkeygen under smime-signature: the server's reason is printed"

# --- simplereenroll -------------------------------------------------------
run_ok -m "--renew: simplereenroll with the signing certificate" \
    enroll --renew --cert sig.crt --key sig.key --out-dir ren
ren_serial=$(issued_serial "$out")
check "--renew: openssl verify -CAfile lab/chain.pem ren/cert.pem" \
    openssl verify -CAfile lab/chain.pem ren/cert.pem
same_pub ren/cert.pem ren/key.pem \
    "--renew: key.pem is the new certificate's key"
is "$(cert_mails ren/cert.pem)" "alice@lab.example " \
    "--renew: the new certificate names the same mail"
isnt "$(norm_serial "$ren_serial")" "$(cert_serial sig.crt)" \
    "--renew: a new serial"
isnt "$(key_pub ren/key.pem)" "$(key_pub sig.key)" "--renew: a new key"
run_ok smimeca -d lab cert list
like "$out" "$ren_serial +valid .*smime-signature +alice@lab\.example" \
    "--renew: under the old certificate's template"
run_exit 1 -m "--renew with an encryption-only certificate: exit 1" \
    enroll --renew --cert skg/cert.pem --key skg/key.pem --out-dir ren-enc
ilike "$err" 'client certificate|alert' \
    "--renew with an encryption-only certificate: blames the certificate"
run_exit 1 -m "--renew with a key not the certificate's: exit 1" \
    enroll --renew --cert ren/cert.pem --key skg/key.pem --out-dir ren-bad
like "$err" 'is not the key of the certificate' \
    "--renew with a mismatched key: says so"

# --- fullcmc with a plain CMC request (--format cmc, no key archived) --------
# After the renewal: a new smime-signature certificate supersedes sig.crt.
run_ok -m "--format cmc: smime-signature over fullcmc" enroll $ALICE \
    --template smime-signature --format cmc --out-dir cmc
like "$out" 'wrote .*cmc/key\.pem' "--format cmc: says where the key went"
like "$out" 'wrote .*cmc/cert\.pem' \
    "--format cmc: says where the certificate went"
cmc_serial=$(issued_serial "$out")
check "--format cmc: openssl verify -CAfile lab/chain.pem cmc/cert.pem" \
    openssl verify -CAfile lab/chain.pem -purpose smimesign cmc/cert.pem
same_pub cmc/cert.pem cmc/key.pem \
    "--format cmc: key.pem is the certificate's key"
is "$(fmode cmc/key.pem)" "-rw-------" "--format cmc: key.pem is mode 0600"
is "$(norm_serial "$cmc_serial")" "$(cert_serial cmc/cert.pem)" \
    "--format cmc: the printed serial is the certificate's"
run_ok smimeca -d lab cert list
like "$out" "$cmc_serial +valid .*smime-signature +alice@lab\.example" \
    "--format cmc: smimeca cert list shows the certificate"
run_exit 1 -m "--format cmc, smime-encryption (archival required): exit 1" \
    enroll $ALICE --template smime-encryption --format cmc --out-dir cmc-enc
like "$err" \
    'server said 403: template smime-encryption: key archival is required' \
    "--format cmc under smime-encryption: the server's reason is printed"
[ -e cmc-enc/key.pem ] || [ -e cmc-enc/cert.pem ] &&
    not_ok "--format cmc under smime-encryption: nothing written" ||
    ok "--format cmc under smime-encryption: nothing written"

# --- what goes wrong -------------------------------------------------------
run_exit 1 -m "wrong password: exit 1" enroll --user alice@lab.example \
    --password-file wrong.pw --template smime-signature --out-dir badpw
like "$err" '^smimeca-enroll: server said 401: wrong account or password' \
    "wrong password: the server's reason is printed"
[ -e badpw/key.pem ] || [ -e badpw/cert.pem ] &&
    not_ok "wrong password: no key or certificate written" ||
    ok "wrong password: no key or certificate written"

run_exit 1 -m "a --cacert that did not issue the TLS certificate: exit 1" \
    smimeca-enroll --url "$HTTPS_URL" --cacert officers/officer1.crt \
    $ALICE --template smime-signature --out-dir badca
like "$err" "TLS handshake with 127\\.0\\.0\\.1:$HTTPS_PORT failed: \
the server.s certificate does not verify against --cacert" \
    "wrong --cacert: a TLS verification message"

run_exit 1 -m "a template that does not exist: exit 1" enroll $ALICE \
    --template no-such-template --out-dir nope
like "$err" 'server said 404: no template named "no-such-template"' \
    "no such template: the server's reason is printed"

port=$(free_port)
run_exit 1 -m "nobody listening: exit 1" smimeca-enroll \
    --url "https://127.0.0.1:$port" --cacert lab/chain.pem $ALICE \
    --out-dir down
like "$err" "cannot connect to 127\\.0\\.0\\.1:$port" \
    "nobody listening: says so"

# A second smimecad on an address the TLS certificate does not name.
port=$(free_port)
smimecad -d lab -f --https "127.0.0.2:$port" --http none >d2.log 2>&1 &
d2_pid=$!
at_exit "kill $d2_pid 2>/dev/null; wait $d2_pid 2>/dev/null"
i=0
while [ $i -lt 50 ] && ! curl -ksS -o /dev/null \
    "https://127.0.0.2:$port/healthz" 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
if [ $i -lt 50 ]; then
	run_exit 1 -m "a host the server's certificate does not name: exit 1" \
	    smimeca-enroll --url "https://127.0.0.2:$port" \
	    --cacert lab/chain.pem $ALICE --out-dir badname
	like "$err" 'does not name 127\.0\.0\.2' \
	    "wrong host: the certificate does not name it"
else
	skip "a host the server's certificate does not name" \
	    "smimecad cannot listen on 127.0.0.2"
fi

# Usage errors: exit 2.
run_exit 2 -m "--url without --cacert: exit 2" smimeca-enroll \
    --url "$HTTPS_URL" $ALICE --out-dir u1
run_exit 2 -m "an http:// URL: exit 2" smimeca-enroll \
    --url "$HTTP_URL" --cacert lab/chain.pem $ALICE --out-dir u2
run_exit 2 -m "--archive with --serverkeygen: exit 2" enroll $ALICE \
    --archive --serverkeygen --out-dir u3
run_exit 2 -m "online without --password-file: exit 2" enroll \
    --user alice@lab.example --out-dir u4
run_exit 2 -m "--renew without --key: exit 2" enroll --renew \
    --cert sig.crt --out-dir u5
run_exit 2 -m "--template with a slash: exit 2" enroll $ALICE \
    --template a/b --out-dir u6
run_exit 2 -m "--user without --url: exit 2" smimeca-enroll $ALICE \
    --email alice@lab.example --out-dir u7
run_exit 2 -m "--format cmc with --serverkeygen: exit 2" enroll $ALICE \
    --format cmc --serverkeygen --out-dir u8
run_exit 2 -m "--format simple without --archive: exit 2" smimeca-enroll \
    --email alice@lab.example --format simple --out-dir u9

smimecad_stop
is "$smimecad_rc" 0 "smimecad exits 0 on SIGTERM"
done_testing
