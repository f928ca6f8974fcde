/* executor.c — guest threads with a bounded, timed queue (see executor.h).
 *
 * One mutex guards the FIFO and the counters; executor threads sleep on `work`. A reaper
 * thread wakes every 50 ms and expires jobs that waited past the queue timeout, so that
 * a queue behind stuck guests still gets its 503s in time. */
#include "exec/executor.h"
#include "engine/runtime.h"
#include "util/alloc.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

struct kiln_executor {
    pthread_mutex_t lock;
    pthread_cond_t work; /* executor threads wait here for jobs */
    pthread_cond_t tick; /* the reaper sleeps here (own condvar: a job's signal is never
                          * spent on the reaper) */
    kiln_job *head, *tail;
    size_t queued, max_queue, running;
    unsigned queue_timeout_ms;
    int stopping;
    unsigned inited;        /* executor threads past their runtime setup */
    int thread_init_failed; /* one of them could not set it up */
    unsigned nthreads;
    pthread_t *threads;
    pthread_t reaper;
    int reaper_started;
    unsigned long completed, expired, rejected;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *executor_main(void *arg)
{
    kiln_executor *e = arg;
    int ok = kiln_rt_thread_init() == 0;
    pthread_mutex_lock(&e->lock);
    /* kiln_executor_new waits for every thread's setup (on `work`) */
    e->inited++;
    if (!ok) e->thread_init_failed = 1;
    pthread_cond_broadcast(&e->work);
    if (!ok) { /* a thread that cannot run guests takes no jobs; kiln_executor_new fails */
        pthread_mutex_unlock(&e->lock);
        return NULL;
    }
    for (;;) {
        while (!e->head && !e->stopping)
            pthread_cond_wait(&e->work, &e->lock);
        kiln_job *j = e->head;
        if (!j) break; /* stopping and nothing left */
        e->head = j->next;
        if (!e->head) e->tail = NULL;
        e->queued--;
        int late = e->queue_timeout_ms && now_ms() - j->queued_at_ms > e->queue_timeout_ms;
        if (late)
            e->expired++;
        else
            e->running++;
        pthread_mutex_unlock(&e->lock);
        if (late) {
            j->expired(j);
        } else {
            j->run(j);
            j->complete(j);
        }
        pthread_mutex_lock(&e->lock);
        if (!late) {
            e->running--;
            e->completed++;
        }
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

/* Expires jobs that waited too long while every executor thread was busy. */
static void *reaper_main(void *arg)
{
    kiln_executor *e = arg;
    pthread_mutex_lock(&e->lock);
    while (!e->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 50 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&e->tick, &e->lock, &until);
        double now = now_ms();
        /* The queue is FIFO: expired jobs are at its head. */
        while (e->head && now - e->head->queued_at_ms > e->queue_timeout_ms) {
            kiln_job *j = e->head;
            e->head = j->next;
            if (!e->head) e->tail = NULL;
            e->queued--;
            e->expired++;
            pthread_mutex_unlock(&e->lock);
            j->expired(j);
            pthread_mutex_lock(&e->lock);
        }
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

kiln_executor *kiln_executor_new(unsigned threads, size_t max_queue, unsigned queue_timeout_ms,
                                 size_t stack_size)
{
    if (threads == 0) threads = 1;
    kiln_executor *e = kiln_calloc(1, sizeof *e);
    if (!e) return NULL;
    e->threads = kiln_calloc(threads, sizeof *e->threads);
    int locks = 0; /* how many of lock, work, tick are initialized */
    if (e->threads && pthread_mutex_init(&e->lock, NULL) == 0 && ++locks &&
        pthread_cond_init(&e->work, NULL) == 0 && ++locks && pthread_cond_init(&e->tick, NULL) == 0)
        ++locks;
    if (locks < 3) {
        if (locks > 1) pthread_cond_destroy(&e->work);
        if (locks > 0) pthread_mutex_destroy(&e->lock);
        kiln_free(e->threads);
        kiln_free(e);
        return NULL;
    }
    e->max_queue = max_queue;
    e->queue_timeout_ms = queue_timeout_ms;
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) {
        kiln_executor_free(e);
        return NULL;
    }
    if (pthread_attr_setstacksize(&attr, stack_size ? stack_size : (size_t)8 << 20) != 0 ||
        pthread_attr_setguardsize(&attr, 64 * 1024) != 0)
        threads = 0; /* fails below: no threads started */
    for (unsigned i = 0; i < threads; i++) {
        if (pthread_create(&e->threads[i], &attr, executor_main, e) != 0) break;
        e->nthreads++;
    }
    pthread_attr_destroy(&attr);
    pthread_mutex_lock(&e->lock);
    while (e->inited < e->nthreads)
        pthread_cond_wait(&e->work, &e->lock);
    pthread_mutex_unlock(&e->lock);
    if (e->nthreads && queue_timeout_ms && pthread_create(&e->reaper, NULL, reaper_main, e) == 0)
        e->reaper_started = 1;
    if (!threads || e->nthreads != threads || e->thread_init_failed ||
        (queue_timeout_ms && !e->reaper_started)) {
        kiln_executor_free(e);
        return NULL;
    }
    return e;
}

int kiln_executor_submit(kiln_executor *e, kiln_job *job)
{
    pthread_mutex_lock(&e->lock);
    if (e->stopping || e->queued >= e->max_queue) {
        e->rejected++;
        pthread_mutex_unlock(&e->lock);
        return -1;
    }
    job->next = NULL;
    job->queued_at_ms = now_ms();
    if (e->tail)
        e->tail->next = job;
    else
        e->head = job;
    e->tail = job;
    e->queued++;
    pthread_cond_signal(&e->work);
    pthread_mutex_unlock(&e->lock);
    return 0;
}

void kiln_executor_stats_get(kiln_executor *e, kiln_executor_stats *out)
{
    pthread_mutex_lock(&e->lock);
    *out = (kiln_executor_stats){e->nthreads,  e->running, e->queued,
                                 e->completed, e->expired, e->rejected};
    pthread_mutex_unlock(&e->lock);
}

void kiln_executor_free(kiln_executor *e)
{
    if (!e) return;
    pthread_mutex_lock(&e->lock);
    e->stopping = 1;
    pthread_cond_broadcast(&e->work);
    pthread_cond_broadcast(&e->tick);
    pthread_mutex_unlock(&e->lock);
    for (unsigned i = 0; i < e->nthreads; i++)
        pthread_join(e->threads[i], NULL);
    if (e->reaper_started) pthread_join(e->reaper, NULL);
    pthread_cond_destroy(&e->work);
    pthread_cond_destroy(&e->tick);
    pthread_mutex_destroy(&e->lock);
    kiln_free(e->threads);
    kiln_free(e);
}
