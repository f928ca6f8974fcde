#!/usr/bin/env bash
# examples/static, as a wasi:http component (kiln.toml) and as WAGI (kiln-wagi.toml): files
# from a read-only `files` mount with content types by extension, 404 for missing files,
# and no way out of the mount (.., %2e%2e, symbolic links).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/example.sh"

for MANIFEST in $(example_forms); do
    if example_copy static; then
        # Links that point out of the mount, made in the copy (an absolute and a relative one),
        # and a secret next to the mount.
        echo "top secret" >"$APP/secret.txt"
        ln -s /etc/passwd "$APP/public/passwd"
        ln -s ../secret.txt "$APP/public/secret.txt"
        ln -s .. "$APP/public/up"
    fi
    if [ -n "${APP:-}" ] && example_build static && example_up; then
        http GET /
        expect_eq "GET / is 200" 200 "$STATUS"
        expect_contains "GET / is index.html" "Served by a WebAssembly component" "$BODY"
        expect_contains "index.html is text/html" "content-type: text/html" "$HEADERS"
        http GET /css/site.css
        expect_eq "css is 200" 200 "$STATUS"
        expect_contains "css content type" "content-type: text/css" "$HEADERS"
        http GET /hello.txt
        expect_eq "txt body" "hello from a file" "$BODY"
        expect_contains "txt content type" "content-type: text/plain" "$HEADERS"
        http GET /data.json
        expect_contains "json content type" "content-type: application/json" "$HEADERS"
        http GET /css
        expect_eq "a directory without its index: 404" 404 "$STATUS"
        http GET /missing.html
        expect_eq "missing file: 404" 404 "$STATUS"
        expect_contains "missing file: JSON error" '"status": 404' "$BODY"

        for p in /../kiln.toml /css/../../kiln.toml /%2e%2e/kiln.toml /%2E%2E/secret.txt \
            /css/%2e%2e/%2e%2e/kiln.toml /..%2fkiln.toml /./hello.txt /passwd /secret.txt \
            /up/kiln.toml /up/secret.txt; do
            out=$(curl -s --path-as-is -o "$TMP/b" -w '%{http_code}' "$URL$p")
            expect_eq "no way out: $p is 404" 404 "$out"
            if grep -q -e "top secret" -e "root:" -e "spin_manifest_version" "$TMP/b"; then
                fail "no way out: $p leaked a file" "$(head -c 200 "$TMP/b")"
            fi
        done
        http PUT /hello.txt --data x
        expect_eq "PUT: 405" 405 "$STATUS"
        example_down
    fi
done
finish
