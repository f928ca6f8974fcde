#!/bin/sh
# kiln-build.sh — builds a JavaScript, TypeScript, Python or Go HTTP handler into a component of
# the wasi:http/proxy world (it exports wasi:http/incoming-handler), which Kiln, Spin,
# `wasmtime serve` and `jco serve` run. The build command of the http-js, http-ts, http-py
# and http-go templates (kiln.toml), run from the project directory:
#
#   sh sdk/kiln-build.sh js SRC.js OUT.wasm     componentize-js (npm), through jco; SRC
#                                               adds a fetch-event listener or has
#                                               `export default { fetch(request) }`
#   sh sdk/kiln-build.sh ts SRC.ts OUT.wasm     the same; jco strips the types first
#   sh sdk/kiln-build.sh py MODULE OUT.wasm     componentize-py (PyPI), MODULE.py in .
#   sh sdk/kiln-build.sh go DIR OUT.wasm        the Go main package in DIR (with the kiln
#                                               package of the template): `go build`
#                                               GOOS=wasip1 -buildmode=c-shared (a WASI
#                                               reactor), kiln-go-adapter-realloc.py, then
#                                               jco embed + jco new --wasi-reactor
#
# The tools come from ${KILN_TOOLS:-/var/cache/kiln-tools}: npm/ (jco, componentize-js,
# and the WASI WIT that jco ships, which the Python and Go builds need too), py/ (a venv
# with componentize-py) and go/ (bin/go: a Go >= 1.24; cache/ and mod/: its build and module
# caches). A missing one is installed by the Kiln source tree's `scripts/install-tools.sh
# --npm-only` / `--py-only` / `--go-only` (the tree is found from $KILN_SRC, from the `kiln`
# running the build, or from `kiln` on PATH). `go build` needs no network unless the
# project imports a module that is not in the module cache yet.
#
# The world: `include wasi:http/proxy@V` over jco's WASI WIT (lib/wit/builtin/0.2.12).
# V is 0.2.12 for Python and Go; for JavaScript it is 0.2.10, the version StarlingMonkey (the
# engine of componentize-js 0.22) exports itself: the same WIT with the versions rewritten
# and wasi:sockets' network-error-code made stable, as the 0.2.10 world has it.
set -eu

usage() {
    echo "usage: $0 js|ts SRC OUT.wasm | $0 py MODULE OUT.wasm | $0 go DIR OUT.wasm" >&2
    exit 2
}
[ $# -eq 3 ] || usage
lang=$1
src=$2
out=$3
KILN_TOOLS=${KILN_TOOLS:-/var/cache/kiln-tools}
npm=$KILN_TOOLS/npm
jco_pkg=$npm/node_modules/@bytecodealliance/jco
py=$KILN_TOOLS/py

# The Kiln source tree's installer, or nothing: $KILN_SRC, then the tree of the kiln
# binary running this build (a parent process) or of the kiln on PATH (build-X/kiln and
# the tree's root are siblings).
find_installer() {
    candidates=${KILN_SRC:-}
    pid=$$
    for _ in 1 2 3 4; do
        pid=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || break
        [ -n "$pid" ] && [ "$pid" -gt 1 ] || break
        exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
        case ${exe##*/} in kiln) candidates="$candidates ${exe%/*}/.." ;; esac
    done
    k=$(command -v kiln 2>/dev/null) && candidates="$candidates $(dirname "$(readlink -f "$k")")/.."
    for d in $candidates; do
        if [ -x "$d/scripts/install-tools.sh" ]; then
            echo "$d/scripts/install-tools.sh"
            return 0
        fi
    done
    return 1
}

# install WHAT OPTION: run the installer with OPTION (--npm-only, --py-only, --go-only).
install() {
    if installer=$(find_installer); then
        echo "kiln-build: $1 is not in $KILN_TOOLS; installing it ($installer $2)" >&2
        "$installer" "$2" >&2
    else
        echo "kiln-build: $1 is not in $KILN_TOOLS, and no Kiln source tree was found to install it:" >&2
        echo "  run scripts/install-tools.sh $2 in the Kiln source tree (or set KILN_SRC to it)" >&2
        exit 1
    fi
}

case $lang in
js | ts | py | go) ;;
*) usage ;;
esac
if ! command -v node >/dev/null 2>&1; then
    echo "kiln-build: Node.js is needed (jco, and the WASI WIT it ships); install nodejs and npm" >&2
    exit 1
fi
if [ ! -f "$jco_pkg/dist/jco.js" ] || [ ! -f "$npm/jco.mjs" ]; then
    install "jco (npm)" --npm-only
fi
if [ "$lang" = py ] && [ ! -x "$py/bin/componentize-py" ]; then
    install "componentize-py (PyPI)" --py-only
fi
gotools=$KILN_TOOLS/go
if [ "$lang" = go ] && [ ! -x "$gotools/bin/go" ]; then
    install "Go >= 1.24 (Go module proxy)" --go-only
fi

wit_src=$jco_pkg/lib/wit/builtin/0.2.12
if [ ! -d "$wit_src" ]; then
    echo "kiln-build: jco in $npm has no WASI 0.2.12 WIT ($wit_src)" >&2
    exit 1
fi
version=0.2.12
case $lang in js | ts) version=0.2.10 ;; esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/wit/deps"
printf 'package kiln:app;\n\nworld app {\n  include wasi:http/proxy@%s;\n}\n' "$version" >"$tmp/wit/world.wit"
cp -R "$wit_src"/. "$tmp/wit/deps/"
rm -f "$tmp/wit/deps/LICENSE.md" "$tmp/wit/deps/README.md"
if [ "$version" != 0.2.12 ]; then
    sed -i "s/0\.2\.12/$version/g" "$tmp"/wit/deps/*/package.wit
    sed -i '/@unstable(feature = network-error-code)/d' "$tmp/wit/deps/wasi-sockets/package.wit"
fi

mkdir -p "$(dirname "$out")"
case $lang in
js | ts)
    # The entry: SRC, and when SRC has `export default { fetch(request) }` (the module
    # worker form of Cloudflare, Deno and Bun), a fetch-event listener that calls it; a SRC
    # that adds its own listener exports no default and gets nothing more.
    abs=$(cd "$(dirname "$src")" && pwd)/$(basename "$src")
    node -e 'const src = JSON.stringify(process.argv[1]);
process.stdout.write(`import * as app from ${src};
const handler = Reflect.get(app, "default"); // not app.default: no warning when absent
if (handler && typeof handler.fetch === "function") {
  addEventListener("fetch", (event) => event.respondWith(handler.fetch(event.request)));
}
`);' "$abs" >"$tmp/kiln-entry.$lang"
    # tools/npm/jco.mjs: jco with the host's root preopened for its own WASI tools.
    # --bundle: the imports (files, node_modules) are bundled into one module (Rolldown),
    # which componentize-js needs; TypeScript is bundled, types stripped, anyway.
    node "$npm/jco.mjs" componentize "$tmp/kiln-entry.$lang" --bundle --wit "$tmp/wit" --world-name app \
        -o "$tmp/app.wasm" >&2
    ;;
py)
    "$py/bin/componentize-py" -d "$tmp/wit" -w app componentize -p . "$src" -o "$tmp/app.wasm" >&2
    ;;
go)
    # A reactor (_initialize runs the Go runtime's initialisation and the init functions;
    # the kiln package's //go:wasmexport functions are the exports), then the adapter's own
    # allocator (see kiln-go-adapter-realloc.py), then the component.
    (cd "$src" && GOOS=wasip1 GOARCH=wasm GOTOOLCHAIN=local GOFLAGS=-mod=mod \
        GOCACHE="$gotools/cache" GOMODCACHE="$gotools/mod" \
        "$gotools/bin/go" build -buildmode=c-shared -trimpath -buildvcs=false -o "$tmp/core.wasm" .) >&2
    python3 "$(dirname "$0")/kiln-go-adapter-realloc.py" "$tmp/core.wasm" "$tmp/core-adapted.wasm"
    node "$npm/jco.mjs" embed "$tmp/core-adapted.wasm" --wit "$tmp/wit" --world-name app -o "$tmp/embedded.wasm" >&2
    node "$npm/jco.mjs" new "$tmp/embedded.wasm" --wasi-reactor -o "$tmp/app.wasm" >&2
    ;;
esac
mv "$tmp/app.wasm" "$out"
