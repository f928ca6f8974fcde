/* cronexpr.c — parsing cron expressions and finding their next firing time (cronexpr.h). */
#include "exec/trigger/cronexpr.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

typedef struct field_def {
    const char *name;
    unsigned min, max;
    const char *const *names; /* names[i] is value min+i (NULL: numbers only) */
} field_def;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                          "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

/* Reads a value of field f at *p (a number or a name); advances *p. 0 or -1. */
static int read_value(const char **p, const field_def *f, unsigned *out)
{
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        unsigned long v = 0;
        while (isdigit((unsigned char)*s)) {
            v = v * 10 + (unsigned long)(*s - '0');
            if (v > 1000) return -1;
            s++;
        }
        *p = s;
        *out = (unsigned)v;
        return 0;
    }
    for (size_t i = 0; f->names && f->names[i]; i++)
        if (strncasecmp(s, f->names[i], 3) == 0 && !isalpha((unsigned char)s[3])) {
            *p = s + 3;
            *out = f->min + (unsigned)i;
            return 0;
        }
    return -1;
}

/* Parses one field (len bytes at s) into the bit set *bits; *any when it starts with '*'/'?'.
 * `wday`: 7 is Sunday too. 0 or -1. */
static int parse_field(const char *s, size_t len, const field_def *f, int wday, uint64_t *bits,
                       int *any)
{
    const char *p = s, *end = s + len;
    unsigned top = wday ? 7 : f->max;
    *bits = 0;
    *any = *p == '*' || *p == '?';
    for (;;) {
        unsigned lo, hi, step = 1;
        if (*p == '*' || *p == '?') {
            lo = f->min;
            hi = top;
            p++;
        } else {
            if (read_value(&p, f, &lo) < 0) return -1;
            hi = lo;
            if (p < end && *p == '-') {
                p++;
                if (read_value(&p, f, &hi) < 0) return -1;
            } else if (p < end && *p == '/') {
                hi = top; /* a/n: from a to the maximum */
            }
        }
        if (p < end && *p == '/') {
            p++;
            if (!isdigit((unsigned char)*p) || read_value(&p, f, &step) < 0 || step == 0) return -1;
        }
        if (lo < f->min || hi > top || lo > hi) return -1;
        for (unsigned v = lo; v <= hi; v += step)
            *bits |= 1ull << (wday && v == 7 ? 0 : v);
        if (p == end) return 0;
        if (*p != ',' || ++p == end) return -1;
    }
}

int kiln_cron_parse(const char *expr, kiln_cron *out, const char **err)
{
    static const field_def defs[6] = {
        {"second", 0, 59, NULL},       {"minute", 0, 59, NULL},
        {"hour", 0, 23, NULL},         {"day of month", 1, 31, NULL},
        {"month", 1, 12, month_names}, {"day of week", 0, 6, day_names},
    };
    const char *start[7];
    size_t len[7], n = 0;
    for (const char *p = expr; *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p) break;
        if (n == 7) {
            *err = "a cron expression has six fields (second minute hour day-of-month month "
                   "day-of-week)";
            return -1;
        }
        start[n] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        len[n] = (size_t)(p - start[n]);
        n++;
    }
    if (n != 5 && n != 6) {
        *err = "a cron expression has six fields (second minute hour day-of-month month "
               "day-of-week)";
        return -1;
    }
    memset(out, 0, sizeof *out);
    uint64_t bits[6];
    int any[6];
    size_t skip = n == 5 ? 1 : 0; /* five fields: the second is 0 */
    bits[0] = 1;
    any[0] = 0;
    for (size_t i = skip; i < 6; i++) {
        if (parse_field(start[i - skip], len[i - skip], &defs[i], i == 5, &bits[i], &any[i]) < 0) {
            static const char *const bad[6] = {
                "bad second field (0-59)",
                "bad minute field (0-59)",
                "bad hour field (0-23)",
                "bad day-of-month field (1-31)",
                "bad month field (1-12 or JAN-DEC)",
                "bad day-of-week field (0-7 or SUN-SAT)",
            };
            *err = bad[i];
            return -1;
        }
    }
    out->second = bits[0];
    out->minute = bits[1];
    out->hour = (uint32_t)bits[2];
    out->mday = (uint32_t)bits[3];
    out->month = (uint16_t)bits[4];
    out->wday = (uint8_t)bits[5];
    out->mday_any = any[3];
    out->wday_any = any[5];
    return 0;
}

/* Days since 1970-01-01 of y-m-d (Howard Hinnant's algorithm). */
int64_t kiln_cron_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void kiln_cron_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* Whether day `days` (since the epoch) matches c's day fields (the month checked apart). */
static int day_matches(const kiln_cron *c, int64_t days, unsigned mday)
{
    unsigned wday = (unsigned)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
    int dm = (c->mday >> mday) & 1, dw = (c->wday >> wday) & 1;
    if (!c->mday_any && !c->wday_any) return dm || dw;
    return dm && dw;
}

/* The first value >= from in bits (up to max), or -1. */
static int first_from(uint64_t bits, unsigned from, unsigned max)
{
    for (unsigned v = from; v <= max; v++)
        if ((bits >> v) & 1) return (int)v;
    return -1;
}

int64_t kiln_cron_next(const kiln_cron *c, int64_t after)
{
    int64_t t = after + 1;
    int64_t limit = after + (int64_t)8 * 366 * 86400;
    while (t <= limit) {
        int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
        int64_t sod = t - days * 86400;
        int64_t y;
        unsigned m, d;
        kiln_cron_civil_from_days(days, &y, &m, &d);
        if (!((c->month >> m) & 1)) { /* to the first day of the next month */
            t = (m == 12 ? kiln_cron_days_from_civil(y + 1, 1, 1)
                         : kiln_cron_days_from_civil(y, m + 1, 1)) *
                86400;
            continue;
        }
        if (!day_matches(c, days, d)) {
            t = (days + 1) * 86400;
            continue;
        }
        unsigned hh = (unsigned)(sod / 3600), mm = (unsigned)(sod / 60 % 60),
                 ss = (unsigned)(sod % 60);
        int h = first_from(c->hour, hh, 23);
        if (h < 0) {
            t = (days + 1) * 86400;
            continue;
        }
        if ((unsigned)h != hh) {
            t = days * 86400 + (int64_t)h * 3600;
            continue;
        }
        int mi = first_from(c->minute, mm, 59);
        if (mi < 0) {
            t = days * 86400 + (int64_t)(hh + 1) * 3600;
            continue;
        }
        if ((unsigned)mi != mm) {
            t = days * 86400 + (int64_t)hh * 3600 + (int64_t)mi * 60;
            continue;
        }
        int s = first_from(c->second, ss, 59);
        if (s < 0) {
            t = days * 86400 + (int64_t)hh * 3600 + (int64_t)(mm + 1) * 60;
            continue;
        }
        return days * 86400 + (int64_t)hh * 3600 + (int64_t)mm * 60 + s;
    }
    return -1;
}
