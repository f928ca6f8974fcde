/* sqlite.c — fermyon:spin/sqlite@2.0.0 (spin.h): connection.open(label) and
 * connection.execute(statement, parameters), on the application's databases
 * (sqlite_db.h): each open gets a connection of its own (kiln_sqldb_connect), closed when
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

static int sql_execute(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_sqldb **db = conn_of(ctx, args[0].res.rep);
    if (!db) return spin_err_case(cx, &res[0], E_INVALID_CONNECTION);
    sql_job j = {*db, args[1].str.ptr, args[1].str.len, NULL, 0, {0}, 0, NULL};
    if (!(j.params = spin_sql_params(cx, &args[2], &j.nparams))) return spin_oom(cx);
    kiln_offload(run_job, &j);
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
