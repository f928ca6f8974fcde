/* cronexpr.h — cron expressions as Spin's cron trigger plugin reads them, and when they fire.
 *
 * An expression has six fields, separated by spaces: second minute hour day-of-month month
 * day-of-week (the plugin's form: "1/2 * * * * *" fires at every odd second). Five fields are
 * accepted too, as classic cron's (the second is then 0). Each field is a comma-separated list
 * of items; an item is `*` (or `?`), a value, a range `a-b`, each optionally followed by a
 * step `/n`; `a/n` means from a to the field's maximum by n. Months may be named JAN..DEC and
 * days of the week SUN..SAT (case-insensitive); day-of-week 0 and 7 are both Sunday.
 * Day-of-month and day-of-week combine as classic cron's: when both are restricted (neither
 * starts with `*` or `?`), a day matches either; else it must match both.
 *
 * Times are UTC, in whole seconds since the Unix epoch: no time zone and no daylight saving
 * time, so every matching second fires exactly once. */
#ifndef KILN_EXEC_TRIGGER_CRONEXPR_H
#define KILN_EXEC_TRIGGER_CRONEXPR_H

#include <stdint.h>

typedef struct kiln_cron {
    uint64_t second, minute; /* bit i: value i matches (0..59) */
    uint32_t hour;           /* 0..23 */
    uint32_t mday;           /* 1..31 */
    uint16_t month;          /* 1..12 */
    uint8_t wday;            /* 0..6, 0 = Sunday */
    int mday_any, wday_any;  /* the field starts with '*' or '?' */
} kiln_cron;

/* Parses expr into *out. 0, or -1 with *err (a static message naming the bad field). */
int kiln_cron_parse(const char *expr, kiln_cron *out, const char **err);

/* The first second strictly after `after` (UTC seconds since the epoch) at which c fires, or
 * -1 when none comes within the next 8 years (e.g. "0 0 0 30 2 *"). */
int64_t kiln_cron_next(const kiln_cron *c, int64_t after);

/* UTC calendar conversions (proleptic Gregorian), exposed for the tests. */
int64_t kiln_cron_days_from_civil(int64_t y, unsigned m, unsigned d);
void kiln_cron_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
