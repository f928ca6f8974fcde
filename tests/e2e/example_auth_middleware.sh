#!/usr/bin/env bash
# examples/auth-middleware: a bearer-token middleware component (src/auth.c, Spin 3's
# dependencies.middleware) in front of the protected /api route, built by `kiln build`.
# No token, a wrong one, another scheme or two Authorization headers -> 401 from the
# middleware (with WWW-Authenticate: Bearer, and the handler never runs); the right token
# -> 200 from the protected handler; /public is open without a token.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/example.sh"

TOKEN=kiln-example-token-change-me
if example_start auth-middleware; then
    http GET /api/data
    expect_eq "no token: 401" 401 "$STATUS"
    expect_contains "no token: WWW-Authenticate: Bearer" "www-authenticate: bearer" "$HEADERS"
    expect_contains "no token: the middleware's JSON error" "a valid bearer token is required" "$BODY"
    expect_not_contains "no token: the protected handler did not answer" "protected" "$BODY"

    http GET /api/data -H "Authorization: Bearer wrong-token"
    expect_eq "a wrong token: 401" 401 "$STATUS"
    http GET /api/data -H "Authorization: Bearer ${TOKEN}x"
    expect_eq "the token with a byte more: 401" 401 "$STATUS"
    http GET /api/data -H "Authorization: Basic $TOKEN"
    expect_eq "another scheme: 401" 401 "$STATUS"
    http GET /api/data -H "Authorization: Bearer $TOKEN" -H "Authorization: Bearer $TOKEN"
    expect_eq "two Authorization headers: 401" 401 "$STATUS"

    http GET /api/data -H "Authorization: Bearer $TOKEN"
    expect_eq "the right token: 200" 200 "$STATUS"
    expect_eq "the right token: the protected handler's answer" \
        '{"protected": true, "path": "/api/data"}' "$BODY"
    expect_contains "the right token: application/json" "content-type: application/json" "$HEADERS"
    http GET /api/data -H "authorization: bearer $TOKEN"
    expect_eq "the scheme in any case: 200" 200 "$STATUS"

    http GET /public/readme
    expect_eq "the public route without a token: 200" 200 "$STATUS"
    expect_eq "the public route's answer" "anyone may read this" "$BODY"
    example_down
fi
finish
