#!/usr/bin/env bash
# kiln up -c ID loads only what the selected components need: their triggers' components,
# the `{ component = ... }` dependencies and middleware of those, and nothing of the
# others (cli/up_flags.c marks them unused: their url sources are not downloaded, their
# key-value labels not checked, their files not compiled). Here the unselected `bad`
# component is broken four ways (not Wasm, an unknown key_value_stores label, a url source
# nobody serves, a dependency from a warg registry) and `kiln up -c good` serves good (with
# its p3 middleware component `auth`, which is needed and loaded), while `kiln up` and
# `kiln up -c bad` still refuse. wasm-tools comes from scripts/install-tools.sh.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/up.sh"
source "$(dirname "$0")/helpers/p3mw.sh"

A=$TMP/app
if ! p3mw_build "$A" good; then
    finish
    exit 1
fi
echo "not a wasm file" >"$A/bad.wasm"

# app BAD-LINES: the manifest with `bad` written so.
app() {
    cat >"$A/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "select"
[[trigger.http]]
route = "/good/..."
component = "good"
dependencies.middleware = [{ component = "auth" }]
[[trigger.http]]
route = "/bad"
component = "bad"
[component.good]
source = "good.wasm"
[component.auth]
source = "auth.wasm"
[component.bad]
$1
TOML
}

n=0
for bad in 'source = "bad.wasm"' \
    $'source = "bad.wasm"\nkey_value_stores = ["nosuch"]' \
    'source = { url = "http://127.0.0.1:1/bad.wasm", digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000" }' \
    $'source = "bad.wasm"\n[component.bad.dependencies]\n"a:b/c" = { version = "1.0" }'; do
    n=$((n + 1))
    app "$bad"
    timeout 60 "$KILN" up -f "$A/spin.toml" --listen "127.0.0.1:$PORT" >/dev/null 2>"$TMP/all.err"
    expect_eq "broken way $n: kiln up without -c refuses" 1 $?
    if start_up_from "$A/spin.toml" -c good; then
        pass "broken way $n: kiln up -c good starts"
        out=$(curl -s -H 'authorization: t' "$URL/good/x")
        expect_eq "broken way $n: good answers (through auth)" "hello from a p3 handler" "$out"
        code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/good/x")
        expect_eq "broken way $n: auth, a component of good's middleware, is loaded (401)" 401 "$code"
        code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/bad")
        expect_eq "broken way $n: bad's route is not served" 404 "$code"
    else
        fail "broken way $n: kiln up -c good starts" "$(tail -n 5 "$TMP/up.err")"
    fi
    stop_up
done
app 'source = "bad.wasm"'
timeout 60 "$KILN" up -f "$A/spin.toml" -c bad --listen "127.0.0.1:$PORT" >/dev/null 2>"$TMP/bad.err"
expect_eq "kiln up -c bad still refuses the broken component" 1 $?

finish
