#!/usr/bin/env bash
# Installs what Kiln needs to build, test and benchmark, from Debian packages.
# Idempotent and non-interactive: it installs only what is missing.
# Usage: scripts/install-deps.sh [--check]   (--check: exit 1 if something is missing)
set -euo pipefail

PKGS=(
    build-essential pkg-config git curl ca-certificates
    wabt tcc libtcc-dev                      # engine: wasm2c + the fast tier
    libh2o-evloop-dev libssl-dev zlib1g-dev  # HTTP server
    libsqlite3-dev                           # embedded state
    libhiredis-dev libpq-dev                 # outbound Redis and PostgreSQL (Spin's APIs)
    libcurl4-openssl-dev                     # source = { url, digest } downloads
    redis-server postgresql                  # tests: throwaway Redis and PostgreSQL servers
    clang lld wasi-libc libclang-rt-14-dev-wasm32 libclang-rt-14-dev  # guests (C) + sanitizers/fuzzing
    clang-format
    rustc libstd-rust-dev-wasm32             # guests (Rust): /usr/bin/rustc --target wasm32-wasi
    python3 nodejs                           # test clients; benchmark baseline (V8 WASI)
    nghttp2-client                           # tests: nghttp (HTTP/2 trailers), h2load
    wrk nginx-light hyperfine                # benchmarks; nginx: the HTTP/2 upstream of tests
    prometheus                               # tests: promtool check metrics, a real scrape
    libcurl4-openssl-dev                     # kiln registry: the OCI distribution client
    docker-registry skopeo apache2-utils     # tests: a real registry, an independent client, htpasswd
    chromium                                 # tests: the admin dashboard in a headless browser
    runc umoci                               # kiln bench's container baseline; image_runc.sh runs Kiln's image
)
# npm builds AssemblyScript guests (npm ci in the template): NodeSource's nodejs ships it,
# Debian's nodejs (18) needs the separate npm package (AssemblyScript is pinned to 0.27.31,
# which supports Node >= 16).
command -v npm >/dev/null 2>&1 || PKGS+=(npm)

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ "${1:-}" = "--check" ]; then
    [ ${#missing[@]} -eq 0 ] && exit 0
    echo "missing packages: ${missing[*]}" >&2
    exit 1
fi

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
