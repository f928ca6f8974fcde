/* Unit tests of the wasi:http host (wasihttp.h): field validation and case, header-error
 * cases (invalid-syntax, forbidden, immutable), from-list, get/set/delete/append/entries/
 * clone, immutable incoming-request headers without hop-by-hop ones, and the response
 * path: set starts the sink, outgoing-body writes reach it (kept until set), finish ends it,
 * an error-code outcome, a second set traps. Host functions are called directly with
 * lifted values, as the component runtime calls them. */
#include "host/wasihttp/wasihttp.h"
#include "host/wasip2/wasip2.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/test.h"

#include <string.h>

static kiln_cabi_cx cx;

static int call(void *ctx, const char *name, const kiln_cval *args, kiln_cval *res)
{
    const kiln_chost_func *f = kiln_chost_find_func(&kiln_wasihttp_types, name);
    if (!f) {
        fprintf(stderr, "no function %s\n", name);
        return -2;
    }
    kiln_cabi_cx_reset(&cx);
    cx.compact_bytes = 1;
    cx.err[0] = '\0';
    return f->fn(ctx, &cx, args, res);
}

static kiln_cval S(const char *s)
{
    kiln_cval v;
    v.str.ptr = (char *)s;
    v.str.len = strlen(s);
    return v;
}

static kiln_cval R(uint32_t rep)
{
    kiln_cval v;
    memset(&v, 0, sizeof v);
    v.res.rep = rep;
    return v;
}

/* The header-error case of a result (-1: ok). */
static int herr(const kiln_cval *r)
{
    return r->var.disc == 0 ? -1 : (int)r->var.payload->var.disc;
}

static uint32_t new_fields(void *h)
{
    kiln_cval res[1];
    CHECK_INT(call(h, "[constructor]fields", NULL, res), 0);
    return (uint32_t)res[0].res.rep;
}

static int append(void *h, uint32_t f, const char *n, const char *v)
{
    kiln_cval a[3] = {R(f), S(n), S(v)}, res[1];
    if (call(h, "[method]fields.append", a, res) < 0) return -2;
    return herr(&res[0]);
}

/* get(name) joined with ',' */
static void get_joined(void *h, uint32_t f, const char *n, char *out, size_t cap)
{
    kiln_cval a[2] = {R(f), S(n)}, res[1];
    out[0] = '\0';
    if (call(h, "[method]fields.get", a, res) < 0) return;
    size_t k = 0;
    for (uint32_t i = 0; i < res[0].agg.n; i++) {
        k += (size_t)snprintf(out + k, cap - k, "%s%.*s", i ? "," : "",
                              (int)res[0].agg.items[i].str.len, res[0].agg.items[i].str.ptr);
    }
}

static void test_validation(void)
{
    CHECK(wh_name_valid("x-a_b.c~1", 9));
    CHECK(!wh_name_valid("", 0));
    CHECK(!wh_name_valid("a b", 3));
    CHECK(!wh_name_valid("a:b", 3));
    CHECK(wh_value_valid((const uint8_t *)"a\tb c", 5));
    CHECK(!wh_value_valid((const uint8_t *)"a\r\nb", 4));
    CHECK(!wh_value_valid((const uint8_t *)"a\0b", 3));
    CHECK(wh_name_forbidden("Transfer-Encoding", 17));
    CHECK(wh_name_forbidden("connection", 10));
    CHECK(!wh_name_forbidden("content-type", 12));
}

static void test_fields(void *h)
{
    char buf[256];
    uint32_t f = new_fields(h);
    CHECK(f != 0);
    CHECK_INT(append(h, f, "X-One", "1"), -1);
    CHECK_INT(append(h, f, "x-one", "2"), -1);
    CHECK_INT(append(h, f, "bad name", "1"), WH_HE_INVALID_SYNTAX);
    CHECK_INT(append(h, f, "x-v", "a\nb"), WH_HE_INVALID_SYNTAX);
    CHECK_INT(append(h, f, "Connection", "close"), WH_HE_FORBIDDEN);
    get_joined(h, f, "X-ONE", buf, sizeof buf);
    CHECK_STR(buf, "1,2");
    /* entries: names lowercased, in order */
    kiln_cval a[3] = {R(f)}, res[1];
    CHECK_INT(call(h, "[method]fields.entries", a, res), 0);
    CHECK_INT(res[0].agg.n, 2);
    if (res[0].agg.n == 2) {
        CHECK(res[0].agg.items[0].agg.items[0].str.len == 5 &&
              memcmp(res[0].agg.items[0].agg.items[0].str.ptr, "x-one", 5) == 0);
    }
    /* set replaces all values */
    kiln_cval vals[2] = {S("a"), S("b")};
    a[1] = S("x-one");
    a[2].agg.items = vals;
    a[2].agg.n = 2;
    CHECK_INT(call(h, "[method]fields.set", a, res), 0);
    CHECK_INT(herr(&res[0]), -1);
    get_joined(h, f, "x-one", buf, sizeof buf);
    CHECK_STR(buf, "a,b");
    /* has / delete */
    a[1] = S("X-One");
    CHECK_INT(call(h, "[method]fields.has", a, res), 0);
    CHECK_INT(res[0].u, 1);
    CHECK_INT(call(h, "[method]fields.delete", a, res), 0);
    CHECK_INT(herr(&res[0]), -1);
    CHECK_INT(call(h, "[method]fields.has", a, res), 0);
    CHECK_INT(res[0].u, 0);
    /* clone is independent and mutable */
    CHECK_INT(append(h, f, "k", "v"), -1);
    CHECK_INT(call(h, "[method]fields.clone", a, res), 0);
    uint32_t c = (uint32_t)res[0].res.rep;
    CHECK_INT(append(h, c, "k", "w"), -1);
    get_joined(h, f, "k", buf, sizeof buf);
    CHECK_STR(buf, "v");
    get_joined(h, c, "k", buf, sizeof buf);
    CHECK_STR(buf, "v,w");
    /* from-list: a forbidden entry fails the whole list */
    kiln_cval pair[4] = {S("a"), S("1"), S("te"), S("x")}, items[2];
    items[0].agg.items = &pair[0];
    items[0].agg.n = 2;
    items[1].agg.items = &pair[2];
    items[1].agg.n = 2;
    kiln_cval la[1];
    la[0].agg.items = items;
    la[0].agg.n = 2;
    CHECK_INT(call(h, "[static]fields.from-list", la, res), 0);
    CHECK_INT(herr(&res[0]), WH_HE_FORBIDDEN);
    la[0].agg.n = 1;
    CHECK_INT(call(h, "[static]fields.from-list", la, res), 0);
    CHECK_INT(res[0].var.disc, 0);
}

typedef struct sink_log {
    int status, finished;
    kiln_buf body;
    char headers[256];
} sink_log;

static int s_start(void *arg, int status, const wh_fields *f)
{
    sink_log *l = arg;
    l->status = status;
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++)
        k += (size_t)snprintf(l->headers + k, sizeof l->headers - k, "%s=%s;", f->items[i].name,
                              (const char *)f->items[i].value);
    return 0;
}
static int s_write(void *arg, const void *d, size_t n)
{
    return kiln_buf_append(&((sink_log *)arg)->body, d, n);
}
static void s_finish(void *arg, const wh_fields *t)
{
    (void)t;
    ((sink_log *)arg)->finished++;
}

static void test_request_and_response(void)
{
    kiln_grants g = {0};
    char *err = NULL;
    void *p2 = kiln_wasip2_provider.ctx_new(&g, &err);
    void *h = kiln_wasihttp_provider.ctx_new(&g, &err);
    CHECK(p2 && h);
    if (!p2 || !h) return;
    kiln_wasihttp_header hs[] = {
        {"Host", 4, "x", 1}, {"Connection", 10, "keep-alive", 10}, {"X-Y", 3, "z", 1}};
    kiln_wasihttp_request req = {
        "PATCH", 5, "/p?q=1", 6, 0, "x", 1, hs, 3, (const uint8_t *)"body", 4, NULL, 0};
    sink_log log = {0, 0, KILN_BUF_INIT, ""};
    kiln_wasihttp_sink sink = {s_start, s_write, s_finish, &log, NULL, NULL, NULL};
    CHECK_INT(kiln_wasihttp_bind(h, p2, &req, &sink), 0);
    uint32_t rq = kiln_wasihttp_request_rep(h), op = kiln_wasihttp_outparam_rep(h);
    kiln_cval a[3] = {R(rq)}, res[1];
    CHECK_INT(call(h, "[method]incoming-request.method", a, res), 0);
    CHECK_INT(res[0].var.disc, 8); /* patch */
    CHECK_INT(call(h, "[method]incoming-request.headers", a, res), 0);
    uint32_t rh = (uint32_t)res[0].res.rep;
    char buf[256];
    get_joined(h, rh, "connection", buf, sizeof buf);
    CHECK_STR(buf, ""); /* hop-by-hop: not the guest's */
    get_joined(h, rh, "x-y", buf, sizeof buf);
    CHECK_STR(buf, "z");
    CHECK_INT(append(h, rh, "a", "b"), WH_HE_IMMUTABLE);
    /* the body: consume once, stream once */
    CHECK_INT(call(h, "[method]incoming-request.consume", a, res), 0);
    CHECK_INT(res[0].var.disc, 0);
    CHECK_INT(call(h, "[method]incoming-request.consume", a, res), 0);
    CHECK_INT(res[0].var.disc, 1);

    /* a response whose body is written before set: kept, then sent */
    uint32_t f = new_fields(h);
    CHECK_INT(append(h, f, "content-type", "text/plain"), -1);
    a[0] = R(f);
    CHECK_INT(call(h, "[constructor]outgoing-response", a, res), 0);
    uint32_t resp = (uint32_t)res[0].res.rep;
    a[0] = R(resp);
    CHECK_INT(call(h, "[method]outgoing-response.headers", a, res), 0);
    CHECK_INT(append(h, (uint32_t)res[0].res.rep, "x", "y"), WH_HE_IMMUTABLE);
    a[1].u = 42;
    CHECK_INT(call(h, "[method]outgoing-response.set-status-code", a, res), 0);
    a[1].u = 1000;
    CHECK_INT(call(h, "[method]outgoing-response.set-status-code", a, res), 0);
    CHECK_INT(res[0].var.disc, 1); /* not a status code */
    a[1].u = 201;
    CHECK_INT(call(h, "[method]outgoing-response.set-status-code", a, res), 0);
    CHECK_INT(call(h, "[method]outgoing-response.body", a, res), 0);
    uint32_t body = (uint32_t)res[0].var.payload->res.rep;
    a[0] = R(body);
    CHECK_INT(call(h, "[method]outgoing-body.write", a, res), 0);
    uint32_t stream = (uint32_t)res[0].var.payload->res.rep;
    p2_stream *s = p2_stream_get(p2, stream, P2_STREAM_OUT);
    CHECK(s && s->ops);
    if (s && s->ops) CHECK_INT(s->ops->write(s->ops_arg, "early ", 6), 0);
    CHECK_INT(log.status, 0); /* nothing sent before set */
    kiln_cval ok;
    memset(&ok, 0, sizeof ok);
    kiln_cval rp = R(resp);
    ok.var.disc = 0;
    ok.var.payload = &rp;
    kiln_cval sa[2] = {R(op), ok};
    CHECK_INT(call(h, "[static]response-outparam.set", sa, res), 0);
    CHECK_INT(log.status, 201);
    CHECK_STR(log.headers, "content-type=text/plain;");
    CHECK_STR(log.body.data ? log.body.data : "", "early ");
    if (s && s->ops) CHECK_INT(s->ops->write(s->ops_arg, "late", 4), 0);
    CHECK_STR(log.body.data ? log.body.data : "", "early late");
    CHECK_INT(log.finished, 0);
    kiln_cval fa[2] = {R(body)};
    fa[1].var.disc = 0;
    fa[1].var.payload = NULL;
    CHECK_INT(call(h, "[static]outgoing-body.finish", fa, res), 0);
    CHECK_INT(log.finished, 1);
    int finished;
    uint32_t ec;
    CHECK_INT(kiln_wasihttp_outcome_of(h, &finished, &ec), KILN_WASIHTTP_STARTED);
    CHECK_INT(finished, 1);
    /* writes after finish fail; a second set traps */
    if (s && s->ops) CHECK(s->ops->write(s->ops_arg, "x", 1) != 0);
    CHECK_INT(call(h, "[static]response-outparam.set", sa, res), -1);
    kiln_buf_free(&log.body);
    kiln_wasihttp_provider.ctx_free(h);
    kiln_wasip2_provider.ctx_free(p2);
}

static void test_error_outcome(void)
{
    kiln_grants g = {0};
    char *err = NULL;
    void *p2 = kiln_wasip2_provider.ctx_new(&g, &err);
    void *h = kiln_wasihttp_provider.ctx_new(&g, &err);
    kiln_wasihttp_request req = {"GET", 3, "/", 1, 0, NULL, 0, NULL, 0, NULL, 0, NULL, 0};
    sink_log log = {0, 0, KILN_BUF_INIT, ""};
    kiln_wasihttp_sink sink = {s_start, s_write, s_finish, &log, NULL, NULL, NULL};
    CHECK_INT(kiln_wasihttp_bind(h, p2, &req, &sink), 0);
    int finished;
    uint32_t ec;
    CHECK_INT(kiln_wasihttp_outcome_of(h, &finished, &ec), KILN_WASIHTTP_NOT_SET);
    kiln_cval e, er, res[1];
    memset(&e, 0, sizeof e);
    e.var.disc = 38; /* internal-error(none) */
    er.var.disc = 1;
    er.var.payload = &e;
    kiln_cval sa[2] = {R(kiln_wasihttp_outparam_rep(h)), er};
    CHECK_INT(call(h, "[static]response-outparam.set", sa, res), 0);
    CHECK_INT(kiln_wasihttp_outcome_of(h, &finished, &ec), KILN_WASIHTTP_ERROR);
    CHECK_STR(kiln_wasihttp_error_name(ec), "internal-error");
    CHECK_INT(log.status, 0);
    /* outbound HTTP to a host the component is not granted is denied */
    const kiln_chost_func *hf = kiln_chost_find_func(&kiln_wasihttp_outgoing_handler, "handle");
    uint32_t f = new_fields(h);
    kiln_cval a[2] = {R(f)};
    CHECK_INT(call(h, "[constructor]outgoing-request", a, res), 0);
    a[0] = R((uint32_t)res[0].res.rep);
    kiln_cval auth;
    memset(&auth, 0, sizeof auth);
    auth.str.ptr = "example.com";
    auth.str.len = 11;
    a[1].var.disc = 1;
    a[1].var.payload = &auth;
    CHECK_INT(call(h, "[method]outgoing-request.set-authority", a, res), 0);
    CHECK_INT(res[0].var.disc, 0);
    a[1].var.disc = 0;
    CHECK(hf != NULL);
    if (hf) {
        kiln_cabi_cx_reset(&cx);
        CHECK_INT(hf->fn(h, &cx, a, res), 0);
        CHECK_INT(res[0].var.disc, 1);
        CHECK_STR(kiln_wasihttp_error_name(res[0].var.payload->var.disc), "HTTP-request-denied");
    }
    kiln_wasihttp_provider.ctx_free(h);
    kiln_wasip2_provider.ctx_free(p2);
}

int main(void)
{
    CHECK_INT(kiln_cabi_cx_init(&cx), 0);
    test_validation();
    kiln_grants g = {0};
    char *err = NULL;
    void *h = kiln_wasihttp_provider.ctx_new(&g, &err);
    CHECK(h != NULL);
    if (h) test_fields(h);
    kiln_wasihttp_provider.ctx_free(h);
    test_request_and_response();
    test_error_outcome();
    kiln_cabi_cx_free(&cx);
    return test_finish("wasihttp_test");
}
