#!/usr/bin/env bash
# examples/auth, as a wasi:http component (kiln.toml) and as WAGI (kiln-wagi.toml): HS256
# JWT bearer tokens. Missing token -> 401 with WWW-Authenticate: Bearer; valid -> 200 with
# the subject; expired, tampered, wrong key, alg "none", malformed -> 401 invalid_token.
# Tokens are minted here with python3's hmac/hashlib.
#
# Kiln, like WAGI, does not pass `Authorization` to WAGI handlers (CGI/1.1 section 4.1.18),
# so the cases are sent with X-Authorization (which the example also reads); the last check
# is that `Authorization` itself reaches the component and not the WAGI handler.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/example.sh"

SECRET=kiln-example-secret-change-me
# mint SUB EXP_OFFSET [KEY] [ALG]: prints a signed token.
mint() {
    python3 - "$1" "$2" "${3:-$SECRET}" "${4:-HS256}" <<'PY'
import base64, hashlib, hmac, json, sys, time
sub, off, key, alg = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
body = b64(json.dumps({"sub": sub, "exp": int(time.time()) + off, "iat": int(time.time())}).encode())
msg = (head + "." + body).encode()
sig = b64(hmac.new(key.encode(), msg, hashlib.sha256).digest()) if alg == "HS256" else ""
print(head + "." + body + "." + sig)
PY
}

for MANIFEST in $(example_forms); do
    if example_start auth; then
        http GET /
        expect_eq "no token: 401" 401 "$STATUS"
        expect_contains "no token: WWW-Authenticate: Bearer" "www-authenticate: bearer" "$HEADERS"
        expect_contains "no token: JSON error" '"status": 401' "$BODY"

        good=$(mint alice 300)
        http GET / -H "X-Authorization: Bearer $good"
        expect_eq "valid token: 200" 200 "$STATUS"
        expect_contains "valid token: the subject" '"subject": "alice"' "$BODY"
        expect_contains "valid token: application/json" "content-type: application/json" "$HEADERS"

        http GET / -H "X-Authorization: Bearer $(mint alice -10)"
        expect_eq "expired token: 401" 401 "$STATUS"
        expect_contains "expired token: says so" "expired" "$BODY"
        expect_contains "expired token: invalid_token" 'error="invalid_token"' "$HEADERS"

        # Tampered: the payload changed to another subject, the signature kept.
        evil=$(mint mallory 300)
        tampered="${good%%.*}.$(echo "$evil" | cut -d. -f2).${good##*.}"
        http GET / -H "X-Authorization: Bearer $tampered"
        expect_eq "tampered payload: 401" 401 "$STATUS"
        expect_contains "tampered payload: bad signature" "signature" "$BODY"
        # Tampered: the last character of the signature changed.
        last=${good: -1}
        [ "$last" = A ] && repl=B || repl=A
        http GET / -H "X-Authorization: Bearer ${good%?}$repl"
        expect_eq "tampered signature: 401" 401 "$STATUS"

        http GET / -H "X-Authorization: Bearer $(mint alice 300 wrong-key)"
        expect_eq "wrong key: 401" 401 "$STATUS"
        http GET / -H "X-Authorization: Bearer $(mint alice 300 x none)"
        expect_eq "alg none: 401" 401 "$STATUS"
        for t in garbage a.b a.b.c.d "..." "$good.x"; do
            http GET / -H "X-Authorization: Bearer $t"
            expect_eq "malformed token $(printf %q "$t"): 401" 401 "$STATUS"
        done
        http GET / -H "X-Authorization: Basic dXNlcjpwYXNz"
        expect_eq "Basic credentials: 401" 401 "$STATUS"
        http POST / -H "X-Authorization: Bearer $good"
        expect_eq "POST: 405" 405 "$STATUS"

        http GET / -H "Authorization: Bearer $good"
        if [ "$MANIFEST" = kiln.toml ]; then
            expect_eq "a wasi:http component gets the Authorization header" 200 "$STATUS"
        else
            expect_eq "a WAGI handler does not get the Authorization header (CGI)" 401 "$STATUS"
        fi
        example_down
    fi
done
finish
