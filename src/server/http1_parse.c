/* http1_parse.c — request heads and bodies of the HTTP/1.x codec (see http1_parse.h). */
#include "server/http1_parse.h"

#include <string.h>
#include <strings.h>

/* 1 if the header name n[0, len) is lit (lowercase, case-insensitive compare). */
static int name_is(const struct phr_header *hd, const char *lit)
{
    size_t n = strlen(lit);
    return hd->name_len == n && strncasecmp(hd->name, lit, n) == 0;
}

/* 1 if v[0, n), without surrounding blanks, is lit (case-insensitive). */
static int value_is(const char *v, size_t n, const char *lit)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    size_t k = strlen(lit);
    return n == k && strncasecmp(v, lit, k) == 0;
}

int kiln_h1_has_token(const char *v, size_t n, const char *tok)
{
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && v[j] != ',')
            j++;
        if (value_is(v + i, j - i, tok)) return 1;
        i = j + 1;
    }
    return 0;
}

/* A Content-Length value: 1 to 19 digits. 0 or -1. */
static int parse_length(const char *s, size_t n, size_t *out)
{
    size_t v = 0;
    if (!n || n > 19) return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (size_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* The framing headers of h. 0, or the status of a framing error (400, 417). */
static int framing(kiln_h1_head *h)
{
    const char *conn = NULL, *expect = NULL;
    size_t conn_len = 0, expect_len = 0;
    for (size_t i = 0; i < h->nheaders; i++) {
        const struct phr_header *hd = &h->headers[i];
        if (!hd->name) return 400; /* obsolete line folding */
        if (name_is(hd, "content-length")) {
            size_t v;
            if (parse_length(hd->value, hd->value_len, &v) < 0 || (h->has_length && v != h->length))
                return 400;
            h->has_length = 1;
            h->length = v;
        } else if (name_is(hd, "transfer-encoding")) {
            if (h->chunked || !value_is(hd->value, hd->value_len, "chunked")) return 400;
            h->chunked = 1;
        } else if (name_is(hd, "expect")) {
            expect = hd->value;
            expect_len = hd->value_len;
        } else if (name_is(hd, "connection")) {
            conn = hd->value;
            conn_len = hd->value_len;
        }
    }
    if (conn && kiln_h1_has_token(conn, conn_len, "close"))
        h->persistent = 0;
    else if (h->minor >= 1)
        h->persistent = 1;
    else
        h->persistent = conn && kiln_h1_has_token(conn, conn_len, "keep-alive");
    if (h->has_length && h->chunked) return 400;
    if (expect) {
        if (!value_is(expect, expect_len, "100-continue")) return 417;
        h->expect_continue = 1;
    }
    return 0;
}

int kiln_h1_parse_head(const char *buf, size_t len, size_t max_head, size_t max_body,
                       kiln_h1_head *h)
{
    memset(h, 0, offsetof(kiln_h1_head, headers));
    h->nheaders = KILN_H1_MAX_HEADERS;
    h->has_length = h->chunked = h->expect_continue = h->persistent = 0;
    h->length = 0;
    size_t look = len < max_head ? len : max_head;
    int n = phr_parse_request(buf, look, &h->method, &h->method_len, &h->path, &h->path_len,
                              &h->minor, h->headers, &h->nheaders, 0);
    if (n == -2) return len >= max_head ? 431 : KILN_H1_MORE;
    if (n < 0) {
        static const char pri[] = "PRI * HTTP/2";
        if (len >= sizeof pri - 1 && memcmp(buf, pri, sizeof pri - 1) == 0) return KILN_H1_HTTP2;
        return h->nheaders >= KILN_H1_MAX_HEADERS ? 431 : 400;
    }
    h->head_len = (size_t)n;
    int st = framing(h);
    if (!st && h->has_length && h->length > max_body) st = 413;
    return st;
}

void kiln_h1_body_init(kiln_h1_body *b, const kiln_h1_head *h, size_t max_body)
{
    memset(b, 0, sizeof *b);
    b->chunked = h->chunked;
    b->left = h->chunked ? 0 : h->length;
    b->max = max_body;
    b->dec.consume_trailer = 0; /* the trailer section is read here */
}

/* Reads trailer-section bytes p[0, n) into b: *used of them, up to and including the
 * empty line that ends the section. 1 when it ended, 0 when more is needed, -1 when the
 * section is over KILN_H1_MAX_TRAILERS. */
static int trailer_scan(kiln_h1_body *b, const char *p, size_t n, size_t *used)
{
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch == '\n') {
            if (b->line == 0) {
                *used = i + 1;
                return 1;
            }
            b->line = 0;
        } else if (ch != '\r') {
            b->line++;
        }
        if (b->trailers_len == sizeof b->trailers) return -1;
        b->trailers[b->trailers_len++] = ch;
    }
    *used = n;
    return 0;
}

int kiln_h1_body_decode(kiln_h1_body *b, char *buf, size_t *size, size_t room, size_t *data)
{
    size_t take = *size < room ? *size : room;
    int end;
    *data = 0;
    if (b->chunked) {
        end = 0;
        if (!b->in_trailers) {
            /* decodes [0, take) in place: the data lands at [0, dec); what follows the
             * last chunk's line (r >= 0: r bytes) stays right after it; bytes past take
             * move down */
            size_t dec = take, tail = *size - take;
            if (!take) return KILN_H1_MORE;
            ssize_t r = phr_decode_chunked(&b->dec, buf, &dec);
            if (r == -1) return 400;
            size_t keep = dec + (r >= 0 ? (size_t)r : 0);
            if (tail) memmove(buf + keep, buf + take, tail);
            *size = keep + tail;
            *data = dec;
            b->in_trailers = r >= 0;
        }
        if (b->in_trailers) { /* the trailer section, from buf[*data] on: taken out */
            size_t used;
            int st = trailer_scan(b, buf + *data, *size - *data, &used);
            if (st < 0) {
                *data = 0;
                return 431;
            }
            memmove(buf + *data, buf + *data + used, *size - *data - used);
            *size -= used;
            end = st;
        }
    } else {
        size_t n = b->left < take ? b->left : take;
        b->left -= n;
        *data = n;
        end = !b->left;
    }
    if (*data > b->max - b->seen) {
        *data = 0;
        return 413;
    }
    b->seen += *data;
    return end ? KILN_H1_OK : KILN_H1_MORE;
}

size_t kiln_h1_trailers(const kiln_h1_body *b, struct phr_header *out, size_t max)
{
    size_t n = 0;
    const char *p = b->trailers, *e = b->trailers + b->trailers_len;
    while (p < e && n < max) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        const char *end = nl ? nl : e, *next = nl ? nl + 1 : e;
        if (end > p && end[-1] == '\r') end--;
        const char *colon = memchr(p, ':', (size_t)(end - p));
        size_t nlen = colon ? (size_t)(colon - p) : 0;
        int ok = nlen > 0;
        for (size_t i = 0; ok && i < nlen; i++)
            ok = (unsigned char)p[i] > 32 && (unsigned char)p[i] < 127 &&
                 !strchr("()<>@,;:\\\"/[]?={}", p[i]);
        if (ok) {
            const char *v = colon + 1;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = end;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            out[n++] = (struct phr_header){p, nlen, v, (size_t)(ve - v)};
        }
        p = next;
    }
    return n;
}
