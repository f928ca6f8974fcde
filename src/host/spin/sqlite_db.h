/* sqlite_db.h — the SQLite databases of fermyon:spin/sqlite@2.0.0 (design: spin.h).
 *
 * A database (kiln_sqldb_open) is the application's handle on a file (or memory): the
 * --sqlite statements run on it. Each guest connection.open gets a connection of its own
 * (kiln_sqldb_connect), as Spin's in-process backend (crates/sqlite-inproc) opens one per
 * open, so that one guest's transaction never takes in another's statements; an in-memory
 * database has only the one connection, shared (Spin would give each open a new, empty
 * memory database). Each connection is behind a mutex. Every call blocks: call it
 * through kiln_offload from a guest.
 * Statements run with their parameters bound by sqlite3_bind_* (never put into the text);
 * ATTACH of a file is refused (Spin's allow_attach_file = false). Results are typed as
 * SQLite stored them: integer, real, text, blob, null (Spin's value variant, in its order).
 * A result larger than KILN_SQL_MAX_RESULT bytes is refused (Spin's MAX_HOST_BUFFERED_BYTES). */
#ifndef KILN_HOST_SPIN_SQLITE_DB_H
#define KILN_HOST_SPIN_SQLITE_DB_H

#include <stddef.h>
#include <stdint.h>

#define KILN_SQL_MAX_RESULT (128u << 20)

/* The cases of Spin's value variant, in its order. */
enum { KILN_SQL_INTEGER, KILN_SQL_REAL, KILN_SQL_TEXT, KILN_SQL_BLOB, KILN_SQL_NULL };

typedef struct kiln_sql_value {
    int kind;
    int64_t i;
    double r;
    const uint8_t *p; /* text (not NUL-terminated) / blob bytes */
    size_t n;
} kiln_sql_value;

/* A query's answer: column names (NUL-terminated) and nrows * ncols values (row-major); the bytes
 * of names, texts and blobs live in data. kiln_sql_result_free releases it. */
typedef struct kiln_sql_result {
    size_t ncols, nrows;
    char **cols;
    size_t *col_lens;
    kiln_sql_value *vals;
    uint8_t *data;
} kiln_sql_result;
void kiln_sql_result_free(kiln_sql_result *r);

typedef struct kiln_sqldb kiln_sqldb;

/* Opens (creating it and its directory's file if needed) the database at path; NULL: a
 * new database in memory. NULL with *err (kiln_malloc'd). */
kiln_sqldb *kiln_sqldb_open(const char *path, char **err);
void kiln_sqldb_close(kiln_sqldb *d);
/* A connection of its own to d's file for one guest connection (d itself for an in-memory
 * database). NULL with *err (kiln_malloc'd). */
kiln_sqldb *kiln_sqldb_connect(kiln_sqldb *d, char **err);
/* Closes a connection of kiln_sqldb_connect (an open transaction rolls back); nothing for
 * the shared in-memory one. */
void kiln_sqldb_disconnect(kiln_sqldb *c);

/* Runs ONE statement (sql, len bytes; trailing spaces, ';' and comments allowed, a second
 * statement refused as rusqlite does) with params bound in order (?1, ?2, ...) and
 * answers every row in *out. 0, or -1 with *err (kiln_malloc'd: SQLite's message). */
int kiln_sqldb_query(kiln_sqldb *d, const char *sql, size_t len, const kiln_sql_value *params,
                     size_t nparams, kiln_sql_result *out, char **err);
/* Runs every statement of sql (a NUL-terminated script: a migration). 0, or -1 with *err. */
int kiln_sqldb_exec(kiln_sqldb *d, const char *sql, char **err);
/* The rowid of d's last successful INSERT (0: none yet), and the rows its last INSERT,
 * UPDATE or DELETE changed: SQLite's sqlite3_last_insert_rowid and sqlite3_changes64 on
 * d's own connection (kiln_sqldb_connect's, used by one guest at a time). */
int64_t kiln_sqldb_last_rowid(kiln_sqldb *d);
uint64_t kiln_sqldb_changes(kiln_sqldb *d);

#endif
