/* validate.c — validation of a decoded component (see types.h, step 2).
 *
 * The definitions are replayed in order into the index spaces of a scope (a component
 * definition, or a component/instance/module type with its own initially empty spaces).
 * Every index is checked against its space at its point of use and resolved to the
 * kiln_ctype of the entry; value types get their Canonical ABI properties (size, align,
 * flat count, borrow/heap flags) from their already validated children (kiln_ctype_layout,
 * also used by the canonical ABI's tests), so nothing here recurses over a type more
 * deeply than KILN_COMPONENT_MAX_TYPE_DEPTH.
 *
 * Checked: indices, alias targets (an instance exports the name with the sort), core
 * instantiation (every import module named by an argument, every imported field exported
 * with the same kind and signature), component instantiation (every import supplied),
 * canon definitions (func types, options: memory when the type needs it, realloc when it
 * allocates, realloc/post-return/callback signatures, lift signature), names (kebab-case,
 * interface names, strongly-unique imports/exports, [method]/[constructor]/[static] on
 * funcs of a preceding resource), borrow not in results, flags/fixed-list limits.
 * Not checked yet: subtyping of instantiation arguments and ascribed export types, value
 * consumption (values are refused by the reader anyway), type-import substitution. */
#include "component/internal.h"
#include "engine/wasm_reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FLAT_PARAMS 16
#define MAX_FLAT_RESULTS 1
#define FLAT_LIMIT (1u << 28)

typedef struct kc_scope {
    struct kc_scope *outer;
    int is_component; /* a component definition (not a type) */
    kiln_cspace *spaces;
    kc_ctx *x;
    uint8_t sec;   /* for messages */
    size_t offset; /* for messages */
    kiln_citem *imports, *exports;
    size_t *import_offs, *export_offs; /* where each was declared, for messages */
    uint32_t nimports, nexports, capimports, capexports;
} kc_scope;

#define PRIM(k, s, a, f)                                                                           \
    {                                                                                              \
        .kind = k, .size = s, .align = a, .flat = f, .depth = 1                                    \
    }
static const kiln_ctype prims[] = {
    PRIM(KILN_CT_BOOL, 1, 1, 1),
    PRIM(KILN_CT_S8, 1, 1, 1),
    PRIM(KILN_CT_U8, 1, 1, 1),
    PRIM(KILN_CT_S16, 2, 2, 1),
    PRIM(KILN_CT_U16, 2, 2, 1),
    PRIM(KILN_CT_S32, 4, 4, 1),
    PRIM(KILN_CT_U32, 4, 4, 1),
    PRIM(KILN_CT_S64, 8, 8, 1),
    PRIM(KILN_CT_U64, 8, 8, 1),
    PRIM(KILN_CT_F32, 4, 4, 1),
    PRIM(KILN_CT_F64, 8, 8, 1),
    PRIM(KILN_CT_CHAR, 4, 4, 1),
    {.kind = KILN_CT_STRING, .size = 8, .align = 4, .flat = 2, .depth = 1, .has_heap = 1},
    PRIM(KILN_CT_ERROR_CONTEXT, 4, 4, 1),
};

static void sfail(kc_scope *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sfail(kc_scope *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kc_vfail(s->x, s->sec, s->offset, fmt, ap);
    va_end(ap);
}

static const char *kind_name(const kiln_ctype *t)
{
    static const char *const names[] = {"bool",
                                        "s8",
                                        "u8",
                                        "s16",
                                        "u16",
                                        "s32",
                                        "u32",
                                        "s64",
                                        "u64",
                                        "f32",
                                        "f64",
                                        "char",
                                        "string",
                                        "error-context",
                                        "record",
                                        "variant",
                                        "list",
                                        "fixed list",
                                        "tuple",
                                        "flags",
                                        "enum",
                                        "option",
                                        "result",
                                        "own",
                                        "borrow",
                                        "stream",
                                        "future",
                                        "map",
                                        "func type",
                                        "component type",
                                        "instance type",
                                        "resource type",
                                        "core func type",
                                        "core module type",
                                        "core instance",
                                        "core GC type"};
    if (!t) return "unknown";
    return (unsigned)t->kind < sizeof names / sizeof names[0] ? names[t->kind] : "?";
}

static int push(kc_scope *s, kiln_csort sort, const kiln_ctype *t)
{
    kiln_cspace *sp = &s->spaces[sort];
    if (sp->n == sp->cap) {
        uint32_t ncap = sp->cap ? sp->cap * 2 : 8;
        if (ncap < sp->cap) {
            sfail(s, "too many %ss", kiln_csort_name(sort));
            return -1;
        }
        const kiln_ctype **nt = kc_alloc_array(s->x, ncap, sizeof *nt);
        if (!nt) return -1;
        if (sp->n) memcpy(nt, sp->types, sp->n * sizeof *nt);
        sp->types = nt;
        sp->cap = ncap;
    }
    sp->types[sp->n++] = t;
    return 0;
}

/* The entry `idx` of a space, or NULL after "WHAT SORT IDX: no such SORT (N SORTs)". The
 * returned pointer itself may be NULL-typed for core tables etc.: use `ok`. */
static const kiln_ctype *lookup(kc_scope *s, kiln_csort sort, uint32_t idx, const char *what,
                                int *ok)
{
    kiln_cspace *sp = &s->spaces[sort];
    if (idx >= sp->n) {
        const char *sn = kiln_csort_name(sort);
        sfail(s, "%s %s %u: no such %s (%u %ss)", what, sn, idx, sn, sp->n, sn);
        *ok = 0;
        return NULL;
    }
    *ok = 1;
    return sp->types[idx];
}

static const kiln_ctype *lookup_kind(kc_scope *s, kiln_csort sort, uint32_t idx,
                                     kiln_ctype_kind kind, const char *what)
{
    int ok;
    const kiln_ctype *t = lookup(s, sort, idx, what, &ok);
    if (!ok) return NULL;
    if (!t || t->kind != kind) {
        kiln_ctype want = {.kind = kind};
        sfail(s, "%s %s %u: is a %s, not a %s", what, kiln_csort_name(sort), idx, kind_name(t),
              kind_name(&want));
        return NULL;
    }
    return t;
}

static void set_name(const kiln_ctype *t, const char *name)
{
    if (t && !t->name) ((kiln_ctype *)t)->name = name;
}

/* ---- value types ---- */

static int resolve_val(kc_scope *s, kiln_cvalref *v, const char *what)
{
    if (v->prim != KILN_CVAL_INDEX) {
        v->type = &prims[v->prim];
        return 0;
    }
    int ok;
    const kiln_ctype *t = lookup(s, KILN_CSORT_TYPE, v->index, what, &ok);
    if (!ok) return -1;
    if (!t || !KILN_CT_IS_VALUE(t->kind)) {
        sfail(s, "%s type %u: is a %s, not a value type", what, v->index, kind_name(t));
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
    return KILN_CT_IS_PRIMITIVE(k) ? &prims[k] : NULL;
}

/* Size/align/flat/depth/flags of a variant-like type from its payload types
 * (CanonicalABI.md elem_size_variant, alignment_variant, flatten_variant). */
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
        /* a variant is laid out as one with a single case of the largest payload size,
         * alignment and flat count (all that elem_size/alignment/flatten_variant use) */
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
         * (earlier versions, wasm-tools' more-flags feature): ceil(n/32) u32 words */
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
        t->size = prims[t->kind].size;
        t->align = prims[t->kind].align;
        t->flat = prims[t->kind].flat;
        t->has_heap = prims[t->kind].has_heap;
        t->depth = 1;
        break;
    }
    return 0;
}

/* Validates a defined value type whose children are earlier types, and computes its ABI
 * properties. */
static int check_valtype_def(kc_scope *s, kiln_ctype *t)
{
    const char *what = "value type refers to";
    switch (t->kind) {
    case KILN_CT_RECORD:
    case KILN_CT_TUPLE:
        for (uint32_t i = 0; i < t->nitems; i++)
            if (resolve_val(s, &t->items[i].type, what) < 0) return -1;
        break;
    case KILN_CT_VARIANT:
        for (uint32_t i = 0; i < t->nitems; i++)
            if (t->items[i].has_type && resolve_val(s, &t->items[i].type, what) < 0) return -1;
        break;
    case KILN_CT_LIST:
    case KILN_CT_MAP:
        if (resolve_val(s, &t->elem, what) < 0) return -1;
        if (t->kind == KILN_CT_MAP && resolve_val(s, &t->elem2, what) < 0) return -1;
        break;
    case KILN_CT_FIXED_LIST: {
        if (resolve_val(s, &t->elem, what) < 0) return -1;
        const kiln_ctype *c = t->elem.type;
        if ((uint64_t)c->size * t->len >= FLAT_LIMIT) {
            sfail(s, "fixed-length list of %u elements of %u bytes is too large", t->len, c->size);
            return -1;
        }
        break;
    }
    case KILN_CT_OPTION:
        if (resolve_val(s, &t->elem, what) < 0) return -1;
        break;
    case KILN_CT_RESULT:
        if (t->has_elem && resolve_val(s, &t->elem, what) < 0) return -1;
        if (t->has_elem2 && resolve_val(s, &t->elem2, what) < 0) return -1;
        break;
    case KILN_CT_OWN:
    case KILN_CT_BORROW: {
        const kiln_ctype *r = lookup_kind(s, KILN_CSORT_TYPE, t->elem.index, KILN_CT_RESOURCE,
                                          t->kind == KILN_CT_OWN ? "own of" : "borrow of");
        if (!r) return -1;
        t->elem.type = r;
        break;
    }
    case KILN_CT_STREAM:
    case KILN_CT_FUTURE:
        if (t->has_elem) {
            if (resolve_val(s, &t->elem, what) < 0) return -1;
            if (t->elem.type->has_borrow) {
                sfail(s, "%s element type must not hold a borrow",
                      t->kind == KILN_CT_STREAM ? "stream" : "future");
                return -1;
            }
        }
        break;
    default: /* primitives as defined types */
        break;
    }
    if (kiln_ctype_layout(t) < 0) {
        sfail(s, "value type has no canonical ABI layout");
        return -1;
    }
    if (t->depth > KILN_COMPONENT_MAX_TYPE_DEPTH) {
        sfail(s, "value type nested more than %d deep", KILN_COMPONENT_MAX_TYPE_DEPTH);
        return -1;
    }
    return 0;
}

/* Canonicalized names of the n entries of `names` are distinct; returns -1 after an
 * error naming `what` otherwise. Uses qsort over arena copies (n is bounded by input). */
typedef struct canon_name {
    char *canon;
    uint32_t index;
} canon_name;

static int cmp_canon(const void *a, const void *b)
{
    const canon_name *x = a, *y = b;
    int r = strcmp(x->canon, y->canon);
    return r ? r : (x->index > y->index) - (x->index < y->index);
}

/* Canonicalized names of the n entries of `names` are distinct; otherwise fails at the
 * offset of the later duplicate (offs[i], when offs is not NULL) and returns -1. Sorts
 * arena copies, so n (bounded by the input) costs n log n. */
static int check_unique(kc_scope *s, const char *const *names, const size_t *offs, uint32_t n,
                        const char *what)
{
    if (n < 2) return 0;
    canon_name *cn = kc_alloc_array(s->x, n, sizeof *cn);
    if (!cn) return -1;
    for (uint32_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]) + 1;
        if (!(cn[i].canon = kc_alloc(s->x, len))) return -1;
        kiln_component_canonical_name(names[i], cn[i].canon, len);
        cn[i].index = i;
    }
    qsort(cn, n, sizeof *cn, cmp_canon);
    for (uint32_t i = 1; i < n; i++)
        if (strcmp(cn[i - 1].canon, cn[i].canon) == 0) {
            if (offs) s->offset = offs[cn[i].index];
            sfail(s,
                  "%s '%s' conflicts with the earlier '%s' (names are compared "
                  "case-insensitively)",
                  what, names[cn[i].index], names[cn[i - 1].index]);
            return -1;
        }
    return 0;
}

static int check_labels_unique(kc_scope *s, const kiln_ctype *t, const char *what)
{
    if (t->nitems < 2 || !t->items[0].name) return 0;
    const char **names = kc_alloc_array(s->x, t->nitems, sizeof *names);
    if (!names) return -1;
    for (uint32_t i = 0; i < t->nitems; i++)
        names[i] = t->items[i].name;
    return check_unique(s, names, NULL, t->nitems, what);
}

/* ---- core module types ---- */

/* Validates a core type (func types are complete; module types get imports/exports). */
static int check_core_type(kc_scope *s, kiln_ctype *t)
{
    if (t->kind != KILN_CT_CORE_MODULE) return 0;
    /* a module type has its own core type space; outer aliases reach enclosing scopes */
    kiln_cspace local[KILN_CSORT_COUNT];
    memset(local, 0, sizeof local);
    kc_scope sub = {.outer = s, .spaces = local, .x = s->x, .sec = s->sec};
    uint32_t ni = 0, ne = 0;
    for (uint32_t i = 0; i < t->ndecls; i++)
        ni += t->decls[i].kind == KILN_CDECL_CORE_IMPORT,
            ne += t->decls[i].kind == KILN_CDECL_CORE_EXPORT;
    t->imports = kc_alloc_array(s->x, ni, sizeof *t->imports);
    t->exports = kc_alloc_array(s->x, ne, sizeof *t->exports);
    if ((!t->imports && ni) || (!t->exports && ne)) return -1;
    for (uint32_t i = 0; i < t->ndecls; i++) {
        kiln_cdecl *d = &t->decls[i];
        sub.offset = d->offset;
        switch (d->kind) {
        case KILN_CDECL_CORE_TYPE:
            if (push(&sub, KILN_CSORT_CORE_TYPE, d->type) < 0) return -1;
            break;
        case KILN_CDECL_ALIAS: {
            kc_scope *target = &sub;
            for (uint32_t k = 0; k < d->alias.count && target; k++)
                target = target->outer;
            if (!target) {
                sfail(&sub, "outer alias count %u exceeds the enclosing scopes", d->alias.count);
                return -1;
            }
            if (d->alias.index >= target->spaces[KILN_CSORT_CORE_TYPE].n) {
                sfail(&sub, "outer alias of core type %u: no such core type (%u core types)",
                      d->alias.index, target->spaces[KILN_CSORT_CORE_TYPE].n);
                return -1;
            }
            const kiln_ctype *at = target->spaces[KILN_CSORT_CORE_TYPE].types[d->alias.index];
            if (at && at->kind == KILN_CT_CORE_MODULE) {
                sfail(&sub, "module types cannot alias module types");
                return -1;
            }
            if (push(&sub, KILN_CSORT_CORE_TYPE, at) < 0) return -1;
            break;
        }
        case KILN_CDECL_CORE_IMPORT:
        case KILN_CDECL_CORE_EXPORT: {
            kiln_citem it = {.module = d->core_module, .name = d->core_name};
            static const kiln_csort sorts[] = {KILN_CSORT_CORE_FUNC, KILN_CSORT_CORE_TABLE,
                                               KILN_CSORT_CORE_MEMORY, KILN_CSORT_CORE_GLOBAL,
                                               KILN_CSORT_CORE_TAG};
            it.sort = sorts[d->core_kind];
            if (d->core_kind == 0 || d->core_kind == 4) {
                it.type = lookup_kind(&sub, KILN_CSORT_CORE_TYPE, d->core_index, KILN_CT_CORE_FUNC,
                                      "import or export of");
                if (!it.type) return -1;
            }
            if (d->kind == KILN_CDECL_CORE_IMPORT)
                t->imports[t->nimports++] = it;
            else
                t->exports[t->nexports++] = it;
            break;
        }
        default:
            sfail(&sub, "invalid module type declarator");
            return -1;
        }
    }
    return 0;
}

/* The module type of an embedded module, read with the engine's core reader. */
static const kiln_ctype *embedded_module_type(kc_scope *s, const kiln_cmodule *m, uint32_t idx)
{
    char err[256];
    kiln_wasm *w = kiln_wasm_read(m->bytes, m->len, err, sizeof err);
    if (!w) {
        sfail(s, "core module %u: %s (offset within the module)", idx, err);
        return NULL;
    }
    kiln_ctype *t = kc_alloc(s->x, sizeof *t);
    if (!t) goto fail;
    t->kind = KILN_CT_CORE_MODULE;
    t->offset = m->offset;
    t->imports = kc_alloc_array(s->x, w->nimports, sizeof *t->imports);
    t->exports = kc_alloc_array(s->x, w->nexports, sizeof *t->exports);
    if ((!t->imports && w->nimports) || (!t->exports && w->nexports)) goto fail;
    static const kiln_csort sorts[] = {KILN_CSORT_CORE_FUNC, KILN_CSORT_CORE_TABLE,
                                       KILN_CSORT_CORE_MEMORY, KILN_CSORT_CORE_GLOBAL,
                                       KILN_CSORT_CORE_TAG};
    for (uint32_t i = 0; i < w->nimports; i++) {
        const kiln_wasm_import *im = &w->imports[i];
        kiln_citem *it = &t->imports[t->nimports++];
        it->module = kc_strndup(s->x, im->module, strlen(im->module));
        it->name = kc_strndup(s->x, im->name, strlen(im->name));
        it->sort = (unsigned)im->kind < 5 ? sorts[im->kind] : KILN_CSORT_CORE_TAG;
        if (im->kind == KILN_EXTERN_FUNC) {
            kiln_ctype *ft = kc_alloc(s->x, sizeof *ft);
            if (!ft) goto fail;
            ft->kind = KILN_CT_CORE_FUNC;
            ft->sig = kc_strndup(s->x, im->type, strlen(im->type));
            it->type = ft;
        }
        if (!it->module || !it->name) goto fail;
    }
    for (uint32_t i = 0; i < w->nexports; i++) {
        const kiln_wasm_export *ex = &w->exports[i];
        kiln_citem *it = &t->exports[t->nexports++];
        it->name = kc_strndup(s->x, ex->name, ex->name_len);
        it->sort = (unsigned)ex->kind < 5 ? sorts[ex->kind] : KILN_CSORT_CORE_TAG;
        if (ex->kind == KILN_EXTERN_FUNC && ex->type) {
            kiln_ctype *ft = kc_alloc(s->x, sizeof *ft);
            if (!ft) goto fail;
            ft->kind = KILN_CT_CORE_FUNC;
            ft->sig = kc_strndup(s->x, ex->type, strlen(ex->type));
            it->type = ft;
        }
        if (!it->name) goto fail;
    }
    kiln_wasm_free(w);
    return t;
fail:
    kiln_wasm_free(w);
    return NULL;
}

static const kiln_citem *find_item(const kiln_citem *items, uint32_t n, const char *module,
                                   const char *name)
{
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(items[i].name, name) == 0 &&
            (!module || (items[i].module && strcmp(items[i].module, module) == 0)))
            return &items[i];
    return NULL;
}

/* ---- instances ---- */

static int check_core_instance(kc_scope *s, const kiln_cinstance *in)
{
    kiln_ctype *t = kc_alloc(s->x, sizeof *t);
    if (!t) return -1;
    t->kind = KILN_CT_CORE_INSTANCE;
    const char **names = kc_alloc_array(s->x, in->nargs, sizeof *names);
    if (!names && in->nargs) return -1;
    for (uint32_t i = 0; i < in->nargs; i++)
        names[i] = in->args[i].name;
    for (uint32_t i = 0; i < in->nargs; i++)
        for (uint32_t k = i + 1; k < in->nargs && in->nargs < 512; k++)
            if (strcmp(names[i], names[k]) == 0) {
                sfail(s, "duplicate %s named '%s'",
                      in->from_exports ? "export" : "instantiation argument", names[i]);
                return -1;
            }
    if (in->from_exports) {
        t->exports = kc_alloc_array(s->x, in->nargs, sizeof *t->exports);
        if (!t->exports && in->nargs) return -1;
        for (uint32_t i = 0; i < in->nargs; i++) {
            int ok;
            const kiln_ctype *et = lookup(s, in->args[i].sort, in->args[i].index, "export of", &ok);
            if (!ok) return -1;
            if (in->args[i].sort > KILN_CSORT_CORE_TAG) {
                sfail(s, "core instance cannot export a %s", kiln_csort_name(in->args[i].sort));
                return -1;
            }
            t->exports[i] =
                (kiln_citem){.name = in->args[i].name, .sort = in->args[i].sort, .type = et};
        }
        t->nexports = in->nargs;
        return push(s, KILN_CSORT_CORE_INSTANCE, t);
    }
    const kiln_ctype *mt =
        lookup_kind(s, KILN_CSORT_CORE_MODULE, in->of, KILN_CT_CORE_MODULE, "instantiation of");
    if (!mt) return -1;
    const kiln_ctype **args = kc_alloc_array(s->x, in->nargs, sizeof *args);
    if (!args && in->nargs) return -1;
    for (uint32_t i = 0; i < in->nargs; i++)
        if (!(args[i] = lookup_kind(s, KILN_CSORT_CORE_INSTANCE, in->args[i].index,
                                    KILN_CT_CORE_INSTANCE, "instantiation argument")))
            return -1;
    for (uint32_t i = 0; i < mt->nimports; i++) {
        const kiln_citem *im = &mt->imports[i];
        const kiln_ctype *arg = NULL;
        for (uint32_t k = 0; k < in->nargs; k++)
            if (strcmp(in->args[k].name, im->module) == 0) arg = args[k];
        if (!arg) {
            sfail(s, "instantiation of core module %u: missing argument for import module '%s'",
                  in->of, im->module);
            return -1;
        }
        const kiln_citem *ex = find_item(arg->exports, arg->nexports, NULL, im->name);
        if (!ex || ex->sort != im->sort) {
            sfail(s, "instantiation of core module %u: import '%s' '%s' (%s) %s", in->of,
                  im->module, im->name, kiln_csort_name(im->sort),
                  ex ? "is given something of another kind" : "is not exported by the argument");
            return -1;
        }
        if (im->sort == KILN_CSORT_CORE_FUNC && im->type && ex->type && im->type->sig &&
            ex->type->sig && strcmp(im->type->sig, ex->type->sig) != 0) {
            sfail(s, "instantiation of core module %u: import '%s' '%s' has type %s, given %s",
                  in->of, im->module, im->name, im->type->sig, ex->type->sig);
            return -1;
        }
    }
    t->exports = mt->exports;
    t->nexports = mt->nexports;
    return push(s, KILN_CSORT_CORE_INSTANCE, t);
}

static int check_instance(kc_scope *s, const kiln_cinstance *in)
{
    kiln_ctype *t = kc_alloc(s->x, sizeof *t);
    if (!t) return -1;
    t->kind = KILN_CT_INSTANCE;
    const char **names = kc_alloc_array(s->x, in->nargs, sizeof *names);
    if (!names && in->nargs) return -1;
    for (uint32_t i = 0; i < in->nargs; i++)
        names[i] = in->args[i].name;
    if (in->from_exports) {
        if (check_unique(s, names, NULL, in->nargs, "export") < 0) return -1;
        t->exports = kc_alloc_array(s->x, in->nargs, sizeof *t->exports);
        if (!t->exports && in->nargs) return -1;
        for (uint32_t i = 0; i < in->nargs; i++) {
            kiln_csort sort = in->args[i].sort;
            if (sort < KILN_CSORT_CORE_MODULE) {
                sfail(s, "instance cannot export a %s", kiln_csort_name(sort));
                return -1;
            }
            int ok;
            const kiln_ctype *et = lookup(s, sort, in->args[i].index, "export of", &ok);
            if (!ok) return -1;
            t->exports[i] = (kiln_citem){.name = in->args[i].name, .sort = sort, .type = et};
            if (sort == KILN_CSORT_TYPE) set_name(et, in->args[i].name);
        }
        t->nexports = in->nargs;
        return push(s, KILN_CSORT_INSTANCE, t);
    }
    const kiln_ctype *ct =
        lookup_kind(s, KILN_CSORT_COMPONENT, in->of, KILN_CT_COMPONENT, "instantiation of");
    if (!ct) return -1;
    for (uint32_t i = 0; i < in->nargs; i++)
        for (uint32_t k = i + 1; k < in->nargs && in->nargs < 512; k++)
            if (strcmp(names[i], names[k]) == 0) {
                sfail(s, "duplicate instantiation argument named '%s'", names[i]);
                return -1;
            }
    for (uint32_t i = 0; i < in->nargs; i++) {
        int ok;
        lookup(s, in->args[i].sort, in->args[i].index, "instantiation argument", &ok);
        if (!ok) return -1;
    }
    for (uint32_t i = 0; i < ct->nimports; i++) {
        const kiln_citem *im = &ct->imports[i];
        uint32_t k = 0;
        while (k < in->nargs && strcmp(in->args[k].name, im->name) != 0)
            k++;
        if (k == in->nargs) {
            sfail(s, "instantiation of component %u: missing argument for import '%s'", in->of,
                  im->name);
            return -1;
        }
        if (in->args[k].sort != im->sort) {
            sfail(s, "instantiation of component %u: import '%s' is a %s, given a %s", in->of,
                  im->name, kiln_csort_name(im->sort), kiln_csort_name(in->args[k].sort));
            return -1;
        }
    }
    t->exports = ct->exports;
    t->nexports = ct->nexports;
    return push(s, KILN_CSORT_INSTANCE, t);
}

/* ---- aliases ---- */

static int check_alias(kc_scope *s, const kiln_calias *a, int in_type)
{
    if (a->kind == KILN_CALIAS_OUTER) {
        if (in_type && a->sort != KILN_CSORT_TYPE && a->sort != KILN_CSORT_CORE_TYPE) {
            sfail(s, "outer aliases in types may only alias types and core types");
            return -1;
        }
        kc_scope *target = s;
        int crossed_component = 0;
        for (uint32_t k = 0; k < a->count && target; k++) {
            crossed_component |= target->is_component;
            target = target->outer;
        }
        if (!target) {
            sfail(s, "outer alias count %u exceeds the %s enclosing scopes", a->count, "number of");
            return -1;
        }
        kiln_cspace *sp = &target->spaces[a->sort];
        if (a->index >= sp->n) {
            sfail(s, "outer alias %u of %s %u: no such %s (%u %ss)", a->count,
                  kiln_csort_name(a->sort), a->index, kiln_csort_name(a->sort), sp->n,
                  kiln_csort_name(a->sort));
            return -1;
        }
        const kiln_ctype *t = sp->types[a->index];
        if (crossed_component && a->sort == KILN_CSORT_TYPE && t &&
            (t->kind == KILN_CT_RESOURCE || t->has_handle)) {
            sfail(s, "outer alias of type %u refers to a resource of an enclosing component",
                  a->index);
            return -1;
        }
        return push(s, a->sort, t);
    }
    if (a->kind == KILN_CALIAS_CORE_EXPORT) {
        const kiln_ctype *it = lookup_kind(s, KILN_CSORT_CORE_INSTANCE, a->instance,
                                           KILN_CT_CORE_INSTANCE, "alias of");
        if (!it) return -1;
        if (a->sort > KILN_CSORT_CORE_TAG) {
            sfail(s, "core export alias of a %s", kiln_csort_name(a->sort));
            return -1;
        }
        const kiln_citem *ex = find_item(it->exports, it->nexports, NULL, a->name);
        if (!ex) {
            sfail(s, "alias of core instance %u: no export named '%s'", a->instance, a->name);
            return -1;
        }
        if (ex->sort != a->sort) {
            sfail(s, "alias of core instance %u export '%s': it is a %s, not a %s", a->instance,
                  a->name, kiln_csort_name(ex->sort), kiln_csort_name(a->sort));
            return -1;
        }
        return push(s, a->sort, ex->type);
    }
    if (in_type && a->sort != KILN_CSORT_TYPE && a->sort != KILN_CSORT_INSTANCE) {
        sfail(s, "export aliases in types may only alias types and instances");
        return -1;
    }
    const kiln_ctype *it =
        lookup_kind(s, KILN_CSORT_INSTANCE, a->instance, KILN_CT_INSTANCE, "alias of");
    if (!it) return -1;
    const kiln_citem *ex = find_item(it->exports, it->nexports, NULL, a->name);
    if (!ex) {
        sfail(s, "alias of instance %u: no export named '%s'", a->instance, a->name);
        return -1;
    }
    if (ex->sort != a->sort) {
        sfail(s, "alias of instance %u export '%s': it is a %s, not a %s", a->instance, a->name,
              kiln_csort_name(ex->sort), kiln_csort_name(a->sort));
        return -1;
    }
    return push(s, a->sort, ex->type);
}

/* ---- types ---- */

static int check_decls(kc_scope *s, kiln_ctype *t);

static int check_functype(kc_scope *s, kiln_ctype *t)
{
    for (uint32_t i = 0; i < t->nitems; i++)
        if (resolve_val(s, &t->items[i].type, "parameter") < 0) return -1;
    if (check_labels_unique(s, t, "parameter") < 0) return -1;
    if (t->has_elem) {
        if (resolve_val(s, &t->elem, "result") < 0) return -1;
        if (t->elem.type->has_borrow) {
            sfail(s, "function result must not hold a borrow");
            return -1;
        }
    }
    return 0;
}

/* Validates a type definition t in scope s (resources only in component definitions). */
static int check_type(kc_scope *s, kiln_ctype *t)
{
    switch (t->kind) {
    case KILN_CT_FUNC:
        return check_functype(s, t);
    case KILN_CT_COMPONENT:
    case KILN_CT_INSTANCE:
        return check_decls(s, t);
    case KILN_CT_RESOURCE:
        if (!s->is_component) {
            sfail(s, "resource types can only be defined in components");
            return -1;
        }
        if (t->has_dtor) {
            const kiln_ctype *ft = lookup_kind(s, KILN_CSORT_CORE_FUNC, t->dtor, KILN_CT_CORE_FUNC,
                                               "resource destructor");
            if (!ft) return -1;
            if (ft->sig && strcmp(ft->sig, "i:") != 0) {
                sfail(s, "resource destructor core func %u has type %s, want [i32] -> []", t->dtor,
                      ft->sig);
                return -1;
            }
        }
        return 0;
    default:
        if (check_valtype_def(s, t) < 0) return -1;
        if (t->kind == KILN_CT_RECORD || t->kind == KILN_CT_VARIANT || t->kind == KILN_CT_FLAGS ||
            t->kind == KILN_CT_ENUM)
            return check_labels_unique(s, t, "label");
        return 0;
    }
}

static int add_item(kc_scope *s, int is_import, const kiln_citem *it)
{
    kiln_citem **arr = is_import ? &s->imports : &s->exports;
    size_t **offs = is_import ? &s->import_offs : &s->export_offs;
    uint32_t *n = is_import ? &s->nimports : &s->nexports;
    uint32_t *cap = is_import ? &s->capimports : &s->capexports;
    if (*n == *cap) {
        uint32_t ncap = *cap ? *cap * 2 : 8;
        kiln_citem *na = kc_alloc_array(s->x, ncap, sizeof *na);
        size_t *no = kc_alloc_array(s->x, ncap, sizeof *no);
        if (!na || !no) return -1;
        if (*n) memcpy(na, *arr, *n * sizeof *na), memcpy(no, *offs, *n * sizeof *no);
        *arr = na;
        *offs = no;
        *cap = ncap;
    }
    (*offs)[*n] = s->offset;
    (*arr)[(*n)++] = *it;
    return 0;
}

/* [constructor]R, [method]R.x, [static]R.x: a func of a resource R named earlier. */
static int check_annotation(kc_scope *s, const char *name, kiln_csort sort)
{
    const char *p = NULL;
    if (strncmp(name, "[constructor]", 13) == 0) p = name + 13;
    if (strncmp(name, "[method]", 8) == 0 || strncmp(name, "[static]", 8) == 0) p = name + 8;
    if (!p) return 0;
    if (sort != KILN_CSORT_FUNC) {
        sfail(s, "'%s' must be a func, not a %s", name, kiln_csort_name(sort));
        return -1;
    }
    size_t len = strcspn(p, ".");
    for (int pass = 0; pass < 2; pass++) {
        const kiln_citem *items = pass ? s->exports : s->imports;
        uint32_t n = pass ? s->nexports : s->nimports;
        for (uint32_t i = 0; i < n; i++)
            if (items[i].sort == KILN_CSORT_TYPE && items[i].type &&
                items[i].type->kind == KILN_CT_RESOURCE && strlen(items[i].name) == len &&
                strncmp(items[i].name, p, len) == 0)
                return 0;
    }
    sfail(s, "'%s' names resource '%.*s', which is not imported or exported before it", name,
          (int)len, p);
    return -1;
}

/* Resolves an externtype in scope s; returns the type of the item (fresh abstract
 * resource for (sub resource)), or NULL after an error. */
static const kiln_ctype *check_externtype(kc_scope *s, kiln_cextern *e)
{
    const char *what = "import or export of";
    switch (e->sort) {
    case KILN_CSORT_CORE_MODULE:
        return lookup_kind(s, KILN_CSORT_CORE_TYPE, e->index, KILN_CT_CORE_MODULE, what);
    case KILN_CSORT_FUNC:
        return lookup_kind(s, KILN_CSORT_TYPE, e->index, KILN_CT_FUNC, what);
    case KILN_CSORT_COMPONENT:
        return lookup_kind(s, KILN_CSORT_TYPE, e->index, KILN_CT_COMPONENT, what);
    case KILN_CSORT_INSTANCE:
        return lookup_kind(s, KILN_CSORT_TYPE, e->index, KILN_CT_INSTANCE, what);
    case KILN_CSORT_VALUE:
        if (e->value_eq) {
            int ok;
            const kiln_ctype *t = lookup(s, KILN_CSORT_VALUE, e->index, what, &ok);
            return ok ? (t ? t : &prims[0]) : NULL;
        }
        if (resolve_val(s, &e->value, what) < 0) return NULL;
        return e->value.type;
    case KILN_CSORT_TYPE: {
        if (!e->bound_sub_resource) {
            int ok;
            const kiln_ctype *t = lookup(s, KILN_CSORT_TYPE, e->index, what, &ok);
            if (!ok) return NULL;
            if (!t) {
                sfail(s, "type %u is unknown", e->index);
                return NULL;
            }
            return t;
        }
        kiln_ctype *r = kc_alloc(s->x, sizeof *r);
        if (!r) return NULL;
        r->kind = KILN_CT_RESOURCE;
        r->abstract = 1;
        r->rep = 0x7f;
        r->name = e->name;
        return r;
    }
    default:
        sfail(s, "invalid extern type");
        return NULL;
    }
}

/* An import or export declaration/definition: name checks, the item's space, the list. */
static int add_extern(kc_scope *s, int is_import, const char *name, kiln_csort sort,
                      const kiln_ctype *t)
{
    if (check_annotation(s, name, sort) < 0) return -1;
    kiln_citem it = {.name = name, .sort = sort, .type = t};
    if (sort == KILN_CSORT_TYPE) set_name(t, name);
    if (add_item(s, is_import, &it) < 0) return -1;
    return push(s, sort, t);
}

static int check_names_unique(kc_scope *s)
{
    for (int pass = 0; pass < 2; pass++) {
        const kiln_citem *items = pass ? s->exports : s->imports;
        uint32_t n = pass ? s->nexports : s->nimports;
        const char **names = kc_alloc_array(s->x, n, sizeof *names);
        if (!names && n) return -1;
        for (uint32_t i = 0; i < n; i++)
            names[i] = items[i].name;
        if (s->is_component) s->sec = pass ? 11 : 10;
        if (check_unique(s, names, pass ? s->export_offs : s->import_offs, n,
                         pass ? "export name" : "import name") < 0)
            return -1;
    }
    return 0;
}

/* Component and instance type declarators, in a new scope. */
static int check_decls(kc_scope *s, kiln_ctype *t)
{
    kiln_cspace *local = kc_alloc_array(s->x, KILN_CSORT_COUNT, sizeof *local);
    if (!local) return -1;
    kc_scope sub = {.outer = s, .spaces = local, .x = s->x, .sec = s->sec, .offset = s->offset};
    for (uint32_t i = 0; i < t->ndecls; i++) {
        kiln_cdecl *d = &t->decls[i];
        sub.offset = d->offset;
        switch (d->kind) {
        case KILN_CDECL_CORE_TYPE:
            if (check_core_type(&sub, d->type) < 0) return -1;
            if (push(&sub, KILN_CSORT_CORE_TYPE, d->type) < 0) return -1;
            break;
        case KILN_CDECL_TYPE:
            if (check_type(&sub, d->type) < 0) return -1;
            if (push(&sub, KILN_CSORT_TYPE, d->type) < 0) return -1;
            break;
        case KILN_CDECL_ALIAS:
            if (check_alias(&sub, &d->alias, 1) < 0) return -1;
            break;
        case KILN_CDECL_IMPORT:
        case KILN_CDECL_EXPORT: {
            const kiln_ctype *et = check_externtype(&sub, &d->ext);
            if (!et) return -1;
            d->ext.type = et;
            if (add_extern(&sub, d->kind == KILN_CDECL_IMPORT, d->ext.name, d->ext.sort, et) < 0)
                return -1;
            break;
        }
        default:
            sfail(&sub, "invalid declarator");
            return -1;
        }
    }
    sub.offset = t->offset;
    if (check_names_unique(&sub) < 0) return -1;
    t->imports = sub.imports;
    t->nimports = sub.nimports;
    t->exports = sub.exports;
    t->nexports = sub.nexports;
    return 0;
}

/* ---- canon ---- */

/* Joins two flat core types (Canonical ABI `join`). */
static char join(char a, char b)
{
    if (a == b) return a;
    if ((a == 'i' && b == 'f') || (a == 'f' && b == 'i')) return 'i';
    return 'j';
}

/* Appends the flattened core types of t to out[*n..cap); stops counting at cap. */
static void flatten(const kiln_ctype *t, char *out, size_t *n, size_t cap)
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
        for (uint32_t i = 0; i < t->nitems && *n <= cap; i++)
            flatten(t->items[i].type.type, out, n, cap);
        break;
    case KILN_CT_FIXED_LIST:
        for (uint32_t i = 0; i < t->len && *n <= cap; i++)
            flatten(t->elem.type, out, n, cap);
        break;
    case KILN_CT_VARIANT:
    case KILN_CT_OPTION:
    case KILN_CT_RESULT: {
        PUT('i');
        size_t start = *n, width = 0;
        const kiln_ctype *cases[2] = {NULL, NULL};
        uint32_t nc = 0;
        if (t->kind == KILN_CT_OPTION) cases[nc++] = t->elem.type;
        if (t->kind == KILN_CT_RESULT) {
            cases[nc++] = t->has_elem ? t->elem.type : NULL;
            cases[nc++] = t->has_elem2 ? t->elem2.type : NULL;
        }
        uint32_t total = t->kind == KILN_CT_VARIANT ? t->nitems : nc;
        for (uint32_t i = 0; i < total; i++) {
            const kiln_ctype *c = t->kind == KILN_CT_VARIANT
                                      ? (t->items[i].has_type ? t->items[i].type.type : NULL)
                                      : cases[i];
            if (!c) continue;
            char buf[MAX_FLAT_PARAMS + 2];
            size_t k = 0;
            flatten(c, buf, &k, sizeof buf);
            for (size_t j = 0; j < k; j++) {
                if (j < width) {
                    if (start + j < cap && j < sizeof buf)
                        out[start + j] = join(out[start + j], buf[j]);
                } else {
                    if (start + j < cap) out[start + j] = j < sizeof buf ? buf[j] : 'i';
                }
            }
            if (k > width) width = k;
        }
        *n = start + width;
        break;
    }
    case KILN_CT_FLAGS:
        for (uint32_t i = 0; i < (t->nitems > 32 ? (t->nitems + 31) / 32 : 1) && *n <= cap; i++)
            PUT('i');
        break;
    default:
        PUT('i');
        break;
    }
#undef PUT
}

/* The core signature of lifting (lower=0) or lowering (lower=1) func type ft, into sig
 * (size >= 40). Returns 1 when the type needs memory, and sets *needs_realloc. */
static int canon_sig(const kiln_ctype *ft, int lower, char *sig, int *needs_realloc)
{
    char p[MAX_FLAT_PARAMS + 2], r[4];
    size_t np = 0, nr = 0;
    int heap_params = 0, heap_results = 0;
    for (uint32_t i = 0; i < ft->nitems; i++) {
        flatten(ft->items[i].type.type, p, &np, sizeof p);
        heap_params |= ft->items[i].type.type->has_heap;
    }
    if (ft->has_elem) {
        flatten(ft->elem.type, r, &nr, sizeof r);
        heap_results = ft->elem.type->has_heap;
    }
    int spill_params = np > MAX_FLAT_PARAMS, spill_results = nr > MAX_FLAT_RESULTS;
    size_t k = 0;
    if (spill_params)
        sig[k++] = 'i';
    else
        for (size_t i = 0; i < np; i++)
            sig[k++] = p[i];
    if (lower && spill_results) sig[k++] = 'i';
    sig[k++] = ':';
    if (!(lower && spill_results)) {
        if (spill_results)
            sig[k++] = 'i';
        else
            for (size_t i = 0; i < nr; i++)
                sig[k++] = r[i];
    }
    sig[k] = 0;
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
    const kiln_ctype *ft = lookup_kind(s, KILN_CSORT_CORE_FUNC, idx, KILN_CT_CORE_FUNC, what);
    if (!ft) return -1;
    if (want && ft->sig && strcmp(ft->sig, want) != 0) {
        sfail(s, "%s core func %u: has type %s, want %s", what, idx, ft->sig, want);
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
        lookup(s, KILN_CSORT_CORE_MEMORY, o->memory, "memory option of", &ok);
        if (!ok) return -1;
    }
    if (o->has_realloc && check_core_func_sig(s, o->realloc, "realloc option:", "iiii:i") < 0)
        return -1;
    if (needs_memory && !o->has_memory) {
        sfail(s,
              "%s: the type passes strings, lists or spilled values: option 'memory' is "
              "required",
              what);
        return -1;
    }
    if (needs_realloc && !o->has_realloc) {
        sfail(s,
              "%s: the type allocates strings or lists in the callee: option 'realloc' is "
              "required",
              what);
        return -1;
    }
    if (o->has_post_return && k->op != KILN_CANON_LIFT) {
        sfail(s, "%s: option 'post-return' is only allowed on lift", what);
        return -1;
    }
    if (o->has_callback && !(k->op == KILN_CANON_LIFT && o->async)) {
        sfail(s, "%s: option 'callback' requires an async lift", what);
        return -1;
    }
    if (o->has_callback && check_core_func_sig(s, o->callback, "callback option:", "iii:i") < 0)
        return -1;
    return 0;
}

static int check_canon(kc_scope *s, kiln_canon *k)
{
    char what[64], sig[64];
    int needs_realloc = 0, needs_memory;
    switch (k->op) {
    case KILN_CANON_LIFT: {
        snprintf(what, sizeof what, "lift of core func %u", k->func);
        const kiln_ctype *ft = lookup_kind(s, KILN_CSORT_TYPE, k->type, KILN_CT_FUNC, "lift to");
        if (!ft) return -1;
        int fok;
        const kiln_ctype *cf = lookup(s, KILN_CSORT_CORE_FUNC, k->func, "lift of", &fok);
        if (!fok) return -1;
        needs_memory = canon_sig(ft, 0, sig, &needs_realloc);
        if (!k->opts.async && cf && cf->sig && strcmp(cf->sig, sig) != 0) {
            sfail(s, "%s: core func has type %s, the lifted type needs %s", what, cf->sig, sig);
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
                sfail(s, "%s: option 'post-return' is not allowed with async", what);
                return -1;
            }
            if (check_core_func_sig(s, k->opts.post_return, "post-return option:", want) < 0)
                return -1;
        }
        return push(s, KILN_CSORT_FUNC, ft);
    }
    case KILN_CANON_LOWER: {
        snprintf(what, sizeof what, "lower of func %u", k->func);
        int ok;
        const kiln_ctype *ft = lookup(s, KILN_CSORT_FUNC, k->func, "lower of", &ok);
        if (!ok) return -1;
        if (!ft || ft->kind != KILN_CT_FUNC) {
            sfail(s, "%s: not a func", what);
            return -1;
        }
        needs_memory = canon_sig(ft, 1, sig, &needs_realloc);
        if (check_opts(s, k, what, needs_memory, needs_realloc) < 0) return -1;
        return push(s, KILN_CSORT_CORE_FUNC, core_func_type(s, k->opts.async ? NULL : sig));
    }
    case KILN_CANON_RESOURCE_NEW:
    case KILN_CANON_RESOURCE_DROP:
    case KILN_CANON_RESOURCE_DROP_ASYNC:
    case KILN_CANON_RESOURCE_REP: {
        snprintf(what, sizeof what, "%s of", kiln_canon_op_name(k->op));
        const kiln_ctype *rt = lookup_kind(s, KILN_CSORT_TYPE, k->type, KILN_CT_RESOURCE, what);
        if (!rt) return -1;
        int drop = k->op == KILN_CANON_RESOURCE_DROP || k->op == KILN_CANON_RESOURCE_DROP_ASYNC;
        if (!drop && rt->abstract) {
            sfail(s, "%s type %u: the resource is not defined by this component", what, k->type);
            return -1;
        }
        return push(s, KILN_CSORT_CORE_FUNC, core_func_type(s, drop ? "i:" : "i:i"));
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
    case KILN_CANON_FUTURE_DROP_WRITABLE: {
        int stream = k->op <= KILN_CANON_STREAM_DROP_WRITABLE;
        snprintf(what, sizeof what, "%s of", kiln_canon_op_name(k->op));
        const kiln_ctype *t = lookup_kind(s, KILN_CSORT_TYPE, k->type,
                                          stream ? KILN_CT_STREAM : KILN_CT_FUTURE, what);
        if (!t) return -1;
        if (k->has_opts) {
            int heap = t->has_elem && t->elem.type->has_heap;
            if (check_opts(s, k, what, 1,
                           heap && (k->op == KILN_CANON_STREAM_READ ||
                                    k->op == KILN_CANON_FUTURE_READ)) < 0)
                return -1;
        }
        return push(s, KILN_CSORT_CORE_FUNC, core_func_type(s, NULL));
    }
    case KILN_CANON_TASK_RETURN:
        if (k->has_result && resolve_val(s, &k->result, "task.return of") < 0) return -1;
        if (check_opts(s, k, "task.return", 0, 0) < 0) return -1;
        return push(s, KILN_CSORT_CORE_FUNC, core_func_type(s, NULL));
    case KILN_CANON_ERROR_CONTEXT_NEW:
    case KILN_CANON_ERROR_CONTEXT_DEBUG_MESSAGE:
        if (check_opts(s, k, kiln_canon_op_name(k->op), 1,
                       k->op == KILN_CANON_ERROR_CONTEXT_DEBUG_MESSAGE) < 0)
            return -1;
        return push(s, KILN_CSORT_CORE_FUNC, core_func_type(s, NULL));
    case KILN_CANON_WAITABLE_SET_WAIT:
    case KILN_CANON_WAITABLE_SET_POLL: {
        int ok;
        lookup(s, KILN_CSORT_CORE_MEMORY, k->opts.memory, kiln_canon_op_name(k->op), &ok);
        if (!ok) return -1;
        return push(s, KILN_CSORT_CORE_FUNC, core_func_type(s, "ii:i"));
    }
    case KILN_CANON_THREAD_NEW_INDIRECT:
    case KILN_CANON_THREAD_SPAWN_INDIRECT: {
        int ok;
        if (!lookup_kind(s, KILN_CSORT_CORE_TYPE, k->type, KILN_CT_CORE_FUNC,
                         kiln_canon_op_name(k->op)))
            return -1;
        lookup(s, KILN_CSORT_CORE_TABLE, k->table, kiln_canon_op_name(k->op), &ok);
        if (!ok) return -1;
        return push(s, KILN_CSORT_CORE_FUNC, core_func_type(s, NULL));
    }
    case KILN_CANON_THREAD_SPAWN_REF:
        if (!lookup_kind(s, KILN_CSORT_CORE_TYPE, k->type, KILN_CT_CORE_FUNC,
                         kiln_canon_op_name(k->op)))
            return -1;
        return push(s, KILN_CSORT_CORE_FUNC, core_func_type(s, NULL));
    case KILN_CANON_CONTEXT_GET:
        return push(s, KILN_CSORT_CORE_FUNC, core_func_type(s, ":i"));
    case KILN_CANON_CONTEXT_SET:
        return push(s, KILN_CSORT_CORE_FUNC, core_func_type(s, "i:"));
    default:
        return push(s, KILN_CSORT_CORE_FUNC, core_func_type(s, NULL));
    }
}

/* ---- components ---- */

int kc_validate_component(kc_ctx *x, kiln_component *c, struct kc_scope *outer)
{
    kc_scope s = {.outer = outer,
                  .is_component = 1,
                  .spaces = c->spaces,
                  .x = x,
                  .sec = 0xff,
                  .offset = c->offset};
    for (uint32_t i = 0; i < c->ndefs && !x->failed; i++) {
        kiln_cdef *d = &c->defs[i];
        s.sec = d->section_id;
        s.offset = d->offset;
        int r = 0;
        switch (d->kind) {
        case KILN_CDEF_CORE_MODULE: {
            const kiln_ctype *mt =
                embedded_module_type(&s, &d->module, s.spaces[KILN_CSORT_CORE_MODULE].n);
            if (!mt) return -1;
            d->module.type = mt;
            r = push(&s, KILN_CSORT_CORE_MODULE, mt);
            break;
        }
        case KILN_CDEF_CORE_INSTANCE:
            r = check_core_instance(&s, &d->instance);
            break;
        case KILN_CDEF_CORE_TYPE:
            if ((r = check_core_type(&s, d->type)) == 0)
                r = push(&s, KILN_CSORT_CORE_TYPE, d->type);
            break;
        case KILN_CDEF_COMPONENT:
            if ((r = kc_validate_component(x, d->component, &s)) == 0)
                r = push(&s, KILN_CSORT_COMPONENT, d->component->type);
            break;
        case KILN_CDEF_INSTANCE:
            r = check_instance(&s, &d->instance);
            break;
        case KILN_CDEF_ALIAS:
            r = check_alias(&s, &d->alias, 0);
            break;
        case KILN_CDEF_TYPE:
            if ((r = check_type(&s, d->type)) == 0) r = push(&s, KILN_CSORT_TYPE, d->type);
            break;
        case KILN_CDEF_CANON:
            r = check_canon(&s, &d->canon);
            break;
        case KILN_CDEF_START: {
            const kiln_ctype *ft =
                lookup_kind(&s, KILN_CSORT_FUNC, d->start.func, KILN_CT_FUNC, "start of");
            if (!ft) return -1;
            for (uint32_t k = 0; k < d->start.nargs; k++) {
                int ok;
                lookup(&s, KILN_CSORT_VALUE, d->start.args[k], "start argument", &ok);
                if (!ok) return -1;
            }
            if (d->start.nargs != ft->nitems || d->start.nresults != (uint32_t)ft->has_elem) {
                sfail(&s, "start of func %u: arity mismatch", d->start.func);
                return -1;
            }
            for (uint32_t k = 0; k < d->start.nresults; k++)
                if ((r = push(&s, KILN_CSORT_VALUE, ft->elem.type)) < 0) break;
            break;
        }
        case KILN_CDEF_IMPORT: {
            const kiln_ctype *et = check_externtype(&s, &d->ext);
            if (!et) return -1;
            d->ext.type = et;
            r = add_extern(&s, 1, d->ext.name, d->ext.sort, et);
            break;
        }
        case KILN_CDEF_EXPORT: {
            kiln_csort sort = d->export_sort;
            if (sort < KILN_CSORT_CORE_MODULE || sort == KILN_CSORT_CORE_INSTANCE) {
                sfail(&s, "export '%s': a %s cannot be exported", d->ext.name,
                      kiln_csort_name(sort));
                return -1;
            }
            int ok;
            const kiln_ctype *et = lookup(&s, sort, d->export_index, "export of", &ok);
            if (!ok) return -1;
            if (d->has_export_type) {
                const kiln_ctype *asc = check_externtype(&s, &d->ext);
                if (!asc) return -1;
                if (d->ext.sort != sort) {
                    sfail(&s, "export '%s': a %s ascribed the type of a %s", d->ext.name,
                          kiln_csort_name(sort), kiln_csort_name(d->ext.sort));
                    return -1;
                }
                if (sort == KILN_CSORT_TYPE && d->ext.bound_sub_resource &&
                    (!et || et->kind != KILN_CT_RESOURCE)) {
                    sfail(&s, "export '%s': type %u is not a resource", d->ext.name,
                          d->export_index);
                    return -1;
                }
                if (sort != KILN_CSORT_TYPE || !d->ext.bound_sub_resource) et = asc;
            }
            d->ext.sort = sort;
            d->ext.type = et;
            r = add_extern(&s, 0, d->ext.name, sort, et);
            break;
        }
        }
        if (r < 0) return -1;
    }
    if (x->failed) return -1;
    s.sec = 0xff;
    s.offset = c->offset;
    if (check_names_unique(&s) < 0) return -1;
    kiln_ctype *t = kc_alloc(x, sizeof *t);
    if (!t) return -1;
    t->kind = KILN_CT_COMPONENT;
    t->offset = c->offset;
    t->imports = s.imports;
    t->nimports = s.nimports;
    t->exports = s.exports;
    t->nexports = s.nexports;
    c->type = t;
    return 0;
}
