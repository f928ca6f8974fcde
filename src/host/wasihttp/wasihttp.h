/* wasihttp.h — the wasi:http 0.2 host for components (component/host.h): one provider,
 * "wasi:http", serving wasi:http/types and wasi:http/outgoing-handler, with one context per
 * component instance.
 *
 * One request per instance. The executor (exec/http/) makes a fresh instance per request,
 * then binds its context to the request (kiln_wasihttp_bind: the request's parts, copied
 * by the caller into memory that outlives the instance, and a sink for the response) and
 * calls the guest's incoming-handler.handle with kiln_wasihttp_request_rep and
 * kiln_wasihttp_outparam_rep as its two own handles.
 *
 * Streams. Bodies are wasi:io streams of the same instance's WASI 0.2 context (wasip2.h,
 * host-backed streams): the incoming body reads the request body; the outgoing body of
 * the response given to response-outparam.set writes to the sink as the guest writes
 * (what the guest writes before set is kept until then).
 *
 * Fields. Names are tokens (RFC 9110), kept lowercased; values are bytes without CR, LF,
 * NUL or other controls but HTAB. The hop-by-hop headers wasmtime forbids (connection,
 * keep-alive, proxy-authenticate, proxy-authorization, proxy-connection, te,
 * transfer-encoding, upgrade, http2-settings) are refused with header-error.forbidden and
 * left out of incoming requests' headers. Fields reached through incoming-request.headers
 * and outgoing-response.headers are immutable (header-error.immutable); a response's
 * headers are fixed when the constructor takes them, so its headers() is a snapshot.
 *
 * Outbound HTTP (outgoing.c, client.c, allow.c; design in outbound.h): outgoing-handler.handle
 * sends a request to a target the component's allowed_outbound_hosts grant
 * (kiln_grants_outbound; anything else: error-code.HTTP-request-denied and a log line) and
 * returns a future-incoming-response whose pollable, like the response body's stream, waits
 * on the connection without blocking the thread (a guest's fiber parks). */
#ifndef KILN_HOST_WASIHTTP_H
#define KILN_HOST_WASIHTTP_H

#include <stddef.h>
#include <stdint.h>

#include "component/host.h"
#include "host/wasihttp/settings.h"

extern const kiln_chost_provider kiln_wasihttp_provider;
extern const kiln_chost_iface kiln_wasihttp_types, kiln_wasihttp_outgoing_handler;

#define KILN_WASIHTTP_VERSION "0.2.12"

/* ---- fields (fields.c) ---- */

typedef struct wh_field {
    char *name; /* lowercased; one allocation with the value (free the name only) */
    size_t name_len;
    uint8_t *value;
    size_t value_len;
} wh_field;

typedef struct wh_fields {
    int immutable;
    size_t n, cap;
    wh_field *items;
} wh_fields;

/* header-error cases */
enum { WH_HE_INVALID_SYNTAX = 0, WH_HE_FORBIDDEN = 1, WH_HE_IMMUTABLE = 2 };

/* 1 if name is a valid field name (a non-empty token). */
int wh_name_valid(const char *name, size_t n);
/* 1 if value is a valid field value (no controls but HTAB, no DEL). */
int wh_value_valid(const uint8_t *value, size_t n);
/* 1 if name (any case) is one of the forbidden hop-by-hop headers. */
int wh_name_forbidden(const char *name, size_t n);
/* -1 if name (and value, when not NULL) may be added to f, else the header-error case. */
int wh_fields_check(const wh_fields *f, const char *name, size_t nlen, const uint8_t *value,
                    size_t vlen);

wh_fields *wh_fields_new(void);
void wh_fields_free(wh_fields *f);
/* A mutable copy; NULL when out of memory. */
wh_fields *wh_fields_clone(const wh_fields *f);
/* f's entries as the value of a list<tuple<string, list<u8>>> result (fields.entries in
 * 0.2, fields.copy-all in 0.3), into *res; the strings point into f, which must stay as
 * it is until the result is lowered. 0, or -1 with cx->err (out of memory). types.c. */
int wh_fields_entries(kiln_cabi_cx *cx, const wh_fields *f, kiln_cval *res);
/* The values of the entries named name (any case) as a list<list<u8>> result (fields.get),
 * pointing into f likewise. 0, or -1 with cx->err. types.c. */
int wh_fields_values(kiln_cabi_cx *cx, const wh_fields *f, const char *name, size_t nlen,
                     kiln_cval *res);
/* Appends (name lowercased; no checks); 0, or -1 out of memory. */
int wh_fields_append(wh_fields *f, const char *name, size_t nlen, const uint8_t *value,
                     size_t vlen);
/* Removes every entry named name (any case); the number removed. */
size_t wh_fields_delete(wh_fields *f, const char *name, size_t nlen);
/* 1 if an entry is named name (any case). */
int wh_fields_has(const wh_fields *f, const char *name, size_t nlen);

/* ---- the request and where the response goes ---- */

typedef struct kiln_wasihttp_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} kiln_wasihttp_header;

/* The request as the guest sees it (borrowed for the instance's life). */
typedef struct kiln_wasihttp_request {
    const char *method;
    size_t method_len;
    const char *path_with_query;
    size_t path_with_query_len;
    int https;
    const char *authority; /* NULL: none */
    size_t authority_len;
    const kiln_wasihttp_header *headers;
    size_t nheaders;
    const uint8_t *body;
    size_t body_len;
    /* What outbound requests made for this request carry: the W3C traceparent (NULL:
     * not traced), and how deep in service chaining the request is (0: from a client). */
    const char *traceparent;
    unsigned chain_depth;
} kiln_wasihttp_request;

/* Where the response goes (all on the instance's thread). start: the status and headers
 * (0, or -1: the client is gone); write: body bytes (0, or -1: gone); finish: the end,
 * with optional trailers (NULL).
 * A request body that streams in from the connection comes from read (NULL: the body is
 * request.body): up to cap bytes, the count (> 0), 0 at its end, -1 when it failed, -2
 * when nothing is there yet; wait_fd: a file descriptor that polls readable when read
 * would not return -2 (any thread may poll it); trailers (NULL: none ever), once read
 * returned 0: the body's trailer fields as a new wh_fields (the caller's), or NULL when
 * there are none (or out of memory). */
typedef struct kiln_wasihttp_sink {
    int (*start)(void *arg, int status, const wh_fields *headers);
    int (*write)(void *arg, const void *data, size_t n);
    void (*finish)(void *arg, const wh_fields *trailers);
    void *arg;
    long (*read)(void *arg, void *buf, size_t cap);
    int (*wait_fd)(void *arg);
    wh_fields *(*trailers)(void *arg);
} kiln_wasihttp_sink;

/* What became of the response when the guest returned. */
typedef enum kiln_wasihttp_outcome {
    KILN_WASIHTTP_NOT_SET = 0, /* response-outparam.set never called */
    KILN_WASIHTTP_ERROR,       /* set with an error-code (error_case names it) */
    KILN_WASIHTTP_STARTED,     /* set with a response: started, maybe finished */
} kiln_wasihttp_outcome;

typedef struct kiln_wasihttp kiln_wasihttp;

/* Binds ctx (the instance's "wasi:http" context) to the request, the sink and the
 * instance's WASI 0.2 context (for streams); makes the two resources handle takes. 0, or
 * -1 out of memory. */
int kiln_wasihttp_bind(kiln_wasihttp *h, void *wasip2_ctx, const kiln_wasihttp_request *req,
                       const kiln_wasihttp_sink *sink);
uint32_t kiln_wasihttp_request_rep(const kiln_wasihttp *h);
uint32_t kiln_wasihttp_outparam_rep(const kiln_wasihttp *h);
/* After handle returned: the outcome; finished is 1 when the sink's finish was called,
 * error_case the error-code case of an ERROR (its name: kiln_wasihttp_error_name). */
kiln_wasihttp_outcome kiln_wasihttp_outcome_of(const kiln_wasihttp *h, int *finished,
                                               uint32_t *error_case);
const char *kiln_wasihttp_error_name(uint32_t error_case);

/* ---- service chaining (outgoing.c; the executor says how it is done) ---- */

/* The deepest chain of in-process requests (a request from a client is depth 0): a
 * request past it fails with error-code.loop-detected. */
#define KILN_WASIHTTP_CHAIN_MAX_DEPTH 10

/* An outbound request for the application itself, as handle took it. */
typedef struct kiln_wasihttp_chain {
    const char *component; /* the target component's id; NULL: a self request (by route) */
    const char *caller;    /* the calling component's id (log lines) */
    const char *method;
    const char *path_with_query;
    const char *authority; /* as the guest set it (NULL: none) */
    int https;
    const wh_fields *headers;
    const void *body;
    size_t body_len;
    unsigned depth;          /* of the new request (>= 1) */
    const char *traceparent; /* for the new request (NULL: none) */
} kiln_wasihttp_chain;

struct wh_xfer;
/* Starts c in process, answering into x (outbound.h: wh_xfer_local_head/_data/_end; x
 * retained while answering). c is valid only during the call. Called on the calling
 * guest's thread, from its fiber when it has one. */
typedef void (*kiln_wasihttp_chainer)(const kiln_wasihttp_chain *c, struct wh_xfer *x);
/* Sets how chained requests run (kiln up; NULL: they fail with HTTP-request-denied). */
void kiln_wasihttp_set_chainer(kiln_wasihttp_chainer fn);

#endif
