#!/usr/bin/env bash
# Runs every end-to-end test script in tests/e2e.
set -u
export KILN_BUILD=${1:-${KILN_BUILD:-build}}
rc=0
for t in "$(dirname "$0")"/e2e/*.sh; do
    [ -e "$t" ] || continue
    bash "$t" || rc=1
done
exit $rc
