/* Unit tests of Kiln's wasm-rt runtime: traps unwind to kiln_rt_call, memories grow up to
 * their limits, guard pages turn stray accesses into traps, reservations are reused, and
 * all of it works on several threads at once. */
#include "engine/runtime.h"
#include "util/test.h"

#include <pthread.h>

static void do_trap(void *arg)
{
    wasm_rt_trap((wasm_rt_trap_t)(intptr_t)arg);
}

static void do_exit(void *arg)
{
    kiln_rt_exit((int)(intptr_t)arg);
}

static void do_guard_access(void *arg)
{
    wasm_rt_memory_t *m = arg;
    volatile uint8_t *p = m->data + m->size + 100; /* past the end: a guard page */
    *p = 1;
}

static void do_ok(void *arg)
{
    (*(int *)arg)++;
}

static void test_traps(void)
{
    kiln_trap t;
    int n = 0;
    CHECK_INT(kiln_rt_call(do_ok, &n, &t), 0);
    CHECK_INT(n, 1);
    CHECK_INT(kiln_rt_call(do_trap, (void *)(intptr_t)WASM_RT_TRAP_UNREACHABLE, &t), -1);
    CHECK_INT(t.kind, KILN_TRAP_UNREACHABLE);
    CHECK_STR(kiln_trap_message(&t), "unreachable executed");
    CHECK_INT(kiln_rt_call(do_trap, (void *)(intptr_t)WASM_RT_TRAP_DIV_BY_ZERO, &t), -1);
    CHECK_INT(t.kind, KILN_TRAP_DIV_BY_ZERO);
    CHECK_INT(kiln_rt_call(do_trap, (void *)(intptr_t)(100 + KILN_TRAP_NULL_ELEMENT), &t), -1);
    CHECK_INT(t.kind, KILN_TRAP_NULL_ELEMENT);
    CHECK_INT(kiln_rt_call(do_exit, (void *)(intptr_t)7, &t), -1);
    CHECK_INT(t.kind, KILN_TRAP_EXIT);
    CHECK_INT(t.exit_code, 7);
    CHECK_STR(kiln_trap_kind_name(KILN_TRAP_STACK_EXHAUSTED), "stack-exhausted");
}

static void alloc_tramp(void *arg)
{
    wasm_rt_memory_t *m = arg;
    wasm_rt_allocate_memory(m, 1, 3);
}

static void test_memory(void)
{
    wasm_rt_memory_t m;
    kiln_trap t;
    CHECK_INT(kiln_rt_call(alloc_tramp, &m, &t), 0);
    CHECK_INT(m.size, 65536);
    m.data[65535] = 9;
    CHECK_INT(wasm_rt_grow_memory(&m, 1), 1);
    CHECK_INT(m.size, 131072);
    m.data[131071] = 9;                                /* the grown page is accessible */
    CHECK_INT(wasm_rt_grow_memory(&m, 2), UINT32_MAX); /* past max 3 */
    CHECK_INT(wasm_rt_grow_memory(&m, 0), 2);
    CHECK(kiln_mem_ok(&m, 0, 131072));
    CHECK(!kiln_mem_ok(&m, 1, 131072));
    CHECK(!kiln_mem_ok(&m, UINT64_MAX, 2));
    CHECK_INT(kiln_rt_call(do_guard_access, &m, &t), -1);
    CHECK_INT(t.kind, KILN_TRAP_MEMORY_OOB);
    /* After a fault, traps still work (the signal was unblocked). */
    CHECK_INT(kiln_rt_call(do_guard_access, &m, &t), -1);
    CHECK_INT(t.kind, KILN_TRAP_MEMORY_OOB);
    wasm_rt_free_memory(&m);

    /* Freed reservations are reused: no new address space for new memories. */
    kiln_rt_pool_stats s0, s1;
    kiln_rt_call(alloc_tramp, &m, &t);
    wasm_rt_free_memory(&m);
    kiln_rt_pool_stats_get(&s0);
    for (int i = 0; i < 100; i++) {
        kiln_rt_call(alloc_tramp, &m, &t);
        CHECK_INT(m.data[65535], 0); /* pages come back zeroed */
        m.data[65535] = 1;
        wasm_rt_free_memory(&m);
    }
    kiln_rt_pool_stats_get(&s1);
    CHECK_INT(s1.reservations, s0.reservations);

    /* A per-thread limit caps growth below the module's maximum. */
    kiln_rt_set_memory_limit_pages(2);
    kiln_rt_call(alloc_tramp, &m, &t);
    CHECK_INT(wasm_rt_grow_memory(&m, 1), 1);
    CHECK_INT(wasm_rt_grow_memory(&m, 1), UINT32_MAX);
    wasm_rt_free_memory(&m);
    kiln_rt_set_memory_limit_pages(0);
}

static void test_func_types(void)
{
    uint32_t a = wasm_rt_register_func_type(2, 1, WASM_RT_I32, WASM_RT_I64, WASM_RT_F32);
    uint32_t b = wasm_rt_register_func_type(0, 0);
    uint32_t c = wasm_rt_register_func_type(2, 1, WASM_RT_I32, WASM_RT_I64, WASM_RT_F32);
    uint32_t d = wasm_rt_register_func_type(1, 2, WASM_RT_I32, WASM_RT_I64, WASM_RT_F32);
    CHECK(a == c);
    CHECK(a != b);
    CHECK(a != d);
    CHECK(a != 0 && b != 0);
}

static void *thread_main(void *arg)
{
    int *ok = arg;
    for (int i = 0; i < 200; i++) {
        wasm_rt_memory_t m;
        kiln_trap t;
        if (kiln_rt_call(alloc_tramp, &m, &t) != 0) return NULL;
        if (kiln_rt_call(do_guard_access, &m, &t) != -1 || t.kind != KILN_TRAP_MEMORY_OOB)
            return NULL;
        if (kiln_rt_call(do_trap, (void *)(intptr_t)WASM_RT_TRAP_UNREACHABLE, &t) != -1)
            return NULL;
        wasm_rt_free_memory(&m);
    }
    *ok = 1;
    return NULL;
}

static void test_threads(void)
{
    pthread_t th[4];
    int ok[4] = {0};
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, thread_main, &ok[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++)
        CHECK_INT(ok[i], 1);
}

int main(void)
{
    CHECK_INT(kiln_rt_init(), 0);
    test_traps();
    test_memory();
    test_func_types();
    test_threads();
    return test_finish("runtime");
}
