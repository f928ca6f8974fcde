#!/usr/bin/env bash
# Kiln's HTTP/1.x codec (src/server/http1.c) over real sockets, with the wasi:http test
# handler c-http-spin: request bodies stream to the guest as they arrive (a chunked upload;
# a 1 GiB upload generated on the fly that the guest reads in pieces, with kiln's RSS
# bounded during and after it, in both the blocking-read and the subscribe/poll form),
# trailers after the last chunk, pipelined requests answered in order, Expect:
# 100-continue, HEAD, HTTP/1.0, keep-alive after a body the handler did not read, and the
# codec's own answers: a malformed head 400, an oversized head 431, oversized bodies 413
# (announced, and chunked while it streams), counted in /metrics.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/e2e/helpers/wasi_http.sh"
pass "tests/components/build.sh builds c-http and c-http-spin"

# h1.py PORT CMD: raw-socket clients (prints what the test compares).
cat >"$TMP/h1.py" <<'PY'
import socket, sys, time

port, cmd = int(sys.argv[1]), sys.argv[2]

def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    return s

def read_response(f):
    """One response from file f: (status line, headers dict, body, trailers)."""
    status = f.readline().decode().rstrip("\r\n")
    headers = {}
    while True:
        line = f.readline().decode().rstrip("\r\n")
        if not line:
            break
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    body, trailers = b"", {}
    if headers.get("transfer-encoding") == "chunked":
        while True:
            n = int(f.readline().strip(), 16)
            if n == 0:
                break
            body += f.read(n)
            f.readline()
        while True:
            line = f.readline().decode().rstrip("\r\n")
            if not line:
                break
            k, v = line.split(":", 1)
            trailers[k.strip().lower()] = v.strip()
    elif "content-length" in headers:
        body = f.read(int(headers["content-length"]))
    elif not status.startswith("HTTP/1.1 1"):
        body = f.read()
    return status, headers, body, trailers

def rss(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return -1

if cmd == "trailers":
    s = conn()
    s.sendall(b"GET /x/trailers HTTP/1.1\r\nHost: x\r\n\r\n")
    st, h, body, tr = read_response(s.makefile("rb"))
    print(st, h.get("transfer-encoding"), body.decode().replace("\n", "|"),
          "a=%s b=%s" % (tr.get("x-trailer-a"), tr.get("x-trailer-b")))
elif cmd == "req-trailers":  # a chunked request with trailers (wasi:http 0.2 future-trailers)
    s = conn()
    s.sendall(b"POST /x/req-trailers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
              b"Trailer: x-req-sum\r\n\r\n5\r\nhello\r\n0\r\nx-req-sum: 5\r\n"
              b"X-Req-Note: two words\r\n\r\n")
    st, h, body, tr = read_response(s.makefile("rb"))
    print(st, body.decode().replace("\n", "|"))
elif cmd == "trailers-raw":  # the bytes after the last data chunk
    s = conn()
    s.sendall(b"GET /x/trailers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    print(repr(data[data.index(b"\r\n0\r\n") + 2:]))
elif cmd == "pipeline":
    s = conn()
    s.sendall(b"GET /x/echo?1 HTTP/1.1\r\nHost: x\r\n\r\n"
              b"POST /x/count HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
              b"POST /x/count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
              b"GET /x/echo?4 HTTP/1.1\r\nHost: x\r\n\r\n")
    f = s.makefile("rb")
    out = []
    for _ in range(4):
        st, h, body, tr = read_response(f)
        out.append(st.split()[1] + ":" + body.decode().split("\n")[0])
    print(" ".join(out))
elif cmd == "continue":
    s = conn()
    s.sendall(b"POST /x/count HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    f = s.makefile("rb")
    first = f.readline().decode().rstrip("\r\n")
    f.readline()
    s.sendall(b"hello")
    st, h, body, tr = read_response(f)
    print(first, "/", st, body.decode().strip())
elif cmd == "head":
    s = conn()
    s.sendall(b"HEAD /x/big?mib=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /x/echo HTTP/1.1\r\nHost: x\r\n\r\n")
    f = s.makefile("rb")
    status = f.readline().decode().rstrip("\r\n")
    while f.readline() not in (b"\r\n", b""):
        pass
    st, h, body, tr = read_response(f)  # right after the head: no body in between
    print(status, "/", st, body.decode().split("\n")[0])
elif cmd == "http10":
    s = conn()
    s.sendall(b"GET /x/trailers HTTP/1.0\r\nHost: x\r\n\r\n")
    st, h, body, tr = read_response(s.makefile("rb"))
    print(st, h.get("connection"), h.get("transfer-encoding"), body.decode().replace("\n", "|"))
elif cmd == "unread":  # a body the handler does not read, then the next request
    s = conn()
    s.sendall(b"POST /hello/ HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n")
    s.sendall(b"y" * 300000)
    f = s.makefile("rb")
    st1 = read_response(f)[0]
    s.sendall(b"GET /x/echo HTTP/1.1\r\nHost: x\r\n\r\n")
    st, h, body, tr = read_response(f)
    print(st1, "/", st, body.decode().split("\n")[0])
elif cmd in ("malformed", "bighead", "bigbody", "bigchunked", "expect"):
    s = conn()
    if cmd == "malformed":
        s.sendall(b"GET / HTTP/1.1\r\nHost x\r\n\r\n")
    elif cmd == "expect":
        s.sendall(b"POST /x/count HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\nx")
    elif cmd == "bighead":
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n")
    elif cmd == "bigbody":
        s.sendall(b"POST /x/count HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
    else:
        s.sendall(b"POST /x/count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(10):
                s.sendall(b"400\r\n" + b"z" * 1024 + b"\r\n")
                time.sleep(0.05)
        except OSError:
            pass
    st, h, body, tr = read_response(s.makefile("rb"))
    print(st, h.get("connection"))
elif cmd.startswith("upload"):  # upload[-poll] PID MIB: a chunked upload made on the fly
    pid, mib = int(sys.argv[3]), int(sys.argv[4])
    path = {"upload-poll": "/x/count?poll=1", "upload-moved": "/x/cpu-count"}.get(cmd, "/x/count")
    s = conn()
    s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" % path).encode())
    piece = b"u" * (1 << 20)
    chunk = b"100000\r\n" + piece + b"\r\n"
    before, peak, t0 = rss(pid), 0, time.monotonic()
    for i in range(mib):
        s.sendall(chunk)
        if i % 64 == 0:
            peak = max(peak, rss(pid))
    s.sendall(b"0\r\n\r\n")
    st, h, body, tr = read_response(s.makefile("rb"))
    peak = max(peak, rss(pid))
    print(st, body.decode().strip(), "growth_mib=%d" % (peak - before),
          "after_mib=%d" % (rss(pid) - before), "secs=%.1f" % (time.monotonic() - t0))
PY
h1() { python3 "$TMP/h1.py" "$PORT" "$@"; }

wasi_http_app "$TMP/app" http1
# (under ASan, a small quarantine: freed buffers would otherwise count in the RSS check)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8"
serve "$TMP/app" big --max-request-size 2g

# streamed request bodies
head -c 3000000 /dev/urandom >"$TMP/body.bin"
expect_eq "a chunked upload: the guest counts its bytes" "3000000" \
    "$(curl -s -m 30 -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/body.bin" "$URL/x/count")"
expect_eq "a Content-Length upload, read with subscribe + block" "3000000" \
    "$(curl -s -m 30 --data-binary @"$TMP/body.bin" "$URL/x/count?poll=1")"
expect_eq "an empty body" "0" "$(curl -s -m 10 -X POST "$URL/x/count")"
expect_eq "the echo of a body still whole" "$(sha256sum <"$TMP/body.bin")" \
    "$(curl -s -m 30 --data-binary @"$TMP/body.bin" "$URL/x/echo" | tail -c 3000000 | sha256sum)"

# 1 GiB through a guest reading it in 64 KiB pieces: kiln holds a bounded amount
for mode in upload upload-poll; do
    r=$(h1 "$mode" "$PID" 1024)
    expect_contains "$mode: 1 GiB counted by the guest" "HTTP/1.1 200 OK 1073741824 " "$r"
    growth=$(sed -n 's/.*growth_mib=\(-\?[0-9]*\).*/\1/p' <<<"$r")
    after=$(sed -n 's/.*after_mib=\(-\?[0-9]*\).*/\1/p' <<<"$r")
    if [ -n "$growth" ] && [ "$growth" -lt 64 ] && [ "$after" -lt 64 ]; then
        pass "$mode: kiln's RSS grew by less than 64 MiB during and after the upload ($r)"
    else
        fail "$mode: kiln's RSS grew by less than 64 MiB during and after the upload" "$r"
    fi
done

# a guest that computes past --inline-budget first reads its body from an executor thread
# (each read hops to the loop; it waits on the body's eventfd there)
kill "$PID"
wait "$PID" 2>/dev/null
serve "$TMP/app" moved --max-request-size 2g --inline-budget 5ms --workers 1
r=$(h1 upload-moved "$PID" 64)
expect_contains "a guest moved to an executor thread counts a 64 MiB chunked upload" \
    "HTTP/1.1 200 OK 67108864 " "$r"
expect_contains "the guest was moved" "it goes on on an executor thread" "$(cat "$TMP/moved.err")"

# trailers, pipelining, 100-continue, HEAD, HTTP/1.0, unread bodies
expect_eq "trailers after the last chunk (a raw client)" \
    "HTTP/1.1 200 OK chunked one|two| a=alpha b=beta" "$(h1 trailers)"
expect_eq "the bytes after the last data chunk" \
    "b'0\\r\\nx-trailer-a: alpha\\r\\nx-trailer-b: beta\\r\\n\\r\\n'" "$(h1 trailers-raw)"
trailer=$(curl -s -m 10 --raw "$URL/x/trailers" | tr -d '\r' | grep -c '^x-trailer-')
expect_eq "curl sees both trailers" "2" "$trailer"
expect_eq "a request's trailers reach the guest (incoming-body.finish's future-trailers)" \
    "HTTP/1.1 200 OK x-req-sum: 5|x-req-note: two words|" "$(h1 req-trailers)"
expect_eq "a request without trailers: the future gives none" "no trailers" \
    "$(curl -s -m 10 -H 'Transfer-Encoding: chunked' --data-binary abc "$URL/x/req-trailers")"
expect_eq "HTTP/2: the body of a response with trailers is whole (up_http2.sh: the trailers)" "one
two" "$(curl -s -m 10 --http2-prior-knowledge "$URL/x/trailers")"
expect_eq "four pipelined requests (bodies Content-Length and chunked) answered in order" \
    "200:GET /x/echo?1 200:5 200:3 200:GET /x/echo?4" "$(h1 pipeline)"
expect_eq "Expect: 100-continue gets 100 before the body is sent" \
    "HTTP/1.1 100 Continue / HTTP/1.1 200 OK 5" "$(h1 continue)"
expect_eq "HEAD: a head without a body, the connection goes on" \
    "HTTP/1.1 200 OK / HTTP/1.1 200 OK GET /x/echo" "$(h1 head)"
expect_eq "HTTP/1.0: close-delimited, not chunked" "HTTP/1.1 200 OK close None one|two|" "$(h1 http10)"
expect_eq "a body the handler did not read is skipped: keep-alive goes on" \
    "HTTP/1.1 200 OK / HTTP/1.1 200 OK GET /x/echo" "$(h1 unread)"

# the codec's own answers
expect_eq "a malformed head is 400" "HTTP/1.1 400 Bad Request close" "$(h1 malformed)"
expect_eq "a 40 KB head is 431" "HTTP/1.1 431 Request Header Fields Too Large close" "$(h1 bighead)"
expect_contains "the codec's own answers have access-log lines" " 431 " "$(cat "$TMP/moved.out")"
kill "$PID"
wait "$PID" 2>/dev/null
APORT=$(free_port)
serve "$TMP/app" small --max-request-size 4k --admin "127.0.0.1:$APORT"
expect_eq "an announced body over --max-request-size is 413" \
    "HTTP/1.1 413 Payload Too Large close" "$(h1 bigbody)"
expect_eq "a malformed head is 400 (again)" "HTTP/1.1 400 Bad Request close" "$(h1 malformed)"
expect_eq "an unknown Expect is 417" "HTTP/1.1 417 Expectation Failed close" "$(h1 expect)"
# the codec's own answers count as requests no route served
H='http_server_request_duration_seconds_count{component="",http_route=""'
M=$(curl -s -m 5 "http://127.0.0.1:$APORT/metrics")
expect_contains "/metrics counts the 413 and the 417 (method POST, no route)" \
    "$H,http_request_method=\"POST\",http_response_status_class=\"4xx\"} 2" "$M"
expect_contains "/metrics counts the malformed head's 400 (method _OTHER)" \
    "$H,http_request_method=\"_OTHER\",http_response_status_class=\"4xx\"} 1" "$M"
expect_eq "a chunked body growing past --max-request-size is 413 while it streams" \
    "HTTP/1.1 413 Payload Too Large close" "$(h1 bigchunked)"
expect_eq "the server still serves" "2" "$(curl -s -m 10 --data-binary 'hi' "$URL/x/count")"
# Upgrade: h2c on a request with a body is ignored (up_http2.sh: the upgrade without one)
expect_eq "curl --http2 on cleartext (Upgrade: h2c) is answered over HTTP/1.1" "1.1 200 5" \
    "$(curl -s --http2 -m 10 -d hello -w ' %{http_version} %{http_code}' "$URL/x/count" | tr -d '\n' |
        awk '{print $2, $3, $1}')"
finish
