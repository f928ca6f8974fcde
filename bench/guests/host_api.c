/* The guest of bench/run.sh's host API section (a wasi:http component over the C SDK):
 *   GET /none    "ok" (the baseline: the same component without a host call)
 *   GET /get     kiln_kv_get of key "k" in the default store
 *   GET /set     kiln_kv_set of key "k" (a 64-byte value)
 *   GET /fetch   kiln_http_fetch of the variable `upstream` (a URL), its body back
 *   GET /hello   "hello" (the route answered while guests wait on /fetch) */
#include "kiln.h"

#include <string.h>

int main(void)
{
    const char *p = kiln_path();
    if (strcmp(p, "/get") == 0) {
        char *v;
        size_t n;
        int rc = kiln_kv_get(NULL, "k", &v, &n);
        if (rc < 0) return kiln_respond_error(500, "%s", kiln_error());
        kiln_write(rc ? v : "-", rc ? n : 1);
        return kiln_send();
    }
    if (strcmp(p, "/set") == 0) {
        static const char value[] =
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        if (kiln_kv_set(NULL, "k", value, sizeof value - 1) < 0)
            return kiln_respond_error(500, "%s", kiln_error());
        return kiln_respond(200, "text/plain", "set");
    }
    if (strcmp(p, "/fetch") == 0) {
        const char *url = kiln_variable_get("upstream");
        kiln_http_response r;
        if (!url || kiln_http_fetch("GET", url, NULL, NULL, 0, &r) < 0)
            return kiln_respond_error(502, "%s", kiln_error());
        kiln_status(r.status);
        kiln_write(r.body, r.body_len);
        kiln_http_response_free(&r);
        return kiln_send();
    }
    return kiln_respond(200, "text/plain", strcmp(p, "/hello") == 0 ? "hello" : "ok");
}
