#!/usr/bin/env bash
# Every C file of Kiln follows the repo's .clang-format: one check per file, so a drifted
# file is named (fix: clang-format -i FILE).
set -u
cd "$(dirname "$0")/../.."
pass=0
fail=0
for f in $(git ls-files 'src/*.c' 'src/*.h' 'sdk/c/*.c' 'sdk/c/*.h' 2>/dev/null); do
    if clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "  FAIL $f is not clang-formatted (run: clang-format -i $f)"
    fi
done
echo "format: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
