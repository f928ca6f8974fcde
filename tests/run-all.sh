#!/usr/bin/env bash
# The whole test suite: C unit tests, end-to-end tests against the real binary, and the
# external suites in ../shared/testsuites. Prints one line per test group and a total
# "N passed, N failed" line; exits non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."
export KILN_BUILD=${KILN_BUILD:-build}
log=$(mktemp)
rc=0
run() {
    # run CMD...: stream its output, remember it for the summary.
    "$@" 2>&1 | tee -a "$log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
}
echo "== unit tests"
run tests/run-unit.sh "$KILN_BUILD"
echo "== end-to-end tests"
run tests/run-e2e.sh "$KILN_BUILD"
echo "== style"
for s in tests/style/*.sh; do
    run bash "$s"
done
echo "== external suites"
for s in tests/suites/*.sh; do
    [ -e "$s" ] || continue
    run bash "$s"
done
read -r p f < <(grep -E '^[A-Za-z0-9_ ./-]+: [0-9]+ passed, [0-9]+ failed' "$log" |
    sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/' | awk '{p+=$1; f+=$2} END {print p+0, f+0}')
rm -f "$log"
echo
echo "total: ${p:-0} passed, ${f:-0} failed"
[ "${f:-0}" -eq 0 ] && [ "$rc" -eq 0 ] || exit 1
