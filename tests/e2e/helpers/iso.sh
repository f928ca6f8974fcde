# iso.sh — the setup the isolation tests share (sourced after tests/lib.sh): the guest
# (tests/e2e/guests/iso_faults.c, one component per misbehaviour), the python client, and
# starting/stopping the real `kiln up`.
GUESTS="$ROOT/tests/e2e/guests"
CLIENT="$ROOT/tests/e2e/helpers/iso_client.py"

# iso_app MODE...: builds iso_faults.wasm into $TMP/app and writes a manifest with one
# route /MODE per mode, served by a component named after the mode ('_' becomes '-')
# whose MODE variable selects the misbehaviour.
iso_app() {
    mkdir -p "$TMP/app"
    clang --target=wasm32-wasi --sysroot=/usr -O2 "$GUESTS/iso_faults.c" -o "$TMP/app/iso.wasm" ||
        return 1
    {
        printf 'spin_manifest_version = 2\n[application]\nname = "isolation"\n'
        for m in "$@"; do
            printf '[[trigger.http]]\nroute = "/%s"\ncomponent = "%s"\nexecutor = { type = "wagi" }\n' \
                "$m" "${m//_/-}"
        done
        for m in "$@"; do
            printf '[component.%s]\nsource = "iso.wasm"\nenvironment = { MODE = "%s" }\n' "${m//_/-}" "$m"
        done
    } >"$TMP/app/kiln.toml"
}
# stop_up PID: SIGTERM, then SIGKILL if it is still there after 3 s.
stop_up() {
    kill -TERM "$1" 2>/dev/null || return 0
    for _ in $(seq 1 30); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null
}
# start_up ARGS...: kiln up on a free port (PORT, URL, UP_PID); waits for the health check.
start_up() {
    PORT=$(free_port)
    URL="http://127.0.0.1:$PORT"
    "$KILN" up -f "$TMP/app" --listen "127.0.0.1:$PORT" "$@" >"$TMP/up.out" 2>"$TMP/up.err" &
    UP_PID=$!
    on_exit "stop_up $UP_PID"
    for _ in $(seq 1 600); do
        curl -sf -m 2 "$URL/.well-known/kiln/health" >/dev/null 2>&1 && return 0
        kill -0 "$UP_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
