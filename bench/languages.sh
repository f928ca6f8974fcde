#!/usr/bin/env bash
# bench/languages.sh — the hello app of every `kiln new` template, measured in one run
# (docs/languages.md; make bench's "languages" section runs it).
#
#   bench/languages.sh [TEMPLATE...]     (default: every template; KILN_BUILD=build)
#
# Prints a markdown report on stdout (progress on stderr). Per template, in a temp dir:
#   size           bytes of target/NAME.wasm after `kiln new` + `kiln build` (build time: wall
#                  time of that first `kiln build`, toolchains already installed)
#   first request  wall ms from starting `kiln up` (default tier) on an EMPTY cache to the
#                  first 200 on GET /
#   second app     the same for a second project of the same template whose greeting differs
#                  (different data, and for compiled languages different code), with the
#                  first app's cache: what the compiled-code cache shares between two apps
#   start, memory  `kiln bench --no-container --tier T` on the tier measured (TIER, default
#                  opt; fast when the opt tier failed): instance start p50 from kiln up's own
#                  measurement, host memory per live instance (1,000); when kiln bench fails,
#                  the start= p50 of kiln up's access log under wrk, and no memory figure
#   requests/s     `wrk -t2 -c32 -d5s` on GET / of `kiln up --tier TIER --quiet`, with nginx
#                  `return 200` (worker_processes 2) just before and just after: the ratio is
#                  kiln / the mean of those two, per template
# The TIER tier is compiled first into $KILN_CACHE_DIR (default $KILN_BUILD/bench-cache, kept
# between runs: the first run pays the opt tier of the big components, minutes each).
# Environment: TIER=fast|opt, OPT_TIMEOUT (seconds for that compile, as KILN_OPT_TIMEOUT:
# a template whose opt tier does not build in time is measured on the fast tier),
# WRK_SECONDS (5), LIVE (1000).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/nginx.sh"
B=${KILN_BUILD:-build}
case "$B" in /*) ;; *) B="$ROOT/$B" ;; esac
K="$B/kiln"
TIER=${TIER:-opt}
SECS=${WRK_SECONDS:-5}
LIVE=${LIVE:-1000}
CACHE=${KILN_CACHE_DIR:-$B/bench-cache}
mkdir -p "$CACHE"
TEMPLATES=${*:-http-c-wagi http-c http-rust http-assemblyscript http-go http-py http-js http-ts}
W=$(mktemp -d "${TMPDIR:-/tmp}/kiln-lang.XXXXXX")
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null
    [ -f "$W/nginx/nginx.pid" ] && kill "$(cat "$W/nginx/nginx.pid")" 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
log() { printf 'languages: %s\n' "$*" >&2; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
fmt_s() { awk -v ms="$1" 'BEGIN { printf (ms < 10000 ? "%.1f s" : "%.0f s"), ms / 1000 }'; }

# first_200 DIR CACHE WANT [ARGS]: starts `kiln up` on the app in DIR with KILN_CACHE_DIR=CACHE,
# sets MS to the wall ms until GET / answers 200 with a body containing WANT, stops it.
# Fails (returns 1, MS=fail) when kiln up exits or 15 minutes pass.
first_200() {
    local dir=$1 cache=$2 want=$3 p t0 body
    shift 3
    p=$(port)
    t0=$(date +%s%N)
    KILN_CACHE_DIR=$cache "$K" up -f "$dir" --listen "127.0.0.1:$p" "$@" >"$W/up.log" 2>&1 &
    PID=$!
    MS=fail
    while [ $((($(date +%s%N) - t0) / 1000000000)) -lt 900 ] && kill -0 "$PID" 2>/dev/null; do
        if body=$(curl -fs "http://127.0.0.1:$p/" 2>/dev/null); then
            MS=$(ms_since "$t0")
            break
        fi
        sleep 0.01
    done
    kill "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
    PID=
    if [ "$MS" = fail ] || ! grep -q "$want" <<<"$body"; then
        log "$dir: no 200 with '$want' (got '${body:-}'): $(tail -2 "$W/up.log" | tr '\n' ' ')"
        MS=fail
        return 1
    fi
}

# wrk_rps URL: requests/s of wrk -t2 -c32 -d${SECS}s (empty when wrk failed).
wrk_rps() { wrk -t2 -c32 -d"${SECS}s" "$1" 2>&1 | awk '/Requests\/sec/{print $2}'; }

nport=$(port)
start_nginx "$W/nginx" "$nport" 2 1024 'Hello from Kiln!\n' || log "nginx did not start"

load0=$(cut -d' ' -f1-3 /proc/loadavg)
rows="$W/rows"
: >"$rows"
nginx_all=""
cd "$W" || exit 1
for t in $TEMPLATES; do
    lang=${t#http-}
    app=hello-$lang
    second=second-$lang
    log "$t: kiln new + kiln build"
    "$K" new "$t" "$app" >/dev/null || { echo "| $t | kiln new failed |" >>"$rows"; continue; }
    t0=$(date +%s%N)
    if ! (cd "$app" && "$K" build >"$W/build-$lang.log" 2>&1); then
        log "$t: kiln build failed: $(tail -3 "$W/build-$lang.log" | tr '\n' ' ')"
        echo "| \`$t\` | build failed: $(tail -1 "$W/build-$lang.log") |" >>"$rows"
        continue
    fi
    build_ms=$(ms_since "$t0")
    wasm="$W/$app/target/$app.wasm"
    size=$(stat -c %s "$wasm")
    kind=module
    [ "$(od -An -tx1 -j4 -N4 "$wasm" | tr -d ' ')" = 0d000100 ] && kind=component

    log "$t: first request on an empty cache"
    first_200 "$app" "$W/cache-$lang" "Hello from Kiln"
    first=$MS

    log "$t: a second app of the same template"
    "$K" new "$t" "$second" >/dev/null
    grep -rl "Hello from Kiln" "$second" --exclude-dir=sdk --exclude-dir=node_modules \
        --exclude='*.md' | xargs sed -i 's/Hello from Kiln/Bonjour from Kiln/'
    if (cd "$second" && "$K" build >"$W/build2-$lang.log" 2>&1); then
        first_200 "$second" "$W/cache-$lang" "Bonjour from Kiln"
        second_ms=$MS
    else
        second_ms="build failed"
    fi

    log "$t: the $TIER tier (kiln compile, cached in $CACHE)"
    tier=$TIER
    t0=$(date +%s%N)
    if ! KILN_OPT_TIMEOUT=${OPT_TIMEOUT:-${KILN_OPT_TIMEOUT:-900}} KILN_CACHE_DIR=$CACHE \
        "$K" compile --tier "$TIER" "$wasm" >"$W/compile-$lang.log" 2>&1; then
        log "$t: $TIER tier failed: $(tail -1 "$W/compile-$lang.log"); measuring the fast tier"
        tier=fast
        KILN_CACHE_DIR=$CACHE "$K" compile --tier fast "$wasm" >/dev/null 2>&1
    fi
    compile_ms=$(ms_since "$t0")

    start=- mem=-
    log "$t: kiln bench --tier $tier (instance start, memory per live instance)"
    if KILN_CACHE_DIR=$CACHE "$K" bench "$app" --no-container --format json --duration 1 \
        --runs 20 --live "$LIVE" --tier "$tier" --state-dir "$W/state-$lang" \
        >"$W/bench-$lang.json" 2>"$W/bench-$lang.err"; then
        IFS=/ read -r start mem < <(python3 -c '
import json, sys
k = json.load(open(sys.argv[1]))["rows"][0]
print("%.1f µs/%.0f KiB" % (k["cold_p50_ms"] * 1000, k["mem_per_instance_kib"]))' "$W/bench-$lang.json")
    else
        log "$t: kiln bench failed: $(tail -2 "$W/bench-$lang.err" | tr '\n' ' ')"
    fi

    if [ "$start" = - ]; then # no kiln bench: the start= p50 of kiln up's access log
        log "$t: instance start from the access log (tier $tier)"
        p=$(port)
        KILN_CACHE_DIR=$CACHE "$K" up -f "$app" --listen "127.0.0.1:$p" --tier "$tier" \
            >"$W/access-$lang.log" 2>&1 &
        PID=$!
        for _ in $(seq 600); do curl -fs -o /dev/null "http://127.0.0.1:$p/" && break; sleep 0.1; done
        wrk -t2 -c32 -d2s "http://127.0.0.1:$p/" >/dev/null 2>&1
        kill "$PID" 2>/dev/null
        wait "$PID" 2>/dev/null
        PID=
        start=$(grep -o 'start=[0-9.]*ms' "$W/access-$lang.log" | sed 's/start=//; s/ms//' | sort -n |
            awk '{v[NR] = $1} END {if (NR) printf "%.1f µs (log)", v[int((NR + 1) / 2)] * 1000; else print "?"}')
    fi

    log "$t: requests/s (wrk) against kiln up --tier $tier, then nginx"
    p=$(port)
    KILN_CACHE_DIR=$CACHE "$K" up -f "$app" --listen "127.0.0.1:$p" --tier "$tier" --quiet \
        >"$W/up-wrk.log" 2>&1 &
    PID=$!
    for _ in $(seq 600); do curl -fs -o /dev/null "http://127.0.0.1:$p/" && break; sleep 0.1; done
    n1=$(wrk_rps "http://127.0.0.1:$nport/")
    krps=$(wrk_rps "http://127.0.0.1:$p/")
    n2=$(wrk_rps "http://127.0.0.1:$nport/")
    kill "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
    PID=
    nrps=$(python3 -c "print(f'{(float(\"$n1\")+float(\"$n2\"))/2:.0f}')" 2>/dev/null || echo "?")
    nginx_all="$nginx_all $nrps"
    ratio=$(python3 -c "print(f'{float(\"$krps\")/float(\"$nrps\"):.2f}')" 2>/dev/null || echo "?")
    krps=${krps%.*}
    [ "$first" = fail ] || first=$(fmt_s "$first")
    case "$second_ms" in fail | build*) ;; *) second_ms=$(fmt_s "$second_ms") ;; esac
    printf '| `%s` | %s, %s B | %s | %s | %s | %s (%s) | %s | %s | %s | %s |\n' "$t" "$kind" \
        "$(sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$size")" "$(fmt_s "$build_ms")" "$first" "$second_ms" "$tier" \
        "$(fmt_s "$compile_ms")" "$start" "$mem" "${krps:-?}" "$ratio" >>"$rows"
done

echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), \`bench/languages.sh\`; $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average $load0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (the machine is shared: absolute numbers move with the load, ratios against nginx are from the same minute)."
echo ""
echo "| template | what \`kiln build\` makes | \`kiln build\` | first request, empty cache | second app, first request | tier measured (its compile) | instance start p50 | host memory per live instance | hello requests/s | kiln / nginx |"
echo "|---|---|---|---|---|---|---|---|---|---|"
cat "$rows"
echo ""
echo "nginx \`return 200\` (worker_processes 2), the mean of its runs just before and just after each template's: $(tr ' ' '\n' <<<"$nginx_all" | grep . | tr '\n' ' ')requests/s, in the table's order."
echo ""
echo "First request: \`kiln up\` (default tier: fast, the opt tier built in the background) on an empty KILN_CACHE_DIR, wall time to the first 200 on GET /. Second app: \`kiln new\` of the same template with another greeting, built, then \`kiln up\` on the first app's cache. Tier measured: \`kiln compile --tier $TIER\` into $CACHE (\"0.1 s\" when a previous run cached it). Instance start and memory: \`kiln bench --no-container --live $LIVE --tier T\` on the tier measured (start p50 from kiln up's /stats.json; memory = host RSS + page tables per live instance); \"(log)\" when kiln bench failed: the start= p50 of kiln up's access log under \`wrk -d2s\`, and no memory figure. Requests/s: \`wrk -t2 -c32 -d${SECS}s\` on GET / of kiln up --quiet, between two runs on nginx."
