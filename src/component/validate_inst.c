/* validate_inst.c — validation of instantiation (validate_internal.h): core module types,
 * core instances (every import module named by an argument, every imported field exported
 * with the same kind and signature), component instances (every import supplied, with a
 * subtype), the subtyping of modules, instances, functions and values, and the
 * substitution of type imports and fresh resources into the instance types made. */
#include "component/validate_internal.h"
#include "engine/wasm_reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- core module types ---- */

/* Validates a core type (func types are complete; module types get imports/exports). */
int kcv_core_type(kc_scope *s, kiln_ctype *t)
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
            if (kc_push(&sub, KILN_CSORT_CORE_TYPE, d->type) < 0) return -1;
            break;
        case KILN_CDECL_ALIAS: {
            kc_scope *target = &sub;
            for (uint32_t k = 0; k < d->alias.count && target; k++)
                target = target->outer;
            if (!target) {
                kc_sfail(&sub, "outer alias count %u exceeds the enclosing scopes", d->alias.count);
                return -1;
            }
            if (d->alias.index >= target->spaces[KILN_CSORT_CORE_TYPE].n) {
                kc_sfail(&sub, "outer alias of core type %u: no such core type (%u core types)",
                         d->alias.index, target->spaces[KILN_CSORT_CORE_TYPE].n);
                return -1;
            }
            const kiln_ctype *at = target->spaces[KILN_CSORT_CORE_TYPE].types[d->alias.index];
            if (at && at->kind == KILN_CT_CORE_MODULE) {
                kc_sfail(&sub, "module types cannot alias module types");
                return -1;
            }
            if (kc_push(&sub, KILN_CSORT_CORE_TYPE, at) < 0) return -1;
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
                it.type = kc_lookup_kind(&sub, KILN_CSORT_CORE_TYPE, d->core_index,
                                         KILN_CT_CORE_FUNC, "import or export of");
                if (!it.type) return -1;
            }
            if (d->kind == KILN_CDECL_CORE_IMPORT)
                t->imports[t->nimports++] = it;
            else
                t->exports[t->nexports++] = it;
            break;
        }
        default:
            kc_sfail(&sub, "invalid module type declarator");
            return -1;
        }
    }
    return kcv_core_names(s, t);
}

/* The module type of an embedded module, read with the engine's core reader. */
/* The type of an embedded module's import or export from the engine's textual type: a
 * KILN_CT_CORE_FUNC with its signature for functions; for tables, memories and globals a
 * KILN_CT_CORE_OTHER whose `sig` is the engine's description ("r 1 -", "1 2", "mut i"),
 * which core_extern_matches compares. NULL when out of memory. */
static const kiln_ctype *core_extern_type(kc_scope *s, kiln_extern_kind kind, const char *text)
{
    kiln_ctype *t = kc_alloc(s->x, sizeof *t);
    if (!t) return NULL;
    t->kind = kind == KILN_EXTERN_FUNC ? KILN_CT_CORE_FUNC : KILN_CT_CORE_OTHER;
    t->sig = kc_strndup(s->x, text, strlen(text));
    return t->sig ? t : NULL;
}

/* Parses "[r|e ]MIN MAX|-". 0 or -1. */
static int core_limits(const char *t, char *ref, unsigned long long *min, unsigned long long *max,
                       int *has_max)
{
    *ref = 0;
    if ((t[0] == 'r' || t[0] == 'e') && t[1] == ' ') *ref = t[0], t += 2;
    char *end;
    *min = strtoull(t, &end, 10);
    if (end == t || *end != ' ') return -1;
    t = end + 1;
    *has_max = *t != '-';
    *max = *has_max ? strtoull(t, &end, 10) : 0;
    return 0;
}

/* Core subtyping of a given extern (`got`, a core instance's or module's export) against
 * the wanted one (an import, of the same sort): functions and globals by equal types,
 * tables by element type, and tables and memories by limits (the given range inside the
 * wanted one). Items without a known type match. 1 or 0 (*why says what differs). */
static int core_extern_matches(kiln_csort sort, const kiln_ctype *want, const kiln_ctype *got,
                               const char **why)
{
    *why = "";
    if (!want || !got || !want->sig || !got->sig) return 1;
    if (sort == KILN_CSORT_CORE_FUNC || sort == KILN_CSORT_CORE_GLOBAL) {
        *why = sort == KILN_CSORT_CORE_FUNC ? "function types differ" : "global types differ";
        return strcmp(want->sig, got->sig) == 0;
    }
    if (sort != KILN_CSORT_CORE_TABLE && sort != KILN_CSORT_CORE_MEMORY) return 1;
    char wr, gr;
    unsigned long long wmin, wmax, gmin, gmax;
    int whas, ghas;
    if (core_limits(want->sig, &wr, &wmin, &wmax, &whas) < 0 ||
        core_limits(got->sig, &gr, &gmin, &gmax, &ghas) < 0)
        return 1;
    if (wr != gr) {
        *why = "table element types differ";
        return 0;
    }
    *why = sort == KILN_CSORT_CORE_TABLE ? "mismatch in table limits" : "mismatch in memory limits";
    return gmin >= wmin && (!whas || (ghas && gmax <= wmax));
}

const kiln_ctype *kcv_embedded_module_type(kc_scope *s, const kiln_cmodule *m, uint32_t idx)
{
    char err[256];
    kiln_wasm *w = kiln_wasm_read(m->bytes, m->len, err, sizeof err);
    if (!w) {
        kc_sfail(s, "core module %u: %s (offset within the module)", idx, err);
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
        if (im->type && !(it->type = core_extern_type(s, im->kind, im->type))) goto fail;
        if (!it->module || !it->name) goto fail;
    }
    for (uint32_t i = 0; i < w->nexports; i++) {
        const kiln_wasm_export *ex = &w->exports[i];
        kiln_citem *it = &t->exports[t->nexports++];
        it->name = kc_strndup(s->x, ex->name, ex->name_len);
        it->sort = (unsigned)ex->kind < 5 ? sorts[ex->kind] : KILN_CSORT_CORE_TAG;
        if (ex->type && !(it->type = core_extern_type(s, ex->kind, ex->type))) goto fail;
        if (!it->name) goto fail;
    }
    kiln_wasm_free(w);
    return kcv_core_names(s, t) == 0 ? t : NULL;
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

/* The first export of t named `name`, or NULL. Large export lists get a sorted index on
 * first use, so that n aliases of an instance with n exports cost n log n, not n^2. */
const kiln_citem *kcv_find_export(kc_scope *s, const kiln_ctype *t, const char *name)
{
    if (t->nexports <= 16) return find_item(t->exports, t->nexports, NULL, name);
    if (!t->exports_by_name) {
        const kiln_citem **idx = kc_alloc_array(s->x, t->nexports, sizeof *idx);
        if (!idx) return NULL;
        for (uint32_t i = 0; i < t->nexports; i++)
            idx[i] = &t->exports[i];
        qsort(idx, t->nexports, sizeof *idx, kcv_cmp_item_name);
        ((kiln_ctype *)t)->exports_by_name = idx;
    }
    uint32_t lo = 0, hi = t->nexports;
    while (lo < hi) { /* the first entry >= name */
        uint32_t mid = lo + (hi - lo) / 2;
        if (strcmp(t->exports_by_name[mid]->name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < t->nexports && strcmp(t->exports_by_name[lo]->name, name) == 0)
        return t->exports_by_name[lo];
    return NULL;
}

/* ---- instances ---- */

/* Instantiation arguments (or inline exports) sorted by name: duplicates are refused and
 * lookups cost log n, so that n imports against n arguments cost n log n. */
typedef struct arg_index {
    const kiln_carg **by_name;
    uint32_t n;
} arg_index;

static int cmp_arg(const void *a, const void *b)
{
    const kiln_carg *x = *(const kiln_carg *const *)a, *y = *(const kiln_carg *const *)b;
    int r = strcmp(x->name, y->name);
    return r ? r : (x > y) - (x < y);
}

static int index_args(kc_scope *s, const kiln_cinstance *in, const char *what, arg_index *ix)
{
    ix->n = in->nargs;
    ix->by_name = kc_alloc_array(s->x, in->nargs, sizeof *ix->by_name);
    if (!ix->by_name) return -1;
    for (uint32_t i = 0; i < in->nargs; i++)
        ix->by_name[i] = &in->args[i];
    qsort(ix->by_name, in->nargs, sizeof *ix->by_name, cmp_arg);
    for (uint32_t i = 1; i < in->nargs; i++)
        if (strcmp(ix->by_name[i - 1]->name, ix->by_name[i]->name) == 0) {
            kc_sfail(s, "duplicate %s named '%s'", what, ix->by_name[i]->name);
            return -1;
        }
    return 0;
}

/* The position in in->args of the argument named `name`, or -1. */
static long find_arg(const kiln_cinstance *in, const arg_index *ix, const char *name)
{
    uint32_t lo = 0, hi = ix->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int r = strcmp(ix->by_name[mid]->name, name);
        if (r == 0) return (long)(ix->by_name[mid] - in->args);
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

int kcv_core_instance(kc_scope *s, const kiln_cinstance *in)
{
    kiln_ctype *t = kc_alloc(s->x, sizeof *t);
    if (!t) return -1;
    t->kind = KILN_CT_CORE_INSTANCE;
    arg_index ix;
    if (index_args(s, in, in->from_exports ? "export" : "instantiation argument", &ix) < 0)
        return -1;
    if (in->from_exports) {
        t->exports = kc_alloc_array(s->x, in->nargs, sizeof *t->exports);
        if (!t->exports && in->nargs) return -1;
        for (uint32_t i = 0; i < in->nargs; i++) {
            int ok;
            const kiln_ctype *et =
                kc_lookup(s, in->args[i].sort, in->args[i].index, "export of", &ok);
            if (!ok) return -1;
            if (in->args[i].sort > KILN_CSORT_CORE_TAG) {
                kc_sfail(s, "core instance cannot export a %s", kiln_csort_name(in->args[i].sort));
                return -1;
            }
            t->exports[i] =
                (kiln_citem){.name = in->args[i].name, .sort = in->args[i].sort, .type = et};
        }
        t->nexports = in->nargs;
        return kc_push(s, KILN_CSORT_CORE_INSTANCE, t);
    }
    const kiln_ctype *mt =
        kc_lookup_kind(s, KILN_CSORT_CORE_MODULE, in->of, KILN_CT_CORE_MODULE, "instantiation of");
    if (!mt) return -1;
    const kiln_ctype **args = kc_alloc_array(s->x, in->nargs, sizeof *args);
    if (!args && in->nargs) return -1;
    for (uint32_t i = 0; i < in->nargs; i++)
        if (!(args[i] = kc_lookup_kind(s, KILN_CSORT_CORE_INSTANCE, in->args[i].index,
                                       KILN_CT_CORE_INSTANCE, "instantiation argument")))
            return -1;
    for (uint32_t i = 0; i < mt->nimports; i++) {
        const kiln_citem *im = &mt->imports[i];
        long k = find_arg(in, &ix, im->module);
        const kiln_ctype *arg = k < 0 ? NULL : args[k];
        if (!arg) {
            kc_sfail(s, "instantiation of core module %u: missing argument for import module '%s'",
                     in->of, im->module);
            return -1;
        }
        const kiln_citem *ex = kcv_find_export(s, arg, im->name);
        if (!ex || ex->sort != im->sort) {
            kc_sfail(s, "instantiation of core module %u: import '%s' '%s' (%s) %s", in->of,
                     im->module, im->name, kiln_csort_name(im->sort),
                     ex ? "is given something of another kind" : "is not exported by the argument");
            return -1;
        }
        const char *why;
        if (!core_extern_matches(im->sort, im->type, ex->type, &why)) {
            kc_sfail(s,
                     "instantiation of core module %u: import '%s' '%s' has type %s, given %s (%s)",
                     in->of, im->module, im->name, im->type->sig, ex->type->sig, why);
            return -1;
        }
    }
    t->exports = mt->exports;
    t->nexports = mt->nexports;
    return kc_push(s, KILN_CSORT_CORE_INSTANCE, t);
}

/* Structural equality of two validated types; resources by identity (the caller has
 * substituted type imports: check_instance); instance/component types are not compared. */
static int types_match(kc_ctx *x_, const kiln_ctype *a, const kiln_ctype *b, unsigned depth)
{
    if (a == b) return 1;
    if (--x_->match_budget < 0) return 0;
    if (!a || !b || a->kind != b->kind || depth > KILN_COMPONENT_MAX_TYPE_DEPTH) return 0;
    if (a->kind == KILN_CT_RESOURCE) return 0; /* resources: by identity (a == b above) */
    if (a->kind == KILN_CT_INSTANCE || a->kind == KILN_CT_COMPONENT) return 1;
    if (a->nitems != b->nitems || a->has_elem != b->has_elem || a->has_elem2 != b->has_elem2 ||
        a->len != b->len || a->async != b->async)
        return 0;
    for (uint32_t i = 0; i < a->nitems; i++) {
        const kiln_cfield *x = &a->items[i], *y = &b->items[i];
        if ((x->name == NULL) != (y->name == NULL) || (x->name && strcmp(x->name, y->name)) ||
            x->has_type != y->has_type ||
            (x->has_type && !types_match(x_, x->type.type, y->type.type, depth + 1)))
            return 0;
    }
    if (a->has_elem && !types_match(x_, a->elem.type, b->elem.type, depth + 1)) return 0;
    if (a->has_elem2 && !types_match(x_, a->elem2.type, b->elem2.type, depth + 1)) return 0;
    return 1;
}

/* Whether the core module type `got` can be given for an import of type `want`: each of
 * got's imports is among want's (same names and sort, want's type a subtype of got's), and
 * each of want's exports is among got's (got's a subtype). 1, or 0 with why filled. */
static int core_module_matches(kc_scope *s, const kiln_ctype *want, const kiln_ctype *got,
                               char *why, size_t cap)
{
    const char *d;
    s->x->match_budget -=
        (long)got->nimports * want->nimports + (long)want->nexports * got->nexports;
    if (s->x->match_budget < 0) {
        snprintf(why, cap, "module types too large to compare");
        return 0;
    }
    for (uint32_t i = 0; i < got->nimports; i++) {
        const kiln_citem *g = &got->imports[i];
        const kiln_citem *w = find_item(want->imports, want->nimports, g->module, g->name);
        if (!w) {
            snprintf(why, cap, "missing expected import '%s::%s'", g->module, g->name);
            return 0;
        }
        if (w->sort != g->sort || !core_extern_matches(g->sort, g->type, w->type, &d)) {
            snprintf(why, cap, "type mismatch in import '%s::%s'", g->module, g->name);
            return 0;
        }
    }
    for (uint32_t i = 0; i < want->nexports; i++) {
        const kiln_citem *w = &want->exports[i];
        const kiln_citem *g = find_item(got->exports, got->nexports, NULL, w->name);
        if (!g) {
            snprintf(why, cap, "missing expected export '%s'", w->name);
            return 0;
        }
        if (w->sort != g->sort || !core_extern_matches(w->sort, w->type, g->type, &d)) {
            snprintf(why, cap, "type mismatch in export '%s'", w->name);
            return 0;
        }
    }
    return 1;
}

/* Whether an item of sort `sort` and type `got` can be given where `want` is expected (an
 * import of an instantiated component): functions and value types structurally
 * (types_match), instances export by export, core modules by core_module_matches;
 * resources and component types are not compared yet. 1, or 0 with why filled. */
int kcv_extern_matches(kc_scope *s, kiln_csort sort, const kiln_ctype *want, const kiln_ctype *got,
                       unsigned depth, char *why, size_t cap)
{
    if (!want || !got || want == got) return 1;
    if (--s->x->match_budget < 0 || depth > KILN_COMPONENT_MAX_TYPE_DEPTH) {
        snprintf(why, cap, "types too large to compare");
        return 0;
    }
    switch (sort) {
    case KILN_CSORT_FUNC:
        if (types_match(s->x, want, got, 0)) return 1;
        snprintf(why, cap, "function types differ");
        return 0;
    case KILN_CSORT_TYPE:
        if (!KILN_CT_IS_VALUE(want->kind) || types_match(s->x, want, got, 0)) return 1;
        snprintf(why, cap, "types differ");
        return 0;
    case KILN_CSORT_CORE_MODULE:
        if (want->kind != KILN_CT_CORE_MODULE || got->kind != KILN_CT_CORE_MODULE) return 1;
        return core_module_matches(s, want, got, why, cap);
    case KILN_CSORT_INSTANCE: {
        if (want->kind != KILN_CT_INSTANCE) return 1;
        /* the wanted instance type's own abstract resources stand for the given ones */
        subst lm = {0};
        for (uint32_t i = 0; i < want->nexports; i++) {
            const kiln_citem *w = &want->exports[i];
            if (w->sort != KILN_CSORT_TYPE || !w->type || w->type->kind != KILN_CT_RESOURCE ||
                !w->type->abstract)
                continue;
            const kiln_citem *g = kcv_find_export(s, got, w->name);
            if (g && g->type && g->type != w->type && kcv_subst_put(s, &lm, w->type, g->type) < 0)
                return 0;
        }
        for (uint32_t i = 0; i < want->nexports; i++) {
            const kiln_citem *w = &want->exports[i];
            const kiln_citem *g = kcv_find_export(s, got, w->name);
            if (!g) {
                snprintf(why, cap, "missing expected export '%s'", w->name);
                return 0;
            }
            const kiln_ctype *wt = lm.n && w->type ? kcv_subst_type(s, &lm, w->type, 0) : w->type;
            if (w->type && !wt) return 0;
            if (g->sort != w->sort ||
                !kcv_extern_matches(s, w->sort, wt, g->type, depth + 1, why, cap)) {
                if (g->sort != w->sort || !*why)
                    snprintf(why, cap, "type mismatch in instance export '%s'", w->name);
                return 0;
            }
        }
        return 1;
    }
    default:
        return 1;
    }
}

/* Type imports of an instantiated component: each abstract resource it imports (directly
 * or as an export of an imported instance) stands for the resource the argument gives. */

/* Adds from -> to to m. 0 or -1. */
int kcv_subst_put(kc_scope *s, subst *m, const kiln_ctype *from, const kiln_ctype *to)
{
    if (m->n == m->cap) {
        uint32_t ncap = m->cap ? m->cap * 2 : 8;
        const kiln_ctype **nf = kc_alloc_array(s->x, ncap, sizeof *nf);
        const kiln_ctype **nt = kc_alloc_array(s->x, ncap, sizeof *nt);
        if (!nf || !nt) return -1;
        if (m->n) memcpy(nf, m->from, m->n * sizeof *nf), memcpy(nt, m->to, m->n * sizeof *nt);
        m->from = nf, m->to = nt, m->cap = ncap;
    }
    m->from[m->n] = from;
    m->to[m->n++] = to;
    return 0;
}

/* An imported abstract resource stands for the resource given; a type imported as
 * (eq T) of a record, variant, enum or flags type for the type given (so that the
 * instance's exports refer to the parent's type, visible there). */
static int subst_add(kc_scope *s, subst *m, const kiln_ctype *from, const kiln_ctype *to)
{
    if (!from || !to || from == to || from->kind != to->kind) return 0;
    int named = from->kind == KILN_CT_RECORD || from->kind == KILN_CT_VARIANT ||
                from->kind == KILN_CT_ENUM || from->kind == KILN_CT_FLAGS;
    if (!named && (from->kind != KILN_CT_RESOURCE || !from->abstract)) return 0;
    return kcv_subst_put(s, m, from, to);
}

/* t with the resources of m replaced (a copy when anything changes, t itself otherwise).
 * The work is bounded by the context's comparison budget; NULL after an error. */
const kiln_ctype *kcv_subst_type(kc_scope *s, subst *m, const kiln_ctype *t, unsigned depth)
{
    if (!t) return t;
    for (uint32_t i = 0; i < m->n; i++)
        if (m->from[i] == t) return m->to[i];
    if (KILN_CT_IS_PRIMITIVE(t->kind) || t->kind == KILN_CT_RESOURCE ||
        t->kind >= KILN_CT_CORE_FUNC || t->kind == KILN_CT_COMPONENT)
        return t;
    if (--s->x->match_budget < 0 || depth > KILN_COMPONENT_MAX_TYPE_DEPTH) {
        kc_sfail(s, "types too large to instantiate");
        return NULL;
    }
    kiln_ctype tmp = *t;
    int changed = 0;
    kiln_cfield *items = NULL;
    for (uint32_t i = 0; i < t->nitems; i++) {
        if (!t->items[i].has_type) continue;
        const kiln_ctype *c = kcv_subst_type(s, m, t->items[i].type.type, depth + 1);
        if (!c) return NULL;
        if (c == t->items[i].type.type) continue;
        if (!items) {
            if (!(items = kc_alloc_array(s->x, t->nitems, sizeof *items))) return NULL;
            memcpy(items, t->items, t->nitems * sizeof *items);
        }
        items[i].type.type = c;
        changed = 1;
    }
    if (items) tmp.items = items;
    if (t->has_elem && t->elem.type) {
        if (!(tmp.elem.type = kcv_subst_type(s, m, t->elem.type, depth + 1))) return NULL;
        changed |= tmp.elem.type != t->elem.type;
    }
    if (t->has_elem2 && t->elem2.type) {
        if (!(tmp.elem2.type = kcv_subst_type(s, m, t->elem2.type, depth + 1))) return NULL;
        changed |= tmp.elem2.type != t->elem2.type;
    }
    kiln_citem *ex = NULL;
    for (uint32_t i = 0; t->kind == KILN_CT_INSTANCE && i < t->nexports; i++) {
        const kiln_ctype *c = kcv_subst_type(s, m, t->exports[i].type, depth + 1);
        if (!c && t->exports[i].type) return NULL;
        if (c == t->exports[i].type) continue;
        if (!ex) {
            if (!(ex = kc_alloc_array(s->x, t->nexports, sizeof *ex))) return NULL;
            memcpy(ex, t->exports, t->nexports * sizeof *ex);
        }
        ex[i].type = c;
        changed = 1;
    }
    if (ex) tmp.exports = ex, tmp.exports_by_name = NULL;
    if (!changed) return t;
    kiln_ctype *copy = kc_alloc(s->x, sizeof *copy);
    if (!copy) return NULL;
    *copy = tmp;
    /* a named type keeps one identity: every reference to t gets the same copy (an
     * instance's type export and the functions that use it, wit-component's shims) */
    if ((t->kind == KILN_CT_RECORD || t->kind == KILN_CT_VARIANT || t->kind == KILN_CT_ENUM ||
         t->kind == KILN_CT_FLAGS) &&
        kcv_subst_put(s, m, t, copy) < 0)
        return NULL;
    return copy;
}

/* Adds to m a fresh copy of every resource that the instance or component type t exports
 * (also through exported instances) and m does not already replace: an instantiation's
 * own resources. 0 or -1. */
static int fresh_defined_resources(kc_scope *s, subst *m, const kiln_ctype *t, unsigned depth)
{
    if (!t) return 0;
    if (--s->x->match_budget < 0 || depth > KILN_COMPONENT_MAX_TYPE_DEPTH) {
        kc_sfail(s, "types too large to instantiate");
        return -1;
    }
    for (uint32_t i = 0; i < t->nexports; i++) {
        const kiln_citem *e = &t->exports[i];
        if (e->sort == KILN_CSORT_INSTANCE && e->type &&
            fresh_defined_resources(s, m, e->type, depth + 1) < 0)
            return -1;
        if (e->sort != KILN_CSORT_TYPE || !e->type || e->type->kind != KILN_CT_RESOURCE) continue;
        uint32_t k = 0;
        while (k < m->n && m->from[k] != e->type && m->to[k] != e->type)
            k++;
        if (k < m->n) continue;
        kiln_ctype *r = kc_alloc(s->x, sizeof *r);
        if (!r) return -1;
        *r = *e->type;
        r->abstract = 1;
        if (kcv_subst_put(s, m, e->type, r) < 0) return -1;
    }
    return 0;
}

int kcv_instance(kc_scope *s, const kiln_cinstance *in)
{
    kiln_ctype *t = kc_alloc(s->x, sizeof *t);
    if (!t) return -1;
    t->kind = KILN_CT_INSTANCE;
    const char **names = kc_alloc_array(s->x, in->nargs, sizeof *names);
    if (!names && in->nargs) return -1;
    for (uint32_t i = 0; i < in->nargs; i++)
        names[i] = in->args[i].name;
    if (in->from_exports) {
        if (kcv_unique(s, names, NULL, in->nargs, "export") < 0) return -1;
        t->exports = kc_alloc_array(s->x, in->nargs, sizeof *t->exports);
        if (!t->exports && in->nargs) return -1;
        for (uint32_t i = 0; i < in->nargs; i++) {
            kiln_csort sort = in->args[i].sort;
            if (sort < KILN_CSORT_CORE_MODULE) {
                kc_sfail(s, "instance cannot export a %s", kiln_csort_name(sort));
                return -1;
            }
            int ok;
            const kiln_ctype *et = kc_lookup(s, sort, in->args[i].index, "export of", &ok);
            if (!ok) return -1;
            t->exports[i] = (kiln_citem){.name = in->args[i].name, .sort = sort, .type = et};
            if (sort == KILN_CSORT_TYPE) kcv_set_name(et, in->args[i].name);
        }
        t->nexports = in->nargs;
        return kc_push(s, KILN_CSORT_INSTANCE, t);
    }
    const kiln_ctype *ct =
        kc_lookup_kind(s, KILN_CSORT_COMPONENT, in->of, KILN_CT_COMPONENT, "instantiation of");
    if (!ct) return -1;
    arg_index ix;
    if (index_args(s, in, "instantiation argument", &ix) < 0) return -1;
    const kiln_ctype **argt = kc_alloc_array(s->x, in->nargs, sizeof *argt);
    if (!argt && in->nargs) return -1;
    for (uint32_t i = 0; i < in->nargs; i++) {
        int ok;
        argt[i] = kc_lookup(s, in->args[i].sort, in->args[i].index, "instantiation argument", &ok);
        if (!ok) return -1;
    }
    /* Imports in order, each checked against its argument with the types imported before
     * it replaced by what was given for them (m): an abstract resource imported with (sub
     * resource) stands for the resource given; one bound (eq) to an earlier one must be
     * given the same resource. The exports' types get the same replacements. */
    subst m = {0};
    for (uint32_t i = 0; i < ct->nimports; i++) {
        const kiln_citem *im = &ct->imports[i];
        long k = find_arg(in, &ix, im->name);
        if (k < 0) {
            kc_sfail(s, "instantiation of component %u: missing argument for import '%s'", in->of,
                     im->name);
            return -1;
        }
        if (in->args[k].sort != im->sort) {
            kc_sfail(s, "instantiation of component %u: import '%s' is a %s, given a %s", in->of,
                     im->name, kiln_csort_name(im->sort), kiln_csort_name(in->args[k].sort));
            return -1;
        }
        const kiln_ctype *arg = argt[k];
        if (im->sort == KILN_CSORT_TYPE && im->type && im->type->kind == KILN_CT_RESOURCE) {
            const kiln_ctype *w = kcv_subst_type(s, &m, im->type, 0);
            if (!w) return -1;
            if (!arg || arg->kind != KILN_CT_RESOURCE) {
                kc_sfail(s,
                         "instantiation of component %u: import '%s': expected resource, found "
                         "defined type",
                         in->of, im->name);
                return -1;
            }
            if (w == im->type && im->type->abstract) {
                if (kcv_subst_put(s, &m, im->type, arg) < 0) return -1;
            } else if (w != arg) {
                kc_sfail(s,
                         "instantiation of component %u: import '%s': resource types are not "
                         "the same",
                         in->of, im->name);
                return -1;
            }
            continue;
        }
        /* an imported instance's own abstract resources stand for the argument's */
        if (im->sort == KILN_CSORT_INSTANCE && im->type && arg)
            for (uint32_t e = 0; e < im->type->nexports; e++) {
                const kiln_citem *want = &im->type->exports[e];
                if (want->sort != KILN_CSORT_TYPE || !want->type ||
                    want->type->kind != KILN_CT_RESOURCE || !want->type->abstract)
                    continue;
                const kiln_ctype *w = kcv_subst_type(s, &m, want->type, 0);
                if (!w) return -1;
                const kiln_citem *got = kcv_find_export(s, arg, want->name);
                if (w == want->type && got && subst_add(s, &m, want->type, got->type) < 0)
                    return -1;
            }
        const kiln_ctype *want = m.n ? kcv_subst_type(s, &m, im->type, 0) : im->type;
        if (!want && im->type) return -1;
        char why[300] = "";
        if (!kcv_extern_matches(s, im->sort, want, arg, 0, why, sizeof why)) {
            if (s->x->match_budget < 0) {
                kc_sfail(s, "instantiation of component %u: types too large to compare", in->of);
                return -1;
            }
            kc_sfail(s,
                     "instantiation of component %u: import '%s' is given a %s of another type "
                     "(%s)",
                     in->of, im->name, kiln_csort_name(im->sort), why);
            return -1;
        }
        if (im->sort == KILN_CSORT_TYPE && subst_add(s, &m, im->type, arg) < 0) return -1;
    }
    /* Resources the component defines and exports are new with each instantiation. */
    if (fresh_defined_resources(s, &m, ct, 0) < 0) return -1;
    t->exports = ct->exports;
    t->nexports = ct->nexports;
    if (m.n) {
        kiln_ctype tmp = *t;
        tmp.kind = KILN_CT_INSTANCE;
        const kiln_ctype *st = kcv_subst_type(s, &m, &tmp, 0);
        if (!st) return -1;
        t->exports = st->exports;
    }
    return kc_push(s, KILN_CSORT_INSTANCE, t);
}
