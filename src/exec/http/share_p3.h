/* share_p3.h — one wasi:http 0.3 instance serving several requests at once (Spin's
 * --max-instance-concurrent-reuse-count M > 1; the pool that lends it: reuse_p3.h).
 *
 * Each request runs on its own fiber (of one event loop: an instance is only shared by
 * requests on the loop that made it) and is a separate call of the instance's async
 * handle export (kiln_component_call_start); their tasks interleave where the guest
 * waits. The store is single-threaded, so the right to touch it — start a call, drive,
 * bind or release a request, take response bytes, feed a request body — is a baton that
 * the requests pass between them cooperatively (kiln_p3_share_acquire / _release): a
 * request that finds it taken parks its fiber (never its loop), and is handed the baton
 * when it comes free. No mutex: everything here runs on the one loop thread (the
 * driver runs on the offload pool while the holder's fiber is parked, touching only the
 * store, never this state).
 *
 * Waiting (kiln_p3_share_wait): the holder drives the store — guest threads of every
 * request in flight, not only its own — until its own condition holds (its task
 * resolved, its response body has bytes) or nothing can run. Then, as the store's idle
 * wait (kiln_component_idle, on the holder's fiber): it feeds every request's streamed
 * body with what its connection brought; if another request waits for the baton to act,
 * or its condition now holds, the holder hands the baton on (to those acting first, then
 * those whose condition holds) and waits passively itself, to be handed it back;
 * otherwise it watches for the instance — one epoll fd holding a kick eventfd (written by a
 * request that wants the baton while the holder watches) and the bodies that want bytes
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
    int (*cond)(void *);    /* while waiting passively: what it waits for */
    void *arg;
    int action;  /* waits for the baton to act */
    int waiting; /* on the waiters' list */
    struct kiln_p3_member *next, *wnext;
} kiln_p3_member;

/* The sharing state of ci (an instance with the async ABI), made on the loop's thread,
 * and installed as ci's idle wait. NULL when out of memory or file descriptors. */
kiln_p3_share *kiln_p3_share_new(kiln_component_instance *ci);
/* Frees it (no member left); the instance is the caller's. */
void kiln_p3_share_free(kiln_p3_share *sh);

/* m (its fiber and deadline set) is in flight on the instance / leaves it (holding the
 * baton, which it then releases). */
void kiln_p3_share_join(kiln_p3_share *sh, kiln_p3_member *m);
void kiln_p3_share_leave(kiln_p3_share *sh, kiln_p3_member *m);
/* Takes the baton to act (parks until handed it). */
void kiln_p3_share_acquire(kiln_p3_share *sh, kiln_p3_member *m);
/* Hands the baton on (to a request acting, then one whose condition holds, then any
 * waiting request, which then watches), or frees it. */
void kiln_p3_share_release(kiln_p3_share *sh);
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
