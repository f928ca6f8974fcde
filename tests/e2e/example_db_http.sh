#!/usr/bin/env bash
# examples/db-http ("database via HTTP"): the component queries a JSON API (a local one
# started here, tests/e2e/helpers/upstream.py /users) with kiln_http_fetch and answers with
# a transformed result: counts, the average age, e-mail domains instead of addresses; the
# filter goes to the API; an unknown id is 404; the API down is a 502 JSON error.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/example.sh"
source "$(dirname "$0")/helpers/upstream.sh"

UPORT=$(free_port)
upstream_start "$UPORT" || { finish; exit; }
if example_start db-http --variable "api=127.0.0.1:$UPORT"; then
    http GET /users
    expect_eq "GET /users is 200" 200 "$STATUS"
    expect_contains "GET /users is JSON" "content-type: application/json" "$HEADERS"
    expect_eq "GET /users: the API's rows transformed" \
        '{"count": 4, "average_age": 58.5, "users": [{"id": 1, "name": "Ada Lovelace", "email_domain": "example.com"}, {"id": 2, "name": "Alan Turing", "email_domain": "example.com"}, {"id": 3, "name": "Grace Hopper", "email_domain": "example.com"}, {"id": 4, "name": "Edsger Dijkstra", "email_domain": "example.com"}]}' \
        "$BODY"
    expect_not_contains "no e-mail address leaves" "ada@" "$BODY"
    http GET /users/active
    expect_contains "GET /users/active: the API filtered" '{"count": 3, "average_age": 64.3, ' "$BODY"
    expect_not_contains "GET /users/active: no inactive user" "Alan Turing" "$BODY"
    http GET /users/3
    expect_eq "GET /users/3" '{"id": 3, "name": "Grace Hopper", "email_domain": "example.com"}' "$BODY"
    http GET /users/99
    expect_eq "GET /users/99 is 404" 404 "$STATUS"
    http GET /users/x
    expect_eq "GET /users/x is 404" 404 "$STATUS"
    http POST /users -d x
    expect_eq "POST /users is 405" 405 "$STATUS"
    example_down
fi
# The API down (nothing listens on its port): a 502 JSON error, kiln up keeps serving.
DOWN=$(free_port)
if [ -n "${APP:-}" ] && example_up --variable "api=127.0.0.1:$DOWN"; then
    http GET /users
    expect_eq "the API down: 502" 502 "$STATUS"
    expect_contains "the API down: a JSON error naming it" "the users API cannot be reached" "$BODY"
    check "kiln up still answers" curl -sf "$URL/.well-known/kiln/health"
fi
finish
