/* module_internal.h — the kiln_module struct, shared by module.c and instance.c only. */
#ifndef KILN_ENGINE_MODULE_INTERNAL_H
#define KILN_ENGINE_MODULE_INTERNAL_H

#include "engine/consts.h"
#include "engine/engine.h"

typedef void (*kiln_glue_call)(void *native, kiln_val *vals);

struct kiln_module {
    void *dl; /* dlopen handle of the compiled entry */
    kiln_tier tier;
    kiln_mem_checks checks; /* the compile variant loaded */
    int cached;
    double compile_seconds;
    size_t instance_size; /* sizeof the wasm2c instance struct */
    size_t nimports;
    kiln_import *imports;   /* declared imports (strings owned) */
    kiln_fnptr *import_fns; /* per import: what the load-time linker resolved */
    size_t nexports;
    kiln_export_info *exports;
    void (*g_init_module)(void);
    void (*g_instantiate)(void *native, kiln_binding *bindings);
    void (*g_free)(void *native);
    const kiln_glue_call *g_calls;  /* per export; NULL for non-functions */
    const kiln_fnptr *g_export_fns; /* per export: function or accessor */
    /* image support (image.c) */
    unsigned nmemories, nfuncref_tables, nexternref_tables;
    void (*g_memories)(void *native, wasm_rt_memory_t **out);
    void (*g_funcref_tables)(void *native, wasm_rt_funcref_table_t **out);
    const unsigned char *g_funcref_private; /* per funcref table: 1 when no other module
                                             * reaches it (an image may share it) */
    void (*g_externref_tables)(void *native, wasm_rt_externref_table_t **out);
    void (*g_rebind)(void *native, kiln_binding *bindings);
    /* Byte offsets in the native struct of the instance's own memories, funcref and
     * externref tables (what g_memories etc. return, asked once at load: a copy of a
     * component's 14 cores would otherwise call 42 accessors in 14 shared objects, none
     * of them in the caches after a request's guest code ran). */
    size_t *mem_off, *ft_off, *et_off;
    /* Kiln's part of instantiation (consts.h): what wasm2c's instantiate leaves out */
    kiln_init_plan *plan;
    const size_t *g_global_offsets; /* per global index; SIZE_MAX for imported ones */
    void (*g_start)(void *native);
    void (*g_elem_init)(void *native, unsigned k, uint32_t offset);
};

/* An instance is one allocation: this header, the wasm2c instance struct (`native`), then
 * its bindings (one per import). Generated code reaches the bindings through the import
 * module pointers in the native struct, which all point at `bindings`. */
struct kiln_instance {
    kiln_module *module;
    int initialized;
    int placed;             /* built in a block it does not own (kiln_instance_place) */
    void *native;           /* the wasm2c instance struct, right after this header */
    kiln_binding *bindings; /* m->nimports of them, after the native struct */
    size_t alloc_size;      /* of the whole block (image.c rebases pointers into it) */
};

/* Allocates an instance without zeroing the native struct (the caller fills it). The
 * bindings are copied in (NULL: left zero). */
kiln_instance *kiln_instance_alloc_raw(kiln_module *m, const kiln_binding *bindings);

/* The size of an instance block of m (header, native struct, bindings; a multiple of
 * 16), and an instance built in `at` (that many bytes, 16-aligned, owned by the caller,
 * which frees it after kiln_instance_free): as kiln_instance_alloc_raw otherwise, but
 * NULL bindings are left as the caller wrote them, at kiln_instance_place_bindings(m,
 * at). A set of instances copied together lives in one block (component images). */
size_t kiln_instance_block_size(const kiln_module *m);
kiln_instance *kiln_instance_place(kiln_module *m, void *at, const kiln_binding *bindings);
kiln_binding *kiln_instance_place_bindings(const kiln_module *m, void *at);

/* 0 if every import has a binding (a function for functions, a pointer for the rest);
 * else -1 with the first unbound import named in msg. */
int kiln_bindings_check(const kiln_module *m, const kiln_binding *b, char *msg, size_t len);

#endif
