/* Unit tests of Kiln's wasm-rt runtime: traps unwind to kiln_rt_call, memories grow up to
 * their limits, guard pages turn stray accesses into traps, reservations are reused, and
 * all of it works on several threads at once. */
#include "engine/runtime.h"
#include "engine/runtime_internal.h"
#include "util/test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

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

/* A trap code that is neither wasm2c's nor Kiln's (codegen.c) must not become a kind
 * outside the enum (it indexed the message table unchecked): a host trap naming it. */
static void test_unknown_trap_code(void)
{
    kiln_trap t;
    CHECK_INT(kiln_rt_call(do_trap, (void *)(intptr_t)(100 + 999), &t), -1);
    CHECK_INT(t.kind, KILN_TRAP_HOST);
    CHECK_STR(kiln_trap_message(&t), "unknown trap code 1099");
    CHECK_INT(kiln_rt_call(do_trap, (void *)(intptr_t)(100 + KILN_TRAP_EXIT), &t), -1);
    CHECK_INT(t.kind, KILN_TRAP_HOST);
    CHECK_INT(kiln_rt_call(do_trap, (void *)(intptr_t)-5, &t), -1);
    CHECK_INT(t.kind, KILN_TRAP_HOST);
    /* The kind names and messages clamp whatever they are given. */
    CHECK_STR(kiln_trap_kind_name((kiln_trap_kind)999), "unknown");
    CHECK_STR(kiln_trap_kind_name((kiln_trap_kind)-1), "unknown");
    kiln_trap bad = {.kind = (kiln_trap_kind)999};
    CHECK_STR(kiln_trap_message(&bad), "unknown trap");
}

/* ---- the watchdog never signals a thread that released its record ----
 *
 * Thread A runs a guest with a short time limit; the watchdog decides to signal it and is
 * held (test hook) until A has finished its call, exited, and a thread B has taken A's
 * record for a call with a long limit. Then the watchdog goes on: it must not signal B
 * for A's deadline (B's call must succeed), nor anybody. */

static atomic_int hook_entered, hook_release, b_in_call, b_may_return;

static void watchdog_hold(void)
{
    atomic_store(&hook_entered, 1);
    while (!atomic_load(&hook_release)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static void spin_until_hook(void *arg)
{
    (void)arg;
    while (!atomic_load(&hook_entered)) {
    }
}

static void *thread_a(void *arg)
{
    kiln_trap *t = arg;
    kiln_rt_call_timeout(spin_until_hook, NULL, t, 1000000); /* 1 ms */
    return NULL;
}

static void b_guest(void *arg)
{
    (void)arg;
    atomic_store(&b_in_call, 1);
    while (!atomic_load(&b_may_return)) {
    }
}

static void *thread_b(void *arg)
{
    kiln_trap *t = arg;
    kiln_rt_call_timeout(b_guest, NULL, t, 60ull * 1000000000u); /* 60 s */
    return NULL;
}

static void test_watchdog_release_race(void)
{
    kiln_trap ta, tb;
    pthread_t a, b;
    kiln_rt_watchdog_test_hook = watchdog_hold;
    CHECK_INT(pthread_create(&a, NULL, thread_a, &ta), 0);
    pthread_join(a, NULL);
    CHECK_INT(ta.kind, KILN_TRAP_NONE); /* it returned before any signal */
    unsigned long sent = kiln_rt_watchdog_signals();
    CHECK_INT(pthread_create(&b, NULL, thread_b, &tb), 0);
    while (!atomic_load(&b_in_call)) {
    }
    kiln_rt_watchdog_test_hook = NULL;
    atomic_store(&hook_release, 1);
    /* Give a wrong signal time to arrive (no timing expectation: a correct watchdog sends
     * none however long we wait). */
    struct timespec ts = {0, 50000000};
    nanosleep(&ts, NULL);
    atomic_store(&b_may_return, 1);
    pthread_join(b, NULL);
    CHECK_INT(tb.kind, KILN_TRAP_NONE);
    CHECK_INT(kiln_rt_watchdog_signals(), sent);
}

/* A guest past its time limit is still stopped (in guest code and in a host section). */
static void spin_forever(void *arg)
{
    (void)arg;
    for (;;) {
    }
}

static void host_section_spin(void *arg)
{
    (void)arg;
    kiln_rt_host_enter();
    while (!kiln_rt_interrupt_pending()) {
    }
    kiln_rt_host_leave();
}

static void test_timeouts(void)
{
    kiln_trap t;
    CHECK_INT(kiln_rt_call_timeout(spin_forever, NULL, &t, 20000000), -1);
    CHECK_INT(t.kind, KILN_TRAP_INTERRUPTED);
    CHECK_INT(kiln_rt_call_timeout(host_section_spin, NULL, &t, 20000000), -1);
    CHECK_INT(t.kind, KILN_TRAP_INTERRUPTED);
    int n = 0;
    CHECK_INT(kiln_rt_call_timeout(do_ok, &n, &t, 20000000), 0); /* the next call is fine */
    CHECK_INT(n, 1);
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
    test_unknown_trap_code();
    test_timeouts();
    test_watchdog_release_race();
    test_memory();
    test_func_types();
    test_threads();
    return test_finish("runtime");
}
