/* The HTTP handler of {{project-name}}: Kiln runs main() once per request.
 * Read the request with kiln_method(), kiln_path(), kiln_query(), kiln_header() and
 * kiln_body(); build the answer with kiln_status(), kiln_set_header() and kiln_printf();
 * send it with kiln_send(). See sdk/kiln.h. */
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
    if (name && *name)
        kiln_printf("Hello, %s, from Kiln!\n", name);
    else
        kiln_puts("Hello from Kiln!\n");
    return kiln_send();
}
