# shellcheck shell=sh
# Starting and stopping a private smimecad on loopback; sourced by tests
# after lib.sh as . "$top_srcdir/tests/smimecad.sh" (lib.sh changes to $T).
#
#   smimecad_start DIR [ARGS]  starts smimecad -f on 127.0.0.1 with two free
#                              ports; sets SMIMECAD_PID, HTTPS_PORT,
#                              HTTP_PORT, HTTPS_URL, HTTP_URL, SMIMECAD_LOG;
#                              waits until /healthz answers; stops it at exit
#   smimecad_start_on DIR [ARGS]  the same on the HTTPS_PORT and HTTP_PORT
#                              already set (a restart on the same ports)
#   smimecad_stop              SIGTERM, waits for the exit; sets smimecad_rc
#   est_curl ARGS              curl against HTTPS_URL trusting DIR/chain.pem

smimecad_start()
{
	local _tap_dir

	_tap_dir=$1
	shift
	HTTPS_PORT=$(free_port)
	HTTP_PORT=$(free_port)
	while [ "$HTTP_PORT" = "$HTTPS_PORT" ]; do
		HTTP_PORT=$(free_port)
	done
	smimecad_start_on "$_tap_dir" "$@"
}

smimecad_start_on()
{
	local _tap_dir _tap_i

	_tap_dir=$1
	shift
	HTTPS_URL=https://127.0.0.1:$HTTPS_PORT
	HTTP_URL=http://127.0.0.1:$HTTP_PORT
	SMIMECAD_DIR=$_tap_dir
	SMIMECAD_LOG=$T/smimecad.$HTTPS_PORT.log
	smimecad -d "$_tap_dir" -f --https "127.0.0.1:$HTTPS_PORT" \
	    --http "127.0.0.1:$HTTP_PORT" "$@" >"$SMIMECAD_LOG" 2>&1 &
	SMIMECAD_PID=$!
	at_exit "smimecad_stop"
	_tap_i=0
	while [ $_tap_i -lt 100 ]; do
		if curl -fsS -o /dev/null "$HTTP_URL/healthz" 2>/dev/null ||
		    curl -fsS -o /dev/null --cacert "$_tap_dir/chain.pem" \
		    "$HTTPS_URL/healthz" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$SMIMECAD_PID" 2>/dev/null; then
			diag "smimecad exited at start:"
			sed 's/^/# /' "$SMIMECAD_LOG"
			SMIMECAD_PID=
			return 1
		fi
		sleep 0.1
		_tap_i=$((_tap_i + 1))
	done
	diag "smimecad did not answer /healthz within 10 s"
	return 1
}

smimecad_stop()
{
	smimecad_rc=
	[ -n "${SMIMECAD_PID:-}" ] || return 0
	kill -TERM "$SMIMECAD_PID" 2>/dev/null
	wait "$SMIMECAD_PID"
	smimecad_rc=$?
	SMIMECAD_PID=
}

est_curl()
{
	curl -sS --cacert "$SMIMECAD_DIR/chain.pem" "$@"
}
