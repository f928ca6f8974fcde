#!/usr/bin/env bash
# kiln up serves the Redis and cron triggers (src/exec/trigger/) with the test component
# tests/components/c-triggers, against a real redis-server started here: a published message
# runs the component (its line appears in the log; address and channel from variables), a
# trapping handler and an error result are logged with the message and the trigger keeps
# going, the request timeout stops a looping handler, traps and timeouts are counted in the
# admin listener's metrics, the subscription comes back after the
# Redis server restarts, a cron job every second runs on its seconds over ~3 s, a cron
# handler's error is logged, bad trigger settings stop kiln up with a message, and SIGTERM
# stops it cleanly (exit 0) after the handler running then has finished.
source "$(dirname "$0")/../lib.sh"

CORPUS="$KILN_BUILD/components"
if ! out=$("$ROOT/tests/components/build.sh" "$CORPUS" c-triggers 2>&1); then
    fail "tests/components/build.sh builds c-triggers" "$out"
    finish
    exit
fi
pass "tests/components/build.sh builds c-triggers"
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    fail "redis-server and redis-cli are installed (Debian package redis-server)"
    finish
    exit
fi

APP="$TMP/app"
mkdir -p "$APP"
cp "$CORPUS/c-triggers.wasm" "$APP/"
RPORT=$(free_port)
REDIS_PID=
start_redis() {
    redis-server --port "$RPORT" --save '' --appendonly no --daemonize no \
        >>"$TMP/redis.log" 2>&1 &
    REDIS_PID=$!
    on_exit "kill -9 $REDIS_PID 2>/dev/null"
    for _ in $(seq 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && return; sleep 0.05; done
}
stop_redis() { kill "$REDIS_PID" 2>/dev/null; wait "$REDIS_PID" 2>/dev/null; }
publish() { redis-cli -p "$RPORT" publish "$1" "$2"; }

# start: kiln up on a free port; sets PID. The log is $TMP/err.log (truncated first).
start() {
    : >"$TMP/err.log"
    port=$(free_port)
    "$KILN" up -f "$APP" --listen "127.0.0.1:$port" "$@" >"$TMP/out.log" 2>>"$TMP/err.log" &
    PID=$!
    on_exit "kill -9 $PID 2>/dev/null"
}
# wait_log TEXT [TENTHS]: waits until the log contains TEXT (default 10 s).
wait_log() {
    for _ in $(seq "${2:-100}"); do grep -qF -- "$1" "$TMP/err.log" && return 0; sleep 0.1; done
    return 1
}
log() { cat "$TMP/err.log"; }

# ---- Redis ----
start_redis
cat >"$APP/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "triggers"
[variables]
redis_address = { required = true }
channel = { default = "messages" }
[application.trigger.redis]
address = "{{ redis_address }}"
[[trigger.redis]]
channel = "{{ channel }}"
component = "t"
[[trigger.redis]]
channel = "other"
address = "redis://127.0.0.1:$RPORT/0"
component = "t"
[component.t]
source = "c-triggers.wasm"
TOML
check "kiln check accepts an app with Redis triggers only" "$KILN" check -f "$APP"
out=$("$KILN" check -f "$APP" 2>&1)
expect_contains "kiln check lists the Redis triggers" "[[trigger.redis]] redis-trigger-1 -> t" "$out"
expect_not_contains "... as served" "not served" "$out"
# the address and channel are variables: --variable and a default
APORT=$(free_port)
start --variable "redis_address=redis://127.0.0.1:$RPORT" --request-timeout 1s \
    --admin "127.0.0.1:$APORT"
wait_log "subscribed to channel other" && wait_log "subscribed to channel messages"
expect_contains "both triggers subscribe" "subscribed to channel messages on 127.0.0.1:$RPORT" "$(log)"
expect_eq "one subscriber per channel" "1" "$(publish messages hello-kiln)"
wait_log "redis-message: hello-kiln"
expect_contains "a published message runs the component" "redis-message: hello-kiln" "$(log)"
publish other "to-the-other" >/dev/null
wait_log "redis-message: to-the-other"
expect_contains "a trigger's own address and channel" "redis-message: to-the-other" "$(log)"
publish messages trap >/dev/null
wait_log "trapped"
expect_contains "a trapping handler is logged with its trigger, component and message" \
    "trigger redis-trigger-1: component 't' trapped: " "$(log)"
expect_contains "... naming the message" 'a message of 4 bytes on messages ("trap")' "$(log)"
publish messages fail >/dev/null
wait_log "returned an error"
expect_contains "an error result is logged" \
    "component 't' returned an error, for a message of 4 bytes on messages (\"fail\")" "$(log)"
publish messages loop >/dev/null
wait_log "ran past its request timeout"
expect_contains "the request timeout stops a handler that loops, logged" \
    "component 't' stopped: ran past its request timeout (1000 ms) for a message of 4 bytes" "$(log)"
publish messages after-trap >/dev/null
wait_log "redis-message: after-trap"
expect_contains "the trigger keeps going after a trap" "redis-message: after-trap" "$(log)"
# 20 messages at once: each runs once, none lost
for i in $(seq 20); do publish messages "burst-$i" >/dev/null; done
wait_log "redis-message: burst-20"
sleep 0.3
expect_eq "a burst of 20 messages runs 20 handlers" "20" "$(grep -c 'redis-message: burst-' "$TMP/err.log")"
# a payload with a control byte: shown escaped in the log lines
publish messages "$(printf 'x\ty')" >/dev/null
wait_log 'redis-message: x'
expect_contains "a payload's control bytes are escaped in log lines" '("x\x09y")' "$(log)"
# the Redis server goes away and comes back: the subscription is made again
stop_redis
wait_log "the connection to 127.0.0.1:$RPORT broke"
expect_contains "a broken connection is logged" "broke" "$(log)"
start_redis
wait_log "subscribed again to channel messages" 100
expect_contains "the trigger subscribes again after Redis restarts" "subscribed again" "$(log)"
publish messages back-again >/dev/null
wait_log "redis-message: back-again"
expect_contains "messages run again after the reconnection" "redis-message: back-again" "$(log)"
# the admin listener counts the trigger's trap and timeout under its component
metrics=$(curl -s -m 10 "http://127.0.0.1:$APORT/metrics")
expect_contains "a trigger's trap is counted in kiln_traps_total" \
    'kiln_traps_total{component="t",kind="unreachable"} 1' "$metrics"
expect_contains "a trigger's timeout is counted in kiln_request_timeouts_total" \
    'kiln_request_timeouts_total{component="t"} 1' "$metrics"
# SIGTERM while a handler runs: the subscription stops, the handler finishes, exit 0
publish messages slow >/dev/null
sleep 0.2
kill -TERM "$PID"
wait "$PID"
expect_eq "SIGTERM stops kiln up cleanly" "0" "$?"
expect_contains "a handler running at SIGTERM finishes first" "redis-message: slow-done" "$(log)"
expect_eq "nothing subscribes after the stop" "0" "$(publish messages late)"

# ---- cron ----
cat >"$APP/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "cron"
[[trigger.cron]]
cron_expression = "* * * * * *"
component = "t"
[component.t]
source = "c-triggers.wasm"
TOML
start
wait_log "cron-event: "
sleep 3
n=$(grep -c '^cron-event: ' "$TMP/err.log")
if [ "$n" -ge 2 ] && [ "$n" -le 5 ]; then
    pass "a cron job every second runs 2..5 times in ~3 s"
else
    fail "a cron job every second runs 2..5 times in ~3 s" "got $n runs" "$(log)"
fi
# each run gets its firing time: consecutive whole seconds, each logged within a second of it
stamps=$(sed -n 's/^cron-event: //p' "$TMP/err.log")
first=$(echo "$stamps" | head -1)
expect_eq "the timestamps are consecutive seconds" \
    "$(seq "$first" $((first + $(echo "$stamps" | wc -l) - 1)) | tr '\n' ' ')" \
    "$(echo "$stamps" | tr '\n' ' ')"
now=$(date +%s)
last=$(echo "$stamps" | tail -1)
if [ $((now - last)) -ge 0 ] && [ $((now - last)) -le 2 ]; then
    pass "the timestamps are the current UTC seconds"
else
    fail "the timestamps are the current UTC seconds" "now $now, last $last"
fi
kill -TERM "$PID"
wait "$PID"
expect_eq "SIGTERM stops a cron app cleanly" "0" "$?"

# a handler error of a cron job is logged with the message and the firing time
cat >>"$APP/spin.toml" <<'TOML'
environment = { CRON_FAIL = "1" }
TOML
start
wait_log "returned an error"
expect_contains "a cron handler's error is logged with its message and firing" \
    "component 't' returned an error: \"cron said no\", for the firing of " "$(log)"
kill -TERM "$PID"
wait "$PID"

# ---- settings refused at start ----
bad() { # bad DESC EXPECTED-TEXT MANIFEST-TAIL
    printf 'spin_manifest_version = 2\n[application]\nname = "bad"\n%s\n[component.t]\nsource = "c-triggers.wasm"\n' \
        "$3" >"$APP/spin.toml"
    out=$("$KILN" up -f "$APP" --listen "127.0.0.1:$(free_port)" 2>&1 </dev/null)
    rc=$?
    expect_eq "$1: kiln up exits 1" "1" "$rc"
    expect_contains "$1: says why" "$2" "$out"
}
bad "a bad cron expression" 'cron_expression "61 * * * * *": bad second field' \
    "$(printf '[[trigger.cron]]\ncron_expression = "61 * * * * *"\ncomponent = "t"')"
bad "a Redis trigger without an address" "no Redis address" \
    "$(printf '[[trigger.redis]]\nchannel = "c"\ncomponent = "t"')"
bad "a Redis address that is not redis://" 'bad Redis address "http://x"' \
    "$(printf '[[trigger.redis]]\naddress = "http://x"\nchannel = "c"\ncomponent = "t"')"
stop_redis
finish
