/* chain.h — Spin's service chaining: a component's outbound request to
 * http://COMPONENT.spin.internal/... (or a self request: a relative URL, host self.alt)
 * answered in process by the application's own handlers, without a socket.
 *
 * host/wasihttp/outgoing.c checks the grants (outbound.h) and, once the request body is
 * complete and the calling guest first checks the response, calls the chainer with the
 * request. The chainer (chain.c) asks the application (kiln up: kiln_http_chain_lookup)
 * for the handler: the component's own (Spin's synthetic route "/...": spin-path-info is
 * the whole path), or for a self request the route the server's router picks for the
 * path (a static route answers as it would; no route: 404). The request goes through
 * that handler exactly as one from a client (a fresh instance, the component's slots,
 * queue, limits and guest logs; the observer counts it in the server's metrics and traces
 * it as a server span, child of the caller's client span), with client address 0.0.0.0:0
 * as in Spin, depth one more
 * than its caller's (past KILN_WASIHTTP_CHAIN_MAX_DEPTH the caller gets
 * error-code.loop-detected) and the caller's traceparent. Its response streams into the
 * caller's transfer (wh_xfer_local_*); a response cut short (trap, timeout) fails the
 * caller's body read.
 *
 * Threads. A handler starts requests on an event loop, never from inside a fiber, so the
 * chainer parks the calling guest's fiber and starts the handler from the loop's side of
 * the switch (kiln_fiber_park_then), then wakes the caller at once. A guest moved to an
 * executor thread (past its inline budget) cannot chain: its request fails with
 * HTTP-request-denied and a log line. post() (handlers finishing on other threads: WAGI)
 * runs the callback on a fiber of the calling loop. */
#ifndef KILN_EXEC_HTTP_CHAIN_H
#define KILN_EXEC_HTTP_CHAIN_H

#include <stddef.h>

#include "exec/handler.h"
#include "util/arena.h"

/* What answers a chained request. */
typedef struct kiln_http_chain_target {
    kiln_handler *handler; /* NULL: the static response below (or 404 when status 0) */
    const char *component; /* its component id (NULL: none, a static or missing route) */
    size_t metrics_route;  /* its route in the server's metrics (0: none) */
    kiln_route_match match;
    int status;
    const kiln_http_header *headers;
    size_t nheaders;
    const char *body;
    size_t body_len;
} kiln_http_chain_target;

/* Finds what answers a request for component (NULL: route path, len bytes, like the server)
 * into *t (t->match's params allocated in arena). 1 found, 0 none (no such component), -1
 * out of memory. Called on the loop thread while the application runs. */
typedef int (*kiln_http_chain_lookup)(void *ctx, const char *component, const char *path,
                                      size_t len, kiln_arena *arena, kiln_http_chain_target *t);

/* Sees chained requests as the server sees its own (kiln up: metrics and server spans). */
typedef struct kiln_http_chain_observer {
    /* The request starts on t: returns what end gets back (NULL: nothing to do); may set
     * req->traceparent to the request's own span (kept valid until end). */
    void *(*begin)(void *ctx, const kiln_http_chain_target *t, kiln_request *req);
    /* Its response ended: status (500 when never started) and body bytes; frees token. */
    void (*end)(void *ctx, void *token, const kiln_http_chain_target *t, const kiln_request *req,
                const kiln_response *res, int status, size_t bytes);
} kiln_http_chain_observer;

/* Makes the application's requests chainable through lookup (NULL: none chain), observed
 * by obs (NULL: not observed). Call before serving. */
void kiln_http_chain_configure(kiln_http_chain_lookup lookup, void *ctx,
                               const kiln_http_chain_observer *obs, void *obs_ctx);

#endif
