#!/usr/bin/env bash
# A wasi:http guest that computes does not hold its event loop: past the inline budget its
# fiber moves to an executor thread and goes on there (its response may stream already, so
# it cannot be re-run), its response still written through the loop. With one event loop
# (--workers 1): a guest spinning until its request timeout (504) while 20 requests to a
# hello component are all answered before that timeout; a guest that writes, computes on
# an executor thread, then writes again (the whole body arrives, in order); a guest that
# writes and then spins after it moved (the response is aborted: HTTP/2 stream reset);
# the log says when a guest moves.
source "$(dirname "$0")/../lib.sh"

source "$ROOT/tests/e2e/helpers/wasi_http.sh"
wasi_http_app "$TMP/app" wasi-http-busy $'[component.t.tool.kiln]\nrequest_timeout = "10s"'
serve "$TMP/app" up --workers 1 --no-tier-up

# A guest that spins until its timeout (10 s) on the only loop; 20 hello requests meanwhile.
curl -s -m 30 -o /dev/null -w '%{http_code}' "$URL/x/spin" >"$TMP/spin.code" &
SPIN=$!
sleep 0.5
ok=0
for i in $(seq 20); do
    r=$(curl -s -m 4 "$URL/hello/$i")
    [ "$r" = "hello from C GET /hello/$i" ] && ok=$((ok + 1))
done
if kill -0 "$SPIN" 2>/dev/null; then
    pass "the 20 hello requests were done while the spinning guest still ran"
else
    fail "the 20 hello requests were done while the spinning guest still ran" "it had ended"
fi
expect_eq "all 20 hello requests answered, correctly, while a guest spins on the only loop" 20 "$ok"
wait "$SPIN"
expect_eq "the spinning guest ends at its request timeout" 504 "$(cat "$TMP/spin.code")"
err=$(cat "$TMP/up.err")
expect_contains "the move is logged" \
    "component 't' ran past the inline budget (10 ms): it goes on on an executor thread" "$err"
expect_contains "the timeout on the executor thread is logged" \
    "component 't' stopped: ran past its request timeout (10000 ms)" "$err"

# Writes, computes (moved), writes again: the whole body, in order, from both threads.
curl -s -m 30 -o "$TMP/cpu.out" "$URL/x/cpu?m=100" &
CPU=$!
sleep 0.2
expect_eq "a hello request while a guest computes" "hello from C GET /hello/c" "$(curl -s -m 4 "$URL/hello/c")"
wait "$CPU"
expect_eq "a guest that wrote, computed on an executor thread and wrote again: its whole body" \
    "start
done 100" "$(cat "$TMP/cpu.out")"
v=$(curl -s -m 30 --http2-prior-knowledge -o /dev/null -w '%{http_version}' "$URL/x/cpu?m=100")
expect_eq "the same over HTTP/2" 2 "$v"

# Writes, then spins after it moved: aborted at the timeout, seen broken by the client.
rc=0
curl -s -m 30 --http2-prior-knowledge -o "$TMP/ps.out" "$URL/x/partial-spin" || rc=$?
expect_eq "a moved guest that runs out of time after its headers: HTTP/2 stream reset (curl 92)" 92 "$rc"
expect_eq "what it wrote arrived before" 327680 "$(wc -c <"$TMP/ps.out")"

# A streamed response is unchanged (its writes let the loop run: it does not move).
n=$(curl -s -m 60 "$URL/x/big?mib=32" | wc -c)
expect_eq "a 32 MiB streamed response arrives whole" 33554432 "$n"
expect_eq "the server serves on" "hello from C GET /hello/" "$(curl -s -m 4 "$URL/hello/")"
kill "$PID"
wait "$PID" 2>/dev/null

# --inline-budget 0: no budget, the guest keeps its loop (as before; nothing moves).
serve "$TMP/app" up2 --workers 1 --no-tier-up --inline-budget 0
expect_eq "--inline-budget 0: the computing guest answers" "start
done 30" "$(curl -s -m 30 "$URL/x/cpu?m=30")"
expect_not_contains "--inline-budget 0: nothing moves" "executor thread" "$(cat "$TMP/up2.err")"
kill "$PID"
wait "$PID" 2>/dev/null
finish
