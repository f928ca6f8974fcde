/* semver.c — versions and Cargo-style version requirements (see package.h). */
#include "dist/package.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct ver {
    unsigned long long n[3];
    int parts;       /* how many of major.minor.patch were written (requirements: 1-3) */
    const char *pre; /* after '-', up to '+' or the end; NULL: none */
    size_t pre_len;
} ver;

/* Parses "X[.Y[.Z]][-pre][+build]" at s (up to end). Wildcards "*", "x", "X" end the parts.
 * 0 or -1. */
static int parse_ver(const char *s, const char *end, ver *v)
{
    memset(v, 0, sizeof *v);
    while (v->parts < 3 && s < end) {
        if (*s == '*' || *s == 'x' || *s == 'X') {
            s++;
            break;
        }
        if (!isdigit((unsigned char)*s)) return -1;
        char *e;
        v->n[v->parts++] = strtoull(s, &e, 10);
        if (e > end || e - s > 18) return -1;
        s = e;
        if (s < end && *s == '.') {
            s++;
            if (s == end) return -1;
        } else {
            break;
        }
    }
    if (!v->parts && s < end) return -1;
    if (s < end && *s == '-') {
        if (v->parts != 3) return -1;
        v->pre = ++s;
        while (s < end && *s != '+')
            s++;
        v->pre_len = (size_t)(s - v->pre);
        if (!v->pre_len) return -1;
    }
    if (s < end && *s == '+') s = end;
    return s == end ? 0 : -1;
}

static int cmp3(const unsigned long long a[3], const unsigned long long b[3])
{
    for (int i = 0; i < 3; i++)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
}

/* Precedence: the numbers, then a pre-release below its release (pre-releases compared
 * bytewise, an approximation of semver's per-identifier rule). */
static int ver_cmp(const ver *a, const ver *b)
{
    int c = cmp3(a->n, b->n);
    if (c) return c;
    if (!a->pre || !b->pre) return a->pre ? -1 : b->pre ? 1 : 0;
    size_t n = a->pre_len < b->pre_len ? a->pre_len : b->pre_len;
    c = memcmp(a->pre, b->pre, n);
    return c ? c : a->pre_len < b->pre_len ? -1 : a->pre_len > b->pre_len ? 1 : 0;
}

int kiln_semver_cmp(const char *a, const char *b)
{
    ver x, y;
    if (parse_ver(a, a + strlen(a), &x) < 0 || parse_ver(b, b + strlen(b), &y) < 0)
        return strcmp(a, b);
    return ver_cmp(&x, &y);
}

/* t with part i (0-2) incremented and the later parts zeroed. */
static void bump(const ver *t, int i, unsigned long long out[3])
{
    for (int k = 0; k < 3; k++)
        out[k] = k < i ? t->n[k] : k == i ? t->n[k] + 1 : 0;
}

/* One comparator (op and a partial version) against a full version v: 1, 0, or -1. */
static int comparator(const char *s, const char *end, const ver *v)
{
    while (s < end && *s == ' ')
        s++;
    while (end > s && end[-1] == ' ')
        end--;
    char op[3] = "";
    for (int k = 0; k < 2 && s < end && strchr("=<>~^", *s); k++)
        op[k] = *s++;
    while (s < end && *s == ' ')
        s++;
    ver t;
    if (s == end || parse_ver(s, end, &t) < 0) return -1;
    if (!t.parts) return op[0] ? -1 : !v->pre; /* "*" */
    /* a pre-release is only taken when asked for by its exact version */
    if (v->pre) return (!op[0] || !strcmp(op, "=") || !strcmp(op, "^")) && t.pre && !ver_cmp(v, &t);
    if (t.pre) return 0;
    unsigned long long hi[3];
    int c = cmp3(v->n, t.n);
    if (!strcmp(op, "=")) {
        for (int i = 0; i < t.parts; i++)
            if (v->n[i] != t.n[i]) return 0;
        return 1;
    }
    if (!op[0] || !strcmp(op, "^")) {
        int i = 0;
        while (i < t.parts - 1 && t.n[i] == 0)
            i++;
        bump(&t, i, hi);
        return c >= 0 && cmp3(v->n, hi) < 0;
    }
    if (!strcmp(op, "~")) {
        bump(&t, t.parts == 1 ? 0 : 1, hi);
        return c >= 0 && cmp3(v->n, hi) < 0;
    }
    if (!strcmp(op, ">=")) return c >= 0;
    if (!strcmp(op, "<")) return c < 0;
    if (!strcmp(op, ">")) {
        if (t.parts == 3) return c > 0;
        bump(&t, t.parts - 1, hi);
        return cmp3(v->n, hi) >= 0;
    }
    if (!strcmp(op, "<=")) {
        if (t.parts == 3) return c <= 0;
        bump(&t, t.parts - 1, hi);
        return cmp3(v->n, hi) < 0;
    }
    return -1;
}

int kiln_semver_match(const char *req, const char *version)
{
    ver v;
    if (parse_ver(version, version + strlen(version), &v) < 0 || v.parts != 3) return -1;
    int all = 1;
    for (const char *s = req;;) {
        const char *comma = strchr(s, ',');
        const char *end = comma ? comma : s + strlen(s);
        int r = comparator(s, end, &v);
        if (r < 0) return -1;
        all &= r;
        if (!comma) break;
        s = comma + 1;
    }
    return all;
}
