/* fiber.c — fibers: pooled stacks, the context switch, park/resume, and the scheduler
 * binding (design in fiber.h).
 *
 * A fiber lives at the top of its own stack mapping: [guard | stack ... | kiln_fiber],
 * so a fiber costs one mapping, taken from the pool and given back on free (no mmap or
 * munmap on the hot path; a pooled stack keeps the pages it has touched).
 *
 * The switch on x86-64 is a few lines of assembly (callee-saved registers, MXCSR and the
 * x87 control word are pushed on the old stack, rsp is exchanged, the new ones popped);
 * elsewhere it is ucontext's swapcontext (which also saves the signal mask: one
 * sigprocmask system call per switch). Define KILN_FIBER_UCONTEXT to use ucontext on
 * x86-64 too (for measurements). The switch returns into another stack, which CET
 * shadow stacks forbid: Kiln is not built with -fcf-protection, and must not claim
 * shadow-stack support while this switch is used.
 *
 * Only the resumer's side of kiln_fiber_resume touches the runtime state: it exchanges
 * the thread's guest state with the fiber's before switching in and after switching
 * back, so the fiber side never runs with the wrong unwind target or stack bounds. */
#include "engine/fiber.h"
#include "engine/runtime_internal.h"
#include "util/alloc.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if !defined(__x86_64__) && !defined(KILN_FIBER_UCONTEXT)
#define KILN_FIBER_UCONTEXT 1
#endif
#ifdef KILN_FIBER_UCONTEXT
#include <ucontext.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define KILN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KILN_ASAN 1
#endif
#endif
#ifdef KILN_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#define GUARD_SIZE (64 * 1024) /* below each stack: more than one frame can skip */
#define MIN_STACK (64 * 1024)

enum { ST_NEW, ST_RUNNING, ST_PARKED, ST_DONE };

struct kiln_fiber {
    void *sp;        /* saved stack pointer while not running (asm switch) */
    void *caller_sp; /* the resumer's, while running */
#ifdef KILN_FIBER_UCONTEXT
    ucontext_t uc, caller_uc;
#endif
    void (*fn)(void *);
    void *arg;
    void *data;
    int state;
    int result; /* of the last wait (kiln_sched_complete) */
    kiln_sched *sched;
    kiln_fiber *sched_next; /* the scheduler's link (kiln_fiber_sched_link) */
    void (*after)(kiln_fiber *, void *);
    void *after_arg;
    kiln_rt_fiber_state rt;
    char *map; /* the mapping: guard, then stack, then this struct */
    size_t map_size;
    kiln_fiber *next_free;
#ifdef KILN_ASAN
    void *fake_stack;
    const void *caller_bottom;
    size_t caller_size;
#endif
};

/* ---- the stack pool ---- */

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static kiln_fiber *pool_free;
static size_t pool_nfree, pool_nmapped;
static size_t stack_size = KILN_FIBER_DEFAULT_STACK;

static size_t page_size(void)
{
    static size_t size;
    if (!size) {
        long p = sysconf(_SC_PAGESIZE);
        size = p > 0 ? (size_t)p : 4096;
    }
    return size;
}

/* The fiber struct's place at the top of a mapping of map_size bytes. */
static size_t header_size(void)
{
    return (sizeof(kiln_fiber) + 63) & ~(size_t)63;
}

int kiln_fiber_set_stack_size(size_t bytes)
{
    size_t pg = page_size();
    if (bytes < MIN_STACK) bytes = MIN_STACK;
    if (bytes > ((size_t)1 << 40)) return -1;
    bytes = (bytes + pg - 1) / pg * pg;
    pthread_mutex_lock(&pool_lock);
    kiln_fiber *drop = NULL;
    if (bytes != stack_size) {
        drop = pool_free;
        pool_free = NULL;
        pool_nmapped -= pool_nfree;
        pool_nfree = 0;
        stack_size = bytes;
    }
    pthread_mutex_unlock(&pool_lock);
    while (drop) {
        kiln_fiber *next = drop->next_free;
        munmap(drop->map, drop->map_size);
        drop = next;
    }
    return 0;
}

/* A fiber struct on a fresh or pooled stack; its fields other than map/map_size are
 * garbage. NULL when no memory. */
static kiln_fiber *stack_get(void)
{
    pthread_mutex_lock(&pool_lock);
    kiln_fiber *f = pool_free;
    if (f) {
        pool_free = f->next_free;
        pool_nfree--;
        pthread_mutex_unlock(&pool_lock);
        return f;
    }
    size_t size = stack_size;
    pthread_mutex_unlock(&pool_lock);
    size_t map_size = GUARD_SIZE + size + ((header_size() + page_size() - 1) & ~(page_size() - 1));
    /* MAP_NORESERVE: untouched stack pages cost neither memory nor commit charge. */
    char *map = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED) return NULL;
    if (mprotect(map, GUARD_SIZE, PROT_NONE) < 0) {
        munmap(map, map_size);
        return NULL;
    }
    /* A huge page would make a parked fiber cost 2 MiB. Without THP in the kernel this
     * fails with EINVAL, which is fine: there are no huge pages then either. */
    if (madvise(map + GUARD_SIZE, map_size - GUARD_SIZE, MADV_NOHUGEPAGE) < 0 && errno != EINVAL) {
        munmap(map, map_size);
        return NULL;
    }
    f = (kiln_fiber *)(map + map_size - header_size());
    f->map = map;
    f->map_size = map_size;
    pthread_mutex_lock(&pool_lock);
    pool_nmapped++;
    pthread_mutex_unlock(&pool_lock);
    return f;
}

static void stack_put(kiln_fiber *f)
{
    size_t want = GUARD_SIZE + stack_size;
    pthread_mutex_lock(&pool_lock);
    /* A stack of an old size (kiln_fiber_set_stack_size since) is not kept. */
    int keep = f->map_size - ((header_size() + page_size() - 1) & ~(page_size() - 1)) == want;
    if (keep) {
        f->next_free = pool_free;
        pool_free = f;
        pool_nfree++;
    } else {
        pool_nmapped--;
    }
    pthread_mutex_unlock(&pool_lock);
    if (!keep) munmap(f->map, f->map_size);
}

void kiln_fiber_stats_get(kiln_fiber_stats *out)
{
    pthread_mutex_lock(&pool_lock);
    out->stacks_mapped = pool_nmapped;
    out->stacks_free = pool_nfree;
    pthread_mutex_unlock(&pool_lock);
}

/* ---- the switch ---- */

static _Thread_local kiln_fiber *cur;
static _Thread_local kiln_sched *bound;

/* Thread-local lookups that must not be cached across a switch (the fiber may continue
 * on another thread). */
__attribute__((noinline)) static kiln_fiber **cur_slot(void)
{
    kiln_fiber **p = &cur;
    __asm__ volatile("" : "+r"(p));
    return p;
}

__attribute__((noinline)) static kiln_sched **bound_slot(void)
{
    kiln_sched **p = &bound;
    __asm__ volatile("" : "+r"(p));
    return p;
}

static void fiber_main(kiln_fiber *f) __attribute__((noreturn));

#ifndef KILN_FIBER_UCONTEXT
/* kiln_fiber_switch(save, to): saves the callee-saved state on the current stack, stores
 * rsp in *save, continues on the stack `to` (made by this function or by init_stack). */
void kiln_fiber_switch(void **save, void *to);
void kiln_fiber_entry(void);
__asm__(".text\n"
        ".globl kiln_fiber_switch\n"
        ".type kiln_fiber_switch,@function\n"
        "kiln_fiber_switch:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    subq $8, %rsp\n"
        "    stmxcsr (%rsp)\n"
        "    fnstcw 4(%rsp)\n"
        "    movq %rsp, (%rdi)\n"
        "    movq %rsi, %rsp\n"
        "    ldmxcsr (%rsp)\n"
        "    fldcw 4(%rsp)\n"
        "    addq $8, %rsp\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size kiln_fiber_switch, .-kiln_fiber_switch\n"
        /* First switch into a fiber lands here with r12 = fiber, r13 = fiber_main. */
        ".globl kiln_fiber_entry\n"
        ".type kiln_fiber_entry,@function\n"
        "kiln_fiber_entry:\n"
        "    movq %r12, %rdi\n"
        "    callq *%r13\n"
        "    ud2\n"
        ".size kiln_fiber_entry, .-kiln_fiber_entry\n"
        ".section .note.GNU-stack,\"\",@progbits\n"
        ".text\n");

/* The first frame: what kiln_fiber_switch pops, returning into kiln_fiber_entry. */
static void init_stack(kiln_fiber *f)
{
    uintptr_t top = (uintptr_t)f & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)(top - 64);
    sp[0] = 0x1F80 | ((uint64_t)0x037F << 32); /* MXCSR, x87 control word: defaults */
    sp[1] = 0;                                 /* r15 */
    sp[2] = 0;                                 /* r14 */
    sp[3] = (uint64_t)(uintptr_t)fiber_main;   /* r13 */
    sp[4] = (uint64_t)(uintptr_t)f;            /* r12 */
    sp[5] = 0;                                 /* rbx */
    sp[6] = 0;                                 /* rbp: the end of frame chains */
    sp[7] = (uint64_t)(uintptr_t)kiln_fiber_entry;
    f->sp = sp;
}

static void switch_in(kiln_fiber *f)
{
    kiln_fiber_switch(&f->caller_sp, f->sp);
}

static void switch_out(kiln_fiber *f)
{
    kiln_fiber_switch(&f->sp, f->caller_sp);
}
#else
static void uc_entry(void)
{
    fiber_main(*cur_slot());
}

static void init_stack(kiln_fiber *f)
{
    if (getcontext(&f->uc) < 0) abort();
    f->uc.uc_stack.ss_sp = f->map + GUARD_SIZE;
    f->uc.uc_stack.ss_size = (size_t)((char *)f - (f->map + GUARD_SIZE)) & ~(size_t)15;
    f->uc.uc_link = NULL;
    makecontext(&f->uc, uc_entry, 0);
}

static void switch_in(kiln_fiber *f)
{
    if (swapcontext(&f->caller_uc, &f->uc) < 0) abort();
}

static void switch_out(kiln_fiber *f)
{
    if (swapcontext(&f->uc, &f->caller_uc) < 0) abort();
}
#endif

/* ASan must be told which stack runs (else it takes a fiber's frames for overflows of
 * another stack and its longjmp handling unpoisons the wrong range). */
static void asan_enter_fiber(kiln_fiber *f, void **fake)
{
#ifdef KILN_ASAN
    __sanitizer_start_switch_fiber(fake, f->map + GUARD_SIZE,
                                   (size_t)((char *)f - (f->map + GUARD_SIZE)));
#else
    (void)f, (void)fake;
#endif
}

static void asan_entered(void *fake)
{
#ifdef KILN_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#else
    (void)fake;
#endif
}

static void fiber_main(kiln_fiber *f)
{
#ifdef KILN_ASAN
    __sanitizer_finish_switch_fiber(NULL, &f->caller_bottom, &f->caller_size);
#endif
    f->fn(f->arg);
    f->state = ST_DONE;
#ifdef KILN_ASAN
    __sanitizer_start_switch_fiber(NULL, f->caller_bottom, f->caller_size); /* last exit */
#endif
    switch_out(f);
    abort(); /* a done fiber is never resumed */
}

kiln_fiber *kiln_fiber_new(void (*fn)(void *), void *arg)
{
    kiln_fiber *f = stack_get();
    if (!f) return NULL;
    char *map = f->map;
    size_t map_size = f->map_size;
    memset(f, 0, sizeof *f);
    f->map = map;
    f->map_size = map_size;
    f->fn = fn;
    f->arg = arg;
    f->state = ST_NEW;
#ifdef KILN_ASAN
    /* A pooled stack may carry poison from the frames of its last fiber. */
    ASAN_UNPOISON_MEMORY_REGION(map + GUARD_SIZE, (size_t)((char *)f - (map + GUARD_SIZE)));
#endif
    kiln_rt_fiber_state_init(&f->rt, (uintptr_t)(map + GUARD_SIZE));
    init_stack(f);
    return f;
}

int kiln_fiber_resume(kiln_fiber *f)
{
    assert(f->state == ST_NEW || f->state == ST_PARKED);
    kiln_fiber **slot = cur_slot();
    assert(*slot == NULL);                         /* fibers do not nest */
    if (kiln_rt_fiber_swap(&f->rt) < 0) return -1; /* f is as it was */
    f->sched = *bound_slot();
    f->state = ST_RUNNING;
    *slot = f;
    void *fake = NULL;
    asan_enter_fiber(f, &fake);
    switch_in(f);
    asan_entered(fake);
    *slot = NULL;
    kiln_rt_fiber_swap(&f->rt); /* cannot fail: the thread is prepared */
    if (f->state == ST_DONE) return KILN_FIBER_DONE;
    f->state = ST_PARKED;
    void (*after)(kiln_fiber *, void *) = f->after;
    if (after) {
        f->after = NULL;
        after(f, f->after_arg); /* f may be resumed elsewhere from here on */
    }
    return KILN_FIBER_PARKED;
}

void kiln_fiber_park(void)
{
    kiln_fiber_park_then(NULL, NULL);
}

void kiln_fiber_park_then(void (*after)(kiln_fiber *f, void *arg), void *arg)
{
    kiln_fiber *f = *cur_slot();
    assert(f != NULL);
    f->after = after;
    f->after_arg = arg;
#ifdef KILN_ASAN
    __sanitizer_start_switch_fiber(&f->fake_stack, f->caller_bottom, f->caller_size);
#endif
    switch_out(f);
    /* Resumed, maybe by another thread (whose stack is the caller's now). */
#ifdef KILN_ASAN
    __sanitizer_finish_switch_fiber(f->fake_stack, &f->caller_bottom, &f->caller_size);
#endif
}

kiln_fiber *kiln_fiber_current(void)
{
    return *cur_slot();
}

void kiln_fiber_free(kiln_fiber *f)
{
    if (!f) return;
    assert(f->state == ST_NEW || f->state == ST_DONE);
    kiln_rt_fiber_state_release(&f->rt);
    stack_put(f);
}

void kiln_fiber_set_data(kiln_fiber *f, void *data)
{
    f->data = data;
}

void *kiln_fiber_data(kiln_fiber *f)
{
    return f->data;
}

int kiln_fiber_result(const kiln_fiber *f)
{
    return f->result;
}

/* ---- the scheduler binding ---- */

kiln_fiber **kiln_fiber_sched_link(kiln_fiber *f)
{
    return &f->sched_next;
}

void kiln_sched_bind(kiln_sched *s)
{
    *bound_slot() = s;
}

kiln_sched *kiln_sched_current(void)
{
    return *bound_slot();
}

void kiln_sched_complete(kiln_fiber *f, int result)
{
    f->result = result;
    kiln_sched *s = f->sched;
    assert(s != NULL);
    s->wake(s, f);
}
