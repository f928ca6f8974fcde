#!/usr/bin/env bash
# up_wasi_http_p3.sh — kiln up serves wasi:http 0.3 (p3) components: a handler written in
# WAT exporting wasi:http/handler@0.3.0-rc-2026-03-15 (and the same under 0.3.0) whose
# `handle` is lifted async. GET answers a fixed body with a header it set through
# wasi:http/types fields, written to its response stream after task.return (the host
# drives the instance on while the body streams); POST answers 201 (set-status-code) and
# echoes the request body (request.consume-body, a host-written stream<u8>) through its
# response stream, checked with a 3 MiB body over HTTP/1.1 and HTTP/2 (the host buffers
# at most 256 KiB of it, the guest's writes wait meanwhile). /e returns an error-code
# (500), /t traps (500), /s stops writing without ending the body (the response is
# aborted), /l loops before returning (504 past request_timeout); the server serves on.
# A C guest built here with wit-bindgen's async C bindings is served too.
# wasm-tools comes from scripts/install-tools.sh; without it this test fails.
source "$(dirname "$0")/../lib.sh"

TOOLS=${KILN_TOOLS:-/var/cache/kiln-tools}
WT=$TOOLS/cargo/bin/wasm-tools
if [ ! -x "$WT" ]; then
    fail "$WT not found (scripts/install-tools.sh installs it)"
    finish
    exit 1
fi

# The handler component under wasi:http version $1.
p3_handler() {
    sed "s/@VERSION@/$1/g" <<'WAT'
(component
  (import "wasi:http/types@@VERSION@" (instance $types
    (export "fields" (type $fields (sub resource)))
    (export "request" (type $request (sub resource)))
    (export "response" (type $response (sub resource)))
    (type $ec0 (variant (case "DNS-timeout") (case "internal-error" (option string))))
    (export "error-code" (type $ec (eq $ec0)))
    (type $he0 (variant (case "invalid-syntax") (case "forbidden") (case "immutable")))
    (export "header-error" (type $he (eq $he0)))
    (type $m0 (variant (case "get") (case "head") (case "post") (case "put") (case "delete")
      (case "connect") (case "options") (case "trace") (case "patch") (case "other" string)))
    (export "method" (type $m (eq $m0)))
    (export "[constructor]fields" (func (result (own $fields))))
    (export "[method]fields.append" (func (param "self" (borrow $fields)) (param "name" string)
      (param "value" (list u8)) (result (result (error $he)))))
    (export "[method]request.get-method" (func (param "self" (borrow $request)) (result $m)))
    (export "[method]request.get-path-with-query" (func (param "self" (borrow $request))
      (result (option string))))
    (export "[static]request.consume-body" (func (param "this" (own $request))
      (param "res" (future (result (error $ec))))
      (result (tuple (stream u8) (future (result (option (own $fields)) (error $ec)))))))
    (export "[static]response.new" (func (param "headers" (own $fields))
      (param "contents" (option (stream u8)))
      (param "trailers" (future (result (option (own $fields)) (error $ec))))
      (result (tuple (own $response) (future (result (error $ec)))))))
    (export "[method]response.set-status-code" (func (param "self" (borrow $response))
      (param "status-code" u16) (result (result))))))
  (alias export $types "fields" (type $fields))
  (alias export $types "request" (type $request))
  (alias export $types "response" (type $response))
  (alias export $types "error-code" (type $ec))
  (type $S (stream u8))
  (type $RF (future (result (error $ec))))
  (type $TF (future (result (option (own $fields)) (error $ec))))
  (core module $Mem
    (memory (export "mem") 2)
    (global $top (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (global.get $top))
      (global.set $top (i32.add (global.get $top) (local.get 3)))
      (local.get $p)))
  (core instance $mem (instantiate $Mem))
  (core func $fnew (canon lower (func $types "[constructor]fields")))
  (core func $fappend (canon lower (func $types "[method]fields.append")
    (memory (core memory $mem "mem"))))
  (core func $method (canon lower (func $types "[method]request.get-method")
    (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (core func $path (canon lower (func $types "[method]request.get-path-with-query")
    (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (core func $consume (canon lower (func $types "[static]request.consume-body")
    (memory (core memory $mem "mem"))))
  (core func $rnew (canon lower (func $types "[static]response.new")
    (memory (core memory $mem "mem"))))
  (core func $status (canon lower (func $types "[method]response.set-status-code")))
  (core func $snew (canon stream.new $S))
  (core func $sread (canon stream.read $S (memory (core memory $mem "mem"))))
  (core func $swrite (canon stream.write $S (memory (core memory $mem "mem"))))
  (core func $sdrop-w (canon stream.drop-writable $S))
  (core func $sdrop-r (canon stream.drop-readable $S))
  (core func $rfnew (canon future.new $RF))
  (core func $tfnew (canon future.new $TF))
  (core func $tfread (canon future.read $TF (memory (core memory $mem "mem"))
    (realloc (core func $mem "realloc"))))
  (core func $tfwrite (canon future.write $TF (memory (core memory $mem "mem"))))
  (core func $ret (canon task.return (result (result (own $response) (error $ec))) (memory (core memory $mem "mem"))))
  (core module $M
    (import "" "mem" (memory 2))
    (import "" "fnew" (func $fnew (result i32)))
    (import "" "fappend" (func $fappend (param i32 i32 i32 i32 i32 i32)))
    (import "" "method" (func $method (param i32 i32)))
    (import "" "path" (func $path (param i32 i32)))
    (import "" "consume" (func $consume (param i32 i32 i32)))
    (import "" "rnew" (func $rnew (param i32 i32 i32 i32 i32)))
    (import "" "status" (func $status (param i32 i32) (result i32)))
    (import "" "snew" (func $snew (result i64)))
    (import "" "sread" (func $sread (param i32 i32 i32) (result i32)))
    (import "" "swrite" (func $swrite (param i32 i32 i32) (result i32)))
    (import "" "sdrop-w" (func $sdrop-w (param i32)))
    (import "" "sdrop-r" (func $sdrop-r (param i32)))
    (import "" "rfnew" (func $rfnew (result i64)))
    (import "" "tfnew" (func $tfnew (result i64)))
    (import "" "tfread" (func $tfread (param i32 i32) (result i32)))
    (import "" "tfwrite" (func $tfwrite (param i32 i32) (result i32)))
    (import "" "ret" (func $ret (param i32 i32 i32 i32 i32)))
    (data (i32.const 100) "x-p3yes")
    (data (i32.const 120) "hello from a p3 handler\0a")
    (data (i32.const 150) "x-trailerdone")
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
    (func (export "handle") (param $req i32)
      (local $h i32) (local $s i64) (local $w i32) (local $tf i64) (local $resp i32)
      (local $in i32) (local $v i32) (local $post i32) (local $c i32) (local $n i32)
      (local $p i32) (local $t i32)
      ;; GET /err...: an error-code
      (call $path (local.get $req) (i32.const 16))
      ;; $c: the path's second byte ("/e": error-code, "/l": loops, "/s": stops writing
      ;; without ending the body, "/t": traps after the response started)
      (if (i32.and (i32.eq (i32.load8_u (i32.const 16)) (i32.const 1))
                   (i32.ge_u (i32.load (i32.const 24)) (i32.const 2)))
        (then (local.set $c (i32.load8_u (i32.add (i32.load (i32.const 20)) (i32.const 1))))))
      (if (i32.eq (local.get $c) (i32.const 101)) (then
        (call $ret (i32.const 1) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0))
        (return)))
      (if (i32.eq (local.get $c) (i32.const 108)) (then (loop $forever (br $forever))))
      (call $method (local.get $req) (i32.const 0))
      (local.set $post (i32.eq (i32.load8_u (i32.const 0)) (i32.const 2)))
      (local.set $h (call $fnew))
      (call $fappend (local.get $h) (i32.const 100) (i32.const 4) (i32.const 104) (i32.const 3)
        (i32.const 32))
      (if (i32.load8_u (i32.const 32)) (then unreachable))
      (if (local.get $post) (then
        (call $consume (local.get $req) (i32.wrap_i64 (call $rfnew)) (i32.const 40))
        (local.set $in (i32.load (i32.const 40)))))
      ;; POST /b: reads the whole body before responding; answers its length in decimal
      (if (i32.and (local.get $post) (i32.eq (local.get $c) (i32.const 98))) (then
        (block $end (loop $rd
          (local.set $v (call $sread (local.get $in) (i32.const 65536) (i32.const 65536)))
          (local.set $n (i32.add (local.get $n) (i32.shr_u (local.get $v) (i32.const 4))))
          (br_if $end (i32.eq (i32.and (local.get $v) (i32.const 15)) (i32.const 1)))
          (br $rd)))
        (call $sdrop-r (local.get $in))
        (local.set $p (i32.const 240))
        (loop $dig
          (local.set $p (i32.sub (local.get $p) (i32.const 1)))
          (i32.store8 (local.get $p)
            (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
          (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
          (br_if $dig (local.get $n)))))
      (local.set $s (call $snew))
      (local.set $w (i32.wrap_i64 (i64.shr_u (local.get $s) (i64.const 32))))
      (local.set $tf (call $tfnew))
      (call $rnew (local.get $h) (i32.const 1) (i32.wrap_i64 (local.get $s))
        (i32.wrap_i64 (local.get $tf)) (i32.const 48))
      (local.set $resp (i32.load (i32.const 48)))
      (if (local.get $post) (then
        (if (call $status (local.get $resp) (i32.const 201)) (then unreachable))))
      (call $ret (i32.const 0) (local.get $resp) (i32.const 0) (i32.const 0) (i32.const 0))
      ;; the body, after task.return
      (if (i32.and (local.get $post) (i32.eq (local.get $c) (i32.const 98))) (then
        (drop (call $write_all (local.get $w) (local.get $p) (i32.sub (i32.const 240) (local.get $p))))
        (call $sdrop-w (local.get $w))
        (return)))
      (if (i32.eqz (local.get $post)) (then
        (drop (call $write_all (local.get $w) (i32.const 120) (i32.const 24)))
        (if (i32.eq (local.get $c) (i32.const 115)) (then (return)))
        (if (i32.eq (local.get $c) (i32.const 116)) (then unreachable))
        (call $sdrop-w (local.get $w))
        (return)))
      (block $end (loop $copy
        (local.set $v (call $sread (local.get $in) (i32.const 65536) (i32.const 65536)))
        (if (i32.shr_u (local.get $v) (i32.const 4)) (then
          (br_if $end (call $write_all (local.get $w) (i32.const 65536)
            (i32.shr_u (local.get $v) (i32.const 4))))))
        (br_if $end (i32.eq (i32.and (local.get $v) (i32.const 15)) (i32.const 1)))
        (br $copy)))
      (call $sdrop-r (local.get $in))
      (call $sdrop-w (local.get $w))
      ;; POST /r: once the request's trailers future says ok(none), the response's
      ;; trailers future gets ok(some(x-trailer: done))
      (if (i32.eq (local.get $c) (i32.const 114)) (then
        (if (i32.ne (i32.and (call $tfread (i32.load (i32.const 44)) (i32.const 300))
                             (i32.const 15)) (i32.const 0)) (then unreachable))
        (if (i32.or (i32.load8_u (i32.const 300)) (i32.load8_u (i32.const 304)))
          (then unreachable))
        (local.set $t (call $fnew))
        (call $fappend (local.get $t) (i32.const 150) (i32.const 9) (i32.const 159)
          (i32.const 4) (i32.const 32))
        (i32.store8 (i32.const 320) (i32.const 0))
        (i32.store8 (i32.const 324) (i32.const 1))
        (i32.store (i32.const 328) (local.get $t))
        (drop (call $tfwrite (i32.wrap_i64 (i64.shr_u (local.get $tf) (i64.const 32)))
          (i32.const 320)))))))
  (core instance $m (instantiate $M (with "" (instance
    (export "mem" (memory $mem "mem")) (export "fnew" (func $fnew))
    (export "fappend" (func $fappend)) (export "method" (func $method)) (export "path" (func $path))
    (export "consume" (func $consume)) (export "rnew" (func $rnew)) (export "status" (func $status))
    (export "snew" (func $snew)) (export "sread" (func $sread)) (export "swrite" (func $swrite))
    (export "sdrop-w" (func $sdrop-w)) (export "sdrop-r" (func $sdrop-r))
    (export "rfnew" (func $rfnew)) (export "tfnew" (func $tfnew)) (export "ret" (func $ret))
    (export "tfread" (func $tfread)) (export "tfwrite" (func $tfwrite))))))
  (func $handle async (param "request" (own $request))
    (result (result (own $response) (error $ec)))
    (canon lift (core func $m "handle") async (memory (core memory $mem "mem"))))
  (instance $hi (export "handle" (func $handle)))
  (export "wasi:http/handler@@VERSION@" (instance $hi)))
WAT
}

mkdir -p "$TMP/rc" "$TMP/rel"
p3_handler 0.3.0-rc-2026-03-15 >"$TMP/rc.wat"
p3_handler 0.3.0 >"$TMP/rel.wat"
check "the rc handler parses" "$WT" parse "$TMP/rc.wat" -o "$TMP/rc/handler.wasm"
check "the 0.3.0 handler parses" "$WT" parse "$TMP/rel.wat" -o "$TMP/rel/handler.wasm"
for d in rc rel; do
    cat >"$TMP/$d/spin.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "p3"
[[trigger.http]]
route = "/..."
component = "h"
[component.h]
source = "handler.wasm"
[component.h.tool.kiln]
request_timeout = "1s"
TOML
done

# start DIR: kiln up on a free port; sets URL and PID (waits for health).
start() {
    port=$(free_port)
    URL="http://127.0.0.1:$port"
    "$KILN" up -f "$1" --listen "127.0.0.1:$port" "${@:2}" >"$TMP/out.log" 2>"$TMP/err.log" &
    PID=$!
    on_exit "kill $PID 2>/dev/null"
    for _ in $(seq 300); do curl -fs "$URL/.well-known/kiln/health" >/dev/null && return; sleep 0.1; done
}

head -c 3145728 /dev/urandom >"$TMP/big.bin"

# A raw HTTP/1.1 client: `echo-steps` sends a chunked POST /x one piece at a time and
# reads each piece's echo before sending the next (a request body read whole before the
# guest runs would hang here); `upload PID MIB` sends MIB MiB chunked to /b (the guest
# reads it all before it responds) sampling kiln's RSS.
cat >"$TMP/raw.py" <<'PY'
import socket, sys, time
port, cmd = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(20)
def response():  # status line and body (Content-Length or chunked)
    f = s.makefile("rb")
    status = f.readline().decode().rstrip("\r\n")
    n = None
    while True:
        line = f.readline().decode().rstrip("\r\n")
        if not line:
            break
        if line.lower().startswith("content-length:"):
            n = int(line.split(":")[1])
    if n is not None:
        return status, f.read(n)
    body = b""
    while True:
        size = int(f.readline().split(b";")[0], 16)
        if not size:
            return status, body
        body += f.read(size)
        f.readline()
def rss(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
if cmd == "echo-steps":
    s.sendall(b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    got = b""
    for i in range(3):
        piece = b"piece-%d;" % i
        s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        while piece not in got:
            d = s.recv(65536)
            if not d:
                break
            got += d
    s.sendall(b"0\r\n\r\n")
    while not got.endswith(b"\r\n0\r\n\r\n"):
        d = s.recv(65536)
        if not d:
            break
        got += d
    print(got.split(b"\r\n", 1)[0].decode(), b"".join(
        l for l in got.split(b"\r\n\r\n", 1)[1].split(b"\r\n") if l.startswith(b"piece")).decode())
elif cmd == "slow":  # a body still coming when the request's time is up
    s.sendall(b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nslow\r\n")
    print(response()[0])
elif cmd == "upload":
    pid, mib = int(sys.argv[3]), int(sys.argv[4])
    s.sendall(b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"100000\r\n" + b"u" * (1 << 20) + b"\r\n"
    before, peak = rss(pid), 0
    for i in range(mib):
        s.sendall(chunk)
        if i % 64 == 0:
            peak = max(peak, rss(pid))
    s.sendall(b"0\r\n\r\n")
    status, body = response()
    peak = max(peak, rss(pid))
    print(status, body.decode(), "growth_mib=%d" % (peak - before))
PY
# (under ASan, a small quarantine: freed buffers would otherwise count in the RSS check)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8"

start "$TMP/rc"
out=$(curl -s -D "$TMP/h.txt" "$URL/hello")
expect_eq "GET: the guest's body" "hello from a p3 handler" "$out"
expect_contains "GET: 200" "HTTP/1.1 200" "$(cat "$TMP/h.txt")"
expect_contains "GET: the header the guest set" "x-p3: yes" "$(tr -d '\r' <"$TMP/h.txt")"
out=$(curl -s -D "$TMP/h.txt" -X POST --data-binary "echo me" "$URL/x")
expect_eq "POST: the body echoed" "echo me" "$out"
expect_contains "POST: set-status-code 201" "HTTP/1.1 201" "$(cat "$TMP/h.txt")"
code=$(curl -s -X POST --data-binary @"$TMP/big.bin" -o "$TMP/got1.bin" -w '%{http_code}' "$URL/x")
expect_eq "POST 3 MiB (HTTP/1.1): 201" 201 "$code"
check "POST 3 MiB (HTTP/1.1): echoed byte for byte" cmp "$TMP/big.bin" "$TMP/got1.bin"
code=$(curl -s --http2-prior-knowledge -X POST --data-binary @"$TMP/big.bin" -o "$TMP/got2.bin" \
    -w '%{http_code}' "$URL/x")
expect_eq "POST 3 MiB (HTTP/2): 201" 201 "$code"
check "POST 3 MiB (HTTP/2): echoed byte for byte" cmp "$TMP/big.bin" "$TMP/got2.bin"
# the request body streams in as the guest reads it
out=$(python3 "$TMP/raw.py" "$port" echo-steps)
expect_eq "a chunked upload echoed piece by piece while the response streams" \
    "HTTP/1.1 201 Created piece-0;piece-1;piece-2;" "$out"
out=$(curl -s -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/big.bin" "$URL/b")
expect_eq "a body read whole before the guest responds" 3145728 "$out"
out=$(curl -s -X POST "$URL/b")
expect_eq "an empty body read before responding" 0 "$out"
out=$(python3 "$TMP/raw.py" "$port" slow)
expect_eq "a guest waiting for body bytes past request_timeout: 504" "HTTP/1.1 504 Gateway Timeout" "$out"
# trailers: the guest reads consume-body's trailers future (ok(none) once the body
# ended), then writes its response's trailers future: HTTP/1.1 trailer fields
out=$(curl -s --raw -X POST --data-binary "with trailers" "$URL/r" | tr -d '\r')
expect_contains "the echoed body before the trailers" "with trailers" "$out"
expect_contains "the guest's trailers sent after the last chunk" "$(printf '0\nx-trailer: done')" "$out"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/e")
expect_eq "an error-code: 500" 500 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/t")
expect_eq "a trap before the response started: 500" 500 "$code"
curl -s -o /dev/null "$URL/s"
expect_eq "a body never ended: the response is aborted (curl exit 18)" 18 $?
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$URL/l")
expect_eq "a handler looping past request_timeout: 504" 504 "$code"
out=$(curl -s "$URL/after")
expect_eq "the server serves on" "hello from a p3 handler" "$out"
log=$(cat "$TMP/err.log")
expect_contains "no image for an async component, said at startup" "have no image yet" "$log"
expect_contains "the startup note names the p3 handler" "exports wasi:http/handler@0.3" "$log"
expect_contains "the error-code is logged" "answered with an error-code" "$log"
expect_contains "the trap is logged" "unreachable" "$log"
expect_contains "the unfinished body is logged" "without ending it" "$log"
expect_contains "the timeout is logged" "ran past its request timeout" "$log"
kill "$PID" 2>/dev/null
wait "$PID" 2>/dev/null

# 1 GiB through a guest that reads it all in 64 KiB pieces before it responds: the host
# holds at most 256 KiB of it
mkdir -p "$TMP/big"
cp "$TMP/rc/handler.wasm" "$TMP/big/"
sed 's/"1s"/"120s"/' "$TMP/rc/spin.toml" >"$TMP/big/spin.toml"
start "$TMP/big" --max-request-size 2g
r=$(python3 "$TMP/raw.py" "$port" upload "$PID" 1024)
expect_contains "1 GiB uploaded, read in pieces before the response" "HTTP/1.1 201 Created 1073741824 " "$r"
growth=$(sed -n 's/.*growth_mib=\(-\?[0-9]*\).*/\1/p' <<<"$r")
if [ -n "$growth" ] && [ "$growth" -lt 64 ]; then
    pass "1 GiB upload: kiln's RSS grew by less than 64 MiB ($r)"
else
    fail "1 GiB upload: kiln's RSS grew by less than 64 MiB" "$r"
fi
kill "$PID" 2>/dev/null
wait "$PID" 2>/dev/null

start "$TMP/rel"
out=$(curl -s "$URL/")
expect_eq "0.3.0 names: GET" "hello from a p3 handler" "$out"
out=$(curl -s -X POST --data-binary "release" "$URL/x")
expect_eq "0.3.0 names: POST echo" "release" "$out"


# A C guest on wit-bindgen's async (callback) C bindings, built here: a subset of the
# wasi:http 0.3.0 WIT (what the guest uses), clang --target=wasm32-wasi, and
# `wasm-tools component new` (no WASI imports: no adapter). wit-component wraps the export
# in a shim instance whose error-code refers to the imported one (the validator must keep
# the substituted named type one type).
WB=$TOOLS/cargo/bin/wit-bindgen
mkdir -p "$TMP/c/wit/deps/http" "$TMP/c/app"
cat >"$TMP/c/wit/deps/http/types.wit" <<'WIT'
package wasi:http@0.3.0;
interface types {
  variant error-code { DNS-timeout, connection-refused, internal-error(option<string>) }
  variant header-error { invalid-syntax, forbidden, immutable }
  type field-name = string;
  type field-value = list<u8>;
  resource fields {
    constructor();
    append: func(name: field-name, value: field-value) -> result<_, header-error>;
  }
  type headers = fields;
  type trailers = fields;
  resource request {
    get-path-with-query: func() -> option<string>;
  }
  resource response {
    new: static func(headers: headers, contents: option<stream<u8>>,
      trailers: future<result<option<trailers>, error-code>>)
      -> tuple<response, future<result<_, error-code>>>;
  }
}
interface handler {
  use types.{request, response, error-code};
  handle: async func(request: request) -> result<response, error-code>;
}
WIT
cat >"$TMP/c/wit/world.wit" <<'WIT'
package kiln:p3test;
world svc {
  export wasi:http/handler@0.3.0;
}
WIT
cat >"$TMP/c/guest.c" <<'C'
/* A wasi:http 0.3 handler in C on wit-bindgen's async (callback) bindings: answers
 * every request with 200, a header and a fixed body written after task.return. */
#include "svc.h"
#include <string.h>

static const char body[] = "hello from a C p3 handler\n";

svc_callback_code_t exports_wasi_http_handler_handle(exports_wasi_http_handler_own_request_t request)
{
    wasi_http_types_request_drop_own(request);
    wasi_http_types_own_fields_t h = wasi_http_types_constructor_fields();
    wasi_http_types_field_name_t name = {(uint8_t *)"x-guest", 7};
    wasi_http_types_field_value_t value = {(uint8_t *)"c", 1};
    wasi_http_types_header_error_t err;
    wasi_http_types_method_fields_append(wasi_http_types_borrow_fields(h), &name, &value, &err);
    wasi_http_types_stream_u8_writer_t w;
    wasi_http_types_stream_u8_t r = wasi_http_types_stream_u8_new(&w);
    wasi_http_types_future_result_option_own_trailers_error_code_writer_t tw;
    wasi_http_types_future_result_option_own_trailers_error_code_t tr =
        wasi_http_types_future_result_option_own_trailers_error_code_new(&tw);
    wasi_http_types_tuple2_own_response_future_result_void_error_code_t ret;
    wasi_http_types_static_response_new(h, &r, tr, &ret);
    exports_wasi_http_handler_result_own_response_error_code_t res;
    res.is_err = false;
    res.val.ok = ret.f0;
    exports_wasi_http_handler_handle_return(res);
    svc_waitable_status_t st =
        wasi_http_types_stream_u8_write(w, (const uint8_t *)body, sizeof body - 1);
    if (st == SVC_WAITABLE_STATUS_BLOCKED) __builtin_trap(); /* the host takes it at once */
    wasi_http_types_stream_u8_drop_writable(w);
    return SVC_CALLBACK_CODE_EXIT;
}

svc_callback_code_t exports_wasi_http_handler_handle_callback(svc_event_t *event)
{
    (void)event;
    return SVC_CALLBACK_CODE_EXIT;
}
C
if [ ! -x "$WB" ] || ! command -v clang >/dev/null; then
    fail "the C guest needs $WB and clang (scripts/install-tools.sh, install-deps.sh)"
else
    check "wit-bindgen c generates async p3 bindings" "$WB" c "$TMP/c/wit" --world svc \
        --out-dir "$TMP/c/gen"
    check "the C guest compiles" clang --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Wextra \
        -Werror -mexec-model=reactor -Wno-unused-command-line-argument -I"$TMP/c/gen" \
        "$TMP/c/guest.c" "$TMP/c/gen/svc.c" "$TMP/c/gen/svc_component_type.o" \
        -Wl,--no-entry -o "$TMP/c/core.wasm"
    check "wasm-tools component new makes the component" "$WT" component new \
        "$TMP/c/core.wasm" -o "$TMP/c/app/guest.wasm"
    sed 's/handler.wasm/guest.wasm/' "$TMP/rc/spin.toml" >"$TMP/c/app/spin.toml"
    start "$TMP/c/app"
    out=$(curl -s -D "$TMP/h.txt" "$URL/")
    expect_eq "C guest: its body" "hello from a C p3 handler" "$out"
    expect_contains "C guest: its header" "x-guest: c" "$(tr -d '\r' <"$TMP/h.txt")"
    kill "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
fi

# The shim's shape in WAT: an exported instance whose function refers to a variant
# substituted at instantiation (external visibility holds: one type, not one per use).
cat >"$TMP/vis.wat" <<'WAT'
(component
  (import "t:t/types" (instance $types
    (type $r0 (record (field "a" u8)))
    (export "rec" (type $rec (eq $r0)))
    (type $ec0 (variant (case "x") (case "y" $rec)))
    (export "error-code" (type $ec (eq $ec0)))))
  (alias export $types "rec" (type $rec))
  (alias export $types "error-code" (type $ec))
  (core module $M (memory (export "mem") 1) (func (export "f") (result i32) (i32.const 0)))
  (core instance $m (instantiate $M))
  (type $ft (func (result (result (error $ec)))))
  (func $f (type $ft) (canon lift (core func $m "f") (memory (core memory $m "mem"))))
  (component $shim
    (type $r0 (record (field "a" u8)))
    (import "import-type-rec" (type $rec (eq $r0)))
    (type $ec0 (variant (case "x") (case "y" $rec)))
    (import "import-type-error-code" (type $ec (eq $ec0)))
    (import "import-type-error-code0" (type $ec1 (eq $ec)))
    (type $ft (func (result (result (error $ec1)))))
    (import "import-func-f" (func $f (type $ft)))
    (export $e "error-code" (type $ec))
    (export "f" (func $f) (func (result (result (error $e))))))
  (instance $si (instantiate $shim
    (with "import-func-f" (func $f))
    (with "import-type-rec" (type $rec))
    (with "import-type-error-code" (type $ec))
    (with "import-type-error-code0" (type $ec))))
  (export "t:t/handler" (instance $si)))
WAT
check "the visibility component parses" "$WT" parse "$TMP/vis.wat" -o "$TMP/vis.wasm"
out=$("$KILN" inspect "$TMP/vis.wasm" 2>&1)
expect_eq "kiln inspect loads it" 0 $?
expect_not_contains "a named type substituted at instantiation stays visible" \
    "external visibility" "$out"

finish
