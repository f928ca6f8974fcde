/* async_host.c — host functions that complete later (host.h's kiln_chost_defer and
 * kiln_chost_complete): an async-lowered host call left pending is a subtask without a
 * task, kept on the store's list until the host completes it, the guest cancels it, or
 * the instance is freed. The driver (async.c) fires the earliest due one when no guest
 * thread can run. */
#include "component/async_internal.h"
#include "util/alloc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

kiln_chost_pending *kiln_chost_defer(kiln_cabi_cx *cx, const kiln_chost_later *later)
{
    kiln_component_instance *ci = cx->async_ctx;
    ka_store *s = ci ? ci->as : NULL;
    if (!s || !s->host_call || &s->host_call->cx != cx || s->host_call->host_pending) return NULL;
    ka_subtask *sub = s->host_call;
    sub->host_pending = 1;
    sub->later = *later;
    sub->hnext = s->host_pending;
    s->host_pending = sub;
    return (kiln_chost_pending *)sub;
}

kiln_cval *kiln_chost_pending_results(kiln_chost_pending *p)
{
    return &((ka_subtask *)p)->result;
}

kiln_cabi_cx *kiln_chost_pending_cx(kiln_chost_pending *p)
{
    return &((ka_subtask *)p)->cx;
}

/* Takes sub off its store's list of pending host calls. */
static void unlink_pending(ka_subtask *sub)
{
    for (ka_subtask **pp = &sub->store->host_pending; *pp; pp = &(*pp)->hnext)
        if (*pp == sub) {
            *pp = sub->hnext;
            break;
        }
    sub->host_pending = 0;
    sub->hnext = NULL;
}

int kiln_chost_complete(kiln_chost_pending *p)
{
    ka_subtask *sub = (ka_subtask *)p;
    ka_store *s = sub->store;
    unlink_pending(sub);
    const kiln_ctype *ft = sub->tramp->type;
    if (ft->has_elem &&
        kiln_cabi_store_value(&sub->cx, ft->elem.type, &sub->result, sub->retptr) < 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s: returning the results: %s", sub->tramp->callee->name,
                 sub->cx.err);
        ka_store_fail(s, NULL, msg);
        return -1;
    }
    sub->state = ST_RETURNED;
    if (sub->w.handle) sub->w.pending = 1;
    return 0;
}

void kiln_chost_pending_again(kiln_chost_pending *p, uint64_t due_ns)
{
    ((ka_subtask *)p)->later.due_ns = due_ns;
}

void kiln_chost_pending_fail(kiln_chost_pending *p, const char *msg)
{
    ka_subtask *sub = (ka_subtask *)p;
    unlink_pending(sub);
    char m[300];
    snprintf(m, sizeof m, "%s: %s", sub->tramp->callee->name, msg);
    ka_store_fail(sub->store, NULL, m);
}

/* The pending host call with the earliest due time (NULL: none). */
static ka_subtask *earliest(ka_store *s)
{
    ka_subtask *first = NULL;
    for (ka_subtask *x = s->host_pending; x; x = x->hnext)
        if (x->later.due_ns && x->later.fire && (!first || x->later.due_ns < first->later.due_ns))
            first = x;
    return first;
}

uint64_t ka_host_next_due(ka_store *s)
{
    ka_subtask *first = earliest(s);
    uint64_t due = first ? first->later.due_ns : UINT64_MAX;
    /* streams waiting for fds are polled between the host's outside waits: in slices */
    if (s->fd_waiters && due > now_ns() + KA_FD_SLICE_NS) due = now_ns() + KA_FD_SLICE_NS;
    return due;
}

/* Fires first, which is due: fire must complete (or fail) the call, or set it a later
 * due time (kiln_chost_pending_again); one that does none of these is failed here, so
 * that the driver cannot spin on it. */
static int fire(ka_store *s, ka_subtask *first)
{
    uint64_t was = first->later.due_ns;
    first->later.fire((kiln_chost_pending *)first, first->later.arg);
    if (first->host_pending && first->later.due_ns <= was)
        kiln_chost_pending_fail((kiln_chost_pending *)first, "not completed");
    return !s->failed;
}

int ka_host_fire_due(ka_store *s)
{
    ka_pumps_reap(s, 0);
    ka_subtask *first = earliest(s);
    if (!first || s->failed || now_ns() < first->later.due_ns) return 0;
    return fire(s, first);
}

int ka_host_progress(ka_store *s)
{
    ka_pumps_reap(s, 0);
    ka_subtask *first = earliest(s);
    if ((!first && !s->fd_waiters) || s->failed) return 0;
    uint64_t until = first ? first->later.due_ns : UINT64_MAX;
    if (s->deadline_ns && s->deadline_ns < until) until = s->deadline_ns;
    if (s->fd_waiters) { /* a host stream's fd or the due call, whichever comes first */
        int r = ka_stream_poll(s, until);
        if (r != 0) return r > 0;
    }
    while (now_ns() < until) {
        struct timespec ts = {(time_t)(until / 1000000000u), (long)(until % 1000000000u)};
        int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        if (rc != 0 && rc != EINTR) {
            ka_store_fail(s, NULL, "cannot wait for a host call");
            return 0;
        }
    }
    if (s->deadline_ns && now_ns() >= s->deadline_ns) {
        kiln_trap trap = {.kind = KILN_TRAP_INTERRUPTED};
        ka_store_fail(s, &trap, "the call's time limit passed");
        return 0;
    }
    return first ? fire(s, first) : 0;
}

/* Drops a pending call on the host's side. */
static void abandon(ka_subtask *sub)
{
    unlink_pending(sub);
    if (sub->later.abandon) sub->later.abandon(sub->later.arg);
}

void ka_host_cancel(ka_subtask *sub)
{
    abandon(sub);
    sub->state = ST_CANCELLED_BEFORE_RETURNED;
    if (sub->w.handle) sub->w.pending = 1;
}

void ka_host_abandon_all(ka_store *s)
{
    while (s->host_pending)
        abandon(s->host_pending);
    ka_pumps_reap(s, 1);
}

void ka_host_schedule(ka_subtask *sub, uint64_t due_ns)
{
    sub->later.due_ns = due_ns;
    if (sub->host_pending) return;
    sub->host_pending = 1;
    sub->hnext = sub->store->host_pending;
    sub->store->host_pending = sub;
}

void ka_host_unschedule(ka_subtask *sub)
{
    if (sub->host_pending) unlink_pending(sub);
}
