/* arena.h — a bump allocator for what lives exactly as long as one request.
 *
 * Memory comes from chunks: the first one is given by the caller (it may sit inside the
 * object that owns the arena, so that a request costs one heap allocation) and further
 * ones are kiln_malloc'ed as needed, each at least twice the previous size. Nothing is
 * freed one by one: kiln_arena_free releases every chunk in one go. Pointers are aligned
 * for any type (max_align_t). Not thread-safe: one arena is used by one thread at a time. */
#ifndef KILN_UTIL_ARENA_H
#define KILN_UTIL_ARENA_H

#include <stddef.h>

typedef struct kiln_arena_chunk kiln_arena_chunk;

typedef struct kiln_arena {
    char *cur, *end;        /* free space of the current chunk */
    kiln_arena_chunk *heap; /* chunks from kiln_malloc (freed with the arena) */
    size_t next_size;       /* size of the next heap chunk */
    unsigned long nchunks;  /* heap chunks taken so far (for tests and statistics) */
} kiln_arena;

/* Starts an arena on `first` (size bytes, may be NULL/0): nothing is allocated. */
void kiln_arena_init(kiln_arena *a, void *first, size_t size);
/* n bytes (n == 0: a valid unique pointer), aligned; NULL when memory runs out. Valid
 * until kiln_arena_free. */
void *kiln_arena_alloc(kiln_arena *a, size_t n);
/* A NUL-terminated copy of the first n bytes of s; NULL when memory runs out. */
char *kiln_arena_strndup(kiln_arena *a, const char *s, size_t n);
/* Releases every heap chunk. The arena stays usable (later allocations take new heap
 * chunks; the caller's first chunk is not reused), so freeing twice is harmless. */
void kiln_arena_free(kiln_arena *a);

#endif
