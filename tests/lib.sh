# Shared helpers for Kiln's shell tests. Source it; then call check/expect_* and
# finally `finish`, which prints "NAME: N passed, N failed" and sets the exit status.
# Environment: KILN_BUILD (default build), KILN (the binary), ROOT (repo root),
# SHARED (../shared/testsuites), TMP (a private temp dir removed at exit).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KILN_BUILD=${KILN_BUILD:-build}
case "$KILN_BUILD" in /*) ;; *) KILN_BUILD="$ROOT/$KILN_BUILD" ;; esac
KILN="$KILN_BUILD/kiln"
SHARED=${KILN_SHARED:-$(cd "$ROOT/.." && pwd)/shared/testsuites}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kiln-test.XXXXXX")
export KILN_CACHE_DIR=${KILN_CACHE_DIR:-$KILN_BUILD/test-cache}
mkdir -p "$KILN_CACHE_DIR"
_passed=0
_failed=0
_name=$(basename "$0" .sh)
_cleanup_hooks=()
_cleanup() {
    for h in "${_cleanup_hooks[@]}"; do eval "$h" || true; done
    rm -rf "$TMP"
}
trap _cleanup EXIT
on_exit() { _cleanup_hooks+=("$1"); }

pass() { _passed=$((_passed + 1)); [ -n "${VERBOSE:-}" ] && echo "  ok   $1"; return 0; }
fail() { _failed=$((_failed + 1)); echo "  FAIL $1" >&2; [ $# -gt 1 ] && printf '       %s\n' "${@:2}" >&2; return 0; }

# check DESC CMD...      passes when CMD exits 0
check() { local d=$1; shift; if "$@" >/dev/null 2>&1; then pass "$d"; else fail "$d" "command failed: $*"; fi; }
# expect_eq DESC WANT GOT
expect_eq() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "want: $(printf %q "$2")" "got:  $(printf %q "$3")"; fi; }
# expect_contains DESC NEEDLE HAYSTACK
expect_contains() { case "$3" in *"$2"*) pass "$1" ;; *) fail "$1" "want to contain: $2" "got: ${3:0:400}" ;; esac; }
expect_not_contains() { case "$3" in *"$2"*) fail "$1" "must not contain: $2" "got: ${3:0:400}" ;; *) pass "$1" ;; esac; }

# free_port: a TCP port that nothing listens on right now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

finish() {
    echo "$_name: $_passed passed, $_failed failed"
    [ "$_failed" -eq 0 ] && [ "$_passed" -gt 0 ]
}
