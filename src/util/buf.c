/* buf.c — growable byte buffer (see buf.h). */
#include "util/buf.h"
#include "util/alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int kiln_buf_reserve(kiln_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1) return -1;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *p = kiln_realloc(b->data, cap);
    if (!p) return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int kiln_buf_append(kiln_buf *b, const void *p, size_t n)
{
    if (kiln_buf_reserve(b, n) < 0) return -1;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int kiln_buf_puts(kiln_buf *b, const char *s)
{
    return kiln_buf_append(b, s, strlen(s));
}

int kiln_buf_putc(kiln_buf *b, char c)
{
    return kiln_buf_append(b, &c, 1);
}

int kiln_buf_vprintf(kiln_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || kiln_buf_reserve(b, (size_t)n) < 0) return -1;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int kiln_buf_printf(kiln_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = kiln_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void kiln_buf_reset(kiln_buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void kiln_buf_free(kiln_buf *b)
{
    kiln_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *kiln_buf_steal(kiln_buf *b)
{
    if (!b->data && kiln_buf_reserve(b, 0) < 0) return NULL;
    b->data[b->len] = '\0';
    char *p = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
