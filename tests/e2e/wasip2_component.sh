#!/usr/bin/env bash
# wasip2_component.sh — a real C component (tests/components/c-wasi2: clang wasm32-wasi +
# jco's preview1 command adapter, so every call reaches Kiln's WASI 0.2 host) run with
# `kiln run --dir HOST::/data[:ro]`: file I/O, directory listing, environment, arguments,
# clocks, random, sleep, confinement (".." and a symlink leading out), stderr, the exit
# code, a read-only grant, and stdin from a pipe (a host fd). The same component is run
# under `jco run` with the same directory and its output compared line by line.
# The tools come from scripts/install-tools.sh; without them this test fails.
source "$(dirname "$0")/../lib.sh"

TOOLS=${KILN_TOOLS:-/var/cache/kiln-tools}
WT="$TOOLS/cargo/bin/wasm-tools"
ADAPTER="$TOOLS/npm/node_modules/@bytecodealliance/jco/lib/wasi_snapshot_preview1.command.wasm"
JCO="$TOOLS/npm/node_modules/.bin/jco"
for need in "$WT" "$ADAPTER"; do
    if [ ! -e "$need" ]; then
        fail "not found: $need (scripts/install-tools.sh installs it)"
        finish
        exit 1
    fi
done

SRC="$ROOT/tests/components/c-wasi2/main.c"
if ! clang --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Wextra -Werror -o "$TMP/core.wasm" \
    "$SRC" 2>"$TMP/cc.log" ||
    ! "$WT" component new "$TMP/core.wasm" --adapt "wasi_snapshot_preview1=$ADAPTER" \
        -o "$TMP/c.wasm" 2>>"$TMP/cc.log"; then
    fail "build c-wasi2" "$(head -c 600 "$TMP/cc.log")"
    finish
    exit 1
fi

# A directory for the guest: a file to read and a symlink that leads out of it.
mkdata() {
    rm -rf "$1"
    mkdir -p "$1"
    echo "input line" >"$1/in.txt"
    ln -s /etc "$1/escape"
}

mkdata "$TMP/data"
out=$("$KILN" run --env KILN_TEST=yes --dir "$TMP/data::/data" "$TMP/c.wasm" /data two \
    2>"$TMP/stderr")
rc=$?
want="args: 3 two
env: yes
read: 12 hello world
in: input line
mkdir: ok
stat: dir
ls: escape in.txt out.txt sub
dotdot: denied
symlink-escape: denied
sleep: ok
wall: ok
random: ok
unlink: ok
rmdir: ok"
expect_eq "c-wasi2 output" "$want" "$out"
expect_eq "c-wasi2 stderr" "to stderr" "$(cat "$TMP/stderr")"
# main returns 3: the adapter's proc_exit(3) is wasi:cli/exit.exit(err), exit code 1.
expect_eq "c-wasi2 exit code" 1 "$rc"
expect_eq "files removed again" "escape in.txt" "$(cd "$TMP/data" && echo *)"

# The same directory read-only: reads work, every change fails, nothing changes.
mkdata "$TMP/data"
out=$("$KILN" run --env KILN_TEST=yes --dir "$TMP/data::/data:ro" "$TMP/c.wasm" /data 2>&1)
expect_contains "ro: write refused" "write: Read-only file system" "$out"
expect_contains "ro: read works" "in: input line" "$out"
expect_contains "ro: mkdir refused" "mkdir: Read-only file system" "$out"
expect_contains "ro: listing works" "ls: escape in.txt" "$out"
expect_eq "ro: nothing created" "escape in.txt" "$(cd "$TMP/data" && echo *)"

# No grant at all: no file is reachable.
out=$("$KILN" run "$TMP/c.wasm" /data 2>&1)
expect_contains "no grant: write fails" "write: " "$out"
expect_not_contains "no grant: nothing read" "read: 12" "$out"

# A directory that cannot be opened: one clear error, the guest never runs.
out=$("$KILN" run --dir "$TMP/nonexistent::/data" "$TMP/c.wasm" /data 2>&1)
rc=$?
expect_eq "missing dir: exit code" 1 "$rc"
expect_contains "missing dir: message" "wasi 0.2: cannot open directory $TMP/nonexistent: No such file" "$out"
expect_not_contains "missing dir: guest did not run" "args:" "$out"

# stdin from a pipe: a host fd read through wasi:io/streams (blocking-read / poll).
out=$( (printf 'one\n'; sleep 0.2; printf 'two\nthree\n') | "$KILN" run "$TMP/c.wasm" --stdin)
expect_eq "stdin from a pipe" "stdin: 14 bytes, 3 lines" "$out"
out=$("$KILN" run "$TMP/c.wasm" --stdin </dev/null)
expect_eq "stdin empty" "stdin: 0 bytes, 0 lines" "$out"

# Every function of every interface of the wasi:cli/command world links (their shapes match
# the host's), at 0.2.12 as jco ships it and rewritten to 0.2.0 and 0.2.3: a dummy core
# module generated from the WIT (wasm-tools component embed --dummy) imports them all; its
# run traps with unreachable once linked, instantiated and called.
WASI_WIT="$TOOLS/npm/node_modules/@bytecodealliance/jco/lib/wit/builtin/0.2.12"
for v in 0.2.12 0.2.0 0.2.3; do
    w="$TMP/wit-$v"
    mkdir -p "$w/deps"
    cp -r "$WASI_WIT"/. "$w/deps/"
    rm -f "$w/deps"/*.md
    sed -i "s/0\.2\.12/$v/g" "$w"/deps/*/package.wit
    printf 'package kiln:all;\nworld all {\n  include wasi:cli/command@%s;\n}\n' "$v" >"$w/world.wit"
    if "$WT" component embed --dummy "$w" --world all -o "$w/core.wasm" 2>"$w/log" &&
        "$WT" component new "$w/core.wasm" -o "$w/all.wasm" 2>>"$w/log"; then
        out=$("$KILN" run "$w/all.wasm" 2>&1)
        expect_contains "command world $v links" "run: unreachable executed" "$out"
        expect_not_contains "command world $v: nothing missing" "not provided" "$out"
    else
        fail "command world $v: build" "$(head -c 600 "$w/log")"
    fi
done

# A component calling WASI 0.2 directly (wit-bindgen c, no preview1 adapter in the calls):
# streams over a file with the check-write protocol, write-zeroes, skip, splice, poll,
# confinement and the denied sockets. (Not compared with jco run: its preview2 shim's
# input-stream.skip returns the bytes instead of their count.)
WB="$TOOLS/cargo/bin/wit-bindgen"
REACTOR="$TOOLS/npm/node_modules/@bytecodealliance/jco/lib/wasi_snapshot_preview1.reactor.wasm"
D="$TMP/direct"
mkdir -p "$D/wit/deps" "$D/data"
cp -r "$WASI_WIT"/. "$D/wit/deps/"
rm -f "$D/wit/deps"/*.md
cp "$ROOT/tests/components/c-wasi2-direct/world.wit" "$D/wit/"
if "$WB" c "$D/wit" --world p2direct --out-dir "$D/gen" >"$D/log" 2>&1 &&
    clang --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Wextra -Werror -Wno-unused-parameter \
        -mexec-model=reactor -I"$D/gen" -o "$D/core.wasm" \
        "$ROOT/tests/components/c-wasi2-direct/main.c" "$D/gen/p2direct.c" \
        "$D/gen/p2direct_component_type.o" >>"$D/log" 2>&1 &&
    "$WT" component new "$D/core.wasm" --adapt "wasi_snapshot_preview1=$REACTOR" \
        -o "$D/direct.wasm" >>"$D/log" 2>&1; then
    out=$("$KILN" run --dir "$D/data::/d" "$D/direct.wasm" 2>"$D/err")
    want="preopens: 1 /d
permit: ok
write: ok
read: ABC
skip: 3
splice: tail
spliced: 5
end: closed
dotdot: not-permitted
poll: 1 ready, index 1
tcp: access-denied
lookup: access-denied"
    expect_eq "direct 0.2 calls" "$want" "$out"
    expect_eq "direct: stderr has the two refusals, each naming what was refused" \
        "kiln: wasi:sockets: connect tcp://127.0.0.1:9 denied (not in allowed_outbound_hosts)
kiln: wasi:sockets: resolving localhost denied (not in allowed_outbound_hosts)" "$(cat "$D/err")"
    expect_eq "direct: the file's bytes" 'ABC\0\0\0tail\n' "$(od -An -c "$D/data/direct.txt" | tr -d ' \n')"
    out=$("$KILN" run --dir "$D/data::/d:ro" "$D/direct.wasm" 2>&1)
    expect_contains "direct: open-at create under :ro" "open-at: read-only" "$out"
else
    fail "build c-wasi2-direct" "$(head -c 600 "$D/log")"
fi

# The reference: jco run on the same component with the same directory preopened.
if [ -x "$JCO" ] && command -v node >/dev/null; then
    cat >"$TMP/preopen.mjs" <<MJS
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
const require = createRequire('$TOOLS/npm/node_modules/@bytecodealliance/jco/package.json');
const shim = await import(pathToFileURL(require.resolve('@bytecodealliance/preview2-shim/filesystem')));
shim._setPreopens({ '/data': process.env.JCO_DATA });
MJS
    mkdata "$TMP/data"
    kout=$("$KILN" run --env KILN_TEST=yes --dir "$TMP/data::/data" "$TMP/c.wasm" /data two \
        2>"$TMP/kerr")
    krc=$?
    mkdata "$TMP/data"
    jout=$(cd "$TMP" && env -i PATH="$PATH" HOME="$TMP" KILN_TEST=yes JCO_DATA="$TMP/data" \
        timeout 120 "$JCO" run --jco-import "$TMP/preopen.mjs" "$TMP/c.wasm" /data two \
        2>"$TMP/jerr")
    jrc=$?
    expect_eq "same output as jco run" "$jout" "$kout"
    expect_eq "same stderr as jco run" "$(cat "$TMP/jerr")" "$(cat "$TMP/kerr")"
    expect_eq "same exit code as jco run" "$jrc" "$krc"
else
    fail "jco not found at $JCO (scripts/install-tools.sh installs it)"
fi
finish
