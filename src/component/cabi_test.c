/* cabi_test.c — the canonical ABI against the specification (CanonicalABI.md): layouts,
 * round trips of every value type through memory and flat form, the three string
 * encodings, function-level spilling, and every trap rule. Types are built here and laid
 * out by validate.c's kiln_ctype_layout; realloc is a C bump allocator standing in for the
 * guest's cabi_realloc (with modes that return bad pointers). */
#include "component/cabi.h"
#include "component/resources.h"
#include "util/alloc.h"
#include "util/test.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>

/* ---- types ---- */

static kiln_ctype pool[256];
static int npool;
static kiln_cfield fpool[2048];
static int nfpool;

static const kiln_ctype *P(kiln_ctype_kind k)
{
    return kiln_ctype_prim(k);
}

static kiln_ctype *mk(kiln_ctype_kind k)
{
    if (npool >= (int)(sizeof pool / sizeof pool[0])) abort();
    kiln_ctype *t = &pool[npool++];
    memset(t, 0, sizeof *t);
    t->kind = k;
    return t;
}

static const kiln_ctype *lay(kiln_ctype *t)
{
    CHECK_INT(kiln_ctype_layout(t), 0);
    return t;
}

static kiln_cfield *fields(uint32_t n)
{
    if (nfpool + (int)n > (int)(sizeof fpool / sizeof fpool[0])) abort();
    kiln_cfield *f = &fpool[nfpool];
    memset(f, 0, n * sizeof *f);
    nfpool += (int)n;
    return f;
}

/* record/tuple/variant of n member types (variant: NULL = no payload) */
static const kiln_ctype *agg(kiln_ctype_kind k, uint32_t n, ...)
{
    kiln_ctype *t = mk(k);
    t->items = fields(n);
    t->nitems = n;
    va_list ap;
    va_start(ap, n);
    for (uint32_t i = 0; i < n; i++) {
        const kiln_ctype *c = va_arg(ap, const kiln_ctype *);
        t->items[i].name = k == KILN_CT_TUPLE ? NULL : "x";
        t->items[i].has_type = c != NULL;
        t->items[i].type.prim = KILN_CVAL_INDEX;
        t->items[i].type.type = c;
    }
    va_end(ap);
    return lay(t);
}

static const kiln_ctype *labels(kiln_ctype_kind k, uint32_t n)
{
    kiln_ctype *t = mk(k);
    t->items = fields(n);
    t->nitems = n;
    return lay(t);
}

static const kiln_ctype *elem1(kiln_ctype_kind k, const kiln_ctype *e)
{
    kiln_ctype *t = mk(k);
    t->elem.type = e;
    t->has_elem = e != NULL;
    return lay(t);
}

static const kiln_ctype *result(const kiln_ctype *ok, const kiln_ctype *err)
{
    kiln_ctype *t = mk(KILN_CT_RESULT);
    t->elem.type = ok, t->has_elem = ok != NULL;
    t->elem2.type = err, t->has_elem2 = err != NULL;
    return lay(t);
}

static const kiln_ctype *fixed(const kiln_ctype *e, uint32_t len)
{
    kiln_ctype *t = mk(KILN_CT_FIXED_LIST);
    t->elem.type = e;
    t->len = len;
    return lay(t);
}

static const kiln_ctype *map(const kiln_ctype *k, const kiln_ctype *v)
{
    kiln_ctype *t = mk(KILN_CT_MAP);
    t->elem.type = k, t->has_elem = 1;
    t->elem2.type = v, t->has_elem2 = 1;
    return lay(t);
}

/* func(params...) -> result (NULL: none) */
static const kiln_ctype *func(const kiln_ctype *res, uint32_t n, const kiln_ctype **ps)
{
    kiln_ctype *t = mk(KILN_CT_FUNC);
    t->items = fields(n);
    t->nitems = n;
    for (uint32_t i = 0; i < n; i++)
        t->items[i].type.type = ps[i], t->items[i].has_type = 1;
    t->elem.type = res;
    t->has_elem = res != NULL;
    return t;
}

/* ---- guest stand-in: memory and realloc ---- */

#define MEM_SIZE (2 * 65536)
static uint8_t membuf[MEM_SIZE];
static wasm_rt_memory_t memory = {.data = membuf, .pages = 2, .max_pages = 2, .size = MEM_SIZE};

typedef struct heap {
    uint32_t next;
    int bad;       /* 1: out-of-bounds results, 2: misaligned results … */
    int bad_after; /* … for the calls after this many */
    int calls;
    uint32_t log[16][4]; /* old_ptr, old_size, align, new_size */
} heap;
static heap H;

static uint32_t test_realloc(void *native, uint32_t old, uint32_t old_size, uint32_t align,
                             uint32_t new_size)
{
    heap *h = native;
    if (h->calls < 16) {
        h->log[h->calls][0] = old, h->log[h->calls][1] = old_size;
        h->log[h->calls][2] = align, h->log[h->calls][3] = new_size;
    }
    h->calls++;
    int bad = h->calls > h->bad_after ? h->bad : 0;
    if (bad == 1) return MEM_SIZE - 1;
    uint32_t p = (h->next + align - 1) / align * align;
    if (bad == 2) p |= 1;
    h->next = p + new_size;
    if (h->next > MEM_SIZE) return 0xfffffff0u;
    if (old) memmove(membuf + p, membuf + old, old_size < new_size ? old_size : new_size);
    return p;
}

static kiln_cabi_cx cx;  /* the context under test */
static kiln_cabi_cx vcx; /* arena of the test's own values (outlives cx resets) */

static void reset(kiln_string_encoding enc)
{
    kiln_cabi_cx_reset(&cx);
    cx.memory = &memory;
    cx.enc = enc;
    cx.realloc = test_realloc;
    cx.realloc_ctx = &H;
    cx.err[0] = 0;
    memset(&H, 0, sizeof H);
    H.next = 4096;
    memset(membuf, 0, sizeof membuf);
}

/* ---- values ---- */

static kiln_cval *vals(uint32_t n)
{
    return kiln_cabi_alloc(&vcx, n * sizeof(kiln_cval));
}

static kiln_cval S(const char *s)
{
    kiln_cval v = {.str = {(char *)s, strlen(s)}};
    return v;
}

static kiln_cval U(uint64_t u)
{
    kiln_cval v = {.u = u};
    return v;
}

static kiln_cval V(uint32_t disc, const kiln_cval *payload)
{
    kiln_cval v = {.var = {disc, NULL}};
    if (payload) {
        v.var.payload = vals(1);
        *v.var.payload = *payload;
    }
    return v;
}

static kiln_cval A(uint32_t n, ...)
{
    kiln_cval v = {.agg = {vals(n ? n : 1), n}};
    va_list ap;
    va_start(ap, n);
    for (uint32_t i = 0; i < n; i++)
        v.agg.items[i] = va_arg(ap, kiln_cval);
    va_end(ap);
    return v;
}

static int eq(const kiln_ctype *t, const kiln_cval *a, const kiln_cval *b)
{
    switch (t->kind) {
    case KILN_CT_F32:
        return isnan(a->f32) ? isnan(b->f32) : a->f32 == b->f32;
    case KILN_CT_F64:
        return isnan(a->f64) ? isnan(b->f64) : a->f64 == b->f64;
    case KILN_CT_S8:
    case KILN_CT_S16:
    case KILN_CT_S32:
    case KILN_CT_S64:
        return a->s == b->s;
    case KILN_CT_STRING:
        return a->str.len == b->str.len && memcmp(a->str.ptr, b->str.ptr, a->str.len) == 0;
    case KILN_CT_LIST:
    case KILN_CT_FIXED_LIST:
        if (a->agg.n != b->agg.n) return 0;
        for (uint32_t i = 0; i < a->agg.n; i++)
            if (!eq(t->elem.type, &a->agg.items[i], &b->agg.items[i])) return 0;
        return 1;
    case KILN_CT_MAP:
        if (a->agg.n != b->agg.n) return 0;
        for (uint32_t i = 0; i < a->agg.n; i++)
            if (!eq(t->elem.type, &a->agg.items[i].agg.items[0], &b->agg.items[i].agg.items[0]) ||
                !eq(t->elem2.type, &a->agg.items[i].agg.items[1], &b->agg.items[i].agg.items[1]))
                return 0;
        return 1;
    case KILN_CT_RECORD:
    case KILN_CT_TUPLE:
        if (a->agg.n != b->agg.n) return 0;
        for (uint32_t i = 0; i < a->agg.n; i++)
            if (!eq(t->items[i].type.type, &a->agg.items[i], &b->agg.items[i])) return 0;
        return 1;
    case KILN_CT_VARIANT:
    case KILN_CT_ENUM:
    case KILN_CT_OPTION:
    case KILN_CT_RESULT: {
        if (a->var.disc != b->var.disc) return 0;
        const kiln_ctype *c = NULL;
        if (t->kind == KILN_CT_VARIANT && t->items[a->var.disc].has_type)
            c = t->items[a->var.disc].type.type;
        if (t->kind == KILN_CT_OPTION && a->var.disc == 1) c = t->elem.type;
        if (t->kind == KILN_CT_RESULT) c = a->var.disc ? t->elem2.type : t->elem.type;
        if (!c) return !a->var.payload && !b->var.payload;
        return a->var.payload && b->var.payload && eq(c, a->var.payload, b->var.payload);
    }
    case KILN_CT_FLAGS:
        for (uint32_t i = 0; i < (t->nitems + 31) / 32; i++)
            if (a->flags[i] != b->flags[i]) return 0;
        return 1;
    case KILN_CT_OWN:
    case KILN_CT_BORROW:
        return a->res.rep == b->res.rep && a->res.type == b->res.type;
    default:
        return a->u == b->u;
    }
}

/* v round-trips through memory (store at an aligned spot, load) and flat form in every
 * string encoding. */
static int roundtrip(const kiln_ctype *t, kiln_cval v)
{
    int ok = 1;
    for (int enc = 0; enc < 3; enc++) {
        reset((kiln_string_encoding)enc);
        kiln_cval *keep = vals(1);
        *keep = v;
        uint32_t at = 256;
        kiln_cval out;
        if (kiln_cabi_store(&cx, t, keep, at) < 0 || kiln_cabi_load(&cx, t, at, &out) < 0) {
            fprintf(stderr, "  memory round trip (enc %d): %s\n", enc, cx.err);
            ok = 0;
        } else if (!eq(t, keep, &out)) {
            fprintf(stderr, "  memory round trip (enc %d) differs\n", enc);
            ok = 0;
        }
        kiln_val *flat = kiln_cabi_alloc(&cx, (t->flat + 1) * sizeof *flat);
        if (kiln_cabi_lower_flat(&cx, t, keep, flat) < 0 ||
            kiln_cabi_lift_flat(&cx, t, flat, &out) < 0) {
            fprintf(stderr, "  flat round trip (enc %d): %s\n", enc, cx.err);
            ok = 0;
        } else if (!eq(t, keep, &out)) {
            fprintf(stderr, "  flat round trip (enc %d) differs\n", enc);
            ok = 0;
        }
    }
    return ok;
}

/* ---- tests ---- */

static void test_layouts(void)
{
    const kiln_ctype *r = agg(KILN_CT_RECORD, 2, P(KILN_CT_U8), P(KILN_CT_U32));
    CHECK_INT(r->size, 8);
    CHECK_INT(r->align, 4);
    CHECK_INT(r->flat, 2);
    reset(KILN_STRENC_UTF8);
    kiln_cval v = A(2, U(0x11), U(0x22334455));
    CHECK_INT(kiln_cabi_store(&cx, r, &v, 16), 0);
    CHECK_INT(membuf[16], 0x11);
    CHECK_INT(membuf[20], 0x55);
    CHECK_INT(membuf[23], 0x22);

    /* record { a: u8, b: u16, c: u8, d: u64 } = 16 bytes, align 8 (d at 8) */
    const kiln_ctype *r2 =
        agg(KILN_CT_RECORD, 4, P(KILN_CT_U8), P(KILN_CT_U16), P(KILN_CT_U8), P(KILN_CT_U64));
    CHECK_INT(r2->size, 16);
    CHECK_INT(r2->align, 8);

    /* discriminant size by case count */
    CHECK_INT(labels(KILN_CT_ENUM, 2)->size, 1);
    CHECK_INT(labels(KILN_CT_ENUM, 256)->size, 1);
    CHECK_INT(labels(KILN_CT_ENUM, 257)->size, 2);
    CHECK_INT(labels(KILN_CT_ENUM, 257)->align, 2);
    kiln_ctype big = {.kind = KILN_CT_ENUM, .nitems = 65537};
    big.items = kiln_calloc(65537, sizeof *big.items);
    CHECK(big.items != NULL);
    CHECK_INT(kiln_ctype_layout(&big), 0);
    CHECK_INT(big.size, 4);
    kiln_free(big.items);

    /* variants: payload after the discriminant aligned to the largest case */
    const kiln_ctype *o64 = elem1(KILN_CT_OPTION, P(KILN_CT_U64));
    CHECK_INT(o64->size, 16);
    CHECK_INT(o64->align, 8);
    const kiln_ctype *rs = result(NULL, P(KILN_CT_STRING));
    CHECK_INT(rs->size, 12);
    CHECK_INT(rs->align, 4);
    const kiln_ctype *vu8 = agg(KILN_CT_VARIANT, 3, NULL, P(KILN_CT_U8), P(KILN_CT_U16));
    CHECK_INT(vu8->size, 4);
    CHECK_INT(vu8->align, 2);

    /* flags: 1/2/4 bytes by count; 33 labels = 2 words */
    CHECK_INT(labels(KILN_CT_FLAGS, 8)->size, 1);
    CHECK_INT(labels(KILN_CT_FLAGS, 9)->size, 2);
    CHECK_INT(labels(KILN_CT_FLAGS, 17)->size, 4);
    CHECK_INT(labels(KILN_CT_FLAGS, 32)->flat, 1);
    const kiln_ctype *f33 = labels(KILN_CT_FLAGS, 33);
    CHECK_INT(f33->size, 8);
    CHECK_INT(f33->align, 4);
    CHECK_INT(f33->flat, 2);
    CHECK_INT(labels(KILN_CT_FLAGS, 65)->flat, 3);

    /* fixed lists, strings, lists */
    const kiln_ctype *fl = fixed(P(KILN_CT_U16), 3);
    CHECK_INT(fl->size, 6);
    CHECK_INT(fl->align, 2);
    CHECK_INT(fl->flat, 3);
    CHECK_INT(P(KILN_CT_STRING)->size, 8);
    CHECK_INT(elem1(KILN_CT_LIST, P(KILN_CT_U64))->align, 4);

    /* option<u32> some(7): discriminant byte 1, payload at 4 */
    const kiln_ctype *o32 = elem1(KILN_CT_OPTION, P(KILN_CT_U32));
    reset(KILN_STRENC_UTF8);
    kiln_cval seven = U(7), some = V(1, &seven);
    CHECK_INT(kiln_cabi_store(&cx, o32, &some, 32), 0);
    CHECK_INT(membuf[32], 1);
    CHECK_INT(membuf[36], 7);
}

static void test_flattening(void)
{
    char sig[64];
    const kiln_ctype *of32 = elem1(KILN_CT_OPTION, P(KILN_CT_F32));
    const kiln_ctype *ru64f64 = result(P(KILN_CT_U64), P(KILN_CT_F64));
    const kiln_ctype *vfi = agg(KILN_CT_VARIANT, 2, P(KILN_CT_F32), P(KILN_CT_U32));
    const kiln_ctype *vfd = agg(KILN_CT_VARIANT, 2, P(KILN_CT_F32), P(KILN_CT_F64));
    const kiln_ctype *vrec = agg(
        KILN_CT_VARIANT, 2, agg(KILN_CT_TUPLE, 2, P(KILN_CT_F32), P(KILN_CT_U8)), P(KILN_CT_S64));
    const kiln_ctype *ps[] = {of32, ru64f64, vfi, vfd, vrec, P(KILN_CT_STRING)};
    CHECK_INT(kiln_cabi_core_sig(func(NULL, 6, ps), 0, sig, sizeof sig), 0);
    CHECK_STR(sig, "if"
                   "ij"
                   "ii"
                   "ij"
                   "iji"
                   "ii:");
    CHECK_INT(kiln_cabi_core_sig(func(P(KILN_CT_STRING), 1, ps), 0, sig, sizeof sig), 0);
    CHECK_STR(sig, "if:i");
    CHECK_INT(kiln_cabi_core_sig(func(P(KILN_CT_STRING), 1, ps), 1, sig, sizeof sig), 0);
    CHECK_STR(sig, "ifi:");
    CHECK_INT(kiln_cabi_core_sig(func(P(KILN_CT_F64), 0, ps), 1, sig, sizeof sig), 0);
    CHECK_STR(sig, ":d");
    const kiln_ctype *f33 = labels(KILN_CT_FLAGS, 33);
    CHECK_INT(kiln_cabi_core_sig(func(NULL, 1, &f33), 1, sig, sizeof sig), 0);
    CHECK_STR(sig, "ii:");
    CHECK_INT(kiln_cabi_core_sig(func(NULL, 1, &f33), 1, sig, 3), -1);

    /* the variant's joined slots carry each case's bits: f32 in an i64 slot */
    reset(KILN_STRENC_UTF8);
    kiln_cval f = {.f32 = 1.5f}, v = V(0, &f);
    kiln_val flat[3];
    CHECK_INT(kiln_cabi_lower_flat(&cx, vfd, &v, flat), 0);
    CHECK_INT(flat[0].i32, 0);
    CHECK_INT(flat[1].i64, 0x3fc00000);
    kiln_cval d = {.f64 = -2.25}, v2 = V(1, &d);
    CHECK_INT(kiln_cabi_lower_flat(&cx, vfd, &v2, flat), 0);
    CHECK_INT(flat[0].i32, 1);
    CHECK(flat[1].i64 == 0xc002000000000000ull);
    kiln_cval out;
    CHECK_INT(kiln_cabi_lift_flat(&cx, vfd, flat, &out), 0);
    CHECK(out.var.disc == 1 && out.var.payload->f64 == -2.25);
    /* f32 payload in an i32 slot */
    CHECK_INT(kiln_cabi_lower_flat(&cx, vfi, &v, flat), 0);
    CHECK_INT(flat[1].i32, 0x3fc00000);
    CHECK_INT(kiln_cabi_lift_flat(&cx, vfi, flat, &out), 0);
    CHECK(out.var.disc == 0 && out.var.payload->f32 == 1.5f);
    /* an i64 slot holding an i32 payload: the upper bits are ignored on lift */
    const kiln_ctype *vuj = agg(KILN_CT_VARIANT, 2, P(KILN_CT_U32), P(KILN_CT_U64));
    flat[0].i32 = 0;
    flat[1].i64 = 0xffffffff00000005ull;
    CHECK_INT(kiln_cabi_lift_flat(&cx, vuj, flat, &out), 0);
    CHECK(out.var.payload->u == 5);
}

static void test_roundtrips(void)
{
    static const kiln_ctype_kind ints[] = {KILN_CT_U8, KILN_CT_U16, KILN_CT_U32, KILN_CT_U64};
    static const uint64_t maxs[] = {0xff, 0xffff, 0xffffffffu, 0xffffffffffffffffull};
    for (int i = 0; i < 4; i++)
        CHECK(roundtrip(P(ints[i]), U(maxs[i])));
    kiln_cval s8 = {.s = -128}, s16 = {.s = -32768}, s32 = {.s = INT32_MIN}, s64 = {.s = -1};
    CHECK(roundtrip(P(KILN_CT_S8), s8));
    CHECK(roundtrip(P(KILN_CT_S16), s16));
    CHECK(roundtrip(P(KILN_CT_S32), s32));
    CHECK(roundtrip(P(KILN_CT_S64), s64));
    CHECK(roundtrip(P(KILN_CT_BOOL), U(1)));
    CHECK(roundtrip(P(KILN_CT_BOOL), U(0)));
    kiln_cval f = {.f32 = -0.0f}, d = {.f64 = 1e300};
    CHECK(roundtrip(P(KILN_CT_F32), f));
    CHECK(roundtrip(P(KILN_CT_F64), d));
    CHECK(roundtrip(P(KILN_CT_CHAR), U(0x1f600)));
    CHECK(roundtrip(P(KILN_CT_CHAR), U(0xd7ff)));
    CHECK(roundtrip(P(KILN_CT_STRING), S("")));
    CHECK(roundtrip(P(KILN_CT_STRING), S("h\xc3\xa9llo \xf0\x9f\x98\x80 \xe2\x82\xac")));
    CHECK(roundtrip(P(KILN_CT_STRING), S("caf\xc3\xa9")));

    const kiln_ctype *lu16 = elem1(KILN_CT_LIST, P(KILN_CT_U16));
    CHECK(roundtrip(lu16, A(3, U(1), U(0xffff), U(3))));
    CHECK(roundtrip(lu16, A(0)));
    const kiln_ctype *ls = elem1(KILN_CT_LIST, P(KILN_CT_STRING));
    CHECK(roundtrip(ls, A(2, S("a"), S("\xce\xbb"))));
    CHECK(roundtrip(fixed(P(KILN_CT_U8), 3), A(3, U(7), U(8), U(9))));
    const kiln_ctype *rec =
        agg(KILN_CT_RECORD, 3, P(KILN_CT_U8), P(KILN_CT_U32), P(KILN_CT_STRING));
    CHECK(roundtrip(rec, A(3, U(1), U(2), S("three"))));
    kiln_cval fv = {.f64 = 0.5};
    CHECK(roundtrip(agg(KILN_CT_TUPLE, 2, P(KILN_CT_S8), P(KILN_CT_F64)), A(2, s8, fv)));
    const kiln_ctype *var =
        agg(KILN_CT_VARIANT, 4, NULL, P(KILN_CT_U64), P(KILN_CT_F32), P(KILN_CT_STRING));
    kiln_cval big = U(1ull << 40), half = {.f32 = 0.5f}, str = S("x");
    CHECK(roundtrip(var, V(0, NULL)));
    CHECK(roundtrip(var, V(1, &big)));
    CHECK(roundtrip(var, V(2, &half)));
    CHECK(roundtrip(var, V(3, &str)));
    CHECK(roundtrip(labels(KILN_CT_ENUM, 3), V(2, NULL)));
    const kiln_ctype *os = elem1(KILN_CT_OPTION, P(KILN_CT_STRING));
    CHECK(roundtrip(os, V(0, NULL)));
    CHECK(roundtrip(os, V(1, &str)));
    const kiln_ctype *res = result(P(KILN_CT_U32), P(KILN_CT_STRING));
    kiln_cval small = U(42);
    CHECK(roundtrip(res, V(0, &small)));
    CHECK(roundtrip(res, V(1, &str)));
    CHECK(roundtrip(result(NULL, NULL), V(1, NULL)));
    /* nested: list<option<record{u8, list<string>}>> */
    const kiln_ctype *inner = agg(KILN_CT_RECORD, 2, P(KILN_CT_U8), ls);
    const kiln_ctype *nested = elem1(KILN_CT_LIST, elem1(KILN_CT_OPTION, inner));
    kiln_cval in = A(2, U(9), A(2, S("p"), S("q")));
    CHECK(roundtrip(nested, A(2, V(1, &in), V(0, NULL))));

    uint32_t w5 = 0x15, w33[2] = {0x80000001u, 1};
    kiln_cval f5 = {.flags = &w5}, fl33 = {.flags = w33};
    CHECK(roundtrip(labels(KILN_CT_FLAGS, 5), f5));
    CHECK(roundtrip(labels(KILN_CT_FLAGS, 33), fl33));
    /* flags memory form: 33 labels are two little-endian words */
    reset(KILN_STRENC_UTF8);
    CHECK_INT(kiln_cabi_store(&cx, labels(KILN_CT_FLAGS, 33), &fl33, 64), 0);
    CHECK_INT(membuf[64], 1);
    CHECK_INT(membuf[67], 0x80);
    CHECK_INT(membuf[68], 1);
    /* bits past the labels are dropped */
    uint32_t w3 = 0xff;
    kiln_cval f3 = {.flags = &w3}, out;
    CHECK_INT(kiln_cabi_store(&cx, labels(KILN_CT_FLAGS, 3), &f3, 64), 0);
    CHECK_INT(membuf[64], 7);
    membuf[64] = 0xff;
    CHECK_INT(kiln_cabi_load(&cx, labels(KILN_CT_FLAGS, 3), 64, &out), 0);
    CHECK_INT(out.flags[0], 7);

    const kiln_ctype *m = map(P(KILN_CT_STRING), P(KILN_CT_U8));
    CHECK(roundtrip(m, A(2, A(2, S("k1"), U(1)), A(2, S("k2"), U(2)))));

    /* NaNs are canonicalised both ways */
    reset(KILN_STRENC_UTF8);
    uint32_t nanbits = 0x7fa00001u;
    float nan;
    memcpy(&nan, &nanbits, 4);
    kiln_cval fn = {.f32 = nan};
    CHECK_INT(kiln_cabi_store(&cx, P(KILN_CT_F32), &fn, 64), 0);
    CHECK_INT(membuf[64] | membuf[65] << 8 | membuf[66] << 16 | (uint32_t)membuf[67] << 24,
              0x7fc00000);
    memcpy(membuf + 64, &nanbits, 4);
    CHECK_INT(kiln_cabi_load(&cx, P(KILN_CT_F32), 64, &out), 0);
    uint32_t got;
    memcpy(&got, &out.f32, 4);
    CHECK_INT(got, 0x7fc00000);
    uint64_t dnan = 0xfff0000000000001ull;
    memcpy(membuf + 64, &dnan, 8);
    CHECK_INT(kiln_cabi_load(&cx, P(KILN_CT_F64), 64, &out), 0);
    uint64_t gotd;
    memcpy(&gotd, &out.f64, 8);
    CHECK(gotd == 0x7ff8000000000000ull);

    /* bool: any nonzero byte lifts as true */
    membuf[64] = 0x80;
    CHECK_INT(kiln_cabi_load(&cx, P(KILN_CT_BOOL), 64, &out), 0);
    CHECK_INT(out.u, 1);
    /* integers lifted from wider core values wrap / sign-extend */
    kiln_val fl = {.i32 = 0x1ff};
    CHECK_INT(kiln_cabi_lift_flat(&cx, P(KILN_CT_U8), &fl, &out), 0);
    CHECK_INT(out.u, 0xff);
    CHECK_INT(kiln_cabi_lift_flat(&cx, P(KILN_CT_S8), &fl, &out), 0);
    CHECK_INT(out.s, -1);
    kiln_cval m1 = {.s = -1};
    CHECK_INT(kiln_cabi_lower_flat(&cx, P(KILN_CT_S8), &m1, &fl), 0);
    CHECK(fl.i32 == 0xffffffffu);
}

static uint16_t u16at(uint32_t p)
{
    return (uint16_t)(membuf[p] | membuf[p + 1] << 8);
}

static void test_strings(void)
{
    const kiln_ctype *st = P(KILN_CT_STRING);
    kiln_val flat[2];
    kiln_cval out;
    /* "a😀é" (7 UTF-8 bytes) into UTF-16: allocate 14 (align 2), shrink to 8 */
    reset(KILN_STRENC_UTF16);
    kiln_cval s = S("a\xf0\x9f\x98\x80\xc3\xa9");
    CHECK_INT(kiln_cabi_lower_flat(&cx, st, &s, flat), 0);
    CHECK_INT(flat[1].i32, 4);
    CHECK_INT(H.calls, 2);
    CHECK(H.log[0][1] == 0 && H.log[0][2] == 2 && H.log[0][3] == 14);
    CHECK(H.log[1][1] == 14 && H.log[1][2] == 2 && H.log[1][3] == 8);
    uint32_t p = flat[0].i32;
    CHECK_INT(u16at(p), 'a');
    CHECK_INT(u16at(p + 2), 0xd83d);
    CHECK_INT(u16at(p + 4), 0xde00);
    CHECK_INT(u16at(p + 6), 0xe9);
    CHECK_INT(kiln_cabi_lift_flat(&cx, st, flat, &out), 0);
    CHECK(eq(st, &s, &out));

    /* latin1+utf16: "café" fits latin1: allocate 5 (the UTF-8 length), shrink to 4 */
    reset(KILN_STRENC_LATIN1_UTF16);
    kiln_cval cafe = S("caf\xc3\xa9");
    CHECK_INT(kiln_cabi_lower_flat(&cx, st, &cafe, flat), 0);
    CHECK_INT(flat[1].i32, 4);
    CHECK_INT(membuf[flat[0].i32 + 3], 0xe9);
    CHECK_INT(H.calls, 2);
    CHECK(H.log[0][2] == 2 && H.log[0][3] == 5 && H.log[1][1] == 5 && H.log[1][3] == 4);
    CHECK_INT(kiln_cabi_lift_flat(&cx, st, flat, &out), 0);
    CHECK(eq(st, &cafe, &out));
    /* "café😀" falls back to UTF-16: 5 -> 2*9 -> 12 bytes, 6 units tagged */
    reset(KILN_STRENC_LATIN1_UTF16);
    kiln_cval cafe2 = S("caf\xc3\xa9\xf0\x9f\x98\x80");
    CHECK_INT(kiln_cabi_lower_flat(&cx, st, &cafe2, flat), 0);
    CHECK(flat[1].i32 == (6u | 1u << 31));
    CHECK_INT(H.calls, 3);
    CHECK(H.log[0][3] == 9 && H.log[1][1] == 9 && H.log[1][3] == 18 && H.log[2][3] == 12);
    p = flat[0].i32;
    CHECK_INT(u16at(p), 'c');
    CHECK_INT(u16at(p + 6), 0xe9);
    CHECK_INT(u16at(p + 8), 0xd83d);
    CHECK_INT(kiln_cabi_lift_flat(&cx, st, flat, &out), 0);
    CHECK(eq(st, &cafe2, &out));
    /* pure ASCII into latin1: no shrink needed */
    reset(KILN_STRENC_LATIN1_UTF16);
    kiln_cval abc = S("abc");
    CHECK_INT(kiln_cabi_lower_flat(&cx, st, &abc, flat), 0);
    CHECK_INT(H.calls, 1);
    CHECK_INT(flat[1].i32, 3);

    /* lifting latin1 0xe9 0xff gives UTF-8 é ÿ */
    reset(KILN_STRENC_LATIN1_UTF16);
    membuf[100] = 0xe9, membuf[101] = 0xff;
    flat[0].i32 = 100, flat[1].i32 = 2;
    CHECK_INT(kiln_cabi_lift_flat(&cx, st, flat, &out), 0);
    CHECK(out.str.len == 4 && memcmp(out.str.ptr, "\xc3\xa9\xc3\xbf", 4) == 0);

    /* UTF-8 guest: plain copy, one allocation */
    reset(KILN_STRENC_UTF8);
    CHECK_INT(kiln_cabi_lower_flat(&cx, st, &cafe, flat), 0);
    CHECK_INT(flat[1].i32, 5);
    CHECK_INT(H.calls, 1);
    CHECK(memcmp(membuf + flat[0].i32, "caf\xc3\xa9", 5) == 0);
}

/* Lifting the string bytes b[0..n) in encoding enc from address at fails. */
static int lift_str(kiln_string_encoding enc, const void *b, uint32_t n, uint32_t units,
                    uint32_t at)
{
    reset(enc);
    memcpy(membuf + at, b, n);
    kiln_val flat[2] = {{.i32 = at}, {.i32 = units}};
    kiln_cval out;
    return kiln_cabi_lift_flat(&cx, P(KILN_CT_STRING), flat, &out);
}

static void test_string_traps(void)
{
    /* invalid UTF-8: stray continuation, overlong, surrogate, > U+10FFFF, truncated */
    CHECK_INT(lift_str(KILN_STRENC_UTF8, "a\x80", 2, 2, 100), -1);
    CHECK(strstr(cx.err, "UTF-8") != NULL);
    CHECK_INT(lift_str(KILN_STRENC_UTF8, "\xc0\xaf", 2, 2, 100), -1);
    CHECK_INT(lift_str(KILN_STRENC_UTF8, "\xed\xa0\x80", 3, 3, 100), -1);
    CHECK_INT(lift_str(KILN_STRENC_UTF8, "\xf4\x90\x80\x80", 4, 4, 100), -1);
    CHECK_INT(lift_str(KILN_STRENC_UTF8, "\xe2\x82", 2, 2, 100), -1);
    CHECK_INT(lift_str(KILN_STRENC_UTF8, "\xe2\x82\xac", 3, 3, 100), 0);
    /* invalid UTF-16: lone low, high at the end, high then non-low */
    const uint8_t lo[] = {0x00, 0xdc}, hi[] = {0x61, 0, 0x3d, 0xd8}, hx[] = {0x3d, 0xd8, 0x61, 0};
    CHECK_INT(lift_str(KILN_STRENC_UTF16, lo, 2, 1, 100), -1);
    CHECK(strstr(cx.err, "UTF-16") != NULL);
    CHECK_INT(lift_str(KILN_STRENC_UTF16, hi, 4, 2, 100), -1);
    CHECK_INT(lift_str(KILN_STRENC_UTF16, hx, 4, 2, 100), -1);
    CHECK_INT(lift_str(KILN_STRENC_LATIN1_UTF16, lo, 2, 1u | 1u << 31, 100), -1);
    /* misaligned UTF-16 / latin1+utf16 pointer; UTF-8 needs no alignment */
    CHECK_INT(lift_str(KILN_STRENC_UTF16, "a\0", 2, 1, 101), -1);
    CHECK(strstr(cx.err, "aligned") != NULL);
    CHECK_INT(lift_str(KILN_STRENC_LATIN1_UTF16, "a", 1, 1, 101), -1);
    CHECK_INT(lift_str(KILN_STRENC_UTF8, "a", 1, 1, 101), 0);
    /* out of bounds; too long (2^28 bytes); hostile lengths */
    CHECK_INT(lift_str(KILN_STRENC_UTF8, "", 0, 200, MEM_SIZE - 100), -1);
    CHECK(strstr(cx.err, "out of bounds") != NULL);
    CHECK_INT(lift_str(KILN_STRENC_UTF8, "", 0, 1u << 28, 0), -1);
    CHECK(strstr(cx.err, "maximum") != NULL);
    CHECK_INT(lift_str(KILN_STRENC_UTF8, "", 0, 0xffffffffu, 0xffffffffu), -1);
    CHECK_INT(lift_str(KILN_STRENC_UTF16, "", 0, 0x7fffffffu, 0), -1);
    CHECK_INT(lift_str(KILN_STRENC_LATIN1_UTF16, "", 0, 0xffffffffu, 0), -1);
    CHECK_INT(lift_str(KILN_STRENC_UTF8, "", 0, 0, MEM_SIZE), 0); /* empty at the end */
    CHECK_INT(lift_str(KILN_STRENC_UTF8, "", 0, 0, MEM_SIZE + 1), -1);

    /* host strings that are not UTF-8 are refused */
    reset(KILN_STRENC_UTF8);
    kiln_cval bad = S("\xff"), out;
    kiln_val flat[2];
    CHECK_INT(kiln_cabi_lower_flat(&cx, P(KILN_CT_STRING), &bad, flat), -1);
    (void)out;
}

static void test_traps(void)
{
    kiln_cval out;
    kiln_val fl[4];
    /* char: out of range, surrogate (memory and flat), and when lowering */
    reset(KILN_STRENC_UTF8);
    fl[0].i32 = 0x110000;
    CHECK_INT(kiln_cabi_lift_flat(&cx, P(KILN_CT_CHAR), fl, &out), -1);
    CHECK(strstr(cx.err, "out of range") != NULL);
    fl[0].i32 = 0xdfff;
    CHECK_INT(kiln_cabi_lift_flat(&cx, P(KILN_CT_CHAR), fl, &out), -1);
    CHECK(strstr(cx.err, "surrogate") != NULL);
    membuf[8] = 0x00, membuf[9] = 0xd8;
    CHECK_INT(kiln_cabi_load(&cx, P(KILN_CT_CHAR), 8, &out), -1);
    kiln_cval sur = U(0xd800);
    CHECK_INT(kiln_cabi_lower_flat(&cx, P(KILN_CT_CHAR), &sur, fl), -1);
    CHECK_INT(kiln_cabi_store(&cx, P(KILN_CT_CHAR), &sur, 8), -1);

    /* discriminants: variant, enum, option, result; memory and flat */
    const kiln_ctype *e3 = labels(KILN_CT_ENUM, 3);
    membuf[16] = 3;
    CHECK_INT(kiln_cabi_load(&cx, e3, 16, &out), -1);
    CHECK(strstr(cx.err, "discriminant") != NULL);
    membuf[16] = 2;
    CHECK_INT(kiln_cabi_load(&cx, e3, 16, &out), 0);
    const kiln_ctype *ou8 = elem1(KILN_CT_OPTION, P(KILN_CT_U8));
    membuf[16] = 2;
    CHECK_INT(kiln_cabi_load(&cx, ou8, 16, &out), -1);
    fl[0].i32 = 2;
    CHECK_INT(kiln_cabi_lift_flat(&cx, ou8, fl, &out), -1);
    CHECK_INT(kiln_cabi_lift_flat(&cx, result(NULL, NULL), fl, &out), -1);
    const kiln_ctype *e300 = labels(KILN_CT_ENUM, 300);
    membuf[16] = 0x2c, membuf[17] = 1; /* 300 */
    CHECK_INT(kiln_cabi_load(&cx, e300, 16, &out), -1);
    membuf[16] = 0x2b; /* 299 */
    CHECK_INT(kiln_cabi_load(&cx, e300, 16, &out), 0);
    CHECK_INT(out.var.disc, 299);
    /* host-side case out of range, missing payload */
    kiln_cval v9 = V(9, NULL), v1 = V(1, NULL);
    CHECK_INT(kiln_cabi_lower_flat(&cx, e3, &v9, fl), -1);
    CHECK_INT(kiln_cabi_store(&cx, ou8, &v1, 16), -1);

    /* load/store at misaligned or out-of-bounds pointers */
    CHECK_INT(kiln_cabi_load(&cx, P(KILN_CT_U32), 2, &out), -1);
    CHECK(strstr(cx.err, "aligned") != NULL);
    CHECK_INT(kiln_cabi_load(&cx, P(KILN_CT_U64), MEM_SIZE - 4, &out), -1);
    CHECK_INT(kiln_cabi_load(&cx, P(KILN_CT_U8), MEM_SIZE, &out), -1);
    CHECK_INT(kiln_cabi_load(&cx, P(KILN_CT_U8), MEM_SIZE - 1, &out), 0);
    kiln_cval one = U(1);
    CHECK_INT(kiln_cabi_store(&cx, P(KILN_CT_U16), &one, 0xffffffffu), -1);

    /* lists: length overflow in 64 bits, too long, out of bounds, misaligned */
    const kiln_ctype *lu32 = elem1(KILN_CT_LIST, P(KILN_CT_U32));
    const kiln_ctype *lu8 = elem1(KILN_CT_LIST, P(KILN_CT_U8));
    fl[0].i32 = 0, fl[1].i32 = 0xffffffffu; /* 2^32-1 elements of 4 bytes */
    CHECK_INT(kiln_cabi_lift_flat(&cx, lu32, fl, &out), -1);
    CHECK(strstr(cx.err, "maximum") != NULL);
    fl[0].i32 = 0x40000000u, fl[1].i32 = 0x40000000u; /* 2^30 * 4 wraps to 0 in 32 bits */
    CHECK_INT(kiln_cabi_lift_flat(&cx, lu32, fl, &out), -1);
    fl[0].i32 = 0, fl[1].i32 = (1u << 28) - 1; /* allowed length, beyond the memory */
    CHECK_INT(kiln_cabi_lift_flat(&cx, lu8, fl, &out), -1);
    CHECK(strstr(cx.err, "out of bounds") != NULL);
    fl[0].i32 = 0xfffffffeu, fl[1].i32 = 4;
    CHECK_INT(kiln_cabi_lift_flat(&cx, lu8, fl, &out), -1);
    fl[0].i32 = 6, fl[1].i32 = 1;
    CHECK_INT(kiln_cabi_lift_flat(&cx, lu32, fl, &out), -1);
    CHECK(strstr(cx.err, "aligned") != NULL);
    fl[0].i32 = 8, fl[1].i32 = 2;
    CHECK_INT(kiln_cabi_lift_flat(&cx, lu32, fl, &out), 0);
    CHECK_INT(out.agg.n, 2);
    /* a list in memory with a hostile length */
    membuf[0] = 0, membuf[4] = 0xff, membuf[5] = 0xff, membuf[6] = 0xff, membuf[7] = 0xff;
    CHECK_INT(kiln_cabi_load(&cx, lu8, 0, &out), -1);
    /* fixed list / record of the wrong length from the host */
    kiln_cval two = A(2, U(1), U(2));
    CHECK_INT(kiln_cabi_store(&cx, fixed(P(KILN_CT_U8), 3), &two, 0), -1);
    CHECK_INT(kiln_cabi_lower_flat(&cx, agg(KILN_CT_RECORD, 1, P(KILN_CT_U8)), &two, fl), -1);

    /* realloc returning out-of-bounds / misaligned pointers; no realloc at all */
    kiln_cval l = A(2, U(1), U(2));
    reset(KILN_STRENC_UTF8);
    H.bad = 1;
    CHECK_INT(kiln_cabi_lower_flat(&cx, lu32, &l, fl), -1);
    CHECK(strstr(cx.err, "realloc") != NULL);
    kiln_cval s = S("hello");
    CHECK_INT(kiln_cabi_lower_flat(&cx, P(KILN_CT_STRING), &s, fl), -1);
    reset(KILN_STRENC_UTF8);
    H.bad = 2;
    CHECK_INT(kiln_cabi_lower_flat(&cx, lu32, &l, fl), -1);
    CHECK(strstr(cx.err, "aligned") != NULL);
    reset(KILN_STRENC_UTF16);
    H.bad = 2;
    CHECK_INT(kiln_cabi_lower_flat(&cx, P(KILN_CT_STRING), &s, fl), -1);
    reset(KILN_STRENC_UTF8);
    cx.realloc = NULL;
    CHECK_INT(kiln_cabi_lower_flat(&cx, lu32, &l, fl), -1);
    reset(KILN_STRENC_UTF8);
    cx.memory = NULL;
    fl[0].i32 = 0, fl[1].i32 = 0;
    CHECK_INT(kiln_cabi_lift_flat(&cx, lu32, fl, &out), -1);
    /* the realloc that shrinks is checked too: UTF-16 shrink to an odd pointer */
    reset(KILN_STRENC_UTF16);
    kiln_cval e = S("\xc3\xa9"); /* 2 bytes UTF-8: allocate 4, shrink to 2 */
    CHECK_INT(kiln_cabi_lower_flat(&cx, P(KILN_CT_STRING), &e, fl), 0);
    CHECK_INT(fl[1].i32, 1);
    CHECK_INT(H.calls, 2);
    reset(KILN_STRENC_UTF16);
    H.bad = 2, H.bad_after = 1;
    CHECK_INT(kiln_cabi_lower_flat(&cx, P(KILN_CT_STRING), &e, fl), -1);
    reset(KILN_STRENC_LATIN1_UTF16);
    H.bad = 1, H.bad_after = 1; /* latin1 -> UTF-16 growth out of bounds */
    kiln_cval wide = S("a\xe2\x82\xac");
    CHECK_INT(kiln_cabi_lower_flat(&cx, P(KILN_CT_STRING), &wide, fl), -1);

    /* a type whose size saturated in validation (two fixed lists of 2^28-1 bytes) */
    const kiln_ctype *huge = fixed(P(KILN_CT_U8), (1u << 28) - 1);
    const kiln_ctype *two_huge = agg(KILN_CT_RECORD, 2, huge, huge);
    CHECK_INT(two_huge->size, 1u << 28);
    CHECK_INT(kiln_cabi_load(&cx, two_huge, 0, &out), -1);
    CHECK(strstr(cx.err, "too large") != NULL);
    CHECK_INT(kiln_cabi_load(&cx, elem1(KILN_CT_OPTION, two_huge), 0, &out), -1);
    const kiln_ctype *fh = func(two_huge, 0, NULL);
    fl[0].i32 = 0;
    CHECK_INT(kiln_cabi_lift_results(&cx, fh, fl, &out), -1);
    CHECK(strstr(cx.err, "too large") != NULL);

    /* unsupported async types */
    const kiln_ctype *fut = elem1(KILN_CT_FUTURE, NULL);
    fl[0].i32 = 1;
    CHECK_INT(kiln_cabi_lift_flat(&cx, fut, fl, &out), -1);
}

static void test_functions(void)
{
    const kiln_ctype *ps[20];
    for (int i = 0; i < 20; i++)
        ps[i] = P(KILN_CT_U32);
    char sig[64];
    /* 16 flat params stay flat; 17 spill to one pointer */
    CHECK_INT(kiln_cabi_core_sig(func(NULL, 16, ps), 0, sig, sizeof sig), 0);
    CHECK_STR(sig, "iiiiiiiiiiiiiiii:");
    const kiln_ctype *f17 = func(NULL, 17, ps);
    CHECK_INT(kiln_cabi_core_sig(f17, 0, sig, sizeof sig), 0);
    CHECK_STR(sig, "i:");
    CHECK_INT(kiln_cabi_core_sig(f17, 1, sig, sizeof sig), 0);
    CHECK_STR(sig, "i:");

    reset(KILN_STRENC_UTF8);
    kiln_cval *args = vals(17), *back = vals(17);
    for (uint32_t i = 0; i < 17; i++)
        args[i] = U(1000 + i);
    kiln_val core[KILN_CABI_MAX_FLAT_PARAMS];
    size_t ncore = 0;
    CHECK_INT(kiln_cabi_lower_args(&cx, f17, args, core, &ncore), 0);
    CHECK_INT(ncore, 1);
    CHECK_INT(H.calls, 1);
    CHECK(H.log[0][2] == 4 && H.log[0][3] == 68);
    CHECK_INT(membuf[core[0].i32 + 16 * 4], (1016 & 0xff));
    CHECK_INT(kiln_cabi_lift_args(&cx, f17, core, back), 0);
    int same = 1;
    for (int i = 0; i < 17; i++)
        same &= back[i].u == 1000u + (unsigned)i;
    CHECK(same);
    /* the spilled-params pointer is checked */
    core[0].i32 = MEM_SIZE - 8;
    CHECK_INT(kiln_cabi_lift_args(&cx, f17, core, back), -1);
    core[0].i32 = 4098;
    CHECK_INT(kiln_cabi_lift_args(&cx, f17, core, back), -1);
    CHECK(strstr(cx.err, "aligned") != NULL);
    /* a string counts 2: 8 strings = 16 flat, 9 spill */
    const kiln_ctype *ss[9];
    for (int i = 0; i < 9; i++)
        ss[i] = P(KILN_CT_STRING);
    CHECK_INT(kiln_cabi_core_sig(func(NULL, 8, ss), 0, sig, sizeof sig), 0);
    CHECK_STR(sig, "iiiiiiiiiiiiiiii:");
    CHECK_INT(kiln_cabi_core_sig(func(NULL, 9, ss), 0, sig, sizeof sig), 0);
    CHECK_STR(sig, "i:");
    kiln_cval *sargs = vals(9), *sback = vals(9);
    for (int i = 0; i < 9; i++)
        sargs[i] = S(i % 2 ? "odd \xc3\xa9" : "even");
    for (int enc = 0; enc < 3; enc++) {
        reset((kiln_string_encoding)enc);
        CHECK_INT(kiln_cabi_lower_args(&cx, func(NULL, 9, ss), sargs, core, &ncore), 0);
        CHECK_INT(kiln_cabi_lift_args(&cx, func(NULL, 9, ss), core, sback), 0);
        CHECK(eq(P(KILN_CT_STRING), &sargs[8], &sback[8]) &&
              eq(P(KILN_CT_STRING), &sargs[7], &sback[7]));
    }

    /* results: > 1 flat value returns a pointer (lift) or takes a return pointer (lower) */
    const kiln_ctype *pair = agg(KILN_CT_TUPLE, 2, P(KILN_CT_U32), P(KILN_CT_U64));
    const kiln_ctype *fr = func(pair, 1, ps);
    CHECK_INT(kiln_cabi_core_sig(fr, 0, sig, sizeof sig), 0);
    CHECK_STR(sig, "i:i");
    CHECK_INT(kiln_cabi_core_sig(fr, 1, sig, sizeof sig), 0);
    CHECK_STR(sig, "ii:");
    reset(KILN_STRENC_UTF8);
    kiln_cval r = A(2, U(7), U(1ull << 40)), rb;
    CHECK_INT(kiln_cabi_lower_results(&cx, fr, &r, core, 64), 0);
    CHECK_INT(membuf[64], 7);
    CHECK_INT(membuf[72 + 5], 1);
    core[0].i32 = 64;
    CHECK_INT(kiln_cabi_lift_results(&cx, fr, core, &rb), 0);
    CHECK(eq(pair, &r, &rb));
    CHECK_INT(kiln_cabi_lower_results(&cx, fr, &r, core, 68), -1); /* misaligned retptr */
    CHECK_INT(kiln_cabi_lower_results(&cx, fr, &r, core, MEM_SIZE - 8), -1);
    core[0].i32 = MEM_SIZE;
    CHECK_INT(kiln_cabi_lift_results(&cx, fr, core, &rb), -1);
    core[0].i32 = 60;
    CHECK_INT(kiln_cabi_lift_results(&cx, fr, core, &rb), -1);
    /* one flat result stays in core[0] */
    const kiln_ctype *fu = func(P(KILN_CT_S16), 0, ps);
    kiln_cval m = {.s = -2};
    CHECK_INT(kiln_cabi_lower_results(&cx, fu, &m, core, 0), 0);
    CHECK(core[0].i32 == 0xfffffffeu);
    CHECK_INT(kiln_cabi_lift_results(&cx, fu, core, &rb), 0);
    CHECK_INT(rb.s, -2);
    /* a string result (2 flat) goes through memory */
    const kiln_ctype *fs = func(P(KILN_CT_STRING), 0, ps);
    kiln_cval hs = S("result");
    CHECK_INT(kiln_cabi_lower_results(&cx, fs, &hs, core, 128), 0);
    core[0].i32 = 128;
    CHECK_INT(kiln_cabi_lift_results(&cx, fs, core, &rb), 0);
    CHECK(eq(P(KILN_CT_STRING), &hs, &rb));
}

/* own/borrow through the ABI (the table rules themselves: resources_test.c) */
static kiln_resource_type rtype, other;
static kiln_ctype rstatic = {.kind = KILN_CT_RESOURCE, .name = "file"};
static const kiln_resource_type *resolve(void *ctx, const kiln_ctype *r)
{
    return r == &rstatic ? &rtype : NULL;
}

static void test_handles(void)
{
    kiln_resources *tab = kiln_resources_new();
    CHECK(tab != NULL);
    kiln_resource_type_init_host(&rtype, "file", NULL, NULL);
    kiln_resource_type_init_host(&other, "socket", NULL, NULL);
    kiln_ctype *own = mk(KILN_CT_OWN), *bor = mk(KILN_CT_BORROW);
    own->elem.type = bor->elem.type = &rstatic;
    lay(own), lay(bor);
    reset(KILN_STRENC_UTF8);
    cx.resources = tab;
    kiln_cval v = {.res = {42, &rtype}}, out;
    kiln_val fl[2];
    /* no resolver: own cannot pass */
    CHECK_INT(kiln_cabi_lower_flat(&cx, own, &v, fl), -1);
    cx.resource_type = resolve;
    CHECK_INT(kiln_cabi_lower_flat(&cx, own, &v, fl), 0);
    CHECK_INT(fl[0].i32, 1);
    CHECK_INT(kiln_cabi_lift_flat(&cx, own, fl, &out), 0);
    CHECK(out.res.rep == 42 && out.res.type == &rtype);
    CHECK_INT(kiln_cabi_lift_flat(&cx, own, fl, &out), -1); /* moved out */
    /* a value of another type is refused */
    kiln_cval wrong = {.res = {1, &other}};
    CHECK_INT(kiln_cabi_lower_flat(&cx, own, &wrong, fl), -1);
    /* own in memory; lift from a forged handle */
    CHECK_INT(kiln_cabi_store(&cx, own, &v, 8), 0);
    CHECK_INT(kiln_cabi_load(&cx, own, 8, &out), 0);
    CHECK_INT(out.res.rep, 42);
    membuf[8] = 0xff, membuf[9] = 0xff, membuf[10] = 0xff, membuf[11] = 0xff;
    CHECK_INT(kiln_cabi_load(&cx, own, 8, &out), -1);
    /* borrow: lends for the call; lowering one needs a call scope */
    CHECK_INT(kiln_cabi_lower_flat(&cx, bor, &v, fl), -1);
    CHECK_INT(kiln_resources_call_begin(tab, NULL, 0), 0);
    CHECK_INT(kiln_cabi_lower_flat(&cx, bor, &v, fl), 0);
    uint32_t bh = fl[0].i32;
    CHECK_INT(kiln_cabi_lift_flat(&cx, own, fl, &out), -1); /* a borrow is not an own */
    CHECK_INT(kiln_resource_drop(tab, &rtype, bh, NULL, 0), 0);
    CHECK_INT(kiln_resources_call_end(tab, NULL, 0), 0);
    CHECK_INT(kiln_resources_count(tab), 0);
    /* lifting a borrow lends the guest's handle until the call ends */
    CHECK_INT(kiln_cabi_lower_flat(&cx, own, &v, fl), 0);
    uint32_t oh = fl[0].i32;
    CHECK_INT(kiln_cabi_lift_flat(&cx, bor, fl, &out), -1); /* no call */
    CHECK_INT(kiln_resources_call_begin(tab, NULL, 0), 0);
    CHECK_INT(kiln_cabi_lift_flat(&cx, bor, fl, &out), 0);
    CHECK(out.res.rep == 42 && out.res.type == &rtype);
    CHECK_INT(kiln_resource_drop(tab, &rtype, oh, NULL, 0), -1);
    CHECK_INT(kiln_cabi_lift_flat(&cx, own, fl, &out), -1);
    CHECK_INT(kiln_resources_call_end(tab, NULL, 0), 0);
    CHECK_INT(kiln_cabi_lift_flat(&cx, own, fl, &out), 0);
    CHECK_INT(kiln_resources_count(tab), 0);
    kiln_resources_free(tab);
    cx.resources = NULL;
    cx.resource_type = NULL;
}

/* list<u8> as bytes (compact_bytes) and the arena limit against aliasing lists */
static void test_bytes_and_limits(void)
{
    const kiln_ctype *lu8 = elem1(KILN_CT_LIST, P(KILN_CT_U8));
    const kiln_ctype *lls = elem1(KILN_CT_LIST, lu8);
    reset(KILN_STRENC_UTF8);
    cx.compact_bytes = 1;
    kiln_cval b = {.str = {"\x00\x01\xff", 3}}, out;
    kiln_val fl[2];
    CHECK_INT(kiln_cabi_lower_flat(&cx, lu8, &b, fl), 0);
    CHECK_INT(fl[1].i32, 3);
    CHECK(memcmp(membuf + fl[0].i32, "\x00\x01\xff", 3) == 0);
    CHECK_INT(kiln_cabi_lift_flat(&cx, lu8, fl, &out), 0);
    CHECK(out.str.len == 3 && memcmp(out.str.ptr, "\x00\x01\xff", 3) == 0);
    CHECK_INT(kiln_cabi_store(&cx, lu8, &b, 16), 0);
    CHECK_INT(kiln_cabi_load(&cx, lu8, 16, &out), 0);
    CHECK(out.str.len == 3 && out.str.ptr[2] == '\xff');
    cx.compact_bytes = 0;
    CHECK_INT(kiln_cabi_load(&cx, lu8, 16, &out), 0);
    CHECK(out.agg.n == 3 && out.agg.items[2].u == 0xff);

    /* 2000 lists all aliasing the same 8 KiB: 16M values; refused past the limit */
    reset(KILN_STRENC_UTF8);
    for (uint32_t i = 0; i < 2000; i++) {
        uint32_t e[2] = {65536, 8192};
        memcpy(membuf + 1024 + 8 * i, e, 8);
    }
    fl[0].i32 = 1024, fl[1].i32 = 2000;
    cx.max_arena = 1 << 20;
    CHECK_INT(kiln_cabi_lift_flat(&cx, lls, fl, &out), -1);
    CHECK(strstr(cx.err, "limit") != NULL);
    cx.compact_bytes = 1; /* 16 MiB of copies: still refused */
    reset(KILN_STRENC_UTF8);
    for (uint32_t i = 0; i < 2000; i++) {
        uint32_t e[2] = {65536, 8192};
        memcpy(membuf + 1024 + 8 * i, e, 8);
    }
    CHECK_INT(kiln_cabi_lift_flat(&cx, lls, fl, &out), -1);
    cx.max_arena = 0; /* the default (256 MiB) admits them */
    reset(KILN_STRENC_UTF8);
    for (uint32_t i = 0; i < 2000; i++) {
        uint32_t e[2] = {65536, 8192};
        memcpy(membuf + 1024 + 8 * i, e, 8);
    }
    CHECK_INT(kiln_cabi_lift_flat(&cx, lls, fl, &out), 0);
    CHECK(out.agg.n == 2000 && out.agg.items[1999].str.len == 8192);
    cx.compact_bytes = 0;
    reset(KILN_STRENC_UTF8);
}

/* Random guest memory and flat values: every lift returns 0 or -1, never crashes (run
 * under ASan/UBSan), and both outcomes occur. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* a word that is often a plausible pointer or length */
static uint32_t word(void)
{
    switch (rnd() % 6) {
    case 0:
        return rnd() % 4096;
    case 1:
        return rnd() % 16;
    case 2:
        return 0xffffffffu - rnd() % 4;
    case 3:
        return (rnd() % 3) | (rnd() % 2 ? 1u << 31 : 0);
    default:
        return rnd();
    }
}

static void test_hostile(void)
{
    kiln_resources *tab = kiln_resources_new();
    kiln_resource_type_init_host(&rtype, "file", NULL, NULL);
    kiln_ctype *own = mk(KILN_CT_OWN);
    own->elem.type = &rstatic;
    lay(own);
    const kiln_ctype *ls = elem1(KILN_CT_LIST, P(KILN_CT_STRING));
    const kiln_ctype *types[] = {
        ls,
        elem1(KILN_CT_LIST, elem1(KILN_CT_LIST, P(KILN_CT_U8))),
        elem1(KILN_CT_OPTION, P(KILN_CT_STRING)),
        agg(KILN_CT_VARIANT, 4, P(KILN_CT_STRING), elem1(KILN_CT_LIST, P(KILN_CT_U32)),
            P(KILN_CT_F64), NULL),
        labels(KILN_CT_FLAGS, 33),
        agg(KILN_CT_RECORD, 3, P(KILN_CT_CHAR), P(KILN_CT_STRING), P(KILN_CT_U64)),
        map(P(KILN_CT_STRING), P(KILN_CT_U8)),
        fixed(P(KILN_CT_STRING), 2),
        elem1(KILN_CT_LIST, own),
        result(ls, labels(KILN_CT_ENUM, 300)),
    };
    int ntypes = sizeof types / sizeof types[0], bad = 0, okc = 0, errc = 0;
    for (int iter = 0; iter < 1500; iter++) {
        reset((kiln_string_encoding)(iter % 3));
        cx.resources = tab;
        cx.resource_type = resolve;
        for (uint32_t i = 0; i < 4096; i += 4) {
            uint32_t w = word();
            memcpy(membuf + i, &w, 4);
        }
        for (uint32_t i = 0; i < 8; i++) { /* a few live handles */
            uint32_t h;
            kiln_resource_new(tab, &rtype, i, &h, NULL, 0);
        }
        const kiln_ctype *t = types[rnd() % ntypes];
        kiln_cval out;
        uint32_t ptr = rnd() % 4096 / t->align * t->align;
        int r = kiln_cabi_load(&cx, t, ptr, &out);
        bad += r != 0 && r != -1;
        r == 0 ? okc++ : errc++;
        kiln_val flat[16];
        for (int i = 0; i < 16; i++)
            flat[i].i64 = (uint64_t)word() << (rnd() % 2 ? 32 : 0) | word();
        if (t->flat <= 16) {
            r = kiln_cabi_lift_flat(&cx, t, flat, &out);
            bad += r != 0 && r != -1;
            r == 0 ? okc++ : errc++;
        }
        kiln_resources_free(tab);
        tab = kiln_resources_new();
    }
    CHECK_INT(bad, 0);
    CHECK(okc > 0);
    CHECK(errc > 0);
    kiln_resources_free(tab);
    cx.resources = NULL;
    cx.resource_type = NULL;
}

int main(void)
{
    CHECK_INT(kiln_cabi_cx_init(&cx), 0);
    CHECK_INT(kiln_cabi_cx_init(&vcx), 0);
    test_layouts();
    test_flattening();
    test_roundtrips();
    test_strings();
    test_string_traps();
    test_traps();
    test_functions();
    test_handles();
    test_hostile();
    test_bytes_and_limits();
    kiln_cabi_cx_free(&cx);
    kiln_cabi_cx_free(&vcx);
    return test_finish("cabi_test");
}
