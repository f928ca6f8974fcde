/* run_component.c — `kiln run` and `kiln compile` for components (cli.h): a command
 * component exports wasi:cli/run@0.2.x (or 0.3) `run`, which runs like a core command's _start:
 * its result err exits 1, wasi:cli/exit exits with its code, a trap prints
 * "error: trap: <message>" and exits 134, a component that cannot be loaded exits 1. */
#include "cli/cli.h"
#include "component/instance.h"
#include "component/reader.h"
#include "util/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int kiln_cli_is_component_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    uint8_t head[8];
    ssize_t n;
    do
        n = read(fd, head, sizeof head);
    while (n < 0 && errno == EINTR);
    close(fd);
    return n == (ssize_t)sizeof head && kiln_component_is_component(head, sizeof head);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int kiln_run_component(const char *path, const kiln_compile_opts *opts, const kiln_grants *g,
                       unsigned long long timeout_ms)
{
    kiln_err err;
    double t0 = now_s();
    kiln_loaded_component *lc = kiln_component_load_file(path, opts, &err);
    if (!lc) {
        fprintf(stderr, "error: %s\n", err.msg);
        return 1;
    }
    double t1 = now_s();
    kiln_component_instance *ci = kiln_component_instantiate(lc, g, &err);
    double t2 = now_s();
    if (opts->verbose)
        fprintf(stderr,
                "kiln: %s: %zu core modules, %s (compile %.3fs), load %.3fs, instantiate "
                "%.3f ms\n",
                path, kiln_component_module_count(lc),
                kiln_component_was_cached(lc) ? "cached" : "compiled",
                kiln_component_compile_seconds(lc), t1 - t0, (t2 - t1) * 1e3);
    if (!ci) {
        fprintf(stderr, "error: %s\n", err.msg);
        kiln_component_unload(lc);
        return 1;
    }
    int rc;
    const kiln_component_func *run = kiln_component_find_func(ci, "wasi:cli/run@0.2.0#run");
    /* WASI 0.3: `run: async func() -> result`, the release or the rc Spin 4 targets */
    if (!run) run = kiln_component_find_func(ci, "wasi:cli/run@0.3.0#run");
    if (!run) run = kiln_component_find_func(ci, "wasi:cli/run@0.3.0-rc-2026-03-15#run");
    const kiln_ctype *ft = run ? kiln_component_func_type(run) : NULL;
    if (!ft || ft->nitems != 0 || !ft->has_elem || ft->elem.type->kind != KILN_CT_RESULT) {
        fprintf(stderr,
                "error: %s: not a command component (no export wasi:cli/run@0.2.x with "
                "run: func() -> result)\n",
                path);
        rc = 1;
    } else {
        kiln_cval result;
        kiln_trap trap;
        memset(&result, 0, sizeof result);
        if (kiln_component_call_timeout(ci, run, NULL, &result, &trap, timeout_ms * 1000000ull) ==
            0)
            rc = result.var.disc == 0 ? 0 : 1;
        else
            rc = kiln_cli_trap_status(&trap);
    }
    kiln_component_instance_free(ci);
    kiln_component_unload(lc);
    return rc;
}

int kiln_compile_component(const char *path, const kiln_compile_opts *opts)
{
    kiln_err err;
    kiln_loaded_component *lc = kiln_component_load_file(path, opts, &err);
    if (!lc) {
        fprintf(stderr, "error: %s\n", err.msg);
        return 1;
    }
    printf("%s: component, %zu core modules, %s tier, %s (%.3fs)\n", path,
           kiln_component_module_count(lc), kiln_tier_name(kiln_component_tier(lc)),
           kiln_component_was_cached(lc) ? "cached" : "compiled",
           kiln_component_compile_seconds(lc));
    kiln_component_unload(lc);
    return 0;
}
