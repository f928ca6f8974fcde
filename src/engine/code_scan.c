/* code_scan.c — walks function bodies instruction by instruction (see code_scan.h).
 *
 * Every read is bounded by the body's end; a LEB128 immediate is skipped by its bytes
 * (at most 10), a fixed one by its size. The walk only has to find where the next
 * instruction starts: it does not track blocks or types. */
#include "engine/code_scan.h"
#include "util/leb.h"

/* Walk outcomes. */
enum { SCAN_NONE = 0, SCAN_NAMES = 1, SCAN_UNKNOWN = 2 };

/* Skips one LEB128 (signed or unsigned, up to 64 bits) at p[*pos..end). 0, or -1. */
static int skip_leb(const uint8_t *p, size_t end, size_t *pos)
{
    for (int i = 0; i < 10 && *pos < end; i++)
        if (!(p[(*pos)++] & 0x80)) return 0;
    return -1;
}

/* Skips n LEB128 immediates. 0, or -1. */
static int skip_lebs(const uint8_t *p, size_t end, size_t *pos, int n)
{
    for (int i = 0; i < n; i++)
        if (skip_leb(p, end, pos) < 0) return -1;
    return 0;
}

/* A memarg: its alignment (bit 6: a memory index follows) and offset. 0, or -1. */
static int skip_memarg(const uint8_t *p, size_t end, size_t *pos)
{
    uint32_t align;
    if (kiln_leb_u32(p, end, pos, &align) < 0) return -1;
    if ((align & 0x40) && skip_leb(p, end, pos) < 0) return -1;
    return skip_leb(p, end, pos);
}

/* A value type of one byte (numbers, v128, funcref, externref). */
static int valtype_byte(uint8_t b)
{
    return (b >= 0x7b && b <= 0x7f) || b == 0x70 || b == 0x6f;
}

/* The 0xFC-prefixed instruction after its prefix. */
static int scan_fc(const uint8_t *p, size_t end, size_t *pos)
{
    uint32_t op;
    if (kiln_leb_u32(p, end, pos, &op) < 0) return SCAN_UNKNOWN;
    if (op <= 7) return SCAN_NONE;             /* saturating truncations */
    if (op == 8 || op == 9) return SCAN_NAMES; /* memory.init, data.drop */
    static const int8_t imms[] = {
        [10] = 2, [11] = 1, [12] = 2, [13] = 1, [14] = 2, [15] = 1, [16] = 1, [17] = 1};
    if (op >= sizeof imms) return SCAN_UNKNOWN;
    return skip_lebs(p, end, pos, imms[op]) < 0 ? SCAN_UNKNOWN : SCAN_NONE;
}

/* The 0xFE-prefixed (atomic) instruction after its prefix. */
static int scan_fe(const uint8_t *p, size_t end, size_t *pos)
{
    uint32_t op;
    if (kiln_leb_u32(p, end, pos, &op) < 0) return SCAN_UNKNOWN;
    if (op == 0x03) return *pos < end && p[(*pos)++] == 0 ? SCAN_NONE : SCAN_UNKNOWN; /* fence */
    if (op <= 0x02 || (op >= 0x10 && op <= 0x4e))
        return skip_memarg(p, end, pos) < 0 ? SCAN_UNKNOWN : SCAN_NONE;
    return SCAN_UNKNOWN;
}

/* One instruction at p[*pos..end) (its opcode byte first), *pos moved past it. */
static int scan_instr(const uint8_t *p, size_t end, size_t *pos)
{
    uint8_t op = p[(*pos)++];
    switch (op) {
    case 0x00:
    case 0x01:
    case 0x05:
    case 0x0b:
    case 0x0f:
    case 0x1a:
    case 0x1b:
    case 0xd1:
        return SCAN_NONE;
    case 0x02:
    case 0x03:
    case 0x04: /* block, loop, if: a block type */
        if (*pos >= end) return SCAN_UNKNOWN;
        if (p[*pos] == 0x40 || valtype_byte(p[*pos])) {
            (*pos)++;
            return SCAN_NONE;
        }
        return skip_leb(p, end, pos) < 0 ? SCAN_UNKNOWN : SCAN_NONE; /* a type index */
    case 0x0c:
    case 0x0d:
    case 0x10:
    case 0x12:
    case 0xd2:
    case 0x3f:
    case 0x40:
    case 0x20:
    case 0x21:
    case 0x22:
    case 0x23:
    case 0x24:
    case 0x25:
    case 0x26:
    case 0x41:
    case 0x42:
    case 0xd0:
        return skip_leb(p, end, pos) < 0 ? SCAN_UNKNOWN : SCAN_NONE;
    case 0x11:
    case 0x13: /* call_indirect, return_call_indirect: type, table */
        return skip_lebs(p, end, pos, 2) < 0 ? SCAN_UNKNOWN : SCAN_NONE;
    case 0x0e: { /* br_table: the labels, then the default */
        uint32_t n;
        if (kiln_leb_u32(p, end, pos, &n) < 0) return SCAN_UNKNOWN;
        for (uint64_t i = 0; i <= n; i++)
            if (skip_leb(p, end, pos) < 0) return SCAN_UNKNOWN;
        return SCAN_NONE;
    }
    case 0x1c: { /* select with its types */
        uint32_t n;
        if (kiln_leb_u32(p, end, pos, &n) < 0 || n > end - *pos) return SCAN_UNKNOWN;
        for (uint32_t i = 0; i < n; i++)
            if (!valtype_byte(p[(*pos)++])) return SCAN_UNKNOWN;
        return SCAN_NONE;
    }
    case 0x43:
    case 0x44: {
        size_t n = op == 0x43 ? 4 : 8;
        if (n > end - *pos) return SCAN_UNKNOWN;
        *pos += n;
        return SCAN_NONE;
    }
    case 0xfc:
        return scan_fc(p, end, pos);
    case 0xfe:
        return scan_fe(p, end, pos);
    default:
        if (op >= 0x28 && op <= 0x3e) /* loads and stores */
            return skip_memarg(p, end, pos) < 0 ? SCAN_UNKNOWN : SCAN_NONE;
        if (op >= 0x45 && op <= 0xc4) return SCAN_NONE; /* numeric, sign extension */
        return SCAN_UNKNOWN;
    }
}

/* One function body p[pos..end): its locals, then its instructions. */
static int scan_body(const uint8_t *p, size_t pos, size_t end,
                     void (*on_instr)(void *arg, size_t off), void *arg)
{
    uint32_t groups;
    if (kiln_leb_u32(p, end, &pos, &groups) < 0) return SCAN_UNKNOWN;
    for (uint32_t i = 0; i < groups; i++) {
        uint32_t count;
        if (kiln_leb_u32(p, end, &pos, &count) < 0 || pos >= end || !valtype_byte(p[pos++]))
            return SCAN_UNKNOWN;
    }
    while (pos < end) {
        if (on_instr) on_instr(arg, pos);
        int r = scan_instr(p, end, &pos);
        if (r != SCAN_NONE) return r;
    }
    return SCAN_NONE;
}

int kiln_code_names_data(const uint8_t *p, size_t start, size_t end)
{
    return kiln_code_walk(p, start, end, NULL, NULL);
}

int kiln_code_walk(const uint8_t *p, size_t start, size_t end,
                   void (*on_instr)(void *arg, size_t off), void *arg)
{
    if (start >= end) return 0;
    size_t pos = start;
    uint32_t n;
    if (kiln_leb_u32(p, end, &pos, &n) < 0) return 1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t size;
        if (kiln_leb_u32(p, end, &pos, &size) < 0 || size > end - pos) return 1;
        if (scan_body(p, pos, pos + size, on_instr, arg) != SCAN_NONE) return 1;
        pos += size;
    }
    return 0;
}
