/* instantiate_bench.c — in-process instantiation latency (make bench, issue "cold starts").
 *
 *   instantiate-bench [--tier T] [--checks guard|bounds] [--max-memory MIB] [--iterations N]
 *                     [--export NAME] [--live N] FILE.wasm
 *
 * Measures, per iteration: a fresh WASI context + an instance from the component's image
 * + a call of the empty export NAME (default "noop") + release of both. Prints P50, P99,
 * mean in microseconds, and the same for plain instantiation without an image (what a
 * runtime without images pays: fresh memory + data segments) for comparison, and with a
 * time limit armed (the watchdog's cost on the request path). --live N also keeps N
 * instances alive at once (each with its WASI context, its export called once) and
 * reports the time to create them and the host memory each one costs: resident memory
 * plus page tables (VmRSS and VmPTE of /proc/self/status). --iterations 0 skips the
 * latency passes. --checks selects the compile variant (codegen.h); --max-memory caps
 * each instance's linear memory as `kiln up --max-instance-memory` does (default there
 * 128 MiB; here none unless given), which sizes the bounds variant's reservations. */
#include "engine/engine.h"
#include "host/registry.h"
#include "util/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* A "Name:   N kB" line of /proc/self/status, in KiB (-1 if absent). */
static long status_kib(const char *name)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(name);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, n) == 0 && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += t[i];
    printf("%-34s p50 %8.2f us   p99 %8.2f us   mean %8.2f us   (n=%d)\n", what, t[n / 2],
           t[(int)(n * 0.99)], sum / n, n);
}

int main(int argc, char **argv)
{
    kiln_compile_opts opts = {.tier = KILN_TIER_AUTO};
    int iters = 20000, live = 0;
    unsigned long max_mib = 0;
    int live_failed = 0;
    const char *export_name = "noop", *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tier") == 0 && i + 1 < argc)
            kiln_tier_parse(argv[++i], &opts.tier);
        else if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
            iters = atoi(argv[++i]);
        else if (strcmp(argv[i], "--live") == 0 && i + 1 < argc)
            live = atoi(argv[++i]);
        else if (strcmp(argv[i], "--checks") == 0 && i + 1 < argc) {
            if (kiln_mem_checks_parse(argv[++i], &opts.memory_checks) < 0) {
                fprintf(stderr, "error: --checks: guard, bounds or auto\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--max-memory") == 0 && i + 1 < argc)
            max_mib = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--export") == 0 && i + 1 < argc)
            export_name = argv[++i];
        else
            path = argv[i];
    }
    if (!path || iters < 0 || max_mib > 4096) {
        fprintf(stderr, "usage: instantiate-bench [--tier T] [--checks guard|bounds] "
                        "[--max-memory MIB] [--iterations N] [--export NAME] [--live N] "
                        "FILE.wasm\n");
        return 2;
    }
    /* Like kiln up's workers: the limit applies to memories made by this thread. */
    if (max_mib) kiln_rt_set_memory_limit_pages((uint32_t)(max_mib * 16));
    kiln_err err;
    kiln_module *m = kiln_module_load_file(path, &opts, kiln_hosts_linker(), &err);
    kiln_host_plan *plan = m ? kiln_host_plan_new(m, &err) : NULL;
    if (!plan) {
        fprintf(stderr, "error: %s\n", err.msg);
        return 1;
    }
    long ex = kiln_module_export_index(m, export_name);
    if (ex < 0) {
        fprintf(stderr, "error: %s: no export %s\n", path, export_name);
        return 1;
    }
    const char *args[] = {"bench"};
    kiln_grants g = {
        .wasi = {.argc = 1, .argv = args, .stdio = {{.fd = -1}, {.fd = -1}, {.fd = -1}}}};
    char *herr = NULL;
    kiln_hosts *h0 = kiln_hosts_new(plan, &g, &herr);
    size_t nimp = kiln_module_import_count(m);
    kiln_binding b[64];
    if (!h0 || nimp > 64) return 1;
    kiln_hosts_bind(h0, b);
    kiln_trap trap;
    kiln_image *img = kiln_image_new(m, b, &trap, &err);
    if (!img) {
        fprintf(stderr, "error: %s\n", err.msg);
        return 1;
    }
    double *t = kiln_malloc((size_t)(iters ? iters : 1) * sizeof *t);
    if (!t) return 1;
    printf("%s (%s tier, %s variant)\n", path, kiln_tier_name(kiln_module_tier(m)),
           kiln_mem_checks_name(kiln_mem_checks_resolve(opts.memory_checks)));
    for (int pass = 0; pass < 3 && iters > 0; pass++) {
        for (int i = 0; i < iters; i++) {
            double t0 = now_us();
            kiln_hosts *h = kiln_hosts_new(plan, &g, &herr);
            if (!h) {
                fprintf(stderr, "error: host contexts failed\n");
                return 1;
            }
            kiln_hosts_bind(h, b);
            kiln_instance *inst;
            if (pass != 1) {
                inst = kiln_image_instantiate(img, b);
            } else {
                inst = kiln_instance_alloc(m);
                if (inst) {
                    kiln_hosts_set_memory(h, kiln_instance_memory(inst, "memory"));
                    kiln_instance_init(inst, b, &trap);
                }
            }
            if (!inst) {
                fprintf(stderr, "error: instantiation failed\n");
                return 1;
            }
            kiln_hosts_set_memory(h, kiln_instance_memory(inst, "memory"));
            kiln_val vals[4];
            uint64_t limit = pass == 2 ? 30000000000ull : 0; /* 30 s, armed, never reached */
            if (kiln_instance_call_timeout(inst, ex, vals, &trap, limit) < 0 &&
                trap.kind != KILN_TRAP_EXIT) {
                fprintf(stderr, "error: %s trapped: %s\n", export_name, kiln_trap_message(&trap));
                return 1;
            }
            kiln_instance_free(inst);
            kiln_hosts_free(h);
            t[i] = now_us() - t0;
        }
        report(pass == 0   ? "image instance + call + release"
               : pass == 1 ? "no image (alloc + init) + call"
                           : "image + call with a time limit armed",
               t, iters);
    }
    if (live > 0) {
        kiln_instance **insts = kiln_calloc((size_t)live, sizeof *insts);
        kiln_hosts **hs = kiln_calloc((size_t)live, sizeof *hs);
        if (!insts || !hs) return 1;
        long rss0 = status_kib("VmRSS"), pte0 = status_kib("VmPTE");
        double t0 = now_us();
        for (int i = 0; i < live; i++) {
            hs[i] = kiln_hosts_new(plan, &g, &herr);
            if (hs[i]) kiln_hosts_bind(hs[i], b);
            insts[i] = hs[i] ? kiln_image_instantiate(img, b) : NULL;
            if (!insts[i]) { /* report what was reached, then fail */
                fprintf(stderr, "error: instance %d failed (%d alive)\n", i + 1, i);
                kiln_hosts_free(hs[i]);
                hs[i] = NULL;
                live = i;
                live_failed = 1;
                break;
            }
            kiln_hosts_set_memory(hs[i], kiln_instance_memory(insts[i], "memory"));
            kiln_val vals[4];
            kiln_instance_call(insts[i], ex, vals, &trap);
        }
        double secs = (now_us() - t0) / 1e6;
        long rss = status_kib("VmRSS") - rss0, pte = status_kib("VmPTE") - pte0;
        if (live == 0) live = 1; /* nothing alive: avoid dividing by zero */
        printf("%-34s %d alive at once, created in %.2f s (%.1f us each)\n", "live instances", live,
               secs, secs * 1e6 / live);
        printf("%-34s %.1f KiB per live instance: RSS %.1f KiB + page tables %.1f KiB "
               "(RSS +%ld KiB, VmPTE +%ld KiB)\n",
               "host memory", (double)(rss + pte) / live, (double)rss / live, (double)pte / live,
               rss, pte);
        for (int i = 0; i < live; i++) {
            kiln_instance_free(insts[i]);
            kiln_hosts_free(hs[i]);
        }
        kiln_free(insts);
        kiln_free(hs);
    }
    kiln_free(t);
    kiln_image_free(img);
    kiln_hosts_free(h0);
    kiln_host_plan_free(plan);
    kiln_module_free(m);
    return live_failed;
}
