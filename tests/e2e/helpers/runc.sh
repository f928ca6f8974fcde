# Helpers for the tests that run Kiln's container image with runc (tests/e2e/image_*.sh).
# Source after tests/lib.sh.
#
# bundle_unpack LAYOUT:TAG BUNDLE: umoci unpacks the image into a runtime bundle.
# bundle_config BUNDLE PORT ADMIN [ro]: config.json from `runc spec`, with the image's own
#   process (args, env, cwd from umoci's config) on loopback ports (the values after
#   --listen and --admin replaced) and the host's network namespace so that the test
#   reaches the port; with "ro" the root filesystem is read-only and /tmp a tmpfs, as in
#   the Deployment `kiln kube scaffold` writes.
# runc_start BUNDLE ID ADMIN: runs the container in the background (stderr in
#   BUNDLE/run.err), sets RUNC_PID, kills it at exit, and waits for /readyz on ADMIN.
#   Returns non-zero when it never gets ready.

bundle_unpack() {
    umoci unpack --image "$1" "$2" >/dev/null 2>"$TMP/umoci.err" ||
        { fail "umoci unpack $1" "$(cat "$TMP/umoci.err")"; return 1; }
}

bundle_config() {
    (cd "$1" && mv config.json umoci-config.json && runc spec) || return 1
    python3 - "$1" "$2" "$3" "${4:-}" <<'PY'
import json, sys
b, port, admin, ro = sys.argv[1:]
img = json.load(open(b + "/umoci-config.json"))["process"]
c = json.load(open(b + "/config.json"))
args = img["args"]
args[args.index("--listen") + 1] = "127.0.0.1:" + port
args[args.index("--admin") + 1] = "127.0.0.1:" + admin
c["process"].update(terminal=False, args=args, env=img["env"], cwd=img["cwd"])
c["root"] = {"path": "rootfs", "readonly": ro == "ro"}
if ro == "ro":
    c["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                        "options": ["nosuid", "nodev", "mode=1777"]})
c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
json.dump(c, open(b + "/config.json", "w"), indent=1)
PY
}

runc_start() {
    local bundle=$1 id=$2 admin=$3
    runc run --bundle "$bundle" "$id" >"$bundle/run.out" 2>"$bundle/run.err" &
    RUNC_PID=$!
    on_exit "runc kill $id KILL 2>/dev/null; runc delete -f $id 2>/dev/null"
    for _ in $(seq 1 300); do
        curl -sf -o /dev/null "http://127.0.0.1:$admin/readyz" && return 0
        kill -0 "$RUNC_PID" 2>/dev/null || break
        sleep 0.1
    done
    fail "container $id gets ready" "$(tail -n 20 "$bundle/run.err")"
    return 1
}
