#!/usr/bin/env bash
# make bench: Kiln's benchmarks, each against a baseline measured in the same run.
# Prints a table and writes bench/results.md (machine, commands, numbers).
#   1. instantiation latency (in process): hello handler and a module with 1 MiB of data
#   2. instances alive at once: 10,000 and 100,000 of the hello handler, for both memory
#      check variants (guard, bounds): time to create them, host memory per live instance
#      including page tables
#   3. HTTP: wrk against `kiln up` (WAGI hello, fresh instance per request) and nginx;
#      3b: 1,000 guests sleeping at once on fibers, hello p99 meanwhile; 3c: the same hello
#      with and without --admin (the cost of metrics on the hot path)
#   4. compute: CoreMark and the wasm3 programs on both tiers vs Node.js (V8) WASI, and
#      CoreMark's cost of the bounds variant
#   5. components: instances from a component image, and compile times of the corpus
#   6. wasi:http: the c-http component per request vs nginx and `wasmtime serve`
#   7. `kiln bench examples/hello`: cold start, memory, time to 1,000 live, requests/s and
#      cost against a native process and a runc container per request
#   8. JavaScript compute: the http-js template's handler running bench/guests/js_compute.js
#      under Kiln, on the fast tier and on the opt tier (built in the background as kiln up
#      does), vs the same JavaScript under Node.js, as ratios
#   9. host APIs (bench/guests/host_api.c): key-value get/set latency and requests/s, the
#      overhead of an outbound request against the same upstream reached directly, and
#      1,000 guests waiting on a slow upstream at once on 2 loops with another route's
#      latency meanwhile. `KILN_BENCH_SECTION=host_api bash bench/run.sh` runs it alone.
#  10. wasi:http 0.3: the p3 hello (bench/guests/p3_hello.wat) with a fresh instance per
#      request, with --max-instance-reuse-count 128 one request at a time per instance
#      (--max-instance-concurrent-reuse-count 1) and 16 at once (Spin's default), vs the
#      p2 c-http hello and nginx.
#      `KILN_BENCH_SECTION=p3 bash bench/run.sh` runs it alone.
#  11. languages (bench/languages.sh): every `kiln new` template's hello: size, build time,
#      first request on an empty cache and of a second app, instance start p50, memory per
#      live instance, requests/s vs nginx. KILN_BENCH_SECTION=languages (or js_compute) runs
#      that section alone.
# Not part of `make test`: targets live here, never in timed tests.
set -u
source "$(dirname "$0")/../tests/lib.sh"
source "$(dirname "$0")/nginx.sh"
OUT="$ROOT/bench/results.md"
P="$SHARED/programs/wasm3"
export KILN_CACHE_DIR="$KILN_BUILD/bench-cache"
mkdir -p "$KILN_CACHE_DIR"
make -s -C "$ROOT" "$KILN_BUILD/instantiate-bench" BUILD="$(basename "$KILN_BUILD")" >/dev/null
BENCH="$KILN_BUILD/instantiate-bench"
report=$(mktemp)
say() { printf '%s\n' "$*" | tee -a "$report"; }

# ---- 9: host APIs (kept in one function, defined first so that it can run alone)
# hostapi_wrk ROUTE_LABEL URL: one table row (requests/s, p50, p99) of wrk -t2 -c16 -d5s.
hostapi_wrk() {
    local out
    out=$(wrk -t2 -c16 -d5s --latency "$2" 2>&1)
    say "| $1 | $(awk '/Requests\/sec/{print $2}' <<<"$out") | $(awk '/ 50%/{print $2}' <<<"$out") | $(awk '/ 99%/{print $2}' <<<"$out") | $(awk '/Non-2xx/{print $NF}' <<<"$out") |"
}
# hostapi_curl URL: the median of 100 sequential curl time_total, in ms.
hostapi_curl() {
    for _ in $(seq 100); do curl -s -o /dev/null -w '%{time_total}\n' "$1"; done |
        sort -n | awk '{v[NR]=$1} END {printf "%.3f", v[int((NR+1)/2)] * 1000}'
}
host_api_section() {
    local dir="$TMP/hostapi" nport uport kport kpid out ok secs pn p50 pp99 round
    say "## 9. Host APIs: key-value, outbound HTTP, 1,000 guests waiting on a slow upstream"
    say ""
    mkdir -p "$dir/nginx" "$dir/state"
    if ! { clang --target=wasm32-wasi --sysroot=/usr -O2 -I"$ROOT/sdk/c" -mexec-model=reactor \
        -o "$dir/core.wasm" "$ROOT/bench/guests/host_api.c" "$ROOT/sdk/c/kiln.c" \
        "$ROOT/sdk/c/kiln_http.c" "$ROOT/sdk/c/kiln_host.c" &&
        sh "$ROOT/sdk/c/kiln-componentize.sh" "$dir/core.wasm" "$dir/host_api.wasm"; } >"$dir/build.log" 2>&1; then
        say "(skipped: bench/guests/host_api.c does not build: $(tail -1 "$dir/build.log"); \`make tools\`)"
        say ""
        return
    fi
    nport=$(free_port)
    uport=$(free_port)
    start_nginx "$dir/nginx" "$nport" 1 2048
    python3 "$ROOT/tests/e2e/helpers/upstream.py" "$uport" 1000 >"$dir/upstream.log" 2>&1 &
    local upid=$!
    cat >"$dir/kiln.toml" <<TOML
spin_manifest_version = 2
[application]
name = "bench-host-api"
[variables]
upstream = { default = "http://127.0.0.1:$nport/" }
[[trigger.http]]
route = "/..."
component = "api"
[component.api]
source = "host_api.wasm"
key_value_stores = ["default"]
allowed_outbound_hosts = ["http://127.0.0.1:$nport", "http://127.0.0.1:$uport"]
[component.api.variables]
upstream = "{{ upstream }}"
TOML
    "$KILN" compile --tier opt "$dir/host_api.wasm" >/dev/null 2>&1
    kport=$(free_port)
    "$KILN" up -f "$dir" --listen "127.0.0.1:$kport" --tier opt --quiet --state-dir "$dir/state" \
        >"$dir/up.log" 2>&1 &
    kpid=$!
    for _ in $(seq 300); do curl -fs "http://127.0.0.1:$kport/none" >/dev/null && break; sleep 0.1; done
    curl -s "http://127.0.0.1:$kport/set" >/dev/null
    say "Command: \`wrk -t2 -c16 -d5s --latency URL\` against \`kiln up\` (opt tier, default workers) serving bench/guests/host_api.c (the C SDK, a fresh instance per request): /none answers without a host call, /get and /set call kiln_kv_get / kiln_kv_set on the default store (SQLite in --state-dir, a 64-byte value), /fetch calls kiln_http_fetch on nginx (\`return 200\`, 1 worker) on the same machine; then wrk straight at that nginx."
    say ""
    say "| route | requests/s | p50 | p99 | non-2xx |"
    say "|---|---|---|---|---|"
    hostapi_wrk "kiln /none (no host call)" "http://127.0.0.1:$kport/none"
    hostapi_wrk "kiln /get (key-value get)" "http://127.0.0.1:$kport/get"
    hostapi_wrk "kiln /set (key-value set)" "http://127.0.0.1:$kport/set"
    hostapi_wrk "kiln /fetch (outbound to nginx)" "http://127.0.0.1:$kport/fetch"
    hostapi_wrk "nginx directly" "http://127.0.0.1:$nport/"
    say ""
    say "One request at a time (the median \`time_total\` of 100 sequential \`curl\`s, a new connection each): nginx directly **$(hostapi_curl "http://127.0.0.1:$nport/") ms**; kiln /none **$(hostapi_curl "http://127.0.0.1:$kport/none") ms**; kiln /fetch (the same nginx through the guest) **$(hostapi_curl "http://127.0.0.1:$kport/fetch") ms**."
    say ""
    kill "$kpid" 2>/dev/null; wait "$kpid" 2>/dev/null
    kport=$(free_port)
    "$KILN" up -f "$dir" --listen "127.0.0.1:$kport" --tier opt --quiet --state-dir "$dir/state" \
        --workers 2 --variable "upstream=http://127.0.0.1:$uport/item/1" >"$dir/up2.log" 2>&1 &
    kpid=$!
    for _ in $(seq 300); do curl -fs "http://127.0.0.1:$kport/hello" >/dev/null && break; sleep 0.1; done
    say "1,000 guests waiting at once: \`kiln up --workers 2\` (2 event loops), the same component's /fetch now calling an upstream that answers after 1 s (tests/e2e/helpers/upstream.py, a thread per connection); \`tests/e2e/helpers/iso_client.py sleepers PORT /fetch 1000 /hello\`: 1,000 connections send GET /fetch at once while one more sends GET /hello after GET /hello until they are all answered. Three rounds."
    say ""
    say "| round | /fetch answered 200 | all answered after | /hello requests meanwhile | /hello p50 | /hello p99 |"
    say "|---|---|---|---|---|---|"
    for round in 1 2 3; do
        out=$(python3 "$ROOT/tests/e2e/helpers/iso_client.py" sleepers "$kport" /fetch 1000 /hello 60)
        ok=$(sed -nE '1s/.*ok=([0-9]+).*/\1/p' <<<"$out")
        secs=$(sed -nE '1s/.*seconds=([0-9.]+).*/\1/p' <<<"$out")
        pn=$(sed -nE '2s/.*n=([0-9]+).*/\1/p' <<<"$out")
        p50=$(sed -nE '2s/.*p50=([0-9.]+).*/\1/p' <<<"$out")
        pp99=$(sed -nE '2s/.*p99=([0-9.]+).*/\1/p' <<<"$out")
        say "| $round | $ok / 1000 | ${secs} s | $pn | ${p50} ms | ${pp99} ms |"
    done
    say ""
    kill "$kpid" "$upid" 2>/dev/null; wait "$kpid" "$upid" 2>/dev/null
    kill "$(cat "$dir/nginx/nginx.pid")" 2>/dev/null
}
# ---- 10: wasi:http 0.3 (kept in one function, defined early so that it can run alone)
p3_wrk() { wrk -t2 -c32 -d5s --latency "$1" 2>&1; }
p3_rps() { awk '/Requests\/sec/{print $2}' <<<"$1"; }
p3_p99() { awk '/ 99%/{print $2}' <<<"$1"; }
p3_ratio() { python3 -c "print(f'{float(\"$1\")/float(\"$2\"):.2f}')" 2>/dev/null || echo "?"; }
p3_median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
p3_section() {
    local dir="$TMP/p3bench" wt corpus="$TMP/corpus-p3" fport rport mport cport nport fpid rpid mpid cpid round
    wt="${KILN_TOOLS:-/var/cache/kiln-tools}/cargo/bin/wasm-tools"
    say "## 10. HTTP: a wasi:http 0.3 hello, a fresh instance per request and reused, vs the 0.2 hello (c-http) and nginx"
    say ""
    mkdir -p "$dir/p3" "$dir/p2" "$dir/nginx"
    if ! "$wt" parse "$ROOT/bench/guests/p3_hello.wat" -o "$dir/p3/p3_hello.wasm" ||
        ! "$ROOT/tests/components/build.sh" "$corpus" c-http >/dev/null 2>&1; then
        say "(skipped: the component toolchain is missing; \`make tools\`)"
        say ""
        return
    fi
    cp "$corpus/c-http.wasm" "$dir/p2/"
    make -s -C "$ROOT" "$KILN_BUILD/component-bench" BUILD="$(basename "$KILN_BUILD")" >/dev/null
    say "The p3 hello's instance from its image (async store made empty per copy) against a full"
    say "instantiation: \`build/component-bench --tier opt --iterations 5000 p3_hello.wasm\`."
    say ""
    say '```'
    "$KILN_BUILD/component-bench" --tier opt --iterations 5000 "$dir/p3/p3_hello.wasm" 2>&1 |
        grep 'release' | tee -a "$report"
    say '```'
    say ""
    local name src
    for name in p3 p2; do
        src=p3_hello.wasm
        [ $name = p2 ] && src=c-http.wasm
        cat >"$dir/$name/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "bench-$name"
[[trigger.http]]
route = "/..."
component = "hello"
executor = { type = "http" }
[component.hello]
source = "$src"
TOML
        "$KILN" compile --tier opt "$dir/$name/$src" >/dev/null
    done
    fport=$(free_port)
    "$KILN" up -f "$dir/p3" --listen "127.0.0.1:$fport" --tier opt --quiet >"$dir/fresh.log" 2>&1 &
    fpid=$!
    rport=$(free_port)
    "$KILN" up -f "$dir/p3" --listen "127.0.0.1:$rport" --tier opt --quiet \
        --max-instance-reuse-count 128 --max-instance-concurrent-reuse-count 1 \
        >"$dir/reuse.log" 2>&1 &
    rpid=$!
    mport=$(free_port)
    "$KILN" up -f "$dir/p3" --listen "127.0.0.1:$mport" --tier opt --quiet \
        --max-instance-reuse-count 128 --max-instance-concurrent-reuse-count 16 \
        >"$dir/reuse16.log" 2>&1 &
    mpid=$!
    cport=$(free_port)
    "$KILN" up -f "$dir/p2" --listen "127.0.0.1:$cport" --tier opt --quiet >"$dir/p2.log" 2>&1 &
    cpid=$!
    nport=$(free_port)
    start_nginx "$dir/nginx" "$nport" 2 1024
    local port
    for port in $fport $rport $mport $cport; do
        for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/.well-known/kiln/health" >/dev/null && break; sleep 0.1; done
    done
    sleep 0.3
    say "Command: \`wrk -t2 -c32 -d5s --latency URL\` against three \`kiln up --tier opt\` (default workers) — the p3 hello (bench/guests/p3_hello.wat) with a fresh instance per request (Kiln's default: a copy of the component's image), the same with \`--max-instance-reuse-count 128\` (Spin 4's default for p3) one request at a time per instance (\`--max-instance-concurrent-reuse-count 1\`) and up to 16 at once on one (\`16\`, Spin's default: the hello never waits, so this measures the sharing's overhead), the p2 c-http hello (a fresh instance per request) — and nginx \`return 200\` (\`worker_processes 2\`), alternating, three rounds (compare within a round; the medians are the result)."
    say ""
    say "| round | p3 fresh req/s | p99 | p3 reuse 128 req/s | p99 | p3 reuse 128 M=16 req/s | p99 | p2 c-http req/s | p99 | nginx req/s | p99 | fresh / p2 | reuse / p2 | reuse / fresh | M=16 / fresh | fresh / nginx |"
    say "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    local f r m c n a1="" a2="" a3="" a4="" a5="" x1 x2 x3 x4 x5
    for round in 1 2 3; do
        f=$(p3_wrk "http://127.0.0.1:$fport/")
        r=$(p3_wrk "http://127.0.0.1:$rport/")
        m=$(p3_wrk "http://127.0.0.1:$mport/")
        c=$(p3_wrk "http://127.0.0.1:$cport/")
        n=$(p3_wrk "http://127.0.0.1:$nport/")
        x1=$(p3_ratio "$(p3_rps "$f")" "$(p3_rps "$c")")
        x2=$(p3_ratio "$(p3_rps "$r")" "$(p3_rps "$c")")
        x3=$(p3_ratio "$(p3_rps "$r")" "$(p3_rps "$f")")
        x4=$(p3_ratio "$(p3_rps "$f")" "$(p3_rps "$n")")
        x5=$(p3_ratio "$(p3_rps "$m")" "$(p3_rps "$f")")
        a1="$a1 $x1" a2="$a2 $x2" a3="$a3 $x3" a4="$a4 $x4" a5="$a5 $x5"
        say "| $round | $(p3_rps "$f") | $(p3_p99 "$f") | $(p3_rps "$r") | $(p3_p99 "$r") | $(p3_rps "$m") | $(p3_p99 "$m") | $(p3_rps "$c") | $(p3_p99 "$c") | $(p3_rps "$n") | $(p3_p99 "$n") | $x1 | $x2 | $x3 | $x5 | $x4 |"
    done
    kill "$fpid" "$rpid" "$mpid" "$cpid" 2>/dev/null
    wait "$fpid" "$rpid" "$mpid" "$cpid" 2>/dev/null
    kill "$(cat "$dir/nginx/nginx.pid")" 2>/dev/null
    say ""
    say "Medians of the rounds: p3 fresh / p2 **$(p3_median "$a1")**, p3 reuse / p2 **$(p3_median "$a2")**, p3 reuse / p3 fresh **$(p3_median "$a3")**, p3 reuse M=16 / p3 fresh **$(p3_median "$a5")**, p3 fresh / nginx **$(p3_median "$a4")** (each instance of both from an image)."
    say ""
}
# ---- 8: JavaScript compute (the http-js template vs Node.js, both tiers; kept in one function)
# js_compute_run TIER_ARGS...: starts kiln up on $TMP/jsbench with those arguments, waits
# for the tier to serve (for the opt tier, built in the background as kiln up does, up to
# KILN_OPT_TIMEOUT + 2 min), sends a warm-up request, then the measured one; sets JSK to
# its JSON body and JSUP to the tier-up line of kiln up's log (empty when none).
js_compute_run() {
    local kport kpid want=$1 waited=0 limit=$((${KILN_OPT_TIMEOUT:-900} + 120))
    shift
    kport=$(free_port)
    JSK="" JSUP=""
    (cd "$TMP/jsbench" && exec "$KILN" up --listen "127.0.0.1:$kport" --quiet "$@") >"$TMP/jsbench-up.log" 2>&1 &
    kpid=$!
    for _ in $(seq 6000); do curl -fs "http://127.0.0.1:$kport/.well-known/kiln/health" >/dev/null && break; sleep 0.1; done
    if [ "$want" = opt ]; then # cached: "opt tier ready" at start; else wait for the tier-up
        until grep -q 'opt tier ready\|optimized tier ready\|optimized tier failed' "$TMP/jsbench-up.log" ||
            [ $waited -ge $limit ] || ! kill -0 "$kpid" 2>/dev/null; do
            sleep 5
            waited=$((waited + 5))
        done
        JSUP=$(grep -m1 'opt tier ready\|optimized tier' "$TMP/jsbench-up.log" | sed 's/^kiln: //')
        grep -q 'opt tier ready\|optimized tier ready' "$TMP/jsbench-up.log" || want=none
    fi
    if [ "$want" != none ]; then
        curl -s -m 600 "http://127.0.0.1:$kport/?n=10" >/dev/null # the first instance
        JSK=$(curl -s -m 600 "http://127.0.0.1:$kport/?n=$JSN")
    fi
    kill "$kpid" 2>/dev/null; wait "$kpid" 2>/dev/null
}
js_compute_section() {
    local dir="$TMP/jsbench" nd kfast kopt upfast upopt nms
    JSN=20000
    say "## 8. JavaScript compute: the http-js template's handler under Kiln (both tiers) vs Node.js"
    say ""
    if ! command -v node >/dev/null || ! (cd "$TMP" && "$KILN" new http-js jsbench >/dev/null 2>&1); then
        say "(skipped: no Node.js, or kiln new http-js failed)"
        say ""
        return
    fi
    cp "$ROOT/bench/guests/js_compute.js" "$dir/src/compute.js"
    cat >"$dir/src/index.js" <<'JS'
import { compute } from './compute.js';

export default {
  async fetch(request) {
    const n = Number(new URL(request.url).searchParams.get('n') ?? '1000');
    return Response.json(compute(n));
  },
};
JS
    if ! (cd "$dir" && "$KILN" build >"$TMP/jsbench-build.log" 2>&1); then
        say "(skipped: kiln build of the http-js template failed: $(tail -1 "$TMP/jsbench-build.log"); \`scripts/install-tools.sh --npm-only\`)"
        say ""
        return
    fi
    js_compute_run fast --tier fast --no-tier-up
    kfast=$JSK
    js_compute_run opt
    kopt=$JSK
    upopt=$JSUP
    cat >"$TMP/jsbench-node.mjs" <<JS
import { compute } from '$ROOT/bench/guests/js_compute.js';
compute(10);
console.log(JSON.stringify(compute(Number(process.argv[2]))));
JS
    nd=$(node "$TMP/jsbench-node.mjs" "$JSN")
    nms=$(sed -n 's/.*"ms":\([0-9]*\).*/\1/p' <<<"$nd")
    say "Command: \`kiln new http-js\`, its handler replaced by one that runs \`compute(n)\` of bench/guests/js_compute.js (JSON round trips of $JSN small objects, then an integer loop; the time measured inside, with Date.now), served by \`kiln up --tier fast --no-tier-up\`, then by \`kiln up\` once its opt tier is ready (StarlingMonkey, an interpreter, compiled by Kiln; the opt tier is built in the background as kiln up does, or found in the cache: ${upopt:-no tier-up line}); one request \`/?n=$JSN\` after a warm-up request. Node.js $(node --version) runs the same module (V8's JIT) after a warm-up call. The checksums must agree."
    say ""
    say "| runtime | ms | checksum | Kiln / Node.js time |"
    say "|---|---|---|---|"
    local row k kms
    for row in "kiln fast tier (libtcc):$kfast" "kiln opt tier (cc, in parts):$kopt" "Node.js:$nd"; do
        k=${row#*:}
        kms=$(sed -n 's/.*"ms":\([0-9]*\).*/\1/p' <<<"$k")
        say "| ${row%%:*} | ${kms:-?} | $(sed -n 's/.*"checksum":\([0-9]*\).*/\1/p' <<<"$k") | $(python3 -c "print(f'{$kms/max($nms,1):.1f}x')" 2>/dev/null || echo "?") |"
    done
    say ""
}

# ---- 11: languages (bench/languages.sh: every template's hello; kept in one function)
languages_section() {
    say "## 11. Languages: every \`kiln new\` template's hello app"
    say ""
    say "Command: \`bench/languages.sh\` (what each column measures is under the table)."
    say ""
    KILN_BUILD="$KILN_BUILD" bash "$ROOT/bench/languages.sh" 2>"$TMP/languages.err" | tee -a "$report"
    say ""
}
# KILN_BENCH_SECTION=NAME runs one section alone (defined above) into BUILD/bench-NAME.md
case "${KILN_BENCH_SECTION:-}" in
host_api | p3 | js_compute | languages)
    "${KILN_BENCH_SECTION}_section"
    cp "$report" "$KILN_BUILD/bench-$KILN_BENCH_SECTION.md"
    echo "wrote $KILN_BUILD/bench-$KILN_BENCH_SECTION.md (bench/results.md left as it is)"
    exit 0
    ;;
esac

say "# Kiln benchmarks"
say ""
say "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), \`make bench\`. Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB, kernel $(uname -r)."
say "Compilers: $(cc --version | head -1); libtcc $(dpkg-query -W -f='${Version}' libtcc-dev); wasm2c $(wasm2c --version); Node.js $(node --version 2>/dev/null || echo none)."
say ""

# ---- 1: instantiation and live-instance memory
clang --target=wasm32-wasi --sysroot=/usr -O2 "$ROOT/bench/guests/hello_handler.c" -o "$TMP/hello.wasm"
python3 "$ROOT/bench/guests/data_1mb.py" >"$TMP/data1mb.wat" && wat2wasm "$TMP/data1mb.wat" -o "$TMP/data1mb.wasm"
say "## 1. Instantiation (in process: fresh WASI context + instance + empty export call + release)"
say ""
say "Command: \`build/instantiate-bench --tier T [--live 1000] FILE.wasm\` (20,000 iterations)."
say ""
say '```'
for tier in fast opt; do
    "$BENCH" --tier $tier --live 1000 "$TMP/hello.wasm" | tee -a "$report"
done
say "# the bounds variant (explicit bounds checks, memories reserved for their limit: kiln up's 128 MiB):"
"$BENCH" --tier opt --checks bounds --max-memory 128 --live 1000 "$TMP/hello.wasm" | tee -a "$report"
"$BENCH" --tier fast --iterations 5000 "$TMP/data1mb.wasm" | tee -a "$report"
say "# the same hello handler with copy-on-write slots for every image (KILN_IMAGE_COPY_MAX=0):"
KILN_IMAGE_COPY_MAX=0 "$BENCH" --tier opt --live 1000 "$TMP/hello.wasm" | tee -a "$report"
say '```'
say "Targets: hello p50 <= 5 us, p99 <= 25 us; <= 64 KiB of host memory per live instance."
say "Images with at most 256 KiB of non-zero bytes are copied into their slots (only the"
say "non-zero pages; on release the pages the guest backed are found in /proc/self/pagemap and"
say "zeroed), larger ones are mapped copy-on-write from a memfd; either way a live instance"
say "holds only the image's non-zero pages and what its guest touched."
say ""

# ---- 2: instances alive at once
say "## 2. Instances alive at once (hello handler, opt tier)"
say ""
say "Command: \`build/instantiate-bench --tier opt --checks C --max-memory 128 --iterations 0 --live N hello.wasm\`:"
say "N instances from the image, each with its WASI context and its \`noop\` export called, all alive"
say "at once; memory is VmRSS + VmPTE (page tables) of /proc/self/status, after minus before."
say "\`--max-memory 128\` is \`kiln up\`'s default --max-instance-memory."
say ""
say '```'
for checks in guard bounds; do
    for n in 10000 100000; do
        say "# $checks variant, $n alive:"
        "$BENCH" --tier opt --checks $checks --max-memory 128 --iterations 0 --live $n "$TMP/hello.wasm" 2>&1 |
            grep -v '^/' | tee -a "$report"
    done
done
say '```'
say "Target: 100,000 alive at once, <= 16 KiB of host memory each including page tables. The guard"
say "variant reserves 8 GiB per memory, so 128 TiB of address space ends near 16,380."
say ""

# ---- 3: HTTP
say "## 3. HTTP: WAGI hello with a fresh instance per request vs nginx \`return 200\`"
say ""
port=$(free_port)
mkdir -p "$TMP/app"
cp "$TMP/hello.wasm" "$TMP/app/hello.wasm"
cat >"$TMP/app/kiln.toml" <<TOML
spin_manifest_version = 2
[application]
name = "bench"
[[trigger.http]]
route = "/..."
component = "hello"
executor = { type = "wagi" }
[component.hello]
source = "hello.wasm"
TOML
"$KILN" compile --tier opt "$TMP/app/hello.wasm" >/dev/null
"$KILN" up -f "$TMP/app" --listen "127.0.0.1:$port" --quiet >"$TMP/up.log" 2>&1 &
kiln_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/.well-known/kiln/health" >/dev/null && break; sleep 0.1; done
nport=$(free_port)
start_nginx "$TMP/nginx" "$nport" 2 1024
sleep 0.3
wrk_run() { wrk -t2 -c32 -d10s --latency "$1" 2>&1; }
rps() { awk '/Requests\/sec/{print $2}' <<<"$1"; }
p99() { awk '/ 99%/{print $2}' <<<"$1"; }
say "Command: \`wrk -t2 -c32 -d10s --latency URL\`, kiln up (opt tier, default workers: 2 per CPU) and nginx (\`worker_processes 2\`, its best here: 4 gave fewer requests/s) on the same machine, alternating, five rounds (the machine is shared and noisy: compare within a round; the medians are the result)."
say ""
say "| round | kiln requests/s | kiln p99 | nginx requests/s | nginx p99 | kiln / nginx |"
say "|---|---|---|---|---|---|"
ratios=""
p99s=""
for round in 1 2 3 4 5; do
    k=$(wrk_run "http://127.0.0.1:$port/")
    n=$(wrk_run "http://127.0.0.1:$nport/")
    r=$(python3 -c "print(f'{float(\"$(rps "$k")\")/float(\"$(rps "$n")\"):.2f}')" 2>/dev/null || echo "?")
    ratios="$ratios $r"
    p99s="$p99s $(p99 "$k")"
    say "| $round | $(rps "$k") | $(p99 "$k") | $(rps "$n") | $(p99 "$n") | $r |"
done
kill "$kiln_pid" 2>/dev/null; wait "$kiln_pid" 2>/dev/null
kill "$(cat "$TMP/nginx/nginx.pid")" 2>/dev/null
median=$(tr ' ' '\n' <<<"$ratios" | grep . | sort -n | sed -n 3p)
# wrk prints latencies with units (us, ms, s): the median of the kiln p99s in ms
p99_median=$(python3 -c '
import sys
u = {"us": 1e-3, "ms": 1.0, "s": 1e3}
v = sorted(float(x.rstrip("usm")) * u[x.lstrip("0123456789.")] for x in sys.argv[1:])
print(f"{v[len(v) // 2]:.2f} ms")' $p99s 2>/dev/null || echo "?")
say ""
say "Medians of the rounds: kiln / nginx requests/s **$median** (target >= 0.60); kiln p99 **$p99_median** (target <= 2 ms)."
say ""

# ---- 3c: the cost of metrics on the hot path
say "## 3c. Metrics on the hot path: the same hello, kiln up with and without \`--admin\`"
say ""
mport=$(free_port)
aport=$(free_port)
"$KILN" up -f "$TMP/app" --listen "127.0.0.1:$port" --quiet >"$TMP/up-off.log" 2>&1 &
off_pid=$!
"$KILN" up -f "$TMP/app" --listen "127.0.0.1:$mport" --quiet --admin "127.0.0.1:$aport" \
    >"$TMP/up-on.log" 2>&1 &
on_pid=$!
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/.well-known/kiln/health" >/dev/null &&
        curl -fs "http://127.0.0.1:$aport/readyz" >/dev/null && break
    sleep 0.1
done
say "Command: \`wrk -t2 -c32 -d10s URL\` against two \`kiln up\` of section 3's app, one with \`--admin\` (metrics recorded per request), alternating (each first in turn), five rounds; the median ratio is the result."
say ""
say "| round | metrics off requests/s | metrics on requests/s | on / off |"
say "|---|---|---|---|"
mratios=""
for round in 1 2 3 4 5; do
    if [ $((round % 2)) = 1 ]; then # each goes first in turn (the machine's load drifts)
        a=$(wrk_run "http://127.0.0.1:$port/")
        b=$(wrk_run "http://127.0.0.1:$mport/")
    else
        b=$(wrk_run "http://127.0.0.1:$mport/")
        a=$(wrk_run "http://127.0.0.1:$port/")
    fi
    r=$(python3 -c "print(f'{float(\"$(rps "$b")\")/float(\"$(rps "$a")\"):.3f}')" 2>/dev/null || echo "?")
    mratios="$mratios $r"
    say "| $round | $(rps "$a") | $(rps "$b") | $r |"
done
kill "$off_pid" "$on_pid" 2>/dev/null
wait "$off_pid" "$on_pid" 2>/dev/null
say ""
say "Median on / off: **$(tr ' ' '\n' <<<"$mratios" | grep . | sort -n | sed -n 3p)** (target >= 0.97)."
say ""

# ---- 3b: guests that wait, on fibers
say "## 3b. 1,000 guests sleeping 1 s at once (fibers), and a hello route meanwhile"
say ""
mkdir -p "$TMP/sleepapp"
clang --target=wasm32-wasi --sysroot=/usr -O2 "$ROOT/tests/e2e/guests/iso_faults.c" \
    -o "$TMP/sleepapp/iso.wasm"
cat >"$TMP/sleepapp/kiln.toml" <<TOML
spin_manifest_version = 2
[application]
name = "sleepers"
[[trigger.http]]
route = "/hello"
component = "hello"
executor = { type = "wagi" }
[[trigger.http]]
route = "/sleep"
component = "sleep"
executor = { type = "wagi" }
[component.hello]
source = "iso.wasm"
environment = { MODE = "hello" }
[component.sleep]
source = "iso.wasm"
environment = { MODE = "sleep" }
TOML
sport=$(free_port)
"$KILN" up -f "$TMP/sleepapp" --listen "127.0.0.1:$sport" --quiet >"$TMP/sleep.log" 2>&1 &
sleep_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$sport/hello" >/dev/null && break; sleep 0.1; done
say "Command: \`kiln up\` with default settings; \`tests/e2e/helpers/iso_client.py sleepers PORT /sleep?1000 1000 /hello\`: 1,000 connections send one request each at once to a WAGI guest that sleeps 1 s in poll_oneoff, while one more connection sends GET /hello after GET /hello until they are all answered. Three rounds."
say ""
say "| round | sleepers answered 200 | all answered after | hello requests during the burst | hello p50 | hello p99 |"
say "|---|---|---|---|---|---|"
for round in 1 2 3; do
    out=$(python3 "$ROOT/tests/e2e/helpers/iso_client.py" sleepers "$sport" "/sleep?1000" 1000 /hello 60)
    ok=$(sed -nE '1s/.*ok=([0-9]+).*/\1/p' <<<"$out")
    secs=$(sed -nE '1s/.*seconds=([0-9.]+).*/\1/p' <<<"$out")
    pn=$(sed -nE '2s/.*n=([0-9]+).*/\1/p' <<<"$out")
    p50=$(sed -nE '2s/.*p50=([0-9.]+).*/\1/p' <<<"$out")
    pp99=$(sed -nE '2s/.*p99=([0-9.]+).*/\1/p' <<<"$out")
    say "| $round | $ok / 1000 | ${secs} s | $pn | ${p50} ms | ${pp99} ms |"
done
kill "$sleep_pid" 2>/dev/null; wait "$sleep_pid" 2>/dev/null
say ""
say "Target: all 1,000 within 2 s on this 2-core machine (each sleeping guest used to hold one of 16 executor threads: >= 62 s)."
say ""

# ---- 4: compute
say "## 4. Compute: CoreMark and the wasm3 programs, kiln (both tiers) vs Node.js WASI"
say ""
coremark() { # prints iterations/s
    awk -F: '/Iterations\/Sec/{gsub(/ /,"",$2); print $2}'
}
"$KILN" compile --tier fast "$P/wasi/coremark/coremark.wasm" >/dev/null
"$KILN" compile --tier opt "$P/wasi/coremark/coremark.wasm" >/dev/null
cm_fast=$(cd "$P" && "$KILN" run --tier fast wasi/coremark/coremark.wasm | coremark)
cm_opt=$(cd "$P" && "$KILN" run --tier opt wasi/coremark/coremark.wasm | coremark)
cm_node=$(cd "$P" && node --no-warnings "$ROOT/bench/node-wasi.mjs" wasi/coremark/coremark.wasm | coremark)
KILN_MEMORY_CHECKS=bounds "$KILN" compile --tier fast "$P/wasi/coremark/coremark.wasm" >/dev/null
KILN_MEMORY_CHECKS=bounds "$KILN" compile --tier opt "$P/wasi/coremark/coremark.wasm" >/dev/null
cmb_fast=$(cd "$P" && KILN_MEMORY_CHECKS=bounds "$KILN" run --tier fast wasi/coremark/coremark.wasm | coremark)
cmb_opt=$(cd "$P" && KILN_MEMORY_CHECKS=bounds "$KILN" run --tier opt wasi/coremark/coremark.wasm | coremark)
say "| CoreMark | iterations/s | vs Node.js |"
say "|---|---|---|"
for row in "kiln fast tier (tcc):$cm_fast" "kiln opt tier (cc -O2):$cm_opt" \
    "kiln fast tier, bounds variant:$cmb_fast" "kiln opt tier, bounds variant:$cmb_opt" \
    "Node.js $(node --version) WASI:$cm_node"; do
    v=${row##*:}
    say "| ${row%:*} | $v | $(python3 -c "print(f'{$v/$cm_node:.2f}')" 2>/dev/null) |"
done
say ""
say "The bounds variant (\`KILN_MEMORY_CHECKS=bounds\`, every load and store checked) vs guard pages: fast tier $(python3 -c "print(f'{$cmb_fast/$cm_fast:.2f}')" 2>/dev/null)x, opt tier $(python3 -c "print(f'{$cmb_opt/$cm_opt:.2f}')" 2>/dev/null)x."
say ""
times="$TMP/times.tsv"
: >"$times"
KILN_PROGRAMS=all KILN_PROGRAMS_TIMES="$times" bash "$ROOT/tests/suites/programs.sh" >/dev/null 2>&1
say "| program | kiln fast (s) | kiln opt (s) | Node.js (s) |"
say "|---|---|---|---|"
python3 - "$P/programs.json" "$times" "$ROOT/bench/node-wasi.mjs" <<'PY' | tee -a "$report"
import json, subprocess, sys, time, os
progs = json.load(open(sys.argv[1]))
times = {}
for line in open(sys.argv[2]):
    name, tier, secs = line.rstrip("\n").split("\t")
    times[(name, tier)] = secs
base = os.path.dirname(sys.argv[1])
for p in progs:
    stdin = open(os.path.join(base, p["stdin"])) if p.get("stdin") else subprocess.DEVNULL
    t0 = time.time()
    subprocess.run(["node", "--no-warnings", sys.argv[3], p["wasm"]] + p.get("args", []), cwd=base,
                   stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    node = time.time() - t0
    f = times.get((p["name"], "fast"), "?"); o = times.get((p["name"], "opt"), "?")
    fmt = lambda s: s if s == "?" else "%.2f" % float(s)
    print("| %s | %s | %s | %.2f |" % (p["name"], fmt(f), fmt(o), node))
PY
say ""
say "Kiln's times are runs of an already compiled module (\`kiln compile\` first); Node.js compiles on every run (V8's Liftoff, then TurboFan)."
# ---- 5: components (kept in one function: other sections are edited elsewhere)
component_section() {
    make -s -C "$ROOT" "$KILN_BUILD/component-bench" BUILD="$(basename "$KILN_BUILD")" >/dev/null
    local cb="$KILN_BUILD/component-bench" corpus="$TMP/corpus" wt
    wt="${KILN_TOOLS:-/var/cache/kiln-tools}/cargo/bin/wasm-tools"
    say "## 5. Components: instances from an image, compile times"
    say ""
    if ! "$ROOT/tests/components/build.sh" "$corpus" c-cli c-types c-http go-cli >/dev/null 2>&1 ||
        ! "$wt" parse "$ROOT/bench/guests/small_component.wat" -o "$TMP/small_component.wasm"; then
        say "(skipped: the component toolchain is missing; \`make tools\`)"
        say ""
        return
    fi
    say "Command: \`build/component-bench [--export F] FILE.wasm\` (fresh host contexts from the grants +"
    say "a copy of every core instance from the component's image, no guest code run, + the call +"
    say "release; \"no image\" instantiates every core instance and runs their start functions)."
    say ""
    say '```'
    "$cb" --tier opt --export noop "$TMP/small_component.wasm" | tee -a "$report"
    "$cb" --tier opt --iterations 5000 "$corpus/c-cli.wasm" | tee -a "$report"
    "$cb" --tier opt --iterations 5000 --export 'wasi:cli/run@0.2.0#run' "$corpus/c-cli.wasm" | tee -a "$report"
    say '```'
    say "Target: a small component's instance from its image + an empty call + release p50 <= 5 us."
    say ""
    say "| component | size | core modules | fast tier compile (s) | opt tier compile (s) |"
    say "|---|---|---|---|---|"
    local name f fast opt mods
    for name in c-cli c-types c-http go-cli; do
        f="$corpus/$name.wasm"
        fast=$(KILN_CACHE_DIR="$TMP/cc-$name-fast" "$cb" --compile-only --tier fast "$f" 2>/dev/null | sed -n 's/.*compile \([0-9.]*\) s.*/\1/p')
        opt=$(KILN_CACHE_DIR="$TMP/cc-$name-opt" "$cb" --compile-only --tier opt "$f" 2>/dev/null | sed -n 's/.*compile \([0-9.]*\) s.*/\1/p')
        mods=$(KILN_CACHE_DIR="$TMP/cc-$name-fast" "$cb" --compile-only "$f" 2>/dev/null | sed -n 's/.*: \([0-9]*\) core modules.*/\1/p')
        [ -n "$fast" ] || fast="not loaded (imports this host lacks)"
        say "| $name | $(($(stat -c %s "$f") / 1024)) KiB | ${mods:--} | $fast | ${opt:--} |"
    done
    say ""
    say "Compile times are of a cold cache, all core modules of the component in sequence. js-cli"
    say "(StarlingMonkey, 12-18 MB) is left out of the run for its length and its imports (wasi:http)."
    say ""
}
component_section

# ---- 6: wasi:http (kept in one function: other sections are edited elsewhere)
wasi_http_section() {
    local corpus="$TMP/corpus-http" app="$TMP/httpapp" kport nport wport wt have_wt=1 round
    say "## 6. HTTP: the wasi:http hello component (c-http, a fresh instance per request) vs nginx and \`wasmtime serve\`"
    say ""
    if ! "$ROOT/tests/components/build.sh" "$corpus" c-http >/dev/null 2>&1; then
        say "(skipped: the component toolchain is missing; \`make tools\`)"
        say ""
        return
    fi
    # wasmtime-cli (pinned): built once by the script, ~20-30 min the first time
    wt="${KILN_TOOLS:-/var/cache/kiln-tools}/cargo/bin/wasmtime"
    if ! "$ROOT/scripts/install-wasmtime.sh" >"$TMP/wasmtime-install.log" 2>&1; then
        have_wt=0
        say "(wasmtime serve left out: scripts/install-wasmtime.sh failed: $(tail -1 "$TMP/wasmtime-install.log"))"
        say ""
    fi
    mkdir -p "$app"
    cp "$corpus/c-http.wasm" "$app/"
    cat >"$app/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "bench-http"
[[trigger.http]]
route = "/..."
component = "hello"
executor = { type = "http" }
[component.hello]
source = "c-http.wasm"
TOML
    "$KILN" compile --tier opt "$app/c-http.wasm" >/dev/null
    kport=$(free_port)
    "$KILN" up -f "$app" --listen "127.0.0.1:$kport" --tier opt --quiet >"$TMP/http-up.log" 2>&1 &
    local kpid=$!
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$kport/.well-known/kiln/health" >/dev/null && break; sleep 0.1; done
    nport=$(free_port)
    start_nginx "$TMP/nginx6" "$nport" 2 1024
    local wpid=""
    if [ $have_wt = 1 ]; then
        wport=$(free_port)
        # -S cli: the component's wasi:cli imports (wasi-libc's environment, stdio, exit)
        "$wt" serve -S cli --addr "127.0.0.1:$wport" "$app/c-http.wasm" >"$TMP/wasmtime.log" 2>&1 &
        wpid=$!
        for _ in $(seq 600); do curl -fs -o /dev/null "http://127.0.0.1:$wport/" && break; sleep 0.1; done
    fi
    sleep 0.3
    say "Command: \`wrk -t2 -c32 -d5s --latency URL\` against kiln up (\`--tier opt\`, default workers: 2 per CPU; \`executor = { type = \"http\" }\`), nginx \`return 200\` (\`worker_processes 2\`) and \`wasmtime serve -S cli\` ($("$wt" --version 2>/dev/null || echo "not installed"), its defaults: a fresh instance per request) on the same component, alternating, three rounds (compare within a round; the medians are the result)."
    say ""
    say "| round | kiln requests/s | kiln p99 | nginx requests/s | nginx p99 | wasmtime requests/s | wasmtime p99 | kiln / nginx | kiln / wasmtime |"
    say "|---|---|---|---|---|---|---|---|---|"
    local rn="" rw="" k n w rnx rwt
    for round in 1 2 3; do
        k=$(wrk -t2 -c32 -d5s --latency "http://127.0.0.1:$kport/" 2>&1)
        n=$(wrk -t2 -c32 -d5s --latency "http://127.0.0.1:$nport/" 2>&1)
        w=""
        [ -n "$wpid" ] && w=$(wrk -t2 -c32 -d5s --latency "http://127.0.0.1:$wport/" 2>&1)
        rnx=$(python3 -c "print(f'{float(\"$(rps "$k")\")/float(\"$(rps "$n")\"):.2f}')" 2>/dev/null || echo "?")
        rwt=$(python3 -c "print(f'{float(\"$(rps "$k")\")/float(\"$(rps "$w")\"):.2f}')" 2>/dev/null || echo "-")
        rn="$rn $rnx"
        rw="$rw $rwt"
        say "| $round | $(rps "$k") | $(p99 "$k") | $(rps "$n") | $(p99 "$n") | $(rps "$w") | $(p99 "$w") | $rnx | $rwt |"
    done
    kill "$kpid" 2>/dev/null; wait "$kpid" 2>/dev/null
    kill "$(cat "$TMP/nginx6/nginx.pid")" 2>/dev/null
    [ -n "$wpid" ] && { kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null; }
    # the instance start p50 from kiln's access log (start=X ms), one more short run
    kport=$(free_port)
    "$KILN" up -f "$app" --listen "127.0.0.1:$kport" --tier opt >"$TMP/http-access.log" 2>"$TMP/http-up2.log" &
    kpid=$!
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$kport/.well-known/kiln/health" >/dev/null && break; sleep 0.1; done
    wrk -t2 -c32 -d2s "http://127.0.0.1:$kport/" >/dev/null 2>&1
    kill "$kpid" 2>/dev/null; wait "$kpid" 2>/dev/null
    local start_p50
    start_p50=$(grep -o 'start=[0-9.]*ms' "$TMP/http-access.log" | sed 's/start=//; s/ms//' | sort -n |
        awk '{v[NR] = $1} END {if (NR) printf "%.1f us (%d requests)", v[int((NR + 1) / 2)] * 1000, NR; else print "?"}')
    say ""
    say "Medians of the rounds: kiln / nginx requests/s **$(tr ' ' '\n' <<<"$rn" | grep . | sort -n | sed -n 2p)** (target >= 0.60); kiln / wasmtime serve **$(tr ' ' '\n' <<<"$rw" | grep . | sort -n | sed -n 2p)** (target >= 1.5 at an equal or better p99). Instance start p50 (kiln's access log, \`start=\`: instance from the component's image, host contexts bound): **$start_p50**."
    say ""
}
wasi_http_section

# ---- 7: kiln bench (the mission's comparison table for examples/hello)
say "## 7. \`kiln bench examples/hello\`: Kiln vs a native process and a runc container per request"
say ""
if "$KILN" build -f "$ROOT/examples/hello" >"$TMP/kb-build.log" 2>&1 &&
    "$KILN" bench "$ROOT/examples/hello" --format markdown --state-dir "$TMP/kb-state" \
        >"$TMP/kb.md" 2>"$TMP/kb.err"; then
    cat "$TMP/kb.md" | tee -a "$report"
else
    say "kiln bench failed: $(tail -n 3 "$TMP/kb.err" "$TMP/kb-build.log" | tr '\n' ' ')"
fi
say ""
js_compute_section
host_api_section
p3_section
languages_section

cp "$report" "$OUT"
echo
echo "wrote $OUT"
