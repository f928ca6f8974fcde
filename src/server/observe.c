/* observe.c — requests' begin and end as metrics (see observe.h). */
#include "server/observe.h"
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

void kiln_observe_begin(const kiln_server_config *cfg, const kiln_server_target *t)
{
    if (cfg->metrics) kiln_metrics_begin(cfg->metrics, t->metrics_route);
}

void kiln_observe_end(const kiln_server_config *cfg, h2o_req_t *req, const kiln_server_target *t,
                      int status, size_t bytes, const kiln_response *res)
{
    if (!cfg->metrics) return;
    if (!t) t = static_target;
    kiln_metrics_request r = {
        .route = t ? t->metrics_route : 0, .status = status, .resp_bytes = bytes, .start_ns = -1};
    if (req) {
        struct timeval now, begin = req->timestamps.request_begin_at;
        gettimeofday(&now, NULL);
        if (begin.tv_sec == 0) begin = req->processed_at.at;
        int64_t ns = ((int64_t)now.tv_sec - begin.tv_sec) * 1000000000 +
                     ((int64_t)now.tv_usec - begin.tv_usec) * 1000;
        r.method = req->method.base;
        r.method_len = req->method.len;
        r.duration_ns = ns > 0 ? (uint64_t)ns : 0;
        r.req_bytes = req->entity.base ? req->entity.len : 0;
    }
    if (res) {
        r.active = 1;
        r.fault = res->fault;
        r.trap_kind = res->trap_kind;
        if (res->start_ms >= 0) r.start_ns = (int64_t)(res->start_ms * 1e6);
    }
    kiln_metrics_record(cfg->metrics, &r);
}
