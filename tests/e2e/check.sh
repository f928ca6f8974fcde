#!/usr/bin/env bash
# check.sh — `kiln check`: a valid manifest and its summary, each kind of error with its
# exact file:line:col message, all errors at once, and manifest discovery
# (kiln.toml before spin.toml, -f DIR, -f FILE).
source "$(dirname "$0")/../lib.sh"

APP="$TMP/app"
mkdir -p "$APP/static/css" "$APP/assets"
: >"$APP/api.wasm"
echo hi >"$APP/static/index.html"

cat >"$APP/kiln.toml" <<'TOML'
spin_manifest_version = 2

[application]
name = "shop"
version = "0.1.0"

[variables]
api_base = { default = "https://example.com" }
token = { required = true, secret = true }

[[trigger.http]]
route = "/api/..."
component = "api"
executor = { type = "wagi" }

[[trigger.http]]
route = "/health"
static_response = { status_code = 200, body = "ok" }

[component.api]
source = "api.wasm"
files = ["static/**/*", { source = "assets", destination = "/data" }]
environment = { LOG_LEVEL = "info" }
allowed_outbound_hosts = ["https://api.example.com", "redis://*:6379"]
key_value_stores = ["default"]
sqlite_databases = ["default"]
variables = { url = "{{ api_base }}/v1" }
TOML

# run_check DIR ARGS...: sets out, err, rc
run_check() {
    local dir=$1
    shift
    out=$(cd "$dir" && "$KILN" check "$@" 2>"$TMP/stderr")
    rc=$?
    err=$(cat "$TMP/stderr")
}

run_check "$APP"
expect_eq "valid manifest exits 0" 0 "$rc"
expect_contains "summary names the file" "kiln.toml: valid" "$out"
expect_contains "route to component" "/api/...                 -> api (wagi" "$out"
expect_contains "static response route" "/health                  -> static response 200" "$out"
expect_contains "files granted" "static/**/*, $(cd "$APP" && pwd -P)/assets -> /data" "$out"
expect_contains "env keys granted" "LOG_LEVEL" "$out"
expect_contains "outbound hosts granted" "https://api.example.com, redis://*:6379" "$out"
expect_contains "kv stores granted" "key_value_stores:       default" "$out"
expect_contains "variables granted" "variables:              url" "$out"
expect_contains "secret default hidden" "token (required) (secret)" "$out"
expect_eq "no warnings" "" "$err"

# expect_error NAME WANT-STDERR-LINE MANIFEST-TEXT: writes it as bad/kiln.toml, runs check
expect_error() {
    local name=$1 want=$2
    mkdir -p "$TMP/bad"
    : >"$TMP/bad/api.wasm"
    printf '%s\n' "$3" >"$TMP/bad/kiln.toml"
    run_check "$TMP/bad"
    expect_eq "$name: exit 1" 1 "$rc"
    expect_contains "$name: message" "$want" "$err"
}

HEAD='spin_manifest_version = 2
[application]
name = "x"'

expect_error "toml syntax" "kiln.toml:4:7: expected '=' after key \"route\", found '\"'" "$HEAD
route \"/x\""
expect_error "unknown key" "kiln.toml:6:1: unknown key \`rout\` in [[trigger.http]]; did you mean \`route\`?" "$HEAD
[[trigger.http]]
component = \"api\"
rout = \"/a\"
[component.api]
source = \"api.wasm\""
expect_error "wrong type" "kiln.toml:5:9: route must be a string like \"/api/...\" or { private = true }, not an integer" "$HEAD
[[trigger.http]]
route = 5
component = \"api\"
[component.api]
source = \"api.wasm\""
expect_error "missing component" "kiln.toml:6:13: trigger names component \`web\`, which is not defined" "$HEAD
[[trigger.http]]
route = \"/a\"
component = \"web\"
[component.api]
source = \"api.wasm\""
expect_error "route without /" "kiln.toml:5:9: route \"a\" must start with '/'" "$HEAD
[[trigger.http]]
route = \"a\"
component = \"api\"
[component.api]
source = \"api.wasm\""
expect_error "missing source" "kiln.toml:5:10: component \`api\`: source file \"$(cd "$TMP" && pwd -P)/bad/nope.wasm\" does not exist" "$HEAD
[component.api]
source = \"nope.wasm\""
expect_error "bad outbound host" "kiln.toml:6:27: invalid allowed_outbound_hosts entry \"https://a.*.com\": '*' is only allowed as the whole host or as a leading \"*.\" label" "$HEAD
[component.api]
source = \"api.wasm\"
allowed_outbound_hosts = [\"https://a.*.com\"]"
expect_error "version 1 without a trigger" "kiln.toml:1:1: a version-1 manifest needs \`trigger = { type = \"http\", base = \"/\" }\`" 'spin_manifest_version = "1"
name = "x"'
expect_error "missing version" "kiln.toml:1:1: missing \`spin_manifest_version = 2\`" '[application]
name = "x"'
expect_error "unsupported version" "kiln.toml:1:25: unsupported spin_manifest_version 3; Kiln supports version 2" 'spin_manifest_version = 3'
expect_error "kebab-case id" "kiln.toml:4:12: component id \`My_Api\` must be kebab-case" "$HEAD
[component.My_Api]
source = \"api.wasm\""

# all errors at once, in file order, and a count
expect_error "all errors" "kiln.toml:5:9: route \"a\" must start with '/'
kiln.toml:6:13: trigger names component \`web\`, which is not defined
kiln.toml:7:1: [[trigger.http]] needs a \`component\` (or a \`static_response\`)
kiln.toml:8:9: route \"b\" must start with '/'
kiln.toml:10:10: component \`api\`: source file" "$HEAD
[[trigger.http]]
route = \"a\"
component = \"web\"
[[trigger.http]]
route = \"b\"
[component.api]
source = \"gone.wasm\""
expect_contains "all errors: count" "kiln.toml: 5 errors" "$err"

# duplicate route: a warning, still valid
mkdir -p "$TMP/dup"
: >"$TMP/dup/a.wasm"
printf '%s\n' "$HEAD" '[[trigger.http]]' 'route = "/a"' 'component = "a"' '[[trigger.http]]' \
    'route = "/a"' 'component = "a"' '[component.a]' 'source = "a.wasm"' >"$TMP/dup/kiln.toml"
run_check "$TMP/dup"
expect_eq "duplicate route: exit 0" 0 "$rc"
expect_eq "duplicate route: warning" 'kiln.toml:8:9: warning: duplicate route "/a" (also at line 5); the later one wins' "$err"

# discovery: kiln.toml before spin.toml; -f DIR; -f FILE; nothing found
mkdir -p "$TMP/disc"
: >"$TMP/disc/a.wasm"
printf '%s\n' 'spin_manifest_version = 2' '[application]' 'name = "from-spin"' >"$TMP/disc/spin.toml"
run_check "$TMP/disc"
expect_contains "spin.toml found" "application: from-spin" "$out"
printf '%s\n' 'spin_manifest_version = 2' '[application]' 'name = "from-kiln"' >"$TMP/disc/kiln.toml"
run_check "$TMP/disc"
expect_contains "kiln.toml preferred" "application: from-kiln" "$out"
run_check "$TMP" -f disc
expect_contains "-f DIR" "application: from-kiln" "$out"
expect_contains "-f DIR names the file" "disc/kiln.toml: valid" "$out"
run_check "$TMP" -f disc/spin.toml
expect_contains "-f FILE" "application: from-spin" "$out"
printf '%s\n' 'spin_manifest_version = 2' '[application]' 'name = 5' >"$TMP/disc/other.toml"
run_check "$TMP" --from disc/other.toml
expect_eq "-f FILE error path" 'disc/other.toml:3:8: `name` in [application] must be a string, not an integer
disc/other.toml: 1 error' "$err"
mkdir -p "$TMP/empty"
run_check "$TMP/empty"
expect_eq "nothing found: exit 1" 1 "$rc"
expect_contains "nothing found: message" "no kiln.toml or spin.toml in the current directory" "$err"
run_check "$TMP" -f nowhere
expect_contains "-f missing path" "nowhere: No such file or directory" "$err"
run_check "$TMP" --bogus
expect_eq "bad option: exit 2" 2 "$rc"

finish
