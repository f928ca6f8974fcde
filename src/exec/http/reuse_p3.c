/* reuse_p3.c — Spin's instance reuse for wasi:http 0.3 components (reuse_p3.h): a
 * per-component list of instances between requests, and one of instances shared by
 * concurrent requests, under a mutex. With a reuse count of 1 (the default) nothing is
 * kept and no lock is taken. */
#include "exec/http/reuse_p3.h"
#include "component/instance.h"
#include "engine/fiber.h"
#include "exec/http/share_p3.h"
#include "util/alloc.h"

#include <string.h>

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

struct kiln_p3_reuse {
    pthread_mutex_t mu;
    kiln_p3_lease idle[KILN_P3_REUSE_IDLE]; /* a stack: the last given back is lent first */
    size_t nidle;
    kiln_p3_shared *shared[KILN_P3_REUSE_IDLE]; /* M > 1: the newest last */
    size_t nshared;
};

/* c's list, made on first use; NULL when out of memory. */
static kiln_p3_reuse *list_of(kiln_http_component *c)
{
    kiln_p3_reuse *r = atomic_load(&c->reuse);
    if (r) return r;
    kiln_p3_reuse *n = kiln_calloc(1, sizeof *n);
    if (!n) return NULL;
    if (pthread_mutex_init(&n->mu, NULL) != 0) {
        kiln_free(n);
        return NULL;
    }
    kiln_p3_reuse *want = NULL;
    if (atomic_compare_exchange_strong(&c->reuse, &want, n)) return n;
    pthread_mutex_destroy(&n->mu); /* another request made it first */
    kiln_free(n);
    return want;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Takes entry i off r's shared list (locked). */
static void shared_remove(kiln_p3_reuse *r, size_t i)
{
    memmove(r->shared + i, r->shared + i + 1, (r->nshared - i - 1) * sizeof *r->shared);
    r->nshared--;
}

static void shared_free(kiln_p3_shared *e)
{
    kiln_component_instance_free(e->ci); /* (its store's idle wait goes with it) */
    kiln_p3_share_free(e->sh);
    kiln_free(e);
}

/* M > 1 on a loop's fiber: lends a shared instance of this loop with room, or an idle one
 * (which moves to this loop), or a new one (kept in the list when there is room for it). 0, 1 when
 * the serial path must serve (no room in the list, or sharing cannot be set up), -1 with *err. */
static int take_shared(kiln_http_component *c, kiln_p3_reuse *r, kiln_p3_lease *l, kiln_err *err)
{
    void *owner = kiln_sched_current();
    size_t m =
        c->reuse_concurrent < KILN_P3HTTP_MAX_REQS ? c->reuse_concurrent : KILN_P3HTTP_MAX_REQS;
    kiln_http_code *code = atomic_load(&c->current);
    kiln_p3_shared *stale[KILN_P3_REUSE_IDLE], *got = NULL;
    size_t nstale = 0;
    uint64_t now = mono_ns();
    pthread_mutex_lock(&r->mu);
    for (size_t i = r->nshared; i-- > 0;) {
        kiln_p3_shared *e = r->shared[i];
        if (e->owner != owner && e->inflight) continue; /* (an idle one may change loops) */
        if (!e->inflight && (now - e->idle_since > c->reuse_idle_ns || e->code != code)) {
            stale[nstale++] = e;
            shared_remove(r, i);
            continue;
        }
        if (!got && !e->retired && e->inflight < m && e->lent < c->reuse_max && e->code == code)
            got = e;
    }
    if (got) {
        got->owner = owner;
        got->inflight++;
        got->lent++;
    }
    int room = r->nshared < KILN_P3_REUSE_IDLE;
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < nstale; i++) /* outside the lock: freeing takes a while */
        shared_free(stale[i]);
    memset(l, 0, sizeof *l);
    if (got) {
        l->shared = got;
        l->ci = got->ci;
        l->code = got->code;
        l->uses = got->lent - 1;
        return 0;
    }
    if (!room) return 1;
    kiln_p3_shared *e = kiln_calloc(1, sizeof *e);
    if (!e) return 1;
    e->code = code;
    e->owner = owner;
    e->ci = kiln_http_component_instantiate(c, err);
    if (!e->ci) {
        kiln_free(e);
        return -1;
    }
    if (!(e->sh = kiln_p3_share_new(e->ci))) { /* (no async ABI, no fds): serves serially */
        l->ci = e->ci;
        l->code = code;
        kiln_free(e);
        return 0;
    }
    e->inflight = e->lent = 1;
    pthread_mutex_lock(&r->mu);
    if (r->nshared < KILN_P3_REUSE_IDLE) {
        r->shared[r->nshared++] = e;
    } else {
        e->retired = 1; /* (the list filled meanwhile: this one serves only this request) */
    }
    pthread_mutex_unlock(&r->mu);
    l->shared = e;
    l->ci = e->ci;
    l->code = code;
    return 0;
}

int kiln_p3_reuse_take(kiln_http_component *c, kiln_p3_lease *l, kiln_err *err)
{
    kiln_p3_reuse *r = c->reuse_max > 1 ? list_of(c) : NULL;
    l->shared = NULL;
    if (r && c->reuse_concurrent > 1 && kiln_fiber_current() && kiln_sched_current()) {
        int rc = take_shared(c, r, l, err);
        if (rc <= 0) return rc;
    }
    if (r) {
        kiln_component_instance *stale[KILN_P3_REUSE_IDLE]; /* small: on a request's fiber */
        size_t nstale = 0;
        int got = 0;
        uint64_t now = mono_ns();
        pthread_mutex_lock(&r->mu);
        /* the oldest are at the bottom: those idle too long go */
        while (nstale < r->nidle && now - r->idle[nstale].idle_since > c->reuse_idle_ns)
            nstale++;
        if (nstale) {
            for (size_t i = 0; i < nstale; i++)
                stale[i] = r->idle[i].ci;
            memmove(r->idle, r->idle + nstale, (r->nidle - nstale) * sizeof *r->idle);
            r->nidle -= nstale;
        }
        if (r->nidle) {
            *l = r->idle[--r->nidle];
            got = 1;
        }
        pthread_mutex_unlock(&r->mu);
        for (size_t i = 0; i < nstale; i++) /* outside the lock: freeing takes a while */
            kiln_component_instance_free(stale[i]);
        if (got) return 0;
    }
    l->code = atomic_load(&c->current);
    l->uses = 0;
    l->ci = kiln_http_component_instantiate(c, err);
    return l->ci ? 0 : -1;
}

/* Gives a shared instance back (see kiln_p3_reuse_give). */
static void give_shared(kiln_http_component *c, kiln_p3_lease *l, int clean)
{
    kiln_p3_shared *e = l->shared;
    kiln_p3_reuse *r = atomic_load(&c->reuse);
    int gone = 0;
    l->shared = NULL;
    l->ci = NULL;
    pthread_mutex_lock(&r->mu);
    e->inflight--;
    if (!clean || e->lent >= c->reuse_max || !c->reuse_idle_ns ||
        e->code != atomic_load(&c->current))
        e->retired = 1;
    if (e->retired && !e->inflight) {
        gone = 1;
        for (size_t i = 0; i < r->nshared; i++)
            if (r->shared[i] == e) {
                shared_remove(r, i);
                break;
            }
    }
    e->idle_since = mono_ns();
    pthread_mutex_unlock(&r->mu);
    if (gone) shared_free(e);
}

void kiln_p3_reuse_give(kiln_http_component *c, kiln_p3_lease *l, int clean)
{
    if (l->shared) {
        give_shared(c, l, clean);
        return;
    }
    kiln_component_instance *ci = l->ci;
    l->ci = NULL;
    if (!ci) return;
    l->uses++;
    kiln_p3_reuse *r = atomic_load(&c->reuse);
    if (clean && r && l->uses < c->reuse_max && c->reuse_idle_ns &&
        l->code == atomic_load(&c->current)) {
        int kept = 0;
        l->idle_since = mono_ns();
        pthread_mutex_lock(&r->mu);
        if (r->nidle < KILN_P3_REUSE_IDLE) {
            r->idle[r->nidle] = *l;
            r->idle[r->nidle++].ci = ci;
            kept = 1;
        }
        pthread_mutex_unlock(&r->mu);
        if (kept) return;
    }
    kiln_component_instance_free(ci);
}

void kiln_p3_reuse_free(kiln_http_component *c)
{
    kiln_p3_reuse *r = atomic_load(&c->reuse);
    if (!r) return;
    for (size_t i = 0; i < r->nidle; i++)
        kiln_component_instance_free(r->idle[i].ci);
    for (size_t i = 0; i < r->nshared; i++)
        shared_free(r->shared[i]);
    pthread_mutex_destroy(&r->mu);
    kiln_free(r);
    atomic_store(&c->reuse, NULL);
}
