/* The /process component of examples/polyglot (C, WAGI, the Kiln C SDK): the text of
 * ?text= (or of a POST body) analysed, as JSON:
 *     {"text": "...", "chars": N, "words": N, "upper": "..."}
 * chars counts UTF-8 code points, words runs of non-space bytes, upper is the text with
 * ASCII letters upper-cased. The JavaScript front end at / calls it through service
 * chaining (http://process.spin.internal/process); it is also a route of its own. */
#include "kiln.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    const char *method = kiln_method();
    size_t len = 0;
    const char *text;
    if (strcmp(method, "POST") == 0) {
        text = kiln_body(&len);
        if (!text) return kiln_respond_error(413, "the request body could not be read");
    } else if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
        text = kiln_query("text");
        text = text ? text : "";
        len = strlen(text);
    } else {
        kiln_add_header("Allow", "GET, HEAD, POST");
        return kiln_respond_error(405, "method %s is not allowed", method);
    }
    size_t chars = 0, words = 0;
    char *upper = malloc(len + 1);
    if (!upper) return kiln_respond_error(500, "out of memory");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        chars += (c & 0xC0) != 0x80;
        words += !isspace(c) && (i == 0 || isspace((unsigned char)text[i - 1]));
        upper[i] = c < 0x80 ? (char)toupper(c) : (char)c;
    }
    kiln_set_header("Content-Type", "application/json");
    kiln_set_header("X-Language", "C");
    kiln_puts("{\"text\": ");
    kiln_write_json_string(text, len);
    kiln_printf(", \"chars\": %zu, \"words\": %zu, \"upper\": ", chars, words);
    kiln_write_json_string(upper, len);
    kiln_puts("}\n");
    free(upper);
    return kiln_send();
}
