/* arena.c — chunked bump allocator (see arena.h). */
#include "util/arena.h"
#include "util/alloc.h"

#include <stdalign.h>
#include <stdint.h>
#include <string.h>

struct kiln_arena_chunk {
    kiln_arena_chunk *next;
    alignas(max_align_t) char data[];
};

#define ALIGN ((size_t)alignof(max_align_t))

/* The first aligned address at or after p. */
static char *align_up(char *p)
{
    uintptr_t u = (uintptr_t)p;
    return p + ((ALIGN - u % ALIGN) % ALIGN);
}

void kiln_arena_init(kiln_arena *a, void *first, size_t size)
{
    memset(a, 0, sizeof *a);
    if (first && size) {
        a->cur = align_up(first);
        a->end = (char *)first + size;
        if (a->cur > a->end) a->cur = a->end;
    }
    a->next_size = 4096;
}

void *kiln_arena_alloc(kiln_arena *a, size_t n)
{
    if (n == 0) n = 1;
    if (a->cur && n <= (size_t)(a->end - a->cur)) {
        char *p = a->cur;
        a->cur = align_up(p + n);
        if (a->cur > a->end) a->cur = a->end;
        return p;
    }
    size_t size = a->next_size;
    while (size < n) {
        if (size > SIZE_MAX / 2) return NULL;
        size *= 2;
    }
    if (size > SIZE_MAX - sizeof(kiln_arena_chunk)) return NULL;
    kiln_arena_chunk *c = kiln_malloc(sizeof *c + size);
    if (!c) return NULL;
    c->next = a->heap;
    a->heap = c;
    a->nchunks++;
    if (a->next_size <= SIZE_MAX / 2) a->next_size = size * 2;
    a->cur = align_up(c->data + n);
    a->end = c->data + size;
    if (a->cur > a->end) a->cur = a->end;
    return c->data;
}

char *kiln_arena_strndup(kiln_arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX) return NULL;
    char *d = kiln_arena_alloc(a, n + 1);
    if (!d) return NULL;
    if (n) memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void kiln_arena_free(kiln_arena *a)
{
    for (kiln_arena_chunk *c = a->heap, *next; c; c = next) {
        next = c->next;
        kiln_free(c);
    }
    a->heap = NULL;
    a->cur = a->end = NULL;
}
