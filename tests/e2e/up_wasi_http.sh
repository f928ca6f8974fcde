#!/usr/bin/env bash
# kiln up serves wasi:http components (the wasi:http/proxy world) over real sockets: the C
# corpus handler (c-http) and the test handler c-http-spin (tests/components/c-http-spin):
# executor selection (none: wasi:http for a component, "http" and its alias "spin"; WAGI
# refused for a component, http refused for a core module), GET/POST with a body, query
# strings, route parameters and Spin's spin-* headers, forbidden and immutable headers, a
# streamed 256 MiB response with flat memory, a trapping guest (500, the server serves on),
# a guest that never sets the response (500), one that answers an error-code (500), a
# runaway guest (504), responses broken after their headers (a trap or a timeout after
# response-outparam.set: the client sees them broken, HTTP/1.1 and HTTP/2), HTTP/2; and a differential check against `jco serve` on the same
# components (status, headers but date/connection/framing, body).
source "$(dirname "$0")/../lib.sh"

source "$ROOT/tests/e2e/helpers/wasi_http.sh"
pass "tests/components/build.sh builds c-http and c-http-spin"
mkdir -p "$TMP/app/data" "$TMP/bad" "$TMP/bad2"
echo "granted file" >"$TMP/app/data/hello.txt"
cp "$CORPUS/c-http.wasm" "$CORPUS/c-http-spin.wasm" "$TMP/app/"

cat >"$TMP/app/spin.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "wasi-http"
[[trigger.http]]
route = "/hello/..."
component = "hello"
[[trigger.http]]
route = "/users/:id/..."
component = "t"
executor = { type = "http" }
[[trigger.http]]
route = "/x/..."
component = "t"
executor = { type = "spin" }
[component.hello]
source = "c-http.wasm"
[component.t]
source = "c-http-spin.wasm"
files = [{ source = "data", destination = "/data" }]
[component.t.tool.kiln]
request_timeout = "1s"
TOML

# start DIR: kiln up on a free port; sets URL and PID (waits for health).
start() {
    local dir=$1
    shift
    port=$(free_port)
    URL="http://127.0.0.1:$port"
    # (under ASan, a small quarantine: freed buffers would otherwise count in the RSS check)
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8" \
        "$KILN" up -f "$dir" --listen "127.0.0.1:$port" "$@" >"$TMP/out.log" 2>"$TMP/err.log" &
    PID=$!
    on_exit "kill $PID 2>/dev/null"
    for _ in $(seq 300); do curl -fs "$URL/.well-known/kiln/health" >/dev/null && return; sleep 0.1; done
}

out=$("$KILN" check -f "$TMP/app" 2>&1)
expect_contains "kiln check: a component without an executor gets wasi:http" \
    "-> hello (wasi:http: a component and no executor)" "$out"
expect_contains "kiln check: executor http" "-> t (wasi:http: executor http)" "$out"
start "$TMP/app"
err=$(cat "$TMP/err.log")
expect_contains "a component without an executor is served as wasi:http (and says so)" \
    "component hello exports wasi:http/incoming-handler and no executor is given: serving it as wasi:http" "$err"

expect_not_contains "c-http runs from an image" "component hello: no image" "$err"
expect_not_contains "a component granted files runs from an image too (the preopen descriptors its initialization took are copied)" \
    "component t: no image" "$err"
r=$(curl -s -m 10 -i "$URL/hello/some/path?x=1")
expect_contains "c-http: 200" "HTTP/1.1 200" "$r"
expect_contains "c-http: the body names the method and the path with the query" \
    "hello from C GET /hello/some/path?x=1" "$r"
expect_contains "c-http: the guest's header" "x-kiln-guest: c" "$r"
expect_contains "c-http: the guest's content-type" "content-type: text/plain" "$r"
r=$(curl -s -m 10 -X POST --data-binary 'ping' "$URL/hello/echo")
expect_eq "c-http: POST" "hello from C POST /hello/echo" "$r"

# The request as the guest sees it: method, path with query, spin-* headers, body.
r=$(curl -s -m 10 -X PUT --data-binary 'the body' "$URL/users/42/a/b/echo?q=1&r=2")
expect_eq "echo: the request line, the spin-* headers and the body" \
    "PUT /users/42/a/b/echo?q=1&r=2
spin-full-url: $URL/users/42/a/b/echo?q=1&r=2
spin-path-info: /a/b/echo
spin-matched-route: /users/:id/...
spin-raw-component-route: /users/:id/...
spin-component-route: /users/:id
spin-base-path: /
spin-client-addr: 127.0.0.1:${r##*spin-client-addr: 127.0.0.1:}" "$r"
expect_contains "echo: spin-path-match-id" "spin-path-match-id: 42" "$r"
r=$(curl -s -m 10 -H 'spin-full-url: forged' "$URL/x/echo")
expect_not_contains "a client cannot forge spin-* headers" "forged" "$r"
head -c 3000000 /dev/urandom >"$TMP/body.bin"
curl -s -m 30 --data-binary @"$TMP/body.bin" "$URL/x/echo" -o "$TMP/echoed.bin"
expect_eq "a 3 MB request body reaches the guest whole" \
    "$(sha256sum <"$TMP/body.bin" | cut -d' ' -f1)" "$(tail -c 3000000 "$TMP/echoed.bin" | sha256sum | cut -d' ' -f1)"
expect_eq "fields: connection is forbidden, request headers are immutable" "forbidden immutable" \
    "$(curl -s -m 10 "$URL/x/headers")"
expect_eq "a granted directory: the guest reads its file" "granted file" "$(curl -s -m 10 "$URL/x/file")"
expect_eq "a granted directory is read-only" "granted file
write refused" "$(curl -s -m 10 "$URL/x/file?write")"
expect_eq "the guest's status" "404" "$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$URL/x/nope")"

# A streamed 256 MiB body: sent as it is written, with backpressure (memory stays flat).
rss0=$(awk '/VmHWM/{print $2}' /proc/$PID/status)
n=$(curl -s -m 60 "$URL/x/big?mib=256" | wc -c)
expect_eq "a 256 MiB streamed response arrives whole" 268435456 "$n"
rss1=$(awk '/VmHWM/{print $2}' /proc/$PID/status)
[ $((rss1 - rss0)) -lt 65536 ] && pass "the server's peak RSS grew by less than 64 MiB for it" ||
    fail "the server's peak RSS grew by less than 64 MiB for it" "before ${rss0} kB, after ${rss1} kB"
v=$(curl -s -m 60 --http2-prior-knowledge -o "$TMP/h2.out" -w '%{http_version} %{http_code}' "$URL/x/big?mib=16")
expect_eq "HTTP/2: a streamed response" "2 200" "$v"
expect_eq "HTTP/2: all of it" 16777216 "$(wc -c <"$TMP/h2.out")"
expect_eq "HTTP/2: echo" "GET /x/echo" "$(curl -s -m 10 --http2-prior-knowledge "$URL/x/echo" | head -1)"

# Failures: 500/504 with a log line naming the component; the server serves on.
expect_eq "a trapping guest: 500" 500 "$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$URL/x/trap")"
expect_eq "a guest that never sets the response: 500" 500 "$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$URL/x/noset")"
expect_eq "a guest that answers an error-code: 500" 500 "$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$URL/x/error")"
expect_eq "a runaway guest: 504" 504 "$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$URL/x/spin")"
expect_eq "the server serves on" "hello from C GET /hello/" "$(curl -s -m 10 "$URL/hello/")"

# A response broken after its headers (the guest traps or runs out of time after
# response-outparam.set and part of its body): the client sees it broken, never a normal
# end: HTTP/1.1 lacks the last chunk and closes (h2o 2.2.5 ends it with a chunk announced
# and never sent: curl 18, partial file, or, when all the data had gone out already, 56,
# a bad chunk), HTTP/2 resets the stream (curl 92, HTTP/2 stream error).
# raw_get PATH: the raw HTTP/1.1 response up to the server's close (10 s at most).
raw_get() {
    python3 - "$port" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % sys.argv[2]).encode())
data = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    print("closed", len(data), "ends-with-last-chunk" if data.endswith(b"\r\n0\r\n\r\n") else "no-last-chunk",
          "chunked" if b"transfer-encoding: chunked" in data.lower() else "not-chunked")
except socket.timeout:
    print("open", len(data))
PY
}
for route in partial partial-spin; do
    rc=0
    v=$(curl -s -m 10 -o "$TMP/partial.out" -w '%{http_code}' "$URL/x/$route") || rc=$?
    case "$v $rc" in
    "200 18" | "200 56") pass "HTTP/1.1: /x/$route: status 200 sent, then a broken transfer (curl $rc)" ;;
    *) fail "HTTP/1.1: /x/$route: status 200 sent, then a broken transfer (curl 18 or 56)" "got: $v $rc" ;;
    esac
    n=$(wc -c <"$TMP/partial.out")
    [ "$n" -gt 0 ] && pass "HTTP/1.1: /x/$route: what the guest wrote arrived first ($n bytes)" ||
        fail "HTTP/1.1: /x/$route: what the guest wrote arrived first" "$n bytes"
    r=$(raw_get "/x/$route")
    case "$r" in
    "closed "*" no-last-chunk chunked") pass "HTTP/1.1: /x/$route: chunked, closed without the last chunk" ;;
    *) fail "HTTP/1.1: /x/$route: chunked, closed without the last chunk" "$r" ;;
    esac
    rc=0
    curl -s -m 10 --http2-prior-knowledge -o /dev/null "$URL/x/$route" || rc=$?
    expect_eq "HTTP/2: /x/$route: the stream is reset (curl exit 92)" 92 "$rc"
done
expect_eq "the server serves on after broken responses" "hello from C GET /hello/" "$(curl -s -m 10 "$URL/hello/")"
err=$(cat "$TMP/err.log")
expect_contains "a trap after the headers is logged with the component and the trap" \
    "component 't' trapped: c-http-spin.wasm: handle: unreachable executed; the response was aborted after its headers" "$err"
expect_contains "a timeout after the headers is logged" \
    "component 't' stopped: ran past its request timeout (1000 ms); the response was aborted after its headers" "$err"
expect_contains "the trap is logged" "component 't' trapped:" "$err"
expect_contains "the unset response is logged" "component 't' returned without setting the response" "$err"
expect_contains "the error-code is logged" "component 't' answered with the error internal-error" "$err"
expect_contains "the timeout is logged" "component 't' stopped: ran past its request timeout (1000 ms)" "$err"
expect_contains "the access log has the instance start" " t start=" "$(cat "$TMP/out.log")"
kill "$PID"
wait "$PID" 2>/dev/null

# One instance slot: a request that finds it taken waits for it (on its fiber), then runs.
start "$TMP/app" --max-instances 1 --workers 2
curl -s -m 10 -o "$TMP/spin.out" -w '%{http_code}' "$URL/x/spin" >"$TMP/spin.code" &
CURL=$!
sleep 0.3
expect_eq "with the only slot taken, a request waits for it and runs" "forbidden immutable" \
    "$(curl -s -m 10 "$URL/x/headers")"
wait "$CURL"
expect_eq "the slot's holder ran into its timeout meanwhile" 504 "$(cat "$TMP/spin.code")"
kill "$PID"
wait "$PID" 2>/dev/null

# Executor selection errors.
cp "$CORPUS/c-http.wasm" "$TMP/bad/"
cat >"$TMP/bad/spin.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "bad"
[[trigger.http]]
route = "/..."
component = "c"
executor = { type = "wagi" }
[component.c]
source = "c-http.wasm"
TOML
err=$(timeout 60 "$KILN" up -f "$TMP/bad" --listen 127.0.0.1:0 2>&1 >/dev/null)
expect_contains "WAGI refuses a component" "WAGI cannot run it" "$err"
expect_contains "kiln check says so" "[kiln up refuses it: a component, and WAGI runs core modules]" \
    "$("$KILN" check -f "$TMP/bad" 2>&1)"
wat2wasm "$ROOT/tests/e2e/wat/entry_signatures.wat" -o "$TMP/bad2/m.wasm"
sed -e 's/c-http.wasm/m.wasm/' -e 's/"wagi"/"http"/' "$TMP/bad/spin.toml" >"$TMP/bad2/spin.toml"
err=$(timeout 60 "$KILN" up -f "$TMP/bad2" --listen 127.0.0.1:0 2>&1 >/dev/null)
expect_contains "the http executor refuses a core module" \
    "the http executor needs a component exporting wasi:http/incoming-handler" "$err"

# Differential: jco serve (the reference) on the same components and requests.
JCO="${KILN_TOOLS:-/var/cache/kiln-tools}/npm/node_modules/.bin/jco"
if [ -x "$JCO" ] && command -v node >/dev/null; then
    # norm: status line code, headers lowercased minus date/server/connection/keep-alive/
    # framing, sorted, then the body
    norm() {
        curl -s -m 30 -D "$TMP/h" -o "$TMP/b" "$@"
        head -1 "$TMP/h" | awk '{print $2}'
        tail -n +2 "$TMP/h" | tr -d '\r' | tr 'A-Z' 'a-z' |
            grep -vE '^(date|server|connection|keep-alive|transfer-encoding|content-length):|^$' | sort
        # bodies over 1 KB by checksum (a failure message stays short)
        if [ "$(wc -c <"$TMP/b")" -gt 1024 ]; then sha256sum <"$TMP/b"; else grep -v '^spin-' "$TMP/b"; fi
    }
    jport=$(free_port)
    (cd "$TMP" && exec setsid node "$JCO" serve --isolate-requests instance --port "$jport" \
        --host 127.0.0.1 "$TMP/app/c-http-spin.wasm" >"$TMP/jco.log" 2>&1) &
    JPID=$!
    on_exit "kill -- -$JPID 2>/dev/null"
    kport=$(free_port)
    sed -e 's|/users/:id/...|/unused|' -e 's|/hello/...|/hello-unused|' -e 's|/x/...|/...|' \
        "$TMP/app/spin.toml" >"$TMP/app/kiln-diff.toml"
    mkdir -p "$TMP/diff" && cp -r "$TMP/app/"*.wasm "$TMP/app/data" "$TMP/diff/" && mv "$TMP/app/kiln-diff.toml" "$TMP/diff/spin.toml"
    start "$TMP/diff"
    for _ in $(seq 300); do curl -s -m 2 -o /dev/null "http://127.0.0.1:$jport/" && break; sleep 0.1; done
    for req in "/x/headers" "/nope" "/a/echo?q=1" "-X POST --data-binary hello /x/echo" "/big?mib=2"; do
        path=${req##* }
        args=(${req% *})
        [ "$path" = "$req" ] && args=()
        j=$(norm "${args[@]}" "http://127.0.0.1:$jport$path")
        case $j in 200* | 404*) pass "jco serve answers $req" ;; *) fail "jco serve answers $req" "$j" ;; esac
        expect_eq "kiln and jco serve agree: $req" "$j" "$(norm "${args[@]}" "$URL$path")"
    done
    kill "$PID"
fi
finish
