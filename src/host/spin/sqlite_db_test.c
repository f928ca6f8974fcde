/* sqlite_db_test.c — the SQLite databases of fermyon:spin/sqlite: typed results, bound
 * parameters (an injection attempt stays data), one statement per query, ATTACH refused,
 * scripts, a file read back after reopening, last-insert-rowid and changes, and the conversion of
 * parameters and rows to and from component values. */
#include "component/cabi.h"
#include "host/spin/sqlite_conv.h"
#include "host/spin/sqlite_db.h"
#include "util/alloc.h"
#include "util/test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static kiln_sql_value text(const char *s)
{
    kiln_sql_value v = {KILN_SQL_TEXT, 0, 0, (const uint8_t *)s, strlen(s)};
    return v;
}

/* Runs sql with params; the error text (static) or NULL on success. */
static const char *query(kiln_sqldb *d, const char *sql, const kiln_sql_value *p, size_t n,
                         kiln_sql_result *r)
{
    static char msg[512];
    char *err = NULL;
    if (kiln_sqldb_query(d, sql, strlen(sql), p, n, r, &err) == 0) return NULL;
    snprintf(msg, sizeof msg, "%s", err ? err : "?");
    kiln_free(err);
    return msg;
}

static void typed(kiln_sqldb *d)
{
    kiln_sql_result r;
    CHECK(!query(d, "CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n)", NULL, 0, &r));
    CHECK_INT(r.ncols, 0);
    kiln_sql_result_free(&r);
    kiln_sql_value p[5] = {{KILN_SQL_INTEGER, -42, 0, NULL, 0},
                           {KILN_SQL_REAL, 0, 2.5, NULL, 0},
                           text("x'); DROP TABLE t; --"),
                           {KILN_SQL_BLOB, 0, 0, (const uint8_t *)"\0\1\2", 3},
                           {KILN_SQL_NULL, 0, 0, NULL, 0}};
    CHECK(!query(d, "INSERT INTO t VALUES (?, ?, ?, ?, ?)", p, 5, &r));
    kiln_sql_result_free(&r);
    CHECK(!query(d, "SELECT i, r, s, b, n AS nada FROM t", NULL, 0, &r));
    CHECK_INT(r.ncols, 5);
    CHECK_INT(r.nrows, 1);
    if (r.ncols == 5 && r.nrows == 1) {
        CHECK_STR(r.cols[4], "nada");
        CHECK_INT(r.vals[0].kind, KILN_SQL_INTEGER);
        CHECK_INT(r.vals[0].i, -42);
        CHECK_INT(r.vals[1].kind, KILN_SQL_REAL);
        CHECK(r.vals[1].r == 2.5);
        CHECK_INT(r.vals[2].kind, KILN_SQL_TEXT);
        CHECK(r.vals[2].n == 21 && memcmp(r.vals[2].p, "x'); DROP TABLE t; --", 21) == 0);
        CHECK_INT(r.vals[3].kind, KILN_SQL_BLOB);
        CHECK(r.vals[3].n == 3 && memcmp(r.vals[3].p, "\0\1\2", 3) == 0);
        CHECK_INT(r.vals[4].kind, KILN_SQL_NULL);
    }
    kiln_sql_result_free(&r);
    /* the injection attempt stayed data: the table is still there */
    CHECK(!query(d, "SELECT count(*) FROM t", NULL, 0, &r));
    CHECK(r.nrows == 1 && r.vals[0].i == 1);
    kiln_sql_result_free(&r);
}

static void refusals(kiln_sqldb *d)
{
    kiln_sql_result r;
    CHECK_STR(query(d, "SELECT 1; SELECT 2", NULL, 0, &r), "Multiple statements provided");
    CHECK(!query(d, "SELECT 1; -- a comment\n ;", NULL, 0, &r));
    kiln_sql_result_free(&r);
    kiln_sql_value one = {KILN_SQL_INTEGER, 1, 0, NULL, 0};
    CHECK_STR(query(d, "SELECT ?1, ?2", &one, 1, &r),
              "Wrong number of parameters passed to query. Got 1, needed 2");
    const char *e = query(d, "SELECT nope FROM nowhere", NULL, 0, &r);
    CHECK(e && strstr(e, "no such table"));
    e = query(d, "ATTACH DATABASE '/tmp/kiln-attach-test.db' AS other", NULL, 0, &r);
    CHECK(e && strstr(e, "not authorized"));
    CHECK(!query(d, "ATTACH DATABASE ':memory:' AS scratch", NULL, 0, &r));
    kiln_sql_result_free(&r);
}

/* A script, then the file reopened: the rows are there. */
static void file_and_script(void)
{
    char dir[] = "/tmp/kiln-sqldb-test-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/sqlite_db.db", dir);
    char *err = NULL;
    kiln_sqldb *d = kiln_sqldb_open(path, &err);
    CHECK(d != NULL);
    if (!d) return;
    CHECK(kiln_sqldb_exec(d, "CREATE TABLE m (k TEXT); INSERT INTO m VALUES ('a'), ('b');", &err) ==
          0);
    CHECK(kiln_sqldb_exec(d, "INSERT INTO nowhere VALUES (1)", &err) == -1);
    CHECK(err && strstr(err, "no such table"));
    kiln_free(err);
    kiln_sqldb_close(d);
    d = kiln_sqldb_open(path, &err);
    kiln_sql_result r;
    CHECK(d && !query(d, "SELECT k FROM m ORDER BY k", NULL, 0, &r));
    CHECK_INT(r.nrows, 2);
    kiln_sql_result_free(&r);
    /* two guest connections: one's open transaction is not the other's */
    kiln_sqldb *c1 = d ? kiln_sqldb_connect(d, &err) : NULL,
               *c2 = d ? kiln_sqldb_connect(d, &err) : NULL;
    CHECK(c1 && c2 && c1 != d && c2 != c1);
    if (c1 && c2) {
        CHECK(!query(c1, "BEGIN", NULL, 0, &r));
        kiln_sql_result_free(&r);
        CHECK(!query(c1, "INSERT INTO m VALUES ('c')", NULL, 0, &r));
        kiln_sql_result_free(&r);
        CHECK(!query(c2, "SELECT count(*) FROM m", NULL, 0, &r));
        CHECK(r.nrows == 1 && r.vals[0].i == 2); /* not the uncommitted row */
        kiln_sql_result_free(&r);
        kiln_sqldb_disconnect(c1); /* rolls back */
        CHECK(!query(c2, "SELECT count(*) FROM m", NULL, 0, &r));
        CHECK(r.nrows == 1 && r.vals[0].i == 2);
        kiln_sql_result_free(&r);
    } else {
        kiln_sqldb_disconnect(c1);
    }
    kiln_sqldb_disconnect(c2);
    kiln_sqldb_close(d);
    unlink(path);
    rmdir(dir);
}

/* Parameters from component values and a result to component values. */
static void conversion(kiln_sqldb *d)
{
    kiln_cabi_cx cx;
    CHECK(kiln_cabi_cx_init(&cx) == 0);
    kiln_cval payload[3], items[4], list;
    payload[0].s = 7;
    payload[1].f64 = 1.5;
    payload[2].str.ptr = "hi";
    payload[2].str.len = 2;
    for (int i = 0; i < 3; i++) {
        items[i].var.disc = (uint32_t)(i == 2 ? KILN_SQL_TEXT : i);
        items[i].var.payload = &payload[i];
    }
    items[3].var.disc = KILN_SQL_NULL;
    items[3].var.payload = NULL;
    list.agg.items = items;
    list.agg.n = 4;
    size_t n = 0;
    kiln_sql_value *p = spin_sql_params(&cx, &list, &n);
    CHECK(p && n == 4);
    kiln_sql_result r;
    CHECK(p && !query(d, "SELECT ?1 AS a, ?2 AS b, ?3 AS c, ?4 AS d UNION ALL SELECT 1, 2, 3, 4", p,
                      n, &r));
    kiln_cval *v = spin_sql_result(&cx, &r);
    CHECK(v != NULL);
    if (v) {
        kiln_cval *cols = &v->agg.items[0], *rows = &v->agg.items[1];
        CHECK_INT(v->agg.n, 2);
        CHECK_INT(cols->agg.n, 4);
        CHECK(cols->agg.items[2].str.len == 1 && cols->agg.items[2].str.ptr[0] == 'c');
        CHECK_INT(rows->agg.n, 2);
        kiln_cval *row0 = &rows->agg.items[0].agg.items[0];
        CHECK_INT(row0->agg.n, 4);
        CHECK_INT(row0->agg.items[0].var.disc, KILN_SQL_INTEGER);
        CHECK_INT(row0->agg.items[0].var.payload->s, 7);
        CHECK_INT(row0->agg.items[1].var.disc, KILN_SQL_REAL);
        CHECK(row0->agg.items[1].var.payload->f64 == 1.5);
        CHECK_INT(row0->agg.items[2].var.disc, KILN_SQL_TEXT);
        CHECK(row0->agg.items[2].var.payload->str.len == 2 &&
              memcmp(row0->agg.items[2].var.payload->str.ptr, "hi", 2) == 0);
        CHECK_INT(row0->agg.items[3].var.disc, KILN_SQL_NULL);
        CHECK(row0->agg.items[3].var.payload == NULL);
        kiln_cval *row1 = &rows->agg.items[1].agg.items[0];
        CHECK_INT(row1->agg.items[3].var.disc, KILN_SQL_INTEGER);
        CHECK_INT(row1->agg.items[3].var.payload->s, 4);
    }
    kiln_sql_result_free(&r);
    kiln_cabi_cx_free(&cx);
}

/* spin:sqlite@3's last-insert-rowid and changes: the connection's last INSERT and the
 * rows its last change touched. */
static void rowid_changes(kiln_sqldb *d)
{
    kiln_sql_result r;
    CHECK(!query(d, "CREATE TABLE rc (v TEXT)", NULL, 0, &r));
    kiln_sql_result_free(&r);
    for (int i = 0; i < 3; i++) {
        CHECK(!query(d, "INSERT INTO rc (v) VALUES ('x')", NULL, 0, &r));
        kiln_sql_result_free(&r);
    }
    CHECK(kiln_sqldb_last_rowid(d) == 3);
    CHECK(kiln_sqldb_changes(d) == 1);
    CHECK(!query(d, "UPDATE rc SET v = 'y'", NULL, 0, &r));
    kiln_sql_result_free(&r);
    CHECK(kiln_sqldb_changes(d) == 3);
    CHECK(kiln_sqldb_last_rowid(d) == 3);
}

int main(void)
{
    char *err = NULL;
    kiln_sqldb *d = kiln_sqldb_open(NULL, &err);
    CHECK(d != NULL);
    if (!d) return test_finish("sqlite_db_test");
    CHECK(kiln_sqldb_connect(d, &err) == d); /* in memory: the one shared connection */
    typed(d);
    refusals(d);
    conversion(d);
    rowid_changes(d);
    kiln_sqldb_close(d);
    file_and_script();
    return test_finish("sqlite_db_test");
}
