/* public — the open route of examples/auth-middleware: no middleware in front of it. */
#include "kiln.h"

int main(void)
{
    return kiln_respond(200, "text/plain; charset=utf-8", "anyone may read this\n");
}
