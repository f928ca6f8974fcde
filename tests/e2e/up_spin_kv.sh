#!/usr/bin/env bash
# kiln up serves Spin's key-value and variables host APIs to components (src/host/spin/),
# driven through the test handler tests/components/c-spin-kv over HTTP: set/get/exists/
# get-keys/delete in the default store, wasi:keyvalue (bucket, increment, cas, batch,
# list-keys), access-denied for labels a component is not granted, a store from a runtime
# config file, persistence across a restart and after SIGKILL right after an acknowledged
# set, the file in Spin's schema read by sqlite3 and a file written by sqlite3 read by the
# guest, concurrent requests on one key, SQLite waiting off the event loop, Spin's size limits, variables from defaults,
# SPIN_VARIABLE_*, the runtime config and --variable, --key-value seeding, a missing required
# variable refusing to start,
# and secrets kept out of the logs.
source "$(dirname "$0")/../lib.sh"

CORPUS="$KILN_BUILD/components"
if ! out=$("$ROOT/tests/components/build.sh" "$CORPUS" c-spin-kv 2>&1); then
    fail "tests/components/build.sh builds c-spin-kv" "$out"
    finish
    exit
fi
pass "tests/components/build.sh builds c-spin-kv"
if ! command -v sqlite3 >/dev/null; then
    echo "up_spin_kv: sqlite3 is not installed; the file checks need it" >&2
fi
APP="$TMP/app"
mkdir -p "$APP"
cp "$CORPUS/c-spin-kv.wasm" "$APP/"

cat >"$APP/spin.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "spin-kv"
[variables]
greeting = { default = "hello" }
api_key = { required = true, secret = true }
region = { default = "eu" }
[[trigger.http]]
route = "/a/..."
component = "kv"
[[trigger.http]]
route = "/b/..."
component = "nokv"
[component.kv]
source = "c-spin-kv.wasm"
key_value_stores = ["default", "extra"]
[component.kv.variables]
message = "{{ greeting }}, world"
key = "{{ api_key }}"
where = "{{ region }}"
[component.nokv]
source = "c-spin-kv.wasm"
TOML
cat >"$APP/runtime.toml" <<'TOML'
[key_value_store.extra]
type = "spin"
path = "data/extra.db"
[[config_provider]]
type = "static"
values = { region = "us" }
TOML

# start [ARGS...]: kiln up on a free port with the runtime config; sets URL and PID.
start() {
    port=$(free_port)
    URL="http://127.0.0.1:$port"
    SPIN_VARIABLE_API_KEY=topsecret-value "$KILN" up -f "$APP" --listen "127.0.0.1:$port" \
        --runtime-config-file "$APP/runtime.toml" "$@" >>"$TMP/out.log" 2>>"$TMP/err.log" &
    PID=$!
    on_exit "kill -9 $PID 2>/dev/null"
    for _ in $(seq 300); do curl -fs "$URL/.well-known/kiln/health" >/dev/null && return; sleep 0.1; done
}
stop() { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }
get() { curl -s -m 20 "$@"; }

# A required variable without a value: kiln up refuses, naming it.
out=$("$KILN" up -f "$APP" --listen 127.0.0.1:1 --runtime-config-file "$APP/runtime.toml" 2>&1)
expect_eq "a required variable without a value stops kiln up" 1 "$?"
expect_contains "... naming the variable and SPIN_VARIABLE_" "variable \`api_key\` is required" "$out"
expect_contains "... and the environment variable to set" "SPIN_VARIABLE_API_KEY" "$out"
# A granted label no runtime config defines: refused as Spin does.
out=$(SPIN_VARIABLE_API_KEY=x "$KILN" up -f "$APP" --listen 127.0.0.1:1 2>&1)
expect_contains "a granted store label that is not configured stops kiln up" \
    'unknown key_value_stores label "extra"' "$out"

start
err=$(cat "$TMP/err.log")
expect_not_contains "key_value_stores and variables are no longer reported as not served" \
    "Kiln has no host API" "$err"
expect_contains "the startup log names the stores" \
    "key-value store default at $APP/.kiln/sqlite_key_value.db, extra at $APP/data/extra.db" "$err"

# fermyon:spin/key-value
expect_eq "set" "ok" "$(get -X PUT --data-binary 'value one' "$URL/a/kv/default/k1")"
expect_eq "get" "value one" "$(get "$URL/a/kv/default/k1")"
expect_eq "get of an absent key: none (404 from the guest)" "404" \
    "$(get -o /dev/null -w '%{http_code}' "$URL/a/kv/default/nope")"
expect_eq "exists" "true" "$(get "$URL/a/exists/default/k1")"
expect_eq "exists of an absent key" "false" "$(get "$URL/a/exists/default/nope")"
get -X PUT --data-binary 'two' "$URL/a/kv/default/k2" >/dev/null
expect_eq "get-keys" "k1 k2" "$(get "$URL/a/keys/default" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "delete" "ok" "$(get -X DELETE "$URL/a/kv/default/k2")"
expect_eq "deleted: absent" "false" "$(get "$URL/a/exists/default/k2")"
expect_eq "an empty value is a value" "ok" "$(get -X PUT --data-binary '' "$URL/a/kv/default/empty")"
expect_eq "... that exists" "true" "$(get "$URL/a/exists/default/empty")"
expect_eq "a label the component is not granted: access-denied" "error: access-denied" \
    "$(get "$URL/a/kv/other/k1")"
expect_eq "a component granted no store: access-denied for default" "error: access-denied" \
    "$(get "$URL/b/kv/default/k1")"
expect_contains "access denied is logged with the component" \
    'component nokv: key-value store "default" is not granted' "$(cat "$TMP/err.log")"
expect_eq "the store of the runtime config" "ok" "$(get -X PUT --data-binary 'x' "$URL/a/kv/extra/e1")"
expect_eq "... is a separate store" "absent" "$(get "$URL/a/kv/default/e1")"
expect_eq "more than 256 stores open: store-table-full" "error: store-table-full" \
    "$(get "$URL/a/open-many/default")"
long=$(head -c 257 /dev/zero | tr '\0' k)
expect_contains "a key over 256 bytes: other" "error: other: the key is longer than 256 bytes" \
    "$(get -X PUT --data-binary 'v' "$URL/a/kv/default/$long")"
head -c 1048577 /dev/zero | tr '\0' v >"$TMP/big"
expect_contains "a value over 1 MiB: other" "error: other: the value is larger than 1048576 bytes" \
    "$(get -X PUT --data-binary @"$TMP/big" "$URL/a/kv/default/big")"
head -c 1048576 /dev/zero | tr '\0' v >"$TMP/max"
expect_eq "a value of exactly 1 MiB is stored" "ok" \
    "$(get -X PUT --data-binary @"$TMP/max" "$URL/a/kv/default/max")"
expect_eq "... and read back whole" "1048576" "$(get "$URL/a/kv/default/max" | wc -c | tr -d ' ')"

# wasi:keyvalue
expect_eq "wasi:keyvalue bucket sees the same store" "value one" "$(get "$URL/a/wkv/default/k1")"
expect_eq "wasi:keyvalue set" "ok" "$(get -X PUT --data-binary 'w' "$URL/a/wkv/default/w1")"
expect_eq "wasi:keyvalue access-denied" "error: access-denied" "$(get "$URL/a/wkv/nope/k")"
expect_eq "increment" "1" "$(get -X POST "$URL/a/incr/default/counter")"
expect_eq "increment again" "2" "$(get -X POST "$URL/a/incr/default/counter")"
expect_eq "cas on an unchanged key swaps" "swapped" \
    "$(get -X POST --data-binary 'swapped-in' "$URL/a/cas/default/k1")"
expect_eq "... the value" "swapped-in" "$(get "$URL/a/kv/default/k1")"
expect_eq "batch: set-many, get-many (absent keys left out), delete-many" "a=1 b=2" \
    "$(get -X POST "$URL/a/batch/default" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "batch: delete-many deleted" "false" "$(get "$URL/a/exists/default/a")"
expect_contains "list-keys" "counter" "$(get "$URL/a/list/default")"

# Concurrent requests on one key: 200 increments, none lost; 50 sets, all acknowledged.
seq 200 | xargs -P 32 -I{} curl -s -m 30 -o /dev/null -X POST "$URL/a/incr/default/hot"
expect_eq "200 concurrent increments of one key lose none" "201" \
    "$(get -X POST "$URL/a/incr/default/hot")"
codes=$(seq 50 | xargs -P 16 -I{} curl -s -m 30 -o /dev/null -w '%{http_code}\n' -X PUT \
    --data-binary 'v{}' "$URL/a/kv/default/same" | sort | uniq -c | tr -s ' ')
expect_eq "50 concurrent sets of one key all succeed" " 50 200" "$codes"
expect_contains "... and one of them is the value" "v" "$(get "$URL/a/kv/default/same")"

# 30 concurrent compare-and-swaps of one key: each swaps or sees a conflict, none fails.
out=$(seq 30 | xargs -P 16 -I{} curl -s -m 30 -X POST --data-binary 'c{}' "$URL/a/cas/default/cas" |
    sort | uniq -c | tr -s ' ')
expect_not_contains "concurrent cas: no store error" "error" "$out"
expect_contains "concurrent cas: swaps happen" "swapped" "$out"

# variables
expect_eq "a variable from a default through a template" "hello, world" "$(get "$URL/a/var/message")"
expect_eq "a variable from SPIN_VARIABLE_*" "topsecret-value" "$(get "$URL/a/var/key")"
expect_eq "the runtime config's provider before the default" "us" "$(get "$URL/a/var/where")"
expect_eq "an undefined variable" 'error: undefined: no variable for "kv"."nope"' \
    "$(get "$URL/a/var/nope")"
expect_contains "an invalid name" "error: invalid-name: \"Bad\"" "$(get "$URL/a/var/Bad")"
expect_eq "another component has none of them" 'error: undefined: no variable for "nokv"."message"' \
    "$(get "$URL/b/var/message")"
expect_eq "wasi:config get" "hello, world" "$(get "$URL/a/config/message")"
expect_eq "wasi:config get of an undefined name: none" "none" "$(get "$URL/a/config/nope")"
expect_eq "wasi:config get-all" "message=hello, world key=topsecret-value where=us" \
    "$(get "$URL/a/config-all" | tr '\n' ' ' | sed 's/ $//')"

# Persistence: a clean restart, then SIGKILL right after an acknowledged set.
stop
start
expect_eq "a value survives a restart" "swapped-in" "$(get "$URL/a/kv/default/k1")"
expect_eq "a counter survives a restart" "202" "$(get -X POST "$URL/a/incr/default/hot")"
expect_eq "set just before SIGKILL is acknowledged" "ok" \
    "$(get -X PUT --data-binary 'durable' "$URL/a/kv/default/killed")"
{ kill -9 "$PID" && wait "$PID"; } 2>/dev/null
start
expect_eq "an acknowledged set survives SIGKILL" "durable" "$(get "$URL/a/kv/default/killed")"
stop
# SQLite work runs off the event loop: with one loop, while another process holds the
# database's write lock (a set waits for it in SQLite's busy handler), the loop still answers.
start --workers 1
python3 - "$APP/.kiln/sqlite_key_value.db" "$TMP/locked" <<'PY' &
import sqlite3, sys, time, pathlib
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
pathlib.Path(sys.argv[2]).touch()
time.sleep(3)
db.execute("COMMIT")
PY
LOCKER=$!
for _ in $(seq 100); do [ -e "$TMP/locked" ] && break; sleep 0.05; done
curl -s -m 20 -X PUT --data-binary 'after the lock' "$URL/a/kv/default/waited" >"$TMP/put.out" &
PUT=$!
sleep 0.3
expect_eq "a request on the same loop is answered while a set waits for the lock"     "hello, world" "$(get -m 2 "$URL/a/var/message")"
check "... and the set is still waiting then" kill -0 "$PUT"
wait "$PUT"
wait "$LOCKER"
expect_eq "the set completes once the lock is released" "ok" "$(cat "$TMP/put.out")"
expect_eq "... and is stored" "after the lock" "$(get "$URL/a/kv/default/waited")"
stop
start --variable greeting=bonjour --key-value seeded=yes
expect_eq "--variable comes before the defaults" "bonjour, world" "$(get "$URL/a/var/message")"
expect_eq "--key-value seeds the default store" "yes" "$(get "$URL/a/kv/default/seeded")"
stop

# The file is Spin's: sqlite3 reads it, and a file sqlite3 writes in Spin's schema is read.
DB="$APP/.kiln/sqlite_key_value.db"
if command -v sqlite3 >/dev/null; then
    schema=$(sqlite3 "$DB" .schema | tr -s ' \n' ' ')
    expect_contains "the table is Spin's spin_key_value" "CREATE TABLE spin_key_value" "$schema"
    expect_contains "... with Spin's columns and key" "PRIMARY KEY (store, key)" "$schema"
    expect_eq "sqlite3 reads a value the guest wrote" "durable" \
        "$(sqlite3 "$DB" "SELECT value FROM spin_key_value WHERE store='default' AND key='killed'")"
    expect_eq "a counter is Spin's 8-byte little-endian integer" "CA00000000000000" \
        "$(sqlite3 "$DB" "SELECT hex(value) FROM spin_key_value WHERE key='hot'")"
    mkdir -p "$TMP/spin-state"
    sqlite3 "$TMP/spin-state/sqlite_key_value.db" "CREATE TABLE spin_key_value (store TEXT NOT NULL, \
        key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (store, key)); INSERT INTO spin_key_value \
        VALUES ('default', 'from-spin', 'made by sqlite3'), ('default', 'bin', X'00ff')"
    start --state-dir "$TMP/spin-state"
    expect_eq "a file made in Spin's schema by sqlite3 is read by the guest" "made by sqlite3" \
        "$(get "$URL/a/kv/default/from-spin")"
    expect_eq "... binary values too" "00ff" "$(get "$URL/a/kv/default/bin" | od -An -tx1 | tr -d ' \n')"
    stop
else
    echo "up_spin_kv: skipping the sqlite3 file checks: sqlite3 is not installed" >&2
fi

expect_not_contains "the secret's value never reaches the logs" "topsecret-value" \
    "$(cat "$TMP/err.log" "$TMP/out.log")"
finish
