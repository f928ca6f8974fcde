/* Unit tests of the per-request arena: alignment, the caller's first chunk, growth into
 * heap chunks (counted), big allocations, out-of-memory, and reuse after free. */
#include "util/alloc.h"
#include "util/arena.h"
#include "util/test.h"

#include <stdalign.h>
#include <stdint.h>
#include <string.h>

int main(void)
{
    alignas(max_align_t) char first[256];
    kiln_arena a;
    kiln_arena_init(&a, first, sizeof first);
    char *p = kiln_arena_alloc(&a, 3), *q = kiln_arena_alloc(&a, 5);
    CHECK(p >= first && p < first + sizeof first);
    CHECK(q >= first && q < first + sizeof first);
    CHECK_INT((uintptr_t)q % alignof(max_align_t), 0);
    CHECK(q >= p + 3);
    CHECK_INT(a.nchunks, 0);
    memset(p, 'x', 3);
    memset(q, 'y', 5);
    /* past the first chunk: heap chunks, each allocation aligned and disjoint */
    char *big = kiln_arena_alloc(&a, 1000);
    CHECK(big && (big < first || big >= first + sizeof first));
    CHECK_INT(a.nchunks, 1);
    memset(big, 'z', 1000);
    char *huge = kiln_arena_alloc(&a, 100000);
    CHECK(huge != NULL);
    CHECK_INT((uintptr_t)huge % alignof(max_align_t), 0);
    memset(huge, 'w', 100000);
    CHECK_INT(a.nchunks, 2);
    CHECK(p[0] == 'x' && q[4] == 'y' && big[999] == 'z');
    char *s = kiln_arena_strndup(&a, "hello world", 5);
    CHECK_STR(s, "hello");
    CHECK(kiln_arena_alloc(&a, SIZE_MAX - 8) == NULL);
    /* out of memory: NULL, and the arena stays usable */
    kiln_alloc_fail_after(0);
    CHECK(kiln_arena_alloc(&a, 1u << 20) == NULL);
    kiln_alloc_fail_after(-1);
    CHECK(kiln_arena_alloc(&a, 16) != NULL);
    kiln_arena_free(&a);
    CHECK_INT(a.nchunks >= 2, 1);
    /* after free: allocations come from new heap chunks */
    CHECK(kiln_arena_alloc(&a, 10) != NULL);
    kiln_arena_free(&a);
    /* without a first chunk */
    kiln_arena_init(&a, NULL, 0);
    CHECK(kiln_arena_alloc(&a, 0) != NULL);
    CHECK_INT(a.nchunks, 1);
    kiln_arena_free(&a);
    return test_finish("arena_test");
}
