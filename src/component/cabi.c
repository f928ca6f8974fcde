/* cabi.c — the Canonical ABI: loading, storing, flattening, lifting and lowering of
 * component values (see cabi.h; the spec's names are kept for the functions that
 * implement its definitions: load_string_from_range, store_string_to_latin1_or_utf16, …).
 *
 * Guest memory is re-read (cx->memory->data and ->size) after every realloc call, which
 * may grow it; every guest range is checked in 64-bit arithmetic before it is touched.
 * Recursion follows the type, whose depth validation bounds. */
#include "component/cabi.h"
#include "component/resources.h"
#include "util/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_STRING_BYTE_LENGTH ((1u << 28) - 1)
#define MAX_LIST_BYTE_LENGTH ((1u << 28) - 1)
#define MAX_LIST_LENGTH (1u << 28) /* lists of zero-size elements (not in the spec) */
#define UTF16_TAG (1u << 31)
#define FLAT_LIMIT (1u << 28) /* validate.c saturates flat counts here */
#define CANONICAL_F32_NAN 0x7fc00000u
#define CANONICAL_F64_NAN 0x7ff8000000000000ull

/* ---- arena ---- */

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} arena_block;

struct kiln_cabi_arena {
    arena_block *head;
    size_t total; /* bytes handed out since the last reset */
};

#define ARENA_BLOCK 16384

int kiln_cabi_cx_init(kiln_cabi_cx *cx)
{
    cx->arena = kiln_calloc(1, sizeof *cx->arena);
    cx->err[0] = 0;
    return cx->arena ? 0 : -1;
}

void kiln_cabi_cx_reset(kiln_cabi_cx *cx)
{
    if (!cx->arena) return;
    /* keep one standard block, so that a call's values usually cost no malloc */
    arena_block *keep = NULL, *b = cx->arena->head;
    while (b) {
        arena_block *next = b->next;
        if (!keep && b->cap == ARENA_BLOCK)
            keep = b;
        else
            kiln_free(b);
        b = next;
    }
    if (keep) keep->used = 0, keep->next = NULL;
    cx->arena->head = keep;
    cx->arena->total = 0;
}

void kiln_cabi_cx_free(kiln_cabi_cx *cx)
{
    kiln_cabi_cx_reset(cx);
    if (cx->arena) kiln_free(cx->arena->head);
    kiln_free(cx->arena);
    cx->arena = NULL;
}

void *kiln_cabi_alloc(kiln_cabi_cx *cx, size_t n)
{
    if (!cx->arena) return NULL;
    if (n > SIZE_MAX - 32) return NULL;
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    size_t limit = cx->max_arena ? cx->max_arena : KILN_CABI_DEFAULT_MAX_ARENA;
    if (n > limit - (cx->arena->total < limit ? cx->arena->total : limit)) return NULL;
    arena_block *b = cx->arena->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        if (cap > SIZE_MAX - sizeof *b) return NULL;
        b = kiln_malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->cap = cap;
        b->used = 0;
        if (cap > ARENA_BLOCK && cx->arena->head) {
            /* a large block goes behind the current one, which stays in use */
            b->next = cx->arena->head->next;
            cx->arena->head->next = b;
        } else {
            b->next = cx->arena->head;
            cx->arena->head = b;
        }
    }
    void *p = b->data + b->used;
    b->used += n;
    cx->arena->total += n;
    memset(p, 0, n);
    return p;
}

/* ---- errors, memory, realloc ---- */

static int fail(kiln_cabi_cx *cx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(kiln_cabi_cx *cx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cx->err, sizeof cx->err, fmt, ap);
    va_end(ap);
    return -1;
}

/* Arena memory for count items of size bytes, or NULL after an error. */
static void *alloc_array(kiln_cabi_cx *cx, uint64_t count, size_t size)
{
    if (count > SIZE_MAX / (size ? size : 1) || count * size > ((size_t)1 << 40)) {
        fail(cx, "out of memory (%llu values)", (unsigned long long)count);
        return NULL;
    }
    void *p = kiln_cabi_alloc(cx, (size_t)(count * size));
    if (!p)
        fail(cx, "out of memory for lifted values (%llu more of %zu bytes; limit %zu bytes)",
             (unsigned long long)count, size,
             cx->max_arena ? cx->max_arena : (size_t)KILN_CABI_DEFAULT_MAX_ARENA);
    return p;
}

static uint64_t align_up(uint64_t n, uint32_t a)
{
    return (n + a - 1) / a * a;
}

/* Checks that [ptr, ptr+len) is inside the memory and ptr is a multiple of align. */
static int check_range(kiln_cabi_cx *cx, uint64_t ptr, uint64_t len, uint32_t align,
                       const char *what)
{
    if (!cx->memory) return fail(cx, "%s: no memory option", what);
    if (align > 1 && ptr % align)
        return fail(cx, "%s: pointer 0x%llx is not %u-byte aligned", what, (unsigned long long)ptr,
                    align);
    if (ptr + len > cx->memory->size)
        return fail(cx, "%s: range 0x%llx+%llu is out of bounds (memory size %u)", what,
                    (unsigned long long)ptr, (unsigned long long)len, cx->memory->size);
    return 0;
}

static uint8_t *mem(kiln_cabi_cx *cx, uint32_t ptr)
{
    return cx->memory->data + ptr;
}

static uint64_t load_int(kiln_cabi_cx *cx, uint32_t ptr, unsigned n)
{
    const uint8_t *p = mem(cx, ptr);
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void store_int(kiln_cabi_cx *cx, uint64_t v, uint32_t ptr, unsigned n)
{
    uint8_t *p = mem(cx, ptr);
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* The guest's realloc (cx.reallocate), its result checked: aligned, and new_size bytes
 * in bounds. */
static int call_realloc(kiln_cabi_cx *cx, uint32_t old, uint32_t old_size, uint32_t align,
                        uint64_t new_size, uint32_t *out)
{
    if (!cx->realloc)
        return fail(cx, "no realloc option to allocate %llu bytes", (unsigned long long)new_size);
    if (!cx->memory) return fail(cx, "no memory option");
    if (new_size > UINT32_MAX)
        return fail(cx, "allocation of %llu bytes exceeds 2^32-1", (unsigned long long)new_size);
    uint32_t p = cx->realloc(cx->realloc_ctx, old, old_size, align, (uint32_t)new_size);
    if (check_range(cx, p, new_size, align, "realloc result") < 0) return -1;
    *out = p;
    return 0;
}

/* ---- types ---- */

static const kiln_ctype *field_type(const kiln_ctype *t, uint32_t i)
{
    return t->items[i].type.type;
}

static uint32_t case_count(const kiln_ctype *t)
{
    return t->kind == KILN_CT_VARIANT || t->kind == KILN_CT_ENUM ? t->nitems : 2;
}

/* The payload type of case i of a variant, enum, option or result (NULL: none). */
static const kiln_ctype *case_type(const kiln_ctype *t, uint32_t i)
{
    switch (t->kind) {
    case KILN_CT_VARIANT:
        return t->items[i].has_type ? t->items[i].type.type : NULL;
    case KILN_CT_OPTION:
        return i == 1 ? t->elem.type : NULL;
    case KILN_CT_RESULT:
        if (i == 0) return t->has_elem ? t->elem.type : NULL;
        return t->has_elem2 ? t->elem2.type : NULL;
    default:
        return NULL;
    }
}

static unsigned disc_size(uint32_t ncases)
{
    return ncases <= 256 ? 1 : ncases <= 65536 ? 2 : 4;
}

static uint32_t max_case_align(const kiln_ctype *t)
{
    uint32_t a = 1, n = case_count(t);
    for (uint32_t i = 0; i < n; i++) {
        const kiln_ctype *c = case_type(t, i);
        if (c && c->align > a) a = c->align;
    }
    return a;
}

static uint32_t flags_words(const kiln_ctype *t)
{
    return t->nitems <= 32 ? 1 : (t->nitems + 31) / 32;
}

/* Mask of the label bits of word w of flags t. */
static uint32_t flags_mask(const kiln_ctype *t, uint32_t w)
{
    uint32_t bits = t->nitems - 32 * w;
    return bits >= 32 ? 0xffffffffu : (1u << bits) - 1;
}

/* Map entries are tuple<K, V>: the value's offset, and the entry's size and alignment. */
static void map_entry(const kiln_ctype *t, uint32_t *voff, uint32_t *size, uint32_t *align)
{
    const kiln_ctype *k = t->elem.type, *v = t->elem2.type;
    uint32_t a = k->align > v->align ? k->align : v->align;
    *voff = (uint32_t)align_up(k->size, v->align);
    *size = (uint32_t)align_up((uint64_t)*voff + v->size, a);
    *align = a;
}

/* The element size/alignment of a list or map. */
static void list_elem(const kiln_ctype *t, uint32_t *size, uint32_t *align)
{
    if (t->kind == KILN_CT_MAP) {
        uint32_t voff;
        map_entry(t, &voff, size, align);
    } else {
        *size = t->elem.type->size;
        *align = t->elem.type->align;
    }
}

static const kiln_resource_type *resource_type(kiln_cabi_cx *cx, const kiln_ctype *t)
{
    if (!cx->resource_type) {
        fail(cx, "%s: no resource types in this context",
             t->kind == KILN_CT_OWN ? "own" : "borrow");
        return NULL;
    }
    const kiln_resource_type *rt = cx->resource_type(cx->resource_ctx, t->elem.type);
    if (!rt)
        fail(cx, "resource type %s is not known here",
             t->elem.type->name ? t->elem.type->name : "?");
    return rt;
}

static int unsupported(kiln_cabi_cx *cx, const kiln_ctype *t)
{
    static const char *const names[] = {
        [KILN_CT_ERROR_CONTEXT] = "error-context",
        [KILN_CT_STREAM] = "stream",
        [KILN_CT_FUTURE] = "future",
    };
    const char *n = (unsigned)t->kind < sizeof names / sizeof names[0] ? names[t->kind] : NULL;
    return fail(cx, "%s values are not supported", n ? n : "non-value type");
}

/* ---- flattening ---- */

static char join(char a, char b)
{
    if (a == b) return a;
    if ((a == 'i' && b == 'f') || (a == 'f' && b == 'i')) return 'i';
    return 'j';
}

/* Appends t's flat core types ('i' i32, 'j' i64, 'f' f32, 'd' f64) to out[*n..cap):
 * CanonicalABI.md flatten_type. Counts past cap without writing. -1: out of memory. */
static int flatten(const kiln_ctype *t, char *out, size_t *n, size_t cap)
{
#define PUT(ch)                                                                                    \
    do {                                                                                           \
        if (*n < cap) out[*n] = (ch);                                                              \
        (*n)++;                                                                                    \
    } while (0)
    switch (t->kind) {
    case KILN_CT_S64:
    case KILN_CT_U64:
        PUT('j');
        break;
    case KILN_CT_F32:
        PUT('f');
        break;
    case KILN_CT_F64:
        PUT('d');
        break;
    case KILN_CT_STRING:
    case KILN_CT_LIST:
    case KILN_CT_MAP:
        PUT('i');
        PUT('i');
        break;
    case KILN_CT_RECORD:
    case KILN_CT_TUPLE:
        for (uint32_t i = 0; i < t->nitems; i++)
            if (flatten(field_type(t, i), out, n, cap) < 0) return -1;
        break;
    case KILN_CT_FIXED_LIST:
        for (uint32_t i = 0; i < t->len; i++)
            if (flatten(t->elem.type, out, n, cap) < 0) return -1;
        break;
    case KILN_CT_FLAGS:
        for (uint32_t i = 0; i < flags_words(t); i++)
            PUT('i');
        break;
    case KILN_CT_VARIANT:
    case KILN_CT_OPTION:
    case KILN_CT_RESULT: {
        /* flatten_variant: the discriminant, then the cases' flat types joined */
        PUT('i');
        size_t start = *n, width = 0;
        for (uint32_t c = 0, nc = case_count(t); c < nc; c++) {
            const kiln_ctype *ct = case_type(t, c);
            if (!ct) continue;
            char small[32], *tmp = ct->flat <= sizeof small ? small : kiln_malloc(ct->flat);
            if (!tmp) return -1;
            size_t k = 0;
            int r = flatten(ct, tmp, &k, ct->flat);
            for (size_t j = 0; r == 0 && j < k && j < ct->flat; j++) {
                if (start + j >= cap) break;
                out[start + j] = j < width ? join(out[start + j], tmp[j]) : tmp[j];
            }
            if (tmp != small) kiln_free(tmp);
            if (r < 0) return -1;
            if (k > width) width = k;
        }
        *n = start + width;
        break;
    }
    default:
        PUT('i');
        break;
    }
#undef PUT
    return 0;
}

/* t's flat types in arena memory (t->flat of them), or NULL after an error. */
static char *flat_types(kiln_cabi_cx *cx, const kiln_ctype *t, size_t *n)
{
    char *buf = alloc_array(cx, (uint64_t)t->flat + 1, 1);
    if (!buf) return NULL;
    *n = 0;
    if (flatten(t, buf, n, t->flat) < 0 || *n != t->flat) {
        fail(cx, "cannot flatten a type of %u flat values", t->flat);
        return NULL;
    }
    return buf;
}

/* ---- UTF-8 ---- */

/* Decodes one scalar value of s[*i..len), advancing *i; -1 on invalid UTF-8 (overlong,
 * surrogate, > U+10FFFF, truncated). */
static int utf8_next(const uint8_t *s, size_t len, size_t *i, uint32_t *cp)
{
    uint8_t b = s[*i];
    uint32_t c, min;
    unsigned n;
    if (b < 0x80) {
        *cp = b;
        (*i)++;
        return 0;
    } else if ((b & 0xe0) == 0xc0) {
        c = b & 0x1f, n = 1, min = 0x80;
    } else if ((b & 0xf0) == 0xe0) {
        c = b & 0x0f, n = 2, min = 0x800;
    } else if ((b & 0xf8) == 0xf0) {
        c = b & 0x07, n = 3, min = 0x10000;
    } else {
        return -1;
    }
    if (len - *i <= n) return -1;
    for (unsigned k = 1; k <= n; k++) {
        uint8_t x = s[*i + k];
        if ((x & 0xc0) != 0x80) return -1;
        c = c << 6 | (x & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return -1;
    *cp = c;
    *i += n + 1;
    return 0;
}

static size_t utf8_put(char *out, uint32_t c)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    } else if (c < 0x800) {
        out[0] = (char)(0xc0 | c >> 6);
        out[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    } else if (c < 0x10000) {
        out[0] = (char)(0xe0 | c >> 12);
        out[1] = (char)(0x80 | (c >> 6 & 0x3f));
        out[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | c >> 18);
    out[1] = (char)(0x80 | (c >> 12 & 0x3f));
    out[2] = (char)(0x80 | (c >> 6 & 0x3f));
    out[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

/* ---- strings: lift ---- */

/* CanonicalABI.md load_string_from_range: the guest's string at ptr with (tagged) code
 * units, transcoded to UTF-8 in the arena. */
static int load_string_from_range(kiln_cabi_cx *cx, uint32_t ptr, uint32_t units, kiln_cval *out)
{
    uint64_t byte_length;
    uint32_t align;
    int enc; /* 0 utf8, 1 utf16, 2 latin1 */
    switch (cx->enc) {
    case KILN_STRENC_UTF8:
        align = 1, byte_length = units, enc = 0;
        break;
    case KILN_STRENC_UTF16:
        align = 2, byte_length = 2 * (uint64_t)units, enc = 1;
        break;
    default:
        align = 2;
        if (units & UTF16_TAG)
            byte_length = 2 * (uint64_t)(units ^ UTF16_TAG), enc = 1;
        else
            byte_length = units, enc = 2;
        break;
    }
    if (byte_length > MAX_STRING_BYTE_LENGTH)
        return fail(cx, "string of %llu bytes exceeds the maximum of 2^28-1",
                    (unsigned long long)byte_length);
    if (check_range(cx, ptr, byte_length, align, "string") < 0) return -1;
    const uint8_t *src = mem(cx, ptr);
    size_t n = (size_t)byte_length;
    char *dst;
    size_t k = 0;
    if (enc == 0) {
        for (size_t i = 0; i < n;) {
            uint32_t c;
            if (utf8_next(src, n, &i, &c) < 0)
                return fail(cx, "invalid UTF-8 in string at byte %zu", i);
        }
        if (!(dst = alloc_array(cx, n + 1, 1))) return -1;
        memcpy(dst, src, n);
        k = n;
    } else if (enc == 1) {
        if (!(dst = alloc_array(cx, n / 2 * 3 + 1, 1))) return -1;
        for (size_t i = 0; i < n; i += 2) {
            uint32_t c = src[i] | (uint32_t)src[i + 1] << 8;
            if (c >= 0xdc00 && c <= 0xdfff)
                return fail(cx, "invalid UTF-16 in string: unpaired low surrogate at unit %zu",
                            i / 2);
            if (c >= 0xd800 && c <= 0xdbff) {
                uint32_t lo = i + 3 < n ? (src[i + 2] | (uint32_t)src[i + 3] << 8) : 0;
                if (lo < 0xdc00 || lo > 0xdfff)
                    return fail(cx, "invalid UTF-16 in string: unpaired high surrogate at unit %zu",
                                i / 2);
                c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
                i += 2;
            }
            k += utf8_put(dst + k, c);
        }
    } else {
        if (!(dst = alloc_array(cx, 2 * (uint64_t)n + 1, 1))) return -1;
        for (size_t i = 0; i < n; i++)
            k += utf8_put(dst + k, src[i]);
    }
    out->str.ptr = dst;
    out->str.len = k;
    return 0;
}

/* ---- strings: lower (the source is the host's UTF-8) ---- */

/* Checks that v is valid UTF-8 no longer than the maximum; *nonascii / *wide are set
 * when it has a code point >= 0x80 / >= 0x100. */
static int check_host_string(kiln_cabi_cx *cx, const kiln_cval *v, int *nonascii, int *wide)
{
    const uint8_t *s = (const uint8_t *)v->str.ptr;
    *nonascii = *wide = 0;
    if (v->str.len > MAX_STRING_BYTE_LENGTH)
        return fail(cx, "string of %zu bytes exceeds the maximum of 2^28-1", v->str.len);
    if (v->str.len && !s) return fail(cx, "string value without bytes");
    for (size_t i = 0; i < v->str.len;) {
        uint32_t c;
        if (utf8_next(s, v->str.len, &i, &c) < 0)
            return fail(cx, "host string is not valid UTF-8 (byte %zu)", i);
        if (c >= 0x80) *nonascii = 1;
        if (c >= 0x100) *wide = 1;
    }
    return 0;
}

/* UTF-8 src[0..len) as UTF-16LE at dst; returns the bytes written. */
static size_t utf8_to_utf16(const uint8_t *src, size_t len, uint8_t *dst)
{
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        uint32_t c = 0;
        utf8_next(src, len, &i, &c); /* validated by check_host_string */
        if (c >= 0x10000) {
            uint32_t hi = 0xd800 + ((c - 0x10000) >> 10), lo = 0xdc00 + ((c - 0x10000) & 0x3ff);
            dst[k++] = (uint8_t)hi, dst[k++] = (uint8_t)(hi >> 8);
            dst[k++] = (uint8_t)lo, dst[k++] = (uint8_t)(lo >> 8);
        } else {
            dst[k++] = (uint8_t)c, dst[k++] = (uint8_t)(c >> 8);
        }
    }
    return k;
}

/* CanonicalABI.md store_string_into_range for a UTF-8 source: allocates with the guest's
 * realloc (the spec's initial and worst-case sizes, shrinking afterwards) and writes the
 * string in the guest's encoding. Out: pointer and (tagged) code units. */
static int store_string_into_range(kiln_cabi_cx *cx, const kiln_cval *v, uint32_t *out_ptr,
                                   uint32_t *out_units)
{
    int nonascii, wide;
    if (check_host_string(cx, v, &nonascii, &wide) < 0) return -1;
    const uint8_t *src = (const uint8_t *)v->str.ptr;
    uint32_t n = (uint32_t)v->str.len, ptr;
    switch (cx->enc) {
    case KILN_STRENC_UTF8: /* store_string_copy */
        if (call_realloc(cx, 0, 0, 1, n, &ptr) < 0) return -1;
        if (n) memcpy(mem(cx, ptr), src, n);
        *out_ptr = ptr, *out_units = n;
        return 0;
    case KILN_STRENC_UTF16: { /* store_utf8_to_utf16 */
        uint64_t worst = 2 * (uint64_t)n;
        if (call_realloc(cx, 0, 0, 2, worst, &ptr) < 0) return -1;
        uint32_t len = (uint32_t)utf8_to_utf16(src, n, mem(cx, ptr));
        if (len < worst && call_realloc(cx, ptr, (uint32_t)worst, 2, len, &ptr) < 0) return -1;
        *out_ptr = ptr, *out_units = len / 2;
        return 0;
    }
    default: { /* store_string_to_latin1_or_utf16 */
        if (call_realloc(cx, 0, 0, 2, n, &ptr) < 0) return -1;
        uint32_t dst_len = 0;
        size_t i = 0;
        while (i < n) {
            size_t at = i;
            uint32_t c = 0;
            utf8_next(src, n, &i, &c);
            if (c < 0x100) {
                mem(cx, ptr)[dst_len++] = (uint8_t)c;
                continue;
            }
            /* the first code point past latin1: inflate to UTF-16 */
            uint64_t worst = 2 * (uint64_t)n;
            if (call_realloc(cx, ptr, n, 2, worst, &ptr) < 0) return -1;
            uint8_t *p = mem(cx, ptr);
            for (uint32_t j = dst_len; j-- > 0;) {
                p[2 * j] = p[j];
                p[2 * j + 1] = 0;
            }
            uint32_t len = 2 * dst_len + (uint32_t)utf8_to_utf16(src + at, n - at, p + 2 * dst_len);
            if (worst > len && call_realloc(cx, ptr, (uint32_t)worst, 2, len, &ptr) < 0) return -1;
            *out_ptr = ptr, *out_units = (len / 2) | UTF16_TAG;
            return 0;
        }
        if (dst_len < n && call_realloc(cx, ptr, n, 2, dst_len, &ptr) < 0) return -1;
        *out_ptr = ptr, *out_units = dst_len;
        return 0;
    }
    }
}

/* ---- load / store ---- */

static int load(kiln_cabi_cx *cx, const kiln_ctype *t, uint32_t ptr, kiln_cval *out);
static int store(kiln_cabi_cx *cx, const kiln_ctype *t, const kiln_cval *v, uint32_t ptr);

static int convert_char(kiln_cabi_cx *cx, uint32_t c, kiln_cval *out)
{
    if (c >= 0x110000) return fail(cx, "char 0x%x is out of range", c);
    if (c >= 0xd800 && c <= 0xdfff) return fail(cx, "char 0x%x is a surrogate", c);
    out->u = c;
    return 0;
}

static float canon_f32(uint32_t bits)
{
    float f;
    if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x7fffff)) bits = CANONICAL_F32_NAN;
    memcpy(&f, &bits, 4);
    return f;
}

static double canon_f64(uint64_t bits)
{
    double d;
    if ((bits & 0x7ff0000000000000ull) == 0x7ff0000000000000ull && (bits & 0xfffffffffffffull))
        bits = CANONICAL_F64_NAN;
    memcpy(&d, &bits, 8);
    return d;
}

static uint32_t f32_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    if ((b & 0x7f800000u) == 0x7f800000u && (b & 0x7fffff)) b = CANONICAL_F32_NAN;
    return b;
}

static uint64_t f64_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    if ((b & 0x7ff0000000000000ull) == 0x7ff0000000000000ull && (b & 0xfffffffffffffull))
        b = CANONICAL_F64_NAN;
    return b;
}

static int lift_own(kiln_cabi_cx *cx, const kiln_ctype *t, uint32_t i, kiln_cval *out)
{
    const kiln_resource_type *rt = resource_type(cx, t);
    if (!rt) return -1;
    if (!cx->resources) return fail(cx, "no handle table in this context");
    uint32_t rep;
    int r = t->kind == KILN_CT_OWN
                ? kiln_resources_lift_own(cx->resources, rt, i, &rep, cx->err, sizeof cx->err)
                : kiln_resources_lift_borrow(cx->resources, rt, i, &rep, cx->err, sizeof cx->err);
    if (r < 0) return -1;
    out->res.rep = rep;
    out->res.type = rt;
    return 0;
}

/* stream<T> / future<T> ends (the async ABI's hooks, async.h). */
static int lift_end(kiln_cabi_cx *cx, const kiln_ctype *t, uint32_t i, kiln_cval *out)
{
    if (!cx->async_lift) return unsupported(cx, t);
    return cx->async_lift(cx, t, i, out);
}

static int lower_end(kiln_cabi_cx *cx, const kiln_ctype *t, const kiln_cval *v, uint32_t *out)
{
    if (!cx->async_lower) return unsupported(cx, t);
    return cx->async_lower(cx, t, v, out);
}

static int lower_handle(kiln_cabi_cx *cx, const kiln_ctype *t, const kiln_cval *v, uint32_t *out)
{
    const kiln_resource_type *rt = resource_type(cx, t);
    if (!rt) return -1;
    if (v->res.type && v->res.type != rt)
        return fail(cx, "a %s value passed as a %s", v->res.type->name ? v->res.type->name : "?",
                    rt->name ? rt->name : "?");
    if (!cx->resources) return fail(cx, "no handle table in this context");
    return t->kind == KILN_CT_OWN ? kiln_resources_lower_own(cx->resources, rt, v->res.rep, out,
                                                             cx->err, sizeof cx->err)
                                  : kiln_resources_lower_borrow(cx->resources, rt, v->res.rep, out,
                                                                cx->err, sizeof cx->err);
}

/* Lifts n elements of t (the list's element type, or a map entry) from ptr. */
static int load_elems(kiln_cabi_cx *cx, const kiln_ctype *t, uint32_t ptr, uint32_t n,
                      kiln_cval *out)
{
    uint32_t size, align;
    list_elem(t, &size, &align);
    kiln_cval *items = alloc_array(cx, n, sizeof *items);
    if (!items) return -1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t at = ptr + i * size;
        if (t->kind == KILN_CT_MAP) {
            uint32_t voff, esz, eal;
            map_entry(t, &voff, &esz, &eal);
            kiln_cval *kv = alloc_array(cx, 2, sizeof *kv);
            if (!kv) return -1;
            if (load(cx, t->elem.type, at, &kv[0]) < 0 ||
                load(cx, t->elem2.type, at + voff, &kv[1]) < 0)
                return -1;
            items[i].agg.items = kv;
            items[i].agg.n = 2;
        } else if (load(cx, t->elem.type, at, &items[i]) < 0) {
            return -1;
        }
    }
    out->agg.items = items;
    out->agg.n = n;
    return 0;
}

/* list<u8> / list<s8> lifted as bytes (cx->compact_bytes). */
static int is_bytes(const kiln_cabi_cx *cx, const kiln_ctype *t)
{
    return cx->compact_bytes && t->kind == KILN_CT_LIST &&
           (t->elem.type->kind == KILN_CT_U8 || t->elem.type->kind == KILN_CT_S8);
}

/* CanonicalABI.md load_list_from_range: list t (or map) of n elements at ptr. */
static int load_list_from_range(kiln_cabi_cx *cx, const kiln_ctype *t, uint32_t ptr, uint32_t n,
                                kiln_cval *out)
{
    uint32_t size, align;
    list_elem(t, &size, &align);
    uint64_t bytes = (uint64_t)n * size;
    if (bytes > MAX_LIST_BYTE_LENGTH)
        return fail(cx, "list of %u elements of %u bytes exceeds the maximum of 2^28-1 bytes", n,
                    size);
    if (n > MAX_LIST_LENGTH) return fail(cx, "list of %u elements is too long", n);
    if (check_range(cx, ptr, bytes, align, "list") < 0) return -1;
    if (is_bytes(cx, t)) {
        if (!(out->str.ptr = alloc_array(cx, (uint64_t)n + 1, 1))) return -1;
        memcpy(out->str.ptr, mem(cx, ptr), n);
        out->str.len = n;
        return 0;
    }
    return load_elems(cx, t, ptr, n, out);
}

static int load(kiln_cabi_cx *cx, const kiln_ctype *t, uint32_t ptr, kiln_cval *out)
{
    memset(out, 0, sizeof *out);
    switch (t->kind) {
    case KILN_CT_BOOL:
        out->u = load_int(cx, ptr, 1) != 0;
        return 0;
    case KILN_CT_U8:
        out->u = load_int(cx, ptr, 1);
        return 0;
    case KILN_CT_U16:
        out->u = load_int(cx, ptr, 2);
        return 0;
    case KILN_CT_U32:
        out->u = load_int(cx, ptr, 4);
        return 0;
    case KILN_CT_U64:
        out->u = load_int(cx, ptr, 8);
        return 0;
    case KILN_CT_S8:
        out->s = (int8_t)load_int(cx, ptr, 1);
        return 0;
    case KILN_CT_S16:
        out->s = (int16_t)load_int(cx, ptr, 2);
        return 0;
    case KILN_CT_S32:
        out->s = (int32_t)load_int(cx, ptr, 4);
        return 0;
    case KILN_CT_S64:
        out->s = (int64_t)load_int(cx, ptr, 8);
        return 0;
    case KILN_CT_F32:
        out->f32 = canon_f32((uint32_t)load_int(cx, ptr, 4));
        return 0;
    case KILN_CT_F64:
        out->f64 = canon_f64(load_int(cx, ptr, 8));
        return 0;
    case KILN_CT_CHAR:
        return convert_char(cx, (uint32_t)load_int(cx, ptr, 4), out);
    case KILN_CT_STRING:
        return load_string_from_range(cx, (uint32_t)load_int(cx, ptr, 4),
                                      (uint32_t)load_int(cx, ptr + 4, 4), out);
    case KILN_CT_LIST:
    case KILN_CT_MAP:
        return load_list_from_range(cx, t, (uint32_t)load_int(cx, ptr, 4),
                                    (uint32_t)load_int(cx, ptr + 4, 4), out);
    case KILN_CT_FIXED_LIST:
        return load_elems(cx, t, ptr, t->len, out);
    case KILN_CT_RECORD:
    case KILN_CT_TUPLE: {
        kiln_cval *items = alloc_array(cx, t->nitems, sizeof *items);
        if (!items) return -1;
        for (uint32_t i = 0; i < t->nitems; i++) {
            const kiln_ctype *f = field_type(t, i);
            ptr = (uint32_t)align_up(ptr, f->align);
            if (load(cx, f, ptr, &items[i]) < 0) return -1;
            ptr += f->size;
        }
        out->agg.items = items;
        out->agg.n = t->nitems;
        return 0;
    }
    case KILN_CT_VARIANT:
    case KILN_CT_ENUM:
    case KILN_CT_OPTION:
    case KILN_CT_RESULT: {
        uint32_t n = case_count(t);
        unsigned ds = disc_size(n);
        uint64_t disc = load_int(cx, ptr, ds);
        if (disc >= n)
            return fail(cx, "invalid discriminant %llu (%u cases)", (unsigned long long)disc, n);
        out->var.disc = (uint32_t)disc;
        const kiln_ctype *c = case_type(t, (uint32_t)disc);
        if (!c) return 0;
        if (!(out->var.payload = alloc_array(cx, 1, sizeof(kiln_cval)))) return -1;
        return load(cx, c, (uint32_t)align_up(ptr + ds, max_case_align(t)), out->var.payload);
    }
    case KILN_CT_FLAGS: {
        uint32_t nw = flags_words(t);
        uint32_t *w = alloc_array(cx, nw, sizeof *w);
        if (!w) return -1;
        if (t->nitems <= 32)
            w[0] = (uint32_t)load_int(cx, ptr, t->size) & flags_mask(t, 0);
        else
            for (uint32_t i = 0; i < nw; i++)
                w[i] = (uint32_t)load_int(cx, ptr + 4 * i, 4) & flags_mask(t, i);
        out->flags = w;
        return 0;
    }
    case KILN_CT_OWN:
    case KILN_CT_BORROW:
        return lift_own(cx, t, (uint32_t)load_int(cx, ptr, 4), out);
    case KILN_CT_STREAM:
    case KILN_CT_FUTURE:
    case KILN_CT_ERROR_CONTEXT:
        return lift_end(cx, t, (uint32_t)load_int(cx, ptr, 4), out);
    default:
        return unsupported(cx, t);
    }
}

/* Stores n elements of list/map/fixed list t from v at ptr (a checked range). */
static int store_elems(kiln_cabi_cx *cx, const kiln_ctype *t, const kiln_cval *v, uint32_t ptr)
{
    uint32_t size, align;
    list_elem(t, &size, &align);
    for (uint32_t i = 0; i < v->agg.n; i++) {
        uint32_t at = ptr + i * size;
        const kiln_cval *e = &v->agg.items[i];
        if (t->kind == KILN_CT_MAP) {
            uint32_t voff, esz, eal;
            map_entry(t, &voff, &esz, &eal);
            if (e->agg.n != 2 || !e->agg.items) return fail(cx, "map entry is not a (key, value)");
            if (store(cx, t->elem.type, &e->agg.items[0], at) < 0 ||
                store(cx, t->elem2.type, &e->agg.items[1], at + voff) < 0)
                return -1;
        } else if (store(cx, t->elem.type, e, at) < 0) {
            return -1;
        }
    }
    return 0;
}

/* CanonicalABI.md store_list_into_range: allocates and stores list (or map) v. */
static int store_list_into_range(kiln_cabi_cx *cx, const kiln_ctype *t, const kiln_cval *v,
                                 uint32_t *out_ptr)
{
    uint32_t size, align, ptr;
    list_elem(t, &size, &align);
    if (is_bytes(cx, t)) {
        if (v->str.len > UINT32_MAX || (v->str.len && !v->str.ptr))
            return fail(cx, "byte list of %zu bytes", v->str.len);
        if (call_realloc(cx, 0, 0, 1, v->str.len, &ptr) < 0) return -1;
        if (v->str.len) memcpy(mem(cx, ptr), v->str.ptr, v->str.len);
        *out_ptr = ptr;
        return 0;
    }
    if (v->agg.n && !v->agg.items) return fail(cx, "list value without items");
    uint64_t bytes = (uint64_t)v->agg.n * size;
    if (call_realloc(cx, 0, 0, align, bytes, &ptr) < 0) return -1;
    if (store_elems(cx, t, v, ptr) < 0) return -1;
    *out_ptr = ptr;
    return 0;
}

static int store(kiln_cabi_cx *cx, const kiln_ctype *t, const kiln_cval *v, uint32_t ptr)
{
    switch (t->kind) {
    case KILN_CT_BOOL:
        store_int(cx, v->u != 0, ptr, 1);
        return 0;
    case KILN_CT_U8:
    case KILN_CT_S8:
    case KILN_CT_U16:
    case KILN_CT_S16:
    case KILN_CT_U32:
    case KILN_CT_S32:
    case KILN_CT_U64:
    case KILN_CT_S64:
        store_int(cx, v->u, ptr, t->size);
        return 0;
    case KILN_CT_F32:
        store_int(cx, f32_bits(v->f32), ptr, 4);
        return 0;
    case KILN_CT_F64:
        store_int(cx, f64_bits(v->f64), ptr, 8);
        return 0;
    case KILN_CT_CHAR: {
        kiln_cval c;
        if (v->u > UINT32_MAX || convert_char(cx, (uint32_t)v->u, &c) < 0)
            return fail(cx, "char value 0x%llx is not a Unicode scalar value",
                        (unsigned long long)v->u);
        store_int(cx, v->u, ptr, 4);
        return 0;
    }
    case KILN_CT_STRING: {
        uint32_t p, units;
        if (store_string_into_range(cx, v, &p, &units) < 0) return -1;
        store_int(cx, p, ptr, 4);
        store_int(cx, units, ptr + 4, 4);
        return 0;
    }
    case KILN_CT_LIST:
    case KILN_CT_MAP: {
        uint32_t p;
        if (store_list_into_range(cx, t, v, &p) < 0) return -1;
        store_int(cx, p, ptr, 4);
        store_int(cx, is_bytes(cx, t) ? (uint32_t)v->str.len : v->agg.n, ptr + 4, 4);
        return 0;
    }
    case KILN_CT_FIXED_LIST:
        if (v->agg.n != t->len || (t->len && !v->agg.items))
            return fail(cx, "fixed list of %u elements given %u", t->len, v->agg.n);
        return store_elems(cx, t, v, ptr);
    case KILN_CT_RECORD:
    case KILN_CT_TUPLE:
        if (v->agg.n != t->nitems || (t->nitems && !v->agg.items))
            return fail(cx, "record of %u fields given %u", t->nitems, v->agg.n);
        for (uint32_t i = 0; i < t->nitems; i++) {
            const kiln_ctype *f = field_type(t, i);
            ptr = (uint32_t)align_up(ptr, f->align);
            if (store(cx, f, &v->agg.items[i], ptr) < 0) return -1;
            ptr += f->size;
        }
        return 0;
    case KILN_CT_VARIANT:
    case KILN_CT_ENUM:
    case KILN_CT_OPTION:
    case KILN_CT_RESULT: {
        uint32_t n = case_count(t);
        unsigned ds = disc_size(n);
        if (v->var.disc >= n) return fail(cx, "case %u of a type with %u cases", v->var.disc, n);
        const kiln_ctype *c = case_type(t, v->var.disc);
        if (c && !v->var.payload) return fail(cx, "case %u without its payload", v->var.disc);
        store_int(cx, v->var.disc, ptr, ds);
        if (!c) return 0;
        return store(cx, c, v->var.payload, (uint32_t)align_up(ptr + ds, max_case_align(t)));
    }
    case KILN_CT_FLAGS:
        if (!v->flags) return fail(cx, "flags value without words");
        if (t->nitems <= 32)
            store_int(cx, v->flags[0] & flags_mask(t, 0), ptr, t->size);
        else
            for (uint32_t i = 0; i < flags_words(t); i++)
                store_int(cx, v->flags[i] & flags_mask(t, i), ptr + 4 * i, 4);
        return 0;
    case KILN_CT_OWN:
    case KILN_CT_BORROW: {
        uint32_t h;
        if (lower_handle(cx, t, v, &h) < 0) return -1;
        store_int(cx, h, ptr, 4);
        return 0;
    }
    case KILN_CT_STREAM:
    case KILN_CT_FUTURE:
    case KILN_CT_ERROR_CONTEXT: {
        uint32_t h;
        if (lower_end(cx, t, v, &h) < 0) return -1;
        store_int(cx, h, ptr, 4);
        return 0;
    }
    default:
        return unsupported(cx, t);
    }
}

/* Sizes saturate at 2^28 in validation: such a type's real layout is unknown, and
 * anything that large cannot be passed anyway (fails). */
static int too_big(kiln_cabi_cx *cx, uint64_t size)
{
    if (size < FLAT_LIMIT) return 0;
    return fail(cx, "value of %llu bytes or more is too large to pass", (unsigned long long)size);
}

int kiln_cabi_load(kiln_cabi_cx *cx, const kiln_ctype *t, uint32_t ptr, kiln_cval *out)
{
    if (too_big(cx, t->size) < 0) return -1;
    if (check_range(cx, ptr, t->size, t->align, "load") < 0) return -1;
    return load(cx, t, ptr, out);
}

int kiln_cabi_store(kiln_cabi_cx *cx, const kiln_ctype *t, const kiln_cval *v, uint32_t ptr)
{
    if (too_big(cx, t->size) < 0) return -1;
    if (check_range(cx, ptr, t->size, t->align, "store") < 0) return -1;
    return store(cx, t, v, ptr);
}

/* ---- flat lifting and lowering ---- */

/* Lifts t from flat[*pos..), advancing *pos (CanonicalABI.md lift_flat). */
static int lift_flat(kiln_cabi_cx *cx, const kiln_ctype *t, const kiln_val *flat, size_t *pos,
                     kiln_cval *out)
{
    memset(out, 0, sizeof *out);
    switch (t->kind) {
    case KILN_CT_BOOL:
        out->u = flat[(*pos)++].i32 != 0;
        return 0;
    case KILN_CT_U8:
        out->u = (uint8_t)flat[(*pos)++].i32;
        return 0;
    case KILN_CT_U16:
        out->u = (uint16_t)flat[(*pos)++].i32;
        return 0;
    case KILN_CT_U32:
        out->u = flat[(*pos)++].i32;
        return 0;
    case KILN_CT_U64:
        out->u = flat[(*pos)++].i64;
        return 0;
    case KILN_CT_S8:
        out->s = (int8_t)flat[(*pos)++].i32;
        return 0;
    case KILN_CT_S16:
        out->s = (int16_t)flat[(*pos)++].i32;
        return 0;
    case KILN_CT_S32:
        out->s = (int32_t)flat[(*pos)++].i32;
        return 0;
    case KILN_CT_S64:
        out->s = (int64_t)flat[(*pos)++].i64;
        return 0;
    case KILN_CT_F32: {
        float f = flat[(*pos)++].f32;
        uint32_t b;
        memcpy(&b, &f, 4);
        out->f32 = canon_f32(b);
        return 0;
    }
    case KILN_CT_F64: {
        double d = flat[(*pos)++].f64;
        uint64_t b;
        memcpy(&b, &d, 8);
        out->f64 = canon_f64(b);
        return 0;
    }
    case KILN_CT_CHAR:
        return convert_char(cx, flat[(*pos)++].i32, out);
    case KILN_CT_STRING: {
        uint32_t p = flat[*pos].i32, n = flat[*pos + 1].i32;
        *pos += 2;
        return load_string_from_range(cx, p, n, out);
    }
    case KILN_CT_LIST:
    case KILN_CT_MAP: {
        uint32_t p = flat[*pos].i32, n = flat[*pos + 1].i32;
        *pos += 2;
        return load_list_from_range(cx, t, p, n, out);
    }
    case KILN_CT_FIXED_LIST:
    case KILN_CT_RECORD:
    case KILN_CT_TUPLE: {
        uint32_t n = t->kind == KILN_CT_FIXED_LIST ? t->len : t->nitems;
        kiln_cval *items = alloc_array(cx, n, sizeof *items);
        if (!items) return -1;
        for (uint32_t i = 0; i < n; i++) {
            const kiln_ctype *f = t->kind == KILN_CT_FIXED_LIST ? t->elem.type : field_type(t, i);
            if (lift_flat(cx, f, flat, pos, &items[i]) < 0) return -1;
        }
        out->agg.items = items;
        out->agg.n = n;
        return 0;
    }
    case KILN_CT_VARIANT:
    case KILN_CT_ENUM:
    case KILN_CT_OPTION:
    case KILN_CT_RESULT: {
        uint32_t n = case_count(t), disc = flat[*pos].i32;
        size_t nflat, start = *pos + 1;
        if (disc >= n) return fail(cx, "invalid discriminant %u (%u cases)", disc, n);
        out->var.disc = disc;
        const kiln_ctype *c = case_type(t, disc);
        if (c) {
            /* the joined flat types of the variant (without the discriminant) and the
             * case's own: coerce the one to the other (lift_flat_variant) */
            char *joined = flat_types(cx, t, &nflat), *want;
            size_t nwant;
            if (!joined || !(want = flat_types(cx, c, &nwant))) return -1;
            kiln_val *tmp = alloc_array(cx, nwant ? nwant : 1, sizeof *tmp);
            if (!tmp) return -1;
            for (size_t j = 0; j < nwant; j++) {
                char have = joined[1 + j];
                kiln_val x = flat[start + j];
                if (have == 'j' && (want[j] == 'i' || want[j] == 'f')) {
                    x.i32 = (uint32_t)x.i64; /* wrap (then reinterpret as f32) */
                } else if (have == 'j' && want[j] == 'd') {
                    uint64_t b = x.i64;
                    memcpy(&x.f64, &b, 8);
                }
                /* i32 -> f32: the union already reinterprets the bits */
                tmp[j] = x;
            }
            size_t p = 0;
            if (!(out->var.payload = alloc_array(cx, 1, sizeof(kiln_cval)))) return -1;
            if (lift_flat(cx, c, tmp, &p, out->var.payload) < 0) return -1;
        }
        *pos += t->flat;
        return 0;
    }
    case KILN_CT_FLAGS: {
        uint32_t nw = flags_words(t);
        uint32_t *w = alloc_array(cx, nw, sizeof *w);
        if (!w) return -1;
        for (uint32_t i = 0; i < nw; i++)
            w[i] = flat[(*pos)++].i32 & flags_mask(t, i);
        out->flags = w;
        return 0;
    }
    case KILN_CT_OWN:
    case KILN_CT_BORROW:
        return lift_own(cx, t, flat[(*pos)++].i32, out);
    case KILN_CT_STREAM:
    case KILN_CT_FUTURE:
    case KILN_CT_ERROR_CONTEXT:
        return lift_end(cx, t, flat[(*pos)++].i32, out);
    default:
        return unsupported(cx, t);
    }
}

/* Lowers v of type t into flat[*pos..), advancing *pos (CanonicalABI.md lower_flat). */
static int lower_flat(kiln_cabi_cx *cx, const kiln_ctype *t, const kiln_cval *v, kiln_val *flat,
                      size_t *pos)
{
    kiln_val *o = &flat[*pos];
    switch (t->kind) {
    case KILN_CT_BOOL:
        o->i64 = 0;
        o->i32 = v->u != 0;
        break;
    case KILN_CT_U8:
    case KILN_CT_U16:
    case KILN_CT_U32:
    case KILN_CT_S8:
    case KILN_CT_S16:
    case KILN_CT_S32: {
        unsigned bits = 8 * t->size;
        uint32_t x = (uint32_t)v->u;
        if (bits < 32) {
            x &= (1u << bits) - 1;
            /* signed types sign-extend into the i32 */
            if (t->kind == KILN_CT_S8 || t->kind == KILN_CT_S16)
                x = (uint32_t)(bits == 8 ? (int32_t)(int8_t)x : (int32_t)(int16_t)x);
        }
        o->i64 = 0;
        o->i32 = x;
        break;
    }
    case KILN_CT_U64:
    case KILN_CT_S64:
        o->i64 = v->u;
        break;
    case KILN_CT_F32: {
        uint32_t b = f32_bits(v->f32);
        o->i64 = 0;
        memcpy(&o->f32, &b, 4);
        break;
    }
    case KILN_CT_F64: {
        uint64_t b = f64_bits(v->f64);
        memcpy(&o->f64, &b, 8);
        break;
    }
    case KILN_CT_CHAR: {
        kiln_cval c;
        if (v->u > UINT32_MAX || convert_char(cx, (uint32_t)v->u, &c) < 0)
            return fail(cx, "char value 0x%llx is not a Unicode scalar value",
                        (unsigned long long)v->u);
        o->i64 = 0;
        o->i32 = (uint32_t)v->u;
        break;
    }
    case KILN_CT_STRING: {
        uint32_t p, n;
        if (store_string_into_range(cx, v, &p, &n) < 0) return -1;
        o[0].i64 = o[1].i64 = 0;
        o[0].i32 = p;
        o[1].i32 = n;
        *pos += 2;
        return 0;
    }
    case KILN_CT_LIST:
    case KILN_CT_MAP: {
        uint32_t p;
        if (store_list_into_range(cx, t, v, &p) < 0) return -1;
        o[0].i64 = o[1].i64 = 0;
        o[0].i32 = p;
        o[1].i32 = is_bytes(cx, t) ? (uint32_t)v->str.len : v->agg.n;
        *pos += 2;
        return 0;
    }
    case KILN_CT_FIXED_LIST:
    case KILN_CT_RECORD:
    case KILN_CT_TUPLE: {
        uint32_t n = t->kind == KILN_CT_FIXED_LIST ? t->len : t->nitems;
        if (v->agg.n != n || (n && !v->agg.items))
            return fail(cx, "%s of %u items given %u",
                        t->kind == KILN_CT_FIXED_LIST ? "fixed list" : "record", n, v->agg.n);
        for (uint32_t i = 0; i < n; i++) {
            const kiln_ctype *f = t->kind == KILN_CT_FIXED_LIST ? t->elem.type : field_type(t, i);
            if (lower_flat(cx, f, &v->agg.items[i], flat, pos) < 0) return -1;
        }
        return 0;
    }
    case KILN_CT_VARIANT:
    case KILN_CT_ENUM:
    case KILN_CT_OPTION:
    case KILN_CT_RESULT: {
        uint32_t n = case_count(t);
        if (v->var.disc >= n) return fail(cx, "case %u of a type with %u cases", v->var.disc, n);
        const kiln_ctype *c = case_type(t, v->var.disc);
        if (c && !v->var.payload) return fail(cx, "case %u without its payload", v->var.disc);
        size_t nflat;
        char *joined = flat_types(cx, t, &nflat);
        if (!joined) return -1;
        size_t start = *pos + 1;
        for (size_t j = 0; j + 1 < nflat; j++)
            flat[start + j].i64 = 0;
        if (c) {
            size_t nhave, p = 0;
            char *have = flat_types(cx, c, &nhave);
            kiln_val *tmp = have ? alloc_array(cx, nhave ? nhave : 1, sizeof *tmp) : NULL;
            if (!tmp) return -1;
            if (lower_flat(cx, c, v->var.payload, tmp, &p) < 0) return -1;
            for (size_t j = 0; j < nhave; j++) {
                char want = joined[1 + j];
                kiln_val x = tmp[j], y = {.i64 = 0};
                if (want == 'j' && have[j] == 'i') {
                    y.i64 = x.i32; /* zero-extend */
                } else if (want == 'j' && have[j] == 'f') {
                    uint32_t b;
                    memcpy(&b, &x.f32, 4);
                    y.i64 = b;
                } else if (want == 'j' && have[j] == 'd') {
                    memcpy(&y.i64, &x.f64, 8);
                } else if (want == 'i' && have[j] == 'f') {
                    memcpy(&y.i32, &x.f32, 4);
                } else {
                    y = x;
                }
                flat[start + j] = y;
            }
        }
        o->i64 = 0;
        o->i32 = v->var.disc;
        *pos += t->flat;
        return 0;
    }
    case KILN_CT_FLAGS:
        if (!v->flags) return fail(cx, "flags value without words");
        for (uint32_t i = 0; i < flags_words(t); i++) {
            flat[*pos + i].i64 = 0;
            flat[*pos + i].i32 = v->flags[i] & flags_mask(t, i);
        }
        *pos += flags_words(t);
        return 0;
    case KILN_CT_OWN:
    case KILN_CT_BORROW:
    case KILN_CT_STREAM:
    case KILN_CT_FUTURE:
    case KILN_CT_ERROR_CONTEXT: {
        uint32_t h;
        int r = t->kind == KILN_CT_OWN || t->kind == KILN_CT_BORROW ? lower_handle(cx, t, v, &h)
                                                                    : lower_end(cx, t, v, &h);
        if (r < 0) return -1;
        o->i64 = 0;
        o->i32 = h;
        break;
    }
    default:
        return unsupported(cx, t);
    }
    (*pos)++;
    return 0;
}

int kiln_cabi_lift_flat(kiln_cabi_cx *cx, const kiln_ctype *t, const kiln_val *flat, kiln_cval *out)
{
    size_t pos = 0;
    if (t->flat >= FLAT_LIMIT) return fail(cx, "type too large to flatten");
    return lift_flat(cx, t, flat, &pos, out);
}

int kiln_cabi_lower_flat(kiln_cabi_cx *cx, const kiln_ctype *t, const kiln_cval *v, kiln_val *flat)
{
    size_t pos = 0;
    if (t->flat >= FLAT_LIMIT) return fail(cx, "type too large to flatten");
    return lower_flat(cx, t, v, flat, &pos);
}

/* ---- functions ---- */

/* Flat counts of a function's params and result (saturating). */
static uint64_t params_flat(const kiln_ctype *ft)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < ft->nitems; i++)
        n += field_type(ft, i)->flat;
    return n;
}

static uint64_t result_flat(const kiln_ctype *ft)
{
    return ft->has_elem ? ft->elem.type->flat : 0;
}

/* The layout of the params as a tuple: total size and alignment. */
static void params_layout(const kiln_ctype *ft, uint64_t *size, uint32_t *align)
{
    uint64_t s = 0;
    uint32_t a = 1;
    for (uint32_t i = 0; i < ft->nitems; i++) {
        const kiln_ctype *p = field_type(ft, i);
        s = align_up(s, p->align) + p->size;
        if (p->align > a) a = p->align;
    }
    *size = align_up(s, a);
    *align = a;
}

int kiln_cabi_core_sig(const kiln_ctype *functype, int lower, char *out, size_t cap)
{
    char p[KILN_CABI_MAX_FLAT_PARAMS], r[KILN_CABI_MAX_FLAT_RESULTS];
    size_t np = 0, nr = 0, k = 0;
    int spill_p = params_flat(functype) > KILN_CABI_MAX_FLAT_PARAMS;
    int spill_r = result_flat(functype) > KILN_CABI_MAX_FLAT_RESULTS;
    for (uint32_t i = 0; !spill_p && i < functype->nitems; i++)
        if (flatten(field_type(functype, i), p, &np, sizeof p) < 0) return -1;
    if (!spill_r && functype->has_elem && flatten(functype->elem.type, r, &nr, sizeof r) < 0)
        return -1;
    char buf[KILN_CABI_MAX_FLAT_PARAMS + KILN_CABI_MAX_FLAT_RESULTS + 4];
    if (spill_p)
        buf[k++] = 'i';
    else
        for (size_t i = 0; i < np; i++)
            buf[k++] = p[i];
    if (lower && spill_r) buf[k++] = 'i';
    buf[k++] = ':';
    if (!(lower && spill_r)) {
        if (spill_r)
            buf[k++] = 'i';
        else
            for (size_t i = 0; i < nr; i++)
                buf[k++] = r[i];
    }
    if (k + 1 > cap) return -1;
    memcpy(out, buf, k);
    out[k] = 0;
    return 0;
}

/* Loads the params as a tuple stored at ptr. */
static int load_params(kiln_cabi_cx *cx, const kiln_ctype *ft, uint32_t ptr, kiln_cval *params)
{
    uint64_t size;
    uint32_t align;
    params_layout(ft, &size, &align);
    if (too_big(cx, size) < 0 || check_range(cx, ptr, size, align, "parameters") < 0) return -1;
    for (uint32_t i = 0; i < ft->nitems; i++) {
        const kiln_ctype *p = field_type(ft, i);
        ptr = (uint32_t)align_up(ptr, p->align);
        if (load(cx, p, ptr, &params[i]) < 0) return -1;
        ptr += p->size;
    }
    return 0;
}

int kiln_cabi_lift_args(kiln_cabi_cx *cx, const kiln_ctype *functype, const kiln_val *core,
                        kiln_cval *params)
{
    return kiln_cabi_lift_args_max(cx, functype, core, params, KILN_CABI_MAX_FLAT_PARAMS);
}

int kiln_cabi_load_value(kiln_cabi_cx *cx, const kiln_ctype *t, uint32_t ptr, kiln_cval *v)
{
    if (check_range(cx, ptr, t->size, t->align, "pointer") < 0) return -1;
    return load(cx, t, ptr, v);
}

int kiln_cabi_store_value(kiln_cabi_cx *cx, const kiln_ctype *t, const kiln_cval *v, uint32_t ptr)
{
    if (too_big(cx, t->size) < 0 || check_range(cx, ptr, t->size, t->align, "pointer") < 0)
        return -1;
    return store(cx, t, v, ptr);
}

int kiln_cabi_lift_args_max(kiln_cabi_cx *cx, const kiln_ctype *functype, const kiln_val *core,
                            kiln_cval *params, uint32_t max_flat)
{
    if (params_flat(functype) > max_flat) return load_params(cx, functype, core[0].i32, params);
    size_t pos = 0;
    for (uint32_t i = 0; i < functype->nitems; i++)
        if (lift_flat(cx, field_type(functype, i), core, &pos, &params[i]) < 0) return -1;
    return 0;
}

int kiln_cabi_lower_results(kiln_cabi_cx *cx, const kiln_ctype *functype, const kiln_cval *results,
                            kiln_val *core, uint32_t retptr)
{
    if (!functype->has_elem) return 0;
    const kiln_ctype *r = functype->elem.type;
    if (r->flat <= KILN_CABI_MAX_FLAT_RESULTS) {
        size_t pos = 0;
        return lower_flat(cx, r, &results[0], core, &pos);
    }
    if (too_big(cx, r->size) < 0 ||
        check_range(cx, retptr, r->size, r->align, "return pointer") < 0)
        return -1;
    return store(cx, r, &results[0], retptr);
}

int kiln_cabi_lower_args(kiln_cabi_cx *cx, const kiln_ctype *functype, const kiln_cval *params,
                         kiln_val *core, size_t *ncore)
{
    if (params_flat(functype) > KILN_CABI_MAX_FLAT_PARAMS) {
        uint64_t size;
        uint32_t align, ptr;
        params_layout(functype, &size, &align);
        if (too_big(cx, size) < 0 || call_realloc(cx, 0, 0, align, size, &ptr) < 0) return -1;
        uint32_t at = ptr;
        for (uint32_t i = 0; i < functype->nitems; i++) {
            const kiln_ctype *p = field_type(functype, i);
            at = (uint32_t)align_up(at, p->align);
            if (store(cx, p, &params[i], at) < 0) return -1;
            at += p->size;
        }
        core[0].i64 = 0;
        core[0].i32 = ptr;
        *ncore = 1;
        return 0;
    }
    size_t pos = 0;
    for (uint32_t i = 0; i < functype->nitems; i++)
        if (lower_flat(cx, field_type(functype, i), &params[i], core, &pos) < 0) return -1;
    *ncore = pos;
    return 0;
}

int kiln_cabi_lift_results(kiln_cabi_cx *cx, const kiln_ctype *functype, const kiln_val *core,
                           kiln_cval *results)
{
    if (!functype->has_elem) return 0;
    const kiln_ctype *r = functype->elem.type;
    if (r->flat <= KILN_CABI_MAX_FLAT_RESULTS) {
        size_t pos = 0;
        return lift_flat(cx, r, core, &pos, &results[0]);
    }
    uint32_t ptr = core[0].i32;
    if (too_big(cx, r->size) < 0 || check_range(cx, ptr, r->size, r->align, "results") < 0)
        return -1;
    return load(cx, r, ptr, &results[0]);
}
