#!/usr/bin/env bash
# kiln up as `spin up`: a version-1 manifest served (its `base` joined to the routes),
# -c/--component-id (the other routes 404), SPIN_HTTP_LISTEN_ADDR, the accepted no-op
# flags (--disable-pooling, --follow, --log-dir "", Spin's Wasmtime options), SPIN_LOG_DIR,
# --truncate-logs, SPIN_MAX_INSTANCE_MEMORY, --profile
# (a profile's environment and build command), kiln build --profile, and an app with
# component dependencies refused with one message naming the feature.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/up.sh"

mkdir -p "$TMP/app"
clang --target=wasm32-wasi --sysroot=/usr -O2 "$GUESTS/wagi_hello.c" -o "$TMP/app/hello.wasm" &&
    clang --target=wasm32-wasi --sysroot=/usr -O2 "$GUESTS/wagi_edge.c" -o "$TMP/app/edge.wasm" ||
    { fail "guests build (clang wasm32-wasi)"; finish; exit; }
cat >"$TMP/app/spin.toml" <<'TOML'
spin_manifest_version = "1"
name = "v1-app"
trigger = { type = "http", base = "/v1" }
version = "1.0.0"

[[component]]
id = "hello_one"
source = "hello.wasm"
[component.trigger]
route = "/hello"
executor = { type = "wagi" }

[[component]]
id = "edge"
source = "edge.wasm"
environment = { DUMP_ENV = "1", MODE = "release" }
[component.trigger]
route = "/edge/..."
executor = { type = "wagi" }
TOML

# the listen address from Spin's environment variable, only one component
SPIN_HTTP_LISTEN_ADDR="127.0.0.1:$PORT" "$KILN" up -f "$TMP/app" -c hello-one \
    --disable-pooling --follow hello-one --log-dir "" >"$TMP/up.out" 2>"$TMP/up.err" &
UP_PID=$!
on_exit "kill $UP_PID 2>/dev/null"
up=0
for _ in $(seq 1 600); do
    curl -sf "$URL/.well-known/kiln/health" >/dev/null 2>&1 && { up=1; break; }
    kill -0 "$UP_PID" 2>/dev/null || break
    sleep 0.1
done
if [ "$up" = 1 ]; then
    pass "kiln up starts on SPIN_HTTP_LISTEN_ADDR with -c and the accepted flags"
    expect_eq "v1 route under its base" "hello 1" "$(curl -s "$URL/v1/hello")"
    expect_eq "route without the base: 404" "404" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/hello")"
    expect_eq "-c: the other component's route 404s" "404" \
        "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/edge/env")"
    kill "$UP_PID"
    wait "$UP_PID" 2>/dev/null
else
    fail "kiln up starts on SPIN_HTTP_LISTEN_ADDR with -c and the accepted flags" "$(cat "$TMP/up.err")"
fi

# -c naming no component: refused with a clear message (--log-dir DIR: up_logs.sh)
out=$("$KILN" up -f "$TMP/app" -c nope --listen "127.0.0.1:$PORT" 2>&1)
expect_contains "-c unknown id refused" "the application has no component 'nope'" "$out"

# the rest of spin up's command line: --from-file, --sh, Spin's Wasmtime/HTTP options
# (accepted, each noted), SPIN_LOG_DIR as --log-dir with --truncate-logs emptying the
# files at start, SPIN_MAX_INSTANCE_MEMORY read (an invalid one refused)
mkdir -p "$TMP/spinlogs"
echo "old output" >"$TMP/spinlogs/edge_stdout.txt"
# (start_up_from's -f names no app: the later --from-file wins)
if SPIN_LOG_DIR="$TMP/spinlogs" SPIN_MAX_INSTANCE_MEMORY=134217728 start_up_from "$TMP/none" \
    --from-file "$TMP/app" --sh --truncate-logs --disable-cache --cache /dev/null --debug-info \
    --http1-max-buf-size 16384 --temp "$TMP" --allow-transient-write --experimental-wasi-otel \
    --idle-instance-timeout 1s --max-instance-reuse-count 1 --max-instance-concurrent-reuse-count=1 \
    --format plain; then
    pass "kiln up starts with spin up's other options"
    expect_eq "--from-file names the app" "hello 1" "$(curl -s "$URL/v1/hello")"
    check "SPIN_LOG_DIR: component log files there" test -f "$TMP/spinlogs/hello-one_stderr.txt"
    expect_eq "--truncate-logs emptied the old log" "0" \
        "$(wc -c <"$TMP/spinlogs/edge_stdout.txt" | tr -d ' ')"
    expect_contains "an option without effect is noted" \
        "note: --debug-info is accepted and has no effect" "$(cat "$TMP/up.err")"
    expect_eq "each noted once" "1" "$(grep -c -- '--format is accepted' "$TMP/up.err")"
    stop_up
else
    fail "kiln up starts with spin up's other options" "$(cat "$TMP/up.err")"
fi
out=$("$KILN" up --help)
expect_contains "spin-style help: a Usage line" "Usage: kiln up [OPTIONS]" "$out"
expect_contains "the help names Spin's environment variables" "SPIN_MAX_INSTANCE_MEMORY" "$out"
out=$(SPIN_MAX_INSTANCE_MEMORY=lots "$KILN" up -f "$TMP/app" --listen "127.0.0.1:$PORT" 2>&1)
expect_contains "SPIN_MAX_INSTANCE_MEMORY is read" "SPIN_MAX_INSTANCE_MEMORY=lots" "$out"
out=$("$KILN" up -f "$TMP/app" --listen "127.0.0.1:$PORT" --cache 2>&1)
expect_contains "an accepted option still needs its value" "--cache needs a value" "$out"

# build profiles: kiln build --profile runs the profile's command; kiln up --profile
# serves the profile's source with its environment
cat >"$TMP/app/spin.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "profiles"
[[trigger.http]]
route = "/..."
component = "edge"
executor = { type = "wagi" }
[component.edge]
source = "hello.wasm"
environment = { DUMP_ENV = "1", MODE = "release" }
[component.edge.build]
command = "echo release-build"
[component.edge.profile.debug]
source = "edge-debug.wasm"
environment = { MODE = "debug" }
build.command = "cp edge.wasm edge-debug.wasm && echo debug-build"
TOML
out=$("$KILN" build -f "$TMP/app" --profile debug 2>&1)
expect_contains "kiln build --profile runs the profile's command" "[edge] debug-build" "$out"
check "the profile's artifact is built" test -f "$TMP/app/edge-debug.wasm"
out=$("$KILN" build -f "$TMP/app" 2>&1)
expect_contains "kiln build without a profile runs the default command" "[edge] release-build" "$out"
out=$("$KILN" build -f "$TMP/app" --profile relase 2>&1)
expect_contains "an undefined profile is refused" "profile relase is not defined" "$out"
if start_up; then
    expect_eq "without --profile: the default source" "hello 1" "$(curl -s "$URL/env")"
    kill "$UP_PID"
    wait "$UP_PID" 2>/dev/null
else
    fail "kiln up (default profile) starts" "$(cat "$TMP/up.err")"
fi
if start_up --profile debug; then
    pass "kiln up --profile debug starts"
    # the default source (hello.wasm) would answer "hello 1"; the profile's dumps its env
    expect_contains "the profile's source and environment" "MODE=debug" "$(curl -s "$URL/env")"
    kill "$UP_PID"
    wait "$UP_PID" 2>/dev/null
else
    fail "kiln up --profile debug starts" "$(cat "$TMP/up.err")"
fi

# a dependency from Spin's default registry (wa.dev, warg): valid Spin, refused by kiln up
# with one message (path, url, component and OCI registry dependencies are served:
# tests/e2e/component_deps.sh)
cat >"$TMP/app/spin.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "deps"
[[trigger.http]]
route = "/..."
component = "edge"
executor = { type = "wagi" }
[component.edge]
source = "edge.wasm"
[component.edge.dependencies]
"example:calc/add" = { version = "1.0.0" }
TOML
out=$("$KILN" up -f "$TMP/app" --listen "127.0.0.1:$PORT" 2>&1)
expect_eq "kiln up refuses a registry dependency" "1" "$?"
expect_contains "names the feature" "Kiln fetches packages from OCI registries only" "$out"
expect_eq "one message" "1" "$(echo "$out" | grep -c "OCI registries only")"

# features Kiln does not implement in a servable app (triggers of another type next to
# HTTP, ai_models): served, each named in one warning — once, not again by kiln up
cat >"$TMP/app/spin.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "partly"
[[trigger.http]]
route = "/..."
component = "web"
executor = { type = "wagi" }
[[trigger.sqs]]
queue_url = "https://sqs.example/jobs"
component = "web"
[[trigger.sqs]]
queue_url = "https://sqs.example/retries"
component = "web"
[component.web]
source = "hello.wasm"
ai_models = ["llama2-chat"]
TOML
out=$("$KILN" check -f "$TMP/app" 2>&1 >/dev/null)
expect_eq "kiln check: servable with warnings: exit 0" "0" "$?"
expect_eq "kiln check: the sqs triggers named once" "1" "$(echo "$out" | grep -c 'trigger.sqs')"
if start_up; then
    expect_eq "served despite the unimplemented features" "hello 1" "$(curl -s "$URL/")"
    expect_eq "kiln up: the sqs triggers named once" "1" "$(grep -c 'trigger.sqs' "$TMP/up.err")"
    expect_eq "kiln up: ai_models named once" "1" "$(grep -c 'ai_models' "$TMP/up.err")"
    stop_up
else
    fail "kiln up serves an app with unimplemented features" "$(cat "$TMP/up.err")"
fi
finish
