#!/usr/bin/env bash
# kiln up serves apps built with Spin's real Python SDKs, the way the SDKs document them
# (tests/components/spin-py*: spin-sdk from PyPI, componentize-py, a spin.toml as Spin's
# templates write it):
#   spin-sdk 5.0.0 (componentize-py 0.25.1, world spin:up/http-trigger@4.1.0: a
#   wasi:http 0.3 handler importing Spin 3's packages: spin:key-value@3.0.0,
#   spin:variables@3.0.0, spin:sqlite@3.1.0, spin:postgres@4.2.0, ...) and
#   spin-sdk 3.4.1 (componentize-py 0.17.2, world spin-http: wasi:http 0.2, importing
#   spin:postgres@4.0.0 and spin:sqlite@3.0.0 beside fermyon:spin@2.0.0).
# Each SDK's README hello world answers as documented; the app's key-value store keeps its
# values across requests and across a restart (and SDK 5's SQLite database its rows); its variables come from --variable,
# SPIN_VARIABLE_* and defaults, an undefined one failing the request; its outbound request
# reaches a local upstream granted by allowed_outbound_hosts and is denied (logged) for one
# that is not. Without Kiln's spin:*@3 hosts neither SDK's apps loaded.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/e2e/helpers/up.sh"
source "$ROOT/tests/e2e/helpers/upstream.sh"

CORPUS="$KILN_BUILD/components"
NAMES=(spin-py5-hello spin-py5-app spin-py3-hello spin-py3-app)
if ! out=$("$ROOT/tests/components/build.sh" "$CORPUS" "${NAMES[@]}" 2>&1); then
    fail "tests/components/build.sh builds ${NAMES[*]}" "$out"
    finish
    exit
fi
pass "tests/components/build.sh builds the apps on Spin's Python SDKs"

UPORT=$(free_port)
DENIED_PORT=$(free_port)
upstream_start "$UPORT" || {
    finish
    exit
}

# app SDK: $TMP/SDK/spin.toml with the SDK's hello world on /hello and its app on /...
app() {
    mkdir -p "$TMP/$1"
    cp "$CORPUS/spin-$1-hello.wasm" "$CORPUS/spin-$1-app.wasm" "$TMP/$1/"
    cat >"$TMP/$1/spin.toml" <<TOML
spin_manifest_version = 2

[application]
name = "spin-$1"
version = "0.1.0"
authors = ["Dev Eloper <dev@example.com>"]

[variables]
greeting = { default = "hello" }
secret = { required = true, secret = true }

[[trigger.http]]
route = "/hello"
component = "hello"

[[trigger.http]]
route = "/..."
component = "app"

[component.hello]
source = "spin-$1-hello.wasm"
[component.hello.build]
command = "componentize-py componentize app -o spin-$1-hello.wasm"

[component.app]
source = "spin-$1-app.wasm"
key_value_stores = ["default"]
sqlite_databases = ["default"]
allowed_outbound_hosts = ["http://127.0.0.1:$UPORT"]
[component.app.variables]
message = "{{ greeting }}, world"
token = "{{ secret }}"
TOML
}

# check_sdk SDK: the whole walk through one SDK's apps.
check_sdk() {
    local sdk=$1 r c out
    app "$sdk"
    # compiled first (kiln up waits 60 s for its health check; a cold cache takes longer)
    for c in hello app; do
        out=$("$KILN" compile "$TMP/$sdk/spin-$sdk-$c.wasm" 2>&1)
        expect_contains "$sdk: kiln compile spin-$sdk-$c" "spin-$sdk-$c.wasm: component, 14 core modules, fast tier" "$out"
    done
    SPIN_VARIABLE_SECRET=s3cr3t start_up_from "$TMP/$sdk" --variable greeting=hey ||
        fail "$sdk: kiln up starts" "$(tail -n 20 "$TMP/up.err")"

    # the README's hello world
    r=$(curl -s -m 60 -i "$URL/hello")
    expect_contains "$sdk hello: 200" "HTTP/1.1 200" "$r"
    expect_contains "$sdk hello: its content-type" "content-type: text/plain" "$r"
    expect_contains "$sdk hello: the body's length" "Content-Length: 18" "$r"
    expect_eq "$sdk hello: the body" "Hello from Python!" "$(curl -s -m 60 "$URL/hello")"

    # key-value: set, get, exists, get-keys, delete
    r=$(curl -s -m 60 -i -X PUT --data-binary 'v-one' "$URL/kv/k1")
    expect_contains "$sdk kv: PUT answers 201" "HTTP/1.1 201" "$r"
    expect_contains "$sdk kv: PUT's body" "stored k1" "$r"
    r=$(curl -s -m 60 -i "$URL/kv/k1")
    expect_contains "$sdk kv: GET of a stored key: 200" "HTTP/1.1 200" "$r"
    expect_contains "$sdk kv: ... application/octet-stream" "content-type: application/octet-stream" "$r"
    expect_eq "$sdk kv: ... its value" "v-one" "$(curl -s -m 60 "$URL/kv/k1")"
    r=$(curl -s -m 60 -i "$URL/kv/absent")
    expect_contains "$sdk kv: an absent key: 404" "HTTP/1.1 404" "$r"
    curl -s -m 60 -X PUT --data-binary 'v-two' "$URL/kv/k2" >/dev/null
    expect_eq "$sdk kv: get-keys lists both" "$(printf 'k1\nk2')" "$(curl -s -m 60 "$URL/kv-keys")"
    expect_eq "$sdk kv: DELETE" "deleted k2" "$(curl -s -m 60 -X DELETE "$URL/kv/k2")"
    expect_eq "$sdk kv: get-keys after the delete" "k1" "$(curl -s -m 60 "$URL/kv-keys")"
    # more keys than one read of the stream takes (SDK 5 reads 100 at a time, Kiln gives
    # at most 64 per read)
    local urls=() want=k1 i
    for i in $(seq 101 250); do urls+=("$URL/kv/m$i"); want+=$'\n'"m$i"; done
    curl -s -m 120 -X PUT --data-binary 'x' "${urls[@]}" >/dev/null
    expect_eq "$sdk kv: get-keys of 151 keys" "$want" "$(curl -s -m 60 "$URL/kv-keys")"

    # variables: --variable, SPIN_VARIABLE_*, an undefined one
    expect_eq "$sdk variables: from --variable through a template" "hey, world" \
        "$(curl -s -m 60 "$URL/var/message")"
    expect_eq "$sdk variables: a secret from SPIN_VARIABLE_SECRET" "s3cr3t" \
        "$(curl -s -m 60 "$URL/var/token")"
    r=$(curl -s -m 60 -i "$URL/var/nope")
    expect_contains "$sdk variables: an undefined one fails the request (500)" "HTTP/1.1 500" "$r"
    expect_contains "$sdk variables: ... the SDK raised Spin's undefined error" \
        'Error_Undefined(value='"'"'no variable for "app"."nope"' "$(cat "$TMP/up.err")"
    expect_not_contains "$sdk variables: the secret is not logged" "s3cr3t" "$(cat "$TMP/up.err" "$TMP/up.out")"

    # outbound HTTP: granted, then not granted
    r=$(curl -s -m 60 -i "$URL/fetch?url=http://127.0.0.1:$UPORT/item/7")
    expect_contains "$sdk outbound: a granted upstream: 200" "HTTP/1.1 200" "$r"
    expect_contains "$sdk outbound: ... the upstream's content-type" "x-fetched-type: text/plain" "$r"
    expect_eq "$sdk outbound: ... the upstream's body" "item 7" \
        "$(curl -s -m 60 "$URL/fetch?url=http://127.0.0.1:$UPORT/item/7")"
    r=$(curl -s -m 60 -i "$URL/fetch?url=http://127.0.0.1:$DENIED_PORT/item/1")
    expect_contains "$sdk outbound: an upstream not granted: 500" "HTTP/1.1 500" "$r"
    expect_contains "$sdk outbound: ... denied and logged" \
        "outbound request to http://127.0.0.1:$DENIED_PORT denied (not in allowed_outbound_hosts)" \
        "$(cat "$TMP/up.err")"
    expect_contains "$sdk outbound: ... the SDK raised wasi:http's HTTP-request-denied" \
        "ErrorCode_HttpRequestDenied" "$(cat "$TMP/up.err")"

    # SQLite (SDK 5 only: spin:sqlite@3.1.0's open-async, execute-async with its rows as a
    # stream, last-insert-rowid-async, changes-async; SDK 3 uses fermyon:spin/sqlite@2.0.0)
    if [ "$sdk" = py5 ]; then
        r=$(curl -s -m 60 -i -X POST --data-binary 'first note' "$URL/sql")
        expect_contains "$sdk sqlite: an insert: 201" "HTTP/1.1 201" "$r"
        expect_contains "$sdk sqlite: ... its rowid and changes" "note 1, 1 changed" "$r"
        expect_eq "$sdk sqlite: a second insert" "note 2, 1 changed" \
            "$(curl -s -m 60 -X POST --data-binary 'second' "$URL/sql")"
        expect_eq "$sdk sqlite: a select streams the rows" "$(printf 'id|body\n1|first note\n2|second')" \
            "$(curl -s -m 60 "$URL/sql")"
    fi

    # a restart: the store kept its value; the variable falls back to its default
    stop_up
    SPIN_VARIABLE_SECRET=other start_up_from "$TMP/$sdk" ||
        fail "$sdk: kiln up starts again" "$(tail -n 20 "$TMP/up.err")"
    expect_eq "$sdk kv: the value outlives a restart" "v-one" "$(curl -s -m 60 "$URL/kv/k1")"
    [ "$sdk" = py5 ] && expect_eq "$sdk sqlite: the rows outlive a restart" \
        "$(printf 'id|body\n1|first note\n2|second')" "$(curl -s -m 60 "$URL/sql")"
    expect_eq "$sdk variables: the default without --variable" "hello, world" \
        "$(curl -s -m 60 "$URL/var/message")"
    expect_eq "$sdk variables: SPIN_VARIABLE_SECRET as now set" "other" \
        "$(curl -s -m 60 "$URL/var/token")"
    kill -0 "$UP_PID" 2>/dev/null && pass "$sdk: kiln up still runs" || fail "$sdk: kiln up still runs" "$(tail -n 20 "$TMP/up.err")"
    stop_up
}

check_sdk py5
check_sdk py3

finish
