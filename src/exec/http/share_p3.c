/* share_p3.c — one wasi:http 0.3 instance serving several requests at once: the baton,
 * the hand-offs and the holder's watch (share_p3.h). */
#include "exec/http/share_p3.h"
#include "util/alloc.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct kiln_p3_share {
    kiln_component_instance *ci;
    kiln_p3_member *members;       /* in flight */
    kiln_p3_member *holder;        /* has the baton (NULL: free) */
    kiln_p3_member *whead, *wtail; /* waiting for the baton, in order */
    int epfd, kick;                /* the holder's watch, and its kick */
    int watching;                  /* the holder waits on epfd */
    int stalled;                   /* the holder's wait found nothing can progress */
    int broken; /* a wait failed (or the server stops): every drive fails the store */
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int kiln_p3_feed_some(kiln_p3http_req *q, kiln_body_source *src, int *fd)
{
    char chunk[16384];
    int got = 0;
    *fd = -1;
    for (;;) {
        size_t room = kiln_p3http_body_room(q);
        if (!kiln_p3http_body_wants(q) || !room) return got;
        long n = src->read(src, chunk, room < sizeof chunk ? room : sizeof chunk);
        if (n > 0) {
            if (kiln_p3http_body_put(q, chunk, (size_t)n) < 0) return -1;
            got = 1;
            continue;
        }
        int w = n == KILN_BODY_AGAIN && src->wait_fd ? src->wait_fd(src) : -1;
        if (w < 0) { /* the end, or the body broke off (a client gone, a bad chunk) */
            size_t nt = 0;
            const kiln_http_header *tr = n == 0 && src->trailers ? src->trailers(src, &nt) : NULL;
            for (size_t i = 0; i < nt; i++)
                if (kiln_p3http_body_trailer(q, tr[i].name, tr[i].name_len, tr[i].value,
                                             tr[i].value_len) < 0)
                    return -1;
            kiln_p3http_body_end(q, n != 0);
            return 1;
        }
        *fd = w;
        return got;
    }
}

/* Another request needs the baton now: one started whose condition holds (it waits for
 * what the holder's drive did), or whose start failed. */
static kiln_p3_member *eligible(kiln_p3_share *sh)
{
    for (kiln_p3_member *w = sh->whead; w; w = w->wnext)
        if (!w->starting && (!w->cond || w->cond(w->arg))) return w;
    return NULL;
}

/* Starts m (with the baton, held by m or by the holder on its behalf). */
static void start_one(kiln_p3_member *m)
{
    m->starting = 0;
    m->cond = NULL;
    m->start(m);
}

/* The holder starts the requests that came meanwhile: 1 when it started one. */
static int run_starters(kiln_p3_share *sh)
{
    int any = 0;
    for (kiln_p3_member *w = sh->whead; w; w = w->wnext)
        if (w->starting) {
            start_one(w);
            any = 1;
        }
    return any;
}

/* Whether a request in flight is neither the holder nor waiting: it will come back for
 * the baton (it is writing to its client, say). */
static int any_out(const kiln_p3_share *sh)
{
    for (const kiln_p3_member *m = sh->members; m; m = m->next)
        if (m != sh->holder && !m->waiting) return 1;
    return 0;
}

/* The earliest time limit of the requests in flight (UINT64_MAX: none). */
static uint64_t limit_of(const kiln_p3_share *sh)
{
    uint64_t limit = UINT64_MAX;
    for (const kiln_p3_member *x = sh->members; x; x = x->next)
        if (x->deadline_ns && x->deadline_ns < limit) limit = x->deadline_ns;
    return limit;
}

/* idle_wait's work: 0, 1 or -1 as its. */
static int idle_wait_once(kiln_p3_share *sh, uint64_t until)
{
    if (run_starters(sh)) return 0; /* (their threads are ready now) */
    int fed = 0, wanted = 0;
    for (kiln_p3_member *m = sh->members; m; m = m->next) {
        if (!m->q || !m->body || !kiln_p3http_body_wants(m->q)) continue;
        int fd;
        int rc = kiln_p3_feed_some(m->q, m->body, &fd);
        if (rc < 0) return -1;
        fed |= rc;
        if (rc == 0 && fd >= 0) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.fd = fd};
            if (epoll_ctl(sh->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 &&
                (errno != ENOENT || epoll_ctl(sh->epfd, EPOLL_CTL_ADD, fd, &ev) < 0))
                return -1;
            wanted = 1;
        }
    }
    if (fed) return 0;
    if (eligible(sh)) return 1;
    /* nothing can come (no host call pending, no body wanted, no request out): a deadlock,
     * as the driver finds on an instance of one request; not worth waiting for the limit */
    if (!wanted && !any_out(sh) && kiln_component_ready(sh->ci) == UINT64_MAX) {
        sh->stalled = 1;
        return 1;
    }
    uint64_t now = mono_ns();
    if (until <= now) return 0;
    sh->watching = 1;
    int rc = kiln_wait_fd(sh->epfd, POLLIN, until == UINT64_MAX ? UINT64_MAX : until - now);
    sh->watching = 0;
    uint64_t v;
    if (read(sh->kick, &v, sizeof v) < 0 && errno != EAGAIN) return -1;
    if (rc < 0) return -1; /* (interrupted, or the wait failed) */
    /* consumes the bodies' one-shot events (each is armed again by the next wait that
     * wants its body): a body that wants no more bytes must not keep epfd ready */
    struct epoll_event evs[16];
    int n;
    do
        n = epoll_wait(sh->epfd, evs, 16, 0);
    while (n == 16);
    return 0;
}

/* The store's idle wait (kiln_component_idle's wait) on the holder's fiber: 0 drive on,
 * 1 hand the store back (another request needs it, or nothing can progress: stalled),
 * -1 the wait failed (interrupted: the server stops; a body's read failed): then always,
 * so that the drive fails the store and every request on it ends. */
static int idle_wait(void *arg, uint64_t until)
{
    kiln_p3_share *sh = arg;
    if (sh->broken) return -1;
    int rc = idle_wait_once(sh, until);
    if (rc < 0) sh->broken = 1;
    return rc;
}

static int always(void *arg)
{
    (void)arg;
    return 1;
}

kiln_p3_share *kiln_p3_share_new(kiln_component_instance *ci)
{
    kiln_p3_share *sh = kiln_calloc(1, sizeof *sh);
    if (!sh) return NULL;
    sh->ci = ci;
    sh->epfd = epoll_create1(EPOLL_CLOEXEC);
    sh->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = sh->kick};
    if (sh->epfd < 0 || sh->kick < 0 || epoll_ctl(sh->epfd, EPOLL_CTL_ADD, sh->kick, &ev) < 0) {
        kiln_p3_share_free(sh);
        return NULL;
    }
    kiln_component_idle idle = {always, idle_wait, sh};
    kiln_component_set_idle(ci, &idle);
    return sh;
}

void kiln_p3_share_free(kiln_p3_share *sh)
{
    if (!sh) return;
    if (sh->epfd >= 0) close(sh->epfd);
    if (sh->kick >= 0) close(sh->kick);
    kiln_free(sh);
}

static void release(kiln_p3_share *sh);
static void unwait(kiln_p3_share *sh, kiln_p3_member *w);

/* Hands the baton to waiter w (its fiber runs when the holder's parks or ends). */
static void hand_to(kiln_p3_share *sh, kiln_p3_member *w)
{
    unwait(sh, w);
    sh->holder = w;
    kiln_sched_complete(w->fiber, 0);
}

/* Takes w off the waiters' list. */
static void unwait(kiln_p3_share *sh, kiln_p3_member *w)
{
    kiln_p3_member **pp = &sh->whead, *prev = NULL;
    while (*pp && *pp != w) {
        prev = *pp;
        pp = &(*pp)->wnext;
    }
    if (!*pp) return;
    *pp = w->wnext;
    if (sh->wtail == w) sh->wtail = prev;
    w->waiting = 0;
    w->wnext = NULL;
}

void kiln_p3_share_leave(kiln_p3_share *sh, kiln_p3_member *m)
{
    /* a body fd left in the watch would wake it for a request gone */
    if (m->body && m->body->wait_fd) {
        int fd = m->body->wait_fd(m->body);
        if (fd >= 0) (void)epoll_ctl(sh->epfd, EPOLL_CTL_DEL, fd, NULL);
    }
    for (kiln_p3_member **pp = &sh->members; *pp; pp = &(*pp)->next)
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    m->q = NULL;
    m->body = NULL;
    release(sh);
}

/* Hands the baton on (see kiln_p3_share_leave). */
static void release(kiln_p3_share *sh)
{
    kiln_p3_member *w = eligible(sh);
    if (!w) w = sh->whead; /* someone must watch for those waiting */
    sh->holder = w;
    if (w) hand_to(sh, w);
}

/* Parks m on the waiters' list until it is handed the baton (which it does not hold). */
static void park_for(kiln_p3_share *sh, kiln_p3_member *m)
{
    m->waiting = 1;
    m->wnext = NULL;
    if (sh->wtail)
        sh->wtail->wnext = m;
    else
        sh->whead = m;
    sh->wtail = m;
    kiln_fiber_park();
}

void kiln_p3_share_enter(kiln_p3_share *sh, kiln_p3_member *m)
{
    m->next = sh->members;
    sh->members = m;
    if (!sh->holder) {
        sh->holder = m;
        start_one(m);
        return;
    }
    m->starting = 1;
    if (sh->watching) {
        uint64_t one = 1;
        if (write(sh->kick, &one, sizeof one) < 0) {
            /* (a full counter is a kick already) */
        }
    }
    park_for(sh, m);
    if (m->starting) start_one(m); /* (handed the baton before the holder started it) */
}

/* Nothing is ready in the store (the next host call due at `next`): the holder's idle wait
 * without a trip through the driver. 0 to look again, 1 as idle_wait's, -1 when the
 * driver must decide (a time limit passed, or the wait failed: the drive fails the
 * store). */
static int wait_here(kiln_p3_share *sh, uint64_t next)
{
    uint64_t limit = limit_of(sh);
    if (limit != UINT64_MAX && mono_ns() >= limit) return -1;
    int w = idle_wait(sh, next < limit ? next : limit);
    return w < 0 ? -1 : w;
}

int kiln_p3_share_wait(kiln_p3_share *sh, kiln_p3_member *m, int (*cond)(void *), void *arg,
                       kiln_trap *trap)
{
    for (;;) {
        run_starters(sh);
        if (cond(arg)) return 1;
        uint64_t next = kiln_component_ready(sh->ci);
        int rc = -1;
        sh->stalled = 0;
        if (next) rc = wait_here(sh, next);
        if (rc == 0) continue;
        if (rc < 0) {
            uint64_t limit = limit_of(sh), now = mono_ns();
            uint64_t left = limit == UINT64_MAX ? 0 : limit > now ? limit - now : 1;
            rc = kiln_component_drive(sh->ci, cond, arg, trap, left);
            if (rc != 0) return rc;
        }
        if (sh->stalled) {
            sh->stalled = 0;
            return 0;
        }
        /* handed back: another request needs the store; wait to be handed it again */
        kiln_p3_member *w = eligible(sh);
        if (!w) continue; /* (nobody after all) */
        m->cond = cond;
        m->arg = arg;
        hand_to(sh, w);
        park_for(sh, m);
    }
}
