# deps.sh — builds the component-dependency test app of tests/e2e/deps (sourced after
# tests/lib.sh). `deps_build DIR` writes into DIR: greeter.wasm, envcount.wasm and
# counter.wasm (WAT components, each a dependency), main.wasm (a C SDK wasi:http handler
# importing the three) and auth.wasm (an HTTP middleware). Returns 1 (after a failed
# check naming what is missing or did not build) when the toolchain is absent or a
# build fails; the caller then stops.
DEPS_T=${KILN_TOOLS:-/var/cache/kiln-tools}
DEPS_W=$DEPS_T/cargo/bin/wasm-tools
DEPS_JL=$DEPS_T/npm/node_modules/@bytecodealliance/jco/lib
DEPS_SRC=$ROOT/tests/e2e/deps

# deps_component DIR CORE WORLD WITDIR OUT: embeds WORLD of WITDIR into DIR/CORE and adapts it.
deps_component() {
    "$DEPS_W" component embed "$1/$4" --world "$3" "$1/$2" -o "$1/$2.emb" &&
        "$DEPS_W" component new "$1/$2.emb" --adapt \
            "wasi_snapshot_preview1=$DEPS_JL/wasi_snapshot_preview1.reactor.wasm" -o "$1/$5"
}

deps_build() {
    local A=$1 need
    for need in "$DEPS_W" "$DEPS_JL/wasi_snapshot_preview1.reactor.wasm" \
        "$DEPS_JL/wit/builtin/0.2.12"; do
        if [ ! -e "$need" ]; then
            echo "deps: SKIP: $need is missing (run scripts/install-tools.sh)" >&2
            fail "the component toolchain is installed" "missing: $need"
            return 1
        fi
    done
    mkdir -p "$A/wit/deps/kiln-test" "$A/mwwit"
    check "greeter.wat builds" "$DEPS_W" parse "$DEPS_SRC/greeter.wat" -o "$A/greeter.wasm"
    check "envcount.wat builds" "$DEPS_W" parse "$DEPS_SRC/envcount.wat" -o "$A/envcount.wasm"
    check "counter.wat builds" "$DEPS_W" parse "$DEPS_SRC/counter.wat" -o "$A/counter.wasm"
    cp "$DEPS_SRC/wit/world.wit" "$A/wit/"
    cp -R "$DEPS_JL/wit/builtin/0.2.12/." "$A/wit/deps/"
    rm -f "$A/wit/deps/"*.md
    cp "$DEPS_SRC/wit-test/test.wit" "$A/wit/deps/kiln-test/"
    if ! clang --target=wasm32-wasi --sysroot=/usr -mexec-model=reactor -std=c11 -O2 -Wall \
        -Werror -I"$ROOT/sdk/c" "$DEPS_SRC/main.c" "$ROOT/sdk/c/kiln.c" "$ROOT/sdk/c/kiln_http.c" \
        -o "$A/core.wasm" 2>"$TMP/cc.err" ||
        ! deps_component "$A" core.wasm app wit main.wasm 2>>"$TMP/cc.err"; then
        fail "the main component builds" "$(cat "$TMP/cc.err")"
        return 1
    fi
    pass "the main component builds"
    cp -R "$A/wit/deps" "$A/mwwit/"
    cp "$DEPS_SRC/wit/mw.wit" "$A/mwwit/"
    if ! clang --target=wasm32-wasi --sysroot=/usr -mexec-model=reactor -std=c11 -O2 -Wall \
        -Werror "$DEPS_SRC/auth.c" -o "$A/authcore.wasm" 2>"$TMP/cc.err" ||
        ! deps_component "$A" authcore.wasm middleware mwwit auth.wasm 2>>"$TMP/cc.err"; then
        fail "the auth middleware builds" "$(cat "$TMP/cc.err")"
        return 1
    fi
    return 0
}
