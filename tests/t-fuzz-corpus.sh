#!/bin/sh
# The libFuzzer harnesses of tests/fuzz/ over a corpus made here: valid
# archival requests and CSRs in each encoding, their truncations and
# deterministic byte flips. Under the debug build's sanitizers a crash,
# leak or undefined behaviour fails the test. For real fuzzing build the
# harnesses with clang (see README.md, Building).

. "$(dirname "$0")/lib.sh"

FZ=$top_builddir/tests/fuzz
[ -x "$FZ/fuzz_areq" ] && [ -x "$FZ/fuzz_est_body" ] ||
    bail_out "the fuzz harnesses are not built (make check builds them)"

run_ok smimeca -d lab init --key rsa:2048 || bail_out "init failed"
run_ok smimeca -d lab xchg show --pem
printf '%s\n' "$out" >xchg.pem
run_ok smimeca-enroll --out-dir cmc --email alice@lab.example --archive \
    --xchg xchg.pem --format cmc
run_ok smimeca-enroll --out-dir simple --email bob@lab.example --archive \
    --xchg xchg.pem --format simple
run_ok smimeca-enroll --out-dir plain --email carol@lab.example --format cmc
mkdir seeds
cp cmc/request.cmc seeds/cmc.der
cp plain/request.cmc seeds/cmc-plain.der
openssl req -in cmc/request.csr -outform DER -out seeds/csr.der 2>/dev/null ||
    cp cmc/request.csr seeds/csr.der
base64 -w0 seeds/csr.der >seeds/csr.b64
base64 seeds/cmc.der >seeds/cmc.b64
openssl req -in seeds/csr.der -inform DER -out seeds/csr.pem 2>/dev/null
for f in simple/*; do cp "$f" "seeds/simple-$(basename "$f")"; done

made=$($PY - seeds corpus <<'PYEOF'
import os, random, sys
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst)
rnd = random.Random(7030)
n = 0
def put(b):
    global n
    open(os.path.join(dst, "%05d" % n), "wb").write(b)
    n += 1
for name in sorted(os.listdir(src)):
    b = open(os.path.join(src, name), "rb").read()
    put(b)
    for cut in range(0, len(b), max(1, len(b) // 40)):
        put(b[:cut])
    for _ in range(60):
        m = bytearray(b)
        for _ in range(rnd.randint(1, 4)):
            m[rnd.randrange(len(m))] = rnd.randrange(256)
        put(bytes(m))
    put(b + b"\x00" * 5)
put(b"")
put(b"-----BEGIN CERTIFICATE REQUEST-----\n")
put(b"\x30\x84\xff\xff\xff\xff")
put(bytes(rnd.randrange(256) for _ in range(4096)))
print(n)
PYEOF
)
ncorpus=$(ls corpus | wc -l)
like "$made" '^[0-9]{3,}$' "the generator made a corpus of hundreds of inputs"
is "$ncorpus" "$made" "corpus/ holds the $made inputs it made"
# With the lab's exchange keys, requests are opened as fullcmc opens them.
run_ok -m "fuzz_areq over the corpus" env FUZZ_CA_DIR="$T/lab" \
    "$FZ/fuzz_areq" corpus/*
like "$out" "^$ncorpus inputs" "fuzz_areq read every input"
run_ok -m "fuzz_est_body over the corpus" "$FZ/fuzz_est_body" corpus/*
like "$out" "^$ncorpus inputs" "fuzz_est_body read every input"

# --- EST answers as smimeca-enroll reads them (tools/estclient-parse.c) ---
# libcurl does the HTTP; an input is "STATUS CONTENT-TYPE\n" and the body.
[ -x "$FZ/fuzz_est_answer" ] || bail_out "fuzz_est_answer is not built"
openssl pkcs8 -topk8 -nocrypt -in cmc/key.pem -outform DER \
    -out answer.p8 2>/dev/null
# answer.crt, self-signed and a CA, signs the CMC answer and the exchange
# certificate; the harness trusts it (FUZZ_EST_CACERT).
openssl req -x509 -key cmc/key.pem -subj /CN=fuzz -days 1 -out answer.crt \
    2>/dev/null
openssl crl2pkcs7 -nocrl -certfile answer.crt -outform DER \
    -out answer.p7 2>/dev/null
printf 'extendedKeyUsage = 1.3.6.1.4.1.311.21.5\n' >xchg.ext
openssl req -new -newkey rsa:2048 -nodes -keyout xchg.key \
    -subj /CN=fuzz-exchange -out xchg.csr 2>/dev/null &&
    openssl x509 -req -in xchg.csr -CA answer.crt -CAkey cmc/key.pem \
    -set_serial 7 -days 1 -extfile xchg.ext -out answer-xchg.pem 2>/dev/null
# A CMC PKIResponse: statusInfo success, the Microsoft hashes.
$PY - pkiresp.der <<'PYEOF'
import sys
def tlv(tag, body):
    n = len(body)
    if n < 128:
        return bytes([tag, n]) + body
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + body
def oid(s):
    a = [int(x) for x in s.split(".")]
    out = bytes([40 * a[0] + a[1]])
    for v in a[2:]:
        b = [v & 0x7f]
        while v > 0x7f:
            v >>= 7
            b.insert(0, 0x80 | (v & 0x7f))
        out += bytes(b)
    return tlv(0x06, out)
INT = lambda v: tlv(0x02, bytes([v]))
SEQ = lambda *x: tlv(0x30, b"".join(x))
SET = lambda *x: tlv(0x31, b"".join(x))
status = SEQ(INT(1), oid("1.3.6.1.5.5.7.7.1"),
             SET(SEQ(INT(0), SEQ(INT(1)), tlv(0x0c, b"issued"))))
hashes = SEQ(INT(2), oid("1.3.6.1.4.1.311.10.10.1"), SET(SEQ(
    INT(0), SEQ(INT(1)), SET(
        SEQ(oid("1.3.6.1.4.1.311.21.17"), SET(tlv(0x04, b"\x11" * 20))),
        SEQ(oid("1.3.6.1.4.1.311.21.21"), SET(tlv(0x04, b"\x22" * 20)))))))
open(sys.argv[1], "wb").write(SEQ(SEQ(status, hashes), SEQ(), SEQ()))
PYEOF
openssl cms -sign -binary -nodetach -econtent_type 1.3.6.1.5.5.7.12.3 \
    -in pkiresp.der -signer answer.crt -inkey cmc/key.pem -outform DER \
    -out answer.cmc 2>/dev/null
if [ -s answer.p8 ] && [ -s answer.p7 ] && [ -s answer-xchg.pem ] &&
    [ -s answer.cmc ]; then
	ok "seeds for the EST answers (openssl pkcs8, crl2pkcs7, x509, cms)"
else
	not_ok "seeds for the EST answers (openssl pkcs8, crl2pkcs7, x509, cms)"
fi
# The seeds must be valid, else the corpus does not reach the checks
# after the signature.
run_ok -m "the CMC answer seed verifies (openssl cms -verify)" openssl cms \
    -verify -binary -inform DER -in answer.cmc -CAfile answer.crt \
    -out answer.content
like "$err" "^CMS Verification successful" "openssl cms -verify: successful"
is "$(od -An -tx1 answer.content | tr -d ' \n')" \
    "$(od -An -tx1 pkiresp.der | tr -d ' \n')" \
    "the CMC answer seed carries the PKIResponse"
run_ok -m "the exchange seed chains to answer.crt (openssl verify)" \
    openssl verify -CAfile answer.crt answer-xchg.pem
like "$out" "^answer-xchg.pem: OK$" "openssl verify: the exchange seed is OK"
made=$($PY - answer.p7 answer.p8 answer.cmc answer-xchg.pem answers <<'PYEOF'
import base64, os, random, sys
p7, p8, cmc, xchg = (open(p, "rb").read() for p in sys.argv[1:5])
dst = sys.argv[5]
os.makedirs(dst)
rnd = random.Random(7030)
b7 = base64.b64encode(p7)
b7l = base64.encodebytes(p7)
bnd = b"smimeca-est-boundary-7f3a"
mp = (b"--" + bnd + b"\r\nContent-Type: application/pkcs8\r\n"
      b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(p8) +
      b"\r\n--" + bnd + b"\r\nContent-Type: application/pkcs7-mime; "
      b"smime-type=certs-only\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
      b7 + b"\r\n--" + bnd + b"--\r\n")
def answer(status, ctype, body):
    return status + b" " + ctype + b"\n" + body
seeds = [
    answer(b"200", b"application/pkcs7-mime; smime-type=certs-only", b7),
    answer(b"200", b"application/pkcs7-mime", b7l),
    answer(b"200", b"multipart/mixed; boundary=" + bnd, mp),
    answer(b"200", b'multipart/mixed; boundary="' + bnd + b'"',
           mp.replace(b"\r\n", b"\n")),
    answer(b"200", b"application/pkcs7-mime; smime-type=CMC-response",
           base64.encodebytes(cmc)),
    answer(b"200", b"application/x-pem-file", xchg),
    answer(b"401", b"text/plain; charset=utf-8",
           b"wrong account or password\n"),
    answer(b"202", b"text/plain", b"pending\n"),
]
n = 0
def put(b):
    global n
    open(os.path.join(dst, "%05d" % n), "wb").write(b)
    n += 1
for b in seeds:
    put(b)
    for cut in range(0, len(b), max(1, len(b) // 40)):
        put(b[:cut])
    for _ in range(60):
        m = bytearray(b)
        for _ in range(rnd.randint(1, 4)):
            m[rnd.randrange(len(m))] = rnd.choice(
                [rnd.randrange(256), ord("\r"), ord("\n"), ord("-"),
                 ord(":"), ord("0"), ord("f"), ord("=")])
        put(bytes(m))
put(b"")
put(b"200 \n")
put(b"200 multipart/mixed; boundary=\"unterminated\n--unterminated\r\n")
print(n)
PYEOF
)
nanswers=$(ls answers | wc -l)
like "$made" '^[0-9]{3,}$' "the generator made hundreds of EST answers"
is "$nanswers" "$made" "answers/ holds the $made answers it made"
run_ok -m "fuzz_est_answer over the EST answers" env \
    FUZZ_EST_CACERT="$T/answer.crt" "$FZ/fuzz_est_answer" answers/*
like "$out" "^$nanswers inputs" "fuzz_est_answer read every input"
# --- key BLOBs and recovery blobs, and the corpora of real fuzzing runs -----
[ -x "$FZ/fuzz_msblob" ] && [ -x "$FZ/fuzz_blob" ] ||
    bail_out "fuzz_msblob or fuzz_blob is not built"
# mutate SRC DST: each file of SRC, its truncations and byte flips, in DST.
mutate()
{
	$PY - "$1" "$2" <<'PYEOF'
import os, random, sys
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst)
rnd = random.Random(8894)
n = 0
for name in sorted(os.listdir(src)):
    b = open(os.path.join(src, name), "rb").read()
    outs = [b] + [b[:c] for c in range(0, len(b), max(1, len(b) // 30))]
    for _ in range(40):
        m = bytearray(b)
        for _ in range(rnd.randint(1, 3)):
            if m:
                m[rnd.randrange(len(m))] = rnd.randrange(256)
        outs.append(bytes(m))
    for o in outs:
        open(os.path.join(dst, "%05d" % n), "wb").write(o)
        n += 1
print(n)
PYEOF
}
if have_pycrypto; then
	run_ok -m "key BLOB seeds (RSA, ECDH, ECDSA) from Python cryptography" \
	    "$PY" "$top_srcdir/tests/fuzz/msblob-seeds.py" msseeds
	mutate msseeds mscorpus >/dev/null
	nms=$(ls mscorpus | wc -l)
	run_ok -m "fuzz_msblob over $nms key BLOBs" "$FZ/fuzz_msblob" mscorpus/*
	like "$out" "^$nms inputs" "fuzz_msblob read every input"
else
	skip "fuzz_msblob over generated key BLOBs" \
	    "$PY with the cryptography module is needed for the seeds"
	skip "fuzz_msblob read every input" "no seeds"
fi
# The harness writes its seed blobs when it starts, then reads them.
mkdir blobseeds
: >blobseeds/empty
run_ok -m "fuzz_blob over its own seed blobs (any one of 3, 2 of 3)" \
    env FUZZ_BLOB_SEEDS="$T/blobseeds" "$FZ/fuzz_blob" blobseeds/empty \
    blobseeds/any-one blobseeds/any-one.signed blobseeds/two-of-three \
    blobseeds/two-of-three.signed
like "$out" "^5 inputs" "fuzz_blob read the seeds it wrote"
mutate blobseeds blobcorpus >/dev/null
nbl=$(ls blobcorpus | wc -l)
run_ok -m "fuzz_blob over $nbl mutated blobs" "$FZ/fuzz_blob" blobcorpus/*
like "$out" "^$nbl inputs" "fuzz_blob read every input"
# --- OCSP requests as /ocsp answers them (ca/ocsp.c) ----------------------
[ -x "$FZ/fuzz_ocsp" ] || bail_out "fuzz_ocsp is not built"
mkcsr ocspleaf ocspleaf@lab.example
run_ok smimeca -d lab issue --template smime-signature --csr ocspleaf.csr \
    --out ocspleaf.crt
mkdir ocspseeds
openssl ocsp -issuer lab/ca.crt -cert ocspleaf.crt -no_nonce \
    -reqout ocspseeds/sha1.der >/dev/null 2>&1
openssl ocsp -sha256 -issuer lab/ca.crt -cert ocspleaf.crt -nonce \
    -reqout ocspseeds/sha256-nonce.der >/dev/null 2>&1
openssl ocsp -issuer lab/ca.crt -cert ocspleaf.crt -serial 0x1234 \
    -reqout ocspseeds/two.der >/dev/null 2>&1
openssl ocsp -issuer ocspleaf.crt -serial 0x01 \
    -reqout ocspseeds/foreign.der >/dev/null 2>&1
base64 -w0 ocspseeds/sha1.der >ocspseeds/sha1.b64
n=$(ls ocspseeds | wc -l)
is "$n" 5 "OCSP seeds from openssl ocsp -reqout (SHA-1, SHA-256 with \
nonce, two CertIDs, a foreign issuer, base64)"
mutate ocspseeds ocspcorpus >/dev/null
noc=$(ls ocspcorpus | wc -l)
run_ok -m "fuzz_ocsp over $noc mutated requests" \
    env FUZZ_CA_DIR="$T/lab" "$FZ/fuzz_ocsp" ocspcorpus/*
like "$out" "^$noc inputs" "fuzz_ocsp read every input"
for h in areq msblob blob ocsp; do
	c=$top_srcdir/tests/fuzz/corpus/$h
	n=$(ls "$c" 2>/dev/null | wc -l)
	if [ "$n" -eq 0 ]; then
		not_ok "the kept corpus of fuzz_$h is in tests/fuzz/corpus/$h"
		continue
	fi
	run_ok -m "fuzz_$h over its kept libFuzzer corpus ($n inputs)" \
	    env FUZZ_CA_DIR="$T/lab" "$FZ/fuzz_$h" "$c"/*
	like "$out" "^$n inputs" "fuzz_$h read every kept input"
done
# --- bound SCEP challenges (ca/mdmchal.c), as the SCEP server decodes them --
# Seeds: payloads, and whole challenges MACed here with Python's hmac under
# the harness's fixed key (an independent reading of ca/mdmchal.h's format).
[ -x "$FZ/fuzz_mdmchal" ] || bail_out "fuzz_mdmchal is not built"
made=$($PY - chalseeds chalcorpus <<'PYEOF'
import base64, hmac, hashlib, os, random, sys
seeds, dst = sys.argv[1], sys.argv[2]
os.makedirs(seeds)
os.makedirs(dst)
key = b"fuzz-mdmchal-key-0123456789abcd\0"
def chal(p):
    t = hmac.new(key, b"smimeca mdm1\0" + p, hashlib.sha256).digest()[:16]
    return (b"mdm1." + base64.b64encode(p) + b"." + base64.b64encode(t))
payloads = [
    b"1\n1796692584\nsmime-signature-device\nalice@lab.example\n\n"
    b"Alice's iPhone",
    b"42\n1796692584\nsmime-signature\nbob@lab.example\n"
    b"/CN=Bob Example/O=Lab\n",
    b"7\n1\nt\na@b.c\n/CN=a@b.c\n",
]
items = []
for i, p in enumerate(payloads):
    items += [p, chal(p)]
for i, b in enumerate(items):
    open(os.path.join(seeds, "seed%d" % i), "wb").write(b)
rnd = random.Random(2985)
n = 0
def put(b):
    global n
    open(os.path.join(dst, "%05d" % n), "wb").write(b)
    n += 1
for b in items:
    put(b)
    for cut in range(0, len(b), max(1, len(b) // 30)):
        put(b[:cut])
    for _ in range(60):
        m = bytearray(b)
        for _ in range(rnd.randint(1, 3)):
            m[rnd.randrange(len(m))] = rnd.choice(
                [rnd.randrange(256), ord("\n"), ord("."), ord("="),
                 ord("/"), ord("@"), ord("0"), ord("9")])
        put(bytes(m))
put(b"mdm1." + b"A" * 4000)
put(b"mdm1." + b"=" * 8 + b"." + b"A" * 24)
print(n)
PYEOF
)
nchal=$(ls chalcorpus | wc -l)
like "$made" '^[0-9]{3,}$' "the generator made hundreds of challenges"
is "$nchal" "$made" "chalcorpus/ holds the $made inputs it made"
run_ok -m "fuzz_mdmchal over the challenges" "$FZ/fuzz_mdmchal" chalcorpus/*
like "$out" "^$nchal inputs" "fuzz_mdmchal read every input"
c=$top_srcdir/tests/fuzz/corpus/mdmchal
n=$(ls "$c" 2>/dev/null | wc -l)
if [ "$n" -eq 0 ]; then
	not_ok "the kept corpus of fuzz_mdmchal is in tests/fuzz/corpus/mdmchal"
else
	run_ok -m "fuzz_mdmchal over its kept libFuzzer corpus ($n inputs)" \
	    "$FZ/fuzz_mdmchal" "$c"/*
	like "$out" "^$n inputs" "fuzz_mdmchal read every kept input"
fi
# --- directory values as publish clean decodes them (ca/pubvalue.c) ---------
[ -x "$FZ/fuzz_dirvalue" ] || bail_out "fuzz_dirvalue is not built"
run_ok -m "dirvalue seeds (openssl: a CA, ours, Outlook's, PKCS#7 bundles)" \
    env PY="$PY" sh "$top_srcdir/tests/fuzz/dirvalue-seeds.sh" dvseeds
# The seeds reach each class: else the corpus tests one branch only.
for s in ours.crt:ours ours.p7:ours foreign.crt:foreign \
    foreign.p7:foreign ours-other-ca.crt:foreign shape.crt:undecodable \
    ours-trailing.crt:undecodable empty.p7:undecodable \
    garbage.p7:undecodable; do
	run_ok env FUZZ_DIRVALUE_PRINT=1 "$FZ/fuzz_dirvalue" "dvseeds/${s%%:*}"
	like "$out" "^${s#*:}\$" "fuzz_dirvalue: ${s%%:*} is ${s#*:}"
done
mutate dvseeds dvcorpus >/dev/null
ndv=$(ls dvcorpus | wc -l)
run_ok -m "fuzz_dirvalue over $ndv mutated values" "$FZ/fuzz_dirvalue" \
    dvcorpus/*
like "$out" "^$ndv inputs" "fuzz_dirvalue read every input"
c=$top_srcdir/tests/fuzz/corpus/dirvalue
n=$(ls "$c" 2>/dev/null | wc -l)
if [ "$n" -eq 0 ]; then
	not_ok "the kept corpus of fuzz_dirvalue is in tests/fuzz/corpus/dirvalue"
else
	run_ok -m "fuzz_dirvalue over its kept libFuzzer corpus ($n inputs)" \
	    env FUZZ_DIRVALUE_PRINT=1 "$FZ/fuzz_dirvalue" "$c"/*
	like "$out" "^$n inputs" "fuzz_dirvalue read every kept input"
	for k in ours foreign undecodable; do
		like "$out" "^$k\$" "the kept corpus holds a value that is $k"
	done
fi
# --- SCEP pkiMessages (ca/scep.c), built by tests/scep-msg.py -------------
[ -x "$FZ/fuzz_scep" ] || bail_out "fuzz_scep is not built"
if have_pycrypto; then
	SM="$PY $top_srcdir/tests/scep-msg.py"
	mkdir scepseeds
	openssl genrsa -out scep.key 2048 2>/dev/null
	openssl req -x509 -key scep.key -subj /CN=ra -days 1 -out scep-ra.pem \
	    2>/dev/null
	$SM csr scep.key dev1 challenge-1 scep.csr
	$SM selfsigned scep.key dev1 scep.crt
	$SM build 19 scep.key scep.crt scep-ra.pem scep.csr tid-1 \
	    scepseeds/pkcsreq.der
	$SM build 17 scep.key scep.crt scep-ra.pem scep.csr tid-2 \
	    scepseeds/renewal.der --digest sha1 --cipher des-cbc
	$SM build 20 scep.key scep.crt scep-ra.pem scep.csr tid-3 \
	    scepseeds/poll.der --tamper
	rm -f scepseeds/*.nonce
	mutate scepseeds scepcorpus >/dev/null
	nsc=$(ls scepcorpus | wc -l)
	run_ok -m "fuzz_scep over $nsc mutated pkiMessages" "$FZ/fuzz_scep" \
	    scepcorpus/*
	like "$out" "^$nsc inputs" "fuzz_scep read every input"
else
	skip "fuzz_scep over generated pkiMessages" \
	    "$PY with the cryptography module is needed for the seeds"
fi
c=$top_srcdir/tests/fuzz/corpus/scep
n=$(ls "$c" 2>/dev/null | wc -l)
if [ "$n" -gt 0 ]; then
	run_ok -m "fuzz_scep over its kept corpus ($n inputs)" \
	    "$FZ/fuzz_scep" "$c"/*
	like "$out" "^$n inputs" "fuzz_scep read every kept input"
else
	not_ok "the kept corpus of fuzz_scep is in tests/fuzz/corpus/scep"
fi
done_testing
