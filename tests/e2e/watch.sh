#!/usr/bin/env bash
# kiln watch: edit a component's source -> it is rebuilt (its build.watch glob) and the
# app reloaded; the next requests get the new answer, no request fails meanwhile (a
# client loop without retries runs across the reload), and a slow request in flight
# during the reload completes with the old version's answer. Then an app with `path`
# dependencies and middleware: replacing their files reloads it.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/up.sh"

command -v clang >/dev/null || { fail "clang (wasm32-wasi) is needed"; finish; exit; }
mkdir -p "$TMP/app"
cat >"$TMP/app/app.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
int main(void)
{
    const char *q = getenv("QUERY_STRING");
    if (q && strcmp(q, "slow") == 0) {
        struct timespec ts = {2, 0};
        nanosleep(&ts, NULL);
    }
    printf("Content-Type: text/plain\n\nversion one\n");
    return 0;
}
C
cat >"$TMP/app/spin.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "watched"
[[trigger.http]]
route = "/..."
component = "app"
executor = { type = "wagi" }
[component.app]
source = "app.wasm"
[component.app.build]
command = "clang --target=wasm32-wasi --sysroot=/usr -O2 app.c -o app.wasm"
watch = ["*.c"]
TOML

"$KILN" watch -f "$TMP/app" --listen "127.0.0.1:$PORT" >"$TMP/watch.out" 2>"$TMP/watch.err" &
WATCH_PID=$!
on_exit "kill $WATCH_PID 2>/dev/null; sleep 0.5"
got=""
for _ in $(seq 1 600); do
    got=$(curl -s "$URL/" 2>/dev/null)
    [ "$got" = "version one" ] && break
    kill -0 "$WATCH_PID" 2>/dev/null || break
    sleep 0.1
done
expect_eq "kiln watch builds and serves" "version one" "$got"
if [ "$got" != "version one" ]; then
    cat "$TMP/watch.err" >&2
    finish
    exit
fi

# a slow request in flight across the reload
curl -s -o "$TMP/slow.out" -w '%{http_code}' "$URL/?slow" >"$TMP/slow.code" 2>&1 &
SLOW=$!
sleep 0.3
# a client without retries across the reload, until the new answer shows (or 120 s)
(
    end=$(($(date +%s) + 120))
    seen=0
    while [ "$(date +%s)" -lt "$end" ]; do
        r=$(curl -s -w ' %{http_code}' "$URL/" 2>&1) || r="curl-failed $r"
        r=$(echo "$r" | tr -d '\n')
        echo "$r"
        case "$r" in "version two 200") seen=$((seen + 1)) ;; esac
        [ "$seen" -ge 20 ] && break
        sleep 0.02
    done
) >"$TMP/client.log" &
CLIENT=$!
sed -i 's/version one/version two/' "$TMP/app/app.c"
wait "$CLIENT"
wait "$SLOW"
total=$(wc -l <"$TMP/client.log")
bad=$(grep -cv -e '^version one 200$' -e '^version two 200$' "$TMP/client.log")
echo "watch: $total requests across the reload, $bad failed"
expect_eq "no request failed during the reload" "0" "$bad"
[ "$bad" = 0 ] || grep -v -e '^version one 200$' -e '^version two 200$' "$TMP/client.log" >&2
expect_contains "the new version answers after the edit" "version two 200" "$(tail -1 "$TMP/client.log")"
expect_eq "the in-flight slow request completed" "200" "$(cat "$TMP/slow.code")"
expect_eq "it got the old version's answer" "version one" "$(cat "$TMP/slow.out")"
expect_contains "the rebuild is reported" "app.c changed: rebuilding" "$(cat "$TMP/watch.err")"
expect_contains "the reload is reported" "kiln watch: reloaded" "$(cat "$TMP/watch.err")"
# once the new version answered, the old one never does again
last_one=$(grep -n '^version one 200$' "$TMP/client.log" | tail -1 | cut -d: -f1)
first_two=$(grep -n '^version two 200$' "$TMP/client.log" | head -1 | cut -d: -f1)
kill "$WATCH_PID"
wait "$WATCH_PID" 2>/dev/null
# (answers of both may interleave only while both generations listen: before the old
# one is told to stop; after the last old answer, only new ones)
expect_eq "after the switch, only the new version" "0" \
    "$(tail -n +"$((${last_one:-0} + 1))" "$TMP/client.log" | grep -cv '^version two 200$')"
check "the new version answered" test -n "$first_two"
check "kiln watch stopped its kiln up" bash -c "! curl -s -m 1 $URL/ >/dev/null"

# --- `path` dependencies and `path` middleware are watched: a change reloads ---
# main.wasm's dependency greeter.wasm lies outside the manifest's tree (../deps), the
# auth middleware inside it; replacing either reloads the app. (Spin's spellings: --file,
# and `--` before kiln up's options.)
source "$(dirname "$0")/helpers/deps.sh"
if deps_build "$TMP/deps"; then
    B=$TMP/depsapp
    mkdir -p "$B"
    cp "$TMP/deps/main.wasm" "$TMP/deps/auth.wasm" "$B/"
    cat >"$B/spin.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "watched-deps"
[[trigger.http]]
route = "/..."
component = "main"
dependencies.middleware = [{ path = "auth.wasm" }]
[component.main]
source = "main.wasm"
[component.main.dependencies]
"kiln:test/greet" = { path = "../deps/greeter.wasm" }
"kiln:test/env" = { path = "../deps/envcount.wasm" }
"kiln:test/counter" = { path = "../deps/counter.wasm" }
TOML
    TOK="authorization: Bearer let-me-in"
    "$KILN" watch --file "$B" -- --listen "127.0.0.1:$PORT" >"$TMP/watch2.out" 2>"$TMP/watch2.err" &
    WATCH2=$!
    on_exit "kill $WATCH2 2>/dev/null; sleep 0.5"
    # answer WANT: polls (up to 60 s) until the app answers WANT; echoes the last answer
    answer() {
        local got=""
        for _ in $(seq 1 600); do
            got=$(curl -s -H "$TOK" "$URL/?name=w" 2>/dev/null)
            [ "$got" = "$1" ] && break
            kill -0 "$WATCH2" 2>/dev/null || break
            sleep 0.1
        done
        echo "$got"
    }
    # reloads N: waits (up to 60 s) until kiln watch reported N reloads
    reloads() {
        for _ in $(seq 1 600); do
            [ "$(grep -c 'kiln watch: reloaded' "$TMP/watch2.err")" -ge "$1" ] && break
            sleep 0.1
        done
    }
    expect_eq "kiln watch serves an app with dependencies and middleware" \
        "hello, w from the dependency" "$(answer "hello, w from the dependency")"
    sed 's/ from the dependency/ from the dependenCY/' "$ROOT/tests/e2e/deps/greeter.wat" \
        >"$TMP/greeter2.wat"
    check "the edited dependency builds" "$DEPS_W" parse "$TMP/greeter2.wat" -o "$TMP/g2.wasm"
    mv "$TMP/g2.wasm" "$TMP/deps/greeter.wasm"
    reloads 1
    expect_eq "one reload" "1" "$(grep -c 'kiln watch: reloaded' "$TMP/watch2.err")"
    expect_eq "a changed path dependency (outside the app's tree) is reloaded" \
        "hello, w from the dependenCY" "$(answer "hello, w from the dependenCY")"
    expect_contains "the dependency's change is reported" "greeter.wasm changed: reloading" \
        "$(cat "$TMP/watch2.err")"
    cp "$B/auth.wasm" "$TMP/auth2.wasm"
    mv "$TMP/auth2.wasm" "$B/auth.wasm"
    reloads 2
    expect_contains "a changed path middleware is reported" "auth.wasm changed: reloading" \
        "$(cat "$TMP/watch2.err")"
    expect_eq "and reloaded" "2" "$(grep -c 'kiln watch: reloaded' "$TMP/watch2.err")"
    expect_eq "the middleware still guards the reloaded app" "401" \
        "$(curl -s -o /dev/null -w '%{http_code}' "$URL/?name=w")"
    kill "$WATCH2"
    wait "$WATCH2" 2>/dev/null
fi

# the socket kiln watch hands down: kiln up refuses a KILN_LISTEN_FD that is not one
out=$(KILN_LISTEN_FD=1 "$KILN" up -f "$TMP/app" 2>&1)
expect_eq "KILN_LISTEN_FD=1 (not a socket): kiln up exits 1" 1 "$?"
expect_contains "... saying why" "KILN_LISTEN_FD=1: not a listening TCP socket" "$out"
out=$(KILN_LISTEN_FD=x "$KILN" up -f "$TMP/app" 2>&1)
expect_contains "KILN_LISTEN_FD=x is refused" "KILN_LISTEN_FD=x: not a listening TCP socket" "$out"
finish
