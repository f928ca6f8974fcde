/* module_internal.h — the kiln_module struct, shared by module.c and instance.c only. */
#ifndef KILN_ENGINE_MODULE_INTERNAL_H
#define KILN_ENGINE_MODULE_INTERNAL_H

#include "engine/engine.h"

typedef void (*kiln_glue_call)(void *native, kiln_val *vals);

struct kiln_module {
    void *dl; /* dlopen handle of the compiled entry */
    kiln_tier tier;
    int cached;
    double compile_seconds;
    size_t instance_size; /* sizeof the wasm2c instance struct */
    size_t nimport_modules;
    const char *const *import_modules; /* inside the shared object */
    kiln_fnptr *import_fns;            /* per import, from the linker */
    size_t nexports;
    kiln_export_info *exports;
    void (*g_init_module)(void);
    void (*g_instantiate)(void *native, void **ctxs);
    void (*g_free)(void *native);
    const kiln_glue_call *g_calls;  /* per export; NULL for non-functions */
    const kiln_fnptr *g_export_fns; /* per export: function or accessor */
    /* image support (image.c) */
    unsigned nmemories, nfuncref_tables, nexternref_tables;
    void (*g_memories)(void *native, wasm_rt_memory_t **out);
    void (*g_funcref_tables)(void *native, wasm_rt_funcref_table_t **out);
    void (*g_externref_tables)(void *native, wasm_rt_externref_table_t **out);
    void (*g_rebind)(void *native, void **ctxs);
};

struct kiln_instance {
    kiln_module *module;
    int initialized;
    void *native; /* the wasm2c instance struct, right after this header */
};

/* Allocates an instance without zeroing the native struct (the caller fills it). */
kiln_instance *kiln_instance_alloc_raw(kiln_module *m);

#endif
