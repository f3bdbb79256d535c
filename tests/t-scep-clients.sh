#!/bin/sh
# SCEP with two more real clients: micromdm's scepclient (Debian package
# scep: SHA-1 and single DES whatever GetCACaps says, so smimecad refuses
# it until <scep legacy="yes">, then enrolls and renews it) and certmonger
# (getcert add-scep-ca / request / rekey in a private D-Bus session, its
# state in the test directory). Each client: enroll, renew, and refusals
# of a wrong, a used and an expired one-time challenge, and of a bound
# challenge (smimeca mdm scep-challenge) for alice asking for bob; each
# refusal with smimecad's logged reason and no certificate stored.
# certmonger also enrolls alice with her own bound challenge.
# (strongSwan pki --scep covers the same in t-scep.sh.)

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/smimecad.sh"

STATIC=lab-static-challenge-1

log_has()
{
	like "$(cat "$SMIMECAD_LOG")" "$2" "$1"
}

# log_mark, then newlog_has NAME RE: RE in what smimecad logged since the mark
log_mark()
{
	logmark=$(wc -l <"$SMIMECAD_LOG")
}

newlog_has()
{
	like "$(tail -n "+$((logmark + 1))" "$SMIMECAD_LOG")" "$2" "$1"
}

ncerts()
{
	sqlite3 lab/smimeca.db 'SELECT count(*) FROM certs;'
}

run_ok smimeca -d "$T/lab" init --name "Lab CA" --key rsa:2048 ||
    bail_out "smimeca init failed"
sed -i "s|</template>|  <scep-challenge>$STATIC</scep-challenge>\n</template>|" \
    lab/templates/device-auth.xml
smimecad_start "$T/lab" || bail_out "smimecad did not start"

# --- micromdm scepclient --------------------------------------------------
# scepclient DIR CN CHALLENGE: one directory per enrollment (it writes
# csr.pem beside the key).
scepc()
{
	mkdir -p "$1"
	timeout 60 scepclient -server-url "$HTTP_URL/scep" -challenge "$3" \
	    -private-key "$1/key.pem" -certificate "$1/cert.pem" -cn "$2"
}

if ! command -v scepclient >/dev/null 2>&1; then
	skip "scepclient" "scepclient not installed (Debian: scep)"
else
	run_fails -m "scepclient (SHA-1, DES) is refused by default" \
	    scepc m0 mdev0 "$STATIC"
	like "$out$err" 'badAlg' "scepclient reports badAlg"
	log_has "the log names SHA-1 and the option" 'FAILURE failInfo=0: digest SHA1 is not accepted \(SHA-1 only with <scep legacy="yes">\)'
	smimecad_stop
	sed -i 's|</smimeca-config>|  <scep legacy="yes"/>\n</smimeca-config>|' \
	    lab/smimeca.conf
	smimecad_start_on "$T/lab" || bail_out "smimecad did not restart"
	check "GetCACaps with legacy" curl -fsS "$HTTP_URL/scep?operation=GetCACaps"
	like "$out" '^DES3$' "legacy: DES3 listed"
	like "$out" '^SHA-1$' "legacy: SHA-1 listed"
	run_ok -m "scepclient enrolls with <scep legacy=\"yes\">" \
	    scepc m1 mdev1 "$STATIC"
	check "its certificate" openssl x509 -in m1/cert.pem -noout -subject \
	    -issuer -serial
	like "$out" 'subject=.*CN = mdev1' "scepclient: CN=mdev1"
	s1=$(openssl x509 -in m1/cert.pem -noout -serial)
	check "it chains to the CA" openssl verify -CAfile lab/ca.crt m1/cert.pem
	like "$out" 'OK$' "openssl verify: OK"
	log_has "scepclient's PKCSReq succeeded" 'scep PKCSReq tid=[^ ]+ template=device-auth: SUCCESS'
	run_ok -m "scepclient renews (RenewalReq signed by its certificate)" \
	    scepc m1 mdev1 "$STATIC"
	isnt "$(openssl x509 -in m1/cert.pem -noout -serial)" "$s1" \
	    "scepclient: the renewal is a new certificate"
	log_has "the RenewalReq succeeded" 'scep RenewalReq tid=[^ ]+ template=device-auth: SUCCESS'
	# Each refusal: scepclient fails, smimecad logs the reason, and no
	# certificate is stored.
	n0=$(ncerts)
	log_mark
	run_fails -m "scepclient with a wrong challenge is refused" \
	    scepc m2 mdev2 wrong-challenge-x
	like "$out$err" 'badRequest' "scepclient reports badRequest"
	newlog_has "wrong: logged" 'scep PKCSReq tid=[^ ]+ template=device-auth: FAILURE failInfo=2: wrong challenge: not the static challenge of template device-auth'
	is "$(ncerts)" "$n0" "wrong: no certificate stored"
	c=$(smimeca -d lab scep challenge --ttl 10m)
	run_ok -m "scepclient with a one-time challenge" scepc m3 mdev3 "$c"
	is "$(ncerts)" "$((n0 + 1))" "one-time challenge: one certificate more"
	log_mark
	run_fails -m "scepclient: the used challenge is refused" \
	    scepc m4 mdev4 "$c"
	like "$out$err" 'badRequest' "used: scepclient reports badRequest"
	newlog_has "used: logged" 'FAILURE failInfo=2: used challenge: one-time challenge [0-9]+ was used already'
	is "$(ncerts)" "$((n0 + 1))" "used: no certificate stored"
	c=$(smimeca -d lab scep challenge --ttl 1)
	sleep 2
	log_mark
	run_fails -m "scepclient: an expired challenge is refused" \
	    scepc m5 mdev5 "$c"
	like "$out$err" 'badRequest' "expired: scepclient reports badRequest"
	newlog_has "expired: logged" 'FAILURE failInfo=2: expired challenge: one-time challenge [0-9]+ expired'
	is "$(ncerts)" "$((n0 + 1))" "expired: no certificate stored"
	# A bound challenge for alice, presented by a client asking for bob.
	check "mdm scep-challenge for alice" smimeca -d lab mdm scep-challenge \
	    --template smime-signature --email alice@lab.example
	c=$out
	mkdir -p m6
	log_mark
	run_fails -m "scepclient: alice's bound challenge asking for bob is refused" \
	    timeout 60 scepclient -server-url "$HTTP_URL/scep/smime-signature" \
	    -challenge "$c" -private-key m6/key.pem -certificate m6/cert.pem \
	    -cn bob
	like "$out$err" 'badRequest' "bound: scepclient reports badRequest"
	newlog_has "bound: the log names alice's subject and bob" 'FAILURE failInfo=2: .*bound SCEP challenge [0-9]+ is bound to subject /?CN ?= ?alice@lab\.example; the request asks for .*CN ?= ?bob'
	is "$(ncerts)" "$((n0 + 1))" "bound: no certificate stored"
	is "$(sqlite3 lab/smimeca.db "SELECT count(*) FROM mdm_challenges WHERE used IS NOT NULL")" 0 \
	    "bound: the challenge is not used up"
fi

# --- certmonger ----------------------------------------------------------
if ! command -v certmonger >/dev/null 2>&1 || ! command -v getcert \
    >/dev/null 2>&1 || ! command -v dbus-run-session >/dev/null 2>&1; then
	skip "certmonger" "certmonger or dbus not installed (Debian: certmonger dbus)"
	done_testing
	exit 0
fi
mkdir -p cm/req cm/cas cm/tmp cm/local cm/home
USED=$(smimeca -d lab scep challenge --ttl 10m)
EXPIRED=$(smimeca -d lab scep challenge --ttl 1)
BOUND=$(smimeca -d lab mdm scep-challenge --template smime-signature \
    --email alice@lab.example)
BOUND2=$(smimeca -d lab mdm scep-challenge --template smime-signature \
    --email alice@lab.example)
sleep 2
# The steps, run by certmonger -c inside its own session bus; each getcert
# waits (-w) until the request is issued or refused.
cat >cm.sh <<EOF
gc() { timeout 90 getcert "\$@" -s; }
gc add-scep-ca -c labscep -u "$HTTP_URL/scep"
gc request -c labscep -I c1 -k "$T/cm/c1.key" -f "$T/cm/c1.crt" \
    -L "$STATIC" -N CN=cmdev1 -w >"$T/cm/c1.out" 2>&1
cp "$T/cm/c1.crt" "$T/cm/c1-first.crt"
gc rekey -i c1 -w >"$T/cm/c1r.out" 2>&1
gc request -c labscep -I c2 -k "$T/cm/c2.key" -f "$T/cm/c2.crt" \
    -L wrong-challenge-y -N CN=cmdev2 -w >"$T/cm/c2.out" 2>&1
gc request -c labscep -I c3 -k "$T/cm/c3.key" -f "$T/cm/c3.crt" \
    -L "$USED" -N CN=cmdev3 -w >"$T/cm/c3.out" 2>&1
gc request -c labscep -I c4 -k "$T/cm/c4.key" -f "$T/cm/c4.crt" \
    -L "$USED" -N CN=cmdev4 -w >"$T/cm/c4.out" 2>&1
gc request -c labscep -I c5 -k "$T/cm/c5.key" -f "$T/cm/c5.crt" \
    -L "$EXPIRED" -N CN=cmdev5 -w >"$T/cm/c5.out" 2>&1
gc add-scep-ca -c labsig -u "$HTTP_URL/scep/smime-signature"
gc request -c labsig -I c6 -k "$T/cm/c6.key" -f "$T/cm/c6.crt" \
    -L "$BOUND" -N CN=bob@lab.example -E bob@lab.example -w \
    >"$T/cm/c6.out" 2>&1
gc request -c labsig -I c7 -k "$T/cm/c7.key" -f "$T/cm/c7.crt" \
    -L "$BOUND2" -N CN=alice@lab.example -E alice@lab.example -w \
    >"$T/cm/c7.out" 2>&1
gc list >"$T/cm/list.out" 2>&1
EOF
n0=$(ncerts)
log_mark
run_ok -m "certmonger runs the getcert steps in a private session bus" \
    env HOME="$T/cm/home" CERTMONGER_REQUESTS_DIR="$T/cm/req" \
    CERTMONGER_CAS_DIR="$T/cm/cas" CERTMONGER_TMPDIR="$T/cm/tmp" \
    CERTMONGER_LOCAL_CA_DIR="$T/cm/local" timeout 400 \
    dbus-run-session -- certmonger -s -n -c "sh $T/cm.sh"
check "certmonger's first certificate" openssl x509 -in cm/c1-first.crt \
    -noout -subject -serial
like "$out" 'subject=CN = cmdev1' "certmonger enrolls cmdev1"
check "it chains to the CA" openssl verify -CAfile lab/ca.crt cm/c1-first.crt
like "$out" 'OK$' "openssl verify: OK"
isnt "$(openssl x509 -in cm/c1.crt -noout -serial)" \
    "$(openssl x509 -in cm/c1-first.crt -noout -serial)" \
    "getcert rekey renews: a new certificate"
isnt "$(openssl x509 -in cm/c1.crt -noout -pubkey)" \
    "$(openssl x509 -in cm/c1-first.crt -noout -pubkey)" \
    "the renewal certifies the new key"
log_has "the re-enrollment is a PKCSReq signed by the old certificate" 'scep PKCSReq tid=[0-9]+ template=device-auth: SUCCESS'
# cm_status ID: the status getcert list gives request ID
cm_status()
{
	awk -v id="Request ID '$1':" '$0 == id { f = 1; next }
	    f && /status:/ { print $2; exit }' cm/list.out
}
is "$(cm_status c2)" CA_REJECTED "certmonger: a wrong challenge is CA_REJECTED"
is "$(cm_status c3)" MONITORING "certmonger: the one-time challenge enrolls"
is "$(cm_status c4)" CA_REJECTED "certmonger: the used challenge is CA_REJECTED"
is "$(cm_status c5)" CA_REJECTED \
    "certmonger: the expired challenge is CA_REJECTED"
newlog_has "wrong: logged" 'FAILURE failInfo=2: wrong challenge: not the static challenge of template device-auth'
newlog_has "used: logged" 'FAILURE failInfo=2: used challenge: one-time challenge [0-9]+ was used already'
newlog_has "expired: logged" 'FAILURE failInfo=2: expired challenge: one-time challenge [0-9]+ expired'
is "$(cm_status c6)" CA_REJECTED \
    "certmonger: alice's bound challenge asking for bob is CA_REJECTED"
log_has "bound, bob: logged" 'scep PKCSReq tid=[0-9]+ template=smime-signature: FAILURE failInfo=2: bound SCEP challenge [0-9]+ is bound to subject /?CN ?= ?alice@lab\.example; the request asks for /?CN ?= ?bob@lab\.example'
log_has "bound, bob: the rfc822Name logged" 'the request asks for rfc822Name bob@lab\.example; the challenge authorizes only alice@lab\.example'
is "$(test -s cm/c6.crt && echo written || echo none)" none \
    "certmonger: no certificate file for bob"
is "$(sqlite3 lab/smimeca.db "SELECT count(*) FROM certs WHERE subject LIKE '%bob%' OR email LIKE '%bob%'")" 0 \
    "certmonger: no certificate stored for bob"
# The same kind of challenge, asking for exactly alice: certmonger's CSR
# carries subject CN=alice@lab.example and one SAN, email:alice@lab.example
# (besides basicConstraints and a subjectKeyIdentifier; no other names).
is "$(cm_status c7)" MONITORING \
    "certmonger: alice's bound challenge asking for alice enrolls"
check "alice's certificate" openssl x509 -in cm/c7.crt -noout -subject \
    -ext subjectAltName
like "$out" 'subject=CN ?= ?alice@lab\.example' "the subject is the bound CN"
like "$out" '^ *email:alice@lab\.example$' "the SAN is alice's address alone"
check "it chains to the CA" openssl verify -CAfile lab/ca.crt cm/c7.crt
like "$out" 'OK$' "openssl verify: OK"
log_has "bound, alice: logged" 'scep PKCSReq tid=[0-9]+ template=smime-signature: SUCCESS'
is "$(sqlite3 lab/smimeca.db "SELECT count(*) FROM mdm_challenges WHERE used IS NOT NULL")" 1 \
    "only alice's granted challenge is used up"
is "$(ncerts)" "$((n0 + 4))" \
    "certmonger: four certificates (c1, its rekey, c3, c7), none refused"
smimecad_stop
is "$smimecad_rc" 0 "smimecad exits 0"
unlike "$(cat "$SMIMECAD_LOG")" 'AddressSanitizer|runtime error' \
    "no sanitizer report"
done_testing
