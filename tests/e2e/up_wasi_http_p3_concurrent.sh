#!/usr/bin/env bash
# up_wasi_http_p3_concurrent.sh — Spin's concurrent instance reuse for wasi:http 0.3
# (--max-instance-concurrent-reuse-count M, exec/http/reuse_p3.h and share_p3.h): one
# instance serves up to M requests at once, each a call of its async handle, interleaved
# where the guest waits. The handler (WAT) counts its requests in a global and answers
# the count (x-n) after its wait: /w waits 1 s (wasi:clocks wait-for), /b reads the first
# bytes of its request body (a synchronous stream.read: its task blocks until the bytes
# come) and answers them in x-b, /t traps. One event loop (--workers 1): an instance is
# shared by the requests of one loop.
#  - 8 /w at once with M=8 all answer x-n 8: every request was counted by one instance
#    before any answered (without sharing each would count 1); and they took about one
#    wait, not eight (a generous bound: 4 s for 8 waits of 1 s, which in series take 8 s);
#  - two /b at once, their bodies streamed late, each get their own body, in one instance;
#  - a trap poisons only its instance: the request waiting in it fails too (one store, one
#    fate), those in another instance answer, and so do new requests;
#  - N still caps what one instance serves: 5 at once with N=3 take two instances.
# wasm-tools comes from scripts/install-tools.sh; without it this test fails.
source "$(dirname "$0")/../lib.sh"

TOOLS=${KILN_TOOLS:-/var/cache/kiln-tools}
WT=$TOOLS/cargo/bin/wasm-tools
if [ ! -x "$WT" ]; then
    fail "$WT not found (scripts/install-tools.sh installs it)"
    finish
    exit 1
fi

V=0.3.0-rc-2026-03-15
cat >"$TMP/h.wat" <<WAT
(component
  (import "wasi:clocks/monotonic-clock@$V" (instance \$clk
    (export "wait-for" (func async (param "how-long" u64)))))
  (import "wasi:http/types@$V" (instance \$types
    (export "fields" (type \$fields (sub resource)))
    (export "request" (type \$request (sub resource)))
    (export "response" (type \$response (sub resource)))
    (type \$ec0 (variant (case "DNS-timeout") (case "internal-error" (option string))))
    (export "error-code" (type \$ec (eq \$ec0)))
    (type \$he0 (variant (case "invalid-syntax") (case "forbidden") (case "immutable")))
    (export "header-error" (type \$he (eq \$he0)))
    (export "[constructor]fields" (func (result (own \$fields))))
    (export "[method]fields.append" (func (param "self" (borrow \$fields)) (param "name" string)
      (param "value" (list u8)) (result (result (error \$he)))))
    (export "[method]request.get-path-with-query" (func (param "self" (borrow \$request))
      (result (option string))))
    (export "[static]request.consume-body" (func (param "this" (own \$request))
      (param "res" (future (result (error \$ec))))
      (result (tuple (stream u8) (future (result (option (own \$fields)) (error \$ec)))))))
    (export "[static]response.new" (func (param "headers" (own \$fields))
      (param "contents" (option (stream u8)))
      (param "trailers" (future (result (option (own \$fields)) (error \$ec))))
      (result (tuple (own \$response) (future (result (error \$ec)))))))))
  (alias export \$types "fields" (type \$fields))
  (alias export \$types "request" (type \$request))
  (alias export \$types "response" (type \$response))
  (alias export \$types "error-code" (type \$ec))
  (type \$TF (future (result (option (own \$fields)) (error \$ec))))
  (type \$RF (future (result (error \$ec))))
  (type \$S (stream u8))
  (core module \$Mem
    (memory (export "mem") 1)
    (global \$top (mut i32) (i32.const 4096))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local \$p i32)
      (local.set \$p (global.get \$top))
      (global.set \$top (i32.add (global.get \$top) (local.get 3)))
      (local.get \$p)))
  (core instance \$mem (instantiate \$Mem))
  (core func \$wait-for (canon lower (func \$clk "wait-for") async
    (memory (core memory \$mem "mem"))))
  (core func \$fnew (canon lower (func \$types "[constructor]fields")))
  (core func \$fappend (canon lower (func \$types "[method]fields.append")
    (memory (core memory \$mem "mem"))))
  (core func \$path (canon lower (func \$types "[method]request.get-path-with-query")
    (memory (core memory \$mem "mem")) (realloc (core func \$mem "realloc"))))
  (core func \$rnew (canon lower (func \$types "[static]response.new")
    (memory (core memory \$mem "mem"))))
  (core func \$tfnew (canon future.new \$TF))
  (core func \$rfnew (canon future.new \$RF))
  (core func \$sdrop-r (canon stream.drop-readable \$S))
  (core func \$sread (canon stream.read \$S (memory (core memory \$mem "mem"))))
  (core func \$consume (canon lower (func \$types "[static]request.consume-body")
    (memory (core memory \$mem "mem"))))
  (core func \$ws.new (canon waitable-set.new))
  (core func \$wait (canon waitable-set.wait (memory (core memory \$mem "mem"))))
  (core func \$join (canon waitable.join))
  (core func \$subdrop (canon subtask.drop))
  (core func \$ret (canon task.return (result (result (own \$response) (error \$ec)))
    (memory (core memory \$mem "mem"))))
  (core module \$M
    (import "" "mem" (memory 1))
    (import "" "wait-for" (func \$wait-for (param i64) (result i32)))
    (import "" "fnew" (func \$fnew (result i32)))
    (import "" "fappend" (func \$fappend (param i32 i32 i32 i32 i32 i32)))
    (import "" "path" (func \$path (param i32 i32)))
    (import "" "rnew" (func \$rnew (param i32 i32 i32 i32 i32)))
    (import "" "tfnew" (func \$tfnew (result i64)))
    (import "" "rfnew" (func \$rfnew (result i64)))
    (import "" "consume" (func \$consume (param i32 i32 i32)))
    (import "" "sdrop-r" (func \$sdrop-r (param i32)))
    (import "" "sread" (func \$sread (param i32 i32 i32) (result i32)))
    (import "" "ws.new" (func \$ws.new (result i32)))
    (import "" "wait" (func \$wait (param i32 i32) (result i32)))
    (import "" "join" (func \$join (param i32 i32)))
    (import "" "subdrop" (func \$subdrop (param i32)))
    (import "" "ret" (func \$ret (param i32 i32 i32 i32 i32)))
    (global \$n (mut i32) (i32.const 0))
    (data (i32.const 100) "x-n")
    (data (i32.const 120) "x-b")
    (func (export "handle") (param \$req i32)
      (local \$c i32) (local \$r i32) (local \$s i32) (local \$ws i32) (local \$h i32)
      (local \$b i32) (local \$blen i32)
      (global.set \$n (i32.add (global.get \$n) (i32.const 1)))
      ;; this request's own scratch memory: tasks in flight together share the instance's
      (local.set \$b (i32.add (i32.const 8192) (i32.mul (global.get \$n) (i32.const 64))))
      (call \$path (local.get \$req) (i32.const 16))
      (if (i32.and (i32.eq (i32.load8_u (i32.const 16)) (i32.const 1))
                   (i32.ge_u (i32.load (i32.const 24)) (i32.const 2)))
        (then (local.set \$c (i32.load8_u (i32.add (i32.load (i32.const 20)) (i32.const 1))))))
      (if (i32.eq (local.get \$c) (i32.const 116)) (then unreachable)) ;; /t
      ;; /c takes the request's body stream and drops it, /k takes it and keeps it
      (if (i32.or (i32.eq (local.get \$c) (i32.const 99)) (i32.eq (local.get \$c) (i32.const 107)))
        (then (call \$consume (local.get \$req) (i32.wrap_i64 (call \$rfnew)) (i32.const 56))))
      (if (i32.eq (local.get \$c) (i32.const 99)) (then (call \$sdrop-r (i32.load (i32.const 56)))))
      (if (i32.eq (local.get \$c) (i32.const 98)) (then ;; /b: its body's first bytes in x-b
        (call \$consume (local.get \$req) (i32.wrap_i64 (call \$rfnew)) (local.get \$b))
        (local.set \$s (i32.load (local.get \$b)))
        (local.set \$r (call \$sread (local.get \$s) (i32.add (local.get \$b) (i32.const 16))
          (i32.const 16)))
        (local.set \$blen (i32.shr_u (local.get \$r) (i32.const 4)))
        (call \$sdrop-r (local.get \$s))))
      (if (i32.eq (local.get \$c) (i32.const 119)) (then ;; /w: 1 s
        (local.set \$r (call \$wait-for (i64.const 1000000000)))
        (if (i32.eq (i32.and (local.get \$r) (i32.const 15)) (i32.const 1)) (then
          (local.set \$s (i32.shr_u (local.get \$r) (i32.const 4)))
          (local.set \$ws (call \$ws.new))
          (call \$join (local.get \$s) (local.get \$ws))
          (drop (call \$wait (local.get \$ws) (i32.const 32)))
          (call \$join (local.get \$s) (i32.const 0))
          (call \$subdrop (local.get \$s))))))
      (i32.store8 (i32.const 110) (i32.add (i32.const 48) (global.get \$n)))
      (local.set \$h (call \$fnew))
      (call \$fappend (local.get \$h) (i32.const 100) (i32.const 3) (i32.const 110) (i32.const 1)
        (i32.const 40))
      (if (local.get \$blen) (then
        (call \$fappend (local.get \$h) (i32.const 120) (i32.const 3)
          (i32.add (local.get \$b) (i32.const 16)) (local.get \$blen) (i32.const 40))))
      (call \$rnew (local.get \$h) (i32.const 0) (i32.const 0)
        (i32.wrap_i64 (call \$tfnew)) (i32.const 48))
      (call \$ret (i32.const 0) (i32.load (i32.const 48)) (i32.const 0) (i32.const 0)
        (i32.const 0))))
  (core instance \$m (instantiate \$M (with "" (instance
    (export "mem" (memory \$mem "mem")) (export "wait-for" (func \$wait-for))
    (export "fnew" (func \$fnew)) (export "fappend" (func \$fappend))
    (export "path" (func \$path)) (export "rnew" (func \$rnew)) (export "tfnew" (func \$tfnew))
    (export "rfnew" (func \$rfnew)) (export "consume" (func \$consume))
    (export "sdrop-r" (func \$sdrop-r)) (export "sread" (func \$sread))
    (export "ws.new" (func \$ws.new)) (export "wait" (func \$wait)) (export "join" (func \$join))
    (export "subdrop" (func \$subdrop)) (export "ret" (func \$ret))))))
  (func \$handle async (param "request" (own \$request))
    (result (result (own \$response) (error \$ec)))
    (canon lift (core func \$m "handle") async (memory (core memory \$mem "mem"))))
  (instance \$hi (export "handle" (func \$handle)))
  (export "wasi:http/handler@$V" (instance \$hi)))
WAT
mkdir -p "$TMP/app"
check "the handler parses" "$WT" parse "$TMP/h.wat" -o "$TMP/app/handler.wasm"
cat >"$TMP/app/spin.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "p3conc"
[[trigger.http]]
route = "/..."
component = "h"
[component.h]
source = "handler.wasm"
TOML

# start ARGS...: kiln up (one event loop) on a free port with ARGS; sets URL and PID.
start() {
    port=$(free_port)
    URL="http://127.0.0.1:$port"
    "$KILN" up -f "$TMP/app" --listen "127.0.0.1:$port" --workers 1 "$@" \
        >"$TMP/out.log" 2>"$TMP/err.log" &
    PID=$!
    on_exit "kill $PID 2>/dev/null"
    for _ in $(seq 300); do curl -fs "$URL/.well-known/kiln/health" >/dev/null && return; sleep 0.1; done
}

# req NAME PATH [CURL ARGS...]: a request in the background; its status and x-n (and
# x-b) go to $TMP/NAME.
req() {
    local name=$1 path=$2
    shift 2
    (curl -s -D "$TMP/$name.h" -o /dev/null -w '%{http_code}' "$@" "$URL$path" >"$TMP/$name.code"
     printf '%s %s %s\n' "$(cat "$TMP/$name.code")" \
         "$(tr -d '\r' <"$TMP/$name.h" | sed -n 's/^x-n: //p')" \
         "$(tr -d '\r' <"$TMP/$name.h" | sed -n 's/^x-b: //p')" >"$TMP/$name") &
}

start --max-instance-reuse-count 100 --max-instance-concurrent-reuse-count 8 \
    --idle-instance-timeout 60s
t0=$(date +%s%N)
for i in 1 2 3 4 5 6 7 8; do req "w$i" /w; done
wait $(jobs -p | grep -v "^$PID\$") 2>/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "8 waiting requests at once: one instance counted all 8 before answering" \
    "$(printf '200 8 \n%.0s' 1 2 3 4 5 6 7 8)" "$(cat "$TMP"/w[1-8])"
echo "  (8 waits of 1 s on one instance took ${ms} ms)"
if [ "$ms" -lt 4000 ]; then pass "they waited together (${ms} ms < 4000)"
else fail "8 waits of 1 s took ${ms} ms: served one after the other?"; fi
expect_eq "the instance serves on: the count goes on" "200 9 " \
    "$(req next /; wait $!; cat "$TMP/next")"
kill "$PID"; wait "$PID" 2>/dev/null

start --max-instance-reuse-count 100 --max-instance-concurrent-reuse-count 8 \
    --idle-instance-timeout 60s
# bodies streamed (chunked) after both requests are in the instance, waiting for them
(sleep 0.6; printf AAAA) | curl -s -D "$TMP/a.h" -o /dev/null -T - "$URL/b" &
ba=$!
(sleep 0.9; printf BBBBBB) | curl -s -D "$TMP/b.h" -o /dev/null -T - "$URL/b" &
bb=$!
wait "$ba" "$bb"
hdr() { tr -d '\r' <"$1" | sed -n "s/^$2: //p"; }
expect_eq "the first streamed body reached its own request" "AAAA" "$(hdr "$TMP/a.h" x-b)"
expect_eq "the second streamed body reached its own request" "BBBBBB" "$(hdr "$TMP/b.h" x-b)"
expect_eq "both were in one instance at once" "2 2" "$(hdr "$TMP/a.h" x-n) $(hdr "$TMP/b.h" x-n)"
kill "$PID"; wait "$PID" 2>/dev/null

start --max-instance-reuse-count 100 --max-instance-concurrent-reuse-count 2 \
    --idle-instance-timeout 60s
req a1 /w; req a2 /w       # instance A, full (M=2)
sleep 0.3
req b1 /w                  # instance B
sleep 0.3
req bt /t                  # B too: it traps while b1 waits
wait $(jobs -p | grep -v "^$PID\$") 2>/dev/null
expect_eq "the other instance's requests answer" "200 2 |200 2 " "$(cat "$TMP/a1")|$(cat "$TMP/a2")"
expect_eq "the trap: 500" "500" "$(cut -d' ' -f1 "$TMP/bt")"
expect_eq "the request in flight in the trapped instance fails with it" "500" \
    "$(cut -d' ' -f1 "$TMP/b1")"
expect_contains "the trap is logged" "unreachable" "$(cat "$TMP/err.log")"
expect_eq "new requests are served" "200" "$(req n1 /; wait $!; cut -d' ' -f1 "$TMP/n1")"
kill "$PID"; wait "$PID" 2>/dev/null

start --max-instance-reuse-count 3 --max-instance-concurrent-reuse-count 8 \
    --idle-instance-timeout 60s
for i in 1 2 3 4 5; do req "c$i" /w; done
wait $(jobs -p | grep -v "^$PID\$") 2>/dev/null
expect_eq "N=3 caps an instance with M=8: 5 requests at once take two instances" \
    "200 2 200 2 200 3 200 3 200 3" "$(cat "$TMP"/c[1-5] | sort | tr -s ' \n' ' ' | sed 's/ $//')"
kill "$PID"; wait "$PID" 2>/dev/null

start --max-instance-reuse-count 4 --max-instance-concurrent-reuse-count 1 \
    --idle-instance-timeout 60s
for i in 1 2 3; do req "s$i" /w; done
wait $(jobs -p | grep -v "^$PID\$") 2>/dev/null
expect_eq "M=1: one request at a time per instance, as before" "200 1 200 1 200 1" \
    "$(cat "$TMP"/s[1-3] | sort | tr -s ' \n' ' ' | sed 's/ $//')"
kill "$PID"; wait "$PID" 2>/dev/null
finish
