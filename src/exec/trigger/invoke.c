/* invoke.c — one trigger event through a fresh instance of its component (trigger.h). */
#include "component/instance.h"
#include "engine/runtime.h"
#include "exec/handler.h"
#include "exec/trigger/internal.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define REDIS_IFACE "fermyon:spin/inbound-redis"
#define REDIS_FUNC "handle-message"
#define CRON_FUNC "handle-cron-event"
/* how many bytes of a message a log line shows */
#define SHOW_BYTES 64

void trig_block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* The type of a value reference (primitives have a static type too). */
static const kiln_ctype *vt(const kiln_cvalref *r)
{
    return r->type;
}

/* 0 if f has the handler's shape for kind, with *err_shape how its error case reads (see
 * trig_target); -1 if not (a hostile or foreign export must not be called with our values). */
static int check_shape(const kiln_ctype *f, trig_kind kind, int *err_shape)
{
    if (!f || f->kind != KILN_CT_FUNC || f->nitems != 1 || !f->items[0].has_type || !f->has_elem)
        return -1;
    const kiln_ctype *p = vt(&f->items[0].type), *r = vt(&f->elem);
    if (!p || !r || r->kind != KILN_CT_RESULT || r->has_elem) return -1;
    if (kind == TRIG_REDIS) { /* payload: list<u8> */
        if (p->kind != KILN_CT_LIST || !vt(&p->elem) || vt(&p->elem)->kind != KILN_CT_U8) return -1;
    } else { /* metadata: record { timestamp: u64 } (or a tuple of it) */
        if ((p->kind != KILN_CT_RECORD && p->kind != KILN_CT_TUPLE) || p->nitems != 1 ||
            !vt(&p->items[0].type) || vt(&p->items[0].type)->kind != KILN_CT_U64)
            return -1;
    }
    const kiln_ctype *e = r->has_elem2 ? vt(&r->elem2) : NULL;
    *err_shape = TRIG_ERR_OTHER;
    if (e && e->kind == KILN_CT_STRING) {
        *err_shape = TRIG_ERR_STRING;
    } else if (e && e->kind == KILN_CT_VARIANT) {
        int strings = 1;
        for (uint32_t i = 0; i < e->nitems; i++)
            if (!e->items[i].has_type || !vt(&e->items[i].type) ||
                vt(&e->items[i].type)->kind != KILN_CT_STRING)
                strings = 0;
        if (strings) *err_shape = TRIG_ERR_VARIANT_STRING;
    }
    return 0;
}

char *trig_find_export(kiln_http_component *c, trig_kind kind, int *err_shape)
{
    const kiln_component *model = kiln_component_model(atomic_load(&c->current)->lc);
    const kiln_ctype *t = model ? model->type : NULL;
    for (uint32_t i = 0; t && i < t->nexports; i++) {
        const kiln_citem *x = &t->exports[i];
        if (!x->name) continue;
        if (kind == TRIG_CRON && x->sort == KILN_CSORT_FUNC && strcmp(x->name, CRON_FUNC) == 0)
            return check_shape(x->type, kind, err_shape) == 0 ? kiln_strdup(CRON_FUNC) : NULL;
        if (kind != TRIG_REDIS || x->sort != KILN_CSORT_INSTANCE || !x->type ||
            strncmp(x->name, REDIS_IFACE, strlen(REDIS_IFACE)) != 0)
            continue;
        /* unversioned, as Spin's SDKs export it (their spin@unversioned WIT), or versioned
         * (@1.0.0 of Spin 1's preview2 WIT, @2.0.0) */
        const char *rest = x->name + strlen(REDIS_IFACE);
        if (*rest && *rest != '@') continue;
        const kiln_ctype *fn = NULL;
        for (uint32_t k = 0; k < x->type->nexports; k++)
            if (x->type->exports[k].sort == KILN_CSORT_FUNC &&
                strcmp(x->type->exports[k].name, REDIS_FUNC) == 0)
                fn = x->type->exports[k].type;
        if (check_shape(fn, kind, err_shape) < 0) return NULL;
        kiln_buf b = KILN_BUF_INIT;
        if (kiln_buf_printf(&b, "%s#" REDIS_FUNC, x->name) < 0) {
            kiln_buf_free(&b);
            return NULL;
        }
        return kiln_buf_steal(&b);
    }
    return NULL;
}

/* One event: lives from dispatch to completion (or expiry). */
typedef struct trig_event {
    kiln_job job; /* first */
    trig_target *t;
    uint8_t *payload;
    size_t len;
    uint64_t timestamp;
} trig_event;

/* What a log line says about the event: the message's first bytes (escaped) or the firing. */
static void describe(const trig_event *ev, char *out, size_t cap)
{
    if (ev->t->kind == TRIG_CRON) {
        time_t tt = (time_t)ev->timestamp;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(out, cap, "the firing of %Y-%m-%dT%H:%M:%SZ", &tm);
        return;
    }
    size_t o = 0, n = ev->len < SHOW_BYTES ? ev->len : SHOW_BYTES;
    o += (size_t)snprintf(out, cap, "a message of %zu bytes on %.80s (\"", ev->len, ev->t->channel);
    for (size_t i = 0; i < n && o + 6 < cap; i++) {
        uint8_t ch = ev->payload[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
            out[o++] = (char)ch;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
    }
    if (o < cap) snprintf(out + o, cap - o, "\"%s)", ev->len > n ? "..." : "");
}

/* The error case of a handler's result<_, error> for a log line (its shape checked at start):
 * ": \"message\"" for the string-carrying shapes, "" for Spin's redis-types enum error. */
static void error_text(const trig_event *ev, const kiln_cval *r, char *out, size_t cap)
{
    const kiln_cval *p = r->var.payload, *s = NULL;
    if (p && ev->t->err_shape == TRIG_ERR_STRING) s = p;
    if (p && ev->t->err_shape == TRIG_ERR_VARIANT_STRING) s = p->var.payload; /* other(string) */
    if (s && s->str.ptr)
        snprintf(out, cap, ": \"%.*s\"", (int)(s->str.len > 200 ? 200 : s->str.len), s->str.ptr);
    else
        out[0] = '\0';
}

/* Counts the event's end in the metrics (traps, timeouts, drops: exec/handler.h faults). */
static void count(const trig_event *ev, int fault, const char *trap_kind, int64_t start_ns)
{
    const kiln_trigger_observer *o = ev->t->owner->observer;
    if (o && ev->t->metrics_ix) o->done(o->ctx, ev->t->metrics_ix, fault, trap_kind, start_ns);
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Executor thread: runs the event's handler in a fresh instance. */
static void event_run(kiln_job *job)
{
    trig_event *ev = (trig_event *)job;
    trig_target *t = ev->t;
    kiln_triggers *T = t->owner;
    kiln_http_component *c = t->c;
    char what[SHOW_BYTES * 4 + 96];
    describe(ev, what, sizeof what);
    if (kiln_slots_acquire(T->slots, 0) < 0) return;
    double t0 = mono_ms();
    kiln_err err;
    kiln_component_instance *ci = kiln_http_component_instantiate(c, &err);
    int64_t start_ns = ci ? (int64_t)((mono_ms() - t0) * 1e6) : -1;
    int fault = KILN_FAULT_NONE;
    const char *trap_kind = NULL;
    const kiln_component_func *fn = ci ? kiln_component_find_func(ci, t->func) : NULL;
    if (!ci || !fn) {
        kiln_log_error("trigger %s: component '%s': %s, for %s", t->id, c->id,
                       ci ? "the handler export is missing" : err.msg, what);
        goto out;
    }
    kiln_cval args[1], results[1], field;
    memset(args, 0, sizeof args);
    memset(results, 0, sizeof results);
    if (t->kind == TRIG_CRON) {
        memset(&field, 0, sizeof field);
        field.u = ev->timestamp;
        args[0].agg.items = &field; /* record metadata { timestamp: u64 } */
        args[0].agg.n = 1;
    } else {
        args[0].str.ptr = (char *)ev->payload; /* payload: list<u8> */
        args[0].str.len = ev->len;
    }
    kiln_trap trap = {0};
    int rc = kiln_component_call_timeout(ci, fn, args, results, &trap, c->timeout_ns);
    if (rc < 0) {
        fault = trap.kind == KILN_TRAP_INTERRUPTED ? KILN_FAULT_TIMEOUT : KILN_FAULT_TRAP;
        trap_kind = kiln_trap_kind_name(trap.kind);
    }
    if (rc < 0 && trap.kind == KILN_TRAP_INTERRUPTED)
        kiln_log_error("trigger %s: component '%s' stopped: ran past its request timeout (%.0f ms) "
                       "for %s",
                       t->id, c->id, (double)c->timeout_ns / 1e6, what);
    else if (rc < 0)
        kiln_log_error("trigger %s: component '%s' trapped: %s, for %s", t->id, c->id,
                       kiln_trap_message(&trap), what);
    else if (results[0].var.disc != 0) {
        char why[256];
        error_text(ev, &results[0], why, sizeof why);
        kiln_log_error("trigger %s: component '%s' returned an error%s, for %s", t->id, c->id, why,
                       what);
    } else if (!T->quiet) {
        fprintf(stderr, "kiln: trigger %s: component '%s' handled %s in %.1f ms\n", t->id, c->id,
                what, mono_ms() - t0);
    }
out:
    kiln_component_instance_free(ci);
    kiln_slots_release(T->slots);
    count(ev, fault, trap_kind, start_ns);
}

/* The event is over (run, or expired): frees it and lets a stop waiting for it go on. */
static void event_done(trig_event *ev)
{
    kiln_triggers *T = ev->t->owner;
    kiln_free(ev->payload);
    kiln_free(ev);
    pthread_mutex_lock(&T->mu);
    T->inflight--;
    pthread_cond_broadcast(&T->cond);
    pthread_mutex_unlock(&T->mu);
}

static void event_complete(kiln_job *job)
{
    event_done((trig_event *)job);
}

static void event_expired(kiln_job *job)
{
    trig_event *ev = (trig_event *)job;
    char what[SHOW_BYTES * 4 + 96];
    describe(ev, what, sizeof what);
    kiln_log_error("trigger %s: component '%s': %s waited too long for a free instance: dropped",
                   ev->t->id, ev->t->c->id, what);
    count(ev, KILN_FAULT_QUEUE_TIMEOUT, NULL, -1);
    event_done(ev);
}

int trig_dispatch(kiln_triggers *T, trig_target *t, const void *payload, size_t len,
                  uint64_t timestamp)
{
    trig_event *ev = kiln_calloc(1, sizeof *ev);
    if (!ev || (len && !(ev->payload = kiln_malloc(len)))) {
        kiln_free(ev);
        kiln_log_error("trigger %s: out of memory: an event is dropped", t->id);
        return -1;
    }
    if (len) memcpy(ev->payload, payload, len);
    ev->len = len;
    ev->t = t;
    ev->timestamp = timestamp;
    ev->job = (kiln_job){event_run, event_complete, event_expired, 0, NULL};
    pthread_mutex_lock(&T->mu);
    T->inflight++;
    pthread_mutex_unlock(&T->mu);
    if (kiln_executor_submit(T->executor, &ev->job) < 0) {
        char what[SHOW_BYTES * 4 + 96];
        describe(ev, what, sizeof what);
        kiln_log_error("trigger %s: component '%s': every instance is busy and the queue is "
                       "full: %s is dropped",
                       t->id, t->c->id, what);
        count(ev, KILN_FAULT_QUEUE_FULL, NULL, -1);
        event_done(ev);
        return -1;
    }
    return 0;
}
