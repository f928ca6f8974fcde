#!/usr/bin/env bash
# Builds the corpus of real WebAssembly components that Kiln's component tests use, from the
# sources beside this script, with the toolchain of scripts/install-tools.sh:
#   c-cli.wasm    C WASI command (clang wasm32-wasi + preview1 command adapter)
#   c-http.wasm   C wasi:http/incoming-handler (wit-bindgen c + preview1 reactor adapter)
#   js-http.wasm  JavaScript wasi:http handler (jco componentize / componentize-js)
#   js-cli.wasm   JavaScript wasi:cli/run command (jco componentize / componentize-js)
#   py-http.wasm  Python wasi:http handler (componentize-py)
#   go-cli.wasm   Go GOOS=wasip1 command (go build + preview1 command adapter)
#   c-types.wasm  C component exporting functions over every kind of WIT type (wit-bindgen c)
#   c-http-spin.wasm  the wasi:http test handler of tests/e2e/up_wasi_http.sh (only on request)
#   c-spin-kv.wasm    the key-value/variables test handler of tests/e2e/up_spin_kv.sh (only on request)
#   c-outbound.wasm   the outbound HTTP test handler of tests/e2e/up_outbound.sh (only on request)
#   c-triggers.wasm   the Redis and cron test component of tests/e2e/up_triggers.sh (only on request)
#   c-spin-data.wasm  the SQLite/Redis/PostgreSQL test handler of tests/e2e/up_spin_data.sh,
#                     importing Spin's whole platform world (only on request)
#   js-outbound.wasm  the JavaScript fetch handler of tests/e2e-full/up_outbound_js.sh (on request)
#   c-http-p3.wasm    C wasi:http/handler@0.3.0 on wit-bindgen's async C bindings, for
#                     tests/e2e/p3_diff.sh (only on request)
#   c-cli-p3.wasm     C wasi:cli/run@0.3.0 command, the same bindings (only on request)
#   c-sockets-p3.wasm C wasi:sockets 0.3 command of tests/e2e/p3_sockets.sh (on request)
#   c-sockets-p2.wasm / c-sockets-p2-http.wasm  C wasi:sockets 0.2 command and wasi:http
#                     handler of tests/e2e/p2_sockets.sh (on request)
#   py-http-p3.wasm   Python wasi:http/handler@0.3.0 (componentize-py's async bindings; on request)
#   py-cli-p3.wasm    Python wasi:cli/run@0.3.0 command, the same bindings (only on request)
#   py-proxy-p3.wasm  Python wasi:http 0.3 handler with trailers and wasi:http/client, for
#                     tests/e2e/p3_jco_diff.sh (only on request)
#   py-wasi-p3.wasm   Python p3 command using wasi:cli, clocks, random and filesystem 0.3.0,
#                     for tests/e2e/component_p3_wasi.sh (only on request)
#   py-http-cmd-p3.wasm  Python p3 command making outbound requests with wasi:http/client,
#                     for tests/e2e/p3_http_cmd.sh (only on request)
#   spin-py5-hello.wasm / spin-py5-app.wasm  apps on Spin's Python SDK 5.0.0 (spin-sdk from
#                     PyPI, world spin:up/http-trigger@4.1.0, wasi:http 0.3): the README's
#                     hello world, and key-value, variables and outbound HTTP, built as
#                     the SDK documents it, for tests/e2e/spin_sdk_py.sh (only on request)
#   spin-py3-hello.wasm / spin-py3-app.wasm  the same on Spin's Python SDK 3.4.1 (world
#                     spin-http, wasi:http 0.2, its own componentize-py 0.17.2; on request)
#   spin-js-hello.wasm / spin-js-app.wasm  Spin's http-js template (esbuild + the SpinEsbuild
#                     plugin, then j2w of @spinframework/build-tools 1.0.7): its hello
#                     world, and an app making outbound requests with fetch(), for
#                     tests/e2e/spin_sdk_js.sh (only on request)
# Each is validated (wasm-tools validate) before it is kept. Results are cached by the hash of
# their inputs (sources, this script, tool versions) under ${KILN_CORPUS_CACHE:-$KILN_TOOLS/corpus},
# so a second run only copies files. Prints one line per component: name, size, build time or "cached".
# Usage: tests/components/build.sh OUTDIR [NAME...]    (default: every component)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
KILN_TOOLS=${KILN_TOOLS:-/var/cache/kiln-tools}
export KILN_TOOLS
[ $# -ge 1 ] || { echo "usage: $0 OUTDIR [NAME...]" >&2; exit 2; }
OUT=$1
shift
ALL=(c-cli c-http c-types go-cli js-cli js-http py-http)
NAMES=("$@")
[ ${#NAMES[@]} -gt 0 ] || NAMES=("${ALL[@]}")

"$ROOT/scripts/install-tools.sh"
# Spin's SDKs only when a component built with one is asked for.
for name in "${NAMES[@]}"; do
    case $name in spin-*)
        "$ROOT/scripts/install-tools.sh" --spin-sdk
        break
        ;;
    esac
done
CACHE=${KILN_CORPUS_CACHE:-$KILN_TOOLS/corpus}
mkdir -p "$OUT" "$CACHE"
OUT=$(cd "$OUT" && pwd)

WASM_TOOLS="$KILN_TOOLS/cargo/bin/wasm-tools"
WIT_BINDGEN="$KILN_TOOLS/cargo/bin/wit-bindgen"
NPM="$KILN_TOOLS/npm"
JCO_LIB="$NPM/node_modules/@bytecodealliance/jco/lib"
# The preview1 adapters come from jco's npm package (see docs/components.md).
ADAPTER_COMMAND="$JCO_LIB/wasi_snapshot_preview1.command.wasm"
ADAPTER_REACTOR="$JCO_LIB/wasi_snapshot_preview1.reactor.wasm"
# WASI 0.2.12 WIT packages (cli, clocks, filesystem, http, io, random, sockets), as jco ships them.
WASI_WIT="$JCO_LIB/wit/builtin/0.2.12"
# The WASI 0.3.0 (p3) packages jco ships (cli, clocks, filesystem, http, random, sockets).
WASI_WIT_P3="$JCO_LIB/wit/builtin/0.3.0"
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
CLANG=${CLANG:-clang}
CFLAGS_WASM=(--target=wasm32-wasi --sysroot=/usr -O2 -Wall -Wextra -Werror)

# wasi_wit DIR VERSION: DIR/deps gets the WASI packages at VERSION (0.2.12 as shipped, or
# 0.2.10 for StarlingMonkey: same text, versions rewritten, and wasi:sockets'
# network-error-code made stable, which the 0.2.10 engine world has).
wasi_wit() {
    mkdir -p "$1/deps"
    cp -r "$WASI_WIT"/. "$1/deps/"
    rm -f "$1/deps/LICENSE.md" "$1/deps/README.md"
    if [ "$2" != 0.2.12 ]; then
        sed -i "s/0\.2\.12/$2/g" "$1"/deps/*/package.wit
        sed -i '/@unstable(feature = network-error-code)/d' "$1/deps/wasi-sockets/package.wit"
    fi
}

# The inputs of one component: its directory, this script and the tool versions.
input_hash() {
    {
        (cd "$HERE/$1" && find . -type f | LC_ALL=C sort | xargs sha256sum)
        sha256sum "$HERE/build.sh"
        cat "$KILN_TOOLS"/cargo/.kiln-* "$NPM/.kiln-stamp" "$KILN_TOOLS/py/.kiln-stamp"
        "$CLANG" --version | head -1
        case $1 in go-*) "$GO" version ;; esac
        case $1 in c-sockets-p2-http) sha256sum "$HERE/c-sockets-p2/main.c" ;; esac
        case $1 in spin-*) cat "$KILN_TOOLS"/spin-sdk/*/.kiln-stamp; node --version ;; esac
    } | sha256sum | cut -c1-16
}

build_c_cli() { # build_c_cli WORK OUT.wasm
    "$CLANG" "${CFLAGS_WASM[@]}" -o "$1/core.wasm" "$HERE/c-cli/main.c"
    "$WASM_TOOLS" component new "$1/core.wasm" --adapt "wasi_snapshot_preview1=$ADAPTER_COMMAND" -o "$2"
}

build_c_http() {
    cp "$HERE/c-http/world.wit" "$1/"
    wasi_wit "$1" 0.2.12
    "$WIT_BINDGEN" c "$1" --world hello --out-dir "$1/gen"
    "$CLANG" "${CFLAGS_WASM[@]}" -Wno-unused-parameter -mexec-model=reactor -I"$1/gen" \
        -o "$1/core.wasm" "$HERE/c-http/main.c" "$1/gen/hello.c" "$1/gen/hello_component_type.o"
    "$WASM_TOOLS" component new "$1/core.wasm" --adapt "wasi_snapshot_preview1=$ADAPTER_REACTOR" -o "$2"
}

# The test handler of tests/e2e/up_wasi_http.sh (not in ALL: not part of the corpus test).
build_c_http_spin() {
    cp "$HERE/c-http-spin/world.wit" "$1/"
    wasi_wit "$1" 0.2.12
    "$WIT_BINDGEN" c "$1" --world hello --out-dir "$1/gen"
    "$CLANG" "${CFLAGS_WASM[@]}" -Wno-unused-parameter -mexec-model=reactor -I"$1/gen" \
        -o "$1/core.wasm" "$HERE/c-http-spin/main.c" "$1/gen/hello.c" "$1/gen/hello_component_type.o"
    "$WASM_TOOLS" component new "$1/core.wasm" --adapt "wasi_snapshot_preview1=$ADAPTER_REACTOR" -o "$2"
}

# The test handler of tests/e2e/up_spin_kv.sh (not in ALL): Spin's key-value and variables
# interfaces, wasi:keyvalue and wasi:config, from the WIT files beside its source.
build_c_spin_kv() {
    cp "$HERE/c-spin-kv/world.wit" "$1/"
    wasi_wit "$1" 0.2.12
    mkdir -p "$1/deps/spin" "$1/deps/keyvalue" "$1/deps/config"
    cp "$HERE/c-spin-kv/spin-kv.wit" "$1/deps/spin/"
    cp "$HERE/c-spin-kv/wasi-keyvalue.wit" "$1/deps/keyvalue/"
    cp "$HERE/c-spin-kv/wasi-config.wit" "$1/deps/config/"
    "$WIT_BINDGEN" c "$1" --world spinkv --out-dir "$1/gen"
    "$CLANG" "${CFLAGS_WASM[@]}" -Wno-unused-parameter -mexec-model=reactor -I"$1/gen" \
        -o "$1/core.wasm" "$HERE/c-spin-kv/main.c" "$1/gen/spinkv.c" "$1/gen/spinkv_component_type.o"
    "$WASM_TOOLS" component new "$1/core.wasm" --adapt "wasi_snapshot_preview1=$ADAPTER_REACTOR" -o "$2"
}

# The test handler of tests/e2e/up_spin_data.sh (not in ALL): Spin's platform world
# (fermyon:spin@2.0.0, every interface) and spin:postgres@3.0.0, from the WIT beside its source.
build_c_spin_data() {
    cp "$HERE/c-spin-data/world.wit" "$1/"
    wasi_wit "$1" 0.2.12
    mkdir -p "$1/deps/spin" "$1/deps/spin-postgres"
    cp "$HERE/c-spin-data/spin.wit" "$1/deps/spin/"
    cp "$HERE/c-spin-data/spin-postgres.wit" "$1/deps/spin-postgres/"
    "$WIT_BINDGEN" c "$1" --world spindata --out-dir "$1/gen"
    "$CLANG" "${CFLAGS_WASM[@]}" -Wno-unused-parameter -mexec-model=reactor -I"$1/gen" \
        -o "$1/core.wasm" "$HERE/c-spin-data/main.c" "$1/gen/spindata.c" "$1/gen/spindata_component_type.o"
    "$WASM_TOOLS" component new "$1/core.wasm" --adapt "wasi_snapshot_preview1=$ADAPTER_REACTOR" -o "$2"
}

# The test component of tests/e2e/up_triggers.sh (not in ALL): the Redis trigger's and the cron
# trigger's handlers, from the WIT files beside its source.
build_c_triggers() {
    cp "$HERE/c-triggers/world.wit" "$1/"
    mkdir -p "$1/deps/spin"
    cp "$HERE/c-triggers/spin-redis.wit" "$1/deps/spin/"
    "$WIT_BINDGEN" c "$1" --world triggers --out-dir "$1/gen"
    "$CLANG" "${CFLAGS_WASM[@]}" -Wno-unused-parameter -mexec-model=reactor -I"$1/gen" \
        -o "$1/core.wasm" "$HERE/c-triggers/main.c" "$1/gen/triggers.c" "$1/gen/triggers_component_type.o"
    "$WASM_TOOLS" component new "$1/core.wasm" --adapt "wasi_snapshot_preview1=$ADAPTER_REACTOR" -o "$2"
}

# The test handler of tests/e2e/up_outbound.sh (not in ALL either).
build_c_outbound() {
    cp "$HERE/c-outbound/world.wit" "$1/"
    wasi_wit "$1" 0.2.12
    "$WIT_BINDGEN" c "$1" --world hello --out-dir "$1/gen"
    "$CLANG" "${CFLAGS_WASM[@]}" -Wno-unused-parameter -mexec-model=reactor -I"$1/gen" \
        -o "$1/core.wasm" "$HERE/c-outbound/main.c" "$1/gen/hello.c" "$1/gen/hello_component_type.o"
    "$WASM_TOOLS" component new "$1/core.wasm" --adapt "wasi_snapshot_preview1=$ADAPTER_REACTOR" -o "$2"
}

build_c_types() {
    "$WIT_BINDGEN" c "$HERE/c-types/types.wit" --world types --out-dir "$1/gen"
    "$CLANG" "${CFLAGS_WASM[@]}" -Wno-unused-parameter -mexec-model=reactor -I"$1/gen" \
        -o "$1/core.wasm" "$HERE/c-types/main.c" "$1/gen/types.c" "$1/gen/types_component_type.o"
    # No WASI import (no I/O; abort is a trap), hence no adapter: a pure component.
    "$WASM_TOOLS" component new "$1/core.wasm" -o "$2"
}

# build_c_p3 NAME WORLD WORK OUT.wasm: a C component on wit-bindgen's async (callback) C
# bindings against the WASI 0.3.0 WIT; no WASI 0.1 import (no stdio), hence no adapter.
build_c_p3() {
    cp "$HERE/$1/world.wit" "$3/"
    mkdir -p "$3/deps"
    cp -r "$WASI_WIT_P3"/wasi-* "$3/deps/"
    "$WIT_BINDGEN" c "$3" --world "$2" --out-dir "$3/gen"
    "$CLANG" "${CFLAGS_WASM[@]}" -Wno-unused-parameter -mexec-model=reactor -I"$3/gen" \
        -o "$3/core.wasm" "$HERE/$1/main.c" "$3/gen/$2.c" "$3/gen/$2_component_type.o"
    "$WASM_TOOLS" component new "$3/core.wasm" -o "$4"
}
build_c_http_p3() { build_c_p3 c-http-p3 handler "$1" "$2"; }
build_c_cli_p3() { build_c_p3 c-cli-p3 command "$1" "$2"; }
build_c_sockets_p3() { build_c_p3 c-sockets-p3 command "$1" "$2"; }

# The wasi:sockets 0.2 test component of tests/e2e/p2_sockets.sh: one source, a command
# (preview1 command adapter) and, with -DKILN_HANDLER, a wasi:http handler (reactor adapter).
build_c_sockets_p2_world() { # DIR WORLD ADAPTER WORK OUT.wasm [CFLAGS...]
    local dir=$1 world=$2 adapter=$3 work=$4 out=$5
    shift 5
    cp "$HERE/$dir/world.wit" "$work/"
    wasi_wit "$work" 0.2.12
    "$WIT_BINDGEN" c "$work" --world "$world" --out-dir "$work/gen"
    "$CLANG" "${CFLAGS_WASM[@]}" -Wno-unused-parameter "$@" -I"$work/gen" -o "$work/core.wasm" \
        "$HERE/c-sockets-p2/main.c" "$work/gen/$world.c" "$work/gen/${world}_component_type.o"
    "$WASM_TOOLS" component new "$work/core.wasm" --adapt "wasi_snapshot_preview1=$adapter" -o "$out"
}
build_c_sockets_p2() { build_c_sockets_p2_world c-sockets-p2 command "$ADAPTER_COMMAND" "$1" "$2"; }
build_c_sockets_p2_http() {
    build_c_sockets_p2_world c-sockets-p2-http handler "$ADAPTER_REACTOR" "$1" "$2" \
        -mexec-model=reactor -DKILN_HANDLER
}

build_go_cli() {
    (cd "$HERE/go-cli" && GOOS=wasip1 GOARCH=wasm GOFLAGS=-mod=mod GOTOOLCHAIN=local \
        "$GO" build -trimpath -o "$1/core.wasm" .)
    "$WASM_TOOLS" component new "$1/core.wasm" --adapt "wasi_snapshot_preview1=$ADAPTER_COMMAND" -o "$2"
}

build_js() { # build_js DIR WORLD WORK OUT.wasm
    cp "$HERE/$1/world.wit" "$HERE/$1/app.js" "$3/"
    wasi_wit "$3" 0.2.10
    # tools/npm/jco.mjs: jco with the preview2 shim's preopens set (plain `jco componentize`
    # fails with "failed to get path metadata (os error 44)").
    (cd "$3" && node "$NPM/jco.mjs" componentize app.js --wit . --world-name "$2" -o "$4")
}
build_js_http() { build_js js-http hello "$1" "$2"; }
build_js_cli() { build_js js-cli cli "$1" "$2"; }
build_js_outbound() { build_js js-outbound hello "$1" "$2"; }

build_py_http() {
    cp "$HERE/py-http/world.wit" "$HERE/py-http/app.py" "$1/"
    wasi_wit "$1" 0.2.12
    (cd "$1" && "$KILN_TOOLS/py/bin/componentize-py" -d . -w hello componentize app -o "$2")
}

# componentize-py's async bindings against the WASI 0.3.0 WIT (its own runtime still imports
# WASI 0.2.9 for its libc).
build_py_p3() { # build_py_p3 NAME WORLD WORK OUT.wasm
    cp "$HERE/$1/world.wit" "$HERE/$1/app.py" "$3/"
    mkdir -p "$3/deps"
    cp -r "$WASI_WIT_P3"/wasi-* "$3/deps/"
    (cd "$3" && "$KILN_TOOLS/py/bin/componentize-py" -d . -w "$2" componentize app -o "$4")
}
build_py_http_p3() { build_py_p3 py-http-p3 handler "$1" "$2"; }
build_py_cli_p3() { build_py_p3 py-cli-p3 command "$1" "$2"; }
build_py_proxy_p3() { build_py_p3 py-proxy-p3 proxy "$1" "$2"; }
build_py_wasi_p3() { build_py_p3 py-wasi-p3 command "$1" "$2"; }
build_py_http_cmd_p3() { build_py_p3 py-http-cmd-p3 command "$1" "$2"; }

# Apps on Spin's Python SDKs, built as the SDKs' READMEs say (`componentize-py -w WORLD
# componentize app`, the SDK found on the Python path with its componentize-py.toml).
build_spin_py5() { # build_spin_py5 NAME WORK OUT.wasm
    cp "$HERE/$1/app.py" "$2/"
    (cd "$2" && "$KILN_TOOLS/py/bin/componentize-py" -w spin:up/http-trigger@4.1.0 componentize app \
        -p . -p "$KILN_TOOLS/spin-sdk/py5" -o "$3")
}
build_spin_py3() {
    cp "$HERE/$1/app.py" "$2/"
    (cd "$2" && VIRTUAL_ENV="$KILN_TOOLS/spin-sdk/py3" "$KILN_TOOLS/spin-sdk/py3/bin/componentize-py" \
        -w spin-http componentize app -o "$3")
}
# An http-js project: `npm run build` as the template's spin.toml runs it, on the
# template's node_modules that install-tools.sh --spin-sdk installed (linked, not copied).
build_spin_js() { # build_spin_js NAME WORK OUT.wasm
    cp -R "$HERE/$1/." "$2/"
    ln -s "$KILN_TOOLS/spin-sdk/js/node_modules" "$2/node_modules"
    (cd "$2" && PATH="$2/node_modules/.bin:$PATH" npm run build --silent)
    mv "$2/dist/$1.wasm" "$3"
}
build_spin_js_hello() { build_spin_js spin-js-hello "$1" "$2"; }
build_spin_js_app() { build_spin_js spin-js-app "$1" "$2"; }
build_spin_py5_hello() { build_spin_py5 spin-py5-hello "$1" "$2"; }
build_spin_py5_app() { build_spin_py5 spin-py5-app "$1" "$2"; }
build_spin_py3_hello() { build_spin_py3 spin-py3-hello "$1" "$2"; }
build_spin_py3_app() { build_spin_py3 spin-py3-app "$1" "$2"; }

# Builds of older sources (other branches, earlier commits) go after two weeks unused.
find "$CACHE" -maxdepth 1 -name '*.wasm' -mtime +14 -delete 2>/dev/null || true

status=0
for name in "${NAMES[@]}"; do
    [ -d "$HERE/$name" ] || { echo "build.sh: unknown component $name" >&2; exit 2; }
    key=$(input_hash "$name")
    cached="$CACHE/$name-$key.wasm"
    if [ -f "$cached" ]; then
        touch "$cached"
        cp "$cached" "$OUT/$name.wasm"
        echo "$name: $(stat -c %s "$cached") bytes (cached)"
        continue
    fi
    work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-component.XXXXXX")
    t0=$(date +%s.%N)
    if ("build_${name//-/_}" "$work" "$work/component.wasm" && "$WASM_TOOLS" validate "$work/component.wasm") >"$work/log" 2>&1; then
        t1=$(date +%s.%N)
        mv "$work/component.wasm" "$cached.tmp$$" && mv "$cached.tmp$$" "$cached"
        cp "$cached" "$OUT/$name.wasm"
        printf '%s: %s bytes (built in %.1f s)\n' "$name" "$(stat -c %s "$cached")" "$(awk "BEGIN{print $t1 - $t0}")"
    else
        echo "build.sh: $name failed:" >&2
        tail -30 "$work/log" >&2
        status=1
    fi
    rm -rf "$work"
done
exit $status
