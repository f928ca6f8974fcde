#!/usr/bin/env bash
# Kiln's HTTP/2 codec (src/server/http2.c) over real sockets, cleartext prior knowledge and
# TLS (ALPN h2), with the wasi:http test handler c-http-spin: response trailers as a last
# HEADERS frame (nghttp -v shows them), request bodies streamed to the guest with flow-
# control backpressure (a 1 GiB upload with kiln's RSS bounded), a 100 MiB streamed
# response with kiln's RSS flat, many concurrent streams on one connection, HEAD, the
# codec's own answers (431, 413), protocol errors answered with GOAWAY, timeouts, Upgrade:
# h2c, a graceful stop
# with a stream open, and KILN_H2O_HTTP2=1 switching back to h2o's HTTP/2 (no trailers).
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/e2e/helpers/wasi_http.sh"
pass "tests/components/build.sh builds c-http and c-http-spin"

rss() { awk '/^VmRSS:/ {print int($2 / 1024)}' "/proc/$1/status"; }

# peak_during PID CMD...: runs CMD (its output to $TMP/peak.out) while sampling PID's RSS;
# prints "OUTPUT growth_mib=N after_mib=M".
peak_during() {
    local pid=$1 before peak=0 r
    shift
    before=$(rss "$pid")
    "$@" >"$TMP/peak.out" 2>&1 &
    local cpid=$!
    while kill -0 "$cpid" 2>/dev/null; do
        r=$(rss "$pid")
        [ "$r" -gt "$peak" ] && peak=$r
        sleep 0.1
    done
    wait "$cpid"
    r=$(rss "$pid")
    [ "$r" -gt "$peak" ] && peak=$r
    echo "$(tr -d '\n' <"$TMP/peak.out") growth_mib=$((peak - before)) after_mib=$((r - before))"
}

# bounded LABEL RESULT: RSS growth and what stays after under 64 MiB.
bounded() {
    local growth after
    growth=$(sed -n 's/.*growth_mib=\(-\?[0-9]*\).*/\1/p' <<<"$2")
    after=$(sed -n 's/.*after_mib=\(-\?[0-9]*\).*/\1/p' <<<"$2")
    if [ -n "$growth" ] && [ "$growth" -lt 64 ] && [ "$after" -lt 64 ]; then
        pass "$1: kiln's RSS grew by less than 64 MiB during and after it ($2)"
    else
        fail "$1: kiln's RSS grew by less than 64 MiB during and after it" "$2"
    fi
}

# h2raw.py PORT CMD: a raw HTTP/2 client for what curl and nghttp never send; prints the
# frames the server answers with (type:code), up to the GOAWAY.
cat >"$TMP/h2raw.py" <<'PY'
import socket, struct, sys

port, cmd = int(sys.argv[1]), sys.argv[2]
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

def frame(t, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([t, flags]) + struct.pack(">I", sid) + payload

def lit(name, value):  # HPACK literal without indexing, new name, no Huffman
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value

def req_block(path=b"/x/echo", method=b"GET"):
    return (lit(b":method", method) + lit(b":scheme", b"http") + lit(b":path", path) +
            lit(b":authority", b"x"))

s = socket.create_connection(("127.0.0.1", port), timeout=20)
if cmd == "bad-preface":
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")
else:
    s.sendall(PREFACE + frame(4, 0, 0))
    if cmd == "data-idle":  # DATA on a stream never opened
        s.sendall(frame(0, 1, 5, b"abc"))
    elif cmd == "even-stream":  # a client opening an even stream
        s.sendall(frame(1, 5, 2, req_block()))
    elif cmd == "flow":  # more DATA than the stream's window (1 MiB) allows
        # (the guest computes for seconds and never reads its body)
        s.sendall(frame(1, 4, 1, req_block(b"/x/cpu?m=5000", b"POST")))
        piece = frame(0, 0, 1, b"z" * 16384)
        try:
            for _ in range(80):
                s.sendall(piece)
        except OSError:
            pass
    elif cmd == "continuation-gap":  # HEADERS without END_HEADERS, then a PING
        s.sendall(frame(1, 1, 1, req_block()) + frame(6, 0, 0, b"12345678"))
    elif cmd == "bigbody":  # no content-length; the body grows past the limit (4 KiB)
        s.sendall(frame(1, 4, 1, req_block(b"/x/count", b"POST")))
        try:
            for _ in range(8):
                s.sendall(frame(0, 0, 1, b"b" * 1024))
        except OSError:
            pass
    elif cmd == "announced":  # content-length 5000 over the limit (4 KiB), then the body
        s.sendall(frame(1, 4, 1, req_block(b"/x/count", b"POST") + lit(b"content-length", b"5000")))
        try:
            for _ in range(5):
                s.sendall(frame(0, 0, 1, b"a" * 1000))
        except OSError:
            pass
    elif cmd == "stall":  # a body that stops coming
        s.sendall(frame(1, 4, 1, req_block(b"/x/count", b"POST")) + frame(0, 0, 1, b"0123456789"))
    elif cmd == "rapid-reset":  # streams opened and reset at once, again and again
        burst = b"".join(frame(1, 4, 2 * i + 1, req_block(b"/x/count", b"POST")) +
                         frame(3, 0, 2 * i + 1, struct.pack(">I", 8)) for i in range(300))
        try:
            s.sendall(burst)
        except OSError:
            pass
    elif cmd == "ping":
        s.sendall(frame(6, 0, 0, b"abcdefgh") + frame(7, 0, 0, struct.pack(">II", 0, 0)))
out, buf = [], b""
while True:
    try:
        d = s.recv(65536)
    except OSError:
        break
    if not d:
        break
    buf += d
    while len(buf) >= 9:
        n = struct.unpack(">I", b"\0" + buf[:3])[0]
        if len(buf) < 9 + n:
            break
        t, p = buf[3], buf[9:9 + n]
        buf = buf[9 + n:]
        if t == 7:
            out.append("GOAWAY:%d" % struct.unpack(">I", p[4:8])[0])
        elif t == 3:
            out.append("RST:%d" % struct.unpack(">I", p)[0])
        elif t == 0 and p:
            out.append("BODY:" + p.decode(errors="replace").strip())
        elif t == 6 and p == b"abcdefgh":
            out.append("PING-ACK")
    if any(o.startswith("GOAWAY") or o.startswith("RST") for o in out):
        break
print(" ".join(out))
PY
h2raw() { python3 "$TMP/h2raw.py" "$PORT" "$@"; }
H2="--http2-prior-knowledge"

wasi_http_app "$TMP/app" http2
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8"
serve "$TMP/app" big --max-request-size 2g
expect_eq "prior knowledge: HTTP/2" "2 200" \
    "$(curl -s $H2 -m 10 -o /dev/null -w '%{http_version} %{http_code}' "$URL/x/echo")"

# trailers
if command -v nghttp >/dev/null; then
    out=$(nghttp -v "$URL/x/trailers" 2>&1)
    expect_contains "nghttp: the body" "one
two" "$out"
    expect_contains "nghttp: trailer a" "x-trailer-a: alpha" "$out"
    expect_contains "nghttp: trailer b" "x-trailer-b: beta" "$out"
    expect_contains "the trailers end the stream (HEADERS with END_STREAM)" \
        "; END_STREAM | END_HEADERS" "$(grep -A1 'recv HEADERS frame <length=[0-9]*, flags=0x05' <<<"$out")"
    printf 'hello' >"$TMP/five.txt"
    expect_eq "a request's trailers reach a wasi:http 0.2 guest (future-trailers)" "x-req-sum: 5" \
        "$(nghttp -d "$TMP/five.txt" --trailer 'x-req-sum: 5' "$URL/x/req-trailers" 2>&1)"
else
    echo "SKIP nghttp checks: nghttp (Debian nghttp2-client, scripts/install-deps.sh) is not installed"
fi
expect_eq "curl: the body of a response with trailers" "one
two" "$(curl -s $H2 -m 10 "$URL/x/trailers")"

# request bodies stream
head -c 3000000 /dev/urandom >"$TMP/body.bin"
expect_eq "an upload with content-length: the guest counts its bytes" "3000000" \
    "$(curl -s $H2 -m 30 --data-binary @"$TMP/body.bin" "$URL/x/count")"
expect_eq "an upload without content-length, read with subscribe + block" "3000000" \
    "$(curl -s $H2 -m 30 -H 'Content-Length:' -T "$TMP/body.bin" -X POST "$URL/x/count?poll=1")"
expect_eq "the echo of a body" "$(sha256sum <"$TMP/body.bin")" \
    "$(curl -s $H2 -m 30 --data-binary @"$TMP/body.bin" "$URL/x/echo" | tail -c 3000000 | sha256sum)"
expect_eq "an empty body" "0" "$(curl -s $H2 -m 10 -X POST "$URL/x/count")"
r=$(peak_during "$PID" sh -c "head -c 1073741824 /dev/zero |
    curl -s $H2 -m 300 -T - -X POST '$URL/x/count'")
expect_contains "1 GiB streamed to a guest reading 64 KiB pieces" "1073741824 growth" "$r"
bounded "the 1 GiB upload" "$r"
r=$(peak_during "$PID" sh -c "curl -s $H2 -m 120 '$URL/x/big?mib=100' | wc -c")
expect_contains "a 100 MiB streamed response" "104857600 growth" "$r"
bounded "the 100 MiB response" "$r"

# many streams on one connection
if command -v nghttp >/dev/null; then
    urls=()
    for i in $(seq 1 60); do urls+=("$URL/x/echo?$i"); done
    expect_eq "60 concurrent streams on one connection (nghttp)" "60" \
        "$(nghttp "${urls[@]}" | grep -c '^GET /x/echo?')"
    expect_eq "3 responses of 1 MiB at once through 64 KiB windows (stream and connection)" \
        "3145728" "$(nghttp -w 16 -W 16 "$URL/x/big?mib=1" "$URL/x/big?mib=1&b" \
            "$URL/x/big?mib=1&c" | wc -c)"
fi
if command -v h2load >/dev/null; then
    out=$(h2load -n 2000 -c 4 -m 20 "$URL/hello/" 2>&1)
    expect_contains "h2load: 2000 requests, 20 streams at once per connection" \
        "2000 succeeded, 0 failed, 0 errored" "$out"
    echo "  h2load: $(grep -m1 'finished in' <<<"$out")"
    out=$(h2load -n 300 -c 1 -m 100 "$URL/x/echo" 2>&1)
    expect_contains "h2load: 100 streams at once on one connection" "300 succeeded, 0 failed" "$out"
else
    echo "SKIP h2load checks: h2load (Debian nghttp2-client) is not installed"
fi

# HEAD, the codec's own answers
expect_eq "HEAD: no body" "200 0" \
    "$(curl -s $H2 -m 10 -I -o /dev/null -w '%{http_code} %{size_download}' "$URL/x/big?mib=1")"
expect_eq "a 40 KB header block is 431" "431" \
    "$(curl -s $H2 -m 10 -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 40000 /dev/zero | tr '\0' a)" "$URL/x/echo")"
expect_contains "the codec's own answers have access-log lines" " 431 " "$(cat "$TMP/big.out")"

# protocol errors: GOAWAY with the right code
expect_eq "a bad preface: GOAWAY PROTOCOL_ERROR" "GOAWAY:1" "$(h2raw bad-preface)"
expect_eq "DATA on an idle stream: GOAWAY PROTOCOL_ERROR" "GOAWAY:1" "$(h2raw data-idle)"
expect_eq "an even stream id: GOAWAY PROTOCOL_ERROR" "GOAWAY:1" "$(h2raw even-stream)"
expect_eq "a frame between HEADERS and its CONTINUATION: GOAWAY PROTOCOL_ERROR" "GOAWAY:1" \
    "$(h2raw continuation-gap)"
expect_eq "PING is answered; the client's GOAWAY is answered with GOAWAY NO_ERROR" \
    "PING-ACK GOAWAY:0" "$(h2raw ping)"
expect_contains "DATA past the stream's window: FLOW_CONTROL_ERROR" "RST:3" "$(h2raw flow)"
expect_eq "300 streams opened and reset at once: GOAWAY ENHANCE_YOUR_CALM" "GOAWAY:11" \
    "$(h2raw rapid-reset)"
expect_eq "the server still serves" "2" "$(curl -s $H2 -m 10 --data-binary 'hi' "$URL/x/count")"

# Upgrade: h2c (cleartext, a request without a body): 101, then HTTP/2 on stream 1
expect_eq "curl --http2 on cleartext: upgraded to HTTP/2" "2 200" \
    "$(curl -s --http2 -m 10 -o /dev/null -w '%{http_version} %{http_code}' "$URL/x/echo")"
expect_eq "curl --http2 with a body: no upgrade, HTTP/1.1 answers" "5 1.1" \
    "$(curl -s --http2 -m 10 -d hello -w ' %{http_version}' "$URL/x/count" | tr -d '\n')"
if command -v nghttp >/dev/null; then
    out=$(nghttp -uv "$URL/x/trailers" 2>&1)
    expect_contains "nghttp -u: the upgrade succeeds" "HTTP Upgrade success" "$out"
    expect_contains "nghttp -u: the trailers on stream 1" "(stream_id=1) x-trailer-b: beta" "$out"
fi

# a graceful stop: an open stream finishes, then the server exits 0
curl -s $H2 -m 60 "$URL/x/cpu?m=300" >"$TMP/slow.out" &
CPID=$!
sleep 0.5
kill -TERM "$PID"
wait "$CPID"
expect_contains "a stream open at the stop finishes" "done 300" "$(cat "$TMP/slow.out")"
wait "$PID"
expect_eq "the server exits 0 after the drain" "0" "$?"

# the body limit
serve "$TMP/app" small --max-request-size 4k --read-timeout 1
expect_eq "an idle connection gets GOAWAY NO_ERROR after --read-timeout" "GOAWAY:0" "$(h2raw idle)"
expect_eq "a stream whose body stops coming: GOAWAY NO_ERROR after --read-timeout" "GOAWAY:0" \
    "$(h2raw stall)"
# (a raw client: curl 7.88 reports a 413 that a RST_STREAM NO_ERROR follows during its
# upload as a failure, 000, depending on how much it sent by then)
expect_eq "an announced body over --max-request-size is 413, then RST_STREAM NO_ERROR" \
    "BODY:413 Payload Too Large RST:0" "$(h2raw announced)"
expect_eq "a body without content-length growing past it: 413, then RST_STREAM NO_ERROR" \
    "BODY:413 Payload Too Large RST:0" "$(h2raw bigbody)"
kill "$PID"
wait "$PID" 2>/dev/null

# TLS (ALPN h2)
if openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
    -days 2 -subj /CN=localhost >/dev/null 2>&1; then
    PORT=$(free_port)
    "$KILN" up -f "$TMP/app" --listen "127.0.0.1:$PORT" --tls-cert "$TMP/cert.pem" \
        --tls-key "$TMP/key.pem" >"$TMP/tls.out" 2>"$TMP/tls.err" &
    PID=$!
    on_exit "kill $PID 2>/dev/null"
    T="https://127.0.0.1:$PORT"
    for _ in $(seq 300); do curl -fsk "$T/.well-known/kiln/health" >/dev/null && break; sleep 0.1; done
    expect_eq "TLS: --http2 negotiates h2" "2" \
        "$(curl -sk --http2 -m 30 -o /dev/null -w '%{http_version}' "$T/x/echo")"
    expect_eq "TLS: an upload streamed to the guest" "3000000" \
        "$(curl -sk --http2 -m 30 --data-binary @"$TMP/body.bin" "$T/x/count")"
    if command -v nghttp >/dev/null; then
        expect_contains "TLS: nghttp sees the trailers" "x-trailer-b: beta" "$(nghttp -v "$T/x/trailers" 2>&1)"
    fi
    kill "$PID"
    wait "$PID" 2>/dev/null
else
    fail "openssl generates a test certificate"
fi

# KILN_H2O_HTTP2=1: h2o's HTTP/2 again (whole bodies, no trailers)
KILN_H2O_HTTP2=1 serve "$TMP/app" legacy
expect_eq "KILN_H2O_HTTP2=1: h2o's HTTP/2 serves" "3000000" \
    "$(curl -s $H2 -m 30 --data-binary @"$TMP/body.bin" "$URL/x/count")"
if command -v nghttp >/dev/null; then
    out=$(nghttp -v "$URL/x/trailers" 2>&1)
    expect_contains "KILN_H2O_HTTP2=1: the body" "two" "$out"
    expect_eq "KILN_H2O_HTTP2=1: no trailers" "0" "$(grep -c 'x-trailer-a' <<<"$out")"
fi
finish
