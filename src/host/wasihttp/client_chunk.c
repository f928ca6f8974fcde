/* client_chunk.c — the chunked framing of streamed outbound request bodies (outbound.h):
 * one chunk per batch of bytes, and the last chunk with the guest's trailers. */
#include "host/wasihttp/outbound.h"

#include <string.h>

int wh_chunk_append(kiln_buf *b, const void *data, size_t n)
{
    if (n == 0) return 0;
    if (kiln_buf_printf(b, "%zx\r\n", n) < 0 || kiln_buf_append(b, data, n) < 0) return -1;
    return kiln_buf_append(b, "\r\n", 2);
}

/* Fields a sender must not put in a trailer section (RFC 9110 6.5.1: framing, routing,
 * and what the head alone decides). */
static const char *const skipped[] = {
    "content-length", "transfer-encoding", "host",   "trailer", "te",
    "content-type",   "authorization",     "expect",
};

int wh_trailer_skipped(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof skipped / sizeof skipped[0]; i++)
        if (strlen(skipped[i]) == n && memcmp(skipped[i], name, n) == 0) return 1;
    return wh_name_forbidden(name, n);
}

int wh_chunk_end(kiln_buf *b, const wh_fields *trailers)
{
    if (kiln_buf_append(b, "0\r\n", 3) < 0) return -1;
    for (size_t i = 0; trailers && i < trailers->n; i++) {
        const wh_field *f = &trailers->items[i];
        if (wh_trailer_skipped(f->name, f->name_len)) continue;
        if (kiln_buf_append(b, f->name, f->name_len) < 0 || kiln_buf_append(b, ": ", 2) < 0 ||
            kiln_buf_append(b, f->value, f->value_len) < 0 || kiln_buf_append(b, "\r\n", 2) < 0)
            return -1;
    }
    return kiln_buf_append(b, "\r\n", 2);
}
