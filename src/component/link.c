/* link.c — instantiating a component: the definitions replayed in order into runtime
 * index spaces (instance.h, inst_internal.h). */
#include "component/compose.h"
#include "component/async.h"
#include "component/inst_internal.h"
#include "component/reader.h"
#include "util/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The arena is a list of chunks (ci->arena) carved from the front (ci->bump): an
 * instance makes hundreds of small items, one malloc each would dominate. Items are
 * 16-byte aligned and zeroed (chunks are calloc'd). While ci->recording (the template of
 * an image), every item is also listed with its kind in ci->recs, so that image.c can
 * copy the graph and find its pointers (inst_internal.h: ki_kind). */
#define KI_CHUNK 4096

static int record(kiln_component_instance *ci, void *p, size_t n, ki_kind kind)
{
    if (ci->nrecs == ci->caprecs) {
        size_t cap = ci->caprecs ? ci->caprecs * 2 : 256;
        ki_rec *r = kiln_realloc(ci->recs, cap * sizeof *r);
        if (!r) return -1;
        ci->recs = r;
        ci->caprecs = cap;
    }
    ci->recs[ci->nrecs++] = (ki_rec){p, n, kind};
    return 0;
}

void *ki_alloc(kiln_component_instance *ci, size_t n, ki_kind kind)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    void *p;
    if (n <= ci->bump_left) {
        p = ci->bump;
        ci->bump += n;
        ci->bump_left -= n;
    } else {
        if (ci->narena == ci->caparena) {
            size_t cap = ci->caparena ? ci->caparena * 2 : 64;
            void **a = kiln_realloc(ci->arena, cap * sizeof *a);
            if (!a) return NULL;
            ci->arena = a;
            ci->caparena = cap;
        }
        /* Chunks grow (4 KiB, 8 KiB, ... 64 KiB): small components zero little. */
        size_t chunk = (size_t)KI_CHUNK << (ci->narena < 4 ? ci->narena : 4);
        size_t size = n > chunk / 4 ? n : chunk;
        char *c = kiln_calloc(1, size);
        if (!c) return NULL;
        ci->arena[ci->narena++] = c;
        if (size != n) {
            ci->bump = c + n;
            ci->bump_left = size - n;
        }
        p = c;
    }
    if (ci->recording && record(ci, p, n, kind) < 0) return NULL;
    return p;
}

char *ki_strdup(kiln_component_instance *ci, const char *s)
{
    size_t n = strlen(s);
    char *p = ki_alloc(ci, n + 1, KI_BYTES);
    if (p) memcpy(p, s, n + 1);
    return p;
}

/* Makes room in an arena array of pointers (*items, *cap entries, n used) for one more:
 * a new array twice as large (the old one stays in the arena). 0, or -1 out of memory. */
static int grow(kiln_component_instance *ci, void ***items, uint32_t *cap, uint32_t n)
{
    if (n < *cap) return 0;
    uint32_t c = *cap ? *cap * 2 : 16;
    void **p = ki_alloc(ci, c * sizeof *p, KI_PTRS);
    if (!p) return -1;
    if (n) memcpy(p, *items, n * sizeof *p);
    *items = p;
    *cap = c;
    return 0;
}

static int push(kiln_component_instance *ci, ki_frame *f, kiln_csort s, void *item)
{
    ki_space *sp = &f->sp[s];
    if (grow(ci, &sp->items, &sp->cap, sp->n) < 0) return -1;
    sp->items[sp->n++] = item;
    return 0;
}

/* Appends a named item to an instance's exports (0, or -1 out of memory). */
static int cinst_add(kiln_component_instance *ci, ki_cinst *in, const char *name, kiln_csort s,
                     void *item)
{
    if (in->n == in->cap) {
        uint32_t cap = in->cap ? in->cap * 2 : 8;
        const char **names = ki_alloc(ci, cap * sizeof *names, KI_PTRS);
        kiln_csort *sorts = ki_alloc(ci, cap * sizeof *sorts, KI_BYTES);
        void **items = ki_alloc(ci, cap * sizeof *items, KI_PTRS);
        if (!names || !sorts || !items) return -1;
        if (in->n) {
            memcpy(names, in->names, in->n * sizeof *names);
            memcpy(sorts, in->sorts, in->n * sizeof *sorts);
            memcpy(items, in->items, in->n * sizeof *items);
        }
        in->names = names, in->sorts = sorts, in->items = items, in->cap = cap;
    }
    in->names[in->n] = name;
    in->sorts[in->n] = s;
    in->items[in->n++] = item;
    return 0;
}

/* The item of sort s named `name`, or NULL. */
static void *cinst_get(const ki_cinst *in, const char *name, kiln_csort s)
{
    for (uint32_t i = 0; i < in->n; i++)
        if (in->sorts[i] == s && strcmp(in->names[i], name) == 0) return in->items[i];
    return NULL;
}

ki_rtype *ki_rtype_of(ki_frame *f, const kiln_ctype *t)
{
    for (; f; f = f->parent)
        for (uint32_t i = 0; i < f->ntmap; i++)
            if (f->tmap[i].t == t) return f->tmap[i].r;
    return NULL;
}

int ki_tmap_add(kiln_component_instance *ci, ki_frame *f, const kiln_ctype *t, ki_rtype *r)
{
    if (!t || !r) return 0;
    for (uint32_t i = 0; i < f->ntmap; i++)
        if (f->tmap[i].t == t) {
            f->tmap[i].r = r;
            return 0;
        }
    if (f->ntmap == f->captmap) {
        uint32_t cap = f->captmap ? f->captmap * 2 : 16;
        ki_tmap *m = ki_alloc(ci, cap * sizeof *m, KI_PTRS);
        if (!m) return -1;
        if (f->ntmap) memcpy(m, f->tmap, f->ntmap * sizeof *m);
        f->tmap = m;
        f->captmap = cap;
    }
    f->tmap[f->ntmap++] = (ki_tmap){t, r};
    return 0;
}

/* Frames are kept until the instance is freed (lifted functions point into them). */
static ki_frame *frame_new(kiln_component_instance *ci)
{
    if (grow(ci, (void ***)&ci->frames, &ci->capframes, ci->nframes) < 0) return NULL;
    ki_frame *f = ki_alloc(ci, sizeof(ki_frame), KI_FRAME);
    if (!f) return NULL;
    ci->frames[ci->nframes++] = f;
    if (!(f->res = kiln_resources_new())) return NULL;
    return f;
}

/* ---- core instances ---- */

/* The export `name` of a core instance as a core item (a module instance's export is looked
 * up in its module; an inline instance's by name), or NULL when there is none. */
static ki_core *core_export(kiln_component_instance *ci, ki_coreinst *in, const char *name)
{
    /* Lookups of one import list usually go through an instance's exports in order: the
     * item after the last one found is tried first. */
    uint32_t h = in->hint;
    if (!in->inst) {
        if (h < in->n && strcmp(in->names[h], name) == 0) {
            in->hint = h + 1;
            return in->items[h];
        }
        for (uint32_t i = 0; i < in->n; i++)
            if (strcmp(in->names[i], name) == 0) {
                in->hint = i + 1;
                return in->items[i];
            }
        return NULL;
    }
    kiln_module *m = kiln_instance_module(in->inst);
    const kiln_export_info *hx = h < kiln_module_export_count(m) ? kiln_module_export(m, h) : NULL;
    long idx = hx && strlen(name) == hx->name_len && memcmp(hx->name, name, hx->name_len) == 0
                   ? (long)h
                   : kiln_module_export_index(m, name);
    if (idx < 0) return NULL;
    in->hint = (uint32_t)idx + 1;
    ki_core *c = ki_alloc(ci, sizeof *c, KI_CORE);
    if (!c) return NULL;
    const kiln_export_info *e = kiln_module_export(m, (size_t)idx);
    c->kind = e->kind;
    c->inst = in->inst;
    c->idx = idx;
    c->type = e->type;
    if (e->kind == KILN_EXTERN_FUNC)
        c->b = (kiln_binding){kiln_module_export_fn(m, idx), kiln_instance_native(in->inst),
                              KILN_BIND_GUEST};
    else
        c->b = (kiln_binding){NULL, kiln_instance_export_ptr(in->inst, idx), 0};
    return c;
}

/* Remembers a core instance for kiln_component_instance_free (0, or -1 out of memory). */
static int add_core(kiln_component_instance *ci, kiln_instance *inst)
{
    if (ci->ncores == ci->capcores) {
        size_t cap = ci->capcores ? ci->capcores * 2 : 16;
        kiln_instance **c = kiln_realloc(ci->cores, cap * sizeof *c);
        if (!c) return -1;
        ci->cores = c;
        ci->capcores = cap;
    }
    ci->cores[ci->ncores++] = inst;
    return 0;
}

/* Limits "[r ]MIN MAX|-" of a table or memory type; 0, or -1 if malformed. */
static int parse_limits(const char *s, char *ref, unsigned long long *min, int *has_max,
                        unsigned long long *max)
{
    *ref = 0;
    if (s[0] && s[1] == ' ' && (s[0] < '0' || s[0] > '9')) *ref = s[0], s += 2;
    char *end;
    *min = strtoull(s, &end, 10);
    if (end == s || *end != ' ') return -1;
    s = end + 1;
    if (strcmp(s, "-") == 0) {
        *has_max = 0;
        return 0;
    }
    *has_max = 1;
    *max = strtoull(s, &end, 10);
    return end == s || *end ? -1 : 0;
}

/* 1 if an item of engine type `have` may be bound to import imp (core module linking:
 * functions and globals of exactly the same type, tables and memories whose limits are
 * within the import's). */
static int type_fits(const kiln_import *imp, const char *have)
{
    if (!have || !imp->type) return 0;
    if (imp->kind == KILN_EXTERN_FUNC || imp->kind == KILN_EXTERN_GLOBAL)
        return strcmp(imp->type, have) == 0;
    char ir, hr;
    unsigned long long imin, imax = 0, hmin, hmax = 0;
    int ihas, hhas;
    if (parse_limits(imp->type, &ir, &imin, &ihas, &imax) < 0 ||
        parse_limits(have, &hr, &hmin, &hhas, &hmax) < 0)
        return 0;
    return ir == hr && hmin >= imin && (!ihas || (hhas && hmax <= imax));
}

/* The compiled module of an embedded module definition (load.c compiled every one). */
static kiln_module *module_in(const kiln_loaded_component *lc, const kiln_cmodule *cm)
{
    for (size_t i = 0; i < lc->nmodules; i++)
        if (lc->defs[i] == cm) return lc->modules[i];
    for (size_t k = 0; k < lc->ndeps; k++) {
        kiln_module *m = module_in(lc->deps[k], cm);
        if (m) return m;
    }
    return NULL;
}

/* (and of its dependencies', compose.h) */
static kiln_module *module_of(kiln_component_instance *ci, const kiln_cmodule *cm)
{
    return module_in(ci->lc, cm);
}

/* A core instance definition: inline exports, or a module instantiated with every import
 * bound from the arguments (kind and type checked), its start function run under trap
 * protection. NULL with ci->err set. */
static ki_coreinst *instantiate_core(kiln_component_instance *ci, ki_frame *f,
                                     const kiln_cinstance *in, const kiln_cdef *d)
{
    kiln_err *err = ci->err;
    ki_coreinst *ki = ki_alloc(ci, sizeof *ki, KI_COREINST);
    if (!ki) return NULL;
    if (in->from_exports) {
        ki->n = in->nargs;
        ki->names = ki_alloc(ci, (in->nargs + 1) * sizeof *ki->names, KI_PTRS);
        ki->items = ki_alloc(ci, (in->nargs + 1) * sizeof *ki->items, KI_PTRS);
        if (!ki->names || !ki->items) return NULL;
        for (uint32_t i = 0; i < in->nargs; i++) {
            ki->names[i] = in->args[i].name;
            ki->items[i] = f->sp[in->args[i].sort].items[in->args[i].index];
        }
        return ki;
    }
    kiln_module *m = f->sp[KILN_CSORT_CORE_MODULE].items[in->of];
    size_t nimp = kiln_module_import_count(m);
    kiln_binding *b = kiln_calloc(nimp ? nimp : 1, sizeof *b);
    if (!b) return NULL;
    for (size_t i = 0; i < nimp; i++) {
        const kiln_import *imp = kiln_module_import(m, i);
        ki_coreinst *arg = NULL;
        for (uint32_t k = 0; k < in->nargs; k++)
            if (strcmp(in->args[k].name, imp->module) == 0)
                arg = f->sp[KILN_CSORT_CORE_INSTANCE].items[in->args[k].index];
        ki_core *c = arg ? core_export(ci, arg, imp->name) : NULL;
        if (!c || c->kind != imp->kind || !type_fits(imp, c->type)) {
            kiln_err_set(err,
                         "%s: offset 0x%zx: core module %u's import \"%s\" \"%s\" (%s) is "
                         "given %s",
                         ci->name, d->offset, in->of, imp->module, imp->name, imp->type,
                         !c                     ? "nothing"
                         : c->kind != imp->kind ? "another kind of item"
                         : c->type              ? c->type
                                                : "an item of unknown type");
            kiln_free(b);
            return NULL;
        }
        b[i] = c->b;
    }
    kiln_instance *inst = kiln_instance_alloc(m);
    if (!inst || add_core(ci, inst) < 0) {
        kiln_instance_free(inst);
        kiln_free(b);
        kiln_err_set(err, "%s: out of memory", ci->name);
        return NULL;
    }
    kiln_trap trap;
    int rc = kiln_instance_init(inst, b, &trap);
    kiln_free(b);
    if (rc < 0) {
        if (trap.kind == KILN_TRAP_EXIT)
            kiln_err_set(err, "%s: core module %u exited with code %d while starting", ci->name,
                         in->of, trap.exit_code);
        else
            kiln_err_set(err, "%s: instantiating core module %u: %s", ci->name, in->of,
                         kiln_trap_message(&trap));
        return NULL;
    }
    ki->inst = inst;
    return ki;
}

/* ---- host instances ---- */

/* The context of provider p for this instance, made from the grants on first use. */
static void *provider_ctx(kiln_component_instance *ci, const kiln_chost_provider *p,
                          const kiln_grants *g)
{
    int deny = g == &ci->deny_g;
    for (size_t i = 0; i < ci->nprovs; i++)
        if (ci->provs[i].p == p && ci->provs[i].deny == deny) return ci->provs[i].ctx;
    if (ci->nprovs == sizeof ci->provs / sizeof ci->provs[0]) {
        kiln_err_set(ci->err, "%s: too many host providers", ci->name);
        return NULL;
    }
    char *why = NULL;
    void *ctx = p->ctx_new(g, &why);
    if (!ctx) {
        kiln_err_set(ci->err, "%s: %s: %s", ci->name, p->name, why ? why : "failed");
        kiln_free(why);
        return NULL;
    }
    ci->provs[ci->nprovs++] = (ki_provctx){p, ctx, deny};
    return ctx;
}

/* The runtime type of resource k of a host interface with provider context ctx: made once
 * per instance (ci->hrt), so that every component of a composition has the same. NULL out
 * of memory. */
static ki_rtype *host_rtype(kiln_component_instance *ci, const kiln_chost_iface *iface, long k,
                            void *ctx)
{
    for (size_t i = 0; i < ci->nhrt; i++)
        if (ci->hrt[i].iface == iface && ci->hrt[i].k == k && ci->hrt[i].ctx == ctx)
            return ci->hrt[i].r;
    ki_host_rt *n = kiln_realloc(ci->hrt, (ci->nhrt + 1) * sizeof *n);
    if (!n) return NULL;
    ci->hrt = n;
    ki_rtype *r = ki_alloc(ci, sizeof *r, KI_RTYPE);
    if (!r) return NULL;
    kiln_resource_type_init_host(&r->rt, iface->resources[k].name, iface->resources[k].dtor, ctx);
    ci->hrt[ci->nhrt++] = (ki_host_rt){iface, k, ctx, r};
    return r;
}

/* An instance import of the outermost component: its functions bound to the host
 * interface serving the name (with the provider's context of this instance) and its
 * resource types to the host's (recorded in the frame's type map). `allow`: the
 * KILN_INHERIT_* sets granted to this component (compose.h); an interface of a set not
 * granted gets the provider's deny-all context, or for the providers whose context the
 * whole composition shares, that context with the deny stubs. NULL with ci->err. */
static ki_cinst *host_instance(kiln_component_instance *ci, ki_frame *f, const char *name,
                               const kiln_ctype *type, int allow)
{
    const kiln_chost_provider *p = NULL;
    const kiln_chost_iface *iface = kiln_chost_find(name, &p);
    if (!iface) {
        kiln_err_set(ci->err, "%s: import %s: no host provides it", ci->name, name);
        return NULL;
    }
    int set = kiln_compose_capability(name);
    int denied = set && !(allow & set);
    int stubs = denied && ki_shared_provider(p);
    void *ctx = provider_ctx(ci, p, denied && !stubs ? &ci->deny_g : ci->real_g);
    if (!ctx) return NULL;
    ki_cinst *in = ki_alloc(ci, sizeof *in, KI_CINST);
    if (!in) return NULL;
    for (uint32_t i = 0; i < type->nexports; i++) {
        const kiln_citem *e = &type->exports[i];
        void *item = NULL;
        if (e->sort == KILN_CSORT_FUNC) {
            ki_func *fn = ki_alloc(ci, sizeof *fn, KI_FUNC);
            size_t nl = strlen(name), el = strlen(e->name);
            char *full = ki_alloc(ci, nl + el + 2, KI_BYTES);
            if (!fn || !full) return NULL;
            memcpy(full, name, nl);
            full[nl] = '#';
            memcpy(full + nl + 1, e->name, el + 1);
            fn->name = full;
            fn->kind = KI_FUNC_HOST;
            fn->type = e->type;
            fn->frame = f;
            fn->hf = stubs ? ki_deny_stub(name, e->name) : NULL;
            if (!fn->hf) fn->hf = kiln_chost_find_func(iface, e->name);
            fn->hctx = ctx;
            if (!fn->hf) {
                kiln_err_set(ci->err, "%s: import %s: no function %s", ci->name, name, e->name);
                return NULL;
            }
            item = fn;
        } else if (e->sort == KILN_CSORT_TYPE && e->type && e->type->kind == KILN_CT_RESOURCE) {
            ki_rtype *r = ki_rtype_of(f, e->type);
            if (!r) {
                long k = kiln_chost_find_resource(iface, e->name);
                if (k < 0) {
                    kiln_err_set(ci->err, "%s: import %s: no resource %s", ci->name, name, e->name);
                    return NULL;
                }
                if (!(r = host_rtype(ci, iface, k, ctx))) return NULL;
                if (ki_tmap_add(ci, f, e->type, r) < 0) return NULL;
            }
            item = r;
        }
        if (cinst_add(ci, in, e->name, e->sort, item) < 0) return NULL;
    }
    return in;
}

/* Checks the core functions of a canon lift against the signatures the canonical ABI
 * calls them with (the function, its realloc, its post-return): the validator checks what
 * it can see; this is the check at the point of binding, whatever the static types. */
static int check_lift(kiln_component_instance *ci, const kiln_cdef *d, const ki_func *fn)
{
    char sig[64], post[64];
    int sr = kiln_cabi_core_sig(fn->type, 0, sig, sizeof sig);
    if (sr == 0 && fn->async) /* the results go through task.return (async.h) */
        strcpy(strchr(sig, ':') + 1, fn->callback ? "i" : "");
    if (sr < 0 || !fn->core->type || strcmp(sig, fn->core->type) != 0) {
        kiln_err_set(ci->err, "%s: offset 0x%zx: lift of a core function of type %s as %s",
                     ci->name, d->offset, fn->core->type ? fn->core->type : "?", sig);
        return -1;
    }
    if (fn->realloc &&
        (!fn->realloc->inst || !fn->realloc->type || strcmp(fn->realloc->type, "iiii:i") != 0)) {
        kiln_err_set(ci->err, "%s: offset 0x%zx: the realloc is not a core export of type iiii:i",
                     ci->name, d->offset);
        return -1;
    }
    snprintf(post, sizeof post, "%s:", strchr(sig, ':') + 1);
    if (fn->post_return && (!fn->post_return->inst || !fn->post_return->type ||
                            strcmp(fn->post_return->type, post) != 0)) {
        kiln_err_set(ci->err, "%s: offset 0x%zx: the post-return is not a core export of type %s",
                     ci->name, d->offset, post);
        return -1;
    }
    return 0;
}

/* ---- the walk ---- */

static int oom(kiln_component_instance *ci)
{
    kiln_err_set(ci->err, "%s: out of memory", ci->name);
    return -1;
}

/* Gives an instance import its resource types: an imported instance's resource types are
 * its exports' types. 0, or -1 out of memory. */
static int import_types(kiln_component_instance *ci, ki_frame *f, const kiln_cextern *e,
                        const ki_cinst *in)
{
    for (uint32_t k = 0; e->type && k < e->type->nexports; k++) {
        const kiln_citem *x = &e->type->exports[k];
        if (x->sort != KILN_CSORT_TYPE) continue;
        void *r = cinst_get(in, x->name, KILN_CSORT_TYPE);
        if (r && ki_tmap_add(ci, f, x->type, r) < 0) return -1;
    }
    return 0;
}

/* Instantiates component c in frame f (whose parent is set); args: its imports (NULL for
 * the outermost: host instances, except those in `linked`, a dependency's exports:
 * compose.h); allow: the KILN_INHERIT_* sets of the grants it gets. Fills f->exports. */
static int run_frame(kiln_component_instance *ci, ki_frame *f, const kiln_component *c,
                     const ki_cinst *args, const ki_cinst *linked, int allow)
{
    f->c = c;
    if (!(f->exports = ki_alloc(ci, sizeof *f->exports, KI_CINST))) return oom(ci);
    /* The validator's index spaces give each runtime space its final size. */
    for (int s = 0; s < KILN_CSORT_COUNT; s++) {
        uint32_t n = c->spaces[s].n;
        if (n && !(f->sp[s].items = ki_alloc(ci, n * sizeof(void *), KI_PTRS))) return oom(ci);
        f->sp[s].cap = n;
    }
    for (uint32_t i = 0; i < c->ndefs; i++) {
        const kiln_cdef *d = &c->defs[i];
        switch (d->kind) {
        case KILN_CDEF_CORE_MODULE:
            if (push(ci, f, KILN_CSORT_CORE_MODULE, module_of(ci, &d->module)) < 0) return oom(ci);
            break;
        case KILN_CDEF_CORE_INSTANCE: {
            ki_coreinst *in = instantiate_core(ci, f, &d->instance, d);
            if (!in) return -1;
            if (push(ci, f, KILN_CSORT_CORE_INSTANCE, in) < 0) return oom(ci);
            break;
        }
        case KILN_CDEF_CORE_TYPE:
            if (push(ci, f, KILN_CSORT_CORE_TYPE, NULL) < 0) return oom(ci);
            break;
        case KILN_CDEF_COMPONENT: {
            ki_comp *k = ki_alloc(ci, sizeof *k, KI_COMP);
            if (!k) return oom(ci);
            k->c = d->component;
            k->outer = f;
            if (push(ci, f, KILN_CSORT_COMPONENT, k) < 0) return oom(ci);
            break;
        }
        case KILN_CDEF_INSTANCE: {
            const kiln_cinstance *in = &d->instance;
            ki_cinst *out;
            if (in->from_exports) {
                if (!(out = ki_alloc(ci, sizeof *out, KI_CINST))) return oom(ci);
                for (uint32_t k = 0; k < in->nargs; k++)
                    if (cinst_add(ci, out, in->args[k].name, in->args[k].sort,
                                  f->sp[in->args[k].sort].items[in->args[k].index]) < 0)
                        return oom(ci);
            } else {
                ki_comp *k = f->sp[KILN_CSORT_COMPONENT].items[in->of];
                ki_cinst a = {0};
                for (uint32_t j = 0; j < in->nargs; j++)
                    if (cinst_add(ci, &a, in->args[j].name, in->args[j].sort,
                                  f->sp[in->args[j].sort].items[in->args[j].index]) < 0)
                        return oom(ci);
                ki_frame *nf = frame_new(ci);
                if (!nf) return oom(ci);
                nf->parent = k->outer;
                int rc = run_frame(ci, nf, k->c, &a, NULL, allow);
                if (rc < 0) return -1;
                out = nf->exports;
            }
            if (push(ci, f, KILN_CSORT_INSTANCE, out) < 0) return oom(ci);
            break;
        }
        case KILN_CDEF_ALIAS: {
            const kiln_calias *a = &d->alias;
            void *item = NULL;
            if (a->kind == KILN_CALIAS_CORE_EXPORT) {
                item = core_export(ci, f->sp[KILN_CSORT_CORE_INSTANCE].items[a->instance], a->name);
                if (!item) {
                    kiln_err_set(ci->err, "%s: core instance %u has no export '%s'", ci->name,
                                 a->instance, a->name);
                    return -1;
                }
            } else if (a->kind == KILN_CALIAS_EXPORT) {
                ki_cinst *in = f->sp[KILN_CSORT_INSTANCE].items[a->instance];
                item = cinst_get(in, a->name, a->sort);
                if (!item && a->sort != KILN_CSORT_TYPE) {
                    kiln_err_set(ci->err, "%s: instance %u has no %s '%s'", ci->name, a->instance,
                                 kiln_csort_name(a->sort), a->name);
                    return -1;
                }
            } else {
                ki_frame *t = f;
                for (uint32_t k = 0; k < a->count && t; k++)
                    t = t->parent;
                if (!t || a->index >= t->sp[a->sort].n) {
                    kiln_err_set(ci->err, "%s: outer alias out of range", ci->name);
                    return -1;
                }
                item = t->sp[a->sort].items[a->index];
            }
            if (a->sort == KILN_CSORT_TYPE &&
                ki_tmap_add(ci, f, c->spaces[KILN_CSORT_TYPE].types[f->sp[KILN_CSORT_TYPE].n],
                            item) < 0)
                return oom(ci);
            if (push(ci, f, a->sort, item) < 0) return oom(ci);
            break;
        }
        case KILN_CDEF_TYPE: {
            ki_rtype *r = NULL;
            if (d->type->kind == KILN_CT_RESOURCE && !d->type->abstract) {
                if (!(r = ki_alloc(ci, sizeof *r, KI_RTYPE))) return oom(ci);
                ki_core *dtor =
                    d->type->has_dtor ? f->sp[KILN_CSORT_CORE_FUNC].items[d->type->dtor] : NULL;
                if (dtor && !dtor->inst) {
                    kiln_err_set(ci->err,
                                 "%s: offset 0x%zx: a resource destructor must be a "
                                 "core instance's export",
                                 ci->name, d->offset);
                    return -1;
                }
                kiln_resource_type_init_guest(&r->rt, d->type->name ? d->type->name : "resource",
                                              f->res,
                                              dtor ? (kiln_resource_guest_dtor_fn)dtor->b.fn : NULL,
                                              dtor ? dtor->b.ctx : NULL);
                if (ki_tmap_add(ci, f, d->type, r) < 0) return oom(ci);
            }
            if (push(ci, f, KILN_CSORT_TYPE, r) < 0) return oom(ci);
            break;
        }
        case KILN_CDEF_CANON: {
            const kiln_canon *k = &d->canon;
            if (k->op == KILN_CANON_LIFT) {
                ki_func *fn = ki_alloc(ci, sizeof *fn, KI_FUNC);
                if (!fn) return oom(ci);
                fn->kind = KI_FUNC_LIFT;
                fn->name = "(lifted function)";
                fn->type = c->spaces[KILN_CSORT_TYPE].types[k->type];
                fn->frame = f;
                fn->core = f->sp[KILN_CSORT_CORE_FUNC].items[k->func];
                if (!fn->core->inst && fn->core->b.kind != KILN_BIND_HOST_VALS) {
                    kiln_err_set(ci->err,
                                 "%s: offset 0x%zx: lifting a function that is not a core "
                                 "instance's export is not supported",
                                 ci->name, d->offset);
                    return -1;
                }
                fn->enc = k->opts.string_encoding;
                if (k->opts.has_memory) {
                    ki_core *mc = f->sp[KILN_CSORT_CORE_MEMORY].items[k->opts.memory];
                    fn->memory = mc->b.ctx;
                }
                if (k->opts.has_realloc)
                    fn->realloc = f->sp[KILN_CSORT_CORE_FUNC].items[k->opts.realloc];
                if (k->opts.has_post_return)
                    fn->post_return = f->sp[KILN_CSORT_CORE_FUNC].items[k->opts.post_return];
                fn->async = k->opts.async;
                if (k->opts.has_callback) {
                    fn->callback = f->sp[KILN_CSORT_CORE_FUNC].items[k->opts.callback];
                    if (!fn->callback->inst) {
                        kiln_err_set(ci->err,
                                     "%s: offset 0x%zx: a callback must be a core instance's "
                                     "export",
                                     ci->name, d->offset);
                        return -1;
                    }
                }
                if (check_lift(ci, d, fn) < 0) return -1;
                if (push(ci, f, KILN_CSORT_FUNC, fn) < 0) return oom(ci);
            } else if (k->op == KILN_CANON_LOWER) {
                ki_func *callee = f->sp[KILN_CSORT_FUNC].items[k->func];
                ki_core *core = ki_lower(ci, f, callee, c->spaces[KILN_CSORT_FUNC].types[k->func],
                                         &k->opts, ci->err);
                if (!core) return -1;
                if (push(ci, f, KILN_CSORT_CORE_FUNC, core) < 0) return oom(ci);
            } else if (k->op > KILN_CANON_RESOURCE_REP) {
                ki_core *core = ci->as ? ka_builtin(ci, f, k, ci->err) : NULL;
                if (!core) return -1;
                if (push(ci, f, KILN_CSORT_CORE_FUNC, core) < 0) return oom(ci);
            } else {
                ki_core *core = ki_resource_builtin(
                    ci, f, k->op, c->spaces[KILN_CSORT_TYPE].types[k->type], ci->err);
                if (!core) return -1;
                if (push(ci, f, KILN_CSORT_CORE_FUNC, core) < 0) return oom(ci);
            }
            break;
        }
        case KILN_CDEF_START:
            kiln_err_set(ci->err, "%s: component start functions are not supported", ci->name);
            return -1;
        case KILN_CDEF_IMPORT: {
            const kiln_cextern *e = &d->ext;
            void *item;
            if (!args && e->sort == KILN_CSORT_TYPE && !e->bound_sub_resource) {
                /* (eq T) of the outermost component: an alias, nothing to supply; a
                 * resource keeps the runtime type T already has (an imported instance's) */
                item = e->type ? ki_rtype_of(f, e->type) : NULL;
            } else if (!args && linked && e->sort == KILN_CSORT_INSTANCE &&
                       (item = cinst_get(linked, e->name, KILN_CSORT_INSTANCE)) != NULL) {
                if (import_types(ci, f, e, item) < 0) return oom(ci);
            } else if (!args) {
                if (e->sort != KILN_CSORT_INSTANCE) {
                    kiln_err_set(ci->err, "%s: import %s: not an instance", ci->name, e->name);
                    return -1;
                }
                if (!(item = host_instance(ci, f, e->name, e->type, allow))) return -1;
            } else {
                item = cinst_get(args, e->name, e->sort);
                if (!item && e->sort != KILN_CSORT_TYPE) {
                    kiln_err_set(ci->err, "%s: nested component's import %s is not given", ci->name,
                                 e->name);
                    return -1;
                }
                if (e->sort == KILN_CSORT_TYPE && ki_tmap_add(ci, f, e->type, item) < 0)
                    return oom(ci);
                if (e->sort == KILN_CSORT_INSTANCE && import_types(ci, f, e, item) < 0)
                    return oom(ci);
            }
            if (push(ci, f, e->sort, item) < 0) return oom(ci);
            break;
        }
        case KILN_CDEF_EXPORT: {
            void *item = f->sp[d->export_sort].items[d->export_index];
            if (d->export_sort == KILN_CSORT_FUNC) {
                ki_func *fn = item;
                if (fn->kind == KI_FUNC_LIFT && strcmp(fn->name, "(lifted function)") == 0)
                    fn->name = d->ext.name;
            }
            if (d->export_sort == KILN_CSORT_TYPE && ki_tmap_add(ci, f, d->ext.type, item) < 0)
                return oom(ci);
            if (cinst_add(ci, f->exports, d->ext.name, d->export_sort, item) < 0) return oom(ci);
            if (push(ci, f, d->export_sort, item) < 0) return oom(ci);
            break;
        }
        }
    }
    return 0;
}

void ki_deny_grants(kiln_grants *d, const kiln_grants *g)
{
    static const char *const none[1] = {NULL};
    memset(d, 0, sizeof *d);
    d->component = NULL;
    d->allowed_outbound_hosts = none;
    if (g)
        for (int i = 0; i < 3; i++)
            d->wasi.stdio[i] = g->wasi.stdio[i];
}

/* Instantiates lc into frame `top` with the KILN_INHERIT_* sets `allow` of the instance's
 * grants: its dependencies first (compose.h), each in a frame of its own with the sets it
 * inherits, then lc's model with the dependencies' exports for the imports they satisfy.
 * 0, or -1 with ci->err. */
static int instantiate_lc(kiln_component_instance *ci, const kiln_loaded_component *lc,
                          ki_frame *top, int allow)
{
    if (!lc->ndeps) return run_frame(ci, top, lc->model, NULL, NULL, allow);
    ki_frame **dep = kiln_calloc(lc->ndeps, sizeof *dep);
    if (!dep) return oom(ci);
    int rc = 0;
    for (size_t k = 0; k < lc->ndeps && rc == 0; k++) {
        if (!(dep[k] = frame_new(ci)))
            rc = oom(ci);
        else
            rc = instantiate_lc(ci, lc->deps[k], dep[k],
                                lc->dep_inherit[k] & ~lc->deps[k]->deny_self);
    }
    ki_cinst *linked = rc == 0 ? ki_alloc(ci, sizeof *linked, KI_CINST) : NULL;
    if (rc == 0 && !linked) rc = oom(ci);
    for (size_t i = 0; i < lc->nlinks && rc == 0; i++) {
        void *x = cinst_get(dep[lc->link_dep[i]]->exports, lc->link_export[i], KILN_CSORT_INSTANCE);
        if (!x) {
            kiln_err_set(ci->err, "%s: dependency %s has no export %s", ci->name,
                         lc->deps[lc->link_dep[i]]->name, lc->link_export[i]);
            rc = -1;
        } else if (cinst_add(ci, linked, lc->link_import[i], KILN_CSORT_INSTANCE, x) < 0) {
            rc = oom(ci);
        }
    }
    kiln_free(dep);
    return rc < 0 ? -1 : run_frame(ci, top, lc->model, NULL, linked, allow);
}

kiln_component_instance *kiln_component_instantiate(kiln_loaded_component *lc, const kiln_grants *g,
                                                    kiln_err *err)
{
    return ki_instantiate(lc, g, 0, err);
}

kiln_component_instance *ki_instantiate(kiln_loaded_component *lc, const kiln_grants *g,
                                        int recording, kiln_err *err)
{
    kiln_component_instance *ci = kiln_calloc(1, sizeof *ci);
    if (!ci) {
        kiln_err_set(err, "%s: out of memory", lc->name);
        return NULL;
    }
    ci->lc = lc;
    ci->recording = recording;
    const char *slash = strrchr(lc->name, '/');
    ci->name = slash ? slash + 1 : lc->name; /* short: trap messages are short */
    ci->err = err;
    if (lc->async && ka_store_new(ci) < 0) {
        kiln_err_set(err, "%s: out of memory", lc->name);
        kiln_component_instance_free(ci);
        return NULL;
    }
    if (!(ci->top = frame_new(ci))) {
        kiln_err_set(err, "%s: out of memory", lc->name);
        kiln_component_instance_free(ci);
        return NULL;
    }
    ki_deny_grants(&ci->deny_g, g);
    ci->real_g = g;
    if (instantiate_lc(ci, lc, ci->top, KILN_INHERIT_ALL & ~lc->deny_self) < 0) {
        kiln_component_instance_free(ci);
        return NULL;
    }
    ci->err = NULL;
    kiln_free(ci->hrt);
    ci->hrt = NULL;
    ci->nhrt = 0;
    return ci;
}

void kiln_component_instance_free(kiln_component_instance *ci)
{
    if (!ci) return;
    ka_store_free(ci); /* first: parked guest code unwinds */
    for (size_t i = ci->ncores; i-- > 0;)
        kiln_instance_free(ci->cores[i]);
    kiln_free(ci->cores);
    for (size_t i = ci->nprovs; i-- > 0;)
        ci->provs[i].p->ctx_free(ci->provs[i].ctx);
    ki_cxs_release(ci);
    for (uint32_t i = 0; i < ci->nframes; i++)
        kiln_resources_free(ci->frames[i]->res);
    kiln_free(ci->recs);
    kiln_free(ci->hrt);
    /* An image's copy: the first chunk is its graph, in the copy's unit (image.c), which
     * goes last, after everything that reads the graph, the core instances or ci. */
    for (size_t i = ci->unit ? 1 : 0; i < ci->narena; i++)
        kiln_free(ci->arena[i]);
    kiln_free(ci->arena);
    /* An image's copy lives in its unit too. */
    void *unit = ci->unit;
    if (!unit)
        kiln_free(ci);
    else if (ci->image)
        ki_image_unit_put(ci->image, unit);
    else
        kiln_free(unit);
}

void *kiln_component_host_ctx(kiln_component_instance *ci, const char *provider_name)
{
    /* the component's own context, not a deny-all one of a dependency (compose.h) */
    for (size_t i = 0; i < ci->nprovs; i++)
        if (!ci->provs[i].deny && strcmp(ci->provs[i].p->name, provider_name) == 0)
            return ci->provs[i].ctx;
    return NULL;
}

/* ---- exports ---- */

struct kiln_component_func {
    ki_func f;
};

const kiln_component_func *kiln_component_find_func(kiln_component_instance *ci, const char *name)
{
    const ki_cinst *ex = ci->top->exports;
    const char *hash = strchr(name, '#');
    if (!hash) return (const kiln_component_func *)cinst_get(ex, name, KILN_CSORT_FUNC);
    char base[512];
    size_t n = (size_t)(hash - name);
    if (n >= sizeof base) return NULL;
    memcpy(base, name, n);
    base[n] = '\0';
    const char *want_ver = strchr(base, '@');
    size_t base_len = want_ver ? (size_t)(want_ver - base) : n;
    for (uint32_t i = 0; i < ex->n; i++) {
        if (ex->sorts[i] != KILN_CSORT_INSTANCE) continue;
        const char *en = ex->names[i], *ev = strchr(en, '@');
        size_t elen = ev ? (size_t)(ev - en) : strlen(en);
        if (elen != base_len || strncmp(en, base, base_len) != 0) continue;
        if (want_ver && !(ev && kiln_component_version_compatible(want_ver + 1, ev + 1))) continue;
        return (const kiln_component_func *)cinst_get(ex->items[i], hash + 1, KILN_CSORT_FUNC);
    }
    return NULL;
}

const kiln_ctype *kiln_component_func_type(const kiln_component_func *f)
{
    return f->f.type;
}

uint64_t kiln_component_memory_bytes(kiln_component_instance *ci)
{
    /* Each core's own memories, each counted once: a linear search of every core's
     * exports for "memory" cost CPython's 14 cores (thousands of exports) 6 us a request. */
    uint64_t total = 0;
    for (size_t i = 0; i < ci->ncores; i++)
        if (ci->cores[i]) total += kiln_instance_own_memory_bytes(ci->cores[i]);
    return total;
}
