#!/usr/bin/env bash
# kiln up --admin: the live dashboard at the admin listener's / and the /stats.json it polls
# (docs/observability.md). Real traffic on /hello and a trapping /trap, then the page is
# rendered by headless Chromium: the rendered DOM must show the route that just served
# traffic with a non-zero request rate and the trap. The page uses nothing from outside
# Kiln (no CDN). The rendered DOM and a screenshot stay under the artifact directory
# ($KILN_ARTIFACTS, default $KILN_BUILD/artifacts/up_dashboard).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/iso.sh"

ART=${KILN_ARTIFACTS:-$KILN_BUILD/artifacts}/up_dashboard
mkdir -p "$ART"
iso_app hello trap || { fail "guest builds (clang wasm32-wasi)"; finish; exit; }
APORT=$(free_port)
ADMIN="http://127.0.0.1:$APORT"
if ! start_up --admin "127.0.0.1:$APORT" --workers 2; then
    fail "kiln up starts with --admin" "$(tail -n 5 "$TMP/up.err")"
    finish
    exit
fi
pass "kiln up starts with --admin"

# the page: HTML from the binary, nothing fetched from elsewhere
curl -s -m 5 -D "$TMP/page.head" -o "$TMP/page.html" "$ADMIN/"
expect_contains "/: an HTML page" "text/html" "$(cat "$TMP/page.head")"
expect_contains "/: the dashboard polls stats.json" 'fetch("stats.json"' "$(cat "$TMP/page.html")"
check "/: no external script, style or image (no CDN)" \
    bash -c "! grep -Eiq '(src|href)=\"?(https?:)?//' '$TMP/page.html'"
expect_eq "HEAD /stats.json: 200" "200" "$(curl -s -m 5 -I -o /dev/null -w '%{http_code}' "$ADMIN/stats.json")"
expect_eq "POST /: 405" "405" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST "$ADMIN/")"

# traffic: /hello for a few seconds, and two traps
expect_eq "GET /trap: 500" "500" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/trap")"
expect_eq "GET /trap again: 500" "500" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/trap")"
end=$((SECONDS + 4))
n=0
while [ $SECONDS -lt $end ]; do
    curl -s -m 5 -o /dev/null "$URL/hello" && n=$((n + 1))
done
check "traffic: /hello answered (${n} requests)" test "$n" -gt 10

# /stats.json: what the page draws
curl -s -m 5 "$ADMIN/stats.json" >"$TMP/stats.json"
stat() { python3 -c 'import json,sys
s = json.load(open(sys.argv[1]))
r = {x["route"]: x for x in s["routes"]}
c = {x["name"]: x for x in s["components"]}
print(eval(sys.argv[2]))' "$TMP/stats.json" "$1" 2>&1; }
expect_eq "stats.json: /hello's request count" "$n" "$(stat 'r["/hello"]["requests"]')"
expect_eq "stats.json: /hello's rate is above zero" "True" "$(stat 'r["/hello"]["rate"] > 0')"
expect_eq "stats.json: /hello's p99 is at least its p50" "True" "$(stat 'r["/hello"]["p99"] >= r["/hello"]["p50"] > 0')"
expect_eq "stats.json: /trap's two 5xx" "2" "$(stat 'r["/trap"]["errors"]')"
expect_eq "stats.json: trap's two traps" "2" "$(stat 'c["trap"]["traps"]')"
expect_eq "stats.json: hello's instance starts" "$n" "$(stat 'c["hello"]["starts"]')"
expect_eq "stats.json: hello's tier" "True" "$(stat 'c["hello"]["tier"] in ("fast", "opt")')"
expect_eq "stats.json: hello's guest memory" "True" "$(stat 'c["hello"]["mem_hwm"] >= 65536')"
expect_eq "stats.json: a per-second rate series" "True" "$(stat 'max(r["/hello"]["rate_series"]) > 0')"

# the page in a real browser, while traffic still flows
if ! command -v chromium >/dev/null 2>&1; then
    fail "chromium" "chromium is missing: scripts/install-deps.sh installs the chromium package"
    finish
    exit
fi
(for _ in $(seq 1 400); do curl -s -m 5 -o /dev/null "$URL/hello"; done) &
LOAD=$!
on_exit "kill $LOAD 2>/dev/null"
sleep 1
# --no-sandbox: test containers have no user namespaces for Chromium's sandbox
CHROME=(chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage
    --user-data-dir="$TMP/chrome" --virtual-time-budget=3000)
timeout 60 "${CHROME[@]}" --dump-dom "$ADMIN/" >"$ART/dashboard.html" 2>"$TMP/chrome.err"
timeout 60 "${CHROME[@]}" --window-size=1200,900 --screenshot="$ART/dashboard.png" "$ADMIN/" \
    >/dev/null 2>>"$TMP/chrome.err"
kill "$LOAD" 2>/dev/null
wait "$LOAD" 2>/dev/null
DOM=$(cat "$ART/dashboard.html")
expect_contains "browser: the page rendered data from stats.json" 'id="status">updated' "$DOM"
row=$(grep -o '<tr data-route="/hello">.*' "$ART/dashboard.html" | sed 's#</tr>.*##')
expect_contains "browser: the /hello row is rendered" '<td class="route">/hello</td>' "$row"
rate=$(sed -n 's#.*<td class="rate">\([0-9.]*\)</td>.*#\1#p' <<<"$row")
check "browser: /hello's request rate is above zero (${rate:-none} req/s)" \
    python3 -c "import sys; sys.exit(0 if float('${rate:-0}') > 0 else 1)"
trow=$(grep -o '<tr data-component="trap">.*' "$ART/dashboard.html" | sed 's#</tr>.*##')
expect_contains "browser: the trap component's two traps" '<td class="traps">2</td>' "$trow"
expect_contains "browser: a plot per route" '<canvas width="300" height="80">' "$DOM"
check "browser: a screenshot was taken" test -s "$ART/dashboard.png"
[ "$_failed" -gt 0 ] && tail -n 5 "$TMP/chrome.err" | grep -v dbus >&2
stop_up "$UP_PID"
finish
