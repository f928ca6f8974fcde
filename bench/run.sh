#!/usr/bin/env bash
# make bench: Kiln's benchmarks, each against a baseline measured in the same run.
# Prints a table and writes bench/results.md (machine, commands, numbers).
#   1. instantiation latency (in process): hello handler and a module with 1 MiB of data
#   2. HTTP: wrk against `kiln up` (WAGI hello, fresh instance per request) and nginx
#   3. memory per live instance (1,000 alive)
#   4. compute: CoreMark and the wasm3 programs on both tiers vs Node.js (V8) WASI
#   5. components: instances from a component image, and compile times of the corpus
# Not part of `make test`: targets live here, never in timed tests.
set -u
source "$(dirname "$0")/../tests/lib.sh"
OUT="$ROOT/bench/results.md"
P="$SHARED/programs/wasm3"
export KILN_CACHE_DIR="$KILN_BUILD/bench-cache"
mkdir -p "$KILN_CACHE_DIR"
make -s -C "$ROOT" "$KILN_BUILD/instantiate-bench" BUILD="$(basename "$KILN_BUILD")" >/dev/null
BENCH="$KILN_BUILD/instantiate-bench"
report=$(mktemp)
say() { printf '%s\n' "$*" | tee -a "$report"; }

say "# Kiln benchmarks"
say ""
say "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), \`make bench\`. Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB, kernel $(uname -r)."
say "Compilers: $(cc --version | head -1); libtcc $(dpkg-query -W -f='${Version}' libtcc-dev); wasm2c $(wasm2c --version); Node.js $(node --version 2>/dev/null || echo none)."
say ""

# ---- 1 + 3: instantiation and live-instance memory
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

# ---- 2: HTTP
say "## 2. HTTP: WAGI hello with a fresh instance per request vs nginx \`return 200\`"
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
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx/nginx.conf" <<NGX
worker_processes 2;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx; proxy_temp_path $TMP/nginx; fastcgi_temp_path $TMP/nginx;
  uwsgi_temp_path $TMP/nginx; scgi_temp_path $TMP/nginx;
  server { listen 127.0.0.1:$nport; location / { return 200 "Hello, world!\n"; } }
}
NGX
nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" 2>>"$TMP/nginx/error.log"
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
say "| CoreMark | iterations/s | vs Node.js |"
say "|---|---|---|"
for row in "kiln fast tier (tcc):$cm_fast" "kiln opt tier (cc -O2):$cm_opt" "Node.js $(node --version) WASI:$cm_node"; do
    v=${row##*:}
    say "| ${row%:*} | $v | $(python3 -c "print(f'{$v/$cm_node:.2f}')" 2>/dev/null) |"
done
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

cp "$report" "$OUT"
echo
echo "wrote $OUT"
