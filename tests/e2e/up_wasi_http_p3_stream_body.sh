#!/usr/bin/env bash
# up_wasi_http_p3_stream_body.sh — an outbound request whose body streams through
# (wasi:http 0.3's client.send over host/wasihttp/client.c and client_h2.c): a p3 proxy
# written in WAT forwards each POST's body, as it reads it from request.consume-body, into
# the contents stream of a request to an upstream, then reads the request's trailers
# future and writes them to the outbound request's trailers future, then drops the
# stream. A Python client sends half of a chunked body, waits 1 s, sends the rest and a
# trailer field; the upstream (a Python server) records when the first body bytes came:
#   - over HTTP/1.1 the upstream saw them before the client sent its second half, the
#     body came chunked (no Content-Length), whole, with the trailer field;
#   - 200 MiB (past the 64 MiB a whole body may have) pass byte for byte (SHA-256) while
#     kiln's resident memory grows by less than 64 MiB;
#   - the same first-half check over HTTP/2 (an nginx with TLS offering h2 by ALPN, which
#     passes the body on to the upstream as it comes: proxy_request_buffering off), without
#     a trailer field (nginx refuses a request's trailing HEADERS frame);
#   - response trailers over HTTP/2 (nginx add_trailer) reach the guest, which passes them
#     on to its client; 10,000 of them abort the answer;
#   - /l… sets content-length: 5 and the client sends 10 bytes: send fails with
#     HTTP-request-body-size (the proxy answers 502 "error-code 17"), nothing hangs; the
#     server serves on.
# wasm-tools comes from scripts/install-tools.sh, nginx from scripts/install-deps.sh.
source "$(dirname "$0")/../lib.sh"

TOOLS=${KILN_TOOLS:-/var/cache/kiln-tools}
WT=$TOOLS/cargo/bin/wasm-tools
if [ ! -x "$WT" ]; then
    fail "$WT not found (scripts/install-tools.sh installs it)"
    finish
    exit 1
fi
if ! command -v nginx >/dev/null 2>&1; then
    fail "nginx" "nginx is missing: scripts/install-deps.sh installs the nginx package"
    finish
    exit 1
fi

# The upstream: reads each request (Content-Length or chunked, trailers included) and
# answers a JSON summary: when the first body byte came (time.time()), the framing, the
# length and SHA-256 of the body, the trailer fields.
cat >"$TMP/upstream.py" <<'PY'
import hashlib, json, socketserver, sys, time

class H(socketserver.StreamRequestHandler):
    def handle(self):
        while self.one():
            pass
    def one(self):
        line = self.rfile.readline()
        if not line:
            return False
        hdrs = {}
        while True:
            l = self.rfile.readline()
            if l in (b"\r\n", b"\n", b""):
                break
            k, _, v = l.decode().partition(":")
            hdrs[k.strip().lower()] = v.strip()
        sha, n, first, trailers = hashlib.sha256(), 0, None, {}
        if "chunked" in hdrs.get("transfer-encoding", ""):
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    break
                left = size
                while left:
                    d = self.rfile.read(min(left, 65536))
                    if not d:
                        return False
                    if first is None:
                        first = time.time()
                    sha.update(d); n += len(d); left -= len(d)
                self.rfile.readline()
            while True:
                l = self.rfile.readline()
                if l in (b"\r\n", b"\n", b""):
                    break
                k, _, v = l.decode().partition(":")
                trailers[k.strip().lower()] = v.strip()
        else:
            left = int(hdrs.get("content-length", "0"))
            while left:
                d = self.rfile.read(min(left, 65536))
                if not d:
                    return False
                if first is None:
                    first = time.time()
                sha.update(d); n += len(d); left -= len(d)
        body = json.dumps({"first": first, "te": hdrs.get("transfer-encoding"),
                           "cl": hdrs.get("content-length"), "len": n,
                           "sha": sha.hexdigest(), "trailers": trailers}).encode()
        self.wfile.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                         b"content-length: %d\r\n\r\n" % len(body) + body)
        self.wfile.flush()
        return True

class S(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

s = S(("127.0.0.1", int(sys.argv[1])), H)
print("ready", flush=True)
s.serve_forever()
PY
UP_PORT=$(free_port)
python3 "$TMP/upstream.py" "$UP_PORT" >"$TMP/upstream.out" 2>&1 &
on_exit "kill $! 2>/dev/null"
for _ in $(seq 100); do grep -q ready "$TMP/upstream.out" 2>/dev/null && break; sleep 0.05; done

# nginx: TLS with h2 in front of the upstream, the request body passed on as it comes.
source "$(dirname "$0")/helpers/testca.sh"
CA=$TMP/ca
if ! testca "$CA"; then
    fail "a test CA (openssl)" "openssl failed"
    finish
    exit 1
fi
H2_PORT=$(free_port)
NGINX_USER=
[ "$(id -u)" = 0 ] && NGINX_USER="user root;"
cat >"$TMP/nginx.conf" <<NGINX
$NGINX_USER
daemon off;
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log;
events {}
http {
    log_format proto '\$server_protocol \$request_method \$uri \$status';
    access_log $TMP/access.log proto;
    client_body_temp_path $TMP/nginx-body;
    proxy_temp_path $TMP/nginx-proxy;
    fastcgi_temp_path $TMP/nginx-fastcgi;
    uwsgi_temp_path $TMP/nginx-uwsgi;
    scgi_temp_path $TMP/nginx-scgi;
    client_max_body_size 0;
    ssl_certificate $CA/server.pem;
    ssl_certificate_key $CA/server.key;
    server {
        listen 127.0.0.1:$H2_PORT ssl http2;
        location / {
            proxy_pass http://127.0.0.1:$UP_PORT;
            proxy_http_version 1.1;
            proxy_request_buffering off;
        }
        location /htr { # response trailers over h2: a last HEADERS frame
            proxy_pass http://127.0.0.1:$UP_PORT;
            add_trailer x-up-trailer done;
            add_trailer content-length 9;
        }
        location /hmany { # 10,000 of them
            proxy_pass http://127.0.0.1:$UP_PORT;
$(for i in $(seq -w 1 10000); do echo "            add_trailer x-t$i vvvvvvvvvv;"; done)
        }
    }
}
NGINX
nginx -e "$TMP/nginx-error.log" -p "$TMP" -c "$TMP/nginx.conf" &
on_exit "kill $! 2>/dev/null"
for _ in $(seq 100); do
    curl -s --cacert "$CA/ca.pem" "https://127.0.0.1:$H2_PORT/probe" >/dev/null && break
    sleep 0.1
done

AUTH="127.0.0.1:$UP_PORT"
AUTH2="127.0.0.1:$H2_PORT"
# The proxy: POST /h… goes to https://AUTH2, /l… with content-length: 5, else http://AUTH.
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
  (core func $fappend (canon lower (func $types "[method]fields.append")
    (memory (core memory $mem "mem"))))
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
  (core func $tfread (canon future.read $TF (memory (core memory $mem "mem"))
    (realloc (core func $mem "realloc"))))
  (core func $tfwrite (canon future.write $TF (memory (core memory $mem "mem"))))
  (core func $wsnew (canon waitable-set.new))
  (core func $join (canon waitable.join))
  (core func $wait (canon waitable-set.wait (memory (core memory $mem "mem"))))
  (core func $subdrop (canon subtask.drop))
  (core func $ret (canon task.return (result (result (own $response) (error $ec)))
    (memory (core memory $mem "mem"))))
  (core module $M
    (import "" "mem" (memory 3))
    (import "" "fnew" (func $fnew (result i32)))
    (import "" "fappend" (func $fappend (param i32 i32 i32 i32 i32 i32)))
    (import "" "path" (func $path (param i32 i32)))
    (import "" "consume" (func $consume (param i32 i32 i32)))
    (import "" "qnew" (func $qnew (param i32 i32 i32 i32 i32 i32 i32)))
    (import "" "setm" (func $setm (param i32 i32 i32 i32) (result i32)))
    (import "" "sets" (func $sets (param i32 i32 i32 i32 i32) (result i32)))
    (import "" "seta" (func $seta (param i32 i32 i32 i32) (result i32)))
    (import "" "setp" (func $setp (param i32 i32 i32 i32) (result i32)))
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
    (import "" "tfread" (func $tfread (param i32 i32) (result i32)))
    (import "" "tfwrite" (func $tfwrite (param i32 i32) (result i32)))
    (import "" "wsnew" (func $wsnew (result i32)))
    (import "" "join" (func $join (param i32 i32)))
    (import "" "wait" (func $wait (param i32 i32) (result i32)))
    (import "" "subdrop" (func $subdrop (param i32)))
    (import "" "ret" (func $ret (param i32 i32 i32 i64 i32 i32 i32 i32)))
    (data (i32.const 200) "@AUTH@")
    (data (i32.const 260) "@AUTH2@")
    (data (i32.const 320) "content-length")
    (data (i32.const 340) "5")
    (data (i32.const 360) "error-code 00")
    (global $atw (mut i32) (i32.const 0)) ;; the answer's trailers future (writable end)
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
    ;; copies stream in to stream w until in ends; drops in
    (func $pump (param $in i32) (param $w i32) (local $v i32)
      (block $end (loop $again
        (local.set $v (call $sread (local.get $in) (i32.const 65536) (i32.const 65536)))
        (if (i32.shr_u (local.get $v) (i32.const 4)) (then
          (br_if $end (call $write_all (local.get $w) (i32.const 65536)
            (i32.shr_u (local.get $v) (i32.const 4))))))
        (br_if $end (i32.eq (i32.and (local.get $v) (i32.const 15)) (i32.const 1)))
        (br $again)))
      (call $sdrop-r (local.get $in)))
    ;; answers with status; the body goes to the returned stream's writable end
    (func $answer (param $status i32) (result i32) (local $s i64) (local $resp i32) (local $t i64)
      (local.set $s (call $snew))
      (local.set $t (call $tfnew))
      (global.set $atw (i32.wrap_i64 (i64.shr_u (local.get $t) (i64.const 32))))
      (call $rnew (call $fnew) (i32.const 1) (i32.wrap_i64 (local.get $s))
        (i32.wrap_i64 (local.get $t)) (i32.const 48))
      (local.set $resp (i32.load (i32.const 48)))
      (if (call $rsetst (local.get $resp) (local.get $status)) (then unreachable))
      (call $ret (i32.const 0) (local.get $resp) (i32.const 0) (i64.const 0) (i32.const 0)
        (i32.const 0) (i32.const 0) (i32.const 0))
      (i32.wrap_i64 (i64.shr_u (local.get $s) (i64.const 32))))
    (func (export "handle") (param $req i32)
      (local $c i32) (local $in i32) (local $s i64) (local $w i32) (local $tf i64)
      (local $h i32) (local $q i32) (local $st i32) (local $ws i32) (local $ur i32)
      (local $e i32) (local $v i32)
      (call $path (local.get $req) (i32.const 16))
      (local.set $c (i32.load8_u (i32.add (i32.load (i32.const 20)) (i32.const 1))))
      (call $consume (local.get $req) (i32.wrap_i64 (call $rfnew)) (i32.const 40))
      (local.set $in (i32.load (i32.const 40)))
      (local.set $s (call $snew))
      (local.set $w (i32.wrap_i64 (i64.shr_u (local.get $s) (i64.const 32))))
      (local.set $tf (call $tfnew))
      (local.set $h (call $fnew))
      (if (i32.eq (local.get $c) (i32.const 108)) (then ;; "/l": content-length: 5
        (call $fappend (local.get $h) (i32.const 320) (i32.const 14) (i32.const 340)
          (i32.const 1) (i32.const 112))))
      (call $qnew (local.get $h) (i32.const 1) (i32.wrap_i64 (local.get $s))
        (i32.wrap_i64 (local.get $tf)) (i32.const 0) (i32.const 0) (i32.const 56))
      (local.set $q (i32.load (i32.const 56)))
      (if (call $setm (local.get $q) (i32.const 2) (i32.const 0) (i32.const 0)) (then unreachable))
      (if (i32.eq (local.get $c) (i32.const 104)) (then ;; "/h": https (h2) via nginx
        (drop (call $sets (local.get $q) (i32.const 1) (i32.const 1) (i32.const 0) (i32.const 0)))
        (drop (call $seta (local.get $q) (i32.const 1) (i32.const 260) (i32.const @ALEN2@))))
        (else
        (drop (call $sets (local.get $q) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0)))
        (drop (call $seta (local.get $q) (i32.const 1) (i32.const 200) (i32.const @ALEN@)))))
      (drop (call $setp (local.get $q) (i32.const 1) (i32.load (i32.const 20))
        (i32.load (i32.const 24))))
      ;; send first; the body streams to it as it is read, then the trailers, then its end
      (local.set $st (call $send (local.get $q) (i32.const 64)))
      (call $pump (local.get $in) (local.get $w))
      (drop (call $tfread (i32.load (i32.const 44)) (i32.const 400)))
      (drop (call $tfwrite (i32.wrap_i64 (i64.shr_u (local.get $tf) (i64.const 32)))
        (i32.const 400)))
      (call $sdrop-w (local.get $w))
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
      (local.set $st (call $rstatus (local.get $ur)))
      (call $rconsume (local.get $ur) (i32.wrap_i64 (call $rfnew)) (i32.const 96))
      (local.set $w (call $answer (local.get $st)))
      (call $pump (i32.load (i32.const 96)) (local.get $w))
      ;; the upstream's trailers (consume-body's future, resolved at the body's end) become
      ;; the answer's
      (drop (call $tfread (i32.load (i32.const 100)) (i32.const 480)))
      (drop (call $tfwrite (global.get $atw) (i32.const 480)))
      (call $sdrop-w (local.get $w))))
  (core instance $m (instantiate $M (with "" (instance
    (export "mem" (memory $mem "mem")) (export "fnew" (func $fnew))
    (export "fappend" (func $fappend)) (export "path" (func $path))
    (export "consume" (func $consume)) (export "qnew" (func $qnew)) (export "setm" (func $setm))
    (export "sets" (func $sets)) (export "seta" (func $seta)) (export "setp" (func $setp))
    (export "rnew" (func $rnew)) (export "rstatus" (func $rstatus)) (export "rsetst" (func $rsetst))
    (export "rconsume" (func $rconsume)) (export "send" (func $send))
    (export "snew" (func $snew)) (export "sread" (func $sread)) (export "swrite" (func $swrite))
    (export "sdrop-w" (func $sdrop-w)) (export "sdrop-r" (func $sdrop-r))
    (export "rfnew" (func $rfnew)) (export "tfnew" (func $tfnew))
    (export "tfread" (func $tfread)) (export "tfwrite" (func $tfwrite))
    (export "wsnew" (func $wsnew)) (export "join" (func $join)) (export "wait" (func $wait))
    (export "subdrop" (func $subdrop)) (export "ret" (func $ret))))))
  (func $handle async (param "request" (own $request))
    (result (result (own $response) (error $ec)))
    (canon lift (core func $m "handle") async (memory (core memory $mem "mem"))))
  (instance $hi (export "handle" (func $handle)))
  (export "wasi:http/handler@@VERSION@" (instance $hi)))
WAT
} | sed -e "s/@VERSION@/0.3.0/g" -e "s/@AUTH@/$AUTH/g" -e "s/@ALEN@/${#AUTH}/g" \
    -e "s/@AUTH2@/$AUTH2/g" -e "s/@ALEN2@/${#AUTH2}/g" >"$TMP/proxy.wat"
mkdir -p "$TMP/app"
check "the proxy parses" "$WT" parse "$TMP/proxy.wat" -o "$TMP/app/proxy.wasm"
check "the proxy validates" "$WT" validate --features all "$TMP/app/proxy.wasm"
cat >"$TMP/app/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "p3streambody"
[[trigger.http]]
route = "/..."
component = "front"
[component.front]
source = "proxy.wasm"
allowed_outbound_hosts = ["http://$AUTH", "https://$AUTH2"]
[component.front.tool.kiln]
request_timeout = "120s"
TOML
port=$(free_port)
URL="http://127.0.0.1:$port"
# (under ASan, a small quarantine: freed buffers would otherwise count in the RSS check)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8"
SSL_CERT_FILE="$CA/ca.pem" "$KILN" up -f "$TMP/app" --listen "127.0.0.1:$port" \
    --max-request-size 1g >"$TMP/out.log" 2>"$TMP/err.log" &
PID=$!
on_exit "kill $PID 2>/dev/null"
for _ in $(seq 300); do curl -fs "$URL/.well-known/kiln/health" >/dev/null && break; sleep 0.1; done

# The client: POST PATH with a chunked body of TOTAL bytes (a repeating pattern): half,
# a pause of PAUSE s, the rest, then a trailer field; prints one JSON line: the
# upstream's summary as the proxy answered it, the status, when the second half started
# (time.time()), the body's SHA-256, and (PID given) kiln's largest VmRSS seen meanwhile
# and before, in KiB. A 6th argument: no trailer field.
cat >"$TMP/client.py" <<'PY'
import hashlib, json, socket, sys, threading, time
port, path, total, pause, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
trailer = b"x-checksum: sent-last\r\n" if len(sys.argv) < 7 else b""
def rss():
    if pid == "-":
        return 0
    for l in open("/proc/%s/status" % pid):
        if l.startswith("VmRSS:"):
            return int(l.split()[1])
    return 0
before, peak, done = rss(), [0], [False]
def sample():
    while not done[0]:
        peak[0] = max(peak[0], rss())
        time.sleep(0.05)
t = threading.Thread(target=sample); t.start()
block = bytes(range(256)) * 256  # 64 KiB
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"POST %s HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n" % path.encode())
sha, sent, second = hashlib.sha256(), 0, None
def send(n):
    global sent
    while n:
        k = min(n, len(block))
        s.sendall(b"%x\r\n" % k + block[:k] + b"\r\n")
        sha.update(block[:k]); sent += k; n -= k
send(total // 2)
time.sleep(pause)
second = time.time()
send(total - total // 2)
s.sendall(b"0\r\n" + trailer + b"\r\n")
resp = b""
s.settimeout(60)
while b"\r\n\r\n" not in resp:
    d = s.recv(65536)
    if not d: break
    resp += d
head, _, body = resp.partition(b"\r\n\r\n")
status = int(head.split()[1]) if head else 0
cl = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
chunked = b"chunked" in head.lower()
while True:  # the proxy's response: whatever framing, read to its end
    if cl and len(body) >= int(cl[0].split(b":")[1]): break
    if chunked and body.endswith(b"0\r\n\r\n"): break
    d = s.recv(65536)
    if not d: break
    body += d
if chunked:  # de-chunk
    out, rest = b"", body
    while True:
        line, _, rest = rest.partition(b"\r\n")
        n = int(line.split(b";")[0], 16)
        if n == 0: break
        out += rest[:n]; rest = rest[n + 2:]
    body = out
done[0] = True; t.join()
try:
    up = json.loads(body)
except ValueError:
    up = {"raw": body.decode(errors="replace")}
print(json.dumps({"status": status, "up": up, "second": second, "sha": sha.hexdigest(),
                  "rss_before": before, "rss_peak": peak[0]}))
PY
# field JSON KEY...: a value out of the client's line
field() { python3 -c 'import json,sys
try: v=json.loads(sys.argv[1])
except ValueError: v = None
for k in sys.argv[2:]: v = v.get(k) if isinstance(v, dict) else None
print(v)' "$@" 2>&1; }

# HTTP/1.1: the first half reaches the upstream before the second is sent
out=$(timeout 60 python3 "$TMP/client.py" "$port" /s/one 131072 1.0 -)
expect_eq "HTTP/1.1: the upstream answered through the proxy" 200 "$(field "$out" status)"
early=$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); f=j["up"].get("first")
print("yes" if f is not None and f < j["second"] else "no: first %s, second sent %s" % (f, j["second"]))' "$out" 2>&1)
expect_eq "HTTP/1.1: the upstream had the first bytes before the client sent the second half" \
    yes "$early"
expect_eq "HTTP/1.1: the body went chunked" chunked "$(field "$out" up te)"
expect_eq "HTTP/1.1: ... without a Content-Length" None "$(field "$out" up cl)"
expect_eq "HTTP/1.1: the body whole" 131072 "$(field "$out" up len)"
expect_eq "HTTP/1.1: the body byte for byte" "$(field "$out" sha)" "$(field "$out" up sha)"
expect_eq "HTTP/1.1: the client's trailer field reached the upstream" sent-last \
    "$(field "$out" up trailers x-checksum)"

# 200 MiB through, with bounded memory
out=$(timeout 300 python3 "$TMP/client.py" "$port" /s/big $((200 << 20)) 0 "$PID")
expect_eq "200 MiB: the upstream answered" 200 "$(field "$out" status)"
expect_eq "200 MiB: the body whole" $((200 << 20)) "$(field "$out" up len)"
expect_eq "200 MiB: byte for byte" "$(field "$out" sha)" "$(field "$out" up sha)"
grow=$(python3 -c 'import json,sys; j=json.loads(sys.argv[1])
print((j["rss_peak"] - j["rss_before"]) // 1024 if j["rss_peak"] else "unmeasured")' "$out" 2>&1)
case "$grow" in
[0-9] | [0-6][0-9]) [ "$grow" -lt 64 ] && pass "200 MiB: kiln's RSS grew by $grow MiB (< 64)" ||
    fail "200 MiB: kiln's RSS grew by less than 64 MiB" "it grew by $grow MiB" ;;
*) fail "200 MiB: kiln's RSS grew by less than 64 MiB" "it grew by $grow MiB" ;;
esac

# HTTP/2 (nginx's h2 by ALPN): the first half before the second
out=$(timeout 60 python3 "$TMP/client.py" "$port" /h/two 131072 1.0 - notrailer)
expect_eq "HTTP/2: the upstream answered through nginx and the proxy" 200 "$(field "$out" status)"
early=$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); f=j["up"].get("first")
print("yes" if f is not None and f < j["second"] else "no: first %s, second sent %s" % (f, j["second"]))' "$out" 2>&1)
expect_eq "HTTP/2: the upstream had the first bytes before the client sent the second half" \
    yes "$early"
expect_eq "HTTP/2: the body byte for byte" "$(field "$out" sha)" "$(field "$out" up sha)"
expect_contains "HTTP/2: kiln spoke HTTP/2 to nginx" "HTTP/2.0 POST /h/two 200" \
    "$(cat "$TMP/access.log")"

# response trailers over HTTP/2 (nginx add_trailer: a last HEADERS frame): the proxy reads
# consume-body's trailers future and writes it to its answer's, the client gets them
# (without content-length); 10,000 of them: err(HTTP-response-trailer-section-size), the
# answer is aborted
out=$(curl -s --raw --max-time 20 -X POST --data-binary tr "$URL/htr" | tr -d '\r')
expect_contains "HTTP/2: the upstream's response trailers reach the guest and the client" \
    "x-up-trailer: done" "$out"
expect_not_contains "HTTP/2: ... without content-length" "content-length: 9" "$out"
curl -s -o /dev/null --max-time 20 -X POST --data-binary many "$URL/hmany"
rc=$?
if [ "$rc" -ne 0 ]; then pass "HTTP/2: 10,000 response trailer fields abort the answer (curl $rc)"
else fail "HTTP/2: 10,000 response trailer fields abort the answer" "curl exited 0"; fi

# a body longer than its content-length: HTTP-request-body-size, nothing hangs
out=$(curl -s --max-time 20 -X POST --data-binary 0123456789 "$URL/l/cl")
expect_eq "content-length 5, 10 bytes sent: error-code HTTP-request-body-size (17)" \
    "error-code 17" "$out"
out=$(timeout 60 python3 "$TMP/client.py" "$port" /s/after 1000 0 -)
expect_eq "the server serves on" 1000 "$(field "$out" up len)"
expect_not_contains "no sanitizer report (under SANITIZE=1)" "Sanitizer" "$(cat "$TMP/err.log")"

finish
