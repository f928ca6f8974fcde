/* The C component of examples/polyglot (GET /c), built with the Kiln C SDK. */
#include "kiln.h"

#include <string.h>

int main(void)
{
    if (strcmp(kiln_method(), "GET") != 0 && strcmp(kiln_method(), "HEAD") != 0) {
        kiln_add_header("Allow", "GET, HEAD");
        return kiln_respond_error(405, "method %s is not allowed", kiln_method());
    }
    const char *name = kiln_query("name");
    kiln_set_header("Content-Type", "text/plain; charset=utf-8");
    kiln_set_header("X-Language", "C");
    kiln_printf("Hello from C, %s!\n", name && *name ? name : "world");
    return kiln_send();
}
