/* types.c — wasi:http/types and wasi:http/outgoing-handler 0.2 (wasihttp.h): the resources
 * of one request's instance, bodies as wasi:io streams, the response to the sink. The
 * outbound half (outgoing requests, handle, incoming responses) is in outgoing.c. */
#include "c/kiln_http_errors.h"
#include "host/wasihttp/internal.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

struct kiln_wasihttp {
    kiln_wasip2 *p2;
    const kiln_wasihttp_request *req;
    kiln_wasihttp_sink sink;
    p2_table fields;           /* wh_fields */
    p2_table inreqs;           /* wh_flag: consumed */
    p2_table inbodies;         /* wh_flag: stream taken */
    p2_table outresps;         /* wh_outresp */
    p2_table outbodies;        /* handles: wh_outbody (owned by `bodies`) */
    p2_table bodies;           /* every wh_outbody made (owned) */
    p2_table outparams;        /* wh_flag */
    p2_table trailers;         /* wh_inbody: on = got; x: an outbound response's */
    wh_out *out;               /* outgoing.c's state (NULL until it makes a resource) */
    const char *const *grants; /* allowed_outbound_hosts (kiln_grants_outbound) */
    size_t ngrants;
    const char *component; /* kiln_grants.component (the component's id): log lines */
    wh_limit *limit;       /* its outbound limit (NULL: none) */
    uint32_t req_rep, outparam_rep;
    size_t body_off;
    kiln_wasihttp_outcome outcome;
    int finished;
    int body_ended; /* the streamed request body was read to its end (trailers are known) */
    uint32_t error_case;
};

typedef struct wh_flag {
    int on;
} wh_flag;

/* An incoming-body: of the request (x NULL) or of an outbound response. */
typedef struct wh_inbody {
    int on; /* its stream was taken */
    wh_xfer *x;
} wh_inbody;

struct wh_outbody {
    kiln_wasihttp *h;
    int sent;      /* its response went to the sink: writes go there */
    int finished;  /* outgoing-body.finish called */
    int request;   /* the body of an outgoing request: kept whole for its transfer */
    wh_xfer *xfer; /* a request body handed to handle before its finish */
    kiln_buf pending;
    wh_fields *trailers; /* a request body's, from finish (sent after it) */
};

typedef struct wh_outresp {
    uint16_t status;
    wh_fields *headers;
    wh_outbody *body; /* NULL until body() */
} wh_outresp;

static const char *const error_names[] = {KILN_HTTP_ERROR_NAMES};
#define ERR_HTTP_REQUEST_DENIED 15u
#define ERR_INTERNAL 38u

const char *kiln_wasihttp_error_name(uint32_t c)
{
    return c < sizeof error_names / sizeof error_names[0] ? error_names[c] : "unknown";
}

/* ---- helpers ---- */

static kiln_wasihttp *H(void *ctx)
{
    return ctx;
}

static kiln_cval *cval(kiln_cabi_cx *cx)
{
    kiln_cval *v = kiln_cabi_alloc(cx, sizeof *v);
    if (v) memset(v, 0, sizeof *v);
    return v;
}

/* r = result/option case disc with payload p (NULL: none). */
static void var(kiln_cval *r, uint32_t disc, kiln_cval *p)
{
    r->var.disc = disc;
    r->var.payload = p;
}

/* r = case disc with an own<...> payload of rep (rep 0: out of memory). */
static int var_res(kiln_cabi_cx *cx, kiln_cval *r, uint32_t disc, uint32_t rep)
{
    kiln_cval *p = cval(cx);
    if (!p || !rep) return p2_fail(cx, "wasi:http: out of memory");
    p->res.rep = rep;
    var(r, disc, p);
    return 0;
}

/* r = err(header-error case). */
static int header_error(kiln_cabi_cx *cx, kiln_cval *r, int he)
{
    kiln_cval *p = cval(cx);
    if (!p) return p2_fail(cx, "wasi:http: out of memory");
    var(p, (uint32_t)he, NULL);
    var(r, 1, p);
    return 0;
}

static int set_string(kiln_cabi_cx *cx, kiln_cval *v, const char *s, size_t n)
{
    char *p = kiln_cabi_alloc(cx, n ? n : 1);
    if (!p) return p2_fail(cx, "wasi:http: out of memory");
    if (n) memcpy(p, s, n);
    v->str.ptr = p;
    v->str.len = n;
    return 0;
}

/* r = some(string) or none (s NULL). */
static int opt_string(kiln_cabi_cx *cx, kiln_cval *r, const char *s, size_t n)
{
    if (!s) {
        var(r, 0, NULL);
        return 0;
    }
    kiln_cval *p = cval(cx);
    if (!p) return p2_fail(cx, "wasi:http: out of memory");
    var(r, 1, p);
    return set_string(cx, p, s, n);
}

static void *get(kiln_cabi_cx *cx, p2_table *t, uint32_t rep, const char *what)
{
    void *p = p2_table_get(t, rep);
    if (!p) p2_fail(cx, "wasi:http: unknown %s", what);
    return p;
}

static void fields_dtor(void *ctx, uint32_t rep)
{
    wh_fields_free(p2_table_take(&H(ctx)->fields, rep));
}
static void free_dtor_inreq(void *ctx, uint32_t rep)
{
    kiln_free(p2_table_take(&H(ctx)->inreqs, rep));
}
static void inbody_free(wh_inbody *b)
{
    if (!b) return;
    wh_xfer_release(b->x);
    kiln_free(b);
}
static void free_dtor_inbody(void *ctx, uint32_t rep)
{
    inbody_free(p2_table_take(&H(ctx)->inbodies, rep));
}
static void outresp_free(wh_outresp *r)
{
    if (!r) return;
    wh_fields_free(r->headers);
    kiln_free(r);
}
static void outresp_dtor(void *ctx, uint32_t rep)
{
    outresp_free(p2_table_take(&H(ctx)->outresps, rep));
}
/* A request body handed to its transfer: complete (finish) or abandoned (dropped). */
static void request_body_end(wh_outbody *b, int complete)
{
    if (!b->xfer) return;
    wh_xfer_body_trailers(b->xfer, complete ? (b->pending.data ? b->pending.data : "") : NULL,
                          b->pending.len, b->trailers);
    wh_xfer_release(b->xfer);
    b->xfer = NULL;
    kiln_buf_free(&b->pending);
}
static void outbody_dtor(void *ctx, uint32_t rep)
{
    wh_outbody *b = p2_table_take(&H(ctx)->outbodies, rep); /* the state stays in `bodies` */
    if (b && !b->finished) request_body_end(b, 0);
}
static void free_dtor_outparam(void *ctx, uint32_t rep)
{
    kiln_free(p2_table_take(&H(ctx)->outparams, rep));
}
static void free_dtor_trailers(void *ctx, uint32_t rep)
{
    inbody_free(p2_table_take(&H(ctx)->trailers, rep));
}
/* Puts a new item into t: its rep, or 0 (out of memory; item freed with kiln_free). */
static uint32_t put(p2_table *t, void *item)
{
    uint32_t rep = item ? p2_table_put(t, item) : 0;
    if (!rep) kiln_free(item);
    return rep;
}

/* ---- fields ---- */

static uint32_t put_fields(kiln_wasihttp *h, wh_fields *f)
{
    uint32_t rep = f ? p2_table_put(&h->fields, f) : 0;
    if (!rep) wh_fields_free(f);
    return rep;
}

static int fields_new(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    (void)args;
    res[0].res.rep = put_fields(H(ctx), wh_fields_new());
    return res[0].res.rep ? 0 : p2_fail(cx, "wasi:http: out of memory");
}

static int fields_from_list(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_fields *f = wh_fields_new();
    if (!f) return p2_fail(cx, "wasi:http: out of memory");
    for (uint32_t i = 0; i < args[0].agg.n; i++) {
        const kiln_cval *e = args[0].agg.items[i].agg.items;
        int he = wh_fields_check(f, e[0].str.ptr, e[0].str.len, (const uint8_t *)e[1].str.ptr,
                                 e[1].str.len);
        if (he >= 0) {
            wh_fields_free(f);
            return header_error(cx, &res[0], he);
        }
        if (wh_fields_append(f, e[0].str.ptr, e[0].str.len, (const uint8_t *)e[1].str.ptr,
                             e[1].str.len) < 0) {
            wh_fields_free(f);
            return p2_fail(cx, "wasi:http: out of memory");
        }
    }
    return var_res(cx, &res[0], 0, put_fields(H(ctx), f));
}

int wh_fields_values(kiln_cabi_cx *cx, const wh_fields *f, const char *name, size_t nlen,
                     kiln_cval *res)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n; i++)
        n += f->items[i].name_len == nlen && strncasecmp(f->items[i].name, name, nlen) == 0;
    kiln_cval *items = kiln_cabi_alloc(cx, (n ? n : 1) * sizeof *items);
    if (!items) return p2_fail(cx, "wasi:http: out of memory");
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++)
        if (f->items[i].name_len == nlen && strncasecmp(f->items[i].name, name, nlen) == 0) {
            items[k].str.ptr = (char *)f->items[i].value;
            items[k++].str.len = f->items[i].value_len;
        }
    res->agg.items = items;
    res->agg.n = (uint32_t)n;
    return 0;
}

static int fields_get(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_fields *f = get(cx, &H(ctx)->fields, args[0].res.rep, "fields");
    return f ? wh_fields_values(cx, f, args[1].str.ptr, args[1].str.len, &res[0]) : -1;
}

static int fields_has(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_fields *f = get(cx, &H(ctx)->fields, args[0].res.rep, "fields");
    if (!f) return -1;
    res[0].u = (uint64_t)wh_fields_has(f, args[1].str.ptr, args[1].str.len);
    return 0;
}

static int fields_set(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_fields *f = get(cx, &H(ctx)->fields, args[0].res.rep, "fields");
    if (!f) return -1;
    const char *name = args[1].str.ptr;
    size_t nlen = args[1].str.len;
    int he = wh_fields_check(f, name, nlen, NULL, 0);
    for (uint32_t i = 0; he < 0 && i < args[2].agg.n; i++)
        he = wh_fields_check(f, name, nlen, (const uint8_t *)args[2].agg.items[i].str.ptr,
                             args[2].agg.items[i].str.len);
    if (he >= 0) return header_error(cx, &res[0], he);
    wh_fields_delete(f, name, nlen);
    for (uint32_t i = 0; i < args[2].agg.n; i++)
        if (wh_fields_append(f, name, nlen, (const uint8_t *)args[2].agg.items[i].str.ptr,
                             args[2].agg.items[i].str.len) < 0)
            return p2_fail(cx, "wasi:http: out of memory");
    p2_ok(&res[0]);
    return 0;
}

static int fields_delete(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_fields *f = get(cx, &H(ctx)->fields, args[0].res.rep, "fields");
    if (!f) return -1;
    int he = wh_fields_check(f, args[1].str.ptr, args[1].str.len, NULL, 0);
    if (he >= 0) return header_error(cx, &res[0], he);
    wh_fields_delete(f, args[1].str.ptr, args[1].str.len);
    p2_ok(&res[0]);
    return 0;
}

static int fields_append(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_fields *f = get(cx, &H(ctx)->fields, args[0].res.rep, "fields");
    if (!f) return -1;
    int he = wh_fields_check(f, args[1].str.ptr, args[1].str.len, (const uint8_t *)args[2].str.ptr,
                             args[2].str.len);
    if (he >= 0) return header_error(cx, &res[0], he);
    if (wh_fields_append(f, args[1].str.ptr, args[1].str.len, (const uint8_t *)args[2].str.ptr,
                         args[2].str.len) < 0)
        return p2_fail(cx, "wasi:http: out of memory");
    p2_ok(&res[0]);
    return 0;
}

int wh_fields_entries(kiln_cabi_cx *cx, const wh_fields *f, kiln_cval *res)
{
    kiln_cval *items = kiln_cabi_alloc(cx, (f->n ? f->n : 1) * 3 * sizeof *items);
    if (!items) return p2_fail(cx, "wasi:http: out of memory");
    kiln_cval *pairs = items + f->n;
    for (size_t i = 0; i < f->n; i++) {
        pairs[2 * i].str.ptr = f->items[i].name;
        pairs[2 * i].str.len = f->items[i].name_len;
        pairs[2 * i + 1].str.ptr = (char *)f->items[i].value;
        pairs[2 * i + 1].str.len = f->items[i].value_len;
        items[i].agg.items = &pairs[2 * i];
        items[i].agg.n = 2;
    }
    res->agg.items = items;
    res->agg.n = (uint32_t)f->n;
    return 0;
}

static int fields_entries(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_fields *f = get(cx, &H(ctx)->fields, args[0].res.rep, "fields");
    return f ? wh_fields_entries(cx, f, &res[0]) : -1;
}

/* A new fields resource: a copy of f, immutable or not. */
static int new_fields_copy(kiln_wasihttp *h, kiln_cabi_cx *cx, kiln_cval *r, const wh_fields *f,
                           int immutable)
{
    wh_fields *c = wh_fields_clone(f);
    if (c) c->immutable = immutable;
    r->res.rep = put_fields(h, c);
    return r->res.rep ? 0 : p2_fail(cx, "wasi:http: out of memory");
}

static int fields_clone(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_fields *f = get(cx, &H(ctx)->fields, args[0].res.rep, "fields");
    if (!f) return -1;
    return new_fields_copy(ctx, cx, &res[0], f, 0);
}

/* Takes an own<fields> argument out of the table (the host owns it now). */
static wh_fields *take_fields(kiln_wasihttp *h, kiln_cabi_cx *cx, uint32_t rep)
{
    wh_fields *f = p2_table_take(&h->fields, rep);
    if (!f) p2_fail(cx, "wasi:http: unknown fields");
    return f;
}

/* ---- incoming-request / incoming-body / future-trailers ---- */

static const char *const method_names[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                           "CONNECT", "OPTIONS", "TRACE", "PATCH"};

static int inreq_method(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_wasihttp *h = ctx;
    if (!get(cx, &h->inreqs, args[0].res.rep, "incoming-request")) return -1;
    const kiln_wasihttp_request *q = h->req;
    for (uint32_t i = 0; i < 9; i++)
        if (strlen(method_names[i]) == q->method_len &&
            memcmp(method_names[i], q->method, q->method_len) == 0) {
            var(&res[0], i, NULL);
            return 0;
        }
    kiln_cval *p = cval(cx);
    if (!p) return p2_fail(cx, "wasi:http: out of memory");
    var(&res[0], 9, p);
    return set_string(cx, p, q->method, q->method_len);
}

static int inreq_path(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_wasihttp *h = ctx;
    if (!get(cx, &h->inreqs, args[0].res.rep, "incoming-request")) return -1;
    return opt_string(cx, &res[0], h->req->path_with_query, h->req->path_with_query_len);
}

static int inreq_scheme(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_wasihttp *h = ctx;
    if (!get(cx, &h->inreqs, args[0].res.rep, "incoming-request")) return -1;
    kiln_cval *p = cval(cx);
    if (!p) return p2_fail(cx, "wasi:http: out of memory");
    var(p, h->req->https ? 1 : 0, NULL);
    var(&res[0], 1, p);
    return 0;
}

static int inreq_authority(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_wasihttp *h = ctx;
    if (!get(cx, &h->inreqs, args[0].res.rep, "incoming-request")) return -1;
    return opt_string(cx, &res[0], h->req->authority, h->req->authority_len);
}

static int inreq_headers(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_wasihttp *h = ctx;
    if (!get(cx, &h->inreqs, args[0].res.rep, "incoming-request")) return -1;
    wh_fields *f = wh_fields_new();
    if (!f) return p2_fail(cx, "wasi:http: out of memory");
    for (size_t i = 0; i < h->req->nheaders; i++) {
        const kiln_wasihttp_header *e = &h->req->headers[i];
        if (wh_fields_check(f, e->name, e->name_len, (const uint8_t *)e->value, e->value_len) >= 0)
            continue; /* hop-by-hop or malformed: not the guest's */
        if (wh_fields_append(f, e->name, e->name_len, (const uint8_t *)e->value, e->value_len) <
            0) {
            wh_fields_free(f);
            return p2_fail(cx, "wasi:http: out of memory");
        }
    }
    f->immutable = 1;
    res[0].res.rep = put_fields(h, f);
    return res[0].res.rep ? 0 : p2_fail(cx, "wasi:http: out of memory");
}

static int inreq_consume(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_wasihttp *h = ctx;
    wh_flag *q = get(cx, &h->inreqs, args[0].res.rep, "incoming-request");
    if (!q) return -1;
    if (q->on) {
        var(&res[0], 1, NULL);
        return 0;
    }
    q->on = 1;
    return var_res(cx, &res[0], 0, put(&h->inbodies, kiln_calloc(1, sizeof(wh_inbody))));
}

/* The request body as an input stream. */
static long body_read(void *arg, void *buf, size_t cap, int *eof, int *err)
{
    kiln_wasihttp *h = arg;
    (void)err;
    size_t left = h->req->body_len - h->body_off;
    size_t n = left < cap ? left : cap;
    if (n) memcpy(buf, h->req->body + h->body_off, n);
    h->body_off += n;
    *eof = n == 0;
    return (long)n;
}
static int no_write(void *arg, const void *data, size_t n)
{
    (void)arg, (void)data, (void)n;
    return EPIPE;
}
static const p2_stream_ops body_in_ops = {body_read, no_write, NULL};

/* The request body as it streams in from the connection (the sink's read). */
static long body_stream_read(void *arg, void *buf, size_t cap, int *eof, int *err)
{
    kiln_wasihttp *h = arg;
    long n = h->sink.read(h->sink.arg, buf, cap);
    if (n == -2) return 0; /* nothing yet */
    if (n < 0) {
        *err = EIO;
        return -1;
    }
    *eof = n == 0;
    if (n == 0) h->body_ended = 1;
    return n;
}
static const p2_stream_ops body_stream_ops = {body_stream_read, no_write, NULL};

/* Ready when the sink's wait_fd polls readable (bytes, the end or an error are there). */
static int body_stream_check(void *arg, int *fd, short *events, uint64_t *deadline)
{
    kiln_wasihttp *h = arg;
    int f = h->sink.wait_fd(h->sink.arg);
    *fd = f;
    *events = POLLIN;
    *deadline = UINT64_MAX;
    if (f < 0) return 1;
    struct pollfd p = {f, POLLIN, 0};
    return poll(&p, 1, 0) > 0;
}
/* h outlives every pollable of its instance: no references to count. */
static void body_stream_ref(void *arg)
{
    (void)arg;
}
static const p2_ready_ops body_stream_ready = {body_stream_check, body_stream_ref, body_stream_ref};

static int inbody_stream(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_wasihttp *h = ctx;
    wh_inbody *b = get(cx, &h->inbodies, args[0].res.rep, "incoming-body");
    if (!b) return -1;
    if (b->on || !h->p2) {
        var(&res[0], 1, NULL);
        return 0;
    }
    b->on = 1;
    if (b->x) { /* an outbound response's body, read as it arrives */
        uint32_t rep = p2_stream_new_ready(h->p2, &wh_xfer_body_ops, b->x, &wh_xfer_body_ready);
        if (rep) wh_xfer_retain(b->x);
        return var_res(cx, &res[0], 0, rep);
    }
    if (h->sink.read)
        return var_res(cx, &res[0], 0,
                       p2_stream_new_ready(h->p2, &body_stream_ops, h, &body_stream_ready));
    return var_res(cx, &res[0], 0, p2_stream_new_ops(h->p2, P2_STREAM_IN, &body_in_ops, h));
}

static int inbody_finish(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_wasihttp *h = ctx;
    wh_inbody *b = p2_table_take(&h->inbodies, args[0].res.rep);
    if (!b) return p2_fail(cx, "wasi:http: unknown incoming-body");
    b->on = 0; /* the future keeps an outbound response's transfer: its trailers */
    res[0].res.rep = p2_table_put(&h->trailers, b);
    if (res[0].res.rep) return 0;
    inbody_free(b);
    return p2_fail(cx, "wasi:http: out of memory");
}

/* A pollable that is ready at once (every future here is resolved when made). */
static int ready_pollable(kiln_wasihttp *h, kiln_cabi_cx *cx, kiln_cval *r)
{
    if (!h->p2) return p2_fail(cx, "wasi:http: no wasi:io context");
    r->res.rep = p2_pollable_new(h->p2, 0);
    return r->res.rep ? 0 : p2_fail(cx, "wasi:http: out of memory");
}

static int trailers_subscribe(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    if (!get(cx, &H(ctx)->trailers, args[0].res.rep, "future-trailers")) return -1;
    return ready_pollable(ctx, cx, &res[0]);
}

/* some(ok(ok(trailers))) the first time, some(err) after. The trailers are the request's
 * trailer fields (immutable) when its streamed body was read to its end and had some, else
 * none (a body not read to its end, or one that came whole before the call). Those of an
 * outbound response's body are the upstream's once it was read to its end (a copy), or
 * some(ok(err(error-code))) when the body broke off. */
static int trailers_get(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_wasihttp *h = ctx;
    wh_inbody *t = get(cx, &h->trailers, args[0].res.rep, "future-trailers");
    if (!t) return -1;
    kiln_cval *outer = cval(cx), *inner = cval(cx), *opt = cval(cx);
    if (!outer || !inner || !opt) return p2_fail(cx, "wasi:http: out of memory");
    var(&res[0], 1, outer);
    if (t->on) {
        var(outer, 1, NULL);
        return 0;
    }
    t->on = 1;
    var(opt, 0, NULL);
    uint32_t ecode = t->x ? wh_xfer_failed(t->x) : 0;
    if (ecode) { /* err(error-code) */
        kiln_cval *e = cval(cx);
        if (!e || wh_error_code(cx, e, ecode) < 0) return p2_fail(cx, "wasi:http: out of memory");
        var(inner, 1, e);
        var(outer, 0, inner);
        return 0;
    }
    const wh_fields *xt = t->x ? wh_xfer_trailers(t->x) : NULL;
    wh_fields *tf = t->x                                ? (xt ? wh_fields_clone(xt) : NULL)
                    : h->body_ended && h->sink.trailers ? h->sink.trailers(h->sink.arg)
                                                        : NULL;
    if (xt && !tf) return p2_fail(cx, "wasi:http: out of memory");
    if (tf && tf->n) {
        kiln_cval *own = cval(cx);
        tf->immutable = 1;
        if (!own) wh_fields_free(tf);
        uint32_t rep = own ? put_fields(h, tf) : 0; /* (put_fields frees tf on failure) */
        if (!rep) return p2_fail(cx, "wasi:http: out of memory");
        own->res.rep = rep;
        var(opt, 1, own);
    } else {
        wh_fields_free(tf);
    }
    var(inner, 0, opt);
    var(outer, 0, inner);
    return 0;
}

/* ---- outgoing-response / outgoing-body / response-outparam ---- */

static int outresp_new(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_wasihttp *h = ctx;
    wh_fields *f = take_fields(h, cx, args[0].res.rep);
    if (!f) return -1;
    wh_outresp *r = kiln_calloc(1, sizeof *r);
    if (!r) {
        wh_fields_free(f);
        return p2_fail(cx, "wasi:http: out of memory");
    }
    f->immutable = 1;
    r->headers = f;
    r->status = 200;
    res[0].res.rep = p2_table_put(&h->outresps, r);
    if (!res[0].res.rep) {
        outresp_free(r);
        return p2_fail(cx, "wasi:http: out of memory");
    }
    return 0;
}

static int outresp_status(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_outresp *r = get(cx, &H(ctx)->outresps, args[0].res.rep, "outgoing-response");
    if (!r) return -1;
    res[0].u = r->status;
    return 0;
}

static int outresp_set_status(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_outresp *r = get(cx, &H(ctx)->outresps, args[0].res.rep, "outgoing-response");
    if (!r) return -1;
    if (args[1].u < 100 || args[1].u > 999) {
        var(&res[0], 1, NULL);
        return 0;
    }
    r->status = (uint16_t)args[1].u;
    p2_ok(&res[0]);
    return 0;
}

static int outresp_headers(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_outresp *r = get(cx, &H(ctx)->outresps, args[0].res.rep, "outgoing-response");
    if (!r) return -1;
    return new_fields_copy(ctx, cx, &res[0], r->headers, 1);
}

/* A new body state (owned by h->bodies) and an outgoing-body handle for it. */
static int new_body(kiln_wasihttp *h, kiln_cabi_cx *cx, kiln_cval *r, wh_outbody **out, int request)
{
    wh_outbody *b = kiln_calloc(1, sizeof *b);
    if (!b || !p2_table_put(&h->bodies, b)) {
        kiln_free(b);
        return p2_fail(cx, "wasi:http: out of memory");
    }
    b->h = h;
    b->request = request;
    b->pending = (kiln_buf)KILN_BUF_INIT;
    *out = b;
    return var_res(cx, r, 0, p2_table_put(&h->outbodies, b));
}

static int outresp_body(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_outresp *r = get(cx, &H(ctx)->outresps, args[0].res.rep, "outgoing-response");
    if (!r) return -1;
    if (r->body) {
        var(&res[0], 1, NULL);
        return 0;
    }
    return new_body(ctx, cx, &res[0], &r->body, 0);
}

/* The output stream of a body: to the sink once the response is sent, kept until then. */
static int body_write(void *arg, const void *data, size_t n)
{
    wh_outbody *b = arg;
    kiln_wasihttp *h = b->h;
    if (b->finished) return EPIPE;
    if (b->request && b->pending.len + n > WH_REQUEST_BODY_MAX) return EFBIG;
    if (!b->sent) return kiln_buf_append(&b->pending, data, n) < 0 ? ENOMEM : 0;
    if (h->finished) return EPIPE;
    return h->sink.write(h->sink.arg, data, n) < 0 ? EPIPE : 0;
}
static long no_read(void *arg, void *buf, size_t cap, int *eof, int *err)
{
    (void)arg, (void)buf, (void)cap, (void)eof;
    *err = EBADF;
    return -1;
}
static const p2_stream_ops body_out_ops = {no_read, body_write, NULL};

static int outbody_write(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_wasihttp *h = ctx;
    wh_outbody *b = get(cx, &h->outbodies, args[0].res.rep, "outgoing-body");
    if (!b) return -1;
    if (!h->p2) return p2_fail(cx, "wasi:http: no wasi:io context");
    return var_res(cx, &res[0], 0, p2_stream_new_ops(h->p2, P2_STREAM_OUT, &body_out_ops, b));
}

/* Ends the sink's response (once). */
static void sink_finish(kiln_wasihttp *h, const wh_fields *trailers)
{
    if (h->finished) return;
    h->finished = 1;
    h->sink.finish(h->sink.arg, trailers);
}

static int outbody_finish(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_wasihttp *h = ctx;
    wh_outbody *b = p2_table_take(&h->outbodies, args[0].res.rep);
    if (!b) return p2_fail(cx, "wasi:http: unknown outgoing-body");
    wh_fields *t = NULL;
    if (args[1].var.disc == 1 && !(t = take_fields(h, cx, args[1].var.payload->res.rep))) return -1;
    b->finished = 1;
    if (b->request) { /* a request's trailers go after its body (kept until it goes) */
        b->trailers = t;
        t = NULL;
    }
    request_body_end(b, 1);
    if (b->sent) sink_finish(h, t);
    wh_fields_free(t);
    p2_ok(&res[0]);
    return 0;
}

static int outparam_send_informational(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args,
                                       kiln_cval *res)
{
    kiln_wasihttp *h = ctx;
    if (!get(cx, &h->outparams, args[0].res.rep, "response-outparam")) return -1;
    wh_fields_free(take_fields(h, cx, args[2].res.rep));
    kiln_cval *e = cval(cx), *msg = cval(cx);
    if (!e || !msg) return p2_fail(cx, "wasi:http: out of memory");
    static const char m[] = "informational responses are not supported";
    var(e, ERR_INTERNAL, msg);
    var(&res[0], 1, e);
    kiln_cval *s = cval(cx);
    if (!s) return p2_fail(cx, "wasi:http: out of memory");
    var(msg, 1, s);
    return set_string(cx, s, m, sizeof m - 1);
}

static int outparam_set(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_wasihttp *h = ctx;
    (void)res;
    wh_flag *p = p2_table_take(&h->outparams, args[0].res.rep);
    if (!p) return p2_fail(cx, "wasi:http: unknown response-outparam");
    kiln_free(p);
    if (h->outcome != KILN_WASIHTTP_NOT_SET)
        return p2_fail(cx, "response-outparam.set: the response was already set");
    const kiln_cval *r = &args[1];
    if (r->var.disc == 1) {
        h->outcome = KILN_WASIHTTP_ERROR;
        h->error_case = r->var.payload ? r->var.payload->var.disc : ERR_INTERNAL;
        return 0;
    }
    wh_outresp *o = p2_table_take(&h->outresps, r->var.payload->res.rep);
    if (!o) return p2_fail(cx, "wasi:http: unknown outgoing-response");
    h->outcome = KILN_WASIHTTP_STARTED;
    int gone = h->sink.start(h->sink.arg, o->status, o->headers) < 0;
    wh_outbody *b = o->body;
    outresp_free(o);
    if (!b) { /* body() never called: an empty body, and nothing can add to it */
        sink_finish(h, NULL);
        return 0;
    }
    b->sent = 1;
    if (!gone && b->pending.len) h->sink.write(h->sink.arg, b->pending.data, b->pending.len);
    kiln_buf_free(&b->pending);
    if (b->finished) sink_finish(h, NULL);
    return 0;
}

static int http_error_code(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    (void)ctx, (void)cx, (void)args;
    var(&res[0], 0, NULL);
    return 0;
}

/* ---- the interfaces ---- */

#define F "(borrow<fields>"
#define IR "(borrow<incoming-request>"
#define OR "(borrow<outgoing-request>"
#define RO "(borrow<request-options>"
static const kiln_chost_resource types_res[] = {
    {"fields", fields_dtor},
    {"incoming-request", free_dtor_inreq},
    {"outgoing-request", wh_outreq_dtor},
    {"request-options", wh_options_dtor},
    {"response-outparam", free_dtor_outparam},
    {"incoming-response", wh_inresp_dtor},
    {"incoming-body", free_dtor_inbody},
    {"future-trailers", free_dtor_trailers},
    {"outgoing-response", outresp_dtor},
    {"outgoing-body", outbody_dtor},
    {"future-incoming-response", wh_future_dtor},
};
static const kiln_chost_func types_funcs[] = {
    {"http-error-code", "(borrow<*>) -> option<*>", http_error_code},
    {"[constructor]fields", "() -> own<fields>", fields_new},
    {"[static]fields.from-list", "(list<tuple<string, list<u8>>>) -> result<own<fields>, *>",
     fields_from_list},
    {"[method]fields.get", F ", string) -> list<list<u8>>", fields_get},
    {"[method]fields.has", F ", string) -> bool", fields_has},
    {"[method]fields.set", F ", string, list<list<u8>>) -> result<_, *>", fields_set},
    {"[method]fields.delete", F ", string) -> result<_, *>", fields_delete},
    {"[method]fields.append", F ", string, list<u8>) -> result<_, *>", fields_append},
    {"[method]fields.entries", F ") -> list<tuple<string, list<u8>>>", fields_entries},
    {"[method]fields.clone", F ") -> own<fields>", fields_clone},
    {"[method]incoming-request.method", IR ") -> *", inreq_method},
    {"[method]incoming-request.path-with-query", IR ") -> option<string>", inreq_path},
    {"[method]incoming-request.scheme", IR ") -> option<*>", inreq_scheme},
    {"[method]incoming-request.authority", IR ") -> option<string>", inreq_authority},
    {"[method]incoming-request.headers", IR ") -> own<fields>", inreq_headers},
    {"[method]incoming-request.consume", IR ") -> result<own<incoming-body>>", inreq_consume},
    {"[constructor]outgoing-request", "(own<fields>) -> own<outgoing-request>", wh_outreq_new},
    {"[method]outgoing-request.body", OR ") -> result<own<outgoing-body>>", wh_outreq_body},
    {"[method]outgoing-request.method", OR ") -> *", wh_outreq_method},
    {"[method]outgoing-request.set-method", OR ", *) -> result", wh_outreq_set_method},
    {"[method]outgoing-request.path-with-query", OR ") -> option<string>", wh_outreq_path},
    {"[method]outgoing-request.set-path-with-query", OR ", option<string>) -> result",
     wh_outreq_set_path},
    {"[method]outgoing-request.scheme", OR ") -> option<*>", wh_outreq_scheme},
    {"[method]outgoing-request.set-scheme", OR ", option<*>) -> result", wh_outreq_set_scheme},
    {"[method]outgoing-request.authority", OR ") -> option<string>", wh_outreq_authority},
    {"[method]outgoing-request.set-authority", OR ", option<string>) -> result",
     wh_outreq_set_authority},
    {"[method]outgoing-request.headers", OR ") -> own<fields>", wh_outreq_headers},
    {"[constructor]request-options", "() -> own<request-options>", wh_options_new},
    {"[method]request-options.connect-timeout", RO ") -> option<u64>", wh_options_connect},
    {"[method]request-options.set-connect-timeout", RO ", option<u64>) -> result",
     wh_options_set_connect},
    {"[method]request-options.first-byte-timeout", RO ") -> option<u64>", wh_options_first_byte},
    {"[method]request-options.set-first-byte-timeout", RO ", option<u64>) -> result",
     wh_options_set_first_byte},
    {"[method]request-options.between-bytes-timeout", RO ") -> option<u64>", wh_options_between},
    {"[method]request-options.set-between-bytes-timeout", RO ", option<u64>) -> result",
     wh_options_set_between},
    {"[method]response-outparam.send-informational",
     "(borrow<response-outparam>, u16, own<fields>) -> result<_, *>", outparam_send_informational},
    {"[static]response-outparam.set", "(own<response-outparam>, result<own<outgoing-response>, *>)",
     outparam_set},
    {"[method]incoming-response.status", "(borrow<incoming-response>) -> u16", wh_inresp_status},
    {"[method]incoming-response.headers", "(borrow<incoming-response>) -> own<fields>",
     wh_inresp_headers},
    {"[method]incoming-response.consume",
     "(borrow<incoming-response>) -> result<own<incoming-body>>", wh_inresp_consume},
    {"[method]incoming-body.stream", "(borrow<incoming-body>) -> result<own<input-stream>>",
     inbody_stream},
    {"[static]incoming-body.finish", "(own<incoming-body>) -> own<future-trailers>", inbody_finish},
    {"[method]future-trailers.subscribe", "(borrow<future-trailers>) -> own<pollable>",
     trailers_subscribe},
    {"[method]future-trailers.get",
     "(borrow<future-trailers>) -> option<result<result<option<own<fields>>, *>>>", trailers_get},
    {"[constructor]outgoing-response", "(own<fields>) -> own<outgoing-response>", outresp_new},
    {"[method]outgoing-response.status-code", "(borrow<outgoing-response>) -> u16", outresp_status},
    {"[method]outgoing-response.set-status-code", "(borrow<outgoing-response>, u16) -> result",
     outresp_set_status},
    {"[method]outgoing-response.headers", "(borrow<outgoing-response>) -> own<fields>",
     outresp_headers},
    {"[method]outgoing-response.body", "(borrow<outgoing-response>) -> result<own<outgoing-body>>",
     outresp_body},
    {"[method]outgoing-body.write", "(borrow<outgoing-body>) -> result<own<output-stream>>",
     outbody_write},
    {"[static]outgoing-body.finish", "(own<outgoing-body>, option<own<fields>>) -> result<_, *>",
     outbody_finish},
    {"[method]future-incoming-response.subscribe",
     "(borrow<future-incoming-response>) -> own<pollable>", wh_future_subscribe},
    {"[method]future-incoming-response.get",
     "(borrow<future-incoming-response>) -> option<result<result<own<incoming-response>, *>>>",
     wh_future_get},
};
const kiln_chost_iface kiln_wasihttp_types = {
    "wasi:http/types", KILN_WASIHTTP_VERSION,
    types_res,         sizeof types_res / sizeof types_res[0],
    types_funcs,       sizeof types_funcs / sizeof types_funcs[0]};

static const kiln_chost_func outgoing_funcs[] = {
    {"handle",
     "(own<outgoing-request>, option<own<request-options>>) -> "
     "result<own<future-incoming-response>, "
     "*>",
     wh_handle}};
const kiln_chost_iface kiln_wasihttp_outgoing_handler = {
    "wasi:http/outgoing-handler", KILN_WASIHTTP_VERSION, NULL, 0, outgoing_funcs, 1};

/* ---- the context ---- */

static void table_free_with(p2_table *t, void (*fn)(void *))
{
    for (uint32_t i = 0; i < t->n; i++)
        if (t->items[i]) fn(t->items[i]);
    kiln_free(t->items);
}
static void free_fields_v(void *p)
{
    wh_fields_free(p);
}
static void free_outresp_v(void *p)
{
    outresp_free(p);
}
static void free_body_v(void *p)
{
    wh_outbody *b = p;
    if (b->xfer) wh_xfer_release(b->xfer);
    kiln_buf_free(&b->pending);
    wh_fields_free(b->trailers);
    kiln_free(b);
}
static void free_inbody_v(void *p)
{
    inbody_free(p);
}
static void nothing(void *p)
{
    (void)p;
}

static void ctx_free(void *p)
{
    kiln_wasihttp *h = p;
    if (!h) return;
    table_free_with(&h->fields, free_fields_v);
    table_free_with(&h->inreqs, kiln_free);
    table_free_with(&h->inbodies, free_inbody_v);
    table_free_with(&h->outresps, free_outresp_v);
    table_free_with(&h->outbodies, nothing);
    table_free_with(&h->bodies, free_body_v);
    table_free_with(&h->outparams, kiln_free);
    table_free_with(&h->trailers, free_inbody_v);
    wh_out_free(h->out);
    kiln_free(h);
}

static void *ctx_new(const kiln_grants *g, char **err)
{
    kiln_wasihttp *h = kiln_calloc(1, sizeof *h);
    if (!h) {
        *err = kiln_strdup("wasi:http: out of memory");
        return NULL;
    }
    h->grants = kiln_grants_outbound(g, &h->ngrants);
    h->component = g->component;
    h->limit = wh_limit_find(g->component);
    return h;
}

static const kiln_chost_iface *const ifaces[] = {&kiln_wasihttp_types,
                                                 &kiln_wasihttp_outgoing_handler};
const kiln_chost_provider kiln_wasihttp_provider = {"wasi:http", ifaces,   2,
                                                    ctx_new,     ctx_free, NULL};

int kiln_wasihttp_bind(kiln_wasihttp *h, void *wasip2_ctx, const kiln_wasihttp_request *req,
                       const kiln_wasihttp_sink *sink)
{
    h->p2 = wasip2_ctx;
    h->req = req;
    h->sink = *sink;
    h->req_rep = put(&h->inreqs, kiln_calloc(1, sizeof(wh_flag)));
    h->outparam_rep = put(&h->outparams, kiln_calloc(1, sizeof(wh_flag)));
    return h->req_rep && h->outparam_rep ? 0 : -1;
}

uint32_t kiln_wasihttp_request_rep(const kiln_wasihttp *h)
{
    return h->req_rep;
}

uint32_t kiln_wasihttp_outparam_rep(const kiln_wasihttp *h)
{
    return h->outparam_rep;
}

kiln_wasihttp_outcome kiln_wasihttp_outcome_of(const kiln_wasihttp *h, int *finished,
                                               uint32_t *error_case)
{
    *finished = h->finished;
    *error_case = h->error_case;
    return h->outcome;
}

/* ---- for outgoing.c (internal.h) ---- */

kiln_cval *wh_cval(kiln_cabi_cx *cx)
{
    return cval(cx);
}
void wh_var(kiln_cval *r, uint32_t disc, kiln_cval *p)
{
    var(r, disc, p);
}
int wh_var_res(kiln_cabi_cx *cx, kiln_cval *r, uint32_t disc, uint32_t rep)
{
    return var_res(cx, r, disc, rep);
}
int wh_set_string(kiln_cabi_cx *cx, kiln_cval *v, const char *s, size_t n)
{
    return set_string(cx, v, s, n);
}
int wh_opt_string(kiln_cabi_cx *cx, kiln_cval *r, const char *s, size_t n)
{
    return opt_string(cx, r, s, n);
}
uint32_t wh_put_fields(kiln_wasihttp *h, wh_fields *f)
{
    return put_fields(h, f);
}
wh_fields *wh_take_fields(kiln_wasihttp *h, kiln_cabi_cx *cx, uint32_t rep)
{
    return take_fields(h, cx, rep);
}

kiln_wasip2 *wh_p2(kiln_wasihttp *h)
{
    return h->p2;
}

wh_out **wh_out_slot(kiln_wasihttp *h)
{
    return &h->out;
}

const char *const *wh_grants(const kiln_wasihttp *h, size_t *n)
{
    *n = h->ngrants;
    return h->grants;
}

const char *wh_component(const kiln_wasihttp *h)
{
    return h->component;
}

wh_limit *wh_limit_of(const kiln_wasihttp *h)
{
    return h->limit;
}

const kiln_wasihttp_request *wh_request(const kiln_wasihttp *h)
{
    return h->req;
}

int wh_request_body(kiln_wasihttp *h, kiln_cabi_cx *cx, kiln_cval *r, wh_outbody **out)
{
    return new_body(h, cx, r, out, 1);
}

void wh_request_body_bind(wh_outbody *b, wh_xfer *x)
{
    if (b->finished) {
        wh_xfer_body_trailers(x, b->pending.data ? b->pending.data : "", b->pending.len,
                              b->trailers);
        kiln_buf_free(&b->pending);
        return;
    }
    wh_xfer_retain(x);
    b->xfer = x;
}

uint32_t wh_put_response_body(kiln_wasihttp *h, wh_xfer *x)
{
    wh_inbody *b = kiln_calloc(1, sizeof *b);
    uint32_t rep = put(&h->inbodies, b);
    if (rep) {
        b->x = x;
        wh_xfer_retain(x);
    }
    return rep;
}
