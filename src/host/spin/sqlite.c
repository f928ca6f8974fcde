/* sqlite.c — fermyon:spin/sqlite@2.0.0 and spin:sqlite/sqlite@3.1.0 (spin.h):
 * connection.open(label) and connection.execute(statement, parameters), on the application's
 * databases (sqlite_db.h): each open gets a connection of its own (kiln_sqldb_connect), closed when
 * the guest drops it (an open transaction rolls back). Opening and every statement run
 * through kiln_offload: the guest's fiber parks while a pool thread does the SQLite work. */
#include "engine/fiber.h"
#include "host/spin/data.h"
#include "host/spin/spin.h"
#include "host/spin/sqlite_conv.h"
#include "util/alloc.h"

#include <stdio.h>
#include <string.h>

/* The cases of Spin's sqlite error variant. */
enum { E_NO_SUCH_DATABASE, E_ACCESS_DENIED, E_INVALID_CONNECTION, E_DATABASE_FULL, E_IO };

typedef struct conn_job {
    kiln_sqldb *db, *conn;
    char *err;
} conn_job;

static void connect_job(void *arg)
{
    conn_job *j = arg;
    j->conn = kiln_sqldb_connect(j->db, &j->err);
}

static int sql_open(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    const spin_component *comp = spin_ctx_component(ctx);
    kiln_sqldb *db = NULL;
    int found = comp ? spin_component_sqlite(comp, args[0].str.ptr, args[0].str.len, &db) : -1;
    if (found < 0) {
        spin_log_denied(ctx, "sqlite database", args[0].str.ptr, args[0].str.len);
        return spin_err_case(cx, &res[0], E_ACCESS_DENIED);
    }
    if (found == 0 || !db) return spin_err_case(cx, &res[0], E_NO_SUCH_DATABASE);
    spin_data *d = spin_ctx_data(ctx);
    kiln_cval *h = kiln_cabi_alloc(cx, sizeof *h);
    if (!d || !h) return spin_oom(cx);
    long i = spin_slot_free((void *const *)d->sql, SPIN_MAX_CONNS);
    if (i < 0) return spin_err_str(cx, &res[0], E_IO, "too many connections opened");
    /* a connection of this open's own (opening the file may block: off the loop) */
    conn_job j = {db, NULL, NULL};
    kiln_offload(connect_job, &j);
    if (!j.conn) {
        int rc = spin_err_str(cx, &res[0], E_IO, "%s", j.err ? j.err : "cannot open");
        kiln_free(j.err);
        return rc;
    }
    d->sql[i] = j.conn;
    h->res.rep = (uint32_t)i + 1;
    res[0].var.disc = 0;
    res[0].var.payload = h;
    return 0;
}

static kiln_sqldb **conn_of(void *ctx, uint32_t rep)
{
    spin_data *d = spin_ctx_data(ctx);
    if (!d || rep == 0 || rep > SPIN_MAX_CONNS || !d->sql[rep - 1]) return NULL;
    return &d->sql[rep - 1];
}

static void conn_dtor(void *ctx, uint32_t rep)
{
    kiln_sqldb **db = conn_of(ctx, rep);
    if (!db) return;
    kiln_sqldb_disconnect(*db);
    *db = NULL;
}

typedef struct sql_job {
    kiln_sqldb *db;
    const char *sql;
    size_t len;
    const kiln_sql_value *params;
    size_t nparams;
    kiln_sql_result out;
    int rc;
    char *err;
} sql_job;

static void run_job(void *arg)
{
    sql_job *j = arg;
    j->rc = kiln_sqldb_query(j->db, j->sql, j->len, j->params, j->nparams, &j->out, &j->err);
}

/* Runs the statement of execute's args on its connection: 0 with j->rc set (j->out, or
 * j->err, for the caller to free), or 1 when results[0] was set to an error (unknown
 * connection), or -1 (trap). */
static int sql_run(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res, sql_job *j)
{
    kiln_sqldb **db = conn_of(ctx, args[0].res.rep);
    if (!db) return spin_err_case(cx, &res[0], E_INVALID_CONNECTION) < 0 ? -1 : 1;
    *j = (sql_job){*db, args[1].str.ptr, args[1].str.len, NULL, 0, {0}, 0, NULL};
    if (!(j->params = spin_sql_params(cx, &args[2], &j->nparams))) return spin_oom(cx);
    kiln_offload(run_job, j);
    return 0;
}

static int sql_execute(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    sql_job j;
    int ran = sql_run(ctx, cx, args, res, &j);
    if (ran) return ran < 0 ? -1 : 0;
    int rc;
    if (j.rc < 0) {
        rc = spin_err_str(cx, &res[0], E_IO, "%s", j.err ? j.err : "failed");
    } else {
        kiln_cval *qr = spin_sql_result(cx, &j.out);
        rc = qr ? 0 : spin_oom(cx);
        res[0].var.disc = 0;
        res[0].var.payload = qr;
    }
    kiln_free(j.err);
    kiln_sql_result_free(&j.out);
    return rc;
}

#define VALUE "variant{integer(s64), real(f64), text(string), blob(list<u8>), null}"
#define ERR                                                                                        \
    "variant{no-such-database, access-denied, invalid-connection, database-full, io(string)}"
static const kiln_chost_resource sql_res[] = {{"connection", conn_dtor}};
static const kiln_chost_func sql_funcs[] = {
    {"[static]connection.open", "(string) -> result<own<connection>, " ERR ">", sql_open},
    {"[method]connection.execute",
     "(borrow<connection>, string, list<" VALUE ">) -> result<record{columns: list<string>, "
     "rows: list<record{values: list<" VALUE ">}>}, " ERR ">",
     sql_execute},
};
const kiln_chost_iface kiln_spin_sqlite_iface = {
    "fermyon:spin/sqlite", "2.0.0", sql_res, 1, sql_funcs, 2};

/* ---- spin:sqlite/sqlite@3.1.0 (serves 3.0.0 imports too) ----
 * Spin 3's package: 2.0.0's open and execute, the connection's last-insert-rowid and
 * changes, and (3.1.0) their `async func` twins. execute-async runs the statement whole,
 * like execute, then answers the columns, a stream of the rows (handed out as the guest
 * reads; the result is kept until then, freed with the instance at the latest) and a
 * future resolved ok. */

struct spin_rows {
    spin_rows *next;
    spin_data *d;
    kiln_sql_result out;
    size_t at; /* the next row to give */
};

void spin_rows_free(spin_rows *r)
{
    spin_rows **pp = &r->d->rows;
    while (*pp && *pp != r)
        pp = &(*pp)->next;
    if (*pp) *pp = r->next;
    kiln_sql_result_free(&r->out);
    kiln_free(r);
}

static void rows_dropped(void *arg)
{
    spin_rows_free(arg);
}

/* The next rows, converted into the reader's arena; at the end r is freed. */
static size_t rows_values(void *arg, kiln_cabi_cx *cx, kiln_cval *vals, size_t n, int *end)
{
    spin_rows *r = arg;
    size_t k = r->out.nrows - r->at < n ? r->out.nrows - r->at : n;
    if (k) {
        kiln_sql_result view = r->out;
        view.nrows = k;
        view.vals = r->out.vals + r->at * r->out.ncols;
        kiln_cval *rec = spin_sql_result(cx, &view);
        if (!rec) return 0; /* out of memory: the read stays pending */
        for (size_t i = 0; i < k; i++)
            vals[i] = rec[2].agg.items[i];
        r->at += k;
        return k;
    }
    *end = 1;
    spin_rows_free(r);
    return 0;
}

static int sql_execute_async(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    sql_job j;
    int ran = sql_run(ctx, cx, args, res, &j);
    if (ran) return ran < 0 ? -1 : 0;
    if (j.rc < 0) {
        int rc = spin_err_str(cx, &res[0], E_IO, "%s", j.err ? j.err : "failed");
        kiln_free(j.err);
        kiln_sql_result_free(&j.out);
        return rc;
    }
    kiln_free(j.err);
    spin_data *d = spin_ctx_data(ctx);
    spin_rows *r = d ? kiln_calloc(1, sizeof *r) : NULL;
    kiln_cval *three = kiln_cabi_alloc(cx, 3 * sizeof *three);
    kiln_cval *cols = spin_sql_result(
        cx, &(kiln_sql_result){j.out.ncols, 0, j.out.cols, j.out.col_lens, NULL, NULL});
    if (!r || !three || !cols) {
        kiln_free(r);
        kiln_sql_result_free(&j.out);
        return spin_oom(cx);
    }
    memset(three, 0, 3 * sizeof *three);
    r->out = j.out; /* taken over */
    r->d = d;
    r->next = d->rows;
    d->rows = r;
    three[0] = cols[1];
    kiln_chost_stream_ops ops = {NULL, NULL, rows_dropped, r};
    if (!kiln_chost_stream_values(cx, &three[1], rows_values, &ops)) {
        spin_rows_free(r);
        return -1;
    }
    kiln_chost_future *f = kiln_chost_future_writer(cx, &three[2]);
    kiln_cval ok;
    memset(&ok, 0, sizeof ok); /* ok(()) */
    if (!f || kiln_chost_future_resolve(f, &ok) < 0) return -1;
    kiln_cval *t = kiln_cabi_alloc(cx, sizeof *t);
    if (!t) return spin_oom(cx);
    t->agg.items = three;
    t->agg.n = 3;
    res[0].var.disc = 0;
    res[0].var.payload = t;
    return 0;
}

static int sql_rowid(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_sqldb **db = conn_of(ctx, args[0].res.rep);
    res[0].s = db ? kiln_sqldb_last_rowid(*db) : 0;
    return 0;
}

static int sql_changes(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_sqldb **db = conn_of(ctx, args[0].res.rep);
    res[0].u = db ? kiln_sqldb_changes(*db) : 0;
    return 0;
}

#define EXECUTE_ARGS "(borrow<connection>, string, list<" VALUE ">) -> result<"
static const kiln_chost_func sql3_funcs[] = {
    {"[static]connection.open", "(string) -> result<own<connection>, " ERR ">", sql_open},
    {"[static]connection.open-async", "(string) -> result<own<connection>, " ERR ">", sql_open},
    {"[method]connection.execute",
     EXECUTE_ARGS "record{columns: list<string>, rows: list<record{values: list<" VALUE ">}>}, " ERR
                  ">",
     sql_execute},
    {"[method]connection.execute-async",
     EXECUTE_ARGS "tuple<list<string>, stream<record{values: list<" VALUE
                  ">}>, future<result<_, " ERR ">>>, " ERR ">",
     sql_execute_async},
    {"[method]connection.last-insert-rowid", "(borrow<connection>) -> s64", sql_rowid},
    {"[method]connection.last-insert-rowid-async", "(borrow<connection>) -> s64", sql_rowid},
    {"[method]connection.changes", "(borrow<connection>) -> u64", sql_changes},
    {"[method]connection.changes-async", "(borrow<connection>) -> u64", sql_changes},
};
const kiln_chost_iface kiln_spin_sqlite3_iface = {"spin:sqlite/sqlite", "3.1.0", sql_res, 1,
                                                  sql3_funcs,           8};
