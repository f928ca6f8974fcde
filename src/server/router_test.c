/* router_test.c — unit tests of the router: syntax, precedence, parameters, scale. */
#include "server/router.h"
#include "util/alloc.h"
#include "util/test.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *T_A = "A", *T_B = "B", *T_C = "C", *T_D = "D", *T_E = "E", *T_F = "F";

/* Looks a path up and returns the target's name ("-" for no match). */
static const char *who(const kiln_router *r, const char *path)
{
    kiln_route_match m;
    int rc = kiln_router_lookup(r, path, strlen(path), &m);
    const char *t = rc == 1 ? m.target : "-";
    kiln_route_match_free(&m);
    return t;
}

static void test_basics(void)
{
    kiln_router *r = kiln_router_new();
    const char *err = NULL;
    CHECK_INT(kiln_router_add(r, "/cart", (void *)T_A, &err), 0);
    CHECK_INT(kiln_router_add(r, "/users/...", (void *)T_B, &err), 0);
    CHECK_INT(kiln_router_add(r, "/users/:id/edit", (void *)T_C, &err), 0);
    CHECK_INT(kiln_router_add(r, "/users/admin", (void *)T_D, &err), 0);
    CHECK_INT(kiln_router_add(r, "/static/*", (void *)T_E, &err), 0);
    CHECK_STR(who(r, "/cart"), "A");
    CHECK_STR(who(r, "/cart/"), "A");
    CHECK_STR(who(r, "/cart/x"), "-");
    CHECK_STR(who(r, "/cartx"), "-");
    CHECK_STR(who(r, "/users"), "B");
    CHECK_STR(who(r, "/users/"), "B");
    CHECK_STR(who(r, "/users/7"), "B");
    CHECK_STR(who(r, "/usersx"), "-");
    CHECK_STR(who(r, "/users/7/edit"), "C");
    CHECK_STR(who(r, "/users/7/edit/more"), "B");
    CHECK_STR(who(r, "/users/admin"), "D");
    CHECK_STR(who(r, "/static"), "E");
    CHECK_STR(who(r, "/static/a/b.css"), "E");
    CHECK_STR(who(r, "/"), "-");
    CHECK_STR(who(r, ""), "-");
    CHECK_INT(kiln_router_count(r), 5);
    kiln_router_free(r);
}

static void test_precedence(void)
{
    kiln_router *r = kiln_router_new();
    kiln_router_add(r, "/...", (void *)T_A, NULL);
    kiln_router_add(r, "/api/...", (void *)T_B, NULL);
    kiln_router_add(r, "/api/v1/...", (void *)T_C, NULL);
    kiln_router_add(r, "/api", (void *)T_D, NULL);
    kiln_router_add(r, "/api/:x/...", (void *)T_E, NULL);
    CHECK_STR(who(r, "/"), "A");
    CHECK_STR(who(r, "/anything/at/all"), "A");
    CHECK_STR(who(r, "/api"), "D");    /* exact beats the wildcard */
    CHECK_STR(who(r, "/api/"), "D");   /* trailing slash ignored */
    CHECK_STR(who(r, "/api/x"), "E");  /* longer prefix: /api/:x/... beats /api/... */
    CHECK_STR(who(r, "/api/v1"), "C"); /* literal beats :x at equal length */
    CHECK_STR(who(r, "/api/v1/z"), "C");
    CHECK_STR(who(r, "/api/v2/z"), "E");
    /* a duplicate replaces, and says so */
    CHECK_INT(kiln_router_add(r, "/api/...", (void *)T_F, NULL), 1);
    CHECK_INT(kiln_router_add(r, "/api/*", (void *)T_F, NULL), 1); /* synonym */
    CHECK_INT(kiln_router_count(r), 5);
    kiln_router_free(r);
}

static void test_match_details(void)
{
    kiln_router *r = kiln_router_new();
    kiln_router_add(r, "/users/:id/posts/:post", (void *)T_A, NULL);
    kiln_router_add(r, "/files/...", (void *)T_B, NULL);
    kiln_router_add(r, "/...", (void *)T_C, NULL);
    kiln_route_match m;
    const char *p = "/users/42/posts/abc";
    CHECK_INT(kiln_router_lookup(r, p, strlen(p), &m), 1);
    CHECK_INT(m.nparams, 2);
    if (m.nparams == 2) {
        CHECK_STR(m.params[0].name, "id");
        CHECK_INT(m.params[0].value_len, 2);
        CHECK(memcmp(m.params[0].value, "42", 2) == 0);
        CHECK_STR(m.params[1].name, "post");
        CHECK(m.params[1].value_len == 3 && memcmp(m.params[1].value, "abc", 3) == 0);
    }
    CHECK_STR(m.route, "/users/:id/posts/:post");
    CHECK_INT(m.wildcard, 0);
    CHECK_INT(m.prefix_len, strlen(p));
    kiln_route_match_free(&m);

    p = "/files/a/b.txt";
    CHECK_INT(kiln_router_lookup(r, p, strlen(p), &m), 1);
    CHECK_STR(m.route, "/files/...");
    CHECK_STR(m.base, "/files");
    CHECK_INT(m.wildcard, 1);
    CHECK_INT(m.prefix_len, 6);
    kiln_route_match_free(&m);

    p = "/zzz";
    CHECK_INT(kiln_router_lookup(r, p, strlen(p), &m), 1);
    CHECK_STR(m.base, "");
    CHECK_INT(m.prefix_len, 0);
    kiln_route_match_free(&m);

    /* a named segment needs a non-empty segment */
    p = "/users//posts/x";
    CHECK_INT(kiln_router_lookup(r, p, strlen(p), &m), 1);
    CHECK_STR(m.route, "/...");
    kiln_route_match_free(&m);
    kiln_router_free(r);
}

static void test_errors(void)
{
    kiln_router *r = kiln_router_new();
    const char *err = NULL;
    CHECK_INT(kiln_router_add(r, "nope", NULL, &err), -1);
    CHECK(err && strstr(err, "start with"));
    CHECK_INT(kiln_router_add(r, "/a/.../b", NULL, &err), -1);
    CHECK_INT(kiln_router_add(r, "/a/:/b", NULL, &err), -1);
    CHECK_INT(kiln_router_count(r), 0);
    /* out of memory is reported, never a crash */
    for (long n = 0; n < 12; n++) {
        kiln_alloc_fail_after(n);
        int rc = kiln_router_add(r, "/x/:y/z/...", NULL, &err);
        kiln_alloc_fail_after(-1);
        CHECK(rc == -1 || rc == 0 || rc == 1);
    }
    kiln_router_free(r);
}

static void test_scale(void)
{
    kiln_router *r = kiln_router_new();
    char path[64];
    static const char *names[5000];
    int ok = 1;
    for (int i = 0; i < 5000; i++) {
        snprintf(path, sizeof path, "/svc%d/items/...", i);
        if (kiln_router_add(r, path, (void *)(names + i), NULL) != 0) ok = 0;
    }
    kiln_router_add(r, "/...", NULL, NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 100000; i++) {
        int k = (i * 7919) % 5000;
        snprintf(path, sizeof path, "/svc%d/items/42", k);
        kiln_route_match m;
        if (kiln_router_lookup(r, path, strlen(path), &m) != 1 || m.target != (void *)(names + k))
            ok = 0;
        kiln_route_match_free(&m);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double us = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e3 / 100000;
    CHECK(ok);
    CHECK(us < 20.0); /* generous: well under a microsecond on this machine */
    CHECK_INT(kiln_router_count(r), 5001);
    kiln_router_free(r);
}

int main(void)
{
    test_basics();
    test_precedence();
    test_match_details();
    test_errors();
    test_scale();
    return test_finish("router_test");
}
