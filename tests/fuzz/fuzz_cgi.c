/* fuzz_cgi.c — libFuzzer target for the CGI mapping and the HTTP/1 head checks: the
 * guest's stdout (hostile) through kiln_cgi_parse_response, and client-controlled paths,
 * queries and headers through the router, kiln_cgi_env and kiln_cgi_argv.
 * Input layout: byte 0 selects the mode; the rest is the data. */
// fuzz-sources: src/exec/wagi/cgi.c src/server/router.c src/server/head.c
// fuzz-sources: src/util/alloc.c src/util/arena.c src/util/buf.c
#include "exec/wagi/cgi.h"
#include "server/head.h"
#include "server/router.h"

#include <stdint.h>
#include <string.h>

/* Splits data at the first '\n' into (a, b). */
static void split(const char *d, size_t n, const char **a, size_t *an, const char **b, size_t *bn)
{
    const char *nl = memchr(d, '\n', n);
    *a = d;
    *an = nl ? (size_t)(nl - d) : n;
    *b = nl ? nl + 1 : d + n;
    *bn = nl ? n - *an - 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *d = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 3) {
    case 0: {
        kiln_cgi_response res;
        if (kiln_cgi_parse_response(d, n, &res) == 0) {
            for (size_t i = 0; i < res.nheaders; i++) {
                /* invariants: names are tokens, values free of CR/LF/NUL */
                if (memchr(res.headers[i].value, '\n', res.headers[i].value_len) ||
                    memchr(res.headers[i].value, '\r', res.headers[i].value_len) ||
                    memchr(res.headers[i].value, '\0', res.headers[i].value_len) ||
                    res.headers[i].name_len == 0)
                    __builtin_trap();
            }
            if (res.status < 100 || res.status > 999) __builtin_trap();
            if (res.body < d || res.body + res.body_len > d + n) __builtin_trap();
        }
        kiln_cgi_response_free(&res);
        break;
    }
    case 1: {
        const char *path, *rest;
        size_t plen, rlen;
        split(d, n, &path, &plen, &rest, &rlen);
        kiln_router *r = kiln_router_new();
        if (!r) return 0;
        kiln_router_add(r, "/a/:b/...", NULL, NULL);
        kiln_router_add(r, "/...", NULL, NULL);
        kiln_router_add(r, "/x/:y/z", NULL, NULL);
        kiln_route_match m;
        if (kiln_router_lookup(r, path, plen, &m) == 1) {
            kiln_cgi_header h[2] = {{"X-A", 3, rest, rlen}, {rest, rlen, "v", 1}};
            kiln_cgi_request req = {.method = "GET",
                                    .method_len = 3,
                                    .path = path,
                                    .path_len = plen,
                                    .query = rest,
                                    .query_len = rlen,
                                    .authority = rest,
                                    .authority_len = rlen,
                                    .scheme = "http",
                                    .protocol = "HTTP/1.1",
                                    .client_ip = "127.0.0.1",
                                    .headers = h,
                                    .nheaders = 2,
                                    .match = &m};
            kiln_strv env = {0}, argv = {0};
            kiln_cgi_env(&req, &env);
            kiln_cgi_argv(&req, NULL, &argv);
            for (size_t i = 0; i < env.n; i++)
                if (!strchr(env.v[i], '=')) __builtin_trap();
            kiln_strv_free(&env);
            kiln_strv_free(&argv);
        }
        kiln_route_match_free(&m);
        kiln_router_free(r);
        break;
    }
    default: {
        int st = kiln_http1_head_check(d, n, 64);
        if (st != 0 && st != 400 && st != 431) __builtin_trap();
        break;
    }
    }
    return 0;
}
