/* engine.h — Kiln's engine: a .wasm file in, native code and instances out.
 *
 * Layers (one file each): wasm_reader.c decodes and checks the module's structure;
 * module.c matches its imports against a kiln_linker (host APIs: host/registry.h;
 * refused before any compiling, one line per missing import); codegen.c runs wasm2c and adds Kiln's
 * glue; compiler.c builds a shared object with libtcc (fast tier) or cc -O2 (opt tier); cache.c
 * keeps the results on disk, content-addressed; module.c loads them with dlopen; instance.c creates
 * instances and calls exports; runtime.c is the wasm-rt.h runtime.
 *
 * Errors: functions return 0 / NULL on failure and write one human-readable line into
 * a kiln_err (the file name first, then the problem). */
#ifndef KILN_ENGINE_ENGINE_H
#define KILN_ENGINE_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <wasm-rt.h>

#include "engine/host.h"
#include "engine/runtime.h"

typedef struct kiln_err {
    char msg[1024];
} kiln_err;
void kiln_err_set(kiln_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Names for messages: a signature letter ('i' -> "i32", 'r' -> "funcref"; see host.h) and
 * an extern kind ("func", "table", "memory", "global"; "tag" for anything else). */
const char *kiln_valtype_name(char letter);
const char *kiln_extern_kind_name(kiln_extern_kind k);

typedef enum kiln_tier { KILN_TIER_AUTO = 0, KILN_TIER_FAST, KILN_TIER_OPT } kiln_tier;
const char *kiln_tier_name(kiln_tier t);
int kiln_tier_parse(const char *s, kiln_tier *out);

/* A value crossing the host/guest boundary (arguments and results of exports). */
typedef union kiln_val {
    uint32_t i32;
    uint64_t i64;
    float f32;
    double f64;
    wasm_rt_funcref_t funcref;
    wasm_rt_externref_t externref;
} kiln_val;

/* One import of a module, as declared. */
typedef struct kiln_import {
    const char *module, *name;
    kiln_extern_kind kind;
    const char *type; /* functions: "iiii:i"; globals: "i" / "mut i"; memory/table: limits */
} kiln_import;

/* Checks one import at load time: returns the function that serves it (functions), any
 * non-NULL value for a memory/table/global the resolver will provide, or NULL when it
 * cannot be provided (the engine then lists it as missing; nothing is compiled).
 * `type` must be checked by the resolver. What the function is called with is decided
 * per instance, by its bindings (below). */
typedef kiln_fnptr (*kiln_resolve_fn)(void *resolver_ctx, const kiln_import *imp);

typedef struct kiln_linker {
    kiln_resolve_fn resolve;
    void *ctx;
} kiln_linker;

/* How a function binding is called (kiln_binding.kind). */
enum {
    /* A host function with the import's own C signature: fn(ctx, args...) -> result,
     * inside a host section (the watchdog waits for it to return, runtime.h). */
    KILN_BIND_HOST = 0,
    /* Guest code: another instance's exported function (kiln_module_export_fn) called
     * as fn(native, args...) with that instance's kiln_instance_native; not a host
     * section, so the watchdog can still interrupt it. */
    KILN_BIND_GUEST = 1,
    /* A generic host function: fn(ctx, kiln_val *vals) gets the arguments in
     * vals[0..nparams) and writes the results to vals[0..nresults) (the array has room
     * for both); a host section. What the component model's canon lower and resource
     * built-ins use, whatever the core signature. */
    KILN_BIND_HOST_VALS = 2,
};
typedef void (*kiln_host_vals_fn)(void *ctx, kiln_val *vals);

/* What one import of one instance is bound to, chosen when the instance is made:
 *  - a function: fn and ctx, called as `kind` says (KILN_BIND_*).
 *  - a memory, table or global: ctx points at the wasm_rt_memory_t, the table or the
 *    global's value; fn and kind are unused.
 * The engine copies an instance's bindings into the instance: the array passed in need
 * not outlive the call. There are no process-wide import tables: two instances of one
 * module may bind the same import to different functions and contexts. */
typedef struct kiln_binding {
    kiln_fnptr fn;
    void *ctx;
    uintptr_t kind; /* KILN_BIND_*: the layout matches the generated glue's */
} kiln_binding;

typedef struct kiln_compile_opts {
    kiln_tier tier;                /* AUTO: an opt build if cached, else fast */
    const char *cache_dir;         /* NULL: $KILN_CACHE_DIR, $XDG_CACHE_HOME/kiln, ~/.cache/kiln */
    int verbose;                   /* log compile steps and timings to stderr */
    kiln_mem_checks memory_checks; /* the compile variant (runtime.h); AUTO: see there */
} kiln_compile_opts;

typedef struct kiln_module kiln_module;
typedef struct kiln_instance kiln_instance;

/* Reads, validates, links, compiles (or finds in the cache) and loads a module.
 * The module is shared and immutable after load; it is thread-safe to instantiate. */
kiln_module *kiln_module_load_file(const char *path, const kiln_compile_opts *opts,
                                   const kiln_linker *linker, kiln_err *err);
kiln_module *kiln_module_load_bytes(const char *name, const uint8_t *bytes, size_t len,
                                    const kiln_compile_opts *opts, const kiln_linker *linker,
                                    kiln_err *err);
void kiln_module_free(kiln_module *m);

kiln_tier kiln_module_tier(const kiln_module *m);                /* the tier actually loaded */
kiln_mem_checks kiln_module_memory_checks(const kiln_module *m); /* its variant */
int kiln_module_was_cached(const kiln_module *m);                /* 1 if no compile was needed */
double kiln_module_compile_seconds(const kiln_module *m);

/* The module's imports in declaration order (the order of an instance's bindings), and
 * what the load-time linker resolved each to (for memories, tables and globals: the
 * resolver's own value, e.g. an accessor). */
size_t kiln_module_import_count(const kiln_module *m);
const kiln_import *kiln_module_import(const kiln_module *m, size_t i);
kiln_fnptr kiln_module_import_fn(const kiln_module *m, size_t i);

/* Exports. */
typedef struct kiln_export_info {
    const char *name; /* may contain NUL: name_len is authoritative */
    size_t name_len;
    kiln_extern_kind kind;
    const char *type; /* functions: "ij:f"; globals: "i" or "mut i"; tables: "r 1 -"
                       * (element type, min, max or -); memories: "1 2" */
} kiln_export_info;
size_t kiln_module_export_count(const kiln_module *m);
const kiln_export_info *kiln_module_export(const kiln_module *m, size_t i);
/* Index of an export by name, or -1 (the _n form for names that contain NUL). */
long kiln_module_export_index(const kiln_module *m, const char *name);
long kiln_module_export_index_n(const kiln_module *m, const char *name, size_t len);

/* The WASI application ABI's reactor initializer: the export index of `_initialize` (a
 * function without parameters or results) when the module is a reactor, i.e. has no
 * `_start`; -1 otherwise. A reactor's `_initialize` runs once, before any other export
 * (images run it before their snapshot). */
long kiln_module_reactor_init(const kiln_module *m);
/* Runs the reactor's `_initialize` on an initialized instance (nothing for a command).
 * 0, or -1 with *trap filled (a proc_exit in it is a trap of kind EXIT, as for calls). */
int kiln_instance_reactor_initialize(kiln_instance *inst, kiln_trap *trap);

/* Creating an instance is two steps so that host contexts can learn the instance's
 * memory before its start function runs:
 *  1. kiln_instance_alloc: zeroed instance, nothing run; exports of memories/tables/
 *     globals can be located already (their storage is inside the instance);
 *  2. kiln_instance_init: copies the bindings (one per import, kiln_module_import order),
 *     runs data/elem initialization and the start function, under trap protection.
 *     Returns 0, or -1 with *trap filled. */
kiln_instance *kiln_instance_alloc(kiln_module *m);
int kiln_instance_init(kiln_instance *inst, const kiln_binding *bindings, kiln_trap *trap);
void kiln_instance_free(kiln_instance *inst);

kiln_module *kiln_instance_module(kiln_instance *inst);
/* The native instance struct (what generated functions take as their first argument). */
void *kiln_instance_native(kiln_instance *inst);

/* Calls an exported function. `vals` holds the arguments on entry and the results on
 * return (size: max(params, results)). Returns 0, or -1 with *trap filled. */
int kiln_instance_call(kiln_instance *inst, long export_index, kiln_val *vals, kiln_trap *trap);
/* The same with a time limit (0: none): past it the guest stops with
 * KILN_TRAP_INTERRUPTED, also when it waits in a host function such as poll_oneoff. */
int kiln_instance_call_timeout(kiln_instance *inst, long export_index, kiln_val *vals,
                               kiln_trap *trap, uint64_t timeout_ns);
/* The same with a budget per running slice as well (kiln_rt_call_budget): past it the
 * guest stops with KILN_TRAP_BUDGET; time parked on a fiber counts against the timeout. */
int kiln_instance_call_budget(kiln_instance *inst, long export_index, kiln_val *vals,
                              kiln_trap *trap, uint64_t timeout_ns, uint64_t slice_ns);

/* Accessors for exported memories, tables and globals (NULL if not such an export). */
wasm_rt_memory_t *kiln_instance_memory(kiln_instance *inst, const char *name);
/* The bytes of the linear memories the instance defines (not those it imports), now. */
uint64_t kiln_instance_own_memory_bytes(const kiln_instance *inst);
void *kiln_instance_export_ptr(kiln_instance *inst, long export_index);

/* The function an export resolves to, for linking one instance's exports into another
 * module's imports (what the spec tests' `register` does). */
kiln_fnptr kiln_module_export_fn(const kiln_module *m, long export_index);

/* Images: a component instantiated once (data, elements, start function) and kept, so
 * that each request's instance is a copy made in microseconds (see image.c).
 * kiln_image_new runs the initialization with `bindings` (as kiln_instance_init); NULL
 * with *trap / *err filled on failure. kiln_image_instantiate makes a fresh instance with
 * its own bindings (no guest code runs); free it with kiln_instance_free. Thread-safe.
 * kiln_image_free requires all its instances to be freed first. */
typedef struct kiln_image kiln_image;
kiln_image *kiln_image_new(kiln_module *m, const kiln_binding *bindings, kiln_trap *trap,
                           kiln_err *err);
kiln_instance *kiln_image_instantiate(kiln_image *img, const kiln_binding *bindings);
void kiln_image_free(kiln_image *img);
/* Prepares memory slots for n instances alive at once ahead of need, so that the first
 * requests map nothing either (slots are otherwise made on first need and kept). */
int kiln_image_reserve(kiln_image *img, size_t n);

/* Cache location actually used for these options (for messages and tests). */
int kiln_cache_dir(const kiln_compile_opts *opts, char *out, size_t outlen);

#endif
