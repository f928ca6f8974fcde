/* up_outbound.h — `kiln up`'s view of what guests send out: the client spans of outbound
 * HTTP requests (host/wasihttp/settings.h) and service-chained requests
 * (exec/http/chain.h) counted in the server's metrics and traced as server spans, kept out
 * of up.c. */
#ifndef KILN_CLI_UP_OUTBOUND_H
#define KILN_CLI_UP_OUTBOUND_H

#include "exec/http/chain.h"
#include "host/wasihttp/settings.h"
#include "server/metrics.h"
#include "server/trace.h"

/* Where outbound observations go (either may be NULL: not measured, not traced). */
typedef struct kiln_up_observe {
    kiln_metrics *metrics;
    kiln_tracer *tracer;
} kiln_up_observe;

/* The span sink of outbound requests (ctx: a kiln_tracer): a client record in its queue. */
void kiln_up_outbound_span(void *ctx, const kiln_wasihttp_span *s);

/* The observer of chained requests (ctx: a kiln_up_observe): each one is a request of its
 * route in the metrics and, with a tracer and a traceparent (the caller's client span), a
 * server span with its instantiate/execute children. */
extern const kiln_http_chain_observer kiln_up_chain_observer;

#endif
