#!/usr/bin/env bash
# kiln up --log-dir DIR: a WAGI guest's stderr goes to DIR/COMPONENT_stderr.txt (Spin's
# layout; COMPONENT_stdout.txt is created too, a WAGI guest's stdout being its response),
# each line prefixed with the request's id (the trace id when traced), control bytes
# escaped, lines of concurrent requests whole; nothing of it on kiln's stderr. Without
# --log-dir the output stays on kiln's stderr, prefixed with the component's name. A
# directory that cannot be made is refused at start.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/iso.sh"

mkdir -p "$TMP/app"
cat >"$TMP/talk.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
int main(void)
{
    const char *q = getenv("QUERY_STRING");
    fprintf(stderr, "first line %s\nsecond \033[31mline\n", q ? q : "");
    fprintf(stderr, "no newline at the end");
    printf("Content-Type: text/plain\n\nok\n");
    return 0;
}
C
clang --target=wasm32-wasi --sysroot=/usr -O2 "$TMP/talk.c" -o "$TMP/app/talk.wasm" ||
    { fail "guest builds (clang wasm32-wasi)"; finish; exit; }
printf '%s\n' 'spin_manifest_version = 2' '[application]' 'name = "logs"' '[[trigger.http]]' \
    'route = "/talk"' 'component = "talk"' 'executor = { type = "wagi" }' '[component.talk]' \
    'source = "talk.wasm"' >"$TMP/app/kiln.toml"

start_up --tier fast --log-dir "$TMP/logs" || { fail "kiln up --log-dir starts" "$(tail -n 5 "$TMP/up.err")"; finish; exit; }
pass "kiln up --log-dir starts"
check "DIR/talk_stdout.txt created" test -f "$TMP/logs/talk_stdout.txt"
check "DIR/talk_stderr.txt created" test -f "$TMP/logs/talk_stderr.txt"
expect_eq "GET /talk?a" "ok" "$(curl -s -m 5 "$URL/talk?a")"
E=$(cat "$TMP/logs/talk_stderr.txt")
expect_eq "three lines, one request id, escapes, a newline added" "3 1" \
    "$(wc -l <"$TMP/logs/talk_stderr.txt" | tr -d ' ') $(cut -d' ' -f1 "$TMP/logs/talk_stderr.txt" | sort -u | wc -l | tr -d ' ')"
expect_contains "first line with its request id" "] first line a" "$E"
expect_contains "an escape byte escaped" 'second \x1b[31mline' "$E"
expect_contains "the unterminated line" "] no newline at the end" "$E"
expect_eq "the request id: [16 hex digits]" "1" "$(head -n 1 "$TMP/logs/talk_stderr.txt" | grep -cE '^\[[0-9a-f]{16}\] first line a$')"
expect_not_contains "nothing on kiln's stderr" "first line" "$(cat "$TMP/up.err")"
# 20 concurrent requests: 60 whole lines, 20 distinct ids, each with its three lines
pids=()
for i in $(seq 1 20); do
    curl -s -m 5 -o /dev/null "$URL/talk?r$i" &
    pids+=($!)
done
wait "${pids[@]}"
expect_eq "20 concurrent requests: 63 lines in all" "63" "$(wc -l <"$TMP/logs/talk_stderr.txt" | tr -d ' ')"
expect_eq "20 concurrent requests: every line whole" "63" \
    "$(grep -cE '^\[[0-9a-f]{16}\] (first line r?[0-9a-z]*|second \\x1b\[31mline|no newline at the end)$' "$TMP/logs/talk_stderr.txt")"
expect_eq "21 distinct request ids" "21" "$(cut -d' ' -f1 "$TMP/logs/talk_stderr.txt" | sort -u | wc -l | tr -d ' ')"
expect_eq "the stdout file stays empty (WAGI's stdout is the response)" "0" "$(wc -c <"$TMP/logs/talk_stdout.txt" | tr -d ' ')"
stop_up "$UP_PID"

# traced: the request id is the trace id
mkdir -p "$TMP/recv"
RPORT=$(free_port)
python3 "$ROOT/tests/e2e/helpers/otlp_receiver.py" serve "$RPORT" "$TMP/recv" &
on_exit "kill $!"
: >"$TMP/logs/talk_stderr.txt"
OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$RPORT" start_up --tier fast --log-dir "$TMP/logs" ||
    { fail "kiln up --log-dir starts with tracing" "$(tail -n 5 "$TMP/up.err")"; finish; exit; }
curl -s -m 5 -o /dev/null -H "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" "$URL/talk?t"
expect_eq "traced: the lines carry the trace id" "[0af7651916cd43dd8448eb211c80319c] first line t" \
    "$(head -n 1 "$TMP/logs/talk_stderr.txt")"
stop_up "$UP_PID"

# without --log-dir: on kiln's stderr, prefixed with the component
start_up --tier fast || { fail "kiln up starts" "$(tail -n 5 "$TMP/up.err")"; finish; exit; }
curl -s -m 5 -o /dev/null "$URL/talk?s"
sleep 0.2
expect_contains "without --log-dir: kiln's stderr, [component] prefix" "[talk] first line s" "$(cat "$TMP/up.err")"
stop_up "$UP_PID"

# a log directory that cannot be made
touch "$TMP/file"
"$KILN" up -f "$TMP/app" --listen "127.0.0.1:$(free_port)" --log-dir "$TMP/file/sub" >"$TMP/bad.out" 2>"$TMP/bad.err"
expect_eq "--log-dir under a file: exit status 1" "1" "$?"
expect_contains "--log-dir under a file: says why" "error: --log-dir: $TMP/file/sub" "$(cat "$TMP/bad.err")"
finish
