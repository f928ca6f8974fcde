/* split.c — the opt tier's generated C cut into translation units (see split.h). */
#include "engine/split.h"
#include "util/alloc.h"

#include <string.h>

#define HIDDEN "__attribute__((visibility(\"hidden\"))) "
#define STATIC "static "

typedef struct {
    size_t start, end; /* [start, end) of the definition, through its "}\n" */
    size_t part;
} body;

/* The length of the line at `p` (up to `end`), without its newline. */
static size_t line_len(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    return nl ? (size_t)(nl - p) : (size_t)(end - p);
}

static int starts(const char *p, size_t n, const char *s)
{
    size_t k = strlen(s);
    return n >= k && memcmp(p, s, k) == 0;
}

/* Whether the column-0 line p[0..n) is a `static` declaration or definition of a wasm
 * function: "static " (not "static inline"), and the identifier before its first '(' starts
 * with "w2c_" with no '=', ';' or '{' before that '('. */
static int is_w2c_function(const char *p, size_t n)
{
    if (!starts(p, n, STATIC) || starts(p, n, "static inline")) return 0;
    size_t i = 0;
    while (i < n && p[i] != '(' && p[i] != '=' && p[i] != ';' && p[i] != '{')
        i++;
    if (i == n || p[i] != '(') return 0;
    size_t j = i;
    while (j > 0 && (p[j - 1] == '_' || (p[j - 1] >= 'a' && p[j - 1] <= 'z') ||
                     (p[j - 1] >= 'A' && p[j - 1] <= 'Z') || (p[j - 1] >= '0' && p[j - 1] <= '9')))
        j--;
    return i - j > 4 && memcmp(p + j, "w2c_", 4) == 0;
}

/* Whether the column-0 line at p (up to end) opens a wasm function's definition: its
 * signature, which wasm2c wraps over several lines when the parameters are many, ends with
 * ") {" (a declaration's with ");"). */
static int is_body_start(const char *p, const char *end)
{
    size_t n = line_len(p, end);
    if (!is_w2c_function(p, n)) return 0;
    for (;;) {
        if (n >= 3 && memcmp(p + n - 3, ") {", 3) == 0) return 1;
        if (n >= 1 && (p[n - 1] == ';' || p[n - 1] == '}')) return 0;
        p += n + 1;
        if (p >= end) return 0;
        n = line_len(p, end);
    }
}

/* Whether the column-0 line p[0..n) is a `static` data definition: "static " (not inline)
 * with a '=' or ';' before any '(' or '{'. Sets *decl to the length of its declarator part
 * (before " =" or ";"). */
static int is_static_data(const char *p, size_t n, size_t *decl)
{
    if (!starts(p, n, STATIC) || starts(p, n, "static inline")) return 0;
    size_t i = 0;
    while (i < n && p[i] != '(' && p[i] != '=' && p[i] != ';' && p[i] != '{')
        i++;
    if (i == n || (p[i] != '=' && p[i] != ';')) return 0;
    while (i > 0 && p[i - 1] == ' ')
        i--;
    *decl = i;
    return 1;
}

/* Appends the prefix src[0..n) rewritten (split.h): for the common header when `header`
 * (static data as extern declarations, initializers dropped), else for part 0. */
static int emit_prefix(const char *src, size_t n, int header, kiln_buf *out)
{
    const char *p = src, *end = src + n;
    int continued = 0, skipping = 0;
    while (p < end) {
        size_t ln = line_len(p, end);
        size_t adv = ln + (p + ln < end ? 1 : 0);
        int top = !continued;
        continued = ln > 0 && p[ln - 1] == '\\';
        size_t decl;
        int r = 0;
        if (skipping) {
            if (top && ln > 0 && p[0] == '}') skipping = 0;
        } else if (top && is_w2c_function(p, ln)) {
            r = kiln_buf_puts(out, HIDDEN) < 0 ||
                        kiln_buf_append(out, p + strlen(STATIC), adv - strlen(STATIC)) < 0
                    ? -1
                    : 0;
        } else if (top && is_static_data(p, ln, &decl)) {
            if (header) {
                r = kiln_buf_puts(out, "extern " HIDDEN) < 0 ||
                            kiln_buf_append(out, p + strlen(STATIC), decl - strlen(STATIC)) < 0 ||
                            kiln_buf_puts(out, ";\n") < 0
                        ? -1
                        : 0;
                skipping = p[ln - 1] != ';';
            } else {
                r = kiln_buf_puts(out, HIDDEN) < 0 ||
                            kiln_buf_append(out, p + strlen(STATIC), adv - strlen(STATIC)) < 0
                        ? -1
                        : 0;
            }
        } else {
            r = kiln_buf_append(out, p, adv);
        }
        if (r < 0) return -1;
        p += adv;
    }
    return 0;
}

/* Appends one body, its first line without `static` and with hidden visibility. */
static int emit_body(const char *src, const body *b, kiln_buf *out)
{
    size_t k = strlen(STATIC);
    return kiln_buf_puts(out, HIDDEN) < 0 ||
                   kiln_buf_append(out, src + b->start + k, b->end - b->start - k) < 0
               ? -1
               : 0;
}

/* Finds the wasm function definitions of src[0..len) in order. Returns the count (0 when
 * none) with *out (kiln_free), or -1 when out of memory. */
static long find_bodies(const char *src, size_t len, body **out)
{
    body *v = NULL;
    size_t n = 0, cap = 0;
    const char *p = src, *end = src + len;
    int continued = 0;
    while (p < end) {
        size_t ln = line_len(p, end);
        size_t adv = ln + (p + ln < end ? 1 : 0);
        int top = !continued;
        continued = ln > 0 && p[ln - 1] == '\\';
        if (top && is_body_start(p, end)) {
            /* The body runs through the next line that is exactly "}". */
            const char *q = p + adv;
            while (q < end) {
                size_t m = line_len(q, end);
                int close = m == 1 && q[0] == '}';
                q += m + (q + m < end ? 1 : 0);
                if (close) break;
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                body *nv = kiln_realloc(v, cap * sizeof *v);
                if (!nv) {
                    kiln_free(v);
                    return -1;
                }
                v = nv;
            }
            v[n].start = (size_t)(p - src);
            v[n].end = (size_t)(q - src);
            v[n].part = 0;
            n++;
            p = q;
            continued = 0;
            continue;
        }
        p += adv;
    }
    *out = v;
    return (long)n;
}

int kiln_split_c(const char *src, size_t len, size_t nparts, kiln_buf *parts)
{
    body *bodies = NULL;
    long nb = find_bodies(src, len, &bodies);
    if (nb < 0) return -1;
    if (nb == 0 || nparts < 2) {
        kiln_free(bodies);
        return 1;
    }
    int rc = -1;
    size_t *sizes = kiln_calloc(nparts, sizeof *sizes);
    if (!sizes) goto out;
    size_t first = bodies[0].start;
    /* The common header, then part 0 up to the first body. */
    if (emit_prefix(src, first, 1, &parts[1]) < 0) goto out;
    for (size_t k = 2; k < nparts; k++)
        if (kiln_buf_append(&parts[k], parts[1].data, parts[1].len) < 0) goto out;
    if (emit_prefix(src, first, 0, &parts[0]) < 0) goto out;
    size_t body_bytes = 0;
    for (long i = 0; i < nb; i++)
        body_bytes += bodies[i].end - bodies[i].start;
    sizes[0] = len - body_bytes;
    for (size_t k = 1; k < nparts; k++)
        sizes[k] = parts[1].len;
    for (long i = 0; i < nb; i++) {
        size_t best = 0;
        for (size_t k = 1; k < nparts; k++)
            if (sizes[k] < sizes[best]) best = k;
        bodies[i].part = best;
        sizes[best] += bodies[i].end - bodies[i].start;
    }
    /* The rest of the text in order: part 0 keeps its bodies in place and everything
     * between and after them; the other parts get their bodies. */
    size_t at = first;
    for (long i = 0; i < nb; i++) {
        if (kiln_buf_append(&parts[0], src + at, bodies[i].start - at) < 0) goto out;
        if (emit_body(src, &bodies[i], &parts[bodies[i].part]) < 0) goto out;
        at = bodies[i].end;
    }
    if (kiln_buf_append(&parts[0], src + at, len - at) < 0) goto out;
    rc = 0;
out:
    kiln_free(sizes);
    kiln_free(bodies);
    return rc;
}
