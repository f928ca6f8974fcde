#!/usr/bin/env bash
# examples/json-api, as a wasi:http component (kiln.toml) and as WAGI (kiln-wagi.toml):
# POST {"name": ...} answers a JSON greeting with a timestamp; other methods 405 with
# Allow: POST; bad JSON or a missing/non-string name 400 as JSON.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/example.sh"

# json_field JSON EXPR: evaluates a Python expression on the parsed document `d`.
json_field() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }

for MANIFEST in $(example_forms); do
    if example_start json-api; then
        before=$(date +%s)
        http POST / -H 'Content-Type: application/json' --data '{"name": "Alice"}'
        after=$(date +%s)
        expect_eq "POST is 200" 200 "$STATUS"
        expect_contains "answer is application/json" "content-type: application/json" "$HEADERS"
        expect_eq "message" "Hello, Alice!" "$(json_field "$BODY" 'd["message"]')"
        ts=$(json_field "$BODY" 'd["timestamp"] if isinstance(d["timestamp"], int) else "not-int"')
        if [ -n "$ts" ] && [ "$ts" != not-int ] && [ "$ts" -ge "$before" ] && [ "$ts" -le "$after" ]; then
            pass "timestamp is the current unix time"
        else
            fail "timestamp is the current unix time" "got: $BODY"
        fi
        http POST / --data '{"name": "Zo\u00eb \"Z\" <\\>", "extra": [1, 2.5e3, null, true, {}]}'
        expect_eq "escapes round-trip" 'Hello, Zoë "Z" <\>!' "$(json_field "$BODY" 'd["message"]')"
        http POST / --data-binary $'\n {"name":"Bob"} \n'
        expect_eq "whitespace around the document" "Hello, Bob!" "$(json_field "$BODY" 'd["message"]')"

        for m in GET PUT DELETE; do
            http "$m" /
            expect_eq "$m is 405" 405 "$STATUS"
            expect_contains "$m 405 has Allow: POST" "allow: post" "$HEADERS"
        done
        expect_eq "405 body is a JSON error" 405 "$(json_field "$BODY" 'd["status"]')"

        bad=('not json' '{"name": "Alice",}' '{"name": "Alice"} x' "{'name': 'Alice'}" '{"name": 01}'
            '{"name": "a\qb"}' '{"name": "\ud800"}' '' '{"name": "Alice"' '[1, 2]' '{"nom": "Alice"}'
            '{"name": 42}' '{"name": null}' '{"name": ["Alice"]}' '{"name": ""}'
            '{"name": "A", "name": "B"}')
        for b in "${bad[@]}"; do
            http POST / --data-binary "$b"
            expect_eq "400 for body $(printf %q "$b")" 400 "$STATUS"
            [ "$(json_field "$BODY" 'd["status"]')" = 400 ] || fail "JSON error body for $(printf %q "$b")" "got: $BODY"
        done
        expect_contains "400 is application/json" "content-type: application/json" "$HEADERS"
        printf '{"name": "\xff"}' >"$TMP/bad-utf8"
        http POST / --data-binary @"$TMP/bad-utf8"
        expect_eq "400 for invalid UTF-8" 400 "$STATUS"
        python3 -c 'print("[" * 100000)' >"$TMP/deep"
        http POST / --data-binary @"$TMP/deep"
        expect_eq "400 for nesting too deep (no crash)" 400 "$STATUS"
        example_down
    fi
done
finish
