#!/usr/bin/env bash
# kiln up --admin counts what guests do outside: outbound HTTP requests by component, host
# and status class or failure (kiln_outbound_requests_total, http_client_request_duration_seconds)
# and key-value operations by component, store, operation and outcome
# (kiln_key_value_operations_total, kiln_key_value_operation_duration_seconds). A component
# calls a local upstream (tests/components/c-outbound: a 200, a 404, a denied host, a granted
# port nothing listens on) and another uses the key-value store (c-spin-kv); the exposition
# holds the exact counts, promtool accepts it, /stats.json and the dashboard (headless
# Chromium) show the per-component totals.
source "$(dirname "$0")/../lib.sh"

CORPUS="$KILN_BUILD/components"
if ! out=$("$ROOT/tests/components/build.sh" "$CORPUS" c-outbound c-spin-kv 2>&1); then
    fail "tests/components/build.sh builds c-outbound and c-spin-kv" "$out"
    finish
    exit
fi
pass "tests/components/build.sh builds c-outbound and c-spin-kv"

cat >"$TMP/upstream.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def do_GET(self):
        ok = self.path.startswith("/hello")
        body = b"hello upstream" if ok else b"no"
        self.send_response(200 if ok else 404)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
UP_PORT=$(free_port)
python3 "$TMP/upstream.py" "$UP_PORT" 2>"$TMP/upstream.log" &
on_exit "kill $! 2>/dev/null"
UP="http://127.0.0.1:$UP_PORT"
for _ in $(seq 100); do curl -fs "$UP/hello" >/dev/null && break; sleep 0.1; done
DEAD_PORT=$(free_port) # granted, nothing listens there

mkdir -p "$TMP/app"
cp "$CORPUS/c-outbound.wasm" "$CORPUS/c-spin-kv.wasm" "$TMP/app/"
cat >"$TMP/app/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "io"
[[trigger.http]]
route = "/out/..."
component = "out"
[[trigger.http]]
route = "/a/..."
component = "kv"
[component.out]
source = "c-outbound.wasm"
allowed_outbound_hosts = ["http://127.0.0.1:$UP_PORT", "http://127.0.0.1:$DEAD_PORT"]
[component.kv]
source = "c-spin-kv.wasm"
key_value_stores = ["default"]
TOML

port=$(free_port)
URL="http://127.0.0.1:$port"
APORT=$(free_port)
ADMIN="http://127.0.0.1:$APORT"
"$KILN" up -f "$TMP/app" --listen "127.0.0.1:$port" --admin "127.0.0.1:$APORT" \
    >"$TMP/up.out" 2>"$TMP/up.err" &
on_exit "kill $! 2>/dev/null"
for _ in $(seq 300); do curl -fs "$URL/.well-known/kiln/health" >/dev/null && break; sleep 0.1; done

# the traffic: 2 x 200 and a 404 from the upstream, a denied host, a refused connection
for _ in 1 2; do
    expect_contains "outbound GET: 200" "status: 200" "$(curl -s -m 10 "$URL/out/fetch?url=$UP/hello")"
done
expect_contains "outbound GET: 404" "status: 404" "$(curl -s -m 10 "$URL/out/fetch?url=$UP/nope")"
expect_contains "outbound GET to a host not granted: denied" "error: HTTP-request-denied" \
    "$(curl -s -m 10 "$URL/out/fetch?url=http://localhost:$UP_PORT/hello")"
# the same host spelled three ways (case, trailing dot, default port): one series, as connected
for a in "LOCALHOST.:$UP_PORT" "Localhost" "localhost:80"; do
    expect_contains "outbound GET to $a: denied" "error: HTTP-request-denied" \
        "$(curl -s -m 10 "$URL/out/fetch?url=http://$a/hello")"
done
expect_contains "outbound GET to a granted port nobody listens on: connection-refused" \
    "error: connection-refused" "$(curl -s -m 10 "$URL/out/fetch?url=http://127.0.0.1:$DEAD_PORT/x")"
# key-value: 3 sets, 2 gets (one absent), an exists, a delete
for k in k1 k2 k3; do
    expect_eq "kv set $k" "ok" "$(curl -s -m 10 -X PUT --data-binary v "$URL/a/kv/default/$k")"
done
expect_eq "kv get" "v" "$(curl -s -m 10 "$URL/a/kv/default/k1")"
curl -s -m 10 -o /dev/null "$URL/a/kv/default/absent"
expect_eq "kv exists" "true" "$(curl -s -m 10 "$URL/a/exists/default/k2")"
expect_eq "kv delete" "ok" "$(curl -s -m 10 -X DELETE "$URL/a/kv/default/k3")"

curl -s -m 5 -o "$TMP/m.txt" "$ADMIN/metrics"
has_line() { if grep -qxF -- "$2" "$TMP/m.txt"; then pass "$1"; else fail "$1" "no line: $2" "$(grep -F -- "${2%%\{*}" "$TMP/m.txt" | head -n 12)"; fi; }
O='kiln_outbound_requests_total{component="out"'
has_line "2 outbound 2xx to the upstream" "$O,host=\"127.0.0.1:$UP_PORT\",status_class=\"2xx\"} 2"
has_line "1 outbound 4xx to the upstream" "$O,host=\"127.0.0.1:$UP_PORT\",status_class=\"4xx\"} 1"
has_line "the denied host, normalised (LOCALHOST.:port is localhost:port)" \
    "$O,host=\"localhost:$UP_PORT\",status_class=\"denied\"} 2"
has_line "a default port is dropped from the host label (Localhost, localhost:80)" \
    "$O,host=\"localhost\",status_class=\"denied\"} 2"
has_line "the refused connection" "$O,host=\"127.0.0.1:$DEAD_PORT\",status_class=\"connection_error\"} 1"
has_line "8 outbound requests in the client duration histogram" \
    'http_client_request_duration_seconds_count{component="out"} 8'
K='kiln_key_value_operations_total{component="kv",store="default"'
has_line "3 kv sets" "$K,operation=\"set\",outcome=\"ok\"} 3"
has_line "2 kv gets (an absent key is no error)" "$K,operation=\"get\",outcome=\"ok\"} 2"
has_line "1 kv exists" "$K,operation=\"exists\",outcome=\"ok\"} 1"
has_line "1 kv delete" "$K,operation=\"delete\",outcome=\"ok\"} 1"
has_line "7 kv operations in the duration histogram" \
    'kiln_key_value_operation_duration_seconds_count{component="kv"} 7'
expect_not_contains "no outbound series for the kv component" \
    'kiln_outbound_requests_total{component="kv"' "$(cat "$TMP/m.txt")"

if command -v promtool >/dev/null 2>&1; then
    if out=$(promtool check metrics <"$TMP/m.txt" 2>&1); then
        pass "promtool check metrics"
    else
        fail "promtool check metrics" "$out"
    fi
else
    fail "promtool check metrics" "promtool is missing: scripts/install-deps.sh installs the prometheus package"
fi

S=$(curl -s -m 5 "$ADMIN/stats.json")
out_c=$(python3 -c 'import json,sys; c={x["name"]:x for x in json.load(sys.stdin)["components"]}; print(c["out"]["outbound"], c["out"]["outbound_errors"], c["kv"]["kv_ops"], c["kv"]["kv_errors"])' <<<"$S" 2>&1)
expect_eq "/stats.json: outbound 8 (5 failed), kv 7 (0 failed)" "8 5 7 0" "$out_c"

# the dashboard's component table, rendered by a real browser
if command -v chromium >/dev/null 2>&1; then
    # --no-sandbox: test containers have no user namespaces for Chromium's sandbox
    DOM=$(timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --user-data-dir="$TMP/chrome" --virtual-time-budget=3000 --dump-dom "$ADMIN/" 2>"$TMP/chrome.err")
    orow=$(grep -o '<tr data-component="out">.*' <<<"$DOM" | sed 's#</tr>.*##')
    krow=$(grep -o '<tr data-component="kv">.*' <<<"$DOM" | sed 's#</tr>.*##')
    expect_contains "browser: the out component's outbound requests (failed)" '<td class="outbound">8 (5)</td>' "$orow"
    expect_contains "browser: the kv component's key-value operations (failed)" '<td class="kv">7 (0)</td>' "$krow"
else
    fail "chromium" "chromium is missing: scripts/install-deps.sh installs the chromium package"
fi
finish
