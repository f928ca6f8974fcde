#!/usr/bin/env bash
# kiln new for the other languages: http-rust and http-assemblyscript projects are
# created, built and served exactly like http-c (kiln new T NAME && cd NAME && kiln build
# && kiln up), and their request/response modules see the query, path and body.
source "$(dirname "$0")/../lib.sh"

out=$("$KILN" templates list 2>&1)
expect_contains "templates list shows http-rust" "http-rust" "$out"
expect_contains "templates list shows http-assemblyscript" "http-assemblyscript" "$out"
expect_contains "http-rust is described" "in Rust" "$out"
expect_contains "http-assemblyscript is described" "in AssemblyScript" "$out"

# serve_and_check NAME: kiln up in ./NAME, GET / and ?name=, a POST, then stop.
serve_and_check() {
    local name=$1 port up=0
    port=$(free_port)
    "$KILN" up --listen "127.0.0.1:$port" >"$TMP/$name.up.out" 2>"$TMP/$name.up.err" &
    local pid=$!
    on_exit "kill $pid 2>/dev/null"
    for _ in $(seq 1 600); do
        curl -sf "http://127.0.0.1:$port/.well-known/kiln/health" >/dev/null 2>&1 && { up=1; break; }
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ $up = 1 ]; then
        local code body
        code=$(curl -s -o "$TMP/body" -w '%{http_code}' "http://127.0.0.1:$port/")
        expect_eq "$name: GET / is 200" 200 "$code"
        expect_eq "$name: GET / greets" "Hello from Kiln!" "$(cat "$TMP/body")"
        body=$(curl -s "http://127.0.0.1:$port/some/path?x=1&name=Ada%20L")
        expect_eq "$name: the query parameter reaches the handler" "Hello, Ada L, from Kiln!" "$body"
        code=$(curl -s -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' -X PUT -d data \
            "http://127.0.0.1:$port/")
        expect_eq "$name: PUT is 405" 405 "$code"
        expect_eq "$name: 405 is a JSON error" '{"error": "method PUT is not allowed", "status": 405}' \
            "$(cat "$TMP/body")"
        expect_contains "$name: 405 names the allowed methods" "allow: GET, HEAD" \
            "$(tr -d '\r' <"$TMP/headers")"
    else
        fail "$name: kiln up serves the new project" "$(tail -n 20 "$TMP/$name.up.err")"
    fi
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

# new_project TEMPLATE NAME FILES...: kiln new, the files exist, no placeholder left,
# kiln build makes target/NAME.wasm, kiln check accepts it, kiln up serves it.
new_project() {
    local tmpl=$1 name=$2
    shift 2
    cd "$TMP" || return 1
    local out
    out=$("$KILN" new "$tmpl" "$name" 2>&1)
    expect_eq "kiln new $tmpl exits 0" 0 "$?"
    for f in kiln.toml README.md .gitignore "$@"; do
        check "kiln new $tmpl wrote $f" test -s "$name/$f"
    done
    expect_contains "$tmpl: name substituted in kiln.toml" "[component.$name]" "$(cat "$name/kiln.toml")"
    expect_not_contains "$tmpl: no placeholder left" "{{project-name}}" \
        "$(cat "$name"/kiln.toml "$name"/README.md "$name"/.gitignore)"
    check "$tmpl: .gitignore ignores target/" grep -qx 'target/' "$name/.gitignore"
    cd "$name" || return 1
    out=$("$KILN" build 2>&1)
    local rc=$?
    expect_eq "$tmpl: kiln build exits 0" 0 "$rc"
    [ "$rc" = 0 ] || echo "$out" | tail -n 20 >&2
    check "$tmpl: kiln build produced target/$name.wasm" test -s "target/$name.wasm"
    check "$tmpl: kiln check accepts the project" "$KILN" check
    serve_and_check "$name"
    cd "$TMP" || return 1
}

new_project http-rust hello-rust src/main.rs src/kiln.rs
check "http-rust: the build calls Debian's rustc explicitly" grep -q '/usr/bin/rustc' hello-rust/kiln.toml

new_project http-assemblyscript hello-as package.json package-lock.json asconfig.json \
    assembly/index.ts assembly/kiln.ts
expect_contains "http-assemblyscript: package.json named after the project" '"name": "hello-as"' \
    "$(cat hello-as/package.json)"
check "http-assemblyscript: .gitignore ignores node_modules/" grep -qx 'node_modules/' hello-as/.gitignore
check "http-assemblyscript: versions pinned exactly" \
    grep -qE '"assemblyscript": "[0-9]+\.[0-9]+\.[0-9]+"' hello-as/package.json
# A second build reuses node_modules (no npm run) and still succeeds.
out=$(cd hello-as && "$KILN" build 2>&1)
expect_eq "http-assemblyscript: a rebuild exits 0" 0 "$?"
expect_not_contains "http-assemblyscript: a rebuild does not reinstall" "added " "$out"

# ---- the request/response modules: every accessor, in both languages ----
# The same echo handler in Rust and AssemblyScript, on an extra route with a :id segment;
# both must answer byte for byte the same.
cat >"$TMP/hello-rust/src/main.rs" <<'RS'
mod kiln;
use kiln::{Request, Response};

fn main() {
    let req = Request::from_env();
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let out = format!(
        "method={}\npath={}\npath_info={}\nid={}\nq={}\nflag={}\nmissing={}\nnparams={}\nua={}\nctype={}\nbody={}\n",
        req.method(), req.path(), req.path_info(), opt(req.param("id")), opt(req.query("q")),
        opt(req.query("flag")), opt(req.query("missing")), req.query_pairs().len(),
        opt(req.header("User-Agent")), opt(req.header("content-type")), req.body_text()
    );
    Response::new(201).header("X-Echo", "yes\r\nInjected: no").body(out).send();
}
RS
cat >"$TMP/hello-as/assembly/index.ts" <<'TS'
import { Request, Response } from "./kiln";

function opt(v: string | null): string {
  return v != null ? v : "-";
}
const req = Request.fromEnv();
new Response(201)
  .header("X-Echo", "yes\r\nInjected: no")
  .write("method=" + req.method + "\npath=" + req.path + "\npath_info=" + req.pathInfo +
    "\nid=" + opt(req.param("id")) + "\nq=" + opt(req.query("q")) + "\nflag=" + opt(req.query("flag")) +
    "\nmissing=" + opt(req.query("missing")) + "\nnparams=" + req.queryCount.toString() +
    "\nua=" + opt(req.header("User-Agent")) + "\nctype=" + opt(req.header("content-type")) +
    "\nbody=" + req.bodyText() + "\n")
  .send();
TS
want='method=POST
path=/items/4%202
path_info=
id=4 2
q=a+b c
flag=
missing=-
nparams=3
ua=t/1
ctype=text/plain
body=héllo body'
for name in hello-rust hello-as; do
    printf '\n[[trigger.http]]\nroute = "/items/:id"\ncomponent = "%s"\nexecutor = { type = "wagi" }\n' \
        "$name" >>"$TMP/$name/kiln.toml"
    out=$(cd "$TMP/$name" && "$KILN" build 2>&1)
    if [ $? != 0 ]; then
        fail "$name: the echo handler builds" "$(tail -n 20 <<<"$out")"
        continue
    fi
    pass "$name: the echo handler builds"
    port=$(free_port)
    (cd "$TMP/$name" && exec "$KILN" up --listen "127.0.0.1:$port" >"$TMP/$name.echo.out" 2>"$TMP/$name.echo.err") &
    pid=$!
    on_exit "kill $pid 2>/dev/null"
    for _ in $(seq 1 600); do
        curl -sf "http://127.0.0.1:$port/.well-known/kiln/health" >/dev/null 2>&1 && break
        sleep 0.1
    done
    code=$(curl -s -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' -X POST \
        -H 'User-Agent: t/1' -H 'Content-Type: text/plain' --data-binary 'héllo body' \
        "http://127.0.0.1:$port/items/4%202?q=a%2Bb+c&flag&x=%C3%A9")
    expect_eq "$name: the status of Response::new/new Response" 201 "$code"
    expect_eq "$name: method, path, param, query, headers and body reach the handler" \
        "$want" "$(cat "$TMP/body")"
    headers=$(tr -d '\r' <"$TMP/headers")
    expect_contains "$name: default Content-Type" "content-type: text/plain; charset=utf-8" "$headers"
    expect_contains "$name: CR/LF removed from header values" "x-echo: yesInjected: no" "$headers"
    expect_not_contains "$name: no header injection" $'\ninjected:' "$headers"
    body=$(curl -s "http://127.0.0.1:$port/deep/er/path")
    expect_contains "$name: path_info below /..." "path_info=/deep/er/path" "$body"
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
done
finish
