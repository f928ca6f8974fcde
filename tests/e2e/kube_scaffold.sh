#!/usr/bin/env bash
# kiln kube scaffold: the Deployment, Service, HorizontalPodAutoscaler, ConfigMap and SpinKube
# (SpinAppExecutor + SpinApp) manifests are valid against the Kubernetes 1.33 and SpinKube
# schemas (kubeconform, offline: scripts/install-tools.sh), say what they must (probes on
# the admin endpoints, bounded concurrency, the sizing formula, secrets by reference,
# key-value on Redis), quote hostile strings safely; and the Deployment's own container spec
# runs: two replicas of Kiln's image under runc with a read-only root file system, the
# ConfigMap's runtime config and variables, sharing key-value data through one Redis.
source "$(dirname "$0")/../lib.sh"

KUBE_TOOLS=${KILN_TOOLS:-/var/cache/kiln-tools}/kube
KUBECONFORM=$KUBE_TOOLS/bin/kubeconform
SCHEMAS=$KUBE_TOOLS/schemas
if [ ! -x "$KUBECONFORM" ] || [ ! -d "$SCHEMAS/crd" ]; then
    echo "kube_scaffold: kubeconform or its schemas are missing (scripts/install-tools.sh installs them)" >&2
    fail "kubeconform installed in $KUBE_TOOLS"
    finish
    exit
fi
validate() { # validate DIR: kubeconform's summary line
    "$KUBECONFORM" -strict -summary -kubernetes-version 1.33.0 \
        -schema-location "$SCHEMAS/{{.NormalizedKubernetesVersion}}-standalone{{.StrictSuffix}}/{{.ResourceKind}}{{.KindSuffix}}.json" \
        -schema-location "$SCHEMAS/crd/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json" "$1" 2>&1
}

CORPUS="$KILN_BUILD/components"
if ! out=$("$ROOT/tests/components/build.sh" "$CORPUS" c-spin-kv 2>&1); then
    fail "tests/components/build.sh builds c-spin-kv" "$out"
    finish
    exit
fi
APP="$TMP/app"
mkdir -p "$APP"
cp "$CORPUS/c-spin-kv.wasm" "$APP/"
cat >"$APP/spin.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "KV Demo"
version = "0.3.0"
[variables]
greeting = { default = "hello" }
api_key = { required = true, secret = true }
[[trigger.http]]
route = "/a/..."
component = "kv"
[component.kv]
source = "c-spin-kv.wasm"
key_value_stores = ["default"]
[component.kv.variables]
message = "{{ greeting }}, world"
key = "{{ api_key }}"
[component.kv.tool.kiln]
max_instance_memory = "256M"
TOML

# --- the manifests ----------------------------------------------------------------------
out=$(cd "$TMP" && "$KILN" kube scaffold "$APP" -o "$TMP/kube" --image reg.test/kv-demo:0.3.0 \
    --app-ref reg.test/kv-demo-app:0.3.0 --redis-url 'redis://redis:6379' 2>&1)
expect_eq "scaffold exits 0" 0 "$?"
for f in deployment service hpa configmap spinkube; do check "wrote $f.yaml" test -s "$TMP/kube/$f.yaml"; done
expect_contains "prints the sizing formula" \
    "memory request 40Mi = 24Mi + 16 x 1Mi, limit 4120Mi = 24Mi + 16 x 256Mi" "$out"
expect_eq "kubeconform: every resource valid" \
    "Summary: 6 resources found in 5 files - Valid: 6, Invalid: 0, Errors: 0, Skipped: 0" \
    "$(validate "$TMP/kube" | tail -1)"

# What the manifests say, read back by a YAML parser (PyYAML)
facts=$(python3 - "$TMP/kube" <<'PY' 2>&1
import sys, yaml, tomllib
d = sys.argv[1]
load = lambda f: list(yaml.safe_load_all(open(f"{d}/{f}.yaml")))
dep, = load("deployment"); svc, = load("service"); hpa, = load("hpa"); cm, = load("configmap")
ex, app = load("spinkube")
c = dep["spec"]["template"]["spec"]["containers"][0]
a = c["args"]
print("name", dep["metadata"]["name"])
print("image", c["image"])
print("max-instances", a[a.index("--max-instances") + 1])
print("state-dir", repr(a[a.index("--state-dir") + 1]))
print("liveness", c["livenessProbe"]["httpGet"]["path"], c["livenessProbe"]["httpGet"]["port"])
print("readiness", c["readinessProbe"]["httpGet"]["path"], c["readinessProbe"]["httpGet"]["port"])
print("resources", c["resources"]["requests"]["memory"], c["resources"]["limits"]["memory"], c["resources"]["requests"]["cpu"])
print("readonly-root", c["securityContext"]["readOnlyRootFilesystem"])
env = {e["name"]: e["valueFrom"] for e in c["env"]}
print("secret", env["SPIN_VARIABLE_API_KEY"]["secretKeyRef"]["name"], env["SPIN_VARIABLE_API_KEY"]["secretKeyRef"]["key"])
print("config", env["SPIN_VARIABLE_GREETING"]["configMapKeyRef"]["name"])
print("service", svc["spec"]["ports"][0]["port"], svc["spec"]["ports"][0]["targetPort"])
print("hpa", hpa["spec"]["scaleTargetRef"]["name"], hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"])
rc = tomllib.loads(cm["data"]["runtime-config.toml"])
print("kv", rc["key_value_store"]["default"]["type"], rc["key_value_store"]["default"]["url"])
print("greeting", cm["data"]["greeting"], "api_key" in cm["data"])
print("executor", ex["kind"], ex["spec"]["createDeployment"], ex["spec"]["deploymentConfig"]["spinImage"])
print("spinapp", app["spec"]["image"], app["spec"]["executor"], app["spec"]["checks"]["readiness"]["httpGet"]["path"])
print("spinapp-kv", app["spec"]["runtimeConfig"]["keyValueStores"][0]["type"])
PY
)
expect_contains "name: an RFC 1123 label from the app's name" "name kv-demo" "$facts"
expect_contains "image" "image reg.test/kv-demo:0.3.0" "$facts"
expect_contains "bounded concurrency" "max-instances 16" "$facts"
expect_contains "state in memory (shared state lives in Redis)" "state-dir ''" "$facts"
expect_contains "liveness on the admin /healthz" "liveness /healthz admin" "$facts"
expect_contains "readiness on the admin /readyz" "readiness /readyz admin" "$facts"
expect_contains "resources from the formula" "resources 40Mi 4120Mi 250m" "$facts"
expect_contains "read-only root file system" "readonly-root True" "$facts"
expect_contains "a secret variable by reference" "secret kv-demo-secrets api_key" "$facts"
expect_contains "a plain variable from the ConfigMap" "config kv-demo-config" "$facts"
expect_contains "service" "service 80 http" "$facts"
expect_contains "hpa" "hpa kv-demo 2 10" "$facts"
expect_contains "key-value on Redis in the runtime config (valid TOML)" "kv redis redis://redis:6379" "$facts"
expect_contains "the ConfigMap has defaults, no secret" "greeting hello False" "$facts"
expect_contains "SpinAppExecutor: Kiln's image, a Deployment, no shim" \
    "executor SpinAppExecutor True reg.test/kv-demo:0.3.0" "$facts"
expect_contains "SpinApp: the app artifact, run by the kiln executor" \
    "spinapp reg.test/kv-demo-app:0.3.0 kiln /.well-known/spin/health" "$facts"
expect_contains "SpinApp: key-value on Redis" "spinapp-kv redis" "$facts"

# The validation can fail: a misspelt field and a wrong type are caught
mkdir -p "$TMP/bad"
sed 's/^  replicas: 2/  replica: 2/' "$TMP/kube/deployment.yaml" >"$TMP/bad/deployment.yaml"
sed 's/^  replicas: 2/  replicas: "two"/' "$TMP/kube/spinkube.yaml" >"$TMP/bad/spinkube.yaml"
expect_contains "kubeconform refuses an unknown Deployment field and a mistyped SpinApp field" \
    "Valid: 1, Invalid: 2" "$(validate "$TMP/bad" | tail -1)"

# Hostile strings: quotes, newlines, '#', YAML indicators stay data
HOSTILE="$TMP/hostile"
mkdir -p "$HOSTILE"
cp "$CORPUS/c-spin-kv.wasm" "$HOSTILE/"
cat >"$HOSTILE/spin.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "--Weird \"App\": #1--"
version = "yes"
[variables]
greeting = { default = "a: b\n# not a comment\n- [x, y] *ref &anchor 'q' \"dq\" \\ \t" }
[[trigger.http]]
route = "/..."
component = "x"
[component.x]
source = "c-spin-kv.wasm"
key_value_stores = ["default", "odd.\"label]"]
TOML
"$KILN" kube scaffold "$HOSTILE" -o "$TMP/hk" --redis-url 'redis://h"x\y:1' >/dev/null 2>&1
got=$(python3 - "$TMP/hk" <<'PY' 2>&1
import sys, yaml
d = sys.argv[1]
cm = yaml.safe_load(open(d + "/configmap.yaml"))
dep = yaml.safe_load(open(d + "/deployment.yaml"))
print(repr(cm["data"]["greeting"]))
print(dep["metadata"]["name"], repr(dep["metadata"]["labels"]["app.kubernetes.io/version"]))
import tomllib
rc = tomllib.loads(cm["data"]["runtime-config.toml"])["key_value_store"]
print(sorted(rc), rc["default"]["url"])
PY
)
expect_eq "hostile strings round-trip through the YAML" \
    "$(printf '%s\n%s\n%s' "'a: b\\n# not a comment\\n- [x, y] *ref &anchor \\'q\\' \"dq\" \\\\ \\t'" "weird-app-1 'yes'" "['default', 'odd.\"label]'] redis://h\"x\\y:1")" "$got"
expect_eq "hostile manifests still validate" \
    "Summary: 6 resources found in 5 files - Valid: 6, Invalid: 0, Errors: 0, Skipped: 0" \
    "$(validate "$TMP/hk" | tail -1)"

# --- the Deployment's container, run: two replicas sharing Redis ------------------------
for tool in runc umoci redis-server; do
    if ! command -v "$tool" >/dev/null; then
        echo "kube_scaffold: $tool is missing (scripts/install-deps.sh installs it)" >&2
        fail "$tool installed"
        finish
        exit
    fi
done
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$TMP" \
    >"$TMP/redis.log" 2>&1 &
on_exit "kill $! 2>/dev/null"
"$KILN" kube scaffold "$APP" -o "$TMP/run" --redis-url "redis://127.0.0.1:$rport" >/dev/null 2>&1
"$KILN" image build "$APP" -o "$TMP/img" >/dev/null 2>&1 || fail "image build"
umoci unpack --image "$TMP/img:0.3.0" "$TMP/unpacked" >/dev/null 2>&1 || fail "umoci unpack"

# replica N: a bundle sharing the one read-only rootfs, the Deployment's args and env
replica() {
    local n=$1 b="$TMP/r$1"
    mkdir -p "$b"
    (cd "$b" && runc spec) || return 1
    python3 - "$b" "$TMP/unpacked" "$TMP/run" "${PORTS[$n]}" "${ADMINS[$n]}" <<'PY'
import json, sys, yaml
b, unpacked, kube, port, admin = sys.argv[1:]
img = json.load(open(unpacked + "/config.json"))["process"]
dep = yaml.safe_load(open(kube + "/deployment.yaml"))
cm = yaml.safe_load(open(kube + "/configmap.yaml"))
c = dep["spec"]["template"]["spec"]["containers"][0]
open(b + "/runtime-config.toml", "w").write(cm["data"]["runtime-config.toml"])
args = list(c["args"])
args[args.index("--listen") + 1] = "127.0.0.1:" + port
args[args.index("--admin") + 1] = "127.0.0.1:" + admin
env = list(img["env"])
for e in c["env"]:  # what the kubelet resolves: ConfigMap keys, and the Secret's value
    ref = e["valueFrom"]
    value = cm["data"][ref["configMapKeyRef"]["key"]] if "configMapKeyRef" in ref else "s3cret"
    env.append(e["name"] + "=" + value)
cfg = json.load(open(b + "/config.json"))
cfg["process"].update(terminal=False, args=["/usr/local/bin/kiln"] + args, env=env, cwd=img["cwd"])
cfg["root"] = {"path": unpacked + "/rootfs", "readonly": c["securityContext"]["readOnlyRootFilesystem"]}
cfg["mounts"] += [
    {"destination": "/etc/kiln/runtime-config.toml", "type": "bind",
     "source": b + "/runtime-config.toml", "options": ["rbind", "ro"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]},
]
cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "network"]
json.dump(cfg, open(b + "/config.json", "w"), indent=1)
PY
}
PORTS=("" "$(free_port)" "$(free_port)")
ADMINS=("" "$(free_port)" "$(free_port)")
RPIDS=()
for n in 1 2; do
    replica $n || fail "replica $n bundle"
    runc run --bundle "$TMP/r$n" "kiln-kube-$$-$n" >"$TMP/r$n.out" 2>"$TMP/r$n.err" &
    RPIDS[$n]=$!
    on_exit "runc kill kiln-kube-$$-$n KILL 2>/dev/null; runc delete -f kiln-kube-$$-$n 2>/dev/null"
done
for n in 1 2; do
    for _ in $(seq 100); do
        curl -sf -o /dev/null "http://127.0.0.1:${ADMINS[$n]}/readyz" && break
        sleep 0.1
    done
    expect_eq "replica $n ready (/readyz)" 200 \
        "$(curl -s -o /dev/null -w '%{http_code}' -m 5 "http://127.0.0.1:${ADMINS[$n]}/readyz")"
done
A="http://127.0.0.1:${PORTS[1]}"
B="http://127.0.0.1:${PORTS[2]}"
expect_eq "replica 1: set in the shared store" "ok" \
    "$(curl -s -m 10 -X PUT --data-binary 'written by replica 1' "$A/a/kv/default/shared")"
expect_eq "replica 2 reads what replica 1 wrote (Redis)" "written by replica 1" \
    "$(curl -s -m 10 "$B/a/kv/default/shared")"
expect_eq "the key is in Redis" "written by replica 1" \
    "$(redis-cli -p "$rport" --raw get shared 2>&1)"
expect_eq "a variable from the ConfigMap" "hello, world" "$(curl -s -m 10 "$B/a/var/message")"
expect_eq "a secret variable from the Secret" "s3cret" "$(curl -s -m 10 "$A/a/var/key")"
for n in 1 2; do
    runc kill "kiln-kube-$$-$n" TERM
    wait "${RPIDS[$n]}"
    expect_eq "replica $n: SIGTERM, exit 0" 0 "$?"
    expect_not_contains "replica $n: nothing compiled, nothing written to the root" "rror" \
        "$(cat "$TMP/r$n.err")"
done

finish
