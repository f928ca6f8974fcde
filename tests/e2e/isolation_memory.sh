#!/usr/bin/env bash
# Isolation under faults: the memory limit. With --max-instance-memory 16M a guest that
# mallocs until malloc returns NULL gets less than 16 MiB (memory.grow returns -1) and
# exits 1, answered 500; a guest that stays under the limit is served; after 50 such
# requests the server's RSS stays bounded.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/iso.sh"
# cpu_ticks PID: user + system clock ticks the process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

iso_app hello mem || { fail "guest builds (clang wasm32-wasi)"; finish; exit; }
if ! start_up --max-instance-memory 16M --workers 2; then
    fail "kiln up starts with --max-instance-memory 16M" "$(tail -n 5 "$TMP/up.err")"
    finish
    exit
fi
pass "kiln up starts with --max-instance-memory 16M"
expect_eq "hello before" "200" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/hello")"

# under the limit: 8 MiB is fine
expect_eq "a guest under the limit is served" "got 8 MiB (cap)" "$(curl -s -m 10 "$URL/mem?8")"

# over the limit: malloc returns NULL before 16 MiB, the guest exits 1 -> 500
base=$(rss_kb "$UP_PID")
r=$(curl -s -m 10 -w '\n%{http_code}' "$URL/mem")
expect_eq "malloc until NULL: 500" "500" "${r##*$'\n'}"
expect_not_contains "malloc until NULL: the guest did not reach its 64 MiB cap" "(cap)" "$r"
sleep 0.2
got=$(cat "$TMP/up.out" "$TMP/up.err" | sed -n 's/.*malloc failed after \([0-9]*\) MiB.*/\1/p' | head -n 1)
if [ -n "$got" ] && [ "$got" -lt 16 ] && [ "$got" -ge 8 ]; then
    pass "the guest got less than 16 MiB ($got MiB) before malloc returned NULL"
else
    fail "the guest got less than 16 MiB before malloc returned NULL (its stderr in the log)" \
        "got: '${got}' MiB; log: $(tail -n 5 "$TMP/up.err")"
fi
log=$(cat "$TMP/up.out" "$TMP/up.err")
expect_contains "the log names the component" "mem" "$(grep -v Available <<<"$log" | grep -iE 'exit|status|memory|malloc')"

# 50 more, two at a time over keep-alive: all 500, RSS bounded
peak=$base
out=$(python3 "$CLIENT" hammer "$PORT" /mem 50 2 40 &
    hp=$!
    while kill -0 "$hp" 2>/dev/null; do
        echo "rss $(rss_kb "$UP_PID")"
        sleep 0.1
    done
    wait "$hp")
peak=$(awk -v p="$peak" '$1 == "rss" && $2 > p {p = $2} END {print p}' <<<"$out")
res=$(grep -v '^rss ' <<<"$out")
expect_contains "50 requests over the limit: all 500" $'\n500 50' $'\n'"$(grep -v '^sent=' <<<"$res")"
sleep 0.5
after=$(rss_kb "$UP_PID")
echo "  rss: before ${base} kB, peak ${peak} kB, after ${after} kB" >&2
if [ $((peak - base)) -lt $((80 * 1024)) ]; then
    pass "peak RSS during 50 requests within 80 MiB of the start"
else
    fail "peak RSS during 50 requests within 80 MiB of the start" "before ${base} kB, peak ${peak} kB"
fi
if [ $((after - base)) -lt $((40 * 1024)) ]; then
    pass "RSS after 50 requests within 40 MiB of the start"
else
    fail "RSS after 50 requests within 40 MiB of the start" "before ${base} kB, after ${after} kB"
fi
expect_eq "hello after" "200" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/hello")"
check "server still running" kill -0 "$UP_PID"

# the default limit (128M) lets a 64 MiB guest run; a bad size is refused
stop_up "$UP_PID"
if start_up; then
    expect_eq "default limit: 64 MiB is served" "got 64 MiB (cap)" "$(curl -s -m 20 "$URL/mem?64")"
else
    fail "kiln up starts with default limits" "$(tail -n 5 "$TMP/up.err")"
fi
expect_contains "a bad size is refused" "max-instance-memory" \
    "$(timeout 5 "$KILN" up -f "$TMP/app" --listen 127.0.0.1:0 --max-instance-memory lots 2>&1)"
finish
