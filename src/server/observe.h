/* observe.h — the server's measurement points: where a request begins and ends in
 * http.c, turned into server/metrics.h observations (labels from the route's target, the
 * duration from h2o's timestamps, the fault the handler reported in its response).
 * Every function does nothing when the server has no metrics (cfg->metrics NULL). All of
 * them run on the request's event-loop thread. */
#ifndef KILN_SERVER_OBSERVE_H
#define KILN_SERVER_OBSERVE_H

#include <stddef.h>

#include "server/http.h"

struct st_h2o_req_t;

/* A request goes to its target's handler (http_server_active_requests + 1). */
void kiln_observe_begin(const kiln_server_config *cfg, const kiln_server_target *t);
/* A response is complete: status and body bytes sent. From the handler's finish: t its
 * target, res its response (fault, instance start), and req NULL when the client went
 * away first (then no HTTP histogram: nothing was answered). From a direct response: t
 * and res NULL, the target being the one kiln_observe_static named on this thread. */
void kiln_observe_end(const kiln_server_config *cfg, struct st_h2o_req_t *req,
                      const kiln_server_target *t, int status, size_t bytes,
                      const kiln_response *res);
/* Names the static target whose response this thread sends next (NULL: none, a request
 * no route served). */
void kiln_observe_static(const kiln_server_target *t);

#endif
