#!/usr/bin/env bash
# Runs every C unit test binary in BUILD/tests; each prints "NAME: N passed, N failed".
set -u
BUILD=${1:-build}
rc=0
while IFS= read -r t; do
    "$t" || rc=1
done < <(find "$BUILD/tests" -type f -name '*_test' | sort)
exit $rc
