#!/usr/bin/env bash
# Outbound HTTP in traces (issue 18): when kiln up traces (OTEL_EXPORTER_OTLP_ENDPOINT) a
# guest's outbound request carries a W3C traceparent naming a new client span in the served
# request's trace (seen by the upstream), and that client span is exported to the OTLP
# receiver (helpers/otlp_receiver.py) as a child of the request's server span, with the
# HTTP client attributes; a denied request is a failed client span; a service-chained
# request is a server span of its component (with instantiate/execute children), child of
# the caller's client span; without tracing no traceparent is sent.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/up.sh"
RECV="$ROOT/tests/e2e/helpers/otlp_receiver.py"

CORPUS="$KILN_BUILD/components"
if ! out=$("$ROOT/tests/components/build.sh" "$CORPUS" c-outbound c-http 2>&1); then
    fail "tests/components/build.sh builds c-outbound and c-http" "$out"
    finish
    exit
fi
pass "tests/components/build.sh builds c-outbound and c-http"

# the upstream answers with the traceparent it got ("none" without one)
cat >"$TMP/upstream.py" <<'PY'
import http.server, socketserver, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def do_GET(self):
        body = (self.headers.get("traceparent") or "none").encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
S(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
UP_PORT=$(free_port)
python3 "$TMP/upstream.py" "$UP_PORT" &
on_exit "kill $! 2>/dev/null"
UP="http://127.0.0.1:$UP_PORT"
for _ in $(seq 100); do curl -fs "$UP/" >/dev/null && break; sleep 0.1; done

mkdir -p "$TMP/app" "$TMP/recv"
cp "$CORPUS/c-outbound.wasm" "$CORPUS/c-http.wasm" "$TMP/app/"
cat >"$TMP/app/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "outtrace"
[[trigger.http]]
route = "/out/..."
component = "out"
[[trigger.http]]
route = { private = true }
component = "back"
[component.out]
source = "c-outbound.wasm"
allowed_outbound_hosts = ["http://127.0.0.1:$UP_PORT", "http://back.spin.internal"]
[component.back]
source = "c-http.wasm"
TOML

RPORT=$(free_port)
python3 "$RECV" serve "$RPORT" "$TMP/recv" &
on_exit "kill $! 2>/dev/null"
for _ in $(seq 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $RPORT), 1)" 2>/dev/null && break
    sleep 0.1
done

TRACE=0af7651916cd43dd8448eb211c80319c
PARENT=b7ad6b7169203331
OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$RPORT" OTEL_BSP_SCHEDULE_DELAY=100 restart_up
r=$(curl -s -m 10 -H "traceparent: 00-$TRACE-$PARENT-01" "$URL/out/fetch?url=$UP/tp")
sent=$(printf '%s\n' "$r" | sed -n 's/^body: //p')
case "$sent" in
00-$TRACE-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-01)
    pass "the upstream got a traceparent in the request's trace" ;;
*) fail "the upstream got a traceparent in the request's trace" "got: $r" ;;
esac
CLIENT=${sent:36:16}
[ "$CLIENT" != "$PARENT" ] && pass "... naming a new span" || fail "... naming a new span" "$sent"
r=$(curl -s -m 10 -H "traceparent: 00-$TRACE-$PARENT-01" "$URL/out/fetch?url=http://127.0.0.1:1/denied")
r2=$(curl -s -m 10 -H "traceparent: 00-$TRACE-$PARENT-01" "$URL/out/fetch?url=http://back.spin.internal/chained")
expect_contains "a chained request answers" "body: hello from C GET /chained" "$r2"
expect_contains "a request to a host not granted is denied" "error: HTTP-request-denied" "$r"

# q EXPR: evaluated over S, the received spans
q() {
    python3 "$RECV" spans "$TMP/recv" >"$TMP/spans" 2>/dev/null || echo "DECODE ERROR"
    python3 -c '
import json, sys
S = [json.loads(l) for l in open(sys.argv[1])]
client = [s for s in S if s["kind"] == 3]
server = [s for s in S if s["kind"] == 2 and s["attributes"].get("url.path") == "/out/fetch"]
def one(l): return l[0] if len(l) == 1 else None
print(eval(sys.argv[2]))' "$TMP/spans" "$1"
}
for _ in $(seq 100); do [ "$(q 'len(client)' 2>/dev/null)" = 3 ] && break; sleep 0.1; done
expect_eq "three client spans exported" "3" "$(q 'len(client)')"
expect_eq "the client span is the one the traceparent named" "1" \
    "$(q "len([c for c in client if c['spanId'] == '$CLIENT'])")"
expect_eq "... in the request's trace" "$TRACE" "$(q "one([c['traceId'] for c in client if c['spanId'] == '$CLIENT'])")"
expect_eq "... child of the request's server span" "True" \
    "$(q "one([c for c in client if c['spanId'] == '$CLIENT'])['parentSpanId'] in [s['spanId'] for s in server]")"
expect_eq "... whose own parent is the incoming traceparent's span" "True" \
    "$(q "all(s['parentSpanId'] == '$PARENT' for s in server) and len(server) == 3")"
A="one([c for c in client if c['spanId'] == '$CLIENT'])['attributes']"
expect_eq "client span: method, url, server address and port, status" \
    "GET http://127.0.0.1:$UP_PORT/tp 127.0.0.1 $UP_PORT 200 out" \
    "$(q "' '.join(str($A.get(k)) for k in ['http.request.method', 'url.full', 'server.address', 'server.port', 'http.response.status_code', 'kiln.component'])")"
expect_eq "the denied request: a failed client span with its error" "HTTP-request-denied 2" \
    "$(q "one([c['attributes'].get('error.type') + ' ' + str(c['status']) for c in client if 'denied' in c['attributes']['url.full']])")"
# the chained request: a server span of the component, child of the caller's client span
CH="one([c for c in client if 'back.spin.internal' in c['attributes']['url.full']])"
expect_eq "the chained request's server span is a child of the caller's client span" "back /chained 200" \
    "$(q "' '.join(str(s['attributes'].get(k)) for s in S if s['kind'] == 2 and s['parentSpanId'] == $CH['spanId'] for k in ['kiln.component', 'url.path', 'http.response.status_code'])")"
expect_eq "... in the same trace, with instantiate and execute children" "$TRACE 2" \
    "$(q "' '.join([s['traceId'] + ' ' + str(len([c for c in S if c['parentSpanId'] == s['spanId']])) for s in S if s['kind'] == 2 and s['parentSpanId'] == $CH['spanId']])")"
expect_eq "client spans end after they start" "True" "$(q 'all(c["end"] >= c["start"] > 0 for c in client)')"

# not traced: no traceparent leaves
restart_up
r=$(curl -s -m 10 -H "traceparent: 00-$TRACE-$PARENT-01" "$URL/out/fetch?url=$UP/tp")
expect_contains "without tracing the upstream gets no traceparent" "body: none" "$r"

finish
