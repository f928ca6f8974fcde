/* component_bench.c — components: compile time and per-request instantiation latency
 * (make bench, issue 14 "images for components").
 *
 *   component-bench [--tier T] [--iterations N] [--export NAME] [--compile-only]
 *                   [--image-only] FILE.wasm
 *
 * Loads (compiles, or finds in $KILN_CACHE_DIR) the component and prints its compile time.
 * Then, per iteration: an instance from the component's image (fresh host contexts from
 * the grants, every core instance copied, no guest code run) + a call of the export NAME
 * (none without --export; a function without parameters) + release. Prints P50, P99 and
 * mean in microseconds, and the same for a full instantiation without an image (every
 * core instance initialized, start functions run) for comparison, unless --image-only
 * (for profiling the copies alone). Guest output goes nowhere (stdio closed). */
#include "component/instance.h"
#include "host/registry.h"
#include "util/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
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
    printf("%-40s p50 %8.2f us   p99 %8.2f us   mean %8.2f us   (n=%d)\n", what, t[n / 2],
           t[(int)(n * 0.99)], sum / n, n);
}

/* One request: instance (from img, or instantiated when img is NULL) + call + release. */
static int one(kiln_loaded_component *lc, kiln_component_image *img, const kiln_grants *g,
               const char *export_name)
{
    kiln_err err;
    kiln_component_instance *ci = img ? kiln_component_image_instantiate(img, g, &err)
                                      : kiln_component_instantiate(lc, g, &err);
    if (!ci) {
        fprintf(stderr, "error: %s\n", err.msg);
        return -1;
    }
    if (export_name) {
        const kiln_component_func *f = kiln_component_find_func(ci, export_name);
        kiln_cval res[1];
        kiln_trap trap;
        if (!f) {
            fprintf(stderr, "error: no exported function %s\n", export_name);
            kiln_component_instance_free(ci);
            return -1;
        }
        if (kiln_component_call(ci, f, NULL, res, &trap) < 0 &&
            !(trap.kind == KILN_TRAP_EXIT && trap.exit_code == 0)) {
            fprintf(stderr, "error: %s trapped: %s\n", export_name, kiln_trap_message(&trap));
            kiln_component_instance_free(ci);
            return -1;
        }
    }
    kiln_component_instance_free(ci);
    return 0;
}

int main(int argc, char **argv)
{
    kiln_compile_opts opts = {.tier = KILN_TIER_AUTO};
    int iters = 20000, compile_only = 0, image_only = 0;
    const char *export_name = NULL, *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tier") == 0 && i + 1 < argc)
            kiln_tier_parse(argv[++i], &opts.tier);
        else if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
            iters = atoi(argv[++i]);
        else if (strcmp(argv[i], "--export") == 0 && i + 1 < argc)
            export_name = argv[++i];
        else if (strcmp(argv[i], "--compile-only") == 0)
            compile_only = 1;
        else if (strcmp(argv[i], "--image-only") == 0)
            image_only = 1;
        else
            path = argv[i];
    }
    if (!path || iters < 1) {
        fprintf(stderr, "usage: component-bench [--tier T] [--iterations N] [--export NAME] "
                        "[--compile-only] [--image-only] FILE.wasm\n");
        return 2;
    }
    kiln_err err;
    double t0 = now_us();
    kiln_loaded_component *lc = kiln_component_load_file(path, &opts, &err);
    if (!lc) {
        fprintf(stderr, "error: %s\n", err.msg);
        return 1;
    }
    printf("%s: %zu core modules, %s tier, %s: compile %.2f s (load %.2f s)\n", path,
           kiln_component_module_count(lc), kiln_tier_name(kiln_component_tier(lc)),
           kiln_component_was_cached(lc) ? "cached" : "compiled",
           kiln_component_compile_seconds(lc), (now_us() - t0) / 1e6);
    if (compile_only) {
        kiln_component_unload(lc);
        return 0;
    }
    const char *args[] = {"bench"};
    kiln_grants g = {
        .wasi = {.argc = 1, .argv = args, .stdio = {{.fd = -1}, {.fd = -1}, {.fd = -1}}}};
    t0 = now_us();
    kiln_component_image *img = kiln_component_image_new(lc, &g, &err);
    if (!img) {
        fprintf(stderr, "error: %s\n", err.msg);
        return 1;
    }
    size_t gbytes, gslots;
    kiln_component_image_graph_size(img, &gbytes, &gslots);
    printf("image made in %.1f us (graph per copy: %zu bytes, %zu pointer slots)\n", now_us() - t0,
           gbytes, gslots);
    double *t = kiln_malloc((size_t)iters * sizeof *t);
    if (!t) return 1;
    for (int pass = 0; pass < (image_only ? 1 : 2); pass++) {
        for (int i = 0; i < iters; i++) {
            double s = now_us();
            if (one(lc, pass == 0 ? img : NULL, &g, export_name) < 0) return 1;
            t[i] = now_us() - s;
        }
        char what[200];
        snprintf(what, sizeof what, "%s + %s + release", pass == 0 ? "image copy" : "no image",
                 export_name ? "call" : "no call");
        report(what, t, iters);
    }
    kiln_free(t);
    kiln_component_image_free(img);
    kiln_component_unload(lc);
    return 0;
}
