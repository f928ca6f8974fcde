/* redis.c — outbound Redis, fermyon:spin/redis@2.0.0 (spin.h), through hiredis.
 *
 * connection.open(address) takes Spin's URL form "redis://[user][:password@]host[:port][/db]"
 * (port 6379 by default). The host and port are checked against the component's
 * allowed_outbound_hosts ("redis://host:port", "*://host:*", ...; data.h) before anything
 * connects; a denied or malformed address answers invalid-address, as Spin does, and a
 * denial is logged. The connection (with AUTH and SELECT when the URL asks) and every
 * command run through kiln_offload: hiredis blocks a pool thread while the guest's fiber
 * parks. Connect timeout 5 s, command timeout 30 s. Replies convert as Spin's: execute
 * flattens arrays into its list of results, "OK"-like replies are status, bulk strings
 * binary; an error reply is other(the server's message), WRONGTYPE for sadd type-error. */
#include "engine/fiber.h"
#include "host/spin/data.h"
#include "host/spin/spin.h"
#include "util/alloc.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

struct spin_redis {
    redisContext *c;
};

/* The cases of Spin's redis error variant. */
enum { E_INVALID_ADDRESS, E_TOO_MANY, E_TYPE_ERROR, E_OTHER };

/* A result larger than this is refused (Spin's MAX_HOST_BUFFERED_BYTES). */
#define REDIS_MAX_RESULT (128u << 20)

void spin_redis_close(spin_redis *r)
{
    if (!r) return;
    if (r->c) redisFree(r->c);
    kiln_free(r);
}

enum { OP_CONNECT, OP_COMMAND };

typedef struct redis_job {
    int op;
    /* connect */
    char host[WH_HOST_MAX + 3];
    int port;
    const char *user, *pass; /* NUL-terminated copies, or NULL */
    long db;                 /* -1: none */
    /* command */
    spin_redis *r;
    int argc;
    const char **argv;
    size_t *argvlen;
    /* out */
    redisReply *reply;
    char *err;
} redis_job;

/* One command on r->c; the reply, or NULL with *err. */
static redisReply *command(redisContext *c, int argc, const char **argv, const size_t *lens,
                           char **err)
{
    redisReply *rep = redisCommandArgv(c, argc, argv, lens);
    if (!rep) *err = kiln_strdup(c->errstr[0] ? c->errstr : "the connection failed");
    return rep;
}

static void run_job(void *arg)
{
    redis_job *j = arg;
    if (j->op == OP_COMMAND) {
        j->reply = command(j->r->c, j->argc, j->argv, j->argvlen, &j->err);
        return;
    }
    struct timeval connect_tv = {5, 0}, io_tv = {30, 0};
    redisContext *c = redisConnectWithTimeout(j->host, j->port, connect_tv);
    if (!c || c->err) {
        j->err = kiln_strdup(c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return;
    }
    redisSetTimeout(c, io_tv);
    char dbs[24];
    const char *argv[3];
    size_t lens[3];
    int argc = 0;
    if (j->pass) {
        argv[argc++] = "AUTH";
        if (j->user && *j->user) argv[argc++] = j->user;
        argv[argc++] = j->pass;
    }
    for (int step = 0; step < 2; step++) {
        if (step == 1) {
            if (j->db < 0) break;
            snprintf(dbs, sizeof dbs, "%ld", j->db);
            argv[0] = "SELECT";
            argv[1] = dbs;
            argc = 2;
        }
        if (!argc) continue;
        for (int i = 0; i < argc; i++)
            lens[i] = strlen(argv[i]);
        redisReply *rep = command(c, argc, argv, lens, &j->err);
        if (rep && rep->type == REDIS_REPLY_ERROR) j->err = kiln_strndup(rep->str, rep->len);
        if (rep) freeReplyObject(rep);
        if (j->err) {
            redisFree(c);
            return;
        }
    }
    if (!(j->r = kiln_calloc(1, sizeof *j->r))) {
        j->err = kiln_strdup("out of memory");
        redisFree(c);
        return;
    }
    j->r->c = c;
}

/* ---- open ---- */

/* Splits "redis://[user][:pass@]hostport[/db]" into j (user, pass copied into the arena)
 * and *hostport. 0, or -1 when malformed. */
static int parse_address(kiln_cabi_cx *cx, const char *a, size_t n, redis_job *j,
                         const char **hostport, size_t *hlen)
{
    if (n < 8 || strncasecmp(a, "redis://", 8) != 0) return -1;
    const char *p = a + 8, *end = a + n;
    const char *slash = memchr(p, '/', (size_t)(end - p));
    const char *auth_end = slash ? slash : end;
    j->db = -1;
    if (slash && slash + 1 < end) {
        long db = 0;
        for (const char *d = slash + 1; d < end; d++) {
            if (*d < '0' || *d > '9' || db > 100000) return -1;
            db = db * 10 + (*d - '0');
        }
        j->db = db;
    }
    const char *at = NULL;
    for (const char *q = p; q < auth_end; q++)
        if (*q == '@') at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *uend = colon ? colon : at;
        char *user = kiln_cabi_alloc(cx, (size_t)(uend - p) + 1);
        char *pass = colon ? kiln_cabi_alloc(cx, (size_t)(at - colon)) : NULL;
        if (!user || (colon && !pass)) return -2;
        memcpy(user, p, (size_t)(uend - p));
        user[uend - p] = '\0';
        j->user = user;
        if (colon) {
            memcpy(pass, colon + 1, (size_t)(at - colon - 1));
            pass[at - colon - 1] = '\0';
            j->pass = pass;
        }
        p = at + 1;
    }
    *hostport = p;
    *hlen = (size_t)(auth_end - p);
    return *hlen ? 0 : -1;
}

static int r_open(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    redis_job j;
    memset(&j, 0, sizeof j);
    const char *hp = NULL;
    size_t hl = 0;
    int p = parse_address(cx, args[0].str.ptr, args[0].str.len, &j, &hp, &hl);
    if (p == -2) return spin_oom(cx);
    wh_target t;
    if (p < 0 || spin_outbound_allowed(ctx, "redis", 6379, hp, hl, &t) != 1)
        return spin_err_case(cx, &res[0], E_INVALID_ADDRESS);
    /* hiredis wants an IPv6 literal without its brackets */
    size_t hn = strlen(t.host);
    if (t.ip == 6 && hn >= 2) {
        memcpy(j.host, t.host + 1, hn - 2);
        j.host[hn - 2] = '\0';
    } else {
        memcpy(j.host, t.host, hn + 1);
    }
    j.port = t.port;
    spin_data *d = spin_ctx_data(ctx);
    if (!d) return spin_oom(cx);
    long slot = spin_slot_free((void *const *)d->redis, SPIN_MAX_CONNS);
    if (slot < 0) return spin_err_case(cx, &res[0], E_TOO_MANY);
    j.op = OP_CONNECT;
    kiln_offload(run_job, &j);
    if (!j.r) {
        /* Spin answers invalid-address when the connection cannot be made */
        const spin_component *c = spin_ctx_component(ctx);
        fprintf(stderr, "kiln: component %s: redis %s:%d: %s\n", c ? spin_component_id(c) : "?",
                t.host, t.port, j.err ? j.err : "cannot connect");
        kiln_free(j.err);
        return spin_err_case(cx, &res[0], E_INVALID_ADDRESS);
    }
    /* another call of this instance cannot have taken the slot: one call at a time */
    d->redis[slot] = j.r;
    kiln_cval *h = kiln_cabi_alloc(cx, sizeof *h);
    if (!h) return spin_oom(cx);
    h->res.rep = (uint32_t)slot + 1;
    res[0].var.disc = 0;
    res[0].var.payload = h;
    return 0;
}

static spin_redis **conn_of(void *ctx, uint32_t rep)
{
    spin_data *d = spin_ctx_data(ctx);
    if (!d || rep == 0 || rep > SPIN_MAX_CONNS || !d->redis[rep - 1]) return NULL;
    return &d->redis[rep - 1];
}

static void conn_dtor(void *ctx, uint32_t rep)
{
    spin_redis **r = conn_of(ctx, rep);
    if (!r) return;
    spin_redis_close(*r);
    *r = NULL;
}

/* ---- commands ---- */

/* argv of NAME + fixed strings + a list (of strings or of redis-parameters). */
typedef struct argv_b {
    const char **argv;
    size_t *lens;
    int argc;
} argv_b;

static int argv_init(kiln_cabi_cx *cx, argv_b *a, size_t max)
{
    if (max > 1u << 24) return -1;
    a->argv = kiln_cabi_alloc(cx, max * sizeof *a->argv);
    a->lens = kiln_cabi_alloc(cx, max * sizeof *a->lens);
    a->argc = 0;
    return a->argv && a->lens ? 0 : -1;
}

static void argv_add(argv_b *a, const char *p, size_t n)
{
    a->argv[a->argc] = n ? p : "";
    a->lens[a->argc++] = n;
}

/* Runs argv on connection v; the reply (freed by the caller with freeReplyObject), or NULL
 * with results[0] set to an error (0 returned in *rc) or a trap (-1 in *rc). */
static redisReply *run_cmd(void *ctx, kiln_cabi_cx *cx, const kiln_cval *v, argv_b *a, kiln_cval *r,
                           int *rc)
{
    spin_redis **conn = conn_of(ctx, v->res.rep);
    *rc = 0;
    if (!conn) {
        *rc = spin_err_str(cx, r, E_OTHER, "could not find connection for resource");
        return NULL;
    }
    redis_job j;
    memset(&j, 0, sizeof j);
    j.op = OP_COMMAND;
    j.r = *conn;
    j.argc = a->argc;
    j.argv = a->argv;
    j.argvlen = a->lens;
    kiln_offload(run_job, &j);
    if (!j.reply) {
        *rc = spin_err_str(cx, r, E_OTHER, "%s", j.err ? j.err : "failed");
        kiln_free(j.err);
        return NULL;
    }
    if (j.reply->type == REDIS_REPLY_ERROR) {
        int wrongtype = j.reply->len >= 9 && memcmp(j.reply->str, "WRONGTYPE", 9) == 0;
        *rc = wrongtype && a->argc && strcmp(a->argv[0], "SADD") == 0
                  ? spin_err_case(cx, r, E_TYPE_ERROR)
                  : spin_err_str(cx, r, E_OTHER, "%.*s",
                                 j.reply->len > 65536 ? 65536 : (int)j.reply->len, j.reply->str);
        freeReplyObject(j.reply);
        return NULL;
    }
    return j.reply;
}

static void ok(kiln_cval *r, kiln_cval *payload)
{
    r->var.disc = 0;
    r->var.payload = payload;
}

/* results[0] = the reply as an integer of kind s64 / u32, or type-error-free other. */
static int int_result(kiln_cabi_cx *cx, redisReply *rep, kiln_cval *r, int is_u32)
{
    if (rep->type != REDIS_REPLY_INTEGER ||
        (is_u32 && (rep->integer < 0 || rep->integer > UINT32_MAX)))
        return spin_err_str(cx, r, E_OTHER, "Response was of incompatible type");
    kiln_cval *v = kiln_cabi_alloc(cx, sizeof *v);
    if (!v) return spin_oom(cx);
    if (is_u32)
        v->u = (uint64_t)rep->integer;
    else
        v->s = rep->integer;
    ok(r, v);
    return 0;
}

/* A command of NAME, key and then a list of strings (del: keys only). */
static int key_list_cmd(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res,
                        const char *name, int has_key)
{
    const kiln_cval *list = &args[has_key ? 2 : 1];
    argv_b a;
    if (argv_init(cx, &a, (size_t)list->agg.n + 2) < 0) return spin_oom(cx);
    argv_add(&a, name, strlen(name));
    if (has_key) argv_add(&a, args[1].str.ptr, args[1].str.len);
    for (uint32_t i = 0; i < list->agg.n; i++)
        argv_add(&a, list->agg.items[i].str.ptr, list->agg.items[i].str.len);
    int rc;
    redisReply *rep = run_cmd(ctx, cx, &args[0], &a, &res[0], &rc);
    if (!rep) return rc;
    rc = int_result(cx, rep, &res[0], 1);
    freeReplyObject(rep);
    return rc;
}

static int r_publish(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    argv_b a;
    if (argv_init(cx, &a, 3) < 0) return spin_oom(cx);
    argv_add(&a, "PUBLISH", 7);
    argv_add(&a, args[1].str.ptr, args[1].str.len);
    argv_add(&a, args[2].str.ptr, args[2].str.len);
    int rc;
    redisReply *rep = run_cmd(ctx, cx, &args[0], &a, &res[0], &rc);
    if (!rep) return rc;
    freeReplyObject(rep);
    ok(&res[0], NULL);
    return 0;
}

static int r_get(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    argv_b a;
    if (argv_init(cx, &a, 2) < 0) return spin_oom(cx);
    argv_add(&a, "GET", 3);
    argv_add(&a, args[1].str.ptr, args[1].str.len);
    int rc;
    redisReply *rep = run_cmd(ctx, cx, &args[0], &a, &res[0], &rc);
    if (!rep) return rc;
    kiln_cval *o = kiln_cabi_alloc(cx, sizeof *o);
    if (!o) {
        rc = spin_oom(cx);
    } else if (rep->type == REDIS_REPLY_NIL) {
        o->var.disc = 0;
        o->var.payload = NULL;
        ok(&res[0], o);
    } else if (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS) {
        o->var.disc = 1;
        if (!(o->var.payload = spin_bytes_val(cx, rep->str, rep->len)))
            rc = spin_oom(cx);
        else
            ok(&res[0], o);
    } else {
        rc = spin_err_str(cx, &res[0], E_OTHER, "Response was of incompatible type");
    }
    freeReplyObject(rep);
    return rc;
}

static int r_set(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    argv_b a;
    if (argv_init(cx, &a, 3) < 0) return spin_oom(cx);
    argv_add(&a, "SET", 3);
    argv_add(&a, args[1].str.ptr, args[1].str.len);
    argv_add(&a, args[2].str.ptr, args[2].str.len);
    int rc;
    redisReply *rep = run_cmd(ctx, cx, &args[0], &a, &res[0], &rc);
    if (!rep) return rc;
    freeReplyObject(rep);
    ok(&res[0], NULL);
    return 0;
}

static int r_incr(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    argv_b a;
    if (argv_init(cx, &a, 3) < 0) return spin_oom(cx);
    argv_add(&a, "INCRBY", 6);
    argv_add(&a, args[1].str.ptr, args[1].str.len);
    argv_add(&a, "1", 1);
    int rc;
    redisReply *rep = run_cmd(ctx, cx, &args[0], &a, &res[0], &rc);
    if (!rep) return rc;
    rc = int_result(cx, rep, &res[0], 0);
    freeReplyObject(rep);
    return rc;
}

static int r_del(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return key_list_cmd(ctx, cx, args, res, "DEL", 0);
}
static int r_sadd(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return key_list_cmd(ctx, cx, args, res, "SADD", 1);
}
static int r_srem(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return key_list_cmd(ctx, cx, args, res, "SREM", 1);
}

static int r_smembers(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    argv_b a;
    if (argv_init(cx, &a, 2) < 0) return spin_oom(cx);
    argv_add(&a, "SMEMBERS", 8);
    argv_add(&a, args[1].str.ptr, args[1].str.len);
    int rc;
    redisReply *rep = run_cmd(ctx, cx, &args[0], &a, &res[0], &rc);
    if (!rep) return rc;
    if (rep->type != REDIS_REPLY_ARRAY) {
        rc = spin_err_str(cx, &res[0], E_OTHER, "Response was of incompatible type");
        freeReplyObject(rep);
        return rc;
    }
    kiln_cval *list = kiln_cabi_alloc(cx, (rep->elements + 1) * sizeof *list);
    if (!list) rc = spin_oom(cx);
    for (size_t i = 0; rc == 0 && i < rep->elements; i++) {
        redisReply *e = rep->element[i];
        kiln_cval *s = spin_bytes_val(cx, e->str ? e->str : "", e->str ? e->len : 0);
        if (!s)
            rc = spin_oom(cx);
        else
            list[1 + i] = *s;
    }
    if (rc == 0) {
        list[0].agg.items = list + 1;
        list[0].agg.n = (uint32_t)rep->elements;
        ok(&res[0], &list[0]);
    }
    freeReplyObject(rep);
    return rc;
}

/* The number of results rep flattens to and their bytes; -1 for a type Spin refuses. */
static long count_results(const redisReply *rep, size_t *bytes)
{
    if (rep->type != REDIS_REPLY_ARRAY) {
        *bytes += sizeof(kiln_cval) + rep->len;
        return rep->type == REDIS_REPLY_ERROR ? -1 : 1;
    }
    long n = 0;
    for (size_t i = 0; i < rep->elements; i++) {
        long k = count_results(rep->element[i], bytes);
        if (k < 0) return -1;
        n += k;
    }
    return n;
}

/* Appends rep flattened into out[*k...] (variant redis-result: nil, status, int64,
 * binary). -1 out of memory. */
static int flatten(kiln_cabi_cx *cx, const redisReply *rep, kiln_cval *out, size_t *k)
{
    if (rep->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < rep->elements; i++)
            if (flatten(cx, rep->element[i], out, k) < 0) return -1;
        return 0;
    }
    kiln_cval *v = &out[(*k)++];
    v->var.payload = NULL;
    switch (rep->type) {
    case REDIS_REPLY_NIL:
        v->var.disc = 0;
        return 0;
    case REDIS_REPLY_INTEGER:
        v->var.disc = 2;
        if (!(v->var.payload = kiln_cabi_alloc(cx, sizeof *v->var.payload))) return -1;
        v->var.payload->s = rep->integer;
        return 0;
    default:
        v->var.disc = rep->type == REDIS_REPLY_STATUS ? 1 : 3;
        return (v->var.payload = spin_bytes_val(cx, rep->str, rep->len)) ? 0 : -1;
    }
}

static int r_execute(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    const kiln_cval *params = &args[2];
    argv_b a;
    if (argv_init(cx, &a, (size_t)params->agg.n + 1) < 0) return spin_oom(cx);
    argv_add(&a, args[1].str.ptr, args[1].str.len);
    for (uint32_t i = 0; i < params->agg.n; i++) {
        const kiln_cval *p = &params->agg.items[i];
        if (p->var.disc == 0) { /* int64: its decimal text, as the redis crate sends it */
            char *num = kiln_cabi_alloc(cx, 24);
            if (!num) return spin_oom(cx);
            int len = snprintf(num, 24, "%lld", (long long)p->var.payload->s);
            argv_add(&a, num, (size_t)len);
        } else {
            argv_add(&a, p->var.payload->str.ptr, p->var.payload->str.len);
        }
    }
    int rc;
    redisReply *rep = run_cmd(ctx, cx, &args[0], &a, &res[0], &rc);
    if (!rep) return rc;
    size_t bytes = 0;
    long n = count_results(rep, &bytes);
    if (n < 0) {
        rc = spin_err_str(cx, &res[0], E_OTHER, "Could not convert Redis response");
    } else if (bytes > REDIS_MAX_RESULT) {
        rc = spin_err_str(cx, &res[0], E_OTHER, "query result exceeds limit of %u bytes",
                          REDIS_MAX_RESULT);
    } else {
        kiln_cval *list = kiln_cabi_alloc(cx, ((size_t)n + 1) * sizeof *list);
        size_t k = 0;
        if (!list || flatten(cx, rep, list + 1, &k) < 0) {
            rc = spin_oom(cx);
        } else {
            list[0].agg.items = list + 1;
            list[0].agg.n = (uint32_t)k;
            ok(&res[0], &list[0]);
        }
    }
    freeReplyObject(rep);
    return rc;
}

#define ERR "variant{invalid-address, too-many-connections, type-error, other(string)}"
#define RRESULT "variant{nil, status(string), int64(s64), binary(list<u8>)}"
static const kiln_chost_resource redis_res[] = {{"connection", conn_dtor}};
static const kiln_chost_func redis_funcs[] = {
    {"[static]connection.open", "(string) -> result<own<connection>, " ERR ">", r_open},
    {"[method]connection.publish", "(borrow<connection>, string, list<u8>) -> result<_, " ERR ">",
     r_publish},
    {"[method]connection.get", "(borrow<connection>, string) -> result<option<list<u8>>, " ERR ">",
     r_get},
    {"[method]connection.set", "(borrow<connection>, string, list<u8>) -> result<_, " ERR ">",
     r_set},
    {"[method]connection.incr", "(borrow<connection>, string) -> result<s64, " ERR ">", r_incr},
    {"[method]connection.del", "(borrow<connection>, list<string>) -> result<u32, " ERR ">", r_del},
    {"[method]connection.sadd",
     "(borrow<connection>, string, list<string>) -> result<u32, " ERR ">", r_sadd},
    {"[method]connection.smembers", "(borrow<connection>, string) -> result<list<string>, " ERR ">",
     r_smembers},
    {"[method]connection.srem",
     "(borrow<connection>, string, list<string>) -> result<u32, " ERR ">", r_srem},
    {"[method]connection.execute",
     "(borrow<connection>, string, list<variant{int64(s64), binary(list<u8>)}>) -> "
     "result<list<" RRESULT ">, " ERR ">",
     r_execute},
};
const kiln_chost_iface kiln_spin_redis_iface = {"fermyon:spin/redis", "2.0.0", redis_res, 1,
                                                redis_funcs,          10};
/* spin:redis/redis@3.0.0: the same functions, types and errors, declared `async func`
 * (Spin's Python SDK 5 imports it); each completes before it returns. */
const kiln_chost_iface kiln_spin_redis3_iface = {"spin:redis/redis", "3.0.0", redis_res, 1,
                                                 redis_funcs,        10};
