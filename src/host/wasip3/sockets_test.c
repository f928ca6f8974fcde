/* Unit tests of wasi:sockets 0.3 (sockets.h): both versions registered; the grant checks
 * (IP literals and "*", schemes tcp/udp/"*", ports and ranges, no default port, names
 * only through a remembered resolution, v6 canonical compare, name lookups allowed by a
 * grant's host part); address conversions both ways (v4, v6 with flow info and scope,
 * malformed values refused) and the remote-address checks; errno mapping; and the host
 * functions called directly as the runtime calls them: create, bind refused outside the
 * grants (access-denied) and allowed inside, connect refused (access-denied) and
 * synchronous connect to a local listener, getters, setters' argument checks, UDP bind,
 * forged handles trapping, lookups answered without a resolver (IP literals, refusals,
 * malformed names), and the process's cap on open sockets. The streams and async calls
 * need an instance: the e2e test tests/e2e/p3_sockets.sh covers them. */
#include "host/wasip3/sockets.h"
#include "util/alloc.h"
#include "util/test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static kiln_cabi_cx cx, acx; /* calls' results; arguments built by the test */

static int call(void *ctx, const char *name, const kiln_cval *args, kiln_cval *res)
{
    const kiln_chost_iface *i = kiln_chost_find("wasi:sockets/types@0.3.0", NULL);
    const kiln_chost_func *f = i ? kiln_chost_find_func(i, name) : NULL;
    if (!f) {
        fprintf(stderr, "no function %s\n", name);
        return -2;
    }
    kiln_cabi_cx_reset(&cx);
    cx.compact_bytes = 1;
    cx.err[0] = '\0';
    memset(res, 0, sizeof *res);
    return f->fn(ctx, &cx, args, res);
}

static struct sockaddr_storage v4(const char *ip, uint16_t port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    inet_pton(AF_INET, ip, &in->sin_addr);
    return ss;
}

static struct sockaddr_storage v6(const char *ip, uint16_t port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    inet_pton(AF_INET6, ip, &in6->sin6_addr);
    return ss;
}

static void test_registered(void)
{
    const char *names[] = {"wasi:sockets/types@0.3.0", "wasi:sockets/types@0.3.0-rc-2026-03-15",
                           "wasi:sockets/ip-name-lookup@0.3.0",
                           "wasi:sockets/ip-name-lookup@0.3.0-rc-2026-03-15"};
    for (int k = 0; k < 4; k++) {
        const kiln_chost_provider *p = NULL;
        CHECK(kiln_chost_find(names[k], &p) != NULL);
        CHECK(p == &kiln_p3sockets_provider);
    }
    const kiln_chost_iface *i = kiln_chost_find("wasi:sockets/types@0.3.0", NULL);
    CHECK(i && kiln_chost_find_func(i, "[method]tcp-socket.listen"));
    CHECK(i && kiln_chost_find_func(i, "[method]udp-socket.receive"));
    CHECK(i && kiln_chost_find_resource(i, "udp-socket") >= 0);
}

static void test_grants(void)
{
    const char *g[] = {"tcp://127.0.0.1:8000..8010", "udp://[::1]:53", "tcp://db.internal:5432",
                       "*://10.0.0.1:*", "http://127.0.0.2:80"};
    struct sockaddr_storage a;
    a = v4("127.0.0.1", 8005);
    CHECK(ks_allow_addr(g, 5, NULL, 0, &a, KS_TCP));
    CHECK(!ks_allow_addr(g, 5, NULL, 0, &a, KS_UDP)); /* another scheme */
    CHECK(!ks_allow_addr(g, 0, NULL, 0, &a, KS_TCP)); /* no grants: nothing */
    a = v4("127.0.0.1", 8011);
    CHECK(!ks_allow_addr(g, 5, NULL, 0, &a, KS_TCP)); /* past the range */
    a = v4("127.0.0.1", 0);
    CHECK(!ks_allow_addr(g, 5, NULL, 0, &a, KS_TCP)); /* port 0: only "*" */
    a = v6("0:0::1", 53);
    CHECK(ks_allow_addr(g, 5, NULL, 0, &a, KS_UDP)); /* canonical compare */
    CHECK(!ks_allow_addr(g, 5, NULL, 0, &a, KS_TCP));
    a = v4("10.0.0.1", 0);
    CHECK(ks_allow_addr(g, 5, NULL, 0, &a, KS_TCP)); /* "*" scheme, "*" port */
    CHECK(ks_allow_addr(g, 5, NULL, 0, &a, KS_UDP));
    a = v4("127.0.0.2", 80);
    CHECK(!ks_allow_addr(g, 5, NULL, 0, &a, KS_TCP)); /* an http grant is no tcp grant */
    /* a name: only an address the host resolved it to */
    a = v4("10.1.2.3", 5432);
    CHECK(!ks_allow_addr(g, 5, NULL, 0, &a, KS_TCP));
    ks_learned l;
    memset(&l, 0, sizeof l);
    snprintf(l.name, sizeof l.name, "db.internal");
    l.addr = v4("10.1.2.3", 0);
    CHECK(ks_allow_addr(g, 5, &l, 1, &a, KS_TCP));
    a = v4("10.1.2.3", 5433);
    CHECK(!ks_allow_addr(g, 5, &l, 1, &a, KS_TCP)); /* the grant's port still holds */
    a = v4("10.1.2.4", 5432);
    CHECK(!ks_allow_addr(g, 5, &l, 1, &a, KS_TCP));
    const char *star[] = {"tcp://*:*"};
    a = v6("2001:db8::7", 1);
    CHECK(ks_allow_addr(star, 1, NULL, 0, &a, KS_TCP));
    /* name lookups: a grant's host part, any scheme and port */
    CHECK(ks_allow_name(g, 5, "db.internal"));
    CHECK(ks_allow_name(g, 5, "127.0.0.1"));
    CHECK(ks_allow_name(g, 5, "::1"));
    CHECK(!ks_allow_name(g, 5, "evil.example"));
    CHECK(!ks_allow_name(g, 5, "127.1")); /* legacy spellings are no names */
    CHECK(!ks_allow_name(g, 0, "db.internal"));
    const char *wild[] = {"tcp://*.internal:1"};
    CHECK(ks_allow_name(wild, 1, "x.internal"));
    CHECK(!ks_allow_name(wild, 1, "internal"));
}

/* An ip-socket-address value for sa (parts from cx). */
static kiln_cval addr_val(const struct sockaddr_storage *sa)
{
    kiln_cval v;
    memset(&v, 0, sizeof v);
    CHECK_INT(ks_addr_to_cval(sa, &acx, &v, NULL), 0);
    return v;
}

static void test_addresses(void)
{
    kiln_cabi_cx_reset(&cx);
    struct sockaddr_storage a = v4("192.0.2.7", 4242), b;
    socklen_t len;
    kiln_cval v = addr_val(&a);
    CHECK_INT(v.var.disc, 0);
    CHECK_INT(v.var.payload->agg.items[0].u, 4242);
    CHECK_INT(v.var.payload->agg.items[1].agg.items[0].u, 192);
    CHECK_INT(v.var.payload->agg.items[1].agg.items[3].u, 7);
    CHECK_INT(ks_addr_from_cval(&v, &b, &len), 0);
    CHECK_INT(len, sizeof(struct sockaddr_in));
    CHECK(memcmp(&a, &b, sizeof(struct sockaddr_in)) == 0);
    a = v6("2001:db8::1:2", 443);
    ((struct sockaddr_in6 *)&a)->sin6_flowinfo = htonl(0x12345);
    ((struct sockaddr_in6 *)&a)->sin6_scope_id = 3;
    v = addr_val(&a);
    CHECK_INT(v.var.disc, 1);
    CHECK_INT(v.var.payload->agg.items[1].u, 0x12345);
    CHECK_INT(v.var.payload->agg.items[2].agg.items[0].u, 0x2001);
    CHECK_INT(v.var.payload->agg.items[2].agg.items[7].u, 2);
    CHECK_INT(v.var.payload->agg.items[3].u, 3);
    CHECK_INT(ks_addr_from_cval(&v, &b, &len), 0);
    CHECK(memcmp(&a, &b, sizeof(struct sockaddr_in6)) == 0);
    /* malformed values (a case or a tuple of the wrong size) are refused */
    v.var.disc = 2;
    CHECK_INT(ks_addr_from_cval(&v, &b, &len), -1);
    v.var.disc = 0; /* a v6 record read as v4 */
    CHECK_INT(ks_addr_from_cval(&v, &b, &len), -1);
    v.var.payload = NULL;
    CHECK_INT(ks_addr_from_cval(&v, &b, &len), -1);
    /* the remote-address rules */
    a = v4("0.0.0.0", 80);
    CHECK_INT(ks_addr_check(&a, AF_INET, 1), KS_E_INVALID_ARGUMENT);
    a = v4("127.0.0.1", 0);
    CHECK_INT(ks_addr_check(&a, AF_INET, 1), KS_E_INVALID_ARGUMENT);
    CHECK_INT(ks_addr_check(&a, AF_INET, 0), -1);
    a = v4("127.0.0.1", 80);
    CHECK_INT(ks_addr_check(&a, AF_INET6, 1), KS_E_INVALID_ARGUMENT); /* the family */
    CHECK_INT(ks_addr_check(&a, AF_INET, 1), -1);
    a = v6("::ffff:127.0.0.1", 80);
    CHECK_INT(ks_addr_check(&a, AF_INET6, 1), KS_E_INVALID_ARGUMENT); /* v4-mapped */
    a = v6("::", 80);
    CHECK_INT(ks_addr_check(&a, AF_INET6, 1), KS_E_INVALID_ARGUMENT);
    CHECK_INT(ks_errno_code(ECONNREFUSED), KS_E_CONNECTION_REFUSED);
    CHECK_INT(ks_errno_code(EADDRINUSE), KS_E_ADDRESS_IN_USE);
    CHECK_INT(ks_errno_code(EPIPE), KS_E_CONNECTION_BROKEN);
    CHECK_INT(ks_errno_code(12345), KS_E_OTHER);
}

static uint32_t err_of(const kiln_cval *res)
{
    return res->var.disc == 1 && res->var.payload ? res->var.payload->var.disc + 1 : 0; /* KS_E_* */
}

/* A TCP socket's rep (ok expected). */
static uint32_t tcp_new(void *ctx, int v6)
{
    kiln_cval a, res;
    memset(&a, 0, sizeof a);
    a.var.disc = (uint32_t)v6;
    CHECK_INT(call(ctx, "[static]tcp-socket.create", &a, &res), 0);
    CHECK_INT(res.var.disc, 0);
    return res.var.disc == 0 && res.var.payload ? res.var.payload->res.rep : 0;
}

static void test_functions(void)
{
    const char *grants[] = {"tcp://127.0.0.1:*", "udp://127.0.0.1:*"};
    kiln_grants g = {0};
    g.allowed_outbound_hosts = grants;
    g.nallowed_outbound_hosts = 2;
    char *err = NULL;
    void *none = kiln_p3sockets_provider.ctx_new(NULL, &err);
    void *app = kiln_p3sockets_provider.ctx_new(&g, &err); /* kiln up: no TCP bind */
    g.allow_tcp_bind = 1;                                  /* kiln run --allow-outbound */
    void *some = kiln_p3sockets_provider.ctx_new(&g, &err);
    CHECK(none && some && app);
    if (!none || !some || !app) return;
    kiln_cval args[3], res;
    memset(args, 0, sizeof args);
    /* an app's grant naming the address does not let it bind TCP (Spin), nor listen */
    {
        struct sockaddr_storage any = v4("127.0.0.1", 0);
        args[0].res.rep = tcp_new(app, 0);
        args[1] = addr_val(&any);
        CHECK_INT(call(app, "[method]tcp-socket.bind", args, &res), 0);
        CHECK_INT(err_of(&res), KS_E_ACCESS_DENIED);
        CHECK_INT(call(app, "[method]tcp-socket.listen", args, &res), 0);
        CHECK_INT(err_of(&res), KS_E_ACCESS_DENIED);
        kiln_p3sockets_provider.ctx_free(app);
    }
    /* without grants: bind and connect are access-denied */
    uint32_t s = tcp_new(none, 0);
    struct sockaddr_storage lo = v4("127.0.0.1", 0);
    args[0].res.rep = s;
    args[1] = addr_val(&lo);
    CHECK_INT(call(none, "[method]tcp-socket.bind", args, &res), 0);
    CHECK_INT(err_of(&res), KS_E_ACCESS_DENIED);
    struct sockaddr_storage far = v4("127.0.0.1", 9);
    args[1] = addr_val(&far);
    CHECK_INT(call(none, "[method]tcp-socket.connect", args, &res), 0);
    CHECK_INT(err_of(&res), KS_E_ACCESS_DENIED);
    CHECK_INT(call(none, "[method]tcp-socket.listen", args, &res), 0);
    CHECK_INT(err_of(&res), KS_E_ACCESS_DENIED); /* its implicit bind */
    CHECK_INT(call(none, "[method]tcp-socket.get-local-address", args, &res), 0);
    CHECK_INT(err_of(&res), KS_E_INVALID_STATE);
    /* a forged handle traps; a UDP handle is no TCP socket */
    args[0].res.rep = 999;
    CHECK_INT(call(none, "[method]tcp-socket.get-is-listening", args, &res), -1);
    /* with grants: a local listener, connected to synchronously (the call is not async) */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_storage srv = v4("127.0.0.1", 0);
    socklen_t sl = sizeof(struct sockaddr_in);
    CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&srv, sl) == 0 && listen(lfd, 4) == 0 &&
          getsockname(lfd, (struct sockaddr *)&srv, &sl) == 0);
    uint32_t c = tcp_new(some, 0);
    args[0].res.rep = c;
    args[1] = addr_val(&lo);
    CHECK_INT(call(some, "[method]tcp-socket.bind", args, &res), 0);
    CHECK_INT(res.var.disc, 0);
    CHECK_INT(call(some, "[method]tcp-socket.bind", args, &res), 0);
    CHECK_INT(err_of(&res), KS_E_INVALID_STATE); /* bound already */
    args[1] = addr_val(&srv);
    CHECK_INT(call(some, "[method]tcp-socket.connect", args, &res), 0);
    CHECK_INT(res.var.disc, 0);
    CHECK_INT(call(some, "[method]tcp-socket.get-remote-address", args, &res), 0);
    CHECK_INT(res.var.disc, 0);
    CHECK_INT(res.var.payload->var.payload->agg.items[0].u,
              ntohs(((struct sockaddr_in *)&srv)->sin_port));
    CHECK_INT(call(some, "[method]tcp-socket.connect", args, &res), 0);
    CHECK_INT(err_of(&res), KS_E_INVALID_STATE); /* connected already */
    struct sockaddr_storage other = v4("192.0.2.1", 80);
    uint32_t c2 = tcp_new(some, 0);
    args[0].res.rep = c2;
    args[1] = addr_val(&other);
    CHECK_INT(call(some, "[method]tcp-socket.connect", args, &res), 0);
    CHECK_INT(err_of(&res), KS_E_ACCESS_DENIED); /* outside the grant */
    struct sockaddr_storage any = v4("0.0.0.0", 80);
    args[1] = addr_val(&any);
    CHECK_INT(call(some, "[method]tcp-socket.connect", args, &res), 0);
    CHECK_INT(err_of(&res), KS_E_INVALID_ARGUMENT);
    /* setters check their values */
    args[0].res.rep = c;
    args[1].u = 0;
    CHECK_INT(call(some, "[method]tcp-socket.set-hop-limit", args, &res), 0);
    CHECK_INT(err_of(&res), KS_E_INVALID_ARGUMENT);
    args[1].u = 3000000000ull; /* 3 s */
    CHECK_INT(call(some, "[method]tcp-socket.set-keep-alive-idle-time", args, &res), 0);
    CHECK_INT(res.var.disc, 0);
    CHECK_INT(call(some, "[method]tcp-socket.get-keep-alive-idle-time", args, &res), 0);
    CHECK_INT(res.var.payload->u, 3000000000ull);
    args[1].u = 1;
    CHECK_INT(call(some, "[method]tcp-socket.set-keep-alive-enabled", args, &res), 0);
    CHECK_INT(call(some, "[method]tcp-socket.get-keep-alive-enabled", args, &res), 0);
    CHECK_INT(res.var.payload->u, 1);
    CHECK_INT(call(some, "[method]tcp-socket.get-address-family", args, &res), 0);
    CHECK_INT(res.var.disc, 0);
    /* UDP: bind inside the grant; the TCP getters refuse a UDP handle */
    memset(args, 0, sizeof args);
    CHECK_INT(call(some, "[static]udp-socket.create", args, &res), 0);
    uint32_t u = res.var.payload ? res.var.payload->res.rep : 0;
    args[0].res.rep = u;
    args[1] = addr_val(&lo);
    CHECK_INT(call(some, "[method]udp-socket.bind", args, &res), 0);
    CHECK_INT(res.var.disc, 0);
    CHECK_INT(call(some, "[method]tcp-socket.get-is-listening", args, &res), -1);
    args[1] = addr_val(&other);
    CHECK_INT(call(some, "[method]udp-socket.connect", args, &res), 0);
    CHECK_INT(err_of(&res), KS_E_ACCESS_DENIED);
    close(lfd);
    kiln_p3sockets_provider.ctx_free(none);
    kiln_p3sockets_provider.ctx_free(some);
}

/* resolve-addresses called synchronously: the answers that need no resolver. */
static void test_lookup(void)
{
    const char *grants[] = {"tcp://127.0.0.1:5432", "tcp://db.internal:1"};
    kiln_grants g = {0};
    g.allowed_outbound_hosts = grants;
    g.nallowed_outbound_hosts = 2;
    char *err = NULL;
    void *c = kiln_p3sockets_provider.ctx_new(&g, &err);
    CHECK(c != NULL);
    if (!c) return;
    const kiln_chost_iface *i = kiln_chost_find("wasi:sockets/ip-name-lookup@0.3.0", NULL);
    const kiln_chost_func *f = i ? kiln_chost_find_func(i, "resolve-addresses") : NULL;
    CHECK(f != NULL);
    if (!f) return;
    const char *names[] = {"127.0.0.1", "evil.example", "db.internal:80", "", "a b", "127.1"};
    const int want[] = {-1, 0, 1, 1, 1, 0}; /* -1 ok; else the error case */
    for (int k = 0; k < 6; k++) {
        kiln_cval a, res;
        memset(&a, 0, sizeof a);
        memset(&res, 0, sizeof res);
        a.str.ptr = (char *)names[k];
        a.str.len = strlen(names[k]);
        kiln_cabi_cx_reset(&cx);
        CHECK_INT(f->fn(c, &cx, &a, &res), 0);
        if (want[k] < 0) {
            CHECK_INT(res.var.disc, 0);
            CHECK(res.var.payload && res.var.payload->agg.n == 1 &&
                  res.var.payload->agg.items[0].var.disc == 0 &&
                  res.var.payload->agg.items[0].var.payload->agg.items[0].u == 127);
        } else {
            CHECK_INT(res.var.disc, 1);
            CHECK(res.var.payload && (int)res.var.payload->var.disc == want[k]);
        }
    }
    kiln_p3sockets_provider.ctx_free(c);
}

/* The process's cap on guests' sockets: a quarter of the descriptor limit (64 here). */
static void test_cap(void)
{
    char *err = NULL;
    void *c = kiln_p3sockets_provider.ctx_new(NULL, &err);
    CHECK(c != NULL);
    if (!c) return;
    int made = 0, refused = 0;
    for (int k = 0; k < 40; k++) {
        kiln_cval a, res;
        memset(&a, 0, sizeof a);
        if (call(c, "[static]tcp-socket.create", &a, &res) != 0) break;
        if (res.var.disc == 0)
            made++;
        else if (res.var.payload && res.var.payload->var.disc + 1 == KS_E_OUT_OF_MEMORY)
            refused++;
    }
    CHECK_INT(made, 16);
    CHECK_INT(refused, 24);
    kiln_p3sockets_provider.ctx_free(c); /* the cap is given back */
    c = kiln_p3sockets_provider.ctx_new(NULL, &err);
    if (c) {
        kiln_cval a, res;
        memset(&a, 0, sizeof a);
        CHECK_INT(call(c, "[static]tcp-socket.create", &a, &res), 0);
        CHECK_INT(res.var.disc, 0);
        kiln_p3sockets_provider.ctx_free(c);
    }
}

int main(void)
{
    struct rlimit rl = {64, 64}; /* before the first socket: the cap is 16 */
    CHECK_INT(setrlimit(RLIMIT_NOFILE, &rl), 0);
    CHECK_INT(kiln_cabi_cx_init(&cx), 0);
    CHECK_INT(kiln_cabi_cx_init(&acx), 0);
    test_registered();
    test_grants();
    test_addresses();
    test_functions();
    test_lookup();
    test_cap();
    kiln_cabi_cx_free(&cx);
    kiln_cabi_cx_free(&acx);
    return test_finish("sockets_test");
}
