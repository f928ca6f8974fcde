#!/usr/bin/env bash
# Stopping kiln up promptly: SIGTERM cancels the background optimized-tier build (the cc
# child and its process group are killed, not awaited), while requests in flight still
# get their answers. The optimized compiler here is a wrapper that takes a minute, so a
# server that waits for it cannot pass; the bound below is generous (a correctness
# check, not a benchmark).
source "$(dirname "$0")/../lib.sh"
mkdir -p "$TMP/app" "$TMP/cache"
clang --target=wasm32-wasi --sysroot=/usr -O2 "$ROOT/tests/e2e/guests/busy.c" -o "$TMP/app/busy.wasm"
cat >"$TMP/app/kiln.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "shutdown"
[[trigger.http]]
route = "/..."
component = "busy"
executor = { type = "wagi" }
[component.busy]
source = "busy.wasm"
TOML
# a C compiler that takes 60 s for a build (--version answers at once: the cache key)
cat >"$TMP/slowcc" <<'SH'
#!/bin/sh
case "$1" in --version) exec cc "$@" ;; esac
echo started >"$(dirname "$0")/slowcc.started"
sleep 60
exec cc "$@"
SH
chmod +x "$TMP/slowcc"

port=$(free_port)
URL="http://127.0.0.1:$port"
KILN_CC="$TMP/slowcc" "$KILN" up -f "$TMP/app" --listen "127.0.0.1:$port" --cache-dir "$TMP/cache" \
    --inline-budget 0 >"$TMP/out.log" 2>"$TMP/err.log" &
PID=$!
on_exit "kill -9 $PID 2>/dev/null"
for _ in $(seq 100); do curl -fs "$URL/.well-known/kiln/health" >/dev/null && break; sleep 0.1; done
expect_eq "the first request answers" "busy 1 ms done" "$(curl -s -m 10 "$URL/?1")"
for _ in $(seq 100); do [ -e "$TMP/slowcc.started" ] && break; sleep 0.1; done
check "the optimized-tier build is running" test -e "$TMP/slowcc.started"
# a request in flight (1.5 s on an executor thread) when SIGTERM arrives
curl -s -m 20 -w ' %{http_code}' "$URL/?1500" >"$TMP/inflight.out" &
CURL=$!
sleep 0.3
kill -TERM "$PID"
exited=no
for _ in $(seq 50); do # 5 s
    if ! kill -0 "$PID" 2>/dev/null; then exited=yes; break; fi
    sleep 0.1
done
expect_eq "kiln up exits within 5 s of SIGTERM although the optimized build takes a minute" yes "$exited"
wait "$CURL"
expect_eq "the request in flight still gets its answer" $'busy 1500 ms done\n 200' "$(cat "$TMP/inflight.out")"
if [ "$exited" = yes ]; then
    wait "$PID"
    expect_eq "kiln up exits with status 0" 0 "$?"
fi
expect_eq "the compiler's process group is gone too" "" "$(pgrep -f "$TMP/slowcc" || true)"
expect_not_contains "a cancelled build is not reported as a failure" "optimized tier failed" \
    "$(cat "$TMP/err.log")"
finish
