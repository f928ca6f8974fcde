/* Unit tests of wasi:http 0.3's outbound half (client.h) and the shared send path of
 * host/wasihttp (outgoing.c's wh_send): the provider serves wasi:http/client `send` under
 * both versions and the new wasi:http/types functions; request-options (new, set/get of
 * the three timeouts, zero meaning "at once", none, clone, unknown handles trapping);
 * send, request getters and response.consume-body on handles that are not theirs trap;
 * the request setters' checks (path-with-query, authority, method, scheme: refused values
 * are err and change nothing);
 * wh_send refuses what no grant allows (a host, a chained component, a self request) with
 * HTTP-request-denied, an other scheme with HTTP-protocol-error, a bad content-length
 * with HTTP-request-body-size, and reaches a granted host (connection-refused on a closed
 * port). request.new, the streams and a real send need an instance: the e2e test
 * tests/e2e/up_wasi_http_p3_client.sh covers them. Host functions are called directly
 * with lifted values, as the component runtime calls them. */
#include "host/wasihttp/internal.h"
#include "host/wasip3/client.h"
#include "host/wasip3/http.h"
#include "util/alloc.h"
#include "util/test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static kiln_cabi_cx cx;

static int call_in(const char *iface, void *ctx, const char *name, const kiln_cval *args,
                   kiln_cval *res)
{
    const kiln_chost_iface *i = kiln_chost_find(iface, NULL);
    const kiln_chost_func *f = i ? kiln_chost_find_func(i, name) : NULL;
    if (!f) {
        fprintf(stderr, "no function %s in %s\n", name, iface);
        return -2;
    }
    kiln_cabi_cx_reset(&cx);
    cx.compact_bytes = 1;
    cx.err[0] = '\0';
    return f->fn(ctx, &cx, args, res);
}

static int call(void *ctx, const char *name, const kiln_cval *args, kiln_cval *res)
{
    return call_in("wasi:http/types@0.3.0", ctx, name, args, res);
}

static kiln_cval R(uint32_t rep)
{
    kiln_cval v;
    memset(&v, 0, sizeof v);
    v.res.rep = rep;
    return v;
}

static void test_registered(void)
{
    const kiln_chost_provider *p = NULL;
    const char *names[] = {"wasi:http/client@0.3.0", "wasi:http/client@0.3.0-rc-2026-03-15"};
    for (int k = 0; k < 2; k++) {
        const kiln_chost_iface *i = kiln_chost_find(names[k], &p);
        CHECK(i != NULL);
        CHECK(i && kiln_chost_find_func(i, "send") != NULL);
        CHECK(p != NULL && strcmp(p->name, KILN_P3HTTP_PROVIDER) == 0);
    }
    const kiln_chost_iface *t = kiln_chost_find("wasi:http/types@0.3.0-rc-2026-03-15", NULL);
    CHECK(t != NULL);
    const char *fns[] = {"[static]request.new",
                         "[method]request.set-method",
                         "[method]request.set-path-with-query",
                         "[method]request.set-scheme",
                         "[method]request.set-authority",
                         "[method]request.get-options",
                         "[constructor]request-options",
                         "[method]request-options.set-between-bytes-timeout",
                         "[method]request-options.clone",
                         "[static]response.consume-body"};
    for (size_t k = 0; t && k < sizeof fns / sizeof fns[0]; k++)
        CHECK(kiln_chost_find_func(t, fns[k]) != NULL);
    CHECK(t && kiln_chost_find_resource(t, "request-options") >= 0);
}

/* set-*-timeout(o, some(v)) (v -1: none); the result's case (0 ok, 1 err). */
static int set_timeout(void *h, const char *which, uint32_t o, long long v)
{
    char name[80];
    snprintf(name, sizeof name, "[method]request-options.set-%s-timeout", which);
    kiln_cval d;
    memset(&d, 0, sizeof d);
    d.u = (uint64_t)v;
    kiln_cval a[2] = {R(o), {.var = {v < 0 ? 0u : 1u, v < 0 ? NULL : &d}}}, res[1];
    if (call(h, name, a, res) < 0) return -2;
    return (int)res[0].var.disc;
}

/* get-*-timeout(o): the value, -1 for none, -2 on a trap. */
static long long get_timeout(void *h, const char *which, uint32_t o)
{
    char name[80];
    snprintf(name, sizeof name, "[method]request-options.get-%s-timeout", which);
    kiln_cval a[1] = {R(o)}, res[1];
    if (call(h, name, a, res) < 0) return -2;
    return res[0].var.disc ? (long long)res[0].var.payload->u : -1;
}

static void test_options(void *h)
{
    kiln_cval res[1];
    CHECK_INT(call(h, "[constructor]request-options", NULL, res), 0);
    uint32_t o = res[0].res.rep;
    CHECK(o != 0);
    CHECK_INT((int)get_timeout(h, "connect", o), -1);
    CHECK_INT(set_timeout(h, "connect", o, 5000), 0);
    CHECK_INT(set_timeout(h, "first-byte", o, 0), 0);
    CHECK_INT(set_timeout(h, "between-bytes", o, 7), 0);
    CHECK_INT((int)get_timeout(h, "connect", o), 5000);
    CHECK_INT((int)get_timeout(h, "first-byte", o), 1); /* zero: at once */
    CHECK_INT((int)get_timeout(h, "between-bytes", o), 7);
    CHECK_INT(set_timeout(h, "between-bytes", o, -1), 0);
    CHECK_INT((int)get_timeout(h, "between-bytes", o), -1);
    kiln_cval a[1] = {R(o)};
    CHECK_INT(call(h, "[method]request-options.clone", a, res), 0);
    uint32_t c = res[0].res.rep;
    CHECK(c != 0 && c != o);
    CHECK_INT((int)get_timeout(h, "connect", c), 5000);
    CHECK_INT(set_timeout(h, "connect", c, 9), 0); /* a clone is mutable, and apart */
    CHECK_INT((int)get_timeout(h, "connect", o), 5000);
    const kiln_chost_iface *t = kiln_chost_find("wasi:http/types@0.3.0", NULL);
    t->resources[kiln_chost_find_resource(t, "request-options")].dtor(h, c);
    CHECK_INT((int)get_timeout(h, "connect", c), -2); /* dropped: unknown */
    CHECK(strstr(cx.err, "unknown request-options") != NULL);
}

static void test_foreign_handles(void *h)
{
    kiln_cval a[2] = {R(1), R(0)}, res[1];
    /* send takes only requests made by request.new; rep 1 is the incoming request */
    CHECK_INT(call_in("wasi:http/client@0.3.0", h, "send", a, res), -1);
    CHECK(strstr(cx.err, "unknown request") != NULL);
    a[0] = R(KILN_P3C_BASE + 5);
    CHECK_INT(call(h, "[method]request.get-method", a, res), -1);
    CHECK(strstr(cx.err, "unknown request") != NULL);
    CHECK_INT(call(h, "[method]request.set-authority", a, res), -1);
    a[0] = R(3);
    CHECK_INT(call(h, "[static]response.consume-body", a, res), -1);
    CHECK(strstr(cx.err, "not supported") != NULL);
    CHECK(kiln_p3c_owns(KILN_P3C_BASE) && !kiln_p3c_owns(1));
}

static kiln_cval S(const char *s)
{
    kiln_cval v;
    memset(&v, 0, sizeof v);
    v.str.ptr = (char *)s;
    v.str.len = strlen(s);
    return v;
}

/* The setters request.set-* share with 0.2 (outgoing.c's wh_req_*): the case of the
 * result (0 ok, 1 err), -1 on a trap. */
static int set_target(wh_outreq *r, int path, const char *v)
{
    kiln_cval str = S(v ? v : ""), opt = {.var = {v ? 1u : 0u, v ? &str : NULL}}, res;
    kiln_cabi_cx_reset(&cx);
    if (wh_req_set_target(&cx, r, path, &opt, &res) < 0) return -1;
    return (int)res.var.disc;
}

static int set_method(wh_outreq *r, uint32_t disc, const char *other)
{
    kiln_cval str = S(other ? other : ""), m = {.var = {disc, other ? &str : NULL}}, res;
    kiln_cabi_cx_reset(&cx);
    if (wh_req_set_method(&cx, r, &m, &res) < 0) return -1;
    return (int)res.var.disc;
}

static int set_scheme(wh_outreq *r, int some, uint32_t disc, const char *other)
{
    kiln_cval str = S(other ? other : ""), sc = {.var = {disc, other ? &str : NULL}};
    kiln_cval opt = {.var = {some ? 1u : 0u, some ? &sc : NULL}}, res;
    kiln_cabi_cx_reset(&cx);
    if (wh_req_set_scheme(&cx, r, &opt, &res) < 0) return -1;
    return (int)res.var.disc;
}

static void test_setters(void)
{
    wh_outreq r;
    memset(&r, 0, sizeof r);
    CHECK_INT(set_target(&r, 1, "/a?b=c"), 0);
    CHECK_STR(r.path, "/a?b=c");
    CHECK_INT(set_target(&r, 1, "no-slash"), 1);
    CHECK_INT(set_target(&r, 1, "/with space"), 1);
    CHECK_INT(set_target(&r, 1, "/frag#x"), 1);
    CHECK_STR(r.path, "/a?b=c"); /* a refused value changes nothing */
    CHECK_INT(set_target(&r, 1, NULL), 0);
    CHECK(r.path == NULL);
    CHECK_INT(set_target(&r, 0, "example.com:8080"), 0);
    CHECK_STR(r.authority, "example.com:8080");
    CHECK_INT(set_target(&r, 0, "a/b"), 1);
    CHECK_INT(set_method(&r, M_POST, NULL), 0);
    CHECK_INT((int)r.method, M_POST);
    CHECK_INT(set_method(&r, M_OTHER, "PURGE"), 0);
    CHECK_STR(r.method_other, "PURGE");
    CHECK_INT(set_method(&r, M_OTHER, "bad name"), 1);
    CHECK_INT(set_method(&r, M_OTHER + 1, NULL), 1);
    kiln_cval res;
    kiln_cabi_cx_reset(&cx);
    CHECK_INT(wh_req_method(&cx, &r, &res), 0);
    CHECK_INT((int)res.var.disc, M_OTHER);
    CHECK(res.var.payload && res.var.payload->str.len == 5);
    CHECK_INT(set_scheme(&r, 1, S_HTTPS, NULL), 0);
    CHECK(r.has_scheme && r.scheme == S_HTTPS);
    CHECK_INT(set_scheme(&r, 1, S_OTHER, ""), 1);
    CHECK_INT(set_scheme(&r, 1, S_OTHER, "ht:tp"), 1);
    CHECK_INT(set_scheme(&r, 1, S_OTHER, "ftp"), 0);
    CHECK_STR(r.scheme_other, "ftp");
    CHECK_INT(set_scheme(&r, 0, 0, NULL), 0);
    CHECK(!r.has_scheme);
    kiln_cabi_cx_reset(&cx);
    CHECK_INT(wh_req_scheme(&cx, &r, &res), 0);
    CHECK_INT((int)res.var.disc, 0); /* none */
    kiln_free(r.path);
    kiln_free(r.authority);
    kiln_free(r.method_other);
    kiln_free(r.scheme_other);
}

/* A port nothing listens on (bound, then closed). */
static unsigned closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    unsigned port = 0;
    if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(s, (struct sockaddr *)&a, &n) == 0)
        port = ntohs(a.sin_port);
    if (s >= 0) close(s);
    return port;
}

/* wh_send of GET http://authority/ from origin o: the transfer's first error-code once it
 * fails (0 when it did not fail at once and none comes), or the refusal's. */
static uint32_t send_to(const wh_origin *o, const char *authority, uint32_t scheme, int cl)
{
    wh_outreq r;
    memset(&r, 0, sizeof r);
    r.headers = wh_fields_new();
    if (cl) wh_fields_append(r.headers, "content-length", 14, (const uint8_t *)"x", 1);
    r.method = M_GET;
    r.has_scheme = 1;
    r.scheme = scheme;
    r.scheme_other = scheme == S_OTHER ? kiln_strdup("ftp") : NULL;
    r.authority = kiln_strdup(authority);
    uint32_t ecode = 0;
    wh_xfer *x = wh_send(o, &r, NULL, NULL, &ecode);
    if (x) {
        int fd;
        short ev;
        uint64_t dl;
        for (int i = 0; i < 2000 && !wh_xfer_check_head(x, &fd, &ev, &dl); i++)
            usleep(1000);
        uint16_t st;
        const wh_fields *hd;
        if (wh_xfer_response(x, &st, &hd, &ecode) == 0) ecode = 0;
        wh_xfer_release(x);
    }
    wh_fields_free(r.headers);
    kiln_free(r.scheme_other);
    kiln_free(r.authority);
    return ecode;
}

static void test_send_rules(void)
{
    unsigned port = closed_port();
    char auth[64], grant[80];
    snprintf(auth, sizeof auth, "127.0.0.1:%u", port);
    snprintf(grant, sizeof grant, "http://127.0.0.1:%u", port);
    const char *grants[] = {grant};
    wh_origin none = {"c", NULL, 0, NULL, NULL};
    wh_origin some = {"c", grants, 1, NULL, NULL};
    CHECK_INT((int)send_to(&none, auth, S_HTTP, 0), WH_E_HTTP_REQUEST_DENIED);
    CHECK_INT((int)send_to(&none, "back.spin.internal", S_HTTP, 0), WH_E_HTTP_REQUEST_DENIED);
    CHECK_INT((int)send_to(&none, "", S_HTTP, 0), WH_E_HTTP_REQUEST_DENIED); /* self */
    CHECK_INT((int)send_to(&some, "other.example:80", S_HTTP, 0), WH_E_HTTP_REQUEST_DENIED);
    CHECK_INT((int)send_to(&some, auth, S_HTTPS, 0), WH_E_HTTP_REQUEST_DENIED); /* the scheme */
    CHECK_INT((int)send_to(&some, auth, S_OTHER, 0), WH_E_HTTP_PROTOCOL_ERROR);
    CHECK_INT((int)send_to(&some, auth, S_HTTP, 1), WH_E_HTTP_REQUEST_BODY_SIZE);
    CHECK_INT((int)send_to(&some, "user@127.0.0.1", S_HTTP, 0), WH_E_HTTP_REQUEST_URI_INVALID);
    if (port) CHECK_INT((int)send_to(&some, auth, S_HTTP, 0), WH_E_CONNECTION_REFUSED);
}

int main(void)
{
    CHECK_INT(kiln_cabi_cx_init(&cx), 0);
    test_registered();
    kiln_grants g = {0};
    char *err = NULL;
    void *h = kiln_p3http_provider.ctx_new(&g, &err);
    CHECK(h != NULL);
    if (h) {
        test_options(h);
        test_foreign_handles(h);
        kiln_p3http_provider.ctx_free(h);
    }
    test_setters();
    test_send_rules();
    kiln_cabi_cx_free(&cx);
    return test_finish("client_test");
}
