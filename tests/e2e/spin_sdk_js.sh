#!/usr/bin/env bash
# kiln up serves components built from Spin's http-js template (Spin's JS SDK: esbuild with
# the SpinEsbuild plugin, then j2w of @spinframework/build-tools 1.0.7, on
# @spinframework/wasi-http-proxy 1.0.1, from npm; tests/components/spin-js-*), under a
# spin.toml as the template writes it: the template's hello world answers as documented; an
# app reads the request and fetch()es a local upstream granted by allowed_outbound_hosts,
# and one that is not granted is denied (logged) and fails the fetch.
# Spin's JS key-value and variables packages (@spinframework/spin-kv, spin-variables) are
# not on the npm registry this project installs from: docs/languages.md says so.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/e2e/helpers/up.sh"
source "$ROOT/tests/e2e/helpers/upstream.sh"

CORPUS="$KILN_BUILD/components"
if ! out=$("$ROOT/tests/components/build.sh" "$CORPUS" spin-js-hello spin-js-app 2>&1); then
    fail "tests/components/build.sh builds spin-js-hello spin-js-app" "$out"
    finish
    exit
fi
pass "tests/components/build.sh builds the http-js template's components"

UPORT=$(free_port)
DENIED_PORT=$(free_port)
upstream_start "$UPORT" || {
    finish
    exit
}
mkdir -p "$TMP/app/dist"
cp "$CORPUS/spin-js-hello.wasm" "$CORPUS/spin-js-app.wasm" "$TMP/app/dist/"
cat >"$TMP/app/spin.toml" <<TOML
spin_manifest_version = 2

[application]
authors = ["Dev Eloper <dev@example.com>"]
description = "Spin's http-js template"
name = "spin-js"
version = "0.1.0"

[[trigger.http]]
route = "/hello"
component = "spin-js-hello"

[[trigger.http]]
route = "/..."
component = "spin-js-app"

[component.spin-js-hello]
source = "dist/spin-js-hello.wasm"
exclude_files = ["**/node_modules"]
allowed_outbound_hosts = [
    # "tcp://127.0.0.1:*", # the template's line for the StarlingMonkey debugger
]
[component.spin-js-hello.build]
command = ["npm install", "npm run build"]
watch = ["src/**/*.js"]

[component.spin-js-app]
source = "dist/spin-js-app.wasm"
exclude_files = ["**/node_modules"]
allowed_outbound_hosts = ["http://127.0.0.1:$UPORT"]
[component.spin-js-app.build]
command = ["npm install", "npm run build"]
watch = ["src/**/*.js"]
TOML

# compiled first (kiln up waits 60 s for its health check; a cold cache takes longer)
for c in spin-js-hello spin-js-app; do
    out=$("$KILN" compile "$TMP/app/dist/$c.wasm" 2>&1)
    expect_contains "kiln compile: $c" "$c.wasm: component, 4 core modules, fast tier" "$out"
done
start_up || fail "kiln up starts" "$(tail -n 20 "$TMP/up.err")"
r=$(curl -s -m 60 -i "$URL/hello")
expect_contains "hello: 200" "HTTP/1.1 200" "$r"
expect_contains "hello: its content-type" "content-type: text/plain" "$r"
expect_contains "hello: its length" "Content-Length: 12" "$r"
expect_eq "hello: the body" "Hello, Spin!" "$(curl -s -m 60 "$URL/hello")"

r=$(curl -s -m 60 -i -X POST --data-binary 'ping' "$URL/echo/x")
expect_contains "app: 200" "HTTP/1.1 200" "$r"
expect_contains "app: its header" "x-js: spin-js-sdk" "$r"
expect_eq "app: method, path and body" "POST /echo/x ping" \
    "$(curl -s -m 60 -X POST --data-binary 'ping' "$URL/echo/x")"

r=$(curl -s -m 60 -i "$URL/fetch?url=http://127.0.0.1:$UPORT/item/7")
expect_contains "fetch: a granted upstream: 200" "HTTP/1.1 200" "$r"
expect_contains "fetch: ... the upstream's content-type" "x-fetched-type: text/plain" "$r"
expect_eq "fetch: ... the upstream's body" "item 7" \
    "$(curl -s -m 60 "$URL/fetch?url=http://127.0.0.1:$UPORT/item/7")"
r=$(curl -s -m 60 -i "$URL/fetch?url=http://127.0.0.1:$DENIED_PORT/item/1")
expect_contains "fetch: an upstream not granted: the fetch fails (502)" "HTTP/1.1 502" "$r"
expect_contains "fetch: ... StarlingMonkey's error" "fetch failed" "$r"
expect_contains "fetch: ... denied and logged" \
    "outbound request to http://127.0.0.1:$DENIED_PORT denied (not in allowed_outbound_hosts)" \
    "$(cat "$TMP/up.err")"
# a fresh instance per request: the tenth answers like the first
for i in $(seq 1 10); do r=$(curl -s -m 60 "$URL/n/$i"); done
expect_eq "app: ten requests in a row" "GET /n/10 " "$r"
kill -0 "$UP_PID" 2>/dev/null && pass "kiln up still runs" || fail "kiln up still runs" "$(tail -n 20 "$TMP/up.err")"

finish
