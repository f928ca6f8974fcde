#!/usr/bin/env bash
# The C SDK's host APIs (sdk/c/kiln_host.c) as a developer uses them: `kiln new http-c`,
# tests/sdk/host_handler.c as src/main.c, `kiln build`, `kiln up`:
#   - kiln_kv_set/get/exists/delete on the default store (a value survives to the next
#     request's fresh instance), a store label not granted: "key-value: access-denied";
#   - kiln_variable_get: a component variable from an application variable's default and
#     from --variable, an undefined one named in kiln_error();
#   - kiln_http_fetch: GET and POST to a granted upstream (status, a response header, the
#     body; the request header the handler added arrives), a host not granted:
#     "http: HTTP-request-denied", and a relative URL (a self request with "http://self").
# The component imports only what it uses: the template's plain handler still has no Spin
# imports.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/up.sh"

cat >"$TMP/upstream.py" <<'PY'
import http.server, socketserver, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def send(self, status, body):
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.send_header("x-upstream", "yes")
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        self.send(200, ("hello " + self.path + " from=" + (self.headers.get("x-from") or "-")).encode())
    def do_POST(self):
        n = int(self.headers.get("content-length", "0"))
        self.send(201, b"got " + self.rfile.read(n))
S = type("S", (socketserver.ThreadingMixIn, http.server.HTTPServer), {"daemon_threads": True})
S(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
UP_PORT=$(free_port)
python3 "$TMP/upstream.py" "$UP_PORT" &
on_exit "kill $! 2>/dev/null"
UP="http://127.0.0.1:$UP_PORT"
for _ in $(seq 100); do curl -fs "$UP/" >/dev/null && break; sleep 0.1; done

cd "$TMP" || exit 1
check "kiln new http-c app" "$KILN" new http-c app
cd app || exit 1
check "kiln new wrote sdk/kiln_host.c (the SDK's own)" cmp "$ROOT/sdk/c/kiln_host.c" sdk/kiln_host.c
if ! "$KILN" build >"$TMP/build0.out" 2>&1; then
    fail "kiln build of the template" "$(tail -n 20 "$TMP/build0.out")"
fi
out=$("$KILN" inspect target/app.wasm 2>&1)
expect_not_contains "a handler that uses no host API imports none of Spin's" "fermyon:spin" "$out"

cp "$ROOT/tests/sdk/host_handler.c" src/main.c
sed -i "s|^source = \"target/app.wasm\"|&\nkey_value_stores = [\"default\"]\nallowed_outbound_hosts = [\"http://127.0.0.1:$UP_PORT\", \"http://self\"]\nvariables = { greeting = \"{{ greeting }}\" }|" kiln.toml
sed -i 's|^\[application\]|[variables]\ngreeting = { default = "hi there" }\n\n[application]|' kiln.toml
check "kiln check accepts the manifest" "$KILN" check
if ! "$KILN" build >"$TMP/build.out" 2>&1; then
    fail "kiln build of the host API handler" "$(tail -n 20 "$TMP/build.out")"
    finish
    exit
fi
pass "kiln build of the host API handler"
out=$("$KILN" inspect target/app.wasm 2>&1)
expect_contains "the component imports Spin's key-value" "fermyon:spin/key-value@2.0.0" "$out"
expect_contains "... and variables" "fermyon:spin/variables@2.0.0" "$out"

restart_up
expect_eq "kiln_kv_get of an absent key: 0" "absent" "$(curl -s "$URL/kv/get?key=a")"
expect_eq "kiln_kv_exists of an absent key: 0" "no" "$(curl -s "$URL/kv/exists?key=a")"
expect_eq "kiln_kv_set" "stored" "$(curl -s "$URL/kv/set?key=a&value=hello%20kv")"
expect_eq "kiln_kv_get in the next request's instance" "hello kv" "$(curl -s "$URL/kv/get?key=a")"
expect_eq "kiln_kv_exists: 1" "yes" "$(curl -s "$URL/kv/exists?key=a")"
expect_eq "kiln_kv_delete" "deleted" "$(curl -s "$URL/kv/delete?key=a")"
expect_eq "... then absent" "absent" "$(curl -s "$URL/kv/get?key=a")"
expect_eq "a store label not granted: kiln_error names access-denied" "key-value: access-denied" \
    "$(curl -s "$URL/kv/get?store=other&key=a")"
expect_eq "kiln_variable_get: a component variable" "hi there" "$(curl -s "$URL/var?name=greeting")"
expect_contains "kiln_variable_get of an undefined one: kiln_error says so" "variables: undefined" \
    "$(curl -s "$URL/var?name=nope")"
r=$(curl -s "$URL/fetch?url=$UP/path%3Fq%3D1")
expect_eq "kiln_http_fetch GET: status, header, body, and the request header sent" \
    "status: 200
x-upstream: yes
body: hello /path?q=1 from=sdk" "$r"
r=$(curl -s "$URL/fetch?method=POST&body=posted%20body&url=$UP/p")
expect_eq "kiln_http_fetch POST with a body" "status: 201
x-upstream: yes
body: got posted body" "$r"
expect_eq "kiln_http_fetch to a host not granted" "http: HTTP-request-denied" \
    "$(curl -s "$URL/fetch?url=http://localhost:$UP_PORT/")"
curl -s "$URL/kv/set?key=b&value=via%20self" >/dev/null
r=$(curl -s "$URL/fetch?url=/kv/get%3Fkey%3Db")
expect_eq "kiln_http_fetch of a relative URL: a self request" "status: 200
x-upstream: 
body: via self" "$r"
restart_up --variable greeting=bonjour
expect_eq "kiln_variable_get with --variable" "bonjour" "$(curl -s "$URL/var?name=greeting")"

finish
