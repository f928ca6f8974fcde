/* validate.c — validation of a decoded component (see types.h, step 2).
 *
 * The definitions are replayed in order into the index spaces of a scope (a component
 * definition, or a component/instance/module type with its own initially empty spaces).
 * Every index is checked against its space at its point of use and resolved to the
 * kiln_ctype of the entry; value types get their Canonical ABI properties (size, align,
 * flat count, borrow/heap flags) from their already validated children, so nothing here
 * recurses over a type more deeply than KILN_COMPONENT_MAX_TYPE_DEPTH.
 *
 * Checked: indices, alias targets (an instance exports the name with the sort), core
 * instantiation (every import module named by an argument, every imported field exported
 * with the same kind and signature), component instantiation (every import supplied),
 * canon definitions (func types, options: memory when the type needs it, realloc when it
 * allocates, realloc/post-return/callback signatures, lift signature), names (kebab-case,
 * interface names, strongly-unique imports/exports, [method]/[constructor]/[static] on
 * funcs of a preceding resource), borrow not in results, flags/fixed-list limits.
 * Not checked yet: subtyping of instantiation arguments and ascribed export types, value
 * consumption (values are refused by the reader anyway), type-import substitution.
 * Instantiation (core module types, instance arguments, subtyping, substitution) is
 * validate_inst.c's (validate_internal.h). */
#include "component/validate_internal.h"
#include "engine/wasm_reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kc_sfail(kc_scope *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kc_vfail(s->x, s->sec, s->offset, fmt, ap);
    va_end(ap);
}

const char *kc_kind_name(const kiln_ctype *t)
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

int kc_push(kc_scope *s, kiln_csort sort, const kiln_ctype *t)
{
    kiln_cspace *sp = &s->spaces[sort];
    if (sp->n == sp->cap) {
        uint32_t ncap = sp->cap ? sp->cap * 2 : 8;
        if (ncap < sp->cap) {
            kc_sfail(s, "too many %ss", kiln_csort_name(sort));
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
const kiln_ctype *kc_lookup(kc_scope *s, kiln_csort sort, uint32_t idx, const char *what, int *ok)
{
    kiln_cspace *sp = &s->spaces[sort];
    if (idx >= sp->n) {
        const char *sn = kiln_csort_name(sort);
        kc_sfail(s, "%s %s %u: no such %s (%u %ss)", what, sn, idx, sn, sp->n, sn);
        *ok = 0;
        return NULL;
    }
    *ok = 1;
    return sp->types[idx];
}

const kiln_ctype *kc_lookup_kind(kc_scope *s, kiln_csort sort, uint32_t idx, kiln_ctype_kind kind,
                                 const char *what)
{
    int ok;
    const kiln_ctype *t = kc_lookup(s, sort, idx, what, &ok);
    if (!ok) return NULL;
    if (!t || t->kind != kind) {
        kiln_ctype want = {.kind = kind};
        kc_sfail(s, "%s %s %u: is a %s, not a %s", what, kiln_csort_name(sort), idx,
                 kc_kind_name(t), kc_kind_name(&want));
        return NULL;
    }
    return t;
}

void kcv_set_name(const kiln_ctype *t, const char *name)
{
    if (t && !t->name) ((kiln_ctype *)t)->name = name;
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
int kcv_unique(kc_scope *s, const char *const *names, const size_t *offs, uint32_t n,
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
            kc_sfail(s,
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
    return kcv_unique(s, names, NULL, t->nitems, what);
}

int kcv_cmp_item_name(const void *a, const void *b)
{
    const kiln_citem *x = *(const kiln_citem *const *)a, *y = *(const kiln_citem *const *)b;
    int r = strcmp(x->name, y->name);
    return r ? r : (x > y) - (x < y); /* the first of equal names sorts first */
}

static int cmp_core_import(const void *a, const void *b)
{
    const kiln_citem *x = *(const kiln_citem *const *)a, *y = *(const kiln_citem *const *)b;
    int r = strcmp(x->module ? x->module : "", y->module ? y->module : "");
    return r ? r : strcmp(x->name, y->name);
}

/* The core module type t has no two imports of the same module and name (they would mangle
 * to the same name) and no two exports of the same name (component-spec core-modules.wast).
 * 0, or -1 (failed). n log n. */
int kcv_core_names(kc_scope *s, const kiln_ctype *t)
{
    for (int pass = 0; pass < 2; pass++) {
        uint32_t n = pass ? t->nexports : t->nimports;
        const kiln_citem *items = pass ? t->exports : t->imports;
        if (n < 2) continue;
        const kiln_citem **v = kc_alloc_array(s->x, n, sizeof *v);
        if (!v) return -1;
        for (uint32_t i = 0; i < n; i++)
            v[i] = &items[i];
        qsort(v, n, sizeof *v, pass ? kcv_cmp_item_name : cmp_core_import);
        for (uint32_t i = 1; i < n; i++) {
            if (pass && strcmp(v[i - 1]->name, v[i]->name) == 0) {
                kc_sfail(s, "core module type: export name '%s' already defined", v[i]->name);
                return -1;
            }
            if (!pass && cmp_core_import(&v[i - 1], &v[i]) == 0) {
                kc_sfail(s, "core module: duplicate import name '%s:%s'", v[i]->module, v[i]->name);
                return -1;
            }
        }
    }
    return 0;
}

/* ---- aliases ---- */

typedef struct inst_stack inst_stack;
static int refers_local_resource(kc_scope *s, const kiln_ctype *t, const inst_stack *st,
                                 unsigned depth);
static int is_named(const kc_scope *s, const kiln_ctype *t);
static int add_named(kc_scope *s, const kiln_ctype *t, int imported);
static int ptrset_has(const kc_ptrset *set, const kiln_ctype *t);

/* Whether a func, component or instance type refers to a resource this component defines:
 * in a parameter, result or item type, or as a type export or import bound (eq) to it. */
static int crosses_with_resource(kc_scope *s, const kiln_ctype *t)
{
    if (refers_local_resource(s, t, NULL, 0) != 0) return 1;
    for (int pass = 0; pass < 2; pass++) {
        const kiln_citem *items = pass ? t->imports : t->exports;
        uint32_t n = pass ? t->nimports : t->nexports;
        for (uint32_t i = 0; i < n; i++)
            if (items[i].sort == KILN_CSORT_TYPE && items[i].type &&
                items[i].type->kind == KILN_CT_RESOURCE && !items[i].type->abstract)
                return 1;
    }
    return 0;
}

static int check_alias(kc_scope *s, const kiln_calias *a, int in_type)
{
    if (a->kind == KILN_CALIAS_OUTER) {
        if (in_type && a->sort != KILN_CSORT_TYPE && a->sort != KILN_CSORT_CORE_TYPE) {
            kc_sfail(s, "outer aliases in types may only alias types and core types");
            return -1;
        }
        kc_scope *target = s;
        int crossed_component = 0;
        for (uint32_t k = 0; k < a->count && target; k++) {
            crossed_component |= target->is_component;
            target = target->outer;
        }
        if (!target) {
            kc_sfail(s, "outer alias count %u exceeds the %s enclosing scopes", a->count,
                     "number of");
            return -1;
        }
        kiln_cspace *sp = &target->spaces[a->sort];
        if (a->index >= sp->n) {
            kc_sfail(s, "outer alias %u of %s %u: no such %s (%u %ss)", a->count,
                     kiln_csort_name(a->sort), a->index, kiln_csort_name(a->sort), sp->n,
                     kiln_csort_name(a->sort));
            return -1;
        }
        const kiln_ctype *t = sp->types[a->index];
        /* A resource may not cross a component boundary, neither directly nor inside a
         * func, component or instance type that refers to one (outer-alias.wast). */
        if (crossed_component && a->sort == KILN_CSORT_TYPE && t &&
            (t->kind == KILN_CT_RESOURCE || t->has_handle ||
             ((t->kind == KILN_CT_FUNC || t->kind == KILN_CT_COMPONENT ||
               t->kind == KILN_CT_INSTANCE) &&
              crosses_with_resource(s, t)))) {
            kc_sfail(s, "outer alias of type %u refers to a resource of an enclosing component",
                     a->index);
            return -1;
        }
        return kc_push(s, a->sort, t);
    }
    if (a->kind == KILN_CALIAS_CORE_EXPORT) {
        const kiln_ctype *it = kc_lookup_kind(s, KILN_CSORT_CORE_INSTANCE, a->instance,
                                              KILN_CT_CORE_INSTANCE, "alias of");
        if (!it) return -1;
        if (a->sort > KILN_CSORT_CORE_TAG) {
            kc_sfail(s, "core export alias of a %s", kiln_csort_name(a->sort));
            return -1;
        }
        const kiln_citem *ex = kcv_find_export(s, it, a->name);
        if (!ex) {
            kc_sfail(s, "alias of core instance %u: no export named '%s'", a->instance, a->name);
            return -1;
        }
        if (ex->sort != a->sort) {
            kc_sfail(s, "alias of core instance %u export '%s': it is a %s, not a %s", a->instance,
                     a->name, kiln_csort_name(ex->sort), kiln_csort_name(a->sort));
            return -1;
        }
        return kc_push(s, a->sort, ex->type);
    }
    if (in_type && a->sort != KILN_CSORT_TYPE && a->sort != KILN_CSORT_INSTANCE) {
        kc_sfail(s, "export aliases in types may only alias types and instances");
        return -1;
    }
    const kiln_ctype *it =
        kc_lookup_kind(s, KILN_CSORT_INSTANCE, a->instance, KILN_CT_INSTANCE, "alias of");
    if (!it) return -1;
    const kiln_citem *ex = kcv_find_export(s, it, a->name);
    if (!ex) {
        kc_sfail(s, "alias of instance %u: no export named '%s'", a->instance, a->name);
        return -1;
    }
    if (ex->sort != a->sort) {
        kc_sfail(s, "alias of instance %u export '%s': it is a %s, not a %s", a->instance, a->name,
                 kiln_csort_name(ex->sort), kiln_csort_name(a->sort));
        return -1;
    }
    /* what an imported or exported instance exports is visible */
    if (s->visible && is_named(s, it) &&
        (a->sort == KILN_CSORT_TYPE || a->sort == KILN_CSORT_INSTANCE) &&
        add_named(s, ex->type, ptrset_has(&s->imported, it)) < 0)
        return -1;
    return kc_push(s, a->sort, ex->type);
}

/* ---- types ---- */

static int check_decls(kc_scope *s, kiln_ctype *t);

static int check_functype(kc_scope *s, kiln_ctype *t)
{
    for (uint32_t i = 0; i < t->nitems; i++)
        if (kc_resolve_val(s, &t->items[i].type, "parameter") < 0) return -1;
    if (check_labels_unique(s, t, "parameter") < 0) return -1;
    if (t->has_elem) {
        if (kc_resolve_val(s, &t->elem, "result") < 0) return -1;
        if (t->elem.type->has_borrow) {
            kc_sfail(s, "function result must not hold a borrow");
            return -1;
        }
    }
    uint32_t flat = t->flat;
    t->flat = FLAT_LIMIT; /* no flat_sig for a func type itself */
    int r = kc_finish_valtype(s, t);
    t->flat = flat;
    return r;
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
            kc_sfail(s, "resource types can only be defined in components");
            return -1;
        }
        if (t->has_dtor) {
            const kiln_ctype *ft = kc_lookup_kind(s, KILN_CSORT_CORE_FUNC, t->dtor,
                                                  KILN_CT_CORE_FUNC, "resource destructor");
            if (!ft) return -1;
            if (ft->sig && strcmp(ft->sig, "i:") != 0) {
                kc_sfail(s, "resource destructor core func %u has type %s, want [i32] -> []",
                         t->dtor, ft->sig);
                return -1;
            }
        }
        return 0;
    default:
        if (kc_check_valtype_def(s, t) < 0) return -1;
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

static uint32_t hash_name(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h;
}

/* The resource imported (is_import) or exported as p[0..len) in the scope, or NULL. */
static const kiln_ctype *find_resource(const kc_scope *s, const char *p, size_t len, int is_import)
{
    if (!s->capres) return NULL;
    for (uint32_t i = hash_name(p, len) & (s->capres - 1);; i = (i + 1) & (s->capres - 1)) {
        const struct res_slot *e = &s->res[i];
        if (!e->name) return NULL;
        if (e->is_import == is_import && strlen(e->name) == len && strncmp(e->name, p, len) == 0)
            return e->type;
    }
}

/* Remembers resource `t` imported or exported as `name` (the first one of a name and kind
 * wins). */
static int add_resource(kc_scope *s, const char *name, const kiln_ctype *t, int is_import)
{
    if (find_resource(s, name, strlen(name), is_import)) return 0;
    if ((s->nres + 1) * 2 > s->capres) {
        uint32_t ncap = s->capres ? s->capres * 2 : 16;
        struct res_slot *nr = kc_alloc_array(s->x, ncap, sizeof *nr);
        if (!nr) return -1;
        struct res_slot *old = s->res;
        uint32_t oldcap = s->capres;
        s->res = nr, s->capres = ncap, s->nres = 0;
        for (uint32_t i = 0; i < oldcap; i++)
            if (old[i].name && add_resource(s, old[i].name, old[i].type, old[i].is_import) < 0)
                return -1;
    }
    uint32_t i = hash_name(name, strlen(name)) & (s->capres - 1);
    while (s->res[i].name)
        i = (i + 1) & (s->capres - 1);
    s->res[i] = (struct res_slot){name, t, is_import};
    s->nres++;
    return 0;
}

/* [constructor]R, [method]R.x, [static]R.x: a func of a resource R named earlier by an
 * import (for an import) or an export (for an export): an import's name does not name a
 * resource for exports (component-spec annotated-names.wast). */
static int check_annotation(kc_scope *s, const char *name, kiln_csort sort, const kiln_ctype *ft,
                            int is_import)
{
    const char *p = NULL;
    int kind = 0; /* 1 constructor, 2 method, 3 static */
    if (strncmp(name, "[constructor]", 13) == 0) p = name + 13, kind = 1;
    if (strncmp(name, "[method]", 8) == 0) p = name + 8, kind = 2;
    if (strncmp(name, "[static]", 8) == 0) p = name + 8, kind = 3;
    if (!p) return 0;
    if (sort != KILN_CSORT_FUNC) {
        kc_sfail(s, "'%s' must be a func, not a %s", name, kiln_csort_name(sort));
        return -1;
    }
    size_t len = strcspn(p, ".");
    const kiln_ctype *r = find_resource(s, p, len, is_import);
    if (!r) {
        kc_sfail(s, "'%s' names resource '%.*s', which is not %s before it", name, (int)len, p,
                 is_import ? "imported" : "exported");
        return -1;
    }
    if (!ft || ft->kind != KILN_CT_FUNC) return 0;
    if (kind == 1) {
        const kiln_ctype *res = ft->has_elem ? ft->elem.type : NULL;
        if (res && res->kind == KILN_CT_RESULT && res->has_elem) res = res->elem.type;
        if (!res || res->kind != KILN_CT_OWN || res->elem.type != r) {
            kc_sfail(s, "'%s' must return (own %.*s) or a result of it", name, (int)len, p);
            return -1;
        }
    } else if (kind == 2) {
        const kiln_ctype *self = ft->nitems ? ft->items[0].type.type : NULL;
        if (!self || strcmp(ft->items[0].name, "self") != 0 || self->kind != KILN_CT_BORROW ||
            self->elem.type != r) {
            kc_sfail(s, "'%s' must take (param \"self\" (borrow %.*s)) first", name, (int)len, p);
            return -1;
        }
    }
    return 0;
}

/* Resolves an externtype in scope s; returns the type of the item (fresh abstract
 * resource for (sub resource)), or NULL after an error. */
static const kiln_ctype *check_externtype(kc_scope *s, kiln_cextern *e)
{
    const char *what = "import or export of";
    switch (e->sort) {
    case KILN_CSORT_CORE_MODULE:
        return kc_lookup_kind(s, KILN_CSORT_CORE_TYPE, e->index, KILN_CT_CORE_MODULE, what);
    case KILN_CSORT_FUNC:
        return kc_lookup_kind(s, KILN_CSORT_TYPE, e->index, KILN_CT_FUNC, what);
    case KILN_CSORT_COMPONENT:
        return kc_lookup_kind(s, KILN_CSORT_TYPE, e->index, KILN_CT_COMPONENT, what);
    case KILN_CSORT_INSTANCE:
        return kc_lookup_kind(s, KILN_CSORT_TYPE, e->index, KILN_CT_INSTANCE, what);
    case KILN_CSORT_VALUE:
        if (e->value_eq) {
            int ok;
            const kiln_ctype *t = kc_lookup(s, KILN_CSORT_VALUE, e->index, what, &ok);
            return ok ? (t ? t : &kc_prims[0]) : NULL;
        }
        if (kc_resolve_val(s, &e->value, what) < 0) return NULL;
        return e->value.type;
    case KILN_CSORT_TYPE: {
        if (!e->bound_sub_resource) {
            int ok;
            const kiln_ctype *t = kc_lookup(s, KILN_CSORT_TYPE, e->index, what, &ok);
            if (!ok) return NULL;
            if (!t) {
                kc_sfail(s, "type %u is unknown", e->index);
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
        kc_sfail(s, "invalid extern type");
        return NULL;
    }
}

/* An import or export declaration/definition: name checks, the item's space, the list. */
/* Instance types being walked: a resource that one of them exports as a type is
 * introduced by that export declaration. */
struct inst_stack {
    const kiln_ctype *inst;
    const struct inst_stack *up;
};

static int exported_by(kc_scope *s, const inst_stack *st, const kiln_ctype *r)
{
    for (; st; st = st->up) {
        s->x->match_budget -= st->inst->nexports;
        for (uint32_t i = 0; i < st->inst->nexports; i++)
            if (st->inst->exports[i].sort == KILN_CSORT_TYPE && st->inst->exports[i].type == r)
                return 1;
    }
    return 0;
}

/* 1 when t (transitively) refers to a resource defined by this component itself rather
 * than introduced by an import or export (declaration); -1 when over budget. */
static int refers_local_resource(kc_scope *s, const kiln_ctype *t, const inst_stack *st,
                                 unsigned depth)
{
    if (!t) return 0;
    if (t->kind == KILN_CT_RESOURCE) return !t->abstract && !exported_by(s, st, t);
    if (KILN_CT_IS_PRIMITIVE(t->kind) || t->kind >= KILN_CT_CORE_FUNC) return 0;
    if (--s->x->match_budget < 0 || depth > KILN_COMPONENT_MAX_TYPE_DEPTH) return -1;
    inst_stack here = {t, st};
    if (t->kind == KILN_CT_INSTANCE) st = &here;
    int r = 0;
    for (uint32_t i = 0; i < t->nitems && !r; i++)
        if (t->items[i].has_type)
            r = refers_local_resource(s, t->items[i].type.type, st, depth + 1);
    if (!r && t->has_elem) r = refers_local_resource(s, t->elem.type, st, depth + 1);
    if (!r && t->has_elem2) r = refers_local_resource(s, t->elem2.type, st, depth + 1);
    for (uint32_t i = 0; i < t->nexports && !r; i++)
        if (t->exports[i].sort != KILN_CSORT_TYPE || !t->exports[i].type ||
            t->exports[i].type->kind != KILN_CT_RESOURCE)
            r = refers_local_resource(s, t->exports[i].type, st, depth + 1);
    for (uint32_t i = 0; i < t->nimports && !r; i++)
        r = refers_local_resource(s, t->imports[i].type, st, depth + 1);
    if (s->x->match_budget < 0) return -1;
    return r;
}

/* ---- external visibility of named types (Explainer.md "external visibility") ----
 * A record, variant, enum or flags type that an import or export (a func's parameters and
 * results, a type's children, an instance's exports) refers to must itself have been
 * imported or exported before, or be aliased out of an imported or exported instance:
 * then bindings generators can give it a name. An instance type's own type exports name
 * what its other exports use. Resources are checked by refers_local_resource. */

static uint32_t ptr_hash(const void *p)
{
    uintptr_t v = (uintptr_t)p;
    v ^= v >> 17;
    v *= 0xed5ad4bbu;
    v ^= v >> 11;
    return (uint32_t)v;
}

static int ptrset_has(const kc_ptrset *set, const kiln_ctype *t)
{
    if (!set->cap) return 0;
    for (uint32_t i = ptr_hash(t) & (set->cap - 1);; i = (i + 1) & (set->cap - 1)) {
        if (!set->v[i]) return 0;
        if (set->v[i] == t) return 1;
    }
}

static int ptrset_add(kc_ctx *x, kc_ptrset *set, const kiln_ctype *t)
{
    if (!t || ptrset_has(set, t)) return 0;
    if ((set->n + 1) * 2 > set->cap) {
        uint32_t ncap = set->cap ? set->cap * 2 : 32;
        const kiln_ctype **nv = kc_alloc_array(x, ncap, sizeof *nv);
        if (!nv) return -1;
        kc_ptrset old = *set;
        *set = (kc_ptrset){nv, 0, ncap};
        for (uint32_t i = 0; i < old.cap; i++)
            if (old.v[i] && ptrset_add(x, set, old.v[i]) < 0) return -1;
    }
    uint32_t i = ptr_hash(t) & (set->cap - 1);
    while (set->v[i])
        i = (i + 1) & (set->cap - 1);
    set->v[i] = t;
    set->n++;
    return 0;
}

static int is_named(const kc_scope *s, const kiln_ctype *t)
{
    return ptrset_has(&s->named, t);
}

/* Records t as named here, and as imported too when `imported`. */
static int add_named(kc_scope *s, const kiln_ctype *t, int imported)
{
    if (ptrset_add(s->x, &s->named, t) < 0) return -1;
    return imported ? ptrset_add(s->x, &s->imported, t) : 0;
}

static int is_nameable(const kiln_ctype *t)
{
    return t && (t->kind == KILN_CT_RECORD || t->kind == KILN_CT_VARIANT ||
                 t->kind == KILN_CT_ENUM || t->kind == KILN_CT_FLAGS);
}

static int vis_type(kc_scope *s, const kiln_ctype *t, const inst_stack *st, unsigned depth);

/* The children of t (fields, cases, elements, parameters, result) are visible. */
static int vis_children(kc_scope *s, const kiln_ctype *t, const inst_stack *st, unsigned depth)
{
    int r = 0;
    for (uint32_t i = 0; i < t->nitems && !r; i++)
        if (t->items[i].has_type) r = vis_type(s, t->items[i].type.type, st, depth + 1);
    if (!r && t->has_elem) r = vis_type(s, t->elem.type, st, depth + 1);
    if (!r && t->has_elem2) r = vis_type(s, t->elem2.type, st, depth + 1);
    return r;
}

/* 0 when every named type t refers to is visible here, 1 when one is not, -1 over budget. */
static int vis_type(kc_scope *s, const kiln_ctype *t, const inst_stack *st, unsigned depth)
{
    if (!t || KILN_CT_IS_PRIMITIVE(t->kind) || t->kind == KILN_CT_RESOURCE ||
        t->kind == KILN_CT_OWN || t->kind == KILN_CT_BORROW || t->kind >= KILN_CT_COMPONENT)
        return 0;
    if (--s->x->match_budget < 0 || depth > KILN_COMPONENT_MAX_TYPE_DEPTH) return -1;
    if (is_nameable(t)) return is_named(s, t) || exported_by(s, st, t) ? 0 : 1;
    return vis_children(s, t, st, depth);
}

/* 0 when every resource that t (an imported item's type) hands over as own/borrow came from
 * an import here or is exported by an enclosing instance type of the walk; 1 otherwise
 * (an import cannot refer to what the component defines or exports); -1 over budget. */
static int imports_foreign(kc_scope *s, const kiln_ctype *t, const inst_stack *st, unsigned depth)
{
    if (!t || KILN_CT_IS_PRIMITIVE(t->kind) || t->kind == KILN_CT_RESOURCE ||
        t->kind == KILN_CT_COMPONENT || t->kind >= KILN_CT_CORE_FUNC)
        return 0;
    if (--s->x->match_budget < 0 || depth > KILN_COMPONENT_MAX_TYPE_DEPTH) return -1;
    if (t->kind == KILN_CT_OWN || t->kind == KILN_CT_BORROW) {
        const kiln_ctype *r = t->elem.type;
        return !r || ptrset_has(&s->imported, r) || exported_by(s, st, r) ? 0 : 1;
    }
    inst_stack here = {t, st};
    if (t->kind == KILN_CT_INSTANCE) st = &here;
    int r = 0;
    for (uint32_t i = 0; i < t->nitems && !r; i++)
        if (t->items[i].has_type) r = imports_foreign(s, t->items[i].type.type, st, depth + 1);
    if (!r && t->has_elem) r = imports_foreign(s, t->elem.type, st, depth + 1);
    if (!r && t->has_elem2) r = imports_foreign(s, t->elem2.type, st, depth + 1);
    for (uint32_t i = 0; t->kind == KILN_CT_INSTANCE && i < t->nexports && !r; i++)
        r = imports_foreign(s, t->exports[i].type, st, depth + 1);
    return r;
}

/* An item of sort `sort` and type t may be imported or exported here. */
static int vis_item(kc_scope *s, kiln_csort sort, const kiln_ctype *t, const inst_stack *st,
                    unsigned depth)
{
    if (!t) return 0;
    if (--s->x->match_budget < 0 || depth > KILN_COMPONENT_MAX_TYPE_DEPTH) return -1;
    switch (sort) {
    case KILN_CSORT_TYPE:
        if (t->kind == KILN_CT_INSTANCE || t->kind == KILN_CT_FUNC)
            return vis_item(s, t->kind == KILN_CT_INSTANCE ? KILN_CSORT_INSTANCE : KILN_CSORT_FUNC,
                            t, st, depth + 1);
        /* a named type re-exported needs nothing; a new one needs its children visible */
        if (is_nameable(t)) return is_named(s, t) ? 0 : vis_children(s, t, st, depth);
        return vis_type(s, t, st, depth);
    case KILN_CSORT_FUNC:
    case KILN_CSORT_VALUE:
        return vis_type(s, t, st, depth);
    case KILN_CSORT_INSTANCE: {
        if (t->kind != KILN_CT_INSTANCE) return 0;
        inst_stack here = {t, st};
        int r = 0;
        for (uint32_t i = 0; i < t->nexports && !r; i++)
            r = vis_item(s, t->exports[i].sort, t->exports[i].type, &here, depth + 1);
        return r;
    }
    default:
        return 0;
    }
}

/* Adds to m a fresh abstract copy of every resource defined here that instance type t
 * exports, directly or through nested instances. 0 or -1. */
static int fresh_exported_resources(kc_scope *s, subst *m, const kiln_ctype *t, unsigned depth)
{
    if (!t || t->kind != KILN_CT_INSTANCE) return 0;
    if (--s->x->match_budget < 0 || depth > KILN_COMPONENT_MAX_TYPE_DEPTH) {
        kc_sfail(s, "types too large to export");
        return -1;
    }
    for (uint32_t i = 0; i < t->nexports; i++) {
        const kiln_citem *e = &t->exports[i];
        if (e->sort == KILN_CSORT_INSTANCE &&
            fresh_exported_resources(s, m, e->type, depth + 1) < 0)
            return -1;
        if (e->sort != KILN_CSORT_TYPE || !e->type || e->type->kind != KILN_CT_RESOURCE ||
            e->type->abstract)
            continue;
        uint32_t k = 0;
        while (k < m->n && m->from[k] != e->type)
            k++;
        if (k < m->n) continue;
        kiln_ctype *r = kc_alloc(s->x, sizeof *r);
        if (!r) return -1;
        *r = *e->type;
        r->abstract = 1;
        r->name = e->name;
        if (kcv_subst_put(s, m, e->type, r) < 0) return -1;
    }
    return 0;
}

static int add_extern(kc_scope *s, int is_import, const char *name, kiln_csort sort,
                      const kiln_ctype *t)
{
    if (check_annotation(s, name, sort, t, is_import) < 0) return -1;
    if (s->is_component && !is_import && sort == KILN_CSORT_INSTANCE) {
        /* Exporting an instance exports the resources it exports as fresh abstract types,
         * as exporting a resource does: what is aliased from the exported instance names
         * them (component-spec external-visibility.wast, "bags-of-exports"). */
        subst m = {0};
        if (fresh_exported_resources(s, &m, t, 0) < 0) return -1;
        if (m.n && !(t = kcv_subst_type(s, &m, t, 0))) return -1;
    }
    if (s->is_component && !is_import) {
        if (sort == KILN_CSORT_TYPE && t && t->kind == KILN_CT_RESOURCE && !t->abstract) {
            /* exporting a resource introduces a new abstract type index for it: the same
             * one however often it is exported (component-spec resources.wast) */
            uint32_t k = 0;
            while (k < s->exported.n && s->exported.from[k] != t)
                k++;
            if (k < s->exported.n) {
                t = s->exported.to[k];
            } else {
                kiln_ctype *r = kc_alloc(s->x, sizeof *r);
                if (!r) return -1;
                *r = *t;
                r->abstract = 1;
                r->name = name;
                kcv_set_name(t, name);
                if (kcv_subst_put(s, &s->exported, t, r) < 0) return -1;
                t = r;
            }
        } else {
            int local = refers_local_resource(s, t, NULL, 0);
            if (local) {
                kc_sfail(s,
                         local < 0
                             ? "export '%s': type too large to check"
                             : "export '%s' refers to a resource of this component that is not "
                               "exported before it (export the resource and ascribe the type)",
                         name);
                return -1;
            }
        }
    }
    if (s->visible && is_import) {
        int v = imports_foreign(s, t, NULL, 0);
        if (v) {
            kc_sfail(s,
                     v < 0 ? "import '%s': type too large to check"
                           : "import '%s' refers to a resource that is not imported before it",
                     name);
            return -1;
        }
    }
    if (s->visible) {
        int v = vis_item(s, sort, t, NULL, 0);
        if (v) {
            kc_sfail(s,
                     v < 0 ? "%s '%s': type too large to check"
                           : "%s '%s' refers to a record, variant, enum or flags type that is not "
                             "imported or exported before it (external visibility)",
                     is_import ? "import" : "export", name);
            return -1;
        }
        /* An exported named type is a new type index: what refers to the exported one
         * is visible, what refers to the definition is not. An exported instance gets its
         * own type too, so that aliases out of the unexported original name nothing. */
        if (!is_import && s->is_component && (is_nameable(t) || sort == KILN_CSORT_INSTANCE)) {
            kiln_ctype *c = kc_alloc(s->x, sizeof *c);
            if (!c) return -1;
            *c = *t;
            c->name = name;
            t = c;
        }
        if ((sort == KILN_CSORT_TYPE || sort == KILN_CSORT_INSTANCE) &&
            add_named(s, t, is_import) < 0)
            return -1;
        /* the types an exported instance exports are named by it (what an alias out of
         * it would name): a later export may refer to them */
        if (!is_import && sort == KILN_CSORT_INSTANCE && t)
            for (uint32_t i = 0; i < t->nexports; i++)
                if (t->exports[i].sort == KILN_CSORT_TYPE && t->exports[i].type &&
                    add_named(s, t->exports[i].type, 0) < 0)
                    return -1;
    }
    kiln_citem it = {.name = name, .sort = sort, .type = t};
    if (sort == KILN_CSORT_TYPE) kcv_set_name(t, name);
    if (sort == KILN_CSORT_TYPE && t && t->kind == KILN_CT_RESOURCE &&
        add_resource(s, name, t, is_import) < 0)
        return -1;
    if (add_item(s, is_import, &it) < 0) return -1;
    return kc_push(s, sort, t);
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
        if (kcv_unique(s, names, pass ? s->export_offs : s->import_offs, n,
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
    kc_scope sub = {.outer = s,
                    .spaces = local,
                    .x = s->x,
                    .sec = s->sec,
                    .offset = s->offset,
                    .visible = t->kind == KILN_CT_COMPONENT};
    for (uint32_t i = 0; i < t->ndecls; i++) {
        kiln_cdecl *d = &t->decls[i];
        sub.offset = d->offset;
        switch (d->kind) {
        case KILN_CDECL_CORE_TYPE:
            if (kcv_core_type(&sub, d->type) < 0) return -1;
            if (kc_push(&sub, KILN_CSORT_CORE_TYPE, d->type) < 0) return -1;
            break;
        case KILN_CDECL_TYPE:
            if (check_type(&sub, d->type) < 0) return -1;
            if (kc_push(&sub, KILN_CSORT_TYPE, d->type) < 0) return -1;
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
            kc_sfail(&sub, "invalid declarator");
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

/* An instance import's type with the resources it declares ((sub resource) exports) made
 * new when an earlier import of the same instance type claimed them: each import brings
 * its own resources (component-spec resources.wast). NULL after an error. */
static const kiln_ctype *fresh_import_resources(kc_scope *s, const kiln_ctype *t)
{
    subst m = {0};
    for (uint32_t i = 0; i < t->ndecls; i++) {
        const kiln_cdecl *d = &t->decls[i];
        if (d->kind != KILN_CDECL_EXPORT || d->ext.sort != KILN_CSORT_TYPE ||
            !d->ext.bound_sub_resource || !d->ext.type)
            continue;
        if (!ptrset_has(&s->claimed, d->ext.type)) {
            if (ptrset_add(s->x, &s->claimed, d->ext.type) < 0) return NULL;
            continue;
        }
        kiln_ctype *r = kc_alloc(s->x, sizeof *r);
        if (!r) return NULL;
        *r = *d->ext.type;
        if (kcv_subst_put(s, &m, d->ext.type, r) < 0 || ptrset_add(s->x, &s->claimed, r) < 0)
            return NULL;
    }
    const kiln_ctype *out = m.n ? kcv_subst_type(s, &m, t, 0) : t;
    if (!out) return NULL;
    /* instance-typed exports bring their own resources too */
    kiln_citem *ex = NULL;
    for (uint32_t i = 0; i < out->nexports; i++) {
        const kiln_citem *e = &out->exports[i];
        if (e->sort != KILN_CSORT_INSTANCE || !e->type || e->type->kind != KILN_CT_INSTANCE)
            continue;
        if (--s->x->match_budget < 0) {
            kc_sfail(s, "types too large to import");
            return NULL;
        }
        const kiln_ctype *f = fresh_import_resources(s, e->type);
        if (!f) return NULL;
        if (f == e->type) continue;
        if (!ex) {
            if (!(ex = kc_alloc_array(s->x, out->nexports, sizeof *ex))) return NULL;
            memcpy(ex, out->exports, out->nexports * sizeof *ex);
        }
        ex[i].type = f;
    }
    if (!ex) return out;
    kiln_ctype *c = kc_alloc(s->x, sizeof *c);
    if (!c) return NULL;
    *c = *out;
    c->exports = ex;
    c->exports_by_name = NULL;
    return c;
}

/* ---- components ---- */

int kc_validate_component(kc_ctx *x, kiln_component *c, kc_scope *outer)
{
    if (!outer) x->match_budget = 10 * 1000 * 1000;
    kc_scope s = {.outer = outer,
                  .is_component = 1,
                  .visible = 1,
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
                kcv_embedded_module_type(&s, &d->module, s.spaces[KILN_CSORT_CORE_MODULE].n);
            if (!mt) return -1;
            d->module.type = mt;
            r = kc_push(&s, KILN_CSORT_CORE_MODULE, mt);
            break;
        }
        case KILN_CDEF_CORE_INSTANCE:
            r = kcv_core_instance(&s, &d->instance);
            break;
        case KILN_CDEF_CORE_TYPE:
            if ((r = kcv_core_type(&s, d->type)) == 0)
                r = kc_push(&s, KILN_CSORT_CORE_TYPE, d->type);
            break;
        case KILN_CDEF_COMPONENT:
            if ((r = kc_validate_component(x, d->component, &s)) == 0)
                r = kc_push(&s, KILN_CSORT_COMPONENT, d->component->type);
            break;
        case KILN_CDEF_INSTANCE:
            r = kcv_instance(&s, &d->instance);
            break;
        case KILN_CDEF_ALIAS:
            r = check_alias(&s, &d->alias, 0);
            break;
        case KILN_CDEF_TYPE:
            if ((r = check_type(&s, d->type)) == 0) r = kc_push(&s, KILN_CSORT_TYPE, d->type);
            break;
        case KILN_CDEF_CANON:
            r = kc_check_canon(&s, &d->canon);
            break;
        case KILN_CDEF_START: {
            const kiln_ctype *ft =
                kc_lookup_kind(&s, KILN_CSORT_FUNC, d->start.func, KILN_CT_FUNC, "start of");
            if (!ft) return -1;
            for (uint32_t k = 0; k < d->start.nargs; k++) {
                int ok;
                kc_lookup(&s, KILN_CSORT_VALUE, d->start.args[k], "start argument", &ok);
                if (!ok) return -1;
            }
            if (d->start.nargs != ft->nitems || d->start.nresults != (uint32_t)ft->has_elem) {
                kc_sfail(&s, "start of func %u: arity mismatch", d->start.func);
                return -1;
            }
            for (uint32_t k = 0; k < d->start.nresults; k++)
                if ((r = kc_push(&s, KILN_CSORT_VALUE, ft->elem.type)) < 0) break;
            break;
        }
        case KILN_CDEF_IMPORT: {
            const kiln_ctype *et = check_externtype(&s, &d->ext);
            if (!et) return -1;
            if (d->ext.sort == KILN_CSORT_INSTANCE && !(et = fresh_import_resources(&s, et)))
                return -1;
            d->ext.type = et; /* what instantiation maps (link.c) */
            r = add_extern(&s, 1, d->ext.name, d->ext.sort, et);
            break;
        }
        case KILN_CDEF_EXPORT: {
            kiln_csort sort = d->export_sort;
            if (sort < KILN_CSORT_CORE_MODULE || sort == KILN_CSORT_CORE_INSTANCE) {
                kc_sfail(&s, "export '%s': a %s cannot be exported", d->ext.name,
                         kiln_csort_name(sort));
                return -1;
            }
            int ok;
            const kiln_ctype *et = kc_lookup(&s, sort, d->export_index, "export of", &ok);
            if (!ok) return -1;
            if (d->has_export_type) {
                const kiln_ctype *asc = check_externtype(&s, &d->ext);
                if (!asc) return -1;
                if (d->ext.sort != sort) {
                    kc_sfail(&s, "export '%s': a %s ascribed the type of a %s", d->ext.name,
                             kiln_csort_name(sort), kiln_csort_name(d->ext.sort));
                    return -1;
                }
                if (sort == KILN_CSORT_TYPE && d->ext.bound_sub_resource &&
                    (!et || et->kind != KILN_CT_RESOURCE)) {
                    kc_sfail(&s, "export '%s': type %u is not a resource", d->ext.name,
                             d->export_index);
                    return -1;
                }
                if (sort != KILN_CSORT_TYPE || !d->ext.bound_sub_resource) {
                    /* the item must be usable as the ascribed type, the resources this
                     * component exported standing for their definitions */
                    const kiln_ctype *got =
                        s.exported.n && et ? kcv_subst_type(&s, &s.exported, et, 0) : et;
                    char why[300] = "";
                    if (et && !got) return -1;
                    if (!kcv_extern_matches(&s, sort, asc, got, 0, why, sizeof why)) {
                        kc_sfail(&s, "export '%s': ascribed type of export is not compatible (%s)",
                                 d->ext.name, why);
                        return -1;
                    }
                    et = asc;
                } else if (!et->abstract) {
                    /* ascribed (sub resource): a type of its own, not the one other exports
                     * of the same resource share (component-spec resources.wast) */
                    kiln_ctype *fresh = kc_alloc(x, sizeof *fresh);
                    if (!fresh) return -1;
                    *fresh = *et;
                    fresh->abstract = 1;
                    fresh->name = d->ext.name;
                    et = fresh;
                }
            }
            d->ext.sort = sort;
            d->ext.type = et;
            r = add_extern(&s, 0, d->ext.name, sort, et);
            /* Exporting a resource made a new abstract type index for it: that is the type
             * later definitions see, and the one instantiation must map (link.c). */
            if (r == 0 && sort == KILN_CSORT_TYPE)
                d->ext.type = s.spaces[KILN_CSORT_TYPE].types[s.spaces[KILN_CSORT_TYPE].n - 1];
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
