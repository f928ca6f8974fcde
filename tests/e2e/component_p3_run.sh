#!/usr/bin/env bash
# component_p3_run.sh — `kiln run` of a WASI 0.3 (p3) command component written in WAT:
# its export wasi:cli/run@0.3.0-rc-2026-03-15 `run` is lifted async; it reads
# wasi:clocks/monotonic-clock `now`, awaits the async `wait-for` (a host call the driver
# completes when due) through a waitable set, takes 16 bytes of wasi:random
# get-random-bytes, and writes through wasi:cli/stdout write-via-stream (a stream<u8> the
# host drains to stdout), its async read of the returned future BLOCKED until it drops the
# stream, then the waitable set reporting FUTURE_READ COMPLETED with ok in memory.
# The same component under the 0.3.0 names runs too; a wait longer than --timeout is
# interrupted (exit 134). A p3 `cat` reads stdin through read-via-stream and exits
# through wasi:cli/exit. wasm-tools comes from scripts/install-tools.sh; without it this
# test fails.
source "$(dirname "$0")/../lib.sh"

TOOLS=${KILN_TOOLS:-/var/cache/kiln-tools}
WT=$TOOLS/cargo/bin/wasm-tools
if [ ! -x "$WT" ]; then
    fail "$WT not found (scripts/install-tools.sh installs it)"
    finish
    exit 1
fi

# The command component for version $1, waiting $2 nanoseconds.
p3_command() {
    cat <<WAT
(component
  (import "wasi:clocks/monotonic-clock@$1" (instance \$clk
    (export "now" (func (result u64)))
    (export "wait-for" (func async (param "how-long" u64)))))
  (import "wasi:random/random@$1" (instance \$rnd
    (export "get-random-bytes" (func (param "max-len" u64) (result (list u8))))))
  (import "wasi:cli/stdout@$1" (instance \$out
    (type \$ec0 (enum "io" "illegal-byte-sequence" "pipe"))
    (export "error-code" (type \$ec (eq \$ec0)))
    (export "write-via-stream" (func (param "data" (stream u8))
      (result (future (result (error \$ec))))))))
  (alias export \$out "error-code" (type \$ec))
  (type \$S (stream u8))
  (type \$F (future (result (error \$ec))))
  (core module \$Mem
    (memory (export "mem") 1)
    (global \$top (mut i32) (i32.const 4096))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local \$p i32)
      (local.set \$p (global.get \$top))
      (global.set \$top (i32.add (global.get \$top) (local.get 3)))
      (local.get \$p)))
  (core instance \$mem (instantiate \$Mem))
  (core func \$now (canon lower (func \$clk "now")))
  (core func \$wait-for (canon lower (func \$clk "wait-for") async
    (memory (core memory \$mem "mem"))))
  (core func \$random (canon lower (func \$rnd "get-random-bytes")
    (memory (core memory \$mem "mem")) (realloc (core func \$mem "realloc"))))
  (core func \$wvs (canon lower (func \$out "write-via-stream")))
  (core func \$snew (canon stream.new \$S))
  (core func \$swrite (canon stream.write \$S (memory (core memory \$mem "mem"))))
  (core func \$sdrop (canon stream.drop-writable \$S))
  (core func \$fread (canon future.read \$F async (memory (core memory \$mem "mem"))))
  (core func \$fdrop (canon future.drop-readable \$F))
  (core func \$ws.new (canon waitable-set.new))
  (core func \$wait (canon waitable-set.wait (memory (core memory \$mem "mem"))))
  (core func \$join (canon waitable.join))
  (core func \$subdrop (canon subtask.drop))
  (core func \$ret (canon task.return (result (result))))
  (core module \$M
    (import "" "mem" (memory 1))
    (import "" "now" (func \$now (result i64)))
    (import "" "wait-for" (func \$wait-for (param i64) (result i32)))
    (import "" "random" (func \$random (param i64 i32)))
    (import "" "wvs" (func \$wvs (param i32) (result i32)))
    (import "" "snew" (func \$snew (result i64)))
    (import "" "swrite" (func \$swrite (param i32 i32 i32) (result i32)))
    (import "" "sdrop" (func \$sdrop (param i32)))
    (import "" "fread" (func \$fread (param i32 i32) (result i32)))
    (import "" "fdrop" (func \$fdrop (param i32)))
    (import "" "ws.new" (func \$ws.new (result i32)))
    (import "" "wait" (func \$wait (param i32 i32) (result i32)))
    (import "" "join" (func \$join (param i32 i32)))
    (import "" "subdrop" (func \$subdrop (param i32)))
    (import "" "ret" (func \$ret (param i32)))
    (data (i32.const 100) "hello from p3\0a")
    (func (export "run") (local \$t0 i64) (local \$r i32) (local \$h i32) (local \$ws i32)
      (local \$s i64) (local \$w i32) (local \$f i32)
      (local.set \$t0 (call \$now))
      (local.set \$r (call \$wait-for (i64.const $2)))
      (if (i32.ne (i32.and (local.get \$r) (i32.const 15)) (i32.const 1)) (then unreachable))
      (local.set \$h (i32.shr_u (local.get \$r) (i32.const 4)))
      (local.set \$ws (call \$ws.new))
      (call \$join (local.get \$h) (local.get \$ws))
      (if (i32.ne (call \$wait (local.get \$ws) (i32.const 16)) (i32.const 1)) (then unreachable))
      (if (i32.ne (i32.load (i32.const 20)) (i32.const 2)) (then unreachable))
      (call \$join (local.get \$h) (i32.const 0))
      (call \$subdrop (local.get \$h))
      (if (i64.lt_u (i64.sub (call \$now) (local.get \$t0)) (i64.const $2)) (then unreachable))
      (call \$random (i64.const 16) (i32.const 32))
      (if (i32.ne (i32.load (i32.const 36)) (i32.const 16)) (then unreachable))
      (local.set \$s (call \$snew))
      (local.set \$w (i32.wrap_i64 (i64.shr_u (local.get \$s) (i64.const 32))))
      (local.set \$f (call \$wvs (i32.wrap_i64 (local.get \$s))))
      (if (i32.ne (call \$swrite (local.get \$w) (i32.const 100) (i32.const 14)) (i32.const 0xe0))
        (then unreachable))
      (i32.store8 (i32.const 48) (i32.const 9))
      (if (i32.ne (call \$fread (local.get \$f) (i32.const 48)) (i32.const -1)) (then unreachable))
      (call \$sdrop (local.get \$w))
      (call \$join (local.get \$f) (local.get \$ws))
      (if (i32.ne (call \$wait (local.get \$ws) (i32.const 16)) (i32.const 4)) (then unreachable))
      (if (i32.ne (i32.load (i32.const 20)) (i32.const 0)) (then unreachable))
      (if (i32.ne (i32.load8_u (i32.const 48)) (i32.const 0)) (then unreachable))
      (call \$join (local.get \$f) (i32.const 0))
      (call \$fdrop (local.get \$f))
      (call \$ret (i32.const 0))))
  (core instance \$m (instantiate \$M (with "" (instance
    (export "mem" (memory \$mem "mem")) (export "now" (func \$now))
    (export "wait-for" (func \$wait-for)) (export "random" (func \$random))
    (export "wvs" (func \$wvs)) (export "snew" (func \$snew)) (export "swrite" (func \$swrite))
    (export "sdrop" (func \$sdrop)) (export "fread" (func \$fread)) (export "fdrop" (func \$fdrop))
    (export "ws.new" (func \$ws.new)) (export "wait" (func \$wait)) (export "join" (func \$join))
    (export "subdrop" (func \$subdrop)) (export "ret" (func \$ret))))))
  (func \$run async (result (result)) (canon lift (core func \$m "run") async))
  (instance \$runi (export "run" (func \$run)))
  (export "wasi:cli/run@$1" (instance \$runi)))
WAT
}

p3_command 0.3.0-rc-2026-03-15 20000000 >"$TMP/rc.wat"
check "the rc command component parses" "$WT" parse "$TMP/rc.wat" -o "$TMP/rc.wasm"
out=$("$KILN" run "$TMP/rc.wasm" 2>"$TMP/rc.err")
expect_eq "a p3 command (rc names) exits 0" 0 $?
expect_eq "it writes through write-via-stream" "hello from p3" "$out"
expect_eq "nothing on stderr" "" "$(cat "$TMP/rc.err")"

p3_command 0.3.0 1000000 >"$TMP/rel.wat"
check "the 0.3.0 command component parses" "$WT" parse "$TMP/rel.wat" -o "$TMP/rel.wasm"
out=$("$KILN" run "$TMP/rel.wasm" 2>&1)
expect_eq "a p3 command (0.3.0 names) exits 0" 0 $?
expect_eq "its output" "hello from p3" "$out"

p3_command 0.3.0 60000000000 >"$TMP/long.wat"
check "the long-waiting component parses" "$WT" parse "$TMP/long.wat" -o "$TMP/long.wasm"
out=$("$KILN" run --timeout 300ms "$TMP/long.wasm" 2>&1 >/dev/null)
expect_eq "a wait-for past --timeout is stopped (exit 134)" 134 $?
expect_contains "the time limit is reported" "time limit" "$out"

# An async task that loops in guest code is stopped by --timeout too (each guest thread's
# core call gets what is left of the call's time limit).
cat >"$TMP/loop.wat" <<'WAT'
(component
  (core module $M (func (export "run") (loop $l (br $l))))
  (core instance $m (instantiate $M))
  (func $run async (result (result)) (canon lift (core func $m "run") async))
  (instance $runi (export "run" (func $run)))
  (export "wasi:cli/run@0.3.0" (instance $runi)))
WAT
check "the looping command component parses" "$WT" parse "$TMP/loop.wat" -o "$TMP/loop.wasm"
out=$(timeout 60 "$KILN" run --timeout 300ms "$TMP/loop.wasm" 2>&1 >/dev/null)
expect_eq "a looping async task past --timeout is stopped (exit 134)" 134 $?
expect_contains "the loop's time limit is reported" "time limit" "$out"

# A p3 `cat`: wasi:cli/stdin read-via-stream (a stream whose writer the host keeps, fed
# from stdin) copied to write-via-stream until DROPPED, then wasi:cli/exit exit(err).
cat >"$TMP/cat.wat" <<'WAT'
(component
  (import "wasi:cli/stdin@0.3.0-rc-2026-03-15" (instance $in
    (type $ec0 (enum "io" "illegal-byte-sequence" "pipe"))
    (export "error-code" (type $ec (eq $ec0)))
    (export "read-via-stream" (func (result (tuple (stream u8) (future (result (error $ec)))))))))
  (import "wasi:cli/stdout@0.3.0-rc-2026-03-15" (instance $out
    (type $ec0 (enum "io" "illegal-byte-sequence" "pipe"))
    (export "error-code" (type $ec (eq $ec0)))
    (export "write-via-stream" (func (param "data" (stream u8))
      (result (future (result (error $ec))))))))
  (import "wasi:cli/exit@0.3.0-rc-2026-03-15" (instance $ex
    (export "exit" (func (param "status" (result))))))
  (type $S (stream u8))
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (core func $rvs (canon lower (func $in "read-via-stream") (memory (core memory $mem "mem"))))
  (core func $wvs (canon lower (func $out "write-via-stream")))
  (core func $exit (canon lower (func $ex "exit")))
  (core func $snew (canon stream.new $S))
  (core func $sread (canon stream.read $S (memory (core memory $mem "mem"))))
  (core func $swrite (canon stream.write $S (memory (core memory $mem "mem"))))
  (core func $sdrop-w (canon stream.drop-writable $S))
  (core func $sdrop-r (canon stream.drop-readable $S))
  (core module $M
    (import "" "mem" (memory 1))
    (import "" "rvs" (func $rvs (param i32)))
    (import "" "wvs" (func $wvs (param i32) (result i32)))
    (import "" "exit" (func $exit (param i32)))
    (import "" "snew" (func $snew (result i64)))
    (import "" "sread" (func $sread (param i32 i32 i32) (result i32)))
    (import "" "swrite" (func $swrite (param i32 i32 i32) (result i32)))
    (import "" "sdrop-w" (func $sdrop-w (param i32)))
    (import "" "sdrop-r" (func $sdrop-r (param i32)))
    (func (export "run") (local $r i32) (local $s i64) (local $w i32) (local $v i32)
      (call $rvs (i32.const 64))
      (local.set $r (i32.load (i32.const 64)))
      (local.set $s (call $snew))
      (local.set $w (i32.wrap_i64 (i64.shr_u (local.get $s) (i64.const 32))))
      (drop (call $wvs (i32.wrap_i64 (local.get $s))))
      (block $done (loop $more
        (local.set $v (call $sread (local.get $r) (i32.const 1024) (i32.const 5)))
        (if (i32.shr_u (local.get $v) (i32.const 4)) (then
          (if (i32.ne (call $swrite (local.get $w) (i32.const 1024)
                (i32.shr_u (local.get $v) (i32.const 4)))
                (i32.and (local.get $v) (i32.const -16)))
            (then unreachable))))
        (br_if $done (i32.eq (i32.and (local.get $v) (i32.const 15)) (i32.const 1)))
        (br $more)))
      (call $sdrop-r (local.get $r))
      (call $sdrop-w (local.get $w))
      (call $exit (i32.const 1))))
  (core instance $m (instantiate $M (with "" (instance
    (export "mem" (memory $mem "mem")) (export "rvs" (func $rvs)) (export "wvs" (func $wvs))
    (export "exit" (func $exit)) (export "snew" (func $snew)) (export "sread" (func $sread))
    (export "swrite" (func $swrite)) (export "sdrop-w" (func $sdrop-w))
    (export "sdrop-r" (func $sdrop-r))))))
  (func $run async (result (result)) (canon lift (core func $m "run") async))
  (instance $runi (export "run" (func $run)))
  (export "wasi:cli/run@0.3.0-rc-2026-03-15" (instance $runi)))
WAT
check "the p3 cat component parses" "$WT" parse "$TMP/cat.wat" -o "$TMP/cat.wasm"
out=$(printf 'hello stdin\nline two\n' | "$KILN" run "$TMP/cat.wasm" 2>"$TMP/cat.err")
expect_eq "wasi:cli/exit exit(err) exits 1" 1 $?
expect_eq "stdin came through in 5-byte reads" "$(printf 'hello stdin\nline two')" "$out"
expect_eq "nothing on stderr from cat" "" "$(cat "$TMP/cat.err")"

finish
