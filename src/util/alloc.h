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

#endif
