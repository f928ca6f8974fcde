#!/usr/bin/env bash
# up_wasi_http_p3.sh — kiln up serves wasi:http 0.3 (p3) components: a handler written in
# WAT exporting wasi:http/handler@0.3.0-rc-2026-03-15 (and the same under 0.3.0) whose
# `handle` is lifted async. GET answers a fixed body with a header it set through
# wasi:http/types fields, written to its response stream after task.return (the host
# drives the instance on while the body streams); POST answers 201 (set-status-code) and
# echoes the request body (request.consume-body, a host-written stream<u8> fed from the
# connection as the guest reads it) through its response stream: 3 MiB over HTTP/1.1 and
# HTTP/2, and a chunked upload whose pieces are sent one at a time, each after its echo
# came back. POST /b reads the whole body before it responds (a 1 GiB upload with kiln's
# RSS bounded; a body still coming at request_timeout: 504); POST /r reads consume-body's
# trailers future after the body, then writes its response's trailers future (HTTP/1.1
# trailer fields). /e returns an error-code (500), /t traps (500), /s stops writing without
# ending the body (the response is aborted), /l loops before returning (504 past
# request_timeout); the server serves on.
# A C guest built here with wit-bindgen's async C bindings (GET, POST echo, trailers) is
# served too, and compared with `wasmtime serve -Sp3` when wasmtime-cli is built.
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
expect_not_contains "an async component has an image (nothing refused at startup)" "no image" "$log"
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


# A C guest on wit-bindgen's async (callback) C bindings, built here: the part of the
# wasi:http 0.3.0 WIT the guest uses (its types as wasmtime 48 declares them, so that
# wasmtime serve links it too), clang --target=wasm32-wasi, and `wasm-tools component new`
# (no WASI imports: no adapter). wit-component wraps the export in a shim instance whose
# error-code refers to the imported one (the validator must keep the substituted named
# type one type).
WB=$TOOLS/cargo/bin/wit-bindgen
mkdir -p "$TMP/c/wit/deps/http" "$TMP/c/app"
cat >"$TMP/c/wit/deps/http/types.wit" <<'WIT'
package wasi:http@0.3.0;
interface types {
  variant method { get, head, post, put, delete, connect, options, trace, patch, other(string) }
  record DNS-error-payload { rcode: option<string>, info-code: option<u16> }
  record TLS-alert-received-payload { alert-id: option<u8>, alert-message: option<string> }
  record field-size-payload { field-name: option<string>, field-size: option<u32> }
  variant error-code {
    DNS-timeout, DNS-error(DNS-error-payload), destination-not-found,
    destination-unavailable, destination-IP-prohibited, destination-IP-unroutable,
    connection-refused, connection-terminated, connection-timeout, connection-read-timeout,
    connection-write-timeout, connection-limit-reached, TLS-protocol-error,
    TLS-certificate-error, TLS-alert-received(TLS-alert-received-payload),
    HTTP-request-denied, HTTP-request-length-required, HTTP-request-body-size(option<u64>),
    HTTP-request-method-invalid, HTTP-request-URI-invalid, HTTP-request-URI-too-long,
    HTTP-request-header-section-size(option<u32>),
    HTTP-request-header-size(option<field-size-payload>),
    HTTP-request-trailer-section-size(option<u32>),
    HTTP-request-trailer-size(field-size-payload), HTTP-response-incomplete,
    HTTP-response-header-section-size(option<u32>),
    HTTP-response-header-size(field-size-payload), HTTP-response-body-size(option<u64>),
    HTTP-response-trailer-section-size(option<u32>),
    HTTP-response-trailer-size(field-size-payload),
    HTTP-response-transfer-coding(option<string>),
    HTTP-response-content-coding(option<string>), HTTP-response-timeout,
    HTTP-upgrade-failed, HTTP-protocol-error, loop-detected, configuration-error,
    internal-error(option<string>),
  }
  variant header-error { invalid-syntax, forbidden, immutable, size-exceeded, other(option<string>) }
  type field-name = string;
  type field-value = list<u8>;
  resource fields {
    constructor();
    append: func(name: field-name, value: field-value) -> result<_, header-error>;
  }
  type headers = fields;
  type trailers = fields;
  resource request {
    get-method: func() -> method;
    get-path-with-query: func() -> option<string>;
    consume-body: static func(this: request, res: future<result<_, error-code>>)
      -> tuple<stream<u8>, future<result<option<trailers>, error-code>>>;
  }
  resource response {
    new: static func(headers: headers, contents: option<stream<u8>>,
      trailers: future<result<option<trailers>, error-code>>)
      -> tuple<response, future<result<_, error-code>>>;
    set-status-code: func(status-code: u16) -> result;
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
/* A wasi:http 0.3 handler in C on wit-bindgen's async (callback) bindings. GET: 200, a
 * header and a fixed body written after task.return. POST: the request body echoed while
 * it streams in (read and written in 64 KiB pieces, waiting on a waitable set when a copy
 * blocks). POST /r: then the request's trailers are read and answered as the response's
 * (x-trailer: done when the request had none; declared in a Trailer header). Every
 * response writes its trailers future. */
#include "svc.h"
#include <string.h>

typedef wasi_http_types_stream_u8_writer_t body_writer;
typedef wasi_http_types_future_result_option_own_trailers_error_code_writer_t trailers_writer;
typedef wasi_http_types_result_option_own_trailers_error_code_t trailers_value;

static const char hello[] = "hello from a C p3 handler\n";
static uint8_t buf[65536];

/* Blocks the task until the copy pending on waitable w ends; its status. */
static svc_waitable_status_t wait_on(uint32_t w)
{
    svc_waitable_set_t ws = svc_waitable_set_new();
    svc_waitable_join(w, ws);
    svc_event_t ev;
    svc_waitable_set_wait(ws, &ev);
    svc_waitable_join(w, 0);
    svc_waitable_set_drop(ws);
    return ev.code;
}

/* 0, or -1 when the reader went away. */
static int write_all(body_writer w, const uint8_t *p, size_t n)
{
    while (n) {
        svc_waitable_status_t st = wasi_http_types_stream_u8_write(w, p, n);
        if (st == SVC_WAITABLE_STATUS_BLOCKED) st = wait_on(w);
        p += SVC_WAITABLE_COUNT(st);
        n -= SVC_WAITABLE_COUNT(st);
        if (SVC_WAITABLE_STATE(st) != SVC_WAITABLE_COMPLETED) return -1;
    }
    return 0;
}

static void append(wasi_http_types_own_fields_t f, const char *name, const char *value)
{
    wasi_http_types_field_name_t n = {(uint8_t *)name, strlen(name)};
    wasi_http_types_field_value_t v = {(uint8_t *)value, strlen(value)};
    wasi_http_types_header_error_t err;
    wasi_http_types_method_fields_append(wasi_http_types_borrow_fields(f), &n, &v, &err);
}

static wasi_http_types_own_fields_t fields_with(const char *name, const char *value)
{
    wasi_http_types_own_fields_t f = wasi_http_types_constructor_fields();
    append(f, name, value);
    return f;
}

svc_callback_code_t exports_wasi_http_handler_handle(exports_wasi_http_handler_own_request_t request)
{
    wasi_http_types_method_t m;
    wasi_http_types_method_request_get_method(wasi_http_types_borrow_request(request), &m);
    svc_string_t path = {0};
    wasi_http_types_method_request_get_path_with_query(wasi_http_types_borrow_request(request),
                                                       &path);
    int post = m.tag == WASI_HTTP_TYPES_METHOD_POST;
    int trailers = post && path.len == 2 && memcmp(path.ptr, "/r", 2) == 0;
    wasi_http_types_stream_u8_t in = 0;
    wasi_http_types_future_result_option_own_trailers_error_code_t in_trailers = 0;
    wasi_http_types_future_result_void_error_code_writer_t done = 0;
    if (post) {
        wasi_http_types_future_result_void_error_code_t d =
            wasi_http_types_future_result_void_error_code_new(&done);
        wasi_http_types_tuple2_stream_u8_future_result_option_own_trailers_error_code_t body;
        wasi_http_types_static_request_consume_body(request, d, &body);
        in = body.f0;
        in_trailers = body.f1;
    } else {
        wasi_http_types_request_drop_own(request);
    }
    body_writer w;
    wasi_http_types_stream_u8_t r = wasi_http_types_stream_u8_new(&w);
    trailers_writer tw;
    wasi_http_types_future_result_option_own_trailers_error_code_t tr =
        wasi_http_types_future_result_option_own_trailers_error_code_new(&tw);
    wasi_http_types_tuple2_own_response_future_result_void_error_code_t ret;
    wasi_http_types_own_fields_t headers = fields_with("x-guest", "c");
    if (trailers) append(headers, "trailer", "x-trailer, x-in"); /* hyper sends declared ones */
    wasi_http_types_static_response_new(headers, &r, tr, &ret);
    wasi_http_types_future_result_void_error_code_drop_readable(ret.f1);
    exports_wasi_http_handler_result_own_response_error_code_t res;
    res.is_err = false;
    res.val.ok = ret.f0;
    exports_wasi_http_handler_handle_return(res);
    trailers_value tv;
    memset(&tv, 0, sizeof tv);
    if (!post) {
        write_all(w, (const uint8_t *)hello, sizeof hello - 1);
    } else {
        for (;;) {
            svc_waitable_status_t st = wasi_http_types_stream_u8_read(in, buf, sizeof buf);
            if (st == SVC_WAITABLE_STATUS_BLOCKED) st = wait_on(in);
            if (write_all(w, buf, SVC_WAITABLE_COUNT(st)) < 0) break;
            if (SVC_WAITABLE_STATE(st) != SVC_WAITABLE_COMPLETED) break;
        }
        wasi_http_types_stream_u8_drop_readable(in);
        wasi_http_types_result_void_error_code_t ok;
        memset(&ok, 0, sizeof ok);
        if (wasi_http_types_future_result_void_error_code_write(done, &ok) ==
            SVC_WAITABLE_STATUS_BLOCKED)
            wait_on(done);
        wasi_http_types_future_result_void_error_code_drop_writable(done);
        if (trailers) {
            svc_waitable_status_t st =
                wasi_http_types_future_result_option_own_trailers_error_code_read(in_trailers,
                                                                                 &tv);
            if (st == SVC_WAITABLE_STATUS_BLOCKED) wait_on(in_trailers);
            if (!tv.is_err && !tv.val.ok.is_some) {
                tv.val.ok.is_some = true;
                tv.val.ok.val = fields_with("x-trailer", "done");
            }
        }
        wasi_http_types_future_result_option_own_trailers_error_code_drop_readable(in_trailers);
    }
    wasi_http_types_stream_u8_drop_writable(w);
    if (wasi_http_types_future_result_option_own_trailers_error_code_write(tw, &tv) ==
        SVC_WAITABLE_STATUS_BLOCKED)
        wait_on(tw);
    wasi_http_types_future_result_option_own_trailers_error_code_drop_writable(tw);
    return SVC_CALLBACK_CODE_EXIT;
}

svc_callback_code_t exports_wasi_http_handler_handle_callback(svc_event_t *event)
{
    (void)event;
    return SVC_CALLBACK_CODE_EXIT;
}
C
# norm PORT METHOD PATH [BODY]: one request over HTTP/1.1 (Content-Length, or chunked with
# a trailer field x-in: 1 when BODY starts with "chunked:"; TE: trailers, Connection:
# close) and its answer normalized: the status, the headers but the server's
# own (date, server, connection) and framing (content-length, transfer-encoding: kiln
# sends a length when the whole body is there before the headers go, wasmtime always
# chunks), sorted, the body and the trailers.
cat >"$TMP/norm.py" <<'PY'
import socket, sys
port, method, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
body = sys.argv[4].encode() if len(sys.argv) > 4 else b""
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(20)
head = "%s %s HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n" % (method, path)
if body.startswith(b"chunked:"):  # chunked, with a trailer field
    body = body[8:]
    s.sendall((head + "Transfer-Encoding: chunked\r\n\r\n%x\r\n" % len(body)).encode() + body +
              b"\r\n0\r\nx-in: 1\r\n\r\n")
else:
    s.sendall((head + "Content-Length: %d\r\n\r\n" % len(body)).encode() + body)
f = s.makefile("rb")
status = f.readline().decode().rstrip("\r\n")
headers, n, chunked = [], None, False
while True:
    line = f.readline().decode().rstrip("\r\n")
    if not line:
        break
    k, v = line.split(":", 1)
    k, v = k.strip().lower(), v.strip()
    if k == "content-length":
        n = int(v)
    if k == "transfer-encoding":
        chunked = True
    if k not in ("date", "server", "connection", "content-length", "transfer-encoding"):
        headers.append(k + ": " + v)
trailers = []
if chunked:
    out = b""
    while True:
        size = int(f.readline().split(b";")[0], 16)
        if not size:
            break
        out += f.read(size)
        f.readline()
    while True:
        line = f.readline().decode().rstrip("\r\n")
        if not line:
            break
        trailers.append(line.lower())
else:
    out = f.read(n) if n is not None else f.read()
print(status, "|", " ; ".join(sorted(headers)), "|", out.decode(), "|", " ; ".join(trailers))
PY
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
    out=$(curl -s -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/big.bin" "$URL/x" | cmp - "$TMP/big.bin" && echo same)
    expect_eq "C guest: 3 MiB uploaded chunked, echoed as it streams in" same "$out"
    out=$(curl -s --raw -X POST --data-binary "c trailers" "$URL/r" | tr -d '\r')
    expect_contains "C guest: its response trailers after the last chunk" \
        "$(printf '0\nx-trailer: done')" "$out"
    REQS=("GET /" "POST /x posted-body" "POST /r with-trailers" "POST /r chunked:its-trailers")
    declare -A KILN_SAYS
    for req in "${REQS[@]}"; do
        # shellcheck disable=SC2086 # the request's words are the arguments
        KILN_SAYS[$req]=$(python3 "$TMP/norm.py" "$port" $req)
    done
    expect_eq "C guest, normalized: GET" \
        "HTTP/1.1 200 OK | x-guest: c | hello from a C p3 handler
 | " "${KILN_SAYS[GET /]}"
    expect_eq "C guest, normalized: POST /r" \
        "HTTP/1.1 200 OK | trailer: x-trailer, x-in ; x-guest: c | with-trailers | x-trailer: done" \
        "${KILN_SAYS[POST /r with-trailers]}"
    expect_eq "C guest: the request's trailers (chunked) echoed as the response's" \
        "HTTP/1.1 200 OK | trailer: x-trailer, x-in ; x-guest: c | its-trailers | x-in: 1" \
        "${KILN_SAYS[POST /r chunked:its-trailers]}"
    # the same over HTTP/2 (kiln's codec): request trailers in a HEADERS frame after the
    # DATA, the guest's as a last HEADERS frame (nghttp from nghttp2-client)
    if command -v nghttp >/dev/null; then
        printf 'h2-body' >"$TMP/h2.txt"
        out=$(timeout 20 nghttp -v --trailer 'x-in: 2' -d "$TMP/h2.txt" "$URL/r" 2>&1)
        expect_contains "C guest over HTTP/2: the body echoed" "h2-body" "$out"
        got=$(grep -Eo 'recv \(stream_id=[0-9]+\) x-in: 2' <<<"$out" | head -1 | sed 's/.*) //')
        expect_eq "C guest over HTTP/2: the request's trailer echoed as a trailer" "x-in: 2" "$got"
    else
        fail "nghttp is missing (scripts/install-deps.sh installs nghttp2-client)"
    fi
    kill "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
    # The same component under wasmtime serve -Sp3 (wasmtime 48 serves wasi:http@0.3.0,
    # the version this guest targets): the same status, headers, body and trailers.
    # wasmtime-cli is built by scripts/install-wasmtime.sh (not part of make test);
    # KILN_REQUIRE_WASMTIME=1 turns its absence into a failure.
    WASMTIME="${KILN_TOOLS:-/var/cache/kiln-tools}/cargo/bin/wasmtime"
    if [ -x "$WASMTIME" ]; then
        wport=$(free_port)
        (exec setsid "$WASMTIME" serve -Sp3 -Wcomponent-model-async --addr "127.0.0.1:$wport" \
            "$TMP/c/app/guest.wasm" >"$TMP/wasmtime.log" 2>&1) &
        WPID=$!
        on_exit "kill -- -$WPID 2>/dev/null"
        for _ in $(seq 600); do curl -s -m 2 -o /dev/null "http://127.0.0.1:$wport/" && break; sleep 0.1; done
        for req in "${REQS[@]}"; do
            # shellcheck disable=SC2086
            expect_eq "kiln and wasmtime serve -Sp3 agree: $req" "${KILN_SAYS[$req]}" \
                "$(python3 "$TMP/norm.py" "$wport" $req)"
        done
        kill -- -"$WPID" 2>/dev/null
    elif [ "${KILN_REQUIRE_WASMTIME:-0}" = 1 ]; then
        fail "wasmtime serve -Sp3 comparison: $WASMTIME is missing (scripts/install-wasmtime.sh)"
    else
        echo "up_wasi_http_p3: SKIP the wasmtime serve -Sp3 comparison: wasmtime-cli not built in ${KILN_TOOLS:-/var/cache/kiln-tools}/cargo/bin (scripts/install-wasmtime.sh)" >&2
    fi
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
