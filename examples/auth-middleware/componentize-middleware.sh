#!/bin/sh
# componentize-middleware.sh CORE.wasm OUT.wasm — makes the middleware's core module (clang,
# -mexec-model=reactor) a component of wit/middleware.wit's world: wasm-tools embeds the
# world (with the WASI 0.2.12 WIT that jco ships) and wraps the module with the WASI
# preview1 reactor adapter (getenv reads wasi:cli/environment through it). The tools come
# from ${KILN_TOOLS:-/var/cache/kiln-tools} (scripts/install-tools.sh installs them).
set -eu
if [ $# -ne 2 ]; then
    echo "usage: $0 CORE.wasm OUT.wasm" >&2
    exit 2
fi
T=${KILN_TOOLS:-/var/cache/kiln-tools}
W=$T/cargo/bin/wasm-tools
JL=$T/npm/node_modules/@bytecodealliance/jco/lib
for need in "$W" "$JL/wasi_snapshot_preview1.reactor.wasm" "$JL/wit/builtin/0.2.12"; do
    if [ ! -e "$need" ]; then
        echo "componentize-middleware: $need is missing (run scripts/install-tools.sh)" >&2
        exit 1
    fi
done
wit=$(dirname "$2")/wit
rm -rf "$wit"
mkdir -p "$wit/deps"
cp wit/middleware.wit "$wit/"
cp -R "$JL/wit/builtin/0.2.12/." "$wit/deps/"
rm -f "$wit/deps/"*.md
"$W" component embed "$wit" --world middleware "$1" -o "$1.embedded"
"$W" component new "$1.embedded" --adapt \
    "wasi_snapshot_preview1=$JL/wasi_snapshot_preview1.reactor.wasm" -o "$2"
