/* loop_sched.c — fibers parked on an h2o event loop (see loop_sched.h).
 *
 * Invariants: every parked fiber is in exactly one place — the timer heap (a sleep), the
 * fd-wait list (an fd wait, with its own deadline), or the run queue once its wait has
 * been completed; `parked` counts them all. A fiber is resumed only from the loop's
 * callbacks (run queue), so resumes never nest. An fd in the list is armed in the
 * scheduler's epoll set (one-shot) unless epoll refused it (`ticked`: then it is polled
 * on the 1 ms tick); the timerfd is armed for the earliest of the heap's deadlines, the
 * fd waits' deadlines and, while a ticked wait exists, the tick. */
#include "server/loop_sched.h"
#include "util/alloc.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

typedef struct timer_ent {
    uint64_t deadline_ns;
    kiln_fiber *f;
} timer_ent;

typedef struct fd_ent {
    kiln_fiber *f;
    int fd;
    short events;
    int poked;  /* kiln_loop_sched_poke or epoll named its fd: check it at the next wake */
    int ticked; /* epoll refused the fd (e.g. a regular file): polled on the 1 ms tick */
    uint64_t deadline_ns;
} fd_ent;

struct kiln_loop_sched {
    kiln_sched super; /* first: the engine calls wait/wake with it */
    h2o_evloop_t *loop;
    int tfd, efd, epfd;
    h2o_socket_t *tsock, *esock, *psock;
    timer_ent *heap;
    size_t nheap, capheap;
    fd_ent *fds;
    size_t nfds, capfds;
    size_t nticked;    /* fd waits with `ticked` set */
    uint64_t armed_ns; /* what the timerfd is set to (0: disarmed) */
    int poked;         /* some fd_ent is poked */
    size_t parked;
    /* the run queue: fibers whose wait ended, filled from any thread, linked through
     * kiln_fiber_sched_link (no allocation) */
    pthread_mutex_t lock;
    kiln_fiber *runq_head, *runq_tail;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Makes room for one more element in *arr (cap doubling). 0 or -1. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap) return 0;
    size_t ncap = *cap ? *cap * 2 : 64;
    void *p = kiln_realloc(*arr, ncap * elem);
    if (!p) return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}

/* ---- the timer heap ---- */

static void heap_up(timer_ent *h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p].deadline_ns <= h[i].deadline_ns) break;
        timer_ent t = h[p];
        h[p] = h[i];
        h[i] = t;
        i = p;
    }
}

static void heap_down(timer_ent *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l].deadline_ns < h[m].deadline_ns) m = l;
        if (r < n && h[r].deadline_ns < h[m].deadline_ns) m = r;
        if (m == i) return;
        timer_ent t = h[m];
        h[m] = h[i];
        h[i] = t;
        i = m;
    }
}

static void heap_remove_at(kiln_loop_sched *s, size_t i)
{
    s->heap[i] = s->heap[--s->nheap];
    if (i < s->nheap) {
        heap_down(s->heap, s->nheap, i);
        heap_up(s->heap, i);
    }
}

/* Arms the timerfd for the earliest deadline: a sleep's, an fd wait's, or the 1 ms tick
 * while an fd wait is not in the epoll set. */
static void rearm(kiln_loop_sched *s)
{
    uint64_t want = s->nheap ? s->heap[0].deadline_ns : 0;
    for (size_t i = 0; i < s->nfds; i++) { /* (a scan of memory, no system call) */
        uint64_t d = s->fds[i].deadline_ns;
        if (d != UINT64_MAX && (!want || d < want)) want = d ? d : 1;
    }
    if (s->nticked) {
        uint64_t tick = now_ns() + 1000000;
        if (!want || tick < want) want = tick;
    }
    if (want == s->armed_ns) return;
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    if (want) {
        its.it_value.tv_sec = (time_t)(want / 1000000000u);
        its.it_value.tv_nsec = (long)(want % 1000000000u);
        if (!its.it_value.tv_sec && !its.it_value.tv_nsec) its.it_value.tv_nsec = 1;
    }
    if (timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0) s->armed_ns = want;
}

/* ---- kiln_sched ---- */

/* Queues f to be resumed from the loop (any thread). */
static void wake(kiln_sched *base, kiln_fiber *f)
{
    kiln_loop_sched *s = (kiln_loop_sched *)base;
    *kiln_fiber_sched_link(f) = NULL;
    pthread_mutex_lock(&s->lock);
    if (s->runq_tail)
        *kiln_fiber_sched_link(s->runq_tail) = f;
    else
        s->runq_head = f;
    s->runq_tail = f;
    pthread_mutex_unlock(&s->lock);
    uint64_t one = 1;
    ssize_t n = write(s->efd, &one, sizeof one);
    (void)n; /* EAGAIN: the counter is saturated, the loop is awake anyway */
}

/* Arms fd in the epoll set for events, one-shot (an fd already there is re-armed, with
 * both directions when another wait watches it too: the wakes are checked with poll(2)
 * anyway). 0, or -1 when epoll refuses it. */
static int watch_fd(kiln_loop_sched *s, int fd, short events)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events =
        EPOLLONESHOT | (events & POLLIN ? EPOLLIN : 0u) | (events & POLLOUT ? EPOLLOUT : 0u);
    ev.data.fd = fd;
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) == 0) return 0;
    if (errno != EEXIST) return -1;
    for (size_t i = 0; i + 1 < s->nfds; i++) /* the new entry is the last one */
        if (s->fds[i].fd == fd) ev.events |= EPOLLIN | EPOLLOUT;
    return epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev);
}

/* Takes entry i (whose wait ends) out of the list, and fd out of the epoll set when no
 * other wait is on it (it may be closed already: then the kernel dropped it). */
static kiln_fiber *fd_remove(kiln_loop_sched *s, size_t i)
{
    fd_ent e = s->fds[i];
    s->fds[i] = s->fds[--s->nfds];
    s->parked--;
    if (e.ticked) s->nticked--;
    int others = 0;
    for (size_t k = 0; k < s->nfds && !others; k++)
        others = s->fds[k].fd == e.fd;
    if (!e.ticked && !others) (void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, e.fd, NULL);
    return e.f;
}

static void wait_cb(kiln_sched *base, kiln_fiber *f, const kiln_wait_req *req)
{
    kiln_loop_sched *s = (kiln_loop_sched *)base;
    s->parked++;
    if (req->kind == KILN_WAIT_FD) {
        if (grow((void **)&s->fds, &s->capfds, s->nfds, sizeof *s->fds) < 0) {
            s->parked--;
            kiln_sched_complete(f, -2 - ENOMEM);
            return;
        }
        fd_ent *e = &s->fds[s->nfds++];
        *e = (fd_ent){f, req->fd, req->events, 0, 0, req->deadline_ns};
        if (watch_fd(s, req->fd, req->events) < 0) {
            e->ticked = 1;
            s->nticked++;
        }
        rearm(s);
        return;
    }
    if (grow((void **)&s->heap, &s->capheap, s->nheap, sizeof *s->heap) < 0) {
        /* No room for the timer: end the wait now (a sleep that returns early is allowed;
         * the guest sees its clock and may sleep again). */
        s->parked--;
        kiln_sched_complete(f, KILN_WAIT_OK);
        return;
    }
    s->heap[s->nheap] = (timer_ent){req->deadline_ns, f};
    heap_up(s->heap, s->nheap++);
    rearm(s);
}

/* Completes the fd waits that are ready or expired (only_poked: only those poked; the
 * others stay as they are). A poked wait found not ready (a spurious wake, or another
 * wait on the same fd took the event) is armed in the epoll set again. */
static void check_fds(kiln_loop_sched *s, uint64_t now, int only_poked)
{
    for (size_t i = 0; i < s->nfds;) {
        fd_ent *e = &s->fds[i];
        /* (a wait armed in epoll needs no poll(2) until it is named or due) */
        if (only_poked ? !e->poked : !e->poked && !e->ticked && e->deadline_ns > now) {
            i++;
            continue;
        }
        e->poked = 0;
        struct pollfd p = {e->fd, e->events, 0};
        int r = poll(&p, 1, 0);
        int result = r > 0 ? p.revents : r < 0 ? -2 - errno : e->deadline_ns <= now ? 0 : -1000;
        if (result == -1000) {
            if (only_poked && !e->ticked && watch_fd(s, e->fd, e->events) < 0) {
                e->ticked = 1;
                s->nticked++;
            }
            i++;
            continue;
        }
        kiln_sched_complete(fd_remove(s, i), result);
    }
}

/* Completes expired timers and ready (or expired) fd waits. */
static void fire(kiln_loop_sched *s)
{
    uint64_t now = now_ns();
    while (s->nheap && s->heap[0].deadline_ns <= now) {
        kiln_fiber *f = s->heap[0].f;
        heap_remove_at(s, 0);
        s->parked--;
        kiln_sched_complete(f, KILN_WAIT_OK);
    }
    check_fds(s, now, 0);
    s->armed_ns = 0;
    rearm(s);
}

static void on_timer(h2o_socket_t *sock, const char *err)
{
    kiln_loop_sched *s = sock->data;
    uint64_t n;
    ssize_t r = read(s->tfd, &n, sizeof n);
    (void)r, (void)err;
    fire(s);
}

/* Some fds in the epoll set are ready: their waits are checked (and completed). */
static void on_epoll(h2o_socket_t *sock, const char *err)
{
    kiln_loop_sched *s = sock->data;
    (void)err;
    struct epoll_event evs[64];
    int n;
    int any = 0;
    while ((n = epoll_wait(s->epfd, evs, 64, 0)) > 0) {
        for (int k = 0; k < n; k++)
            for (size_t i = 0; i < s->nfds; i++)
                if (s->fds[i].fd == evs[k].data.fd) any = s->fds[i].poked = 1;
        if (n < 64) break;
    }
    if (!any) return;
    check_fds(s, now_ns(), 1);
    rearm(s);
}

/* Resumes every queued fiber (those queued while running go in the next round). */
static void on_wake(h2o_socket_t *sock, const char *err)
{
    kiln_loop_sched *s = sock->data;
    uint64_t n;
    ssize_t r = read(s->efd, &n, sizeof n);
    (void)r, (void)err;
    if (s->poked) {
        s->poked = 0;
        check_fds(s, now_ns(), 1);
        rearm(s);
    }
    for (;;) {
        pthread_mutex_lock(&s->lock);
        kiln_fiber *f = s->runq_head;
        s->runq_head = s->runq_tail = NULL;
        pthread_mutex_unlock(&s->lock);
        if (!f) break;
        while (f) {
            kiln_fiber *next = *kiln_fiber_sched_link(f);
            kiln_loop_sched_run(s, f);
            f = next;
        }
    }
}

void kiln_loop_sched_poke(int fd)
{
    kiln_sched *cur = kiln_sched_current();
    if (!cur || cur->wait != wait_cb) return; /* not a loop's scheduler */
    kiln_loop_sched *s = (kiln_loop_sched *)cur;
    int any = 0;
    for (size_t i = 0; i < s->nfds; i++) /* (no system call per wait) */
        if (s->fds[i].fd == fd) any = s->fds[i].poked = 1;
    if (!any || s->poked) return;
    s->poked = 1;
    uint64_t one = 1;
    ssize_t n = write(s->efd, &one, sizeof one);
    (void)n; /* EAGAIN: the counter is saturated, the loop is awake anyway */
}

kiln_loop_sched *kiln_loop_sched_new(h2o_evloop_t *loop)
{
    kiln_loop_sched *s = kiln_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->super.wait = wait_cb;
    s->super.wake = wake;
    s->loop = loop;
    s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->tfd < 0 || s->efd < 0 || s->epfd < 0 || pthread_mutex_init(&s->lock, NULL) != 0) {
        if (s->tfd >= 0) close(s->tfd);
        if (s->efd >= 0) close(s->efd);
        if (s->epfd >= 0) close(s->epfd);
        kiln_free(s);
        return NULL;
    }
    /* h2o owns the fds from here (closed with the sockets). */
    s->tsock = h2o_evloop_socket_create(loop, s->tfd, H2O_SOCKET_FLAG_DONT_READ);
    s->esock = h2o_evloop_socket_create(loop, s->efd, H2O_SOCKET_FLAG_DONT_READ);
    /* the epoll set is readable while one of its fds is ready: the loop watches it too */
    s->psock = h2o_evloop_socket_create(loop, s->epfd, H2O_SOCKET_FLAG_DONT_READ);
    s->tsock->data = s->esock->data = s->psock->data = s;
    h2o_socket_read_start(s->tsock, on_timer);
    h2o_socket_read_start(s->esock, on_wake);
    h2o_socket_read_start(s->psock, on_epoll);
    kiln_sched_bind(&s->super);
    return s;
}

void kiln_loop_sched_run(kiln_loop_sched *s, kiln_fiber *f)
{
    (void)s;
    if (kiln_fiber_resume(f) == KILN_FIBER_DONE) kiln_fiber_free(f);
}

size_t kiln_loop_sched_parked(const kiln_loop_sched *s)
{
    return s->parked;
}

size_t kiln_loop_sched_ticked(const kiln_loop_sched *s)
{
    return s->nticked;
}

void kiln_loop_sched_interrupt_all(kiln_loop_sched *s)
{
    while (s->nheap) {
        kiln_fiber *f = s->heap[s->nheap - 1].f;
        s->nheap--;
        s->parked--;
        kiln_sched_complete(f, KILN_WAIT_INTERRUPTED);
    }
    while (s->nfds)
        kiln_sched_complete(fd_remove(s, s->nfds - 1), KILN_WAIT_INTERRUPTED);
    rearm(s);
}

void kiln_loop_sched_free(kiln_loop_sched *s)
{
    if (!s) return;
    if (kiln_sched_current() == &s->super) kiln_sched_bind(NULL);
    h2o_socket_read_stop(s->tsock);
    h2o_socket_read_stop(s->esock);
    h2o_socket_read_stop(s->psock);
    h2o_socket_close(s->tsock);
    h2o_socket_close(s->esock);
    h2o_socket_close(s->psock);
    pthread_mutex_destroy(&s->lock);
    kiln_free(s->heap);
    kiln_free(s->fds);
    kiln_free(s);
}
