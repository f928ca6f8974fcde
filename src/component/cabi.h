/* cabi.h — the Canonical ABI (component-model design/mvp/CanonicalABI.md): component
 * values to and from core values and linear memory.
 *
 * This is the contract between the canonical ABI (cabi.c, resources.c) and its users:
 * instantiation (canon lower / canon lift trampolines) and the hosts of component
 * interfaces (WASI 0.2, wasi:http, …), which see arguments and results as kiln_cval trees.
 *
 * Values (kiln_cval). What a value holds depends on its type (a validated kiln_ctype, whose
 * size/align/flat the reader computed):
 *   bool                  u (0 or 1)
 *   s8 s16 s32 s64        s (sign-extended)
 *   u8 u16 u32 u64        u
 *   f32 f64               f32 / f64 (NaNs canonicalised on lift and lower)
 *   char                  u (a Unicode scalar value)
 *   string                str: UTF-8 bytes (not NUL-terminated; transcoded from/to the
 *                         guest's encoding: utf8, utf16, latin1+utf16)
 *   list<T>, fixed list   agg: n elements (list<u8>, list<s8> with cx->compact_bytes:
 *                         str, the bytes)
 *   map<K, V>             agg: n entries, each an agg of 2 items (key, value)
 *   record, tuple         agg: one item per field, in order
 *   variant               var: case index, payload (NULL when the case has none)
 *   enum                  var.disc
 *   option<T>             var: 0 none, 1 some(payload)
 *   result<T, E>          var: 0 ok(payload or NULL), 1 error(payload or NULL)
 *   flags                 flags: ceil(n/32) words, bit i of word i/32 = label i (bits
 *                         past the labels are ignored on lower, cleared on lift). In
 *                         memory: 1..32 labels as u8/u16/u32 by count (current spec);
 *                         more as ceil(n/32) u32 words (earlier spec, wasm-tools'
 *                         more-flags; the reader refuses > 32 labels)
 *   own<R>, borrow<R>     res: the resource's representation (rep) and its type: lifting
 *                         takes the handle out of (own) or looks it up in and lends it
 *                         for the current call (borrow) in the guest's handle table;
 *                         lowering puts a new handle in (borrow: one that must be dropped
 *                         before the call ends; see resources.h for call scopes). The
 *                         static resource type (a KILN_CT_RESOURCE kiln_ctype) is mapped to
 *                         the instance's runtime type by cx->resource_type; a lowered
 *                         value's res.type, when set, must be that type
 *   stream, future        shared: the ends' shared state (async.h; only with its hooks)
 *   error-context         shared: the error context (async.h; only with the same hooks)
 * All memory a lift allocates (strings, lists, payloads) comes from the kiln_cabi_cx's
 * arena and lives until kiln_cabi_cx_reset / _free: a call's values die with the call.
 * The arena is bounded (cx->max_arena, default KILN_CABI_DEFAULT_MAX_ARENA): lists whose
 * elements alias the same guest memory (a list of 2^25 lists each pointing at the same
 * 256 MiB) would otherwise make a small guest allocate without bound; past the limit a
 * lift fails like a trap.
 *
 * Errors. Every rule the specification makes a trap (invalid UTF-8 / UTF-16 / char /
 * discriminant (bool > 1 is fine on lift: nonzero = true), out-of-bounds or misaligned
 * pointer, string or list of more than 2^28-1 bytes, realloc returning a bad pointer, a
 * handle of the wrong type, dropping a lent handle, a borrow outliving its call, …) makes
 * the function return -1 with a one-line reason in cx->err. So do host values that do not
 * match their type (invalid UTF-8 in a string, a char that is not a scalar value, a case
 * index out of range, a missing payload, a record/fixed list of the wrong length): what
 * the spec asserts the host never does. Realloc is called only through cx->realloc, with
 * the spec's sizes (strings: the initial and worst-case sizes of each transcoding, then a
 * shrinking realloc); guest memory is re-read after each call (it may grow). NaNs are
 * canonicalised both ways (the spec's deterministic profile). Nothing here unwinds: the
 * caller, running inside guest code, turns the error into a trap (kiln_rt_trap_host). That
 * keeps this file testable without guests. The exceptions are the guest code called from
 * here — cx->realloc, and guest resource destructors (resources.h) — which may trap and
 * unwind through these functions: the state stays consistent (lifted values are arena
 * memory, freed by the next reset; a dropped handle is out of its table before its
 * destructor runs). The canon options' may_leave rule (no import calls from inside
 * realloc) is the caller's to enforce.
 *
 * Flattening (CanonicalABI.md "flatten_functype"): at most 16 flat parameters
 * (MAX_FLAT_PARAMS) — beyond that the parameters go to memory and one i32 pointer is passed;
 * at most 1 flat result (MAX_FLAT_RESULTS) — beyond that: for `lift` the core function
 * returns an i32 pointer to the results; for `lower` the caller passes an i32 return
 * pointer as the last core parameter and the results are stored there. */
#ifndef KILN_COMPONENT_CABI_H
#define KILN_COMPONENT_CABI_H

#include <stddef.h>
#include <stdint.h>
#include <wasm-rt.h>

#include "component/types.h"
#include "engine/engine.h"

#define KILN_CABI_MAX_FLAT_PARAMS 16
#define KILN_CABI_MAX_FLAT_RESULTS 1
#define KILN_CABI_DEFAULT_MAX_ARENA ((size_t)256 << 20)

typedef struct kiln_cval kiln_cval;
typedef struct kiln_resource_type kiln_resource_type; /* resources.h */

struct kiln_cval {
    union {
        uint64_t u;
        int64_t s;
        float f32;
        double f64;
        struct {
            char *ptr;
            size_t len;
        } str;
        struct {
            kiln_cval *items;
            uint32_t n;
        } agg;
        struct {
            uint32_t disc;
            kiln_cval *payload;
        } var;
        uint32_t *flags;
        struct {
            uint32_t rep;
            const kiln_resource_type *type;
        } res;
        void *shared; /* stream, future: the shared state of the ends (async.h) */
    };
};

/* A guest's cabi_realloc (or another realloc named by the canon options): called as
 * guest code. Returns the new pointer. */
typedef uint32_t (*kiln_cabi_realloc_fn)(void *native, uint32_t old_ptr, uint32_t old_size,
                                         uint32_t align, uint32_t new_size);

typedef struct kiln_resources kiln_resources; /* resources.h: handle tables */

/* Maps a static resource type (KILN_CT_RESOURCE, as own/borrow's elem.type) to this
 * instance's runtime resource type, or NULL when unknown (then lifting/lowering fails). */
typedef const kiln_resource_type *(*kiln_cabi_resource_fn)(void *ctx, const kiln_ctype *resource);

/* The context of one lift or lower: the canon options in force and where values live. */
typedef struct kiln_cabi_cx {
    wasm_rt_memory_t *memory;            /* NULL: the options named none */
    kiln_string_encoding enc;            /* of the guest side */
    kiln_cabi_realloc_fn realloc;        /* NULL: none named */
    void *realloc_ctx;                   /* the realloc's instance (its native struct) */
    kiln_resources *resources;           /* the guest's handle tables */
    kiln_cabi_resource_fn resource_type; /* NULL: no own/borrow can pass */
    void *resource_ctx;                  /* resource_type's first argument */
    struct kiln_cabi_arena *arena;       /* values lifted by this context */
    size_t max_arena;                    /* arena limit in bytes (0: the default) */
    int compact_bytes;                   /* list<u8>/list<s8> as str (see above) */
    /* stream<T>, future<T> (the async ABI, async.h): lift takes readable end `handle` out
     * of the guest's table into v->shared, lower adds a readable end for v->shared. NULL:
     * such values are refused. async_ctx is theirs. */
    int (*async_lift)(struct kiln_cabi_cx *cx, const kiln_ctype *t, uint32_t handle, kiln_cval *v);
    int (*async_lower)(struct kiln_cabi_cx *cx, const kiln_ctype *t, const kiln_cval *v,
                       uint32_t *handle);
    void *async_ctx;
    char err[256]; /* why the last call failed */
} kiln_cabi_cx;

/* Sets up / empties / frees a context's arena (the other fields are the caller's). */
int kiln_cabi_cx_init(kiln_cabi_cx *cx);
void kiln_cabi_cx_reset(kiln_cabi_cx *cx);
void kiln_cabi_cx_free(kiln_cabi_cx *cx);
/* Memory from the context's arena (for hosts building result values), or NULL. */
void *kiln_cabi_alloc(kiln_cabi_cx *cx, size_t n);

/* The core signature of a component function type as the engine writes signatures
 * ("iij:i"), for `lift` (the core function a component exports) or `lower` (the core
 * function a component imports: with the return pointer parameter when results spill).
 * Writes into out (size cap); 0, or -1 when it does not fit. */
int kiln_cabi_core_sig(const kiln_ctype *functype, int lower, char *out, size_t cap);

/* Component-level call boundary, lower side (a guest calls a component function through
 * `canon lower`): lifts the guest's core arguments (core[0..n) as the core signature
 * says; with spilled params, core[0] is the pointer) into params[0..nparams). */
int kiln_cabi_lift_args(kiln_cabi_cx *cx, const kiln_ctype *functype, const kiln_val *core,
                        kiln_cval *params);
/* The same with another limit of flat parameters (the async ABI's lower: 4). */
int kiln_cabi_lift_args_max(kiln_cabi_cx *cx, const kiln_ctype *functype, const kiln_val *core,
                            kiln_cval *params, uint32_t max_flat);
/* Loads value v of type t from ptr in the guest's memory (range and alignment checked;
 * handles are taken out of cx's table as for arguments): stream elements (async.h). */
int kiln_cabi_load_value(kiln_cabi_cx *cx, const kiln_ctype *t, uint32_t ptr, kiln_cval *v);
/* Stores value v of type t at ptr in the guest's memory (range and alignment checked):
 * the async ABI's results, always passed in memory. */
int kiln_cabi_store_value(kiln_cabi_cx *cx, const kiln_ctype *t, const kiln_cval *v, uint32_t ptr);
/* … and lowers the callee's results into the guest: with at most one flat result into
 * core[0]; otherwise stored at the return pointer `retptr` (the last core argument). */
int kiln_cabi_lower_results(kiln_cabi_cx *cx, const kiln_ctype *functype, const kiln_cval *results,
                            kiln_val *core, uint32_t retptr);

/* Lift side (the host calls a guest's exported function through `canon lift`): lowers
 * params into core arguments core[0..n) (spilling to memory allocated with realloc when
 * there are more than 16 flat values; core has room for KILN_CABI_MAX_FLAT_PARAMS), then
 * after the call lifts the core results (one flat value in core[0], or core[0] the pointer
 * to them, checked for alignment and bounds) into results.
 * Borrows: the caller brackets the call with kiln_resources_call_begin/_end on the
 * callee's table (lift side) or the caller's table (lower side: lends end with the call);
 * _end fails when a borrow handle given to the guest was not dropped. */
int kiln_cabi_lower_args(kiln_cabi_cx *cx, const kiln_ctype *functype, const kiln_cval *params,
                         kiln_val *core, size_t *ncore);
int kiln_cabi_lift_results(kiln_cabi_cx *cx, const kiln_ctype *functype, const kiln_val *core,
                           kiln_cval *results);

/* Single values, for tests and hosts: load/store a value of type t at ptr in cx->memory
 * (ptr checked: aligned, in bounds), and lift/lower its flat form (flat[0..t->flat)). */
int kiln_cabi_load(kiln_cabi_cx *cx, const kiln_ctype *t, uint32_t ptr, kiln_cval *out);
int kiln_cabi_store(kiln_cabi_cx *cx, const kiln_ctype *t, const kiln_cval *v, uint32_t ptr);
int kiln_cabi_lift_flat(kiln_cabi_cx *cx, const kiln_ctype *t, const kiln_val *flat,
                        kiln_cval *out);
int kiln_cabi_lower_flat(kiln_cabi_cx *cx, const kiln_ctype *t, const kiln_cval *v, kiln_val *flat);

#endif
