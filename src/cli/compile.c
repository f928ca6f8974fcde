/* compile.c — `kiln compile [--tier fast|opt] [-v] FILE.wasm...`: translate and compile
 * modules into the cache (so that later loads are one dlopen), checking imports against
 * what Kiln provides. */
#include "cli/cli.h"
#include "engine/engine.h"
#include "host/registry.h"
#include "host/spin/grants.h"
#include "host/wasi.h"

#include <stdio.h>
#include <string.h>

static void compile_usage(FILE *f)
{
    fprintf(f, "usage: kiln compile [--tier fast|opt] [--cache-dir DIR] [-v] FILE.wasm...\n");
}

int kiln_cmd_compile(int argc, char **argv)
{
    kiln_compile_opts opts = {.tier = KILN_TIER_FAST};
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--tier") == 0 && i + 1 < argc) {
            if (kiln_tier_parse(argv[++i], &opts.tier) < 0) {
                fprintf(stderr, "error: unknown tier '%s' (fast, opt or auto)\n", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--cache-dir") == 0 && i + 1 < argc) {
            opts.cache_dir = argv[++i];
        } else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
            opts.verbose = 1;
        } else if (strcmp(argv[i], "--help") == 0) {
            compile_usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "error: unknown option '%s'\n", argv[i]);
            compile_usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        compile_usage(stderr);
        return 2;
    }
    /* Spin's APIs are Kiln's too (kiln up serves them): a component built with Spin's SDKs
     * imports them, and checks against them here as there */
    if (kiln_spin_register() < 0) {
        fprintf(stderr, "error: cannot register Spin's host interfaces\n");
        return 1;
    }
    int rc = 0;
    for (; i < argc; i++) {
        if (kiln_cli_is_component_file(argv[i])) {
            if (kiln_compile_component(argv[i], &opts) != 0) rc = 1;
            continue;
        }
        kiln_err err;
        kiln_module *m = kiln_module_load_file(argv[i], &opts, kiln_hosts_linker(), &err);
        if (!m) {
            fprintf(stderr, "error: %s\n", err.msg);
            rc = 1;
            continue;
        }
        printf("%s: %s tier, %s (%.3fs)\n", argv[i], kiln_tier_name(kiln_module_tier(m)),
               kiln_module_was_cached(m) ? "cached" : "compiled", kiln_module_compile_seconds(m));
        kiln_module_free(m);
    }
    return rc;
}
