#!/usr/bin/env bash
# Spin 3 component dependencies served by kiln up (component/compose.h) and
# `{ url, digest }` sources (manifest/source_fetch.c):
#   - components composed: main.c (a C SDK wasi:http handler) imports
#     kiln:test/greet@0.1.0, kiln:test/env@0.1.0 and kiln:test/counter@0.1.0, which no host
#     provides; greeter.wat, envcount.wat and counter.wat (WAT components) export them. A
#     string crosses both ways, main holds own handles of a resource counter.wat defines;
#     each request gets a fresh instance of the whole graph (the dependency's call counter
#     starts again);
#   - HTTP middleware: auth.c in front of main (401 without the token, main's answer with
#     it), alone and as a chain of two;
#   - a dependency's own host imports get deny-all grants by default (no environment)
#     and the component's when dependencies_inherit_configuration = true;
#   - url sources and url dependencies from a local HTTP server (python3 -m http.server):
#     downloaded once and cached by digest (served again with the server stopped), a
#     wrong digest refused naming the component, the URL and both digests;
#   - registry dependencies (`{ version, registry }`) from an OCI registry started here
#     (Debian's docker-registry; packages laid out as wasm-pkg-tools does, pushed by
#     skopeo): the highest version meeting the requirement, cached by digest (a
#     tampered cache entry fetched again), refused naming the package when the registry
#     is down or no version fits; a warg registry (its discovery document) refused with
#     the reason, as is Spin's default registry; a component `source = { registry,
#     package, version }` fetched from that registry and served;
#   - refusals: a dependency matching no import, a missing export, and the main
#     component alone (its imports are nobody's).
source "$(dirname "$0")/../lib.sh"

source "$(dirname "$0")/helpers/deps.sh"
A=$TMP/app
if ! deps_build "$A"; then
    finish
    exit
fi

source "$(dirname "$0")/helpers/up.sh"
# up MANIFEST / down: kiln up of $A/MANIFEST in the background (helpers/up.sh)
up() { start_up_from "$A/$1"; }
down() { stop_up; }
# refused MANIFEST: kiln up's exit status and stderr when it refuses to start.
refused() {
    timeout 60 "$KILN" up -f "$A/$1" --listen "127.0.0.1:$PORT" >"$TMP/up.out" 2>"$TMP/up.err"
    echo "rc=$?"
    cat "$TMP/up.err"
}

# manifest NAME MAIN-SOURCE DEPS [COMPONENT-EXTRA] [TRIGGER-EXTRA]: writes $A/NAME, an app
# whose one route goes to component main (and a component auth, for middleware).
manifest() {
    cat >"$A/$1" <<EOF
spin_manifest_version = 2
[application]
name = "deps"
[[trigger.http]]
route = "/..."
component = "main"
${5:-}
[component.main]
source = $2
environment = { A = "1", B = "2" }
${4:-}
[component.main.dependencies]
$3
[component.auth]
source = "auth.wasm"
EOF
}

COUNTER='"kiln:test/counter" = { path = "counter.wasm" }'
DEPS='"kiln:test/greet" = { path = "greeter.wasm" }
"kiln:test/env@0.1.0" = { path = "envcount.wasm" }
'"$COUNTER"

# --- two components composed ---
manifest local.toml '"main.wasm"' "$DEPS"
if up local.toml; then
    pass "kiln up serves a component with dependencies"
    expect_eq "a string through the dependency and back" "hello, kiln from the dependency" \
        "$(curl -s "$URL/?name=kiln")"
    expect_eq "the dependency keeps state within a request" "count 1 2" "$(curl -s "$URL/count")"
    expect_eq "each request gets a fresh dependency instance" "count 1 2" \
        "$(curl -s "$URL/count")"
    expect_eq "own handles of a resource the dependency defines" "counters 1 2 1" \
        "$(curl -s "$URL/counter")"
    expect_eq "a dependency gets no configuration by default (deny-all)" \
        "dependency sees 0 environment variables" "$(curl -s "$URL/env")"
    expect_not_contains "served from an image (no per-request instantiation)" "no image" \
        "$(cat "$TMP/up.err")"
else
    fail "kiln up serves a component with dependencies" "$(cat "$TMP/up.err")"
fi
down

# answers MANIFEST WHAT WANT PATH [CURL-ARGS...]: kiln up of MANIFEST answers PATH with WANT
answers() {
    local m=$1 what=$2 want=$3 path=$4
    shift 4
    if up "$m"; then
        expect_eq "$what" "$want" "$(curl -s "$@" "$URL$path")"
    else
        fail "$what: kiln up starts" "$(cat "$TMP/up.err")"
    fi
    down
}

manifest inherit.toml '"main.wasm"' "$DEPS" "dependencies_inherit_configuration = true"
answers inherit.toml "dependencies_inherit_configuration = true: the component's environment" \
    "dependency sees 2 environment variables" /env

manifest perdep.toml '"main.wasm"' '"kiln:test/greet" = { path = "greeter.wasm" }
"kiln:test/env" = { path = "envcount.wasm", inherit_configuration = true }
'"$COUNTER"
answers perdep.toml "a dependency's own inherit_configuration = true" \
    "dependency sees 2 environment variables" /env
manifest keys.toml '"main.wasm"' '"kiln:test/greet" = { path = "greeter.wasm" }
"kiln:test/env" = { path = "envcount.wasm", inherit_configuration = ["environment"] }
'"$COUNTER"
answers keys.toml "inherit_configuration = [\"environment\"]: the environment" \
    "dependency sees 2 environment variables" /env
manifest keys2.toml '"main.wasm"' '"kiln:test/greet" = { path = "greeter.wasm" }
"kiln:test/env" = { path = "envcount.wasm", inherit_configuration = ["files", "variables"] }
'"$COUNTER"
answers keys2.toml "inherit_configuration without \"environment\": no environment" \
    "dependency sees 0 environment variables" /env

manifest package.toml '"main.wasm"' '"kiln:test" = { path = "greeter.wasm" }'
out=$(refused package.toml)
expect_contains "a package-level name matches every interface of the package" \
    "dependency 'kiln:test' doesn't export 'kiln:test/env@0.1.0'" "$out"

# --- HTTP middleware: an auth middleware in front of the handler ---
# mwmanifest NAME MIDDLEWARE: the app with `dependencies.middleware = MIDDLEWARE`
mwmanifest() { manifest "$1" '"main.wasm"' "$DEPS" "" "dependencies.middleware = $2"; }
TOK="authorization: Bearer let-me-in"
mwmanifest mw.toml '[{ path = "auth.wasm" }]'
if up mw.toml; then
    expect_eq "middleware: no token, 401 from the middleware" 401 \
        "$(curl -s -o /dev/null -w '%{http_code}' "$URL/?name=x")"
    expect_eq "middleware: a wrong token, 401" 401 \
        "$(curl -s -o /dev/null -w '%{http_code}' -H 'authorization: Bearer nope' "$URL/")"
    expect_eq "middleware: with the token, the handler's answer (its dependencies too)" \
        "hello, mw from the dependency" "$(curl -s -H "$TOK" "$URL/?name=mw")"
    expect_eq "middleware: the handler's status" 200 \
        "$(curl -s -o /dev/null -w '%{http_code}' -H "$TOK" "$URL/count")"
    expect_eq "middleware: fresh instances of the whole chain per request" "count 1 2" \
        "$(curl -s -H "$TOK" "$URL/count")"
else
    fail "kiln up serves a trigger with middleware" "$(cat "$TMP/up.err")"
fi
down
mwmanifest mw2.toml '[{ component = "auth" }, { path = "auth.wasm", inherit_configuration = true }]'
if up mw2.toml; then
    expect_eq "a chain of two (component and path forms): no token, 401" 401 \
        "$(curl -s -o /dev/null -w '%{http_code}' "$URL/")"
    expect_eq "a chain of two: with the token, through both to the handler" \
        "hello, two from the dependency" "$(curl -s -H "$TOK" "$URL/?name=two")"
else
    fail "kiln up serves a chain of two middleware" "$(cat "$TMP/up.err")"
fi
down
mwmanifest mwbad.toml '[{ path = "greeter.wasm" }]'
out=$(refused mwbad.toml)
expect_contains "a middleware that is no wasi:http handler is refused, naming the chain" \
    "the middleware chain in front of component main: a middleware imports neither wasi:http/handler@0.3 nor wasi:http/incoming-handler@0.2" "$out"

# --- refusals ---
cat >"$A/alone.toml" <<EOF
spin_manifest_version = 2
[application]
name = "alone"
[[trigger.http]]
route = "/..."
component = "main"
[component.main]
source = "main.wasm"
EOF
out=$(refused alone.toml)
expect_contains "without its dependencies the component is refused" "rc=1" "$out"
expect_contains "... naming the import no host provides" "kiln:test/greet@0.1.0" "$out"

manifest registry.toml '"main.wasm"' '"kiln:test/greet" = "1.0.0"
"kiln:test/env" = { path = "envcount.wasm" }'
out=$(refused registry.toml)
expect_contains "a dependency from Spin's default registry is refused" "rc=1" "$out"
expect_contains "... naming it, and why (wa.dev is a warg registry)" \
    "dependency 'kiln:test/greet': a package from Spin's default registry (wa.dev, a warg registry)" \
    "$out"
expect_contains "... and the alternative: an OCI registry (wkg's registry.json)" \
    "/.well-known/wasm-pkg/registry.json points at an OCI registry" "$out"

manifest unmatched.toml '"main.wasm"' "$DEPS
\"kiln:other/thing\" = { path = \"greeter.wasm\" }"
out=$(refused unmatched.toml)
expect_contains "a dependency matching no import is refused" \
    "dependency 'kiln:other/thing' doesn't match any imports of component 'main'" "$out"

manifest export.toml '"main.wasm"' '"kiln:test/greet" = { path = "greeter.wasm", export = "kiln:test/nope@0.1.0" }
"kiln:test/env" = { path = "envcount.wasm" }'
out=$(refused export.toml)
expect_contains "a missing export is refused" \
    "dependency 'kiln:test/greet' doesn't export 'kiln:test/nope@0.1.0' to satisfy import 'kiln:test/greet@0.1.0'" \
    "$out"

manifest wrongtype.toml '"main.wasm"' '"kiln:test/greet" = { path = "envcount.wasm", export = "kiln:test/env@0.1.0" }
"kiln:test/env" = { path = "envcount.wasm" }'
out=$(refused wrongtype.toml)
expect_contains "an export of the wrong type is refused" \
    "exports 'kiln:test/env@0.1.0' which is not compatible with import 'kiln:test/greet@0.1.0'" "$out"

# --- url sources, from a local HTTP server ---
SRV=$TMP/srv
mkdir -p "$SRV"
cp "$A/main.wasm" "$A/greeter.wasm" "$A/envcount.wasm" "$SRV/"
echo ready >"$SRV/ready"
HPORT=$(free_port)
# serve_files: python3 -m http.server on $SRV at $HPORT (log appended to $TMP/http.log)
serve_files() {
    (cd "$SRV" && exec python3 -m http.server --bind 127.0.0.1 "$HPORT" >>"$TMP/http.log" 2>&1) &
    HTTP_PID=$!
    on_exit "kill $HTTP_PID 2>/dev/null"
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$HPORT/ready" -o /dev/null && break
        sleep 0.1
    done
}
serve_files
sha() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
H="http://127.0.0.1:$HPORT"
export KILN_CACHE_DIR=$TMP/cache
URLDEPS="\"kiln:test/greet\" = { url = \"$H/greeter.wasm\", digest = \"$(sha "$A/greeter.wasm")\" }
\"kiln:test/env\" = { url = \"$H/envcount.wasm\", digest = \"$(sha "$A/envcount.wasm")\" }
$COUNTER"
manifest url.toml "{ url = \"$H/main.wasm\", digest = \"$(sha "$A/main.wasm")\" }" "$URLDEPS"
if up url.toml; then
    expect_eq "url source and url dependencies: served" "hello, url from the dependency" \
        "$(curl -s "$URL/?name=url")"
else
    fail "kiln up serves url sources" "$(cat "$TMP/up.err")"
fi
down
expect_eq "each url was downloaded once" 3 "$(grep -c "GET /.*\.wasm" "$TMP/http.log")"
check "the download cache holds the file under its digest" \
    test -f "$KILN_CACHE_DIR/downloads/sha256-$(sha256sum "$A/main.wasm" | cut -d' ' -f1).wasm"
kill "$HTTP_PID" 2>/dev/null
wait "$HTTP_PID" 2>/dev/null
answers url.toml "served again from the cache with the server gone" \
    "hello, again from the dependency" "/?name=again"

serve_files
BAD="sha256:$(printf '0%.0s' $(seq 1 64))"
manifest bad.toml "{ url = \"$H/main.wasm\", digest = \"$BAD\" }" "$DEPS"
out=$(refused bad.toml)
expect_contains "a digest mismatch is refused" "rc=1" "$out"
expect_contains "... naming the component, the url, both digests" \
    "component \`main\`: source $H/main.wasm: digest mismatch: expected $BAD, the download is $(sha "$A/main.wasm")" \
    "$out"
check "... and nothing is cached under the wrong digest" \
    test ! -e "$KILN_CACHE_DIR/downloads/sha256-${BAD#sha256:}.wasm"
manifest missing.toml "{ url = \"$H/nope.wasm\", digest = \"$BAD\" }" "$DEPS"
out=$(refused missing.toml)
expect_contains "a url that answers 404 is refused, naming it" \
    "component \`main\`: source $H/nope.wasm: download failed" "$out"

# --- dependencies from an OCI registry ---
# a warg registry says so in its discovery document (served by the file server above)
mkdir -p "$SRV/.well-known/wasm-pkg"
echo '{"preferredProtocol":"warg","warg":{"url":"https://warg.example"}}' \
    >"$SRV/.well-known/wasm-pkg/registry.json"
manifest warg.toml '"main.wasm"' "\"kiln:test/greet\" = { version = \"1.0.0\", registry = \"127.0.0.1:$HPORT\" }
\"kiln:test/env\" = { path = \"envcount.wasm\" }
$COUNTER"
out=$(refused warg.toml)
expect_contains "a warg registry is refused" "rc=1" "$out"
expect_contains "... with the reason" \
    "dependency 'kiln:test/greet': package kiln:test: registry 127.0.0.1:$HPORT is a warg registry" "$out"
expect_contains "... naming the alternative (an OCI registry, in registry.json)" \
    '{"preferredProtocol": "oci", "oci": {"registry": "HOST"' "$out"
kill "$HTTP_PID" 2>/dev/null
wait "$HTTP_PID" 2>/dev/null

source "$(dirname "$0")/helpers/registry.sh"
if ! command -v docker-registry >/dev/null || ! command -v skopeo >/dev/null; then
    echo "component_deps: registry dependencies not tested: docker-registry or skopeo missing (scripts/install-deps.sh installs them)" >&2
    fail "docker-registry and skopeo installed"
elif registry_start deps; then
    export KILN_REGISTRY_AUTH="$TMP/no-auth.json" DOCKER_CONFIG="$TMP/no-docker"
    # kiln:greeter 1.0.0 and 1.2.0 are the greeter; 2.0.0 is another component, which a
    # "1.0.0" (^1.0.0) requirement must not take
    for v in 1.0.0 1.2.0; do
        wasm_pkg_push "$A/greeter.wasm" "$REG/kiln/greeter:$v" || fail "publish kiln:greeter@$v"
    done
    wasm_pkg_push "$A/envcount.wasm" "$REG/kiln/greeter:2.0.0" || fail "publish kiln:greeter@2.0.0"
    wasm_pkg_push "$A/envcount.wasm" "$REG/kiln/test:0.1.0" || fail "publish kiln:test@0.1.0"
    check "skopeo sees the package layer as application/wasm" \
        grep -q '"application/wasm"' <(skopeo inspect --tls-verify=false --raw "docker://$REG/kiln/greeter:1.2.0")
    export KILN_CACHE_DIR=$TMP/cache-reg
    manifest reg.toml '"main.wasm"' "\"kiln:test/greet\" = { version = \"1.0.0\", registry = \"$REG\", package = \"kiln:greeter\" }
\"kiln:test/env@0.1.0\" = { version = \"^0.1\", registry = \"$REG\" }
$COUNTER"
    if up reg.toml; then
        expect_eq "registry dependencies: composed and served" "hello, reg from the dependency" \
            "$(curl -s "$URL/?name=reg")"
        expect_eq "... both of them" "dependency sees 0 environment variables" "$(curl -s "$URL/env")"
        expect_contains "the highest version meeting ^1.0.0 (1.2.0, not 2.0.0)" \
            "package kiln:greeter@1.2.0: fetched from $REG/kiln/greeter:1.2.0" "$(cat "$TMP/up.err")"
    else
        fail "kiln up serves registry dependencies" "$(cat "$TMP/up.err")"
    fi
    down
    # a component's own source from the registry: { registry, package, version }
    wasm_pkg_push "$A/main.wasm" "$REG/kiln/main:1.0.0" || fail "publish kiln:main@1.0.0"
    manifest regsrc.toml "{ registry = \"$REG\", package = \"kiln:main\", version = \"1.0.0\" }" "$DEPS"
    if up regsrc.toml; then
        expect_eq "a registry source: fetched and served" "hello, src from the dependency" \
            "$(curl -s "$URL/?name=src")"
        expect_contains "... fetched from the registry" \
            "package kiln:main@1.0.0: fetched from $REG/kiln/main:1.0.0" "$(cat "$TMP/up.err")"
    else
        fail "kiln up serves a component whose source is a registry package" "$(cat "$TMP/up.err")"
    fi
    down
    check "the package is cached under its layer digest" \
        test -f "$KILN_CACHE_DIR/downloads/sha256-$(sha256sum "$A/greeter.wasm" | cut -d' ' -f1).wasm"
    # the registry stays the source of versions: down, the app does not start
    registry_stop
    out=$(refused reg.toml)
    expect_contains "registry down: refused" "rc=1" "$out"
    expect_contains "... naming the package and the registry" "package kiln:greeter: $REG/kiln/greeter" "$out"
    # a tampered cache entry is fetched again, not used
    REG_PORT_WANT=${REG##*:} registry_start deps2 || true
    for v in 1.0.0 1.2.0; do wasm_pkg_push "$A/greeter.wasm" "$REG/kiln/greeter:$v"; done
    wasm_pkg_push "$A/envcount.wasm" "$REG/kiln/test:0.1.0"
    f="$KILN_CACHE_DIR/downloads/sha256-$(sha256sum "$A/greeter.wasm" | cut -d' ' -f1).wasm"
    printf 'junk' >>"$f"
    answers reg.toml "a tampered cache entry is fetched again" "hello, again from the dependency" "/?name=again"
    expect_eq "... and the cache holds the right bytes again" "$(sha "$A/greeter.wasm")" "$(sha "$f")"
    manifest nover.toml '"main.wasm"' "\"kiln:test/greet\" = { version = \"3.0.0\", registry = \"$REG\", package = \"kiln:greeter\" }
\"kiln:test/env\" = { path = \"envcount.wasm\" }
$COUNTER"
    out=$(refused nover.toml)
    expect_contains "no version meets the requirement: refused, naming it" \
        "package kiln:greeter: $REG/kiln/greeter: no tag meets the version requirement \`3.0.0\`" "$out"
fi

finish
