#!/bin/sh
# `smimeca ca export`: the CA certificate, or with --chain the whole of
# chain.pem (issuing CA and root of a two-tier CA), for other trust stores.
# PEM and DER are compared with what openssl makes of ca.crt and chain.pem;
# the p7b is read by `openssl pkcs7 -inform DER -print_certs` and gives the
# chain's certificates (SHA-256 fingerprints); the SST is read by a reader
# written here from [MS-OSHARED] 2.3.2.5 (header version 0 and fileType
# 0x54524543, SerializedCertificateEntry id 0x20 with encodingType 1, any
# SerializedPropertyEntry skipped, EndElementMarkerEntry of id 0 and an
# 8-byte zero marker, little-endian), which must find exactly the chain's
# certificates byte for byte and nothing after the end marker. An unknown
# format, der with --chain, and a missing --out or --format exit 2 with a
# message naming the problem and write nothing.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/keys.sh"

# split_pem FILE PREFIX: PREFIX-1.pem, PREFIX-2.pem ...; prints how many.
split_pem()
{
	awk -v p="$2" '
	/-----BEGIN CERTIFICATE-----/ { n++; f = p "-" n ".pem" }
	f != "" { print > f }
	/-----END CERTIFICATE-----/ { close(f); f = "" }
	END { print n + 0 }' "$1"
}

# ders PREFIX N: PREFIX-1.der .. PREFIX-N.der from the PEM files, by openssl.
ders()
{
	_i=1
	while [ "$_i" -le "$2" ]; do
		openssl x509 -in "$1-$_i.pem" -outform DER -out "$1-$_i.der" ||
		    return 1
		_i=$((_i + 1))
	done
}

# fps PREFIX N: the sorted SHA-256 fingerprints of PREFIX-1.pem ...
fps()
{
	_i=1
	while [ "$_i" -le "$2" ]; do
		fp "$1-$_i.pem" sha256
		_i=$((_i + 1))
	done | sort | tr '\n' ' '
}

# --- a two-tier CA: chain.pem holds the issuing CA and the root -------------
run_ok smimeca -d "$T/ca" init --two-tier --key ec:p256 ||
    bail_out "smimeca init --two-tier failed"
nchain=$(split_pem ca/chain.pem chain)
is "$nchain" 2 "chain.pem holds two certificates (issuing CA and root)"
ders chain "$nchain" || bail_out "openssl x509 -outform DER of chain.pem"
openssl x509 -in ca/ca.crt -outform DER -out ca.der ||
    bail_out "openssl x509 -outform DER of ca.crt"
chain_fps=$(fps chain "$nchain")

# --- pem and der -------------------------------------------------------------
run_ok smimeca -d ca ca export --format pem --out ca-out.pem
like "$out" 'wrote ca-out\.pem \(1 certificate, pem\)' "it says what it wrote"
is "$(split_pem ca-out.pem pemone)" 1 "--format pem: one PEM certificate"
check "openssl x509 reads the PEM export" \
    openssl x509 -in ca-out.pem -outform DER -out pemone.der
cmp -s pemone.der ca.der && ok "--format pem: it is ca.crt" ||
    not_ok "--format pem: it is ca.crt"

run_ok smimeca -d ca ca export --format der --out ca-out.der
cmp -s ca-out.der ca.der &&
    ok "--format der: byte for byte what openssl x509 -outform DER gives" ||
    not_ok "--format der: byte for byte what openssl x509 -outform DER gives"
check "openssl x509 -inform DER reads the DER export" \
    openssl x509 -inform DER -in ca-out.der -noout -subject
like "$out" 'Lab CA' "the DER export is the issuing CA"
unlike "$out" 'Root' "the DER export is not the root"

run_ok smimeca -d ca ca export --format pem --chain --out chain-out.pem
like "$out" '\(2 certificates, pem\)' "--chain: it says two certificates"
n=$(split_pem chain-out.pem pemchain)
is "$n" "$nchain" "--format pem --chain: as many certificates as chain.pem"
ders pemchain "$n" || not_ok "openssl x509 reads each PEM of the chain export"
_same=1
_i=1
while [ "$_i" -le "$nchain" ]; do
	cmp -s "pemchain-$_i.der" "chain-$_i.der" || _same=0
	_i=$((_i + 1))
done
is "$_same" 1 "--format pem --chain: each certificate is chain.pem's, in order"

# --- p7b ---------------------------------------------------------------------
run_ok smimeca -d ca ca export --format p7b --chain --out chain.p7b
check "openssl pkcs7 -inform DER -print_certs reads the p7b" \
    openssl pkcs7 -inform DER -in chain.p7b -print_certs -out p7.pem
n=$(split_pem p7.pem p7)
is "$n" "$nchain" "the p7b holds as many certificates as chain.pem"
is "$(fps p7 "$n")" "$chain_fps" "the p7b holds chain.pem's certificates"
check "openssl pkcs7 -print of the p7b" \
    openssl pkcs7 -inform DER -in chain.p7b -print -noout
like "$out" 'pkcs7-signedData' "the p7b is a PKCS#7 SignedData"
like "$(printf '%s\n' "$out" | grep -A1 'signer_info:' | tail -n 1)" \
    '^[[:space:]]*<EMPTY>$' "the p7b has no signer (certs-only)"
run_ok smimeca -d ca ca export --format p7b --out one.p7b
check "openssl pkcs7 -print_certs of the p7b without --chain" \
    openssl pkcs7 -inform DER -in one.p7b -print_certs -out p7one.pem
is "$(split_pem p7one.pem p7one)" 1 \
    "without --chain the p7b holds one certificate"
is "$(fp p7one-1.pem sha256)" "$(fp ca/ca.crt sha256)" \
    "without --chain the p7b holds ca.crt"

# --- sst ---------------------------------------------------------------------
# An SST reader written from [MS-OSHARED] 2.3.2.5: SST WANT.der ...
cat >sst-read.py <<'PYEOF'
import struct
path = sys.argv[1]
want = [open(p, "rb").read() for p in sys.argv[2:]]
tag = os.path.basename(path)
data = open(path, "rb").read()
if not check(len(data) >= 8 + 12, "%s: header and end marker fit" % tag,
             len(data)):
    sys.exit(0)
# 2.3.9.1 / 2.3.2.5.5: version (4 bytes) MUST be 0, fileType MUST be 0x54524543
version, ftype = struct.unpack_from("<II", data, 0)
check(version == 0, "%s: version 0" % tag, version)
check(ftype == 0x54524543, "%s: fileType 0x54524543" % tag, hex(ftype))
check(data[4:8] == b"CERT", "%s: the magic reads CERT" % tag, data[4:8])
off, certs, props, errors, end = 8, [], 0, [], None
while True:
    if off + 4 > len(data):
        errors.append("no element id at offset %d" % off)
        break
    (eid,) = struct.unpack_from("<I", data, off)
    if eid == 0:
        # 2.3.2.5.2 EndElementMarkerEntry: id 0, marker 8 bytes of zero
        if data[off + 4:off + 12] != bytes(8):
            errors.append("end marker at %d is %r" %
                          (off, data[off + 4:off + 12]))
        end = off + 12
        break
    if off + 12 > len(data):
        errors.append("element at %d cut short" % off)
        break
    enc, length = struct.unpack_from("<II", data, off + 4)
    value = data[off + 12:off + 12 + length]
    if len(value) != length:
        errors.append("element at %d: length %d past the end" % (off, length))
        break
    if enc != 1:
        errors.append("element at %d: encodingType %d, not 1" % (off, enc))
    if eid == 0x20:
        # 2.3.2.5.1 SerializedCertificateEntry: the DER certificate
        certs.append(value)
    elif eid > 0xFFFF:
        errors.append("element at %d: property id 0x%x" % (off, eid))
    else:
        props += 1  # 2.3.2.5.3 SerializedPropertyEntry: ignored on read
    off += 12 + length
check(not errors, "%s: every element is well formed" % tag, "\n".join(errors))
check(end == len(data), "%s: the end marker ends the file" % tag,
      "end %s, size %d" % (end, len(data)))
check(len(certs) == len(want), "%s: %d certificate entries" % (tag, len(want)),
      len(certs))
check(sorted(certs) == sorted(want),
      "%s: exactly the chain certificates, byte for byte" % tag,
      [hashlib.sha256(c).hexdigest()[:16] for c in certs])
for i, c in enumerate(certs):
    try:
        x509.load_der_x509_certificate(c)
        ok = True
    except Exception as e:
        ok = e
    check(ok is True, "%s: entry %d parses as an X.509 certificate" %
          (tag, i + 1), ok)
PYEOF
run_ok smimeca -d ca ca export --format sst --chain --out chain.sst
like "$out" 'wrote chain\.sst \(2 certificates, sst\)' \
    "sst --chain: it says two"
py_tap chain.sst chain-1.der chain-2.der <sst-read.py
run_ok smimeca -d ca ca export --format sst --out one.sst
py_tap one.sst ca.der <sst-read.py

# --- bad input ---------------------------------------------------------------
run_exit 2 -m "--format jks: exit 2" \
    smimeca -d ca ca export --format jks --out bad.jks
like "$err" 'jks.*unknown format.*pem, der, p7b or sst' \
    "the message names the format and the known ones"
[ -e bad.jks ] && not_ok "nothing written for --format jks" ||
    ok "nothing written for --format jks"
run_exit 2 -m "--format der --chain: exit 2" \
    smimeca -d ca ca export --format der --chain --out bad.der
like "$err" 'der.*--chain.*one certificate' \
    "the message says DER holds one certificate"
like "$err" 'pem, p7b or sst' "the message names the formats that take a chain"
[ -e bad.der ] && not_ok "nothing written for der --chain" ||
    ok "nothing written for der --chain"
run_exit 2 -m "without --out: exit 2" smimeca -d ca ca export --format sst
like "$err" '--out FILE is required' "the message asks for --out"
run_exit 2 -m "without --format: exit 2" \
    smimeca -d ca ca export --out bad.pem
like "$err" '--format .*is required' "the message asks for --format"
[ -e bad.pem ] && not_ok "nothing written without --format" ||
    ok "nothing written without --format"
run_exit 2 -m "ca alone: exit 2" smimeca -d ca ca
like "$err" 'ca export' "ca alone lists its subcommand"
run_exit 1 -m "a directory without a CA: exit 1" \
    smimeca -d nowhere ca export --format pem --out nowhere.pem
like "$err" 'no CA here' "the message says there is no CA"

done_testing
