# upstream_start PORT [DELAY_MS]: starts tests/e2e/helpers/upstream.py (a local HTTP upstream,
# see there) on 127.0.0.1:PORT, stopped when the test exits; waits until it listens.
# Source after tests/lib.sh.
upstream_start() {
    python3 "$ROOT/tests/e2e/helpers/upstream.py" "$@" >"$TMP/upstream.$1.out" 2>&1 &
    on_exit "kill $! 2>/dev/null"
    for _ in $(seq 1 100); do
        grep -q ready "$TMP/upstream.$1.out" 2>/dev/null && return 0
        sleep 0.05
    done
    fail "the upstream on port $1 starts" "$(cat "$TMP/upstream.$1.out")"
    return 1
}
