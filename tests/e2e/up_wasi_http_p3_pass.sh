#!/usr/bin/env bash
# up_wasi_http_p3_pass.sh — wasi:http 0.3 bodies passed on unread (the proxy pattern): a
# stream (and its trailers future) a host function gave the guest, handed as it is to
# another host function, so that the host holds both its ends and the runtime moves the
# bytes (src/component/stream.c's pumps; before, no byte moved: a 504 or a cut response).
#   - a WAT handler passes request.consume-body's stream and trailers future straight to
#     response.new: a 200 MiB chunked upload comes back byte for byte while kiln's RSS
#     grows by less than 64 MiB (the host's buffers stay bounded), and a short one too;
#   - py-proxy-p3 (componentize-py, tests/components/build.sh) with x-pass: request
#     passes the request's body into request.new for wasi:http/client.send (the upstream,
#     tests/e2e/helpers/p3_upstream.py, gets it), with x-pass: response passes send's
#     response body on as its own, and both.
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
cat >"$TMP/pass.wat" <<'WAT'
(component
  (import "wasi:http/types@0.3.0" (instance $types
    (export "fields" (type $fields (sub resource)))
    (export "request" (type $request (sub resource)))
    (export "response" (type $response (sub resource)))
    (type $ec0 (variant (case "DNS-timeout") (case "internal-error" (option string))))
    (export "error-code" (type $ec (eq $ec0)))
    (export "[constructor]fields" (func (result (own $fields))))
    (export "[static]request.consume-body" (func (param "this" (own $request))
      (param "res" (future (result (error $ec))))
      (result (tuple (stream u8) (future (result (option (own $fields)) (error $ec)))))))
    (export "[static]response.new" (func (param "headers" (own $fields))
      (param "contents" (option (stream u8)))
      (param "trailers" (future (result (option (own $fields)) (error $ec))))
      (result (tuple (own $response) (future (result (error $ec)))))))))
  (alias export $types "fields" (type $fields))
  (alias export $types "request" (type $request))
  (alias export $types "response" (type $response))
  (alias export $types "error-code" (type $ec))
  (type $FR (future (result (error $ec))))
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (core func $fnew (canon lower (func $types "[constructor]fields")))
  (core func $consume (canon lower (func $types "[static]request.consume-body")
    (memory (core memory $mem "mem"))))
  (core func $rnew (canon lower (func $types "[static]response.new")
    (memory (core memory $mem "mem"))))
  (core func $frnew (canon future.new $FR))
  (core func $ret (canon task.return (result (result (own $response) (error $ec))) (memory (core memory $mem "mem"))))
  (core module $M
    (import "" "mem" (memory 1))
    (import "" "fnew" (func $fnew (result i32)))
    (import "" "consume" (func $consume (param i32 i32 i32)))
    (import "" "rnew" (func $rnew (param i32 i32 i32 i32 i32)))
    (import "" "frnew" (func $frnew (result i64)))
    (import "" "ret" (func $ret (param i32 i32 i32 i32 i32)))
    ;; the request's body stream and trailers future become the response's, unread
    (func (export "handle") (param $req i32)
      (call $consume (local.get $req) (i32.wrap_i64 (call $frnew)) (i32.const 32))
      (call $rnew (call $fnew) (i32.const 1) (i32.load (i32.const 32)) (i32.load (i32.const 36))
        (i32.const 48))
      (call $ret (i32.const 0) (i32.load (i32.const 48)) (i32.const 0) (i32.const 0) (i32.const 0))))
  (core instance $m (instantiate $M (with "" (instance
    (export "mem" (memory $mem "mem")) (export "fnew" (func $fnew))
    (export "consume" (func $consume)) (export "rnew" (func $rnew))
    (export "frnew" (func $frnew)) (export "ret" (func $ret))))))
  (func $handle async (param "request" (own $request))
    (result (result (own $response) (error $ec)))
    (canon lift (core func $m "handle") async (memory (core memory $mem "mem"))))
  (instance $hi (export "handle" (func $handle)))
  (export "wasi:http/handler@0.3.0" (instance $hi)))
WAT
check "the pass-through handler parses" "$WT" parse "$TMP/pass.wat" -o "$TMP/app/handler.wasm"
cat >"$TMP/app/spin.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "pass"
[[trigger.http]]
route = "/..."
component = "pass"
[component.pass]
source = "handler.wasm"
[component.pass.tool.kiln]
request_timeout = "120s"
TOML

# up APP LOG ARGS...: kiln up serving APP on a free port (URL, PID), once its own
# "Serving" line is out (another test's server may take a port between two runs).
up() {
    local app=$1 log=$2
    shift 2
    port=$(free_port)
    URL="http://127.0.0.1:$port"
    "$KILN" up -f "$app" --listen "127.0.0.1:$port" "$@" >"$TMP/$log.out" 2>"$TMP/$log.err" &
    PID=$!
    on_exit "kill $PID 2>/dev/null"
    for _ in $(seq 600); do
        grep -q "^Serving $URL" "$TMP/$log.out" 2>/dev/null && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    fail "kiln up $app serves" "$(tail -5 "$TMP/$log.err")"
    finish
    exit 1
}

# `upload PORT PID MIB`: MIB MiB sent chunked (a counting pattern), the echo read as it
# comes and compared, kiln's RSS sampled; prints the status, the bytes that came back,
# whether they matched, and the RSS growth.
cat >"$TMP/raw.py" <<'PY'
import socket, sys, threading
port, pid, mib = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def rss():
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
piece = bytes(range(256)) * 4096  # 1 MiB
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(60)
before, peak = rss(), [0]
def send():
    s.sendall(b"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    for i in range(mib):
        s.sendall(b"100000\r\n" + piece + b"\r\n")
        if i % 16 == 0:
            peak[0] = max(peak[0], rss())
    s.sendall(b"0\r\n\r\n")
t = threading.Thread(target=send)
t.start()
f = s.makefile("rb")
status = f.readline().decode().rstrip("\r\n")
while f.readline() not in (b"\r\n", b""):
    pass
got, ok = 0, True
while True:
    size = int(f.readline().split(b";")[0], 16)
    if not size:
        break
    data = f.read(size)
    f.readline()
    ramp = bytes(range(256)) * (len(data) // 256 + 2)  # the pattern from byte `got` on
    if ok and data != ramp[got % 256:got % 256 + len(data)]:
        ok = False
    got += len(data)
t.join()
peak[0] = max(peak[0], rss())
print(status, got, "match" if ok else "differ", "growth_mib=%d" % (peak[0] - before))
PY
# (under ASan, a small quarantine: freed buffers would otherwise count in the RSS check)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8"

up "$TMP/app" pass --max-request-size 1g
out=$(curl -s --max-time 20 -D "$TMP/h.txt" --data-binary "abc" "$URL/p")
expect_eq "a request body passed unread to response.new comes back" "abc" "$out"
expect_contains "... with 200" "HTTP/1.1 200" "$(cat "$TMP/h.txt")"
out=$(curl -s --max-time 20 -X POST "$URL/p")
expect_eq "an empty body passed on" "" "$out"
r=$(python3 "$TMP/raw.py" "$port" "$PID" ${PASS_MIB:-200})
expect_contains "200 MiB passed through unread, byte for byte" \
    "HTTP/1.1 200 OK 209715200 match" "$r"
growth=$(sed -n 's/.*growth_mib=\(-\?[0-9]*\).*/\1/p' <<<"$r")
if [ -n "$growth" ] && [ "$growth" -lt 64 ]; then
    pass "200 MiB passed through: kiln's RSS grew by less than 64 MiB ($r)"
else
    fail "200 MiB passed through: kiln's RSS grew by less than 64 MiB" "$r"
fi
kill "$PID" 2>/dev/null
wait "$PID" 2>/dev/null

# ---- py-proxy-p3: a body passed into an outbound request, and a response's passed on ----
mkdir -p "$TMP/corpus" "$TMP/proxy"
if ! "$ROOT/tests/components/build.sh" "$TMP/corpus" py-proxy-p3 >"$TMP/build.log" 2>&1; then
    fail "tests/components/build.sh py-proxy-p3" "$(tail -20 "$TMP/build.log")"
    finish
    exit 1
fi
UP_PORT=$(free_port)
python3 "$ROOT/tests/e2e/helpers/p3_upstream.py" "$UP_PORT" >"$TMP/up.log" 2>&1 &
UP_PID=$!
on_exit "kill $UP_PID 2>/dev/null"
cp "$TMP/corpus/py-proxy-p3.wasm" "$TMP/proxy/handler.wasm"
cat >"$TMP/proxy/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "proxy"
[[trigger.http]]
route = "/..."
component = "proxy"
[component.proxy]
source = "handler.wasm"
allowed_outbound_hosts = ["http://127.0.0.1:$UP_PORT"]
TOML
up "$TMP/proxy" proxy --request-timeout 10s
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$UP_PORT") 2>/dev/null && break; sleep 0.1; done
for p in none request response both; do
    code=$(curl -s --max-time 20 -o "$TMP/body.$p" -D "$TMP/h.$p" -w '%{http_code}' \
        -H "x-upstream: 127.0.0.1:$UP_PORT" -H "x-pass: $p" --data-binary abc "$URL/proxy/x")
    expect_eq "py-proxy-p3, x-pass: $p: the upstream's status" 203 "$code"
    expect_eq "py-proxy-p3, x-pass: $p: the body went to the upstream and back" abc \
        "$(cat "$TMP/body.$p")"
done
# a larger body passed into the outbound request
head -c 3145728 /dev/urandom >"$TMP/big.bin"
curl -s --max-time 30 -o "$TMP/big.got" -H "x-upstream: 127.0.0.1:$UP_PORT" \
    -H "x-pass: both" --data-binary @"$TMP/big.bin" "$URL/proxy/x"
check "py-proxy-p3, x-pass: both: 3 MiB there and back, byte for byte" \
    cmp "$TMP/big.bin" "$TMP/big.got"
kill "$PID" 2>/dev/null
wait "$PID" 2>/dev/null
finish
