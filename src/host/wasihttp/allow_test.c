/* allow_test.c — allowed_outbound_hosts matching (allow.c): every syntax form, ports,
 * wildcards, IP literals, case, trailing dots, userinfo. */
#include "host/wasihttp/outbound.h"
#include "util/test.h"

/* 1 if the single grant g allows scheme://authority; -1 when the authority is refused. */
static int allows(const char *g, const char *scheme, const char *authority)
{
    wh_target t;
    if (wh_target_parse(&t, strcmp(scheme, "https") == 0, authority, strlen(authority)) < 0)
        return -1;
    const char *gs[1] = {g};
    return wh_allow(gs, 1, &t);
}

/* 1 if the single grant g allows the chaining target scheme://authority. */
static int chained(const char *g, const char *scheme, const char *authority)
{
    wh_target t;
    if (wh_target_parse(&t, strcmp(scheme, "https") == 0, authority, strlen(authority)) < 0)
        return -1;
    const char *gs[1] = {g};
    return wh_allow_chained(gs, 1, &t);
}

static int self_ok(const char *g)
{
    const char *gs[1] = {g};
    return wh_allow_self(gs, 1);
}

int main(void)
{
    /* exact host, default ports */
    CHECK_INT(allows("https://api.example.com", "https", "api.example.com"), 1);
    CHECK_INT(allows("https://api.example.com", "https", "api.example.com:443"), 1);
    CHECK_INT(allows("https://api.example.com", "https", "api.example.com:8443"), 0);
    CHECK_INT(allows("https://api.example.com", "http", "api.example.com"), 0);
    CHECK_INT(allows("https://api.example.com", "https", "example.com"), 0);
    CHECK_INT(allows("https://api.example.com", "https", "api.example.com.evil.com"), 0);
    CHECK_INT(allows("https://api.example.com", "https", "evilapi.example.com"), 0);
    CHECK_INT(allows("https://api.example.com/", "https", "api.example.com"), 1);
    CHECK_INT(allows("http://localhost:3000", "http", "localhost:3000"), 1);
    CHECK_INT(allows("http://localhost:3000", "http", "localhost"), 0);
    CHECK_INT(allows("http://localhost:3000", "http", "localhost:3001"), 0);
    CHECK_INT(allows("http://localhost:3000", "https", "localhost:3000"), 0);
    CHECK_INT(allows("http://localhost", "http", "localhost:80"), 1);
    /* case and trailing dots */
    CHECK_INT(allows("https://API.Example.COM", "https", "api.example.com"), 1);
    CHECK_INT(allows("https://api.example.com", "https", "API.EXAMPLE.com"), 1);
    CHECK_INT(allows("https://api.example.com", "https", "api.example.com."), 1);
    CHECK_INT(allows("https://api.example.com.", "https", "api.example.com"), 1);
    CHECK_INT(allows("https://api.example.com", "https", "api.example.com.."), -1);
    CHECK_INT(allows("https://example.com", "https", "evil.com."), 0);
    /* wildcards */
    CHECK_INT(allows("*://*.example.com:*", "http", "a.example.com:1234"), 1);
    CHECK_INT(allows("*://*.example.com:*", "https", "a.b.example.com"), 1);
    CHECK_INT(allows("*://*.example.com:*", "https", "example.com"), 0);
    CHECK_INT(allows("*://*.example.com:*", "https", "badexample.com"), 0);
    CHECK_INT(allows("*://*.example.com:*", "https", "a.example.com.evil.org"), 0);
    CHECK_INT(allows("*://*.example.com:*", "https", "A.EXAMPLE.COM."), 1);
    CHECK_INT(allows("https://*.example.com", "https", "a.example.com"), 1);
    CHECK_INT(allows("https://*.example.com", "https", "a.example.com:444"), 0);
    CHECK_INT(allows("*://api.example.com", "http", "api.example.com"), 1);
    CHECK_INT(allows("*://api.example.com", "https", "api.example.com"), 1);
    CHECK_INT(allows("*://api.example.com", "https", "api.example.com:80"), 0);
    CHECK_INT(allows("*://*:*", "http", "anything.test:9"), 1);
    CHECK_INT(allows("*://*:*", "https", "127.0.0.1:8080"), 1);
    CHECK_INT(allows("https://*", "https", "x.y"), 1);
    CHECK_INT(allows("https://*", "http", "x.y"), 0);
    /* ports */
    CHECK_INT(allows("http://localhost:3000..3005", "http", "localhost:3003"), 1);
    CHECK_INT(allows("http://localhost:3000..3005", "http", "localhost:3005"), 1);
    CHECK_INT(allows("http://localhost:3000..3005", "http", "localhost:3006"), 0);
    CHECK_INT(allows("http://localhost:3000..3005", "http", "localhost:2999"), 0);
    CHECK_INT(allows("http://localhost:*", "http", "localhost:65535"), 1);
    CHECK_INT(allows("http://localhost:3000", "http", "localhost:0"), -1);
    CHECK_INT(allows("http://localhost:3000", "http", "localhost:65536"), -1);
    CHECK_INT(allows("http://localhost:3000", "http", "localhost:3000x"), -1);
    CHECK_INT(allows("http://localhost:3000", "http", "localhost:"), -1);
    /* IP literals: only when the grant names them */
    CHECK_INT(allows("http://127.0.0.1:8080", "http", "127.0.0.1:8080"), 1);
    CHECK_INT(allows("http://localhost:8080", "http", "127.0.0.1:8080"), 0);
    CHECK_INT(allows("http://127.0.0.1:8080", "http", "localhost:8080"), 0);
    CHECK_INT(allows("*://*.0.0.1:*", "http", "127.0.0.1:8080"), 0);
    CHECK_INT(allows("http://127.0.0.1:8080", "http", "127.1:8080"), -1);
    CHECK_INT(allows("http://127.0.0.1:8080", "http", "0x7f.0.0.1:8080"), -1);
    CHECK_INT(allows("http://127.0.0.1:8080", "http", "2130706433:8080"), -1);
    CHECK_INT(allows("http://127.0.0.1:8080", "http", "0177.0.0.1:8080"), -1);
    CHECK_INT(allows("*://*:*", "http", "2130706433:8080"), -1);
    CHECK_INT(allows("http://[::1]:8080", "http", "[::1]:8080"), 1);
    CHECK_INT(allows("http://[::1]:8080", "http", "[0:0::1]:8080"), 1);
    CHECK_INT(allows("http://[::1]:8080", "http", "[::ffff:127.0.0.1]:8080"), 0);
    CHECK_INT(allows("http://127.0.0.1:8080", "http", "[::ffff:127.0.0.1]:8080"), 0);
    CHECK_INT(allows("http://[::1]", "http", "[::1]"), 1);
    CHECK_INT(allows("http://[::1]:8080", "http", "[::1"), -1);
    CHECK_INT(allows("http://[::1]:8080", "http", "[nope]:8080"), -1);
    CHECK_INT(allows("http://localhost:8080", "http", "[::1]:8080"), 0);
    /* userinfo and malformed hosts */
    CHECK_INT(allows("*://*:*", "http", "user@localhost:8080"), -1);
    CHECK_INT(allows("*://*:*", "http", "user:pw@localhost"), -1);
    CHECK_INT(allows("*://*:*", "http", ""), -1);
    CHECK_INT(allows("*://*:*", "http", ":80"), -1);
    CHECK_INT(allows("*://*:*", "http", "a b"), -1);
    CHECK_INT(allows("*://*:*", "http", "a/b"), -1);
    CHECK_INT(allows("*://*:*", "http", "."), -1);
    /* the application itself is never a network target, whatever the grant */
    CHECK_INT(allows("http://self", "http", "self"), 0);
    CHECK_INT(allows("http://*.spin.internal", "http", "other.spin.internal"), 0);
    CHECK_INT(allows("http://other.spin.internal", "http", "other.spin.internal"), 0);
    CHECK_INT(allows("*://*:*", "http", "other.spin.internal"), 0);
    /* ... it is reached in process, by chaining grants */
    CHECK_INT(chained("http://other.spin.internal", "http", "other.spin.internal"), 1);
    CHECK_INT(chained("http://other.spin.internal", "http", "OTHER.spin.internal."), 1);
    CHECK_INT(chained("http://other.spin.internal", "http", "another.spin.internal"), 0);
    CHECK_INT(chained("http://other.spin.internal", "https", "other.spin.internal"), 0);
    CHECK_INT(chained("http://*.spin.internal", "http", "other.spin.internal"), 1);
    CHECK_INT(chained("http://*.spin.internal", "http", "spin.internal"), 0);
    CHECK_INT(chained("*://*:*", "http", "x.spin.internal"), 1);
    CHECK_INT(chained("http://self", "http", "x.spin.internal"), 0);
    {
        wh_target t;
        size_t k = 99;
        CHECK_INT(wh_target_parse(&t, 0, "back-end.spin.internal:80", 25), 0);
        CHECK_INT(wh_chain_target(&t, &k), 1);
        CHECK_INT(k, 8);
        CHECK_INT(wh_target_parse(&t, 0, "self.alt", 8), 0);
        CHECK_INT(wh_chain_target(&t, &k), 2);
        CHECK_INT(wh_target_parse(&t, 0, "spin.internal.evil.com", 22), 0);
        CHECK_INT(wh_chain_target(&t, &k), 0);
        CHECK_INT(wh_target_parse(&t, 0, "127.0.0.1", 9), 0);
        CHECK_INT(wh_chain_target(&t, &k), 0);
    }
    /* self requests: Spin's allows_relative */
    CHECK_INT(self_ok("http://self"), 1);
    CHECK_INT(self_ok("https://self"), 1);
    CHECK_INT(self_ok("http://self.alt"), 1);
    CHECK_INT(self_ok("*://self:*"), 1);
    CHECK_INT(self_ok("*://*:*"), 1);
    CHECK_INT(self_ok("redis://self"), 0);
    CHECK_INT(self_ok("http://selfish"), 0);
    CHECK_INT(self_ok("http://*.spin.internal"), 0);
    CHECK_INT(self_ok("self"), 0);
    CHECK_INT(allows("https://{{ host }}", "https", "api.example.com"), 0);
    CHECK_INT(allows("redis://localhost:6379", "http", "localhost:6379"), 0);
    CHECK_INT(allows("api.example.com", "https", "api.example.com"), 0);
    /* several grants, none */
    {
        wh_target t;
        CHECK_INT(wh_target_parse(&t, 0, "b.test:81", 9), 0);
        const char *gs[] = {"http://a.test:81", "http://b.test:81"};
        CHECK_INT(wh_allow(gs, 2, &t), 1);
        CHECK_INT(wh_allow(gs, 1, &t), 0);
        CHECK_INT(wh_allow(NULL, 0, &t), 0);
        CHECK_STR(t.host, "b.test");
        CHECK_INT(t.port, 81);
    }
    /* metrics labels: the authority as connected, one spelling per host */
    {
        static const struct {
            int https;
            const char *authority, *label;
        } cases[] = {
            {1, "API.Example.com.:443", "api.example.com"},
            {1, "api.example.com", "api.example.com"},
            {0, "api.example.com:80", "api.example.com"},
            {0, "api.example.com:443", "api.example.com:443"},
            {1, "[0:0::1]:8443", "[::1]:8443"},
            {0, "127.0.0.1:8080", "127.0.0.1:8080"},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            wh_target t;
            char label[WH_LABEL_MAX];
            const char *a = cases[i].authority;
            CHECK_INT(wh_target_parse(&t, cases[i].https, a, strlen(a)), 0);
            CHECK_INT(wh_target_label(&t, label, sizeof label), 0);
            CHECK_STR(label, cases[i].label);
        }
        wh_target t;
        char small[4];
        CHECK_INT(wh_target_parse(&t, 1, "a.example", 9), 0);
        CHECK_INT(wh_target_label(&t, small, sizeof small), -1);
    }
    return test_finish("allow_test");
}
