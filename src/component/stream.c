/* stream.c — stream<T> and future<T> ends and their built-ins (CanonicalABI.md "Stream
 * State", "Future State", canon stream.* / future.*; definitions.py's SharedStreamImpl,
 * SharedFutureImpl, CopyEnd). Both ends of a stream share one ka_shared, which holds at
 * most one pending copy (the end that started it first, with its guest buffer); the other
 * end's copy meets it and moves min(remaining) elements between the two guests' memories.
 * Progress is reported as events on the ends (waitables of async.c).
 *
 * Host-owned ends (host.h's kiln_chost_stream_* / kiln_chost_future_*): an end with
 * `host` set is in no table; a guest copy meeting it calls the host's consume/produce at
 * once (host_try), or stays pending until the host wakes it; a host future delivers its
 * value to the guest's read once resolved. A host end passed to the host (a stream or
 * future a host function gave the guest, handed unread to another host function: a proxy
 * forwarding a body) is joined to it: a pump moves a stream's bytes from the host's writer
 * to the host's reader, a future's value goes from the one to the other when resolved.
 *
 * Elements are copied byte for byte; elements holding strings, lists or handles are
 * lifted from one guest and lowered into the other (move_values). A host end gives bytes,
 * or values of any type, resources included (kiln_chost_stream_values: host_values). */
#include "component/async_internal.h"
#include "engine/runtime.h"
#include "util/alloc.h"

#include <stddef.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum { C_COMPLETED = 0, C_DROPPED = 1, C_CANCELLED = 2 };
enum { E_IDLE, E_COPYING, E_CANCELLING, E_DONE };

typedef struct ka_shared ka_shared;

/* A guest buffer of a copy in progress. */
typedef struct ka_buf {
    wasm_rt_memory_t *mem;
    uint32_t ptr, progress, length;
    ka_bi *bi; /* the built-in that started the copy (its canon options, its instance) */
} ka_buf;

typedef struct ka_end {
    ka_waitable w;
    ka_shared *sh;
    int readable;
    int state; /* E_* */
    ka_buf buf;
    ka_inst *inst; /* whose table holds it */
    int ev_result, ev_reclaim;
    int dead;   /* out of the guest's table (a host end: the host's and the guest's gone) */
    int lifted; /* passed as a value: freed when its successor (lowered) takes its place */
    /* a host's end (host.h's kiln_chost_stream): its ops, valid while host is set */
    int host;
    kiln_chost_stream_ops ops;
    kiln_chost_values_fn values; /* a host's stream of values (kiln_chost_stream_values) */
    ka_store *store;             /* a host end's */
    int fut_ready;               /* a host future's value is set */
    kiln_cval fut_value;
    kiln_cval *fut_nodes;       /* kiln_chost_future_values: the value's nested parts */
    kiln_chost_future_ops fops; /* a host future reader's (kiln_chost_future_reader) */
    /* a host stream waiting for an fd (kiln_chost_stream_wait_fd), in its store's list */
    int wfd;
    short wev;
    struct ka_end *wnext, **wprev;
} ka_end;

_Static_assert(offsetof(ka_end, w) == 0, "ka_end starts with its ka_waitable head");

struct ka_shared {
    int future;
    const kiln_ctype *t; /* element type, NULL for none */
    int dropped;
    ka_end *pend;         /* the end whose copy is pending */
    ka_end *r, *w;        /* the live readable and writable ends (NULL once dropped) */
    int nends;            /* live ends (the last one frees it) */
    int type_later;       /* a host's future: t is the type of its first lowering */
    struct ka_pump *pump; /* both ends the host's: what moves the bytes (NULL: none) */
};

/* Takes e out of its store's list of fd waiters (if in it). */
static void wait_unlink(ka_end *e)
{
    if (!e->wprev) return;
    *e->wprev = e->wnext;
    if (e->wnext) e->wnext->wprev = e->wprev;
    e->wnext = NULL;
    e->wprev = NULL;
}

void ka_end_free(void *p)
{
    ka_end *e = p;
    wait_unlink(e);
    kiln_free(e->fut_nodes);
    if (e->sh && --e->sh->nends == 0) kiln_free(e->sh);
    kiln_free(e);
}

/* Frees guest end e of store s, which no table holds any more and which is in no
 * waitable set: unlinked from its shared state first (freed with its last end). */
static void end_release(ka_store *s, ka_end *e)
{
    ka_shared *sh = e->sh;
    if (sh->pend == e) sh->pend = NULL;
    if (sh->r == e) sh->r = NULL;
    if (sh->w == e) sh->w = NULL;
    ka_obj_release(s, e);
    ka_end_free(e);
}

/* A new end (a lowered value, or the host's) becomes sh's reader: the end it replaces,
 * lifted out of a table for the value, is freed. */
static void replace_lifted(ka_store *s, ka_shared *sh, ka_end *e)
{
    ka_end *old = sh->r;
    sh->r = e;
    if (old && old != e && old->lifted && !old->host) end_release(s, old);
}

static uint32_t remain(const ka_buf *b)
{
    return b->length - b->progress;
}

/* on_copy: the other side moved elements of e's pending buffer (reclaimed at delivery). */
static void on_copy(ka_end *e)
{
    e->w.pending = 1;
    e->ev_result = C_COMPLETED;
    e->ev_reclaim = 1;
}

static void on_copy_done(ka_end *e, int result)
{
    e->w.pending = 1;
    e->ev_result = result;
    e->ev_reclaim = 0;
}

static void reset_and_notify(ka_shared *sh, int result)
{
    ka_end *e = sh->pend;
    sh->pend = NULL;
    if (e) on_copy_done(e, result);
}

/* get_pending_event of an end. */
static void end_take(ka_waitable *w, uint32_t ev[3])
{
    ka_end *e = (ka_end *)w;
    if (e->ev_reclaim && e->sh->pend == e) e->sh->pend = NULL;
    e->ev_reclaim = 0;
    if (e->sh->future) {
        e->state = e->ev_result == C_CANCELLED ? E_IDLE : E_DONE;
        ev[0] = e->readable ? EV_FUTURE_READ : EV_FUTURE_WRITE;
        ev[2] = (uint32_t)e->ev_result;
    } else {
        e->state = e->ev_result == C_DROPPED ? E_DONE : E_IDLE;
        ev[0] = e->readable ? EV_STREAM_READ : EV_STREAM_WRITE;
        ev[2] = (uint32_t)e->ev_result | e->buf.progress << 4;
    }
    ev[1] = w->handle;
}

/* Whether T is none or a number (what may pass within one instance for now). */
static int none_or_number(const kiln_ctype *t)
{
    return !t || (t->kind >= KILN_CT_S8 && t->kind <= KILN_CT_F64);
}

static const kiln_ctype *elem_of(ka_bi *b);
static int host_try(ka_shared *sh, ka_end *g, ka_end *h, char *err, size_t errlen);
typedef struct ka_pump ka_pump;
static int pump_new(kiln_cabi_cx *cx, ka_shared *sh);
static void pump_kick(ka_pump *p);
static void pump_detach(ka_pump *p);
static void pump_writer_gone(ka_pump *p);
static void future_pass(ka_end *w, ka_end *r);

/* A context for the guest side of buffer b (its built-in's options and table). */
static int buf_cx(ka_buf *b, kiln_cabi_cx *cx)
{
    memset(cx, 0, sizeof *cx);
    if (kiln_cabi_cx_init(cx) < 0) return -1;
    ki_cx_prepare(b->bi->ci, cx, b->mem, b->bi->k->opts.string_encoding, b->bi->realloc,
                  b->bi->frame);
    return 0;
}

/* Moves n elements holding strings, lists or handles: each lifted from the source guest
 * (its handles leave the source's table) and lowered into the destination (realloc'd
 * there, handles added to its table). -1 with a reason in err. */
static int move_values(ka_shared *sh, ka_buf *src, ka_buf *dst, uint32_t n, char *err,
                       size_t errlen)
{
    kiln_cabi_cx from, to;
    if (buf_cx(src, &from) < 0) return snprintf(err, errlen, "out of memory"), -1;
    if (buf_cx(dst, &to) < 0) {
        kiln_cabi_cx_free(&from);
        return snprintf(err, errlen, "out of memory"), -1;
    }
    /* each side's own static element type: its resource types resolve in its instance */
    const kiln_ctype *st = elem_of(src->bi), *dt = elem_of(dst->bi);
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        kiln_cval v;
        memset(&v, 0, sizeof v);
        uint32_t at = i * sh->t->size;
        if (kiln_cabi_load_value(&from, st, src->ptr + at, &v) < 0) {
            snprintf(err, errlen, "reading a stream element: %s", from.err);
            rc = -1;
        } else if (kiln_cabi_store_value(&to, dt, &v, dst->ptr + at) < 0) {
            snprintf(err, errlen, "writing a stream element: %s", to.err);
            rc = -1;
        }
    }
    kiln_cabi_cx_free(&from);
    kiln_cabi_cx_free(&to);
    return rc;
}

/* Moves n elements from src to dst (both checked when their copies began); traps when
 * an element cannot pass. */
static void move(ka_shared *sh, ka_buf *src, ka_buf *dst, uint32_t n)
{
    if (sh->t && n && (sh->t->has_heap || sh->t->has_handle)) {
        char err[300];
        if (move_values(sh, src, dst, n, err, sizeof err) < 0) kiln_rt_trap_host(err);
        uint32_t bytes = n * sh->t->size;
        src->ptr += bytes;
        dst->ptr += bytes;
    } else if (sh->t && n) {
        size_t bytes = (size_t)n * sh->t->size;
        memmove(dst->mem->data + dst->ptr, src->mem->data + src->ptr, bytes);
        src->ptr += (uint32_t)bytes;
        dst->ptr += (uint32_t)bytes;
    }
    src->progress += n;
    dst->progress += n;
}

/* SharedStreamImpl.read/write and SharedFutureImpl.read/write: e (of instance in) starts
 * its copy. 0, or -1 when the spec traps (same-instance non-numeric rendezvous). */
static int copy(ka_shared *sh, ka_end *e)
{
    if (sh->dropped && !(sh->future && e->readable)) {
        on_copy_done(e, C_DROPPED);
        return 0;
    }
    ka_end *peer = e->readable ? sh->w : sh->r;
    if (peer && peer->host) { /* the host's end: its ops take or give the bytes now */
        char err[240];
        sh->pend = e;
        if (host_try(sh, e, peer, err, sizeof err) < 0) kiln_rt_trap_host(err);
        /* a host future's end is done with once its value passed (the host forgot a
         * resolved writer, and never keeps a reader) */
        if (sh->future && !peer->host) end_release(peer->store, peer);
        return 0;
    }
    if (!sh->pend) {
        sh->pend = e;
        return 0;
    }
    ka_end *p = sh->pend;
    if (p->inst == e->inst && !none_or_number(sh->t)) return -1;
    ka_buf *src = e->readable ? &p->buf : &e->buf, *dst = e->readable ? &e->buf : &p->buf;
    if (sh->future) {
        move(sh, src, dst, 1);
        reset_and_notify(sh, C_COMPLETED);
        on_copy_done(e, C_COMPLETED);
        return 0;
    }
    if (remain(&p->buf) > 0) {
        if (remain(&e->buf) > 0) {
            uint32_t n = remain(&p->buf) < remain(&e->buf) ? remain(&p->buf) : remain(&e->buf);
            move(sh, src, dst, n);
            on_copy(p);
        }
        on_copy_done(e, C_COMPLETED);
    } else if (!e->readable && e->buf.length == 0 && p->buf.length == 0) {
        on_copy_done(e, C_COMPLETED);
    } else {
        reset_and_notify(sh, C_COMPLETED);
        sh->pend = e;
    }
    return 0;
}

/* e is dropped: a pending copy of the peer ends DROPPED; an idle peer is notified (an
 * event DROPPED with no progress, as the spec tests expect). */
static void shared_drop(ka_shared *sh, ka_end *e)
{
    ka_end *peer = e->readable ? sh->w : sh->r;
    if (e->readable)
        sh->r = NULL;
    else
        sh->w = NULL;
    if (sh->dropped) return;
    sh->dropped = 1;
    if (peer && peer->host) { /* the host learns it; its end is closed with it */
        peer->host = 0;
        peer->dead = 1;
        if (!sh->future && peer->ops.dropped) peer->ops.dropped(peer->ops.arg);
        /* the host forgets a stream's end when told (host.h), a future's writer once it
         * resolved it (before that, kiln_chost_future_resolve frees it) */
        if (!sh->future || peer->fut_ready || peer->readable) end_release(peer->store, peer);
        return;
    }
    if (sh->pend && sh->pend != e) {
        reset_and_notify(sh, C_DROPPED);
    } else if (peer && peer->state == E_IDLE && !peer->w.pending) {
        peer->buf.progress = 0;
        on_copy_done(peer, C_DROPPED);
    }
}

/* ---- built-ins ---- */

static const kiln_ctype *stream_type(ka_bi *b)
{
    return b->frame->c->spaces[KILN_CSORT_TYPE].types[b->k->type];
}

static const kiln_ctype *elem_of(ka_bi *b)
{
    const kiln_ctype *st = stream_type(b);
    return st && st->has_elem ? st->elem.type : NULL;
}

static int is_future(ka_bi *b)
{
    return (b->k->op >= KILN_CANON_FUTURE_NEW && b->k->op <= KILN_CANON_FUTURE_DROP_WRITABLE) ||
           b->k->op == KILN_CANON_FUTURE_FORWARD;
}

static const kiln_resource_type *end_type(ka_bi *b, int readable)
{
    if (is_future(b)) return readable ? &ka_type_future_r : &ka_type_future_w;
    return readable ? &ka_type_stream_r : &ka_type_stream_w;
}

/* The end behind handle h, of this built-in's kind and element type. */
static ka_end *get_end(ka_bi *b, uint32_t h, int readable)
{
    ka_end *e = ka_get(b, h, end_type(b, readable));
    const kiln_ctype *t = elem_of(b);
    if (!t != !e->sh->t || (t && (t->kind != e->sh->t->kind || t->size != e->sh->t->size ||
                                  t->flat != e->sh->t->flat)))
        ka_trap(b, "the element type does not match the end's");
    return e;
}

static ka_end *end_new(ka_bi *b, ka_shared *sh, int readable, uint32_t *handle)
{
    ka_store *s = b->ci->as;
    uint32_t rep;
    ka_end *e = ka_obj_new(b, sizeof *e, KA_END, &rep);
    e->w.take = end_take;
    e->sh = sh;
    sh->nends++;
    e->readable = readable;
    if (readable)
        sh->r = e;
    else
        sh->w = e;
    e->inst = ka_inst_of(s, b->frame);
    char err[160];
    if (kiln_resource_new(b->frame->res, end_type(b, readable), rep, handle, err, sizeof err) < 0)
        ka_trap(b, "%s", err);
    e->w.handle = *handle;
    return e;
}

static void bi_new(void *ctx, kiln_val *v)
{
    ka_bi *b = ctx;
    if (b->frame->no_leave) ka_trap(b, "cannot leave component instance");
    /* both ends fit (a trap in end_new before the first one exists would leak sh) */
    if (ka_live_objs(b->ci->as) > KA_MAX_OBJS - 2) ka_trap(b, KA_TOO_MANY " (%u)", KA_MAX_OBJS);
    ka_shared *sh = kiln_calloc(1, sizeof *sh);
    if (!sh) ka_trap(b, "out of memory");
    sh->future = is_future(b);
    sh->t = elem_of(b);
    uint32_t ri, wi;
    end_new(b, sh, 1, &ri);
    end_new(b, sh, 0, &wi);
    v[0].i64 = (uint64_t)ri | (uint64_t)wi << 32;
}

/* The end of a copy or cancellation: the event's payload in v[0] once there is one (a
 * synchronous built-in waits for it), else BLOCKED. A stream copy that completed before
 * it could be cancelled is reported as cancelled, with its progress (the spec tests). */
static void end_result(ka_bi *b, ka_end *e, int async, kiln_val *v)
{
    if (!e->w.pending) {
        if (async) {
            v[0].i32 = KA_BLOCKED;
            return;
        }
        if (ka_wait_pending(ka_current(b), &e->w) < 0) ka_trap(b, "the instance is gone");
    }
    if (e->state == E_CANCELLING && e->ev_result == C_COMPLETED && !e->sh->future)
        e->ev_result = C_CANCELLED; /* (a future's value, once delivered, stays COMPLETED) */
    uint32_t ev[3];
    e->w.pending = 0;
    end_take(&e->w, ev);
    v[0].i32 = ev[2];
}

/* stream.read/write, future.read/write: v[0] handle, v[1] ptr, v[2] n (streams). */
static void bi_copy(void *ctx, kiln_val *v)
{
    ka_bi *b = ctx;
    int readable = b->k->op == KILN_CANON_STREAM_READ || b->k->op == KILN_CANON_FUTURE_READ;
    ka_end *e = get_end(b, v[0].i32, readable);
    int fut = is_future(b);
    if (e->state == E_DONE) {
        if (fut)
            ka_trap(b, "cannot %s future after previous %s succeeded",
                    readable ? "read from" : "write to", readable ? "read" : "write");
        ka_trap(b, "cannot %s stream after being notified that the %s end dropped",
                readable ? "read from" : "write to", readable ? "writable" : "readable");
    }
    if (e->state != E_IDLE)
        ka_trap(b, "cannot have concurrent operations active on a future/stream");
    int async = b->k->has_opts && b->k->opts.async;
    if (e->w.wset && !async)
        ka_trap(b, "waitable cannot be used synchronously while added to a waitable set");
    if (e->w.pending && e->ev_result == C_DROPPED) { /* the peer's drop, not yet seen */
        uint32_t ev[3];
        e->w.pending = 0;
        e->state = E_COPYING;
        end_take(&e->w, ev);
        v[0].i32 = ev[2];
        return;
    }
    uint32_t ptr = v[1].i32, n = fut ? 1 : v[2].i32;
    if (n > KILN_RESOURCES_MAX_LENGTH) ka_trap(b, "buffer length %u out of range", n);
    const kiln_ctype *t = e->sh->t;
    if (t && n > 0) {
        if (!b->memory) ka_trap(b, "no memory");
        if (t->align && ptr % t->align) ka_trap(b, "misaligned buffer pointer");
        if ((uint64_t)ptr + (uint64_t)n * t->size > b->memory->size)
            ka_trap(b, "buffer out of bounds");
    }
    e->buf = (ka_buf){b->memory, ptr, 0, n, b};
    e->state = E_COPYING;
    if (copy(e->sh, e) < 0)
        ka_trap(b, "cannot read from and write to intra-component future/stream with "
                   "non-numeric payload");
    end_result(b, e, async, v);
}

static void bi_cancel(void *ctx, kiln_val *v)
{
    ka_bi *b = ctx;
    int readable =
        b->k->op == KILN_CANON_STREAM_CANCEL_READ || b->k->op == KILN_CANON_FUTURE_CANCEL_READ;
    ka_end *e = get_end(b, v[0].i32, readable);
    int async = b->k->flag;
    if (e->state != E_COPYING || e->w.sync_waiter) ka_trap(b, "no copy in progress to cancel");
    if (e->w.wset && !async)
        ka_trap(b, "waitable cannot be used synchronously while added to a waitable set");
    e->state = E_CANCELLING;
    if (!e->w.pending && e->sh->pend == e) reset_and_notify(e->sh, C_CANCELLED);
    end_result(b, e, async, v);
}

static void bi_drop(void *ctx, kiln_val *v)
{
    ka_bi *b = ctx;
    int readable =
        b->k->op == KILN_CANON_STREAM_DROP_READABLE || b->k->op == KILN_CANON_FUTURE_DROP_READABLE;
    ka_end *e = get_end(b, v[0].i32, readable);
    if (e->state == E_COPYING || e->state == E_CANCELLING)
        ka_trap(b, "cannot drop busy %s", is_future(b) ? "future" : "stream");
    if (is_future(b) && !readable && e->state != E_DONE)
        ka_trap(b, "cannot drop future write end without first writing a value");
    char err[160];
    if (kiln_resource_drop(b->frame->res, end_type(b, readable), v[0].i32, err, sizeof err) < 0)
        ka_trap(b, "%s", err);
    shared_drop(e->sh, e);
    ka_join(&e->w, NULL);
    /* out of the table and the set, idle or done (no copy pending): freed */
    end_release(b->ci->as, e);
}

/* ---- ends passed as values (cabi.c's hooks) ---- */

int ka_end_lift(kiln_cabi_cx *cx, const kiln_ctype *t, uint32_t h, kiln_cval *v)
{
    if (t->kind == KILN_CT_ERROR_CONTEXT) return ka_errctx_lift(cx, h, v);
    kiln_component_instance *ci = cx->async_ctx;
    ki_frame *f = cx->resource_ctx;
    int fut = t->kind == KILN_CT_FUTURE;
    const kiln_resource_type *want = fut ? &ka_type_future_r : &ka_type_stream_r, *ht;
    const char *what = fut ? "future" : "stream";
    uint32_t rep;
    if (kiln_resources_lookup(f->res, h, &ht, &rep, cx->err, sizeof cx->err) < 0) return -1;
    if (ht != want) {
        snprintf(cx->err, sizeof cx->err, "handle index %u used with the wrong type", h);
        return -1;
    }
    ka_end *e = ka_obj_at(ci->as, rep, KA_END);
    if (!e) {
        snprintf(cx->err, sizeof cx->err, "handle index %u refers to a freed %s", h, what);
        return -1;
    }
    const kiln_ctype *et = t->has_elem ? t->elem.type : NULL;
    if (!et != !e->sh->t || (et && (et->kind != e->sh->t->kind || et->size != e->sh->t->size))) {
        snprintf(cx->err, sizeof cx->err, "the %s's element type does not match", what);
        return -1;
    }
    if (e->state == E_DONE) {
        snprintf(cx->err, sizeof cx->err,
                 fut ? "cannot lift future after previous read succeeded"
                     : "cannot lift stream after being notified that the writable end dropped");
        return -1;
    }
    if (e->state != E_IDLE) {
        snprintf(cx->err, sizeof cx->err, "cannot lift busy %s", what);
        return -1;
    }
    if (e->w.wset) {
        snprintf(cx->err, sizeof cx->err, "cannot lift %s while it's in a waitable set", what);
        return -1;
    }
    if (kiln_resource_drop(f->res, want, h, cx->err, sizeof cx->err) < 0) return -1;
    e->dead = 1;
    e->lifted = 1; /* still sh's reader (and counted in nends) until lowered */
    e->w.pending = 0;
    v->shared = e->sh;
    return 0;
}

int ka_end_lower(kiln_cabi_cx *cx, const kiln_ctype *t, const kiln_cval *v, uint32_t *h)
{
    if (t->kind == KILN_CT_ERROR_CONTEXT) return ka_errctx_lower(cx, v, h);
    kiln_component_instance *ci = cx->async_ctx;
    ki_frame *f = cx->resource_ctx;
    ka_shared *sh = v->shared;
    ka_end *e = kiln_calloc(1, sizeof *e);
    uint32_t rep;
    if (sh && sh->type_later) { /* a host's future: its type is the first lowering's */
        sh->t = t->has_elem ? t->elem.type : NULL;
        sh->type_later = 0;
    }
    if (e) e->w.kind = KA_END;
    if (!sh || !e || ka_obj_add(ci->as, e, &rep) < 0) {
        kiln_free(e);
        snprintf(cx->err, sizeof cx->err, sh ? "out of memory" : "no stream or future value");
        return -1;
    }
    e->w.take = end_take;
    e->sh = sh;
    sh->nends++;
    e->readable = 1;
    replace_lifted(ci->as, sh, e);
    e->inst = ka_inst_of(ci->as, f);
    const kiln_resource_type *rt =
        t->kind == KILN_CT_FUTURE ? &ka_type_future_r : &ka_type_stream_r;
    if (kiln_resource_new(f->res, rt, rep, h, cx->err, sizeof cx->err) < 0) return -1;
    e->w.handle = *h;
    /* the writer's drop, not yet seen by the end that was lifted, travels with it */
    if (sh->dropped && !sh->w) on_copy_done(e, C_DROPPED);
    return 0;
}

/* ---- host-owned ends (host.h) ---- */

/* At most this many values per host_values call (the guest reads again for more). */
#define HOST_VALUES_MAX 64u

/* The guest's read g of a host's stream of values h: up to n values from h->values,
 * lowered into g's buffer (their strings realloc'd in g's memory); *got of them. */
static int host_values(ka_shared *sh, ka_end *g, ka_end *h, uint32_t n, size_t *got, int *end,
                       char *err, size_t errlen)
{
    kiln_cabi_cx to;
    if (n > HOST_VALUES_MAX) n = HOST_VALUES_MAX;
    kiln_cval *vals = kiln_calloc(n, sizeof *vals);
    if (!vals || buf_cx(&g->buf, &to) < 0) {
        kiln_free(vals);
        return snprintf(err, errlen, "out of memory"), -1;
    }
    const kiln_ctype *t = elem_of(g->buf.bi);
    size_t k = h->values(h->ops.arg, &to, vals, n, end);
    int rc = 0;
    for (size_t i = 0; i < k && i < n && rc == 0; i++)
        if (kiln_cabi_store_value(&to, t, &vals[i], g->buf.ptr + (uint32_t)i * sh->t->size) < 0)
            rc = -1, snprintf(err, errlen, "writing a stream element: %.200s", to.err);
    *got = k < n ? k : n;
    kiln_cabi_cx_free(&to);
    kiln_free(vals);
    return rc;
}

/* The guest's end g has a pending copy and the host's end h is its peer: h's ops take
 * (or give) what they can now; the copy completes with that progress, or stays pending
 * ("not now"), or ends DROPPED when the host has no more to give. */
static int host_try(ka_shared *sh, ka_end *g, ka_end *h, char *err, size_t errlen)
{
    if (sh->future && !g->readable) { /* the guest writes the host's future: lifted now */
        kiln_cabi_cx from;
        if (buf_cx(&g->buf, &from) < 0) return snprintf(err, errlen, "out of memory"), -1;
        kiln_cval v;
        memset(&v, 0, sizeof v);
        int rc = sh->t ? kiln_cabi_load_value(&from, elem_of(g->buf.bi), g->buf.ptr, &v) : 0;
        if (rc < 0) snprintf(err, errlen, "reading a future's value: %.200s", from.err);
        g->buf.progress = 1;
        sh->pend = NULL;
        h->host = 0;
        h->dead = 1;
        if (rc == 0) {
            on_copy_done(g, C_COMPLETED);
            if (h->fops.got) h->fops.got(h->fops.arg, &v);
        }
        kiln_cabi_cx_free(&from);
        return rc;
    }
    if (sh->future) {
        if (!h->fut_ready) return 0;
        kiln_cabi_cx to;
        if (buf_cx(&g->buf, &to) < 0) return snprintf(err, errlen, "out of memory"), -1;
        int rc =
            sh->t ? kiln_cabi_store_value(&to, elem_of(g->buf.bi), &h->fut_value, g->buf.ptr) : 0;
        snprintf(err, errlen, "writing a future's value: %.200s", to.err);
        kiln_cabi_cx_free(&to);
        if (rc < 0) return -1;
        g->buf.progress = 1;
        sh->pend = NULL;
        h->host = 0; /* done: the guest's later drop needs no notice */
        on_copy_done(g, C_COMPLETED);
        return 0;
    }
    uint32_t n = remain(&g->buf);
    size_t got = 0;
    int end = 0;
    if (n > 0 && h->values) {
        if (host_values(sh, g, h, n, &got, &end, err, errlen) < 0) return -1;
    } else if (n > 0) {
        uint8_t *p = g->buf.mem->data + g->buf.ptr;
        got =
            g->readable ? h->ops.produce(h->ops.arg, p, n, &end) : h->ops.consume(h->ops.arg, p, n);
        if (got > n) got = n;
    }
    if (got || n == 0) {
        g->buf.ptr += (uint32_t)got * (h->values ? sh->t->size : 1);
        g->buf.progress += (uint32_t)got;
        sh->pend = NULL;
        on_copy_done(g, C_COMPLETED);
    } else if (end) {
        h->host = 0;
        h->dead = 1;
        shared_drop(sh, h);
    }
    return 0;
}

/* A new host end of shared state sh, added to the store of cx's instance (which has the
 * async ABI) and linked as sh's reader or writer. NULL with cx->err. */
static ka_end *host_end_add(kiln_cabi_cx *cx, ka_shared *sh, int readable)
{
    kiln_component_instance *ci = cx->async_ctx;
    ka_end *e = kiln_calloc(1, sizeof *e);
    uint32_t rep;
    if (e) e->w.kind = KA_END;
    if (!e || ka_obj_add(ci->as, e, &rep) < 0) {
        kiln_free(e);
        snprintf(cx->err, sizeof cx->err, "out of memory");
        return NULL;
    }
    e->w.take = end_take;
    e->sh = sh;
    sh->nends++;
    e->readable = readable;
    e->host = 1;
    e->store = ci->as;
    if (readable)
        replace_lifted(ci->as, sh, e);
    else
        sh->w = e;
    return e;
}

/* A host end of shared state sh (added to the store of cx's instance). NULL with cx->err
 * when cx is not of an async instance or sh is not a stream of bytes. */
static ka_end *host_end(kiln_cabi_cx *cx, ka_shared *sh, int readable,
                        const kiln_chost_stream_ops *ops)
{
    kiln_component_instance *ci = cx->async_ctx;
    if (!ci || !ci->as || !sh || sh->future || !sh->t || sh->t->size != 1 || sh->t->has_heap ||
        sh->t->has_handle || (sh->t->kind != KILN_CT_U8 && sh->t->kind != KILN_CT_S8)) {
        snprintf(cx->err, sizeof cx->err, "not a stream of bytes");
        return NULL;
    }
    ka_end *e = host_end_add(cx, sh, readable);
    if (e) e->ops = *ops;
    return e;
}

kiln_chost_stream *kiln_chost_stream_reader(kiln_cabi_cx *cx, const kiln_cval *v,
                                            const kiln_chost_stream_ops *ops)
{
    ka_shared *sh = v->shared;
    if (sh && sh->r && !sh->r->dead) {
        snprintf(cx->err, sizeof cx->err, "the stream already has a reader");
        return NULL;
    }
    ka_end *e = host_end(cx, sh, 1, ops);
    if (!e) return NULL;
    if (sh->w && sh->w->host) { /* the host writes it too: the runtime moves the bytes */
        if (pump_new(cx, sh) < 0) return NULL;
    } else if (sh->pend && sh->pend != e) /* the guest's write that waited for a reader */
        host_try(sh, sh->pend, e, cx->err, sizeof cx->err);
    else if (sh->dropped && !sh->w && e->host) {
        e->host = 0; /* the writer is gone already */
        e->dead = 1;
        if (ops->dropped) ops->dropped(ops->arg);
    }
    return (kiln_chost_stream *)e;
}

/* A new stream whose writable end the host keeps, *v set to it (the guest gets the
 * readable end): of bytes (values NULL: ops->produce gives them) or of values (values:
 * their type is the first lowering's). NULL with cx->err. */
static kiln_chost_stream *host_writer(kiln_cabi_cx *cx, kiln_cval *v,
                                      const kiln_chost_stream_ops *ops, kiln_chost_values_fn values)
{
    kiln_component_instance *ci = cx->async_ctx;
    ka_shared *sh = ci && ci->as ? kiln_calloc(1, sizeof *sh) : NULL;
    if (!sh) {
        snprintf(cx->err, sizeof cx->err, ci && ci->as ? "out of memory" : "not async");
        return NULL;
    }
    if (values)
        sh->type_later = 1;
    else
        sh->t = kiln_ctype_prim(KILN_CT_U8);
    ka_end *e = values ? host_end_add(cx, sh, 0) : host_end(cx, sh, 0, ops);
    if (!e) {
        kiln_free(sh);
        return NULL;
    }
    e->ops = *ops;
    e->values = values;
    v->shared = sh;
    return (kiln_chost_stream *)e;
}

kiln_chost_stream *kiln_chost_stream_writer(kiln_cabi_cx *cx, kiln_cval *v,
                                            const kiln_chost_stream_ops *ops)
{
    return host_writer(cx, v, ops, NULL);
}

kiln_chost_stream *kiln_chost_stream_values(kiln_cabi_cx *cx, kiln_cval *v,
                                            kiln_chost_values_fn values,
                                            const kiln_chost_stream_ops *ops)
{
    return host_writer(cx, v, ops, values);
}

kiln_chost_future *kiln_chost_future_writer(kiln_cabi_cx *cx, kiln_cval *v)
{
    kiln_component_instance *ci = cx->async_ctx;
    ka_shared *sh = ci && ci->as ? kiln_calloc(1, sizeof *sh) : NULL;
    ka_end *e = sh ? kiln_calloc(1, sizeof *e) : NULL;
    uint32_t rep;
    if (e) e->w.kind = KA_END;
    if (!e || ka_obj_add(ci->as, e, &rep) < 0) {
        kiln_free(sh);
        kiln_free(e);
        snprintf(cx->err, sizeof cx->err, ci && ci->as ? "out of memory" : "not async");
        return NULL;
    }
    sh->future = 1;
    sh->type_later = 1;
    sh->nends = 1;
    sh->w = e;
    e->w.take = end_take;
    e->sh = sh;
    e->host = 1;
    e->store = ci->as;
    v->shared = sh;
    return (kiln_chost_future *)e;
}

kiln_chost_future *kiln_chost_future_reader(kiln_cabi_cx *cx, const kiln_cval *v,
                                            const kiln_chost_future_ops *ops)
{
    kiln_component_instance *ci = cx->async_ctx;
    ka_shared *sh = v->shared;
    if (!ci || !ci->as || !sh || !sh->future || (sh->r && !sh->r->dead)) {
        snprintf(cx->err, sizeof cx->err, "not a future the host can read");
        return NULL;
    }
    ka_end *e = host_end_add(cx, sh, 1);
    if (!e) return NULL;
    e->fops = *ops;
    if (sh->w && sh->w->host) { /* the host writes it too: its value passes when resolved */
        if (sh->w->fut_ready) future_pass(sh->w, e);
    } else if (sh->pend && sh->pend != e && !sh->pend->readable) { /* written already */
        if (host_try(sh, sh->pend, e, cx->err, sizeof cx->err) < 0) return NULL;
    } else if (sh->dropped && !sh->w) {
        e->host = 0;
        e->dead = 1;
    }
    return (kiln_chost_future *)e;
}

static kiln_cval none_part; /* zero: none */
const kiln_cval kiln_chost_ok_none = {.var = {0, &none_part}};

kiln_cval *kiln_chost_future_values(kiln_chost_future *hf, size_t n)
{
    ka_end *h = (ka_end *)hf;
    kiln_cval *v = kiln_calloc(n ? n : 1, sizeof *v);
    if (!v) return NULL;
    kiln_free(h->fut_nodes);
    h->fut_nodes = v;
    return v;
}

int kiln_chost_future_resolve(kiln_chost_future *hf, const kiln_cval *value)
{
    ka_end *h = (ka_end *)hf;
    ka_shared *sh = h->sh;
    if (!h->host) { /* the guest dropped its end: nothing refers to h but the host */
        end_release(h->store, h);
        return 0;
    }
    h->fut_value = *value;
    h->fut_ready = 1;
    if (sh->r && sh->r->host) { /* the host reads it too (kiln_chost_future_reader) */
        future_pass(h, sh->r);
        return 0;
    }
    if (!sh->pend || sh->pend == h) return 0; /* kept until the guest reads or drops it */
    char err[240];
    if (host_try(sh, sh->pend, h, err, sizeof err) < 0) {
        ka_store_fail(h->store, NULL, err);
        return -1;
    }
    end_release(h->store, h); /* delivered */
    return 0;
}

void kiln_chost_stream_wake(kiln_chost_stream *hs)
{
    ka_end *h = (ka_end *)hs;
    ka_shared *sh = h->sh;
    if (h->host && sh->pump) { /* the other end is the host's too: the pump goes on */
        pump_kick(sh->pump);
        return;
    }
    char err[240];
    if (h->host && sh->pend && sh->pend != h && host_try(sh, sh->pend, h, err, sizeof err) < 0)
        ka_store_fail(h->store, NULL, err);
}

void kiln_chost_stream_wait_fd(kiln_chost_stream *hs, int fd, short events)
{
    ka_end *h = (ka_end *)hs;
    if (!h->host || fd < 0) return;
    h->wfd = fd;
    h->wev = events;
    if (h->wprev) return;
    ka_store *s = h->store;
    h->wnext = s->fd_waiters;
    if (h->wnext) h->wnext->wprev = &h->wnext;
    h->wprev = &s->fd_waiters;
    s->fd_waiters = h;
}

int ka_stream_poll(ka_store *s, uint64_t until)
{
    enum { MAX_POLL = 64 };
    struct pollfd pfd[MAX_POLL];
    ka_end *ends[MAX_POLL];
    for (;;) {
        nfds_t n = 0;
        for (ka_end *e = s->fd_waiters, *next; e; e = next) {
            next = e->wnext;
            /* nothing to wake any more: no guest's copy pending, no pump (a host end's
             * peer is the host too: the pump waits for this one) */
            if (!e->host || (!e->sh->pump && (!e->sh->pend || e->sh->pend == e))) {
                wait_unlink(e);
                continue;
            }
            if (n < MAX_POLL) {
                pfd[n] = (struct pollfd){e->wfd, e->wev, 0};
                ends[n++] = e;
            }
        }
        if (n == 0) return 0;
        struct timespec now, left, *tmo = NULL;
        clock_gettime(CLOCK_MONOTONIC, &now);
        uint64_t t = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
        if (until != UINT64_MAX) {
            uint64_t d = until > t ? until - t : 0;
            left.tv_sec = (time_t)(d / 1000000000u);
            left.tv_nsec = (long)(d % 1000000000u);
            tmo = &left;
        }
        int r = ppoll(pfd, n, tmo, NULL);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            ka_store_fail(s, NULL, "cannot wait for a host stream");
            return -1;
        }
        if (r == 0) return 0;
        for (nfds_t i = 0; i < n; i++)
            if (pfd[i].revents) {
                wait_unlink(ends[i]);
                kiln_chost_stream_wake((kiln_chost_stream *)ends[i]);
            }
        return s->failed ? -1 : 1;
    }
}

void kiln_chost_stream_close(kiln_chost_stream *hs)
{
    ka_end *h = (ka_end *)hs;
    ka_pump *p = h->sh->pump;
    wait_unlink(h);
    if (h->host && p && !h->readable) { /* the reader gets the bytes held, then the end */
        h->host = 0;
        h->dead = 1;
        pump_writer_gone(p);
    } else if (h->host) {
        if (p) pump_detach(p); /* the writer learns it now (shared_drop) */
        h->host = 0;
        h->dead = 1;
        shared_drop(h->sh, h);
    }
    end_release(h->store, h); /* the host's last use of it */
}

/* ---- a host's end joined to a host's end (passed from one host function to another) ---- */

/* The bytes a pump holds between its writer's produce and its reader's consume. */
#define PUMP_CAP 65536

/* A stream whose writer and reader are both the host's: a host function gave the guest
 * its readable end and the guest passed it, unread, to another host function (a proxy
 * handing a body on). No guest copies, so the runtime moves the bytes: the pump is fired
 * by the driver like a pending host call (ka_host_schedule) whenever either side may go
 * on; a fire hands what it holds to the reader's consume, then takes one produce of the
 * writer's (at most PUMP_CAP bytes) and hands it on. It waits (unscheduled) while the
 * reader takes nothing ("not now") or the writer has nothing, until that side's
 * kiln_chost_stream_wake: the host's buffers stay bounded. The writer's end reaches the
 * reader after the bytes held; the reader's end reaches the writer at once (shared_drop).
 * Finished (sh NULL), it stays on the store's list until ka_pumps_reap frees it (not
 * while its fire runs). */
struct ka_pump {
    ka_subtask sub;  /* its entry on the store's list of pending host calls */
    ka_shared *sh;   /* NULL once finished */
    size_t off, len; /* the bytes held: buf[off, len) */
    int wend;        /* the writer's end came: the reader's follows the bytes held */
    ka_pump *next;   /* the store's list */
    uint8_t buf[PUMP_CAP];
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* p may go on: fired now (a due time past the one it was last fired for, which the
 * driver requires of a call fired again). */
static void pump_kick(ka_pump *p)
{
    if (!p->sh) return;
    uint64_t due = mono_ns();
    if (due <= p->sub.later.due_ns) due = p->sub.later.due_ns + 1;
    ka_host_schedule(&p->sub, due);
}

/* p is finished: its stream forgets it. */
static void pump_detach(ka_pump *p)
{
    ka_host_unschedule(&p->sub);
    p->sh->pump = NULL;
    p->sh = NULL;
}

/* The reader's end: it learns the stream ended (its dropped op) and is freed. */
static void pump_end(ka_pump *p)
{
    ka_shared *sh = p->sh;
    ka_end *r = sh->r;
    pump_detach(p);
    sh->dropped = 1;
    r->host = 0;
    r->dead = 1;
    if (r->ops.dropped) r->ops.dropped(r->ops.arg);
    end_release(r->store, r); /* (and sh, when the writer's end is gone too) */
}

/* The writer's end came (its produce said end, or the host closed it). */
static void pump_writer_gone(ka_pump *p)
{
    p->wend = 1;
    pump_kick(p);
}

/* Hands the bytes held to the reader: 1 when all were taken, 0 when the reader took no
 * more for now (or the pump finished meanwhile). */
static int pump_give(ka_pump *p)
{
    while (p->off < p->len) {
        ka_end *r = p->sh->r;
        size_t k = r->ops.consume(r->ops.arg, p->buf + p->off, p->len - p->off);
        if (!p->sh || !k) return 0;
        p->off += k < p->len - p->off ? k : p->len - p->off;
    }
    p->off = p->len = 0;
    return 1;
}

/* One turn of p (above). */
static void pump_fire(kiln_chost_pending *hp, void *arg)
{
    ka_pump *p = arg;
    (void)hp;
    ka_host_unschedule(&p->sub);
    if (!p->sh || !pump_give(p)) return; /* the reader's wake kicks it again */
    if (p->wend) {
        pump_end(p);
        return;
    }
    ka_end *w = p->sh->w;
    int end = 0;
    size_t n = w->ops.produce(w->ops.arg, p->buf, PUMP_CAP, &end);
    if (!p->sh) return;
    if (p->sh->w != w) end = 0; /* the host closed it meanwhile: pump_writer_gone kicked p */
    if (n) {
        p->off = 0;
        p->len = n < PUMP_CAP ? n : PUMP_CAP;
        if (pump_give(p)) pump_kick(p);
    } else if (end) { /* (as host_try: the host's end is dropped, not freed) */
        w->host = 0;
        w->dead = 1;
        p->wend = 1;
        pump_end(p);
    } /* else nothing now: the writer's wake kicks it again */
}

/* sh's new host reader (sh->r) meets its host writer (sh->w): a pump between them, fired
 * at once. 0, or -1 with cx->err. */
static int pump_new(kiln_cabi_cx *cx, ka_shared *sh)
{
    ka_store *s = sh->r->store;
    ka_pump *p = sh->w->store == s ? kiln_calloc(1, sizeof *p) : NULL;
    if (!p) {
        snprintf(cx->err, sizeof cx->err,
                 sh->w->store == s ? "out of memory" : "a stream's ends are in two stores");
        return -1;
    }
    p->sub.store = s;
    p->sub.later.fire = pump_fire;
    p->sub.later.arg = p;
    p->sh = sh;
    sh->pump = p;
    p->next = s->pumps;
    s->pumps = p;
    pump_kick(p);
    return 0;
}

void ka_pumps_reap(ka_store *s, int all)
{
    for (ka_pump **pp = &s->pumps; *pp;) {
        ka_pump *p = *pp;
        if (!all && p->sh) {
            pp = &p->next;
            continue;
        }
        if (p->sh) p->sh->pump = NULL; /* (the store's teardown: its ends go next) */
        *pp = p->next;
        kiln_free(p);
    }
}

/* A host future's value passes from its host writer w (resolved) to its host reader r:
 * r's got runs with it, and both ends are done with (freed). */
static void future_pass(ka_end *w, ka_end *r)
{
    ka_store *s = w->store;
    r->host = 0;
    r->dead = 1;
    w->host = 0;
    w->dead = 1;
    if (r->fops.got) r->fops.got(r->fops.arg, &w->fut_value);
    end_release(s, r);
    end_release(s, w);
}

/* Notifies an idle end, or ends its pending copy, with DROPPED (its peer is gone). */
static void notify_dropped(ka_shared *sh, ka_end *e)
{
    if (!e) return;
    if (sh->pend == e) {
        reset_and_notify(sh, C_DROPPED);
    } else if (e->state == E_IDLE && !e->w.pending) {
        e->buf.progress = 0;
        on_copy_done(e, C_DROPPED);
    }
}

/* Takes the end behind h out of the table for a forward (the checks of the spec tests). */
static ka_end *take_for_forward(ka_bi *b, uint32_t h, int readable)
{
    ka_end *e = get_end(b, h, readable);
    const char *what = is_future(b) ? "future" : "stream";
    if (e->state == E_COPYING || e->state == E_CANCELLING)
        ka_trap(b, "cannot forward busy %s", what);
    if (e->w.wset) ka_trap(b, "cannot forward %s while it's in a waitable set", what);
    if (e->state == E_DONE)
        ka_trap(b, "cannot forward %s after being notified that the %s end dropped", what,
                readable ? "writable" : "readable");
    char err[160];
    if (kiln_resource_drop(b->frame->res, end_type(b, readable), h, err, sizeof err) < 0)
        ka_trap(b, "%s", err);
    e->dead = 1;
    return e;
}

/* stream.forward / future.forward (v[0] a readable end of A, v[1] a writable end of B):
 * both handles go, and A's writer now feeds B's reader. Pending copies carry over (both
 * pending: the forward is their rendezvous); a drop on either side reaches the other. */
static void forward(ka_bi *b, ka_end *ar, ka_end *bw);

static void bi_forward(void *ctx, kiln_val *v)
{
    ka_bi *b = ctx;
    ka_end *ar = take_for_forward(b, v[0].i32, 1);
    ka_end *bw = take_for_forward(b, v[1].i32, 0);
    ka_shared *sb = bw->sh;
    /* B's reader lifted for a call and not lowered yet: the value in flight names B's
     * state, which bw keeps alive (until the store goes) */
    int keep_bw = sb->r && sb->r->lifted;
    forward(b, ar, bw);
    /* both taken ends are out of their tables and states now: freed */
    end_release(b->ci->as, ar);
    if (!keep_bw) end_release(b->ci->as, bw);
}

/* bi_forward's rewiring of A (ar's) and B (bw's). */
static void forward(ka_bi *b, ka_end *ar, ka_end *bw)
{
    ka_shared *sa = ar->sh, *sb = bw->sh;
    ar->w.pending = 0;
    bw->w.pending = 0;
    if (sa == sb) { /* a self-loop: nothing is left of the stream */
        sa->r = sa->w = NULL;
        return;
    }
    ka_end *aw = sa->w, *br = sb->r;
    ka_end *pa = sa->pend, *pb = sb->pend;
    sa->r = br;
    sb->r = NULL;
    sb->w = NULL;
    sb->pend = NULL;
    if (br) {
        br->sh = sa;
        sb->nends--;
        sa->nends++;
    }
    sa->pend = NULL;
    if (!br) { /* B's reader was dropped: A's writer learns it */
        sa->dropped = 1;
        sa->pend = pa;
        notify_dropped(sa, aw);
        return;
    }
    if (!aw) { /* A's writer was dropped: B's reader learns it */
        sa->dropped = 1;
        sa->pend = pb;
        notify_dropped(sa, br);
        return;
    }
    if (pa && pb) {
        sa->pend = pa;
        if (copy(sa, pb) < 0)
            ka_trap(b, "cannot read from and write to intra-component future/stream with "
                       "non-numeric payload");
    } else {
        sa->pend = pa ? pa : pb;
    }
}

kiln_host_vals_fn ka_stream_builtin(ka_bi *b, const char **sig)
{
    switch (b->k->op) {
    case KILN_CANON_STREAM_FORWARD:
    case KILN_CANON_FUTURE_FORWARD:
        *sig = "ii:";
        return bi_forward;
    case KILN_CANON_STREAM_NEW:
    case KILN_CANON_FUTURE_NEW:
        *sig = ":j";
        return bi_new;
    case KILN_CANON_STREAM_READ:
    case KILN_CANON_STREAM_WRITE:
        *sig = "iii:i";
        return bi_copy;
    case KILN_CANON_FUTURE_READ:
    case KILN_CANON_FUTURE_WRITE:
        *sig = "ii:i";
        return bi_copy;
    case KILN_CANON_STREAM_CANCEL_READ:
    case KILN_CANON_STREAM_CANCEL_WRITE:
    case KILN_CANON_FUTURE_CANCEL_READ:
    case KILN_CANON_FUTURE_CANCEL_WRITE:
        *sig = "i:i";
        return bi_cancel;
    case KILN_CANON_STREAM_DROP_READABLE:
    case KILN_CANON_STREAM_DROP_WRITABLE:
    case KILN_CANON_FUTURE_DROP_READABLE:
    case KILN_CANON_FUTURE_DROP_WRITABLE:
        *sig = "i:";
        return bi_drop;
    default:
        return NULL;
    }
}
