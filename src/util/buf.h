/* buf.h — a growable byte buffer (always NUL-terminated for convenience).
 *
 * Functions return 0 on success and -1 when memory runs out; on failure the buffer
 * keeps its previous contents. kiln_buf_free releases the storage. */
#ifndef KILN_UTIL_BUF_H
#define KILN_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct kiln_buf {
    char *data; /* NULL until the first append; data[len] == '\0' afterwards */
    size_t len;
    size_t cap;
} kiln_buf;

#define KILN_BUF_INIT                                                                              \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

int kiln_buf_reserve(kiln_buf *b, size_t extra);
int kiln_buf_append(kiln_buf *b, const void *p, size_t n);
int kiln_buf_puts(kiln_buf *b, const char *s);
int kiln_buf_putc(kiln_buf *b, char c);
int kiln_buf_printf(kiln_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int kiln_buf_vprintf(kiln_buf *b, const char *fmt, va_list ap);
void kiln_buf_reset(kiln_buf *b);
void kiln_buf_free(kiln_buf *b);
/* Takes ownership of the bytes (never NULL on success: "" for an empty buffer). */
char *kiln_buf_steal(kiln_buf *b);

#endif
