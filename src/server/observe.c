/* observe.c — requests' begin and end as metrics and traces (see observe.h). */
#include "server/observe.h"
#include "server/http1.h"
#include "server/http2.h"
#include "server/metrics.h"

#include <sys/time.h>

#define H2O_USE_LIBUV 0
#include <h2o.h>

/* The static target of the direct response being sent on this thread. */
static __thread const kiln_server_target *static_target;

void kiln_observe_static(const kiln_server_target *t)
{
    static_target = t;
}

/* When h2o saw the request begin (Unix time). */
static struct timeval begin_of(h2o_req_t *req)
{
    struct timeval begin = req->timestamps.request_begin_at;
    return begin.tv_sec ? begin : req->processed_at.at;
}

static void trace_begin(h2o_req_t *req, const char *route, kiln_trace_ctx *tc)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("traceparent"), -1);
    struct timeval b = begin_of(req);
    kiln_trace_begin(tc, i >= 0 ? req->headers.entries[i].value.base : NULL,
                     i >= 0 ? req->headers.entries[i].value.len : 0,
                     (int64_t)b.tv_sec * 1000000000 + (int64_t)b.tv_usec * 1000);
    tc->route = route;
}

void kiln_observe_begin(const kiln_server_config *cfg, const kiln_server_target *t, h2o_req_t *req,
                        const char *route, kiln_trace_ctx *tc)
{
    if (cfg->metrics) kiln_metrics_begin(cfg->metrics, t->metrics_route);
    if (cfg->tracer) trace_begin(req, route, tc);
}

/* The request's spans into the tracer's queue. tc NULL: a direct response (its context
 * is made now, from req). */
static void trace_end(const kiln_server_config *cfg, h2o_req_t *req, const kiln_server_target *t,
                      int status, const kiln_response *res, const kiln_trace_ctx *tc)
{
    kiln_trace_ctx own;
    if (!tc) {
        if (!req) return;
        trace_begin(req, NULL, &own);
        tc = &own;
    }
    kiln_trace_request r = {.status = status, .end_ns = kiln_realtime_ns(), .route = tc->route};
    r.route_len = r.route ? strlen(r.route) : 0;
    r.component = t && t->component && strcmp(t->component, "-") ? t->component : NULL;
    if (req) {
        r.method = req->method.base;
        r.method_len = req->method.len;
        r.path = req->path.base;
        r.path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
        r.host = req->input.authority.base;
        r.host_len = req->input.authority.len;
        ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_USER_AGENT, -1);
        if (i >= 0) {
            r.user_agent = req->headers.entries[i].value.base;
            r.user_agent_len = req->headers.entries[i].value.len;
        }
        r.protocol_version = req->version >= 0x200 ? "2" : req->version == 0x100 ? "1.0" : "1.1";
    }
    if (res) {
        r.fault = res->fault;
        r.trap_kind = res->trap_kind;
        if (res->start_ms >= 0 && res->start_at_ns > 0) {
            r.inst_start_ns = res->start_at_ns;
            r.inst_dur_ns = (int64_t)(res->start_ms * 1e6);
        }
    }
    kiln_trace_end(cfg->tracer, tc, &r);
}

void kiln_observe_end(const kiln_server_config *cfg, h2o_req_t *req, const kiln_server_target *t,
                      int status, size_t bytes, const kiln_response *res, const kiln_trace_ctx *tc)
{
    if (!t) t = static_target;
    if (cfg->tracer) trace_end(cfg, req, t, status, res, tc);
    if (!cfg->metrics) return;
    kiln_metrics_request r = {
        .route = t ? t->metrics_route : 0, .status = status, .resp_bytes = bytes, .start_ns = -1};
    if (req) {
        struct timeval now, begin = begin_of(req);
        gettimeofday(&now, NULL);
        int64_t ns = ((int64_t)now.tv_sec - begin.tv_sec) * 1000000000 +
                     ((int64_t)now.tv_usec - begin.tv_usec) * 1000;
        r.method = req->method.base;
        r.method_len = req->method.len;
        r.duration_ns = ns > 0 ? (uint64_t)ns : 0;
        /* Kiln's codecs stream bodies (server/http1.c, http2.c): the bytes received so far */
        r.req_bytes = kiln_http1_is_ours(req->conn)   ? kiln_http1_body_bytes(req)
                      : kiln_http2_is_ours(req->conn) ? kiln_http2_body_bytes(req)
                      : req->entity.base              ? req->entity.len
                                                      : 0;
    }
    if (res) {
        r.active = 1;
        r.fault = res->fault;
        r.trap_kind = res->trap_kind;
        if (res->start_ms >= 0) r.start_ns = (int64_t)(res->start_ms * 1e6);
        r.mem_bytes = res->mem_bytes;
    }
    kiln_metrics_record(cfg->metrics, &r);
}
