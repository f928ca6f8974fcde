/* jsonw.c — JSON text output (see jsonw.h). */
#include "dist/jsonw.h"
#include "util/json.h"

#include <string.h>

int kiln_jsonw_key(kiln_buf *b, const char *key)
{
    char last = b->len ? b->data[b->len - 1] : '{';
    if (last != '{' && last != '[' && kiln_buf_putc(b, ',') < 0) return -1;
    if (kiln_json_write_str(b, key) < 0) return -1;
    return kiln_buf_putc(b, ':');
}

int kiln_jsonw_kv(kiln_buf *b, const char *key, const char *value)
{
    if (!value) return 0;
    if (kiln_jsonw_key(b, key) < 0) return -1;
    return kiln_json_write_str(b, value);
}
