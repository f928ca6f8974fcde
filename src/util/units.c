/* units.c — human sizes ("128M") and durations ("30s", "500ms") in options and manifests. */
#include "util/units.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int kiln_parse_size(const char *s, unsigned long long *out)
{
    if (!s || !isdigit((unsigned char)*s)) return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno) return -1;
    unsigned shift = 0;
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        shift = 10;
        end++;
        break;
    case 'm':
    case 'M':
        shift = 20;
        end++;
        break;
    case 'g':
    case 'G':
        shift = 30;
        end++;
        break;
    default:
        return -1;
    }
    if (*end == 'i' || *end == 'I') end++;
    if (*end == 'b' || *end == 'B') end++;
    if (*end) return -1;
    if (shift && v > (~0ULL >> shift)) return -1;
    *out = v << shift;
    return 0;
}

int kiln_parse_duration_ms(const char *s, unsigned long long *out_ms)
{
    if (!s || !isdigit((unsigned char)*s)) return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || v < 0) return -1;
    double mult;
    if (strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        mult = 1000;
    else if (strcmp(end, "m") == 0)
        mult = 60000;
    else if (strcmp(end, "h") == 0)
        mult = 3600000;
    else
        return -1;
    double ms = v * mult;
    if (ms > 1e15) return -1;
    *out_ms = (unsigned long long)ms;
    return 0;
}
