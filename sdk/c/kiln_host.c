/* kiln_host.c — the host APIs of the Kiln C SDK for wasi:http components (kiln.h: key-value,
 * variables, outbound HTTP), on the interfaces Spin's SDKs import, so the same component
 * runs on Kiln and on Spin:
 *   kiln_kv_*          fermyon:spin/key-value@2.0.0 (a store opened once per label and
 *                      request, kept for the instance's life)
 *   kiln_variable_get  fermyon:spin/variables@2.0.0
 *   kiln_sql_query     fermyon:spin/sqlite@2.0.0 (a connection opened once per database
 *                      and request; parameters bound by the host, never interpolated)
 *   kiln_http_fetch    wasi:http/outgoing-handler (a request, its body written whole, the
 *                      future waited on with pollable.block, the response read whole)
 *   kiln_http_fetch_all  many requests sent at once, their futures waited on together with
 *                      wasi:io/poll.poll (fan-out: the host serves them concurrently)
 * Link it with kiln.c and kiln_http.c (not with the WAGI backend: a WAGI module has no
 * component imports). Only what a handler calls is imported (the linker drops the rest), and
 * kiln-componentize.sh adds the Spin interfaces to the component's world when the core
 * module imports them. Imports are declared by hand as in kiln_imports.h. */
#include "kiln.h"
#include "kiln_http_errors.h"
#include "kiln_imports.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define KV "fermyon:spin/key-value@2.0.0"
#define VARS "fermyon:spin/variables@2.0.0"
#define SQLITE "fermyon:spin/sqlite@2.0.0"
#define OUTGOING "wasi:http/outgoing-handler@" WASI_VERSION
#define IO_POLL "wasi:io/poll@" WASI_VERSION

/* ---- the imports ---- */

/* result<own<store>, error>: tag at 0; ok handle at 4; error tag at 4, other(string) at 8, 12 */
IMPORT(KV, "[static]store.open")
extern void kv_open(const char *label, size_t len, void *ret);
/* result<option<list<u8>>, error>: tag at 0; ok: option tag at 4, list at 8, 12 */
IMPORT(KV, "[method]store.get")
extern void kv_get(handle self, const char *key, size_t len, void *ret);
/* result<_, error> */
IMPORT(KV, "[method]store.set")
extern void kv_set(handle self, const char *key, size_t len, const void *value, size_t vlen,
                   void *ret);
IMPORT(KV, "[method]store.delete")
extern void kv_delete(handle self, const char *key, size_t len, void *ret);
/* result<bool, error>: ok bool at 4 */
IMPORT(KV, "[method]store.exists")
extern void kv_exists(handle self, const char *key, size_t len, void *ret);

/* result<string, error>: tag at 0; ok string at 4, 8; error tag at 4, its string at 8, 12 */
IMPORT(VARS, "get")
extern void var_get(const char *name, size_t len, void *ret);

/* result<own<connection>, error>: tag at 0; ok handle at 4; error tag at 4, io(string) at 8 */
IMPORT(SQLITE, "[static]connection.open")
extern void sql_open(const char *db, size_t len, void *ret);
/* (statement, list<value>) -> result<query-result, error>: tag at 0; ok: columns
 * list<string> at 4, 8 and rows list<list<value>> at 12, 16; error as open's. A value is
 * 16 bytes: its tag at 0 (integer, real, text, blob, null), s64 / f64 / (ptr, len) at 8. */
IMPORT(SQLITE, "[method]connection.execute")
extern void sql_execute(handle self, const char *stmt, size_t len, const void *params,
                        size_t nparams, void *ret);

IMPORT(HTTP_TYPES, "[constructor]outgoing-request")
extern handle oreq_new(handle headers);
/* (method variant: tag, other's string) -> result<_, _> as 0 / 1 */
IMPORT(HTTP_TYPES, "[method]outgoing-request.set-method")
extern int32_t oreq_set_method(handle self, int32_t tag, const char *other, size_t len);
/* (option<scheme>: some, scheme tag, other's string) */
IMPORT(HTTP_TYPES, "[method]outgoing-request.set-scheme")
extern int32_t oreq_set_scheme(handle self, int32_t some, int32_t tag, const char *other,
                               size_t len);
/* (option<string>) */
IMPORT(HTTP_TYPES, "[method]outgoing-request.set-authority")
extern int32_t oreq_set_authority(handle self, int32_t some, const char *s, size_t len);
IMPORT(HTTP_TYPES, "[method]outgoing-request.set-path-with-query")
extern int32_t oreq_set_path(handle self, int32_t some, const char *s, size_t len);
IMPORT(HTTP_TYPES, "[resource-drop]outgoing-request")
extern void oreq_drop(handle self);
/* result<own<outgoing-body>>: tag at 0, handle at 4 */
IMPORT(HTTP_TYPES, "[method]outgoing-request.body")
extern void oreq_body(handle self, void *ret);
/* (request, option<own<request-options>>) -> result<own<future-incoming-response>,
 * error-code>: tag at 0, the handle or the error-code's tag at 8 */
IMPORT(OUTGOING, "handle")
extern void out_handle(handle request, int32_t some, handle options, void *ret);
IMPORT(HTTP_TYPES, "[method]future-incoming-response.subscribe")
extern handle fut_subscribe(handle self);
/* option<result<result<own<incoming-response>, error-code>>>: tags at 0, 8 and 16; the
 * handle or the error-code's tag at 24 */
IMPORT(HTTP_TYPES, "[method]future-incoming-response.get")
extern void fut_get(handle self, void *ret);
IMPORT(HTTP_TYPES, "[resource-drop]future-incoming-response")
extern void fut_drop(handle self);
IMPORT(HTTP_TYPES, "[method]incoming-response.status")
extern int32_t iresp_status(handle self);
IMPORT(HTTP_TYPES, "[method]incoming-response.headers")
extern handle iresp_headers(handle self);
/* result<own<incoming-body>>: tag at 0, handle at 4 */
IMPORT(HTTP_TYPES, "[method]incoming-response.consume")
extern void iresp_consume(handle self, void *ret);
IMPORT(HTTP_TYPES, "[resource-drop]incoming-response")
extern void iresp_drop(handle self);
IMPORT(IO_POLL, "[method]pollable.block")
extern void poll_block(handle self);
/* (list<borrow<pollable>>) -> list<u32>: the indices of the ready ones, at 0 and 4 */
IMPORT(IO_POLL, "poll")
extern void io_poll(const handle *pollables, size_t n, void *ret);
IMPORT(IO_POLL, "[resource-drop]pollable")
extern void poll_drop(handle self);

/* ---- errors ---- */

static char *last_error;

const char *kiln_error(void)
{
    return last_error ? last_error : "";
}

static void set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_error(const char *fmt, ...)
{
    kiln__sbuf b = {0};
    va_list ap;
    va_start(ap, fmt);
    kiln__sb_vprintf(&b, fmt, ap);
    va_end(ap);
    free(last_error);
    last_error = b.data;
}

/* The error variant at offset 4 of r (its string, if any, at 8 and 12): names[tag], with
 * ": string" for the cases that carry one (from `with_string` on). */
static void variant_error(const ret_area *r, const char *api, const char *const *names, size_t n,
                          size_t with_string)
{
    uint8_t tag = r->b[4];
    const char *name = tag < n ? names[tag] : "unknown";
    if (tag >= with_string && tag < n) {
        char *s = (char *)(uintptr_t)word_at(r, 8);
        size_t len = word_at(r, 12);
        set_error("%s: %s: %.*s", api, name, (int)len, s);
        free_lowered(s, len);
    } else {
        set_error("%s: %s", api, name);
    }
}

static const char *const kv_errors[] = {"store-table-full", "no-such-store", "access-denied",
                                        "other"};

static void kv_error(const ret_area *r)
{
    variant_error(r, "key-value", kv_errors, 4, 3);
}

/* ---- key-value ---- */

static struct {
    char **labels;
    handle *stores;
    size_t n;
} kv;

/* The store of label (NULL: "default"), opened on first use; 0 with kiln_error(). */
static handle store_of(const char *label)
{
    if (!label) label = "default";
    for (size_t i = 0; i < kv.n; i++)
        if (strcmp(kv.labels[i], label) == 0) return kv.stores[i];
    ret_area r;
    kv_open(label, strlen(label), &r);
    if (r.b[0] != 0) {
        kv_error(&r);
        return 0;
    }
    kv.labels = kiln__xrealloc(kv.labels, (kv.n + 1) * sizeof *kv.labels);
    kv.stores = kiln__xrealloc(kv.stores, (kv.n + 1) * sizeof *kv.stores);
    kv.labels[kv.n] = kiln__xstrndup(label, strlen(label));
    kv.stores[kv.n] = (handle)word_at(&r, 4);
    return kv.stores[kv.n++];
}

int kiln_kv_get(const char *store, const char *key, char **value, size_t *len)
{
    *value = NULL;
    *len = 0;
    handle s = store_of(store);
    if (!s) return -1;
    ret_area r;
    kv_get(s, key, strlen(key), &r);
    if (r.b[0] != 0) {
        kv_error(&r);
        return -1;
    }
    if (r.b[4] == 0) return 0;
    char *data = (char *)(uintptr_t)word_at(&r, 8);
    size_t n = word_at(&r, 12);
    *value = kiln__xstrndup(data, n); /* NUL-terminated for convenience */
    *len = n;
    free_lowered(data, n);
    return 1;
}

int kiln_kv_set(const char *store, const char *key, const void *value, size_t len)
{
    handle s = store_of(store);
    if (!s) return -1;
    ret_area r;
    kv_set(s, key, strlen(key), len ? value : "", len, &r);
    if (r.b[0] != 0) kv_error(&r);
    return r.b[0] == 0 ? 0 : -1;
}

int kiln_kv_delete(const char *store, const char *key)
{
    handle s = store_of(store);
    if (!s) return -1;
    ret_area r;
    kv_delete(s, key, strlen(key), &r);
    if (r.b[0] != 0) kv_error(&r);
    return r.b[0] == 0 ? 0 : -1;
}

int kiln_kv_exists(const char *store, const char *key)
{
    handle s = store_of(store);
    if (!s) return -1;
    ret_area r;
    kv_exists(s, key, strlen(key), &r);
    if (r.b[0] != 0) {
        kv_error(&r);
        return -1;
    }
    return r.b[4] != 0;
}

/* ---- variables ---- */

const char *kiln_variable_get(const char *name)
{
    static const char *const errors[] = {"invalid-name", "undefined", "provider", "other"};
    ret_area r;
    var_get(name, strlen(name), &r);
    if (r.b[0] != 0) {
        variant_error(&r, "variables", errors, 4, 0);
        return NULL;
    }
    char *s = (char *)(uintptr_t)word_at(&r, 4);
    size_t len = word_at(&r, 8);
    char *v = kiln__xstrndup(s, len);
    free_lowered(s, len);
    return v; /* kept until exit, as every string the SDK hands out */
}

/* ---- SQLite ---- */

static struct {
    char **names;
    handle *conns;
    size_t n;
} sql;

static const char *const sql_errors[] = {"no-such-database", "access-denied", "invalid-connection",
                                         "database-full", "io"};

/* The connection to database (NULL: "default"), opened on first use; 0 with kiln_error(). */
static handle conn_of(const char *db)
{
    if (!db) db = "default";
    for (size_t i = 0; i < sql.n; i++)
        if (strcmp(sql.names[i], db) == 0) return sql.conns[i];
    ret_area r;
    sql_open(db, strlen(db), &r);
    if (r.b[0] != 0) {
        variant_error(&r, "sqlite", sql_errors, 5, 4);
        return 0;
    }
    sql.names = kiln__xrealloc(sql.names, (sql.n + 1) * sizeof *sql.names);
    sql.conns = kiln__xrealloc(sql.conns, (sql.n + 1) * sizeof *sql.conns);
    sql.names[sql.n] = kiln__xstrndup(db, strlen(db));
    sql.conns[sql.n] = (handle)word_at(&r, 4);
    return sql.conns[sql.n++];
}

/* A lowered value (16 bytes at p, its memory the host's) as a kiln_sql_value of our own;
 * the lowered strings are freed. */
static void value_lift(const uint8_t *p, kiln_sql_value *v)
{
    memset(v, 0, sizeof *v);
    uint32_t w[2];
    memcpy(w, p + 8, sizeof w);
    switch (p[0]) {
    case 0:
        v->type = KILN_SQL_INTEGER;
        memcpy(&v->integer, p + 8, sizeof v->integer);
        break;
    case 1:
        v->type = KILN_SQL_REAL;
        memcpy(&v->real, p + 8, sizeof v->real);
        break;
    case 2:
    case 3:
        v->type = p[0] == 2 ? KILN_SQL_TEXT : KILN_SQL_BLOB;
        v->text = kiln__xstrndup((const char *)(uintptr_t)w[0], w[1]);
        v->len = w[1];
        free_lowered((void *)(uintptr_t)w[0], w[1]);
        break;
    default:
        v->type = KILN_SQL_NULL;
    }
}

int kiln_sql_query(const char *db, const char *statement, const kiln_sql_value *params,
                   size_t nparams, kiln_sql_result *res)
{
    memset(res, 0, sizeof *res);
    handle c = conn_of(db);
    if (!c) return -1;
    uint8_t *lowered = kiln__xmalloc(16 * nparams + 16);
    for (size_t i = 0; i < nparams; i++) {
        uint8_t *p = lowered + 16 * i;
        const kiln_sql_value *v = &params[i];
        memset(p, 0, 16);
        uint32_t w[2] = {(uint32_t)(uintptr_t)(v->text ? v->text : ""), (uint32_t)v->len};
        switch (v->type) {
        case KILN_SQL_INTEGER:
            p[0] = 0, memcpy(p + 8, &v->integer, 8);
            break;
        case KILN_SQL_REAL:
            p[0] = 1, memcpy(p + 8, &v->real, 8);
            break;
        case KILN_SQL_TEXT:
            p[0] = 2, memcpy(p + 8, w, 8);
            break;
        case KILN_SQL_BLOB:
            p[0] = 3, memcpy(p + 8, w, 8);
            break;
        default:
            p[0] = 4;
        }
    }
    ret_area r;
    sql_execute(c, statement, strlen(statement), lowered, nparams, &r);
    free(lowered);
    if (r.b[0] != 0) {
        variant_error(&r, "sqlite", sql_errors, 5, 4);
        return -1;
    }
    uint8_t *cols = (uint8_t *)(uintptr_t)word_at(&r, 4);
    uint8_t *rows = (uint8_t *)(uintptr_t)word_at(&r, 12);
    size_t ncols = word_at(&r, 8), nrows = word_at(&r, 16);
    res->ncolumns = ncols;
    res->columns = kiln__xmalloc((ncols + 1) * sizeof *res->columns);
    for (size_t i = 0; i < ncols; i++) {
        uint32_t w[2];
        memcpy(w, cols + 8 * i, sizeof w);
        res->columns[i] = kiln__xstrndup((const char *)(uintptr_t)w[0], w[1]);
        free_lowered((void *)(uintptr_t)w[0], w[1]);
    }
    free_lowered(cols, ncols);
    res->nrows = nrows;
    res->values = kiln__xmalloc((nrows * ncols + 1) * sizeof *res->values);
    for (size_t i = 0; i < nrows; i++) {
        uint32_t w[2];
        memcpy(w, rows + 8 * i, sizeof w);
        const uint8_t *vals = (const uint8_t *)(uintptr_t)w[0];
        /* A row of another width than the columns cannot be: extra values are dropped,
         * missing ones NULL. */
        for (size_t j = 0; j < ncols; j++) {
            if (j < w[1])
                value_lift(vals + 16 * j, &res->values[i * ncols + j]);
            else
                memset(&res->values[i * ncols + j], 0, sizeof res->values[0]);
        }
        free_lowered((void *)(uintptr_t)w[0], w[1]);
    }
    free_lowered(rows, nrows);
    return 0;
}

const kiln_sql_value *kiln_sql_at(const kiln_sql_result *res, size_t row, const char *column)
{
    for (size_t j = 0; row < res->nrows && j < res->ncolumns; j++)
        if (strcmp(res->columns[j], column) == 0) return &res->values[row * res->ncolumns + j];
    return NULL;
}

void kiln_sql_result_free(kiln_sql_result *res)
{
    for (size_t i = 0; i < res->nrows * res->ncolumns; i++)
        free(res->values[i].text);
    for (size_t j = 0; j < res->ncolumns; j++)
        free(res->columns[j]);
    free(res->values);
    free(res->columns);
    memset(res, 0, sizeof *res);
}

/* ---- outbound HTTP ---- */

/* wasi:http/types error-code cases, in order. */
static const char *const error_codes[] = {KILN_HTTP_ERROR_NAMES};

static void http_error(uint8_t tag)
{
    size_t n = sizeof error_codes / sizeof error_codes[0];
    set_error("http: %s", tag < n ? error_codes[tag] : "unknown error");
}

/* The request's headers ("Name: value" lines, NULL-terminated list; NULL: none) as a new
 * fields resource; 0 with kiln_error() when one is malformed or refused. */
static handle request_fields(const char *const *headers)
{
    handle f = fields_new();
    for (size_t i = 0; headers && headers[i]; i++) {
        const char *colon = strchr(headers[i], ':');
        if (!colon || colon == headers[i]) {
            set_error("http: malformed header \"%s\" (expected \"Name: value\")", headers[i]);
            fields_drop(f);
            return 0;
        }
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        ret_area r;
        fields_append(f, headers[i], (size_t)(colon - headers[i]), v, strlen(v), &r);
        if (r.b[0] != 0) {
            set_error("http: the host refused the header \"%.*s\"", (int)(colon - headers[i]),
                      headers[i]);
            fields_drop(f);
            return 0;
        }
    }
    return f;
}

/* Sets method, scheme, authority and path of req from method and url ("scheme://host/p"
 * or a relative "/p": a self request). 0, or -1 with kiln_error(). */
static int request_target(handle req, const char *method, const char *url)
{
    static const char *const methods[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                          "CONNECT", "OPTIONS", "TRACE", "PATCH"};
    int32_t tag = 9; /* other */
    for (int32_t i = 0; i < 9; i++)
        if (strcasecmp(method, methods[i]) == 0) tag = i;
    if (oreq_set_method(req, tag, method, tag == 9 ? strlen(method) : 0) != 0) {
        set_error("http: invalid method \"%s\"", method);
        return -1;
    }
    const char *sep = strstr(url, "://"), *path = url;
    if (sep) {
        size_t sl = (size_t)(sep - url);
        int32_t scheme = sl == 4 && strncasecmp(url, "http", 4) == 0    ? 0
                         : sl == 5 && strncasecmp(url, "https", 5) == 0 ? 1
                                                                        : 2;
        const char *auth = sep + 3;
        path = auth + strcspn(auth, "/?");
        if (oreq_set_scheme(req, 1, scheme, url, scheme == 2 ? sl : 0) != 0 ||
            oreq_set_authority(req, 1, auth, (size_t)(path - auth)) != 0) {
            set_error("http: invalid URL \"%s\"", url);
            return -1;
        }
    }
    kiln__sbuf p = {0};
    if (*path != '/') kiln__sb_putc(&p, '/');
    kiln__sb_append(&p, path, strlen(path));
    int32_t bad = oreq_set_path(req, 1, p.data, p.len);
    free(p.data);
    if (bad) set_error("http: invalid path in \"%s\"", url);
    return bad ? -1 : 0;
}

/* Reads the response's headers into resp. */
static void response_headers(handle iresp, kiln_http_response *resp)
{
    ret_area r;
    handle h = iresp_headers(iresp);
    fields_entries(h, &r);
    uint8_t *items = (uint8_t *)(uintptr_t)word_at(&r, 0);
    size_t count = word_at(&r, 4);
    resp->names = kiln__xmalloc((count + 1) * sizeof *resp->names);
    resp->values = kiln__xmalloc((count + 1) * sizeof *resp->values);
    for (size_t i = 0; i < count; i++) {
        uint32_t w[4];
        memcpy(w, items + 16 * i, sizeof w);
        char *name = (char *)(uintptr_t)w[0], *value = (char *)(uintptr_t)w[2];
        resp->names[i] = kiln__xstrndup(name, w[1]);
        resp->values[i] = kiln__xstrndup(value, w[3]);
        free_lowered(name, w[1]);
        free_lowered(value, w[3]);
    }
    resp->nheaders = count;
    free_lowered(items, count);
    fields_drop(h);
}

/* Sends a request (kiln_http_fetch's arguments): its future-incoming-response, or 0 with
 * kiln_error(). The body is written whole after the handle call, as Spin's SDKs do. */
static handle fetch_start(const char *method, const char *url, const char *const *headers,
                          const void *body, size_t body_len)
{
    handle f = request_fields(headers);
    if (!f) return 0;
    handle req = oreq_new(f); /* takes the fields */
    if (request_target(req, method ? method : "GET", url) < 0) {
        oreq_drop(req);
        return 0;
    }
    ret_area r;
    handle out_body = 0;
    if (body) {
        oreq_body(req, &r);
        if (r.b[0] == 0) out_body = (handle)word_at(&r, 4);
    }
    out_handle(req, 0, 0, &r);
    if (out_body) kiln__write_outgoing(out_body, body, body_len);
    if (r.b[0] != 0) {
        http_error(r.b[8]);
        return 0;
    }
    return (handle)word_at(&r, 8);
}

/* The response of a ready future (dropped here) into *resp (zeroed first), read whole:
 * 0, or -1 with kiln_error(). */
static int fetch_finish(handle fut, kiln_http_response *resp)
{
    ret_area r;
    memset(resp, 0, sizeof *resp);
    fut_get(fut, &r);
    fut_drop(fut);
    if (r.b[0] == 0 || r.b[8] != 0) { /* not ready, or taken twice: cannot be */
        set_error("http: the response was not there");
        return -1;
    }
    if (r.b[16] != 0) {
        http_error(r.b[24]);
        return -1;
    }
    handle iresp = (handle)word_at(&r, 24);
    resp->status = iresp_status(iresp);
    response_headers(iresp, resp);
    iresp_consume(iresp, &r);
    kiln__sbuf b = {0};
    int rc = r.b[0] == 0 ? kiln__read_incoming((handle)word_at(&r, 4), &b, KILN_MAX_BODY) : -1;
    iresp_drop(iresp);
    if (rc < 0) {
        set_error("http: the response body could not be read whole (at most %u bytes)",
                  (unsigned)KILN_MAX_BODY);
        free(b.data);
        kiln_http_response_free(resp);
        return -1;
    }
    resp->body = b.data ? b.data : kiln__xstrndup("", 0);
    resp->body_len = b.len;
    return 0;
}

int kiln_http_fetch(const char *method, const char *url, const char *const *headers,
                    const void *body, size_t body_len, kiln_http_response *resp)
{
    memset(resp, 0, sizeof *resp);
    handle fut = fetch_start(method, url, headers, body, body_len);
    if (!fut) return -1;
    handle p = fut_subscribe(fut);
    poll_block(p);
    poll_drop(p);
    return fetch_finish(fut, resp);
}

int kiln_http_fetch_all(size_t n, const kiln_http_request *reqs, kiln_http_response *resps,
                        int *rcs)
{
    handle *futs = kiln__xmalloc((n + 1) * sizeof *futs);
    handle *polls = kiln__xmalloc((n + 1) * sizeof *polls);
    size_t *which = kiln__xmalloc((n + 1) * sizeof *which);
    size_t pending = 0;
    int all = 0;
    for (size_t i = 0; i < n; i++) {
        memset(&resps[i], 0, sizeof resps[i]);
        futs[i] = fetch_start(reqs[i].method, reqs[i].url, reqs[i].headers, reqs[i].body,
                              reqs[i].body_len);
        rcs[i] = futs[i] ? 1 : -1; /* 1: in flight */
        if (!futs[i]) all = -1;
    }
    for (;;) {
        /* The pollables of the requests still in flight, subscribed afresh each round. */
        pending = 0;
        for (size_t i = 0; i < n; i++) {
            if (rcs[i] != 1) continue;
            polls[pending] = fut_subscribe(futs[i]);
            which[pending++] = i;
        }
        if (pending == 0) break;
        ret_area r;
        io_poll(polls, pending, &r);
        uint32_t *ready = (uint32_t *)(uintptr_t)word_at(&r, 0);
        size_t nready = word_at(&r, 4);
        /* A pollable is a child of its future: drop them all before taking any future. */
        for (size_t k = 0; k < pending; k++)
            poll_drop(polls[k]);
        for (size_t k = 0; k < nready; k++) {
            if (ready[k] >= pending) continue; /* the host's answer is an index: trust none */
            size_t i = which[ready[k]];
            if (rcs[i] != 1) continue;
            rcs[i] = fetch_finish(futs[i], &resps[i]);
            if (rcs[i] < 0) all = -1;
        }
        free_lowered(ready, nready * sizeof *ready);
        if (nready == 0) { /* poll returns at least one: a host that does not is broken */
            set_error("http: wasi:io/poll.poll returned nothing");
            for (size_t k = 0; k < pending; k++) {
                fut_drop(futs[which[k]]);
                rcs[which[k]] = -1;
            }
            all = -1;
            break;
        }
    }
    free(futs);
    free(polls);
    free(which);
    return all;
}

const char *kiln_http_response_header(const kiln_http_response *resp, const char *name)
{
    for (size_t i = 0; i < resp->nheaders; i++)
        if (strcasecmp(resp->names[i], name) == 0) return resp->values[i];
    return NULL;
}

void kiln_http_response_free(kiln_http_response *resp)
{
    for (size_t i = 0; i < resp->nheaders; i++) {
        free(resp->names[i]);
        free(resp->values[i]);
    }
    free(resp->names);
    free(resp->values);
    free(resp->body);
    memset(resp, 0, sizeof *resp);
}
