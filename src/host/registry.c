/* registry.c — the host-API registry and per-instance host contexts (see registry.h). */
#include "host/registry.h"
#include "util/alloc.h"

#include <string.h>

#define MAX_APIS 32

/* The registry: the built-in APIs, then what kiln_host_register added. */
static const kiln_host_api *apis[MAX_APIS] = {&kiln_wasi_api};
static size_t napis = 1;

int kiln_grants_side_effects(const kiln_grants *g)
{
    if (g->nallowed_outbound_hosts || g->nkey_value_stores || g->nsqlite_databases) return 1;
    for (size_t i = 0; i < g->wasi.npreopens; i++)
        if (!g->wasi.preopens[i].readonly) return 1;
    return 0;
}

const char *const *kiln_grants_outbound(const kiln_grants *g, size_t *n)
{
    *n = g->allowed_outbound_hosts ? g->nallowed_outbound_hosts : 0;
    return *n ? g->allowed_outbound_hosts : NULL;
}

int kiln_host_register(const kiln_host_api *api)
{
    if (napis == MAX_APIS || kiln_host_find_api(api->module->name)) return -1;
    apis[napis++] = api;
    return 0;
}

const kiln_host_api *kiln_host_find_api(const char *module)
{
    for (size_t i = 0; i < napis; i++)
        if (strcmp(apis[i]->module->name, module) == 0) return apis[i];
    return NULL;
}

static kiln_fnptr resolve(void *ctx, const kiln_import *imp)
{
    (void)ctx;
    const kiln_host_api *api = kiln_host_find_api(imp->module);
    if (!api || imp->kind != KILN_EXTERN_FUNC) return NULL;
    const kiln_host_func *f = kiln_host_find(api->module, imp->name);
    return f && strcmp(f->signature, imp->type) == 0 ? f->fn : NULL;
}

static const kiln_linker registry_linker = {resolve, NULL};

const kiln_linker *kiln_hosts_linker(void)
{
    return &registry_linker;
}

/* The plan: for import i, api_of[i] indexes `used` (the distinct APIs the module uses). */
struct kiln_host_plan {
    const kiln_module *module;
    size_t nimports, nused;
    const kiln_host_api *used[MAX_APIS];
    unsigned char *api_of;
};

kiln_host_plan *kiln_host_plan_new(const kiln_module *m, kiln_err *err)
{
    kiln_host_plan *p = kiln_calloc(1, sizeof *p);
    size_t n = kiln_module_import_count(m);
    if (!p || !(p->api_of = kiln_calloc(n ? n : 1, 1))) {
        kiln_free(p);
        kiln_err_set(err, "out of memory");
        return NULL;
    }
    p->module = m;
    p->nimports = n;
    for (size_t i = 0; i < n; i++) {
        const kiln_import *imp = kiln_module_import(m, i);
        const kiln_host_api *api = kiln_host_find_api(imp->module);
        if (!api || imp->kind != KILN_EXTERN_FUNC || !kiln_module_import_fn(m, i)) {
            kiln_err_set(err, "import \"%s\" \"%s\" is not served by a host API", imp->module,
                         imp->name);
            kiln_host_plan_free(p);
            return NULL;
        }
        size_t k = 0;
        while (k < p->nused && p->used[k] != api)
            k++;
        if (k == p->nused) p->used[p->nused++] = api;
        p->api_of[i] = (unsigned char)k;
    }
    return p;
}

void kiln_host_plan_free(kiln_host_plan *p)
{
    if (!p) return;
    kiln_free(p->api_of);
    kiln_free(p);
}

struct kiln_hosts {
    const kiln_host_plan *plan;
    void *ctx[MAX_APIS]; /* per used API */
};

kiln_hosts *kiln_hosts_new(const kiln_host_plan *p, const kiln_grants *g, char **err)
{
    kiln_hosts *h = kiln_malloc(sizeof *h);
    if (!h) {
        *err = kiln_strdup("out of memory");
        return NULL;
    }
    h->plan = p;
    for (size_t k = 0; k < p->nused; k++) {
        h->ctx[k] = p->used[k]->ctx_new(g, err);
        if (!h->ctx[k]) {
            while (k-- > 0)
                p->used[k]->ctx_free(h->ctx[k]);
            kiln_free(h);
            return NULL;
        }
    }
    return h;
}

void kiln_hosts_bind(const kiln_hosts *h, kiln_binding *out)
{
    const kiln_host_plan *p = h->plan;
    for (size_t i = 0; i < p->nimports; i++)
        out[i] = (kiln_binding){kiln_module_import_fn(p->module, i), h->ctx[p->api_of[i]],
                                KILN_BIND_HOST};
}

void kiln_hosts_set_memory(kiln_hosts *h, wasm_rt_memory_t *mem)
{
    for (size_t k = 0; k < h->plan->nused; k++)
        if (h->plan->used[k]->ctx_set_memory) h->plan->used[k]->ctx_set_memory(h->ctx[k], mem);
}

void *kiln_hosts_ctx(const kiln_hosts *h, const char *module)
{
    for (size_t k = 0; k < h->plan->nused; k++)
        if (strcmp(h->plan->used[k]->module->name, module) == 0) return h->ctx[k];
    return NULL;
}

void kiln_hosts_free(kiln_hosts *h)
{
    if (!h) return;
    for (size_t k = 0; k < h->plan->nused; k++)
        h->plan->used[k]->ctx_free(h->ctx[k]);
    kiln_free(h);
}
