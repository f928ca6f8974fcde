#!/usr/bin/env bash
# toml.sh — runs the whole toml-test suite ($SHARED/toml-test, read in place) against
# BUILD/toml-decoder: every valid case must decode to JSON that means the same as the
# expected file (compared by toml_compare.py), every invalid case must be rejected.
source "$(dirname "$0")/../lib.sh"
_name=toml
DEC="$KILN_BUILD/toml-decoder"
SUITE="$SHARED/testsuites/toml-test/tests"
[ -d "$SUITE" ] || SUITE="$SHARED/toml-test/tests"
if [ ! -x "$DEC" ] || [ ! -d "$SUITE" ]; then
    fail "setup" "need $DEC and $SUITE"
    finish
    exit
fi
CMP="$ROOT/tests/suites/toml_compare.py"

while IFS= read -r f; do
    rel=${f#"$SUITE"/}
    want=${f%.toml}.json
    if ! "$DEC" <"$f" >"$TMP/out.json" 2>"$TMP/err"; then
        fail "$rel" "decoder rejected it: $(head -c 300 "$TMP/err")"
        continue
    fi
    if msg=$(python3 "$CMP" "$want" "$TMP/out.json"); then
        pass "$rel"
    else
        fail "$rel" "$msg"
    fi
done < <(find "$SUITE/valid" -name '*.toml' | sort)

while IFS= read -r f; do
    rel=${f#"$SUITE"/}
    "$DEC" <"$f" >"$TMP/out.json" 2>"$TMP/err"
    rc=$?
    if [ "$rc" -eq 1 ] && [ -s "$TMP/err" ]; then
        pass "$rel"
    else
        fail "$rel" "accepted (exit $rc): $(head -c 200 "$TMP/out.json")"
    fi
done < <(find "$SUITE/invalid" -name '*.toml' | sort)

finish
