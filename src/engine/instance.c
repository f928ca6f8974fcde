/* instance.c — instances of a loaded module: create, call exports, free (engine.h). */
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

static kiln_instance *alloc_block(kiln_module *m, int zero)
{
    size_t size = bindings_offset(m) + m->nimports * sizeof(kiln_binding);
    kiln_instance *inst = zero ? kiln_calloc(1, size) : kiln_malloc(size);
    if (!inst) return NULL;
    inst->module = m;
    inst->initialized = 0;
    inst->native = (char *)inst + INSTANCE_HEAD;
    inst->bindings = (kiln_binding *)((char *)inst + bindings_offset(m));
    inst->alloc_size = size;
    return inst;
}

kiln_instance *kiln_instance_alloc(kiln_module *m)
{
    return alloc_block(m, 1);
}

kiln_instance *kiln_instance_alloc_raw(kiln_module *m, const kiln_binding *bindings)
{
    kiln_instance *inst = alloc_block(m, 0);
    if (!inst) return NULL;
    if (bindings)
        memcpy(inst->bindings, bindings, m->nimports * sizeof *bindings);
    else
        memset(inst->bindings, 0, m->nimports * sizeof *bindings);
    return inst;
}

static void instantiate_tramp(void *arg)
{
    kiln_instance *inst = arg;
    inst->module->g_instantiate(inst->native, inst->bindings);
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
    inst->initialized = 1; /* even a failed init may hold memories to free */
    return kiln_rt_call(instantiate_tramp, inst, trap);
}

void kiln_instance_free(kiln_instance *inst)
{
    if (!inst) return;
    if (inst->initialized) inst->module->g_free(inst->native);
    kiln_free(inst);
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

wasm_rt_memory_t *kiln_instance_memory(kiln_instance *inst, const char *name)
{
    long idx = kiln_module_export_index(inst->module, name);
    if (idx < 0 || inst->module->exports[idx].kind != KILN_EXTERN_MEMORY) return NULL;
    return kiln_instance_export_ptr(inst, idx);
}
