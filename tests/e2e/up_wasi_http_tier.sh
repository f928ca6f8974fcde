#!/usr/bin/env bash
# Tier-up of wasi:http components: `kiln up` (tier auto, an empty cache) starts each
# component on the fast tier, builds its optimized tier in the background and switches new
# requests to it, with a log line; both a component served from an image (c-http) and one
# instantiated per request (c-http-spin, granted files) switch; answers stay correct
# before, during and after the switch; a response streaming while the switch happens
# arrives whole (it finishes on the code it started with).
source "$(dirname "$0")/../lib.sh"

source "$ROOT/tests/e2e/helpers/wasi_http.sh"
wasi_http_app "$TMP/app" wasi-http-tier 'files = [{ source = "data", destination = "/data" }]'
mkdir -p "$TMP/app/data" "$TMP/cache"
echo "granted file" >"$TMP/app/data/hello.txt"
serve "$TMP/app" up --cache-dir "$TMP/cache"

err=$(cat "$TMP/up.err")
expect_contains "c-http starts on the fast tier (empty cache)" \
    "component hello: wasi:http, 4 core modules, fast tier ready" "$err"
expect_contains "c-http-spin starts on the fast tier" "component t: wasi:http, 4 core modules, fast tier ready" "$err"
expect_eq "an answer on the fast tier" "hello from C GET /hello/a" "$(curl -s -m 10 "$URL/hello/a")"

# A response streamed slowly (2 MiB at 256 KiB/s: ~8 s) from the start, across the switch.
curl -s -m 120 --limit-rate 256K -o "$TMP/slow.out" "$URL/x/big?mib=2" &
SLOW=$!

# Requests keep being answered, correctly, until both components switched.
bad=0 n=0
end=$((SECONDS + 300))
while [ $SECONDS -lt $end ]; do
    grep -q "component hello: optimized tier ready" "$TMP/up.err" &&
        grep -q "component t: optimized tier ready" "$TMP/up.err" && break
    r=$(curl -s -m 10 "$URL/hello/n$n")
    [ "$r" = "hello from C GET /hello/n$n" ] || bad=$((bad + 1))
    n=$((n + 1))
    sleep 0.2
done
expect_eq "every answer during the build was correct ($n requests)" 0 "$bad"
err=$(cat "$TMP/up.err")
expect_contains "c-http's optimized tier: logged, new requests use it" \
    "component hello: optimized tier ready after" "$err"
expect_contains "c-http-spin's optimized tier (no image: per-request instances)" \
    "component t: optimized tier ready after" "$err"
expect_not_contains "no tier-up failure" "optimized tier failed" "$err"
wait "$SLOW"
expect_eq "the response streaming across the switch arrived whole" 2097152 "$(wc -c <"$TMP/slow.out")"

# After the switch: the same answers from the optimized tier.
bad=0
for i in $(seq 20); do
    r=$(curl -s -m 10 "$URL/hello/after$i")
    [ "$r" = "hello from C GET /hello/after$i" ] || bad=$((bad + 1))
done
expect_eq "20 answers after the switch, all correct" 0 "$bad"
expect_eq "c-http-spin after the switch: its granted file" "granted file" "$(curl -s -m 10 "$URL/x/file")"
expect_eq "c-http-spin after the switch: computes" "start
done 20" "$(curl -s -m 30 "$URL/x/cpu?m=20")"
kill "$PID"
wait "$PID" 2>/dev/null

# A second start finds the optimized tier in the cache: nothing to build.
serve "$TMP/app" up2 --cache-dir "$TMP/cache"
expect_contains "restarted: c-http is optimized from the start" \
    "component hello: wasi:http, 4 core modules, opt tier ready (from the cache" "$(cat "$TMP/up2.err")"
expect_eq "and answers" "hello from C GET /hello/" "$(curl -s -m 10 "$URL/hello/")"
kill "$PID"
wait "$PID" 2>/dev/null
finish
