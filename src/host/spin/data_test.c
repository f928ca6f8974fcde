/* data_test.c — what the data hosts check before connecting: allowed_outbound_hosts grants
 * of a scheme (redis, postgres) matched through the outbound HTTP matcher, with the
 * scheme's default port, and the host:port of a URL (userinfo left out). */
#include "host/spin/data.h"
#include "host/spin/spin.h"
#include "util/alloc.h"
#include "util/test.h"

#include <string.h>

static void *ctx_with(const char *const *hosts, size_t n)
{
    kiln_grants g;
    memset(&g, 0, sizeof g);
    g.component = "test";
    g.allowed_outbound_hosts = hosts;
    g.nallowed_outbound_hosts = n;
    char *err = NULL;
    void *ctx = kiln_spin_provider.ctx_new(&g, &err);
    kiln_free(err);
    return ctx;
}

static int allowed(void *ctx, const char *scheme, uint16_t port, const char *hp)
{
    wh_target t;
    return spin_outbound_allowed(ctx, scheme, port, hp, strlen(hp), &t);
}

int main(void)
{
    /* the list is copied: the grants are only borrowed */
    char g0[] = "redis://cache.internal", g1[] = "*://10.0.0.5:*",
         g2[] = "redis://*.example.com:7000", g3[] = "postgres://db.internal",
         g4[] = "redis://[::1]", g5[] = "https://web.example.com";
    const char *hosts[] = {g0, g1, g2, g3, g4, g5};
    void *ctx = ctx_with(hosts, 6);
    CHECK(ctx != NULL);
    if (!ctx) return test_finish("spin_data");
    memset(g0, 'x', sizeof g0 - 1);

    CHECK_INT(allowed(ctx, "redis", 6379, "cache.internal"), 1);
    CHECK_INT(allowed(ctx, "redis", 6379, "cache.internal:6379"), 1);
    CHECK_INT(allowed(ctx, "redis", 6379, "CACHE.Internal."), 1);
    CHECK_INT(allowed(ctx, "redis", 6379, "cache.internal:6380"), 0);
    CHECK_INT(allowed(ctx, "redis", 6379, "other.internal"), 0);
    CHECK_INT(allowed(ctx, "redis", 6379, "10.0.0.5:1234"), 1); /* "*" scheme, any port */
    CHECK_INT(allowed(ctx, "postgres", 5432, "10.0.0.5"), 1);
    CHECK_INT(allowed(ctx, "redis", 6379, "a.example.com:7000"), 1);
    CHECK_INT(allowed(ctx, "redis", 6379, "example.com:7000"), 0);
    CHECK_INT(allowed(ctx, "redis", 6379, "a.example.com"), 0); /* 6379 is not 7000 */
    CHECK_INT(allowed(ctx, "postgres", 5432, "db.internal"), 1);
    CHECK_INT(allowed(ctx, "redis", 6379, "db.internal:5432"), 0); /* another scheme's grant */
    CHECK_INT(allowed(ctx, "redis", 6379, "[0:0::1]"), 1);         /* IPv6 as an address */
    CHECK_INT(allowed(ctx, "redis", 6379, "web.example.com:443"), 0);
    CHECK_INT(allowed(ctx, "redis", 6379, "0x7f.0.0.1"), -1); /* legacy IPv4: not a target */
    CHECK_INT(allowed(ctx, "redis", 6379, ""), -1);

    /* no grants at all: deny */
    void *none = ctx_with(NULL, 0);
    CHECK_INT(allowed(none, "redis", 6379, "cache.internal"), 0);
    kiln_spin_provider.ctx_free(none);
    kiln_spin_provider.ctx_free(ctx);

    const char *hp;
    size_t hl;
    const char *u = "mqtt://user:pw@broker.example.com:1883/topic?x=1";
    CHECK_INT(spin_url_hostport(u, strlen(u), "mqtt", &hp, &hl), 0);
    CHECK(hl == 23 && memcmp(hp, "broker.example.com:1883", 23) == 0);
    u = "MySQL://db:3306";
    CHECK_INT(spin_url_hostport(u, strlen(u), "mysql", &hp, &hl), 0);
    CHECK(hl == 7 && memcmp(hp, "db:3306", 7) == 0);
    u = "http://db:3306";
    CHECK_INT(spin_url_hostport(u, strlen(u), "mysql", &hp, &hl), -1);
    u = "mysql://";
    CHECK_INT(spin_url_hostport(u, strlen(u), "mysql", &hp, &hl), -1);
    return test_finish("spin_data");
}
