#!/usr/bin/env bash
# kiln up serves Spin's data APIs to components (src/host/spin/), driven through the test
# handler tests/components/c-spin-data (which imports Spin's whole platform world): SQLite
# (typed results, bound parameters that keep an injection attempt as data, access-denied
# with a log line, the --sqlite migration from a file and a statement, a database of the
# runtime config, persistence across a restart), outbound Redis against a throwaway
# redis-server and PostgreSQL against a throwaway cluster (initdb in a temp dir):
# allowed_outbound_hosts checked before connecting (a denied address answers an error, is
# logged, and no connection reaches the server), typed results, bound parameters; and
# llm / mqtt / mysql answering Spin's errors for what is not granted or configured.
source "$(dirname "$0")/../lib.sh"

CORPUS="$KILN_BUILD/components"
if ! out=$("$ROOT/tests/components/build.sh" "$CORPUS" c-spin-data 2>&1); then
    fail "tests/components/build.sh builds c-spin-data" "$out"
    finish
    exit
fi
pass "tests/components/build.sh builds c-spin-data"

# kiln inspect: every import of Spin's platform world is served.
out=$("$KILN" inspect "$CORPUS/c-spin-data.wasm" 2>&1)
expect_not_contains "kiln inspect: every platform-world import is provided" "not provided" "$out"
expect_contains "... fermyon:spin/sqlite among them" "import fermyon:spin/sqlite@2.0.0;  // Kiln: provided" "$out"

# ---- the servers (skipped with a reason only when their binaries are missing) ----
RPORT=$(free_port)
PGPORT=$(free_port)
HAVE_REDIS=0
HAVE_PG=0
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
    redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$TMP" \
        >"$TMP/redis.log" 2>&1 &
    RPID=$!
    on_exit "kill $RPID 2>/dev/null"
    for _ in $(seq 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && HAVE_REDIS=1 && break; sleep 0.1; done
    [ $HAVE_REDIS = 1 ] || fail "redis-server starts" "$(tail -5 "$TMP/redis.log")"
else
    echo "up_spin_data: redis-server/redis-cli not installed: the Redis checks are skipped" >&2
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] && command -v psql >/dev/null; then
    PGDIR="$TMP/pg"
    mkdir -p "$PGDIR/data" "$PGDIR/sock"
    AS=()
    if [ "$(id -u)" = 0 ]; then
        chown -R postgres "$PGDIR"
        chmod 755 "$TMP"
        AS=(runuser -u postgres --)
    fi
    if "${AS[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U postgres >"$TMP/initdb.log" 2>&1 &&
        "${AS[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w start \
            -o "-p $PGPORT -k $PGDIR/sock -c listen_addresses=127.0.0.1 -c log_connections=on" \
            >"$TMP/pgctl.log" 2>&1; then
        HAVE_PG=1
        on_exit "${AS[*]} $PGBIN/pg_ctl -D $PGDIR/data -m immediate stop >/dev/null 2>&1"
    else
        fail "a throwaway PostgreSQL cluster starts" "$(tail -5 "$TMP/initdb.log" "$TMP/pgctl.log" "$PGDIR/log" 2>/dev/null)"
    fi
else
    echo "up_spin_data: PostgreSQL (initdb, psql) not installed: the PostgreSQL checks are skipped" >&2
fi

APP="$TMP/app"
mkdir -p "$APP"
cp "$CORPUS/c-spin-data.wasm" "$APP/"
cat >"$APP/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "spin-data"
[[trigger.http]]
route = "/a/..."
component = "data"
[[trigger.http]]
route = "/b/..."
component = "nodata"
[component.data]
source = "c-spin-data.wasm"
sqlite_databases = ["default", "other"]
allowed_outbound_hosts = ["redis://127.0.0.1:$RPORT", "postgres://127.0.0.1:$PGPORT", "mysql://db.example.com"]
[component.nodata]
source = "c-spin-data.wasm"
TOML
cat >"$APP/runtime.toml" <<'TOML'
[sqlite_database.other]
type = "spin"
path = "data/other.db"
TOML
cat >"$APP/migration.sql" <<'SQL'
CREATE TABLE IF NOT EXISTS pets (id INTEGER PRIMARY KEY, name TEXT NOT NULL, weight REAL, photo BLOB);
INSERT INTO pets (name, weight, photo) VALUES ('rex', 12.5, x'00ff'), ('tom', NULL, NULL);
SQL

start() {
    port=$(free_port)
    URL="http://127.0.0.1:$port"
    "$KILN" up -f "$APP" --listen "127.0.0.1:$port" --runtime-config-file "$APP/runtime.toml" "$@" \
        >>"$TMP/out.log" 2>>"$TMP/err.log" &
    PID=$!
    on_exit "kill -9 $PID 2>/dev/null"
    for _ in $(seq 300); do curl -fs "$URL/.well-known/kiln/health" >/dev/null && return; sleep 0.1; done
}
stop() { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }
post() { curl -s -m 30 --data-binary @- "$URL$1"; }

# A --sqlite statement that fails stops kiln up with the statement and SQLite's reason.
out=$("$KILN" up -f "$APP" --listen 127.0.0.1:1 --runtime-config-file "$APP/runtime.toml" \
    --sqlite "INSERT INTO nowhere VALUES (1)" 2>&1)
expect_contains "a failing --sqlite statement stops kiln up" "no such table: nowhere" "$out"

start --sqlite "@$APP/migration.sql" --sqlite "INSERT INTO pets (name) VALUES ('from-flag')"
err=$(cat "$TMP/err.log")
expect_not_contains "sqlite_databases is no longer reported as not served" "Kiln has no host API" "$err"
expect_contains "the startup log names the databases" \
    "sqlite database default at $APP/.kiln/sqlite_db.db, other at $APP/data/other.db" "$err"

# ---- SQLite ----
expect_eq "typed rows from the --sqlite migration" \
    "columns: id,name,weight,photo
integer(1) text(rex) real(12.5) blob(2:$(printf '\x00\xff' | tr -d '\0'))
integer(2) text(tom) null null
integer(3) text(from-flag) null null" \
    "$(printf 'SELECT id, name, weight, photo FROM pets ORDER BY id' | post /a/sql/default | tr -d '\0')"
expect_eq "bound parameters of every type" \
    "columns: i,r,t,b,n
integer(-7) real(2.25) text(hi there) blob(3:xyz) null" \
    "$(printf 'SELECT ?1 AS i, ?2 AS r, ?3 AS t, ?4 AS b, ?5 AS n\ni:-7\nr:2.25\nt:hi there\nb:xyz\nn' | post /a/sql/default)"
printf "INSERT INTO pets (name) VALUES (?1)\nt:x'); DROP TABLE pets; --" | post /a/sql/default >/dev/null
expect_eq "an injection attempt in a parameter stays data" \
    "columns: name
text(x'); DROP TABLE pets; --)" \
    "$(printf 'SELECT name FROM pets WHERE id = 4' | post /a/sql/default)"
expect_contains "two statements in one execute: io error" "error: io: Multiple statements provided" \
    "$(printf 'SELECT 1; DROP TABLE pets' | post /a/sql/default)"
expect_contains "a SQL error: io with SQLite's message" "error: io: no such table: nope" \
    "$(printf 'SELECT * FROM nope' | post /a/sql/default)"
expect_contains "ATTACH of a file is refused, as in Spin" "error: io: not authorized" \
    "$(printf "ATTACH DATABASE '$TMP/x.db' AS x" | post /a/sql/default)"
expect_eq "the runtime config's database is a separate file" "columns: " \
    "$(printf 'CREATE TABLE t (x)' | post /a/sql/other)"
test -f "$APP/data/other.db" && pass "... at its path" || fail "... at its path"
expect_eq "a label not granted: access-denied" "error: access-denied" \
    "$(printf 'SELECT 1' | post /a/sql/secret)"
expect_eq "a component granted nothing: access-denied for default" "error: access-denied" \
    "$(printf 'SELECT 1' | post /b/sql/default)"
expect_contains "access denied is logged with the component" \
    'component nodata: sqlite database "default" is not granted' "$(cat "$TMP/err.log")"

# persistence: the rows survive a restart (and the file is Spin's name in the state dir)
stop
start
expect_eq "the database survives a restart" "columns: n
integer(4)" "$(printf 'SELECT count(*) AS n FROM pets' | post /a/sql/default)"
if command -v sqlite3 >/dev/null; then
    expect_eq "sqlite_db.db is a plain SQLite file" "rex" \
        "$(sqlite3 "$APP/.kiln/sqlite_db.db" 'SELECT name FROM pets WHERE id = 1')"
fi

# ---- llm, mqtt, mysql: Spin's answers ----
expect_contains "llm: the model is not granted (Spin's ai_models message)" \
    "error: invalid-input: The component does not have access to use 'llama2-chat'" "$(printf '' | post /a/llm)"
expect_eq "mqtt without a grant: connection-failed, not permitted" \
    "error: connection-failed: address mqtt://broker.example.com:1883 is not permitted" \
    "$(printf 'mqtt://broker.example.com:1883' | post /a/mqtt)"
expect_contains "mysql with a grant: connection-failed naming that Kiln does not serve MySQL" \
    "error: connection-failed: Kiln does not serve MySQL" \
    "$(printf 'mysql://u:p@db.example.com/app' | post /a/mysql)"
# (key-value: access-denied; variables: undefined; an outgoing request without an authority
# is a self request, as in Spin: HTTP-request-denied without "http://self")
expect_eq "the other platform imports answer (key-value open, variables, outbound http)" \
    "kv: error 2
var: error 1
http: error 15" "$(printf '' | post /a/other)"

# ---- Redis ----
if [ $HAVE_REDIS = 1 ]; then
    R="redis://127.0.0.1:$RPORT"
    expect_eq "redis set/get/incr/del" "set: ok
get: some(v1)
incr: 1
incr: 2
del: 2
get: none" "$(printf "$R\nset k1 v1\nget k1\nincr n\nincr n\ndel k1 n\nget k1" | post /a/redis)"
    expect_eq "redis sets" "sadd: 2
smembers: a
srem: 1" "$(printf "$R\nsadd s a b\nsrem s b\nsmembers s" | post /a/redis | sort)"
    expect_eq "redis execute: typed, flattened results" "exec: status(OK)
exec: int64(5)
exec: binary(x) nil binary(5)" \
        "$(printf "$R\nexec SET q x\nexec INCRBY c i:5\nexec MGET q nope c" | post /a/redis)"
    expect_eq "the guest's data went to the server" "x" "$(redis-cli -p "$RPORT" get q)"
    expect_contains "a server error: other with its message" "error: other: ERR" \
        "$(printf "$R\nexec NOSUCHCOMMAND" | post /a/redis)"
    expect_eq "sadd on a string: type-error" "sadd: error: type-error" \
        "$(printf "$R\nsadd q m" | post /a/redis | tail -1)"
    expect_eq "publish" "publish: ok" "$(printf "$R\npublish ch hello" | post /a/redis)"
    before=$(redis-cli -p "$RPORT" info stats | tr -d '\r' | sed -n 's/^total_connections_received://p')
    expect_eq "a component without the grant: invalid-address" "error: invalid-address" \
        "$(printf "$R\nget q" | post /b/redis)"
    expect_eq "an address not granted: invalid-address" "error: invalid-address" \
        "$(printf "redis://localhost:$RPORT\nget q" | post /a/redis)"
    after=$(redis-cli -p "$RPORT" info stats | tr -d '\r' | sed -n 's/^total_connections_received://p')
    expect_eq "... and no connection reached redis-server (only redis-cli's own)" "$((before + 1))" "$after"
    expect_contains "the denial is logged with the component and the target" \
        "component nodata: redis://127.0.0.1:$RPORT is not in allowed_outbound_hosts" "$(cat "$TMP/err.log")"
fi

# ---- a key-value store of type "redis" (the runtime config), through c-spin-kv ----
if [ $HAVE_REDIS = 1 ]; then
    if out=$("$ROOT/tests/components/build.sh" "$CORPUS" c-spin-kv 2>&1); then
        KV="$TMP/kvapp"
        mkdir -p "$KV"
        cp "$CORPUS/c-spin-kv.wasm" "$KV/"
        cat >"$KV/spin.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "redis-kv"
[variables]
api_key = { default = "x" }
[[trigger.http]]
route = "/a/..."
component = "kv"
[component.kv]
source = "c-spin-kv.wasm"
key_value_stores = ["cache"]
TOML
        printf '[key_value_store.cache]\ntype = "redis"\nurl = "redis://127.0.0.1:%s/3"\n' "$RPORT" >"$KV/runtime.toml"
        kport=$(free_port)
        KURL="http://127.0.0.1:$kport"
        "$KILN" up -f "$KV" --listen "127.0.0.1:$kport" --runtime-config-file "$KV/runtime.toml" \
            >>"$TMP/kv.out" 2>>"$TMP/kv.err" &
        KPID=$!
        on_exit "kill -9 $KPID 2>/dev/null"
        for _ in $(seq 300); do curl -fs "$KURL/.well-known/kiln/health" >/dev/null && break; sleep 0.1; done
        expect_contains "the startup log names the redis store (never its password)" \
            "key-value store cache at redis 127.0.0.1:$RPORT" "$(cat "$TMP/kv.err")"
        kget() { curl -s -m 30 "$@"; }
        expect_eq "redis store: set" "ok" "$(kget -X PUT --data-binary 'hello' "$KURL/a/kv/cache/k1")"
        expect_eq "... lands in redis database 3 under the plain key" "hello" "$(redis-cli -p "$RPORT" -n 3 get k1)"
        expect_eq "redis store: get" "hello" "$(kget "$KURL/a/kv/cache/k1")"
        expect_eq "redis store: exists" "true" "$(kget "$KURL/a/exists/cache/k1")"
        expect_eq "redis store: increment (INCRBY)" "2" \
            "$(kget -X POST "$KURL/a/incr/cache/n" >/dev/null; kget -X POST "$KURL/a/incr/cache/n")"
        expect_eq "redis store: cas swaps an unchanged key" "swapped" \
            "$(kget -X POST --data-binary 'new' "$KURL/a/cas/cache/k1")"
        expect_eq "redis store: batch" "a=1 b=2" "$(kget -X POST "$KURL/a/batch/cache" | tr '\n' ' ' | sed 's/ $//')"
        expect_eq "redis store: get-keys" "b k1 n" "$(kget "$KURL/a/keys/cache" | tr '\n' ' ' | sed 's/ $//')"
        expect_eq "redis store: delete" "ok" "$(kget -X DELETE "$KURL/a/kv/cache/k1")"
        expect_eq "... gone from redis" "0" "$(redis-cli -p "$RPORT" -n 3 exists k1)"
        kill "$KPID" 2>/dev/null
        wait "$KPID" 2>/dev/null
    else
        fail "tests/components/build.sh builds c-spin-kv" "$out"
    fi
fi

# ---- PostgreSQL ----
if [ $HAVE_PG = 1 ]; then
    P="postgres://postgres@127.0.0.1:$PGPORT/postgres"
    expect_eq "pg execute: rows affected" "rows: 0" \
        "$(printf "$P\nCREATE TABLE items (id int4, big int8, small int2, name text, price float8, ok bool, data bytea, day date, at timestamp, n numeric)" | post /a/pg3/execute)"
    expect_eq "pg insert with bound parameters of every type" "rows: 1" \
        "$(printf "$P\nINSERT INTO items VALUES (\$1, \$2, \$3, \$4, \$5, \$6, \$7, \$8, '2024-02-29 13:14:15.5', 1.5)\ni32:7\ni64:9000000000\ni16:-3\ns:x'); DROP TABLE items; --\nf64:2.5\nbool:t\nb:raw\ndate:2024-02-29" | post /a/pg3/execute)"
    expect_eq "pg query: typed columns and values (numeric unsupported)" \
        "columns: id:int32,big:int64,small:int16,name:str,price:floating64,ok:boolean,data:binary,day:date,at:datetime,n:other
int32(7) int64(9000000000) int16(-3) str(x'); DROP TABLE items; --) floating64(2.5) boolean(true) binary(3:raw) date(2024-2-29) datetime(2024-2-29 13:14:15.500000000) unsupported" \
        "$(printf "$P\nSELECT * FROM items WHERE id = \$1\ni32:7" | post /a/pg3/query)"
    expect_eq "pg NULL parameter and value" "columns: x:str
db-null" "$(printf "$P\nSELECT \$1::text AS x\nnull" | post /a/pg3/query)"
    expect_eq "pg timestamp parameter (Unix seconds)" "columns: t:str
str(2001-09-09 01:46:40)" \
        "$(printf "$P\nSELECT to_char(\$1 AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS t\nts:1000000000" | post /a/pg3/query)"
    expect_contains "pg query error: query-failed with the server's message" \
        'error: query-failed: ERROR:  relation "nope" does not exist' \
        "$(printf "$P\nSELECT * FROM nope" | post /a/pg3/query)"
    expect_eq "fermyon:spin/postgres@2.0.0: unsigned parameter, typed values" "columns: id:int32,u:int64,name:str,day:other
int32(7) int64(4000000000) str(x'); DROP TABLE items; --) unsupported" \
        "$(printf "$P\nSELECT id, \$1 AS u, name, day FROM items\nu32:4000000000" | post /a/pg2/query)"
    conns() { grep -c "connection received: host=127.0.0.1" "$PGDIR/log"; }
    before=$(conns)
    expect_eq "pg: a component without the grant: connection-failed, not permitted" \
        "error: connection-failed: address postgres://127.0.0.1:$PGPORT is not permitted" \
        "$(printf "$P\nSELECT 1" | post /b/pg3/query)"
    expect_contains "pg: a host= override in the URL is checked too" "is not permitted" \
        "$(printf "postgres://127.0.0.1:$PGPORT/postgres?host=localhost\nSELECT 1" | post /a/pg3/query)"
    expect_contains "pg: a Unix socket is refused" "Unix sockets are not supported" \
        "$(printf "host=$PGDIR/sock port=$PGPORT user=postgres\nSELECT 1" | post /a/pg3/query)"
    expect_contains "pg: hostaddr= (an unchecked address) is refused" \
        "the connection option hostaddr is not supported" \
        "$(printf "$P?hostaddr=10.9.9.9\nSELECT 1" | post /a/pg3/query)"
    expect_contains "pg: sslkey= (a host file) is refused" "the connection option sslkey is not supported" \
        "$(printf "$P?sslkey=/etc/passwd\nSELECT 1" | post /a/pg3/query)"
    expect_eq "... and no connection reached PostgreSQL" "$before" "$(conns)"
fi

stop
finish
