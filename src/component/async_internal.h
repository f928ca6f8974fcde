/* async_internal.h — what async.c (tasks, threads, waitable sets, subtasks) and stream.c
 * (stream and future ends) share: the store, its objects and the built-ins' helpers. */
#ifndef KILN_COMPONENT_ASYNC_INTERNAL_H
#define KILN_COMPONENT_ASYNC_INTERNAL_H

#include "component/async.h"
#include "component/host.h"
#include "engine/fiber.h"

enum {
    EV_NONE = 0,
    EV_SUBTASK = 1,
    EV_STREAM_READ = 2,
    EV_STREAM_WRITE = 3,
    EV_FUTURE_READ = 4,
    EV_FUTURE_WRITE = 5,
    EV_TASK_CANCELLED = 6
};
#define KA_BLOCKED 0xffffffffu

/* Object kinds (the first field of every object in ka_store.objs). */
enum { KA_WSET = 1, KA_SUBTASK, KA_END, KA_ERRCTX };

/* The head every object in ka_store.objs starts with: its kind and its slot (a handle's
 * rep), which ka_obj_release gives back. */
typedef struct ka_obj_head {
    int kind;
    uint32_t rep;
} ka_obj_head;

/* An error context (error_context.c): its debug message; handles refer to it through a
 * ka_errctx_ref (one per handle: a passed error context is shared). Freed when its last
 * handle goes, unless it was ever lifted (a lifted value may be lowered later: kept
 * until the store goes). */
typedef struct ka_errctx {
    struct ka_errctx *next, *prev; /* store's list */
    uint32_t refs;                 /* handles (ka_errctx_ref) */
    int lifted;
    size_t len;
    char message[];
} ka_errctx;
typedef struct ka_errctx_ref {
    int kind; /* KA_ERRCTX */
    uint32_t rep;
    ka_errctx *ec;
} ka_errctx_ref;

/* Handle types of the instance's table (resources.h): never a resource's. */
extern const kiln_resource_type ka_type_wset, ka_type_subtask, ka_type_stream_r, ka_type_stream_w,
    ka_type_future_r, ka_type_future_w;

typedef struct ka_thread ka_thread;
typedef struct ka_task ka_task;
typedef struct ka_wset ka_wset;

/* The spec's Waitable: the common head of subtasks and stream/future ends. */
typedef struct ka_waitable {
    int kind;
    uint32_t rep; /* ka_obj_head */
    ka_wset *wset;
    int pending;     /* has a pending event */
    int sync_waiter; /* a synchronous built-in waits for it */
    uint32_t handle; /* its index in the owner's table (0: none yet) */
    /* get_pending_event: the event (code, p1, p2), clearing it */
    void (*take)(struct ka_waitable *w, uint32_t ev[3]);
} ka_waitable;

struct ka_wset {
    int kind;
    uint32_t rep; /* ka_obj_head */
    ka_waitable **elems;
    uint32_t n, cap;
    uint32_t num_waiting;
};

/* Joins w to set ws (NULL: leaves its set). 0 or -1 (out of memory). */
int ka_join(ka_waitable *w, ka_wset *ws);

/* ---- objects ---- */

enum {
    ST_STARTING = 0,
    ST_STARTED = 1,
    ST_RETURNED = 2,
    ST_CANCELLED_BEFORE_STARTED = 3,
    ST_CANCELLED_BEFORE_RETURNED = 4
};
enum { CB_EXIT = 0, CB_YIELD = 1, CB_WAIT = 2 };
enum { TS_SUSPENDED, TS_RUNNING, TS_WAITING, TS_DONE };
enum { T_INITIAL, T_STARTED, T_PENDING_CANCEL, T_CANCEL_DELIVERED, T_RESOLVED };
enum { REQ_BLOCK, REQ_CALL, REQ_SWITCH };
#define MAX_HELD 64

/* What the spec's ComponentInstance keeps for the async ABI, per frame. */
typedef struct ka_inst {
    ki_frame *frame;
    int backpressure;
    uint32_t num_waiting_to_enter;
    ka_thread *exclusive;
    ka_thread **threads; /* the instance's thread table: index i at threads[i], 0 unused */
    uint32_t nthreads, capthreads;
    uint32_t *free; /* freed indices, reused last-freed-first */
    uint32_t nfree, capfree;
} ka_inst;

/* A subtask (the only waitable so far): a call made by `canon lower ... async`. */
typedef struct ka_subtask {
    ka_waitable w;
    int state; /* ST_* */
    int resolve_delivered;
    int cancel_requested;
    ka_task *task; /* the callee's task */
    int dropped;
    ki_tramp *tramp; /* the caller's lower */
    uint32_t retptr;
    kiln_cabi_cx cx; /* the caller's side: arguments and results live in its arena */
    kiln_cval result;
    /* a host function's call left pending (host.h, async_host.c) */
    int host_pending;
    kiln_chost_later later;
    ka_store *store;
    struct ka_subtask *hnext; /* the store's list of pending host calls */
} ka_subtask;

struct ka_task {
    ki_func *fn;
    ka_inst *inst;
    const kiln_cval *args;
    kiln_cval *results;
    kiln_cabi_cx *caller_cx; /* &cx: what lower.c's call of the function is given */
    /* The task's own view of its caller's context: the caller's arena (the results are
     * lifted into it, before the caller goes on) and frame (NULL: the host); errors are
     * written here, since the task may run on after its caller has returned. */
    kiln_cabi_cx cx;
    ka_subtask *sub; /* the caller's subtask (async lower), or NULL */
    int state;
    int needs_exclusive;
    ka_thread *implicit;
    uint32_t nthreads; /* registered threads (the implicit one and explicit ones) */
    int held;          /* a kiln_component_call still looks at it: not reaped */
    void *tag;         /* the host's tag of the call it serves (kiln_component_call_tag) */
    ka_task *next;     /* store's list */
};

struct ka_thread {
    ka_store *s;
    kiln_fiber *fiber;
    ka_task *task;
    int started, done, in_guest;
    int ts;         /* TS_* */
    uint32_t index; /* in the instance's thread table (0: not registered) */
    uint32_t cfunc; /* an explicit thread: the table's funcref and its argument */
    uint32_t carg;
    void *table;
    int cancellable;  /* waiting in a cancellable wait */
    int cancelled;    /* resumed by a cancellation (Cancelled.TRUE) */
    int req;          /* REQ_* when parked */
    ka_thread *other; /* REQ_CALL: run it first */
    int (*ready)(ka_thread *t);
    void *rarg;
    int waiting;
    ka_thread *wnext;
    uint32_t storage[2];
    kiln_cabi_cx **cxs; /* lower.c's stack of call contexts, while parked */
    uint32_t ncxs, capcxs, depth;
    ki_frame *held[MAX_HELD];
    uint32_t nheld;
    ka_thread *next; /* store's list */
};

/* A built-in's context. */
typedef struct ka_bi {
    kiln_component_instance *ci;
    ki_frame *frame;
    const kiln_canon *k;
    wasm_rt_memory_t *memory;
    ki_core *realloc;
    ki_core *table;   /* thread.new-indirect's table, resolved here: image copies have no
                       * index spaces (image.c) */
    kiln_ctype rtype; /* task.return: a func type with the result as its one parameter */
    kiln_cfield rfield;
} ka_bi;

struct ka_store {
    kiln_component_instance *ci;
    ka_thread *cur; /* the thread running, NULL on the host's side */
    ka_thread *waiting_head, *waiting_tail;
    ka_thread **stack; /* the driver's stack of resumed threads */
    uint32_t nstack, capstack;
    ka_inst **insts;
    uint32_t ninsts, capinsts;
    int failed, aborting;
    uint64_t deadline_ns; /* the host call's time limit (CLOCK_MONOTONIC; 0: none) */
    kiln_trap trap;
    char err[200];
    ka_thread *threads;
    ka_task *tasks;
    /* waitable sets, subtasks, ends, error contexts' handles: a handle's rep is its index
     * here; a freed object's slot is NULL and on objfree (reused last-freed-first) */
    void **objs;
    uint32_t nobjs, capobjs;
    uint32_t *objfree; /* as large as objs: giving a slot back cannot fail */
    uint32_t nobjfree;
    ka_errctx *errctxs;
    ka_subtask *host_call;     /* the async-lowered host call running (kiln_chost_defer) */
    ka_subtask *host_pending;  /* host calls left pending, completed later */
    kiln_component_idle idle;  /* the host's outside wait (kiln_component_set_idle) */
    struct ka_end *fd_waiters; /* host stream ends waiting for an fd (stream.c) */
    struct ka_pump *pumps;     /* stream.c: host ends joined to host ends (ka_pumps_reap) */
};

/* The most objects one store holds at once (streams' and futures' ends, subtasks,
 * waitable sets, error contexts' handles; an object is freed, and its slot reused, once
 * its last holder dropped it): past it ka_obj_add fails, so a guest creating them in a
 * loop without dropping them traps (KA_TOO_MANY) instead of growing the host's memory
 * until the request's time limit. */
#define KA_MAX_OBJS (1u << 17)
/* Between the host's outside waits (kiln_component_idle), host streams waiting for fds
 * are polled at least this often. */
#define KA_FD_SLICE_NS (20ull * 1000000u)
#define KA_TOO_MANY                                                                                \
    "too many streams, futures, subtasks and waitable sets alive at once in one instance"
/* Adds obj (a ka_obj_head first) to the store, in a freed slot when there is one: its
 * index (a handle's rep) in *rep and in the head. 0, or -1 (out of memory, or
 * KA_MAX_OBJS alive). */
int ka_obj_add(ka_store *s, void *obj, uint32_t *rep);
/* Takes obj (added by ka_obj_add, no longer in any handle table nor referred to by
 * another object) out of the store: its slot is free for the next object. The caller
 * frees obj's memory. */
void ka_obj_release(ka_store *s, void *obj);
/* The object in slot rep when it is of kind `kind` (NULL: freed, or another kind). */
void *ka_obj_at(ka_store *s, uint32_t rep, int kind);
/* Objects alive in the store (for tests and statistics). */
uint32_t ka_live_objs(const ka_store *s);
/* A new zeroed object of `size` bytes whose first field (an int) is `kind`, added to the
 * store (its rep in *rep); traps when out of memory. */
void *ka_obj_new(ka_bi *b, size_t size, int kind, uint32_t *rep);
/* The object behind handle h of type t in the built-in's table; traps otherwise. */
void *ka_get(ka_bi *b, uint32_t h, const kiln_resource_type *t);
/* A subtask is dropped (subtask.drop, or resolved before it had a handle): freed now
 * when its callee's task has ended (or it had none, a host call), else when reap frees
 * that task. */
void ka_sub_dropped(ka_store *s, ka_subtask *sub);
/* Traps from a built-in with "OP: MESSAGE". */
_Noreturn void ka_trap(ka_bi *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The thread running the built-in (traps outside a task). */
ka_thread *ka_current(ka_bi *b);
/* The spec's Waitable.wait_for_pending_event (cancellation is not delivered): -1 when the
 * store is torn down. */
int ka_wait_pending(ka_thread *me, ka_waitable *w);
/* The ka_inst of a frame (NULL: out of memory). */
ka_inst *ka_inst_of(ka_store *s, ki_frame *f);

/* ---- async.c's scheduling, for the built-ins (async_builtins.c) ---- */

/* Creates a thread of task k (suspended, on a fiber of its own). NULL: out of memory. */
ka_thread *ka_thread_new(ka_store *s, ka_task *k);
/* On thread me: parks with a request for the driver (REQ_*; other: the thread to run).
 * -1 when the store is torn down. */
int ka_park(ka_thread *me, int req, ka_thread *other);
/* The store's list of waiting threads (FIFO). */
void ka_waiting_add(ka_store *s, ka_thread *t);
void ka_waiting_remove(ka_store *s, ka_thread *t);
/* The first waiting thread that is ready (of instance `in` only when not NULL), taken
 * off the list; a pending cancellation counts as ready once the exclusive lock is free. */
ka_thread *ka_pick_ready(ka_store *s, ka_inst *in);
/* Thread.wait_until: 1 cancelled, 0 ready, -1 torn down. A yield (yield 1) always lets
 * others run first; another wait returns at once when ready already holds. */
int ka_wait_until_y(ka_thread *me, int (*ready)(ka_thread *), void *arg, int cancellable,
                    int yield);
int ka_wait_until_c(ka_thread *me, int (*ready)(ka_thread *), void *arg, int cancellable);
int ka_wait_until(ka_thread *me, int (*ready)(ka_thread *), void *arg);
int ka_always(ka_thread *t);
/* Task.deliver_pending_cancel. */
int ka_deliver_pending_cancel(ka_task *k, int cancellable);
/* Task.register_thread: an index in the instance's thread table. 0 or -1. */
int ka_register_thread(ka_thread *t);
/* Task.request_cancellation from thread me. -1 when torn down. */
int ka_request_cancellation(ka_thread *me, ka_task *k);
/* The task resolves (task.return: results to the caller; task.cancel: cancelled). */
int ka_task_resolve(ka_task *k, char *err, size_t errlen);
void ka_task_cancel_resolve(ka_task *k);
/* A subtask's event; a waitable set's pending event (EV_NONE when none), and whether
 * it has one; ready condition of a stackful waitable-set.wait. */
void ka_sub_take(ka_waitable *w, uint32_t ev[3]);
void ka_wset_take_event(ka_wset *w, uint32_t ev[3]);
int ka_wset_has_event(ka_wset *w);
int ka_wset_ready_stackful(ka_thread *t);

/* Records the first failure of the store: the host's call traps with it. */
void ka_store_fail(ka_store *s, const kiln_trap *trap, const char *msg);

/* async_host.c: host calls completing later. When no guest thread can run: waits for the
 * earliest due pending host call (within the store's deadline) and fires it, or, while
 * host streams wait for fds, for the first of them (ka_stream_poll); 1 when one fired or
 * was woken (the caller looks for ready threads again), 0 when nothing can (a deadlock). */
int ka_host_progress(ka_store *s);
/* Fires the earliest pending host call if it is due now (no sleep): 1 when one fired. */
int ka_host_fire_due(ka_store *s);
/* The earliest due_ns of the pending host calls (UINT64_MAX: none). */
uint64_t ka_host_next_due(ka_store *s);
/* stream.c: polls the fds host streams wait for (kiln_chost_stream_wait_fd) until
 * `until` (CLOCK_MONOTONIC ns; UINT64_MAX: no limit; past: only a check) and wakes the
 * streams whose fd is ready: 1 when one was, 0 when none was by then or none waits, -1
 * when the poll failed (the store then fails). */
int ka_stream_poll(ka_store *s, uint64_t until);
/* subtask.cancel of a pending host call: abandoned, CANCELLED_BEFORE_RETURNED. */
void ka_host_cancel(ka_subtask *sub);
/* At the store's teardown: every pending host call abandoned (and every pump freed). */
void ka_host_abandon_all(ka_store *s);
/* The runtime's own work on the list of pending host calls (stream.c's pumps): sub
 * (store, later.fire and later.arg set) is fired at due_ns (linked if it is not yet);
 * unscheduled, it waits for a wake. */
void ka_host_schedule(ka_subtask *sub, uint64_t due_ns);
void ka_host_unschedule(ka_subtask *sub);

/* stream.c: the stream and future built-ins (ka_builtin's fallback: NULL when op is not
 * one of them), and freeing an end. */
kiln_host_vals_fn ka_stream_builtin(ka_bi *b, const char **sig);
/* error_context.c: its built-ins (NULL when op is not one), and error-context values
 * through cabi.c's hooks. */
kiln_host_vals_fn ka_errctx_builtin(ka_bi *b, const char **sig);
int ka_errctx_lift(kiln_cabi_cx *cx, uint32_t h, kiln_cval *v);
int ka_errctx_lower(kiln_cabi_cx *cx, const kiln_cval *v, uint32_t *h);
/* cabi.c's hooks for stream, future and error-context values (ki_cx_prepare sets them). */
int ka_end_lift(kiln_cabi_cx *cx, const kiln_ctype *t, uint32_t h, kiln_cval *v);
int ka_end_lower(kiln_cabi_cx *cx, const kiln_ctype *t, const kiln_cval *v, uint32_t *h);
void ka_end_free(void *end);
/* Frees the store's finished pumps (all of them when all is set: the store's teardown,
 * after ka_host_abandon_all unlinked them). */
void ka_pumps_reap(ka_store *s, int all);
/* The kind of handle an object's slot is reached through, for a stale-rep check. */
int ka_kind_of(const kiln_resource_type *t);

#endif
