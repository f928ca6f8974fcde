/* cgi_test.c — unit tests of the CGI mapping: environment, argv, response parsing. */
#include "exec/wagi/cgi.h"
#include "server/router.h" /* fixtures: real route matches */
#include "util/alloc.h"
#include "util/test.h"

#include <string.h>

/* The value of KEY in an environment vector, or NULL. */
static const char *getv(const kiln_strv *env, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < env->n; i++)
        if (strncmp(env->v[i], key, kl) == 0 && env->v[i][kl] == '=') return env->v[i] + kl + 1;
    return NULL;
}

static int count_key(const kiln_strv *env, const char *key)
{
    size_t kl = strlen(key);
    int n = 0;
    for (size_t i = 0; i < env->n; i++)
        n += strncmp(env->v[i], key, kl) == 0 && env->v[i][kl] == '=';
    return n;
}

#define S(x) x, sizeof(x) - 1

static void test_env(void)
{
    kiln_router *r = kiln_router_new();
    kiln_router_add(r, "/api/...", NULL, NULL);
    kiln_router_add(r, "/u/:user_id/x", NULL, NULL);
    kiln_route_match m;
    const char *path = "/api/a%20b/c";
    CHECK_INT(kiln_router_lookup(r, path, strlen(path), &m), 1);
    kiln_cgi_header hdrs[] = {
        {S("User-Agent"), S("curl/8")},
        {S("Authorization"), S("secret")},
        {S("Connection"), S("keep-alive")},
        {S("X-Multi"), S("a")},
        {S("content-type"), S("text/plain")},
        {S("x-multi"), S("b")},
        {S("Proxy"), S("http://evil")},
        {S("Bad Name"), S("v")},
        {S("x-nul"), "a\0b", 3},
    };
    kiln_cgi_request req = {
        .method = S("POST"),
        .path = path,
        .path_len = strlen(path),
        .query = S("a=1&b=two%21"),
        .authority = S("example.com:8080"),
        .scheme = "http",
        .protocol = "HTTP/1.1",
        .client_ip = "10.0.0.7",
        .client_port = 5555,
        .content_length = 12,
        .headers = hdrs,
        .nheaders = sizeof hdrs / sizeof *hdrs,
        .match = &m,
    };
    kiln_strv env = {0};
    CHECK_INT(kiln_strv_push(&env, "SCRIPT_NAME=overridden"), 0);
    CHECK_INT(kiln_cgi_env(&req, &env), 0);
    CHECK_STR(getv(&env, "AUTH_TYPE"), "");
    CHECK_STR(getv(&env, "CONTENT_LENGTH"), "12");
    CHECK_STR(getv(&env, "CONTENT_TYPE"), "text/plain");
    CHECK_STR(getv(&env, "GATEWAY_INTERFACE"), "CGI/1.1");
    CHECK_STR(getv(&env, "QUERY_STRING"), "a=1&b=two%21");
    CHECK_STR(getv(&env, "REMOTE_ADDR"), "10.0.0.7");
    CHECK_STR(getv(&env, "REMOTE_HOST"), "10.0.0.7");
    CHECK_STR(getv(&env, "REMOTE_USER"), "");
    CHECK_STR(getv(&env, "REQUEST_METHOD"), "POST");
    CHECK_STR(getv(&env, "SCRIPT_NAME"), "/api");
    CHECK_INT(count_key(&env, "SCRIPT_NAME"), 1);
    CHECK_STR(getv(&env, "PATH_INFO"), "/a b/c");
    CHECK_STR(getv(&env, "PATH_TRANSLATED"), "/a b/c");
    CHECK_STR(getv(&env, "X_RAW_PATH_INFO"), "/a%20b/c");
    CHECK_STR(getv(&env, "SERVER_NAME"), "example.com");
    CHECK_STR(getv(&env, "SERVER_PORT"), "8080");
    CHECK_STR(getv(&env, "SERVER_PROTOCOL"), "HTTP/1.1");
    CHECK_STR(getv(&env, "SERVER_SOFTWARE"), "WAGI/1");
    CHECK_STR(getv(&env, "X_MATCHED_ROUTE"), "/api/...");
    CHECK_STR(getv(&env, "X_RAW_COMPONENT_ROUTE"), "/api/...");
    CHECK_STR(getv(&env, "X_COMPONENT_ROUTE"), "/api");
    CHECK_STR(getv(&env, "X_BASE_PATH"), "/");
    CHECK_STR(getv(&env, "X_CLIENT_ADDR"), "10.0.0.7:5555");
    CHECK_STR(getv(&env, "X_FULL_URL"), "http://example.com:8080/api/a%20b/c?a=1&b=two%21");
    CHECK_STR(getv(&env, "HTTP_USER_AGENT"), "curl/8");
    CHECK_STR(getv(&env, "HTTP_X_MULTI"), "a, b");
    CHECK_INT(count_key(&env, "HTTP_X_MULTI"), 1);
    CHECK_STR(getv(&env, "HTTP_HOST"), "example.com:8080");
    CHECK_STR(getv(&env, "HTTP_CONTENT_TYPE"), "text/plain");
    CHECK(getv(&env, "HTTP_AUTHORIZATION") == NULL);
    kiln_strv env2 = {0};
    req.pass_authorization = 1;
    CHECK_INT(kiln_cgi_env(&req, &env2), 0);
    CHECK_STR(getv(&env2, "HTTP_AUTHORIZATION"), "secret");
    req.pass_authorization = 0;
    kiln_strv_free(&env2);
    CHECK(getv(&env, "HTTP_CONNECTION") == NULL);
    CHECK(getv(&env, "HTTP_PROXY") == NULL);
    CHECK(getv(&env, "HTTP_BAD_NAME") == NULL);
    CHECK(getv(&env, "HTTP_X_NUL") == NULL);
    kiln_strv argv = {0};
    CHECK_INT(kiln_cgi_argv(&req, NULL, &argv), 0);
    CHECK_INT(argv.n, 3);
    if (argv.n == 3) {
        CHECK_STR(argv.v[0], "/api");
        CHECK_STR(argv.v[1], "a=1");
        CHECK_STR(argv.v[2], "b=two!");
        CHECK(argv.v[3] == NULL);
    }
    kiln_strv_free(&argv);
    CHECK_INT(kiln_cgi_argv(&req, "prog --name=${SCRIPT_NAME} [${ARGS}]", &argv), 0);
    CHECK_INT(argv.n, 3);
    if (argv.n == 3) {
        CHECK_STR(argv.v[0], "prog");
        CHECK_STR(argv.v[1], "--name=/api");
        CHECK_STR(argv.v[2], "[a=1 b=two!]");
    }
    kiln_strv_free(&argv);
    kiln_strv_free(&env);
    kiln_route_match_free(&m);

    /* named segments, no port in the authority, https, no query */
    path = "/u/al%2Fice/x";
    CHECK_INT(kiln_router_lookup(r, path, strlen(path), &m), 1);
    kiln_cgi_request req2 = {.method = S("GET"),
                             .path = path,
                             .path_len = strlen(path),
                             .authority = S("[::1]"),
                             .scheme = "https",
                             .protocol = "HTTP/2.0",
                             .client_ip = "::1",
                             .match = &m};
    CHECK_INT(kiln_cgi_env(&req2, &env), 0);
    CHECK_STR(getv(&env, "X_PATH_MATCH_USER_ID"), "al/ice");
    CHECK_STR(getv(&env, "SERVER_NAME"), "[::1]");
    CHECK_STR(getv(&env, "SERVER_PORT"), "443");
    CHECK_STR(getv(&env, "QUERY_STRING"), "");
    CHECK_STR(getv(&env, "PATH_INFO"), "");
    CHECK_STR(getv(&env, "SCRIPT_NAME"), path);
    CHECK_STR(getv(&env, "CONTENT_LENGTH"), "0");
    CHECK_INT(kiln_cgi_argv(&req2, NULL, &argv), 0);
    CHECK_INT(argv.n, 1);
    kiln_strv_free(&argv);
    kiln_strv_free(&env);
    kiln_route_match_free(&m);
    kiln_router_free(r);
}

/* Checks that sv is NULL-terminated and that entry i is "K<i>=<vals[i]>" for i < n. */
static int strv_matches(const kiln_strv *sv, char (*vals)[32], size_t n)
{
    if (sv->n != n || (n && sv->v[n] != NULL)) return 0;
    char want[64];
    for (size_t i = 0; i < n; i++) {
        snprintf(want, sizeof want, "K%zu=%s", i, vals[i]);
        if (strcmp(sv->v[i], want) != 0) return 0;
    }
    return 1;
}

/* The string vector itself: empty, NULL-terminated, many overrides (the duplicate-key
 * check), values larger than an arena block, the historical rule for odd keys. */
static void test_strv(void)
{
    kiln_strv sv = {0};
    kiln_strv_free(&sv); /* a zero vector is a valid empty one */
    CHECK(sv.v == NULL && sv.n == 0);
    CHECK_INT(kiln_strv_push(&sv, "only"), 0);
    CHECK_INT(sv.n, 1);
    CHECK_STR(sv.v[0], "only");
    CHECK(sv.v[1] == NULL);
    kiln_strv_free(&sv);
    CHECK(sv.v == NULL && sv.n == 0);

    /* 1000 keys, then every one overridden (in reverse), then again via putenv */
    static char vals[1000][32];
    char key[32], kv[64];
    int ok = 1;
    for (size_t i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "K%zu", i);
        snprintf(vals[i], sizeof vals[i], "first-%zu", i);
        ok &= kiln_strv_setenv(&sv, key, strlen(key), vals[i], strlen(vals[i])) == 0;
    }
    CHECK(ok);
    CHECK(strv_matches(&sv, vals, 1000));
    for (size_t i = 1000; i-- > 0;) {
        snprintf(key, sizeof key, "K%zu", i);
        snprintf(vals[i], sizeof vals[i], "second-%zu", i * 7);
        ok &= kiln_strv_setenv(&sv, key, strlen(key), vals[i], strlen(vals[i])) == 0;
    }
    CHECK(ok);
    CHECK(strv_matches(&sv, vals, 1000));
    for (size_t i = 0; i < 1000; i += 3) {
        snprintf(vals[i], sizeof vals[i], "%s", i % 2 ? "" : "x=y");
        snprintf(kv, sizeof kv, "K%zu=%s", i, vals[i]);
        ok &= kiln_strv_putenv(&sv, kv) == 0;
    }
    CHECK(ok);
    CHECK(strv_matches(&sv, vals, 1000));
    CHECK_INT(count_key(&sv, "K999"), 1);
    CHECK_INT(kiln_strv_putenv(&sv, "no equals sign"), 0);
    CHECK_INT(kiln_strv_putenv(&sv, "=leading"), 0);
    CHECK_INT(sv.n, 1000);
    kiln_strv_free(&sv);

    /* values bigger than the first arena block (and than any block), between small ones */
    static char big[200000];
    memset(big, 'b', sizeof big);
    CHECK_INT(kiln_strv_setenv(&sv, S("SMALL1"), S("s1")), 0);
    CHECK_INT(kiln_strv_setenv(&sv, S("BIG"), big, 5000), 0);
    CHECK_INT(kiln_strv_setenv(&sv, S("SMALL2"), S("s2")), 0);
    CHECK_INT(kiln_strv_pushn(&sv, big, sizeof big), 0);
    CHECK_INT(kiln_strv_setenv(&sv, S("SMALL3"), S("s3")), 0);
    CHECK_INT(sv.n, 5);
    CHECK_STR(getv(&sv, "SMALL1"), "s1");
    CHECK_STR(getv(&sv, "SMALL2"), "s2");
    CHECK_STR(getv(&sv, "SMALL3"), "s3");
    CHECK_INT(strlen(getv(&sv, "BIG")), 5000);
    CHECK(memcmp(getv(&sv, "BIG"), big, 5000) == 0);
    CHECK_INT(strlen(sv.v[3]), sizeof big);
    CHECK(sv.v[5] == NULL);
    CHECK_INT(kiln_strv_setenv(&sv, S("BIG"), S("now small")), 0);
    CHECK_STR(getv(&sv, "BIG"), "now small");
    CHECK_INT(count_key(&sv, "BIG"), 1);
    kiln_strv_free(&sv);
    /* an oversize string first, then small ones */
    CHECK_INT(kiln_strv_pushn(&sv, big, 3000), 0);
    CHECK_INT(kiln_strv_push(&sv, "after"), 0);
    CHECK_INT(sv.n, 2);
    CHECK_INT(strlen(sv.v[0]), 3000);
    CHECK_STR(sv.v[1], "after");
    CHECK(sv.v[2] == NULL);
    kiln_strv_free(&sv);

    /* pushed "KEY=VALUE" strings take part in the duplicate check; a word without '='
     * never matches; keys that share a length and first byte are told apart */
    CHECK_INT(kiln_strv_push(&sv, "PATH_INFO=/pushed"), 0);
    CHECK_INT(kiln_strv_push(&sv, "PATH_INFO"), 0);
    CHECK_INT(kiln_strv_setenv(&sv, S("PATH_INFX"), S("x")), 0);
    CHECK_INT(kiln_strv_setenv(&sv, S("PATH_INFO"), S("/set")), 0);
    CHECK_INT(kiln_strv_setenv(&sv, S(""), S("empty key")), 0);
    CHECK_INT(kiln_strv_setenv(&sv, S(""), S("empty key 2")), 0);
    CHECK_INT(sv.n, 4);
    CHECK_STR(sv.v[0], "PATH_INFO=/set");
    CHECK_STR(sv.v[1], "PATH_INFO");
    CHECK_STR(sv.v[2], "PATH_INFX=x");
    CHECK_STR(sv.v[3], "=empty key 2");
    /* a key with '=' matches an entry that starts with it and then has '=' */
    CHECK_INT(kiln_strv_push(&sv, "A=B=c"), 0);
    CHECK_INT(kiln_strv_setenv(&sv, S("A=B"), S("d")), 0);
    CHECK_INT(sv.n, 5);
    CHECK_STR(sv.v[4], "A=B=d");
    CHECK_INT(kiln_strv_setenv(&sv, S("A"), S("e")), 0);
    CHECK_STR(sv.v[4], "A=e");
    CHECK_INT(kiln_strv_setenv(&sv, S("A=X"), S("f")), 0);
    CHECK_INT(sv.n, 6);
    CHECK_STR(sv.v[5], "A=X=f");
    CHECK(sv.v[6] == NULL);
    kiln_strv_free(&sv);
}

/* Every allocation of setenv/pushn fails in turn (the arena's first, next and oversize
 * blocks, the pointer array's first and later sizes): the call returns -1, leaves the
 * vector as it was, and nothing leaks (ASan). */
static void test_strv_oom(void)
{
    static char big[10000];
    memset(big, 'z', sizeof big);
    int failures = 0, completed = 0;
    for (long n = 0; n < 400 && !completed; n++) {
        static char vals[150][32];
        kiln_strv sv = {0};
        int failed = 0, consistent = 1;
        kiln_alloc_fail_after(n);
        for (size_t op = 0; op < 400 && !failed; op++) {
            size_t k = op % 150;
            char key[32], val[32];
            snprintf(key, sizeof key, "K%zu", k);
            const char *v = val;
            size_t vl;
            if (op % 37 == 36) {
                v = big; /* an oversize value: a block of its own */
                vl = sizeof big - op;
            } else {
                vl = (size_t)snprintf(val, sizeof val, "v%zu", op);
            }
            int rc = kiln_strv_setenv(&sv, key, strlen(key), v, vl);
            if (rc < 0) {
                failed = 1;
            } else {
                snprintf(vals[k], sizeof vals[k], "%.*s", (int)(vl < 20 ? vl : 20), v);
            }
            if (!failed && op % 50 == 49 && (rc = kiln_strv_pushn(&sv, big, 3000)) < 0) failed = 1;
            if (rc != 0 && rc != -1) consistent = 0;
        }
        kiln_alloc_fail_after(-1);
        /* the keys set so far are intact (compare the first 20 bytes), v NULL-terminated */
        consistent &= sv.n == 0 || sv.v[sv.n] == NULL;
        for (size_t i = 0, e = 0; i < sv.n && consistent; i++) {
            if (sv.v[i][0] != 'K') continue; /* a pushed word */
            char want[64];
            snprintf(want, sizeof want, "K%zu=%s", e, vals[e]);
            consistent &= strncmp(sv.v[i], want, strlen(want)) == 0;
            e++;
        }
        CHECK(consistent);
        if (failed)
            failures++;
        else
            completed = 1;
        kiln_strv_free(&sv);
    }
    CHECK(failures > 10);
    CHECK(completed);

    /* the same for a whole CGI environment whose headers outgrow the first block */
    kiln_cgi_header hdrs[40];
    char names[40][16];
    for (size_t i = 0; i < 40; i++) {
        snprintf(names[i], sizeof names[i], "X-Header-%zu", i);
        hdrs[i] = (kiln_cgi_header){names[i], strlen(names[i]), big, i % 10 == 9 ? 3000 : 40};
    }
    kiln_cgi_request req = {.method = S("GET"),
                            .path = S("/p"),
                            .scheme = "http",
                            .client_ip = "1.2.3.4",
                            .headers = hdrs,
                            .nheaders = 40};
    failures = completed = 0;
    for (long n = 0; n < 100 && !completed; n++) {
        kiln_strv env = {0};
        unsigned long before = kiln_alloc_injected_failures();
        kiln_alloc_fail_after(n);
        int rc = kiln_cgi_env(&req, &env);
        kiln_alloc_fail_after(-1);
        /* -1 exactly when an allocation failed (never a swallowed failure), else 0 */
        CHECK_INT(rc, kiln_alloc_injected_failures() != before ? -1 : 0);
        CHECK(env.n == 0 || env.v[env.n] == NULL);
        if (rc < 0) {
            failures++;
        } else {
            completed = 1;
            CHECK_INT(env.n, 23 + 40);
            CHECK_INT(strlen(getv(&env, "HTTP_X_HEADER_39")), 3000);
        }
        kiln_strv_free(&env);
    }
    CHECK(failures > 3);
    CHECK(completed);
}

static void test_url_decode(void)
{
    kiln_buf b = KILN_BUF_INIT;
    CHECK_INT(kiln_cgi_url_decode(S("a%20b%zz%4"), &b), 0);
    CHECK_STR(b.data, "a b%zz%4");
    kiln_buf_reset(&b);
    CHECK_INT(kiln_cgi_url_decode(S("%00%41%"), &b), 0);
    CHECK_STR(b.data, "%00A%");
    CHECK_INT(b.len, 5);
    kiln_buf_free(&b);
}

/* Parses `out` and returns the status; *body gets a copy of the body. */
static int parse(const char *out, kiln_cgi_response *res)
{
    CHECK_INT(kiln_cgi_parse_response(out, strlen(out), res), 0);
    return res->status;
}

static const char *hdr(const kiln_cgi_response *res, const char *name, char *buf, size_t n)
{
    for (size_t i = 0; i < res->nheaders; i++) {
        if (res->headers[i].name_len == strlen(name) &&
            strncasecmp(res->headers[i].name, name, strlen(name)) == 0) {
            snprintf(buf, n, "%.*s", (int)res->headers[i].value_len, res->headers[i].value);
            return buf;
        }
    }
    return NULL;
}

static void test_response(void)
{
    kiln_cgi_response res;
    char b[256];
    CHECK_INT(parse("Content-Type: text/plain\n\nhello\n", &res), 200);
    CHECK_STR(hdr(&res, "content-type", b, sizeof b), "text/plain");
    CHECK_INT(res.body_len, 6);
    CHECK(memcmp(res.body, "hello\n", 6) == 0);
    CHECK_INT(res.failed, 0);
    kiln_cgi_response_free(&res);

    CHECK_INT(parse("Content-Type: text/html\r\nX-A:  b \r\n\r\n<p>\r\n", &res), 200);
    CHECK_STR(hdr(&res, "x-a", b, sizeof b), "b");
    CHECK_INT(res.body_len, 5);
    kiln_cgi_response_free(&res);

    CHECK_INT(parse("Status: 404 Not Found\nContent-Type: text/plain\n\nnope", &res), 404);
    CHECK(hdr(&res, "status", b, sizeof b) == NULL);
    kiln_cgi_response_free(&res);

    CHECK_INT(parse("Location: /elsewhere\n\n", &res), 302);
    CHECK_STR(hdr(&res, "location", b, sizeof b), "/elsewhere");
    kiln_cgi_response_free(&res);

    CHECK_INT(parse("Location: /x\nStatus: 301\n\n", &res), 301);
    kiln_cgi_response_free(&res);

    CHECK_INT(parse("Status: 204\n\n", &res), 204);
    kiln_cgi_response_free(&res);

    CHECK_INT(parse("Status: abc\nContent-Type: text/plain\n\nx", &res), 502);
    CHECK_INT(res.failed, 1);
    CHECK(strstr(res.notes.data, "Status") != NULL);
    kiln_cgi_response_free(&res);
    CHECK_INT(parse("Status: 2000\n\n", &res), 502);
    kiln_cgi_response_free(&res);
    CHECK_INT(parse("Status: 99\n\n", &res), 502);
    kiln_cgi_response_free(&res);

    CHECK_INT(parse("X-Only: 1\n\nbody", &res), 500);
    CHECK_INT(res.failed, 1);
    CHECK(strstr(res.notes.data, "Content-Type") != NULL);
    kiln_cgi_response_free(&res);

    CHECK_INT(parse("just some text without headers", &res), 500);
    CHECK_INT(res.failed, 1);
    kiln_cgi_response_free(&res);

    CHECK_INT(kiln_cgi_parse_response("", 0, &res), 0);
    CHECK_INT(res.status, 500);
    CHECK(strstr(res.notes.data, "executor") != NULL);
    kiln_cgi_response_free(&res);

    /* hostile headers are dropped and noted */
    CHECK_INT(parse("Content-Type: a\nBad Name: x\nX-Ctl: a\x01"
                    "b\nX-Cr: a\rb\nContent-Length: 99\nTransfer-Encoding: chunked\n"
                    ": empty\nX-Ok: fine\n\nB",
                    &res),
              200);
    CHECK_INT(res.nheaders, 2);
    CHECK_STR(hdr(&res, "x-ok", b, sizeof b), "fine");
    CHECK(hdr(&res, "content-length", b, sizeof b) == NULL);
    CHECK(strstr(res.notes.data, "invalid name") != NULL);
    CHECK(strstr(res.notes.data, "control characters") != NULL);
    CHECK(strstr(res.notes.data, "\\x01") != NULL);
    CHECK_INT(res.body_len, 1);
    kiln_cgi_response_free(&res);

    /* body may contain anything, including NUL and blank lines */
    const char bin[] = "Content-Type: x\n\n\0\n\nz";
    CHECK_INT(kiln_cgi_parse_response(bin, sizeof bin - 1, &res), 0);
    CHECK_INT(res.status, 200);
    CHECK_INT(res.body_len, 4);
    kiln_cgi_response_free(&res);

    CHECK_STR(kiln_http_reason(404), "Not Found");
    CHECK_STR(kiln_http_reason(799), "Unknown");
}

static void test_oom(void)
{
    kiln_router *r = kiln_router_new();
    kiln_router_add(r, "/a/:b/...", NULL, NULL);
    kiln_route_match m;
    CHECK_INT(kiln_router_lookup(r, S("/a/b/c"), &m), 1);
    kiln_cgi_header hdrs[] = {{S("A"), S("b")}};
    kiln_cgi_request req = {.method = S("GET"),
                            .path = S("/a/b/c"),
                            .query = S("x&y"),
                            .scheme = "http",
                            .client_ip = "1.2.3.4",
                            .headers = hdrs,
                            .nheaders = 1,
                            .match = &m};
    int failures = 0, successes = 0;
    for (long n = 0; n < 200; n++) {
        kiln_strv env = {0}, argv = {0};
        kiln_cgi_response res;
        kiln_alloc_fail_after(n);
        int a = kiln_cgi_env(&req, &env);
        int b = kiln_cgi_argv(&req, NULL, &argv);
        int c = kiln_cgi_parse_response(S("Content-Type: a\nX: y\n\nz"), &res);
        kiln_alloc_fail_after(-1);
        if (a == 0 && b == 0 && c == 0)
            successes++;
        else
            failures++;
        kiln_strv_free(&env);
        kiln_strv_free(&argv);
        kiln_cgi_response_free(&res);
    }
    CHECK(failures > 0);
    CHECK(successes > 0);
    kiln_route_match_free(&m);
    kiln_router_free(r);
}

/* Authorities split into host and port; IPv6 literals keep their brackets. */
static void test_authority_split(void)
{
    static const struct {
        const char *a, *host, *port; /* port NULL: none */
    } cases[] = {
        {"example.com:8080", "example.com", "8080"},
        {"example.com", "example.com", NULL},
        {"[::1]:3000", "[::1]", "3000"},
        {"[::1]", "[::1]", NULL},
        {"host:", "host", ""},
        {"", "", NULL},
        {"[::1]x", "[::1]x", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *port;
        size_t port_len;
        size_t host_len =
            kiln_cgi_authority_split(cases[i].a, strlen(cases[i].a), &port, &port_len);
        char host[64], p[64];
        snprintf(host, sizeof host, "%.*s", (int)host_len, cases[i].a);
        CHECK_STR(host, cases[i].host);
        if (cases[i].port) {
            snprintf(p, sizeof p, "%.*s", (int)port_len, port ? port : "");
            CHECK(port != NULL);
            CHECK_STR(p, cases[i].port);
        } else {
            CHECK(port == NULL && port_len == 0);
        }
    }
    const char *port = "x";
    size_t port_len = 1;
    CHECK_INT(kiln_cgi_authority_split(NULL, 0, &port, &port_len), 0); /* no authority at all */
    CHECK(port == NULL && port_len == 0);
}

/* HTTP_CONTENT_LENGTH and HTTP_TRANSFER_ENCODING as Spin and Wagi set them, from what the
 * server's parser took out of the headers; a header still there is not given twice. */
static void test_framing(void)
{
    kiln_cgi_header hdrs[] = {{S("X-A"), S("1")}};
    kiln_cgi_request req = {.method = S("POST"),
                            .path = "/",
                            .path_len = 1,
                            .scheme = "http",
                            .client_ip = "",
                            .content_length = 5,
                            .headers = hdrs,
                            .nheaders = 1};
    kiln_strv env = {0};
    CHECK_INT(kiln_cgi_env(&req, &env), 0);
    CHECK(getv(&env, "HTTP_CONTENT_LENGTH") == NULL); /* no body declared */
    CHECK(getv(&env, "HTTP_TRANSFER_ENCODING") == NULL);
    kiln_strv_free(&env);
    req.has_declared_length = 1;
    req.declared_length = 5;
    CHECK_INT(kiln_cgi_env(&req, &env), 0);
    CHECK_STR(getv(&env, "HTTP_CONTENT_LENGTH"), "5");
    CHECK_STR(getv(&env, "CONTENT_LENGTH"), "5");
    CHECK(getv(&env, "HTTP_TRANSFER_ENCODING") == NULL);
    kiln_strv_free(&env);
    req.has_declared_length = 0;
    req.chunked = 1;
    CHECK_INT(kiln_cgi_env(&req, &env), 0);
    CHECK_STR(getv(&env, "HTTP_TRANSFER_ENCODING"), "chunked");
    CHECK(getv(&env, "HTTP_CONTENT_LENGTH") == NULL);
    kiln_strv_free(&env);
    kiln_cgi_header with[] = {{S("Content-Length"), S("5")}, {S("Transfer-Encoding"), S("gzip")}};
    req.headers = with;
    req.nheaders = 2;
    req.has_declared_length = 1;
    CHECK_INT(kiln_cgi_env(&req, &env), 0);
    CHECK_INT(count_key(&env, "HTTP_CONTENT_LENGTH"), 1);
    CHECK_INT(count_key(&env, "HTTP_TRANSFER_ENCODING"), 1);
    CHECK_STR(getv(&env, "HTTP_TRANSFER_ENCODING"), "gzip");
    kiln_strv_free(&env);
}

int main(void)
{
    test_framing();
    test_authority_split();
    test_env();
    test_strv();
    test_strv_oom();
    test_url_decode();
    test_response();
    test_oom();
    return test_finish("cgi_test");
}
