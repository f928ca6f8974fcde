#!/usr/bin/env bash
# wasi_sandbox.sh — the WASI sandbox through `kiln run`: a guest built at test time from
# tests/e2e/guests/wasi_escape.c tries to leave its preopen (.., absolute and relative
# symlinks, symlink loops, rename/link across the boundary) and to modify a read-only
# mount; everything must fail with an errno and leave the host untouched. Also: the guest
# sees only the configured environment.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

# wasi-libc sysroot: Debian's wasi-libc installs under /usr (lib/wasm32-wasi).
SYSROOT=""
for d in /usr/share/wasi-sysroot /usr; do
    if [ -f "$d/lib/wasm32-wasi/libc.a" ]; then SYSROOT=$d; break; fi
done
if [ -z "$SYSROOT" ] || ! command -v clang >/dev/null; then
    fail "toolchain" "clang or the wasi-libc sysroot is missing (apt: clang wasi-libc libclang-rt-dev-wasm32)"
    finish
    exit
fi
GUEST="$TMP/wasi_escape.wasm"
if ! clang --target=wasm32-wasi --sysroot="$SYSROOT" -O1 -o "$GUEST" \
    "$ROOT/tests/e2e/guests/wasi_escape.c" 2>"$TMP/cc.log"; then
    fail "build guest" "$(cat "$TMP/cc.log")"
    finish
    exit
fi

# KILN_WASI_TIER=fast|opt: the compiler tier (default: kiln's own choice).
TIER=()
[ -n "${KILN_WASI_TIER:-}" ] && TIER=(--tier "$KILN_WASI_TIER")

# The host side: a box (the guest's /), a read-only dir and files outside both.
H="$TMP/host"
mkdir -p "$H/box/sub" "$H/ro"
printf abc >"$H/outside.txt"
printf hi >"$H/ro/ro.txt"
printf data >"$H/box/file.txt"
ln -s /etc "$H/box/abs"
ln -s .. "$H/box/up"
ln -s ../../outside.txt "$H/box/sub/uplink"
ln -s loop2 "$H/box/loop1"
ln -s loop1 "$H/box/loop2"
ln -s ../newout.txt "$H/box/newout"
snapshot() { (cd "$H" && find . -path ./box -prune -o -printf '%p %s %T@ %m\n' | sort; cat outside.txt ro/ro.txt); }
before=$(snapshot)

out=$("$KILN" run "${TIER[@]}" --dir "$H/box::/" --dir "$H/ro::/ro:ro" "$GUEST" 2>"$TMP/err")
rc=$?
expect_eq "guest exit code" 0 "$rc"
nchecks=$(grep -c '^ok ' <<<"$out")
expect_eq "all 30 checks ran" 30 "$nchecks"
while IFS= read -r line; do
    case "$line" in
    ok*) pass "${line#ok }" ;;
    ESCAPED*) fail "${line#ESCAPED }" "the guest got out: $line" ;;
    esac
done <<<"$out"
expect_eq "host untouched" "$before" "$(snapshot)"
check "no file created outside" test ! -e "$H/newout.txt"
check "no link outside" test ! -e "$H/linked.txt"
check "no rename outside" test ! -e "$H/stolen.txt"
check "box file still there" test -f "$H/box/file.txt"
[ -s "$TMP/err" ] && fail "no stderr" "$(head -c 400 "$TMP/err")"

# Environment: only what --env gives.
out=$(KILN_SECRET_HOST_VAR=leak "$KILN" run "${TIER[@]}" --env GUEST_VAR=visible --env "MULTI=a b=c" \
    "$GUEST" env 2>&1)
expect_contains "guest env var" "env GUEST_VAR=visible" "$out"
expect_contains "guest env value with = and space" "env MULTI=a b=c" "$out"
expect_not_contains "host env hidden" "KILN_SECRET_HOST_VAR" "$out"
expect_not_contains "host PATH hidden" "env PATH=" "$out"
expect_eq "exactly two variables" 2 "$(grep -c '^env ' <<<"$out")"

finish
