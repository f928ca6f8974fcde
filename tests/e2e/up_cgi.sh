#!/usr/bin/env bash
# kiln up: the WAGI executor's failure modes and CGI response edge cases — traps and
# non-zero exits are 500s and the server keeps serving; Location, Status, missing or
# empty output, hostile headers; guest stderr goes to the log with the component name.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/up.sh"
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

mkdir -p "$TMP/app"
if ! clang --target=wasm32-wasi --sysroot=/usr -O2 "$GUESTS/wagi_edge.c" -o "$TMP/app/edge.wasm"; then
    fail "guest builds (clang wasm32-wasi)"
    finish
    exit
fi
cat >"$TMP/app/kiln.toml" <<'EOF'
spin_manifest_version = 2
[application]
name = "cgi-edges"
[[trigger.http]]
route = "/..."
component = "edge"
executor = { type = "wagi" }
[component.edge]
source = "edge.wasm"
[component.edge.build]
command = "echo built > built.marker"
EOF
if ! start_up --workers 1 --build; then
    fail "kiln up starts" "$(cat "$TMP/up.err")"
    finish
    exit
fi

expect_eq "--build ran the build command in the app directory" "built" "$(cat "$TMP/app/built.marker" 2>/dev/null)"
for i in 1 2 3; do expect_eq "fresh instance $i" "1" "$(curl -s "$URL/count")"; done

expect_eq "trap is a 500" "500" "$(code "$URL/trap")"
expect_eq "serving after a trap" "1" "$(curl -s "$URL/count")"
expect_eq "non-zero exit is a 500" "500" "$(code "$URL/exit3")"
expect_eq "serving after an exit" "hello 1" "$(curl -s "$URL/")"
sleep 0.2
err=$(cat "$TMP/up.err")
expect_contains "trap logged with the component" "component 'edge' trapped" "$err"
expect_contains "trap reason logged" "unreachable" "$err"
expect_contains "exit status logged" "exited with status 3" "$err"

r=$(curl -s -i "$URL/location")
expect_contains "Location gives 302" "HTTP/1.1 302" "$r"
expect_contains "Location header passed" "location: /somewhere/else" "$r"
r=$(curl -s -i "$URL/status")
expect_contains "Status sets the code" "HTTP/1.1 404" "$r"
expect_contains "other headers pass through" "x-custom: yes" "$r"
expect_contains "body after Status" "missing" "$r"
expect_not_contains "Status is not a header" "status:" "$(printf '%s' "$r" | tr 'A-Z' 'a-z' | grep -v '^http/')"
expect_eq "unparsable Status is a 502" "502" "$(code "$URL/badstatus")"
expect_eq "no header block is a 500" "500" "$(code "$URL/noheaders")"
expect_eq "empty output is a 500" "500" "$(code "$URL/empty")"
r=$(curl -s -i "$URL/badheader")
expect_contains "valid headers kept" "x-good: fine" "$r"
expect_not_contains "invalid header name dropped" "Bad Name" "$r"
expect_not_contains "control characters dropped" "x-ctl" "$r"
expect_contains "guest Content-Length ignored" "Content-Length: 3" "$r"
expect_eq "big body" "1048576" "$(curl -s "$URL/big" | wc -c | tr -d ' ')"
expect_eq "HEAD has no body" "0" "$(curl -s -I "$URL/count" -o /dev/null -w '%{size_download}')"
curl -s "$URL/stderr" >/dev/null
sleep 0.3
err=$(cat "$TMP/up.err")
expect_contains "empty output explained" "executor" "$err"
expect_contains "no headers explained" "Content-Type, Location or Status" "$err"
expect_contains "bad Status explained" "not a valid status code" "$err"
expect_contains "dropped header logged" "dropped a header with an invalid name" "$err"
expect_contains "guest stderr logged with the component" "[edge] guest says hi" "$err"
log=$(cat "$TMP/up.out")
expect_contains "500 in the access log" "GET /trap 500 " "$log"
expect_contains "502 in the access log" "GET /badstatus 502 " "$log"

kill -TERM "$UP_PID"
wait "$UP_PID"
expect_eq "SIGTERM exits 0" "0" "$?"
finish
