#!/usr/bin/env bash
# The runtime config's [outbound_http] max_connections (Spin's key) limits each component's
# concurrent outbound requests: a guest fanning out 6 requests at once with a limit of 2
# gets all 6 answered while the upstream never sees more than 2 at a time (the others wait
# for a permit, as Spin's do); another component has its own 2; without the limit the
# upstream sees the 6 together; max_connections = 0 refuses every request
# (connection-limit-reached); both keys at once are refused at start.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/up.sh"

CORPUS="$KILN_BUILD/components"
if ! out=$("$ROOT/tests/components/build.sh" "$CORPUS" c-outbound 2>&1); then
    fail "tests/components/build.sh builds c-outbound" "$out"
    finish
    exit
fi
pass "tests/components/build.sh builds c-outbound"

# the upstream: /slow takes 0.5 s and counts how many are in flight; /max says the most
# seen at once since the last /reset
cat >"$TMP/upstream.py" <<'PY'
import http.server, socketserver, sys, threading, time
lock = threading.Lock()
state = {"cur": 0, "max": 0}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def send(self, body):
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path == "/slow":
            with lock:
                state["cur"] += 1
                state["max"] = max(state["max"], state["cur"])
            time.sleep(0.5)
            with lock:
                state["cur"] -= 1
            self.send(b"slow")
        elif self.path == "/max":
            self.send(str(state["max"]).encode())
        elif self.path == "/reset":
            with lock:
                state["max"] = 0
            self.send(b"ok")
        else:
            self.send(b"hello")
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 64
S(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
UP_PORT=$(free_port)
python3 "$TMP/upstream.py" "$UP_PORT" &
on_exit "kill $! 2>/dev/null"
UP="http://127.0.0.1:$UP_PORT"
for _ in $(seq 100); do curl -fs "$UP/" >/dev/null && break; sleep 0.1; done

mkdir -p "$TMP/app"
cp "$CORPUS/c-outbound.wasm" "$TMP/app/"
cat >"$TMP/app/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "outlimit"
[[trigger.http]]
route = "/a/..."
component = "a"
[[trigger.http]]
route = "/b/..."
component = "b"
[component.a]
source = "c-outbound.wasm"
allowed_outbound_hosts = ["http://127.0.0.1:$UP_PORT"]
[component.a.tool.kiln]
request_timeout = "30s"
[component.b]
source = "c-outbound.wasm"
allowed_outbound_hosts = ["http://127.0.0.1:$UP_PORT"]
[component.b.tool.kiln]
request_timeout = "30s"
TOML

printf '[outbound_http]\nmax_connections = 2\n' >"$TMP/limit2.toml"
restart_up --runtime-config-file "$TMP/limit2.toml"
curl -s "$UP/reset" >/dev/null
r=$(curl -s -m 30 "$URL/a/fanout?n=6&url=$UP/slow")
expect_eq "with max_connections = 2 all 6 requests are answered" "done 6: 200 200 200 200 200 200" "$r"
expect_eq "... and the upstream saw at most 2 at once" "2" "$(curl -s "$UP/max")"
# two components at once: each has its own 2
curl -s "$UP/reset" >/dev/null
curl -s -m 30 "$URL/a/fanout?n=4&url=$UP/slow" >"$TMP/fa" &
fa=$!
r=$(curl -s -m 30 "$URL/b/fanout?n=4&url=$UP/slow")
wait $fa
expect_eq "component b's 4 answered" "done 4: 200 200 200 200" "$r"
expect_eq "component a's 4 answered" "done 4: 200 200 200 200" "$(cat "$TMP/fa")"
max=$(curl -s "$UP/max")
if [ "$max" -ge 3 ] && [ "$max" -le 4 ]; then
    pass "the limit is per component: together they reached 3 or 4 at once, never more"
else
    fail "the limit is per component: together they reached 3 or 4 at once, never more" "max: $max"
fi

restart_up
curl -s "$UP/reset" >/dev/null
r=$(curl -s -m 30 "$URL/a/fanout?n=6&url=$UP/slow")
expect_eq "without a limit the 6 are answered" "done 6: 200 200 200 200 200 200" "$r"
expect_eq "... all at once" "6" "$(curl -s "$UP/max")"

printf '[outbound_http]\nmax_connections = 0\n' >"$TMP/limit0.toml"
restart_up --runtime-config-file "$TMP/limit0.toml"
r=$(curl -s -m 10 "$URL/a/fetch?url=$UP/hello")
expect_contains "max_connections = 0 refuses every request" "error: connection-limit-reached" "$r"

printf '[outbound_http]\nmax_connections = 2\nmax_concurrent_requests = 1\n' >"$TMP/both.toml"
out=$(timeout 30 "$KILN" up -f "$TMP/app" --listen "127.0.0.1:$(free_port)" --runtime-config-file "$TMP/both.toml" 2>&1)
expect_contains "both keys at once are refused, as Spin does" \
    "cannot set both \`max_connections\` and \`max_concurrent_requests\`" "$out"

finish
