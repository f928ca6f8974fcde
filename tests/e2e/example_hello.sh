#!/usr/bin/env bash
# examples/hello, as a wasi:http component (kiln.toml) and as WAGI (kiln-wagi.toml):
# kiln build + kiln up; GET / greets, /hello/:name greets by name, other
# methods are 405 with Allow.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/example.sh"

for MANIFEST in $(example_forms); do
    if example_start hello; then
        http GET /
        expect_eq "GET / is 200" 200 "$STATUS"
        expect_eq "GET / greets" "Hello from Kiln!" "$BODY"
        expect_contains "GET / is text/plain" "content-type: text/plain" "$HEADERS"
        http GET /some/other/path
        expect_eq "any path is served by the /... route" "Hello from Kiln!" "$BODY"
        http GET /hello/Ada%20Lovelace
        expect_eq "route parameter :name" "Hello, Ada Lovelace!" "$BODY"
        http DELETE /
        expect_eq "DELETE is 405" 405 "$STATUS"
        expect_contains "405 names the allowed methods" "allow: get, head" "$HEADERS"
        expect_contains "405 has a JSON error" '"status": 405' "$BODY"
        example_down
    fi
done
finish
