#!/usr/bin/env bash
# The C SDK's kiln_sql_query (sdk/c/kiln_host.c over fermyon:spin/sqlite@2.0.0):
# tests/sdk/sql_handler.c built with the SDK and kiln-componentize.sh (which adds Spin's
# sqlite interface to the world because the module imports it), served by kiln up on a
# database made with --sqlite. Text, real and blob parameters are bound (a body full of SQL
# and quotes is stored as is and found again), integer/text/real/blob results come back
# typed, rows persist across requests, an SQL error and a database not granted are errors
# with kiln_error()'s message.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/helpers/example.sh"

mkdir -p "$TMP/app/target"
if ! { clang --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Werror -I"$ROOT/sdk/c" -mexec-model=reactor \
    -o "$TMP/app/target/core.wasm" "$ROOT/tests/sdk/sql_handler.c" "$ROOT/sdk/c/kiln.c" \
    "$ROOT/sdk/c/kiln_http.c" "$ROOT/sdk/c/kiln_host.c" &&
    sh "$ROOT/sdk/c/kiln-componentize.sh" "$TMP/app/target/core.wasm" "$TMP/app/target/sql.wasm"; } \
    >"$TMP/build.out" 2>&1; then
    fail "tests/sdk/sql_handler.c builds into a component" "$(tail -n 20 "$TMP/build.out")"
    finish
    exit
fi
pass "tests/sdk/sql_handler.c builds into a component"
expect_contains "the component imports fermyon:spin/sqlite@2.0.0" "fermyon:spin/sqlite@2.0.0" \
    "$("$KILN" inspect "$TMP/app/target/sql.wasm" 2>&1)"
cat >"$TMP/app/kiln.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "sql"
[[trigger.http]]
route = "/..."
component = "sql"
[component.sql]
source = "target/sql.wasm"
sqlite_databases = ["default"]
TOML
APP="$TMP/app"
if example_up --state-dir "$TMP/state" \
    --sqlite "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT, score REAL, raw BLOB)"; then
    http POST "/add?score=4.5" --data-binary "first note"
    expect_eq "POST /add: 200" 200 "$STATUS"
    expect_eq "POST /add: the new id" 1 "$BODY"
    tricky="it's'; DROP TABLE notes; --"
    http POST "/add?score=-1.25" --data-binary "$tricky"
    expect_eq "POST /add with SQL in the body: id 2" 2 "$BODY"
    http GET /list
    expect_eq "GET /list: typed values, the SQL stored as text" \
        "1|first note|4.50|3|4
2|$tricky|-1.25|3|4
columns=4 rows=2" "$BODY"
    http GET "/find?q=it%27s%27%3B%20DROP%20TABLE%20notes%3B%20--"
    expect_eq "GET /find with a bound parameter" "found 1: 2" "$BODY"
    http GET "/find?q=nothing"
    expect_eq "GET /find of nothing: no rows" "found 0:" "$BODY"
    http GET /bad
    expect_eq "an SQL error: 500" 500 "$STATUS"
    expect_contains "an SQL error names it" "sqlite: io: " "$BODY"
    expect_contains "an SQL error says what" "no_such_table" "$BODY"
    http GET /other
    expect_contains "a database not granted: access-denied" "sqlite: access-denied" "$BODY"
    example_down
fi
# The rows are in the database file: a restart finds them.
if example_up --state-dir "$TMP/state"; then
    http GET /list
    expect_contains "after a restart the rows are there" "columns=4 rows=2" "$BODY"
fi
finish
