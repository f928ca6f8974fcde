/* client.c — wasi:http 0.3 outbound requests (client.h): request.new and its setters,
 * request-options, wasi:http/client.send over 0.2's outgoing.c and client.c, and the
 * body of the responses send returns. */
#include "host/wasip3/client.h"
#include "engine/fiber.h"
#include "host/wasihttp/internal.h"
#include "host/wasip3/http.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

#define RC "0.3.0-rc-2026-03-15"
#define REL "0.3.0"
/* How long one fire of a pending send waits on its connection before giving the driver
 * back (ns). */
#define P3C_SLICE_NS (20u * 1000000u)
/* How often a pending send whose guest is busy elsewhere (reading the body it forwards)
 * looks at its transfer (ns): it must not keep the driver from the host's own waits. */
#define P3C_POLL_NS (1u * 1000000u)
/* Caps of one instance's tables (past them the guest traps). */
#define MAX_REQS 4096
#define MAX_RESPS 64

typedef struct p3c_options {
    uint64_t t[3]; /* connect, first byte, between bytes (0: the default) */
    int immutable; /* attached to a request (a get-options view) */
} p3c_options;

/* A request made by request.new; kept (in `all`) until the context goes, since its body
 * stream and its pending send refer to it. */
typedef struct p3c_req {
    kiln_p3http *h;
    wh_outreq r;                 /* method, scheme, authority, path, headers */
    p3c_options *opts;           /* attached options (owned; NULL: none) */
    kiln_chost_stream *contents; /* the guest's body stream while it writes */
    kiln_chost_future *sent;     /* request.new's future (NULL once resolved) */
    kiln_buf body;               /* what the guest wrote before send (WH_XFER_BUFFER at most) */
    int body_done;               /* the guest dropped its writable end (or gave none) */
    int body_fed;                /* its end went to the transfer */
    uint32_t body_err;           /* an error-code the body failed with (0: none) */
    int blocked;                 /* a write of the guest waits for room ("not now") */
    int tr_state;                /* the guest's trailers future: 0 unwritten, 1 ok, 2 err */
    uint32_t tr_err;             /* its error-code (tr_state 2) */
    wh_fields *trailers;         /* its trailers, until they go with the body's end */
    wh_xfer *bx;                 /* the transfer the body streams to (a reference) */
    wh_xfer *x;                  /* the transfer once sent (NULL: not, or handed on) */
    kiln_chost_pending *p;       /* send's pending call */
    wh_span span;
    uint64_t t0;
    char *host; /* for the outbound sink */
    /* request.consume-body: the body goes to the consumer instead of a transfer */
    int consumed;
    kiln_chost_stream *pipe;    /* consume-body's stream, fed from body (NULL: none/gone) */
    kiln_chost_future *pipe_tr; /* consume-body's trailers future, until resolved */
    int piping, feeding;        /* in the pipe's read / in the guest's write (no re-entry) */
    uint64_t given;             /* body bytes the guest wrote (HTTP-request-body-size's) */
    int short_body;             /* the body ended short of its content-length */
} p3c_req;

/* The body of a response send returned. */
typedef struct p3c_resp {
    struct p3c_req *q; /* the request it answers (its body may still stream) */
    uint32_t rep;      /* http.c's response rep */
    wh_xfer *x;        /* NULL once the body ended */
    int consumed;
    int failed; /* the body failed before its end */
    kiln_chost_future *trailers;
    wh_fields *tr; /* the upstream's trailers, once the body ended (NULL: none) */
} p3c_resp;

struct kiln_p3client {
    const char *component;
    const char *const *grants;
    size_t ngrants;
    wh_limit *limit;
    p2_table reqs;    /* handles: p3c_req (owned by all) */
    p2_table options; /* handles: p3c_options (owned) */
    p3c_req **all;
    size_t nall;
    p3c_resp resps[MAX_RESPS];
    size_t nresps;
};

static int fail(kiln_cabi_cx *cx, const char *msg)
{
    snprintf(cx->err, sizeof cx->err, "%s", msg);
    return -1;
}

kiln_p3client *kiln_p3c_new(const kiln_grants *g)
{
    kiln_p3client *c = kiln_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->component = g ? g->component : NULL;
    if (g) c->grants = kiln_grants_outbound(g, &c->ngrants);
    c->limit = wh_limit_find(c->component);
    return c;
}

static void req_free(p3c_req *q)
{
    wh_fields_free(q->r.headers);
    kiln_free(q->r.method_other);
    kiln_free(q->r.scheme_other);
    kiln_free(q->r.authority);
    kiln_free(q->r.path);
    kiln_free(q->opts);
    kiln_buf_free(&q->body);
    wh_fields_free(q->trailers);
    wh_xfer_release(q->bx);
    wh_xfer_release(q->x);
    wh_span_free(&q->span);
    kiln_free(q->host);
    kiln_free(q);
}

void kiln_p3c_free(kiln_p3client *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->nall; i++)
        req_free(c->all[i]);
    kiln_free(c->all);
    kiln_free(c->reqs.items);
    for (uint32_t i = 0; i < c->options.n; i++)
        kiln_free(c->options.items[i]);
    kiln_free(c->options.items);
    for (size_t i = 0; i < c->nresps; i++) {
        wh_xfer_release(c->resps[i].x);
        wh_fields_free(c->resps[i].tr);
    }
    kiln_free(c);
}

int kiln_p3c_owns(uint32_t rep)
{
    return rep >= KILN_P3C_BASE;
}

static kiln_p3client *client(void *ctx)
{
    return kiln_p3http_client(ctx);
}

/* ---- error-code values without the call's memory (futures resolved later) ---- */

/* Fills v[0] with err(error-code c), using v[1..4] for the payloads. */
static void err_value(kiln_cval v[5], uint32_t c)
{
    memset(v, 0, 5 * sizeof *v);
    v[0].var.disc = 1;
    v[0].var.payload = &v[1];
    v[1].var.disc = c;
    switch (c) {
    case WH_E_DNS_ERROR: /* DNS-error-payload: two nones */
        v[2].agg.items = &v[3];
        v[2].agg.n = 2;
        v[1].var.payload = &v[2];
        break;
    case WH_E_HTTP_REQUEST_BODY_SIZE:
    case WH_E_HTTP_RESPONSE_HEADER_SECTION_SIZE:
    case WH_E_HTTP_RESPONSE_TRAILER_SECTION_SIZE:
    case WH_E_HTTP_RESPONSE_TRANSFER_CODING:
    case WH_E_INTERNAL: /* option<...>: none */
        v[1].var.payload = &v[2];
        break;
    default:
        break;
    }
}

/* Resolves request.new's future (if still there) with ok (c 0) or err(error-code c);
 * HTTP-request-body-size carries the body bytes the guest wrote, as wasmtime's does. */
static void resolve_sent(p3c_req *q, uint32_t c)
{
    if (!q->sent) return;
    kiln_cval ok;
    kiln_cval *v = kiln_chost_future_values(q->sent, 5); /* the parts outlive this call */
    if (!v) {                                            /* out of memory: ok (no parts) */
        v = &ok;
        c = 0;
    } else
        err_value(v, c);
    if (!c) memset(&v[0], 0, sizeof v[0]);
    if (c == WH_E_HTTP_REQUEST_BODY_SIZE) { /* some(u64) */
        v[2].var.disc = 1;
        v[2].var.payload = &v[3];
        v[3].u = q->given;
    }
    kiln_chost_future_resolve(q->sent, &v[0]);
    q->sent = NULL;
}

/* Waits inside the guest's copy (the driver's thread) for what check (wh_xfer_check_body
 * or wh_xfer_check_send) of x says: 0 ready or waited (look again),
 * KILN_WAIT_INTERRUPTED at the guest's time limit, less when the wait failed. */
static int xfer_wait(int (*check)(void *, int *, short *, uint64_t *), wh_xfer *x)
{
    int fd;
    short ev;
    uint64_t dl;
    if (check(x, &fd, &ev, &dl)) return 0;
    uint64_t now = wh_mono_ns();
    uint64_t left = dl == UINT64_MAX ? UINT64_MAX : dl > now ? dl - now : 0;
    int w = fd >= 0 ? kiln_wait_fd(fd, ev, left) : kiln_wait_sleep(left);
    return w < 0 ? w : 0;
}

/* ---- requests ---- */

static p3c_req *req_arg(void *ctx, kiln_cabi_cx *cx, const kiln_cval *v)
{
    uint32_t rep = v->res.rep;
    p3c_req *q =
        rep >= KILN_P3C_BASE ? p2_table_get(&client(ctx)->reqs, rep - KILN_P3C_BASE + 1) : NULL;
    if (!q) fail(cx, "wasi:http: unknown request handle");
    return q;
}

/* The body failed (error-code ec): the transfer is aborted, request.new's future says
 * so, and what the guest writes from now on is dropped. */
static void body_fail(p3c_req *q, uint32_t ec)
{
    if (!q->body_err) q->body_err = ec;
    kiln_buf_free(&q->body);
    if (q->bx) {
        wh_xfer_end(q->bx, NULL, q->body_err);
        wh_xfer_release(q->bx);
        q->bx = NULL;
    }
    resolve_sent(q, q->body_err);
}

/* A consumed request's reader can go on (not from inside its own read). */
static void pipe_wake(p3c_req *q)
{
    if (!q->pipe || q->piping) return;
    q->feeding = 1;
    kiln_chost_stream_wake(q->pipe);
    q->feeding = 0;
}

/* Streams data[0..n) to the transfer: the count taken. A full buffer leaves the guest's
 * write pending while send is (its fire wakes it), and afterwards waits here for room
 * (the guest's time limit ends the wait). */
static size_t body_write(p3c_req *q, const uint8_t *data, size_t n)
{
    for (;;) {
        uint32_t ec = 0;
        long k = wh_xfer_write(q->bx, data, n, &ec);
        if (k > 0) return (size_t)k;
        if (k < 0) {
            body_fail(q, ec ? ec : WH_E_INTERNAL);
            return n;
        }
        if (q->p) { /* send's fire makes room and wakes the write */
            q->blocked = 1;
            kiln_chost_pending_again(q->p, wh_mono_ns());
            return 0;
        }
        int w = xfer_wait(wh_xfer_check_send, q->bx);
        if (w == KILN_WAIT_INTERRUPTED) return 0; /* the guest unwinds at its time limit */
        if (w < KILN_WAIT_INTERRUPTED) {
            body_fail(q, WH_E_INTERNAL);
            return n;
        }
    }
}

/* Gives what the guest wrote before send to the transfer, as far as it takes it. */
static void body_flush_early(p3c_req *q)
{
    while (q->bx && q->body.len && !q->body_err) {
        uint32_t ec = 0;
        long k = wh_xfer_write(q->bx, q->body.data, q->body.len, &ec);
        if (k < 0) body_fail(q, ec ? ec : WH_E_INTERNAL);
        if (k <= 0) return;
        memmove(q->body.data, q->body.data + k, q->body.len - (size_t)k);
        q->body.len -= (size_t)k;
    }
}

/* The guest wrote body bytes. Before send they are kept (WH_XFER_BUFFER at most: then
 * the write waits for send); afterwards they stream to the transfer. */
static size_t body_take(p3c_req *q, const uint8_t *data, size_t n)
{
    if (q->body_err || q->body_fed) return n; /* failed (or over): dropped */
    if (!q->bx) {
        size_t room = q->body.len < WH_XFER_BUFFER ? WH_XFER_BUFFER - q->body.len : 0;
        size_t k = n < room ? n : room;
        if (!k) {
            q->blocked = 1;
            return 0;
        }
        if (kiln_buf_append(&q->body, data, k) < 0) {
            body_fail(q, WH_E_INTERNAL);
            return n;
        }
        if (q->consumed) pipe_wake(q);
        return k;
    }
    body_flush_early(q);
    if (q->body.len) { /* (a fresh transfer takes them all: not reached) */
        q->blocked = 1;
        return 0;
    }
    return q->bx ? body_write(q, data, n) : n;
}

/* The guest wrote body bytes (body_take), counted. */
static size_t body_consume(void *arg, const uint8_t *data, size_t n)
{
    p3c_req *q = arg;
    q->given += n; /* (as a failure this write causes reports it) */
    size_t k = body_take(q, data, n);
    q->given -= n - k;
    return k;
}

/* Ends the body on the transfer once the guest dropped its writable end and wrote its
 * trailers future, or (force) yielded to the host without writing it: the trailers are
 * then none. request.new's future resolves with the outcome so far. */
static void body_finish(p3c_req *q, int force)
{
    if (!q->body_done || q->body_fed || !q->bx || q->body_err) return;
    if (!q->tr_state && !force) return;
    body_flush_early(q);
    if (q->body.len || !q->bx) return; /* (not taken yet: the next fire) */
    q->body_fed = 1;
    wh_xfer_end(q->bx, q->trailers, q->tr_state == 2 ? q->tr_err : 0);
    q->trailers = NULL;
    uint32_t ec = wh_xfer_failed(q->bx);
    wh_xfer_release(q->bx);
    q->bx = NULL;
    if (ec && !q->body_err) q->body_err = ec;
    if (ec == WH_E_HTTP_REQUEST_BODY_SIZE) q->short_body = 1;
    resolve_sent(q, ec);
}

/* A guest write that waited for room is retried once there is some. 1 if it was woken. */
static int body_wake(p3c_req *q)
{
    if (!q->blocked || !q->contents) return 0;
    int fd;
    short ev;
    uint64_t dl;
    body_flush_early(q);
    if (q->bx && (q->body.len || !wh_xfer_check_send(q->bx, &fd, &ev, &dl))) return 0;
    q->blocked = 0;
    kiln_chost_stream_wake(q->contents);
    return 1;
}

static void body_dropped(void *arg)
{
    p3c_req *q = arg;
    q->contents = NULL;
    q->body_done = 1;
    if (q->consumed) pipe_wake(q);
    body_finish(q, 0);
    if (q->p) kiln_chost_pending_again(q->p, wh_mono_ns()); /* send need not wait longer */
}

/* An error-code the guest gave that err_value can build again (cases whose payloads it
 * knows), else internal-error. */
static uint32_t guest_ecode(const kiln_cval *ec)
{
    uint32_t c = ec ? ec->var.disc : WH_E_INTERNAL;
    static const uint8_t payload[] = {14, 21, 22, 23, 24, 27, 28, 29, 30, 32};
    for (size_t i = 0; i < sizeof payload; i++)
        if (c == payload[i]) return WH_E_INTERNAL;
    return c > WH_E_INTERNAL ? WH_E_INTERNAL : c;
}

/* Resolves consume-body's trailers future of a consumed request once the guest wrote
 * request.new's: ok(some(fields)) (the fields handed to the consumer), ok(none), or
 * err(error-code). */
static void pipe_trailers(p3c_req *q)
{
    if (!q->pipe_tr || !q->tr_state) return;
    kiln_cval *v = kiln_chost_future_values(q->pipe_tr, 5); /* outlive this call */
    if (!v) {
        kiln_chost_future_resolve(q->pipe_tr, &kiln_chost_ok_none);
        q->pipe_tr = NULL;
        return;
    }
    if (q->tr_state == 2) {
        err_value(v, q->tr_err);
    } else {
        v[0].var.payload = &v[1]; /* ok(option) */
        uint32_t rep = q->trailers ? kiln_p3http_fields_put(q->h, NULL, q->trailers) : 0;
        q->trailers = NULL; /* the table's now (freed by it when full) */
        if (rep) {
            v[1].var.disc = 1; /* some(own fields) */
            v[1].var.payload = &v[2];
            v[2].res.rep = rep;
        }
    }
    kiln_chost_future_resolve(q->pipe_tr, &v[0]);
    q->pipe_tr = NULL;
}

/* The guest wrote request.new's trailers future: result<option<own<fields>>,
 * error-code>. The fields (the host's with the value) go after the body; an error-code
 * aborts the request. */
static void trailers_got(void *arg, const kiln_cval *v)
{
    p3c_req *q = arg;
    wh_fields *f = NULL;
    if (v->var.disc == 0) {
        const kiln_cval *opt = v->var.payload;
        if (opt && opt->var.disc == 1 && opt->var.payload)
            f = kiln_p3http_fields_take(q->h, NULL, opt->var.payload->res.rep);
    }
    if (q->consumed && !q->tr_state) { /* they go to consume-body's future */
        q->tr_state = v->var.disc == 0 ? 1 : 2;
        q->tr_err = v->var.disc == 0 ? 0 : guest_ecode(v->var.payload);
        q->trailers = f;
        pipe_trailers(q);
        return;
    }
    if (q->tr_state || q->body_fed) { /* the body ended without them */
        wh_fields_free(f);
        return;
    }
    q->tr_state = v->var.disc == 0 ? 1 : 2;
    q->tr_err = v->var.disc == 0 ? 0 : guest_ecode(v->var.payload);
    q->trailers = f;
    if (q->tr_state == 2)
        body_fail(q, q->tr_err);
    else
        body_finish(q, 0);
    if (q->p) kiln_chost_pending_again(q->p, wh_mono_ns());
}

int kiln_p3c_request_new(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_p3client *c = client(ctx);
    if (c->nall >= MAX_REQS) return fail(cx, "wasi:http: too many requests");
    p3c_options *opts = NULL;
    if (args[3].var.disc == 1) {
        opts = p2_table_take(&c->options, args[3].var.payload->res.rep);
        if (!opts) return fail(cx, "wasi:http: unknown request-options handle");
        opts->immutable = 1;
    }
    wh_fields *f = kiln_p3http_fields_take(ctx, cx, args[0].res.rep);
    p3c_req *q = f ? kiln_calloc(1, sizeof *q) : NULL;
    p3c_req **na = q ? kiln_realloc(c->all, (c->nall + 1) * sizeof *na) : NULL;
    if (!na) {
        wh_fields_free(f);
        kiln_free(q);
        kiln_free(opts);
        return f ? fail(cx, "out of memory") : -1;
    }
    c->all = na;
    c->all[c->nall++] = q;
    q->h = ctx;
    q->opts = opts;
    q->r.headers = f;
    f->immutable = 1;
    q->r.method = M_GET;
    kiln_cval *two = kiln_cabi_alloc(cx, 2 * sizeof *two);
    if (!two) return fail(cx, "out of memory");
    memset(two, 0, 2 * sizeof *two);
    if (!(q->sent = kiln_chost_future_writer(cx, &two[1]))) return -1;
    if (args[1].var.disc == 1) {
        q->r.body_taken = 1; /* the body streams from the stream (body_consume) */
        kiln_chost_stream_ops ops = {body_consume, NULL, body_dropped, q};
        if (!(q->contents = kiln_chost_stream_reader(cx, args[1].var.payload, &ops))) return -1;
    } else {
        q->body_done = 1;
    }
    /* args[2], the guest's trailers future: sent after the body (none without one) */
    kiln_chost_future_ops tops = {trailers_got, q};
    if (!kiln_chost_future_reader(cx, &args[2], &tops)) return -1;
    uint32_t rep = p2_table_put(&c->reqs, q);
    if (!rep) return fail(cx, "out of memory");
    two[0].res.rep = rep - 1 + KILN_P3C_BASE;
    res[0].agg.items = two;
    res[0].agg.n = 2;
    return 0;
}

void kiln_p3c_request_dtor(void *ctx, uint32_t rep)
{
    /* the request stays in `all` (its body stream may still refer to it) */
    if (rep >= KILN_P3C_BASE) p2_table_take(&client(ctx)->reqs, rep - KILN_P3C_BASE + 1);
}

int kiln_p3c_get_method(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3c_req *q = req_arg(ctx, cx, &args[0]);
    return q ? wh_req_method(cx, &q->r, &res[0]) : -1;
}

int kiln_p3c_set_method(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3c_req *q = req_arg(ctx, cx, &args[0]);
    return q ? wh_req_set_method(cx, &q->r, &args[1], &res[0]) : -1;
}

int kiln_p3c_get_path(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3c_req *q = req_arg(ctx, cx, &args[0]);
    if (!q) return -1;
    return wh_opt_string(cx, &res[0], q->r.path, q->r.path ? strlen(q->r.path) : 0);
}

int kiln_p3c_set_path(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3c_req *q = req_arg(ctx, cx, &args[0]);
    return q ? wh_req_set_target(cx, &q->r, 1, &args[1], &res[0]) : -1;
}

int kiln_p3c_get_authority(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3c_req *q = req_arg(ctx, cx, &args[0]);
    if (!q) return -1;
    return wh_opt_string(cx, &res[0], q->r.authority, q->r.authority ? strlen(q->r.authority) : 0);
}

int kiln_p3c_set_authority(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3c_req *q = req_arg(ctx, cx, &args[0]);
    return q ? wh_req_set_target(cx, &q->r, 0, &args[1], &res[0]) : -1;
}

int kiln_p3c_get_scheme(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3c_req *q = req_arg(ctx, cx, &args[0]);
    return q ? wh_req_scheme(cx, &q->r, &res[0]) : -1;
}

int kiln_p3c_set_scheme(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3c_req *q = req_arg(ctx, cx, &args[0]);
    return q ? wh_req_set_scheme(cx, &q->r, &args[1], &res[0]) : -1;
}

int kiln_p3c_get_headers(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3c_req *q = req_arg(ctx, cx, &args[0]);
    if (!q) return -1;
    wh_fields *f = wh_fields_clone(q->r.headers);
    if (f) f->immutable = 1;
    uint32_t rep = kiln_p3http_fields_put(ctx, cx, f);
    if (!rep) return -1;
    res[0].res.rep = rep;
    return 0;
}

/* A new options handle for o (taken): its rep, or 0 with cx->err (o freed). */
static uint32_t options_put(kiln_p3client *c, kiln_cabi_cx *cx, p3c_options *o)
{
    uint32_t rep = o && c->options.n < MAX_REQS ? p2_table_put(&c->options, o) : 0;
    if (!rep) {
        kiln_free(o);
        fail(cx, "wasi:http: out of memory or too many request-options");
    }
    return rep;
}

int kiln_p3c_get_options(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3c_req *q = req_arg(ctx, cx, &args[0]);
    if (!q) return -1;
    if (!q->opts) {
        wh_var(&res[0], 0, NULL);
        return 0;
    }
    /* an immutable view: a copy the setters refuse */
    p3c_options *o = kiln_malloc(sizeof *o);
    if (o) *o = *q->opts;
    uint32_t rep = options_put(client(ctx), cx, o);
    return rep ? wh_var_res(cx, &res[0], 1, rep) : -1;
}

/* Gives a consumed request's body bytes (what the guest writes to request.new's stream)
 * to the consumer; the end once the writer dropped its end (or the body failed). */
static size_t pipe_produce(void *arg, uint8_t *buf, size_t n, int *end)
{
    p3c_req *q = arg;
    if (!q->body.len) {
        if (q->body_done || q->body_err) {
            *end = 1;
            q->pipe = NULL; /* closed by the stream layer */
        }
        return 0;
    }
    if (n > q->body.len) n = q->body.len;
    memcpy(buf, q->body.data, n);
    memmove(q->body.data, q->body.data + n, q->body.len - n);
    q->body.len -= n;
    if (q->blocked && q->contents && !q->feeding) { /* the writer's held write goes on */
        q->blocked = 0;
        q->piping = 1;
        kiln_chost_stream_wake(q->contents);
        q->piping = 0;
    }
    return n;
}

/* The consumer dropped the body's stream: what the guest writes from now on is dropped. */
static void pipe_dropped(void *arg)
{
    p3c_req *q = arg;
    q->pipe = NULL;
    q->body_fed = 1; /* (body_consume drops what comes) */
    kiln_buf_free(&q->body);
    if (q->blocked && q->contents && !q->feeding) {
        q->blocked = 0;
        kiln_chost_stream_wake(q->contents);
    }
}

/* The consumer wrote the future it passed to consume-body (result<_, error-code>):
 * request.new's future resolves with it, as wasmtime's host does. */
static void pipe_outcome(void *arg, const kiln_cval *v)
{
    p3c_req *q = arg;
    resolve_sent(q, v->var.disc == 0 ? 0 : guest_ecode(v->var.payload));
}

/* request.consume-body of a request made by request.new (a middleware reading back what
 * it built): the request goes (own), and the body the guest writes to request.new's
 * stream and the trailers it writes to request.new's future come back through a new
 * stream and future (the host in between, the body buffered up to WH_XFER_BUFFER). */
int kiln_p3c_request_consume(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_p3client *c = client(ctx);
    p3c_req *q = req_arg(ctx, cx, &args[0]);
    if (!q) return -1;
    p2_table_take(&c->reqs, args[0].res.rep - KILN_P3C_BASE + 1); /* stays in `all` */
    q->consumed = 1;
    kiln_chost_future_ops fops = {pipe_outcome, q};
    if (!kiln_chost_future_reader(cx, &args[1], &fops)) return -1;
    kiln_cval *two = kiln_cabi_alloc(cx, 2 * sizeof *two);
    if (!two) return fail(cx, "out of memory");
    memset(two, 0, 2 * sizeof *two);
    kiln_chost_stream_ops ops = {NULL, pipe_produce, pipe_dropped, q};
    if (!(q->pipe = kiln_chost_stream_writer(cx, &two[0], &ops))) return -1;
    if (!(q->pipe_tr = kiln_chost_future_writer(cx, &two[1]))) return -1;
    pipe_trailers(q); /* written already (a request without a body) */
    res[0].agg.items = two;
    res[0].agg.n = 2;
    return 0;
}

/* ---- request-options ---- */

int kiln_p3c_options_new(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    (void)args;
    uint32_t rep = options_put(client(ctx), cx, kiln_calloc(1, sizeof(p3c_options)));
    res[0].res.rep = rep;
    return rep ? 0 : -1;
}

static p3c_options *options_arg(void *ctx, kiln_cabi_cx *cx, const kiln_cval *v)
{
    p3c_options *o = p2_table_get(&client(ctx)->options, v->res.rep);
    if (!o) fail(cx, "wasi:http: unknown request-options handle");
    return o;
}

static int opt_get(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res, int k)
{
    p3c_options *o = options_arg(ctx, cx, &args[0]);
    return o ? wh_timeout_get(cx, o->t[k], &res[0]) : -1;
}

/* set-*-timeout: err(request-options-error.immutable) on an attached request's view. */
static int opt_set(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res, int k)
{
    p3c_options *o = options_arg(ctx, cx, &args[0]);
    if (!o) return -1;
    if (o->immutable) {
        kiln_cval *e = wh_cval(cx);
        if (!e) return fail(cx, "out of memory");
        wh_var(e, 1, NULL); /* immutable */
        wh_var(&res[0], 1, e);
        return 0;
    }
    wh_timeout_set(&o->t[k], &args[1]);
    wh_var(&res[0], 0, NULL);
    return 0;
}

int kiln_p3c_get_connect(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return opt_get(ctx, cx, args, res, 0);
}
int kiln_p3c_set_connect(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return opt_set(ctx, cx, args, res, 0);
}
int kiln_p3c_get_first_byte(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return opt_get(ctx, cx, args, res, 1);
}
int kiln_p3c_set_first_byte(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return opt_set(ctx, cx, args, res, 1);
}
int kiln_p3c_get_between(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return opt_get(ctx, cx, args, res, 2);
}
int kiln_p3c_set_between(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    return opt_set(ctx, cx, args, res, 2);
}

int kiln_p3c_options_clone(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3c_options *o = options_arg(ctx, cx, &args[0]);
    if (!o) return -1;
    p3c_options *n = kiln_malloc(sizeof *n);
    if (n) {
        *n = *o;
        n->immutable = 0; /* a clone is the guest's own */
    }
    uint32_t rep = options_put(client(ctx), cx, n);
    res[0].res.rep = rep;
    return rep ? 0 : -1;
}

void kiln_p3c_options_dtor(void *ctx, uint32_t rep)
{
    kiln_free(p2_table_take(&client(ctx)->options, rep));
}

/* ---- client.send ---- */

/* *r = err(error-code c) in cx's memory. 0, or -1 (cx->err). */
static int result_error(kiln_cabi_cx *cx, kiln_cval *r, uint32_t c)
{
    kiln_cval *e = wh_cval(cx);
    if (!e) return fail(cx, "out of memory");
    wh_var(r, 1, e);
    return wh_error_code(cx, e, c);
}

/* send's err(error-code c) for q: a body shorter than its content-length leaves the
 * request unfinished (HTTP-protocol-error, as wasmtime's hyper says; request.new's future
 * says HTTP-request-body-size), a longer one is HTTP-request-body-size with the bytes
 * the guest wrote. */
static int send_error(kiln_cabi_cx *cx, kiln_cval *r, const p3c_req *q, uint32_t c)
{
    if (c == WH_E_HTTP_REQUEST_BODY_SIZE && q->short_body) c = WH_E_HTTP_PROTOCOL_ERROR;
    if (result_error(cx, r, c) < 0) return -1;
    kiln_cval *opt = r->var.payload->var.payload;
    if (c != WH_E_HTTP_REQUEST_BODY_SIZE || !opt) return 0;
    kiln_cval *n = wh_cval(cx);
    if (!n) return fail(cx, "out of memory");
    n->u = q->given;
    opt->var.disc = 1; /* some(u64) */
    opt->var.payload = n;
    return 0;
}

static wh_origin origin_of(kiln_p3http *h)
{
    kiln_p3client *c = client(h);
    wh_origin o = {c->component, c->grants, c->ngrants, kiln_p3http_served(h), c->limit};
    return o;
}

/* Ends q's span and counts it (status 0: failed with ecode). */
static void report(p3c_req *q, int status, uint32_t ecode)
{
    wh_origin o = origin_of(q->h);
    wh_span_end(&q->span, status, ecode);
    wh_send_count(&o, q->host, status, ecode, q->t0);
}

/* The head came (or the transfer failed): *r = ok(own<response>) or err(error-code), in
 * cx's memory. 0, or -1 (cx->err). */
static int answer(p3c_req *q, kiln_cabi_cx *cx, kiln_cval *r)
{
    uint16_t status = 0;
    const wh_fields *hd = NULL;
    uint32_t ecode = 0;
    int got = q->body_err ? -1 : wh_xfer_response(q->x, &status, &hd, &ecode);
    if (q->body_err) ecode = q->body_err;
    report(q, got < 0 ? 0 : status, ecode);
    kiln_p3client *c = client(q->h);
    if (got < 0 || c->nresps >= MAX_RESPS) {
        wh_xfer_release(q->x);
        q->x = NULL;
        return send_error(cx, r, q, got < 0 ? ecode : WH_E_INTERNAL);
    }
    uint32_t rep =
        kiln_p3http_response_add(q->h, cx, status, hd ? wh_fields_clone(hd) : wh_fields_new());
    if (!rep) return -1;
    p3c_resp *rs = &c->resps[c->nresps++];
    memset(rs, 0, sizeof *rs);
    rs->rep = rep;
    rs->q = q;
    rs->x = q->x;
    q->x = NULL;
    return wh_var_res(cx, r, 0, rep);
}

/* Waits on q's transfer until its head can be taken, at most until `until` (monotonic
 * ns; the wait of a fiber parks it). 1 ready, 0 not yet, -1 the guest's time limit ended
 * the wait. */
static int head_wait(p3c_req *q, uint64_t until)
{
    int fd;
    short ev;
    uint64_t dl;
    if (wh_xfer_check_head(q->x, &fd, &ev, &dl)) return 1;
    uint64_t now = wh_mono_ns();
    if (dl < until) until = dl;
    if (until > now) {
        int w = fd >= 0 ? kiln_wait_fd(fd, ev, until - now) : kiln_wait_sleep(until - now);
        if (w == KILN_WAIT_INTERRUPTED) return -1;
    }
    return wh_xfer_check_head(q->x, &fd, &ev, &dl);
}

/* send's pending call, fired when no guest thread can run: ends a body whose end came
 * (the guest yields: trailers it did not write are none), makes progress on the
 * transfer (its body as well), wakes a guest write waiting for room, and answers once
 * the head came; otherwise waits on the connection a slice at a time. */
static void send_fire(kiln_chost_pending *p, void *arg)
{
    p3c_req *q = arg;
    body_finish(q, 1);
    int ready = q->body_err ? 1 : 0;
    uint64_t again = wh_mono_ns();
    if (!ready) {
        int fd;
        short ev;
        uint64_t dl;
        ready = wh_xfer_check_head(q->x, &fd, &ev, &dl);
        if (!ready && !body_wake(q)) {
            if (q->body_done || q->blocked) { /* the guest waits for the transfer: wait */
                ready = head_wait(q, again + P3C_SLICE_NS);
                body_wake(q);
                body_finish(q, 1);
                again = wh_mono_ns();
            } else /* it waits for something else (its input): look again soon */
                again += P3C_POLL_NS;
        }
    }
    if (ready != 1) {
        kiln_chost_pending_again(p, again);
        return;
    }
    q->p = NULL;
    if (answer(q, kiln_chost_pending_cx(p), kiln_chost_pending_results(p)) < 0) {
        kiln_chost_pending_fail(p, kiln_chost_pending_cx(p)->err);
        return;
    }
    kiln_chost_complete(p);
}

static void send_abandon(void *arg)
{
    p3c_req *q = arg;
    q->p = NULL;
    report(q, 0, WH_E_INTERNAL);
    body_fail(q, WH_E_INTERNAL);
    wh_xfer_release(q->x);
    q->x = NULL;
}

static int c_send(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_p3client *c = client(ctx);
    uint32_t rep = args[0].res.rep;
    p3c_req *q = rep >= KILN_P3C_BASE ? p2_table_take(&c->reqs, rep - KILN_P3C_BASE + 1) : NULL;
    if (!q) return fail(cx, "wasi:http: unknown request handle");
    wh_origin o = origin_of(ctx);
    q->t0 = wh_mono_ns();
    q->host = wh_send_host(&q->r);
    int traced = q->host ? wh_send_span(&o, &q->r, &q->span) : -1;
    uint32_t ecode = q->body_err;
    if (traced < 0) ecode = WH_E_INTERNAL;
    if (!ecode && !q->r.path) ecode = WH_E_HTTP_REQUEST_URI_INVALID; /* wasmtime's: no "/" */
    if (!ecode)
        q->x = wh_send(&o, &q->r, q->opts ? q->opts->t : NULL, traced ? q->span.tp : NULL, &ecode);
    if (!q->x) {
        report(q, 0, ecode);
        body_fail(q, ecode);
        return send_error(cx, &res[0], q, ecode);
    }
    if (q->r.body_taken) { /* the body streams to the transfer from now on */
        wh_xfer_retain(q->x);
        q->bx = q->x;
        body_flush_early(q);
        body_finish(q, 0);
        body_wake(q);
    } else
        resolve_sent(q, 0);
    kiln_chost_later later = {wh_mono_ns(), send_fire, send_abandon, q};
    if ((q->p = kiln_chost_defer(cx, &later))) return KILN_CHOST_PENDING;
    /* a synchronous call: the body must be complete, then the head is waited for here */
    if (!q->body_done) {
        report(q, 0, WH_E_INTERNAL);
        body_fail(q, WH_E_INTERNAL);
        return fail(cx, "wasi:http: send called synchronously before its request body ended");
    }
    body_finish(q, 1);
    int ready = q->body_err ? 1 : 0;
    while (!ready && (ready = head_wait(q, UINT64_MAX)) == 0)
        ;
    if (ready < 0) { /* the guest unwinds at its time limit */
        report(q, 0, WH_E_CONNECTION_READ_TIMEOUT);
        return result_error(cx, &res[0], WH_E_CONNECTION_READ_TIMEOUT);
    }
    return answer(q, cx, &res[0]);
}

/* ---- the body of a response send returned ---- */

static p3c_resp *resp_of(kiln_p3client *c, uint32_t rep)
{
    for (size_t i = 0; i < c->nresps; i++)
        if (c->resps[i].rep == rep) return &c->resps[i];
    return NULL;
}

/* The body ended (ecode 0) or failed: the upstream's trailers are kept (rs->tr, for a
 * proxy's response), the trailers future resolves (ok(some(fields)) with a copy of them,
 * ok(none) without, err(error-code) on failure), the transfer goes. */
static void resp_end(p3c_resp *rs, uint32_t ecode)
{
    if (rs->x && ecode) rs->failed = 1;
    const wh_fields *t = rs->x && !ecode ? wh_xfer_trailers(rs->x) : NULL;
    if (t && t->n && !rs->tr && !(rs->tr = wh_fields_clone(t))) {
        rs->failed = 1; /* out of memory: the body cannot end whole */
        ecode = WH_E_INTERNAL;
    }
    if (rs->tr) rs->tr->immutable = 1;
    if (rs->trailers) {
        kiln_cval *v = kiln_chost_future_values(rs->trailers, 6); /* outlives this call */
        if (!v) {
            kiln_chost_future_resolve(rs->trailers, &kiln_chost_ok_none);
            rs->trailers = NULL;
            wh_xfer_release(rs->x);
            rs->x = NULL;
            return;
        }
        err_value(v, ecode);
        if (!ecode) { /* ok(none), or ok(some(own<fields>)) */
            memset(v, 0, 3 * sizeof *v);
            v[0].var.payload = &v[1];
            wh_fields *f = rs->tr ? wh_fields_clone(rs->tr) : NULL;
            if (f) f->immutable = 1;
            uint32_t frep = f ? kiln_p3http_fields_put(rs->q->h, NULL, f) : 0; /* f: the table's */
            if (frep) {
                v[1].var.disc = 1;
                v[1].var.payload = &v[2];
                v[2].res.rep = frep;
            }
        }
        kiln_chost_future_resolve(rs->trailers, &v[0]);
        rs->trailers = NULL;
    }
    wh_xfer_release(rs->x);
    rs->x = NULL;
}

/* Gives the guest what the connection has, waiting for some when there is none yet (the
 * guest's time limit ends the wait). */
static size_t resp_produce(void *arg, uint8_t *buf, size_t n, int *end)
{
    p3c_resp *rs = arg;
    if (rs->q) body_finish(rs->q, 1);
    while (rs->x) {
        int eof = 0, err = 0;
        long k = wh_xfer_read(rs->x, buf, n, &eof, &err);
        if (k > 0) return (size_t)k;
        if (k < 0 || eof) {
            uint32_t e = k < 0 ? wh_xfer_failed(rs->x) : 0;
            resp_end(rs, k < 0 && !e ? WH_E_HTTP_RESPONSE_INCOMPLETE : e);
            break;
        }
        int w = xfer_wait(wh_xfer_check_body, rs->x);
        if (w == KILN_WAIT_INTERRUPTED) return 0; /* the guest unwinds at its time limit */
        if (w < KILN_WAIT_INTERRUPTED) {
            resp_end(rs, WH_E_INTERNAL);
            break;
        }
    }
    *end = 1;
    return 0;
}

static void resp_dropped(void *arg)
{
    resp_end(arg, 0);
}

int kiln_p3c_response_consume(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3c_resp *rs = resp_of(client(ctx), args[0].res.rep);
    if (!rs)
        return fail(cx, "wasi:http: response.consume-body of a response not from client.send is "
                        "not supported yet");
    if (rs->consumed) return fail(cx, "wasi:http: the response body was consumed already");
    rs->consumed = 1;
    /* args[1], the guest's future for the body's outcome, is kept unread */
    kiln_cval *two = kiln_cabi_alloc(cx, 2 * sizeof *two);
    if (!two) return fail(cx, "out of memory");
    memset(two, 0, 2 * sizeof *two);
    kiln_chost_stream_ops ops = {NULL, resp_produce, resp_dropped, rs};
    if (!kiln_chost_stream_writer(cx, &two[0], &ops)) return -1;
    if (!(rs->trailers = kiln_chost_future_writer(cx, &two[1]))) return -1;
    res[0].agg.items = two;
    res[0].agg.n = 2;
    return 0;
}

const uint8_t *kiln_p3c_body_take(void *ctx, uint32_t rep, kiln_buf *out, size_t *n, int *ended)
{
    p3c_resp *rs = resp_of(client(ctx), rep);
    *n = 0;
    *ended = 1;
    out->len = 0;
    if (rs && rs->failed) *ended = 0;
    if (!rs || rs->consumed || !rs->x || kiln_buf_reserve(out, 65536) < 0) {
        if (rs && !rs->consumed) resp_end(rs, WH_E_INTERNAL);
        return NULL;
    }
    int end = 0;
    *n = resp_produce(rs, (uint8_t *)out->data, 65536, &end);
    *ended = !rs->failed && (end || !rs->x);
    return (const uint8_t *)out->data;
}

const wh_fields *kiln_p3c_trailers(void *ctx, uint32_t rep)
{
    p3c_resp *rs = resp_of(client(ctx), rep);
    return rs && !rs->failed && !rs->x ? rs->tr : NULL;
}

int kiln_p3c_body_failed(void *ctx, uint32_t rep)
{
    p3c_resp *rs = resp_of(client(ctx), rep);
    return rs && rs->failed;
}

/* ---- the provider's wasi:http/client ---- */

static const kiln_chost_func client_funcs[] = {
    {"send", "(own<request>) -> result<own<response>, *>", c_send},
};
/* request and response are wasi:http/types' (the interface uses them) */
const kiln_chost_iface kiln_p3c_client_rc = {"wasi:http/client", RC, NULL, 0, client_funcs, 1};
const kiln_chost_iface kiln_p3c_client_rel = {"wasi:http/client", REL, NULL, 0, client_funcs, 1};
