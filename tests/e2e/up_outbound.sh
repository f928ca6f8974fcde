#!/usr/bin/env bash
# kiln up serves wasi:http/outgoing-handler: a component (tests/components/c-outbound) calls a
# local upstream (a Python HTTP/1.1 server started here). Checked: a granted host answers
# (status, headers, body; a POST body arrives with its length), keep-alive connections are
# reused, a host not granted (another name for the same server, an IP spelled another way,
# userinfo) gets HTTP-request-denied / URI-invalid and a log line and never a connection,
# ten requests polled together finish concurrently (10 x 1 s in well under 10 s), the server
# answers other requests meanwhile, the first-byte and between-bytes timeouts fire, a 1 MiB body (with a
# Content-Length, and chunked) streams through intact, HTTPS verifies the certificate chain
# and the host name (a test CA through SSL_CERT_FILE), and kiln up no longer warns that
# allowed_outbound_hosts is not served.
source "$(dirname "$0")/../lib.sh"

CORPUS="$KILN_BUILD/components"
if ! out=$("$ROOT/tests/components/build.sh" "$CORPUS" c-http c-outbound 2>&1); then
    fail "tests/components/build.sh builds c-http and c-outbound" "$out"
    finish
    exit
fi
pass "tests/components/build.sh builds c-http and c-outbound"

# The upstream: HTTP/1.1 with keep-alive; counts the connections it accepted.
cat >"$TMP/upstream.py" <<'PY'
import http.server, socketserver, sys, time, threading
BIG = bytes((i * 7 + 3) % 251 for i in range(1 << 20))
conns = 0
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def setup(self):
        global conns
        with lock:
            conns += 1
        super().setup()
    def log_message(self, *a):
        pass
    def send(self, status, body, extra=()):
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.send_header("x-upstream", "yes")
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        p = self.path.split("?")[0]
        if p == "/hello":
            self.send(200, b"hello upstream")
        elif p == "/sleep":
            time.sleep(1)
            self.send(200, b"slept")
        elif p == "/slow":
            time.sleep(3)
            self.send(200, b"late")
        elif p == "/big":
            self.send(200, BIG)
        elif p == "/chunked":
            self.send_response(200)
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for i in range(0, len(BIG), 100000):
                part = BIG[i:i + 100000]
                self.wfile.write(b"%x;ext=1\r\n" % len(part) + part + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\nx-trailer: t\r\n\r\n")
        elif p in ("/trailers", "/manytrailers", "/megatrailer"):  # chunked, with trailers
            self.send_response(200)
            self.send_header("transfer-encoding", "chunked")
            self.send_header("x-upstream", "yes")
            self.end_headers()
            self.wfile.write(b"2\r\nhi\r\n0\r\n")
            if p == "/manytrailers":  # 10,000 fields
                self.wfile.write(b"".join(b"x-t%05d: v\r\n" % i for i in range(10000)))
            if p == "/megatrailer":  # one field of 1 MiB
                self.wfile.write(b"x-big: " + b"a" * (1 << 20) + b"\r\n")
            self.wfile.write(b"X-Sum: 42\r\ncontent-length: 5\r\nx-done: yes\r\n\r\n")
        elif p == "/stall":
            self.send_response(200)
            self.send_header("content-length", "100")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            time.sleep(3)
            self.wfile.write(b"x" * 90)
        elif p == "/count":
            with lock:
                n = conns
            self.send(200, str(n).encode())
        elif p == "/redirect":
            self.send(302, b"moved", [("location", "http://localhost:%d/hello" % self.server.server_port)])
        elif p == "/teapot":
            self.send(418, b"short and stout", [("x-extra", "1")])
        else:
            self.send(404, b"no")
    def do_POST(self):
        n = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(n)
        self.send(201, b"got " + body + b" cl=" + str(n).encode())
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 128
srv = S(("127.0.0.1", int(sys.argv[1])), H)
if len(sys.argv) > 3:  # TLS: certificate chain and key
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PY
UP_PORT=$(free_port)
python3 "$TMP/upstream.py" "$UP_PORT" 2>"$TMP/upstream.log" &
UP_PID=$!
on_exit "kill $UP_PID 2>/dev/null"
UP="http://127.0.0.1:$UP_PORT"
for _ in $(seq 100); do curl -fs "$UP/hello" >/dev/null && break; sleep 0.1; done

# TLS upstreams: one with a certificate for localhost from a test CA (trusted through
# SSL_CERT_FILE, which OpenSSL's default verify paths honour), one self-signed.
(
    cd "$TMP" &&
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=kiln-test-ca &&
        openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=localhost &&
        printf 'subjectAltName=DNS:localhost\n' >srv.ext &&
        openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile srv.ext &&
        openssl req -x509 -newkey rsa:2048 -nodes -keyout self.key -out self.pem -days 2 -subj /CN=localhost \
            -addext subjectAltName=DNS:localhost
) >"$TMP/openssl.log" 2>&1 || fail "openssl makes the test certificates" "$(cat "$TMP/openssl.log")"
TLS_PORT=$(free_port)
SELF_PORT=$(free_port)
python3 "$TMP/upstream.py" "$TLS_PORT" "$TMP/srv.pem" "$TMP/srv.key" 2>"$TMP/tls.log" &
on_exit "kill $! 2>/dev/null"
python3 "$TMP/upstream.py" "$SELF_PORT" "$TMP/self.pem" "$TMP/self.key" 2>"$TMP/self.log" &
on_exit "kill $! 2>/dev/null"
for _ in $(seq 100); do curl -fs --cacert "$TMP/ca.pem" "https://localhost:$TLS_PORT/hello" >/dev/null && break; sleep 0.1; done

DEAD_PORT=$(free_port) # granted, nothing listens there
mkdir -p "$TMP/app"
cp "$CORPUS/c-http.wasm" "$CORPUS/c-outbound.wasm" "$TMP/app/"
cat >"$TMP/app/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "outbound"
[[trigger.http]]
route = "/hello/..."
component = "hello"
[[trigger.http]]
route = "/out/..."
component = "out"
[[trigger.http]]
route = "/none/..."
component = "none"
[component.hello]
source = "c-http.wasm"
[component.out]
source = "c-outbound.wasm"
allowed_outbound_hosts = ["http://127.0.0.1:$UP_PORT", "http://127.0.0.1:$DEAD_PORT", "https://*.example.com",
  "https://localhost:$TLS_PORT", "https://127.0.0.1:$TLS_PORT", "https://localhost:$SELF_PORT"]
[component.out.tool.kiln]
request_timeout = "20s"
[component.none]
source = "c-outbound.wasm"
TOML

port=$(free_port)
URL="http://127.0.0.1:$port"
SSL_CERT_FILE="$TMP/ca.pem" "$KILN" up -f "$TMP/app" --listen "127.0.0.1:$port" >"$TMP/out.log" 2>"$TMP/err.log" &
PID=$!
on_exit "kill $PID 2>/dev/null"
for _ in $(seq 300); do curl -fs "$URL/.well-known/kiln/health" >/dev/null && break; sleep 0.1; done

err=$(cat "$TMP/err.log")
expect_not_contains "kiln up no longer warns that a wasi:http component's allowed_outbound_hosts is unserved" \
    "allowed_outbound_hosts is granted, but Kiln has no host API" "$err"

# a granted host
r=$(curl -s -m 10 "$URL/out/fetch?url=$UP/hello")
expect_contains "GET to a granted host: the upstream's status" "status: 200" "$r"
expect_contains "GET to a granted host: the upstream's header" "x-upstream: yes" "$r"
expect_contains "GET to a granted host: the upstream's body" "body: hello upstream" "$r"
r=$(curl -s -m 10 "$URL/out/fetch?url=$UP/teapot")
expect_contains "a non-2xx upstream status reaches the guest" "status: 418" "$r"
expect_contains "... with its body" "body: short and stout" "$r"
r=$(curl -s -m 10 "$URL/out/fetch?method=post&body=hello-post&url=$UP/echo")
expect_contains "POST: the upstream got the body and its content-length" "body: got hello-post cl=10" "$r"
expect_contains "POST: the upstream's status" "status: 201" "$r"

# keep-alive: sequential requests reuse the pooled connection
c1=$(curl -s -m 10 "$URL/out/fetch?url=$UP/count" | sed -n 's/^body: //p')
for _ in 1 2 3 4 5; do curl -s -m 10 "$URL/out/fetch?url=$UP/hello" >/dev/null; done
c2=$(curl -s -m 10 "$URL/out/fetch?url=$UP/count" | sed -n 's/^body: //p')
if [ -n "$c1" ] && [ -n "$c2" ] && [ $((c2 - c1)) -le 1 ]; then
    pass "keep-alive: 6 sequential requests opened at most 1 new upstream connection"
else
    fail "keep-alive: 6 sequential requests opened at most 1 new upstream connection" "count before: $c1, after: $c2"
fi

r=$(curl -s -m 10 "$URL/out/fetch?url=$UP/redirect")
expect_contains "a redirect is the guest's to follow (to a host it is not granted here)" "status: 302" "$r"
expect_contains "... with its body" "body: moved" "$r"

# denied: never a connection
before=$(curl -s "$UP/count")
r=$(curl -s -m 10 "$URL/out/fetch?url=http://localhost:$UP_PORT/hello")
expect_contains "another name for the granted server: HTTP-request-denied" "error: HTTP-request-denied" "$r"
r=$(curl -s -m 10 "$URL/out/fetch?url=http://127.0.0.1:$((UP_PORT == 65535 ? 1 : UP_PORT + 1))/hello")
expect_contains "another port: HTTP-request-denied" "error: HTTP-request-denied" "$r"
r=$(curl -s -m 10 "$URL/out/fetch?url=https://127.0.0.1:$UP_PORT/hello")
expect_contains "another scheme: HTTP-request-denied" "error: HTTP-request-denied" "$r"
r=$(curl -s -m 10 "$URL/out/fetch?url=http://127.1:$UP_PORT/hello")
expect_contains "a legacy IPv4 spelling is refused" "error: HTTP-request-URI-invalid" "$r"
r=$(curl -s -m 10 "$URL/out/fetch?url=http://user@127.0.0.1:$UP_PORT/hello")
expect_contains "userinfo is refused" "error: HTTP-request-URI-invalid" "$r"
r=$(curl -s -m 10 "$URL/none/fetch?url=$UP/hello")
expect_contains "a component without grants: HTTP-request-denied" "error: HTTP-request-denied" "$r"
after=$(curl -s "$UP/count")
expect_eq "denied requests never connected to the upstream" "$((before + 1))" "$after"
expect_contains "a denial is logged with the component and the target" \
    "component none: outbound request to http://127.0.0.1:$UP_PORT denied" "$(cat "$TMP/err.log")"

# fan-out: 10 requests to an upstream that answers after 1 s, polled together
t0=$(date +%s.%N)
curl -s -m 30 "$URL/out/fanout?n=10&url=$UP/sleep" >"$TMP/fanout.out" &
FAN=$!
sleep 0.3
h0=$(date +%s.%N)
hello=$(curl -s -m 5 "$URL/hello/x")
h1=$(date +%s.%N)
running=$(kill -0 $FAN 2>/dev/null && echo yes || echo no)
wait $FAN
t1=$(date +%s.%N)
expect_eq "fan-out: all 10 responses arrived" "done 10: 200 200 200 200 200 200 200 200 200 200" "$(cat "$TMP/fanout.out")"
fan=$(awk "BEGIN{printf \"%.2f\", $t1 - $t0}")
if awk "BEGIN{exit !($t1 - $t0 < 5)}"; then
    pass "fan-out: 10 x 1 s upstream requests finished concurrently (${fan} s < 5 s)"
else
    fail "fan-out: 10 x 1 s upstream requests finished concurrently" "took ${fan} s"
fi
expect_contains "another route is answered while guests wait on the upstream" "hello from C" "$hello"
expect_eq "... during the fan-out (it was still running)" "yes" "$running"
if awk "BEGIN{exit !($h1 - $h0 < 0.9)}"; then
    pass "... without waiting for it ($(awk "BEGIN{printf \"%.3f\", $h1 - $h0}") s)"
else
    fail "... without waiting for it" "hello took $(awk "BEGIN{print $h1 - $h0}") s"
fi

# the first-byte timeout (upstream answers after 3 s; the guest allows 300 ms)
t0=$(date +%s.%N)
r=$(curl -s -m 10 "$URL/out/fetch?fbt=300&url=$UP/slow")
t1=$(date +%s.%N)
expect_contains "first-byte timeout: connection-read-timeout" "error: connection-read-timeout" "$r"
if awk "BEGIN{exit !($t1 - $t0 < 2.5)}"; then
    pass "first-byte timeout: the guest got it before the upstream answered"
else
    fail "first-byte timeout: the guest got it before the upstream answered" "took $(awk "BEGIN{print $t1 - $t0}") s"
fi

# the between-bytes timeout (10 bytes, then 3 s of silence; the guest allows 300 ms)
t0=$(date +%s.%N)
r=$(curl -s -m 10 "$URL/out/fetch?bbt=300&url=$UP/stall")
t1=$(date +%s.%N)
expect_contains "between-bytes timeout: the body read fails after what arrived" "body: 0123456789<read-error>" "$r"
if awk "BEGIN{exit !($t1 - $t0 < 2.5)}"; then
    pass "between-bytes timeout: before the upstream went on"
else
    fail "between-bytes timeout: before the upstream went on" "took $(awk "BEGIN{print $t1 - $t0}") s"
fi

# a 1 MiB body streams through (Content-Length, then chunked with extensions and trailers)
python3 -c 'import sys; sys.stdout.buffer.write(bytes((i * 7 + 3) % 251 for i in range(1 << 20)))' >"$TMP/big.want"
curl -s -m 20 -o "$TMP/big.got" "$URL/out/stream?url=$UP/big"
expect_eq "a 1 MiB upstream body streams through intact" "$(sha256sum <"$TMP/big.want")" "$(sha256sum <"$TMP/big.got")"
curl -s -m 20 -o "$TMP/chunked.got" "$URL/out/stream?url=$UP/chunked"
expect_eq "a chunked 1 MiB upstream body streams through intact" "$(sha256sum <"$TMP/big.want")" "$(sha256sum <"$TMP/chunked.got")"

# the upstream's trailers reach the guest (future-trailers after the body), without those
# that may not be trailers; a hostile trailer section fails the body, bounded
r=$(curl -s -m 20 "$URL/out/fetch?url=$UP/trailers")
expect_eq "response trailers: future-trailers gives them" \
    $'status: 200\nx-upstream: yes\nbody: hi\ntrailers: x-sum=42;x-done=yes;' "$r"
for t in manytrailers megatrailer; do
    r=$(curl -s -m 20 "$URL/out/fetch?url=$UP/$t")
    expect_contains "/$t: the body read fails" "body: hi<read-error>" "$r"
    expect_contains "/$t: future-trailers: HTTP-response-trailer-section-size" \
        "trailers: error HTTP-response-trailer-section-size" "$r"
done
r=$(curl -s -m 20 "$URL/out/fetch?url=$UP/hello")
expect_contains "... and the server serves on" "body: hello upstream" "$r"

# a refused connection comes back through the future
r=$(curl -s -m 10 "$URL/out/fetch?url=http://127.0.0.1:$DEAD_PORT/")
expect_contains "a granted port nobody listens on: connection-refused" "error: connection-refused" "$r"

# TLS: verified against the CA store, with the host name checked
r=$(curl -s -m 10 "$URL/out/fetch?url=https://localhost:$TLS_PORT/hello")
expect_contains "HTTPS to a server with a trusted certificate for its name" "body: hello upstream" "$r"
r=$(curl -s -m 10 "$URL/out/fetch?method=post&body=over-tls&url=https://localhost:$TLS_PORT/echo")
expect_contains "HTTPS POST" "body: got over-tls cl=8" "$r"
curl -s -m 20 -o "$TMP/tls.got" "$URL/out/stream?url=https://localhost:$TLS_PORT/chunked"
expect_eq "a chunked 1 MiB body over TLS streams through intact" "$(sha256sum <"$TMP/big.want")" "$(sha256sum <"$TMP/tls.got")"
r=$(curl -s -m 10 "$URL/out/fetch?url=https://127.0.0.1:$TLS_PORT/hello")
expect_contains "HTTPS to an address the certificate does not name: TLS-certificate-error" \
    "error: TLS-certificate-error" "$r"
r=$(curl -s -m 10 "$URL/out/fetch?url=https://localhost:$SELF_PORT/hello")
expect_contains "HTTPS to a self-signed certificate: TLS-certificate-error" "error: TLS-certificate-error" "$r"

check "kiln up still serves after all of it" curl -fs -m 5 "$URL/hello/x"
kill "$PID" 2>/dev/null
wait "$PID" 2>/dev/null
expect_not_contains "kiln up stopped without a sanitizer report (under SANITIZE=1)" "Sanitizer" "$(cat "$TMP/err.log")"
finish
