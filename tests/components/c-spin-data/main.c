/* The data test handler of tests/e2e/up_spin_data.sh (tests/components/build.sh, entry
 * c-spin-data), written against the bindings `wit-bindgen c` generates for world.wit (Spin's
 * whole platform world and spin:postgres@3.0.0). A POST's path below the route (Spin's
 * spin-path-info header) says which API; its body is lines: the first names the target,
 * the others are what to run. Answers text, 200 (500 on the first error: "error: CASE[: msg]").
 *   /sql/LABEL      line 1: a statement; then parameters, one a line: i:N r:F t:TEXT b:BYTES n
 *                   -> "columns: a,b" then one line per row: integer(N) real(F) text(S)
 *                      blob(LEN:BYTES) null
 *   /redis          line 1: the address; then commands: set K V | get K | incr K |
 *                   del K... | sadd K M... | srem K M... | smembers K | publish C M |
 *                   exec CMD ARG... (ARG i:N an int64, else binary) -> one line each
 *   /pg3/query|execute, /pg2/query|execute   spin:postgres@3.0.0 / fermyon:spin/postgres@2.0.0:
 *                   line 1: the address; line 2: the statement; then parameters: bool:t|f
 *                   i16:N i32:N i64:N u32:N (pg2) f64:F s:TEXT b:BYTES date:Y-M-D (pg3)
 *                   ts:SECONDS (pg3) null -> "columns: name:TYPE,..." and rows, or "rows: N"
 *   /llm            llm.infer("llama2-chat", ...) -> the error
 *   /mqtt, /mysql   line 1: the address -> open's error */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spindata.h"

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void puts_(buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void printf_(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void printf_(buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    put(b, tmp, n < (int)sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void respond(exports_wasi_http_incoming_handler_own_response_outparam_t out, int status,
                    const char *data, size_t n)
{
    wasi_http_types_own_fields_t headers = wasi_http_types_constructor_fields();
    wasi_http_types_own_outgoing_response_t response =
        wasi_http_types_constructor_outgoing_response(headers);
    if (!wasi_http_types_method_outgoing_response_set_status_code(
            wasi_http_types_borrow_outgoing_response(response), (uint16_t)status))
        abort();
    wasi_http_types_own_outgoing_body_t body;
    if (!wasi_http_types_method_outgoing_response_body(
            wasi_http_types_borrow_outgoing_response(response), &body))
        abort();
    wasi_http_types_result_own_outgoing_response_error_code_t result = {.is_err = false};
    result.val.ok = response;
    wasi_http_types_static_response_outparam_set(out, &result);
    wasi_http_types_own_output_stream_t stream;
    if (!wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(body),
                                                    &stream))
        abort();
    while (n) {
        uint64_t permit;
        wasi_io_streams_stream_error_t err;
        wasi_io_streams_borrow_output_stream_t s = wasi_io_streams_borrow_output_stream(stream);
        if (!wasi_io_streams_method_output_stream_check_write(s, &permit, &err)) abort();
        if (!permit) {
            wasi_io_poll_own_pollable_t p = wasi_io_streams_method_output_stream_subscribe(s);
            wasi_io_poll_method_pollable_block(wasi_io_poll_borrow_pollable(p));
            wasi_io_poll_pollable_drop_own(p);
            continue;
        }
        size_t k = n < permit ? n : (size_t)permit;
        spindata_list_u8_t bytes = {(uint8_t *)data, k};
        if (!wasi_io_streams_method_output_stream_write(s, &bytes, &err)) abort();
        data += k;
        n -= k;
    }
    wasi_io_streams_output_stream_drop_own(stream);
    wasi_http_types_error_code_t ferr;
    if (!wasi_http_types_static_outgoing_body_finish(body, NULL, &ferr)) abort();
}

static void read_body(wasi_http_types_borrow_incoming_request_t req, buf *b)
{
    wasi_http_types_own_incoming_body_t body;
    if (!wasi_http_types_method_incoming_request_consume(req, &body)) abort();
    wasi_http_types_own_input_stream_t in;
    if (!wasi_http_types_method_incoming_body_stream(wasi_http_types_borrow_incoming_body(body),
                                                     &in))
        abort();
    for (;;) {
        spindata_list_u8_t chunk;
        wasi_io_streams_stream_error_t err;
        if (!wasi_io_streams_method_input_stream_blocking_read(
                wasi_io_streams_borrow_input_stream(in), 65536, &chunk, &err)) {
            if (err.tag != WASI_IO_STREAMS_STREAM_ERROR_CLOSED) abort();
            break;
        }
        put(b, chunk.ptr, chunk.len);
        spindata_list_u8_free(&chunk);
    }
    wasi_io_streams_input_stream_drop_own(in);
    wasi_http_types_incoming_body_drop_own(body);
}

/* Splits the body into NUL-terminated lines (in place); their number. */
static int lines(buf *b, char **out, int max)
{
    int n = 0;
    char *p = b->p ? b->p : "";
    while (*p && n < max) {
        out[n++] = p;
        char *nl = strchr(p, '\n');
        if (!nl) break;
        *nl = 0;
        p = nl + 1;
    }
    return n;
}

static spindata_string_t str(const char *s)
{
    spindata_string_t r = {(uint8_t *)s, strlen(s)};
    return r;
}

static void error(buf *b, const char *name, const spindata_string_t *msg)
{
    puts_(b, "error: ");
    puts_(b, name);
    if (msg) {
        puts_(b, ": ");
        put(b, msg->ptr, msg->len);
    }
    puts_(b, "\n");
}

/* ---- sqlite ---- */

static int sql(const char *label, char **ln, int n, buf *b)
{
    static const char *const names[] = {"no-such-database", "access-denied", "invalid-connection",
                                        "database-full", "io"};
    fermyon_spin_sqlite_own_connection_t conn;
    fermyon_spin_sqlite_error_t err;
    spindata_string_t l = str(label);
    if (!fermyon_spin_sqlite_static_connection_open(&l, &conn, &err)) {
        error(b, names[err.tag], err.tag == FERMYON_SPIN_SQLITE_ERROR_IO ? &err.val.io : NULL);
        return 500;
    }
    fermyon_spin_sqlite_value_t params[16];
    int np = 0;
    for (int i = 1; i < n && np < 16; i++, np++) {
        fermyon_spin_sqlite_value_t *v = &params[np];
        const char *a = ln[i] + 2;
        switch (ln[i][0]) {
        case 'i': v->tag = FERMYON_SPIN_SQLITE_VALUE_INTEGER; v->val.integer = atoll(a); break;
        case 'r': v->tag = FERMYON_SPIN_SQLITE_VALUE_REAL; v->val.real = atof(a); break;
        case 't': v->tag = FERMYON_SPIN_SQLITE_VALUE_TEXT; v->val.text = str(a); break;
        case 'b':
            v->tag = FERMYON_SPIN_SQLITE_VALUE_BLOB;
            v->val.blob = (spindata_list_u8_t){(uint8_t *)a, strlen(a)};
            break;
        default: v->tag = FERMYON_SPIN_SQLITE_VALUE_NULL; break;
        }
    }
    fermyon_spin_sqlite_list_value_t list = {params, (size_t)np};
    fermyon_spin_sqlite_query_result_t r;
    spindata_string_t stmt = str(n ? ln[0] : "");
    int status = 200;
    if (!fermyon_spin_sqlite_method_connection_execute(
            fermyon_spin_sqlite_borrow_connection(conn), &stmt, &list, &r, &err)) {
        error(b, names[err.tag], err.tag == FERMYON_SPIN_SQLITE_ERROR_IO ? &err.val.io : NULL);
        status = 500;
    } else {
        puts_(b, "columns: ");
        for (size_t c = 0; c < r.columns.len; c++) {
            if (c) puts_(b, ",");
            put(b, r.columns.ptr[c].ptr, r.columns.ptr[c].len);
        }
        puts_(b, "\n");
        for (size_t k = 0; k < r.rows.len; k++) {
            for (size_t c = 0; c < r.rows.ptr[k].values.len; c++) {
                fermyon_spin_sqlite_value_t *v = &r.rows.ptr[k].values.ptr[c];
                if (c) puts_(b, " ");
                switch (v->tag) {
                case FERMYON_SPIN_SQLITE_VALUE_INTEGER:
                    printf_(b, "integer(%lld)", (long long)v->val.integer);
                    break;
                case FERMYON_SPIN_SQLITE_VALUE_REAL: printf_(b, "real(%g)", v->val.real); break;
                case FERMYON_SPIN_SQLITE_VALUE_TEXT:
                    puts_(b, "text(");
                    put(b, v->val.text.ptr, v->val.text.len);
                    puts_(b, ")");
                    break;
                case FERMYON_SPIN_SQLITE_VALUE_BLOB:
                    printf_(b, "blob(%zu:", v->val.blob.len);
                    put(b, v->val.blob.ptr, v->val.blob.len);
                    puts_(b, ")");
                    break;
                default: puts_(b, "null"); break;
                }
            }
            puts_(b, "\n");
        }
        fermyon_spin_sqlite_query_result_free(&r);
    }
    fermyon_spin_sqlite_connection_drop_own(conn);
    return status;
}

/* ---- redis ---- */

static void redis_error(buf *b, const fermyon_spin_redis_error_t *e)
{
    static const char *const names[] = {"invalid-address", "too-many-connections", "type-error",
                                        "other"};
    error(b, names[e->tag], e->tag == FERMYON_SPIN_REDIS_ERROR_OTHER ? &e->val.other : NULL);
}

static int redis(char **ln, int n, buf *b)
{
    fermyon_spin_redis_own_connection_t conn;
    fermyon_spin_redis_error_t err;
    spindata_string_t addr = str(n ? ln[0] : "");
    if (!fermyon_spin_redis_static_connection_open(&addr, &conn, &err)) {
        redis_error(b, &err);
        return 500;
    }
    fermyon_spin_redis_borrow_connection_t c = fermyon_spin_redis_borrow_connection(conn);
    int status = 200;
    for (int i = 1; i < n && status == 200; i++) {
        char *w[16];
        int nw = 0;
        for (char *t = strtok(ln[i], " "); t && nw < 16; t = strtok(NULL, " "))
            w[nw++] = t;
        if (!nw) continue;
        spindata_string_t key = str(nw > 1 ? w[1] : "");
        spindata_string_t rest[16];
        for (int k = 2; k < nw; k++)
            rest[k - 2] = str(w[k]);
        spindata_list_string_t members = {rest, (size_t)(nw > 2 ? nw - 2 : 0)};
        printf_(b, "%s: ", w[0]);
        int ok = 1;
        if (!strcmp(w[0], "set")) {
            fermyon_spin_redis_payload_t v = {(uint8_t *)(nw > 2 ? w[2] : ""),
                                              nw > 2 ? strlen(w[2]) : 0};
            if ((ok = fermyon_spin_redis_method_connection_set(c, &key, &v, &err))) puts_(b, "ok");
        } else if (!strcmp(w[0], "publish")) {
            fermyon_spin_redis_payload_t v = {(uint8_t *)(nw > 2 ? w[2] : ""),
                                              nw > 2 ? strlen(w[2]) : 0};
            if ((ok = fermyon_spin_redis_method_connection_publish(c, &key, &v, &err)))
                puts_(b, "ok");
        } else if (!strcmp(w[0], "get")) {
            fermyon_spin_redis_option_payload_t v;
            if ((ok = fermyon_spin_redis_method_connection_get(c, &key, &v, &err))) {
                if (v.is_some) {
                    puts_(b, "some(");
                    put(b, v.val.ptr, v.val.len);
                    puts_(b, ")");
                    fermyon_spin_redis_option_payload_free(&v);
                } else {
                    puts_(b, "none");
                }
            }
        } else if (!strcmp(w[0], "incr")) {
            int64_t v;
            if ((ok = fermyon_spin_redis_method_connection_incr(c, &key, &v, &err)))
                printf_(b, "%lld", (long long)v);
        } else if (!strcmp(w[0], "del") || !strcmp(w[0], "sadd") || !strcmp(w[0], "srem")) {
            uint32_t v;
            spindata_string_t keys[16];
            for (int k = 1; k < nw; k++)
                keys[k - 1] = str(w[k]);
            spindata_list_string_t kl = {keys, (size_t)(nw - 1)};
            ok = !strcmp(w[0], "del")
                     ? fermyon_spin_redis_method_connection_del(c, &kl, &v, &err)
                 : !strcmp(w[0], "sadd")
                     ? fermyon_spin_redis_method_connection_sadd(c, &key, &members, &v, &err)
                     : fermyon_spin_redis_method_connection_srem(c, &key, &members, &v, &err);
            if (ok) printf_(b, "%u", v);
        } else if (!strcmp(w[0], "smembers")) {
            spindata_list_string_t v;
            if ((ok = fermyon_spin_redis_method_connection_smembers(c, &key, &v, &err))) {
                for (size_t k = 0; k < v.len; k++) {
                    if (k) puts_(b, ",");
                    put(b, v.ptr[k].ptr, v.ptr[k].len);
                }
                spindata_list_string_free(&v);
            }
        } else if (!strcmp(w[0], "exec")) {
            fermyon_spin_redis_redis_parameter_t ps[16];
            int np = 0;
            for (int k = 2; k < nw; k++, np++) {
                if (!strncmp(w[k], "i:", 2)) {
                    ps[np].tag = FERMYON_SPIN_REDIS_REDIS_PARAMETER_INT64;
                    ps[np].val.int64 = atoll(w[k] + 2);
                } else {
                    ps[np].tag = FERMYON_SPIN_REDIS_REDIS_PARAMETER_BINARY;
                    ps[np].val.binary = (fermyon_spin_redis_payload_t){(uint8_t *)w[k],
                                                                       strlen(w[k])};
                }
            }
            fermyon_spin_redis_list_redis_parameter_t pl = {ps, (size_t)np};
            fermyon_spin_redis_list_redis_result_t rs;
            spindata_string_t cmd = key;
            if ((ok = fermyon_spin_redis_method_connection_execute(c, &cmd, &pl, &rs, &err))) {
                for (size_t k = 0; k < rs.len; k++) {
                    fermyon_spin_redis_redis_result_t *r = &rs.ptr[k];
                    if (k) puts_(b, " ");
                    if (r->tag == FERMYON_SPIN_REDIS_REDIS_RESULT_NIL) {
                        puts_(b, "nil");
                    } else if (r->tag == FERMYON_SPIN_REDIS_REDIS_RESULT_INT64) {
                        printf_(b, "int64(%lld)", (long long)r->val.int64);
                    } else {
                        int st = r->tag == FERMYON_SPIN_REDIS_REDIS_RESULT_STATUS;
                        puts_(b, st ? "status(" : "binary(");
                        if (st)
                            put(b, r->val.status.ptr, r->val.status.len);
                        else
                            put(b, r->val.binary.ptr, r->val.binary.len);
                        puts_(b, ")");
                    }
                }
                fermyon_spin_redis_list_redis_result_free(&rs);
            }
        } else {
            puts_(b, "unknown command");
        }
        if (!ok) {
            redis_error(b, &err);
            status = 500;
        } else {
            puts_(b, "\n");
        }
    }
    fermyon_spin_redis_connection_drop_own(conn);
    return status;
}

/* ---- postgres ---- */

static const char *const rdbms_errors[] = {"connection-failed", "bad-parameter", "query-failed",
                                           "value-conversion-failed", "other"};

static int pg3(int query, char **ln, int n, buf *b)
{
    static const char *const types[] = {"boolean", "int8",  "int16",    "int32",     "int64",
                                        "floating32", "floating64", "str", "binary", "date",
                                        "time", "datetime", "timestamp", "other"};
    spin_postgres_postgres_own_connection_t conn;
    spin_postgres_postgres_error_t err;
    spindata_string_t addr = str(n ? ln[0] : "");
    if (!spin_postgres_postgres_static_connection_open(&addr, &conn, &err)) {
        error(b, rdbms_errors[err.tag], &err.val.other);
        return 500;
    }
    spin_postgres_postgres_parameter_value_t ps[16];
    int np = 0;
    for (int i = 2; i < n && np < 16; i++, np++) {
        spin_postgres_postgres_parameter_value_t *p = &ps[np];
        char *a = strchr(ln[i], ':');
        a = a ? a + 1 : "";
        if (!strncmp(ln[i], "bool:", 5)) {
            p->tag = SPIN_POSTGRES_POSTGRES_PARAMETER_VALUE_BOOLEAN;
            p->val.boolean = *a == 't';
        } else if (!strncmp(ln[i], "i16:", 4)) {
            p->tag = SPIN_POSTGRES_POSTGRES_PARAMETER_VALUE_INT16;
            p->val.int16 = (int16_t)atoi(a);
        } else if (!strncmp(ln[i], "i32:", 4)) {
            p->tag = SPIN_POSTGRES_POSTGRES_PARAMETER_VALUE_INT32;
            p->val.int32 = atoi(a);
        } else if (!strncmp(ln[i], "i64:", 4)) {
            p->tag = SPIN_POSTGRES_POSTGRES_PARAMETER_VALUE_INT64;
            p->val.int64 = atoll(a);
        } else if (!strncmp(ln[i], "f64:", 4)) {
            p->tag = SPIN_POSTGRES_POSTGRES_PARAMETER_VALUE_FLOATING64;
            p->val.floating64 = atof(a);
        } else if (!strncmp(ln[i], "s:", 2)) {
            p->tag = SPIN_POSTGRES_POSTGRES_PARAMETER_VALUE_STR;
            p->val.str = str(a);
        } else if (!strncmp(ln[i], "b:", 2)) {
            p->tag = SPIN_POSTGRES_POSTGRES_PARAMETER_VALUE_BINARY;
            p->val.binary = (spindata_list_u8_t){(uint8_t *)a, strlen(a)};
        } else if (!strncmp(ln[i], "date:", 5)) {
            int y = 0, m = 0, d = 0;
            sscanf(a, "%d-%d-%d", &y, &m, &d);
            p->tag = SPIN_POSTGRES_POSTGRES_PARAMETER_VALUE_DATE;
            p->val.date = (spindata_tuple3_s32_u8_u8_t){y, (uint8_t)m, (uint8_t)d};
        } else if (!strncmp(ln[i], "ts:", 3)) {
            p->tag = SPIN_POSTGRES_POSTGRES_PARAMETER_VALUE_TIMESTAMP;
            p->val.timestamp = atoll(a);
        } else {
            p->tag = SPIN_POSTGRES_POSTGRES_PARAMETER_VALUE_DB_NULL;
        }
    }
    spin_postgres_postgres_list_parameter_value_t pl = {ps, (size_t)np};
    spindata_string_t stmt = str(n > 1 ? ln[1] : "");
    spin_postgres_postgres_borrow_connection_t c = spin_postgres_postgres_borrow_connection(conn);
    int status = 200;
    if (!query) {
        uint64_t rows;
        if (!spin_postgres_postgres_method_connection_execute(c, &stmt, &pl, &rows, &err)) {
            error(b, rdbms_errors[err.tag], &err.val.other);
            status = 500;
        } else {
            printf_(b, "rows: %llu\n", (unsigned long long)rows);
        }
        spin_postgres_postgres_connection_drop_own(conn);
        return status;
    }
    spin_postgres_postgres_row_set_t rs;
    if (!spin_postgres_postgres_method_connection_query(c, &stmt, &pl, &rs, &err)) {
        error(b, rdbms_errors[err.tag], &err.val.other);
        spin_postgres_postgres_connection_drop_own(conn);
        return 500;
    }
    puts_(b, "columns: ");
    for (size_t k = 0; k < rs.columns.len; k++) {
        if (k) puts_(b, ",");
        put(b, rs.columns.ptr[k].name.ptr, rs.columns.ptr[k].name.len);
        printf_(b, ":%s", types[rs.columns.ptr[k].data_type]);
    }
    puts_(b, "\n");
    for (size_t r = 0; r < rs.rows.len; r++) {
        for (size_t k = 0; k < rs.rows.ptr[r].len; k++) {
            spin_postgres_postgres_db_value_t *v = &rs.rows.ptr[r].ptr[k];
            if (k) puts_(b, " ");
            switch (v->tag) {
            case SPIN_POSTGRES_POSTGRES_DB_VALUE_BOOLEAN:
                printf_(b, "boolean(%s)", v->val.boolean ? "true" : "false");
                break;
            case SPIN_POSTGRES_POSTGRES_DB_VALUE_INT16: printf_(b, "int16(%d)", v->val.int16); break;
            case SPIN_POSTGRES_POSTGRES_DB_VALUE_INT32: printf_(b, "int32(%d)", v->val.int32); break;
            case SPIN_POSTGRES_POSTGRES_DB_VALUE_INT64:
                printf_(b, "int64(%lld)", (long long)v->val.int64);
                break;
            case SPIN_POSTGRES_POSTGRES_DB_VALUE_FLOATING32:
                printf_(b, "floating32(%g)", (double)v->val.floating32);
                break;
            case SPIN_POSTGRES_POSTGRES_DB_VALUE_FLOATING64:
                printf_(b, "floating64(%g)", v->val.floating64);
                break;
            case SPIN_POSTGRES_POSTGRES_DB_VALUE_STR:
                puts_(b, "str(");
                put(b, v->val.str.ptr, v->val.str.len);
                puts_(b, ")");
                break;
            case SPIN_POSTGRES_POSTGRES_DB_VALUE_BINARY:
                printf_(b, "binary(%zu:", v->val.binary.len);
                put(b, v->val.binary.ptr, v->val.binary.len);
                puts_(b, ")");
                break;
            case SPIN_POSTGRES_POSTGRES_DB_VALUE_DATE:
                printf_(b, "date(%d-%d-%d)", v->val.date.f0, v->val.date.f1, v->val.date.f2);
                break;
            case SPIN_POSTGRES_POSTGRES_DB_VALUE_TIME:
                printf_(b, "time(%d:%d:%d.%u)", v->val.time.f0, v->val.time.f1, v->val.time.f2,
                        v->val.time.f3);
                break;
            case SPIN_POSTGRES_POSTGRES_DB_VALUE_DATETIME:
                printf_(b, "datetime(%d-%d-%d %d:%d:%d.%u)", v->val.datetime.f0,
                        v->val.datetime.f1, v->val.datetime.f2, v->val.datetime.f3,
                        v->val.datetime.f4, v->val.datetime.f5, v->val.datetime.f6);
                break;
            case SPIN_POSTGRES_POSTGRES_DB_VALUE_DB_NULL: puts_(b, "db-null"); break;
            default: puts_(b, "unsupported"); break;
            }
        }
        puts_(b, "\n");
    }
    spin_postgres_postgres_row_set_free(&rs);
    spin_postgres_postgres_connection_drop_own(conn);
    return status;
}

static int pg2(int query, char **ln, int n, buf *b)
{
    static const char *const types[] = {"boolean", "int8",   "int16",      "int32",      "int64",
                                        "uint8",   "uint16", "uint32",     "uint64",     "floating32",
                                        "floating64", "str", "binary", "other"};
    fermyon_spin_postgres_own_connection_t conn;
    fermyon_spin_postgres_error_t err;
    spindata_string_t addr = str(n ? ln[0] : "");
    if (!fermyon_spin_postgres_static_connection_open(&addr, &conn, &err)) {
        error(b, rdbms_errors[err.tag], &err.val.other);
        return 500;
    }
    fermyon_spin_postgres_parameter_value_t ps[16];
    int np = 0;
    for (int i = 2; i < n && np < 16; i++, np++) {
        fermyon_spin_postgres_parameter_value_t *p = &ps[np];
        char *a = strchr(ln[i], ':');
        a = a ? a + 1 : "";
        if (!strncmp(ln[i], "i32:", 4)) {
            p->tag = FERMYON_SPIN_RDBMS_TYPES_PARAMETER_VALUE_INT32;
            p->val.int32 = atoi(a);
        } else if (!strncmp(ln[i], "u32:", 4)) {
            p->tag = FERMYON_SPIN_RDBMS_TYPES_PARAMETER_VALUE_UINT32;
            p->val.uint32 = (uint32_t)strtoul(a, NULL, 10);
        } else if (!strncmp(ln[i], "s:", 2)) {
            p->tag = FERMYON_SPIN_RDBMS_TYPES_PARAMETER_VALUE_STR;
            p->val.str = str(a);
        } else {
            p->tag = FERMYON_SPIN_RDBMS_TYPES_PARAMETER_VALUE_DB_NULL;
        }
    }
    fermyon_spin_postgres_list_parameter_value_t pl = {ps, (size_t)np};
    spindata_string_t stmt = str(n > 1 ? ln[1] : "");
    fermyon_spin_postgres_borrow_connection_t c = fermyon_spin_postgres_borrow_connection(conn);
    int status = 200;
    if (!query) {
        uint64_t rows;
        if (!fermyon_spin_postgres_method_connection_execute(c, &stmt, &pl, &rows, &err)) {
            error(b, rdbms_errors[err.tag], &err.val.other);
            status = 500;
        } else {
            printf_(b, "rows: %llu\n", (unsigned long long)rows);
        }
        fermyon_spin_postgres_connection_drop_own(conn);
        return status;
    }
    fermyon_spin_postgres_row_set_t rs;
    if (!fermyon_spin_postgres_method_connection_query(c, &stmt, &pl, &rs, &err)) {
        error(b, rdbms_errors[err.tag], &err.val.other);
        fermyon_spin_postgres_connection_drop_own(conn);
        return 500;
    }
    puts_(b, "columns: ");
    for (size_t k = 0; k < rs.columns.len; k++) {
        if (k) puts_(b, ",");
        put(b, rs.columns.ptr[k].name.ptr, rs.columns.ptr[k].name.len);
        printf_(b, ":%s", types[rs.columns.ptr[k].data_type]);
    }
    puts_(b, "\n");
    for (size_t r = 0; r < rs.rows.len; r++) {
        for (size_t k = 0; k < rs.rows.ptr[r].len; k++) {
            fermyon_spin_rdbms_types_db_value_t *v = &rs.rows.ptr[r].ptr[k];
            if (k) puts_(b, " ");
            if (v->tag == FERMYON_SPIN_RDBMS_TYPES_DB_VALUE_INT32)
                printf_(b, "int32(%d)", v->val.int32);
            else if (v->tag == FERMYON_SPIN_RDBMS_TYPES_DB_VALUE_INT64)
                printf_(b, "int64(%lld)", (long long)v->val.int64);
            else if (v->tag == FERMYON_SPIN_RDBMS_TYPES_DB_VALUE_STR) {
                puts_(b, "str(");
                put(b, v->val.str.ptr, v->val.str.len);
                puts_(b, ")");
            } else if (v->tag == FERMYON_SPIN_RDBMS_TYPES_DB_VALUE_DB_NULL)
                puts_(b, "db-null");
            else if (v->tag == FERMYON_SPIN_RDBMS_TYPES_DB_VALUE_UNSUPPORTED)
                puts_(b, "unsupported");
            else
                printf_(b, "tag(%d)", v->tag);
        }
        puts_(b, "\n");
    }
    fermyon_spin_rdbms_types_row_set_free(&rs);
    fermyon_spin_postgres_connection_drop_own(conn);
    return status;
}

/* ---- llm, mqtt, mysql: the errors ---- */

static int unserved(const char *what, char **ln, int n, buf *b)
{
    spindata_string_t addr = str(n ? ln[0] : "");
    if (!strcmp(what, "llm")) {
        static const char *const names[] = {"model-not-supported", "runtime-error",
                                            "invalid-input"};
        fermyon_spin_llm_inferencing_model_t model = str("llama2-chat");
        spindata_string_t prompt = str("hello");
        fermyon_spin_llm_inferencing_result_t r;
        fermyon_spin_llm_error_t err;
        if (fermyon_spin_llm_infer(&model, &prompt, NULL, &r, &err)) {
            puts_(b, "inferred!\n");
            return 200;
        }
        error(b, names[err.tag], err.tag ? &err.val.runtime_error : NULL);
        return 500;
    }
    if (!strcmp(what, "mqtt")) {
        static const char *const names[] = {"invalid-address", "too-many-connections",
                                            "connection-failed", "other"};
        fermyon_spin_mqtt_own_connection_t conn;
        fermyon_spin_mqtt_error_t err;
        spindata_string_t user = str("u"), pass = str("p");
        if (fermyon_spin_mqtt_static_connection_open(&addr, &user, &pass, 30, &conn, &err)) {
            puts_(b, "connected!\n");
            return 200;
        }
        error(b, names[err.tag], err.tag >= 2 ? &err.val.connection_failed : NULL);
        return 500;
    }
    fermyon_spin_mysql_own_connection_t conn;
    fermyon_spin_mysql_error_t err;
    if (fermyon_spin_mysql_static_connection_open(&addr, &conn, &err)) {
        puts_(b, "connected!\n");
        return 200;
    }
    error(b, rdbms_errors[err.tag], &err.val.other);
    return 500;
}

/* Uses the key-value and variables imports too, so that the whole platform world is
 * imported (a component imports only what it calls). */
static int kv_and_vars(buf *b)
{
    fermyon_spin_key_value_own_store_t store;
    fermyon_spin_key_value_error_t kerr;
    spindata_string_t label = str("default"), name = str("nothing_here");
    if (fermyon_spin_key_value_static_store_open(&label, &store, &kerr)) {
        fermyon_spin_key_value_store_drop_own(store);
        puts_(b, "kv: open\n");
    } else {
        printf_(b, "kv: error %d\n", kerr.tag);
    }
    spindata_string_t v;
    fermyon_spin_variables_error_t verr;
    if (fermyon_spin_variables_get(&name, &v, &verr)) {
        spindata_string_free(&v);
        puts_(b, "var: found\n");
    } else {
        printf_(b, "var: error %d\n", verr.tag);
    }
    wasi_http_outgoing_handler_own_outgoing_request_t req =
        wasi_http_types_constructor_outgoing_request(wasi_http_types_constructor_fields());
    wasi_http_outgoing_handler_own_future_incoming_response_t fut;
    wasi_http_outgoing_handler_error_code_t herr;
    if (wasi_http_outgoing_handler_handle(req, NULL, &fut, &herr)) {
        wasi_http_types_future_incoming_response_drop_own(fut);
        puts_(b, "http: sent\n");
    } else {
        printf_(b, "http: error %d\n", herr.tag);
    }
    return 200;
}

void exports_wasi_http_incoming_handler_handle(
    exports_wasi_http_incoming_handler_own_incoming_request_t request,
    exports_wasi_http_incoming_handler_own_response_outparam_t out)
{
    wasi_http_types_borrow_incoming_request_t req =
        wasi_http_types_borrow_incoming_request(request);
    char path[256] = "/";
    wasi_http_types_own_headers_t hs = wasi_http_types_method_incoming_request_headers(req);
    wasi_http_types_field_name_t hname = str("spin-path-info");
    wasi_http_types_list_field_value_t vals;
    wasi_http_types_method_fields_get(wasi_http_types_borrow_fields(hs), &hname, &vals);
    if (vals.len && vals.ptr[0].len < sizeof path) {
        memcpy(path, vals.ptr[0].ptr, vals.ptr[0].len);
        path[vals.ptr[0].len] = 0;
    }
    char *q = strchr(path, '?');
    if (q) *q = 0;
    buf body = {0}, b = {0};
    read_body(req, &body);
    char *ln[64];
    int n = lines(&body, ln, 64);
    int status = 404;
    if (!strncmp(path, "/sql/", 5))
        status = sql(path + 5, ln, n, &b);
    else if (!strcmp(path, "/redis"))
        status = redis(ln, n, &b);
    else if (!strncmp(path, "/pg3/", 5))
        status = pg3(!strcmp(path + 5, "query"), ln, n, &b);
    else if (!strncmp(path, "/pg2/", 5))
        status = pg2(!strcmp(path + 5, "query"), ln, n, &b);
    else if (!strcmp(path, "/llm") || !strcmp(path, "/mqtt") || !strcmp(path, "/mysql"))
        status = unserved(path + 1, ln, n, &b);
    else if (!strcmp(path, "/other"))
        status = kv_and_vars(&b);
    respond(out, status, b.p ? b.p : "", b.len);
    free(b.p);
    free(body.p);
}
