/* async.c — tasks, threads on fibers, subtasks and the async built-ins (see async.h for
 * the design; the names follow definitions.py); waitable sets are in waitable.c. */
#include "component/async_internal.h"
#include "engine/fiber.h"
#include "engine/runtime.h"
#include "util/alloc.h"

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const kiln_resource_type ka_type_wset = {.name = "waitable set"};
const kiln_resource_type ka_type_subtask = {.name = "subtask"};
const kiln_resource_type ka_type_stream_r = {.name = "readable stream end"};
const kiln_resource_type ka_type_stream_w = {.name = "writable stream end"};
const kiln_resource_type ka_type_future_r = {.name = "readable future end"};
const kiln_resource_type ka_type_future_w = {.name = "writable future end"};

/* ---- which components need this ---- */

int ka_op_supported(const kiln_canon *k)
{
    switch (k->op) {
    case KILN_CANON_LIFT:
    case KILN_CANON_LOWER:
    case KILN_CANON_RESOURCE_NEW:
    case KILN_CANON_RESOURCE_REP:
        return 1;
    case KILN_CANON_RESOURCE_DROP:
        return !k->flag;
    case KILN_CANON_TASK_RETURN:
    case KILN_CANON_TASK_CANCEL:
    case KILN_CANON_CONTEXT_GET:
    case KILN_CANON_CONTEXT_SET:
    case KILN_CANON_THREAD_YIELD:
    case KILN_CANON_SUBTASK_DROP:
    case KILN_CANON_SUBTASK_CANCEL:
    case KILN_CANON_THREAD_INDEX:
    case KILN_CANON_THREAD_NEW_INDIRECT:
    case KILN_CANON_THREAD_RESUME_LATER:
    case KILN_CANON_THREAD_SUSPEND:
    case KILN_CANON_THREAD_SUSPEND_THEN_RESUME:
    case KILN_CANON_THREAD_YIELD_THEN_RESUME:
    case KILN_CANON_THREAD_SUSPEND_THEN_PROMOTE:
    case KILN_CANON_THREAD_YIELD_THEN_PROMOTE:
    case KILN_CANON_WAITABLE_SET_NEW:
    case KILN_CANON_WAITABLE_SET_WAIT:
    case KILN_CANON_WAITABLE_SET_POLL:
    case KILN_CANON_WAITABLE_SET_DROP:
    case KILN_CANON_WAITABLE_JOIN:
    case KILN_CANON_BACKPRESSURE_INC:
    case KILN_CANON_BACKPRESSURE_DEC:
    case KILN_CANON_STREAM_NEW:
    case KILN_CANON_STREAM_READ:
    case KILN_CANON_STREAM_WRITE:
    case KILN_CANON_STREAM_CANCEL_READ:
    case KILN_CANON_STREAM_CANCEL_WRITE:
    case KILN_CANON_STREAM_DROP_READABLE:
    case KILN_CANON_STREAM_DROP_WRITABLE:
    case KILN_CANON_FUTURE_NEW:
    case KILN_CANON_FUTURE_READ:
    case KILN_CANON_FUTURE_WRITE:
    case KILN_CANON_FUTURE_CANCEL_READ:
    case KILN_CANON_FUTURE_CANCEL_WRITE:
    case KILN_CANON_FUTURE_DROP_READABLE:
    case KILN_CANON_FUTURE_DROP_WRITABLE:
    case KILN_CANON_STREAM_FORWARD:
    case KILN_CANON_FUTURE_FORWARD:
    case KILN_CANON_ERROR_CONTEXT_NEW:
    case KILN_CANON_ERROR_CONTEXT_DEBUG_MESSAGE:
    case KILN_CANON_ERROR_CONTEXT_DROP:
        return 1;
    default:
        return 0;
    }
}

static int type_is_async(const kiln_ctype *t)
{
    return t && t->kind == KILN_CT_FUNC && t->async;
}

int ka_component_is_async(const kiln_component *c)
{
    for (uint32_t i = 0; i < c->ndefs; i++) {
        const kiln_cdef *d = &c->defs[i];
        if (d->kind == KILN_CDEF_COMPONENT && ka_component_is_async(d->component)) return 1;
        if (d->kind == KILN_CDEF_TYPE && type_is_async(d->type)) return 1;
        if (d->kind != KILN_CDEF_CANON) continue;
        const kiln_canon *k = &d->canon;
        if (k->op > KILN_CANON_RESOURCE_REP) return 1;
        if (k->has_opts && (k->opts.async || k->opts.has_callback)) return 1;
        if (k->op == KILN_CANON_LIFT && type_is_async(c->spaces[KILN_CSORT_TYPE].types[k->type]))
            return 1;
    }
    for (uint32_t i = 0; i < c->spaces[KILN_CSORT_FUNC].n; i++)
        if (type_is_async(c->spaces[KILN_CSORT_FUNC].types[i])) return 1;
    return 0;
}

/* ---- the store ---- */

int ka_store_new(kiln_component_instance *ci)
{
    ka_store *s = kiln_calloc(1, sizeof *s);
    if (!s) return -1;
    s->ci = ci;
    ci->as = s;
    return 0;
}

/* every object starts with a ka_obj_head (kind, slot) */
_Static_assert(offsetof(ka_waitable, rep) == offsetof(ka_obj_head, rep), "ka_waitable head");
_Static_assert(offsetof(ka_wset, rep) == offsetof(ka_obj_head, rep), "ka_wset head");
_Static_assert(offsetof(ka_errctx_ref, rep) == offsetof(ka_obj_head, rep), "ka_errctx_ref head");
_Static_assert(offsetof(ka_subtask, w) == 0, "ka_subtask head");

uint32_t ka_live_objs(const ka_store *s)
{
    return s->nobjs - s->nobjfree;
}

int ka_obj_add(ka_store *s, void *obj, uint32_t *rep)
{
    if (ka_live_objs(s) >= KA_MAX_OBJS) return -1;
    uint32_t i;
    if (s->nobjfree) {
        i = s->objfree[--s->nobjfree];
    } else {
        if (s->nobjs == s->capobjs) {
            uint32_t cap = s->capobjs ? s->capobjs * 2 : 16;
            void **n = kiln_realloc(s->objs, cap * sizeof *n);
            if (!n) return -1;
            s->objs = n;
            /* the free list can hold every slot: ka_obj_release never allocates */
            uint32_t *f = kiln_realloc(s->objfree, cap * sizeof *f);
            if (!f) return -1;
            s->objfree = f;
            s->capobjs = cap;
        }
        i = s->nobjs++;
    }
    s->objs[i] = obj;
    ((ka_obj_head *)obj)->rep = i;
    *rep = i;
    return 0;
}

void ka_obj_release(ka_store *s, void *obj)
{
    uint32_t i = ((ka_obj_head *)obj)->rep;
    if (i >= s->nobjs || s->objs[i] != obj) return; /* never added (or released already) */
    s->objs[i] = NULL;
    s->objfree[s->nobjfree++] = i;
}

void *ka_obj_at(ka_store *s, uint32_t rep, int kind)
{
    if (rep >= s->nobjs || !s->objs[rep] || ((ka_obj_head *)s->objs[rep])->kind != kind)
        return NULL;
    return s->objs[rep];
}

int ka_kind_of(const kiln_resource_type *t)
{
    if (t == &ka_type_wset) return KA_WSET;
    if (t == &ka_type_subtask) return KA_SUBTASK;
    if (t == &ka_type_stream_r || t == &ka_type_stream_w || t == &ka_type_future_r ||
        t == &ka_type_future_w)
        return KA_END;
    return 0;
}

void *ka_obj_new(ka_bi *b, size_t size, int kind, uint32_t *rep)
{
    void *o = kiln_calloc(1, size);
    if (o) *(int *)o = kind;
    if (!o || ka_obj_add(b->ci->as, o, rep) < 0) {
        kiln_free(o);
        if (ka_live_objs(b->ci->as) >= KA_MAX_OBJS) ka_trap(b, KA_TOO_MANY " (%u)", KA_MAX_OBJS);
        ka_trap(b, "out of memory");
    }
    return o;
}

ka_inst *ka_inst_of(ka_store *s, ki_frame *f)
{
    for (uint32_t i = 0; i < s->ninsts; i++)
        if (s->insts[i]->frame == f) return s->insts[i];
    if (s->ninsts == s->capinsts) {
        uint32_t cap = s->capinsts ? s->capinsts * 2 : 8;
        ka_inst **n = kiln_realloc(s->insts, cap * sizeof *n);
        if (!n) return NULL;
        s->insts = n;
        s->capinsts = cap;
    }
    ka_inst *in = kiln_calloc(1, sizeof *in);
    if (!in) return NULL;
    in->frame = f;
    s->insts[s->ninsts++] = in;
    return in;
}

/* Records the first failure of the store: the host's call traps with it. */
static void store_fail(ka_store *s, const kiln_trap *trap, const char *msg)
{
    if (s->failed) return;
    s->failed = 1;
    if (trap)
        s->trap = *trap;
    else
        s->trap.kind = KILN_TRAP_NONE;
    snprintf(s->err, sizeof s->err, "%.199s", msg);
}

void ka_store_fail(ka_store *s, const kiln_trap *trap, const char *msg)
{
    store_fail(s, trap, msg);
}

/* ---- threads and the driver ---- */

static void swap_cxs(kiln_component_instance *ci, ka_thread *t)
{
    kiln_cabi_cx **cxs = ci->cxs;
    uint32_t n = ci->ncxs, cap = ci->capcxs, d = ci->depth;
    ci->cxs = t->cxs, ci->ncxs = t->ncxs, ci->capcxs = t->capcxs, ci->depth = t->depth;
    t->cxs = cxs, t->ncxs = n, t->capcxs = cap, t->depth = d;
}

static void task_body(ka_thread *me);

static void explicit_body(ka_thread *me);

static void thread_main(void *arg)
{
    ka_thread *t = arg;
    if (t->table)
        explicit_body(t);
    else
        task_body(t);
    t->done = 1;
    t->ts = TS_DONE;
}

ka_thread *ka_thread_new(ka_store *s, ka_task *k)
{
    ka_thread *t = kiln_calloc(1, sizeof *t);
    if (!t) return NULL;
    t->fiber = kiln_fiber_new(thread_main, t);
    if (!t->fiber) {
        kiln_free(t);
        return NULL;
    }
    t->s = s;
    t->task = k;
    t->next = s->threads;
    s->threads = t;
    return t;
}

/* Runs t until it parks or ends (on the host's side). */
static int resume(ka_store *s, ka_thread *t)
{
    kiln_component_instance *ci = s->ci;
    for (uint32_t i = 0; i < t->nheld; i++)
        t->held[i]->running++;
    swap_cxs(ci, t);
    ka_thread *prev = s->cur;
    s->cur = t;
    t->started = 1;
    t->ts = TS_RUNNING;
    int rc = kiln_fiber_resume(t->fiber);
    s->cur = prev;
    swap_cxs(ci, t);
    if (rc < 0) {
        store_fail(s, NULL, "cannot resume a task's fiber");
        return -1;
    }
    if (t->done) {
        kiln_fiber_free(t->fiber);
        t->fiber = NULL;
    } else if (t->req != REQ_CALL) {
        for (uint32_t i = 0; i < t->nheld; i++)
            t->held[i]->running--;
    }
    return 0;
}

/* Whether the host call's time limit has passed; then the store fails with an
 * interrupted trap (a guest yielding or switching forever never ends a call otherwise). */
static int past_deadline(ka_store *s)
{
    if (!s->deadline_ns) return 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec < s->deadline_ns) return 0;
    kiln_trap trap = {.kind = KILN_TRAP_INTERRUPTED};
    store_fail(s, &trap, "the call's time limit passed");
    return 1;
}

/* The driver: resumes t, and what it calls, until t blocks or ends (definitions.py's
 * Thread.resume with the handler's switch_to). */
static void drive(ka_store *s, ka_thread *t)
{
    uint32_t base = s->nstack;
    if (s->nstack == s->capstack) {
        uint32_t cap = s->capstack ? s->capstack * 2 : 16;
        ka_thread **n = kiln_realloc(s->stack, cap * sizeof *n);
        if (!n) {
            store_fail(s, NULL, "out of memory");
            return;
        }
        s->stack = n;
        s->capstack = cap;
    }
    s->stack[s->nstack++] = t;
    while (s->nstack > base && !s->failed) {
        ka_thread *cur = s->stack[s->nstack - 1];
        if (past_deadline(s)) break;
        if (resume(s, cur) < 0) break;
        if (cur->done || cur->req == REQ_BLOCK) {
            s->nstack--;
            continue;
        }
        if (cur->req == REQ_SWITCH) {
            s->stack[s->nstack - 1] = cur->other;
            continue;
        }
        /* REQ_CALL */
        if (s->nstack == s->capstack) {
            uint32_t cap = s->capstack * 2;
            ka_thread **n = kiln_realloc(s->stack, cap * sizeof *n);
            if (!n) {
                store_fail(s, NULL, "out of memory");
                break;
            }
            s->stack = n;
            s->capstack = cap;
        }
        s->stack[s->nstack++] = cur->other;
    }
    s->nstack = base;
}

/* On a thread: parks with a request for the driver. -1 when the store is being torn
 * down (the caller unwinds). */
int ka_park(ka_thread *me, int req, ka_thread *other)
{
    me->req = req;
    me->other = other;
    kiln_fiber_park();
    me->req = REQ_BLOCK;
    return me->s->aborting ? -1 : 0;
}

void ka_waiting_add(ka_store *s, ka_thread *t)
{
    t->waiting = 1;
    t->wnext = NULL;
    if (s->waiting_tail)
        s->waiting_tail->wnext = t;
    else
        s->waiting_head = t;
    s->waiting_tail = t;
}

void ka_waiting_remove(ka_store *s, ka_thread *t)
{
    ka_thread **pp = &s->waiting_head, *prev = NULL;
    while (*pp && *pp != t) {
        prev = *pp;
        pp = &(*pp)->wnext;
    }
    if (!*pp) return;
    *pp = t->wnext;
    if (s->waiting_tail == t) s->waiting_tail = prev;
    t->waiting = 0;
}

/* The first waiting thread that is ready (of instance `in` only when not NULL, never
 * `in`'s exclusive thread), taken off the waiting list; NULL when none. */
ka_thread *ka_pick_ready(ka_store *s, ka_inst *in)
{
    for (ka_thread *t = s->waiting_head; t; t = t->wnext) {
        if (in && t->task->inst != in) continue;
        ka_task *k = t->task;
        /* a pending cancellation reaches a cancellable wait once the instance's
         * exclusive lock is free, whether or not what it waits for happened */
        if (t->cancellable && k->state == T_PENDING_CANCEL &&
            (!k->needs_exclusive || !k->inst->exclusive)) {
            k->state = T_CANCEL_DELIVERED;
            t->cancelled = 1;
            ka_waiting_remove(s, t);
            return t;
        }
        if (t->ready(t)) {
            ka_waiting_remove(s, t);
            return t;
        }
    }
    return NULL;
}

/* Task.deliver_pending_cancel. */
int ka_deliver_pending_cancel(ka_task *k, int cancellable)
{
    if (cancellable && k->state == T_PENDING_CANCEL) {
        k->state = T_CANCEL_DELIVERED;
        return 1;
    }
    return 0;
}

/* Thread.wait_until: blocks me until ready(me) holds (at once when it already does,
 * except for a yield), or until a cancellation when cancellable. 1 cancelled,
 * 0 ready, -1 when the store is torn down. */
int ka_wait_until_y(ka_thread *me, int (*ready)(ka_thread *), void *arg, int cancellable, int yield)
{
    if (ka_deliver_pending_cancel(me->task, cancellable)) return 1;
    me->ready = ready;
    me->rarg = arg;
    if (!yield && ready(me)) return 0; /* only a yield yields when already ready */
    me->cancellable = cancellable;
    me->cancelled = 0;
    me->ts = TS_WAITING;
    ka_waiting_add(me->s, me);
    int rc = ka_park(me, REQ_BLOCK, NULL);
    me->cancellable = 0;
    if (rc < 0) return -1;
    return me->cancelled;
}

int ka_wait_until_c(ka_thread *me, int (*ready)(ka_thread *), void *arg, int cancellable)
{
    return ka_wait_until_y(me, ready, arg, cancellable, 0);
}

int ka_wait_until(ka_thread *me, int (*ready)(ka_thread *), void *arg)
{
    return ka_wait_until_c(me, ready, arg, 0) < 0 ? -1 : 0;
}

int ka_always(ka_thread *t)
{
    (void)t;
    return 1;
}

/* ---- tasks ---- */

static int task_resolved(ka_thread *t)
{
    return ((ka_task *)t->rarg)->state == T_RESOLVED;
}

static int no_backpressure(ka_thread *t)
{
    ka_task *k = t->task;
    return !(k->inst->backpressure > 0 || (k->needs_exclusive && k->inst->exclusive));
}

void ka_task_cancel_resolve(ka_task *k);

/* Task.register_thread: an index in the instance's thread table. 0 or -1. */
int ka_register_thread(ka_thread *t)
{
    ka_inst *in = t->task->inst;
    uint32_t i;
    if (in->nfree) {
        i = in->free[--in->nfree];
    } else {
        if (in->nthreads == 0) in->nthreads = 1; /* index 0 is never used */
        if (in->nthreads >= in->capthreads) {
            uint32_t cap = in->capthreads ? in->capthreads * 2 : 8;
            ka_thread **n = kiln_realloc(in->threads, cap * sizeof *n);
            if (!n) return -1;
            in->threads = n;
            in->capthreads = cap;
        }
        i = in->nthreads++;
    }
    in->threads[i] = t;
    t->index = i;
    t->task->nthreads++;
    return 0;
}

/* Task.unregister_thread: frees the index; the task's last thread must have resolved it
 * (-1 with a reason when not). */
static int unregister_thread(ka_thread *t, char *err, size_t errlen)
{
    ka_inst *in = t->task->inst;
    if (!t->index) return 0;
    in->threads[t->index] = NULL;
    if (in->nfree == in->capfree) {
        uint32_t cap = in->capfree ? in->capfree * 2 : 8;
        uint32_t *n = kiln_realloc(in->free, cap * sizeof *n);
        if (n) {
            in->free = n;
            in->capfree = cap;
        }
    }
    if (in->nfree < in->capfree) in->free[in->nfree++] = t->index;
    t->index = 0;
    if (--t->task->nthreads == 0 && t->task->state != T_RESOLVED) {
        snprintf(err, errlen, "%s: the task ended without calling task.return", t->task->fn->name);
        return -1;
    }
    return 0;
}

/* Task.enter_implicit_thread. -1 when torn down or cancelled. */
static int enter_implicit(ka_thread *me)
{
    ka_task *k = me->task;
    if (k->fn->type->async) {
        if (!no_backpressure(me) || k->inst->num_waiting_to_enter > 0) {
            k->inst->num_waiting_to_enter++;
            int rc = ka_wait_until_c(me, no_backpressure, NULL, 1);
            k->inst->num_waiting_to_enter--;
            if (rc < 0) return -1;
            if (rc == 1) { /* cancelled before it started */
                ka_task_cancel_resolve(k);
                return -1;
            }
        }
        if (k->needs_exclusive) k->inst->exclusive = me;
    }
    return ka_register_thread(me);
}

/* Subtask progress (started or resolved) after the call returned: an event. */
static void sub_progress(ka_subtask *sub)
{
    if (sub->w.handle) sub->w.pending = 1;
}

/* Task.cancel's resolution (on_resolve(None)): the subtask is cancelled before it
 * started or before it returned. */
void ka_task_cancel_resolve(ka_task *k)
{
    ka_subtask *sub = k->sub;
    k->state = T_RESOLVED;
    if (!sub) return;
    sub->state =
        sub->state == ST_STARTING ? ST_CANCELLED_BEFORE_STARTED : ST_CANCELLED_BEFORE_RETURNED;
    sub_progress(sub);
}

/* Task.ka_request_cancellation, from thread me (the caller): resumes the callee's waiting
 * implicit thread with the cancellation when it waits cancellably (and may run), else
 * leaves it pending. -1 when torn down. */
int ka_request_cancellation(ka_thread *me, ka_task *k)
{
    ka_thread *t = k->implicit;
    int can = t && t->waiting && t->cancellable;
    if (k->state == T_STARTED && k->needs_exclusive && k->inst->exclusive &&
        k->inst->exclusive != t)
        can = 0;
    if (k->state == T_INITIAL || (k->state == T_STARTED && can)) {
        k->state = T_CANCEL_DELIVERED;
        ka_waiting_remove(me->s, t);
        t->cancelled = 1;
        return ka_park(me, REQ_CALL, t);
    }
    if (k->state == T_STARTED) k->state = T_PENDING_CANCEL;
    return 0;
}

/* Task.return_ reached the caller: results lowered into the caller's memory (async
 * lower) and the subtask resolved. -1 with a reason in err. */
int ka_task_resolve(ka_task *k, char *err, size_t errlen)
{
    k->state = T_RESOLVED;
    ka_subtask *sub = k->sub;
    if (!sub) return 0;
    const kiln_ctype *ft = sub->tramp->type;
    if (ft->has_elem &&
        kiln_cabi_store_value(&sub->cx, ft->elem.type, &sub->result, sub->retptr) < 0) {
        snprintf(err, errlen, "returning the results: %s", sub->cx.err);
        return -1;
    }
    sub->state = ST_RETURNED;
    sub_progress(sub);
    return 0;
}

/* The implicit thread of a task: enters, runs the lifted function, resolves. */
static void task_body(ka_thread *me)
{
    ka_task *k = me->task;
    ka_store *s = me->s;
    if (enter_implicit(me) < 0) return;
    if (k->state == T_INITIAL) k->state = T_STARTED;
    if (k->sub) {
        k->sub->state = ST_STARTED;
        sub_progress(k->sub);
    }
    kiln_trap trap;
    if (ki_call_lifted_now(s->ci, k->fn, k->caller_cx, k->args, k->results, &trap) < 0) {
        if (!s->aborting) store_fail(s, &trap, k->caller_cx->err);
        return;
    }
    if (s->aborting) return;
    char err[300];
    if (!k->fn->async && ka_task_resolve(k, err, sizeof err) < 0) {
        store_fail(s, NULL, err);
        return;
    }
    if (k->fn->type->async && k->needs_exclusive && k->inst->exclusive == me)
        k->inst->exclusive = NULL;
    if (unregister_thread(me, err, sizeof err) < 0) store_fail(s, NULL, err);
}

/* An explicit thread (thread.new-indirect): calls the table's function with its
 * argument, then leaves the task. */
typedef struct call_ref {
    wasm_rt_funcref_t ref;
    uint32_t arg;
} call_ref;

static void call_ref_fn(void *p)
{
    call_ref *c = p;
    ((void (*)(void *, uint32_t))c->ref.func)(c->ref.module_instance, c->arg);
}

static void explicit_body(ka_thread *me)
{
    ka_store *s = me->s;
    wasm_rt_funcref_table_t *tbl = me->table;
    call_ref c = {tbl->data[me->cfunc], me->carg};
    /* An image's shared table holds elements relative to the table (engine/runtime.h). */
    c.ref.module_instance = kiln_rt_funcref_self(tbl, c.ref.module_instance);
    kiln_trap trap;
    if (kiln_rt_call(call_ref_fn, &c, &trap) < 0) {
        if (!s->aborting) store_fail(s, &trap, kiln_trap_message(&trap));
        return;
    }
    char err[300];
    if (unregister_thread(me, err, sizeof err) < 0) store_fail(s, NULL, err);
}

static ka_task *task_new(ka_store *s, ki_func *fn, kiln_cabi_cx *caller_cx, const kiln_cval *args,
                         kiln_cval *results)
{
    ka_task *k = kiln_calloc(1, sizeof *k);
    if (!k) return NULL;
    k->fn = fn;
    k->inst = ka_inst_of(s, fn->frame);
    if (!k->inst) {
        kiln_free(k);
        return NULL;
    }
    k->cx.arena = caller_cx->arena;
    k->cx.resource_ctx = caller_cx == s->ci->cx ? NULL : caller_cx->resource_ctx;
    k->caller_cx = &k->cx;
    k->args = args;
    k->results = results;
    k->needs_exclusive = fn->type->async && (!fn->async || fn->callback);
    k->tag = s->cur && s->cur->task ? s->cur->task->tag : NULL; /* (a guest's call: its caller's) */
    k->next = s->tasks;
    s->tasks = k;
    return k;
}

/* Canon_lift's tail for a function of a sync type called by `me` (or the host: me NULL)
 * whose task blocked: runs the callee instance's other ready threads until it resolves.
 * -1 with a reason when none is ready (a sync task may not block). */
static int finish_sync(ka_store *s, ka_thread *me, ka_task *k)
{
    while (k->state != T_RESOLVED && !s->failed) {
        ka_thread *r = ka_pick_ready(s, k->inst);
        if (!r && !me && ka_host_progress(s)) continue;
        if (!r) {
            store_fail(s, NULL, "cannot block a synchronous task before returning");
            return -1;
        }
        if (me) {
            if (ka_park(me, REQ_CALL, r) < 0) return -1;
        } else {
            drive(s, r);
        }
    }
    return s->failed ? -1 : 0;
}

/* Frees a subtask (out of the store; its task gone or never there). */
static void sub_free(ka_store *s, ka_subtask *sub)
{
    ka_obj_release(s, sub);
    kiln_cabi_cx_free(&sub->cx);
    kiln_free(sub);
}

/* Whether task k has ended: resolved, no kiln_component_call holding it, and its threads
 * done too (none left registered, the implicit one done). */
static int task_ended(const ka_task *k)
{
    return k->state == T_RESOLVED && !k->nthreads && !k->held &&
           (!k->implicit || k->implicit->done);
}

/* Frees ended task k (off *pk, the link to it in the store's list): its subtask forgets
 * it, or goes with it once dropped; its threads are freed by reap or free_threads_of. */
static void task_free(ka_store *s, ka_task **pk)
{
    ka_task *k = *pk;
    if (k->sub && k->sub->dropped) {
        sub_free(s, k->sub);
    } else if (k->sub) {
        k->sub->task = NULL;
    }
    if (k->implicit) k->implicit->task = NULL;
    *pk = k->next;
    kiln_free(k);
}

static void thread_free(ka_thread *t)
{
    ki_cxs_give(t->cxs, t->ncxs);
    kiln_free(t->cxs);
    kiln_free(t);
}

void ka_sub_dropped(ka_store *s, ka_subtask *sub)
{
    sub->dropped = 1;
    ka_task *k = sub->task;
    if (!k) {
        sub_free(s, sub);
        return;
    }
    if (!task_ended(k)) return; /* reap frees both once it has */
    for (ka_thread *t = s->threads; t; t = t->next)
        if (t->task == k && !t->done) return; /* (an explicit one never started) */
    /* its threads have all ended: none runs, none is on the driver's stack */
    for (ka_thread **pt = &s->threads; *pt;) {
        ka_thread *t = *pt;
        if (t->task != k) {
            pt = &t->next;
            continue;
        }
        *pt = t->next;
        thread_free(t);
    }
    k->implicit = NULL; /* freed above */
    for (ka_task **pk = &s->tasks; *pk; pk = &(*pk)->next)
        if (*pk == k) {
            task_free(s, pk);
            return;
        }
}

/* Frees what finished tasks leave behind, so that an instance serving many calls does
 * not grow: resolved tasks whose threads have all ended (with their implicit thread; a
 * subtask forgets its task, or goes with it when dropped), and ended explicit threads.
 * Only between host calls. */
static void reap(ka_store *s)
{
    for (ka_task **pk = &s->tasks; *pk;) {
        if (!task_ended(*pk)) {
            pk = &(*pk)->next;
            continue;
        }
        task_free(s, pk); /* (its implicit thread is freed below with the threads) */
    }
    for (ka_thread **pt = &s->threads; *pt;) {
        ka_thread *t = *pt;
        int implicit_of_live_task = t->task && !t->table;
        if (!t->done || implicit_of_live_task) {
            pt = &t->next;
            continue;
        }
        *pt = t->next;
        thread_free(t);
    }
}

/* The host's call of task k (implicit thread t): drives the store until k resolves. */
typedef struct top_call {
    ka_store *s;
    ka_thread *t;
    ka_task *k;
    int (*done)(void *); /* kiln_component_drive's condition */
    void *done_arg;
    int rc;
    int started; /* t was first resumed */
    int idle;    /* the driver stopped for the host's outside wait (kiln_component_idle) */
} top_call;

/* With no guest thread ready: 1 when a due host call fired (drive on); 2 when the host
 * waits for something outside (the driver returns to the caller's thread for it, with
 * c->idle set); 0 otherwise (sleep for a host call, or nothing can progress). */
static int outside(ka_store *s, top_call *c)
{
    if (!s->idle.wants || !s->idle.wants(s->idle.arg)) return 0;
    if (ka_host_fire_due(s)) return 1;
    if (s->fd_waiters && ka_stream_poll(s, 0) > 0) return 1; /* a host stream's fd is ready */
    c->idle = 1;
    return 2;
}

static void run_top(void *arg)
{
    top_call *c = arg;
    ka_store *s = c->s;
    if (!c->started) {
        c->started = 1;
        drive(s, c->t);
    }
    if (!c->k->fn->type->async) {
        finish_sync(s, NULL, c->k);
        return;
    }
    while (c->k->state != T_RESOLVED && !s->failed) {
        ka_thread *r = ka_pick_ready(s, NULL);
        if (!r) {
            int o = outside(s, c);
            if (o == 2) return;
            if (o == 1 || ka_host_progress(s)) continue;
            store_fail(s, NULL, "deadlock detected: event loop cannot make further progress");
            break;
        }
        drive(s, r);
    }
}

typedef struct off_call {
    void (*fn)(void *);
    void *arg;
} off_call;

static void *off_thread(void *arg)
{
    off_call *c = arg;
    c->fn(c->arg);
    return NULL;
}

/* The driver on an offload pool thread, whose mask keeps the runtime's signals away:
 * they must reach the guests it runs (faults, time limits) for as long as it runs. */
static void on_pool(void *arg)
{
    off_call *c = arg;
    int unblocked = kiln_rt_signals_unblock() == 0;
    c->fn(c->arg);
    if (unblocked) kiln_rt_signals_block();
}

/* Runs fn(arg), the driver, off the caller's fiber: fibers do not nest, so on a
 * request's fiber it runs on the offload pool while the fiber parks (or, with no
 * scheduler bound, on a thread of its own). 0, or -1 when no thread could start. */
static int off_fiber(void (*fn)(void *), void *arg)
{
    if (!kiln_fiber_current()) {
        fn(arg);
    } else if (kiln_sched_current()) {
        off_call c = {fn, arg};
        kiln_offload(on_pool, &c);
    } else {
        off_call c = {fn, arg};
        pthread_t th;
        if (pthread_create(&th, NULL, off_thread, &c) != 0) return -1;
        pthread_join(th, NULL);
    }
    return 0;
}

/* kiln_component_drive's loop: the host's condition first, then ready threads, then due
 * host calls; rc 1 (done), 0 (nothing can progress). */
static void run_drive(void *arg)
{
    top_call *c = arg;
    ka_store *s = c->s;
    while (!s->failed) {
        if (c->done(c->done_arg)) {
            c->rc = 1;
            return;
        }
        ka_thread *r = ka_pick_ready(s, NULL);
        if (!r) {
            int o = outside(s, c);
            if (o == 2) return;
            if (o == 1 || ka_host_progress(s)) continue;
            return;
        }
        drive(s, r);
    }
}

/* Runs the driver fn(c) off the caller's fiber, and between its runs the host's outside
 * waits on the caller's thread (kiln_component_idle), until the driver stops for another
 * reason. 0, or -1 when no thread could start. */
static int drive_with_waits(ka_store *s, void (*fn)(void *), top_call *c)
{
    for (;;) {
        c->idle = 0;
        if (off_fiber(fn, c) < 0) return -1;
        if (s->failed || !c->idle) return 0;
        uint64_t until = ka_host_next_due(s);
        if (s->deadline_ns && s->deadline_ns < until) until = s->deadline_ns;
        int w = s->idle.wait(s->idle.arg, until);
        if (w < 0) {
            store_fail(s, NULL, "the host's wait for its input failed");
            return 0;
        }
        if (w > 0 && fn == run_drive) { /* the host takes the store back: "no progress" */
            c->rc = 0;
            return 0;
        }
        if (past_deadline(s)) return 0;
    }
}

void kiln_component_set_idle(kiln_component_instance *ci, const kiln_component_idle *idle)
{
    if (ci->as) ci->as->idle = *idle;
}

int kiln_component_drive(kiln_component_instance *ci, int (*done)(void *), void *arg,
                         kiln_trap *trap, uint64_t timeout_ns)
{
    ka_store *s = ci->as;
    trap->kind = KILN_TRAP_NONE;
    if (!s || s->cur) return done(arg) ? 1 : 0;
    if (s->failed) goto failed;
    if (done(arg)) return 1;
    /* nothing waits, nothing is pending: no need to start the driver */
    if (!s->waiting_head && !s->host_pending && !s->fd_waiters &&
        !(s->idle.wants && s->idle.wants(s->idle.arg)))
        return 0;
    s->deadline_ns = 0;
    if (timeout_ns) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s->deadline_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + timeout_ns;
    }
    top_call tc = {s, NULL, NULL, done, arg, 0, 0, 0};
    if (drive_with_waits(s, run_drive, &tc) < 0) {
        trap->kind = KILN_TRAP_HOST;
        snprintf(trap->message, sizeof trap->message, "cannot start a driver thread");
        return -1;
    }
    if (!s->failed) return tc.rc;
failed:
    *trap = s->trap;
    if (trap->kind == KILN_TRAP_NONE) {
        trap->kind = KILN_TRAP_HOST;
        snprintf(trap->message, sizeof trap->message, "%.150s", s->err);
    }
    return -1;
}

/* ---- calls in flight together (kiln_component_call_start) ---- */

struct kiln_component_async_call {
    ka_store *s;
    ka_task *k;
    kiln_cabi_cx cx; /* its arena holds the results */
    kiln_cval result;
};

kiln_component_async_call *kiln_component_call_start(kiln_component_instance *ci,
                                                     const kiln_component_func *f,
                                                     const kiln_cval *args, void *tag)
{
    ka_store *s = ci->as;
    ki_func *fn = (ki_func *)f;
    if (!s || s->cur || s->failed || fn->kind == KI_FUNC_HOST || !fn->type->async) return NULL;
    kiln_component_async_call *c = kiln_calloc(1, sizeof *c);
    if (!c) return NULL;
    if (kiln_cabi_cx_init(&c->cx) < 0) {
        kiln_free(c);
        return NULL;
    }
    ka_task *k = task_new(s, fn, &c->cx, args, &c->result);
    ka_thread *t = k ? ka_thread_new(s, k) : NULL;
    if (!t) { /* (a task made stays on the store's list, never started, until it goes) */
        kiln_cabi_cx_free(&c->cx);
        kiln_free(c);
        return NULL;
    }
    k->cx.resource_ctx = NULL; /* the host's call */
    k->tag = tag;
    k->implicit = t;
    k->held = 1;
    t->ready = ka_always; /* the next driver starts it */
    ka_waiting_add(s, t);
    c->s = s;
    c->k = k;
    return c;
}

void *kiln_component_call_tag(kiln_component_instance *ci)
{
    ka_store *s = ci->as;
    return s && s->cur && s->cur->task ? s->cur->task->tag : NULL;
}

uint64_t kiln_component_ready(kiln_component_instance *ci)
{
    ka_store *s = ci->as;
    if (!s || s->failed) return 0;
    for (ka_thread *t = s->waiting_head; t; t = t->wnext)
        if (t->ready(t) || (t->cancellable && t->task->state == T_PENDING_CANCEL)) return 0;
    uint64_t due = ka_host_next_due(s);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return due <= (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec ? 0 : due;
}

int kiln_component_call_done(void *call)
{
    kiln_component_async_call *c = call;
    return c->k->state == T_RESOLVED || c->s->failed;
}

const kiln_cval *kiln_component_call_result(const kiln_component_async_call *c)
{
    return c->k->state == T_RESOLVED && !c->s->failed ? &c->result : NULL;
}

void kiln_component_call_end(kiln_component_async_call *c)
{
    if (!c) return;
    c->k->held = 0;
    if (c->k->state != T_RESOLVED) /* its results would go to a freed arena */
        store_fail(c->s, NULL, "the host abandoned a call in flight");
    if (!c->s->cur && !c->s->failed) reap(c->s);
    kiln_cabi_cx_free(&c->cx);
    kiln_free(c);
}

int ka_call(kiln_component_instance *ci, ki_func *fn, kiln_cabi_cx *caller_cx,
            const kiln_cval *args, kiln_cval *results, kiln_trap *trap)
{
    ka_store *s = ci->as;
    trap->kind = KILN_TRAP_NONE;
    if (fn->kind == KI_FUNC_HOST) return ki_call_lifted_now(ci, fn, caller_cx, args, results, trap);
    ka_thread *me = s->cur;
    if (!me && s->failed) {
        snprintf(caller_cx->err, sizeof caller_cx->err,
                 "the component instance trapped before and cannot be entered (%.150s)", s->err);
        return -1;
    }
    ka_task *k = task_new(s, fn, caller_cx, args, results);
    ka_thread *t = k ? ka_thread_new(s, k) : NULL;
    if (!t) {
        snprintf(caller_cx->err, sizeof caller_cx->err, "out of memory");
        return -1;
    }
    k->implicit = t;
    if (me) {
        /* a sync lower from a guest thread: the callee runs until it blocks, then the
         * caller waits for it */
        if (ka_park(me, REQ_CALL, t) < 0) goto aborted;
        if (k->state != T_RESOLVED) {
            if (!fn->type->async) {
                if (finish_sync(s, me, k) < 0) goto aborted;
            } else if (ka_wait_until(me, task_resolved, k) < 0) {
                goto aborted;
            }
        }
        if (s->failed) goto aborted;
        return 0;
    aborted:
        snprintf(caller_cx->err, sizeof caller_cx->err, "%s", s->err);
        return -1;
    }
    s->deadline_ns = 0;
    if (ci->timeout_ns) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s->deadline_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + ci->timeout_ns;
    }
    top_call tc = {s, t, k, NULL, NULL, 0, 0, 0};
    if (drive_with_waits(s, run_top, &tc) < 0) {
        snprintf(caller_cx->err, sizeof caller_cx->err, "cannot start a driver thread");
        return -1;
    }
    if (s->failed) {
        *trap = s->trap;
        snprintf(caller_cx->err, sizeof caller_cx->err, "%s", s->err);
        return -1;
    }
    reap(s);
    return 0;
}

void ka_cx_hooks(kiln_component_instance *ci, kiln_cabi_cx *cx)
{
    cx->async_lift = ka_end_lift;
    cx->async_lower = ka_end_lower;
    cx->async_ctx = ci;
}

void ka_hold(kiln_component_instance *ci, ki_frame *f)
{
    ka_thread *t = ci->as ? ci->as->cur : NULL;
    if (t && t->nheld < MAX_HELD) t->held[t->nheld++] = f;
}

void ka_unhold(kiln_component_instance *ci, ki_frame *f)
{
    ka_thread *t = ci->as ? ci->as->cur : NULL;
    if (!t) return;
    for (uint32_t i = t->nheld; i-- > 0;)
        if (t->held[i] == f) {
            memmove(&t->held[i], &t->held[i + 1], (t->nheld - i - 1) * sizeof t->held[0]);
            t->nheld--;
            return;
        }
}

/* ---- readiness of the callback loop ---- */

static int no_exclusive(ka_thread *t)
{
    return !t->task->inst->exclusive;
}

static int wset_ready_cb(ka_thread *t)
{
    return !t->task->inst->exclusive && ka_wset_has_event(t->rarg);
}

/* ---- async lift: the callback loop ---- */

/* What is left of the host call's time limit for a guest thread's core call (0: none;
 * each thread is a fiber of its own, so its outermost core call arms the watchdog). */
static uint64_t time_left(const ka_store *s)
{
    if (!s->deadline_ns) return 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return now >= s->deadline_ns ? 1 : s->deadline_ns - now;
}

int ka_run_async_core(kiln_component_instance *ci, ki_func *fn, kiln_val *core, kiln_cabi_cx *cx,
                      kiln_trap *trap)
{
    ka_store *s = ci->as;
    ka_thread *me = s->cur;
    if (ki_core_call(fn->core, core, trap, time_left(s)) < 0) {
        snprintf(cx->err, sizeof cx->err, "%s", kiln_trap_message(trap));
        return -1;
    }
    if (!fn->callback) return 0;
    ka_inst *in = me->task->inst;
    uint32_t packed = core[0].i32;
    for (;;) {
        uint32_t code = packed & 0xf, si = packed >> 4, ev[3] = {EV_NONE, 0, 0};
        if (code > CB_WAIT) {
            snprintf(cx->err, sizeof cx->err, "unsupported callback code %u", code);
            return -1;
        }
        if (code == CB_EXIT) break;
        in->exclusive = NULL;
        if (code == CB_YIELD) {
            int rc = ka_wait_until_y(me, no_exclusive, NULL, 1, 1);
            if (rc < 0) goto gone;
            if (rc == 1) ev[0] = EV_TASK_CANCELLED;
        } else {
            const kiln_resource_type *ht;
            uint32_t rep;
            if (kiln_resources_lookup(fn->frame->res, si, &ht, &rep, cx->err, sizeof cx->err) < 0)
                return -1;
            if (ht != &ka_type_wset) {
                snprintf(cx->err, sizeof cx->err, "handle index %u used with the wrong type", si);
                return -1;
            }
            ka_wset *w = ka_obj_at(s, rep, KA_WSET);
            if (!w) {
                snprintf(cx->err, sizeof cx->err, "handle index %u: no waitable set", si);
                return -1;
            }
            w->num_waiting++;
            int rc = ka_wait_until_c(me, wset_ready_cb, w, 1);
            w->num_waiting--;
            if (rc < 0) goto gone;
            if (rc == 1)
                ev[0] = EV_TASK_CANCELLED;
            else
                ka_wset_take_event(w, ev);
        }
        in->exclusive = me;
        kiln_val v[3];
        v[0].i32 = ev[0], v[1].i32 = ev[1], v[2].i32 = ev[2];
        if (ki_core_call(fn->callback, v, trap, time_left(s)) < 0) {
            snprintf(cx->err, sizeof cx->err, "%s", kiln_trap_message(trap));
            return -1;
        }
        packed = v[0].i32;
    }
    return 0;
gone:
    snprintf(cx->err, sizeof cx->err, "the instance is gone");
    return -1;
}

/* ---- async lower ---- */

static void lower_async_call(void *ctx, kiln_val *vals)
{
    ki_tramp *tr = ctx;
    kiln_component_instance *ci = tr->ci;
    ka_store *s = ci->as;
    ka_thread *me = s->cur;
    if (tr->frame->no_leave) kiln_rt_trap_host("cannot leave component instance (post-return)");
    if (!me) kiln_rt_trap_host("an async call outside a task");
    const kiln_ctype *ft = tr->type;
    ka_subtask *sub = kiln_calloc(1, sizeof *sub);
    if (!sub || kiln_cabi_cx_init(&sub->cx) < 0) {
        kiln_free(sub);
        kiln_rt_trap_host("async call: out of memory");
    }
    uint32_t rep;
    sub->w.kind = KA_SUBTASK;
    if (ka_obj_add(s, sub, &rep) < 0) {
        kiln_cabi_cx_free(&sub->cx);
        kiln_free(sub);
        kiln_rt_trap_host(ka_live_objs(s) >= KA_MAX_OBJS ? "async call: " KA_TOO_MANY
                                                         : "async call: out of memory");
    }
    sub->w.take = ka_sub_take;
    sub->tramp = tr;
    ki_cx_prepare(ci, &sub->cx, tr->memory, tr->enc, tr->realloc, tr->frame);
    uint64_t nflat = 0;
    for (uint32_t i = 0; i < ft->nitems; i++)
        nflat += ft->items[i].type.type->flat;
    uint32_t np = nflat > 4 ? 1 : (uint32_t)nflat;
    sub->retptr = ft->has_elem ? vals[np].i32 : 0;
    kiln_cval *args = kiln_cabi_alloc(&sub->cx, (ft->nitems + 1) * sizeof *args);
    if (!args) kiln_rt_trap_host("async call: out of memory");
    memset(args, 0, (ft->nitems + 1) * sizeof *args);
    char msg[400];
    /* Borrowed handles are lent for the call until the callee first blocks or returns (a
     * call scope of the caller's table; the spec keeps them lent until the subtask
     * resolves, which the table's nested scopes cannot follow). */
    int borrows = 0;
    for (uint32_t i = 0; i < ft->nitems; i++)
        borrows |= ft->items[i].type.type->has_borrow;
    if (borrows && kiln_resources_call_begin(tr->frame->res, msg, sizeof msg) < 0)
        kiln_rt_trap_host(msg);
    if (kiln_cabi_lift_args_max(&sub->cx, ft, vals, args, 4) < 0) {
        snprintf(msg, sizeof msg, "%s: reading the arguments: %s", tr->callee->name, sub->cx.err);
        if (borrows) kiln_resources_call_end(tr->frame->res, NULL, 0);
        kiln_rt_trap_host(msg);
    }
    if (tr->callee->kind == KI_FUNC_HOST) {
        /* a host function completes during the call (an eager resolution, which the
         * spec allows): its results go to the return area at once; or it leaves the call
         * pending (kiln_chost_defer) and completes it later */
        kiln_trap trap;
        sub->store = s;
        s->host_call = sub;
        int rc = ki_call_lifted_now(ci, tr->callee, &sub->cx, args, &sub->result, &trap);
        s->host_call = NULL;
        if (borrows) kiln_resources_call_end(tr->frame->res, NULL, 0);
        if (rc == KILN_CHOST_PENDING && sub->host_pending) {
            sub->state = ST_STARTED;
            if (kiln_resource_new(tr->frame->res, &ka_type_subtask, rep, &sub->w.handle, msg,
                                  sizeof msg) < 0)
                kiln_rt_trap_host(msg);
            vals[0].i32 = (uint32_t)ST_STARTED | sub->w.handle << 4;
            return;
        }
        if (rc == KILN_CHOST_PENDING && sub->state == ST_RETURNED) {
            /* completed before it returned: the results are in the return area, and
             * the subtask, which never had a handle, goes */
            ka_sub_dropped(s, sub);
            vals[0].i32 = ST_RETURNED;
            return;
        }
        if (rc == KILN_CHOST_PENDING || (rc == 0 && sub->host_pending)) {
            snprintf(msg, sizeof msg, "%s: the host function deferred its call wrongly",
                     tr->callee->name);
            kiln_rt_trap_host(msg);
        }
        if (rc < 0 || (ft->has_elem && kiln_cabi_store_value(&sub->cx, ft->elem.type, &sub->result,
                                                             sub->retptr) < 0)) {
            snprintf(msg, sizeof msg, "%s: %s", tr->callee->name, sub->cx.err);
            kiln_rt_trap_host(msg);
        }
        ka_sub_dropped(s, sub); /* resolved at once: no handle, nothing refers to it */
        vals[0].i32 = ST_RETURNED;
        return;
    }
    ka_task *k = task_new(s, tr->callee, &sub->cx, args, &sub->result);
    ka_thread *t = k ? ka_thread_new(s, k) : NULL;
    if (!t) kiln_rt_trap_host("async call: out of memory");
    k->implicit = t;
    k->sub = sub;
    sub->task = k;
    if (!ki_may_enter(tr->callee->frame, tr->frame)) {
        snprintf(msg, sizeof msg, "%s: cannot enter component instance", tr->callee->name);
        kiln_rt_trap_host(msg);
    }
    if (ka_park(me, REQ_CALL, t) < 0 || s->failed) kiln_rt_trap_host(s->err);
    if (borrows && kiln_resources_call_end(tr->frame->res, msg, sizeof msg) < 0)
        kiln_rt_trap_host(msg);
    if (sub->state == ST_RETURNED) {
        sub->resolve_delivered = 1;
        ka_sub_dropped(s, sub); /* no handle: it goes with its task */
        vals[0].i32 = ST_RETURNED;
        return;
    }
    uint32_t h;
    if (kiln_resource_new(tr->frame->res, &ka_type_subtask, rep, &h, msg, sizeof msg) < 0)
        kiln_rt_trap_host(msg);
    sub->w.handle = h;
    vals[0].i32 = (uint32_t)sub->state | h << 4;
}

ki_core *ka_lower_async(kiln_component_instance *ci, ki_tramp *t, kiln_err *err)
{
    ki_core *c = ki_alloc(ci, sizeof *c, KI_CORE);
    if (!c) {
        kiln_err_set(err, "%s: out of memory", ci->name);
        return NULL;
    }
    const kiln_ctype *ft = t->type;
    uint64_t nflat = 0;
    for (uint32_t i = 0; i < ft->nitems; i++)
        nflat += ft->items[i].type.type->flat;
    char sig[64];
    size_t n = 0;
    if (nflat > 4) {
        sig[n++] = 'i';
    } else {
        for (uint32_t i = 0; i < ft->nitems; i++)
            for (const char *q = ft->items[i].type.type->flat_sig; *q && n < 40; q++)
                sig[n++] = *q;
    }
    if (ft->has_elem) sig[n++] = 'i';
    memcpy(sig + n, ":i", 3);
    c->type = ki_strdup(ci, sig);
    if (!c->type) {
        kiln_err_set(err, "%s: out of memory", ci->name);
        return NULL;
    }
    c->kind = KILN_EXTERN_FUNC;
    c->b = (kiln_binding){(kiln_fnptr)lower_async_call, t, KILN_BIND_HOST_VALS};
    c->idx = -1;
    return c;
}

/* ---- teardown ---- */

/* Unwinds the store's parked threads and frees their fibers (off the caller's fiber:
 * fibers do not nest, and an instance freed on a request's fiber may have threads
 * parked mid-call, e.g. after a time limit). */
static void unwind_threads(void *arg)
{
    ka_store *s = arg;
    for (ka_thread *t = s->threads; t; t = t->next) {
        if (!t->fiber) continue;
        /* a parked thread unwinds (park returns -1: its built-in traps); one never
         * started is freed as it is */
        for (int i = 0; i < 1000 && t->started && !t->done; i++)
            resume(s, t);
        if (t->fiber && (t->done || !t->started)) kiln_fiber_free(t->fiber);
        t->fiber = NULL;
    }
}

void ka_store_free(kiln_component_instance *ci)
{
    ka_store *s = ci->as;
    if (!s) return;
    s->aborting = 1;
    s->failed = 1;
    ka_host_abandon_all(s);
    int parked = 0;
    for (ka_thread *t = s->threads; t && !parked; t = t->next)
        parked = t->fiber && t->started && !t->done;
    /* (when no thread can start for it, the parked fibers are left, not resumed here) */
    if (!parked || off_fiber(unwind_threads, s) < 0) {
        if (!parked || !kiln_fiber_current()) unwind_threads(s);
    }
    while (s->threads) {
        ka_thread *t = s->threads;
        s->threads = t->next;
        ki_cxs_give(t->cxs, t->ncxs);
        kiln_free(t->cxs);
        kiln_free(t);
    }
    while (s->tasks) {
        ka_task *k = s->tasks;
        s->tasks = k->next;
        kiln_free(k);
    }
    for (uint32_t i = 0; i < s->nobjs; i++) {
        if (!s->objs[i]) continue; /* freed already */
        int kind = *(int *)s->objs[i];
        if (kind == KA_WSET) {
            kiln_free(((ka_wset *)s->objs[i])->elems);
            kiln_free(s->objs[i]);
        } else if (kind == KA_SUBTASK) {
            kiln_cabi_cx_free(&((ka_subtask *)s->objs[i])->cx);
            kiln_free(s->objs[i]);
        } else if (kind == KA_ERRCTX) {
            kiln_free(s->objs[i]); /* (the messages go below) */
        } else {
            ka_end_free(s->objs[i]);
        }
    }
    while (s->errctxs) {
        ka_errctx *ec = s->errctxs;
        s->errctxs = ec->next;
        kiln_free(ec);
    }
    kiln_free(s->objs);
    kiln_free(s->objfree);
    kiln_free(s->stack);
    for (uint32_t i = 0; i < s->ninsts; i++) {
        kiln_free(s->insts[i]->threads);
        kiln_free(s->insts[i]->free);
        kiln_free(s->insts[i]);
    }
    kiln_free(s->insts);
    kiln_free(s);
    ci->as = NULL;
}
