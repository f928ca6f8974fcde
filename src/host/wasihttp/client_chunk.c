/* client_chunk.c — HTTP/1.1 chunked framing (outbound.h): of streamed outbound request
 * bodies (one chunk per batch of bytes, and the last chunk with the guest's trailers), and
 * the lines of a chunked response (chunk sizes, trailer fields). */
#include "host/wasihttp/outbound.h"
#include "util/alloc.h"

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

int wh_chunk_size_parse(const char *p, size_t n, size_t *used, uint64_t *size)
{
    const char *nl = memchr(p, '\n', n);
    if (!nl) return n > 4096 ? -1 : 0;
    uint64_t v = 0;
    size_t i = 0;
    for (; p + i < nl; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) break;
        if (i >= 15) return -1;
        v = v * 16 + (uint64_t)d;
    }
    if (i == 0) return -1;
    *used = (size_t)(nl - p) + 1;
    *size = v;
    return 1;
}

uint32_t wh_trailer_parse(wh_fields **into, const char *p, size_t ln)
{
    if (ln && p[ln - 1] == '\r') ln--;
    const char *colon = memchr(p, ':', ln);
    if (!colon || colon == p || !wh_name_valid(p, (size_t)(colon - p)))
        return WH_E_HTTP_PROTOCOL_ERROR;
    size_t nl = (size_t)(colon - p);
    const char *v = colon + 1, *ve = p + ln;
    while (v < ve && (*v == ' ' || *v == '\t'))
        v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    size_t vl = (size_t)(ve - v);
    if (!wh_value_valid((const uint8_t *)v, vl)) return 0;
    if (!*into && !(*into = wh_fields_new())) return WH_E_INTERNAL;
    wh_fields *f = *into;
    if (wh_fields_append(f, p, nl, (const uint8_t *)v, vl) < 0) return WH_E_INTERNAL;
    const wh_field *last = &f->items[f->n - 1]; /* its name lowercased: checked as such */
    if (wh_trailer_skipped(last->name, last->name_len)) kiln_free(f->items[--f->n].name);
    return 0;
}
