#!/usr/bin/env bash
# kiln up exports OpenTelemetry traces with OTLP/HTTP (docs/observability.md) to a receiver
# written here (helpers/otlp_receiver.py, which decodes what it receives, JSON and
# protobuf): one server span per request with the HTTP semantic-convention attributes and
# its status, children for the instance start and the guest's execution (WAGI and
# wasi:http), the parent and
# trace id of an incoming traceparent (a malformed one ignored), service.name; a receiver
# that is down, slow or failing neither fails nor holds up a request; spans queued at
# SIGTERM are flushed; http/protobuf; an unsupported protocol or endpoint is refused.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/iso.sh"
RECV="$ROOT/tests/e2e/helpers/otlp_receiver.py"

iso_app hello trap || { fail "guest builds (clang wasm32-wasi)"; finish; exit; }

# receiver NAME ARGS...: an OTLP receiver on a free port saving into $TMP/NAME (RPORT)
receiver() {
    local name=$1
    shift
    mkdir -p "$TMP/$name"
    RPORT=$(free_port)
    python3 "$RECV" serve "$RPORT" "$TMP/$name" "$@" &
    local pid=$!
    on_exit "kill $pid"
    for _ in $(seq 1 50); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $RPORT), 1)" 2>/dev/null &&
            return 0
        sleep 0.1
    done
    return 1
}
# q NAME EXPR: EXPR evaluated in Python over S, the spans $TMP/NAME received
q() {
    python3 "$RECV" spans "$TMP/$1" >"$TMP/$1.spans" 2>"$TMP/$1.decode-err" || echo "DECODE ERROR"
    python3 -c '
import json, sys
S = [json.loads(l) for l in open(sys.argv[1])]
server = [s for s in S if s["kind"] == 2 and not s["attributes"]["url.path"].startswith("/.well-known/")]
def by_path(p): return [s for s in server if s["attributes"].get("url.path") == p]
def children(s): return [c for c in S if c["parentSpanId"] == s["spanId"] and c["traceId"] == s["traceId"]]
print(eval(sys.argv[2]))' "$TMP/$1.spans" "$2"
}
# wait_spans NAME N: until NAME received at least N server spans (10 s at most)
wait_spans() {
    for _ in $(seq 1 100); do
        [ "$(q "$1" 'len(server)' 2>/dev/null)" -ge "$2" ] 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
code() { curl -s -m 5 -o /dev/null -w '%{http_code}' "$@"; }

# ---- the spans of known traffic ----
receiver main || { fail "the OTLP receiver starts"; finish; exit; }
TP_TRACE=0af7651916cd43dd8448eb211c80319c
TP_SPAN=b7ad6b7169203331
export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$RPORT" OTEL_BSP_SCHEDULE_DELAY=100
if ! start_up --tier fast; then
    fail "kiln up starts with OTEL_EXPORTER_OTLP_ENDPOINT" "$(tail -n 5 "$TMP/up.err")"
    finish
    exit
fi
pass "kiln up starts with OTEL_EXPORTER_OTLP_ENDPOINT"
expect_eq "GET /hello with a traceparent" "200" \
    "$(code -A otel-test/1 -H "traceparent: 00-$TP_TRACE-$TP_SPAN-01" "$URL/hello?x=1")"
expect_eq "GET /nope (no traceparent): 404" "404" "$(code "$URL/nope")"
expect_eq "GET /trap: 500" "500" "$(code "$URL/trap")"
expect_eq "GET /hello with a malformed traceparent" "200" \
    "$(code -H "traceparent: 00-$TP_TRACE-zz-01" "$URL/hello")"
expect_eq "GET /hello with an all-zero trace id" "200" \
    "$(code -H "traceparent: 00-00000000000000000000000000000000-$TP_SPAN-01" "$URL/hello")"
expect_eq "GET /hello with a huge traceparent" "200" \
    "$(code -H "traceparent: 00-$(head -c 8000 /dev/zero | tr '\0' 'a')" "$URL/hello")"
expect_eq "GET /hello with an unsampled parent" "200" \
    "$(code -H "traceparent: 00-1af7651916cd43dd8448eb211c80319c-$TP_SPAN-00" "$URL/hello")"
if wait_spans main 6; then pass "the receiver gets the spans"; else fail "the receiver gets the spans" "$(q main 'len(S)')"; fi
sleep 0.5 # anything more would be a bug: collected below
expect_eq "6 server spans (the unsampled request is not recorded)" "6" "$(q main 'len(server)')"
expect_eq "the health checks are traced too" "True" "$(q main 'any(s["attributes"]["url.path"] == "/.well-known/kiln/health" for s in S)')"
expect_eq "service.name is the app's name" "{'isolation'}" "$(q main 'set(s["service"] for s in S)')"
A='by_path("/hello")[0]["attributes"]'
expect_eq "the traced request: its parent's trace id" "$TP_TRACE" "$(q main 'by_path("/hello")[0]["traceId"]')"
expect_eq "the traced request: parent span id" "$TP_SPAN" "$(q main 'by_path("/hello")[0]["parentSpanId"]')"
expect_eq "span name: method and route" "GET /hello" "$(q main 'by_path("/hello")[0]["name"]')"
expect_eq "http.request.method" "GET" "$(q main "$A[\"http.request.method\"]")"
expect_eq "url.path (without the query)" "/hello" "$(q main "$A[\"url.path\"]")"
expect_eq "http.route" "/hello" "$(q main "$A[\"http.route\"]")"
expect_eq "http.response.status_code (an int)" "200" "$(q main "$A[\"http.response.status_code\"]")"
expect_eq "server.address" "127.0.0.1" "$(q main "$A[\"server.address\"]")"
expect_eq "server.port" "$PORT" "$(q main "$A[\"server.port\"]")"
expect_eq "network.protocol.version" "1.1" "$(q main "$A[\"network.protocol.version\"]")"
expect_eq "user_agent.original" "otel-test/1" "$(q main "$A[\"user_agent.original\"]")"
expect_eq "a 200 leaves the status unset" "0" "$(q main 'by_path("/hello")[0]["status"]')"
expect_eq "the server span has two children" "['execute hello', 'instantiate hello']" \
    "$(q main 'sorted(c["name"] for c in children(by_path("/hello")[0]))')"
expect_eq "the children lie within the server span, instantiate before execute" "True" \
    "$(q main '(lambda s, e, i: all(s["start"] <= x["start"] <= x["end"] <= s["end"] for x in (e, i)) and i["end"] <= e["start"])(by_path("/hello")[0], *sorted(children(by_path("/hello")[0]), key=lambda x: x["name"]))')"
expect_eq "the 404: a server span, no children, no route" "404 0 None" \
    "$(q main '(lambda s: "%s %d %s" % (s["attributes"]["http.response.status_code"], len(children(s)), s["attributes"].get("http.route")))(by_path("/nope")[0])')"
expect_eq "the trap: status error, error.type trap" "500 2 trap" \
    "$(q main '(lambda s: "%s %d %s" % (s["attributes"]["http.response.status_code"], s["status"], s["attributes"]["error.type"]))(by_path("/trap")[0])')"
expect_eq "the trap: its execute span is an error with the trap kind" "2 unreachable" \
    "$(q main '(lambda c: "%d %s" % (c["status"], c["attributes"]["kiln.trap_kind"]))([c for c in children(by_path("/trap")[0]) if c["name"].startswith("execute")][0])')"
expect_eq "malformed, all-zero and huge traceparents: new roots with new trace ids" "3" \
    "$(q main 'len([s for s in by_path("/hello")[1:] if not s["parentSpanId"] and s["traceId"] not in ("'$TP_TRACE'", "0" * 32)])')"
expect_eq "every trace id is distinct but the propagated one" "5" \
    "$(q main 'len(set(s["traceId"] for s in server if s["traceId"] != "'$TP_TRACE'"))')"
stop_up "$UP_PID"

# ---- a wasi:http component: the same spans ----
if out=$("$ROOT/tests/components/build.sh" "$KILN_BUILD/components" c-http 2>&1); then
    mkdir -p "$TMP/wh"
    cp "$KILN_BUILD/components/c-http.wasm" "$TMP/wh/"
    printf '%s\n' 'spin_manifest_version = 2' '[application]' 'name = "wh"' '[[trigger.http]]' \
        'route = "/c/..."' 'component = "c"' '[component.c]' 'source = "c-http.wasm"' >"$TMP/wh/spin.toml"
    receiver whr || fail "the wasi:http receiver starts"
    WPORT=$(free_port)
    OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$RPORT" "$KILN" up -f "$TMP/wh" --listen "127.0.0.1:$WPORT" \
        --tier fast >"$TMP/wh.out" 2>"$TMP/wh.err" &
    WPID=$!
    on_exit "stop_up $WPID"
    for _ in $(seq 1 300); do curl -sf -m 2 "http://127.0.0.1:$WPORT/.well-known/kiln/health" >/dev/null && break; sleep 0.1; done
    expect_eq "wasi:http GET /c/x with a traceparent" "200" \
        "$(code -H "traceparent: 00-$TP_TRACE-$TP_SPAN-01" "http://127.0.0.1:$WPORT/c/x")"
    wait_spans whr 1 || fail "wasi:http spans arrive"
    expect_eq "wasi:http: trace, parent, name, route, status" "$TP_TRACE $TP_SPAN GET /c/... /c/... 200" \
        "$(q whr '(lambda s: "%s %s %s %s %s" % (s["traceId"], s["parentSpanId"], s["name"], s["attributes"]["http.route"], s["attributes"]["http.response.status_code"]))(by_path("/c/x")[0])')"
    expect_eq "wasi:http: instantiate then execute, within the server span" "execute c,instantiate c True" \
        "$(q whr '(lambda s, e, i: ",".join(x["name"] for x in (e, i)) + " " + str(all(s["start"] <= x["start"] <= x["end"] <= s["end"] for x in (e, i)) and i["end"] <= e["start"]))(by_path("/c/x")[0], *sorted(children(by_path("/c/x")[0]), key=lambda x: x["name"]))')"
    stop_up "$WPID"
else
    fail "tests/components/build.sh builds c-http" "$out"
fi

# ---- spans queued at SIGTERM are flushed (the schedule delay is a minute) ----
receiver flush || { fail "the second receiver starts"; finish; exit; }
export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$RPORT" OTEL_BSP_SCHEDULE_DELAY=60000
start_up --tier fast || { fail "kiln up starts (flush)" "$(tail -n 5 "$TMP/up.err")"; finish; exit; }
for i in 1 2 3; do code "$URL/hello" >/dev/null; done
expect_eq "nothing exported before the stop" "0" "$(q flush 'len(S)')"
kill -TERM "$UP_PID"
for _ in $(seq 1 100); do kill -0 "$UP_PID" 2>/dev/null || break; sleep 0.1; done
expect_eq "kiln up exits on SIGTERM" "1" "$(kill -0 "$UP_PID" 2>/dev/null && echo 0 || echo 1)"
expect_eq "the 3 server spans were flushed at the stop" "3" "$(q flush 'len(server)')"

# ---- OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_SERVICE_NAME, http/protobuf ----
receiver pb || { fail "the protobuf receiver starts"; finish; exit; }
unset OTEL_EXPORTER_OTLP_ENDPOINT
export OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://127.0.0.1:$RPORT/v1/traces" OTEL_BSP_SCHEDULE_DELAY=100
export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf OTEL_SERVICE_NAME=svc-pb
start_up --tier fast || { fail "kiln up starts (protobuf)" "$(tail -n 5 "$TMP/up.err")"; finish; exit; }
expect_eq "GET /hello (protobuf)" "200" \
    "$(code -A pb/1 -H "traceparent: 00-$TP_TRACE-$TP_SPAN-01" "$URL/hello")"
wait_spans pb 1 || fail "protobuf spans arrive"
expect_eq "protobuf bodies (Content-Type application/x-protobuf)" "1" "$(ls "$TMP/pb" | grep -c '\.pb$' | sed 's/^[1-9][0-9]*$/1/')"
expect_eq "protobuf: service, trace, parent, route, status, user agent, children" \
    "svc-pb $TP_TRACE $TP_SPAN GET /hello 200 pb/1 2" \
    "$(q pb '(lambda s: "%s %s %s %s %s %s %d" % (s["service"], s["traceId"], s["parentSpanId"], s["name"], s["attributes"]["http.response.status_code"], s["attributes"]["user_agent.original"], len(children(s))))(server[0])')"
stop_up "$UP_PID"
unset OTEL_EXPORTER_OTLP_PROTOCOL OTEL_SERVICE_NAME OTEL_EXPORTER_OTLP_TRACES_ENDPOINT

# ---- a receiver that is down, slow, or failing: every request answered ----
# answered_all NAME: 30 requests, each within curl's 3 s limit, all 200
answered_all() {
    local ok=0
    for _ in $(seq 1 30); do [ "$(curl -s -m 3 -o /dev/null -w '%{http_code}' "$URL/hello")" = 200 ] && ok=$((ok + 1)); done
    expect_eq "$1: 30 of 30 requests answered 200" "30" "$ok"
}
export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$(free_port)" OTEL_BSP_SCHEDULE_DELAY=10 OTEL_BSP_MAX_QUEUE_SIZE=4
start_up --tier fast || { fail "kiln up starts (receiver down)" "$(tail -n 5 "$TMP/up.err")"; finish; exit; }
answered_all "receiver down"
stop_up "$UP_PID"
receiver slow --delay 5 || { fail "the slow receiver starts"; finish; exit; }
export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$RPORT" OTEL_EXPORTER_OTLP_TIMEOUT=20000
APORT=$(free_port)
start_up --tier fast --admin "127.0.0.1:$APORT" || { fail "kiln up starts (slow receiver)" "$(tail -n 5 "$TMP/up.err")"; finish; exit; }
answered_all "receiver slow (5 s per export)"
M=$(curl -s -m 5 "http://127.0.0.1:$APORT/metrics")
expect_contains "the queue of 4 overflowed: kiln_trace_spans_dropped_total counts it" \
    "# TYPE kiln_trace_spans_dropped_total counter" "$M"
expect_eq "dropped spans > 0" "1" "$(echo "$M" | awk '/^kiln_trace_spans_dropped_total /{print ($2 > 0)}')"
stop_up "$UP_PID"
receiver failing --status 503 || { fail "the failing receiver starts"; finish; exit; }
export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$RPORT"
start_up --tier fast || { fail "kiln up starts (receiver 503)" "$(tail -n 5 "$TMP/up.err")"; finish; exit; }
answered_all "receiver answering 503"
sleep 1
expect_eq "a 503 is retried (more posts than batches would need at once)" "1" \
    "$(ls "$TMP/failing" | wc -l | awk '{print ($1 >= 2)}')"
stop_up "$UP_PID"
unset OTEL_EXPORTER_OTLP_TIMEOUT OTEL_BSP_MAX_QUEUE_SIZE

# ---- refusals ----
OTEL_EXPORTER_OTLP_PROTOCOL=grpc "$KILN" up -f "$TMP/app" --listen "127.0.0.1:$(free_port)" >"$TMP/g.out" 2>"$TMP/g.err"
expect_eq "OTEL_EXPORTER_OTLP_PROTOCOL=grpc: exit status 1" "1" "$?"
expect_contains "grpc: the refusal says which protocols" "http/json or http/protobuf" "$(cat "$TMP/g.err")"
OTEL_EXPORTER_OTLP_ENDPOINT=https://collector:4318 "$KILN" up -f "$TMP/app" --listen "127.0.0.1:$(free_port)" >"$TMP/h.out" 2>"$TMP/h.err"
expect_eq "an https endpoint: exit status 1" "1" "$?"
expect_contains "https: the refusal says why" "https is not supported" "$(cat "$TMP/h.err")"
OTEL_SDK_DISABLED=true start_up --tier fast || fail "OTEL_SDK_DISABLED=true: kiln up starts"
expect_eq "OTEL_SDK_DISABLED=true: requests served" "200" "$(code "$URL/hello")"
stop_up "$UP_PID"
finish
