/* serve_p3.c — wasi:http 0.3 components behind the handler interface (serve.h,
 * kiln_http_p3_serve): an instance per request (fresh, or reused serially), or one
 * shared by concurrent requests (share_p3.h); handle called with the async ABI, the
 * response body streamed from the guest's stream as it writes. */
#include "component/instance.h"
#include "engine/fiber.h"
#include "engine/runtime.h"
#include "exec/http/reuse_p3.h"
#include "exec/http/serve.h"
#include "exec/http/share_p3.h"
#include "host/wasip3/http.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <poll.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#define ABORTED "; the response was aborted after its headers"

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The fields f as headers in res's arena (copies: the fields go with the instance,
 * before the response ends), without Content-Length (the server's): *n of them. NULL
 * when out of memory. */
static kiln_http_header *copy_fields(kiln_response *res, const wh_fields *f, size_t *n)
{
    kiln_http_header *hs = kiln_arena_alloc(res->arena, (f->n + 1) * sizeof *hs);
    if (!hs) return NULL;
    *n = 0;
    for (size_t i = 0; i < f->n; i++) {
        const wh_field *e = &f->items[i];
        if (strcmp(e->name, "content-length") == 0) continue;
        char *nm = kiln_arena_alloc(res->arena, e->name_len + 1);
        char *v = kiln_arena_alloc(res->arena, e->value_len + 1);
        if (!nm || !v) return NULL;
        memcpy(nm, e->name, e->name_len + 1);
        if (e->value_len) memcpy(v, e->value, e->value_len);
        v[e->value_len] = '\0';
        hs[(*n)++] = (kiln_http_header){nm, e->name_len, v, e->value_len};
    }
    return hs;
}

/* Starts res with the guest's status and headers. 0, or -1 (out of memory, or the
 * client is gone). */
static int start(kiln_response *res, int status, const wh_fields *f)
{
    size_t n;
    kiln_http_header *hs = copy_fields(res, f, &n);
    return hs ? res->ops->start(res, status, hs, n) : -1;
}

/* The request body fed from the connection while the guest runs (kiln_component_idle). */
typedef struct p3_feed {
    kiln_p3http_req *q;
    kiln_body_source *src;
} p3_feed;

static int feed_wants(void *arg)
{
    p3_feed *f = arg;
    return f->src && kiln_p3http_body_wants(f->q);
}

/* kiln_component_idle's wait, on the request's fiber: moves what the connection has
 * into the guest's body stream (up to the host's buffer's room); when nothing has come
 * yet, waits for it (parking the fiber) until until_ns. 0, or -1 (the wait failed). */
static int feed_wait(void *arg, uint64_t until_ns)
{
    p3_feed *f = arg;
    for (;;) {
        int fd;
        int got = kiln_p3_feed_some(f->q, f->src, &fd);
        if (got != 0 || fd < 0) return got < 0 ? -1 : 0;
        uint64_t now = mono_ns();
        if (now >= until_ns) return 0;
        int rc = kiln_wait_fd(fd, POLLIN, until_ns == UINT64_MAX ? UINT64_MAX : until_ns - now);
        if (rc <= 0) return rc < KILN_WAIT_INTERRUPTED ? -1 : 0; /* the driver sees the time */
    }
}

/* The time left of the request's timeout (0: none; 1: spent, the next drive stops). */
static uint64_t left_ns(const kiln_http_component *c, uint64_t t0)
{
    if (!c->timeout_ns) return 0;
    uint64_t used = mono_ns() - t0;
    return used >= c->timeout_ns ? 1 : c->timeout_ns - used;
}

/* How much of the response written may wait for the connection before the body stops
 * being taken (the guest's writes, or a body passed on, then wait). */
#define P3_MAX_BUFFERED (1024u * 1024u)

/* Waits (parking the request's fiber, the loop sending meanwhile) while the connection
 * has not taken what was written. 0, or -1 (the client is gone, or the wait was cut). */
static int drain(kiln_response *res)
{
    if (!res->ops->buffered || !kiln_fiber_current()) return res->ops->gone(res) ? -1 : 0;
    while (res->ops->buffered(res) > P3_MAX_BUFFERED && !res->ops->gone(res))
        if (kiln_wait_sleep(1000000) == KILN_WAIT_INTERRUPTED) return -1;
    return res->ops->gone(res) ? -1 : 0;
}

/* How a request runs its instance on: alone (drive), or shared (sh, m: share_p3.h). */
typedef struct p3_run {
    kiln_http_component *c;
    kiln_component_instance *ci;
    kiln_p3http_req *q;
    uint64_t t0;
    kiln_p3_share *sh; /* NULL: the instance is the request's alone */
    kiln_p3_member *m;
} p3_run;

/* Runs the instance until cond(arg): 1, 0 when nothing can progress, -1 with *trap. */
static int run_until(p3_run *r, int (*cond)(void *), void *arg, kiln_trap *trap)
{
    if (r->sh) return kiln_p3_share_wait(r->sh, r->m, cond, arg, trap);
    return kiln_component_drive(r->ci, cond, arg, trap, left_ns(r->c, r->t0));
}

/* Streams the response body: what the guest wrote goes to res, then the instance runs on
 * until it wrote more, or ended the stream and wrote its trailers future (a guest that
 * never writes it, once nothing else can run, ends without trailers). 0 when the body
 * ended, -1 (logged) when it cannot (a trap, a timeout, a guest that stops writing
 * without ending, a client gone). */
static int stream_body(p3_run *run, uint32_t rep, kiln_response *res)
{
    kiln_http_component *c = run->c;
    int stalled = 0;
    for (;;) {
        size_t n;
        int ended;
        const uint8_t *data = kiln_p3http_body_take(run->q, rep, &n, &ended);
        if (n && res->ops->write(res, data, n) < 0) return -1;
        if (drain(res) < 0) return -1;
        if (ended && n) continue; /* empties what the last take handed out */
        if (ended && (stalled || kiln_p3http_body_ready(run->q))) return 0;
        if (stalled) {
            kiln_log_error("component '%s' stopped writing its response body without ending "
                           "it" ABORTED,
                           c->id);
            return -1;
        }
        kiln_trap trap;
        int rc = run_until(run, kiln_p3http_body_ready, run->q, &trap);
        if (rc < 0) {
            kiln_log_error("component '%s' %s: %s" ABORTED, c->id,
                           trap.kind == KILN_TRAP_INTERRUPTED ? "ran past its request timeout"
                                                              : "trapped",
                           kiln_trap_message(&trap));
            res->fault = trap.kind == KILN_TRAP_INTERRUPTED ? KILN_FAULT_TIMEOUT : KILN_FAULT_TRAP;
            return -1;
        }
        stalled = rc == 0;
    }
}

/* The guest's trailers as the response's (in res's arena): *n of them. 0, or -1 when
 * the guest wrote an error-code instead (logged) or out of memory. */
static int trailers_of(kiln_http_component *c, kiln_p3http_req *q, uint32_t rep, kiln_response *res,
                       kiln_http_header **out, size_t *n)
{
    const wh_fields *f;
    *out = NULL;
    *n = 0;
    if (kiln_p3http_trailers(q, rep, &f) < 0) {
        kiln_log_error("component '%s' ended its response with an error-code" ABORTED, c->id);
        return -1;
    }
    if (!f || !f->n) return 0;
    return (*out = copy_fields(res, f, n)) ? 0 : -1;
}

/* Logs a failed handle call and sets the response's fault: the status to answer. */
static int call_failed(kiln_http_component *c, const kiln_trap *trap, kiln_response *res)
{
    int timeout = trap->kind == KILN_TRAP_INTERRUPTED;
    if (timeout)
        kiln_log_error("component '%s' stopped: ran past its request timeout (%.0f ms)", c->id,
                       (double)c->timeout_ns / 1e6);
    else
        kiln_log_error("component '%s' trapped: %s", c->id, kiln_trap_message(trap));
    res->fault = timeout ? KILN_FAULT_TIMEOUT : KILN_FAULT_TRAP;
    res->trap_kind = kiln_trap_kind_name(trap->kind);
    return timeout ? 504 : 500;
}

/* After handle returned `result`: the response started and streamed, its trailers, the
 * request released. 0 when the body ended (*clean: whether the instance may serve on; the
 * caller gives the instance back, then finishes res with the trailers *tr, *ntr: a client
 * that sees the end and asks again finds the instance in the pool); 1 when nothing was
 * started (*status to answer, *clean); -1 when the response was started and must be
 * aborted. */
static int respond(p3_run *run, const kiln_cval *result, kiln_response *res, int *status,
                   int *clean, kiln_http_header **tr, size_t *ntr)
{
    kiln_http_component *c = run->c;
    *clean = 0;
    *status = 500;
    if (result->var.disc != 0 || !result->var.payload) {
        kiln_log_error("component '%s' answered with an error-code (case %u)", c->id,
                       result->var.disc == 1 && result->var.payload ? result->var.payload->var.disc
                                                                    : 0);
        *clean = kiln_p3http_release(run->q, 0) == 0; /* no response: it may serve on */
        return 1;
    }
    uint32_t rep = result->var.payload->res.rep;
    int st;
    const wh_fields *hs = kiln_p3http_response(run->q, rep, &st);
    if (!hs) {
        kiln_log_error("component '%s' returned a response the host does not know", c->id);
        return 1;
    }
    if (start(res, st, hs) < 0 || stream_body(run, rep, res) < 0 ||
        trailers_of(c, run->q, rep, res, tr, ntr) < 0)
        return -1;
    /* (the trailers are copies in res's arena: the instance may serve on) */
    *clean = kiln_p3http_release(run->q, rep) == 0;
    res->mem_bytes = kiln_component_memory_bytes(run->ci);
    return 0;
}

/* The request in an instance of its own (fresh, or reused serially), its body streamed
 * in from the connection as the guest reads it. */
static void serve_alone(kiln_http_component *c, const struct kiln_wasihttp_request *req,
                        kiln_body_source *body, kiln_response *res, kiln_p3_lease *lease,
                        uint64_t t0)
{
    kiln_component_instance *ci = lease->ci;
    int status = 500, clean = 0; /* whether the instance may serve on */
    kiln_p3http *ph = kiln_component_host_ctx(ci, KILN_P3HTTP_PROVIDER);
    const kiln_component_func *fn = kiln_component_find_func(ci, KILN_P3_HANDLER "#handle");
    if (!fn) fn = kiln_component_find_func(ci, KILN_P3_HANDLER_RC "#handle");
    kiln_p3http_req *q = ph && fn ? kiln_p3http_bind(ph, req, body != NULL) : NULL;
    if (!q) {
        kiln_log_error("component '%s': no wasi:http/handler@0.3 handle to call (or it imports "
                       "no wasi:http/types)",
                       c->id);
        goto fail;
    }
    /* (set also without a body: a reused instance's last idle wait was an earlier
     * request's, on a stack gone since) */
    p3_feed feed = {q, body};
    kiln_component_idle idle = {feed_wants, feed_wait, &feed};
    kiln_component_set_idle(ci, &idle);
    kiln_cval arg, result;
    memset(&arg, 0, sizeof arg);
    memset(&result, 0, sizeof result);
    arg.res.rep = kiln_p3http_request_rep(q);
    kiln_trap trap = {0};
    if (kiln_component_call_timeout(ci, fn, &arg, &result, &trap, c->timeout_ns) < 0) {
        status = call_failed(c, &trap, res);
        goto fail;
    }
    p3_run run = {c, ci, q, t0, NULL, NULL};
    kiln_http_header *tr = NULL;
    size_t ntr = 0;
    int rc = respond(&run, &result, res, &status, &clean, &tr, &ntr);
    if (rc == 1) goto fail;
    if (rc < 0) {
        res->mem_bytes = kiln_component_memory_bytes(ci);
        kiln_p3_reuse_give(c, lease, 0);
        res->ops->abort(res); /* the client must not take a cut body for a whole one */
        return;
    }
    kiln_p3_reuse_give(c, lease, clean);
    res->ops->finish(res, tr, ntr);
    return;
fail:
    res->mem_bytes = kiln_component_memory_bytes(ci);
    kiln_p3_reuse_give(c, lease, clean);
    kiln_response_error(res, status);
}

static int never(void *arg)
{
    (void)arg;
    return 0;
}

/* A request on a shared instance, for its start (run by whoever holds the baton). */
typedef struct shared_req {
    kiln_http_component *c;
    kiln_component_instance *ci;
    const struct kiln_wasihttp_request *req;
    kiln_body_source *body;
    kiln_cval arg; /* (read when the call's thread starts: it lives until the call ends) */
    kiln_component_async_call *call;
} shared_req;

/* kiln_p3_member's start: binds the request and starts its handle call; m->cond is then
 * the call's end (NULL: it could not start, logged unless the store failed before). */
static void shared_start(kiln_p3_member *m)
{
    shared_req *r = m->sarg;
    kiln_p3http *ph = kiln_component_host_ctx(r->ci, KILN_P3HTTP_PROVIDER);
    const kiln_component_func *fn = kiln_component_find_func(r->ci, KILN_P3_HANDLER "#handle");
    if (!fn) fn = kiln_component_find_func(r->ci, KILN_P3_HANDLER_RC "#handle");
    kiln_p3http_req *q = ph && fn ? kiln_p3http_bind(ph, r->req, r->body != NULL) : NULL;
    if (!q) {
        kiln_log_error("component '%s': no wasi:http/handler@0.3 handle to call (or it imports "
                       "no wasi:http/types, or %d requests are in it already)",
                       r->c->id, KILN_P3HTTP_MAX_REQS);
        return;
    }
    m->q = q;
    m->body = r->body;
    memset(&r->arg, 0, sizeof r->arg);
    r->arg.res.rep = kiln_p3http_request_rep(q);
    kiln_p3http_share(ph, r->ci);
    if (!(r->call = kiln_component_call_start(r->ci, fn, &r->arg, q))) {
        kiln_trap trap;
        if (kiln_component_drive(r->ci, never, NULL, &trap, 0) == 0) /* (not failed before) */
            kiln_log_error(
                "component '%s': cannot start its handle call (not async, or out of memory)",
                r->c->id);
        return;
    }
    m->cond = kiln_component_call_done;
    m->arg = r->call;
}

/* The request in an instance shared with other requests in flight (share_p3.h): its
 * handle call started among theirs, the baton held whenever it touches the instance. */
static void serve_shared(kiln_http_component *c, const struct kiln_wasihttp_request *req,
                         kiln_body_source *body, kiln_response *res, kiln_p3_lease *lease,
                         uint64_t t0)
{
    kiln_component_instance *ci = lease->ci;
    kiln_p3_share *sh = lease->shared->sh;
    shared_req sr;
    memset(&sr, 0, sizeof sr);
    sr.c = c, sr.ci = ci, sr.req = req, sr.body = body;
    kiln_p3_member m;
    memset(&m, 0, sizeof m);
    m.fiber = kiln_fiber_current();
    m.deadline_ns = c->timeout_ns ? t0 + c->timeout_ns : 0;
    m.start = shared_start;
    m.sarg = &sr;
    kiln_p3_share_enter(sh, &m);
    int status = 500, clean = 0, rc = 1;
    kiln_http_header *tr = NULL;
    size_t ntr = 0;
    kiln_component_async_call *call = sr.call;
    kiln_p3http_req *q = m.q;
    kiln_trap trap = {0};
    if (!call) {
        if (kiln_component_drive(ci, never, NULL, &trap, 0) < 0) /* it failed before */
            status = call_failed(c, &trap, res);
        goto out;
    }
    int w = kiln_p3_share_wait(sh, &m, kiln_component_call_done, call, &trap);
    const kiln_cval *result = w > 0 ? kiln_component_call_result(call) : NULL;
    if (!result) {
        if (w > 0) kiln_component_drive(ci, never, NULL, &trap, 0); /* (the store's trap) */
        if (w == 0) {
            trap.kind = KILN_TRAP_HOST;
            snprintf(trap.message, sizeof trap.message,
                     "deadlock detected: event loop cannot make further progress");
        }
        status = call_failed(c, &trap, res);
        goto out;
    }
    p3_run run = {c, ci, q, t0, sh, &m};
    rc = respond(&run, result, res, &status, &clean, &tr, &ntr);
out:
    if (rc != 0) res->mem_bytes = kiln_component_memory_bytes(ci); /* (0: respond set it) */
    kiln_component_call_end(call);       /* (unresolved: fails the store, this one's fate too) */
    kiln_p3_share_leave(sh, &m);         /* (the baton goes on: the lease is given back below) */
    kiln_p3_reuse_give(c, lease, clean); /* (an error-code answer may serve on) */
    if (rc < 0)
        res->ops->abort(res); /* the client must not take a cut body for a whole one */
    else if (rc > 0)
        kiln_response_error(res, status);
    else
        res->ops->finish(res, tr, ntr);
}

void kiln_http_p3_serve(kiln_http_component *c, const struct kiln_wasihttp_request *req,
                        kiln_body_source *body, kiln_response *res)
{
    uint64_t t0 = mono_ns();
    res->start_at_ns = kiln_realtime_ns();
    kiln_err err;
    kiln_p3_lease lease; /* a fresh instance, or one reused (reuse_p3.h) */
    int got = kiln_p3_reuse_take(c, &lease, &err) == 0;
    res->start_ms = (double)(mono_ns() - t0) / 1e6;
    if (!got) {
        kiln_log_error("component '%s': %s", c->id, err.msg);
        kiln_response_error(res, 500);
        return;
    }
    if (lease.shared)
        serve_shared(c, req, body, res, &lease, t0);
    else
        serve_alone(c, req, body, res, &lease, t0);
}
