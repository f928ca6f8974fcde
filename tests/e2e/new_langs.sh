#!/usr/bin/env bash
# kiln new for the language-runtime templates (http-js, http-ts, http-py, http-go): the cheap
# part (make test). Each template is listed, writes its files with the project name in place,
# carries the shared build script sdk/lang/kiln-build.sh, and its sources parse; the Go
# template is also built when Go and jco are installed (about 15 s from a warm Go cache). The
# requests (minutes: componentize-js / componentize-py and the first compile of the
# components) are tests/e2e-full/template_*.sh, run by make test-full.
source "$(dirname "$0")/../lib.sh"

out=$("$KILN" templates list 2>&1)
expect_contains "templates list: http-js" "http-js             A wasi:http component in JavaScript" "$out"
expect_contains "templates list: http-ts" "http-ts             A wasi:http component in TypeScript" "$out"
expect_contains "templates list: http-py" "http-py             A wasi:http component in Python" "$out"
expect_contains "templates list: http-go" "http-go             A wasi:http component in Go" "$out"

cd "$TMP" || exit 1
# new_files TEMPLATE NAME FILE...: kiln new makes NAME with every FILE, no placeholder left,
# the build script of sdk/lang, and a kiln.toml that kiln check accepts.
new_files() {
    local t=$1 name=$2 f out
    shift 2
    out=$("$KILN" new "$t" "$name" 2>&1)
    expect_eq "$t: kiln new exits 0" 0 "$?"
    for f in kiln.toml README.md .gitignore sdk/kiln-build.sh "$@"; do
        check "$t: kiln new wrote $f" test -s "$name/$f"
    done
    check "$t: sdk/kiln-build.sh is sdk/lang's" cmp "$ROOT/sdk/lang/kiln-build.sh" "$name/sdk/kiln-build.sh"
    expect_contains "$t: placeholder substituted" "[component.$name]" "$(cat "$name/kiln.toml")"
    expect_contains "$t: the build command" "sh sdk/kiln-build.sh" "$(cat "$name/kiln.toml")"
    expect_not_contains "$t: no placeholder left" "{{project-name}}" "$(cat "$name/kiln.toml" "$name/README.md")"
}

new_files http-js hello-js src/index.js
if command -v node >/dev/null; then
    check "http-js: src/index.js parses" node --check hello-js/src/index.js
    expect_contains "http-js: a module-worker fetch handler" "export default {" "$(cat hello-js/src/index.js)"
else
    echo "  skip http-js parse check: no node" >&2
fi

new_files http-ts hello-ts src/index.ts tsconfig.json
check "http-ts: tsconfig.json is JSON" python3 -m json.tool hello-ts/tsconfig.json
expect_contains "http-ts: the build command builds TypeScript" "kiln-build.sh ts src/index.ts" \
    "$(cat hello-ts/kiln.toml)"

new_files http-py hello-py app.py kiln_http.py
check "http-py: app.py and kiln_http.py parse" python3 -m py_compile hello-py/app.py hello-py/kiln_http.py
expect_contains "http-py: the handler class componentize-py looks for" \
    "class IncomingHandler(Handler)" "$(cat hello-py/app.py)"

new_files http-go hello-go main.go go.mod kiln/kiln.go kiln/wasi.go kiln/arena_wasm.s sdk/kiln-go-adapter-realloc.py
expect_contains "http-go: the module is the project" "module example/hello-go" "$(cat hello-go/go.mod)"
expect_contains "http-go: main imports the project's kiln package" '"example/hello-go/kiln"' "$(cat hello-go/main.go)"
# Names that are Go standard packages (or reserved, as `go` is) are valid project names: the
# module path is example/NAME. `vendor` cannot be (an import path element of its own).
for n in go net; do
    out=$("$KILN" new http-go "$n" 2>&1)
    expect_eq "http-go: kiln new $n exits 0" 0 "$?"
    expect_contains "http-go: $n's module is example/$n" "module example/$n" "$(cat "$n/go.mod" 2>&1)"
done
out=$("$KILN" new http-go vendor 2>&1)
expect_eq "http-go: kiln new vendor exits 2" 2 "$?"
expect_contains "http-go: vendor: says why" "import path element named 'vendor'" "$out"
expect_contains "http-go: vendor: names the fix" 'choose another name (e.g. "vendor-app")' "$out"
check "http-go: vendor: no project written" test ! -e vendor
expect_contains "http-go: a net/http handler" "kiln.Handle(func(w http.ResponseWriter, r *http.Request)" \
    "$(cat hello-go/main.go)"
go_tools=${KILN_TOOLS:-/var/cache/kiln-tools}
if [ -x "$go_tools/go/bin/go" ] && [ -f "$go_tools/npm/jco.mjs" ]; then
    gofmt=$(dirname "$(readlink -f "$go_tools/go/bin/go")")/gofmt
    expect_eq "http-go: the Go sources are gofmt-clean" "" "$("$gofmt" -l hello-go 2>&1)"
    out=$(cd hello-go && "$KILN" build 2>&1)
    expect_eq "http-go: kiln build exits 0" 0 "$?"
    check "http-go: kiln build made the component" test -s hello-go/target/hello-go.wasm
    check "http-go: it exports wasi:http/incoming-handler" \
        grep -q 'wasi:http/incoming-handler@0.2.12' hello-go/target/hello-go.wasm
    # The Go part of the build of the projects named go and net (their module paths and the
    # import of their kiln package; kiln build's later steps do not depend on the name).
    for n in go net; do
        out=$(cd "$n" && GOOS=wasip1 GOARCH=wasm GOTOOLCHAIN=local GOFLAGS=-mod=mod \
            GOCACHE="$go_tools/go/cache" GOMODCACHE="$go_tools/go/mod" GOPROXY=off \
            "$go_tools/go/bin/go" build -buildmode=c-shared -o "$TMP/$n.wasm" . 2>&1)
        expect_eq "http-go: project $n: go build exits 0 ($out)" 0 "$?"
    done
else
    echo "  skip http-go build: no Go in $go_tools/go or no jco (scripts/install-tools.sh --go-only --npm-only)" >&2
fi
out=$(python3 hello-go/sdk/kiln-go-adapter-realloc.py /etc/hostname "$TMP/x.wasm" 2>&1)
expect_eq "kiln-go-adapter-realloc: not a module: exit 1" 1 "$?"
expect_contains "kiln-go-adapter-realloc: says so" "not a core WebAssembly module" "$out"

# The build script: usage, and no tools and no Kiln tree to install them from.
out=$(sh hello-js/sdk/kiln-build.sh rust x y 2>&1)
expect_eq "kiln-build.sh: unknown language: exit 2" 2 "$?"
expect_contains "kiln-build.sh: unknown language: usage" "usage:" "$out"
out=$(cd hello-py && env -u KILN_SRC PATH=/usr/bin:/bin KILN_TOOLS="$TMP/no-tools" sh sdk/kiln-build.sh py app target/x.wasm 2>&1)
expect_eq "kiln-build.sh: no tools, no installer: exit 1" 1 "$?"
expect_contains "kiln-build.sh: says what to run" "scripts/install-tools.sh --npm-only" "$out"
finish
