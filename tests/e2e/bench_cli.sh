#!/usr/bin/env bash
# kiln bench: the comparison table of an app (docs/observability.md). A small WAGI app,
# short runs: every number Kiln and the process baseline report is measured (present and
# positive), the runc row is measured or says why not, the cost follows the stated
# formula and the price flags, the JSON goes to the state directory and the admin
# dashboard of `kiln up` shows that run. No timing targets here (bench/run.sh has them).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/iso.sh"

iso_app hello || { fail "guest builds (clang wasm32-wasi)"; finish; exit; }
SMALL=(--duration 1 --connections 2 --live 50 --runs 20 --container-live 3)
"$KILN" bench "$TMP/app" "${SMALL[@]}" --price-requests 1.5 --format json \
    --state-dir "$TMP/state" >"$TMP/b.json" 2>"$TMP/b.err"
rc=$?
expect_eq "kiln bench --format json: exit status 0" "0" "$rc"
[ "$rc" = 0 ] || tail -20 "$TMP/b.err" | sed 's/^/  kiln bench said: /' # why, in the log
# field EXPR: a Python expression over the run (r: rows by name)
field() { python3 -c 'import json,sys
b = json.load(open(sys.argv[1]))
r = {x["name"]: x for x in b["rows"]}
print(eval(sys.argv[2]))' "$TMP/b.json" "$1" 2>&1; }
expect_eq "three rows" "['Kiln', 'native process per request', 'runc container per request']" \
    "$(field '[x["name"] for x in b["rows"]]')"
expect_eq "the route driven" "['/hello']" "$(field 'b["routes"]')"
for k in cold_p50_ms cold_p99_ms mem_per_instance_kib time_to_1000_s rps duration_ms; do
    expect_eq "Kiln: $k measured" "True" "$(field "r['Kiln']['$k'] > 0")"
    expect_eq "native process: $k measured" "True" "$(field "r['native process per request']['$k'] > 0")"
done
expect_eq "Kiln: cold start p99 >= p50" "True" "$(field 'r["Kiln"]["cold_p99_ms"] >= r["Kiln"]["cold_p50_ms"]')"
expect_eq "Kiln: 50 instances held at once" "50" "$(field 'r["Kiln"]["live_measured"]')"
expect_eq "native: 50 processes held at once" "50" "$(field 'r["native process per request"]["live_measured"]')"
runc_row=$(field 'r["runc container per request"]["cold_p50_ms"] is not None')
if [ "$runc_row" = True ]; then
    expect_eq "runc: 3 containers held at once" "3" "$(field 'r["runc container per request"]["live_measured"]')"
    expect_eq "runc: requests/s measured" "True" "$(field 'r["runc container per request"]["rps"] > 0')"
else
    expect_contains "runc: not measured, and says why" "not measured: " \
        "$(field 'r["runc container per request"]["note"]')"
    echo "bench_cli: runc could not run here: $(field 'r["runc container per request"]["note"]')"
fi
expect_eq "the default GB-second price (AWS Lambda)" "1.66667e-05" "$(field 'b["prices"]["gb_s"]')"
expect_eq "--price-requests" "1.5" "$(field 'b["prices"]["per_million_requests"]')"
expect_eq "cost = requests + memory x duration x GB-s price" "True" "$(field 'all(abs(x["cost_per_million_usd"] - (1.5 + 1e6 * x["mem_per_instance_kib"] / 1048576 * x["duration_ms"] / 1000 * 1.66667e-05)) < 1e-6 for x in b["rows"] if x["cost_per_million_usd"] is not None)')"
expect_eq "the machine is named" "True" "$(field '"cores" in b["machine"]')"
check "the run's JSON is in the state directory" cmp "$TMP/b.json" "$TMP/state/bench.json"

# kube scaffold sizes pods from this run: instance memory = 2 x Kiln's measured memory per
# instance, at least 1 MiB, rounded up to MiB; request = 24Mi + 16 x that
want_mi=$(field 'max(1, -(-int(2 * r["Kiln"]["mem_per_instance_kib"] * 1024) // 1048576))')
case $want_mi in '' | *[!0-9]*) want_mi=0 ;; esac # no run to size from: the checks below fail
out=$("$KILN" kube scaffold "$TMP/app" -o "$TMP/kube" --from-bench "$TMP/state/bench.json" 2>&1)
expect_contains "kube scaffold --from-bench: sized from the run" \
    "instance memory from kiln bench ($TMP/state/bench.json): " "$out"
expect_contains "kube scaffold --from-bench: the request follows the formula" \
    "memory request $((24 + 16 * want_mi))Mi = 24Mi + 16 x ${want_mi}Mi" "$out"
echo '{"rows": []}' >"$TMP/nobench.json"
out=$("$KILN" kube scaffold "$TMP/app" -o "$TMP/kube2" --from-bench "$TMP/nobench.json" 2>&1)
expect_eq "kube scaffold --from-bench: a file without Kiln's row is refused" "1" "$?"
expect_contains "... naming the file" "$TMP/nobench.json: not a \`kiln bench\` result" "$out"

expect_eq "the tier measured: opt by default" "opt" "$(field 'b["tier"]')"

# the other formats (without the container, to stay short), on the fast tier
"$KILN" bench "$TMP/app" "${SMALL[@]}" --no-container --format markdown --state-dir "$TMP/state2" \
    --tier fast >"$TMP/b.md" 2>>"$TMP/b.err"
MD=$(cat "$TMP/b.md")
expect_contains "--tier fast: the title says it" "hello, fast tier; 1 route(s)" "$MD"
expect_contains "--tier fast: kiln up served the fast tier" "on the fast tier" "$(cat "$TMP/b.err")"
expect_eq "--tier fast: recorded in the JSON" "fast" \
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tier"])' "$TMP/state2/bench.json" 2>&1)"
expect_eq "--tier fast: memory per live instance measured" "True" \
    "$(python3 -c 'import json,sys; print([r for r in json.load(open(sys.argv[1]))["rows"] if r["name"] == "Kiln"][0]["mem_per_instance_kib"] > 0)' "$TMP/state2/bench.json" 2>&1)"
expect_contains "markdown: the header row" "| cold start p50 | cold start p99 | memory/instance | 1,000 live | requests/s |" "$MD"
expect_contains "markdown: Kiln's row" "| Kiln | " "$MD"
expect_contains "markdown: the container row says why it is empty" "not measured: --no-container" "$MD"
expect_contains "markdown: the prices are stated" "per GB-second" "$MD"
"$KILN" bench "$TMP/app" --route /nope --no-container --duration 1 --live 5 --runs 5 \
    --state-dir "$TMP/state3" >"$TMP/b.txt" 2>"$TMP/b3.err"
expect_contains "--route: a path that fails is reported" "GET /nope answered 404" "$(cat "$TMP/b3.err")"
"$KILN" bench "$TMP/app" --format yaml >/dev/null 2>"$TMP/b4.err"
expect_eq "an unknown format: exit status 2" "2" "$?"
"$KILN" bench "$TMP/app" --tier turbo >/dev/null 2>"$TMP/b5.err"
expect_eq "an unknown tier: exit status 2" "2" "$?"
expect_contains "... saying which tiers there are" "--tier: opt or fast" "$(cat "$TMP/b5.err")"

# the dashboard shows the latest run
APORT=$(free_port)
if start_up --admin "127.0.0.1:$APORT" --state-dir "$TMP/state"; then
    bench=$(curl -s -m 5 "http://127.0.0.1:$APORT/stats.json" | python3 -c 'import json,sys
b = json.load(sys.stdin)["bench"]
print(b["rows"][0]["name"], len(b["rows"]))')
    expect_eq "stats.json: the last bench run" "Kiln 3" "$bench"
    if command -v chromium >/dev/null 2>&1; then
        DOM=$(timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
            --user-data-dir="$TMP/chrome" --virtual-time-budget=2000 --dump-dom \
            "http://127.0.0.1:$APORT/" 2>/dev/null)
        expect_contains "browser: the bench table" "<td>native process per request</td>" "$DOM"
    else
        fail "chromium" "chromium is missing: scripts/install-deps.sh installs the chromium package"
    fi
    stop_up "$UP_PID"
else
    fail "kiln up starts with --admin --state-dir" "$(tail -n 5 "$TMP/up.err")"
fi
[ "$_failed" -gt 0 ] && tail -n 20 "$TMP/b.err" >&2
finish
