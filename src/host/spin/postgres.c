/* postgres.c — outbound PostgreSQL, spin:postgres/postgres@3.0.0 and fermyon:spin/postgres@2.0.0
 * (spin.h), through libpq. (2.0.0 has unsigned parameters, sent as the next wider type,
 * and no date or time values: those columns are other / unsupported there.)
 *
 * connection.open(address) takes what libpq takes (a "postgres://" URL or "key=value"
 * pairs). Before anything connects the address is parsed as libpq will read it
 * (PQconninfoParse) and every host, with its port (one per host, one for all, or 5432), is
 * checked against allowed_outbound_hosts as "postgres://host:port" (data.h), as Spin does;
 * a denied host answers connection-failed("address postgres://H:P is not permitted") and is
 * logged, a Unix-socket host (or none: libpq's default socket) is refused, and so are
 * options other than host, port, dbname, user, password, connect_timeout, application_name,
 * sslmode, client_encoding, options, target_session_attrs (hostaddr=, service=, sslkey=,
 * passfile=, ... could reach an unchecked address or read the host's files). libpq gets
 * the options as parsed (PQconnectdbParams), with passfile=/dev/null. Connecting and every
 * statement run through kiln_offload: libpq blocks a pool thread while the guest's fiber parks.
 * Statements go through PQexecParams: parameters are always bound, never put into the text; results
 * come in binary form and convert as Spin's: bool, int2/4/8, float4/8, text/varchar/bpchar, bytea,
 * date, time, timestamp[tz] (a datetime tuple); other types are data-type other and value
 * unsupported, NULL is db-null. Errors: connection-failed(libpq's message),
 * query-failed(the server's message). */
#include "engine/fiber.h"
#include "host/spin/data.h"
#include "host/spin/spin.h"
#include "util/alloc.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct spin_pg {
    PGconn *c;
};

/* The cases of spin:postgres@3.0.0's error variant. */
enum { E_CONNECTION_FAILED, E_BAD_PARAMETER, E_QUERY_FAILED, E_CONVERSION, E_OTHER };

/* The cases of db-value / parameter-value (3.0.0) and db-data-type. */
enum {
    V_BOOLEAN,
    V_INT8,
    V_INT16,
    V_INT32,
    V_INT64,
    V_FLOAT32,
    V_FLOAT64,
    V_STR,
    V_BINARY,
    V_DATE,
    V_TIME,
    V_DATETIME,
    V_TIMESTAMP,
    V_NULL,
    V_UNSUPPORTED
};
enum { T_OTHER = 13 };

/* PostgreSQL type OIDs (pg_type.h). */
enum {
    OID_BOOL = 16,
    OID_BYTEA = 17,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_TEXT = 25,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_BPCHAR = 1042,
    OID_VARCHAR = 1043,
    OID_DATE = 1082,
    OID_TIME = 1083,
    OID_TIMESTAMP = 1114,
    OID_TIMESTAMPTZ = 1184
};

void spin_pg_close(spin_pg *p)
{
    if (!p) return;
    if (p->c) PQfinish(p->c);
    kiln_free(p);
}

/* ---- the address check ---- */

/* The i-th of a comma-separated list s (NULL/empty: none) into out (cap bytes). 1 found,
 * 0 none, -1 too long for out (the caller refuses: a truncated name must never be checked
 * in place of the one libpq would use). */
static int nth(const char *s, size_t i, char *out, size_t cap)
{
    if (!s || !*s) return 0;
    for (size_t k = 0; k < i; k++) {
        s = strchr(s, ',');
        if (!s) return 0;
        s++;
    }
    size_t n = strcspn(s, ",");
    if (n >= cap) return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 1;
}

/* The conninfo options a guest may set; others (sslkey=, passfile=, service=, hostaddr=,
 * ...) could make libpq read the host's files or reach an unchecked address. */
static int option_allowed(const char *k)
{
    static const char *const ok[] = {"host",
                                     "port",
                                     "dbname",
                                     "user",
                                     "password",
                                     "connect_timeout",
                                     "application_name",
                                     "sslmode",
                                     "client_encoding",
                                     "options",
                                     "target_session_attrs"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(k, ok[i]) == 0) return 1;
    return 0;
}

/* Parses address as libpq will and checks every host; the options (PQconninfoFree'd by the
 * caller), or NULL with the reason in why (cap bytes). */
static PQconninfoOption *check_address(void *ctx, const char *address, char *why, size_t cap)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(address, &perr);
    if (!opts) {
        size_t n = perr ? strcspn(perr, "\n") : 0;
        snprintf(why, cap, "%.*s", (int)n, perr ? perr : "");
        if (!perr) snprintf(why, cap, "invalid connection string");
        PQfreemem(perr);
        return NULL;
    }
    const char *host = NULL, *port = NULL, *reason = NULL;
    for (PQconninfoOption *o = opts; o->keyword && !reason; o++) {
        if (!o->val || !*o->val) continue;
        if (strcmp(o->keyword, "host") == 0) host = o->val;
        if (strcmp(o->keyword, "port") == 0) port = o->val;
        if (!option_allowed(o->keyword)) {
            snprintf(why, cap, "the connection option %s is not supported", o->keyword);
            reason = why;
        }
    }
    size_t nports = 0;
    for (const char *p = port; p && *p; nports++) {
        p = strchr(p, ',');
        if (p) p++;
    }
    char h[300], pt[16], hp[330];
    if (!reason && !host) reason = "Unix sockets are not supported on WebAssembly";
    for (size_t i = 0; !reason; i++) {
        int got = nth(host, i, h, sizeof h);
        if (got == 0) break;
        int has_port = got > 0 ? nth(port, nports == 1 ? 0 : i, pt, sizeof pt) : 0;
        if (got < 0 || has_port < 0) {
            reason = "a host or port is too long";
            break;
        }
        if (h[0] == '/' || h[0] == '@' || !h[0]) {
            reason = "Unix sockets are not supported on WebAssembly";
            break;
        }
        has_port = has_port && pt[0];
        int v6 = strchr(h, ':') != NULL;
        snprintf(hp, sizeof hp, "%s%s%s%s%s", v6 ? "[" : "", h, v6 ? "]" : "", has_port ? ":" : "",
                 has_port ? pt : "");
        wh_target t;
        if (spin_outbound_allowed(ctx, "postgres", 5432, hp, strlen(hp), &t) != 1) {
            snprintf(why, cap, "address postgres://%s is not permitted", hp);
            reason = why;
        }
    }
    if (reason) {
        if (reason != why) snprintf(why, cap, "%s", reason);
        PQconninfoFree(opts);
        return NULL;
    }
    return opts;
}

/* ---- jobs ---- */

enum { OP_CONNECT, OP_EXEC };

typedef struct pg_job {
    int op;
    const char *const *keys, *const *vals; /* the connection options, NULL-terminated */
    spin_pg *p;
    const char *sql;
    int nparams;
    Oid *types;
    const char **values;
    int *lens, *formats;
    PGresult *res;
    char *err;
} pg_job;

static void run_job(void *arg)
{
    pg_job *j = arg;
    if (j->op == OP_EXEC) {
        j->res =
            PQexecParams(j->p->c, j->sql, j->nparams, j->types, j->values, j->lens, j->formats, 1);
        if (!j->res) j->err = kiln_strdup(PQerrorMessage(j->p->c));
        return;
    }
    PGconn *c = PQconnectdbParams(j->keys, j->vals, 0);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        j->err = kiln_strdup(c ? PQerrorMessage(c) : "out of memory");
        if (c) PQfinish(c);
        return;
    }
    if (!(j->p = kiln_calloc(1, sizeof *j->p))) {
        j->err = kiln_strdup("out of memory");
        PQfinish(c);
        return;
    }
    j->p->c = c;
}

/* A message without libpq's trailing newline, into the arena-backed error. */
static int err_msg(kiln_cabi_cx *cx, kiln_cval *r, uint32_t disc, const char *m)
{
    size_t n = m ? strlen(m) : 0;
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    return spin_err_str(cx, r, disc, "%.*s", (int)n, m ? m : "");
}

static int pg_open(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    char *addr = kiln_cabi_alloc(cx, args[0].str.len + 1);
    if (!addr) return spin_oom(cx);
    memcpy(addr, args[0].str.ptr, args[0].str.len);
    addr[args[0].str.len] = '\0';
    if (memchr(args[0].str.ptr, '\0', args[0].str.len))
        return err_msg(cx, &res[0], E_CONNECTION_FAILED, "invalid connection string");
    char why[512];
    PQconninfoOption *opts = check_address(ctx, addr, why, sizeof why);
    if (!opts) return err_msg(cx, &res[0], E_CONNECTION_FAILED, why);
    spin_data *d = spin_ctx_data(ctx);
    long slot = d ? spin_slot_free((void *const *)d->pg, SPIN_MAX_CONNS) : -1;
    size_t n = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        n++;
    const char **keys = kiln_cabi_alloc(cx, (n + 2) * sizeof *keys);
    const char **vals = kiln_cabi_alloc(cx, (n + 2) * sizeof *vals);
    if (!d || !keys || !vals || slot < 0) {
        PQconninfoFree(opts);
        if (d && keys && vals)
            return err_msg(cx, &res[0], E_CONNECTION_FAILED, "too many connections");
        return spin_oom(cx);
    }
    /* the options as parsed (checked above), and no password file of the host's */
    size_t k = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (o->val && *o->val) keys[k] = o->keyword, vals[k++] = o->val;
    keys[k] = "passfile", vals[k++] = "/dev/null";
    keys[k] = NULL, vals[k] = NULL;
    pg_job j;
    memset(&j, 0, sizeof j);
    j.op = OP_CONNECT;
    j.keys = keys;
    j.vals = vals;
    kiln_offload(run_job, &j);
    PQconninfoFree(opts);
    if (!j.p) {
        int rc = err_msg(cx, &res[0], E_CONNECTION_FAILED, j.err ? j.err : "cannot connect");
        kiln_free(j.err);
        return rc;
    }
    d->pg[slot] = j.p;
    kiln_cval *h = kiln_cabi_alloc(cx, sizeof *h);
    if (!h) return spin_oom(cx);
    h->res.rep = (uint32_t)slot + 1;
    res[0].var.disc = 0;
    res[0].var.payload = h;
    return 0;
}

static spin_pg **conn_of(void *ctx, uint32_t rep)
{
    spin_data *d = spin_ctx_data(ctx);
    if (!d || rep == 0 || rep > SPIN_MAX_CONNS || !d->pg[rep - 1]) return NULL;
    return &d->pg[rep - 1];
}

static void conn_dtor(void *ctx, uint32_t rep)
{
    spin_pg **p = conn_of(ctx, rep);
    if (!p) return;
    spin_pg_close(*p);
    *p = NULL;
}

/* ---- parameters ---- */

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* The civil date of days since 1970-01-01. */
static void civil_from_days(int64_t z, int32_t *y, uint8_t *m, uint8_t *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = (uint8_t)(doy - (153 * mp + 2) / 5 + 1);
    *m = (uint8_t)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int32_t)(yy + (*m <= 2));
}

/* fermyon:spin/postgres@2.0.0's parameter-value cases as 3.0.0's (the unsigned ones,
 * 5..8, are handled apart). */
static uint32_t v2_param(uint32_t disc)
{
    static const uint32_t map[] = {V_BOOLEAN, V_INT8,  V_INT16,  V_INT32, V_INT64,
                                   V_INT16,   V_INT32, V_INT64,  V_INT64, V_FLOAT32,
                                   V_FLOAT64, V_STR,   V_BINARY, V_NULL};
    return disc < sizeof map / sizeof map[0] ? map[disc] : V_NULL;
}

/* One parameter as text (or bytea as binary) in the arena (v2: of 2.0.0's variant). -1
 * out of memory. */
static int param(kiln_cabi_cx *cx, const kiln_cval *v, pg_job *j, int i, int v2)
{
    const kiln_cval *p = v->var.payload;
    char *t = kiln_cabi_alloc(cx, 80);
    if (!t) return -1;
    j->formats[i] = 0;
    j->types[i] = 0;
    if (v2 && v->var.disc >= 5 && v->var.disc <= 8) { /* uint8..uint64: the next wider type */
        static const Oid wider[] = {OID_INT2, OID_INT4, OID_INT8, 0};
        j->types[i] = wider[v->var.disc - 5]; /* u64: inferred (numeric or int8) */
        snprintf(t, 80, "%llu", (unsigned long long)p->u);
        j->values[i] = t;
        j->lens[i] = (int)strlen(t);
        return 0;
    }
    kiln_cval mapped = *v;
    if (v2) mapped.var.disc = v2_param(v->var.disc);
    v = &mapped;
    const kiln_cval *f =
        p && v->var.disc >= V_DATE && v->var.disc <= V_DATETIME ? p->agg.items : NULL;
    switch (v->var.disc) {
    case V_BOOLEAN:
        j->types[i] = OID_BOOL;
        snprintf(t, 80, "%s", p->u ? "t" : "f");
        break;
    case V_INT8:
    case V_INT16:
        j->types[i] = OID_INT2;
        snprintf(t, 80, "%lld", (long long)p->s);
        break;
    case V_INT32:
        j->types[i] = OID_INT4;
        snprintf(t, 80, "%lld", (long long)p->s);
        break;
    case V_INT64:
        j->types[i] = OID_INT8;
        snprintf(t, 80, "%lld", (long long)p->s);
        break;
    case V_FLOAT32:
        j->types[i] = OID_FLOAT4;
        snprintf(t, 80, "%.9g", (double)p->f32);
        break;
    case V_FLOAT64:
        j->types[i] = OID_FLOAT8;
        snprintf(t, 80, "%.17g", p->f64);
        break;
    case V_STR:
    case V_BINARY: {
        char *s = kiln_cabi_alloc(cx, p->str.len + 1);
        if (!s) return -1;
        memcpy(s, p->str.ptr, p->str.len);
        s[p->str.len] = '\0';
        j->values[i] = s;
        j->lens[i] = (int)p->str.len;
        if (v->var.disc == V_BINARY) {
            j->types[i] = OID_BYTEA;
            j->formats[i] = 1;
        } else {
            j->types[i] = OID_TEXT;
        }
        return 0;
    }
    case V_DATE:
        j->types[i] = OID_DATE;
        snprintf(t, 80, "%04lld-%02u-%02u", (long long)f[0].s, (unsigned)f[1].u, (unsigned)f[2].u);
        break;
    case V_TIME:
        j->types[i] = OID_TIME;
        snprintf(t, 80, "%02u:%02u:%02u.%09u", (unsigned)f[0].u, (unsigned)f[1].u, (unsigned)f[2].u,
                 (unsigned)f[3].u);
        break;
    case V_DATETIME:
        j->types[i] = OID_TIMESTAMP;
        snprintf(t, 80, "%04lld-%02u-%02u %02u:%02u:%02u.%09u", (long long)f[0].s, (unsigned)f[1].u,
                 (unsigned)f[2].u, (unsigned)f[3].u, (unsigned)f[4].u, (unsigned)f[5].u,
                 (unsigned)f[6].u);
        break;
    case V_TIMESTAMP: { /* Unix seconds */
        int64_t s = p->s, days = s / 86400 - (s % 86400 < 0);
        int64_t sec = s - days * 86400;
        int32_t y;
        uint8_t mo, d;
        civil_from_days(days, &y, &mo, &d);
        j->types[i] = OID_TIMESTAMPTZ;
        snprintf(t, 80, "%04d-%02u-%02u %02u:%02u:%02u+00", (int)y, mo, d, (unsigned)(sec / 3600),
                 (unsigned)(sec / 60 % 60), (unsigned)(sec % 60));
        break;
    }
    default:
        j->values[i] = NULL;
        return 0; /* db-null */
    }
    j->values[i] = t;
    j->lens[i] = (int)strlen(t);
    return 0;
}

/* ---- results ---- */

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* The db-data-type of a column type. */
static uint32_t data_type(Oid t)
{
    switch (t) {
    case OID_BOOL:
        return V_BOOLEAN;
    case OID_INT2:
        return V_INT16;
    case OID_INT4:
        return V_INT32;
    case OID_INT8:
        return V_INT64;
    case OID_FLOAT4:
        return V_FLOAT32;
    case OID_FLOAT8:
        return V_FLOAT64;
    case OID_TEXT:
    case OID_VARCHAR:
    case OID_BPCHAR:
        return V_STR;
    case OID_BYTEA:
        return V_BINARY;
    case OID_DATE:
        return V_DATE;
    case OID_TIME:
        return V_TIME;
    case OID_TIMESTAMP:
    case OID_TIMESTAMPTZ:
        return V_DATETIME;
    default:
        return T_OTHER;
    }
}

/* 2.0.0's db-value case of a 3.0.0 one (also its data-type, but for 14: other is 13
 * there): the date and time kinds are not in 2.0.0 (unsupported). Not for T_OTHER. */
static uint32_t v2_value(uint32_t kind)
{
    switch (kind) {
    case V_FLOAT32:
        return 9;
    case V_FLOAT64:
        return 10;
    case V_STR:
        return 11;
    case V_BINARY:
        return 12;
    case V_NULL:
        return 13;
    case V_DATE:
    case V_TIME:
    case V_DATETIME:
    case V_TIMESTAMP:
    case V_UNSUPPORTED:
        return 14;
    default:
        return kind;
    }
}

/* A tuple of n items of the arena; NULL out of memory. */
static kiln_cval *tuple(kiln_cabi_cx *cx, kiln_cval *v, uint32_t n)
{
    kiln_cval *items = kiln_cabi_alloc(cx, n * sizeof *items);
    if (!items) return NULL;
    v->agg.items = items;
    v->agg.n = n;
    return items;
}

/* Cell (row, col) of r as a db-value into v (its payload in the arena). -1 out of memory,
 * -2 a value that does not convert. */
static int cell(kiln_cabi_cx *cx, const PGresult *r, int row, int col, kiln_cval *v, int v2)
{
    v->var.payload = NULL;
    if (PQgetisnull(r, row, col)) {
        v->var.disc = v2 ? v2_value(V_NULL) : V_NULL;
        return 0;
    }
    const unsigned char *b = (const unsigned char *)PQgetvalue(r, row, col);
    int n = PQgetlength(r, row, col);
    uint32_t kind = data_type(PQftype(r, col));
    if (kind == T_OTHER || (v2 && v2_value(kind) == 14)) {
        v->var.disc = v2 ? 14 : V_UNSUPPORTED;
        return 0;
    }
    kiln_cval *p = kiln_cabi_alloc(cx, sizeof *p);
    if (!p) return -1;
    v->var.disc = v2 ? v2_value(kind) : kind;
    v->var.payload = p;
    static const int width[] = {
        [V_BOOLEAN] = 1, [V_INT16] = 2, [V_INT32] = 4, [V_INT64] = 8,   [V_FLOAT32] = 4,
        [V_FLOAT64] = 8, [V_DATE] = 4,  [V_TIME] = 8,  [V_DATETIME] = 8};
    if (kind != V_STR && kind != V_BINARY && n != width[kind]) return -2;
    uint64_t raw = kind == V_STR || kind == V_BINARY ? 0 : be(b, n);
    switch (kind) {
    case V_BOOLEAN:
        p->u = raw != 0;
        break;
    case V_INT16:
        p->s = (int16_t)raw;
        break;
    case V_INT32:
        p->s = (int32_t)raw;
        break;
    case V_INT64:
        p->s = (int64_t)raw;
        break;
    case V_FLOAT32: {
        uint32_t w = (uint32_t)raw;
        memcpy(&p->f32, &w, 4);
        break;
    }
    case V_FLOAT64:
        memcpy(&p->f64, &raw, 8);
        break;
    case V_STR:
    case V_BINARY: {
        kiln_cval *s = spin_bytes_val(cx, b, (size_t)n);
        if (!s) return -1;
        *p = *s;
        break;
    }
    case V_DATE: { /* days since 2000-01-01 */
        kiln_cval *f = tuple(cx, p, 3);
        if (!f) return -1;
        int32_t y;
        uint8_t m, d;
        civil_from_days((int32_t)raw + days_from_civil(2000, 1, 1), &y, &m, &d);
        f[0].s = y, f[1].u = m, f[2].u = d;
        break;
    }
    case V_TIME: { /* microseconds since midnight */
        kiln_cval *f = tuple(cx, p, 4);
        if (!f) return -1;
        int64_t us = (int64_t)raw;
        f[0].u = (uint64_t)(us / 3600000000), f[1].u = (uint64_t)(us / 60000000 % 60);
        f[2].u = (uint64_t)(us / 1000000 % 60), f[3].u = (uint64_t)(us % 1000000 * 1000);
        break;
    }
    default: { /* timestamp[tz]: microseconds since 2000-01-01 00:00 (UTC for tz) */
        kiln_cval *f = tuple(cx, p, 7);
        if (!f) return -1;
        int64_t us = (int64_t)raw, day = us / 86400000000 - (us % 86400000000 < 0);
        int64_t rest = us - day * 86400000000;
        int32_t y;
        uint8_t m, d;
        civil_from_days(day + days_from_civil(2000, 1, 1), &y, &m, &d);
        f[0].s = y, f[1].u = m, f[2].u = d;
        f[3].u = (uint64_t)(rest / 3600000000), f[4].u = (uint64_t)(rest / 60000000 % 60);
        f[5].u = (uint64_t)(rest / 1000000 % 60), f[6].u = (uint64_t)(rest % 1000000 * 1000);
        break;
    }
    }
    return 0;
}

/* record row-set {columns: list<record{name, data-type}>, rows: list<list<db-value>>}. */
static int row_set(kiln_cabi_cx *cx, const PGresult *r, kiln_cval *res, int v2)
{
    int nc = PQnfields(r), nr = PQntuples(r);
    kiln_cval *rec = kiln_cabi_alloc(cx, 3 * sizeof *rec);
    kiln_cval *cols = kiln_cabi_alloc(cx, (3 * (size_t)nc + 1) * sizeof *cols);
    kiln_cval *rows = kiln_cabi_alloc(cx, ((size_t)nr + 1) * sizeof *rows);
    if (!rec || !cols || !rows) return spin_oom(cx);
    for (int c = 0; c < nc; c++) {
        kiln_cval *f = &cols[nc + 2 * c];
        const char *name = PQfname(r, c);
        kiln_cval *s = spin_bytes_val(cx, name, strlen(name));
        if (!s) return spin_oom(cx);
        f[0] = *s;
        uint32_t dt = data_type(PQftype(r, c));
        f[1].var.disc = !v2 ? dt : dt == T_OTHER || v2_value(dt) == 14 ? 13 : v2_value(dt);
        f[1].var.payload = NULL;
        cols[c].agg.items = f;
        cols[c].agg.n = 2;
    }
    for (int k = 0; k < nr; k++) {
        kiln_cval *vals = tuple(cx, &rows[k], (uint32_t)nc ? (uint32_t)nc : 1);
        if (!vals) return spin_oom(cx);
        rows[k].agg.n = (uint32_t)nc;
        for (int c = 0; c < nc; c++) {
            int e = cell(cx, r, k, c, &vals[c], v2);
            if (e == -1) return spin_oom(cx);
            if (e == -2)
                return spin_err_str(cx, res, E_CONVERSION, "cannot convert column %s",
                                    PQfname(r, c));
        }
    }
    rec[1].agg.items = cols;
    rec[1].agg.n = (uint32_t)nc;
    rec[2].agg.items = rows;
    rec[2].agg.n = (uint32_t)nr;
    rec[0].agg.items = &rec[1];
    rec[0].agg.n = 2;
    res->var.disc = 0;
    res->var.payload = &rec[0];
    return 0;
}

/* query (rows 1) or execute (rows 0: the number of rows affected). */
static int run_statement(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res,
                         int rows, int v2)
{
    spin_pg **p = conn_of(ctx, args[0].res.rep);
    if (!p) return err_msg(cx, &res[0], E_CONNECTION_FAILED, "no connection found");
    const kiln_cval *params = &args[2];
    if (params->agg.n > 65535) return err_msg(cx, &res[0], E_BAD_PARAMETER, "too many parameters");
    if (memchr(args[1].str.ptr, '\0', args[1].str.len))
        return err_msg(cx, &res[0], E_QUERY_FAILED, "the statement contains a NUL byte");
    pg_job j;
    memset(&j, 0, sizeof j);
    size_t n = params->agg.n;
    char *sql = kiln_cabi_alloc(cx, args[1].str.len + 1);
    j.types = kiln_cabi_alloc(cx, (n + 1) * sizeof *j.types);
    j.values = kiln_cabi_alloc(cx, (n + 1) * sizeof *j.values);
    j.lens = kiln_cabi_alloc(cx, (n + 1) * sizeof *j.lens);
    j.formats = kiln_cabi_alloc(cx, (n + 1) * sizeof *j.formats);
    if (!sql || !j.types || !j.values || !j.lens || !j.formats) return spin_oom(cx);
    memcpy(sql, args[1].str.ptr, args[1].str.len);
    sql[args[1].str.len] = '\0';
    for (size_t i = 0; i < n; i++) {
        const kiln_cval *v = &params->agg.items[i];
        uint32_t kind = v2 ? v2_param(v->var.disc) : v->var.disc;
        if ((kind == V_STR || kind == V_BINARY) && (!v2 || v->var.disc > 8) &&
            v->var.payload->str.len > INT32_MAX)
            return err_msg(cx, &res[0], E_BAD_PARAMETER, "a parameter is too large");
        if (param(cx, v, &j, (int)i, v2) < 0) return spin_oom(cx);
    }
    j.op = OP_EXEC;
    j.p = *p;
    j.sql = sql;
    j.nparams = (int)n;
    kiln_offload(run_job, &j);
    int rc;
    if (!j.res) {
        rc = err_msg(cx, &res[0], E_CONNECTION_FAILED, j.err ? j.err : "failed");
    } else if (PQresultStatus(j.res) != PGRES_TUPLES_OK &&
               PQresultStatus(j.res) != PGRES_COMMAND_OK) {
        rc = err_msg(cx, &res[0], E_QUERY_FAILED, PQresultErrorMessage(j.res));
    } else if (rows) {
        rc = row_set(cx, j.res, &res[0], v2);
    } else {
        kiln_cval *v = kiln_cabi_alloc(cx, sizeof *v);
        if (!v) {
            rc = spin_oom(cx);
        } else {
            v->u = strtoull(PQcmdTuples(j.res), NULL, 10);
            res[0].var.disc = 0;
            res[0].var.payload = v;
            rc = 0;
        }
    }
    if (j.res) PQclear(j.res);
    kiln_free(j.err);
    return rc;
}

static int pg_query(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return run_statement(ctx, cx, args, res, 1, 0);
}
static int pg_execute(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return run_statement(ctx, cx, args, res, 0, 0);
}
static int pg2_query(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return run_statement(ctx, cx, args, res, 1, 1);
}
static int pg2_execute(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return run_statement(ctx, cx, args, res, 0, 1);
}

#define PG3_ERR SPIN_RDBMS_ERR
#define PG3_SCALARS                                                                                \
    "boolean(bool), int8(s8), int16(s16), int32(s32), int64(s64), floating32(f32), "               \
    "floating64(f64), str(string), binary(list<u8>), date(tuple<s32, u8, u8>), time(tuple<u8, "    \
    "u8, u8, u32>), datetime(tuple<s32, u8, u8, u8, u8, u8, u32>), timestamp(s64), db-null"
#define PG3_ROWSET                                                                                 \
    "record{columns: list<record{name: string, data-type: enum{boolean, int8, int16, int32, "      \
    "int64, floating32, floating64, str, binary, date, time, datetime, timestamp, other}}>, "      \
    "rows: list<list<variant{" PG3_SCALARS ", unsupported}>>}"
static const kiln_chost_resource pg_res[] = {{"connection", conn_dtor}};
static const kiln_chost_func pg_funcs[] = {
    {"[static]connection.open", "(string) -> result<own<connection>, " PG3_ERR ">", pg_open},
    {"[method]connection.query",
     "(borrow<connection>, string, list<variant{" PG3_SCALARS "}>) -> result<" PG3_ROWSET
     ", " PG3_ERR ">",
     pg_query},
    {"[method]connection.execute",
     "(borrow<connection>, string, list<variant{" PG3_SCALARS "}>) -> result<u64, " PG3_ERR ">",
     pg_execute},
};
const kiln_chost_iface kiln_spin_postgres_iface = {
    "spin:postgres/postgres", "3.0.0", pg_res, 1, pg_funcs, 3};

/* fermyon:spin/postgres@2.0.0: the same connections, rdbms-types' values. */
static const kiln_chost_func pg2_funcs[] = {
    {"[static]connection.open", "(string) -> result<own<connection>, " SPIN_RDBMS_ERR ">", pg_open},
    {"[method]connection.query",
     "(borrow<connection>, string, list<" SPIN_RDBMS_PARAM ">) -> result<" SPIN_RDBMS_ROWSET
     ", " SPIN_RDBMS_ERR ">",
     pg2_query},
    {"[method]connection.execute",
     "(borrow<connection>, string, list<" SPIN_RDBMS_PARAM ">) -> result<u64, " SPIN_RDBMS_ERR ">",
     pg2_execute},
};
const kiln_chost_iface kiln_spin_postgres2_iface = {
    "fermyon:spin/postgres", "2.0.0", pg_res, 1, pg2_funcs, 3};
