/* json-api — POST / with {"name": "Alice"} answers
 *     200 {"message": "Hello, Alice!", "timestamp": <unix seconds>}
 * Other methods get 405 with `Allow: POST`; a body that is not JSON, not an object, or
 * lacks a string `name` gets 400; every error is a JSON body {"error": ..., "status": N}
 * (kiln_respond_error). */
#include "kiln.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(void)
{
    if (strcmp(kiln_method(), "POST") != 0) {
        kiln_add_header("Allow", "POST");
        return kiln_respond_error(405, "use POST with a JSON body like {\"name\": \"Alice\"}");
    }
    size_t len;
    const char *body = kiln_body(&len);
    if (!body) return kiln_respond_error(413, "the request body could not be read");
    char why[128];
    kiln_jv *doc = kiln_jv_parse(body, len, why, sizeof why);
    if (!doc) return kiln_respond_error(400, "the body is not valid JSON: %s", why);
    if (doc->type != KILN_JV_OBJECT) {
        kiln_jv_free(doc);
        return kiln_respond_error(400, "the body must be a JSON object");
    }
    const kiln_jv *name = kiln_jv_get(doc, "name");
    if (!name || name->type != KILN_JV_STRING || name->string_len == 0) {
        kiln_jv_free(doc);
        return kiln_respond_error(400, "`name` must be a non-empty string");
    }
    kiln_set_header("Content-Type", "application/json");
    kiln_puts("{\"message\": ");
    /* "Hello, NAME!" with the name's exact bytes (it may contain NUL, from \u0000). */
    size_t msg_len = name->string_len + 8;
    char *msg = msg_len > name->string_len ? malloc(msg_len) : NULL;
    if (!msg) {
        kiln_jv_free(doc);
        return kiln_respond_error(500, "out of memory");
    }
    memcpy(msg, "Hello, ", 7);
    memcpy(msg + 7, name->string, name->string_len);
    msg[msg_len - 1] = '!';
    kiln_write_json_string(msg, msg_len);
    kiln_printf(", \"timestamp\": %lld}\n", (long long)time(NULL));
    free(msg);
    kiln_jv_free(doc);
    return kiln_send();
}
