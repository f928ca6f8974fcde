/* sqlite_db.c — the SQLite databases of fermyon:spin/sqlite (sqlite_db.h). */
#include "host/spin/sqlite_db.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <string.h>

struct kiln_sqldb {
    sqlite3 *db;
    pthread_mutex_t lock;
    char *path;  /* NULL: in memory */
    int is_conn; /* made by kiln_sqldb_connect */
};

/* Sets *err to "what: message" (message NULL: SQLite's current one); returns -1. */
static int fail(kiln_sqldb *d, const char *what, const char *message, char **err)
{
    kiln_buf b = KILN_BUF_INIT;
    const char *m = message ? message : d && d->db ? sqlite3_errmsg(d->db) : "failed";
    int rc = what ? kiln_buf_printf(&b, "%s: %s", what, m) : kiln_buf_puts(&b, m);
    if (rc < 0) {
        kiln_buf_free(&b);
        *err = kiln_strdup("out of memory");
    } else {
        *err = kiln_buf_steal(&b);
    }
    return -1;
}

/* Spin refuses to ATTACH a file (only "" and ":memory:": temporary databases). */
static int authorize(void *arg, int action, const char *a, const char *b, const char *c,
                     const char *d)
{
    (void)arg, (void)b, (void)c, (void)d;
    if (action != SQLITE_ATTACH) return SQLITE_OK;
    return !a || !*a || strcmp(a, ":memory:") == 0 ? SQLITE_OK : SQLITE_DENY;
}

kiln_sqldb *kiln_sqldb_open(const char *path, char **err)
{
    kiln_sqldb *d = kiln_calloc(1, sizeof *d);
    if (!d) {
        *err = kiln_strdup("out of memory");
        return NULL;
    }
    if (pthread_mutex_init(&d->lock, NULL) != 0) {
        kiln_free(d);
        *err = kiln_strdup("cannot create a mutex");
        return NULL;
    }
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path ? path : ":memory:", &d->db, flags, NULL) != SQLITE_OK ||
        sqlite3_set_authorizer(d->db, authorize, NULL) != SQLITE_OK) {
        fail(d, path ? path : ":memory:", NULL, err);
        kiln_sqldb_close(d);
        return NULL;
    }
    sqlite3_busy_timeout(d->db, 5000);
    if (path && !(d->path = kiln_strdup(path))) {
        kiln_sqldb_close(d);
        *err = kiln_strdup("out of memory");
        return NULL;
    }
    return d;
}

kiln_sqldb *kiln_sqldb_connect(kiln_sqldb *d, char **err)
{
    if (!d->path) return d;
    kiln_sqldb *c = kiln_sqldb_open(d->path, err);
    if (c) c->is_conn = 1;
    return c;
}

void kiln_sqldb_disconnect(kiln_sqldb *c)
{
    if (c && c->is_conn) kiln_sqldb_close(c);
}

void kiln_sqldb_close(kiln_sqldb *d)
{
    if (!d) return;
    if (d->db) sqlite3_close(d->db);
    kiln_free(d->path);
    pthread_mutex_destroy(&d->lock);
    kiln_free(d);
}

void kiln_sql_result_free(kiln_sql_result *r)
{
    kiln_free(r->cols);
    kiln_free(r->col_lens);
    kiln_free(r->vals);
    kiln_free(r->data);
    memset(r, 0, sizeof *r);
}

/* Binds params to st. 0, or -1 with *err. */
static int bind(kiln_sqldb *d, sqlite3_stmt *st, const kiln_sql_value *params, size_t n, char **err)
{
    int want = sqlite3_bind_parameter_count(st);
    if ((size_t)want != n) {
        kiln_buf b = KILN_BUF_INIT;
        if (kiln_buf_printf(&b, "Wrong number of parameters passed to query. Got %zu, needed %d", n,
                            want) < 0) {
            kiln_buf_free(&b);
            *err = kiln_strdup("out of memory");
        } else {
            *err = kiln_buf_steal(&b);
        }
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const kiln_sql_value *v = &params[i];
        int k = (int)i + 1, rc;
        switch (v->kind) {
        case KILN_SQL_INTEGER:
            rc = sqlite3_bind_int64(st, k, v->i);
            break;
        case KILN_SQL_REAL:
            rc = sqlite3_bind_double(st, k, v->r);
            break;
        case KILN_SQL_TEXT:
            rc = sqlite3_bind_text64(st, k, v->n ? (const char *)v->p : "", v->n, SQLITE_TRANSIENT,
                                     SQLITE_UTF8);
            break;
        case KILN_SQL_BLOB:
            rc = sqlite3_bind_blob64(st, k, v->n ? v->p : (const uint8_t *)"", v->n,
                                     SQLITE_TRANSIENT);
            break;
        default:
            rc = sqlite3_bind_null(st, k);
            break;
        }
        if (rc != SQLITE_OK) return fail(d, NULL, NULL, err);
    }
    return 0;
}

/* Appends n bytes to data; the offset in *off. 0, or -1 (out of memory / over the limit,
 * *err set). */
static int keep(kiln_buf *data, const void *p, size_t n, size_t *off, char **err)
{
    if (data->len + n > KILN_SQL_MAX_RESULT) {
        *err = kiln_strdup("query result exceeds limit of 134217728 bytes");
        return -1;
    }
    *off = data->len;
    if (kiln_buf_append(data, p, n) < 0) {
        *err = kiln_strdup("out of memory");
        return -1;
    }
    return 0;
}

/* Steps st to its end, collecting the columns and rows into *out. 0, or -1 with *err. */
static int collect(kiln_sqldb *d, sqlite3_stmt *st, kiln_sql_result *out, char **err)
{
    kiln_buf data = KILN_BUF_INIT;
    size_t ncols = (size_t)sqlite3_column_count(st), cap = 0, nvals = 0;
    size_t *col_off = NULL, *val_off = NULL;
    int rc = -1;
    out->ncols = ncols;
    out->cols = kiln_calloc(ncols + 1, sizeof *out->cols);
    out->col_lens = kiln_calloc(ncols + 1, sizeof *out->col_lens);
    col_off = kiln_calloc(ncols + 1, sizeof *col_off);
    if (!out->cols || !out->col_lens || !col_off) {
        *err = kiln_strdup("out of memory");
        goto out;
    }
    for (size_t c = 0; c < ncols; c++) {
        const char *name = sqlite3_column_name(st, (int)c);
        if (!name) name = "";
        out->col_lens[c] = strlen(name);
        if (keep(&data, name, out->col_lens[c] + 1, &col_off[c], err) < 0)
            goto out; /* with its NUL */
    }
    for (;;) {
        int s = sqlite3_step(st);
        if (s == SQLITE_DONE) break;
        if (s != SQLITE_ROW) {
            fail(d, NULL, NULL, err);
            goto out;
        }
        if (nvals + ncols > cap) {
            size_t ncap = cap ? cap * 2 : 16 + ncols;
            kiln_sql_value *nv = kiln_realloc(out->vals, ncap * sizeof *nv);
            size_t *no = nv ? kiln_realloc(val_off, ncap * sizeof *no) : NULL;
            if (nv) out->vals = nv;
            if (no) val_off = no;
            if (!nv || !no) {
                *err = kiln_strdup("out of memory");
                goto out;
            }
            cap = ncap;
        }
        /* every value counts toward the limit, as Spin counts each value's memory size */
        if (data.len + ncols * sizeof(kiln_sql_value) > KILN_SQL_MAX_RESULT) {
            *err = kiln_strdup("query result exceeds limit of 134217728 bytes");
            goto out;
        }
        for (size_t c = 0; c < ncols; c++) {
            kiln_sql_value *v = &out->vals[nvals];
            memset(v, 0, sizeof *v);
            val_off[nvals] = 0;
            switch (sqlite3_column_type(st, (int)c)) {
            case SQLITE_INTEGER:
                v->kind = KILN_SQL_INTEGER;
                v->i = sqlite3_column_int64(st, (int)c);
                break;
            case SQLITE_FLOAT:
                v->kind = KILN_SQL_REAL;
                v->r = sqlite3_column_double(st, (int)c);
                break;
            case SQLITE_TEXT:
            case SQLITE_BLOB: {
                int text = sqlite3_column_type(st, (int)c) == SQLITE_TEXT;
                const void *p = text ? (const void *)sqlite3_column_text(st, (int)c)
                                     : sqlite3_column_blob(st, (int)c);
                v->kind = text ? KILN_SQL_TEXT : KILN_SQL_BLOB;
                v->n = (size_t)sqlite3_column_bytes(st, (int)c);
                if (v->n && !p) {
                    *err = kiln_strdup("out of memory");
                    goto out;
                }
                if (keep(&data, p, v->n, &val_off[nvals], err) < 0) goto out;
                break;
            }
            default:
                v->kind = KILN_SQL_NULL;
                break;
            }
            nvals++;
        }
        out->nrows++;
    }
    /* the data is final: point names and values into it */
    out->data = (uint8_t *)kiln_buf_steal(&data);
    if (!out->data && !(out->data = kiln_malloc(1))) {
        *err = kiln_strdup("out of memory");
        goto out;
    }
    for (size_t c = 0; c < ncols; c++)
        out->cols[c] = (char *)out->data + col_off[c];
    for (size_t i = 0; i < nvals; i++)
        if (out->vals[i].kind == KILN_SQL_TEXT || out->vals[i].kind == KILN_SQL_BLOB)
            out->vals[i].p = out->data + val_off[i];
    rc = 0;
out:
    kiln_buf_free(&data);
    kiln_free(col_off);
    kiln_free(val_off);
    return rc;
}

int kiln_sqldb_query(kiln_sqldb *d, const char *sql, size_t len, const kiln_sql_value *params,
                     size_t nparams, kiln_sql_result *out, char **err)
{
    memset(out, 0, sizeof *out);
    if (len > INT32_MAX) return fail(NULL, NULL, "the statement is too long", err);
    pthread_mutex_lock(&d->lock);
    sqlite3_stmt *st = NULL, *next = NULL;
    const char *tail = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(d->db, len ? sql : "", (int)len, &st, &tail) != SQLITE_OK) {
        fail(d, NULL, NULL, err);
        goto done;
    }
    /* a second statement after the first (comments and spaces prepare to nothing) */
    size_t rest = tail && len ? len - (size_t)(tail - sql) : 0;
    if (rest && sqlite3_prepare_v2(d->db, tail, (int)rest, &next, NULL) == SQLITE_OK && next) {
        fail(d, NULL, "Multiple statements provided", err);
        goto done;
    }
    if (!st) { /* nothing but spaces and comments */
        rc = nparams ? fail(d, NULL, "Wrong number of parameters passed to query", err) : 0;
        goto done;
    }
    if (bind(d, st, params, nparams, err) < 0) goto done;
    rc = collect(d, st, out, err);
done:
    sqlite3_finalize(next);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&d->lock);
    if (rc < 0) kiln_sql_result_free(out);
    return rc;
}

int kiln_sqldb_exec(kiln_sqldb *d, const char *sql, char **err)
{
    pthread_mutex_lock(&d->lock);
    char *msg = NULL;
    int rc = sqlite3_exec(d->db, sql, NULL, NULL, &msg) == SQLITE_OK ? 0 : -1;
    if (rc < 0) fail(d, NULL, msg, err);
    sqlite3_free(msg);
    pthread_mutex_unlock(&d->lock);
    return rc;
}

int64_t kiln_sqldb_last_rowid(kiln_sqldb *d)
{
    pthread_mutex_lock(&d->lock);
    int64_t id = (int64_t)sqlite3_last_insert_rowid(d->db);
    pthread_mutex_unlock(&d->lock);
    return id;
}

uint64_t kiln_sqldb_changes(kiln_sqldb *d)
{
    pthread_mutex_lock(&d->lock);
    sqlite3_int64 n = sqlite3_changes64(d->db);
    pthread_mutex_unlock(&d->lock);
    return n > 0 ? (uint64_t)n : 0;
}
