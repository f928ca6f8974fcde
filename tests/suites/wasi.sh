#!/usr/bin/env bash
# wasi.sh — runs every program of the WASI preview1 conformance suite
# ($SHARED/wasi-testsuite, read in place) through `kiln run`, like the official
# runner: `kiln run --env K=V --dir ROOT::/ test.wasm ARGS`, 5 s each, comparing the exit
# code and the stdout/stderr prefixes given in NAME.json. A test's `root` folder is copied
# to a private temp dir first (tests create files in it). Programs listed in
# wasi-excluded.txt (name + reason) are skipped and reported.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

SUITE="$SHARED/wasi-testsuite/tests"
[ -d "$SUITE" ] || SUITE="$SHARED/testsuites/wasi-testsuite/tests"
EXCLUDED="$ROOT/tests/suites/wasi-excluded.txt"
TIMEOUT=${KILN_WASI_TIMEOUT:-5}
# KILN_WASI_TIER=fast|opt: the compiler tier to use (default: kiln's own choice).
TIER=()
[ -n "${KILN_WASI_TIER:-}" ] && TIER=(--tier "$KILN_WASI_TIER")

if [ ! -d "$SUITE" ]; then
    fail "wasi-testsuite" "not found: $SUITE"
    finish
    exit
fi
if [ ! -x "$KILN" ]; then
    fail "kiln binary" "not found: $KILN"
    finish
    exit
fi

excluded() {
    [ -f "$EXCLUDED" ] && grep -q "^$1[[:space:]]" "$EXCLUDED"
}

source "$(dirname "$0")/helpers/wasi_testsuite.sh"

nexcluded=0
while IFS= read -r wasm; do
    dir=$(dirname "$wasm")
    lang=$(echo "$wasm" | sed -E 's|.*/tests/([^/]+)/.*|\1|')
    name=$(basename "$wasm" .wasm)
    id="$lang/$name"
    # KILN_WASI_ONLY=REGEX: run only the matching tests (e.g. "rust/path_").
    if [ -n "${KILN_WASI_ONLY:-}" ] && ! [[ "$id" =~ $KILN_WASI_ONLY ]]; then
        continue
    fi
    if excluded "$id"; then
        nexcluded=$((nexcluded + 1))
        [ -n "${VERBOSE:-}" ] && echo "  skip $id (excluded)"
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
    opts=("${TIER[@]}")
    for e in "${envs[@]}"; do opts+=(--env "$e"); done
    if [ -n "$root" ]; then
        cp -r "$dir/$root" "$t/root"
        chmod -R u+w "$t/root"
        opts+=(--dir "$t/root::/")
    fi
    # Compile first (not part of the test's time limit), then run.
    "$KILN" compile "${TIER[@]}" "$wasm" >/dev/null 2>&1 || true
    (cd "$t" && timeout "$TIMEOUT" "$KILN" run "${opts[@]}" "$wasm" "${args[@]}" \
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

[ "$nexcluded" -gt 0 ] && echo "wasi: $nexcluded excluded (see tests/suites/wasi-excluded.txt)"
finish
