/* host_handler.c — a C SDK handler using the host APIs (kiln_host.c), for
 * tests/e2e/sdk_c_host.sh:
 *   /kv/set?key=K&value=V   /kv/get?key=K   /kv/exists?key=K   /kv/delete?key=K
 *   /kv/get?store=S&key=K   (another store label)
 *   /var?name=N             a component variable
 *   /fetch?[method=M&][body=B&]url=URL   (URL percent-encoded)
 * Errors answer 502 with kiln_error(). */
#include "kiln.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(void)
{
    return kiln_respond(502, "text/plain", kiln_error());
}

static int kv(const char *op)
{
    const char *key = kiln_query("key"), *store = kiln_query("store");
    if (!key) return kiln_respond_error(400, "no key");
    if (strcmp(op, "set") == 0) {
        const char *v = kiln_query("value");
        if (!v) v = "";
        if (kiln_kv_set(store, key, v, strlen(v)) < 0) return fail();
        return kiln_respond(200, "text/plain", "stored");
    }
    if (strcmp(op, "get") == 0) {
        char *v;
        size_t n;
        int rc = kiln_kv_get(store, key, &v, &n);
        if (rc < 0) return fail();
        if (rc == 0) return kiln_respond(404, "text/plain", "absent");
        kiln_write(v, n);
        free(v);
        return kiln_send();
    }
    if (strcmp(op, "exists") == 0) {
        int rc = kiln_kv_exists(store, key);
        if (rc < 0) return fail();
        return kiln_respond(200, "text/plain", rc ? "yes" : "no");
    }
    if (strcmp(op, "delete") == 0) {
        if (kiln_kv_delete(store, key) < 0) return fail();
        return kiln_respond(200, "text/plain", "deleted");
    }
    return kiln_respond_error(404, "no such operation");
}

static int fetch(void)
{
    const char *u = kiln_query("url");
    if (!u) return kiln_respond_error(400, "no url");
    const char *method = kiln_query("method"), *body = kiln_query("body");
    const char *headers[] = {"X-From: sdk", NULL};
    kiln_http_response r;
    if (kiln_http_fetch(method, u, headers, body, body ? strlen(body) : 0, &r) < 0) return fail();
    const char *x = kiln_http_response_header(&r, "x-upstream");
    kiln_printf("status: %d\nx-upstream: %s\nbody: ", r.status, x ? x : "");
    kiln_write(r.body, r.body_len);
    kiln_http_response_free(&r);
    return kiln_send();
}

int main(void)
{
    const char *p = kiln_path();
    if (strncmp(p, "/kv/", 4) == 0) return kv(p + 4);
    if (strcmp(p, "/var") == 0) {
        const char *name = kiln_query("name");
        const char *v = name ? kiln_variable_get(name) : NULL;
        return v ? kiln_respond(200, "text/plain", v) : fail();
    }
    if (strcmp(p, "/fetch") == 0) return fetch();
    return kiln_respond_error(404, "not found");
}
