/* http.c — the "wasi:http 0.3" provider (http.h): wasi:http/types 0.3 over host streams. */
#include "host/wasip3/http.h"
#include "component/instance.h"
#include "host/wasip3/client.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <stdio.h>
#include <string.h>

#define RC "0.3.0-rc-2026-03-15"
#define REL "0.3.0"
/* Caps of one instance's tables (a guest making more is refused with a trap). */
#define MAX_FIELDS 4096
#define MAX_RESPONSES 64

typedef struct p3_response {
    int live;
    int status;
    wh_fields *headers;
    kiln_chost_stream *body; /* the guest's contents stream (NULL: none, or ended) */
    kiln_chost_future *done; /* response.new's future: ok when the body ended */
    kiln_buf buf;            /* taken from the guest, not yet handed out */
    kiln_buf out;            /* handed out by the last take */
    kiln_chost_stream *pipe; /* consume-body's stream, fed from buf (NULL: none) */
    void *pipe_sh;           /* its shared state: how response.new recognises it */
    struct p3_response *src; /* the body is src's (response.new given src's pipe) */
    int ended, consumed, piping;
    int feeding;   /* res_consume is handing the maker's bytes on: its write is in progress */
    int from_send; /* a response client.send returned: its body is client.c's */
    /* the guest's trailers future: 0 not written yet, 1 written (trailers: its fields,
     * NULL for none), 2 written with an error-code */
    int trailers_state;
    wh_fields *trailers;
    struct kiln_p3http *h;
} p3_response;

/* What a host future reader's callback is given: p (the context, or a response slot) while
 * live; released requests' tokens die, so a guest writing an earlier request's future on
 * a reused instance touches nothing. Kept until the context goes. */
typedef struct p3_token {
    void *p;
    int live;
    struct p3_token *next;
} p3_token;

/* A request bound to the context (its rep: its index + 1). */
struct kiln_p3http_req {
    struct kiln_p3http *h;
    const kiln_wasihttp_request *req; /* NULL: the slot is free */
    int consumed;                     /* the request's body was taken */
    size_t body_off;                  /* request body bytes given (a body whole in req) */
    int streamed; /* the body comes through kiln_p3http_body_put / _end instead */
    kiln_buf in;  /* streamed: bytes from the connection, in[in_off..] not yet given */
    size_t in_off;
    int in_end;                     /* the connection's body ended (1) or failed (2) */
    kiln_chost_stream *in_stream;   /* the host's end of consume-body's stream (NULL: gone) */
    kiln_chost_future *in_trailers; /* consume-body's trailers future, until resolved */
    int in_refused;   /* the guest's future passed to consume-body said error: no more */
    wh_fields *in_tr; /* the streamed body's trailer fields (NULL: none) */
    p3_response *cur; /* the response kiln_p3http_body_ready looks at */
    int body_live;    /* consume-body's stream is still held and not ended */
    int dead;         /* released with its stream held: never bound again */
};
typedef kiln_p3http_req p3_req;

struct kiln_p3http {
    p3_req reqs[KILN_P3HTTP_MAX_REQS]; /* rep - 1 */
    wh_fields **fields;                /* rep - 1 → fields (NULL: free slot) */
    size_t nfields;
    p3_response res[MAX_RESPONSES]; /* rep - 1 */
    size_t nres;
    p3_token *tokens; /* every one given out */
    kiln_p3client *client;
    kiln_component_instance *ci; /* shared by concurrent requests: kiln_p3http_share */
};

/* A live token for p (kept in h). NULL when out of memory. */
static p3_token *token_new(kiln_p3http *h, void *p)
{
    p3_token *t = kiln_calloc(1, sizeof *t);
    if (!t) return NULL;
    t->p = p;
    t->live = 1;
    t->next = h->tokens;
    h->tokens = t;
    return t;
}

static int fail(kiln_cabi_cx *cx, const char *msg)
{
    if (cx) snprintf(cx->err, sizeof cx->err, "%s", msg);
    return -1;
}

static void *h_new(const kiln_grants *g, char **err)
{
    kiln_p3http *h = kiln_calloc(1, sizeof *h);
    if (h && !(h->client = kiln_p3c_new(g))) {
        kiln_free(h);
        h = NULL;
    }
    if (!h) *err = kiln_strdup("wasi:http: out of memory");
    return h;
}

static void h_free(void *ctx)
{
    kiln_p3http *h = ctx;
    kiln_p3c_free(h->client);
    for (size_t i = 0; i < h->nfields; i++)
        wh_fields_free(h->fields[i]);
    kiln_free(h->fields);
    for (size_t i = 0; i < KILN_P3HTTP_MAX_REQS; i++) {
        kiln_buf_free(&h->reqs[i].in);
        wh_fields_free(h->reqs[i].in_tr);
    }
    while (h->tokens) {
        p3_token *t = h->tokens;
        h->tokens = t->next;
        kiln_free(t);
    }
    for (size_t i = 0; i < h->nres; i++) {
        wh_fields_free(h->res[i].headers);
        wh_fields_free(h->res[i].trailers);
        kiln_buf_free(&h->res[i].buf);
        kiln_buf_free(&h->res[i].out);
    }
    kiln_free(h);
}

kiln_p3http_req *kiln_p3http_bind(kiln_p3http *h, const kiln_wasihttp_request *req, int streamed)
{
    for (size_t i = 0; i < KILN_P3HTTP_MAX_REQS; i++) {
        p3_req *q = &h->reqs[i];
        if (q->req || q->dead) continue;
        q->h = h;
        q->req = req;
        q->streamed = streamed;
        return q;
    }
    return NULL;
}

/* Futures given out for p, written later, change nothing (p's slot moves on). */
static void tokens_kill(kiln_p3http *h, const void *p)
{
    for (p3_token *t = h->tokens; t; t = t->next)
        if (t->p == p) t->live = 0;
}

int kiln_p3http_release(kiln_p3http_req *q, uint32_t rep)
{
    kiln_p3http *h = q->h;
    if (q->body_live) {
        /* a body stream the guest still holds would read the next request's body: the
         * slot is never bound again, and the stream ends (failed) on its next read */
        q->dead = 1;
        q->req = NULL;
        q->streamed = 1;
        q->in_end = 2;
        q->in.len = q->in_off = 0;
        tokens_kill(h, q);
        return -1;
    }
    q->req = NULL; /* the slot binds afresh */
    q->consumed = 0;
    q->body_off = 0;
    q->cur = NULL;
    q->streamed = q->in_end = q->in_refused = 0;
    q->in.len = q->in_off = 0;
    q->in_stream = NULL;
    q->in_trailers = NULL; /* (resolved, or left unread: the guest's end goes with it) */
    q->body_live = 0;
    wh_fields_free(q->in_tr);
    q->in_tr = NULL;
    tokens_kill(h, q);
    if (!rep || rep > h->nres || !h->res[rep - 1].live || !h->res[rep - 1].ended) return 0;
    /* the response, and those whose body it passed on (response.new given another
     * response's consumed body: a middleware's), are done with it */
    for (p3_response *r = &h->res[rep - 1], *next; r; r = next) {
        next = r->src;
        tokens_kill(h, r);
        wh_fields_free(r->headers);
        wh_fields_free(r->trailers);
        kiln_buf_free(&r->buf);
        kiln_buf_free(&r->out);
        memset(r, 0, sizeof *r); /* not live: s_new takes the slot again */
    }
    return 0;
}

uint32_t kiln_p3http_request_rep(const kiln_p3http_req *q)
{
    return (uint32_t)(q - q->h->reqs) + 1;
}

/* ---- fields ---- */

/* A new handle's rep for f (owned from now on); 0 with cx->err. */
static uint32_t fields_put(kiln_p3http *h, kiln_cabi_cx *cx, wh_fields *f)
{
    if (!f) return fail(cx, "out of memory"), 0;
    for (size_t i = 0; i < h->nfields; i++)
        if (!h->fields[i]) {
            h->fields[i] = f;
            return (uint32_t)i + 1;
        }
    if (h->nfields >= MAX_FIELDS) {
        wh_fields_free(f);
        return fail(cx, "wasi:http: too many fields resources"), 0;
    }
    wh_fields **nf = kiln_realloc(h->fields, (h->nfields + 1) * sizeof *nf);
    if (!nf) {
        wh_fields_free(f);
        return fail(cx, "out of memory"), 0;
    }
    h->fields = nf;
    h->fields[h->nfields++] = f;
    return (uint32_t)h->nfields;
}

static wh_fields *fields_get(kiln_p3http *h, uint32_t rep)
{
    return rep && rep <= h->nfields ? h->fields[rep - 1] : NULL;
}

static void fields_dtor(void *ctx, uint32_t rep)
{
    kiln_p3http *h = ctx;
    wh_fields *f = fields_get(h, rep);
    if (!f) return;
    wh_fields_free(f);
    h->fields[rep - 1] = NULL;
}

/* Checks a borrowed/owned fields argument; NULL with cx->err. */
static wh_fields *fields_arg(kiln_p3http *h, kiln_cabi_cx *cx, const kiln_cval *v)
{
    wh_fields *f = fields_get(h, v->res.rep);
    if (!f) fail(cx, "wasi:http: unknown fields handle");
    return f;
}

/* Sets *res to result<_, header-error>: ok when err < 0, else err's case. */
static void header_result(kiln_cval *res, int err)
{
    memset(res, 0, sizeof *res);
    if (err < 0) return;
    res->var.disc = 1;
    /* the payload is a header-error without payload: its discriminant only */
    static const kiln_cval cases[3] = {{.var = {0, NULL}}, {.var = {1, NULL}}, {.var = {2, NULL}}};
    res->var.payload = (kiln_cval *)&cases[err < 3 ? err : 0];
}

static int f_new(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    (void)args;
    uint32_t rep = fields_put(ctx, cx, wh_fields_new());
    if (!rep) return -1;
    res[0].res.rep = rep;
    return 0;
}

static int f_from_list(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_fields *f = wh_fields_new();
    if (!f) return fail(cx, "out of memory");
    int bad = -1;
    for (uint32_t i = 0; i < args[0].agg.n && bad < 0; i++) {
        const kiln_cval *t = args[0].agg.items[i].agg.items;
        bad = wh_fields_check(f, t[0].str.ptr, t[0].str.len, (const uint8_t *)t[1].str.ptr,
                              t[1].str.len);
        if (bad < 0 && wh_fields_append(f, t[0].str.ptr, t[0].str.len,
                                        (const uint8_t *)t[1].str.ptr, t[1].str.len) < 0) {
            wh_fields_free(f);
            return fail(cx, "out of memory");
        }
    }
    if (bad >= 0) {
        wh_fields_free(f);
        header_result(&res[0], bad);
        return 0;
    }
    uint32_t rep = fields_put(ctx, cx, f);
    if (!rep) return -1;
    kiln_cval *p = kiln_cabi_alloc(cx, sizeof *p);
    if (!p) return fail(cx, "out of memory");
    p->res.rep = rep;
    res[0].var.disc = 0;
    res[0].var.payload = p;
    return 0;
}

static int name_is(const wh_field *e, const kiln_cval *name)
{
    return e->name_len == name->str.len && strncasecmp(e->name, name->str.ptr, e->name_len) == 0;
}

static int f_get(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_fields *f = fields_arg(ctx, cx, &args[0]);
    return f ? wh_fields_values(cx, f, args[1].str.ptr, args[1].str.len, &res[0]) : -1;
}

static int f_has(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_fields *f = fields_arg(ctx, cx, &args[0]);
    if (!f) return -1;
    res[0].u = (uint64_t)wh_fields_has(f, args[1].str.ptr, args[1].str.len);
    return 0;
}

static int f_delete(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_fields *f = fields_arg(ctx, cx, &args[0]);
    if (!f) return -1;
    int bad = wh_fields_check(f, args[1].str.ptr, args[1].str.len, NULL, 0);
    if (bad < 0) wh_fields_delete(f, args[1].str.ptr, args[1].str.len);
    header_result(&res[0], bad);
    return 0;
}

/* fields.get-and-delete: the values of a name (copied into the call's arena, since the
 * delete frees them) and the name deleted; header-error as delete's. componentize-py's
 * runtime imports it. */
static int f_get_and_delete(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_fields *f = fields_arg(ctx, cx, &args[0]);
    if (!f) return -1;
    int bad = wh_fields_check(f, args[1].str.ptr, args[1].str.len, NULL, 0);
    if (bad >= 0) {
        header_result(&res[0], bad);
        return 0;
    }
    uint32_t n = 0;
    for (size_t i = 0; i < f->n; i++)
        n += name_is(&f->items[i], &args[1]);
    kiln_cval *list = kiln_cabi_alloc(cx, sizeof *list);
    kiln_cval *items = kiln_cabi_alloc(cx, (n ? n : 1) * sizeof *items);
    if (!list || !items) return fail(cx, "out of memory");
    n = 0;
    for (size_t i = 0; i < f->n; i++) {
        const wh_field *e = &f->items[i];
        if (!name_is(e, &args[1])) continue;
        char *v = kiln_cabi_alloc(cx, e->value_len ? e->value_len : 1);
        if (!v) return fail(cx, "out of memory");
        memcpy(v, e->value, e->value_len);
        items[n].str.ptr = v;
        items[n++].str.len = e->value_len;
    }
    wh_fields_delete(f, args[1].str.ptr, args[1].str.len);
    list->agg.items = items;
    list->agg.n = n;
    memset(&res[0], 0, sizeof res[0]);
    res[0].var.payload = list;
    return 0;
}

static int f_set(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_fields *f = fields_arg(ctx, cx, &args[0]);
    if (!f) return -1;
    const kiln_cval *nm = &args[1], *vs = &args[2];
    int bad = wh_fields_check(f, nm->str.ptr, nm->str.len, NULL, 0);
    for (uint32_t i = 0; bad < 0 && i < vs->agg.n; i++)
        if (!wh_value_valid((const uint8_t *)vs->agg.items[i].str.ptr, vs->agg.items[i].str.len))
            bad = WH_HE_INVALID_SYNTAX;
    if (bad < 0) {
        wh_fields_delete(f, nm->str.ptr, nm->str.len);
        for (uint32_t i = 0; i < vs->agg.n; i++)
            if (wh_fields_append(f, nm->str.ptr, nm->str.len,
                                 (const uint8_t *)vs->agg.items[i].str.ptr,
                                 vs->agg.items[i].str.len) < 0)
                return fail(cx, "out of memory");
    }
    header_result(&res[0], bad);
    return 0;
}

static int f_append(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_fields *f = fields_arg(ctx, cx, &args[0]);
    if (!f) return -1;
    const uint8_t *v = (const uint8_t *)args[2].str.ptr;
    int bad = wh_fields_check(f, args[1].str.ptr, args[1].str.len, v, args[2].str.len);
    if (bad < 0 && wh_fields_append(f, args[1].str.ptr, args[1].str.len, v, args[2].str.len) < 0)
        return fail(cx, "out of memory");
    header_result(&res[0], bad);
    return 0;
}

static int f_copy_all(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_fields *f = fields_arg(ctx, cx, &args[0]);
    return f ? wh_fields_entries(cx, f, &res[0]) : -1;
}

static int f_clone(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    wh_fields *f = fields_arg(ctx, cx, &args[0]);
    if (!f) return -1;
    uint32_t rep = fields_put(ctx, cx, wh_fields_clone(f));
    if (!rep) return -1;
    res[0].res.rep = rep;
    return 0;
}

/* ---- the incoming request ---- */

/* The bound request of handle v; NULL with cx->err. */
static p3_req *req_check(kiln_p3http *h, kiln_cabi_cx *cx, const kiln_cval *v)
{
    uint32_t rep = v->res.rep;
    if (!rep || rep > KILN_P3HTTP_MAX_REQS || !h->reqs[rep - 1].req) {
        fail(cx, "wasi:http: unknown request handle");
        return NULL;
    }
    return &h->reqs[rep - 1];
}

static const char *const methods[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                      "CONNECT", "OPTIONS", "TRACE", "PATCH"};

static int r_method(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_p3http *h = ctx;
    if (kiln_p3c_owns(args[0].res.rep)) return kiln_p3c_get_method(ctx, cx, args, res);
    const p3_req *slot = req_check(h, cx, &args[0]);
    if (!slot) return -1;
    const kiln_wasihttp_request *q = slot->req;
    for (uint32_t i = 0; i < 9; i++)
        if (strlen(methods[i]) == q->method_len &&
            memcmp(methods[i], q->method, q->method_len) == 0) {
            res[0].var.disc = i;
            res[0].var.payload = NULL;
            return 0;
        }
    kiln_cval *p = kiln_cabi_alloc(cx, sizeof *p);
    if (!p) return fail(cx, "out of memory");
    p->str.ptr = (char *)q->method;
    p->str.len = q->method_len;
    res[0].var.disc = 9; /* other(string) */
    res[0].var.payload = p;
    return 0;
}

/* res = some(string s, n) (s NULL: none). */
static int some_string(kiln_cabi_cx *cx, kiln_cval *res, const char *s, size_t n)
{
    memset(res, 0, sizeof *res);
    if (!s) return 0;
    kiln_cval *p = kiln_cabi_alloc(cx, sizeof *p);
    if (!p) return fail(cx, "out of memory");
    p->str.ptr = (char *)s;
    p->str.len = n;
    res->var.disc = 1;
    res->var.payload = p;
    return 0;
}

static int r_path(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_p3http *h = ctx;
    if (kiln_p3c_owns(args[0].res.rep)) return kiln_p3c_get_path(ctx, cx, args, res);
    const p3_req *q = req_check(h, cx, &args[0]);
    if (!q) return -1;
    return some_string(cx, &res[0], q->req->path_with_query, q->req->path_with_query_len);
}

static int r_authority(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_p3http *h = ctx;
    if (kiln_p3c_owns(args[0].res.rep)) return kiln_p3c_get_authority(ctx, cx, args, res);
    const p3_req *q = req_check(h, cx, &args[0]);
    if (!q) return -1;
    return some_string(cx, &res[0], q->req->authority, q->req->authority_len);
}

static int r_scheme(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_p3http *h = ctx;
    if (kiln_p3c_owns(args[0].res.rep)) return kiln_p3c_get_scheme(ctx, cx, args, res);
    const p3_req *q = req_check(h, cx, &args[0]);
    if (!q) return -1;
    kiln_cval *p = kiln_cabi_alloc(cx, sizeof *p);
    if (!p) return fail(cx, "out of memory");
    memset(p, 0, sizeof *p);
    p->var.disc = q->req->https ? 1 : 0; /* HTTP | HTTPS */
    res[0].var.disc = 1;
    res[0].var.payload = p;
    return 0;
}

static int r_headers(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_p3http *h = ctx;
    if (kiln_p3c_owns(args[0].res.rep)) return kiln_p3c_get_headers(ctx, cx, args, res);
    const p3_req *q = req_check(h, cx, &args[0]);
    if (!q) return -1;
    wh_fields *f = wh_fields_new();
    if (!f) return fail(cx, "out of memory");
    for (size_t i = 0; i < q->req->nheaders; i++) {
        const kiln_wasihttp_header *e = &q->req->headers[i];
        if (wh_name_forbidden(e->name, e->name_len)) continue;
        if (wh_fields_append(f, e->name, e->name_len, (const uint8_t *)e->value, e->value_len) <
            0) {
            wh_fields_free(f);
            return fail(cx, "out of memory");
        }
    }
    f->immutable = 1;
    uint32_t rep = fields_put(h, cx, f);
    if (!rep) return -1;
    res[0].res.rep = rep;
    return 0;
}

/* Resolves consume-body's trailers future once the body ended: ok(some(fields)) with
 * the body's trailer fields (immutable, the guest's to own), else ok(none). The value is
 * kept (shallow) until the guest reads it, so its parts live with the future's end. */
static void trailers_resolve(p3_req *h)
{
    if (!h->in_trailers) return;
    kiln_cval *v = kiln_chost_future_values(h->in_trailers, 3); /* outlive this call */
    if (!v) {
        kiln_chost_future_resolve(h->in_trailers, &kiln_chost_ok_none);
        h->in_trailers = NULL;
        return;
    }
    v[0].var.disc = 0; /* ok(option) */
    v[0].var.payload = &v[1];
    if (h->in_tr && h->in_tr->n) {
        h->in_tr->immutable = 1;
        uint32_t rep = fields_put(h->h, NULL, h->in_tr);
        h->in_tr = NULL; /* the table's now (freed by fields_put when it is full) */
        if (rep) {
            v[1].var.disc = 1; /* some(own fields) */
            v[1].var.payload = &v[2];
            v[2].res.rep = rep;
        }
    }
    kiln_chost_future_resolve(h->in_trailers, &v[0]);
    h->in_trailers = NULL;
}

/* Gives the request body's bytes; then the stream ends. A streamed body gives what the
 * connection brought so far; with nothing there yet the guest's read stays pending
 * until kiln_p3http_body_put wakes it. */
static size_t body_produce(void *arg, uint8_t *buf, size_t n, int *end)
{
    p3_req *h = arg;
    if (h->streamed) {
        size_t have = h->in.len - h->in_off;
        if (!have) {
            if (!h->in_end) return 0;
            *end = 1;
            h->in_stream = NULL; /* closed by the stream layer */
            h->body_live = 0;
            return 0;
        }
        if (n > have) n = have;
        memcpy(buf, h->in.data + h->in_off, n);
        h->in_off += n;
        if (h->in_off == h->in.len) h->in_off = h->in.len = 0;
        return n;
    }
    size_t left = h->req->body_len - h->body_off;
    if (!left) {
        *end = 1;
        h->body_live = 0;
        return 0;
    }
    if (n > left) n = left;
    memcpy(buf, h->req->body + h->body_off, n);
    h->body_off += n;
    return n;
}

/* The guest dropped the request body's stream: what comes is not needed. */
static void body_dropped(void *arg)
{
    p3_req *h = arg;
    h->in_stream = NULL;
    h->body_live = 0;
    h->in.len = h->in_off = 0;
}

int kiln_p3http_body_wants(const kiln_p3http_req *h)
{
    return h->streamed && h->consumed && !h->in_end && !h->in_refused && h->in_stream &&
           h->in.len - h->in_off < KILN_P3HTTP_HIGH;
}

size_t kiln_p3http_body_room(const kiln_p3http_req *h)
{
    size_t have = h->in.len - h->in_off;
    return have < KILN_P3HTTP_HIGH ? KILN_P3HTTP_HIGH - have : 0;
}

int kiln_p3http_body_put(kiln_p3http_req *h, const void *data, size_t n)
{
    if (!h->in_stream) return 0; /* not consumed, or dropped: discarded */
    if (h->in_off && h->in.len + n > KILN_P3HTTP_HIGH) {
        memmove(h->in.data, h->in.data + h->in_off, h->in.len - h->in_off);
        h->in.len -= h->in_off;
        h->in_off = 0;
    }
    if (kiln_buf_append(&h->in, data, n) < 0) return -1;
    kiln_chost_stream_wake(h->in_stream);
    return 0;
}

int kiln_p3http_body_trailer(kiln_p3http_req *h, const char *name, size_t nlen, const char *value,
                             size_t vlen)
{
    if (!h->in_tr && !(h->in_tr = wh_fields_new())) return -1;
    const uint8_t *v = (const uint8_t *)value;
    if (wh_fields_check(h->in_tr, name, nlen, v, vlen) >= 0) return 0; /* left out */
    return wh_fields_append(h->in_tr, name, nlen, v, vlen);
}

void kiln_p3http_body_end(kiln_p3http_req *h, int failed)
{
    if (h->in_end) return;
    h->in_end = failed ? 2 : 1;
    if (!failed) trailers_resolve(h);
    if (h->in_stream) kiln_chost_stream_wake(h->in_stream);
}

/* The guest wrote the future it passed to consume-body (result<_, error-code>): an
 * error says it will not read the body on; the host stops reading it from the
 * connection (the server discards the rest) and ends the guest's stream. */
static void body_outcome(void *arg, const kiln_cval *v)
{
    p3_token *t = arg;
    p3_req *h = t->p;
    if (!t->live || v->var.disc == 0) return; /* (an earlier request's, on a reused instance) */
    h->in_refused = 1;
    h->in.len = h->in_off = 0;
    if (h->in_stream) {
        kiln_chost_stream_close(h->in_stream);
        h->in_stream = NULL;
        h->body_live = 0;
    }
}

/* consume-body's result (of a request or a response): tuple<stream<u8>, future<trailers>>
 * into res[0], the stream written by the host through ops, the trailers future resolved
 * at once with ok(none). The stream, or NULL with cx->err. */
static kiln_chost_stream *body_pair(kiln_cabi_cx *cx, const kiln_chost_stream_ops *ops,
                                    kiln_cval *res)
{
    kiln_cval *two = kiln_cabi_alloc(cx, 2 * sizeof *two);
    if (!two) {
        fail(cx, "out of memory");
        return NULL;
    }
    memset(two, 0, 2 * sizeof *two);
    kiln_chost_stream *st = kiln_chost_stream_writer(cx, &two[0], ops);
    if (!st) return NULL;
    kiln_chost_future *tr = kiln_chost_future_writer(cx, &two[1]);
    if (!tr) return NULL;
    /* the value is kept (shallow) until the guest reads it: its parts are static */
    static kiln_cval none; /* option none */
    kiln_cval ok;
    memset(&ok, 0, sizeof ok);
    ok.var.disc = 0; /* ok(none): no trailers */
    ok.var.payload = &none;
    if (kiln_chost_future_resolve(tr, &ok) < 0) {
        fail(cx, "wasi:http: trailers");
        return NULL;
    }
    res[0].agg.items = two;
    res[0].agg.n = 2;
    return st;
}

static int r_consume(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_p3http *h = ctx;
    if (kiln_p3c_owns(args[0].res.rep)) return kiln_p3c_request_consume(ctx, cx, args, res);
    p3_req *q = req_check(h, cx, &args[0]);
    if (!q) return -1;
    if (q->consumed) return fail(cx, "wasi:http: the request body was consumed already");
    q->consumed = 1;
    kiln_chost_future_ops fops = {body_outcome, token_new(h, q)};
    if (!fops.arg) return fail(cx, "out of memory");
    if (!kiln_chost_future_reader(cx, &args[1], &fops)) return -1;
    kiln_cval *two = kiln_cabi_alloc(cx, 2 * sizeof *two);
    if (!two) return fail(cx, "out of memory");
    memset(two, 0, 2 * sizeof *two);
    kiln_chost_stream_ops ops = {NULL, body_produce, body_dropped, q};
    if (!(q->in_stream = kiln_chost_stream_writer(cx, &two[0], &ops))) return -1;
    q->body_live = 1;
    if (!(q->in_trailers = kiln_chost_future_writer(cx, &two[1]))) return -1;
    /* a body read whole, or one that ended already: the trailers are known now */
    if (!q->streamed || q->in_end == 1) trailers_resolve(q);
    res[0].agg.items = two;
    res[0].agg.n = 2;
    return 0;
}

static void request_dtor(void *ctx, uint32_t rep)
{
    /* the incoming request's parts are the executor's */
    if (kiln_p3c_owns(rep)) kiln_p3c_request_dtor(ctx, rep);
}

/* ---- responses ---- */

static p3_response *res_get(kiln_p3http *h, uint32_t rep)
{
    return rep && rep <= h->nres && h->res[rep - 1].live ? &h->res[rep - 1] : NULL;
}

/* The guest reading a consumed response's body can go on (not from inside its copy). */
static void res_wake_pipe(p3_response *r)
{
    if (r->pipe && !r->piping) kiln_chost_stream_wake(r->pipe);
}

static void res_end(p3_response *r)
{
    r->ended = 1;
    r->body = NULL;
    res_wake_pipe(r);
    if (r->done) {
        kiln_cval ok;
        memset(&ok, 0, sizeof ok);
        kiln_chost_future_resolve(r->done, &ok);
        r->done = NULL;
    }
}

/* Takes the guest's body bytes into the buffer, up to KILN_P3HTTP_HIGH. */
static size_t res_consume(void *arg, const uint8_t *data, size_t n)
{
    p3_response *r = arg;
    if (r->buf.len >= KILN_P3HTTP_HIGH) return 0;
    if (n > KILN_P3HTTP_HIGH - r->buf.len) n = KILN_P3HTTP_HIGH - r->buf.len;
    if (kiln_buf_append(&r->buf, data, n) < 0) return 0;
    r->feeding = 1; /* (the pipe's reader may take them now: not a wake of this write) */
    res_wake_pipe(r);
    r->feeding = 0;
    return n;
}

static void res_dropped(void *arg)
{
    res_end(arg);
}

/* The guest wrote its trailers future: result<option<own<fields>>, error-code>. The
 * fields (moved to the host with the value) are the response's from now on. */
static void res_trailers(void *arg, const kiln_cval *v)
{
    p3_token *t = arg;
    p3_response *r = t->p;
    kiln_p3http *h = r->h;
    if (!t->live) return; /* an earlier request's, on a reused instance: its slot moved on */
    if (v->var.disc != 0) {
        r->trailers_state = 2;
        return;
    }
    r->trailers_state = 1;
    const kiln_cval *opt = v->var.payload;
    if (!opt || opt->var.disc != 1 || !opt->var.payload) return;
    uint32_t rep = opt->var.payload->res.rep;
    wh_fields *f = fields_get(h, rep);
    if (!f) return;
    h->fields[rep - 1] = NULL;
    r->trailers = f;
}

static int s_new(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    kiln_p3http *h = ctx;
    wh_fields *f = fields_arg(h, cx, &args[0]);
    if (!f) return -1;
    size_t slot = 0;
    while (slot < h->nres && (h->res[slot].live || h->res[slot].headers))
        slot++;
    if (slot >= MAX_RESPONSES) return fail(cx, "wasi:http: too many responses");
    p3_response *r = &h->res[slot];
    memset(r, 0, sizeof *r);
    r->h = h;
    r->status = 200;
    kiln_cval *two = kiln_cabi_alloc(cx, 2 * sizeof *two);
    if (!two) return fail(cx, "out of memory");
    memset(two, 0, 2 * sizeof *two);
    if (!(r->done = kiln_chost_future_writer(cx, &two[1]))) return -1;
    for (size_t i = 0; args[1].var.disc == 1 && i < h->nres; i++) {
        p3_response *o = &h->res[i];
        if (o->pipe && o->pipe_sh == ((const kiln_cval *)args[1].var.payload)->shared) {
            /* the body of a response consumed unread (a middleware adding headers): the
             * host hands out o's bytes itself, the stream between is left unused */
            kiln_chost_stream_close(o->pipe);
            o->pipe = NULL;
            r->src = o;
        }
    }
    if (args[1].var.disc == 1 && !r->src) {
        kiln_chost_stream_ops ops = {res_consume, NULL, res_dropped, r};
        if (!(r->body = kiln_chost_stream_reader(cx, args[1].var.payload, &ops))) return -1;
    }
    kiln_chost_future_ops tops = {res_trailers, token_new(h, r)};
    if (!tops.arg) return fail(cx, "out of memory");
    if (!kiln_chost_future_reader(cx, &args[2], &tops)) return -1;
    r->headers = f; /* own<fields>: the response takes them */
    h->fields[args[0].res.rep - 1] = NULL;
    f->immutable = 1;
    r->live = 1;
    if (slot == h->nres) h->nres++;
    if (!r->body && !r->src) res_end(r);
    two[0].res.rep = (uint32_t)slot + 1;
    res[0].agg.items = two;
    res[0].agg.n = 2;
    return 0;
}

static p3_response *res_arg(kiln_p3http *h, kiln_cabi_cx *cx, const kiln_cval *v)
{
    p3_response *r = res_get(h, v->res.rep);
    if (!r) fail(cx, "wasi:http: unknown response handle");
    return r;
}

static int s_status(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3_response *r = res_arg(ctx, cx, &args[0]);
    if (!r) return -1;
    res[0].u = (uint64_t)r->status;
    return 0;
}

static int s_set_status(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3_response *r = res_arg(ctx, cx, &args[0]);
    if (!r) return -1;
    memset(&res[0], 0, sizeof res[0]);
    if (args[1].u < 100 || args[1].u > 999)
        res[0].var.disc = 1; /* err */
    else
        r->status = (int)args[1].u;
    return 0;
}

static int s_headers(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3_response *r = res_arg(ctx, cx, &args[0]);
    if (!r) return -1;
    wh_fields *f = wh_fields_clone(r->headers);
    if (f) f->immutable = 1;
    uint32_t rep = fields_put(ctx, cx, f);
    if (!rep) return -1;
    res[0].res.rep = rep;
    return 0;
}

/* Gives a consumed response's body bytes (taken from the guest that made it) to the guest
 * that consumed it (a middleware forwarding the next handler's answer). */
static size_t pipe_produce(void *arg, uint8_t *buf, size_t n, int *end)
{
    p3_response *r = arg;
    if (!r->buf.len) {
        *end = r->ended;
        return 0;
    }
    if (n > r->buf.len) n = r->buf.len;
    memcpy(buf, r->buf.data, n);
    memmove(r->buf.data, r->buf.data + n, r->buf.len - n);
    r->buf.len -= n;
    r->piping = 1; /* the maker's pending write goes on without re-entering this copy */
    if (r->body && !r->feeding) kiln_chost_stream_wake(r->body);
    r->piping = 0;
    return n;
}

static void pipe_dropped(void *arg)
{
    ((p3_response *)arg)->pipe = NULL;
}

static int s_consume(void *ctx, kiln_cabi_cx *cx, const kiln_cval *args, kiln_cval *res)
{
    p3_response *r = res_arg(ctx, cx, &args[0]);
    if (!r) return -1;
    if (r->from_send) return kiln_p3c_response_consume(ctx, cx, args, res);
    if (r->consumed) return fail(cx, "wasi:http: the response body was consumed already");
    r->consumed = 1;
    /* args[1], the guest's future for the body's outcome, is kept unread */
    kiln_chost_stream_ops ops = {NULL, pipe_produce, pipe_dropped, r};
    if (!(r->pipe = body_pair(cx, &ops, res))) return -1;
    r->pipe_sh = res[0].agg.items[0].shared;
    return 0;
}

static void response_dtor(void *ctx, uint32_t rep)
{
    (void)ctx, (void)rep; /* kept until the context goes: the executor reads it */
}

const wh_fields *kiln_p3http_response(kiln_p3http_req *q, uint32_t rep, int *status)
{
    p3_response *r = res_get(q->h, rep);
    if (!r) return NULL;
    q->cur = r;
    *status = r->status;
    return r->headers;
}

const uint8_t *kiln_p3http_body_take(kiln_p3http_req *q, uint32_t rep, size_t *n, int *ended)
{
    kiln_p3http *h = q->h;
    p3_response *r = res_get(h, rep);
    *n = 0;
    *ended = 1;
    if (!r) return NULL;
    p3_response *top = r;
    while (r->src)
        r = r->src;
    if (r->from_send) {
        const uint8_t *p = kiln_p3c_body_take(h, (uint32_t)(r - h->res) + 1, &r->out, n, ended);
        if (*ended && top != r && !top->ended) res_end(top); /* its response.new future */
        return p;
    }
    /* hands out buf, and takes the guest's next bytes into the other buffer */
    kiln_buf t = r->out;
    r->out = r->buf;
    r->buf = t;
    r->buf.len = 0;
    *n = r->out.len;
    *ended = r->ended;
    if (*ended && top != r && !top->ended) res_end(top); /* its response.new future */
    if (r->body && *n) kiln_chost_stream_wake(r->body);
    return (const uint8_t *)r->out.data;
}

int kiln_p3http_body_ready(void *arg)
{
    p3_req *q = arg;
    kiln_p3http *h = q->h;
    p3_response *r = q->cur;
    const p3_response *b = r; /* whose body it is (a middleware's: the one it passes on) */
    while (b && b->src)
        b = b->src;
    if (b && b->from_send) return !kiln_p3c_body_failed(h, (uint32_t)(b - h->res) + 1);
    return !r || b->buf.len > 0 || (b->ended && r->trailers_state);
}

int kiln_p3http_trailers(kiln_p3http_req *q, uint32_t rep, const wh_fields **trailers)
{
    p3_response *r = res_get(q->h, rep);
    *trailers = NULL;
    if (!r) return -1;
    p3_response *b = r; /* a response over a send response's body: the upstream's trailers */
    while (b->src)
        b = b->src;
    if (b->from_send && r->trailers_state != 2 && !r->trailers) {
        *trailers = kiln_p3c_trailers(q->h, (uint32_t)(b - q->h->res) + 1);
        return 0;
    }
    if (r->trailers_state == 2) return -1;
    *trailers = r->trailers;
    return 0;
}

/* ---- for client.c ---- */

kiln_p3client *kiln_p3http_client(kiln_p3http *h)
{
    return h->client;
}

void kiln_p3http_share(kiln_p3http *h, kiln_component_instance *ci)
{
    h->ci = ci;
}

const kiln_wasihttp_request *kiln_p3http_served(kiln_p3http *h)
{
    const p3_req *q = h->ci ? kiln_component_call_tag(h->ci) : NULL;
    if (q && q->h == h && q->req) return q->req; /* the request whose guest code runs */
    for (size_t i = 0; i < KILN_P3HTTP_MAX_REQS; i++)
        if (h->reqs[i].req) return h->reqs[i].req;
    return NULL;
}

uint32_t kiln_p3http_fields_put(kiln_p3http *h, kiln_cabi_cx *cx, wh_fields *f)
{
    return fields_put(h, cx, f);
}

wh_fields *kiln_p3http_fields_take(kiln_p3http *h, kiln_cabi_cx *cx, uint32_t rep)
{
    kiln_cval v = {.res = {.rep = rep}};
    wh_fields *f = fields_arg(h, cx, &v);
    if (f) h->fields[rep - 1] = NULL;
    return f;
}

uint32_t kiln_p3http_response_add(kiln_p3http *h, kiln_cabi_cx *cx, int status, wh_fields *headers)
{
    if (!headers) return fail(cx, "out of memory"), 0;
    if (h->nres >= MAX_RESPONSES) {
        wh_fields_free(headers);
        return fail(cx, "wasi:http: too many responses"), 0;
    }
    p3_response *r = &h->res[h->nres++];
    memset(r, 0, sizeof *r);
    r->h = h;
    r->status = status;
    r->headers = headers;
    headers->immutable = 1;
    r->live = 1;
    r->from_send = 1; /* its body is client.c's (response.consume-body, body_take) */
    return (uint32_t)h->nres;
}

/* ---- the provider ---- */

#define HE "result<_, *>"
static const kiln_chost_func types_funcs[] = {
    {"[constructor]fields", "() -> own<fields>", f_new},
    {"[static]fields.from-list", "(list<tuple<string, list<u8>>>) -> result<own<fields>, *>",
     f_from_list},
    {"[method]fields.get", "(borrow<fields>, string) -> list<list<u8>>", f_get},
    {"[method]fields.has", "(borrow<fields>, string) -> bool", f_has},
    {"[method]fields.set", "(borrow<fields>, string, list<list<u8>>) -> " HE, f_set},
    {"[method]fields.delete", "(borrow<fields>, string) -> " HE, f_delete},
    {"[method]fields.get-and-delete", "(borrow<fields>, string) -> result<list<list<u8>>, *>",
     f_get_and_delete},
    {"[method]fields.append", "(borrow<fields>, string, list<u8>) -> " HE, f_append},
    {"[method]fields.copy-all", "(borrow<fields>) -> list<tuple<string, list<u8>>>", f_copy_all},
    {"[method]fields.clone", "(borrow<fields>) -> own<fields>", f_clone},
    {"[method]request.get-method",
     "(borrow<request>) -> variant{get, head, post, put, delete, connect, options, trace, patch, "
     "other(string)}",
     r_method},
    {"[method]request.get-path-with-query", "(borrow<request>) -> option<string>", r_path},
    {"[method]request.get-scheme", "(borrow<request>) -> option<*>", r_scheme},
    {"[method]request.get-authority", "(borrow<request>) -> option<string>", r_authority},
    {"[method]request.get-headers", "(borrow<request>) -> own<fields>", r_headers},
    {"[static]request.consume-body", "(own<request>, future<*>) -> tuple<stream<u8>, future<*>>",
     r_consume},
    {"[static]response.new",
     "(own<fields>, option<stream<u8>>, future<*>) -> tuple<own<response>, future<*>>", s_new},
    {"[method]response.get-status-code", "(borrow<response>) -> u16", s_status},
    {"[method]response.set-status-code", "(borrow<response>, u16) -> result", s_set_status},
    {"[method]response.get-headers", "(borrow<response>) -> own<fields>", s_headers},
    {"[static]response.consume-body", "(own<response>, future<*>) -> tuple<stream<u8>, future<*>>",
     s_consume},
    {"[static]request.new",
     "(own<fields>, option<stream<u8>>, future<*>, option<own<request-options>>) -> "
     "tuple<own<request>, future<*>>",
     kiln_p3c_request_new},
    {"[method]request.set-method",
     "(borrow<request>, variant{get, head, post, put, delete, connect, options, trace, patch, "
     "other(string)}) -> result",
     kiln_p3c_set_method},
    {"[method]request.set-path-with-query", "(borrow<request>, option<string>) -> result",
     kiln_p3c_set_path},
    {"[method]request.set-scheme", "(borrow<request>, option<*>) -> result", kiln_p3c_set_scheme},
    {"[method]request.set-authority", "(borrow<request>, option<string>) -> result",
     kiln_p3c_set_authority},
    {"[method]request.get-options", "(borrow<request>) -> option<own<request-options>>",
     kiln_p3c_get_options},
    {"[constructor]request-options", "() -> own<request-options>", kiln_p3c_options_new},
    {"[method]request-options.get-connect-timeout", "(borrow<request-options>) -> option<u64>",
     kiln_p3c_get_connect},
    {"[method]request-options.set-connect-timeout",
     "(borrow<request-options>, option<u64>) -> result<_, *>", kiln_p3c_set_connect},
    {"[method]request-options.get-first-byte-timeout", "(borrow<request-options>) -> option<u64>",
     kiln_p3c_get_first_byte},
    {"[method]request-options.set-first-byte-timeout",
     "(borrow<request-options>, option<u64>) -> result<_, *>", kiln_p3c_set_first_byte},
    {"[method]request-options.get-between-bytes-timeout",
     "(borrow<request-options>) -> option<u64>", kiln_p3c_get_between},
    {"[method]request-options.set-between-bytes-timeout",
     "(borrow<request-options>, option<u64>) -> result<_, *>", kiln_p3c_set_between},
    {"[method]request-options.clone", "(borrow<request-options>) -> own<request-options>",
     kiln_p3c_options_clone},
};

static const kiln_chost_resource types_res[] = {{"fields", fields_dtor},
                                                {"request", request_dtor},
                                                {"response", response_dtor},
                                                {"request-options", kiln_p3c_options_dtor}};

#define NF (sizeof types_funcs / sizeof types_funcs[0])
static const kiln_chost_iface types_rc = {"wasi:http/types", RC, types_res, 4, types_funcs, NF};
static const kiln_chost_iface types_rel = {"wasi:http/types", REL, types_res, 4, types_funcs, NF};
static const kiln_chost_iface *const ifaces[] = {&types_rc, &types_rel, &kiln_p3c_client_rc,
                                                 &kiln_p3c_client_rel};

const kiln_chost_provider kiln_p3http_provider = {
    KILN_P3HTTP_PROVIDER, ifaces, 4, h_new, h_free, NULL};
