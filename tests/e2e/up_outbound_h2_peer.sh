#!/usr/bin/env bash
# Outbound HTTP/2 against a peer that cannot be trusted (host/wasihttp/client_h2.c): a
# scripted server (helpers/h2peer.py: TLS with ALPN h2, frames written by hand) answers
# each path its own way. Served: trailers (read: the guest gets them), a header added to the
# dynamic table and referred to by index in the next response, a Huffman-coded value,
# padded HEADERS and DATA, a PING before the response, a stream refused (REFUSED_STREAM:
# sent again on a new connection). Refused with an error and no crash: bad HPACK, a frame
# past the maximum size, DATA before HEADERS, a head without :status, an uppercase field
# name, a PUSH_PROMISE, a connection window overflow, a stream reset after its head (the
# body read fails). A plain request still works afterwards.
source "$(dirname "$0")/../lib.sh"

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

PEER_PORT=$(free_port)
python3 "$ROOT/tests/e2e/helpers/h2peer.py" "$CA/server.pem" "$CA/server.key" "$PEER_PORT" \
    2>"$TMP/peer.err" &
on_exit "kill $! 2>/dev/null"
for _ in $(seq 100); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $PEER_PORT))" 2>/dev/null && break
    sleep 0.1
done

mkdir -p "$TMP/app"
cp "$CORPUS/c-outbound.wasm" "$TMP/app/"
cat >"$TMP/app/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "h2peer"
[[trigger.http]]
route = "/..."
component = "out"
[component.out]
source = "c-outbound.wasm"
allowed_outbound_hosts = ["https://127.0.0.1:$PEER_PORT"]
TOML
port=$(free_port)
URL="http://127.0.0.1:$port"
SSL_CERT_FILE="$CA/ca.pem" "$KILN" up -f "$TMP/app" --listen "127.0.0.1:$port" \
    >"$TMP/up.out" 2>"$TMP/up.err" &
UP_PID=$!
on_exit "kill $UP_PID 2>/dev/null"
for _ in $(seq 300); do curl -fs "$URL/.well-known/kiln/health" >/dev/null && break; sleep 0.1; done

P="https://127.0.0.1:$PEER_PORT"
fetch() { curl -s -m 20 "$URL/fetch?url=$P$1"; }
ok() { printf 'status: 200\nx-upstream: %s\nbody: %s' "$1" "$2"; }

expect_eq "trailers: the body whole, then the trailers for the guest" \
    "$(ok '' $'body then trailers\ntrailers: x-trailer=yes;')" "$(fetch /trailers)"
expect_eq "a field added to the dynamic table" "$(ok dynamic '')" "$(fetch /dyn1)"
expect_eq "... and referred to by index in the next response" "$(ok dynamic '')" "$(fetch /dyn2)"
expect_eq "a Huffman-coded value" "$(ok www.example.com '')" "$(fetch /huffman)"
expect_eq "padded HEADERS and DATA" "$(ok '' 'padded body')" "$(fetch /padded)"
expect_eq "a PING before the response" "$(ok '' pinged)" "$(fetch /ping)"
expect_eq "REFUSED_STREAM: sent again on a new connection" "$(ok '' 'after a refusal')" "$(fetch /refused)"
expect_eq "a stream reset after its head: the body read fails, its trailers too" \
    "$(ok '' $'partial<read-error>\ntrailers: error HTTP-protocol-error')" "$(fetch /rst)"
for p in /badhpack /dataearly /nostatus /upper /push /window; do
    expect_eq "$p: HTTP-protocol-error" "error: HTTP-protocol-error" "$(fetch $p)"
done
expect_eq "a frame past the maximum size after the head: the body read fails" \
    "$(ok '' $'<read-error>\ntrailers: error HTTP-protocol-error')" "$(fetch /bigframe)"
out=$(fetch /)
expect_contains "a plain request still works afterwards" "status: 200" "$out"
if kill -0 "$UP_PID" 2>/dev/null; then pass "kiln up is still running"; else fail "kiln up is still running" "$(tail -n 20 "$TMP/up.err")"; fi
expect_not_contains "no sanitizer report" "Sanitizer" "$(cat "$TMP/up.err")"
finish
