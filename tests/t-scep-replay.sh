#!/bin/sh
# SCEP replays under concurrency: 16 clients send the same pkiMessage at
# once (a one-time challenge inside), and then 8 transactions twice each
# at once. Every answer is SUCCESS with the one certificate of its
# transaction; the store holds one certificate and one transaction per
# transactionID, no serial twice, and the challenge is used once
# (micromdm's scepserver hands out duplicate serials under this load).

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/smimecad.sh"

have_pycrypto || skip_all "$PY with the cryptography module not found"
MSG="$PY $top_srcdir/tests/scep-msg.py"
STATIC=lab-static-challenge-1

sql()
{
	sqlite3 lab/smimeca.db "$1"
}

run_ok smimeca -d "$T/lab" init --name "Lab CA" --key rsa:2048 ||
    bail_out "smimeca init failed"
sed -i "s|</template>|  <scep-challenge>$STATIC</scep-challenge>\n</template>|" \
    lab/templates/device-auth.xml
# Enough threads that the 16 requests really run at once.
sed -i 's|<daemon|<daemon threads="16"|' lab/smimeca.conf
smimecad_start "$T/lab" || bail_out "smimecad did not start"
curl -fsS -o cacert.der "$HTTP_URL/scep?operation=GetCACert"
openssl pkcs7 -inform DER -in cacert.der -print_certs |
    awk '/BEGIN/{n++} n==1' >ra.pem

# mkmsg NAME CN CHALLENGE TID
mkmsg()
{
	openssl genrsa -out "$1.key" 2048 2>/dev/null
	$MSG csr "$1.key" "$2" "$3" "$1.csr"
	$MSG selfsigned "$1.key" "$2" "$1.crt"
	$MSG build 19 "$1.key" "$1.crt" ra.pem "$1.csr" "$4" "$1.der"
}

# burst NAME I: POSTs NAME.der, the answer in NAME.I.rep
burst()
{
	curl -sS -o "$1.$2.rep" --data-binary "@$1.der" \
	    "$HTTP_URL/scep?operation=PKIOperation"
}

# --- one message, 16 times at once ---------------------------------------
OTC=$(smimeca -d lab scep challenge --ttl 10m)
mkmsg one rdev0 "$OTC" tid-burst-0
i=1
pids=
while [ $i -le 16 ]; do
	burst one $i &
	pids="$pids $!"
	i=$((i + 1))
done
# shellcheck disable=SC2086 # one word per process
wait $pids
serials=
i=1
good=0
while [ $i -le 16 ]; do
	o=$($MSG read "one.$i.rep" one.key one.crt one.der.nonce "one.$i.pem" \
	    2>&1)
	case $o in
	"status=0 "*"sig=ok"*)
		good=$((good + 1))
		serials="$serials $(openssl x509 -in "one.$i.pem" -noout \
		    -serial)"
		;;
	*)	diag "answer $i: $o" ;;
	esac
	i=$((i + 1))
done
is "$good" 16 "16 concurrent replays: 16 SUCCESS answers"
is "$(printf '%s\n' $serials | sort -u | wc -l)" 1 \
    "all 16 carry the same certificate"
is "$(sql "SELECT count(*) FROM certs WHERE subject = 'CN=rdev0';")" 1 \
    "one certificate issued for the transaction"
is "$(sql "SELECT count(*) FROM scep_tx WHERE tid = 'tid-burst-0';")" 1 \
    "one transaction stored"
is "$(sql "SELECT count(*) FROM scep_challenges WHERE used IS NOT NULL;")" 1 \
    "the one-time challenge is used once"

# --- 8 transactions, each twice, at once ---------------------------------
i=1
while [ $i -le 8 ]; do
	mkmsg "m$i" "rdev$i" "$STATIC" "tid-burst-$i"
	i=$((i + 1))
done
i=1
pids=
while [ $i -le 8 ]; do
	burst "m$i" a &
	pids="$pids $!"
	burst "m$i" b &
	pids="$pids $!"
	i=$((i + 1))
done
# shellcheck disable=SC2086 # one word per process
wait $pids
i=1
same=0
while [ $i -le 8 ]; do
	a=$($MSG read "m$i.a.rep" "m$i.key" "m$i.crt" "m$i.der.nonce" \
	    "m$i.a.pem" 2>&1)
	b=$($MSG read "m$i.b.rep" "m$i.key" "m$i.crt" "m$i.der.nonce" \
	    "m$i.b.pem" 2>&1)
	case "$a$b" in
	"status=0 "*"status=0 "*)
		[ "$(openssl x509 -in "m$i.a.pem" -noout -serial)" = \
		    "$(openssl x509 -in "m$i.b.pem" -noout -serial)" ] &&
		    same=$((same + 1))
		;;
	*)	diag "transaction $i: $a / $b" ;;
	esac
	i=$((i + 1))
done
is "$same" 8 "8 transactions sent twice at once: each pair SUCCESS, same certificate"
is "$(sql "SELECT count(*) FROM certs WHERE subject LIKE 'CN=rdev%';")" 9 \
    "9 certificates for 9 transactions"
is "$(sql "SELECT count(*) FROM (SELECT serial FROM certs GROUP BY serial HAVING count(*) > 1);")" 0 \
    "no serial twice"
is "$(sql "SELECT count(*) FROM scep_tx;")" 9 "9 transactions stored"
# --- one one-time challenge, 8 keys at once: one certificate -----------
OTC=$(smimeca -d lab scep challenge --ttl 10m)
i=1
while [ $i -le 8 ]; do
	mkmsg "c$i" "cdev$i" "$OTC" "tid-chal-$i"
	i=$((i + 1))
done
i=1
pids=
while [ $i -le 8 ]; do
	burst "c$i" x &
	pids="$pids $!"
	i=$((i + 1))
done
# shellcheck disable=SC2086 # one word per process
wait $pids
i=1
succ=0
fails=0
while [ $i -le 8 ]; do
	o=$($MSG read "c$i.x.rep" "c$i.key" "c$i.crt" "c$i.der.nonce" 2>&1)
	case $o in
	"status=0 "*) succ=$((succ + 1)) ;;
	"status=2 failInfo=2 "*) fails=$((fails + 1)) ;;
	*)	diag "challenge race $i: $o" ;;
	esac
	i=$((i + 1))
done
is "$succ" 1 "one challenge sent by 8 keys at once: one SUCCESS"
is "$fails" 7 "and 7 FAILURE badRequest"
is "$(sql "SELECT count(*) FROM certs WHERE subject LIKE 'CN=cdev%';")" 1 \
    "one certificate for the challenge"
is "$(sql "SELECT count(*) FROM scep_tx;")" 10 \
    "one transaction stored for it"
check "smimeca cert list" smimeca -d lab cert list
is "$(printf '%s\n' "$out" | grep -c 'rdev')" 9 \
    "smimeca cert list shows the 9 certificates"
smimecad_stop
is "$smimecad_rc" 0 "smimecad exits 0"
unlike "$(cat "$SMIMECAD_LOG")" 'AddressSanitizer|runtime error' \
    "no sanitizer report"
done_testing
