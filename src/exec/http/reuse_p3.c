/* reuse_p3.c — Spin's instance reuse for wasi:http 0.3 components (reuse_p3.h): a
 * per-component list of instances between requests, under a mutex. With a reuse count of
 * 1 (the default) nothing is kept and no lock is taken. */
#include "exec/http/reuse_p3.h"
#include "component/instance.h"
#include "util/alloc.h"

#include <string.h>

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

struct kiln_p3_reuse {
    pthread_mutex_t mu;
    kiln_p3_lease idle[KILN_P3_REUSE_IDLE]; /* a stack: the last given back is lent first */
    size_t nidle;
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

int kiln_p3_reuse_take(kiln_http_component *c, kiln_p3_lease *l, kiln_err *err)
{
    kiln_p3_reuse *r = c->reuse_max > 1 ? list_of(c) : NULL;
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

void kiln_p3_reuse_give(kiln_http_component *c, kiln_p3_lease *l, int clean)
{
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
    pthread_mutex_destroy(&r->mu);
    kiln_free(r);
    atomic_store(&c->reuse, NULL);
}
