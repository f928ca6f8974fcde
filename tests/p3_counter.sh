# p3_counter.sh — the wasi:http 0.3 handler (WAT) of the reuse tests
# (tests/e2e/up_wasi_http_p3_reuse.sh, up_wasi_http_p3_concurrent.sh): it counts its
# requests in a global and answers the count in x-n, after what its path asks: /w waits
# (wasi:clocks wait-for, lowered async, then a waitable-set wait), /b reads the first
# bytes of its body (a synchronous stream.read) and answers them in x-b, /c takes its
# body's stream and drops it, /k takes it and keeps it, /t traps. Each request keeps its
# scratch memory apart (requests in flight together share one instance's memory).

# p3_counter_app WAIT_NS: the handler (its /w waiting WAIT_NS) in a Spin app at $TMP/app
# (tests/lib.sh's TMP; wasm-tools from scripts/install-tools.sh: without it the test
# fails and ends here).
p3_counter_app() {
    local wt=${KILN_TOOLS:-/var/cache/kiln-tools}/cargo/bin/wasm-tools
    if [ ! -x "$wt" ]; then
        fail "$wt not found (scripts/install-tools.sh installs it)"
        finish
        exit 1
    fi
    p3_counter_wat "$TMP/h.wat" "$1"
    mkdir -p "$TMP/app"
    check "the handler parses" "$wt" parse "$TMP/h.wat" -o "$TMP/app/handler.wasm"
    cat >"$TMP/app/spin.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "p3counter"
[[trigger.http]]
route = "/..."
component = "h"
[component.h]
source = "handler.wasm"
TOML
}

# p3_counter_start ARGS...: kiln up on $TMP/app on a free port with ARGS; sets URL and
# PID (waits for health).
p3_counter_start() {
    local port
    port=$(free_port)
    URL="http://127.0.0.1:$port"
    "$KILN" up -f "$TMP/app" --listen "127.0.0.1:$port" "$@" >"$TMP/out.log" 2>"$TMP/err.log" &
    PID=$!
    on_exit "kill $PID 2>/dev/null"
    for _ in $(seq 300); do curl -fs "$URL/.well-known/kiln/health" >/dev/null && return; sleep 0.1; done
}

# p3_counter_wat FILE WAIT_NS: writes the handler's WAT to FILE, /w waiting WAIT_NS.
p3_counter_wat() {
    local V=0.3.0-rc-2026-03-15
    cat >"$1" <<WAT
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
      (if (i32.eq (local.get \$c) (i32.const 119)) (then ;; /w: $2 ns
        (local.set \$r (call \$wait-for (i64.const $2)))
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
}
