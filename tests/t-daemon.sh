#!/bin/sh
# One smimecad per address: a second daemon on a served address fails at
# start, naming the address (foreground and background), while the first
# keeps answering alone; a restart on the same ports right after a stop,
# with connections still in TIME_WAIT, binds at once.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/smimecad.sh"

# listeners PORT: the number of TCP sockets listening on PORT (IPv4 and
# IPv6), as the kernel lists them.
listeners()
{
	awk -v p=":$(printf '%04X' "$1")\$" '$4 == "0A" && $2 ~ p' \
	    /proc/net/tcp /proc/net/tcp6 2>/dev/null | wc -l | tr -d ' '
}

# time_waits PORT: connections to PORT in TIME_WAIT on the server side.
time_waits()
{
	awk -v p=":$(printf '%04X' "$1")\$" '$4 == "06" && $2 ~ p' \
	    /proc/net/tcp 2>/dev/null | wc -l | tr -d ' '
}

# listen_pids PORT: the PIDs that ss shows listening on PORT, one a line.
listen_pids()
{
	ss -Hltnp "sport = :$1" 2>/dev/null |
	    sed -n 's/.*pid=\([0-9]*\).*/\1/p' | sort -u
}

# Ends a second daemon that should not be there (the old SO_REUSEPORT
# behaviour), by its PID: whatever listens on PORT besides SMIMECAD_PID.
end_strays()
{
	for _p in $(listen_pids "$1"); do
		if [ "$_p" != "$SMIMECAD_PID" ]; then
			diag "ending stray smimecad $_p on port $1"
			kill -TERM "$_p" 2>/dev/null
		fi
	done
}

# hold_open PORT [CAFILE]: a client connection (TLS with CAFILE) that stays
# open after one request until the server closes it (at most 20 s), so that
# the server's side ends in TIME_WAIT. $T/held.PORT appears once the
# answer has come (hold_wait waits for it).
hold_open()
{
	$PY - "$@" "$T/held.$1" <<'PYEOF' &
import socket, ssl, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(20)
try:
    if len(sys.argv) > 3:
        s = ssl.create_default_context(cafile=sys.argv[2]).wrap_socket(
            s, server_hostname="127.0.0.1")
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    first = True
    while s.recv(4096):
        if first:
            open(sys.argv[-1], "w").close()
            first = False
except OSError:
    pass
s.close()
PYEOF
	HOLD_PIDS="$HOLD_PIDS $!"
}

# hold_wait PORT...: until each hold_open connection has its answer (10 s).
hold_wait()
{
	local _w _p

	for _p in "$@"; do
		_w=0
		while [ ! -e "$T/held.$_p" ] && [ $_w -lt 100 ]; do
			sleep 0.1
			_w=$((_w + 1))
		done
	done
}

HOLD_PIDS=
have_ss=0
ss -Hltn >/dev/null 2>&1 && have_ss=1

run_ok smimeca -d "$T/lab" init --lab --no-ldap --key ec:p256 ||
    bail_out "smimeca init --lab failed"
smimecad_start "$T/lab" || bail_out "smimecad did not start"
FIRST=$SMIMECAD_PID
is "$(listeners "$HTTPS_PORT")" 1 "one socket listens on the HTTPS port"
is "$(listeners "$HTTP_PORT")" 1 "one socket listens on the HTTP port"

# --- a second daemon on the HTTPS address, in the foreground ---------------
OTHER=$(free_port)
while [ "$OTHER" = "$HTTPS_PORT" ] || [ "$OTHER" = "$HTTP_PORT" ]; do
	OTHER=$(free_port)
done
# timeout: the old code bound the port (SO_REUSEPORT) and served on.
run_exit 1 -m "a second smimecad -f on the HTTPS address exits 1" \
    timeout 10 smimecad -d "$T/lab" -f --https "127.0.0.1:$HTTPS_PORT" \
    --http none
like "$err" "127\\.0\\.0\\.1:$HTTPS_PORT is already in use" \
    "the message names the address and port in use"
like "$err" "stop the other server" "the message says to stop the other"
like "$err" "smimeca\\.conf <daemon> or with smimecad --https" \
    "the message says where to choose another port"
is "$(printf '%s\n' "$err" | grep -c .)" 1 "the message is one line"

# --- the same on the plain HTTP address -----------------------------------
run_exit 1 -m "a second smimecad -f on the HTTP address exits 1" \
    timeout 10 smimecad -d "$T/lab" -f --https "127.0.0.1:$OTHER" \
    --http "127.0.0.1:$HTTP_PORT"
like "$err" "HTTP: 127\\.0\\.0\\.1:$HTTP_PORT is already in use" \
    "the message names the HTTP address and port in use"
like "$err" "smimecad --http\\)" "the message names --http"
is "$(listeners "$OTHER")" 0 \
    "the refused daemon left nothing listening on its HTTPS port"

# --- --https and --http on one address ------------------------------------
run_exit 1 -m "--https and --http on one address: exit 1" \
    timeout 10 smimecad -d "$T/lab" -f --https "127.0.0.1:$OTHER" \
    --http "127.0.0.1:$OTHER"
like "$err" "HTTPS and HTTP both name 127\\.0\\.0\\.1:$OTHER" \
    "the message says both name the same address"

# --- a second daemon in the background: the parent fails ------------------
if [ "$have_ss" = 1 ]; then
	run_exit 1 -m "a second smimecad in daemon mode exits 1, not detached" \
	    timeout 10 smimecad -d "$T/lab" --https "127.0.0.1:$HTTPS_PORT" \
	    --http none
	like "$err" "127\\.0\\.0\\.1:$HTTPS_PORT is already in use" \
	    "daemon mode: the message is on stderr"
	sleep 0.2
	is "$(listen_pids "$HTTPS_PORT")" "$FIRST" \
	    "ss -ltnp: only the first smimecad listens on the HTTPS port"
	end_strays "$HTTPS_PORT"
else
	skip "daemon mode" "ss (iproute2) is not installed"
fi
is "$(listeners "$HTTPS_PORT")" 1 \
    "still one socket listens on the HTTPS port (/proc/net/tcp)"

# --- the first still answers, every time ----------------------------------
n=0
good=0
while [ $n -lt 20 ]; do
	n=$((n + 1))
	est_curl -o cacerts.b64 \
	    "$HTTPS_URL/.well-known/est/cacerts" || continue
	if base64 -d cacerts.b64 2>/dev/null |
	    openssl pkcs7 -inform DER -print_certs -noout 2>/dev/null |
	    grep -q 'subject='; then
		good=$((good + 1))
	fi
done
is "$good" 20 "the first smimecad answers 20 of 20 cacerts requests (curl)"
check "the first smimecad is still running" kill -0 "$FIRST"

# --- stop, and start again on the same ports at once ----------------------
# Open connections that the server closes at its stop: without SO_REUSEADDR
# their TIME_WAIT would keep the next bind out for a minute.
hold_open "$HTTPS_PORT" "$T/lab/chain.pem"
hold_open "$HTTP_PORT"
hold_wait "$HTTPS_PORT" "$HTTP_PORT"
smimecad_stop
is "$smimecad_rc" 0 "the first smimecad exits 0 on SIGTERM"
for _p in $HOLD_PIDS; do
	wait "$_p"
done
if [ "$(time_waits "$HTTPS_PORT")" -gt 0 ] &&
    [ "$(time_waits "$HTTP_PORT")" -gt 0 ]; then
	ok "connections on both ports are in TIME_WAIT on the server side"
else
	not_ok "connections on both ports are in TIME_WAIT on the server side" \
	    "none: the restart below would not test SO_REUSEADDR"
fi
if smimecad_start_on "$T/lab"; then
	ok "smimecad starts again on the same ports at once"
else
	not_ok "smimecad starts again on the same ports at once"
fi
code=$(est_curl -o body -w '%{http_code}' "$HTTPS_URL/healthz")
is "$code:$(cat body)" "200:ok" "the restarted smimecad answers over HTTPS"
code=$(curl -sS -o body -w '%{http_code}' "$HTTP_URL/healthz")
is "$code:$(cat body)" "200:ok" "the restarted smimecad answers over HTTP"
is "$(listeners "$HTTPS_PORT")" 1 "after the restart: one HTTPS listener"
is "$(listeners "$HTTP_PORT")" 1 "after the restart: one HTTP listener"
if [ "$have_ss" = 1 ]; then
	is "$(listen_pids "$HTTPS_PORT")" "$SMIMECAD_PID" \
	    "ss -ltnp: the listener is the restarted smimecad"
fi
smimecad_stop
is "$smimecad_rc" 0 "the restarted smimecad exits 0 on SIGTERM"
is "$(listeners "$HTTPS_PORT")" 0 "nothing listens after the stop"

done_testing
