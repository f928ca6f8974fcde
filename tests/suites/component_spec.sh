#!/usr/bin/env bash
# component_spec.sh — the component-model specification's own tests (the .wast files of
# WebAssembly/component-model test/: async/ binary/ linking/ resources/ validation/
# values/), as the wasm-tools 1.263.0 crate ships them; scripts/install-tools.sh puts them
# in $KILN_TOOLS/component-spec (read in place, never copied into the repository).
#
# Every .wast is converted with `wasm-tools json-from-wast` into
# $KILN_BUILD/component-spec-json/DIR/NAME/ (only when missing or older than the .wast),
# then BUILD/component-spec-runner loads, instantiates and calls the components through
# Kiln's component runtime (src/component/). Commands listed in
# tests/suites/component_spec-excluded.txt are skipped with the reason written there.
#
# Prints one line per file and per folder ("component-spec values/ — N of M commands
# passed, N failed, N skipped"), the reasons of the skips, and
# "component-spec: N passed, N failed" (summed by tests/run-all.sh).
# Environment: KILN_CSPEC_JOBS (files run in parallel, default 2), KILN_CSPEC_TIMEOUT
# (seconds one command may take, default 60).
source "$(dirname "$0")/../lib.sh"
_name=component-spec
RUNNER="$KILN_BUILD/component-spec-runner"
KILN_TOOLS=${KILN_TOOLS:-/var/cache/kiln-tools}
SPEC="$KILN_TOOLS/component-spec"
WASM_TOOLS="$KILN_TOOLS/cargo/bin/wasm-tools"
EXCLUDED="$ROOT/tests/suites/component_spec-excluded.txt"
JSON_DIR="$KILN_BUILD/component-spec-json"
CACHE="$KILN_BUILD/component-spec-cache"
JOBS=${KILN_CSPEC_JOBS:-2}
TIMEOUT=${KILN_CSPEC_TIMEOUT:-60}

for need in "$RUNNER" "$SPEC" "$WASM_TOOLS"; do
    if [ ! -e "$need" ]; then
        fail "setup" "not found: $need (make, scripts/install-tools.sh)"
        finish
        exit
    fi
done
mkdir -p "$JSON_DIR" "$CACHE"

# Convert (only what is missing or outdated).
all=()
while IFS= read -r rel; do
    dir=$(dirname "$rel")
    base=$(basename "$rel" .wast)
    out="$JSON_DIR/$dir/$base"
    json="$out/$base.json"
    if [ ! -s "$json" ] || [ "$SPEC/$rel" -nt "$json" ]; then
        rm -rf "$out"
        mkdir -p "$out"
        if ! "$WASM_TOOLS" json-from-wast "$SPEC/$rel" -o "$json" --wasm-dir "$out" \
            2>"$TMP/convert.err"; then
            fail "json-from-wast $rel" "$(head -c 300 "$TMP/convert.err")"
            rm -f "$json"
            continue
        fi
    fi
    all+=("$json")
done < <(cd "$SPEC" && find . -name '*.wast' | sed 's|^\./||' | LC_ALL=C sort)

start=$(date +%s)
out=$("$RUNNER" --cache-dir "$CACHE" --exclude "$EXCLUDED" -j "$JOBS" --timeout "$TIMEOUT" \
    "${all[@]}")
end=$(date +%s)
line=$(printf '%s\n' "$out" | tail -n 1)
if [[ "$line" =~ :\ ([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped ]]; then
    p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} s=${BASH_REMATCH[3]}
else
    p=0 f=1 s=0
    echo "component-spec: the runner printed no summary" >&2
fi
# Per file, the skip reasons, then per folder.
printf '%s\n' "$out" | grep ' — '
# Skips: one line per file and reason ("FILE:LINE: skipped: R" and "FILE: N commands
# skipped: R" from the runner).
printf '%s\n' "$out" | grep ' skipped: ' | awk '{
    i = index($0, " skipped: "); reason = substr($0, i + 10); head = substr($0, 1, i - 1)
    n = 1
    if (head ~ /: [0-9]+ commands$/) { split(head, h, ": "); file = h[1]; n = h[2] + 0 }
    else { sub(/:[0-9]+:$/, "", head); file = head }
    key = file SUBSEP reason
    if (!(key in count)) order[++keys] = key
    count[key] += n
} END {
    for (k = 1; k <= keys; k++) {
        split(order[k], p, SUBSEP)
        printf "component-spec skipped %d in %s: %s\n", count[order[k]], p[1], p[2]
    }
}'
printf '%s\n' "$out" | grep ' — ' | awk '{
    split($1, parts, "/"); d = parts[1] "/"
    pass[d] += $3; failed[d] += $5; skip[d] += $7
} END {
    for (d in pass)
        printf "component-spec %s — %d of %d commands passed, %d failed, %d skipped\n",
            d, pass[d], pass[d] + failed[d] + skip[d], failed[d], skip[d]
}' | LC_ALL=C sort
printf '%s\n' "$out" | grep 'validated, not instantiated' | sed 's/^component-spec:/component-spec/'
echo "component-spec: $((p + _passed)) passed, $((f + _failed)) failed, $s skipped"
echo "component-spec took $((end - start))s for ${#all[@]} files"
[ "$f" -eq 0 ] && [ "$_failed" -eq 0 ] && [ "$p" -gt 0 ]
