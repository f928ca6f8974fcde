#!/usr/bin/env bash
# Registry authentication and TLS with a real docker-registry on loopback:
#   - htpasswd (Basic): anonymous push refused, wrong password refused by `login` (nothing
#     stored), right password stored 0600, push/pull/up --from with it, a group-readable
#     credentials file refused, logout
#   - token auth (Bearer): the registry sends clients to a token server
#     (helpers/token_server.py: JWTs signed with openssl); anonymous pulls get a pull
#     token, an anonymous push is refused, a login with the wrong password is refused by
#     the token server, with the right one push and pull work
#   - docker's config.json as the fallback when Kiln's file has no entry
#   - TLS with a test CA made here: trusted through --ca and SSL_CERT_FILE, refused
#     without; skopeo reads what Kiln pushed over TLS; --insecure only for loopback
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/example.sh"
source "$(dirname "$0")/helpers/registry.sh"
registry_need htpasswd openssl

export KILN_REGISTRY_AUTH="$TMP/kiln-auth/registry-auth.json"
export DOCKER_CONFIG="$TMP/docker" # not the user's: empty until the fallback test
example_copy hello || fail "copy examples/hello"
example_build hello || { finish; exit 1; }
HELLO=$APP

# ---- htpasswd ----
htpasswd -Bbn alice 'correct horse' >"$TMP/htpasswd" 2>/dev/null
cat >"$TMP/auth.yml" <<YAML
auth:
  htpasswd:
    realm: kiln-test
    path: $TMP/htpasswd
YAML
registry_start basic "$TMP/auth.yml" || { finish; exit 1; }
REF="$REG/secure/hello:v1"

out=$("$KILN" registry push -k -f "$HELLO" "$REF" 2>&1)
expect_eq "anonymous push to a registry with htpasswd: exit 1" 1 $?
expect_contains "anonymous push: says to log in" "kiln registry login" "$out"
expect_contains "anonymous push: names the reference" "$REG/secure/hello" "$out"

out=$(printf 'wrong\n' | "$KILN" registry login -k -u alice --password-stdin "$REG" 2>&1)
expect_eq "wrong password: exit 1" 1 $?
expect_contains "wrong password: refused by the registry" "refused the user name or password" "$out"
expect_contains "wrong password: names the registry" "$REG" "$out"
check "wrong password: nothing stored" test ! -e "$KILN_REGISTRY_AUTH"

out=$(printf 'correct horse\n' | "$KILN" registry login -k -u alice --password-stdin "$REG" 2>&1)
expect_eq "login: exit 0" 0 $?
expect_eq "login: the credentials file is 0600" 600 "$(stat -c %a "$KILN_REGISTRY_AUTH" 2>/dev/null)"
expect_not_contains "login: the password is not stored in clear" "correct horse" "$(cat "$KILN_REGISTRY_AUTH")"

out=$("$KILN" registry push -k -f "$HELLO" "$REF" 2>&1)
expect_eq "push with the stored credentials: exit 0" 0 $?
raw=$(skopeo inspect --tls-verify=false --creds 'alice:correct horse' --raw "docker://$REF" 2>&1)
expect_contains "skopeo (with credentials) sees the locked app layer" \
    "application/vnd.fermyon.spin.application.v1+config" "$raw"
export KILN_CACHE_DIR="$TMP/cache-basic"
if up_from "$REF" -k; then
    http GET /
    expect_eq "up --from with credentials serves" "Hello from Kiln!" "$BODY"
    up_stop
fi

chmod 644 "$KILN_REGISTRY_AUTH"
out=$("$KILN" registry pull -k "$REF" 2>&1)
expect_eq "group-readable credentials file: exit 1" 1 $?
expect_contains "group-readable credentials file: refused with the fix" "chmod 600" "$out"
chmod 600 "$KILN_REGISTRY_AUTH"

"$KILN" registry logout "$REG" >/dev/null 2>&1
export KILN_CACHE_DIR="$TMP/cache-logout"
out=$("$KILN" registry pull -k "$REF" 2>&1)
expect_contains "after logout: anonymous again" "needs credentials" "$out"
expect_eq "after logout: nothing cached" "" "$(cache_entries "$KILN_CACHE_DIR")"

# docker's config.json answers for a registry Kiln's file does not name (as `docker
# login` leaves it: base64 user:password under "auths")
mkdir -p "$DOCKER_CONFIG"
printf '{"auths":{"%s":{"auth":"%s"}},"credsStore":"desktop"}\n' "$REG" \
    "$(printf 'alice:correct horse' | base64)" >"$DOCKER_CONFIG/config.json"
out=$("$KILN" registry pull -k "$REF" 2>&1)
expect_eq "docker's config.json: pull with its credentials: exit 0" 0 $?
expect_not_contains "... no note about the helper when the entry is there" "docker-credential" "$out"
printf '{"auths":{},"credsStore":"desktop"}\n' >"$DOCKER_CONFIG/config.json"
out=$("$KILN" registry pull -k "$REF" 2>&1)
expect_contains "docker's credsStore: a note that kiln does not run it" "docker-credential-desktop" "$out"
rm -f "$DOCKER_CONFIG/config.json"
registry_stop

# ---- token auth (Bearer) ----
SIGN="$TMP/signer"
mkdir -p "$SIGN"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Kiln test token signer" \
    -keyout "$SIGN/key.pem" -out "$SIGN/cert.pem" >/dev/null 2>&1
TPORT=$(free_port)
python3 "$(dirname "$0")/helpers/token_server.py" "$TPORT" "$SIGN/key.pem" "$SIGN/cert.pem" \
    kiln-test-issuer 'bob:token pass' 2>"$TMP/token.log" &
TOKEN_PID=$!
on_exit "kill $TOKEN_PID 2>/dev/null"
for _ in $(seq 1 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$TPORT/token" && break
    sleep 0.1
done
check "the token server answers" curl -sf -o /dev/null "http://127.0.0.1:$TPORT/token"
cat >"$TMP/token.yml" <<YAML
auth:
  token:
    realm: http://127.0.0.1:$TPORT/token
    service: kiln-test-registry
    issuer: kiln-test-issuer
    rootcertbundle: $SIGN/cert.pem
YAML
rm -f "$KILN_REGISTRY_AUTH"
registry_start token "$TMP/token.yml" || { finish; exit 1; }
REF="$REG/bearer/hello:v1"
out=$("$KILN" registry push -k -f "$HELLO" "$REF" 2>&1)
expect_eq "bearer: anonymous push refused: exit 1" 1 $?
expect_contains "bearer: anonymous push: says to log in" "kiln registry login" "$out"
expect_contains "bearer: the client went to the token server" "GET /token" "$(cat "$TMP/token.log")"
out=$(printf 'nope\n' | "$KILN" registry login -k -u bob --password-stdin "$REG" 2>&1)
expect_eq "bearer: wrong password: exit 1" 1 $?
expect_contains "bearer: wrong password: the token server's answer" "wrong user name or password" "$out"
out=$(printf 'token pass\n' | "$KILN" registry login -k -u bob --password-stdin "$REG" 2>&1)
expect_eq "bearer: login: exit 0" 0 $?
out=$("$KILN" registry push -k -f "$HELLO" "$REF" 2>&1)
expect_eq "bearer: push with a token: exit 0" 0 $?
expect_contains "bearer: the token asked for push" "pull%2Cpush" "$(cat "$TMP/token.log")"
"$KILN" registry logout "$REG" >/dev/null 2>&1
export KILN_CACHE_DIR="$TMP/cache-bearer"
if up_from "$REF" -k; then
    http GET /hello/Bearer
    expect_eq "bearer: anonymous pull token, up --from serves" "Hello, Bearer!" "$BODY"
    up_stop
fi
registry_stop

# ---- TLS with a test CA ----
CA="$TMP/ca"
mkdir -p "$CA"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Kiln test CA" \
    -keyout "$CA/ca.key" -out "$CA/ca.pem" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$CA/server.key" \
    -out "$CA/server.csr" >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$CA/ext"
openssl x509 -req -in "$CA/server.csr" -CA "$CA/ca.pem" -CAkey "$CA/ca.key" -CAcreateserial \
    -days 2 -extfile "$CA/ext" -out "$CA/server.pem" >/dev/null 2>&1
check "the test CA signed a server certificate" openssl verify -CAfile "$CA/ca.pem" "$CA/server.pem"

REGISTRY_TLS="$CA/server.pem:$CA/server.key" registry_start tls || { finish; exit 1; }
REF="$REG/tls/hello:v1"
out=$("$KILN" registry push -f "$HELLO" "$REF" 2>&1)
expect_eq "TLS without the CA: exit 1" 1 $?
expect_contains "TLS without the CA: the certificate is the cause" "certificate" "$out"
out=$("$KILN" registry push --ca "$CA/ca.pem" -f "$HELLO" "$REF" 2>&1)
expect_eq "TLS with --ca: push exits 0" 0 $?
mkdir -p "$TMP/certs.d"
cp "$CA/ca.pem" "$TMP/certs.d/ca.crt"
raw=$(skopeo inspect --cert-dir "$TMP/certs.d" --raw "docker://$REF" 2>&1)
expect_contains "skopeo over TLS sees the wasm layer" "application/vnd.wasm.content.layer.v1+wasm" "$raw"
export KILN_CACHE_DIR="$TMP/cache-tls"
if SSL_CERT_FILE="$CA/ca.pem" up_from "$REF"; then
    http GET /hello/TLS
    expect_eq "up --from over TLS (SSL_CERT_FILE) serves" "Hello, TLS!" "$BODY"
    up_stop
fi
out=$("$KILN" registry pull -k "registry.example.com/x/y:1" 2>&1)
expect_contains "--insecure is refused for a registry off loopback" "only allowed for a loopback registry" "$out"
finish
