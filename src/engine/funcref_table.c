/* funcref_table.c — the element arrays of wasm2c's funcref tables, owned or shared.
 *
 * An instance made from an image (image.c) does not copy the image's funcref tables when
 * it can share them: a table that only its own module's code reaches (defined, not
 * exported; or, in a component, one whose elements all name core instances of the same
 * copy: image.h) holds, in the image, elements that name their module instance relative
 * to the table's own struct (kiln_rt_funcref_self), so the same array serves every
 * instance. StarlingMonkey's table has 7,784 elements (187 KB): copying it was
 * most of a JS component's instance start.
 *
 * Every funcref table's array is preceded by a header word: 0 when the table owns the
 * array, 1 when it is an image's, shared read-only. The generated code (codegen.c) checks
 * the word before each write to a table (table.set, fill, copy, init) and calls
 * kiln_rt_funcref_table_own first on a shared one, which gives the table a private copy;
 * wasm_rt_grow_funcref_table does the same, and wasm_rt_free_funcref_table leaves a
 * shared array to its image. */
#include "engine/runtime.h"
#include "util/alloc.h"

#include <string.h>

#define MAX_TABLE_ELEMS 10000000u

/* The header: 16 bytes, so that elements keep malloc's alignment. */
typedef struct elems_head {
    uint64_t shared;
    uint64_t pad;
} elems_head;

static elems_head *head_of(wasm_rt_funcref_t *elems)
{
    return (elems_head *)(void *)((char *)elems - sizeof(elems_head));
}

wasm_rt_funcref_t *kiln_rt_funcref_elems_new(uint32_t n, int shared)
{
    elems_head *h = kiln_calloc(1, sizeof *h + (size_t)n * sizeof(wasm_rt_funcref_t));
    if (!h) return NULL;
    h->shared = shared ? 1 : 0;
    return (wasm_rt_funcref_t *)(void *)(h + 1);
}

wasm_rt_funcref_t *kiln_rt_funcref_elems_uninit(uint32_t n)
{
    if (n > MAX_TABLE_ELEMS) return NULL;
    elems_head *h = kiln_malloc(sizeof *h + (size_t)n * sizeof(wasm_rt_funcref_t));
    if (!h) return NULL;
    *h = (elems_head){0, 0};
    return (wasm_rt_funcref_t *)(void *)(h + 1);
}

void kiln_rt_funcref_elems_free(wasm_rt_funcref_t *elems)
{
    if (elems) kiln_free(head_of(elems));
}

int kiln_rt_funcref_elems_shared(const wasm_rt_funcref_t *elems)
{
    return elems && head_of((wasm_rt_funcref_t *)elems)->shared != 0;
}

/* A private copy of t's first `n` elements (n >= t->size) in an owned array, the rest
 * null. NULL when out of memory. */
static wasm_rt_funcref_t *owned_copy(const wasm_rt_funcref_table_t *t, uint32_t n)
{
    wasm_rt_funcref_t *d = kiln_rt_funcref_elems_new(n, 0);
    if (d && t->size) memcpy(d, t->data, (size_t)t->size * sizeof *d);
    return d;
}

void kiln_rt_funcref_table_own(wasm_rt_funcref_table_t *t)
{
    if (!kiln_rt_funcref_elems_shared(t->data)) return;
    /* Elements stay relative to the instance: the table is still its own module's. */
    wasm_rt_funcref_t *d = owned_copy(t, t->size);
    if (!d) kiln_rt_trap_host("out of memory copying a table");
    t->data = d;
}

void wasm_rt_allocate_funcref_table(wasm_rt_funcref_table_t *t, uint32_t elements,
                                    uint32_t max_elements)
{
    if (elements > MAX_TABLE_ELEMS) kiln_rt_trap_host("table limit exceeded");
    t->size = elements;
    t->max_size = max_elements;
    t->data = kiln_rt_funcref_elems_new(elements, 0);
    if (!t->data) kiln_rt_trap_host("out of memory allocating a table");
}

void wasm_rt_free_funcref_table(wasm_rt_funcref_table_t *t)
{
    if (!kiln_rt_funcref_elems_shared(t->data)) kiln_rt_funcref_elems_free(t->data);
    t->data = NULL;
    t->size = 0;
}

static uint32_t grow(wasm_rt_funcref_table_t *t, uint32_t delta, wasm_rt_funcref_t init)
{
    uint32_t old = t->size;
    uint64_t want = (uint64_t)old + delta;
    if (want > t->max_size || want > MAX_TABLE_ELEMS) return UINT32_MAX;
    if (delta == 0) return old;
    wasm_rt_funcref_t *p;
    if (kiln_rt_funcref_elems_shared(t->data)) {
        p = owned_copy(t, (uint32_t)want);
    } else {
        elems_head *h =
            kiln_realloc(t->data ? head_of(t->data) : NULL, sizeof *h + (size_t)want * sizeof *p);
        if (h) h->shared = 0;
        p = h ? (wasm_rt_funcref_t *)(void *)(h + 1) : NULL;
    }
    if (!p) return UINT32_MAX;
    for (uint64_t i = old; i < want; i++)
        p[i] = init;
    t->data = p;
    t->size = (uint32_t)want;
    return old;
}

uint32_t wasm_rt_grow_funcref_table(wasm_rt_funcref_table_t *t, uint32_t delta,
                                    wasm_rt_funcref_t init)
{
    kiln_rt_host_enter();
    uint32_t r = grow(t, delta, init);
    kiln_rt_host_leave();
    return r;
}
