#!/bin/sh
# smimeca-enroll against answers smimecad never gives: a small EST server
# in Python (http.server over TLS on 127.0.0.1, a CA made here with
# openssl) answers each --template its own way. Error bodies are shown,
# a wrong Content-Type is refused, chunked and multipart answers work,
# redirects are followed within the origin only, the requests of one run
# share a connection, answers are bounded, proxies from the environment
# are ignored, and Basic and TLS client-certificate authentication reach
# the server.

. "$(dirname "$0")/lib.sh"

command -v smimeca-enroll >/dev/null 2>&1 ||
    bail_out "smimeca-enroll not found in $top_builddir/tools (build first)"
[ -x "$PY" ] || skip_all "$PY not found (the test server is Python)"

# --- a CA, the server's TLS certificate, an exchange certificate ---------
cat >t.cnf <<'EOF'
[req]
distinguished_name = dn
[dn]
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf_srv]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
[leaf_xchg]
basicConstraints = CA:FALSE
keyUsage = critical, keyEncipherment
extendedKeyUsage = 1.3.6.1.4.1.311.21.5
[leaf_user]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = emailProtection, clientAuth
EOF
# leaf NAME SUBJECT SECTION SERIAL: NAME.key and NAME.crt under ca.crt.
leaf()
{
	openssl req -new -config t.cnf -newkey rsa:2048 -nodes \
	    -keyout "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null &&
	    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key \
	    -set_serial "$4" -days 2 -extfile t.cnf -extensions "$3" \
	    -out "$1.crt" 2>/dev/null
}
openssl req -x509 -config t.cnf -extensions v3_ca -newkey rsa:2048 \
    -nodes -keyout ca.key -subj "/CN=answers test CA" -days 2 \
    -out ca.crt 2>/dev/null || bail_out "openssl req -x509 (the CA) failed"
leaf srv /CN=127.0.0.1 leaf_srv 2 &&
    leaf xchg "/CN=answers exchange" leaf_xchg 3 &&
    leaf alice /CN=Alice/emailAddress=alice@lab.example leaf_user 4 ||
    bail_out "openssl x509 -req (the leaf certificates) failed"
printf 's3cret\n' >alice.pw
printf 'wrong\n' >wrong.pw

# --- the server ------------------------------------------------------------
cat >server.py <<'PYEOF'
import base64, http.server, os, socketserver, ssl, subprocess, sys
import tempfile, threading

d = sys.argv[1]
LIFETIME = 240          # seconds; then the server ends itself
AUTH = "Basic " + base64.b64encode(b"alice@lab.example:s3cret").decode()
log = open(os.path.join(d, "requests.log"), "a", buffering=1)
lock = threading.Lock()
serial = [100]


def openssl(*args):
    return subprocess.run(("openssl",) + args, capture_output=True,
                          check=True).stdout


def issue(csr_pem, tmp):
    """A certs-only PKCS#7 (DER) of a certificate for the request."""
    with lock:
        serial[0] += 1
        n = serial[0]
    open(os.path.join(tmp, "r.csr"), "wb").write(csr_pem)
    openssl("x509", "-req", "-in", os.path.join(tmp, "r.csr"),
            "-CA", os.path.join(d, "ca.crt"),
            "-CAkey", os.path.join(d, "ca.key"), "-set_serial", str(n),
            "-days", "1", "-extfile", os.path.join(d, "t.cnf"),
            "-extensions", "leaf_user", "-out", os.path.join(tmp, "r.crt"))
    return openssl("crl2pkcs7", "-nocrl", "-certfile",
                   os.path.join(tmp, "r.crt"), "-outform", "DER")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"       # keep-alive, Content-Length

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, ctype, body, chunked=False, headers=()):
        self.send_response(status)
        if ctype is not None:
            self.send_header("Content-Type", ctype)
        for k, v in headers:
            self.send_header(k, v)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 700):
                c = body[i:i + 700]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def do_GET(self):
        self.route(b"")

    def do_POST(self):
        self.route(self.rfile.read(int(self.headers.get("Content-Length",
                                                        "0"))))

    def route(self, body):
        peer = self.connection.getpeercert()
        who = "-"
        if peer:
            who = dict(x[0] for x in peer["subject"]).get("commonName", "?")
        auth = "auth" if self.headers.get("Authorization") == AUTH else \
            "noauth"
        ctype = self.headers.get("Content-Type", "-").replace(" ", "")
        log.write("%d %s %s %s %s %s\n" % (self.client_address[1],
                  self.command, self.path, auth, who, ctype))
        if self.path == "/ca/exchange?format=pem":
            return self.answer(200, "application/x-pem-file",
                               open(os.path.join(d, "xchg.crt"),
                                    "rb").read())
        parts = self.path.split("/")
        if len(parts) != 5 or parts[:3] != ["", ".well-known", "est"]:
            return self.answer(404, "text/plain", b"no such path\n")
        label, op = parts[3], parts[4]
        if op == "simplereenroll" and who == "-":
            return self.answer(401, "text/plain",
                               b"no TLS client certificate\n")
        if op != "simplereenroll" and auth != "auth":
            return self.answer(401, "text/plain; charset=utf-8",
                               b"wrong account or password\n")
        here = "https://127.0.0.1:%d" % self.server.server_address[1]
        with tempfile.TemporaryDirectory(dir=d) as tmp:
            csr = b""
            if op != "fullcmc":
                csr = (b"-----BEGIN CERTIFICATE REQUEST-----\n" +
                       base64.encodebytes(base64.b64decode(body)) +
                       b"-----END CERTIFICATE REQUEST-----\n")
            return self.case(label, op, csr, here, tmp)

    def case(self, label, op, csr, here, tmp):
        p7 = "application/pkcs7-mime; smime-type=certs-only"
        if label == "plain":
            return self.answer(200, p7, base64.encodebytes(issue(csr, tmp)))
        if label == "chunked":
            return self.answer(200, p7, base64.encodebytes(issue(csr, tmp)),
                               chunked=True)
        if label == "err403":
            return self.answer(403, "text/plain; charset=utf-8",
                               b"template err403: refused for this test\n"
                               b"a second line\n")
        if label == "err400chunked":
            return self.answer(400, "text/plain",
                               b"the request's subject is not yours\n",
                               chunked=True)
        if label == "ctype":
            return self.answer(200, "text/html; charset=utf-8",
                               base64.encodebytes(issue(csr, tmp)))
        if label == "noctype":
            return self.answer(200, None, base64.encodebytes(issue(csr, tmp)))
        if label == "noreason":
            return self.answer(500, "application/json", b'{"error": 1}')
        if label == "pending":
            return self.answer(202, "text/plain",
                               b"waiting for an officer\n",
                               headers=[("Retry-After", "60")])
        if label == "redirect":
            return self.answer(307, "text/plain", b"moved\n", headers=[
                ("Location", "/.well-known/est/chunked/" + op)])
        if label == "redirect302":
            return self.answer(302, "text/plain", b"moved\n", headers=[
                ("Location", here + "/.well-known/est/plain/" + op)])
        if label == "offsite":
            return self.answer(307, "text/plain", b"moved\n", headers=[
                ("Location", "https://127.0.0.1:%d/.well-known/est/plain/%s"
                 % (srv2.server_address[1], op))])
        if label == "loop":
            return self.answer(308, None, b"", headers=[
                ("Location", self.path)])
        if label == "big":
            return self.answer(200, p7, b"A" * (2 << 20), chunked=True)
        if label == "bigcl":
            return self.answer(200, p7, b"A" * (2 << 20))
        if label == "truncated":
            self.send_response(200)
            self.send_header("Content-Type", p7)
            self.send_header("Content-Length", "5000")
            self.end_headers()
            self.wfile.write(b"MIIB")
            self.close_connection = True
            return
        if label == "keygen" and op == "serverkeygen":
            key = os.path.join(tmp, "k.pem")
            openssl("genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", key)
            kcsr = openssl("req", "-new", "-key", key, "-subj",
                           "/CN=keygen")
            p8 = openssl("pkcs8", "-topk8", "-nocrypt", "-in", key,
                         "-outform", "DER")
            b = b"answers-boundary-42"
            body = (b"--" + b + b"\r\nContent-Type: application/pkcs8\r\n"
                    b"Content-Transfer-Encoding: base64\r\n\r\n" +
                    base64.encodebytes(p8) + b"\r\n--" + b +
                    b"\r\nContent-Type: " + p7.encode() + b"\r\n"
                    b"Content-Transfer-Encoding: base64\r\n\r\n" +
                    base64.encodebytes(issue(kcsr, tmp)) + b"\r\n--" + b +
                    b"--\r\n")
            return self.answer(200, "multipart/mixed; boundary=" +
                               b.decode(), body, chunked=True)
        if label == "keepalive" and op == "fullcmc":
            return self.answer(403, "text/plain", b"fullcmc reached\n")
        return self.answer(404, "text/plain", b"no such case\n")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(os.path.join(d, "srv.crt"), os.path.join(d, "srv.key"))
ctx.load_verify_locations(os.path.join(d, "ca.crt"))
ctx.verify_mode = ssl.CERT_OPTIONAL
srv = Server(("127.0.0.1", 0), Handler)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
# Another origin: the same host and certificate on another port.
srv2 = Server(("127.0.0.1", 0), Handler)
srv2.socket = ctx.wrap_socket(srv2.socket, server_side=True)
threading.Thread(target=srv2.serve_forever, daemon=True).start()
t = threading.Timer(LIFETIME, os._exit, (0,))
t.daemon = True
t.start()
open(os.path.join(d, "port.tmp"), "w").write("%d %d\n" % (
    srv.server_address[1], srv2.server_address[1]))
os.rename(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
srv.serve_forever()
PYEOF
"$PY" server.py "$T" >server.log 2>&1 &
srv_pid=$!
at_exit "kill $srv_pid 2>/dev/null; wait $srv_pid 2>/dev/null"
i=0
while [ $i -lt 100 ] && [ ! -s port ]; do
	sleep 0.1
	i=$((i + 1))
done
[ -s port ] || bail_out "the Python EST server did not start: $(cat server.log)"
read -r PORT PORT2 <port
URL=https://127.0.0.1:$PORT

# enroll TEMPLATE DIR [ARGS]: smimeca-enroll as alice against the server.
enroll()
{
	_tpl=$1 _dir=$2
	shift 2
	smimeca-enroll --url "$URL" --cacert ca.crt --user alice@lab.example \
	    --password-file alice.pw --template "$_tpl" --out-dir "$_dir" "$@"
}

# issued DIR DESC: DIR holds a certificate from ca.crt for DIR/key.pem.
issued()
{
	check "$2: openssl verify -CAfile ca.crt" openssl verify \
	    -CAfile ca.crt "$1/cert.pem"
	like "$out" "^$1/cert.pem: OK$" "$2: the certificate verifies"
	_cp=$(openssl x509 -in "$1/cert.pem" -noout -pubkey 2>/dev/null)
	_kp=$(openssl pkey -in "$1/key.pem" -pubout 2>/dev/null)
	if [ -n "$_cp" ] && [ "$_cp" = "$_kp" ]; then
		ok "$2: key.pem is the certificate's key"
	else
		not_ok "$2: key.pem is the certificate's key"
	fi
}

# nothing DIR DESC: no key or certificate was written.
nothing()
{
	if [ -e "$1/key.pem" ] || [ -e "$1/cert.pem" ]; then
		not_ok "$2: nothing written"
	else
		ok "$2: nothing written"
	fi
}

# requests: the lines the server logged since the last call in $log, and
# how many in $nreq.
nlog=0
requests()
{
	_all=$(wc -l <requests.log)
	nreq=$((_all - nlog))
	log=$(sed -n "$((nlog + 1)),${_all}p" requests.log)
	nlog=$_all
}

# --- answers that work ------------------------------------------------------
run_ok -m "a Content-Length answer: simpleenroll" enroll plain plain
like "$out" '^issued [0-9A-F]+ to ' "Content-Length: says what was issued"
issued plain "Content-Length"
requests
like "$log" "^[0-9]+ POST /\\.well-known/est/plain/simpleenroll \
auth - application/pkcs10\$" \
    "Content-Length: one POST, Basic credentials, application/pkcs10"

run_ok -m "a chunked answer: simpleenroll" enroll chunked chunked
issued chunked "chunked"
requests

run_ok -m "serverkeygen: a chunked multipart answer" enroll keygen keygen \
    --serverkeygen
issued keygen "serverkeygen"
is "$(openssl x509 -in keygen/cert.pem -noout -subject 2>/dev/null)" \
    "subject=CN = keygen" "serverkeygen: the certificate the server made"
requests

run_ok -m "--renew: the client certificate reaches the server" \
    smimeca-enroll --url "$URL" --cacert ca.crt --renew --cert alice.crt \
    --key alice.key --template plain --out-dir renew
issued renew "--renew"
requests
like "$log" "^[0-9]+ POST /\\.well-known/est/plain/simplereenroll \
noauth Alice " "--renew: the server saw Alice's TLS certificate, no password"

# No proxy, even when the environment names one that does not exist.
dead=$(free_port)
run_ok -m "proxy variables in the environment are ignored" env \
    https_proxy="http://127.0.0.1:$dead" HTTPS_PROXY="http://127.0.0.1:$dead" \
    all_proxy="http://127.0.0.1:$dead" ALL_PROXY="http://127.0.0.1:$dead" \
    http_proxy="http://127.0.0.1:$dead" no_proxy= NO_PROXY= \
    smimeca-enroll --url "$URL" --cacert ca.crt --user alice@lab.example \
    --password-file alice.pw --template plain --out-dir proxy
issued proxy "through no proxy"
requests

# --- the server's reasons ---------------------------------------------------
run_exit 1 -m "403 with a text body: exit 1" enroll err403 e403
is "$err" "smimeca-enroll: server said 403: template err403: refused for \
this test" "403: the first line of the body is shown, alone"
nothing e403 "403"

run_exit 1 -m "400 with a chunked text body: exit 1" enroll err400chunked e400
is "$err" "smimeca-enroll: server said 400: the request's subject is not \
yours" "400 chunked: the body is shown"

run_exit 1 -m "wrong password: exit 1" smimeca-enroll --url "$URL" \
    --cacert ca.crt --user alice@lab.example --password-file wrong.pw \
    --template plain --out-dir badpw
is "$err" "smimeca-enroll: server said 401: wrong account or password" \
    "401: the server's reason"
nothing badpw "401"

run_exit 1 -m "500 with a JSON body: exit 1" enroll noreason e500
is "$err" "smimeca-enroll: server said 500 (no reason given, Content-Type \
\"application/json\") to simpleenroll" \
    "500: a body that is not text is no reason"

run_exit 1 -m "202 with Retry-After: exit 1" enroll pending e202
is "$err" "smimeca-enroll: server said 202: simpleenroll is pending, \
nothing issued yet (retry after 60 s): waiting for an officer" \
    "202: pending, the delay and the reason"

# --- Content-Type ------------------------------------------------------------
run_exit 1 -m "a certificate sent as text/html: exit 1" enroll ctype ectype
is "$err" "smimeca-enroll: simpleenroll: the server answered \"text/html; \
charset=utf-8\", not application/pkcs7-mime" \
    "text/html: refused, the Content-Type named"
nothing ectype "text/html"

run_exit 1 -m "a certificate without Content-Type: exit 1" enroll noctype enoct
is "$err" "smimeca-enroll: simpleenroll: the server's answer has no \
Content-Type (wanted application/pkcs7-mime)" "no Content-Type: refused"
requests

# --- redirects ---------------------------------------------------------------
run_ok -m "307 to a path of the same origin: followed" enroll redirect red
issued red "307"
requests
like "$log" "POST /\\.well-known/est/redirect/simpleenroll auth" \
    "307: first the path asked for"
like "$log" "POST /\\.well-known/est/chunked/simpleenroll auth - \
application/pkcs10" \
    "307: then the same POST, credentials and all, to the new path"
is "$nreq $(printf '%s\n' "$log" | cut -d' ' -f1 | sort -u | wc -l)" "2 1" \
    "307: two requests, over one connection (keep-alive)"

run_ok -m "302 to an absolute URL of the same origin: followed" \
    enroll redirect302 red302
issued red302 "302"
requests
like "$log" "POST /\\.well-known/est/plain/simpleenroll auth" \
    "302: the POST went on to the new URL"

# The other port has the same certificate and would answer: only the
# origin check keeps the request (and the password) from going there.
run_exit 1 -m "307 to another origin (another port): exit 1" enroll offsite off
is "$err" "smimeca-enroll: 127.0.0.1:$PORT answered 307, a redirect to \
https://127.0.0.1:$PORT2/.well-known/est/plain/simpleenroll: another origin, \
not followed (give that server as --url if you trust it)" \
    "another origin: refused, the Location named"
requests
is "$nreq" 1 "another origin: nothing sent there"
nothing off "another origin"

run_exit 1 -m "a redirect loop: exit 1" enroll loop loop
like "$err" "127\\.0\\.0\\.1:$PORT redirected more than 5 times" \
    "a redirect loop: stopped after 5"
requests
is "$nreq" 6 "a redirect loop: 6 requests, then no more"

# --- answers that are not whole ----------------------------------------------
run_exit 1 -m "a 2 MiB chunked answer: exit 1" enroll big big
is "$err" "smimeca-enroll: the answer of 127.0.0.1:$PORT is larger than \
1048576 bytes" "2 MiB chunked: refused at the bound"
run_exit 1 -m "a 2 MiB Content-Length answer: exit 1" enroll bigcl bigcl
is "$err" "smimeca-enroll: the answer of 127.0.0.1:$PORT is larger than \
1048576 bytes" "2 MiB Content-Length: refused at the bound"
run_exit 1 -m "an answer cut short: exit 1" enroll truncated trunc
like "$err" "^smimeca-enroll: the answer of 127\\.0\\.0\\.1:$PORT ended early" \
    "cut short: says so"
requests

# --- one connection for the requests of a run (keep-alive) -------------------
run_exit 1 -m "--archive: /ca/exchange, then fullcmc (refused)" \
    enroll keepalive ka --archive
is "$err" "smimeca-enroll: server said 403: fullcmc reached" \
    "--archive: the exchange certificate passed, fullcmc was reached"
requests
like "$log" "GET /ca/exchange\\?format=pem auth" "--archive: GET /ca/exchange"
like "$log" "POST /\\.well-known/est/keepalive/fullcmc auth - \
application/pkcs7-mime;smime-type=CMC-request" \
    "--archive: POST fullcmc, a CMC request"
is "$nreq $(printf '%s\n' "$log" | cut -d' ' -f1 | sort -u | wc -l)" "2 1" \
    "--archive: two requests, over one connection"

# --- trust: --cacert, whole chains, nothing else ---------------------------
openssl req -x509 -config t.cnf -extensions v3_ca -newkey rsa:2048 \
    -nodes -keyout other.key -subj "/CN=another CA" -days 2 \
    -out other.crt 2>/dev/null || bail_out "openssl req -x509 failed"
run_exit 1 -m "a --cacert of another CA: exit 1" smimeca-enroll \
    --url "$URL" --cacert other.crt --user alice@lab.example \
    --password-file alice.pw --template plain --out-dir t1
like "$err" "TLS handshake with 127\\.0\\.0\\.1:$PORT failed: the server.s \
certificate does not verify against --cacert other\\.crt: " \
    "another CA: the TLS verification fails"
# The server's own certificate is no CA: trusting it would take a partial
# chain (the server sends its CA too, which is not in --cacert).
run_exit 1 -m "a --cacert of the server's certificate alone: exit 1" \
    smimeca-enroll --url "$URL" --cacert srv.crt --user alice@lab.example \
    --password-file alice.pw --template plain --out-dir t2
like "$err" "TLS handshake with 127\\.0\\.0\\.1:$PORT failed: the server.s \
certificate does not verify against --cacert srv\\.crt: " \
    "the server's certificate alone: no partial chains"
requests
is "$nreq" 0 "trust failures: nothing sent"

# --- the URL ------------------------------------------------------------------
run_exit 2 -m "--url with a path: exit 2" smimeca-enroll --url "$URL/est" \
    --cacert ca.crt --user alice@lab.example --password-file alice.pw \
    --out-dir u1
like "$err" "give the server's origin only" "--url with a path: says why"
run_exit 2 -m "--url with credentials: exit 2" smimeca-enroll \
    --url "https://alice@127.0.0.1:$PORT" --cacert ca.crt \
    --user alice@lab.example --password-file alice.pw --out-dir u2
requests
is "$nreq" 0 "usage errors: nothing sent"

kill "$srv_pid" 2>/dev/null
wait "$srv_pid" 2>/dev/null
done_testing
