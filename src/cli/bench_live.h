/* bench_live.h — `kiln bench`'s "time to N live instances" and "memory per instance":
 * N instances of one component, made the way `kiln up` makes a request's instance (a
 * copy of the component's image: exec/http/serve.h for a wasi:http component, the
 * engine's module image for a core module run as WAGI), all alive at once in this
 * process. Memory is the growth of VmRSS + VmPTE (/proc/self/status) from before the
 * first to after the last, divided by N: what a live instance costs the host, page
 * tables included. */
#ifndef KILN_CLI_BENCH_LIVE_H
#define KILN_CLI_BENCH_LIVE_H

#include "engine/engine.h"

#include <stddef.h>

typedef struct kiln_bench_live {
    size_t alive;        /* instances made (n, or fewer when one failed) */
    double seconds;      /* to make them all */
    double kib_per_inst; /* host memory per live instance */
} kiln_bench_live;

/* Makes n live instances of the component in wasm_path (a component or a core module;
 * id names it in messages) on `tier` (KILN_TIER_FAST or KILN_TIER_OPT) with
 * `max_memory_mib` per instance (kiln up's --max-instance-memory), then frees them. 0, or
 * -1 with the reason in err (cap bytes). */
int kiln_bench_live_run(const char *id, const char *wasm_path, kiln_tier tier, size_t n,
                        unsigned max_memory_mib, kiln_bench_live *out, char *err, size_t cap);

#endif
