#!/usr/bin/env bash
# The C guest SDK (sdk/c): its JSON reader/writer, request parsing from a CGI environment
# and response writing (the shared kiln.c with the WAGI backend kiln_wagi.c), natively
# under ASan+UBSan (tests/sdk/kiln_sdk_test.c); and that every file, the wasi:http backend
# kiln_http.c included, compiles for wasm32-wasi with warnings as errors (the wasi:http
# backend runs in tests/e2e/c_sdk_component.sh).
source "$(dirname "$0")/../lib.sh"

T="$TMP/kiln_sdk_test"
if ! cc -std=c11 -Wall -Wextra -Werror -Wshadow -Wvla -g -O1 -fsanitize=address,undefined \
    -fno-sanitize-recover=undefined -I"$ROOT/sdk/c" "$ROOT/tests/sdk/kiln_sdk_test.c" \
    "$ROOT/sdk/c/kiln.c" "$ROOT/sdk/c/kiln_wagi.c" -o "$T" 2>"$TMP/cc.err"; then
    fail "the SDK test builds natively" "$(cat "$TMP/cc.err")"
    finish
    exit
fi
pass "the SDK test builds natively"
for f in kiln kiln_wagi kiln_http; do
    check "the SDK's $f.c builds for wasm32-wasi with -Werror" clang --target=wasm32-wasi \
        --sysroot=/usr -std=c11 -Wall -Wextra -Werror -O2 -c "$ROOT/sdk/c/$f.c" -o "$TMP/$f.o"
done

out=$("$T" json 2>&1)
rc=$?
expect_eq "JSON reader and writer (sdk json)" 0 "$rc"
expect_contains "JSON cases ran" ", 0 failed" "$out"
[ $rc -eq 0 ] || echo "$out" >&2

out=$(printf 'hello\0world and more' | env -i REQUEST_METHOD=PUT \
    X_FULL_URL='http://h:1/users/a%20b/x?a=1' PATH_INFO='/x y' \
    X_PATH_MATCH_USER_ID='a b' \
    QUERY_STRING='a=1&b=two+words&flag&sp=%20x%2By&enc=%C3%A9&bad=%zz%4&a=second&empty=&;;' \
    HTTP_X_CUSTOM_THING=custom CONTENT_TYPE=text/plain CONTENT_LENGTH=11 "$T" request 2>&1)
expect_contains "method" "method=PUT" "$out"
expect_contains "path from X_FULL_URL" "path=/users/a%20b/x"$'\n' "$out"
expect_contains "path info" "info=/x y" "$out"
expect_contains "route parameter" "param=a b" "$out"
expect_contains "missing route parameter" "param-missing=(null)" "$out"
expect_contains "query: first of a repeated name" "q[a]=1" "$out"
expect_contains "query: + is a space" "q[b]=two words" "$out"
expect_contains "query: a flag is empty" "q[flag]="$'\n' "$out"
expect_contains "query: %XX decoded" "q[sp]= x+y" "$out"
expect_contains "query: UTF-8" "q[enc]=é" "$out"
expect_contains "query: malformed escapes kept" "q[bad]=%zz%4" "$out"
expect_contains "query: absent" "q[none]=(null)" "$out"
expect_contains "query: empty value" "q[empty]="$'\n' "$out"
expect_contains "query: count" "qcount=8" "$out"
expect_contains "header from HTTP_*" "header=custom" "$out"
expect_contains "Content-Type from CONTENT_TYPE" "ctype=text/plain" "$out"
expect_contains "body: CONTENT_LENGTH bytes, NUL kept" "body=11:hello" "$out"
expect_contains "body read once" "body-again=same" "$out"

out=$(env -i "$T" request </dev/null 2>&1)
expect_contains "no CGI variables: GET" "method=GET" "$out"
expect_contains "no CGI variables: path /" "path=/"$'\n' "$out"
expect_contains "no CONTENT_LENGTH: empty body" "body=0:" "$out"

out=$(env -i CONTENT_LENGTH=999999999999 "$T" request </dev/null 2>&1)
expect_contains "too large a body: NULL" "body=0:(null)" "$out"

out=$("$T" respond 2>&1)
expect_eq "respond exits 0" 0 "$?"
want=$'Status: 201 Created\nX-One: replaced\nSet-Cookie: a=1\nSet-Cookie: b=2\nContent-Type: application/json\n\n'
want+='{"s": "q\"b\\n\n\u0001\u007fé'$'\xef\xbf\xbd''", "n": 42}'
expect_eq "response: status, headers in order, escaped JSON body" "$want" "$out"
echo "$out" | sed -n '/^$/,$p' | tail -n +2 | python3 -c 'import json,sys; json.load(sys.stdin)' 2>/dev/null
expect_eq "the JSON body parses" 0 "$?"

out=$("$T" error 2>&1)
want=$'Status: 405 Method Not Allowed\nContent-Type: application/json\nAllow: POST\n\n'
want+='{"error": "no GET here: \"quoted\"", "status": 405}'
expect_eq "respond_error replaces body and type, keeps Allow" "$want" "$out"
finish
