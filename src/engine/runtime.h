/* runtime.h — Kiln's implementation of the wasm2c runtime (wasm-rt.h), Kiln side.
 *
 * Generated code calls the wasm_rt_* functions declared in <wasm-rt.h>; Kiln implements
 * them in runtime.c (wabt's sample wasm-rt-impl.c is not used: it keeps global state and
 * leaks address space). This header is what the rest of Kiln uses:
 *
 *  - kiln_rt_call() runs guest code with a per-thread unwind target: a trap (explicit
 *    from generated code, or a SIGSEGV on a memory guard page or on the stack guard)
 *    unwinds back to it and is reported as a kiln_trap, never a crash.
 *  - kiln_rt_exit() is how WASI's proc_exit leaves the guest: it unwinds like a trap
 *    with kind KILN_TRAP_EXIT and the exit code.
 *  - Linear memories are virtual reservations, pooled and reused: the address space never
 *    runs out. Two kinds, one per compile variant of a module (kiln_mem_checks):
 *    "guard" memories are 8 GiB+ reservations whose guard pages do the bounds checks (the
 *    generated code has none); "bounds" memories are reserved for what they may reach
 *    (the module's maximum, capped by kiln_rt_set_memory_limit_pages) plus a 64 KiB
 *    guard, and the generated code checks every access against mem->size.
 *
 * Invariants: a thread runs at most one guest call at a time (no re-entry from host
 * functions into guest code); memories are only touched by the thread running the
 * instance that owns them. */
#ifndef KILN_ENGINE_RUNTIME_H
#define KILN_ENGINE_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include <wasm-rt.h>

typedef enum kiln_trap_kind {
    KILN_TRAP_NONE = 0,
    KILN_TRAP_UNREACHABLE,
    KILN_TRAP_MEMORY_OOB,
    KILN_TRAP_TABLE_OOB,
    KILN_TRAP_DIV_BY_ZERO,
    KILN_TRAP_INT_OVERFLOW,
    KILN_TRAP_INVALID_CONVERSION,
    KILN_TRAP_INDIRECT_CALL_TYPE,
    KILN_TRAP_NULL_ELEMENT,
    KILN_TRAP_STACK_EXHAUSTED,
    KILN_TRAP_UNCAUGHT_EXCEPTION,
    KILN_TRAP_INTERRUPTED, /* stopped from outside: timeout */
    KILN_TRAP_HOST,        /* a host function gave up (message in kiln_trap.message) */
    KILN_TRAP_EXIT,        /* not a fault: proc_exit(code) */
    KILN_TRAP_BUDGET,      /* stopped from outside: one running slice past its budget */
} kiln_trap_kind;

typedef struct kiln_trap {
    kiln_trap_kind kind;
    int exit_code;     /* for KILN_TRAP_EXIT */
    char message[160]; /* KILN_TRAP_HOST, or a fault in a component call: who and what */
} kiln_trap;

/* One line naming the trap: its message when it has one, else "unreachable executed",
 * "out of bounds memory access", ... */
const char *kiln_trap_message(const kiln_trap *t);
/* A short stable identifier for the trap kind ("unreachable", "memory-oob", ...). */
const char *kiln_trap_kind_name(kiln_trap_kind k);

/* Initializes the runtime once per process (signal handlers). Idempotent, thread-safe. */
int kiln_rt_init(void);

/* Prepares the calling thread for guest code: an alternate signal stack and the
 * thread's stack bounds (for stack-exhaustion detection). Called by kiln_rt_call
 * lazily; worker threads may call it at start. Returns 0 or -1. */
int kiln_rt_thread_init(void);

/* Lets the runtime's signals (guest faults, the watchdog's interrupt) reach the calling
 * thread, whose mask blocked them (an offload pool thread's: the async component driver
 * runs guests there), and blocks them again. 0 or -1. */
int kiln_rt_signals_unblock(void);
int kiln_rt_signals_block(void);

/* Runs fn(arg) as guest code. Returns 0 when it returned normally; otherwise fills *trap
 * and returns -1 (also for proc_exit: trap->kind == KILN_TRAP_EXIT). */
int kiln_rt_call(void (*fn)(void *), void *arg, kiln_trap *trap);

/* A call made from a host function while guest code runs (timeout_ns 0) is nested: it
 * runs within the outer call's time limit and returns to the host function's section.
 * Like kiln_rt_call, with a time limit: when timeout_ns (> 0) passes, the guest is
 * stopped (trap kind KILN_TRAP_INTERRUPTED) by a watchdog signal, at once in guest code,
 * or when the running host function returns (see kiln_rt_interrupt_pending). */
int kiln_rt_call_timeout(void (*fn)(void *), void *arg, kiln_trap *trap, uint64_t timeout_ns);

/* Like kiln_rt_call_timeout, and besides each *running slice* of the guest (from a start
 * or a resume of its fiber to its next park or its end) may use about slice_ns of CPU
 * time: once its wall-clock time passes slice_ns the thread's CPU time is watched, and a
 * guest that has used 1.5 x slice_ns stops with KILN_TRAP_BUDGET (a thread the OS set
 * aside is not blamed). Time parked (waiting in a host function on a
 * fiber) counts against timeout_ns only. The server's inline path: a guest may hold the
 * event loop for a slice, and may sleep as long as its request timeout allows. */
int kiln_rt_call_budget(void (*fn)(void *), void *arg, kiln_trap *trap, uint64_t timeout_ns,
                        uint64_t slice_ns);

/* Like kiln_rt_call_budget, but a running slice past its budget is not stopped: the guest
 * is preempted instead, and preempt(preempt_arg) runs on the guest's own stack (as a host
 * section: the guest's registers are saved below it), where it may park the guest's
 * fiber and resume it on another thread (kiln_fiber_park_then); when it returns, the
 * guest goes on exactly where it was, on whatever thread runs it then, with a new slice
 * of the budget then set (kiln_rt_slice_budget; the same one by default). Safe points:
 * the return of a host function, and any instruction of guest code (x86-64 Linux: the
 * watchdog's signal saves the guest's registers and redirects it to the hook; a guest in
 * Kiln's own code or a library's, e.g. memcpy, is preempted a tick later, once back in
 * its module's code). Elsewhere only host-function returns are safe points. The time
 * limit is unchanged. The server's wasi:http path: a guest whose response already
 * streams cannot be re-run, so it moves to an executor thread. */
int kiln_rt_call_preempt(void (*fn)(void *), void *arg, kiln_trap *trap, uint64_t timeout_ns,
                         uint64_t slice_ns, void (*preempt)(void *), void *preempt_arg);

/* Inside a guest call (a host function or a preempt hook): the running slice budget from
 * now on (0: none), starting a new slice. */
void kiln_rt_slice_budget(uint64_t slice_ns);

/* Host sections: import trampolines bracket every host function call with these, so an
 * interrupt never unwinds through host code. A host function that blocks (sleeps,
 * waits) should return early when kiln_rt_interrupt_pending() is true after EINTR. */
void kiln_rt_host_enter(void);
void kiln_rt_host_leave(void);
int kiln_rt_interrupt_pending(void);

/* Leaves guest code from a host function: unwinds to kiln_rt_call. */
_Noreturn void kiln_rt_exit(int code);
_Noreturn void kiln_rt_trap_host(const char *message);
_Noreturn void kiln_rt_trap(kiln_trap_kind kind);

/* Per-thread limit on linear-memory pages for memories created from now on by this
 * thread (0 = only the module's own maximum). memory.grow beyond it returns -1. */
void kiln_rt_set_memory_limit_pages(uint32_t pages);

/* The two compile variants of a module (see linear_memory.c and codegen.c):
 *  GUARD:  8 GiB reservation per memory, no checks in the code (fastest code; ~16,000
 *          memories alive at once exhaust the 128 TiB address space);
 *  BOUNDS: every load/store checked against mem->size, reservations sized to the memory's
 *          limit (100,000+ memories alive at once).
 * AUTO resolves to $KILN_MEMORY_CHECKS ("guard" or "bounds") when set, else GUARD. */
typedef enum kiln_mem_checks {
    KILN_MEM_CHECKS_AUTO = 0,
    KILN_MEM_CHECKS_GUARD,
    KILN_MEM_CHECKS_BOUNDS,
} kiln_mem_checks;
const char *kiln_mem_checks_name(kiln_mem_checks c);
/* Parses "guard" / "bounds" / "auto": 0, or -1 for anything else. */
int kiln_mem_checks_parse(const char *s, kiln_mem_checks *out);
/* AUTO -> $KILN_MEMORY_CHECKS (when valid) or GUARD; GUARD and BOUNDS unchanged. */
kiln_mem_checks kiln_mem_checks_resolve(kiln_mem_checks c);

/* What the bounds variant's generated code calls instead of wasm_rt_allocate_memory: a
 * memory whose reservation holds min(max_pages, the thread's limit) pages + a guard. */
void kiln_rt_allocate_memory_bounds(wasm_rt_memory_t *mem, uint32_t initial_pages,
                                    uint32_t max_pages);

/* Bounds check for host functions: 1 if [offset, offset+len) lies inside memory. */
static inline int kiln_mem_ok(const wasm_rt_memory_t *m, uint64_t offset, uint64_t len)
{
    return offset <= m->size && len <= (uint64_t)m->size - offset;
}

/* Memory images (snapshots of an initialized memory, see linear_memory.c).
 * kiln_rt_mem_image_new keeps `pages` pages of data, which must be the data of a memory
 * made by this runtime (its kind, guard or bounds, and reservation size are the slots'):
 * its non-zero pages, to copy, or a
 * memfd to map copy-on-write when there are many); attach gives `mem` a slot whose
 * contents equal the image, with growth up to max_pages (and the per-thread limit);
 * wasm_rt_free_memory on such a memory resets the slot and keeps it for the next attach:
 * no mmap/munmap on the request path once slots exist.
 * kiln_rt_mem_image_free requires every attached memory to be freed first. */
typedef struct kiln_rt_mem_image kiln_rt_mem_image;
kiln_rt_mem_image *kiln_rt_mem_image_new(const uint8_t *data, uint32_t pages);
int kiln_rt_mem_image_attach(kiln_rt_mem_image *img, wasm_rt_memory_t *mem, uint32_t max_pages);
/* Makes slots ready ahead of need until the image has at least n (0 or -1). */
int kiln_rt_mem_image_reserve(kiln_rt_mem_image *img, size_t n);
void kiln_rt_mem_image_free(kiln_rt_mem_image *img);
size_t kiln_rt_mem_image_slots(kiln_rt_mem_image *img);

/* Funcref tables' element arrays (funcref_table.c): every one is preceded by a header
 * that says whether the array is shared (an image's, read-only, used by every instance
 * made from it) or owned by its table. kiln_rt_funcref_elems_new gives n null elements
 * (NULL when out of memory); a shared array is freed by its owner (the image) with
 * kiln_rt_funcref_elems_free, never by a table. kiln_rt_funcref_table_own gives a table
 * on a shared array its own copy (generated code calls it before writing; traps when out
 * of memory). */
wasm_rt_funcref_t *kiln_rt_funcref_elems_new(uint32_t n, int shared);
/* An owned array of n elements left uninitialized, for a caller that writes all n before
 * the table's size says they are there (image.c's copies; a 138 KB table need not be
 * zeroed first). NULL when out of memory or n is over the table limit. */
wasm_rt_funcref_t *kiln_rt_funcref_elems_uninit(uint32_t n);
void kiln_rt_funcref_elems_free(wasm_rt_funcref_t *elems);
int kiln_rt_funcref_elems_shared(const wasm_rt_funcref_t *elems);
void kiln_rt_funcref_table_own(wasm_rt_funcref_table_t *t);

/* In a shared array, an element names its module instance relative to the table's own
 * struct (wasm_rt_funcref_table_t, which every module reaching the table sees at the
 * same address): an odd value v means `(char *)table + (v - 1)` (real pointers to
 * instances and their bindings are even). The generated code resolves it the same way
 * (codegen.c); these are the host's encoder and decoder: a host reading a funcref out of
 * a guest's table resolves it with kiln_rt_funcref_self(table, mi). */
static inline void *kiln_rt_funcref_self(void *instance, void *mi)
{
    uintptr_t v = (uintptr_t)mi;
    return (v & 1) ? (char *)instance + (v - 1) : mi;
}
static inline void *kiln_rt_funcref_relative(const void *instance, const void *mi)
{
    return (void *)((uintptr_t)mi - (uintptr_t)instance + 1);
}

/* Statistics of the memory pool (for tests and metrics). */
typedef struct kiln_rt_pool_stats {
    size_t reservations; /* reservations ever created */
    size_t free;         /* reservations waiting for reuse */
    size_t bounds;       /* of the reservations, those of bounds memories */
} kiln_rt_pool_stats;
void kiln_rt_pool_stats_get(kiln_rt_pool_stats *out);

#endif
