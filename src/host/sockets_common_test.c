/* sockets_common_test.c — the rules wasi:sockets 0.2 and 0.3 share (sockets_common.h):
 * Spin's grant rules (TCP bind only under `kiln run`, connect by a tcp grant, UDP by a udp
 * grant, wildcard hosts and ports, a learned name), ks_grants from kiln_grants, the
 * errno mapping, names to resolve, and a resolution on its thread. */
#include "host/sockets_common.h"
#include "util/test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

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

static void test_spin_rules(void)
{
    const char *g[] = {"tcp://127.0.0.1:8000..8010", "udp://[::1]:53", "tcp://db.internal:5432",
                       "*://10.0.0.1:*", "http://127.0.0.2:80"};
    struct sockaddr_storage a = v4("127.0.0.1", 8005);
    CHECK(!ks_allow_op(g, 5, NULL, 0, 0, &a, KS_TCP_BIND)); /* apps (kiln up): never */
    CHECK(ks_allow_op(g, 5, NULL, 0, 1, &a, KS_TCP_BIND));  /* kiln run: by the grant */
    CHECK(ks_allow_op(g, 5, NULL, 0, 0, &a, KS_TCP));
    CHECK(!ks_allow_op(g, 5, NULL, 0, 0, &a, KS_UDP)); /* a tcp grant is no udp grant */
    a = v4("127.0.0.2", 80);
    CHECK(!ks_allow_op(g, 5, NULL, 0, 0, &a, KS_TCP)); /* an http grant is no tcp grant */
    a = v4("10.0.0.1", 9);
    CHECK(ks_allow_op(g, 5, NULL, 0, 0, &a, KS_TCP)); /* scheme "*", port "*" */
    CHECK(ks_allow_op(g, 5, NULL, 0, 0, &a, KS_UDP));
    a = v4("10.0.0.2", 9);
    CHECK(!ks_allow_op(g, 5, NULL, 0, 1, &a, KS_TCP_BIND)); /* no grant names it */
    const char *up[] = {"tcp://*:6379", "udp://127.0.0.1:*"};
    struct sockaddr_storage r1 = v4("10.1.2.3", 6379), r2 = v4("10.1.2.3", 6380);
    struct sockaddr_storage u1 = v4("127.0.0.1", 53), u0 = v4("127.0.0.1", 0);
    CHECK(ks_allow_op(up, 2, NULL, 0, 0, &r1, KS_TCP)); /* host "*" */
    CHECK(!ks_allow_op(up, 2, NULL, 0, 0, &r2, KS_TCP));
    CHECK(!ks_allow_op(up, 2, NULL, 0, 0, &r1, KS_TCP_BIND));
    CHECK(!ks_allow_op(up, 2, NULL, 0, 0, &r1, KS_UDP));
    CHECK(ks_allow_op(up, 2, NULL, 0, 0, &u1, KS_UDP)); /* udp bind, connect, send-to */
    CHECK(ks_allow_op(up, 2, NULL, 0, 0, &u0, KS_UDP)); /* port 0: by port "*" */
    CHECK(!ks_allow_op(up, 2, NULL, 0, 0, &u1, KS_TCP));
    CHECK(!ks_allow_op(up, 0, NULL, 0, 1, &u1, KS_UDP)); /* no grants: nothing */
    /* a name the instance resolved: its addresses, at the grant's port only */
    ks_learned l;
    memset(&l, 0, sizeof l);
    strcpy(l.name, "db.internal");
    l.addr = v4("192.0.2.9", 0);
    a = v4("192.0.2.9", 5432);
    CHECK(ks_allow_op(g, 5, &l, 1, 0, &a, KS_TCP));
    CHECK(!ks_allow_op(g, 5, NULL, 0, 0, &a, KS_TCP));
    a = v4("192.0.2.9", 5433);
    CHECK(!ks_allow_op(g, 5, &l, 1, 0, &a, KS_TCP));
    CHECK(ks_allow_name(g, 5, "db.internal"));
    CHECK(!ks_allow_name(g, 5, "evil.example"));
}

static void test_grants_ctx(void)
{
    const char *list[] = {"tcp://127.0.0.1:5432"};
    kiln_grants g;
    memset(&g, 0, sizeof g);
    g.component = "app";
    g.allowed_outbound_hosts = list;
    g.nallowed_outbound_hosts = 1;
    ks_grants c;
    CHECK_INT(ks_grants_init(&c, &g), 0);
    struct sockaddr_storage a = v4("127.0.0.1", 5432);
    CHECK(ks_allowed(&c, &a, KS_TCP));
    CHECK(!ks_allowed(&c, &a, KS_TCP_BIND)); /* allow_tcp_bind 0: an app */
    ks_grants_fini(&c);
    g.allow_tcp_bind = 1;
    CHECK_INT(ks_grants_init(&c, &g), 0);
    CHECK(ks_allowed(&c, &a, KS_TCP_BIND));
    ks_learn(&c, "db", &a);
    ks_learn(&c, "db", &a); /* once */
    CHECK_INT(c.nlearned, 1);
    ks_grants_fini(&c);
    CHECK_INT(ks_grants_init(&c, NULL), 0); /* no grants */
    CHECK(!ks_allowed(&c, &a, KS_TCP));
    ks_grants_fini(&c);
    /* A learned name grants its address; the array exists only once something is learned,
     * and keeps the newest KS_MAX_LEARNED. */
    const char *byname[] = {"tcp://db.internal:5432"};
    g.allowed_outbound_hosts = byname;
    CHECK_INT(ks_grants_init(&c, &g), 0);
    CHECK(c.learned == NULL);
    struct sockaddr_storage b = v4("10.1.2.3", 5432);
    CHECK(!ks_allowed(&c, &b, KS_TCP));
    ks_learn(&c, "db.internal", &b);
    CHECK(c.learned != NULL);
    CHECK(ks_allowed(&c, &b, KS_TCP));
    for (int i = 0; i < KS_MAX_LEARNED; i++) {
        char name[32];
        snprintf(name, sizeof name, "n%d.example", i);
        ks_learn(&c, name, &a);
    }
    CHECK_INT(c.nlearned, KS_MAX_LEARNED);
    CHECK(!ks_allowed(&c, &b, KS_TCP)); /* the oldest went */
    ks_grants_fini(&c);
}

static void test_errno_and_names(void)
{
    CHECK_INT(ks_errno_code(ECONNREFUSED), KS_E_CONNECTION_REFUSED);
    CHECK_INT(ks_errno_code(EADDRINUSE), KS_E_ADDRESS_IN_USE);
    CHECK_INT(ks_errno_code(EACCES), KS_E_ACCESS_DENIED);
    CHECK_INT(ks_errno_code(12345), KS_E_OTHER);
    char out[256];
    CHECK_INT(ks_norm_name("LocalHost.", 10, out, sizeof out), 0);
    CHECK(strcmp(out, "localhost") == 0);
    CHECK_INT(ks_norm_name("host:80", 7, out, sizeof out), -1); /* a port */
    CHECK_INT(ks_norm_name("::1", 3, out, sizeof out), 0);
    CHECK_INT(ks_norm_name("", 0, out, sizeof out), -1);
    CHECK_INT(ks_norm_name("a b", 3, out, sizeof out), -1);
}

static void test_resolve(void)
{
    ks_resolve *r = ks_resolve_start("localhost");
    CHECK(r != NULL);
    if (!r) return;
    int gai = -1;
    const struct sockaddr_storage *addrs = NULL;
    size_t n = 0;
    for (int i = 0; i < 1000 && !ks_resolve_done(r, &gai, &addrs, &n); i++) {
        struct pollfd p = {ks_resolve_fd(r), POLLIN, 0};
        poll(&p, 1, 10);
    }
    CHECK_INT(gai, 0);
    CHECK(n >= 1);
    ks_resolve_free(r);
}

int main(void)
{
    test_spin_rules();
    test_grants_ctx();
    test_errno_and_names();
    test_resolve();
    return test_finish("sockets_common");
}
