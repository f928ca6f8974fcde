#!/usr/bin/env bash
# up_wasi_http_p3_readback.sh — a p3 handler under `kiln up` that builds a request with
# request.new and reads it back with request.consume-body (a middleware): the Python
# handler tests/components/py-proxy-p3's POST /readback passes the client's body and
# trailers into request.new, consumes that request and answers with its stream and
# trailers: the body comes back whole (small and 1 MiB), the x-* headers and the built
# path with it.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/e2e/helpers/up.sh"

mkdir -p "$TMP/corpus" "$TMP/app"
if ! "$ROOT/tests/components/build.sh" "$TMP/corpus" py-proxy-p3 >"$TMP/build.log" 2>&1; then
    fail "tests/components/build.sh py-proxy-p3" "$(tail -20 "$TMP/build.log")"
    finish
    exit 1
fi
cp "$TMP/corpus/py-proxy-p3.wasm" "$TMP/app/handler.wasm"
cat >"$TMP/app/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "readback"
[[trigger.http]]
route = "/..."
component = "h"
[component.h]
source = "handler.wasm"
TOML
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
if ! start_up; then
    fail "kiln up" "$(tail -20 "$TMP/up.err")"
    finish
    exit 1
fi

out=$(curl -s -D "$TMP/h1" -H 'x-a: 1' --data-binary 'hello readback' "$URL/readback")
expect_eq "the body read back" "hello readback" "$out"
expect_contains "the x-* header" "x-a: 1" "$(tr -d '\r' <"$TMP/h1")"
expect_contains "the built path" "x-built-path: /built" "$(tr -d '\r' <"$TMP/h1")"
head -c 1048576 /dev/urandom >"$TMP/big"
curl -s -H 'x-a: 2' --data-binary @"$TMP/big" "$URL/readback" -o "$TMP/big.out"
expect_eq "1 MiB read back" "$(sha256sum <"$TMP/big")" "$(sha256sum <"$TMP/big.out")"
finish
