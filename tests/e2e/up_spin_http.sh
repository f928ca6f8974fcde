#!/usr/bin/env bash
# fermyon:spin/http@2.0.0 (host/spin/http.c): a guest (tests/e2e/spin-http/main.c, a
# wasi:http handler written against the canonical ABI) calls Spin's older send-request.
# Checked: a GET to a granted upstream (status, body, the guest's header sent, the
# response headers back), a POST with a body, a HEAD (no body), a host not granted
# (destination-not-allowed), a malformed uri (invalid-url), a granted port nobody
# listens on (request-error), the requests served by the same client (two requests, one
# pooled connection upstream) and counted in the outbound metrics.
source "$(dirname "$0")/../lib.sh"

T=${KILN_TOOLS:-/var/cache/kiln-tools}
W=$T/cargo/bin/wasm-tools
JL=$T/npm/node_modules/@bytecodealliance/jco/lib
for need in "$W" "$JL/wasi_snapshot_preview1.reactor.wasm" "$JL/wit/builtin/0.2.12"; do
    if [ ! -e "$need" ]; then
        fail "the component toolchain is installed" "missing: $need (run scripts/install-tools.sh)"
        finish
        exit
    fi
done
SRC=$ROOT/tests/e2e/spin-http
A=$TMP/app
mkdir -p "$A/wit/deps/spin"
cp "$SRC/world.wit" "$A/wit/"
cp -R "$JL/wit/builtin/0.2.12/." "$A/wit/deps/"
rm -f "$A/wit/deps/"*.md
cp "$SRC/spin-http.wit" "$A/wit/deps/spin/"
if clang --target=wasm32-wasi --sysroot=/usr -mexec-model=reactor -std=c11 -O2 -Wall -Werror \
    -I"$ROOT/sdk/c" "$SRC/main.c" -o "$A/core.wasm" 2>"$TMP/cc.err" &&
    "$W" component embed "$A/wit" --world guest "$A/core.wasm" -o "$A/core.emb.wasm" 2>>"$TMP/cc.err" &&
    "$W" component new "$A/core.emb.wasm" --adapt \
        "wasi_snapshot_preview1=$JL/wasi_snapshot_preview1.reactor.wasm" -o "$A/guest.wasm" 2>>"$TMP/cc.err"; then
    pass "the fermyon:spin/http guest builds"
else
    fail "the fermyon:spin/http guest builds" "$(cat "$TMP/cc.err")"
    finish
    exit
fi

cat >"$TMP/upstream.py" <<'PY'
import http.server, sys
conns = set()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def answer(self, body):
        conns.add(self.client_address)
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.send_header("x-seen-from", self.headers.get("x-from", "-"))
        self.send_header("x-connections", str(len(conns)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
    def do_GET(self):
        self.answer(("hello from %s, x-from %s, connections %d" %
                     (self.path, self.headers.get("x-from", "-"), len(conns | {self.client_address}))).encode())
    def do_HEAD(self):
        self.answer(b"not sent")
    def do_POST(self):
        data = self.rfile.read(int(self.headers.get("content-length", "0")))
        self.answer(b"posted " + data)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
UP_PORT=$(free_port)
python3 "$TMP/upstream.py" "$UP_PORT" &
on_exit "kill $! 2>/dev/null"
DEAD_PORT=$(free_port)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$UP_PORT/" >/dev/null && break; sleep 0.1; done

cat >"$A/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "spin-http"
[[trigger.http]]
route = "/..."
component = "guest"
[component.guest]
source = "guest.wasm"
allowed_outbound_hosts = ["http://127.0.0.1:$UP_PORT", "http://127.0.0.1:$DEAD_PORT"]
TOML
port=$(free_port)
URL="http://127.0.0.1:$port"
APORT=$(free_port)
"$KILN" up -f "$A" --listen "127.0.0.1:$port" --admin "127.0.0.1:$APORT" >"$TMP/up.out" \
    2>"$TMP/up.err" &
on_exit "kill $! 2>/dev/null"
for _ in $(seq 300); do curl -fs "$URL/.well-known/kiln/health" >/dev/null && break; sleep 0.1; done
if ! curl -fs "$URL/.well-known/kiln/health" >/dev/null; then
    fail "kiln up serves the guest" "$(tail -n 20 "$TMP/up.err")"
    finish
    exit
fi

UP="http://127.0.0.1:$UP_PORT"
# (the upstream counts client connections: the readiness probe above was the first)
expect_eq "GET through send-request: status, body (the guest's header sent), headers back" \
    "$(printf 'status: 200\nbody: hello from /a?b=1, x-from kiln-test, connections 2\nheaders: 5')" \
    "$(curl -s -m 10 -H "x-target: $UP/a?b=1" "$URL/")"
expect_eq "a second GET reuses the pooled connection" \
    "$(printf 'status: 200\nbody: hello from /again, x-from kiln-test, connections 2\nheaders: 5')" \
    "$(curl -s -m 10 -H "x-target: $UP/again" "$URL/")"
expect_eq "POST with a body" "$(printf 'status: 200\nbody: posted some data\nheaders: 5')" \
    "$(curl -s -m 10 -H "x-target: $UP/p" -H 'x-method: 1' -H 'x-body: some data' "$URL/")"
expect_eq "HEAD: no body" "$(printf 'status: 200\nbody: \nheaders: 5')" \
    "$(curl -s -m 10 -H "x-target: $UP/h" -H 'x-method: 5' "$URL/")"
expect_eq "a host not granted: destination-not-allowed (1)" "error: 1" \
    "$(curl -s -m 10 -H "x-target: http://localhost:$UP_PORT/" "$URL/")"
expect_contains "... logged naming the component" "component guest: outbound request to http://localhost:$UP_PORT denied" \
    "$(cat "$TMP/up.err")"
expect_eq "a uri that is not absolute: invalid-url (2)" "error: 2" \
    "$(curl -s -m 10 -H "x-target: /relative" "$URL/")"
expect_eq "a bad authority: invalid-url (2)" "error: 2" \
    "$(curl -s -m 10 -H "x-target: http://127.0.0.1:99999/" "$URL/")"
expect_eq "a granted port nobody listens on: request-error (3)" "error: 3" \
    "$(curl -s -m 10 -H "x-target: http://127.0.0.1:$DEAD_PORT/" "$URL/")"
# counted in the outbound metrics as wasi:http requests are (the host as connected)
M=$(curl -s -m 5 "http://127.0.0.1:$APORT/metrics")
O='kiln_outbound_requests_total{component="guest"'
expect_contains "metrics: 4 answered requests (2xx)" "$O,host=\"127.0.0.1:$UP_PORT\",status_class=\"2xx\"} 4" "$M"
expect_contains "metrics: the host not granted (denied)" "$O,host=\"localhost:$UP_PORT\",status_class=\"denied\"} 1" "$M"
expect_contains "metrics: the refused connection" "$O,host=\"127.0.0.1:$DEAD_PORT\",status_class=\"connection_error\"} 1" "$M"
finish
