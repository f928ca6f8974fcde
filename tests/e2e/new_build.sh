#!/usr/bin/env bash
# kiln new / kiln templates / kiln build: a new user's first minute, exactly as the
# README says (kiln new http-c hello && cd hello && kiln build && kiln up), then the
# ways it can go wrong: bad names, existing directories, failing build commands.
source "$(dirname "$0")/../lib.sh"

out=$("$KILN" templates list 2>&1)
# the build embeds templates/ (scripts/embed-templates.sh): every directory there is listed
for d in "$ROOT"/templates/*/; do
    expect_contains "templates list has $(basename "$d") (embedded at build time)" \
        "$(basename "$d")" "$out"
done
expect_contains "templates list shows http-c" "http-c" "$out"
expect_contains "templates list describes it" "A wasi:http component in C" "$out"
expect_contains "templates list shows http-c-wagi" "http-c-wagi" "$out"

# ---- the first minute ----
cd "$TMP" || exit 1
out=$("$KILN" new http-c hello 2>&1)
expect_eq "kiln new exits 0" 0 "$?"
expect_contains "kiln new says what to do next" "kiln build" "$out"
for f in kiln.toml src/main.c sdk/kiln.h sdk/kiln.c .gitignore README.md; do
    check "kiln new wrote $f" test -s "hello/$f"
done
check "the SDK copy is the SDK" cmp "$ROOT/sdk/c/kiln.c" hello/sdk/kiln.c
expect_contains "placeholder substituted in kiln.toml" '[component.hello]' "$(cat hello/kiln.toml)"
expect_not_contains "no placeholder left" "{{project-name}}" "$(cat hello/kiln.toml hello/README.md)"

cd hello || exit 1
out=$("$KILN" build 2>&1)
rc=$?
expect_eq "kiln build exits 0" 0 "$rc"
expect_contains "kiln build names the component" "Building component hello" "$out"
check "kiln build produced target/hello.wasm" test -s target/hello.wasm
check "kiln check accepts the project" "$KILN" check

PORT=$(free_port)
"$KILN" up --listen "127.0.0.1:$PORT" >"$TMP/up.out" 2>"$TMP/up.err" &
UP_PID=$!
on_exit "kill $UP_PID 2>/dev/null"
up=0
for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$PORT/.well-known/kiln/health" >/dev/null 2>&1 && { up=1; break; }
    kill -0 "$UP_PID" 2>/dev/null || break
    sleep 0.1
done
if [ $up = 1 ]; then
    code=$(curl -s -o "$TMP/body" -w '%{http_code}' "http://127.0.0.1:$PORT/")
    expect_eq "GET / on the new project is 200" 200 "$code"
    expect_eq "GET / greets" "Hello from Kiln!" "$(cat "$TMP/body")"
    body=$(curl -s "http://127.0.0.1:$PORT/?name=Ada")
    expect_eq "the query parameter reaches the handler" "Hello, Ada, from Kiln!" "$body"
else
    fail "kiln up serves the new project" "$(tail -n 20 "$TMP/up.err")"
fi
kill "$UP_PID" 2>/dev/null
wait "$UP_PID" 2>/dev/null
cd "$TMP" || exit 1

# ---- kiln new: mistakes ----
out=$("$KILN" new http-c hello 2>&1)
expect_eq "existing directory: exit 1" 1 "$?"
expect_contains "existing directory: says so" "already exists" "$out"
check "existing directory: kept" test -s hello/target/hello.wasm
for bad in Hello my_app 1app -x a--b "a b" "a/b"; do
    "$KILN" new http-c "$bad" >/dev/null 2>&1
    rc=$?
    expect_eq "bad name $(printf %q "$bad"): exit 2" 2 "$rc"
done
out=$("$KILN" new nope thing 2>&1)
expect_eq "unknown template: exit 2" 2 "$?"
expect_contains "unknown template: lists the templates" "http-c" "$out"
check "-o DIR" "$KILN" new http-c other -o "$TMP/elsewhere/other-dir"
expect_contains "-o DIR: name substituted" 'name = "other"' "$(cat "$TMP/elsewhere/other-dir/kiln.toml" 2>/dev/null)"

# ---- kiln build: output, workdir, failures ----
mkdir -p "$TMP/multi/sub"
cat >"$TMP/multi/kiln.toml" <<'TOML'
spin_manifest_version = 2

[application]
name = "multi"

[[trigger.http]]
route = "/a"
component = "first"

[[trigger.http]]
route = "/b"
component = "second"

[[trigger.http]]
route = "/c"
component = "third"

[component.first]
source = "first.wasm"
[component.first.build]
command = ["echo one; echo two >&2", "printf 'no newline'"]

[component.second]
source = "second.wasm"
[component.second.build]
command = "pwd; echo broken; exit 3"
workdir = "sub"

[component.third]
source = "third.wasm"
[component.third.build]
command = "echo third-ran > third-ran"
TOML
out=$("$KILN" build -f "$TMP/multi" 2>&1)
rc=$?
expect_eq "failing build: exit 1" 1 "$rc"
expect_contains "output prefixed with the component id" "[first] one" "$out"
expect_contains "stderr prefixed too" "[first] two" "$out"
expect_contains "a last line without newline is shown" "[first] no newline" "$out"
expect_contains "workdir is relative to the manifest" "[second] $TMP/multi/sub" "$out"
expect_contains "failure names the component and status" "build of component second failed" "$out"
expect_contains "failure gives the exit status" "exited with status 3" "$out"
check "the build stops at the first failure" test ! -e "$TMP/multi/third-ran"

out=$("$KILN" build -f "$TMP/multi/kiln.toml" -c third 2>&1)
expect_eq "-c builds only that component" 0 "$?"
check "-c ran the third component" test -e "$TMP/multi/third-ran"
expect_not_contains "-c skipped the others" "[first]" "$out"
out=$("$KILN" build -f "$TMP/multi" -c nope 2>&1)
expect_eq "-c unknown component: exit 1" 1 "$?"
expect_contains "-c unknown component: says so" "no component 'nope'" "$out"

sed -i 's|exit 3|kill -KILL $$|' "$TMP/multi/kiln.toml"
out=$("$KILN" build -f "$TMP/multi" -c second 2>&1)
expect_eq "killed build command: exit 1" 1 "$?"
expect_contains "killed build command: names the signal" "killed by signal 9" "$out"

mkdir -p "$TMP/empty"
out=$("$KILN" build -f "$TMP/empty" 2>&1)
expect_eq "no manifest: exit 1" 1 "$?"
printf 'spin_manifest_version = 2\n[application\n' >"$TMP/empty/kiln.toml"
out=$("$KILN" build -f "$TMP/empty" 2>&1)
expect_eq "broken TOML: exit 1" 1 "$?"
expect_contains "broken TOML: located error" "kiln.toml:2:" "$out"
finish
