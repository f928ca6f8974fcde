/* canon.c — the Canonical ABI side of validation: the ABI properties of value types (size,
 * alignment, flattened core types, effective size), computed once per type from its
 * already validated children, and the validation of canon definitions (lift, lower,
 * resource and async built-ins) with their options. See internal.h for the scope. */
#include "component/internal.h"

#include <stdio.h>
#include <inttypes.h>
#include <string.h>

#define PRIM(k, s, a, sig)                                                                         \
    {                                                                                              \
        .kind = k, .size = s, .align = a, .flat = 1, .depth = 1, .flat_sig = sig, .tsize = 1       \
    }
const kiln_ctype kc_prims[] = {
    PRIM(KILN_CT_BOOL, 1, 1, "i"),
    PRIM(KILN_CT_S8, 1, 1, "i"),
    PRIM(KILN_CT_U8, 1, 1, "i"),
    PRIM(KILN_CT_S16, 2, 2, "i"),
    PRIM(KILN_CT_U16, 2, 2, "i"),
    PRIM(KILN_CT_S32, 4, 4, "i"),
    PRIM(KILN_CT_U32, 4, 4, "i"),
    PRIM(KILN_CT_S64, 8, 8, "j"),
    PRIM(KILN_CT_U64, 8, 8, "j"),
    PRIM(KILN_CT_F32, 4, 4, "f"),
    PRIM(KILN_CT_F64, 8, 8, "d"),
    PRIM(KILN_CT_CHAR, 4, 4, "i"),
    {.kind = KILN_CT_STRING,
     .size = 8,
     .align = 4,
     .flat = 2,
     .depth = 1,
     .has_heap = 1,
     .flat_sig = "ii",
     .tsize = 1},
    PRIM(KILN_CT_ERROR_CONTEXT, 4, 4, "i"),
};

/* ---- value types ---- */

int kc_resolve_val(kc_scope *s, kiln_cvalref *v, const char *what)
{
    if (v->prim != KILN_CVAL_INDEX) {
        v->type = &kc_prims[v->prim];
        return 0;
    }
    int ok;
    const kiln_ctype *t = kc_lookup(s, KILN_CSORT_TYPE, v->index, what, &ok);
    if (!ok) return -1;
    if (!t || !KILN_CT_IS_VALUE(t->kind)) {
        kc_sfail(s, "%s type %u: is a %s, not a value type", what, v->index, kc_kind_name(t));
        return -1;
    }
    v->type = t;
    return 0;
}

static uint64_t align_to(uint64_t n, uint32_t a)
{
    return (n + a - 1) / a * a;
}

static uint32_t sat(uint64_t v)
{
    return v > FLAT_LIMIT ? FLAT_LIMIT : (uint32_t)v;
}

const kiln_ctype *kiln_ctype_prim(kiln_ctype_kind k)
{
    return KILN_CT_IS_PRIMITIVE(k) ? &kc_prims[k] : NULL;
}

/* Size/align/flat/depth/flags of a variant-like type from its payload types
 * (CanonicalABI.md elem_size_variant, alignment_variant, flatten_variant: the payload is
 * aligned to the largest case alignment, the whole to the larger of that and the
 * discriminant's). */
static void variant_props(kiln_ctype *t, const kiln_ctype *const *cases, uint32_t n,
                          uint32_t ncases)
{
    uint32_t disc = ncases <= 256 ? 1 : ncases <= 65536 ? 2 : 4;
    uint32_t case_align = 1, maxsize = 0, maxflat = 0, depth = 0;
    for (uint32_t i = 0; i < n; i++) {
        const kiln_ctype *c = cases[i];
        if (!c) continue;
        if (c->align > case_align) case_align = c->align;
        if (c->size > maxsize) maxsize = c->size;
        if (c->flat > maxflat) maxflat = c->flat;
        if (c->depth > depth) depth = c->depth;
        t->has_borrow |= c->has_borrow;
        t->has_heap |= c->has_heap;
        t->has_handle |= c->has_handle;
    }
    uint32_t align = disc > case_align ? disc : case_align;
    t->size = sat(align_to(align_to(disc, case_align) + (uint64_t)maxsize, align));
    t->align = align;
    t->flat = sat((uint64_t)maxflat + 1);
    t->depth = depth + 1;
}

int kiln_ctype_layout(kiln_ctype *t)
{
    t->has_borrow = t->has_heap = t->has_handle = 0;
    switch (t->kind) {
    case KILN_CT_RECORD:
    case KILN_CT_TUPLE: {
        uint64_t size = 0, flat = 0;
        uint32_t align = 1, depth = 0;
        for (uint32_t i = 0; i < t->nitems; i++) {
            const kiln_ctype *c = t->items[i].type.type;
            if (!c) return -1;
            size = align_to(size, c->align) + (uint64_t)c->size;
            if (size > FLAT_LIMIT) size = FLAT_LIMIT;
            if (c->align > align) align = c->align;
            flat += c->flat;
            if (c->depth > depth) depth = c->depth;
            t->has_borrow |= c->has_borrow;
            t->has_heap |= c->has_heap;
            t->has_handle |= c->has_handle;
        }
        t->size = sat(align_to(size, align));
        t->align = align;
        t->flat = sat(flat);
        t->depth = depth + 1;
        break;
    }
    case KILN_CT_VARIANT: {
        /* laid out as a variant with one case of the largest payload size, alignment and
         * flat count (all that elem_size/alignment/flatten_variant use) */
        kiln_ctype big = {.kind = KILN_CT_RECORD, .align = 1};
        for (uint32_t i = 0; i < t->nitems; i++) {
            if (!t->items[i].has_type) continue;
            const kiln_ctype *c = t->items[i].type.type;
            if (!c) return -1;
            if (c->align > big.align) big.align = c->align;
            if (c->size > big.size) big.size = c->size;
            if (c->flat > big.flat) big.flat = c->flat;
            if (c->depth > big.depth) big.depth = c->depth;
            big.has_borrow |= c->has_borrow;
            big.has_heap |= c->has_heap;
            big.has_handle |= c->has_handle;
        }
        const kiln_ctype *cases[1] = {&big};
        variant_props(t, cases, 1, t->nitems);
        break;
    }
    case KILN_CT_ENUM:
        variant_props(t, NULL, 0, t->nitems);
        break;
    case KILN_CT_FLAGS:
        /* 1..32 flags: the smallest of u8/u16/u32 (the current specification); more
         * (earlier versions; types built by hand): ceil(n/32) u32 words */
        if (t->nitems <= 32) {
            t->size = t->align = t->nitems <= 8 ? 1 : t->nitems <= 16 ? 2 : 4;
            t->flat = 1;
        } else {
            t->flat = (t->nitems + 31) / 32;
            t->size = 4 * t->flat;
            t->align = 4;
        }
        t->depth = 1;
        break;
    case KILN_CT_LIST:
    case KILN_CT_MAP:
        if (!t->elem.type || (t->kind == KILN_CT_MAP && !t->elem2.type)) return -1;
        t->size = 8;
        t->align = 4;
        t->flat = 2;
        t->has_heap = 1;
        t->has_borrow = t->elem.type->has_borrow || (t->has_elem2 && t->elem2.type->has_borrow);
        t->has_handle = t->elem.type->has_handle || (t->has_elem2 && t->elem2.type->has_handle);
        t->depth = t->elem.type->depth + 1;
        if (t->has_elem2 && t->elem2.type->depth >= t->depth) t->depth = t->elem2.type->depth + 1;
        break;
    case KILN_CT_FIXED_LIST: {
        const kiln_ctype *c = t->elem.type;
        if (!c) return -1;
        uint64_t size = (uint64_t)c->size * t->len;
        if (size >= FLAT_LIMIT) return -1;
        t->size = (uint32_t)size;
        t->align = c->align;
        t->flat = sat((uint64_t)c->flat * t->len);
        t->depth = c->depth + 1;
        t->has_borrow = c->has_borrow;
        t->has_heap = c->has_heap;
        t->has_handle = c->has_handle;
        break;
    }
    case KILN_CT_OPTION: {
        if (!t->elem.type) return -1;
        const kiln_ctype *cases[2] = {NULL, t->elem.type};
        variant_props(t, cases, 2, 2);
        break;
    }
    case KILN_CT_RESULT: {
        const kiln_ctype *cases[2] = {t->has_elem ? t->elem.type : NULL,
                                      t->has_elem2 ? t->elem2.type : NULL};
        if ((t->has_elem && !cases[0]) || (t->has_elem2 && !cases[1])) return -1;
        variant_props(t, cases, 2, 2);
        break;
    }
    case KILN_CT_OWN:
    case KILN_CT_BORROW:
        t->size = t->align = 4;
        t->flat = 1;
        t->depth = 1;
        t->has_handle = 1;
        t->has_borrow = t->kind == KILN_CT_BORROW;
        break;
    case KILN_CT_STREAM:
    case KILN_CT_FUTURE:
        t->size = t->align = 4;
        t->flat = 1;
        t->depth = 1;
        if (t->has_elem) {
            if (!t->elem.type) return -1;
            t->depth = t->elem.type->depth + 1;
        }
        break;
    default:
        if (!KILN_CT_IS_PRIMITIVE(t->kind)) return -1;
        t->size = kc_prims[t->kind].size;
        t->align = kc_prims[t->kind].align;
        t->flat = kc_prims[t->kind].flat;
        t->has_heap = kc_prims[t->kind].has_heap;
        t->depth = 1;
        break;
    }
    return 0;
}

/* Joins two flat core types (Canonical ABI `join`). */
static char join(char a, char b)
{
    if (a == b) return a;
    if ((a == 'i' && b == 'f') || (a == 'f' && b == 'i')) return 'i';
    return 'j';
}

/* The Canonical ABI size and alignment of t with 64-bit pointers (CanonicalABI.md
 * elem_size(t, i64): strings and lists take 16 bytes, aligned to 8), saturating at 2^32;
 * *align gets the alignment. Spends the validation budget per node: UINT64_MAX when it is
 * exhausted. */
static uint64_t size64(kc_scope *s, const kiln_ctype *t, uint32_t *align, unsigned depth)
{
    const uint64_t cap = (uint64_t)1 << 32;
    *align = 1;
    if (!t || --s->x->match_budget < 0 || depth > KILN_COMPONENT_MAX_TYPE_DEPTH) return UINT64_MAX;
    switch (t->kind) {
    case KILN_CT_STRING:
    case KILN_CT_LIST:
    case KILN_CT_MAP:
        *align = 8;
        return 16;
    case KILN_CT_RECORD:
    case KILN_CT_TUPLE: {
        uint64_t size = 0;
        for (uint32_t i = 0; i < t->nitems; i++) {
            uint32_t a;
            uint64_t n = size64(s, t->items[i].type.type, &a, depth + 1);
            if (n == UINT64_MAX) return n;
            size = align_to(size, a) + n;
            if (size > cap) size = cap;
            if (a > *align) *align = a;
        }
        return align_to(size, *align);
    }
    case KILN_CT_FIXED_LIST: {
        uint64_t n = size64(s, t->elem.type, align, depth + 1);
        if (n == UINT64_MAX) return n;
        n *= t->len; /* both at most 2^32 */
        return n > cap ? cap : n;
    }
    case KILN_CT_VARIANT:
    case KILN_CT_OPTION:
    case KILN_CT_RESULT: {
        uint32_t ncases = t->kind == KILN_CT_VARIANT ? t->nitems : 2;
        uint64_t disc = ncases <= 256 ? 1 : ncases <= 65536 ? 2 : 4, max = 0;
        uint32_t case_align = 1;
        for (uint32_t i = 0; i < ncases; i++) {
            const kiln_ctype *c = NULL;
            if (t->kind == KILN_CT_VARIANT)
                c = t->items[i].has_type ? t->items[i].type.type : NULL;
            else if (i == 0 && t->kind == KILN_CT_RESULT && t->has_elem)
                c = t->elem.type;
            else if (i == 1 && t->has_elem2)
                c = t->elem2.type;
            else if (i == 1 && t->kind == KILN_CT_OPTION)
                c = t->elem.type;
            if (!c) continue;
            uint32_t a;
            uint64_t n = size64(s, c, &a, depth + 1);
            if (n == UINT64_MAX) return n;
            if (n > max) max = n;
            if (a > case_align) case_align = a;
        }
        *align = disc > case_align ? (uint32_t)disc : case_align;
        uint64_t size = align_to(align_to(disc, case_align) + max, *align);
        return size > cap ? cap : size;
    }
    default: /* primitives, enums, flags, handles, streams, futures: as with 32 bits */
        *align = t->align;
        return t->size;
    }
}

/* t->flat_sig from the children's (valid because a child's flat count is at most its
 * parent's), and t->tsize; fails when the effective size exceeds 1,000,000. */
int kc_finish_valtype(kc_scope *s, kiln_ctype *t)
{
    uint64_t tsize = 1;
    for (uint32_t i = 0; i < t->nitems; i++)
        if (t->items[i].has_type) tsize += t->items[i].type.type->tsize;
    if (t->has_elem && t->elem.type) tsize += t->elem.type->tsize;
    if (t->has_elem2 && t->elem2.type) tsize += t->elem2.type->tsize;
    if (tsize > 1000000) {
        kc_sfail(s, "effective type size exceeds the limit of 1000000");
        return -1;
    }
    t->tsize = (uint32_t)tsize;
    /* Every value type's size must be below 2^28 bytes with 64-bit pointers too
     * (CanonicalABI.md "element-size"; component-spec validation/max-value-size.wast).
     * That size is at most about twice the 32-bit one, so only large types are walked. */
    if (t->size >= FLAT_LIMIT / 4 && KILN_CT_IS_VALUE(t->kind)) {
        uint32_t a;
        uint64_t n = t->size >= FLAT_LIMIT ? t->size : size64(s, t, &a, 0);
        if (n == UINT64_MAX) {
            kc_sfail(s, "type too large to check");
            return -1;
        }
        if (n >= FLAT_LIMIT) {
            kc_sfail(s, "type of %" PRIu64 "%s bytes exceeds the maximum byte size of 2^28-1", n,
                     t->size >= FLAT_LIMIT ? " or more" : " (with 64-bit pointers)");
            return -1;
        }
    }
    char *o = t->flat_sig;
    size_t n = 0;
    o[0] = 0;
    if (t->flat > MAX_FLAT_PARAMS) return 0;
    switch (t->kind) {
    case KILN_CT_RECORD:
    case KILN_CT_TUPLE:
        for (uint32_t i = 0; i < t->nitems; i++)
            for (const char *q = t->items[i].type.type->flat_sig; *q; q++)
                o[n++] = *q;
        break;
    case KILN_CT_FIXED_LIST:
        for (uint32_t i = 0; i < t->len; i++)
            for (const char *q = t->elem.type->flat_sig; *q; q++)
                o[n++] = *q;
        break;
    case KILN_CT_VARIANT:
    case KILN_CT_OPTION:
    case KILN_CT_RESULT: {
        o[n++] = 'i';
        size_t width = 0;
        uint32_t total = t->kind == KILN_CT_VARIANT ? t->nitems : t->kind == KILN_CT_OPTION ? 1 : 2;
        for (uint32_t i = 0; i < total; i++) {
            const kiln_ctype *c = NULL;
            if (t->kind == KILN_CT_VARIANT)
                c = t->items[i].has_type ? t->items[i].type.type : NULL;
            else if (i == 0 && t->has_elem)
                c = t->elem.type;
            else if (i == 1 && t->has_elem2)
                c = t->elem2.type;
            if (!c) continue;
            size_t k = 0;
            for (const char *q = c->flat_sig; *q; q++, k++)
                o[1 + k] = k < width ? join(o[1 + k], *q) : *q;
            if (k > width) width = k;
        }
        n = 1 + width;
        break;
    }
    case KILN_CT_LIST:
    case KILN_CT_MAP:
        o[n++] = 'i';
        o[n++] = 'i';
        break;
    default:
        if (KILN_CT_IS_PRIMITIVE(t->kind))
            for (const char *q = kc_prims[t->kind].flat_sig; *q; q++)
                o[n++] = *q;
        else
            o[n++] = 'i';
        break;
    }
    o[n] = 0;
    return 0;
}

/* Validates a defined value type whose children are earlier types, and computes its ABI
 * properties. */
int kc_check_valtype_def(kc_scope *s, kiln_ctype *t)
{
    const char *what = "value type refers to";
    switch (t->kind) {
    case KILN_CT_RECORD:
    case KILN_CT_TUPLE:
        for (uint32_t i = 0; i < t->nitems; i++)
            if (kc_resolve_val(s, &t->items[i].type, what) < 0) return -1;
        break;
    case KILN_CT_VARIANT:
        for (uint32_t i = 0; i < t->nitems; i++)
            if (t->items[i].has_type && kc_resolve_val(s, &t->items[i].type, what) < 0) return -1;
        break;
    case KILN_CT_LIST:
    case KILN_CT_MAP:
        if (kc_resolve_val(s, &t->elem, what) < 0) return -1;
        if (t->kind == KILN_CT_MAP && kc_resolve_val(s, &t->elem2, what) < 0) return -1;
        break;
    case KILN_CT_FIXED_LIST: {
        if (kc_resolve_val(s, &t->elem, what) < 0) return -1;
        const kiln_ctype *c = t->elem.type;
        if ((uint64_t)c->size * t->len >= FLAT_LIMIT) {
            kc_sfail(s, "fixed-length list of %u elements of %u bytes is too large", t->len,
                     c->size);
            return -1;
        }
        break;
    }
    case KILN_CT_OPTION:
        if (kc_resolve_val(s, &t->elem, what) < 0) return -1;
        break;
    case KILN_CT_RESULT:
        if (t->has_elem && kc_resolve_val(s, &t->elem, what) < 0) return -1;
        if (t->has_elem2 && kc_resolve_val(s, &t->elem2, what) < 0) return -1;
        break;
    case KILN_CT_OWN:
    case KILN_CT_BORROW: {
        const kiln_ctype *r = kc_lookup_kind(s, KILN_CSORT_TYPE, t->elem.index, KILN_CT_RESOURCE,
                                             t->kind == KILN_CT_OWN ? "own of" : "borrow of");
        if (!r) return -1;
        t->elem.type = r;
        break;
    }
    case KILN_CT_STREAM:
    case KILN_CT_FUTURE:
        if (t->has_elem) {
            if (kc_resolve_val(s, &t->elem, what) < 0) return -1;
            if (t->elem.type->has_borrow) {
                kc_sfail(s, "%s element type must not hold a borrow",
                         t->kind == KILN_CT_STREAM ? "stream" : "future");
                return -1;
            }
            /* a temporary limitation of the specification (component-model PR 607) */
            if (t->kind == KILN_CT_STREAM && t->elem.type->kind == KILN_CT_CHAR) {
                kc_sfail(s, "stream<char> is not valid");
                return -1;
            }
        }
        break;
    default: /* primitives as defined types */
        break;
    }
    if (kiln_ctype_layout(t) < 0) {
        kc_sfail(s, "value type has no layout");
        return -1;
    }
    if (t->depth > KILN_COMPONENT_MAX_TYPE_DEPTH) {
        kc_sfail(s, "value type nested more than %d deep", KILN_COMPONENT_MAX_TYPE_DEPTH);
        return -1;
    }
    return kc_finish_valtype(s, t);
}

/* ---- canon ---- */

/* The core signature of lifting (lower 0) or lowering (lower 1) ft into sig (size >= 40), as
 * CanonicalABI.md's flatten_functype: with the async option, a lift takes at most 16 flat
 * parameters and returns the callback code (i32) or nothing, and a lower takes at most 4
 * flat parameters plus a pointer for the results and returns the subtask state (i32).
 * *needs_realloc: the callee side allocates. Returns whether linear memory is needed. */
static int canon_sig(const kiln_ctype *ft, int lower, int async, int callback, char *sig,
                     int *needs_realloc)
{
    uint64_t np = 0;
    int heap_params = 0, heap_results = 0;
    for (uint32_t i = 0; i < ft->nitems; i++) {
        np += ft->items[i].type.type->flat;
        heap_params |= ft->items[i].type.type->has_heap;
    }
    uint32_t nr = ft->has_elem ? ft->elem.type->flat : 0;
    if (ft->has_elem) heap_results = ft->elem.type->has_heap;
    int spill_params = np > (async && lower ? 4 : MAX_FLAT_PARAMS);
    int spill_results = nr > MAX_FLAT_RESULTS;
    if (async && lower) spill_results = ft->has_elem; /* results always go to memory */
    if (async && !lower) spill_results = 0;           /* results go through task.return */
    size_t k = 0;
    if (spill_params)
        sig[k++] = 'i';
    else
        for (uint32_t i = 0; i < ft->nitems; i++)
            for (const char *q = ft->items[i].type.type->flat_sig; *q; q++)
                sig[k++] = *q;
    if (lower && spill_results) sig[k++] = 'i';
    sig[k++] = ':';
    if (async) {
        if (lower || callback) sig[k++] = 'i';
    } else if (!(lower && spill_results)) {
        if (spill_results)
            sig[k++] = 'i';
        else if (ft->has_elem)
            for (const char *q = ft->elem.type->flat_sig; *q; q++)
                sig[k++] = *q;
    }
    sig[k] = 0;
    if (async && !lower) heap_results = 0;
    *needs_realloc = lower ? heap_results : (heap_params || spill_params);
    return heap_params || heap_results || spill_params || spill_results;
}

static const kiln_ctype *core_func_type(kc_scope *s, const char *sig)
{
    kiln_ctype *t = kc_alloc(s->x, sizeof *t);
    if (!t) return NULL;
    t->kind = KILN_CT_CORE_FUNC;
    if (sig && !(t->sig = kc_strndup(s->x, sig, strlen(sig)))) return NULL;
    return t;
}

static int check_core_func_sig(kc_scope *s, uint32_t idx, const char *what, const char *want)
{
    const kiln_ctype *ft = kc_lookup_kind(s, KILN_CSORT_CORE_FUNC, idx, KILN_CT_CORE_FUNC, what);
    if (!ft) return -1;
    if (want && ft->sig && strcmp(ft->sig, want) != 0) {
        kc_sfail(s, "%s core func %u: has type %s, want %s", what, idx, ft->sig, want);
        return -1;
    }
    return 0;
}

/* Options of a canon definition: indices, and memory/realloc when the type needs them. */
static int check_opts(kc_scope *s, const kiln_canon *k, const char *what, int needs_memory,
                      int needs_realloc)
{
    const kiln_canon_opts *o = &k->opts;
    int ok;
    if (o->has_memory) {
        kc_lookup(s, KILN_CSORT_CORE_MEMORY, o->memory, "memory option of", &ok);
        if (!ok) return -1;
    }
    if (o->has_realloc && check_core_func_sig(s, o->realloc, "realloc option:", "iiii:i") < 0)
        return -1;
    if (needs_memory && !o->has_memory) {
        kc_sfail(s,
                 "%s: the type passes strings, lists or spilled values: option 'memory' is "
                 "required",
                 what);
        return -1;
    }
    if (needs_realloc && !o->has_realloc) {
        kc_sfail(s,
                 "%s: the type allocates strings or lists in the callee: option 'realloc' is "
                 "required",
                 what);
        return -1;
    }
    if (o->has_post_return && k->op != KILN_CANON_LIFT) {
        kc_sfail(s, "%s: option 'post-return' is only allowed on lift", what);
        return -1;
    }
    if (o->has_callback && !(k->op == KILN_CANON_LIFT && o->async)) {
        kc_sfail(s, "%s: option 'callback' requires an async lift", what);
        return -1;
    }
    if (o->has_callback && check_core_func_sig(s, o->callback, "callback option:", "iii:i") < 0)
        return -1;
    return 0;
}

int kc_check_canon(kc_scope *s, kiln_canon *k)
{
    char what[64], sig[64];
    int needs_realloc = 0, needs_memory;
    switch (k->op) {
    case KILN_CANON_LIFT: {
        snprintf(what, sizeof what, "lift of core func %u", k->func);
        const kiln_ctype *ft = kc_lookup_kind(s, KILN_CSORT_TYPE, k->type, KILN_CT_FUNC, "lift to");
        if (!ft) return -1;
        int fok;
        const kiln_ctype *cf = kc_lookup(s, KILN_CSORT_CORE_FUNC, k->func, "lift of", &fok);
        if (!fok) return -1;
        if (k->opts.async && !ft->async) {
            kc_sfail(s, "%s: the `async` canonical option requires an async function type", what);
            return -1;
        }
        needs_memory = canon_sig(ft, 0, k->opts.async, k->opts.has_callback, sig, &needs_realloc);
        if (cf && cf->sig && strcmp(cf->sig, sig) != 0) {
            kc_sfail(s, "%s: core func has type %s, the lifted type needs %s", what, cf->sig, sig);
            return -1;
        }
        if (check_opts(s, k, what, needs_memory, needs_realloc) < 0) return -1;
        if (k->opts.has_post_return) {
            char want[64];
            size_t n = 0;
            const char *colon = strchr(sig, ':');
            for (const char *q = colon + 1; *q && n < sizeof want - 2; q++)
                want[n++] = *q;
            want[n++] = ':';
            want[n] = 0;
            if (k->opts.async) {
                kc_sfail(s, "%s: option 'post-return' is not allowed with async", what);
                return -1;
            }
            if (check_core_func_sig(s, k->opts.post_return, "post-return option:", want) < 0)
                return -1;
        }
        return kc_push(s, KILN_CSORT_FUNC, ft);
    }
    case KILN_CANON_LOWER: {
        snprintf(what, sizeof what, "lower of func %u", k->func);
        int ok;
        const kiln_ctype *ft = kc_lookup(s, KILN_CSORT_FUNC, k->func, "lower of", &ok);
        if (!ok) return -1;
        if (!ft || ft->kind != KILN_CT_FUNC) {
            kc_sfail(s, "%s: not a func", what);
            return -1;
        }
        if (k->opts.async && !ft->async) {
            kc_sfail(s, "%s: the `async` canonical option requires an async function type", what);
            return -1;
        }
        needs_memory = canon_sig(ft, 1, k->opts.async, 0, sig, &needs_realloc);
        if (check_opts(s, k, what, needs_memory, needs_realloc) < 0) return -1;
        return kc_push(s, KILN_CSORT_CORE_FUNC, core_func_type(s, sig));
    }
    case KILN_CANON_RESOURCE_NEW:
    case KILN_CANON_RESOURCE_DROP:
    case KILN_CANON_RESOURCE_REP: {
        snprintf(what, sizeof what, "%s of", kiln_canon_op_name(k->op));
        const kiln_ctype *rt = kc_lookup_kind(s, KILN_CSORT_TYPE, k->type, KILN_CT_RESOURCE, what);
        if (!rt) return -1;
        int drop = k->op == KILN_CANON_RESOURCE_DROP;
        if (!drop && rt->abstract) {
            kc_sfail(s, "%s type %u: the resource is not defined by this component", what, k->type);
            return -1;
        }
        return kc_push(s, KILN_CSORT_CORE_FUNC, core_func_type(s, drop ? "i:" : "i:i"));
    }
    case KILN_CANON_STREAM_NEW:
    case KILN_CANON_STREAM_READ:
    case KILN_CANON_STREAM_WRITE:
    case KILN_CANON_STREAM_CANCEL_READ:
    case KILN_CANON_STREAM_CANCEL_WRITE:
    case KILN_CANON_STREAM_DROP_READABLE:
    case KILN_CANON_STREAM_DROP_WRITABLE:
    case KILN_CANON_FUTURE_NEW:
    case KILN_CANON_FUTURE_READ:
    case KILN_CANON_FUTURE_WRITE:
    case KILN_CANON_FUTURE_CANCEL_READ:
    case KILN_CANON_FUTURE_CANCEL_WRITE:
    case KILN_CANON_FUTURE_DROP_READABLE:
    case KILN_CANON_FUTURE_DROP_WRITABLE:
    case KILN_CANON_STREAM_FORWARD:
    case KILN_CANON_FUTURE_FORWARD: {
        int stream = k->op <= KILN_CANON_STREAM_DROP_WRITABLE || k->op == KILN_CANON_STREAM_FORWARD;
        snprintf(what, sizeof what, "%s of", kiln_canon_op_name(k->op));
        const kiln_ctype *t = kc_lookup_kind(s, KILN_CSORT_TYPE, k->type,
                                             stream ? KILN_CT_STREAM : KILN_CT_FUTURE, what);
        if (!t) return -1;
        if (k->has_opts) {
            int heap = t->has_elem && t->elem.type->has_heap;
            /* a payload-less stream or future copies nothing: no memory needed */
            if (check_opts(s, k, what, t->has_elem,
                           heap && (k->op == KILN_CANON_STREAM_READ ||
                                    k->op == KILN_CANON_FUTURE_READ)) < 0)
                return -1;
        }
        return kc_push(s, KILN_CSORT_CORE_FUNC, core_func_type(s, NULL));
    }
    case KILN_CANON_TASK_RETURN:
        if (k->has_result && kc_resolve_val(s, &k->result, "task.return of") < 0) return -1;
        if (check_opts(s, k, "task.return", 0, 0) < 0) return -1;
        return kc_push(s, KILN_CSORT_CORE_FUNC, core_func_type(s, NULL));
    case KILN_CANON_ERROR_CONTEXT_NEW:
    case KILN_CANON_ERROR_CONTEXT_DEBUG_MESSAGE:
        if (check_opts(s, k, kiln_canon_op_name(k->op), 1,
                       k->op == KILN_CANON_ERROR_CONTEXT_DEBUG_MESSAGE) < 0)
            return -1;
        return kc_push(s, KILN_CSORT_CORE_FUNC, core_func_type(s, NULL));
    case KILN_CANON_WAITABLE_SET_WAIT:
    case KILN_CANON_WAITABLE_SET_POLL: {
        int ok;
        kc_lookup(s, KILN_CSORT_CORE_MEMORY, k->opts.memory, kiln_canon_op_name(k->op), &ok);
        if (!ok) return -1;
        return kc_push(s, KILN_CSORT_CORE_FUNC, core_func_type(s, "ii:i"));
    }
    case KILN_CANON_THREAD_NEW_INDIRECT:
    case KILN_CANON_THREAD_SPAWN_INDIRECT: {
        int ok;
        if (!kc_lookup_kind(s, KILN_CSORT_CORE_TYPE, k->type, KILN_CT_CORE_FUNC,
                            kiln_canon_op_name(k->op)))
            return -1;
        kc_lookup(s, KILN_CSORT_CORE_TABLE, k->table, kiln_canon_op_name(k->op), &ok);
        if (!ok) return -1;
        return kc_push(s, KILN_CSORT_CORE_FUNC, core_func_type(s, NULL));
    }
    case KILN_CANON_THREAD_SPAWN_REF:
        if (!kc_lookup_kind(s, KILN_CSORT_CORE_TYPE, k->type, KILN_CT_CORE_FUNC,
                            kiln_canon_op_name(k->op)))
            return -1;
        return kc_push(s, KILN_CSORT_CORE_FUNC, core_func_type(s, NULL));
    case KILN_CANON_CONTEXT_GET:
        return kc_push(s, KILN_CSORT_CORE_FUNC, core_func_type(s, ":i"));
    case KILN_CANON_CONTEXT_SET:
        return kc_push(s, KILN_CSORT_CORE_FUNC, core_func_type(s, "i:"));
    default:
        return kc_push(s, KILN_CSORT_CORE_FUNC, core_func_type(s, NULL));
    }
}
