/* kv.c — the key-value hosts (fermyon:spin/key-value@2.0.0, spin:key-value/key-value@3.0.0,
 * wasi:keyvalue store, atomics and batch @0.2.0-draft2) and the "spin" provider's instance
 * context (spin.h).
 *
 * A store or bucket handle's rep is its index + 1 in the context's table of open stores
 * (both interfaces share it: the guest's handle tables keep their types apart); a cas's
 * rep indexes the table of cas handles. Every database call runs as a job through
 * kiln_offload: the guest's fiber parks while a pool thread does the SQLite work. */
#include "engine/fiber.h"
#include "host/spin/data.h"
#include "host/spin/kv_sink.h"
#include "host/spin/spin.h"
#include "util/alloc.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct kv_open {
    kiln_kvs *db; /* NULL: a free slot */
    const char *label;
} kv_open;

typedef struct kv_cas {
    kiln_kvs *db; /* NULL: a free slot */
    const char *label;
    const char *comp; /* the component's id, for the metrics (NULL: unknown) */
    char *key;
    size_t klen;
    uint8_t *cur; /* the value current() saw (NULL: absent, or current never called) */
    size_t curlen;
} kv_cas;

/* A spin:key-value@3.0.0 get-keys listing: its keys, read by the guest through a stream. */
typedef struct kv_listing {
    struct kv_listing *next;
    struct spin_ctx *c;
    kiln_kvs_list list;
    size_t at; /* the next key to give */
} kv_listing;

typedef struct spin_ctx {
    const spin_component *comp; /* NULL: a component the application does not know */
    kv_listing *listings;       /* get-keys streams the guest has not read to their end */
    kv_open *open;              /* KILN_KV_MAX_OPEN entries once the first store opens */
    kv_cas *cas;                /* KILN_KV_MAX_OPEN entries once the first cas is made */
    spin_data *data;            /* SQLite, Redis, PostgreSQL connections (data.h) */
    char **outbound;            /* allowed_outbound_hosts (kiln_grants_outbound), copied */
    size_t noutbound;
} spin_ctx;

const char *const *spin_ctx_outbound(void *ctx, size_t *n)
{
    spin_ctx *c = ctx;
    *n = c->noutbound;
    return (const char *const *)c->outbound;
}

spin_data *spin_ctx_data(void *ctx)
{
    spin_ctx *c = ctx;
    if (!c->data) c->data = kiln_calloc(1, sizeof *c->data);
    return c->data;
}

const spin_component *spin_ctx_component(void *ctx)
{
    return ((spin_ctx *)ctx)->comp;
}

/* The two error variants: fermyon's (store-table-full, no-such-store, access-denied,
 * other) and wasi:keyvalue's (no-such-store, access-denied, other). */
enum { API_SPIN, API_WASI };
enum { E_TABLE_FULL, E_NO_SUCH_STORE, E_ACCESS_DENIED };

static int oom(kiln_cabi_cx *cx)
{
    snprintf(cx->err, sizeof cx->err, "out of memory");
    return -1;
}

/* results[0] = err(e) of api's variant. */
static int err_case(kiln_cabi_cx *cx, kiln_cval *r, int api, int e)
{
    if (api == API_WASI && e == E_TABLE_FULL) return spin_err_str(cx, r, 2, "too many stores open");
    kiln_cval *p = kiln_cabi_alloc(cx, sizeof *p);
    if (!p) return oom(cx);
    p->var.disc = (uint32_t)(api == API_SPIN ? e : e - 1);
    p->var.payload = NULL;
    r->var.disc = 1;
    r->var.payload = p;
    return 0;
}

/* results[0] = err(other(msg)); the message is also logged (never the data). */
static int err_other(kiln_cabi_cx *cx, kiln_cval *r, int api, spin_ctx *c, const char *msg, int log)
{
    if (log)
        fprintf(stderr, "kiln: component %s: key-value: %s\n",
                c->comp ? spin_component_id(c->comp) : "?", msg);
    return spin_err_str(cx, r, api == API_SPIN ? 3 : 2, "%s", msg);
}

/* results[0] = ok(payload) (payload NULL: ok with none). */
static void ok(kiln_cval *r, kiln_cval *payload)
{
    r->var.disc = 0;
    r->var.payload = payload;
}

/* A cval in the arena: bytes copied (a list<u8>, compact) or a string. NULL on OOM. */
static kiln_cval *bytes_val(kiln_cabi_cx *cx, const void *p, size_t n)
{
    kiln_cval *v = kiln_cabi_alloc(cx, sizeof *v);
    char *b = v ? kiln_cabi_alloc(cx, n ? n : 1) : NULL;
    if (!b) return NULL;
    if (n) memcpy(b, p, n);
    v->str.ptr = b;
    v->str.len = n;
    return v;
}

kiln_cval *spin_bytes_val(kiln_cabi_cx *cx, const void *p, size_t n)
{
    return bytes_val(cx, p, n);
}

int spin_oom(kiln_cabi_cx *cx)
{
    return oom(cx);
}

/* option<list<u8>>: some(bytes) when found, else none. NULL on OOM. */
static kiln_cval *opt_bytes(kiln_cabi_cx *cx, const uint8_t *p, size_t n, int found)
{
    kiln_cval *o = kiln_cabi_alloc(cx, sizeof *o);
    if (!o) return NULL;
    o->var.disc = found ? 1 : 0;
    o->var.payload = found ? bytes_val(cx, p, n) : NULL;
    return found && !o->var.payload ? NULL : o;
}

/* ---- jobs on the offload pool ---- */

enum {
    OP_GET,
    OP_SET,
    OP_DELETE,
    OP_EXISTS,
    OP_KEYS,
    OP_INCREMENT,
    OP_SWAP,
    OP_GET_MANY,
    OP_SET_MANY,
    OP_DELETE_MANY
};

typedef struct kv_job {
    int op;
    const char *comp;   /* the component's id, for the metrics sink (NULL: unknown) */
    const char *opname; /* the operation's name there (NULL: op's) */
    kiln_kvs *db;
    const char *label;
    const char *key; /* also the cursor of OP_KEYS (NULL: from the first) */
    size_t klen;
    const uint8_t *val, *old;
    size_t vlen, oldlen;
    int64_t delta;
    size_t n; /* batches */
    const char **keys;
    size_t *klens;
    const uint8_t **vals;
    size_t *vlens;
    /* out */
    uint8_t *out;
    size_t outlen;
    int flag; /* found, exists, more, swapped */
    int64_t num;
    kiln_kvs_list list;
    int rc;
    char *err;
} kv_job;

static void run_job(void *arg)
{
    kv_job *j = arg;
    switch (j->op) {
    case OP_GET:
        j->rc =
            kiln_kvs_get(j->db, j->label, j->key, j->klen, &j->out, &j->outlen, &j->flag, &j->err);
        break;
    case OP_SET:
        j->rc = kiln_kvs_set(j->db, j->label, j->key, j->klen, j->val, j->vlen, &j->err);
        break;
    case OP_DELETE:
        j->rc = kiln_kvs_delete(j->db, j->label, j->key, j->klen, &j->err);
        break;
    case OP_EXISTS:
        j->rc = kiln_kvs_exists(j->db, j->label, j->key, j->klen, &j->flag, &j->err);
        break;
    case OP_KEYS:
        j->rc = kiln_kvs_keys(j->db, j->label, j->key, j->klen, KILN_KV_MAX_LIST_BYTES, &j->list,
                              &j->flag, &j->err);
        break;
    case OP_INCREMENT:
        j->rc = kiln_kvs_increment(j->db, j->label, j->key, j->klen, j->delta, &j->num, &j->err);
        break;
    case OP_SWAP:
        j->rc = kiln_kvs_swap(j->db, j->label, j->key, j->klen, j->old, j->oldlen, j->val, j->vlen,
                              &j->flag, &j->err);
        break;
    case OP_GET_MANY:
        j->rc = kiln_kvs_get_many(j->db, j->label, j->n, j->keys, j->klens, &j->list, &j->err);
        break;
    case OP_SET_MANY:
        j->rc =
            kiln_kvs_set_many(j->db, j->label, j->n, j->keys, j->klens, j->vals, j->vlens, &j->err);
        break;
    case OP_DELETE_MANY:
        j->rc = kiln_kvs_delete_many(j->db, j->label, j->n, j->keys, j->klens, &j->err);
        break;
    }
}

static void (*kv_sink)(void *ctx, const char *component, const char *store, const char *op, int ok,
                       uint64_t duration_ns);
static void *kv_sink_ctx;

void kiln_spin_set_kv_sink(void (*sink)(void *ctx, const char *component, const char *store,
                                        const char *op, int ok, uint64_t duration_ns),
                           void *ctx)
{
    kv_sink = sink;
    kv_sink_ctx = ctx;
}

/* Runs j on the offload pool while the guest's fiber parks (or here, off fibers). When the
 * guest's time limit passed meanwhile the job still ran in full; the trampoline unwinds
 * the guest once the host function returns. Reports the operation to the sink, if any. */
static void run(kv_job *j)
{
    static const char *const names[] = {"get",      "set",        "delete",   "exists",
                                        "get-keys", "increment",  "cas-swap", "get-many",
                                        "set-many", "delete-many"};
    struct timespec t0, t1;
    int timed = kv_sink && clock_gettime(CLOCK_MONOTONIC, &t0) == 0;
    kiln_offload(run_job, j);
    if (timed && clock_gettime(CLOCK_MONOTONIC, &t1) == 0) {
        int64_t ns = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec);
        kv_sink(kv_sink_ctx, j->comp, j->label, j->opname ? j->opname : names[j->op], j->rc >= 0,
                ns > 0 ? (uint64_t)ns : 0);
    }
}

/* Frees what a job returned. */
static void job_done(kv_job *j)
{
    kiln_free(j->out);
    kiln_free(j->err);
    kiln_kvs_list_free(&j->list);
}

/* ---- open stores ---- */

static kv_open *store_of(spin_ctx *c, uint32_t rep)
{
    if (!c->open || rep == 0 || rep > KILN_KV_MAX_OPEN || !c->open[rep - 1].db) return NULL;
    return &c->open[rep - 1];
}

static void store_dtor(void *ctx, uint32_t rep)
{
    kv_open *o = store_of(ctx, rep);
    if (o) o->db = NULL;
}

/* open(label) for both APIs. */
static int do_open(spin_ctx *c, kiln_cabi_cx *cx, const kiln_cval *label, kiln_cval *r, int api)
{
    kiln_kvs *db = NULL;
    const char *name = NULL;
    int found =
        c->comp ? spin_component_store(c->comp, label->str.ptr, label->str.len, &db, &name) : -1;
    if (found < 0) {
        spin_log_denied(c, "key-value store", label->str.ptr, label->str.len);
        return err_case(cx, r, api, E_ACCESS_DENIED);
    }
    if (found == 0 || !db) return err_case(cx, r, api, E_NO_SUCH_STORE);
    if (!c->open && !(c->open = kiln_calloc(KILN_KV_MAX_OPEN, sizeof *c->open))) return oom(cx);
    uint32_t i = 0;
    while (i < KILN_KV_MAX_OPEN && c->open[i].db)
        i++;
    if (i == KILN_KV_MAX_OPEN) return err_case(cx, r, api, E_TABLE_FULL);
    kiln_cval *h = kiln_cabi_alloc(cx, sizeof *h);
    if (!h) return oom(cx);
    c->open[i] = (kv_open){db, name};
    h->res.rep = i + 1;
    ok(r, h);
    return 0;
}

/* The open store of handle v, with a job aimed at it; -1 (trap) when the rep is stale. */
static kv_open *job_store(spin_ctx *c, kiln_cabi_cx *cx, const kiln_cval *v, kv_job *j, int op)
{
    kv_open *o = store_of(c, v->res.rep);
    memset(j, 0, sizeof *j);
    if (!o) {
        snprintf(cx->err, sizeof cx->err, "key-value: not an open store");
        return NULL;
    }
    j->op = op;
    j->comp = c->comp ? spin_component_id(c->comp) : NULL;
    j->db = o->db;
    j->label = o->label;
    return o;
}

/* Checks a key's length; 1 when it is too long (results[0] set to the error). */
static int key_too_long(kiln_cabi_cx *cx, const kiln_cval *key, kiln_cval *r, int api, int *rc)
{
    if (key->str.len <= KILN_KV_MAX_KEY) return 0;
    *rc = spin_err_str(cx, r, api == API_SPIN ? 3 : 2, "the key is longer than %u bytes",
                       KILN_KV_MAX_KEY);
    return 1;
}

/* The result of a finished job that answers nothing but ok / other. */
static int finish_unit(spin_ctx *c, kiln_cabi_cx *cx, kv_job *j, kiln_cval *r, int api)
{
    int rc = j->rc < 0 ? err_other(cx, r, api, c, j->err ? j->err : "failed", 1) : 0;
    if (j->rc == 0) ok(r, NULL);
    job_done(j);
    return rc;
}

static int do_get(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *r, int api)
{
    spin_ctx *c = ctx;
    kv_job j;
    int rc = 0;
    if (!job_store(c, cx, &args[0], &j, OP_GET)) return -1;
    if (key_too_long(cx, &args[1], r, api, &rc)) return rc;
    j.key = args[1].str.ptr;
    j.klen = args[1].str.len;
    run(&j);
    if (j.rc < 0) {
        rc = err_other(cx, r, api, c, j.err ? j.err : "failed", 1);
    } else {
        kiln_cval *o = opt_bytes(cx, j.out, j.outlen, j.flag);
        if (o)
            ok(r, o);
        else
            rc = oom(cx);
    }
    job_done(&j);
    return rc;
}

static int do_set(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *r, int api)
{
    spin_ctx *c = ctx;
    kv_job j;
    int rc = 0;
    if (!job_store(c, cx, &args[0], &j, OP_SET)) return -1;
    if (key_too_long(cx, &args[1], r, api, &rc)) return rc;
    if (args[2].str.len > KILN_KV_MAX_VALUE)
        return spin_err_str(cx, r, api == API_SPIN ? 3 : 2, "the value is larger than %u bytes",
                            KILN_KV_MAX_VALUE);
    j.key = args[1].str.ptr;
    j.klen = args[1].str.len;
    j.val = (const uint8_t *)args[2].str.ptr;
    j.vlen = args[2].str.len;
    run(&j);
    return finish_unit(c, cx, &j, r, api);
}

static int do_delete(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *r, int api)
{
    spin_ctx *c = ctx;
    kv_job j;
    int rc = 0;
    if (!job_store(c, cx, &args[0], &j, OP_DELETE)) return -1;
    if (key_too_long(cx, &args[1], r, api, &rc)) return rc;
    j.key = args[1].str.ptr;
    j.klen = args[1].str.len;
    run(&j);
    return finish_unit(c, cx, &j, r, api);
}

static int do_exists(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *r, int api)
{
    spin_ctx *c = ctx;
    kv_job j;
    int rc = 0;
    if (!job_store(c, cx, &args[0], &j, OP_EXISTS)) return -1;
    if (key_too_long(cx, &args[1], r, api, &rc)) return rc;
    j.key = args[1].str.ptr;
    j.klen = args[1].str.len;
    run(&j);
    if (j.rc < 0) {
        rc = err_other(cx, r, api, c, j.err ? j.err : "failed", 1);
    } else {
        kiln_cval *b = kiln_cabi_alloc(cx, sizeof *b);
        if (!b) {
            rc = oom(cx);
        } else {
            b->u = j.flag ? 1 : 0;
            ok(r, b);
        }
    }
    job_done(&j);
    return rc;
}

/* A list<string> of the job's keys, in the arena. NULL on OOM. */
static kiln_cval *key_list(kiln_cabi_cx *cx, const kiln_kvs_list *l)
{
    kiln_cval *list = kiln_cabi_alloc(cx, (1 + l->n) * sizeof *list);
    if (!list) return NULL;
    for (size_t i = 0; i < l->n; i++) {
        kiln_cval *s = bytes_val(cx, l->keys[i], l->key_lens[i]);
        if (!s) return NULL;
        list[1 + i] = *s;
    }
    list[0].agg.items = list + 1;
    list[0].agg.n = (uint32_t)l->n;
    return list;
}

/* fermyon get-keys (cursor NULL, every key) and wasi list-keys (a page after the cursor). */
static int do_keys(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *r, int api)
{
    spin_ctx *c = ctx;
    kv_job j;
    int rc = 0;
    if (!job_store(c, cx, &args[0], &j, OP_KEYS)) return -1;
    if (api == API_WASI && args[1].var.disc == 1) {
        j.key = args[1].var.payload->str.ptr;
        j.klen = args[1].var.payload->str.len;
    }
    run(&j);
    if (j.rc < 0) {
        rc = err_other(cx, r, api, c, j.err ? j.err : "failed", 1);
    } else if (api == API_SPIN && j.flag) {
        rc = err_other(cx, r, api, c, "the keys exceed the 16 MiB a get-keys may answer", 1);
    } else {
        kiln_cval *list = key_list(cx, &j.list);
        kiln_cval *rec = api == API_WASI ? kiln_cabi_alloc(cx, 3 * sizeof *rec) : NULL;
        if (!list || (api == API_WASI && !rec)) {
            rc = oom(cx);
        } else if (api == API_SPIN) {
            ok(r, list);
        } else {
            /* record key-response { keys, cursor: the last key when more follow } */
            rec[1] = *list;
            rec[2].var.disc = j.flag ? 1 : 0;
            rec[2].var.payload = NULL;
            if (j.flag && !(rec[2].var.payload = bytes_val(cx, j.list.keys[j.list.n - 1],
                                                           j.list.key_lens[j.list.n - 1])))
                rc = oom(cx);
            rec[0].agg.items = &rec[1];
            rec[0].agg.n = 2;
            ok(r, &rec[0]);
        }
    }
    job_done(&j);
    return rc;
}

/* ---- fermyon:spin/key-value@2.0.0 ---- */

/* The two key-value interfaces share every operation (do_*); their host functions differ
 * only in the error variant they answer with. */
#define KV_HOST_FN(name, op, api)                                                                  \
    static int name(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)            \
    {                                                                                              \
        return op(ctx, cx, args, &res[0], api);                                                    \
    }
KV_HOST_FN(spin_open, do_open, API_SPIN)
KV_HOST_FN(spin_kget, do_get, API_SPIN)
KV_HOST_FN(spin_kset, do_set, API_SPIN)
KV_HOST_FN(spin_kdelete, do_delete, API_SPIN)
KV_HOST_FN(spin_kexists, do_exists, API_SPIN)
KV_HOST_FN(spin_kkeys, do_keys, API_SPIN)

#define SPIN_ERR "variant{store-table-full, no-such-store, access-denied, other(string)}"
static const kiln_chost_resource spin_res[] = {{"store", store_dtor}};
static int kv3_keys(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
/* fermyon:spin/key-value@2.0.0 is spin_funcs[0..5], spin:key-value@3.0.0 (below)
 * spin_funcs[1..6]: the same store functions, get-keys their own. */
static const kiln_chost_func spin_funcs[] = {
    {"[method]store.get-keys", "(borrow<store>) -> result<list<string>, " SPIN_ERR ">", spin_kkeys},
    {"[static]store.open", "(string) -> result<own<store>, " SPIN_ERR ">", spin_open},
    {"[method]store.get", "(borrow<store>, string) -> result<option<list<u8>>, " SPIN_ERR ">",
     spin_kget},
    {"[method]store.set", "(borrow<store>, string, list<u8>) -> result<_, " SPIN_ERR ">",
     spin_kset},
    {"[method]store.delete", "(borrow<store>, string) -> result<_, " SPIN_ERR ">", spin_kdelete},
    {"[method]store.exists", "(borrow<store>, string) -> result<bool, " SPIN_ERR ">", spin_kexists},
    {"[method]store.get-keys",
     "(borrow<store>) -> tuple<stream<string>, future<result<_, " SPIN_ERR ">>>", kv3_keys},
};
static const kiln_chost_iface spin_kv_iface = {"fermyon:spin/key-value", "2.0.0", spin_res, 1,
                                               &spin_funcs[0],           6};

/* ---- spin:key-value/key-value@3.0.0 ----
 * Spin 3's package (Spin's Python SDK 5 imports it): the same store and errors, every
 * function an `async func` that completes before it returns (the database work parks the
 * guest's fiber, kiln_offload), except get-keys, which answers a stream of the keys and a
 * future of the listing's result: the keys are read whole (up to 16 MiB, as 2.0.0's), then
 * handed out as the guest reads. */

/* Unlinks and frees a listing. */
static void listing_free(void *arg)
{
    kv_listing *l = arg, **pp = &l->c->listings;
    while (*pp && *pp != l)
        pp = &(*pp)->next;
    if (*pp) *pp = l->next;
    kiln_kvs_list_free(&l->list);
    kiln_free(l);
}

/* The next keys of a listing, as strings in the reader's arena; at the end the listing
 * is freed. */
static size_t listing_values(void *arg, kiln_cabi_cx *cx, kiln_cval *vals, size_t n, int *end)
{
    kv_listing *l = arg;
    size_t k = 0;
    for (; k < n && l->at < l->list.n; k++, l->at++) {
        size_t len = l->list.key_lens[l->at];
        char *b = kiln_cabi_alloc(cx, len ? len : 1);
        if (!b) return k; /* out of memory: what was made (none: the read stays pending) */
        memcpy(b, l->list.keys[l->at], len);
        vals[k].str.ptr = b;
        vals[k].str.len = len;
    }
    if (k) return k;
    *end = 1;
    listing_free(l);
    return 0;
}

/* get-keys: tuple<stream<string>, future<result<_, error>>>. */
static int kv3_keys(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    spin_ctx *c = ctx;
    kiln_cval *two = kiln_cabi_alloc(cx, 2 * sizeof *two);
    kv_listing *l = kiln_calloc(1, sizeof *l);
    if (!two || !l) {
        kiln_free(l);
        return oom(cx);
    }
    memset(two, 0, 2 * sizeof *two);
    /* the listing's result (results[0] of 2.0.0's get-keys) */
    kiln_cval r;
    memset(&r, 0, sizeof r);
    kv_job j;
    int rc = 0;
    if (!job_store(c, cx, &args[0], &j, OP_KEYS)) {
        kiln_free(l);
        return -1;
    }
    run(&j);
    /* the error's message: static, the guest may read the future later */
    static char failed[] = "listing the keys failed";
    static char too_big[] = "the keys exceed the 16 MiB a get-keys may answer";
    char *msg = NULL;
    if (j.rc < 0) { /* logged with SQLite's (or Redis') message; the guest gets failed */
        msg = failed;
        err_other(cx, &r, API_SPIN, c, j.err ? j.err : "failed", 1);
    } else if (j.flag) {
        msg = too_big;
        err_other(cx, &r, API_SPIN, c, msg, 1);
    } else {
        l->list = j.list; /* taken over */
        memset(&j.list, 0, sizeof j.list);
    }
    job_done(&j);
    l->c = c;
    l->next = c->listings;
    c->listings = l;
    kiln_chost_stream_ops ops = {NULL, NULL, listing_free, l};
    if (!kiln_chost_stream_values(cx, &two[0], listing_values, &ops)) {
        listing_free(l);
        return -1;
    }
    kiln_chost_future *f = kiln_chost_future_writer(cx, &two[1]);
    if (!f) return -1;
    kiln_cval v;
    memset(&v, 0, sizeof v);
    if (msg) { /* err(other(msg)): its parts live with the future */
        kiln_cval *p = kiln_chost_future_values(f, 2);
        if (!p) return oom(cx);
        p[1].str.ptr = msg;
        p[1].str.len = strlen(msg);
        p[0].var.disc = 3;
        p[0].var.payload = &p[1];
        v.var.disc = 1;
        v.var.payload = &p[0];
    }
    if (kiln_chost_future_resolve(f, &v) < 0) rc = -1;
    res[0].agg.items = two;
    res[0].agg.n = 2;
    return rc;
}

static const kiln_chost_iface kv3_iface = {
    "spin:key-value/key-value", "3.0.0", spin_res, 1, &spin_funcs[1], 6};

/* ---- wasi:keyvalue/store@0.2.0-draft2 ---- */

KV_HOST_FN(wasi_open, do_open, API_WASI)
KV_HOST_FN(wasi_get, do_get, API_WASI)
KV_HOST_FN(wasi_set, do_set, API_WASI)
KV_HOST_FN(wasi_delete, do_delete, API_WASI)
KV_HOST_FN(wasi_exists, do_exists, API_WASI)
KV_HOST_FN(wasi_list_keys, do_keys, API_WASI)

#define WASI_ERR "variant{no-such-store, access-denied, other(string)}"
static const kiln_chost_resource wasi_store_res[] = {{"bucket", store_dtor}};
static const kiln_chost_func wasi_store_funcs[] = {
    {"open", "(string) -> result<own<bucket>, " WASI_ERR ">", wasi_open},
    {"[method]bucket.get", "(borrow<bucket>, string) -> result<option<list<u8>>, " WASI_ERR ">",
     wasi_get},
    {"[method]bucket.set", "(borrow<bucket>, string, list<u8>) -> result<_, " WASI_ERR ">",
     wasi_set},
    {"[method]bucket.delete", "(borrow<bucket>, string) -> result<_, " WASI_ERR ">", wasi_delete},
    {"[method]bucket.exists", "(borrow<bucket>, string) -> result<bool, " WASI_ERR ">",
     wasi_exists},
    {"[method]bucket.list-keys",
     "(borrow<bucket>, option<string>) -> result<record{keys: list<string>, cursor: "
     "option<string>}, " WASI_ERR ">",
     wasi_list_keys},
};
static const kiln_chost_iface wasi_store_iface = {
    "wasi:keyvalue/store", "0.2.0-draft2", wasi_store_res, 1, wasi_store_funcs, 6};

/* ---- wasi:keyvalue/atomics@0.2.0-draft2 ---- */

static int wasi_increment(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    spin_ctx *c = ctx;
    kv_job j;
    int rc = 0;
    if (!job_store(c, cx, &args[0], &j, OP_INCREMENT)) return -1;
    if (key_too_long(cx, &args[1], &res[0], API_WASI, &rc)) return rc;
    j.key = args[1].str.ptr;
    j.klen = args[1].str.len;
    j.delta = args[2].s;
    run(&j);
    if (j.rc < 0) {
        rc = err_other(cx, &res[0], API_WASI, c, j.err ? j.err : "failed", 1);
    } else {
        kiln_cval *v = kiln_cabi_alloc(cx, sizeof *v);
        if (!v) {
            rc = oom(cx);
        } else {
            v->s = j.num;
            ok(&res[0], v);
        }
    }
    job_done(&j);
    return rc;
}

static kv_cas *cas_of(spin_ctx *c, uint32_t rep)
{
    if (!c->cas || rep == 0 || rep > KILN_KV_MAX_OPEN || !c->cas[rep - 1].db) return NULL;
    return &c->cas[rep - 1];
}

static void cas_clear(kv_cas *k)
{
    kiln_free(k->key);
    kiln_free(k->cur);
    memset(k, 0, sizeof *k);
}

static void cas_dtor(void *ctx, uint32_t rep)
{
    kv_cas *k = cas_of(ctx, rep);
    if (k) cas_clear(k);
}

/* A new cas on (db, label, key): its rep, 0 when the table is full, -1 out of memory. */
static long cas_new(spin_ctx *c, kiln_kvs *db, const char *label, const char *key, size_t klen)
{
    if (!c->cas && !(c->cas = kiln_calloc(KILN_KV_MAX_OPEN, sizeof *c->cas))) return -1;
    uint32_t i = 0;
    while (i < KILN_KV_MAX_OPEN && c->cas[i].db)
        i++;
    if (i == KILN_KV_MAX_OPEN) return 0;
    char *k = kiln_malloc(klen + 1);
    if (!k) return -1;
    memcpy(k, key, klen);
    k[klen] = 0;
    c->cas[i] = (kv_cas){db, label, c->comp ? spin_component_id(c->comp) : NULL, k, klen, NULL, 0};
    return (long)i + 1;
}

static int wasi_cas_new(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    spin_ctx *c = ctx;
    kv_job j;
    int rc = 0;
    kv_open *o = job_store(c, cx, &args[0], &j, OP_GET);
    if (!o) return -1;
    if (key_too_long(cx, &args[1], &res[0], API_WASI, &rc)) return rc;
    long rep = cas_new(c, o->db, o->label, args[1].str.ptr, args[1].str.len);
    if (rep < 0) return oom(cx);
    if (rep == 0) return spin_err_str(cx, &res[0], 2, "too many compare-and-swaps open");
    kiln_cval *h = kiln_cabi_alloc(cx, sizeof *h);
    if (!h) return oom(cx);
    h->res.rep = (uint32_t)rep;
    ok(&res[0], h);
    return 0;
}

/* Reads the cas's current value into it (cas->cur). 0, or -1 with *err (kiln_malloc'd). */
static int cas_read(kv_cas *k, char **err)
{
    kv_job j;
    memset(&j, 0, sizeof j);
    j.op = OP_GET;
    j.opname = "cas-current";
    j.comp = k->comp;
    j.db = k->db;
    j.label = k->label;
    j.key = k->key;
    j.klen = k->klen;
    run(&j);
    if (j.rc < 0) {
        *err = j.err;
        j.err = NULL;
        job_done(&j);
        return -1;
    }
    kiln_free(k->cur);
    k->cur = j.flag ? j.out : NULL;
    k->curlen = j.outlen;
    if (j.flag) j.out = NULL;
    job_done(&j);
    return 0;
}

static int wasi_cas_current(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    spin_ctx *c = ctx;
    kv_cas *k = cas_of(c, args[0].res.rep);
    if (!k) {
        snprintf(cx->err, sizeof cx->err, "key-value: not a cas");
        return -1;
    }
    char *err = NULL;
    if (cas_read(k, &err) < 0) {
        int rc = err_other(cx, &res[0], API_WASI, c, err ? err : "failed", 1);
        kiln_free(err);
        return rc;
    }
    kiln_cval *o = opt_bytes(cx, k->cur, k->curlen, k->cur != NULL);
    if (!o) return oom(cx);
    ok(&res[0], o);
    return 0;
}

/* results[0] = err(store-error(other(msg))) of swap (msg copied into the arena). */
static int swap_error(kiln_cabi_cx *cx, kiln_cval *r, spin_ctx *c, const char *msg)
{
    fprintf(stderr, "kiln: component %s: key-value: %s\n",
            c->comp ? spin_component_id(c->comp) : "?", msg);
    kiln_cval *v = kiln_cabi_alloc(cx, 2 * sizeof *v);
    kiln_cval *s = bytes_val(cx, msg, strlen(msg));
    if (!v || !s) return oom(cx);
    v[1].var.disc = 2; /* error.other */
    v[1].var.payload = s;
    v[0].var.disc = 0; /* cas-error.store-error */
    v[0].var.payload = &v[1];
    r->var.disc = 1;
    r->var.payload = &v[0];
    return 0;
}

/* swap(own<cas>, value): result<_, variant{store-error(error), cas-failed(own<cas>)}>. The
 * cas is the host's now: freed here; on a conflict a new cas holding the value now stored
 * is handed back (Spin's behaviour). */
static int wasi_swap(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    spin_ctx *c = ctx;
    kv_cas *k = cas_of(c, args[0].res.rep);
    if (!k) {
        snprintf(cx->err, sizeof cx->err, "key-value: not a cas");
        return -1;
    }
    int rc = 0;
    kv_job j;
    memset(&j, 0, sizeof j);
    if (args[1].str.len > KILN_KV_MAX_VALUE) {
        rc = swap_error(cx, &res[0], c, "the value is larger than 1048576 bytes");
        goto out;
    }
    j.op = OP_SWAP;
    j.comp = k->comp;
    j.db = k->db;
    j.label = k->label;
    j.key = k->key;
    j.klen = k->klen;
    j.old = k->cur;
    j.oldlen = k->curlen;
    j.val = (const uint8_t *)args[1].str.ptr;
    j.vlen = args[1].str.len;
    run(&j);
    if (j.rc < 0) {
        rc = swap_error(cx, &res[0], c, j.err ? j.err : "failed");
        goto out;
    }
    if (j.flag) {
        ok(&res[0], NULL);
        goto out;
    }
    /* a conflict: a new cas holding the current value */
    long rep = cas_new(c, k->db, k->label, k->key, k->klen);
    char *err = NULL;
    if (rep <= 0) {
        rc = rep < 0 ? oom(cx) : swap_error(cx, &res[0], c, "too many compare-and-swaps open");
        goto out;
    }
    if (cas_read(&c->cas[rep - 1], &err) < 0) {
        cas_clear(&c->cas[rep - 1]);
        rc = swap_error(cx, &res[0], c, err ? err : "failed");
        kiln_free(err);
        goto out;
    }
    kiln_cval *v = kiln_cabi_alloc(cx, 2 * sizeof *v);
    if (!v) {
        cas_clear(&c->cas[rep - 1]);
        rc = oom(cx);
        goto out;
    }
    v[1].res.rep = (uint32_t)rep;
    v[0].var.disc = 1; /* cas-failed */
    v[0].var.payload = &v[1];
    res[0].var.disc = 1;
    res[0].var.payload = &v[0];
out:
    job_done(&j);
    cas_clear(k);
    return rc;
}

#define CAS_ERR "variant{store-error(" WASI_ERR "), cas-failed(own<cas>)}"
static const kiln_chost_resource wasi_atomics_res[] = {{"cas", cas_dtor}};
static const kiln_chost_func wasi_atomics_funcs[] = {
    {"increment", "(borrow<bucket>, string, s64) -> result<s64, " WASI_ERR ">", wasi_increment},
    {"[static]cas.new", "(borrow<bucket>, string) -> result<own<cas>, " WASI_ERR ">", wasi_cas_new},
    {"[method]cas.current", "(borrow<cas>) -> result<option<list<u8>>, " WASI_ERR ">",
     wasi_cas_current},
    {"swap", "(own<cas>, list<u8>) -> result<_, " CAS_ERR ">", wasi_swap},
};
static const kiln_chost_iface wasi_atomics_iface = {
    "wasi:keyvalue/atomics", "0.2.0-draft2", wasi_atomics_res, 1, wasi_atomics_funcs, 4};

/* ---- wasi:keyvalue/batch@0.2.0-draft2 ---- */

/* Fills a batch job from a list of strings or of (string, list<u8>) tuples. -1 when a
 * key or value is over the limits (results[0] set), -2 out of memory. */
static int batch_fill(kiln_cabi_cx *cx, const kiln_cval *list, int pairs, kv_job *j, kiln_cval *r)
{
    size_t n = list->agg.n;
    j->n = n;
    j->keys = kiln_cabi_alloc(cx, (n + 1) * sizeof *j->keys);
    j->klens = kiln_cabi_alloc(cx, (n + 1) * sizeof *j->klens);
    if (pairs) {
        j->vals = kiln_cabi_alloc(cx, (n + 1) * sizeof *j->vals);
        j->vlens = kiln_cabi_alloc(cx, (n + 1) * sizeof *j->vlens);
    }
    if (!j->keys || !j->klens || (pairs && (!j->vals || !j->vlens))) return -2;
    for (size_t i = 0; i < n; i++) {
        const kiln_cval *k = pairs ? &list->agg.items[i].agg.items[0] : &list->agg.items[i];
        if (k->str.len > KILN_KV_MAX_KEY)
            return spin_err_str(cx, r, 2, "the key is longer than %u bytes", KILN_KV_MAX_KEY) < 0
                       ? -2
                       : -1;
        j->keys[i] = k->str.ptr;
        j->klens[i] = k->str.len;
        if (pairs) {
            const kiln_cval *v = &list->agg.items[i].agg.items[1];
            if (v->str.len > KILN_KV_MAX_VALUE)
                return spin_err_str(cx, r, 2, "the value is larger than %u bytes",
                                    KILN_KV_MAX_VALUE) < 0
                           ? -2
                           : -1;
            j->vals[i] = (const uint8_t *)v->str.ptr;
            j->vlens[i] = v->str.len;
        }
    }
    return 0;
}

static int batch(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res, int op)
{
    spin_ctx *c = ctx;
    kv_job j;
    if (!job_store(c, cx, &args[0], &j, op)) return -1;
    int f = batch_fill(cx, &args[1], op == OP_SET_MANY, &j, &res[0]);
    if (f == -2) return oom(cx);
    if (f == -1) return 0;
    if (j.n == 0) { /* nothing to do, as Spin */
        kiln_kvs_list none = {0};
        kiln_cval *l = op == OP_GET_MANY ? key_list(cx, &none) : NULL;
        if (op == OP_GET_MANY && !l) return oom(cx);
        ok(&res[0], l);
        return 0;
    }
    run(&j);
    if (op != OP_GET_MANY) return finish_unit(c, cx, &j, &res[0], API_WASI);
    int rc = 0;
    if (j.rc < 0) {
        rc = err_other(cx, &res[0], API_WASI, c, j.err ? j.err : "failed", 1);
    } else {
        /* list<tuple<string, option<list<u8>>>> of the keys found (Spin leaves out the
         * absent ones: its query selects rows) */
        size_t found = 0;
        for (size_t i = 0; i < j.list.n; i++)
            found += j.list.vals[i] != NULL;
        kiln_cval *list = kiln_cabi_alloc(cx, (1 + 3 * found) * sizeof *list);
        if (!list) rc = oom(cx);
        for (size_t i = 0, k = 0; rc == 0 && i < j.list.n; i++) {
            if (!j.list.vals[i]) continue;
            kiln_cval *tuple = &list[1 + k], *fields = &list[1 + found + 2 * k];
            kiln_cval *key = bytes_val(cx, j.list.keys[i], j.list.key_lens[i]);
            kiln_cval *val = opt_bytes(cx, j.list.vals[i], j.list.val_lens[i], 1);
            if (!key || !val) {
                rc = oom(cx);
                break;
            }
            fields[0] = *key;
            fields[1] = *val;
            tuple->agg.items = fields;
            tuple->agg.n = 2;
            k++;
        }
        if (rc == 0) {
            list[0].agg.items = list + 1;
            list[0].agg.n = (uint32_t)found;
            ok(&res[0], &list[0]);
        }
    }
    job_done(&j);
    return rc;
}

static int wasi_get_many(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return batch(ctx, cx, args, res, OP_GET_MANY);
}
static int wasi_set_many(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return batch(ctx, cx, args, res, OP_SET_MANY);
}
static int wasi_delete_many(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return batch(ctx, cx, args, res, OP_DELETE_MANY);
}

static const kiln_chost_func wasi_batch_funcs[] = {
    {"get-many",
     "(borrow<bucket>, list<string>) -> result<list<tuple<string, option<list<u8>>>>, " WASI_ERR
     ">",
     wasi_get_many},
    {"set-many", "(borrow<bucket>, list<tuple<string, list<u8>>>) -> result<_, " WASI_ERR ">",
     wasi_set_many},
    {"delete-many", "(borrow<bucket>, list<string>) -> result<_, " WASI_ERR ">", wasi_delete_many},
};
static const kiln_chost_iface wasi_batch_iface = {
    "wasi:keyvalue/batch", "0.2.0-draft2", NULL, 0, wasi_batch_funcs, 3};

/* ---- the provider ---- */

static void ctx_free(void *ctx);

static void *ctx_new(const kiln_grants *g, char **err)
{
    spin_ctx *c = kiln_calloc(1, sizeof *c);
    if (!c) {
        *err = kiln_strdup("out of memory");
        return NULL;
    }
    c->comp = g && g->component ? spin_app_component(g->component) : NULL;
    /* the grants are borrowed for this call only: the list is copied */
    size_t n = 0;
    const char *const *hosts = g ? kiln_grants_outbound(g, &n) : NULL;
    if (n && !(c->outbound = kiln_calloc(n, sizeof *c->outbound))) {
        kiln_free(c);
        *err = kiln_strdup("out of memory");
        return NULL;
    }
    for (; c->noutbound < n; c->noutbound++) {
        if (!(c->outbound[c->noutbound] = kiln_strdup(hosts[c->noutbound]))) {
            ctx_free(c);
            *err = kiln_strdup("out of memory");
            return NULL;
        }
    }
    return c;
}

static void ctx_free(void *ctx)
{
    spin_ctx *c = ctx;
    if (!c) return;
    while (c->listings)
        listing_free(c->listings);
    for (uint32_t i = 0; c->cas && i < KILN_KV_MAX_OPEN; i++)
        cas_clear(&c->cas[i]);
    kiln_free(c->cas);
    kiln_free(c->open);
    spin_data_free(c->data);
    for (size_t i = 0; i < c->noutbound; i++)
        kiln_free(c->outbound[i]);
    kiln_free(c->outbound);
    kiln_free(c);
}

static const kiln_chost_iface *const ifaces[] = {
    &spin_kv_iface,
    &kv3_iface,
    &wasi_store_iface,
    &wasi_atomics_iface,
    &wasi_batch_iface,
    &kiln_spin_variables_iface,
    &kiln_spin_variables3_iface,
    &kiln_wasi_config_store_iface,
    &kiln_spin_sqlite_iface,
    &kiln_spin_sqlite3_iface,
    &kiln_spin_redis_iface,
    &kiln_spin_redis3_iface,
    &kiln_spin_llm_iface,
    &kiln_spin_mqtt_iface,
    &kiln_spin_mqtt3_iface,
    &kiln_spin_mysql_iface,
    &kiln_spin_mysql3_iface,
    &kiln_spin_postgres_iface,
    &kiln_spin_postgres2_iface,
    &kiln_spin_postgres4_iface,
    &kiln_spin_rdbms_types_iface,
    &kiln_spin_http_iface,
    &kiln_spin_http_types_iface,
};
const kiln_chost_provider kiln_spin_provider = {"spin",  ifaces,   sizeof ifaces / sizeof ifaces[0],
                                                ctx_new, ctx_free, NULL};

int kiln_spin_register(void)
{
    static int registered;
    if (!registered && kiln_chost_register(&kiln_spin_provider) < 0) return -1;
    registered = 1;
    return 0;
}
