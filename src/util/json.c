/* json.c — the strict JSON parser of json.h: recursive descent over a byte range. */
#include "util/json.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"

typedef struct parser {
    const char *p, *end, *start;
    int depth;
    char *err;
    size_t errlen;
    int failed;
} parser;

/* Records the first error with the line and column of the current position. */
static void fail(parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(parser *ps, const char *fmt, ...)
{
    if (ps->failed) return;
    ps->failed = 1;
    if (!ps->err || ps->errlen == 0) return;
    size_t line = 1, col = 1;
    for (const char *q = ps->start; q < ps->p && q < ps->end; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    int n = snprintf(ps->err, ps->errlen, "line %zu, column %zu: ", line, col);
    if (n < 0 || (size_t)n >= ps->errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static kiln_json *new_node(parser *ps, kiln_json_type t)
{
    kiln_json *v = kiln_calloc(1, sizeof *v);
    if (!v)
        fail(ps, "out of memory");
    else
        v->type = t;
    return v;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp, min;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

/* Appends code point cp as UTF-8. */
static int put_utf8(kiln_buf *b, uint32_t cp)
{
    char out[4];
    size_t n;
    if (cp < 0x80) {
        out[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        out[0] = (char)(0xF0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return kiln_buf_append(b, out, n);
}

/* Reads the 4 hex digits after "\u"; returns -1 when they are not hex digits. */
static long read_hex4(parser *ps)
{
    if (ps->end - ps->p < 4) return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        char c = ps->p[i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    ps->p += 4;
    return v;
}

/* Parses a string literal (ps->p at the opening quote) into out/outlen (allocated). */
static int parse_string_raw(parser *ps, char **out, size_t *outlen)
{
    kiln_buf b = KILN_BUF_INIT;
    ps->p++; /* opening quote */
    for (;;) {
        if (ps->p >= ps->end) {
            fail(ps, "unterminated string");
            goto err;
        }
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            break;
        }
        if (c < 0x20) {
            fail(ps, "control character in string");
            goto err;
        }
        if (c == '\\') {
            ps->p++;
            if (ps->p >= ps->end) {
                fail(ps, "unterminated string");
                goto err;
            }
            char e = *ps->p++;
            char simple = 0;
            switch (e) {
            case '"':
                simple = '"';
                break;
            case '\\':
                simple = '\\';
                break;
            case '/':
                simple = '/';
                break;
            case 'b':
                simple = '\b';
                break;
            case 'f':
                simple = '\f';
                break;
            case 'n':
                simple = '\n';
                break;
            case 'r':
                simple = '\r';
                break;
            case 't':
                simple = '\t';
                break;
            case 'u':
                break;
            default:
                ps->p--;
                fail(ps, "invalid escape \\%c", e);
                goto err;
            }
            if (simple) {
                if (kiln_buf_putc(&b, simple) != 0) goto oom;
                continue;
            }
            long hi = read_hex4(ps);
            if (hi < 0) {
                fail(ps, "invalid \\u escape");
                goto err;
            }
            uint32_t cp = (uint32_t)hi;
            if (hi >= 0xDC00 && hi <= 0xDFFF) {
                fail(ps, "lone low surrogate \\u%04lX", hi);
                goto err;
            }
            if (hi >= 0xD800 && hi <= 0xDBFF) {
                if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u') {
                    fail(ps, "high surrogate \\u%04lX without a low surrogate", hi);
                    goto err;
                }
                ps->p += 2;
                long lo = read_hex4(ps);
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    fail(ps, "high surrogate \\u%04lX without a low surrogate", hi);
                    goto err;
                }
                cp = 0x10000 + (((uint32_t)hi - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
            }
            if (put_utf8(&b, cp) != 0) goto oom;
            continue;
        }
        size_t n = utf8_seq_len((const unsigned char *)ps->p, (size_t)(ps->end - ps->p));
        if (n == 0) {
            fail(ps, "invalid UTF-8 in string");
            goto err;
        }
        if (kiln_buf_append(&b, ps->p, n) != 0) goto oom;
        ps->p += n;
    }
    *outlen = b.len;
    *out = kiln_buf_steal(&b);
    if (!*out) goto oom;
    return 0;
oom:
    fail(ps, "out of memory");
err:
    kiln_buf_free(&b);
    return -1;
}

/* Parses a number per the JSON grammar; keeps its text. */
static kiln_json *parse_number(parser *ps)
{
    const char *s = ps->p;
    const char *q = s;
    if (q < ps->end && *q == '-') q++;
    if (q >= ps->end || *q < '0' || *q > '9') {
        ps->p = q;
        fail(ps, "invalid number");
        return NULL;
    }
    if (*q == '0') {
        q++;
        if (q < ps->end && *q >= '0' && *q <= '9') {
            ps->p = q;
            fail(ps, "leading zero in number");
            return NULL;
        }
    } else {
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < ps->end && *q == '.') {
        q++;
        if (q >= ps->end || *q < '0' || *q > '9') {
            ps->p = q;
            fail(ps, "digit expected after '.'");
            return NULL;
        }
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < ps->end && (*q == '+' || *q == '-')) q++;
        if (q >= ps->end || *q < '0' || *q > '9') {
            ps->p = q;
            fail(ps, "digit expected in exponent");
            return NULL;
        }
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    kiln_json *v = new_node(ps, KILN_JSON_NUMBER);
    if (!v) return NULL;
    v->len = (size_t)(q - s);
    v->str = kiln_strndup(s, v->len);
    if (!v->str) {
        kiln_free(v);
        fail(ps, "out of memory");
        return NULL;
    }
    v->number = strtod(v->str, NULL);
    ps->p = q;
    return v;
}

/* Matches a literal keyword (true/false/null). */
static int match_word(parser *ps, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0) return 0;
    ps->p += n;
    return 1;
}

static kiln_json *parse_value(parser *ps);

/* Parses an array; ps->p at '['. */
static kiln_json *parse_array(parser *ps)
{
    kiln_json *v = new_node(ps, KILN_JSON_ARRAY);
    if (!v) return NULL;
    size_t cap = 0;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return v;
    }
    for (;;) {
        kiln_json *item = parse_value(ps);
        if (!item) goto err;
        if (v->count == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            kiln_json **n = kiln_realloc(v->items, ncap * sizeof *n);
            if (!n) {
                kiln_json_free(item);
                fail(ps, "out of memory");
                goto err;
            }
            v->items = n;
            cap = ncap;
        }
        v->items[v->count++] = item;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return v;
        }
        fail(ps, "',' or ']' expected");
        goto err;
    }
err:
    kiln_json_free(v);
    return NULL;
}

/* Parses an object; ps->p at '{'. */
static kiln_json *parse_object(parser *ps)
{
    kiln_json *v = new_node(ps, KILN_JSON_OBJECT);
    if (!v) return NULL;
    size_t cap = 0;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return v;
    }
    for (;;) {
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"') {
            fail(ps, "string key expected");
            goto err;
        }
        char *key;
        size_t key_len;
        if (parse_string_raw(ps, &key, &key_len) != 0) goto err;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') {
            kiln_free(key);
            fail(ps, "':' expected");
            goto err;
        }
        ps->p++;
        kiln_json *item = parse_value(ps);
        if (!item) {
            kiln_free(key);
            goto err;
        }
        if (v->count == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            kiln_json_member *n = kiln_realloc(v->members, ncap * sizeof *n);
            if (!n) {
                kiln_free(key);
                kiln_json_free(item);
                fail(ps, "out of memory");
                goto err;
            }
            v->members = n;
            cap = ncap;
        }
        v->members[v->count].key = key;
        v->members[v->count].key_len = key_len;
        v->members[v->count].value = item;
        v->count++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return v;
        }
        fail(ps, "',' or '}' expected");
        goto err;
    }
err:
    kiln_json_free(v);
    return NULL;
}

/* Parses any value after optional whitespace. */
static kiln_json *parse_value(parser *ps)
{
    skip_ws(ps);
    if (ps->p >= ps->end) {
        fail(ps, "value expected");
        return NULL;
    }
    char c = *ps->p;
    kiln_json *v;
    switch (c) {
    case '{':
    case '[':
        if (++ps->depth > KILN_JSON_MAX_DEPTH) {
            fail(ps, "nesting deeper than %d", KILN_JSON_MAX_DEPTH);
            return NULL;
        }
        v = c == '{' ? parse_object(ps) : parse_array(ps);
        ps->depth--;
        return v;
    case '"':
        v = new_node(ps, KILN_JSON_STRING);
        if (!v) return NULL;
        if (parse_string_raw(ps, &v->str, &v->len) != 0) {
            kiln_free(v);
            return NULL;
        }
        return v;
    case 't':
    case 'f':
        if (match_word(ps, "true") || match_word(ps, "false")) {
            v = new_node(ps, KILN_JSON_BOOL);
            if (v) v->boolean = c == 't';
            return v;
        }
        break;
    case 'n':
        if (match_word(ps, "null")) return new_node(ps, KILN_JSON_NULL);
        break;
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number(ps);
        break;
    }
    fail(ps, "unexpected character '%c'", c >= 0x20 && c < 0x7f ? c : '?');
    return NULL;
}

kiln_json *kiln_json_parse(const char *text, size_t len, char *err, size_t errlen)
{
    parser ps = {text, text + len, text, 0, err, errlen, 0};
    if (err && errlen) err[0] = '\0';
    if (!text) {
        fail(&ps, "no input");
        return NULL;
    }
    kiln_json *v = parse_value(&ps);
    if (!v) return NULL;
    skip_ws(&ps);
    if (ps.p != ps.end) {
        fail(&ps, "unexpected content after the value");
        kiln_json_free(v);
        return NULL;
    }
    return v;
}

void kiln_json_free(kiln_json *v)
{
    if (!v) return;
    for (size_t i = 0; v->type == KILN_JSON_ARRAY && i < v->count; i++)
        kiln_json_free(v->items[i]);
    for (size_t i = 0; v->type == KILN_JSON_OBJECT && i < v->count; i++) {
        kiln_free(v->members[i].key);
        kiln_json_free(v->members[i].value);
    }
    kiln_free(v->items);
    kiln_free(v->members);
    kiln_free(v->str);
    kiln_free(v);
}

const kiln_json *kiln_json_get(const kiln_json *v, const char *key)
{
    if (!v || v->type != KILN_JSON_OBJECT || !key) return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < v->count; i++)
        if (v->members[i].key_len == n && memcmp(v->members[i].key, key, n) == 0)
            return v->members[i].value;
    return NULL;
}

const char *kiln_json_get_str(const kiln_json *v, const char *key)
{
    const kiln_json *s = kiln_json_get(v, key);
    if (!s || s->type != KILN_JSON_STRING || strlen(s->str) != s->len) return NULL;
    return s->str;
}

const kiln_json *kiln_json_at(const kiln_json *v, size_t i)
{
    if (!v || v->type != KILN_JSON_ARRAY || i >= v->count) return NULL;
    return v->items[i];
}

const char *kiln_json_type_name(kiln_json_type t)
{
    switch (t) {
    case KILN_JSON_NULL:
        return "null";
    case KILN_JSON_BOOL:
        return "bool";
    case KILN_JSON_NUMBER:
        return "number";
    case KILN_JSON_STRING:
        return "string";
    case KILN_JSON_ARRAY:
        return "array";
    case KILN_JSON_OBJECT:
        return "object";
    }
    return "?";
}

int kiln_json_write_strn(kiln_buf *b, const char *s, size_t n)
{
    if (kiln_buf_putc(b, '"') < 0) return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc;
        if (c == '"' || c == '\\')
            rc = kiln_buf_printf(b, "\\%c", c);
        else if (c == '\n')
            rc = kiln_buf_puts(b, "\\n");
        else if (c == '\t')
            rc = kiln_buf_puts(b, "\\t");
        else if (c < 0x20 || c == 0x7f)
            rc = kiln_buf_printf(b, "\\u%04x", c);
        else
            rc = kiln_buf_putc(b, (char)c);
        if (rc < 0) return -1;
    }
    return kiln_buf_putc(b, '"');
}

int kiln_json_write_str(kiln_buf *b, const char *s)
{
    return kiln_json_write_strn(b, s ? s : "", s ? strlen(s) : 0);
}
