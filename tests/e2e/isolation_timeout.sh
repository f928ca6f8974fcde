#!/usr/bin/env bash
# Isolation under faults: the request timeout. Three runaway guests (infinite loops) at
# once with --request-timeout 2s, while a fast route keeps being answered 200 within 1 s;
# each runaway is answered 504 and really stopped (the server goes back to idle); a guest
# sleeping in poll_oneoff is answered 504 as well; a log line names the component.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/iso.sh"
# cpu_ticks PID: user + system clock ticks the process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

iso_app hello loop sleep || { fail "guest builds (clang wasm32-wasi)"; finish; exit; }
if ! start_up --request-timeout 2s --max-instances 8 --workers 2; then
    fail "kiln up starts with --request-timeout 2s --max-instances 8" "$(tail -n 5 "$TMP/up.err")"
    finish
    exit
fi
pass "kiln up starts with --request-timeout 2s --max-instances 8"
expect_eq "fast route answers before the storm" "200" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/hello")"

# three runaways at once, and a guest asleep in poll_oneoff
cpids=()
for i in 1 2 3; do
    curl -s -m 15 -o /dev/null -w '%{http_code} %{time_total}\n' "$URL/loop" >"$TMP/loop.$i" 2>/dev/null &
    cpids+=($!)
done
curl -s -m 15 -o /dev/null -w '%{http_code} %{time_total}\n' "$URL/sleep" >"$TMP/sleep.out" 2>/dev/null &
cpids+=($!)
sleep 0.3

# meanwhile the fast route: every request 200 within 1 s (bounded: 12 requests, ~3 s)
slow_or_bad=()
for i in $(seq 1 12); do
    r=$(curl -s -m 3 -o /dev/null -w '%{http_code} %{time_total}' "$URL/hello")
    read -r code secs <<<"$r"
    if [ "$code" != 200 ] || ! awk -v s="$secs" 'BEGIN {exit !(s < 1.0)}'; then
        slow_or_bad+=("request $i: $r")
    fi
    sleep 0.15
done
if [ ${#slow_or_bad[@]} -eq 0 ]; then
    pass "12 fast requests during 3 runaways: all 200 within 1 s"
else
    fail "12 fast requests during 3 runaways: all 200 within 1 s" "${slow_or_bad[@]}"
fi

wait "${cpids[@]}" 2>/dev/null
for i in 1 2 3; do
    r=$(cat "$TMP/loop.$i")
    expect_eq "runaway $i answered 504" "504" "${r%% *}"
    if awk -v s="${r##* }" 'BEGIN {exit !(s >= 1.8 && s < 5)}'; then
        pass "runaway $i stopped near the 2 s timeout"
    else
        fail "runaway $i stopped near the 2 s timeout" "got: $r (code seconds)"
    fi
done
r=$(cat "$TMP/sleep.out")
expect_eq "guest asleep in poll_oneoff answered 504" "504" "${r%% *}"
if awk -v s="${r##* }" 'BEGIN {exit !(s < 5)}'; then
    pass "sleeping guest stopped near the 2 s timeout"
else
    fail "sleeping guest stopped near the 2 s timeout" "got: $r (code seconds)"
fi

# the runaways are really gone: an idle second costs (almost) no CPU
sleep 0.5
t0=$(cpu_ticks "$UP_PID")
sleep 1
t1=$(cpu_ticks "$UP_PID")
ticks=$((t1 - t0))
if [ "$ticks" -lt 30 ]; then
    pass "no guest still spinning after the timeouts"
else
    fail "no guest still spinning after the timeouts" "the idle server used $ticks CPU ticks (1/100 s) in 1 s"
fi

# the log names the component that timed out
sleep 0.2
log=$(cat "$TMP/up.out" "$TMP/up.err")
line=$(grep -i 'loop' <<<"$log" | grep -iE 'time|deadline' | grep -v 'Available' | head -n 1)
if [ -n "$line" ]; then
    pass "a log line names the runaway component (loop) and the timeout"
else
    fail "a log line names the runaway component (loop) and the timeout" "log: $(tail -n 8 <<<"$log")"
fi
line=$(grep -i 'sleep' <<<"$log" | grep -iE 'time|deadline' | head -n 1)
if [ -n "$line" ]; then pass "a log line names the sleeping component"; else fail "a log line names the sleeping component"; fi

# the server goes on serving, and a new runaway is stopped again
expect_eq "fast route still 200" "200" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/hello")"
expect_eq "a later runaway is 504 too" "504" "$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$URL/loop")"
check "server still running" kill -0 "$UP_PID"

# clients that hang up on runaways: the guests still end at the timeout, the server lives
cpids=()
for _ in 1 2 3 4; do
    curl -s -m 0.3 -o /dev/null "$URL/loop" 2>/dev/null &
    cpids+=($!)
done
wait "${cpids[@]}" 2>/dev/null
sleep 2.5
check "server survives clients that hang up on runaways" kill -0 "$UP_PID"
expect_eq "fast route 200 after the hang-ups" "200" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/hello")"
t0=$(cpu_ticks "$UP_PID")
sleep 1
t1=$(cpu_ticks "$UP_PID")
if [ $((t1 - t0)) -lt 30 ]; then
    pass "abandoned runaways are stopped too"
else
    fail "abandoned runaways are stopped too" "the idle server used $((t1 - t0)) CPU ticks in 1 s"
fi
if curl -V | grep -q HTTP2; then
    expect_eq "HTTP/2: a runaway is 504 too" "504" \
        "$(curl -s -m 10 --http2-prior-knowledge -o /dev/null -w '%{http_code}' "$URL/loop")"
fi

# the duration syntax: 500ms
stop_up "$UP_PID"
if start_up --request-timeout 500ms; then
    r=$(curl -s -m 10 -o /dev/null -w '%{http_code} %{time_total}' "$URL/loop")
    expect_eq "--request-timeout 500ms: runaway 504" "504" "${r%% *}"
    if awk -v s="${r##* }" 'BEGIN {exit !(s < 2)}'; then pass "--request-timeout 500ms: within 2 s"; else fail "--request-timeout 500ms: within 2 s" "got: $r"; fi
    expect_eq "--request-timeout 500ms: a 200 ms sleep is fine" "slept 200" "$(curl -s -m 5 "$URL/sleep?200")"
else
    fail "kiln up starts with --request-timeout 500ms" "$(tail -n 5 "$TMP/up.err")"
fi
expect_contains "a bad duration is refused" "request-timeout" \
    "$(timeout 5 "$KILN" up -f "$TMP/app" --listen 127.0.0.1:0 --request-timeout banana 2>&1)"
finish
