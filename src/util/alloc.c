/* alloc.c — allocation wrapper with out-of-memory injection (see alloc.h). */
#include "util/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_countdown = -1;
static atomic_ulong injected;

/* Returns 1 when the injected failure point has been reached. */
static int should_fail(void)
{
    long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    if (n < 0) return 0;
    if (n == 0) {
        atomic_fetch_add_explicit(&injected, 1, memory_order_relaxed);
        return 1;
    }
    atomic_fetch_sub_explicit(&fail_countdown, 1, memory_order_relaxed);
    return 0;
}

unsigned long kiln_alloc_injected_failures(void)
{
    return atomic_load(&injected);
}

void kiln_alloc_fail_after(long n)
{
    atomic_store(&fail_countdown, n);
}

void *kiln_malloc(size_t n)
{
    if (should_fail()) return NULL;
    return malloc(n ? n : 1);
}

void *kiln_calloc(size_t count, size_t size)
{
    if (should_fail()) return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *kiln_realloc(void *p, size_t n)
{
    if (should_fail()) return NULL;
    return realloc(p, n ? n : 1);
}

char *kiln_strndup(const char *s, size_t n)
{
    char *d = kiln_malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *kiln_strdup(const char *s)
{
    return kiln_strndup(s, strlen(s));
}

void kiln_free(void *p)
{
    free(p);
}
