#!/usr/bin/env bash
# component_run.sh — `kiln run` and `kiln compile` on real command components: C programs
# built with clang (wasm32-wasi) and made components with `wasm-tools component new
# --adapt` and jco's preview1 command adapter. Checks output, arguments, environment,
# stdin, exit codes (return and exit() — wasi:cli/exit gives 0 or 1 — traps, --timeout), and
# compares with `jco run` (Node.js, preview2-shim) where jco is installed. A component
# importing an interface Kiln lacks is refused before compiling, naming it.
# wasm-tools and jco come from scripts/install-tools.sh; without wasm-tools or the adapter
# this test fails.
source "$(dirname "$0")/../lib.sh"

TOOLS=${KILN_TOOLS:-/var/cache/kiln-tools}
WT=$TOOLS/cargo/bin/wasm-tools
JCO_DIR=$TOOLS/npm/node_modules/@bytecodealliance/jco
ADAPTER=$JCO_DIR/lib/wasi_snapshot_preview1.command.wasm
JCO=$TOOLS/npm/node_modules/.bin/jco
for f in "$WT" "$ADAPTER"; do
    if [ ! -e "$f" ]; then
        fail "$f not found (scripts/install-tools.sh installs it)"
        # A component that is not a command.
cat >"$TMP/reactor.wat" <<'WAT'
(component
  (core module $m (func (export "f") (result i32) (i32.const 1)))
  (core instance $i (instantiate $m))
  (func (export "f") (result u32) (canon lift (core func $i "f"))))
WAT
"$WT" parse "$TMP/reactor.wat" -o "$TMP/reactor.wasm"
out=$("$KILN" run "$TMP/reactor.wasm" 2>&1)
expect_eq "a component without wasi:cli/run exits 1" 1 $?
expect_contains "it is said to be no command" "not a command component" "$out"

finish
        exit 1
    fi
done

# Builds C source $2 into the command component $TMP/$1.wasm.
component() {
    printf '%s\n' "$2" >"$TMP/$1.c"
    clang --target=wasm32-wasi --sysroot=/usr -O1 "$TMP/$1.c" -o "$TMP/$1.core.wasm" &&
        "$WT" component new "$TMP/$1.core.wasm" --adapt "wasi_snapshot_preview1=$ADAPTER" \
            -o "$TMP/$1.wasm"
}

component hello '#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
  printf("hello from a component\n");
  for (int i = 1; i < argc; i++) printf("arg %d: %s\n", i, argv[i]);
  const char *e = getenv("GREETING");
  printf("GREETING=%s\n", e ? e : "(unset)");
  fprintf(stderr, "to stderr\n");
  if (argc > 1 && strcmp(argv[1], "exit7") == 0) exit(7);
  if (argc > 1 && strcmp(argv[1], "return3") == 0) return 3;
  if (argc > 1 && strcmp(argv[1], "trap") == 0) __builtin_trap();
  if (argc > 1 && strcmp(argv[1], "spin") == 0) { volatile unsigned n = 0; for (;;) n++; }
  if (argc > 1 && strcmp(argv[1], "cat") == 0) {
    char buf[256]; size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) fwrite(buf, 1, n, stdout);
  }
  return 0;
}' || fail "building the hello component"

out=$("$KILN" compile "$TMP/hello.wasm" 2>&1)
expect_eq "kiln compile of a component exits 0" 0 $?
expect_contains "kiln compile says it is a component" "component, 4 core modules" "$out"

out=$("$KILN" run --env GREETING=hi "$TMP/hello.wasm" one "two words" 2>"$TMP/err")
expect_eq "run exits 0" 0 $?
expect_eq "stdout, arguments and environment" "hello from a component
arg 1: one
arg 2: two words
GREETING=hi" "$out"
expect_eq "stderr" "to stderr" "$(cat "$TMP/err")"

out=$("$KILN" run "$TMP/hello.wasm" 2>/dev/null)
expect_contains "no environment unless granted" "GREETING=(unset)" "$out"

"$KILN" run "$TMP/hello.wasm" exit7 >/dev/null 2>&1
expect_eq "exit(7) through wasi:cli/exit (err) exits 1" 1 $?
"$KILN" run "$TMP/hello.wasm" return3 >/dev/null 2>&1
expect_eq "main returning 3 exits 1" 1 $?
out=$("$KILN" run "$TMP/hello.wasm" trap 2>&1 >/dev/null)
expect_eq "a trap exits 134" 134 $?
expect_contains "a trap is reported" "error: trap:" "$out"
expect_contains "the trap names the component and the function" "hello.wasm: run" "$out"

out=$("$KILN" run --timeout 300ms "$TMP/hello.wasm" spin 2>&1 >/dev/null)
expect_eq "an endless loop is stopped by --timeout (exit 134)" 134 $?
expect_contains "the timeout is reported" "interrupted" "$out"

out=$(printf 'line one\nline two\n' | "$KILN" run "$TMP/hello.wasm" cat 2>/dev/null)
expect_contains "stdin through wasi:io/streams" "line one
line two" "$out"

# The same component on jco (Node.js) where it is installed: the same output and status
# (jco passes the host's environment and its own argv[0]: compare from arg 1 on).
if [ -x "$JCO" ] && command -v node >/dev/null; then
    for args in "one two" "exit7" "return3"; do
        # shellcheck disable=SC2086
        want=$(cd "$TMP" && GREETING=jc timeout 120 "$JCO" run hello.wasm $args 2>/dev/null)
        wrc=$?
        # shellcheck disable=SC2086
        got=$("$KILN" run --env GREETING=jc "$TMP/hello.wasm" $args 2>/dev/null)
        grc=$?
        expect_eq "same output as jco run ($args)" "$want" "$got"
        expect_eq "same status as jco run ($args)" "$wrc" "$grc"
    done
else
    echo "  (jco not installed: compared with expected text only)"
fi

# A component importing an interface no host provides: refused before compiling.
cat >"$TMP/missing.wat" <<'WAT'
(component
  (import "example:nope/thing@1.0.0" (instance (export "f" (func))))
  (import "wasi:cli/environment@0.2.3" (instance (export "get-arguments" (func (result string)))))
  (core module $m (func (export "x"))))
WAT
"$WT" parse "$TMP/missing.wat" -o "$TMP/missing.wasm"
out=$(KILN_CACHE_DIR="$TMP/empty-cache" "$KILN" run "$TMP/missing.wasm" 2>&1)
expect_eq "a missing import exits 1" 1 $?
expect_contains "the missing interface is named" \
    "example:nope/thing@1.0.0: no host provides this interface" "$out"
expect_contains "a wrong type is named" \
    "function 'get-arguments' has type () -> string; the host's is () -> list<string>" "$out"
expect_eq "nothing was compiled" "" "$(ls -A "$TMP/empty-cache" 2>/dev/null)"

# A component that is not a command.
cat >"$TMP/reactor.wat" <<'WAT'
(component
  (core module $m (func (export "f") (result i32) (i32.const 1)))
  (core instance $i (instantiate $m))
  (func (export "f") (result u32) (canon lift (core func $i "f"))))
WAT
"$WT" parse "$TMP/reactor.wat" -o "$TMP/reactor.wasm"
out=$("$KILN" run "$TMP/reactor.wasm" 2>&1)
expect_eq "a component without wasi:cli/run exits 1" 1 $?
expect_contains "it is said to be no command" "not a command component" "$out"

finish
