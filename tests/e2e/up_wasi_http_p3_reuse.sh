#!/usr/bin/env bash
# up_wasi_http_p3_reuse.sh — Spin's instance reuse for wasi:http 0.3 components
# (exec/http/reuse_p3.h). A handler written in WAT counts its requests in a global and
# answers the count in a header (x-n). Without options every request gets a fresh
# instance (copied from the component's image): the count is always 1. With
# --max-instance-reuse-count 3 an instance serves three requests, then a fresh one takes
# over: 1 2 3 1 2 3. A trap (/t) retires its instance (500), and the next request starts
# again at 1; an instance idle past --idle-instance-timeout is dropped. /c takes the
# request's body (consume-body) and drops its stream, on each request of an instance; /k
# keeps the stream, which retires the instance (it would read the next request's body).
# /w waits 400 ms (wasi:clocks wait-for, lowered async, then a waitable-set
# wait): four at once all answer (they share instances: M defaults to 16, and N = 3 caps
# each; up_wasi_http_p3_concurrent.sh tests the sharing itself).
# --max-instance-concurrent-reuse-count takes a count and refuses anything else. The
# options are Spin's (`spin up`); the help text says they apply to 0.3 components.
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
    (import "" "ws.new" (func \$ws.new (result i32)))
    (import "" "wait" (func \$wait (param i32 i32) (result i32)))
    (import "" "join" (func \$join (param i32 i32)))
    (import "" "subdrop" (func \$subdrop (param i32)))
    (import "" "ret" (func \$ret (param i32 i32 i32 i32 i32)))
    (global \$n (mut i32) (i32.const 0))
    (data (i32.const 100) "x-n")
    (func (export "handle") (param \$req i32)
      (local \$c i32) (local \$r i32) (local \$s i32) (local \$ws i32) (local \$h i32)
      (global.set \$n (i32.add (global.get \$n) (i32.const 1)))
      (call \$path (local.get \$req) (i32.const 16))
      (if (i32.and (i32.eq (i32.load8_u (i32.const 16)) (i32.const 1))
                   (i32.ge_u (i32.load (i32.const 24)) (i32.const 2)))
        (then (local.set \$c (i32.load8_u (i32.add (i32.load (i32.const 20)) (i32.const 1))))))
      (if (i32.eq (local.get \$c) (i32.const 116)) (then unreachable)) ;; /t
      ;; /c takes the request's body stream and drops it, /k takes it and keeps it
      (if (i32.or (i32.eq (local.get \$c) (i32.const 99)) (i32.eq (local.get \$c) (i32.const 107)))
        (then (call \$consume (local.get \$req) (i32.wrap_i64 (call \$rfnew)) (i32.const 56))))
      (if (i32.eq (local.get \$c) (i32.const 99)) (then (call \$sdrop-r (i32.load (i32.const 56)))))
      (if (i32.eq (local.get \$c) (i32.const 119)) (then ;; /w: 400 ms
        (local.set \$r (call \$wait-for (i64.const 400000000)))
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
      (call \$rnew (local.get \$h) (i32.const 0) (i32.const 0)
        (i32.wrap_i64 (call \$tfnew)) (i32.const 48))
      (call \$ret (i32.const 0) (i32.load (i32.const 48)) (i32.const 0) (i32.const 0)
        (i32.const 0))))
  (core instance \$m (instantiate \$M (with "" (instance
    (export "mem" (memory \$mem "mem")) (export "wait-for" (func \$wait-for))
    (export "fnew" (func \$fnew)) (export "fappend" (func \$fappend))
    (export "path" (func \$path)) (export "rnew" (func \$rnew)) (export "tfnew" (func \$tfnew))
    (export "rfnew" (func \$rfnew)) (export "consume" (func \$consume))
    (export "sdrop-r" (func \$sdrop-r))
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
name = "p3reuse"
[[trigger.http]]
route = "/..."
component = "h"
[component.h]
source = "handler.wasm"
TOML

# start ARGS...: kiln up on a free port with ARGS; sets URL and PID (waits for health).
start() {
    port=$(free_port)
    URL="http://127.0.0.1:$port"
    "$KILN" up -f "$TMP/app" --listen "127.0.0.1:$port" "$@" >"$TMP/out.log" 2>"$TMP/err.log" &
    PID=$!
    on_exit "kill $PID 2>/dev/null"
    for _ in $(seq 300); do curl -fs "$URL/.well-known/kiln/health" >/dev/null && return; sleep 0.1; done
}

# counts N PATH: the x-n header of N requests in a row, space-separated.
counts() {
    local out="" i
    for i in $(seq "$1"); do
        out="$out $(curl -s -D - -o /dev/null -d x "$URL$2" | tr -d '\r' | sed -n 's/^x-n: //p')"
    done
    echo "${out# }"
}

start
expect_eq "default: a fresh instance per request" "1 1 1 1" "$(counts 4 /)"
expect_not_contains "the p3 component has an image" "no image" "$(cat "$TMP/err.log")"
kill "$PID"; wait "$PID" 2>/dev/null

start --max-instance-reuse-count 3 --idle-instance-timeout 60s
expect_eq "reuse 3: the count grows to 3, then a fresh instance" "1 2 3 1 2 3 1" "$(counts 7 /)"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/t")
expect_eq "a trap: 500" 500 "$code"
expect_eq "the trap retired the instance: the next starts at 1" "1 2" "$(counts 2 /)"
expect_contains "the trap is logged" "unreachable" "$(cat "$TMP/err.log")"
# each request of a reused instance may take its own body (the context is rebound)
expect_eq "a reused instance takes each request's body" "3 1 2" "$(counts 3 /c)"
# a guest keeping the body's stream past its response would read the next request's body
# through it: its instance is retired
expect_eq "an instance that kept a body stream is not reused" "3 1 1" "$(counts 3 /k)"
# four waiting requests at once: each answers, and they wait together
t0=$(date +%s%N)
for i in 1 2 3 4; do
    curl -s -o /dev/null -w '%{http_code}\n' "$URL/w" >"$TMP/w$i.txt" &
done
wait_pids=$(jobs -p)
for p in $wait_pids; do [ "$p" != "$PID" ] && wait "$p" 2>/dev/null; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "four waiting requests at once: all 200" "200 200 200 200" \
    "$(cat "$TMP"/w[1-4].txt | tr '\n' ' ' | sed 's/ $//')"
echo "  (four 400 ms waits at once took ${ms} ms; timing is bench/run.sh's business)"
expect_eq "the server serves on" "200" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/")"
kill "$PID"; wait "$PID" 2>/dev/null

start --max-instance-reuse-count=2 --max-instance-concurrent-reuse-count 4 --idle-instance-timeout=60
expect_eq "--name=N form, reuse 2" "1 2 1 2" "$(counts 4 /)"
kill "$PID"; wait "$PID" 2>/dev/null

start --max-instance-reuse-count 9 --idle-instance-timeout 2000ms
expect_eq "reuse 9: the count grows" "1 2 3" "$(counts 3 /)"
sleep 2.5
expect_eq "idle past --idle-instance-timeout: a fresh instance" "1 2" "$(counts 2 /)"
kill "$PID"; wait "$PID" 2>/dev/null

out=$("$KILN" up -f "$TMP/app" --idle-instance-timeout 3h 2>&1)
expect_contains "a duration Spin does not take is refused" "needs a duration" "$out"

out=$("$KILN" up -f "$TMP/app" --max-instance-reuse-count 1..8 2>&1)
expect_contains "a range is refused with a reason" "needs a count" "$out"
out=$("$KILN" up --help 2>&1)
expect_contains "the help names the option" "--max-instance-reuse-count" "$out"
expect_contains "the help says it is for wasi:http 0.3" "0.3 components" "$out"
finish
