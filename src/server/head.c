/* head.c — raw HTTP/1.x request head checks (see head.h). */
#include "server/head.h"

#include <string.h>
#include <strings.h>

/* Length of the head: up to and including the blank line, or len when there is none. */
static size_t head_length(const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\n') continue;
        if (i + 1 < len && buf[i + 1] == '\n') return i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n') return i + 3;
    }
    return len;
}

/* 1 if the line [p, p+n) is header `name` (lowercase), case-insensitively; *val is then
 * the trimmed value. */
static int header_is(const char *p, size_t n, const char *name, const char **val, size_t *vlen)
{
    size_t nl = strlen(name);
    if (n <= nl || p[nl] != ':' || strncasecmp(p, name, nl) != 0) return 0;
    const char *v = p + nl + 1, *e = p + n;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        e--;
    *val = v;
    *vlen = (size_t)(e - v);
    return 1;
}

int kiln_http1_head_check(const char *buf, size_t len, size_t max_head)
{
    size_t hl = head_length(buf, len);
    if (hl > max_head) return 431;
    int te = 0, cl = 0;
    const char *clv = NULL;
    size_t cllen = 0;
    const char *p = memchr(buf, '\n', hl); /* skip the request line */
    while (p && (size_t)(p - buf) + 1 < hl) {
        p++;
        const char *nl = memchr(p, '\n', hl - (size_t)(p - buf));
        size_t n = nl ? (size_t)(nl - p) : hl - (size_t)(p - buf);
        const char *v;
        size_t vl;
        if (header_is(p, n, "transfer-encoding", &v, &vl)) te = 1;
        if (header_is(p, n, "content-length", &v, &vl)) {
            if (cl && (vl != cllen || memcmp(v, clv, vl) != 0)) return 400;
            cl = 1;
            clv = v;
            cllen = vl;
        }
        p = nl;
    }
    return te && cl ? 400 : 0;
}
