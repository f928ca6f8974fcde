#!/usr/bin/env bash
# End-to-end tests of the engine through the real binary: kiln run / kiln compile,
# traps on both tiers, import checking, bad modules, and the compile cache.
source "$(dirname "$0")/../lib.sh"
W="$ROOT/tests/e2e/wat"
wat2wasm "$W/traps.wat" -o "$TMP/traps.wasm"
wat2wasm "$W/needs_imports.wat" -o "$TMP/needs_imports.wasm"
clang --target=wasm32-wasi --sysroot=/usr -O2 "$ROOT/tests/e2e/guests/hello.c" -o "$TMP/hello.wasm"

# --- traps: one line naming the kind, exit status 134, on both tiers
declare -A traps=([u]="unreachable executed" [m]="out of bounds memory access"
    [d]="integer divide by zero" [o]="integer overflow" [c]="invalid conversion to integer"
    [t]="out of bounds table access" [n]="uninitialized element" [i]="indirect call type mismatch"
    [s]="call stack exhausted")
for tier in fast opt; do
    for k in "${!traps[@]}"; do
        out=$(timeout 60 "$KILN" run --tier $tier "$TMP/traps.wasm" "$k" 2>&1)
        rc=$?
        expect_eq "trap $k ($tier): exit 134" 134 "$rc"
        expect_contains "trap $k ($tier): message" "error: trap: ${traps[$k]}" "$out"
    done
    "$KILN" run --tier $tier "$TMP/traps.wasm" g
    expect_eq "memory.grow past the maximum returns -1 ($tier)" 9 "$?"
    "$KILN" run --tier $tier "$TMP/traps.wasm" e
    expect_eq "proc_exit code is the exit status ($tier)" 42 "$?"
    out=$("$KILN" run --tier $tier "$TMP/hello.wasm" a "b c" 2>&1)
    expect_eq "hello runs ($tier)" 0 "$?"
    expect_contains "argv reaches the guest ($tier)" $'arg[1]=a\narg[2]=b c' "$out"
    expect_contains "fresh instance: static counter is 1 ($tier)" "counter=1" "$out"
done

# --- time limits: a runaway guest and a guest asleep in poll_oneoff are both stopped
for tier in fast opt; do
    start=$(date +%s%N)
    out=$(timeout 20 "$KILN" run --tier $tier --timeout 300ms "$TMP/traps.wasm" l 2>&1)
    rc=$?
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    expect_eq "runaway loop stopped: exit 134 ($tier)" 134 "$rc"
    expect_contains "runaway loop: says why ($tier)" "time limit exceeded" "$out"
    check "runaway loop stopped within 5 s of a 300 ms limit ($tier, took ${ms} ms)" test "$ms" -lt 5000
done
start=$(date +%s%N)
out=$(timeout 20 "$KILN" run --timeout 200ms "$TMP/traps.wasm" z 2>&1)
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "sleep in poll_oneoff stopped: exit 134" 134 "$rc"
expect_contains "sleep in poll_oneoff: says why" "time limit exceeded" "$out"
check "sleep stopped within 5 s of a 200 ms limit (took ${ms} ms)" test "$ms" -lt 5000
"$KILN" run --timeout 10s "$TMP/traps.wasm" e
expect_eq "a guest within its time limit is unaffected" 42 "$?"

# --- environment: only what --env gives
out=$(FOO=host "$KILN" run "$TMP/hello.wasm")
expect_contains "host environment is not visible" "FOO=(unset)" "$out"
out=$("$KILN" run --env FOO=given "$TMP/hello.wasm")
expect_contains "--env K=V is visible" "FOO=given" "$out"

# --- output is not lost at exit
out=$("$KILN" run "$TMP/hello.wasm" exit3)
rc=$?
expect_eq "exit(3) is the exit status" 3 "$rc"
expect_contains "buffered output is flushed at exit" "unflushed line without newline" "$out"

# --- imports are checked before compiling: every missing one listed, nothing compiled
export KILN_CACHE_DIR="$TMP/cache-imports"
out=$("$KILN" compile "$TMP/needs_imports.wasm" 2>&1)
expect_eq "unknown imports: exit 1" 1 "$?"
expect_contains "unknown import env.magic named with its signature" \
    'unknown import: "env" "magic" func (i64) -> (f32)' "$out"
expect_contains "unknown WASI function named" '"wasi_snapshot_preview1" "no_such_call"' "$out"
expect_contains "wrong signature for a known function named" \
    '"wasi_snapshot_preview1" "proc_exit" func (i64) -> ()' "$out"
expect_not_contains "a provided import is not listed" '"fd_write"' "$out"
expect_eq "nothing compiled for a module with unknown imports" "" "$(ls "$KILN_CACHE_DIR" 2>/dev/null)"

# --- hostile export names do not reach the C compiler
wat2wasm "$W/hostile_names.wat" -o "$TMP/hostile.wasm"
for tier in fast opt; do
    "$KILN" run --tier $tier "$TMP/hostile.wasm"
    expect_eq "exports named like C comments and directives compile and run ($tier)" 5 "$?"
done

# --- bad input: a clear error naming the file, exit 1, no crash
printf 'hello, not wasm' >"$TMP/text.wasm"
out=$("$KILN" run "$TMP/text.wasm" 2>&1)
expect_eq "not wasm: exit 1" 1 "$?"
expect_contains "not wasm: named" "$TMP/text.wasm: not a WebAssembly binary" "$out"
printf '(module)' >"$TMP/mod.wat"
out=$("$KILN" run "$TMP/mod.wat" 2>&1)
expect_contains "text format: hint to convert" "text format" "$out"
head -c 100 "$TMP/hello.wasm" >"$TMP/truncated.wasm"
out=$("$KILN" run "$TMP/truncated.wasm" 2>&1)
expect_eq "truncated: exit 1" 1 "$?"
expect_contains "truncated: says so" "truncated" "$out"
printf '\0asm\1\0\0\0\1\5\1\x60\0\1\x7f\3\2\1\0\n\4\1\2\0\x0b' >"$TMP/invalid.wasm"
out=$("$KILN" run "$TMP/invalid.wasm" 2>&1)
expect_eq "invalid body: exit 1" 1 "$?"
expect_contains "invalid body: named as invalid" "$TMP/invalid.wasm: invalid module" "$out"
out=$("$KILN" run "$TMP/does-not-exist.wasm" 2>&1)
expect_eq "missing file: exit 1" 1 "$?"
expect_contains "missing file: named" "does-not-exist.wasm: cannot open" "$out"
out=$("$KILN" run "$TMP/traps.wasm" --tier 2>&1)
expect_eq "options after FILE are the guest's arguments" 0 "$?"

# --- the cache: reuse, tiers, corruption, concurrency
export KILN_CACHE_DIR="$TMP/cache"
out=$("$KILN" compile "$TMP/hello.wasm")
expect_contains "first compile compiles (fast)" "fast tier, compiled" "$out"
out=$("$KILN" compile "$TMP/hello.wasm")
expect_contains "second compile is cached" "fast tier, cached" "$out"
out=$("$KILN" compile --tier auto "$TMP/hello.wasm")
expect_contains "auto without an opt build uses fast" "fast tier, cached" "$out"
"$KILN" compile --tier opt "$TMP/hello.wasm" >/dev/null
out=$("$KILN" compile --tier auto "$TMP/hello.wasm")
expect_contains "auto prefers a cached opt build" "opt tier, cached" "$out"
for f in "$KILN_CACHE_DIR"/*.so; do
    printf 'garbage' | dd of="$f" bs=1 seek=200 conv=notrunc status=none
done
out=$("$KILN" compile --tier fast "$TMP/hello.wasm")
expect_contains "a corrupt entry is rebuilt" "fast tier, compiled" "$out"
out=$("$KILN" run --tier fast "$TMP/hello.wasm")
expect_contains "the rebuilt entry runs" "counter=1" "$out"
# an entry whose checksum is right but which does not load (e.g. from an older Kiln)
for f in "$KILN_CACHE_DIR"/*.so; do
    python3 -c 'import hashlib, sys
b = b"not an ELF object"
open(sys.argv[1], "wb").write(b + hashlib.sha256(b).digest() + b"KILNSUM1")' "$f"
done
out=$("$KILN" compile -v --tier fast "$TMP/hello.wasm" 2>&1)
expect_contains "an entry that does not load is rebuilt" "cached build does not load" "$out"
out=$("$KILN" run --tier fast "$TMP/hello.wasm")
expect_contains "the entry rebuilt after a load failure runs" "counter=1" "$out"
export KILN_CACHE_DIR="$TMP/cache-race"
pids=()
for i in 1 2 3 4; do
    "$KILN" compile --tier fast "$TMP/traps.wasm" >"$TMP/race$i.out" 2>&1 &
    pids+=($!)
done
ok=0
for p in "${pids[@]}"; do wait "$p" && ok=$((ok + 1)); done
expect_eq "4 processes compiling one module at once all succeed" 4 "$ok"
expect_eq "one entry, no temp files left" 1 "$(ls -A "$KILN_CACHE_DIR" | wc -l)"
out=$("$KILN" run "$TMP/traps.wasm" e)
expect_eq "the raced entry runs" 42 "$?"

# kiln run --invoke NAME: call an export with numeric arguments, print its results (as
# wasmtime run --invoke); a reactor's _initialize runs first
cat >"$TMP/invoke.wat" <<'EOF'
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $init (mut i32) (i32.const 0))
  (data (i32.const 16) "hi\n")
  (func (export "_initialize") (global.set $init (i32.const 42)))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "init") (result i32) (global.get $init))
  (func (export "mix") (param i64 f32 f64) (result i64 f32 f64) (local.get 0) (local.get 1) (local.get 2))
  (func (export "say") (i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 3))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "boom") unreachable))
EOF
wat2wasm "$TMP/invoke.wat" -o "$TMP/invoke.wasm"
expect_eq "--invoke: i32 result, signed" "-3" "$("$KILN" run --invoke add "$TMP/invoke.wasm" 2 -5)"
expect_eq "--invoke: unsigned spelling wraps" "0" "$("$KILN" run --invoke add "$TMP/invoke.wasm" 0xffffffff 1)"
expect_eq "--invoke: a reactor's _initialize ran first" "42" "$("$KILN" run --invoke init "$TMP/invoke.wasm")"
expect_eq "--invoke: i64 f32 f64 round trip" $'-9000000000\n1.5\n0.1' \
    "$("$KILN" run --invoke mix "$TMP/invoke.wasm" -9000000000 1.5 0.1)"
expect_eq "--invoke: the guest's WASI output" "hi" "$("$KILN" run --invoke say "$TMP/invoke.wasm")"
"$KILN" run --invoke boom "$TMP/invoke.wasm" 2>"$TMP/inv.err"
expect_eq "--invoke: a trap exits 134" 134 "$?"
expect_contains "--invoke: the trap is named" "unreachable" "$(cat "$TMP/inv.err")"
out=$("$KILN" run --invoke add "$TMP/invoke.wasm" 1 2>&1)
expect_eq "--invoke: wrong argument count exits 2" 2 "$?"
expect_contains "--invoke: says how many" "'add' takes 2 arguments, 1 given" "$out"
out=$("$KILN" run --invoke add "$TMP/invoke.wasm" 1 x 2>&1)
expect_contains "--invoke: a bad number is named" "argument 2 of 'add': 'x' is not a valid i32" "$out"
out=$("$KILN" run --invoke nope "$TMP/invoke.wasm" 2>&1)
expect_contains "--invoke: a missing export is named" "no exported function 'nope'" "$out"
out=$("$KILN" run "$TMP/invoke.wasm" 2>&1)
expect_contains "a reactor without --invoke: told to use it" "it is a reactor: call an export with --invoke" "$out"
finish
