#!/usr/bin/env bash
# kiln up --admin: the admin listener and its Prometheus metrics (docs/observability.md).
# Known traffic (200s, a POST with a body, a 404, a trapping guest, a guest stopped by the
# request timeout) and then the exposition's exact counts and labels; promtool checks the
# format; a real Prometheus server scrapes the admin port and its query API returns Kiln's
# series; /healthz and /readyz, 503 while a stop drains; neither listener serves the
# other's paths; a non-loopback --admin address is refused without --admin-public.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/iso.sh"

iso_app hello trap loop sleep || { fail "guest builds (clang wasm32-wasi)"; finish; exit; }

# a public address is refused (before anything is compiled), and said why
"$KILN" up -f "$TMP/app" --listen 127.0.0.1:0 --admin "0.0.0.0:$(free_port)" >"$TMP/pub.out" 2>"$TMP/pub.err"
expect_eq "--admin 0.0.0.0:PORT without --admin-public: exit status 1" "1" "$?"
expect_contains "the refusal names --admin-public" "--admin-public" "$(cat "$TMP/pub.err")"

APORT=$(free_port)
ADMIN="http://127.0.0.1:$APORT"
if ! start_up --admin "127.0.0.1:$APORT" --request-timeout 3s --max-instances 8 --tier fast \
    --workers 2; then
    fail "kiln up starts with --admin" "$(tail -n 5 "$TMP/up.err")"
    finish
    exit
fi
pass "kiln up starts with --admin"
expect_contains "the admin URL is printed" "Admin $ADMIN (/metrics, /healthz, /readyz)" "$(cat "$TMP/up.out")"
expect_contains "the dashboard URL is printed" "Dashboard $ADMIN/" "$(cat "$TMP/up.out")"
expect_eq "/healthz: 200 ok" "ok 200" "$(curl -s -m 5 -w ' %{http_code}' "$ADMIN/healthz" | tr -d '\n')"
expect_eq "/readyz: 200 once serving" "200" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$ADMIN/readyz")"

# the traffic
for i in 1 2 3; do
    expect_eq "GET /hello $i" "200" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/hello")"
done
head -c 100 /dev/zero | tr '\0' 'x' >"$TMP/body"
expect_eq "POST /hello with 100 bytes" "200" \
    "$(curl -s -m 5 -o /dev/null -w '%{http_code}' --data-binary @"$TMP/body" "$URL/hello")"
expect_eq "GET /nope: 404" "404" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/nope")"
expect_eq "GET /trap: 500" "500" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/trap")"
expect_eq "GET /loop: 504 past the 3 s timeout" "504" \
    "$(curl -s -m 15 -o /dev/null -w '%{http_code}' "$URL/loop")"

# the paths of one listener are not on the other
expect_eq "the admin port does not serve the app" "404" \
    "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$ADMIN/hello")"
app_metrics=$(curl -s -m 5 -w ' %{http_code}' "$URL/metrics")
expect_eq "the app port does not serve /metrics" "404" "${app_metrics##* }"
expect_not_contains "the app port's answer holds no metric" "http_server_" "$app_metrics"
expect_eq "POST /metrics: 405" "405" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST "$ADMIN/metrics")"

curl -s -m 5 -D "$TMP/m.head" -o "$TMP/m.txt" "$ADMIN/metrics"
expect_contains "/metrics: the 0.0.4 text format" "text/plain; version=0.0.4" "$(cat "$TMP/m.head")"
M=$(cat "$TMP/m.txt")
# has_line DESC LINE: the exposition holds exactly this line
has_line() { if grep -qxF -- "$2" "$TMP/m.txt"; then pass "$1"; else fail "$1" "no line: $2" "$(grep -F -- "${2%%\{*}" "$TMP/m.txt" | head -n 8)"; fi; }
H='http_server_request_duration_seconds'
L='component="hello",http_route="/hello"'
has_line "3 GET /hello 2xx" "${H}_count{$L,http_request_method=\"GET\",http_response_status_class=\"2xx\"} 3"
has_line "1 POST /hello 2xx" "${H}_count{$L,http_request_method=\"POST\",http_response_status_class=\"2xx\"} 1"
has_line "POST body: 100 bytes in the 256 bucket" \
    "http_server_request_body_size_bytes_bucket{$L,http_request_method=\"POST\",http_response_status_class=\"2xx\",le=\"256\"} 1"
has_line "POST body: not in the 64 bucket" \
    "http_server_request_body_size_bytes_bucket{$L,http_request_method=\"POST\",http_response_status_class=\"2xx\",le=\"64\"} 0"
has_line "POST body: sum 100" \
    "http_server_request_body_size_bytes_sum{$L,http_request_method=\"POST\",http_response_status_class=\"2xx\"} 100"
has_line "GET responses: 3 x 'hello\\n'" \
    "http_server_response_body_size_bytes_sum{$L,http_request_method=\"GET\",http_response_status_class=\"2xx\"} 18"
has_line "the 404s (/nope, the app's /metrics) have no route or component" \
    "${H}_count{component=\"\",http_route=\"\",http_request_method=\"GET\",http_response_status_class=\"4xx\"} 2"
has_line "the trap: one 5xx" \
    "${H}_count{component=\"trap\",http_route=\"/trap\",http_request_method=\"GET\",http_response_status_class=\"5xx\"} 1"
has_line "the trap: kiln_traps_total kind unreachable" 'kiln_traps_total{component="trap",kind="unreachable"} 1'
has_line "no trap counted for hello" 'kiln_traps_total{component="hello",kind="unreachable"} 0'
has_line "the timeout: one 5xx" \
    "${H}_count{component=\"loop\",http_route=\"/loop\",http_request_method=\"GET\",http_response_status_class=\"5xx\"} 1"
has_line "the timeout: kiln_request_timeouts_total" 'kiln_request_timeouts_total{component="loop"} 1'
has_line "no timeout counted for the trap" 'kiln_request_timeouts_total{component="trap"} 0'
has_line "the timed-out request is past the 1 s bucket" \
    "${H}_bucket{component=\"loop\",http_route=\"/loop\",http_request_method=\"GET\",http_response_status_class=\"5xx\",le=\"1\"} 0"
has_line "the timed-out request is within the 5 s bucket" \
    "${H}_bucket{component=\"loop\",http_route=\"/loop\",http_request_method=\"GET\",http_response_status_class=\"5xx\",le=\"5\"} 1"
has_line "4 instance starts for hello" 'kiln_instance_start_duration_seconds_count{component="hello"} 4'
has_line "no active request" 'http_server_active_requests{component="hello"} 0'
has_line "no queue rejection" 'kiln_queue_rejections_total{component="hello",reason="queue_full"} 0'
has_line "the tier" 'kiln_component_tier{component="hello",tier="fast"} 1'
has_line "the instance slots" 'kiln_instance_slots 8'
has_line "no instance alive" 'kiln_instances_live 0'
expect_contains "the compile time per component" 'kiln_compile_duration_seconds{component="hello",tier="fast"} ' "$M"
has_line "the queue is empty" 'kiln_queue_depth 0'
has_line "guest memory observed for each of hello's 4 requests" 'kiln_guest_memory_bytes_count{component="hello"} 4'
hwm=$(awk '/^kiln_guest_memory_high_water_bytes\{component="hello"\}/ {print $2}' "$TMP/m.txt")
check "hello's guest memory high-water mark is at least a page" test "${hwm:-0}" -ge 65536
expect_contains "the memory pool's slots in use" 'kiln_memory_pool_slots{state="in_use"} ' "$M"
expect_contains "the memory pool's free slots" 'kiln_memory_pool_slots{state="free"} ' "$M"
rss=$(awk '/^process_resident_memory_bytes / {print $2}' "$TMP/m.txt")
check "the process's resident memory is known" test "${rss:-0}" -gt 1000000
has_line "no host memory per instance with none alive" 'kiln_instance_host_memory_bytes 0'
# nothing of unbounded cardinality: the labels are the ones of the manifest and the few kinds
labels=$(grep -v '^#' "$TMP/m.txt" | grep -o '[a-z_]*="' | sort -u | tr -d '="' | tr '\n' ' ')
expect_eq "the label names" "component http_request_method http_response_status_class http_route kind le reason state tier " "$labels"
routes=$(grep -o 'http_route="[^"]*"' "$TMP/m.txt" | sort -u | tr '\n' ' ')
expect_eq "the route labels: the manifest's and the none route" \
    'http_route="" http_route="/hello" http_route="/loop" http_route="/trap" ' "$routes"

if command -v promtool >/dev/null 2>&1; then
    if out=$(promtool check metrics <"$TMP/m.txt" 2>&1); then
        pass "promtool check metrics"
    else
        fail "promtool check metrics" "$out"
    fi
else
    fail "promtool check metrics" "promtool is missing: scripts/install-deps.sh installs the prometheus package"
fi

# a real Prometheus server scrapes the admin port
if command -v prometheus >/dev/null 2>&1; then
    PPORT=$(free_port)
    cat >"$TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: kiln
    static_configs:
      - targets: ['127.0.0.1:$APORT']
YML
    prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/prom-data" \
        --web.listen-address="127.0.0.1:$PPORT" >"$TMP/prom.log" 2>&1 &
    PROM_PID=$!
    on_exit "kill $PROM_PID 2>/dev/null; wait $PROM_PID 2>/dev/null"
    # query EXPR: the first result's value, or "" (jq-free: python3 reads the JSON)
    query() {
        curl -s -m 5 -G "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
            python3 -c 'import json,sys
try:
    r = json.load(sys.stdin)["data"]["result"]
    print(r[0]["value"][1] if r else "")
except Exception:
    print("")'
    }
    got=""
    for _ in $(seq 1 60); do
        got=$(query 'kiln_instance_slots{job="kiln"}')
        [ -n "$got" ] && break
        sleep 0.5
    done
    expect_eq "Prometheus scraped kiln_instance_slots" "8" "$got"
    expect_eq "Prometheus: the target is up" "1" "$(query 'up{job="kiln"}')"
    expect_eq "Prometheus: GET /hello 2xx count" "3" \
        "$(query 'http_server_request_duration_seconds_count{component="hello",http_request_method="GET",http_response_status_class="2xx"}')"
    expect_eq "Prometheus: traps by kind" "1" "$(query 'kiln_traps_total{component="trap",kind="unreachable"}')"
    expect_eq "Prometheus: the queue depth" "0" "$(query 'kiln_queue_depth{job="kiln"}')"
    expect_eq "Prometheus: hello's guest memory high-water mark" "$hwm" \
        "$(query 'kiln_guest_memory_high_water_bytes{component="hello"}')"
    expect_eq "Prometheus: guest memory observations" "4" \
        "$(query 'kiln_guest_memory_bytes_count{component="hello"}')"
    expect_eq "Prometheus: the +Inf bucket of the timeout" "1" \
        "$(query 'http_server_request_duration_seconds_bucket{component="loop",le="+Inf"}')"
    kill "$PROM_PID" 2>/dev/null
    wait "$PROM_PID" 2>/dev/null
else
    echo "up_admin: skipping the Prometheus server scrape: the prometheus binary is missing (Debian package prometheus)"
fi

# a stop drains: /readyz says 503 meanwhile, /healthz still 200
curl -s -m 15 -o "$TMP/slow.body" -w '%{http_code}' "$URL/sleep?2000" >"$TMP/slow.code" 2>/dev/null &
SLOW=$!
for _ in $(seq 1 50); do
    grep -q ' 1$' <<<"$(curl -s -m 2 "$ADMIN/metrics" | grep -F 'http_server_active_requests{component="sleep"}')" && break
    sleep 0.1
done
has_active=$(curl -s -m 2 "$ADMIN/metrics" | grep -F 'http_server_active_requests{component="sleep"}')
expect_eq "an active request while the guest sleeps" 'http_server_active_requests{component="sleep"} 1' "$has_active"
kill -TERM "$UP_PID"
ready=""
for _ in $(seq 1 20); do
    ready=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$ADMIN/readyz")
    [ "$ready" = 503 ] && break
    sleep 0.05
done
expect_eq "/readyz: 503 while the stop drains" "503" "$ready"
expect_eq "/healthz: 200 while the stop drains" "200" "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$ADMIN/healthz")"
wait "$SLOW"
expect_eq "the request in flight still got its answer" "200" "$(cat "$TMP/slow.code")"
for _ in $(seq 1 50); do kill -0 "$UP_PID" 2>/dev/null || break; sleep 0.1; done
check "kiln up exited after the drain" bash -c "! kill -0 $UP_PID 2>/dev/null"
expect_eq "the admin port is closed with it" "000" "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$ADMIN/healthz")"

# queue rejections: one instance slot, a queue of one; every 503 a client sees is counted
APORT=$(free_port)
ADMIN="http://127.0.0.1:$APORT"
# (the queued request waits 2 s of the 3 s the first holds its slot: a window wide enough
# for the polls below on a loaded machine; they go on while the burst runs)
if start_up --admin "127.0.0.1:$APORT" --max-instances 1 --max-queue 1 --queue-timeout 2s --workers 2; then
    python3 "$CLIENT" burst "$PORT" "/sleep?3000" 6 12 >"$TMP/burst.out" &
    BURST=$!
    depth=""
    for _ in $(seq 1 200); do
        depth=$(curl -s -m 2 "$ADMIN/metrics" | grep -x 'kiln_queue_depth 1')
        [ -n "$depth" ] && break
        kill -0 "$BURST" 2>/dev/null || break
        sleep 0.05
    done
    expect_eq "the queued request shows in kiln_queue_depth" "kiln_queue_depth 1" "$depth"
    wait "$BURST"
    n503=$(grep -c '^503 ' "$TMP/burst.out")
    expect_eq "6 at once with one slot: 1 served" "1" "$(grep -c '^200 ' "$TMP/burst.out")"
    curl -s -m 5 "$ADMIN/metrics" >"$TMP/q.txt"
    full=$(awk '/^kiln_queue_rejections_total\{component="sleep",reason="queue_full"\}/ {print $2}' "$TMP/q.txt")
    late=$(awk '/^kiln_queue_rejections_total\{component="sleep",reason="queue_timeout"\}/ {print $2}' "$TMP/q.txt")
    expect_eq "queue_full + queue_timeout rejections = the 503s clients saw" "$n503" "$((full + late))"
    check "some rejections were for a full queue" test "$full" -gt 0
    check "some rejections were for the queue timeout" test "$late" -gt 0
    expect_contains "the 503s in the duration histogram" \
        "http_server_request_duration_seconds_count{component=\"sleep\",http_route=\"/sleep\",http_request_method=\"GET\",http_response_status_class=\"5xx\"} $n503" \
        "$(cat "$TMP/q.txt")"
else
    fail "kiln up starts with --admin --max-instances 1 --max-queue 1" "$(tail -n 5 "$TMP/up.err")"
fi
stop_up "$UP_PID"

# a wasi:http component (tests/components/c-http-spin): its trap and timeout are counted too
CORPUS="$KILN_BUILD/components"
if out=$("$ROOT/tests/components/build.sh" "$CORPUS" c-http-spin 2>&1); then
    mkdir -p "$TMP/http"
    cp "$CORPUS/c-http-spin.wasm" "$TMP/http/"
    printf '%s\n' 'spin_manifest_version = 2' '[application]' 'name = "h"' '[[trigger.http]]' \
        'route = "/x/..."' 'component = "t"' '[component.t]' 'source = "c-http-spin.wasm"' >"$TMP/http/spin.toml"
    PORT=$(free_port)
    APORT=$(free_port)
    "$KILN" up -f "$TMP/http" --listen "127.0.0.1:$PORT" --admin "127.0.0.1:$APORT" --request-timeout 1s \
        >"$TMP/h.out" 2>"$TMP/h.err" &
    HPID=$!
    on_exit "stop_up $HPID"
    for _ in $(seq 1 600); do
        curl -sf -m 2 "http://127.0.0.1:$APORT/readyz" >/dev/null 2>&1 && break
        kill -0 "$HPID" 2>/dev/null || break
        sleep 0.1
    done
    expect_eq "wasi:http: echo 200" "200" "$(curl -s -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/x/echo")"
    expect_eq "wasi:http: trap 500" "500" "$(curl -s -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/x/trap")"
    expect_eq "wasi:http: runaway 504" "504" "$(curl -s -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/x/spin")"
    curl -s -m 5 "http://127.0.0.1:$APORT/metrics" >"$TMP/m.txt"
    # the guest's abort() is an unreachable instruction: the fault keeps its kind
    has_line "wasi:http: the trap (kind unreachable)" 'kiln_traps_total{component="t",kind="unreachable"} 1'
    has_line "wasi:http: the timeout" 'kiln_request_timeouts_total{component="t"} 1'
    has_line "wasi:http: three instance starts" 'kiln_instance_start_duration_seconds_count{component="t"} 3'
    has_line "wasi:http: the 5xx" \
        'http_server_request_duration_seconds_count{component="t",http_route="/x/...",http_request_method="GET",http_response_status_class="5xx"} 2'
    expect_contains "wasi:http: its tier" 'kiln_component_tier{component="t",tier=' "$(cat "$TMP/m.txt")"
    stop_up "$HPID"
else
    fail "tests/components/build.sh builds c-http-spin" "$out"
fi
finish
