#!/usr/bin/env bash
# The inline fast path of kiln up: guests run on the I/O thread up to --inline-budget;
# one that runs longer is stopped and run again, from a fresh instance, on an executor
# thread. The answer must be exactly the second run's (no output or stderr of the first
# attempt), and the component then stays on executor threads for a while.
source "$(dirname "$0")/../lib.sh"
mkdir -p "$TMP/app"
clang --target=wasm32-wasi --sysroot=/usr -O2 "$ROOT/tests/e2e/guests/busy.c" -o "$TMP/app/busy.wasm"
cat >"$TMP/app/kiln.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "inline"
[[trigger.http]]
route = "/..."
component = "busy"
executor = { type = "wagi" }
[component.busy]
source = "busy.wasm"
TOML

# start BUDGET: kiln up on a free port with that inline budget; sets URL and PID.
start() {
    port=$(free_port)
    URL="http://127.0.0.1:$port"
    "$KILN" up -f "$TMP/app" --listen "127.0.0.1:$port" --inline-budget "$1" \
        >"$TMP/out.log" 2>"$TMP/err.log" &
    PID=$!
    on_exit "kill $PID 2>/dev/null"
    for _ in $(seq 100); do curl -fs "$URL/.well-known/kiln/health" >/dev/null && return; sleep 0.1; done
}

start 20ms
out=$(curl -s -m 10 "$URL/?1")
expect_eq "a quick guest answers inline" "busy 1 ms done" "$out"
expect_not_contains "a quick guest is not moved to an executor" "inline budget" "$(cat "$TMP/err.log")"
# (?150&cpu: 150 ms of the thread's CPU time, past the 20 ms budget however loaded the
# machine is; a wall-clock busy loop may use less CPU than the budget on a busy machine)
out=$(curl -s -m 30 -w ' %{http_code}' "$URL/?150&cpu")
expect_eq "a guest over the inline budget still answers, from its second run" $'busy 150 ms done\n 200' "$out"
expect_contains "the move to an executor thread is logged" \
    "component 'busy' ran past the inline budget (20 ms): running it on an executor thread" \
    "$(cat "$TMP/err.log")"
expect_eq "the first attempt's stderr is discarded (one line per request)" 1 \
    "$(grep -c 'busy attempt for 150 ms' "$TMP/err.log")"
expect_eq "the response is one body (no output of the first attempt)" 1 \
    "$(curl -s -m 30 "$URL/?150&cpu" | grep -c done)"
expect_eq "afterwards the component stays on executor threads (no second move)" 1 \
    "$(grep -c 'ran past the inline budget' "$TMP/err.log")"
kill "$PID"; wait "$PID" 2>/dev/null

start 0
out=$(curl -s -m 10 "$URL/?150")
expect_eq "--inline-budget 0: every request on an executor thread" "busy 150 ms done" "$out"
expect_not_contains "--inline-budget 0: no inline attempt" "inline budget" "$(cat "$TMP/err.log")"
check "a bad --inline-budget is refused" bash -c "! '$KILN' up -f '$TMP/app' --inline-budget soon"
finish
