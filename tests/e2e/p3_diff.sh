#!/usr/bin/env bash
# p3_diff.sh — WASI 0.3 (p3) components built by real toolchains, run by Kiln and by
# wasmtime (the reference p3 host), must answer alike:
#   - tests/components/c-http-p3 (wit-bindgen's async C bindings) and py-http-p3
#     (componentize-py's async bindings), both exporting wasi:http/handler@0.3.0, served by
#     `kiln up` and `wasmtime serve -Sp3`: the same status, headers (but date, server and
#     the framing ones: connection, keep-alive, transfer-encoding, content-length) and body
#     for GET /, GET /headers (x-* request headers echoed, x-drop then taken out with
#     fields.get-and-delete; compared sorted, as wasmtime's header map does not keep the
#     order of names), POST /echo (a short body and 1 MiB),
#     GET /stream (five pieces written with a wasi:clocks wait-for of 20 ms between them),
#     GET /status/418, and GET /error (an error-code: the same status; each host writes its
#     own error page);
#   - tests/components/c-cli-p3 and py-cli-p3 (wasi:cli/run@0.3.0 commands) under `kiln
#     run` and `wasmtime run -Sp3`: the same stdout and exit code;
#   - `kiln inspect` of them shows async functions and stream/future types.
# wasmtime-cli comes from scripts/install-wasmtime.sh (a long build); without it the
# comparisons are skipped with a reason (KILN_REQUIRE_WASMTIME=1 makes that a failure), and
# Kiln's answers are still checked against the expected ones.
source "$(dirname "$0")/../lib.sh"

TOOLS=${KILN_TOOLS:-/var/cache/kiln-tools}
WASMTIME=$TOOLS/cargo/bin/wasmtime
# wasmtime 48's switches for p3: the WASI 0.3 host, the async ABI and the built-ins
# (synchronous stream.read & co.) that wit-bindgen's and componentize-py's code use.
WFLAGS=(-Sp3 -Scli -Wcomponent-model-async -Wcomponent-model-more-async-builtins)

mkdir -p "$TMP/corpus"
if ! "$ROOT/tests/components/build.sh" "$TMP/corpus" c-http-p3 c-cli-p3 py-http-p3 py-cli-p3 >"$TMP/build.log" 2>&1; then
    fail "tests/components/build.sh c-http-p3 c-cli-p3 py-http-p3 py-cli-p3" "$(tail -20 "$TMP/build.log")"
    finish
    exit 1
fi
# kiln inspect shows what these toolchains emit: async functions, stream and future types,
# and the async built-ins counted.
out=$("$KILN" inspect "$TMP/corpus/c-http-p3.wasm" 2>&1)
expect_contains "inspect: the async export" \
    "handle: async func(request: request) -> result<response, error-code>;" "$out"
expect_contains "inspect: an async import" "wait-for: async func(how-long: duration);" "$out"
expect_contains "inspect: stream and future types" \
    "consume-body: static func(this: request, res: future<result<_, error-code>>) -> tuple<stream<u8>, future<result<option<fields>, error-code>>>;" \
    "$out"
expect_contains "inspect: the async built-ins" "stream.new 1, stream.read 1, stream.write 1" "$out"
out=$("$KILN" inspect "$TMP/corpus/c-cli-p3.wasm" 2>&1)
expect_contains "inspect: the p3 command's run" "run: async func() -> result;" "$out"
expect_contains "inspect: write-via-stream" \
    "write-via-stream: func(data: stream<u8>) -> future<result<_, error-code>>;" "$out"
out=$("$KILN" inspect "$TMP/corpus/py-http-p3.wasm" 2>&1)
expect_contains "inspect: the Python handler's async export" \
    "handle: async func(request: request) -> result<response, error-code>;" "$out"

have_wasmtime=1
if [ ! -x "$WASMTIME" ]; then
    have_wasmtime=0
    if [ "${KILN_REQUIRE_WASMTIME:-0}" = 1 ]; then
        fail "wasmtime comparison: $WASMTIME is missing (scripts/install-wasmtime.sh)"
    else
        echo "p3_diff: SKIP the wasmtime comparisons: wasmtime-cli not built in $TOOLS/cargo/bin (scripts/install-wasmtime.sh)" >&2
    fi
fi

# answer BASE_URL PATH [curl args...]: status, the compared headers (lower-cased, sorted)
# and the body of one request, as one text.
answer() {
    local url=$1 path=$2
    shift 2
    curl -s --max-time 20 -D "$TMP/h" -o "$TMP/b" "$@" "$url$path" || echo "curl failed: $?"
    head -1 "$TMP/h" | tr -d '\r' | cut -d' ' -f2
    tail -n +2 "$TMP/h" | tr -d '\r' | sed '/^$/d' | awk -F': ' '{ $1 = tolower($1); print }' OFS=': ' |
        grep -v -E '^(date|server|connection|keep-alive|transfer-encoding|content-length):' | LC_ALL=C sort
    echo "--"
    case $path in
    /headers) LC_ALL=C sort "$TMP/b" ;;
    /error) ;; # each host's own error page
    *) cat "$TMP/b" ;;
    esac
}

# The requests, by name.
head -c 1048576 /dev/urandom | base64 -w 76 >"$TMP/big.txt"
REQS=(get headers echo big stream status error)
request() { # request NAME URL
    case $1 in
    get) answer "$2" / ;;
    headers) answer "$2" /headers -H 'x-one: 1' -H 'X-Two: two words' -H 'x-drop: a' \
        -H 'x-three: 3' -H 'x-drop: b' ;;
    echo) answer "$2" /echo -X POST --data-binary 'echo me please' ;;
    big) answer "$2" /echo -X POST -H 'Expect:' --data-binary @"$TMP/big.txt" | sha256sum ;;
    stream) answer "$2" /stream ;;
    status) answer "$2" /status/418 ;;
    error) answer "$2" /error ;;
    esac
}

# start_kiln WASM: kiln up on a free port serving it; sets KURL, KPID.
start_kiln() {
    mkdir -p "$TMP/app"
    cp "$1" "$TMP/app/handler.wasm"
    cat >"$TMP/app/spin.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "p3diff"
[[trigger.http]]
route = "/..."
component = "h"
[component.h]
source = "handler.wasm"
TOML
    local port
    port=$(free_port)
    KURL="http://127.0.0.1:$port"
    "$KILN" up -f "$TMP/app" --listen "127.0.0.1:$port" >"$TMP/kiln.out" 2>"$TMP/kiln.err" &
    KPID=$!
    on_exit "kill $KPID 2>/dev/null"
    for _ in $(seq 600); do
        curl -fs "$KURL/.well-known/kiln/health" >/dev/null && return 0
        kill -0 "$KPID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# start_wasmtime WASM: wasmtime serve -Sp3 on a free port; sets WURL, WPID.
start_wasmtime() {
    local port
    port=$(free_port)
    WURL="http://127.0.0.1:$port"
    (exec setsid "$WASMTIME" serve "${WFLAGS[@]}" --addr "127.0.0.1:$port" "$1" \
        >"$TMP/wasmtime.log" 2>&1) &
    WPID=$!
    on_exit "kill $WPID 2>/dev/null"
    for _ in $(seq 3000); do # cranelift takes a minute or more on the Python runtime
        grep -q "Serving HTTP" "$TMP/wasmtime.log" && return 0
        kill -0 "$WPID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# The answers a p3 handler of the corpus gives (GREETING: its fixed body and x-kiln-p3).
expected() { # expected NAME LANG GREETING
    case $1 in
    get) printf '200\nx-kiln-p3: %s\n--\n%s\n' "$2" "$3" ;;
    headers) printf '200\nx-one: 1\nx-three: 3\nx-two: two words\n--\nremoved a\nremoved b\nx-drop: a\nx-drop: b\nx-one: 1\nx-three: 3\nx-two: two words\n' ;;
    echo) printf '200\n--\necho me please' ;;
    big) { printf '200\n--\n'; cat "$TMP/big.txt"; } | sha256sum ;;
    stream) printf '200\ncontent-type: text/plain\n--\npiece 1\npiece 2\npiece 3\npiece 4\npiece 5\n' ;;
    status) printf '418\n--\nstatus 418\n' ;;
    error) printf '500\ncontent-type: text/plain; charset=utf-8\n--\n' ;;
    esac
}

# diff_handler LABEL WASM LANG GREETING
diff_handler() {
    local label=$1 wasm=$2
    if ! start_kiln "$wasm"; then
        fail "$label: kiln up serves it" "$(tail -5 "$TMP/kiln.err")"
        return
    fi
    pass "$label: kiln up serves it"
    declare -A K
    for r in "${REQS[@]}"; do
        local t0 t1
        t0=$(date +%s%N)
        K[$r]=$(request "$r" "$KURL")
        t1=$(date +%s%N)
        expect_eq "$label: kiln's answer to $r" "$(expected "$r" "$3" "$4")" "${K[$r]}"
        # the waits happened: four of 20 ms between the pieces
        [ "$r" = stream ] && expect_eq "$label: /stream took at least 80 ms" 1 \
            "$(((t1 - t0) >= 80000000))"
    done
    expect_contains "$label: the error-code is logged" "answered with an error-code" \
        "$(cat "$TMP/kiln.err")"
    out=$(request get "$KURL")
    expect_eq "$label: kiln serves on" "$(expected get "$3" "$4")" "$out"
    kill "$KPID" 2>/dev/null
    wait "$KPID" 2>/dev/null
    [ "$have_wasmtime" = 1 ] || return
    if ! start_wasmtime "$wasm"; then
        fail "$label: wasmtime serve -Sp3 serves it" "$(tail -5 "$TMP/wasmtime.log")"
        return
    fi
    for r in "${REQS[@]}"; do
        local w
        w=$(request "$r" "$WURL")
        if [ "$r" = error ]; then # the status only: each host's own error page
            expect_eq "$label: kiln and wasmtime agree: $r (status)" "$(echo "$w" | head -1)" \
                "$(echo "${K[$r]}" | head -1)"
        else
            expect_eq "$label: kiln and wasmtime agree: $r" "$w" "${K[$r]}"
        fi
    done
    kill "$WPID" 2>/dev/null
    wait "$WPID" 2>/dev/null
}

diff_handler "C (wit-bindgen)" "$TMP/corpus/c-http-p3.wasm" c "hello from a C p3 handler"

# componentize-py's runtime imports all of wasi:http/types@0.3.0, client half included
# (request.new, its setters, request-options); without them kiln refuses it at startup.
if start_kiln "$TMP/corpus/py-http-p3.wasm" || ! grep -q "'\[static\]request.new' is not provided" "$TMP/kiln.err"; then
    kill "$KPID" 2>/dev/null
    wait "$KPID" 2>/dev/null
    diff_handler "Python (componentize-py)" "$TMP/corpus/py-http-p3.wasm" python \
        "hello from a Python p3 handler"
else
    echo "p3_diff: SKIP the Python p3 handler: this kiln lacks wasi:http/types@0.3.0's client half (request.new, request-options), which componentize-py's runtime imports" >&2
fi

# The p3 command: the same stdout and exit code (1: it ends with wasi:cli/exit exit(err)).
want=$(printf 'hello from a C p3 command\nafter a wait\nafter another wait')
out=$("$KILN" run "$TMP/corpus/c-cli-p3.wasm" 2>"$TMP/run.err")
rc=$?
expect_eq "kiln run: the C p3 command's stdout" "$want" "$out"
expect_eq "kiln run: exit(err) is exit code 1" 1 "$rc"
expect_eq "kiln run: nothing on stderr" "" "$(cat "$TMP/run.err")"
if [ "$have_wasmtime" = 1 ]; then
    wout=$("$WASMTIME" run "${WFLAGS[@]}" "$TMP/corpus/c-cli-p3.wasm" </dev/null 2>"$TMP/wrun.err")
    wrc=$?
    expect_eq "kiln run and wasmtime run agree: stdout" "$wout" "$out"
    expect_eq "kiln run and wasmtime run agree: exit code" "$wrc" "$rc"
fi

# The Python p3 command (print is WASI 0.2's stdout; it returns ok: exit code 0).
want=$(printf 'hello from a Python p3 command\nafter a wait\ndone')
out=$("$KILN" run "$TMP/corpus/py-cli-p3.wasm" 2>"$TMP/run.err")
rc=$?
expect_eq "kiln run: the Python p3 command's stdout" "$want" "$out"
expect_eq "kiln run: the Python p3 command exits 0" 0 "$rc"
if [ "$have_wasmtime" = 1 ]; then
    wout=$("$WASMTIME" run "${WFLAGS[@]}" "$TMP/corpus/py-cli-p3.wasm" </dev/null 2>"$TMP/wrun.err")
    wrc=$?
    expect_eq "kiln run and wasmtime run agree: the Python command's stdout" "$wout" "$out"
    expect_eq "kiln run and wasmtime run agree: the Python command's exit code" "$wrc" "$rc"
fi

finish
