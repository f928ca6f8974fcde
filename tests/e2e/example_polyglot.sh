#!/usr/bin/env bash
# examples/polyglot: one manifest, three languages. kiln build compiles the C (clang),
# Rust (Debian's rustc) and AssemblyScript (npm ci + asc) components; kiln up serves
# GET /c, /rust and /assemblyscript, each naming its language.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/example.sh"

# The example carries copies of the templates' request/response modules: keep them equal.
check "examples/polyglot/rust/kiln.rs is the http-rust template's" \
    cmp "$ROOT/templates/http-rust/src/kiln.rs" "$ROOT/examples/polyglot/rust/kiln.rs"
check "examples/polyglot/assemblyscript/assembly/kiln.ts is the template's" \
    cmp "$ROOT/templates/http-assemblyscript/assembly/kiln.ts" \
    "$ROOT/examples/polyglot/assemblyscript/assembly/kiln.ts"

example_copy polyglot || fail "copy examples/polyglot"
rm -rf "$APP/assemblyscript/target" "$APP/assemblyscript/node_modules"
if example_build polyglot; then
    for f in target/c.wasm target/rust.wasm assemblyscript/target/assemblyscript.wasm; do
        check "kiln build produced $f" test -s "$APP/$f"
    done
    if example_up; then
        for pair in c:C rust:Rust assemblyscript:AssemblyScript; do
            route=${pair%%:*} lang=${pair#*:}
            http GET "/$route"
            expect_eq "GET /$route is 200" 200 "$STATUS"
            expect_eq "GET /$route names its language" "Hello from $lang, world!" "$BODY"
            expect_contains "GET /$route is text/plain" "content-type: text/plain" "$HEADERS"
            expect_contains "GET /$route sets X-Language" "x-language: $(tr 'A-Z' 'a-z' <<<"$lang")" "$HEADERS"
            http GET "/$route?name=Ada+L%C3%B6we"
            expect_eq "GET /$route decodes the query" "Hello from $lang, Ada Löwe!" "$BODY"
            http POST "/$route" -d x
            expect_eq "POST /$route is 405" 405 "$STATUS"
            expect_contains "POST /$route: JSON error" '"status": 405' "$BODY"
            expect_contains "POST /$route: Allow" "allow: get, head" "$HEADERS"
        done
        http GET /python
        expect_eq "an unrouted path is 404" 404 "$STATUS"
    fi
fi
finish
