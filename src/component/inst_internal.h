/* inst_internal.h — the runtime model of a component instance (instance.h), shared by
 * load.c, link.c and lower.c.
 *
 * Every runtime index space holds void pointers, pushed in the order the validator pushed
 * the static entries (so static index i is runtime index i):
 *   core func, table, memory, global   ki_core*
 *   core module                        kiln_module*
 *   core instance                      ki_coreinst*
 *   core type                          NULL
 *   func                               ki_func*
 *   type                               ki_rtype* for resource types, NULL otherwise
 *   component                          ki_comp*
 *   instance                           ki_cinst*
 * Everything is allocated in the instance's arena and freed with it, index spaces and
 * type maps included: the graph an instantiation builds is the arena plus the core
 * instances, host contexts and handle tables it points to. An image (image.c) copies the
 * arena and moves its pointers; for that every arena item has a kind (ki_kind) telling
 * where its pointers are, and image.c's field lists (item_slots) must name every pointer
 * field of the structs below. Adding a pointer field here means adding it there. A copy
 * keeps only what those fields reach from its frames and core bindings, and its frames'
 * index spaces (sp) are empty: code that runs after instantiation must not read them
 * (resolve the item when linking, as lower.c and async_builtins.c do). */
#ifndef KILN_COMPONENT_INST_INTERNAL_H
#define KILN_COMPONENT_INST_INTERNAL_H

#include "component/host.h"
#include "component/instance.h"
#include "component/resources.h"

typedef struct ki_frame ki_frame;

/* What an arena item is (image.c finds its pointer fields by it). */
typedef enum ki_kind {
    KI_BYTES,    /* no pointers: strings, arrays of sorts */
    KI_PTRS,     /* an array of pointers (index spaces, names, items, type maps, frames) */
    KI_CORE,     /* ki_core */
    KI_COREINST, /* ki_coreinst */
    KI_FUNC,     /* ki_func */
    KI_CINST,    /* ki_cinst */
    KI_COMP,     /* ki_comp */
    KI_RTYPE,    /* ki_rtype */
    KI_FRAME,    /* ki_frame */
    KI_TRAMP,    /* ki_tramp (lower.c) */
    KI_BUILTIN,  /* ki_builtin (lower.c) */
    KI_ASYNC_BI  /* ka_bi (async_internal.h): an async built-in's context */
} ki_kind;

/* One arena item of an instance being recorded (the template of an image). */
typedef struct ki_rec {
    void *p;
    size_t size;
    ki_kind kind;
} ki_rec;

/* A core item: a function as a binding (guest export or host trampoline), or a memory,
 * table or global (b.ctx = its pointer). inst/idx: the guest export it is (NULL/-1 else).
 * Every binding is checked against the import's type at instantiation. */
typedef struct ki_core {
    kiln_extern_kind kind;
    kiln_binding b;
    kiln_instance *inst;
    long idx;
    const char *type; /* as the engine writes it: "ii:i", "mut i", "r 1 -", "1 2" */
} ki_core;

typedef struct ki_coreinst {
    kiln_instance *inst; /* a module's instance, or NULL: inline exports below */
    uint32_t n;
    const char **names;
    ki_core **items;
    uint32_t hint; /* where the next export lookup starts (link.c) */
} ki_coreinst;

/* A runtime resource type (resources.h): host-defined (the provider's destructor and
 * context) or defined by a component instance (its handle table, core destructor). */
typedef struct ki_rtype {
    kiln_resource_type rt;
} ki_rtype;

enum { KI_FUNC_HOST, KI_FUNC_LIFT };

/* A component function. */
typedef struct ki_func {
    int kind;
    const char *name; /* "wasi:io/streams@0.2.12#[method]output-stream.write", "run" */
    const kiln_ctype *type;
    ki_frame *frame; /* where it was defined (for resource types) */
    /* host */
    const kiln_chost_func *hf;
    void *hctx;
    /* lift */
    ki_core *core;
    wasm_rt_memory_t *memory;
    ki_core *realloc, *post_return;
    kiln_string_encoding enc;
    int async;         /* lifted with the async option (async.h) */
    ki_core *callback; /* … and this callback, or NULL (stackful) */
} ki_func;

/* The context of a canon lower trampoline (lower.c). */
typedef struct ki_tramp {
    kiln_component_instance *ci;
    ki_frame *frame; /* the component instance whose core code calls out */
    ki_func *callee;
    const kiln_ctype *type;
    wasm_rt_memory_t *memory;
    ki_core *realloc;
    kiln_string_encoding enc;
} ki_tramp;

/* The context of a resource built-in (lower.c). */
typedef struct ki_builtin {
    kiln_component_instance *ci;
    ki_frame *frame;
    ki_rtype *type;
} ki_builtin;

/* A component instance: named items. */
typedef struct ki_cinst {
    uint32_t n, cap;
    const char **names;
    kiln_csort *sorts;
    void **items;
} ki_cinst;

typedef struct ki_comp {
    const kiln_component *c;
    ki_frame *outer;
} ki_comp;

typedef struct ki_space {
    void **items;
    uint32_t n, cap;
} ki_space;

/* ctype -> runtime resource type, per frame. */
typedef struct ki_tmap {
    const kiln_ctype *t;
    ki_rtype *r;
} ki_tmap;

struct ki_frame {
    ki_frame *parent; /* the enclosing component's frame (outer aliases), NULL at the top */
    const kiln_component *c;
    ki_space sp[KILN_CSORT_COUNT];
    ki_cinst *exports;
    kiln_resources *res; /* this component instance's handle table */
    ki_tmap *tmap;
    uint32_t ntmap, captmap;
    int running;  /* lifted exports of this instance on the stack (calls of its own: a trap) */
    int no_leave; /* in a post-return: imports and built-ins trap (the spec's may_leave) */
};

typedef struct ki_provctx {
    const kiln_chost_provider *p;
    void *ctx;
    int deny; /* made from the instance's deny-all grants (a dependency's: compose.h) */
} ki_provctx;

struct kiln_loaded_component {
    char *name;
    uint8_t *bytes;
    size_t len;
    kiln_component *model;
    const kiln_cmodule **defs; /* module definitions … */
    kiln_module **modules;     /* … and their compiled modules */
    size_t nmodules;
    double compile_seconds;
    int cached;
    /* Dependencies (compose.h): instantiated before this component, each with its own
     * grants (dep_inherit[k]: the KILN_INHERIT_* sets it gets); links[i] satisfies the
     * import named link_import[i] with dependency link_dep[i]'s export link_export[i]. */
    struct kiln_loaded_component **deps;
    int *dep_inherit;
    size_t ndeps;
    char **link_import, **link_export;
    size_t *link_dep;
    size_t nlinks;
    int deny_self; /* KILN_INHERIT_* sets denied to this component (a middleware's) */
    int async;     /* uses the async ABI (async.h): its instances get a store */
};

struct kiln_component_instance {
    kiln_loaded_component *lc;
    const char *name;
    void **arena; /* every chunk of the instance's arena (ki_alloc) */
    size_t narena, caparena;
    char *bump; /* the free part of the current chunk */
    size_t bump_left;
    kiln_instance **cores; /* in creation order */
    size_t ncores, capcores;
    void *unit; /* an image's copy: its unit (image.c: the block its cores live in,
                 * its graph, arena[0], and this struct), or NULL */
    struct kiln_component_image *image; /* a whole copy's image: where the unit goes back */
    ki_provctx provs[16];
    size_t nprovs;
    ki_frame *top;
    ki_frame **frames; /* every frame (an arena array) */
    uint32_t nframes, capframes;
    int recording; /* the arena's items are listed in recs (image.c's template) */
    ki_rec *recs;
    size_t nrecs, caprecs;
    kiln_cabi_cx *cx;   /* for kiln_component_call (lower.c: from the thread's cache) */
    kiln_cabi_cx **cxs; /* contexts of the calls in progress (lower.c), reused */
    uint32_t depth, ncxs, capcxs;
    uint64_t timeout_ns;       /* of the host's call in progress (0: none) */
    kiln_err *err;             /* during instantiation */
    kiln_grants deny_g;        /* deny-all grants of dependencies that do not inherit (compose.h) */
    const kiln_grants *real_g; /* the instance's grants, during instantiation */
    /* Host resource types made so far (during instantiation): one runtime type per
     * interface resource and provider context, shared by every frame that imports it, so
     * that a handle passes between the components of a composition (compose.h). */
    struct ki_host_rt *hrt;
    size_t nhrt;
    struct ka_store *as; /* the async ABI's state (async.h), NULL when not used */
};

typedef struct ki_host_rt {
    const kiln_chost_iface *iface;
    long k;
    void *ctx;
    ki_rtype *r;
} ki_host_rt;

/* Fills d with the deny-all grants derived from g (stdio kept, nothing else). */
void ki_deny_grants(kiln_grants *d, const kiln_grants *g);
/* compose.c: whether a provider's context is shared by every component of a composition,
 * deny-all ones included (WASI 0.2 and wasi:http: their resources — streams, requests,
 * response-outparams — cross from one component to another); a deny-all component then
 * gets stubs for the functions that disclose the configuration (ki_deny_stub: the
 * environment, the preopens, outbound HTTP), NULL for the others. */
int ki_shared_provider(const kiln_chost_provider *p);
const kiln_chost_func *ki_deny_stub(const char *import_name, const char *func);

/* link.c: instantiates lc (every core instance initialized, start functions run); with
 * `recording`, every arena item is listed in ci->recs (for image.c). NULL with err. */
kiln_component_instance *ki_instantiate(kiln_loaded_component *lc, const kiln_grants *g,
                                        int recording, kiln_err *err);

/* image.c: a freed copy's unit (its core instances and everything that reads its graph
 * freed) back to its image, kept for the next copy or freed. */
void ki_image_unit_put(struct kiln_component_image *img, void *unit);

/* load.c: loads a component; with check_imports 0 its imports are not checked against
 * the host (compose.c checks the ones no dependency satisfies). NULL with err. */
kiln_loaded_component *ki_load(const char *name, const uint8_t *bytes, size_t len,
                               const kiln_compile_opts *opts, int check_imports, kiln_err *err);
/* load.c: the host check of one import of the outermost component (problems appended to
 * *msg); the number of problems, -1 out of memory. */
int ki_check_import(const kiln_component *c, const kiln_citem *im, char **msg);

/* Arena allocation (zeroed) of an item of that kind; NULL when out of memory. */
void *ki_alloc(kiln_component_instance *ci, size_t n, ki_kind kind);
char *ki_strdup(kiln_component_instance *ci, const char *s);

/* Runtime resource type of a static type, looking through enclosing frames; NULL if none. */
ki_rtype *ki_rtype_of(ki_frame *f, const kiln_ctype *t);
int ki_tmap_add(kiln_component_instance *ci, ki_frame *f, const kiln_ctype *t, ki_rtype *r);

/* lower.c: the core binding of `canon lower` of callee with options o; of the resource
 * built-ins; calling a lifted function (from the host or from a trampoline). */
ki_core *ki_lower(kiln_component_instance *ci, ki_frame *f, ki_func *callee, const kiln_ctype *type,
                  const kiln_canon_opts *o, kiln_err *err);
ki_core *ki_resource_builtin(kiln_component_instance *ci, ki_frame *f, uint8_t op,
                             const kiln_ctype *t, kiln_err *err);
/* Whether callee's instance may be entered from caller's (NULL: the host): always, as the
 * spec tests now have it, except an instance calling its own export while it runs. */
int ki_may_enter(const ki_frame *callee, const ki_frame *caller);
/* Calls a core function: a guest export, or a built-in or lowered function (a
 * KILN_BIND_HOST_VALS binding, run as a host section under kiln_rt_call). */
int ki_core_call(ki_core *core, kiln_val *vals, kiln_trap *trap, uint64_t timeout_ns);
/* ki_call_lifted without the async ABI's task (async.c runs a task's function with it). */
int ki_call_lifted_now(kiln_component_instance *ci, ki_func *fn, kiln_cabi_cx *caller_cx,
                       const kiln_cval *args, kiln_cval *results, kiln_trap *trap);
/* Sets up cx (not its arena) for these canon options of frame f, as calls do. */
void ki_cx_prepare(kiln_component_instance *ci, kiln_cabi_cx *cx, wasm_rt_memory_t *mem,
                   kiln_string_encoding enc, ki_core *realloc, ki_frame *f);
/* Gives n call contexts back to the thread's cache. */
void ki_cxs_give(kiln_cabi_cx **cxs, uint32_t n);
/* Gives the instance's call contexts back to the thread's cache (lower.c). */
void ki_cxs_release(kiln_component_instance *ci);
/* Calls a lifted function with component values: 0, or -1 with cx->err (and *trap when
 * the guest trapped). */
int ki_call_lifted(kiln_component_instance *ci, ki_func *fn, kiln_cabi_cx *caller_cx,
                   const kiln_cval *args, kiln_cval *results, kiln_trap *trap);

#endif
