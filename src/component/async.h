/* async.h — the component model's async canonical ABI (CanonicalABI.md, Async.md; the
 * reference is design/mvp/canonical-abi/definitions.py): tasks, threads, subtasks,
 * waitable sets, and the built-ins task.return / task.cancel / thread.yield /
 * waitable-set.new/wait/poll/drop / waitable.join / subtask.drop / context.get/set /
 * backpressure.inc/dec, with `async` lift (with and without callback) and lower.
 *
 * Design. A component instance whose component uses any of this gets a store (ka_store,
 * ci->as); every other instance keeps the synchronous call path of lower.c untouched.
 * In an async instance every call of a lifted function is a task run by a thread, and
 * every thread is a Kiln fiber (engine/fiber.h). definitions.py runs threads on Python
 * threads with a resume/block handshake; here a driver loop on the host's thread plays
 * the handler: it resumes a fiber until it parks, and a parking thread says what it wants
 * next — run another thread and come back to me (a call: the callee runs until it first
 * blocks), switch to another thread, or just block (wait for a ready condition). Fibers
 * never nest: a guest calling out parks and the driver runs the callee. The store's
 * waiting threads are polled in FIFO order (the spec picks at random; FIFO is one of the
 * allowed schedules), and a host call returns once its task has resolved; when nothing
 * is ready first, the call traps with a deadlock. A host call made on a fiber (a server
 * request) runs the driver on the offload pool (kiln_offload) while that fiber parks,
 * or, with no scheduler bound, on a thread of its own that the caller joins.
 *
 * Per thread, what lower.c keeps per instance is swapped in while the thread runs: the
 * stack of call contexts, and the `running` flags of the frames the thread entered (a
 * blocked thread leaves its instances enterable, as the spec's enter/leave do).
 *
 * Handles: waitable sets and subtasks live in the instance's resource table
 * (kiln_resources), under types of their own, so indices are shared with resources as
 * the spec's single `handles` table has them; using one as the other traps. The objects
 * behind them sit in the store's slots (a handle's rep is its slot) and are freed once
 * their last holder lets go (the handle dropped, and no other end, set, pending copy,
 * task or host refers to them); the slot is then reused, so KA_MAX_OBJS (async_internal.h)
 * caps the objects alive at once, not those made over the instance's life.
 *
 * Host functions lowered async may complete later (host.h's kiln_chost_defer,
 * async_host.c): a subtask without a task, completed by the host on the driver's thread;
 * with no guest thread ready, the driver waits for the earliest due host call.
 *
 * Files: async.c (store, tasks, threads, driver, async lift and lower), async_builtins.c
 * (the built-ins), async_host.c, stream.c (stream and future ends), error_context.c. Not done yet:
 * the thread.spawn-* built-ins (refused at load by load.c); borrow scopes of interleaved tasks of
 * one instance kept apart. Images (image.c): the built-ins' contexts (ka_bi) are arena items,
 * copied with the graph; each copy gets an empty store. */
#ifndef KILN_COMPONENT_ASYNC_H
#define KILN_COMPONENT_ASYNC_H

#include "component/inst_internal.h"

typedef struct ka_store ka_store;

/* Whether a loaded component needs the async runtime (an async func type, an async
 * canon option, or a built-in of this file anywhere in it). */
int ka_component_is_async(const kiln_component *c);
/* Whether async.c implements canon op (with its options): load.c refuses the others. */
int ka_op_supported(const kiln_canon *k);

/* The store of an instance being made (called by link.c before anything runs). 0 or -1. */
int ka_store_new(kiln_component_instance *ci);
/* Ends every parked thread (unwinding its guest code) and frees the store. */
void ka_store_free(kiln_component_instance *ci);

/* The core function of an async built-in (canon k of frame f). NULL with err. */
ki_core *ka_builtin(kiln_component_instance *ci, ki_frame *f, const kiln_canon *k, kiln_err *err);
/* The core function of `canon lower` with the async option. NULL with err. */
ki_core *ka_lower_async(kiln_component_instance *ci, ki_tramp *t, kiln_err *err);

/* A call of a lifted function in an async instance (lower.c routes ki_call_lifted here):
 * from the host, runs the driver until the task resolves; from a guest (a sync lower),
 * runs the callee as a subtask and waits for it. Same contract as ki_call_lifted. */
int ka_call(kiln_component_instance *ci, ki_func *fn, kiln_cabi_cx *caller_cx,
            const kiln_cval *args, kiln_cval *results, kiln_trap *trap);
/* The core call of a lift with the async option (lower.c's ki_call_lifted_now, after the
 * arguments are lowered into core[]): runs it, and the callback loop when there is one.
 * The results come through task.return. 0, or -1 with *trap / cx->err. */
int ka_run_async_core(kiln_component_instance *ci, ki_func *fn, kiln_val *core, kiln_cabi_cx *cx,
                      kiln_trap *trap);
/* Sets cx's hooks for stream and future values (cabi.h) when ci uses the async ABI. */
void ka_cx_hooks(kiln_component_instance *ci, kiln_cabi_cx *cx);
/* The frame entered by the running thread (its `running` flag is the thread's). */
void ka_hold(kiln_component_instance *ci, ki_frame *f);
void ka_unhold(kiln_component_instance *ci, ki_frame *f);

#endif
