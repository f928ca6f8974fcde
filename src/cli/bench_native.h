/* bench_native.h — `kiln bench`'s baselines, measured in the same run on the same
 * machine: the function as a native process started per request, and as a container
 * started per request with runc.
 *
 * The native program is written and compiled (cc -static -O2) by the bench: it writes
 * the response the app's first route gave Kiln (as a CGI script would: headers, blank
 * line, body) and exits, or with "--hold" waits on stdin after writing (to count live
 * ones). For a handler like hello this is the same work; for anything heavier it is the
 * process model's lower bound (its start and teardown cost, no business logic).
 *
 * The container is that static binary alone in a rootfs, started with `runc run` from a
 * bundle made with `runc spec` (namespaces and cgroups as runc sets them up by default).
 * When runc is missing or cannot run a container here, the reason is returned, never a
 * number. */
#ifndef KILN_CLI_BENCH_NATIVE_H
#define KILN_CLI_BENCH_NATIVE_H

#include <stddef.h>

/* One baseline's numbers (a negative value: not measured). */
typedef struct kiln_bench_base {
    double start_p50_s, start_p99_s; /* start to exit of one invocation (its whole life) */
    double rps;                      /* invocations per second from `threads` threads */
    double kib_per_inst;             /* proportional set size (PSS) per live one */
    double live_seconds;             /* to have `live` of them alive at once */
    size_t live;                     /* how many were made alive */
} kiln_bench_base;

/* Writes and compiles the native program into dir/hello (body: what it writes). 0, or -1
 * with the reason in err. */
int kiln_bench_native_build(const char *dir, const char *body, size_t len, char *err, size_t cap);
/* The native program per request: runs invocations one after the other for the start
 * quantiles, from `threads` threads for `seconds` for the rate, and `live` held at once. */
int kiln_bench_native_run(const char *dir, size_t runs, unsigned threads, double seconds,
                          size_t live, kiln_bench_base *out, char *err, size_t cap);
/* The same program as a runc container per request (bundle under dir; `live` containers
 * held at once, then deleted). 0, or -1 with why runc cannot be used here in err. */
int kiln_bench_runc_run(const char *dir, size_t runs, unsigned threads, double seconds, size_t live,
                        kiln_bench_base *out, char *err, size_t cap);

#endif
