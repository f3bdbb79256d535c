#!/bin/sh
# Log injection: URLs and HTTP Basic user names carrying LF, CR, ESC, other
# controls and bytes that are not UTF-8 reach smimecad's log escaped
# (\n \r \t \xNN, a backslash doubled), one line per logged event: no
# forged line of its own, no raw control byte, nothing but valid UTF-8.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/smimecad.sh"

run_ok smimeca -d "$T/lab" init --lab --no-ldap --key ec:p256 ||
    bail_out "smimeca init --lab failed"
smimecad_start "$T/lab" || bail_out "smimecad did not start"
start=$(wc -c <"$SMIMECAD_LOG")
nreq=0
nlines=0

# url PATH: GET PATH (percent-encoded; smimecad sees it decoded) with curl;
# one access line.
url()
{
	_code=$(est_curl --path-as-is -o /dev/null -w '%{http_code}' \
	    "$HTTPS_URL$1")
	is "$_code" 404 "GET $1: 404"
	nreq=$((nreq + 1))
	nlines=$((nlines + 1))
}

# raw BYTES: a request line with raw bytes (printf octal escapes) over the
# plain listener, sent by Python since curl refuses such URLs; one line.
raw()
{
	printf "GET $1 HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n" >raw.req
	printf 'Connection: close\r\n\r\n' >>raw.req
	_status=$($PY - "$HTTP_PORT" <<'PYEOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(open("raw.req", "rb").read())
print(s.recv(64).split(b" ")[1].decode())
PYEOF
)
	is "$_status" 404 "a raw request line: 404"
	nreq=$((nreq + 1))
	nlines=$((nlines + 1))
}

# user NAME: simpleenroll with HTTP Basic NAME:x (built byte for byte, as
# curl -u would not carry a newline); "authentication failed" and the
# access line: two lines, the name on the first only (the 401 names no
# account).
user()
{
	_auth=$(printf '%s:x' "$1" | base64 -w0)
	_code=$(est_curl -o body -w '%{http_code}' \
	    -H "Authorization: Basic $_auth" \
	    -H 'Content-Type: application/pkcs10' --data-binary 'AAAA' \
	    "$HTTPS_URL/.well-known/est/simpleenroll")
	is "$_code" 401 "Basic user $(printf '%s' "$1" | head -c 3)...: 401"
	nreq=$((nreq + 1))
	nlines=$((nlines + 2))
}

# Each case carries tokens Na ... Nb: both must end up on the same line.
url '/u1a%0asmimecad:%20127.0.0.1%20GET%20/forged%20200%201.0ms%0au1b'
url '/u2a%0d%0asmimecad:%20127.0.0.1%20GET%20/forged-crlf%20200%0du2b'
url '/u3a%1b%5b2J%1b%5d0;owned%07u3b'
url '/u4a%ff%fe%c3%28%80%ed%a0%80u4b'
url '/u5a%c2%85%c2%9b%e2%80%a8%e2%80%aeu5b'
url '/u6a%09%7f%5cnu6b'
raw '/r1a\033[31m\377\376r1b'
raw '/r2a\302\205\342\200\256r2b'
# auth.c lower-cases user names: the tokens are in lower case.
user "$(printf 'b1a\nsmimecad 127.0.0.1 post /forged-user 200\nb1b')"
user "$(printf 'b2a\r\033[2j\033]0;x\007b2b')"
user "$(printf 'b3a\377\376\303(\200b3b')"
user "$(printf 'b4a\302\205\342\200\250\tb4b')"

tail -c +"$((start + 1))" "$SMIMECAD_LOG" >new.log
py_tap new.log "$nlines" <<'EOF2'
import re
data = open(sys.argv[1], "rb").read()
want = int(sys.argv[2])
lines = data.split(b"\n")
if lines and lines[-1] == b"":
    lines.pop()
check(len(lines) == want, "the requests logged exactly %d lines" % want,
      "got %d:\n%s" % (len(lines), data.decode("utf-8", "replace")))
bad = sorted({b for b in data if (b < 0x20 and b != 0x0a) or b == 0x7f})
check(not bad, "no raw control byte in the log", repr(bad))
try:
    text = data.decode("utf-8")
    check(True, "the log is valid UTF-8")
except UnicodeDecodeError as e:
    text = data.decode("utf-8", "replace")
    check(False, "the log is valid UTF-8", str(e))
unsafe = [c for c in text if 0x80 <= ord(c) <= 0x9f or
          ord(c) in (0x2028, 0x2029, 0x202e, 0x200e, 0x200f)]
check(not unsafe, "no C1 control, line separator or bidi override",
      repr(unsafe))
check(all(l.startswith(b"smimecad: ") for l in lines),
      "every line is smimecad's own")
forged = [l.decode("utf-8", "replace") for l in lines
          if re.match(rb"smimecad:? 127\.0\.0\.1 (get|post) /forged", l, re.I)]
check(not forged, "no forged access line of its own", "\n".join(forged))
for tok, n in (("u1", 1), ("u2", 1), ("u3", 1), ("u4", 1), ("u5", 1),
               ("u6", 1), ("r1", 1), ("r2", 1), ("b1", 1), ("b2", 1),
               ("b3", 1), ("b4", 1)):
    a, b = (tok + "a").encode(), (tok + "b").encode()
    both = [l for l in lines if a in l and b in l and l.index(a) < l.index(b)]
    only = [l for l in lines if (a in l) != (b in l)]
    check(len(both) == n and not only,
          "%s: %d line(s) hold all of it, none a part" % (tok, n),
          "\n".join(x.decode("utf-8", "replace") for x in both + only))
def has(needle, desc):
    check(needle in text, desc, needle)
has(r"/u1a\nsmimecad: 127.0.0.1 GET /forged 200 1.0ms\nu1b",
    "LF in a URL: \\n")
has(r"/u2a\r\nsmimecad: 127.0.0.1 GET /forged-crlf 200\ru2b",
    "CR LF in a URL: \\r\\n")
has(r"/u3a\x1b[2J\x1b]0;owned\x07u3b", "ESC and BEL in a URL: \\x1b \\x07")
has(r"/u4a\xff\xfe\xc3(\x80\xed\xa0\x80u4b",
    "bytes that are not UTF-8 (stray, cut, surrogate): \\xNN")
has(r"/u5a\xc2\x85\xc2\x9b\xe2\x80\xa8\xe2\x80\xaeu5b",
    "C1 controls, line separator, RLO: \\xNN byte by byte")
has(r"/u6a\t\x7f\\nu6b", "TAB, DEL; a backslash doubles")
has(r"/r1a\x1b[31m\xff\xfer1b", "raw ESC and binary in the request line")
has(r"/r2a\xc2\x85\xe2\x80\xaer2b", "raw NEL and RLO in the request line")
has(r"authentication failed for b1a\nsmimecad 127.0.0.1 post "
    r"/forged-user 200\nb1b", "LF in a Basic user name: \\n")
has(r"authentication failed for b2a\r\x1b[2j\x1b]0;x\x07b2b",
    "CR, ESC, BEL in a Basic user name")
has(r"authentication failed for b3a\xff\xfe\xc3(\x80b3b",
    "binary in a Basic user name: \\xNN")
has(r"authentication failed for b4a\xc2\x85\xe2\x80\xa8\tb4b",
    "NEL, line separator, TAB in a Basic user name")
EOF2

# The daemon still serves normally.
code=$(est_curl -o body -w '%{http_code}' "$HTTPS_URL/healthz")
is "$code:$(cat body)" "200:ok" "smimecad still answers /healthz"
diag "$nreq requests"

# The CLI: a display name with controls is refused at the door, and what
# `audit list` prints from the database (written there by anyone with the
# file) is escaped the same way, one line a row.
printf 'long enough pw\n' >pw
run_exit 1 -m "user add refuses a --cn with ESC and LF" \
    smimeca -d "$T/lab" user add eve@lab.example \
    --cn "$(printf 'Eve\033[31m\nforged')" --password-file pw
like "$err" "holds a control character" "the refusal says why"
$PY - "$T/lab/smimeca.db" <<'PYEOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("INSERT INTO audit(ts, actor, action, object, detail, prev_hash, "
          "hash) VALUES (0, 'a1a\nforged', 'x\x1b[2J', 'o\\', "
          "'d1a\r\x85\u202ed1b', '', '')")
c.commit()
PYEOF
run_ok -m "audit list" smimeca -d "$T/lab" audit list
last=$(printf '%s\n' "$out" | tail -n 1)
is "$last" \
    "$(printf '%s' "$out" | tail -n 1 | cut -d' ' -f1-2) a1a\\nforged \
x\\x1b[2J o\\\\ d1a\\r\\xc2\\x85\\xe2\\x80\\xaed1b" \
    "audit list escapes every field of a row"
unlike "$out" "$(printf '\033')" "no raw ESC in audit list"

done_testing
