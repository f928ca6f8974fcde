#!/usr/bin/env bash
# Real WASI programs (../shared/testsuites/programs/wasm3) through `kiln run`, on both
# tiers, checked against programs.json's expected output (SHA-1 of stdout or a glob).
# In `make test` only the small argument sets run (KILN_PROGRAMS=all runs every one,
# which is what `make bench` does, with timings).
source "$(dirname "$0")/../lib.sh"
P="$SHARED/programs/wasm3"
which=${KILN_PROGRAMS:-small}
tiers=${KILN_PROGRAM_TIERS:-fast opt}
while IFS=$'\x1f' read -r name wasm preopen stdin args kind expect; do
    case "$which:$name" in
    small:*-small | small:simple | all:*) ;;
    *) continue ;;
    esac
    for tier in $tiers; do
        cmd=("$KILN" run --tier "$tier")
        [ -n "$preopen" ] && cmd+=(--dir "$P/$preopen::/")
        cmd+=("$P/$wasm")
        eval "extra=($args)"
        in=/dev/null
        [ -n "$stdin" ] && in="$P/$stdin"
        # Timed runs (make bench) measure running, not compiling: build the tier first.
        [ -n "${KILN_PROGRAMS_TIMES:-}" ] && "$KILN" compile --tier "$tier" "$P/$wasm" >/dev/null 2>&1
        start=$(date +%s.%N)
        timeout 600 "${cmd[@]}" "${extra[@]}" <"$in" >"$TMP/out" 2>"$TMP/err"
        rc=$?
        secs=$(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo "?")
        [ -n "${KILN_PROGRAMS_TIMES:-}" ] && printf '%s\t%s\t%s\n' "$name" "$tier" "$secs" >>"$KILN_PROGRAMS_TIMES"
        if [ "$rc" -ne 0 ]; then
            fail "$name ($tier) exit status $rc" "$(head -c 300 "$TMP/err")"
            continue
        fi
        if [ "$kind" = sha1 ]; then
            expect_eq "$name ($tier) output SHA-1" "$expect" "$(sha1sum <"$TMP/out" | cut -d' ' -f1)"
        else
            # shellcheck disable=SC2053
            out=$(cat "$TMP/out")
            if [[ "$out" == $expect ]]; then pass "$name ($tier)"; else fail "$name ($tier) output does not match $expect" "${out:0:300}"; fi
        fi
    done
done < <(python3 - "$P/programs.json" <<'PY'
import json, shlex, sys
for p in json.load(open(sys.argv[1])):
    kind, expect = ("sha1", p["expect_sha1"]) if "expect_sha1" in p else ("glob", p["expect_pattern"])
    print("\x1f".join([p["name"], p["wasm"], p.get("preopen", ""), p.get("stdin", ""),
                     " ".join(shlex.quote(a) for a in p.get("args", [])), kind, expect]))
PY
)
finish
