/* instance.c — instances of a loaded module: create, call exports, free (engine.h). */
#include "engine/consts.h"
#include "engine/engine.h"
#include "engine/module_internal.h"
#include "util/alloc.h"

#include <stdio.h>
#include <string.h>

#define INSTANCE_HEAD ((sizeof(kiln_instance) + 15) & ~(size_t)15)

/* Offset of the bindings: after the native struct, aligned for kiln_binding. */
static size_t bindings_offset(const kiln_module *m)
{
    return (INSTANCE_HEAD + m->instance_size + 15) & ~(size_t)15;
}

/* The size of a value of type `t` (a value letter). */
static size_t value_size(char t)
{
    switch (t) {
    case 'i':
    case 'f':
        return 4;
    case 'j':
    case 'd':
        return 8;
    case 'r':
        return sizeof(wasm_rt_funcref_t);
    case 'e':
        return sizeof(wasm_rt_externref_t);
    default:
        return 16;
    }
}

size_t kiln_instance_block_size(const kiln_module *m)
{
    return (bindings_offset(m) + m->nimports * sizeof(kiln_binding) + 15) & ~(size_t)15;
}

/* Sets up the header of an instance block at `inst` of `size` bytes. */
static kiln_instance *init_block(kiln_module *m, kiln_instance *inst, size_t size, int placed)
{
    inst->module = m;
    inst->initialized = 0;
    inst->placed = placed;
    inst->native = (char *)inst + INSTANCE_HEAD;
    inst->bindings = (kiln_binding *)((char *)inst + bindings_offset(m));
    inst->alloc_size = size;
    return inst;
}

static kiln_instance *alloc_block(kiln_module *m, int zero)
{
    size_t size = bindings_offset(m) + m->nimports * sizeof(kiln_binding);
    kiln_instance *inst = zero ? kiln_calloc(1, size) : kiln_malloc(size);
    return inst ? init_block(m, inst, size, 0) : NULL;
}

/* Copies `bindings` (NULL: zeroes) into inst's. */
static void set_bindings(kiln_instance *inst, const kiln_binding *bindings)
{
    size_t n = inst->module->nimports;
    if (bindings)
        memcpy(inst->bindings, bindings, n * sizeof *bindings);
    else
        memset(inst->bindings, 0, n * sizeof *bindings);
}

kiln_instance *kiln_instance_place(kiln_module *m, void *at, const kiln_binding *bindings)
{
    kiln_instance *inst = init_block(m, at, kiln_instance_block_size(m), 1);
    if (bindings) set_bindings(inst, bindings);
    return inst;
}

kiln_binding *kiln_instance_place_bindings(const kiln_module *m, void *at)
{
    return (kiln_binding *)(void *)((char *)at + bindings_offset(m));
}

kiln_instance *kiln_instance_alloc(kiln_module *m)
{
    return alloc_block(m, 1);
}

kiln_instance *kiln_instance_alloc_raw(kiln_module *m, const kiln_binding *bindings)
{
    kiln_instance *inst = alloc_block(m, 0);
    if (inst) set_bindings(inst, bindings);
    return inst;
}

/* An instance being initialized, with its own memories located. */
typedef struct init_args {
    kiln_instance *inst;
    wasm_rt_memory_t **own_memories; /* m->nmemories, in index order */
} init_args;

/* Reads imported global `index` (kiln_const_global_fn: a checked constant expression
 * reads no other) through its binding. */
static void read_global(void *ctx, uint32_t index, kiln_val *out)
{
    kiln_instance *inst = ctx;
    const kiln_init_plan *p = inst->module->plan;
    memset(out, 0, sizeof *out);
    if (index >= p->nglobal_imports) return;
    const kiln_import *im = &inst->module->imports[p->global_import[index]];
    char t = im->type[strlen(im->type) - 1]; /* "i" or "mut i" */
    memcpy(out, inst->bindings[p->global_import[index]].ctx, value_size(t));
}

static kiln_val eval(kiln_instance *inst, const kiln_init_span *expr)
{
    kiln_val v;
    kiln_const_eval(inst->module->plan->bytes + expr->off, expr->len, read_global, inst, &v);
    return v;
}

/* Kiln's part of instantiation (consts.h), after wasm2c's instantiate and before the
 * start function: globals, then active element segments, then active data segments, in
 * order. Runs as guest code: an out-of-bounds segment traps (unwinds to kiln_rt_call),
 * leaving what earlier segments wrote, as the spec's instantiation does. */
static void apply_plan(init_args *a)
{
    kiln_instance *inst = a->inst;
    const kiln_module *m = inst->module;
    const kiln_init_plan *p = m->plan;
    for (size_t i = 0; i < p->nglobals; i++) {
        const kiln_init_global *g = &p->globals[i];
        kiln_val v = eval(inst, &g->expr);
        memcpy((char *)inst->native + m->g_global_offsets[g->index], &v, value_size(g->type));
    }
    for (size_t i = 0; i < p->nelems; i++)
        m->g_elem_init(inst->native, (unsigned)i, eval(inst, &p->elems[i].offset).i32);
    for (size_t i = 0; i < p->ndatas; i++) {
        const kiln_init_data *d = &p->datas[i];
        uint32_t off = eval(inst, &d->offset).i32;
        wasm_rt_memory_t *mem =
            d->memory < p->nmemory_imports
                ? (wasm_rt_memory_t *)inst->bindings[p->memory_import[d->memory]].ctx
                : a->own_memories[d->memory - p->nmemory_imports];
        if (!kiln_mem_ok(mem, off, d->data.len)) kiln_rt_trap(KILN_TRAP_MEMORY_OOB);
        if (d->data.len) memcpy(mem->data + off, p->bytes + d->data.off, d->data.len);
    }
}

static void instantiate_tramp(void *arg)
{
    init_args *a = arg;
    kiln_instance *inst = a->inst;
    inst->module->g_instantiate(inst->native, inst->bindings);
    apply_plan(a);
    inst->module->g_start(inst->native);
}

int kiln_bindings_check(const kiln_module *m, const kiln_binding *b, char *msg, size_t len)
{
    for (size_t i = 0; i < m->nimports; i++) {
        const kiln_import *im = &m->imports[i];
        if (b && (im->kind == KILN_EXTERN_FUNC ? b[i].fn != NULL : b[i].ctx != NULL)) continue;
        snprintf(msg, len, "import \"%s\" \"%s\" is not bound", im->module, im->name);
        return -1;
    }
    return 0;
}

int kiln_instance_init(kiln_instance *inst, const kiln_binding *bindings, kiln_trap *trap)
{
    size_t n = inst->module->nimports;
    if (kiln_bindings_check(inst->module, bindings, trap->message, sizeof trap->message) < 0) {
        trap->kind = KILN_TRAP_HOST;
        return -1;
    }
    if (n) memcpy(inst->bindings, bindings, n * sizeof *bindings);
    /* The instance's own memories, located once (usually one: no allocation). */
    wasm_rt_memory_t *few[4];
    unsigned nmem = inst->module->nmemories;
    init_args a = {inst, nmem <= 4 ? few : kiln_calloc(nmem, sizeof(wasm_rt_memory_t *))};
    if (!a.own_memories) {
        trap->kind = KILN_TRAP_HOST;
        snprintf(trap->message, sizeof trap->message, "out of memory");
        return -1;
    }
    inst->module->g_memories(inst->native, a.own_memories);
    inst->initialized = 1; /* even a failed init may hold memories to free */
    int rc = kiln_rt_call(instantiate_tramp, &a, trap);
    if (a.own_memories != few) kiln_free(a.own_memories);
    return rc;
}

void kiln_instance_free(kiln_instance *inst)
{
    if (!inst) return;
    if (inst->initialized) inst->module->g_free(inst->native);
    if (!inst->placed) kiln_free(inst);
}

long kiln_module_reactor_init(const kiln_module *m)
{
    if (kiln_module_export_index(m, "_start") >= 0) return -1;
    long i = kiln_module_export_index(m, "_initialize");
    const kiln_export_info *ex = i >= 0 ? kiln_module_export(m, (size_t)i) : NULL;
    return ex && ex->kind == KILN_EXTERN_FUNC && strcmp(ex->type, ":") == 0 ? i : -1;
}

int kiln_instance_reactor_initialize(kiln_instance *inst, kiln_trap *trap)
{
    long i = kiln_module_reactor_init(inst->module);
    kiln_val none[1];
    return i >= 0 ? kiln_instance_call(inst, i, none, trap) : 0;
}

kiln_module *kiln_instance_module(kiln_instance *inst)
{
    return inst->module;
}

void *kiln_instance_native(kiln_instance *inst)
{
    return inst->native;
}

typedef struct call_args {
    kiln_glue_call fn;
    void *native;
    kiln_val *vals;
} call_args;

static void call_tramp(void *arg)
{
    call_args *a = arg;
    a->fn(a->native, a->vals);
}

int kiln_instance_call(kiln_instance *inst, long idx, kiln_val *vals, kiln_trap *trap)
{
    return kiln_instance_call_timeout(inst, idx, vals, trap, 0);
}

int kiln_instance_call_timeout(kiln_instance *inst, long idx, kiln_val *vals, kiln_trap *trap,
                               uint64_t timeout_ns)
{
    return kiln_instance_call_budget(inst, idx, vals, trap, timeout_ns, 0);
}

int kiln_instance_call_budget(kiln_instance *inst, long idx, kiln_val *vals, kiln_trap *trap,
                              uint64_t timeout_ns, uint64_t slice_ns)
{
    kiln_module *m = inst->module;
    if (idx < 0 || (size_t)idx >= m->nexports || !m->g_calls[idx]) {
        trap->kind = KILN_TRAP_HOST;
        strcpy(trap->message, "no such exported function");
        return -1;
    }
    call_args a = {m->g_calls[idx], inst->native, vals};
    return kiln_rt_call_budget(call_tramp, &a, trap, timeout_ns, slice_ns);
}

void *kiln_instance_export_ptr(kiln_instance *inst, long idx)
{
    kiln_module *m = inst->module;
    if (idx < 0 || (size_t)idx >= m->nexports || m->exports[idx].kind == KILN_EXTERN_FUNC)
        return NULL;
    return ((void *(*)(void *))m->g_export_fns[idx])(inst->native);
}

uint64_t kiln_instance_own_memory_bytes(const kiln_instance *inst)
{
    const kiln_module *m = inst->module;
    uint64_t total = 0;
    for (unsigned i = 0; inst->initialized && i < m->nmemories; i++)
        total += ((const wasm_rt_memory_t *)((const char *)inst->native + m->mem_off[i]))->size;
    return total;
}

wasm_rt_memory_t *kiln_instance_memory(kiln_instance *inst, const char *name)
{
    long idx = kiln_module_export_index(inst->module, name);
    if (idx < 0 || inst->module->exports[idx].kind != KILN_EXTERN_MEMORY) return NULL;
    return kiln_instance_export_ptr(inst, idx);
}
