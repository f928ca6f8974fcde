/* consts.c — checking and evaluating constant expressions (see consts.h). */
#include "engine/consts.h"
#include "util/alloc.h"
#include "util/leb.h"

#include <stdio.h>
#include <string.h>

void kiln_init_plan_free(kiln_init_plan *p)
{
    if (!p) return;
    kiln_free(p->bytes);
    kiln_free(p->globals);
    kiln_free(p->elems);
    kiln_free(p->datas);
    kiln_free(p->global_import);
    kiln_free(p->memory_import);
    kiln_free(p);
}

/* Signed LEB128 of at most `bits` bits (32 or 64). 0, or -1 when malformed. */
static int read_sleb(const uint8_t *p, size_t end, size_t *pos, unsigned bits, int64_t *out)
{
    uint64_t v = 0;
    unsigned shift = 0;
    uint8_t b;
    do {
        if (*pos >= end || shift >= bits) return -1;
        b = p[(*pos)++];
        if (shift < 64) v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
    } while (b & 0x80);
    if (shift >= bits) {
        /* The unused bits of the last byte must repeat the sign bit. */
        unsigned used = bits - (shift - 7);
        int sign = (b >> (used - 1)) & 1;
        uint8_t rest = (uint8_t)((b & 0x7f) >> used);
        if (rest != (sign ? (0x7f >> used) : 0)) return -1;
    } else if (b & 0x40) {
        v |= ~(uint64_t)0 << shift;
    }
    if (bits == 32) v = (uint64_t)(int64_t)(int32_t)(uint32_t)v;
    *out = (int64_t)v;
    return 0;
}

/* The value letter of a reference type byte, or 0. */
static char reftype_letter(uint8_t b)
{
    return b == 0x70 ? 'r' : b == 0x6f ? 'e' : 0;
}

int kiln_const_check(const uint8_t *bytes, size_t end, size_t *pos, const kiln_wasm *w,
                     uint32_t nglobal_imports, char expect, char *err, size_t errlen)
{
    /* Each instruction pushes at most one value, and the binary ops pop two: the depth
     * never exceeds the instruction count, but a bound keeps the stack fixed-size. */
    char stack[64];
    size_t depth = 0;
    for (;;) {
        if (*pos >= end) {
            snprintf(err, errlen, "unexpected end of constant expression");
            return -1;
        }
        uint8_t op = bytes[(*pos)++];
        char push = 0;
        int64_t s;
        uint32_t x;
        switch (op) {
        case 0x0b:
            if (depth != 1 || stack[0] != expect) {
                snprintf(err, errlen, "type mismatch in constant expression");
                return -1;
            }
            return 0;
        case 0x41:
        case 0x42:
            if (read_sleb(bytes, end, pos, op == 0x41 ? 32 : 64, &s) < 0) goto malformed;
            push = op == 0x41 ? 'i' : 'j';
            break;
        case 0x43:
        case 0x44: {
            size_t n = op == 0x43 ? 4 : 8;
            if (end - *pos < n) goto malformed;
            *pos += n;
            push = op == 0x43 ? 'f' : 'd';
            break;
        }
        case 0xfd:
            if (kiln_leb_u32(bytes, end, pos, &x) < 0 || x != 12) goto not_const;
            if (end - *pos < 16) goto malformed;
            *pos += 16;
            push = 'o';
            break;
        case 0xd0:
            if (*pos >= end || !(push = reftype_letter(bytes[*pos]))) goto malformed;
            (*pos)++;
            break;
        case 0xd2:
            if (kiln_leb_u32(bytes, end, pos, &x) < 0) goto malformed;
            if (x >= w->nfuncs) {
                snprintf(err, errlen, "unknown function %u", x);
                return -1;
            }
            push = 'r';
            break;
        case 0x23:
            if (kiln_leb_u32(bytes, end, pos, &x) < 0) goto malformed;
            if (x >= nglobal_imports) {
                snprintf(err, errlen, "unknown global %u", x);
                return -1;
            }
            if (w->global_mut[x]) goto not_const;
            push = w->global_types[x];
            break;
        case 0x6a:
        case 0x6b:
        case 0x6c:
        case 0x7c:
        case 0x7d:
        case 0x7e: {
            char t = op <= 0x6c ? 'i' : 'j';
            if (depth < 2 || stack[depth - 1] != t || stack[depth - 2] != t) {
                snprintf(err, errlen, "type mismatch in constant expression");
                return -1;
            }
            depth--;
            continue;
        }
        default:
            goto not_const;
        }
        if (depth == sizeof stack) {
            snprintf(err, errlen, "constant expression too deep");
            return -1;
        }
        stack[depth++] = push;
    }
malformed:
    snprintf(err, errlen, "malformed constant expression");
    return -1;
not_const:
    snprintf(err, errlen, "constant expression required");
    return -1;
}

void kiln_const_eval(const uint8_t *expr, size_t len, kiln_const_global_fn get, void *ctx,
                     kiln_val *out)
{
    kiln_val stack[64];
    size_t depth = 0, pos = 0;
    memset(out, 0, sizeof *out);
    while (pos < len) {
        uint8_t op = expr[pos++];
        kiln_val v;
        memset(&v, 0, sizeof v);
        int64_t s = 0;
        uint32_t x = 0;
        switch (op) {
        case 0x0b:
            if (depth == 1) *out = stack[0];
            return;
        case 0x41:
            read_sleb(expr, len, &pos, 32, &s);
            v.i32 = (uint32_t)s;
            break;
        case 0x42:
            read_sleb(expr, len, &pos, 64, &s);
            v.i64 = (uint64_t)s;
            break;
        case 0x43:
            memcpy(&v.f32, expr + pos, 4);
            pos += 4;
            break;
        case 0x44:
            memcpy(&v.f64, expr + pos, 8);
            pos += 8;
            break;
        case 0xfd: /* v128: Kiln refuses SIMD modules before this runs */
            kiln_leb_u32(expr, len, &pos, &x);
            pos += 16;
            break;
        case 0xd0:
            if (expr[pos++] == 0x70)
                v.funcref = wasm_rt_funcref_null_value;
            else
                v.externref = wasm_rt_externref_null_value;
            break;
        case 0xd2: /* a lone ref.func stays in the C: not planned (wasm_rewrite.c) */
            kiln_leb_u32(expr, len, &pos, &x);
            break;
        case 0x23:
            kiln_leb_u32(expr, len, &pos, &x);
            get(ctx, x, &v);
            break;
        default: {
            /* i32/i64 add, sub, mul (checked: two operands of the type) */
            if (depth < 2) return;
            kiln_val *a = &stack[depth - 2], *b = &stack[depth - 1];
            switch (op) {
            case 0x6a:
                a->i32 += b->i32;
                break;
            case 0x6b:
                a->i32 -= b->i32;
                break;
            case 0x6c:
                a->i32 *= b->i32;
                break;
            case 0x7c:
                a->i64 += b->i64;
                break;
            case 0x7d:
                a->i64 -= b->i64;
                break;
            default:
                a->i64 *= b->i64;
                break;
            }
            depth--;
            continue;
        }
        }
        if (depth == sizeof stack / sizeof stack[0]) return;
        stack[depth++] = v;
    }
}
