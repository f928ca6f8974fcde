# up.sh — what the kiln up tests share (sourced after tests/lib.sh): the guests' folder,
# a free port and `start_up ARGS...`, which runs `kiln up -f $TMP/app` on it in the
# background (stopped at exit) and waits until the health check answers (start_up_from:
# another -f), and `stop_up`, which stops it.
GUESTS="$ROOT/tests/e2e/guests"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"

start_up() { start_up_from "$TMP/app" "$@"; }

# start_up_from FROM ARGS...: the same with `-f FROM` (a manifest, a directory, a .wasm).
start_up_from() {
    local from=$1
    shift
    "$KILN" up -f "$from" --listen "127.0.0.1:$PORT" "$@" >"$TMP/up.out" 2>"$TMP/up.err" &
    UP_PID=$!
    on_exit "kill $UP_PID 2>/dev/null"
    for _ in $(seq 1 600); do
        curl -sf "$URL/.well-known/kiln/health" >/dev/null 2>&1 && return 0
        kill -0 "$UP_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

stop_up() {
    kill "$UP_PID" 2>/dev/null
    wait "$UP_PID" 2>/dev/null
}

# restart_up ARGS...: stops the kiln up that start_up started (if any) and starts it again
# with ARGS; a failure to start is recorded with the end of its log.
restart_up() {
    if [ -n "${UP_PID:-}" ]; then
        kill "$UP_PID" 2>/dev/null
        wait "$UP_PID" 2>/dev/null
    fi
    start_up "$@" || fail "kiln up $* starts" "$(tail -n 5 "$TMP/up.err")"
}
