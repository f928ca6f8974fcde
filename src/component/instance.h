/* instance.h — loading, instantiating and calling WebAssembly components.
 *
 * Design. A component is loaded once (load.c): read and validated (reader.h), every
 * import checked against the component host registry (host.h) — refused with one line per
 * missing interface, function or resource before anything is compiled — then every
 * embedded core module, at any nesting depth, compiled through the engine (both tiers, the
 * cache) with a linker that accepts every import: what a core import is bound to is decided
 * per instance, from the component's definitions.
 *
 * Instantiation (link.c) replays the definitions in binary order (once per image: image.c),
 * building the runtime index spaces exactly as the validator built the static ones: core instances
 * from modules (each import bound per kiln_binding: another core instance's export as guest code,
 * memories, tables and globals by pointer — the preview1 adapter imports the main module's
 * memory, a fixup module fills a shim's funcref table) or from inline exports; aliases
 * (core export, export, outer); canon lift (a component function = core function +
 * options); canon lower (lower.c: a KILN_BIND_HOST_VALS trampoline that lifts the guest's
 * arguments, calls the host function or the other instance's lifted function, and lowers
 * the results); canon resource.new/drop/rep (built-ins); nested components (instantiated
 * recursively, their imports from the parent's index spaces); imports of the outermost
 * component (host instances from the registry, one provider context per instance from the
 * kiln_grants); exports.
 *
 * Guest code always runs under the engine's trap protection. A trap anywhere — in guest
 * code, in lifting or lowering (a hostile component lying about a string's length,
 * returning an out-of-bounds pointer, forging a handle), in a host function — comes back
 * as an error naming the component and the function, never a crash.
 *
 * Threads: a loaded component may be instantiated from several threads; an instance is
 * used by one thread at a time. */
#ifndef KILN_COMPONENT_INSTANCE_H
#define KILN_COMPONENT_INSTANCE_H

#include <stddef.h>
#include <stdint.h>

#include "component/cabi.h"
#include "component/types.h"
#include "engine/engine.h"
#include "host/registry.h"

typedef struct kiln_loaded_component kiln_loaded_component;
typedef struct kiln_component_instance kiln_component_instance;

/* Reads, validates, checks the imports of and compiles a component (bytes are copied).
 * `name` names it in messages. NULL with err filled on failure. */
kiln_loaded_component *kiln_component_load(const char *name, const uint8_t *bytes, size_t len,
                                           const kiln_compile_opts *opts, kiln_err *err);
kiln_loaded_component *kiln_component_load_file(const char *path, const kiln_compile_opts *opts,
                                                kiln_err *err);
void kiln_component_unload(kiln_loaded_component *lc);

/* Loads the component file at path with the dependencies of spec (compose.h: resolved,
 * loaded, their exports checked against the imports they satisfy); `id` names it in
 * messages. Without dependencies, kiln_component_load_file. NULL with err. */
struct kiln_compose_spec;
kiln_loaded_component *kiln_component_load_composed(const char *id, const char *path,
                                                    const struct kiln_compose_spec *spec,
                                                    const kiln_compile_opts *opts, kiln_err *err);
/* The same component graph as lc (its dependencies, links and grants) compiled again
 * with opts (the optimized tier), from the bytes lc was loaded from: the files are not
 * read again, so a file changed since cannot put a different component in. NULL with
 * err. */
kiln_loaded_component *kiln_component_reload(const kiln_loaded_component *lc,
                                             const kiln_compile_opts *opts, kiln_err *err);

/* The validated model, and compile facts: number of core modules, whether all came from
 * the cache, the total compile time, the tier actually loaded (of the first module). */
const kiln_component *kiln_component_model(const kiln_loaded_component *lc);
size_t kiln_component_module_count(const kiln_loaded_component *lc);
int kiln_component_was_cached(const kiln_loaded_component *lc);
double kiln_component_compile_seconds(const kiln_loaded_component *lc);
kiln_tier kiln_component_tier(const kiln_loaded_component *lc);

/* Makes an instance: host contexts from the grants, then every definition in order (core
 * start functions run here). NULL with err filled (a trap: "NAME: instantiating: ..."). */
kiln_component_instance *kiln_component_instantiate(kiln_loaded_component *lc, const kiln_grants *g,
                                                    kiln_err *err);
void kiln_component_instance_free(kiln_component_instance *ci);

/* Images (image.c): a component instantiated once — every core instance initialized,
 * start functions run, the adapter's and shims' tables filled — and kept whole: its core
 * instances as snapshots (memories, shared ones included, globals, tables) and the graph
 * the instantiation built (index spaces, trampolines, lifted functions, resource types,
 * nested components' frames). Each instance made from it is a copy: no definition is
 * replayed and no guest code runs; the graph's pointers and the funcrefs that point into
 * any core instance of the template are moved to the copy's. Handle tables are copies of
 * the template's (the handles its initialization made: wasi-libc's preopen descriptors);
 * host contexts are made from the copy's grants g: by the provider's ctx_clone of the
 * template's context when it has one (the same host resources under the same reps,
 * reopened from g: host.h), else fresh (ctx_new). Free a copy with
 * kiln_component_instance_free. The image is made with grants g (the template's host
 * contexts are freed with it, or with the image for providers that clone them).
 * kiln_component_image_new fails (err) when the template holds something it cannot copy:
 * a handle of a provider without ctx_clone, state its provider's ctx_clone refuses, a
 * borrow, or two providers sharing one context; callers then instantiate per request.
 * kiln_component_image_free requires its instances to be freed first. An image may be
 * instantiated from several threads. */
typedef struct kiln_component_image kiln_component_image;
kiln_component_image *kiln_component_image_new(kiln_loaded_component *lc, const kiln_grants *g,
                                               kiln_err *err);
kiln_component_instance *kiln_component_image_instantiate(kiln_component_image *img,
                                                          const kiln_grants *g, kiln_err *err);
void kiln_component_image_free(kiln_component_image *img);
/* Memory slots for n instances alive at once, made ahead (0, or -1). */
int kiln_component_image_reserve(kiln_component_image *img, size_t n);
/* What each copy of the image copies of the component's graph (image.c): its bytes and
 * the pointer slots it moves (component-bench prints them). */
void kiln_component_image_graph_size(const kiln_component_image *img, size_t *bytes, size_t *slots);
/* How many freed copies' units (their core instances and graph) the image keeps for its
 * next copies (image.c: a copy in such a unit rewrites only what differs between copies). */
size_t kiln_component_image_pooled(kiln_component_image *img);

/* An exported function: `name` is a function export of the component ("run"), or
 * "IFACE#FUNC" for a function of an exported instance, where IFACE matches the export's
 * name with a semver-compatible version ("wasi:cli/run@0.2.0#run" finds
 * "wasi:cli/run@0.2.12"'s run). NULL if there is none. */
typedef struct kiln_component_func kiln_component_func;
const kiln_component_func *kiln_component_find_func(kiln_component_instance *ci, const char *name);
/* The function's validated type (KILN_CT_FUNC). */
const kiln_ctype *kiln_component_func_type(const kiln_component_func *f);
/* The linear memories the core instances define (each once), in bytes now (for the
 * metrics' guest memory). */
uint64_t kiln_component_memory_bytes(kiln_component_instance *ci);

/* Calls an exported function with arguments args[0..nparams) (as kiln_cval, cabi.h);
 * writes its result (if any) into results[0] (byte lists as str, like host functions:
 * host.h). Result values live in the instance until
 * the next call. Returns 0, or -1 with *trap filled: KILN_TRAP_EXIT (wasi:cli/exit:
 * trap->exit_code) or a trap with a message naming the component and the function. */
int kiln_component_call(kiln_component_instance *ci, const kiln_component_func *f,
                        const kiln_cval *args, kiln_cval *results, kiln_trap *trap);

/* The same with a time limit (0: none): past it the call stops with KILN_TRAP_INTERRUPTED,
 * wherever it is — in any of the component's core instances or in a host function. */
int kiln_component_call_timeout(kiln_component_instance *ci, const kiln_component_func *f,
                                const kiln_cval *args, kiln_cval *results, kiln_trap *trap,
                                uint64_t timeout_ns);

/* After a call of an async instance returned (its task resolved): goes on running the
 * instance's guest threads and due host calls (a task that streams a body after
 * task.return) until done(arg) holds or nothing can progress, within timeout_ns (0:
 * none). 1 when done(arg) held, 0 when nothing could progress, -1 with *trap (the
 * instance then refuses calls). An instance without the async ABI: done(arg) at once. */
int kiln_component_drive(kiln_component_instance *ci, int (*done)(void *), void *arg,
                         kiln_trap *trap, uint64_t timeout_ns);

/* The host's wait for something outside an async instance (a request body arriving
 * from the connection). When no guest thread can run and no host call is due, the
 * driver asks wants(arg); when it holds, the driver leaves the guests where they are,
 * goes back to the thread that called into the instance (kiln_component_call_timeout or
 * kiln_component_drive: on a server request, the request's fiber, where a wait parks
 * the fiber and lets the event loop run) and calls wait(arg, until_ns) there: it waits
 * until the host has something for the guests (then wakes their streams) or until_ns
 * (CLOCK_MONOTONIC: the earliest due host call or the time limit; UINT64_MAX none), and
 * returns 0 (drive on) or -1 (the instance traps with a host error). Then the driver
 * runs on. wants runs on the driver's thread while the caller waits for it, so it may
 * read what wait writes. Without it (or when wants does not hold) a wait nothing can
 * complete is a deadlock, as before. wait may also return 1 under kiln_component_drive:
 * the host takes the store back (another request needs it), and the drive returns 0 (a
 * call treats 1 as 0). idle is copied; a no-op without the async ABI. */
typedef struct kiln_component_idle {
    int (*wants)(void *arg);
    int (*wait)(void *arg, uint64_t until_ns);
    void *arg;
} kiln_component_idle;
void kiln_component_set_idle(kiln_component_instance *ci, const kiln_component_idle *idle);

/* Calls in flight together (Spin's concurrent instance reuse: several wasi:http 0.3
 * requests served by one instance, each a call of its async handle export, interleaving
 * where the guest waits). kiln_component_call_start makes the call's task and queues its
 * thread, without running guest code: the next kiln_component_drive (by whoever drives
 * the store) starts it, and runs the threads of every call in flight until its own
 * condition holds — kiln_component_call_done(call) for the caller waiting for its
 * task. The args (and what they point to) must live until the call is done; the results
 * (kiln_component_call_result, NULL when the store failed) live in the call's own arena
 * until kiln_component_call_end, which frees it (a call ended before it was done fails
 * the store: its results would go nowhere). Only for functions of an async type on an
 * instance with the async ABI that has not failed, with nothing running; NULL otherwise
 * or when out of memory. A trap in any call fails the store: every call in flight is
 * then done, with no result. The store stays single-threaded: the caller makes sure only
 * one of start, drive, done, end (and the host contexts' calls) runs at a time. */
typedef struct kiln_component_async_call kiln_component_async_call;
kiln_component_async_call *kiln_component_call_start(kiln_component_instance *ci,
                                                     const kiln_component_func *f,
                                                     const kiln_cval *args, void *tag);
/* The tag given to kiln_component_call_start of the call whose guest code runs now (a
 * host function's way to know which of the calls in flight it serves: the tasks a call's
 * guest code starts inherit its tag); NULL outside guest code or for other calls. */
void *kiln_component_call_tag(kiln_component_instance *ci);
int kiln_component_call_done(void *call);
/* Whether a drive would run something now: 0 when a guest thread is ready, a host call is
 * due or the store failed; else when the earliest pending host call comes due
 * (CLOCK_MONOTONIC; UINT64_MAX: none) — the host may wait for it (or its own input)
 * without a trip through the driver. */
uint64_t kiln_component_ready(kiln_component_instance *ci);
const kiln_cval *kiln_component_call_result(const kiln_component_async_call *call);
void kiln_component_call_end(kiln_component_async_call *call);

/* The provider context an instance uses for a provider (NULL if it has none). */
void *kiln_component_host_ctx(kiln_component_instance *ci, const char *provider_name);

#endif
