/* api — the protected handler of examples/auth-middleware. It holds no authentication
 * code: kiln.toml puts the middleware (auth.c) in front of its route, so a request only
 * reaches it with a valid bearer token. */
#include "kiln.h"

#include <string.h>

int main(void)
{
    kiln_set_header("Content-Type", "application/json");
    kiln_puts("{\"protected\": true, \"path\": ");
    const char *p = kiln_path();
    kiln_write_json_string(p, strlen(p));
    kiln_puts("}\n");
    return kiln_send();
}
