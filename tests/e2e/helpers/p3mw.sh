# p3mw.sh — what the p3 middleware tests share (sourced after tests/lib.sh): `p3mw_build
# DIR HANDLER` writes DIR/HANDLER.wasm (the wasi:http 0.3 handler of up_wasi_http_p3.sh,
# its function read from there: one definition) and DIR/auth.wasm (deps/p3_auth.wat, a
# p3 auth middleware), and sets WT (wasm-tools) and HANDLER_WAT (the handler's text).
# Returns 1 after a failed check when wasm-tools is missing.
WT=${KILN_TOOLS:-/var/cache/kiln-tools}/cargo/bin/wasm-tools

p3mw_build() {
    if [ ! -x "$WT" ]; then
        fail "$WT not found (scripts/install-tools.sh installs it)"
        return 1
    fi
    mkdir -p "$1"
    eval "$(sed -n '/^p3_handler() {/,/^}/p' "$ROOT/tests/e2e/up_wasi_http_p3.sh")"
    HANDLER_WAT=$TMP/handler.wat
    p3_handler 0.3.0-rc-2026-03-15 >"$HANDLER_WAT"
    check "the p3 handler parses" "$WT" parse "$HANDLER_WAT" -o "$1/$2.wasm"
    check "the p3 middleware parses" "$WT" parse "$ROOT/tests/e2e/deps/p3_auth.wat" -o "$1/auth.wasm"
}
