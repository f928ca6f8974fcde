/* wasi_poll.c — poll_oneoff of WASI preview1: clock subscriptions (relative and absolute)
 * and fd read/write readiness. Memory streams and regular files are always ready.
 *
 * Waits go through the waiting API (engine/fiber.h) where it can express them: clocks
 * only (the guest's `sleep`) with kiln_wait_sleep, one host fd (with or without clocks)
 * with kiln_wait_fd; on a fiber under an event loop these park the fiber instead of
 * blocking the thread. Several host fds at once are polled with a blocking ppoll. */
#include "engine/fiber.h"
#include "engine/runtime.h"
#include "host/wasi_internal.h"

#include <errno.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <time.h>

#include "util/alloc.h"

#define SUB_SIZE 48
#define EVENT_SIZE 32

static uint64_t now_ns(clockid_t c)
{
    struct timespec ts;
    if (clock_gettime(c, &ts) < 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One subscription as decoded from guest memory. */
typedef struct poll_sub {
    uint64_t userdata;
    uint8_t type;     /* 0 clock, 1 fd_read, 2 fd_write */
    uint16_t error;   /* immediate error (bad fd, bad clock) */
    int ready;        /* immediately ready (memory streams, files) */
    uint64_t nbytes;  /* for ready fd events */
    uint64_t wait_ns; /* clocks: ns from now until it fires */
    int pfd;          /* index into the pollfd array, or -1 */
} poll_sub;

/* Writes one 32-byte event. */
static void put_event(uint8_t *p, const poll_sub *s, uint16_t error, uint64_t nbytes,
                      uint16_t flags)
{
    memset(p, 0, EVENT_SIZE);
    wasi_st64(p, s->userdata);
    wasi_st16(p + 8, error);
    p[10] = s->type;
    if (s->type != 0) {
        wasi_st64(p + 16, nbytes);
        wasi_st16(p + 24, flags);
    }
}

/* Decodes a subscription; fills pollfds for host fds that must be waited on. */
static void decode(kiln_wasi *w, const uint8_t *p, poll_sub *s, struct pollfd *pfds, int *npfd)
{
    memset(s, 0, sizeof *s);
    s->pfd = -1;
    s->userdata = wasi_ld64(p);
    s->type = p[8];
    if (s->type == 0) {
        uint32_t id = wasi_ld32(p + 16);
        uint64_t timeout = wasi_ld64(p + 24);
        uint16_t flags = wasi_ld16(p + 40);
        static const clockid_t ids[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID,
                                        CLOCK_THREAD_CPUTIME_ID};
        if (id > 3) {
            s->error = WE_INVAL;
            return;
        }
        if (flags & 1) { /* abstime */
            uint64_t now = now_ns(ids[id]);
            s->wait_ns = timeout > now ? timeout - now : 0;
        } else {
            s->wait_ns = timeout;
        }
        return;
    }
    if (s->type > 2) {
        s->error = WE_INVAL;
        return;
    }
    wasi_fd *f = wasi_fd_get(w, wasi_ld32(p + 16));
    if (!f) {
        s->error = WE_BADF;
        return;
    }
    if (!(f->rights_base & WR_POLL_FD_READWRITE) && f->kind != WFK_HOST) {
        s->error = WE_NOTCAPABLE;
        return;
    }
    if (f->kind == WFK_MEM_IN) {
        s->ready = 1;
        s->nbytes = s->type == 1 ? f->in_len - f->in_pos : 0;
        if (s->type == 2) s->error = WE_BADF;
        return;
    }
    if (f->kind == WFK_MEM_OUT) {
        s->ready = 1;
        if (s->type == 1) s->error = WE_BADF;
        return;
    }
    if (f->filetype == WF_REGULAR_FILE || f->filetype == WF_DIRECTORY) {
        s->ready = 1;
        return;
    }
    s->pfd = *npfd;
    pfds[*npfd].fd = f->hostfd;
    pfds[*npfd].events = s->type == 1 ? POLLIN : POLLOUT;
    pfds[*npfd].revents = 0;
    (*npfd)++;
}

/* Clocks only: sleeps wait_ns (parks on a fiber under a loop). */
static uint32_t wait_clock(uint64_t wait_ns)
{
    /* Interrupted: the guest's time is up and unwinds when poll_oneoff returns. */
    return kiln_wait_sleep(wait_ns) == KILN_WAIT_INTERRUPTED ? wasi_errno(EINTR) : WE_SUCCESS;
}

/* One host fd, and the earliest clock (UINT64_MAX: none): fills p->revents. */
static uint32_t wait_one_fd(struct pollfd *p, uint64_t wait_ns)
{
    int r = kiln_wait_fd(p->fd, p->events, wait_ns);
    if (r == KILN_WAIT_INTERRUPTED) return wasi_errno(EINTR);
    if (r < 0) return wasi_errno(-2 - r);
    p->revents = (short)r;
    return WE_SUCCESS;
}

/* Several host fds (or an immediate check: wait_ns 0): a blocking ppoll that stops
 * early when the guest's time limit passes. */
static uint32_t wait_ppoll(struct pollfd *pfds, int npfd, uint64_t wait_ns)
{
    uint64_t start = now_ns(CLOCK_MONOTONIC);
    struct timespec ts, *tsp = NULL;
    if (wait_ns != UINT64_MAX) {
        ts.tv_sec = (time_t)(wait_ns / 1000000000u);
        ts.tv_nsec = (long)(wait_ns % 1000000000u);
        tsp = &ts;
    }
    for (;;) {
        int r = ppoll(npfd ? pfds : NULL, (nfds_t)npfd, tsp, NULL);
        if (r >= 0) return WE_SUCCESS;
        if (errno != EINTR) return wasi_errno(errno);
        if (kiln_rt_interrupt_pending()) return wasi_errno(EINTR); /* time is up */
        if (tsp) { /* recompute the remaining time after a signal */
            uint64_t el = now_ns(CLOCK_MONOTONIC) - start;
            uint64_t left = el < wait_ns ? wait_ns - el : 0;
            ts.tv_sec = (time_t)(left / 1000000000u);
            ts.tv_nsec = (long)(left % 1000000000u);
        }
    }
}

/* poll_oneoff: waits until at least one subscription is satisfied; writes the events. */
uint32_t wasi_poll_oneoff(void *ctx, uint32_t in, uint32_t out, uint32_t nsubs, uint32_t nevents)
{
    kiln_wasi *w = ctx;
    if (nsubs == 0) return WE_INVAL;
    const uint8_t *ip = wasi_mem(w, in, (uint64_t)nsubs * SUB_SIZE);
    uint8_t *op = wasi_mem(w, out, (uint64_t)nsubs * EVENT_SIZE);
    if (!ip || !op || !wasi_mem(w, nevents, 4)) return WE_FAULT;
    poll_sub *subs = kiln_calloc(nsubs, sizeof *subs);
    struct pollfd *pfds = kiln_calloc(nsubs, sizeof *pfds);
    if (!subs || !pfds) {
        kiln_free(subs);
        kiln_free(pfds);
        return WE_NOMEM;
    }
    int npfd = 0, immediate = 0, have_clock = 0;
    uint64_t min_wait = UINT64_MAX;
    for (uint32_t i = 0; i < nsubs; i++) {
        decode(w, ip + (size_t)i * SUB_SIZE, &subs[i], pfds, &npfd);
        if (subs[i].error || subs[i].ready)
            immediate = 1;
        else if (subs[i].type == 0) {
            have_clock = 1;
            if (subs[i].wait_ns < min_wait) min_wait = subs[i].wait_ns;
        }
    }
    uint64_t start = now_ns(CLOCK_MONOTONIC);
    uint32_t e = WE_SUCCESS;
    if (!immediate && npfd == 0)
        e = wait_clock(min_wait);
    else if (!immediate && npfd == 1)
        e = wait_one_fd(&pfds[0], have_clock ? min_wait : UINT64_MAX);
    else
        e = wait_ppoll(pfds, npfd, immediate ? 0 : have_clock ? min_wait : UINT64_MAX);
    if (e) {
        kiln_free(subs);
        kiln_free(pfds);
        return e;
    }
    uint64_t elapsed = now_ns(CLOCK_MONOTONIC) - start;
    uint32_t n = 0;
    for (uint32_t i = 0; i < nsubs; i++) {
        poll_sub *s = &subs[i];
        uint8_t *ev = op + (size_t)n * EVENT_SIZE;
        if (s->error || s->ready) {
            put_event(ev, s, s->error, s->nbytes, 0);
            n++;
        } else if (s->pfd >= 0 && pfds[s->pfd].revents) {
            short rv = pfds[s->pfd].revents;
            uint16_t err = (rv & POLLNVAL) ? WE_BADF : 0;
            int avail = 0;
            if (s->type == 1 && ioctl(pfds[s->pfd].fd, FIONREAD, &avail) < 0) avail = 0;
            put_event(ev, s, err, avail > 0 ? (uint64_t)avail : 0, (rv & POLLHUP) ? 1 : 0);
            n++;
        } else if (s->type == 0 && s->wait_ns <= elapsed) {
            put_event(ev, s, 0, 0, 0);
            n++;
        }
    }
    if (n == 0 && have_clock) { /* woke at the earliest deadline: report that clock */
        for (uint32_t i = 0; i < nsubs; i++) {
            if (subs[i].type == 0 && !subs[i].error && subs[i].wait_ns == min_wait) {
                put_event(op, &subs[i], 0, 0, 0);
                n = 1;
                break;
            }
        }
    }
    kiln_free(subs);
    kiln_free(pfds);
    return wasi_put32(w, nevents, n);
}
