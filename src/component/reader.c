/* reader.c — decodes a component binary into definitions (see types.h, step 1).
 *
 * A cursor walks the bytes with absolute offsets; every read checks the bytes left first,
 * every vector count is checked against the bytes left (each element takes at least one
 * byte) before anything is allocated, and nesting (components, component/instance types,
 * value types) is bounded. The first error stops the walk: every reader returns -1/NULL
 * and the context holds the message. */
#include "component/internal.h"
#include "util/leb.h"
#include "util/alloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- cursor ---- */

typedef struct cur {
    kc_ctx *x;
    size_t pos, end; /* absolute offsets into x->bytes */
    uint8_t sec;     /* current section id, 0xff outside sections */
    unsigned depth;  /* component nesting */
    unsigned tdepth; /* type nesting */
} cur;

static void fail(cur *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(cur *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kc_vfail(c->x, c->sec, c->pos, fmt, ap);
    va_end(ap);
}

static int rd_byte(cur *c, uint8_t *out)
{
    if (c->x->failed) return -1;
    if (c->pos >= c->end) {
        fail(c, "unexpected end of %s", c->sec == 0xff ? "file" : "section");
        return -1;
    }
    *out = c->x->bytes[c->pos++];
    return 0;
}

static int peek(cur *c, uint8_t *out)
{
    if (rd_byte(c, out) < 0) return -1;
    c->pos--;
    return 0;
}

static int rd_uleb(cur *c, unsigned bits, uint64_t *out)
{
    if (c->x->failed) return -1;
    int r = kiln_leb_u(c->x->bytes, c->end, &c->pos, bits, out);
    if (r == KILN_LEB_TRUNCATED)
        fail(c, "unexpected end of %s", c->sec == 0xff ? "file" : "section");
    else if (r == KILN_LEB_TOO_LONG)
        fail(c, "integer representation too long or too large");
    return r == KILN_LEB_OK ? 0 : -1;
}

static int rd_u32(cur *c, uint32_t *out)
{
    uint64_t v;
    if (rd_uleb(c, 32, &v) < 0) return -1;
    *out = (uint32_t)v;
    return 0;
}

/* Signed LEB128 of up to 33 bits (value types, heap types). */
static int rd_s33(cur *c, int64_t *out)
{
    int64_t v = 0;
    unsigned shift = 0;
    uint8_t b;
    do {
        if (rd_byte(c, &b) < 0) return -1;
        if (shift >= 35) {
            fail(c, "integer representation too long");
            return -1;
        }
        v |= (int64_t)(b & 0x7f) << shift;
        shift += 7;
    } while (b & 0x80);
    if (shift < 64 && (b & 0x40)) v |= -((int64_t)1 << shift);
    if (v < -((int64_t)1 << 32) || v >= ((int64_t)1 << 32)) {
        fail(c, "integer too large");
        return -1;
    }
    *out = v;
    return 0;
}

/* A vector count: at most one element per `min_size` bytes left, so a hostile count
 * cannot make us allocate before the bytes exist. */
static int rd_count(cur *c, size_t min_size, const char *what, uint32_t *out)
{
    size_t at = c->pos;
    if (rd_u32(c, out) < 0) return -1;
    if ((uint64_t)*out * min_size > c->end - c->pos) {
        c->pos = at;
        fail(c, "%s count %u larger than the bytes left (%zu)", what, *out, c->end - c->pos);
        return -1;
    }
    return 0;
}

/* Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
static int utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        uint32_t cp;
        size_t len;
        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xe0) == 0xc0) {
            len = 2;
            cp = b & 0x1f;
        } else if ((b & 0xf0) == 0xe0) {
            len = 3;
            cp = b & 0x0f;
        } else if ((b & 0xf8) == 0xf0) {
            len = 4;
            cp = b & 0x07;
        } else {
            return 0;
        }
        if (n - i < len) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

/* A name (u32 length + UTF-8 bytes) copied into the arena. Names with NUL are refused so
 * that every name is a C string. */
static const char *rd_name_ex(cur *c, int allow_nul)
{
    size_t at = c->pos;
    uint32_t n;
    if (rd_u32(c, &n) < 0) return NULL;
    if (n > c->end - c->pos) {
        c->pos = at;
        fail(c, "name length %u larger than the bytes left (%zu)", n, c->end - c->pos);
        return NULL;
    }
    const uint8_t *s = c->x->bytes + c->pos;
    if (!utf8_valid(s, n)) {
        c->pos = at;
        fail(c, "name is not valid UTF-8");
        return NULL;
    }
    if (!allow_nul && memchr(s, 0, n)) {
        c->pos = at;
        fail(c, "name contains a NUL character");
        return NULL;
    }
    c->pos += n;
    return kc_strndup(c->x, (const char *)s, n);
}

static const char *rd_name(cur *c)
{
    return rd_name_ex(c, 0);
}

/* ---- sorts ---- */

static int core_sort_from_byte(uint8_t b, kiln_csort *out)
{
    switch (b) {
    case 0x00:
        *out = KILN_CSORT_CORE_FUNC;
        return 0;
    case 0x01:
        *out = KILN_CSORT_CORE_TABLE;
        return 0;
    case 0x02:
        *out = KILN_CSORT_CORE_MEMORY;
        return 0;
    case 0x03:
        *out = KILN_CSORT_CORE_GLOBAL;
        return 0;
    case 0x04:
        *out = KILN_CSORT_CORE_TAG;
        return 0;
    case 0x10:
        *out = KILN_CSORT_CORE_TYPE;
        return 0;
    case 0x11:
        *out = KILN_CSORT_CORE_MODULE;
        return 0;
    case 0x12:
        *out = KILN_CSORT_CORE_INSTANCE;
        return 0;
    default:
        return -1;
    }
}

static int rd_core_sort(cur *c, kiln_csort *out)
{
    uint8_t b;
    if (rd_byte(c, &b) < 0) return -1;
    if (core_sort_from_byte(b, out) < 0) {
        c->pos--;
        fail(c, "invalid core sort 0x%02x", b);
        return -1;
    }
    return 0;
}

static int rd_sort(cur *c, kiln_csort *out)
{
    uint8_t b;
    if (rd_byte(c, &b) < 0) return -1;
    switch (b) {
    case 0x00:
        return rd_core_sort(c, out);
    case 0x01:
        *out = KILN_CSORT_FUNC;
        return 0;
    case 0x02:
        *out = KILN_CSORT_VALUE;
        return 0;
    case 0x03:
        *out = KILN_CSORT_TYPE;
        return 0;
    case 0x04:
        *out = KILN_CSORT_COMPONENT;
        return 0;
    case 0x05:
        *out = KILN_CSORT_INSTANCE;
        return 0;
    default:
        c->pos--;
        fail(c, "invalid sort 0x%02x", b);
        return -1;
    }
}

/* ---- core types ---- */

/* A core value type (numbers, v128, reference types); returns its signature letter. */
static int rd_core_valtype(cur *c, char *letter)
{
    uint8_t b;
    if (rd_byte(c, &b) < 0) return -1;
    switch (b) {
    case 0x7f:
        *letter = 'i';
        return 0;
    case 0x7e:
        *letter = 'j';
        return 0;
    case 0x7d:
        *letter = 'f';
        return 0;
    case 0x7c:
        *letter = 'd';
        return 0;
    case 0x7b:
        *letter = 'o';
        return 0;
    case 0x70:
        *letter = 'r';
        return 0;
    case 0x6f:
        *letter = 'e';
        return 0;
    case 0x6e:
    case 0x6d:
    case 0x6c:
    case 0x6b:
    case 0x6a:
    case 0x71:
    case 0x72:
    case 0x73:
    case 0x74:
    case 0x69:
    case 0x68: /* abstract heap type shorthands */
        *letter = 'x';
        return 0;
    case 0x63:
    case 0x64: {
        int64_t ht;
        *letter = 'x';
        return rd_s33(c, &ht);
    }
    default:
        c->pos--;
        fail(c, "invalid core value type 0x%02x", b);
        return -1;
    }
}

/* A core storage type (value type or packed i8/i16) and its mutability. */
static int rd_core_fieldtype(cur *c)
{
    uint8_t b, mut;
    char l;
    if (peek(c, &b) < 0) return -1;
    if (b == 0x78 || b == 0x77)
        c->pos++;
    else if (rd_core_valtype(c, &l) < 0)
        return -1;
    if (rd_byte(c, &mut) < 0) return -1;
    if (mut > 1) {
        c->pos--;
        fail(c, "invalid mutability 0x%02x", mut);
        return -1;
    }
    return 0;
}

/* A core func type's two vectors as a signature "ii:i". The vectors are read twice (first
 * to size the string) so that the allocation is bounded by the type, not the section. */
static const char *rd_core_functype_body(cur *c)
{
    size_t start = c->pos;
    uint32_t np, nr;
    char l;
    if (rd_count(c, 1, "parameter", &np) < 0) return NULL;
    for (uint32_t i = 0; i < np; i++)
        if (rd_core_valtype(c, &l) < 0) return NULL;
    if (rd_count(c, 1, "result", &nr) < 0) return NULL;
    char *sig = kc_alloc(c->x, (size_t)np + nr + 2);
    if (!sig) return NULL;
    c->pos = start;
    size_t k = 0;
    if (rd_u32(c, &np) < 0) return NULL;
    for (uint32_t i = 0; i < np; i++)
        if (rd_core_valtype(c, &sig[k++]) < 0) return NULL;
    sig[k++] = ':';
    if (rd_u32(c, &nr) < 0) return NULL;
    for (uint32_t i = 0; i < nr; i++)
        if (rd_core_valtype(c, &sig[k++]) < 0) return NULL;
    sig[k] = 0;
    return sig;
}

/* A comptype (func, struct, array) after its opcode byte; fills t for func types. */
static int rd_core_comptype(cur *c, uint8_t op, kiln_ctype *t)
{
    uint32_t n;
    switch (op) {
    case 0x60:
        t->kind = KILN_CT_CORE_FUNC;
        t->sig = rd_core_functype_body(c);
        return t->sig ? 0 : -1;
    case 0x5f:
        t->kind = KILN_CT_CORE_OTHER;
        if (rd_count(c, 2, "field", &n) < 0) return -1;
        for (uint32_t i = 0; i < n; i++)
            if (rd_core_fieldtype(c) < 0) return -1;
        return 0;
    case 0x5e:
        t->kind = KILN_CT_CORE_OTHER;
        return rd_core_fieldtype(c);
    default:
        c->pos--;
        fail(c, "invalid core type opcode 0x%02x", op);
        return -1;
    }
}

/* A subtype: [0x50 | 0x4f] vec(typeidx) comptype, or a bare comptype. */
static int rd_core_subtype(cur *c, uint8_t op, kiln_ctype *t)
{
    if (op == 0x50 || op == 0x4f) {
        uint32_t n, idx;
        if (rd_count(c, 1, "supertype", &n) < 0) return -1;
        for (uint32_t i = 0; i < n; i++)
            if (rd_u32(c, &idx) < 0) return -1;
        if (rd_byte(c, &op) < 0) return -1;
    }
    return rd_core_comptype(c, op, t);
}

/* Table or memory limits; a memory's are at most 65536 pages (2^48 for memory64), as
 * core validation requires (component-spec core-modules.wast). */
static int rd_limits(cur *c, int memory)
{
    uint8_t flags;
    uint64_t v[2] = {0, 0};
    if (rd_byte(c, &flags) < 0) return -1;
    if (flags > 0x07) {
        c->pos--;
        fail(c, "invalid limits flags 0x%02x", flags);
        return -1;
    }
    unsigned bits = (flags & 4) ? 64 : 32;
    if (rd_uleb(c, bits, &v[0]) < 0) return -1;
    if ((flags & 1) && rd_uleb(c, bits, &v[1]) < 0) return -1;
    uint64_t pages = bits == 64 ? (uint64_t)1 << 48 : 65536;
    if (memory && (v[0] > pages || v[1] > pages)) {
        fail(c, "memory size must be at most %" PRIu64 " pages", pages);
        return -1;
    }
    return 0;
}

/* A core externtype (import/export descriptor) into d->core_kind/core_index. */
static int rd_core_externtype(cur *c, kiln_cdecl *d)
{
    char l;
    uint8_t b;
    if (rd_byte(c, &d->core_kind) < 0) return -1;
    switch (d->core_kind) {
    case 0x00:
        return rd_u32(c, &d->core_index);
    case 0x01:
        if (rd_core_valtype(c, &l) < 0) return -1;
        return rd_limits(c, 0);
    case 0x02:
        return rd_limits(c, 1);
    case 0x03:
        return rd_core_fieldtype(c);
    case 0x04:
        if (rd_byte(c, &b) < 0) return -1;
        if (b != 0) {
            c->pos--;
            fail(c, "invalid tag attribute 0x%02x", b);
            return -1;
        }
        return rd_u32(c, &d->core_index);
    default:
        c->pos--;
        fail(c, "invalid core extern kind 0x%02x", d->core_kind);
        return -1;
    }
}

static kiln_ctype *rd_core_type(cur *c, int in_module_type);

/* A core module type's declarators after the 0x50 opcode. */
static int rd_module_type(cur *c, kiln_ctype *t)
{
    uint32_t n;
    t->kind = KILN_CT_CORE_MODULE;
    if (rd_count(c, 1, "module declarator", &n) < 0) return -1;
    t->decls = kc_alloc_array(c->x, n, sizeof *t->decls);
    if (!t->decls && n) return -1;
    t->ndecls = n;
    for (uint32_t i = 0; i < n; i++) {
        kiln_cdecl *d = &t->decls[i];
        uint8_t op, b;
        d->offset = c->pos;
        if (rd_byte(c, &op) < 0) return -1;
        switch (op) {
        case 0x00:
            d->kind = KILN_CDECL_CORE_IMPORT;
            if (!(d->core_module = rd_name(c)) || !(d->core_name = rd_name(c))) return -1;
            if (rd_core_externtype(c, d) < 0) return -1;
            break;
        case 0x01:
            d->kind = KILN_CDECL_CORE_TYPE;
            if (!(d->type = rd_core_type(c, 1))) return -1;
            break;
        case 0x02:
            d->kind = KILN_CDECL_ALIAS;
            if (rd_byte(c, &b) < 0) return -1;
            if (b != 0x10) {
                c->pos--;
                fail(c, "module type alias must be of sort type (0x10), not 0x%02x", b);
                return -1;
            }
            if (rd_byte(c, &b) < 0) return -1;
            if (b != 0x01) {
                c->pos--;
                fail(c, "module type alias must be an outer alias (0x01), not 0x%02x", b);
                return -1;
            }
            d->alias.kind = KILN_CALIAS_OUTER;
            d->alias.sort = KILN_CSORT_CORE_TYPE;
            if (rd_u32(c, &d->alias.count) < 0 || rd_u32(c, &d->alias.index) < 0) return -1;
            break;
        case 0x03:
            d->kind = KILN_CDECL_CORE_EXPORT;
            if (!(d->core_name = rd_name(c))) return -1;
            if (rd_core_externtype(c, d) < 0) return -1;
            break;
        default:
            c->pos--;
            fail(c, "invalid module type declarator 0x%02x", op);
            return -1;
        }
    }
    return 0;
}

/* core:type: a module type, a func/struct/array type, a sub type or a rec group. */
static kiln_ctype *rd_core_type(cur *c, int in_module_type)
{
    kiln_ctype *t = kc_alloc(c->x, sizeof *t);
    if (!t) return NULL;
    t->offset = c->pos;
    uint8_t op;
    if (rd_byte(c, &op) < 0) return NULL;
    if (op == 0x50) {
        if (in_module_type) {
            c->pos--;
            fail(c, "module types cannot be nested in module types");
            return NULL;
        }
        if (++c->tdepth > KILN_COMPONENT_MAX_TYPE_DEPTH) {
            fail(c, "types nested too deeply");
            return NULL;
        }
        int r = rd_module_type(c, t);
        c->tdepth--;
        return r < 0 ? NULL : t;
    }
    if (op == 0x00) { /* 0x00 0x50: a non-final sub type */
        if (rd_byte(c, &op) < 0) return NULL;
        if (op != 0x50) {
            c->pos--;
            fail(c, "invalid core type opcode 0x00 0x%02x", op);
            return NULL;
        }
        return rd_core_subtype(c, 0x50, t) < 0 ? NULL : t;
    }
    if (op == 0x4e) { /* rec group: kept opaque unless it holds a single func type */
        uint32_t n;
        if (rd_count(c, 1, "rec group member", &n) < 0) return NULL;
        for (uint32_t i = 0; i < n; i++) {
            kiln_ctype sub = {0};
            if (rd_byte(c, &op) < 0 || rd_core_subtype(c, op, &sub) < 0) return NULL;
            if (n == 1) *t = sub;
        }
        if (n != 1) t->kind = KILN_CT_CORE_OTHER;
        return t;
    }
    return rd_core_subtype(c, op, t) < 0 ? NULL : t;
}

/* ---- component types ---- */

static int is_prim(uint8_t b)
{
    return (b >= 0x73 && b <= 0x7f) || b == 0x64;
}

static uint8_t prim_kind(uint8_t b)
{
    return b == 0x64 ? KILN_CT_ERROR_CONTEXT : 0x7f - b;
}

static int rd_valtype(cur *c, kiln_cvalref *v)
{
    uint8_t b;
    if (peek(c, &b) < 0) return -1;
    if (is_prim(b)) {
        c->pos++;
        v->prim = prim_kind(b);
        return 0;
    }
    size_t at = c->pos;
    int64_t idx;
    if (rd_s33(c, &idx) < 0) return -1;
    if (idx < 0) {
        c->pos = at;
        fail(c, "invalid value type 0x%02x", b);
        return -1;
    }
    v->prim = KILN_CVAL_INDEX;
    v->index = (uint32_t)idx;
    return 0;
}

/* <T>?: 0x00 or 0x01 T. */
static int rd_opt_valtype(cur *c, kiln_cvalref *v, int *has)
{
    uint8_t b;
    if (rd_byte(c, &b) < 0) return -1;
    if (b > 1) {
        c->pos--;
        fail(c, "invalid optional flag 0x%02x", b);
        return -1;
    }
    *has = b;
    return b ? rd_valtype(c, v) : 0;
}

static const char *rd_label(cur *c)
{
    size_t at = c->pos;
    const char *s = rd_name(c);
    if (s && !kiln_component_is_label(s)) {
        c->pos = at;
        fail(c, "'%s' is not a valid label (kebab-case words)", s);
        return NULL;
    }
    return s;
}

/* vec(label valtype) (record fields, params) or vec(label) (flags, enum) into t->items. */
static int rd_fields(cur *c, kiln_ctype *t, int with_type, const char *what)
{
    uint32_t n;
    if (rd_count(c, with_type ? 2 : 1, what, &n) < 0) return -1;
    t->items = kc_alloc_array(c->x, n, sizeof *t->items);
    if (!t->items && n) return -1;
    t->nitems = n;
    for (uint32_t i = 0; i < n; i++) {
        if (!(t->items[i].name = rd_label(c))) return -1;
        t->items[i].has_type = with_type;
        if (with_type && rd_valtype(c, &t->items[i].type) < 0) return -1;
    }
    return 0;
}

static int rd_resultlist(cur *c, kiln_cvalref *v, int *has)
{
    uint8_t b;
    if (rd_byte(c, &b) < 0) return -1;
    if (b == 0x00) {
        *has = 1;
        return rd_valtype(c, v);
    }
    if (b == 0x01) {
        if (rd_byte(c, &b) < 0) return -1;
        if (b == 0x00) {
            *has = 0;
            return 0;
        }
        c->pos--;
        fail(c, "named results are not supported (0x01 0x%02x)", b);
        return -1;
    }
    c->pos--;
    fail(c, "invalid result list 0x%02x", b);
    return -1;
}

static int rd_decls(cur *c, kiln_ctype *t, int component);

/* deftype: a defined value type, func, component, instance or resource type. */
static kiln_ctype *rd_type(cur *c)
{
    kiln_ctype *t = kc_alloc(c->x, sizeof *t);
    if (!t) return NULL;
    t->offset = c->pos;
    uint8_t op, b;
    uint32_t n;
    if (rd_byte(c, &op) < 0) return NULL;
    if (is_prim(op)) {
        t->kind = prim_kind(op);
        return t;
    }
    int r = 0;
    switch (op) {
    case 0x72:
        t->kind = KILN_CT_RECORD;
        r = rd_fields(c, t, 1, "record field");
        if (!r && t->nitems == 0) fail(c, "record type must have at least one field"), r = -1;
        break;
    case 0x71:
        t->kind = KILN_CT_VARIANT;
        if ((r = rd_count(c, 3, "variant case", &n)) < 0) break;
        if (n == 0) {
            fail(c, "variant type must have at least one case");
            r = -1;
            break;
        }
        if (!(t->items = kc_alloc_array(c->x, n, sizeof *t->items))) return NULL;
        t->nitems = n;
        for (uint32_t i = 0; i < n && r == 0; i++) {
            if (!(t->items[i].name = rd_label(c))) return NULL;
            if (rd_opt_valtype(c, &t->items[i].type, &t->items[i].has_type) < 0) return NULL;
            if (rd_byte(c, &b) < 0) return NULL;
            if (b != 0) {
                c->pos--;
                fail(c, "variant case refinements are not supported (0x%02x)", b);
                r = -1;
            }
        }
        break;
    case 0x70:
        t->kind = KILN_CT_LIST;
        t->has_elem = 1;
        r = rd_valtype(c, &t->elem);
        break;
    case 0x67:
        t->kind = KILN_CT_FIXED_LIST;
        t->has_elem = 1;
        if ((r = rd_valtype(c, &t->elem)) < 0 || (r = rd_u32(c, &t->len)) < 0) break;
        if (t->len == 0) fail(c, "fixed-length list must have a length > 0"), r = -1;
        break;
    case 0x6f:
        t->kind = KILN_CT_TUPLE;
        if ((r = rd_count(c, 1, "tuple member", &n)) < 0) break;
        if (n == 0) {
            fail(c, "tuple type must have at least one member");
            r = -1;
            break;
        }
        if (!(t->items = kc_alloc_array(c->x, n, sizeof *t->items))) return NULL;
        t->nitems = n;
        for (uint32_t i = 0; i < n && r == 0; i++) {
            t->items[i].has_type = 1;
            r = rd_valtype(c, &t->items[i].type);
        }
        break;
    case 0x6e:
        t->kind = KILN_CT_FLAGS;
        if ((r = rd_fields(c, t, 0, "flag")) < 0) break;
        if (t->nitems == 0 || t->nitems > 32)
            fail(c, "flags type must have 1 to 32 flags, not %u", t->nitems), r = -1;
        break;
    case 0x6d:
        t->kind = KILN_CT_ENUM;
        if ((r = rd_fields(c, t, 0, "enum case")) < 0) break;
        if (t->nitems == 0) fail(c, "enum type must have at least one case"), r = -1;
        break;
    case 0x6b:
        t->kind = KILN_CT_OPTION;
        t->has_elem = 1;
        r = rd_valtype(c, &t->elem);
        break;
    case 0x6a:
        t->kind = KILN_CT_RESULT;
        if ((r = rd_opt_valtype(c, &t->elem, &t->has_elem)) < 0) break;
        r = rd_opt_valtype(c, &t->elem2, &t->has_elem2);
        break;
    case 0x69:
    case 0x68:
        t->kind = op == 0x69 ? KILN_CT_OWN : KILN_CT_BORROW;
        t->has_elem = 1;
        t->elem.prim = KILN_CVAL_INDEX;
        r = rd_u32(c, &t->elem.index);
        break;
    case 0x66:
    case 0x65:
        t->kind = op == 0x66 ? KILN_CT_STREAM : KILN_CT_FUTURE;
        r = rd_opt_valtype(c, &t->elem, &t->has_elem);
        break;
    case 0x63:
        t->kind = KILN_CT_MAP;
        t->has_elem = t->has_elem2 = 1;
        if ((r = rd_valtype(c, &t->elem)) < 0) break;
        r = rd_valtype(c, &t->elem2);
        break;
    case 0x40:
    case 0x43:
        t->kind = KILN_CT_FUNC;
        t->async = op == 0x43;
        if ((r = rd_fields(c, t, 1, "parameter")) < 0) break;
        r = rd_resultlist(c, &t->elem, &t->has_elem);
        break;
    case 0x41:
    case 0x42:
        t->kind = op == 0x41 ? KILN_CT_COMPONENT : KILN_CT_INSTANCE;
        if (++c->tdepth > KILN_COMPONENT_MAX_TYPE_DEPTH) {
            fail(c, "types nested too deeply");
            return NULL;
        }
        r = rd_decls(c, t, op == 0x41);
        c->tdepth--;
        break;
    case 0x3f: {
        t->kind = KILN_CT_RESOURCE;
        if (rd_byte(c, &t->rep) < 0) return NULL;
        if (t->rep != 0x7f) {
            c->pos--;
            fail(c, "resource representation must be i32 (0x7f), not 0x%02x", t->rep);
            return NULL;
        }
        if (rd_byte(c, &b) < 0) return NULL;
        if (b > 1) {
            c->pos--;
            fail(c, "invalid optional flag 0x%02x", b);
            return NULL;
        }
        t->has_dtor = b;
        if (b) r = rd_u32(c, &t->dtor);
        break;
    }
    default:
        c->pos--;
        fail(c, "invalid type opcode 0x%02x", op);
        return NULL;
    }
    return r < 0 || c->x->failed ? NULL : t;
}

/* nameattributes: 0x00/0x01 name, or 0x02 name vec(attribute): 0x00 (implements "i"),
 * 0x02 (external-id "x"), each at most once. An `implements` value must be an interface
 * name and the name itself a plain one; *implements tells the caller, which checks that
 * the item is an instance (implements_ok). Attributes play no part in type checking. */
static const char *rd_extern_name(cur *c, int *implements)
{
    uint8_t b;
    *implements = 0;
    if (rd_byte(c, &b) < 0) return NULL;
    if (b > 0x02) {
        c->pos--;
        fail(c, "invalid extern name prefix 0x%02x", b);
        return NULL;
    }
    size_t at = c->pos;
    const char *name = rd_name(c);
    if (!name) return NULL;
    char why[160];
    if (kiln_component_parse_name(name, NULL, why, sizeof why) < 0) {
        c->pos = at;
        fail(c, "invalid name '%s': %s", name, why);
        return NULL;
    }
    if (b == 0x02) {
        uint32_t n;
        if (rd_count(c, 2, "attribute", &n) < 0) return NULL;
        unsigned seen = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint8_t k;
            if (rd_byte(c, &k) < 0) return NULL;
            if (k > 2 || (seen & (1u << k))) {
                c->pos--;
                fail(c, k > 2 ? "invalid name attribute 0x%02x" : "duplicate name attribute 0x%02x",
                     k);
                return NULL;
            }
            seen |= 1u << k;
            size_t vat = c->pos;
            const char *v = rd_name(c);
            if (!v) return NULL;
            if (k != 0) continue;
            kiln_cname cn;
            if (kiln_component_parse_name(v, &cn, why, sizeof why) < 0 || !cn.is_interface) {
                c->pos = vat;
                fail(c, "implements \"%s\": %s", v,
                     !*v || kiln_component_parse_name(v, NULL, why, sizeof why) < 0
                         ? "not a valid name"
                         : "must be an interface name");
                return NULL;
            }
            if (strchr(name, ':')) {
                c->pos = at;
                fail(c, "name '%s' is not valid with `implements` (a plain name is needed)", name);
                return NULL;
            }
            *implements = 1;
        }
    }
    return name;
}

/* Only instances can have an `implements` attribute. 0, or -1 (failed). */
static int implements_ok(cur *c, int implements, kiln_csort sort, const char *name)
{
    if (!implements || sort == KILN_CSORT_INSTANCE) return 0;
    fail(c, "'%s': only instances can have an `implements`, not a %s", name, kiln_csort_name(sort));
    return -1;
}

static int rd_externtype(cur *c, kiln_cextern *e)
{
    uint8_t b;
    if (rd_byte(c, &b) < 0) return -1;
    switch (b) {
    case 0x00:
        if (rd_byte(c, &b) < 0) return -1;
        if (b != 0x11) {
            c->pos--;
            fail(c, "invalid core extern type 0x%02x (only core module, 0x11)", b);
            return -1;
        }
        e->sort = KILN_CSORT_CORE_MODULE;
        return rd_u32(c, &e->index);
    case 0x01:
        e->sort = KILN_CSORT_FUNC;
        return rd_u32(c, &e->index);
    case 0x02:
        e->sort = KILN_CSORT_VALUE;
        if (rd_byte(c, &b) < 0) return -1;
        if (b == 0x00) {
            e->value_eq = 1;
            return rd_u32(c, &e->index);
        }
        if (b == 0x01) return rd_valtype(c, &e->value);
        c->pos--;
        fail(c, "invalid value bound 0x%02x", b);
        return -1;
    case 0x03:
        e->sort = KILN_CSORT_TYPE;
        if (rd_byte(c, &b) < 0) return -1;
        if (b == 0x00) return rd_u32(c, &e->index);
        if (b == 0x01) {
            e->bound_sub_resource = 1;
            return 0;
        }
        c->pos--;
        fail(c, "invalid type bound 0x%02x", b);
        return -1;
    case 0x04:
        e->sort = KILN_CSORT_COMPONENT;
        return rd_u32(c, &e->index);
    case 0x05:
        e->sort = KILN_CSORT_INSTANCE;
        return rd_u32(c, &e->index);
    default:
        c->pos--;
        fail(c, "invalid extern type 0x%02x", b);
        return -1;
    }
}

static int rd_alias(cur *c, kiln_calias *a)
{
    uint8_t b;
    if (rd_sort(c, &a->sort) < 0 || rd_byte(c, &b) < 0) return -1;
    switch (b) {
    case 0x00:
        a->kind = KILN_CALIAS_EXPORT;
        if (rd_u32(c, &a->instance) < 0) return -1;
        return (a->name = rd_name(c)) ? 0 : -1;
    case 0x01:
        a->kind = KILN_CALIAS_CORE_EXPORT;
        if (rd_u32(c, &a->instance) < 0) return -1;
        return (a->name = rd_name(c)) ? 0 : -1;
    case 0x02:
        a->kind = KILN_CALIAS_OUTER;
        if (rd_u32(c, &a->count) < 0 || rd_u32(c, &a->index) < 0) return -1;
        if (a->sort != KILN_CSORT_TYPE && a->sort != KILN_CSORT_CORE_TYPE &&
            a->sort != KILN_CSORT_CORE_MODULE && a->sort != KILN_CSORT_COMPONENT) {
            fail(c, "outer alias of a %s (only types, core modules and components)",
                 kiln_csort_name(a->sort));
            return -1;
        }
        return 0;
    default:
        c->pos--;
        fail(c, "invalid alias target 0x%02x", b);
        return -1;
    }
}

/* Declarators of a component type (component=1) or instance type. */
static int rd_decls(cur *c, kiln_ctype *t, int component)
{
    uint32_t n;
    if (rd_count(c, 2, "declarator", &n) < 0) return -1;
    t->decls = kc_alloc_array(c->x, n, sizeof *t->decls);
    if (!t->decls && n) return -1;
    t->ndecls = n;
    for (uint32_t i = 0; i < n; i++) {
        kiln_cdecl *d = &t->decls[i];
        uint8_t op;
        d->offset = c->pos;
        if (rd_byte(c, &op) < 0) return -1;
        switch (op) {
        case 0x00:
            d->kind = KILN_CDECL_CORE_TYPE;
            if (!(d->type = rd_core_type(c, 0))) return -1;
            break;
        case 0x01:
            d->kind = KILN_CDECL_TYPE;
            if (!(d->type = rd_type(c))) return -1;
            if (d->type->kind == KILN_CT_RESOURCE) {
                c->pos = d->offset;
                fail(c, "resource types cannot be defined in %s types",
                     component ? "component" : "instance");
                return -1;
            }
            break;
        case 0x02:
            d->kind = KILN_CDECL_ALIAS;
            if (rd_alias(c, &d->alias) < 0) return -1;
            break;
        case 0x03:
        case 0x04:
            if (op == 0x03 && !component) {
                c->pos--;
                fail(c, "instance types cannot have imports");
                return -1;
            }
            d->kind = op == 0x03 ? KILN_CDECL_IMPORT : KILN_CDECL_EXPORT;
            int impl;
            if (!(d->ext.name = rd_extern_name(c, &impl))) return -1;
            if (rd_externtype(c, &d->ext) < 0) return -1;
            if (implements_ok(c, impl, d->ext.sort, d->ext.name) < 0) return -1;
            break;
        default:
            c->pos--;
            fail(c, "invalid %s type declarator 0x%02x", component ? "component" : "instance", op);
            return -1;
        }
    }
    return 0;
}

/* ---- canon ---- */

/* opts: vec(canonopt); duplicates and conflicting string encodings are refused. */
static int rd_opts(cur *c, kiln_canon_opts *o)
{
    uint32_t n;
    if (rd_count(c, 1, "canon option", &n) < 0) return -1;
    unsigned seen = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t b;
        if (rd_byte(c, &b) < 0) return -1;
        unsigned bit = b <= 2 ? 0 : b;
        if (b > 7) {
            c->pos--;
            fail(c, "invalid canon option 0x%02x", b);
            return -1;
        }
        if (seen & (1u << bit)) {
            c->pos--;
            fail(c,
                 bit == 0 ? "conflicting or duplicate string-encoding options"
                          : "duplicate canon option 0x%02x",
                 b);
            return -1;
        }
        seen |= 1u << bit;
        switch (b) {
        case 0x00:
        case 0x01:
        case 0x02:
            o->has_string_encoding = 1;
            o->string_encoding = (kiln_string_encoding)b;
            break;
        case 0x03:
            o->has_memory = 1;
            if (rd_u32(c, &o->memory) < 0) return -1;
            break;
        case 0x04:
            o->has_realloc = 1;
            if (rd_u32(c, &o->realloc) < 0) return -1;
            break;
        case 0x05:
            o->has_post_return = 1;
            if (rd_u32(c, &o->post_return) < 0) return -1;
            break;
        case 0x06:
            o->async = 1;
            break;
        case 0x07:
            o->has_callback = 1;
            if (rd_u32(c, &o->callback) < 0) return -1;
            break;
        }
    }
    return 0;
}

static int rd_flag(cur *c, int *flag)
{
    uint8_t b;
    if (rd_byte(c, &b) < 0) return -1;
    if (b > 1) {
        c->pos--;
        fail(c, "invalid flag immediate 0x%02x", b);
        return -1;
    }
    *flag = b;
    return 0;
}

/* The cancel? immediate of Binary.md: only 0x00 remains (wasmparser, like the
 * specification after component-model#716, no longer accepts `cancellable`). */
static int rd_cancel(cur *c)
{
    uint8_t b;
    if (rd_byte(c, &b) < 0) return -1;
    if (b != 0) {
        c->pos--;
        fail(c,
             "the 'cancellable' immediate (0x%02x) is no longer supported "
             "(component-model#716)",
             b);
        return -1;
    }
    return 0;
}

static int rd_canon(cur *c, kiln_canon *k)
{
    uint8_t op, b;
    if (rd_byte(c, &op) < 0) return -1;
    k->op = op;
    switch (op) {
    case KILN_CANON_LIFT:
    case KILN_CANON_LOWER:
        if (rd_byte(c, &b) < 0) return -1;
        if (b != 0x00) {
            c->pos--;
            fail(c, "invalid canon %s sort 0x%02x (must be 0x00, func)", kiln_canon_op_name(op), b);
            return -1;
        }
        if (rd_u32(c, &k->func) < 0) return -1;
        k->has_opts = 1;
        if (rd_opts(c, &k->opts) < 0) return -1;
        return op == KILN_CANON_LIFT ? rd_u32(c, &k->type) : 0;
    case KILN_CANON_RESOURCE_NEW:
    case KILN_CANON_RESOURCE_DROP:
    case KILN_CANON_RESOURCE_REP:
    case KILN_CANON_STREAM_NEW:
    case KILN_CANON_STREAM_DROP_READABLE:
    case KILN_CANON_STREAM_DROP_WRITABLE:
    case KILN_CANON_FUTURE_NEW:
    case KILN_CANON_FUTURE_DROP_READABLE:
    case KILN_CANON_FUTURE_DROP_WRITABLE:
    case KILN_CANON_STREAM_FORWARD:
    case KILN_CANON_FUTURE_FORWARD:
        return rd_u32(c, &k->type);
    case KILN_CANON_STREAM_READ:
    case KILN_CANON_STREAM_WRITE:
    case KILN_CANON_FUTURE_READ:
    case KILN_CANON_FUTURE_WRITE:
        if (rd_u32(c, &k->type) < 0) return -1;
        k->has_opts = 1;
        return rd_opts(c, &k->opts);
    case KILN_CANON_STREAM_CANCEL_READ:
    case KILN_CANON_STREAM_CANCEL_WRITE:
    case KILN_CANON_FUTURE_CANCEL_READ:
    case KILN_CANON_FUTURE_CANCEL_WRITE:
        if (rd_u32(c, &k->type) < 0) return -1;
        return rd_flag(c, &k->flag);
    case KILN_CANON_TASK_RETURN:
        if (rd_resultlist(c, &k->result, &k->has_result) < 0) return -1;
        k->has_opts = 1;
        return rd_opts(c, &k->opts);
    case KILN_CANON_CONTEXT_GET:
    case KILN_CANON_CONTEXT_SET:
        if (rd_byte(c, &k->valtype) < 0) return -1;
        if (k->valtype != 0x7f) {
            c->pos--;
            fail(c, "context.get/set type must be i32 (0x7f), not 0x%02x", k->valtype);
            return -1;
        }
        return rd_u32(c, &k->type);
    case KILN_CANON_SUBTASK_CANCEL:
    case KILN_CANON_THREAD_AVAILABLE_PARALLELISM:
        return rd_flag(c, &k->flag);
    case KILN_CANON_THREAD_YIELD:
    case KILN_CANON_THREAD_SUSPEND:
    case KILN_CANON_THREAD_SUSPEND_THEN_RESUME:
    case KILN_CANON_THREAD_YIELD_THEN_RESUME:
    case KILN_CANON_THREAD_SUSPEND_THEN_PROMOTE:
    case KILN_CANON_THREAD_YIELD_THEN_PROMOTE:
        return rd_cancel(c);
    case KILN_CANON_ERROR_CONTEXT_NEW:
    case KILN_CANON_ERROR_CONTEXT_DEBUG_MESSAGE:
        k->has_opts = 1;
        return rd_opts(c, &k->opts);
    case KILN_CANON_WAITABLE_SET_WAIT:
    case KILN_CANON_WAITABLE_SET_POLL:
        if (rd_cancel(c) < 0) return -1;
        k->opts.has_memory = 1;
        return rd_u32(c, &k->opts.memory);
    case KILN_CANON_THREAD_NEW_INDIRECT:
        if (rd_u32(c, &k->type) < 0) return -1;
        return rd_u32(c, &k->table);
    case KILN_CANON_THREAD_SPAWN_REF:
        if (rd_flag(c, &k->flag) < 0) return -1;
        return rd_u32(c, &k->type);
    case KILN_CANON_THREAD_SPAWN_INDIRECT:
        if (rd_flag(c, &k->flag) < 0 || rd_u32(c, &k->type) < 0) return -1;
        return rd_u32(c, &k->table);
    case KILN_CANON_TASK_CANCEL:
    case KILN_CANON_SUBTASK_DROP:
    case KILN_CANON_ERROR_CONTEXT_DROP:
    case KILN_CANON_WAITABLE_SET_NEW:
    case KILN_CANON_WAITABLE_SET_DROP:
    case KILN_CANON_WAITABLE_JOIN:
    case KILN_CANON_BACKPRESSURE_INC:
    case KILN_CANON_BACKPRESSURE_DEC:
    case KILN_CANON_THREAD_INDEX:
    case KILN_CANON_THREAD_RESUME_LATER:
        return 0;
    default:
        c->pos--;
        fail(c, "invalid canon opcode 0x%02x", op);
        return -1;
    }
}

/* ---- sections ---- */

static kiln_component *rd_component(cur *c);

/* Room for n more definitions in c->defs (amortized doubling in the arena). */
static kiln_cdef *add_defs(cur *c, kiln_component *comp, uint32_t *cap, uint32_t n)
{
    if ((uint64_t)comp->ndefs + n > *cap) {
        uint64_t ncap = (uint64_t)*cap * 2;
        if (ncap < (uint64_t)comp->ndefs + n) ncap = (uint64_t)comp->ndefs + n;
        if (ncap > UINT32_MAX) {
            fail(c, "too many definitions");
            return NULL;
        }
        kiln_cdef *nd = kc_alloc_array(c->x, (size_t)ncap, sizeof *nd);
        if (!nd) return NULL;
        if (comp->ndefs) memcpy(nd, comp->defs, comp->ndefs * sizeof *nd);
        comp->defs = nd;
        *cap = (uint32_t)ncap;
    }
    kiln_cdef *d = &comp->defs[comp->ndefs];
    comp->ndefs += n;
    return d;
}

static int rd_carg_list(cur *c, kiln_cinstance *in, int core, int inline_exports)
{
    uint32_t n;
    if (rd_count(c, 3, inline_exports ? "export" : "argument", &n) < 0) return -1;
    in->args = kc_alloc_array(c->x, n, sizeof *in->args);
    if (!in->args && n) return -1;
    in->nargs = n;
    for (uint32_t i = 0; i < n; i++) {
        kiln_carg *a = &in->args[i];
        int impl = 0;
        if (core || !inline_exports)
            a->name = rd_name(c);
        else
            a->name = rd_extern_name(c, &impl);
        if (!a->name) return -1;
        if (core && !inline_exports) {
            uint8_t b;
            if (rd_byte(c, &b) < 0) return -1;
            if (b != 0x12) {
                c->pos--;
                fail(c, "core instantiation argument must be an instance (0x12), not 0x%02x", b);
                return -1;
            }
            a->sort = KILN_CSORT_CORE_INSTANCE;
        } else if (core) {
            if (rd_core_sort(c, &a->sort) < 0) return -1;
        } else if (rd_sort(c, &a->sort) < 0 || implements_ok(c, impl, a->sort, a->name) < 0) {
            return -1;
        }
        if (rd_u32(c, &a->index) < 0) return -1;
    }
    return 0;
}

static int rd_instance(cur *c, kiln_cinstance *in, int core)
{
    uint8_t b;
    if (rd_byte(c, &b) < 0) return -1;
    if (b == 0x00) {
        if (rd_u32(c, &in->of) < 0) return -1;
        return rd_carg_list(c, in, core, 0);
    }
    if (b == 0x01) {
        in->from_exports = 1;
        return rd_carg_list(c, in, core, 1);
    }
    c->pos--;
    fail(c, "invalid %sinstance expression 0x%02x", core ? "core " : "", b);
    return -1;
}

/* One section's contents [c->pos, c->end) into definitions of comp. */
static int rd_section(cur *c, kiln_component *comp, uint32_t *cap)
{
    uint8_t id = c->sec;
    uint32_t n;
    kiln_cdef *d;
    switch (id) {
    case 0: /* custom: a name, then anything */
        comp->ncustom++;
        if (!rd_name_ex(c, 1)) return -1; /* custom section names may hold NUL */
        c->pos = c->end;
        return 0;
    case 1: {
        if (!(d = add_defs(c, comp, cap, 1))) return -1;
        d->kind = KILN_CDEF_CORE_MODULE;
        d->section_id = id;
        d->offset = c->pos;
        static const uint8_t pre[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
        if (c->end - c->pos < 8 || memcmp(c->x->bytes + c->pos, pre, 8) != 0) {
            fail(c, "embedded core module does not start with a core module preamble");
            return -1;
        }
        d->module.offset = c->pos;
        d->module.len = c->end - c->pos;
        d->module.bytes = c->x->bytes + c->pos;
        c->pos = c->end;
        return 0;
    }
    case 4: {
        if (!(d = add_defs(c, comp, cap, 1))) return -1;
        d->kind = KILN_CDEF_COMPONENT;
        d->section_id = id;
        d->offset = c->pos;
        if (c->depth + 1 > KILN_COMPONENT_MAX_DEPTH) {
            fail(c, "components nested more than %d deep", KILN_COMPONENT_MAX_DEPTH);
            return -1;
        }
        cur sub = *c;
        sub.depth++;
        sub.sec = 0xff;
        if (!(d->component = rd_component(&sub))) return -1;
        c->pos = sub.pos;
        return 0;
    }
    case 9:
        if (!(d = add_defs(c, comp, cap, 1))) return -1;
        d->kind = KILN_CDEF_START;
        d->section_id = id;
        d->offset = c->pos;
        if (rd_u32(c, &d->start.func) < 0) return -1;
        if (rd_count(c, 1, "start argument", &d->start.nargs) < 0) return -1;
        d->start.args = kc_alloc_array(c->x, d->start.nargs, sizeof *d->start.args);
        if (!d->start.args && d->start.nargs) return -1;
        for (uint32_t i = 0; i < d->start.nargs; i++)
            if (rd_u32(c, &d->start.args[i]) < 0) return -1;
        return rd_u32(c, &d->start.nresults);
    case 12:
        fail(c, "value definitions (section 12) are not supported");
        return -1;
    case 2:
    case 3:
    case 5:
    case 6:
    case 7:
    case 8:
    case 10:
    case 11:
        break;
    default:
        fail(c, "unknown section id %u", id);
        return -1;
    }
    if (rd_count(c, 1, "definition", &n) < 0) return -1;
    uint32_t first = comp->ndefs;
    if (n && !add_defs(c, comp, cap, n)) return -1;
    for (uint32_t i = 0; i < n; i++) {
        d = &comp->defs[first + i];
        d->section_id = id;
        d->offset = c->pos;
        int r = 0, impl = 0;
        switch (id) {
        case 2:
            d->kind = KILN_CDEF_CORE_INSTANCE;
            r = rd_instance(c, &d->instance, 1);
            break;
        case 3:
            d->kind = KILN_CDEF_CORE_TYPE;
            r = (d->type = rd_core_type(c, 0)) ? 0 : -1;
            break;
        case 5:
            d->kind = KILN_CDEF_INSTANCE;
            r = rd_instance(c, &d->instance, 0);
            break;
        case 6:
            d->kind = KILN_CDEF_ALIAS;
            r = rd_alias(c, &d->alias);
            break;
        case 7:
            d->kind = KILN_CDEF_TYPE;
            r = (d->type = rd_type(c)) ? 0 : -1;
            break;
        case 8:
            d->kind = KILN_CDEF_CANON;
            r = rd_canon(c, &d->canon);
            break;
        case 10:
            d->kind = KILN_CDEF_IMPORT;
            if (!(d->ext.name = rd_extern_name(c, &impl))) return -1;
            r = rd_externtype(c, &d->ext);
            if (r == 0) r = implements_ok(c, impl, d->ext.sort, d->ext.name);
            break;
        case 11: {
            d->kind = KILN_CDEF_EXPORT;
            if (!(d->ext.name = rd_extern_name(c, &impl))) return -1;
            if (rd_sort(c, &d->export_sort) < 0 || rd_u32(c, &d->export_index) < 0 ||
                implements_ok(c, impl, d->export_sort, d->ext.name) < 0)
                return -1;
            uint8_t b;
            if (rd_byte(c, &b) < 0) return -1;
            if (b > 1) {
                c->pos--;
                fail(c, "invalid optional flag 0x%02x", b);
                return -1;
            }
            d->has_export_type = b;
            if (b) r = rd_externtype(c, &d->ext);
            break;
        }
        }
        if (r < 0 || c->x->failed) return -1;
    }
    return 0;
}

/* A component: preamble and sections, from c->pos to c->end. */
static kiln_component *rd_component(cur *c)
{
    static const uint8_t pre[8] = {0, 'a', 's', 'm', 0x0d, 0, 0x01, 0};
    kiln_component *comp = kc_alloc(c->x, sizeof *comp);
    if (!comp) return NULL;
    comp->offset = c->pos;
    comp->depth = c->depth;
    if (c->end - c->pos < 8 || memcmp(c->x->bytes + c->pos, pre, 4) != 0) {
        fail(c, "not a WebAssembly binary (bad magic)");
        return NULL;
    }
    const uint8_t *v = c->x->bytes + c->pos + 4;
    if (v[2] == 0 && v[3] == 0) {
        fail(c, "a core module, not a component");
        return NULL;
    }
    if (memcmp(v, pre + 4, 4) != 0) {
        fail(c, "unsupported component version 0x%02x%02x layer 0x%02x%02x (want 0x0d layer 1)",
             v[1], v[0], v[3], v[2]);
        return NULL;
    }
    c->pos += 8;
    uint32_t cap = 0;
    size_t outer_end = c->end;
    while (c->pos < outer_end) {
        uint8_t id;
        uint32_t size;
        c->sec = 0xff;
        c->end = outer_end;
        size_t at = c->pos;
        if (rd_byte(c, &id) < 0) return NULL;
        c->sec = id <= 12 ? id : 0xff;
        if (rd_u32(c, &size) < 0) return NULL;
        if (size > outer_end - c->pos) {
            c->pos = at;
            fail(c, "section size %u larger than the bytes left (%zu)", size, outer_end - at - 1);
            return NULL;
        }
        if (id > 12) {
            c->pos = at;
            fail(c, "unknown section id %u", id);
            return NULL;
        }
        c->end = c->pos + size;
        if (rd_section(c, comp, &cap) < 0) return NULL;
        if (c->pos != c->end) {
            fail(c, "section has %zu bytes left over", c->end - c->pos);
            return NULL;
        }
    }
    c->end = outer_end;
    comp->len = c->pos - comp->offset;
    return comp;
}

int kiln_component_is_component(const uint8_t *bytes, size_t len)
{
    static const uint8_t pre[8] = {0, 'a', 's', 'm', 0x0d, 0, 0x01, 0};
    return len >= 8 && memcmp(bytes, pre, 8) == 0;
}

kiln_component *kiln_component_read(const uint8_t *bytes, size_t len, const char *file, char *err,
                                    size_t errlen)
{
    kc_ctx x = {.file = file ? file : "component",
                .bytes = bytes,
                .len = len,
                .err = err,
                .errlen = errlen};
    if (errlen) err[0] = 0;
    cur c = {.x = &x, .pos = 0, .end = len, .sec = 0xff};
    kiln_component *comp = rd_component(&c);
    if (comp && kc_validate_component(&x, comp, NULL) == 0) {
        comp->arena = x.arena;
        return comp;
    }
    if (!x.failed) kc_fail(&x, 0xff, 0, "invalid component");
    kc_arena_free(x.arena);
    return NULL;
}

void kiln_component_free(kiln_component *c)
{
    if (c) kc_arena_free(c->arena);
}
