#!/usr/bin/env bash
# kiln up: the HTTP layer — keep-alive (100 requests, one connection), pipelining,
# HTTP/2 with prior knowledge and over TLS (ALPN), workers, limits (400, 413, 431),
# read timeouts and the graceful stop on SIGTERM.
source "$(dirname "$0")/../lib.sh"
GUESTS="$ROOT/tests/e2e/guests"

# start_up PORT ARGS...: runs kiln up in the background; waits until it answers.
start_up() {
    local port=$1 scheme=http
    shift
    case " $* " in *" --tls-cert "*) scheme=https ;; esac
    "$KILN" up -f "$TMP/app" --listen "127.0.0.1:$port" "$@" >"$TMP/up-$port.out" 2>"$TMP/up-$port.err" &
    UP_PID=$!
    on_exit "kill $UP_PID 2>/dev/null"
    for _ in $(seq 1 600); do
        curl -skf "$scheme://127.0.0.1:$port/.well-known/kiln/health" >/dev/null 2>&1 && return 0
        kill -0 "$UP_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
# raw PORT: sends stdin (LF turned into CRLF) as raw bytes, prints the first line of the
# answer (or "closed").
cat >"$TMP/raw.py" <<'EOF'
import socket, sys
data = sys.stdin.buffer.read().replace(b"\n", b"\r\n")
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(data)
out = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
except socket.timeout:
    pass
print(out.split(b"\r\n")[0].decode() if out else "closed")
EOF
raw() { python3 "$TMP/raw.py" "$1"; }

mkdir -p "$TMP/app"
if ! clang --target=wasm32-wasi --sysroot=/usr -O2 "$GUESTS/wagi_edge.c" -o "$TMP/app/edge.wasm"; then
    fail "guest builds (clang wasm32-wasi)"
    finish
    exit
fi
cat >"$TMP/app/kiln.toml" <<'EOF'
spin_manifest_version = 2
[application]
name = "http-layer"
[[trigger.http]]
route = "/..."
component = "edge"
executor = { type = "wagi" }
[component.edge]
source = "edge.wasm"
EOF

PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
if ! start_up "$PORT" --workers 2 --max-request-size 4K --read-timeout 1; then
    fail "kiln up starts" "$(cat "$TMP/up-$PORT.err")"
    finish
    exit
fi
MAIN_PID=$UP_PID

# a second server on the same address is refused, not let in beside the first
# (SO_REUSEPORT would share the port and its connections)
second=$(timeout 20 "$KILN" up -f "$TMP/app" --listen "127.0.0.1:$PORT" 2>&1)
expect_eq "a second kiln up on a busy port exits 1" "1" "$?"
expect_contains "and says the address is in use" "already in use" "$second"
expect_eq "the first still answers" "200" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/.well-known/kiln/health")"

# keep-alive: 100 requests over one connection
urls=()
for i in $(seq 1 100); do urls+=(-o /dev/null "$URL/count"); done
connects=$(curl -s -w '%{num_connects}\n' "${urls[@]}" | awk '{s += $1} END {print s}')
expect_eq "100 keep-alive requests use one connection" "1" "$connects"
urls=()
for i in $(seq 1 100); do urls+=("$URL/count"); done
answers=$(curl -s "${urls[@]}" | sort | uniq -c | awk '{print $1 "x" $2}')
expect_eq "100 keep-alive requests each answered 1" "100x1" "$answers"

# pipelining: two requests in one write, two answers in order
pipelined=$(python3 - "$PORT" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /count HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
out = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    out += d
print(out.count(b"HTTP/1.1 200 OK"), out.endswith(b"\r\n\r\n1\n"))
EOF
)
expect_eq "pipelined requests answered in order" "2 True" "$pipelined"

# HTTP/2 with prior knowledge (h2c)
if curl -V | grep -q HTTP2; then
    expect_eq "h2c body" "hello 1" "$(curl -s --http2-prior-knowledge "$URL/")"
    expect_eq "h2c protocol" "2" "$(curl -s --http2-prior-knowledge -o /dev/null -w '%{http_version}' "$URL/")"
    env=$(curl -s --http2-prior-knowledge "$URL/env")
    expect_contains "h2c SERVER_PROTOCOL" "SERVER_PROTOCOL=HTTP/2.0" "$env"
else
    fail "curl lacks HTTP2"
fi
# Many requests on one h2c connection, concurrent and later ones (Node's http2 client:
# curl 7.88 does not send a second request on a reused prior-knowledge connection).
h2=$(timeout 20 node -e '
const s = require("http2").connect(process.argv[1]);
const out = []; let n = 0;
const go = (i) => { const r = s.request({":path": "/"}); let d = "";
  r.on("data", (c) => d += c); r.on("end", () => { out[i] = d.trim(); if (++n === 6) { s.close(); console.log(out.join(",")); } });
  r.end(); };
for (let i = 0; i < 3; i++) go(i);
setTimeout(() => { for (let i = 3; i < 6; i++) go(i); }, 100);
' "$URL" 2>&1)
expect_eq "h2c: six requests on one connection (three at once, three later)" \
    "hello 1,hello 1,hello 1,hello 1,hello 1,hello 1" "$h2"

# limits
expect_eq "body over --max-request-size is 413" "413" \
    "$(head -c 5000 /dev/zero | curl -s -o /dev/null -w '%{http_code}' --data-binary @- "$URL/echo")"
expect_eq "chunked body over the limit is 413" "413" \
    "$(head -c 5000 /dev/zero | curl -s -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' --data-binary @- "$URL/echo")"
expect_eq "body under the limit is served" "3000" \
    "$(head -c 3000 /dev/zero | curl -s --data-binary @- "$URL/echo" | wc -c | tr -d ' ')"
big=$(head -c 40000 /dev/zero | tr '\0' a)
expect_eq "headers too large is 431" "431" "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $big" "$URL/")"
expect_eq "malformed request is 400" "HTTP/1.1 400 Bad Request" "$(printf 'GARBAGE\n\n' | raw "$PORT")"
expect_eq "malformed header is 400" "HTTP/1.1 400 Bad Request" "$(printf 'GET / HTTP/1.1\nHost: x\nno colon\n\n' | raw "$PORT")"
expect_eq "Content-Length with Transfer-Encoding is 400" "HTTP/1.1 400 Bad Request" \
    "$(printf 'POST /echo HTTP/1.1\nHost: x\nContent-Length: 3\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n' | raw "$PORT")"
expect_eq "broken Content-Length is 400" "HTTP/1.1 400 Bad Request" \
    "$(printf 'POST /echo HTTP/1.1\nHost: x\nContent-Length: x1\n\n' | raw "$PORT")"
expect_eq "server still serves" "hello 1" "$(curl -s "$URL/")"

# read timeout: a request head that never completes is dropped after --read-timeout
slow=$(python3 - "$PORT" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=6)
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
t = time.time()
d = s.recv(100)
print("closed" if d == b"" and time.time() - t < 5 else "open")
EOF
)
expect_eq "incomplete request times out" "closed" "$slow"

# graceful stop: an idle keep-alive connection does not keep the server alive forever
python3 - "$PORT" <<'EOF' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /count HTTP/1.1\r\nHost: x\r\n\r\n")
s.recv(1000)
time.sleep(4)
EOF
sleep 0.5
t0=$(date +%s)
kill -TERM "$MAIN_PID"
wait "$MAIN_PID"
expect_eq "SIGTERM exits 0" "0" "$?"
expect_eq "SIGTERM stops within the deadline" "1" "$(( $(date +%s) - t0 <= 6 ))"
expect_eq "port closed after stop" "000" "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$URL/" || true)"

# TLS: HTTP/2 through ALPN, HTTP/1.1 when asked
if openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
    -days 2 -subj /CN=localhost >/dev/null 2>&1; then
    TPORT=$(free_port)
    if start_up "$TPORT" --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem" --workers 1; then
        expect_contains "TLS prints an https URL" "Serving https://127.0.0.1:$TPORT" "$(cat "$TMP/up-$TPORT.out")"
        expect_eq "TLS body" "hello 1" "$(curl -sk "https://127.0.0.1:$TPORT/")"
        expect_eq "TLS negotiates h2" "2" "$(curl -sk -o /dev/null -w '%{http_version}' "https://127.0.0.1:$TPORT/")"
        h2urls=()
        for i in $(seq 1 20); do h2urls+=("https://127.0.0.1:$TPORT/count"); done
        expect_eq "20 requests on one h2 connection" "20" "$(curl -sk "${h2urls[@]}" | grep -c '^1$')"
        expect_eq "TLS HTTP/1.1" "1.1" "$(curl -sk --http1.1 -o /dev/null -w '%{http_version}' "https://127.0.0.1:$TPORT/")"
        expect_contains "TLS scheme in X_FULL_URL" "X_FULL_URL=https://127.0.0.1:$TPORT/env" "$(curl -sk "https://127.0.0.1:$TPORT/env")"
        kill -TERM "$UP_PID"
        wait "$UP_PID"
        expect_eq "TLS server SIGTERM exits 0" "0" "$?"
    else
        fail "kiln up with TLS starts" "$(cat "$TMP/up-$TPORT.err")"
    fi
    expect_contains "a missing key is refused" "tls-key" \
        "$("$KILN" up -f "$TMP/app" --listen 127.0.0.1:0 --tls-cert "$TMP/cert.pem" --tls-key /nonexistent 2>&1)"
else
    fail "openssl generates a test certificate"
fi
expect_contains "bad --listen refused" "listen" "$("$KILN" up -f "$TMP/app" --listen nonsense 2>&1)"
finish
