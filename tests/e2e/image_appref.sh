#!/usr/bin/env bash
# kiln image build --app-ref: an image of Kiln that references the app instead of holding
# it (what SpinKube's container executor runs: `kiln up -f REF`). examples/hello is pushed
# to a docker-registry started here; the image, with no app layer, runs under runc with a
# read-only root filesystem and /tmp as a tmpfs (as in kube scaffold's Deployment): at
# start it pulls the app from the registry into /tmp/kiln-cache, compiles it with the
# toolchain it carries, and serves the same responses as `kiln up` from the directory.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/example.sh"
source "$(dirname "$0")/helpers/registry.sh"
source "$(dirname "$0")/helpers/runc.sh"
registry_need runc umoci

export KILN_REGISTRY_AUTH="$TMP/auth.json" # anonymous
export KILN_CACHE_DIR="$TMP/cache"

responses() {
    local out="" p
    for p in / /hello/Ada%20Lovelace; do
        http GET "$p"
        out+="GET $p $STATUS $BODY"$'\n'
    done
    printf '%s' "$out"
}

example_copy hello || fail "copy examples/hello"
example_build hello || { finish; exit 1; }
example_up || { finish; exit 1; }
WANT=$(responses)
example_down

registry_start appref || { finish; exit 1; }
REF="$REG/hello:v1"
check "kiln registry push" "$KILN" registry push -k -f "$APP" "$REF"

# flags checked before anything is built
out=$("$KILN" image build "$APP" --app-ref "$REF" -o "$TMP/bad" 2>&1)
expect_eq "--app-ref with an APP: exit 2" 2 "$?"
expect_contains "... saying why" "--app-ref takes no APP" "$out"
out=$("$KILN" image build --app-ref hello -o "$TMP/bad" 2>&1)
expect_eq "--app-ref without a registry host: exit 2" 2 "$?"
expect_contains "... saying why" "not a registry reference" "$out"
check "... and no layout written" test ! -e "$TMP/bad/index.json"

out=$("$KILN" image build --app-ref "$REF" -k -o "$TMP/img" --tag v1 2>&1)
expect_contains "image build --app-ref reports the reference" "the app is pulled from $REF at start" "$out"
insp=$(skopeo inspect "oci:$TMP/img:v1" 2>&1)
expect_eq "one layer: no app inside" 1 "$(printf '%s' "$insp" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["Layers"]))' 2>&1)"
cfg=$(skopeo inspect --config "oci:$TMP/img:v1" 2>&1)
args=$(printf '%s' "$cfg" | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["config"]["Cmd"]))' 2>&1)
expect_contains "Cmd pulls the reference" "up -f $REF --listen" "$args"
expect_contains "Cmd: loopback registry over HTTP (-k)" " -k" "$args"
expect_contains "the cache is under /tmp" "KILN_CACHE_DIR=/tmp/kiln-cache" "$cfg"

bundle_unpack "$TMP/img:v1" "$TMP/bundle" || { finish; exit 1; }
check "rootfs: no /app" test ! -e "$TMP/bundle/rootfs/app"
check "rootfs: the toolchain (wasm2c)" test -x "$TMP/bundle/rootfs/usr/bin/wasm2c"
port=$(free_port)
admin=$(free_port)
bundle_config "$TMP/bundle" "$port" "$admin" ro || { fail "bundle config.json"; finish; exit 1; }
id="kiln-appref-$$"
if runc_start "$TMP/bundle" "$id" "$admin"; then
    URL="http://127.0.0.1:$port"
    expect_eq "the container serves the pulled app: same responses" "$WANT" "$(responses)"
    expect_contains "it pulled the reference at start" "pulled $REG/hello@sha256:" "$(cat "$TMP/bundle/run.err")"
    runc kill "$id" TERM
    wait "$RUNC_PID"
    expect_eq "SIGTERM: exit 0" 0 "$?"
    runc delete "$id" 2>/dev/null
fi

# the registry gone: the container fails to start, naming the reference
registry_stop
port=$(free_port)
admin=$(free_port)
rm -rf "$TMP/bundle2"
bundle_unpack "$TMP/img:v1" "$TMP/bundle2" && bundle_config "$TMP/bundle2" "$port" "$admin" ro
timeout 60 runc run --bundle "$TMP/bundle2" "$id-down" >/dev/null 2>"$TMP/down.err"
expect_eq "registry down: kiln up exits 1" 1 "$?"
expect_contains "... naming the reference" "$REG/hello" "$(cat "$TMP/down.err")"
runc delete -f "$id-down" 2>/dev/null

finish
