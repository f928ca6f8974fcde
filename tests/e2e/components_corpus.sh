#!/usr/bin/env bash
# The corpus of real components (tests/components/build.sh) builds, every component validates
# and has the world its toolchain should give it, and jco — the reference runtime Kiln's
# component support is compared with — runs the commands (`jco run`) and serves the wasi:http
# handlers (`jco serve` + curl) with the expected output. The corpus is cached under
# $KILN_TOOLS/corpus, so after the first run this test only runs jco.
source "$(dirname "$0")/../lib.sh"

KILN_TOOLS=${KILN_TOOLS:-/var/cache/kiln-tools}
WT="$KILN_TOOLS/cargo/bin/wasm-tools"
JCO="$KILN_TOOLS/npm/node_modules/.bin/jco"
PREOPENS="$KILN_TOOLS/npm/preopens.mjs"
CORPUS="$KILN_BUILD/components"

if ! out=$("$ROOT/tests/components/build.sh" "$CORPUS" 2>&1); then
    fail "tests/components/build.sh builds the corpus" "$out"
    finish
    exit
fi
pass "tests/components/build.sh builds the corpus"
[ -n "${VERBOSE:-}" ] && echo "$out"

# --- every component validates and declares the world its toolchain gives it
wit_of() { "$WT" component wit "$CORPUS/$1.wasm" 2>&1; }
for c in c-cli c-http c-types go-cli js-cli js-http py-http; do
    check "$c validates" "$WT" validate "$CORPUS/$c.wasm"
done
w=$(wit_of c-cli)
expect_contains "c-cli exports wasi:cli/run" "export wasi:cli/run@0.2.12;" "$w"
expect_contains "c-cli imports wasi:filesystem/preopens" "import wasi:filesystem/preopens@0.2.12;" "$w"
w=$(wit_of go-cli)
expect_contains "go-cli exports wasi:cli/run" "export wasi:cli/run@0.2.12;" "$w"
expect_contains "go-cli imports wasi:clocks/monotonic-clock" "import wasi:clocks/monotonic-clock@0.2.12;" "$w"
w=$(wit_of js-cli)
expect_contains "js-cli exports wasi:cli/run 0.2.10" "export wasi:cli/run@0.2.10;" "$w"
w=$(wit_of c-http)
expect_contains "c-http exports the incoming handler" "export wasi:http/incoming-handler@0.2.12;" "$w"
expect_contains "c-http imports wasi:http/types" "import wasi:http/types@0.2.12;" "$w"
w=$(wit_of js-http)
expect_contains "js-http exports the incoming handler 0.2.10" "export wasi:http/incoming-handler@0.2.10;" "$w"
expect_contains "js-http imports the outgoing handler" "import wasi:http/outgoing-handler@" "$w"
w=$(wit_of py-http)
expect_contains "py-http exports the incoming handler" "export wasi:http/incoming-handler@0.2." "$w"
w=$(wit_of c-types)
expect_contains "c-types exports kiln:types/api" "export kiln:types/api@0.1.0;" "$w"
expect_not_contains "c-types imports no WASI" "import wasi:" "$w"
expect_contains "c-types declares its resource" "resource counter {" "$w"
expect_contains "c-types declares a flags type" "flags permissions {" "$w"

# --- jco runs the commands
mkdir -p "$TMP/data"
printf 'line one\nline two\n' >"$TMP/data/in.txt"
jco_run() { # jco_run NAME ARGS...: stdout+stderr, then "rc=N"
    local o rc
    o=$(cd "$TMP" && JCO_PREOPENS="/data=$TMP/data" KILN_FILE=/data/in.txt KILN_GREETING=hi \
        timeout 120 node "$JCO" run --jco-import "$PREOPENS" "$CORPUS/$1.wasm" "${@:2}" 2>&1 </dev/null)
    rc=$?
    printf '%s\nrc=%d' "$o" "$rc"
}
for c in c-cli go-cli; do
    lang=C
    [ $c = go-cli ] && lang=Go
    o=$(jco_run $c one "two words")
    expect_contains "jco run $c: greeting" "hello from $lang" "$o"
    expect_contains "jco run $c: argc" "argc=3" "$o"
    expect_contains "jco run $c: argument with a space" "arg[2]=two words" "$o"
    expect_contains "jco run $c: environment" "env KILN_GREETING=hi" "$o"
    expect_contains "jco run $c: reads a preopened file" "$(printf 'file /data/in.txt:\nline one\nline two')" "$o"
    expect_contains "jco run $c: exit status 0" "rc=0" "$o"
    # wasi:cli/exit 0.2 carries only ok/err: any non-zero status becomes 1.
    o=$(jco_run $c exit=3)
    expect_contains "jco run $c: non-zero exit becomes 1" "rc=1" "$o"
done
o=$(cd "$TMP" && printf 'from stdin\n' | timeout 120 node "$JCO" run "$CORPUS/c-cli.wasm" cat 2>&1)
expect_eq "jco run c-cli: copies stdin to stdout" "from stdin" "$(tail -1 <<<"$o")"
o=$(jco_run js-cli one two)
expect_contains "jco run js-cli: greeting" "hello from JavaScript" "$o"
expect_contains "jco run js-cli: arguments" 'args=["js-cli","one","two"]' "$o"
expect_contains "jco run js-cli: environment" "env KILN_GREETING=hi" "$o"
expect_contains "jco run js-cli: exit status 0" "rc=0" "$o"
o=$(jco_run js-cli fail)
expect_contains "jco run js-cli: a failing run exits 1" "rc=1" "$o"

# --- jco runs the canonical-ABI component (transpiled to JavaScript)
if node "$JCO" transpile "$CORPUS/c-types.wasm" -o "$TMP/types-js" --name types >/dev/null 2>&1; then
    echo '{"type":"module"}' >"$TMP/types-js/package.json"
    o=$(node "$ROOT/tests/components/c-types/reference.mjs" "$TMP/types-js/types.js" 2>&1)
    expect_contains "c-types: u8 wraps" "add-u8(200, 100) => 44" "$o"
    expect_contains "c-types: s64 wraps" 'add-s64(9223372036854775807, 1) => "-9223372036854775808n"' "$o"
    expect_contains "c-types: strings (UTF-8)" "reverse-string('añb😀c') => \"c😀bña\"" "$o"
    expect_contains "c-types: list<string>" 'split-words('"'"'  the quick  brown fox '"'"') => ["the","quick","brown","fox"]' "$o"
    expect_contains "c-types: record with option and list" 'make-person('"'"'Bo'"'"', 20) => {"name":"Bo","age":20,"email":"adult@example.com","tags":["made","adult"]}' "$o"
    expect_contains "c-types: result err variant" 'parse-number('"'"'12x4'"'"') => throws {"tag":"bad-char","val":120}' "$o"
    expect_contains "c-types: flags" 'toggle-write({write, exec}) => {"read":false,"write":false,"exec":true}' "$o"
    expect_contains "c-types: variant" 'bigger(rect(3, 4)) => {"tag":"rect","val":{"x":6,"y":8}}' "$o"
    expect_contains "c-types: resource" 'counter => ["15n","-1n","15n","14n","15n"]' "$o"
    expect_eq "c-types: one line per call" 37 "$(grep -c ' => ' <<<"$o")"
else
    fail "jco transpile c-types"
fi

# --- jco serves the wasi:http handlers
# jco serve starts a second node process: run it in its own process group and end the group.
# --isolate-requests instance: a fresh component instance per request, as Kiln, Spin and
# `wasmtime serve` do; a componentize-js instance answers only one request (the second fails
# with "FetchEvent#respondWith can't be called twice" and never answers).
# componentize-py's runtime uses extended-const, which Node 20 enables only with a V8 flag;
# jco passes JCO_RUN_ARGS to the node process that runs the component.
serve() { # serve NAME: starts jco serve on a free port, sets PORT and SERVE_PID
    PORT=$(free_port)
    (cd "$TMP" && JCO_RUN_ARGS=--experimental-wasm-extended-const exec setsid \
        node "$JCO" serve --isolate-requests instance --port "$PORT" --host 127.0.0.1 "$CORPUS/$1.wasm" >"$TMP/serve-$1.log" 2>&1) &
    SERVE_PID=$!
    on_exit "kill -- -$SERVE_PID 2>/dev/null"
    for _ in $(seq 1 600); do
        curl -s -m 10 -o /dev/null "http://127.0.0.1:$PORT/" && return 0
        kill -0 "$SERVE_PID" 2>/dev/null || return 1
        sleep 0.2
    done
    return 1
}
for c in c-http js-http py-http; do
    if ! serve $c; then
        fail "jco serve $c starts" "$(tail -20 "$TMP/serve-$c.log")"
        continue
    fi
    pass "jco serve $c starts"
    r=$(curl -s -m 30 -i "http://127.0.0.1:$PORT/some/path?x=1")
    expect_contains "jco serve $c: 200" "HTTP/1.1 200" "$r"
    case $c in
    c-http)
        expect_contains "$c: body" "hello from C GET /some/path?x=1" "$r"
        expect_contains "$c: header" "x-kiln-guest: c" "$r"
        r=$(curl -s -m 30 -i -X POST --data-binary 'ping' "http://127.0.0.1:$PORT/echo")
        expect_contains "$c: POST answered" "hello from C POST /echo" "$r"
        ;;
    js-http)
        expect_contains "$c: body" "hello from JavaScript GET /some/path" "$r"
        expect_contains "$c: header" "x-kiln-guest: js" "$r"
        ;;
    py-http)
        expect_contains "$c: body" "hello from Python GET /some/path?x=1" "$r"
        expect_contains "$c: header" "x-kiln-guest: python" "$r"
        ;;
    esac
    kill -- -"$SERVE_PID" 2>/dev/null
    wait "$SERVE_PID" 2>/dev/null
done

finish
