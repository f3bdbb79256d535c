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
mkdir seeds
cp cmc/request.cmc seeds/cmc.der
openssl req -in cmc/request.csr -outform DER -out seeds/csr.der 2>/dev/null ||
    cp cmc/request.csr seeds/csr.der
base64 -w0 seeds/csr.der >seeds/csr.b64
base64 seeds/cmc.der >seeds/cmc.b64
openssl req -in seeds/csr.der -inform DER -out seeds/csr.pem 2>/dev/null
for f in simple/*; do cp "$f" "seeds/simple-$(basename "$f")"; done

$PY - seeds corpus <<'PYEOF'
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
ncorpus=$(ls corpus | wc -l)
ok "a corpus of $ncorpus inputs"
run_ok -m "fuzz_areq over the corpus" "$FZ/fuzz_areq" corpus/*
like "$out" "^$ncorpus inputs" "fuzz_areq read every input"
run_ok -m "fuzz_est_body over the corpus" "$FZ/fuzz_est_body" corpus/*
like "$out" "^$ncorpus inputs" "fuzz_est_body read every input"
done_testing
