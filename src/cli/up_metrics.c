/* up_metrics.c — the metrics and admin listener of `kiln up` (see up_metrics.h). */
#include "cli/up_metrics.h"
#include "component/instance.h"
#include "engine/runtime.h"
#include "host/spin/kv_sink.h"
#include "host/wasihttp/settings.h"

#include "util/buf.h"

#include <stdio.h>
#include <string.h>

char *kiln_up_bench_path(const char *manifest_dir, const char *state_dir)
{
    kiln_buf b = KILN_BUF_INIT;
    int rc;
    if (!state_dir)
        rc = kiln_buf_printf(&b, "%s/.kiln/bench.json", manifest_dir);
    else if (!*state_dir)
        return NULL;
    else
        rc = kiln_buf_printf(&b, "%s/bench.json", state_dir);
    if (rc < 0) {
        kiln_buf_free(&b);
        return NULL;
    }
    return kiln_buf_steal(&b);
}

int kiln_up_admin_start(const char *addr, int allow_public, const char *bench_path,
                        kiln_metrics **metrics, kiln_admin **admin)
{
    kiln_metrics *mt = kiln_metrics_new();
    int rc = mt ? 0 : -1;
    /* every kind the engine names; a timeout (interrupted) is counted on its own */
    for (int k = KILN_TRAP_NONE + 1; rc == 0; k++) {
        const char *name = kiln_trap_kind_name((kiln_trap_kind)k);
        if (strcmp(name, "unknown") == 0) break;
        if (k != KILN_TRAP_INTERRUPTED && k != KILN_TRAP_BUDGET)
            rc = kiln_metrics_add_trap_kind(mt, name) < 0 ? -1 : 0;
    }
    if (rc < 0) {
        fprintf(stderr, "error: out of memory\n");
        kiln_metrics_free(mt);
        return -1;
    }
    char url[128];
    kiln_admin *a = kiln_admin_start(addr, allow_public, mt, bench_path, url, sizeof url);
    if (!a) {
        kiln_metrics_free(mt);
        return -1;
    }
    printf("Admin %s (/metrics, /healthz, /readyz)\nDashboard %s/\n", url, url);
    fflush(stdout);
    *metrics = mt;
    *admin = a;
    return 0;
}

static size_t slots_used(void *slots)
{
    return kiln_slots_used(slots);
}

static void pool_slots(size_t *in_use, size_t *free_slots)
{
    kiln_rt_pool_stats ps;
    kiln_rt_pool_stats_get(&ps);
    *in_use = ps.reservations > ps.free ? ps.reservations - ps.free : 0;
    *free_slots = ps.free;
}

static size_t queue_depth(void *executor)
{
    kiln_executor_stats st;
    kiln_executor_stats_get(executor, &st);
    return st.queued;
}

static void outbound_done(void *mt, const char *component, const char *host, int status,
                          const char *error, uint64_t duration_ns)
{
    kiln_metrics_outbound(mt, component, host, status, error, duration_ns);
}

static void kv_done(void *mt, const char *component, const char *store, const char *op, int ok,
                    uint64_t duration_ns)
{
    kiln_metrics_kv(mt, component, store, op, ok, duration_ns);
}

void kiln_up_metrics_detach(void)
{
    kiln_wasihttp_set_outbound_sink(NULL, NULL);
    kiln_spin_set_kv_sink(NULL, NULL);
}

void kiln_up_metrics_seal(kiln_metrics *mt, size_t ncomp, kiln_wagi_component **loaded,
                          kiln_http_component **http, kiln_slots *slots, size_t capacity,
                          kiln_executor *executor)
{
    if (!mt) return;
    kiln_metrics_set_instances(mt, capacity, slots_used, slots);
    if (executor) kiln_metrics_set_queue(mt, queue_depth, executor);
    kiln_metrics_set_pool(mt, pool_slots);
    kiln_metrics_seal(mt);
    kiln_wasihttp_set_outbound_sink(outbound_done, mt);
    kiln_spin_set_kv_sink(kv_done, mt);
    for (size_t i = 0; i < ncomp; i++) {
        if (loaded && loaded[i]) {
            const kiln_module *mod = loaded[i]->module;
            kiln_metrics_set_tier(mt, (int)i, kiln_tier_name(kiln_wagi_component_tier(loaded[i])),
                                  kiln_module_was_cached(mod) ? 0
                                                              : kiln_module_compile_seconds(mod));
        } else if (http && http[i]) {
            const kiln_loaded_component *lc = atomic_load(&http[i]->current)->lc;
            kiln_metrics_set_tier(
                mt, (int)i, kiln_tier_name(kiln_component_tier(lc)),
                kiln_component_was_cached(lc) ? 0 : kiln_component_compile_seconds(lc));
        }
    }
}

static size_t trigger_add(void *ctx, const char *name, size_t ci, const char *id)
{
    int ix = kiln_metrics_add_route(ctx, name, (int)ci, id);
    return ix > 0 ? (size_t)ix : 0;
}

static void trigger_done(void *ctx, size_t ix, int fault, const char *trap_kind, int64_t start_ns)
{
    kiln_metrics_request r = {0};
    r.route = ix;
    r.fault = fault;
    r.trap_kind = trap_kind;
    r.start_ns = start_ns;
    kiln_metrics_record(ctx, &r);
}

const kiln_trigger_observer *kiln_up_metrics_triggers(kiln_metrics *mt)
{
    static kiln_trigger_observer o; /* one registry per process */
    if (!mt) return NULL;
    o = (kiln_trigger_observer){trigger_add, trigger_done, mt};
    return &o;
}
