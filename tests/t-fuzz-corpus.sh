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

# --- EST answers as smimeca-enroll reads them (tools/estclient.c) ---------
[ -x "$FZ/fuzz_est_answer" ] || bail_out "fuzz_est_answer is not built"
openssl pkcs8 -topk8 -nocrypt -in cmc/key.pem -outform DER \
    -out answer.p8 2>/dev/null
openssl req -x509 -key cmc/key.pem -subj /CN=fuzz -days 1 -out answer.crt \
    2>/dev/null
openssl crl2pkcs7 -nocrl -certfile answer.crt -outform DER \
    -out answer.p7 2>/dev/null
if [ -s answer.p8 ] && [ -s answer.p7 ]; then
	ok "seeds for the EST answers (openssl pkcs8, crl2pkcs7)"
else
	not_ok "seeds for the EST answers (openssl pkcs8, crl2pkcs7)"
fi
made=$($PY - answer.p7 answer.p8 answers <<'PYEOF'
import base64, os, random, sys
p7, p8 = (open(p, "rb").read() for p in sys.argv[1:3])
dst = sys.argv[3]
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
def answer(status, ctype, body, chunked=False):
    h = b"HTTP/1.1 " + status + b"\r\nContent-Type: " + ctype + b"\r\n"
    if not chunked:
        return h + b"Content-Length: %d\r\n\r\n" % len(body) + body
    out = h + b"Transfer-Encoding: chunked\r\n\r\n"
    for i in range(0, len(body), 100):
        c = body[i:i + 100]
        out += b"%x\r\n" % len(c) + c + b"\r\n"
    return out + b"0\r\n\r\n"
seeds = [
    answer(b"200 OK", b"application/pkcs7-mime; smime-type=certs-only", b7),
    answer(b"200 OK", b"application/pkcs7-mime", b7l, chunked=True),
    answer(b"200 OK", b"multipart/mixed; boundary=" + bnd, mp),
    answer(b"200 OK", b'multipart/mixed; boundary="' + bnd + b'"', mp,
           chunked=True),
    answer(b"401 Unauthorized", b"text/plain; charset=utf-8",
           b"wrong account or password\n"),
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\n"
    b"Retry-After: 60\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.0 200 OK\nContent-Type: application/x-pem-file\n\n" + b7l,
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
                 ord(":"), ord("0"), ord("f")])
        put(bytes(m))
put(b"")
put(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"fffffffffffffffffff\r\n")
print(n)
PYEOF
)
nanswers=$(ls answers | wc -l)
like "$made" '^[0-9]{3,}$' "the generator made hundreds of EST answers"
is "$nanswers" "$made" "answers/ holds the $made answers it made"
run_ok -m "fuzz_est_answer over the EST answers" "$FZ/fuzz_est_answer" \
    answers/*
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
for h in areq msblob blob; do
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
done_testing
