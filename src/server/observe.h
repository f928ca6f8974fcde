/* observe.h — the server's measurement points: where a request begins and ends in
 * http.c, turned into server/metrics.h observations (labels from the route's target, the
 * duration from h2o's timestamps, the fault the handler reported in its response) and
 * server/trace.h spans. Each part does nothing when the server has no metrics
 * (cfg->metrics NULL) or no tracer (cfg->tracer NULL). All of them run on the request's
 * event-loop thread. */
#ifndef KILN_SERVER_OBSERVE_H
#define KILN_SERVER_OBSERVE_H

#include <stddef.h>

#include "server/http.h"
#include "server/trace.h"

struct st_h2o_req_t;

/* A request goes to its target's handler (http_server_active_requests + 1); with a
 * tracer, *tc begins its trace (the parent from its traceparent header; route: the matched
 * route as written, kept by the router). */
void kiln_observe_begin(const kiln_server_config *cfg, const kiln_server_target *t,
                        struct st_h2o_req_t *req, const char *route, kiln_trace_ctx *tc);
/* A response is complete: status and body bytes sent. From the handler's finish: t its
 * target, res its response (fault, instance start), and req NULL when the client went
 * away first (then no HTTP histogram: nothing was answered). From a direct response: t
 * and res NULL, the target being the one kiln_observe_static named on this thread.
 * tc: the context kiln_observe_begin filled (NULL for a direct response: one is made). */
void kiln_observe_end(const kiln_server_config *cfg, struct st_h2o_req_t *req,
                      const kiln_server_target *t, int status, size_t bytes,
                      const kiln_response *res, const kiln_trace_ctx *tc);
/* Names the static target whose response this thread sends next (NULL: none, a request
 * no route served). */
void kiln_observe_static(const kiln_server_target *t);

#endif
