#!/usr/bin/env bash
# examples/polyglot: one manifest, four languages. kiln build compiles the JavaScript front
# end (componentize-js from the cached npm tools, ~15 s; its engine's first compile ~50 s of
# CPU, then from the test cache), the C components (clang), Rust (Debian's rustc) and
# AssemblyScript (npm ci + asc); kiln up serves GET / (JavaScript, which fetches
# http://process.spin.internal/process — service chaining to the C component — and renders
# its JSON as HTML), /process, and /c, /rust and /assemblyscript, each naming its language.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/example.sh"

# The JavaScript engine's first compile (on an empty compile cache) may take minutes here,
# more inside a sanitized kiln (.ci/run gives that run the plain run's cache): 10 minutes.
EXAMPLE_UP_TRIES=6000
example_copy polyglot || fail "copy examples/polyglot"
cp -R "$ROOT/sdk/lang" "$TMP/sdk/lang" || fail "copy sdk/lang"
# The Rust and AssemblyScript components use the templates' request/response modules in
# place (../../templates/...), as in the repository.
mkdir -p "$TMP/templates" && cp -R "$ROOT/templates/http-rust" "$ROOT/templates/http-assemblyscript" \
    "$TMP/templates/" || fail "copy the templates"
rm -rf "$APP/assemblyscript/target" "$APP/assemblyscript/node_modules"
if example_build polyglot; then
    for f in target/front.wasm target/process.wasm target/c.wasm target/rust.wasm assemblyscript/target/assemblyscript.wasm; do
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
        # The C back end on its own route.
        http GET "/process?text=a%20%C3%A9t%C3%A9%20b"
        expect_eq "GET /process is 200" 200 "$STATUS"
        expect_eq "GET /process analyses the text" \
            '{"text": "a été b", "chars": 7, "words": 3, "upper": "A éTé B"}' "$BODY"
        http POST /process --data-binary 'one two'
        expect_contains "POST /process reads the body" '"words": 2' "$BODY"
        # The JavaScript front end: / calls /process through service chaining.
        http GET "/?text=%3Cb%3Ehi%20there"
        expect_eq "GET / (JavaScript) is 200" 200 "$STATUS"
        expect_contains "GET / is HTML" "content-type: text/html; charset=utf-8" "$HEADERS"
        expect_contains "GET / is answered by the JavaScript component" "x-language: javascript" "$HEADERS"
        expect_contains "GET / renders /process's word count" '<td id="words">2</td>' "$BODY"
        expect_contains "GET / renders /process's upper-cased text, escaped" \
            '<td id="upper">&lt;B&gt;HI THERE</td>' "$BODY"
        expect_not_contains "GET / escapes the text" "<b>" "$BODY"
        http GET /
        expect_contains "GET / without text: the default text analysed" '<td id="words">5</td>' "$BODY"
        # Without the grant, the front end's fetch is refused: a 502 page, not a connection.
        example_down
        sed -i 's|^allowed_outbound_hosts = \["http://process.spin.internal"\]|allowed_outbound_hosts = []|' \
            "$APP/kiln.toml"
        if example_up; then
            http GET /
            expect_eq "GET / without the grant is 502" 502 "$STATUS"
            expect_contains "GET / without the grant says /process failed" "/process failed" "$BODY"
        fi
        http GET /python
        expect_eq "an unrouted path is 404" 404 "$STATUS"
    fi
fi
finish
