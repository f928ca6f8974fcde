/* instantiate_bench.c — in-process instantiation latency (make bench, issue "cold starts").
 *
 *   instantiate-bench [--tier T] [--iterations N] [--export NAME] [--live N] FILE.wasm
 *
 * Measures, per iteration: a fresh WASI context + an instance from the component's image
 * + a call of the empty export NAME (default "noop") + release of both. Prints P50, P99,
 * mean in microseconds, and the same for plain instantiation without an image (what a
 * runtime without images pays: fresh memory + data segments) for comparison, and with a
 * time limit armed (the watchdog's cost on the request path). --live N also keeps N
 * instances alive at once and reports the host memory (RSS) each one costs. */
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

/* Resident set size of this process in KiB. */
static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
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
    const char *export_name = "noop", *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tier") == 0 && i + 1 < argc)
            kiln_tier_parse(argv[++i], &opts.tier);
        else if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
            iters = atoi(argv[++i]);
        else if (strcmp(argv[i], "--live") == 0 && i + 1 < argc)
            live = atoi(argv[++i]);
        else if (strcmp(argv[i], "--export") == 0 && i + 1 < argc)
            export_name = argv[++i];
        else
            path = argv[i];
    }
    if (!path || iters < 1) {
        fprintf(stderr,
                "usage: instantiate-bench [--tier T] [--iterations N] [--export NAME] FILE.wasm\n");
        return 2;
    }
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
    double *t = kiln_malloc((size_t)iters * sizeof *t);
    if (!t) return 1;
    printf("%s (%s tier)\n", path, kiln_tier_name(kiln_module_tier(m)));
    for (int pass = 0; pass < 3; pass++) {
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
        long before = rss_kib();
        for (int i = 0; i < live; i++) {
            hs[i] = kiln_hosts_new(plan, &g, &herr);
            if (hs[i]) kiln_hosts_bind(hs[i], b);
            insts[i] = hs[i] ? kiln_image_instantiate(img, b) : NULL;
            if (!insts[i]) {
                fprintf(stderr, "error: instance %d failed\n", i);
                return 1;
            }
            kiln_hosts_set_memory(hs[i], kiln_instance_memory(insts[i], "memory"));
            kiln_val vals[4];
            kiln_instance_call(insts[i], ex, vals, &trap);
        }
        long after = rss_kib();
        printf("%-34s %.1f KiB of host memory per live instance (%d alive, RSS +%ld KiB)\n",
               "live instances", (double)(after - before) / live, live, after - before);
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
    return 0;
}
