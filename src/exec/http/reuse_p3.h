/* reuse_p3.h — Spin's instance reuse for wasi:http 0.3 components (reuse_p3.c).
 *
 * `kiln up --max-instance-reuse-count N` lets one instance of a p3 component serve up to
 * N requests (Spin's flag; Kiln's default 1 is a fresh instance per request, copied from
 * the component's image). Between two requests of an instance the wasi:http 0.3 context
 * is bound to the next request (kiln_p3http_bind) and the response of the last one
 * released; the guest's memory, globals and tables stay: that is the point (caches,
 * warmed state) and the price (one request can see what an earlier one left).
 *
 * An instance that trapped, ran past its request timeout, or whose response was aborted
 * is retired (freed, never given to another request); so is one of code that tier-up
 * replaced, and one that served its N requests. Instances between requests wait in a
 * per-component list (at most KILN_P3_REUSE_IDLE of them; beyond, they are freed); one
 * idle longer than --idle-instance-timeout (c->reuse_idle_ns, Spin's default 1 s) is freed
 * when a request next looks at the list (there is no timer: a component that gets no
 * more requests keeps its idle instances until the server stops).
 *
 * `--max-instance-concurrent-reuse-count M` (Spin's default 16 when N > 1; M = 1 is the
 * serial reuse above, exactly): an instance serves up to M requests at once (at most
 * KILN_P3HTTP_MAX_REQS), each a call of its handle export, interleaving where the guest
 * waits (share_p3.h). Such an instance belongs to one event loop (its scheduler)
 * while it has requests in flight: only requests on that loop join them, so its baton
 * needs no lock (an idle one moves to the loop of the next request that takes it). A request
 * is lent the newest instance of its loop with fewer than M requests in flight and fewer
 * than N lent in all; else a new one. N counts requests lent, so it still caps the total.
 * An instance is retired when N is reached, when its code was replaced, or at once when
 * it trapped, ran past a time limit or kept a body stream (every request in flight on it
 * then fails: one store, one fate, as in wasmtime and Spin); it is freed when its last
 * request leaves. Between requests it waits in the same list, freed past the idle
 * timeout. Isolation is what this trades for throughput: requests in flight together see
 * each other's guest state (globals, memory), not only their predecessors'. Requests not
 * on a fiber of a loop (no scheduler) take the serial path. */
#ifndef KILN_EXEC_HTTP_REUSE_P3_H
#define KILN_EXEC_HTTP_REUSE_P3_H

#include "exec/http/serve.h"

#define KILN_P3_REUSE_IDLE 64

typedef struct kiln_p3_reuse kiln_p3_reuse;
struct kiln_p3_share;
/* An instance shared by concurrent requests (reuse_p3.c's list; the pool's lock guards
 * all but sh's state, which only its loop touches). */
typedef struct kiln_p3_shared {
    kiln_component_instance *ci;
    struct kiln_p3_share *sh;
    kiln_http_code *code;
    void *owner;     /* the scheduler of its loop (while requests are in flight) */
    size_t lent;     /* requests lent in all (N caps it) */
    size_t inflight; /* requests in flight (M caps it) */
    int retired;     /* lent no more; freed when the last request leaves */
    uint64_t idle_since;
} kiln_p3_shared;

/* An instance lent to one request. */
typedef struct kiln_p3_lease {
    kiln_component_instance *ci;
    size_t uses;            /* requests it served before this one */
    kiln_http_code *code;   /* the code it was made from */
    uint64_t idle_since;    /* CLOCK_MONOTONIC ns: when its last request ended */
    kiln_p3_shared *shared; /* M > 1: the shared instance lent (ci is its), else NULL */
} kiln_p3_lease;

/* Lends c's next instance to a request: an idle one with uses left, else a new one
 * (kiln_http_component_instantiate). 0, or -1 with *err. Thread-safe. */
int kiln_p3_reuse_take(kiln_http_component *c, kiln_p3_lease *l, kiln_err *err);

/* Takes the instance back after its request: `clean` 0 (a trap, a timeout, an aborted
 * response) retires it, as do N uses or replaced code; else it waits for the next
 * request. A shared one is freed once retired and its last request left. Thread-safe
 * (a shared instance: on its loop, its baton held, which the caller then releases). */
void kiln_p3_reuse_give(kiln_http_component *c, kiln_p3_lease *l, int clean);

/* Frees c's idle instances (when c is freed). */
void kiln_p3_reuse_free(kiln_http_component *c);

#endif
