#!/usr/bin/env bash
# kiln up serves the componentize-js wasi:http handler of the corpus (js-http, 14 MB: about
# 70 s to compile on the fast tier the first time, hence not part of make test; run by
# make test-full) and a fresh instance per request (a componentize-js instance answers only
# once). py-http, which once was refused here, is served by tests/e2e/up_py_http.sh.
source "$(dirname "$0")/../lib.sh"

CORPUS="$KILN_BUILD/components"
if ! out=$("$ROOT/tests/components/build.sh" "$CORPUS" js-http 2>&1); then
    fail "tests/components/build.sh builds js-http" "$out"
    finish
    exit
fi
pass "tests/components/build.sh builds js-http"
mkdir -p "$TMP/js"
cp "$CORPUS/js-http.wasm" "$TMP/js/app.wasm"
cat >"$TMP/js/spin.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "corpus"
[[trigger.http]]
route = "/..."
component = "app"
[component.app]
source = "app.wasm"
TOML

port=$(free_port)
URL="http://127.0.0.1:$port"
"$KILN" up -f "$TMP/js" --listen "127.0.0.1:$port" >"$TMP/out.log" 2>"$TMP/err.log" &
PID=$!
on_exit "kill $PID 2>/dev/null"
for _ in $(seq 3000); do curl -fs "$URL/.well-known/kiln/health" >/dev/null && break; sleep 0.1; done
r=$(curl -s -m 30 -i "$URL/some/path?x=1")
expect_contains "js-http: 200" "HTTP/1.1 200" "$r"
expect_contains "js-http: body" "hello from JavaScript GET /some/path" "$r"
expect_contains "js-http: header" "x-kiln-guest: js" "$r"
expect_contains "js-http: a second request (a fresh instance)" "hello from JavaScript POST /again" \
    "$(curl -s -m 30 -X POST --data-binary x "$URL/again")"
kill "$PID"
wait "$PID" 2>/dev/null
finish
