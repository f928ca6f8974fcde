#!/usr/bin/env bash
# kiln up's WAGI handler behind the server: every trigger's entrypoint is checked for the
# () -> () signature; log lines carry a long component id whole; a component whose grants
# have side effects never runs inline (so never twice for one request).
source "$(dirname "$0")/../lib.sh"
mkdir -p "$TMP/sig" "$TMP/long" "$TMP/side"
wat2wasm "$ROOT/tests/e2e/wat/entry_signatures.wat" -o "$TMP/sig/m.wasm"
clang --target=wasm32-wasi --sysroot=/usr -O2 "$ROOT/tests/e2e/guests/busy.c" -o "$TMP/busy.wasm"

# start DIR ARGS...: kiln up on a free port; sets URL and PID (waits for health).
start() {
    local dir=$1
    shift
    port=$(free_port)
    URL="http://127.0.0.1:$port"
    "$KILN" up -f "$dir" --listen "127.0.0.1:$port" "$@" >"$TMP/out.log" 2>"$TMP/err.log" &
    PID=$!
    on_exit "kill $PID 2>/dev/null"
    for _ in $(seq 100); do curl -fs "$URL/.well-known/kiln/health" >/dev/null && return; sleep 0.1; done
}

# sig_manifest ENTRY: two triggers of one component, the second with entrypoint ENTRY.
sig_manifest() {
    cat >"$TMP/sig/kiln.toml" <<TOML
spin_manifest_version = 2
[application]
name = "sig"
[[trigger.http]]
route = "/a"
component = "m"
executor = { type = "wagi" }
[[trigger.http]]
route = "/b"
component = "m"
executor = { type = "wagi", entrypoint = "$1" }
[component.m]
source = "m.wasm"
TOML
}

for entry in with_param two_results; do
    sig_manifest "$entry"
    err=$(timeout 60 "$KILN" up -f "$TMP/sig" --listen 127.0.0.1:0 2>&1 >/dev/null)
    expect_eq "a second trigger's entrypoint $entry (not () -> ()) is refused" 1 "$?"
    expect_contains "the refusal names $entry and its type" "entrypoint $entry must take no parameters" "$err"
done
sig_manifest handler
start "$TMP/sig"
expect_eq "a second trigger with a () -> () entrypoint serves" "ok" "$(curl -s -m 10 "$URL/b")"
expect_eq "the first trigger serves too" "ok" "$(curl -s -m 10 "$URL/a")"
kill "$PID"; wait "$PID" 2>/dev/null

# A 300-character component id: the log lines about its requests must carry it whole.
long=$(printf 'a%.0s' $(seq 300))
cp "$TMP/busy.wasm" "$TMP/long/busy.wasm"
cat >"$TMP/long/kiln.toml" <<TOML
spin_manifest_version = 2
[application]
name = "long"
[[trigger.http]]
route = "/..."
component = "$long"
executor = { type = "wagi" }
[component.$long]
source = "busy.wasm"
TOML
start "$TMP/long" --inline-budget 20ms
out=$(curl -s -m 10 "$URL/?150")
expect_eq "a component with a 300-character id answers" "busy 150 ms done" "$out"
expect_contains "the inline-budget line carries the whole id" \
    "component '$long' ran past the inline budget (20 ms): running it on an executor thread" \
    "$(cat "$TMP/err.log")"
kill "$PID"; wait "$PID" 2>/dev/null

# A component granted outbound hosts is not rerunnable: straight to executor threads.
cp "$TMP/busy.wasm" "$TMP/side/busy.wasm"
cat >"$TMP/side/kiln.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "side"
[[trigger.http]]
route = "/..."
component = "busy"
executor = { type = "wagi" }
[component.busy]
source = "busy.wasm"
allowed_outbound_hosts = ["https://example.com"]
TOML
start "$TMP/side" --inline-budget 20ms
out=$(curl -s -m 10 "$URL/?150")
expect_eq "a non-rerunnable component answers from an executor thread" "busy 150 ms done" "$out"
expect_not_contains "a non-rerunnable component never tries the inline path" "inline budget" \
    "$(cat "$TMP/err.log")"
expect_eq "a non-rerunnable component runs once per request" 1 \
    "$(grep -c 'busy attempt for 150 ms' "$TMP/err.log")"
kill "$PID"; wait "$PID" 2>/dev/null
finish
