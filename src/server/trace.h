/* trace.h — OpenTelemetry traces of the server's requests, exported with OTLP/HTTP.
 *
 * Configured from the environment as the OpenTelemetry SDKs (and Spin) are:
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is) or OTEL_EXPORTER_OTLP_ENDPOINT (then
 * "$ENDPOINT/v1/traces"); OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL "http/json" (the default
 * here) or "http/protobuf" (both encoded by hand; "grpc" is refused); OTEL_SERVICE_NAME
 * (default: the app's name); OTEL_SDK_DISABLED=true turns tracing off;
 * OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_MAX_EXPORT_BATCH_SIZE and
 * OTEL_EXPORTER_OTLP[_TRACES]_TIMEOUT as in the SDK specification. Only http:// endpoints.
 *
 * Per request: kiln_trace_begin (on the request's I/O thread, when it reaches a handler)
 * takes the W3C traceparent of the request (the server span's parent; a malformed header
 * is ignored and a new trace begins) and makes the server span's ids; kiln_trace_end
 * copies a fixed-size record of the finished request into a bounded lock-free queue (no
 * allocation, no lock, no system call beyond reading the clock). A full queue drops the
 * record and counts it (kiln_trace_spans_dropped_total, three spans per record). One
 * record becomes three spans: the server span (HTTP semantic-convention attributes) and,
 * when a guest instance was started, its children "instantiate" (the instance start) and
 * "execute" (from the instance ready to the response's end). A client record (a guest's
 * outbound HTTP call, kiln_trace_request.client) becomes one CLIENT span, child of the
 * request's server span, whose id the outbound request carried in its traceparent.
 *
 * A background exporter thread takes batches from the queue every schedule delay (or
 * sooner when a batch is waiting), encodes them and POSTs them; a failed export (no
 * connection, a timeout, 429/502/503/504) is retried with exponential backoff, while
 * requests go on filling the queue (and drop when it is full): the exporter never slows a
 * request. kiln_tracer_free flushes what is queued (within a deadline) and stops. */
#ifndef KILN_SERVER_TRACE_H
#define KILN_SERVER_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "exec/handler.h"
#include "util/buf.h"

typedef struct kiln_tracer kiln_tracer;

/* A request's trace context, kept by the server from begin to end. */
typedef struct kiln_trace_ctx {
    uint8_t trace_id[16], span_id[8], parent_id[8];
    uint8_t has_parent, sampled;
    int64_t start_ns;  /* the request's beginning, Unix time in ns */
    const char *route; /* http.route: the route as written (borrowed; NULL: none) */
    /* "00-TRACEID-SPANID-FLAGS": what outbound requests send as traceparent (the server
     * span is their parent). */
    char traceparent[56];
} kiln_trace_ctx;

/* What the server knows of a finished request (strings need not be NUL-terminated;
 * they are copied, truncated to the record's fields). */
typedef struct kiln_trace_request {
    const char *method, *path, *route, *host, *user_agent, *component;
    size_t method_len, path_len, route_len, host_len, user_agent_len;
    const char *protocol_version; /* "1.1", "2" (NUL-terminated) */
    int status;
    int64_t end_ns;                     /* Unix time in ns */
    int64_t inst_start_ns, inst_dur_ns; /* the instance start (inst_start_ns 0: none) */
    int fault;                          /* KILN_FAULT_* */
    const char *trap_kind;
    /* 1: not a served request but an outbound call a guest made (one client span: path is
     * its url.full, host its server address, status 0 with trap_kind the error's name when
     * it failed); c->span_id is the client span's, c->parent_id the server span's. */
    int client;
} kiln_trace_request;

/* Reads the environment. 0 with *out NULL when tracing is not configured; 0 with *out a
 * running tracer (its exporter thread started); -1 with a message in err when the
 * configuration cannot be served (a bad endpoint, an unsupported protocol, no memory). */
int kiln_tracer_from_env(const char *default_service, kiln_tracer **out, char *err, size_t errlen);
/* Flushes the queue (up to a few seconds of retries), stops the exporter, frees. NULL: nothing. */
void kiln_tracer_free(kiln_tracer *t);

/* Begins a request's trace: parent from the traceparent header value (tp, n bytes; NULL:
 * none), new ids, start time start_ns. */
void kiln_trace_begin(kiln_trace_ctx *c, const char *tp, size_t n, int64_t start_ns);
/* Queues the finished request's spans (any thread; never blocks). */
void kiln_trace_end(kiln_tracer *t, const kiln_trace_ctx *c, const kiln_trace_request *r);

/* The traceparent outbound requests of this request must send (NUL-terminated), or NULL
 * when the server does not trace. This is kiln_request.traceparent: what an outbound
 * HTTP client (wasi:http, Spin's outbound HTTP) adds as the `traceparent` header. */
const char *kiln_trace_request_traceparent(const kiln_request *req);

/* Parses a W3C traceparent value (n bytes): version 00 exactly 55 bytes, a later version
 * at least 55 with '-' after them; lowercase hex; all-zero ids and version ff invalid.
 * 0, or -1 (nothing written). */
int kiln_trace_parse_traceparent(const char *s, size_t n, uint8_t trace_id[16], uint8_t span_id[8],
                                 uint8_t *flags);

/* Records dropped because the queue was full, times three (spans), and exported spans. */
uint64_t kiln_tracer_dropped_spans(const kiln_tracer *t);
uint64_t kiln_tracer_exported_spans(const kiln_tracer *t);
/* Appends kiln_trace_spans_{dropped,exported}_total in Prometheus text (a metrics
 * registry's extra renderer, server/metrics.h). ctx is the tracer. 0 or -1. */
int kiln_tracer_render_metrics(void *ctx, kiln_buf *out);

/* A queued request: everything its spans need, in fixed-size fields (strings truncated). */
typedef struct kiln_trace_record {
    uint8_t trace_id[16], span_id[8], parent_id[8], inst_id[8], exec_id[8];
    uint8_t has_parent, client;
    int status, fault;
    int64_t start_ns, end_ns, inst_start_ns, inst_dur_ns;
    char method[16], protocol_version[8], trap_kind[24], component[64];
    char path[256], route[128], host[128], user_agent[160];
} kiln_trace_record;

/* Fills a record from a request's context and its end (child span ids drawn here). */
void kiln_trace_record_of(kiln_trace_record *rec, const kiln_trace_ctx *c,
                          const kiln_trace_request *r);
/* Appends an ExportTraceServiceRequest of rec[0..n) with the resource attribute
 * service.name: the OTLP JSON mapping (ids as hex, times as decimal strings) or the
 * protobuf encoding (server/trace_otlp.c). 0 or -1 (out of memory). */
int kiln_trace_encode_json(const kiln_trace_record *rec, size_t n, const char *service,
                           kiln_buf *out);
int kiln_trace_encode_protobuf(const kiln_trace_record *rec, size_t n, const char *service,
                               kiln_buf *out);

#endif
