#!/bin/sh
# m-of-n escrow (issue 3): with <escrow kra-count="3" quorum="2"/> the key
# is stored as a CMS EncryptedData whose content key is split into three
# Shamir shares, each enveloped to one KRA; any two officers' shares
# rebuild the key, one does not; too few usable KRAs stop archival.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/keys.sh"

command -v smimeca-enroll >/dev/null 2>&1 ||
    bail_out "smimeca-enroll not found in $top_builddir/tools (build first)"

# --- helpers of this test -----------------------------------------------
ncerts()
{
	sqlite3 "$T/lab/smimeca.db" 'SELECT count(*) FROM certs;'
}

# The escrow row id of a certificate serial.
escrow_id()
{
	sqlite3 "$T/lab/smimeca.db" "SELECT e.id FROM escrow e JOIN certs c
	    ON c.id = e.cert_id WHERE c.serial = '$1';"
}

# --- a lab CA switched to 2 of 3 -------------------------------------------
run_ok smimeca -d "$T/lab" init --lab --key rsa:2048 ||
    bail_out "smimeca init --lab failed"
for i in 1 2 3; do
	officer_pw $i >kp$i
	[ -s kp$i ] || bail_out "no password for officer$i.p12 in passwords.txt"
done
conf=lab/smimeca.conf
like "$(grep '<escrow' $conf)" 'kra-count="3"' \
    "the lab configuration wraps to 3 KRAs"
like "$(grep '<escrow' $conf)" 'quorum="1"' \
    "the lab configuration has quorum 1"
sed 's/\(<escrow[^>]*quorum="\)[0-9]*"/\12"/' $conf >$conf.new &&
    cat $conf.new >$conf && rm -f $conf.new
like "$(grep '<escrow' $conf)" 'kra-count="3"[^>]*quorum="2"|quorum="2"[^>]*kra-count="3"' \
    "smimeca.conf now says kra-count 3, quorum 2"

run_ok smimeca -d lab xchg show --pem || bail_out "no exchange certificate"
printf '%s\n' "$out" >xchg.pem
# bob enrolls with the simple form, cleo below with the Windows layout.
run_ok smimeca-enroll --out-dir ub --email bob@lab.example --cn Bob \
    --archive --xchg xchg.pem --format simple || bail_out "smimeca-enroll failed"
run_ok -m "bob's certificate issues under 2 of 3" \
    smimeca -d lab issue --template smime-encryption --csr ub/request.csr \
    --encrypted-key ub/key.cms --out bob.crt ||
    bail_out "bob's certificate was not issued"
sb=$out
orig=$(keyhex ub/key.pem)
printf 'Threshold-Pw-2\n' >pw

# --- what the database holds ------------------------------------------------
eid=$(escrow_id "$sb")
isnt "$eid" "" "an escrow row for bob's certificate"
is "$(sqlite3 lab/smimeca.db "SELECT quorum || ' ' || nshares FROM escrow
    WHERE id = '$eid';")" "2 3" "the escrow row says quorum 2 of 3 shares"
is "$(sqlite3 lab/smimeca.db "SELECT count(*) FROM escrow_shares
    WHERE escrow_id = '$eid';")" 3 "three escrow_shares rows"
is "$(sqlite3 lab/smimeca.db "SELECT count(DISTINCT x) FROM escrow_shares
    WHERE escrow_id = '$eid';")" 3 "three distinct share indices"
is "$(sqlite3 lab/smimeca.db "SELECT count(*) FROM escrow_shares
    WHERE escrow_id = '$eid' AND (x < 1 OR x > 255);")" 0 \
    "share indices are in 1..255 (x = 0 would be the secret)"
want=$(for i in 1 2 3; do fp officers/officer$i.crt sha256; done | sort |
    tr '\n' ' ')
got=$(sqlite3 lab/smimeca.db "SELECT lower(replace(kra_sha256, ':', ''))
    FROM escrow_shares WHERE escrow_id = '$eid';" | sort | tr '\n' ' ')
is "$got" "$want" "one share per officer's KRA certificate"

sqlite3 lab/smimeca.db "SELECT hex(envelope) FROM escrow WHERE id = '$eid';" |
    xxd -r -p >env.der
check "openssl cms -cmsout -print of the stored envelope" \
    openssl cms -cmsout -print -inform DER -in env.der
like "$out" 'pkcs7-encryptedData|1\.2\.840\.113549\.1\.7\.6' \
    "the stored key is a CMS EncryptedData (1.2.840.113549.1.7.6)"
like "$out" 'aes-256' "encrypted with AES-256"

# Each share opens with stock openssl and its own officer's key only.
for i in 1 2 3; do
	openssl pkcs12 -in officers/officer$i.p12 -nodes -passin "pass:$(cat kp$i)" \
	    -nocerts -out off$i.key 2>/dev/null
	openssl pkcs12 -in officers/officer$i.p12 -nodes -passin "pass:$(cat kp$i)" \
	    -nokeys -clcerts -out off$i.crt 2>/dev/null
	sqlite3 lab/smimeca.db "SELECT hex(envelope) FROM escrow_shares
	    WHERE escrow_id = '$eid' AND lower(replace(kra_sha256, ':', '')) =
	    '$(fp officers/officer$i.crt sha256)';" | xxd -r -p >share$i.der
	check "openssl cms -decrypt opens officer$i's share envelope" \
	    openssl cms -decrypt -inform DER -in share$i.der -recip off$i.crt \
	    -inkey off$i.key -binary -out share$i.plain
	[ -s share$i.plain ] && ok "officer$i's share is not empty" ||
	    not_ok "officer$i's share is not empty"
done
run_fails -m "officer1's key does not open officer2's share" \
    openssl cms -decrypt -inform DER -in share2.der -recip off1.crt \
    -inkey off1.key -binary -out /dev/null
if cmp -s share1.plain share2.plain; then
	not_ok "the shares differ"
else
	ok "the shares differ"
fi

# --- recovery: every officer opens a share ----------------------------------
run_ok smimeca -d lab recover blob --serial "$sb" --out b
check "openssl cms -verify of the blob" \
    openssl cms -verify -inform DER -in b -CAfile lab/ca.crt -binary \
    -out /dev/null
run_exit 1 -m "recover open --out refuses a threshold record" \
    smimeca recover open --blob b --ca-cert lab/ca.crt --kra-key officers/officer1.p12 \
    --kra-pass-file kp1 --out bob-one.p12 --password-file pw
ilike "$err" 'share|officers|quorum' "the refusal says shares are needed"
[ -e bob-one.p12 ] && not_ok "no PKCS#12 from one officer" ||
    ok "no PKCS#12 from one officer"
for i in 1 2 3; do
	run_ok -m "officer$i: recover open --share-out s$i" \
	    smimeca recover open --blob b --ca-cert lab/ca.crt --kra-key officers/officer$i.p12 \
	    --kra-pass-file kp$i --share-out s$i
	is "$(fmode s$i)" "-rw-------" "s$i is mode 0600"
done
# The shares, combined here without our code: each share envelope (opened
# above with stock openssl) holds x || y || SHA-256 of the certificate's DER
# (x || y in records of old: 33 bytes), y being a point of a polynomial over
# GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1 (0x11b) whose
# value at 0 is the content key, byte by byte. Lagrange at 0 rebuilds it;
# openssl cms -EncryptedData_decrypt with that key must give bob's key.
openssl x509 -in bob.crt -outform DER -out bob.der
py_tap bob.der share1.plain share2.plain share3.plain s1 s2 s3 <<'EOF'
def mul(a, b):
    r = 0
    while b:
        if b & 1:
            r ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11b
        b >>= 1
    return r

def inv(a):
    # a^254 = a^-1 (the multiplicative group has 255 elements)
    r, e = 1, 254
    while e:
        if e & 1:
            r = mul(r, a)
        a = mul(a, a)
        e >>= 1
    return r

def at_zero(points):
    out = bytearray(len(points[0][1]))
    for i, (xi, yi) in enumerate(points):
        li = 1
        for j, (xj, _) in enumerate(points):
            if j != i:
                li = mul(li, mul(xj, inv(xi ^ xj)))
        for k in range(len(out)):
            out[k] ^= mul(li, yi[k])
    return bytes(out)

check(all(mul(a, inv(a)) == 1 for a in range(1, 256)),
      "GF(2^8) here: every a has an inverse")
check(mul(0x57, 0x83) == 0xc1, "GF(2^8) here: {57} x {83} = {c1} (FIPS-197)")
want = hashlib.sha256(open(sys.argv[1], "rb").read()).digest()
pts = {}
for n, p in enumerate(sys.argv[2:5], 1):
    b = open(p, "rb").read()
    check(len(b) in (65, 33), "share %d is x || y || SHA-256 (65 bytes)" % n,
          len(b))
    check(len(b) != 65 or b[33:] == want,
          "share %d is bound to bob's certificate (SHA-256)" % n,
          b[33:].hex())
    pts[n] = (b[0], b[1:33])
    js = json.load(open(sys.argv[4 + n]))
    sh = js.get("shares", [{}])
    check(len(sh) == 1 and sh[0].get("x") == b[0] and
          bytes.fromhex(sh[0].get("y", "")) == b[1:33] and
          sh[0].get("cert_sha256", "").lower() == want.hex(),
          "s%d (JSON) carries officer %d's x, y and certificate hash" % (n, n),
          js)
check(len(set(x for x, _ in pts.values())) == 3, "three distinct x")
for a, b in ((1, 2), (1, 3), (2, 3)):
    k = at_zero([pts[a], pts[b]])
    open("key%d%d.hex" % (a, b), "w").write(k.hex())
k3 = at_zero([pts[1], pts[2], pts[3]])
open("key123.hex", "w").write(k3.hex())
keys = set(open("key%s.hex" % s).read() for s in ("12", "13", "23", "123"))
check(len(keys) == 1, "shares 1+2, 1+3, 2+3 and 1+2+3 give one content key")
check(k3 != pts[1][1], "one share alone is not the key")
EOF
for pair in 12 13 23 123; do
	if [ -s key$pair.hex ]; then
		run_ok -m "openssl cms -EncryptedData_decrypt, shares $pair" \
		    openssl cms -EncryptedData_decrypt -inform DER -in env.der \
		    -secretkey "$(cat key$pair.hex)" -binary -out key$pair.p8
		is "$(openssl pkey -inform DER -in key$pair.p8 -outform DER \
		    2>/dev/null | keydigest key$pair.p8)" "$orig" \
		    "shares $pair rebuild bob's key (compared with ub/key.pem)"
	else
		skip "shares $pair rebuild bob's key" "no key from python"
	fi
done

for pair in "s1 s2" "s1 s3" "s2 s3" "s3 s1" "s1 s2 s3"; do
	name=bob-$(printf '%s' "$pair" | tr -d ' s').p12
	# shellcheck disable=SC2086
	run_ok -m "recover combine $pair" \
	    smimeca recover combine --blob b --ca-cert lab/ca.crt --out "$name" --password-file pw \
	    $pair
	is "$(p12key "$name" file:pw)" "$orig" "$pair: the original key"
done
run_ok -m "recover combine s2 s3 with --ca-cert and a generated password" \
    smimeca recover combine --blob b --ca-cert lab/ca.crt --out gen.p12 s2 s3
genpw=$(printf '%s\n' "$out" | sed -n 's/.*PKCS#12 password: *//p' |
    head -n 1)
isnt "$genpw" "" "the generated password is printed"
is "$(p12key gen.p12 "pass:$genpw")" "$orig" \
    "gen.p12 opens with it and holds the original key"
openssl pkcs12 -in bob-12.p12 -passin file:pw -nokeys -clcerts 2>/dev/null |
    openssl x509 -outform DER -out bob-12.der 2>/dev/null
openssl x509 -in bob.crt -outform DER -out bob.der
cmp -s bob-12.der bob.der && ok "the PKCS#12 holds bob's certificate" ||
    not_ok "the PKCS#12 holds bob's certificate"

run_exit 1 -m "recover combine with one share: exit 1" \
    smimeca recover combine --blob b --ca-cert lab/ca.crt --out bob-s1.p12 --password-file pw s1
[ -e bob-s1.p12 ] && not_ok "no PKCS#12 from one share" ||
    ok "no PKCS#12 from one share"
run_exit 1 -m "recover combine with the same share twice: exit 1" \
    smimeca recover combine --blob b --ca-cert lab/ca.crt --out bob-s11.p12 --password-file pw \
    s1 s1
[ -e bob-s11.p12 ] && not_ok "no PKCS#12 from a share given twice" ||
    ok "no PKCS#12 from a share given twice"

# A share of another record does not help.
run_ok smimeca-enroll --out-dir uc --email cleo@lab.example --cn Cleo \
    --archive --xchg xchg.pem
if run_ok -m "cleo's certificate issues from a Windows-layout request" \
    smimeca -d lab issue --template smime-encryption \
    --archival-request uc/request.cmc --out cleo.crt; then
	sc=$out
	run_ok smimeca -d lab recover blob --serial "$sc" --out bc
	run_ok smimeca recover open --blob bc --ca-cert lab/ca.crt --kra-key officers/officer2.p12 \
	    --kra-pass-file kp2 --share-out c2
	run_exit 1 -m "recover combine with bob's s1 and cleo's share: exit 1" \
	    smimeca recover combine --blob b --ca-cert lab/ca.crt --out bob-mix.p12 \
	    --password-file pw s1 c2
	run_ok smimeca recover open --blob bc --ca-cert lab/ca.crt --kra-key officers/officer1.p12 \
	    --kra-pass-file kp1 --share-out c1
	run_ok -m "cleo: combine c1 c2" \
	    smimeca recover combine --blob bc --ca-cert lab/ca.crt --out cleo.p12 --password-file pw \
	    c1 c2
	is "$(p12key cleo.p12 file:pw)" "$(keyhex uc/key.pem)" \
	    "cleo: the original key"
else
	not_ok "cleo's recovery (not run: her certificate was not issued)"
fi

# --- too few usable KRAs ------------------------------------------------------
sha3=$(fp officers/officer3.crt sha1)
run_ok -m "kra retire officer3" smimeca -d lab kra retire "$sha3"
run_ok smimeca -d lab kra list --json
printf '%s\n' "$out" >kras.json
py_tap kras.json "$sha3" <<'EOF'
kras = {k["sha1"].lower().replace(":", ""): k for k in json.load(open(sys.argv[1]))}
k = kras.get(sys.argv[2])
check(k is not None and k["status"] == "retired", "kra list shows officer3 retired", k)
check(sum(1 for v in kras.values() if v["status"] == "active") == 2,
      "two active KRAs remain")
EOF
run_ok smimeca-enroll --out-dir ud --email dora@lab.example --cn Dora \
    --archive --xchg xchg.pem --format simple
_before=$(ncerts)
run_exit 1 -m "archival with 2 usable KRAs and kra-count 3: exit 1" \
    smimeca -d lab issue --template smime-encryption --csr ud/request.csr \
    --encrypted-key ud/key.cms --out dora.crt
like "$err" 'KRA' "the message is about the KRA count"
is "$(ncerts)" "$_before" "no certificate in the database"
[ -e dora.crt ] && not_ok "no certificate file written" ||
    ok "no certificate file written"

# bob's escrow still opens with the retired officer's share.
run_ok -m "a retired officer still opens shares of older records" \
    smimeca recover open --blob b --ca-cert lab/ca.crt --kra-key officers/officer3.p12 \
    --kra-pass-file kp3 --share-out s3b
run_ok smimeca recover combine --blob b --ca-cert lab/ca.crt --out bob-3b.p12 --password-file pw \
    s1 s3b
is "$(p12key bob-3b.p12 file:pw)" "$orig" "s1 + the retired officer's share"

# 2 of 2 with the officers left.
sed 's/\(<escrow[^>]*kra-count="\)[0-9]*"/\12"/' $conf >$conf.new &&
    cat $conf.new >$conf && rm -f $conf.new
like "$(grep '<escrow' $conf)" 'kra-count="2"' "smimeca.conf: kra-count 2"
run_ok -m "archival under 2 of 2" \
    smimeca -d lab issue --template smime-encryption --csr ud/request.csr \
    --encrypted-key ud/key.cms --out dora.crt
sd=$out
is "$(sqlite3 lab/smimeca.db "SELECT count(*) FROM escrow_shares
    WHERE escrow_id = '$(escrow_id "$sd")';")" 2 "two escrow_shares rows"
run_ok smimeca -d lab recover blob --serial "$sd" --out bd
run_ok smimeca recover open --blob bd --ca-cert lab/ca.crt --kra-key officers/officer1.p12 \
    --kra-pass-file kp1 --share-out d1
run_ok smimeca recover open --blob bd --ca-cert lab/ca.crt --kra-key officers/officer2.p12 \
    --kra-pass-file kp2 --share-out d2
run_exit 1 -m "officer3 (retired, not a recipient) has no share of dora's key" \
    smimeca recover open --blob bd --ca-cert lab/ca.crt --kra-key officers/officer3.p12 \
    --kra-pass-file kp3 --share-out d3
run_ok smimeca recover combine --blob bd --ca-cert lab/ca.crt --out dora.p12 --password-file pw \
    d1 d2
is "$(p12key dora.p12 file:pw)" "$(keyhex ud/key.pem)" "dora: the original key"

# quorum above kra-count is a configuration error.
sed 's/\(<escrow[^>]*quorum="\)[0-9]*"/\13"/' $conf >$conf.new &&
    cat $conf.new >$conf && rm -f $conf.new
run_ok smimeca-enroll --out-dir ue --email emil@lab.example --cn Emil \
    --archive --xchg xchg.pem --format simple
_before=$(ncerts)
run_exit 1 -m "quorum 3 with kra-count 2: exit 1" \
    smimeca -d lab issue --template smime-encryption --csr ue/request.csr \
    --encrypted-key ue/key.cms
like "$err" 'quorum' "the message names the quorum"
is "$(ncerts)" "$_before" "no certificate in the database"

run_ok -m "audit verify" smimeca -d lab audit verify

done_testing
