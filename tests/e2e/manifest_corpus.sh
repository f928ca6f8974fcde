#!/usr/bin/env bash
# The manifest corpus (tests/manifests/): every file is checked with `kiln check` and
# must do what its first line says — accepted (no warning), accepted with a named
# warning, refused as not servable by Kiln with a named feature, or rejected with a
# named error. Component sources are stand-ins (empty files made where the manifest
# points). Prints the counts.
source "$(dirname "$0")/../lib.sh"

accepted=0 warned=0 unserved=0 rejected=0
for f in "$ROOT"/tests/manifests/*.toml; do
    name=$(basename "$f" .toml)
    dir="$TMP/$name"
    mkdir -p "$dir"
    cp "$f" "$dir/spin.toml"
    head=$(head -1 "$f")
    kind=$(echo "$head" | awk '{print $3}')
    text=${head#"# kiln-corpus: $kind"}
    text=${text# }
    # make the missing sources (and `files` directories) the manifest names, then check
    for _ in 1 2 3; do
        err=$("$KILN" check -f "$dir" 2>&1 >/dev/null)
        rc=$?
        missing=$(echo "$err" | sed -n 's/.*source file "\([^"]*\)" does not exist.*/\1/p')
        dirs=$(echo "$err" | sed -n 's/.*files source "\([^"]*\)" does not exist.*/\1/p')
        [ -z "$missing$dirs" ] && break
        for p in $missing; do mkdir -p "$(dirname "$p")" && : >"$p"; done
        for p in $dirs; do mkdir -p "$p"; done
    done
    case "$kind" in
    accept)
        expect_eq "$name: accepted" "0" "$rc"
        expect_not_contains "$name: no warning" "warning:" "$err"
        [ "$rc" = 0 ] && accepted=$((accepted + 1))
        ;;
    warn)
        expect_eq "$name: accepted" "0" "$rc"
        expect_contains "$name: warns" "warning: " "$err"
        expect_contains "$name: names the feature" "$text" "$err"
        # once: the feature is named in one message only
        expect_eq "$name: one message" "1" "$(echo "$err" | grep -cF -- "$text")"
        [ "$rc" = 0 ] && warned=$((warned + 1))
        ;;
    unserved)
        expect_eq "$name: refused" "1" "$rc"
        expect_contains "$name: names the feature" "kiln up cannot serve this app: " "$err"
        expect_contains "$name: right message" "$text" "$err"
        expect_contains "$name: says the manifest is valid" "valid Spin manifest" "$err"
        expect_not_contains "$name: no error in the manifest" "error" "$(echo "$err" | grep -v 'kiln up cannot serve')"
        [ "$rc" = 1 ] && unserved=$((unserved + 1))
        ;;
    reject)
        expect_eq "$name: rejected" "1" "$rc"
        expect_contains "$name: right error" "$text" "$err"
        [ "$rc" = 1 ] && rejected=$((rejected + 1))
        ;;
    *) fail "$name: unknown expectation '$kind'" ;;
    esac
done
total=$(ls "$ROOT"/tests/manifests/*.toml | wc -l)
echo "manifest corpus: $total manifests: $accepted accepted, $warned accepted with a warning," \
    "$unserved refused as not servable (right message), $rejected rejected (right error)"
expect_eq "every manifest counted" "$total" "$((accepted + warned + unserved + rejected))"
finish
