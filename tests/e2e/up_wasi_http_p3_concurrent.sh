#!/usr/bin/env bash
# up_wasi_http_p3_concurrent.sh — Spin's concurrent instance reuse for wasi:http 0.3
# (--max-instance-concurrent-reuse-count M, exec/http/reuse_p3.h and share_p3.h): one
# instance serves up to M requests at once, each a call of its async handle, interleaved
# where the guest waits. The handler (WAT) counts its requests in a global and answers
# the count (x-n) after its wait: /w waits 1 s (wasi:clocks wait-for), /b reads the first
# bytes of its request body (a synchronous stream.read: its task blocks until the bytes
# come) and answers them in x-b, /t traps. One event loop (--workers 1): an instance is
# shared by the requests of one loop.
#  - 8 /w at once with M=8 all answer x-n 8: every request was counted by one instance
#    before any answered (without sharing each would count 1); and they took about one
#    wait, not eight (a generous bound: 4 s for 8 waits of 1 s, which in series take 8 s);
#  - two /b at once, their bodies streamed late, each get their own body, in one instance;
#  - a trap poisons only its instance: the request waiting in it fails too (one store, one
#    fate), those in another instance answer, and so do new requests;
#  - past the request timeout, both requests waiting in the instance fail (504);
#  - N still caps what one instance serves: 5 at once with N=3 take two instances;
#  - M=1 is serial reuse: waiting requests at once take an instance each;
#  - response bodies written after task.return (bench/guests/p3_hello.wat) by 16 tasks
#    in flight together each arrive whole.
# wasm-tools comes from scripts/install-tools.sh; without it this test fails.
source "$(dirname "$0")/../lib.sh"

source "$(dirname "$0")/../p3_counter.sh"
p3_counter_app 1000000000

# start ARGS...: kiln up (one event loop: an instance is shared by one loop's requests)
start() { p3_counter_start --workers 1 "$@"; }

# req NAME PATH [CURL ARGS...]: a request in the background; its status and x-n (and
# x-b) go to $TMP/NAME.
req() {
    local name=$1 path=$2
    shift 2
    (curl -s -D "$TMP/$name.h" -o /dev/null -w '%{http_code}' "$@" "$URL$path" >"$TMP/$name.code"
     printf '%s %s %s\n' "$(cat "$TMP/$name.code")" \
         "$(tr -d '\r' <"$TMP/$name.h" | sed -n 's/^x-n: //p')" \
         "$(tr -d '\r' <"$TMP/$name.h" | sed -n 's/^x-b: //p')" >"$TMP/$name") &
}

start --max-instance-reuse-count 100 --max-instance-concurrent-reuse-count 8 \
    --idle-instance-timeout 60s
t0=$(date +%s%N)
for i in 1 2 3 4 5 6 7 8; do req "w$i" /w; done
wait $(jobs -p | grep -v "^$PID\$") 2>/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "8 waiting requests at once: one instance counted all 8 before answering" \
    "$(printf '200 8 \n%.0s' 1 2 3 4 5 6 7 8)" "$(cat "$TMP"/w[1-8])"
echo "  (8 waits of 1 s on one instance took ${ms} ms)"
if [ "$ms" -lt 4000 ]; then pass "they waited together (${ms} ms < 4000)"
else fail "8 waits of 1 s took ${ms} ms: served one after the other?"; fi
expect_eq "the instance serves on: the count goes on" "200 9 " \
    "$(req next /; wait $!; cat "$TMP/next")"
kill "$PID"; wait "$PID" 2>/dev/null

start --max-instance-reuse-count 100 --max-instance-concurrent-reuse-count 8 \
    --idle-instance-timeout 60s
# bodies streamed (chunked) after both requests are in the instance, waiting for them
(sleep 0.6; printf AAAA) | curl -s -D "$TMP/a.h" -o /dev/null -T - "$URL/b" &
ba=$!
(sleep 0.9; printf BBBBBB) | curl -s -D "$TMP/b.h" -o /dev/null -T - "$URL/b" &
bb=$!
wait "$ba" "$bb"
hdr() { tr -d '\r' <"$1" | sed -n "s/^$2: //p"; }
expect_eq "the first streamed body reached its own request" "AAAA" "$(hdr "$TMP/a.h" x-b)"
expect_eq "the second streamed body reached its own request" "BBBBBB" "$(hdr "$TMP/b.h" x-b)"
expect_eq "both were in one instance at once" "2 2" "$(hdr "$TMP/a.h" x-n) $(hdr "$TMP/b.h" x-n)"
kill "$PID"; wait "$PID" 2>/dev/null

start --max-instance-reuse-count 100 --max-instance-concurrent-reuse-count 2 \
    --idle-instance-timeout 60s
req a1 /w; req a2 /w       # instance A, full (M=2)
sleep 0.3
req b1 /w                  # instance B
sleep 0.3
req bt /t                  # B too: it traps while b1 waits
wait $(jobs -p | grep -v "^$PID\$") 2>/dev/null
expect_eq "the other instance's requests answer" "200 2 |200 2 " "$(cat "$TMP/a1")|$(cat "$TMP/a2")"
expect_eq "the trap: 500" "500" "$(cut -d' ' -f1 "$TMP/bt")"
expect_eq "the request in flight in the trapped instance fails with it" "500" \
    "$(cut -d' ' -f1 "$TMP/b1")"
expect_contains "the trap is logged" "unreachable" "$(cat "$TMP/err.log")"
expect_eq "new requests are served" "200" "$(req n1 /; wait $!; cut -d' ' -f1 "$TMP/n1")"
kill "$PID"; wait "$PID" 2>/dev/null

start --max-instance-reuse-count 100 --max-instance-concurrent-reuse-count 8 \
    --idle-instance-timeout 60s --request-timeout 500ms
req t1 /w; req t2 /w
wait $(jobs -p | grep -v "^$PID\$") 2>/dev/null
expect_eq "past the time limit, both waiting requests of the instance fail" "504 504" \
    "$(cut -d' ' -f1 "$TMP/t1") $(cut -d' ' -f1 "$TMP/t2")"
expect_contains "the timeout is logged" "request timeout" "$(cat "$TMP/err.log")"
expect_eq "a new request is served by a new instance" "200 1 " "$(req t3 /; wait $!; cat "$TMP/t3")"
kill "$PID"; wait "$PID" 2>/dev/null

start --max-instance-reuse-count 3 --max-instance-concurrent-reuse-count 8 \
    --idle-instance-timeout 60s
for i in 1 2 3 4 5; do req "c$i" /w; done
wait $(jobs -p | grep -v "^$PID\$") 2>/dev/null
expect_eq "N=3 caps an instance with M=8: 5 requests at once take two instances" \
    "200 2 200 2 200 3 200 3 200 3" "$(cat "$TMP"/c[1-5] | sort | tr -s ' \n' ' ' | sed 's/ $//')"
kill "$PID"; wait "$PID" 2>/dev/null

start --max-instance-reuse-count 4 --max-instance-concurrent-reuse-count 1 \
    --idle-instance-timeout 60s
for i in 1 2 3; do req "s$i" /w; done
wait $(jobs -p | grep -v "^$PID\$") 2>/dev/null
expect_eq "M=1: one request at a time per instance, as before" "200 1 200 1 200 1" \
    "$(cat "$TMP"/s[1-3] | sort | tr -s ' \n' ' ' | sed 's/ $//')"
kill "$PID"; wait "$PID" 2>/dev/null

# response bodies streamed by tasks in flight together: bench/guests/p3_hello.wat writes
# its body after task.return; 16 at once on one instance each get theirs whole
check "the hello parses (in the app's place)" \
    "${KILN_TOOLS:-/var/cache/kiln-tools}/cargo/bin/wasm-tools" parse \
    "$ROOT/bench/guests/p3_hello.wat" -o "$TMP/app/handler.wasm"
start --max-instance-reuse-count 100 --max-instance-concurrent-reuse-count 16
for i in $(seq 16); do curl -s "$URL/" >"$TMP/hello$i.txt" & done
wait $(jobs -p | grep -v "^$PID\$") 2>/dev/null
expect_eq "16 streamed response bodies at once, each whole" "16" \
    "$(cat "$TMP"/hello*.txt | grep -c '^Hello, world!$')"
kill "$PID"; wait "$PID" 2>/dev/null
finish
