/* kv_redis.c — a key-value store on a Redis server (kv_redis.h). */
#include "host/spin/kv_redis.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

struct kiln_kvr {
    pthread_mutex_t lock;
    redisContext *c; /* NULL: not connected */
    char *host, *user, *pass;
    int port;
    long db; /* -1: none */
    char where[300];
};

/* Sets *err to "redis HOST:PORT: msg"; returns -1. */
static int fail(const kiln_kvr *r, const char *msg, size_t n, char **err)
{
    kiln_buf b = KILN_BUF_INIT;
    if (kiln_buf_printf(&b, "redis %s: %.*s", r->where, (int)n, msg) < 0) {
        kiln_buf_free(&b);
        *err = kiln_strdup("out of memory");
    } else {
        *err = kiln_buf_steal(&b);
    }
    return -1;
}

kiln_kvr *kiln_kvr_open(const char *url, char **err)
{
    const char *p = url;
    if (strncasecmp(p, "redis://", 8) != 0) {
        *err = kiln_strdup("a redis key-value store needs a url \"redis://host[:port][/db]\"");
        return NULL;
    }
    p += 8;
    kiln_kvr *r = kiln_calloc(1, sizeof *r);
    if (!r || pthread_mutex_init(&r->lock, NULL) != 0) {
        kiln_free(r);
        *err = kiln_strdup("out of memory");
        return NULL;
    }
    r->db = -1;
    const char *end = p + strcspn(p, "/?#"), *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@') at = q;
    int ok = 1;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        r->user = kiln_strndup(p, (size_t)((colon ? colon : at) - p));
        if (colon) r->pass = kiln_strndup(colon + 1, (size_t)(at - colon - 1));
        ok = r->user && (!colon || r->pass);
        p = at + 1;
    }
    const char *hend = end, *colon = NULL;
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (close) {
            r->host = kiln_strndup(p + 1, (size_t)(close - p - 1));
            colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
        }
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        if (colon) hend = colon;
        r->host = kiln_strndup(p, (size_t)(hend - p));
    }
    r->port = colon ? atoi(colon + 1) : 6379;
    if (*end == '/' && end[1]) r->db = strtol(end + 1, NULL, 10);
    if (!ok || !r->host || !*r->host || r->port <= 0 || r->port > 65535) {
        kiln_kvr_close(r);
        *err = kiln_strdup("a redis key-value store needs a url \"redis://host[:port][/db]\"");
        return NULL;
    }
    snprintf(r->where, sizeof r->where, "%s:%d", r->host, r->port);
    return r;
}

void kiln_kvr_close(kiln_kvr *r)
{
    if (!r) return;
    if (r->c) redisFree(r->c);
    kiln_free(r->host);
    kiln_free(r->user);
    kiln_free(r->pass);
    pthread_mutex_destroy(&r->lock);
    kiln_free(r);
}

const char *kiln_kvr_where(const kiln_kvr *r)
{
    return r->where;
}

/* One command on a live connection (lock held); the reply, or NULL with *err. An error
 * reply is turned into *err too. Connects, and reconnects once when the connection broke. */
static redisReply *cmd(kiln_kvr *r, int argc, const char **argv, const size_t *lens, char **err)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!r->c) {
            struct timeval ctv = {5, 0}, iotv = {30, 0};
            r->c = redisConnectWithTimeout(r->host, r->port, ctv);
            if (!r->c || r->c->err) {
                fail(r, r->c ? r->c->errstr : "out of memory",
                     strlen(r->c ? r->c->errstr : "out of memory"), err);
                if (r->c) redisFree(r->c);
                r->c = NULL;
                return NULL;
            }
            redisSetTimeout(r->c, iotv);
            const char *av[3];
            char dbs[24];
            int ac = 0;
            if (r->pass) {
                av[ac++] = "AUTH";
                if (r->user && *r->user) av[ac++] = r->user;
                av[ac++] = r->pass;
            }
            for (int step = 0; step < 2; step++) {
                if (step == 1) {
                    if (r->db < 0) break;
                    snprintf(dbs, sizeof dbs, "%ld", r->db);
                    av[0] = "SELECT", av[1] = dbs, ac = 2;
                }
                if (!ac) continue;
                redisReply *rep = redisCommandArgv(r->c, ac, av, NULL);
                int bad = !rep || rep->type == REDIS_REPLY_ERROR;
                if (bad)
                    fail(r, rep ? rep->str : r->c->errstr, strlen(rep ? rep->str : r->c->errstr),
                         err);
                if (rep) freeReplyObject(rep);
                if (bad) {
                    redisFree(r->c);
                    r->c = NULL;
                    return NULL;
                }
            }
        }
        redisReply *rep = redisCommandArgv(r->c, argc, argv, lens);
        if (rep) {
            if (rep->type != REDIS_REPLY_ERROR) return rep;
            fail(r, rep->str, rep->len, err);
            freeReplyObject(rep);
            return NULL;
        }
        if (attempt == 1) fail(r, r->c->errstr, strlen(r->c->errstr), err);
        redisFree(r->c); /* broken: made again once */
        r->c = NULL;
    }
    return NULL;
}

/* cmd under the lock. */
static redisReply *run(kiln_kvr *r, int argc, const char **argv, const size_t *lens, char **err)
{
    pthread_mutex_lock(&r->lock);
    redisReply *rep = cmd(r, argc, argv, lens, err);
    pthread_mutex_unlock(&r->lock);
    return rep;
}

static uint8_t *copy(const char *p, size_t n)
{
    uint8_t *out = kiln_malloc(n + 1);
    if (!out) return NULL;
    if (n) memcpy(out, p, n);
    out[n] = 0;
    return out;
}

int kiln_kvr_get(kiln_kvr *r, const char *key, size_t klen, uint8_t **val, size_t *vlen, int *found,
                 char **err)
{
    const char *av[2] = {"GET", key};
    size_t lens[2] = {3, klen};
    redisReply *rep = run(r, 2, av, lens, err);
    if (!rep) return -1;
    *found = rep->type == REDIS_REPLY_STRING;
    *val = NULL;
    *vlen = 0;
    int rc = 0;
    if (*found && !(*val = copy(rep->str, rep->len))) {
        *err = kiln_strdup("out of memory");
        rc = -1;
    }
    if (*found) *vlen = rep->len;
    freeReplyObject(rep);
    return rc;
}

/* A command answering a status or integer that is only checked for errors. */
static int simple(kiln_kvr *r, int argc, const char **argv, const size_t *lens, long long *out,
                  char **err)
{
    redisReply *rep = run(r, argc, argv, lens, err);
    if (!rep) return -1;
    if (out) *out = rep->integer;
    freeReplyObject(rep);
    return 0;
}

int kiln_kvr_set(kiln_kvr *r, const char *key, size_t klen, const uint8_t *val, size_t vlen,
                 char **err)
{
    const char *av[3] = {"SET", key, vlen ? (const char *)val : ""};
    size_t lens[3] = {3, klen, vlen};
    return simple(r, 3, av, lens, NULL, err);
}

int kiln_kvr_delete(kiln_kvr *r, const char *key, size_t klen, char **err)
{
    const char *av[2] = {"DEL", key};
    size_t lens[2] = {3, klen};
    return simple(r, 2, av, lens, NULL, err);
}

int kiln_kvr_exists(kiln_kvr *r, const char *key, size_t klen, int *exists, char **err)
{
    const char *av[2] = {"EXISTS", key};
    size_t lens[2] = {6, klen};
    long long n = 0;
    if (simple(r, 2, av, lens, &n, err) < 0) return -1;
    *exists = n > 0;
    return 0;
}

static int cmp_keys(const void *a, const void *b)
{
    const redisReply *x = *(redisReply *const *)a, *y = *(redisReply *const *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->str, y->str, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

int kiln_kvr_keys(kiln_kvr *r, const char *after, size_t after_len, size_t max_bytes,
                  kiln_kvs_list *out, int *more, char **err)
{
    const char *av[2] = {"KEYS", "*"};
    redisReply *rep = run(r, 2, av, NULL, err);
    memset(out, 0, sizeof *out);
    *more = 0;
    if (!rep) return -1;
    if (rep->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(rep);
        return fail(r, "KEYS answered no array", 21, err);
    }
    qsort(rep->element, rep->elements, sizeof *rep->element, cmp_keys);
    out->keys = kiln_calloc(rep->elements + 1, sizeof *out->keys);
    out->key_lens = kiln_calloc(rep->elements + 1, sizeof *out->key_lens);
    int rc = out->keys && out->key_lens ? 0 : -1;
    size_t bytes = 0;
    for (size_t i = 0; rc == 0 && i < rep->elements; i++) {
        redisReply *e = rep->element[i];
        if (after) {
            redisReply a = {.str = (char *)after, .len = after_len};
            redisReply *ap = &a;
            if (cmp_keys(&e, &ap) <= 0) continue;
        }
        if (max_bytes && out->n && bytes + e->len > max_bytes) {
            *more = 1;
            break;
        }
        if (!(out->keys[out->n] = (char *)copy(e->str, e->len)))
            rc = -1;
        else
            out->key_lens[out->n++] = e->len;
        bytes += e->len;
    }
    freeReplyObject(rep);
    if (rc < 0) {
        kiln_kvs_list_free(out);
        *err = kiln_strdup("out of memory");
    }
    return rc;
}

int kiln_kvr_increment(kiln_kvr *r, const char *key, size_t klen, int64_t delta, int64_t *out,
                       char **err)
{
    char d[24];
    snprintf(d, sizeof d, "%lld", (long long)delta);
    const char *av[3] = {"INCRBY", key, d};
    size_t lens[3] = {6, klen, strlen(d)};
    long long n = 0;
    if (simple(r, 3, av, lens, &n, err) < 0) return -1;
    *out = n;
    return 0;
}

int kiln_kvr_swap(kiln_kvr *r, const char *key, size_t klen, const uint8_t *old, size_t oldlen,
                  const uint8_t *val, size_t vlen, int *swapped, char **err)
{
    *swapped = 0;
    pthread_mutex_lock(&r->lock);
    const char *watch[2] = {"WATCH", key}, *get[2] = {"GET", key}, *multi[1] = {"MULTI"},
               *set[3] = {"SET", key, vlen ? (const char *)val : ""}, *exec[1] = {"EXEC"},
               *unwatch[1] = {"UNWATCH"};
    size_t wl[2] = {5, klen}, gl[2] = {3, klen}, ml[1] = {5}, sl[3] = {3, klen, vlen}, el[1] = {4},
           ul[1] = {7};
    int rc = -1;
    redisReply *rep = cmd(r, 2, watch, wl, err);
    if (!rep) goto out;
    freeReplyObject(rep);
    if (!(rep = cmd(r, 2, get, gl, err))) goto out;
    int same = old ? rep->type == REDIS_REPLY_STRING && rep->len == oldlen &&
                         (!oldlen || memcmp(rep->str, old, oldlen) == 0)
                   : rep->type == REDIS_REPLY_NIL;
    freeReplyObject(rep);
    if (!same) {
        if ((rep = cmd(r, 1, unwatch, ul, err))) freeReplyObject(rep);
        rc = rep ? 0 : -1;
        goto out;
    }
    if (!(rep = cmd(r, 1, multi, ml, err))) goto out;
    freeReplyObject(rep);
    if (!(rep = cmd(r, 3, set, sl, err))) goto out;
    freeReplyObject(rep);
    if (!(rep = cmd(r, 1, exec, el, err))) goto out;
    *swapped = rep->type == REDIS_REPLY_ARRAY; /* nil: the key changed meanwhile */
    freeReplyObject(rep);
    rc = 0;
out:
    pthread_mutex_unlock(&r->lock);
    return rc;
}

/* argv of NAME then the keys (and values) of a batch, kiln_malloc'd; NULL on OOM. */
static int batch_argv(const char *name, size_t n, const char *const *keys, const size_t *klens,
                      const uint8_t *const *vals, const size_t *vlens, const char ***av,
                      size_t **lens)
{
    size_t argc = 1 + n * (vals ? 2 : 1);
    *av = kiln_calloc(argc, sizeof **av);
    *lens = kiln_calloc(argc, sizeof **lens);
    if (!*av || !*lens || argc > (1u << 30)) return -1;
    (*av)[0] = name;
    (*lens)[0] = strlen(name);
    for (size_t i = 0, k = 1; i < n; i++) {
        (*av)[k] = keys[i];
        (*lens)[k++] = klens[i];
        if (vals) {
            (*av)[k] = vlens[i] ? (const char *)vals[i] : "";
            (*lens)[k++] = vlens[i];
        }
    }
    return (int)argc;
}

static int batch(kiln_kvr *r, const char *name, size_t n, const char *const *keys,
                 const size_t *klens, const uint8_t *const *vals, const size_t *vlens,
                 redisReply **out, char **err)
{
    const char **av = NULL;
    size_t *lens = NULL;
    int argc = batch_argv(name, n, keys, klens, vals, vlens, &av, &lens);
    int rc = -1;
    if (argc < 0) {
        *err = kiln_strdup("out of memory");
    } else {
        redisReply *rep = run(r, argc, av, lens, err);
        if (rep) rc = 0;
        if (out)
            *out = rep;
        else if (rep)
            freeReplyObject(rep);
    }
    kiln_free(av);
    kiln_free(lens);
    return rc;
}

int kiln_kvr_set_many(kiln_kvr *r, size_t n, const char *const *keys, const size_t *klens,
                      const uint8_t *const *vals, const size_t *vlens, char **err)
{
    return n ? batch(r, "MSET", n, keys, klens, vals, vlens, NULL, err) : 0;
}

int kiln_kvr_delete_many(kiln_kvr *r, size_t n, const char *const *keys, const size_t *klens,
                         char **err)
{
    return n ? batch(r, "DEL", n, keys, klens, NULL, NULL, NULL, err) : 0;
}

int kiln_kvr_get_many(kiln_kvr *r, size_t n, const char *const *keys, const size_t *klens,
                      kiln_kvs_list *out, char **err)
{
    memset(out, 0, sizeof *out);
    if (!n) return 0;
    redisReply *rep = NULL;
    if (batch(r, "MGET", n, keys, klens, NULL, NULL, &rep, err) < 0) return -1;
    int rc = rep->type == REDIS_REPLY_ARRAY && rep->elements == n ? 0 : -2;
    out->keys = kiln_calloc(n, sizeof *out->keys);
    out->key_lens = kiln_calloc(n, sizeof *out->key_lens);
    out->vals = kiln_calloc(n, sizeof *out->vals);
    out->val_lens = kiln_calloc(n, sizeof *out->val_lens);
    if (!out->keys || !out->key_lens || !out->vals || !out->val_lens) rc = -1;
    for (size_t i = 0; rc == 0 && i < n; i++, out->n++) {
        redisReply *e = rep->element[i];
        if (!(out->keys[i] = (char *)copy(keys[i], klens[i]))) rc = -1;
        out->key_lens[i] = klens[i];
        if (rc == 0 && e->type == REDIS_REPLY_STRING) {
            if (!(out->vals[i] = copy(e->str, e->len))) rc = -1;
            out->val_lens[i] = e->len;
        }
    }
    freeReplyObject(rep);
    if (rc < 0) {
        kiln_kvs_list_free(out);
        if (rc == -2) return fail(r, "MGET answered no array", 22, err);
        *err = kiln_strdup("out of memory");
        return -1;
    }
    return 0;
}
