#!/usr/bin/env bash
# kiln watch: edit a component's source -> it is rebuilt (its build.watch glob) and the
# app reloaded; the next requests get the new answer, no request fails meanwhile (a
# client loop without retries runs across the reload), and a slow request in flight
# during the reload completes with the old version's answer.
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
finish
