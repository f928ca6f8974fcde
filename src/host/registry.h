/* registry.h — the host APIs that Kiln provides to guests, registered in one place.
 *
 * A host API serves one core-module import namespace (today `wasi_snapshot_preview1`;
 * next the WASI 0.2 interfaces, outbound HTTP, key-value, variables) with its functions,
 * and makes a per-instance context from what the instance is granted (kiln_grants: the
 * manifest's grants for its component plus what the runner gives it, such as a WAGI
 * request's stdin and stdout). Every runner of guests links through here — the WAGI
 * executor, `kiln run`, `kiln compile`, the benchmarks — instead of keeping a list of
 * its own:
 *
 *   load (once):    m = kiln_module_load_file(path, &opts, kiln_hosts_linker(), &err);
 *                   plan = kiln_host_plan_new(m, &err);   // which API serves each import
 *   per instance:   kiln_hosts *h = kiln_hosts_new(plan, &grants, &err);
 *                   kiln_hosts_bind(h, bindings);         // one kiln_binding per import
 *                   inst = kiln_image_instantiate(img, bindings);  (or kiln_instance_init)
 *                   kiln_hosts_set_memory(h, kiln_instance_memory(inst, "memory"));
 *                   ... run ...; kiln_instance_free(inst); kiln_hosts_free(h);
 *
 * Deny by default: an API makes its context from the grants only; what is not granted is
 * absent (or refused inside the guest). Imports no registered API serves are refused at
 * load, before anything is compiled, one line per missing import. */
#ifndef KILN_HOST_REGISTRY_H
#define KILN_HOST_REGISTRY_H

#include <stddef.h>

#include "engine/engine.h"
#include "host/wasi.h"

/* What one instance is given. Strings and arrays are borrowed for the duration of the
 * context constructor (contexts copy what they keep). */
typedef struct kiln_grants {
    const char *component; /* for log lines; may be NULL */
    kiln_wasi_config wasi; /* args, environment, preopened directories, stdio */
    /* Grants of host APIs still to come (counted so runners can tell whether a guest
     * may have effects outside its instance; see kiln_grants_side_effects). */
    size_t nallowed_outbound_hosts, nkey_value_stores, nsqlite_databases;
    /* allowed_outbound_hosts entries (Spin's syntax, templates resolved),
     * nallowed_outbound_hosts of them (NULL: none). */
    const char *const *allowed_outbound_hosts;
    /* 1 (`kiln run`, like wasmtime's -Sinherit-network): a tcp:// grant naming an address
     * also lets wasi:sockets bind and listen there; 0 (apps under `kiln up`): explicit TCP
     * binds are denied whatever the grants say, as in Spin. */
    int allow_tcp_bind;
} kiln_grants;

/* The allowed_outbound_hosts of an instance with grants g; *n of them (0: none, deny
 * everything). Valid for the grants' life. */
const char *const *kiln_grants_outbound(const kiln_grants *g, size_t *n);

/* 1 if a guest with these grants can change anything outside its own instance (so that
 * running it twice is not the same as running it once): outbound network, stores,
 * databases, or a writable preopen. */
int kiln_grants_side_effects(const kiln_grants *g);

typedef struct kiln_host_api {
    const kiln_host_module *module; /* import namespace and functions */
    /* Makes the context of one instance; NULL with *err (owned by the caller, kiln_free)
     * on failure. */
    void *(*ctx_new)(const kiln_grants *g, char **err);
    void (*ctx_free)(void *ctx);
    /* Tells the context which memory guest pointers refer to (may be NULL: none). */
    void (*ctx_set_memory)(void *ctx, wasm_rt_memory_t *mem);
} kiln_host_api;

/* Adds an API to the registry (at startup, before modules load; not thread-safe with
 * loads). The built-in APIs are always there. 0, or -1 when the name is taken or the
 * registry is full. */
int kiln_host_register(const kiln_host_api *api);
/* The registered API serving an import namespace, or NULL. */
const kiln_host_api *kiln_host_find_api(const char *module);
/* The load-time linker over every registered API (functions, signatures checked). */
const kiln_linker *kiln_hosts_linker(void);

/* Which API serves each import of a loaded module: made once per module. */
typedef struct kiln_host_plan kiln_host_plan;
kiln_host_plan *kiln_host_plan_new(const kiln_module *m, kiln_err *err);
void kiln_host_plan_free(kiln_host_plan *p);

/* The host contexts of one instance. */
typedef struct kiln_hosts kiln_hosts;
kiln_hosts *kiln_hosts_new(const kiln_host_plan *p, const kiln_grants *g, char **err);
/* Fills one binding per import of the plan's module (kiln_module_import order). */
void kiln_hosts_bind(const kiln_hosts *h, kiln_binding *out);
void kiln_hosts_set_memory(kiln_hosts *h, wasm_rt_memory_t *mem);
/* The context of the API serving `module` in this instance (NULL if none). */
void *kiln_hosts_ctx(const kiln_hosts *h, const char *module);
void kiln_hosts_free(kiln_hosts *h);

#endif
