#!/usr/bin/env bash
# run.sh [SECONDS] — builds every libFuzzer target (tests/fuzz/fuzz.mk) and runs each for
# SECONDS (default 10), seeded with the toml-test files; fuzz_wasm with the modules of
# tests/e2e/wat (wat2wasm), fuzz_component with tests/fuzz/seeds/component/*.wat (converted
# by wasm-tools) and a preamble-only component, fuzz_http1 with tests/fuzz/seeds/http1/,
# fuzz_hpack with tests/fuzz/seeds/hpack/ (RFC 7541 Appendix C blocks), fuzz_h2client with
# tests/fuzz/seeds/h2client/ (HTTP/2 frames an upstream sends), fuzz_http2 with
# tests/fuzz/seeds/http2/. The corpus lives in a temp dir (never in the repo); crash inputs are copied to BUILD/fuzz/artifacts/.
# Environment: BUILD (default build-fuzz), KILN_SHARED (default ../shared), KILN_TOOLS
# (default /var/cache/kiln-tools: wasm-tools in cargo/bin).
set -u
cd "$(dirname "$0")/../.."
SECS=${1:-10}
BUILD=${BUILD:-build-fuzz}
SHARED=${KILN_SHARED:-$(cd .. && pwd)/shared}
SEEDS="$SHARED/testsuites/toml-test/tests"
[ -d "$SEEDS" ] || SEEDS="$SHARED/toml-test/tests"

make -s -f tests/fuzz/fuzz.mk BUILD="$BUILD" -j2 || exit 1
work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$BUILD/fuzz/artifacts"

WASM_TOOLS=${KILN_TOOLS:-/var/cache/kiln-tools}/cargo/bin/wasm-tools

# seed NAME DIR: writes the seed inputs of target NAME into DIR.
seed() {
    local i=0 f
    case "$1" in
    fuzz_wasm)
        for f in tests/e2e/wat/*.wat; do
            wat2wasm "$f" -o "$2/seed-$i.wasm" 2>/dev/null && i=$((i + 1))
        done
        ;;
    fuzz_http1)
        cp tests/fuzz/seeds/http1/*.http "$2/"
        ;;
    fuzz_hpack)
        cp tests/fuzz/seeds/hpack/*.bin "$2/"
        ;;
    fuzz_h2client)
        cp tests/fuzz/seeds/h2client/*.bin "$2/"
        ;;
    fuzz_http2)
        cp tests/fuzz/seeds/http2/*.bin "$2/"
        ;;
    fuzz_component)
        printf '\0asm\r\0\1\0' >"$2/seed-empty.wasm"
        for f in tests/fuzz/seeds/component/*.wat; do
            [ -x "$WASM_TOOLS" ] && "$WASM_TOOLS" parse "$f" -o "$2/seed-$i.wasm" && i=$((i + 1))
        done
        ;;
    *)
        while IFS= read -r f; do
            cp "$f" "$2/seed-$i.toml"
            i=$((i + 1))
        done < <(find "$SEEDS" -name '*.toml' 2>/dev/null | sort)
        ;;
    esac
}

rc=0
for bin in "$BUILD"/fuzz/fuzz_*; do
    [ -x "$bin" ] && [ -f "$bin" ] || continue
    name=$(basename "$bin")
    corpus="$work/$name"
    mkdir -p "$corpus"
    seed "$name" "$corpus"
    "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -artifact_prefix="$work/$name-" "$corpus" >"$work/$name.log" 2>&1
    status=$?
    runs=$(grep -Eo 'stat::number_of_executed_runs: *[0-9]+|#[0-9]+' "$work/$name.log" | tail -1 | tr -dc '0-9')
    if [ "$status" -ne 0 ]; then
        rc=1
        echo "$name: FAILED (exit $status)"
        grep -E 'ERROR|SUMMARY|runtime error' "$work/$name.log" | head -20
        cp "$work/$name"-* "$BUILD/fuzz/artifacts/" 2>/dev/null &&
            echo "  crash inputs saved in $BUILD/fuzz/artifacts/"
    else
        echo "$name: ok (${runs:-?} runs in ${SECS}s)"
    fi
done
exit $rc
