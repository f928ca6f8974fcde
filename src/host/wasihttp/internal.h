/* internal.h — what the files of the wasi:http host share: types.c (fields, incoming
 * requests, responses, bodies) and outgoing.c (outgoing requests, request-options,
 * outgoing-handler.handle, future-incoming-response, incoming-response). */
#ifndef KILN_HOST_WASIHTTP_INTERNAL_H
#define KILN_HOST_WASIHTTP_INTERNAL_H

#include "host/wasihttp/outbound.h"
#include "host/wasihttp/wasihttp.h"
#include "host/wasip2/wasip2.h"

typedef struct wh_outbody wh_outbody;
typedef struct wh_out wh_out; /* outgoing.c: the instance's outbound state */

/* An outgoing request as the guest built it (0.2's outgoing-request; wasi:http 0.3's
 * request, host/wasip3/client.c, fills the same). method and scheme are the WIT variants'
 * cases, which 0.2 and 0.3 number alike. */
enum { M_GET, M_HEAD, M_POST, M_PUT, M_DELETE, M_CONNECT, M_OPTIONS, M_TRACE, M_PATCH, M_OTHER };
enum { S_HTTP, S_HTTPS, S_OTHER };
typedef struct wh_outreq {
    wh_fields *headers;
    int body_taken;   /* a body follows: from body, or (body NULL) fed by the caller */
    wh_outbody *body; /* 0.2: NULL until body() */
    uint32_t method;
    char *method_other;
    int has_scheme;
    uint32_t scheme;
    char *scheme_other;
    char *authority; /* NULL: none */
    char *path;      /* NULL: none */
} wh_outreq;

/* Who sends an outbound request: what the checks, chaining, spans and counts need of the
 * calling instance (all borrowed). */
typedef struct wh_origin {
    const char *component;     /* its id (NULL: unknown) */
    const char *const *grants; /* allowed_outbound_hosts */
    size_t ngrants;
    const kiln_wasihttp_request *req; /* the request it serves (NULL: none) */
    wh_limit *limit;                  /* its outbound limit (NULL: none) */
} wh_origin;

/* ---- types.c, for outgoing.c ---- */

/* Results (kiln_cval): a zeroed value from the call's memory (NULL: out of memory); r =
 * case disc with payload p (NULL: none); r = case disc with an own<...> payload of rep
 * (rep 0: out of memory); v = a copy of a string; r = some(string) or none (s NULL). */
kiln_cval *wh_cval(kiln_cabi_cx *cx);
void wh_var(kiln_cval *r, uint32_t disc, kiln_cval *p);
int wh_var_res(kiln_cabi_cx *cx, kiln_cval *r, uint32_t disc, uint32_t rep);
int wh_set_string(kiln_cabi_cx *cx, kiln_cval *v, const char *s, size_t n);
int wh_opt_string(kiln_cabi_cx *cx, kiln_cval *r, const char *s, size_t n);

kiln_wasip2 *wh_p2(kiln_wasihttp *h);
/* The instance's outbound state (NULL until outgoing.c makes it) and its grants. */
wh_out **wh_out_slot(kiln_wasihttp *h);
const char *wh_component(const kiln_wasihttp *h);
/* The component's limit on concurrent outbound requests (NULL: none). */
wh_limit *wh_limit_of(const kiln_wasihttp *h);
/* The request the instance serves (NULL: none, e.g. another trigger's event). */
const kiln_wasihttp_request *wh_request(const kiln_wasihttp *h);
/* The instance's allowed_outbound_hosts (*n of them). */
const char *const *wh_grants(const kiln_wasihttp *h, size_t *n);
/* Puts f into the fields table: its rep, or 0 (f freed). */
uint32_t wh_put_fields(kiln_wasihttp *h, wh_fields *f);
/* Takes an own<fields> argument out of the table; NULL (and cx->err) when unknown. */
wh_fields *wh_take_fields(kiln_wasihttp *h, kiln_cabi_cx *cx, uint32_t rep);
/* r = ok(own<outgoing-body>) of a new request body (kept until sent); *out its state. */
int wh_request_body(kiln_wasihttp *h, kiln_cabi_cx *cx, kiln_cval *r, wh_outbody **out);
/* Hands a request body to its transfer: at once when finished, else at finish (or as
 * abandoned when the guest drops it); finish's trailers go after it. */
void wh_request_body_bind(wh_outbody *b, wh_xfer *x);
/* A new incoming-body handle over the response body of x (a reference taken): its rep,
 * or 0 when out of memory. */
uint32_t wh_put_response_body(kiln_wasihttp *h, wh_xfer *x);

/* ---- span.c: an outbound request's client span ---- */

typedef struct wh_span {
    int on;           /* traced: the request being served has a trace context */
    uint8_t id[8];    /* the client span's id */
    char parent[56];  /* the served request's traceparent (trace id, parent span) */
    char tp[56];      /* what the outbound request carries: same trace, span id */
    int64_t start_ns; /* Unix ns */
    char *method, *url, *host, *component;
} wh_span;

/* Begins the span of an outbound request of o's instance: 1 traced (s->tp the header to
 * send), 0 not (no trace context or no sink), -1 out of memory. */
int wh_span_begin(wh_span *s, const wh_origin *o, const char *method, const char *url,
                  const char *host);
/* Ends it (status 0: failed with error-code ecode), reports it to the sink, frees it. */
void wh_span_end(wh_span *s, int status, uint32_t ecode);
void wh_span_free(wh_span *s);

/* ---- outgoing.c ---- */

void wh_out_free(wh_out *o);
void wh_outreq_dtor(void *ctx, uint32_t rep);
void wh_options_dtor(void *ctx, uint32_t rep);
void wh_inresp_dtor(void *ctx, uint32_t rep);
void wh_future_dtor(void *ctx, uint32_t rep);
/* The response body as a stream (p2_stream_new_ready) and its readiness. */
extern const p2_stream_ops wh_xfer_body_ops;
extern const p2_ready_ops wh_xfer_body_ready;

int wh_outreq_new(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int wh_outreq_body(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int wh_outreq_method(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int wh_outreq_set_method(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int wh_outreq_path(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int wh_outreq_set_path(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int wh_outreq_scheme(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int wh_outreq_set_scheme(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int wh_outreq_authority(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int wh_outreq_set_authority(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int wh_outreq_headers(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int wh_options_new(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int wh_options_connect(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int wh_options_set_connect(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int wh_options_first_byte(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int wh_options_set_first_byte(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int wh_options_between(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int wh_options_set_between(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int wh_inresp_status(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int wh_inresp_headers(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int wh_inresp_consume(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int wh_future_subscribe(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int wh_future_get(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);
int wh_handle(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res);

/* ---- outgoing.c, shared with wasi:http 0.3's client (host/wasip3/client.c) ---- */

/* The origin of h's instance. */
wh_origin wh_origin_of(const kiln_wasihttp *h);
/* Checks r (scheme, authority, content-length) and its target against o's grants (a
 * refusal is logged), then starts the transfer: over the network (within o's limit) or,
 * for NAME.spin.internal and self requests, in process (chain.c); t: request-options'
 * timeouts (NULL or 0: the defaults); tp: the traceparent to send (NULL: none). With
 * r->body_taken and no r->body, the caller streams the body (wh_xfer_write). NULL with
 * *ecode (an error-code case). */
wh_xfer *wh_send(const wh_origin *o, const wh_outreq *r, const uint64_t *t, const char *tp,
                 uint32_t *ecode);
/* Begins r's client span (wh_span_begin): 1 traced, 0 not, -1 out of memory. */
int wh_send_span(const wh_origin *o, const wh_outreq *r, wh_span *span);
/* The host label r's outbound metrics and span use (kiln_malloc'd; NULL out of memory):
 * the authority as it will be connected (wh_target_label), "self" for a relative URL. */
char *wh_send_host(const wh_outreq *r);
/* Counts an outbound request of o's guest (settings.h's outbound sink): its answer's
 * status, or (0) its failure's error-code; t0 when it was sent (monotonic ns). */
void wh_send_count(const wh_origin *o, const char *host, int status, uint32_t ecode, uint64_t t0);
/* A request-options timeout t (0: not set) as option<duration>; *t set from one. */
int wh_timeout_get(kiln_cabi_cx *cx, uint64_t t, kiln_cval *res);
void wh_timeout_set(uint64_t *t, const kiln_cval *v);
/* v = error-code case c (empty payloads where the case has one). 0, or -1 (cx->err). */
int wh_error_code(kiln_cabi_cx *cx, kiln_cval *v, uint32_t c);
/* r's method and scheme as results (get-method, get-scheme); its setters with their checks
 * (set-method, set-scheme, and set-path-with-query / set-authority for path 1 / 0): res
 * = ok, or err when the value is refused. 0, or -1 (cx->err). */
int wh_req_method(kiln_cabi_cx *cx, const wh_outreq *r, kiln_cval *res);
int wh_req_set_method(kiln_cabi_cx *cx, wh_outreq *r, const kiln_cval *m, kiln_cval *res);
int wh_req_scheme(kiln_cabi_cx *cx, const wh_outreq *r, kiln_cval *res);
int wh_req_set_scheme(kiln_cabi_cx *cx, wh_outreq *r, const kiln_cval *v, kiln_cval *res);
int wh_req_set_target(kiln_cabi_cx *cx, wh_outreq *r, int path, const kiln_cval *v, kiln_cval *res);
/* CLOCK_MONOTONIC in ns (0 if it cannot be read). */
uint64_t wh_mono_ns(void);

#endif
