#!/usr/bin/env bash
# Isolation under faults: containment. 2,000 trapping requests are each answered 500
# with the server's memory and file descriptors flat; stack overflow (Wasm call stack
# and C shadow stack), proc_raise, exit 1, an output flood over --max-response-size and
# garbage CGI headers are each answered as an error for that request alone; the server
# answers a hello route 200 afterwards.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/iso.sh"
# cpu_ticks PID: user + system clock ticks the process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
nfds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
# code PATH: the status of one request (000 when none came back)
code() { curl -s -m 20 -o /dev/null -w '%{http_code}' "$URL$1"; }

iso_app hello trap stack stack2 raise exit1 flood garbage badstatus ||
    { fail "guest builds (clang wasm32-wasi)"; finish; exit; }
if ! start_up --max-response-size 1M --workers 2; then
    fail "kiln up starts with --max-response-size 1M" "$(tail -n 5 "$TMP/up.err")"
    finish
    exit
fi
pass "kiln up starts with --max-response-size 1M"
expect_eq "hello before" "200" "$(code /hello)"

# warm up (pools, caches, allocator arenas), then measure
python3 "$CLIENT" hammer "$PORT" /trap 200 4 20 >"$TMP/warm.out"
sleep 0.5
rss0=$(rss_kb "$UP_PID")
fd0=$(nfds "$UP_PID")
python3 "$CLIENT" hammer "$PORT" /trap 2000 4 30 >"$TMP/traps.out"
expect_eq "2,000 trapping requests: all 500" "500 2000" "$(sed -n 2,99p "$TMP/traps.out")"
sent=$(sed -n 's/^sent=\([0-9]*\).*/\1/p' "$TMP/traps.out")
expect_eq "2,000 trapping requests sent within 30 s" "2000" "$sent"
sleep 1
rss1=$(rss_kb "$UP_PID")
fd1=$(nfds "$UP_PID")
echo "  traps: $(head -n 1 "$TMP/traps.out"); rss ${rss0} -> ${rss1} kB; fds ${fd0} -> ${fd1}" >&2
if [ $((rss1 - rss0)) -lt $((64 * 1024)) ]; then
    pass "RSS growth over 2,000 traps under 64 MB"
else
    fail "RSS growth over 2,000 traps under 64 MB" "rss ${rss0} -> ${rss1} kB"
fi
d=$((fd1 - fd0))
if [ "${d#-}" -le 5 ]; then
    pass "open fds flat over 2,000 traps (±5)"
else
    fail "open fds flat over 2,000 traps (±5)" "fds ${fd0} -> ${fd1}: $(ls -l "/proc/$UP_PID/fd" | tail -n 5)"
fi

# one of each: an error for that request, never a 200
expect_eq "Wasm call stack overflow (deep recursion): 500" "500" "$(code /stack)"
expect_eq "C shadow stack overflow (1 KiB frames): 500" "500" "$(code /stack2)"
r=$(curl -s -m 20 -w '\n%{http_code}' "$URL/raise")
expect_eq "proc_raise(SIGABRT): 500" "500" "${r##*$'\n'}"
expect_not_contains "proc_raise does not return to the guest" "still here" "$r"
expect_eq "exit 1: 500" "500" "$(code /exit1)"
r=$(curl -s -m 20 -o "$TMP/flood.body" -w '%{http_code}' "$URL/flood")
case "$r" in 500 | 502) pass "output flood over --max-response-size 1M: 500/502" ;;
*) fail "output flood over --max-response-size 1M: 500/502" "got: $r, $(wc -c <"$TMP/flood.body") bytes" ;; esac
size=$(wc -c <"$TMP/flood.body")
if [ "$size" -lt 1048576 ]; then pass "the flood is not sent"; else fail "the flood is not sent" "body: $size bytes"; fi
expect_eq "a body under --max-response-size is served" "200" "$(code '/flood?0')"
r=$(code /garbage)
case "$r" in 500 | 502) pass "garbage CGI header block: 500/502" ;; *) fail "garbage CGI header block: 500/502" "got: $r" ;; esac
r=$(code /badstatus)
case "$r" in 500 | 502) pass "garbage with a bogus Status: 500/502" ;; *) fail "garbage with a bogus Status: 500/502" "got: $r" ;; esac

# a log line for each, naming the component
sleep 0.3
log=$(grep -v -e 'Available Routes' -e '^  [a-z0-9-]*: http' "$TMP/up.out" "$TMP/up.err" | grep -v -E ' (GET|POST) /')
for comp in stack raise flood; do
    if grep -q -- "$comp" <<<"$log"; then pass "a log line names $comp"; else fail "a log line names $comp" "log: $(tail -n 5 <<<"$log")"; fi
done
grep -i -- 'flood' <<<"$log" | grep -qiE 'size|large|limit|exceed|too' &&
    pass "the flood's log line says why" || fail "the flood's log line says why" "$(grep -i flood <<<"$log" | head -n 3)"

expect_eq "hello after all that" "200" "$(code /hello)"
expect_eq "hello body" "hello" "$(curl -s -m 5 "$URL/hello")"
check "server still running" kill -0 "$UP_PID"
expect_contains "a bad size is refused" "max-response-size" \
    "$(timeout 5 "$KILN" up -f "$TMP/app" --listen 127.0.0.1:0 --max-response-size huge 2>&1)"
finish
