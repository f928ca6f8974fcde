/* toml_lex.c — the lexical half of the TOML parser: the four kinds of strings with their
 * escapes, integers (decimal, hex, octal, binary, with underscores), floats (with inf
 * and nan) and the four kinds of dates and times. See toml.c for the grammar part. */
#include "manifest/toml_internal.h"
#include "util/alloc.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- strings -------------------------------------------------------------------- */

/* Appends code point cp (a Unicode scalar value) as UTF-8. */
static int put_utf8(kiln_buf *b, uint32_t cp)
{
    char s[4];
    size_t n;
    if (cp < 0x80) {
        s[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        s[0] = (char)(0xC0 | (cp >> 6));
        s[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        s[0] = (char)(0xE0 | (cp >> 12));
        s[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        s[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        s[0] = (char)(0xF0 | (cp >> 18));
        s[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        s[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        s[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return kiln_buf_append(b, s, n);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* At the character after a backslash in a basic string: decodes the escape into b. */
static int parse_escape(toml_parser *p, kiln_buf *b, int line, int col)
{
    int c = toml_peek(p, 0);
    const char *simple = "b\bt\tn\nf\fr\r\"\"\\\\";
    for (const char *s = simple; *s; s += 2) {
        if (c == *s) {
            toml_advance(p);
            return kiln_buf_putc(b, s[1]) ? toml_oom(p) : 0;
        }
    }
    if (c == 'u' || c == 'U') {
        int n = c == 'u' ? 4 : 8;
        uint32_t cp = 0;
        toml_advance(p);
        for (int i = 0; i < n; i++) {
            int h = hexval(toml_peek(p, 0));
            if (h < 0)
                return toml_error(p, line, col, "\\%c escape needs %d hexadecimal digits", c, n);
            cp = (cp << 4) | (uint32_t)h;
            toml_advance(p);
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return toml_error(p, line, col, "\\%c escape U+%X is not a Unicode scalar value", c,
                              cp);
        return put_utf8(b, cp) ? toml_oom(p) : 0;
    }
    if (c >= 0x20 && c < 0x7f) return toml_error(p, line, col, "invalid escape sequence \\%c", c);
    return toml_error(p, line, col, "invalid escape sequence");
}

/* Is c a control character that may not appear raw in a string? */
static int is_bad_control(int c)
{
    return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
}

/* Parses a string whose opening delimiter (quote `q`, one or three of them) the cursor
 * is still on. Basic strings (q == '"') decode escapes; multi-line ones allow raw
 * newlines, trim a newline right after the opening delimiter, and (basic only) treat a
 * backslash at the end of a line as "skip all whitespace up to the next text". */
int toml_parse_string(toml_parser *p, kiln_buf *out, int allow_multiline)
{
    int q = toml_peek(p, 0);
    int line = p->line, col = p->col;
    int multi = toml_peek(p, 1) == q && toml_peek(p, 2) == q;
    if (multi && !allow_multiline)
        return toml_error(p, line, col, "multi-line strings are not allowed here");
    toml_advance(p);
    if (multi) {
        toml_advance(p);
        toml_advance(p);
        if (toml_peek(p, 0) == '\n')
            toml_advance(p);
        else if (toml_peek(p, 0) == '\r' && toml_peek(p, 1) == '\n')
            toml_advance(p), toml_advance(p);
    }
    for (;;) {
        int c = toml_peek(p, 0);
        if (c < 0) return toml_error(p, line, col, "unterminated string (opened here)");
        if (c == q) {
            if (!multi) {
                toml_advance(p);
                return 0;
            }
            size_t run = 0;
            while (toml_peek(p, run) == q)
                run++;
            if (run >= 3) {
                if (run > 5)
                    return toml_error(p, p->line, p->col,
                                      "too many quotes at the end of a multi-line string");
                for (size_t i = 0; i < run - 3; i++)
                    if (kiln_buf_putc(out, (char)q)) return toml_oom(p);
                for (size_t i = 0; i < run; i++)
                    toml_advance(p);
                return 0;
            }
            for (size_t i = 0; i < run; i++) {
                if (kiln_buf_putc(out, (char)q)) return toml_oom(p);
                toml_advance(p);
            }
            continue;
        }
        if (c == '\n' || c == '\r') {
            if (!multi)
                return toml_error(p, p->line, p->col,
                                  "unterminated string: newline before the closing quote");
            if (c == '\r' && toml_peek(p, 1) != '\n')
                return toml_error(p, p->line, p->col, "bare carriage return in string");
            if (c == '\r') {
                if (kiln_buf_putc(out, '\r')) return toml_oom(p);
                toml_advance(p);
            }
            if (kiln_buf_putc(out, '\n')) return toml_oom(p);
            toml_advance(p);
            continue;
        }
        if (is_bad_control(c))
            return toml_error(p, p->line, p->col,
                              "control character U+%04X must be escaped in a string", c);
        if (c == '\\' && q == '"') {
            int eline = p->line, ecol = p->col;
            toml_advance(p);
            if (multi) {
                /* line-ending backslash: whitespace, a newline, then trim */
                size_t k = 0;
                while (toml_peek(p, k) == ' ' || toml_peek(p, k) == '\t')
                    k++;
                int n = toml_peek(p, k);
                if (n == '\n' || (n == '\r' && toml_peek(p, k + 1) == '\n')) {
                    for (;;) {
                        int w = toml_peek(p, 0);
                        if (w == ' ' || w == '\t' || w == '\n' ||
                            (w == '\r' && toml_peek(p, 1) == '\n'))
                            toml_advance(p);
                        else
                            break;
                    }
                    continue;
                }
            }
            if (parse_escape(p, out, eline, ecol)) return -1;
            continue;
        }
        if (kiln_buf_putc(out, (char)c)) return toml_oom(p);
        toml_advance(p);
    }
}

/* ---- numbers -------------------------------------------------------------------- */

static int is_digit_base(int c, int base)
{
    if (base == 16) return hexval(c) >= 0;
    if (base == 8) return c >= '0' && c <= '7';
    if (base == 2) return c == '0' || c == '1';
    return c >= '0' && c <= '9';
}

/* Scans digits of `base` at t[*i], where an underscore must sit between two digits.
 * Appends the digits (without underscores) to b when b is not NULL. Returns the number
 * of digits, or -1 for a misplaced underscore. */
static int digit_run(const char *t, size_t n, size_t *i, int base, kiln_buf *b)
{
    int count = 0;
    while (*i < n) {
        int c = (unsigned char)t[*i];
        if (is_digit_base(c, base)) {
            if (b && kiln_buf_putc(b, (char)c)) return -2;
            count++;
            (*i)++;
        } else if (c == '_') {
            if (!count || *i + 1 >= n || !is_digit_base((unsigned char)t[*i + 1], base)) return -1;
            (*i)++;
        } else {
            break;
        }
    }
    return count;
}

/* Parses token t (n bytes) as an integer. Returns 0, or -1 when it is not one. */
static int parse_integer(const char *t, size_t n, int64_t *out, const char **why)
{
    size_t i = 0;
    int neg = 0;
    int base = 10;
    if (t[0] == '+' || t[0] == '-') {
        neg = t[0] == '-';
        i = 1;
    }
    if (n - i > 2 && t[i] == '0' && (t[i + 1] == 'x' || t[i + 1] == 'o' || t[i + 1] == 'b')) {
        base = t[i + 1] == 'x' ? 16 : t[i + 1] == 'o' ? 8 : 2;
        if (i) {
            *why = "a sign is not allowed on hexadecimal, octal or binary integers";
            return -1;
        }
        i += 2;
    }
    size_t start = i;
    if (i >= n || !is_digit_base((unsigned char)t[i], base)) {
        *why = "invalid integer";
        return -1;
    }
    if (base == 10 && t[i] == '0' && n - i > 1) {
        *why = "leading zeros are not allowed in integers";
        return -1;
    }
    if (digit_run(t, n, &i, base, NULL) < 0 || i != n) {
        *why = "invalid integer";
        return -1;
    }
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (size_t j = start; j < n; j++) {
        if (t[j] == '_') continue;
        uint64_t d = (uint64_t)hexval((unsigned char)t[j]);
        if (v > (limit - d) / (uint64_t)base) {
            *why = "integer does not fit in 64 bits";
            return -1;
        }
        v = v * (uint64_t)base + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* Parses token t as a float (decimal with fraction and/or exponent, inf, nan). */
static int parse_float(const char *t, size_t n, double *out, const char **why)
{
    size_t i = 0;
    kiln_buf b = KILN_BUF_INIT;
    int rc = -1;
    *why = "invalid float";
    if (t[0] == '+' || t[0] == '-') {
        if (kiln_buf_putc(&b, t[0])) goto oom;
        i = 1;
    }
    if (n - i == 3 && (memcmp(t + i, "inf", 3) == 0 || memcmp(t + i, "nan", 3) == 0)) {
        if (t[i] == 'i')
            *out = t[0] == '-' ? -INFINITY : INFINITY;
        else
            *out = t[0] == '-' ? -NAN : NAN;
        kiln_buf_free(&b);
        return 0;
    }
    if (i < n && t[i] == '0' && i + 1 < n && t[i + 1] >= '0' && t[i + 1] <= '9') {
        *why = "leading zeros are not allowed in floats";
        goto out;
    }
    int d = digit_run(t, n, &i, 10, &b);
    if (d == -2) goto oom;
    if (d <= 0) goto out;
    int frac = 0, exp = 0;
    if (i < n && t[i] == '.') {
        i++;
        if (kiln_buf_putc(&b, '.')) goto oom;
        d = digit_run(t, n, &i, 10, &b);
        if (d == -2) goto oom;
        if (d <= 0) goto out;
        frac = 1;
    }
    if (i < n && (t[i] == 'e' || t[i] == 'E')) {
        i++;
        if (kiln_buf_putc(&b, 'e')) goto oom;
        if (i < n && (t[i] == '+' || t[i] == '-')) {
            if (kiln_buf_putc(&b, t[i])) goto oom;
            i++;
        }
        d = digit_run(t, n, &i, 10, &b);
        if (d == -2) goto oom;
        if (d <= 0) goto out;
        exp = 1;
    }
    if (i != n || (!frac && !exp)) goto out;
    errno = 0;
    *out = strtod(b.data, NULL);
    rc = 0;
    goto out;
oom:
    *why = "out of memory";
out:
    kiln_buf_free(&b);
    return rc;
}

/* ---- dates and times ------------------------------------------------------------ */

/* Reads exactly `count` decimal digits at t[*i] into *v. */
static int fixed_digits(const char *t, size_t n, size_t *i, int count, int *v)
{
    *v = 0;
    for (int k = 0; k < count; k++, (*i)++) {
        if (*i >= n || t[*i] < '0' || t[*i] > '9') return -1;
        *v = *v * 10 + (t[*i] - '0');
    }
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return days[m - 1];
}

/* Parses HH:MM:SS[.frac] at t[*i]. */
static int parse_time(const char *t, size_t n, size_t *i, kiln_toml_datetime *dt, const char **why)
{
    if (fixed_digits(t, n, i, 2, &dt->hour) || *i >= n || t[(*i)++] != ':' ||
        fixed_digits(t, n, i, 2, &dt->minute) || *i >= n || t[(*i)++] != ':' ||
        fixed_digits(t, n, i, 2, &dt->second)) {
        *why = "invalid time: expected HH:MM:SS";
        return -1;
    }
    if (dt->hour > 23 || dt->minute > 59 || dt->second > 60) {
        *why = "invalid time: value out of range";
        return -1;
    }
    if (*i < n && t[*i] == '.') {
        (*i)++;
        int digits = 0;
        while (*i < n && t[*i] >= '0' && t[*i] <= '9') {
            if (digits < 9) {
                dt->nanosecond = dt->nanosecond * 10 + (t[*i] - '0');
                digits++;
            }
            (*i)++;
        }
        if (!digits) {
            *why = "invalid time: expected digits after '.'";
            return -1;
        }
        dt->frac_digits = digits;
        for (int k = digits; k < 9; k++)
            dt->nanosecond *= 10;
    }
    return 0;
}

/* Parses token t as a date, time, local date-time or offset date-time. */
static int parse_datetime(const char *t, size_t n, kiln_toml_datetime *dt, kiln_toml_type *type,
                          const char **why)
{
    size_t i = 0;
    memset(dt, 0, sizeof *dt);
    if (n >= 3 && t[2] == ':') {
        if (parse_time(t, n, &i, dt, why)) return -1;
        *type = KILN_TOML_TIME_LOCAL;
        if (i != n) *why = "unexpected text after a time";
        return i == n ? 0 : -1;
    }
    if (fixed_digits(t, n, &i, 4, &dt->year) || i >= n || t[i++] != '-' ||
        fixed_digits(t, n, &i, 2, &dt->month) || i >= n || t[i++] != '-' ||
        fixed_digits(t, n, &i, 2, &dt->day)) {
        *why = "invalid date: expected YYYY-MM-DD";
        return -1;
    }
    if (dt->month < 1 || dt->month > 12 || dt->day < 1 ||
        dt->day > days_in_month(dt->year, dt->month)) {
        *why = "invalid date: no such day";
        return -1;
    }
    *type = KILN_TOML_DATE_LOCAL;
    if (i == n) return 0;
    if (t[i] != 'T' && t[i] != 't' && t[i] != ' ') {
        *why = "invalid date: unexpected text after the date";
        return -1;
    }
    i++;
    if (parse_time(t, n, &i, dt, why)) return -1;
    *type = KILN_TOML_DATETIME_LOCAL;
    if (i == n) return 0;
    *type = KILN_TOML_DATETIME;
    if (t[i] == 'Z' || t[i] == 'z') {
        dt->offset_z = 1;
        i++;
    } else if (t[i] == '+' || t[i] == '-') {
        int sign = t[i] == '-' ? -1 : 1, oh, om;
        i++;
        if (fixed_digits(t, n, &i, 2, &oh) || i >= n || t[i++] != ':' ||
            fixed_digits(t, n, &i, 2, &om) || oh > 23 || om > 59) {
            *why = "invalid time offset: expected +HH:MM";
            return -1;
        }
        dt->offset_minutes = sign * (oh * 60 + om);
    }
    if (i != n) {
        *why = "unexpected text after a date-time";
        return -1;
    }
    return 0;
}

/* ---- scalar tokens -------------------------------------------------------------- */

static int is_token_char(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c == '+' || c == '-' || c == '.' || c == ':';
}

/* Does t (n bytes) look like YYYY-MM-DD? */
static int looks_like_date(const char *t, size_t n)
{
    if (n != 10) return 0;
    for (size_t i = 0; i < 10; i++) {
        int want_dash = i == 4 || i == 7;
        if (want_dash ? t[i] != '-' : (t[i] < '0' || t[i] > '9')) return 0;
    }
    return 1;
}

int toml_parse_scalar(toml_parser *p, kiln_toml_value **out)
{
    int line = p->line, col = p->col;
    size_t start = p->pos;
    while (is_token_char(toml_peek(p, 0)))
        toml_advance(p);
    /* "1979-05-27 07:32:00": a space may separate date and time */
    if (looks_like_date(p->src + start, p->pos - start) && toml_peek(p, 0) == ' ' &&
        toml_peek(p, 1) >= '0' && toml_peek(p, 1) <= '9') {
        toml_advance(p);
        while (is_token_char(toml_peek(p, 0)))
            toml_advance(p);
    }
    const char *t = p->src + start;
    size_t n = p->pos - start;
    const char *why = "invalid value";
    kiln_toml_value *v = toml_new_value(KILN_TOML_INTEGER, line, col);
    if (!v) return toml_oom(p);
    if (n >= 3 && (t[2] == ':' || (n >= 10 && t[4] == '-' && t[0] != '-' && t[0] != '+'))) {
        if (parse_datetime(t, n, &v->u.dt, &v->type, &why) == 0) goto ok;
    } else if (parse_integer(t, n, &v->u.integer, &why) == 0) {
        goto ok;
    } else {
        const char *iwhy = why;
        v->type = KILN_TOML_FLOAT;
        int looks_float = memchr(t, '.', n) || memchr(t, 'e', n) || memchr(t, 'E', n) ||
                          memchr(t, 'n', n) || memchr(t, 'i', n);
        if (parse_float(t, n, &v->u.fp, &why) == 0) goto ok;
        if (!looks_float) why = iwhy;
    }
    kiln_free(v);
    return toml_error(p, line, col, "%s: \"%.*s\"", why, (int)(n > 60 ? 60 : n), t);
ok:
    *out = v;
    return 0;
}
