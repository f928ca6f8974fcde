/* runtime_internal.h — what runtime.c (traps, threads), linear_memory.c (memories,
 * reservations, images), fiber.c and wait.c share; not for use outside the engine. */
#ifndef KILN_ENGINE_RUNTIME_INTERNAL_H
#define KILN_ENGINE_RUNTIME_INTERNAL_H

#include <setjmp.h>
#include <stdint.h>
#include <wasm-rt.h>

/* 1 if addr lies in the data part of a linear-memory reservation (so a fault there is a
 * guest's out-of-bounds access). Async-signal-safe: the signal handler calls it. */
int kiln_rt_addr_in_reservation(uintptr_t addr);

/* The calling thread's memory limit in wasm pages (0: none), set by
 * kiln_rt_set_memory_limit_pages. */
uint32_t kiln_rt_memory_limit_pages(void);

/* The guest-call state that belongs to whoever runs the guest (a thread, or a fiber that
 * can park and move between threads). The thread's current one lives in thread-local
 * storage; a fiber keeps its own here while it does not run. */
typedef struct kiln_rt_fiber_state {
    sigjmp_buf *jmp;          /* where a trap unwinds to; NULL outside guests */
    uintptr_t stack_lo;       /* lowest usable stack address (guard below) */
    uint64_t deadline_ns;     /* time limit (CLOCK_MONOTONIC_COARSE); 0: none */
    uint64_t slice_ns;        /* budget of one running slice; 0: none */
    uint64_t slice_end_ns;    /* when the running slice's budget ends */
    uint64_t slice_cpu0_ns;   /* the thread's CPU time when the slice's
                               * wall-clock budget first ran out (0: not yet) */
    int in_host;              /* > 0 while a host function runs */
    int interrupt_pending;    /* a limit passed during a host function: the
                               * kiln_trap_kind to unwind with (0: none) */
    uint32_t mem_limit_pages; /* see kiln_rt_set_memory_limit_pages */
    void (*preempt)(void *);  /* kiln_rt_call_preempt's hook (NULL: a slice past
                               * its budget stops with KILN_TRAP_BUDGET) */
    void *preempt_arg;
    int preempt_pending;                  /* the budget ran out in a host function: call
                                           * the hook when it returns */
    void *restore_frame;                  /* a preempted guest's registers, being restored */
    WASM_RT_UNWIND_TARGET *unwind_target; /* exceptions proposal */
    uint32_t exc_tag, exc_size;
    void *exc_data;
} kiln_rt_fiber_state;

/* A fresh state for a fiber whose usable stack starts at stack_lo; inherits the calling
 * thread's memory limit. */
void kiln_rt_fiber_state_init(kiln_rt_fiber_state *s, uintptr_t stack_lo);
/* Exchanges the calling thread's guest state with *s (kiln_fiber_resume calls it before
 * switching to a fiber and after it comes back), and points the thread's watchdog
 * record at the new state's deadline. Prepares the thread (kiln_rt_thread_init) first.
 * Returns 0, or -1 when the thread cannot be prepared (nothing exchanged). */
int kiln_rt_fiber_swap(kiln_rt_fiber_state *s);
/* Frees what a fiber's state owns (exception data). */
void kiln_rt_fiber_state_release(kiln_rt_fiber_state *s);

/* The running guest's time limit (CLOCK_MONOTONIC_COARSE ns, 0: none). A coarse-clock
 * deadline has passed once CLOCK_MONOTONIC reaches it (coarse never runs ahead). */
uint64_t kiln_rt_deadline_ns(void);
/* Inside a host function: marks the time limit as reached, so that kiln_rt_host_leave
 * unwinds with KILN_TRAP_INTERRUPTED. */
void kiln_rt_interrupt_set(void);

/* For tests of the watchdog: called by the watchdog thread after it decided to signal a
 * thread and before it does; and the number of signals it has sent. */
extern void (*volatile kiln_rt_watchdog_test_hook)(void);
unsigned long kiln_rt_watchdog_signals(void);

/* For tests of copy-on-write slots: 1 makes their release read pagemap instead of using
 * PAGEMAP_SCAN (what kernels before 6.7 do), 0 tries PAGEMAP_SCAN again. */
void kiln_rt_pagemap_scan_disable(int off);

#endif
