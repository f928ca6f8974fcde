#!/usr/bin/env bash
# kiln image build: an OCI image layout written by Kiln itself (no daemon) that skopeo
# reads, umoci unpacks and runc runs: the container serves the app on its port from the
# precompiled cache (the image has no wasm2c and no C compiler), answers the admin
# endpoints, and on SIGTERM exits 0 promptly.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/runc.sh"

for tool in runc umoci skopeo; do
    if ! command -v "$tool" >/dev/null; then
        echo "image_runc: $tool is missing (scripts/install-deps.sh installs it)" >&2
        fail "$tool installed"
        finish
        exit
    fi
done

mkdir -p "$TMP/app/static"
clang --target=wasm32-wasi --sysroot=/usr -O2 "$ROOT/tests/e2e/guests/wagi_hello.c" \
    -o "$TMP/app/hello.wasm" || { fail "guest build (clang wasm32-wasi)"; finish; exit; }
echo "a static file" >"$TMP/app/static/a.txt"
cat >"$TMP/app/kiln.toml" <<'TOML'
spin_manifest_version = 2

[application]
name = "img-app"
version = "1.2.3"

[[trigger.http]]
route = "/hello"
component = "hello"
executor = { type = "wagi" }

[component.hello]
source = "hello.wasm"
files = ["static/*.txt"]
TOML

out=$("$KILN" image build "$TMP/app" -o "$TMP/img" --oci-archive "$TMP/img.tar" 2>&1)
expect_contains "image build reports the layout" "OCI image layout, manifest sha256:" "$out"
check "oci-layout file" test -f "$TMP/img/oci-layout"
expect_eq "oci-layout version" '{"imageLayoutVersion":"1.0.0"}' "$(cat "$TMP/img/oci-layout")"

# skopeo, an independent reader, sees the config and both layers; the archive is the same
insp=$(skopeo inspect "oci:$TMP/img:1.2.3" 2>&1)
expect_contains "skopeo: architecture" '"Architecture": "amd64"' "$insp"
expect_contains "skopeo: title label" '"org.opencontainers.image.title": "img-app"' "$insp"
expect_eq "skopeo: two layers" 2 "$(printf '%s' "$insp" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["Layers"]))' 2>&1)"
cfg=$(skopeo inspect --config "oci:$TMP/img:1.2.3" 2>&1)
expect_contains "config: entrypoint" '"Entrypoint": [
            "/usr/local/bin/kiln"' "$cfg"
expect_contains "config: StopSignal" '"StopSignal": "SIGTERM"' "$cfg"
expect_contains "config: exposed port" '"3000/tcp"' "$cfg"
ainsp=$(skopeo inspect "oci-archive:$TMP/img.tar:1.2.3" 2>&1)
expect_eq "oci-archive has the same manifest digest" \
    "$(printf '%s' "$insp" | grep '"Digest"')" "$(printf '%s' "$ainsp" | grep '"Digest"')"
# skopeo copies it (checks every blob's digest on the way)
check "skopeo copy verifies every blob" skopeo copy "oci:$TMP/img:1.2.3" "dir:$TMP/copy"

# Reproducible runtime layer: the same kiln gives the same layer digest (mtime 0, owner
# 0:0, sorted entries). The app layer is not byte-identical across builds: the opt tier's
# compiled modules carry the name of cc's temporary source file.
layer0() { python3 -c 'import json,sys; d=sys.argv[1]; i=json.load(open(d+"/index.json"))["manifests"][0]["digest"][7:]; print(json.load(open(d+"/blobs/sha256/"+i))["layers"][0]["digest"])' "$1"; }
"$KILN" image build "$TMP/app" -o "$TMP/img2" >/dev/null 2>&1
expect_eq "same kiln, same runtime layer digest" "$(layer0 "$TMP/img")" "$(layer0 "$TMP/img2")"

# Sources outside the app directory: reached through '..' they land where kiln up in the
# image resolves them (/app/../shared -> /shared); an absolute path elsewhere is refused.
mkdir -p "$TMP/shared" "$TMP/app3"
cp "$TMP/app/hello.wasm" "$TMP/shared/h.wasm"
sed 's|source = "hello.wasm"|source = "../shared/h.wasm"|; /^files/d' "$TMP/app/kiln.toml" >"$TMP/app3/kiln.toml"
"$KILN" image build "$TMP/app3" -o "$TMP/img3" >/dev/null 2>&1
applayer() { python3 -c 'import json,sys,tarfile; d=sys.argv[1]; i=json.load(open(d+"/index.json"))["manifests"][0]["digest"][7:]; l=json.load(open(d+"/blobs/sha256/"+i))["layers"][1]["digest"][7:]; print(" ".join(m.name for m in tarfile.open(d+"/blobs/sha256/"+l) if m.isfile() and not m.name.startswith("var/")))' "$1" 2>&1; }
expect_eq "a '..' source lands at its resolved path" "app/kiln.toml shared/h.wasm" "$(applayer "$TMP/img3")"
sed "s|source = \"hello.wasm\"|source = \"$TMP/shared/h.wasm\"|; /^files/d" "$TMP/app/kiln.toml" >"$TMP/app3/kiln.toml"
out=$("$KILN" image build "$TMP/app3" -o "$TMP/img4" 2>&1)
expect_eq "an absolute source elsewhere: exit 1" 1 "$?"
expect_contains "... saying why" "is outside the application directory" "$out"
check "... and no layout written" test ! -e "$TMP/img4/index.json"

bundle_unpack "$TMP/img:1.2.3" "$TMP/bundle" || { finish; exit; }
R="$TMP/bundle/rootfs"
check "rootfs: kiln" test -x "$R/usr/local/bin/kiln"
check "rootfs: the app's manifest" test -f "$R/app/kiln.toml"
check "rootfs: the mounted static file" test -f "$R/app/static/a.txt"
check "rootfs: precompiled modules" compgen -G "$R/var/cache/kiln/*.so"
expect_eq "rootfs: no wasm2c, no cc, no tcc headers" "" \
    "$(ls "$R/usr/bin/wasm2c" "$R/usr/bin/cc" "$R/usr/lib/x86_64-linux-gnu/tcc" 2>/dev/null)"

# runc: the bundle's config.json from `runc spec`, with the image's process (args, env, cwd)
# and the host's network namespace so that the test reaches the port.
port=$(free_port)
admin=$(free_port)
bundle_config "$TMP/bundle" "$port" "$admin" || { fail "bundle config.json"; finish; exit; }
id="kiln-e2e-$$"
runc_start "$TMP/bundle" "$id" "$admin"
rpid=$RUNC_PID
body=$(curl -s -m 5 "http://127.0.0.1:$port/hello")
expect_eq "the container serves the app" "hello 1" "$body"
expect_eq "admin /healthz answers" 200 "$(curl -s -o /dev/null -w '%{http_code}' -m 5 "http://127.0.0.1:$admin/healthz")"
expect_contains "served from the image's cache on the opt tier" "opt tier ready" "$(cat "$TMP/bundle/run.err")"
expect_contains "listed by runc" "running" "$(runc state "$id" 2>&1)"

start=$(date +%s%N)
runc kill "$id" TERM
wait "$rpid"
status=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
expect_eq "SIGTERM: the container exits 0" 0 "$status"
# a correctness bound, not a timing target: a drained server stops at once, a hung one
# would be killed by the runtime only after its grace period (kubelet: 30 s)
if [ "$elapsed_ms" -lt 10000 ]; then pass "stopped within 10 s of SIGTERM"; else
    fail "stopped within 10 s of SIGTERM" "took $elapsed_ms ms"; fi
runc delete "$id" 2>/dev/null
expect_not_contains "nothing compiled in the container" "compiled in" "$(cat "$TMP/bundle/run.err")"

# --toolchain: wasm2c, the libc headers and tcc's runtime come along, so the fast tier
# compiles inside the container a module missing from the image's cache
"$KILN" image build "$TMP/app" -o "$TMP/timg" --toolchain >/dev/null 2>&1 || fail "image build --toolchain"
bundle_unpack "$TMP/timg:1.2.3" "$TMP/tbundle"
check "toolchain image: wasm2c" test -x "$TMP/tbundle/rootfs/usr/bin/wasm2c"
rm -f "$TMP"/tbundle/rootfs/var/cache/kiln/*.so
tport=$(free_port)
tadmin=$(free_port)
bundle_config "$TMP/tbundle" "$tport" "$tadmin" || fail "toolchain bundle config.json"
runc_start "$TMP/tbundle" "$id-tc" "$tadmin"
tpid=$RUNC_PID
expect_eq "toolchain image: serves a module it compiled itself" "hello 1" \
    "$(curl -s -m 5 "http://127.0.0.1:$tport/hello")"
expect_contains "... on the fast tier, compiled in the container" "fast tier ready (guard memory checks; compiled in" \
    "$(cat "$TMP/tbundle/run.err")"
runc kill "$id-tc" TERM
wait "$tpid"
expect_eq "toolchain image: SIGTERM, exit 0" 0 "$?"
runc delete "$id-tc" 2>/dev/null

finish
