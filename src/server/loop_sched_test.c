/* loop_sched_test.c — fd waits and sleeps of fibers parked on an h2o loop (loop_sched.c):
 * waits end with the fd's revents when it becomes ready (through the epoll set, or the
 * tick for fds epoll refuses), with 0 at their deadline, and all at once on interrupt. */
#include "server/loop_sched.h"
#include "util/test.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef struct waiter {
    int fd;
    short events;
    uint64_t timeout_ns;
    int result;
    int done;
} waiter;

static void wait_fn(void *arg)
{
    waiter *w = arg;
    w->result = kiln_wait_fd(w->fd, w->events, w->timeout_ns);
    w->done = 1;
}

static void sleep_fn(void *arg)
{
    waiter *w = arg;
    w->result = kiln_wait_sleep(w->timeout_ns);
    w->done = 1;
}

/* Runs the loop until every waiter in ws[0..n) is done, at most ~5 s (a wait that never
 * ends fails the test instead of hanging it). */
static void run_until_done(h2o_evloop_t *loop, waiter *ws, size_t n)
{
    for (int round = 0; round < 5000; round++) {
        size_t done = 0;
        for (size_t i = 0; i < n; i++)
            done += (size_t)ws[i].done;
        if (done == n) return;
        h2o_evloop_run(loop, 1);
    }
}

static void start(kiln_loop_sched *s, void (*fn)(void *), waiter *w)
{
    kiln_fiber *f = kiln_fiber_new(fn, w);
    CHECK(f != NULL);
    if (f) kiln_loop_sched_run(s, f);
}

typedef struct later {
    int fd;
    unsigned delay_ms;
} later;

static void *write_later(void *arg)
{
    later *l = arg;
    struct timespec ts = {0, (long)l->delay_ms * 1000000L};
    nanosleep(&ts, NULL);
    ssize_t r = write(l->fd, "x", 1);
    (void)r;
    return NULL;
}

int main(void)
{
    h2o_evloop_t *loop = h2o_evloop_create();
    kiln_loop_sched *s = kiln_loop_sched_new(loop);
    CHECK(s != NULL);
    if (!s) return test_finish("loop_sched");

    /* a pipe made readable from another thread: the wait ends with POLLIN, in epoll */
    int p[2];
    CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
    waiter a = {p[0], POLLIN, UINT64_MAX, -99, 0};
    start(s, wait_fn, &a);
    CHECK(!a.done);
    CHECK_INT(kiln_loop_sched_parked(s), 1);
    CHECK_INT(kiln_loop_sched_ticked(s), 0); /* a pipe goes in the epoll set */
    pthread_t t;
    later l = {p[1], 20};
    CHECK(pthread_create(&t, NULL, write_later, &l) == 0);
    run_until_done(loop, &a, 1);
    pthread_join(t, NULL);
    CHECK(a.done);
    CHECK(a.result > 0 && (a.result & POLLIN));
    CHECK_INT(kiln_loop_sched_parked(s), 0);

    /* two waits on the same fd (one re-armed with both directions) both end */
    char c;
    CHECK(read(p[0], &c, 1) == 1);
    waiter b[2] = {{p[0], POLLIN, UINT64_MAX, -99, 0}, {p[0], POLLIN, UINT64_MAX, -99, 0}};
    start(s, wait_fn, &b[0]);
    start(s, wait_fn, &b[1]);
    CHECK_INT(kiln_loop_sched_parked(s), 2);
    later l2 = {p[1], 10};
    CHECK(pthread_create(&t, NULL, write_later, &l2) == 0);
    run_until_done(loop, b, 2);
    pthread_join(t, NULL);
    CHECK(b[0].done && b[1].done);
    CHECK(b[0].result > 0 && b[1].result > 0);

    /* a writable socket end: POLLOUT at once, from the loop */
    waiter w = {p[1], POLLOUT, UINT64_MAX, -99, 0};
    start(s, wait_fn, &w);
    run_until_done(loop, &w, 1);
    CHECK(w.done && w.result > 0 && (w.result & POLLOUT));

    /* a wait that times out: 0 at its deadline (the timerfd is armed for it) */
    CHECK(read(p[0], &c, 1) == 1);
    waiter to = {p[0], POLLIN, 30 * 1000000ull, -99, 0};
    start(s, wait_fn, &to);
    run_until_done(loop, &to, 1);
    CHECK(to.done);
    CHECK_INT(to.result, 0);
    CHECK_INT(kiln_loop_sched_parked(s), 0);

    /* a regular file: epoll refuses it, the tick polls it (always readable) */
    char path[] = "/tmp/kiln-loop-sched-XXXXXX";
    int ffd = mkstemp(path);
    CHECK(ffd >= 0);
    if (ffd >= 0) unlink(path);
    waiter rf = {ffd, POLLIN, UINT64_MAX, -99, 0};
    start(s, wait_fn, &rf);
    if (!rf.done) CHECK_INT(kiln_loop_sched_ticked(s), 1);
    run_until_done(loop, &rf, 1);
    CHECK(rf.done && rf.result > 0);
    CHECK_INT(kiln_loop_sched_ticked(s), 0);

    /* a sleep, and interrupt_all ending an fd wait that would never end */
    waiter sl = {-1, 0, 5 * 1000000ull, -99, 0};
    start(s, sleep_fn, &sl);
    run_until_done(loop, &sl, 1);
    CHECK(sl.done && sl.result == KILN_WAIT_OK);
    waiter never = {p[0], POLLIN, UINT64_MAX, -99, 0};
    start(s, wait_fn, &never);
    CHECK(!never.done);
    kiln_loop_sched_interrupt_all(s);
    run_until_done(loop, &never, 1);
    CHECK(never.done);
    CHECK_INT(never.result, KILN_WAIT_INTERRUPTED);
    CHECK_INT(kiln_loop_sched_parked(s), 0);

    kiln_loop_sched_free(s);
    close(p[0]);
    close(p[1]);
    if (ffd >= 0) close(ffd);
    return test_finish("loop_sched");
}
