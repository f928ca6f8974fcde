#!/usr/bin/env bash
# `kiln up -f FILE.wasm` serves a bare Wasm file as Spin's `spin up -f` does: a one-component
# app named after the file, every path ("/...") to it — a core WASI command module through
# WAGI, a wasi:http component as wasi:http; and WAGI's HTTP_CONTENT_LENGTH as Spin and Wagi
# set it (the request's Content-Length, which the HTTP server takes out of the headers), and
# HTTP_TRANSFER_ENCODING for a chunked request;
# middleware in front of a WAGI module is refused.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/up.sh"

T=${KILN_TOOLS:-/var/cache/kiln-tools}
W=$T/cargo/bin/wasm-tools
JL=$T/npm/node_modules/@bytecodealliance/jco/lib
mkdir -p "$TMP/app"
if ! clang --target=wasm32-wasi --sysroot=/usr -O2 "$GUESTS/wagi_edge.c" -o "$TMP/edge.wasm"; then
    fail "guest builds (clang wasm32-wasi)"
    finish
    exit
fi

up_file() { start_up_from "$1"; }
down() { stop_up; }

if up_file "$TMP/edge.wasm"; then
    pass "kiln up -f a core module"
    expect_eq "served on /" "hello 1" "$(curl -s "$URL/")"
    expect_eq "served on any path (/...)" "hello 1" "$(curl -s "$URL/deep/path")"
    env=$(curl -s -d 'hello' "$URL/env")
    expect_contains "WAGI: HTTP_CONTENT_LENGTH of a request with a body" \
        $'\nHTTP_CONTENT_LENGTH=5\n' "$env"
    expect_contains "WAGI: CONTENT_LENGTH too" $'\nCONTENT_LENGTH=5\n' "$env"
    env=$(curl -s "$URL/env")
    expect_not_contains "WAGI: no HTTP_CONTENT_LENGTH without a body" "HTTP_CONTENT_LENGTH=" "$env"
    env=$(curl -s -H 'Transfer-Encoding: chunked' -d 'hello' "$URL/env")
    expect_contains "WAGI: HTTP_TRANSFER_ENCODING of a chunked request" \
        $'\nHTTP_TRANSFER_ENCODING=chunked\n' "$env"
    expect_not_contains "WAGI: no HTTP_CONTENT_LENGTH for a chunked request" "HTTP_CONTENT_LENGTH=" "$env"
    expect_contains "WAGI: CONTENT_LENGTH of the chunked body as received" $'\nCONTENT_LENGTH=5\n' "$env"
else
    fail "kiln up -f a core module" "$(cat "$TMP/up.err")"
fi
down

# a wasi:http component (the C SDK's hello world)
if [ -x "$W" ] && [ -f "$JL/wasi_snapshot_preview1.reactor.wasm" ]; then
    cat >"$TMP/hello.c" <<'C'
#include "kiln.h"
int main(void)
{
    kiln_printf("hello from a bare component at %s\n", kiln_path());
    return kiln_send();
}
C
    mkdir -p "$TMP/wit/deps"
    printf 'package kiln:app;\nworld app {\n  include wasi:http/proxy@0.2.12;\n}\n' >"$TMP/wit/world.wit"
    cp -R "$JL/wit/builtin/0.2.12/." "$TMP/wit/deps/"
    rm -f "$TMP/wit/deps/"*.md
    if clang --target=wasm32-wasi --sysroot=/usr -mexec-model=reactor -O2 -I"$ROOT/sdk/c" \
        "$TMP/hello.c" "$ROOT/sdk/c/kiln.c" "$ROOT/sdk/c/kiln_http.c" -o "$TMP/core.wasm" &&
        "$W" component embed "$TMP/wit" --world app "$TMP/core.wasm" -o "$TMP/emb.wasm" &&
        "$W" component new "$TMP/emb.wasm" --adapt \
            "wasi_snapshot_preview1=$JL/wasi_snapshot_preview1.reactor.wasm" -o "$TMP/hello.wasm"; then
        if up_file "$TMP/hello.wasm"; then
            expect_eq "kiln up -f a wasi:http component" \
                "hello from a bare component at /a/b" "$(curl -s "$URL/a/b")"
        else
            fail "kiln up -f a wasi:http component" "$(cat "$TMP/up.err")"
        fi
        down
    else
        fail "the hello component builds"
    fi
else
    echo "up_wasm_file: SKIP the component case: wasm-tools or jco's adapter missing (run scripts/install-tools.sh)" >&2
fi

# middleware needs a wasi:http component: in front of a WAGI module it is refused
cat >"$TMP/mw.toml" <<TOML
spin_manifest_version = 2
[application]
name = "mw-wagi"
[[trigger.http]]
route = "/..."
component = "edge"
dependencies.middleware = [{ path = "edge.wasm" }]
[component.edge]
source = "edge.wasm"
TOML
out=$("$KILN" up -f "$TMP/mw.toml" --listen "127.0.0.1:$PORT" 2>&1)
expect_eq "middleware in front of a WAGI module is refused" 1 "$?"
expect_contains "... saying why" "middleware runs in front of a wasi:http component" "$out"

out=$("$KILN" up -f "$TMP/missing.wasm" --listen "127.0.0.1:$PORT" 2>&1)
expect_eq "a missing file is refused" 1 "$?"
expect_contains "... naming it" "missing.wasm" "$out"
finish
