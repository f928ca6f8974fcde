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
 * `--max-instance-concurrent-reuse-count M` is parsed and kept (c->reuse_concurrent),
 * but today an instance serves one request at a time: requests arriving together take
 * different instances. Interleaving the tasks of several requests in one instance needs
 * the async driver folded into the server's scheduler (docs/components.md). */
#ifndef KILN_EXEC_HTTP_REUSE_P3_H
#define KILN_EXEC_HTTP_REUSE_P3_H

#include "exec/http/serve.h"

#define KILN_P3_REUSE_IDLE 64

typedef struct kiln_p3_reuse kiln_p3_reuse;

/* An instance lent to one request. */
typedef struct kiln_p3_lease {
    kiln_component_instance *ci;
    size_t uses;          /* requests it served before this one */
    kiln_http_code *code; /* the code it was made from */
    uint64_t idle_since;  /* CLOCK_MONOTONIC ns: when its last request ended */
} kiln_p3_lease;

/* Lends c's next instance to a request: an idle one with uses left, else a new one
 * (kiln_http_component_instantiate). 0, or -1 with *err. Thread-safe. */
int kiln_p3_reuse_take(kiln_http_component *c, kiln_p3_lease *l, kiln_err *err);

/* Takes the instance back after its request: `clean` 0 (a trap, a timeout, an aborted
 * response) retires it, as do N uses or replaced code; else it waits for the next
 * request. Thread-safe. */
void kiln_p3_reuse_give(kiln_http_component *c, kiln_p3_lease *l, int clean);

/* Frees c's idle instances (when c is freed). */
void kiln_p3_reuse_free(kiln_http_component *c);

#endif
