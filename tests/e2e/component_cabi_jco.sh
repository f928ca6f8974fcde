#!/usr/bin/env bash
# component_cabi_jco.sh — the canonical ABI against jco (the reference JS implementation):
# guests/cabi_driver.c, a command component importing kiln:types/api, is composed with the
# corpus's c-types component (which exports it) and the composition runs under `kiln run`
# and `jco run`: every function of every kind of WIT type crosses between two components
# (lowered by the driver, lifted by c-types and back), resources included, plus 200 random
# strings with astral characters. The outputs must be identical, for a driver with UTF-8
# strings and for one with UTF-16 strings (transcoded at every crossing), and equal to each
# other. A string cut inside a UTF-8 sequence traps in Kiln (jco decodes it leniently).
# wasm-tools, wit-bindgen, jco, the preview1 adapter and the corpus (c-types) come from
# scripts/install-tools.sh and tests/components/build.sh; without them this test fails.
source "$(dirname "$0")/../lib.sh"

TOOLS=${KILN_TOOLS:-/var/cache/kiln-tools}
WT=$TOOLS/cargo/bin/wasm-tools
WB=$TOOLS/cargo/bin/wit-bindgen
JCO_MJS=$TOOLS/npm/jco.mjs
ADAPTER=$TOOLS/npm/node_modules/@bytecodealliance/jco/lib/wasi_snapshot_preview1.command.wasm
CTYPES=$(ls -t "$TOOLS"/corpus/c-types-*.wasm 2>/dev/null | head -1)
for f in "$WT" "$WB" "$JCO_MJS" "$ADAPTER" "$CTYPES"; do
    if [ -z "$f" ] || [ ! -e "$f" ]; then
        fail "${f:-c-types corpus component} not found (scripts/install-tools.sh, tests/components/build.sh)"
        finish
        exit 1
    fi
done

# The driver's world: c-types' own WIT package, imported.
mkdir -p "$TMP/wit/deps"
"$WT" component wit "$CTYPES" --out-dir "$TMP/ctwit" >/dev/null
cp "$TMP"/ctwit/deps/*.wit "$TMP/wit/deps/"
api=$(grep -o 'interface api' "$TMP"/wit/deps/*.wit | head -1)
expect_eq "c-types exports interface api" "interface api" "${api#*:}"
cat >"$TMP/wit/driver.wit" <<'WIT'
package kiln:driver;
world driver {
  import kiln:types/api@0.1.0;
}
WIT

# Builds the composition for string encoding $1 (utf8 / utf16) into $TMP/c-$1.wasm.
compose() {
    local enc=$1 def=
    [ "$enc" = utf16 ] && def=-DUTF16
    "$WB" c "$TMP/wit" --world driver --string-encoding "$enc" --out-dir "$TMP/gen-$enc" \
        >/dev/null 2>&1 &&
        clang --target=wasm32-wasi --sysroot=/usr -O1 $def -I"$TMP/gen-$enc" \
            "$ROOT/tests/e2e/guests/cabi_driver.c" "$TMP/gen-$enc/driver.c" \
            "$TMP/gen-$enc/driver_component_type.o" -o "$TMP/d-$enc.core.wasm" &&
        "$WT" component new "$TMP/d-$enc.core.wasm" --adapt "wasi_snapshot_preview1=$ADAPTER" \
            -o "$TMP/d-$enc.wasm" &&
        "$WT" compose "$TMP/d-$enc.wasm" -d "$CTYPES" -o "$TMP/c-$enc.wasm" >/dev/null 2>&1
}

for enc in utf8 utf16; do
    if ! compose $enc; then
        fail "building the $enc driver composition"
        continue
    fi
    n=$("$WT" print "$TMP/c-$enc.wasm" | grep -c 'string-encoding=utf16')
    if [ $enc = utf16 ]; then
        expect_eq "the utf16 driver lowers with string-encoding=utf16" yes "$([ "$n" -gt 0 ] && echo yes)"
    else
        expect_eq "the utf8 driver has no utf16 lowering" 0 "$n"
    fi
    "$KILN" run "$TMP/c-$enc.wasm" >"$TMP/kiln-$enc.out" 2>"$TMP/kiln-$enc.err"
    expect_eq "$enc: kiln run exits 0" 0 $?
    node "$JCO_MJS" run "$TMP/c-$enc.wasm" >"$TMP/jco-$enc.out" 2>"$TMP/jco-$enc.err"
    expect_eq "$enc: jco run exits 0" 0 $?
    out=$(cat "$TMP/kiln-$enc.out")
    expect_eq "$enc: kiln and jco print the same" "$(cat "$TMP/jco-$enc.out")" "$out"
    expect_contains "$enc: strings with astral characters" "greet: [Hello, wörld 😀!] (19)" "$out"
    expect_contains "$enc: list<string> results" " word: [λ] (2)" "$out"
    expect_contains "$enc: result error payloads" "parse err 1 120" "$out"
    expect_contains "$enc: records with option and list" "describe: [Ada (36) <ada@example.org> [a,bé]]" "$out"
    expect_contains "$enc: resources and borrows" "merged 12" "$out"
    expect_contains "$enc: random strings round-trip" "random strings: 0 mismatches" "$out"
    expect_eq "$enc: 42 lines" 42 "$(wc -l <"$TMP/kiln-$enc.out")"
done
expect_eq "utf8 and utf16 drivers print the same" "$(cat "$TMP/kiln-utf8.out")" \
    "$(cat "$TMP/kiln-utf16.out")"

# Invalid UTF-8 in a lowered string is a trap (CanonicalABI.md load_string_from_range).
"$KILN" run "$TMP/c-utf8.wasm" bad-utf8 >"$TMP/bad.out" 2>"$TMP/bad.err"
expect_eq "invalid UTF-8 traps (exit 134)" 134 $?
expect_contains "the trap names the function and the reason" "split-words" "$(cat "$TMP/bad.err")"
expect_contains "the trap says invalid UTF-8" "invalid UTF-8" "$(cat "$TMP/bad.err")"
expect_not_contains "the callee never ran" "not reached" "$(cat "$TMP/bad.out")"

finish
