#!/usr/bin/env bash
# up_wasi_http_p3_reuse.sh — Spin's instance reuse for wasi:http 0.3 components
# (exec/http/reuse_p3.h). A handler written in WAT counts its requests in a global and
# answers the count in a header (x-n). Without options every request gets a fresh
# instance (copied from the component's image): the count is always 1. With
# --max-instance-reuse-count 3 an instance serves three requests, then a fresh one takes
# over: 1 2 3 1 2 3. A trap (/t) retires its instance (500), and the next request starts
# again at 1; an instance idle past --idle-instance-timeout is dropped. /c takes the
# request's body (consume-body) and drops its stream, on each request of an instance; /k
# keeps the stream, which retires the instance (it would read the next request's body).
# /w waits 400 ms (wasi:clocks wait-for, lowered async, then a waitable-set
# wait): four at once all answer (they share instances: M defaults to 16, and N = 3 caps
# each; up_wasi_http_p3_concurrent.sh tests the sharing itself).
# --max-instance-concurrent-reuse-count takes a count and refuses anything else. The
# options are Spin's (`spin up`); the help text says they apply to 0.3 components.
# wasm-tools comes from scripts/install-tools.sh; without it this test fails.
source "$(dirname "$0")/../lib.sh"

source "$(dirname "$0")/../p3_counter.sh"
p3_counter_app 400000000

start() { p3_counter_start "$@"; }

# counts N PATH: the x-n header of N requests in a row, space-separated.
counts() {
    local out="" i
    for i in $(seq "$1"); do
        out="$out $(curl -s -D - -o /dev/null -d x "$URL$2" | tr -d '\r' | sed -n 's/^x-n: //p')"
    done
    echo "${out# }"
}

start
expect_eq "default: a fresh instance per request" "1 1 1 1" "$(counts 4 /)"
expect_not_contains "the p3 component has an image" "no image" "$(cat "$TMP/err.log")"
kill "$PID"; wait "$PID" 2>/dev/null

start --max-instance-reuse-count 3 --idle-instance-timeout 60s
expect_eq "reuse 3: the count grows to 3, then a fresh instance" "1 2 3 1 2 3 1" "$(counts 7 /)"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/t")
expect_eq "a trap: 500" 500 "$code"
expect_eq "the trap retired the instance: the next starts at 1" "1 2" "$(counts 2 /)"
expect_contains "the trap is logged" "unreachable" "$(cat "$TMP/err.log")"
# each request of a reused instance may take its own body (the context is rebound)
expect_eq "a reused instance takes each request's body" "3 1 2" "$(counts 3 /c)"
# a guest keeping the body's stream past its response would read the next request's body
# through it: its instance is retired
expect_eq "an instance that kept a body stream is not reused" "3 1 1" "$(counts 3 /k)"
# four waiting requests at once: each answers, and they wait together
t0=$(date +%s%N)
for i in 1 2 3 4; do
    curl -s -o /dev/null -w '%{http_code}\n' "$URL/w" >"$TMP/w$i.txt" &
done
wait_pids=$(jobs -p)
for p in $wait_pids; do [ "$p" != "$PID" ] && wait "$p" 2>/dev/null; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "four waiting requests at once: all 200" "200 200 200 200" \
    "$(cat "$TMP"/w[1-4].txt | tr '\n' ' ' | sed 's/ $//')"
echo "  (four 400 ms waits at once took ${ms} ms; timing is bench/run.sh's business)"
expect_eq "the server serves on" "200" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/")"
kill "$PID"; wait "$PID" 2>/dev/null

start --max-instance-reuse-count=2 --max-instance-concurrent-reuse-count 4 --idle-instance-timeout=60
expect_eq "--name=N form, reuse 2" "1 2 1 2" "$(counts 4 /)"
kill "$PID"; wait "$PID" 2>/dev/null

start --max-instance-reuse-count 9 --idle-instance-timeout 2000ms
expect_eq "reuse 9: the count grows" "1 2 3" "$(counts 3 /)"
sleep 2.5
expect_eq "idle past --idle-instance-timeout: a fresh instance" "1 2" "$(counts 2 /)"
kill "$PID"; wait "$PID" 2>/dev/null

out=$("$KILN" up -f "$TMP/app" --idle-instance-timeout 3h 2>&1)
expect_contains "a duration Spin does not take is refused" "needs a duration" "$out"

out=$("$KILN" up -f "$TMP/app" --max-instance-reuse-count 1..8 2>&1)
expect_contains "a range is refused with a reason" "needs a count" "$out"
out=$("$KILN" up --help 2>&1)
expect_contains "the help names the option" "--max-instance-reuse-count" "$out"
expect_contains "the help says it is for wasi:http 0.3" "0.3 components" "$out"
finish
