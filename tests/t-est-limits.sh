#!/bin/sh
# smimecad's bounds: connections per client, idle timeout, header size,
# body size from the configuration; the server keeps serving past them.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/smimecad.sh"

run_ok smimeca -d "$T/lab" init --key rsa:2048 ||
    bail_out "smimeca init failed"
# The limits go into <daemon>, the last section of smimeca.conf.
sed -i 's|</smimeca-config>|  <daemon threads="2">\
    <limits body-bytes="2048" header-bytes="4096" timeout-seconds="2"\
        connections-per-client="3"/>\
  </daemon>\
</smimeca-config>|' lab/smimeca.conf
smimecad_start "$T/lab" || bail_out "smimecad did not start"

$PY - "$HTTP_PORT" >limits.out 2>&1 <<'PYEOF'
import socket, sys, time
port = int(sys.argv[1])

def conn():
    return socket.create_connection(("127.0.0.1", port), timeout=5)

def served(s):
    """True when a GET /healthz on s is answered."""
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        return s.recv(4096).startswith(b"HTTP/1.1 200")
    except OSError:
        return False

held = [conn() for _ in range(3)]
time.sleep(0.3)
extra = conn()
print("fourth connection served:", served(extra))
for s in held:
    s.close()
extra.close()
time.sleep(0.3)
print("after closing, a new one served:", served(conn()))

idle = conn()
time.sleep(3.5)
try:
    idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    data = idle.recv(4096)
except OSError:
    data = b""
print("idle connection closed:", data == b"")

big = conn()
big.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 20000 +
            b"\r\n\r\n")
try:
    status = big.recv(4096).split(b"\r\n")[0].decode()
except OSError:
    status = "closed"
print("oversized header:", status)
PYEOF
cat limits.out | sed 's/^/# /'
like "$(cat limits.out)" "fourth connection served: False" \
    "a fourth connection from the same address is refused (limit 3)"
like "$(cat limits.out)" "after closing, a new one served: True" \
    "once they close, the client is served again"
like "$(cat limits.out)" "idle connection closed: True" \
    "an idle connection is closed after timeout-seconds"
# libmicrohttpd 0.9.75 answers 431 itself; "closed": the reset of a close
# with unread data can come before the answer is read.
like "$(cat limits.out)" "oversized header: (HTTP/1.1 431 |closed)" \
    "a header over header-bytes is refused with 431"

printf 'alice-secret-1\n' >alice.pw
run_ok smimeca -d lab user add alice@lab.example --password-file alice.pw
head -c 3000 /dev/zero | tr '\0' 'A' >big.b64
code=$(est_curl -o body -w '%{http_code}' -u alice@lab.example:alice-secret-1 \
    -H 'Content-Type: application/pkcs10' --data-binary @big.b64 \
    "$HTTPS_URL/.well-known/est/simpleenroll")
is "$code" 413 "a body over body-bytes=2048 gets 413"
like "$(cat body)" "limit is 2048" "the reason names the configured limit"
code=$(est_curl -o /dev/null -w '%{http_code}' "$HTTPS_URL/healthz")
is "$code" 200 "the server keeps serving"
smimecad_stop
is "$smimecad_rc" 0 "smimecad stops cleanly"
unlike "$(cat "$SMIMECAD_LOG")" "AddressSanitizer|runtime error" \
    "no sanitizer report in the server log"
done_testing
