#!/usr/bin/env bash
# up_wasi_http_p3_hostile.sh — kiln up serving a hostile wasi:http 0.3 (p3) handler, written
# in WAT, one misuse per path (the path's second byte); each must end in the right status,
# a log line naming the component and the trap, and the next request served:
#   /w  stream.write after stream.drop-writable           500, "unknown handle index"
#   /r  stream.read again after a read reported DROPPED   500, "after being notified"
#   /d  task.return twice                                 500, "already returned"
#   /f  stream.write on a forged handle                   500, "unknown handle index 4242"
#   /j  waitable.join of a forged waitable                500, "unknown handle index 4243"
#   /g  stream.write on the request's (resource) handle    500, "wrong type"
#   /e  waitable-set.wait on an empty set                 500, "deadlock"
#   /o  waits for a future whose writer it holds itself   500, "deadlock"
#   /y  thread.yield forever, never returning              504 past request_timeout
#   /k  stream.new in a loop, kept; /u future.new, kept: 500 at the store's limit of
#       objects alive ("too many streams, futures"), long before the request's time
#       limit, the host's memory bounded
#   /n  stream.new with both ends dropped, forever: the ends are freed and their slots
#       reused, so no limit is reached: 504 past request_timeout, the memory flat
#   /p  answers, then waits to write its trailers future, which the host does not read:
#       the task is still parked when the response ends and the instance is freed (that
#       freeing resumed the guest's fiber from the request's and aborted kiln)  200
# and two handlers lifted with a callback: one returns WAIT on an empty waitable set
# (500, "deadlock"), one YIELDs forever (504).
# wasm-tools comes from scripts/install-tools.sh; without it this test fails.
source "$(dirname "$0")/../lib.sh"

TOOLS=${KILN_TOOLS:-/var/cache/kiln-tools}
WT=$TOOLS/cargo/bin/wasm-tools
if [ ! -x "$WT" ]; then
    fail "$WT not found (scripts/install-tools.sh installs it)"
    finish
    exit 1
fi

mkdir -p "$TMP/app"
cat >"$TMP/hostile.wat" <<'WAT'
(component
  (import "wasi:http/types@0.3.0" (instance $types
    (export "fields" (type $fields (sub resource)))
    (export "request" (type $request (sub resource)))
    (export "response" (type $response (sub resource)))
    (type $ec0 (variant (case "DNS-timeout") (case "internal-error" (option string))))
    (export "error-code" (type $ec (eq $ec0)))
    (export "[constructor]fields" (func (result (own $fields))))
    (export "[method]request.get-path-with-query" (func (param "self" (borrow $request))
      (result (option string))))
    (export "[static]response.new" (func (param "headers" (own $fields))
      (param "contents" (option (stream u8)))
      (param "trailers" (future (result (option (own $fields)) (error $ec))))
      (result (tuple (own $response) (future (result (error $ec)))))))))
  (alias export $types "fields" (type $fields))
  (alias export $types "request" (type $request))
  (alias export $types "response" (type $response))
  (alias export $types "error-code" (type $ec))
  (type $S (stream u8))
  (type $TF (future (result (option (own $fields)) (error $ec))))
  (type $FU (future u32))
  (core module $Mem
    (memory (export "mem") 1)
    (global $top (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (global.get $top))
      (global.set $top (i32.add (global.get $top) (local.get 3)))
      (local.get $p)))
  (core instance $mem (instantiate $Mem))
  (core func $fnew (canon lower (func $types "[constructor]fields")))
  (core func $path (canon lower (func $types "[method]request.get-path-with-query")
    (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (core func $rnew (canon lower (func $types "[static]response.new")
    (memory (core memory $mem "mem"))))
  (core func $snew (canon stream.new $S))
  (core func $sread (canon stream.read $S (memory (core memory $mem "mem"))))
  (core func $swrite (canon stream.write $S (memory (core memory $mem "mem"))))
  (core func $sdrop-w (canon stream.drop-writable $S))
  (core func $sdrop-r (canon stream.drop-readable $S))
  (core func $tfnew (canon future.new $TF))
  (core func $funew (canon future.new $FU))
  (core func $tfwrite (canon future.write $TF async (memory (core memory $mem "mem"))))
  (core func $furead (canon future.read $FU async (memory (core memory $mem "mem"))))
  (core func $ws.new (canon waitable-set.new))
  (core func $wait (canon waitable-set.wait (memory (core memory $mem "mem"))))
  (core func $join (canon waitable.join))
  (core func $yield (canon thread.yield))
  (core func $ret (canon task.return (result (result (own $response) (error $ec))) (memory (core memory $mem "mem"))))
  (core module $M
    (import "" "mem" (memory 1))
    (import "" "fnew" (func $fnew (result i32)))
    (import "" "path" (func $path (param i32 i32)))
    (import "" "rnew" (func $rnew (param i32 i32 i32 i32 i32)))
    (import "" "snew" (func $snew (result i64)))
    (import "" "sread" (func $sread (param i32 i32 i32) (result i32)))
    (import "" "swrite" (func $swrite (param i32 i32 i32) (result i32)))
    (import "" "sdrop-w" (func $sdrop-w (param i32)))
    (import "" "sdrop-r" (func $sdrop-r (param i32)))
    (import "" "tfnew" (func $tfnew (result i64)))
    (import "" "funew" (func $funew (result i64)))
    (import "" "tfwrite" (func $tfwrite (param i32 i32) (result i32)))
    (import "" "furead" (func $furead (param i32 i32) (result i32)))
    (import "" "ws.new" (func $ws.new (result i32)))
    (import "" "wait" (func $wait (param i32 i32) (result i32)))
    (import "" "join" (func $join (param i32 i32)))
    (import "" "yield" (func $yield (result i32)))
    (import "" "ret" (func $ret (param i32 i32 i32 i32 i32)))
    (data (i32.const 120) "ok\0a")
    ;; returns 200 with body "ok" (the stream written at once, then dropped)
    (func $answer (local $s i64) (local $w i32) (local $resp i32)
      (local.set $s (call $snew))
      (local.set $w (i32.wrap_i64 (i64.shr_u (local.get $s) (i64.const 32))))
      (call $rnew (call $fnew) (i32.const 1) (i32.wrap_i64 (local.get $s))
        (i32.wrap_i64 (call $tfnew)) (i32.const 48))
      (local.set $resp (i32.load (i32.const 48)))
      (call $ret (i32.const 0) (local.get $resp) (i32.const 0) (i32.const 0) (i32.const 0))
      (drop (call $swrite (local.get $w) (i32.const 120) (i32.const 3)))
      (call $sdrop-w (local.get $w)))
    (func (export "handle") (param $req i32) (local $c i32) (local $s i64) (local $w i32)
      (local $r i32) (local $f i64) (local $ws i32)
      (call $path (local.get $req) (i32.const 16))
      (if (i32.and (i32.eq (i32.load8_u (i32.const 16)) (i32.const 1))
                   (i32.ge_u (i32.load (i32.const 24)) (i32.const 2)))
        (then (local.set $c (i32.load8_u (i32.add (i32.load (i32.const 20)) (i32.const 1))))))
      (local.set $s (call $snew))
      (local.set $r (i32.wrap_i64 (local.get $s)))
      (local.set $w (i32.wrap_i64 (i64.shr_u (local.get $s) (i64.const 32))))
      ;; /w: stream.write after stream.drop-writable
      (if (i32.eq (local.get $c) (i32.const 119)) (then
        (call $sdrop-w (local.get $w))
        (drop (call $swrite (local.get $w) (i32.const 120) (i32.const 3)))))
      ;; /r: stream.read again after the read that reported DROPPED
      (if (i32.eq (local.get $c) (i32.const 114)) (then
        (call $sdrop-w (local.get $w))
        (if (i32.ne (call $sread (local.get $r) (i32.const 200) (i32.const 4)) (i32.const 1))
          (then unreachable))
        (drop (call $sread (local.get $r) (i32.const 200) (i32.const 4)))))
      ;; /d: task.return twice
      (if (i32.eq (local.get $c) (i32.const 100)) (then
        (call $answer)
        (call $ret (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))))
      ;; /p: answers, then waits to write its trailers future (unread by the host): the
      ;; task is still parked when the response ends and the instance goes
      (if (i32.eq (local.get $c) (i32.const 112)) (then
        (call $sdrop-r (local.get $r))
        (call $sdrop-w (local.get $w))
        (local.set $s (call $snew))
        (local.set $w (i32.wrap_i64 (i64.shr_u (local.get $s) (i64.const 32))))
        (local.set $f (call $tfnew))
        (call $rnew (call $fnew) (i32.const 1) (i32.wrap_i64 (local.get $s))
          (i32.wrap_i64 (local.get $f)) (i32.const 48))
        (call $ret (i32.const 0) (i32.load (i32.const 48)) (i32.const 0) (i32.const 0) (i32.const 0))
        (drop (call $swrite (local.get $w) (i32.const 120) (i32.const 3)))
        (call $sdrop-w (local.get $w))
        (i64.store (i32.const 64) (i64.const 0))
        (i64.store (i32.const 72) (i64.const 0))
        (local.set $r (call $tfwrite (i32.wrap_i64 (i64.shr_u (local.get $f) (i64.const 32)))
          (i32.const 64)))
        (if (i32.ne (local.get $r) (i32.const -1)) (then (return)))
        (local.set $ws (call $ws.new))
        (call $join (i32.wrap_i64 (i64.shr_u (local.get $f) (i64.const 32))) (local.get $ws))
        (drop (call $wait (local.get $ws) (i32.const 200)))
        (return)))
      ;; /f: stream.write on a forged handle
      (if (i32.eq (local.get $c) (i32.const 102)) (then
        (drop (call $swrite (i32.const 4242) (i32.const 120) (i32.const 3)))))
      ;; /j: waitable.join of a forged waitable
      (if (i32.eq (local.get $c) (i32.const 106)) (then
        (call $join (i32.const 4243) (call $ws.new))))
      ;; /g: stream.write on the request's handle (a resource, not a stream end)
      (if (i32.eq (local.get $c) (i32.const 103)) (then
        (drop (call $swrite (local.get $req) (i32.const 120) (i32.const 3)))))
      ;; /y: yields forever, never returning
      (if (i32.eq (local.get $c) (i32.const 121)) (then
        (loop $l (drop (call $yield)) (br $l))))
      ;; /e: waitable-set.wait on an empty set
      (if (i32.eq (local.get $c) (i32.const 101)) (then
        (drop (call $wait (call $ws.new) (i32.const 200)))))
      ;; /o: waits for a future whose writer it holds itself (a deadlock)
      (if (i32.eq (local.get $c) (i32.const 111)) (then
        (local.set $f (call $funew))
        (if (i32.ne (call $furead (i32.wrap_i64 (local.get $f)) (i32.const 200)) (i32.const -1))
          (then unreachable))
        (local.set $ws (call $ws.new))
        (call $join (i32.wrap_i64 (local.get $f)) (local.get $ws))
        (drop (call $wait (local.get $ws) (i32.const 200)))))
      ;; /n: stream.new (both ends dropped) in a loop, forever
      (if (i32.eq (local.get $c) (i32.const 110)) (then
        (loop $l
          (local.set $s (call $snew))
          (call $sdrop-r (i32.wrap_i64 (local.get $s)))
          (call $sdrop-w (i32.wrap_i64 (i64.shr_u (local.get $s) (i64.const 32))))
          (br $l))))
      ;; /k: stream.new kept (never dropped) in a loop, forever
      (if (i32.eq (local.get $c) (i32.const 107)) (then
        (loop $l (drop (call $snew)) (br $l))))
      ;; /u: future.new kept in a loop, forever
      (if (i32.eq (local.get $c) (i32.const 117)) (then
        (loop $l (drop (call $tfnew)) (br $l))))
      (call $sdrop-r (local.get $r))
      (call $sdrop-w (local.get $w))
      (call $answer)))
  (core instance $m (instantiate $M (with "" (instance
    (export "mem" (memory $mem "mem")) (export "fnew" (func $fnew)) (export "path" (func $path))
    (export "rnew" (func $rnew)) (export "snew" (func $snew)) (export "sread" (func $sread))
    (export "swrite" (func $swrite)) (export "sdrop-w" (func $sdrop-w))
    (export "sdrop-r" (func $sdrop-r)) (export "tfnew" (func $tfnew))
    (export "funew" (func $funew)) (export "tfwrite" (func $tfwrite)) (export "furead" (func $furead)) (export "ws.new" (func $ws.new)) (export "wait" (func $wait))
    (export "join" (func $join)) (export "yield" (func $yield)) (export "ret" (func $ret))))))
  (func $handle async (param "request" (own $request))
    (result (result (own $response) (error $ec)))
    (canon lift (core func $m "handle") async (memory (core memory $mem "mem"))))
  (instance $hi (export "handle" (func $handle)))
  (export "wasi:http/handler@0.3.0" (instance $hi)))
WAT
check "the hostile handler parses" "$WT" parse "$TMP/hostile.wat" -o "$TMP/app/handler.wasm"
cat >"$TMP/app/spin.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "hostile"
[[trigger.http]]
route = "/..."
component = "hostile"
[component.hostile]
source = "handler.wasm"
[component.hostile.tool.kiln]
request_timeout = "2s"
TOML

port=$(free_port)
URL="http://127.0.0.1:$port"
"$KILN" up -f "$TMP/app" --listen "127.0.0.1:$port" >"$TMP/out.log" 2>"$TMP/err.log" &
PID=$!
on_exit "kill $PID 2>/dev/null"
for _ in $(seq 300); do curl -fs "$URL/.well-known/kiln/health" >/dev/null && break; sleep 0.1; done
out=$(curl -s "$URL/")
expect_eq "the handler answers when not misused" "ok" "$out"

# hostile PATH STATUS LOG WHAT: the request's status, the log line it adds, then a plain
# request served.
hostile() {
    local before code
    before=$(wc -l <"$TMP/err.log")
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$URL$1")
    expect_eq "$4: $2" "$2" "$code"
    if [ -n "$3" ]; then
        expect_contains "$4: logged with the component and the trap" "component 'hostile' " \
            "$(tail -n +$((before + 1)) "$TMP/err.log" | grep -F "$3")"
    fi
    expect_eq "$4: the next request is served" "ok" "$(curl -s --max-time 20 "$URL/")"
}
hostile /w 500 "stream.write: unknown handle index" "write after drop-writable"
hostile /r 500 "cannot read from stream after being notified" "read after DROPPED"
hostile /d 500 "task.return: the task has already returned" "task.return twice"
hostile /f 500 "stream.write: unknown handle index 4242" "a forged stream handle"
hostile /j 500 "waitable.join: unknown handle index 4243" "a forged waitable"
hostile /g 500 "stream.write: handle index 1 used with the wrong type" "a resource handle as a stream"
hostile /e 500 "deadlock" "waitable-set.wait on an empty set"
hostile /o 500 "deadlock" "waiting on its own future"
hostile /y 504 "ran past its request timeout" "a task yielding forever"
hostile /k 500 "stream.new: too many streams, futures" "stream.new in a loop"
hostile /u 500 "future.new: too many streams, futures" "future.new in a loop"
hostile /n 504 "ran past its request timeout" "stream.new and drops in a loop"
hostile /p 200 "" "a task parked past its response"
# the object limit bounds the host's memory: well under the 2 GiB a loop would reach
rss=$(ps -o rss= -p "$PID" | tr -d ' ')
expect_eq "kiln's resident memory stays under 512 MiB" 1 "$((rss < 524288))"
kill -0 "$PID" 2>/dev/null
expect_eq "kiln is still running" 0 $?

kill "$PID" 2>/dev/null
wait "$PID" 2>/dev/null

# Handlers lifted with a callback: `handle` returns WAIT on a new, empty waitable set
# (nothing can wake it: a deadlock, 500), or YIELD, and the callback YIELD, forever (504).
cb_handler() { # cb_handler COMMENT BODY
    sed -e "s|@CODE@|$1|" -e "s|@BODY@|$2|" <<'WAT'
(component
  (import "wasi:http/types@0.3.0" (instance $types
    (export "request" (type $request (sub resource)))
    (export "response" (type $response (sub resource)))
    (type $ec0 (variant (case "DNS-timeout") (case "internal-error" (option string))))
    (export "error-code" (type $ec (eq $ec0)))))
  (alias export $types "request" (type $request))
  (alias export $types "response" (type $response))
  (alias export $types "error-code" (type $ec))
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (core func $ws.new (canon waitable-set.new))
  (core module $M
    (import "" "ws.new" (func $ws.new (result i32)))
    ;; handle: @CODE@
    (func (export "handle") (param i32) (result i32) @BODY@)
    ;; the callback, if ever called: YIELD (1) forever
    (func (export "cb") (param i32 i32 i32) (result i32) (i32.const 1)))
  (core instance $m (instantiate $M (with "" (instance (export "ws.new" (func $ws.new))))))
  (func $handle async (param "request" (own $request))
    (result (result (own $response) (error $ec)))
    (canon lift (core func $m "handle") async (memory (core memory $mem "mem"))
      (callback (core func $m "cb"))))
  (instance $hi (export "handle" (func $handle)))
  (export "wasi:http/handler@0.3.0" (instance $hi)))
WAT
}
mkdir -p "$TMP/cb"
sed 's/handler.wasm/wait.wasm/; s/hostile/wait/g' "$TMP/app/spin.toml" >"$TMP/cb/spin.toml"
cat >>"$TMP/cb/spin.toml" <<'TOML'
[[trigger.http]]
route = "/yield/..."
component = "yield"
[component.yield]
source = "yield.wasm"
[component.yield.tool.kiln]
request_timeout = "1s"
TOML
cb_handler "WAIT on an empty set" \
    '(i32.or (i32.const 2) (i32.shl (call $ws.new) (i32.const 4)))' >"$TMP/wait.wat"
cb_handler "YIELD" '(i32.const 1)' >"$TMP/yield.wat"
check "the waiting callback handler parses" "$WT" parse "$TMP/wait.wat" -o "$TMP/cb/wait.wasm"
check "the yielding callback handler parses" "$WT" parse "$TMP/yield.wat" -o "$TMP/cb/yield.wasm"
port=$(free_port)
URL="http://127.0.0.1:$port"
"$KILN" up -f "$TMP/cb" --listen "127.0.0.1:$port" >"$TMP/out.log" 2>"$TMP/err.log" &
PID=$!
on_exit "kill $PID 2>/dev/null"
for _ in $(seq 300); do curl -fs "$URL/.well-known/kiln/health" >/dev/null && break; sleep 0.1; done
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$URL/a")
expect_eq "callback WAIT on an empty set: 500" 500 "$code"
expect_contains "callback WAIT on an empty set: the deadlock is logged" \
    "component 'wait' trapped: wait.wasm: (lifted function): deadlock" "$(cat "$TMP/err.log")"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$URL/yield/")
expect_eq "callback YIELD forever: 504" 504 "$code"
expect_contains "callback YIELD forever: the timeout is logged" \
    "component 'yield' stopped: ran past its request timeout" "$(cat "$TMP/err.log")"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$URL/b")
expect_eq "callback handlers: the server serves on (the deadlock again: 500)" 500 "$code"

finish
