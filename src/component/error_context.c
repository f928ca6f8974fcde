/* error_context.c — error-context values and their built-ins (CanonicalABI.md
 * "canon error-context.new / debug-message / drop"): an immutable debug message kept in
 * the store, referred to by handles in instance tables (the async ABI's objects,
 * async_internal.h). Passing one to another component copies the handle (the value is
 * shared, not moved). The spec lets an implementation drop the message; Kiln keeps it.
 * A handle's ka_errctx_ref is freed when the handle is dropped, the message with its
 * last handle (unless it was ever lifted: then with the store). */
#include "component/async_internal.h"
#include "component/internal.h"
#include "engine/runtime.h"
#include "util/alloc.h"

#include <stdio.h>
#include <string.h>

static const kiln_resource_type type_errctx = {.name = "error-context"};

/* A func type with one string parameter: lifts (ptr, len) from flat values. */
static const kiln_cfield string_field = {
    .has_type = 1, .type = {.prim = KILN_CT_STRING, .type = &kc_prims[KILN_CT_STRING]}};
static const kiln_ctype string_params = {
    .kind = KILN_CT_FUNC, .items = (kiln_cfield *)&string_field, .nitems = 1};

/* Adds a handle for ec to frame f's table. 0, or -1 with a reason in err. */
static int add_handle(ka_store *s, ki_frame *f, ka_errctx *ec, uint32_t *h, char *err,
                      size_t errlen)
{
    uint32_t rep;
    ka_errctx_ref *ref = kiln_calloc(1, sizeof *ref);
    if (ref) ref->kind = KA_ERRCTX;
    if (!ref || ka_obj_add(s, ref, &rep) < 0) {
        if (ref && ka_live_objs(s) >= KA_MAX_OBJS)
            snprintf(err, errlen, KA_TOO_MANY " (%u)", KA_MAX_OBJS);
        else
            snprintf(err, errlen, "out of memory");
        kiln_free(ref);
        return -1;
    }
    ref->ec = ec;
    ec->refs++;
    return kiln_resource_new(f->res, &type_errctx, rep, h, err, errlen);
}

/* Frees ec when nothing refers to it any more: no handle, and never lifted. */
static void errctx_unref(ka_store *s, ka_errctx *ec)
{
    if (--ec->refs || ec->lifted) return;
    if (ec->prev)
        ec->prev->next = ec->next;
    else
        s->errctxs = ec->next;
    if (ec->next) ec->next->prev = ec->prev;
    kiln_free(ec);
}

/* The error context behind handle h of frame f's table. */
static ka_errctx *lookup(ka_store *s, ki_frame *f, uint32_t h, char *err, size_t errlen)
{
    const kiln_resource_type *t;
    uint32_t rep;
    if (kiln_resources_lookup(f->res, h, &t, &rep, err, errlen) < 0) return NULL;
    if (t != &type_errctx) {
        snprintf(err, errlen, "handle index %u used with the wrong type", h);
        return NULL;
    }
    ka_errctx_ref *ref = ka_obj_at(s, rep, KA_ERRCTX);
    if (!ref) {
        snprintf(err, errlen, "handle index %u refers to a freed error-context", h);
        return NULL;
    }
    return ref->ec;
}

/* error-context.new (ptr, len): a new error context with that debug message. */
static void bi_new(void *ctx, kiln_val *v)
{
    ka_bi *b = ctx;
    ka_store *s = b->ci->as;
    if (b->frame->no_leave) ka_trap(b, "cannot leave component instance");
    kiln_cabi_cx cx;
    memset(&cx, 0, sizeof cx);
    if (kiln_cabi_cx_init(&cx) < 0) ka_trap(b, "out of memory");
    ki_cx_prepare(b->ci, &cx, b->memory, b->k->opts.string_encoding, NULL, b->frame);
    kiln_cval msg;
    char err[300];
    if (kiln_cabi_lift_args(&cx, &string_params, v, &msg) < 0) {
        snprintf(err, sizeof err, "%s", cx.err);
        kiln_cabi_cx_free(&cx);
        ka_trap(b, "%s", err);
    }
    ka_errctx *ec = kiln_calloc(1, sizeof *ec + msg.str.len + 1);
    if (!ec) {
        kiln_cabi_cx_free(&cx);
        ka_trap(b, "out of memory");
    }
    memcpy(ec->message, msg.str.ptr, msg.str.len);
    ec->len = msg.str.len;
    kiln_cabi_cx_free(&cx);
    ec->next = s->errctxs;
    if (ec->next) ec->next->prev = ec;
    s->errctxs = ec;
    uint32_t h;
    if (add_handle(s, b->frame, ec, &h, err, sizeof err) < 0) ka_trap(b, "%s", err);
    v[0].i32 = h;
}

/* error-context.debug-message (handle, ptr): the message stored as a string at ptr
 * (memory allocated with the options' realloc). */
static void bi_debug_message(void *ctx, kiln_val *v)
{
    ka_bi *b = ctx;
    char err[300];
    if (b->frame->no_leave) ka_trap(b, "cannot leave component instance");
    ka_errctx *ec = lookup(b->ci->as, b->frame, v[0].i32, err, sizeof err);
    if (!ec) ka_trap(b, "%s", err);
    kiln_cabi_cx cx;
    memset(&cx, 0, sizeof cx);
    if (kiln_cabi_cx_init(&cx) < 0) ka_trap(b, "out of memory");
    ki_cx_prepare(b->ci, &cx, b->memory, b->k->opts.string_encoding, b->realloc, b->frame);
    kiln_cval msg;
    memset(&msg, 0, sizeof msg);
    msg.str.ptr = ec->message;
    msg.str.len = ec->len;
    int rc = kiln_cabi_store_value(&cx, &kc_prims[KILN_CT_STRING], &msg, v[1].i32);
    snprintf(err, sizeof err, "%s", cx.err);
    kiln_cabi_cx_free(&cx);
    if (rc < 0) ka_trap(b, "%s", err);
}

static void bi_drop(void *ctx, kiln_val *v)
{
    ka_bi *b = ctx;
    char err[300];
    if (b->frame->no_leave) ka_trap(b, "cannot leave component instance");
    ka_store *s = b->ci->as;
    const kiln_resource_type *t;
    uint32_t rep;
    if (kiln_resources_lookup(b->frame->res, v[0].i32, &t, &rep, err, sizeof err) < 0 ||
        kiln_resource_drop(b->frame->res, &type_errctx, v[0].i32, err, sizeof err) < 0)
        ka_trap(b, "%s", err);
    ka_errctx_ref *ref = ka_obj_at(s, rep, KA_ERRCTX);
    if (!ref) return;
    ka_obj_release(s, ref);
    errctx_unref(s, ref->ec);
    kiln_free(ref);
}

kiln_host_vals_fn ka_errctx_builtin(ka_bi *b, const char **sig)
{
    switch (b->k->op) {
    case KILN_CANON_ERROR_CONTEXT_NEW:
        *sig = "ii:i";
        return bi_new;
    case KILN_CANON_ERROR_CONTEXT_DEBUG_MESSAGE:
        *sig = "ii:";
        return bi_debug_message;
    case KILN_CANON_ERROR_CONTEXT_DROP:
        *sig = "i:";
        return bi_drop;
    default:
        return NULL;
    }
}

int ka_errctx_lift(kiln_cabi_cx *cx, uint32_t h, kiln_cval *v)
{
    kiln_component_instance *ci = cx->async_ctx;
    ka_errctx *ec = lookup(ci->as, cx->resource_ctx, h, cx->err, sizeof cx->err);
    if (!ec) return -1;
    ec->lifted = 1; /* the value may be lowered after its handles went */
    v->shared = ec;
    return 0;
}

int ka_errctx_lower(kiln_cabi_cx *cx, const kiln_cval *v, uint32_t *h)
{
    kiln_component_instance *ci = cx->async_ctx;
    if (!v->shared) {
        snprintf(cx->err, sizeof cx->err, "no error-context value");
        return -1;
    }
    return add_handle(ci->as, cx->resource_ctx, v->shared, h, cx->err, sizeof cx->err);
}
