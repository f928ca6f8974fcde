#!/usr/bin/env bash
# The layers' include rules (docs/architecture.md, "Layers and their files"):
#   src/server/  knows handlers only through exec/handler.h: no other exec/ header (WAGI,
#                CGI, executor), nothing from host/ or engine/ — except engine/fiber.h in
#                loop_sched.{c,h}, the bridge that implements the engine's scheduler
#                interface on an h2o loop
#   src/exec/    never includes a server/ header (unit tests may use the router as a
#                fixture: *_test.c are exempt)
#   src/host/    never includes server/ or exec/ headers
#   src/dist/    (registries, Spin's OCI layout) includes only util/, manifest/ and dist/
# One check per rule; a violation is printed as FILE:LINE: the include.
set -u
cd "$(dirname "$0")/../.."
pass=0
fail=0
# rule DESC FILES-GLOB... -- PATTERN [ALLOWED]: no line of FILES matches PATTERN (an
# extended regexp on #include lines) unless it also matches ALLOWED.
rule() {
    local desc=$1 pattern=$2 allowed=$3
    shift 3
    local files hits
    files=$(git ls-files "$@" 2>/dev/null)
    hits=$( [ -n "$files" ] && grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*\"($pattern)" $files |
        { if [ -n "$allowed" ]; then grep -vE "#[[:space:]]*include[[:space:]]*\"($allowed)\""; else cat; fi; })
    if [ -z "$hits" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "  FAIL $desc"
        printf '       %s\n' "$hits"
    fi
}
rule "src/server/ includes no exec/ header but exec/handler.h" 'exec/' 'exec/handler\.h' \
    'src/server/*.c' 'src/server/*.h'
rule "src/server/ includes nothing from host/ or engine/ (loop_sched: engine/fiber.h)" \
    'host/|engine/' '' $(git ls-files 'src/server/*.c' 'src/server/*.h' | grep -v 'loop_sched' |
    sed 's/^/:(literal)/')
rule "src/server/loop_sched includes only engine/fiber.h of the engine" 'host/|engine/' \
    'engine/fiber\.h' 'src/server/loop_sched.c' 'src/server/loop_sched.h'
rule "src/exec/ includes no server/ header (tests exempt)" 'server/' '' \
    'src/exec/*.h' $(git ls-files 'src/exec/*.c' | grep -v '_test\.c$' | sed 's/^/:(literal)/')
rule "src/host/ includes no server/ or exec/ header" 'server/|exec/' '' \
    'src/host/*.c' 'src/host/*.h'
rule "src/dist/ includes only util/, manifest/ and dist/ headers" '[a-z_]+/' \
    '(util|manifest|dist)/[a-z_]+\.h' 'src/dist/*.c' 'src/dist/*.h'
echo "layers: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
