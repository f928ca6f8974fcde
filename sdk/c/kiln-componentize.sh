#!/bin/sh
# kiln-componentize.sh — the last step of building a C handler as a wasi:http component:
# turns the core module that clang made from main.c + kiln.c + kiln_http.c
# (`clang --target=wasm32-wasi --sysroot=/usr -mexec-model=reactor ...`) into a component
# of the wasi:http/proxy world, which Kiln, Spin, `wasmtime serve` and `jco serve` run.
#
#   sh sdk/kiln-componentize.sh CORE.wasm OUT.wasm
#
# It uses jco (npm @bytecodealliance/jco) from ${KILN_TOOLS:-/var/cache/kiln-tools}/npm:
#   1. `jco embed`: the component type, i.e. a world `include wasi:http/proxy@V` with jco's
#      own copy of the WASI WIT (lib/wit/builtin/V), V being the version kiln_http.c was
#      built for (read from the core module's export wasi:http/incoming-handler@V#handle),
#      plus Spin's key-value and variables interfaces when the module imports them
#      (kiln_host.c);
#   2. `jco new --wasi-reactor`: wraps the module with the WASI preview1 reactor adapter
#      shipped in jco's package, so that wasi-libc's I/O (stderr, getenv, files) works.
# When jco is not there it runs the Kiln source tree's `scripts/install-tools.sh --npm-only`
# (found from $KILN_SRC, from the `kiln` that runs the build, or from `kiln` on PATH).
set -eu

if [ $# -ne 2 ]; then
    echo "usage: $0 CORE.wasm OUT.wasm" >&2
    exit 2
fi
core=$1
out=$2
KILN_TOOLS=${KILN_TOOLS:-/var/cache/kiln-tools}
npm=$KILN_TOOLS/npm
jco_pkg=$npm/node_modules/@bytecodealliance/jco

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

if [ ! -f "$jco_pkg/dist/jco.js" ] || [ ! -f "$npm/jco.mjs" ]; then
    if ! command -v node >/dev/null 2>&1; then
        echo "kiln-componentize: Node.js is needed to make the component (jco); install nodejs and npm" >&2
        exit 1
    fi
    if installer=$(find_installer); then
        echo "kiln-componentize: jco is not in $npm; installing it ($installer --npm-only)" >&2
        "$installer" --npm-only >&2
    else
        echo "kiln-componentize: jco is not in $npm, and no Kiln source tree was found to install it:" >&2
        echo "  run scripts/install-tools.sh --npm-only in the Kiln source tree (or set KILN_SRC to it)" >&2
        exit 1
    fi
fi

version=$(grep -ao 'wasi:http/incoming-handler@0\.2\.[0-9]*#handle' "$core" | head -n 1 |
    sed -e 's/.*@//' -e 's/#handle//') || true
if [ -z "$version" ]; then
    echo "kiln-componentize: $core does not export wasi:http/incoming-handler (was it linked with sdk/kiln_http.c?)" >&2
    exit 1
fi
if [ ! -d "$jco_pkg/lib/wit/builtin/$version" ]; then
    echo "kiln-componentize: jco in $npm has no WASI $version WIT (lib/wit/builtin/$version)" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/wit"
# Spin's interfaces that kiln_host.c imports, when the module uses them (written from
# Spin's WIT, package fermyon:spin@2.0.0: key-value, variables and sqlite).
spin_imports=
for iface in key-value variables sqlite; do
    if grep -aq "fermyon:spin/$iface@2\.0\.0" "$core"; then
        spin_imports="$spin_imports  import fermyon:spin/$iface@2.0.0;
"
    fi
done
printf 'package kiln:app;\n\nworld app {\n  include wasi:http/proxy@%s;\n%s}\n' "$version" "$spin_imports" >"$tmp/wit/world.wit"
cp -R "$jco_pkg/lib/wit/builtin/$version" "$tmp/wit/deps"
rm -f "$tmp/wit/deps/LICENSE.md" "$tmp/wit/deps/README.md"
if [ -n "$spin_imports" ]; then
    mkdir "$tmp/wit/deps/fermyon-spin"
    cat >"$tmp/wit/deps/fermyon-spin/spin.wit" <<'WIT'
package fermyon:spin@2.0.0;

interface key-value {
  resource store {
    open: static func(label: string) -> result<store, error>;
    get: func(key: string) -> result<option<list<u8>>, error>;
    set: func(key: string, value: list<u8>) -> result<_, error>;
    delete: func(key: string) -> result<_, error>;
    exists: func(key: string) -> result<bool, error>;
    get-keys: func() -> result<list<string>, error>;
  }

  variant error {
    store-table-full,
    no-such-store,
    access-denied,
    other(string),
  }
}

interface sqlite {
  resource connection {
    open: static func(database: string) -> result<connection, error>;
    execute: func(statement: string, parameters: list<value>) -> result<query-result, error>;
  }

  variant error {
    no-such-database,
    access-denied,
    invalid-connection,
    database-full,
    io(string),
  }

  variant value {
    integer(s64),
    real(f64),
    text(string),
    blob(list<u8>),
    null,
  }

  record query-result {
    columns: list<string>,
    rows: list<row-result>,
  }

  record row-result {
    values: list<value>,
  }
}

interface variables {
  get: func(name: string) -> result<string, error>;

  variant error {
    invalid-name(string),
    undefined(string),
    provider(string),
    other(string),
  }
}
WIT
fi
node "$npm/jco.mjs" embed "$core" --wit "$tmp/wit" --world-name app -o "$tmp/embedded.wasm" >&2
node "$npm/jco.mjs" new "$tmp/embedded.wasm" --wasi-reactor -o "$tmp/component.wasm" >&2
mv "$tmp/component.wasm" "$out"
