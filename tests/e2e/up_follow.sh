#!/usr/bin/env bash
# kiln up --follow ID (Spin's): only the followed components' guest output reaches kiln's
# stderr. Two WAGI components write stderr lines naming their request's query:
#   - --follow a without --log-dir: a's lines on kiln's stderr, b's nowhere;
#   - --follow a with --log-dir: both components' files keep every line, a's are copied
#     to kiln's stderr (exec/guest_log.c's tee), b's are not;
#   - --follow-all with --log-dir: both on the terminal and in the files;
#   - --follow of an unknown component is refused, naming it and the app's components.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/up.sh"

mkdir -p "$TMP/app"
cat >"$TMP/talk.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
int main(void)
{
    const char *q = getenv("QUERY_STRING");
    fprintf(stderr, "said %s\n", q ? q : "");
    printf("Content-Type: text/plain\n\nok\n");
    return 0;
}
C
clang --target=wasm32-wasi --sysroot=/usr -O2 "$TMP/talk.c" -o "$TMP/app/talk.wasm" ||
    { fail "guest builds (clang wasm32-wasi)"; finish; exit; }
cat >"$TMP/app/spin.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "follow"
[[trigger.http]]
route = "/a"
component = "a"
executor = { type = "wagi" }
[[trigger.http]]
route = "/b"
component = "b"
executor = { type = "wagi" }
[component.a]
source = "talk.wasm"
[component.b]
source = "talk.wasm"
TOML

# run WORD ARGS...: kiln up ARGS, GET /a?WORD-a and /b?WORD-b, stop; stderr in $TMP/up.err.
run() {
    local w=$1
    shift
    if ! start_up --tier fast "$@"; then
        fail "kiln up $* starts" "$(tail -n 5 "$TMP/up.err")"
        return
    fi
    expect_eq "$w: GET /a" ok "$(curl -s -m 5 "$URL/a?$w-a")"
    expect_eq "$w: GET /b" ok "$(curl -s -m 5 "$URL/b?$w-b")"
    sleep 0.3 # the tee's thread writes a moment later
    stop_up
}

run one --follow a
E=$(cat "$TMP/up.err")
expect_contains "--follow a: a's output on the terminal" "said one-a" "$E"
expect_not_contains "--follow a: b's output not" "said one-b" "$E"

run two --follow a --log-dir "$TMP/logs"
E=$(cat "$TMP/up.err")
expect_contains "--follow a --log-dir: a's output copied to the terminal" "said two-a" "$E"
expect_not_contains "--follow a --log-dir: b's output not on the terminal" "said two-b" "$E"
expect_contains "--log-dir: a's file keeps its output" "said two-a" "$(cat "$TMP/logs/a_stderr.txt")"
expect_contains "--log-dir: b's file keeps its output" "said two-b" "$(cat "$TMP/logs/b_stderr.txt")"

run three --follow-all --log-dir "$TMP/logs"
E=$(cat "$TMP/up.err")
expect_contains "--follow-all --log-dir: a on the terminal" "said three-a" "$E"
expect_contains "--follow-all --log-dir: b on the terminal" "said three-b" "$E"
expect_contains "--follow-all --log-dir: b's file too" "said three-b" "$(cat "$TMP/logs/b_stderr.txt")"

run four --log-dir "$TMP/logs"
expect_not_contains "--log-dir alone: the files only (Kiln's default)" "said four-a" \
    "$(cat "$TMP/up.err")"

timeout 60 "$KILN" up -f "$TMP/app" --listen "127.0.0.1:$PORT" --follow zz >/dev/null 2>"$TMP/bad.err"
expect_eq "--follow of an unknown component: refused" 1 $?
expect_contains "the refusal names it" "--follow zz: the application has no component 'zz'" \
    "$(cat "$TMP/bad.err")"
expect_contains "and lists the app's components" "its components: a b" "$(cat "$TMP/bad.err")"

finish
