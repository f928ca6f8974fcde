/* settings.h — what kiln up sets for the wasi:http host process-wide, apart from wasihttp.h
 * so that it needs none of the component model's headers: where the trace spans of outbound
 * requests go (span.c) and each component's limit on concurrent outbound requests
 * (client.c).
 *
 * Spans. When the request being served carries a trace context (kiln_wasihttp_request.traceparent,
 * set by a tracing server), each outbound request a guest makes is a client span, child of
 * the served request's span: the request carries its id in a W3C traceparent header
 * (replacing the guest's), and the span is reported to the sink when the response head or
 * the failure comes (as Spin's spin_outbound_http.send_request span). */
#ifndef KILN_HOST_WASIHTTP_SETTINGS_H
#define KILN_HOST_WASIHTTP_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

/* An outbound request made while serving a traced request: a client span, child of the
 * served request's span, with the id its traceparent header carried. */
typedef struct kiln_wasihttp_span {
    const char *traceparent; /* the served request's (its trace id and span id: the parent) */
    uint8_t span_id[8];
    int64_t start_ns, end_ns;        /* Unix ns: handle, and the response head (or the failure) */
    const char *method, *url, *host; /* host: the authority ("self" for a self request) */
    int status;                      /* 0: failed */
    const char *error;               /* the error-code's name when it failed */
    const char *component;           /* the calling component's id (NULL: unknown) */
} kiln_wasihttp_span;

/* Sets where spans go (kiln up: the tracer; NULL: outbound requests are not traced and
 * carry no traceparent). The sink runs on the guest's thread and must not block. */
void kiln_wasihttp_set_span_sink(void (*sink)(void *ctx, const kiln_wasihttp_span *s), void *ctx);

/* Limits each of components[0..n) to max concurrent outbound requests (replacing any
 * earlier limits; n 0: none). Call while no instance runs. 0, or -1 out of memory. */
int kiln_wasihttp_limit_outbound(const char *const *components, size_t n, unsigned max);

/* Where outbound requests are counted (kiln up: the metrics; NULL: nowhere): the calling
 * component's id (NULL: unknown), the authority connected to, normalised
 * (wh_target_label: "self" for a relative URL),
 * the answer's status, or 0 and the failure's error-code name, and the time from handle
 * to the response head or the failure. Runs on the guest's thread when the guest takes the
 * result (a future dropped unread is not counted); must not block. */
void kiln_wasihttp_set_outbound_sink(void (*sink)(void *ctx, const char *component,
                                                  const char *host, int status, const char *error,
                                                  uint64_t duration_ns),
                                     void *ctx);

#endif
