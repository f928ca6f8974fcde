/* echo_handler.c — a handler built on the Kiln C SDK for tests/e2e/c_sdk_component.sh,
 * once as a wasi:http component (sdk/kiln_http.c) and once as a WAGI module
 * (sdk/kiln_wagi.c): it answers what it read of the request, so that both forms, and
 * `jco serve`, can be compared on the same requests.
 *
 *   DELETE              405 with Allow and a JSON error (kiln_respond_error)
 *   ?status=N           answers with status N
 *   ?big=N              answers N bytes of a pattern after the echo (a body in many pieces)
 *   ?sum                prints the body's length and FNV-1a hash instead of the body
 *   ?json               parses the body as JSON and answers {"name": ...} from it
 *   ?nosend             returns from main without kiln_send() (the backend sends it)
 *   otherwise           method, path, path info, :id, every query parameter, the X-Test and
 *                       Content-Type headers and the body, one per line */
#include "kiln.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    const char *m = kiln_method();
    if (strcmp(m, "DELETE") == 0) {
        kiln_add_header("Allow", "GET, POST");
        return kiln_respond_error(405, "method %s is not allowed", m);
    }
    const char *st = kiln_query("status");
    if (st) kiln_status(atoi(st));
    kiln_set_header("Content-Type", "text/plain; charset=utf-8");
    kiln_add_header("Set-Cookie", "a=1");
    kiln_add_header("Set-Cookie", "b=2");
    kiln_set_header("X-Echo-Method", m);
    size_t len;
    const char *body = kiln_body(&len);
    if (kiln_query("json")) {
        char err[96];
        kiln_jv *v = kiln_jv_parse(body, len, err, sizeof err);
        const char *name = kiln_jv_string(kiln_jv_get(v, "name"));
        if (!name) {
            kiln_jv_free(v);
            return kiln_respond_error(400, "bad JSON: %s", v ? "no string \"name\"" : err);
        }
        kiln_set_header("Content-Type", "application/json");
        kiln_puts("{\"name\": ");
        kiln_write_json_string(name, strlen(name));
        kiln_puts("}\n");
        kiln_jv_free(v);
        return kiln_send();
    }
    const char *id = kiln_param("id");
    kiln_printf("method=%s\npath=%s\ninfo=%s\nid=%s\n", m, kiln_path(), kiln_path_info(),
                id ? id : "(none)");
    for (size_t i = 0; i < kiln_query_count(); i++) {
        const char *n, *v;
        kiln_query_at(i, &n, &v);
        kiln_printf("q[%s]=%s\n", n, v);
    }
    const char *x = kiln_header("X-Test"), *ct = kiln_header("Content-Type");
    kiln_printf("x-test=%s\ncontent-type=%s\n", x ? x : "(none)", ct ? ct : "(none)");
    if (!body) {
        kiln_puts("body=(unreadable)\n");
    } else if (kiln_query("sum")) {
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < len; i++)
            h = (h ^ (unsigned char)body[i]) * 16777619u;
        kiln_printf("body=%zu bytes, fnv1a %08x\n", len, (unsigned)h);
    } else {
        kiln_printf("body=%zu:", len);
        kiln_write(body, len);
        kiln_puts("\n");
    }
    const char *big = kiln_query("big");
    for (long i = 0, n = big ? atol(big) : 0; i < n; i++)
        kiln_write(&"0123456789abcdef\n"[i % 17], 1);
    if (kiln_query("nosend")) return 0;
    return kiln_send();
}
