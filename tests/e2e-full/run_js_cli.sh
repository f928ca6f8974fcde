#!/usr/bin/env bash
# kiln run runs the componentize-js command component of the corpus (js-cli, 12.5 MB of
# StarlingMonkey: ~20 s to compile on the fast tier the first time, hence make test-full):
# its output, arguments and environment as `jco run` gives them, its exit codes, and a
# second run from the compiled cache.
source "$(dirname "$0")/../lib.sh"

CORPUS="$KILN_BUILD/components"
if ! out=$("$ROOT/tests/components/build.sh" "$CORPUS" js-cli 2>&1); then
    fail "tests/components/build.sh builds js-cli" "$out"
    finish
    exit
fi
pass "tests/components/build.sh builds js-cli"
cp "$CORPUS/js-cli.wasm" "$TMP/js-cli.wasm"
out=$("$KILN" run "$TMP/js-cli.wasm" hello world 2>"$TMP/err")
expect_eq "js-cli exits 0" "0" "$?"
expect_contains "js-cli prints its greeting" "hello from JavaScript" "$out"
expect_contains "js-cli sees its arguments" '"hello","world"]' "$out"
out=$("$KILN" run --env KILN_COLOR=blue --env OTHER=x "$TMP/js-cli.wasm" 2>"$TMP/err")
expect_contains "js-cli sees --env variables" "env KILN_COLOR=blue" "$out"
"$KILN" run "$TMP/js-cli.wasm" fail >/dev/null 2>"$TMP/err"
expect_eq "js-cli's run returning err exits 1 (as jco run)" "1" "$?"
t0=$(date +%s.%N)
out=$("$KILN" run "$TMP/js-cli.wasm" again 2>"$TMP/err")
t1=$(date +%s.%N)
expect_contains "a second run (from the cache) gives the same greeting" "hello from JavaScript" "$out"
expect_eq "... and loads from the cache (well under 5 s)" "1" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print (b - a < 5)}')"
finish
