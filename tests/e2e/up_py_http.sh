#!/usr/bin/env bash
# kiln up serves the componentize-py wasi:http handler of the corpus (tests/components/
# py-http): CPython's dynamically linked modules initialize their globals and segment
# offsets with extended-const expressions (`global.get $__memory_base; i32.const N;
# i32.add`), which wasm2c 1.0.32 cannot compile; Kiln evaluates them itself at
# instantiation (src/engine/consts.h). The handler must answer as its source says and as
# `jco serve` does in components_corpus.sh: "hello from Python METHOD PATH", an
# x-kiln-guest header, a fresh instance per request.
source "$(dirname "$0")/../lib.sh"

CORPUS="$KILN_BUILD/components"
if ! out=$("$ROOT/tests/components/build.sh" "$CORPUS" py-http 2>&1); then
    fail "tests/components/build.sh builds py-http" "$out"
    finish
    exit
fi
pass "tests/components/build.sh builds py-http"
mkdir -p "$TMP/app"
cp "$CORPUS/py-http.wasm" "$TMP/app/"
cat >"$TMP/app/spin.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "py-http"
[[trigger.http]]
route = "/py/..."
component = "py"
[component.py]
source = "py-http.wasm"
TOML

out=$("$KILN" compile "$TMP/app/py-http.wasm" 2>&1)
expect_contains "kiln compile: py-http compiles (extended-const initializers)" \
    "py-http.wasm: component, 14 core modules, fast tier" "$out"

port=$(free_port)
URL="http://127.0.0.1:$port"
"$KILN" up -f "$TMP/app" --listen "127.0.0.1:$port" >"$TMP/out.log" 2>"$TMP/err.log" &
PID=$!
on_exit "kill $PID 2>/dev/null"
for _ in $(seq 600); do
    curl -fs "$URL/.well-known/kiln/health" >/dev/null && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.2
done
err=$(cat "$TMP/err.log")
expect_contains "kiln up serves py-http as wasi:http" "component py: wasi:http, 14 core modules" "$err"
expect_not_contains "py-http runs from an image" "component py: no image" "$err"

r=$(curl -s -m 30 -i "$URL/py/some/path?x=1")
expect_contains "py-http: 200" "HTTP/1.1 200" "$r"
expect_contains "py-http: the body names the method and the path with the query" \
    "hello from Python GET /py/some/path?x=1" "$r"
expect_contains "py-http: the guest's header" "x-kiln-guest: python" "$r"
expect_contains "py-http: the guest's content-type" "content-type: text/plain" "$r"
r=$(curl -s -m 30 -X POST --data-binary 'ping' "$URL/py/echo")
expect_eq "py-http: POST" "hello from Python POST /py/echo" "$r"
# A fresh instance per request: the tenth answers like the first.
for i in $(seq 1 10); do r=$(curl -s -m 30 "$URL/py/n/$i"); done
expect_eq "py-http: ten requests in a row" "hello from Python GET /py/n/10" "$r"
# 160 requests from 8 clients at once: each copy of the image (the graph, the 14 core
# instances with their import words set from the copy's own bindings) answers its own
# request, and the guest's module global counts 1 (nothing of an earlier request's
# instance carries over).
seq 1 160 | xargs -P 8 -I{} sh -c \
    'curl -s -m 30 -D - "$0/py/c/{}" -o "$1/c.{}.body"' "$URL" "$TMP" >"$TMP/c.heads"
expect_eq "py-http: 160 concurrent requests answered 200" 160 \
    "$(grep -c '^HTTP/1.1 200' "$TMP/c.heads")"
expect_eq "py-http: each counted 1 (a fresh instance)" 160 \
    "$(grep -ci '^x-kiln-count: 1.$' "$TMP/c.heads")"
bad=0
for i in $(seq 1 160); do
    [ "$(cat "$TMP/c.$i.body" 2>/dev/null)" = "hello from Python GET /py/c/$i" ] || bad=$((bad + 1))
done
expect_eq "py-http: each answered its own path" 0 "$bad"
kill -0 "$PID" 2>/dev/null && pass "kiln up still runs" || fail "kiln up still runs" "$err"

finish
