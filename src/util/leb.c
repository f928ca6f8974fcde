/* leb.c — LEB128 decoding (see leb.h). */
#include "util/leb.h"

int kiln_leb_u(const uint8_t *p, size_t end, size_t *pos, unsigned bits, uint64_t *out)
{
    uint64_t v = 0;
    unsigned shift = 0;
    for (;;) {
        if (*pos >= end) return KILN_LEB_TRUNCATED;
        uint8_t b = p[(*pos)++];
        if (shift >= bits || (shift + 7 > bits && (b & 0x7f) >> (bits - shift)))
            return KILN_LEB_TOO_LONG;
        v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) break;
    }
    *out = v;
    return KILN_LEB_OK;
}

int kiln_leb_u32(const uint8_t *p, size_t end, size_t *pos, uint32_t *out)
{
    uint64_t v;
    if (kiln_leb_u(p, end, pos, 32, &v) != KILN_LEB_OK) return -1;
    *out = (uint32_t)v;
    return 0;
}
