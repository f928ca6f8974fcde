#!/usr/bin/env bash
# The C SDK's two forms, as a developer uses them (kiln new, kiln build, kiln up):
#   - `kiln new http-c` builds a wasi:http component (sdk/kiln_http.c + jco) that kiln up
#     serves: the template's GET / ?name= / 405, then tests/sdk/echo_handler.c in its place
#     (query decoding, headers, POST bodies small and large, a large response written in
#     pieces, status, JSON, route parameters, a main that does not send);
#   - the same component under `jco serve` (the reference; one instance for all requests,
#     which also checks that the SDK forgets each request) gives the same status, headers
#     and body. Left out of the comparison: date, server, connection, keep-alive (the
#     server's own), and transfer-encoding/content-length: framing, which each server
#     chooses (kiln sends a content-length, jco chunks); the body bytes are compared whole.
#     jco serve keeps only the last of repeated response headers (preview2-shim's
#     dist/io/worker-http.js passes them to Node's writeHead through Object.fromEntries),
#     so kiln's answers are compared with the earlier repeats removed;
#   - the same component under `wasmtime serve` (a fresh instance per request) gives the
#     same answers too, when wasmtime-cli is built (scripts/install-wasmtime.sh);
#   - `kiln new http-c-wagi` builds a WAGI module from the same sources, and the echo
#     handler answers the same under WAGI as as a component.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/example.sh"

JCO="${KILN_TOOLS:-/var/cache/kiln-tools}/npm/node_modules/.bin/jco"

# up DIR: kiln up of DIR/kiln.toml on a free port (helpers/example.sh); sets URL, UP_PID.
up() {
    APP=$1 MANIFEST=kiln.toml
    example_up
}
down() { example_down; }

# norm BASE-URL REQUEST: the answer as "STATUS", the headers (names lowercased, sorted,
# without the server's own and framing ones), a blank line and the body.
norm() {
    local base=$1 req=$2 path args
    path=${req##* }
    args=(${req% *})
    [ "$path" = "$req" ] && args=()
    curl -s -m 30 -D "$TMP/h" -o "$TMP/b" "${args[@]}" "$base$path"
    head -1 "$TMP/h" | awk '{print $2}'
    tail -n +2 "$TMP/h" | tr -d '\r' | awk '{ i = index($0, ":"); print tolower(substr($0, 1, i)) substr($0, i + 1) }' |
        grep -vE '^(date|server|connection|keep-alive|transfer-encoding|content-length):|^$' | LC_ALL=C sort
    echo
    if [ "$(wc -c <"$TMP/b")" -gt 2048 ]; then
        echo "$(wc -c <"$TMP/b") bytes, sha256 $(sha256sum <"$TMP/b" | cut -d' ' -f1)"
    else
        cat "$TMP/b"
    fi
}

head -c 100000 /dev/urandom >"$TMP/big.bin"
BIGSUM=$(python3 -c 'import sys
h = 2166136261
for b in open(sys.argv[1], "rb").read(): h = ((h ^ b) * 16777619) & 0xffffffff
print("%08x" % h)' "$TMP/big.bin")
# The requests compared between the forms and servers ("CURL-ARGS... PATH").
REQS=(
    "-H X-Test:hello /a/b%20c?x=1&y=two+words&flag&e=%C3%A9"
    "-X POST -H Content-Type:text/plain --data-binary ping /post"
    "-X POST --data-binary @$TMP/big.bin /upload?sum"
    "/?big=100000"
    "/?status=201"
    "-X DELETE /x"
    "-X POST --data-binary {\"name\":\"Ada\\u00e9\"} /?json"
    "-X POST --data-binary {\"name\": /?json"
)

# last_of_repeated: a norm output with only the last of each repeated header name.
last_of_repeated() {
    awk 'NR == 1 || body { print; next }
         /^$/ { for (i = 1; i <= n; i++) if (last[name[i]] == i) print line[i]; print; body = 1; next }
         { n++; line[n] = $0; name[n] = substr($0, 1, index($0, ":")); last[name[n]] = n }'
}

# ---- kiln new http-c: a wasi:http component ----
cd "$TMP" || exit 1
out=$("$KILN" templates list 2>&1)
expect_contains "templates list: http-c is a wasi:http component" "http-c              A wasi:http component in C" "$out"
expect_contains "templates list: http-c-wagi" "http-c-wagi         A WAGI HTTP handler in C" "$out"
check "kiln new http-c app" "$KILN" new http-c app
for f in sdk/kiln.h sdk/kiln.c sdk/kiln_backend.h sdk/kiln_http.c sdk/kiln_wagi.c sdk/kiln-componentize.sh; do
    check "kiln new wrote $f (the SDK's own)" cmp "$ROOT/sdk/c/${f#sdk/}" "app/$f"
done
cd app || exit 1
if ! "$KILN" build >"$TMP/build.out" 2>&1; then
    fail "kiln build of http-c" "$(tail -n 20 "$TMP/build.out")"
    finish
    exit
fi
pass "kiln build of http-c"
expect_eq "target/app.wasm is a component (layer 1)" "0061736d0d000100" "$(head -c 8 target/app.wasm | od -An -tx1 | tr -d ' \n')"
expect_contains "kiln check: served as wasi:http" "-> app (wasi:http: a component and no executor)" "$("$KILN" check 2>&1)"

if up "$PWD"; then
    r=$(curl -s "$URL/")
    expect_eq "component: GET / greets" "Hello from Kiln!" "$r"
    r=$(curl -s "$URL/?name=Ada%20L")
    expect_eq "component: the query reaches the handler" "Hello, Ada L, from Kiln!" "$r"
    r=$(curl -s -i -X DELETE "$URL/")
    expect_contains "component: DELETE is 405" "HTTP/1.1 405" "$r"
    expect_contains "component: 405 names the allowed methods" "allow: GET, HEAD" "$r"
    expect_contains "component: 405 has the JSON error" '{"error": "method DELETE is not allowed", "status": 405}' "$r"
    down
fi

# The echo handler in the template's place, with a route parameter.
cp "$ROOT/tests/sdk/echo_handler.c" src/main.c
sed -i 's|^route = "/..."|route = "/users/:id/..."\ncomponent = "app"\n\n[[trigger.http]]\nroute = "/..."|' kiln.toml
if ! "$KILN" build >"$TMP/build.out" 2>&1; then
    fail "kiln build of the echo handler as a component" "$(tail -n 20 "$TMP/build.out")"
    finish
    exit
fi
pass "kiln build of the echo handler as a component"
declare -A COMPONENT
if up "$PWD"; then
    r=$(curl -s -H 'X-Test: hello' "$URL/a/b%20c?x=1&y=two+words&flag&e=%C3%A9")
    expect_eq "component: method, path, info, query, headers" "method=GET
path=/a/b%20c
info=/a/b c
id=(none)
q[x]=1
q[y]=two words
q[flag]=
q[e]=é
x-test=hello
content-type=(none)
body=0:" "$r"
    r=$(curl -s -X POST -H 'Content-Type: text/plain' --data-binary 'ping' "$URL/post")
    expect_contains "component: a POST body" $'content-type=text/plain\nbody=4:ping' "$r"
    r=$(curl -s -X POST --data-binary @"$TMP/big.bin" "$URL/upload?sum")
    expect_contains "component: a 100 kB body, read whole" "body=100000 bytes, fnv1a $BIGSUM" "$r"
    n=$(curl -s "$URL/?big=1000000" | wc -c)
    expect_eq "component: a 1 MB response, written in pieces (92 bytes of echo first)" 1000092 "$n"
    r=$(curl -s -i "$URL/?status=201")
    expect_contains "component: the status" "HTTP/1.1 201" "$r"
    expect_contains "component: repeated headers" $'set-cookie: a=1\r\nset-cookie: b=2' "$r"
    r=$(curl -s "$URL/users/42/rest/of%20it")
    expect_contains "component: route parameter and path info (spin-* headers)" $'info=/rest/of it\nid=42' "$r"
    r=$(curl -s -X POST --data-binary '{"name":"Ada\u00e9"}' "$URL/?json")
    expect_eq "component: JSON in, JSON out" '{"name": "Adaé"}' "$r"
    r=$(curl -s -w ' %{http_code}' -X POST --data-binary '{"name":' "$URL/?json")
    expect_contains "component: bad JSON is a 400" $'"status": 400}\n 400' "$r"
    r=$(curl -s -w '%{http_code}' "$URL/?nosend")
    expect_contains "component: main returning without kiln_send still answers" "method=GET" "$r"
    expect_contains "component: ... with its status" "200" "${r: -3}"
    r=$(curl -s -H 'Authorization: Bearer t0k' -H 'X-Test: a' -H 'X-Test: b' "$URL/")
    expect_contains "component: repeated request headers are joined" "x-test=a, b" "$r"
    for req in "${REQS[@]}"; do COMPONENT[$req]=$(norm "$URL" "$req"); done
    kill -0 "$UP_PID" && pass "kiln up still serves after them" || fail "kiln up still serves after them"
    expect_not_contains "no trap logged" "trapped" "$(cat "$TMP/up.err")"
    down
fi

# ---- the same component under jco serve ----
if [ -x "$JCO" ] && command -v node >/dev/null; then
    jport=$(free_port)
    (exec setsid node "$JCO" serve --port "$jport" --host 127.0.0.1 "$TMP/app/target/app.wasm" \
        >"$TMP/jco.log" 2>&1) &
    JPID=$!
    on_exit "kill -- -$JPID 2>/dev/null"
    for _ in $(seq 300); do curl -s -m 2 -o /dev/null "http://127.0.0.1:$jport/" && break; sleep 0.1; done
    for req in "${REQS[@]}"; do
        j=$(norm "http://127.0.0.1:$jport" "$req")
        expect_eq "kiln and jco serve agree: $req" "$(last_of_repeated <<<"${COMPONENT[$req]:-}")" "$j"
    done
    kill -- -"$JPID" 2>/dev/null
else
    echo "c_sdk_component: SKIP the jco serve comparison: no node or no jco in ${KILN_TOOLS:-/var/cache/kiln-tools}/npm" >&2
fi

# ---- the same component under wasmtime serve ----
# wasmtime-cli is built from crates.io by scripts/install-wasmtime.sh (about 20 minutes the
# first time: make bench and make test-full run it, make test does not); a fresh instance
# per request, as kiln. KILN_REQUIRE_WASMTIME=1 (tests/e2e-full/c_sdk_wasmtime.sh) turns
# its absence into a failure.
WASMTIME="${KILN_TOOLS:-/var/cache/kiln-tools}/cargo/bin/wasmtime"
if [ -x "$WASMTIME" ]; then
    wport=$(free_port)
    (exec setsid "$WASMTIME" serve -S cli --addr "127.0.0.1:$wport" "$TMP/app/target/app.wasm" \
        >"$TMP/wasmtime.log" 2>&1) &
    WPID=$!
    on_exit "kill -- -$WPID 2>/dev/null"
    for _ in $(seq 600); do curl -s -m 2 -o /dev/null "http://127.0.0.1:$wport/" && break; sleep 0.1; done
    for req in "${REQS[@]}"; do
        expect_eq "kiln and wasmtime serve agree: $req" "${COMPONENT[$req]:-}" "$(norm "http://127.0.0.1:$wport" "$req")"
    done
    kill -- -"$WPID" 2>/dev/null
elif [ "${KILN_REQUIRE_WASMTIME:-0}" = 1 ]; then
    fail "wasmtime serve comparison: $WASMTIME is missing (scripts/install-wasmtime.sh)"
else
    echo "c_sdk_component: SKIP the wasmtime serve comparison: wasmtime-cli not built in ${KILN_TOOLS:-/var/cache/kiln-tools}/cargo/bin (scripts/install-wasmtime.sh; make test-full builds it)" >&2
fi

# ---- kiln new http-c-wagi: the WAGI form ----
cd "$TMP" || exit 1
check "kiln new http-c-wagi wapp" "$KILN" new http-c-wagi wapp
cd wapp || exit 1
check "kiln build of http-c-wagi" "$KILN" build
expect_eq "target/wapp.wasm is a core module" "0061736d01000000" "$(head -c 8 target/wapp.wasm | od -An -tx1 | tr -d ' \n')"
expect_contains "kiln check: served as WAGI" "wagi" "$("$KILN" check 2>&1)"
if up "$PWD"; then
    expect_eq "WAGI: GET / greets" "Hello from Kiln!" "$(curl -s "$URL/")"
    expect_eq "WAGI: the query" "Hello, Ada L, from Kiln!" "$(curl -s "$URL/?name=Ada%20L")"
    r=$(curl -s -i -X DELETE "$URL/")
    expect_contains "WAGI: DELETE is 405" "HTTP/1.1 405" "$r"
    expect_contains "WAGI: 405 has the JSON error" '{"error": "method DELETE is not allowed", "status": 405}' "$r"
    down
fi
cp "$ROOT/tests/sdk/echo_handler.c" src/main.c
sed -i 's|^route = "/..."|route = "/users/:id/..."\ncomponent = "wapp"\nexecutor = { type = "wagi" }\n\n[[trigger.http]]\nroute = "/..."|' kiln.toml
check "kiln build of the echo handler as WAGI" "$KILN" build
if up "$PWD"; then
    r=$(curl -s "$URL/users/42/rest/of%20it")
    expect_contains "WAGI: route parameter and path info" $'info=/rest/of it\nid=42' "$r"
    for req in "${REQS[@]}"; do
        expect_eq "WAGI and wasi:http forms agree: $req" "${COMPONENT[$req]:-}" "$(norm "$URL" "$req")"
    done
    down
fi
finish
