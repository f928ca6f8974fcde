# Helpers for the tests of examples/ (tests/e2e/example_*.sh). Source after tests/lib.sh.
#
# example_start NAME [UP ARGS...]: copies examples/NAME and sdk/c into $TMP (so the
# build leaves the tree untouched), builds it with `kiln build -f`, starts `kiln up` on a
# free port and waits for /.well-known/kiln/health (60 s; EXAMPLE_UP_TRIES tenths of a
# second when set, for a first compile of a language runtime). Sets APP (the copy) and URL. Returns
# non-zero (after recording a failure) when something does not work. example_down stops it.
#
# MANIFEST (default kiln.toml) picks the manifest in the example: the C examples have
# kiln.toml (a wasi:http component) and kiln-wagi.toml (the same sources as WAGI), and
# their tests run once per form (example_forms). Failures name the form.

# example_forms: the manifests of the example's forms (for `for MANIFEST in ...`).
example_forms() { echo kiln.toml kiln-wagi.toml; }

# Every failure is prefixed with the manifest it happened with.
eval "$(declare -f fail | sed '1s/^fail/_example_lib_fail/')"
fail() { _example_lib_fail "[${MANIFEST:-kiln.toml}] $1" "${@:2}"; }

example_copy() {
    mkdir -p "$TMP/examples" "$TMP/sdk"
    rm -rf "$TMP/examples/$1" "$TMP/sdk/c"
    cp -R "$ROOT/examples/$1" "$TMP/examples/$1" && cp -R "$ROOT/sdk/c" "$TMP/sdk/c" || return 1
    rm -rf "$TMP/examples/$1/target"
    APP="$TMP/examples/$1"
}

example_build() {
    if "$KILN" build -f "$APP/${MANIFEST:-kiln.toml}" >"$TMP/build.out" 2>&1; then
        pass "kiln build -f examples/$1/${MANIFEST:-kiln.toml}"
    else
        fail "kiln build -f examples/$1/${MANIFEST:-kiln.toml}" "$(tail -n 20 "$TMP/build.out")"
        return 1
    fi
}

example_up() {
    PORT=$(free_port)
    URL="http://127.0.0.1:$PORT"
    "$KILN" up -f "$APP/${MANIFEST:-kiln.toml}" --listen "127.0.0.1:$PORT" "$@" >"$TMP/up.out" 2>"$TMP/up.err" &
    UP_PID=$!
    on_exit "kill $UP_PID 2>/dev/null"
    for _ in $(seq 1 "${EXAMPLE_UP_TRIES:-600}"); do
        if curl -sf "$URL/.well-known/kiln/health" >/dev/null 2>&1; then
            pass "kiln up serves $APP"
            return 0
        fi
        kill -0 "$UP_PID" 2>/dev/null || break
        sleep 0.1
    done
    fail "kiln up serves $APP" "$(tail -n 20 "$TMP/up.err")"
    return 1
}

example_down() {
    kill "$UP_PID" 2>/dev/null
    wait "$UP_PID" 2>/dev/null
}

example_start() {
    local name=$1
    shift
    example_copy "$name" || { fail "copy examples/$name"; return 1; }
    example_build "$name" && example_up "$@"
}

# http METHOD PATH [CURL ARGS...]: sets STATUS, HEADERS (lowercase names) and BODY.
http() {
    local method=$1 path=$2
    shift 2
    local out
    out=$(curl -s -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' -X "$method" "$@" "$URL$path")
    STATUS=$out
    BODY=$(cat "$TMP/body" 2>/dev/null)
    HEADERS=$(tr -d '\r' <"$TMP/headers" 2>/dev/null | tr 'A-Z' 'a-z')
}
