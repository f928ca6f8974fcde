/* cron.c — the cron triggers' schedule thread (trigger.h, cronexpr.h). */
#include "exec/trigger/internal.h"

#include <time.h>

/* The earliest next firing among the cron targets (INT64_MAX: none). */
static int64_t earliest(const kiln_triggers *T)
{
    int64_t e = INT64_MAX;
    for (size_t i = 0; i < T->ntargets; i++)
        if (T->targets[i].kind == TRIG_CRON && T->targets[i].next >= 0 && T->targets[i].next < e)
            e = T->targets[i].next;
    return e;
}

void *trig_cron_main(void *arg)
{
    kiln_triggers *T = arg;
    trig_block_signals();
    pthread_mutex_lock(&T->mu);
    while (!atomic_load(&T->stopping)) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int64_t due = earliest(T);
        if (due == INT64_MAX) { /* no firing ever again: wait for the stop */
            pthread_cond_wait(&T->cond, &T->mu);
            continue;
        }
        if ((int64_t)now.tv_sec < due) {
            struct timespec until = {(time_t)due, 0};
            pthread_cond_timedwait(&T->cond, &T->mu, &until); /* CLOCK_REALTIME, the default */
            continue;
        }
        /* every target due now fires once; firings missed while not scheduled are skipped */
        for (size_t i = 0; i < T->ntargets; i++) {
            trig_target *t = &T->targets[i];
            if (t->kind != TRIG_CRON || t->next < 0 || t->next > (int64_t)now.tv_sec) continue;
            int64_t at = t->next;
            t->next = kiln_cron_next(&t->cron, (int64_t)now.tv_sec);
            pthread_mutex_unlock(&T->mu); /* trig_dispatch takes it */
            trig_dispatch(T, t, NULL, 0, (uint64_t)at);
            pthread_mutex_lock(&T->mu);
        }
    }
    pthread_mutex_unlock(&T->mu);
    return NULL;
}
