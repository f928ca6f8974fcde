#!/usr/bin/env bash
# wasi_components.sh — the WASI preview1 conformance suite ($SHARED/wasi-testsuite, read in
# place) run as COMPONENTS: each program is wrapped with `wasm-tools component new --adapt
# wasi_snapshot_preview1=<jco's preview1 command adapter>` (which maps preview1 onto WASI
# 0.2) and run through `kiln run` like tests/suites/wasi.sh runs the core modules:
# `kiln run --env K=V --dir ROOT::/ test.component.wasm ARGS`, 5 s each, comparing the exit
# code and the stdout/stderr prefixes of NAME.json, so every file, clock, poll and stream
# operation goes through Kiln's WASI 0.2 host (src/host/wasip2/). Conversions are cached
# by content hash under $KILN_TOOLS/corpus/wasi-components. Programs listed in
# wasi_components-excluded.txt (name + reason) are skipped and reported.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

SUITE="$SHARED/wasi-testsuite/tests"
[ -d "$SUITE" ] || SUITE="$SHARED/testsuites/wasi-testsuite/tests"
EXCLUDED="$ROOT/tests/suites/wasi_components-excluded.txt"
TIMEOUT=${KILN_WASI_TIMEOUT:-5}
KILN_TOOLS=${KILN_TOOLS:-/var/cache/kiln-tools}
WASM_TOOLS="$KILN_TOOLS/cargo/bin/wasm-tools"
ADAPTER="$KILN_TOOLS/npm/node_modules/@bytecodealliance/jco/lib/wasi_snapshot_preview1.command.wasm"
CACHE="$KILN_TOOLS/corpus/wasi-components"

for need in "$SUITE" "$KILN" "$WASM_TOOLS" "$ADAPTER"; do
    if [ ! -e "$need" ]; then
        fail "wasi_components" "not found: $need (scripts/install-tools.sh installs the tools)"
        finish
        exit
    fi
done
mkdir -p "$CACHE" 2>/dev/null || CACHE="$TMP/cache" && mkdir -p "$CACHE"
akey=$(sha256sum "$ADAPTER" | cut -c1-12)

excluded() {
    [ -f "$EXCLUDED" ] && grep -q "^$1[[:space:]]" "$EXCLUDED"
}

# component CORE.wasm: prints the path of its component (converted once, then cached).
component() {
    local key out
    key=$(sha256sum "$1" | cut -c1-16)
    out="$CACHE/$key-$akey.wasm"
    if [ ! -f "$out" ]; then
        "$WASM_TOOLS" component new "$1" --adapt "wasi_snapshot_preview1=$ADAPTER" \
            -o "$out.tmp$$" 2>"$TMP/convert.log" || return 1
        mv "$out.tmp$$" "$out"
    fi
    echo "$out"
}

source "$(dirname "$0")/helpers/wasi_testsuite.sh"

nexcluded=0
while IFS= read -r wasm; do
    dir=$(dirname "$wasm")
    lang=$(echo "$wasm" | sed -E 's|.*/tests/([^/]+)/.*|\1|')
    name=$(basename "$wasm" .wasm)
    id="$lang/$name"
    if [ -n "${KILN_WASI_ONLY:-}" ] && ! [[ "$id" =~ $KILN_WASI_ONLY ]]; then
        continue
    fi
    if excluded "$id"; then
        nexcluded=$((nexcluded + 1))
        [ -n "${VERBOSE:-}" ] && echo "  skip $id (excluded)"
        continue
    fi
    if ! comp=$(component "$wasm"); then
        fail "$id" "wasm-tools component new failed: $(head -c 300 "$TMP/convert.log")"
        continue
    fi
    t="$TMP/$lang-$name"
    mkdir -p "$t"
    if ! describe "$wasm" "$t"; then
        fail "$id" "cannot read $name.json"
        continue
    fi
    { read -r want_rc; read -r root; } <"$t/meta"
    mapfile -d '' args <"$t/args"
    mapfile -d '' envs <"$t/env"
    opts=()
    for e in "${envs[@]}"; do opts+=(--env "$e"); done
    if [ -n "$root" ]; then
        cp -r "$dir/$root" "$t/root"
        chmod -R u+w "$t/root"
        opts+=(--dir "$t/root::/")
    fi
    "$KILN" compile "$comp" >/dev/null 2>&1 || true
    (cd "$t" && timeout "$TIMEOUT" "$KILN" run "${opts[@]}" "$comp" "${args[@]}" \
        >"$t/stdout" 2>"$t/stderr" </dev/null)
    rc=$?
    problems=()
    [ "$rc" = "$want_rc" ] || problems+=("exit code: want $want_rc, got $rc")
    if [ -f "$t/stdout.exp" ] && ! starts_with "$t/stdout" "$t/stdout.exp"; then
        problems+=("stdout: want prefix $(printf %q "$(cat "$t/stdout.exp")")")
    fi
    if [ -f "$t/stderr.exp" ] && ! starts_with "$t/stderr" "$t/stderr.exp"; then
        problems+=("stderr: want prefix $(printf %q "$(cat "$t/stderr.exp")")")
    fi
    if [ ${#problems[@]} -eq 0 ]; then
        pass "$id"
    else
        fail "$id" "${problems[@]}" "stdout: $(head -c 300 "$t/stdout")" \
            "stderr: $(head -c 600 "$t/stderr")"
    fi
    rm -rf "$t"
done < <(find "$SUITE" -path '*/wasm32-wasip1/*' -name '*.wasm' | sort)

[ "$nexcluded" -gt 0 ] &&
    echo "wasi_components: $nexcluded excluded (see tests/suites/wasi_components-excluded.txt)"
finish
