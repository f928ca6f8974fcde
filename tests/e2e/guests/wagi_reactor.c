/* wagi_reactor.c — a WASI reactor (clang -mexec-model=reactor) served as WAGI with
 * `entrypoint = "handler"`. Its constructor runs in `_initialize`, which Kiln runs once
 * before taking the image; every request calls `handler` on a fresh copy of that image,
 * so both counters read 1 every time. */
#include <stdio.h>
#include <stdlib.h>

/* volatile: otherwise the compiler runs the constructor at build time (GlobalOpt) */
static volatile int ctor_runs; /* constructor runs: 1 in every instance made from the image */
static int calls;              /* handler calls: 1 in every request's instance */

__attribute__((constructor)) static void init(void)
{
    ctor_runs++;
}

__attribute__((export_name("handler"))) void handler(void)
{
    calls++;
    const char *q = getenv("QUERY_STRING");
    printf("Content-Type: text/plain\n\nctor=%d calls=%d query=%s\n", ctor_runs, calls, q ? q : "");
    fflush(stdout);
}
