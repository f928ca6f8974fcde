/* errf.c — allocated error messages (see errf.h). */
#include "dist/errf.h"
#include "util/buf.h"

#include <stdarg.h>

void kiln_dist_errf(char **err, const char *fmt, ...)
{
    kiln_buf b = KILN_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    *err = kiln_buf_vprintf(&b, fmt, ap) == 0 ? kiln_buf_steal(&b) : NULL;
    va_end(ap);
    kiln_buf_free(&b);
}
