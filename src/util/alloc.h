/* alloc.h — the one allocation wrapper of Kiln.
 *
 * Every heap allocation goes through kiln_malloc/kiln_calloc/kiln_realloc/kiln_strdup,
 * so that tests can inject out-of-memory (kiln_alloc_fail_after) and so that callers
 * handle NULL in one consistent way: these return NULL on failure, never abort. */
#ifndef KILN_UTIL_ALLOC_H
#define KILN_UTIL_ALLOC_H

#include <stddef.h>

void *kiln_malloc(size_t n);
void *kiln_calloc(size_t count, size_t size);
void *kiln_realloc(void *p, size_t n);
char *kiln_strdup(const char *s);
char *kiln_strndup(const char *s, size_t n);
void kiln_free(void *p);

/* Fault injection for tests: after `n` more successful allocations, every allocation
 * fails until reset with a negative n. Thread-safe (atomic). */
void kiln_alloc_fail_after(long n);
/* How many allocations fault injection has failed so far (process-wide): a test compares
 * it before and after a call to know whether that call must have reported a failure. */
unsigned long kiln_alloc_injected_failures(void);

#endif
