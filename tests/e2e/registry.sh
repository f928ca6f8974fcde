#!/usr/bin/env bash
# kiln registry push / pull and kiln up --from against a real registry (Debian's
# docker-registry, anonymous, on loopback) with skopeo as the independent client:
#   - examples/hello pushed in Spin's layout; skopeo sees the media types and config
#   - pulled on a clean cache, served by `kiln up --from` (tag and digest) with the same
#     responses as from the directory
#   - skopeo copies the artifact to another repository; Kiln pulls the copy
#   - examples/static (files: inlined and layered), archive mode, chunked uploads,
#     HEAD-before-upload and cross-repository mounts
#   - missing tag, tampered blob, registry killed mid-push, registry down: clear errors
#     naming the reference, nothing half-written in the cache
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/example.sh"
source "$(dirname "$0")/helpers/registry.sh"
registry_need

export KILN_REGISTRY_AUTH="$TMP/auth.json" # no stored credentials: anonymous
SK=(--tls-verify=false)

# responses: status and body of a few requests to $URL, one line each
responses() {
    local out="" p
    for p in / /hello/Ada%20Lovelace /some/other/path; do
        http GET "$p"
        out+="GET $p $STATUS $BODY"$'\n'
    done
    http DELETE /
    out+="DELETE / $STATUS"
    printf '%s' "$out"
}

example_copy hello || fail "copy examples/hello"
example_build hello || { finish; exit 1; }
HELLO=$APP
example_up || { finish; exit 1; }
WANT=$(responses)
example_down

registry_start anon || { finish; exit 1; }
REF="$REG/demo/hello:v1"

# ---- push, and what skopeo sees ----
out=$("$KILN" registry push -k -f "$HELLO" "$REF" 2>&1)
expect_eq "push exits 0" 0 $?
expect_contains "push names the wasm layer" "application/vnd.wasm.content.layer.v1+wasm" "$out"
DIGEST=$(printf '%s\n' "$out" | sed -n 's/^pushed .*@\(sha256:[0-9a-f]*\)$/\1/p')
expect_eq "push prints the manifest digest" 71 "${#DIGEST}"

raw=$(skopeo inspect "${SK[@]}" --raw "docker://$REF" 2>&1)
expect_contains "skopeo: OCI image manifest" '"mediaType":"application/vnd.oci.image.manifest.v1+json"' "$raw"
expect_contains "skopeo: a wasm layer" '"mediaType":"application/vnd.wasm.content.layer.v1+wasm"' "$raw"
expect_contains "skopeo: the locked app layer" '"mediaType":"application/vnd.fermyon.spin.application.v1+config"' "$raw"
expect_contains "skopeo: the title annotation" '"org.opencontainers.image.title":"hello"' "$raw"
expect_eq "skopeo: the manifest digest is the one kiln printed" "$DIGEST" \
    "sha256:$(printf '%s' "$raw" | sha256sum | cut -d' ' -f1)"
cfg=$(skopeo inspect "${SK[@]}" --config "docker://$REF" 2>&1)
expect_contains "skopeo: config architecture wasm" '"architecture": "wasm"' "$cfg"
expect_contains "skopeo: config labels the locked app digest" 'com.fermyon.spin.lockedAppDigest' "$cfg"

# a second push of the same app sends no blob again (HEAD first)
out=$("$KILN" registry push -k -f "$HELLO" "$REF" 2>&1)
expect_not_contains "second push uploads nothing" "uploaded" "$out"
expect_contains "second push finds the blobs" "exists" "$out"
# (the manifest differs: its created annotation is the time of the push)
DIGEST=$(printf '%s\n' "$out" | sed -n 's/^pushed .*@\(sha256:[0-9a-f]*\)$/\1/p')
raw=$(skopeo inspect "${SK[@]}" --raw "docker://$REF" 2>&1)

# ---- pull on a clean cache, serve it ----
export KILN_CACHE_DIR="$TMP/cache1"
dir=$("$KILN" registry pull -k "$REF" 2>"$TMP/pull.err")
expect_eq "pull exits 0" 0 $?
expect_eq "pull lands in the cache by manifest digest" "$KILN_CACHE_DIR/oci/sha256-${DIGEST#sha256:}" "$dir"
check "the pulled app has a manifest" test -f "$dir/spin.toml"
cmp -s "$dir/components/hello.wasm" "$HELLO/target/hello.wasm" && pass "the pulled component is byte for byte the built one" ||
    fail "the pulled component is byte for byte the built one"
expect_eq "nothing but the app in the cache" "sha256-${DIGEST#sha256:} " "$(cache_entries "$KILN_CACHE_DIR")"

export KILN_CACHE_DIR="$TMP/cache2"
if up_from "$REF" -k; then
    expect_eq "kiln up --from TAG: same responses as from the directory" "$WANT" "$(responses)"
    up_stop
fi
if up_from "$REG/demo/hello@$DIGEST" -k; then
    expect_eq "kiln up --from @DIGEST: same responses" "$WANT" "$(responses)"
    expect_contains "by digest: served from the cache" "cached" "$(cat "$TMP/up.err")"
    up_stop
fi

# ---- skopeo pushes, Kiln pulls ----
if skopeo copy "${SK[@]/--tls-verify/--src-tls-verify}" --dest-tls-verify=false \
    "docker://$REF" "docker://$REG/copied/hello:v2" >"$TMP/skopeo.out" 2>&1; then
    pass "skopeo copies the artifact"
    export KILN_CACHE_DIR="$TMP/cache3"
    if up_from "$REG/copied/hello:v2" -k; then
        expect_eq "the skopeo copy serves the same" "$WANT" "$(responses)"
        up_stop
    fi
else
    fail "skopeo copies the artifact" "$(tail -n 5 "$TMP/skopeo.out")"
fi

# ---- cross-repository mount, chunked upload ----
out=$("$KILN" registry push -k --mount-from demo/hello -f "$HELLO" "$REG/other/hello:v1" 2>&1)
expect_eq "push with --mount-from exits 0" 0 $?
expect_contains "the wasm blob is mounted, not uploaded" "mounted  sha256" "$out"
out=$("$KILN" registry push -k --chunk-size 4096 -f "$HELLO" "$REG/chunked/hello:v1" 2>&1)
expect_eq "chunked push exits 0" 0 $?
export KILN_CACHE_DIR="$TMP/cache4"
dir=$("$KILN" registry pull -k "$REG/chunked/hello:v1" 2>/dev/null)
cmp -s "$dir/components/hello.wasm" "$HELLO/target/hello.wasm" && pass "a chunked upload arrives whole" ||
    fail "a chunked upload arrives whole" "$dir"

# ---- static files: inlined, one layer each, or archive layers ----
example_copy static || fail "copy examples/static"
example_build static && STATIC=$APP
for mode in layers archive; do
    flag=()
    [ "$mode" = archive ] && flag=(--archive)
    out=$("$KILN" registry push -k "${flag[@]}" -f "$STATIC" "$REG/demo/static:$mode" 2>&1)
    expect_eq "static ($mode) push exits 0" 0 $?
    if [ "$mode" = archive ]; then
        expect_contains "archive mode: a tar+gzip layer" "application/vnd.wasm.content.bundle.v1.tar+gzip" "$out"
        expect_not_contains "archive mode: no file layers" "application/vnd.wasm.content.layer.v1+data" "$out"
    else
        expect_contains "file layers" "application/vnd.wasm.content.layer.v1+data" "$out"
    fi
    export KILN_CACHE_DIR="$TMP/cache-static-$mode"
    if up_from "$REG/demo/static:$mode" -k; then
        for f in hello.txt index.html css/site.css data.json; do
            http GET "/$f"
            expect_eq "static ($mode): /$f" "$(cat "$STATIC/public/$f")" "$BODY"
        done
        up_stop
    fi
done

# ---- failures ----
export KILN_CACHE_DIR="$TMP/cache-fail"
out=$("$KILN" registry pull -k "$REG/demo/hello:nope" 2>&1)
expect_eq "missing tag: exit 1" 1 $?
expect_contains "missing tag: names the reference" "$REG/demo/hello" "$out"
expect_contains "missing tag: the registry's reason" "MANIFEST_UNKNOWN" "$out"
expect_eq "missing tag: nothing in the cache" "" "$(cache_entries "$KILN_CACHE_DIR")"

out=$("$KILN" up -k --from "$REG/demo/nothing:v1" --listen 127.0.0.1:1 2>&1)
expect_contains "up --from a missing repository fails with the registry's reason" "MANIFEST_UNKNOWN" "$out"
expect_contains "up --from a missing repository names it" "$REG/demo/nothing:v1" "$out"

# a tampered blob: the wasm layer's bytes changed in the registry's storage
WASM_DIGEST=$(printf '%s' "$raw" | python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])')
BLOB="$REG_DIR/data/docker/registry/v2/blobs/sha256/${WASM_DIGEST:7:2}/${WASM_DIGEST#sha256:}/data"
if [ -f "$BLOB" ]; then
    cp "$BLOB" "$TMP/blob.orig"
    printf 'tampered' | dd of="$BLOB" bs=1 seek=100 conv=notrunc 2>/dev/null
    out=$("$KILN" registry pull -k "$REF" 2>&1)
    expect_eq "tampered blob: exit 1" 1 $?
    expect_contains "tampered blob: refused by digest" "tampered or corrupt" "$out"
    expect_contains "tampered blob: names the reference" "$REG/demo/hello" "$out"
    expect_eq "tampered blob: nothing in the cache" "" "$(cache_entries "$KILN_CACHE_DIR")"
    out=$("$KILN" up -k --from "$REF" --listen 127.0.0.1:1 2>&1)
    expect_contains "tampered blob: kiln up --from refuses it too" "tampered or corrupt" "$out"
    cp "$TMP/blob.orig" "$BLOB"
else
    fail "the wasm blob is in the registry's storage" "$BLOB"
fi

# registry killed in the middle of a push: a big file, uploaded in small chunks
BIG="$TMP/big"
cp -R "$HELLO" "$BIG"
head -c 48000000 /dev/urandom >"$BIG/big.bin"
sed -i 's|^source = "target/hello.wasm"|source = "target/hello.wasm"\nfiles = ["big.bin"]|' "$BIG/kiln.toml"

# kiln killed in the middle of a pull: the next pull removes the leftovers
out=$("$KILN" registry push -k -f "$BIG" "$REG/demo/bigok:v1" 2>&1)
expect_eq "big app push exits 0" 0 $?
BIGDIGEST=$(printf '%s\n' "$out" | sed -n 's/^pushed .*@sha256:\([0-9a-f]*\)$/\1/p')
export KILN_CACHE_DIR="$TMP/cache-kill"
"$KILN" registry pull -k "$REG/demo/bigok:v1" >/dev/null 2>&1 &
PULL_PID=$!
for _ in $(seq 1 1000); do
    compgen -G "$KILN_CACHE_DIR/oci/.pull-*" >/dev/null && break
    kill -0 "$PULL_PID" 2>/dev/null || break
    sleep 0.005
done
kill -9 "$PULL_PID" 2>/dev/null
wait "$PULL_PID" 2>/dev/null
[ -n "${VERBOSE:-}" ] && echo "  after the kill: $(cache_entries "$KILN_CACHE_DIR")"
half=""
for d in "$KILN_CACHE_DIR"/oci/sha256-*; do
    [ -e "$d" ] && [ ! -f "$d/spin.toml" ] && half="$half $d"
done
expect_eq "killed pull: no app directory without its manifest" "" "$half"
dir=$("$KILN" registry pull -k "$REG/demo/bigok:v1" 2>/dev/null)
cmp -s "$dir/files/hello/big.bin" "$BIG/big.bin" && pass "the next pull completes the big app" ||
    fail "the next pull completes the big app" "$dir"
expect_eq "the next pull removed the killed one's leftovers" "sha256-$BIGDIGEST " \
    "$(cache_entries "$KILN_CACHE_DIR")"
head -c 48000000 /dev/urandom >"$BIG/big.bin" # new bytes: the push below must upload them
export KILN_CACHE_DIR="$TMP/cache-fail"
"$KILN" registry push -k --chunk-size 16384 -f "$BIG" "$REG/demo/big:v1" >"$TMP/push.out" 2>"$TMP/push.err" &
PUSH_PID=$!
for _ in $(seq 1 500); do
    grep -q 'vnd.wasm.content.layer.v1+wasm' "$TMP/push.out" 2>/dev/null && break
    sleep 0.01
done
sleep 0.1
registry_stop
wait "$PUSH_PID"
expect_eq "killed mid-push: exit 1" 1 $?
err=$(cat "$TMP/push.err"); [ -n "${VERBOSE:-}" ] && echo "$err"
expect_contains "killed mid-push: names the reference" "$REG/demo/big" "$err"
expect_contains "killed mid-push: says the push failed" "push of $REG/demo/big:v1 failed" "$err"
expect_not_contains "killed mid-push: no success line" "pushed " "$(cat "$TMP/push.out")"

# registry down: a pull fails at once with the cause, nothing cached
out=$("$KILN" registry pull -k "$REF" 2>&1)
expect_eq "registry down: exit 1" 1 $?
expect_contains "registry down: names the reference" "$REG/demo/hello" "$out"
expect_contains "registry down: the cause" "onnect" "$out"
expect_eq "registry down: nothing in the cache" "" "$(cache_entries "$KILN_CACHE_DIR")"

# after a restart on the same storage, the interrupted push left no tag behind
REG_PORT_WANT=${REG#*:} registry_start anon && {
    out=$("$KILN" registry pull -k "$REG/demo/big:v1" 2>&1)
    expect_contains "the interrupted push left no tag" "no such tag or manifest" "$out"
    dir=$("$KILN" registry pull -k "$REF" 2>/dev/null)
    check "the restarted registry still serves the app" test -f "$dir/spin.toml"
}
finish
