/* async_builtins.c — the async built-ins of async.h: waitable sets, subtasks, task.return /
 * task.cancel, yield, context, backpressure and the thread built-ins, over the tasks and
 * threads of async.c (names as in definitions.py). */
#include "component/async_internal.h"
#include "engine/runtime.h"
#include "util/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- built-ins ---- */

_Noreturn void ka_trap(ka_bi *b, const char *fmt, ...)
{
    char msg[300];
    int n = snprintf(msg, sizeof msg, "%s: ", kiln_canon_op_name(b->k->op));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    kiln_rt_trap_host(msg);
}

ka_thread *ka_current(ka_bi *b)
{
    if (b->frame->no_leave) ka_trap(b, "cannot leave component instance");
    ka_thread *t = b->ci->as->cur;
    if (!t) ka_trap(b, "called outside a task");
    return t;
}

void *ka_get(ka_bi *b, uint32_t h, const kiln_resource_type *t)
{
    if (b->frame->no_leave) ka_trap(b, "cannot leave component instance");
    const kiln_resource_type *ht;
    uint32_t rep;
    char err[160];
    if (kiln_resources_lookup(b->frame->res, h, &ht, &rep, err, sizeof err) < 0)
        ka_trap(b, "%s", err);
    if (ht != t) ka_trap(b, "handle index %u used with the wrong type", h);
    void *o = ka_obj_at(b->ci->as, rep, ka_kind_of(t));
    if (!o) ka_trap(b, "handle index %u refers to a freed %s", h, t->name); /* (a bug) */
    return o;
}

/* A waitable (subtask or stream/future end) behind handle h. */
static ka_waitable *get_waitable(ka_bi *b, uint32_t h)
{
    const kiln_resource_type *ht;
    uint32_t rep;
    char err[160];
    if (kiln_resources_lookup(b->frame->res, h, &ht, &rep, err, sizeof err) < 0)
        ka_trap(b, "%s", err);
    if (ht == &ka_type_wset ||
        (ht != &ka_type_subtask && ht != &ka_type_stream_r && ht != &ka_type_stream_w &&
         ht != &ka_type_future_r && ht != &ka_type_future_w))
        ka_trap(b, "handle index %u used with the wrong type", h);
    void *o = ka_obj_at(b->ci->as, rep, ka_kind_of(ht));
    if (!o) ka_trap(b, "handle index %u refers to a freed %s", h, ht->name); /* (a bug) */
    return o;
}

static void bi_wset_new(void *ctx, kiln_val *v)
{
    ka_bi *b = ctx;
    if (b->frame->no_leave) ka_trap(b, "cannot leave component instance");
    uint32_t rep;
    ka_wset *w = ka_obj_new(b, sizeof *w, KA_WSET, &rep);
    uint32_t h;
    char err[160];
    if (kiln_resource_new(b->frame->res, &ka_type_wset, rep, &h, err, sizeof err) < 0)
        ka_trap(b, "%s", err);
    v[0].i32 = h;
}

static void bi_wset_drop(void *ctx, kiln_val *v)
{
    ka_bi *b = ctx;
    ka_wset *w = ka_get(b, v[0].i32, &ka_type_wset);
    if (w->num_waiting) ka_trap(b, "cannot drop waitable set with waiters");
    if (w->n) ka_trap(b, "cannot drop waitable set with waitables in it");
    char err[160];
    if (kiln_resource_drop(b->frame->res, &ka_type_wset, v[0].i32, err, sizeof err) < 0)
        ka_trap(b, "%s", err);
    /* no waiter, no element, no handle: nothing refers to it */
    ka_obj_release(b->ci->as, w);
    kiln_free(w->elems);
    kiln_free(w);
}

/* Writes an event's payloads at ptr (two u32) and returns its code in v[0]. */
static void put_event(ka_bi *b, uint32_t ptr, const uint32_t ev[3], kiln_val *v)
{
    wasm_rt_memory_t *m = b->memory;
    if (!m || (uint64_t)ptr + 8 > m->size || ptr % 4) ka_trap(b, "event pointer out of bounds");
    memcpy(m->data + ptr, &ev[1], 4);
    memcpy(m->data + ptr + 4, &ev[2], 4);
    v[0].i32 = ev[0];
}

static void bi_wset_wait(void *ctx, kiln_val *v)
{
    ka_bi *b = ctx;
    ka_thread *me = ka_current(b);
    ka_wset *w = ka_get(b, v[0].i32, &ka_type_wset);
    uint32_t ptr = v[1].i32, ev[3];
    w->num_waiting++;
    int rc = ka_wait_until_c(me, ka_wset_ready_stackful, w, b->k->flag);
    if (rc < 0) ka_trap(b, "the instance is gone");
    w->num_waiting--;
    if (rc == 1)
        ev[0] = EV_TASK_CANCELLED, ev[1] = ev[2] = 0;
    else
        ka_wset_take_event(w, ev);
    put_event(b, ptr, ev, v);
}

static void bi_wset_poll(void *ctx, kiln_val *v)
{
    ka_bi *b = ctx;
    ka_thread *me = ka_current(b);
    ka_wset *w = ka_get(b, v[0].i32, &ka_type_wset);
    uint32_t ev[3];
    if (ka_deliver_pending_cancel(me->task, b->k->flag))
        ev[0] = EV_TASK_CANCELLED, ev[1] = ev[2] = 0;
    else
        ka_wset_take_event(w, ev);
    put_event(b, v[1].i32, ev, v);
}

static void bi_join(void *ctx, kiln_val *v)
{
    ka_bi *b = ctx;
    ka_waitable *x = get_waitable(b, v[0].i32);
    if (x->sync_waiter) ka_trap(b, "waitable cannot be joined while waited for");
    ka_wset *w = v[1].i32 ? ka_get(b, v[1].i32, &ka_type_wset) : NULL;
    if (ka_join(x, w) < 0) ka_trap(b, "out of memory");
}

static void bi_subtask_drop(void *ctx, kiln_val *v)
{
    ka_bi *b = ctx;
    ka_subtask *sub = ka_get(b, v[0].i32, &ka_type_subtask);
    if (!sub->resolve_delivered) ka_trap(b, "cannot drop a subtask which has not yet resolved");
    ka_join(&sub->w, NULL);
    char err[160];
    if (kiln_resource_drop(b->frame->res, &ka_type_subtask, v[0].i32, err, sizeof err) < 0)
        ka_trap(b, "%s", err);
    ka_sub_dropped(b->ci->as, sub); /* resolved: no set, no host call refers to it */
}

static void bi_yield(void *ctx, kiln_val *v)
{
    ka_bi *b = ctx;
    ka_thread *me = ka_current(b);
    int rc = ka_wait_until_y(me, ka_always, NULL, b->k->flag, 1);
    if (rc < 0) ka_trap(b, "the instance is gone");
    v[0].i32 = rc;
}

static void bi_context_get(void *ctx, kiln_val *v)
{
    ka_bi *b = ctx;
    ka_thread *t = b->ci->as->cur; /* (allowed in a post-return) */
    if (!t) ka_trap(b, "called outside a task");
    v[0].i32 = t->storage[b->k->type];
}

static void bi_context_set(void *ctx, kiln_val *v)
{
    ka_bi *b = ctx;
    ka_thread *t = b->ci->as->cur;
    if (!t) ka_trap(b, "called outside a task");
    t->storage[b->k->type] = v[0].i32;
}

static void bi_bp(void *ctx, kiln_val *v)
{
    (void)v;
    ka_bi *b = ctx;
    ka_inst *in = ka_inst_of(b->ci->as, b->frame); /* (allowed in a post-return) */
    if (!in) ka_trap(b, "out of memory");
    if (b->k->op == KILN_CANON_BACKPRESSURE_INC) {
        if (++in->backpressure >= 1 << 16) ka_trap(b, "backpressure counter overflow");
    } else if (--in->backpressure < 0) {
        ka_trap(b, "backpressure counter underflow");
    }
}

static void bi_task_cancel(void *ctx, kiln_val *v)
{
    (void)v;
    ka_bi *b = ctx;
    ka_thread *me = ka_current(b);
    if (!me->task->fn->async) ka_trap(b, "the task was not lifted async");
    if (me->task->state != T_CANCEL_DELIVERED) ka_trap(b, "the task was not cancelled");
    ka_task_cancel_resolve(me->task);
}

/* ---- thread built-ins ---- */

static void bi_thread_index(void *ctx, kiln_val *v)
{
    ka_bi *b = ctx;
    v[0].i32 = ka_current(b)->index;
}

static void bi_thread_new(void *ctx, kiln_val *v)
{
    ka_bi *b = ctx;
    ka_thread *me = ka_current(b);
    wasm_rt_funcref_table_t *tbl = b->table->b.ctx;
    uint32_t fi = v[0].i32;
    if (!tbl || fi >= tbl->size || !tbl->data[fi].func)
        ka_trap(b, "no function at table index %u", fi);
    if (tbl->data[fi].func_type != wasm_rt_register_func_type(1, 0, WASM_RT_I32))
        ka_trap(b, "the function at table index %u has the wrong type", fi);
    ka_thread *t = ka_thread_new(me->s, me->task);
    if (!t) ka_trap(b, "out of memory");
    t->table = tbl;
    t->cfunc = fi;
    t->carg = v[1].i32;
    t->ts = TS_SUSPENDED;
    if (ka_register_thread(t) < 0) ka_trap(b, "out of memory");
    v[0].i32 = t->index;
}

/* The thread at index i of the caller's instance. */
static ka_thread *thread_at(ka_bi *b, ka_thread *me, uint32_t i)
{
    ka_inst *in = me->task->inst;
    if (i == 0 || i >= in->nthreads || !in->threads[i]) ka_trap(b, "unknown thread index %u", i);
    return in->threads[i];
}

static void bi_resume_later(void *ctx, kiln_val *v)
{
    ka_bi *b = ctx;
    ka_thread *me = ka_current(b);
    ka_thread *o = thread_at(b, me, v[0].i32);
    if (o->ts != TS_SUSPENDED) ka_trap(b, "cannot resume thread which is not suspended");
    o->ready = ka_always;
    o->cancellable = 0;
    o->ts = TS_WAITING;
    ka_waiting_add(me->s, o);
}

/* Suspends me (no ready condition), switching to other when not NULL. 1 cancelled, 0. */
static int suspend_then(ka_bi *b, ka_thread *me, ka_thread *other, int yield)
{
    if (ka_deliver_pending_cancel(me->task, 0)) return 1;
    if (yield) {
        me->ready = ka_always;
        me->ts = TS_WAITING;
        ka_waiting_add(me->s, me);
    } else {
        me->ts = TS_SUSPENDED;
    }
    me->cancelled = 0;
    if (ka_park(me, other ? REQ_SWITCH : REQ_BLOCK, other) < 0) ka_trap(b, "the instance is gone");
    return me->cancelled;
}

static void bi_suspend(void *ctx, kiln_val *v)
{
    ka_bi *b = ctx;
    v[0].i32 = suspend_then(b, ka_current(b), NULL, 0);
}

/* thread.{suspend,yield}-then-{resume,promote} i. */
static void bi_switch(void *ctx, kiln_val *v)
{
    ka_bi *b = ctx;
    ka_thread *me = ka_current(b);
    uint8_t op = b->k->op;
    int yield =
        op == KILN_CANON_THREAD_YIELD_THEN_RESUME || op == KILN_CANON_THREAD_YIELD_THEN_PROMOTE;
    int promote =
        op == KILN_CANON_THREAD_SUSPEND_THEN_PROMOTE || op == KILN_CANON_THREAD_YIELD_THEN_PROMOTE;
    ka_thread *o = thread_at(b, me, v[0].i32);
    if (o == me) ka_trap(b, "a thread cannot switch to itself");
    if (promote) {
        if (o->ts == TS_WAITING && o->ready(o)) {
            ka_waiting_remove(me->s, o);
            o->ts = TS_SUSPENDED;
        } else {
            v[0].i32 = suspend_then(b, me, NULL, yield);
            return;
        }
    } else if (o->ts != TS_SUSPENDED) {
        ka_trap(b, "cannot resume thread which is not suspended");
    }
    v[0].i32 = suspend_then(b, me, o, yield);
}

/* subtask.cancel (k->flag: async): requests the callee's cancellation; returns the
 * subtask's state once resolved, or BLOCKED (async) until then. */
static void bi_subtask_cancel(void *ctx, kiln_val *v)
{
    ka_bi *b = ctx;
    ka_thread *me = ka_current(b);
    ka_subtask *sub = ka_get(b, v[0].i32, &ka_type_subtask);
    int async = b->k->flag;
    if (sub->resolve_delivered) ka_trap(b, "the subtask has already resolved");
    if (sub->cancel_requested) ka_trap(b, "the subtask's cancellation was already requested");
    if (sub->w.wset && !async)
        ka_trap(b, "waitable cannot be used synchronously while added to a waitable set");
    if (sub->state < ST_RETURNED && sub->host_pending) {
        sub->cancel_requested = 1;
        ka_host_cancel(sub);
    } else if (sub->state < ST_RETURNED) {
        sub->cancel_requested = 1;
        if (ka_request_cancellation(me, sub->task) < 0 || me->s->failed)
            ka_trap(b, "the instance is gone");
        /* not delivered yet: one ready thread of the callee's instance runs (it may free
         * the exclusive lock the cancellation waits for) */
        ka_thread *r = sub->state < ST_RETURNED ? ka_pick_ready(me->s, sub->task->inst) : NULL;
        if (r && (ka_park(me, REQ_CALL, r) < 0 || me->s->failed))
            ka_trap(b, "the instance is gone");
        if (sub->state < ST_RETURNED) {
            if (async) {
                v[0].i32 = KA_BLOCKED;
                return;
            }
            if (ka_wait_pending(me, &sub->w) < 0) ka_trap(b, "the instance is gone");
        }
    }
    uint32_t ev[3];
    sub->w.pending = 0;
    ka_sub_take(&sub->w, ev);
    sub->resolve_delivered = 1;
    v[0].i32 = ev[2];
}

static void bi_task_return(void *ctx, kiln_val *v)
{
    ka_bi *b = ctx;
    ka_thread *me = ka_current(b);
    ka_task *k = me->task;
    ki_func *fn = k->fn;
    if (!fn->async) ka_trap(b, "the task was not lifted async");
    if (k->state == T_RESOLVED) ka_trap(b, "the task has already returned");
    const kiln_ctype *want = fn->type->has_elem ? fn->type->elem.type : NULL;
    const kiln_ctype *got = b->k->has_result ? b->k->result.type : NULL;
    if (!want != !got ||
        (want && (want->kind != got->kind || want->flat != got->flat || want->size != got->size)))
        ka_trap(b, "the result type does not match the task's");
    /* (definitions.py compares the memories too; the spec tests return a memory-less
     * task.return from a lift that names a memory for its parameters) */
    if ((b->memory && b->memory != fn->memory) || b->k->opts.string_encoding != fn->enc)
        ka_trap(b, "the canon options do not match the task's");
    if (want) {
        kiln_cabi_cx cx;
        memset(&cx, 0, sizeof cx);
        ki_cx_prepare(b->ci, &cx, b->memory, fn->enc, b->realloc, b->frame);
        kiln_cabi_cx *into = k->sub ? &k->sub->cx : k->caller_cx;
        cx.arena = into->arena;
        kiln_cval *dst = k->sub ? &k->sub->result : k->results;
        if (kiln_cabi_lift_args(&cx, &b->rtype, v, dst) < 0) ka_trap(b, "%s", cx.err);
    }
    char err[300];
    if (ka_task_resolve(k, err, sizeof err) < 0) ka_trap(b, "%s", err);
}

ki_core *ka_builtin(kiln_component_instance *ci, ki_frame *f, const kiln_canon *k, kiln_err *err)
{
    /* in the arena (freed with it), so that an image copies it (image.c) */
    ka_bi *b = ki_alloc(ci, sizeof *b, KI_ASYNC_BI);
    ki_core *c = ki_alloc(ci, sizeof *c, KI_CORE);
    if (!b || !c) {
        kiln_err_set(err, "%s: out of memory", ci->name);
        return NULL;
    }
    b->ci = ci;
    b->frame = f;
    b->k = k;
    if (k->has_opts && k->opts.has_memory)
        b->memory = ((ki_core *)f->sp[KILN_CSORT_CORE_MEMORY].items[k->opts.memory])->b.ctx;
    if (k->op == KILN_CANON_WAITABLE_SET_WAIT || k->op == KILN_CANON_WAITABLE_SET_POLL)
        b->memory = ((ki_core *)f->sp[KILN_CSORT_CORE_MEMORY].items[k->opts.memory])->b.ctx;
    if (k->has_opts && k->opts.has_realloc)
        b->realloc = f->sp[KILN_CSORT_CORE_FUNC].items[k->opts.realloc];
    kiln_host_vals_fn fn = NULL;
    const char *sig = "";
    switch (k->op) {
    case KILN_CANON_TASK_RETURN: {
        fn = bi_task_return;
        b->rtype.kind = KILN_CT_FUNC;
        if (k->has_result) {
            b->rfield.has_type = 1;
            b->rfield.type = k->result;
            b->rtype.items = &b->rfield;
            b->rtype.nitems = 1;
        }
        char buf[64];
        if (kiln_cabi_core_sig(&b->rtype, 0, buf, sizeof buf) < 0) {
            kiln_err_set(err, "%s: task.return: the result does not fit", ci->name);
            return NULL;
        }
        *strchr(buf, ':') = '\0';
        size_t n = strlen(buf);
        char *s = ki_alloc(ci, n + 2, KI_BYTES);
        if (!s) {
            kiln_err_set(err, "%s: out of memory", ci->name);
            return NULL;
        }
        memcpy(s, buf, n);
        s[n] = ':';
        sig = s;
        break;
    }
    case KILN_CANON_TASK_CANCEL:
        fn = bi_task_cancel, sig = ":";
        break;
    case KILN_CANON_SUBTASK_CANCEL:
        fn = bi_subtask_cancel, sig = "i:i";
        break;
    case KILN_CANON_THREAD_INDEX:
        fn = bi_thread_index, sig = ":i";
        break;
    case KILN_CANON_THREAD_NEW_INDIRECT:
        fn = bi_thread_new, sig = "ii:i";
        b->table = f->sp[KILN_CSORT_CORE_TABLE].items[k->table];
        break;
    case KILN_CANON_THREAD_RESUME_LATER:
        fn = bi_resume_later, sig = "i:";
        break;
    case KILN_CANON_THREAD_SUSPEND:
        fn = bi_suspend, sig = ":i";
        break;
    case KILN_CANON_THREAD_SUSPEND_THEN_RESUME:
    case KILN_CANON_THREAD_YIELD_THEN_RESUME:
    case KILN_CANON_THREAD_SUSPEND_THEN_PROMOTE:
    case KILN_CANON_THREAD_YIELD_THEN_PROMOTE:
        fn = bi_switch, sig = "i:i";
        break;
    case KILN_CANON_CONTEXT_GET:
    case KILN_CANON_CONTEXT_SET:
        if (k->type > 1) {
            kiln_err_set(err, "%s: context slot %u out of range", ci->name, k->type);
            return NULL;
        }
        fn = k->op == KILN_CANON_CONTEXT_GET ? bi_context_get : bi_context_set;
        sig = k->op == KILN_CANON_CONTEXT_GET ? ":i" : "i:";
        break;
    case KILN_CANON_THREAD_YIELD:
        fn = bi_yield, sig = ":i";
        break;
    case KILN_CANON_SUBTASK_DROP:
        fn = bi_subtask_drop, sig = "i:";
        break;
    case KILN_CANON_WAITABLE_SET_NEW:
        fn = bi_wset_new, sig = ":i";
        break;
    case KILN_CANON_WAITABLE_SET_WAIT:
        fn = bi_wset_wait, sig = "ii:i";
        break;
    case KILN_CANON_WAITABLE_SET_POLL:
        fn = bi_wset_poll, sig = "ii:i";
        break;
    case KILN_CANON_WAITABLE_SET_DROP:
        fn = bi_wset_drop, sig = "i:";
        break;
    case KILN_CANON_WAITABLE_JOIN:
        fn = bi_join, sig = "ii:";
        break;
    case KILN_CANON_BACKPRESSURE_INC:
    case KILN_CANON_BACKPRESSURE_DEC:
        fn = bi_bp, sig = ":";
        break;
    default:
        fn = ka_stream_builtin(b, &sig);
        if (!fn) fn = ka_errctx_builtin(b, &sig);
        if (!fn) {
            kiln_err_set(err, "%s: %s is not supported", ci->name, kiln_canon_op_name(k->op));
            return NULL;
        }
    }
    c->kind = KILN_EXTERN_FUNC;
    c->b = (kiln_binding){(kiln_fnptr)fn, b, KILN_BIND_HOST_VALS};
    c->idx = -1;
    c->type = sig;
    return c;
}
