/* share_p3.h — one wasi:http 0.3 instance serving several requests at once (Spin's
 * --max-instance-concurrent-reuse-count M > 1; the pool that lends it: reuse_p3.h).
 *
 * Each request runs on its own fiber (of one event loop: an instance is only shared by
 * requests on the loop that made it) and is a separate call of the instance's async
 * handle export (kiln_component_call_start); their tasks interleave where the guest
 * waits. The store is single-threaded, so the right to touch it — start a call, drive,
 * bind or release a request, take response bytes, feed a request body — is a baton that
 * the requests pass between them cooperatively (kiln_p3_share_enter / _wait / _leave): a
 * request that finds it taken parks its fiber (never its loop), and is handed the baton
 * when it comes free. No mutex: everything here runs on the one loop thread (the
 * driver runs on the offload pool while the holder's fiber is parked, touching only the
 * store, never this state).
 *
 * Waiting (kiln_p3_share_wait): the holder drives the store — guest threads of every
 * request in flight, not only its own — until its own condition holds (its task
 * resolved, its response body has bytes) or nothing can run. Then, as the store's idle
 * wait (kiln_component_idle, on the holder's fiber; or directly when nothing is ready,
 * without a trip through the driver): it starts the requests that came meanwhile (then
 * drives on), feeds every request's streamed body with what its connection brought; if
 * another request's condition now holds, the holder hands the baton on and waits
 * passively itself, to be handed it back;
 * otherwise it watches for the instance — one epoll fd holding a kick eventfd (written by a
 * request that comes while the holder watches) and the bodies that want bytes
 * — until the earliest due host call (a guest's timer) or the earliest time limit of the
 * requests in flight. So exactly one request watches while any waits, and a request that
 * waits never spins.
 *
 * Time limits: the store has one; a drive uses the earliest of the requests in flight,
 * and when it passes the store fails: every request in flight on the instance fails
 * (as a trap does: wasmtime's store, and Spin's, are gone after a trap). When nothing can
 * progress at all (no guest thread ready, no host call due before the time limit, no
 * body wanted, no request acting), the holder's wait returns 0: a deadlock, as on a fresh
 * instance. */
#ifndef KILN_EXEC_HTTP_SHARE_P3_H
#define KILN_EXEC_HTTP_SHARE_P3_H

#include <stdint.h>

#include "component/instance.h"
#include "engine/fiber.h"
#include "exec/http/serve.h"
#include "host/wasip3/http.h"

typedef struct kiln_p3_share kiln_p3_share;

/* One request on a shared instance (on its fiber's stack, between _join and _leave). */
typedef struct kiln_p3_member {
    kiln_fiber *fiber;
    uint64_t deadline_ns;   /* CLOCK_MONOTONIC: its time limit (0: none) */
    kiln_p3http_req *q;     /* its bound request (NULL: not yet) */
    kiln_body_source *body; /* its streamed body (NULL: whole, or none) */
    /* its start (binding its request, starting its call), run by whoever holds the
     * baton when it comes: it sets cond and arg (cond NULL: it failed) */
    void (*start)(struct kiln_p3_member *m);
    void *sarg;
    int starting;        /* waits for its start */
    int (*cond)(void *); /* what it waits for (NULL: nothing, it needs the baton) */
    void *arg;
    int waiting; /* on the waiters' list */
    struct kiln_p3_member *next, *wnext;
} kiln_p3_member;

/* The sharing state of ci (an instance with the async ABI), made on the loop's thread,
 * and installed as ci's idle wait. NULL when out of memory or file descriptors. */
kiln_p3_share *kiln_p3_share_new(kiln_component_instance *ci);
/* Frees it (no member left); the instance is the caller's. */
void kiln_p3_share_free(kiln_p3_share *sh);

/* m (its fiber, deadline and start set) comes in flight on the instance: it is started
 * (m->start) by whoever holds the baton — m itself when it is free; else the holder
 * starts it at its next stop, so that one drive runs the tasks of all the requests that
 * came meanwhile — and returns holding the baton, m->cond and m->arg set. */
void kiln_p3_share_enter(kiln_p3_share *sh, kiln_p3_member *m);
/* m (holding the baton) leaves: the baton goes on to a request whose condition holds,
 * else to any waiting one (which then watches), or comes free. */
void kiln_p3_share_leave(kiln_p3_share *sh, kiln_p3_member *m);
/* With the baton: drives and waits (passing the baton on meanwhile) until cond(arg)
 * holds (1), the store failed (-1, *trap), or nothing can progress (0). Returns holding
 * the baton. */
int kiln_p3_share_wait(kiln_p3_share *sh, kiln_p3_member *m, int (*cond)(void *), void *arg,
                       kiln_trap *trap);

/* Moves what src has of request q's streamed body into the guest's stream (up to the
 * host's buffer's room), without waiting: 1 when something moved or the body ended, 0
 * when nothing was there (*fd: what to wait on, -1 none), -1 out of memory. */
int kiln_p3_feed_some(kiln_p3http_req *q, kiln_body_source *src, int *fd);

#endif
