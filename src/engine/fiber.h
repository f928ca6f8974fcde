/* fiber.h — guests on fibers, and the waiting API for host functions.
 *
 * A fiber is a function running on its own stack. kiln_fiber_resume() runs it until it
 * finishes or parks (kiln_fiber_park() on the fiber); a parked fiber is resumed later by
 * whoever owns it, possibly on another thread (at most one thread runs a fiber at a time).
 * Stacks come from a pool: mmap'd once with a guard region below (64 KiB, PROT_NONE),
 * reused, never unmapped on the hot path. The guest runtime's per-call state (unwind
 * target, host-section depth, pending interrupt, time limit, stack bounds, exception
 * state) moves with the fiber: a trap, a stack overflow (a fault on the fiber's guard)
 * or a time limit is the fiber's own, never its neighbour's.
 *
 * Waiting. A host function that must wait calls kiln_wait_sleep / kiln_wait_fd /
 * kiln_offload. What happens depends on the thread:
 *   - no scheduler bound to the thread, or not on a fiber (kiln run, executor threads):
 *     the thread blocks (nanosleep / ppoll / a direct call), and a time-limit signal
 *     ends the wait early as before;
 *   - a scheduler bound (kiln_sched_bind) and on a fiber: the fiber parks and the
 *     thread's event loop runs other fibers until the wait ends.
 * Either way a wait that outlives the guest's time limit ends at the limit, returns
 * KILN_WAIT_INTERRUPTED, and marks the interrupt pending: the host function returns and
 * the import trampoline's kiln_rt_host_leave unwinds the guest with
 * KILN_TRAP_INTERRUPTED. (An offloaded job is never cut: its fiber waits for it.)
 *
 * Integrating an event loop (the whole contract):
 *   1. implement struct kiln_sched: wait(s, f, req) starts waiting for req — a timer at
 *      req->deadline_ns, plus readiness of req->fd for KILN_WAIT_FD — and when the first
 *      of them happens calls kiln_sched_complete(f, result) exactly once;
 *      wake(s, f) makes f runnable: called from ANY thread (offload pool threads), it
 *      must queue f and wake the loop (eventfd, h2o_multithread_send_message, ...);
 *   2. on the loop thread call kiln_sched_bind(&sched) once;
 *   3. run each request as f = kiln_fiber_new(fn, arg); kiln_fiber_resume(f): when it
 *      returns KILN_FIBER_DONE free it, when KILN_FIBER_PARKED forget it until wake(s, f)
 *      is called, then kiln_fiber_resume(f) again (from the loop, never from wake).
 * wait() is called on the loop thread from inside kiln_fiber_resume, after the fiber has
 * fully parked, so a completion can never race with the park. req stays valid until the
 * completion. kiln_sched_complete always goes through wake(), also on the loop thread.
 * Deadlines are CLOCK_MONOTONIC nanoseconds. To abandon a parked guest (the client went
 * away, shutdown), drop its timer/fd watch, complete its wait with KILN_WAIT_INTERRUPTED
 * and resume it: the guest unwinds with KILN_TRAP_INTERRUPTED and the fiber finishes.
 * (A fiber parked in kiln_offload has no wait() registered: it comes back by itself when
 * the job ends.) A fiber can only be freed when done (or never resumed).
 *
 * Invariants: fibers do not nest (a fiber never resumes another fiber); a fiber parks
 * only from host code (inside kiln_rt_host_enter/leave) or outside guest calls. A fiber
 * starts with the memory limit (kiln_rt_set_memory_limit_pages) of the thread that made
 * it; set a different one inside the fiber. */
#ifndef KILN_ENGINE_FIBER_H
#define KILN_ENGINE_FIBER_H

#include <stddef.h>
#include <stdint.h>

typedef struct kiln_fiber kiln_fiber;

/* Usable stack bytes per fiber unless changed (the guard region is extra). */
#define KILN_FIBER_DEFAULT_STACK (1024 * 1024)

/* Sets the usable stack size of fibers created from now on (rounded up to pages; at
 * least 64 KiB). Stacks of another size already pooled are dropped. Returns 0 or -1. */
int kiln_fiber_set_stack_size(size_t bytes);

/* A new fiber that will run fn(arg) when first resumed. NULL when out of memory. */
kiln_fiber *kiln_fiber_new(void (*fn)(void *), void *arg);

enum { KILN_FIBER_DONE = 0, KILN_FIBER_PARKED = 1 };

/* Runs f (on the calling thread) until fn returns (KILN_FIBER_DONE) or the fiber parks
 * (KILN_FIBER_PARKED). f must not be running and must not be done. -1 (f unchanged) when
 * the thread cannot be prepared for guests (no memory for its signal stack). */
int kiln_fiber_resume(kiln_fiber *f);

/* On a fiber: switches back to the kiln_fiber_resume that runs it; returns when the fiber
 * is resumed next (maybe on another thread). after(f, arg), when not NULL, runs on the
 * resumer's side once the fiber is fully parked (that is where a wait is registered). */
void kiln_fiber_park(void);
void kiln_fiber_park_then(void (*after)(kiln_fiber *f, void *arg), void *arg);

/* The fiber running on this thread, NULL outside fibers. */
kiln_fiber *kiln_fiber_current(void);

/* Frees a fiber that is done or was never resumed; its stack goes back to the pool. */
void kiln_fiber_free(kiln_fiber *f);

/* The result the fiber's last wait was completed with (kiln_sched_complete). */
int kiln_fiber_result(const kiln_fiber *f);

/* A pointer for the fiber's owner (e.g. the request it serves). */
void kiln_fiber_set_data(kiln_fiber *f, void *data);
void *kiln_fiber_data(kiln_fiber *f);

/* Pool statistics: stacks mapped in total, and waiting for reuse. */
typedef struct kiln_fiber_stats {
    size_t stacks_mapped, stacks_free;
} kiln_fiber_stats;
void kiln_fiber_stats_get(kiln_fiber_stats *out);

/* ---- scheduler interface ---- */

typedef enum kiln_wait_kind { KILN_WAIT_SLEEP, KILN_WAIT_FD } kiln_wait_kind;

typedef struct kiln_wait_req {
    kiln_wait_kind kind;
    uint64_t deadline_ns; /* CLOCK_MONOTONIC: complete with 0 then (UINT64_MAX: never) */
    int fd;               /* KILN_WAIT_FD: complete with the revents (> 0) when ready,
                             or with -2 - errno if the fd cannot be watched */
    short events;         /* POLLIN / POLLOUT */
} kiln_wait_req;

typedef struct kiln_sched kiln_sched;
struct kiln_sched {
    void (*wait)(kiln_sched *s, kiln_fiber *f, const kiln_wait_req *req);
    void (*wake)(kiln_sched *s, kiln_fiber *f);
};

/* Binds s to the calling thread (NULL unbinds): waits on fibers resumed by this thread
 * park instead of blocking. */
void kiln_sched_bind(kiln_sched *s);
kiln_sched *kiln_sched_current(void);

/* A link field inside f that belongs to the scheduler f is parked with (for intrusive
 * run queues: waking a fiber then never allocates). */
kiln_fiber **kiln_fiber_sched_link(kiln_fiber *f);

/* Ends f's wait with result and hands f to its scheduler's wake(). Any thread. */
void kiln_sched_complete(kiln_fiber *f, int result);

/* ---- waiting API (for host functions) ---- */

enum { KILN_WAIT_OK = 0, KILN_WAIT_INTERRUPTED = -1 };

/* Waits ns nanoseconds. KILN_WAIT_OK, or KILN_WAIT_INTERRUPTED when the guest's time
 * limit ended the wait first. */
int kiln_wait_sleep(uint64_t ns);

/* Waits until fd is ready for events (POLLIN/POLLOUT) or timeout_ns passes (UINT64_MAX:
 * no timeout). Returns the revents (> 0), 0 on timeout, KILN_WAIT_INTERRUPTED, or
 * -2 - errno when the wait itself failed. */
int kiln_wait_fd(int fd, short events, uint64_t timeout_ns);

/* Runs fn(arg) on the offload pool (work that has no asynchronous form, e.g. SQLite)
 * while the fiber parks; without a scheduler runs it directly. Returns KILN_WAIT_OK, or
 * KILN_WAIT_INTERRUPTED when the time limit passed meanwhile (fn has run in full). */
int kiln_offload(void (*fn)(void *), void *arg);

/* Threads of the offload pool (default 2; takes effect before the first offload). */
void kiln_offload_set_threads(int n);

#endif
