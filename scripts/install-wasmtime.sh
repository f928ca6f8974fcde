#!/usr/bin/env bash
# Installs wasmtime-cli (with `wasmtime serve`) from crates.io into ${KILN_TOOLS:-/var/cache/kiln-tools}
# for `make bench`, which compares Kiln's wasi:http executor with `wasmtime serve` on the same
# component. Only the bench needs it: the build takes ~20-30 min of cargo on 2 cores, so
# `make test` never waits for it. Pinned, built once, reused by every later run (a stamp file
# records the exact version and features; `serve` in 48.x needs component-model-async). Needs rustup's cargo (Rust >= 1.95 for 48.x).
# Usage: scripts/install-wasmtime.sh [--check]   (--check: exit 1 if it is not installed)
set -euo pipefail
KILN_TOOLS=${KILN_TOOLS:-/var/cache/kiln-tools}
WASMTIME_VERSION=48.0.8
# component-model-async: `serve` does not compile without it in 48.x (p3 handler, futures)
FEATURES=run,serve,cranelift,component-model,component-model-async,pooling-allocator,parallel-compilation,cache,wat
want="wasmtime-cli $WASMTIME_VERSION ($FEATURES)"
stamp="$KILN_TOOLS/cargo/.kiln-wasmtime"
bin="$KILN_TOOLS/cargo/bin/wasmtime"
current() { [ -x "$bin" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; }
if [ "${1:-}" = "--check" ]; then
    current && exit 0
    echo "wasmtime-cli $WASMTIME_VERSION is not installed in $KILN_TOOLS (scripts/install-wasmtime.sh)" >&2
    exit 1
fi
current && exit 0
mkdir -p "$KILN_TOOLS/cargo"
exec 9>"$KILN_TOOLS/.lock-wasmtime"
flock 9
current && exit 0
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="$KILN_TOOLS/cargo-target-wasmtime"
command -v cargo >/dev/null || { echo "install-wasmtime: cargo not found (rustup's Rust is needed)" >&2; exit 1; }
echo "install-wasmtime: building $want (cargo install, ~20-30 min on 2 cores) ..."
t0=$(date +%s)
nice -n 10 cargo install --locked --quiet wasmtime-cli --version "$WASMTIME_VERSION" \
    --root "$KILN_TOOLS/cargo" --no-default-features --features "$FEATURES"
echo "$want" >"$stamp"
echo "install-wasmtime: done in $(($(date +%s) - t0)) s: $("$bin" --version)"
