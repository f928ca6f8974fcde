/* image.c — component images (instance.h): a component instantiated once, its whole
 * instantiated graph kept, and per request a copy of it made without replaying anything.
 *
 * The template is an ordinary instantiation (link.c: every core instance initialized,
 * start functions run, fixup modules' tables filled) made with `recording` on, so that
 * every item of its arena is listed with its kind (inst_internal.h: ki_kind). What the
 * walk built is then the arena (index spaces, core items, functions, instances,
 * trampolines, resource types, frames) plus what the arena points to that is made per
 * instance: the component instance itself, its core instances, the handle table of each
 * frame and the host providers' contexts. Everything else it points to (the model,
 * compiled code, host function tables) is shared and stays.
 *
 * Capture: only the arena items a copy can reach at run time are kept (mark_live): from
 * the roots (the frames, the contexts the core instances' bindings name, the types of the
 * handles the initialization left) through the pointer fields of the ki_* structs
 * (item_slots), except a frame's index spaces, which only the linking reads: a copy's are
 * empty, and the core items wired between core instances, the core instances' export
 * lists and the arrays a space outgrew (for componentize-py's CPython, 217 KB of 261 KB)
 * are not copied. The strings among the kept items (KI_BYTES: no pointers, never written
 * after instantiation) stay in the image (`shared`), read in place by every copy. The
 * others are copied back to back into one block (`graph`), and every pointer field of
 * every copied item is classified by the address it holds: into the arena (rewritten to
 * the block, as if the graph lived there, or to the shared block), into the instance, a
 * core instance's block, a handle table or a provider context (kept, with the target's
 * number), or elsewhere (shared: left). The slots are listed grouped by target. As a
 * safety net, a word of the block that points into one of those targets or into a
 * dropped item but is not a listed slot fails the capture (a pointer field missing from
 * the lists would otherwise dangle), and so does a listed field to a dropped item. Each
 * core instance is captured with the engine's images (engine/image.h), its bindings
 * classified the same way.
 *
 * The handle tables are kept as the template's initialization left them (their types
 * moved to the graph); a handle of a host resource needs its provider to copy contexts
 * (host.h ctx_clone), and such a provider's template context stays with the image.
 *
 * Copy: one malloc and memcpy of the block; a copy of each frame's handle table and a
 * context per provider (ctx_clone of the template's, else ctx_new, from the copy's
 * grants); each core instance copied from its image in creation order, its bindings
 * moved (a core instance imports only from earlier ones, the arena or the host); then
 * every slot moved by its target's displacement (new address - template address), and the
 * funcrefs of the copied tables rebased (a table of one core instance may hold funcrefs
 * into another's block) with the table of old ranges -> new bases. No definition is
 * replayed and no guest code runs.
 *
 * Async components (async.h): an instantiation leaves in the async store only the
 * built-ins' contexts, which are arena items (KI_ASYNC_BI) copied with the graph; a copy
 * gets an empty store of its own. A template whose store holds anything else (tasks,
 * threads, waitables a start function made) is refused. */
#include "component/async_internal.h"
#include "component/inst_internal.h"
#include "engine/image.h"
#include "util/alloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Targets: the arena, the instance, then the core instances, the frames' handle tables
 * and the provider contexts, in that order. */
enum { T_ARENA, T_CI, T_CORES };

#define MAX_PROVS (sizeof((kiln_component_instance *)0)->provs / sizeof(ki_provctx))

struct kiln_component_image {
    kiln_loaded_component *lc;
    size_t ncores;
    kiln_image **cores;
    kiln_binding **binds;  /* per core: its bindings, arena contexts moved to the graph */
    uint32_t **bind_tgt;   /* per core, per binding: 1 + the target of its ctx, 0: shared */
    kiln_image_reloc *map; /* old ranges sorted by lo; `to` unused here */
    size_t *order;         /* map[i] is the range of core order[i] */
    size_t *core_at;       /* per core: its offset in a copy's block of core instances */
    size_t core_size;      /* that block's size */
    char *graph;           /* the arena's items a copy copies, back to back */
    size_t size;
    char *shared;    /* the arena's strings (KI_BYTES) a copy reaches: read in place */
    uint32_t *slots; /* word indices into graph, grouped by target */
    size_t *tstart;  /* slots of target t: [tstart[t], tstart[t + 1]) */
    uintptr_t *old;  /* per target: its template address (the graph for T_ARENA) */
    size_t ntargets;
    size_t top, frames; /* byte offsets in graph of the top frame and the frames array */
    uint32_t nframes, capframes;
    kiln_resources **tables; /* per frame: the template's handle table, types in graph */
    const kiln_chost_provider *provs[MAX_PROVS];
    void *tmpl_ctx[MAX_PROVS]; /* the template's context, kept for the provider's ctx_clone */
    int deny[MAX_PROVS];       /* made from the deny-all grants (a dependency's: compose.h) */
    size_t nprovs;
    /* A copy's unit, one allocation (plan_unit): its block of core instances (core_size
     * bytes), each core's native struct as the unit's first copy had it (at kept_at[k]),
     * its graph (at graph_at: the arena's first chunk), that graph as the first copy had
     * it right after its slots moved (at kept_graph), and the instance itself (ci_at). A freed
     * copy's unit goes back to `pool`, and a copy that takes it rewrites only what differs between
     * copies made in one unit (reuse; 0: no kept parts, every copy's unit is new). */
    int reuse;
    size_t *kept_at, graph_at, kept_graph, ci_at, unit_size;
    uint32_t **again; /* per core: its bindings whose target is not in the unit */
    size_t *nagain;
    pthread_mutex_t pool_lock;
    void **pool; /* freed copies' units, each unit_size bytes */
    size_t npool;
};

/* The most freed units an image keeps: more than the copies alive at once on the machines
 * Kiln serves from, fewer than would hold much memory (CPython's is 150 KB). */
#define POOL_MAX 32

void kiln_component_image_free(kiln_component_image *img)
{
    if (!img) return;
    for (size_t i = 0; i < img->ncores; i++) {
        if (img->cores) kiln_image_free(img->cores[i]);
        if (img->binds) kiln_free(img->binds[i]);
        if (img->bind_tgt) kiln_free(img->bind_tgt[i]);
        if (img->again) kiln_free(img->again[i]);
    }
    kiln_free(img->again);
    kiln_free(img->nagain);
    kiln_free(img->kept_at);
    for (size_t i = 0; i < img->npool; i++)
        kiln_free(img->pool[i]);
    kiln_free(img->pool);
    pthread_mutex_destroy(&img->pool_lock);
    kiln_free(img->cores);
    kiln_free(img->binds);
    kiln_free(img->bind_tgt);
    kiln_free(img->map);
    kiln_free(img->order);
    kiln_free(img->core_at);
    kiln_free(img->graph);
    kiln_free(img->shared);
    kiln_free(img->slots);
    kiln_free(img->tstart);
    kiln_free(img->old);
    for (uint32_t j = 0; img->tables && j < img->nframes; j++)
        kiln_resources_free(img->tables[j]);
    kiln_free(img->tables);
    for (size_t p = 0; p < img->nprovs; p++)
        if (img->tmpl_ctx[p]) img->provs[p]->ctx_free(img->tmpl_ctx[p]);
    kiln_free(img);
}

/* ---- capture ---- */

/* An address range of the template and what it becomes: for the arena's items, `to` is
 * the item's place in the graph (0 for an item the copy does not need) and `rec` its
 * index in ci->recs. */
typedef struct cap_range {
    uintptr_t lo, hi, to;
    uint32_t target, rec;
} cap_range;

/* What becomes of an arena item: left out (not reachable), copied into the graph, or kept
 * in the image's shared block (read-only items that hold no pointer: strings). */
enum { LIVE_NO, LIVE_COPY, LIVE_SHARED };

typedef struct cap {
    kiln_component_image *img;
    cap_range *ranges; /* sorted by lo, disjoint */
    size_t nranges;
    uint32_t *slot_tgt;  /* per word of the graph: 1 + target of a slot there, 0: none */
    unsigned char *live; /* per arena item: LIVE_* (capture_graph) */
    uint32_t *work;      /* arena items reached and not yet walked */
    size_t nwork;
    int marking;     /* item_slots walks template items to mark what they reach */
    size_t dangling; /* 1 + byte offset in the graph of a slot to a dropped item, 0: none */
} cap;

/* The range holding address a, or NULL. */
static const cap_range *range_of(const cap *c, uintptr_t a)
{
    size_t lo = 0, hi = c->nranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a < c->ranges[mid].lo)
            hi = mid;
        else if (a >= c->ranges[mid].hi)
            lo = mid + 1;
        else
            return &c->ranges[mid];
    }
    return NULL;
}

/* Marks the arena item holding address a as reachable (a no-op for other addresses). */
static void reach(cap *c, uintptr_t a)
{
    const cap_range *r = range_of(c, a);
    if (!r || r->target != T_ARENA || c->live[r->rec]) return;
    c->live[r->rec] = LIVE_COPY;
    c->work[c->nwork++] = r->rec;
}

/* A pointer field: while marking (the template's item), what it points to is reachable;
 * else (an item already in the graph) it is classified, moved to the graph when it points
 * into the arena, and listed when it points to something made per instance. */
static void slot(cap *c, void *where)
{
    uintptr_t v;
    memcpy(&v, where, sizeof v);
    if (c->marking) {
        reach(c, v);
        return;
    }
    const cap_range *r = range_of(c, v);
    if (!r) return;
    if (r->target == T_ARENA) {
        if (!c->live[r->rec]) { /* a field the marking did not follow */
            c->dangling = (size_t)((char *)where - c->img->graph) + 1;
            return;
        }
        v = r->to + (v - r->lo);
        memcpy(where, &v, sizeof v);
        if (c->live[r->rec] == LIVE_SHARED) return; /* the same for every copy */
    }
    c->slot_tgt[((char *)where - c->img->graph) / sizeof(void *)] = r->target + 1;
}

/* Every pointer field of an item of kind `kind` and `size` bytes at p (in the graph, or
 * the template's item while marking). A frame's index spaces are the exception: only the
 * linking reads them (link.c; what runs later resolved its items then: lower.c,
 * async_builtins.c), so a copy gets them empty (NULL, 0), and what only they reach (core
 * instances' export lists, the core items wired between core instances, the arrays a
 * space outgrew) is left out of the graph. */
static void item_slots(cap *c, ki_kind kind, void *p, size_t size)
{
    switch (kind) {
    case KI_BYTES:
        return;
    case KI_PTRS:
        for (size_t i = 0; i + sizeof(void *) <= size; i += sizeof(void *))
            slot(c, (char *)p + i);
        return;
    case KI_CORE: {
        ki_core *x = p;
        slot(c, &x->b.ctx);
        slot(c, &x->inst);
        slot(c, &x->type);
        return;
    }
    case KI_COREINST: {
        ki_coreinst *x = p;
        slot(c, &x->inst);
        slot(c, &x->names);
        slot(c, &x->items);
        return;
    }
    case KI_FUNC: {
        ki_func *x = p;
        slot(c, &x->name);
        slot(c, &x->type);
        slot(c, &x->frame);
        slot(c, &x->hf);
        slot(c, &x->hctx);
        slot(c, &x->core);
        slot(c, &x->memory);
        slot(c, &x->realloc);
        slot(c, &x->post_return);
        slot(c, &x->callback);
        return;
    }
    case KI_CINST: {
        ki_cinst *x = p;
        slot(c, &x->names);
        slot(c, &x->sorts);
        slot(c, &x->items);
        return;
    }
    case KI_COMP: {
        ki_comp *x = p;
        slot(c, &x->c);
        slot(c, &x->outer);
        return;
    }
    case KI_RTYPE: {
        ki_rtype *x = p;
        slot(c, &x->rt.name);
        slot(c, &x->rt.impl);
        slot(c, &x->rt.host_ctx);
        slot(c, &x->rt.guest_native);
        return;
    }
    case KI_FRAME: {
        ki_frame *x = p;
        slot(c, &x->parent);
        slot(c, &x->c);
        if (!c->marking) memset(x->sp, 0, sizeof x->sp);
        slot(c, &x->exports);
        slot(c, &x->res);
        slot(c, &x->tmap);
        return;
    }
    case KI_TRAMP: {
        ki_tramp *x = p;
        slot(c, &x->ci);
        slot(c, &x->frame);
        slot(c, &x->callee);
        slot(c, &x->type);
        slot(c, &x->memory);
        slot(c, &x->realloc);
        return;
    }
    case KI_BUILTIN: {
        ki_builtin *x = p;
        slot(c, &x->ci);
        slot(c, &x->frame);
        slot(c, &x->type);
        return;
    }
    case KI_ASYNC_BI: {
        ka_bi *x = p;
        slot(c, &x->ci);
        slot(c, &x->frame);
        slot(c, &x->k);
        slot(c, &x->memory);
        slot(c, &x->realloc);
        slot(c, &x->table);
        slot(c, &x->rtype.name);
        slot(c, &x->rtype.items);
        slot(c, &x->rtype.sig);
        slot(c, &x->rfield.name);
        slot(c, &x->rfield.type.type);
        return;
    }
    }
}

/* A handle's type in the template's table -> its place in the graph (types are arena
 * items); a host type's provider must be able to copy its context (ctx_clone). */
static const kiln_resource_type *type_to_graph(void *arg, const kiln_resource_type *t)
{
    cap *c = arg;
    if (c->marking) { /* the handles' types are roots */
        reach(c, (uintptr_t)t);
        return t;
    }
    const cap_range *r = range_of(c, (uintptr_t)t);
    if (!r || r->target != T_ARENA || !c->live[r->rec]) return NULL;
    if (!t->impl) {
        const cap_range *h = range_of(c, (uintptr_t)t->host_ctx);
        size_t first = T_CORES + c->img->ncores + c->img->nframes;
        if (!h || h->target < first || !c->img->provs[h->target - first]->ctx_clone) return NULL;
    }
    return (const kiln_resource_type *)(r->to + ((uintptr_t)t - r->lo));
}

/* A handle's type in the image's table -> the copy's (arg: the arena's displacement). */
static const kiln_resource_type *type_to_copy(void *arg, const kiln_resource_type *t)
{
    return (const kiln_resource_type *)((uintptr_t)t + *(const uintptr_t *)arg);
}

static int by_lo(const void *a, const void *b)
{
    uintptr_t x = ((const cap_range *)a)->lo, y = ((const cap_range *)b)->lo;
    return x < y ? -1 : x > y;
}

static void add_range(cap *c, size_t *n, uintptr_t lo, uintptr_t hi, uint32_t t, uint32_t rec)
{
    c->ranges[(*n)++] = (cap_range){lo, hi, 0, t, rec};
}

/* Marks the arena items a copy can reach from the runtime's roots: the frames (the top
 * one's exports are what kiln_component_find_func looks up), the contexts the core
 * instances' bindings name (trampolines, built-ins) and the types of the handles the
 * initialization left; then what they reach through the fields item_slots follows.
 * 0, or -1 out of memory. */
static int mark_live(cap *c, kiln_component_instance *ci)
{
    c->marking = 1;
    reach(c, (uintptr_t)ci->top);
    reach(c, (uintptr_t)ci->frames);
    for (size_t k = 0; k < ci->ncores; k++) {
        size_t nb;
        const kiln_binding *b = kiln_image_bindings(c->img->cores[k], &nb);
        for (size_t i = 0; i < nb; i++)
            reach(c, (uintptr_t)b[i].ctx);
    }
    for (uint32_t j = 0; j < ci->nframes; j++) {
        char why[200];
        kiln_resources *r =
            kiln_resources_clone(ci->frames[j]->res, type_to_graph, c, why, sizeof why);
        if (!r) return -1;
        kiln_resources_free(r);
    }
    while (c->nwork) {
        const ki_rec *r = &ci->recs[c->work[--c->nwork]];
        item_slots(c, r->kind, r->p, r->size);
    }
    c->marking = 0;
    return 0;
}

/* Copies the arena's items a copy can reach (mark_live) into img->graph and lists their
 * slots. 0, or -1 with err. */
static int capture_graph(kiln_component_image *img, kiln_component_instance *ci, kiln_err *err)
{
    size_t nres = ci->nframes, nranges = ci->nrecs + 1 + ci->ncores + nres + ci->nprovs;
    cap c = {.img = img};
    int rc = -1;
    size_t *roff = NULL; /* per arena item: its offset in the graph */
    img->ntargets = T_CORES + ci->ncores + nres + ci->nprovs;
    img->old = kiln_calloc(img->ntargets, sizeof *img->old);
    img->tstart = kiln_calloc(img->ntargets + 1, sizeof *img->tstart);
    c.ranges = kiln_calloc(nranges, sizeof *c.ranges);
    c.live = kiln_calloc(ci->nrecs + 1, 1);
    c.work = kiln_malloc((ci->nrecs + 1) * sizeof *c.work);
    roff = kiln_malloc((ci->nrecs + 1) * sizeof *roff);
    if (!img->old || !img->tstart || !c.ranges || !c.live || !c.work || !roff) goto oom;
    /* The ranges: arena items, the instance, core blocks, tables and contexts. */
    size_t n = 0;
    for (size_t i = 0; i < ci->nrecs; i++) {
        const ki_rec *r = &ci->recs[i];
        add_range(&c, &n, (uintptr_t)r->p, (uintptr_t)r->p + r->size, T_ARENA, (uint32_t)i);
    }
    img->old[T_CI] = (uintptr_t)ci;
    add_range(&c, &n, (uintptr_t)ci, (uintptr_t)ci + sizeof *ci, T_CI, 0);
    for (size_t k = 0; k < ci->ncores; k++) {
        uintptr_t lo, hi;
        kiln_image_range(img->cores[k], &lo, &hi);
        img->old[T_CORES + k] = lo;
        add_range(&c, &n, lo, hi, (uint32_t)(T_CORES + k), 0);
    }
    for (size_t j = 0; j < nres; j++) {
        uintptr_t a = (uintptr_t)ci->frames[j]->res;
        img->old[T_CORES + ci->ncores + j] = a;
        add_range(&c, &n, a, a + 1, (uint32_t)(T_CORES + ci->ncores + j), 0);
    }
    for (size_t p = 0; p < ci->nprovs; p++) {
        uintptr_t a = (uintptr_t)ci->provs[p].ctx;
        img->old[T_CORES + ci->ncores + nres + p] = a;
        add_range(&c, &n, a, a + 1, (uint32_t)(T_CORES + ci->ncores + nres + p), 0);
    }
    c.nranges = n;
    qsort(c.ranges, n, sizeof *c.ranges, by_lo);
    for (size_t i = 1; i < n; i++)
        if (c.ranges[i].lo < c.ranges[i - 1].hi) {
            kiln_err_set(err, "%s: an image needs distinct host contexts", ci->name);
            goto out;
        }
    if (mark_live(&c, ci) < 0) goto oom;
    /* The reachable items back to back, in the arena's order: strings in the shared
     * block (nothing writes them after instantiation), the rest in the graph. */
    size_t nshared = 0;
    for (size_t i = 0; i < ci->nrecs; i++) {
        if (c.live[i] && ci->recs[i].kind == KI_BYTES) c.live[i] = LIVE_SHARED;
        size_t *at = c.live[i] == LIVE_SHARED ? &nshared : &img->size;
        roff[i] = *at;
        if (c.live[i]) *at += ci->recs[i].size;
    }
    img->graph = kiln_malloc(img->size ? img->size : 1);
    img->shared = kiln_malloc(nshared ? nshared : 1);
    c.slot_tgt = kiln_calloc(img->size / sizeof(void *) + 1, sizeof *c.slot_tgt);
    if (!img->graph || !img->shared || !c.slot_tgt) goto oom;
    img->old[T_ARENA] = (uintptr_t)img->graph;
    for (size_t i = 0; i < ci->nrecs; i++)
        if (c.live[i])
            memcpy((c.live[i] == LIVE_SHARED ? img->shared : img->graph) + roff[i], ci->recs[i].p,
                   ci->recs[i].size);
    for (size_t i = 0; i < n; i++) {
        uint32_t rec = c.ranges[i].rec;
        if (c.ranges[i].target == T_ARENA && c.live[rec])
            c.ranges[i].to =
                (uintptr_t)(c.live[rec] == LIVE_SHARED ? img->shared : img->graph) + roff[rec];
    }
    /* The pointer fields of every item, then the safety net (a word pointing into a
     * dropped item fails it too). */
    for (size_t i = 0; i < ci->nrecs; i++)
        if (c.live[i] == LIVE_COPY)
            item_slots(&c, ci->recs[i].kind, img->graph + roff[i], ci->recs[i].size);
    if (c.dangling) {
        kiln_err_set(err, "%s: the image's graph points to an item it left out (at byte %zu)",
                     ci->name, c.dangling - 1);
        goto out;
    }
    size_t nwords = img->size / sizeof(void *), nslots = 0;
    for (size_t w = 0; w < nwords; w++) {
        if (c.slot_tgt[w]) {
            img->tstart[c.slot_tgt[w]]++; /* counts, shifted by one */
            nslots++;
            continue;
        }
        uintptr_t v;
        memcpy(&v, img->graph + w * sizeof v, sizeof v);
        if (range_of(&c, v)) {
            kiln_err_set(err,
                         "%s: the instance's graph has a pointer the image does not know "
                         "(at byte %zu)",
                         ci->name, w * sizeof v);
            goto out;
        }
    }
    for (size_t t = 0; t < img->ntargets; t++)
        img->tstart[t + 1] += img->tstart[t];
    if (!(img->slots = kiln_malloc((nslots ? nslots : 1) * sizeof *img->slots))) goto oom;
    size_t *fill = kiln_malloc((img->ntargets + 1) * sizeof *fill);
    if (!fill) goto oom;
    memcpy(fill, img->tstart, (img->ntargets + 1) * sizeof *fill);
    for (size_t w = 0; w < nwords; w++)
        if (c.slot_tgt[w]) img->slots[fill[c.slot_tgt[w] - 1]++] = (uint32_t)w;
    kiln_free(fill);
    /* Where the copy finds its frames. */
    const cap_range *top = range_of(&c, (uintptr_t)ci->top);
    const cap_range *frames = range_of(&c, (uintptr_t)ci->frames);
    if (!top || !frames || top->target != T_ARENA || frames->target != T_ARENA) {
        kiln_err_set(err, "%s: the instance's frames are not in its arena", ci->name);
        goto out;
    }
    img->top = top->to + ((uintptr_t)ci->top - top->lo) - (uintptr_t)img->graph;
    img->frames = frames->to + ((uintptr_t)ci->frames - frames->lo) - (uintptr_t)img->graph;
    img->nframes = ci->nframes;
    img->capframes = ci->capframes;
    /* The handle tables as the template's initialization left them. */
    if (!(img->tables = kiln_calloc(nres + 1, sizeof *img->tables))) goto oom;
    for (size_t j = 0; j < nres; j++) {
        char why[200];
        img->tables[j] =
            kiln_resources_clone(ci->frames[j]->res, type_to_graph, &c, why, sizeof why);
        if (!img->tables[j]) {
            kiln_err_set(err, "%s: the handles its initialization made cannot be copied: %s",
                         ci->name, why);
            goto out;
        }
    }
    /* Each core instance's bindings: from the arena, earlier core instances or shared. */
    for (size_t k = 0; k < ci->ncores; k++) {
        size_t nb;
        const kiln_binding *b = kiln_image_bindings(img->cores[k], &nb);
        img->binds[k] = kiln_malloc((nb ? nb : 1) * sizeof *img->binds[k]);
        img->bind_tgt[k] = kiln_calloc(nb ? nb : 1, sizeof *img->bind_tgt[k]);
        if (!img->binds[k] || !img->bind_tgt[k]) goto oom;
        if (nb) memcpy(img->binds[k], b, nb * sizeof *b);
        for (size_t i = 0; i < nb; i++) {
            const cap_range *r = range_of(&c, (uintptr_t)b[i].ctx);
            if (!r) continue;
            if (r->target >= T_CORES + k && r->target < T_CORES + ci->ncores) {
                kiln_err_set(err, "%s: core instance %zu is bound to a later one", ci->name, k);
                goto out;
            }
            if (r->target == T_ARENA)
                img->binds[k][i].ctx = (void *)(r->to + ((uintptr_t)b[i].ctx - r->lo));
            if (r->target != T_ARENA || c.live[r->rec] != LIVE_SHARED)
                img->bind_tgt[k][i] = r->target + 1;
        }
    }
    rc = 0;
    goto out;
oom:
    kiln_err_set(err, "%s: out of memory making an image", ci->name);
out:
    kiln_free(c.ranges);
    kiln_free(c.slot_tgt);
    kiln_free(c.live);
    kiln_free(c.work);
    kiln_free(roff);
    return rc;
}

/* Whether an async instance's store (async_internal.h) holds nothing but what a fresh
 * store holds: then a copy gets a fresh store, and the built-ins' contexts (ka_bi, arena
 * items) are copied with the graph. */
static int store_empty(const ka_store *s)
{
    return !s->cur && !s->waiting_head && !s->nstack && !s->ninsts && !s->failed && !s->threads &&
           !s->tasks && !s->nobjs && !s->errctxs && !s->host_call && !s->host_pending;
}

/* Lays out a copy's core instances in one block, in creation order, and shares the
 * funcref tables whose elements all name core instances (engine/image.h): CPython's
 * libpython defines a table of 5,768 funcrefs that the 13 other core modules import,
 * copied and moved per copy otherwise. The host reads a core table only in
 * thread.new-indirect, which resolves its elements (async.c). 0, or -1 out of memory. */
static int layout_cores(kiln_component_image *img)
{
    if (!(img->core_at = kiln_calloc(img->ncores + 1, sizeof *img->core_at))) return -1;
    size_t off = 0;
    for (size_t k = 0; k < img->ncores; k++) {
        img->core_at[k] = off;
        off += kiln_image_block_size(img->cores[k]);
    }
    img->core_size = off;
    return kiln_image_share_set(img->cores, img->ncores, img->core_at) < 0 ? -1 : 0;
}

/* Whether a unit used again keeps target t where it was: the graph, the core instances
 * and the instance are in the unit; its handle tables and host contexts are new. */
static int in_unit(const kiln_component_image *img, size_t t)
{
    return t == T_ARENA || t == T_CI || (t >= T_CORES && t < T_CORES + img->ncores);
}

#define ALIGN16(n) (((n) + 15) & ~(size_t)15)

/* Lays out a copy's unit and plans units used again: in a freed copy's unit, the bindings
 * and graph words that name the unit are what the next copy in it would write again, so it
 * writes only those whose targets are elsewhere (handle tables, host contexts: none of
 * CPython's 2,395 bindings, 217 of which name the graph's trampolines; 190 graph words),
 * and takes the native structs and the graph back from the first copy's, kept in the
 * unit. Reuse stays off when a native struct holds a word from a binding elsewhere (the
 * host provides no memory, table or global to a core instance: not seen) or a core runs
 * its rebind glue. 0, or -1 out of memory. */
static int plan_unit(kiln_component_image *img)
{
    size_t n = img->ncores, off = img->core_size;
    if (!(img->kept_at = kiln_calloc(n + 1, sizeof *img->kept_at)) ||
        !(img->again = kiln_calloc(n + 1, sizeof *img->again)) ||
        !(img->nagain = kiln_calloc(n + 1, sizeof *img->nagain)))
        return -1;
    int reuse = 1;
    for (size_t k = 0; k < n && reuse; k++) {
        size_t nb;
        kiln_image_bindings(img->cores[k], &nb);
        unsigned char *moved = kiln_calloc(nb + 1, 1);
        if (!moved || !(img->again[k] = kiln_malloc((nb + 1) * sizeof *img->again[k]))) {
            kiln_free(moved);
            return -1;
        }
        for (size_t i = 0; i < nb; i++) {
            uint32_t t = img->bind_tgt[k][i];
            if (!t || in_unit(img, t - 1)) continue;
            moved[i] = 1;
            img->again[k][img->nagain[k]++] = (uint32_t)i;
        }
        reuse = !kiln_image_rebind_reads(img->cores[k], moved);
        kiln_free(moved);
        img->kept_at[k] = off;
        off += ALIGN16(kiln_image_native_size(img->cores[k]));
    }
    if (reuse && !(img->pool = kiln_malloc(POOL_MAX * sizeof *img->pool))) return -1;
    img->reuse = reuse;
    img->graph_at = reuse ? off : ALIGN16(img->core_size);
    img->kept_graph = img->graph_at + ALIGN16(img->size);
    img->ci_at = ALIGN16(reuse ? img->kept_graph + img->size : img->kept_graph);
    img->unit_size = img->ci_at + sizeof(kiln_component_instance);
    return 0;
}

kiln_component_image *kiln_component_image_new(kiln_loaded_component *lc, const kiln_grants *g,
                                               kiln_err *err)
{
    kiln_component_instance *ci = ki_instantiate(lc, g, 1, err);
    if (!ci) return NULL;
    if (ci->as && !store_empty(ci->as)) {
        kiln_err_set(err,
                     "%s: its initialization left tasks, threads or waitables, which an image "
                     "does not copy",
                     ci->name);
        kiln_component_instance_free(ci);
        return NULL;
    }
    kiln_component_image *img = kiln_calloc(1, sizeof *img);
    if (img && pthread_mutex_init(&img->pool_lock, NULL) != 0) {
        kiln_free(img);
        img = NULL;
    }
    size_t n = ci->ncores;
    if (!img || !(img->cores = kiln_calloc(n + 1, sizeof *img->cores)) ||
        !(img->binds = kiln_calloc(n + 1, sizeof *img->binds)) ||
        !(img->bind_tgt = kiln_calloc(n + 1, sizeof *img->bind_tgt)) ||
        !(img->map = kiln_calloc(n + 1, sizeof *img->map)) ||
        !(img->order = kiln_calloc(n + 1, sizeof *img->order))) {
        kiln_err_set(err, "%s: out of memory", ci->name);
        goto fail;
    }
    img->lc = lc;
    img->ncores = n;
    for (size_t i = 0; i < n; i++) {
        if (!(img->cores[i] = kiln_image_capture(ci->cores[i], err))) goto fail;
        kiln_image_range(img->cores[i], &img->map[i].lo, &img->map[i].hi);
        img->map[i].to = i; /* sorted with the ranges, then moved to order */
    }
    qsort(img->map, n, sizeof *img->map, kiln_image_reloc_by_lo);
    for (size_t i = 0; i < n; i++)
        img->order[i] = img->map[i].to;
    if (layout_cores(img) < 0) {
        kiln_err_set(err, "%s: out of memory", ci->name);
        goto fail;
    }
    img->nprovs = ci->nprovs;
    for (size_t p = 0; p < ci->nprovs; p++) {
        img->provs[p] = ci->provs[p].p;
        img->deny[p] = ci->provs[p].deny;
    }
    if (capture_graph(img, ci, err) < 0) goto fail;
    if (plan_unit(img) < 0) {
        kiln_err_set(err, "%s: out of memory", ci->name);
        goto fail;
    }
    /* Contexts the providers copy stay with the image (and are tried once here). */
    size_t keep = 0;
    for (size_t p = 0; p < ci->nprovs; p++)
        if (img->provs[p]->ctx_clone)
            img->tmpl_ctx[p] = ci->provs[p].ctx;
        else
            ci->provs[keep++] = ci->provs[p];
    ci->nprovs = keep;
    for (size_t p = 0; p < img->nprovs; p++) {
        if (!img->tmpl_ctx[p]) continue;
        char *why = NULL;
        void *trial =
            img->provs[p]->ctx_clone(img->tmpl_ctx[p], img->deny[p] ? &ci->deny_g : g, &why);
        if (!trial) {
            kiln_err_set(err, "%s: %s: %s", ci->name, img->provs[p]->name, why ? why : "failed");
            kiln_free(why);
            goto fail;
        }
        img->provs[p]->ctx_free(trial);
    }
    kiln_component_instance_free(ci);
    return img;
fail:
    kiln_component_instance_free(ci);
    kiln_component_image_free(img);
    return NULL;
}

int kiln_component_image_reserve(kiln_component_image *img, size_t n)
{
    for (size_t i = 0; i < img->ncores; i++)
        if (kiln_image_reserve(img->cores[i], n) < 0) return -1;
    return 0;
}

void kiln_component_image_graph_size(const kiln_component_image *img, size_t *bytes, size_t *slots)
{
    *bytes = img->size;
    *slots = img->tstart[img->ntargets];
}

size_t kiln_component_image_pooled(kiln_component_image *img)
{
    pthread_mutex_lock(&img->pool_lock);
    size_t n = img->npool;
    pthread_mutex_unlock(&img->pool_lock);
    return n;
}

/* ---- copies ---- */

/* A unit for a copy: a freed copy's (*again set: plan_unit) or a new one. NULL when out of
 * memory. */
static char *unit_get(kiln_component_image *img, int *again)
{
    char *b = NULL;
    if (img->reuse) {
        pthread_mutex_lock(&img->pool_lock);
        if (img->npool) b = img->pool[--img->npool];
        pthread_mutex_unlock(&img->pool_lock);
    }
    *again = b != NULL;
    return b ? b : kiln_malloc(img->unit_size ? img->unit_size : 1);
}

void ki_image_unit_put(kiln_component_image *img, void *unit)
{
    if (img->reuse) {
        pthread_mutex_lock(&img->pool_lock);
        int kept = img->npool < POOL_MAX;
        if (kept) img->pool[img->npool++] = unit;
        pthread_mutex_unlock(&img->pool_lock);
        if (kept) return;
    }
    kiln_free(unit);
}

/* The copy's core instance k, built in its place of the copy's unit `blk`, its bindings
 * moved by the displacements known so far (the arena's, the host's and the earlier core
 * instances'). In a unit used `again`, only the bindings whose targets are not in the
 * unit move. NULL when out of memory. */
static kiln_instance *copy_core(kiln_component_image *img, size_t k, const uintptr_t *delta,
                                char *blk, int again)
{
    char *at = blk + img->core_at[k];
    /* Written once, in place. */
    kiln_binding *b = kiln_image_set_bindings(img->cores[k], at);
    if (again) {
        for (size_t j = 0; j < img->nagain[k]; j++) {
            uint32_t i = img->again[k][j];
            b[i].ctx = (void *)((uintptr_t)img->binds[k][i].ctx + delta[img->bind_tgt[k][i] - 1]);
        }
        return kiln_image_instantiate_again(img->cores[k], at, blk + img->kept_at[k]);
    }
    size_t nb;
    kiln_image_bindings(img->cores[k], &nb);
    if (nb) memcpy(b, img->binds[k], nb * sizeof *b);
    for (size_t i = 0; i < nb; i++)
        if (img->bind_tgt[k][i])
            b[i].ctx = (void *)((uintptr_t)b[i].ctx + delta[img->bind_tgt[k][i] - 1]);
    return img->reuse ? kiln_image_instantiate_kept(img->cores[k], at, blk + img->kept_at[k])
                      : kiln_image_instantiate_set(img->cores[k], NULL, at);
}

kiln_component_instance *kiln_component_image_instantiate(kiln_component_image *img,
                                                          const kiln_grants *g, kiln_err *err)
{
    kiln_loaded_component *lc = img->lc;
    int again;
    char *unit = unit_get(img, &again);
    kiln_component_instance *ci = unit ? memset(unit + img->ci_at, 0, sizeof *ci) : NULL;
    if (ci) ci->unit = unit; /* owned by ci from here */
    uintptr_t dlocal[64],
        *delta = img->ntargets <= 64 ? dlocal : kiln_malloc(img->ntargets * sizeof *delta);
    kiln_resources *rlocal[16],
        **res = img->nframes <= 16 ? rlocal : kiln_calloc(img->nframes, sizeof *res);
    uint32_t nres = 0;
    kiln_image_reloc mlocal[32],
        *map = img->ncores <= 32 ? mlocal : kiln_malloc(img->ncores * sizeof *map);
    if (!ci || !delta || !res || !map) goto oom;
    ci->lc = lc;
    ki_deny_grants(&ci->deny_g, g);
    const char *slash = strrchr(lc->name, '/');
    ci->name = slash ? slash + 1 : lc->name;
    if (!(ci->arena = kiln_malloc(4 * sizeof *ci->arena))) goto oom;
    char *blk = unit + img->graph_at;
    ci->arena[0] = blk;
    ci->narena = 1;
    ci->caparena = 4;
    if (lc->async && ka_store_new(ci) < 0) goto oom; /* tasks and waitables start empty */
    memcpy(blk, again ? unit + img->kept_graph : img->graph, img->size);
    delta[T_ARENA] = (uintptr_t)blk - img->old[T_ARENA];
    delta[T_CI] = (uintptr_t)ci - img->old[T_CI];
    size_t tres = T_CORES + img->ncores, tprov = tres + img->nframes;
    for (; nres < img->nframes; nres++) {
        if (!(res[nres] =
                  kiln_resources_clone(img->tables[nres], type_to_copy, &delta[T_ARENA], NULL, 0)))
            goto oom;
        delta[tres + nres] = (uintptr_t)res[nres] - img->old[tres + nres];
    }
    for (size_t p = 0; p < img->nprovs; p++) {
        char *why = NULL;
        const kiln_chost_provider *pv = img->provs[p];
        const kiln_grants *pg = img->deny[p] ? &ci->deny_g : g;
        void *ctx =
            pv->ctx_clone ? pv->ctx_clone(img->tmpl_ctx[p], pg, &why) : pv->ctx_new(pg, &why);
        if (!ctx) {
            kiln_err_set(err, "%s: %s: %s", ci->name, img->provs[p]->name, why ? why : "failed");
            kiln_free(why);
            goto fail;
        }
        ci->provs[ci->nprovs++] = (ki_provctx){img->provs[p], ctx, img->deny[p]};
        delta[tprov + p] = (uintptr_t)ctx - img->old[tprov + p];
    }
    if (img->ncores && !(ci->cores = kiln_malloc(img->ncores * sizeof *ci->cores))) goto oom;
    ci->capcores = img->ncores;
    for (size_t k = 0; k < img->ncores; k++) {
        kiln_instance *inst = copy_core(img, k, delta, ci->unit, again);
        if (!inst) {
            kiln_err_set(err, "%s: cannot copy core instance %zu from the image", ci->name, k);
            goto fail;
        }
        ci->cores[ci->ncores++] = inst;
        delta[T_CORES + k] = kiln_instance_base(inst) - img->old[T_CORES + k];
    }
    /* Every pointer of the graph to its copy's target: in a unit used again, only those
     * to targets elsewhere, from the image's words (the kept graph has the first copy's). */
    for (size_t t = 0; t < img->ntargets; t++) {
        if (again && in_unit(img, t)) continue;
        uintptr_t d = delta[t];
        for (size_t i = img->tstart[t]; i < img->tstart[t + 1]; i++) {
            size_t at = (size_t)img->slots[i] * sizeof(void *);
            uintptr_t *w = (uintptr_t *)(void *)(blk + at);
            if (again) memcpy(w, img->graph + at, sizeof *w);
            *w += d;
        }
    }
    if (img->reuse && !again) memcpy(unit + img->kept_graph, blk, img->size);
    ci->top = (ki_frame *)(void *)(blk + img->top);
    ci->frames = (ki_frame **)(void *)(blk + img->frames);
    ci->nframes = img->nframes;
    ci->capframes = img->capframes;
    nres = 0; /* the frames own them now */
    for (size_t i = 0; i < img->ncores; i++) {
        map[i] = img->map[i];
        map[i].to = kiln_instance_base(ci->cores[img->order[i]]);
    }
    for (size_t i = 0; i < img->ncores; i++)
        kiln_image_rebase(ci->cores[i], img->cores[i], map, img->ncores);
    ci->image = img; /* whole: its unit goes back to img (ki_image_unit_put) */
    goto out;
oom:
    kiln_err_set(err, "%s: out of memory", lc->name);
fail:
    for (uint32_t i = 0; i < nres; i++)
        kiln_resources_free(res[i]);
    nres = 0;
    kiln_component_instance_free(ci);
    ci = NULL;
out:
    if (delta != dlocal) kiln_free(delta);
    if (res != rlocal) kiln_free(res);
    if (map != mlocal) kiln_free(map);
    return ci;
}
