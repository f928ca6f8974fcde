#!/usr/bin/env bash
# examples/fanout: GET /?n=20 sends 20 requests at once (kiln_http_fetch_all: the futures of
# wasi:http/outgoing-handler polled together) to an upstream that answers each after 200 ms.
# They must overlap: the upstream sees more than one in flight and the whole answer comes
# well under 20 x 200 ms (a check of concurrency, not a timing target: 4 s would mean one
# at a time). Every result is there, in order; without the grant every request fails.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/example.sh"
source "$(dirname "$0")/helpers/upstream.sh"

UPORT=$(free_port)
upstream_start "$UPORT" 200 || { finish; exit; }
if example_start fanout --variable "upstream=127.0.0.1:$UPORT"; then
    t0=$(date +%s%N)
    http GET "/?n=20"
    ms=$(((($(date +%s%N) - t0)) / 1000000))
    expect_eq "GET /?n=20 is 200" 200 "$STATUS"
    expect_contains "all 20 succeeded" '{"n": 20, "ok": 20, ' "$BODY"
    for i in 0 7 19; do
        expect_contains "result $i is item $i" "{\"i\": $i, \"status\": 200, \"body\": \"item $i\"}" "$BODY"
    done
    expect_eq "20 results" 20 "$(grep -o '"status": 200' <<<"$BODY" | wc -l)"
    if [ "$ms" -lt 2000 ]; then
        pass "20 x 200 ms upstream requests overlap ($ms ms < 2000 ms)"
    else
        fail "20 x 200 ms upstream requests overlap" "took $ms ms (sequential would be 4000)"
    fi
    stats=$(curl -s "http://127.0.0.1:$UPORT/stats")
    max=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["max_inflight"])' <<<"$stats")
    check "the upstream saw the requests at once (max in flight $max > 1)" test "$max" -gt 1
    expect_contains "the upstream got 20 requests" '"requests": 20,' "$stats"
    http GET "/?n=100"
    expect_contains "the most at once (100) all succeed" '{"n": 100, "ok": 100, ' "$BODY"
    http GET "/?n=101"
    expect_eq "n=101 is 400" 400 "$STATUS"
    http GET "/?n=0"
    expect_eq "n=0 is 400" 400 "$STATUS"
    http GET "/?n=abc"
    expect_eq "n=abc is 400" 400 "$STATUS"
    example_down
    # A grant for another port: every request is refused by the host, none reaches the upstream.
    OTHER=$(free_port)
    sed -i "s|^allowed_outbound_hosts = .*|allowed_outbound_hosts = [\"http://127.0.0.1:$OTHER\"]|" "$APP/kiln.toml"
    if example_up --variable "upstream=127.0.0.1:$UPORT"; then
        http GET "/?n=3"
        expect_contains "without the grant none succeeds" '{"n": 3, "ok": 0, ' "$BODY"
        expect_contains "a refused request is an error result" '"error": "request failed"' "$BODY"
        expect_contains "the upstream got no more requests" '"requests": 120' \
            "$(curl -s "http://127.0.0.1:$UPORT/stats")"
    fi
fi
finish
