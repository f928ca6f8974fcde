/* jsonw.c — JSON text output (see jsonw.h). */
#include "dist/jsonw.h"

#include <string.h>

int kiln_jsonw_strn(kiln_buf *b, const char *s, size_t n)
{
    if (kiln_buf_putc(b, '"') < 0) return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc;
        if (c == '"' || c == '\\')
            rc = kiln_buf_printf(b, "\\%c", c);
        else if (c == '\n')
            rc = kiln_buf_puts(b, "\\n");
        else if (c < 0x20)
            rc = kiln_buf_printf(b, "\\u%04x", c);
        else
            rc = kiln_buf_putc(b, (char)c);
        if (rc < 0) return -1;
    }
    return kiln_buf_putc(b, '"');
}

int kiln_jsonw_str(kiln_buf *b, const char *s)
{
    return kiln_jsonw_strn(b, s, strlen(s));
}

int kiln_jsonw_key(kiln_buf *b, const char *key)
{
    char last = b->len ? b->data[b->len - 1] : '{';
    if (last != '{' && last != '[' && kiln_buf_putc(b, ',') < 0) return -1;
    if (kiln_jsonw_str(b, key) < 0) return -1;
    return kiln_buf_putc(b, ':');
}

int kiln_jsonw_kv(kiln_buf *b, const char *key, const char *value)
{
    if (!value) return 0;
    if (kiln_jsonw_key(b, key) < 0) return -1;
    return kiln_jsonw_str(b, value);
}
