# Helpers for the registry tests (tests/e2e/registry*.sh). Source after tests/lib.sh.
#
# A real registry: Debian's docker-registry (the CNCF distribution server), started on a
# free loopback port with a generated config and its own storage under $TMP, stopped at
# exit. skopeo is the independent client.
#
# registry_start NAME [EXTRA_YAML_FILE]: starts registry NAME; EXTRA_YAML_FILE holds more
#   top-level YAML (auth:) and REGISTRY_TLS=CERT:KEY serves HTTPS. Sets REG (host:port),
#   REG_DIR (its storage), REG_PID. Returns non-zero after a failure when it does not answer.
# registry_stop: kills it (SIGKILL: a crash, not a shutdown).

registry_need() {
    local missing=""
    for t in docker-registry skopeo "$@"; do command -v "$t" >/dev/null 2>&1 || missing="$missing $t"; done
    if [ -n "$missing" ]; then
        echo "$_name: SKIP: missing$missing (scripts/install-deps.sh installs them)"
        exit 0
    fi
}

registry_start() {
    local name=$1 extra=${2:-} port=${REG_PORT_WANT:-$(free_port)}
    REG_DIR="$TMP/registry-$name"
    mkdir -p "$REG_DIR/data"
    {
        echo "version: 0.1"
        echo "log: {level: error}"
        echo "storage:"
        echo "  filesystem: {rootdirectory: $REG_DIR/data}"
        echo "  maintenance: {uploadpurging: {enabled: false}}"
        echo "http:"
        echo "  addr: 127.0.0.1:$port"
        echo "  secret: kiln-test"
        if [ -n "${REGISTRY_TLS:-}" ]; then
            echo "  tls: {certificate: ${REGISTRY_TLS%%:*}, key: ${REGISTRY_TLS#*:}}"
        fi
        [ -n "$extra" ] && cat "$extra"
    } >"$REG_DIR/config.yml"
    docker-registry serve "$REG_DIR/config.yml" >"$REG_DIR/log" 2>&1 &
    REG_PID=$!
    on_exit "kill -9 $REG_PID 2>/dev/null; wait $REG_PID 2>/dev/null"
    REG="127.0.0.1:$port"
    local scheme=http
    [ -n "${REGISTRY_TLS:-}" ] && scheme=https
    for _ in $(seq 1 100); do
        if curl -sk -o /dev/null "$scheme://$REG/v2/" 2>/dev/null; then
            pass "docker-registry $name answers on $REG"
            return 0
        fi
        kill -0 "$REG_PID" 2>/dev/null || break
        sleep 0.1
    done
    fail "docker-registry $name answers on $REG" "$(tail -n 5 "$REG_DIR/log")"
    return 1
}

registry_stop() {
    kill -9 "$REG_PID" 2>/dev/null
    wait "$REG_PID" 2>/dev/null
}

# up_from REF [UP ARGS...]: kiln up --from REF on a free port; sets URL and UP_PID.
up_from() {
    local ref=$1
    shift
    PORT=$(free_port)
    URL="http://127.0.0.1:$PORT"
    "$KILN" up --from "$ref" --listen "127.0.0.1:$PORT" "$@" >"$TMP/up.out" 2>"$TMP/up.err" &
    UP_PID=$!
    on_exit "kill $UP_PID 2>/dev/null"
    for _ in $(seq 1 600); do
        if curl -sf "$URL/.well-known/kiln/health" >/dev/null 2>&1; then
            pass "kiln up --from $ref serves"
            return 0
        fi
        kill -0 "$UP_PID" 2>/dev/null || break
        sleep 0.1
    done
    fail "kiln up --from $ref serves" "$(tail -n 20 "$TMP/up.err")"
    return 1
}

up_stop() {
    kill "$UP_PID" 2>/dev/null
    wait "$UP_PID" 2>/dev/null
}

# cache_entries DIR: what lies in DIR/oci (complete apps and anything half-written).
cache_entries() { ls -A "$1/oci" 2>/dev/null | tr '\n' ' '; }

# wasm_pkg_push WASM REG/NS/NAME:VERSION: publishes a component as wasm-pkg-tools (`wkg oci
# push`) lays a package out in an OCI registry — an image manifest whose config is
# application/vnd.wasm.config.v0+json and whose one layer is the component
# (application/wasm) — written as an OCI layout here and copied by skopeo.
wasm_pkg_push() {
    local wasm=$1 ref=$2 dir
    dir=$(mktemp -d "$TMP/wasm-pkg.XXXXXX")
    python3 - "$dir" "$wasm" <<'PY' || return 1
import hashlib, json, os, sys
d, w = sys.argv[1:]
os.makedirs(d + "/blobs/sha256")
def blob(b, mt):
    h = hashlib.sha256(b).hexdigest()
    open(f"{d}/blobs/sha256/{h}", "wb").write(b)
    return {"mediaType": mt, "digest": "sha256:" + h, "size": len(b)}
layer = open(w, "rb").read()
cfg = json.dumps({"created": "2026-01-01T00:00:00Z", "architecture": "wasm", "os": "wasip2",
                  "layerDigests": ["sha256:" + hashlib.sha256(layer).hexdigest()]}).encode()
man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
       "config": blob(cfg, "application/vnd.wasm.config.v0+json"),
       "layers": [blob(layer, "application/wasm")]}
m = blob(json.dumps(man).encode(), "application/vnd.oci.image.manifest.v1+json")
m["annotations"] = {"org.opencontainers.image.ref.name": "pkg"}
json.dump({"schemaVersion": 2, "manifests": [m]}, open(d + "/index.json", "w"))
open(d + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
    skopeo copy -q --dest-tls-verify=false "oci:$dir:pkg" "docker://$ref" >/dev/null 2>"$dir.err" ||
        { echo "skopeo copy to $ref: $(cat "$dir.err")" >&2; return 1; }
}
