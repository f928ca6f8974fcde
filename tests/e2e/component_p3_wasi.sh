#!/usr/bin/env bash
# component_p3_wasi.sh — a WASI 0.3 (p3) command built by componentize-py
# (tests/components/py-wasi-p3) importing wasi:cli environment and exit, wasi:clocks
# system-clock, wasi:random insecure and insecure-seed, and wasi:filesystem 0.3.0 types and
# preopens, under `kiln run` with --env, arguments and a --dir preopen: it sees them, writes,
# appends, reads (streams), stats, lists (a stream<directory-entry>), renames and removes
# files and directories in the preopen, every way out of it ("../", an absolute path, a
# symlink to a file outside) is refused with not-permitted and leaves the host's files
# alone, and its exit-with-code(7) is kiln run's exit status. wasmtime run -Sp3 on the same
# component prints the same and exits alike (skipped with a reason when wasmtime-cli is not
# built; KILN_REQUIRE_WASMTIME=1 makes that a failure).
source "$(dirname "$0")/../lib.sh"

TOOLS=${KILN_TOOLS:-/var/cache/kiln-tools}
WASMTIME=$TOOLS/cargo/bin/wasmtime
WFLAGS=(-Sp3 -Scli -Wcomponent-model-async -Wcomponent-model-more-async-builtins)

mkdir -p "$TMP/corpus"
if ! "$ROOT/tests/components/build.sh" "$TMP/corpus" py-wasi-p3 >"$TMP/build.log" 2>&1; then
    fail "tests/components/build.sh py-wasi-p3" "$(tail -20 "$TMP/build.log")"
    finish
    exit 1
fi
WASM=$TMP/corpus/py-wasi-p3.wasm

# A fresh box: the preopen (empty) and a file beside it that the guest must not reach.
fresh_box() {
    rm -rf "$TMP/box"
    mkdir -p "$TMP/box/pre"
    echo secret >"$TMP/box/outside.txt"
}

want="env: [('KILN_P3_A', 'one'), ('KILN_P3_B', 'two=2')]
args: ['x', 'y z']
system clock: True True resolution True
insecure: 12 bytes, u64 True, seed 2
preopens: /data
mkdir sub: ok
mkdir sub again: Exist
write: Ok
append: Ok
read: b'hello p3 file appended' Ok
read at 6: b'p3 file appended' Ok
read past the end: b'' Ok
write a file opened to read: Err BadDescriptor
append to it: Err BadDescriptor
set-size of it: Invalid
stat: RegularFile size 22 links 1 mtime recent True
flags: <DescriptorFlags.READ|WRITE: 3>
type of sub: Directory
same object: True False
mkdir sub/inner: ok
list sub: [('a.txt', 'RegularFile'), ('inner', 'Directory')] Ok
read a directory: b'' Err IsDirectory
write a directory: Err BadDescriptor
rename: ok
stat old name: NoEntry
stat new name: RegularFile size 22
rmdir non-empty: NotEmpty
open ../: NotPermitted
open sub/../../: NotPermitted
open absolute: NotPermitted
mkdir ../: NotPermitted
symlink out: ok
readlink: ../outside.txt
open via symlink: NotPermitted
stat via symlink: NotPermitted
unlink symlink: ok
unlink: ok
rmdir inner: ok
rmdir: ok
list: [] Ok"

fresh_box
out=$(KILN_P3_HOST=not-granted "$KILN" run --env KILN_P3_A=one --env KILN_P3_B=two=2 \
    --dir "$TMP/box/pre::/data" "$WASM" x "y z" 2>"$TMP/run.err")
rc=$?
expect_eq "kiln run: the p3 command's stdout" "$want" "$out"
expect_eq "kiln run: exit-with-code(7) is the exit status" 7 "$rc"
expect_eq "kiln run: nothing on stderr" "" "$(cat "$TMP/run.err")"
expect_eq "the file outside the preopen is untouched" secret "$(cat "$TMP/box/outside.txt")"
expect_eq "nothing was made beside the preopen" "outside.txt pre" "$(ls "$TMP/box" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "the guest cleaned up the preopen" "" "$(ls -A "$TMP/box/pre")"

if [ -x "$WASMTIME" ]; then
    fresh_box
    wout=$("$WASMTIME" run "${WFLAGS[@]}" --env KILN_P3_A=one --env KILN_P3_B=two=2 \
        --dir "$TMP/box/pre::/data" "$WASM" x "y z" </dev/null 2>"$TMP/wrun.err")
    wrc=$?
    expect_eq "kiln run and wasmtime run agree: stdout" "$wout" "$out"
    expect_eq "kiln run and wasmtime run agree: exit code" "$wrc" "$rc"
elif [ "${KILN_REQUIRE_WASMTIME:-0}" = 1 ]; then
    fail "wasmtime comparison: $WASMTIME is missing (scripts/install-wasmtime.sh)"
else
    echo "component_p3_wasi: SKIP the wasmtime comparison: wasmtime-cli not built in $TOOLS/cargo/bin (scripts/install-wasmtime.sh)" >&2
fi

finish
