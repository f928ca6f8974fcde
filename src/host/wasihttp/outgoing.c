/* outgoing.c — wasi:http/outgoing-handler 0.2 and the outbound half of wasi:http/types:
 * outgoing-request, request-options, future-incoming-response and incoming-response
 * (wasihttp.h; the client and the grants: outbound.h).
 *
 * handle checks the request (scheme, authority, path, method) and the component's
 * allowed_outbound_hosts, then starts a transfer (client.c) and returns a future over it.
 * The future's pollable, the response body's stream and its pollables are views of the
 * same reference-counted transfer; every wait goes through wasi:io (p2_ready_ops), so a
 * guest that polls many futures at once waits for all their sockets together. */
#include "host/wasihttp/internal.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

struct wh_out {
    p2_table outreqs; /* wh_outreq */
    p2_table options; /* wh_options */
    p2_table futures; /* wh_future */
    p2_table inresps; /* wh_inresp */
};

static const char *const method_names[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                           "CONNECT", "OPTIONS", "TRACE", "PATCH"};

typedef struct wh_options {
    uint64_t t[3]; /* connect, first byte, between bytes (0: not set) */
} wh_options;

typedef struct wh_future {
    uint64_t t0;  /* when handle was called (monotonic ns), for the outbound sink */
    char *host;   /* the authority asked for ("self"), for the outbound sink */
    wh_xfer *x;   /* NULL once the result was taken */
    wh_span span; /* reported when the result is taken */
} wh_future;

typedef struct wh_inresp {
    wh_xfer *x;
    int consumed;
} wh_inresp;

/* ---- the state ---- */

static wh_out *out_of(void *ctx, kiln_cabi_cx *cx)
{
    wh_out **slot = wh_out_slot(ctx);
    if (!*slot && !(*slot = kiln_calloc(1, sizeof **slot))) p2_fail(cx, "wasi:http: out of memory");
    return *slot;
}

static void outreq_free(wh_outreq *r)
{
    if (!r) return;
    wh_fields_free(r->headers);
    kiln_free(r->method_other);
    kiln_free(r->scheme_other);
    kiln_free(r->authority);
    kiln_free(r->path);
    kiln_free(r);
}

static void future_free(wh_future *f)
{
    if (!f) return;
    wh_span_free(&f->span);
    wh_xfer_release(f->x);
    kiln_free(f->host);
    kiln_free(f);
}

static void inresp_free(wh_inresp *r)
{
    if (!r) return;
    wh_xfer_release(r->x);
    kiln_free(r);
}

static void table_free_with(p2_table *t, void (*fn)(void *))
{
    for (uint32_t i = 0; i < t->n; i++)
        if (t->items[i]) fn(t->items[i]);
    kiln_free(t->items);
}
static void outreq_free_v(void *p)
{
    outreq_free(p);
}
static void future_free_v(void *p)
{
    future_free(p);
}
static void inresp_free_v(void *p)
{
    inresp_free(p);
}

void wh_out_free(wh_out *o)
{
    if (!o) return;
    table_free_with(&o->outreqs, outreq_free_v);
    table_free_with(&o->options, kiln_free);
    table_free_with(&o->futures, future_free_v);
    table_free_with(&o->inresps, inresp_free_v);
    kiln_free(o);
}

/* The table t of the instance's outbound state, for a dtor (NULL: nothing was made). */
static void *take(void *ctx, size_t off, uint32_t rep)
{
    wh_out *o = *wh_out_slot(ctx);
    return o ? p2_table_take((p2_table *)((char *)o + off), rep) : NULL;
}

void wh_outreq_dtor(void *ctx, uint32_t rep)
{
    outreq_free(take(ctx, offsetof(wh_out, outreqs), rep));
}
void wh_options_dtor(void *ctx, uint32_t rep)
{
    kiln_free(take(ctx, offsetof(wh_out, options), rep));
}
void wh_future_dtor(void *ctx, uint32_t rep)
{
    future_free(take(ctx, offsetof(wh_out, futures), rep));
}
void wh_inresp_dtor(void *ctx, uint32_t rep)
{
    inresp_free(take(ctx, offsetof(wh_out, inresps), rep));
}

static void *get(void *ctx, kiln_cabi_cx *cx, size_t off, uint32_t rep, const char *what)
{
    wh_out *o = out_of(ctx, cx);
    void *p = o ? p2_table_get((p2_table *)((char *)o + off), rep) : NULL;
    if (o && !p) p2_fail(cx, "wasi:http: unknown %s", what);
    return p;
}

/* Puts item into the table at off: its rep, or 0 (item freed with fn). */
static uint32_t put(void *ctx, kiln_cabi_cx *cx, size_t off, void *item, void (*fn)(void *))
{
    wh_out *o = out_of(ctx, cx);
    uint32_t rep = o && item ? p2_table_put((p2_table *)((char *)o + off), item) : 0;
    if (!rep) {
        if (item) fn(item);
        p2_fail(cx, "wasi:http: out of memory");
    }
    return rep;
}

static void retain_v(void *x)
{
    wh_xfer_retain(x);
}
static void release_v(void *x)
{
    wh_xfer_release(x);
}
static int no_write(void *arg, const void *data, size_t n)
{
    (void)arg, (void)data, (void)n;
    return EPIPE;
}
static const p2_ready_ops head_ready = {wh_xfer_check_head, retain_v, release_v};
const p2_ready_ops wh_xfer_body_ready = {wh_xfer_check_body, retain_v, release_v};
const p2_stream_ops wh_xfer_body_ops = {wh_xfer_read, no_write, release_v};

/* ---- outgoing-request ---- */

#define OUTREQ offsetof(wh_out, outreqs)

static wh_outreq *outreq(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args)
{
    return get(ctx, cx, OUTREQ, args[0].res.rep, "outgoing-request");
}

int wh_outreq_new(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_fields *f = wh_take_fields(ctx, cx, args[0].res.rep);
    if (!f) return -1;
    wh_outreq *r = kiln_calloc(1, sizeof *r);
    if (!r) {
        wh_fields_free(f);
        return p2_fail(cx, "wasi:http: out of memory");
    }
    f->immutable = 1;
    r->headers = f;
    r->method = M_GET;
    res[0].res.rep = put(ctx, cx, OUTREQ, r, outreq_free_v);
    return res[0].res.rep ? 0 : -1;
}

int wh_outreq_body(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_outreq *r = outreq(ctx, cx, args);
    if (!r) return -1;
    if (r->body_taken) {
        wh_var(&res[0], 1, NULL);
        return 0;
    }
    r->body_taken = 1;
    return wh_request_body(ctx, cx, &res[0], &r->body);
}

/* 1 if s[0..n) has only visible ASCII and is free of the characters in bad. */
static int visible(const char *s, size_t n, const char *bad)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || strchr(bad, s[i]))
            return 0;
    return 1;
}

static int path_ok(const char *s, size_t n)
{
    return n > 0 && n < 65536 && (s[0] == '/' || (n == 1 && s[0] == '*')) && visible(s, n, "#");
}

static int authority_ok(const char *s, size_t n)
{
    return n < 1024 && visible(s, n, "/?#\\");
}

/* Replaces *slot with a copy of v (v NULL: none). 0, or -1 out of memory. */
static int set_str(char **slot, const kiln_cval *v)
{
    char *s = NULL;
    if (v) {
        if (!(s = kiln_malloc(v->str.len + 1))) return -1;
        memcpy(s, v->str.ptr, v->str.len);
        s[v->str.len] = '\0';
    }
    kiln_free(*slot);
    *slot = s;
    return 0;
}

static void result_err(kiln_cval *r)
{
    wh_var(r, 1, NULL);
}

int wh_req_method(kiln_cabi_cx *cx, const wh_outreq *r, kiln_cval *res)
{
    if (r->method != M_OTHER) {
        wh_var(res, r->method, NULL);
        return 0;
    }
    kiln_cval *p = wh_cval(cx);
    if (!p) return p2_fail(cx, "wasi:http: out of memory");
    wh_var(res, M_OTHER, p);
    return wh_set_string(cx, p, r->method_other, strlen(r->method_other));
}

int wh_req_set_method(kiln_cabi_cx *cx, wh_outreq *r, const kiln_cval *m, kiln_cval *res)
{
    if (m->var.disc > M_OTHER) {
        result_err(res);
        return 0;
    }
    if (m->var.disc == M_OTHER) {
        const kiln_cval *s = m->var.payload;
        if (!wh_name_valid(s->str.ptr, s->str.len)) {
            result_err(res);
            return 0;
        }
        if (set_str(&r->method_other, s) < 0) return p2_fail(cx, "wasi:http: out of memory");
    }
    r->method = m->var.disc;
    p2_ok(res);
    return 0;
}

int wh_req_set_target(kiln_cabi_cx *cx, wh_outreq *r, int path, const kiln_cval *v, kiln_cval *res)
{
    const kiln_cval *s = v->var.disc == 1 ? v->var.payload : NULL;
    if (s && !(path ? path_ok : authority_ok)(s->str.ptr, s->str.len)) {
        result_err(res);
        return 0;
    }
    if (set_str(path ? &r->path : &r->authority, s) < 0)
        return p2_fail(cx, "wasi:http: out of memory");
    p2_ok(res);
    return 0;
}

int wh_req_scheme(kiln_cabi_cx *cx, const wh_outreq *r, kiln_cval *res)
{
    if (!r->has_scheme) {
        wh_var(res, 0, NULL);
        return 0;
    }
    kiln_cval *p = wh_cval(cx);
    if (!p) return p2_fail(cx, "wasi:http: out of memory");
    wh_var(res, 1, p);
    if (r->scheme != S_OTHER) {
        wh_var(p, r->scheme, NULL);
        return 0;
    }
    kiln_cval *s = wh_cval(cx);
    if (!s) return p2_fail(cx, "wasi:http: out of memory");
    wh_var(p, S_OTHER, s);
    return wh_set_string(cx, s, r->scheme_other, strlen(r->scheme_other));
}

int wh_req_set_scheme(kiln_cabi_cx *cx, wh_outreq *r, const kiln_cval *v, kiln_cval *res)
{
    if (v->var.disc == 0) {
        r->has_scheme = 0;
        p2_ok(res);
        return 0;
    }
    const kiln_cval *s = v->var.payload;
    if (s->var.disc > S_OTHER) {
        result_err(res);
        return 0;
    }
    if (s->var.disc == S_OTHER) {
        const kiln_cval *name = s->var.payload;
        if (name->str.len == 0 || !visible(name->str.ptr, name->str.len, ":/?#@")) {
            result_err(res);
            return 0;
        }
        if (set_str(&r->scheme_other, name) < 0) return p2_fail(cx, "wasi:http: out of memory");
    }
    r->has_scheme = 1;
    r->scheme = s->var.disc;
    p2_ok(res);
    return 0;
}

int wh_outreq_method(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_outreq *r = outreq(ctx, cx, args);
    return r ? wh_req_method(cx, r, &res[0]) : -1;
}

int wh_outreq_set_method(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_outreq *r = outreq(ctx, cx, args);
    return r ? wh_req_set_method(cx, r, &args[1], &res[0]) : -1;
}

int wh_outreq_path(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_outreq *r = outreq(ctx, cx, args);
    if (!r) return -1;
    return wh_opt_string(cx, &res[0], r->path, r->path ? strlen(r->path) : 0);
}

int wh_outreq_set_path(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_outreq *r = outreq(ctx, cx, args);
    return r ? wh_req_set_target(cx, r, 1, &args[1], &res[0]) : -1;
}

int wh_outreq_authority(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_outreq *r = outreq(ctx, cx, args);
    if (!r) return -1;
    return wh_opt_string(cx, &res[0], r->authority, r->authority ? strlen(r->authority) : 0);
}

int wh_outreq_set_authority(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_outreq *r = outreq(ctx, cx, args);
    return r ? wh_req_set_target(cx, r, 0, &args[1], &res[0]) : -1;
}

int wh_outreq_scheme(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_outreq *r = outreq(ctx, cx, args);
    return r ? wh_req_scheme(cx, r, &res[0]) : -1;
}

int wh_outreq_set_scheme(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_outreq *r = outreq(ctx, cx, args);
    return r ? wh_req_set_scheme(cx, r, &args[1], &res[0]) : -1;
}

int wh_outreq_headers(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_outreq *r = outreq(ctx, cx, args);
    if (!r) return -1;
    wh_fields *c = wh_fields_clone(r->headers);
    if (c) c->immutable = 1;
    res[0].res.rep = wh_put_fields(ctx, c);
    return res[0].res.rep ? 0 : p2_fail(cx, "wasi:http: out of memory");
}

/* ---- request-options ---- */

#define OPTIONS offsetof(wh_out, options)

int wh_options_new(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    (void)args;
    res[0].res.rep = put(ctx, cx, OPTIONS, kiln_calloc(1, sizeof(wh_options)), kiln_free);
    return res[0].res.rep ? 0 : -1;
}

int wh_timeout_get(kiln_cabi_cx *cx, uint64_t t, kiln_cval *res)
{
    if (!t) {
        wh_var(res, 0, NULL);
        return 0;
    }
    kiln_cval *p = wh_cval(cx);
    if (!p) return p2_fail(cx, "wasi:http: out of memory");
    p->u = t;
    wh_var(res, 1, p);
    return 0;
}

void wh_timeout_set(uint64_t *t, const kiln_cval *v)
{
    *t = v->var.disc == 1 ? v->var.payload->u : 0;
    if (v->var.disc == 1 && *t == 0) *t = 1; /* zero: at once */
}

static int opt_get(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res, int k)
{
    wh_options *o = get(ctx, cx, OPTIONS, args[0].res.rep, "request-options");
    return o ? wh_timeout_get(cx, o->t[k], &res[0]) : -1;
}

static int opt_set(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res, int k)
{
    wh_options *o = get(ctx, cx, OPTIONS, args[0].res.rep, "request-options");
    if (!o) return -1;
    wh_timeout_set(&o->t[k], &args[1]);
    p2_ok(&res[0]);
    return 0;
}

int wh_options_connect(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return opt_get(ctx, cx, args, res, 0);
}
int wh_options_set_connect(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return opt_set(ctx, cx, args, res, 0);
}
int wh_options_first_byte(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return opt_get(ctx, cx, args, res, 1);
}
int wh_options_set_first_byte(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return opt_set(ctx, cx, args, res, 1);
}
int wh_options_between(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return opt_get(ctx, cx, args, res, 2);
}
int wh_options_set_between(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return opt_set(ctx, cx, args, res, 2);
}

/* ---- error-code values ---- */

/* v = error-code case c, with an empty payload where the case has one. */
int wh_error_code(kiln_cabi_cx *cx, kiln_cval *v, uint32_t c)
{
    kiln_cval *p = NULL;
    switch (c) {
    case WH_E_DNS_ERROR: { /* DNS-error-payload { rcode: option<string>, info-code: option<u16> } */
        kiln_cval *fields = kiln_cabi_alloc(cx, 2 * sizeof *fields);
        if (!(p = wh_cval(cx)) || !fields) return p2_fail(cx, "wasi:http: out of memory");
        memset(fields, 0, 2 * sizeof *fields);
        p->agg.items = fields;
        p->agg.n = 2;
        break;
    }
    case WH_E_HTTP_REQUEST_BODY_SIZE:
    case WH_E_HTTP_RESPONSE_HEADER_SECTION_SIZE:
    case WH_E_HTTP_RESPONSE_TRAILER_SECTION_SIZE:
    case WH_E_HTTP_RESPONSE_TRANSFER_CODING:
    case WH_E_INTERNAL: /* option<...>: none */
        if (!(p = wh_cval(cx))) return p2_fail(cx, "wasi:http: out of memory");
        break;
    default:
        break;
    }
    wh_var(v, c, p);
    return 0;
}

/* r = err(error-code c). */
static int result_error(kiln_cabi_cx *cx, kiln_cval *r, uint32_t c)
{
    kiln_cval *e = wh_cval(cx);
    if (!e) return p2_fail(cx, "wasi:http: out of memory");
    wh_var(r, 1, e);
    return wh_error_code(cx, e, c);
}

/* ---- outgoing-handler.handle ---- */

/* The guest's content-length header: its value, -1 when absent, -2 when malformed (or
 * given twice with different values). */
static long long content_length(const wh_fields *h)
{
    long long cl = -1;
    for (size_t i = 0; i < h->n; i++) {
        const wh_field *f = &h->items[i];
        if (strcmp(f->name, "content-length") != 0) continue;
        long long v = 0;
        int ok = f->value_len > 0 && f->value_len <= 18;
        for (size_t k = 0; ok && k < f->value_len; k++) {
            ok = f->value[k] >= '0' && f->value[k] <= '9';
            v = v * 10 + (f->value[k] - '0');
        }
        cl = ok && (cl == -1 || cl == v) ? v : -2;
        if (cl == -2) break;
    }
    return cl;
}

/* Writes the request head (without the blank line) into b: the request line, host, the
 * traceparent tp (NULL: none; it replaces the guest's), the guest's headers but host and
 * content-length (its value cl, when >= 0, is written once). 0, or -1 out of memory. */
static int build_head(kiln_buf *b, const wh_outreq *r, const char *path, long long cl,
                      const char *tp)
{
    const char *m = r->method == M_OTHER ? r->method_other : method_names[r->method];
    int rc = kiln_buf_printf(b, "%s %s HTTP/1.1\r\nhost: %s\r\n", m, path, r->authority);
    if (rc == 0 && tp) rc = kiln_buf_printf(b, "traceparent: %s\r\n", tp);
    for (size_t i = 0; rc == 0 && i < r->headers->n; i++) {
        const wh_field *f = &r->headers->items[i];
        if (strcmp(f->name, "host") == 0 || strcmp(f->name, "content-length") == 0 ||
            (tp && strcmp(f->name, "traceparent") == 0))
            continue;
        rc = kiln_buf_append(b, f->name, f->name_len);
        if (rc == 0) rc = kiln_buf_append(b, ": ", 2);
        if (rc == 0) rc = kiln_buf_append(b, f->value, f->value_len);
        if (rc == 0) rc = kiln_buf_append(b, "\r\n", 2);
    }
    if (rc == 0 && cl >= 0) rc = kiln_buf_printf(b, "content-length: %lld\r\n", cl);
    return rc;
}

typedef struct chain_arg chain_arg;
static void chain_dispatch(wh_xfer *x, void *arg, const void *body, size_t n);
static void chain_arg_free(void *p);

/* Starts the transfer of r: to target t with request head (a connection, within limit),
 * or in process with chain (not NULL: taken). The request body goes to it when complete (at once
 * for none), or, taken without a 0.2 body (wasi:http 0.3's), streams from the caller
 * (wh_xfer_write). NULL with *ecode. */
static wh_xfer *launch(const wh_outreq *r, const uint64_t *o, const wh_target *t,
                       const kiln_buf *head, long long cl, chain_arg *chain, wh_limit *limit,
                       uint32_t *ecode)
{
    int bodyless = r->method == M_GET || r->method == M_HEAD || r->method == M_DELETE ||
                   r->method == M_OPTIONS || r->method == M_TRACE || r->method == M_CONNECT;
    wh_xfer_spec spec = {t,
                         head ? head->data : NULL,
                         head ? head->len : 0,
                         r->method == M_HEAD,
                         r->body_taken || !bodyless,
                         cl,
                         o ? o[0] : 0,
                         o ? o[1] : 0,
                         o ? o[2] : 0,
                         limit,
                         r->body_taken && !r->body}; /* the caller streams it */
    wh_xfer *x = chain ? wh_xfer_local(&spec, chain_dispatch, chain, chain_arg_free, ecode)
                       : wh_xfer_start(&spec, ecode);
    if (x && spec.body) {
        if (r->body)
            wh_request_body_bind(r->body, x);
        else if (!r->body_taken)
            wh_xfer_body(x, "", 0); /* a method that carries a body: content-length 0 */
    }
    return x;
}

/* ---- service chaining: requests for the application itself ---- */

static kiln_wasihttp_chainer chainer;

void kiln_wasihttp_set_chainer(kiln_wasihttp_chainer fn)
{
    chainer = fn;
}

/* What a chained transfer dispatches (owned by the transfer). */
struct chain_arg {
    kiln_wasihttp_chain c;
    wh_fields *headers;
    char *component, *caller, *method, *path, *authority, *traceparent;
};

static void chain_arg_free(void *p)
{
    chain_arg *a = p;
    if (!a) return;
    wh_fields_free(a->headers);
    kiln_free(a->component);
    kiln_free(a->caller);
    kiln_free(a->method);
    kiln_free(a->path);
    kiln_free(a->authority);
    kiln_free(a->traceparent);
    kiln_free(a);
}

/* The request body is complete: the chainer starts the request. */
static void chain_dispatch(wh_xfer *x, void *arg, const void *body, size_t n)
{
    chain_arg *a = arg;
    a->c.body = body;
    a->c.body_len = n;
    if (!chainer) {
        wh_xfer_local_end(x, WH_E_HTTP_REQUEST_DENIED);
        return;
    }
    chainer(&a->c, x);
}

static char *dup_opt(const char *s)
{
    return s ? kiln_strdup(s) : NULL;
}

/* Starts the in-process request r for component (name_len bytes; NULL: self), with the
 * traceparent tp (NULL: the served request's). NULL with *ecode. */
static wh_xfer *chain_start(const wh_origin *h, const wh_outreq *r, const uint64_t *o,
                            const char *component, size_t name_len, long long cl, const char *tp,
                            uint32_t *ecode)
{
    const kiln_wasihttp_request *in = h->req;
    unsigned depth = (in ? in->chain_depth : 0) + 1;
    const char *id = h->component;
    if (depth > KILN_WASIHTTP_CHAIN_MAX_DEPTH) {
        fprintf(stderr,
                "kiln: component %s: service chaining deeper than %d requests (a loop?): "
                "refused\n",
                id ? id : "?", KILN_WASIHTTP_CHAIN_MAX_DEPTH);
        *ecode = WH_E_LOOP_DETECTED;
        return NULL;
    }
    if (!chainer) {
        fprintf(stderr, "kiln: component %s: service chaining is not served here\n", id ? id : "?");
        *ecode = WH_E_HTTP_REQUEST_DENIED;
        return NULL;
    }
    chain_arg *a = kiln_calloc(1, sizeof *a);
    if (!a) {
        *ecode = WH_E_INTERNAL;
        return NULL;
    }
    const char *m = r->method == M_OTHER ? r->method_other : method_names[r->method];
    a->headers = wh_fields_clone(r->headers);
    a->method = kiln_strdup(m);
    a->path = kiln_strdup(r->path ? r->path : "/");
    a->caller = dup_opt(id);
    a->authority = dup_opt(r->authority);
    if (!tp && in) tp = in->traceparent;
    a->traceparent = dup_opt(tp);
    if (component) {
        a->component = kiln_malloc(name_len + 1);
        if (a->component) {
            memcpy(a->component, component, name_len);
            a->component[name_len] = '\0';
        }
    }
    if (!a->headers || !a->method || !a->path || (id && !a->caller) ||
        (r->authority && !a->authority) || (component && !a->component) ||
        (tp && !a->traceparent)) {
        chain_arg_free(a);
        *ecode = WH_E_INTERNAL;
        return NULL;
    }
    a->c = (kiln_wasihttp_chain){a->component, a->caller,     a->method,
                                 a->path,      a->authority,  r->has_scheme && r->scheme == S_HTTPS,
                                 a->headers,   NULL,          0,
                                 depth,        a->traceparent};
    wh_target none;
    memset(&none, 0, sizeof none);
    return launch(r, o, &none, NULL, cl, a, NULL, ecode);
}

/* Logs a refused outbound request. */
static void denied(const wh_origin *h, const char *what)
{
    const char *id = h->component;
    fprintf(stderr,
            "kiln: component %s: outbound request to %s denied (not in allowed_outbound_hosts)\n",
            id ? id : "?", what);
}

wh_xfer *wh_send(const wh_origin *h, const wh_outreq *r, const uint64_t *o, const char *tp,
                 uint32_t *ecode)
{
    int https = !r->has_scheme || r->scheme == S_HTTPS;
    if (r->has_scheme && r->scheme == S_OTHER) {
        *ecode = WH_E_HTTP_PROTOCOL_ERROR;
        return NULL;
    }
    size_t n = h->ngrants;
    const char *const *grants = h->grants;
    wh_target t;
    size_t name_len = 0;
    int chain = !r->authority || !*r->authority ? 2 : 0; /* a relative URL: a self request */
    if (!chain) {
        if (wh_target_parse(&t, https, r->authority, strlen(r->authority)) < 0) {
            *ecode = WH_E_HTTP_REQUEST_URI_INVALID;
            return NULL;
        }
        chain = wh_chain_target(&t, &name_len);
    }
    long long cl = content_length(r->headers);
    if (cl == -2) {
        *ecode = WH_E_HTTP_REQUEST_BODY_SIZE;
        return NULL;
    }
    if (chain) {
        if (chain == 2 ? !wh_allow_self(grants, n) : !wh_allow_chained(grants, n, &t)) {
            denied(h, chain == 2 ? "self" : t.host);
            *ecode = WH_E_HTTP_REQUEST_DENIED;
            return NULL;
        }
        if (chain == 1 && name_len == 0) {
            *ecode = WH_E_DESTINATION_NOT_FOUND;
            return NULL;
        }
        return chain_start(h, r, o, chain == 1 ? t.host : NULL, name_len, cl, tp, ecode);
    }
    if (!wh_allow(grants, n, &t)) {
        char what[WH_HOST_MAX + 32];
        snprintf(what, sizeof what, "%s://%s:%u", https ? "https" : "http", t.host,
                 (unsigned)t.port);
        denied(h, what);
        *ecode = WH_E_HTTP_REQUEST_DENIED;
        return NULL;
    }
    kiln_buf head = KILN_BUF_INIT;
    if (build_head(&head, r, r->path ? r->path : "/", cl, tp) < 0) {
        kiln_buf_free(&head);
        *ecode = WH_E_INTERNAL;
        return NULL;
    }
    wh_xfer *x = launch(r, o, &t, &head, cl, NULL, h->limit, ecode);
    kiln_buf_free(&head);
    return x;
}

static void (*out_sink)(void *ctx, const char *component, const char *host, int status,
                        const char *error, uint64_t duration_ns);
static void *out_sink_ctx;

void kiln_wasihttp_set_outbound_sink(void (*sink)(void *ctx, const char *component,
                                                  const char *host, int status, const char *error,
                                                  uint64_t duration_ns),
                                     void *ctx)
{
    out_sink = sink;
    out_sink_ctx = ctx;
}

uint64_t wh_mono_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void wh_outbound_count(const char *component, const char *host, int status, uint32_t ecode,
                       uint64_t t0)
{
    if (out_sink)
        out_sink(out_sink_ctx, component, host ? host : "unknown", status,
                 status ? NULL : kiln_wasihttp_error_name(ecode), t0 ? wh_mono_ns() - t0 : 0);
}

void wh_send_count(const wh_origin *h, const char *host, int status, uint32_t ecode, uint64_t t0)
{
    wh_outbound_count(h->component, host, status, ecode, t0);
}

int wh_send_span(const wh_origin *h, const wh_outreq *r, wh_span *span)
{
    const char *m = r->method == M_OTHER ? r->method_other : method_names[r->method];
    const char *host = r->authority && *r->authority ? r->authority : "self";
    kiln_buf url = KILN_BUF_INIT;
    const char *scheme = !r->has_scheme || r->scheme == S_HTTPS ? "https"
                         : r->scheme == S_HTTP                  ? "http"
                                                                : r->scheme_other;
    int rc = kiln_buf_printf(&url, "%s://%s%s", scheme, host, r->path ? r->path : "/");
    rc = rc < 0 ? -1 : wh_span_begin(span, h, m, url.data, host);
    kiln_buf_free(&url);
    return rc;
}

/* The host label of r's outbound metrics: the authority as it will be connected
 * (wh_target_label), "self" for a relative URL, or the authority as written when it does
 * not parse (the request then fails as URI-invalid). */
char *wh_send_host(const wh_outreq *r)
{
    if (!r->authority || !*r->authority) return kiln_strdup("self");
    wh_target t;
    char label[WH_LABEL_MAX];
    int https = !r->has_scheme || r->scheme == S_HTTPS;
    if (wh_target_parse(&t, https, r->authority, strlen(r->authority)) == 0 &&
        wh_target_label(&t, label, sizeof label) == 0)
        return kiln_strdup(label);
    return kiln_strdup(r->authority);
}

wh_origin wh_origin_of(const kiln_wasihttp *h)
{
    wh_origin o = {wh_component(h), NULL, 0, wh_request(h), wh_limit_of(h)};
    o.grants = wh_grants(h, &o.ngrants);
    return o;
}

int wh_handle(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_origin h = wh_origin_of(ctx);
    wh_out *o = out_of(ctx, cx);
    if (!o) return -1;
    wh_outreq *r = p2_table_take(&o->outreqs, args[0].res.rep);
    if (!r) return p2_fail(cx, "wasi:http: unknown outgoing-request");
    wh_options *opt = NULL;
    if (args[1].var.disc == 1) opt = p2_table_take(&o->options, args[1].var.payload->res.rep);
    uint32_t ecode = 0;
    uint64_t t0 = wh_mono_ns();
    char *host = wh_send_host(r);
    wh_span span;
    int traced = wh_send_span(&h, r, &span);
    wh_xfer *x =
        traced < 0 ? NULL : wh_send(&h, r, opt ? opt->t : NULL, traced ? span.tp : NULL, &ecode);
    if (traced < 0) ecode = WH_E_INTERNAL;
    outreq_free(r);
    kiln_free(opt);
    if (!x) {
        wh_span_end(&span, 0, ecode);
        wh_send_count(&h, host, 0, ecode, t0);
        kiln_free(host);
        return result_error(cx, &res[0], ecode);
    }
    wh_future *f = kiln_calloc(1, sizeof *f);
    if (f) {
        f->x = x;
        f->span = span;
        f->t0 = t0;
        f->host = host;
    } else {
        kiln_free(host);
        wh_span_free(&span);
        wh_xfer_release(x);
    }
    uint32_t rep = put(ctx, cx, offsetof(wh_out, futures), f, future_free_v);
    return rep ? wh_var_res(cx, &res[0], 0, rep) : -1;
}

/* ---- future-incoming-response ---- */

int wh_future_subscribe(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_future *f =
        get(ctx, cx, offsetof(wh_out, futures), args[0].res.rep, "future-incoming-response");
    if (!f) return -1;
    kiln_wasip2 *p2 = wh_p2(ctx);
    if (!p2) return p2_fail(cx, "wasi:http: no wasi:io context");
    res[0].res.rep = f->x ? p2_pollable_new_host(p2, &head_ready, f->x) : p2_pollable_new(p2, 0);
    return res[0].res.rep ? 0 : p2_fail(cx, "wasi:http: out of memory");
}

/* get: none while pending; some(ok(ok(response))) or some(ok(err(code))) once;
 * some(err) after. */
int wh_future_get(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_future *f =
        get(ctx, cx, offsetof(wh_out, futures), args[0].res.rep, "future-incoming-response");
    if (!f) return -1;
    kiln_cval *outer = wh_cval(cx), *inner = wh_cval(cx);
    if (!outer || !inner) return p2_fail(cx, "wasi:http: out of memory");
    if (!f->x) {
        wh_var(&res[0], 1, outer);
        wh_var(outer, 1, NULL);
        return 0;
    }
    int fd;
    short ev;
    uint64_t d;
    if (!wh_xfer_check_head(f->x, &fd, &ev, &d)) {
        wh_var(&res[0], 0, NULL);
        return 0;
    }
    wh_xfer *x = f->x;
    f->x = NULL;
    wh_var(&res[0], 1, outer);
    wh_var(outer, 0, inner);
    uint16_t status;
    const wh_fields *hdrs;
    uint32_t ecode;
    int got = wh_xfer_response(x, &status, &hdrs, &ecode);
    wh_span_end(&f->span, got < 0 ? 0 : status, ecode);
    wh_origin h = wh_origin_of(ctx);
    wh_send_count(&h, f->host, got < 0 ? 0 : status, ecode, f->t0);
    if (got < 0) {
        wh_xfer_release(x);
        kiln_cval *e = wh_cval(cx);
        if (!e) return p2_fail(cx, "wasi:http: out of memory");
        wh_var(inner, 1, e);
        return wh_error_code(cx, e, ecode);
    }
    wh_inresp *ir = kiln_calloc(1, sizeof *ir);
    if (ir)
        ir->x = x;
    else
        wh_xfer_release(x);
    uint32_t rep = put(ctx, cx, offsetof(wh_out, inresps), ir, inresp_free_v);
    return rep ? wh_var_res(cx, inner, 0, rep) : -1;
}

/* ---- incoming-response ---- */

static wh_inresp *inresp(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args)
{
    return get(ctx, cx, offsetof(wh_out, inresps), args[0].res.rep, "incoming-response");
}

int wh_inresp_status(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_inresp *r = inresp(ctx, cx, args);
    if (!r) return -1;
    uint16_t status = 0;
    const wh_fields *hdrs;
    uint32_t ecode;
    wh_xfer_response(r->x, &status, &hdrs, &ecode);
    res[0].u = status;
    return 0;
}

int wh_inresp_headers(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_inresp *r = inresp(ctx, cx, args);
    if (!r) return -1;
    uint16_t status;
    const wh_fields *hdrs = NULL;
    uint32_t ecode;
    wh_xfer_response(r->x, &status, &hdrs, &ecode);
    wh_fields *c = hdrs ? wh_fields_clone(hdrs) : wh_fields_new();
    if (c) c->immutable = 1;
    res[0].res.rep = wh_put_fields(ctx, c);
    return res[0].res.rep ? 0 : p2_fail(cx, "wasi:http: out of memory");
}

int wh_inresp_consume(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_inresp *r = inresp(ctx, cx, args);
    if (!r) return -1;
    if (r->consumed) {
        wh_var(&res[0], 1, NULL);
        return 0;
    }
    r->consumed = 1;
    return wh_var_res(cx, &res[0], 0, wh_put_response_body(ctx, r->x));
}
