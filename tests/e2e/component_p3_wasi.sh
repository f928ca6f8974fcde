#!/usr/bin/env bash
# component_p3_wasi.sh — a WASI 0.3 (p3) command built by componentize-py
# (tests/components/py-wasi-p3) importing wasi:cli environment and exit, wasi:clocks
# system-clock, wasi:random insecure and insecure-seed, and wasi:filesystem 0.3.0 types and
# preopens, under `kiln run` with --env, arguments and a --dir preopen: it sees them; it
# writes, appends, reads (streams; 300 read streams in a row under a limit of 200 fds),
# stats, lists (a stream<directory-entry>), renames and removes files and directories in the
# preopen; every way out of it ("../", an absolute path, a symlink to a file outside) is
# refused with not-permitted and leaves the host's files alone; its exit-with-code(7) is
# kiln run's exit status. wasmtime run -Sp3 on the same component prints the same and exits
# alike (skipped with a reason when wasmtime-cli is not built; KILN_REQUIRE_WASMTIME=1 makes
# that a failure). A command in WAT does the same under the rc's names
# (0.3.0-rc-2026-03-15, what Spin 4 components import) and 0.3.0's: arguments,
# get-directories, an async func lowered sync, exit-with-code.
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
300 reads: 4800 bytes Ok
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
# (at most 200 fds: the 300 read streams must not each keep one until the guest ends)
out=$(ulimit -n 200 && KILN_P3_HOST=not-granted "$KILN" run --env KILN_P3_A=one \
    --env KILN_P3_B=two=2 --dir "$TMP/box/pre::/data" "$WASM" x "y z" 2>"$TMP/run.err")
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

# A command in WAT under version $1's names (the rc Spin 4 targets, or 0.3.0): it lowers
# wasi:cli/environment get-arguments, wasi:filesystem/preopens get-directories and the async
# func create-directory-at (lowered sync), makes "made" in the preopen, tries "../escaped"
# and leaves through wasi:cli/exit exit-with-code(the error-code case + the argument count):
# not-permitted (30) + 3 = 33.
fs_command() {
    cat <<WAT
(component
  (import "wasi:cli/environment@$1" (instance \$env
    (export "get-arguments" (func (result (list string))))))
  (import "wasi:cli/exit@$1" (instance \$ex
    (export "exit-with-code" (func (param "status-code" u8)))))
  (import "wasi:filesystem/types@$1" (instance \$fs
    (export "descriptor" (type \$d (sub resource)))
    (type \$ec0 (variant
      (case "access") (case "already") (case "bad-descriptor") (case "busy")
      (case "deadlock") (case "quota") (case "exist") (case "file-too-large")
      (case "illegal-byte-sequence") (case "in-progress") (case "interrupted")
      (case "invalid") (case "io") (case "is-directory") (case "loop")
      (case "too-many-links") (case "message-size") (case "name-too-long")
      (case "no-device") (case "no-entry") (case "no-lock") (case "insufficient-memory")
      (case "insufficient-space") (case "not-directory") (case "not-empty")
      (case "not-recoverable") (case "unsupported") (case "no-tty") (case "no-such-device")
      (case "overflow") (case "not-permitted") (case "pipe") (case "read-only")
      (case "invalid-seek") (case "text-file-busy") (case "cross-device")
      (case "other" (option string))))
    (export "error-code" (type \$ec (eq \$ec0)))
    (export "[method]descriptor.create-directory-at"
      (func async (param "self" (borrow \$d)) (param "path" string) (result (result (error \$ec)))))))
  (alias export \$fs "descriptor" (type \$desc))
  (import "wasi:filesystem/preopens@$1" (instance \$pre
    (alias outer 1 \$desc (type \$d))
    (export "descriptor" (type \$dd (eq \$d)))
    (export "get-directories" (func (result (list (tuple (own \$dd) string)))))))
  (core module \$Mem
    (memory (export "mem") 1)
    (global \$top (mut i32) (i32.const 4096))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local \$p i32)
      (local.set \$p (i32.and (i32.add (global.get \$top) (i32.const 7)) (i32.const -8)))
      (global.set \$top (i32.add (local.get \$p) (local.get 3)))
      (local.get \$p)))
  (core instance \$mem (instantiate \$Mem))
  (core func \$args (canon lower (func \$env "get-arguments")
    (memory (core memory \$mem "mem")) (realloc (core func \$mem "realloc"))))
  (core func \$dirs (canon lower (func \$pre "get-directories")
    (memory (core memory \$mem "mem")) (realloc (core func \$mem "realloc"))))
  (core func \$mkdir (canon lower (func \$fs "[method]descriptor.create-directory-at")
    (memory (core memory \$mem "mem")) (realloc (core func \$mem "realloc"))))
  (core func \$exit (canon lower (func \$ex "exit-with-code")))
  (core func \$ret (canon task.return (result (result))))
  (core module \$M
    (import "" "mem" (memory 1))
    (import "" "args" (func \$args (param i32)))
    (import "" "dirs" (func \$dirs (param i32)))
    (import "" "mkdir" (func \$mkdir (param i32 i32 i32 i32)))
    (import "" "exit" (func \$exit (param i32)))
    (import "" "ret" (func \$ret (param i32)))
    (data (i32.const 200) "../escaped")
    (data (i32.const 220) "made")
    ;; exit code: the error-code case of create-directory-at("../escaped") (not-permitted,
    ;; 30) + the number of arguments; "made" must be created (ok) first
    (func (export "run") (local \$d i32)
      (call \$args (i32.const 16))
      (call \$dirs (i32.const 32))
      (if (i32.ne (i32.load (i32.const 36)) (i32.const 1)) (then unreachable))
      (local.set \$d (i32.load (i32.load (i32.const 32))))
      (call \$mkdir (local.get \$d) (i32.const 220) (i32.const 4) (i32.const 64))
      (if (i32.ne (i32.load8_u (i32.const 64)) (i32.const 0)) (then unreachable))
      (call \$mkdir (local.get \$d) (i32.const 200) (i32.const 10) (i32.const 64))
      (if (i32.ne (i32.load8_u (i32.const 64)) (i32.const 1)) (then unreachable))
      (call \$exit (i32.add (i32.load8_u (i32.const 68)) (i32.load (i32.const 20))))
      (call \$ret (i32.const 0))))
  (core instance \$m (instantiate \$M (with "" (instance
    (export "mem" (memory \$mem "mem")) (export "args" (func \$args)) (export "dirs" (func \$dirs))
    (export "mkdir" (func \$mkdir)) (export "exit" (func \$exit)) (export "ret" (func \$ret))))))
  (func \$run async (result (result)) (canon lift (core func \$m "run") async))
  (instance \$runi (export "run" (func \$run)))
  (export "wasi:cli/run@$1" (instance \$runi)))
WAT
}

WT=$TOOLS/cargo/bin/wasm-tools
for v in 0.3.0-rc-2026-03-15 0.3.0; do
    fs_command "$v" >"$TMP/fs-$v.wat"
    if ! "$WT" parse "$TMP/fs-$v.wat" -o "$TMP/fs-$v.wasm" 2>"$TMP/parse.err"; then
        fail "the WAT command ($v) parses" "$(head -5 "$TMP/parse.err")"
        continue
    fi
    fresh_box
    "$KILN" run --dir "$TMP/box/pre::/" "$TMP/fs-$v.wasm" a b 2>"$TMP/run.err"
    expect_eq "kiln run: the WAT command ($v): not-permitted (30) + 3 arguments" 33 $?
    expect_eq "kiln run: the WAT command ($v) made its directory, nothing else" made \
        "$(ls "$TMP/box/pre")"
    expect_eq "kiln run: the WAT command ($v): nothing on stderr" "" "$(cat "$TMP/run.err")"
done
if [ -x "$WASMTIME" ]; then # wasmtime 48 knows the 0.3.0 names only
    fresh_box
    "$WASMTIME" run "${WFLAGS[@]}" -Wcomponent-model-async-stackful --dir "$TMP/box/pre::/" \
        "$TMP/fs-0.3.0.wasm" a b </dev/null 2>"$TMP/wrun.err"
    expect_eq "wasmtime run agrees on the WAT command's exit code" 33 $?
fi

finish
