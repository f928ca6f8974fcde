/* lower.c — the call paths between guests and hosts: canon lower trampolines, calls of
 * lifted functions (from the host or from another instance's trampoline), and the
 * resource built-ins (instance.h, inst_internal.h).
 *
 * A trampoline runs inside guest code (a KILN_BIND_HOST_VALS host section). Every failure
 * in it — a lift or lower error (hostile pointers, lengths, handles), a host function's
 * -1, a trap of the callee — becomes a trap of the calling guest with one line naming
 * the component and the function (kiln_rt_trap_host); wasi:cli/exit's kiln_rt_exit passes
 * through. Contexts and call scopes are released before unwinding, except on
 * kiln_rt_exit from a host function (the instance is finished then). */
#include "component/async.h"
#include "component/inst_internal.h"
#include "component/resources.h"
#include "engine/runtime.h"
#include "util/alloc.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Room for the core values of one call: 16 flat parameters (or 1 pointer) plus the return
 * pointer, or the results. */
#define MAX_CORE 20

/* ---- core guest calls ---- */

static __thread char realloc_trap[160];
/* The last realloc trap when it was a timeout or an exit (kind NONE otherwise): such a
 * trap must leave the whole call, not only fail the lift or lower. */
static __thread kiln_trap realloc_stop;

/* A guest's realloc called by the canonical ABI (ctx: its ki_core). A trap in it returns an
 * impossible pointer, so that the lift or lower fails; the reason is kept for the message. */
static uint32_t realloc_thunk(void *ctx, uint32_t old, uint32_t old_size, uint32_t align,
                              uint32_t new_size)
{
    ki_core *c = ctx;
    kiln_val v[4];
    v[0].i32 = old, v[1].i32 = old_size, v[2].i32 = align, v[3].i32 = new_size;
    kiln_trap trap;
    if (kiln_instance_call(c->inst, c->idx, v, &trap) < 0) {
        if (trap.kind == KILN_TRAP_INTERRUPTED || trap.kind == KILN_TRAP_EXIT) realloc_stop = trap;
        snprintf(realloc_trap, sizeof realloc_trap, "realloc trapped: %s",
                 kiln_trap_message(&trap));
        return UINT32_MAX;
    }
    return v[0].i32;
}

/* cabi's resource resolver: a static resource type to this instance's runtime type. */
static const kiln_resource_type *resolve_type(void *ctx, const kiln_ctype *t)
{
    ki_rtype *r = ki_rtype_of(ctx, t);
    return r ? &r->rt : NULL;
}

/* ---- call contexts ---- */

/* Call contexts (and the 16 KiB block each keeps for values) outlive instances in a small
 * per-thread cache: an instance copied per request would otherwise allocate and free one
 * per call depth every time. A context is taken and given on the same thread, never while
 * a fiber switch can happen; a thread's cache is freed when the thread ends. */
#define CX_CACHE 8

typedef struct cx_cache {
    kiln_cabi_cx *cx[CX_CACHE];
    int n;
} cx_cache;

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static int cache_ok;

static void cache_destroy(void *p)
{
    cx_cache *c = p;
    for (int i = 0; i < c->n; i++) {
        kiln_cabi_cx_free(c->cx[i]);
        kiln_free(c->cx[i]);
    }
    kiln_free(c);
}

static void cache_init(void)
{
    cache_ok = pthread_key_create(&cache_key, cache_destroy) == 0;
}

/* This thread's cache (made on first use), or NULL. */
static cx_cache *thread_cache(void)
{
    pthread_once(&cache_once, cache_init);
    if (!cache_ok) return NULL;
    cx_cache *c = pthread_getspecific(cache_key);
    if (!c && (c = kiln_calloc(1, sizeof *c)) && pthread_setspecific(cache_key, c) != 0) {
        kiln_free(c);
        c = NULL;
    }
    return c;
}

/* A context with an empty arena and every other field zero, or NULL (out of memory). */
static kiln_cabi_cx *cx_take(void)
{
    cx_cache *c = thread_cache();
    kiln_cabi_cx *cx = c && c->n ? c->cx[--c->n] : NULL;
    if (!cx) {
        if (!(cx = kiln_calloc(1, sizeof *cx))) return NULL;
        if (kiln_cabi_cx_init(cx) < 0) {
            kiln_free(cx);
            return NULL;
        }
        return cx;
    }
    struct kiln_cabi_arena *arena = cx->arena;
    memset(cx, 0, sizeof *cx);
    cx->arena = arena;
    return cx;
}

/* Gives a context back (to the cache, or freed when it is full). */
static void cx_give(kiln_cabi_cx *cx)
{
    if (!cx) return;
    kiln_cabi_cx_reset(cx);
    cx_cache *c = thread_cache();
    if (c && c->n < CX_CACHE) {
        c->cx[c->n++] = cx;
        return;
    }
    kiln_cabi_cx_free(cx);
    kiln_free(cx);
}

void ki_cxs_give(kiln_cabi_cx **cxs, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        cx_give(cxs[i]);
}

void ki_cxs_release(kiln_component_instance *ci)
{
    cx_give(ci->cx);
    ci->cx = NULL;
    for (uint32_t i = 0; i < ci->ncxs; i++)
        cx_give(ci->cxs[i]);
    kiln_free(ci->cxs);
    ci->cxs = NULL;
    ci->ncxs = ci->capcxs = 0;
}

/* The context of a call at the next depth of the instance's stack of contexts (reused:
 * a trap or exit that unwinds through a call leaves nothing to free), set up for these
 * canon options; NULL when out of memory. */
static kiln_cabi_cx *cx_push(kiln_component_instance *ci, wasm_rt_memory_t *mem,
                             kiln_string_encoding enc, ki_core *realloc, ki_frame *f)
{
    if (ci->depth == ci->ncxs) {
        if (ci->ncxs == ci->capcxs) {
            uint32_t cap = ci->capcxs ? ci->capcxs * 2 : 8;
            kiln_cabi_cx **n = kiln_realloc(ci->cxs, cap * sizeof *n);
            if (!n) return NULL;
            ci->cxs = n;
            ci->capcxs = cap;
        }
        kiln_cabi_cx *cx = cx_take();
        if (!cx) return NULL;
        ci->cxs[ci->ncxs++] = cx;
    }
    kiln_cabi_cx *cx = ci->cxs[ci->depth++];
    kiln_cabi_cx_reset(cx);
    struct kiln_cabi_arena *arena = cx->arena;
    memset(cx, 0, sizeof *cx);
    cx->arena = arena;
    ki_cx_prepare(ci, cx, mem, enc, realloc, f);
    return cx;
}

void ki_cx_prepare(kiln_component_instance *ci, kiln_cabi_cx *cx, wasm_rt_memory_t *mem,
                   kiln_string_encoding enc, ki_core *realloc, ki_frame *f)
{
    if (ci->as) ka_cx_hooks(ci, cx);
    cx->memory = mem;
    cx->enc = enc;
    if (realloc) {
        cx->realloc = realloc_thunk;
        cx->realloc_ctx = realloc;
    }
    cx->resources = f->res;
    cx->resource_type = resolve_type;
    cx->resource_ctx = f;
    cx->compact_bytes = 1; /* host.h: list<u8> and list<s8> travel as bytes */
}

static void cx_pop(kiln_component_instance *ci)
{
    ci->depth--;
}

/* The number of core parameters of a lowered function (without the return pointer). */
static uint32_t core_params(const kiln_ctype *ft)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < ft->nitems; i++)
        n += ft->items[i].type.type->flat;
    return n > KILN_CABI_MAX_FLAT_PARAMS ? 1 : (uint32_t)n;
}

static int results_spill(const kiln_ctype *ft)
{
    return ft->has_elem && ft->elem.type->flat > KILN_CABI_MAX_FLAT_RESULTS;
}

/* Borrow scopes (resources.h) around a call. In an async instance, calls of different
 * tasks interleave, which the table's strictly nested scopes cannot follow; there a
 * scope is opened only when the function passes borrows (interleaved tasks passing
 * borrows in one instance are not yet kept apart: async.h). */
static int scoped(kiln_component_instance *ci, const kiln_ctype *ft)
{
    if (!ci->as) return 1;
    for (uint32_t i = 0; i < ft->nitems; i++)
        if (ft->items[i].type.type->has_borrow) return 1;
    return 0;
}

static int scope_begin(kiln_component_instance *ci, const kiln_ctype *ft, kiln_resources *r,
                       char *err, size_t errlen)
{
    return scoped(ci, ft) ? kiln_resources_call_begin(r, err, errlen) : 0;
}

static int scope_end(kiln_component_instance *ci, const kiln_ctype *ft, kiln_resources *r,
                     char *err, size_t errlen)
{
    return scoped(ci, ft) ? kiln_resources_call_end(r, err, errlen) : 0;
}

/* Whether frame f is caller or one of its ancestors. */
static int inside(const ki_frame *caller, const ki_frame *f)
{
    for (; caller; caller = caller->parent)
        if (caller == f) return 1;
    return 0;
}

int ki_may_enter(const ki_frame *callee, const ki_frame *caller)
{
    /* The spec tests of wasm-tools 1.263 let a running instance be re-entered through a
     * parent, a child or a sibling (async/reentrance.wast); Kiln keeps refusing only an
     * instance's call of its own export (lifted, then lowered). The entered flags stay
     * kept (enter_set) for the stricter rules of CanonicalABI.md's may_enter_from. */
    return !(callee == caller && callee->running);
}

/* Counts the entering set (callee's instance and ancestors the caller is not inside) as
 * entered once more (v 1) or once less (v 0): re-entrance nests; in an async instance the
 * running thread holds them. */
static void enter_set(kiln_component_instance *ci, ki_frame *callee, const ki_frame *caller, int v)
{
    for (ki_frame *f = callee; f && !inside(caller, f); f = f->parent) {
        f->running += v ? 1 : -1;
        if (ci->as) v ? ka_hold(ci, f) : ka_unhold(ci, f);
    }
}

typedef struct builtin_call {
    ki_core *core;
    kiln_val *vals;
} builtin_call;

static void builtin_call_fn(void *p)
{
    builtin_call *c = p;
    kiln_rt_host_enter();
    ((kiln_host_vals_fn)c->core->b.fn)(c->core->b.ctx, c->vals);
    kiln_rt_host_leave();
}

int ki_core_call(ki_core *core, kiln_val *vals, kiln_trap *trap, uint64_t timeout_ns)
{
    if (core->inst)
        return kiln_instance_call_timeout(core->inst, core->idx, vals, trap, timeout_ns);
    builtin_call c = {core, vals};
    return kiln_rt_call(builtin_call_fn, &c, trap);
}

int ki_call_lifted(kiln_component_instance *ci, ki_func *fn, kiln_cabi_cx *caller_cx,
                   const kiln_cval *args, kiln_cval *results, kiln_trap *trap)
{
    if (ci->as) return ka_call(ci, fn, caller_cx, args, results, trap);
    return ki_call_lifted_now(ci, fn, caller_cx, args, results, trap);
}

int ki_call_lifted_now(kiln_component_instance *ci, ki_func *fn, kiln_cabi_cx *caller_cx,
                       const kiln_cval *args, kiln_cval *results, kiln_trap *trap)
{
    trap->kind = KILN_TRAP_NONE;
    if (fn->kind == KI_FUNC_HOST) {
        /* A host function re-exported: call it with the caller's context. */
        kiln_rt_host_enter();
        int rc = fn->hf->fn(fn->hctx, caller_cx, args, results);
        kiln_rt_host_leave();
        return rc;
    }
    /* The component model forbids entering a component instance that is running (a call
     * of its own export reached through a lowered import, a funcref table, a child
     * component): a trap, as CanonicalABI.md's lift does. */
    ki_frame *caller = caller_cx == ci->cx ? NULL : caller_cx->resource_ctx; /* NULL: host */
    if (!ki_may_enter(fn->frame, caller)) {
        snprintf(caller_cx->err, sizeof caller_cx->err,
                 "%s was called while its component instance is running: cannot re-enter a "
                 "component instance",
                 fn->name);
        return -1;
    }
    kiln_cabi_cx *cx = cx_push(ci, fn->memory, fn->enc, fn->realloc, fn->frame);
    if (!cx) {
        snprintf(caller_cx->err, sizeof caller_cx->err, "out of memory");
        return -1;
    }
    enter_set(ci, fn->frame, caller, 1);
    int rc = -1;
    realloc_trap[0] = '\0';
    realloc_stop.kind = KILN_TRAP_NONE;
    if (scope_begin(ci, fn->type, fn->frame->res, caller_cx->err, sizeof caller_cx->err) < 0) {
        enter_set(ci, fn->frame, caller, 0);
        cx_pop(ci);
        return -1;
    }
    kiln_val core[MAX_CORE];
    memset(core, 0, sizeof core);
    size_t ncore = 0;
    if (kiln_cabi_lower_args(cx, fn->type, args, core, &ncore) < 0) {
        snprintf(caller_cx->err, sizeof caller_cx->err, "passing the arguments: %.150s%s%.80s",
                 cx->err, realloc_trap[0] ? ": " : "", realloc_trap);
        if (realloc_stop.kind != KILN_TRAP_NONE) *trap = realloc_stop;
        goto out;
    }
    if (fn->async) {
        if (ka_run_async_core(ci, fn, core, caller_cx, trap) == 0) rc = 0;
        goto out;
    }
    /* Only the host's own call has a time limit; calls between instances run within it. */
    uint64_t timeout = ci->depth == 1 ? ci->timeout_ns : 0;
    if (ki_core_call(fn->core, core, trap, timeout) < 0) {
        snprintf(caller_cx->err, sizeof caller_cx->err, "%s", kiln_trap_message(trap));
        goto out;
    }
    kiln_val saved[MAX_CORE];
    memcpy(saved, core, sizeof saved);
    /* The results are lifted into the caller's arena: they outlive this call. */
    struct kiln_cabi_arena *mine = cx->arena;
    cx->arena = caller_cx->arena;
    int lr = fn->type->has_elem ? kiln_cabi_lift_results(cx, fn->type, core, results) : 0;
    cx->arena = mine;
    if (lr < 0) {
        snprintf(caller_cx->err, sizeof caller_cx->err, "reading the results: %.200s", cx->err);
        goto out;
    }
    if (fn->post_return) {
        fn->frame->no_leave = 1;
        if (kiln_instance_call_timeout(fn->post_return->inst, fn->post_return->idx, saved, trap,
                                       timeout) < 0) {
            fn->frame->no_leave = 0;
            snprintf(caller_cx->err, sizeof caller_cx->err, "post-return: %s",
                     kiln_trap_message(trap));
            goto out;
        }
        fn->frame->no_leave = 0;
    }
    rc = 0;
out:;
    char end_err[256];
    if (scope_end(ci, fn->type, fn->frame->res, end_err, sizeof end_err) < 0 && rc == 0) {
        snprintf(caller_cx->err, sizeof caller_cx->err, "%s", end_err);
        rc = -1;
    }
    enter_set(ci, fn->frame, caller, 0);
    cx_pop(ci);
    return rc;
}

/* Leaves the guest with a trap naming the component and the function. */
static _Noreturn void tramp_fail(ki_tramp *t, kiln_cabi_cx *cx, const kiln_trap *trap,
                                 const char *what)
{
    if (!trap && realloc_stop.kind != KILN_TRAP_NONE) trap = &realloc_stop;
    if (trap && trap->kind == KILN_TRAP_EXIT) {
        int code = trap->exit_code;
        cx_pop(t->ci);
        kiln_rt_exit(code);
    }
    if (trap && trap->kind == KILN_TRAP_INTERRUPTED) {
        cx_pop(t->ci);
        kiln_rt_trap(KILN_TRAP_INTERRUPTED);
    }
    char msg[512];
    snprintf(msg, sizeof msg, "%s: %s%s", t->callee->name, what, cx->err);
    cx_pop(t->ci);
    kiln_rt_trap_host(msg);
}

static void tramp_call(void *ctx, kiln_val *vals)
{
    ki_tramp *t = ctx;
    if (t->frame->no_leave) kiln_rt_trap_host("cannot leave component instance (post-return)");
    realloc_stop.kind = KILN_TRAP_NONE;
    kiln_cabi_cx *cx = cx_push(t->ci, t->memory, t->enc, t->realloc, t->frame);
    if (!cx) kiln_rt_trap_host("component call: out of memory");
    const kiln_ctype *ft = t->type;
    kiln_cval *args = kiln_cabi_alloc(cx, (ft->nitems + 1) * sizeof *args);
    kiln_cval *res = kiln_cabi_alloc(cx, sizeof *res);
    if (!args || !res) {
        snprintf(cx->err, sizeof cx->err, "out of memory");
        tramp_fail(t, cx, NULL, "");
    }
    memset(args, 0, (ft->nitems + 1) * sizeof *args);
    memset(res, 0, sizeof *res);
    uint32_t retptr = results_spill(ft) ? vals[core_params(ft)].i32 : 0;
    if (scope_begin(t->ci, t->type, t->frame->res, cx->err, sizeof cx->err) < 0)
        tramp_fail(t, cx, NULL, "");
    if (kiln_cabi_lift_args(cx, ft, vals, args) < 0) {
        scope_end(t->ci, t->type, t->frame->res, NULL, 0);
        tramp_fail(t, cx, NULL, "reading the arguments: ");
    }
    kiln_trap trap;
    int rc = ki_call_lifted(t->ci, t->callee, cx, args, res, &trap);
    if (rc < 0) {
        scope_end(t->ci, t->type, t->frame->res, NULL, 0);
        tramp_fail(t, cx, &trap, "");
    }
    if (ft->has_elem && kiln_cabi_lower_results(cx, ft, res, vals, retptr) < 0) {
        scope_end(t->ci, t->type, t->frame->res, NULL, 0);
        tramp_fail(t, cx, NULL, "returning the results: ");
    }
    if (scope_end(t->ci, t->type, t->frame->res, cx->err, sizeof cx->err) < 0)
        tramp_fail(t, cx, NULL, "");
    cx_pop(t->ci);
}

ki_core *ki_lower(kiln_component_instance *ci, ki_frame *f, ki_func *callee, const kiln_ctype *type,
                  const kiln_canon_opts *o, kiln_err *err)
{
    ki_tramp *t = ki_alloc(ci, sizeof *t, KI_TRAMP);
    ki_core *c = ki_alloc(ci, sizeof *c, KI_CORE);
    if (!t || !c) {
        kiln_err_set(err, "%s: out of memory", ci->name);
        return NULL;
    }
    t->ci = ci;
    t->frame = f;
    t->callee = callee;
    t->type = type;
    t->enc = o->string_encoding;
    if (o->has_memory)
        t->memory = ((ki_core *)f->sp[KILN_CSORT_CORE_MEMORY].items[o->memory])->b.ctx;
    if (o->has_realloc) {
        t->realloc = f->sp[KILN_CSORT_CORE_FUNC].items[o->realloc];
        if (!t->realloc->inst || !t->realloc->type || strcmp(t->realloc->type, "iiii:i") != 0) {
            kiln_err_set(err, "%s: the realloc of %s is not a core export of type iiii:i", ci->name,
                         callee->name);
            return NULL;
        }
    }
    if (o->async) return ka_lower_async(ci, t, err);
    char sig[64];
    if (kiln_cabi_core_sig(type, 1, sig, sizeof sig) < 0 || !(c->type = ki_strdup(ci, sig))) {
        kiln_err_set(err, "%s: the core signature of %s does not fit", ci->name, callee->name);
        return NULL;
    }
    c->kind = KILN_EXTERN_FUNC;
    c->b = (kiln_binding){(kiln_fnptr)tramp_call, t, KILN_BIND_HOST_VALS};
    c->idx = -1;
    return c;
}

/* ---- resource built-ins ---- */

static _Noreturn void builtin_fail(ki_builtin *b, const char *op, const char *why)
{
    char msg[400];
    snprintf(msg, sizeof msg, "%s of %s: %s", op, b->type->rt.name, why);
    kiln_rt_trap_host(msg);
}

static void res_new(void *ctx, kiln_val *v)
{
    ki_builtin *b = ctx;
    if (b->frame->no_leave) builtin_fail(b, "resource.new", "cannot leave component instance");
    char err[200];
    uint32_t h;
    if (kiln_resource_new(b->frame->res, &b->type->rt, v[0].i32, &h, err, sizeof err) < 0)
        builtin_fail(b, "resource.new", err);
    v[0].i32 = h;
}

static void res_rep(void *ctx, kiln_val *v)
{
    ki_builtin *b = ctx;
    char err[200];
    uint32_t rep;
    if (kiln_resource_rep(b->frame->res, &b->type->rt, v[0].i32, &rep, err, sizeof err) < 0)
        builtin_fail(b, "resource.rep", err);
    v[0].i32 = rep;
}

static void res_drop(void *ctx, kiln_val *v)
{
    ki_builtin *b = ctx;
    if (b->frame->no_leave) builtin_fail(b, "resource.drop", "cannot leave component instance");
    char err[200];
    if (kiln_resource_drop(b->frame->res, &b->type->rt, v[0].i32, err, sizeof err) < 0)
        builtin_fail(b, "resource.drop", err);
}

ki_core *ki_resource_builtin(kiln_component_instance *ci, ki_frame *f, uint8_t op,
                             const kiln_ctype *t, kiln_err *err)
{
    ki_builtin *b = ki_alloc(ci, sizeof *b, KI_BUILTIN);
    ki_core *c = ki_alloc(ci, sizeof *c, KI_CORE);
    if (!b || !c) {
        kiln_err_set(err, "%s: out of memory", ci->name);
        return NULL;
    }
    b->ci = ci;
    b->frame = f;
    b->type = ki_rtype_of(f, t);
    if (!b->type) {
        kiln_err_set(err, "%s: %s of a type that is not a resource of this instance", ci->name,
                     kiln_canon_op_name(op));
        return NULL;
    }
    if (op != KILN_CANON_RESOURCE_DROP && b->type->rt.impl != f->res) {
        kiln_err_set(err, "%s: %s of resource %s, which this component does not define", ci->name,
                     kiln_canon_op_name(op), b->type->rt.name);
        return NULL;
    }
    kiln_host_vals_fn fn = op == KILN_CANON_RESOURCE_NEW   ? res_new
                           : op == KILN_CANON_RESOURCE_REP ? res_rep
                                                           : res_drop;
    c->kind = KILN_EXTERN_FUNC;
    c->b = (kiln_binding){(kiln_fnptr)fn, b, KILN_BIND_HOST_VALS};
    c->idx = -1;
    c->type = op == KILN_CANON_RESOURCE_DROP ? "i:" : "i:i";
    return c;
}

/* ---- the host's calls ---- */

int kiln_component_call(kiln_component_instance *ci, const kiln_component_func *f,
                        const kiln_cval *args, kiln_cval *results, kiln_trap *trap)
{
    return kiln_component_call_timeout(ci, f, args, results, trap, 0);
}

int kiln_component_call_timeout(kiln_component_instance *ci, const kiln_component_func *f,
                                const kiln_cval *args, kiln_cval *results, kiln_trap *trap,
                                uint64_t timeout_ns)
{
    ci->timeout_ns = timeout_ns;
    ki_func *fn = (ki_func *)f;
    if (!ci->cx && !(ci->cx = cx_take())) {
        trap->kind = KILN_TRAP_HOST;
        snprintf(trap->message, sizeof trap->message, "%s: out of memory", ci->name);
        return -1;
    }
    /* Nothing is in progress when the host calls: a trap or exit may have unwound calls
     * without ending them. */
    ci->depth = 0;
    for (uint32_t i = 0; i < ci->nframes; i++) {
        ci->frames[i]->running = 0;
        while (kiln_resources_call_depth(ci->frames[i]->res) > 0)
            kiln_resources_call_end(ci->frames[i]->res, NULL, 0);
    }
    kiln_cabi_cx_reset(ci->cx);
    ci->cx->resources = ci->top->res;
    ci->cx->resource_type = resolve_type;
    ci->cx->resource_ctx = ci->top;
    ci->cx->compact_bytes = 1;
    ci->cx->err[0] = '\0';
    kiln_trap t;
    if (ki_call_lifted(ci, fn, ci->cx, args, results, &t) == 0) return 0;
    if (t.kind == KILN_TRAP_EXIT) {
        *trap = t;
        return -1;
    }
    /* A fault keeps its kind (unreachable, out of bounds, a timeout: what metrics and logs
     * count); a canonical ABI error or a host failure is a host trap. The message names the
     * component, the function and the fault. */
    trap->kind = t.kind != KILN_TRAP_NONE ? t.kind : KILN_TRAP_HOST;
    trap->exit_code = 0;
    char msg[700];
    snprintf(msg, sizeof msg, "%s: %s: %s", ci->name, fn->name, ci->cx->err);
    size_t n = strlen(msg);
    if (n >= sizeof trap->message) n = sizeof trap->message - 1;
    memcpy(trap->message, msg, n);
    trap->message[n] = '\0';
    return -1;
}
