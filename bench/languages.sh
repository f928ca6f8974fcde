#!/usr/bin/env bash
# Sizes and start-up times of the hello module of each language template (docs/languages.md).
#
#   bench/languages.sh            (KILN_BUILD=build by default; RUNS=5)
#
# For http-c-wagi, http-rust and http-assemblyscript (WAGI modules; http-c is a component):
# kiln new + kiln build in a temp dir, then
#   size          bytes of target/NAME.wasm, and after wasm-strip
#   cold/warm     wall ms from starting `kiln up` to the first 200 on GET / with an empty
#                 KILN_CACHE_DIR (default tier, then --tier opt) and with the cache warm
#   per request   medians of the access log's duration and start= (instance ready) over
#                 300 sequential GET / on a running server
#   bench         instantiate-bench --export _start (fresh instance + _start + release)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${KILN_BUILD:-build}
case "$B" in /*) ;; *) B="$ROOT/$B" ;; esac
K="$B/kiln"
RUNS=${RUNS:-5}
W=$(mktemp -d "${TMPDIR:-/tmp}/kiln-lang.XXXXXX")
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$W"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# start DIR CACHE [ARGS]: starts kiln up, sets MS (ms to the first 200 on GET /), PORT, PID.
start() {
    local dir=$1 cache=$2
    shift 2
    PORT=$(port)
    local t0 t1
    t0=$(date +%s%N)
    KILN_CACHE_DIR=$cache "$K" up -f "$dir" --listen "127.0.0.1:$PORT" "$@" >"$W/up.log" 2>&1 &
    PID=$!
    until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")" = 200 ]; do
        kill -0 $PID 2>/dev/null || { echo "kiln up failed: $(tail -3 "$W/up.log")" >&2; exit 1; }
        sleep 0.005
    done
    t1=$(date +%s%N)
    MS=$(((t1 - t0) / 1000000))
}
stop() { kill $PID 2>/dev/null; wait $PID 2>/dev/null; PID=; }

cd "$W" || exit 1
for lang in c-wagi rust assemblyscript; do
    app=hello-$lang
    "$K" new "http-$lang" "$app" >/dev/null || exit 1
    t0=$(date +%s%N)
    (cd "$app" && "$K" build >"$W/build.log" 2>&1) || { cat "$W/build.log"; exit 1; }
    t1=$(date +%s%N)
    wasm="$app/target/$app.wasm"
    cp "$wasm" "$W/stripped.wasm" && wasm-strip "$W/stripped.wasm"
    echo "== $lang"
    echo "size: $(stat -c %s "$wasm") B (wasm-strip: $(stat -c %s "$W/stripped.wasm") B); first kiln build: $(((t1 - t0) / 1000000)) ms"
    for tier in auto opt; do
        cold="" warm=""
        for _ in $(seq "$RUNS"); do
            rm -rf "$W/cache" && mkdir "$W/cache"
            start "$app" "$W/cache" --tier "$tier"; stop; cold="$cold $MS"
            start "$app" "$W/cache" --tier "$tier"; stop; warm="$warm $MS"
        done
        echo "tier $tier: kiln up -> first 200: empty cache median $(median <<<"$cold") ms ($cold ), warm cache median $(median <<<"$warm") ms ($warm )"
    done
    start "$app" "$W/cache" --tier opt
    for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$PORT/"; done
    stop
    grep ' GET / 200 ' "$W/up.log" | sed -E 's/.* ([0-9.]+)ms [^ ]+ start=([0-9.]+)ms.*/\1 \2/' >"$W/req"
    echo "per request (opt tier, n=$(wc -l <"$W/req")): duration median $(cut -d' ' -f1 "$W/req" | median) ms, instance ready (start=) median $(cut -d' ' -f2 "$W/req" | median) ms"
    for tier in fast opt; do
        KILN_CACHE_DIR="$W/cache" "$B/instantiate-bench" --tier $tier --iterations 5000 --export _start "$wasm" | sed -n 2p | sed "s/^/instantiate-bench $tier: /"
    done
done
