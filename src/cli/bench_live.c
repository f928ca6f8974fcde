/* bench_live.c — N live instances of a component at once (see bench_live.h). */
#include "cli/bench_live.h"
#include "cli/cli.h"
#include "component/instance.h"
#include "engine/engine.h"
#include "engine/runtime.h"
#include "exec/http/serve.h"
#include "host/registry.h"
#include "util/alloc.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* VmRSS + VmPTE of this process in KiB (-1 when unreadable). */
static long host_kib(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f) return -1;
    char line[256];
    long total = 0, v;
    int seen = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &v) == 1 || sscanf(line, "VmPTE: %ld", &v) == 1) {
            total += v;
            seen++;
        }
    fclose(f);
    return seen == 2 ? total : -1;
}

/* Records the measure once the instances are made (alive of them, since t0 and kib0). */
static void finish(kiln_bench_live *out, size_t alive, double t0, long kib0)
{
    out->seconds = mono_s() - t0;
    out->alive = alive;
    long kib = host_kib();
    out->kib_per_inst =
        alive && kib0 >= 0 && kib >= kib0 ? (double)(kib - kib0) / (double)alive : 0;
}

/* A wasi:http (or any) component: copies of its image, as kiln up's requests get. */
static int live_component(const char *id, const char *path, kiln_tier tier, size_t n,
                          kiln_bench_live *out, char *err, size_t cap)
{
    kiln_compile_opts opts = {.tier = tier};
    char *e = NULL;
    kiln_http_component *c = kiln_http_component_load_any(id, path, &opts, 1, &e);
    if (c) {
        c->stdout_fd = c->stderr_fd = -1;
        if (kiln_http_component_prepare(c, 0, &e) < 0) {
            kiln_http_component_free(c);
            c = NULL;
        }
    }
    kiln_component_instance **ci = c ? kiln_calloc(n, sizeof *ci) : NULL;
    if (!ci) {
        snprintf(err, cap, "%s", e ? e : "out of memory");
        kiln_free(e);
        kiln_http_component_free(c);
        return -1;
    }
    long kib0 = host_kib();
    double t0 = mono_s();
    size_t alive = 0;
    kiln_err ke;
    while (alive < n && (ci[alive] = kiln_http_component_instantiate(c, &ke)) != NULL)
        alive++;
    finish(out, alive, t0, kib0);
    if (alive < n) snprintf(err, cap, "instance %zu: %s", alive + 1, ke.msg);
    for (size_t i = 0; i < alive; i++)
        kiln_component_instance_free(ci[i]);
    kiln_free(ci);
    kiln_http_component_free(c);
    return alive == n ? 0 : -1;
}

/* A core module: instances from its image, each with its own host contexts. */
static int live_module(const char *path, kiln_tier tier, size_t n, kiln_bench_live *out, char *err,
                       size_t cap)
{
    kiln_compile_opts opts = {.tier = tier};
    kiln_err ke = {0};
    kiln_trap trap;
    kiln_module *m = kiln_module_load_file(path, &opts, kiln_hosts_linker(), &ke);
    kiln_host_plan *plan = m ? kiln_host_plan_new(m, &ke) : NULL;
    const char *args[] = {"bench"};
    kiln_grants g = {
        .wasi = {.argc = 1, .argv = args, .stdio = {{.fd = -1}, {.fd = -1}, {.fd = -1}}}};
    size_t nimp = m ? kiln_module_import_count(m) : 0;
    kiln_binding *b = plan ? kiln_calloc(nimp + 1, sizeof *b) : NULL;
    kiln_hosts **hs = b ? kiln_calloc(n, sizeof *hs) : NULL;
    kiln_instance **insts = hs ? kiln_calloc(n, sizeof *insts) : NULL;
    char *herr = NULL;
    kiln_hosts *h0 = insts ? kiln_hosts_new(plan, &g, &herr) : NULL;
    if (h0) kiln_hosts_bind(h0, b);
    kiln_image *img = h0 ? kiln_image_new(m, b, &trap, &ke) : NULL;
    int rc = -1;
    if (!img) {
        snprintf(err, cap, "%s", herr ? herr : ke.msg[0] ? ke.msg : "out of memory");
        goto out;
    }
    long kib0 = host_kib();
    double t0 = mono_s();
    size_t alive = 0;
    while (alive < n) {
        if (!(hs[alive] = kiln_hosts_new(plan, &g, &herr))) break;
        kiln_hosts_bind(hs[alive], b);
        if (!(insts[alive] = kiln_image_instantiate(img, b))) {
            kiln_hosts_free(hs[alive]);
            break;
        }
        kiln_hosts_set_memory(hs[alive], kiln_instance_memory(insts[alive], "memory"));
        alive++;
    }
    finish(out, alive, t0, kib0);
    if (alive < n) snprintf(err, cap, "instance %zu could not be made", alive + 1);
    for (size_t i = 0; i < alive; i++) {
        kiln_instance_free(insts[i]);
        kiln_hosts_free(hs[i]);
    }
    rc = alive == n ? 0 : -1;
out:
    kiln_free(herr);
    kiln_image_free(img);
    kiln_hosts_free(h0);
    kiln_free(insts);
    kiln_free(hs);
    kiln_free(b);
    kiln_host_plan_free(plan);
    kiln_module_free(m);
    return rc;
}

int kiln_bench_live_run(const char *id, const char *wasm_path, kiln_tier tier, size_t n,
                        unsigned max_memory_mib, kiln_bench_live *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    err[0] = '\0';
    if (kiln_rt_init() < 0) {
        snprintf(err, cap, "cannot initialize the Wasm runtime");
        return -1;
    }
    kiln_rt_set_memory_limit_pages(max_memory_mib * 16);
    return kiln_cli_is_component_file(wasm_path)
               ? live_component(id, wasm_path, tier, n, out, err, cap)
               : live_module(wasm_path, tier, n, out, err, cap);
}
