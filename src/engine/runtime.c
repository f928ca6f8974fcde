/* runtime.c — Kiln's implementation of the wasm2c runtime interface (<wasm-rt.h>).
 *
 * Traps: generated code calls wasm_rt_trap(); faults on guard pages raise SIGSEGV. Both
 * end in a siglongjmp to the target that kiln_rt_call() set for the calling thread, so
 * a trap costs its request, never the process. A fault that is not a guest fault (not on
 * a linear-memory reservation, not on the stack guard while guest code runs) is a host
 * bug: the handler restores the default action and the process crashes as it should.
 *
 * Linear memories, their reservations and images are in linear_memory.c.
 *
 * Thread state (alternate signal stack, watchdog record, the trap being reported) is
 * thread-local. The state of the running guest call (unwind target, stack bounds, time
 * limit, host-section depth, memory limit, exception) is thread-local too, but belongs
 * to whoever runs the guest: a fiber takes its own with it when it parks and brings it
 * back when resumed, maybe on another thread (kiln_rt_fiber_swap, fiber.c). The
 * function-type registry is global and mutex-protected. */
#include "engine/runtime.h"
#include "engine/runtime_internal.h"
#include "util/alloc.h"

#include <errno.h>
#include <fcntl.h>

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) && defined(__linux__)
/* Preemption in guest code (kiln_rt_call_preempt): the watchdog's signal handler saves the
 * guest's registers from its signal frame and redirects it to the hook. */
#define KILN_PREEMPT_ASYNC 1
#include <link.h>
#include <ucontext.h>
#else
#define KILN_PREEMPT_ASYNC 0
#endif

#define MAX_TABLE_ELEMS 10000000u
#define ALT_STACK_SIZE (64 * 1024)
/* Codes above this in wasm_rt_trap() are Kiln trap kinds (see codegen.c). */
#define KILN_TRAP_CODE_BASE 100

/* ---- thread state ---- */

typedef struct thread_state {
    int initialized;
    volatile int switching; /* a fiber switch is exchanging g: signals leave it alone */
    kiln_rt_fiber_state g;  /* the running guest's state (the thread's, or a fiber's) */
    int from_signal;        /* the unwind came from a signal handler */
    kiln_trap trap;         /* what happened */
    uintptr_t thread_stack_lo;
    void *alt_stack;
    struct watch_rec *watch; /* this thread's watchdog record */
} thread_state;

static _Thread_local thread_state tls;

/* The calling thread's state, found anew: code that may have parked on a fiber (and
 * moved to another thread) must not reuse a thread-local address computed before. */
__attribute__((noinline)) static thread_state *self(void)
{
    thread_state *t = &tls;
    __asm__ volatile("" : "+r"(t));
    return t;
}

static atomic_int rt_initialized;
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

/* noinline: callers that may have moved to another thread (a preempted guest) must not
 * reach a thread-local address computed before. */
static void unwind(kiln_trap_kind kind, int from_signal) __attribute__((noreturn, noinline));
static void unwind(kiln_trap_kind kind, int from_signal)
{
    tls.trap.kind = kind;
    tls.from_signal = from_signal;
    siglongjmp(*tls.g.jmp, 1);
}

static struct sigaction old_segv, old_bus;

static void on_fault(int sig, siginfo_t *si, void *uctx)
{
    (void)uctx;
    uintptr_t addr = (uintptr_t)si->si_addr;
    if (tls.g.jmp && !tls.switching) {
        if (kiln_rt_addr_in_reservation(addr)) unwind(KILN_TRAP_MEMORY_OOB, 1);
        /* stack_lo is the running fiber's (or the thread's): its guard lies below. */
        uintptr_t lo = tls.g.stack_lo;
        if (lo && addr < lo + 65536 && addr + (64u << 20) > lo)
            unwind(KILN_TRAP_STACK_EXHAUSTED, 1);
    }
    /* Not a guest fault: crash with the default action (or the previous handler). */
    struct sigaction *old = sig == SIGBUS ? &old_bus : &old_segv;
    sigaction(sig, old, NULL);
}

/* ---- interrupts (time limits) ----
 *
 * A watchdog thread scans one record per thread that runs guests with a deadline. When a
 * deadline passes it sends KILN_SIG_INTERRUPT to that thread. The handler acts only when
 * the guest running on the thread now has a deadline that has passed (so a signal meant
 * for a guest that has since finished, or for a fiber that has parked, is ignored; a
 * parked fiber's deadline is armed again when it resumes). It unwinds at once when the
 * thread is in guest code; inside a host function (counted by kiln_rt_host_enter/leave,
 * which the import trampolines call) it only marks the interrupt, and the host function's
 * return unwinds: host code is never cut midway. The request path pays two atomic stores
 * per call and nothing else.
 *
 * A record is owned by one thread at a time: the thread releases it when it exits and a
 * later thread may take it. The watchdog signals only under the record's lock and only if
 * the owner generation it saw is still the current one, so it never signals a thread
 * that is gone (or a new owner for the old owner's deadline). */

#define KILN_SIG_INTERRUPT (SIGRTMIN + 2)
#define WATCHDOG_TICK_NS 2000000 /* 2 ms */

typedef struct watch_rec {
    pthread_mutex_t lock; /* held while signalling the owner and while releasing */
    pthread_t thread;
    atomic_ulong deadline_ns; /* CLOCK_MONOTONIC_COARSE; 0: none */
    atomic_ulong gen;         /* owner generation: bumped when the owner releases it */
    atomic_int in_use;
    struct watch_rec *next;
} watch_rec;

static _Atomic(watch_rec *) watch_list;
static pthread_once_t watchdog_once = PTHREAD_ONCE_INIT;
static pthread_key_t watch_key;
static int watchdog_ok;
static atomic_ulong watchdog_signals;
void (*volatile kiln_rt_watchdog_test_hook)(void);

/* The coarse clock (a few ms of resolution, no syscall and ~10 ns): deadlines are
 * checked every tick anyway. Async-signal-safe. */
static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The earlier of the time limit and the running slice's end (0: none). */
static uint64_t effective_deadline(const kiln_rt_fiber_state *g)
{
    uint64_t d = g->deadline_ns, s = g->slice_ns ? g->slice_end_ns : 0;
    return !d ? s : !s ? d : d < s ? d : s;
}

/* The calling thread's CPU time (async-signal-safe). */
static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Starts a running slice of the current guest (on start and on every resume). No system
 * call: the thread's CPU time is read only if the slice's wall-clock budget runs out. */
static void slice_start(kiln_rt_fiber_state *g)
{
    g->slice_end_ns = mono_ns() + g->slice_ns;
    g->slice_cpu0_ns = 0;
}

/* The watchdog found the running slice past its wall-clock budget. The budget is meant as
 * CPU time: a loop thread that the OS set aside (two cores, many threads) has not spent
 * its guest's budget. So the first time, note the thread's CPU time and give the slice
 * half a budget more; then stop the guest only once it has used that half on the CPU
 * (a busy guest stops after at most 1.5 budgets of CPU time; a descheduled one is not
 * blamed). Returns 1 when the slice was extended, 0 when the guest is over budget.
 * Async-signal-safe. */
static int slice_extend(kiln_rt_fiber_state *g, uint64_t now)
{
    uint64_t cpu = thread_cpu_ns(), half = g->slice_ns / 2, more;
    if (!g->slice_cpu0_ns) {
        g->slice_cpu0_ns = cpu ? cpu : 1;
        more = half;
    } else {
        uint64_t used = cpu > g->slice_cpu0_ns ? cpu - g->slice_cpu0_ns : 0;
        if (used >= half) return 0;
        more = half - used;
    }
    g->slice_end_ns = now + (more > WATCHDOG_TICK_NS ? more : WATCHDOG_TICK_NS);
    watch_rec *r = tls.watch;
    if (r) atomic_store_explicit(&r->deadline_ns, effective_deadline(g), memory_order_release);
    return 1;
}

static int preempt_redirect(void *uctx);

/* The running slice's budget is spent and the guest has a preempt hook: preempt it at the
 * next safe point (the return of the running host function), or now by redirecting it
 * from guest code to the hook; a guest elsewhere (in Kiln's or a library's code) is
 * preempted at its next host-function return or looked at again a tick later.
 * Async-signal-safe. */
static void preempt_request(void *uctx, uint64_t now)
{
    kiln_rt_fiber_state *g = &tls.g;
    if (g->in_host) {
        g->preempt_pending = 1;
        g->slice_end_ns = UINT64_MAX; /* the hook starts the next slice */
    } else if (preempt_redirect(uctx)) {
        g->in_host++; /* the hook runs as a host section, on the guest's stack */
        g->slice_end_ns = UINT64_MAX;
    } else { /* at the next host-function return, or here again a tick later */
        g->preempt_pending = 1;
        g->slice_end_ns = now + WATCHDOG_TICK_NS;
    }
    watch_rec *r = tls.watch;
    if (r) atomic_store_explicit(&r->deadline_ns, effective_deadline(g), memory_order_release);
}

static void on_interrupt(int sig, siginfo_t *si, void *uctx)
{
    (void)sig, (void)si;
    uint64_t d = effective_deadline(&tls.g), now = mono_ns();
    if (tls.switching || !tls.g.jmp || !d || now < d) return;
    kiln_trap_kind kind =
        tls.g.deadline_ns && now >= tls.g.deadline_ns ? KILN_TRAP_INTERRUPTED : KILN_TRAP_BUDGET;
    if (kind == KILN_TRAP_BUDGET && slice_extend(&tls.g, now)) return;
    if (kind == KILN_TRAP_BUDGET && tls.g.preempt) {
        preempt_request(uctx, now);
        return;
    }
    if (tls.g.in_host)
        tls.g.interrupt_pending = (int)kind;
    else
        unwind(kind, 1);
}

static void *watchdog_main(void *arg)
{
    (void)arg;
    for (;;) {
        struct timespec tick = {0, WATCHDOG_TICK_NS};
        nanosleep(&tick, NULL);
        uint64_t now = mono_ns();
        for (watch_rec *r = atomic_load(&watch_list); r; r = r->next) {
            uint64_t d = atomic_load(&r->deadline_ns);
            if (!d || now < d || !atomic_load(&r->in_use)) continue;
            unsigned long gen = atomic_load(&r->gen);
            /* Fire once per deadline: clear it if it is still the one we saw. */
            if (!atomic_compare_exchange_strong(&r->deadline_ns, &d, 0)) continue;
            void (*hook)(void) = kiln_rt_watchdog_test_hook;
            if (hook) hook();
            pthread_mutex_lock(&r->lock);
            if (atomic_load(&r->in_use) && atomic_load(&r->gen) == gen) {
                pthread_kill(r->thread, KILN_SIG_INTERRUPT);
                atomic_fetch_add(&watchdog_signals, 1);
            }
            pthread_mutex_unlock(&r->lock);
        }
    }
    return NULL;
}

unsigned long kiln_rt_watchdog_signals(void)
{
    return atomic_load(&watchdog_signals);
}

/* Thread exit: the record is free for the next thread (after any signal in flight). */
static void watch_release(void *p)
{
    watch_rec *r = p;
    pthread_mutex_lock(&r->lock);
    atomic_store(&r->deadline_ns, 0);
    atomic_fetch_add(&r->gen, 1);
    atomic_store(&r->in_use, 0);
    pthread_mutex_unlock(&r->lock);
}

static void watchdog_start(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_interrupt;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK; /* no SA_RESTART: blocking calls see EINTR */
    sigemptyset(&sa.sa_mask);
    pthread_t th;
    pthread_attr_t attr;
    if (sigaction(KILN_SIG_INTERRUPT, &sa, NULL) < 0 ||
        pthread_key_create(&watch_key, watch_release) != 0 || pthread_attr_init(&attr) != 0)
        return;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* The watchdog must not take the interrupt signal itself. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&th, &attr, watchdog_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    watchdog_ok = rc == 0;
}

/* The calling thread's record, made (or reused) on first need. */
static watch_rec *watch_self(void)
{
    if (tls.watch) return tls.watch;
    pthread_once(&watchdog_once, watchdog_start);
    if (!watchdog_ok) return NULL;
    watch_rec *r = NULL;
    for (watch_rec *q = atomic_load(&watch_list); q && !r; q = q->next) {
        int expect = 0;
        if (atomic_compare_exchange_strong(&q->in_use, &expect, 1)) r = q;
    }
    if (r) {
        pthread_mutex_lock(&r->lock);
        r->thread = pthread_self();
        pthread_mutex_unlock(&r->lock);
    } else {
        r = kiln_calloc(1, sizeof *r);
        if (!r) return NULL;
        if (pthread_mutex_init(&r->lock, NULL) != 0) {
            kiln_free(r);
            return NULL;
        }
        r->thread = pthread_self();
        atomic_store(&r->in_use, 1);
        watch_rec *head = atomic_load(&watch_list);
        do {
            r->next = head;
        } while (!atomic_compare_exchange_weak(&watch_list, &head, r));
    }
    pthread_setspecific(watch_key, r);
    tls.watch = r;
    return r;
}

/* Makes d (0: none) the running guest's deadline and the one the watchdog watches for
 * this thread. */
static void set_deadline(thread_state *t, uint64_t d)
{
    t->g.deadline_ns = d;
    uint64_t eff = effective_deadline(&t->g);
    watch_rec *r = eff ? watch_self() : t->watch;
    if (r) atomic_store_explicit(&r->deadline_ns, eff, memory_order_release);
}

void kiln_rt_host_enter(void)
{
    tls.g.in_host++;
}

/* Calls the running guest's preempt hook (on its fiber, in a host section), which may move
 * the guest to another thread; then starts a new slice of whatever budget is set. */
__attribute__((noinline)) static void preempt_run(void)
{
    thread_state *t = self();
    t->g.preempt_pending = 0;
    void (*fn)(void *) = t->g.preempt;
    if (fn) fn(t->g.preempt_arg); /* may park: the thread may be another one after it */
    t = self();
    if (t->g.slice_ns) slice_start(&t->g);
    set_deadline(t, t->g.deadline_ns);
}

/* kiln_rt_host_leave when a preemption is pending (kept out of its fast path). */
__attribute__((noinline)) static void host_leave_preempt(void)
{
    preempt_run();
    thread_state *t = self();
    int kind = *(volatile int *)&t->g.interrupt_pending;
    if (--t->g.in_host == 0 && kind) {
        t->g.interrupt_pending = 0;
        unwind((kiln_trap_kind)kind, 0);
    }
}

void kiln_rt_host_leave(void)
{
    if (__builtin_expect(tls.g.preempt_pending, 0) && tls.g.in_host == 1 &&
        !tls.g.interrupt_pending) {
        host_leave_preempt();
        return;
    }
    int kind = *(volatile int *)&tls.g.interrupt_pending;
    if (--tls.g.in_host == 0 && kind) {
        tls.g.interrupt_pending = 0;
        unwind((kiln_trap_kind)kind, 0);
    }
}

int kiln_rt_interrupt_pending(void)
{
    return *(volatile int *)&tls.g.interrupt_pending;
}

uint64_t kiln_rt_deadline_ns(void)
{
    return tls.g.deadline_ns;
}

void kiln_rt_slice_budget(uint64_t slice_ns)
{
    thread_state *t = self();
    t->g.slice_ns = slice_ns;
    t->g.preempt_pending = 0;
    if (slice_ns) slice_start(&t->g);
    set_deadline(t, t->g.deadline_ns);
}

/* ---- preemption in guest code (x86-64 Linux) ----
 *
 * The watchdog's signal finds the guest in its module's code (any instruction: not in
 * Kiln's or a library's code, which may hold locks or thread-local state, nor in a host
 * section). The handler copies the interrupted registers (general and the whole FPU/SSE/
 * AVX state as the kernel saved it) from its signal frame onto the guest's stack, below
 * the red zone, and makes the signal return into preempt_entry on that stack, as if the
 * guest had called it. preempt_entry runs the hook (which may move the fiber to another
 * thread), then sends its thread a second signal whose handler writes the saved registers
 * into its own frame: the kernel's sigreturn puts the guest back exactly where it was,
 * on whatever thread it is now. Code ranges: every executable segment loaded when the
 * runtime starts is host code; guest modules are loaded later (dlopen of cache entries). */
#if KILN_PREEMPT_ASYNC
#define KILN_SIG_RESTORE (SIGRTMIN + 3)
#define MAX_HOST_TEXT 256
#define PREEMPT_STACK (64 * 1024) /* room below the saved registers for the hook */

typedef struct preempt_frame {
    greg_t gregs[NGREG];
    size_t fp_len;
    _Alignas(64) unsigned char fp[]; /* the FPU/SSE/AVX state as the kernel wrote it */
} preempt_frame;

static struct {
    uintptr_t lo, hi;
} host_text[MAX_HOST_TEXT];
static int nhost_text, preempt_async_ok;

static int note_host_text(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size, (void)data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        if (nhost_text == MAX_HOST_TEXT) return 1; /* too many to tell: no async preemption */
        host_text[nhost_text].lo = info->dlpi_addr + ph->p_vaddr;
        host_text[nhost_text].hi = host_text[nhost_text].lo + ph->p_memsz;
        nhost_text++;
    }
    return 0;
}

/* Bytes of the FPU state at fp as the kernel laid it out in a signal frame: the xsave area
 * with its trailer when the frame says so (FP_XSTATE_MAGIC1), else the legacy 512. */
static size_t fp_state_len(const void *fp)
{
    uint32_t sw[2];
    memcpy(sw, (const char *)fp + 464, sizeof sw);
    return sw[0] == 0x46505853u && sw[1] >= 512 && sw[1] <= 65536 ? sw[1] : 512;
}

static void preempt_entry(preempt_frame *fr) __attribute__((noreturn, used));

static int preempt_redirect(void *uctx)
{
    ucontext_t *uc = uctx;
    if (!preempt_async_ok || !uc || !uc->uc_mcontext.fpregs) return 0;
    greg_t *gr = uc->uc_mcontext.gregs;
    uintptr_t pc = (uintptr_t)gr[REG_RIP], sp = (uintptr_t)gr[REG_RSP];
    for (int i = 0; i < nhost_text; i++)
        if (pc >= host_text[i].lo && pc < host_text[i].hi) return 0;
    size_t fl = fp_state_len(uc->uc_mcontext.fpregs);
    uintptr_t lo = tls.g.stack_lo;
    if (!lo || sp < lo || sp - lo < 128 + sizeof(preempt_frame) + fl + 64 + PREEMPT_STACK)
        return 0; /* (the guest then stops at its time limit, or its next host call) */
    preempt_frame *fr = (preempt_frame *)((sp - 128 - sizeof(preempt_frame) - fl) & ~(uintptr_t)63);
    memcpy(fr->gregs, gr, sizeof fr->gregs);
    fr->fp_len = fl;
    memcpy(fr->fp, uc->uc_mcontext.fpregs, fl);
    uintptr_t nsp = ((uintptr_t)fr & ~(uintptr_t)15) - 8; /* as right after a call */
    *(uint64_t *)nsp = 0;                                 /* no return address */
    gr[REG_RSP] = (greg_t)nsp;
    gr[REG_RIP] = (greg_t)(uintptr_t)preempt_entry;
    gr[REG_RDI] = (greg_t)(uintptr_t)fr;
    return 1;
}

/* Where a preempted guest continues (on its own stack, in a host section): the hook, then
 * the restore of its registers. */
static void preempt_entry(preempt_frame *fr)
{
    preempt_run();
    thread_state *t = self();
    int kind = *(volatile int *)&t->g.interrupt_pending;
    t->g.in_host--;
    if (kind) { /* the time limit passed meanwhile */
        t->g.interrupt_pending = 0;
        unwind((kiln_trap_kind)kind, 0);
    }
    t->g.restore_frame = fr;
    pthread_kill(pthread_self(), KILN_SIG_RESTORE);
    abort(); /* on_restore does not return here */
}

static void on_restore(int sig, siginfo_t *si, void *uctx)
{
    (void)sig;
    ucontext_t *uc = uctx;
    preempt_frame *fr = tls.g.restore_frame;
    if (!fr || si->si_code != SI_TKILL || si->si_pid != getpid()) return;
    tls.g.restore_frame = NULL;
    greg_t *gr = uc->uc_mcontext.gregs;
    greg_t segs = gr[REG_CSGSFS];
    memcpy(gr, fr->gregs, sizeof fr->gregs);
    gr[REG_CSGSFS] = segs;
    if (!uc->uc_mcontext.fpregs || fp_state_len(uc->uc_mcontext.fpregs) < fr->fp_len) abort();
    memcpy(uc->uc_mcontext.fpregs, fr->fp, fr->fp_len);
}

/* Once, from kiln_rt_init: the restore signal and the host code ranges. */
static void preempt_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_restore;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, KILN_SIG_INTERRUPT);
    if (sigaction(KILN_SIG_RESTORE, &sa, NULL) < 0) return;
    preempt_async_ok = dl_iterate_phdr(note_host_text, NULL) == 0;
}
#else
static int preempt_redirect(void *uctx)
{
    (void)uctx;
    return 0;
}

static void preempt_init(void) {}
#endif

void kiln_rt_interrupt_set(void)
{
    if (tls.g.in_host) tls.g.interrupt_pending = KILN_TRAP_INTERRUPTED;
}

/* ---- fibers: the guest state moves with the fiber ---- */

void kiln_rt_fiber_state_init(kiln_rt_fiber_state *s, uintptr_t stack_lo)
{
    memset(s, 0, sizeof *s);
    s->stack_lo = stack_lo;
    s->mem_limit_pages = tls.g.mem_limit_pages;
}

int kiln_rt_fiber_swap(kiln_rt_fiber_state *s)
{
    if (kiln_rt_thread_init() < 0) return -1;
    thread_state *t = self();
    t->switching = 1;
    atomic_signal_fence(memory_order_seq_cst);
    kiln_rt_fiber_state tmp = t->g;
    t->g = *s;
    *s = tmp;
    atomic_signal_fence(memory_order_seq_cst);
    /* The watchdog follows the guest now running here; a parked guest's deadline is
     * enforced by the waiting API until it runs again. A resumed guest starts a new
     * running slice. */
    if (t->g.slice_ns) slice_start(&t->g);
    set_deadline(t, t->g.deadline_ns);
    /* A deadline that passed while parked, found back in a host function: it unwinds as
     * soon as that returns. */
    if (t->g.deadline_ns && t->g.in_host && mono_ns() >= t->g.deadline_ns)
        t->g.interrupt_pending = KILN_TRAP_INTERRUPTED;
    atomic_signal_fence(memory_order_seq_cst);
    t->switching = 0;
    return 0;
}

void kiln_rt_fiber_state_release(kiln_rt_fiber_state *s)
{
    kiln_free(s->exc_data);
    s->exc_data = NULL;
}

int kiln_rt_init(void)
{
    if (atomic_load(&rt_initialized)) return 0;
    pthread_mutex_lock(&init_lock);
    int rc = 0;
    if (!atomic_load(&rt_initialized)) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_fault;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGSEGV, &sa, &old_segv) < 0 || sigaction(SIGBUS, &sa, &old_bus) < 0) {
            rc = -1;
        } else {
            preempt_init();
            atomic_store(&rt_initialized, 1);
        }
    }
    pthread_mutex_unlock(&init_lock);
    return rc;
}

int kiln_rt_thread_init(void)
{
    if (tls.initialized) return 0;
    if (kiln_rt_init() < 0) return -1;
    /* Alternate signal stack, so that stack overflow can still be handled. */
    stack_t ss;
    if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_DISABLE)) {
        void *alt =
            mmap(NULL, ALT_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (alt == MAP_FAILED) return -1;
        ss.ss_sp = alt;
        ss.ss_size = ALT_STACK_SIZE;
        ss.ss_flags = 0;
        if (sigaltstack(&ss, NULL) < 0) {
            munmap(alt, ALT_STACK_SIZE);
            return -1;
        }
        tls.alt_stack = alt;
    }
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *lo;
        size_t size;
        if (pthread_attr_getstack(&attr, &lo, &size) == 0) tls.thread_stack_lo = (uintptr_t)lo;
        pthread_attr_destroy(&attr);
    }
    /* On a fiber, g is the fiber's already (with the fiber's stack). */
    if (!tls.g.stack_lo) tls.g.stack_lo = tls.thread_stack_lo;
    tls.initialized = 1;
    return 0;
}

/* SIGSEGV, SIGBUS and the interrupt unblocked (how SIG_UNBLOCK) or blocked. */
static int runtime_signals(int how)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGSEGV);
    sigaddset(&set, SIGBUS);
    sigaddset(&set, KILN_SIG_INTERRUPT);
    return pthread_sigmask(how, &set, NULL) == 0 ? 0 : -1;
}

int kiln_rt_signals_unblock(void)
{
    return runtime_signals(SIG_UNBLOCK);
}

int kiln_rt_signals_block(void)
{
    return runtime_signals(SIG_BLOCK);
}

int kiln_rt_call(void (*fn)(void *), void *arg, kiln_trap *trap)
{
    return kiln_rt_call_timeout(fn, arg, trap, 0);
}

/* fn may park (on a fiber) and come back on another thread: after it, the thread state
 * is looked up again (self()), never reused from before. */
int kiln_rt_call_timeout(void (*fn)(void *), void *arg, kiln_trap *trap, uint64_t timeout_ns)
{
    return kiln_rt_call_budget(fn, arg, trap, timeout_ns, 0);
}

int kiln_rt_call_budget(void (*fn)(void *), void *arg, kiln_trap *trap, uint64_t timeout_ns,
                        uint64_t slice_ns)
{
    return kiln_rt_call_preempt(fn, arg, trap, timeout_ns, slice_ns, NULL, NULL);
}

int kiln_rt_call_preempt(void (*fn)(void *), void *arg, kiln_trap *trap, uint64_t timeout_ns,
                         uint64_t slice_ns, void (*preempt)(void *), void *preempt_arg)
{
    if (kiln_rt_thread_init() < 0) {
        trap->kind = KILN_TRAP_HOST;
        snprintf(trap->message, sizeof trap->message, "cannot prepare thread for guest code");
        return -1;
    }
    sigjmp_buf jb;
    thread_state *t = self();
    sigjmp_buf *volatile prev = t->g.jmp;
    volatile uint64_t prev_deadline = t->g.deadline_ns;
    volatile uint64_t prev_slice = t->g.slice_ns, prev_slice_end = t->g.slice_end_ns,
                      prev_slice_cpu0 = t->g.slice_cpu0_ns;
    void (*volatile prev_preempt)(void *) = t->g.preempt;
    void *volatile prev_preempt_arg = t->g.preempt_arg;
    int limited = timeout_ns || slice_ns;
    /* A call nested in a host function (the component model's calls between instances, a
     * guest's realloc) stays part of the outer call: the outer call's deadline still
     * interrupts it, and the host section is resumed when it returns. */
    volatile int nested = prev != NULL && !limited;
    volatile int saved_in_host = t->g.in_host;
    if (nested && t->g.interrupt_pending) {
        /* The outer call's limit passed in the host function: do not start. */
        trap->kind = (kiln_trap_kind)t->g.interrupt_pending;
        trap->message[0] = '\0';
        return -1;
    }
    t->g.in_host = 0;
    t->g.interrupt_pending = 0;
    if (slice_ns) {
        t->g.slice_ns = slice_ns;
        slice_start(&t->g);
    }
    if (limited) { /* a nested call keeps the outer call's hook */
        t->g.preempt = preempt;
        t->g.preempt_arg = preempt_arg;
        t->g.preempt_pending = 0;
    }
    if (limited) set_deadline(t, timeout_ns ? mono_ns() + timeout_ns : prev_deadline);
    t->g.jmp = &jb;
    if (sigsetjmp(jb, 0) == 0) {
        fn(arg);
        t = self();
        t->g.jmp = prev;
        t->g.slice_ns = prev_slice;
        t->g.slice_end_ns = prev_slice_end;
        t->g.slice_cpu0_ns = prev_slice_cpu0;
        if (limited) {
            t->g.preempt = prev_preempt;
            t->g.preempt_arg = prev_preempt_arg;
            t->g.preempt_pending = 0;
            set_deadline(t, prev_deadline);
        }
        if (nested) t->g.in_host = saved_in_host;
        trap->kind = KILN_TRAP_NONE;
        return 0;
    }
    t = self();
    t->g.jmp = prev;
    t->g.slice_ns = prev_slice;
    t->g.slice_end_ns = prev_slice_end;
    t->g.slice_cpu0_ns = prev_slice_cpu0;
    if (limited) {
        t->g.preempt = prev_preempt;
        t->g.preempt_arg = prev_preempt_arg;
        t->g.preempt_pending = 0;
        set_deadline(t, prev_deadline);
    }
    t->g.in_host = nested ? saved_in_host : 0;
    t->g.interrupt_pending = 0;
    if (t->from_signal) {
        /* The handler ran with SIGSEGV/SIGBUS blocked and we left it by longjmp. */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGSEGV);
        sigaddset(&set, SIGBUS);
        sigaddset(&set, KILN_SIG_INTERRUPT);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        t->from_signal = 0;
    }
    *trap = t->trap;
    memset(&t->trap, 0, sizeof t->trap);
    return -1;
}

_Noreturn void kiln_rt_exit(int code)
{
    tls.trap.exit_code = code;
    unwind(KILN_TRAP_EXIT, 0);
}

_Noreturn void kiln_rt_trap_host(const char *message)
{
    snprintf(tls.trap.message, sizeof tls.trap.message, "%s", message);
    unwind(KILN_TRAP_HOST, 0);
}

_Noreturn void kiln_rt_trap(kiln_trap_kind kind)
{
    unwind(kind, 0);
}

void kiln_rt_set_memory_limit_pages(uint32_t pages)
{
    tls.g.mem_limit_pages = pages;
}

uint32_t kiln_rt_memory_limit_pages(void)
{
    return tls.g.mem_limit_pages;
}

static const struct {
    const char *name, *message;
} trap_text[] = {
    [KILN_TRAP_NONE] = {"none", "no trap"},
    [KILN_TRAP_UNREACHABLE] = {"unreachable", "unreachable executed"},
    [KILN_TRAP_MEMORY_OOB] = {"memory-oob", "out of bounds memory access"},
    [KILN_TRAP_TABLE_OOB] = {"table-oob", "out of bounds table access (undefined element)"},
    [KILN_TRAP_DIV_BY_ZERO] = {"div-by-zero", "integer divide by zero"},
    [KILN_TRAP_INT_OVERFLOW] = {"int-overflow", "integer overflow"},
    [KILN_TRAP_INVALID_CONVERSION] = {"invalid-conversion", "invalid conversion to integer"},
    [KILN_TRAP_INDIRECT_CALL_TYPE] = {"indirect-call-type", "indirect call type mismatch"},
    [KILN_TRAP_NULL_ELEMENT] = {"null-element", "uninitialized element (null reference)"},
    [KILN_TRAP_STACK_EXHAUSTED] = {"stack-exhausted", "call stack exhausted"},
    [KILN_TRAP_UNCAUGHT_EXCEPTION] = {"uncaught-exception", "uncaught exception"},
    [KILN_TRAP_INTERRUPTED] = {"interrupted", "interrupted: time limit exceeded"},
    [KILN_TRAP_HOST] = {"host", "host error"},
    [KILN_TRAP_EXIT] = {"exit", "exit"},
    [KILN_TRAP_BUDGET] = {"budget", "interrupted: running slice past its budget"},
};

const char *kiln_trap_kind_name(kiln_trap_kind k)
{
    if ((unsigned)k >= sizeof trap_text / sizeof trap_text[0]) return "unknown";
    return trap_text[k].name;
}

const char *kiln_trap_message(const kiln_trap *t)
{
    if (t->message[0]) return t->message;
    if ((unsigned)t->kind >= sizeof trap_text / sizeof trap_text[0]) return "unknown trap";
    return trap_text[t->kind].message;
}

/* ---- the wasm-rt.h interface ---- */

void wasm_rt_init(void)
{
    kiln_rt_init();
}

bool wasm_rt_is_initialized(void)
{
    return atomic_load(&rt_initialized) != 0;
}

void wasm_rt_free(void) {}

void wasm_rt_trap(wasm_rt_trap_t code)
{
    kiln_trap_kind k;
    switch ((int)code) {
    case WASM_RT_TRAP_OOB:
        k = KILN_TRAP_TABLE_OOB;
        break; /* memory OOB is remapped */
    case WASM_RT_TRAP_INT_OVERFLOW:
        k = KILN_TRAP_INT_OVERFLOW;
        break;
    case WASM_RT_TRAP_DIV_BY_ZERO:
        k = KILN_TRAP_DIV_BY_ZERO;
        break;
    case WASM_RT_TRAP_INVALID_CONVERSION:
        k = KILN_TRAP_INVALID_CONVERSION;
        break;
    case WASM_RT_TRAP_UNREACHABLE:
        k = KILN_TRAP_UNREACHABLE;
        break;
    case WASM_RT_TRAP_CALL_INDIRECT:
        k = KILN_TRAP_INDIRECT_CALL_TYPE;
        break;
    case WASM_RT_TRAP_UNCAUGHT_EXCEPTION:
        k = KILN_TRAP_UNCAUGHT_EXCEPTION;
        break;
    case WASM_RT_TRAP_EXHAUSTION:
        k = KILN_TRAP_STACK_EXHAUSTED;
        break;
    default: {
        /* Kiln's own codes (codegen.c) name a fault kind; anything else is a host error
         * that says which code it was (never a kind outside the enum). */
        long kind = (long)code - KILN_TRAP_CODE_BASE;
        if (kind > KILN_TRAP_NONE && kind < KILN_TRAP_HOST) {
            k = (kiln_trap_kind)kind;
        } else {
            k = KILN_TRAP_HOST;
            snprintf(tls.trap.message, sizeof tls.trap.message, "unknown trap code %ld",
                     (long)code);
        }
    }
    }
    if (!tls.g.jmp) {
        fprintf(stderr, "kiln: trap outside guest code: %s\n", kiln_trap_kind_name(k));
        abort();
    }
    unwind(k, 0);
}

const char *wasm_rt_strerror(wasm_rt_trap_t trap)
{
    kiln_trap t = {.kind = KILN_TRAP_NONE};
    switch (trap) {
    case WASM_RT_TRAP_NONE:
        return "no error";
    case WASM_RT_TRAP_OOB:
        t.kind = KILN_TRAP_MEMORY_OOB;
        break;
    case WASM_RT_TRAP_INT_OVERFLOW:
        t.kind = KILN_TRAP_INT_OVERFLOW;
        break;
    case WASM_RT_TRAP_DIV_BY_ZERO:
        t.kind = KILN_TRAP_DIV_BY_ZERO;
        break;
    case WASM_RT_TRAP_INVALID_CONVERSION:
        t.kind = KILN_TRAP_INVALID_CONVERSION;
        break;
    case WASM_RT_TRAP_UNREACHABLE:
        t.kind = KILN_TRAP_UNREACHABLE;
        break;
    case WASM_RT_TRAP_CALL_INDIRECT:
        t.kind = KILN_TRAP_INDIRECT_CALL_TYPE;
        break;
    case WASM_RT_TRAP_UNCAUGHT_EXCEPTION:
        t.kind = KILN_TRAP_UNCAUGHT_EXCEPTION;
        break;
    case WASM_RT_TRAP_EXHAUSTION:
        t.kind = KILN_TRAP_STACK_EXHAUSTED;
        break;
    }
    return kiln_trap_message(&t);
}

/* Function types: a global registry mapping each distinct signature to one index, so
 * that call_indirect can compare types across modules with an integer compare. */
static pthread_mutex_t types_lock = PTHREAD_MUTEX_INITIALIZER;
static char **type_sigs;
static uint32_t ntype_sigs, cap_type_sigs;

uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...)
{
    static const char letters[] = {'i', 'j', 'f', 'd', 'r', 'e'};
    size_t n = (size_t)params + results + 2;
    char *sig = kiln_malloc(n);
    if (!sig) kiln_rt_trap_host("out of memory registering a function type");
    va_list ap;
    va_start(ap, results);
    size_t k = 0;
    for (uint32_t i = 0; i < params + results; i++) {
        if (i == params) sig[k++] = ':';
        int t = va_arg(ap, int);
        sig[k++] = (t >= 0 && t < 6) ? letters[t] : '?';
    }
    if (params + results == params) sig[k++] = ':';
    sig[k] = '\0';
    va_end(ap);
    pthread_mutex_lock(&types_lock);
    uint32_t idx = UINT32_MAX;
    for (uint32_t i = 0; i < ntype_sigs; i++)
        if (strcmp(type_sigs[i], sig) == 0) idx = i;
    if (idx == UINT32_MAX) {
        if (ntype_sigs == cap_type_sigs) {
            uint32_t cap = cap_type_sigs ? cap_type_sigs * 2 : 64;
            char **p = kiln_realloc(type_sigs, cap * sizeof *p);
            if (!p) {
                pthread_mutex_unlock(&types_lock);
                kiln_free(sig);
                kiln_rt_trap_host("out of memory registering a function type");
            }
            type_sigs = p;
            cap_type_sigs = cap;
        }
        type_sigs[ntype_sigs] = sig;
        idx = ntype_sigs++;
        sig = NULL;
    }
    pthread_mutex_unlock(&types_lock);
    kiln_free(sig);
    /* Index 0 is never used, so that a zeroed funcref never matches a real type. */
    return idx + 1;
}

/* Exceptions (not enabled in translation, but part of the interface). */
static atomic_uint next_tag;

uint32_t wasm_rt_register_tag(uint32_t size)
{
    (void)size;
    return atomic_fetch_add(&next_tag, 1);
}

void wasm_rt_load_exception(uint32_t tag, uint32_t size, const void *values)
{
    void *p = kiln_realloc(tls.g.exc_data, size);
    if (!p && size) kiln_rt_trap_host("out of memory loading an exception");
    tls.g.exc_data = p;
    tls.g.exc_tag = tag;
    tls.g.exc_size = size;
    if (size) memcpy(p, values, size);
}

void wasm_rt_throw(void)
{
    if (tls.g.unwind_target) longjmp(*tls.g.unwind_target, 1);
    wasm_rt_trap(WASM_RT_TRAP_UNCAUGHT_EXCEPTION);
}

WASM_RT_UNWIND_TARGET *wasm_rt_get_unwind_target(void)
{
    return tls.g.unwind_target;
}

void wasm_rt_set_unwind_target(WASM_RT_UNWIND_TARGET *target)
{
    tls.g.unwind_target = target;
}

uint32_t wasm_rt_exception_tag(void)
{
    return tls.g.exc_tag;
}

uint32_t wasm_rt_exception_size(void)
{
    return tls.g.exc_size;
}

void *wasm_rt_exception(void)
{
    return tls.g.exc_data;
}

/* ---- tables ---- */

#define DEFINE_TABLE(type, elem_t)                                                                 \
    void wasm_rt_allocate_##type##_table(wasm_rt_##type##_table_t *t, uint32_t elements,           \
                                         uint32_t max_elements)                                    \
    {                                                                                              \
        if (elements > MAX_TABLE_ELEMS) kiln_rt_trap_host("table limit exceeded");                 \
        t->size = elements;                                                                        \
        t->max_size = max_elements;                                                                \
        t->data = kiln_calloc(elements ? elements : 1, sizeof(elem_t));                            \
        if (!t->data) kiln_rt_trap_host("out of memory allocating a table");                       \
    }                                                                                              \
    void wasm_rt_free_##type##_table(wasm_rt_##type##_table_t *t)                                  \
    {                                                                                              \
        kiln_free(t->data);                                                                        \
        t->data = NULL;                                                                            \
        t->size = 0;                                                                               \
    }                                                                                              \
    static uint32_t grow_##type##_table(wasm_rt_##type##_table_t *t, uint32_t delta, elem_t init)  \
    {                                                                                              \
        uint32_t old = t->size;                                                                    \
        uint64_t want = (uint64_t)old + delta;                                                     \
        if (want > t->max_size || want > MAX_TABLE_ELEMS) return UINT32_MAX;                       \
        if (delta == 0) return old;                                                                \
        elem_t *p = kiln_realloc(t->data, (size_t)want * sizeof(elem_t));                          \
        if (!p) return UINT32_MAX;                                                                 \
        for (uint64_t i = old; i < want; i++)                                                      \
            p[i] = init;                                                                           \
        t->data = p;                                                                               \
        t->size = (uint32_t)want;                                                                  \
        return old;                                                                                \
    }                                                                                              \
    uint32_t wasm_rt_grow_##type##_table(wasm_rt_##type##_table_t *t, uint32_t delta, elem_t init) \
    {                                                                                              \
        kiln_rt_host_enter();                                                                      \
        uint32_t r = grow_##type##_table(t, delta, init);                                          \
        kiln_rt_host_leave();                                                                      \
        return r;                                                                                  \
    }

/* funcref tables: funcref_table.c (their arrays may be shared between instances). */
DEFINE_TABLE(externref, wasm_rt_externref_t)
