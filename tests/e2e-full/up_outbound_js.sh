#!/usr/bin/env bash
# kiln up serves a componentize-js handler that calls an upstream with fetch
# (tests/components/js-outbound: StarlingMonkey's fetch over wasi:http/outgoing-handler,
# futures, pollables and body streams as a real toolchain uses them). 14 MB of
# StarlingMonkey takes minutes to compile on a loaded machine the first time, hence make
# test-full. Checked: GET (status, header, body), POST with a body, ten fetches under
# Promise.all finishing together (10 x 1 s in well under 10 s), a host not granted.
source "$(dirname "$0")/../lib.sh"

CORPUS="$KILN_BUILD/components"
if ! out=$("$ROOT/tests/components/build.sh" "$CORPUS" js-outbound 2>&1); then
    fail "tests/components/build.sh builds js-outbound" "$out"
    finish
    exit
fi
pass "tests/components/build.sh builds js-outbound"

cat >"$TMP/upstream.py" <<'PY'
import http.server, socketserver, sys, time
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def send(self, status, body):
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.send_header("x-upstream", "yes")
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path.startswith("/sleep"):
            time.sleep(1)
        self.send(200, b"hello upstream")
    def do_POST(self):
        n = int(self.headers.get("content-length", "0"))
        self.send(201, b"got " + self.rfile.read(n))
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 128
S(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
UP_PORT=$(free_port)
python3 "$TMP/upstream.py" "$UP_PORT" &
on_exit "kill $! 2>/dev/null"
UP="http://127.0.0.1:$UP_PORT"
for _ in $(seq 100); do curl -fs "$UP/" >/dev/null && break; sleep 0.2; done

mkdir -p "$TMP/app"
cp "$CORPUS/js-outbound.wasm" "$TMP/app/"
cat >"$TMP/app/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "outbound-js"
[[trigger.http]]
route = "/js/..."
component = "js"
[component.js]
source = "js-outbound.wasm"
allowed_outbound_hosts = ["http://127.0.0.1:$UP_PORT"]
TOML
port=$(free_port)
URL="http://127.0.0.1:$port"
"$KILN" up -f "$TMP/app" --listen "127.0.0.1:$port" >"$TMP/out.log" 2>"$TMP/err.log" &
PID=$!
on_exit "kill $PID 2>/dev/null"
for _ in $(seq 3000); do curl -fs "$URL/.well-known/kiln/health" >/dev/null && break; sleep 0.2; done

r=$(curl -s -m 30 "$URL/js/fetch?url=$UP/hello")
expect_contains "fetch: the upstream's status" "status: 200" "$r"
expect_contains "fetch: the upstream's header" "x-upstream: yes" "$r"
expect_contains "fetch: the upstream's body" "body: hello upstream" "$r"
r=$(curl -s -m 30 "$URL/js/fetch?method=POST&body=from-js&url=$UP/echo")
expect_contains "fetch POST: the body reached the upstream" "body: got from-js" "$r"
expect_contains "fetch POST: the upstream's status" "status: 201" "$r"
t0=$(date +%s.%N)
r=$(curl -s -m 30 "$URL/js/fanout?n=10&url=$UP/sleep")
t1=$(date +%s.%N)
expect_eq "Promise.all of 10 fetches: all answered" "done 10: 200 200 200 200 200 200 200 200 200 200" "$r"
if awk "BEGIN{exit !($t1 - $t0 < 5)}"; then
    pass "Promise.all of 10 fetches of 1 s finished concurrently ($(awk "BEGIN{printf \"%.2f\", $t1 - $t0}") s < 5 s)"
else
    fail "Promise.all of 10 fetches of 1 s finished concurrently" "took $(awk "BEGIN{print $t1 - $t0}") s"
fi
r=$(curl -s -m 30 "$URL/js/fetch?url=http://localhost:$UP_PORT/hello")
expect_contains "a host not granted: fetch rejects" "error: " "$r"
expect_contains "... and the denial is logged" "component js: outbound request to http://localhost:$UP_PORT denied" \
    "$(cat "$TMP/err.log")"
finish
