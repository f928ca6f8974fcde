#!/usr/bin/env bash
# The optimized tier of a composed component (a p3 middleware chain: auth.wasm with the
# handler as its dependency) is compiled in the background from the bytes kiln up loaded
# at start (component/instance.h: kiln_component_reload), not from the files again: the
# handler's file replaced by another component while the opt tier compiles (the opt
# tier's C compiler, KILN_CC, waits for the swap) changes nothing, before and after the
# switch to the optimized tier. wasm-tools comes from scripts/install-tools.sh.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/up.sh"
source "$(dirname "$0")/helpers/p3mw.sh"

A=$TMP/app
if ! p3mw_build "$A" handler; then
    finish
    exit 1
fi
sed 's/hello from a p3 handler/CHANGED from the file!/' "$HANDLER_WAT" >"$TMP/other.wat"
check "the other handler parses" "$WT" parse "$TMP/other.wat" -o "$TMP/other.wasm"
cat >"$A/spin.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "tier"
[[trigger.http]]
route = "/..."
component = "h"
dependencies.middleware = [{ path = "auth.wasm" }]
[component.h]
source = "handler.wasm"
TOML
# the opt tier's compiler: a compile (-o) waits until the test has swapped the file
cat >"$TMP/cc.sh" <<EOF2
#!/bin/sh
for a in "\$@"; do
    [ "\$a" = -o ] && while [ ! -e "$TMP/go" ]; do sleep 0.1; done
done
exec cc "\$@"
EOF2
chmod +x "$TMP/cc.sh"

export KILN_CACHE_DIR=$TMP/cache KILN_CC=$TMP/cc.sh
if start_up_from "$A/spin.toml" --tier auto; then
    out=$(curl -s -H 'authorization: t' "$URL/")
    expect_eq "the fast tier answers" "hello from a p3 handler" "$out"
    cp "$TMP/other.wasm" "$A/handler.wasm"
    touch "$TMP/go"
    for _ in $(seq 1 600); do
        grep -q "optimized tier" "$TMP/up.err" && break
        sleep 0.1
    done
    expect_contains "the optimized tier is ready" "optimized tier ready" "$(cat "$TMP/up.err")"
    out=$(curl -s -H 'authorization: t' "$URL/")
    expect_eq "the optimized tier runs the component loaded at start" "hello from a p3 handler" \
        "$out"
else
    fail "kiln up starts" "$(tail -n 5 "$TMP/up.err")"
fi
stop_up
finish
