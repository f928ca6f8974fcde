/* kiln.c — the Kiln C guest SDK (see kiln.h): the part shared by both transports, i.e.
 * memory helpers, buffers, query parameters, the body cache, the response being built and
 * JSON. A handler links it with exactly one backend (kiln_backend.h): kiln_http.c for a
 * wasi:http component, kiln_wagi.c for a WAGI module. Depends on the C library only
 * (wasi-libc in a guest; any libc for native unit tests). */
#include "kiln.h"
#include "kiln_backend.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- memory and growable buffers ---- */

/* Out of memory in a guest: nothing sensible can be answered; a non-zero exit makes the
 * host answer 500 and log it. */
_Noreturn void kiln__oom(void)
{
    fputs("kiln sdk: out of memory\n", stderr);
    exit(70);
}

void *kiln__xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) kiln__oom();
    return p;
}

void *kiln__xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) kiln__oom();
    return q;
}

char *kiln__xstrndup(const char *s, size_t n)
{
    if (n == SIZE_MAX) kiln__oom();
    char *c = kiln__xmalloc(n + 1);
    if (n) memcpy(c, s, n);
    c[n] = '\0';
    return c;
}

void kiln__sb_reserve(kiln__sbuf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1) kiln__oom();
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    b->data = kiln__xrealloc(b->data, cap);
    b->cap = cap;
    b->data[b->len] = '\0'; /* a fresh buffer is an empty string, not garbage */
}

void kiln__sb_append(kiln__sbuf *b, const void *p, size_t n)
{
    kiln__sb_reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void kiln__sb_putc(kiln__sbuf *b, char c)
{
    kiln__sb_append(b, &c, 1);
}

void kiln__sb_vprintf(kiln__sbuf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return;
    kiln__sb_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

/* ---- request: query parameters and the body ---- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char *kiln__url_decode(const char *s, size_t len, int plus)
{
    kiln__sbuf b = {0};
    kiln__sb_reserve(&b, len);
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+' && plus) {
            c = ' ';
        } else if (c == '%' && i + 2 < len) {
            int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
            if (h >= 0 && l >= 0 && (h | l) != 0) {
                c = (char)(h * 16 + l);
                i += 2;
            }
        }
        kiln__sb_putc(&b, c);
    }
    return b.data;
}

static struct {
    int parsed;
    size_t n;
    char **names, **values;
} query;

/* Splits the query string into decoded name/value pairs (once per request). */
static void parse_query(void)
{
    if (query.parsed) return;
    query.parsed = 1;
    const char *q = kiln__query_string();
    size_t cap = 0;
    while (*q) {
        size_t item = strcspn(q, "&;");
        if (item) {
            const char *eq = memchr(q, '=', item);
            size_t nlen = eq ? (size_t)(eq - q) : item;
            if (query.n == cap) {
                cap = cap ? cap * 2 : 8;
                if (cap > SIZE_MAX / sizeof(char *)) kiln__oom();
                query.names = kiln__xrealloc(query.names, cap * sizeof(char *));
                query.values = kiln__xrealloc(query.values, cap * sizeof(char *));
            }
            query.names[query.n] = kiln__url_decode(q, nlen, 1);
            query.values[query.n] =
                eq ? kiln__url_decode(eq + 1, item - nlen - 1, 1) : kiln__xstrndup("", 0);
            query.n++;
        }
        q += item;
        if (*q) q++;
    }
}

const char *kiln_query(const char *name)
{
    parse_query();
    for (size_t i = 0; i < query.n; i++)
        if (strcmp(query.names[i], name) == 0) return query.values[i];
    return NULL;
}

size_t kiln_query_count(void)
{
    parse_query();
    return query.n;
}

int kiln_query_at(size_t i, const char **name, const char **value)
{
    parse_query();
    if (i >= query.n) return -1;
    *name = query.names[i];
    *value = query.values[i];
    return 0;
}

static struct {
    int read, failed;
    kiln__sbuf data;
} req_body;

const char *kiln_body(size_t *len)
{
    if (!req_body.read) {
        req_body.read = 1;
        kiln__sb_append(&req_body.data, "", 0);
        req_body.failed = kiln__read_body(&req_body.data) < 0;
    }
    if (req_body.failed) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = req_body.data.len;
    return req_body.data.data;
}

/* ---- response ---- */

static struct {
    int status;
    int sent;
    size_t nheaders;
    char **names, **values;
    kiln__sbuf body;
} resp = {200, 0, 0, NULL, NULL, {NULL, 0, 0}};

void kiln_status(int status)
{
    resp.status = status;
}

static int is_token(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!isalnum(c) && !strchr("!#$%&'*+-.^_`|~", c)) return 0;
    }
    return 1;
}

static int is_field_value(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && c != '\t') || c == 0x7f) return 0;
    }
    return 1;
}

int kiln_add_header(const char *name, const char *value)
{
    if (!is_token(name) || !is_field_value(value)) return -1;
    if (resp.nheaders == SIZE_MAX / sizeof(char *)) kiln__oom();
    resp.names = kiln__xrealloc(resp.names, (resp.nheaders + 1) * sizeof(char *));
    resp.values = kiln__xrealloc(resp.values, (resp.nheaders + 1) * sizeof(char *));
    resp.names[resp.nheaders] = kiln__xstrndup(name, strlen(name));
    resp.values[resp.nheaders] = kiln__xstrndup(value, strlen(value));
    resp.nheaders++;
    return 0;
}

int kiln_set_header(const char *name, const char *value)
{
    if (!is_token(name) || !is_field_value(value)) return -1;
    int replaced = 0;
    size_t k = 0;
    for (size_t i = 0; i < resp.nheaders; i++) {
        if (strcasecmp(resp.names[i], name) == 0) {
            if (replaced) { /* a later duplicate: dropped */
                free(resp.names[i]);
                free(resp.values[i]);
                continue;
            }
            /* The first one keeps its place and its spelling, with the new value. */
            char *v = kiln__xstrndup(value, strlen(value));
            free(resp.values[i]);
            resp.values[i] = v;
            replaced = 1;
        }
        resp.names[k] = resp.names[i];
        resp.values[k] = resp.values[i];
        k++;
    }
    resp.nheaders = k;
    return replaced ? 0 : kiln_add_header(name, value);
}

void kiln_write(const void *data, size_t len)
{
    kiln__sb_append(&resp.body, data, len);
}

void kiln_puts(const char *s)
{
    kiln_write(s, strlen(s));
}

void kiln_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kiln__sb_vprintf(&resp.body, fmt, ap);
    va_end(ap);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not valid (overlong
 * forms, surrogates and values above U+10FFFF are invalid). */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    unsigned c = s[0];
    size_t n;
    unsigned min, cp;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2, min = 0x80, cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, min = 0x800, cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

/* Appends s as a JSON string literal to b. */
static void json_quote(kiln__sbuf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    kiln__sb_putc(b, '"');
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            kiln__sb_append(b, e, 2);
        } else if (c == '\n') {
            kiln__sb_append(b, "\\n", 2);
        } else if (c == '\r') {
            kiln__sb_append(b, "\\r", 2);
        } else if (c == '\t') {
            kiln__sb_append(b, "\\t", 2);
        } else if (c < 0x20 || c == 0x7f) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            kiln__sb_append(b, e, 6);
        } else if (c >= 0x80) {
            size_t n = utf8_len((const unsigned char *)s + i, len - i);
            if (n == 0) {
                kiln__sb_append(b, "\xef\xbf\xbd", 3);
                i++;
            } else {
                kiln__sb_append(b, s + i, n);
                i += n;
            }
            continue;
        } else {
            kiln__sb_putc(b, (char)c);
        }
        i++;
    }
    kiln__sb_putc(b, '"');
}

void kiln_write_json_string(const char *s, size_t len)
{
    json_quote(&resp.body, s, len);
}

int kiln_send(void)
{
    if (resp.sent) return 0;
    resp.sent = 1;
    int has_type = 0;
    for (size_t i = 0; i < resp.nheaders; i++)
        if (strcasecmp(resp.names[i], "Content-Type") == 0) has_type = 1;
    if (!has_type) { /* the default goes first, as WAGI handlers always printed it */
        kiln_add_header("Content-Type", "text/plain; charset=utf-8");
        char *n = resp.names[resp.nheaders - 1], *v = resp.values[resp.nheaders - 1];
        memmove(resp.names + 1, resp.names, (resp.nheaders - 1) * sizeof(char *));
        memmove(resp.values + 1, resp.values, (resp.nheaders - 1) * sizeof(char *));
        resp.names[0] = n;
        resp.values[0] = v;
    }
    int status = resp.status >= 100 && resp.status <= 999 ? resp.status : 500;
    return kiln__emit(status, resp.nheaders, resp.names, resp.values,
                      resp.body.data ? resp.body.data : "", resp.body.len) == 0
               ? 0
               : 1;
}

int kiln_respond(int status, const char *content_type, const char *body)
{
    kiln_status(status);
    if (content_type) kiln_set_header("Content-Type", content_type);
    if (body) kiln_puts(body);
    return kiln_send();
}

int kiln_respond_error(int status, const char *fmt, ...)
{
    kiln__sbuf msg = {0};
    va_list ap;
    va_start(ap, fmt);
    kiln__sb_append(&msg, "", 0);
    kiln__sb_vprintf(&msg, fmt, ap);
    va_end(ap);
    resp.body.len = 0;
    if (resp.body.data) resp.body.data[0] = '\0';
    kiln_status(status);
    kiln_set_header("Content-Type", "application/json");
    kiln_puts("{\"error\": ");
    kiln_write_json_string(msg.data, msg.len);
    kiln_printf(", \"status\": %d}\n", status);
    free(msg.data);
    return kiln_send();
}

/* ---- JSON reader ---- */

typedef struct jparser {
    const char *s;
    size_t len, pos;
    int depth;
    char *err;
    size_t errlen;
} jparser;

/* Records the first error (with its offset); returns -1 for `return jfail(...)`. */
static int jfail(jparser *p, const char *what)
{
    if (p->err && p->errlen && !p->err[0])
        snprintf(p->err, p->errlen, "%s at offset %zu", what, p->pos);
    return -1;
}

static void jskip_ws(jparser *p)
{
    while (p->pos < p->len && p->s[p->pos] && strchr(" \t\r\n", p->s[p->pos]))
        p->pos++;
}

/* Reads the 4 hex digits of a \u escape. */
static int jhex4(jparser *p, unsigned *out)
{
    if (p->len - p->pos < 4) return jfail(p, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval((unsigned char)p->s[p->pos + (size_t)i]);
        if (h < 0) return jfail(p, "bad \\u escape");
        v = v * 16 + (unsigned)h;
    }
    p->pos += 4;
    *out = v;
    return 0;
}

/* Appends code point cp as UTF-8. */
static void put_utf8(kiln__sbuf *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
    }
    kiln__sb_append(b, u, n);
}

/* Parses a string literal (p->s[p->pos] == '"') into out. */
static int jstring(jparser *p, kiln__sbuf *out)
{
    p->pos++;
    kiln__sb_append(out, "", 0);
    for (;;) {
        if (p->pos >= p->len) return jfail(p, "unterminated string");
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->pos++;
            return 0;
        }
        if (c < 0x20) return jfail(p, "control character in string");
        if (c >= 0x80) {
            size_t n = utf8_len((const unsigned char *)p->s + p->pos, p->len - p->pos);
            if (n == 0) return jfail(p, "invalid UTF-8");
            kiln__sb_append(out, p->s + p->pos, n);
            p->pos += n;
            continue;
        }
        if (c != '\\') {
            kiln__sb_putc(out, (char)c);
            p->pos++;
            continue;
        }
        if (++p->pos >= p->len) return jfail(p, "unterminated escape");
        char e = p->s[p->pos++];
        const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
        const char *k = e ? strchr(from, e) : NULL;
        if (k) {
            kiln__sb_putc(out, to[k - from]);
            continue;
        }
        if (e != 'u') return jfail(p, "bad escape");
        unsigned cp;
        if (jhex4(p, &cp) < 0) return -1;
        if (cp >= 0xdc00 && cp <= 0xdfff) return jfail(p, "lone low surrogate");
        if (cp >= 0xd800 && cp <= 0xdbff) {
            unsigned lo;
            if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
                return jfail(p, "lone high surrogate");
            p->pos += 2;
            if (jhex4(p, &lo) < 0) return -1;
            if (lo < 0xdc00 || lo > 0xdfff) return jfail(p, "bad surrogate pair");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        put_utf8(out, cp);
    }
}

/* Parses a number following RFC 8259's grammar exactly. */
static int jnumber(jparser *p, double *out)
{
    size_t start = p->pos;
    const char *s = p->s;
#define DIGIT(i) ((i) < p->len && s[i] >= '0' && s[i] <= '9')
    if (p->pos < p->len && s[p->pos] == '-') p->pos++;
    if (!DIGIT(p->pos)) return jfail(p, "bad number");
    if (s[p->pos] == '0') {
        p->pos++;
        if (DIGIT(p->pos)) return jfail(p, "leading zero in number");
    } else {
        while (DIGIT(p->pos))
            p->pos++;
    }
    if (p->pos < p->len && s[p->pos] == '.') {
        p->pos++;
        if (!DIGIT(p->pos)) return jfail(p, "bad fraction");
        while (DIGIT(p->pos))
            p->pos++;
    }
    if (p->pos < p->len && (s[p->pos] == 'e' || s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (s[p->pos] == '+' || s[p->pos] == '-')) p->pos++;
        if (!DIGIT(p->pos)) return jfail(p, "bad exponent");
        while (DIGIT(p->pos))
            p->pos++;
    }
#undef DIGIT
    char *tmp = kiln__xstrndup(s + start, p->pos - start);
    *out = strtod(tmp, NULL);
    free(tmp);
    return 0;
}

static int jvalue(jparser *p, kiln_jv *v);

/* Parses an array or an object (p->s[p->pos] is '[' or '{'). */
static int jcontainer(jparser *p, kiln_jv *v, int is_object)
{
    char close = is_object ? '}' : ']';
    size_t cap = 0;
    v->type = is_object ? KILN_JV_OBJECT : KILN_JV_ARRAY;
    if (++p->depth > KILN_JV_MAX_DEPTH) return jfail(p, "nesting too deep");
    p->pos++;
    jskip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        p->depth--;
        return 0;
    }
    for (;;) {
        if (v->len == cap) {
            cap = cap ? cap * 2 : 4;
            if (cap > SIZE_MAX / sizeof(kiln_jv)) kiln__oom();
            v->items = kiln__xrealloc(v->items, cap * sizeof(kiln_jv));
            if (is_object) v->keys = kiln__xrealloc(v->keys, cap * sizeof(char *));
        }
        kiln_jv *item = &v->items[v->len];
        memset(item, 0, sizeof *item);
        if (is_object) {
            v->keys[v->len] = NULL;
            jskip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != '"') {
                v->len++;
                return jfail(p, "expected a string key");
            }
            kiln__sbuf key = {0};
            int rc = jstring(p, &key);
            v->keys[v->len] = key.data;
            v->len++;
            if (rc < 0) return -1;
            if (memchr(key.data, '\0', key.len)) return jfail(p, "NUL in object key");
            for (size_t i = 0; i + 1 < v->len; i++)
                if (strcmp(v->keys[i], key.data) == 0) return jfail(p, "duplicate key");
            jskip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') return jfail(p, "expected ':'");
            p->pos++;
        } else {
            v->len++;
        }
        if (jvalue(p, item) < 0) return -1;
        jskip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            p->depth--;
            return 0;
        }
        return jfail(p, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

/* Parses one value (after optional whitespace) into v, which starts zeroed. */
static int jvalue(jparser *p, kiln_jv *v)
{
    jskip_ws(p);
    if (p->pos >= p->len) return jfail(p, "unexpected end of input");
    char c = p->s[p->pos];
    if (c == '{' || c == '[') return jcontainer(p, v, c == '{');
    if (c == '"') {
        kiln__sbuf b = {0};
        v->type = KILN_JV_STRING;
        int rc = jstring(p, &b);
        v->string = b.data;
        v->string_len = b.len;
        return rc;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        v->type = KILN_JV_NUMBER;
        return jnumber(p, &v->number);
    }
    static const struct {
        const char *word;
        kiln_jv_type type;
        int boolean;
    } words[] = {{"true", KILN_JV_BOOL, 1}, {"false", KILN_JV_BOOL, 0}, {"null", KILN_JV_NULL, 0}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t n = strlen(words[i].word);
        if (p->len - p->pos >= n && memcmp(p->s + p->pos, words[i].word, n) == 0) {
            p->pos += n;
            v->type = words[i].type;
            v->boolean = words[i].boolean;
            return 0;
        }
    }
    return jfail(p, "unexpected character");
}

/* Frees what v owns (not v itself). */
static void jv_clear(kiln_jv *v)
{
    if (v->type == KILN_JV_STRING) free(v->string);
    if (v->type == KILN_JV_ARRAY || v->type == KILN_JV_OBJECT) {
        for (size_t i = 0; i < v->len; i++) {
            jv_clear(&v->items[i]);
            if (v->keys) free(v->keys[i]);
        }
        free(v->items);
        free(v->keys);
    }
}

kiln_jv *kiln_jv_parse(const char *text, size_t len, char *err, size_t errlen)
{
    jparser p = {text, len, 0, 0, err, errlen};
    if (err && errlen) err[0] = '\0';
    kiln_jv *v = kiln__xmalloc(sizeof *v);
    memset(v, 0, sizeof *v);
    int rc = text ? jvalue(&p, v) : jfail(&p, "no input");
    if (rc == 0) {
        jskip_ws(&p);
        if (p.pos != p.len) rc = jfail(&p, "trailing characters");
    }
    if (rc < 0) {
        kiln_jv_free(v);
        return NULL;
    }
    return v;
}

const kiln_jv *kiln_jv_get(const kiln_jv *v, const char *key)
{
    if (!v || v->type != KILN_JV_OBJECT) return NULL;
    for (size_t i = 0; i < v->len; i++)
        if (strcmp(v->keys[i], key) == 0) return &v->items[i];
    return NULL;
}

const char *kiln_jv_string(const kiln_jv *v)
{
    if (!v || v->type != KILN_JV_STRING || memchr(v->string, '\0', v->string_len)) return NULL;
    return v->string;
}

void kiln_jv_free(kiln_jv *v)
{
    if (!v) return;
    jv_clear(v);
    free(v);
}

/* ---- between requests ---- */

void kiln__reset(void)
{
    for (size_t i = 0; i < query.n; i++) {
        free(query.names[i]);
        free(query.values[i]);
    }
    free(query.names);
    free(query.values);
    memset(&query, 0, sizeof query);
    free(req_body.data.data);
    memset(&req_body, 0, sizeof req_body);
    for (size_t i = 0; i < resp.nheaders; i++) {
        free(resp.names[i]);
        free(resp.values[i]);
    }
    free(resp.names);
    free(resp.values);
    free(resp.body.data);
    memset(&resp, 0, sizeof resp);
    resp.status = 200;
}
