#!/usr/bin/env bash
# kiln up: WAGI handlers end to end — CGI variables, argv, body, environment (granted
# only), files (read-only), named segments, static responses, reserved paths, a fresh
# instance per request, the access log.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/up.sh"
build_guest() { clang --target=wasm32-wasi --sysroot=/usr -O2 "$GUESTS/$1.c" -o "$TMP/app/$1.wasm"; }

mkdir -p "$TMP/app/data" "$TMP/app/static/sub"
build_guest wagi_hello && build_guest wagi_edge &&
    clang --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor "$GUESTS/wagi_reactor.c" \
        -o "$TMP/app/wagi_reactor.wasm" || { fail "guests build (clang wasm32-wasi)"; finish; exit; }
echo "granted file" >"$TMP/app/data/hello.txt"
echo "static a" >"$TMP/app/static/a.txt"
echo "static b" >"$TMP/app/static/sub/b.txt"
echo "not granted" >"$TMP/app/static/c.md"
cat >"$TMP/app/kiln.toml" <<'EOF'
spin_manifest_version = 2

[application]
name = "e2e-app"
version = "0.9.1"

[[trigger.http]]
route = "/hello"
component = "hello"
executor = { type = "wagi" }

[[trigger.http]]
route = "/edge/..."
component = "edge"
executor = { type = "wagi" }

[[trigger.http]]
route = "/users/:id/posts/:post_id"
component = "dump"

[[trigger.http]]
route = "/argv/..."
component = "dump"
executor = { type = "wagi", argv = "prog ${SCRIPT_NAME} ${ARGS}", pass_authorization = true }

[[trigger.http]]
route = "/reactor"
component = "reactor"
executor = { type = "wagi", entrypoint = "handler" }

[[trigger.http]]
route = "/static"
static_response = { status_code = 201, headers = { x-static = "yes" }, body = "static body" }

[component.hello]
source = "wagi_hello.wasm"

[component.edge]
source = "wagi_edge.wasm"
environment = { GREETING = "from-manifest", OVERRIDE = "manifest" }
files = [{ source = "data", destination = "/data" }, "static/**/*.txt"]

[component.dump]
source = "wagi_edge.wasm"
environment = { DUMP_ENV = "1" }

[component.reactor]
source = "wagi_reactor.wasm"
EOF

export KILN_TEST_HOST_SECRET=leaked
if ! start_up -e FROM_CLI=yes -e OVERRIDE=cli --workers 2; then
    fail "kiln up starts" "$(cat "$TMP/up.err")"
    finish
    exit
fi
pass "kiln up starts"
out=$(cat "$TMP/up.out")
expect_contains "prints the URL" "Serving $URL" "$out"
expect_contains "prints the routes" "hello: $URL/hello" "$out"
expect_contains "prints wildcard routes" "edge: $URL/edge/..." "$out"
expect_contains "notes the default executor" "running it as WAGI" "$(cat "$TMP/up.err")"

# a fresh instance per request: the static counter is 1 every time
for i in 1 2 3 4 5; do
    expect_eq "hello counter is 1 (request $i)" "hello 1" "$(curl -s "$URL/hello")"
done
# a reactor: _initialize ran once, before the image; each request calls the entrypoint
for i in 1 2 3; do
    expect_eq "reactor: constructor ran once, fresh instance (request $i)" \
        "ctor=1 calls=1 query=n=$i" "$(curl -s "$URL/reactor?n=$i")"
done
expect_eq "edge counter is 1" "1" "$(curl -s "$URL/edge/count")"
expect_eq "edge counter is 1 again" "1" "$(curl -s "$URL/edge/count")"

# reserved paths, 404s, static responses
expect_eq "spin health" "OK" "$(curl -s "$URL/.well-known/spin/health")"
expect_eq "kiln health" "OK" "$(curl -s "$URL/.well-known/kiln/health")"
info=$(curl -s "$URL/.well-known/spin/info")
expect_contains "info has the app name" '"name":"e2e-app"' "$info"
expect_contains "info has the version" '"version":"0.9.1"' "$info"
expect_eq "other spin well-known is 404" "404" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/.well-known/spin/other")"
expect_eq "unrouted path is 404" "404" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/nothing/here")"
expect_eq "exact route does not match below it" "404" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/hello/x")"
st=$(curl -s -i "$URL/static")
expect_contains "static status" "HTTP/1.1 201" "$st"
expect_contains "static header" "x-static: yes" "$st"
expect_contains "static body" "static body" "$st"

# CGI variables, argv, granted environment only
# (a newline on both sides, so that every variable can be matched as a whole line)
env=$'\n'$(curl -s -H 'X-Test: hi' -H 'Authorization: Bearer secret' "$URL/edge/env?a=1&b=x%20y")$'\n'
expect_contains "REQUEST_METHOD" $'\nREQUEST_METHOD=GET\n' "$env"
expect_contains "SCRIPT_NAME" $'\nSCRIPT_NAME=/edge\n' "$env"
expect_contains "PATH_INFO" $'\nPATH_INFO=/env\n' "$env"
expect_contains "QUERY_STRING" $'\nQUERY_STRING=a=1&b=x%20y\n' "$env"
expect_contains "GATEWAY_INTERFACE" $'\nGATEWAY_INTERFACE=CGI/1.1\n' "$env"
expect_contains "SERVER_NAME" $'\nSERVER_NAME=127.0.0.1\n' "$env"
expect_contains "SERVER_PORT" $'\nSERVER_PORT='"$PORT"$'\n' "$env"
expect_contains "SERVER_PROTOCOL" $'\nSERVER_PROTOCOL=HTTP/1.1\n' "$env"
expect_contains "REMOTE_ADDR" $'\nREMOTE_ADDR=127.0.0.1\n' "$env"
expect_contains "X_FULL_URL" $'\nX_FULL_URL='"$URL"$'/edge/env?a=1&b=x%20y\n' "$env"
expect_contains "X_MATCHED_ROUTE" $'\nX_MATCHED_ROUTE=/edge/...\n' "$env"
expect_contains "X_COMPONENT_ROUTE" $'\nX_COMPONENT_ROUTE=/edge\n' "$env"
expect_contains "X_RAW_PATH_INFO" $'\nX_RAW_PATH_INFO=/env\n' "$env"
expect_contains "X_CLIENT_ADDR" $'\nX_CLIENT_ADDR=127.0.0.1:' "$env"
expect_contains "HTTP_ header" $'\nHTTP_X_TEST=hi\n' "$env"
expect_contains "HTTP_HOST" $'\nHTTP_HOST=127.0.0.1:'"$PORT"$'\n' "$env"
expect_not_contains "no HTTP_AUTHORIZATION" "HTTP_AUTHORIZATION" "$env"
expect_contains "component environment" $'\nGREETING=from-manifest\n' "$env"
expect_contains "-e environment" $'\nFROM_CLI=yes\n' "$env"
expect_contains "-e overrides the manifest" $'\nOVERRIDE=cli\n' "$env"
expect_not_contains "host environment invisible" "KILN_TEST_HOST_SECRET" "$env"

expect_not_contains "host PATH invisible" $'\nPATH=' "$env"
expect_contains "argv[0] is SCRIPT_NAME" $'\nargv[0]=/edge\n' "$env"
expect_contains "argv from the query" $'\nargv[1]=a=1\nargv[2]=b=x y\n' "$env"
env=$'\n'$(curl -s -H 'Authorization: Basic eDp5' "$URL/argv/deep?q=1")$'\n'
expect_contains "pass_authorization opts in" $'\nHTTP_AUTHORIZATION=Basic eDp5\n' "$env"
expect_contains "manifest argv template" $'\nargv[0]=prog\nargv[1]=/argv\nargv[2]=q=1\n' "$env"
env=$'\n'$(curl -s "$URL/users/42/posts/a%20b")$'\n'
expect_contains "named segment id" $'\nX_PATH_MATCH_ID=42\n' "$env"
expect_contains "named segment post_id (decoded)" $'\nX_PATH_MATCH_POST_ID=a b\n' "$env"
expect_contains "route with segments" $'\nX_MATCHED_ROUTE=/users/:id/posts/:post_id\n' "$env"
env=$'\n'$(curl -s -X POST --data-binary 'abc' -H 'Content-Type: text/x-test' "$URL/argv/")$'\n'
expect_contains "CONTENT_LENGTH" $'\nCONTENT_LENGTH=3\n' "$env"
expect_contains "CONTENT_TYPE" $'\nCONTENT_TYPE=text/x-test\n' "$env"
expect_contains "REQUEST_METHOD POST" $'\nREQUEST_METHOD=POST\n' "$env"

# body on stdin
head -c 200000 /dev/urandom >"$TMP/body.bin"
curl -s -X POST --data-binary @"$TMP/body.bin" "$URL/edge/echo" -o "$TMP/echo.bin"
check "request body echoed byte for byte" cmp "$TMP/body.bin" "$TMP/echo.bin"
curl -s -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/body.bin" "$URL/edge/echo" -o "$TMP/echo2.bin"
check "chunked request body echoed" cmp "$TMP/body.bin" "$TMP/echo2.bin"
env=$'\n'$(curl -s -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/body.bin" "$URL/argv/")$'\n'
expect_contains "CONTENT_LENGTH of a chunked body (collected before the guest runs)" \
    $'\nCONTENT_LENGTH=200000\n' "$env"

# files: read-only, only what is granted
f=$(curl -s "$URL/edge/file?/data/hello.txt")
expect_contains "mounted directory readable" "granted file" "$f"
expect_contains "mounted directory read-only" "read-only" "$f"
expect_contains "glob file readable" "static a" "$(curl -s "$URL/edge/file?/static/a.txt")"
expect_contains "glob file below readable" "static b" "$(curl -s "$URL/edge/file?/static/sub/b.txt")"
expect_eq "file outside the glob absent" "404" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/edge/file?/static/c.md")"
expect_eq "host files absent" "404" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/edge/file?/etc/passwd")"
expect_eq "no escape with .." "404" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/edge/file?/data/../../../etc/passwd")"

# access log: one line per request with method, path, status, bytes, duration, component
sleep 0.2
log=$(cat "$TMP/up.out")
expect_contains "access log line" "GET /hello 200 8 " "$log"
expect_contains "access log component and start time" " hello start=" "$log"
expect_contains "access log 404" "GET /nothing/here 404 " "$log"
n=$(grep -c ' GET /hello 200 ' "$TMP/up.out")
expect_eq "one access log line per request" "5" "$n"

# absolute-form request targets (RFC 9112 3.2.2, what a client set up for a proxy sends):
# the URL's path and query are the request's, its authority replaces the Host header
abs=$'\n'$(curl -s --request-target "http://Example.test:8080/edge/env?z=1" "$URL/")$'\n'
expect_contains "absolute-form: PATH_INFO" $'\nPATH_INFO=/env\n' "$abs"
expect_contains "absolute-form: QUERY_STRING" $'\nQUERY_STRING=z=1\n' "$abs"
expect_contains "absolute-form: SERVER_NAME from the URL" $'\nSERVER_NAME=Example.test\n' "$abs"
expect_contains "absolute-form: SERVER_PORT from the URL" $'\nSERVER_PORT=8080\n' "$abs"
expect_contains "absolute-form: HTTP_HOST from the URL" $'\nHTTP_HOST=Example.test:8080\n' "$abs"
expect_eq "absolute-form with an upper-case scheme" "hello 1" \
    "$(curl -s --request-target "HTTP://127.0.0.1:$PORT/hello" "$URL/")"
expect_eq "absolute-form without a path is /, which has no route" "404" \
    "$(curl -s -o /dev/null -w '%{http_code}' --request-target "http://127.0.0.1:$PORT?x=1" "$URL/")"
expect_eq "a non-http absolute target: 400" "400" \
    "$(curl -s -o /dev/null -w '%{http_code}' --request-target "ftp://127.0.0.1/hello" "$URL/")"
expect_eq "an absolute target without an authority: 400" "400" \
    "$(curl -s -o /dev/null -w '%{http_code}' --request-target "http:///hello" "$URL/")"

kill -TERM "$UP_PID"
wait "$UP_PID"
expect_eq "SIGTERM exits 0" "0" "$?"

# --quiet: no access log
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
if start_up --quiet; then
    curl -s "$URL/hello" >/dev/null
    kill -TERM "$UP_PID"
    wait "$UP_PID"
    expect_not_contains "--quiet: no access log" "GET /hello" "$(cat "$TMP/up.out")"
else
    fail "kiln up --quiet starts" "$(cat "$TMP/up.err")"
fi

# grants no host API serves yet load, and the log says the guest cannot use them
cat >"$TMP/app/kiln.toml" <<'EOF'
spin_manifest_version = 2
[application]
name = "grants"
[variables]
api_base = { default = "https://example.com" }
[[trigger.http]]
route = "/hello"
component = "hello"
executor = { type = "wagi" }
[[trigger.http]]
route = "/plain"
component = "plain"
executor = { type = "wagi" }
[component.hello]
source = "wagi_hello.wasm"
key_value_stores = ["default"]
allowed_outbound_hosts = ["https://api.example.com"]
variables = { url = "{{ api_base }}/v1" }
[component.plain]
source = "wagi_hello.wasm"
EOF
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
if start_up --quiet; then
    expect_eq "a component with unserved grants still answers" "hello 1" "$(curl -s "$URL/hello")"
    expect_contains "unserved grants are named" \
        "component hello: allowed_outbound_hosts, key_value_stores and variables are granted, but Kiln has no host API for them yet" \
        "$(cat "$TMP/up.err")"
    expect_not_contains "no warning for a component without grants" "component plain: " \
        "$(grep -v 'tier ready' "$TMP/up.err")"
else
    fail "kiln up starts with unserved grants" "$(cat "$TMP/up.err")"
fi
finish
