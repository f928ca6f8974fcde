#!/usr/bin/env bash
# Spin's service chaining in kiln up (exec/http/chain.c): an outbound request to
# http://COMPONENT.spin.internal/... is answered in process by that component (no socket:
# nothing listens for it), only when the caller's allowed_outbound_hosts grants it
# ("http://back.spin.internal" or "http://*.spin.internal"); a private component (no
# route) is reachable that way; a self request (a relative URL, or host self.alt) goes
# through the app's own router when "http://self" is granted; a chain deeper than the
# limit gets error-code.loop-detected; an unknown component destination-not-found; a
# POST arrives as one in the chained component; the chained request runs in its own
# instance with the callee's grants, counted in the server's metrics as a request of the
# target's route. "{{ variable }}" templates in allowed_outbound_hosts are
# resolved with the app's variables at start (--variable overrides the default); an unknown
# variable fails `kiln check` and `kiln up`, one resolving to an invalid entry fails `kiln up`.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/up.sh"

CORPUS="$KILN_BUILD/components"
if ! out=$("$ROOT/tests/components/build.sh" "$CORPUS" c-http c-outbound 2>&1); then
    fail "tests/components/build.sh builds c-http and c-outbound" "$out"
    finish
    exit
fi
pass "tests/components/build.sh builds c-http and c-outbound"

mkdir -p "$TMP/app"
cp "$CORPUS/c-http.wasm" "$CORPUS/c-outbound.wasm" "$TMP/app/"
clang --target=wasm32-wasi --sysroot=/usr -O2 "$GUESTS/wagi_hello.c" \
    -o "$TMP/app/wagi_hello.wasm" || fail "the WAGI guest builds (clang wasm32-wasi)"
cat >"$TMP/app/spin.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "chain"
[variables]
chain_target = { default = "back" }
[[trigger.http]]
route = "/front/..."
component = "front"
[[trigger.http]]
route = "/wild/..."
component = "wild"
[[trigger.http]]
route = "/selfy/..."
component = "selfy"
[[trigger.http]]
route = "/none/..."
component = "none"
[[trigger.http]]
route = "/loop/..."
component = "loop"
[[trigger.http]]
route = "/hello/..."
component = "hello"
[[trigger.http]]
route = { private = true }
component = "back"
[[trigger.http]]
route = "/wagi"
component = "wagi"
executor = { type = "wagi" }
[[trigger.http]]
route = "/static"
static_response = { status_code = 203, body = "static body" }
[component.front]
source = "c-outbound.wasm"
allowed_outbound_hosts = ["http://{{ chain_target }}.spin.internal"]
[component.wild]
source = "c-outbound.wasm"
allowed_outbound_hosts = ["http://*.spin.internal"]
[component.selfy]
source = "c-outbound.wasm"
allowed_outbound_hosts = ["http://self"]
[component.none]
source = "c-outbound.wasm"
allowed_outbound_hosts = ["http://127.0.0.1:1"]
[component.loop]
source = "c-outbound.wasm"
allowed_outbound_hosts = ["http://loop.spin.internal"]
[component.hello]
source = "c-http.wasm"
[component.back]
source = "c-outbound.wasm"
[component.wagi]
source = "wagi_hello.wasm"
TOML

restart_up

# granted by name: the private component answers (its c-outbound handler: unknown path 404)
r=$(curl -s -m 10 "$URL/front/fetch?url=http://back.spin.internal/x/notthere")
expect_contains "chaining to a granted private component: its status" "status: 404" "$r"
expect_contains "chaining to a granted private component: its body" "body: not found" "$r"
# the chained component makes its own (denied) outbound request: its grants, not the caller's
r=$(curl -s -m 10 "$URL/front/fetch?url=http://back.spin.internal/fetch?url=http://back.spin.internal/x")
expect_contains "the chained component runs with its own grants (none)" "error: HTTP-request-denied" "$r"
r=$(curl -s -m 10 "$URL/front/fetch?url=http://hello.spin.internal/p")
expect_contains "a component not granted by name: HTTP-request-denied" "error: HTTP-request-denied" "$r"
expect_contains "... with a log line naming the caller and the target" \
    "component front: outbound request to hello.spin.internal denied" "$(cat "$TMP/up.err")"

# the wildcard grants every component; the path goes whole to the component
r=$(curl -s -m 10 "$URL/wild/fetch?url=http://hello.spin.internal/some/path?q=1")
expect_contains "http://*.spin.internal reaches any component, path and query whole" \
    "body: hello from C GET /some/path?q=1" "$r"
r=$(curl -s -m 10 "$URL/wild/fetch?method=post&body=chained-body&url=http://hello.spin.internal/posted")
expect_contains "POST through chaining: the method arrives" "body: hello from C POST /posted" "$r"
r=$(curl -s -m 10 "$URL/wild/fetch?url=http://wagi.spin.internal/")
expect_contains "chaining to a WAGI component (its answer posted back to the loop)" "body: hello 1" "$r"
r=$(curl -s -m 10 "$URL/wild/fetch?url=http://nosuch.spin.internal/")
expect_contains "an unknown component: destination-not-found" "error: destination-not-found" "$r"
expect_contains "... logged" "service chaining to unknown component 'nosuch'" "$(cat "$TMP/up.err")"
r=$(curl -s -m 10 "$URL/wild/fetch?url=https://hello.spin.internal/")
expect_contains "another scheme than the grant's: denied" "error: HTTP-request-denied" "$r"

# without a grant: denied, and never a DNS lookup or a connection
r=$(curl -s -m 10 "$URL/none/fetch?url=http://hello.spin.internal/")
expect_contains "no chaining grant: HTTP-request-denied" "error: HTTP-request-denied" "$r"
r=$(curl -s -m 10 "$URL/none/fetch?url=/hello/x")
expect_contains "no self grant: a relative URL is denied" "error: HTTP-request-denied" "$r"

# self requests: a relative URL and host self.alt, through the router
r=$(curl -s -m 10 "$URL/selfy/fetch?url=/hello/from/self")
expect_contains "a self request (relative URL) is routed like a client's" \
    "body: hello from C GET /hello/from/self" "$r"
r=$(curl -s -m 10 "$URL/selfy/fetch?url=http://self.alt/hello/alt")
expect_contains "a self request to http://self.alt" "body: hello from C GET /hello/alt" "$r"
r=$(curl -s -m 10 "$URL/selfy/fetch?url=/static")
expect_contains "a self request to a static route: its status" "status: 203" "$r"
expect_contains "... and body" "body: static body" "$r"
r=$(curl -s -m 10 "$URL/selfy/fetch?url=/nowhere")
expect_contains "a self request without a route: 404" "status: 404" "$r"
r=$(curl -s -m 10 "$URL/selfy/fetch?url=http://hello.spin.internal/")
expect_contains "http://self does not grant chaining to components" "error: HTTP-request-denied" "$r"

# recursion: each level asks the next; past the limit the innermost gets loop-detected
u="http://loop.spin.internal/fetch?url=http://loop.spin.internal/"
nested="http://loop.spin.internal/x"
for _ in $(seq 12); do nested="http://loop.spin.internal/fetch?url=$nested"; done
r=$(curl -s -m 30 "$URL/loop/fetch?url=$nested")
expect_contains "a chain past the depth limit: loop-detected" "error: loop-detected" "$r"
expect_contains "... logged as a probable loop" "service chaining deeper than 10 requests" \
    "$(cat "$TMP/up.err")"
# depths 1..10 ran (the client's request is depth 0): 9 answered 200 to their caller, the
# 10th answered its caller 502 with the refusal it got
levels=$(printf '%s' "$r" | grep -c "status: 200")
expect_eq "the 10 chained levels ran: 9 answered 200" "9" "$levels"
expect_eq "... and the 10th 502" "1" "$(printf '%s' "$r" | grep -c "status: 502")"
# shallow chains work from the same component
r=$(curl -s -m 10 "$URL/loop/fetch?url=$u")
expect_contains "a two-level chain answers" "status: 404" "$r"

# the server still answers meanwhile, and no connection was ever made for *.spin.internal
r=$(curl -s -m 5 "$URL/hello/after")
expect_contains "the server answers after the chains" "hello from C GET /hello/after" "$r"
expect_not_contains "no DNS error: spin.internal names never reach the resolver" "DNS" \
    "$(cat "$TMP/up.err")"

# the grant's template with --variable: now hello is granted, back is not
restart_up --variable chain_target=hello
r=$(curl -s -m 10 "$URL/front/fetch?url=http://hello.spin.internal/templated")
expect_contains "a {{ variable }} grant resolved with --variable allows its target" \
    "body: hello from C GET /templated" "$r"
r=$(curl -s -m 10 "$URL/front/fetch?url=http://back.spin.internal/x")
expect_contains "... and no longer the default's" "error: HTTP-request-denied" "$r"

# chained and self requests are requests of the target's route in the server's metrics
APORT=$(free_port)
restart_up --admin "127.0.0.1:$APORT"
for p in /hello/a /hello/b /hello/c; do curl -s -m 10 "$URL/selfy/fetch?url=$p" >/dev/null; done
for p in /x /y; do curl -s -m 10 "$URL/wild/fetch?url=http://hello.spin.internal$p" >/dev/null; done
expect_contains "3 self and 2 chained requests counted for hello's route (no client request)" \
    'http_server_request_duration_seconds_count{component="hello",http_route="/hello/...",http_request_method="GET",http_response_status_class="2xx"} 5' \
    "$(curl -s "http://127.0.0.1:$APORT/metrics")"

# a template that cannot resolve: refused before serving, with the entry named (timeout: a
# kiln up that serves instead must not hold the test)
out=$(timeout 30 "$KILN" up -f "$TMP/app" --listen "127.0.0.1:$(free_port)" --variable 'chain_target=a b' 2>&1)
expect_contains "kiln up refuses a grant whose template resolves to an invalid entry" \
    'allowed_outbound_hosts entry "http://{{ chain_target }}.spin.internal" resolves to "http://a b.spin.internal"' "$out"
sed 's/{{ chain_target }}/{{ nosuch }}/' "$TMP/app/spin.toml" >"$TMP/app/bad.toml"
out=$("$KILN" check -f "$TMP/app/bad.toml" 2>&1)
expect_contains "kiln check names an unknown variable in allowed_outbound_hosts" \
    "component \`front\` uses variable \`nosuch\`, which is not defined in [variables]" "$out"
out=$(timeout 30 "$KILN" up -f "$TMP/app/bad.toml" --listen "127.0.0.1:$(free_port)" 2>&1)
expect_contains "kiln up refuses it too" "uses variable \`nosuch\`" "$out"

finish
