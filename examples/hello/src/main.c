/* hello — the smallest Kiln handler: GET / answers "Hello from Kiln!", and the route
 * /hello/:name greets by name (kiln_param reads the route's `:name` segment). */
#include "kiln.h"

#include <string.h>

int main(void)
{
    const char *m = kiln_method();
    if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
        kiln_add_header("Allow", "GET, HEAD");
        return kiln_respond_error(405, "method %s is not allowed", m);
    }
    const char *name = kiln_param("name");
    kiln_set_header("Content-Type", "text/plain; charset=utf-8");
    if (name)
        kiln_printf("Hello, %s!\n", name);
    else
        kiln_puts("Hello from Kiln!\n");
    return kiln_send();
}
