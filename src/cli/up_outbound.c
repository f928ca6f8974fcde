/* up_outbound.c — outbound requests in kiln up's metrics and traces (see up_outbound.h). */
#include "cli/up_outbound.h"
#include "util/alloc.h"

#include <string.h>

void kiln_up_outbound_span(void *ctx, const kiln_wasihttp_span *s)
{
    kiln_trace_ctx c;
    memset(&c, 0, sizeof c);
    uint8_t flags = 0;
    if (kiln_trace_parse_traceparent(s->traceparent, strlen(s->traceparent), c.trace_id,
                                     c.parent_id, &flags) < 0)
        return;
    memcpy(c.span_id, s->span_id, sizeof c.span_id);
    c.has_parent = 1;
    c.sampled = flags & 1;
    c.start_ns = s->start_ns;
    kiln_trace_request r = {.method = s->method,
                            .method_len = strlen(s->method),
                            .path = s->url,
                            .path_len = strlen(s->url),
                            .host = s->host,
                            .host_len = strlen(s->host),
                            .component = s->component,
                            .status = s->status,
                            .end_ns = s->end_ns,
                            .trap_kind = s->error,
                            .client = 1};
    kiln_trace_end(ctx, &c, &r);
}

/* A chained request in flight: when it began, and its span when traced. */
typedef struct chain_token {
    int64_t start_ns;
    int traced;
    kiln_trace_ctx tc;
} chain_token;

static void *chain_begin(void *ctx, const kiln_http_chain_target *t, kiln_request *req)
{
    const kiln_up_observe *o = ctx;
    if (!o->metrics && !o->tracer) return NULL;
    chain_token *k = kiln_calloc(1, sizeof *k);
    if (!k) return NULL;
    k->start_ns = kiln_realtime_ns();
    if (o->metrics) kiln_metrics_begin(o->metrics, t->metrics_route);
    if (o->tracer && req->traceparent) {
        kiln_trace_begin(&k->tc, req->traceparent, strlen(req->traceparent), k->start_ns);
        k->tc.route = t->match.route;
        k->traced = 1;
        req->traceparent = k->tc.traceparent; /* its outbound requests: children of it */
    }
    return k;
}

static void chain_end(void *ctx, void *token, const kiln_http_chain_target *t,
                      const kiln_request *req, const kiln_response *res, int status, size_t bytes)
{
    const kiln_up_observe *o = ctx;
    chain_token *k = token;
    int64_t end = kiln_realtime_ns();
    if (o->metrics) {
        kiln_metrics_request r = {
            .route = t->metrics_route,
            .method = req->method,
            .method_len = req->method_len,
            .status = status,
            .duration_ns = (uint64_t)(end > k->start_ns ? end - k->start_ns : 0),
            .req_bytes = req->body ? req->body->length_hint : 0,
            .resp_bytes = bytes,
            .start_ns = res->start_ms >= 0 ? (int64_t)(res->start_ms * 1e6) : -1,
            .fault = res->fault,
            .trap_kind = res->trap_kind,
            .active = 1};
        kiln_metrics_record(o->metrics, &r);
    }
    if (k->traced) {
        const char *route = t->match.route;
        kiln_trace_request r = {.method = req->method,
                                .method_len = req->method_len,
                                .path = req->path,
                                .path_len = req->path_len,
                                .route = route,
                                .route_len = route ? strlen(route) : 0,
                                .host = req->authority,
                                .host_len = req->authority ? req->authority_len : 0,
                                .component = t->component,
                                .protocol_version = "1.1",
                                .status = status,
                                .end_ns = end,
                                .inst_start_ns = res->start_ms >= 0 ? res->start_at_ns : 0,
                                .inst_dur_ns =
                                    res->start_ms >= 0 ? (int64_t)(res->start_ms * 1e6) : 0,
                                .fault = res->fault,
                                .trap_kind = res->trap_kind};
        kiln_trace_end(o->tracer, &k->tc, &r);
    }
    kiln_free(k);
}

const kiln_http_chain_observer kiln_up_chain_observer = {chain_begin, chain_end};
