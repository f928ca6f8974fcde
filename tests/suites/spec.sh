#!/usr/bin/env bash
# spec.sh — the WebAssembly spec tests ($SHARED/testsuites/spec, read in place) on both
# compiler tiers, through BUILD/spec-runner.
#
# Every non-SIMD .wast is converted with Debian's wast2json into $KILN_BUILD/spec-json
# (only when missing or older than the .wast). Both tiers run every file: measured with
# a cold compile cache on 2 cores, the fast tier (libtcc) takes ~5 s and the opt tier
# (cc -O2) ~30 s for all 90 files, far inside the 15-minute CI budget, so `make test`
# and `make spec-full` (KILN_SPEC_FULL=1) run the same thing. Compiled modules are cached
# in $KILN_BUILD/spec-cache. Commands listed in tests/suites/spec-excluded.txt are
# skipped (with the reason written there).
#
# The bounds variant (KILN_MEMORY_CHECKS=bounds: explicit bounds checks, small memory
# reservations, see src/engine/codegen.c) runs on both tiers too: on the memory, address
# and bounds files in `make test`, on every file in `make spec-full` (KILN_SPEC_FULL=1).
#
# Prints "spec-fast: N passed, N failed", "spec-opt: N passed, N failed" and the same for
# "spec-fast-bounds" / "spec-opt-bounds" (summed by tests/run-all.sh), the skipped counts, the time per tier and the number of SIMD files.
# Environment: KILN_SPEC_JOBS (files run in parallel, default 2), KILN_SPEC_TIMEOUT
# (seconds one command may take, default 60).
source "$(dirname "$0")/../lib.sh"
_name=spec
RUNNER="$KILN_BUILD/spec-runner"
SPEC="$SHARED/testsuites/spec"
[ -d "$SPEC" ] || SPEC="$SHARED/spec"
EXCLUDED="$ROOT/tests/suites/spec-excluded.txt"
JSON_DIR="$KILN_BUILD/spec-json"
CACHE="$KILN_BUILD/spec-cache"
JOBS=${KILN_SPEC_JOBS:-2}
TIMEOUT=${KILN_SPEC_TIMEOUT:-60}

if [ ! -x "$RUNNER" ] || [ ! -d "$SPEC" ] || ! command -v wast2json >/dev/null; then
    fail "setup" "need $RUNNER, $SPEC and wast2json"
    finish
    exit
fi
mkdir -p "$JSON_DIR" "$CACHE"

# Convert (only what is missing or outdated); count the SIMD files.
simd=0
all=()
for wast in "$SPEC"/*.wast; do
    base=$(basename "$wast" .wast)
    case "$base" in simd_*)
        simd=$((simd + 1))
        continue
        ;;
    esac
    json="$JSON_DIR/$base/$base.json"
    if [ ! -s "$json" ] || [ "$wast" -nt "$json" ]; then
        rm -rf "${JSON_DIR:?}/$base"
        mkdir -p "$JSON_DIR/$base"
        if ! wast2json "$wast" -o "$json" 2>"$TMP/w2j.err"; then
            fail "wast2json $base.wast" "$(head -c 300 "$TMP/w2j.err")"
            rm -f "$json"
            continue
        fi
    fi
    all+=("$json")
done

# run_tier NAME TIER FILES...: runs the runner, prints "spec-NAME: N passed, N failed".
run_tier() {
    local name=$1 tier=$2
    shift 2
    local start end out line p f
    start=$(date +%s)
    out=$("$RUNNER" --tier "$tier" --cache-dir "$CACHE" --exclude "$EXCLUDED" -j "$JOBS" \
        --timeout "$TIMEOUT" "$@")
    end=$(date +%s)
    line=$(printf '%s\n' "$out" | tail -n 1)
    if [[ "$line" =~ :\ ([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped ]]; then
        p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
    else
        p=0 f=1
        echo "spec-$name: the runner printed no summary" >&2
    fi
    echo "spec-$name: $p passed, $f failed"
    printf '%s\n' "$out" | grep ' skipped: ' | sed "s/^spec ([a-z]*) skipped:/spec-$name skipped:/"
    echo "spec-$name took $((end - start))s for $# files"
    [ "$f" -eq 0 ]
}

rc=0
run_tier fast fast "${all[@]}" || rc=1
run_tier opt opt "${all[@]}" || rc=1
# The bounds variant: every file in spec-full, the files about memory accesses otherwise.
bounds=()
for json in "${all[@]}"; do
    case "$(basename "$json" .json)" in
    address | align | bounds | data | float_memory | load | store | memory | memory_* | left-to-right)
        bounds+=("$json") ;;
    *) [ "${KILN_SPEC_FULL:-0}" = 1 ] && bounds+=("$json") ;;
    esac
done
KILN_MEMORY_CHECKS=bounds run_tier fast-bounds fast "${bounds[@]}" || rc=1
KILN_MEMORY_CHECKS=bounds run_tier opt-bounds opt "${bounds[@]}" || rc=1
echo "spec-simd: $simd SIMD files not run"
[ "$_failed" -eq 0 ] || echo "spec-convert: 0 passed, $_failed failed"
[ "$_failed" -eq 0 ] && [ "$rc" -eq 0 ]
