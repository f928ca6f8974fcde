/* image.c — instance images: a component instantiated once, kept as a snapshot, and
 * copied for every request. The snapshot is taken after the module's own initialization
 * (data and element segments, its start function) and, for a WASI reactor, after
 * `_initialize`; a command's `_start` runs per request.
 *
 * The snapshot is the native instance struct (globals, data-segment state, ...) plus each
 * of the instance's own memories as a memory image (linear_memory.c) and each table's
 * elements. A new instance is: memcpy of the struct, rebinding of the import contexts,
 * one slot per memory (reused slots come back reset, so no mmap on the request path),
 * and its tables. A funcref table that no other module reaches (defined, not exported)
 * and whose elements all name the instance itself (its functions, its imports through
 * its bindings) is not copied: the image keeps it with every element relative to the
 * table's struct (runtime.h, kiln_rt_funcref_self) and every copy uses that array as it is,
 * until it writes the table and gets its own (funcref_table.c). Other tables are copied,
 * with their self-references moved to the new instance. No guest code runs: data
 * segments, element segments and the start function ran once, when the image was made.
 *
 * A set of instances that reference each other (a component's core instances: a table of
 * one holds funcrefs into another's block) is copied with kiln_image_instantiate_set, then
 * rebased at once with kiln_image_rebase and a table of old ranges -> new bases (image.h).
 * Its instances share one block, so a table whose elements all name instances of the set
 * is shared too, relative to its struct's place in the block (kiln_image_share_set).
 *
 * Not covered: funcref *globals* that point into the instance (their module_instance is
 * not rebased); no module Kiln serves today has one. */
#include "engine/image.h"
#include "engine/engine.h"
#include "engine/module_internal.h"
#include "util/alloc.h"

#include <stdlib.h>
#include <string.h>

/* A word of the native struct that the glue's rebind writes (kiln_glue_rebind, wasm2c's
 * init_instance_import: one store per import module and per imported memory, table or
 * global), learnt once per image (learn_rebind): the instance's bindings array itself
 * (binding == REBIND_ARRAY) or binding `binding`'s context. */
typedef struct rebind_word {
    uint32_t off;     /* byte offset in the native struct */
    uint32_t binding; /* import index, or REBIND_ARRAY */
} rebind_word;
#define REBIND_ARRAY UINT32_MAX

typedef struct table_snapshot {
    uint32_t size, max_size;
    void *data; /* size elements */
    int shared; /* funcref tables: data is a shared array (kiln_rt_funcref_elems_new) of
                 * elements relative to the table's own struct (kiln_rt_funcref_self),
                 * used by every instance as it is */
    size_t at;  /* funcref tables: the struct's offset in the instance's block */
} table_snapshot;

struct kiln_image {
    kiln_module *module;
    void *native;               /* the struct after initialization */
    uintptr_t orig_lo, orig_hi; /* where that instance's block (struct + bindings) lived,
                                 * for rebasing funcrefs that point into it */
    kiln_rt_mem_image **mems;
    uint32_t *mem_max;
    table_snapshot *ftabs, *etabs;
    kiln_binding *bindings; /* the captured instance's (kiln_image_bindings) */
    int in_set;             /* tables shared by kiln_image_share_set: copies only in a set */
    rebind_word *rebind;    /* what g_rebind writes (nrebind words), NULL: call g_rebind */
    size_t nrebind;
};

/* The struct at byte offset `off` of inst's native struct (module_internal.h: mem_off,
 * ft_off, et_off). */
#define AT_OFF(inst, off) ((void *)((char *)(inst)->native + (off)))

void kiln_image_free(kiln_image *img)
{
    if (!img) return;
    kiln_module *m = img->module;
    for (unsigned i = 0; img->mems && i < m->nmemories; i++)
        kiln_rt_mem_image_free(img->mems[i]);
    for (unsigned i = 0; img->ftabs && i < m->nfuncref_tables; i++)
        kiln_rt_funcref_elems_free(img->ftabs[i].data);
    for (unsigned i = 0; img->etabs && i < m->nexternref_tables; i++)
        kiln_free(img->etabs[i].data);
    kiln_free(img->mems);
    kiln_free(img->mem_max);
    kiln_free(img->ftabs);
    kiln_free(img->etabs);
    kiln_free(img->native);
    kiln_free(img->bindings);
    kiln_free(img->rebind);
    kiln_free(img);
}

/* Copies `count` elements of `size` bytes (NULL on failure; a 1-byte block for 0). */
static void *dup_elems(const void *src, size_t count, size_t size)
{
    void *p = kiln_malloc(count ? count * size : 1);
    if (p && count) memcpy(p, src, count * size);
    return p;
}

/* Writes what the glue's rebind would into `native` for `bs`, from the learnt words. */
static void rebind_apply(const rebind_word *w, size_t n, void *native, const kiln_binding *bs)
{
    for (size_t i = 0; i < n; i++) {
        const void *v = w[i].binding == REBIND_ARRAY ? (const void *)bs : bs[w[i].binding].ctx;
        memcpy((char *)native + w[i].off, &v, sizeof v);
    }
}

/* Learns which words of the native struct m's g_rebind writes, and with what, so that a
 * copy sets them with one loop over img->rebind instead of running the glue: a module
 * with thousands of imports (CPython's, through GOT.mem/GOT.func globals) has kilobytes
 * of straight-line rebind code, one call through the PLT per import, and after a
 * request's guest code has run none of it is in the caches any more (in `kiln up` that
 * made the copy of http-py's 14 core instances cost 20 us more than in a loop).
 * The glue runs on a zeroed struct with made-up bindings (every context a distinct
 * address); every non-zero word must be the bindings array or one context. The result is
 * then checked against the glue with a second set of bindings: the same bytes, or the
 * glue stays in use (img->rebind NULL; also when out of memory: nothing fails). */
static void learn_rebind(kiln_image *img)
{
    kiln_module *m = img->module;
    size_t n = m->nimports, size = m->instance_size, words = size / sizeof(void *);
    if (size > UINT32_MAX || n >= UINT32_MAX) return;
    unsigned char *a = kiln_calloc(1, size ? size : 1), *b = kiln_calloc(1, size ? size : 1),
                  *c = kiln_calloc(1, size ? size : 1);
    kiln_binding *fake = kiln_calloc(2 * (n + 1), sizeof *fake),
                 *fake2 = fake ? fake + n + 1 : NULL;
    char *ctxs = kiln_malloc(2 * (n + 1));
    rebind_word *w = kiln_malloc((words + 1) * sizeof *w);
    size_t nw = 0;
    int ok = a && b && c && fake && ctxs && w;
    for (size_t k = 0; ok && k < n; k++) {
        fake[k] = fake2[k] = img->bindings[k];
        fake[k].ctx = ctxs + k;
        fake2[k].ctx = ctxs + n + 1 + k;
    }
    if (ok) m->g_rebind(a, fake);
    for (size_t i = 0; ok && i < words; i++) {
        uintptr_t v;
        memcpy(&v, a + i * sizeof v, sizeof v);
        if (!v) continue;
        uint32_t off = (uint32_t)(i * sizeof v);
        if (v == (uintptr_t)fake)
            w[nw++] = (rebind_word){off, REBIND_ARRAY};
        else if (v >= (uintptr_t)ctxs && v < (uintptr_t)ctxs + n)
            w[nw++] = (rebind_word){off, (uint32_t)(v - (uintptr_t)ctxs)};
        else
            ok = 0;
    }
    for (size_t i = words * sizeof(void *); ok && i < size; i++)
        ok = a[i] == 0;
    if (ok) {
        m->g_rebind(b, fake2);
        rebind_apply(w, nw, c, fake2);
        ok = memcmp(b, c, size) == 0;
    }
    if (ok) {
        img->rebind = w;
        img->nrebind = nw;
        w = NULL;
    }
    kiln_free(a);
    kiln_free(b);
    kiln_free(c);
    kiln_free(fake);
    kiln_free(ctxs);
    kiln_free(w);
}

size_t kiln_image_rebind_words(const kiln_image *img)
{
    return img->rebind ? img->nrebind : (size_t)-1;
}

/* The snapshot of funcref table t of inst (`priv`: no other module reaches it). Shared
 * when it is private and every element's module instance is in inst's own block (its
 * native struct or its bindings) or NULL: those elements are stored relative to the
 * table's struct, the same for every copy. Otherwise (a funcref into another instance,
 * which a copy must move) its elements are stored as pointers (relative ones, of an
 * image-made instance, resolved). -1 when out of memory. */
static int snapshot_funcrefs(const kiln_instance *inst, wasm_rt_funcref_table_t *t, int priv,
                             table_snapshot *out)
{
    uintptr_t lo = (uintptr_t)inst, hi = lo + inst->alloc_size;
    int share = priv;
    for (uint32_t k = 0; share && k < t->size; k++) {
        uintptr_t mi = (uintptr_t)kiln_rt_funcref_self(t, t->data[k].module_instance);
        if (mi && (mi < lo || mi >= hi || (mi & 1))) share = 0;
    }
    wasm_rt_funcref_t *d = kiln_rt_funcref_elems_new(t->size, share);
    if (!d) return -1;
    for (uint32_t k = 0; k < t->size; k++) {
        d[k] = t->data[k];
        void *mi = kiln_rt_funcref_self(t, d[k].module_instance);
        d[k].module_instance = share && mi ? kiln_rt_funcref_relative(t, mi) : mi;
    }
    *out = (table_snapshot){t->size, t->max_size, d, share, (uintptr_t)t - lo};
    return 0;
}

kiln_image *kiln_image_capture(kiln_instance *inst, kiln_err *err)
{
    kiln_module *m = inst->module;
    kiln_image *img = kiln_calloc(1, sizeof *img);
    wasm_rt_memory_t **mems = kiln_calloc(m->nmemories + 1, sizeof *mems);
    wasm_rt_funcref_table_t **ft = kiln_calloc(m->nfuncref_tables + 1, sizeof *ft);
    wasm_rt_externref_table_t **et = kiln_calloc(m->nexternref_tables + 1, sizeof *et);
    if (!img || !mems || !ft || !et) goto oom;
    img->module = m;
    img->native = dup_elems(inst->native, 1, m->instance_size);
    img->bindings = dup_elems(inst->bindings, m->nimports, sizeof *img->bindings);
    img->mems = kiln_calloc(m->nmemories + 1, sizeof *img->mems);
    img->mem_max = kiln_calloc(m->nmemories + 1, sizeof *img->mem_max);
    img->ftabs = kiln_calloc(m->nfuncref_tables + 1, sizeof *img->ftabs);
    img->etabs = kiln_calloc(m->nexternref_tables + 1, sizeof *img->etabs);
    if (!img->native || !img->bindings || !img->mems || !img->mem_max || !img->ftabs || !img->etabs)
        goto oom;
    img->orig_lo = (uintptr_t)inst;
    img->orig_hi = img->orig_lo + inst->alloc_size;
    learn_rebind(img);
    m->g_memories(inst->native, mems);
    m->g_funcref_tables(inst->native, ft);
    m->g_externref_tables(inst->native, et);
    for (unsigned i = 0; i < m->nmemories; i++) {
        img->mems[i] = kiln_rt_mem_image_new(mems[i]->data, mems[i]->pages);
        img->mem_max[i] = mems[i]->max_pages;
        if (!img->mems[i]) {
            kiln_err_set(err, "cannot create a memory image");
            goto fail;
        }
    }
    for (unsigned i = 0; i < m->nfuncref_tables; i++)
        if (snapshot_funcrefs(inst, ft[i], m->g_funcref_private[i], &img->ftabs[i]) < 0) goto oom;
    for (unsigned i = 0; i < m->nexternref_tables; i++) {
        img->etabs[i] = (table_snapshot){
            et[i]->size, et[i]->max_size,
            dup_elems(et[i]->data, et[i]->size, sizeof(wasm_rt_externref_t)), 0, 0};
        if (!img->etabs[i].data) goto oom;
    }
    kiln_free(mems);
    kiln_free(ft);
    kiln_free(et);
    return img;
oom:
    kiln_err_set(err, "out of memory creating an image");
fail:
    kiln_free(mems);
    kiln_free(ft);
    kiln_free(et);
    kiln_image_free(img);
    return NULL;
}

kiln_image *kiln_image_new(kiln_module *m, const kiln_binding *bindings, kiln_trap *trap,
                           kiln_err *err)
{
    kiln_instance *inst = kiln_instance_alloc(m);
    if (!inst) {
        kiln_err_set(err, "out of memory creating an image");
        return NULL;
    }
    kiln_image *img = NULL;
    if (kiln_instance_init(inst, bindings, trap) < 0)
        kiln_err_set(err, "instantiation failed: %s", kiln_trap_message(trap));
    else if (kiln_instance_reactor_initialize(inst, trap) < 0 &&
             !(trap->kind == KILN_TRAP_EXIT && trap->exit_code == 0))
        kiln_err_set(err, "_initialize failed: %s", kiln_trap_message(trap));
    else
        img = kiln_image_capture(inst, err);
    kiln_instance_free(inst);
    return img;
}

int kiln_image_reserve(kiln_image *img, size_t n)
{
    for (unsigned i = 0; i < img->module->nmemories; i++)
        if (kiln_rt_mem_image_reserve(img->mems[i], n) < 0) return -1;
    return 0;
}

/* The instance's memories and tables from the image, its native struct already in place
 * (place_native or kiln_image_instantiate_again): with `self_rebase`, funcrefs into the
 * image's own block are moved to the instance, else copied tables stay empty (the caller
 * rebases them). Frees the instance and returns NULL when out of memory. */
static kiln_instance *attach(kiln_image *img, kiln_instance *inst, int self_rebase)
{
    kiln_module *m = img->module;
    unsigned nmem = m->nmemories, nft = m->nfuncref_tables, net = m->nexternref_tables;
    /* Until each is set up, point every memory/table at nothing, so that a failure midway
     * frees only what this instance owns. */
    for (unsigned i = 0; i < nmem; i++)
        ((wasm_rt_memory_t *)AT_OFF(inst, m->mem_off[i]))->data = NULL;
    for (unsigned i = 0; i < nft; i++)
        ((wasm_rt_funcref_table_t *)AT_OFF(inst, m->ft_off[i]))->data = NULL;
    for (unsigned i = 0; i < net; i++)
        ((wasm_rt_externref_table_t *)AT_OFF(inst, m->et_off[i]))->data = NULL;
    inst->initialized = 1;
    int ok = 1;
    for (unsigned i = 0; i < nmem && ok; i++)
        ok = kiln_rt_mem_image_attach(img->mems[i], AT_OFF(inst, m->mem_off[i]), img->mem_max[i]) ==
             0;
    for (unsigned i = 0; i < nft && ok; i++) {
        /* A shared table is the image's array as it is (written, the instance gets a copy:
         * funcref_table.c). Others are copied: in a set by kiln_image_rebase, relocated in
         * the same pass, the table staying empty until then. */
        wasm_rt_funcref_table_t *t = AT_OFF(inst, m->ft_off[i]);
        table_snapshot *s = &img->ftabs[i];
        t->max_size = s->max_size;
        if (s->shared) {
            t->data = s->data;
            t->size = s->size;
            continue;
        }
        /* Not zeroed: every element is written (here or by kiln_image_rebase) before the
         * size covers it. */
        wasm_rt_funcref_t *d = kiln_rt_funcref_elems_uninit(s->size);
        ok = d != NULL;
        if (ok && self_rebase && s->size) memcpy(d, s->data, s->size * sizeof *d);
        for (uint32_t k = 0; ok && self_rebase && k < s->size; k++) {
            uintptr_t mi = (uintptr_t)d[k].module_instance;
            if (mi >= img->orig_lo && mi < img->orig_hi)
                d[k].module_instance = (char *)inst + (mi - img->orig_lo);
        }
        t->data = d;
        t->size = self_rebase ? s->size : 0;
    }
    for (unsigned i = 0; i < net && ok; i++) {
        wasm_rt_externref_table_t *t = AT_OFF(inst, m->et_off[i]);
        table_snapshot *s = &img->etabs[i];
        t->data = dup_elems(s->data, s->size, sizeof(wasm_rt_externref_t));
        ok = t->data != NULL;
        t->size = s->size;
        t->max_size = s->max_size;
    }
    if (!ok) {
        kiln_instance_free(inst);
        return NULL;
    }
    return inst;
}

/* A fresh instance from the image; with `self_rebase`, funcrefs into the image's own
 * block are moved to the new instance, else every funcref keeps the image's addresses
 * (kiln_image_instantiate_set: the caller rebases them) and the instance is built at
 * `at`, its native struct also copied to `keep` when not NULL, before attach. */
static kiln_instance *instantiate(kiln_image *img, const kiln_binding *bindings, int self_rebase,
                                  void *at, void *keep)
{
    kiln_module *m = img->module;
    char msg[8];
    /* A set's bindings are the image's, moved (image.h): checked when it was made. */
    if (self_rebase && kiln_bindings_check(m, bindings, msg, sizeof msg) < 0) return NULL;
    kiln_instance *inst =
        self_rebase ? kiln_instance_alloc_raw(m, bindings) : kiln_instance_place(m, at, bindings);
    if (!inst) return NULL;
    memcpy(inst->native, img->native, m->instance_size);
    if (img->rebind)
        rebind_apply(img->rebind, img->nrebind, inst->native, inst->bindings);
    else
        m->g_rebind(inst->native, inst->bindings);
    if (keep) memcpy(keep, inst->native, m->instance_size);
    return attach(img, inst, self_rebase);
}

kiln_instance *kiln_image_instantiate(kiln_image *img, const kiln_binding *bindings)
{
    /* Tables shared in a set name the other instances of its block. */
    return img->in_set ? NULL : instantiate(img, bindings, 1, NULL, NULL);
}

kiln_instance *kiln_image_instantiate_set(kiln_image *img, const kiln_binding *bindings, void *at)
{
    return instantiate(img, bindings, 0, at, NULL);
}

kiln_instance *kiln_image_instantiate_kept(kiln_image *img, void *at, void *keep)
{
    return instantiate(img, NULL, 0, at, keep);
}

size_t kiln_image_native_size(const kiln_image *img)
{
    return img->module->instance_size;
}

int kiln_image_rebind_reads(const kiln_image *img, const unsigned char *moved)
{
    if (!img->rebind) return 1;
    for (size_t i = 0; i < img->nrebind; i++)
        if (img->rebind[i].binding != REBIND_ARRAY && moved[img->rebind[i].binding]) return 1;
    return 0;
}

kiln_instance *kiln_image_instantiate_again(kiln_image *img, void *at, const void *kept)
{
    kiln_module *m = img->module;
    kiln_instance *inst = kiln_instance_place(m, at, NULL);
    memcpy(inst->native, kept, m->instance_size);
    return attach(img, inst, 0);
}

size_t kiln_image_block_size(const kiln_image *img)
{
    return kiln_instance_block_size(img->module);
}

kiln_binding *kiln_image_set_bindings(const kiln_image *img, void *at)
{
    return kiln_instance_place_bindings(img->module, at);
}

void kiln_image_range(const kiln_image *img, uintptr_t *lo, uintptr_t *hi)
{
    *lo = img->orig_lo;
    *hi = img->orig_hi;
}

uintptr_t kiln_instance_base(const kiln_instance *inst)
{
    return (uintptr_t)inst;
}

const kiln_binding *kiln_image_bindings(const kiln_image *img, size_t *n)
{
    *n = img->module->nimports;
    return img->bindings;
}

/* The range of map (sorted by lo, disjoint) holding address a, or NULL. */
static const kiln_image_reloc *find_range(uintptr_t a, const kiln_image_reloc *map, size_t n)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a < map[mid].lo)
            hi = mid;
        else if (a >= map[mid].hi)
            lo = mid + 1;
        else
            return &map[mid];
    }
    return NULL;
}

int kiln_image_reloc_by_lo(const void *a, const void *b)
{
    uintptr_t x = ((const kiln_image_reloc *)a)->lo, y = ((const kiln_image_reloc *)b)->lo;
    return x < y ? -1 : x > y;
}

/* Whether every element of s names one of the n ranges of map (sorted) or is NULL. */
static int all_in(const table_snapshot *s, const kiln_image_reloc *map, size_t n)
{
    const wasm_rt_funcref_t *e = s->data;
    for (uint32_t k = 0; k < s->size; k++) {
        uintptr_t mi = (uintptr_t)e[k].module_instance;
        if (mi && ((mi & 1) || !find_range(mi, map, n))) return 0;
    }
    return 1;
}

int kiln_image_share_set(kiln_image **imgs, size_t n, const size_t *at)
{
    kiln_image_reloc local[32], *map = n <= 32 ? local : kiln_malloc(n * sizeof *map);
    if (!map) return -1;
    for (size_t i = 0; i < n; i++)
        map[i] = (kiln_image_reloc){imgs[i]->orig_lo, imgs[i]->orig_hi, at[i]};
    qsort(map, n, sizeof *map, kiln_image_reloc_by_lo);
    int shared = 0;
    for (size_t i = 0; i < n && shared >= 0; i++) {
        kiln_image *img = imgs[i];
        for (unsigned t = 0; t < img->module->nfuncref_tables; t++) {
            table_snapshot *s = &img->ftabs[t];
            if (s->shared || !all_in(s, map, n)) continue;
            wasm_rt_funcref_t *d = kiln_rt_funcref_elems_new(s->size, 1);
            if (!d) {
                shared = -1;
                break;
            }
            /* Both addresses in the layout: the target's and the table struct's. */
            uintptr_t self = at[i] + s->at;
            const wasm_rt_funcref_t *e = s->data;
            for (uint32_t k = 0; k < s->size; k++) {
                uintptr_t mi = (uintptr_t)e[k].module_instance;
                d[k] = e[k];
                if (!mi) continue;
                const kiln_image_reloc *r = find_range(mi, map, n);
                d[k].module_instance =
                    kiln_rt_funcref_relative((void *)self, (void *)(r->to + (mi - r->lo)));
            }
            kiln_rt_funcref_elems_free(s->data);
            s->data = d;
            s->shared = 1;
            img->in_set = 1;
            shared++;
        }
    }
    if (map != local) kiln_free(map);
    return shared;
}

int kiln_image_rebase(kiln_instance *inst, const kiln_image *img, const kiln_image_reloc *map,
                      size_t n)
{
    kiln_module *m = inst->module;
    for (unsigned i = 0; i < m->nfuncref_tables; i++) {
        const table_snapshot *s = &img->ftabs[i];
        if (s->shared) continue; /* instance-independent: instantiate gave it the array */
        wasm_rt_funcref_table_t *t = AT_OFF(inst, m->ft_off[i]);
        const wasm_rt_funcref_t *src = s->data;
        wasm_rt_funcref_t *d = t->data;
        /* Consecutive elements mostly point into the same instance: the last range found
         * is tried first. */
        const kiln_image_reloc *last = NULL;
        for (uint32_t k = 0; k < s->size; k++) {
            uintptr_t mi = (uintptr_t)src[k].module_instance;
            d[k] = src[k];
            if (!mi) continue;
            if (!last || mi - last->lo >= last->hi - last->lo) {
                const kiln_image_reloc *r = find_range(mi, map, n);
                if (!r) continue;
                last = r;
            }
            d[k].module_instance = (void *)(last->to + (mi - last->lo));
        }
        t->size = s->size;
    }
    return 0;
}
