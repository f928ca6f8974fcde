/* wait.c — the waiting API for host functions (kiln_wait_sleep, kiln_wait_fd,
 * kiln_offload; design in fiber.h) and the offload thread pool.
 *
 * Every wait is bounded by the guest's time limit (kiln_rt_deadline_ns): the wait is
 * registered (or the thread sleeps) only until min(its own end, the limit), and on
 * return an expired limit means KILN_WAIT_INTERRUPTED plus kiln_rt_interrupt_set().
 * The limit is on the coarse clock, which never runs ahead of CLOCK_MONOTONIC, so
 * "CLOCK_MONOTONIC >= limit" is a safe test that it has passed. */
#include "engine/fiber.h"
#include "engine/runtime.h"
#include "engine/runtime_internal.h"
#include "util/alloc.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static struct timespec to_ts(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    return ts;
}

/* 1 once the running guest's time limit has passed. */
static int expired(void)
{
    uint64_t d = kiln_rt_deadline_ns();
    return d && now_ns() >= d;
}

static int interrupted(void)
{
    kiln_rt_interrupt_set();
    return KILN_WAIT_INTERRUPTED;
}

/* The wait's end bounded by the time limit. */
static uint64_t bound_end(uint64_t end)
{
    uint64_t d = kiln_rt_deadline_ns();
    return d && d < end ? d : end;
}

/* 1 when waits park the fiber (on a fiber, scheduler bound); 0: they block. */
static int parking(void)
{
    return kiln_fiber_current() && kiln_sched_current();
}

typedef struct park_ctx {
    kiln_sched *sched;
    kiln_wait_req req;
} park_ctx;

static void register_wait(kiln_fiber *f, void *arg)
{
    park_ctx *c = arg;
    c->sched->wait(c->sched, f, &c->req);
}

/* Parks the fiber on req; returns the result it was completed with. */
static int park_on(const kiln_wait_req *req)
{
    park_ctx c = {kiln_sched_current(), *req};
    kiln_fiber_park_then(register_wait, &c);
    return kiln_fiber_result(kiln_fiber_current());
}

int kiln_wait_sleep(uint64_t ns)
{
    uint64_t end = add_sat(now_ns(), ns);
    for (;;) {
        if (expired()) return interrupted();
        uint64_t now = now_ns();
        if (now >= end) return KILN_WAIT_OK;
        uint64_t until = bound_end(end);
        if (parking()) {
            kiln_wait_req req = {.kind = KILN_WAIT_SLEEP, .deadline_ns = until, .fd = -1};
            if (park_on(&req) == KILN_WAIT_INTERRUPTED) return interrupted(); /* cancelled */
            continue;
        }
        struct timespec ts = to_ts(until);
        int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        if (rc == EINTR && kiln_rt_interrupt_pending()) return KILN_WAIT_INTERRUPTED;
        if (rc != 0 && rc != EINTR) return interrupted(); /* cannot sleep: do not spin */
    }
}

int kiln_wait_fd(int fd, short events, uint64_t timeout_ns)
{
    uint64_t end = add_sat(now_ns(), timeout_ns);
    for (;;) {
        if (expired()) return interrupted();
        uint64_t now = now_ns();
        uint64_t until = bound_end(end);
        int r;
        if (parking()) {
            kiln_wait_req req = {
                .kind = KILN_WAIT_FD, .deadline_ns = until, .fd = fd, .events = events};
            r = park_on(&req);
            if (r == KILN_WAIT_INTERRUPTED) return interrupted(); /* cancelled */
        } else {
            struct pollfd p = {.fd = fd, .events = events};
            struct timespec ts;
            if (until != UINT64_MAX) ts = to_ts(until > now ? until - now : 0);
            r = ppoll(&p, 1, until == UINT64_MAX ? NULL : &ts, NULL);
            if (r > 0) r = p.revents;
            if (r < 0) {
                if (errno != EINTR) return -2 - errno;
                if (kiln_rt_interrupt_pending()) return KILN_WAIT_INTERRUPTED;
                continue;
            }
        }
        if (r != 0) return r;
        if (now_ns() >= end) return 0;
    }
}

/* ---- offload pool ---- */

typedef struct offload_job {
    void (*fn)(void *);
    void *arg;
    kiln_fiber *fiber;
    struct offload_job *next;
} offload_job;

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static offload_job *queue_head, *queue_tail;
static int pool_threads = 2, pool_started;

void kiln_offload_set_threads(int n)
{
    pthread_mutex_lock(&pool_lock);
    if (!pool_started && n > 0) pool_threads = n;
    pthread_mutex_unlock(&pool_lock);
}

static void *pool_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&pool_lock);
        while (!queue_head)
            pthread_cond_wait(&pool_cond, &pool_lock);
        offload_job *j = queue_head;
        queue_head = j->next;
        if (!queue_head) queue_tail = NULL;
        pthread_mutex_unlock(&pool_lock);
        kiln_fiber *f = j->fiber; /* j lives on f's stack: read before completing */
        j->fn(j->arg);
        kiln_sched_complete(f, 0);
    }
    return NULL;
}

/* Starts the pool once (under pool_lock); returns the threads running. */
static int pool_start_locked(void)
{
    if (pool_started) return pool_started;
    /* Pool threads never run guests: keep the runtime's signals away from them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int n = 0;
    for (int i = 0; i < pool_threads; i++) {
        pthread_t th;
        pthread_attr_t attr;
        if (pthread_attr_init(&attr) != 0) break;
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &attr, pool_main, NULL) == 0) n++;
        pthread_attr_destroy(&attr);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pool_started = n;
    return n;
}

/* Runs on the scheduler's side once the fiber has parked. */
static void submit_job(kiln_fiber *f, void *arg)
{
    offload_job *j = arg;
    j->fiber = f;
    j->next = NULL;
    pthread_mutex_lock(&pool_lock);
    if (pool_start_locked() == 0) {
        /* No pool thread could start: do the work here (it blocks this loop). */
        pthread_mutex_unlock(&pool_lock);
        j->fn(j->arg);
        kiln_sched_complete(f, 0);
        return;
    }
    if (queue_tail)
        queue_tail->next = j;
    else
        queue_head = j;
    queue_tail = j;
    pthread_cond_signal(&pool_cond);
    pthread_mutex_unlock(&pool_lock);
}

int kiln_offload(void (*fn)(void *), void *arg)
{
    if (!parking()) {
        fn(arg);
    } else {
        offload_job j = {.fn = fn, .arg = arg};
        kiln_fiber_park_then(submit_job, &j);
    }
    return expired() ? interrupted() : KILN_WAIT_OK;
}
