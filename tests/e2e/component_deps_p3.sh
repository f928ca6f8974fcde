#!/usr/bin/env bash
# component_deps_p3.sh — Spin 3/4's HTTP middleware in its own form, wasi:http 0.3: a
# middleware component exporting and importing wasi:http/handler@0.3.0-rc-2026-03-15
# (tests/e2e/deps/p3_auth.wat) in front of a p3 handler (the WAT handler of
# up_wasi_http_p3.sh), composed at load time (component/compose.h):
#   - no `authorization` header: the middleware's own 401;
#   - with it: the handler's answer (its body, its header, its status; a POST body echoed
#     through both, 1 MiB of it) with the header the middleware added, the body given
#     on unread (the host sends it) or, with `x-copy`, read by the middleware
#     (response.consume-body's stream) and written to a stream of its own;
#   - a chain of two middleware (the same one twice) adds its header twice;
#   - a p3 middleware in front of a component not exporting the p3 handler is refused
#     naming the reason (Spin's composition needs the same interface all along).
# wasm-tools comes from scripts/install-tools.sh; without it this test fails.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/up.sh"
source "$(dirname "$0")/helpers/p3mw.sh"

A=$TMP/app
if ! p3mw_build "$A" handler; then
    finish
    exit 1
fi
check "the greeter parses" "$WT" parse "$ROOT/tests/e2e/deps/greeter.wat" -o "$A/greeter.wasm"

# manifest NAME MIDDLEWARE COMPONENT-FILE: an app with that middleware list.
manifest() {
    cat >"$A/$1" <<TOML
spin_manifest_version = 2
[application]
name = "p3mw"
[[trigger.http]]
route = "/..."
component = "h"
dependencies.middleware = $2
[component.h]
source = "$3"
[component.auth]
source = "auth.wasm"
TOML
}
manifest one.toml '[{ component = "auth" }]' handler.wasm
manifest two.toml '[{ component = "auth" }, { path = "auth.wasm" }]' handler.wasm
manifest mixed.toml '[{ component = "auth" }]' greeter.wasm

if start_up_from "$A/one.toml"; then
    code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/hello")
    expect_eq "no token: the middleware's 401" 401 "$code"
    out=$(curl -s -D "$TMP/h.txt" -H 'authorization: Bearer t' "$URL/hello")
    hdr=$(tr -d '\r' <"$TMP/h.txt")
    expect_eq "token: the handler's body" "hello from a p3 handler" "$out"
    expect_contains "token: 200" "HTTP/1.1 200" "$hdr"
    expect_contains "token: the handler's header" "x-p3: yes" "$hdr"
    expect_contains "token: the middleware's header" "x-middleware: auth-ok" "$hdr"
    out=$(curl -s -D "$TMP/h.txt" -H 'authorization: t' -X POST --data-binary "through" "$URL/x")
    expect_eq "POST: the body echoed through the middleware" "through" "$out"
    expect_contains "POST: the handler's status 201 kept" "HTTP/1.1 201" "$(cat "$TMP/h.txt")"
    head -c 1048576 /dev/urandom >"$TMP/big.bin"
    curl -s -H 'authorization: t' -X POST --data-binary @"$TMP/big.bin" -o "$TMP/got.bin" "$URL/x"
    check "POST 1 MiB: echoed byte for byte through the middleware" cmp "$TMP/big.bin" "$TMP/got.bin"
    out=$(curl -s -D "$TMP/h.txt" -H 'authorization: t' -H 'x-copy: 1' "$URL/hello")
    expect_eq "x-copy: the body read and written again by the middleware" \
        "hello from a p3 handler" "$out"
    expect_contains "x-copy: with its header" "x-middleware: auth-ok" "$(tr -d '\r' <"$TMP/h.txt")"
    curl -s -H 'authorization: t' -H 'x-copy: 1' -X POST --data-binary @"$TMP/big.bin" \
        -o "$TMP/got2.bin" "$URL/x"
    check "x-copy: 1 MiB through the middleware's own stream" cmp "$TMP/big.bin" "$TMP/got2.bin"
    code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/again")
    expect_eq "no token again: 401" 401 "$code"
    expect_contains "the chain is announced" "1 middleware in front of component h" \
        "$(cat "$TMP/up.err")"
else
    fail "kiln up with a p3 middleware starts" "$(tail -n 5 "$TMP/up.err")"
fi
stop_up

if start_up_from "$A/two.toml"; then
    curl -s -D "$TMP/h.txt" -o /dev/null -H 'authorization: t' "$URL/"
    n=$(tr -d '\r' <"$TMP/h.txt" | grep -c '^x-middleware: auth-ok$')
    expect_eq "two middleware: each adds its header" 2 "$n"
    code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/")
    expect_eq "two middleware: 401 from the first" 401 "$code"
else
    fail "kiln up with two p3 middleware starts" "$(tail -n 5 "$TMP/up.err")"
fi
stop_up

timeout 60 "$KILN" up -f "$A/mixed.toml" --listen "127.0.0.1:$PORT" >"$TMP/up.out" 2>"$TMP/up.err"
expect_eq "a p3 middleware in front of a non-p3 component: refused" 1 $?
expect_contains "the refusal says why" "does not export 'wasi:http/handler@0.3.0-rc-2026-03-15'" \
    "$(cat "$TMP/up.err")"

finish
