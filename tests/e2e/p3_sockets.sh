#!/usr/bin/env bash
# p3_sockets.sh — wasi:sockets 0.3 for p3 components (src/host/wasip3/sockets.h), with
# tests/components/c-sockets-p3 (a C command on wit-bindgen's async bindings) under
# `kiln run`: it reads the port of a TCP echo server this test runs from stdin, resolves
# localhost, connects to the server, sends a line through a stream and reads the echo to
# its end, listens on 127.0.0.1 and connects to itself (accepting through the listen
# stream; the accepted side's read, started before the client sends, is BLOCKED while the
# same task goes on to send: the host waits on the socket without holding up the guest;
# once the listener and its stream are dropped its port can be bound again), exchanges a UDP datagram between two sockets,
# and is refused (access-denied) a connect to 127.0.0.2 and the lookup of example.com,
# which its --allow-outbound grants do not cover. Without grants every step is refused; a
# server that never answers leaves the guest waiting until --timeout ends it. The same
# sources built against the rc names (0.3.0-rc-2026-03-15) give the same lines.
# The same component under `wasmtime run -Sp3 -Sinherit-network` (wasmtime 48.0.8, which
# allows everything) must print the same lines for every granted step.
source "$(dirname "$0")/../lib.sh"

TOOLS=${KILN_TOOLS:-/var/cache/kiln-tools}
WASMTIME=$TOOLS/cargo/bin/wasmtime

mkdir -p "$TMP/corpus"
if ! "$ROOT/tests/components/build.sh" "$TMP/corpus" c-sockets-p3 >"$TMP/build.log" 2>&1; then
    fail "tests/components/build.sh c-sockets-p3" "$(tail -20 "$TMP/build.log")"
    finish
    exit 1
fi
WASM=$TMP/corpus/c-sockets-p3.wasm

# An echo server: each connection's bytes, up to their end, come back after "echo: ".
python3 "$ROOT/tests/e2e/helpers/tcp_echo.py" >"$TMP/port" &
ECHO_PID=$!
on_exit "kill $ECHO_PID 2>/dev/null"
for _ in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
PORT=$(cat "$TMP/port")

GRANTED="resolve localhost: 127.0.0.1 found
connect to the server: 0
send: 0
server said: echo: hello over p3 sockets
listening: 1
connect to itself: 0
accepted: 1
peer is the client: 1
server read before the client sent: blocked
client send: 0
server got: ping
server send: 0
client got: pong
the listener's port after its drop: free
udp send: 0
udp got: a datagram from the sender: 1"

out=$(echo "$PORT" | timeout 60 "$KILN" run --timeout 30s --allow-outbound 'tcp://127.0.0.1:*' \
    --allow-outbound 'udp://127.0.0.1:*' --allow-outbound 'tcp://localhost:*' "$WASM" 2>"$TMP/err")
rc=$?
expect_eq "granted: exit code" 0 "$rc"
expect_eq "granted: every step" "$GRANTED
connect outside the grant: 1
resolve example.com: error 0" "$out"
err=$(cat "$TMP/err")
expect_contains "the refused connect is logged" "tcp://127.0.0.2:$PORT denied" "$err"
expect_contains "the refused lookup is logged" "resolving example.com denied" "$err"

# The same command against the rc Spin 4 targets (wasi:sockets@0.3.0-rc-2026-03-15, whose
# WIT is 0.3.0's but for the version): built here from the same sources.
RCW=$TMP/rc
mkdir -p "$RCW/deps"
cp "$ROOT/tests/components/c-sockets-p3/world.wit" "$RCW/"
cp -r "$TOOLS/npm/node_modules/@bytecodealliance/jco/lib/wit/builtin/0.3.0"/wasi-* "$RCW/deps/"
sed -i 's/@0\.3\.0\([^-]\|$\)/@0.3.0-rc-2026-03-15\1/g' "$RCW/world.wit" "$RCW"/deps/*/*.wit
if "$TOOLS/cargo/bin/wit-bindgen" c "$RCW" --world command --out-dir "$RCW/gen" >"$RCW/log" 2>&1 &&
    clang --target=wasm32-wasi --sysroot=/usr -O2 -Wno-unused-parameter -mexec-model=reactor \
        -I"$RCW/gen" -o "$RCW/core.wasm" "$ROOT/tests/components/c-sockets-p3/main.c" \
        "$RCW/gen/command.c" "$RCW/gen/command_component_type.o" >>"$RCW/log" 2>&1 &&
    "$TOOLS/cargo/bin/wasm-tools" component new "$RCW/core.wasm" -o "$RCW/rc.wasm" >>"$RCW/log" 2>&1; then
    expect_contains "the rc build imports the rc sockets" "wasi:sockets/types@0.3.0-rc-2026-03-15" \
        "$("$KILN" inspect "$RCW/rc.wasm" 2>&1)"
    out=$(echo "$PORT" | timeout 60 "$KILN" run --timeout 30s --allow-outbound 'tcp://127.0.0.1:*' \
        --allow-outbound 'udp://127.0.0.1:*' --allow-outbound 'tcp://localhost:*' "$RCW/rc.wasm" 2>/dev/null)
    expect_eq "rc-2026-03-15: every step" "$GRANTED
connect outside the grant: 1
resolve example.com: error 0" "$out"
else
    fail "building the rc variant" "$(tail -20 "$RCW/log")"
fi

# No grants: the lookup, every connect and every bind are access-denied (case 0, printed
# as 1 for connect: case + 1), and the guest still ends.
out=$(echo "$PORT" | timeout 60 "$KILN" run --timeout 30s "$WASM" 2>/dev/null)
expect_eq "no grants: exit code" 0 "$?"
expect_contains "no grants: the lookup is refused" "resolve localhost: error 0" "$out"
expect_contains "no grants: the connect is refused" "connect to the server: 1" "$out"
expect_contains "no grants: the bind is refused" "bind: error 0" "$out"
expect_contains "no grants: UDP binds are refused" "udp bind: error 0" "$out"
expect_not_contains "no grants: nothing reached the server" "server said" "$out"

# A grant naming another port does not cover the server's.
out=$(echo "$PORT" | timeout 60 "$KILN" run --timeout 30s --allow-outbound 'tcp://127.0.0.1:1' "$WASM" 2>/dev/null)
expect_contains "another port: the connect is refused" "connect to the server: 1" "$out"

# A server that accepts and never answers: the guest's read waits on the socket until the
# call's time limit ends it (a trap), not forever.
cat >"$TMP/silent.py" <<'PY'
import socket, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
s.settimeout(1)
held, t0 = [], time.time()
while time.time() - t0 < 60:
    try:
        held.append(s.accept())
    except socket.timeout:
        pass
PY
python3 "$TMP/silent.py" >"$TMP/sport" &
SILENT_PID=$!
on_exit "kill $SILENT_PID 2>/dev/null"
for _ in $(seq 50); do [ -s "$TMP/sport" ] && break; sleep 0.1; done
out=$(cat "$TMP/sport" | timeout 60 "$KILN" run --timeout 2s --allow-outbound 'tcp://127.0.0.1:*' \
    --allow-outbound 'tcp://localhost:*' "$WASM" 2>&1)
rc=$?
expect_eq "a read that never gets bytes: ended by the time limit (trap)" 134 "$rc"
expect_contains "a read that never gets bytes: the time limit is the reason" "time limit" "$out"

out=$("$KILN" run --allow-outbound 'tcp//x' "$WASM" 2>&1)
expect_contains "a malformed grant is refused" "bad --allow-outbound" "$out"

if [ -x "$WASMTIME" ]; then
    wout=$(echo "$PORT" | timeout 60 "$WASMTIME" run -Sp3 -Sinherit-network -Sallow-ip-name-lookup \
        -Wcomponent-model-async "$WASM" 2>/dev/null | head -16)
    expect_eq "wasmtime run -Sp3 -Sinherit-network prints the same granted steps" "$GRANTED" "$wout"
elif [ "${KILN_REQUIRE_WASMTIME:-0}" = 1 ]; then
    fail "wasmtime comparison: $WASMTIME is missing (scripts/install-wasmtime.sh)"
else
    echo "p3_sockets: SKIP the wasmtime comparison: wasmtime-cli not built in $TOOLS/cargo/bin (scripts/install-wasmtime.sh)" >&2
fi

finish
