/* slots.c — the instance limit as a counting semaphore (see slots.h). */
#include "exec/slots.h"
#include "util/alloc.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

struct kiln_slots {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    size_t max, used;
};

kiln_slots *kiln_slots_new(size_t n)
{
    kiln_slots *s = kiln_calloc(1, sizeof *s);
    if (!s) return NULL;
    pthread_condattr_t ca;
    int ok = pthread_condattr_init(&ca) == 0;
    if (ok) {
        ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
             pthread_cond_init(&s->freed, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (!ok) {
        kiln_free(s);
        return NULL;
    }
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        pthread_cond_destroy(&s->freed);
        kiln_free(s);
        return NULL;
    }
    s->max = n ? n : 1;
    return s;
}

void kiln_slots_free(kiln_slots *s)
{
    if (!s) return;
    pthread_cond_destroy(&s->freed);
    pthread_mutex_destroy(&s->lock);
    kiln_free(s);
}

int kiln_slots_try(kiln_slots *s)
{
    pthread_mutex_lock(&s->lock);
    int ok = s->used < s->max;
    if (ok) s->used++;
    pthread_mutex_unlock(&s->lock);
    return ok;
}

int kiln_slots_acquire(kiln_slots *s, double deadline_ms)
{
    struct timespec until = {
        (time_t)(deadline_ms / 1000),
        (long)((deadline_ms - (double)(time_t)(deadline_ms / 1000) * 1000) * 1e6)};
    if (until.tv_nsec < 0) until.tv_nsec = 0;
    if (until.tv_nsec > 999999999) until.tv_nsec = 999999999;
    pthread_mutex_lock(&s->lock);
    int rc = 0;
    while (s->used >= s->max) {
        int r = deadline_ms > 0 ? pthread_cond_timedwait(&s->freed, &s->lock, &until)
                                : pthread_cond_wait(&s->freed, &s->lock);
        if (r == ETIMEDOUT && s->used >= s->max) {
            rc = -1;
            break;
        }
    }
    if (rc == 0) s->used++;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void kiln_slots_release(kiln_slots *s)
{
    pthread_mutex_lock(&s->lock);
    if (s->used) s->used--;
    pthread_cond_signal(&s->freed);
    pthread_mutex_unlock(&s->lock);
}

size_t kiln_slots_used(kiln_slots *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->used;
    pthread_mutex_unlock(&s->lock);
    return n;
}
