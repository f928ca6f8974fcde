# wasi_http.sh — what the wasi:http `kiln up` tests share (sourced after tests/lib.sh):
#   - the components c-http and c-http-spin in $CORPUS (tests/components/build.sh; when
#     they cannot be built the test fails and ends here);
#   - wasi_http_app DIR NAME [LINES]: an app in DIR serving /hello/... with c-http
#     (component hello) and /x/... with c-http-spin (component t); LINES are appended to
#     [component.t];
#   - serve DIR LOG ARGS...: `kiln up -f DIR ARGS...` on a free port in the background
#     (stopped at exit), its stdout in $TMP/LOG.out and stderr in $TMP/LOG.err; sets PORT,
#     URL and PID and waits until the health check answers.
CORPUS="$KILN_BUILD/components"
if ! out=$("$ROOT/tests/components/build.sh" "$CORPUS" c-http c-http-spin 2>&1); then
    fail "tests/components/build.sh builds c-http and c-http-spin" "$out"
    finish
    exit
fi

wasi_http_app() {
    mkdir -p "$1"
    cp "$CORPUS/c-http.wasm" "$CORPUS/c-http-spin.wasm" "$1/"
    printf '%s\n' "spin_manifest_version = 2" "[application]" "name = \"$2\"" \
        "[[trigger.http]]" 'route = "/hello/..."' 'component = "hello"' \
        "[[trigger.http]]" 'route = "/x/..."' 'component = "t"' \
        "[component.hello]" 'source = "c-http.wasm"' \
        "[component.t]" 'source = "c-http-spin.wasm"' "${3:-}" >"$1/spin.toml"
}

serve() {
    local dir=$1 log=$2
    shift 2
    PORT=$(free_port)
    URL="http://127.0.0.1:$PORT"
    "$KILN" up -f "$dir" --listen "127.0.0.1:$PORT" "$@" >"$TMP/$log.out" 2>"$TMP/$log.err" &
    PID=$!
    on_exit "kill $PID 2>/dev/null"
    for _ in $(seq 300); do curl -fs "$URL/.well-known/kiln/health" >/dev/null && return; sleep 0.1; done
}
