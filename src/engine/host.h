/* host.h — how host modules (WASI, Kiln's APIs, the spec tests' "spectest") plug into
 * the engine.
 *
 * Generated code calls an imported function as fn(ctx, args...), where ctx is the
 * context pointer given for the function's *import module* when the instance is created
 * (one pointer per import module name, e.g. a kiln_wasi* for "wasi_snapshot_preview1").
 * Value types map to C as: i32 -> uint32_t, i64 -> uint64_t, f32 -> float, f64 -> double.
 *
 * A host function is described by its wasm signature string: parameter letters, ':',
 * result letters, with i = i32, j = i64, f = f32, d = f64, r = funcref, e = externref.
 * Example: fd_write(i32, i32, i32, i32) -> i32 is "iiii:i"; proc_exit(i32) is "i:".
 *
 * Imports of globals, memories and tables are "accessor" functions: ctx -> pointer to the
 * global's value / the wasm_rt_memory_t / the table. */
#ifndef KILN_ENGINE_HOST_H
#define KILN_ENGINE_HOST_H

#include <stddef.h>

typedef enum kiln_extern_kind {
    KILN_EXTERN_FUNC = 0,
    KILN_EXTERN_TABLE = 1,
    KILN_EXTERN_MEMORY = 2,
    KILN_EXTERN_GLOBAL = 3,
} kiln_extern_kind;

typedef void (*kiln_fnptr)(void);

typedef struct kiln_host_func {
    const char *name;      /* field name, e.g. "fd_write" */
    const char *signature; /* e.g. "iiii:i" */
    kiln_fnptr fn;         /* cast from the real C function */
} kiln_host_func;

typedef struct kiln_host_module {
    const char *name; /* import module name, e.g. "wasi_snapshot_preview1" */
    const kiln_host_func *funcs;
    size_t nfuncs;
} kiln_host_module;

/* Finds a function by name in a host module; NULL if absent. */
const kiln_host_func *kiln_host_find(const kiln_host_module *m, const char *name);

#endif
