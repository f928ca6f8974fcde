#!/usr/bin/env bash
# up_wasi_http_p3_client.sh — outbound requests from wasi:http 0.3 components
# (wasi:http/client.send, host/wasip3/client.c). A p3 proxy written in WAT (handle lifted
# async, send lowered async) forwards each request to an upstream: request.new with the
# request's method and path, request-options (a first-byte timeout), the request body
# copied from request.consume-body into the new request's contents stream *after* send
# was called (the pending send waits for it), then waits for send's subtask and answers
# with the upstream's status and its body (response.consume-body) copied into its own
# response stream; /f… returns send's response as its own (its body streams from the
# upstream to the client; one cut short aborts the response). /d… sends to a host no
# grant allows (the guest answers 502 "error-code 15": HTTP-request-denied, and kiln
# logs the denial), /c… chains to the
# component "back" (http://back.spin.internal/u/chained, in process) which forwards to the
# upstream, anything else goes to the upstream (a python3 server: GET answers "item PATH",
# POST echoes the body, Content-Length or chunked). Checked under the rc and the 0.3.0 names, with a 3 MiB body
# through both ways; traced, the client span; the request timeout while send waits and
# while the body is read; max_connections = 0 refuses; a component with the same import
# but no grants is denied.
# wasm-tools comes from scripts/install-tools.sh; without it this test fails.
source "$(dirname "$0")/../lib.sh"

TOOLS=${KILN_TOOLS:-/var/cache/kiln-tools}
WT=$TOOLS/cargo/bin/wasm-tools
if [ ! -x "$WT" ]; then
    fail "$WT not found (scripts/install-tools.sh installs it)"
    finish
    exit 1
fi

# The upstream: GET → "item PATH", POST → the body echoed (Content-Length), both with
# x-upstream: yes; status 203 so that the proxy's copy of the status shows.
cat >"$TMP/upstream.py" <<'PY'
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def answer(self, data):
        self.send_response(203)
        self.send_header("x-upstream", "yes")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        if self.path.startswith("/fcut"):  # promises 100000 bytes, sends 10, hangs up
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            self.close_connection = True
            return
        if self.path.startswith("/ftr") or self.path.startswith("/fhuge"):  # chunked, trailers
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "x-up-trailer")
            self.end_headers()
            self.wfile.write(b"4\r\nbody\r\n0\r\n")
            if self.path.startswith("/fhuge"):  # 10,000 trailer fields (~160 KiB)
                self.wfile.write(b"".join(b"x-t%05d: vvvv\r\n" % i for i in range(10000)))
            self.wfile.write(b"X-Up-Trailer: done\r\nHost: evil\r\n\r\n")
            return
        if self.path.startswith("/slowhead"):  # answers after 5 s
            time.sleep(5)
        if self.path.startswith("/slowbody"):  # the head, then the body after 5 s
            self.send_response(200)
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.flush()
            time.sleep(5)
            self.wfile.write(b"late")
            return
        if self.path.startswith("/tp"):  # the traceparent it got
            self.answer((self.headers.get("traceparent") or "none").encode())
            return
        self.answer(("item " + self.path).encode())
    def do_POST(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or ""):  # a streamed body
            data = b""
            while True:
                n = int(self.rfile.readline().split(b";")[0], 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                data += self.rfile.read(n)
                self.rfile.readline()
            self.answer(data)
            return
        n = int(self.headers.get("Content-Length", "0"))
        self.answer(self.rfile.read(n))

s = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
s.daemon_threads = True
print("ready", flush=True)
s.serve_forever()
PY
UP_PORT=$(free_port)
python3 "$TMP/upstream.py" "$UP_PORT" >"$TMP/upstream.out" 2>&1 &
on_exit "kill $! 2>/dev/null"
for _ in $(seq 100); do grep -q ready "$TMP/upstream.out" 2>/dev/null && break; sleep 0.05; done

# The proxy component under wasi:http version $1, forwarding to authority $2.
p3_proxy() {
    { echo "(component"; grep -v '^;;' "$ROOT/tests/e2e/helpers/p3_http_imports.wat"; cat <<'WAT'
  (type $S (stream u8))
  (type $RF (future (result (error $ec))))
  (type $TF (future (result (option (own $fields)) (error $ec))))
  (core module $Mem
    (memory (export "mem") 3)
    (global $top (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (global.get $top))
      (global.set $top (i32.add (global.get $top) (local.get 3)))
      (local.get $p)))
  (core instance $mem (instantiate $Mem))
  (core func $fnew (canon lower (func $types "[constructor]fields")))
  (core func $method (canon lower (func $types "[method]request.get-method")
    (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (core func $path (canon lower (func $types "[method]request.get-path-with-query")
    (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (core func $consume (canon lower (func $types "[static]request.consume-body")
    (memory (core memory $mem "mem"))))
  (core func $qnew (canon lower (func $types "[static]request.new") (memory (core memory $mem "mem"))))
  (core func $setm (canon lower (func $types "[method]request.set-method")
    (memory (core memory $mem "mem"))))
  (core func $sets (canon lower (func $types "[method]request.set-scheme")
    (memory (core memory $mem "mem"))))
  (core func $seta (canon lower (func $types "[method]request.set-authority")
    (memory (core memory $mem "mem"))))
  (core func $setp (canon lower (func $types "[method]request.set-path-with-query")
    (memory (core memory $mem "mem"))))
  (core func $onew (canon lower (func $types "[constructor]request-options")))
  (core func $ofb (canon lower (func $types "[method]request-options.set-first-byte-timeout")
    (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (core func $rnew (canon lower (func $types "[static]response.new")
    (memory (core memory $mem "mem"))))
  (core func $rstatus (canon lower (func $types "[method]response.get-status-code")))
  (core func $rsetst (canon lower (func $types "[method]response.set-status-code")))
  (core func $rconsume (canon lower (func $types "[static]response.consume-body")
    (memory (core memory $mem "mem"))))
  (core func $send (canon lower (func $client "send") async (memory (core memory $mem "mem"))
    (realloc (core func $mem "realloc"))))
  (core func $snew (canon stream.new $S))
  (core func $sread (canon stream.read $S (memory (core memory $mem "mem"))))
  (core func $swrite (canon stream.write $S (memory (core memory $mem "mem"))))
  (core func $sdrop-w (canon stream.drop-writable $S))
  (core func $sdrop-r (canon stream.drop-readable $S))
  (core func $rfnew (canon future.new $RF))
  (core func $tfnew (canon future.new $TF))
  (core func $wsnew (canon waitable-set.new))
  (core func $join (canon waitable.join))
  (core func $wait (canon waitable-set.wait (memory (core memory $mem "mem"))))
  (core func $subdrop (canon subtask.drop))
  (core func $ret (canon task.return (result (result (own $response) (error $ec)))
    (memory (core memory $mem "mem"))))
  (core module $M
    (import "" "mem" (memory 3))
    (import "" "fnew" (func $fnew (result i32)))
    (import "" "method" (func $method (param i32 i32)))
    (import "" "path" (func $path (param i32 i32)))
    (import "" "consume" (func $consume (param i32 i32 i32)))
    (import "" "qnew" (func $qnew (param i32 i32 i32 i32 i32 i32 i32)))
    (import "" "setm" (func $setm (param i32 i32 i32 i32) (result i32)))
    (import "" "sets" (func $sets (param i32 i32 i32 i32 i32) (result i32)))
    (import "" "seta" (func $seta (param i32 i32 i32 i32) (result i32)))
    (import "" "setp" (func $setp (param i32 i32 i32 i32) (result i32)))
    (import "" "onew" (func $onew (result i32)))
    (import "" "ofb" (func $ofb (param i32 i32 i64 i32)))
    (import "" "rnew" (func $rnew (param i32 i32 i32 i32 i32)))
    (import "" "rstatus" (func $rstatus (param i32) (result i32)))
    (import "" "rsetst" (func $rsetst (param i32 i32) (result i32)))
    (import "" "rconsume" (func $rconsume (param i32 i32 i32)))
    (import "" "send" (func $send (param i32 i32) (result i32)))
    (import "" "snew" (func $snew (result i64)))
    (import "" "sread" (func $sread (param i32 i32 i32) (result i32)))
    (import "" "swrite" (func $swrite (param i32 i32 i32) (result i32)))
    (import "" "sdrop-w" (func $sdrop-w (param i32)))
    (import "" "sdrop-r" (func $sdrop-r (param i32)))
    (import "" "rfnew" (func $rfnew (result i64)))
    (import "" "tfnew" (func $tfnew (result i64)))
    (import "" "wsnew" (func $wsnew (result i32)))
    (import "" "join" (func $join (param i32 i32)))
    (import "" "wait" (func $wait (param i32 i32) (result i32)))
    (import "" "subdrop" (func $subdrop (param i32)))
    (import "" "ret" (func $ret (param i32 i32 i32 i64 i32 i32 i32 i32)))
    (data (i32.const 200) "@AUTH@")
    (data (i32.const 300) "back.spin.internal")
    (data (i32.const 320) "denied.invalid")
    (data (i32.const 340) "/u/chained")
    (data (i32.const 360) "error-code 00")
    ;; writes n bytes at p to stream w (partial writes retried); 0, or 1 when dropped
    (func $write_all (param $w i32) (param $p i32) (param $n i32) (result i32) (local $r i32)
      (block $done (loop $more
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $r (call $swrite (local.get $w) (local.get $p) (local.get $n)))
        (if (i32.eq (i32.and (local.get $r) (i32.const 15)) (i32.const 1)) (then (return (i32.const 1))))
        (local.set $p (i32.add (local.get $p) (i32.shr_u (local.get $r) (i32.const 4))))
        (local.set $n (i32.sub (local.get $n) (i32.shr_u (local.get $r) (i32.const 4))))
        (br $more)))
      (i32.const 0))
    ;; copies stream in to stream w until in ends, then drops both
    (func $copy (param $in i32) (param $w i32) (local $v i32)
      (block $end (loop $again
        (local.set $v (call $sread (local.get $in) (i32.const 65536) (i32.const 65536)))
        (if (i32.shr_u (local.get $v) (i32.const 4)) (then
          (br_if $end (call $write_all (local.get $w) (i32.const 65536)
            (i32.shr_u (local.get $v) (i32.const 4))))))
        (br_if $end (i32.eq (i32.and (local.get $v) (i32.const 15)) (i32.const 1)))
        (br $again)))
      (call $sdrop-r (local.get $in))
      (call $sdrop-w (local.get $w)))
    ;; answers with status and a response whose body the caller writes to the returned
    ;; stream's writable end
    (func $answer (param $status i32) (result i32) (local $s i64) (local $resp i32)
      (local.set $s (call $snew))
      (call $rnew (call $fnew) (i32.const 1) (i32.wrap_i64 (local.get $s))
        (i32.wrap_i64 (call $tfnew)) (i32.const 48))
      (local.set $resp (i32.load (i32.const 48)))
      (if (call $rsetst (local.get $resp) (local.get $status)) (then unreachable))
      (call $ret (i32.const 0) (local.get $resp) (i32.const 0) (i64.const 0) (i32.const 0)
        (i32.const 0) (i32.const 0) (i32.const 0))
      (i32.wrap_i64 (i64.shr_u (local.get $s) (i64.const 32))))
    (func (export "handle") (param $req i32)
      (local $c i32) (local $post i32) (local $in i32) (local $s i64) (local $w i32)
      (local $body i32) (local $o i32) (local $q i32) (local $st i32) (local $ws i32)
      (local $ur i32) (local $e i32)
      (call $path (local.get $req) (i32.const 16))
      (if (i32.and (i32.eq (i32.load8_u (i32.const 16)) (i32.const 1))
                   (i32.ge_u (i32.load (i32.const 24)) (i32.const 2)))
        (then (local.set $c (i32.load8_u (i32.add (i32.load (i32.const 20)) (i32.const 1))))))
      (call $method (local.get $req) (i32.const 0))
      (local.set $post (i32.eq (i32.load8_u (i32.const 0)) (i32.const 2)))
      (if (local.get $post) (then
        (call $consume (local.get $req) (i32.wrap_i64 (call $rfnew)) (i32.const 40))
        (local.set $in (i32.load (i32.const 40)))
        (local.set $s (call $snew))
        (local.set $w (i32.wrap_i64 (i64.shr_u (local.get $s) (i64.const 32))))
        (local.set $body (i32.wrap_i64 (local.get $s)))))
      ;; request-options: a first-byte timeout of 10 s
      (local.set $o (call $onew))
      (call $ofb (local.get $o) (i32.const 1) (i64.const 10000000000) (i32.const 112))
      (if (i32.load8_u (i32.const 112)) (then unreachable))
      (call $qnew (call $fnew) (local.get $post) (local.get $body)
        (i32.wrap_i64 (call $tfnew)) (i32.const 1) (local.get $o) (i32.const 56))
      (local.set $q (i32.load (i32.const 56)))
      (if (call $setm (local.get $q) (select (i32.const 2) (i32.const 0) (local.get $post))
        (i32.const 0) (i32.const 0)) (then unreachable))
      (if (call $sets (local.get $q) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0))
        (then unreachable))
      (if (i32.eq (local.get $c) (i32.const 100)) ;; "/d": a host no grant allows
        (then (drop (call $seta (local.get $q) (i32.const 1) (i32.const 320) (i32.const 14))))
        (else (if (i32.eq (local.get $c) (i32.const 99)) ;; "/c": chained to back
          (then (drop (call $seta (local.get $q) (i32.const 1) (i32.const 300) (i32.const 18))))
          (else (drop (call $seta (local.get $q) (i32.const 1) (i32.const 200) (i32.const @ALEN@)))))))
      (if (i32.eq (local.get $c) (i32.const 99))
        (then (drop (call $setp (local.get $q) (i32.const 1) (i32.const 340) (i32.const 10))))
        (else (drop (call $setp (local.get $q) (i32.const 1) (i32.load (i32.const 20))
          (i32.load (i32.const 24))))))
      ;; send, then the body (the pending send waits for it), then send's result
      (local.set $st (call $send (local.get $q) (i32.const 64)))
      (if (local.get $post) (then (call $copy (local.get $in) (local.get $w))))
      (if (i32.ne (i32.and (local.get $st) (i32.const 15)) (i32.const 2)) (then
        (local.set $ws (call $wsnew))
        (call $join (i32.shr_u (local.get $st) (i32.const 4)) (local.get $ws))
        (block $returned (loop $wait
          (drop (call $wait (local.get $ws) (i32.const 104)))
          (br_if $returned (i32.eq (i32.load (i32.const 108)) (i32.const 2)))
          (br $wait)))
        (call $subdrop (i32.shr_u (local.get $st) (i32.const 4)))))
      (if (i32.load8_u (i32.const 64)) (then ;; err(error-code): 502 "error-code NN"
        (local.set $e (i32.load8_u (i32.const 72)))
        (i32.store8 (i32.const 371) (i32.add (i32.const 48) (i32.div_u (local.get $e) (i32.const 10))))
        (i32.store8 (i32.const 372) (i32.add (i32.const 48) (i32.rem_u (local.get $e) (i32.const 10))))
        (local.set $w (call $answer (i32.const 502)))
        (drop (call $write_all (local.get $w) (i32.const 360) (i32.const 13)))
        (call $sdrop-w (local.get $w))
        (return)))
      (local.set $ur (i32.load (i32.const 72)))
      (if (i32.eq (local.get $c) (i32.const 102)) (then ;; "/f": the upstream's response as is
        (call $ret (i32.const 0) (local.get $ur) (i32.const 0) (i64.const 0) (i32.const 0)
          (i32.const 0) (i32.const 0) (i32.const 0))
        (return)))
      (local.set $st (call $rstatus (local.get $ur)))
      (call $rconsume (local.get $ur) (i32.wrap_i64 (call $rfnew)) (i32.const 96))
      (call $copy (i32.load (i32.const 96)) (call $answer (local.get $st)))))
  (core instance $m (instantiate $M (with "" (instance
    (export "mem" (memory $mem "mem")) (export "fnew" (func $fnew))
    (export "method" (func $method)) (export "path" (func $path))
    (export "consume" (func $consume)) (export "qnew" (func $qnew)) (export "setm" (func $setm))
    (export "sets" (func $sets)) (export "seta" (func $seta)) (export "setp" (func $setp))
    (export "onew" (func $onew)) (export "ofb" (func $ofb)) (export "rnew" (func $rnew))
    (export "rstatus" (func $rstatus)) (export "rsetst" (func $rsetst))
    (export "rconsume" (func $rconsume)) (export "send" (func $send))
    (export "snew" (func $snew)) (export "sread" (func $sread)) (export "swrite" (func $swrite))
    (export "sdrop-w" (func $sdrop-w)) (export "sdrop-r" (func $sdrop-r))
    (export "rfnew" (func $rfnew)) (export "tfnew" (func $tfnew))
    (export "wsnew" (func $wsnew)) (export "join" (func $join)) (export "wait" (func $wait))
    (export "subdrop" (func $subdrop)) (export "ret" (func $ret))))))
  (func $handle async (param "request" (own $request))
    (result (result (own $response) (error $ec)))
    (canon lift (core func $m "handle") async (memory (core memory $mem "mem"))))
  (instance $hi (export "handle" (func $handle)))
  (export "wasi:http/handler@@VERSION@" (instance $hi)))
WAT
    } | sed -e "s/@VERSION@/$1/g" -e "s/@AUTH@/$2/g" -e "s/@ALEN@/${#2}/g"
}

AUTH="127.0.0.1:$UP_PORT"
for v in 0.3.0-rc-2026-03-15 0.3.0; do
    d="$TMP/$v"
    mkdir -p "$d"
    p3_proxy "$v" "$AUTH" >"$d/proxy.wat"
    check "$v: the proxy parses" "$WT" parse "$d/proxy.wat" -o "$d/proxy.wasm"
    check "$v: the proxy validates" "$WT" validate --features all "$d/proxy.wasm"
    cat >"$d/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "p3client"
[[trigger.http]]
route = "/..."
component = "front"
[[trigger.http]]
route = { private = true }
component = "back"
[component.front]
source = "proxy.wasm"
allowed_outbound_hosts = ["http://$AUTH", "http://back.spin.internal"]
[component.front.tool.kiln]
request_timeout = "20s"
[component.back]
source = "proxy.wasm"
allowed_outbound_hosts = ["http://$AUTH"]
[component.back.tool.kiln]
request_timeout = "20s"
TOML
done

# start DIR: kiln up on a free port; sets URL and PID (waits for health).
start() {
    port=$(free_port)
    URL="http://127.0.0.1:$port"
    APORT=$(free_port)
    ADMIN="http://127.0.0.1:$APORT"
    "$KILN" up -f "$1" --listen "127.0.0.1:$port" --admin "127.0.0.1:$APORT" >"$TMP/out.log" \
        2>"$TMP/err.log" &
    PID=$!
    on_exit "kill $PID 2>/dev/null"
    for _ in $(seq 300); do curl -fs "$URL/.well-known/kiln/health" >/dev/null && return; sleep 0.1; done
}

head -c 3145728 /dev/urandom >"$TMP/big.bin"

for v in 0.3.0-rc-2026-03-15 0.3.0; do
    start "$TMP/$v"
    out=$(curl -s -D "$TMP/h.txt" --max-time 20 "$URL/item/7")
    expect_eq "$v: GET forwarded: the upstream's body" "item /item/7" "$out"
    expect_contains "$v: GET forwarded: the upstream's status" "HTTP/1.1 203" "$(cat "$TMP/h.txt")"
    out=$(curl -s --max-time 20 -X POST --data-binary "post me" "$URL/echo")
    expect_eq "$v: POST forwarded: the body there and back" "post me" "$out"
    code=$(curl -s --max-time 60 -X POST --data-binary @"$TMP/big.bin" -o "$TMP/got.bin" \
        -w '%{http_code}' "$URL/big")
    expect_eq "$v: POST 3 MiB: the upstream's status" 203 "$code"
    check "$v: POST 3 MiB: streamed both ways byte for byte" cmp "$TMP/big.bin" "$TMP/got.bin"
    code=$(curl -s --max-time 60 -X POST --data-binary @"$TMP/big.bin" -o "$TMP/got.bin" \
        -D "$TMP/h.txt" -w '%{http_code}' "$URL/fwd")
    expect_eq "$v: send's response returned as is: the upstream's status" 203 "$code"
    expect_contains "$v: send's response returned as is: its headers" "x-upstream: yes" \
        "$(tr -d '\r' <"$TMP/h.txt")"
    check "$v: send's response returned as is: 3 MiB body byte for byte" \
        cmp "$TMP/big.bin" "$TMP/got.bin"
    curl -s -o /dev/null --max-time 20 "$URL/fcut"
    rc=$?
    if [ "$rc" -ne 0 ]; then pass "$v: an upstream body cut short aborts the response (curl $rc)"
    else fail "$v: an upstream body cut short aborts the response" "curl exited 0"; fi
    out=$(curl -s -D "$TMP/h.txt" --max-time 20 "$URL/deny")
    expect_eq "$v: a host no grant allows: error-code HTTP-request-denied (15)" "error-code 15" "$out"
    expect_contains "$v: the denial is logged" "outbound request to http://denied.invalid:80 denied" \
        "$(cat "$TMP/err.log")"
    out=$(curl -s --max-time 20 "$URL/chain")
    expect_eq "$v: chained to back.spin.internal, which forwards" "item /u/chained" "$out"
    out=$(curl -s --max-time 20 "$URL/item/after")
    expect_eq "$v: the server serves on" "item /item/after" "$out"
    # counted as 0.2's outbound requests are: 6 to the upstream, 1 denied, 1 chained
    curl -s -m 5 -o "$TMP/m.txt" "$ADMIN/metrics"
    O='kiln_outbound_requests_total{component="front"'
    for line in "$O,host=\"$AUTH\",status_class=\"2xx\"} 6" \
        "$O,host=\"denied.invalid\",status_class=\"denied\"} 1" \
        "$O,host=\"back.spin.internal\",status_class=\"2xx\"} 1" \
        'kiln_outbound_requests_total{component="back",host="'"$AUTH"'",status_class="2xx"} 1'; do
        if grep -qxF -- "$line" "$TMP/m.txt"; then pass "$v: metrics: $line"; else
            fail "$v: metrics: $line" "$(grep -F kiln_outbound_requests_total "$TMP/m.txt")"; fi
    done
    # the upstream's trailers (chunked): a send response returned as is passes them on,
    # without those that may not be trailers; 10,000 of them abort the response
    out=$(curl -s --raw --max-time 20 "$URL/ftr" | tr -d '\r')
    expect_contains "$v: send's response returned as is: the upstream's body" "body" "$out"
    expect_contains "$v: send's response returned as is: the upstream's trailers" \
        "x-up-trailer: done" "$out"
    expect_not_contains "$v: ... without a host trailer" "evil" "$out"
    curl -s -o /dev/null --max-time 20 "$URL/fhuge"
    rc=$?
    if [ "$rc" -ne 0 ]; then pass "$v: 10,000 upstream trailer fields abort the response (curl $rc)"
    else fail "$v: 10,000 upstream trailer fields abort the response" "curl exited 0"; fi
    out=$(curl -s --max-time 20 "$URL/item/after2")
    expect_eq "$v: the server serves on after them" "item /item/after2" "$out"
    kill "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
done

# Traced (OTEL_EXPORTER_OTLP_ENDPOINT): the upstream gets a traceparent naming a new
# client span in the served request's trace, exported as 0.2's are.
RECV="$ROOT/tests/e2e/helpers/otlp_receiver.py"
mkdir -p "$TMP/recv"
RPORT=$(free_port)
python3 "$RECV" serve "$RPORT" "$TMP/recv" &
on_exit "kill $! 2>/dev/null"
for _ in $(seq 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $RPORT), 1)" 2>/dev/null && break
    sleep 0.1
done
TRACE=0af7651916cd43dd8448eb211c80319c
PARENT=b7ad6b7169203331
OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$RPORT" OTEL_BSP_SCHEDULE_DELAY=100 start "$TMP/0.3.0"
sent=$(curl -s --max-time 20 -H "traceparent: 00-$TRACE-$PARENT-01" "$URL/tp")
case "$sent" in
00-$TRACE-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-01)
    pass "traced: the upstream got a traceparent in the request's trace" ;;
*) fail "traced: the upstream got a traceparent in the request's trace" "got: $sent" ;;
esac
CLIENT=${sent:36:16}
[ "$CLIENT" != "$PARENT" ] && pass "traced: ... naming a new span" || fail "traced: ... naming a new span" "$sent"
spans() {
    python3 "$RECV" spans "$TMP/recv" 2>/dev/null | python3 -c '
import json, sys
for l in sys.stdin:
    s = json.loads(l)
    if s["kind"] == 3:
        a = s["attributes"]
        print(s["spanId"], s["traceId"], a.get("http.request.method"), a.get("url.full"),
              a.get("http.response.status_code"), a.get("kiln.component"))'
}
want="$CLIENT $TRACE GET http://$AUTH/tp 203 front"
for _ in $(seq 100); do spans | grep -qxF -- "$want" && break; sleep 0.1; done
expect_contains "traced: the client span is exported with its attributes" "$want" "$(spans)"
kill "$PID" 2>/dev/null
wait "$PID" 2>/dev/null

# The runtime config's [outbound_http] max_connections limits p3 guests as 0.2 ones: 0
# refuses every request with connection-limit-reached (11).
printf '[outbound_http]\nmax_connections = 0\n' >"$TMP/limit0.toml"
port=$(free_port)
URL="http://127.0.0.1:$port"
"$KILN" up -f "$TMP/0.3.0" --listen "127.0.0.1:$port" --runtime-config-file "$TMP/limit0.toml" \
    >"$TMP/out.log" 2>"$TMP/err.log" &
PID=$!
on_exit "kill $PID 2>/dev/null"
for _ in $(seq 300); do curl -fs "$URL/.well-known/kiln/health" >/dev/null && break; sleep 0.1; done
out=$(curl -s --max-time 20 "$URL/item/1")
expect_eq "max_connections = 0: connection-limit-reached (11)" "error-code 11" "$out"
kill "$PID" 2>/dev/null
wait "$PID" 2>/dev/null

# The request timeout holds while send waits for the head (504) and while the guest waits
# for the upstream's body (the response, already started, is aborted); the server serves on.
mkdir -p "$TMP/short"
cp "$TMP/0.3.0/proxy.wasm" "$TMP/short/"
sed 's/request_timeout = "20s"/request_timeout = "1s"/' "$TMP/0.3.0/spin.toml" >"$TMP/short/spin.toml"
start "$TMP/short"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$URL/slowhead")
expect_eq "a send waiting past request_timeout: 504" 504 "$code"
curl -s -o /dev/null --max-time 20 "$URL/slowbody"
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 28 ]; then pass "a body read waiting past request_timeout: aborted (curl $rc)"
else fail "a body read waiting past request_timeout: aborted" "curl exited $rc"; fi
out=$(curl -s --max-time 20 "$URL/item/short")
expect_eq "after the timeouts the server serves on" "item /item/short" "$out"
expect_contains "the timeout is logged" "ran past its request timeout" "$(cat "$TMP/err.log")"
kill "$PID" 2>/dev/null
wait "$PID" 2>/dev/null

# Without grants the same component is denied (deny by default, as 0.2).
d="$TMP/nogrant"
mkdir -p "$d"
cp "$TMP/0.3.0/proxy.wasm" "$d/"
cat >"$d/spin.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "nogrant"
[[trigger.http]]
route = "/..."
component = "front"
[component.front]
source = "proxy.wasm"
TOML
out=$("$KILN" check -f "$d" 2>&1)
expect_contains "no grants: kiln check accepts the wasi:http/client import" "valid" "$out"
expect_contains "no grants: kiln check shows no grants" "allowed_outbound_hosts: (none)" "$out"
start "$d"
out=$(curl -s --max-time 20 "$URL/item/1")
expect_eq "no grants: the upstream is denied" "error-code 15" "$out"
expect_contains "no grants: the denial is logged" "outbound request to http://$AUTH denied" \
    "$(cat "$TMP/err.log")"
kill "$PID" 2>/dev/null
wait "$PID" 2>/dev/null

finish
