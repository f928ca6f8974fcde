#!/usr/bin/env bash
# The C SDK's wasi:http component under `wasmtime serve` as well as kiln and jco serve:
# builds wasmtime-cli from crates.io when it is not cached yet (scripts/install-wasmtime.sh,
# about 20 minutes the first time), then runs tests/e2e/c_sdk_component.sh with the
# wasmtime comparison required.
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
if ! "$ROOT/scripts/install-wasmtime.sh"; then
    echo "FAIL c_sdk_wasmtime: scripts/install-wasmtime.sh failed" >&2
    exit 1
fi
KILN_REQUIRE_WASMTIME=1 exec bash "$ROOT/tests/e2e/c_sdk_component.sh"
