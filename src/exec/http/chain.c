/* chain.c — service chaining: outbound requests answered by the application's own
 * handlers in process (chain.h). */
#include "exec/http/chain.h"
#include "engine/fiber.h"
#include "host/wasihttp/outbound.h"
#include "util/alloc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static kiln_http_chain_lookup lookup_fn;
static void *lookup_ctx;
static const kiln_http_chain_observer *observer;
static void *observer_ctx;

/* One chained request: the request a handler sees and the response it feeds to x. */
typedef struct chain_ex {
    kiln_response res; /* first: the ops get it */
    kiln_request req;
    kiln_arena arena;
    kiln_body_source body;
    kiln_http_chain_target t;
    wh_xfer *x;        /* one reference, until the response ends */
    kiln_sched *sched; /* the calling loop's (post) */
    int started, status;
    size_t bytes;    /* body bytes written */
    void *token;     /* the observer's (NULL: none) */
    char caller[64]; /* the calling component (log lines) */
} chain_ex;

/* The response ended (before e is freed): tells the observer. */
static void ex_observe(chain_ex *e)
{
    if (!e->token) return;
    void *token = e->token;
    e->token = NULL;
    observer->end(observer_ctx, token, &e->t, &e->req, &e->res, e->started ? e->status : 500,
                  e->bytes);
}

static void ex_free_now(void *arg)
{
    chain_ex *e = arg;
    wh_xfer_release(e->x);
    kiln_arena_free(&e->arena);
    kiln_free(e);
}

/* Frees e once its loop has gone on: a handler may use its request's arena after finish
 * until its own call returns (WAGI releases its job there), as the server's exchange
 * outlives finish until h2o disposes of the request. Without a loop (or a fiber): now. */
static void ex_free(chain_ex *e)
{
    kiln_fiber *f = e->sched ? kiln_fiber_new(ex_free_now, e) : NULL;
    if (f)
        e->sched->wake(e->sched, f);
    else
        ex_free_now(e);
}

static int ex_start(kiln_response *res, int status, const kiln_http_header *hs, size_t n)
{
    chain_ex *e = (chain_ex *)res;
    if (e->started) return -1;
    e->started = 1;
    e->status = status;
    wh_fields *f = wh_fields_new();
    int has_length = 0, rc = f ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (wh_name_forbidden(hs[i].name, hs[i].name_len)) continue;
        if (hs[i].name_len == 14 && strncasecmp(hs[i].name, "content-length", 14) == 0)
            has_length = 1;
        rc = wh_fields_append(f, hs[i].name, hs[i].name_len, (const uint8_t *)hs[i].value,
                              hs[i].value_len);
    }
    if (rc == 0 && !has_length && res->content_length != SIZE_MAX) {
        char v[24];
        int k = snprintf(v, sizeof v, "%zu", res->content_length);
        rc = wh_fields_append(f, "content-length", 14, (const uint8_t *)v, (size_t)k);
    }
    if (rc < 0) {
        wh_fields_free(f);
        wh_xfer_local_end(e->x, WH_E_INTERNAL);
        return -1;
    }
    return wh_xfer_local_head(e->x, (uint16_t)status, f);
}

static int ex_write(kiln_response *res, const void *data, size_t n)
{
    chain_ex *e = (chain_ex *)res;
    if (!e->started) return -1;
    e->bytes += n;
    return wh_xfer_local_data(e->x, data, n);
}

static void ex_finish(kiln_response *res, const kiln_http_header *trailers, size_t n)
{
    (void)trailers, (void)n;
    chain_ex *e = (chain_ex *)res;
    if (!e->started) ex_start(res, 500, NULL, 0);
    wh_xfer_local_end(e->x, 0);
    ex_observe(e);
    ex_free(e);
}

static void ex_abort(kiln_response *res)
{
    chain_ex *e = (chain_ex *)res;
    if (!e->started) {
        ex_finish(res, NULL, 0);
        return;
    }
    wh_xfer_local_end(e->x, WH_E_HTTP_RESPONSE_INCOMPLETE);
    ex_observe(e);
    ex_free(e);
}

typedef struct post_job {
    kiln_response *res;
    kiln_response_cb cb;
    void *arg;
} post_job;

static void post_run(void *arg)
{
    post_job j = *(post_job *)arg;
    kiln_free(arg);
    j.cb(j.res, j.arg);
}

/* Runs cb on a new fiber of the calling loop (any thread). */
static int ex_post(kiln_response *res, kiln_response_cb cb, void *arg)
{
    chain_ex *e = (chain_ex *)res;
    post_job *j = kiln_malloc(sizeof *j);
    if (!j) return -1;
    *j = (post_job){res, cb, arg};
    kiln_fiber *f = e->sched ? kiln_fiber_new(post_run, j) : NULL;
    if (!f) {
        kiln_free(j);
        return -1;
    }
    e->sched->wake(e->sched, f);
    return 0;
}

static int ex_gone(kiln_response *res)
{
    return wh_xfer_is_gone(((chain_ex *)res)->x);
}

static size_t ex_buffered(kiln_response *res)
{
    return wh_xfer_local_buffered(((chain_ex *)res)->x);
}

static const kiln_response_ops chain_ops = {ex_start, ex_write,    ex_finish, ex_post,
                                            ex_gone,  ex_buffered, ex_abort};

static char *adup(kiln_arena *a, const char *s, size_t n)
{
    return kiln_arena_strndup(a, s ? s : "", s ? n : 0);
}

/* Copies the request c into e (its arena): the handler reads it later. 0 or -1. */
static int build(chain_ex *e, const kiln_wasihttp_chain *c)
{
    kiln_arena *a = &e->arena;
    kiln_request *r = &e->req;
    const char *pq = c->path_with_query, *q = strchr(pq, '?');
    size_t plen = q ? (size_t)(q - pq) : strlen(pq);
    r->method = adup(a, c->method, strlen(c->method));
    r->method_len = strlen(c->method);
    r->path = adup(a, pq, plen);
    r->path_len = plen;
    if (q) {
        r->query = adup(a, q + 1, strlen(q + 1));
        r->query_len = strlen(q + 1);
    }
    r->scheme = "http";
    if (c->authority) {
        r->authority = adup(a, c->authority, strlen(c->authority));
        r->authority_len = strlen(c->authority);
    }
    r->protocol = "HTTP/1.1";
    kiln_http_header *hs = kiln_arena_alloc(a, (c->headers->n + 1) * sizeof *hs);
    if (!r->method || !r->path || (q && !r->query) || (c->authority && !r->authority) || !hs)
        return -1;
    for (size_t i = 0; i < c->headers->n; i++) {
        const wh_field *f = &c->headers->items[i];
        char *nm = adup(a, f->name, f->name_len);
        char *v = adup(a, (const char *)f->value, f->value_len);
        if (!nm || !v) return -1;
        hs[i] = (kiln_http_header){nm, f->name_len, v, f->value_len};
    }
    r->headers = hs;
    r->nheaders = c->headers->n;
    r->client_ip = "0.0.0.0";
    char *body = adup(a, c->body, c->body_len);
    if (!body) return -1;
    kiln_body_source_buffer(&e->body, body, c->body_len);
    r->body = &e->body;
    r->arena = a;
    r->chain_depth = c->depth;
    if (c->traceparent) {
        char *tp = adup(a, c->traceparent, strlen(c->traceparent));
        if (!tp) return -1;
        r->traceparent = tp;
        if (strlen(tp) == 55) r->request_id = adup(a, tp + 3, 32); /* its trace id */
    }
    return 0;
}

/* Starts the request on its handler (on the loop, outside any fiber). */
static void run(chain_ex *e)
{
    kiln_http_chain_target *t = &e->t;
    if (observer) e->token = observer->begin(observer_ctx, t, &e->req);
    if (t->handler) {
        t->handler->handle(t->handler, &e->req, &e->res);
        return;
    }
    if (!t->status) {
        kiln_response_error(&e->res, 404);
        return;
    }
    kiln_response_simple(&e->res, t->status, NULL, t->headers, t->nheaders, t->body, t->body_len);
}

/* After the calling fiber parked: start the request, then let the caller go on. */
static void run_parked(kiln_fiber *f, void *arg)
{
    run(arg);
    kiln_sched_complete(f, KILN_WAIT_OK);
}

/* The chainer (host/wasihttp: kiln_wasihttp_set_chainer). */
static void chain(const kiln_wasihttp_chain *c, struct wh_xfer *x)
{
    chain_ex *e = kiln_calloc(1, sizeof *e);
    if (!e) {
        wh_xfer_local_end(x, WH_E_INTERNAL);
        return;
    }
    kiln_arena_init(&e->arena, NULL, 0);
    wh_xfer_retain(x);
    e->x = x;
    e->res = (kiln_response){
        .ops = &chain_ops, .arena = &e->arena, .start_ms = -1, .content_length = SIZE_MAX};
    e->sched = kiln_sched_current();
    snprintf(e->caller, sizeof e->caller, "%s", c->caller ? c->caller : "?");
    int found = build(e, c) < 0 ? -1
                : lookup_fn     ? lookup_fn(lookup_ctx, c->component, e->req.path, e->req.path_len,
                                            &e->arena, &e->t)
                                : 0;
    uint32_t ecode = 0;
    if (found < 0) {
        ecode = WH_E_INTERNAL;
    } else if (found == 0) {
        kiln_log_error("component '%s': service chaining to unknown component '%s'", e->caller,
                       c->component ? c->component : "self");
        ecode = WH_E_DESTINATION_NOT_FOUND;
    } else if (kiln_fiber_current() && !e->sched) {
        kiln_log_error("component '%s': service chaining from a guest moved off its event "
                       "loop (past --inline-budget) is not supported",
                       e->caller);
        ecode = WH_E_HTTP_REQUEST_DENIED;
    }
    if (ecode) {
        wh_xfer_local_end(x, ecode);
        ex_free(e);
        return;
    }
    e->req.route = &e->t.match;
    if (kiln_fiber_current())
        kiln_fiber_park_then(run_parked, e);
    else
        run(e);
}

void kiln_http_chain_configure(kiln_http_chain_lookup lookup, void *ctx,
                               const kiln_http_chain_observer *obs, void *obs_ctx)
{
    lookup_fn = lookup;
    lookup_ctx = ctx;
    observer = obs;
    observer_ctx = obs_ctx;
    kiln_wasihttp_set_chainer(lookup ? chain : NULL);
}
