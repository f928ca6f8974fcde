#!/usr/bin/env bash
# p2_sockets.sh — wasi:sockets 0.2 (src/host/wasip2/sockets.c) under the component's
# allowed_outbound_hosts, with tests/components/c-sockets-p2 (a C command on wit-bindgen's
# bindings + the preview1 command adapter) and c-sockets-p2-http (the same code as a
# wasi:http 0.2 handler). The command resolves localhost, connects to a TCP echo server
# this test runs (finish-connect polled on the socket's pollable while it would block),
# writes a line through the output stream, shuts its sending side and reads the answer to
# the end, binds a TCP socket (then listens, connects to itself and accepts), exchanges a UDP datagram between two sockets on 127.0.0.1,
# and is refused a connect to 127.0.0.2 and the lookup of example.com.
#   - `kiln run --allow-outbound ...`: every granted step works (a TCP bind too, as under
#     wasmtime's -Sinherit-network) and prints what `wasmtime run -Sinherit-network` prints
#     for the same steps (wasmtime 48.0.8 allows everything, so only kiln refuses the rest);
#     the refusals are logged with the address.
#   - no grants: every step is refused, nothing reaches the server.
#   - `kiln up`: the handler with allowed_outbound_hosts = ["tcp://127.0.0.1:PORT"] connects
#     and returns what the server said; everything else is access-denied; a component
#     granted tcp://127.0.0.1:* and udp://127.0.0.1:* exchanges its datagram but still may
#     not bind TCP (Spin: apps never bind TCP).
source "$(dirname "$0")/../lib.sh"

TOOLS=${KILN_TOOLS:-/var/cache/kiln-tools}
WASMTIME=$TOOLS/cargo/bin/wasmtime

mkdir -p "$TMP/corpus"
if ! "$ROOT/tests/components/build.sh" "$TMP/corpus" c-sockets-p2 c-sockets-p2-http \
    >"$TMP/build.log" 2>&1; then
    fail "tests/components/build.sh c-sockets-p2 c-sockets-p2-http" "$(tail -20 "$TMP/build.log")"
    finish
    exit 1
fi
WASM=$TMP/corpus/c-sockets-p2.wasm

# An echo server: each connection's bytes, up to their end, come back after "echo: ".
python3 "$ROOT/tests/e2e/helpers/tcp_echo.py" >"$TMP/port" &
on_exit "kill $! 2>/dev/null"
for _ in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
PORT=$(cat "$TMP/port")

GRANTED="resolve localhost: 127.0.0.1 found
connect to the server: ok
send: ok
shutdown send: ok
server said: echo: hello over p2 sockets
tcp bind: ok
listen: ok
connect to itself: ok
accepted, read: ping
udp send: ok
udp got: a datagram"

out=$(timeout 60 "$KILN" run --timeout 30s --allow-outbound "tcp://127.0.0.1:*" \
    --allow-outbound 'udp://127.0.0.1:*' --allow-outbound 'tcp://localhost:*' "$WASM" "$PORT" \
    2>"$TMP/err")
expect_eq "kiln run: exit code" 0 "$?"
expect_eq "kiln run: every step" "$GRANTED
connect to 127.0.0.2: access-denied
resolve example.com: access-denied" "$out"
err=$(cat "$TMP/err")
expect_not_contains "kiln run: no sanitizer report (under SANITIZE=1)" "Sanitizer" "$err"
expect_contains "the refused connect is logged with its address" "tcp://127.0.0.2:$PORT denied" "$err"
expect_contains "the refused lookup is logged" "resolving example.com denied" "$err"

if [ -x "$WASMTIME" ]; then
    wout=$(timeout 60 "$WASMTIME" run -Sinherit-network -Sallow-ip-name-lookup "$WASM" "$PORT" 2>&1)
    expect_eq "wasmtime -Sinherit-network: the same granted steps" "$GRANTED" \
        "$(printf '%s\n' "$wout" | head -11)"
else
    echo "  (wasmtime not in $TOOLS: the comparison with wasmtime is skipped)"
fi

# No grants: every step is refused; the guest still ends.
out=$(timeout 60 "$KILN" run --timeout 30s "$WASM" "$PORT" 2>/dev/null)
expect_eq "no grants: every step refused" "resolve localhost: access-denied
connect to the server: access-denied
tcp bind: access-denied
udp bind: access-denied
connect to 127.0.0.2: access-denied
resolve example.com: access-denied" "$out"

# A grant naming another port does not cover the server's.
out=$(timeout 60 "$KILN" run --timeout 30s --allow-outbound 'tcp://127.0.0.1:1' "$WASM" "$PORT" 2>/dev/null)
expect_contains "another port: the connect is refused" "connect to the server: access-denied" "$out"

# kiln up: Spin's rules.
mkdir -p "$TMP/app"
cp "$TMP/corpus/c-sockets-p2-http.wasm" "$TMP/app/"
cat >"$TMP/app/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "p2-sockets"
[[trigger.http]]
route = "/one/..."
component = "one"
[[trigger.http]]
route = "/wide/..."
component = "wide"
[component.one]
source = "c-sockets-p2-http.wasm"
allowed_outbound_hosts = ["tcp://127.0.0.1:$PORT"]
[component.wide]
source = "c-sockets-p2-http.wasm"
allowed_outbound_hosts = ["tcp://127.0.0.1:*", "udp://127.0.0.1:*"]
TOML
lport=$(free_port)
URL="http://127.0.0.1:$lport"
"$KILN" up -f "$TMP/app" --listen "127.0.0.1:$lport" >"$TMP/up.out" 2>"$TMP/up.err" &
on_exit "kill $! 2>/dev/null"
for _ in $(seq 300); do curl -fs "$URL/.well-known/kiln/health" >/dev/null && break; sleep 0.1; done
r=$(curl -s -m 30 "$URL/one/?port=$PORT")
expect_eq "kiln up, tcp://127.0.0.1:PORT: connects, the rest refused" "resolve localhost: access-denied
connect to the server: ok
send: ok
shutdown send: ok
server said: echo: hello over p2 sockets
tcp bind: access-denied
udp bind: access-denied
connect to 127.0.0.2: access-denied
resolve example.com: access-denied" "$r"
r=$(curl -s -m 30 "$URL/wide/?port=$PORT")
expect_contains "kiln up, tcp://127.0.0.1:*: still no TCP bind (Spin)" "tcp bind: access-denied" "$r"
expect_contains "kiln up, udp://127.0.0.1:*: the datagram goes through" "udp got: a datagram" "$r"
expect_contains "kiln up: the refused bind is logged as Spin's rule" "apps may not bind TCP" \
    "$(cat "$TMP/up.err")"
check "kiln up still serves" curl -fs -m 10 "$URL/one/?port=$PORT"
expect_not_contains "no sanitizer report (under SANITIZE=1)" "Sanitizer" "$(cat "$TMP/up.err")"

finish
