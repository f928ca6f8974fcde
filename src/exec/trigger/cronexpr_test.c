/* cronexpr_test.c — cron expression parsing and next-fire computation (UTC). */
#include "exec/trigger/cronexpr.h"
#include "util/test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* "YYYY-MM-DD hh:mm:ss" (UTC) to epoch seconds. */
static int64_t at(const char *s)
{
    int y, mo, d, h, mi, se;
    if (sscanf(s, "%d-%d-%d %d:%d:%d", &y, &mo, &d, &h, &mi, &se) != 6) abort();
    return kiln_cron_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 +
           se;
}

/* The next firing of expr after time `from`, formatted as at() reads it ("none" / "parse"). */
static const char *next(const char *expr, const char *from)
{
    static char out[32];
    kiln_cron c;
    const char *err = NULL;
    if (kiln_cron_parse(expr, &c, &err) < 0) return "parse";
    int64_t t = kiln_cron_next(&c, at(from));
    if (t < 0) return "none";
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, sizeof out, "%Y-%m-%d %H:%M:%S", &tm);
    return out;
}

static void test_calendar(void)
{
    CHECK_INT(kiln_cron_days_from_civil(1970, 1, 1), 0);
    CHECK_INT(kiln_cron_days_from_civil(2000, 3, 1), 11017);
    /* every day from 1900 to 2200 round-trips and agrees with gmtime */
    for (int64_t days = -25567; days < 84000; days += 13) {
        int64_t y;
        unsigned m, d;
        kiln_cron_civil_from_days(days, &y, &m, &d);
        if (kiln_cron_days_from_civil(y, m, d) != days) {
            CHECK(!"civil round trip");
            return;
        }
        time_t tt = (time_t)(days * 86400);
        struct tm tm;
        gmtime_r(&tt, &tm);
        if (tm.tm_year + 1900 != y || (unsigned)tm.tm_mon + 1 != m || (unsigned)tm.tm_mday != d) {
            CHECK(!"civil agrees with gmtime");
            return;
        }
    }
    CHECK(1);
}

static void test_parse_errors(void)
{
    const char *bad[] = {"",
                         "* * * *",
                         "* * * * * * *",
                         "60 * * * * *",
                         "* 60 * * * *",
                         "* * 24 * * *",
                         "* * * 0 * *",
                         "* * * 32 * *",
                         "* * * * 13 *",
                         "* * * * * 8",
                         "*/0 * * * * *",
                         "5-2 * * * * *",
                         "1, * * * * *",
                         "a * * * * *",
                         "1/ * * * * *",
                         "* * * * FOO *",
                         "1-* * * * * *"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kiln_cron c;
        const char *err = NULL;
        int rc = kiln_cron_parse(bad[i], &c, &err);
        if (rc != -1 || !err) fprintf(stderr, "  accepted: '%s'\n", bad[i]);
        CHECK(rc == -1 && err);
    }
}

static void test_next(void)
{
    /* the plugin's example: every odd second */
    CHECK_STR(next("1/2 * * * * *", "2024-05-01 10:00:00"), "2024-05-01 10:00:01");
    CHECK_STR(next("1/2 * * * * *", "2024-05-01 10:00:01"), "2024-05-01 10:00:03");
    CHECK_STR(next("1/2 * * * * *", "2024-05-01 10:00:59"), "2024-05-01 10:01:01");
    CHECK_STR(next("* * * * * *", "2024-12-31 23:59:59"), "2025-01-01 00:00:00");
    CHECK_STR(next("*/15 * * * * *", "2024-05-01 10:00:44"), "2024-05-01 10:00:45");
    CHECK_STR(next("0 */5 * * * *", "2024-05-01 10:00:00"), "2024-05-01 10:05:00");
    CHECK_STR(next("0 0 * * * *", "2024-05-01 10:00:00"), "2024-05-01 11:00:00");
    CHECK_STR(next("30 15 9 * * *", "2024-05-01 10:00:00"), "2024-05-02 09:15:30");
    /* lists and ranges */
    CHECK_STR(next("0 0 8,12,18 * * *", "2024-05-01 12:00:00"), "2024-05-01 18:00:00");
    CHECK_STR(next("0 0 9-17 * * *", "2024-05-01 17:30:00"), "2024-05-02 09:00:00");
    CHECK_STR(next("0 0 9-17/4 * * *", "2024-05-01 10:00:00"), "2024-05-01 13:00:00");
    CHECK_STR(next("0 10-20/5,45 * * * *", "2024-05-01 10:20:00"), "2024-05-01 10:45:00");
    /* months, with names, and year wrap */
    CHECK_STR(next("0 0 0 1 JAN *", "2024-05-01 10:00:00"), "2025-01-01 00:00:00");
    CHECK_STR(next("0 0 0 1 jun-aug *", "2024-07-15 00:00:00"), "2024-08-01 00:00:00");
    CHECK_STR(next("0 0 0 31 * *", "2024-04-01 00:00:00"), "2024-05-31 00:00:00");
    /* leap days */
    CHECK_STR(next("0 0 12 29 2 *", "2024-03-01 00:00:00"), "2028-02-29 12:00:00");
    CHECK_STR(next("0 0 12 29 2 *", "2024-02-01 00:00:00"), "2024-02-29 12:00:00");
    CHECK_STR(next("0 0 0 30 2 *", "2024-01-01 00:00:00"), "none");
    /* day of week: 2024-05-01 was a Wednesday; 0 and 7 are Sunday */
    CHECK_STR(next("0 0 0 * * MON", "2024-05-01 00:00:00"), "2024-05-06 00:00:00");
    CHECK_STR(next("0 0 0 * * 0", "2024-05-01 00:00:00"), "2024-05-05 00:00:00");
    CHECK_STR(next("0 0 0 * * 7", "2024-05-01 00:00:00"), "2024-05-05 00:00:00");
    CHECK_STR(next("0 0 0 * * fri-sat", "2024-05-01 00:00:00"), "2024-05-03 00:00:00");
    CHECK_STR(next("0 0 0 * * 6-7", "2024-05-01 00:00:00"), "2024-05-04 00:00:00");
    CHECK_STR(next("0 0 0 ? * 1-5", "2024-05-03 12:00:00"), "2024-05-06 00:00:00");
    /* both day fields restricted: either matches (classic cron) */
    CHECK_STR(next("0 0 0 13 * FRI", "2024-05-01 00:00:00"), "2024-05-03 00:00:00");
    CHECK_STR(next("0 0 0 13 * FRI", "2024-05-10 00:00:00"), "2024-05-13 00:00:00");
    /* only one restricted: both must match (Friday the 13th needs ranges on both sides) */
    CHECK_STR(next("0 0 0 * 9 FRI", "2024-05-01 00:00:00"), "2024-09-06 00:00:00");
    /* five fields: classic cron, second 0 */
    CHECK_STR(next("*/10 * * * *", "2024-05-01 10:00:00"), "2024-05-01 10:10:00");
    CHECK_STR(next("0 0 1 1 *", "2024-05-01 10:00:00"), "2025-01-01 00:00:00");
    /* extra spaces and tabs between fields */
    CHECK_STR(next("  0\t0  0 * * *  ", "2024-05-01 10:00:00"), "2024-05-02 00:00:00");
    /* UTC throughout: no DST gap or repeat on the European/US change days */
    CHECK_STR(next("0 30 2 * * *", "2024-03-31 00:00:00"), "2024-03-31 02:30:00");
    CHECK_STR(next("0 30 1 * * *", "2024-11-03 01:30:00"), "2024-11-04 01:30:00");
}

/* Brute force: for many expressions and start times, kiln_cron_next is the first second
 * (checked one by one) whose broken-down UTC time matches. */
static int matches(const kiln_cron *c, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    if (!((c->second >> tm.tm_sec) & 1) || !((c->minute >> tm.tm_min) & 1) ||
        !((c->hour >> tm.tm_hour) & 1) || !((c->month >> (tm.tm_mon + 1)) & 1))
        return 0;
    int dm = (c->mday >> tm.tm_mday) & 1, dw = (c->wday >> tm.tm_wday) & 1;
    return (!c->mday_any && !c->wday_any) ? (dm || dw) : (dm && dw);
}

static void test_brute_force(void)
{
    const char *exprs[] = {"* * * * * *",       "1/2 * * * * *",     "*/7 */3 * * * *",
                           "0 0-10/3 * * * *",  "15,45 * 1-3 * * *", "0 0 * 2,15 * *",
                           "0 0 0 * * TUE,THU", "5 4 3 * * 0",       "0 0 12 13 * 5",
                           "0 59 23 L? * *"};
    int64_t base = at("2023-12-30 22:58:00");
    int bad = 0, checked = 0;
    for (size_t i = 0; i < sizeof exprs / sizeof exprs[0]; i++) {
        kiln_cron c;
        const char *err;
        if (kiln_cron_parse(exprs[i], &c, &err) < 0) continue; /* the last one is invalid */
        for (int64_t from = base; from < base + 9 * 86400; from += 86400 / 3 + 7) {
            int64_t got = kiln_cron_next(&c, from), want = -1;
            for (int64_t t = from + 1; t < from + 9 * 86400; t++)
                if (matches(&c, t)) {
                    want = t;
                    break;
                }
            if (want >= 0 && got != want) bad++;
            checked++;
        }
    }
    CHECK_INT(bad, 0);
    CHECK(checked > 200);
}

int main(void)
{
    test_calendar();
    test_parse_errors();
    test_next();
    test_brute_force();
    return test_finish("cronexpr_test");
}
