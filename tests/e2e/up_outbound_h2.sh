#!/usr/bin/env bash
# Outbound HTTP/2 (host/wasihttp/client_h2.c): a guest's https requests to an nginx upstream
# that offers h2 by ALPN (TLS with a test CA made here, trusted through SSL_CERT_FILE).
#   - a fan-out of 20 requests at once goes over ONE HTTP/2 connection (nginx's access
#     log: the protocol and $connection of each request), and a later request reuses it;
#   - a large response body (2 MiB, past every flow-control window) arrives intact;
#   - a large request body (1 MB: sent as the peer's windows open) arrives intact (nginx
#     proxies it to a Python upstream that answers its length and SHA-256);
#   - an upstream that sends GOAWAY after 5 requests (nginx keepalive_requests): the
#     requests it did not process are sent again on new connections, each served once;
#   - an upstream allowing 4 concurrent streams: a fan-out of 20 spread over connections;
#   - an upstream with TLS but no h2 is still served over HTTP/1.1, its idle connection
#     pooled (three requests, one connection).
source "$(dirname "$0")/../lib.sh"

if ! command -v nginx >/dev/null 2>&1; then
    fail "nginx" "nginx is missing: scripts/install-deps.sh installs the nginx package"
    finish
    exit
fi
CORPUS="$KILN_BUILD/components"
if ! out=$("$ROOT/tests/components/build.sh" "$CORPUS" c-outbound 2>&1); then
    fail "tests/components/build.sh builds c-outbound" "$out"
    finish
    exit
fi
pass "tests/components/build.sh builds c-outbound"

source "$(dirname "$0")/helpers/testca.sh"
CA=$TMP/ca
if ! testca "$CA"; then
    fail "a test CA (openssl)" "openssl failed"
    finish
    exit
fi

# the Python upstream behind nginx's /echo: answers the body's length and SHA-256
cat >"$TMP/echo.py" <<'PY'
import hashlib, http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def do_POST(self):
        n = int(self.headers.get("content-length", "0"))
        data = self.rfile.read(n)
        body = ("len=%d sha256=%s" % (len(data), hashlib.sha256(data).hexdigest())).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
ECHO_PORT=$(free_port)
python3 "$TMP/echo.py" "$ECHO_PORT" &
on_exit "kill $! 2>/dev/null"

mkdir -p "$TMP/www"
head -c 2097152 /dev/urandom >"$TMP/www/big.bin"
printf hi >"$TMP/www/tr.txt"
# 10,000 response trailer fields (add_trailer lines), sent as the stream's last HEADERS
for i in $(seq -w 1 10000); do echo "        add_trailer x-t$i vvvvvvvvvv;"; done >"$TMP/many.conf"
H2_PORT=$(free_port)
H1_PORT=$(free_port)
GA_PORT=$(free_port)
MS_PORT=$(free_port)
# (as root, nginx's workers would run as nobody, who cannot read $TMP)
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
    log_format proto '\$server_port \$server_protocol \$connection \$request_method \$uri \$status';
    access_log $TMP/access.log proto;
    client_body_temp_path $TMP/nginx-body;
    proxy_temp_path $TMP/nginx-proxy;
    fastcgi_temp_path $TMP/nginx-fastcgi;
    uwsgi_temp_path $TMP/nginx-uwsgi;
    scgi_temp_path $TMP/nginx-scgi;
    client_max_body_size 16m;
    ssl_certificate $CA/server.pem;
    ssl_certificate_key $CA/server.key;
    server {
        listen 127.0.0.1:$H2_PORT ssl http2;
        root $TMP/www;
        location = /hello { return 200 "hello over h2"; }
        location = /echo { proxy_pass http://127.0.0.1:$ECHO_PORT; }
        location = /tr.txt { add_trailer x-sum 42; add_trailer content-length 5; add_trailer x-done yes; }
        location = /many/tr.txt { alias $TMP/www/tr.txt;
$(cat "$TMP/many.conf")
        }
    }
    server {
        listen 127.0.0.1:$GA_PORT ssl http2;
        keepalive_requests 5;
        location = /hello { return 200 "hello, then GOAWAY"; }
    }
    server {
        listen 127.0.0.1:$MS_PORT ssl http2;
        http2_max_concurrent_streams 4;
        location = /hello { return 200 "hello, 4 streams at most"; }
    }
    server {
        listen 127.0.0.1:$H1_PORT ssl;
        location = /hello { return 200 "hello over http/1.1"; }
    }
}
NGINX
nginx -e "$TMP/nginx-error.log" -p "$TMP" -c "$TMP/nginx.conf" &
on_exit "kill $! 2>/dev/null"
for _ in $(seq 100); do
    curl -s --cacert "$CA/ca.pem" "https://127.0.0.1:$H2_PORT/probe" >/dev/null && break
    sleep 0.1
done
# (the probe's log line may come after this: it is /probe, which nothing below counts)
: >"$TMP/access.log"

mkdir -p "$TMP/app"
cp "$CORPUS/c-outbound.wasm" "$TMP/app/"
cat >"$TMP/app/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "h2"
[[trigger.http]]
route = "/..."
component = "out"
[component.out]
source = "c-outbound.wasm"
allowed_outbound_hosts = ["https://127.0.0.1:$H2_PORT", "https://127.0.0.1:$H1_PORT",
  "https://127.0.0.1:$GA_PORT", "https://127.0.0.1:$MS_PORT"]
TOML
port=$(free_port)
URL="http://127.0.0.1:$port"
SSL_CERT_FILE="$CA/ca.pem" "$KILN" up -f "$TMP/app" --listen "127.0.0.1:$port" \
    >"$TMP/up.out" 2>"$TMP/up.err" &
on_exit "kill $! 2>/dev/null"
for _ in $(seq 300); do curl -fs "$URL/.well-known/kiln/health" >/dev/null && break; sleep 0.1; done

H2="https://127.0.0.1:$H2_PORT"
# conns PORT URI: the distinct (protocol, connection) pairs nginx logged for PORT and URI
conns() { awk -v p="$1" -v u="$2" '$1 == p && $5 == u { print $2, $3 }' "$TMP/access.log" | sort -u; }

out=$(curl -s -m 30 "$URL/fanout?n=20&url=$H2/hello")
expect_eq "fan-out of 20 over h2: every request 200" \
    "done 20: 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200" "$out"
sleep 0.3 # nginx writes its log line after the stream ends
expect_eq "nginx logged 20 requests" 20 \
    "$(awk -v p="$H2_PORT" '$1 == p && $5 == "/hello"' "$TMP/access.log" | wc -l)"
c=$(conns "$H2_PORT" /hello)
expect_eq "the 20 requests were HTTP/2, on one connection" 1 "$(wc -l <<<"$c")"
expect_contains "... HTTP/2.0" "HTTP/2.0" "$c"

out=$(curl -s -m 10 "$URL/fetch?url=$H2/hello")
expect_eq "one more request over h2" "$(printf 'status: 200\nx-upstream: \nbody: hello over h2')" "$out"
sleep 0.2
expect_eq "it reused the idle HTTP/2 connection" 1 "$(conns "$H2_PORT" /hello | wc -l)"

want=$(sha256sum <"$TMP/www/big.bin" | cut -d' ' -f1)
got=$(curl -s -m 60 "$URL/stream?url=$H2/big.bin" | sha256sum | cut -d' ' -f1)
expect_eq "a 2 MiB response body over h2 arrives intact" "$want" "$got"

want=$(python3 -c 'import hashlib; d=bytes(ord("a")+i%26 for i in range(1000000)); print("len=%d sha256=%s" % (len(d), hashlib.sha256(d).hexdigest()))')
out=$(curl -s -m 60 "$URL/fetch?method=post&bodyn=1000000&url=$H2/echo")
expect_contains "a 1 MB request body over h2 arrives intact" "body: $want" "$out"
sleep 0.2
expect_contains "... as HTTP/2" "HTTP/2.0" "$(conns "$H2_PORT" /echo)"

# spread PORT MIN WHAT: a fan-out of 20 to PORT's /hello all 200, nginx serving each
# once, on MIN or more connections
spread() {
    local out n
    out=$(curl -s -m 30 "$URL/fanout?n=20&url=https://127.0.0.1:$1/hello")
    expect_eq "fan-out of 20 to an upstream $3: every request 200" \
        "done 20: 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200" "$out"
    sleep 0.3
    expect_eq "... nginx served each once (20 log lines)" 20 \
        "$(awk -v p="$1" '$1 == p && $6 == 200' "$TMP/access.log" | wc -l)"
    n=$(conns "$1" /hello | wc -l)
    if [ "$n" -ge "$2" ]; then pass "... on $2 or more connections ($n)"; else fail "... on $2 or more connections" "got $n"; fi
}
# nginx ends a connection after 5 requests (keepalive_requests: GOAWAY, the streams past
# its last stream id refused): those are sent again on a new connection
spread "$GA_PORT" 4 "that sends GOAWAY after 5"
# SETTINGS_MAX_CONCURRENT_STREAMS 4: the fan-out is spread over more connections
spread "$MS_PORT" 2 "allowing 4 concurrent streams"

for i in 1 2 3; do
    out=$(curl -s -m 10 "$URL/fetch?url=https://127.0.0.1:$H1_PORT/hello")
    expect_contains "TLS without h2: request $i over HTTP/1.1" "body: hello over http/1.1" "$out"
done
sleep 0.2
c=$(conns "$H1_PORT" /hello)
expect_eq "the HTTP/1.1 requests shared one pooled connection" 1 "$(wc -l <<<"$c")"
expect_contains "... HTTP/1.1" "HTTP/1.1" "$c"
[ -n "${KEEP:-}" ] && cp -r "$TMP" /tmp/h2keep
# response trailers over h2 (a HEADERS frame after the DATA): future-trailers gives them,
# without those that may not be trailers; 10,000 of them fail the body, bounded
out=$(curl -s -m 20 "$URL/fetch?url=$H2/tr.txt")
expect_eq "h2 response trailers reach the guest" \
    "$(printf 'status: 200\nx-upstream: \nbody: hi\ntrailers: x-sum=42;x-done=yes;')" "$out"
out=$(curl -s -m 20 "$URL/fetch?url=$H2/many/tr.txt")
expect_contains "h2: 10,000 trailer fields: the body read fails" "body: hi<read-error>" "$out"
expect_contains "h2: ... future-trailers: HTTP-response-trailer-section-size" \
    "trailers: error HTTP-response-trailer-section-size" "$out"
out=$(curl -s -m 10 "$URL/fetch?url=$H2/hello")
expect_contains "h2: ... the connection serves on" "body: hello over h2" "$out"

finish
