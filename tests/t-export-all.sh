#!/bin/sh
# `smimeca export intune --all` and `--from FILE` over 200 users: every
# address with an escrowed certificate is exported (two users with an old
# and a current one; an address with only a signing certificate is not),
# --ndjson puts every object of the run on its own line, and each of the
# 202 passwords, decrypted with Python cryptography (RSA-OAEP SHA-512),
# opens its PKCS#12 and gives the key smimeca-enroll made. With one escrow
# record broken in the database (sqlite3), --all exports the other 199
# users, prints one stderr line naming the broken address and why, ends
# with "exported 201 certificates of 199 users to DIR; 1 user failed" and
# exits 1. --from skips blank lines and comments and exports only the
# addresses it lists.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/keys.sh"

command -v smimeca-enroll >/dev/null 2>&1 ||
    bail_out "smimeca-enroll not found in $top_builddir/tools (build first)"

NUSERS=200

# mkusers FROM TO: offline archival requests of userFROM .. userTO.
mkusers()
{
	_i=$1
	while [ "$_i" -le "$2" ]; do
		_n=$(printf 'user%03d' "$_i")
		smimeca-enroll --out-dir "$_n" --email "$_n@lab.example" \
		    --cn "User $_i" --archive --xchg xchg.pem \
		    >/dev/null 2>"$_n.enroll.err" || return 1
		_i=$((_i + 1))
	done
}

# --- a lab CA and 200 users --------------------------------------------------
run_ok smimeca -d "$T/lab" init --lab --key rsa:2048 --no-ldap ||
    bail_out "smimeca init --lab failed"
officer_pw 1 >kp1
[ -s kp1 ] || bail_out "no password for officer1.p12 in passwords.txt"
run_ok smimeca -d lab xchg show --pem || bail_out "no exchange certificate"
printf '%s\n' "$out" >xchg.pem

t0=$(date +%s)
# RSA key generation is most of the time: two shards, one per core.
half=$((NUSERS / 2))
(mkusers 0 $((half - 1)); echo $? >shard1.rc) &
(mkusers $half $((NUSERS - 1)); echo $? >shard2.rc) &
wait
is "$(cat shard1.rc shard2.rc 2>/dev/null | tr '\n' ' ')" "0 0 " \
    "smimeca-enroll --archive for $NUSERS users"
nfail=0
i=0
while [ "$i" -lt "$NUSERS" ]; do
	n=$(printf 'user%03d' "$i")
	smimeca -d lab issue --template smime-encryption \
	    --archival-request "$n/request.cmc" --out "$n.crt" \
	    >/dev/null 2>"$n.issue.err" || nfail=$((nfail + 1))
	i=$((i + 1))
done
is "$nfail" 0 "$NUSERS smime-encryption certificates issued"
# user000 and user001 get a second certificate; the first stays escrowed.
for n in user000 user001; do
	run_ok -m "smimeca-enroll --archive for $n again" \
	    smimeca-enroll --out-dir ${n}b --email $n@lab.example --cn "$n" \
	    --archive --xchg xchg.pem
	run_ok -m "issue $n's second certificate" \
	    smimeca -d lab issue --template smime-encryption \
	    --archival-request ${n}b/request.cmc --out ${n}b.crt
done
# Someone with a signing certificate only.
mkcsr sigonly sigonly@lab.example
run_ok -m "sigonly@lab.example: a signing certificate (no escrow)" \
    smimeca -d lab issue --template smime-signature --csr sigonly.csr \
    --out sigonly.crt
diag "setting up $NUSERS users took $(($(date +%s) - t0)) s"
is "$(sqlite3 lab/smimeca.db "SELECT count(DISTINCT c.email) FROM certs c
    JOIN escrow e ON e.cert_id = c.id;")" $NUSERS \
    "$NUSERS addresses have escrowed certificates"
is "$(sqlite3 lab/smimeca.db "SELECT count(*) FROM escrow;")" $((NUSERS + 2)) \
    "$((NUSERS + 2)) escrowed keys"

check "openssl genpkey: the import key" \
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out import.key
openssl pkey -in import.key -pubout -out import.pub 2>/dev/null

# The thumbprints the database says are escrowed, and the key of each.
sqlite3 lab/smimeca.db "SELECT lower(c.sha1) || ' ' || c.email FROM certs c
    JOIN escrow e ON e.cert_id = c.id ORDER BY c.id;" >escrowed.txt
: >keys.txt
for f in user*.crt; do
	b=${f%.crt}
	printf '%s %s/key.pem\n' "$(fp "$f" sha1)" "$b" >>keys.txt
done

# The checks of a set of exported objects, run by py_tap:
#   escrowed.txt keys.txt import.key MODE FILE-OR-DIR [WANT-USERS]
# MODE "ndjson": FILE has every object; "dir": DIR holds one MAIL.json per
# user; "deep" decrypts every password and compares every key.
ALL_CHECK='
import base64, glob
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import pkcs12
esc, keys, impk, mode, src = sys.argv[1:6]
deep = "deep" in mode
esc = [l.split() for l in open(esc) if l.strip()]
keyof = dict(l.split() for l in open(keys) if l.strip())
skip = set(sys.argv[6:])
want = {tp: mail for tp, mail in esc if mail not in skip}
users = set(want.values())
objs, files = [], {}
try:
    if mode.startswith("ndjson"):
        for l in open(src).read().splitlines():
            if l.strip():
                objs.append(json.loads(l))
    else:
        for f in sorted(glob.glob(os.path.join(src, "*.json"))):
            files[os.path.basename(f)] = json.load(open(f))
            objs += files[os.path.basename(f)]
    check(True, "%s parses as JSON" % src)
except Exception as e:
    check(False, "%s parses as JSON" % src, e)
    sys.exit(0)
if not mode.startswith("ndjson"):
    check(set(files) == set(u + ".json" for u in users),
          "%s holds one MAIL.json for each of the %d users" % (src, len(users)),
          "extra %s\nmissing %s" % (sorted(set(files) - set(u + ".json" for u in users))[:5],
                                    sorted(set(u + ".json" for u in users) - set(files))[:5]))
    bad = [f for f, o in files.items()
           if sorted(x.get("thumbprint") for x in o) !=
              sorted(tp for tp, m in want.items() if m + ".json" == f)]
    check(bad == [], "%s: each file holds exactly the certificates of its user" % src, bad[:5])
tps = [o.get("thumbprint") for o in objs]
check(len(objs) == len(want), "%s: %d objects" % (src, len(want)), len(objs))
check(sorted(map(str, tps)) == sorted(want),
      "%s: exactly the escrowed certificates (thumbprints)" % src,
      "extra %s\nmissing %s" % (sorted(set(map(str, tps)) - set(want))[:5],
                                sorted(set(want) - set(map(str, tps)))[:5]))
check(all(o.get("userPrincipalName") == want.get(o.get("thumbprint")) for o in objs),
      "%s: each userPrincipalName is the address of its certificate" % src)
check(set(o.get("userPrincipalName") for o in objs) == users,
      "%s: %d users" % (src, len(users)))
check("sigonly@lab.example" not in set(o.get("userPrincipalName") for o in objs),
      "%s: the address with a signing certificate only is not exported" % src)
check(all(o.get("@odata.type") == "#microsoft.graph.userPFXCertificate" and
          o.get("intendedPurpose") == "smimeEncryption" and
          o.get("paddingScheme") == "oaepSha512" and o.get("keyName") == "K"
          for o in objs), "%s: type, purpose, padding and keyName of every object" % src)
if deep or len(objs) <= 6:
    wanted = objs
else:
    wanted = [o for o in objs if o.get("userPrincipalName") in
            ("user000@lab.example", "user001@lab.example", "user199@lab.example")]
imp = serialization.load_pem_private_key(open(impk, "rb").read(), None)
oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA512()), algorithm=hashes.SHA512(), label=None)
bad = []
for o in wanted:
    tp = o.get("thumbprint")
    try:
        pw = imp.decrypt(base64.b64decode(o["encryptedPfxPassword"]), oaep)
        p = pkcs12.load_pkcs12(base64.b64decode(o["encryptedPfxBlob"]), pw)
        k = serialization.load_pem_private_key(open(keyof[tp], "rb").read(), None)
        if p.key.private_numbers() != k.private_numbers():
            bad.append("%s: another key" % tp)
        elif p.cert.certificate.fingerprint(hashes.SHA1()).hex() != tp:
            bad.append("%s: another certificate" % tp)
    except Exception as e:
        bad.append("%s: %r" % (tp, e))
check(bad == [] and len(wanted) > 0,
      "%s: %d passwords decrypt (OAEP-SHA512), open their PKCS12, and give the enrolled key"
      % (src, len(wanted)), "\n".join(bad[:5]))
'
printf '%s\n' "$ALL_CHECK" >"$T/all-check.py"

# --- --all --ndjson, nothing broken -----------------------------------------------
t0=$(date +%s)
run_ok -m "export intune --all --ndjson" \
    smimeca -d lab export intune --all --ndjson --import-key import.pub \
    --key-name K --kra-key officers/officer1.p12 --kra-pass-file kp1 \
    --out nd
diag "export --all --ndjson took $(($(date +%s) - t0)) s"
like "$out" "exported $((NUSERS + 2)) certificates of $NUSERS users to [^;]*nd" \
    "summary: exported $((NUSERS + 2)) certificates of $NUSERS users"
is "$(ls nd)" userPFXCertificates.ndjson "nd holds only userPFXCertificates.ndjson"
is "$(grep -c . nd/userPFXCertificates.ndjson)" $((NUSERS + 2)) \
    "$((NUSERS + 2)) lines"
py_tap escrowed.txt keys.txt import.key ndjson-deep \
    nd/userPFXCertificates.ndjson <"$T/all-check.py"

# --- one broken escrow record ------------------------------------------------------
check "sqlite3: break user042's escrow record" \
    sqlite3 lab/smimeca.db "UPDATE escrow SET envelope = X'3003020100'
    WHERE cert_id = (SELECT id FROM certs WHERE email = 'user042@lab.example')"
is "$(sqlite3 lab/smimeca.db "SELECT hex(e.envelope) FROM escrow e JOIN certs c
    ON c.id = e.cert_id WHERE c.email = 'user042@lab.example';")" 3003020100 \
    "user042's envelope is now 30 03 02 01 00"
t0=$(date +%s)
run_exit 1 -m "export intune --all with one broken user: exit 1" \
    smimeca -d lab export intune --all --import-key import.pub --key-name K \
    --kra-key officers/officer1.p12 --kra-pass-file kp1 --out all
diag "export --all took $(($(date +%s) - t0)) s"
like "$out" "exported $((NUSERS + 1)) certificates of $((NUSERS - 1)) users to [^;]*all; 1 user failed" \
    "summary: exported $((NUSERS + 1)) certificates of $((NUSERS - 1)) users to all; 1 user failed"
nerr=$(printf '%s\n' "$err" | grep -c .)
is "$nerr" 1 "stderr: one line for the one failure"
[ "$nerr" -eq 1 ] || diag "stderr was:" "$err"
failline=$(printf '%s\n' "$err" | grep -m1 'user042@lab\.example')
like "$failline" 'user042@lab\.example' "a stderr line names user042@lab.example"
# Without the address, the program name and words like "failed", the line
# must still say something: the reason.
rest=$(printf '%s\n' "$failline" | sed 's/user042@lab\.example//g;
    s/smimeca//g; s/export//g; s/intune//g; s/failed//g; s/error//g')
like "$rest" '[A-Za-z]{3,}[^A-Za-z]+[A-Za-z]{3,}' \
    "the line naming user042 gives the reason too"
[ -e all/user042@lab.example.json ] &&
    not_ok "no file for user042" || ok "no file for user042"
is "$(find all -name '*.json' | wc -l | tr -d ' ')" $((NUSERS - 1)) "$((NUSERS - 1)) files in all/"
py_tap escrowed.txt keys.txt import.key dir all user042@lab.example \
    <"$T/all-check.py"

# --- --from FILE -----------------------------------------------------------------------
printf '# the pilot group\nuser007@lab.example\n\n# and one more\nuser008@lab.example\n' >pilot.txt
run_ok -m "export intune --from pilot.txt (comments and a blank line)" \
    smimeca -d lab export intune --from pilot.txt --import-key import.pub \
    --key-name K --kra-key officers/officer1.p12 --kra-pass-file kp1 \
    --out pilot
is "$(ls pilot | tr '\n' ' ')" "user007@lab.example.json user008@lab.example.json " \
    "pilot/ holds user007's and user008's files only"
grep -v 'user007\|user008' escrowed.txt | sed 's/^[^ ]* //' | sort -u >notpilot
# shellcheck disable=SC2046
py_tap escrowed.txt keys.txt import.key dir pilot $(cat notpilot) \
    <"$T/all-check.py"
printf 'user009@lab.example\nuser042@lab.example\nuser010@lab.example\n' >mixed.txt
run_exit 1 -m "export intune --from with the broken user among others: exit 1" \
    smimeca -d lab export intune --from mixed.txt --import-key import.pub \
    --key-name K --kra-key officers/officer1.p12 --kra-pass-file kp1 \
    --out mixed
like "$err" 'user042@lab\.example' "the message names user042@lab.example"
is "$(ls mixed 2>/dev/null | tr '\n' ' ')" \
    "user009@lab.example.json user010@lab.example.json " \
    "the users before and after it are exported"

done_testing
